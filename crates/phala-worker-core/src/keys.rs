//! The worker's own keys: an sr25519 identity (signs its messages, names it on chain) and an
//! x25519 key (secrets sent to it). Generated inside the TEE from its randomness, never
//! logged, and kept on disk only sealed together with the chain position they belong to
//! ([`crate::checkpoint`]).

use parity_scale_codec::{Decode, Encode};
use phala_keys::Sr25519Pair;
use phala_tee::{Platform, TeeError};
use zeroize::Zeroizing;

pub struct WorkerKeys {
    identity: Sr25519Pair,
    identity_seed: Zeroizing<[u8; 32]>,
    ecdh: phala_crypto::EcdhSecret,
}

impl std::fmt::Debug for WorkerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerKeys(0x{})", hex::encode(self.pubkey()))
    }
}

/// The keys' secrets as they are sealed. The layout is fixed: the two 32-byte secrets,
/// identity first.
#[derive(Encode, Decode)]
pub(crate) struct KeySecrets {
    identity_seed: [u8; 32],
    ecdh_secret: [u8; 32],
}

impl Drop for KeySecrets {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.identity_seed);
        zeroize::Zeroize::zeroize(&mut self.ecdh_secret);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Tee(#[from] TeeError),
    #[error("{0}")]
    Corrupt(String),
}

impl WorkerKeys {
    fn from_secrets(identity_seed: [u8; 32], ecdh_secret: [u8; 32]) -> Result<Self, KeysError> {
        let identity = Sr25519Pair::from_seed(&identity_seed)
            .map_err(|e| KeysError::Corrupt(format!("identity seed: {e}")))?;
        Ok(WorkerKeys {
            identity,
            identity_seed: Zeroizing::new(identity_seed),
            ecdh: phala_crypto::EcdhSecret::from_bytes(ecdh_secret),
        })
    }

    /// New keys from the TEE's randomness.
    pub fn generate(platform: &dyn Platform) -> Result<Self, KeysError> {
        let mut identity_seed = Zeroizing::new([0u8; 32]);
        let mut ecdh_secret = Zeroizing::new([0u8; 32]);
        platform.fill_random(identity_seed.as_mut_slice())?;
        platform.fill_random(ecdh_secret.as_mut_slice())?;
        Self::from_secrets(*identity_seed, *ecdh_secret)
    }

    pub(crate) fn secrets(&self) -> KeySecrets {
        KeySecrets {
            identity_seed: *self.identity_seed,
            ecdh_secret: *self.ecdh.to_bytes(),
        }
    }

    pub(crate) fn from_sealed(secrets: &KeySecrets) -> Result<Self, KeysError> {
        Self::from_secrets(secrets.identity_seed, secrets.ecdh_secret)
    }

    pub fn pubkey(&self) -> [u8; 32] {
        self.identity.public()
    }

    pub fn ecdh_pubkey(&self) -> [u8; 32] {
        self.ecdh.public()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.identity.sign(message)
    }

    /// The ECDH secret, for opening what is sealed to this worker.
    pub(crate) fn ecdh(&self) -> &phala_crypto::EcdhSecret {
        &self.ecdh
    }

    /// The identity key pair, for the query service that signs replies.
    pub(crate) fn identity(&self) -> Sr25519Pair {
        self.identity.clone()
    }
}
