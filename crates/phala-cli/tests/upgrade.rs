//! Runtime upgrades scheduled by referendum, over real `phala devnet` processes. Test builds
//! carry one runtime version more than releases (`next-runtime`), so:
//! - a devnet switches to it at the scheduled block: the runtime version in force changes
//!   there (RPC and its subscription say so), transactions are signed with it, its changed
//!   parameter applies from that block, and the devnet's worker follows across the switch;
//!   polkadot.js, connected before the switch, follows it, re-reads the metadata and signs
//!   with the new version after it (`tests/polkadot-js/upgrade.mjs`);
//! - a devnet that behaves as an older release (`PHALA_MAX_SPEC_VERSION`) stops cleanly
//!   after the block before the switch, with one message saying which version, which block
//!   and what to install, and refuses to start again on that chain until upgraded. Nothing
//!   executes the switch block with the old rules, so nothing forks.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parity_scale_codec::Encode;
use phala_client::Client;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::{preimage, system};
use phala_runtime::version::SPEC_VERSION;

/// A child process killed when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "the node did not stop"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A started devnet, a client of it, its best block, and the test build's newer runtime
/// version.
fn start(devnet: &common::Devnet) -> (tokio::runtime::Runtime, Client, u32, u32) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(Client::connect(&devnet.ws_url())).unwrap();
    let (now, _) = runtime.block_on(client.best_head()).unwrap();
    let next = phala_runtime::version::NEWEST_SPEC_VERSION;
    assert!(
        next > SPEC_VERSION,
        "test builds carry a newer runtime version"
    );
    (runtime, client, now, next)
}

/// Passes a root referendum scheduling runtime `spec_version` at `at_block`.
fn schedule_upgrade(url: &str, spec_version: u32, at_block: u32) {
    let call = RuntimeCall::System(system::Call::schedule_upgrade {
        spec_version,
        at_block,
    });
    let out = common::submit_referendum(url, "root", &common::hex(&call.encode()));
    assert!(out.contains("Referendum #0"), "{out}");
    for voter in ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve"] {
        common::phala_at(
            url,
            &["gov", "vote", "0", "aye", "7000000", "--suri", voter],
        )
        .unwrap_or_else(|e| panic!("vote: {e}"));
    }
}

