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
    /// On on-chain remark happened.
    #[codec(index = 5)]
    Remarked { sender: AccountId32, hash: H256 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::System(e)
    }
}
