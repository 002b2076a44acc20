//! The key-holding half of the core: what a gatekeeper does with the master key, and how a
//! cluster worker receives its cluster key (docs/protocol.md, *Key hierarchy*).
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
use phala_mq::topics::{ClusterEvent, ClusterKeyReport, GatekeeperEvent, GatekeeperReport};
use phala_primitives::{BlockNumber, H256};
use phala_runtime::modules::registry::gatekeeper::MasterPubkeyRecord;
use rand_core::CryptoRng;

use crate::keys::WorkerKeys;

/// Blocks a gatekeeper waits, missing master keys, before asking for the history itself
/// (hand-overs it is owed normally arrive within a few blocks).
const HISTORY_GRACE: BlockNumber = 20;
/// Blocks between two such requests.
const HISTORY_RETRY: BlockNumber = 30;

/// The master keys a gatekeeper holds, by version. Sealed with the checkpoint; never sent
/// anywhere except sealed to another gatekeeper's ECDH key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct MasterKeys {
    pub versions: BTreeMap<u32, Seed>,
    /// The public keys of `versions` (sr25519, x25519), computed once.
    publics: BTreeMap<u32, ([u8; 32], [u8; 32])>,
    /// Since when keys the chain has on record are missing here.
    missing_since: Option<BlockNumber>,
    /// When this gatekeeper last asked for the history.
    requested_at: Option<BlockNumber>,
}

impl MasterKeys {
    /// Takes `seed` as `version` unless the chain's record says otherwise.
    fn accept(&mut self, version: u32, seed: Seed, record: &[MasterPubkeyRecord]) -> bool {
        let pair = KeyPair::new(seed);
        let public = (pair.public(), pair.ecdh_public());
        if record
            .iter()
            .find(|r| r.version == version)
            .is_some_and(|r| (r.pubkey, r.ecdh_pubkey) != public)
        {
            return false;
        }
        self.versions.insert(version, pair.seed().clone());
        self.publics.insert(version, public);
        true
    }

    /// The newest version and its key.
    pub fn current(&self) -> Option<(u32, &Seed)> {
        self.versions.last_key_value().map(|(v, s)| (*v, s))
    }

