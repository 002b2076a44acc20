//! Topics and their payloads.

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Chain → workers: events about one worker's registration ([`WorkerEventWithKey`]).
pub const WORKER_EVENT: &[u8] = b"phala/registry/worker_event";
/// Worker → chain: what a worker reports about itself ([`WorkerReport`]).
pub const WORKER_REPORT: &[u8] = b"^phala/registry/worker_report";

/// Benchmark window: the worker counts iterations for this long.
pub const BENCHMARK_SECONDS: u32 = 6;
/// Highest score a benchmark may report (iterations per window).
pub const MAX_SCORE: u32 = 6000;

/// What the chain tells one worker.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum WorkerEvent {
    /// Registered for the first time: measure performance and report a score.
    #[codec(index = 0)]
    BenchStart { duration_secs: u32 },
    /// The score was recorded as the worker's initial performance.
    #[codec(index = 1)]
    BenchScoreRecorded { score: u32 },
}

/// A [`WorkerEvent`] and the worker it is for.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WorkerEventWithKey {
    pub pubkey: [u8; 32],
    pub event: WorkerEvent,
}

/// What a worker tells the chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum WorkerReport {
    /// Benchmark iterations in [`BENCHMARK_SECONDS`], at most [`MAX_SCORE`].
    #[codec(index = 0)]
    BenchScore(u32),
}
