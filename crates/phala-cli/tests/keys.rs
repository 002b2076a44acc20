//! Key management end to end, on a real `phala devnet` with three gatekeeper validators and
//! three workers: the master key is made by the first gatekeeper, handed to the others,
//! rotated, and kept across a SIGKILL; a cluster key reaches its two workers only; signed
//! and anonymous queries get signed answers; and no secret or query plaintext appears in any
//! file, log or chain state.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use parity_scale_codec::{Decode, Encode};
use phala_client::Client;
use phala_client::crypto::query::{Answer, QueryBody, SignedQuery, SignedReply, WORKER_ITSELF};
use phala_client::crypto::{EcdhSecret, Envelope, Purpose};
use phala_client::worker::{QueryAs, WorkerApi, certify_session};
use phala_keys::Sr25519Pair;

const QUERY_PLAINTEXT: &[u8] = b"PLAINTEXT-QUERY-MUST-NEVER-BE-STORED-7f3a";

struct Net {
    child: Option<Child>,
    base: PathBuf,
    log: PathBuf,
    rpc: u16,
    p2p: u16,
    /// API ports of the gatekeepers (Alice, Bob, Charlie) and the workers, as printed.
    gatekeepers: Vec<u16>,
    workers: Vec<u16>,
}

impl Net {
    fn start(dir: &Path) -> Net {
        let mut net = Net {
            child: None,
            base: dir.join("chain"),
            log: dir.join("devnet.log"),
            rpc: common::free_port(),
            p2p: common::free_port(),
            gatekeepers: Vec::new(),
            workers: Vec::new(),
        };
        net.spawn();
        net
    }

