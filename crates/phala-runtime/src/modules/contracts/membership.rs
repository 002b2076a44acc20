//! The contracts module's side of its clusters' membership: the gatekeepers' report of a
//! cluster's key (topic [`CLUSTER_KEY_REPORT`](phala_mq::topics::CLUSTER_KEY_REPORT)), and
//! members leaving when the registry revokes or downgrades them.

use parity_scale_codec::DecodeLimit;
use phala_mq::topics::{ClusterKeyReport, Delivery};
use phala_primitives::Weight;

use super::{WORKER_CLUSTER, cluster_workers, leave_cluster, set_cluster_key};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{registry, weights};

fn decode(payload: &[u8]) -> Option<ClusterKeyReport> {
    ClusterKeyReport::decode_all_with_depth_limit(8, &mut &payload[..]).ok()
}

/// A gatekeeper's cluster-key report, delivered (signature and sequence checked) by the
/// message queue. Every gatekeeper sends its copy; the first one sets the key.
pub fn on_cluster_key_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    if !registry::is_gatekeeper(ext, &sender) {
        return Err(registry::Error::NotGatekeeper.into());
    }
    let ClusterKeyReport {
        cluster,
        pubkey,
        ecdh_pubkey,
        envelopes,
    } = decode(payload).ok_or(registry::Error::BadReport)?;
    // Sealed to the members at creation; copies for members revoked since are dropped, and
    // every remaining member must have its own.
    let workers = cluster_workers(ext, &cluster)?;
    if envelopes.len() > registry::MAX_DELIVERIES {
        return Err(registry::Error::BadDelivery.into());
    }
    let envelopes: Vec<Delivery> = envelopes
        .into_iter()
        .filter(|(w, _)| workers.contains(w))
        .collect();
    registry::check_deliveries(ext, &envelopes, &workers)?;
    set_cluster_key(ext, cluster, pubkey, ecdh_pubkey, envelopes)
}

/// The storage work a cluster-key report asks for: each envelope is checked against its
/// recipient's registration and relayed.
pub fn cluster_key_report_weight(payload: &[u8]) -> Weight {
    let Some(report) = decode(payload) else {
        return weights::reads_writes(1, 0);
    };
    let envelopes = u64::try_from(report.envelopes.len()).unwrap_or(u64::MAX);
    weights::reads_writes(envelopes.saturating_add(6), 6)
}

/// A member that re-attested at a level clusters no longer accept leaves its cluster.
pub fn recheck_member(ext: &mut Ext, worker: &registry::WorkerInfo) {
    if WORKER_CLUSTER.contains(ext, &worker.pubkey)
        && registry::check_role(ext, worker, registry::params(ext).cluster_max_level).is_err()
    {
        leave_cluster(ext, &worker.pubkey);
    }
}
