//! Applying a batch of writes to a trie version, producing the next version.

use std::collections::HashMap;

use phala_primitives::H256;

use crate::nibbles::{Nibbles, common_prefix};
use crate::node::{Node, empty_root};
use crate::{MAX_KEY_LEN, NodeStore, TrieError, load};

/// What an update did: the new root, the nodes it created, and the nodes of the old version
/// it no longer references. Both lists are multisets (a node with the same content may sit at
/// two places) with the nodes common to both already cancelled out, so the caller can keep
/// per-node reference counts: `+1` for each inserted entry now, `-1` for each removed entry
/// once the old version is no longer needed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TrieDiff {
    pub root: H256,
    pub inserted: Vec<(H256, Vec<u8>)>,
    pub removed: Vec<H256>,
}

/// A node being rewritten. Subtrees the update does not touch stay `Stored` and are never
/// loaded or re-hashed.
enum Work {
    Stored(H256),
    Leaf {
        partial: Vec<u8>,
        value: Vec<u8>,
    },
    Branch {
        partial: Vec<u8>,
        children: Box<[Option<Work>; 16]>,
        value: Option<Vec<u8>>,
    },
}

fn no_children() -> Box<[Option<Work>; 16]> {
    Box::new([const { None }; 16])
}

struct Updater<'a> {
    store: &'a dyn NodeStore,
    removed: Vec<H256>,
    inserted: Vec<(H256, Vec<u8>)>,
}

impl Updater<'_> {
    fn expand(&mut self, hash: H256) -> Result<Option<Work>, TrieError> {
        let node = load(self.store, &hash)?;
        Ok(match node {
            Node::Empty => None,
            Node::Leaf { partial, value } => {
                self.removed.push(hash);
                Some(Work::Leaf {
                    partial: partial.0,
                    value,
                })
            }
            Node::Branch {
                partial,
                children,
                value,
            } => {
                self.removed.push(hash);
                let mut work = no_children();
                for (slot, child) in work.iter_mut().zip(children.iter()) {
                    *slot = child.map(Work::Stored);
                }
                Some(Work::Branch {
                    partial: partial.0,
                    children: work,
                    value,
                })
            }
        })
    }

    fn insert(
        &mut self,
        node: Option<Work>,
        key: &[u8],
        value: Vec<u8>,
    ) -> Result<Work, TrieError> {
        let node = match node {
            Some(Work::Stored(h)) => self.expand(h)?,
            other => other,
        };
        Ok(match node {
            None | Some(Work::Stored(_)) => Work::Leaf {
                partial: key.to_vec(),
                value,
            },
            Some(Work::Leaf {
                partial,
                value: old,
            }) => {
                let c = common_prefix(&partial, key);
                if c == partial.len() && c == key.len() {
                    return Ok(Work::Leaf { partial, value });
                }
                let mut children = no_children();
                let mut branch_value = None;
                place(&mut children, &mut branch_value, &partial, c, old);
                place(&mut children, &mut branch_value, key, c, value);
                Work::Branch {
                    partial: key.get(..c).unwrap_or_default().to_vec(),
                    children,
                    value: branch_value,
                }
            }
            Some(Work::Branch {
                partial,
                mut children,
                value: old_value,
            }) => {
                let c = common_prefix(&partial, key);
                if c == partial.len() {
                    match key.get(c) {
                        None => Work::Branch {
                            partial,
                            children,
                            value: Some(value),
                        },
                        Some(&idx) => {
                            let rest = key.get(c.saturating_add(1)..).unwrap_or_default();
                            let slot = children.get_mut(usize::from(idx)).ok_or_else(bad_nibble)?;
                            let child = slot.take();
                            *slot = Some(self.insert(child, rest, value)?);
                            Work::Branch {
                                partial,
                                children,
                                value: old_value,
                            }
                        }
                    }
                } else {
                    // The new key leaves this branch's partial path part-way: split it.
                    let split_at = *partial.get(c).ok_or_else(bad_nibble)?;
                    let lower = Work::Branch {
                        partial: partial
                            .get(c.saturating_add(1)..)
                            .unwrap_or_default()
                            .to_vec(),
                        children,
                        value: old_value,
                    };
                    let mut top = no_children();
                    *top.get_mut(usize::from(split_at)).ok_or_else(bad_nibble)? = Some(lower);
                    let mut top_value = None;
                    place(&mut top, &mut top_value, key, c, value);
                    Work::Branch {
                        partial: partial.get(..c).unwrap_or_default().to_vec(),
                        children: top,
                        value: top_value,
                    }
                }
            }
        })
    }

    fn remove(&mut self, node: Option<Work>, key: &[u8]) -> Result<Option<Work>, TrieError> {
        let node = match node {
            Some(Work::Stored(h)) => self.expand(h)?,
            other => other,
        };
        match node {
            None | Some(Work::Stored(_)) => Ok(None),
            Some(Work::Leaf { partial, value }) => Ok(if partial == key {
                None
            } else {
                Some(Work::Leaf { partial, value })
            }),
            Some(Work::Branch {
                partial,
                mut children,
                mut value,
            }) => {
                if !key.starts_with(&partial) {
                    return Ok(Some(Work::Branch {
                        partial,
                        children,
                        value,
                    }));
                }
                match key.get(partial.len()) {
                    None => value = None,
                    Some(&idx) => {
                        let rest = key
                            .get(partial.len().saturating_add(1)..)
                            .unwrap_or_default();
                        let slot = children.get_mut(usize::from(idx)).ok_or_else(bad_nibble)?;
                        let child = slot.take();
                        *slot = self.remove(child, rest)?;
                    }
                }
                self.normalize(partial, children, value)
            }
        }
    }

    /// Restores the canonical form after a removal: a branch keeps at least two children, or
    /// one child and a value.
    fn normalize(
        &mut self,
        partial: Vec<u8>,
        mut children: Box<[Option<Work>; 16]>,
        value: Option<Vec<u8>>,
    ) -> Result<Option<Work>, TrieError> {
        let count = children.iter().filter(|c| c.is_some()).count();
        match (count, value) {
            (0, None) => Ok(None),
            (0, Some(value)) => Ok(Some(Work::Leaf { partial, value })),
            (1, None) => {
                let (idx, slot) = children
                    .iter_mut()
                    .enumerate()
                    .find(|(_, c)| c.is_some())
                    .ok_or_else(bad_nibble)?;
                let child = match slot.take() {
                    Some(Work::Stored(h)) => self.expand(h)?,
                    other => other,
                };
                let mut merged = partial;
                merged.push(u8::try_from(idx).map_err(|_| bad_nibble())?);
                Ok(match child {
                    None | Some(Work::Stored(_)) => None,
                    Some(Work::Leaf { partial, value }) => {
                        merged.extend_from_slice(&partial);
                        Some(Work::Leaf {
                            partial: merged,
                            value,
                        })
                    }
                    Some(Work::Branch {
                        partial,
                        children,
                        value,
                    }) => {
                        merged.extend_from_slice(&partial);
                        Some(Work::Branch {
                            partial: merged,
                            children,
                            value,
                        })
                    }
                })
            }
            (_, value) => Ok(Some(Work::Branch {
                partial,
                children,
                value,
            })),
        }
    }

    fn commit(&mut self, work: Work) -> H256 {
        let node = match work {
            Work::Stored(h) => return h,
            Work::Leaf { partial, value } => Node::Leaf {
                partial: Nibbles(partial),
                value,
            },
            Work::Branch {
                partial,
                children,
                value,
            } => {
                let mut hashes: Box<[Option<H256>; 16]> = Box::new([None; 16]);
                for (slot, child) in hashes.iter_mut().zip(*children) {
                    *slot = child.map(|c| self.commit(c));
                }
                Node::Branch {
                    partial: Nibbles(partial),
                    children: hashes,
                    value,
                }
            }
        };
        let bytes = node.encode();
        let hash = H256(phala_primitives::hashing::blake2_256(&bytes));
        self.inserted.push((hash, bytes));
        hash
    }
}

