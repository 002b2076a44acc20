//! State-root cost: building a trie of N accounts, and updating it after a block of transfers.

use std::collections::{BTreeMap, HashMap};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use phala_primitives::H256;
use phala_trie::{apply_changes, empty_root};

fn account_key(i: u32) -> Vec<u8> {
    let mut key = phala_primitives::storage::prefix("System", "Account");
    key.extend_from_slice(&phala_primitives::hashing::blake2_128(&i.to_le_bytes()));
    key.extend_from_slice(&[0u8; 28]);
    key.extend_from_slice(&i.to_le_bytes());
    key
}

fn build(n: u32) -> (HashMap<H256, Vec<u8>>, H256) {
    let changes: BTreeMap<Vec<u8>, Vec<u8>> =
        (0..n).map(|i| (account_key(i), vec![1u8; 80])).collect();
    let diff = apply_changes(
        &HashMap::new(),
        empty_root(),
        changes
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
    )
    .unwrap_or_default();
    (diff.inserted.into_iter().collect(), diff.root)
}

fn bench(c: &mut Criterion) {
    for n in [10_000u32, 100_000] {
        c.bench_function(&format!("state_root/build_{n}_accounts"), |b| {
            b.iter(|| build(n))
        });
        let (store, root) = build(n);
        // A block touching 2 × 1000 accounts (1000 transfers).
        c.bench_function(&format!("state_root/update_2000_of_{n}_accounts"), |b| {
            b.iter_batched(
                || {
                    (0..2000u32)
                        .map(|i| (account_key(i.wrapping_mul(7919) % n), vec![2u8; 80]))
                        .collect::<BTreeMap<_, _>>()
                },
                |changes| {
                    apply_changes(
                        &store,
                        root,
                        changes
                            .iter()
                            .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
                    )
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
