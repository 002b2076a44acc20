//! subxt (dynamic API, unmodified) against `phala devnet`: a transfer to finality and a read of
//! `System.Account`.

mod common;

use parity_scale_codec::Decode;
use subxt::dynamic::{self, At, Value};
use subxt::{OnlineClient, PolkadotConfig};
use subxt_signer::sr25519::dev;

#[tokio::test(flavor = "multi_thread")]
async fn subxt_transfer_and_storage() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = tokio::task::spawn_blocking({
        let base = dir.path().to_path_buf();
        move || common::Devnet::start(&base)
    })
    .await
    .unwrap();
    let api = OnlineClient::<PolkadotConfig>::from_url(devnet.ws_url())
        .await
        .expect("subxt cannot connect");

    let bob = dev::bob().public_key().0;
    let amount: u128 = 2_000_000_000_000;
    let account = dynamic::storage::<([u8; 32],), Value>("System", "Account");
    let free = |v: &Value| {
        v.at("data")
            .and_then(|d| d.at("free"))
            .and_then(|f| f.as_u128())
            .expect("free balance")
    };

    let at = api.at_current_block().await.unwrap();
    let before = free(
        &at.storage()
            .fetch(account.clone(), (bob,))
            .await
            .unwrap()
            .decode()
            .unwrap(),
    );

    let tx = dynamic::transaction(
        "Balances",
        "transfer_keep_alive",
        (dev::bob().public_key().to_address::<u32>(), amount),
    );
    let at = api.at_current_block().await.unwrap();
    let signed = at
        .transactions()
        .create_signed(&tx, &dev::alice(), Default::default())
        .await
        .expect("subxt cannot build the transaction");
    let fee = signed.partial_fee_estimate().await.expect("fee estimate");
    assert!(fee > 0);
    let validity = signed.validate().await.expect("validate_transaction");
    assert!(validity.is_valid(), "{validity:?}");
    let events = signed
        .submit_and_watch()
        .await
        .expect("submission failed")
        .wait_for_finalized_success()
        .await
        .expect("transfer did not succeed");
    let transfer = events
        .iter()
        .filter_map(Result::ok)
        .find(|e| e.pallet_name() == "Balances" && e.event_name() == "Transfer")
        .expect("no Balances.Transfer event");
    let (from, to, value) =
        <([u8; 32], [u8; 32], u128)>::decode(&mut transfer.field_bytes()).unwrap();
    assert_eq!(from, dev::alice().public_key().0);
    assert_eq!(to, bob);
    assert_eq!(value, amount);

    let at = api.at_current_block().await.unwrap();
    let after = free(
        &at.storage()
            .fetch(account, (bob,))
            .await
            .unwrap()
            .decode()
            .unwrap(),
    );
    assert_eq!(after, before + amount);
}
