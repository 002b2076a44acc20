//! A simulated worker against a real devnet process: it registers, benchmarks, survives
//! SIGKILL without registering again, refuses forged inputs, and leaves no key in the clear.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use parity_scale_codec::{Decode, Encode};
use phala_runtime::modules::registry::WorkerInfo;

struct Worker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Worker {
    fn start(devnet: &common::Devnet, base: &Path, port: u16, log: PathBuf) -> Worker {
        Self::start_with(&devnet.ws_url(), base, port, log, &[])
    }

    fn start_with(url: &str, base: &Path, port: u16, log: PathBuf, extra: &[&str]) -> Worker {
        Self::start_as("//Bob", url, base, port, log, extra)
    }

    fn start_as(
        operator: &str,
        url: &str,
        base: &Path,
        port: u16,
        log: PathBuf,
        extra: &[&str],
    ) -> Worker {
        let child = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["worker", "--node", url, "--base-path"])
            .arg(base)
            .args(extra)
            .args(["--operator", operator, "--tee", "simulated", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cannot start phala worker");
        Worker { child, port, log }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Option<String> {
        let (_, body) = common::http(self.port, "GET", path, &[]).await?;
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    async fn info(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.get("/info").await?).ok()
    }

    /// Waits (bounded) until `/info` satisfies `ok`.
    async fn wait_info(
        &self,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(info) = self.info().await
                && ok(&info)
            {
                return info;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "worker: {what} within 90 s; last info {:?}\nlog:\n{}",
                self.info().await,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn worker_on_chain(
    client: &jsonrpsee::http_client::HttpClient,
    pubkey: &[u8; 32],
) -> Option<WorkerInfo> {
    let key = phala_primitives::storage::map_key(
        "Registry",
        "Workers",
        phala_primitives::storage::Hasher::Blake2_128Concat,
        &pubkey.encode(),
    );
    let value: Option<String> = client
        .request("state_getStorage", rpc_params![common::hex(&key)])
        .await
        .unwrap();
    value.map(|v| {
        let bytes = phala_primitives::crypto::decode_hex(&v).unwrap();
        WorkerInfo::decode(&mut bytes.as_slice()).unwrap()
    })
}

fn pubkey_of(info: &serde_json::Value) -> [u8; 32] {
    let hex = info["pubkey"].as_str().unwrap();
    phala_primitives::crypto::decode_hex(hex)
        .unwrap()
        .try_into()
        .unwrap()
}

/// A default `phala devnet` (one validator and its gatekeeper) in `dir`.
async fn devnet_in(dir: &Path) -> common::Devnet {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || common::Devnet::start(&dir))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn simulated_worker_registers_benchmarks_and_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet_in(&dir.path().join("chain")).await;
    let client = devnet.http();
    let worker_dir = dir.path().join("worker");
    let port = common::free_port();

    let worker = Worker::start(&devnet, &worker_dir, port, dir.path().join("worker-1.log"));
    let info = worker
        .wait_info("registered with a score", |i| {
            i["registered"] == true && i["initialScore"].is_u64()
        })
        .await;
    assert_eq!(info["tee"], "simulated");
    assert_eq!(info["simulated"], true);
    let pubkey = pubkey_of(&info);
    let on_chain = worker_on_chain(&client, &pubkey).await.unwrap();
    assert_eq!(on_chain.tee, phala_attestation::TeeKind::Simulated);
    let score = on_chain.initial_score.unwrap();
    assert!(score > 0 && score <= 6000, "score {score}");
    assert_eq!(info["initialScore"], score);
    assert!(worker.log().contains("SIMULATED TEE"), "no warning printed");
    let health = worker.get("/health").await.unwrap();
    assert_eq!(health.trim(), "ok");
    let metrics = worker.get("/metrics").await.unwrap();
    assert!(metrics.contains("phala_worker_synced_height"));
    let attestation: serde_json::Value =
        serde_json::from_str(&worker.get("/attestation").await.unwrap()).unwrap();
    assert!(
        attestation["quote"]
            .as_str()
            .unwrap()
            .starts_with(&format!("0x{}", hex::encode(b"PHALA-SIMULATED-TEE")))
    );
    let synced = info["syncedHeight"].as_u64().unwrap();

    // SIGKILL, restart: same identity, resumes from its checkpoint, does not register again.
    worker.kill();
    let worker = Worker::start(&devnet, &worker_dir, port, dir.path().join("worker-2.log"));
    let info = worker
        .wait_info("resumed and synced", |i| {
            i["registered"] == true && i["syncedHeight"].as_u64().unwrap_or(0) > synced
        })
        .await;
    assert_eq!(pubkey_of(&info), pubkey);
    assert!(
        worker.log().contains("resumed from checkpoint"),
        "log:\n{}",
        worker.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = worker.get("/metrics").await.unwrap();
    assert!(
        metrics.contains("phala_worker_registrations_submitted_total 0"),
        "{metrics}"
    );
    let after = worker_on_chain(&client, &pubkey).await.unwrap();
    assert_eq!(after.attested_at, on_chain.attested_at);
    worker.kill();

    // No file the worker or the node wrote holds the worker's secret keys in the clear.
    let secrets = sealed_secrets(&worker_dir);
    assert_eq!(
        phala_keys::Sr25519Pair::from_seed(&secrets[0])
            .unwrap()
            .public(),
        pubkey
    );
    let mut files = Vec::new();
    common::files_under(dir.path(), &mut files);
    assert!(files.len() > 3);
    for file in files {
        // The devnet still runs: a file it removed since the listing holds nothing now.
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for secret in &secrets {
            assert!(
                !bytes.windows(32).any(|w| w == secret),
                "{} holds a worker secret in the clear",
                file.display()
            );
            let hex = hex::encode(secret);
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&hex),
                "{} holds a worker secret as hex",
                file.display()
            );
        }
    }
    drop(devnet);
}

/// A worker whose node went away logged nothing and never followed it again (its connection
/// was dead for good): it now says what it waits for, every few seconds, and carries on from
/// where it was once the node is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_waits_for_its_node_and_follows_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let (rpc, p2p) = (common::free_port(), common::free_port());
    let start = move || {
        let chain = chain.clone();
        tokio::task::spawn_blocking(move || common::Devnet::start_on(&chain, rpc, p2p))
    };
    let devnet = start().await.unwrap();
    let worker = Worker::start(
        &devnet,
        &dir.path().join("worker"),
        common::free_port(),
        dir.path().join("worker.log"),
    );
    let before = worker
        .wait_info("registered", |i| i["registered"] == true)
        .await;
    let height = before["syncedHeight"].as_u64().unwrap();
    tokio::task::spawn_blocking(move || devnet.kill())
        .await
        .unwrap();
    // Gone for a while: the worker says so, and keeps saying so.
    let gone = Instant::now();
    while worker.log().matches("cannot reach node").count() < 3 {
        assert!(
            gone.elapsed() < Duration::from_secs(30),
            "the worker said nothing while its node was gone:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(worker.log().contains("lost node"), "{}", worker.log());
    let _devnet = start().await.unwrap();
    worker
        .wait_info("following the node again", |i| {
            i["syncedHeight"].as_u64().is_some_and(|h| h > height + 2)
        })
        .await;
    assert!(
        worker.log().contains("reconnected to node"),
        "{}",
        worker.log()
    );
}

/// The identity seed and ECDH secret sealed in a simulated worker's base path (its sealed
/// state starts with them).
fn sealed_secrets(base: &Path) -> [[u8; 32]; 2] {
    let platform = phala_tee::simulated::Simulated::open(base).unwrap();
    let sealer = phala_tee::seal::Sealer::new(&platform).unwrap();
    let sealed = std::fs::read(base.join(phala_worker::checkpoint::CHECKPOINT_FILE)).unwrap();
    let plain = sealer
        .unseal(phala_worker::checkpoint::PURPOSE, &sealed)
        .unwrap();
    [
        plain[..32].try_into().unwrap(),
        plain[32..64].try_into().unwrap(),
    ]
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Blocks `from..=to` of the devnet as the relayer would hand them to the core.
async fn batch(
    client: &phala_client::Client,
    keys: &[Vec<u8>],
    from: u32,
    to: u32,
) -> phala_worker::core::SyncBatch {
    let mut blocks = Vec::new();
    let mut last = None;
    for n in from..=to {
        let hash = client.block_hash(n).await.unwrap().unwrap();
        let header = client.header(hash).await.unwrap().unwrap();
        let proof = client.read_proof(keys, hash).await.unwrap();
        blocks.push(phala_worker::core::SyncBlock { header, proof });
        last = Some(hash);
    }
    let certificate = client.finality_proof(last.unwrap()).await.unwrap().unwrap();
    phala_worker::core::SyncBatch {
        blocks,
        certificate,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_core_refuses_forged_headers_certificates_and_proofs() {
    use phala_worker::core::{CoreError, WorkerCore};
    let dir = tempfile::tempdir().unwrap();
    let devnet = tokio::task::spawn_blocking({
        let chain_dir = dir.path().join("chain");
        move || common::Devnet::start(&chain_dir)
    })
    .await
    .unwrap();
    common::wait_for_block(&devnet.http(), 4).await;
    let client = phala_client::Client::connect(&devnet.ws_url())
        .await
        .unwrap();
    let genesis = client.header(client.genesis_hash()).await.unwrap().unwrap();
    let platform = phala_tee::simulated::Simulated::open(dir.path()).unwrap();
    let keys = phala_worker::keys::WorkerKeys::generate(&platform).unwrap();
    let mut core = WorkerCore::new(
        keys,
        phala_light_client::LightClient::from_genesis(&genesis).unwrap(),
    );
    let proof_keys = core.proof_keys().to_vec();
    let good = batch(&client, &proof_keys, 1, 4).await;
    let mut rng = commonware_utils::test_rng();
    let before = core.state().clone();

    // A header whose state root was swapped: its hash no longer matches the certificate.
    let mut forged_header = good.clone();
    forged_header.blocks[3].header.state_root = phala_primitives::H256([7; 32]);
    let err = core.import(&mut rng, &forged_header, now_ms()).unwrap_err();
    assert!(matches!(err, CoreError::Header(_)), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // A certificate with a flipped bit.
    let mut forged_cert = good.clone();
    let at = forged_cert.certificate.len() - 10;
    forged_cert.certificate[at] ^= 1;
    let err = core.import(&mut rng, &forged_cert, now_ms()).unwrap_err();
    assert!(matches!(err, CoreError::Header(_)), "{err}");

    // A state proof that is not of this block's state (block 1's proof for block 2), and
    // one with a tampered node.
    let mut wrong_proof = good.clone();
    wrong_proof.blocks[1].proof = good.blocks[0].proof.clone();
    let mut tampered_proof = good.clone();
    for node in &mut tampered_proof.blocks[2].proof {
        if let Some(b) = node.last_mut() {
            *b ^= 1;
        }
    }
    for forged in [wrong_proof, tampered_proof] {
        let err = core.import(&mut rng, &forged, now_ms()).unwrap_err();
        assert!(matches!(err, CoreError::Proof { .. }), "{err}");
        assert!(err.to_string().contains("state proof"), "{err}");
    }

    // Nothing changed; the genuine batch is accepted.
    assert_eq!(core.state(), &before);
    assert_eq!(core.head().0, 0);
    core.import(&mut rng, &good, now_ms()).unwrap();
    assert_eq!(core.head().0, 4);
    drop(devnet);
}

#[tokio::test(flavor = "multi_thread")]
async fn devnet_workers_register_and_benchmark_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = tokio::task::spawn_blocking({
        let base = dir.path().to_path_buf();
        move || {
            common::Devnet::start_with(
                &base,
                common::free_port(),
                common::free_port(),
                &["--workers", "2", "--worker-port", "0"],
            )
        }
    })
    .await
    .unwrap();
    let client = devnet.http();
    let prefix = phala_primitives::storage::prefix("Registry", "Workers");
    let start = Instant::now();
    loop {
        let keys: Vec<String> = client
            .request("state_getKeys", rpc_params![common::hex(&prefix)])
            .await
            .unwrap();
        let mut scored = 0;
        for key in &keys {
            let value: Option<String> = client
                .request("state_getStorage", rpc_params![key])
                .await
                .unwrap();
            let bytes = phala_primitives::crypto::decode_hex(&value.unwrap()).unwrap();
            let w = WorkerInfo::decode(&mut bytes.as_slice()).unwrap();
            assert_eq!(w.tee, phala_attestation::TeeKind::Simulated);
            if w.initial_score.is_some() {
                scored += 1;
            }
        }
        // The two workers and Alice's gatekeeper.
        if keys.len() == 3 && scored == 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{} workers registered, {scored} scored",
            keys.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The CLI lists them, marked as simulated.
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["workers", "--url", &devnet.ws_url()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("SIMULATED (no hardware protection)").count(),
        3,
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["workers", "--json", "--url", &devnet.ws_url()])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|w| w["simulated"] == true)
    );
    drop(devnet);
}

/// `phala chain-spec` for one validator with these extra arguments, edited by `edit`.
fn one_validator_spec(
    dir: &Path,
    extra: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let spec = dir.join("spec.json");
    let status = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args([
            "chain-spec",
            "--dev",
            "--validators",
            "1",
            "--p2p-base-port",
        ])
        .arg(common::free_port().to_string())
        .args(extra)
        .arg("--out")
        .arg(&spec)
        .status()
        .unwrap();
    assert!(status.success());
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(&spec, json.to_string()).unwrap();
    spec
}

/// A `phala node` process validating as //Alice; killed when dropped.
struct Node(Child);

impl Node {
    fn start(spec: &Path, base: &Path, rpc: u16, extra: &[&str]) -> Node {
        Node(
            Command::new(env!("CARGO_BIN_EXE_phala"))
                .args(["node", "--chain"])
                .arg(spec)
                .args(["--validator", "//Alice", "--base-path"])
                .arg(base)
                .args(["--rpc-port", &rpc.to_string(), "--prometheus-port", "0"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_starts_from_a_trusted_checkpoint_on_a_pruning_node() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_validator_spec(
        dir.path(),
        &["--block-time-ms", "100", "--epoch-length", "10"],
        |_| {},
    );
    let rpc = common::free_port();
    let node = Node::start(
        &spec,
        &dir.path().join("alice"),
        rpc,
        &["--state-pruning", "32"],
    );
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://127.0.0.1:{rpc}"))
        .unwrap();
    let start = Instant::now();
    while common::finalized_number(&client).await.unwrap_or(0) < 60 {
        assert!(start.elapsed() < Duration::from_secs(90), "node too slow");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Block 49 ends epoch 4; the states before ~#28 are already pruned.
    let checkpoint: String = client
        .request("chain_getBlockHash", rpc_params![49])
        .await
        .unwrap();
    let not_boundary: String = client
        .request("chain_getBlockHash", rpc_params![48])
        .await
        .unwrap();
    let url = format!("ws://127.0.0.1:{rpc}");

    // A block that does not end an epoch is refused as a checkpoint, with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["worker", "--node", &url, "--base-path"])
        .arg(dir.path().join("refused"))
        .args(["--operator", "//Bob", "--listen"])
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .args(["--trusted-checkpoint", &not_boundary])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not end an epoch"), "{stderr}");
    // A hash the chain does not have is no checkpoint either.
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["worker", "--node", &url, "--base-path"])
        .arg(dir.path().join("refused"))
        .args(["--operator", "//Bob", "--listen"])
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .args(["--trusted-checkpoint", &format!("0x{}", "77".repeat(32))])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no block"), "{stderr}");

    let port = common::free_port();
    let worker = Worker::start_with(
        &url,
        &dir.path().join("worker"),
        port,
        dir.path().join("worker.log"),
        &["--trusted-checkpoint", &checkpoint],
    );
    let info = worker
        .wait_info("registered and scored from the checkpoint", |i| {
            i["registered"] == true
                && i["initialScore"].is_u64()
                && i["syncedHeight"].as_u64().unwrap_or(0) >= 60
        })
        .await;
    assert_eq!(info["simulated"], true);
    assert!(
        worker.log().contains("from checkpoint #49")
            && worker.log().contains("certified from genesis"),
        "{}",
        worker.log()
    );
    drop(node);
}

/// Copies `from` to `to` recursively.
fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The attack: an operator copies its gatekeeper's base path and starts the copy against a
/// chain of its own, whole or with the checkpoint removed, to have the TEE act on key events
/// it forges (and hand the master key to a key it owns). The keys must never come up on
/// another chain.
#[tokio::test(flavor = "multi_thread")]
async fn a_gatekeepers_sealed_keys_never_come_up_on_another_chain() {
    let dir = tempfile::tempdir().unwrap();
    let gatekeeper_port = common::free_port();
    let a = tokio::task::spawn_blocking({
        let base = dir.path().join("a");
        move || {
            common::Devnet::start_with(
                &base,
                common::free_port(),
                common::free_port(),
                &["--gatekeeper-port", &gatekeeper_port.to_string()],
            )
        }
    })
    .await
    .unwrap();
    // The real gatekeeper holds the master key.
    let start = Instant::now();
    let gatekeeper = loop {
        let info = common::http(gatekeeper_port, "GET", "/info", &[])
            .await
            .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok());
        if let Some(info) = info
            && info["masterKeyVersion"] == 0
        {
            break pubkey_of(&info);
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no master key:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let a_genesis = phala_client::Client::connect(&a.ws_url())
        .await
        .unwrap()
        .genesis_hash();
    a.kill();
    let original = dir.path().join("a").join("alice").join("gatekeeper");

    // The attacker's chain: another devnet (its genesis differs).
    let b = devnet_in(&dir.path().join("b")).await;
    let b_client = phala_client::Client::connect(&b.ws_url()).await.unwrap();
    assert_ne!(b_client.genesis_hash(), a_genesis);
    common::wait_for_block(&b.http(), 4).await;
    let b_boundary = format!("{}", b_client.block_hash(3).await.unwrap().unwrap());

    // The whole base path, with or without a checkpoint of the other chain: refused, with
    // the reason, before anything is served or signed.
    for extra in [&[][..], &["--trusted-checkpoint", b_boundary.as_str()][..]] {
        let stolen = dir.path().join(format!("stolen-{}", extra.len()));
        copy_dir(&original, &stolen);
        let out = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["worker", "--node", &b.ws_url(), "--base-path"])
            .arg(&stolen)
            .args(extra)
            .args(["--operator", "//Bob", "--tee", "simulated", "--listen"])
            .arg(format!("127.0.0.1:{}", common::free_port()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("keys belong to chain {a_genesis}")),
            "{stderr}"
        );
    }

    // The checkpoint removed, whatever it is called: the keys go with it. The copy starts as
    // a new worker with a new identity, holding no master key.
    let stolen = dir.path().join("stolen-bare");
    copy_dir(&original, &stolen);
    for file in [
        "checkpoint.sealed",
        phala_worker::checkpoint::CHECKPOINT_FILE,
    ] {
        let _ = std::fs::remove_file(stolen.join(file));
    }
    let port = common::free_port();
    let worker = Worker::start(&b, &stolen, port, dir.path().join("stolen.log"));
    let info = worker
        .wait_info("started", |i| {
            i["pubkey"].is_string() && i["syncedHeight"].as_u64().unwrap_or(0) > 0
        })
        .await;
    assert_ne!(
        pubkey_of(&info),
        gatekeeper,
        "the copy runs with the gatekeeper's keys"
    );
    assert_eq!(info["gatekeeper"], false);
    assert_eq!(info["masterKeyVersions"], 0);
    drop(worker);
    drop(b);
}

/// Attestations expire: a worker re-attests on its own before its attestation runs out, so
/// the chain never stops taking its messages.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_re_attests_before_its_attestation_expires() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_validator_spec(dir.path(), &["--block-time-ms", "500"], |spec| {
        spec["registry"]["attestationValidity"] = serde_json::json!(80);
    });
    let rpc = common::free_port();
    let _node = Node::start(
        &spec,
        &dir.path().join("alice"),
        rpc,
        &["--state-pruning", "archive"],
    );
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(format!("http://127.0.0.1:{rpc}"))
        .unwrap();
    let worker = Worker::start_with(
        &format!("ws://127.0.0.1:{rpc}"),
        &dir.path().join("worker"),
        common::free_port(),
        dir.path().join("worker.log"),
        &[],
    );
    let info = worker
        .wait_info("registered", |i| i["registered"] == true)
        .await;
    let pubkey = pubkey_of(&info);
    let first = worker_on_chain(&client, &pubkey).await.unwrap();
    assert_eq!(first.expires_at, first.attested_at + 80);
    assert_eq!(info["attestationExpiresAt"], first.expires_at);
    // Past the first attestation's end, the chain holds a fresh one.
    let start = Instant::now();
    let refreshed = loop {
        let now = worker_on_chain(&client, &pubkey).await.unwrap();
        if now.attested_at > first.attested_at {
            break now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no re-attestation; log:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        refreshed.attested_at <= first.expires_at,
        "re-attested too late"
    );
    assert_eq!(refreshed.registered_at, first.registered_at);
    assert_eq!(worker.get("/health").await.unwrap().trim(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_without_simulation_refuses_the_worker_and_the_worker_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_validator_spec(dir.path(), &["--block-time-ms", "200"], |json| {
        json["registry"]["allowSimulatedTee"] = serde_json::Value::Bool(false);
    });
    let rpc = common::free_port();
    let node = Node::start(&spec, &dir.path().join("alice"), rpc, &[]);
    let port = common::free_port();
    let worker = Worker::start_with(
        &format!("ws://127.0.0.1:{rpc}"),
        &dir.path().join("worker"),
        port,
        dir.path().join("worker.log"),
        &[],
    );
    let start = Instant::now();
    loop {
        let health = worker.get("/health").await.unwrap_or_default();
        if health.contains("SimulatedTeeNotAllowed") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "health {health:?}\nlog:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(worker.log().contains("the chain refused the registration"));
    assert_eq!(worker.info().await.unwrap()["registered"], false);
    drop(node);
}

/// Runs `phala <args> --url URL`; its stdout, or a panic with its output.
fn phala(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(args)
        .args(["--url", url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "phala {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A cluster of two workers, one of them SIGKILLed: the chain reassigns the dead member's
/// commands to the live one after `REPORT_TIMEOUT` blocks, which reports them from the
/// report it made when it ran them, so calls still complete.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_members_commands_are_reported_by_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet_in(&dir.path().join("chain")).await;
    let url = devnet.ws_url();
    let (p1, p2) = (common::free_port(), common::free_port());
    let w1 = Worker::start_as(
        "//Charlie",
        &url,
        &dir.path().join("w1"),
        p1,
        dir.path().join("w1.log"),
        &[],
    );
    let w2 = Worker::start_as(
        "//Dave",
        &url,
        &dir.path().join("w2"),
        p2,
        dir.path().join("w2.log"),
        &[],
    );
    let registered = |i: &serde_json::Value| i["registered"] == true && i["initialScore"].is_u64();
    let k1 = pubkey_of(&w1.wait_info("registered", registered).await);
    let k2 = pubkey_of(&w2.wait_info("registered", registered).await);
    let members = format!("0x{},0x{}", hex::encode(k1), hex::encode(k2));
    phala(
        &url,
        &[
            "cluster",
            "create",
            "--workers",
            &members,
            "--suri",
            "//Alice",
        ],
    );
    for w in [&w1, &w2] {
        w.wait_info("the cluster key", |i| i["clusterPubkey"].is_string())
            .await;
    }

    // Command 0 (the instantiation) is the first member's to report; command 1 the second's.
    let flipper = phala_vm::contract_fixtures_dir().join("ink4_flipper.contract.json");
    let flipper = flipper.to_str().unwrap();
    let made: serde_json::Value = serde_json::from_str(&phala(
        &url,
        &[
            "contract",
            "instantiate",
            flipper,
            "--suri",
            "//Alice",
            "--args",
            "false",
            "--json",
        ],
    ))
    .unwrap();
    let contract = made["contract"].as_str().unwrap().to_string();
    w1.wait_info("the contract", |i| i["contractCommandsRun"] == 1)
        .await;
    w2.kill();
    let flipped: serde_json::Value = serde_json::from_str(&phala(
        &url,
        &[
            "contract",
            "call",
            flipper,
            "--contract",
            &contract,
            "--message",
            "flip",
            "--suri",
            "//Alice",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(flipped["command"], 1, "{flipped:#}");
    assert_eq!(flipped["status"], "Success", "{flipped:#}");
    assert!(
        w1.log().contains("command 1 reassigned here"),
        "{}",
        w1.log()
    );
    let got = phala(
        &url,
        &[
            "contract",
            "query",
            flipper,
            "--contract",
            &contract,
            "--message",
            "get",
            "--worker",
            &format!("http://127.0.0.1:{p1}"),
        ],
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&got).unwrap(),
        serde_json::json!({"Ok": true})
    );
    drop(devnet);
}
