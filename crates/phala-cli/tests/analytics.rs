//! Web3 Analytics' sites on a real `phala devnet --workers 1` (whose worker the devnet puts
//! in a cluster), managed with `phala analytics site …` as an owner types it: register with
//! a prepayment, status, an analyst, a narrower configuration, a top-up, and closing, which
//! refunds what is left; bad input is refused before anything is paid. polkadot.js sends a
//! visitor's signed consent withdrawal unsigned (`tests/polkadot-js/analytics.mjs`).

mod common;

use std::time::{Duration, Instant};

use phala_client::Client;
use phala_keys::Sr25519Pair;
use phala_runtime::modules::analytics::{self, purpose};

fn cli(url: &str, args: &[&str]) -> Result<String, String> {
    common::phala_at(url, args)
}

#[test]
fn an_owner_registers_configures_and_closes_a_site() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start_with(
        dir.path(),
        common::free_port(),
        common::free_port(),
        // Free worker ports: other tests' devnets may hold the default 8000.
        &["--workers", "1", "--worker-port", "0"],
    );
    let url = devnet.ws_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(Client::connect(&url)).unwrap();
    let start = Instant::now();
    while !runtime
        .block_on(client.clusters())
        .unwrap()
        .iter()
        .any(|(_, c)| c.ecdh_pubkey.is_some())
    {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the devnet's cluster never got its key:\n{}",
            devnet.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Refused before paying anything: a bad domain, an unknown purpose, a one-person cohort.
    for (args, says) in [
        (vec!["--domain", "Shop Example"], "not a domain"),
        (
            vec!["--domain", "shop.example", "--purposes", "everything"],
            "unknown purpose",
        ),
    ] {
        let mut all = vec!["analytics", "site", "register", "--suri", "//Bob"];
        all.extend(args);
        let err = cli(&url, &all).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
    let err = cli(
        &url,
        &[
            "analytics",
            "site",
            "register",
            "--domain",
            "shop.example",
            "--min-cohort",
            "1",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_err();
    assert!(err.contains("--min-cohort must be 2 to 1000"), "{err}");

    let out = cli(
        &url,
        &[
            "analytics",
            "site",
            "register",
            "--domain",
            "shop.example",
            "--purposes",
            "traffic,pages,sources",
            "--prepay",
            "25",
            "--dp-epsilon",
            "0.5",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_or_else(|e| panic!("register: {e}"));
    assert!(out.contains("Site #0 registered"), "{out}");
    let status = cli(&url, &["analytics", "site", "status", "0"]).unwrap();
    assert!(status.contains("shop.example"), "{status}");
    assert!(status.contains("traffic, pages, sources"), "{status}");
    assert!(status.contains("ε 0.5"), "{status}");
    assert!(status.contains("25 PHA"), "{status}");

    // polkadot.js carries a visitor's signed withdrawal, unsigned and free.
    let out = common::polkadot_js("analytics.mjs", &[&url, "0"])
        .unwrap_or_else(|e| panic!("analytics.mjs: {e}"));
    assert!(out.contains("\"site\":\"0\""), "{out}");

    // Only the owner configures; an analyst gets some analyses.
    let err = cli(
        &url,
        &["analytics", "site", "update", "0", "--suri", "//Charlie"],
    )
    .unwrap_err();
    assert!(err.contains("NotOwner"), "{err}");
    cli(
        &url,
        &[
            "analytics",
            "site",
            "analyst",
            "0",
            "//Charlie",
            "--purposes",
            "pages",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_or_else(|e| panic!("analyst: {e}"));
    // Analyses the site does not offer cannot be granted.
    let err = cli(
        &url,
        &[
            "analytics",
            "site",
            "analyst",
            "0",
            "//Charlie",
            "--purposes",
            "devices",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_err();
    assert!(err.contains("offers only traffic, pages, sources"), "{err}");
    let charlie = Sr25519Pair::from_uri("//Charlie").unwrap().account_id();
    let granted = runtime
        .block_on(client.storage(&analytics::ANALYSTS.key(&0, &charlie), None))
        .unwrap();
    assert_eq!(
        granted,
        Some(parity_scale_codec::Encode::encode(&purpose::PAGES))
    );
    cli(
        &url,
        &[
            "analytics",
            "site",
            "update",
            "0",
            "--purposes",
            "traffic",
            "--retention-days",
            "7",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_or_else(|e| panic!("update: {e}"));
    cli(
        &url,
        &[
            "analytics",
            "site",
            "top-up",
            "0",
            "5",
            "--suri",
            "//Charlie",
        ],
    )
    .unwrap_or_else(|e| panic!("top-up: {e}"));
    let site = runtime.block_on(client.site(0)).unwrap().unwrap();
    assert_eq!(site.info.config.purposes, purpose::TRAFFIC);
    assert_eq!(site.info.config.retention_days, 7);
    // What the update left out stays: the noise set at registration.
    assert_eq!(site.info.config.dp.map(|d| d.epsilon_milli), Some(500));
    assert_eq!(site.prepaid, 30 * phala_client::primitives::PHA);

    // Closing refunds the 30 PHA left to the owner.
    let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
    let before = runtime.block_on(client.free_balance(&bob)).unwrap();
    cli(
        &url,
        &["analytics", "site", "close", "0", "--suri", "//Bob"],
    )
    .unwrap_or_else(|e| panic!("close: {e}"));
    let after = runtime.block_on(client.free_balance(&bob)).unwrap();
    assert!(
        after > before + 29 * phala_client::primitives::PHA,
        "{before} → {after}"
    );
    assert!(runtime.block_on(client.site(0)).unwrap().is_none());
    let status = cli(&url, &["analytics", "site", "status"]).unwrap();
    assert!(status.contains("No sites"), "{status}");
}
