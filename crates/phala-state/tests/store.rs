//! The chain database: commits, views, pruning and reopening.

use std::collections::BTreeMap;

use phala_primitives::{Block, H256, Header};
use phala_state::{Changes, PendingBlock, StateError, Store, StoreConfig};

fn genesis_block(root: H256) -> Result<Block, String> {
    Ok(Block {
        header: Header {
            parent_hash: H256::zero(),
            number: 0,
            state_root: root,
            extrinsics_root: H256::zero(),
            digest: vec![],
        },
        extrinsics: vec![],
    })
}

/// Executes "changes" on top of `parent` and returns the pending block.
fn child(store: &Store, parent: H256, number: u32, changes: Changes) -> PendingBlock {
    let view = store.view_at(&parent).unwrap();
    let diff = view
        .with_node_store(|nodes| {
            phala_trie::apply_changes(
                nodes,
                view.state_root(),
                changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
            )
        })
        .unwrap();
    let header = Header {
        parent_hash: parent,
        number,
        state_root: diff.root,
        extrinsics_root: H256::zero(),
        digest: vec![],
    };
    PendingBlock::new(
        Block {
            header,
            extrinsics: vec![],
        },
        changes,
        diff,
    )
}

fn kv(pairs: &[(&str, Option<&str>)]) -> Changes {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn open(dir: &tempfile::TempDir, pruning: Option<u32>) -> Store {
    let mut config = StoreConfig::new(dir.path().join("chain.redb"));
    config.pruning = pruning;
    Store::open(config).unwrap()
}

#[test]
fn commits_views_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let genesis_storage: BTreeMap<Vec<u8>, Vec<u8>> = [
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"2".to_vec()),
    ]
    .into();
    let g = {
        let store = open(&dir, Some(2));
        let g = store.init_genesis(&genesis_storage, genesis_block).unwrap();
        assert_eq!(store.finalized().unwrap(), (0, g));

        // Two pending blocks stacked on genesis; the second reads through the first.
        let b1 = store.insert_pending(child(
            &store,
            g,
            1,
            kv(&[("a", Some("10")), ("c", Some("3"))]),
        ));
        let b2 = store.insert_pending(child(&store, b1.hash, 2, kv(&[("b", None)])));
        let v2 = store.view_at(&b2.hash).unwrap();
        assert_eq!(v2.get(b"a").unwrap(), Some(b"10".to_vec()));
        assert_eq!(v2.get(b"b").unwrap(), None);
        assert_eq!(
            v2.keys_paged(b"", None, 10).unwrap(),
            vec![b"a".to_vec(), b"c".to_vec()]
        );
        // The finalized view does not see pending writes.
        assert_eq!(
            store.latest_view().unwrap().get(b"a").unwrap(),
            Some(b"1".to_vec())
        );

        // Committing out of order is refused; in order works.
        assert!(matches!(
            store.commit(&b2.hash, b"j2"),
            Err(StateError::NotOnHead { .. })
        ));
        store.commit(&b1.hash, b"j1").unwrap();
        // The pending view of b2 still reads the same after b1 landed.
        assert_eq!(
            store.view_at(&b2.hash).unwrap().get(b"a").unwrap(),
            Some(b"10".to_vec())
        );
        store.commit(&b2.hash, b"j2").unwrap();
        assert_eq!(store.finalized().unwrap(), (2, b2.hash));
        assert_eq!(store.justification(2).unwrap(), Some(b"j2".to_vec()));

        // Historical view of block 1 reads through the trie.
        let v1 = store.view_at(&b1.hash).unwrap();
        assert_eq!(v1.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(
            v1.keys_paged(b"", Some(b"a"), 10).unwrap(),
            vec![b"b".to_vec(), b"c".to_vec()]
        );
        // Proofs verify against the header's state root.
        let proof = v1.read_proof(&[b"a"]).unwrap();
        assert_eq!(
            phala_trie::verify_proof(&v1.state_root(), &proof, &[b"a"]).unwrap(),
            vec![Some(b"10".to_vec())]
        );
        g
    };

    // Reopen: everything finalized is still there; a different genesis is refused.
    let store = open(&dir, Some(2));
    assert_eq!(
        store.init_genesis(&genesis_storage, genesis_block).unwrap(),
        g
    );
    let (n, head) = store.finalized().unwrap();
    assert_eq!(n, 2);
    assert_eq!(store.block_by_number(2).unwrap().unwrap().hash(), head);
    assert_eq!(
        store.latest_view().unwrap().get(b"c").unwrap(),
        Some(b"3".to_vec())
    );
    let other: BTreeMap<Vec<u8>, Vec<u8>> = [(b"z".to_vec(), b"9".to_vec())].into();
    assert!(matches!(
        store.init_genesis(&other, genesis_block),
        Err(StateError::GenesisMismatch { .. })
    ));
}

#[test]
fn pruning_keeps_the_window_and_flat_state_matches_trie() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, Some(3));
    let g = store.init_genesis(&BTreeMap::new(), genesis_block).unwrap();
    let mut hashes = vec![g];
    for n in 1..=20u32 {
        let value = n.to_string();
        let changes = kv(&[
            ("counter", Some(&value)),
            (&format!("k{}", n % 4), Some(&value)),
        ]);
        let block = child(&store, *hashes.last().unwrap(), n, changes);
        let hash = block.hash;
        store.commit_block(&block, b"").unwrap();
        hashes.push(hash);
    }
    // The last 3 states before the head and the head are readable; older ones are pruned.
    for (n, hash) in hashes.iter().enumerate().skip(17) {
        let view = store.view_at(hash).unwrap();
        assert_eq!(
            view.get(b"counter").unwrap(),
            Some(n.to_string().into_bytes())
        );
    }
    assert!(matches!(
        store.view_at(&hashes[10]),
        Err(StateError::Pruned { .. })
    ));
    // The flat table and the trie of the head agree.
    let head = store.latest_view().unwrap();
    let flat = head.pairs_paged(b"", None, 100).unwrap();
    let trie = head
        .with_node_store(|n| phala_trie::iter_range(n, &head.state_root(), b"", None, 100))
        .unwrap();
    assert_eq!(flat, trie);
}
