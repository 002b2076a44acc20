//! Confidential ink! contracts end to end, on a real `phala devnet --workers 2` (one
//! gatekeeper validator, two workers the devnet puts in a cluster), driven with the `phala
//! contract` commands exactly as a user types them: the project's example contracts and
//! unmodified compiled ones from ../shared/fixtures/contracts, encrypted commands and signed queries, storage deposits, a
//! factory's child contract called directly, refusals with clear errors, identical state on
//! both workers, and no plaintext input or state anywhere.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use parity_scale_codec::Encode;
use phala_client::Client;
use phala_keys::Sr25519Pair;
use serde_json::Value;

/// The erc20's total supply: a value that appears nowhere else, so finding its bytes means
/// finding the constructor input or the contract's state in the clear.
const SUPPLY_MARKER: u128 = 0x5EC2_E7C0_DE00_0000_0000_0000_7A11_0001;

use common::net::{Net, example, fixture, port_of, tail, worker_info as info};

fn ss58(uri: &str) -> String {
    Sr25519Pair::from_uri(uri).unwrap().account_id().to_ss58()
}

#[tokio::test(flavor = "multi_thread")]
async fn confidential_contracts_deploy_run_and_answer_on_a_devnet_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path(), 2);
    let w1 = port_of(&net.line("  worker-1 ", 90).await);
    let w2 = port_of(&net.line("  worker-2 ", 90).await);
    net.line("cluster 0x", 240).await;
    let worker1 = format!("http://127.0.0.1:{w1}");
    let worker2 = format!("http://127.0.0.1:{w2}");

    // The project's own flipper and the ink! 4 and 5 ones: instantiate, flip by encrypted
    // command, get by query.
    let mut flippers = Vec::new();
    for bundle in [
        example("flipper.contract"),
        fixture("ink4_flipper.contract.json"),
        fixture("ink5_flipper.contract.json"),
    ] {
        let contract = net.instantiate(&bundle, "false");
        let get = |worker: &str| net.query(&bundle, &contract, "get", worker).unwrap();
        assert_eq!(get(&worker1), serde_json::json!({"Ok": false}));
        let flipped = net.call(&bundle, &contract, "flip");
        assert_eq!(
            flipped["output"]["result"],
            serde_json::json!({"Ok": null}),
            "{flipped:#}"
        );
        // Both workers ran it.
        for worker in [&worker1, &worker2] {
            assert_eq!(get(worker), serde_json::json!({"Ok": true}));
        }
        // Out of gas: it fails, is charged, and changes nothing.
        let err = net
            .contract(&[
                "call",
                &bundle,
                "--contract",
                &contract,
                "--message",
                "flip",
                "--suri",
                "//Charlie",
                "--gas",
                "2000",
            ])
            .unwrap_err();
        assert!(err.contains("OutOfGas"), "{err}");
        assert_eq!(get(&worker2), serde_json::json!({"Ok": true}));
        flippers.push((bundle, contract));
    }

    // Deploying the same code again, even with other arguments, would take the same id: it is
    // refused before a fee is paid, and says that --salt makes another.
    let (own_flipper, _) = &flippers[0];
    let again = net
        .contract(&[
            "instantiate",
            own_flipper,
            "--suri",
            "//Charlie",
            "--args",
            "true",
        ])
        .unwrap_err();
    assert!(
        again.contains("not on the constructor's arguments") && again.contains("--salt"),
        "{again}"
    );
    // Querying a message that changes state looked like it had run it: it now says the
    // query's changes are discarded.
    let own_id = &flippers[0].1;
    let out = Command::new(env!("CARGO_BIN_EXE_phala"))
        .args(["contract", "query", own_flipper, "--contract", own_id])
        .args([
            "--message",
            "flip",
            "--worker",
            &worker1,
            "--url",
            &net.url(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a query's changes are discarded"),
        "{stderr}"
    );

    // The project's erc20 (the README's): transfer by command; balances and allowance by
    // signed queries.
    let erc20 = example("erc20.contract");
    let supply = SUPPLY_MARKER.to_string();
    let made = net.json(&[
        "instantiate",
        &erc20,
        "--suri",
        "//Charlie",
        "--args",
        &supply,
    ]);
    assert_eq!(made["status"], "Success", "{made:#}");
    // The constructor's Transfer event came back to the deployer, decoded by name.
    assert_eq!(made["output"]["events"][0]["event"], "Transfer", "{made:#}");
    let token = made["contract"].as_str().unwrap().to_string();
    // Another contract's bundle, or a mistyped id, is refused before the worker is asked
    // (the flipper's refusal used to print as an answer, CouldNotReadInput).
    let (flipper_bundle, flipper) = &flippers[0];
    let wrong_bundle = net
        .contract(&[
            "query",
            &erc20,
            "--contract",
            flipper,
            "--message",
            "total_supply",
        ])
        .unwrap_err();
    assert!(
        wrong_bundle.contains("the contract's own bundle"),
        "{wrong_bundle}"
    );
    let mistyped = format!("0x{}", "ab".repeat(32));
    let unknown = net
        .contract(&[
            "query",
            flipper_bundle,
            "--contract",
            &mistyped,
            "--message",
            "get",
        ])
        .unwrap_err();
    assert!(unknown.contains("no contract"), "{unknown}");
    let dave = ss58("//Dave");
    let charlie = ss58("//Charlie");
    let sent = net.json(&[
        "call",
        &erc20,
        "--contract",
        &token,
        "--message",
        "transfer",
        "--args",
        &dave,
        "100",
        "--suri",
        "//Charlie",
    ]);
    assert_eq!(
        sent["output"]["result"],
        serde_json::json!({"Ok": {"Ok": null}}),
        "{sent:#}"
    );
    assert_eq!(sent["output"]["events"][0]["event"], "Transfer", "{sent:#}");
    // Dave's new balance entry is storage the contract's account now holds a deposit for.
    let nothing = phala_primitives::format_pha(0);
    assert_ne!(
        sent["storageDeposit"].as_str(),
        Some(nothing.as_str()),
        "{sent:#}"
    );
    assert_eq!(
        sent["storageRefunded"].as_str(),
        Some(nothing.as_str()),
        "{sent:#}"
    );
    // The contract's account holds the existential deposit and, in reserve, every storage
    // deposit paid so far, as its chain record says.
    let record = net.json(&["info", "--contract", &token]);
    assert_eq!(record["status"], "Active", "{record:#}");
    let ed = phala_primitives::format_pha(phala_primitives::PHA / 100);
    assert_eq!(
        record["account"]["free"].as_str(),
        Some(ed.as_str()),
        "{record:#}"
    );
    assert_eq!(
        record["account"]["reserved"], record["storageDeposit"],
        "{record:#}"
    );
    let too_much = net.json(&[
        "call",
        &erc20,
        "--contract",
        &token,
        "--message",
        "transfer",
        "--args",
        &charlie,
        "1000",
        "--suri",
        "//Dave",
    ]);
    assert_eq!(too_much["status"], "Reverted", "{too_much:#}");
    assert_eq!(
        too_much["output"]["result"],
        serde_json::json!({"Ok": {"Err": "InsufficientBalance"}})
    );
    let approved = net.json(&[
        "call",
        &erc20,
        "--contract",
        &token,
        "--message",
        "approve",
        "--args",
        &dave,
        "50",
        "--suri",
        "//Charlie",
    ]);
    assert_eq!(approved["status"], "Success", "{approved:#}");
    let query = |args: &[&str], suri: &str| -> Value {
        let mut all = vec![
            "query",
            erc20.as_str(),
            "--contract",
            token.as_str(),
            "--worker",
            worker2.as_str(),
            "--suri",
            suri,
        ];
        all.extend_from_slice(args);
        serde_json::from_str(&net.contract(&all).unwrap()).unwrap()
    };
    assert_eq!(
        query(
            &["--message", "balance_of", "--args", &charlie],
            "//Charlie"
        ),
        serde_json::json!({"Ok": (SUPPLY_MARKER - 100).to_string()})
    );
    assert_eq!(
        query(&["--message", "balance_of", "--args", &dave], "//Dave"),
        serde_json::json!({"Ok": 100})
    );
    assert_eq!(
        query(
            &["--message", "allowance", "--args", &charlie, &dave],
            "//Dave"
        ),
        serde_json::json!({"Ok": 50})
    );

    // pink: the cache in a query, key derivation and signing, and HTTP outside the allowlist.
    let cache = fixture("pink_use_cache.contract");
    let made = net.json(&["instantiate", &cache, "--suri", "//Charlie"]);
    let id = made["contract"].as_str().unwrap().to_string();
    let out = net
        .contract(&[
            "query",
            &cache,
            "--contract",
            &id,
            "--message",
            "test",
            "--worker",
            &worker1,
        ])
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!({"Ok": null})
    );
    let signing = fixture("pink_signing_ink3.contract");
    let made = net.json(&["instantiate", &signing, "--suri", "//Charlie"]);
    let id = made["contract"].as_str().unwrap().to_string();
    net.contract(&[
        "query",
        &signing,
        "--contract",
        &id,
        "--message",
        "test",
        "--worker",
        &worker1,
    ])
    .unwrap();
    let checker = fixture("pink_check_system.contract");
    let made = net.json(&["instantiate", &checker, "--suri", "//Charlie"]);
    let id = made["contract"].as_str().unwrap().to_string();
    let started = Instant::now();
    let err = net
        .contract(&[
            "query",
            &checker,
            "--contract",
            &id,
            "--message",
            "http_get",
            "--args",
            "\"https://example.com/\"",
            "--worker",
            &worker1,
        ])
        .unwrap_err();
    assert!(err.contains("not allowed"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "an error, not a hang"
    );

    // A factory instantiates a contract from a contract: the chain records the child with its
    // keys, so it takes commands directly, by the SS58 id the factory returned.
    let feed = fixture("phat_sub_price_feed.contract");
    let feed_code = net.json(&["upload", &feed, "--suri", "//Bob"])["codeHash"]
        .as_str()
        .unwrap()
        .to_string();
    let factory = fixture("phat_sub0_factory.contract");
    let made = net.json(&["instantiate", &factory, "--suri", "//Bob"]);
    let factory_id = made["contract"].as_str().unwrap().to_string();
    let key = format!("0x{}", "ab".repeat(32));
    let configured = net.json(&[
        "call",
        &factory,
        "--contract",
        &factory_id,
        "--message",
        "config",
        "--args",
        "\"https://rpc.example\"",
        "100",
        &key,
        &feed_code,
        "--suri",
        "//Bob",
    ]);
    assert_eq!(configured["status"], "Success", "{configured:#}");
    let deployed = net.json(&[
        "call",
        &factory,
        "--contract",
        &factory_id,
        "--message",
        "deploy_price_feed",
        "--args",
        "\"feed\"",
        "\"pha\"",
        "\"usd\"",
        "--suri",
        "//Bob",
    ]);
    let child = deployed["output"]["result"]["Ok"]["Ok"]
        .as_str()
        .unwrap_or_else(|| panic!("{deployed:#}"))
        .to_string();
    // The factory paid the child's existential deposit and its storage out of Bob's limit.
    assert_ne!(
        deployed["storageDeposit"].as_str(),
        Some(nothing.as_str()),
        "{deployed:#}"
    );
    let handed = net.json(&[
        "call",
        &feed,
        "--contract",
        &child,
        "--message",
        "transfer_ownership",
        "--args",
        &dave,
        "--suri",
        "//Bob",
    ]);
    assert_eq!(handed["status"], "Success", "{handed:#}");
    let owner: Value = serde_json::from_str(
        &net.contract(&[
            "query",
            &feed,
            "--contract",
            &child,
            "--message",
            "owner",
            "--worker",
            &worker2,
        ])
        .unwrap(),
    )
    .unwrap();
    let dave_id = Sr25519Pair::from_uri("//Dave").unwrap().public();
    let owner_id = phala_primitives::ss58::parse_account(owner["Ok"].as_str().unwrap()).unwrap();
    assert_eq!(owner_id, dave_id, "{owner:#}");

    // Codes the workers could not run are refused at upload, with the reason.
    let client = Client::connect(&net.url()).await.unwrap();
    let charlie_pair = Sr25519Pair::from_uri("//Charlie").unwrap();
    let floats = wat_float_module();
    let refused = client
        .upload_code(&charlie_pair, floats)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("CodeUsesFloats"), "{refused}");
    let refused = client
        .upload_code(&charlie_pair, b"\0asm\x01\0\0\0garbage".to_vec())
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("CodeInvalid"), "{refused}");

    // Both workers hold identical state for every contract.
    let start = Instant::now();
    loop {
        let (a, b) = (info(w1).await, info(w2).await);
        let roots = |i: &Value| -> Vec<(String, String)> {
            i["contracts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_string(),
                        c["stateRoot"].to_string(),
                    )
                })
                .collect()
        };
        if a["contractCommandsRun"] == b["contractCommandsRun"] && roots(&a).len() == 9 {
            assert_eq!(roots(&a), roots(&b));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{a:#} {b:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // polkadot.js, unmodified, decodes every block's events (sealed outputs included) and
    // extrinsics and the Contracts.Instances map, whose deposits match the contracts' accounts.
    let decoded = common::polkadot_js("contracts.mjs", &[&net.url(), "9"])
        .unwrap_or_else(|e| panic!("polkadot.js script failed\n{e}"));
    assert!(
        decoded.contains("ContractInstantiatedByContract"),
        "{decoded}"
    );

    // Killed and restarted: every worker resumes with its contracts' state and goes on.
    net.restart();
    let w1 = port_of(&net.line("  worker-1 ", 90).await);
    let worker1 = format!("http://127.0.0.1:{w1}");
    let (bundle, contract) = &flippers[0];
    let get = || {
        net.contract(&[
            "query",
            bundle,
            "--contract",
            contract,
            "--message",
            "get",
            "--worker",
            &worker1,
        ])
        .ok()
        .and_then(|o| serde_json::from_str::<Value>(&o).ok())
    };
    let start = Instant::now();
    while get() != Some(serde_json::json!({"Ok": true})) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{:?}\n{}",
            get(),
            tail(&net.log())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let flipped = net.json(&[
        "call",
        bundle,
        "--contract",
        contract,
        "--message",
        "flip",
        "--suri",
        "//Charlie",
    ]);
    assert_eq!(flipped["status"], "Success", "{flipped:#}");
    assert_eq!(get(), Some(serde_json::json!({"Ok": false})));
    let client = Client::connect(&net.url()).await.unwrap();

    // Nothing in the clear: not the constructor input, not the state, anywhere.
    let (_, head) = client.finalized_head().await.unwrap();
    let mut state = Vec::new();
    for key in client.keys_with_prefix(&[], head).await.unwrap() {
        state.extend_from_slice(&key);
        if let Some(v) = client.storage(&key, Some(head)).await.unwrap() {
            state.extend_from_slice(&v);
        }
    }
    net.stop();
    let marker = SUPPLY_MARKER.encode();
    let remaining = (SUPPLY_MARKER - 100).encode();
    let mut files = Vec::new();
    common::files_under(net.dir(), &mut files);
    let mut blobs: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect();
    blobs.push(("the chain state".into(), state));
    for (what, bytes) in &blobs {
        let text = String::from_utf8_lossy(bytes);
        for needle in [&marker, &remaining] {
            assert!(
                !bytes.windows(16).any(|w| w == needle.as_slice()),
                "{what} holds a contract input or state in the clear"
            );
            assert!(
                !text.contains(&hex::encode(needle)),
                "{what} holds a contract input or state as hex"
            );
        }
    }
}

/// A contract whose `deploy` adds two f32s: valid wasm, refused for its floats.
fn wat_float_module() -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend([
        1, 4, 1, 96, 0, 0, 2, 15, 1, 3, 101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2, 0, 1, 3,
        3, 2, 0, 0, 7, 17, 2, 6, 100, 101, 112, 108, 111, 121, 0, 0, 4, 99, 97, 108, 108, 0, 1, 10,
        19, 2, 14, 0, 67, 0, 0, 128, 63, 67, 0, 0, 128, 63, 146, 26, 11, 2, 0, 11,
    ]);
    module
}
