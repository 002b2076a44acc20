//! Topics and their payloads.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::Envelope;
use phala_primitives::H256;
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

/// Chain → gatekeepers: what they must do with the master key ([`GatekeeperEvent`]).
pub const GATEKEEPER_EVENT: &[u8] = b"phala/gatekeeper/event";
/// Gatekeeper → chain: keys published and handed over ([`GatekeeperReport`]). Sent from
/// the gatekeeper's worker origin: every gatekeeper sends its own copy, byte-identical where
/// the content is deterministic, and the chain keeps the first.
pub const GATEKEEPER_REPORT: &[u8] = b"^phala/gatekeeper/report";
/// Chain → cluster workers: their cluster key ([`ClusterEvent`]).
pub const CLUSTER_EVENT: &[u8] = b"phala/cluster/event";
/// Gatekeeper → chain: a cluster's key, sealed to its workers ([`ClusterKeyReport`]). The
/// clusters' module owns it, so it has its own topic rather than a gatekeeper report's.
pub const CLUSTER_KEY_REPORT: &[u8] = b"^phala/cluster/key_report";
/// Worker → chain: a worker added to a cluster holds the cluster's state and may take its
/// turn reporting ([`ClusterStateReady`]).
pub const CLUSTER_STATE_READY: &[u8] = b"^phala/cluster/state_ready";

/// A worker's two public keys: identity (sr25519) and encryption (x25519).
pub type WorkerKeys = ([u8; 32], [u8; 32]);

/// An envelope for one worker, named by its identity key.
pub type Delivery = ([u8; 32], Envelope);

/// What the chain asks of the gatekeepers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum GatekeeperEvent {
    /// A gatekeeper was registered. The first one (`generate_master`) makes the master key;
    /// for any other, every gatekeeper holding the key hands it the history.
    #[codec(index = 0)]
    Registered {
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
        generate_master: bool,
    },
    /// A gatekeeper missed a rotation: hand it the history again.
    #[codec(index = 1)]
    HistoryRequested {
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
    /// The chain accepted a history hand-over (the first copy); for `to` only.
    #[codec(index = 2)]
    HistoryDelivered {
        to: [u8; 32],
        up_to: u32,
        envelope: Envelope,
    },
    /// Governance asked for master key `version`: every gatekeeper proposes one.
    #[codec(index = 3)]
    RotationRequested {
        version: u32,
        gatekeepers: Vec<WorkerKeys>,
    },
    /// The chain accepted a proposal for master key `version` (the first one).
    #[codec(index = 4)]
    MasterKeyRotated {
        version: u32,
        pubkey: [u8; 32],
        envelopes: Vec<Delivery>,
    },
    /// A cluster was created: derive its key from master key `master_version` and deliver it
    /// to its workers.
    #[codec(index = 5)]
    ClusterCreated {
        cluster: H256,
        master_version: u32,
        workers: Vec<WorkerKeys>,
    },
    /// A worker was added to an existing cluster: deliver it the cluster's key (derived
    /// from master key `master_version`, as at creation).
    #[codec(index = 6)]
    ClusterMemberAdded {
        cluster: H256,
        master_version: u32,
        worker: WorkerKeys,
    },
}

/// What a gatekeeper tells the chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum GatekeeperReport {
    /// The first master key's public keys.
    #[codec(index = 0)]
    MasterPubkey {
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
    /// Master keys `0..=up_to` for the gatekeeper `to`, sealed to its ECDH key.
    #[codec(index = 1)]
    MasterKeyHistory {
        to: [u8; 32],
        up_to: u32,
        envelope: Envelope,
    },
    /// A proposed master key `version`, sealed to every gatekeeper.
    #[codec(index = 2)]
    RotatedMasterKey {
        version: u32,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
        envelopes: Vec<Delivery>,
    },
    /// A cluster's key: sent on [`CLUSTER_KEY_REPORT`], never on [`GATEKEEPER_REPORT`]
    /// (see [`GatekeeperReport::topic_and_payload`]). A variant here so that a gatekeeper holds all its
    /// key reports, in order, in one list.
    #[codec(index = 3)]
    ClusterKey(ClusterKeyReport),
    /// This gatekeeper lacks master keys the chain has on record: hand it the history.
    #[codec(index = 4)]
    NeedHistory,
}

impl GatekeeperReport {
    /// The topic this report travels on, and its payload there.
    pub fn topic_and_payload(&self) -> (&'static [u8], Vec<u8>) {
        match self {
            GatekeeperReport::ClusterKey(report) => (CLUSTER_KEY_REPORT, report.encode()),
            other => (GATEKEEPER_REPORT, other.encode()),
        }
    }
}

/// A cluster's key, sealed to each of its workers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClusterKeyReport {
    pub cluster: H256,
    pub pubkey: [u8; 32],
    pub ecdh_pubkey: [u8; 32],
    pub envelopes: Vec<Delivery>,
}

/// What the chain tells a cluster's workers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ClusterEvent {
    /// The cluster's key, sealed to each worker; the public keys are on chain.
    #[codec(index = 0)]
    Key {
        cluster: H256,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
        envelopes: Vec<Delivery>,
    },
    /// The key of a cluster that exists, sealed to workers added to it since. They start
    /// from a member's state (a sealed transfer) and replay the cluster's commands from
    /// this block on. `members` counts the cluster's workers, the new ones included.
    #[codec(index = 1)]
    MemberKey {
        cluster: H256,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
        envelopes: Vec<Delivery>,
        members: u32,
    },
    /// `worker` left the cluster (removed by root, or revoked): it erases the cluster key
    /// and the cluster's state. (A TEE that does not follow its code could keep them: a
    /// removal is for an operator leaving, not for shutting out a compromised TEE.)
    #[codec(index = 2)]
    MemberLeft { cluster: H256, worker: [u8; 32] },
}

/// A worker added to a cluster installed a member's state as of block `at` and replayed
/// the cluster's commands since: from now on it runs and reports the cluster's commands.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClusterStateReady {
    pub cluster: H256,
    pub at: u32,
}
