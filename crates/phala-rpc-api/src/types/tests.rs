use super::*;
use serde_json::json;

#[test]
fn header_round_trips_through_json() {
    let header = Header {
        parent_hash: H256([1; 32]),
        number: 26,
        state_root: H256([2; 32]),
        extrinsics_root: H256([3; 32]),
        digest: vec![DigestItem::PreRuntime(*b"aura", 4u64.encode())],
    };
    let json = serde_json::to_value(HeaderJson::from(&header)).unwrap();
    assert_eq!(json["number"], "0x1a");
    assert_eq!(json["digest"]["logs"][0], "0x0661757261200400000000000000");
    let back: HeaderJson = serde_json::from_value(json).unwrap();
    assert_eq!(Header::try_from(&back).unwrap().hash(), header.hash());
    let genesis = HeaderJson::from(&Header {
        number: 0,
        ..header
    });
    assert_eq!(genesis.number, NumberJson::Hex("0x0".into()));
    assert_eq!(NumberJson::Number(7).value().unwrap(), 7);
    assert!(NumberJson::Hex("7".into()).value().is_err());
}

#[test]
fn header_json_hashes_as_substrate_does() {
    let json = json!({
        "parentHash": format!("0x{}", "00".repeat(32)),
        "number": "0x0",
        "stateRoot": format!("0x{}", "11".repeat(32)),
        "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
        "digest": {"logs": []}
    });
    let header: HeaderJson = serde_json::from_value(json).unwrap();
    let header = Header::try_from(&header).unwrap();
    assert_eq!(
        header.hash().to_hex(),
        "0xb169411d99410cee386069c51575e69d3d81f7af0ed99251c82f2320854561eb"
    );
    let child = json!({
        "parentHash": header.hash(),
        "number": 1,
        "stateRoot": format!("0x{}", "11".repeat(32)),
        "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
        "digest": {"logs": ["0x0661757261200400000000000000"]}
    });
    let child: HeaderJson = serde_json::from_value(child).unwrap();
    assert_eq!(
        Header::try_from(&child).unwrap().hash().to_hex(),
        "0x920cfc47bdea2cf2aab51d1a8687ef60e1e1dca7921e193a86b87abffa700dcd"
    );
}

#[test]
fn block_json_keeps_length_prefixed_extrinsics() {
    let header = json!({
        "parentHash": format!("0x{}", "00".repeat(32)),
        "number": "0x1a",
        "stateRoot": format!("0x{}", "11".repeat(32)),
        "extrinsicsRoot": format!("0x{}", "22".repeat(32)),
        "digest": {"logs": []}
    });
    let json = json!({
        "block": {"header": header, "extrinsics": ["0x0c040102"]},
        "justifications": null
    });
    let block: SignedBlockJson = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&block).unwrap(), json);
    let block = Block::try_from(block).unwrap();
    assert_eq!(block.header.number, 26);
    assert_eq!(block.extrinsics[0].as_bytes(), &[0x0c, 4, 1, 2]);
    // A wrong length prefix, and no justifications field at all.
    let bad = json!({"block": {"header": header, "extrinsics": ["0x040102"]}});
    let bad: SignedBlockJson = serde_json::from_value(bad).unwrap();
    assert!(Block::try_from(bad).is_err());

    let with_certificate = SignedBlockJson::new(&block, Some(vec![7, 8]));
    assert_eq!(
        serde_json::to_value(&with_certificate).unwrap()["justifications"],
        json!([[[0x73, 0x6d, 0x70, 0x78], [7, 8]]])
    );
}

#[test]
fn runtime_versions_both_ways() {
    let json = json!({
        "specName": "phala", "implName": "phala-node", "authoringVersion": 1,
        "specVersion": 7, "implVersion": 0,
        "apis": [["0xdf6acb689907609b", 5]],
        "transactionVersion": 2, "systemVersion": 1, "stateVersion": 1
    });
    let j: RuntimeVersionJson = serde_json::from_value(json.clone()).unwrap();
    let v = RuntimeVersion::try_from(&j).unwrap();
    assert_eq!((v.spec_version, v.transaction_version), (7, 2));
    assert_eq!(v.apis, vec![(phala_runtime::version::api_id("Core"), 5)]);
    assert_eq!(
        serde_json::to_value(RuntimeVersionJson::from(&v)).unwrap(),
        json
    );

    // An older node: no apis, only `stateVersion`.
    let old: RuntimeVersionJson = serde_json::from_value(json!({
        "specName": "x", "implName": "x", "authoringVersion": 0, "specVersion": 1,
        "implVersion": 0, "transactionVersion": 1, "stateVersion": 0
    }))
    .unwrap();
    let old = RuntimeVersion::try_from(&old).unwrap();
    assert_eq!((old.apis.len(), old.system_version), (0, 0));
}

#[test]
fn statuses_as_substrate_writes_them() {
    let h = format!("0x{}", "ab".repeat(32));
    let hash = H256([0xab; 32]);
    let cases = [
        (json!("future"), TransactionStatus::Future),
        (json!("ready"), TransactionStatus::Ready),
        (
            json!({"broadcast": ["peer"]}),
            TransactionStatus::Broadcast(vec!["peer".into()]),
        ),
        (json!({"inBlock": h}), TransactionStatus::InBlock(hash)),
        (json!({"retracted": h}), TransactionStatus::Retracted(hash)),
        (
            json!({"finalityTimeout": h}),
            TransactionStatus::FinalityTimeout(hash),
        ),
        (json!({"finalized": h}), TransactionStatus::Finalized(hash)),
        (json!({"usurped": h}), TransactionStatus::Usurped(hash)),
        (json!("dropped"), TransactionStatus::Dropped),
        (json!("invalid"), TransactionStatus::Invalid),
    ];
    for (value, status) in cases {
        assert_eq!(
            serde_json::from_value::<TransactionStatus>(value.clone()).unwrap(),
            status
        );
        assert_eq!(serde_json::to_value(&status).unwrap(), value);
    }
}

#[test]
fn fees_as_substrate_writes_them() {
    let details = FeeDetails {
        inclusion_fee: Some(phala_runtime::modules::transaction_payment::InclusionFee {
            base_fee: 0,
            len_fee: 255,
            adjusted_weight_fee: 16,
        }),
        tip: 5,
    };
    let json = serde_json::to_value(FeeDetailsJson::from(&details)).unwrap();
    assert_eq!(
        json,
        json!({"inclusionFee":{"baseFee":"0x0","lenFee":"0xff","adjustedWeightFee":"0x10"}})
    );
    assert_eq!(
        serde_json::from_value::<FeeDetailsJson>(json).unwrap(),
        FeeDetailsJson::from(&details)
    );
    let info = json!({"weight": {"ref_time": 1, "proof_size": 2}, "class": "normal",
        "partialFee": "340282366920938463463374607431768211455"});
    let parsed: DispatchInfoJson = serde_json::from_value(info.clone()).unwrap();
    assert_eq!(parsed.partial_fee, u128::MAX);
    assert_eq!(serde_json::to_value(parsed).unwrap(), info);
}
