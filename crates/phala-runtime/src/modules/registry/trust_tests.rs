//! Trust over time: attestations expire, removed measurements revoke their workers, and
//! roles need a good enough confidence level.

use parity_scale_codec::Encode;
use phala_attestation::TeeKind;
use phala_mq::topics::{WORKER_REPORT, WorkerReport};
use phala_mq::{Message, MessageOrigin, SignedMessage};

use super::gatekeeper::{GATEKEEPERS, PENDING_ROTATION};
use super::gatekeeper_tests::{Net, Worker, add_gatekeeper, publish_master};
use super::tests::{info, register, simulated};
use super::trust;
use super::*;
use crate::modules::contracts::{self, CLUSTERS, WORKER_CLUSTER};
use crate::testing::pair;
use crate::{RuntimeCall, RuntimeEvent};

fn set_params(net: &mut Net, params: RegistryParams) {
    net.root(RuntimeCall::Registry(Call::set_params { params }))
        .unwrap();
}

/// Sends `w`'s benchmark report; returns the error the extrinsic failed with, if any.
fn send_report(net: &mut Net, w: &mut Worker) -> Option<crate::dispatch::DispatchError> {
    let message = Message::new(
        MessageOrigin::Worker(w.pair.public()),
        WORKER_REPORT,
        WorkerReport::BenchScore(100).encode(),
    );
    let signed = SignedMessage::sign(&net.chain.ctx.genesis_hash, message, w.sequence, |p| {
        w.pair.sign(p)
    });
    let call =
        RuntimeCall::MessageQueue(crate::modules::message_queue::Call::sync_offchain_message {
            signed_message: signed,
        });
    let nonce = net.bob_nonce();
    let xt = net.chain.sign(&pair("//Bob"), call, nonce);
    net.chain.produce(vec![xt]);
    let failure = net.chain.failure(1);
    if failure.is_none() {
        w.sequence += 1;
    }
    failure
}

/// The attack: a worker attested once keeps working forever, whatever happened to its
/// platform since.
#[test]
fn an_expired_attestation_silences_the_worker_until_it_re_attests() {
    let mut net = Net::new();
    set_params(
        &mut net,
        RegistryParams {
            attestation_validity: MIN_ATTESTATION_VALIDITY,
            ..RegistryParams::default()
        },
    );
    let mut w = net.worker("//W1", 1);
    let registered = worker(&net.chain.ext(), &w.pair.public()).unwrap();
    assert_eq!(
        registered.expires_at,
        registered.attested_at + MIN_ATTESTATION_VALIDITY
    );
    while net.chain.number <= registered.expires_at {
        net.chain.produce(vec![]);
    }
    assert_eq!(
        send_report(&mut net, &mut w),
        Some(crate::modules::message_queue::Error::AttestationExpired.into())
    );
    // It cannot take a role either.
    assert_eq!(
        net.root(add_gatekeeper(&w)),
        Err(Error::AttestationExpired.into())
    );
    // Re-attesting (registering again) restores it; the message goes through.
    let mut i = info(&net.chain, &w.pair);
    i.ecdh_pubkey = w.ecdh.public();
    net.bob(register(
        i.clone(),
        simulated(&i, phala_attestation::simulated::DEV_MEASUREMENT),
    ));
    let refreshed = worker(&net.chain.ext(), &w.pair.public()).unwrap();
    assert!(refreshed.expires_at > net.chain.number);
    assert_eq!(refreshed.registered_at, registered.registered_at);
    assert_eq!(send_report(&mut net, &mut w), None);
}

const REVOKED: [u8; 32] = [0xbd; 32];

/// The attack: a measurement found vulnerable is removed from the allowlist, yet the
/// workers running it stay gatekeepers and cluster members.
#[test]
fn removing_a_measurement_revokes_every_worker_that_runs_it() {
    let mut net = Net::new();
    net.root(RuntimeCall::Registry(Call::add_measurement {
        measurement: REVOKED.to_vec(),
    }))
    .unwrap();
    let mut gk1 = net.worker("//Gk1", 1);
    let gk2 = net.worker_with("//Gk2", 2, REVOKED);
    let w1 = net.worker("//W1", 3);
    let w2 = net.worker_with("//W2", 4, REVOKED);
    publish_master(&mut net, &mut gk1);
    net.root(add_gatekeeper(&gk2)).unwrap();
    net.root(RuntimeCall::Contracts(contracts::Call::create_cluster {
        workers: vec![w1.pair.public(), w2.pair.public()],
    }))
    .unwrap();
    let cluster = contracts::cluster_id(0);

    let mut w2 = w2;
    net.root(RuntimeCall::Registry(Call::remove_measurement {
        measurement: REVOKED.to_vec(),
    }))
    .unwrap();
    // At once: the gatekeeper loses the role, and nothing the others send is taken.
    assert_eq!(
        GATEKEEPERS.get_or_default(&net.chain.ext()),
        vec![gk1.pair.public()]
    );
    let registered = worker(&net.chain.ext(), &w2.pair.public()).unwrap();
    assert_eq!(
        usable(&net.chain.ext(), &registered),
        Err(Error::MeasurementNotAllowed)
    );
    // The next block's start revokes their registrations and seats (a page of them a
    // block), so a message is refused as from an unknown sender.
    assert_eq!(
        send_report(&mut net, &mut w2),
        Some(crate::modules::message_queue::Error::UnknownSender.into())
    );
    let ext = net.chain.ext();
    for revoked in [&gk2, &w2] {
        let pubkey = revoked.pair.public();
        assert!(worker(&ext, &pubkey).is_none());
    }
    assert_eq!(
        CLUSTERS.get(&ext, &cluster).unwrap().workers,
        vec![w1.pair.public()]
    );
    assert!(!WORKER_CLUSTER.contains(&ext, &w2.pair.public()));
    // The keys the revoked gatekeeper held stop protecting anything new.
    assert_eq!(PENDING_ROTATION.get(&ext), Some(1));
    // The others are untouched, and the revoked ones cannot come back with it.
    assert!(worker(&ext, &gk1.pair.public()).is_some());
    assert!(worker(&ext, &w1.pair.public()).is_some());
    let i = info(&net.chain, &w2.pair);
    let nonce = net.bob_nonce();
    let xt = net.chain.sign(
        &pair("//Bob"),
        register(i.clone(), simulated(&i, REVOKED)),
        nonce,
    );
    net.chain.produce(vec![xt]);
    assert_eq!(
        net.chain.failure(1),
        Some(Error::MeasurementNotAllowed.into())
    );
}

