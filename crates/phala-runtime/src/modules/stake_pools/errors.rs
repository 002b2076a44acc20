use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `StakePools` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// No pool has this id.
    PoolNotFound,
    /// Only the pool's owner may do this.
    NotOwner,
    /// Commission is in parts per billion: at most 1,000,000,000.
    BadCommission,
    /// Only the worker's registered operator may add it to a pool.
    NotOperator,
    /// The worker already belongs to a pool.
    WorkerInPool,
    /// The worker is not in this pool.
    WorkerNotInPool,
    /// A pool has at most 200 workers.
    TooManyWorkers,
    /// The pool's cap would be exceeded.
    CapExceeded,
    /// The contribution is below the existential deposit (0.01 PHA), or buys no share at
    /// the current price.
    ContributionTooSmall,
    /// The pool's stake was slashed to nothing while it has shares: it takes no more.
    PoolBankrupt,
    /// More shares than the caller holds.
    InsufficientShares,
    /// Not enough free stake in the pool for this.
    InsufficientFreeStake,
    /// The pool's withdrawal queue is full (1,024 requests), or too many pools' grace
    /// periods end at one block; try again next block.
    TooManyWithdrawals,
    /// The owner has no commission to claim.
    NothingToClaim,
    /// The pool counter is exhausted.
    TooManyPools,
    /// A withdrawal must be worth at least the existential deposit (0.01 PHA).
    WithdrawalTooSmall,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::STAKE_POOLS;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
