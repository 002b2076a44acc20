//! Workers added to a cluster that exists: root adds them, the gatekeepers deliver them the
//! key, and they join the reporting turns only once they say they hold the cluster's state.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::Purpose;
use phala_mq::topics::{
    CLUSTER_EVENT, CLUSTER_STATE_READY, ClusterEvent, ClusterKeyReport, ClusterStateReady,
    GATEKEEPER_EVENT, GatekeeperEvent, GatekeeperReport,
};

use phala_primitives::H256;

use super::tests::{Setup, executed, setup};
use super::*;
use crate::RuntimeCall;
use crate::dispatch::{DispatchError, Origin};
use crate::modules::registry::gatekeeper_tests::Worker;
use crate::modules::{message_queue, system};

fn add(cluster: H256, worker: [u8; 32]) -> RuntimeCall {
    RuntimeCall::Contracts(Call::add_cluster_worker { cluster, worker })
}

fn outbound<T: Decode>(s: &Setup, topic: &[u8]) -> Vec<T> {
    message_queue::OUTBOUND_MESSAGES
        .get_or_default(&s.net.chain.ext())
        .into_iter()
        .filter(|m| m.destination == topic)
        .map(|m| T::decode(&mut &m.payload[..]).unwrap())
        .collect()
}

/// The cluster key sealed to `to`, as the gatekeepers report it.
fn key_for(s: &Setup, to: &[&Worker]) -> GatekeeperReport {
    let envelopes = to
        .iter()
        .map(|w| {
            let env = s
                .master
                .seed()
                .seal_deterministic(
                    s.cluster.as_bytes(),
                    &w.ecdh.public(),
                    Purpose::KeyDelivery,
                    s.cluster_key.seed().expose(),
                )
                .unwrap();
            (w.pair.public(), env)
        })
        .collect();
    GatekeeperReport::ClusterKey(ClusterKeyReport {
        cluster: s.cluster,
        pubkey: s.cluster_key.public(),
        ecdh_pubkey: s.cluster_key.ecdh_public(),
        envelopes,
    })
}

/// The gatekeeper's report of the key sealed to worker `to` (1: a member, 3: the outsider).
fn deliver(s: &mut Setup, to: u8) -> Result<(), DispatchError> {
    let report = key_for(s, &[if to == 1 { &s.w1 } else { &s.outsider }]);
    s.net.report(&mut s.gk, report)
}

fn ready(s: &mut Setup, from: u8, at: u32) -> Result<(), DispatchError> {
    let payload = ClusterStateReady {
        cluster: s.cluster,
        at,
    }
    .encode();
    let w = match from {
        1 => &mut s.w1,
        _ => &mut s.outsider,
    };
    s.net.send(w, CLUSTER_STATE_READY, payload)
}

#[test]
fn root_adds_a_worker_that_joins_the_turns_once_it_holds_the_state() {
    let mut s = setup();
    let cluster = s.cluster;
    let outsider = s.outsider.pair.public();
    let w1 = s.w1.pair.public();
    let root = |s: &mut Setup, call: RuntimeCall| {
        s.net.chain.mutate(|ext| call.dispatch(ext, Origin::Root))
    };

    // Refusals, before anything is written.
    assert_eq!(
        s.net.chain.mutate(|ext| add(s.cluster, outsider)
            .dispatch(ext, Origin::Gov(crate::origin::GovOrigin::Parameters))),
        Err(DispatchError::BadOrigin)
    );
    assert_eq!(
        root(&mut s, add(H256([7; 32]), outsider)),
        Err(Error::ClusterNotFound.into())
    );
    assert_eq!(
        root(&mut s, add(cluster, w1)),
        Err(Error::WorkerInCluster.into())
    );
    assert_eq!(
        root(&mut s, add(cluster, [9; 32])),
        Err(Error::WorkerNotFound.into())
    );
    let gatekeeper = s.gk.pair.public();
    assert_eq!(
        root(&mut s, add(cluster, gatekeeper)),
        Err(Error::WorkerIsGatekeeper.into())
    );

    s.net.root(add(s.cluster, outsider)).unwrap();
    let added_at = system::block_number(&s.net.chain.ext());
    assert!(s.events().contains(&Event::WorkerJoiningCluster {
        cluster: s.cluster,
        worker: outsider,
    }));
    let asked: Vec<GatekeeperEvent> = outbound(&s, GATEKEEPER_EVENT);
    assert_eq!(
        asked,
        vec![GatekeeperEvent::ClusterMemberAdded {
            cluster: s.cluster,
            master_version: 0,
            worker: (outsider, s.outsider.ecdh.public()),
        }]
    );
    assert_eq!(
        WORKER_CLUSTER.get(&s.net.chain.ext(), &outsider),
        Some(s.cluster)
    );
    // Not a reporter yet.
    let info = CLUSTERS.get(&s.net.chain.ext(), &s.cluster).unwrap();
    assert_eq!(info.workers.len(), 2);
    // Adding it again, or to another cluster, is refused.
    assert_eq!(
        root(&mut s, add(cluster, outsider)),
        Err(Error::WorkerInCluster.into())
    );

    // Before its key, it cannot say it holds the state.
    assert_eq!(ready(&mut s, 3, added_at), Err(Error::NotJoining.into()));

    // The key: a copy with another public key, or only for members, is refused.
    let mut forged = key_for(&s, &[&s.outsider]);
    if let GatekeeperReport::ClusterKey(r) = &mut forged {
        r.pubkey = [1; 32];
    }
    assert_eq!(
        s.net.report(&mut s.gk, forged),
        Err(crate::modules::registry::Error::BadReport.into())
    );
    assert_eq!(deliver(&mut s, 1), Err(Error::ClusterKeyAlreadySet.into()));
    deliver(&mut s, 3).unwrap();
    let relayed: Vec<ClusterEvent> = outbound(&s, CLUSTER_EVENT);
    let [
        ClusterEvent::MemberKey {
            envelopes, members, ..
        },
    ] = relayed.as_slice()
    else {
        panic!("{relayed:?}")
    };
    assert_eq!(*members, 3);
    assert_eq!(envelopes.len(), 1);
    assert_eq!(
        envelopes[0].1.open(&s.outsider.ecdh).unwrap().as_slice(),
        s.cluster_key.seed().expose()
    );
    // Another gatekeeper's copy comes too late, as at creation.
    assert_eq!(deliver(&mut s, 3), Err(Error::ClusterKeyAlreadySet.into()));

    // Its state must be from the block it was added at or later, and only it may say so.
    assert_eq!(
        ready(&mut s, 3, added_at - 1),
        Err(Error::StateTooOld.into())
    );
    assert_eq!(ready(&mut s, 3, u32::MAX), Err(Error::StateTooOld.into()));
    assert_eq!(ready(&mut s, 1, added_at), Err(Error::NotJoining.into()));
    ready(&mut s, 3, added_at).unwrap();
    assert!(s.events().contains(&Event::WorkerJoinedCluster {
        cluster: s.cluster,
        worker: outsider,
        state_at: added_at,
    }));
    let info = CLUSTERS.get(&s.net.chain.ext(), &s.cluster).unwrap();
    assert_eq!(info.workers, vec![w1, s.w2.pair.public(), outsider]);
    assert!(joining(&s.net.chain.ext(), &s.cluster).is_empty());
    // Saying it twice changes nothing.
    assert_eq!(ready(&mut s, 3, added_at), Err(Error::NotJoining.into()));
}

