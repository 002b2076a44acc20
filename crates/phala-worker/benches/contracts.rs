//! Contracts in a worker: the confidential path against the bare VM, and encrypted contract
//! queries per core.
//!
//! - `command/flip bare VM`: phala-vm runs the example flipper's (`examples/contracts`) `flip` and the changes are
//!   applied: what a non-confidential chain's executor does.
//! - `command/flip confidential`: the same through `ContractRuntime::command`: open the
//!   command envelope with the contract key, check its origin, run, apply, and seal the result
//!   and events to the caller's reply key.
//! - `query/get`: `QueryService::answer` for the flipper's `get`: open the query, check it,
//!   run the contract on the snapshot, sign and seal the reply.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::query::{MAX_NONCES_PER_CALLER, MAX_QUERY_TTL, QueryBody, SignedQuery, Source};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_mq::contracts::{ContractCommand, SealedInput};
use phala_primitives::H256;
use phala_worker::contracts::{ContractRuntime, ContractsState};
use phala_worker::gatekeeper::ClusterKey;
use phala_worker::query::QueryService;

const DEPLOYER: [u8; 32] = [0xa1; 32];

fn flipper() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/contracts/flipper.contract");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    hex::decode(
        json["source"]["wasm"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap()
}

fn sealed(to: [u8; 32], contract: Option<H256>, input: &str, reply: Option<[u8; 32]>) -> Envelope {
    let plain = SealedInput {
        origin: DEPLOYER,
        input: hex::decode(input).unwrap(),
        reply_key: reply,
    };
    Envelope::seal(
        &mut commonware_utils::test_rng(),
        &to,
        Purpose::Command,
        contract,
        &plain.encode(),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut rng = commonware_utils::test_rng();
    let cluster = ClusterKey {
        cluster: H256([7; 32]),
        seed: Seed::from_bytes([9; 32]),
        members: 1,
    };
    let runtime = Arc::new(ContractRuntime::default());
    let code_hash = H256(runtime.codes.add(&flipper()));
    let mut state = Arc::new(ContractsState::default());
    let contract = H256(phala_vm::contract_address(
        &DEPLOYER,
        &code_hash.0,
        &cluster.cluster.0,
        &[],
    ));
    let cluster_pair = KeyPair::new(cluster.seed.clone());
    let instantiate = ContractCommand::Instantiate {
        id: 0,
        cluster: cluster.cluster,
        contract,
        code_hash,
        deployer: DEPLOYER,
        salt: vec![],
        data: sealed(cluster_pair.ecdh_public(), None, "9bae9d5e00", None),
        gas_limit: 1_000_000_000,
        deposit: u128::MAX,
        reporter: [0; 32],
        pricing: phala_runtime::modules::contracts::DEFAULT_PRICING,
    };
    let mut notes = Vec::new();
    // The chain announces the upload before anything may use the code.
    assert!(
        runtime
            .command(
                &mut rng,
                &mut state,
                Some(&cluster),
                [0; 32],
                (1, 0),
                ContractCommand::CodeUploaded { code_hash },
                &mut notes
            )
            .is_none()
    );
    runtime
        .command(
            &mut rng,
            &mut state,
            Some(&cluster),
            [0; 32],
            (1, 0),
            instantiate,
            &mut notes,
        )
        .unwrap();
    assert_eq!(state.contracts.len(), 1, "{notes:?}");
    let contract_pair = KeyPair::new(cluster.seed.contract_key(&contract));
    let reply = EcdhSecret::from_bytes([5; 32]).public();
    let flip = ContractCommand::Call {
        id: 1,
        cluster: cluster.cluster,
        contract,
        origin: DEPLOYER,
        payload: sealed(
            contract_pair.ecdh_public(),
            Some(contract),
            "633aa551",
            Some(reply),
        ),
        gas_limit: 1_000_000_000,
        deposit: u128::MAX,
        reporter: [0; 32],
        pricing: phala_runtime::modules::contracts::DEFAULT_PRICING,
    };

    let mut group = c.benchmark_group("contracts");
    group.throughput(Throughput::Elements(1));
    // The bare VM over the same code and storage.
    let mut backend = phala_vm::MemoryBackend::default();
    backend.add_code(&flipper());
    backend.contracts = state.contracts.clone();
    backend.storage = state.storage.clone();
    let vm = phala_vm::Vm::new();
    let env: Arc<dyn phala_vm::Environment> = Arc::new(phala_vm::LocalEnvironment::default());
    group.bench_function("command/flip bare VM", |b| {
        b.iter(|| {
            let outcome = vm.execute(
                Box::new(backend.clone()),
                env.clone(),
                phala_vm::ExecContext {
                    mode: phala_vm::Mode::Transaction,
                    cluster: cluster.cluster.0,
                    block_number: 2,
                    timestamp_ms: 0,
                    gas_price: 1,
                    system_contract: [0; 32],
                    deadline: None,
                },
                phala_vm::Request {
                    origin: DEPLOYER,
                    entry: phala_vm::Entry::Call {
                        contract: contract.0,
                        input: hex::decode("633aa551").unwrap(),
                    },
                    gas_limit: 1_000_000_000,
                },
            );
            backend.apply(&outcome.changes);
        })
    });
    group.bench_function("command/flip confidential", |b| {
        b.iter(|| {
            runtime
                .command(
                    &mut rng,
                    &mut state,
                    Some(&cluster),
                    [0; 32],
                    (2, 0),
                    flip.clone(),
                    &mut notes,
                )
                .unwrap();
            notes.clear();
        })
    });

    // Encrypted `get` queries, each with a fresh nonce.
    let genesis = H256([1; 32]);
    let query_key = EcdhSecret::from_bytes([2; 32]);
    let recipient = query_key.public();
    let identity = Sr25519Pair::from_uri("//Worker").unwrap();
    let me = identity.public();
    let service = QueryService::with_keys(genesis, 10, H256([3; 32]), query_key, identity)
        .with_contracts(cluster.clone(), state.clone(), runtime.clone());
    // More than criterion runs, so every one is answered, not refused as a replay; from
    // enough addresses that none is over its budget of remembered nonces.
    let requests: Vec<(Vec<u8>, Source)> = (0..60_000u64)
        .map(|n| {
            let source = Source::from(std::net::IpAddr::from([
                10,
                0,
                0,
                (n as usize / MAX_NONCES_PER_CALLER) as u8,
            ]));
            let mut nonce = [0u8; 32];
            nonce[..8].copy_from_slice(&n.to_le_bytes());
            let query = SignedQuery {
                body: QueryBody {
                    worker: me,
                    contract,
                    nonce,
                    expires_at: 10 + MAX_QUERY_TTL,
                    payload: hex::decode("2f865bd9").unwrap(),
                },
                signer: None,
            };
            let sealed = Envelope::seal(
                &mut commonware_utils::test_rng(),
                &recipient,
                Purpose::Query,
                Some(contract),
                &query.encode(),
            )
            .unwrap()
            .encode();
            (sealed, source)
        })
        .collect();
    let answer = runtime.query(
        state.clone(),
        &cluster,
        [0; 32],
        (10, 0),
        None,
        contract.0,
        hex::decode("2f865bd9").unwrap(),
        std::time::Instant::now() + std::time::Duration::from_secs(10),
    );
    assert!(answer.is_ok(), "{answer:?}");
    let mut next = requests.iter().cycle();
    group.bench_function("query/get", |b| {
        b.iter(|| {
            let (request, source) = next.next().unwrap();
            service.answer(&mut rng, request, *source).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
