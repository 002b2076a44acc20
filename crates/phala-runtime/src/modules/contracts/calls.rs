use parity_scale_codec::{Decode, Encode};
use phala_mq::topics::GatekeeperEvent;
use scale_info::TypeInfo;

use super::{
    CLUSTER_COUNT, CLUSTERS, ClusterInfo, Error, Event, MAX_CLUSTER_WORKERS, MODULE,
    WORKER_CLUSTER, cluster_id,
};
use crate::Ext;
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::{message_queue, registry, system, weights};

/// Calls of the `Contracts` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Create a cluster of registered workers (root, until governance). Each worker may
    /// belong to one cluster.
    #[codec(index = 0)]
    create_cluster { workers: Vec<[u8; 32]> },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::create_cluster { workers } => {
                let n = u64::try_from(workers.len()).unwrap_or(u64::MAX);
                weights::reads_writes(n.saturating_mul(2).saturating_add(3), n.saturating_add(3))
            }
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::create_cluster { workers } => {
                origin.ensure_root()?;
                create_cluster(ext, workers)
            }
        }
    }
}

fn create_cluster(ext: &mut Ext, workers: Vec<[u8; 32]>) -> DispatchResult {
    if workers.is_empty() {
        return Err(Error::NoWorkers.into());
    }
    if workers.len() > MAX_CLUSTER_WORKERS {
        return Err(Error::TooManyWorkers.into());
    }
    let master_version = registry::gatekeeper::master_version(ext).ok_or(Error::NoMasterKey)?;
    let mut keys = Vec::with_capacity(workers.len());
    for (i, w) in workers.iter().enumerate() {
        if workers.iter().take(i).any(|earlier| earlier == w) {
            return Err(Error::DuplicateWorker.into());
        }
        let info = registry::worker(ext, w).ok_or(Error::WorkerNotFound)?;
        if WORKER_CLUSTER.contains(ext, w) {
            return Err(Error::WorkerInCluster.into());
        }
        keys.push((info.pubkey, info.ecdh_pubkey));
    }
    let n = CLUSTER_COUNT.get_or_default(ext);
    let next = n.checked_add(1).ok_or(Error::TooManyClusters)?;
    let cluster = cluster_id(n);

    CLUSTER_COUNT.put(ext, &next);
    for w in &workers {
        WORKER_CLUSTER.insert(ext, w, &cluster);
    }
    CLUSTERS.insert(
        ext,
        &cluster,
        &ClusterInfo {
            workers: workers.clone(),
            master_version,
            pubkey: None,
            ecdh_pubkey: None,
            created_at: system::block_number(ext),
        },
    );
    ext.deposit_event(Event::ClusterCreated { cluster, workers });
    message_queue::push(
        ext,
        MODULE,
        phala_mq::topics::GATEKEEPER_EVENT,
        &GatekeeperEvent::ClusterCreated {
            cluster,
            master_version,
            workers: keys,
        },
    )
}
