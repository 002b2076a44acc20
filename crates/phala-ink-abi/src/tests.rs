//! Tests against the real bundles in `shared/fixtures/contracts` and a synthetic registry
//! that covers the type shapes the fixtures lack.

use std::path::PathBuf;

use phala_primitives::AccountId32;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
const BOB: &str = "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48";
const BOB_SS58: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

/// `$PHALA_FIXTURES/contracts`, else `shared/fixtures/contracts` beside this checkout or
/// any folder above it, else `/work/shared/fixtures/contracts` (as phala-vm looks).
fn fixture(name: &str) -> PathBuf {
    let dir = match std::env::var("PHALA_FIXTURES") {
        Ok(dir) => PathBuf::from(dir).join("contracts"),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join("shared/fixtures/contracts"))
            .find(|candidate| candidate.is_dir())
            .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/contracts")),
    };
    dir.join(name)
}

fn load(name: &str) -> Bundle {
    Bundle::load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.replace(' ', "")).unwrap()
}

fn ss58(hex_key: &str) -> String {
    AccountId32(bytes(hex_key).try_into().unwrap()).to_ss58()
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const FIXTURES: &[&str] = &[
    "ink4_flipper.contract.json",
    "ink4_erc20.contract.json",
    "ink5_flipper.contract.json",
    "ink5_erc20.contract.json",
    "ink4_psp34_collection_events.contract.json",
    "pink_use_cache.contract",
    "pink_signing_ink3.contract",
    "pink_flip_ink3.contract",
    "ink3_incrementer_legacy.json",
    "ink4_test_oracle.contract",
    "pink_system.contract",
    "pink_check_system.contract",
    "phat_sub0_factory.contract",
    "phat_local_scheduler.contract",
    "phat_sub_price_feed.contract",
];

#[test]
fn loads_every_fixture_and_checks_the_code_hash() {
    for name in FIXTURES {
        let bundle = load(name);
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
        let hash = doc["source"]["hash"].as_str().unwrap();
        assert_eq!(
            bundle.metadata.source_hash().map(hex::encode),
            Some(hash[2..].to_string()),
            "{name}"
        );
        if *name == "ink3_incrementer_legacy.json" {
            assert!(bundle.wasm.is_none());
            assert_eq!(bundle.code_hash(), None);
        } else {
            assert_eq!(
                bundle.code_hash().map(hex::encode),
                Some(hash[2..].to_string()),
                "{name}"
            );
        }
        assert!(!bundle.name.is_empty(), "{name}");
        assert!(!bundle.metadata.messages().is_empty(), "{name}");
        assert!(bundle.metadata.default_constructor().is_some(), "{name}");
    }
}

#[test]
fn versions_and_names() {
    assert_eq!(load("ink4_flipper.contract.json").metadata.version(), 4);
    assert_eq!(load("ink5_flipper.contract.json").metadata.version(), 5);
    assert_eq!(load("pink_signing_ink3.contract").metadata.version(), 3);
    let legacy = load("ink3_incrementer_legacy.json");
    assert_eq!(legacy.metadata.version(), 0);
    assert_eq!(legacy.name, "incrementer");
    assert_eq!(legacy.metadata.language(), Some("ink! 3.0.0-rc1"));
}

#[test]
fn selectors_match_the_manifest() {
    for name in [
        "ink4_flipper.contract.json",
        "ink5_flipper.contract.json",
        "pink_flip_ink3.contract",
    ] {
        let m = load(name).metadata;
        assert_eq!(
            m.message("flip").unwrap().selector,
            [0x63, 0x3a, 0xa5, 0x51]
        );
        assert_eq!(m.message("get").unwrap().selector, [0x2f, 0x86, 0x5b, 0xd9]);
        assert_eq!(
            m.constructor("new").unwrap().selector,
            [0x9b, 0xae, 0x9d, 0x5e]
        );
        assert_eq!(m.default_constructor().unwrap().label, "new");
        assert_eq!(m.message("0x633aa551").unwrap().label, "flip");
        assert_eq!(m.constructor("0x9bae9d5e").unwrap().label, "new");
        assert!(m.message("flip").unwrap().mutates);
        assert!(!m.message("get").unwrap().mutates);
    }
    let signing = load("pink_signing_ink3.contract").metadata;
    assert_eq!(signing.default_constructor().unwrap().label, "default");
    assert_eq!(
        signing.message("test").unwrap().selector,
        [0x92, 0x8b, 0x20, 0x36]
    );
}

#[test]
fn flipper_calls_and_returns() {
    for name in ["ink4_flipper.contract.json", "ink5_flipper.contract.json"] {
        let m = load(name).metadata;
        let new = m.constructor("new").unwrap();
        assert_eq!(
            m.encode_call(new, &args(&["false"])).unwrap(),
            bytes("9bae9d5e00")
        );
        assert_eq!(
            m.encode_call(new, &args(&["true"])).unwrap(),
            bytes("9bae9d5e01")
        );
        let get = m.message("get").unwrap();
        assert_eq!(m.encode_call(get, &[]).unwrap(), bytes("2f865bd9"));
        assert_eq!(m.decode_return(get, &[0, 1]).unwrap(), json!({"Ok": true}));
        assert_eq!(
            m.decode_return(get, &[1, 1]).unwrap(),
            json!({"Err": "CouldNotReadInput"})
        );
        let flip = m.message("flip").unwrap();
        assert_eq!(m.decode_return(flip, &[0]).unwrap(), json!({"Ok": null}));
        // Leftover or missing bytes are errors.
        assert!(m.decode_return(get, &[0, 1, 0]).is_err());
        assert!(m.decode_return(get, &[0]).is_err());
        assert!(m.decode_return(get, &[0, 2]).is_err());
    }
}

#[test]
fn erc20_transfer_and_balance() {
    for name in ["ink4_erc20.contract.json", "ink5_erc20.contract.json"] {
        let m = load(name).metadata;
        let transfer = m.message("transfer").unwrap();
        let data = m.encode_call(transfer, &args(&[BOB_SS58, "100"])).unwrap();
        let mut expected = bytes("84a15da1");
        expected.extend(bytes(BOB));
        expected.extend(100u128.to_le_bytes());
        assert_eq!(data, expected, "{name}");
        // The same account as hex, and the amount with underscores.
        assert_eq!(
            m.encode_call(transfer, &args(&[&format!("0x{BOB}"), "1_00"]))
                .unwrap(),
            expected
        );
        assert_eq!(
            m.decode_return(transfer, &[0, 1, 0]).unwrap(),
            json!({"Ok": {"Err": "InsufficientBalance"}})
        );
        assert_eq!(
            m.decode_return(transfer, &[0, 0]).unwrap(),
            json!({"Ok": {"Ok": null}})
        );
        let balance_of = m.message("balance_of").unwrap();
        let mut out = vec![0u8];
        out.extend(1000u128.to_le_bytes());
        assert_eq!(
            m.decode_return(balance_of, &out).unwrap(),
            json!({"Ok": 1000})
        );
        let mut big = vec![0u8];
        big.extend(u128::MAX.to_le_bytes());
        assert_eq!(
            m.decode_return(balance_of, &big).unwrap(),
            json!({"Ok": u128::MAX.to_string()})
        );
        assert_eq!(
            m.signature(transfer),
            "to: AccountId, value: Balance",
            "{name}"
        );
    }
}

#[test]
fn erc20_events() {
    let alice = bytes(ALICE);
    let bob = bytes(BOB);

    // ink 4: the data starts with the event's index in spec.events.
    let v4 = load("ink4_erc20.contract.json").metadata;
    let mut data = vec![0u8, 1];
    data.extend(&alice);
    data.push(1);
    data.extend(&bob);
    data.extend(100u128.to_le_bytes());
    let (label, fields) = v4.decode_event(&[[0u8; 32]], &data).unwrap();
    assert_eq!(label, "Transfer");
    assert_eq!(
        fields,
        json!({"from": ss58(ALICE), "to": ss58(BOB), "value": 100})
    );
    let mut approval = vec![1u8];
    approval.extend(&alice);
    approval.extend(&bob);
    approval.extend(7u128.to_le_bytes());
    let (label, fields) = v4.decode_event(&[], &approval).unwrap();
    assert_eq!(label, "Approval");
    assert_eq!(
        fields,
        json!({"owner": ss58(ALICE), "spender": ss58(BOB), "value": 7})
    );
    let err = v4.decode_event(&[], &[5]).unwrap_err().to_string();
    assert!(err.contains("Transfer, Approval"), "{err}");

    // ink 5: topic[0] is the signature topic; the data holds only the fields.
    let v5 = load("ink5_erc20.contract.json").metadata;
    let topic: [u8; 32] = bytes("b5b61a3e6a21a16be4f044b517c28ac692492f73c5bfd3f60178ad98c767f4cb")
        .try_into()
        .unwrap();
    let mut data = vec![0u8, 1];
    data.extend(&bob);
    data.extend(500u128.to_le_bytes());
    let (label, fields) = v5.decode_event(&[topic, [0; 32]], &data).unwrap();
    assert_eq!(label, "Transfer");
    assert_eq!(fields, json!({"from": null, "to": ss58(BOB), "value": 500}));
    let err = v5.decode_event(&[[9; 32]], &data).unwrap_err().to_string();
    assert!(err.contains("signature topic 0x0909"), "{err}");
    // Trailing bytes are refused.
    data.push(0);
    assert!(v5.decode_event(&[topic], &data).is_err());
}

#[test]
fn psp34_trait_messages() {
    let m = load("ink4_psp34_collection_events.contract.json").metadata;
    let transfer = m.message("PSP34::transfer").unwrap();
    assert_eq!(transfer.selector, [0x31, 0x28, 0xd6, 0x1b]);
    // The short name works when only one trait has it.
    assert_eq!(m.message("transfer").unwrap().label, "PSP34::transfer");
    let data = m
        .encode_call(transfer, &args(&[ALICE_SS58, "U8(1)", "0x"]))
        .unwrap();
    let mut expected = bytes("3128d61b");
    expected.extend(bytes(ALICE));
    expected.extend([0, 1, 0]);
    assert_eq!(data, expected);
    let with_bytes = m
        .encode_call(transfer, &args(&[ALICE_SS58, "Bytes(0x0102)", "[3, 4]"]))
        .unwrap();
    assert_eq!(with_bytes.get(36..).unwrap(), [5, 8, 1, 2, 8, 3, 4]);
    // `mint` is both a message and the end of `Minting::mint`: the exact label wins.
    assert_eq!(m.message("mint").unwrap().label, "mint");
    let owner_of = m.message("PSP34::owner_of").unwrap();
    let mut out = vec![0u8, 1];
    out.extend(bytes(BOB));
    assert_eq!(
        m.decode_return(owner_of, &out).unwrap(),
        json!({"Ok": ss58(BOB)})
    );
    assert_eq!(
        m.decode_return(owner_of, &[0, 0]).unwrap(),
        json!({"Ok": null})
    );
    let burn = m.message("PSP34Burnable::burn").unwrap();
    assert_eq!(
        m.decode_return(burn, &[0, 1, 0, 8, b'h', b'i']).unwrap(),
        json!({"Ok": {"Err": {"Custom": "0x6869"}}})
    );
    // ink 4 events of the collection: index 1 is Approval(from, to, id: Option<Id>, bool).
    let mut ev = vec![1u8];
    ev.extend(bytes(ALICE));
    ev.extend(bytes(BOB));
    ev.extend([1, 2, 7, 0, 0, 0, 1]);
    let (label, fields) = m.decode_event(&[], &ev).unwrap();
    assert_eq!(label, "Approval");
    assert_eq!(
        fields,
        json!({"from": ss58(ALICE), "to": ss58(BOB), "id": {"U32": 7}, "approved": true})
    );
}

#[test]
fn old_formats() {
    let inc = load("ink3_incrementer_legacy.json").metadata;
    let call = inc.message("inc").unwrap();
    assert_eq!(call.args[0].label, "by");
    assert_eq!(call.args[0].type_name, "i32");
    assert_eq!(
        inc.encode_call(call, &args(&["5"])).unwrap(),
        bytes("2fb8d143 05000000")
    );
    assert_eq!(
        inc.encode_call(call, &args(&["-1"])).unwrap(),
        bytes("2fb8d143 ffffffff")
    );
    let get = inc.message("get").unwrap();
    assert_eq!(inc.decode_return(get, &[5, 0, 0, 0]).unwrap(), json!(5));
    assert_eq!(
        inc.decode_return(get, &[0xfe, 0xff, 0xff, 0xff]).unwrap(),
        json!(-2)
    );
    let new = inc.constructor("new").unwrap();
    assert_eq!(
        inc.encode_call(new, &args(&["7"])).unwrap(),
        bytes("d183512b 07000000")
    );
    assert_eq!(inc.decode_return(call, &[]).unwrap(), Value::Null);
    assert!(inc.decode_return(call, &[1]).is_err());

    let flip = load("pink_flip_ink3.contract").metadata;
    let echo = flip.message("echo").unwrap();
    let data = flip.encode_call(echo, &args(&["1", "2"])).unwrap();
    let mut expected = bytes("f7dff04c 01000000");
    expected.extend(2u128.to_le_bytes());
    assert_eq!(data, expected);
    assert_eq!(flip.decode_return(echo, &data[4..]).unwrap(), json!([1, 2]));
    assert_eq!(
        flip.decode_return(flip.message("get").unwrap(), &[1])
            .unwrap(),
        json!(true)
    );
}

#[test]
fn clear_errors() {
    let m = load("ink4_erc20.contract.json").metadata;
    let transfer = m.message("transfer").unwrap();

    let e = m
        .encode_call(transfer, &args(&[BOB_SS58]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "`transfer` takes 2 arguments (to: AccountId, value: Balance) but 1 was given"
    );

    let e = load("ink4_flipper.contract.json")
        .metadata
        .message("flipp")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "the bundle has no message `flipp`; messages: flip, get");
    let e = m.constructor("old").unwrap_err().to_string();
    assert_eq!(e, "the bundle has no constructor `old`; constructors: new");

    let e = m
        .encode_call(
            transfer,
            &args(&[BOB_SS58, "340282366920938463463374607431768211456"]),
        )
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("argument `value` of `transfer`: "), "{e}");
    assert!(e.contains("out of range for u128"), "{e}");
    let e = m
        .encode_call(transfer, &args(&[BOB_SS58, "-1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("-1 is out of range for u128"), "{e}");

    let e = m
        .encode_call(
            transfer,
            &args(&["5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694tz", "1"]),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("argument `to`"), "{e}");
    assert!(e.contains("checksum"), "{e}");
    let e = m
        .encode_call(transfer, &args(&["0x1234", "1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("SS58 address or 0x and 64 hex digits"), "{e}");

    for bad in [
        "[1, 2", "Some(", "\"open", "1 2", "(1,,2)", "{a 1}", "", "-x", "0xzz",
    ] {
        let e = m.encode_value(0, bad).unwrap_err().to_string();
        assert!(e.starts_with("invalid value: "), "{bad}: {e}");
    }
    let e = m.encode_value(0, "true").unwrap_err().to_string();
    assert_eq!(e, "invalid value: expected an integer (u128), found `true`");

    // u8 in the PSP34 registry (id 2).
    let psp = load("ink4_psp34_collection_events.contract.json").metadata;
    let e = psp.encode_value(2, "256").unwrap_err().to_string();
    assert_eq!(e, "invalid value: 256 is out of range for u8 (0 to 255)");
    let e = psp.encode_value(13, "U9(1)").unwrap_err().to_string();
    assert!(
        e.contains("`U9` is not a variant of `Id`; variants: U8(…)"),
        "{e}"
    );

    let e = Bundle::load(&fixture("ink5_flipper.wasm"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("without metadata"), "{e}");
    let e = Bundle::load(&fixture("missing.contract"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read "), "{e}");
    assert!(Bundle::from_json("[1]").is_err());
    assert!(
        Bundle::from_json("{")
            .unwrap_err()
            .to_string()
            .starts_with("the bundle is not valid JSON")
    );
}

#[test]
fn corrupt_code_is_refused() {
    let text = std::fs::read_to_string(fixture("ink5_flipper.contract.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let wasm = doc["source"]["wasm"].as_str().unwrap().to_string();
    doc["source"]["wasm"] = json!(format!("{}00", wasm));
    let e = Bundle::from_json(&doc.to_string()).unwrap_err();
    assert!(matches!(e, InkError::HashMismatch { .. }), "{e}");
    doc["source"]["wasm"] = json!("0xzz");
    assert!(Bundle::from_json(&doc.to_string()).is_err());
}

/// A v5 registry with the shapes the fixtures lack.
fn synthetic() -> InkMetadata {
    let t = |id: u32, ty: Value| json!({"id": id, "type": ty});
    let types = json!([
        t(0, json!({"def": {"primitive": "u32"}})),
        t(1, json!({"def": {"sequence": {"type": 2}}})),
        t(2, json!({"def": {"primitive": "u8"}})),
        t(
            3,
            json!({"path": ["m", "Point"], "def": {"composite": {"fields": [
            {"name": "x", "type": 0}, {"name": "data", "type": 1}]}}})
        ),
        t(
            4,
            json!({"path": ["m", "Pair"], "def": {"composite": {"fields": [
            {"type": 0}, {"type": 5}]}}})
        ),
        t(5, json!({"def": {"primitive": "str"}})),
        t(
            6,
            json!({"path": ["m", "Shape"], "def": {"variant": {"variants": [
            {"name": "Empty", "index": 0},
            {"name": "Circle", "index": 3, "fields": [{"type": 0}]},
            {"name": "Rect", "index": 4, "fields": [{"name": "w", "type": 0}, {"name": "h", "type": 0}]}]}}})
        ),
        t(7, json!({"def": {"compact": {"type": 11}}})),
        t(8, json!({"def": {"primitive": "i256"}})),
        t(9, json!({"def": {"primitive": "u256"}})),
        t(10, json!({"def": {"primitive": "char"}})),
        t(11, json!({"def": {"primitive": "u64"}})),
        t(12, json!({"def": {"tuple": [0, 5, 15]}})),
        t(
            13,
            json!({"path": ["m", "Wrapper"], "def": {"composite": {"fields": [{"type": 6}]}}})
        ),
        t(14, json!({"def": {"array": {"len": 2, "type": 0}}})),
        t(15, json!({"def": {"primitive": "bool"}})),
        t(16, json!({"def": {"sequence": {"type": 3}}})),
        t(17, json!({"def": {"primitive": "i8"}})),
        t(
            18,
            json!({"path": ["m", "List"], "def": {"variant": {"variants": [
            {"name": "Nil", "index": 0},
            {"name": "Cons", "index": 1, "fields": [{"type": 0}, {"type": 18}]}]}}})
        ),
        t(19, json!({"def": {"primitive": "i128"}})),
    ]);
    let doc = json!({"version": 5, "spec": {"constructors": [], "messages": [], "events": []},
                     "types": types});
    InkMetadata::from_value(&doc).unwrap()
}

fn round_trip(m: &InkMetadata, ty: u32, text: &str, hex_bytes: &str, json_value: Value) {
    let encoded = m
        .encode_value(ty, text)
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(hex::encode(&encoded), hex_bytes.replace(' ', ""), "{text}");
    let mut cursor = encoded.as_slice();
    assert_eq!(
        m.decode_value(ty, &mut cursor).unwrap(),
        json_value,
        "{text}"
    );
    assert!(cursor.is_empty());
}

#[test]
fn value_syntax_round_trips() {
    let m = synthetic();
    round_trip(
        &m,
        3,
        "Point { x: 1, data: 0x0203 }",
        "01000000 08 0203",
        json!({"x": 1, "data": "0x0203"}),
    );
    round_trip(
        &m,
        3,
        "{ data: [2], x: 1 }",
        "01000000 04 02",
        json!({"x": 1, "data": "0x02"}),
    );
    round_trip(
        &m,
        3,
        "{ x: 1, data: \"hi\" }",
        "01000000 08 6869",
        json!({"x": 1, "data": "0x6869"}),
    );
    round_trip(
        &m,
        4,
        "Pair(7, \"a\\\"b\")",
        "07000000 0c 612262",
        json!([7, "a\"b"]),
    );
    round_trip(
        &m,
        4,
        "(7, word)",
        "07000000 10 776f7264",
        json!([7, "word"]),
    );
    round_trip(&m, 6, "Empty", "00", json!("Empty"));
    round_trip(
        &m,
        6,
        "Shape::Circle(9)",
        "03 09000000",
        json!({"Circle": 9}),
    );
    round_trip(
        &m,
        6,
        "Rect { w: 1, h: 2 }",
        "04 01000000 02000000",
        json!({"Rect": {"w": 1, "h": 2}}),
    );
    round_trip(
        &m,
        6,
        "Rect(1, 2)",
        "04 01000000 02000000",
        json!({"Rect": {"w": 1, "h": 2}}),
    );
    round_trip(&m, 13, "Circle(1)", "03 01000000", json!({"Circle": 1}));
    round_trip(&m, 7, "1_000", "a10f", json!(1000));
    round_trip(
        &m,
        7,
        "18446744073709551615",
        "13 ffffffffffffffff",
        json!(u64::MAX),
    );
    round_trip(&m, 9, "1", &format!("01{}", "00".repeat(31)), json!(1));
    round_trip(
        &m,
        9,
        "340282366920938463463374607431768211456",
        &format!("{}01{}", "00".repeat(16), "00".repeat(15)),
        json!("340282366920938463463374607431768211456"),
    );
    round_trip(&m, 8, "-1", &"ff".repeat(32), json!(-1));
    let i256_min = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
    round_trip(
        &m,
        8,
        i256_min,
        &format!("{}80", "00".repeat(31)),
        json!(i256_min),
    );
    round_trip(&m, 10, "\"λ\"", "bb030000", json!("λ"));
    round_trip(
        &m,
        12,
        "(1, \"\", true)",
        "01000000 00 01",
        json!([1, "", true]),
    );
    round_trip(&m, 14, "[1, 2]", "01000000 02000000", json!([1, 2]));
    round_trip(
        &m,
        16,
        "[{x: 1, data: 0x}, Point(2, [])]",
        "08 01000000 00 02000000 00",
        json!([{"x": 1, "data": "0x"}, {"x": 2, "data": "0x"}]),
    );
    round_trip(&m, 17, "-128", "80", json!(-128));
    round_trip(
        &m,
        19,
        "-170141183460469231731687303715884105728",
        &format!("{}80", "00".repeat(15)),
        json!("-170141183460469231731687303715884105728"),
    );
    round_trip(
        &m,
        18,
        "Cons(1, Cons(2, Nil))",
        "01 01000000 01 02000000 00",
        json!({"Cons": [1, {"Cons": [2, "Nil"]}]}),
    );

    for (ty, bad) in [
        (
            8,
            "57896044618658097711785492504343953926634992332820282019728792003956564819968",
        ),
        (9, "-1"),
        (17, "128"),
        (17, "-129"),
        (14, "[1]"),
        (3, "Point { x: 1 }"),
        (3, "Point { x: 1, data: 0x, y: 2 }"),
        (3, "Other { x: 1, data: 0x }"),
        (6, "Circle"),
        (6, "Rect(1)"),
        (10, "\"ab\""),
        (1, "0x123"),
        (15, "1"),
    ] {
        let e = m.encode_value(ty, bad);
        assert!(e.is_err(), "{bad} should fail for type {ty}");
    }
    let e = m.encode_value(3, "Point { x: 1 }").unwrap_err().to_string();
    assert_eq!(e, "invalid value: field `data` of `Point` is missing");
    let e = m
        .encode_value(3, "{ x: 1, data: 0x, y: 2 }")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid value: `Point` has no field `y`; fields: x, data"
    );

    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}Nil{}", "Cons(1, ".repeat(200), ")".repeat(200));
    assert!(m.encode_value(18, &deep).is_err());
    let mut deep_bytes = [1u8, 0, 0, 0, 0].repeat(200);
    deep_bytes.push(0);
    assert!(m.decode_value(18, &mut deep_bytes.as_slice()).is_err());
    // A forged huge length fails fast.
    assert!(
        m.decode_value(16, &mut [0xfe, 0xff, 0xff, 0xff].as_slice())
            .is_err()
    );
}

proptest! {
    #[test]
    fn encode_value_never_panics(text in ".{0,64}", ty in 0u32..22) {
        let m = synthetic();
        let _ = m.encode_value(ty, &text);
    }

    #[test]
    fn structured_text_never_panics(
        text in "[\\[\\](){}:,\" 0-9a-zA-Z_x\\-\\\\]{0,48}",
        ty in 0u32..22,
    ) {
        let m = synthetic();
        let _ = m.encode_value(ty, &text);
    }

    #[test]
    fn decode_value_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), ty in 0u32..22) {
        let m = synthetic();
        let _ = m.decode_value(ty, &mut data.as_slice());
    }
}

#[test]
fn fixture_args_never_panic() {
    let m = load("ink4_psp34_collection_events.contract.json").metadata;
    for text in [
        "",
        "(",
        "[[[[",
        "Some(Some(",
        "0x",
        "\"\\u{110000}\"",
        "\u{0}",
        "-",
        "::",
        "a::",
    ] {
        for ty in 0..45 {
            let _ = m.encode_value(ty, text);
        }
    }
}

#[test]
fn signatures_read_well() {
    let m = load("ink4_psp34_collection_events.contract.json").metadata;
    let approve = m.message("PSP34::approve").unwrap();
    assert_eq!(
        m.signature(approve),
        "operator: AccountId, id: Option<Id>, approved: bool"
    );
    let e = m
        .encode_call(approve, &args(&["0x00", "None", "true"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "argument `operator` of `PSP34::approve`: expected an account (an SS58 address or 0x and 64 hex digits), found `0x00`"
    );
}
