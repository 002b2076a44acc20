//! `Scheduler`: calls that run at a later block with a stored origin — how a passed
//! referendum's proposal is enacted, and how root schedules its own calls.
//!
//! Substrate's `pallet-scheduler`, same calls, storage and events. Each block, before any
//! transaction, the tasks due (the block's agenda, and older agendas left incomplete) run in
//! priority order within [`MAXIMUM_WEIGHT`]; a task that does not fit waits for the next
//! block. A task names its call inline or by preimage; a missing preimage makes the task
//! `CallUnavailable` and it is dropped. A failed call is reported in `Dispatched` and
//! retried if the task has a retry configuration.

mod calls;
#[cfg(test)]
mod tests;

pub use calls::Call;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{BlockNumber, Weight, storage::Hasher};
use scale_info::TypeInfo;

use crate::bounded::BoundedVec;
use crate::dispatch::{DispatchError, DispatchResult, ModuleErrorEnum};
use crate::modules::preimage::{self, Bounded};
use crate::modules::{index, weights};
use crate::storage::{Query, StorageMap, StorageValue};
use crate::{Ext, OriginCaller};

const MODULE: &str = "Scheduler";

/// Tasks one block's agenda may hold (Polkadot's 50).
pub const MAX_SCHEDULED_PER_BLOCK: u32 = 50;
/// What the scheduler may spend of a block: 80 % of it, as on Polkadot.
pub const MAXIMUM_WEIGHT: Weight = Weight::from_parts(
    weights::MAX_BLOCK.ref_time / 5 * 4,
    weights::MAX_BLOCK.proof_size,
);
/// Agendas one block looks at: bounds the catch-up after overweight blocks.
pub const MAX_AGENDAS_PER_BLOCK: u32 = 50;
/// The scheduler's own cost per agenda and per task (reads, writes, decoding).
const AGENDA_BASE: Weight = weights::reads_writes(2, 2);
const TASK_BASE: Weight = weights::reads_writes(3, 3);

/// A task's address: its block and its index in that block's agenda.
pub type TaskAddress = (BlockNumber, u32);
/// A task's name.
pub type TaskName = [u8; 32];

/// `frame_support::traits::schedule::DispatchTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[scale_info(replace_segment("phala_runtime", "frame_support"))]
#[scale_info(replace_segment("modules", "traits"))]
#[scale_info(replace_segment("scheduler", "schedule"))]
pub enum DispatchTime {
    /// At this block.
    #[codec(index = 0)]
    At(BlockNumber),
    /// This many blocks after the current one.
    #[codec(index = 1)]
    After(BlockNumber),
}

impl DispatchTime {
    /// The block meant, seen from block `now`.
    pub fn evaluate(self, now: BlockNumber) -> BlockNumber {
        match self {
            DispatchTime::At(at) => at,
            DispatchTime::After(after) => now.saturating_add(after),
        }
    }
}

/// `pallet_scheduler::Scheduled`: one task.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Scheduled {
    pub maybe_id: Option<TaskName>,
    /// Lower runs first.
    pub priority: u8,
    pub call: Bounded,
    /// `(period, runs left)`: runs again `period` blocks after each run.
    pub maybe_periodic: Option<(BlockNumber, u32)>,
    pub origin: OriginCaller,
}

/// `pallet_scheduler::RetryConfig`: how a failed task is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RetryConfig {
    pub total_retries: u8,
    pub remaining: u8,
    pub period: BlockNumber,
}

pub type Agenda = BoundedVec<Option<Scheduled>, MAX_SCHEDULED_PER_BLOCK>;

pub const INCOMPLETE_SINCE: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "IncompleteSince",
    Query::Optional,
    &[" Block from which agendas still have tasks that did not fit."],
);

pub const AGENDA: StorageMap<BlockNumber, Agenda> = StorageMap::new(
    MODULE,
    "Agenda",
    Hasher::Twox64Concat,
    Query::Default,
    &[" Items to be executed, indexed by the block number that they should be executed on."],
);

