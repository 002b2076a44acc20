//! HKDF-SHA256 (RFC 5869) and the protocol's key derivations.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// HKDF-SHA256 with one output block (32 bytes): extract with `salt`, expand with `info`.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hmac_sha256(salt, &[ikm]);
    hmac_sha256(prk.as_slice(), &[info, &[1u8]])
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    // RFC 2104's key: hashed if longer than SHA-256's 64-byte block, then zero-padded to it.
    // Built here so the MAC is made from a block-sized key, which cannot fail (a key of
    // any length would go through a fallible constructor).
    let mut block = Zeroizing::new([0u8; 64]);
    let hashed;
    let key = if key.len() > block.len() {
        hashed = Sha256::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    for part in parts {
        mac.update(part);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// `derive(parent, label, id)` (docs/protocol.md, *Key hierarchy*): a new 32-byte secret (an
/// sr25519 or X25519 seed) from a parent secret, a label such as `"cluster_key"`, and an id.
pub fn derive(parent: &[u8; 32], label: &str, id: &[u8]) -> Zeroizing<[u8; 32]> {
    derive_bytes(parent, label.as_bytes(), id)
}

/// [`derive`] with a label of any bytes (a contract id, for contract secrets).
pub fn derive_bytes(parent: &[u8; 32], label: &[u8], id: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut info = Zeroizing::new(Vec::with_capacity(
        label.len().saturating_add(id.len()).saturating_add(1),
    ));
    info.extend_from_slice(label);
    info.push(0);
    info.extend_from_slice(id);
    hkdf_sha256(parent, b"phala/derive/v1", &info)
}
