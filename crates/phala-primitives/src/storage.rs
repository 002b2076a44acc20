//! Substrate's storage key layout: `twox128(module) ‖ twox128(item) ‖ hasher(key)…`.
//!
//! Clients compute these keys from metadata, so every module must build its keys here and
//! declare the same hashers in its metadata.

use crate::hashing::{blake2_128, blake2_256, twox_64, twox_128, twox_256};

/// The key hashers of `frame_metadata::StorageHasher`, in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hasher {
    Blake2_128,
    Blake2_256,
    Blake2_128Concat,
    Twox128,
    Twox256,
    Twox64Concat,
    Identity,
}

impl Hasher {
    /// Appends the hashed form of `encoded_key` to `out`.
    pub fn hash_into(self, encoded_key: &[u8], out: &mut Vec<u8>) {
        match self {
            Hasher::Blake2_128 => out.extend_from_slice(&blake2_128(encoded_key)),
            Hasher::Blake2_256 => out.extend_from_slice(&blake2_256(encoded_key)),
            Hasher::Blake2_128Concat => {
                out.extend_from_slice(&blake2_128(encoded_key));
                out.extend_from_slice(encoded_key);
            }
            Hasher::Twox128 => out.extend_from_slice(&twox_128(encoded_key)),
            Hasher::Twox256 => out.extend_from_slice(&twox_256(encoded_key)),
            Hasher::Twox64Concat => {
                out.extend_from_slice(&twox_64(encoded_key));
                out.extend_from_slice(encoded_key);
            }
            Hasher::Identity => out.extend_from_slice(encoded_key),
        }
    }

    /// Bytes of hash that precede the raw key in the `*Concat` hashers (0 for `Identity`),
    /// or `None` for hashers that do not keep the key.
    pub fn concat_prefix_len(self) -> Option<usize> {
        match self {
            Hasher::Blake2_128Concat => Some(16),
            Hasher::Twox64Concat => Some(8),
            Hasher::Identity => Some(0),
            _ => None,
        }
    }
}

/// `twox128(module) ‖ twox128(item)`: the key of a plain value, and the prefix of a map.
pub fn prefix(module: &str, item: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(&twox_128(module.as_bytes()));
    key.extend_from_slice(&twox_128(item.as_bytes()));
    key
}

/// Key of one entry of a single-key map.
pub fn map_key(module: &str, item: &str, hasher: Hasher, encoded_key: &[u8]) -> Vec<u8> {
    let mut key = prefix(module, item);
    hasher.hash_into(encoded_key, &mut key);
    key
}

/// Key of one entry of a double map.
pub fn double_map_key(
    module: &str,
    item: &str,
    h1: Hasher,
    k1: &[u8],
    h2: Hasher,
    k2: &[u8],
) -> Vec<u8> {
    let mut key = prefix(module, item);
    h1.hash_into(k1, &mut key);
    h2.hash_into(k2, &mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrate_vectors() {
        assert_eq!(
            hex::encode(prefix("System", "Account")),
            "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
        );
        assert_eq!(
            hex::encode(prefix("System", "Events")),
            "26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7"
        );
        assert_eq!(
            hex::encode(prefix("Balances", "TotalIssuance")),
            "c2261276cc9d1f8598ea4b6a74b15c2f57c875e4cff74148e4628f264b974c80"
        );
        let alice = hex::decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
            .unwrap();
        assert_eq!(
            hex::encode(map_key(
                "System",
                "Account",
                Hasher::Blake2_128Concat,
                &alice
            )),
            "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9de1e86a9a8c739864cf3cc5ec2bea59fd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert_eq!(
            hex::encode(map_key(
                "System",
                "BlockHash",
                Hasher::Twox64Concat,
                &0u32.to_le_bytes()
            )),
            "26aa394eea5630e07c48ae0c9558cef7a44704b568d21667356a5a050c118746b4def25cfda6ef3a00000000"
        );
    }
}
