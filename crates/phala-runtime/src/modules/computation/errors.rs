use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `Computation` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The chain has no economics parameters (its genesis predates them).
    NotConfigured,
    /// No worker is registered under this key.
    WorkerNotRegistered,
    /// The worker's attestation expired or its measurement was removed.
    WorkerNotTrusted,
    /// The worker is already bound to a session.
    AlreadyBound,
    /// The worker is not bound to a session.
    NotBound,
    /// The session belongs to another owner.
    NotOwner,
    /// The worker must be Ready (bound, not computing, not cooling down).
    NotReady,
    /// The worker has not reported its benchmark score yet.
    NotBenchmarked,
    /// The worker's benchmark score is below the chain's minimum.
    ScoreTooLow,
    /// The stake is below S_min = k·√P for this worker.
    StakeTooLow,
    /// With this stake the worker's initial value would exceed v_max.
    StakeTooHigh,
    /// The worker is not computing.
    NotComputing,
    /// The worker is not cooling down.
    NotCoolingDown,
    /// The cooldown has not ended yet.
    CooldownNotOver,
    /// An amount does not fit the economics' numbers.
    Overflow,
    /// A heartbeat or settlement does not decode, or is larger than allowed.
    BadMessage,
    /// No challenge of that block is known (too old, in the future, or none was made).
    UnknownChallenge,
    /// The challenge did not pick this worker.
    NotChallenged,
    /// The worker already answered this challenge or a later one.
    AlreadyAnswered,
    /// The work counter went backwards.
    IterationsDecreased,
    /// Settlements come only from gatekeepers.
    NotGatekeeper,
    /// A settlement for a block that is not final yet, or older than the chain remembers.
    SettlementOutOfRange,
    /// A settlement names a worker in a state it cannot be settled from.
    BadSettlement,
    /// Parameters out of range.
    BadParams,
    /// The two messages are not one worker's different messages with one sequence, both
    /// signed by it for this chain.
    InvalidEvidence,
    /// This worker's double signing was already punished.
    AlreadyReported,
    /// The worker was proven to double-sign: its key may never compute again.
    WorkerBarred,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::COMPUTATION;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
