//! The message queue between the chain and TEE workers (docs/protocol.md, *Message queue*).
//!
//! A [`Message`] has a sender ([`MessageOrigin`]), a topic and a SCALE payload. Messages from
//! workers travel as [`SignedMessage`]s: signed by the worker's identity key over the chain's
//! genesis hash, the message and a per-sender sequence number, so the chain accepts each exactly
//! once and in order, and never one meant for another chain. Gatekeepers and cluster members send
//! their reports the same way, from their own worker origin; the chain refuses the `Gatekeeper`,
//! `Cluster` and `Contract` origins, which nothing signs. Messages from the chain's own modules
//! need no signature: workers read them from each block's state (`MessageQueue.OutboundMessages`)
//! with a proof.
//!
//! This crate holds only the formats and the signing payload; the chain's checks live in the
//! runtime's `MessageQueue` module and the worker's in its core.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod analytics;
pub mod analytics_api;
pub mod computation;
pub mod contracts;
pub mod topics;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::H256;
use scale_info::TypeInfo;

/// Longest topic accepted.
pub const MAX_TOPIC_LEN: usize = 256;
/// Largest payload accepted.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;

/// Who sent a message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, TypeInfo)]
pub enum MessageOrigin {
    /// A chain module, by name: trusted because it is read from verified state.
    #[codec(index = 0)]
    Pallet(Vec<u8>),
    /// A confidential contract. Refused by the chain: no message is signed as it.
    #[codec(index = 1)]
    Contract(H256),
    /// A worker, signing with its sr25519 identity key.
    #[codec(index = 2)]
    Worker([u8; 32]),
    /// An account (messages it caused through a transaction).
    #[codec(index = 3)]
    AccountId(H256),
    /// The gatekeepers as one. Refused by the chain: each gatekeeper reports as a `Worker`.
    #[codec(index = 4)]
    Gatekeeper,
    /// A cluster. Refused by the chain: each member reports as a `Worker`.
    #[codec(index = 5)]
    Cluster(H256),
}

impl MessageOrigin {
    /// Whether messages from this origin would arrive from outside the chain, signed (of
    /// these, the chain accepts only `Worker`).
    pub fn is_offchain(&self) -> bool {
        matches!(
            self,
            MessageOrigin::Contract(_)
                | MessageOrigin::Worker(_)
                | MessageOrigin::Gatekeeper
                | MessageOrigin::Cluster(_)
        )
    }

    pub fn pallet(name: &str) -> Self {
        MessageOrigin::Pallet(name.as_bytes().to_vec())
    }
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Message {
    pub sender: MessageOrigin,
    /// Topics beginning with `^` are for the chain only (docs/protocol.md, *Message queue*).
    pub destination: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn new(sender: MessageOrigin, topic: &[u8], payload: Vec<u8>) -> Self {
        Message {
            sender,
            destination: topic.to_vec(),
            payload,
        }
    }

    /// Within the size limits.
    pub fn within_bounds(&self) -> bool {
        self.destination.len() <= MAX_TOPIC_LEN
            && self.payload.len() <= MAX_PAYLOAD_LEN
            && match &self.sender {
                MessageOrigin::Pallet(name) => name.len() <= MAX_TOPIC_LEN,
                _ => true,
            }
    }

    /// Whether the topic is addressed to the chain (`^` prefix).
    pub fn is_for_chain(&self) -> bool {
        self.destination.first() == Some(&b'^')
    }
}

/// A message from an off-chain origin, with its sequence number and signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SignedMessage {
    pub message: Message,
    pub sequence: u64,
    pub signature: Vec<u8>,
}

/// Domain tag of the signing payload: signatures over anything else never verify as ours.
pub const SIGNING_DOMAIN: &[u8] = b"phala/mq/v1";

