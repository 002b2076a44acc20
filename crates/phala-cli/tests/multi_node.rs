//! Four `phala node` processes on loopback from a `phala chain-spec`: transfers through one
//! node, another SIGKILLed while finality continues, then restarted to catch up to the same
//! finalized chain. Restarted as an older release (`PHALA_MAX_SPEC_VERSION`), it then meets
//! a runtime upgrade passed by referendum: the three nodes that have the new version switch
//! at its block and go on finalizing; the old one stops after the block before, with its
//! message, never executing the switch block.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, hex, signed_transfer};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use phala_primitives::{Era, H256, PHA};

const NAMES: [&str; 4] = ["Alice", "Bob", "Charlie", "Dave"];

struct Node {
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(spec: &Path, base: &Path, name: &str, rpc: u16) -> Node {
    start_env(spec, base, name, rpc, &[])
}

fn start_env(spec: &Path, base: &Path, name: &str, rpc: u16, envs: &[(&str, &str)]) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_phala"))
        .envs(envs.iter().copied())
        .arg("node")
        .arg("--chain")
        .arg(spec)
        .args(["--validator", &format!("//{name}"), "--base-path"])
        .arg(base.join(name))
        // No --prometheus-port, as the README runs them: each takes the next free metrics
        // port after 9615.
        .args(["--rpc-port", &rpc.to_string()])
        .stdout(Stdio::null())
        .stderr(log_file(base, name))
        .spawn()
        .expect("cannot start phala node");
    Node { child }
}

/// Each node's log goes to `<base>/<name>.log` (appended across restarts), shown if a wait fails.
fn log_file(base: &Path, name: &str) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(base.join(format!("{name}.log")))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn log_tails(base: &Path) -> String {
    let mut out = String::new();
    for name in NAMES {
        let log = std::fs::read_to_string(base.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        // Warnings from the whole run: a blocked peer or a failed dial explains a wait.
        let warnings: Vec<&str> = lines
            .iter()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .take(30)
            .copied()
            .collect();
        out.push_str(&format!(
            "\n--- {name} ---\n{}\n[...]\n{tail}",
            warnings.join("\n")
        ));
    }
    out
}

fn client(port: u16) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(format!("http://127.0.0.1:{port}"))
        .unwrap()
}

async fn finalized(port: u16) -> Option<(u32, String)> {
    let c = client(port);
    let hash: String = c
        .request("chain_getFinalizedHead", rpc_params![])
        .await
        .ok()?;
    let header: serde_json::Value = c
        .request("chain_getHeader", rpc_params![hash.clone()])
        .await
        .ok()?;
    let n = u32::from_str_radix(header["number"].as_str()?.trim_start_matches("0x"), 16).ok()?;
    Some((n, hash))
}

