//! `Computation`: workers' computing sessions, the heartbeat challenge each block, and the
//! settlements gatekeepers compute from them.
//!
//! A worker is bound to a session owned by an account (its stake pool's), and moves
//! `Ready → Idle (computing) → Unresponsive → CoolingDown → Ready` as classic Phala's do.
//! Starting reserves the stake on the owner (at least `S_min = k·√P`, with the initial value
//! `Ve` within `v_max`); stopping starts the cooldown; reclaiming after it unreserves what is
//! left of the stake.
//!
//! Each block with anyone computing publishes a challenge (a seed from the parent hash and
//! a target aiming at 20 challenges a block, at most 2 per worker an hour). A picked worker
//! answers with a signed [`Heartbeat`] through the message queue, which this module checks
//! in O(1) and passes on to the gatekeepers. Gatekeepers compute value and payouts in their
//! TEEs and send one [`Settlement`] per block that had anything to settle; the first one
//! for a block is applied (payouts from the reward pool: the owner's part, then the
//! treasury's), identical copies are ignored, and a differing copy is recorded as a
//! gatekeeper fault. Nothing here loops over all sessions: a block costs O(challenged +
//! settled workers).
//!
//! Why the parent hash is a good enough seed: a block author can reorder its block to
//! steer the next challenge, but a challenge pays only for the blocks since the worker's
//! last payout, so being picked more often earns nothing more.
//!
//! [`Heartbeat`]: phala_mq::computation::Heartbeat
//! [`Settlement`]: phala_mq::computation::Settlement

mod calls;
mod errors;
mod events;
#[cfg(test)]
mod fault_tests;
pub mod faults;
mod market;
mod messages;
#[cfg(test)]
pub(crate) mod tests;

pub use calls::Call;
pub use errors::Error;
pub use events::Event;
pub use market::pay_providers;
pub use messages::{heartbeat_weight, on_heartbeat, on_settlement, settlement_weight};

use parity_scale_codec::{Decode, Encode};
use phala_mq::computation::{COMPUTATION_EVENT, ComputationEvent};
use phala_primitives::{AccountId32, Balance, BlockNumber, H256, storage::Hasher};
use phala_tokenomics::{
    Challenge, Fixed, Params, U64F64Bits, online_target, pha_to_plancks, plancks_to_pha,
};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchResult};
use crate::modules::{TREASURY_ACCOUNT, balances, message_queue, registry, system, timestamp};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Computation";

/// Blocks a settlement's digest is kept to compare later copies with, and how late a
/// settlement may arrive (gatekeepers send theirs within a few blocks).
pub const SETTLEMENT_MEMORY: BlockNumber = 600;

/// A worker's computing state, as classic Phala's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum WorkerState {
    /// Bound to a session, not computing.
    #[default]
    Ready,
    /// Computing and answering its challenges.
    Idle,
    /// Computing, but a challenge went unanswered: its value decays until it answers.
    Unresponsive,
    /// Stopped; the stake is released when the cooldown ends.
    CoolingDown,
}

/// A worker's session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Session {
    /// Who staked, and who is paid: the worker's stake pool.
    pub owner: AccountId32,
    pub state: WorkerState,
    /// Reserved on the owner; what a slash has taken is gone from it.
    pub stake: Balance,
    /// The benchmark score the session started with (P).
    pub p_bench: u32,
    pub confidence_level: u8,
    pub initial_v: U64F64Bits,
    /// As of the last settlement.
    pub v: U64F64Bits,
    /// Block computing started at (0 while Ready).
    pub started_at: BlockNumber,
    /// Block the cooldown started at (0 unless cooling down).
    pub cooling_since: BlockNumber,
    /// Block of the last challenge answered.
    pub last_challenge: BlockNumber,
    /// Block the last heartbeat was accepted at.
    pub last_heartbeat_at: BlockNumber,
    /// Block the last payout covered up to.
    pub last_paid_at: BlockNumber,
    /// The worker's work counter at its last heartbeat.
    pub iterations: u64,
    /// Paid to the owner over the session's life, after the treasury's share.
    pub total_reward: Balance,
    /// Heartbeats accepted and challenges missed.
    pub heartbeats: u32,
    pub missed: u32,
}

