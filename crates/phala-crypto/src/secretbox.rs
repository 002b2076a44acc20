//! Symmetric sealing under a key that only holders of a shared secret derive (a cluster's
//! members, from the cluster key): AES-256-GCM with a random 12-byte IV and caller-given
//! associated data. Unlike an [`Envelope`](crate::Envelope), which anyone may seal to a
//! public key, a box opens only if it was made by a holder of the key: it authenticates
//! its maker as well as hiding its contents. Sizes are the caller's to bound.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::EnvelopeError;

const IV_LEN: usize = 12;

/// Seals `plaintext` under `key`, bound to `aad`: the IV, then ciphertext and tag.
pub fn seal(
    rng: &mut impl rand_core::CryptoRng,
    key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| EnvelopeError::Tampered)?;
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| EnvelopeError::TooLarge)?;
    let mut out = Vec::with_capacity(IV_LEN.saturating_add(ciphertext.len()));
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens a box [`seal`] made under `key` with the same `aad`.
pub fn open(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let (iv, ciphertext) = sealed
        .split_at_checked(IV_LEN)
        .ok_or(EnvelopeError::Tampered)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| EnvelopeError::Tampered)?;
    cipher
        .decrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_box_opens_only_under_its_key_and_associated_data() {
        let mut rng = commonware_utils::test_rng();
        let sealed = seal(&mut rng, &[1; 32], b"at #5", b"state").unwrap();
        assert_eq!(
            open(&[1; 32], b"at #5", &sealed).unwrap().as_slice(),
            b"state"
        );
        assert_eq!(
            open(&[2; 32], b"at #5", &sealed),
            Err(EnvelopeError::Tampered)
        );
        assert_eq!(
            open(&[1; 32], b"at #6", &sealed),
            Err(EnvelopeError::Tampered)
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert_eq!(
            open(&[1; 32], b"at #5", &flipped),
            Err(EnvelopeError::Tampered)
        );
    }

    proptest! {
        #[test]
        fn opening_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = open(&[7; 32], b"", &bytes);
        }
    }
}
