use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance};
use scale_info::TypeInfo;

/// Events of the `Validators` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// PHA was bonded.
    #[codec(index = 0)]
    Bonded { who: AccountId32, amount: Balance },
    /// PHA was unbonded; it can be withdrawn from block `at`.
    #[codec(index = 1)]
    Unbonded {
        who: AccountId32,
        amount: Balance,
        at: u32,
    },
    /// Unbonded PHA was unlocked.
    #[codec(index = 2)]
    Withdrawn { who: AccountId32, amount: Balance },
    /// An account stands for election with this consensus key.
    #[codec(index = 3)]
    Validating {
        who: AccountId32,
        consensus_key: [u8; 32],
    },
    /// An account no longer stands for election.
    #[codec(index = 4)]
    Chilled { who: AccountId32 },
    /// The committee of `epoch` was elected.
    #[codec(index = 5)]
    NewCommittee {
        epoch: u64,
        members: Vec<AccountId32>,
    },
    /// A validator's bond was slashed to the treasury for a proven fault: equivocation
    /// (which also removes it from the candidates), or its gatekeeper's settlement that the
    /// other gatekeepers' outvoted.
    #[codec(index = 6)]
    Slashed { who: AccountId32, amount: Balance },
    /// Elections from the next one on seat `size` validators.
    #[codec(index = 7)]
    CommitteeSizeSet { size: u32 },
    /// Epochs from the next boundary on last `length` blocks.
    #[codec(index = 8)]
    EpochLengthSet { length: u32 },
    /// Epochs from `epoch` on last `length` blocks (this block's header announces it).
    #[codec(index = 9)]
    EpochLengthChanged { epoch: u64, length: u32 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Validators(e)
    }
}
