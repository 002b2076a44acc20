//! The network's secret keys and how each derives from its parent (docs/protocol.md, *Key
//! hierarchy*).
//!
//! Every key is a 32-byte [`Seed`]; a [`KeyPair`] made from it both signs (sr25519, the
//! seed as a mini secret key) and decrypts (x25519, `derive(seed, "ecdh_key", "")`), so a
//! master, cluster or contract key has one public identity and one encryption key.
//! - cluster key = `derive(master, "cluster_key", cluster id)`;
//! - contract key = `derive(cluster, "contract_key", contract id)`;
//! - contract secret = `derive(cluster, contract id, salt)`.

use parity_scale_codec::{Decode, Encode, Input};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use zeroize::Zeroizing;

use crate::{EcdhSecret, Envelope, EnvelopeError, Purpose, kdf};

/// A 32-byte secret. Never printed; wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<secret>)")
    }
}

impl Encode for Seed {
    fn size_hint(&self) -> usize {
        32
    }
    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        dest.write(self.0.as_slice());
    }
}

impl Decode for Seed {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        input.read(bytes.as_mut_slice())?;
        Ok(Seed(bytes))
    }
}

impl Seed {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Seed(Zeroizing::new(bytes))
    }

    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut_slice());
        Seed(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// `derive(self, label, id)`.
    pub fn derive(&self, label: &str, id: &[u8]) -> Seed {
        Seed(kdf::derive(&self.0, label, id))
    }

    /// The cluster key of `cluster` under this master key.
    pub fn cluster_key(&self, cluster: &H256) -> Seed {
        self.derive("cluster_key", cluster.as_bytes())
    }

    /// The contract key of `contract` under this cluster key.
    pub fn contract_key(&self, contract: &H256) -> Seed {
        self.derive("contract_key", contract.as_bytes())
    }

    /// A contract's secret for `salt` (pink's `derive_sr25519_key`) under this cluster key.
    pub fn contract_secret(&self, contract: &H256, salt: &[u8]) -> Seed {
        Seed(kdf::derive_bytes(&self.0, contract.as_bytes(), salt))
    }

    /// Seals `plaintext` to `recipient` with a sender key and IV derived from this seed,
    /// `context`, the recipient and a hash of the plaintext: every holder of the seed builds
    /// the same envelope byte for byte, so copies sent by several gatekeepers are
    /// interchangeable. Because the plaintext is part of the derivation (as in SIV), two
    /// different plaintexts never share a (sender key, IV) pair, even under one context.
    pub fn seal_deterministic(
        &self,
        context: &[u8],
        recipient: &[u8; 32],
        purpose: Purpose,
        plaintext: &[u8],
    ) -> Result<Envelope, EnvelopeError> {
        use sha2::Digest;
        let mut id = Zeroizing::new(context.to_vec());
        id.extend_from_slice(recipient);
        id.extend_from_slice(&sha2::Sha256::digest(plaintext));
        let sender = EcdhSecret::from_bytes(*kdf::derive(&self.0, "envelope/sender", &id));
        let iv_bytes = kdf::derive(&self.0, "envelope/iv", &id);
        let mut iv = [0u8; 12];
        iv.copy_from_slice(iv_bytes.get(..12).unwrap_or(&[0u8; 12]));
        Envelope::seal_with(&sender, iv, recipient, purpose, None, plaintext)
    }
}

/// A key that signs and decrypts, made from a [`Seed`].
pub struct KeyPair {
    seed: Seed,
    signing: Sr25519Pair,
    ecdh: EcdhSecret,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair(0x{})", crate::to_hex(&self.public()))
    }
}

impl KeyPair {
    pub fn new(seed: Seed) -> Self {
        // Every 32 bytes are a valid sr25519 mini secret key: `from_seed` cannot fail on them.
        let signing = match Sr25519Pair::from_seed(seed.expose()) {
            Ok(pair) => pair,
            Err(_) => std::process::abort(),
        };
        let ecdh = EcdhSecret::from_bytes(*kdf::derive(seed.expose(), "ecdh_key", b""));
        KeyPair {
            seed,
            signing,
            ecdh,
        }
    }

    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// The sr25519 public key: the key's identity on chain.
    pub fn public(&self) -> [u8; 32] {
        self.signing.public()
    }

    /// The x25519 public key others encrypt to.
    pub fn ecdh_public(&self) -> [u8; 32] {
        self.ecdh.public()
    }

    pub fn ecdh(&self) -> &EcdhSecret {
        &self.ecdh
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_distinct_and_stable() {
        let master = Seed::from_bytes([7; 32]);
        let cluster = master.cluster_key(&H256([1; 32]));
        assert_eq!(cluster, master.cluster_key(&H256([1; 32])));
        assert_ne!(cluster, master.cluster_key(&H256([2; 32])));
        let contract = cluster.contract_key(&H256([3; 32]));
        assert_ne!(contract, cluster);
        assert_ne!(
            cluster.contract_secret(&H256([3; 32]), b"a"),
            cluster.contract_secret(&H256([3; 32]), b"b")
        );
        let pair = KeyPair::new(cluster.clone());
        assert_ne!(pair.public(), pair.ecdh_public());
        assert_eq!(KeyPair::new(cluster).public(), pair.public());
    }

    #[test]
    fn deterministic_envelopes_are_identical_and_open_for_the_recipient_only() {
        let master = Seed::from_bytes([9; 32]);
        let recipient = EcdhSecret::from_bytes([3; 32]);
        let other = EcdhSecret::from_bytes([4; 32]);
        let a = master
            .seal_deterministic(
                b"history/1",
                &recipient.public(),
                Purpose::KeyDelivery,
                b"k",
            )
            .unwrap();
        let b = master
            .seal_deterministic(
                b"history/1",
                &recipient.public(),
                Purpose::KeyDelivery,
                b"k",
            )
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.open(&recipient).unwrap().as_slice(), b"k");
        assert_eq!(a.open(&other), Err(EnvelopeError::WrongRecipient));
        let c = master
            .seal_deterministic(
                b"history/2",
                &recipient.public(),
                Purpose::KeyDelivery,
                b"k",
            )
            .unwrap();
        assert_ne!(a.iv, c.iv);
        assert_ne!(a.header.sender, c.header.sender);
        // Another plaintext under the same context: another key and IV.
        let d = master
            .seal_deterministic(
                b"history/1",
                &recipient.public(),
                Purpose::KeyDelivery,
                b"j",
            )
            .unwrap();
        assert_ne!(a.iv, d.iv);
        assert_ne!(a.header.sender, d.header.sender);
    }

    #[test]
    fn seeds_never_print() {
        let seed = Seed::from_bytes([0xab; 32]);
        assert!(!format!("{seed:?}").contains("ab"));
        assert_eq!(Seed::decode(&mut &seed.encode()[..]).unwrap(), seed);
    }
}
