//! Blocks: a header and the extrinsics it commits to.

use parity_scale_codec::{Compact, Decode, Encode, Error as CodecError, Input, Output};

use crate::{H256, Header, hashing::binary_merkle_root};

/// Largest encoded extrinsic the chain accepts; a transaction pool and block decoder refuse
/// anything larger before looking inside it.
pub const MAX_EXTRINSIC_LEN: usize = 4 * 1024 * 1024;

/// An extrinsic kept as its exact wire bytes (compact length prefix included), as served by
/// `chain_getBlock` and hashed for the transaction hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OpaqueExtrinsic(Vec<u8>);

impl OpaqueExtrinsic {
    /// Wraps wire bytes after checking the length prefix covers exactly the rest.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        if bytes.len() > MAX_EXTRINSIC_LEN {
            return Err("Extrinsic exceeds the maximum length".into());
        }
        let mut input = bytes.as_slice();
        let len = Compact::<u32>::decode(&mut input)?.0 as usize;
        if input.len() != len {
            return Err("Extrinsic length prefix does not match its size".into());
        }
        Ok(OpaqueExtrinsic(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// blake2_256 of the wire bytes: the transaction hash clients compute.
    pub fn hash(&self) -> H256 {
        crate::hashing::hash256(&self.0)
    }
}

impl core::fmt::Debug for OpaqueExtrinsic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OpaqueExtrinsic({})", self.hash())
    }
}

impl Encode for OpaqueExtrinsic {
    fn size_hint(&self) -> usize {
        self.0.len()
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        dest.write(&self.0);
    }
}

impl Decode for OpaqueExtrinsic {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        let len = Compact::<u32>::decode(input)?.0 as usize;
        if len > MAX_EXTRINSIC_LEN {
            return Err("Extrinsic exceeds the maximum length".into());
        }
        let mut bytes = Compact(len as u32).encode();
        let start = bytes.len();
        bytes.resize(start.saturating_add(len), 0);
        input.read(bytes.get_mut(start..).unwrap_or_default())?;
        Ok(OpaqueExtrinsic(bytes))
    }
}

/// A block as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    pub header: Header,
    pub extrinsics: Vec<OpaqueExtrinsic>,
}

impl Block {
    pub fn hash(&self) -> H256 {
        self.header.hash()
    }
}

/// The extrinsics root a header commits to: a binary Merkle root over the wire bytes.
pub fn extrinsics_root(extrinsics: &[OpaqueExtrinsic]) -> H256 {
    binary_merkle_root(extrinsics.iter().map(|x| x.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn opaque_round_trip() {
        let x = OpaqueExtrinsic::from_bytes(vec![8, 4, 1]).unwrap();
        let block = Block {
            header: Header {
                parent_hash: H256::zero(),
                number: 1,
                state_root: H256::zero(),
                extrinsics_root: extrinsics_root(std::slice::from_ref(&x)),
                digest: vec![],
            },
            extrinsics: vec![x.clone()],
        };
        let bytes = block.encode();
        assert_eq!(Block::decode(&mut &bytes[..]).unwrap(), block);
        assert!(OpaqueExtrinsic::from_bytes(vec![12, 4, 1]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Block::decode(&mut &bytes[..]);
            let _ = OpaqueExtrinsic::from_bytes(bytes);
        }
    }
}