pub const RETRIES: StorageMap<TaskAddress, RetryConfig> = StorageMap::new(
    MODULE,
    "Retries",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Retry configurations for items to be executed, indexed by task address."],
);

pub const LOOKUP: StorageMap<TaskName, TaskAddress> = StorageMap::new(
    MODULE,
    "Lookup",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Lookup from a name to the block number and index of the task."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        INCOMPLETE_SINCE.metadata(),
        AGENDA.metadata(),
        RETRIES.metadata_optional(),
        LOOKUP.metadata(),
    ]
}

/// Events of the `Scheduler` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// Scheduled some task.
    #[codec(index = 0)]
    Scheduled { when: BlockNumber, index: u32 },
    /// Canceled some task.
    #[codec(index = 1)]
    Canceled { when: BlockNumber, index: u32 },
    /// Dispatched some task.
    #[codec(index = 2)]
    Dispatched {
        task: TaskAddress,
        id: Option<TaskName>,
        result: Result<(), DispatchError>,
    },
    /// Set a retry configuration for some task.
    #[codec(index = 3)]
    RetrySet {
        task: TaskAddress,
        id: Option<TaskName>,
        period: BlockNumber,
        retries: u8,
    },
    /// Cancel a retry configuration for some task.
    #[codec(index = 4)]
    RetryCancelled {
        task: TaskAddress,
        id: Option<TaskName>,
    },
    /// The call for the provided hash was not found so the task has been aborted.
    #[codec(index = 5)]
    CallUnavailable {
        task: TaskAddress,
        id: Option<TaskName>,
    },
    /// The given task was unable to be renewed since the agenda is full at that block.
    #[codec(index = 6)]
    PeriodicFailed {
        task: TaskAddress,
        id: Option<TaskName>,
    },
    /// The given task was unable to be retried since the agenda is full at that block or
    /// there was not enough weight to reschedule it.
    #[codec(index = 7)]
    RetryFailed {
        task: TaskAddress,
        id: Option<TaskName>,
    },
    /// The given task can never be executed since it is overweight.
    #[codec(index = 8)]
    PermanentlyOverweight {
        task: TaskAddress,
        id: Option<TaskName>,
    },
    /// Agenda is incomplete from `when`.
    #[codec(index = 9)]
    AgendaIncomplete { when: BlockNumber },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Scheduler(e)
    }
}

/// Errors of the `Scheduler` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Failed to schedule a call
    FailedToSchedule,
    /// Cannot find the scheduled call.
    NotFound,
    /// Given target block number is in the past.
    TargetBlockNumberInPast,
    /// Reschedule failed because it does not change scheduled time.
    RescheduleNoChange,
    /// Attempt to use a non-named function on a named task.
    Named,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::SCHEDULER;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// The block a task asked for at block `now` runs at: `After(n)` counts from the next
/// block; `At` must be in the future.
fn resolve(now: BlockNumber, when: DispatchTime) -> Result<BlockNumber, DispatchError> {
    let at = match when {
        DispatchTime::After(after) => now.saturating_add(after).saturating_add(1),
        DispatchTime::At(at) => at,
    };
    if at <= now {
        return Err(Error::TargetBlockNumberInPast.into());
    }
    Ok(at)
}

/// Puts `task` in the agenda of `when`, in its first free slot. On a full agenda the task
/// comes back.
fn place(ext: &mut Ext, when: BlockNumber, task: Scheduled) -> Result<TaskAddress, Scheduled> {
    let mut agenda = AGENDA.get_or_default(ext, &when);
    let index = match agenda.iter().position(Option::is_none) {
        Some(hole) => {
            if let Some(slot) = agenda.as_mut_vec().get_mut(hole) {
                *slot = Some(task.clone());
            }
            hole
        }
        None => {
            let at = agenda.len();
            agenda
                .try_push(Some(task.clone()))
                .map_err(|_| task.clone())?;
            at
        }
    };
    let index = u32::try_from(index).map_err(|_| task.clone())?;
    AGENDA.insert(ext, &when, &agenda);
    if let Some(id) = task.maybe_id {
        LOOKUP.insert(ext, &id, &(when, index));
    }
    ext.deposit_event(Event::Scheduled { when, index });
    Ok((when, index))
}

