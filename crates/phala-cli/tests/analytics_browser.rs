//! Web3 Analytics in a real browser: `phala devnet --workers 2 --analytics-demo`, and
//! headless chromium (Debian's, driven by puppeteer-core from npm; `scripts/test` installs
//! both) visiting the demo site as 20 visitors with separate storage
//! (`tests/polkadot-js/analytics_browser.mjs`): some accept, some accept part, some decline
//! and send nothing; the dashboard shows exactly the authorized counts; one visitor
//! withdraws and erases on their "your data" page. Then both members answer without them.

mod common;

use common::net::{Net, tail};

fn url_after<'a>(line: &'a str, marker: &str) -> &'a str {
    line.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {marker:?} in {line:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn visitors_in_a_browser_consent_decline_and_withdraw_and_the_dashboard_counts_only_consent()
{
    let dir = tempfile::tempdir().unwrap();
    let demo = common::free_port().to_string();
    let dashboard = common::free_port().to_string();
    let mut net = Net::start_with(
        dir.path(),
        2,
        &[
            "--analytics-demo",
            "--demo-port",
            &demo,
            "--dashboard-port",
            &dashboard,
        ],
    );
    let w2 = common::net::port_of(&net.line("  worker-2 ", 120).await);
    let line = net.line("analytics demo:", 300).await;
    let site = url_after(&line, " at ");
    let board = url_after(&line, "dashboard at ");
    let shots = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let (site, board, shots) = (
            site.to_string(),
            board.to_string(),
            shots.path().display().to_string(),
        );
        move || common::polkadot_js("analytics_browser.mjs", &[&site, &board, &shots])
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!(
            "analytics_browser.mjs: {e}\ndevnet log:\n{}",
            tail(&net.log())
        )
    });
    let result: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["before"]["visitors"], "16", "{result}");
    assert_eq!(result["after"]["visitors"], "15", "{result}");
    for shot in [
        "analytics-banner.png",
        "analytics-dashboard.png",
        "analytics-your-data.png",
    ] {
        let png = std::fs::read(shots.path().join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot}");
    }

    // The other member, asked by the owner with the CLI, also leaves the withdrawn
    // visitor out.
    let report = common::phala_at(
        &net.url(),
        &[
            "analytics",
            "report",
            "0",
            "realtime",
            "--suri",
            "//Alice",
            "--worker",
            &format!("http://127.0.0.1:{w2}"),
        ],
    )
    .unwrap_or_else(|e| panic!("report: {e}"));
    assert!(
        report.contains("Visitors in the last 5 minutes: 11"),
        "{report}"
    );
}
