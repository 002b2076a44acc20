//! Sealing: data only this TEE can read back.
//!
//! Per-purpose keys come from the platform's root secret by HKDF-SHA256 (the purpose is the
//! `info`), so one purpose's key never opens another's data. Each seal uses a fresh random
//! 96-bit nonce; the purpose and the TEE kind are authenticated, so a file sealed for one
//! purpose (or by the simulator) fails to open as another.
//!
//! Format: [`MAGIC`] ‖ TEE kind (1) ‖ nonce (12) ‖ AES-256-GCM ciphertext and tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::{Platform, TeeError, TeeKind};

pub const MAGIC: &[u8; 8] = b"PHSEAL1\0";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

pub use phala_crypto::kdf::hkdf_sha256;

fn kind_byte(kind: TeeKind) -> u8 {
    match kind {
        TeeKind::Simulated => 0,
        TeeKind::Sgx => 1,
        TeeKind::Tdx => 2,
    }
}

/// Seals and unseals with keys derived from a platform's root secret.
pub struct Sealer {
    kind: TeeKind,
    root: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("kind", &self.kind).finish()
    }
}

impl Sealer {
    pub fn new(platform: &dyn Platform) -> Result<Self, TeeError> {
        Ok(Sealer {
            kind: platform.kind(),
            root: platform.sealing_root()?,
        })
    }

    /// A key for `purpose`, derived from the root secret: stable across restarts.
    pub fn derive_key(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        hkdf_sha256(
            self.root.as_slice(),
            b"phala-tee/seal/v1",
            purpose.as_bytes(),
        )
    }

    fn aad(&self, purpose: &str) -> Vec<u8> {
        let mut aad = MAGIC.to_vec();
        aad.push(kind_byte(self.kind));
        aad.extend_from_slice(purpose.as_bytes());
        aad
    }

    pub fn seal(
        &self,
        platform: &dyn Platform,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, TeeError> {
        let key = self.derive_key(purpose);
        let cipher = Aes256Gcm::new_from_slice(key.as_slice())
            .map_err(|_| TeeError::Unseal("bad key length".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        platform.fill_random(&mut nonce)?;
        let aad = self.aad(purpose);
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| TeeError::Unseal("encryption failed".into()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 1 + NONCE_LEN + ct.len());
        out.extend_from_slice(MAGIC);
        out.push(kind_byte(self.kind));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn unseal(&self, purpose: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, TeeError> {
        let header = MAGIC.len() + 1 + NONCE_LEN;
        if sealed.len() < header + TAG_LEN {
            return Err(TeeError::Unseal("too short".into()));
        }
        let (magic, rest) = sealed.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(TeeError::Unseal("not sealed data".into()));
        }
        let (kind, rest) = rest.split_at(1);
        if kind != [kind_byte(self.kind)] {
            return Err(TeeError::Unseal(format!(
                "sealed by another kind of TEE (this one is {})",
                self.kind
            )));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let key = self.derive_key(purpose);
        let cipher = Aes256Gcm::new_from_slice(key.as_slice())
            .map_err(|_| TeeError::Unseal("bad key length".into()))?;
        let aad = self.aad(purpose);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| {
                TeeError::Unseal(format!(
                    "authentication failed: sealed by another TEE or machine, for another \
                     purpose than {purpose:?}, or modified"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulated::Simulated;
    use proptest::prelude::*;

    #[test]
    fn seal_round_trip_and_binding() {
        let dir = tempfile::tempdir().unwrap();
        let p = Simulated::open(dir.path()).unwrap();
        let s = Sealer::new(&p).unwrap();
        let sealed = s.seal(&p, "identity", b"secret bytes").unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        assert_eq!(
            s.unseal("identity", &sealed).unwrap().as_slice(),
            b"secret bytes"
        );
        assert!(s.unseal("checkpoint", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.unseal("identity", &tampered).is_err());
        // Another machine (another sealing key) cannot open it.
        let other_dir = tempfile::tempdir().unwrap();
        let other = Simulated::open(other_dir.path()).unwrap();
        assert!(
            Sealer::new(&other)
                .unwrap()
                .unseal("identity", &sealed)
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn unseal_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = Sealer { kind: TeeKind::Simulated, root: Zeroizing::new([3; 32]) };
            let _ = s.unseal("x", &bytes);
        }
    }
}
