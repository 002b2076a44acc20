//! Compiled ink! contracts from ../shared/fixtures/contracts, run unmodified.

mod harness;

use harness::*;
use parity_scale_codec::{Decode, Encode};
use phala_vm::{CacheOp, Entry, ExecError, Mode};

const ALL_FIXTURES: &[&str] = &[
    "ink3_incrementer_legacy.wasm",
    "ink4_erc20.contract.json",
    "ink4_flipper.contract.json",
    "ink4_psp34_collection_events.contract.json",
    "ink4_test_oracle.contract",
    "ink5_erc20.contract.json",
    "ink5_flipper.contract.json",
    "ink5_flipper.wasm",
    "phat_local_scheduler.contract",
    "phat_sub0_factory.contract",
    "phat_sub_price_feed.contract",
    "pink_check_system.contract",
    "pink_flip_ink3.contract",
    "pink_logging_ink3.wasm",
    "pink_signing_ink3.contract",
    "pink_system.contract",
    "pink_use_cache.contract",
];

#[test]
fn every_fixture_passes_upload_validation() {
    for name in ALL_FIXTURES {
        let wasm = fixture_wasm(name);
        let summary = phala_vm::validate(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.code_hash, sp_crypto_hashing::blake2_256(&wasm));
    }
}

#[test]
fn ink4_flipper_flips() {
    check_flipper("ink4_flipper.contract.json");
}

#[test]
fn ink5_flipper_flips() {
    check_flipper("ink5_flipper.contract.json");
}

#[test]
fn ink4_erc20_transfers_and_reverts() {
    check_erc20("ink4_erc20.contract.json");
}

#[test]
fn ink5_erc20_emits_signature_topics() {
    let (mut cluster, token) = check_erc20("ink5_erc20.contract.json");
    let mut args = BOB.encode();
    args.extend(1u128.encode());
    let transfer = cluster.command(ALICE, token, "84a15da1", &args);
    let topic = transfer.events[0].topics[0];
    assert!(
        hex::encode(topic).starts_with("b5b61a3e"),
        "{}",
        hex::encode(topic)
    );
}

#[test]
fn legacy_ink3_incrementer_runs() {
    let mut cluster = Cluster::new();
    let counter = cluster.deploy("ink3_incrementer_legacy.wasm", "d183512b", &41i32.encode());
    assert!(
        cluster
            .command(ALICE, counter, "2fb8d143", &1i32.encode())
            .is_success()
    );
    let out = cluster.read(ALICE, counter, "1e5ca456", &[]);
    assert_eq!(i32::decode(&mut &out[..]).unwrap(), 42);
}

#[test]
fn legacy_ink3_pink_flip_echoes() {
    let mut cluster = Cluster::new();
    let flip = cluster.deploy("pink_flip_ink3.contract", "9bae9d5e", &true.encode());
    assert!(cluster.command(ALICE, flip, "633aa551", &[]).is_success());
    assert_eq!(cluster.read(ALICE, flip, "2f865bd9", &[]), [0]);
    let out = cluster.read(ALICE, flip, "f7dff04c", &(42u32, 24u128).encode());
    assert_eq!(<(u32, u128)>::decode(&mut &out[..]).unwrap(), (42, 24));
}

#[test]
fn pink_cache_works_in_queries_and_is_deferred_in_transactions() {
    let mut cluster = Cluster::new();
    let contract = cluster.deploy("pink_use_cache.contract", "ed4b9d1b", &[]);
    let out = cluster.read(ALICE, contract, "928b2036", &[]);
    assert_eq!(out, [0]);
    let tx = cluster.command(ALICE, contract, "7ec6db42", &[]);
    assert!(tx.is_success(), "{:?} {}", tx.result, tx.debug_message);
    assert!(
        tx.changes
            .cache_ops
            .iter()
            .any(|(c, op)| *c == contract && matches!(op, CacheOp::Set { .. })),
        "{:?}",
        tx.changes.cache_ops
    );
}

#[test]
fn pink_signing_derives_signs_and_verifies() {
    let mut cluster = Cluster::new();
    let contract = cluster.deploy("pink_signing_ink3.contract", "ed4b9d1b", &[]);
    let outcome = cluster.query(ALICE, contract, "928b2036", &[]);
    assert!(
        outcome.is_success(),
        "{:?} {}",
        outcome.result,
        outcome.debug_message
    );
}

#[test]
fn pink_logging_reaches_the_environment() {
    let mut cluster = Cluster::new();
    let contract = cluster.deploy("pink_logging_ink3.wasm", "ed4b9d1b", &[]);
    let outcome = cluster.command(ALICE, contract, "928b2036", &[]);
    assert!(outcome.is_success(), "{:?}", outcome.result);
    assert!(!cluster.env.logs().is_empty());
}

#[test]
fn http_to_a_host_outside_the_allowlist_is_an_error_not_a_hang() {
    let mut cluster = Cluster::new();
    let checker = cluster.deploy("pink_check_system.contract", "ed4b9d1b", &[]);
    let outcome = cluster.query(
        ALICE,
        checker,
        "fcc914a7",
        &"https://example.com/".to_string().encode(),
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("not allowed"), "{reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    // In a transaction HTTP is unavailable: status 523, no request made.
    let outcome = cluster.command(
        ALICE,
        checker,
        "fcc914a7",
        &"https://example.com/".to_string().encode(),
    );
    let data = outcome.result.unwrap().data;
    assert_eq!(u16::decode(&mut &data[1..]).unwrap(), 523);
}

#[test]
fn out_of_gas_fails_charges_everything_and_changes_nothing() {
    let mut cluster = Cluster::new();
    let flipper = cluster.deploy("ink4_flipper.contract.json", "9bae9d5e", &false.encode());
    let before = cluster.backend.storage.clone();
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract: flipper,
            input: selector("633aa551"),
        },
        3_000,
    );
    assert_eq!(outcome.result, Err(ExecError::OutOfGas));
    assert_eq!(outcome.gas_used, 3_000);
    assert!(outcome.changes.is_empty());
    assert_eq!(cluster.backend.storage, before);
}

#[test]
fn identical_inputs_give_identical_outcomes() {
    // Two workers of a cluster run the same commands: same state, same gas.
    let run = || {
        let mut cluster = Cluster::new();
        let (_, token) = {
            let code = cluster.upload(&fixture_wasm("ink4_erc20.contract.json"));
            let mut input = selector("9bae9d5e");
            input.extend(1_000u128.encode());
            ((), cluster.instantiate(ALICE, code, input))
        };
        let mut gas = Vec::new();
        for i in 0..5u128 {
            let mut args = BOB.encode();
            args.extend(i.encode());
            gas.push(cluster.command(ALICE, token, "84a15da1", &args).gas_used);
        }
        (cluster.backend.storage, gas)
    };
    assert_eq!(run(), run());
}
