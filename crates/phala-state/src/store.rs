//! Opening the database, genesis, unfinalized blocks and the atomic finalization commit.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Block, BlockNumber, H256, Header};
use phala_trie::{TrieDiff, apply_changes, empty_root};
use redb::{Database, ReadableDatabase, ReadableTable};

use crate::tables::*;
use crate::view::{Base, DbNodes, StateView};
use crate::{Changes, StateError};

#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The database file.
    pub path: PathBuf,
    /// Number of recent states kept readable; `None` keeps all (archive).
    pub pruning: Option<u32>,
    /// Bytes of page cache.
    pub cache_bytes: usize,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            pruning: Some(4096),
            cache_bytes: 128 * 1024 * 1024,
        }
    }
}

/// An executed block that is not finalized yet: its storage changes and the trie nodes of its
/// state root, kept in memory until consensus decides.
pub struct PendingBlock {
    pub block: Block,
    pub hash: H256,
    pub changes: Changes,
    diff: TrieDiff,
    nodes: HashMap<H256, usize>,
}

impl PendingBlock {
    /// `diff` must be the trie update of `changes` on the parent's state, and
    /// `block.header.state_root` its root.
    pub fn new(block: Block, changes: Changes, diff: TrieDiff) -> Self {
        let hash = block.hash();
        let nodes = diff
            .inserted
            .iter()
            .enumerate()
            .map(|(i, (h, _))| (*h, i))
            .collect();
        PendingBlock {
            block,
            hash,
            changes,
            diff,
            nodes,
        }
    }

    pub fn number(&self) -> BlockNumber {
        self.block.header.number
    }

    pub fn header(&self) -> &Header {
        &self.block.header
    }

    pub(crate) fn node(&self, hash: &H256) -> Option<&[u8]> {
        let i = *self.nodes.get(hash)?;
        self.diff.inserted.get(i).map(|(_, bytes)| bytes.as_slice())
    }
}

impl std::fmt::Debug for PendingBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingBlock(#{} {})", self.number(), self.hash)
    }
}

/// What a finalization commit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    pub number: BlockNumber,
    pub hash: H256,
    /// Trie nodes deleted by pruning in this commit.
    pub pruned_nodes: usize,
}

/// The chain database. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    db: Database,
    pruning: Option<u32>,
    pending: RwLock<HashMap<H256, Arc<PendingBlock>>>,
    /// Serialises commits so that each one extends the head the previous one left.
    commit_lock: std::sync::Mutex<()>,
}

