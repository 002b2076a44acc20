//! A full node over real p2p: no consensus key, admitted by a validator's `followers`, it
//! follows finality across epochs, serves RPC, relays a transfer submitted to it, and keeps its
//! p2p identity across restarts.

use std::time::{Duration, Instant};

use phala_chain::ChainType;
use phala_chain::dev::local_testnet;
use phala_client::Client;
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_node::{Follower, NodeConfig};

mod node;

use node::{free_addr, start};

fn config(spec: &phala_chain::ChainSpec, base: &std::path::Path) -> NodeConfig {
    NodeConfig {
        spec: spec.clone(),
        base_path: base.to_path_buf(),
        validator: None,
        rpc_addr: free_addr(),
        prometheus_addr: None,
        p2p_listen: None,
        pruning: Some(1024),
        name: "test".into(),
        followers: Vec::new(),
        log_tag: None,
    }
}

async fn wait_finalized(client: &Client, target: u32) -> u32 {
    let start = Instant::now();
    loop {
        let (number, _) = client.finalized_head().await.unwrap();
        if number >= target {
            return number;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "stuck at #{number}, waiting for #{target}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_node_follows_serves_and_relays() {
    let dir = tempfile::tempdir().unwrap();
    let validator_p2p = free_addr();
    let mut spec =
        local_testnet("Test", "test", ChainType::Local, 1, validator_p2p.port()).unwrap();
    spec.block_time_ms = 200;
    spec.epoch_length = 4;
    let full_base = dir.path().join("full");

    // Without a p2p port a full node says what it needs.
    let err = phala_node::run_until(config(&spec, &full_base), |_| {}, async {})
        .unwrap_err()
        .to_string();
    assert!(!full_base.join("chain.redb").exists());
    assert!(err.contains("--p2p-port"), "{err}");

    // The node key exists before the node first runs, so the validator can name it.
    let key = phala_node::identity::load_or_create_node_key(&full_base).unwrap();
    let full_p2p = free_addr();
    let follower: Follower = format!("0x{}@{full_p2p}", hex::encode(key.public()))
        .parse()
        .unwrap();

    let mut alice = config(&spec, &dir.path().join("alice"));
    alice.validator = Some(Ed25519Pair::from_uri("//Alice").unwrap());
    alice.followers = vec![follower];
    let alice = start(alice);
    let mut full = config(&spec, &full_base);
    full.p2p_listen = Some(full_p2p);
    let full = start(full);
    assert_eq!(full.info.p2p_key, key.public());

    let alice_rpc = Client::connect(&format!("ws://{}", alice.info.rpc_addr))
        .await
        .unwrap();
    let full_rpc = Client::connect(&format!("ws://{}", full.info.rpc_addr))
        .await
        .unwrap();
    // Two epochs: the full node follows the committee through boundary blocks.
    wait_finalized(&full_rpc, 10).await;

    // A transfer submitted to the full node reaches the validator and is finalized.
    let ferdie = Sr25519Pair::from_uri("//Ferdie").unwrap();
    let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
    let before = alice_rpc.free_balance(&bob).await.unwrap();
    full_rpc
        .transfer(&ferdie, bob, 1_000_000_000_000, true)
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(
        alice_rpc.free_balance(&bob).await.unwrap(),
        before + 1_000_000_000_000
    );

    // Same finalized chain on both.
    let (tip, _) = full_rpc.finalized_head().await.unwrap();
    for n in [1, tip / 2, tip] {
        assert_eq!(
            full_rpc.block_hash(n).await.unwrap(),
            alice_rpc.block_hash(n).await.unwrap(),
            "block #{n}"
        );
    }
    // Every epoch's boundary block carries its own certificate (a light client needs it to
    // change committees); a block between boundaries that the full node took by ancestry is
    // proven by a later block's certificate instead.
    let mut proven = 0;
    for n in 1..=tip {
        let hash = full_rpc.block_hash(n).await.unwrap().unwrap();
        let proof = full_rpc.finality_proof(hash).await.unwrap();
        if (n + 1) % spec.epoch_length == 0 {
            assert!(proof.is_some(), "no finality proof for boundary #{n}");
        }
        proven += usize::from(proof.is_some());
    }
    println!("{proven} of {tip} blocks carry their own certificate on the full node");
    drop(full_rpc);

    // Restarted, the full node keeps its identity (the validator still admits it) and
    // catches up.
    full.stop();
    let mut again = config(&spec, &full_base);
    again.p2p_listen = Some(full_p2p);
    let again = start(again);
    assert_eq!(again.info.p2p_key, key.public());
    let full_rpc = Client::connect(&format!("ws://{}", again.info.rpc_addr))
        .await
        .unwrap();
    let (alice_tip, _) = alice_rpc.finalized_head().await.unwrap();
    wait_finalized(&full_rpc, alice_tip + 2).await;
    drop(full_rpc);
    drop(alice_rpc);
    again.stop();
    alice.stop();
}