pub const PARAMS: StorageValue<Params> = StorageValue::new(
    MODULE,
    "Params",
    Query::Optional,
    &[" The economics' per-block parameters (fractions as U64F64 bits)."],
);
pub const SESSIONS: StorageMap<[u8; 32], Session> = StorageMap::new(
    MODULE,
    "Sessions",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Workers' sessions, by identity key."],
);
pub const COMPUTING_WORKERS: StorageValue<u32> = StorageValue::new(
    MODULE,
    "ComputingWorkers",
    Query::Default,
    &[" Workers Idle or Unresponsive: the N the challenge target aims at."],
);
pub const CHALLENGES: StorageMap<BlockNumber, Challenge> = StorageMap::new(
    MODULE,
    "Challenges",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Recent blocks' heartbeat challenges (kept for the window plus settlement delay)."],
);
pub const HEARTBEAT_PAUSED: StorageValue<bool> = StorageValue::new(
    MODULE,
    "HeartbeatPaused",
    Query::Default,
    &[" Whether heartbeat challenges are paused (governance's `setHeartbeatPaused`)."],
);
pub const HEARTBEAT_RESUMED_AT: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "HeartbeatResumedAt",
    Query::Default,
    &[" The block heartbeats last resumed at: payouts never cover blocks before it."],
);
pub const NEXT_SETTLEMENT: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "NextSettlement",
    Query::Default,
    &[" The earliest block a new settlement may be for."],
);
pub const SETTLEMENTS: StorageMap<BlockNumber, (H256, [u8; 32])> = StorageMap::new(
    MODULE,
    "Settlements",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Recent settlements' digests and the gatekeeper whose copy was applied."],
);

pub const SETTLEMENT_VOTES: StorageMap<BlockNumber, Vec<faults::Vote>> = StorageMap::new(
    MODULE,
    "SettlementVotes",
    Hasher::Twox64Concat,
    Query::Optional,
    &[
        " Which gatekeeper sent which settlement digest for recent blocks, judged when the",
        " block leaves the chain's memory.",
    ],
);
pub const BUDGET_LEFT: StorageValue<Balance> = StorageValue::new(
    MODULE,
    "BudgetLeft",
    Query::Optional,
    &[
        " Reward budget accrued in blocks with anyone computing and not paid yet, plus a",
        " cushion: the most all payouts together may still take.",
    ],
);

/// Blocks of budget the payouts may run ahead of what accrued. Honest settlements do, a
/// little: a worker's payout divides by the total share as it is now, while the blocks it
/// covers had a larger one when others went offline since.
pub const BUDGET_CUSHION_BLOCKS: u32 = SETTLEMENT_MEMORY;
/// Blocks of budget `BudgetLeft` holds at most: while settlements stop, it does not grow
/// into a fund a faulty settlement could later pay out at once.
pub const BUDGET_CAP_BLOCKS: u32 = 14_400;
pub const SETTLEMENT_FAULTS: StorageValue<u32> = StorageValue::new(
    MODULE,
    "SettlementFaults",
    Query::Default,
    &[" Settlement copies that differed from the one applied for their block, ever."],
);
pub const FAULT_PUNISHED: StorageMap<[u8; 32], BlockNumber> = StorageMap::new(
    MODULE,
    "FaultPunished",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[
        " Gatekeepers punished for a settlement fault, and the block of the punishment: their",
        " votes cast before it are not punished again.",
    ],
);
pub const DOUBLE_SIGN_SLASH: StorageValue<u32> = StorageValue::new(
    MODULE,
    "DoubleSignSlash",
    Query::Default,
    &[" Parts per billion of a session's stake a proven double signing costs."],
);
pub const DOUBLE_SIGNERS: StorageMap<[u8; 32], BlockNumber> = StorageMap::new(
    MODULE,
    "DoubleSigners",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Workers proven to have double-signed, and the block of the proof: barred from computing."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        PARAMS.metadata(),
        SESSIONS.metadata(),
        COMPUTING_WORKERS.metadata(),
        CHALLENGES.metadata(),
        HEARTBEAT_PAUSED.metadata(),
        HEARTBEAT_RESUMED_AT.metadata(),
        NEXT_SETTLEMENT.metadata(),
        SETTLEMENTS.metadata(),
        SETTLEMENT_VOTES.metadata(),
        BUDGET_LEFT.metadata(),
        SETTLEMENT_FAULTS.metadata(),
        FAULT_PUNISHED.metadata(),
        DOUBLE_SIGN_SLASH.metadata(),
        DOUBLE_SIGNERS.metadata(),
    ]
}

/// What other modules learn of a session's money.
pub trait Hooks {
    /// `amount` was paid into `owner`'s free balance for `worker`'s computing.
    fn on_reward(ext: &mut Ext, owner: &AccountId32, worker: &[u8; 32], amount: Balance);
    /// `amount` of `worker`'s stake left `owner`'s reserve for the treasury.
    fn on_slashed(ext: &mut Ext, owner: &AccountId32, worker: &[u8; 32], amount: Balance);
    /// The gatekeeper `gatekeeper` was proven faulty (offence `offence`, punished once):
    /// slash `operator`, who answered for it when it voted. Returns what was slashed.
    fn on_gatekeeper_fault(
        ext: &mut Ext,
        gatekeeper: &[u8; 32],
        operator: Option<AccountId32>,
        offence: [u8; 32],
    ) -> Result<Balance, crate::dispatch::DispatchError>;
}

