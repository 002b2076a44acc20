//! The chain database: every finalized block and the state it leads to, on one embedded store.
//!
//! Finalized data lives in [redb](https://docs.rs/redb) (a copy-on-write B-tree with ACID
//! transactions): blocks by number and hash, their finality certificates, the latest state as
//! a flat key-ordered table (fast reads and `state_getKeysPaged`), and the reference-counted
//! trie nodes of recent states (roots, read proofs and historical reads). Finalizing a block
//! is one write transaction, so a crash leaves either the whole block or none of it.
//!
//! Blocks that consensus is still deciding on are executed against [`StateView`]s layered over
//! the finalized state and kept in memory as [`PendingBlock`]s until finalized or abandoned.
//!
//! Old states are pruned: the nodes a block stopped referencing are deleted `pruning` blocks
//! later, so the states of the last `pruning` blocks stay readable (all of them in archive
//! mode). Blocks and certificates are never pruned.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
    )
)]

mod store;
mod tables;
mod view;

pub use store::{CommitInfo, PendingBlock, Store, StoreConfig};
pub use view::StateView;

use phala_primitives::{BlockNumber, H256};

/// Storage changes of a block: `Some` writes, `None` deletes.
pub type Changes = std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("database error: {0}")]
    Db(String),
    #[error(transparent)]
    Trie(#[from] phala_trie::TrieError),
    #[error("unknown block {0}")]
    UnknownBlock(H256),
    #[error("state of block #{number} has been pruned (the node keeps the last {window} blocks)")]
    Pruned { number: BlockNumber, window: u32 },
    #[error("block {hash} (#{number}) does not extend the finalized head #{head}")]
    NotOnHead {
        hash: H256,
        number: BlockNumber,
        head: BlockNumber,
    },
    #[error(
        "database holds genesis {found}, but this chain's genesis is {expected}; use another base path"
    )]
    GenesisMismatch { expected: H256, found: H256 },
    #[error(
        "the database {0} is in use by another process (is another node running on this base path?)"
    )]
    InUse(String),
    #[error("the genesis block cannot be made: {0}")]
    Genesis(String),
    #[error("database is corrupt: {0}")]
    Corrupt(String),
}

impl StateError {
    pub(crate) fn db(e: impl std::fmt::Display) -> Self {
        StateError::Db(e.to_string())
    }
}
