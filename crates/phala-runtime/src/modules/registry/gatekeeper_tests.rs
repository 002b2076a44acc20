//! Gatekeepers, the master key's public record and cluster keys, driven by signed
//! messages as gatekeeper workers send them.

use parity_scale_codec::{Decode, Encode};
use phala_attestation::simulated::DEV_MEASUREMENT;
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_mq::topics::{
    ClusterEvent, GATEKEEPER_EVENT, GATEKEEPER_REPORT, GatekeeperEvent, GatekeeperReport,
};
use phala_mq::{Message, MessageOrigin, SignedMessage};

use super::gatekeeper::*;
use super::tests::{dev_chain, info, register, simulated};
use super::{Call, Error};
use crate::modules::contracts::{self, CLUSTERS};
use crate::modules::{message_queue, sudo};
use crate::testing::{TestChain, pair};
use crate::{RuntimeCall, RuntimeEvent};

pub(crate) struct Worker {
    pub pair: Sr25519Pair,
    pub ecdh: EcdhSecret,
    pub sequence: u64,
}

pub(crate) struct Net {
    pub chain: TestChain,
    alice_nonce: u32,
    bob_nonce: u32,
}

impl Net {
    pub fn new() -> Self {
        Self::with_chain(dev_chain(true))
    }

    /// A net on `chain`, whose genesis must endow Alice (sudo) and Bob (operator).
    pub fn with_chain(chain: TestChain) -> Self {
        Net {
            chain,
            alice_nonce: 0,
            bob_nonce: 0,
        }
    }

    pub fn worker(&mut self, uri: &str, ecdh: u8) -> Worker {
        self.worker_with(uri, ecdh, DEV_MEASUREMENT)
    }

    /// A worker registered (by Bob) with a simulated quote of `measurement`.
    pub fn worker_with(&mut self, uri: &str, ecdh: u8, measurement: [u8; 32]) -> Worker {
        self.register_worker(uri, ecdh, measurement, "//Bob")
    }

    /// A worker operated by `operator` (registered, and paid for, by Bob).
    pub fn worker_by(&mut self, uri: &str, ecdh: u8, operator: &str) -> Worker {
        self.register_worker(uri, ecdh, DEV_MEASUREMENT, operator)
    }

    fn register_worker(
        &mut self,
        uri: &str,
        ecdh: u8,
        measurement: [u8; 32],
        operator: &str,
    ) -> Worker {
        let pair = pair(uri);
        let ecdh = EcdhSecret::from_bytes([ecdh; 32]);
        let mut i = info(&self.chain, &pair);
        i.ecdh_pubkey = ecdh.public();
        i.operator = Some(crate::testing::account(operator));
        let call = register(i.clone(), simulated(&i, measurement));
        self.bob(call);
        Worker {
            pair,
            ecdh,
            sequence: 0,
        }
    }

    /// The nonce Bob's next transaction takes (and counts it as used).
    pub fn bob_nonce(&mut self) -> u32 {
        self.bob_nonce += 1;
        self.bob_nonce - 1
    }

    pub fn bob(&mut self, call: RuntimeCall) {
        let xt = self.chain.sign(&pair("//Bob"), call, self.bob_nonce);
        self.bob_nonce += 1;
        let (_, outcomes) = self.chain.produce(vec![xt]);
        assert_eq!(outcomes, vec![Ok(true)]);
    }

    /// A root call through sudo; returns its result.
    pub fn root(&mut self, call: RuntimeCall) -> Result<(), crate::dispatch::DispatchError> {
        let call = RuntimeCall::Sudo(sudo::Call::sudo {
            call: Box::new(call),
        });
        let xt = self.chain.sign(&pair("//Alice"), call, self.alice_nonce);
        self.alice_nonce += 1;
        let (_, outcomes) = self.chain.produce(vec![xt]);
        assert_eq!(outcomes, vec![Ok(true)]);
        self.chain
            .events_of(1)
            .into_iter()
            .find_map(|e| match e {
                RuntimeEvent::Sudo(sudo::Event::Sudid { sudo_result }) => Some(sudo_result),
                _ => None,
            })
            .unwrap()
    }

