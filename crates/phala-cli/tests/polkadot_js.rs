//! Unmodified @polkadot/api 16.x against `phala devnet` (tests/polkadot-js/transfer.mjs).
//! `scripts/test` installs the npm packages and points PHALA_NODE_MODULES at them.

mod common;

#[test]
fn polkadot_js_transfers_and_decodes_errors() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start(dir.path());
    let stdout = common::polkadot_js("transfer.mjs", &[&devnet.ws_url()])
        .unwrap_or_else(|e| panic!("polkadot.js script failed\n{e}"));
    assert!(
        stdout.contains("\"failedWith\":\"balances.InsufficientBalance\""),
        "{stdout}"
    );
}
