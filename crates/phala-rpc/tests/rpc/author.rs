//! Submission and watching, and the exact errors clients show for refused transactions.

use std::time::Duration;

use jsonrpsee::core::client::{Error as ClientError, Subscription, SubscriptionClientT};
use parity_scale_codec::{Compact, Encode};
use phala_primitives::hashing::hash256;
use phala_primitives::{H256, PHA};
use serde_json::{Value, json};

use crate::common::*;

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("status in time")
        .expect("subscription open")
        .unwrap()
}

async fn watch(
    client: &jsonrpsee::ws_client::WsClient,
    tx: &[u8],
) -> Result<Subscription<Value>, jsonrpsee::types::ErrorObjectOwned> {
    match client
        .subscribe(
            "author_submitAndWatchExtrinsic",
            params(vec![json!(hex(tx))]),
            "author_unwatchExtrinsic",
        )
        .await
    {
        Ok(s) => Ok(s),
        Err(ClientError::Call(e)) => Err(e),
        Err(other) => panic!("transport failure: {other}"),
    }
}

#[tokio::test]
async fn watched_transfer_reports_ready_in_block_finalized() {
    let node = Node::start().await;
    let client = node.ws().await;
    let tx = signed_transfer("//Alice", 0, PHA, node.chain.genesis_hash());
    let mut sub = watch(&client, &tx).await.unwrap();
    assert_eq!(next(&mut sub).await, "ready");
    assert_eq!(
        ok(&client, "author_pendingExtrinsics", vec![]).await,
        json!([hex(&tx)])
    );
    let block = node.finalize_next();
    assert_eq!(next(&mut sub).await, json!({ "inBlock": block.hash() }));
    assert_eq!(next(&mut sub).await, json!({ "finalized": block.hash() }));
    // Finalized is final: nothing follows.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err()
    );
    assert_eq!(
        ok(&client, "author_pendingExtrinsics", vec![]).await,
        json!([])
    );

    // A nonce ahead of the account waits as "future".
    let later = signed_transfer("//Alice", 2, PHA, node.chain.genesis_hash());
    let mut future = watch(&client, &later).await.unwrap();
    assert_eq!(next(&mut future).await, "future");

    // Plain submission answers the hash clients compute.
    let second = signed_transfer("//Alice", 1, PHA, node.chain.genesis_hash());
    let hash = ok(&client, "author_submitExtrinsic", vec![json!(hex(&second))]).await;
    assert_eq!(hash, json!(hash256(&second)));
    let again = call(&client, "author_submitExtrinsic", vec![json!(hex(&second))])
        .await
        .unwrap_err();
    assert_eq!(again.code(), 1013);
    assert_eq!(again.message(), "Transaction Already Imported");
    assert_eq!(data(&again), Some(hash256(&second).to_hex()));
    // Nonce 1 filled the gap: the waiting transaction is announced ready, and both go into
    // the next block.
    assert_eq!(next(&mut future).await, "ready");
    let block = node.finalize_next();
    assert_eq!(next(&mut future).await, json!({ "inBlock": block.hash() }));
    assert_eq!(
        next(&mut future).await,
        json!({ "finalized": block.hash() })
    );
}

#[tokio::test]
async fn refused_transactions_get_substrate_errors_and_the_server_keeps_serving() {
    let node = Node::start().await;
    let client = node.ws().await;
    let genesis = node.chain.genesis_hash();
    node.chain
        .submit(signed_transfer("//Alice", 0, PHA, genesis))
        .unwrap();
    node.finalize_next();

    let valid = signed_transfer("//Alice", 1, PHA, genesis);
    let mut bad_signature = valid.clone();
    if let Some(last) = bad_signature.last_mut() {
        *last ^= 1;
    }
    let truncated = valid.get(..valid.len() - 5).unwrap().to_vec();
    let mut oversized_prefix = Compact(10_000_000u32).encode();
    oversized_prefix.extend([0u8; 10]);
    let cases: Vec<(&str, Vec<u8>, i32, Option<&str>)> = vec![
        (
            "random bytes",
            vec![0xde, 0xad, 0xbe, 0xef, 0x01],
            1001,
            None,
        ),
        ("truncated", truncated, 1001, None),
        ("oversized length prefix", oversized_prefix, 1001, None),
        (
            "bad signature",
            bad_signature,
            1010,
            Some("Transaction has a bad signature"),
        ),
        (
            "stale nonce",
            signed_transfer("//Alice", 0, PHA, genesis),
            1010,
            Some("Transaction is outdated"),
        ),
        (
            "wrong genesis",
            signed_transfer("//Alice", 1, PHA, H256([0x42; 32])),
            1010,
            Some("Transaction has a bad signature"),
        ),
    ];
    for (what, tx, code, expected_data) in cases {
        let e = call(&client, "author_submitExtrinsic", vec![json!(hex(&tx))])
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e:?}");
        let w = watch(&client, &tx)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what}: watch accepted"));
        assert_eq!(w.code(), code, "{what} (watch): {w:?}");
        match expected_data {
            Some(d) => {
                assert_eq!(e.message(), "Invalid Transaction", "{what}");
                assert_eq!(data(&e).as_deref(), Some(d), "{what}");
                assert_eq!(data(&w).as_deref(), Some(d), "{what} (watch)");
            }
            None => assert!(
                e.message().starts_with("Extrinsic has invalid format: "),
                "{what}: {e:?}"
            ),
        }
    }
    for bad_param in [json!("dead"), json!(12), json!(null)] {
        let e = call(&client, "author_submitExtrinsic", vec![bad_param])
            .await
            .unwrap_err();
        assert_eq!(e.code(), -32602);
    }
    // Still serving, and the valid transaction still goes in.
    let mut sub = watch(&client, &valid).await.unwrap();
    assert_eq!(next(&mut sub).await, "ready");
    assert_eq!(ok(&client, "system_chain", vec![]).await, "Test");
}
