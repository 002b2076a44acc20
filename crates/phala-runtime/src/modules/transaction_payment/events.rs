use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance};
use scale_info::TypeInfo;

/// Events of the `TransactionPayment` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A transaction fee `actual_fee`, of which `tip` was added to the minimum inclusion fee,
    /// has been paid by `who`.
    #[codec(index = 0)]
    TransactionFeePaid {
        who: AccountId32,
        actual_fee: Balance,
        tip: Balance,
    },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::TransactionPayment(e)
    }
}
