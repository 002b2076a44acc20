//! Headers, blocks and head subscriptions, checked the way clients use them: by hashing the
//! header JSON themselves.

use std::time::Duration;

use jsonrpsee::core::client::{Subscription, SubscriptionClientT, SubscriptionKind};
use phala_primitives::hashing::hash256;
use phala_primitives::{H256, Header};
use phala_rpc_api::HeaderJson;
use serde_json::{Value, json};

use crate::common::*;

fn header_hash(json: &Value) -> H256 {
    let parsed: HeaderJson = serde_json::from_value(json.clone()).unwrap();
    Header::try_from(&parsed).unwrap().hash()
}

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("notification in time")
        .expect("subscription open")
        .unwrap()
}

#[tokio::test]
async fn header_json_rehashes_to_the_block_hash() {
    let node = Node::start().await;
    let client = node.ws().await;
    let tx = signed_transfer("//Alice", 0, 1_000, node.chain.genesis_hash());
    node.chain.submit(tx.clone()).unwrap();
    let b1 = node.finalize_next();
    node.finalize_next();

    for n in 0..=2u32 {
        let hash = ok(&client, "chain_getBlockHash", vec![json!(n)]).await;
        let by_hex = ok(
            &client,
            "chain_getBlockHash",
            vec![json!(format!("0x{n:x}"))],
        )
        .await;
        assert_eq!(hash, by_hex);
        let header = ok(&client, "chain_getHeader", vec![hash.clone()]).await;
        assert_eq!(header["number"], format!("0x{n:x}"));
        assert_eq!(json!(header_hash(&header)), hash, "block #{n}");
    }
    // Genesis carries digest logs (timing, the epoch-0 committee); they must survive the
    // round trip too.
    let genesis = ok(
        &client,
        "chain_getHeader",
        vec![json!(node.chain.genesis_hash())],
    )
    .await;
    assert_eq!(genesis["number"], "0x0");
    assert_eq!(genesis["digest"]["logs"].as_array().unwrap().len(), 2);

    // No argument: the finalized head, which is also the best block.
    let head = ok(&client, "chain_getHeader", vec![]).await;
    assert_eq!(head["number"], "0x2");
    let finalized = ok(&client, "chain_getFinalizedHead", vec![]).await;
    assert_eq!(json!(header_hash(&head)), finalized);
    assert_eq!(
        ok(&client, "chain_getFinalisedHead", vec![]).await,
        finalized
    );
    assert_eq!(ok(&client, "chain_getBlockHash", vec![]).await, finalized);
    assert_eq!(
        ok(&client, "chain_getHead", vec![json!(null)]).await,
        finalized
    );

    // The block carries the transaction's exact wire bytes: clients find it by hashing them.
    let block = ok(&client, "chain_getBlock", vec![json!(b1.hash())]).await;
    assert_eq!(block["justifications"][0][0], json!(b"smpx"));
    assert_eq!(
        json!(header_hash(&block["block"]["header"])),
        json!(b1.hash())
    );
    let extrinsics: Vec<String> =
        serde_json::from_value(block["block"]["extrinsics"].clone()).unwrap();
    assert_eq!(extrinsics.len(), b1.extrinsics.len());
    assert!(extrinsics.contains(&hex(&tx)));
    let tx_hash = hash256(&tx);
    assert!(
        extrinsics
            .iter()
            .any(|x| hash256(&::hex::decode(x.trim_start_matches("0x")).unwrap()) == tx_hash)
    );

    // Unknown blocks are null, lists give lists.
    let unknown = json!(H256([7; 32]));
    assert_eq!(
        ok(&client, "chain_getHeader", vec![unknown.clone()]).await,
        Value::Null
    );
    assert_eq!(
        ok(&client, "chain_getBlock", vec![unknown]).await,
        Value::Null
    );
    assert_eq!(
        ok(&client, "chain_getBlockHash", vec![json!(99)]).await,
        Value::Null
    );
    let list = ok(&client, "chain_getBlockHash", vec![json!([0, "0x2", 99])]).await;
    assert_eq!(list[0], json!(node.chain.genesis_hash()));
    assert_eq!(list[1], finalized);
    assert_eq!(list[2], Value::Null);
    for bad in [
        json!(-1),
        json!("zz"),
        json!(4_294_967_296u64),
        json!({"n": 1}),
    ] {
        let e = call(&client, "chain_getBlockHash", vec![bad])
            .await
            .unwrap_err();
        assert_eq!(e.code(), -32602);
    }
}

