//! The Merkle Patricia trie that commits to the chain state.
//!
//! Keys are raw storage keys walked as nibbles (radix 16), so the trie keeps them in byte
//! order: prefix iteration (`state_getKeysPaged`) works on any historical root, not only on
//! the latest state. Branch nodes carry a partial key (no separate extension nodes), children
//! are always referenced by `blake2_256` hash, and values sit inline in their node, so a read
//! proof is simply the set of nodes on the paths from the root to the keys.
//!
//! The crate does no I/O: nodes come from a [`NodeStore`] and an update returns the nodes it
//! created and the ones it replaced, for the caller to persist and reference-count. Proof
//! verification ([`verify_proof`]) needs nothing but the root and the proof, so it can run
//! inside a TEE light client.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod nibbles;
mod node;
mod proof;
mod read;
mod update;

use std::collections::HashMap;

pub use nibbles::Nibbles;
pub use node::{Node, empty_root};
pub use proof::{ProofError, verify_proof};
pub use read::{ProofRecorder, get, get_with_proof, iter_range, proof_for_keys};
pub use update::{TrieDiff, apply_changes};

use phala_primitives::H256;

/// Longest key the trie accepts. Storage keys are at most a few hundred bytes; the bound keeps
/// the recursion in reads and updates shallow whatever the input.
pub const MAX_KEY_LEN: usize = 512;

/// Why a trie operation failed. Any of these means the store is missing data or corrupt: a
/// well-formed trie over a complete store never fails.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrieError {
    #[error("trie node {0} is missing from the store")]
    MissingNode(H256),
    #[error("trie node {0} does not decode: {1}")]
    CorruptNode(H256, String),
    #[error("storage key of {0} bytes exceeds the {MAX_KEY_LEN}-byte limit")]
    KeyTooLong(usize),
    #[error("node store failed: {0}")]
    Store(String),
}

/// Where trie nodes are read from: a database, an in-memory overlay, or a proof.
pub trait NodeStore {
    /// The encoded node with this hash, if the store has it.
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError>;
}

impl NodeStore for HashMap<H256, Vec<u8>> {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.get(hash).cloned())
    }
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).get_node(hash)
    }
}

/// Loads and decodes a node; the empty root decodes to [`Node::Empty`] without a lookup.
pub(crate) fn load(store: &dyn NodeStore, hash: &H256) -> Result<Node, TrieError> {
    if *hash == empty_root() {
        return Ok(Node::Empty);
    }
    let bytes = store.get_node(hash)?.ok_or(TrieError::MissingNode(*hash))?;
    Node::decode(&bytes).map_err(|e| TrieError::CorruptNode(*hash, e))
}
