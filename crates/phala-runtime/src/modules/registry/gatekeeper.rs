//! Gatekeepers and the master key's public record.
//!
//! The chain never sees a secret key: it records who the gatekeepers are, the master key's
//! public keys (current and past), and relays the sealed hand-overs gatekeepers send each
//! other. Gatekeepers each send their own copy of every hand-over; the chain keeps the first
//! and refuses the rest, so a duplicate costs its sender a fee and changes nothing.
//! A gatekeeper whose keys do not match this public record asks for the history again
//! (`NeedHistory`), so none stays without keys.

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_mq::topics::{self, Delivery, GatekeeperEvent, GatekeeperReport};
use phala_primitives::storage::Hasher;
use phala_primitives::{AccountId32, BlockNumber};
use scale_info::TypeInfo;

use super::{Error, Event, MODULE, WORKERS};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{message_queue, system};
use crate::storage::{Query, StorageMap, StorageValue};

/// Most gatekeepers: bounds every list the chain sends them.
pub const MAX_GATEKEEPERS: usize = 64;
/// Most sealed copies in one report (gatekeepers, or a cluster's workers).
pub const MAX_DELIVERIES: usize = 64;

/// One master key, publicly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct MasterPubkeyRecord {
    pub version: u32,
    /// sr25519: the key's public identity (no message is signed with it).
    pub pubkey: [u8; 32],
    /// x25519.
    pub ecdh_pubkey: [u8; 32],
    /// The block it took effect at.
    pub since: BlockNumber,
}

pub const AUTO_GATEKEEPER_OPERATORS: StorageValue<Vec<AccountId32>> = StorageValue::new(
    MODULE,
    "AutoGatekeeperOperators",
    Query::Default,
    &[
        " Development chains: workers these accounts operate become gatekeepers when they",
        " first register (set at genesis; empty on live chains).",
    ],
);
pub const GATEKEEPERS: StorageValue<Vec<[u8; 32]>> = StorageValue::new(
    MODULE,
    "Gatekeepers",
    Query::Default,
    &[" Registered gatekeepers' worker identity keys, in registration order."],
);
pub const GATEKEEPER_MASTER_PUBKEY: StorageValue<[u8; 32]> = StorageValue::new(
    MODULE,
    "GatekeeperMasterPubkey",
    Query::Optional,
    &[" The current master key's sr25519 public key, once the first gatekeeper made it."],
);
pub const MASTER_PUBKEY_HISTORY: StorageValue<Vec<MasterPubkeyRecord>> = StorageValue::new(
    MODULE,
    "MasterPubkeyHistory",
    Query::Default,
    &[" Every master key's public keys, oldest first; the last is current."],
);
pub const PENDING_ROTATION: StorageValue<u32> = StorageValue::new(
    MODULE,
    "PendingRotation",
    Query::Optional,
    &[" The master key version a requested rotation will produce, until a gatekeeper does."],
);
pub const MASTER_GENERATOR: StorageValue<[u8; 32]> = StorageValue::new(
    MODULE,
    "MasterKeyGenerator",
    Query::Optional,
    &[" The gatekeeper asked to make the first master key, until it publishes it."],
);
pub const HISTORY_DELIVERED: StorageMap<[u8; 32], u32> = StorageMap::new(
    MODULE,
    "MasterKeyHistoryDelivered",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The newest master key version each gatekeeper was handed, as relayed by the chain."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        AUTO_GATEKEEPER_OPERATORS.metadata(),
        GATEKEEPERS.metadata(),
        GATEKEEPER_MASTER_PUBKEY.metadata(),
        MASTER_PUBKEY_HISTORY.metadata(),
        PENDING_ROTATION.metadata(),
        MASTER_GENERATOR.metadata(),
        HISTORY_DELIVERED.metadata(),
    ]
}

pub fn is_gatekeeper(ext: &Ext, pubkey: &[u8; 32]) -> bool {
    GATEKEEPERS.get_or_default(ext).contains(pubkey)
}

/// The current master key version, once there is one.
pub fn master_version(ext: &Ext) -> Option<u32> {
    MASTER_PUBKEY_HISTORY
        .get_or_default(ext)
        .last()
        .map(|r| r.version)
}