#[tokio::test]
async fn head_subscriptions_start_with_the_head_and_follow_finality() {
    let node = Node::start().await;
    let client = node.ws().await;
    let genesis = json!(node.chain.genesis_hash());
    let mut subs = Vec::new();
    for (sub, unsub) in [
        // polkadot.js subscribes with the singular alias.
        ("chain_subscribeNewHead", "chain_unsubscribeNewHead"),
        ("chain_subscribeNewHeads", "chain_unsubscribeNewHeads"),
        ("chain_subscribeAllHeads", "chain_unsubscribeAllHeads"),
        (
            "chain_subscribeFinalizedHeads",
            "chain_unsubscribeFinalizedHeads",
        ),
        (
            "chain_subscribeFinalisedHeads",
            "chain_unsubscribeFinalisedHeads",
        ),
    ] {
        let mut s: Subscription<Value> =
            client.subscribe(sub, params(vec![]), unsub).await.unwrap();
        let first = next(&mut s).await;
        assert_eq!(json!(header_hash(&first)), genesis, "{sub}");
        subs.push(s);
    }
    let b1 = node.finalize_next();
    let b2 = node.finalize_next();
    for s in &mut subs {
        assert_eq!(json!(header_hash(&next(s).await)), json!(b1.hash()));
        assert_eq!(json!(header_hash(&next(s).await)), json!(b2.hash()));
    }

    // Unsubscribing answers `true`; a second time `false`.
    let s = subs.pop().unwrap();
    let SubscriptionKind::Subscription(id) = s.kind().clone() else {
        panic!("not a subscription");
    };
    let id = serde_json::to_value(id).unwrap();
    assert_eq!(
        ok(&client, "chain_unsubscribeFinalizedHeads", vec![id.clone()]).await,
        true
    );
    assert_eq!(
        ok(&client, "chain_unsubscribeFinalisedHeads", vec![id]).await,
        false
    );
}

#[tokio::test]
async fn runtime_version_subscription_and_queries() {
    let node = Node::start().await;
    let client = node.ws().await;
    let version = ok(&client, "state_getRuntimeVersion", vec![]).await;
    assert_eq!(version["specName"], "phala");
    assert_eq!(version["stateVersion"], 1);
    assert_eq!(version["systemVersion"], 1);
    assert_eq!(
        version["transactionVersion"],
        phala_runtime::version::TRANSACTION_VERSION
    );
    let apis = version["apis"].as_array().unwrap();
    assert!(apis.contains(&json!(["0xdf6acb689907609b", 5])));
    assert!(apis.contains(&json!(["0x37e397fc7c91f5e4", 2])));
    assert_eq!(
        ok(&client, "chain_getRuntimeVersion", vec![]).await,
        version
    );
    let genesis = json!(node.chain.genesis_hash());
    assert_eq!(
        ok(&client, "state_getRuntimeVersion", vec![genesis]).await,
        version
    );
    let e = call(
        &client,
        "state_getRuntimeVersion",
        vec![json!(H256([9; 32]))],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), 4003);
    assert!(
        e.message().starts_with("Client error: UnknownBlock"),
        "{e:?}"
    );

    for (sub, unsub) in [
        (
            "state_subscribeRuntimeVersion",
            "state_unsubscribeRuntimeVersion",
        ),
        (
            "chain_subscribeRuntimeVersion",
            "chain_unsubscribeRuntimeVersion",
        ),
    ] {
        let mut s: Subscription<Value> =
            client.subscribe(sub, params(vec![]), unsub).await.unwrap();
        assert_eq!(next(&mut s).await, version);
        s.unsubscribe().await.unwrap();
    }

    let metadata = ok(&client, "state_getMetadata", vec![]).await;
    assert!(metadata.as_str().unwrap().starts_with("0x6d657461"));
}

#[tokio::test]
async fn finalized_blocks_carry_their_certificate() {
    let node = Node::start().await;
    let client = node.ws().await;
    let block = node.finalize_next();
    let hash = json!(block.hash());
    // The certificate the node committed with the block ("cert" here), under engine `smpx`.
    let signed = ok(&client, "chain_getBlock", vec![hash.clone()]).await;
    assert_eq!(
        signed["justifications"],
        json!([[[115, 109, 112, 120], [99, 101, 114, 116]]])
    );
    let proof = ok(&client, "phala_getFinalityProof", vec![hash.clone()]).await;
    assert_eq!(proof["certificate"], "0x63657274");
    assert_eq!(proof["blockNumber"], 1);
    // Genesis has no certificate; unknown blocks have no proof.
    let genesis = ok(
        &client,
        "chain_getBlock",
        vec![json!(node.chain.genesis_hash())],
    )
    .await;
    assert_eq!(genesis["justifications"], Value::Null);
    let unknown = ok(
        &client,
        "phala_getFinalityProof",
        vec![json!(H256([5; 32]))],
    )
    .await;
    assert_eq!(unknown, Value::Null);
}
