//! Runtime-only throughput: signed transfers applied per second (block building, which
//! verifies every signature, executes and collects changes), against the cost of one sr25519
//! verification — the ceiling for any chain that checks every signature.

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use phala_keys::Sr25519Pair;
use phala_primitives::extrinsic::AdditionalSigned;
use phala_primitives::{Era, H256, MultiAddress, OpaqueExtrinsic, PHA, SignedExtra};
use phala_runtime::block::BlockBuilder;
use phala_runtime::executive::Context;
use phala_runtime::modules::balances;
use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
use phala_runtime::{GenesisConfig, RuntimeCall, UncheckedExtrinsic};

const ACCOUNTS: usize = 1_000;

struct Setup {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    ctx: Context,
    txs: Vec<OpaqueExtrinsic>,
}

fn setup() -> Setup {
    let pairs: Vec<Sr25519Pair> = (0..ACCOUNTS)
        .map(|i| Sr25519Pair::from_uri(&format!("//bench//{i}")).unwrap())
        .collect();
    let genesis = GenesisConfig {
        endowed: pairs
            .iter()
            .map(|p| (p.account_id(), 1_000 * PHA))
            .collect(),
        ..Default::default()
    };
    let state = genesis.build_storage().unwrap();
    let genesis_hash = H256([1; 32]);
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash,
        birth_hash: genesis_hash,
    };
    let txs = pairs
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            let dest = pairs[(i + 1) % ACCOUNTS].account_id();
            let call = RuntimeCall::Balances(balances::Call::transfer_keep_alive {
                dest: MultiAddress::Id(dest),
                value: PHA,
            });
            let extra = SignedExtra {
                era: Era::Immortal,
                nonce: 0,
                tip: 0,
            };
            let xt = UncheckedExtrinsic::new_signed_sr25519(
                call,
                pair.account_id(),
                extra,
                &additional,
                |m| pair.sign(m),
            );
            OpaqueExtrinsic::from_bytes(xt.encode()).unwrap()
        })
        .collect();
    Setup {
        state,
        ctx: Context { genesis_hash },
        txs,
    }
}

fn bench(c: &mut Criterion) {
    let pair = Sr25519Pair::from_uri("//Alice").unwrap();
    let message = [7u8; 117];
    let signature = pair.sign(&message);
    c.bench_function("sr25519/verify", |b| {
        b.iter(|| phala_primitives::crypto::sr25519_verify(&signature, &message, &pair.public()))
    });

    let setup = setup();
    let mut group = c.benchmark_group("runtime");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    group.sample_size(10);
    group.bench_function("block_of_1000_transfers", |b| {
        b.iter_batched(
            || setup.txs.clone(),
            |txs| {
                let mut builder =
                    BlockBuilder::new(&setup.state, setup.ctx, setup.ctx.genesis_hash, 1, 1_000)
                        .unwrap();
                for xt in txs {
                    builder.push(xt).unwrap();
                }
                builder.finish().unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