/// Schedules `call` to run as `origin` at `when` (named if `maybe_id`). A call named by
/// preimage is requested, so its bytes stay until it runs.
pub fn schedule(
    ext: &mut Ext,
    maybe_id: Option<TaskName>,
    when: DispatchTime,
    maybe_periodic: Option<(BlockNumber, u32)>,
    priority: u8,
    origin: OriginCaller,
    call: Bounded,
) -> Result<TaskAddress, DispatchError> {
    if let Some(id) = maybe_id
        && LOOKUP.contains(ext, &id)
    {
        return Err(Error::FailedToSchedule.into());
    }
    let now = crate::modules::system::block_number(ext);
    let at = resolve(now, when)?;
    // Upstream's rule: a single run is not periodic, and the stored count is of runs after
    // the first.
    let maybe_periodic = maybe_periodic
        .filter(|&(period, count)| period > 0 && count > 1)
        .map(|(period, count)| (period, count.saturating_sub(1)));
    let lookup = call.lookup();
    let task = Scheduled {
        maybe_id,
        priority,
        call,
        maybe_periodic,
        origin,
    };
    let address = place(ext, at, task).map_err(|_| Error::FailedToSchedule)?;
    if let Some((hash, _)) = lookup {
        preimage::request(ext, hash);
    }
    Ok(address)
}

/// Blocks after a full agenda that [`schedule_soonest`] tries.
pub const SPILL_BLOCKS: u32 = 16;

/// [`schedule`] at `when`, or at the first of the next [`SPILL_BLOCKS`] blocks whose agenda
/// has room: what must run (an enactment, a referendum's alarm) is late rather than lost
/// when someone fills an agenda.
pub fn schedule_soonest(
    ext: &mut Ext,
    maybe_id: Option<TaskName>,
    when: BlockNumber,
    priority: u8,
    origin: OriginCaller,
    call: Bounded,
) -> Result<TaskAddress, DispatchError> {
    if let Some(id) = maybe_id
        && LOOKUP.contains(ext, &id)
    {
        return Err(Error::FailedToSchedule.into());
    }
    for at in when..=when.saturating_add(SPILL_BLOCKS) {
        let agenda = AGENDA.get_or_default(ext, &at);
        if agenda.is_full() && agenda.iter().all(Option::is_some) {
            continue;
        }
        return schedule(
            ext,
            maybe_id,
            DispatchTime::At(at),
            None,
            priority,
            origin,
            call,
        );
    }
    Err(Error::FailedToSchedule.into())
}

/// Cancels the task at `address`; `origin`, if given, must be the task's.
pub fn cancel(
    ext: &mut Ext,
    origin: Option<OriginCaller>,
    (when, index): TaskAddress,
) -> DispatchResult {
    let mut agenda = AGENDA.get_or_default(ext, &when);
    let slot = usize::try_from(index)
        .ok()
        .and_then(|i| agenda.as_mut_vec().get_mut(i).map(|s| s.take()));
    let task = match slot.flatten() {
        Some(task) => task,
        None => return Err(Error::NotFound.into()),
    };
    if origin.is_some_and(|o| {
        o != task.origin && o != OriginCaller::system(crate::origin::RawOrigin::Root)
    }) {
        return Err(DispatchError::BadOrigin);
    }
    store_agenda(ext, when, agenda);
    preimage::drop_bounded(ext, &task.call);
    if let Some(id) = task.maybe_id {
        LOOKUP.remove(ext, &id);
    }
    RETRIES.remove(ext, &(when, index));
    ext.deposit_event(Event::Canceled { when, index });
    Ok(())
}

/// Cancels the task named `id`.
pub fn cancel_named(ext: &mut Ext, origin: Option<OriginCaller>, id: TaskName) -> DispatchResult {
    let address = LOOKUP.get(ext, &id).ok_or(Error::NotFound)?;
    cancel(ext, origin, address)
}

