//! The key-holding half of the core: what a gatekeeper does with the master key, and how a
//! cluster worker receives its cluster key (protocol.md §5).
//!
//! Everything here reacts to proven chain messages, in block order, so every gatekeeper
//! takes the same steps. Hand-overs whose content is determined by the keys (history,
//! cluster keys) are sealed deterministically: every gatekeeper sends the same bytes and the
//! chain keeps the first copy. Only a rotation's new key is random; the chain keeps the
//! first proposal and every gatekeeper adopts that one.

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::{Envelope, Purpose};
use phala_mq::topics::{ClusterEvent, GatekeeperEvent, GatekeeperReport};
use phala_primitives::H256;
use rand_core::CryptoRng;

use crate::keys::WorkerKeys;

/// The master keys a gatekeeper holds, by version. Sealed with the checkpoint; never sent
/// anywhere except sealed to another gatekeeper's ECDH key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct MasterKeys {
    pub versions: BTreeMap<u32, Seed>,
}

impl MasterKeys {
    /// The newest version and its key.
    pub fn current(&self) -> Option<(u32, &Seed)> {
        self.versions.last_key_value().map(|(v, s)| (*v, s))
    }

    /// Whether every version from 0 to the newest is here: only then may this gatekeeper
    /// hand the history on (a partial copy would be the one the chain keeps).
    fn complete(&self) -> bool {
        self.versions
            .keys()
            .enumerate()
            .all(|(i, v)| u32::try_from(i).is_ok_and(|i| i == *v))
    }
}

/// A cluster key this worker holds.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ClusterKey {
    pub cluster: H256,
    pub seed: Seed,
}

/// Master keys `0..=up_to`, as sealed in a hand-over.
type History = Vec<(u32, Seed)>;

fn history_envelope(master: &MasterKeys, recipient: &[u8; 32]) -> Option<(u32, Envelope)> {
    if !master.complete() {
        return None;
    }
    let (up_to, newest) = master.current()?;
    let plaintext = zeroize::Zeroizing::new(
        master
            .versions
            .iter()
            .map(|(v, s)| (*v, s.clone()))
            .collect::<History>()
            .encode(),
    );
    let mut context = b"master-history/".to_vec();
    context.extend_from_slice(&up_to.to_le_bytes());
    newest
        .seal_deterministic(&context, recipient, Purpose::KeyDelivery, &plaintext)
        .ok()
        .map(|e| (up_to, e))
}

/// What handling one event produced.
#[derive(Default)]
pub(crate) struct Effects {
    pub reports: Vec<GatekeeperReport>,
    pub notes: Vec<String>,
}

/// Applies a gatekeeper event to `master` (this worker's keys if it is a gatekeeper).
pub(crate) fn on_gatekeeper_event(
    master: &mut Option<MasterKeys>,
    keys: &WorkerKeys,
    rng: &mut impl CryptoRng,
    event: GatekeeperEvent,
    fx: &mut Effects,
) {
    let me = keys.pubkey();
    match event {
        GatekeeperEvent::Registered {
            pubkey,
            ecdh_pubkey,
            generate_master,
        } => {
            if pubkey == me {
                let held = master.get_or_insert_with(MasterKeys::default);
                fx.notes.push("registered as a gatekeeper".into());
                if generate_master && held.versions.is_empty() {
                    let pair = KeyPair::new(Seed::generate(rng));
                    held.versions.insert(0, pair.seed().clone());
                    fx.notes.push(format!(
                        "generated the master key 0x{}",
                        hex::encode(pair.public())
                    ));
                    fx.reports.push(GatekeeperReport::MasterPubkey {
                        pubkey: pair.public(),
                        ecdh_pubkey: pair.ecdh_public(),
                    });
                }
            } else {
                hand_over(master, pubkey, ecdh_pubkey, fx);
            }
        }
        GatekeeperEvent::HistoryRequested {
            pubkey,
            ecdh_pubkey,
        } => {
            if pubkey != me {
                hand_over(master, pubkey, ecdh_pubkey, fx);
            }
        }
        GatekeeperEvent::HistoryDelivered { to, envelope, .. } => {
            let Some(held) = master.as_mut().filter(|_| to == me) else {
                return;
            };
            match envelope
                .open(keys.ecdh())
                .map_err(|e| e.to_string())
                .and_then(|p| History::decode(&mut p.as_slice()).map_err(|e| e.to_string()))
            {
                Ok(history) => {
                    let n = history.len();
                    for (version, seed) in history {
                        held.versions.entry(version).or_insert(seed);
                    }
                    fx.notes.push(format!(
                        "received {n} master key version(s) from a gatekeeper"
                    ));
                }
                Err(e) => fx
                    .notes
                    .push(format!("a master key hand-over does not open: {e}")),
            }
        }
        GatekeeperEvent::RotationRequested {
            version,
            gatekeepers,
        } => {
            let Some(held) = master.as_ref() else { return };
            let Some((current, _)) = held.current() else {
                return;
            };
            if current.checked_add(1) != Some(version) {
                return;
            }
            let pair = KeyPair::new(Seed::generate(rng));
            let plaintext = zeroize::Zeroizing::new((version, pair.seed().clone()).encode());
            let mut envelopes = Vec::with_capacity(gatekeepers.len());
            for (pubkey, ecdh) in gatekeepers {
                match Envelope::seal(rng, &ecdh, Purpose::KeyDelivery, None, &plaintext) {
                    Ok(e) => envelopes.push((pubkey, e)),
                    Err(e) => {
                        fx.notes.push(format!(
                            "cannot seal the new master key to gatekeeper 0x{}: {e}",
                            hex::encode(pubkey)
                        ));
                        return;
                    }
                }
            }
            fx.reports.push(GatekeeperReport::RotatedMasterKey {
                version,
                pubkey: pair.public(),
                ecdh_pubkey: pair.ecdh_public(),
                envelopes,
            });
        }
        GatekeeperEvent::MasterKeyRotated {
            version,
            pubkey,
            envelopes,
        } => {
            let Some(held) = master.as_mut() else { return };
            let Some((_, envelope)) = envelopes.iter().find(|(to, _)| *to == me) else {
                // Left out (registered during the rotation): the chain asks the others to
                // hand over the history.
                return;
            };
            let opened = envelope
                .open(keys.ecdh())
                .map_err(|e| e.to_string())
                .and_then(|p| <(u32, Seed)>::decode(&mut p.as_slice()).map_err(|e| e.to_string()));
            match opened {
                Ok((v, seed)) if v == version && KeyPair::new(seed.clone()).public() == pubkey => {
                    held.versions.insert(version, seed);
                    fx.notes.push(format!(
                        "master key rotated to version {version} (0x{})",
                        hex::encode(pubkey)
                    ));
                }
                Ok(_) => fx.notes.push(format!(
                    "the rotated master key {version} does not match its public key; ignored"
                )),
                Err(e) => fx
                    .notes
                    .push(format!("the rotated master key does not open: {e}")),
            }
        }
        GatekeeperEvent::ClusterCreated {
            cluster,
            master_version,
            workers,
        } => {
            let Some(parent) = master
                .as_ref()
                .and_then(|m| m.versions.get(&master_version))
            else {
                return;
            };
            let pair = KeyPair::new(parent.cluster_key(&cluster));
            let mut context = b"cluster-key/".to_vec();
            context.extend_from_slice(cluster.as_bytes());
            let mut envelopes = Vec::with_capacity(workers.len());
            for (pubkey, ecdh) in workers {
                match parent.seal_deterministic(
                    &context,
                    &ecdh,
                    Purpose::KeyDelivery,
                    pair.seed().expose(),
                ) {
                    Ok(e) => envelopes.push((pubkey, e)),
                    Err(e) => {
                        fx.notes.push(format!(
                            "cannot seal cluster {cluster}'s key to worker 0x{}: {e}",
                            hex::encode(pubkey)
                        ));
                        return;
                    }
                }
            }
            fx.reports.push(GatekeeperReport::ClusterKey {
                cluster,
                pubkey: pair.public(),
                ecdh_pubkey: pair.ecdh_public(),
                envelopes,
            });
        }
    }
}