/// No other module listens (tests of this module alone).
impl Hooks for () {
    fn on_reward(_: &mut Ext, _: &AccountId32, _: &[u8; 32], _: Balance) {}
    fn on_slashed(_: &mut Ext, _: &AccountId32, _: &[u8; 32], _: Balance) {}
    fn on_gatekeeper_fault(
        _: &mut Ext,
        _: &[u8; 32],
        _: Option<AccountId32>,
        _: [u8; 32],
    ) -> Result<Balance, crate::dispatch::DispatchError> {
        Ok(0)
    }
}

/// The parameters in force. Every chain built by this runtime has them from genesis.
pub fn params(ext: &Ext) -> Result<Params, Error> {
    PARAMS.get(ext).ok_or(Error::NotConfigured)
}

pub fn session(ext: &Ext, worker: &[u8; 32]) -> Option<Session> {
    SESSIONS.get(ext, worker)
}

fn push(ext: &mut Ext, event: &ComputationEvent) -> DispatchResult {
    message_queue::push(ext, MODULE, COMPUTATION_EVENT, event)
}

fn set_computing(ext: &mut Ext, delta: i64) -> DispatchResult {
    let n = COMPUTING_WORKERS.get_or_default(ext);
    let n = if delta >= 0 {
        n.checked_add(u32::try_from(delta).map_err(|_| ArithmeticError::Overflow)?)
    } else {
        n.checked_sub(u32::try_from(delta.unsigned_abs()).map_err(|_| ArithmeticError::Overflow)?)
    }
    .ok_or(ArithmeticError::Overflow)?;
    COMPUTING_WORKERS.put(ext, &n);
    Ok(())
}

/// Binds a registered worker to a session owned by `owner`, Ready to start.
pub fn bind(ext: &mut Ext, worker: &[u8; 32], owner: &AccountId32) -> DispatchResult {
    registry::worker(ext, worker).ok_or(Error::WorkerNotRegistered)?;
    if SESSIONS.contains(ext, worker) {
        return Err(Error::AlreadyBound.into());
    }
    SESSIONS.insert(
        ext,
        worker,
        &Session {
            owner: *owner,
            ..Default::default()
        },
    );
    ext.deposit_event(Event::WorkerBound {
        worker: *worker,
        owner: *owner,
    });
    Ok(())
}

fn owned(ext: &Ext, worker: &[u8; 32], owner: &AccountId32) -> Result<Session, Error> {
    let session = SESSIONS.get(ext, worker).ok_or(Error::NotBound)?;
    if session.owner != *owner {
        return Err(Error::NotOwner);
    }
    Ok(session)
}

/// Ends a Ready worker's session.
pub fn unbind(ext: &mut Ext, worker: &[u8; 32], owner: &AccountId32) -> DispatchResult {
    let session = owned(ext, worker, owner)?;
    if session.state != WorkerState::Ready {
        return Err(Error::NotReady.into());
    }
    SESSIONS.remove(ext, worker);
    ext.deposit_event(Event::WorkerUnbound {
        worker: *worker,
        owner: *owner,
    });
    Ok(())
}

/// The least stake (plancks, rounded up) for a worker of score `p`.
pub fn min_stake(params: &Params, p: u32) -> Result<Balance, Error> {
    let s = params.s_min(p).map_err(|_| Error::Overflow)?;
    let plancks = pha_to_plancks(s);
    // Rounded up, so a stake of exactly this is never a planck short of S_min.
    Ok(
        if plancks_to_pha(plancks).map_err(|_| Error::Overflow)? < s {
            plancks.saturating_add(1)
        } else {
            plancks
        },
    )
}