/// Where the task named `id` is.
pub fn lookup(ext: &Ext, id: &TaskName) -> Option<TaskAddress> {
    LOOKUP.get(ext, id)
}

/// Keeps an agenda only while it has a task.
fn store_agenda(ext: &mut Ext, when: BlockNumber, agenda: Agenda) {
    if agenda.iter().all(Option::is_none) {
        AGENDA.remove(ext, &when);
    } else {
        AGENDA.insert(ext, &when, &agenda);
    }
}

/// Runs the tasks due at block `now`; returns the weight spent.
pub fn on_initialize(ext: &mut Ext, now: BlockNumber) -> Weight {
    let mut budget = Budget {
        used: Weight::ZERO,
        limit: MAXIMUM_WEIGHT,
    };
    let mut incomplete_since = now.saturating_add(1);
    let mut when = INCOMPLETE_SINCE.get(ext).unwrap_or(now);
    let mut looked = 0u32;
    let mut executed = 0u32;
    while looked < MAX_AGENDAS_PER_BLOCK && when <= now && budget.fits(AGENDA_BASE) {
        if !service_agenda(ext, &mut budget, &mut executed, now, when) {
            incomplete_since = incomplete_since.min(when);
        }
        when = when.saturating_add(1);
        looked = looked.saturating_add(1);
    }
    incomplete_since = incomplete_since.min(when);
    if incomplete_since <= now {
        INCOMPLETE_SINCE.put(ext, &incomplete_since);
        ext.deposit_event(Event::AgendaIncomplete {
            when: incomplete_since,
        });
    } else {
        INCOMPLETE_SINCE.kill(ext);
    }
    budget.used
}

struct Budget {
    used: Weight,
    limit: Weight,
}

impl Budget {
    fn fits(&self, w: Weight) -> bool {
        self.used.saturating_add(w).all_lte(self.limit)
    }

    fn take(&mut self, w: Weight) {
        self.used = self.used.saturating_add(w);
    }
}

/// Runs agenda `when`, lowest priority number first. Returns whether every task in it got
/// its turn.
fn service_agenda(
    ext: &mut Ext,
    budget: &mut Budget,
    executed: &mut u32,
    now: BlockNumber,
    when: BlockNumber,
) -> bool {
    budget.take(AGENDA_BASE);
    let mut order: Vec<(usize, u8)> = AGENDA
        .get_or_default(ext, &when)
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.as_ref().map(|t| (i, t.priority)))
        .collect();
    order.sort_by_key(|&(i, p)| (p, i));
    let mut postponed = false;
    for (slot, _) in order {
        if !budget.fits(TASK_BASE) {
            postponed = true;
            break;
        }
        // Read again for each task: one that ran before may have cancelled this one.
        let mut agenda = AGENDA.get_or_default(ext, &when);
        let Some(task) = agenda.as_mut_vec().get_mut(slot).and_then(Option::take) else {
            continue;
        };
        // Out of the agenda while it runs, so what it does to the agenda stays done.
        store_agenda(ext, when, agenda);
        budget.take(TASK_BASE);
        let index = u32::try_from(slot).unwrap_or(u32::MAX);
        match service_task(ext, budget, *executed == 0, now, (when, index), task) {
            Served::Done => *executed = executed.saturating_add(1),
            Served::Dropped => {}
            Served::Kept(task) => restore(ext, when, slot, task),
            Served::Postponed(task) => {
                restore(ext, when, slot, task);
                postponed = true;
            }
        }
    }
    !postponed
}

/// Puts a task that did not run back in its slot.
fn restore(ext: &mut Ext, when: BlockNumber, slot: usize, task: Scheduled) {
    let mut agenda = AGENDA.get_or_default(ext, &when);
    while agenda.len() <= slot {
        if agenda.try_push(None).is_err() {
            return;
        }
    }
    if let Some(s) = agenda.as_mut_vec().get_mut(slot) {
        *s = Some(task);
    }
    AGENDA.insert(ext, &when, &agenda);
}