/// A worker of a hardware TEE with `level`, attested now, as if it had registered.
fn hardware_worker(net: &mut Net, uri: &str, level: u8) -> [u8; 32] {
    let pubkey = pair(uri).public();
    let changes = {
        let mut ext = net.chain.ext();
        let now = crate::modules::system::block_number(&ext);
        WORKERS.insert(
            &mut ext,
            &pubkey,
            &WorkerInfo {
                pubkey,
                ecdh_pubkey: [9; 32],
                tee: TeeKind::Sgx,
                confidence_level: level,
                measurement: phala_attestation::simulated::DEV_MEASUREMENT.to_vec(),
                attested_at: now,
                registered_at: now,
                expires_at: now + 1_000,
                ..Default::default()
            },
        );
        ext.into_changes()
    };
    for (key, value) in changes {
        match value {
            Some(value) => net.chain.state.insert(key, value),
            None => net.chain.state.remove(&key),
        };
    }
    pubkey
}

#[test]
fn roles_need_the_chains_confidence_level() {
    let mut net = Net::new();
    let mut gk = net.worker("//Gk1", 1);
    publish_master(&mut net, &mut gk);
    let level3 = hardware_worker(&mut net, "//Hw3", 3);
    let level4 = hardware_worker(&mut net, "//Hw4", 4);
    // Gatekeepers need level 2 or better by default; cluster members level 3.
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::register_gatekeeper {
            pubkey: level3
        })),
        Err(Error::ConfidenceTooLow.into())
    );
    assert_eq!(
        net.root(RuntimeCall::Contracts(contracts::Call::create_cluster {
            workers: vec![level4],
        })),
        Err(Error::ConfidenceTooLow.into())
    );
    net.root(RuntimeCall::Contracts(contracts::Call::create_cluster {
        workers: vec![level3],
    }))
    .unwrap();
    // Governance may lower the bar.
    set_params(
        &mut net,
        RegistryParams {
            gatekeeper_max_level: 3,
            ..RegistryParams::default()
        },
    );
    net.root(RuntimeCall::Registry(Call::register_gatekeeper {
        pubkey: level3,
    }))
    .unwrap();
    // Out-of-range parameters are refused.
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::set_params {
            params: RegistryParams {
                gatekeeper_max_level: 0,
                ..RegistryParams::default()
            }
        })),
        Err(Error::BadParams.into())
    );
}

/// Revoking the measurement every gatekeeper runs would lose the master key for good.
#[test]
fn the_last_gatekeepers_cannot_be_revoked() {
    let mut net = Net::new();
    net.root(RuntimeCall::Registry(Call::add_measurement {
        measurement: REVOKED.to_vec(),
    }))
    .unwrap();
    let mut gk = net.worker_with("//Gk1", 1, REVOKED);
    publish_master(&mut net, &mut gk);
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::remove_measurement {
            measurement: REVOKED.to_vec(),
        })),
        Err(Error::LastGatekeepers.into())
    );
}

/// A gatekeeper that stops re-attesting (its platform may no longer pass) loses the role at
/// the next sweep, and the master key is rotated without it.
#[test]
fn an_expired_gatekeeper_loses_the_role() {
    let mut net = Net::new();
    let mut gk1 = net.worker("//Gk1", 1);
    publish_master(&mut net, &mut gk1);
    set_params(
        &mut net,
        RegistryParams {
            attestation_validity: MIN_ATTESTATION_VALIDITY,
            ..RegistryParams::default()
        },
    );
    let gk2 = net.worker("//Gk2", 2);
    net.root(add_gatekeeper(&gk2)).unwrap();
    // Gk1 keeps re-attesting; Gk2 does not.
    let expires = worker(&net.chain.ext(), &gk2.pair.public())
        .unwrap()
        .expires_at;
    while net.chain.number <= expires + trust::SWEEP_EVERY {
        let mut i = info(&net.chain, &gk1.pair);
        i.ecdh_pubkey = gk1.ecdh.public();
        net.bob(register(
            i.clone(),
            simulated(&i, phala_attestation::simulated::DEV_MEASUREMENT),
        ));
    }
    let ext = net.chain.ext();
    assert_eq!(GATEKEEPERS.get_or_default(&ext), vec![gk1.pair.public()]);
    assert_eq!(PENDING_ROTATION.get(&ext), Some(1));
}

