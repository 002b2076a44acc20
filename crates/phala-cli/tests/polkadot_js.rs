//! Unmodified @polkadot/api 16.x against `phala devnet` (tests/polkadot-js/*.mjs).
//! `scripts/test` installs the npm packages and points PHALA_NODE_MODULES at them.

mod common;

/// One devnet for the scripts: transfers and errors, the economy's calls, storage and
/// events, then a referendum from preimage to enactment.
#[test]
fn polkadot_js_transfers_decodes_errors_drives_stake_pools_and_passes_a_referendum() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start(dir.path());
    let stdout = common::polkadot_js("transfer.mjs", &[&devnet.ws_url()])
        .unwrap_or_else(|e| panic!("polkadot.js script failed\n{e}"));
    assert!(
        stdout.contains("\"failedWith\":\"balances.InsufficientBalance\""),
        "{stdout}"
    );
    let stdout = common::polkadot_js("pools.mjs", &[&devnet.ws_url()])
        .unwrap_or_else(|e| panic!("polkadot.js pools script failed\n{e}"));
    assert!(stdout.contains("\"pools\":\"ok\""), "{stdout}");
    // Last: its votes lock most of the dev accounts' PHA.
    let stdout = common::polkadot_js("governance.mjs", &[&devnet.ws_url()])
        .unwrap_or_else(|e| panic!("polkadot.js governance script failed\n{e}"));
    assert!(stdout.contains("\"governance\":\"ok\""), "{stdout}");
}
