//! A worker added to a running cluster by a root referendum, on a real `phala devnet
//! --workers 2` and a third `phala worker` process: the gatekeepers deliver it the key, it
//! fetches a member's sealed state (`--cluster-peer`), replays the commands since, and the
//! chain adds it to the reporting turns. It then answers queries with the members' state,
//! runs and reports new commands, and keeps all of it across a restart; removed, it erases
//! the cluster's key and state.

mod common;

use std::time::{Duration, Instant};

use common::net::{Net, example, port_of, start_worker, tail, wait_info, worker_info};
use phala_client::Client;
use phala_primitives::H256;
use serde_json::Value;

/// Signed messages the worker on `port` has submitted (its `/metrics`).
async fn submitted(port: u16) -> u64 {
    let (_, body) = common::http(port, "GET", "/metrics", &[]).await.unwrap();
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("phala_worker_messages_submitted_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The state root `info` shows for `contract`.
fn root_of(info: &Value, contract: &str) -> Option<String> {
    info["contracts"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == contract)
        .and_then(|c| c["stateRoot"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_added_by_referendum_takes_the_clusters_state_and_its_turns() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path(), 2);
    let w1 = port_of(&net.line("  worker-1 ", 90).await);
    let w2 = port_of(&net.line("  worker-2 ", 90).await);
    net.line("cluster 0x", 240).await;
    let url = net.url();
    let member = format!("http://127.0.0.1:{w1}");

    // A contract with state before the new worker exists: flipped once, to true.
    let bundle = example("flipper.contract");
    let contract = net.instantiate(&bundle, "false");
    let flip = || net.call(&bundle, &contract, "flip");
    flip();
    let get = |worker: &str| {
        net.query(&bundle, &contract, "get", worker)
            .unwrap_or_else(|e| panic!("query {worker}: {e}"))
    };

    // A third worker, in no cluster, told where a member's API is.
    let base = dir.path().join("worker-3");
    let log = base.with_extension("log");
    let port = common::free_port();
    let new_api = format!("http://127.0.0.1:{port}");
    let mut child = start_worker(&url, &base, port, &member);
    let info = wait_info(port, "registration", &log, |i| i["registered"] == true).await;
    let pubkey = info["pubkey"].as_str().unwrap().to_string();
    let cluster = worker_info(w1).await["cluster"]
        .as_str()
        .unwrap()
        .to_string();
    // Outside the cluster it refuses the contract's query.
    assert!(net.query(&bundle, &contract, "get", &new_api).is_err());

    // Root adds it: a referendum on the root track, the call by name.
    let args = serde_json::json!({"cluster": cluster, "worker": pubkey}).to_string();
    let encoded = tokio::task::block_in_place(|| {
        common::phala_at(
            &url,
            &[
                "gov",
                "encode",
                "contracts.addClusterWorker",
                "--args",
                &args,
            ],
        )
    })
    .unwrap();
    let call = encoded.lines().next().unwrap().to_string();
    tokio::task::block_in_place(|| {
        let out = common::submit_referendum(&url, "root", &call);
        common::approve(&url, common::referendum_index(&out));
    });

    // The key, then a member's state: the same contract state as the members'.
    let member_root = root_of(&worker_info(w1).await, &contract).unwrap();
    let joined = wait_info(port, "the cluster's key and state", &log, |i| {
        i["cluster"] == cluster.as_str()
            && i["clusterJoiningFrom"].is_null()
            && root_of(i, &contract).is_some()
    })
    .await;
    assert_eq!(root_of(&joined, &contract).unwrap(), member_root);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("installed cluster"),
        "{}",
        tail(&log_text)
    );
    assert_eq!(get(&new_api), serde_json::json!({"Ok": true}));

    // The chain takes its word and puts it in the reporting turns.
    let client = Client::connect(&url).await.unwrap();
    let id = H256(
        phala_primitives::crypto::decode_hex(&cluster)
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let key: [u8; 32] = phala_primitives::crypto::decode_hex(&pubkey)
        .unwrap()
        .try_into()
        .unwrap();
    let start = Instant::now();
    loop {
        let info = client.cluster(id).await.unwrap().unwrap();
        if info.workers.contains(&key) {
            assert_eq!(info.workers.len(), 3);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the chain never took the new worker in"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let workers = tokio::task::block_in_place(|| common::phala_at(&url, &["workers"])).unwrap();
    assert!(
        workers
            .matches(&format!("worker in cluster {cluster}"))
            .count()
            >= 3,
        "{workers}"
    );

    // Three more commands: members take turns reporting, so one is the new worker's (the
    // only message it has to send). All three workers run every one and agree.
    let before = submitted(port).await;
    for _ in 0..3 {
        flip();
    }
    assert!(
        submitted(port).await > before,
        "the new worker reported none of them"
    );
    for api in [&member, &format!("http://127.0.0.1:{w2}"), &new_api] {
        assert_eq!(get(api), serde_json::json!({"Ok": false}), "{api}");
    }
    let roots: Vec<Option<String>> = vec![
        root_of(&worker_info(w1).await, &contract),
        root_of(&worker_info(w2).await, &contract),
        root_of(&worker_info(port).await, &contract),
    ];
    assert!(
        roots.iter().all(|r| r.is_some() && *r == roots[0]),
        "{roots:?}"
    );

    // Killed and started again, it resumes from its sealed state: no new join.
    let _ = child.kill();
    let _ = child.wait();
    child = start_worker(&url, &base, port, &member);
    wait_info(port, "resuming", &log, |i| {
        i["clusterJoiningFrom"].is_null() && root_of(i, &contract).is_some()
    })
    .await;
    assert_eq!(get(&new_api), serde_json::json!({"Ok": false}));

    // Removed again (root, by sudo on a dev chain): it erases the key and the state, and
    // the others go on without it.
    let out = tokio::task::block_in_place(|| {
        common::phala_at(
            &url,
            &[
                "cluster",
                "remove-worker",
                "--worker",
                &pubkey,
                "--suri",
                "//Alice",
            ],
        )
    })
    .unwrap();
    assert!(out.contains("left its cluster"), "{out}");
    wait_info(port, "erasing the cluster's key and state", &log, |i| {
        i["cluster"].is_null() && i["contracts"].as_array().is_some_and(|c| c.is_empty())
    })
    .await;
    assert!(net.query(&bundle, &contract, "get", &new_api).is_err());
    flip();
    assert_eq!(get(&member), serde_json::json!({"Ok": true}));
    let _ = child.kill();
    let _ = child.wait();
    drop(net);
}
