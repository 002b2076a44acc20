//! Signatures for contracts, with Substrate's conventions so keys and signatures match what
//! sp-core produces: sr25519 under the "substrate" signing context, ed25519, and secp256k1
//! ECDSA over blake2b-256 of the message (or a given 32-byte hash), recoverable, 65 bytes.

use schnorrkel::{ExpansionMode, MiniSecretKey, PublicKey, SecretKey, Signature};

const SIGNING_CONTEXT: &[u8] = b"substrate";

/// The kinds of key pink's `sign`, `verify` and `get_public_key` take (SCALE enum order).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode,
)]
pub enum SigType {
    Ed25519,
    Sr25519,
    Ecdsa,
}

fn sr25519_secret(key: &[u8]) -> Option<SecretKey> {
    match key.len() {
        32 => MiniSecretKey::from_bytes(key)
            .ok()
            .map(|mini| mini.expand(ExpansionMode::Ed25519)),
        64 => SecretKey::from_bytes(key).ok(),
        _ => None,
    }
}

fn ecdsa_secret(key: &[u8]) -> Option<libsecp256k1::SecretKey> {
    libsecp256k1::SecretKey::parse_slice(key).ok()
}

/// The 64-byte sr25519 secret key (schnorrkel's own layout) of a 32-byte seed.
pub fn sr25519_secret_from_seed(seed: &[u8; 32]) -> Option<[u8; 64]> {
    sr25519_secret(seed).map(|secret| secret.to_bytes())
}

pub fn public_key(sig_type: SigType, key: &[u8]) -> Option<Vec<u8>> {
    match sig_type {
        SigType::Sr25519 => Some(sr25519_secret(key)?.to_public().to_bytes().to_vec()),
        SigType::Ed25519 => {
            let seed: [u8; 32] = key.try_into().ok()?;
            Some(
                ed25519_dalek::SigningKey::from_bytes(&seed)
                    .verifying_key()
                    .to_bytes()
                    .to_vec(),
            )
        }
        SigType::Ecdsa => {
            let secret = ecdsa_secret(key)?;
            Some(
                libsecp256k1::PublicKey::from_secret_key(&secret)
                    .serialize_compressed()
                    .to_vec(),
            )
        }
    }
}

/// Signs `message`. Sr25519 signatures are randomised; the others are deterministic.
pub fn sign(sig_type: SigType, key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    match sig_type {
        SigType::Sr25519 => {
            let secret = sr25519_secret(key)?;
            let public = secret.to_public();
            Some(
                secret
                    .sign_simple(SIGNING_CONTEXT, message, &public)
                    .to_bytes()
                    .to_vec(),
            )
        }
        SigType::Ed25519 => {
            use ed25519_dalek::Signer;
            let seed: [u8; 32] = key.try_into().ok()?;
            Some(
                ed25519_dalek::SigningKey::from_bytes(&seed)
                    .sign(message)
                    .to_bytes()
                    .to_vec(),
            )
        }
        SigType::Ecdsa => {
            ecdsa_sign_prehashed(key, &sp_crypto_hashing::blake2_256(message)).map(|s| s.to_vec())
        }
    }
}

pub fn verify(sig_type: SigType, public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match sig_type {
        SigType::Sr25519 => {
            let (Ok(signature), Ok(public)) = (
                <[u8; 64]>::try_from(signature),
                <[u8; 32]>::try_from(public),
            ) else {
                return false;
            };
            sr25519_verify(&signature, message, &public)
        }
        SigType::Ed25519 => {
            let (Ok(signature), Ok(public)) = (
                <[u8; 64]>::try_from(signature),
                <[u8; 32]>::try_from(public),
            ) else {
                return false;
            };
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
                return false;
            };
            key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature))
                .is_ok()
        }
        SigType::Ecdsa => {
            let (Ok(signature), Ok(public)) = (
                <[u8; 65]>::try_from(signature),
                <[u8; 33]>::try_from(public),
            ) else {
                return false;
            };
            ecdsa_verify_prehashed(&signature, &sp_crypto_hashing::blake2_256(message), &public)
        }
    }
}

