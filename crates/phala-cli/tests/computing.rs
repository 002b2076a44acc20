//! The computation economy end to end, on a real `phala devnet --workers 1 --computing`
//! (one validator with its gatekeeper, one worker its devnet puts to work) and a second
//! worker run as its own `phala worker` process, driven with the `phala pool` commands as
//! a user types them: both workers answer challenges and their pools' share prices rise, a
//! delegator contributes and withdraws with profit, the treasury gets a fifth of every
//! payout, and a SIGKILLed worker becomes unresponsive, decays, then recovers and is paid
//! again once restarted.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use phala_client::Client;
use phala_client::computing::share_price;
use phala_keys::Sr25519Pair;
use phala_runtime::RuntimeEvent;
use phala_runtime::modules::computation::{self, WorkerState};

struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(args: &[String], log: &Path) -> Proc {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("cannot start phala");
        Proc {
            child,
            log: log.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn account(uri: &str) -> phala_client::primitives::AccountId32 {
    Sr25519Pair::from_uri(uri).unwrap().account_id()
}

/// Runs `phala <args> --url <url>`; its stdout, or its error text.
fn phala(url: &str, args: &[&str]) -> Result<String, String> {
    common::phala_at(url, args)
}

/// Polls `check` (bounded) until it returns `Some`.
async fn until<T, F, Fut>(what: &str, secs: u64, logs: &[&Proc], mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let tails: Vec<String> = logs.iter().map(|p| tail(&p.log())).collect();
            panic!("{what}: not within {secs} s\n{}", tails.join("\n-----\n"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn session(client: &Client, worker: &[u8; 32]) -> Option<computation::Session> {
    client.session(worker).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_earn_delegators_profit_and_a_killed_worker_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let rpc = common::free_port();
    let url = format!("ws://127.0.0.1:{rpc}");
    let devnet = Proc::spawn(
        &[
            "devnet".into(),
            "--workers".into(),
            "1".into(),
            "--computing".into(),
            "--worker-port".into(),
            "0".into(),
            "--rpc-port".into(),
            rpc.to_string(),
            "--prometheus-port".into(),
            common::free_port().to_string(),
            "--p2p-port".into(),
            common::free_port().to_string(),
        ],
        &dir.path().join("devnet.log"),
    );
    let client = until("the devnet's RPC", 120, &[&devnet], || async {
        Client::connect(&url).await.ok()
    })
    .await;

    // Bob's worker, a process of its own, in a pool of his.
    let worker_log = dir.path().join("worker.log");
    let worker_port = common::free_port();
    let worker_args: Vec<String> = [
        "worker",
        "--node",
        &url,
        "--operator",
        "//Bob",
        "--listen",
        &format!("127.0.0.1:{worker_port}"),
        "--base-path",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.path().join("bob-worker").display().to_string()])
    .collect();
    let mut bob_worker = Proc::spawn(&worker_args, &worker_log);
    let api =
        phala_client::worker::WorkerApi::new(&format!("http://127.0.0.1:{worker_port}")).unwrap();
    let bob_key: [u8; 32] = until(
        "Bob's worker benchmarked",
        180,
        &[&devnet, &bob_worker],
        || async {
            let key = api.claimed_identity().await.ok()?;
            client.worker(&key).await.ok()??.initial_score?;
            Some(key)
        },
    )
    .await;
    let bob_hex = format!("0x{}", hex::encode(bob_key));
    phala(
        &url,
        &["pool", "create", "--commission", "5", "--suri", "//Bob"],
    )
    .unwrap();
    let bob_pid = client
        .pools()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.pool.owner == account("//Bob"))
        .unwrap()
        .pid
        .to_string();
    // Only its operator adds a worker; the CLI says so before paying a fee.
    let refused = phala(
        &url,
        &[
            "pool",
            "add-worker",
            &bob_pid,
            &bob_hex,
            "--suri",
            "//Charlie",
        ],
    )
    .unwrap_err();
    assert!(
        refused.contains("belongs to") || refused.contains("operated by"),
        "{refused}"
    );
    phala(
        &url,
        &["pool", "add-worker", &bob_pid, &bob_hex, "--suri", "//Bob"],
    )
    .unwrap();
    phala(
        &url,
        &["pool", "contribute", &bob_pid, "20000", "--suri", "//Bob"],
    )
    .unwrap();
    let low = phala(
        &url,
        &["pool", "start", &bob_pid, &bob_hex, "1", "--suri", "//Bob"],
    )
    .unwrap_err();
    assert!(low.contains("needs a stake of at least"), "{low}");
    phala(
        &url,
        &["pool", "start", &bob_pid, &bob_hex, "--suri", "//Bob"],
    )
    .unwrap();
    // A rise of the commission waits out the withdrawal grace, and `phala pools` says so.
    phala(
        &url,
        &["pool", "set-commission", &bob_pid, "50", "--suri", "//Bob"],
    )
    .unwrap();
    let listed = phala(&url, &["pools"]).unwrap();
    assert!(
        listed.contains("commission 5% (rising to 50% at #"),
        "{listed}"
    );

    // The devnet's own worker is computing in //Alice's pool.
    let alice_pool = until("Alice's pool", 180, &[&devnet], || async {
        let pools = client.pools().await.ok()?;
        pools
            .into_iter()
            .find(|p| p.pool.owner == account("//Alice") && p.pool.staked > 0)
    })
    .await;
    let alice_worker = alice_pool.pool.workers[0];

    // Both answer challenges and both pools' share prices rise.
    for (worker, pid) in [
        (alice_worker, alice_pool.pid),
        (bob_key, bob_pid.parse().unwrap()),
    ] {
        until("a paid heartbeat", 120, &[&devnet, &bob_worker], || async {
            let s = session(&client, &worker).await?;
            let pool = client.pool(pid, None).await.ok()??;
            (s.heartbeats > 0 && s.total_reward > 0 && share_price(&pool)? > 1.0).then_some(())
        })
        .await;
    }

    // Charlie delegates to Alice's pool, waits for rewards, and leaves with profit.
    let charlie = account("//Charlie");
    let before = client.free_balance(&charlie).await.unwrap();
    let pid = alice_pool.pid.to_string();
    phala(
        &url,
        &["pool", "contribute", &pid, "1000", "--suri", "//Charlie"],
    )
    .unwrap();
    let paid_before = session(&client, &alice_worker).await.unwrap().total_reward;
    until(
        "another reward to Alice's pool",
        120,
        &[&devnet],
        || async {
            (session(&client, &alice_worker).await?.total_reward > paid_before).then_some(())
        },
    )
    .await;
    phala(
        &url,
        &["pool", "withdraw", &pid, "--all", "--suri", "//Charlie"],
    )
    .unwrap();
    let after = client.free_balance(&charlie).await.unwrap();
    assert!(after > before, "Charlie got {after} back for {before}");
    assert_eq!(
        client.pool_shares(alice_pool.pid, &charlie).await.unwrap(),
        0
    );

    // Every payout of the last blocks gave the treasury a fifth (rounded down).
    let (head, _) = client.finalized_head().await.unwrap();
    let mut rewards = 0;
    for n in head.saturating_sub(40)..=head {
        let hash = client.block_hash(n).await.unwrap().unwrap();
        for record in client.events_at(hash).await.unwrap() {
            if let RuntimeEvent::Computation(computation::Event::WorkerRewarded {
                pool,
                treasury,
                ..
            }) = record.event
            {
                let whole = pool + treasury;
                assert_eq!(treasury, whole / 5, "{pool} + {treasury}");
                rewards += 1;
            }
        }
    }
    assert!(rewards > 0, "no payout in the last 40 blocks");

    // Alice sells every share of her pool: what its free stake pays comes at once, the
    // rest is queued behind her worker's stake. She stops the worker; its cooldown runs
    // while Bob's worker is killed and recovers below.
    let alice = account("//Alice");
    let alice_hex = format!("0x{}", hex::encode(alice_worker));
    phala(
        &url,
        &["pool", "withdraw", &pid, "--all", "--suri", "//Alice"],
    )
    .unwrap();
    let queued = client.pool(alice_pool.pid, None).await.unwrap().unwrap();
    assert_eq!(queued.withdraw_queue.len(), 1, "{queued:?}");
    assert!(client.pool_shares(alice_pool.pid, &alice).await.unwrap() > 0);
    let early = phala(
        &url,
        &["pool", "reclaim", &pid, &alice_hex, "--suri", "//Alice"],
    )
    .unwrap_err();
    assert!(early.contains("not cooling down"), "{early}");
    phala(
        &url,
        &["pool", "stop", &pid, &alice_hex, "--suri", "//Alice"],
    )
    .unwrap();

    // SIGKILL Bob's worker: its challenge goes unanswered, it turns Unresponsive and its V
    // decays; restarted from its sealed state, it answers again and is paid.
    let _ = bob_worker.child.kill();
    let _ = bob_worker.child.wait();
    let v_alive = until("Bob's worker unresponsive", 180, &[&devnet], || async {
        let s = session(&client, &bob_key).await?;
        (s.state == WorkerState::Unresponsive).then_some(s.v)
    })
    .await;
    let rewarded = session(&client, &bob_key).await.unwrap().total_reward;
    bob_worker = Proc::spawn(&worker_args, &worker_log);
    let recovered = until(
        "Bob's worker recovered and paid again",
        180,
        &[&devnet, &bob_worker],
        || async {
            let s = session(&client, &bob_key).await?;
            (s.state == WorkerState::Idle && s.total_reward > rewarded).then_some(s)
        },
    )
    .await;
    // Paid with the value it decayed to while unresponsive.
    assert!(
        recovered.v < v_alive,
        "V went from {v_alive} to {}",
        recovered.v
    );
    assert!(recovered.missed >= 1);

    // Alice's cooldown is over by now (a minute on a devnet); anyone may reclaim, and the
    // stake that comes back pays her queued withdrawal.
    until("Alice's worker reclaimed", 120, &[&devnet], || async {
        phala(
            &url,
            &["pool", "reclaim", &pid, &alice_hex, "--suri", "//Charlie"],
        )
        .ok()
    })
    .await;
    let paid = client.pool(alice_pool.pid, None).await.unwrap().unwrap();
    assert!(paid.withdraw_queue.is_empty(), "{paid:?}");
    assert_eq!(client.pool_shares(alice_pool.pid, &alice).await.unwrap(), 0);
    drop(bob_worker);
    drop(devnet);
}