/// What the sender signs: domain ‖ genesis hash ‖ SCALE(message) ‖ sequence (LE).
pub fn signing_payload(genesis_hash: &H256, message: &Message, sequence: u64) -> Vec<u8> {
    let mut out = SIGNING_DOMAIN.to_vec();
    out.extend_from_slice(genesis_hash.as_bytes());
    message.encode_to(&mut out);
    out.extend_from_slice(&sequence.to_le_bytes());
    out
}

impl SignedMessage {
    /// Signs `message` as the `sequence`-th of its sender with `sign` (the origin's key).
    pub fn sign(
        genesis_hash: &H256,
        message: Message,
        sequence: u64,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Self {
        let signature = sign(&signing_payload(genesis_hash, &message, sequence)).to_vec();
        SignedMessage {
            message,
            sequence,
            signature,
        }
    }

    /// Checks the signature of a worker-origin message against the worker's identity key
    /// (the only key the origin itself names).
    pub fn verify_worker(&self, genesis_hash: &H256) -> bool {
        let MessageOrigin::Worker(pubkey) = &self.message.sender else {
            return false;
        };
        self.verify_with(genesis_hash, pubkey)
    }

    /// Checks the sr25519 signature against `public`.
    pub fn verify_with(&self, genesis_hash: &H256, public: &[u8; 32]) -> bool {
        let Ok(signature) = <[u8; 64]>::try_from(self.signature.as_slice()) else {
            return false;
        };
        let payload = signing_payload(genesis_hash, &self.message, self.sequence);
        phala_primitives::crypto::sr25519_verify(&signature, &payload, public)
    }
}

/// The storage key of `MessageQueue.OutboundMessages`: the messages the chain's modules
/// pushed in a block, read by workers with a proof against that block's state root.
pub fn outbound_messages_key() -> Vec<u8> {
    phala_primitives::storage::prefix("MessageQueue", "OutboundMessages")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sign_and_verify() {
        let pair = phala_keys::Sr25519Pair::from_uri("//Worker").unwrap();
        let genesis = H256([1; 32]);
        let m = Message::new(MessageOrigin::Worker(pair.public()), b"^t", vec![1, 2]);
        let signed = SignedMessage::sign(&genesis, m.clone(), 7, |p| pair.sign(p));
        assert!(signed.verify_worker(&genesis));
        // Another chain, another sequence, another origin: all fail.
        assert!(!signed.verify_worker(&H256([2; 32])));
        let mut replayed = signed.clone();
        replayed.sequence = 8;
        assert!(!replayed.verify_worker(&genesis));
        let mut forged = signed.clone();
        forged.message.sender = MessageOrigin::Worker([9; 32]);
        assert!(!forged.verify_worker(&genesis));
        let mut pallet = signed;
        pallet.message.sender = MessageOrigin::pallet("Registry");
        assert!(!pallet.verify_worker(&genesis));
    }

    proptest! {
        #[test]
        fn signed_message_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedMessage::decode(&mut bytes.as_slice());
            let _ = <Vec<Message>>::decode(&mut bytes.as_slice());
        }

        #[test]
        fn topic_payload_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = topics::GatekeeperEvent::decode(&mut bytes.as_slice());
            let _ = topics::GatekeeperReport::decode(&mut bytes.as_slice());
            let _ = topics::ClusterEvent::decode(&mut bytes.as_slice());
            let _ = topics::ClusterStateReady::decode(&mut bytes.as_slice());
            let _ = topics::WorkerEventWithKey::decode(&mut bytes.as_slice());
            let _ = contracts::ContractCommand::decode(&mut bytes.as_slice());
            let _ = contracts::ContractReport::decode(&mut bytes.as_slice());
            let _ = contracts::ContractReport::decode_any(&bytes);
            let _ = contracts::SealedInput::decode(&mut bytes.as_slice());
            let _ = contracts::ExecutionOutput::decode(&mut bytes.as_slice());
            let _ = contracts::ContractQueryResult::decode(&mut bytes.as_slice());
        }
    }
}
