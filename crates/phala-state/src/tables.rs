//! Table layout of the chain database.

use redb::TableDefinition;

/// Latest finalized state: storage key → value.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Trie nodes of recent states: node hash → u32 LE reference count ‖ encoded node.
pub const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("trie_nodes");
/// Per block: SCALE `Vec<H256>` of the nodes it stopped referencing, deleted once the block is
/// older than the pruning window.
pub const DEATH_ROW: TableDefinition<u32, &[u8]> = TableDefinition::new("death_row");
/// Finalized blocks by number: SCALE `Block`.
pub const BLOCKS: TableDefinition<u32, &[u8]> = TableDefinition::new("blocks");
/// Block hash → number, for finalized blocks.
pub const HASHES: TableDefinition<&[u8], u32> = TableDefinition::new("block_hashes");
/// Finality certificate of each finalized block, by number.
pub const JUSTIFICATIONS: TableDefinition<u32, &[u8]> = TableDefinition::new("justifications");
/// Singletons.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub const META_GENESIS: &str = "genesis_hash";
pub const META_FINALIZED: &str = "finalized";
/// Layout version of this database; bumped on incompatible changes.
pub const META_VERSION: &str = "version";
pub const VERSION: u32 = 1;