fn tell(ext: &mut Ext, event: GatekeeperEvent) -> DispatchResult {
    message_queue::push(ext, MODULE, topics::GATEKEEPER_EVENT, &event)
}

fn keys_of(ext: &Ext, pubkey: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), Error> {
    let worker = WORKERS.get(ext, pubkey).ok_or(Error::WorkerNotFound)?;
    Ok((worker.pubkey, worker.ecdh_pubkey))
}

/// `register_gatekeeper` (root): a registered worker becomes a gatekeeper.
pub(super) fn register(ext: &mut Ext, pubkey: [u8; 32]) -> DispatchResult {
    let worker = WORKERS.get(ext, &pubkey).ok_or(Error::WorkerNotFound)?;
    super::check_role(ext, &worker, super::params(ext).gatekeeper_max_level)?;
    let (pubkey, ecdh_pubkey) = (worker.pubkey, worker.ecdh_pubkey);
    let mut gatekeepers = GATEKEEPERS.get_or_default(ext);
    if gatekeepers.contains(&pubkey) {
        return Err(Error::AlreadyGatekeeper.into());
    }
    if gatekeepers.len() >= MAX_GATEKEEPERS {
        return Err(Error::TooManyGatekeepers.into());
    }
    let generate_master = !GATEKEEPER_MASTER_PUBKEY.exists(ext) && !MASTER_GENERATOR.exists(ext);
    gatekeepers.push(pubkey);
    GATEKEEPERS.put(ext, &gatekeepers);
    if generate_master {
        MASTER_GENERATOR.put(ext, &pubkey);
    }
    ext.deposit_event(Event::GatekeeperRegistered { pubkey });
    tell(
        ext,
        GatekeeperEvent::Registered {
            pubkey,
            ecdh_pubkey,
            generate_master,
        },
    )
}

/// `remove_gatekeeper` (root): the worker stops being a gatekeeper. Its TEE erases its
/// master keys when it sees the change; rotate afterwards so that keys it held stop
/// protecting anything new.
pub(super) fn remove(ext: &mut Ext, pubkey: [u8; 32]) -> DispatchResult {
    let mut gatekeepers = GATEKEEPERS.get_or_default(ext);
    let before = gatekeepers.len();
    gatekeepers.retain(|g| *g != pubkey);
    if gatekeepers.len() == before {
        return Err(Error::NotGatekeeper.into());
    }
    // A generator removed before it published: the next gatekeeper makes the key instead.
    let successor = match MASTER_GENERATOR.get(ext) {
        Some(g) if g == pubkey => gatekeepers
            .first()
            .map(|next| keys_of(ext, next))
            .transpose()?,
        _ => None,
    };
    GATEKEEPERS.put(ext, &gatekeepers);
    HISTORY_DELIVERED.remove(ext, &pubkey);
    ext.deposit_event(Event::GatekeeperRemoved { pubkey });
    // A rotation under way had its proposals sealed to this gatekeeper too (in public
    // extrinsics): restart it without it, so the key it could open never takes effect.
    if let Some(version) = PENDING_ROTATION.get(ext) {
        PENDING_ROTATION.kill(ext);
        ext.deposit_event(Event::MasterKeyRotationCancelled { version });
        if !gatekeepers.is_empty() {
            request_rotation(ext)?;
        }
    }
    if MASTER_GENERATOR.get(ext) == Some(pubkey) {
        MASTER_GENERATOR.kill(ext);
        if let Some((next, ecdh_pubkey)) = successor {
            MASTER_GENERATOR.put(ext, &next);
            tell(
                ext,
                GatekeeperEvent::Registered {
                    pubkey: next,
                    ecdh_pubkey,
                    generate_master: true,
                },
            )?;
        }
    }
    Ok(())
}

/// Expels a gatekeeper proven faulty (its settlement outvoted): removed, and the master key
/// rotated, as for a revoked one.
pub fn expel(ext: &mut Ext, pubkey: [u8; 32]) -> DispatchResult {
    remove_and_rotate(ext, &[pubkey])
}

