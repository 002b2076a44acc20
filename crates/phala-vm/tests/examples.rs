//! The project's own example contracts (`examples/contracts`): each `.contract` bundle is
//! exactly its WAT source assembled and its metadata, and each behaves as the ink! contract
//! it mirrors. `PHALA_BLESS=1 cargo test -p phala-vm --test examples` rewrites the bundles
//! after a source changes.

mod harness;

use harness::*;
use parity_scale_codec::{Decode, Encode};
use phala_vm::REVERT;
use serde_json::{Value, json};

const EXAMPLES: &[&str] = &["flipper", "erc20", "bridge_answerer", "bridge_requester"];

/// The bundle cargo-contract would write: the metadata with a `source` section holding the
/// code, its blake2-256 hash and what made it.
fn build(name: &str) -> Value {
    let dir = examples_dir();
    let wat_path = dir.join(format!("{name}.wat"));
    let wasm = wat::parse_file(&wat_path).unwrap_or_else(|e| panic!("{}: {e}", wat_path.display()));
    let summary = phala_vm::validate(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
    let meta_path = dir.join(format!("{name}.metadata.json"));
    let text = std::fs::read_to_string(&meta_path).unwrap();
    let mut bundle: Value = serde_json::from_str(&text).unwrap();
    bundle["source"] = json!({
        "hash": format!("0x{}", hex::encode(summary.code_hash)),
        "language": "ink! 4 ABI, hand-written WAT",
        "compiler": "wat 1",
        "wasm": format!("0x{}", hex::encode(&wasm)),
    });
    bundle
}

#[test]
fn example_bundles_are_built_from_their_sources() {
    let bless = std::env::var_os("PHALA_BLESS").is_some();
    for name in EXAMPLES {
        let built = build(name);
        let path = examples_dir().join(format!("{name}.contract"));
        if bless {
            let mut text = serde_json::to_string_pretty(&built).unwrap();
            text.push('\n');
            // Through a rename, so a test reading the bundle meanwhile never sees half of it.
            let tmp = path.with_extension("contract.tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            continue;
        }
        let committed: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
        assert!(
            committed == built,
            "{} is not what {name}.wat and {name}.metadata.json make: run \
             `PHALA_BLESS=1 cargo test -p phala-vm --test examples`",
            path.display()
        );
    }
}

#[test]
fn example_flipper_behaves_as_inks() {
    check_flipper(&example("flipper.contract"));
    let mut cluster = Cluster::new();
    let flipper = cluster.deploy(&example("flipper.contract"), "61ef7e3e", &[]);
    assert_eq!(cluster.read(ALICE, flipper, "2f865bd9", &[]), [0, 0]);
    // A bool that is neither 0 nor 1, or trailing bytes, do not decode.
    let code = cluster.upload(&fixture_wasm(&example("flipper.contract")));
    for bad in [&[2u8][..], &[0, 0]] {
        let mut input = selector("9bae9d5e");
        input.extend_from_slice(bad);
        let out = cluster.run(
            phala_vm::Mode::Transaction,
            ALICE,
            phala_vm::Entry::Instantiate {
                code_hash: code,
                salt: bad.to_vec(),
                input,
            },
            GAS,
        );
        let result = out.result.unwrap();
        assert_eq!((result.flags, result.data), (REVERT, vec![1, 1]));
    }
}

#[test]
fn example_erc20_behaves_as_inks() {
    let (mut cluster, token) = check_erc20(&example("erc20.contract"));
    let balance = |cluster: &mut Cluster, who: [u8; 32]| {
        let out = cluster.read(who, token, "0f755a56", &who.encode());
        u128::decode(&mut &out[1..]).unwrap()
    };
    let total = cluster.read(ALICE, token, "db6375a8", &[]);
    assert_eq!(total[0], 0);
    assert_eq!(u128::decode(&mut &total[1..]).unwrap(), 1_000);

    // Bob spends 30 of the 50 Alice allowed him, sending it to himself.
    let mut args = ALICE.encode();
    args.extend(BOB.encode());
    args.extend(30u128.encode());
    let spent = cluster.command(BOB, token, "0b396f18", &args);
    assert_eq!(spent.result.as_ref().unwrap().data, [0, 0], "{spent:?}");
    assert_eq!(spent.events.len(), 1);
    assert_eq!(balance(&mut cluster, ALICE), 870);
    assert_eq!(balance(&mut cluster, BOB), 130);
    let mut args = ALICE.encode();
    args.extend(BOB.encode());
    let left = cluster.read(ALICE, token, "6a00165e", &args);
    assert_eq!(u128::decode(&mut &left[1..]).unwrap(), 20);

    // More than the allowance: Ok(Err(InsufficientAllowance)), reverted.
    let mut args = ALICE.encode();
    args.extend(BOB.encode());
    args.extend(21u128.encode());
    let refused = cluster.command(BOB, token, "0b396f18", &args);
    let result = refused.result.unwrap();
    assert_eq!((result.flags, result.data), (REVERT, vec![0, 1, 1]));

    // A transfer to oneself changes nothing but still reports the transfer.
    let mut args = ALICE.encode();
    args.extend(870u128.encode());
    let to_self = cluster.command(ALICE, token, "84a15da1", &args);
    assert_eq!(to_self.result.unwrap().data, [0, 0]);
    assert_eq!(balance(&mut cluster, ALICE), 870);

    // Balances above 2^64 carry between the halves.
    let mut big = Cluster::new();
    let supply = u128::MAX - 1;
    let token = big.deploy(&example("erc20.contract"), "9bae9d5e", &supply.encode());
    let mut args = BOB.encode();
    args.extend((u128::from(u64::MAX) + 2).encode());
    assert!(big.command(ALICE, token, "84a15da1", &args).is_success());
    let out = big.read(BOB, token, "0f755a56", &BOB.encode());
    assert_eq!(
        u128::decode(&mut &out[1..]).unwrap(),
        u128::from(u64::MAX) + 2
    );
    let out = big.read(ALICE, token, "0f755a56", &ALICE.encode());
    assert_eq!(
        u128::decode(&mut &out[1..]).unwrap(),
        supply - u128::from(u64::MAX) - 2
    );

    // Arguments of the wrong length are refused, with ink!'s CouldNotReadInput.
    let short = big.query(ALICE, token, "0f755a56", &[0; 31]);
    let result = short.result.unwrap();
    assert_eq!((result.flags, result.data), (REVERT, vec![1, 1]));
}

/// The bridge pair without the bridge: `ask` records exactly the XCM message the bridge
/// carries (refused in a query), the answerer answers the call it holds, and
/// `on_bridge_reply` keeps the outcome for `last_reply`.
#[test]
fn example_bridge_pair_asks_and_answers() {
    let mut cluster = Cluster::new();
    let requester = cluster.deploy(&example("bridge_requester.contract"), "9bae9d5e", &[]);
    let answerer = cluster.deploy(&example("bridge_answerer.contract"), "9bae9d5e", &[]);
    let question = b"what is the answer?".to_vec();
    let mut args = 7u32.encode();
    args.extend_from_slice(&answerer);
    question.encode_to(&mut args);

    // A query may not send.
    let query = cluster.query(ALICE, requester, "020f741e", &args);
    assert!(query.result.is_err(), "{:?}", query.result);
    assert!(
        query.debug_message.contains("a query cannot send"),
        "{}",
        query.debug_message
    );

    let asked = cluster.command(ALICE, requester, "020f741e", &args);
    assert!(
        asked.is_success(),
        "{:?} {}",
        asked.result,
        asked.debug_message
    );
    assert_eq!(asked.result.unwrap().data, [0, 0, 0, 0, 0], "query id 0");
    let [(sender, sent)] = &asked.changes.sent[..] else {
        panic!("{:?}", asked.changes.sent)
    };
    assert_eq!(*sender, requester);
    let mut call = selector("49993064");
    question.encode_to(&mut call);
    assert_eq!(
        *sent,
        phala_vm::xcm::BridgeMessage {
            channel: 7,
            contract: answerer,
            call: call.clone(),
            gas_limit: 1_000_000_000,
            storage_bytes: 1024,
            reply: Some(phala_vm::xcm::ReplyRequest {
                query_id: 0,
                gas_limit: 1_000_000_000,
                storage_bytes: 1024,
            }),
        }
    );
    // The next one gets the next query id.
    let again = cluster.command(ALICE, requester, "020f741e", &args);
    assert_eq!(again.result.unwrap().data, [0, 1, 0, 0, 0]);

    // The answerer runs the call the message holds.
    let answered = cluster.run(
        phala_vm::Mode::Transaction,
        BOB,
        phala_vm::Entry::Call {
            contract: answerer,
            input: call,
        },
        GAS,
    );
    let answer = answered.result.unwrap().data;
    let mut want = vec![0u8];
    b"WHAT IS THE ANSWER?".to_vec().encode_to(&mut want);
    assert_eq!(answer, want);
    assert_eq!(
        cluster.read(ALICE, answerer, "36a4ed8b", &[]),
        [0, 1, 0, 0, 0]
    );

    // Its outcome comes back to the requester, which keeps it.
    assert_eq!(cluster.read(ALICE, requester, "e8c9c5a1", &[]), [0, 0]);
    let mut reply = 0u64.encode();
    reply.push(0); // Ack::Success
    answer.encode_to(&mut reply);
    let kept = cluster.command(BOB, requester, "c78de165", &reply);
    assert!(kept.is_success(), "{:?}", kept.result);
    let mut want = vec![0u8, 1];
    want.extend_from_slice(&reply);
    assert_eq!(cluster.read(ALICE, requester, "e8c9c5a1", &[]), want);
}
