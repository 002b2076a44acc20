//! Checking read proofs against a trusted root.

use std::collections::HashMap;

use phala_primitives::{H256, hashing::blake2_256};

use crate::{TrieError, get};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the proof lacks node {0} needed to reach a key")]
    Incomplete(H256),
    #[error("the proof holds a malformed node: {0}")]
    Malformed(String),
}

/// The values of `keys` (`None` where the key is absent) in the trie whose root is `root`,
/// using only the nodes in `proof`. Nodes are identified by their hash, so a proof can only
/// ever show what the trie at `root` really holds.
pub fn verify_proof<K: AsRef<[u8]>>(
    root: &H256,
    proof: &[Vec<u8>],
    keys: &[K],
) -> Result<Vec<Option<Vec<u8>>>, ProofError> {
    let store: HashMap<H256, Vec<u8>> = proof
        .iter()
        .map(|node| (H256(blake2_256(node)), node.clone()))
        .collect();
    keys.iter()
        .map(|key| {
            get(&store, root, key.as_ref()).map_err(|e| match e {
                TrieError::MissingNode(h) => ProofError::Incomplete(h),
                other => ProofError::Malformed(other.to_string()),
            })
        })
        .collect()
}