    /// The newest version and its sr25519 public key, from the cache when it is there.
    pub fn current_public(&self) -> Option<(u32, [u8; 32])> {
        let (version, seed) = self.current()?;
        let public = match self.publics.get(&version) {
            Some((public, _)) => *public,
            None => KeyPair::new(seed.clone()).public(),
        };
        Some((version, public))
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
    /// How many workers the cluster has had at most: among them a site's daily privacy
    /// budget is shared (one that left may have spent its share already).
    pub members: u32,
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

/// Applies a gatekeeper event to `master` (this worker's keys if it is a gatekeeper);
/// `record` is the chain's public master key history at the event's block.
pub(crate) fn on_gatekeeper_event(
    master: &mut Option<MasterKeys>,
    keys: &WorkerKeys,
    rng: &mut impl CryptoRng,
    event: GatekeeperEvent,
    record: &[MasterPubkeyRecord],
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
                // Only while the chain has no master key: a gatekeeper replaying its
                // registration (its checkpoint lost) must not make a second key 0.
                if generate_master && held.versions.is_empty() && record.is_empty() {
                    let pair = KeyPair::new(Seed::generate(rng));
                    held.accept(0, pair.seed().clone(), record);
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
        GatekeeperEvent::HistoryDelivered {
            to,
            up_to,
            envelope,
        } => {
            let Some(held) = master.as_mut().filter(|_| to == me) else {
                return;
            };
            match envelope
                .open(keys.ecdh())
                .map_err(|e| e.to_string())
                .and_then(|p| History::decode(&mut p.as_slice()).map_err(|e| e.to_string()))
                .and_then(|history| check_history(history, up_to, record))
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
                    .push(format!("a master key hand-over refused: {e}")),
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
                // One unusable key must not stop the rotation: that gatekeeper is left out
                // and asks for the history later.
                match Envelope::seal(rng, &ecdh, Purpose::KeyDelivery, None, &plaintext) {
                    Ok(e) => envelopes.push((pubkey, e)),
                    Err(e) => fx.notes.push(format!(
                        "cannot seal the new master key to gatekeeper 0x{}: {e}",
                        hex::encode(pubkey)
                    )),
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
                Ok((v, seed))
                    if v == version
                        && KeyPair::new(seed.clone()).public() == pubkey
                        && held.accept(version, seed.clone(), record) =>
                {
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
        } => seal_cluster_key(master.as_ref(), cluster, master_version, &workers, fx),
        GatekeeperEvent::ClusterMemberAdded {
            cluster,
            master_version,
            worker,
        } => seal_cluster_key(master.as_ref(), cluster, master_version, &[worker], fx),
    }
}

/// Derives `cluster`'s key from master key `master_version` and reports it sealed to
/// `workers`. Sealing is deterministic, so every gatekeeper's copy is byte-identical.
fn seal_cluster_key(
    master: Option<&MasterKeys>,
    cluster: H256,
    master_version: u32,
    workers: &[phala_mq::topics::WorkerKeys],
    fx: &mut Effects,
) {
    let Some(parent) = master.and_then(|m| m.versions.get(&master_version)) else {
        return;
    };
    let pair = KeyPair::new(parent.cluster_key(&cluster));
    let mut context = b"cluster-key/".to_vec();
    context.extend_from_slice(cluster.as_bytes());
    let mut envelopes = Vec::with_capacity(workers.len());
    for (pubkey, ecdh) in workers {
        match parent.seal_deterministic(&context, ecdh, Purpose::KeyDelivery, pair.seed().expose())
        {
            Ok(e) => envelopes.push((*pubkey, e)),
            Err(e) => {
                fx.notes.push(format!(
                    "cannot seal cluster {cluster}'s key to worker 0x{}: {e}",
                    hex::encode(pubkey)
                ));
                return;
            }
        }
    }
    fx.reports
        .push(GatekeeperReport::ClusterKey(ClusterKeyReport {
            cluster,
            pubkey: pair.public(),
            ecdh_pubkey: pair.ecdh_public(),
            envelopes,
        }));
}

/// A delivered history is taken only if it is exactly the chain's public record of versions
/// `0..=up_to`: each key must match its recorded public keys. Anyone who can get a message
/// relayed could otherwise plant master keys of their own making.
fn check_history(
    history: History,
    up_to: u32,
    record: &[MasterPubkeyRecord],
) -> Result<History, String> {
    let complete = history.len()
        == usize::try_from(up_to)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
        && history
            .iter()
            .enumerate()
            .all(|(i, (v, _))| u32::try_from(i).is_ok_and(|i| i == *v));
    if !complete {
        return Err(format!("it is not the whole history 0..={up_to}"));
    }
    for (version, seed) in &history {
        let pair = KeyPair::new(seed.clone());
        let on_record = record.iter().find(|r| r.version == *version);
        if on_record
            .is_none_or(|r| (r.pubkey, r.ecdh_pubkey) != (pair.public(), pair.ecdh_public()))
        {
            return Err(format!(
                "master key version {version} does not match the chain's record"
            ));
        }
    }
    Ok(history)
}

/// Which key reports held back while replaying stale blocks are still wanted at a fresh
/// block: a first master key only while the chain has none, a rotation proposal only for a
/// version the chain has not settled, a hand-over only to a current gatekeeper. Cluster
/// keys are deterministic (the chain keeps the first copy); requests for the history are
/// made again by [`reconcile`] from fresh blocks.
pub(crate) fn still_wanted(
    held: Vec<GatekeeperReport>,
    record: &[MasterPubkeyRecord],
    gatekeepers: &[[u8; 32]],
) -> Vec<GatekeeperReport> {
    held.into_iter()
        .filter(|report| match report {
            GatekeeperReport::MasterPubkey { .. } => record.is_empty(),
            GatekeeperReport::RotatedMasterKey { version, .. } => {
                !record.iter().any(|r| r.version == *version)
            }
            GatekeeperReport::MasterKeyHistory { to, .. } => gatekeepers.contains(to),
            GatekeeperReport::ClusterKey(_) => true,
            GatekeeperReport::NeedHistory => false,
        })
        .collect()
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

/// After each block: a worker that is not (or no longer) a gatekeeper holds no master key;
/// a gatekeeper drops keys that do not match the chain's public record (a key made twice
/// after a lost checkpoint, say) and, missing keys the chain has on record for a while,
/// asks for the history.
pub(crate) fn reconcile(
    master: &mut Option<MasterKeys>,
    is_gatekeeper: bool,
    record: &[MasterPubkeyRecord],
    now: BlockNumber,
    fx: &mut Effects,
) {
    if !is_gatekeeper {
        if master.take().is_some_and(|m| !m.versions.is_empty()) {
            fx.notes
                .push("no longer a gatekeeper: master keys erased".into());
        }
        return;
    }
    let held = master.get_or_insert_with(MasterKeys::default);
    // Public keys once per version, not per block: deriving them costs more than a block.
    let MasterKeys {
        versions, publics, ..
    } = &mut *held;
    publics.retain(|v, _| versions.contains_key(v));
    for (v, seed) in versions.iter() {
        publics.entry(*v).or_insert_with(|| {
            let pair = KeyPair::new(seed.clone());
            (pair.public(), pair.ecdh_public())
        });
    }
    let newest_on_record = record.last().map(|r| r.version);
    let wrong: Vec<u32> = held
        .versions
        .keys()
        .copied()
        .filter(|v| match record.iter().find(|r| r.version == *v) {
            Some(r) => held.publics.get(v) != Some(&(r.pubkey, r.ecdh_pubkey)),
            // Not on record yet: only a key newer than every recorded one (made here,
            // not yet published) may wait.
            None => newest_on_record.is_some_and(|n| *v <= n),
        })
        .collect();
    for v in wrong {
        held.versions.remove(&v);
        held.publics.remove(&v);
        fx.notes.push(format!(
            "dropped master key version {v}: it does not match the chain's record"
        ));
    }
    if record
        .iter()
        .all(|r| held.versions.contains_key(&r.version))
    {
        held.missing_since = None;
        return;
    }
    let since = *held.missing_since.get_or_insert(now);
    let asked_recently = held
        .requested_at
        .is_some_and(|at| now.saturating_sub(at) < HISTORY_RETRY);
    if now.saturating_sub(since) >= HISTORY_GRACE && !asked_recently {
        held.requested_at = Some(now);
        fx.notes
            .push("missing master keys the chain has on record: asking for the history".into());
        fx.reports.push(GatekeeperReport::NeedHistory);
    }
}

/// How this worker took a cluster key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyTaken {
    /// As a member of a new cluster: its state starts empty.
    Created,
    /// As a worker added to a cluster that exists ([`ClusterEvent::MemberKey`]): it needs a
    /// member's state before it runs the cluster's commands.
    Joined,
    /// Given up: this worker left its cluster ([`ClusterEvent::MemberLeft`]).
    Left,
}

/// Takes this worker's cluster key from a delivery, if one is sealed to it, or gives it up
/// when this worker leaves its cluster.
pub(crate) fn on_cluster_event(
    cluster_key: &mut Option<ClusterKey>,
    keys: &WorkerKeys,
    event: ClusterEvent,
    fx: &mut Effects,
) -> Option<KeyTaken> {
    let (cluster, pubkey, ecdh_pubkey, envelopes, members, joined) = match event {
        ClusterEvent::Key {
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
        } => {
            let members = u32::try_from(envelopes.len()).unwrap_or(u32::MAX);
            (
                cluster,
                pubkey,
                ecdh_pubkey,
                envelopes,
                members,
                KeyTaken::Created,
            )
        }
        ClusterEvent::MemberKey {
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
            members,
        } => (
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
            members,
            KeyTaken::Joined,
        ),
        ClusterEvent::MemberLeft { cluster, worker } => {
            if worker != keys.pubkey() || cluster_key.as_ref().is_none_or(|k| k.cluster != cluster)
            {
                return None;
            }
            *cluster_key = None;
            fx.notes.push(format!(
                "left cluster {cluster}: its key and this worker's copy of its state are erased"
            ));
            return Some(KeyTaken::Left);
        }
    };
    let me = keys.pubkey();
    let Some((_, envelope)) = envelopes.iter().find(|(to, _)| *to == me) else {
        // A member of the cluster: a new one shares the daily privacy budgets from now on.
        if let Some(held) = cluster_key.as_mut()
            && held.cluster == cluster
        {
            held.members = held.members.max(members);
        }
        return None;
    };
    let opened = envelope.open(keys.ecdh()).map_err(|e| e.to_string());
    match opened.and_then(|p| {
        <[u8; 32]>::try_from(p.as_slice()).map_err(|_| "not a 32-byte key".to_string())
    }) {
        Ok(bytes) => {
            let pair = KeyPair::new(Seed::from_bytes(bytes));
            let seed = pair.seed().clone();
            if pair.public() == pubkey && pair.ecdh_public() == ecdh_pubkey {
                *cluster_key = Some(ClusterKey {
                    cluster,
                    seed,
                    members,
                });
                fx.notes
                    .push(format!("received the key of cluster {cluster}"));
                return Some(joined);
            }
            fx.notes.push(format!(
                "cluster {cluster}'s key does not match its public key; ignored"
            ));
        }
        Err(e) => fx
            .notes
            .push(format!("cluster {cluster}'s key does not open: {e}")),
    }
    None
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
            ..Default::default()
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

    fn record_of(keys: &MasterKeys) -> Vec<MasterPubkeyRecord> {
        keys.versions
            .iter()
            .map(|(v, seed)| {
                let pair = KeyPair::new(seed.clone());
                MasterPubkeyRecord {
                    version: *v,
                    pubkey: pair.public(),
                    ecdh_pubkey: pair.ecdh_public(),
                    ..Default::default()
                }
            })
            .collect()
    }

    #[test]
    fn a_delivered_history_must_match_the_chains_record() {
        let real = keys(&[0, 1]);
        let record = record_of(&real);
        let history = |k: &MasterKeys| -> History {
            k.versions.iter().map(|(v, s)| (*v, s.clone())).collect()
        };
        assert!(check_history(history(&real), 1, &record).is_ok());
        // Keys of someone's own making, a partial history, or a wrong `up_to`: refused.
        let mut planted = keys(&[0, 1]);
        planted.versions.insert(1, Seed::from_bytes([0xee; 32]));
        let err = check_history(history(&planted), 1, &record).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        assert!(check_history(history(&keys(&[0])), 1, &record).is_err());
        assert!(check_history(history(&real), 0, &record).is_err());
        // A version the chain has no record of yet.
        assert!(check_history(history(&keys(&[0, 1, 2])), 2, &record).is_err());
    }

    #[test]
    fn held_key_reports_are_sent_only_if_still_wanted() {
        let record = record_of(&keys(&[0, 1]));
        let envelope = || {
            Envelope::seal(
                &mut commonware_utils::test_rng(),
                &[9; 32],
                Purpose::KeyDelivery,
                None,
                b"k",
            )
            .unwrap()
        };
        let held = vec![
            GatekeeperReport::MasterPubkey {
                pubkey: [1; 32],
                ecdh_pubkey: [2; 32],
            },
            GatekeeperReport::RotatedMasterKey {
                version: 1,
                pubkey: [1; 32],
                ecdh_pubkey: [2; 32],
                envelopes: vec![],
            },
            GatekeeperReport::RotatedMasterKey {
                version: 2,
                pubkey: [1; 32],
                ecdh_pubkey: [2; 32],
                envelopes: vec![],
            },
            GatekeeperReport::MasterKeyHistory {
                to: [5; 32],
                up_to: 1,
                envelope: envelope(),
            },
            GatekeeperReport::MasterKeyHistory {
                to: [6; 32],
                up_to: 1,
                envelope: envelope(),
            },
            GatekeeperReport::NeedHistory,
        ];
        let wanted = still_wanted(held, &record, &[[6; 32]]);
        assert_eq!(wanted.len(), 2, "{wanted:?}");
        assert!(matches!(
            wanted[0],
            GatekeeperReport::RotatedMasterKey { version: 2, .. }
        ));
        assert!(matches!(
            wanted[1],
            GatekeeperReport::MasterKeyHistory { to, .. } if to == [6; 32]
        ));
    }
}