    /// Sends a gatekeeper report from `w`; returns the handler's result.
    pub fn report(
        &mut self,
        w: &mut Worker,
        report: GatekeeperReport,
    ) -> Result<(), crate::dispatch::DispatchError> {
        let (topic, payload) = report.topic_and_payload();
        self.send(w, topic, payload)
    }

    /// Sends a signed message from `w`; returns the handler's result.
    pub fn send(
        &mut self,
        w: &mut Worker,
        topic: &[u8],
        payload: Vec<u8>,
    ) -> Result<(), crate::dispatch::DispatchError> {
        let message = Message::new(MessageOrigin::Worker(w.pair.public()), topic, payload);
        let signed = SignedMessage::sign(&self.chain.ctx.genesis_hash, message, w.sequence, |p| {
            w.pair.sign(p)
        });
        w.sequence += 1;
        self.bob(RuntimeCall::MessageQueue(
            message_queue::Call::sync_offchain_message {
                signed_message: signed,
            },
        ));
        match self.chain.events_of(1).into_iter().find_map(|e| match e {
            RuntimeEvent::MessageQueue(message_queue::Event::DispatchFailed { error, .. }) => {
                Some(error)
            }
            _ => None,
        }) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn gatekeeper_events(&self) -> Vec<GatekeeperEvent> {
        message_queue::OUTBOUND_MESSAGES
            .get_or_default(&self.chain.ext())
            .into_iter()
            .filter(|m| m.destination == GATEKEEPER_EVENT)
            .map(|m| GatekeeperEvent::decode(&mut &m.payload[..]).unwrap())
            .collect()
    }
}

/// Makes `gk` the first gatekeeper and publishes a master key from it; returns the key.
pub(crate) fn publish_master(net: &mut Net, gk: &mut Worker) -> KeyPair {
    net.root(add_gatekeeper(gk)).unwrap();
    let master = KeyPair::new(Seed::from_bytes([0x11; 32]));
    net.report(
        gk,
        GatekeeperReport::MasterPubkey {
            pubkey: master.public(),
            ecdh_pubkey: master.ecdh_public(),
        },
    )
    .unwrap();
    master
}

pub(crate) fn add_gatekeeper(w: &Worker) -> RuntimeCall {
    RuntimeCall::Registry(Call::register_gatekeeper {
        pubkey: w.pair.public(),
    })
}

fn history(master: &[Seed], to: &Worker) -> GatekeeperReport {
    let plaintext = master
        .iter()
        .enumerate()
        .map(|(v, s)| (v as u32, s.clone()))
        .collect::<Vec<_>>()
        .encode();
    let up_to = master.len() as u32 - 1;
    GatekeeperReport::MasterKeyHistory {
        to: to.pair.public(),
        up_to,
        envelope: master
            .last()
            .unwrap()
            .seal_deterministic(
                &up_to.to_le_bytes(),
                &to.ecdh.public(),
                Purpose::KeyDelivery,
                &plaintext,
            )
            .unwrap(),
    }
}

#[test]
fn the_master_key_is_published_handed_over_and_rotated() {
    let mut net = Net::new();
    let mut a = net.worker("//Gk1", 1);
    let mut b = net.worker("//Gk2", 2);
    let plain = net.worker("//Plain", 3);

    // Root only, registered workers only, once each.
    let xt = net
        .chain
        .sign(&pair("//Bob"), add_gatekeeper(&a), net.bob_nonce);
    net.bob_nonce += 1;
    net.chain.produce(vec![xt]);
    assert!(net.chain.failure(1).is_some());
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::register_gatekeeper {
            pubkey: [9; 32]
        })),
        Err(Error::WorkerNotFound.into())
    );
    assert_eq!(net.root(add_gatekeeper(&a)), Ok(()));
    assert_eq!(
        net.gatekeeper_events(),
        vec![GatekeeperEvent::Registered {
            pubkey: a.pair.public(),
            ecdh_pubkey: a.ecdh.public(),
            generate_master: true,
        }]
    );
    assert_eq!(
        net.root(add_gatekeeper(&a)),
        Err(Error::AlreadyGatekeeper.into())
    );
    // No rotation and no cluster before the first key exists.
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::rotate_master_key)),
        Err(Error::NoMasterKey.into())
    );

    // The first gatekeeper publishes; a worker that is not a gatekeeper cannot.
    let master0 = KeyPair::new(Seed::from_bytes([0x11; 32]));
    let publish = |k: &KeyPair| GatekeeperReport::MasterPubkey {
        pubkey: k.public(),
        ecdh_pubkey: k.ecdh_public(),
    };
    let mut plain = plain;
    assert_eq!(
        net.report(&mut plain, publish(&master0)),
        Err(Error::NotGatekeeper.into())
    );
    assert_eq!(net.report(&mut a, publish(&master0)), Ok(()));
    assert_eq!(
        GATEKEEPER_MASTER_PUBKEY.get(&net.chain.ext()),
        Some(master0.public())
    );
    assert_eq!(
        net.report(&mut a, publish(&KeyPair::new(Seed::from_bytes([2; 32])))),
        Err(Error::MasterKeyAlreadyPublished.into())
    );

    // The second gatekeeper does not make a key; the first hands it the history, once.
    assert_eq!(net.root(add_gatekeeper(&b)), Ok(()));
    assert!(matches!(
        net.gatekeeper_events()[..],
        [GatekeeperEvent::Registered {
            generate_master: false,
            ..
        }]
    ));
    let seeds = vec![master0.seed().clone()];
    assert_eq!(net.report(&mut a, history(&seeds, &b)), Ok(()));
    let GatekeeperEvent::HistoryDelivered { to, envelope, .. } = &net.gatekeeper_events()[0] else {
        panic!("no delivery relayed")
    };
    assert_eq!(*to, b.pair.public());
    let opened: Vec<(u32, Seed)> =
        Decode::decode(&mut &envelope.open(&b.ecdh).unwrap()[..]).unwrap();
    assert_eq!(opened, vec![(0, master0.seed().clone())]);
    assert!(envelope.open(&plain.ecdh).is_err());
    // The second copy (from the new gatekeeper itself, or another) is refused harmlessly.
    let again = history(&seeds, &b);
    assert_eq!(
        net.report(&mut b, again),
        Err(Error::AlreadyDelivered.into())
    );
    // A hand-over sealed to the wrong key is refused.
    let mut wrong = history(&seeds, &b);
    if let GatekeeperReport::MasterKeyHistory { envelope, .. } = &mut wrong {
        envelope.header.recipient = plain.ecdh.public();
    }
    assert_eq!(net.report(&mut a, wrong), Err(Error::BadDelivery.into()));

    // Rotation: the first proposal wins, the history is kept on chain.
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::rotate_master_key)),
        Ok(())
    );
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::rotate_master_key)),
        Err(Error::RotationPending.into())
    );
    // A stuck rotation can be given up and asked for again.
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::cancel_master_key_rotation)),
        Ok(())
    );
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::cancel_master_key_rotation)),
        Err(Error::RotationNotPending.into())
    );
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::rotate_master_key)),
        Ok(())
    );
    let propose = |k: &KeyPair, to: &[&Worker]| GatekeeperReport::RotatedMasterKey {
        version: 1,
        pubkey: k.public(),
        ecdh_pubkey: k.ecdh_public(),
        envelopes: to
            .iter()
            .map(|w| {
                let env = Envelope::seal(
                    &mut commonware_utils::test_rng(),
                    &w.ecdh.public(),
                    Purpose::KeyDelivery,
                    None,
                    &(1u32, k.seed().clone()).encode(),
                )
                .unwrap();
                (w.pair.public(), env)
            })
            .collect(),
    };
    let master1 = KeyPair::new(Seed::from_bytes([0x22; 32]));
    let losing = KeyPair::new(Seed::from_bytes([0x33; 32]));
    // Every gatekeeper's copy must include the proposer.
    assert_eq!(
        net.report(&mut b, propose(&master1, &[&a])),
        Err(Error::BadDelivery.into())
    );
    let winner = propose(&master1, &[&a, &b]);
    let loser = propose(&losing, &[&a, &b]);
    assert_eq!(net.report(&mut b, winner), Ok(()));
    assert_eq!(
        net.report(&mut a, loser),
        Err(Error::RotationNotPending.into())
    );
    assert_eq!(
        GATEKEEPER_MASTER_PUBKEY.get(&net.chain.ext()),
        Some(master1.public())
    );
    let history = MASTER_PUBKEY_HISTORY.get_or_default(&net.chain.ext());
    assert_eq!(
        history
            .iter()
            .map(|r| (r.version, r.pubkey))
            .collect::<Vec<_>>(),
        vec![(0, master0.public()), (1, master1.public())]
    );
}

