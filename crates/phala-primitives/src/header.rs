//! Block headers, in Substrate's layout so clients can hash them themselves.

use parity_scale_codec::{Compact, Decode, Encode, Error as CodecError, Input, Output};

use crate::{BlockNumber, H256, hashing::hash256};

/// A header digest entry (`sp_runtime::generic::DigestItem`), with Substrate's enum indices.
/// Indices 1, 2, 3 and 7 are obsolete in Substrate and never produced.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum DigestItem {
    #[codec(index = 0)]
    Other(Vec<u8>),
    #[codec(index = 4)]
    Consensus([u8; 4], Vec<u8>),
    #[codec(index = 5)]
    Seal([u8; 4], Vec<u8>),
    #[codec(index = 6)]
    PreRuntime([u8; 4], Vec<u8>),
    #[codec(index = 8)]
    RuntimeEnvironmentUpdated,
}

/// A block header. Its hash, `blake2_256(SCALE(header))`, is the block hash everywhere: in
/// RPC, in transaction mortality checks and in consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub parent_hash: H256,
    pub number: BlockNumber,
    pub state_root: H256,
    pub extrinsics_root: H256,
    pub digest: Vec<DigestItem>,
}

impl Header {
    pub fn hash(&self) -> H256 {
        hash256(&self.encode())
    }
}

impl Encode for Header {
    fn size_hint(&self) -> usize {
        self.digest.size_hint().saturating_add(32 + 5 + 32 + 32)
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        self.parent_hash.encode_to(dest);
        Compact(self.number).encode_to(dest);
        self.state_root.encode_to(dest);
        self.extrinsics_root.encode_to(dest);
        self.digest.encode_to(dest);
    }
}

impl Decode for Header {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        Ok(Header {
            parent_hash: H256::decode(input)?,
            number: Compact::<BlockNumber>::decode(input)?.0,
            state_root: H256::decode(input)?,
            extrinsics_root: H256::decode(input)?,
            digest: Vec::<DigestItem>::decode(input)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn substrate_header_vectors() {
        let genesis = Header {
            parent_hash: H256::zero(),
            number: 0,
            state_root: H256([0x11; 32]),
            extrinsics_root: H256([0x22; 32]),
            digest: vec![],
        };
        assert_eq!(genesis.encode().len(), 98);
        assert_eq!(
            genesis.hash().to_hex(),
            "0xb169411d99410cee386069c51575e69d3d81f7af0ed99251c82f2320854561eb"
        );
        let child = Header {
            parent_hash: genesis.hash(),
            number: 1,
            state_root: H256([0x11; 32]),
            extrinsics_root: H256([0x22; 32]),
            digest: vec![DigestItem::PreRuntime(*b"aura", 4u64.encode())],
        };
        assert_eq!(
            hex::encode(DigestItem::PreRuntime(*b"aura", 4u64.encode()).encode()),
            "0661757261200400000000000000"
        );
        assert_eq!(
            child.hash().to_hex(),
            "0x920cfc47bdea2cf2aab51d1a8687ef60e1e1dca7921e193a86b87abffa700dcd"
        );
        assert_eq!(Header::decode(&mut &child.encode()[..]).unwrap(), child);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Header::decode(&mut &bytes[..]);
            let _ = DigestItem::decode(&mut &bytes[..]);
        }
    }
}