/// The attack: a gatekeeper is revoked while a rotation is under way. The proposals already
/// made were sealed to it too (public, in their extrinsics): none of them may become the
/// key. The rotation restarts without it.
#[test]
fn a_revocation_restarts_a_rotation_under_way() {
    let mut net = Net::new();
    net.root(RuntimeCall::Registry(Call::add_measurement {
        measurement: REVOKED.to_vec(),
    }))
    .unwrap();
    let mut gk1 = net.worker("//Gk1", 1);
    let gk2 = net.worker_with("//Gk2", 2, REVOKED);
    publish_master(&mut net, &mut gk1);
    net.root(add_gatekeeper(&gk2)).unwrap();
    net.root(RuntimeCall::Registry(Call::rotate_master_key))
        .unwrap();
    assert_eq!(PENDING_ROTATION.get(&net.chain.ext()), Some(1));
    // Gk1's proposal for that round, sealed to both.
    let new = phala_crypto::keys::KeyPair::new(phala_crypto::keys::Seed::from_bytes([0x22; 32]));
    let seal = |to: &Worker| {
        let envelope = phala_crypto::Envelope::seal(
            &mut commonware_utils::test_rng(),
            &to.ecdh.public(),
            phala_crypto::Purpose::KeyDelivery,
            None,
            b"key",
        )
        .unwrap();
        (to.pair.public(), envelope)
    };
    let stale = phala_mq::topics::GatekeeperReport::RotatedMasterKey {
        version: 1,
        pubkey: new.public(),
        ecdh_pubkey: new.ecdh_public(),
        envelopes: vec![seal(&gk1), seal(&gk2)],
    };
    net.root(RuntimeCall::Registry(Call::remove_measurement {
        measurement: REVOKED.to_vec(),
    }))
    .unwrap();
    let events = net.chain.events_of(1);
    assert!(
        events.contains(&RuntimeEvent::Registry(Event::MasterKeyRotationCancelled {
            version: 1
        }))
    );
    assert!(
        events.contains(&RuntimeEvent::Registry(Event::MasterKeyRotationRequested {
            version: 1
        }))
    );
    // The old round's proposal, naming the revoked gatekeeper, is refused.
    assert_eq!(net.report(&mut gk1, stale), Err(Error::BadDelivery.into()));
    assert_eq!(PENDING_ROTATION.get(&net.chain.ext()), Some(1));
    // A proposal of the new round, sealed to the remaining gatekeeper only, takes effect.
    let fresh = phala_mq::topics::GatekeeperReport::RotatedMasterKey {
        version: 1,
        pubkey: new.public(),
        ecdh_pubkey: new.ecdh_public(),
        envelopes: vec![seal(&gk1)],
    };
    net.report(&mut gk1, fresh).unwrap();
    assert_eq!(PENDING_ROTATION.get(&net.chain.ext()), None);
}

/// A gatekeeper or cluster member that re-attests at a level its role no longer accepts
/// loses the role (and a gatekeeper's going rotates the master key).
#[test]
fn re_attesting_below_a_roles_level_loses_the_role() {
    let mut net = Net::new();
    let mut gk1 = net.worker("//Gk1", 1);
    publish_master(&mut net, &mut gk1);
    let hw = hardware_worker(&mut net, "//Hw2", 2);
    let member = hardware_worker(&mut net, "//Hw3", 3);
    net.root(RuntimeCall::Registry(Call::register_gatekeeper {
        pubkey: hw,
    }))
    .unwrap();
    net.root(RuntimeCall::Contracts(contracts::Call::create_cluster {
        workers: vec![member],
    }))
    .unwrap();
    // Both come back at level 4 (OutOfDate platforms would not register at all).
    let changes = {
        let mut ext = net.chain.ext();
        for pubkey in [hw, member] {
            let mut w = worker(&ext, &pubkey).unwrap();
            w.confidence_level = 4;
            WORKERS.insert(&mut ext, &pubkey, &w);
            trust::recheck_roles::<crate::Wiring>(&mut ext, &w).unwrap();
        }
        ext.into_changes()
    };
    for (key, value) in changes {
        match value {
            Some(value) => net.chain.state.insert(key, value),
            None => net.chain.state.remove(&key),
        };
    }
    let ext = net.chain.ext();
    assert_eq!(GATEKEEPERS.get_or_default(&ext), vec![gk1.pair.public()]);
    assert_eq!(PENDING_ROTATION.get(&ext), Some(1));
    assert!(!WORKER_CLUSTER.contains(&ext, &member));
}
