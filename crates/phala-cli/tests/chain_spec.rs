//! `phala chain-spec` makes a spec fit for real hosts unless asked for a development one:
//! real keys only, no simulated TEEs, no sudo; a validator runs on it with its own key.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn phala(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn generate(scheme: &str) -> serde_json::Value {
    let out = phala(&["key", "generate", "--scheme", scheme, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_live_spec_needs_real_keys_and_refuses_dev_ones() {
    // Without validators: refused, and the way to a development spec is named.
    let out = phala(&["chain-spec"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--dev"), "{}", stderr(&out));

    // //Alice's well-known keys: refused.
    let alice = phala(&["key", "inspect", "//Alice", "--json"]);
    let alice: serde_json::Value = serde_json::from_slice(&alice.stdout).unwrap();
    let alice_ed = phala(&["key", "inspect", "//Alice", "--scheme", "ed25519", "--json"]);
    let alice_ed: serde_json::Value = serde_json::from_slice(&alice_ed.stdout).unwrap();
    let dev = format!(
        "{}={}@node1.example.org:30333",
        alice["ss58Address"].as_str().unwrap(),
        alice_ed["publicKey"].as_str().unwrap()
    );
    let out = phala(&["chain-spec", "--validator", &dev]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("development key"), "{}", stderr(&out));

    // A development spec is asked for by name.
    let out = phala(&["chain-spec", "--dev"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec["chainType"], "Local");
    assert_eq!(spec["registry"]["allowSimulatedTee"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_with_its_own_keys_runs_a_live_chain() {
    let dir = tempfile::tempdir().unwrap();
    let stash = generate("sr25519");
    let consensus = generate("ed25519");
    let p2p = common::free_port();
    let validator = format!(
        "{}={}@127.0.0.1:{p2p}",
        stash["ss58Address"].as_str().unwrap(),
        consensus["publicKey"].as_str().unwrap()
    );
    let spec_path = dir.path().join("spec.json");
    let out = phala(&[
        "chain-spec",
        "--validator",
        &validator,
        "--block-time-ms",
        "200",
        "--out",
        spec_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    assert_eq!(spec["chainType"], "Live");
    assert!(spec.get("sudo").is_none());
    assert_eq!(spec["registry"]["allowSimulatedTee"], false);
    assert!(
        spec["registry"]["gatekeeperOperators"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A gatekeeper must say which TEE it runs on.
    let out = phala(&[
        "node",
        "--chain",
        spec_path.to_str().unwrap(),
        "--base-path",
        dir.path().join("no-tee").to_str().unwrap(),
        "--validator",
        consensus["secretPhrase"].as_str().unwrap(),
        "--gatekeeper",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tee"), "{}", stderr(&out));

    // The validator runs the chain with its own consensus key.
    let rpc = common::free_port();
    let mut node = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["node", "--chain"])
        .arg(&spec_path)
        .arg("--base-path")
        .arg(dir.path().join("node"))
        .args(["--validator", consensus["secretPhrase"].as_str().unwrap()])
        .args(["--rpc-port", &rpc.to_string(), "--prometheus-port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://127.0.0.1:{rpc}"))
        .unwrap();
    let start = Instant::now();
    while common::finalized_number(&client).await.unwrap_or(0) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no blocks on the live chain"
        );
        if let Ok(Some(status)) = node.try_wait() {
            panic!("the node exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = node.kill();
    let _ = node.wait();
}

/// A validator whose spec address is not one of this machine's gets a clear error (with
/// what to do), not a panic.
#[test]
fn a_validator_that_cannot_listen_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let stash = generate("sr25519");
    let consensus = generate("ed25519");
    let validator = format!(
        "{}={}@192.0.2.1:30333",
        stash["ss58Address"].as_str().unwrap(),
        consensus["publicKey"].as_str().unwrap()
    );
    let spec = dir.path().join("spec.json");
    let out = phala(&[
        "chain-spec",
        "--validator",
        &validator,
        "--out",
        spec.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["node", "--chain"])
        .arg(&spec)
        .arg("--base-path")
        .arg(dir.path().join("node"))
        .args([
            "--rpc-port",
            &common::free_port().to_string(),
            "--prometheus-port",
            "0",
        ])
        .env(
            "PHALA_VALIDATOR",
            consensus["secretPhrase"].as_str().unwrap(),
        )
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot listen for peers on 192.0.2.1:30333"),
        "{err}"
    );
    assert!(err.contains("--p2p-port"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
