//! The hash functions of the chain, re-exported under one roof.

pub use sp_crypto_hashing::{
    blake2_64, blake2_128, blake2_256, blake2_512, twox_64, twox_128, twox_256,
};

use crate::H256;

/// `blake2_256` as an [`H256`]: block hashes, extrinsic hashes, trie node hashes.
pub fn hash256(data: &[u8]) -> H256 {
    H256(blake2_256(data))
}

/// Root of a binary Merkle tree over the given leaves (each leaf hashed first), with an odd
/// node carried up unpaired. The empty tree's root is `blake2_256("")`.
pub fn binary_merkle_root<I, T>(leaves: I) -> H256
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut level: Vec<[u8; 32]> = leaves.into_iter().map(|l| blake2_256(l.as_ref())).collect();
    if level.is_empty() {
        return H256(blake2_256(&[]));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => {
                    let mut buf = [0u8; 64];
                    buf[..32].copy_from_slice(a);
                    buf[32..].copy_from_slice(b);
                    blake2_256(&buf)
                }
                [a] => *a,
                _ => [0; 32],
            })
            .collect();
    }
    H256(level.first().copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake2_of_empty() {
        assert_eq!(
            hex::encode(blake2_256(b"")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
    }

    #[test]
    fn merkle_root_depends_on_order_and_content() {
        let a = binary_merkle_root([b"a".as_slice(), b"b", b"c"]);
        let b = binary_merkle_root([b"b".as_slice(), b"a", b"c"]);
        let c = binary_merkle_root([b"a".as_slice(), b"b"]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(binary_merkle_root([b"x"]), hash256(b"x"));
    }
}
