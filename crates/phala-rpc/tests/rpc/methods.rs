//! The advertised method list, and that every advertised method answers.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::{Value, json};

use crate::common::*;

/// The legacy methods and aliases polkadot.js and subxt call (docs/substrate-compat.md,
/// *JSON-RPC*).
const REQUIRED: &[&str] = &[
    "rpc_methods",
    "system_chain",
    "system_name",
    "system_version",
    "system_properties",
    "system_health",
    "system_chainType",
    "system_accountNextIndex",
    "account_nextIndex",
    "system_localPeerId",
    "system_nodeRoles",
    "system_peers",
    "system_syncState",
    "chain_getBlockHash",
    "chain_getHead",
    "chain_getHeader",
    "chain_getBlock",
    "chain_getFinalizedHead",
    "chain_getFinalisedHead",
    "chain_subscribeNewHeads",
    "chain_unsubscribeNewHeads",
    "chain_subscribeNewHead",
    "chain_unsubscribeNewHead",
    "subscribe_newHead",
    "unsubscribe_newHead",
    "chain_subscribeAllHeads",
    "chain_unsubscribeAllHeads",
    "chain_subscribeFinalizedHeads",
    "chain_unsubscribeFinalizedHeads",
    "chain_subscribeFinalisedHeads",
    "chain_unsubscribeFinalisedHeads",
    "state_call",
    "state_callAt",
    "state_getStorage",
    "state_getStorageAt",
    "state_getStorageHash",
    "state_getStorageHashAt",
    "state_getStorageSize",
    "state_getStorageSizeAt",
    "state_getKeysPaged",
    "state_getKeysPagedAt",
    "state_getKeys",
    "state_getPairs",
    "state_queryStorageAt",
    "state_queryStorage",
    "state_getReadProof",
    "state_getMetadata",
    "state_getRuntimeVersion",
    "chain_getRuntimeVersion",
    "state_subscribeRuntimeVersion",
    "state_unsubscribeRuntimeVersion",
    "chain_subscribeRuntimeVersion",
    "chain_unsubscribeRuntimeVersion",
    "state_subscribeStorage",
    "state_unsubscribeStorage",
    "author_submitExtrinsic",
    "author_submitAndWatchExtrinsic",
    "author_unwatchExtrinsic",
    "author_pendingExtrinsics",
    "payment_queryInfo",
    "payment_queryFeeDetails",
];

async fn listed(client: &impl ClientT) -> Vec<String> {
    let answer = ok(client, "rpc_methods", vec![]).await;
    assert_eq!(answer["version"], 1);
    serde_json::from_value(answer["methods"].clone()).unwrap()
}

#[tokio::test]
async fn rpc_methods_lists_the_legacy_set_sorted() {
    let node = Node::start().await;
    let client = node.ws().await;
    let methods = listed(&client).await;
    for name in REQUIRED {
        assert!(methods.iter().any(|m| m == name), "{name} not listed");
    }
    let mut sorted = methods.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, methods);
    for m in &methods {
        for banned in [
            "chainHead_",
            "archive_",
            "transaction_v1",
            "transactionWatch_",
        ] {
            assert!(!m.starts_with(banned), "{m} must not be advertised");
        }
    }
}