/// Removes `pubkeys` from the gatekeepers (revoked, expired or downgraded) and rotates the
/// master key, so that keys they held stop protecting anything new.
pub(super) fn remove_and_rotate(ext: &mut Ext, pubkeys: &[[u8; 32]]) -> DispatchResult {
    if pubkeys.is_empty() {
        return Ok(());
    }
    for pubkey in pubkeys {
        remove(ext, *pubkey)?;
    }
    if master_version(ext).is_some()
        && !PENDING_ROTATION.exists(ext)
        && !GATEKEEPERS.get_or_default(ext).is_empty()
    {
        request_rotation(ext)?;
    }
    Ok(())
}

/// On a development chain, a newly registered worker of a listed operator, registered by
/// that operator itself, becomes a gatekeeper at once. Best effort: a full gatekeeper set
/// never fails the worker's registration.
pub(super) fn on_registered(
    ext: &mut Ext,
    pubkey: [u8; 32],
    operator: Option<AccountId32>,
    signer: &AccountId32,
) {
    let Some(operator) = operator else { return };
    if operator == *signer
        && AUTO_GATEKEEPER_OPERATORS
            .get_or_default(ext)
            .contains(&operator)
        && !is_gatekeeper(ext, &pubkey)
    {
        // Validated before its first write, so a refusal leaves nothing behind.
        let _ = register(ext, pubkey);
    }
}

/// `rotate_master_key` (root): every gatekeeper proposes a new master key; the first
/// proposal the chain receives becomes it.
pub(super) fn request_rotation(ext: &mut Ext) -> DispatchResult {
    let current = master_version(ext).ok_or(Error::NoMasterKey)?;
    if PENDING_ROTATION.exists(ext) {
        return Err(Error::RotationPending.into());
    }
    let version = current.checked_add(1).ok_or(Error::NoMasterKey)?;
    let gatekeepers = GATEKEEPERS
        .get_or_default(ext)
        .iter()
        .map(|g| keys_of(ext, g))
        .collect::<Result<Vec<_>, _>>()?;
    if gatekeepers.is_empty() {
        return Err(Error::NoGatekeepers.into());
    }
    PENDING_ROTATION.put(ext, &version);
    ext.deposit_event(Event::MasterKeyRotationRequested { version });
    tell(
        ext,
        GatekeeperEvent::RotationRequested {
            version,
            gatekeepers,
        },
    )
}

/// Each gatekeeper must find its own sealed copy: an envelope list naming gatekeepers
/// twice, or sealed to another key, is refused whole.
pub fn check_deliveries(
    ext: &Ext,
    envelopes: &[Delivery],
    recipients: &[[u8; 32]],
) -> Result<(), Error> {
    if envelopes.len() != recipients.len() || envelopes.len() > MAX_DELIVERIES {
        return Err(Error::BadDelivery);
    }
    for to in recipients {
        let (_, ecdh) = keys_of(ext, to)?;
        let mut copies = envelopes.iter().filter(|(who, _)| who == to);
        match (copies.next(), copies.next()) {
            (Some((_, envelope)), None) if envelope.header.recipient == ecdh => {}
            _ => return Err(Error::BadDelivery),
        }
    }
    Ok(())
}

/// The storage work a gatekeeper report asks for: each envelope is checked against its
/// recipient's registration and relayed.
pub fn report_weight(payload: &[u8]) -> phala_primitives::Weight {
    let envelopes = match GatekeeperReport::decode_all_with_depth_limit(8, &mut &payload[..]) {
        Ok(GatekeeperReport::RotatedMasterKey { envelopes, .. }) => envelopes.len(),
        Ok(_) => 1,
        Err(_) => return crate::modules::weights::reads_writes(1, 0),
    };
    let envelopes = u64::try_from(envelopes).unwrap_or(u64::MAX);
    crate::modules::weights::reads_writes(envelopes.saturating_add(6), 6)
}

