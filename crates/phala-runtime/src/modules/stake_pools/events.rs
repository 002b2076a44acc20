use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance};
use scale_info::TypeInfo;

use super::{Perbill, Shares};

/// Events of the `StakePools` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A pool was created, with its own account.
    #[codec(index = 0)]
    PoolCreated {
        pid: u64,
        owner: AccountId32,
        account: AccountId32,
        commission: Perbill,
    },
    #[codec(index = 1)]
    WorkerAdded { pid: u64, worker: [u8; 32] },
    #[codec(index = 2)]
    WorkerRemoved { pid: u64, worker: [u8; 32] },
    /// A delegator bought `shares` for `amount`.
    #[codec(index = 3)]
    Contributed {
        pid: u64,
        who: AccountId32,
        amount: Balance,
        shares: Shares,
    },
    /// A withdrawal is waiting for free stake.
    #[codec(index = 4)]
    WithdrawalQueued {
        pid: u64,
        who: AccountId32,
        shares: Shares,
    },
    /// A delegator was paid `amount` for `shares`.
    #[codec(index = 5)]
    Withdrawn {
        pid: u64,
        who: AccountId32,
        shares: Shares,
        amount: Balance,
    },
    /// A worker's reward came in: the delegators' part raised the share price.
    #[codec(index = 6)]
    RewardReceived {
        pid: u64,
        to_delegators: Balance,
        commission: Balance,
    },
    /// The owner claimed its commission.
    #[codec(index = 7)]
    CommissionClaimed {
        pid: u64,
        owner: AccountId32,
        amount: Balance,
    },
    /// A worker's stake was slashed: the share price fell.
    #[codec(index = 8)]
    PoolSlashed { pid: u64, amount: Balance },
    /// A withdrawal outwaited its grace period: the pool stopped this worker to pay it.
    #[codec(index = 9)]
    WorkerStoppedForWithdrawal { pid: u64, worker: [u8; 32] },
    #[codec(index = 10)]
    CommissionSet { pid: u64, commission: Perbill },
    #[codec(index = 11)]
    CapSet { pid: u64, cap: Option<Balance> },
    /// A queued withdrawal could not be paid (its account cannot receive the amount) and
    /// was dropped from the queue; the shares stay with their holder.
    #[codec(index = 12)]
    WithdrawalDropped {
        pid: u64,
        who: AccountId32,
        shares: Shares,
    },
    /// The owner raised the commission; it takes effect at block `from`, after the
    /// withdrawal grace period, so delegators may leave at the old rate first.
    #[codec(index = 13)]
    CommissionScheduled {
        pid: u64,
        commission: Perbill,
        from: phala_primitives::BlockNumber,
    },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::StakePools(e)
    }
}
