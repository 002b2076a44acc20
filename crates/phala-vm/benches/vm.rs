//! wasmi execution of real ink! contracts, and the same logic in native Rust for scale.
//!
//! - `example/flipper/get` and `example/flipper/flip`: a query and a command of the project's
//!   own flipper (`examples/contracts`, hand-written WAT).
//! - `example/erc20/transfer`: its erc20's transfer (two balance reads and writes, an event).
//! - `ink4/...`: the same on the flipper and erc20 compiled by ink! 4 (from
//!   `../shared/fixtures/contracts`, when that folder is there): what compiled Rust costs.
//! - `native/erc20_transfer`: that transfer's logic in Rust over the same map.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use parity_scale_codec::{Decode, Encode};
use phala_vm::{Entry, ExecContext, LocalEnvironment, MemoryBackend, Mode, Outcome, Request, Vm};

const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];

fn wasm(path: &Path) -> Vec<u8> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    hex::decode(
        json["source"]["wasm"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap()
}

fn ctx(mode: Mode) -> ExecContext {
    ExecContext {
        mode,
        cluster: [1; 32],
        block_number: 1,
        timestamp_ms: 0,
        gas_price: 1,
        system_contract: [0; 32],
        deadline: None,
    }
}

fn run(vm: &Vm, backend: &MemoryBackend, mode: Mode, entry: Entry) -> Outcome {
    vm.execute(
        Box::new(backend.clone()),
        Arc::new(LocalEnvironment::default()),
        ctx(mode),
        Request {
            origin: ALICE,
            entry,
            gas_limit: 1_000_000_000,
        },
    )
}

fn deploy(vm: &Vm, backend: &mut MemoryBackend, bundle: &Path, input: Vec<u8>) -> [u8; 32] {
    let code_hash = backend.add_code(&wasm(bundle));
    let outcome = run(
        vm,
        backend,
        Mode::Transaction,
        Entry::Instantiate {
            code_hash,
            salt: vec![],
            input,
        },
    );
    assert!(outcome.is_success());
    backend.apply(&outcome.changes);
    outcome.contract
}

fn bench(c: &mut Criterion) {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/contracts");
    let (token, transfer) = contracts(
        c,
        "example",
        &examples.join("flipper.contract"),
        &examples.join("erc20.contract"),
    );
    let fixtures = phala_vm::contract_fixtures_dir();
    if fixtures.is_dir() {
        contracts(
            c,
            "ink4",
            &fixtures.join("ink4_flipper.contract.json"),
            &fixtures.join("ink4_erc20.contract.json"),
        );
    }
    native(c, token, &transfer);
}

/// Benches a flipper and an erc20; returns the token and a transfer's call data.
fn contracts(c: &mut Criterion, label: &str, flipper: &Path, erc20: &Path) -> ([u8; 32], Vec<u8>) {
    let vm = Vm::new();
    let mut backend = MemoryBackend::default();
    let flipper = deploy(
        &vm,
        &mut backend,
        flipper,
        hex::decode("9bae9d5e00").unwrap(),
    );
    let mut input = hex::decode("9bae9d5e").unwrap();
    input.extend(1_000_000u128.encode());
    let token = deploy(&vm, &mut backend, erc20, input);

    let call = |contract, data: &str| Entry::Call {
        contract,
        input: hex::decode(data).unwrap(),
    };
    let get = run(&vm, &backend, Mode::Query, call(flipper, "2f865bd9"));
    println!("{label} flipper get: {} gas", get.gas_used);
    c.bench_function(&format!("{label}/flipper/get"), |b| {
        b.iter(|| black_box(run(&vm, &backend, Mode::Query, call(flipper, "2f865bd9"))))
    });
    c.bench_function(&format!("{label}/flipper/flip"), |b| {
        b.iter(|| {
            black_box(run(
                &vm,
                &backend,
                Mode::Transaction,
                call(flipper, "633aa551"),
            ))
        })
    });
    let mut transfer = hex::decode("84a15da1").unwrap();
    transfer.extend(BOB.encode());
    transfer.extend(10u128.encode());
    let once = run(
        &vm,
        &backend,
        Mode::Transaction,
        Entry::Call {
            contract: token,
            input: transfer.clone(),
        },
    );
    assert!(once.is_success());
    println!("{label} erc20 transfer: {} gas", once.gas_used);
    c.bench_function(&format!("{label}/erc20/transfer"), |b| {
        b.iter(|| {
            black_box(run(
                &vm,
                &backend,
                Mode::Transaction,
                Entry::Call {
                    contract: token,
                    input: transfer.clone(),
                },
            ))
        })
    });
    (token, transfer)
}

/// The same transfer in Rust: decode the call, move the balance, encode the event, over the
/// same kind of map (cloned per call, as the VM's backend is).
fn native(c: &mut Criterion, token: [u8; 32], transfer: &[u8]) {
    let mut balances: BTreeMap<([u8; 32], Vec<u8>), Vec<u8>> = BTreeMap::new();
    balances.insert((token, ALICE.to_vec()), 1_000_000u128.encode());
    c.bench_function("native/erc20_transfer", |b| {
        b.iter(|| {
            let mut map = balances.clone();
            let mut data = &transfer[4..];
            let to = <[u8; 32]>::decode(&mut data).unwrap();
            let value = u128::decode(&mut data).unwrap();
            let from_balance = map
                .get(&(token, ALICE.to_vec()))
                .map(|v| u128::decode(&mut v.as_slice()).unwrap())
                .unwrap_or(0);
            let to_balance = map
                .get(&(token, to.to_vec()))
                .map(|v| u128::decode(&mut v.as_slice()).unwrap())
                .unwrap_or(0);
            assert!(from_balance >= value);
            map.insert((token, ALICE.to_vec()), (from_balance - value).encode());
            map.insert((token, to.to_vec()), (to_balance + value).encode());
            black_box((Some(ALICE), Some(to), value).encode());
            black_box(map)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
