//! One validator in-process: blocks are produced at the block time and finalized, RPC serves
//! them, and a restart on the same base path continues the chain.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use phala_chain::ChainType;
use phala_chain::dev::local_testnet;
use phala_keys::Ed25519Pair;
use phala_node::NodeConfig;

mod node;

use node::free_addr;

fn config(base: &std::path::Path, p2p: SocketAddr, epoch_length: u32) -> NodeConfig {
    let mut spec = local_testnet("Test", "test", ChainType::Development, 1, p2p.port()).unwrap();
    spec.block_time_ms = 200;
    spec.epoch_length = epoch_length;
    NodeConfig {
        spec,
        base_path: base.to_path_buf(),
        validator: Some(Ed25519Pair::from_uri("//Alice").unwrap()),
        rpc_addr: free_addr(),
        prometheus_addr: None,
        p2p_listen: None,
        pruning: Some(256),
        name: "test".into(),
        followers: Vec::new(),
        log_tag: None,
    }
}

/// Runs a node until `blocks` more blocks are finalized; returns the finalized height.
fn run_for(base: &std::path::Path, p2p: SocketAddr, blocks: u32, epoch_length: u32) -> u32 {
    let running = node::start(config(base, p2p, epoch_length));
    let info = running.info.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reached = runtime.block_on(async {
        let client = HttpClientBuilder::default()
            .build(format!("http://{}", info.rpc_addr))
            .unwrap();
        let start = Instant::now();
        loop {
            let hash: String = client
                .request("chain_getFinalizedHead", rpc_params![])
                .await
                .unwrap();
            let header: serde_json::Value = client
                .request("chain_getHeader", rpc_params![hash])
                .await
                .unwrap();
            let number = u32::from_str_radix(
                header["number"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap();
            if number >= info.finalized + blocks {
                break number;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "stuck at block {number}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    running.stop();
    reached
}

#[test]
fn produces_finalizes_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let p2p = free_addr();
    let first = run_for(dir.path(), p2p, 5, 600);
    assert!(first >= 5);
    let second = run_for(dir.path(), p2p, 3, 600);
    assert!(second >= first + 3);
}

#[test]
fn crosses_epochs_and_restarts_mid_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let p2p = free_addr();
    // Epochs of 4 blocks: three boundaries, then a restart in the middle of an epoch.
    let first = run_for(dir.path(), p2p, 13, 4);
    assert!(first >= 13);
    let second = run_for(dir.path(), p2p, 6, 4);
    assert!(second >= first + 6);
}