/// Puts `value` for `key` into a fresh branch whose partial path is `key[..c]`.
fn place(
    children: &mut [Option<Work>; 16],
    branch_value: &mut Option<Vec<u8>>,
    key: &[u8],
    c: usize,
    value: Vec<u8>,
) {
    match key.get(c) {
        None => *branch_value = Some(value),
        Some(&idx) => {
            if let Some(slot) = children.get_mut(usize::from(idx)) {
                let rest = key.get(c.saturating_add(1)..).unwrap_or_default().to_vec();
                *slot = Some(Work::Leaf {
                    partial: rest,
                    value,
                });
            }
        }
    }
}

fn bad_nibble() -> TrieError {
    TrieError::Store("nibble out of range".into())
}

/// Applies `changes` (`Some(value)` to write, `None` to delete) to the trie at `root`. Later
/// entries for the same key win. Reads only the nodes on the changed paths.
pub fn apply_changes<'a, I>(
    store: &dyn NodeStore,
    root: H256,
    changes: I,
) -> Result<TrieDiff, TrieError>
where
    I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
{
    let mut updater = Updater {
        store,
        removed: Vec::new(),
        inserted: Vec::new(),
    };
    let mut tree = if root == empty_root() {
        None
    } else {
        Some(Work::Stored(root))
    };
    for (key, value) in changes {
        if key.len() > MAX_KEY_LEN {
            return Err(TrieError::KeyTooLong(key.len()));
        }
        let path = Nibbles::from_key(key);
        tree = match value {
            Some(v) => Some(updater.insert(tree, path.as_slice(), v.to_vec())?),
            None => updater.remove(tree, path.as_slice())?,
        };
    }
    let new_root = match tree {
        Some(work) => updater.commit(work),
        None => empty_root(),
    };
    // Cancel nodes that were loaded and rewritten unchanged.
    let mut removed_counts: HashMap<H256, usize> = HashMap::new();
    for h in updater.removed {
        let entry = removed_counts.entry(h).or_default();
        *entry = entry.saturating_add(1);
    }
    let mut inserted = Vec::with_capacity(updater.inserted.len());
    for (h, bytes) in updater.inserted {
        match removed_counts.get_mut(&h) {
            Some(n) if *n > 0 => *n = n.saturating_sub(1),
            _ => inserted.push((h, bytes)),
        }
    }
    let mut removed = Vec::new();
    for (h, n) in removed_counts {
        removed.extend(std::iter::repeat_n(h, n));
    }
    removed.sort();
    Ok(TrieDiff {
        root: new_root,
        inserted,
        removed,
    })
}
