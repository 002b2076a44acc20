//! Lookups, ordered iteration and proof recording.

use std::cell::RefCell;
use std::collections::BTreeMap;

use phala_primitives::H256;

use crate::nibbles::{Nibbles, common_prefix};
use crate::node::Node;
use crate::{MAX_KEY_LEN, NodeStore, TrieError, load};

/// The value stored under `key` in the trie at `root`.
pub fn get(store: &dyn NodeStore, root: &H256, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
    if key.len() > MAX_KEY_LEN {
        return Err(TrieError::KeyTooLong(key.len()));
    }
    let path = Nibbles::from_key(key);
    let mut rest: &[u8] = path.as_slice();
    let mut hash = *root;
    loop {
        match load(store, &hash)? {
            Node::Empty => return Ok(None),
            Node::Leaf { partial, value } => {
                return Ok((partial.as_slice() == rest).then_some(value));
            }
            Node::Branch {
                partial,
                children,
                value,
            } => {
                let Some(after) = rest.strip_prefix(partial.as_slice()) else {
                    return Ok(None);
                };
                let Some((&idx, tail)) = after.split_first() else {
                    return Ok(value);
                };
                match children.get(usize::from(idx)).copied().flatten() {
                    Some(child) => {
                        hash = child;
                        rest = tail;
                    }
                    None => return Ok(None),
                }
            }
        }
    }
}

/// A store wrapper that remembers every node read through it: the proof of those reads.
pub struct ProofRecorder<'a> {
    inner: &'a dyn NodeStore,
    recorded: RefCell<BTreeMap<H256, Vec<u8>>>,
}

impl<'a> ProofRecorder<'a> {
    pub fn new(inner: &'a dyn NodeStore) -> Self {
        ProofRecorder {
            inner,
            recorded: RefCell::new(BTreeMap::new()),
        }
    }

    /// The recorded nodes, each once, in hash order.
    pub fn into_proof(self) -> Vec<Vec<u8>> {
        self.recorded.into_inner().into_values().collect()
    }
}

impl NodeStore for ProofRecorder<'_> {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        let node = self.inner.get_node(hash)?;
        if let Some(bytes) = &node {
            self.recorded.borrow_mut().insert(*hash, bytes.clone());
        }
        Ok(node)
    }
}

/// The value under `key` and the nodes that prove it (or prove its absence).
pub fn get_with_proof(
    store: &dyn NodeStore,
    root: &H256,
    key: &[u8],
) -> Result<(Option<Vec<u8>>, Vec<Vec<u8>>), TrieError> {
    let recorder = ProofRecorder::new(store);
    let value = get(&recorder, root, key)?;
    Ok((value, recorder.into_proof()))
}

/// One proof covering every key in `keys`.
pub fn proof_for_keys<K: AsRef<[u8]>>(
    store: &dyn NodeStore,
    root: &H256,
    keys: &[K],
) -> Result<Vec<Vec<u8>>, TrieError> {
    let recorder = ProofRecorder::new(store);
    for key in keys {
        get(&recorder, root, key.as_ref())?;
    }
    Ok(recorder.into_proof())
}

/// Where a node's path stands relative to the exclusive lower bound.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Every key below the node is after the bound.
    Above,
    /// The node's path is a prefix of the bound (or equal to it).
    OnPath,
    /// Every key below the node is at or before the bound.
    Below,
}

fn against_bound(path: &[u8], bound: Option<&[u8]>) -> Bound {
    let Some(bound) = bound else {
        return Bound::Above;
    };
    let c = common_prefix(path, bound);
    if c == path.len() {
        Bound::OnPath
    } else if c == bound.len() {
        Bound::Above
    } else if path.get(c) < bound.get(c) {
        Bound::Below
    } else {
        Bound::Above
    }
}

/// Whether any key below `path` can start with `prefix`.
fn may_match_prefix(path: &[u8], prefix: &[u8]) -> bool {
    let n = path.len().min(prefix.len());
    path.get(..n) == prefix.get(..n)
}

struct RangeWalk<'a> {
    store: &'a dyn NodeStore,
    prefix: Vec<u8>,
    start_after: Option<Vec<u8>>,
    limit: usize,
    out: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RangeWalk<'_> {
    fn visit(&mut self, hash: &H256, mut path: Vec<u8>) -> Result<(), TrieError> {
        if self.out.len() >= self.limit {
            return Ok(());
        }
        let (partial, children, value) = match load(self.store, hash)? {
            Node::Empty => return Ok(()),
            Node::Leaf { partial, value } => (partial, None, Some(value)),
            Node::Branch {
                partial,
                children,
                value,
            } => (partial, Some(children), value),
        };
        path.extend_from_slice(partial.as_slice());
        if !may_match_prefix(&path, &self.prefix) {
            return Ok(());
        }
        let bound = against_bound(&path, self.start_after.as_deref());
        if bound == Bound::Below {
            return Ok(());
        }
        let value_is_after = match bound {
            Bound::Above => true,
            // The node's own key equals or precedes the bound.
            Bound::OnPath | Bound::Below => false,
        };
        if let Some(value) = value
            && value_is_after
            && path.len() >= self.prefix.len()
            && let Some(key) = Nibbles(path.clone()).to_key()
        {
            self.out.push((key, value));
        }
        let Some(children) = children else {
            return Ok(());
        };
        let first_child = match (bound, &self.start_after) {
            (Bound::OnPath, Some(s)) => s.get(path.len()).copied().unwrap_or(0),
            _ => 0,
        };
        for (idx, child) in children.iter().enumerate().skip(usize::from(first_child)) {
            let Some(child) = child else { continue };
            let mut child_path = path.clone();
            child_path.push(u8::try_from(idx).unwrap_or(0));
            if !may_match_prefix(&child_path, &self.prefix) {
                continue;
            }
            self.visit(child, child_path)?;
            if self.out.len() >= self.limit {
                break;
            }
        }
        Ok(())
    }
}

/// Up to `limit` entries whose keys start with `prefix` and are strictly greater than
/// `start_after`, in key order.
pub fn iter_range(
    store: &dyn NodeStore,
    root: &H256,
    prefix: &[u8],
    start_after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, TrieError> {
    let mut walk = RangeWalk {
        store,
        prefix: Nibbles::from_key(prefix).0,
        start_after: start_after.map(|s| Nibbles::from_key(s).0),
        limit,
        out: Vec::new(),
    };
    if limit > 0 {
        walk.visit(root, Vec::new())?;
    }
    Ok(walk.out)
}