fn hand_over(
    master: &Option<MasterKeys>,
    pubkey: [u8; 32],
    ecdh_pubkey: [u8; 32],
    fx: &mut Effects,
) {
    let Some(held) = master.as_ref() else { return };
    if let Some((up_to, envelope)) = history_envelope(held, &ecdh_pubkey) {
        fx.reports.push(GatekeeperReport::MasterKeyHistory {
            to: pubkey,
            up_to,
            envelope,
        });
    }
}

/// Takes this worker's cluster key from a delivery, if one is sealed to it.
pub(crate) fn on_cluster_event(
    cluster_key: &mut Option<ClusterKey>,
    keys: &WorkerKeys,
    event: ClusterEvent,
    fx: &mut Effects,
) {
    let ClusterEvent::Key {
        cluster,
        pubkey,
        envelopes,
        ..
    } = event;
    let me = keys.pubkey();
    let Some((_, envelope)) = envelopes.iter().find(|(to, _)| *to == me) else {
        return;
    };
    let opened = envelope.open(keys.ecdh()).map_err(|e| e.to_string());
    match opened.and_then(|p| {
        <[u8; 32]>::try_from(p.as_slice()).map_err(|_| "not a 32-byte key".to_string())
    }) {
        Ok(bytes) => {
            let seed = Seed::from_bytes(bytes);
            if KeyPair::new(seed.clone()).public() == pubkey {
                *cluster_key = Some(ClusterKey { cluster, seed });
                fx.notes
                    .push(format!("received the key of cluster {cluster}"));
            } else {
                fx.notes.push(format!(
                    "cluster {cluster}'s key does not match its public key; ignored"
                ));
            }
        }
        Err(e) => fx
            .notes
            .push(format!("cluster {cluster}'s key does not open: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(versions: &[u32]) -> MasterKeys {
        MasterKeys {
            versions: versions
                .iter()
                .map(|v| (*v, Seed::from_bytes([*v as u8 + 1; 32])))
                .collect(),
        }
    }

    #[test]
    fn holders_of_the_same_history_seal_identical_hand_overs() {
        let recipient = phala_crypto::EcdhSecret::from_bytes([9; 32]);
        let a = history_envelope(&keys(&[0, 1]), &recipient.public()).unwrap();
        let b = history_envelope(&keys(&[0, 1]), &recipient.public()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0, 1);
        let opened = History::decode(&mut a.1.open(&recipient).unwrap().as_slice()).unwrap();
        assert_eq!(opened.len(), 2);
    }

    #[test]
    fn a_partial_history_is_never_handed_on() {
        let recipient = [9; 32];
        // Received only the rotated key so far: version 0 is still on its way.
        assert!(history_envelope(&keys(&[1]), &recipient).is_none());
        assert!(history_envelope(&keys(&[0, 2]), &recipient).is_none());
        assert!(history_envelope(&keys(&[]), &recipient).is_none());
    }
}
