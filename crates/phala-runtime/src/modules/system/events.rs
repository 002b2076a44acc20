use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, H256};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, DispatchInfo};

/// Events of the `System` module (FRAME's variant indices).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// An extrinsic completed successfully.
    #[codec(index = 0)]
    ExtrinsicSuccess { dispatch_info: DispatchInfo },
    /// An extrinsic failed.
    #[codec(index = 1)]
    ExtrinsicFailed {
        dispatch_error: DispatchError,
        dispatch_info: DispatchInfo,
    },
    /// A new account was created.
    #[codec(index = 3)]
    NewAccount { account: AccountId32 },
    /// An account was reaped.
    #[codec(index = 4)]
    KilledAccount { account: AccountId32 },
    /// `:code` updated: here, the runtime version in force changed.
    #[codec(index = 2)]
    CodeUpdated,
    /// On on-chain remark happened.
    #[codec(index = 5)]
    Remarked { sender: AccountId32, hash: H256 },
    /// The chain switches to runtime `spec_version` at block `at_block`.
    #[codec(index = 7)]
    UpgradeScheduled {
        spec_version: u32,
        at_block: phala_primitives::BlockNumber,
    },
    /// A scheduled upgrade was called off.
    #[codec(index = 8)]
    UpgradeCancelled {
        spec_version: u32,
        at_block: phala_primitives::BlockNumber,
    },
}

/// Errors of the `System` module (FRAME's, then this chain's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The name of specification does not match between the current runtime and the new
    /// runtime.
    #[codec(index = 0)]
    InvalidSpecName,
    /// The specification version is not allowed to decrease between the current runtime and
    /// the new runtime.
    #[codec(index = 1)]
    SpecVersionNeedsToIncrease,
    /// The upgrade's block is not at least `MIN_UPGRADE_LEAD` blocks ahead.
    #[codec(index = 9)]
    UpgradeInThePast,
    /// No upgrade is scheduled.
    #[codec(index = 10)]
    NothingScheduled,
}

impl crate::dispatch::ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = crate::modules::index::SYSTEM;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        crate::dispatch::ModuleErrorEnum::into_dispatch_error(e)
    }
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::System(e)
    }
}