fn finalized_pointer(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<(BlockNumber, H256)>, StateError> {
    match meta.get(META_FINALIZED).map_err(StateError::db)? {
        Some(v) => <(BlockNumber, H256)>::decode(&mut v.value())
            .map(Some)
            .map_err(|e| StateError::Corrupt(format!("finalized pointer: {e}"))),
        None => Ok(None),
    }
}

impl Store {
    /// Opens (or creates) the database. A database from an older or newer layout is refused.
    pub fn open(config: StoreConfig) -> Result<Self, StateError> {
        if let Some(dir) = config.path.parent() {
            std::fs::create_dir_all(dir).map_err(StateError::db)?;
        }
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&config.path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StateError::InUse(config.path.display().to_string())
                }
                other => StateError::db(other),
            })?;
        let txn = db.begin_write().map_err(StateError::db)?;
        {
            // Create every table so that readers never meet a missing one.
            txn.open_table(STATE).map_err(StateError::db)?;
            txn.open_table(NODES).map_err(StateError::db)?;
            txn.open_table(DEATH_ROW).map_err(StateError::db)?;
            txn.open_table(BLOCKS).map_err(StateError::db)?;
            txn.open_table(HASHES).map_err(StateError::db)?;
            txn.open_table(JUSTIFICATIONS).map_err(StateError::db)?;
            let mut meta = txn.open_table(META).map_err(StateError::db)?;
            let version = meta
                .get(META_VERSION)
                .map_err(StateError::db)?
                .map(|v| v.value().to_vec());
            match version {
                None => {
                    meta.insert(META_VERSION, VERSION.encode().as_slice())
                        .map_err(StateError::db)?;
                }
                Some(v) if v == VERSION.encode() => {}
                Some(v) => {
                    return Err(StateError::Corrupt(format!(
                        "database layout version {:?} is not the supported {VERSION}",
                        u32::decode(&mut v.as_slice()).ok()
                    )));
                }
            }
        }
        txn.commit().map_err(StateError::db)?;
        Ok(Store {
            db,
            pruning: config.pruning,
            pending: RwLock::new(HashMap::new()),
            commit_lock: Default::default(),
        })
    }

    /// Writes the genesis block and state, or checks that the database already holds this
    /// very genesis. `make_block` receives the genesis state root. Returns the genesis hash.
    pub fn init_genesis(
        &self,
        storage: &BTreeMap<Vec<u8>, Vec<u8>>,
        make_block: impl FnOnce(H256) -> Result<Block, String>,
    ) -> Result<H256, StateError> {
        let diff = apply_changes(
            &HashMap::new(),
            empty_root(),
            storage
                .iter()
                .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
        )?;
        let block = make_block(diff.root).map_err(StateError::Genesis)?;
        let hash = block.hash();
        if let Some(found) = self.genesis_hash()? {
            if found != hash {
                return Err(StateError::GenesisMismatch {
                    expected: hash,
                    found,
                });
            }
            return Ok(hash);
        }
        let changes: Changes = storage
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let pending = PendingBlock::new(block, changes, diff);
        let txn = self.db.begin_write().map_err(StateError::db)?;
        self.write_block(&txn, &pending, &[])?;
        {
            let mut meta = txn.open_table(META).map_err(StateError::db)?;
            meta.insert(META_GENESIS, hash.encode().as_slice())
                .map_err(StateError::db)?;
        }
        txn.commit().map_err(StateError::db)?;
        tracing::info!(target: "state", %hash, "genesis written");
        Ok(hash)
    }

    pub fn genesis_hash(&self) -> Result<Option<H256>, StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let meta = txn.open_table(META).map_err(StateError::db)?;
        match meta.get(META_GENESIS).map_err(StateError::db)? {
            Some(v) => H256::decode(&mut v.value())
                .map(Some)
                .map_err(|e| StateError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    /// Number and hash of the last finalized block.
    pub fn finalized(&self) -> Result<(BlockNumber, H256), StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let meta = txn.open_table(META).map_err(StateError::db)?;
        finalized_pointer(&meta)?.ok_or_else(|| StateError::Corrupt("no genesis written".into()))
    }

    /// A finalized block by number.
    pub fn block_by_number(&self, number: BlockNumber) -> Result<Option<Block>, StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let blocks = txn.open_table(BLOCKS).map_err(StateError::db)?;
        match blocks.get(number).map_err(StateError::db)? {
            Some(v) => Block::decode(&mut v.value())
                .map(Some)
                .map_err(|e| StateError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }

    /// Number of a finalized block.
    pub fn block_number(&self, hash: &H256) -> Result<Option<BlockNumber>, StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let hashes = txn.open_table(HASHES).map_err(StateError::db)?;
        Ok(hashes
            .get(hash.as_bytes().as_slice())
            .map_err(StateError::db)?
            .map(|v| v.value()))
    }

    /// A finalized block by hash.
    pub fn block(&self, hash: &H256) -> Result<Option<Block>, StateError> {
        match self.block_number(hash)? {
            Some(n) => self.block_by_number(n),
            None => Ok(None),
        }
    }

    /// The finality certificate stored with a finalized block (empty for genesis).
    pub fn justification(&self, number: BlockNumber) -> Result<Option<Vec<u8>>, StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let table = txn.open_table(JUSTIFICATIONS).map_err(StateError::db)?;
        Ok(table
            .get(number)
            .map_err(StateError::db)?
            .map(|v| v.value().to_vec()))
    }

    /// An unfinalized block that has been executed.
    pub fn pending(&self, hash: &H256) -> Option<Arc<PendingBlock>> {
        self.pending.read().ok()?.get(hash).cloned()
    }

    /// Keeps an executed, unfinalized block so that children can be built on it and it can be
    /// committed once finalized.
    pub fn insert_pending(&self, block: PendingBlock) -> Arc<PendingBlock> {
        let block = Arc::new(block);
        if let Ok(mut pending) = self.pending.write() {
            pending.insert(block.hash, block.clone());
        }
        block
    }

    /// The state after the block `hash`: finalized (within the pruning window) or pending.
    pub fn view_at(&self, hash: &H256) -> Result<StateView, StateError> {
        let txn = self.db.begin_read().map_err(StateError::db)?;
        let meta = txn.open_table(META).map_err(StateError::db)?;
        let (head_number, head_hash) = finalized_pointer(&meta)?
            .ok_or_else(|| StateError::Corrupt("no genesis written".into()))?;
        let nodes = DbNodes(txn.open_table(NODES).map_err(StateError::db)?);
        let head_view = |overlays: Vec<Arc<PendingBlock>>,
                         number,
                         hash,
                         root|
         -> Result<StateView, StateError> {
            Ok(StateView {
                number,
                hash,
                root,
                nodes: DbNodes(txn.open_table(NODES).map_err(StateError::db)?),
                base: Base::Head {
                    flat: txn.open_table(STATE).map_err(StateError::db)?,
                    overlays,
                },
            })
        };

        // Pending blocks stacked on the head this snapshot sees.
        let pending_chain = {
            let pending = self
                .pending
                .read()
                .map_err(|_| StateError::Corrupt("pending lock poisoned".into()))?;
            let mut chain = Vec::new();
            let mut cursor = pending.get(hash).cloned();
            while let Some(block) = cursor {
                if block.number() <= head_number {
                    chain.clear();
                    break;
                }
                let parent = block.block.header.parent_hash;
                chain.push(block);
                if parent == head_hash {
                    break;
                }
                cursor = pending.get(&parent).cloned();
                if cursor.is_none() {
                    chain.clear();
                }
            }
            chain
        };
        if let Some(top) = pending_chain.first() {
            let (number, hash, root) = (top.number(), top.hash, top.block.header.state_root);
            let mut overlays = pending_chain;
            overlays.reverse();
            return head_view(overlays, number, hash, root);
        }

        let hashes = txn.open_table(HASHES).map_err(StateError::db)?;
        let number = match hashes
            .get(hash.as_bytes().as_slice())
            .map_err(StateError::db)?
        {
            Some(n) => n.value(),
            None => {
                return Err(match self.pending(hash) {
                    Some(p) => StateError::NotOnHead {
                        hash: *hash,
                        number: p.number(),
                        head: head_number,
                    },
                    None => StateError::UnknownBlock(*hash),
                });
            }
        };
        let blocks = txn.open_table(BLOCKS).map_err(StateError::db)?;
        let header = blocks
            .get(number)
            .map_err(StateError::db)?
            .map(|v| Block::decode(&mut v.value()))
            .transpose()
            .map_err(|e| StateError::Corrupt(e.to_string()))?
            .ok_or_else(|| StateError::Corrupt(format!("block #{number} indexed but missing")))?
            .header;
        if number == head_number {
            return head_view(Vec::new(), number, *hash, header.state_root);
        }
        if let Some(window) = self.pruning
            && number < head_number.saturating_sub(window)
        {
            return Err(StateError::Pruned { number, window });
        }
        Ok(StateView {
            number,
            hash: *hash,
            root: header.state_root,
            nodes,
            base: Base::Historical,
        })
    }

    /// The state after the last finalized block.
    pub fn latest_view(&self) -> Result<StateView, StateError> {
        let (_, hash) = self.finalized()?;
        self.view_at(&hash)
    }

    /// Finalizes a pending block with its certificate. It must be the child of the current
    /// finalized head. Pending blocks at or below its height are dropped.
    pub fn commit(&self, hash: &H256, justification: &[u8]) -> Result<CommitInfo, StateError> {
        let block = self.pending(hash).ok_or(StateError::UnknownBlock(*hash))?;
        self.commit_block(&block, justification)
    }

    /// Finalizes an executed block (see [`Store::commit`]).
    pub fn commit_block(
        &self,
        block: &PendingBlock,
        justification: &[u8],
    ) -> Result<CommitInfo, StateError> {
        let _guard = self
            .commit_lock
            .lock()
            .map_err(|_| StateError::Corrupt("commit lock poisoned".into()))?;
        let (head_number, head_hash) = self.finalized()?;
        if block.block.header.parent_hash != head_hash
            || Some(block.number()) != head_number.checked_add(1)
        {
            return Err(StateError::NotOnHead {
                hash: block.hash,
                number: block.number(),
                head: head_number,
            });
        }
        let txn = self.db.begin_write().map_err(StateError::db)?;
        let pruned_nodes = self.write_block(&txn, block, justification)?;
        txn.commit().map_err(StateError::db)?;
        if let Ok(mut pending) = self.pending.write() {
            pending.retain(|_, p| p.number() > block.number());
        }
        Ok(CommitInfo {
            number: block.number(),
            hash: block.hash,
            pruned_nodes,
        })
    }

    /// Everything one finalized block changes, inside the caller's write transaction.
    fn write_block(
        &self,
        txn: &redb::WriteTransaction,
        block: &PendingBlock,
        justification: &[u8],
    ) -> Result<usize, StateError> {
        let number = block.number();
        {
            let mut state = txn.open_table(STATE).map_err(StateError::db)?;
            for (key, value) in &block.changes {
                match value {
                    Some(v) => state
                        .insert(key.as_slice(), v.as_slice())
                        .map(drop)
                        .map_err(StateError::db)?,
                    None => state
                        .remove(key.as_slice())
                        .map(drop)
                        .map_err(StateError::db)?,
                }
            }
        }
        let mut pruned_nodes = 0;
        {
            let mut nodes = txn.open_table(NODES).map_err(StateError::db)?;
            for (h, bytes) in &block.diff.inserted {
                let key = h.as_bytes().as_slice();
                let count = match nodes.get(key).map_err(StateError::db)? {
                    Some(existing) => refcount(existing.value())?.saturating_add(1),
                    None => 1,
                };
                let mut value = count.to_le_bytes().to_vec();
                value.extend_from_slice(bytes);
                nodes
                    .insert(key, value.as_slice())
                    .map_err(StateError::db)?;
            }
            let mut death_row = txn.open_table(DEATH_ROW).map_err(StateError::db)?;
            if !block.diff.removed.is_empty() {
                death_row
                    .insert(number, block.diff.removed.encode().as_slice())
                    .map_err(StateError::db)?;
            }
            if let Some(doomed_block) = self.pruning.and_then(|w| number.checked_sub(w)) {
                let doomed = death_row
                    .remove(doomed_block)
                    .map_err(StateError::db)?
                    .map(|v| v.value().to_vec());
                if let Some(doomed) = doomed {
                    let hashes = Vec::<H256>::decode(&mut doomed.as_slice())
                        .map_err(|e| StateError::Corrupt(e.to_string()))?;
                    for h in hashes {
                        pruned_nodes += decrement(&mut nodes, &h)?;
                    }
                }
            }
        }
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(StateError::db)?;
            blocks
                .insert(number, block.block.encode().as_slice())
                .map_err(StateError::db)?;
            let mut hashes = txn.open_table(HASHES).map_err(StateError::db)?;
            hashes
                .insert(block.hash.as_bytes().as_slice(), number)
                .map_err(StateError::db)?;
            let mut justifications = txn.open_table(JUSTIFICATIONS).map_err(StateError::db)?;
            justifications
                .insert(number, justification)
                .map_err(StateError::db)?;
            let mut meta = txn.open_table(META).map_err(StateError::db)?;
            meta.insert(META_FINALIZED, (number, block.hash).encode().as_slice())
                .map_err(StateError::db)?;
        }
        Ok(pruned_nodes)
    }
}

fn refcount(value: &[u8]) -> Result<u32, StateError> {
    value
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StateError::Corrupt("trie node entry too short".into()))
}

/// Drops one reference to a node, deleting it at zero. Returns 1 if it was deleted.
fn decrement(
    nodes: &mut redb::Table<&'static [u8], &'static [u8]>,
    hash: &H256,
) -> Result<usize, StateError> {
    let key = hash.as_bytes().as_slice();
    let Some(existing) = nodes
        .get(key)
        .map_err(StateError::db)?
        .map(|v| v.value().to_vec())
    else {
        return Err(StateError::Corrupt(format!(
            "pruning missing trie node {hash}"
        )));
    };
    let count = refcount(&existing)?;
    if count <= 1 {
        nodes.remove(key).map_err(StateError::db)?;
        Ok(1)
    } else {
        let mut value = existing;
        if let Some(rc) = value.get_mut(..4) {
            rc.copy_from_slice(&(count - 1).to_le_bytes());
        }
        nodes
            .insert(key, value.as_slice())
            .map_err(StateError::db)?;
        Ok(0)
    }
}