pub fn sr25519_verify(signature: &[u8; 64], message: &[u8], public: &[u8; 32]) -> bool {
    let (Ok(signature), Ok(public)) = (
        Signature::from_bytes(signature),
        PublicKey::from_bytes(public),
    ) else {
        return false;
    };
    public
        .verify_simple(SIGNING_CONTEXT, message, &signature)
        .is_ok()
}

/// The compressed public key that made a recoverable signature, as `sp-io` recovers it
/// (a recovery id of 27/28 is taken as 0/1).
pub fn ecdsa_recover(signature: &[u8; 65], hash: &[u8; 32]) -> Option<[u8; 33]> {
    let (rs, v) = signature.split_at(64);
    let v = *v.first()?;
    let id = libsecp256k1::RecoveryId::parse(if v >= 27 { v.wrapping_sub(27) } else { v }).ok()?;
    let signature = libsecp256k1::Signature::parse_overflowing_slice(rs).ok()?;
    let message = libsecp256k1::Message::parse(hash);
    libsecp256k1::recover(&message, &signature, &id)
        .ok()
        .map(|public| public.serialize_compressed())
}

pub fn ecdsa_sign_prehashed(key: &[u8], hash: &[u8; 32]) -> Option<[u8; 65]> {
    let secret = ecdsa_secret(key)?;
    let (signature, id) = libsecp256k1::sign(&libsecp256k1::Message::parse(hash), &secret);
    let mut out = [0u8; 65];
    let (rs, v) = out.split_at_mut(64);
    rs.copy_from_slice(&signature.serialize());
    if let Some(v) = v.first_mut() {
        *v = id.serialize();
    }
    Some(out)
}

pub fn ecdsa_verify_prehashed(signature: &[u8; 65], hash: &[u8; 32], public: &[u8; 33]) -> bool {
    ecdsa_recover(signature, hash).is_some_and(|recovered| &recovered == public)
}

/// The Ethereum address of a compressed secp256k1 key: the last 20 bytes of keccak-256 of
/// the uncompressed key without its 0x04 prefix.
pub fn eth_address(compressed: &[u8; 33]) -> Option<[u8; 20]> {
    let public = libsecp256k1::PublicKey::parse_compressed(compressed).ok()?;
    let uncompressed = public.serialize();
    let hash = sp_crypto_hashing::keccak_256(uncompressed.get(1..)?);
    hash.get(12..)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_signs_and_verifies() {
        for sig_type in [SigType::Sr25519, SigType::Ed25519, SigType::Ecdsa] {
            let key = [7u8; 32];
            let public = public_key(sig_type, &key).unwrap();
            let signature = sign(sig_type, &key, b"hello").unwrap();
            assert!(
                verify(sig_type, &public, b"hello", &signature),
                "{sig_type:?}"
            );
            assert!(
                !verify(sig_type, &public, b"hellp", &signature),
                "{sig_type:?}"
            );
        }
        let long = sr25519_secret_from_seed(&[7u8; 32]).unwrap();
        assert_eq!(
            public_key(SigType::Sr25519, &long),
            public_key(SigType::Sr25519, &[7u8; 32])
        );
    }

    #[test]
    fn ecdsa_recovers_the_signer_and_its_eth_address() {
        let key = [1u8; 32];
        let public: [u8; 33] = public_key(SigType::Ecdsa, &key)
            .unwrap()
            .try_into()
            .unwrap();
        let hash = sp_crypto_hashing::keccak_256(b"message");
        let mut signature = ecdsa_sign_prehashed(&key, &hash).unwrap();
        assert_eq!(ecdsa_recover(&signature, &hash), Some(public));
        signature[64] = signature[64].wrapping_add(27);
        assert_eq!(ecdsa_recover(&signature, &hash), Some(public));
        // The well-known address of the secret key 0x01…01.
        assert_eq!(
            hex::encode(eth_address(&public).unwrap()),
            "1a642f0e3c3af545e7acbd38b07251b3990914f1"
        );
    }
}