#[test]
fn a_gatekeeper_missed_by_a_rotation_is_handed_the_history() {
    let mut net = Net::new();
    let mut a = net.worker("//Gk1", 1);
    let b = net.worker("//Gk2", 2);
    net.root(add_gatekeeper(&a)).unwrap();
    let master0 = KeyPair::new(Seed::from_bytes([0x11; 32]));
    net.report(
        &mut a,
        GatekeeperReport::MasterPubkey {
            pubkey: master0.public(),
            ecdh_pubkey: master0.ecdh_public(),
        },
    )
    .unwrap();
    net.root(RuntimeCall::Registry(Call::rotate_master_key))
        .unwrap();
    // B joins while the rotation is pending: the proposal (sealed to A only) leaves it out.
    net.root(add_gatekeeper(&b)).unwrap();
    let master1 = KeyPair::new(Seed::from_bytes([0x22; 32]));
    let env = Envelope::seal(
        &mut commonware_utils::test_rng(),
        &a.ecdh.public(),
        Purpose::KeyDelivery,
        None,
        &(1u32, master1.seed().clone()).encode(),
    )
    .unwrap();
    let proposal = GatekeeperReport::RotatedMasterKey {
        version: 1,
        pubkey: master1.public(),
        ecdh_pubkey: master1.ecdh_public(),
        envelopes: vec![(a.pair.public(), env)],
    };
    net.report(&mut a, proposal).unwrap();
    let events = net.gatekeeper_events();
    assert!(matches!(
        events[0],
        GatekeeperEvent::MasterKeyRotated { version: 1, .. }
    ));
    assert_eq!(
        events[1],
        GatekeeperEvent::HistoryRequested {
            pubkey: b.pair.public(),
            ecdh_pubkey: b.ecdh.public(),
        }
    );
}

