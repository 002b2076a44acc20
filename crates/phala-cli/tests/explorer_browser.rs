//! The explorer in a real browser (Debian's chromium through puppeteer-core,
//! `tests/polkadot-js/explorer_browser.mjs`) against `phala devnet --workers 2 --computing`
//! with a contract and a referendum: every page shows the values read here over RPC, search
//! lands on each kind of id, a transfer made while an account page is open appears without a
//! reload, and the console stays clean. Then a `phala explorer` of its own watches the node
//! go away and come back: the page says so, and recovers by itself.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::net::{Net, example, tail};
use parity_scale_codec::Encode;
use phala_client::Client;
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::format_pha;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::computation::WorkerState;
use phala_runtime::modules::{TREASURY_ACCOUNT, registry};

/// As the page shortens long hex: the first 10 and last 8 characters.
fn short(hex: &str) -> String {
    format!("{}…{}", &hex[..10], &hex[hex.len() - 8..])
}

/// An amount as the explorer shows a whole one: `1,000 PHA`.
fn shown(planck: u128) -> String {
    format!(
        "{} PHA",
        phala_explorer::group(format_pha(planck).trim_end_matches(" PHA"))
    )
}

fn hex32(bytes: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(bytes))
}

struct Explorer(Child);

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_file(path: &Path, secs: u64, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(secs), "no {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_shows_the_chain_live_and_rides_out_the_node_going_away() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut net = Net::start_with(
        dir.path(),
        2,
        &["--computing", "--explorer-port", &port.to_string()],
    );
    let explorer = format!("http://127.0.0.1:{port}");
    let line = net.line("  Explorer: ", 120).await;
    assert!(line.contains(&explorer), "{line}");
    net.line("cluster 0x", 300).await;
    let url = net.url();

    // A contract that ran a command, and a referendum being decided.
    let bundle = example("flipper.contract");
    let contract = net.instantiate(&bundle, "false");
    net.call(&bundle, &contract, "flip");
    let call = RuntimeCall::Registry(registry::Call::add_measurement {
        measurement: vec![0x5a; 32],
    });
    let out = common::submit_referendum(&url, "root", &common::hex(&call.encode()));
    let referendum = common::referendum_index(&out);
    common::phala_at(
        &url,
        &[
            "gov",
            "vote",
            &referendum.to_string(),
            "aye",
            "1000",
            "--conviction",
            "1x",
            "--suri",
            "//Dave",
        ],
    )
    .unwrap();

    // Workers computing, read back over RPC with what every page must show.
    let client = Client::connect(&url).await.unwrap();
    let start = Instant::now();
    let worker = loop {
        let sessions = client.sessions().await.unwrap();
        if let Some((key, _)) = sessions.iter().find(|(_, s)| s.state == WorkerState::Idle) {
            break *key;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no worker computes:\n{}",
            tail(&net.log())
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let gatekeeper = client.gatekeepers().await.unwrap()[0];
    let master = client.master_key_history().await.unwrap()[0].pubkey;
    let pool = client.pools().await.unwrap().remove(0);
    let (head, _) = client.finalized_head().await.unwrap();
    // A block with its own certificate, to show its signers.
    let mut number = head;
    let (block, block_hash) = loop {
        let hash = client.block_hash(number).await.unwrap().unwrap();
        if client.finality_proof(hash).await.unwrap().is_some() {
            break (number, hash);
        }
        number -= 1;
    };
    let recipient = Sr25519Pair::from_uri("//ExplorerTest")
        .unwrap()
        .account_id();
    let alice = Sr25519Pair::from_uri("//Alice").unwrap().account_id();
    let charlie = Sr25519Pair::from_uri("//Charlie").unwrap().account_id();
    let expect = serde_json::json!({
        "chain": client.chain_name().await.unwrap(),
        "issuance": shown(client.total_issuance().await.unwrap()),
        "validator": alice.to_ss58(),
        "minBond": shown(client.validator_params().await.unwrap().min_bond),
        "gatekeeperShort": short(&hex32(&gatekeeper)),
        "masterKey": hex32(&master),
        "worker": hex32(&worker),
        "workerShort": short(&hex32(&worker)),
        "poolOwner": pool.pool.owner.to_ss58(),
        "contract": contract,
        "deployer": charlie.to_ss58(),
        "referendum": referendum,
        "track": "root",
        "treasuryAccount": TREASURY_ACCOUNT.to_ss58(),
        "block": block,
        "blockHash": block_hash.to_string(),
        "recipient": recipient.to_ss58(),
        "recipientHex": hex32(&recipient.0),
        "recipientFree": "0 PHA",
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/explorer-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::task::spawn_blocking({
        let (explorer, expect, shots, url) = (
            explorer.clone(),
            expect.to_string(),
            shots.display().to_string(),
            url.clone(),
        );
        move || {
            common::polkadot_js(
                "explorer_browser.mjs",
                &[
                    "pages",
                    &explorer,
                    &expect,
                    &shots,
                    env!("CARGO_BIN_EXE_phala"),
                    &url,
                ],
            )
        }
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!(
            "explorer_browser.mjs: {e}\ndevnet log:\n{}",
            tail(&net.log())
        )
    });
    // Per page: first render and requests, for the benchmarks.
    println!("explorer timings: {}", out.trim());
    for page in ["home", "block", "account", "workers", "governance", "phone"] {
        let png = std::fs::read(shots.join(format!("explorer-{page}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{page}");
    }

    // A node that goes away and comes back: a `phala explorer` of its own (the devnet's
    // goes down with it) says so, and recovers by itself.
    let own = common::free_port();
    let _explorer = Explorer(
        Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["explorer", "--url", &url, "--listen"])
            .arg(format!("127.0.0.1:{own}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while common::http(own, "GET", "/api/status", b"").await.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "no explorer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let signals = tempfile::tempdir().unwrap();
    let script = tokio::task::spawn_blocking({
        let (explorer, signals) = (
            format!("http://127.0.0.1:{own}"),
            signals.path().display().to_string(),
        );
        move || common::polkadot_js("explorer_browser.mjs", &["outage", &explorer, &signals])
    });
    let loaded = signals.path().join("loaded");
    tokio::task::spawn_blocking(move || wait_file(&loaded, 90, "page loaded"))
        .await
        .unwrap();
    net.stop();
    let down = signals.path().join("saw-down");
    tokio::task::spawn_blocking(move || wait_file(&down, 90, "'node unreachable' on the page"))
        .await
        .unwrap();
    net.restart();
    let out = script.await.unwrap().unwrap_or_else(|e| {
        panic!(
            "explorer_browser.mjs outage: {e}\ndevnet log:\n{}",
            tail(&net.log())
        )
    });
    assert!(out.contains("recovered"), "{out}");
    let _ = std::fs::copy(
        signals.path().join("explorer-node-down.png"),
        shots.join("explorer-node-down.png"),
    );
}
