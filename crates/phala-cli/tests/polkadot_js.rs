//! Unmodified @polkadot/api 16.x against `phala devnet` (tests/polkadot-js/transfer.mjs).
//! `scripts/test` installs the npm packages and points PHALA_NODE_MODULES at them.

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn polkadot_js_transfers_and_decodes_errors() {
    let Some(modules) = std::env::var_os("PHALA_NODE_MODULES").map(PathBuf::from) else {
        panic!(
            "PHALA_NODE_MODULES is not set: run the tests with scripts/test, which installs @polkadot/api"
        );
    };
    assert!(
        modules.join("@polkadot/api").exists(),
        "@polkadot/api is not installed in {}",
        modules.display()
    );
    // ESM resolves packages from the script's own directory upwards, so the script runs from
    // next to the installed node_modules.
    let script_dir = modules.parent().unwrap();
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/polkadot-js/transfer.mjs");
    let script = script_dir.join("transfer.mjs");
    std::fs::copy(&source, &script).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start(dir.path());
    let output = Command::new("node")
        .arg(&script)
        .arg(devnet.ws_url())
        .output()
        .expect("node (Node.js) is not installed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "polkadot.js script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("\"failedWith\":\"balances.InsufficientBalance\""),
        "{stdout}"
    );
}