#[test]
fn a_cluster_key_reaches_its_workers_only() {
    let mut net = Net::new();
    let mut gk = net.worker("//Gk1", 1);
    let w1 = net.worker("//W1", 2);
    let w2 = net.worker("//W2", 3);
    let outsider = net.worker("//W3", 4);
    let create = |ws: &[&Worker]| {
        RuntimeCall::Contracts(contracts::Call::create_cluster {
            workers: ws.iter().map(|w| w.pair.public()).collect(),
        })
    };
    assert_eq!(
        net.root(create(&[&w1, &w2])),
        Err(contracts::Error::NoMasterKey.into())
    );
    let master = publish_master(&mut net, &mut gk);
    assert_eq!(
        net.root(create(&[&w1, &w1])),
        Err(contracts::Error::DuplicateWorker.into())
    );
    assert_eq!(
        net.root(create(&[])),
        Err(contracts::Error::NoWorkers.into())
    );
    assert_eq!(net.root(create(&[&w1, &w2])), Ok(()));
    let events = net.gatekeeper_events();
    let [
        GatekeeperEvent::ClusterCreated {
            cluster,
            master_version: 0,
            workers,
        },
    ] = &events[..]
    else {
        panic!("no cluster event")
    };
    // Failed creations use no id: this is cluster 0.
    assert_eq!(*cluster, contracts::cluster_id(0));
    assert_eq!(workers.len(), 2);
    assert_eq!(
        net.root(create(&[&w2])),
        Err(contracts::Error::WorkerInCluster.into())
    );

    let cluster_key = KeyPair::new(master.seed().cluster_key(cluster));
    let deliver = |to: &[&Worker]| {
        GatekeeperReport::ClusterKey(phala_mq::topics::ClusterKeyReport {
            cluster: *cluster,
            pubkey: cluster_key.public(),
            ecdh_pubkey: cluster_key.ecdh_public(),
            envelopes: to
                .iter()
                .map(|w| {
                    let env = master
                        .seed()
                        .seal_deterministic(
                            cluster.as_bytes(),
                            &w.ecdh.public(),
                            Purpose::KeyDelivery,
                            cluster_key.seed().expose(),
                        )
                        .unwrap();
                    (w.pair.public(), env)
                })
                .collect(),
        })
    };
    // Missing a member, or including an outsider: refused.
    assert_eq!(
        net.report(&mut gk, deliver(&[&w1])),
        Err(crate::modules::registry::Error::BadDelivery.into())
    );
    assert_eq!(
        net.report(&mut gk, deliver(&[&w1, &outsider])),
        Err(crate::modules::registry::Error::BadDelivery.into())
    );
    assert_eq!(net.report(&mut gk, deliver(&[&w2, &w1])), Ok(()));
    let info = CLUSTERS.get(&net.chain.ext(), cluster).unwrap();
    assert_eq!(info.pubkey, Some(cluster_key.public()));
    let out = message_queue::OUTBOUND_MESSAGES.get_or_default(&net.chain.ext());
    let ClusterEvent::Key { envelopes, .. } =
        ClusterEvent::decode(&mut &out[0].payload[..]).unwrap()
    else {
        panic!("not a cluster key")
    };
    for (who, env) in &envelopes {
        let w = if *who == w1.pair.public() { &w1 } else { &w2 };
        assert_eq!(
            env.open(&w.ecdh).unwrap().as_slice(),
            cluster_key.seed().expose()
        );
        assert!(env.open(&outsider.ecdh).is_err());
    }
    assert_eq!(
        net.report(&mut gk, deliver(&[&w1, &w2])),
        Err(contracts::Error::ClusterKeyAlreadySet.into())
    );
    // Sent as a gatekeeper report, as before cluster keys had their own topic (a message
    // signed then may still be queued): the same handler takes it.
    assert_eq!(
        net.send(&mut gk, GATEKEEPER_REPORT, deliver(&[&w1, &w2]).encode()),
        Err(contracts::Error::ClusterKeyAlreadySet.into())
    );
}