    /// Reads the API ports the devnet printed (free ports it chose), once all are there.
    async fn read_ports(&mut self) {
        let port_of = |line: &str| -> Option<u16> {
            let rest = line.split("http://127.0.0.1:").nth(1)?;
            rest.split('/').next()?.parse().ok()
        };
        let start = Instant::now();
        loop {
            // This run's lines only: the log spans restarts.
            let whole = self.log();
            let log = whole
                .rfind("phala devnet: ")
                .and_then(|at| whole.get(at..))
                .unwrap_or_default()
                .to_string();
            let gatekeepers: Vec<u16> = ["Alice", "Bob", "Charlie"]
                .iter()
                .filter_map(|n| {
                    log.lines()
                        .rev()
                        .find(|l| l.starts_with(&format!("  gatekeeper {n} ")))
                        .and_then(port_of)
                })
                .collect();
            let workers: Vec<u16> = (1..=3)
                .filter_map(|i| {
                    log.lines()
                        .rev()
                        .find(|l| l.starts_with(&format!("  worker-{i} ")))
                        .and_then(port_of)
                })
                .collect();
            if gatekeepers.len() == 3 && workers.len() == 3 {
                self.gatekeepers = gatekeepers;
                self.workers = workers;
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "the devnet printed its APIs within 90 s; log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args([
                "devnet",
                "--validators",
                "3",
                "--workers",
                "3",
                // This test makes its own cluster of two of them.
                "--no-cluster",
                "--base-path",
            ])
            .arg(&self.base)
            .args(["--rpc-port", &self.rpc.to_string()])
            .args(["--prometheus-port", &common::free_port().to_string()])
            .args(["--p2p-port", &self.p2p.to_string()])
            .args(["--worker-port", "0"])
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start phala devnet");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.rpc)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(args)
            .args(["--url", &self.url()])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "phala {args:?} failed: {text}");
        text
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn info(port: u16) -> Option<serde_json::Value> {
    let (_, body) = common::http(port, "GET", "/info", &[]).await?;
    serde_json::from_slice(&body).ok()
}

/// Polls `check` every 250 ms until it returns `Some`, for at most `secs`.
async fn wait<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    secs: u64,
    log: impl Fn() -> String,
    mut check: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what} within {secs} s; devnet log tail:\n{}",
            log().lines().rev().take(40).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn connect(url: &str) -> Client {
    let start = Instant::now();
    loop {
        if let Ok(c) = Client::connect(url).await
            && c.finalized_head().await.is_ok_and(|(n, _)| n >= 1)
        {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "devnet RPC within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn hex32(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Every gatekeeper's (version, master pubkey, versions held), once all three answer.
async fn gatekeeper_views(net: &Net) -> Option<Vec<(u64, String, u64)>> {
    let mut out = Vec::new();
    for port in &net.gatekeepers {
        let info = info(*port).await?;
        out.push((
            info["masterKeyVersion"].as_u64()?,
            hex32(&info["masterPubkey"])?,
            info["masterKeyVersions"].as_u64()?,
        ));
    }
    Some(out)
}

/// Waits until all three gatekeepers hold master key `version`, the chain's current one.
async fn all_agree(net: &Net, client: &Client, version: u32) -> String {
    wait(
        &format!("all gatekeepers hold master key {version}"),
        120,
        || net.log(),
        || async {
            let history = client.master_key_history().await.ok()?;
            let current = history.last().filter(|r| r.version == version)?;
            let chain = format!("0x{}", hex::encode(current.pubkey));
            let views = gatekeeper_views(net).await?;
            views
                .iter()
                .all(|(v, k, n)| {
                    *v == u64::from(version) && *k == chain && *n == u64::from(version) + 1
                })
                .then_some(chain)
        },
    )
    .await
}

/// The secrets sealed in a worker's checkpoint: master keys (and their ECDH halves), the
/// cluster key and a contract key derived from it. (Query keys never reach the disk.)
fn sealed_secrets(worker_dir: &Path) -> Vec<[u8; 32]> {
    use phala_client::crypto::keys::KeyPair;
    let platform = phala_tee::simulated::Simulated::open(worker_dir).unwrap();
    let sealer = phala_tee::seal::Sealer::new(&platform).unwrap();
    let (_, state) = phala_worker::checkpoint::load(&sealer, worker_dir)
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let mut add = |seed: &phala_client::crypto::keys::Seed| {
        out.push(*seed.expose());
        out.push(*KeyPair::new(seed.clone()).ecdh().to_bytes());
    };
    for seed in state.master.iter().flat_map(|m| m.versions.values()) {
        add(seed);
        // Every cluster key derives from a master key: any cluster's would do.
    }
    if let Some(c) = &state.cluster_key {
        add(&c.seed);
        add(&c.seed.contract_key(&phala_primitives::H256([1; 32])));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn gatekeepers_share_rotate_and_keep_the_master_key_and_clusters_get_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path());
    let client = connect(&net.url()).await;
    net.read_ports().await;

    // The first gatekeeper makes the master key; the second and third receive it.
    let v0 = all_agree(&net, &client, 0).await;
    assert_eq!(client.gatekeepers().await.unwrap().len(), 3);
    assert!(net.log().contains("generated the master key"));
    // One process, many parts: each line says which one wrote it.
    let log = net.log();
    for tag in [
        "Alice     | ",
        "Charlie   | ",
        "worker-3  | ",
        "gk-Bob    | ",
    ] {
        assert!(
            log.lines().any(|l| l.starts_with(tag)),
            "no line tagged {tag:?}:\n{log}"
        );
    }
    assert!(
        log.lines()
            .filter(|l| l.contains("generated the master key"))
            .all(|l| l.starts_with("gk-")),
        "{log}"
    );

    // A candidate stands with a consensus key it proves it holds (its bond is too small to
    // be elected into this committee), then stands down.
    net.cli(&["validator", "bond", "1000", "--suri", "//Eve"]);
    let out = net.cli(&[
        "validator",
        "validate",
        "--suri",
        "//Eve",
        "--consensus-key",
        "//Eve",
        "--p2p-address",
        "127.0.0.1:30999",
    ]);
    assert!(out.contains("Validating"), "{out}");
    let out = net.cli(&["validator", "chill", "--suri", "//Eve"]);
    assert!(out.contains("Chilled"), "{out}");

    // Rotation: all three adopt the chain's new key and keep the old one.
    let out = net.cli(&["gatekeeper", "rotate", "--suri", "//Alice"]);
    assert!(out.contains("rotated to version 1"), "{out}");
    let v1 = all_agree(&net, &client, 1).await;
    assert_ne!(v0, v1);

    // A cluster of workers 1 and 2: both receive its key; worker 3 does not; no worker
    // ever holds a master key.
    let mut workers = Vec::new();
    for port in net.workers.clone() {
        let info = wait(
            "worker registered",
            90,
            || net.log(),
            || async move { info(port).await.filter(|i| i["registered"] == true) },
        )
        .await;
        workers.push(hex32(&info["pubkey"]).unwrap());
    }
    let out = net.cli(&[
        "cluster",
        "create",
        "--workers",
        &format!("{},{}", workers[0], workers[1]),
        "--suri",
        "//Alice",
    ]);
    assert!(out.contains("created"), "{out}");
    let cluster_key = wait(
        "the cluster key on chain",
        60,
        || net.log(),
        || async {
            let clusters = client.clusters().await.ok()?;
            clusters.first()?.1.pubkey
        },
    )
    .await;
    let cluster_key = format!("0x{}", hex::encode(cluster_key));
    for port in net.workers[..2].iter().copied() {
        let expected = cluster_key.clone();
        wait(
            "the cluster key in its workers",
            60,
            || net.log(),
            || {
                let expected = expected.clone();
                async move {
                    info(port)
                        .await
                        .filter(|i| hex32(&i["clusterPubkey"]) == Some(expected))
                }
            },
        )
        .await;
    }
    for port in &net.workers {
        let info = info(*port).await.unwrap();
        assert_eq!(info["masterKeyVersions"], 0, "a worker holds a master key");
        assert_eq!(info["gatekeeper"], false);
    }
    assert!(info(net.workers[2]).await.unwrap()["clusterPubkey"].is_null());

    // Queries to worker 1.
    let api = WorkerApi::new(&format!("http://127.0.0.1:{}", net.workers[0])).unwrap();
    let bob = Sr25519Pair::from_uri("//Bob").unwrap();
    let genesis = client.genesis_hash();
    let caller = |reply: &phala_client::worker::VerifiedReply| {
        phala_client::worker::decode_caller(reply.answer.as_ref().unwrap()).unwrap()
    };
    let anonymous = api
        .query(
            &client,
            WORKER_ITSELF,
            QUERY_PLAINTEXT.to_vec(),
            QueryAs::Anonymous,
        )
        .await
        .unwrap();
    assert_eq!(caller(&anonymous), None);
    let (finalized, _) = client.finalized_head().await.unwrap();
    assert!(anonymous.height <= finalized && anonymous.height > 0);
    assert_eq!(
        client.block_hash(anonymous.height).await.unwrap(),
        Some(anonymous.block_hash)
    );
    let signed = api
        .query(&client, WORKER_ITSELF, vec![], QueryAs::Account(&bob))
        .await
        .unwrap();
    assert_eq!(caller(&signed), Some(bob.account_id()));
    let session = Sr25519Pair::from_uri("//BobSession").unwrap();
    let valid = certify_session(&genesis, &bob, session.public(), finalized + 100);
    let expired = certify_session(&genesis, &bob, session.public(), 1);
    let impostor = Sr25519Pair::from_uri("//Mallory").unwrap();
    let by_session = |key, certificate| {
        let api = &api;
        let client = &client;
        async move {
            api.query(
                client,
                WORKER_ITSELF,
                vec![],
                QueryAs::Session { key, certificate },
            )
            .await
            .unwrap()
        }
    };
    let reply = by_session(&session, valid.clone()).await;
    assert_eq!(caller(&reply), Some(bob.account_id()));
    let reply = by_session(&session, expired).await;
    assert!(reply.answer.unwrap_err().contains("expired"));
    let reply = by_session(&impostor, valid).await;
    assert!(reply.answer.unwrap_err().contains("signature"));

    // A recorded query replayed: answered once, refused the second time (inside a signed
    // reply); a tampered envelope gets no answer.
    let (worker, certificate) = api.query_key(&client).await.unwrap();
    let query = SignedQuery {
        body: QueryBody {
            worker,
            contract: WORKER_ITSELF,
            nonce: [42; 32],
            expires_at: finalized + 100,
            payload: QUERY_PLAINTEXT.to_vec(),
        },
        signer: None,
    };
    let ephemeral = EcdhSecret::from_bytes([77; 32]);
    let envelope = Envelope::seal_with(
        &ephemeral,
        [5; 12],
        &certificate.ecdh_pubkey,
        Purpose::Query,
        Some(WORKER_ITSELF),
        &query.encode(),
    )
    .unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, body) = common::http(net.workers[0], "POST", "/query", &envelope.encode())
            .await
            .unwrap();
        assert_eq!(status, 200);
        let opened = Envelope::decode_bounded(&body)
            .unwrap()
            .open(&ephemeral)
            .unwrap();
        let reply = SignedReply::decode(&mut opened.as_slice()).unwrap();
        let verified = reply.verify(&genesis, &worker, &[42; 32]).unwrap();
        answers.push(Answer::decode(&mut verified.payload.as_slice()).unwrap());
    }
    assert!(answers[0].is_ok());
    assert!(answers[1].as_ref().unwrap_err().contains("replayed"));
    let mut tampered = envelope.clone();
    tampered.ciphertext[3] ^= 1;
    let (status, body) = common::http(net.workers[0], "POST", "/query", &tampered.encode())
        .await
        .unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = common::http(net.workers[0], "POST", "/query", b"garbage")
        .await
        .unwrap();
    assert_eq!(status, 400);

    // SIGKILL the whole network; the gatekeepers come back with their keys and still serve.
    net.kill();
    net.spawn();
    let client = connect(&net.url()).await;
    net.read_ports().await;
    assert_eq!(all_agree(&net, &client, 1).await, v1);
    assert!(net.log().contains("resumed from checkpoint"));
    let out = net.cli(&["gatekeeper", "rotate", "--suri", "//Alice"]);
    assert!(out.contains("rotated to version 2"), "{out}");
    let v2 = all_agree(&net, &client, 2).await;

    // A gatekeeper loses its sealed state: its identity goes with it (keys are never
    // resumed apart from their chain position). It comes back as a new worker, the dev
    // genesis makes it a gatekeeper again, and the others hand it the whole history.
    let charlie_before = hex32(&info(net.gatekeepers[2]).await.unwrap()["pubkey"]).unwrap();
    net.kill();
    std::fs::remove_file(
        net.base
            .join("charlie")
            .join("gatekeeper")
            .join(phala_worker::checkpoint::CHECKPOINT_FILE),
    )
    .unwrap();
    net.spawn();
    let client = connect(&net.url()).await;
    net.read_ports().await;
    assert_eq!(all_agree(&net, &client, 2).await, v2);
    let charlie_after = hex32(&info(net.gatekeepers[2]).await.unwrap()["pubkey"]).unwrap();
    assert_ne!(charlie_after, charlie_before);
    assert!(
        net.log()
            .contains("received 3 master key version(s) from a gatekeeper"),
        "no history handed over"
    );

    // Chain state, for the secrecy scan.
    let (_, head) = client.finalized_head().await.unwrap();
    let mut state = Vec::new();
    for key in client.keys_with_prefix(&[], head).await.unwrap() {
        state.extend_from_slice(&key);
        if let Some(v) = client.storage(&key, Some(head)).await.unwrap() {
            state.extend_from_slice(&v);
        }
    }
    net.kill();

    // No master, cluster, contract or query secret, and no query plaintext, anywhere: not
    // in any file the gatekeepers, workers or nodes wrote, not in the log, not on chain.
    let mut secrets = Vec::new();
    for name in ["alice", "bob", "charlie"] {
        secrets.extend(sealed_secrets(&net.base.join(name).join("gatekeeper")));
    }
    for i in 1..=3 {
        secrets.extend(sealed_secrets(&net.base.join(format!("worker-{i}"))));
    }
    assert!(
        secrets.len() >= 3 * 3 * 2 + 2 * 4,
        "{} secrets",
        secrets.len()
    );
    let mut files = Vec::new();
    common::files_under(dir.path(), &mut files);
    let mut blobs: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect();
    blobs.push(("the chain state".into(), state));
    for (what, bytes) in &blobs {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes
                .windows(QUERY_PLAINTEXT.len())
                .any(|w| w == QUERY_PLAINTEXT),
            "{what} holds a query in the clear"
        );
        for secret in &secrets {
            assert!(
                !bytes.windows(32).any(|w| w == secret),
                "{what} holds a secret key in the clear"
            );
            assert!(
                !text.contains(&hex::encode(secret)),
                "{what} holds a secret key as hex"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_runs_its_gatekeeper_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args([
            "chain-spec",
            "--dev",
            "--validators",
            "1",
            "--p2p-base-port",
        ])
        .arg(common::free_port().to_string())
        .arg("--out")
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rpc = common::free_port();
    let worker_port = common::free_port();
    let log_path = dir.path().join("node.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["node", "--chain"])
        .arg(&spec)
        .arg("--base-path")
        .arg(dir.path().join("alice"))
        .args([
            "--validator",
            "//Alice",
            "--gatekeeper",
            "--tee",
            "simulated",
        ])
        .args(["--rpc-port", &rpc.to_string(), "--prometheus-port", "0"])
        .args(["--worker-listen", &format!("127.0.0.1:{worker_port}")])
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = connect(&format!("ws://127.0.0.1:{rpc}")).await;
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // A local spec lists Alice's stash as a gatekeeper operator: no root call needed.
    wait(
        "the node's own worker holds the master key",
        90,
        read_log,
        || async {
            let history = client.master_key_history().await.ok()?;
            let chain = format!("0x{}", hex::encode(history.first()?.pubkey));
            let info = info(worker_port).await?;
            (info["gatekeeper"] == true && hex32(&info["masterPubkey"]) == Some(chain))
                .then_some(())
        },
    )
    .await;
    let gatekeepers = client.gatekeepers().await.unwrap();
    let info = info(worker_port).await.unwrap();
    assert_eq!(
        gatekeepers
            .iter()
            .map(|g| format!("0x{}", hex::encode(g)))
            .collect::<Vec<_>>(),
        vec![hex32(&info["pubkey"]).unwrap()]
    );
    let _ = node.kill();
    let _ = node.wait();
}
