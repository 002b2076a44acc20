//! Governance end to end on a real `phala devnet`, with the `phala gov` and `phala
//! treasury` commands as a user types them and no sudo: a root referendum adds a
//! measurement to the allowlist once conviction votes pass it; the votes lock PHA until
//! their conviction period ends and `phala gov unlock` frees it; a treasurer referendum
//! approves a spend that `phala treasury payout` pays to its beneficiary; a spend above a
//! track's limit is refused. A parameters-track referendum stops the computation budget,
//! and the gatekeeper's settlements pay nothing from the enactment block on.

mod common;

use parity_scale_codec::{Decode, Encode};
use phala_client::Client;
use phala_keys::Sr25519Pair;
use phala_runtime::RuntimeCall;
use phala_runtime::modules::registry;

fn account(uri: &str) -> String {
    Sr25519Pair::from_uri(uri).unwrap().account_id().to_ss58()
}

#[test]
fn referenda_pass_with_conviction_votes_lock_pha_and_spend_the_treasury() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start(dir.path());
    let url = devnet.ws_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(Client::connect(&url)).unwrap();

    let tracks = common::phala_at(&url, &["gov", "tracks"]).unwrap();
    assert!(
        tracks.contains("root") && tracks.contains("treasurer"),
        "{tracks}"
    );

    // A root referendum: allow a new measurement.
    let measurement = vec![0x5a; 32];
    let call = RuntimeCall::Registry(registry::Call::add_measurement {
        measurement: measurement.clone(),
    });
    let hex = common::hex(&call.encode());
    // The same call by name, as polkadot.js names it, from the node's metadata.
    let by_name = common::phala_at(
        &url,
        &[
            "gov",
            "encode",
            "registry.addMeasurement",
            "--args",
            &format!("{{\"measurement\": \"{}\"}}", common::hex(&measurement)),
        ],
    )
    .unwrap();
    assert_eq!(by_name.lines().next(), Some(hex.as_str()));
    let out = common::submit_referendum(&url, "root", &hex);
    let index = common::referendum_index(&out);
    let status = common::phala_at(&url, &["gov", "status", &index.to_string()]).unwrap();
    assert!(status.contains("root"), "{status}");
    common::approve(&url, index);
    common::until("the measurement's enactment", 30, || {
        runtime
            .block_on(client.storage(&registry::ALLOWED_MEASUREMENTS.key(&measurement), None))
            .unwrap()
            .map(|_| ())
    });
    // Status says what became of the call.
    let status = common::phala_at(&url, &["gov", "status", &index.to_string()]).unwrap();
    assert!(
        status.contains("its call ran at #") && status.contains(": Ok"),
        "{status}"
    );

    // Bob's 7,000,000 PHA stay locked: he cannot send 4,000,000 of his 10,000,000.
    let refused = common::phala_at(
        &url,
        &[
            "transfer",
            "--suri",
            "//Bob",
            &account("//Ferdie"),
            "4000000",
        ],
    );
    assert!(refused.is_err(), "a transfer of locked PHA went through");
    assert!(
        common::phala_at(&url, &["gov", "unlock", "--suri", "//Bob"])
            .unwrap()
            .contains("stays locked"),
        "the lock ended before its conviction period"
    );
    // One conviction period (30 s on a devnet) after the approval, unlock frees it.
    common::until("the conviction period's end", 90, || {
        let out = common::phala_at(&url, &["gov", "unlock", "--suri", "//Bob"]).unwrap();
        out.contains("free of votes").then_some(())
    });
    let sent = common::phala_at(
        &url,
        &[
            "transfer",
            "--suri",
            "//Bob",
            &account("//Ferdie"),
            "2000000",
        ],
    )
    .unwrap_or_else(|e| panic!("transfer after unlock: {e}"));
    // `phala block` reads it back by the node's metadata: signer, call, fee, result, events.
    let after = |label: &str| {
        sent.split(label)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .unwrap_or_else(|| panic!("no {label:?} in {sent}"))
            .to_string()
    };
    let number = after("Finalized in block #");
    let index: usize = after("extrinsic index ").parse().unwrap();
    let block: serde_json::Value =
        serde_json::from_str(&common::phala_at(&url, &["block", &number, "--json"]).unwrap())
            .unwrap();
    let xt = &block["extrinsics"][index];
    assert_eq!(xt["signer"], account("//Bob"), "{block:#}");
    assert!(
        xt["call"]
            .as_str()
            .unwrap()
            .starts_with("Balances.transfer"),
        "{block:#}"
    );
    assert_eq!(xt["result"], "Ok", "{block:#}");
    assert!(xt["fee"].as_str().unwrap().ends_with("PHA"), "{block:#}");
    assert!(
        block["timestamp_ms"].is_null() && block["timestampMs"].is_u64(),
        "{block:#}"
    );
    let text = common::phala_at(&url, &["block", &number]).unwrap();
    assert!(
        text.contains("Balances.Transfer") && text.contains("2000000 PHA"),
        "{text}"
    );
    assert!(
        common::phala_at(&url, &["block", "99999999"])
            .unwrap_err()
            .contains("no block #99999999 yet")
    );

    // A treasurer spend, paid to Ferdie once approved; one above a track's limit refused.
    let too_much = common::phala_at(
        &url,
        &[
            "treasury",
            "spend",
            "20000",
            &account("//Ferdie"),
            "--track",
            "small_spender",
            "--suri",
            "//Eve",
        ],
    );
    assert!(too_much.unwrap_err().contains("limit"));
    let out = common::phala_at(
        &url,
        &[
            "treasury",
            "spend",
            "250",
            &account("//Ferdie"),
            "--deposit",
            "--suri",
            "//Eve",
        ],
    )
    .unwrap_or_else(|e| panic!("treasury spend: {e}"));
    let index = common::referendum_index(&out);
    assert!(out.contains("treasurer"), "{out}");
    common::approve(&url, index);
    let spends = common::until("the approved spend", 30, || {
        let out = common::phala_at(&url, &["treasury", "spends"]).unwrap();
        out.contains("payable now").then_some(out)
    });
    assert!(spends.contains("250 PHA"), "{spends}");
    let ferdie = Sr25519Pair::from_uri("//Ferdie").unwrap().account_id();
    let before = runtime.block_on(client.free_balance(&ferdie)).unwrap();
    common::phala_at(&url, &["treasury", "payout", "0", "--suri", "//Charlie"])
        .unwrap_or_else(|e| panic!("payout: {e}"));
    let after = runtime.block_on(client.free_balance(&ferdie)).unwrap();
    assert_eq!(after - before, 250 * phala_client::primitives::PHA);
    let listed = common::phala_at(&url, &["treasury", "spends"]).unwrap();
    assert!(listed.contains("paid"), "{listed}");
}