#[test]
fn removed_gatekeepers_leave_rotations_and_a_removed_generator_is_replaced() {
    let mut net = Net::new();
    let mut a = net.worker("//Gk1", 1);
    let mut b = net.worker("//Gk2", 2);
    net.root(add_gatekeeper(&a)).unwrap();
    net.root(add_gatekeeper(&b)).unwrap();
    // The generator goes before publishing: the next gatekeeper is asked instead, and only
    // it may publish.
    net.root(RuntimeCall::Registry(Call::remove_gatekeeper {
        pubkey: a.pair.public(),
    }))
    .unwrap();
    assert_eq!(
        net.gatekeeper_events(),
        vec![GatekeeperEvent::Registered {
            pubkey: b.pair.public(),
            ecdh_pubkey: b.ecdh.public(),
            generate_master: true,
        }]
    );
    let master = KeyPair::new(Seed::from_bytes([0x11; 32]));
    let publish = GatekeeperReport::MasterPubkey {
        pubkey: master.public(),
        ecdh_pubkey: master.ecdh_public(),
    };
    assert_eq!(
        net.report(&mut a, publish.clone()),
        Err(Error::NotGatekeeper.into())
    );
    assert_eq!(net.report(&mut b, publish), Ok(()));
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::remove_gatekeeper {
            pubkey: a.pair.public()
        })),
        Err(Error::NotGatekeeper.into())
    );

    // Removing a gatekeeper during a rotation restarts it: a proposal still sealed to the
    // removed one is refused (that copy is public in its extrinsic), a new one is taken.
    net.root(add_gatekeeper(&a)).unwrap();
    net.root(RuntimeCall::Registry(Call::rotate_master_key))
        .unwrap();
    net.root(RuntimeCall::Registry(Call::remove_gatekeeper {
        pubkey: a.pair.public(),
    }))
    .unwrap();
    assert!(net.chain.events_of(1).contains(&RuntimeEvent::Registry(
        super::Event::MasterKeyRotationRequested { version: 1 }
    )));
    let next = KeyPair::new(Seed::from_bytes([0x22; 32]));
    let seal = |w: &Worker| {
        let env = Envelope::seal(
            &mut commonware_utils::test_rng(),
            &w.ecdh.public(),
            Purpose::KeyDelivery,
            None,
            &(1u32, next.seed().clone()).encode(),
        )
        .unwrap();
        (w.pair.public(), env)
    };
    let proposal = |to: Vec<&Worker>| GatekeeperReport::RotatedMasterKey {
        version: 1,
        pubkey: next.public(),
        ecdh_pubkey: next.ecdh_public(),
        envelopes: to.into_iter().map(seal).collect(),
    };
    let stale = proposal(vec![&a, &b]);
    let fresh = proposal(vec![&b]);
    assert_eq!(net.report(&mut b, stale), Err(Error::BadDelivery.into()));
    assert_eq!(net.report(&mut b, fresh), Ok(()));
    let [GatekeeperEvent::MasterKeyRotated { envelopes, .. }] = &net.gatekeeper_events()[..] else {
        panic!("no rotation relayed")
    };
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0].0, b.pair.public());

    // A gatekeeper missing keys asks again; the chain forgets what it relayed to it.
    assert_eq!(net.report(&mut b, GatekeeperReport::NeedHistory), Ok(()));
    assert_eq!(
        net.gatekeeper_events(),
        vec![GatekeeperEvent::HistoryRequested {
            pubkey: b.pair.public(),
            ecdh_pubkey: b.ecdh.public(),
        }]
    );

    // With the last gatekeeper gone, nobody could carry out a rotation: refused up front
    // (`phala gatekeeper rotate` used to report success and wait forever).
    net.root(RuntimeCall::Registry(Call::remove_gatekeeper {
        pubkey: b.pair.public(),
    }))
    .unwrap();
    assert_eq!(
        net.root(RuntimeCall::Registry(Call::rotate_master_key)),
        Err(Error::NoGatekeepers.into())
    );
}

#[test]
fn only_the_listed_operator_itself_makes_a_worker_a_gatekeeper_on_a_dev_chain() {
    let mut net = Net::new();
    net.chain.state.insert(
        AUTO_GATEKEEPER_OPERATORS.key(),
        vec![crate::testing::account("//Bob")].encode(),
    );
    // Registered by Bob, operated by Bob: a gatekeeper at once.
    let w = net.worker("//Gk1", 1);
    assert!(is_gatekeeper(&net.chain.ext(), &w.pair.public()));
    // Claiming Bob as operator but submitted by Alice: an ordinary worker.
    let gk2 = pair("//Gk2");
    let mut i = info(&net.chain, &gk2);
    i.ecdh_pubkey = [2; 32];
    let xt = net.chain.sign(
        &pair("//Alice"),
        register(i.clone(), simulated(&i, DEV_MEASUREMENT)),
        net.alice_nonce,
    );
    net.alice_nonce += 1;
    net.chain.produce(vec![xt]);
    assert!(crate::modules::registry::WORKERS.contains(&net.chain.ext(), &gk2.public()));
    assert!(!is_gatekeeper(&net.chain.ext(), &gk2.public()));
}