#[test]
fn a_node_without_the_scheduled_runtime_stops_before_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let old = SPEC_VERSION.to_string();
    let env = [("PHALA_MAX_SPEC_VERSION", old.as_str())];
    let mut devnet = common::Devnet::start_env(
        dir.path(),
        common::free_port(),
        common::free_port(),
        &[],
        &env,
    );
    let url = devnet.ws_url();
    // The build has the test version; the cap makes this devnet act as a release without it.
    let (_runtime, _client, now, next) = start(&devnet);
    let at = now + 60;
    schedule_upgrade(&url, next, at);

    let status = wait_exit(&mut devnet.child, 150);
    assert!(
        !status.success(),
        "the devnet exited cleanly without saying why"
    );
    let log = devnet.log();
    let want = format!("switches to runtime spec version {next} at block #{at}");
    assert!(log.contains(&want), "no upgrade message in the log:\n{log}");
    assert!(log.contains("install a phala release"), "{log}");
    assert!(
        log.contains(&format!("finalized number={} ", at - 1)),
        "the block before the switch was not finalized:\n{log}"
    );
    assert!(
        !log.contains(&format!("finalized number={at} ")),
        "the switch block was executed"
    );

    // Started again on the same chain, the old release refuses at once with the same words.
    let mut again = Command::new(env!("CARGO_BIN_EXE_phala"))
        .envs(env)
        .args(["devnet", "--base-path"])
        .arg(dir.path())
        .args(["--rpc-port", &common::free_port().to_string()])
        .args(["--p2p-port", &common::free_port().to_string()])
        .args(["--prometheus-port", &common::free_port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut again, 60);
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(again.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn the_chain_switches_runtime_at_the_scheduled_block_and_a_worker_follows() {
    let dir = tempfile::tempdir().unwrap();
    let gatekeeper = common::free_port();
    let devnet = common::Devnet::start_with(
        dir.path(),
        common::free_port(),
        common::free_port(),
        &["--gatekeeper-port", &gatekeeper.to_string()],
    );
    let url = devnet.ws_url();
    let (runtime, client, now, next) = start(&devnet);
    let at = now + 60;
    // A subscriber hears the version in force, then the new one when it takes effect.
    let ws = runtime
        .block_on(jsonrpsee::ws_client::WsClientBuilder::default().build(&url))
        .unwrap();
    let mut versions: jsonrpsee::core::client::Subscription<serde_json::Value> = runtime
        .block_on(jsonrpsee::core::client::SubscriptionClientT::subscribe(
            &ws,
            "state_subscribeRuntimeVersion",
            jsonrpsee::rpc_params![],
            "state_unsubscribeRuntimeVersion",
        ))
        .unwrap();
    let first = runtime.block_on(versions.next()).unwrap().unwrap();
    assert_eq!(first["specVersion"], SPEC_VERSION);
    // A worker of its own, acting as a release without the new version.
    let old = SPEC_VERSION.to_string();
    let log = std::fs::File::create(dir.path().join("old-worker.log")).unwrap();
    let mut old_worker = Kill(
        Command::new(env!("CARGO_BIN_EXE_phala"))
            .env("PHALA_MAX_SPEC_VERSION", &old)
            .args([
                "worker",
                "--node",
                &url,
                "--operator",
                "//Ferdie",
                "--tee",
                "simulated",
            ])
            .args(["--listen", &format!("127.0.0.1:{}", common::free_port())])
            .arg("--base-path")
            .arg(dir.path().join("old-worker"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // polkadot.js, connected before the switch, across it.
    let polkadot_js = {
        let (url, at, next) = (url.clone(), at.to_string(), next.to_string());
        std::thread::spawn(move || common::polkadot_js("upgrade.mjs", &[&url, &at, &next]))
    };
    schedule_upgrade(&url, next, at);

    // Past the switch block.
    let start = Instant::now();
    let head = loop {
        let (head, _) = runtime.block_on(client.finalized_head()).unwrap();
        if head >= at + 2 {
            break head;
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "the chain stopped before #{at}:\n{}",
            devnet.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(head >= at);
    // A block's version is the one its successor runs with (as Substrate reports it): the
    // old one up to two blocks before the switch, the new one from the block before.
    let hash_of = |n| runtime.block_on(client.block_hash(n)).unwrap().unwrap();
    let (before, after, switch) = (hash_of(at - 2), hash_of(at - 1), hash_of(at));
    let version_at = |hash| {
        runtime
            .block_on(client.runtime_call_at("Core_version", &[], Some(hash)))
            .unwrap()
    };
    let decode = |bytes: Vec<u8>| {
        <phala_runtime::RuntimeVersion as parity_scale_codec::Decode>::decode(&mut bytes.as_slice())
            .unwrap()
            .spec_version
    };
    assert_eq!(decode(version_at(before)), SPEC_VERSION);
    assert_eq!(decode(version_at(after)), next);
    assert_eq!(
        runtime
            .block_on(client.refresh_runtime_version())
            .unwrap()
            .spec_version,
        next
    );
    let events = runtime.block_on(client.events_at(switch)).unwrap();
    assert!(
        events.iter().any(|e| matches!(
            e.event,
            phala_runtime::RuntimeEvent::System(system::Event::CodeUpdated)
        )),
        "no System.CodeUpdated at the switch block"
    );

    // Transactions are signed with the new version, and its changed parameter applies: a
    // preimage's base deposit doubled.
    let call = RuntimeCall::System(system::Call::remark {
        remark: vec![7; 200],
    });
    let ferdie = phala_keys::Sr25519Pair::from_uri("//Ferdie")
        .unwrap()
        .account_id();
    let reserved = || {
        runtime
            .block_on(client.account(&ferdie))
            .unwrap()
            .data
            .reserved
    };
    let before_note = reserved();
    common::phala_at(
        &url,
        &[
            "gov",
            "preimage",
            "--call",
            &common::hex(&call.encode()),
            "--suri",
            "//Ferdie",
        ],
    )
    .unwrap_or_else(|e| panic!("preimage after the switch: {e}"));
    assert_eq!(
        reserved() - before_note,
        preimage::deposit_for(next, call.encode().len() as u32)
    );
    assert_ne!(
        preimage::deposit_for(next, 10),
        preimage::deposit_for(SPEC_VERSION, 10)
    );

    let out = polkadot_js
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("upgrade.mjs: {e}"));
    let seen: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(seen["before"], SPEC_VERSION);
    assert_eq!(seen["after"], next);
    let len = seen["callLen"].as_u64().unwrap() as u32;
    assert_eq!(
        seen["deposit"].as_str(),
        Some(preimage::deposit_for(next, len).to_string().as_str()),
        "{seen}"
    );

    // A worker acting as an older release stops at the switch block, saying why.
    let status = wait_exit(&mut old_worker.0, 60);
    assert!(!status.success());
    let worker_log = std::fs::read_to_string(dir.path().join("old-worker.log")).unwrap_or_default();
    assert!(
        worker_log.contains(&format!("block #{at} runs runtime spec version {next}")),
        "{worker_log}"
    );

    // The devnet's gatekeeper worker follows the chain across the switch.
    const SYNCED: &str = "syncedHeight";
    let start = Instant::now();
    loop {
        let info = runtime
            .block_on(common::http(gatekeeper, "GET", "/info", &[]))
            .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .unwrap_or_default();
        let synced = info[SYNCED].as_u64().unwrap_or(0);
        if synced > u64::from(at) + 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker stopped at {synced}: {info}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
