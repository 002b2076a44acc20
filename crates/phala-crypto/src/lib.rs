//! End-to-end encryption to TEEs (docs/protocol.md, *Envelopes*).
//!
//! An [`Envelope`] carries a payload only its recipient's X25519 key opens:
//! - the sender makes a fresh (ephemeral) X25519 key and agrees a secret with the recipient;
//! - the secret goes through HKDF-SHA256 with a context label and the whole header, so a key
//!   is bound to one recipient, one sender key, one purpose and one contract (Phala used the
//!   raw ECDH output as the key);
//! - AES-256-GCM with a 12-byte random IV encrypts, with the SCALE-encoded header as
//!   associated data, so changing any header field makes the envelope fail to open.
//!
//! Replay protection (nonces, heights) belongs to the protocols that use envelopes; an
//! envelope only guarantees who can read it and that nothing in it changed.

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

pub mod kdf;
pub mod keys;
pub mod query;
pub mod secretbox;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_primitives::H256;
use scale_info::TypeInfo;
use zeroize::Zeroizing;

/// Largest plaintext an envelope may carry.
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest encoded envelope accepted by [`Envelope::decode_bounded`].
pub const MAX_ENVELOPE: usize = MAX_PAYLOAD + 1024;
const TAG_LEN: usize = 16;
/// The HKDF salt: a version label, so keys of other schemes never coincide with ours.
const SALT: &[u8] = b"phala/envelope/v1";

/// What an envelope is for: part of the key derivation and of the associated data, so an
/// envelope made for one purpose never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Purpose {
    #[codec(index = 0)]
    Query,
    #[codec(index = 1)]
    QueryReply,
    #[codec(index = 2)]
    Command,
    #[codec(index = 3)]
    KeyDelivery,
    /// A visitor's consent or page view for a Web3 Analytics site, to its cluster's
    /// analytics key.
    #[codec(index = 4)]
    Ingest,
    /// A batch of a site's ingested events, from one cluster member to all.
    #[codec(index = 5)]
    AnalyticsBatch,
}

/// Bound into the key and authenticated; sent in the clear.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct EnvelopeHeader {
    /// The recipient's X25519 public key.
    pub recipient: [u8; 32],
    /// The sender's ephemeral X25519 public key.
    pub sender: [u8; 32],
    pub purpose: Purpose,
    /// The contract the payload is for, if any.
    pub contract: Option<H256>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Envelope {
    pub header: EnvelopeHeader,
    pub iv: [u8; 12],
    /// AES-256-GCM ciphertext and 16-byte tag.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the envelope is for another key")]
    WrongRecipient,
    #[error("the sender key is a low-order point: no shared secret")]
    WeakKey,
    #[error(
        "the envelope does not open: its header or ciphertext was changed, or it is not for this key"
    )]
    Tampered,
    #[error("the payload is larger than {MAX_PAYLOAD} bytes")]
    TooLarge,
    #[error("the envelope does not decode: {0}")]
    Malformed(String),
}

/// An X25519 key a TEE decrypts with.
pub struct EcdhSecret(x25519_dalek::StaticSecret);

impl std::fmt::Debug for EcdhSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcdhSecret(0x{})", to_hex(&self.public()))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl EcdhSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EcdhSecret(x25519_dalek::StaticSecret::from(bytes))
    }

    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        Self::from_bytes(*bytes)
    }

    pub fn public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.0).to_bytes()
    }

    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    fn agree(&self, public: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(*public));
        if !shared.was_contributory() {
            return Err(EnvelopeError::WeakKey);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

fn cipher(shared: &[u8; 32], header: &EnvelopeHeader) -> Result<Aes256Gcm, EnvelopeError> {
    let key = kdf::hkdf_sha256(shared, SALT, &header.encode());
    Aes256Gcm::new_from_slice(key.as_slice()).map_err(|_| EnvelopeError::Tampered)
}

impl Envelope {
    /// Seals `plaintext` to `recipient` with a fresh ephemeral key and IV from `rng`.
    pub fn seal(
        rng: &mut impl rand_core::CryptoRng,
        recipient: &[u8; 32],
        purpose: Purpose,
        contract: Option<H256>,
        plaintext: &[u8],
    ) -> Result<Envelope, EnvelopeError> {
        let ephemeral = EcdhSecret::generate(rng);
        let mut iv = [0u8; 12];
        rng.fill_bytes(&mut iv);
        Self::seal_with(&ephemeral, iv, recipient, purpose, contract, plaintext)
    }

    /// Seals with a given sender key and IV. Deterministic: for test vectors, and for
    /// messages every gatekeeper must build byte for byte alike. Never reuse an (sender key,
    /// IV) pair for different plaintexts.
    pub fn seal_with(
        sender: &EcdhSecret,
        iv: [u8; 12],
        recipient: &[u8; 32],
        purpose: Purpose,
        contract: Option<H256>,
        plaintext: &[u8],
    ) -> Result<Envelope, EnvelopeError> {
        if plaintext.len() > MAX_PAYLOAD {
            return Err(EnvelopeError::TooLarge);
        }
        let header = EnvelopeHeader {
            recipient: *recipient,
            sender: sender.public(),
            purpose,
            contract,
        };
        let shared = sender.agree(recipient)?;
        let aad = header.encode();
        let ciphertext = cipher(&shared, &header)?
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| EnvelopeError::TooLarge)?;
        Ok(Envelope {
            header,
            iv,
            ciphertext,
        })
    }

    /// Opens an envelope with the recipient's key.
    pub fn open(&self, recipient: &EcdhSecret) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        if self.header.recipient != recipient.public() {
            return Err(EnvelopeError::WrongRecipient);
        }
        if self.ciphertext.len() < TAG_LEN {
            return Err(EnvelopeError::Tampered);
        }
        let shared = recipient.agree(&self.header.sender)?;
        let aad = self.header.encode();
        cipher(&shared, &self.header)?
            .decrypt(
                Nonce::from_slice(&self.iv),
                Payload {
                    msg: &self.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| EnvelopeError::Tampered)
    }

    /// Decodes an envelope from untrusted bytes: bounded, and every byte must be used.
    pub fn decode_bounded(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE {
            return Err(EnvelopeError::TooLarge);
        }
        Envelope::decode_all_with_depth_limit(4, &mut &bytes[..])
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }
}
