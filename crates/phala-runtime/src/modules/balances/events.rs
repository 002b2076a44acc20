use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance};
use scale_info::TypeInfo;

/// Events of the `Balances` module (FRAME's variant indices).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// An account was created with some free balance.
    #[codec(index = 0)]
    Endowed {
        account: AccountId32,
        free_balance: Balance,
    },
    /// An account was removed whose balance was non-zero but below ExistentialDeposit,
    /// resulting in an outright loss.
    #[codec(index = 1)]
    DustLost {
        account: AccountId32,
        amount: Balance,
    },
    /// Transfer succeeded.
    #[codec(index = 2)]
    Transfer {
        from: AccountId32,
        to: AccountId32,
        amount: Balance,
    },
    /// Some balance was reserved (moved from free to reserved).
    #[codec(index = 4)]
    Reserved { who: AccountId32, amount: Balance },
    /// Some balance was unreserved (moved from reserved to free).
    #[codec(index = 5)]
    Unreserved { who: AccountId32, amount: Balance },
    /// Some balance was moved from the reserve of `from` to `to`, into its free or reserved
    /// balance as `destination_status` says.
    #[codec(index = 6)]
    ReserveRepatriated {
        from: AccountId32,
        to: AccountId32,
        amount: Balance,
        destination_status: super::BalanceStatus,
    },
    /// Some amount was deposited (e.g. for transaction fees).
    #[codec(index = 7)]
    Deposit { who: AccountId32, amount: Balance },
    /// Some amount was withdrawn from the account (e.g. for transaction fees), out of its
    /// free balance or, for a debt settled from a reserve, out of its reserved balance.
    #[codec(index = 8)]
    Withdraw { who: AccountId32, amount: Balance },
    /// Some amount was removed from the account as a penalty.
    #[codec(index = 9)]
    Slashed { who: AccountId32, amount: Balance },
    /// Some balance was locked.
    #[codec(index = 17)]
    Locked { who: AccountId32, amount: Balance },
    /// Some balance was unlocked.
    #[codec(index = 18)]
    Unlocked { who: AccountId32, amount: Balance },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Balances(e)
    }
}
