//! The worker's own keys: an sr25519 identity (signs its messages, names it on chain) and an
//! x25519 key (secrets sent to it). Generated inside the TEE from its randomness, kept only
//! sealed on disk, never logged.

use std::path::Path;

use parity_scale_codec::{Decode, Encode};
use phala_keys::Sr25519Pair;
use phala_tee::seal::Sealer;
use phala_tee::{Platform, TeeError, write_private_atomic};
use zeroize::Zeroizing;

/// File holding the sealed keys under the worker's base path.
pub const KEYS_FILE: &str = "worker-keys.sealed";
const PURPOSE: &str = "worker-keys/v1";

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

#[derive(Encode, Decode)]
struct Sealed {
    identity_seed: [u8; 32],
    ecdh_secret: [u8; 32],
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

    /// Loads the sealed keys from `dir`, or makes new ones and seals them there.
    /// Returns the keys and whether they were just made.
    pub fn load_or_create(
        platform: &dyn Platform,
        sealer: &Sealer,
        dir: &Path,
    ) -> Result<(Self, bool), KeysError> {
        let path = dir.join(KEYS_FILE);
        match std::fs::read(&path) {
            Ok(sealed) => {
                let plain = sealer.unseal(PURPOSE, &sealed)?;
                let s = Sealed::decode(&mut plain.as_slice())
                    .map_err(|e| KeysError::Corrupt(format!("{}: {e}", path.display())))?;
                let keys = Self::from_secrets(s.identity_seed, s.ecdh_secret);
                let mut s = s;
                zeroize::Zeroize::zeroize(&mut s.identity_seed);
                zeroize::Zeroize::zeroize(&mut s.ecdh_secret);
                Ok((keys?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut identity_seed = Zeroizing::new([0u8; 32]);
                let mut ecdh_secret = Zeroizing::new([0u8; 32]);
                platform.fill_random(identity_seed.as_mut_slice())?;
                platform.fill_random(ecdh_secret.as_mut_slice())?;
                let plain = Zeroizing::new(
                    Sealed {
                        identity_seed: *identity_seed,
                        ecdh_secret: *ecdh_secret,
                    }
                    .encode(),
                );
                let sealed = sealer.seal(platform, PURPOSE, &plain)?;
                write_private_atomic(&path, &sealed)?;
                Ok((Self::from_secrets(*identity_seed, *ecdh_secret)?, true))
            }
            Err(e) => Err(KeysError::Tee(TeeError::Io {
                what: format!("read {}", path.display()),
                source: e,
            })),
        }
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

    /// The secret bytes, for tests that prove no file holds them in the clear.
    #[doc(hidden)]
    pub fn secret_bytes_for_tests(&self) -> [Zeroizing<[u8; 32]>; 2] {
        [self.identity_seed.clone(), self.ecdh.to_bytes()]
    }
}
