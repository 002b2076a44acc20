//! Malformed and invalid transactions each get a JSON-RPC error with Substrate's codes, and
//! the node keeps serving.

mod common;

use common::{hex, signed_transfer};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::rpc_params;
use phala_primitives::{Era, H256, PHA};

fn expect_error(result: Result<String, ClientError>, code: i32, data_contains: &str, what: &str) {
    match result {
        Err(ClientError::Call(e)) => {
            assert_eq!(e.code(), code, "{what}: {e:?}");
            let data = e.data().map(|d| d.get().to_string()).unwrap_or_default();
            assert!(
                data.contains(data_contains) || e.message().contains(data_contains),
                "{what}: {e:?}"
            );
        }
        other => panic!("{what}: expected error {code}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_transactions_are_refused_with_substrate_codes() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = tokio::task::spawn_blocking({
        let base = dir.path().to_path_buf();
        move || common::Devnet::start(&base)
    })
    .await
    .unwrap();
    let client = devnet.http();
    let genesis: H256 = client
        .request("chain_getBlockHash", rpc_params![0])
        .await
        .unwrap();
    let submit = |bytes: Vec<u8>| {
        let client = client.clone();
        async move {
            client
                .request::<String, _>("author_submitExtrinsic", rpc_params![hex(&bytes)])
                .await
        }
    };

    // Garbage, truncated and oversized extrinsics: invalid format.
    expect_error(
        submit(vec![0xde, 0xad, 0xbe, 0xef]).await,
        1001,
        "",
        "random bytes",
    );
    let good = signed_transfer("//Alice", 0, PHA, Era::Immortal, genesis, genesis);
    expect_error(
        submit(good[..good.len() - 5].to_vec()).await,
        1001,
        "",
        "truncated",
    );
    let mut oversized =
        parity_scale_codec::Encode::encode(&parity_scale_codec::Compact(5u32 * 1024 * 1024));
    oversized.resize(5 * 1024 * 1024 + 4, 0);
    let result = submit(oversized).await;
    assert!(result.is_err(), "oversized extrinsic accepted");

    // A flipped signature byte and a foreign genesis: bad proof.
    let mut forged = good.clone();
    let sig_byte = 1 + 1 + 32 + 1 + 10;
    forged[sig_byte] ^= 0x01;
    expect_error(submit(forged).await, 1010, "bad signature", "bad signature");
    let foreign = signed_transfer(
        "//Alice",
        0,
        PHA,
        Era::Immortal,
        H256([7; 32]),
        H256([7; 32]),
    );
    expect_error(
        submit(foreign).await,
        1010,
        "bad signature",
        "wrong genesis",
    );

    // The good one goes in; then the same nonce is stale once it is final.
    let hash = submit(good).await.unwrap();
    assert!(hash.starts_with("0x"));
    let start = common::finalized_number(&client).await.unwrap();
    common::wait_for_block(&client, start + 2).await;
    let stale = signed_transfer("//Alice", 0, PHA, Era::Immortal, genesis, genesis);
    expect_error(submit(stale).await, 1010, "outdated", "stale nonce");
    let far = signed_transfer("//Alice", 1_000, PHA, Era::Immortal, genesis, genesis);
    expect_error(submit(far).await, 1010, "future", "far-future nonce");

    // Expired mortality: a 4-block era born a few blocks ago.
    let born = common::finalized_number(&client).await.unwrap();
    let birth_hash: H256 = client
        .request("chain_getBlockHash", rpc_params![born])
        .await
        .unwrap();
    let era = Era::mortal(4, u64::from(born));
    let birth = era.birth(u64::from(born));
    let birth_hash = if u64::from(born) == birth {
        birth_hash
    } else {
        client
            .request("chain_getBlockHash", rpc_params![birth])
            .await
            .unwrap()
    };
    let short = signed_transfer("//Alice", 1, PHA, era, genesis, birth_hash);
    common::wait_for_block(&client, born + 6).await;
    expect_error(
        submit(short).await,
        1010,
        "ancient birth block",
        "expired mortality",
    );

    // Still serving.
    let health: serde_json::Value = client
        .request("system_health", rpc_params![])
        .await
        .unwrap();
    assert_eq!(health["isSyncing"], false);
    let now = common::finalized_number(&client).await.unwrap();
    common::wait_for_block(&client, now + 1).await;
}

/// Every duration flag is bounded: a huge value is refused with the range, never a panic.
#[test]
fn duration_flags_out_of_range_are_refused_not_panics() {
    let huge = u64::MAX.to_string();
    let cases: [&[&str]; 3] = [
        &[
            "worker",
            "--node",
            "ws://127.0.0.1:1",
            "--base-path",
            "/nonexistent",
            "--operator",
            "//Bob",
            "--query-timeout",
            &huge,
        ],
        &[
            "transfer",
            "--from",
            "//Alice",
            "//Bob",
            "1",
            "--timeout",
            &huge,
        ],
        &["validator", "chill", "--suri", "//Alice", "--timeout", "0"],
    ];
    for args in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("is not in"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
