//! `Contracts`: clusters of workers that run confidential contracts (protocol.md §7).
//!
//! Root (until governance) creates a cluster from registered workers. The gatekeepers derive
//! its key from the master key, `derive(master, "cluster_key", cluster id)`, and seal it to
//! each of its workers; the chain records the cluster's public keys and relays the sealed
//! copies. Contracts themselves (code, instances, commands) build on these clusters.

mod calls;
mod errors;
mod events;

pub use calls::Call;
pub use errors::Error;
pub use events::Event;

use parity_scale_codec::{Decode, Encode};
use phala_mq::topics::{self, ClusterEvent, Delivery};
use phala_primitives::storage::Hasher;
use phala_primitives::{BlockNumber, H256};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::message_queue;
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Contracts";

/// Most workers in one cluster: bounds the key hand-over message.
pub const MAX_CLUSTER_WORKERS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClusterInfo {
    /// Member workers' identity keys.
    pub workers: Vec<[u8; 32]>,
    /// The master key version the cluster key derives from.
    pub master_version: u32,
    /// The cluster key's sr25519 public key, once the gatekeepers delivered it.
    pub pubkey: Option<[u8; 32]>,
    /// The cluster key's x25519 public key.
    pub ecdh_pubkey: Option<[u8; 32]>,
    pub created_at: BlockNumber,
}

pub const CLUSTER_COUNT: StorageValue<u64> = StorageValue::new(
    MODULE,
    "ClusterCount",
    Query::Default,
    &[" Clusters created so far: the next cluster's id derives from it."],
);
pub const CLUSTERS: StorageMap<H256, ClusterInfo> = StorageMap::new(
    MODULE,
    "Clusters",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Clusters by id: their workers and public keys."],
);
pub const WORKER_CLUSTER: StorageMap<[u8; 32], H256> = StorageMap::new(
    MODULE,
    "WorkerCluster",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The cluster each worker belongs to (at most one)."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        CLUSTER_COUNT.metadata(),
        CLUSTERS.metadata(),
        WORKER_CLUSTER.metadata(),
    ]
}

/// The id of the `n`-th cluster.
pub fn cluster_id(n: u64) -> H256 {
    H256(phala_primitives::hashing::blake2_256(
        &(b"phala/cluster", n).encode(),
    ))
}

pub fn cluster(ext: &Ext, id: &H256) -> Option<ClusterInfo> {
    CLUSTERS.get(ext, id)
}

/// The workers of a cluster still waiting for its key.
pub fn cluster_workers(ext: &Ext, id: &H256) -> Result<Vec<[u8; 32]>, Error> {
    let info = CLUSTERS.get(ext, id).ok_or(Error::ClusterNotFound)?;
    if info.pubkey.is_some() {
        return Err(Error::ClusterKeyAlreadySet);
    }
    Ok(info.workers)
}

/// Records a cluster's public keys (the first gatekeeper copy) and relays the sealed keys.
pub fn set_cluster_key(
    ext: &mut Ext,
    cluster: H256,
    pubkey: [u8; 32],
    ecdh_pubkey: [u8; 32],
    envelopes: Vec<Delivery>,
) -> DispatchResult {
    let mut info = CLUSTERS.get(ext, &cluster).ok_or(Error::ClusterNotFound)?;
    if info.pubkey.is_some() {
        return Err(Error::ClusterKeyAlreadySet.into());
    }
    info.pubkey = Some(pubkey);
    info.ecdh_pubkey = Some(ecdh_pubkey);
    CLUSTERS.insert(ext, &cluster, &info);
    ext.deposit_event(Event::ClusterKeyPublished {
        cluster,
        pubkey,
        ecdh_pubkey,
    });
    message_queue::push(
        ext,
        MODULE,
        topics::CLUSTER_EVENT,
        &ClusterEvent::Key {
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
        },
    )
}
