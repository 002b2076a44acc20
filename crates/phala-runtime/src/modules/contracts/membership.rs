//! The contracts module's side of its clusters' membership: the gatekeepers' report of a
//! cluster's key (topic [`CLUSTER_KEY_REPORT`](phala_mq::topics::CLUSTER_KEY_REPORT)), and
//! members leaving when the registry revokes or downgrades them.

use parity_scale_codec::DecodeLimit;
use phala_mq::topics::{self, ClusterEvent, ClusterKeyReport, ClusterStateReady, Delivery};
use phala_primitives::{H256, Weight};

use super::{
    CLUSTERS, ClusterInfo, Error, Event, JOINING, MODULE, WORKER_CLUSTER, cluster_workers, joining,
    leave_cluster, set_cluster_key, stop_joining,
};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{message_queue, registry, system, weights};

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
    if let Some(info) = CLUSTERS.get(ext, &cluster)
        && info.pubkey.is_some()
    {
        return deliver_to_joining(ext, cluster, &info, (pubkey, ecdh_pubkey), envelopes);
    }
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

/// The key of a cluster that exists, for workers added to it: relayed to those still
/// waiting for it (every gatekeeper sends a copy; the first one delivers).
fn deliver_to_joining(
    ext: &mut Ext,
    cluster: H256,
    info: &ClusterInfo,
    (pubkey, ecdh_pubkey): ([u8; 32], [u8; 32]),
    envelopes: Vec<Delivery>,
) -> DispatchResult {
    if info.pubkey != Some(pubkey) || info.ecdh_pubkey != Some(ecdh_pubkey) {
        return Err(registry::Error::BadReport.into());
    }
    if envelopes.len() > registry::MAX_DELIVERIES {
        return Err(registry::Error::BadDelivery.into());
    }
    let mut list = joining(ext, &cluster);
    let recipients: Vec<[u8; 32]> = list
        .iter()
        .filter(|j| !j.keyed && envelopes.iter().any(|(w, _)| *w == j.worker))
        .map(|j| j.worker)
        .collect();
    if recipients.is_empty() {
        return Err(Error::ClusterKeyAlreadySet.into());
    }
    let envelopes: Vec<Delivery> = envelopes
        .into_iter()
        .filter(|(w, _)| recipients.contains(w))
        .collect();
    registry::check_deliveries(ext, &envelopes, &recipients)?;
    for j in list.iter_mut() {
        if recipients.contains(&j.worker) {
            j.keyed = true;
        }
    }
    let members = info.workers.len().saturating_add(list.len());
    JOINING.insert(ext, &cluster, &list);
    message_queue::push(
        ext,
        MODULE,
        topics::CLUSTER_EVENT,
        &ClusterEvent::MemberKey {
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
            members: u32::try_from(members).unwrap_or(u32::MAX),
        },
    )
}

/// A joining worker's word that it holds its cluster's state (delivered, signature and
/// sequence checked, by the message queue): it joins the reporting turns.
pub fn on_state_ready(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let ready = ClusterStateReady::decode_all_with_depth_limit(4, &mut &payload[..])
        .map_err(|_| Error::BadReport)?;
    if WORKER_CLUSTER.get(ext, &sender) != Some(ready.cluster) {
        return Err(Error::NotJoining.into());
    }
    let entry = joining(ext, &ready.cluster)
        .into_iter()
        .find(|j| j.worker == sender && j.keyed)
        .ok_or(Error::NotJoining)?;
    if ready.at < entry.added_at || ready.at > system::block_number(ext) {
        return Err(Error::StateTooOld.into());
    }
    let mut info = CLUSTERS
        .get(ext, &ready.cluster)
        .ok_or(Error::ClusterNotFound)?;
    let registered = registry::worker(ext, &sender).ok_or(Error::WorkerNotFound)?;
    registry::check_role(ext, &registered, registry::params(ext).cluster_max_level)?;
    stop_joining(ext, &ready.cluster, &sender);
    info.workers.push(sender);
    CLUSTERS.insert(ext, &ready.cluster, &info);
    ext.deposit_event(Event::WorkerJoinedCluster {
        cluster: ready.cluster,
        worker: sender,
        state_at: ready.at,
    });
    Ok(())
}

pub fn state_ready_weight(_payload: &[u8]) -> Weight {
    weights::reads_writes(5, 3)
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
