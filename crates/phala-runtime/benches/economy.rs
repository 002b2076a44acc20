//! The chain's computing work per block as the number of computing workers grows: the
//! block's challenge (`on_initialize`), about 20 heartbeats, and the gatekeepers' settlement
//! paying them. Signature checks of the messages carrying heartbeats and settlements are
//! per message and do not depend on the number of workers; they are left out.
//!
//! `cargo bench -p phala-runtime --bench economy`.

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use phala_mq::computation::{Heartbeat, Settlement, WorkerPayout};
use phala_primitives::PHA;
use phala_runtime::modules::computation::{
    self, CHALLENGES, COMPUTING_WORKERS, SESSIONS, Session, WorkerState,
};
use phala_runtime::modules::registry::gatekeeper::GATEKEEPERS;
use phala_runtime::modules::{REWARD_POOL_ACCOUNT, system};
use phala_runtime::{Ext, GenesisConfig, Wiring};
use phala_tokenomics::{Challenge, online_target, worker_hash};

const BLOCK: u32 = 1_000;
const GATEKEEPER: [u8; 32] = [0xee; 32];

struct Setup {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Workers the block's challenge picked (about 20).
    picked: Vec<[u8; 32]>,
}

fn worker(i: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(&i.to_le_bytes());
    key
}

fn setup(n: u32) -> Setup {
    let mut state = GenesisConfig {
        endowed: vec![(REWARD_POOL_ACCOUNT, 700_000_000 * PHA)],
        ..Default::default()
    }
    .build_storage()
    .unwrap();
    let params = computation::params(&Ext::new(&state)).unwrap();
    let challenged_at = BLOCK - 1;
    let challenge = Challenge {
        seed: [7; 32],
        target: online_target(&params, n),
    };
    let mut picked = Vec::new();
    let mut ext = Ext::new(&state);
    for i in 0..n {
        let key = worker(i);
        if challenge.picks(&worker_hash(&key)) {
            picked.push(key);
        }
        SESSIONS.insert(
            &mut ext,
            &key,
            &Session {
                owner: REWARD_POOL_ACCOUNT,
                state: WorkerState::Idle,
                stake: 5_000 * PHA,
                p_bench: 2_000,
                confidence_level: 1,
                initial_v: 6_000 << 64,
                v: 6_000 << 64,
                started_at: 1,
                last_challenge: 1,
                last_heartbeat_at: 1,
                last_paid_at: 1,
                ..Default::default()
            },
        );
    }
    COMPUTING_WORKERS.put(&mut ext, &n);
    CHALLENGES.insert(&mut ext, &challenged_at, &challenge);
    GATEKEEPERS.put(&mut ext, &vec![GATEKEEPER]);
    system::NUMBER.put(&mut ext, &BLOCK);
    for (k, v) in ext.into_changes() {
        match v {
            Some(v) => state.insert(k, v),
            None => state.remove(&k),
        };
    }
    Setup { state, picked }
}

/// One block's computing work on `state`: its challenge, the heartbeats of `picked` and
/// the settlement paying them.
fn block(state: &BTreeMap<Vec<u8>, Vec<u8>>, picked: &[[u8; 32]]) -> usize {
    let mut ext = Ext::new(state);
    computation::on_initialize::<phala_runtime::Wiring>(&mut ext, BLOCK);
    for key in picked {
        let heartbeat = Heartbeat {
            challenge_block: BLOCK - 1,
            iterations: 10_000,
        };
        computation::on_heartbeat(&mut ext, *key, &heartbeat.encode()).unwrap();
    }
    let settlement = Settlement {
        block: BLOCK,
        offline: vec![],
        recovered: vec![],
        paid: picked
            .iter()
            .map(|k| WorkerPayout {
                worker: *k,
                v: 6_001 << 64,
                payout: PHA,
            })
            .collect(),
    };
    // Settled a block later, as on a live chain.
    system::NUMBER.put(&mut ext, &(BLOCK + 1));
    computation::on_settlement::<Wiring>(&mut ext, GATEKEEPER, &settlement.encode()).unwrap();
    ext.into_changes().len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("computation/block");
    group.sample_size(20);
    for n in [1_000u32, 10_000, 100_000] {
        let s = setup(n);
        let session_bytes = SESSIONS
            .get(&Ext::new(&s.state), &worker(0))
            .map(|x| x.encode().len() + SESSIONS.key(&worker(0)).len())
            .unwrap_or(0);
        eprintln!(
            "{n} workers: {} challenged this block; {session_bytes} bytes of storage per worker",
            s.picked.len()
        );
        group.bench_function(format!("{n} workers"), |b| {
            b.iter_batched(|| (), |_| block(&s.state, &s.picked), BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
