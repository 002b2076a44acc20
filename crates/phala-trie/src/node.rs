//! Node encoding.
//!
//! ```text
//! empty  = 0x00
//! leaf   = 0x01 ‖ partial ‖ Vec<u8> value
//! branch = 0x02 ‖ partial ‖ u16 LE child bitmap ‖ 32-byte hash per present child ‖ Option<Vec<u8>> value
//! partial = Compact<u32> nibble count ‖ nibbles packed two per byte, high first, odd tail zero-padded
//! ```
//! Decoding is strict: every node has exactly one encoding, so equal content means equal hash.

use parity_scale_codec::{Compact, Decode, Encode};
use phala_primitives::{H256, hashing::blake2_256};

use crate::MAX_KEY_LEN;
use crate::nibbles::Nibbles;

const TAG_EMPTY: u8 = 0;
const TAG_LEAF: u8 = 1;
const TAG_BRANCH: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Empty,
    Leaf {
        partial: Nibbles,
        value: Vec<u8>,
    },
    Branch {
        partial: Nibbles,
        children: Box<[Option<H256>; 16]>,
        value: Option<Vec<u8>>,
    },
}

/// Root hash of the empty trie.
pub fn empty_root() -> H256 {
    H256(blake2_256(&[TAG_EMPTY]))
}

fn encode_partial(p: &Nibbles, out: &mut Vec<u8>) {
    Compact(u32::try_from(p.len()).unwrap_or(u32::MAX)).encode_to(out);
    for pair in p.as_slice().chunks(2) {
        match pair {
            [hi, lo] => out.push((hi << 4) | lo),
            [hi] => out.push(hi << 4),
            _ => {}
        }
    }
}

fn decode_partial(input: &mut &[u8]) -> Result<Nibbles, String> {
    let len = Compact::<u32>::decode(input).map_err(|e| e.to_string())?.0 as usize;
    if len > MAX_KEY_LEN.saturating_mul(2) {
        return Err("partial key too long".into());
    }
    let byte_len = len.div_ceil(2);
    let bytes = input.get(..byte_len).ok_or("partial key truncated")?;
    *input = input.get(byte_len..).unwrap_or_default();
    let mut nibbles = Vec::with_capacity(len);
    for b in bytes {
        nibbles.push(b >> 4);
        nibbles.push(b & 0x0f);
    }
    if !len.is_multiple_of(2) && nibbles.pop() != Some(0) {
        return Err("non-zero padding nibble".into());
    }
    Ok(Nibbles(nibbles))
}

impl Node {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Node::Empty => out.push(TAG_EMPTY),
            Node::Leaf { partial, value } => {
                out.push(TAG_LEAF);
                encode_partial(partial, &mut out);
                value.encode_to(&mut out);
            }
            Node::Branch {
                partial,
                children,
                value,
            } => {
                out.push(TAG_BRANCH);
                encode_partial(partial, &mut out);
                let mut bitmap = 0u16;
                for (i, child) in children.iter().enumerate() {
                    if child.is_some() {
                        bitmap |= 1 << i;
                    }
                }
                bitmap.encode_to(&mut out);
                for child in children.iter().flatten() {
                    out.extend_from_slice(child.as_bytes());
                }
                value.encode_to(&mut out);
            }
        }
        out
    }

    pub fn hash(&self) -> H256 {
        H256(blake2_256(&self.encode()))
    }

    /// Strict decoding of one node: trailing bytes, padding and non-canonical branches are
    /// errors.
    pub fn decode(bytes: &[u8]) -> Result<Node, String> {
        let mut input = bytes;
        let tag = *input.first().ok_or("empty node encoding")?;
        input = input.get(1..).unwrap_or_default();
        let node = match tag {
            TAG_EMPTY => Node::Empty,
            TAG_LEAF => {
                let partial = decode_partial(&mut input)?;
                let value = Vec::<u8>::decode(&mut input).map_err(|e| e.to_string())?;
                Node::Leaf { partial, value }
            }
            TAG_BRANCH => {
                let partial = decode_partial(&mut input)?;
                let bitmap = u16::decode(&mut input).map_err(|e| e.to_string())?;
                let mut children: Box<[Option<H256>; 16]> = Box::new([None; 16]);
                for (i, slot) in children.iter_mut().enumerate() {
                    if bitmap & (1 << i) != 0 {
                        let h = <[u8; 32]>::decode(&mut input).map_err(|e| e.to_string())?;
                        *slot = Some(H256(h));
                    }
                }
                let value = Option::<Vec<u8>>::decode(&mut input).map_err(|e| e.to_string())?;
                let count = bitmap.count_ones();
                if count == 0 || (count == 1 && value.is_none()) {
                    return Err("branch with too few children".into());
                }
                Node::Branch {
                    partial,
                    children,
                    value,
                }
            }
            _ => return Err(format!("unknown node tag {tag}")),
        };
        if !input.is_empty() {
            return Err("trailing bytes after node".into());
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        let leaf = Node::Leaf {
            partial: Nibbles(vec![1, 2, 3]),
            value: b"v".to_vec(),
        };
        assert_eq!(Node::decode(&leaf.encode()).unwrap(), leaf);
        let mut children: Box<[Option<H256>; 16]> = Box::new([None; 16]);
        children[3] = Some(H256([3; 32]));
        children[15] = Some(H256([15; 32]));
        let branch = Node::Branch {
            partial: Nibbles(vec![]),
            children,
            value: Some(vec![]),
        };
        assert_eq!(Node::decode(&branch.encode()).unwrap(), branch);
        assert_eq!(Node::decode(&Node::Empty.encode()).unwrap(), Node::Empty);
    }

    #[test]
    fn rejects_non_canonical() {
        let leaf = Node::Leaf {
            partial: Nibbles(vec![1]),
            value: vec![],
        };
        let mut bytes = leaf.encode();
        bytes[2] |= 0x01; // set the padding nibble
        assert!(Node::decode(&bytes).is_err());
        let mut trailing = leaf.encode();
        trailing.push(0);
        assert!(Node::decode(&trailing).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(node) = Node::decode(&bytes) {
                prop_assert_eq!(node.encode(), bytes);
            }
        }
    }
}
