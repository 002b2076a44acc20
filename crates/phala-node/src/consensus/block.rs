//! Blocks as the consensus engine sees them.
//!
//! A consensus block wraps a chain [`Block`]: its digest is the block hash
//! (`blake2_256(SCALE(header))`), its height the header number and its parent the header's
//! parent hash, so a finalization certificate signs exactly the hash that RPC clients and
//! light clients see. On the wire it is the block's SCALE encoding as a length-delimited byte
//! string; decoding accepts only the canonical encoding, as the engine requires.

use std::sync::Arc;

use bytes::BufMut;
use commonware_codec::MaxEncodeSize;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, Write, varint::UInt};
use commonware_consensus::{BoundedBlock, Heightable, types::Height};
use commonware_cryptography::{Digestible, sha256::Digest};
use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Block, H256};

/// Largest encoded block accepted from the network: the runtime's 5 MiB block limit plus the
/// header and the inherent.
pub const MAX_BLOCK_BYTES: usize = 5 * 1024 * 1024 + 64 * 1024;

/// The engine's 32-byte digest type, holding a block hash.
pub fn digest_of(hash: &H256) -> Digest {
    Digest(hash.0)
}

pub fn hash_of(digest: &Digest) -> H256 {
    H256(digest.0)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusBlock {
    block: Arc<Block>,
    hash: H256,
    encoded: Arc<Vec<u8>>,
}

impl ConsensusBlock {
    pub fn new(block: Block) -> Self {
        let hash = block.hash();
        let encoded = Arc::new(block.encode());
        ConsensusBlock {
            block: Arc::new(block),
            hash,
            encoded,
        }
    }

    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn hash(&self) -> H256 {
        self.hash
    }
}

impl Write for ConsensusBlock {
    fn write(&self, buf: &mut impl BufMut) {
        self.encoded.as_slice().write(buf);
    }
}

impl EncodeSize for ConsensusBlock {
    fn encode_size(&self) -> usize {
        self.encoded.as_slice().encode_size()
    }
}

impl Read for ConsensusBlock {
    /// Maximum encoded block size.
    type Cfg = usize;

    fn read_cfg(buf: &mut impl Buf, max: &usize) -> Result<Self, CodecError> {
        let bytes = Vec::<u8>::read_cfg(buf, &(RangeCfg::new(..=*max), ()))?;
        let block = Block::decode(&mut bytes.as_slice())
            .map_err(|_| CodecError::Invalid("phala block", "not a SCALE-encoded block"))?;
        let canonical = block.encode();
        if canonical != bytes {
            return Err(CodecError::Invalid("phala block", "non-canonical encoding"));
        }
        let hash = block.hash();
        Ok(ConsensusBlock {
            block: Arc::new(block),
            hash,
            encoded: Arc::new(canonical),
        })
    }
}

impl Digestible for ConsensusBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        digest_of(&self.hash)
    }
}

impl Heightable for ConsensusBlock {
    fn height(&self) -> Height {
        Height::new(u64::from(self.block.header.number))
    }
}

impl commonware_consensus::Block for ConsensusBlock {
    fn parent(&self) -> Digest {
        digest_of(&self.block.header.parent_hash)
    }
}

impl BoundedBlock for ConsensusBlock {
    fn max_encode_size(max: &usize) -> usize {
        UInt::<u32>::MAX_ENCODE_SIZE.saturating_add(*max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode as _, Encode as _};
    use phala_primitives::Header;

    fn sample() -> ConsensusBlock {
        ConsensusBlock::new(Block {
            header: Header {
                parent_hash: H256([1; 32]),
                number: 7,
                state_root: H256([2; 32]),
                extrinsics_root: H256([3; 32]),
                digest: vec![],
            },
            extrinsics: vec![],
        })
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let block = sample();
        let bytes = block.encode();
        let back = ConsensusBlock::decode_cfg(bytes.clone(), &MAX_BLOCK_BYTES).unwrap();
        assert_eq!(back, block);
        assert_eq!(back.digest(), digest_of(&block.block().hash()));
        assert_eq!(back.height(), Height::new(7));
        assert!(
            ConsensusBlock::decode_cfg(bytes.slice(..bytes.len() - 1), &MAX_BLOCK_BYTES).is_err()
        );
        assert!(ConsensusBlock::decode_cfg(bytes.clone(), &10).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = ConsensusBlock::decode_cfg(bytes::Bytes::from(bytes), &MAX_BLOCK_BYTES);
        }
    }
}
