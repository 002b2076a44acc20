//! Computation's topics: the chain's challenges and session changes for workers and
//! gatekeepers, workers' heartbeats, and gatekeepers' settlements.
//!
//! Gatekeepers replay every session from [`ComputationEvent`]s, in block order, and compute
//! value and payouts themselves (in the TEE, `phala-tokenomics`); the chain applies the
//! first [`Settlement`] for a block and compares later copies with it.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Balance, BlockNumber};
use scale_info::TypeInfo;

/// Chain → workers and gatekeepers: this block's challenge and session changes.
pub const COMPUTATION_EVENT: &[u8] = b"phala/computation/event";
/// Worker → chain: an answer to a challenge ([`Heartbeat`]).
pub const HEARTBEAT: &[u8] = b"^phala/computation/heartbeat";
/// Gatekeeper → chain: one block's settlement ([`Settlement`]).
pub const SETTLEMENT: &[u8] = b"^phala/computation/settlement";

/// Most workers in each list of a settlement: a block challenges about 20, so this is
/// room for bursts (a mass outage) within the message size.
pub const MAX_SETTLED: usize = 512;

/// What the chain tells workers and gatekeepers about computing.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ComputationEvent {
    /// This block's challenge (one per block while anyone computes).
    #[codec(index = 0)]
    Challenge { seed: [u8; 32], target: [u8; 32] },
    /// A worker started computing with this stake and initial value.
    #[codec(index = 1)]
    Started {
        worker: [u8; 32],
        /// Benchmark score, the worker's initial performance P.
        p_bench: u32,
        confidence_level: u8,
        stake: Balance,
        /// U64F64 bits.
        initial_v: u128,
        /// The block's timestamp (ms): performance is measured from it.
        at_ms: u64,
    },
    /// A worker stopped computing (its cooldown began): it earns nothing more.
    #[codec(index = 2)]
    Stopped { worker: [u8; 32] },
    /// The chain accepted a worker's answer to the challenge of `challenge_block`.
    #[codec(index = 3)]
    Heartbeat {
        worker: [u8; 32],
        challenge_block: BlockNumber,
        /// The worker's work counter since it started computing.
        iterations: u64,
        /// The block's timestamp (ms).
        at_ms: u64,
    },
    /// The economics' parameters changed (SCALE of `phala_tokenomics::Params`).
    #[codec(index = 4)]
    ParamsSet { params: Vec<u8> },
    /// Heartbeat challenges resumed after a pause: the paused blocks pay nothing, so every
    /// session's next payout counts from this block.
    #[codec(index = 5)]
    HeartbeatResumed,
}

/// A worker's answer to a challenge it was picked by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Heartbeat {
    pub challenge_block: BlockNumber,
    /// Work done since the worker started computing: its performance over time.
    pub iterations: u64,
}

/// A worker's value after a block, as the gatekeepers computed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WorkerValue {
    pub worker: [u8; 32],
    /// U64F64 bits.
    pub v: u128,
}

/// A heartbeat's reward, as the gatekeepers computed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WorkerPayout {
    pub worker: [u8; 32],
    /// U64F64 bits.
    pub v: u128,
    /// Plancks, before the treasury's share is taken.
    pub payout: Balance,
}

/// What the gatekeepers concluded from one block: identical from every honest gatekeeper.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Settlement {
    pub block: BlockNumber,
    /// Workers whose challenge window closed unanswered at this block.
    pub offline: Vec<WorkerValue>,
    /// Unresponsive workers whose heartbeat this block accepted.
    pub recovered: Vec<[u8; 32]>,
    /// Heartbeats of this block and what each earned.
    pub paid: Vec<WorkerPayout>,
}

impl Settlement {
    /// Whether every list is within [`MAX_SETTLED`].
    pub fn within_bounds(&self) -> bool {
        self.offline.len() <= MAX_SETTLED
            && self.recovered.len() <= MAX_SETTLED
            && self.paid.len() <= MAX_SETTLED
    }

    /// Whether nothing happened: such settlements are not sent.
    pub fn is_empty(&self) -> bool {
        self.offline.is_empty() && self.recovered.is_empty() && self.paid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::DecodeLimit;
    use proptest::prelude::*;

    #[test]
    fn a_full_settlement_fits_one_message() {
        let s = Settlement {
            block: 1,
            offline: vec![
                WorkerValue {
                    worker: [1; 32],
                    v: u128::MAX
                };
                MAX_SETTLED
            ],
            recovered: vec![[2; 32]; MAX_SETTLED],
            paid: vec![],
        };
        assert!(s.within_bounds());
        assert!(s.encode().len() <= crate::MAX_PAYLOAD_LEN);
        let p = Settlement {
            paid: vec![
                WorkerPayout {
                    worker: [3; 32],
                    v: 1,
                    payout: 1
                };
                MAX_SETTLED
            ],
            offline: vec![],
            recovered: vec![],
            block: 1,
        };
        assert!(p.encode().len() <= crate::MAX_PAYLOAD_LEN);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Settlement::decode_all_with_depth_limit(8, &mut &bytes[..]);
            let _ = Heartbeat::decode_all_with_depth_limit(8, &mut &bytes[..]);
            let _ = ComputationEvent::decode_all_with_depth_limit(8, &mut &bytes[..]);
        }
    }
}
