//! Hand-written contracts for what the fixtures do not cover: upload validation, nested
//! calls (forwarding, revert, out of gas, reentrancy) and instantiation from a contract.

mod harness;

use harness::*;
use parity_scale_codec::Encode;
use phala_vm::{CodeError, Entry, ExecError, Mode};

fn wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

const EXPORTS: &str = r#"(func (export "deploy")) (func (export "call"))"#;

fn module(body: &str) -> Vec<u8> {
    wasm(&format!("(module {body})"))
}

#[test]
fn bad_codes_are_refused_at_upload_with_a_clear_error() {
    let memory = r#"(import "env" "memory" (memory 1 16))"#;
    let cases: Vec<(&str, Vec<u8>, fn(&CodeError) -> bool)> = vec![
        ("not wasm", b"hello world".to_vec(), |e| {
            matches!(e, CodeError::NotWasm)
        }),
        ("malformed", b"\0asm\x01\0\0\0\x01\xff\xff".to_vec(), |e| {
            matches!(e, CodeError::Invalid(_))
        }),
        (
            "oversized",
            {
                let mut big = b"\0asm\x01\0\0\0".to_vec();
                big.resize(phala_vm::MAX_CODE_SIZE + 1, 0);
                big
            },
            |e| matches!(e, CodeError::TooLarge(_)),
        ),
        (
            "floats",
            module(&format!(
                r#"{memory} (func (export "deploy") (drop (f32.add (f32.const 1) (f32.const 2)))) (func (export "call"))"#
            )),
            |e| matches!(e, CodeError::FloatingPoint(_)),
        ),
        ("no memory", module(EXPORTS), |e| {
            matches!(e, CodeError::NoMemory)
        }),
        (
            "memory too large",
            module(&format!(
                r#"(import "env" "memory" (memory 1 17)) {EXPORTS}"#
            )),
            |e| matches!(e, CodeError::MemoryTooLarge(17)),
        ),
        (
            "memory without maximum over the limit",
            module(&format!(r#"(import "env" "memory" (memory 17)) {EXPORTS}"#)),
            |e| matches!(e, CodeError::MemoryTooLarge(_)),
        ),
        (
            "unknown host function",
            module(&format!(
                r#"(import "seal0" "launch_missiles" (func)) {memory} {EXPORTS}"#
            )),
            |e| matches!(e, CodeError::UnknownImport(_)),
        ),
        (
            "wrong host function signature",
            module(&format!(
                r#"(import "seal0" "input" (func (param i32))) {memory} {EXPORTS}"#
            )),
            |e| matches!(e, CodeError::ImportSignature(_)),
        ),
        (
            "extra export",
            module(&format!(r#"{memory} {EXPORTS} (func (export "other"))"#)),
            |e| matches!(e, CodeError::ForbiddenExport(_)),
        ),
        (
            "missing call",
            module(&format!(r#"{memory} (func (export "deploy"))"#)),
            |e| matches!(e, CodeError::MissingExport("call")),
        ),
        (
            "global import",
            module(&format!(
                r#"(import "env" "g" (global i32)) {memory} {EXPORTS}"#
            )),
            |e| matches!(e, CodeError::ForbiddenImport(_)),
        ),
    ];
    for (name, code, expected) in cases {
        match phala_vm::validate(&code) {
            Err(e) => {
                assert!(expected(&e), "{name}: unexpected error {e:?}");
                assert!(!e.to_string().is_empty());
            }
            Ok(_) => panic!("{name}: accepted"),
        }
    }
    // The minimal valid contract.
    phala_vm::validate(&module(&format!("{memory} {EXPORTS}"))).unwrap();
}

/// Calls the contract stored at deploy (32-byte input) with the caller's input forwarded
/// and `gas` (0 = all), and returns `return code (u32 LE) ‖ callee output`.
fn proxy(gas: u64, flags: u32) -> Vec<u8> {
    wasm(&format!(
        r#"(module
        (import "seal0" "input" (func $input (param i32 i32)))
        (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
        (import "seal1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
        (import "seal2" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
        (import "seal1" "call" (func $call (param i32 i32 i64 i32 i32 i32 i32 i32) (result i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy")
            (i32.store (i32.const 100) (i32.const 1024))
            (call $input (i32.const 200) (i32.const 100))
            (drop (call $set (i32.const 0) (i32.const 4) (i32.const 200) (i32.const 32))))
        (func (export "call") (local $rc i32)
            (i32.store (i32.const 100) (i32.const 32))
            (drop (call $get (i32.const 0) (i32.const 4) (i32.const 32) (i32.const 100)))
            ;; Something of its own to keep, whatever the callee does.
            (i32.store (i32.const 8) (i32.const 4))
            (drop (call $set (i32.const 8) (i32.const 4) (i32.const 8) (i32.const 4)))
            (i32.store (i32.const 100) (i32.const 1024))
            (local.set $rc (call $call (i32.const {flags}) (i32.const 32) (i64.const {gas})
                (i32.const 64) (i32.const 0) (i32.const 0) (i32.const 200) (i32.const 100)))
            (if (i32.and (i32.ne (local.get $rc) (i32.const 0)) (i32.ne (local.get $rc) (i32.const 2)))
                (then (i32.store (i32.const 100) (i32.const 0))))
            (i32.store (i32.const 196) (local.get $rc))
            (call $return (i32.const 0) (i32.const 196)
                (i32.add (i32.const 4) (i32.load (i32.const 100)))))
    )"#
    ))
}

const LOOPER: &str = r#"(module
    (import "env" "memory" (memory 1 16))
    (func (export "deploy"))
    (func (export "call") (loop $forever (br $forever))))"#;

fn through(cluster: &mut Cluster, proxy: [u8; 32], mode: Mode, input: Vec<u8>) -> (u32, Vec<u8>) {
    let outcome = cluster.run(
        mode,
        ALICE,
        Entry::Call {
            contract: proxy,
            input,
        },
        GAS,
    );
    let data = outcome
        .result
        .unwrap_or_else(|e| panic!("proxy: {e}: {}", outcome.debug_message))
        .data;
    (
        u32::from_le_bytes(data[..4].try_into().unwrap()),
        data[4..].to_vec(),
    )
}

#[test]
fn a_contract_calls_another_and_sees_its_reverts_and_traps() {
    let mut cluster = Cluster::new();
    let flipper = cluster.deploy("ink4_flipper.contract.json", "9bae9d5e", &false.encode());
    let proxy_code = cluster.upload(&proxy(0, 1));
    let to_flipper = cluster.instantiate(ALICE, proxy_code, flipper.to_vec());

    // flip through the proxy, then get through it.
    let (rc, _) = through(
        &mut cluster,
        to_flipper,
        Mode::Transaction,
        selector("633aa551"),
    );
    assert_eq!(rc, 0);
    let (rc, out) = through(&mut cluster, to_flipper, Mode::Query, selector("2f865bd9"));
    assert_eq!((rc, out), (0, vec![0, 1]));

    // A reverting callee: CalleeReverted, its changes gone, the proxy's own kept.
    let mut input = selector("9bae9d5e");
    input.extend(1_000u128.encode());
    let token_code = cluster.upload(&fixture_wasm("ink4_erc20.contract.json"));
    let token = cluster.instantiate(BOB, token_code, input);
    let to_token = {
        let salted = Entry::Instantiate {
            code_hash: proxy_code,
            salt: b"token".to_vec(),
            input: token.to_vec(),
        };
        let outcome = cluster.run(Mode::Transaction, ALICE, salted, GAS);
        assert!(outcome.is_success());
        outcome.contract
    };
    let before = cluster
        .backend
        .storage
        .iter()
        .filter(|((c, _), _)| *c == token)
        .count();
    let mut input = selector("84a15da1");
    input.extend(BOB.encode());
    input.extend(5u128.encode());
    let (rc, out) = through(&mut cluster, to_token, Mode::Transaction, input);
    assert_eq!((rc, out), (2, vec![0, 1, 0]), "the proxy holds no tokens");
    assert_eq!(
        cluster
            .backend
            .storage
            .iter()
            .filter(|((c, _), _)| *c == token)
            .count(),
        before
    );
    assert!(
        cluster
            .backend
            .storage
            .contains_key(&(to_token, vec![4, 0, 0, 0]))
    );

    // A callee that runs out of its gas slice: CalleeTrapped, the caller goes on.
    let looper_code = cluster.upload(&wasm(LOOPER));
    let looper = cluster.instantiate(ALICE, looper_code, vec![]);
    let limited = cluster.upload(&proxy(1_000_000, 1));
    let to_looper = cluster.instantiate(ALICE, limited, looper.to_vec());
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract: to_looper,
            input: vec![],
        },
        GAS,
    );
    let data = outcome.result.unwrap().data;
    assert_eq!(u32::from_le_bytes(data[..4].try_into().unwrap()), 1);
    assert!(
        outcome.gas_used > 1_000_000 && outcome.gas_used < 2_000_000,
        "{}",
        outcome.gas_used
    );
}

#[test]
fn reentrance_is_refused_unless_allowed() {
    let mut cluster = Cluster::new();
    let code = cluster.upload(&proxy(0, 1));
    // A proxy whose callee is itself: its address is known before it exists.
    let me = phala_vm::contract_address(&ALICE, &code, &CLUSTER, &[]);
    assert_eq!(cluster.instantiate(ALICE, code, me.to_vec()), me);
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract: me,
            input: vec![],
        },
        GAS,
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("reentrance"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // With ALLOW_REENTRY it recurses until the depth limit, which traps the innermost caller.
    let code = cluster.upload(&proxy(0, 1 | 8));
    let me = phala_vm::contract_address(&ALICE, &code, &CLUSTER, &[]);
    cluster.instantiate(ALICE, code, me.to_vec());
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract: me,
            input: vec![],
        },
        GAS,
    );
    assert!(outcome.is_success(), "{:?}", outcome.result);
    // Frames 1–5 each prepend their callee's return code; frame 6 trapped at the limit.
    let data = outcome.result.unwrap().data;
    assert_eq!(data.len(), 4 * (phala_vm::MAX_CALL_DEPTH - 1));
    assert!(data.ends_with(&[1, 0, 0, 0]) && data[..data.len() - 4].iter().all(|b| *b == 0));
}

/// Instantiates the code whose hash is the first 32 bytes of its input with the rest as the
/// constructor input, and returns `return code ‖ address`.
const FACTORY: &str = r#"(module
    (import "seal0" "input" (func $input (param i32 i32)))
    (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
    (import "seal1" "instantiate" (func $instantiate
        (param i32 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
    (import "env" "memory" (memory 1 16))
    (func (export "deploy"))
    (func (export "call")
        (i32.store (i32.const 100) (i32.const 1024))
        (call $input (i32.const 200) (i32.const 100))
        (i32.store (i32.const 104) (i32.const 32))
        (i32.store (i32.const 160)
            (call $instantiate (i32.const 200) (i64.const 0) (i32.const 64)
                (i32.const 232) (i32.sub (i32.load (i32.const 100)) (i32.const 32))
                (i32.const 164) (i32.const 104)
                (i32.const -1) (i32.const 0)
                (i32.const 0) (i32.const 0)))
        (call $return (i32.const 0) (i32.const 160) (i32.const 36))))"#;

#[test]
fn a_contract_instantiates_another_in_its_cluster() {
    let mut cluster = Cluster::new();
    let flipper_code = cluster.upload(&fixture_wasm("ink4_flipper.contract.json"));
    let factory_code = cluster.upload(&wasm(FACTORY));
    let factory = cluster.instantiate(ALICE, factory_code, vec![]);
    let mut input = flipper_code.to_vec();
    input.extend(selector("9bae9d5e"));
    input.extend(true.encode());
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract: factory,
            input,
        },
        GAS,
    );
    let data = outcome.result.unwrap().data;
    assert_eq!(u32::from_le_bytes(data[..4].try_into().unwrap()), 0);
    let child: [u8; 32] = data[4..].try_into().unwrap();
    assert_eq!(
        child,
        phala_vm::contract_address(&factory, &flipper_code, &CLUSTER, &[])
    );
    assert_eq!(cluster.read(ALICE, child, "2f865bd9", &[]), [0, 1]);
    assert_eq!(
        cluster.backend.contracts.get(&child).map(|c| c.deployer),
        Some(factory)
    );
}

#[test]
fn out_of_bounds_pointers_and_small_buffers_trap() {
    let mut cluster = Cluster::new();
    let code = cluster.upload(&wasm(
        r#"(module
        (import "seal0" "input" (func $input (param i32 i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy"))
        (func (export "call")
            (i32.store (i32.const 100) (i32.const 2))
            (call $input (i32.const 200) (i32.const 100))))"#,
    ));
    let contract = cluster.instantiate(ALICE, code, vec![]);
    let outcome = cluster.run(
        Mode::Query,
        ALICE,
        Entry::Call {
            contract,
            input: vec![1, 2, 3],
        },
        GAS,
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("too small"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let code = cluster.upload(&wasm(
        r#"(module
        (import "seal0" "input" (func $input (param i32 i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy"))
        (func (export "call") (call $input (i32.const 65535) (i32.const 70000))))"#,
    ));
    let contract = cluster.instantiate(ALICE, code, vec![]);
    let outcome = cluster.run(
        Mode::Query,
        ALICE,
        Entry::Call {
            contract,
            input: vec![1],
        },
        GAS,
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("out of bounds"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn delegate_call_runs_another_code_on_the_callers_storage() {
    let mut cluster = Cluster::new();
    // Writes key "k" = "v" in whatever storage it runs on.
    let setter = cluster.upload(&wasm(
        r#"(module
        (import "seal2" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
        (import "env" "memory" (memory 1 16))
        (data (i32.const 0) "kv")
        (func (export "deploy"))
        (func (export "call") (drop (call $set (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1)))))"#,
    ));
    // Delegates to the code hash it was deployed with.
    let delegator = cluster.upload(&wasm(
        r#"(module
        (import "seal0" "input" (func $input (param i32 i32)))
        (import "seal1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
        (import "seal2" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
        (import "seal0" "delegate_call" (func $delegate (param i32 i32 i32 i32 i32 i32) (result i32)))
        (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy")
            (i32.store (i32.const 100) (i32.const 32))
            (call $input (i32.const 200) (i32.const 100))
            (drop (call $set (i32.const 0) (i32.const 4) (i32.const 200) (i32.const 32))))
        (func (export "call")
            (i32.store (i32.const 100) (i32.const 32))
            (drop (call $get (i32.const 0) (i32.const 4) (i32.const 32) (i32.const 100)))
            (i32.store (i32.const 300)
                (call $delegate (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 0)
                    (i32.const -1) (i32.const 0)))
            (call $return (i32.const 0) (i32.const 300) (i32.const 4))))"#,
    ));
    let contract = cluster.instantiate(ALICE, delegator, setter.to_vec());
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract,
            input: vec![],
        },
        GAS,
    );
    assert_eq!(outcome.result.unwrap().data, [0, 0, 0, 0]);
    assert_eq!(
        cluster.backend.storage.get(&(contract, b"k".to_vec())),
        Some(&b"v".to_vec())
    );
    // A code that is not uploaded: CodeNotFound, and nothing written.
    let missing = cluster.upload(&wasm(
        r#"(module
        (import "seal0" "delegate_call" (func $delegate (param i32 i32 i32 i32 i32 i32) (result i32)))
        (import "seal0" "seal_return" (func $return (param i32 i32 i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy"))
        (func (export "call")
            (i32.store (i32.const 300)
                (call $delegate (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                    (i32.const -1) (i32.const 0)))
            (call $return (i32.const 0) (i32.const 300) (i32.const 4))))"#,
    ));
    let contract = cluster.instantiate(ALICE, missing, vec![]);
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Call {
            contract,
            input: vec![],
        },
        GAS,
    );
    assert_eq!(outcome.result.unwrap().data, [7, 0, 0, 0]);
}

#[test]
fn a_query_past_its_deadline_stops_at_its_next_host_call() {
    let mut cluster = Cluster::new();
    let flipper = cluster.deploy("ink4_flipper.contract.json", "9bae9d5e", &false.encode());
    let outcome = cluster.vm.execute(
        Box::new(cluster.backend.clone()),
        cluster.env.clone(),
        phala_vm::ExecContext {
            mode: Mode::Query,
            cluster: CLUSTER,
            block_number: 1,
            timestamp_ms: 0,
            gas_price: 1,
            system_contract: [0; 32],
            deadline: Some(std::time::Instant::now()),
        },
        phala_vm::Request {
            origin: ALICE,
            entry: Entry::Call {
                contract: flipper,
                input: selector("2f865bd9"),
            },
            gas_limit: GAS,
        },
    );
    assert_eq!(outcome.result, Err(ExecError::Timeout));
}

#[test]
fn an_execution_cannot_hold_unbounded_events_or_changes() {
    let mut cluster = Cluster::new();
    // Deposits 16 KiB events forever: gas is plenty, memory is what stops it.
    let code = cluster.upload(&wasm(
        r#"(module
        (import "seal0" "deposit_event" (func $event (param i32 i32 i32 i32)))
        (import "env" "memory" (memory 1 16))
        (func (export "deploy"))
        (func (export "call") (loop $again
            (call $event (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16384))
            (br $again))))"#,
    ));
    let contract = cluster.instantiate(ALICE, code, vec![]);
    let outcome = cluster.run(
        Mode::Query,
        ALICE,
        Entry::Call {
            contract,
            input: vec![],
        },
        100_000_000_000,
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("bytes of changes"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(outcome.events.is_empty());
}

/// `call` terminates in favour of the 32 bytes of its input; `deploy` does the same when
/// given any input.
const DOOMED: &str = r#"(module
    (import "seal0" "input" (func $input (param i32 i32)))
    (import "seal1" "terminate" (func $terminate (param i32)))
    (import "env" "memory" (memory 1 16))
    (func $end
        (i32.store (i32.const 100) (i32.const 64))
        (call $input (i32.const 0) (i32.const 100))
        (if (i32.ne (i32.load (i32.const 100)) (i32.const 0))
            (then (call $terminate (i32.const 0)))))
    (func (export "deploy") (call $end))
    (func (export "call") (call $end)))"#;

#[test]
fn termination_names_its_beneficiary_and_is_refused_in_a_constructor_or_to_itself() {
    let mut cluster = Cluster::new();
    let code = cluster.upload(&wasm(DOOMED));
    let outcome = cluster.run(
        Mode::Transaction,
        ALICE,
        Entry::Instantiate {
            code_hash: code,
            salt: vec![],
            input: BOB.to_vec(),
        },
        GAS,
    );
    match outcome.result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("constructor"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let contract = cluster.instantiate(ALICE, code, vec![]);
    let call = |cluster: &mut Cluster, beneficiary: [u8; 32]| {
        cluster.run(
            Mode::Transaction,
            ALICE,
            Entry::Call {
                contract,
                input: beneficiary.to_vec(),
            },
            GAS,
        )
    };
    match call(&mut cluster, contract).result {
        Err(ExecError::Trapped(reason)) => assert!(reason.contains("itself"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let outcome = call(&mut cluster, BOB);
    assert!(outcome.is_success(), "{:?}", outcome.result);
    assert_eq!(outcome.changes.contracts.get(&contract), Some(&None));
    assert_eq!(
        outcome
            .changes
            .terminated_to
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(contract, BOB)]
    );
    assert!(!cluster.backend.contracts.contains_key(&contract));
}
