//! Account keys, derived exactly as polkadot.js keyring and `subkey` derive them.
//!
//! A secret URI is `[phrase or 0x seed][/soft or //hard junctions…][///password]`; an empty
//! phrase means Substrate's development phrase, so `//Alice` is the well-known dev account.
//! A BIP39 phrase becomes a 32-byte mini secret through PBKDF2-HMAC-SHA512 over its entropy
//! (substrate-bip39), then each junction derives a child key. sr25519 supports hard and soft
//! junctions; ed25519 (used for consensus keys) only hard ones.
//!
//! Secrets never appear in `Debug` output.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
    )
)]

mod uri;

use core::fmt;

use parity_scale_codec::Encode;
use schnorrkel::{
    ExpansionMode, MiniSecretKey, SecretKey,
    derive::{ChainCode, Derivation},
};

use phala_primitives::AccountId32;
pub use uri::{DEV_PHRASE, Junction, SecretUri};
/// Secrets handed out by this crate are wrapped in this, so callers need no `zeroize` of their own.
pub use zeroize::Zeroizing;

/// Why a key could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("secret URI is malformed: {0}")]
    InvalidUri(String),
    #[error("the phrase is not a valid BIP39 English mnemonic: {0}")]
    InvalidPhrase(String),
    #[error("a hex seed must be 0x followed by 64 hex digits")]
    InvalidSeed,
    #[error("ed25519 keys support only hard derivation (//), not soft (/)")]
    SoftDerivationUnsupported,
    #[error("the operating system's random source failed: {0}")]
    Entropy(String),
}

/// Mini secret for a BIP39 phrase and password (substrate-bip39's `mini_secret_from_entropy`).
fn mini_secret_from_phrase(phrase: &str, password: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase)
        .map_err(|e| KeyError::InvalidPhrase(e.to_string()))?;
    let entropy = Zeroizing::new(mnemonic.to_entropy());
    let salt = Zeroizing::new(format!("mnemonic{password}"));
    let mut seed = Zeroizing::new([0u8; 64]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&entropy, salt.as_bytes(), 2048, seed.as_mut());
    let mut mini = Zeroizing::new([0u8; 32]);
    mini.copy_from_slice(seed.get(..32).unwrap_or(&[0; 32]));
    Ok(mini)
}

/// The root seed a URI names: its hex seed, or its phrase's mini secret.
fn root_seed(uri: &SecretUri) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if let Some(hex_seed) = uri.phrase.strip_prefix("0x") {
        let bytes = Zeroizing::new(hex::decode(hex_seed).map_err(|_| KeyError::InvalidSeed)?);
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::InvalidSeed)?;
        return Ok(Zeroizing::new(seed));
    }
    mini_secret_from_phrase(&uri.phrase, uri.password.as_deref().unwrap_or(""))
}

/// An sr25519 key pair: the key of every account.
#[derive(Clone)]
pub struct Sr25519Pair {
    keypair: schnorrkel::Keypair,
}

impl Sr25519Pair {
    /// The pair a secret URI names (`//Alice`, `<phrase>//hard/soft///password`, `0x<seed>`).
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let uri = SecretUri::parse(uri)?;
        let seed = root_seed(&uri)?;
        let mini = MiniSecretKey::from_bytes(seed.as_ref()).map_err(|_| KeyError::InvalidSeed)?;
        let mut secret: SecretKey = mini.expand(ExpansionMode::Ed25519);
        for junction in &uri.path {
            secret = match junction {
                Junction::Soft(cc) => secret.derived_key_simple(ChainCode(*cc), []).0,
                Junction::Hard(cc) => secret
                    .hard_derive_mini_secret_key(Some(ChainCode(*cc)), b"")
                    .0
                    .expand(ExpansionMode::Ed25519),
            };
        }
        Ok(Sr25519Pair {
            keypair: secret.to_keypair(),
        })
    }

    /// The pair of a 32-byte seed, as `0x<seed>` would give.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        let mini = MiniSecretKey::from_bytes(seed).map_err(|_| KeyError::InvalidSeed)?;
        Ok(Sr25519Pair {
            keypair: mini.expand_to_keypair(ExpansionMode::Ed25519),
        })
    }

    /// A fresh random key and its 12-word phrase.
    pub fn generate() -> Result<(Self, Zeroizing<String>), KeyError> {
        let mut entropy = Zeroizing::new([0u8; 16]);
        getrandom::getrandom(entropy.as_mut()).map_err(|e| KeyError::Entropy(e.to_string()))?;
        let mnemonic = bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy.as_ref())
            .map_err(|e| KeyError::InvalidPhrase(e.to_string()))?;
        let phrase = Zeroizing::new(mnemonic.to_string());
        let pair = Self::from_uri(&phrase)?;
        Ok((pair, phrase))
    }

    pub fn public(&self) -> [u8; 32] {
        self.keypair.public.to_bytes()
    }

    pub fn account_id(&self) -> AccountId32 {
        AccountId32(self.public())
    }

    /// Signs with Substrate's `"substrate"` signing context.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let context = schnorrkel::signing_context(phala_primitives::crypto::SIGNING_CTX);
        self.keypair.sign(context.bytes(message)).to_bytes()
    }
}

impl fmt::Debug for Sr25519Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sr25519Pair({})", self.account_id().to_ss58())
    }
}

