//! Read access to the state of one block.

use std::sync::Arc;

use phala_primitives::{BlockNumber, H256};
use phala_trie::{NodeStore, TrieError};
use redb::ReadOnlyTable;

use crate::{StateError, store::PendingBlock};

/// Trie nodes as the database holds them: a 4-byte reference count, then the node.
pub(crate) struct DbNodes(pub ReadOnlyTable<&'static [u8], &'static [u8]>);

impl NodeStore for DbNodes {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        let entry = self
            .0
            .get(hash.as_bytes().as_slice())
            .map_err(|e| TrieError::Store(e.to_string()))?;
        Ok(entry.and_then(|guard| guard.value().get(4..).map(<[u8]>::to_vec)))
    }
}

/// Nodes of unfinalized blocks first (newest first), then the database.
struct LayeredNodes<'a> {
    overlays: &'a [Arc<PendingBlock>],
    db: &'a DbNodes,
}

impl NodeStore for LayeredNodes<'_> {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        for overlay in self.overlays.iter().rev() {
            if let Some(node) = overlay.node(hash) {
                return Ok(Some(node.to_vec()));
            }
        }
        self.db.get_node(hash)
    }
}

/// How a view reads values.
pub(crate) enum Base {
    /// The finalized head (plus unfinalized blocks on top): the flat table is exact for it.
    Head {
        flat: ReadOnlyTable<&'static [u8], &'static [u8]>,
        overlays: Vec<Arc<PendingBlock>>,
    },
    /// An older finalized block: read through its trie root.
    Historical,
}

/// The state after one block, on a consistent snapshot of the database: later commits do not
/// change what a view reads.
pub struct StateView {
    pub(crate) number: BlockNumber,
    pub(crate) hash: H256,
    pub(crate) root: H256,
    pub(crate) nodes: DbNodes,
    pub(crate) base: Base,
}

impl StateView {
    pub fn number(&self) -> BlockNumber {
        self.number
    }

    /// Hash of the block whose post-state this is.
    pub fn block_hash(&self) -> H256 {
        self.hash
    }

    pub fn state_root(&self) -> H256 {
        self.root
    }

    /// The trie nodes behind this state, for computing the next root or building proofs.
    pub fn with_node_store<R>(&self, f: impl FnOnce(&dyn NodeStore) -> R) -> R {
        match &self.base {
            Base::Head { overlays, .. } => f(&LayeredNodes {
                overlays,
                db: &self.nodes,
            }),
            Base::Historical => f(&self.nodes),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match &self.base {
            Base::Head { flat, overlays } => {
                for overlay in overlays.iter().rev() {
                    if let Some(change) = overlay.changes.get(key) {
                        return Ok(change.clone());
                    }
                }
                let value = flat.get(key).map_err(StateError::db)?;
                Ok(value.map(|guard| guard.value().to_vec()))
            }
            Base::Historical => Ok(phala_trie::get(&self.nodes, &self.root, key)?),
        }
    }

    /// Up to `limit` `(key, value)` pairs with keys under `prefix` and strictly after
    /// `start_after`, in key order.
    pub fn pairs_paged(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        match &self.base {
            Base::Head { flat, overlays } if overlays.is_empty() => {
                use std::ops::Bound;
                let lower = match start_after {
                    Some(s) if s >= prefix => Bound::Excluded(s),
                    _ => Bound::Included(prefix),
                };
                let range = flat
                    .range::<&[u8]>((lower, Bound::Unbounded))
                    .map_err(StateError::db)?;
                let mut out = Vec::new();
                for entry in range {
                    if out.len() >= limit {
                        break;
                    }
                    let (k, v) = entry.map_err(StateError::db)?;
                    let key = k.value();
                    if !key.starts_with(prefix) {
                        break;
                    }
                    out.push((key.to_vec(), v.value().to_vec()));
                }
                Ok(out)
            }
            _ => Ok(self.with_node_store(|store| {
                phala_trie::iter_range(store, &self.root, prefix, start_after, limit)
            })?),
        }
    }

    /// Keys only; see [`StateView::pairs_paged`].
    pub fn keys_paged(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StateError> {
        Ok(self
            .pairs_paged(prefix, start_after, limit)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Trie nodes proving the values (or absence) of `keys` against [`StateView::state_root`].
    pub fn read_proof<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Vec<u8>>, StateError> {
        Ok(self.with_node_store(|store| phala_trie::proof_for_keys(store, &self.root, keys))?)
    }
}
