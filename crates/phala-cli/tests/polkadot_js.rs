//! Unmodified @polkadot/api 16.x against `phala devnet` (tests/polkadot-js/*.mjs).
//! `scripts/test` installs the npm packages and points PHALA_NODE_MODULES at them.

mod common;

/// One devnet for both scripts: transfers and errors, then the economy's calls, storage
/// and events.
#[test]
fn polkadot_js_transfers_decodes_errors_and_drives_stake_pools() {
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
}
