//! The trie against a BTreeMap model: same contents, canonical roots, exact diffs, sound proofs.

use std::collections::{BTreeMap, HashMap};

use phala_primitives::H256;
use phala_trie::{Node, apply_changes, empty_root, get, iter_range, proof_for_keys, verify_proof};
use proptest::prelude::*;

/// A reference-counted node store, kept the way the chain database keeps it.
#[derive(Default)]
struct Db {
    nodes: HashMap<H256, (usize, Vec<u8>)>,
}

impl phala_trie::NodeStore for Db {
    fn get_node(&self, hash: &H256) -> Result<Option<Vec<u8>>, phala_trie::TrieError> {
        Ok(self.nodes.get(hash).map(|(_, b)| b.clone()))
    }
}

impl Db {
    fn apply(&mut self, root: H256, changes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> H256 {
        let diff = apply_changes(
            self,
            root,
            changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
        )
        .unwrap();
        for (h, bytes) in diff.inserted {
            self.nodes.entry(h).or_insert((0, bytes)).0 += 1;
        }
        for h in diff.removed {
            let entry = self.nodes.get_mut(&h).expect("removed node must exist");
            entry.0 -= 1;
            if entry.0 == 0 {
                self.nodes.remove(&h);
            }
        }
        diff.root
    }

    /// Reference counts implied by walking the trie from `root`.
    fn reachable(&self, root: H256) -> HashMap<H256, usize> {
        let mut counts = HashMap::new();
        let mut stack = vec![root];
        while let Some(h) = stack.pop() {
            if h == empty_root() {
                continue;
            }
            *counts.entry(h).or_insert(0) += 1;
            let (_, bytes) = &self.nodes[&h];
            if let Node::Branch { children, .. } = Node::decode(bytes).unwrap() {
                stack.extend(children.iter().flatten());
            }
        }
        counts
    }
}

fn build_fresh(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> H256 {
    let mut db = Db::default();
    let changes = map
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    db.apply(empty_root(), &changes)
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Short keys over a small alphabet so that prefixes collide often.
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(0x10), Just(0xff)],
        0..6,
    )
}

fn batch_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, Option<Vec<u8>>)>> {
    proptest::collection::vec(
        (
            key_strategy(),
            proptest::option::weighted(0.7, proptest::collection::vec(any::<u8>(), 0..4)),
        ),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn matches_model(batches in proptest::collection::vec(batch_strategy(), 1..6)) {
        let mut db = Db::default();
        let mut root = empty_root();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for batch in batches {
            let changes: BTreeMap<_, _> = batch.into_iter().collect();
            for (k, v) in &changes {
                match v {
                    Some(v) => { model.insert(k.clone(), v.clone()); }
                    None => { model.remove(k); }
                }
            }
            root = db.apply(root, &changes);

            // Canonical: the same contents give the same root however they were reached.
            prop_assert_eq!(root, build_fresh(&model));
            // Exact diffs: the store holds exactly the reachable nodes, with their counts.
            let reachable = db.reachable(root);
            prop_assert_eq!(reachable.len(), db.nodes.len());
            for (h, n) in &reachable {
                prop_assert_eq!(db.nodes[h].0, *n);
            }
            // Reads.
            for (k, v) in &model {
                prop_assert_eq!(get(&db, &root, k).unwrap(), Some(v.clone()));
            }
            for k in changes.keys() {
                prop_assert_eq!(get(&db, &root, k).unwrap(), model.get(k).cloned());
            }
        }
    }

    #[test]
    fn iteration_matches_model(
        entries in proptest::collection::btree_map(key_strategy(), proptest::collection::vec(any::<u8>(), 0..3), 0..30),
        prefix in key_strategy().prop_map(|mut k| { k.truncate(2); k }),
        start in proptest::option::of(key_strategy()),
        limit in 0usize..40,
    ) {
        let mut db = Db::default();
        let changes = entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let root = db.apply(empty_root(), &changes);
        let got = iter_range(&db, &root, &prefix, start.as_deref(), limit).unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| start.as_ref().is_none_or(|s| k.as_slice() > s.as_slice()))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn proofs_verify_and_cannot_lie(
        entries in proptest::collection::btree_map(key_strategy(), proptest::collection::vec(any::<u8>(), 0..3), 1..30),
        probe in proptest::collection::vec(key_strategy(), 1..5),
    ) {
        let mut db = Db::default();
        let changes = entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let root = db.apply(empty_root(), &changes);
        let proof = proof_for_keys(&db, &root, &probe).unwrap();
        let values = verify_proof(&root, &proof, &probe).unwrap();
        for (k, v) in probe.iter().zip(values) {
            prop_assert_eq!(v, entries.get(k).cloned());
        }
        // A proof against another root proves nothing.
        let other = H256([7; 32]);
        prop_assert!(verify_proof(&other, &proof, &probe).is_err());
    }
}

#[test]
fn substrate_style_keys() {
    let mut db = Db::default();
    let mut changes = BTreeMap::new();
    for i in 0u32..1000 {
        let mut key = phala_primitives::storage::prefix("System", "Account");
        key.extend_from_slice(&phala_primitives::hashing::blake2_128(&i.to_le_bytes()));
        key.extend_from_slice(&i.to_le_bytes());
        changes.insert(key, Some(i.to_le_bytes().to_vec()));
    }
    let root = db.apply(empty_root(), &changes);
    let prefix = phala_primitives::storage::prefix("System", "Account");
    let all = iter_range(&db, &root, &prefix, None, 10_000).unwrap();
    assert_eq!(all.len(), 1000);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    // Paging with start_after walks the whole range without gaps or repeats.
    let mut paged = Vec::new();
    let mut start: Option<Vec<u8>> = None;
    loop {
        let page = iter_range(&db, &root, &prefix, start.as_deref(), 64).unwrap();
        if page.is_empty() {
            break;
        }
        start = page.last().map(|(k, _)| k.clone());
        paged.extend(page);
    }
    assert_eq!(paged, all);
}