/// Settlements applied in finalized blocks `from..`, as (settled block, paid), and the
/// block `Computation.ParamsSet` was deposited in, if any; the next block to scan.
fn settlements_since(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    from: u32,
    params_set: &mut Option<u32>,
    out: &mut Vec<(u32, u128)>,
) -> u32 {
    use phala_runtime::RuntimeEvent;
    use phala_runtime::modules::computation::Event;
    let (finalized, _) = runtime.block_on(client.finalized_head()).unwrap();
    for number in from..=finalized {
        let hash = runtime
            .block_on(client.block_hash(number))
            .unwrap()
            .unwrap();
        for record in runtime.block_on(client.events_at(hash)).unwrap() {
            match record.event {
                RuntimeEvent::Computation(Event::SettlementApplied { block, paid, .. }) => {
                    out.push((block, paid))
                }
                RuntimeEvent::Computation(Event::ParamsSet) => *params_set = Some(number),
                _ => {}
            }
        }
    }
    finalized + 1
}

#[test]
fn a_parameters_referendum_changes_what_gatekeepers_pay_from_its_enactment_block() {
    use phala_runtime::modules::computation;
    let dir = tempfile::tempdir().unwrap();
    let devnet = common::Devnet::start_with(
        dir.path(),
        common::free_port(),
        common::free_port(),
        // Free worker ports: other tests' devnets may hold the default 8000.
        &["--workers", "1", "--computing", "--worker-port", "0"],
    );
    let url = devnet.ws_url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(Client::connect(&url)).unwrap();
    let (mut next, mut params_set, mut settled) = (1, None, Vec::new());
    common::until("a settlement that pays the computing worker", 240, || {
        next = settlements_since(&runtime, &client, next, &mut params_set, &mut settled);
        settled.iter().any(|(_, paid)| *paid > 0).then_some(())
    });

    // No more budget: a call only the parameters track (or root) may make.
    let bytes = runtime
        .block_on(client.storage(&computation::PARAMS.key(), None))
        .unwrap()
        .unwrap();
    let mut params = phala_tokenomics::Params::decode(&mut bytes.as_slice()).unwrap();
    params.budget_per_block = 0;
    let call = RuntimeCall::Computation(computation::Call::set_params { params });
    let out = common::submit_referendum(&url, "parameters", &common::hex(&call.encode()));
    assert!(out.contains("parameters"), "{out}");
    common::approve(&url, common::referendum_index(&out));
    let enacted = common::until("the parameters' enactment", 60, || {
        next = settlements_since(&runtime, &client, next, &mut params_set, &mut settled);
        params_set
    });
    // Settlements of blocks after it come in: every one pays nothing.
    common::until("settlements of blocks after the enactment", 120, || {
        next = settlements_since(&runtime, &client, next, &mut params_set, &mut settled);
        (settled.iter().filter(|(block, _)| *block > enacted).count() >= 2).then_some(())
    });
    let after: Vec<_> = settled.iter().filter(|(b, _)| *b >= enacted).collect();
    assert!(
        after.iter().all(|(_, paid)| *paid == 0),
        "paid after the enactment at #{enacted}: {after:?}"
    );
    assert!(
        settled
            .iter()
            .any(|(block, paid)| *block < enacted && *paid > 0)
    );
}