/// Sensible parameters for each method, and the error code expected when the parameters are
/// deliberately refused.
fn params_for(m: &str, genesis: &str, tx: &str) -> (Vec<Value>, Option<i32>) {
    let alice = account_key("//Alice");
    let prefix = system_account_prefix();
    let p = match m {
        "chain_getBlockHash" | "chain_getHead" => vec![json!(0)],
        "chain_getHeader" | "chain_getBlock" | "phala_getFinalityProof" => vec![json!(genesis)],
        "state_call" | "state_callAt" => vec![json!("Core_version"), json!("0x")],
        "state_getStorage"
        | "state_getStorageAt"
        | "state_getStorageHash"
        | "state_getStorageHashAt"
        | "state_getStorageSize"
        | "state_getStorageSizeAt" => {
            vec![json!(alice), json!(genesis)]
        }
        "state_getKeysPaged" | "state_getKeysPagedAt" => vec![json!(prefix), json!(10)],
        "state_getKeys" | "state_getPairs" => vec![json!(prefix)],
        "state_queryStorageAt" | "state_getReadProof" | "state_subscribeStorage" => {
            vec![json!([alice])]
        }
        "state_queryStorage" => vec![json!([alice]), json!(genesis)],
        "system_accountNextIndex" | "account_nextIndex" => {
            vec![json!("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
        }
        "payment_queryInfo" | "payment_queryFeeDetails" => vec![json!(tx)],
        "author_submitExtrinsic" | "author_submitAndWatchExtrinsic" => {
            return (vec![json!("0x00")], Some(1001));
        }
        m if m.contains("unsubscribe") || m == "author_unwatchExtrinsic" => vec![json!("nope")],
        _ => vec![],
    };
    (p, None)
}

#[tokio::test]
async fn every_listed_method_answers() {
    let node = Node::start().await;
    let client = node.ws().await;
    let genesis = node.chain.genesis_hash().to_hex();
    let tx = hex(&fake_signed_transfer("//Alice", 0, 1));
    for method in listed(&client).await {
        let (params, expected_error) = params_for(&method, &genesis, &tx);
        let answer = call(&client, &method, params).await;
        match (answer, expected_error) {
            (Ok(v), None) => {
                if method.contains("unsubscribe") || method == "author_unwatchExtrinsic" {
                    assert_eq!(v, json!(false), "{method}");
                }
            }
            (Err(e), Some(code)) => assert_eq!(e.code(), code, "{method}: {e:?}"),
            (other, _) => panic!("{method}: unexpected answer {other:?}"),
        }
    }
    // Refusals keep the connection and server usable.
    assert_eq!(ok(&client, "system_chain", vec![]).await, "Test");
}

#[tokio::test]
async fn http_on_the_same_port_and_call_counting() {
    let node = Node::start().await;
    let http = HttpClientBuilder::default()
        .build(format!("http://{}", node.rpc.local_addr()))
        .unwrap();
    assert_eq!(ok(&http, "system_chain", vec![]).await, "Test");
    assert_eq!(ok(&http, "system_name", vec![]).await, "phala-node");
    assert_eq!(ok(&http, "system_version", vec![]).await, "0.1.0-test");
    assert_eq!(ok(&http, "system_chainType", vec![]).await, "Development");
    assert_eq!(
        ok(&http, "system_health", vec![]).await,
        json!({"peers": 0, "isSyncing": false, "shouldHavePeers": false})
    );
    assert_eq!(
        ok(&http, "system_nodeRoles", vec![]).await,
        json!(["Authority"])
    );
    assert_eq!(
        ok(&http, "system_syncState", vec![]).await,
        json!({"startingBlock": 0, "currentBlock": 0, "highestBlock": 0})
    );
    let props = ok(&http, "system_properties", vec![]).await;
    assert_eq!(props["ss58Format"], 30);
    assert_eq!(props["tokenSymbol"], "PHA");
    let genesis = ok(&http, "chain_getBlockHash", vec![json!(0)]).await;
    assert_eq!(genesis, json!(node.chain.genesis_hash().to_hex()));

    let missing = call(&http, "no_such_method", vec![]).await.unwrap_err();
    assert_eq!(missing.code(), -32601);
    let bad = call(&http, "chain_getHeader", vec![json!("0x1234")])
        .await
        .unwrap_err();
    assert_eq!(bad.code(), -32602);
    assert!(data(&bad).unwrap().contains("hash"), "{bad:?}");

    // Calls inside a batch are counted one by one.
    let mut batch = BatchRequestBuilder::new();
    batch.insert("system_name", params(vec![])).unwrap();
    batch.insert("system_health", params(vec![])).unwrap();
    let answers = http.batch_request::<Value>(batch).await.unwrap();
    assert_eq!(answers.num_successful_calls(), 2);

    let calls = node.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| *c == "system_health").count(), 2);
    assert!(calls.contains(&"system_chain".to_string()));
    assert!(calls.contains(&"unknown".to_string()));
    assert!(!calls.iter().any(|c| c == "no_such_method"));
}

#[tokio::test]
async fn account_next_index_accepts_any_address_form() {
    let node = Node::start().await;
    let client = node.ws().await;
    let alice = account("//Alice");
    for address in [
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".to_string(),
        "45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2".to_string(),
        "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5".to_string(),
        hex(alice.as_bytes()),
    ] {
        assert_eq!(
            ok(&client, "system_accountNextIndex", vec![json!(address)]).await,
            0
        );
        assert_eq!(
            ok(&client, "account_nextIndex", vec![json!(address)]).await,
            0
        );
    }
    node.chain
        .submit(signed_transfer(
            "//Alice",
            0,
            1_000,
            node.chain.genesis_hash(),
        ))
        .unwrap();
    // Pooled transactions count, as in Substrate.
    assert_eq!(
        ok(
            &client,
            "system_accountNextIndex",
            vec![json!(hex(alice.as_bytes()))]
        )
        .await,
        1
    );
    for bad in [json!("5Grwva"), json!(5), json!("0x1234")] {
        let e = call(&client, "system_accountNextIndex", vec![bad])
            .await
            .unwrap_err();
        assert_eq!(e.code(), -32602);
    }
}