/// Starts a Ready worker computing with `stake` reserved on its owner.
pub fn start(
    ext: &mut Ext,
    worker: &[u8; 32],
    owner: &AccountId32,
    stake: Balance,
) -> DispatchResult {
    let params = params(ext)?;
    let mut session = owned(ext, worker, owner)?;
    if session.state != WorkerState::Ready {
        return Err(Error::NotReady.into());
    }
    if DOUBLE_SIGNERS.contains(ext, worker) {
        return Err(Error::WorkerBarred.into());
    }
    let info = registry::worker(ext, worker).ok_or(Error::WorkerNotRegistered)?;
    registry::usable(ext, &info).map_err(|_| Error::WorkerNotTrusted)?;
    let p = info.initial_score.ok_or(Error::NotBenchmarked)?;
    if p < params.min_init_p {
        return Err(Error::ScoreTooLow.into());
    }
    if stake < min_stake(&params, p)? {
        return Err(Error::StakeTooLow.into());
    }
    let conf = params.conf_of(info.confidence_level);
    let s = plancks_to_pha(stake).map_err(|_| Error::Overflow)?;
    let ve = params.initial_v(s, p, conf).map_err(|_| Error::Overflow)?;
    if ve > params.v_max() {
        return Err(Error::StakeTooHigh.into());
    }
    balances::reserve(ext, owner, stake)?;
    set_computing(ext, 1)?;
    let now = system::block_number(ext);
    session.state = WorkerState::Idle;
    session.stake = stake;
    session.p_bench = p;
    session.confidence_level = info.confidence_level;
    session.initial_v = ve.to_bits();
    session.v = ve.to_bits();
    session.started_at = now;
    session.cooling_since = 0;
    session.last_challenge = now;
    session.last_heartbeat_at = now;
    session.last_paid_at = now;
    session.iterations = 0;
    SESSIONS.insert(ext, worker, &session);
    push(
        ext,
        &ComputationEvent::Started {
            worker: *worker,
            p_bench: p,
            confidence_level: info.confidence_level,
            stake,
            initial_v: ve.to_bits(),
            at_ms: timestamp::now(ext),
        },
    )?;
    ext.deposit_event(Event::WorkerStarted {
        worker: *worker,
        owner: *owner,
        stake,
        initial_v: ve.to_bits(),
    });
    Ok(())
}

/// Stops a computing worker: it earns nothing more, and its stake is released after the
/// cooldown.
pub fn stop(ext: &mut Ext, worker: &[u8; 32], owner: &AccountId32) -> DispatchResult {
    let session = owned(ext, worker, owner)?;
    force_stop(ext, worker, session)
}

fn force_stop(ext: &mut Ext, worker: &[u8; 32], mut session: Session) -> DispatchResult {
    if !matches!(session.state, WorkerState::Idle | WorkerState::Unresponsive) {
        return Err(Error::NotComputing.into());
    }
    set_computing(ext, -1)?;
    let now = system::block_number(ext);
    session.state = WorkerState::CoolingDown;
    session.cooling_since = now;
    SESSIONS.insert(ext, worker, &session);
    push(ext, &ComputationEvent::Stopped { worker: *worker })?;
    ext.deposit_event(Event::WorkerStopped {
        worker: *worker,
        owner: session.owner,
    });
    Ok(())
}

/// A revoked or deregistered worker stops computing at once (its cooldown still runs).
pub fn on_worker_revoked(ext: &mut Ext, worker: &[u8; 32]) {
    if let Some(session) = SESSIONS.get(ext, worker)
        && matches!(session.state, WorkerState::Idle | WorkerState::Unresponsive)
    {
        let _ = ext.transactional(|ext| force_stop(ext, worker, session));
    }
}

/// The block from which a cooling-down worker's stake can be reclaimed.
pub fn reclaimable_at(params: &Params, session: &Session) -> BlockNumber {
    session.cooling_since.saturating_add(params.cooldown)
}

/// Returns a cooled-down worker's stake to its owner's free balance; the worker is Ready
/// again. Returns the stake released.
pub fn reclaim(
    ext: &mut Ext,
    worker: &[u8; 32],
    owner: &AccountId32,
) -> Result<Balance, crate::dispatch::DispatchError> {
    let params = params(ext)?;
    let mut session = owned(ext, worker, owner)?;
    if session.state != WorkerState::CoolingDown {
        return Err(Error::NotCoolingDown.into());
    }
    if system::block_number(ext) < reclaimable_at(&params, &session) {
        return Err(Error::CooldownNotOver.into());
    }
    let stake = session.stake;
    if balances::unreserve(ext, owner, stake) != 0 {
        return Err(ArithmeticError::Underflow.into());
    }
    session.state = WorkerState::Ready;
    session.stake = 0;
    session.cooling_since = 0;
    session.started_at = 0;
    SESSIONS.insert(ext, worker, &session);
    ext.deposit_event(Event::StakeReclaimed {
        worker: *worker,
        owner: *owner,
        amount: stake,
    });
    Ok(stake)
}

