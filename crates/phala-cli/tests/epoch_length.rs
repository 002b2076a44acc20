//! Governance changes the epoch length on a real `phala devnet`, with no sudo call: a
//! parameters-track referendum sets it; the boundary block after its enactment announces it
//! (`phala block` shows it) and consensus switches there; the devnet's worker follows across
//! the change; a new `phala worker` started from a trusted checkpoint past it verifies its
//! way there from genesis; and the devnet, killed and restarted from its base path, goes on
//! with the new length.

mod common;

use std::process::{Command, Stdio};

fn epochs(url: &str) -> serde_json::Value {
    let out = common::phala_at(url, &["validator", "epochs", "--json"])
        .unwrap_or_else(|e| panic!("phala validator epochs: {e}"));
    serde_json::from_str(&out).unwrap()
}

fn block_json(url: &str, number: u64) -> serde_json::Value {
    let out = common::phala_at(url, &["block", &number.to_string(), "--json"])
        .unwrap_or_else(|e| panic!("phala block {number}: {e}"));
    serde_json::from_str(&out).unwrap()
}

fn worker_info(port: u16) -> Option<serde_json::Value> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(common::http(port, "GET", "/info", b""))?;
    (status == 200).then(|| serde_json::from_slice(&body).ok())?
}

#[test]
fn a_parameters_referendum_changes_the_epoch_length() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("devnet");
    let (rpc, p2p, worker_port) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let args = [
        "--epoch-length",
        "20",
        "--workers",
        "1",
        "--no-cluster",
        "--worker-port",
        &worker_port.to_string(),
    ];
    let devnet = common::Devnet::start_with(&base, rpc, p2p, &args);
    let url = devnet.ws_url();
    let before = epochs(&url);
    assert_eq!(before["length"], 20, "{before:#}");

    let encode = |length: u32| {
        common::phala_at(
            &url,
            &[
                "gov",
                "encode",
                "validators.setEpochLength",
                "--args",
                &format!("{{\"length\": {length}}}"),
            ],
        )
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
    };
    let out = common::submit_referendum(&url, "parameters", &encode(6));
    assert!(out.contains("parameters"), "{out}");
    common::approve(&url, common::referendum_index(&out));
    let changed = common::until("the new length in force", 180, || {
        let view = epochs(&url);
        (view["schedule"].as_array().map(Vec::len) == Some(2)).then_some(view)
    });
    let segment = &changed["schedule"][1];
    assert_eq!(segment["length"], 6, "{changed:#}");
    let first = segment["firstBlock"].as_u64().unwrap();
    let first_epoch = segment["firstEpoch"].as_u64().unwrap();
    // The epochs before it kept 20 blocks; its boundary announced the change.
    assert_eq!(first % 20, 0, "{changed:#}");
    let boundary = block_json(&url, first - 1);
    assert_eq!(
        boundary["endsEpoch"]["nextEpoch"], first_epoch,
        "{boundary:#}"
    );
    assert_eq!(boundary["endsEpoch"]["newLength"], 6, "{boundary:#}");
    let text = common::phala_at(&url, &["block", &(first - 1).to_string()]).unwrap();
    assert!(text.contains("lasts 6 blocks"), "{text}");

    // Two epochs of the new length later, their boundaries are where 6 puts them, and the
    // devnet's worker verified its way across.
    let later = first + 2 * 6;
    common::until("two epochs of six blocks", 60, || {
        let view = epochs(&url);
        (view["finalized"].as_u64()? > later).then_some(())
    });
    for n in [first + 5, first + 11] {
        let block = block_json(&url, n);
        assert!(block["endsEpoch"].is_object(), "#{n}: {block:#}");
        assert!(block["endsEpoch"]["newLength"].is_null(), "#{n}: {block:#}");
    }
    assert!(block_json(&url, first + 6)["endsEpoch"].is_null());
    let info = common::until("the worker across the change", 60, || {
        let info = worker_info(worker_port)?;
        (info["syncedHeight"].as_u64()? > later).then_some(info)
    });
    let e = &info["epoch"];
    assert_eq!(
        e["lastBlock"].as_u64().unwrap() - e["firstBlock"].as_u64().unwrap() + 1,
        6,
        "{info:#}"
    );

    // A new worker trusts a boundary past the change and verifies the way there.
    let checkpoint_number = first + 11;
    let checkpoint = block_json(&url, checkpoint_number)["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let port = common::free_port();
    let log = dir.path().join("checkpoint-worker.log");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["worker", "--node", &url, "--base-path"])
        .arg(dir.path().join("checkpoint-worker"))
        .args(["--operator", "//Bob", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--trusted-checkpoint", &checkpoint])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let info = common::until("the checkpoint worker", 90, || {
        if let Ok(Some(status)) = worker.try_wait() {
            panic!(
                "the worker exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let info = worker_info(port)?;
        (info["syncedHeight"].as_u64()? > checkpoint_number).then_some(info)
    });
    let _ = worker.kill();
    let _ = worker.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("from checkpoint #{checkpoint_number}")),
        "{text}"
    );
    assert_eq!(info["epoch"]["firstBlock"].as_u64().unwrap() % 6, first % 6);

    // Killed and restarted from its base path, the devnet reads the schedule back from its
    // state and goes on finalizing six-block epochs.
    devnet.kill();
    let devnet = common::Devnet::start_with(&base, rpc, p2p, &args);
    let url = devnet.ws_url();
    let resumed = epochs(&url);
    let target = resumed["lastBlock"].as_u64().unwrap() + 7;
    let view = common::until("epochs after the restart", 60, || {
        let view = epochs(&url);
        (view["finalized"].as_u64()? > target).then_some(view)
    });
    assert_eq!(view["length"], 6, "{view:#}");
    assert_eq!(view["schedule"], changed["schedule"]);
    assert!(
        (view["firstBlock"].as_u64().unwrap() - first).is_multiple_of(6),
        "{view:#}"
    );
}