/// An ed25519 key pair (consensus keys).
#[derive(Clone)]
pub struct Ed25519Pair {
    signing: ed25519_dalek::SigningKey,
}

impl Ed25519Pair {
    /// The pair a secret URI names; only hard junctions are allowed.
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let uri = SecretUri::parse(uri)?;
        let mut seed = root_seed(&uri)?;
        for junction in &uri.path {
            match junction {
                Junction::Soft(_) => return Err(KeyError::SoftDerivationUnsupported),
                Junction::Hard(cc) => {
                    let encoded = Zeroizing::new(("Ed25519HDKD", *seed, *cc).encode());
                    seed = Zeroizing::new(sp_crypto_hashing::blake2_256(&encoded));
                }
            }
        }
        Ok(Self::from_seed(&seed))
    }

    /// A fresh pair from the operating system's random source (p2p identities of full nodes).
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| KeyError::Entropy(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519Pair {
            signing: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte seed (the ed25519 private key), for handing to the consensus engine.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Pair(0x{})", hex::encode(self.public()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_primitives::crypto::{ed25519_verify, sr25519_verify};

    fn hexpub(p: [u8; 32]) -> String {
        hex::encode(p)
    }

    #[test]
    fn dev_accounts_match_polkadot_js_keyring() {
        let alice = Sr25519Pair::from_uri("//Alice").unwrap();
        assert_eq!(
            hexpub(alice.public()),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert_eq!(
            alice.account_id().to_ss58(),
            "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2"
        );
        let bob = Sr25519Pair::from_uri("//Bob").unwrap();
        assert_eq!(
            hexpub(bob.public()),
            "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"
        );
        let charlie = Sr25519Pair::from_uri("//Charlie").unwrap();
        assert_eq!(
            hexpub(charlie.public()),
            "90b5ab205c6974c9ea841be688864633dc9ca8a357843eeacf2314649965fe22"
        );
        // The dev phrase spelled out gives the same key.
        let spelled = Sr25519Pair::from_uri(&format!("{DEV_PHRASE}//Alice")).unwrap();
        assert_eq!(spelled.public(), alice.public());
        // The root of the dev phrase.
        let root = Sr25519Pair::from_uri(DEV_PHRASE).unwrap();
        assert_eq!(
            hexpub(root.public()),
            "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a"
        );
    }

    #[test]
    fn seeds_match_substrate() {
        let seed: [u8; 32] =
            hex::decode("e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")
                .unwrap()
                .try_into()
                .unwrap();
        let from_seed = Sr25519Pair::from_seed(&seed).unwrap();
        assert_eq!(
            from_seed.public(),
            Sr25519Pair::from_uri("//Alice").unwrap().public()
        );
        let from_hex = Sr25519Pair::from_uri(
            "0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a",
        )
        .unwrap();
        assert_eq!(from_hex.public(), from_seed.public());
    }

    #[test]
    fn known_derivations() {
        // Vectors from `subkey inspect` (sp-core's own tests).
        let stash = Sr25519Pair::from_uri("//Alice//stash").unwrap();
        assert_eq!(
            hexpub(stash.public()),
            "be5ddb1579b72e84524fc29e78609e3caf42e85aa118ebfe0b0ad404b5bdd25f"
        );
        let soft = Sr25519Pair::from_uri("//Alice/soft").unwrap();
        assert_ne!(soft.public(), stash.public());
        let ed_alice = Ed25519Pair::from_uri("//Alice").unwrap();
        assert_eq!(
            hexpub(ed_alice.public()),
            "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee"
        );
        let ed_bob = Ed25519Pair::from_uri("//Bob").unwrap();
        assert_eq!(
            hexpub(ed_bob.public()),
            "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69"
        );
        assert_eq!(
            Ed25519Pair::from_uri("//Alice/soft").unwrap_err(),
            KeyError::SoftDerivationUnsupported
        );
    }

    #[test]
    fn password_changes_the_key() {
        let a = Sr25519Pair::from_uri("//Alice").unwrap();
        let b = Sr25519Pair::from_uri("//Alice///secret").unwrap();
        assert_ne!(a.public(), b.public());
    }

    #[test]
    fn signatures_verify() {
        let alice = Sr25519Pair::from_uri("//Alice").unwrap();
        let sig = alice.sign(b"hello");
        assert!(sr25519_verify(&sig, b"hello", &alice.public()));
        assert!(!sr25519_verify(&sig, b"hellO", &alice.public()));
        let ed = Ed25519Pair::from_uri("//Alice").unwrap();
        assert!(ed25519_verify(&ed.sign(b"m"), b"m", &ed.public()));
    }

    #[test]
    fn generated_keys_round_trip_through_their_phrase() {
        let (pair, phrase) = Sr25519Pair::generate().unwrap();
        assert_eq!(phrase.split_whitespace().count(), 12);
        assert_eq!(
            Sr25519Pair::from_uri(&phrase).unwrap().public(),
            pair.public()
        );
        assert!(!format!("{pair:?}").contains(phrase.as_str()));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            Sr25519Pair::from_uri("not a valid phrase at all"),
            Err(KeyError::InvalidPhrase(_))
        ));
        assert_eq!(
            Sr25519Pair::from_uri("0x1234").unwrap_err(),
            KeyError::InvalidSeed
        );
    }
}
