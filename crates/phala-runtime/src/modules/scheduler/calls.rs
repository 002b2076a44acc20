use parity_scale_codec::{Decode, Encode};
use phala_primitives::BlockNumber;
use scale_info::TypeInfo;

use super::{
    AGENDA, DispatchTime, Error, Event, LOOKUP, RETRIES, RetryConfig, TaskAddress, TaskName,
    cancel, cancel_named, schedule,
};
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::{preimage, weights};
use crate::{Ext, RuntimeCall};

/// Calls of the `Scheduler` module (`pallet_scheduler::Call`). All are root's: a
/// referendum on the root track, or sudo on development chains.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Run `call` as root at block `when`.
    #[codec(index = 0)]
    schedule {
        when: BlockNumber,
        maybe_periodic: Option<(BlockNumber, u32)>,
        priority: u8,
        call: Box<RuntimeCall>,
    },
    /// Cancel the task at `(when, index)`.
    #[codec(index = 1)]
    cancel { when: BlockNumber, index: u32 },
    /// `schedule` under a name.
    #[codec(index = 2)]
    schedule_named {
        id: TaskName,
        when: BlockNumber,
        maybe_periodic: Option<(BlockNumber, u32)>,
        priority: u8,
        call: Box<RuntimeCall>,
    },
    /// Cancel the task named `id`.
    #[codec(index = 3)]
    cancel_named { id: TaskName },
    /// Run `call` as root `after` blocks after the next one.
    #[codec(index = 4)]
    schedule_after {
        after: BlockNumber,
        maybe_periodic: Option<(BlockNumber, u32)>,
        priority: u8,
        call: Box<RuntimeCall>,
    },
    /// `schedule_after` under a name.
    #[codec(index = 5)]
    schedule_named_after {
        id: TaskName,
        after: BlockNumber,
        maybe_periodic: Option<(BlockNumber, u32)>,
        priority: u8,
        call: Box<RuntimeCall>,
    },
    /// Retry the task at `task` up to `retries` times, `period` blocks apart, if it fails.
    #[codec(index = 6)]
    set_retry {
        task: TaskAddress,
        retries: u8,
        period: BlockNumber,
    },
    /// `set_retry` for the task named `id`.
    #[codec(index = 7)]
    set_retry_named {
        id: TaskName,
        retries: u8,
        period: BlockNumber,
    },
    /// Remove the retry configuration of `task`.
    #[codec(index = 8)]
    cancel_retry { task: TaskAddress },
    /// Remove the retry configuration of the task named `id`.
    #[codec(index = 9)]
    cancel_retry_named { id: TaskName },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        // Placing a task reads and rewrites its agenda (up to 50 tasks); the call itself is
        // charged when it runs, from the scheduler's share of that block.
        let weight = match self {
            Call::schedule { .. }
            | Call::schedule_named { .. }
            | Call::schedule_after { .. }
            | Call::schedule_named_after { .. } => weights::reads_writes(4, 4),
            Call::cancel { .. } | Call::cancel_named { .. } => weights::reads_writes(4, 4),
            Call::set_retry { .. }
            | Call::set_retry_named { .. }
            | Call::cancel_retry { .. }
            | Call::cancel_retry_named { .. } => weights::reads_writes(2, 1),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        origin.ensure_root()?;
        let caller = origin.caller();
        let place = |ext: &mut Ext,
                     id: Option<TaskName>,
                     when: DispatchTime,
                     maybe_periodic: Option<(BlockNumber, u32)>,
                     priority: u8,
                     call: Box<RuntimeCall>| {
            // A request `bound` added is its own; the task requests the preimage again.
            let (bounded, noted) = preimage::bound(ext, &call)?;
            let placed = schedule(
                ext,
                id,
                when,
                maybe_periodic,
                priority,
                caller,
                bounded.clone(),
            );
            if noted {
                preimage::drop_bounded(ext, &bounded);
            }
            placed.map(|_| ())
        };
        match self {
            Call::schedule {
                when,
                maybe_periodic,
                priority,
                call,
            } => place(
                ext,
                None,
                DispatchTime::At(when),
                maybe_periodic,
                priority,
                call,
            ),
            Call::schedule_named {
                id,
                when,
                maybe_periodic,
                priority,
                call,
            } => place(
                ext,
                Some(id),
                DispatchTime::At(when),
                maybe_periodic,
                priority,
                call,
            ),
            Call::schedule_after {
                after,
                maybe_periodic,
                priority,
                call,
            } => place(
                ext,
                None,
                DispatchTime::After(after),
                maybe_periodic,
                priority,
                call,
            ),
            Call::schedule_named_after {
                id,
                after,
                maybe_periodic,
                priority,
                call,
            } => place(
                ext,
                Some(id),
                DispatchTime::After(after),
                maybe_periodic,
                priority,
                call,
            ),
            Call::cancel { when, index } => cancel(ext, Some(caller), (when, index)),
            Call::cancel_named { id } => cancel_named(ext, Some(caller), id),
            Call::set_retry {
                task,
                retries,
                period,
            } => set_retry(ext, task, retries, period),
            Call::set_retry_named {
                id,
                retries,
                period,
            } => {
                let task = LOOKUP.get(ext, &id).ok_or(Error::NotFound)?;
                set_retry(ext, task, retries, period)
            }
            Call::cancel_retry { task } => cancel_retry(ext, task),
            Call::cancel_retry_named { id } => {
                let task = LOOKUP.get(ext, &id).ok_or(Error::NotFound)?;
                cancel_retry(ext, task)
            }
        }
    }
}

fn task_at(ext: &Ext, (when, index): TaskAddress) -> Option<super::Scheduled> {
    let agenda = AGENDA.get_or_default(ext, &when);
    usize::try_from(index)
        .ok()
        .and_then(|i| agenda.get(i).cloned())
        .flatten()
}

fn set_retry(ext: &mut Ext, task: TaskAddress, retries: u8, period: BlockNumber) -> DispatchResult {
    let scheduled = task_at(ext, task).ok_or(Error::NotFound)?;
    // A periodic task retried more often than it repeats would overlap its own runs.
    if let Some((repeat, _)) = scheduled.maybe_periodic
        && period > repeat
    {
        return Err(Error::FailedToSchedule.into());
    }
    RETRIES.insert(
        ext,
        &task,
        &RetryConfig {
            total_retries: retries,
            remaining: retries,
            period,
        },
    );
    ext.deposit_event(Event::RetrySet {
        task,
        id: scheduled.maybe_id,
        period,
        retries,
    });
    Ok(())
}

fn cancel_retry(ext: &mut Ext, task: TaskAddress) -> DispatchResult {
    let scheduled = task_at(ext, task).ok_or(Error::NotFound)?;
    RETRIES.remove(ext, &task);
    ext.deposit_event(Event::RetryCancelled {
        task,
        id: scheduled.maybe_id,
    });
    Ok(())
}
