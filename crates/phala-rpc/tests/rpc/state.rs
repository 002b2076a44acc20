//! Storage queries and subscriptions, runtime calls, fee estimates.

use std::time::Duration;

use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use jsonrpsee::ws_client::WsClient;
use phala_primitives::PHA;
use serde_json::{Value, json};

use crate::common::*;

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("notification in time")
        .expect("subscription open")
        .unwrap()
}

async fn page(client: &WsClient, prefix: &str, count: u32, start: Value) -> Vec<String> {
    let keys = ok(
        client,
        "state_getKeysPaged",
        vec![json!(prefix), json!(count), start],
    )
    .await;
    serde_json::from_value(keys).unwrap()
}

#[tokio::test]
async fn keys_paged_in_polkadot_js_and_subxt_styles() {
    let node = Node::start().await;
    let client = node.ws().await;
    let prefix = system_account_prefix();
    let all: Vec<String> =
        serde_json::from_value(ok(&client, "state_getKeys", vec![json!(prefix)]).await).unwrap();
    // The six dev accounts, their stashes, the reward pool and the treasury.
    assert_eq!(all.len(), 14);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, all);
    assert!(all.iter().all(|k| k.starts_with(&prefix)));
    assert!(all.contains(&account_key("//Alice")));

    // polkadot.js: startKey = prefix on the first page, stop at a short page.
    for count in [1, 3, 8, 1000] {
        let mut got = Vec::new();
        let mut start = prefix.clone();
        loop {
            let keys = page(&client, &prefix, count, json!(start)).await;
            got.extend(keys.iter().cloned());
            match keys.last() {
                Some(last) if keys.len() == count as usize => start = last.clone(),
                _ => break,
            }
        }
        assert_eq!(got, all, "polkadot.js style, count {count}");
    }
    // subxt: startKey = null, then the last key.
    let mut got = Vec::new();
    let mut start = Value::Null;
    loop {
        let keys = page(&client, &prefix, 3, start).await;
        if keys.is_empty() {
            break;
        }
        got.extend(keys.iter().cloned());
        start = json!(keys.last().unwrap());
    }
    assert_eq!(got, all);
    // The At alias with a block; an empty page past the end.
    let at = json!(node.chain.genesis_hash());
    let keys = ok(
        &client,
        "state_getKeysPagedAt",
        vec![json!(prefix), json!(2), json!(all[1]), at],
    )
    .await;
    assert_eq!(keys, json!([all[2], all[3]]));
    assert!(
        page(&client, &prefix, 10, json!(all.last().unwrap()))
            .await
            .is_empty()
    );

    let e = call(
        &client,
        "state_getKeysPaged",
        vec![json!(prefix), json!(1001)],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), 4002);
    assert_eq!(
        e.message(),
        "count exceeds maximum value. value: 1001, max: 1000"
    );

    let pairs = ok(&client, "state_getPairs", vec![json!(prefix)]).await;
    assert_eq!(pairs.as_array().unwrap().len(), all.len());
    // The whole (small) genesis state fits under the bound of unpaged listings.
    let everything = ok(&client, "state_getKeys", vec![json!("0x")]).await;
    assert!(everything.as_array().unwrap().contains(&json!(all[0])));
}

#[tokio::test]
async fn storage_queries_and_read_proofs() {
    let node = Node::start().await;
    let client = node.ws().await;
    let alice = account_key("//Alice");
    let missing = account_key("//Nobody");
    let value = ok(&client, "state_getStorage", vec![json!(alice)]).await;
    let bytes = ::hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap();
    // AccountInfo: 4 u32 counters and 4 u128 balances.
    assert_eq!(bytes.len(), 80);
    assert_eq!(
        ok(&client, "state_getStorageSize", vec![json!(alice)]).await,
        80
    );
    assert_eq!(
        ok(&client, "state_getStorageHash", vec![json!(alice)]).await,
        json!(phala_primitives::hashing::hash256(&bytes))
    );
    assert_eq!(
        ok(&client, "state_getStorage", vec![json!(missing)]).await,
        Value::Null
    );

    let genesis = node.chain.genesis_hash();
    let set = ok(
        &client,
        "state_queryStorageAt",
        vec![json!([alice, missing]), json!(genesis)],
    )
    .await;
    assert_eq!(
        set,
        json!([{ "block": genesis, "changes": [[alice, value], [missing, null]] }])
    );

    node.chain
        .submit(signed_transfer("//Alice", 0, PHA, genesis))
        .unwrap();
    let b1 = node.finalize_next();
    node.finalize_next();
    let history = ok(
        &client,
        "state_queryStorage",
        vec![json!([alice, missing]), json!(genesis)],
    )
    .await;
    let history = history.as_array().unwrap();
    // Block 0: everything; block 1: Alice paid; block 2: nothing changed.
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["changes"].as_array().unwrap().len(), 2);
    assert_eq!(history[1]["block"], json!(b1.hash()));
    assert_eq!(history[1]["changes"][0][0], json!(alice));
    let e = call(
        &client,
        "state_queryStorage",
        vec![json!([alice]), json!(b1.hash()), json!(genesis)],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), 4001);

    let proof = ok(&client, "state_getReadProof", vec![json!([alice, missing])]).await;
    assert_eq!(
        proof["at"],
        ok(&client, "chain_getFinalizedHead", vec![]).await
    );
    assert!(!proof["proof"].as_array().unwrap().is_empty());

    let unknown = json!(phala_primitives::H256([3; 32]));
    let e = call(&client, "state_getStorage", vec![json!(alice), unknown])
        .await
        .unwrap_err();
    assert_eq!(e.code(), 4003);
}

