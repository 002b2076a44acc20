//! A gatekeeper's economy work per block as the number of computing workers grows: the
//! block's challenge (finding the picked workers by hash range), their heartbeats, and the
//! settlement (values brought up to date, shares, payouts).
//!
//! `cargo bench -p phala-worker-core --bench economy`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use phala_mq::computation::ComputationEvent;
use phala_tokenomics::{Challenge, Economics, Params, online_target, worker_hash};
use phala_worker_core::computing::Economy;

fn worker(i: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(&i.to_le_bytes());
    key
}

fn bench(c: &mut Criterion) {
    let params = Params::from_economics(&Economics::default(), 1_000).unwrap();
    let mut group = c.benchmark_group("gatekeeper/block");
    group.sample_size(20);
    for n in [1_000u32, 10_000, 100_000] {
        let mut economy = Economy::default();
        for i in 0..n {
            economy.on_event(
                &params,
                1,
                &ComputationEvent::Started {
                    worker: worker(i),
                    p_bench: 2_000,
                    confidence_level: 1,
                    stake: 0,
                    initial_v: 6_000 << 64,
                    at_ms: 0,
                },
            );
        }
        economy.end_block(&params, 1);
        // A block half an hour in: heartbeats bring 1,800 blocks of value up to date.
        let number = 1_801;
        let seed = [7; 32];
        let target = online_target(&params, n);
        let challenge = Challenge { seed, target };
        let picked: Vec<[u8; 32]> = (0..n)
            .map(worker)
            .filter(|k| challenge.picks(&worker_hash(k)))
            .collect();
        eprintln!(
            "{n} workers: {} challenged, sealed state {} bytes",
            picked.len(),
            parity_scale_codec::Encode::encoded_size(&economy)
        );
        group.bench_function(format!("{n} workers"), |b| {
            b.iter_batched(
                || economy.clone(),
                |mut e| {
                    e.on_event(
                        &params,
                        number,
                        &ComputationEvent::Challenge { seed, target },
                    );
                    for k in &picked {
                        e.on_event(
                            &params,
                            number,
                            &ComputationEvent::Heartbeat {
                                worker: *k,
                                challenge_block: number - 1,
                                iterations: 600_000,
                                at_ms: 1_800_000,
                            },
                        );
                    }
                    e.end_block(&params, number)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