/// Takes up to `amount` of `worker`'s stake to the treasury for proven misbehaviour.
/// Returns what was taken.
pub fn slash_stake<H: Hooks>(
    ext: &mut Ext,
    worker: &[u8; 32],
    amount: Balance,
) -> Result<Balance, crate::dispatch::DispatchError> {
    let mut session = SESSIONS.get(ext, worker).ok_or(Error::NotBound)?;
    let taken = amount.min(session.stake);
    if taken == 0 {
        return Ok(0);
    }
    balances::repatriate_reserved(
        ext,
        &session.owner,
        &TREASURY_ACCOUNT,
        taken,
        balances::BalanceStatus::Free,
    )?;
    session.stake = session
        .stake
        .checked_sub(taken)
        .ok_or(ArithmeticError::Underflow)?;
    SESSIONS.insert(ext, worker, &session);
    H::on_slashed(ext, &session.owner, worker, taken);
    ext.deposit_event(Event::StakeSlashed {
        worker: *worker,
        owner: session.owner,
        amount: taken,
    });
    Ok(taken)
}

/// `blocks` blocks of a per-block `budget`, in plancks (0 if it does not fit).
fn budget_plancks(budget: Option<Fixed>, blocks: u32) -> Balance {
    budget
        .and_then(|b| b.checked_mul(Fixed::from_num(blocks)))
        .map(pha_to_plancks)
        .unwrap_or(0)
}

/// What all payouts together may still take, given this block's per-block budget (the
/// cushion until anything accrued).
fn budget_left_with(ext: &Ext, budget: Option<Fixed>) -> Balance {
    BUDGET_LEFT
        .get(ext)
        .unwrap_or_else(|| budget_plancks(budget, BUDGET_CUSHION_BLOCKS))
}

/// What all payouts together may still take (the cushion until anything accrued).
pub fn budget_left(ext: &Ext, params: &Params) -> Balance {
    budget_left_with(ext, params.budget_at(system::block_number(ext)).ok())
}

/// Block start: publishes this block's challenge while anyone computes, and forgets the
/// challenge and settlement digest that fell out of their windows, judging that block's
/// settlement copies. O(gatekeepers).
pub fn on_initialize<H: Hooks>(ext: &mut Ext, number: BlockNumber) {
    let Ok(params) = params(ext) else { return };
    let keep = params.heartbeat_window.saturating_add(SETTLEMENT_MEMORY);
    if let Some(old) = number.checked_sub(keep.saturating_add(1)) {
        CHALLENGES.remove(ext, &old);
    }
    if let Some(old) = number.checked_sub(SETTLEMENT_MEMORY.saturating_add(1)) {
        SETTLEMENTS.remove(ext, &old);
        faults::judge_block::<H>(ext, old);
    }
    let n = COMPUTING_WORKERS.get_or_default(ext);
    // Paused blocks neither challenge nor accrue: nobody is paid for them.
    if n == 0 || HEARTBEAT_PAUSED.get_or_default(ext) {
        return;
    }
    let budget = params.budget_at(number).ok();
    let left = budget_left_with(ext, budget)
        .saturating_add(budget_plancks(budget, 1))
        .min(budget_plancks(budget, BUDGET_CAP_BLOCKS));
    BUDGET_LEFT.put(ext, &left);
    let parent = system::PARENT_HASH.get_or_default(ext);
    let seed = phala_primitives::hashing::blake2_256(
        &(b"phala/computation/challenge", parent, number).encode(),
    );
    let challenge = Challenge {
        seed,
        target: online_target(&params, n),
    };
    CHALLENGES.insert(ext, &number, &challenge);
    // A full outbound queue (a flood of other messages) skips one challenge; workers
    // and gatekeepers then see none for this block, consistently.
    if push(
        ext,
        &ComputationEvent::Challenge {
            seed: challenge.seed,
            target: challenge.target,
        },
    )
    .is_err()
    {
        CHALLENGES.remove(ext, &number);
    }
}

/// Genesis: the economics' parameters and the double-signing slash.
pub(crate) fn build_genesis(
    ext: &mut Ext,
    params: &Params,
    double_sign_slash: u32,
) -> Result<(), String> {
    params.check().map_err(|e| e.to_string())?;
    if double_sign_slash > 1_000_000_000 {
        return Err("the double-signing slash is more than the whole stake".into());
    }
    PARAMS.put(ext, params);
    DOUBLE_SIGN_SLASH.put(ext, &double_sign_slash);
    Ok(())
}

/// The value a session's V bits stand for.
pub fn value_of(bits: u128) -> Fixed {
    Fixed::from_bits(bits)
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Computation",
        index: crate::modules::index::COMPUTATION,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Computing sessions, heartbeat challenges and the gatekeepers' settlements.",
    }
}