enum Served {
    /// Ran (or failed) and left the slot.
    Done,
    /// Could not run and never will: the slot is freed.
    Dropped,
    /// Can never fit a block: stays until cancelled.
    Kept(Scheduled),
    /// Did not fit what is left of this block.
    Postponed(Scheduled),
}

fn service_task(
    ext: &mut Ext,
    budget: &mut Budget,
    first: bool,
    now: BlockNumber,
    address: TaskAddress,
    mut task: Scheduled,
) -> Served {
    let id = task.maybe_id;
    let call = match preimage::realize(ext, &task.call) {
        Ok(call) => call,
        Err(_) => {
            if let Some(id) = id {
                LOOKUP.remove(ext, &id);
            }
            RETRIES.remove(ext, &address);
            preimage::drop_bounded(ext, &task.call);
            ext.deposit_event(Event::CallUnavailable { task: address, id });
            return Served::Dropped;
        }
    };
    let weight = call.info().weight;
    if !budget.fits(weight) {
        if first || !weight.all_lte(MAXIMUM_WEIGHT) {
            ext.deposit_event(Event::PermanentlyOverweight { task: address, id });
            return Served::Kept(task);
        }
        return Served::Postponed(task);
    }
    budget.take(weight);
    if let Some(id) = id {
        LOOKUP.remove(ext, &id);
    }
    let result = match task.origin.origin() {
        Some(origin) => ext.transactional(|ext| call.dispatch(ext, origin)),
        None => Err(DispatchError::BadOrigin),
    };
    let failed = result.is_err();
    let retry = RETRIES.get(ext, &address);
    RETRIES.remove(ext, &address);
    ext.deposit_event(Event::Dispatched {
        task: address,
        id,
        result,
    });
    if let Some(config) = retry
        && failed
    {
        schedule_retry(ext, now, address, &task, config);
    }
    match task.maybe_periodic {
        Some((period, count)) => {
            task.maybe_periodic = (count > 1).then(|| (period, count.saturating_sub(1)));
            match place(ext, now.saturating_add(period), task) {
                Ok(new) => {
                    if let Some(config) = retry {
                        RETRIES.insert(ext, &new, &config);
                    }
                }
                Err(task) => {
                    preimage::drop_bounded(ext, &task.call);
                    ext.deposit_event(Event::PeriodicFailed { task: address, id });
                }
            }
        }
        None => preimage::drop_bounded(ext, &task.call),
    }
    Served::Done
}

/// Tries a failed task again `period` blocks later, as an unnamed single run.
fn schedule_retry(
    ext: &mut Ext,
    now: BlockNumber,
    address: TaskAddress,
    task: &Scheduled,
    config: RetryConfig,
) {
    if config.remaining == 0 {
        ext.deposit_event(Event::RetryFailed {
            task: address,
            id: task.maybe_id,
        });
        return;
    }
    let retry = Scheduled {
        maybe_id: None,
        maybe_periodic: None,
        ..task.clone()
    };
    match place(ext, now.saturating_add(config.period.max(1)), retry) {
        Ok(new) => {
            if let Some((hash, _)) = task.call.lookup() {
                preimage::request(ext, hash);
            }
            RETRIES.insert(
                ext,
                &new,
                &RetryConfig {
                    remaining: config.remaining.saturating_sub(1),
                    ..config
                },
            );
        }
        Err(_) => ext.deposit_event(Event::RetryFailed {
            task: address,
            id: task.maybe_id,
        }),
    }
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Scheduler",
        index: index::SCHEDULER,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![
            crate::metadata::constant(
                "MaximumWeight",
                &MAXIMUM_WEIGHT,
                " The maximum weight that may be scheduled per block for any dispatchables.",
            ),
            crate::metadata::constant(
                "MaxScheduledPerBlock",
                &MAX_SCHEDULED_PER_BLOCK,
                " The maximum number of scheduled calls in the queue for a single block.",
            ),
        ],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Calls that run at a later block with a stored origin.",
    }
}
