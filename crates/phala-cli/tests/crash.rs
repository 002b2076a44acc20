//! SIGKILL while transfers flow: every block reported finalized before the kill is still
//! there, with the same hash and state root, and the chain moves on.

mod common;

use std::time::Duration;

use common::{hex, signed_transfer};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use phala_primitives::{Era, H256, PHA};

#[tokio::test(flavor = "multi_thread")]
async fn killed_node_restarts_with_everything_finalized() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let (rpc_port, p2p_port) = (common::free_port(), common::free_port());
    let devnet = tokio::task::spawn_blocking({
        let base = base.clone();
        move || common::Devnet::start_on(&base, rpc_port, p2p_port)
    })
    .await
    .unwrap();
    let client = devnet.http();
    let genesis: H256 = client
        .request("chain_getBlockHash", rpc_params![0])
        .await
        .unwrap();

    // Transfers keep flowing while we record what the node reports as finalized.
    let mut seen: Vec<(u32, String, String)> = Vec::new();
    for nonce in 0..40u32 {
        let xt = signed_transfer("//Alice", nonce, PHA, Era::Immortal, genesis, genesis);
        let _: Result<String, _> = client
            .request("author_submitExtrinsic", rpc_params![hex(&xt)])
            .await;
        let hash: String = client
            .request("chain_getFinalizedHead", rpc_params![])
            .await
            .unwrap();
        let header: serde_json::Value = client
            .request("chain_getHeader", rpc_params![hash.clone()])
            .await
            .unwrap();
        let number = u32::from_str_radix(
            header["number"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        seen.push((
            number,
            hash,
            header["stateRoot"].as_str().unwrap().to_string(),
        ));
        tokio::time::sleep(Duration::from_millis(75)).await;
    }
    tokio::task::spawn_blocking(move || devnet.kill())
        .await
        .unwrap();

    let devnet = tokio::task::spawn_blocking({
        let base = base.clone();
        move || common::Devnet::start_on(&base, rpc_port, p2p_port)
    })
    .await
    .unwrap();
    let client = devnet.http();
    for (number, hash, state_root) in &seen {
        let stored: Option<String> = client
            .request("chain_getBlockHash", rpc_params![number])
            .await
            .unwrap();
        assert_eq!(
            stored.as_deref(),
            Some(hash.as_str()),
            "block #{number} changed after the crash"
        );
        let header: serde_json::Value = client
            .request("chain_getHeader", rpc_params![hash])
            .await
            .unwrap();
        assert_eq!(header["stateRoot"].as_str(), Some(state_root.as_str()));
    }
    let last = seen.iter().map(|(n, _, _)| *n).max().unwrap();
    common::wait_for_block(&client, last + 3).await;
    // The transfers that were finalized before the kill kept Alice's nonce.
    let alice = phala_keys::Sr25519Pair::from_uri("//Alice")
        .unwrap()
        .account_id()
        .to_ss58();
    let nonce: u32 = client
        .request("system_accountNextIndex", rpc_params![alice])
        .await
        .unwrap();
    assert!(nonce > 0);
}