#[tokio::test]
async fn storage_subscription_sends_values_then_changes() {
    let node = Node::start().await;
    let client = node.ws().await;
    let (alice, bob, missing) = (
        account_key("//Alice"),
        account_key("//Bob"),
        account_key("//Nobody"),
    );
    let mut sub: Subscription<Value> = client
        .subscribe(
            "state_subscribeStorage",
            params(vec![json!([alice, bob, missing])]),
            "state_unsubscribeStorage",
        )
        .await
        .unwrap();
    let initial = next(&mut sub).await;
    assert_eq!(initial["block"], json!(node.chain.genesis_hash()));
    let changes = initial["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0][0], json!(alice));
    assert!(changes[0][1].is_string());
    assert_eq!(changes[2], json!([missing, null]));

    let mut everything: Subscription<Value> = client
        .subscribe(
            "state_subscribeStorage",
            params(vec![]),
            "state_unsubscribeStorage",
        )
        .await
        .unwrap();

    node.chain
        .submit(signed_transfer(
            "//Alice",
            0,
            PHA,
            node.chain.genesis_hash(),
        ))
        .unwrap();
    let b1 = node.finalize_next();
    let update = next(&mut sub).await;
    assert_eq!(update["block"], json!(b1.hash()));
    let keys: Vec<&Value> = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c[0])
        .collect();
    assert_eq!(keys, vec![&json!(alice), &json!(bob)]);

    let all = next(&mut everything).await;
    assert_eq!(all["block"], json!(b1.hash()));
    let written: Vec<&Value> = all["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c[0])
        .collect();
    assert!(written.contains(&&json!(alice)) && written.len() > 2);

    // A block that touches none of the keys sends nothing to the keyed subscription.
    node.finalize_next();
    let b3 = {
        node.chain
            .submit(signed_transfer(
                "//Alice",
                1,
                PHA,
                node.chain.genesis_hash(),
            ))
            .unwrap();
        node.finalize_next()
    };
    assert_eq!(next(&mut sub).await["block"], json!(b3.hash()));

    let e = client
        .subscribe::<Value, _>(
            "state_subscribeStorage",
            params(vec![json!(["0xzz"])]),
            "state_unsubscribeStorage",
        )
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("-32602") || e.to_string().contains("Invalid params"),
        "{e}"
    );
}

#[tokio::test]
async fn runtime_calls_and_fee_estimates() {
    let node = Node::start().await;
    let client = node.ws().await;
    assert_eq!(
        ok(
            &client,
            "state_call",
            vec![json!("Metadata_metadata_versions"), json!("0x")]
        )
        .await,
        "0x080e0000000f000000"
    );
    let genesis = json!(node.chain.genesis_hash());
    let alice = hex(account("//Alice").as_bytes());
    assert_eq!(
        ok(
            &client,
            "state_call",
            vec![json!("AccountNonceApi_account_nonce"), json!(alice)]
        )
        .await,
        "0x00000000"
    );
    node.chain
        .submit(signed_transfer(
            "//Alice",
            0,
            PHA,
            node.chain.genesis_hash(),
        ))
        .unwrap();
    node.finalize_next();
    assert_eq!(
        ok(
            &client,
            "state_callAt",
            vec![json!("AccountNonceApi_account_nonce"), json!(alice)]
        )
        .await,
        "0x01000000"
    );
    assert_eq!(
        ok(
            &client,
            "state_call",
            vec![
                json!("AccountNonceApi_account_nonce"),
                json!(alice),
                genesis
            ]
        )
        .await,
        "0x00000000"
    );
    let e = call(&client, "state_call", vec![json!("Nope_nope"), json!("0x")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), 4003);
    assert!(e.message().starts_with("Client error: "));
    let e = call(&client, "state_call", vec![json!("Core_version")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), -32602);

    // polkadot.js's paymentInfo: a fake all-0x01 signature must still be priced.
    let fake = fake_signed_transfer("//Alice", 1, PHA);
    let info = ok(&client, "payment_queryInfo", vec![json!(hex(&fake))]).await;
    assert_eq!(info["class"], "normal");
    assert!(info["weight"]["ref_time"].as_u64().unwrap() > 0);
    assert!(info["weight"]["proof_size"].is_u64());
    let fee: u128 = info["partialFee"].as_str().unwrap().parse().unwrap();
    assert!(fee > 0);
    // The same through the runtime API, as subxt calls it: ext ‖ u32 len.
    let mut input = fake.clone();
    input.extend((fake.len() as u32).to_le_bytes());
    let raw = ok(
        &client,
        "state_call",
        vec![
            json!("TransactionPaymentApi_query_info"),
            json!(hex(&input)),
        ],
    )
    .await;
    let raw = ::hex::decode(raw.as_str().unwrap().trim_start_matches("0x")).unwrap();
    let fee_le = raw.get(raw.len() - 16..).unwrap();
    assert_eq!(u128::from_le_bytes(fee_le.try_into().unwrap()), fee);

    let details = ok(&client, "payment_queryFeeDetails", vec![json!(hex(&fake))]).await;
    let inclusion = &details["inclusionFee"];
    let total: u128 = ["baseFee", "lenFee", "adjustedWeightFee"]
        .iter()
        .map(|f| {
            u128::from_str_radix(inclusion[f].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .sum();
    assert_eq!(total, fee);
    assert!(details.get("tip").is_none());

    let e = call(&client, "payment_queryInfo", vec![json!("0x0102")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), 2);
    assert_eq!(e.message(), "Unable to query dispatch info.");
}