/// A gatekeeper's report, delivered (signature and sequence checked) by the message queue.
pub fn on_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    if !is_gatekeeper(ext, &sender) {
        return Err(Error::NotGatekeeper.into());
    }
    let report = GatekeeperReport::decode_all_with_depth_limit(8, &mut &payload[..])
        .map_err(|_| Error::BadReport)?;
    let now = system::block_number(ext);
    match report {
        GatekeeperReport::MasterPubkey {
            pubkey,
            ecdh_pubkey,
        } => {
            if GATEKEEPER_MASTER_PUBKEY.exists(ext) {
                return Err(Error::MasterKeyAlreadyPublished.into());
            }
            if MASTER_GENERATOR.get(ext) != Some(sender) {
                return Err(Error::NotTheGenerator.into());
            }
            MASTER_GENERATOR.kill(ext);
            GATEKEEPER_MASTER_PUBKEY.put(ext, &pubkey);
            MASTER_PUBKEY_HISTORY.put(
                ext,
                &vec![MasterPubkeyRecord {
                    version: 0,
                    pubkey,
                    ecdh_pubkey,
                    since: now,
                }],
            );
            ext.deposit_event(Event::MasterPubkeyPublished { version: 0, pubkey });
        }
        GatekeeperReport::MasterKeyHistory {
            to,
            up_to,
            envelope,
        } => {
            let (_, ecdh) = keys_of(ext, &to)?;
            if !is_gatekeeper(ext, &to) {
                return Err(Error::NotGatekeeper.into());
            }
            let current = master_version(ext).ok_or(Error::NoMasterKey)?;
            if up_to > current || envelope.header.recipient != ecdh {
                return Err(Error::BadDelivery.into());
            }
            if HISTORY_DELIVERED.get(ext, &to).is_some_and(|d| d >= up_to) {
                return Err(Error::AlreadyDelivered.into());
            }
            HISTORY_DELIVERED.insert(ext, &to, &up_to);
            ext.deposit_event(Event::MasterKeyHistoryDelivered { to, up_to });
            tell(
                ext,
                GatekeeperEvent::HistoryDelivered {
                    to,
                    up_to,
                    envelope,
                },
            )?;
        }
        GatekeeperReport::RotatedMasterKey {
            version,
            pubkey,
            ecdh_pubkey,
            envelopes,
        } => {
            if PENDING_ROTATION.get(ext) != Some(version) {
                return Err(Error::RotationNotPending.into());
            }
            // Sealed to the gatekeepers of the request; gatekeepers registered since get the
            // whole history instead. A proposal sealed to anyone who is no longer a
            // gatekeeper is refused: removal restarts the rotation, and that copy, public in
            // the proposal's extrinsic, must not become the key.
            if envelopes.len() > MAX_DELIVERIES {
                return Err(Error::BadDelivery.into());
            }
            let gatekeepers = GATEKEEPERS.get_or_default(ext);
            if envelopes.iter().any(|(g, _)| !gatekeepers.contains(g)) {
                return Err(Error::BadDelivery.into());
            }
            let covered: Vec<[u8; 32]> = envelopes.iter().map(|(g, _)| *g).collect();
            if !covered.contains(&sender) {
                return Err(Error::BadDelivery.into());
            }
            check_deliveries(ext, &envelopes, &covered)?;
            let mut history = MASTER_PUBKEY_HISTORY.get_or_default(ext);
            history.push(MasterPubkeyRecord {
                version,
                pubkey,
                ecdh_pubkey,
                since: now,
            });
            MASTER_PUBKEY_HISTORY.put(ext, &history);
            GATEKEEPER_MASTER_PUBKEY.put(ext, &pubkey);
            PENDING_ROTATION.kill(ext);
            ext.deposit_event(Event::MasterKeyRotated { version, pubkey });
            tell(
                ext,
                GatekeeperEvent::MasterKeyRotated {
                    version,
                    pubkey,
                    envelopes,
                },
            )?;
            for missed in gatekeepers.iter().filter(|g| !covered.contains(g)) {
                let (pubkey, ecdh_pubkey) = keys_of(ext, missed)?;
                tell(
                    ext,
                    GatekeeperEvent::HistoryRequested {
                        pubkey,
                        ecdh_pubkey,
                    },
                )?;
            }
        }
        // Cluster keys belong to the contracts module, on their own topic.
        GatekeeperReport::ClusterKey(_) => return Err(Error::BadReport.into()),
        GatekeeperReport::NeedHistory => {
            let (pubkey, ecdh_pubkey) = keys_of(ext, &sender)?;
            HISTORY_DELIVERED.remove(ext, &pubkey);
            tell(
                ext,
                GatekeeperEvent::HistoryRequested {
                    pubkey,
                    ecdh_pubkey,
                },
            )?;
        }
    }
    Ok(())
}