#[test]
fn a_worker_still_joining_can_be_removed_and_added_again() {
    let mut s = setup();
    let outsider = s.outsider.pair.public();
    s.net.root(add(s.cluster, outsider)).unwrap();
    s.net
        .chain
        .mutate(|ext| {
            RuntimeCall::Contracts(Call::remove_cluster_worker { worker: outsider })
                .dispatch(ext, Origin::Root)
        })
        .unwrap();
    assert!(WORKER_CLUSTER.get(&s.net.chain.ext(), &outsider).is_none());
    assert!(joining(&s.net.chain.ext(), &s.cluster).is_empty());
    // It is told to erase the key and whatever state it has.
    let told: Vec<ClusterEvent> = outbound(&s, CLUSTER_EVENT);
    assert_eq!(
        told,
        vec![ClusterEvent::MemberLeft {
            cluster: s.cluster,
            worker: outsider
        }]
    );
    assert_eq!(
        CLUSTERS
            .get(&s.net.chain.ext(), &s.cluster)
            .unwrap()
            .workers
            .len(),
        2
    );
    // Its late key finds nobody waiting.
    assert_eq!(deliver(&mut s, 3), Err(Error::ClusterKeyAlreadySet.into()));
    s.net.root(add(s.cluster, outsider)).unwrap();
    assert_eq!(joining(&s.net.chain.ext(), &s.cluster).len(), 1);
}

#[test]
fn a_cluster_whose_key_is_not_out_takes_no_new_worker() {
    let mut s = setup();
    let late = s.net.worker("//Late", 11);
    let other = s.net.worker("//Other", 12);
    s.net
        .root(RuntimeCall::Contracts(Call::create_cluster {
            workers: vec![other.pair.public()],
        }))
        .unwrap();
    assert_eq!(
        s.net
            .chain
            .mutate(|ext| add(cluster_id(1), late.pair.public()).dispatch(ext, Origin::Root)),
        Err(Error::ClusterNotReady.into())
    );
}

#[test]
fn a_joining_worker_reports_nothing_until_it_holds_the_state() {
    use phala_mq::contracts::CommandStatus;
    let mut s = setup();
    let contract = s.active_contract();
    let ecdh = instance(&s.net.chain.ext(), &contract)
        .unwrap()
        .ecdh_pubkey
        .unwrap();
    let outsider = s.outsider.pair.public();
    s.net.root(add(s.cluster, outsider)).unwrap();
    let added_at = system::block_number(&s.net.chain.ext());
    deliver(&mut s, 3).unwrap();
    let id = s.push(contract, ecdh, 0);
    let report = || executed(id, contract, CommandStatus::Success, false);
    assert_eq!(s.report(3, report()), Err(Error::NotInCluster.into()));
    ready(&mut s, 3, added_at).unwrap();
    s.report(3, report()).unwrap();
}