/// Waits (bounded) until every listed node has finalized at least `target`.
async fn wait_all(ports: &[u16], target: u32, what: &str, logs: &Path) {
    let start = Instant::now();
    loop {
        let mut done = true;
        for p in ports {
            if finalized(*p).await.map(|(n, _)| n).unwrap_or(0) < target {
                done = false;
            }
        }
        if done {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what}: not all nodes reached #{target}{}",
            log_tails(logs)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits (bounded) until the node on `port` reports `peers` connected peers.
async fn wait_peers(port: u16, peers: u64, base: &Path) {
    let start = Instant::now();
    loop {
        let health: Result<serde_json::Value, _> =
            client(port).request("system_health", rpc_params![]).await;
        if health.as_ref().ok().and_then(|h| h["peers"].as_u64()) == Some(peers) {
            return;
        }
        assert!(
            // Two nodes that dial each other at once both refuse, then retry after a
            // jittered cooldown; on a loaded 2-core runner that can take several rounds.
            start.elapsed() < Duration::from_secs(120),
            "the node on {port} never reported {peers} peers ({health:?}):\n{}",
            log_tails(base)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_survive_a_crash_and_the_node_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let mut args = vec![
        "chain-spec".to_string(),
        "--dev".into(),
        "--validators".into(),
        "4".into(),
        "--out".into(),
    ];
    args.push(spec.display().to_string());
    for name in NAMES {
        args.push("--host".into());
        args.push(format!("//{name}=127.0.0.1:{}", free_port()));
    }
    let status = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(&args)
        .status()
        .unwrap();
    assert!(status.success());

    let mut rpc: Vec<u16> = NAMES.iter().map(|_| free_port()).collect();
    let mut nodes: Vec<Option<Node>> = NAMES
        .iter()
        .zip(&rpc)
        .map(|(name, port)| Some(start(&spec, dir.path(), name, *port)))
        .collect();
    wait_all(&rpc, 3, "startup", dir.path()).await;

    // Transfers go in through Alice's node.
    let genesis: H256 = client(rpc[0])
        .request("chain_getBlockHash", rpc_params![0])
        .await
        .unwrap();
    for nonce in 0..5u32 {
        let xt = signed_transfer("//Alice", nonce, PHA, Era::Immortal, genesis, genesis);
        let _: String = client(rpc[0])
            .request("author_submitExtrinsic", rpc_params![hex(&xt)])
            .await
            .unwrap();
    }

    // system_health counts the peers a node is connected to, not the spec's validators.
    wait_peers(rpc[0], 3, dir.path()).await;

    // Dave dies; the other three (a quorum) keep finalizing.
    let before = finalized(rpc[0]).await.unwrap().0;
    // Dropping a node SIGKILLs it.
    drop(nodes[3].take());
    wait_all(&rpc[..3], before + 5, "after the crash", dir.path()).await;
    wait_peers(rpc[0], 2, dir.path()).await;

    // All five transfers landed.
    let alice = phala_keys::Sr25519Pair::from_uri("//Alice")
        .unwrap()
        .account_id()
        .to_ss58();
    let start_wait = Instant::now();
    loop {
        let nonce: u32 = client(rpc[1])
            .request("system_accountNextIndex", rpc_params![alice.clone()])
            .await
            .unwrap();
        if nonce == 5 {
            break;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(60),
            "transfers not finalized (nonce {nonce})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Dave comes back, as a release without the test build's newer runtime, and catches up
    // to the same chain.
    let old = phala_runtime::version::SPEC_VERSION.to_string();
    // On a fresh RPC port: while Dave was down, another test process may have drawn his
    // old one (ports are free-for-all across test binaries), and a node that cannot bind
    // its RPC port exits. His p2p address is the chain's and stays.
    rpc[3] = free_port();
    nodes[3] = Some(start_env(
        &spec,
        dir.path(),
        "Dave",
        rpc[3],
        &[("PHALA_MAX_SPEC_VERSION", old.as_str())],
    ));
    let target = finalized(rpc[0]).await.unwrap().0 + 2;
    wait_all(&rpc, target, "after the restart", dir.path()).await;
    let reference: Option<String> = client(rpc[0])
        .request("chain_getBlockHash", rpc_params![target])
        .await
        .unwrap();
    for port in &rpc {
        let hash: Option<String> = client(*port)
            .request("chain_getBlockHash", rpc_params![target])
            .await
            .unwrap();
        assert_eq!(hash, reference, "node on {port} disagrees at #{target}");
    }

    // A root referendum schedules the newer runtime; the three that have it switch.
    let next = phala_runtime::version::NEWEST_SPEC_VERSION;
    let url = format!("ws://127.0.0.1:{}", rpc[0]);
    let at = finalized(rpc[0]).await.unwrap().0 + 60;
    let call = phala_runtime::RuntimeCall::System(
        phala_runtime::modules::system::Call::schedule_upgrade {
            spec_version: next,
            at_block: at,
        },
    );
    let encoded = hex(&parity_scale_codec::Encode::encode(&call));
    let cli = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::phala_at(&url, &args).unwrap_or_else(|e| panic!("phala {args:?}: {e}"))
        })
    };
    let out = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || common::submit_referendum(&url, "root", &encoded))
            .await
            .unwrap()
    };
    assert!(out.contains("Referendum #0"), "{out}");
    for voter in ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve"] {
        cli(&["gov", "vote", "0", "aye", "7000000", "--suri", voter])
            .await
            .unwrap();
    }
    wait_all(&rpc[..3], at + 3, "past the switch", dir.path()).await;
    for port in &rpc[..3] {
        let version: serde_json::Value = client(*port)
            .request("state_getRuntimeVersion", rpc_params![])
            .await
            .unwrap();
        assert_eq!(version["specVersion"].as_u64(), Some(u64::from(next)));
    }
    // Dave stopped after the block before, saying why; it never executed the switch block.
    let mut dave = nodes[3].take().unwrap();
    let start_wait = Instant::now();
    let status = loop {
        if let Some(status) = dave.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(30),
            "the old release did not stop{}",
            log_tails(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("Dave.log")).unwrap();
    assert!(
        log.contains(&format!(
            "switches to runtime spec version {next} at block #{at}"
        )),
        "{}",
        log_tails(dir.path())
    );
    assert!(!log.contains(&format!("finalized number={at} ")));
    drop(nodes);
}

/// `phala devnet --full-nodes 1`: the full node's RPC (after the validators' ports) serves the
/// validator's finalized chain; and `phala node` without `--validator` or `--p2p-port` says
/// what it needs instead of starting.
#[tokio::test(flavor = "multi_thread")]
async fn devnet_runs_a_full_node_and_a_full_node_needs_a_p2p_port() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["chain-spec", "--dev", "--out"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["node", "--chain"])
        .arg(&spec)
        .arg("--base-path")
        .arg(dir.path().join("full"))
        .args(["--rpc-port", &free_port().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--p2p-port"), "{stderr}");

    // Two consecutive free ports for the validator's and the full node's RPC.
    let rpc = (0..50)
        .map(|_| free_port())
        .find(|p| *p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok())
        .unwrap();
    let _devnet = Node {
        child: Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["devnet", "--full-nodes", "1", "--base-path"])
            .arg(dir.path().join("devnet"))
            .args(["--rpc-port", &rpc.to_string()])
            .args(["--prometheus-port", &free_port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let start = Instant::now();
    let (number, hash) = loop {
        if let Some((n, h)) = finalized(rpc + 1).await
            && n >= 4
        {
            break (n, h);
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the full node did not follow"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let theirs: Option<String> = client(rpc)
        .request("chain_getBlockHash", rpc_params![number])
        .await
        .unwrap();
    assert_eq!(theirs.as_deref(), Some(hash.as_str()));
}
