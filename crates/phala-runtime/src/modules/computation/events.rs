use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber, H256};
use phala_tokenomics::U64F64Bits;
use scale_info::TypeInfo;

/// Events of the `Computation` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A worker was bound to a session of `owner`.
    #[codec(index = 0)]
    WorkerBound {
        worker: [u8; 32],
        owner: AccountId32,
    },
    /// A worker's session ended.
    #[codec(index = 1)]
    WorkerUnbound {
        worker: [u8; 32],
        owner: AccountId32,
    },
    /// A worker started computing.
    #[codec(index = 2)]
    WorkerStarted {
        worker: [u8; 32],
        owner: AccountId32,
        stake: Balance,
        initial_v: U64F64Bits,
    },
    /// A worker stopped computing; its cooldown began.
    #[codec(index = 3)]
    WorkerStopped {
        worker: [u8; 32],
        owner: AccountId32,
    },
    /// A cooled-down worker's stake went back to its owner.
    #[codec(index = 4)]
    StakeReclaimed {
        worker: [u8; 32],
        owner: AccountId32,
        amount: Balance,
    },
    /// A worker answered its challenge.
    #[codec(index = 5)]
    HeartbeatReceived {
        worker: [u8; 32],
        challenge_block: BlockNumber,
        iterations: u64,
    },
    /// A worker missed its challenge: its value decays until it answers again.
    #[codec(index = 6)]
    WorkerUnresponsive { worker: [u8; 32] },
    /// An unresponsive worker answered again.
    #[codec(index = 7)]
    WorkerRecovered { worker: [u8; 32] },
    /// A heartbeat was paid: `pool` to the owner, `treasury` to the treasury.
    #[codec(index = 8)]
    WorkerRewarded {
        worker: [u8; 32],
        owner: AccountId32,
        pool: Balance,
        treasury: Balance,
        v: U64F64Bits,
    },
    /// The reward pool could not pay a whole payout: payouts stop when it runs dry.
    #[codec(index = 9)]
    RewardPoolExhausted { worker: [u8; 32], unpaid: Balance },
    /// A block's settlement was applied; `skipped` entries were stale by the time it
    /// arrived (the worker stopped, or answered again) or could not be confirmed.
    #[codec(index = 10)]
    SettlementApplied {
        block: BlockNumber,
        gatekeeper: [u8; 32],
        paid: Balance,
        skipped: u32,
    },
    /// A gatekeeper's settlement differs from the one applied for the same block: one of
    /// them is faulty.
    #[codec(index = 11)]
    SettlementMismatch {
        block: BlockNumber,
        gatekeeper: [u8; 32],
        applied_from: [u8; 32],
    },
    /// Stake was slashed to the treasury for proven misbehaviour.
    #[codec(index = 12)]
    StakeSlashed {
        worker: [u8; 32],
        owner: AccountId32,
        amount: Balance,
    },
    /// Root set the economics' parameters.
    #[codec(index = 13)]
    ParamsSet,
    /// A worker was proven to sign two different messages with one sequence: `slashed` of
    /// its session's stake went to the treasury, it stopped, and may never compute again.
    #[codec(index = 14)]
    WorkerDoubleSigned {
        worker: [u8; 32],
        sequence: u64,
        slashed: Balance,
    },
    /// A gatekeeper's settlement of `block` was outvoted (or there was no majority): its
    /// operator's bond lost `slashed`.
    #[codec(index = 15)]
    GatekeeperFaulty {
        block: BlockNumber,
        gatekeeper: [u8; 32],
        slashed: Balance,
    },
    /// A block's differing settlement copies were judged: the majority digest, if any, and
    /// how many gatekeepers were faulty.
    #[codec(index = 16)]
    SettlementJudged {
        block: BlockNumber,
        majority: Option<H256>,
        faulty: u32,
    },
    /// Root set the share of stake a double signing costs (parts per billion).
    #[codec(index = 17)]
    DoubleSignSlashSet { perbill: phala_tokenomics::Perbill },
    /// A contract command's gas paid a computing cluster member's pool (after the
    /// treasury's part).
    #[codec(index = 18)]
    ComputePaid {
        worker: [u8; 32],
        owner: AccountId32,
        amount: Balance,
    },
    /// A payout was cut (or skipped) because all payouts together would exceed the budget
    /// accrued so far: a faulty settlement, or rounding at the edge.
    #[codec(index = 19)]
    BudgetExceeded { worker: [u8; 32], unpaid: Balance },
    /// Heartbeat challenges were paused (`true`) or resumed.
    #[codec(index = 20)]
    HeartbeatPauseSet { paused: bool },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Computation(e)
    }
}
