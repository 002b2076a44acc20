//! Contracts across chains, on two real devnets with a cluster each, bridged by `phala relay`:
//! the example `bridge_requester` on A asks the example `bridge_answerer` on B a question with
//! `xcm_send`; B runs the call as a command paid by the answerer's account, its return data
//! goes back as the acknowledgement, and A delivers it to the requester's `on_bridge_reply`.
//! A question for a contract B does not have comes back as an error, and the channel goes on.

mod common;

use common::net::{Net, example, port_of};
use parity_scale_codec::Encode;
use serde_json::json;

fn ok(url: &str, args: &[&str]) -> String {
    common::phala_at(url, args).unwrap_or_else(|e| panic!("phala {args:?}: {e}"))
}

/// A process stopped however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A contract's account's free balance.
async fn free_of(url: &str, contract: &str) -> u128 {
    let id: [u8; 32] = hex::decode(contract.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    phala_client::Client::connect(url)
        .await
        .unwrap()
        .free_balance(&phala_client::primitives::AccountId32(id))
        .await
        .unwrap()
}

/// What the answerer returns for `question`: `Ok(question upper-cased)`, SCALE-encoded.
fn answer_of(question: &str) -> String {
    let mut out = vec![0u8];
    question.to_uppercase().into_bytes().encode_to(&mut out);
    format!("0x{}", hex::encode(out))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_on_one_chain_asks_a_contract_on_another_and_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--no-explorer"];
    for side in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(side)).unwrap();
    }
    let mut a = Net::start_with(&dir.path().join("a"), 1, &extra);
    let mut b = Net::start_with(&dir.path().join("b"), 1, &extra);
    let a_worker = format!(
        "http://127.0.0.1:{}",
        port_of(&a.line("  worker-1 ", 120).await)
    );
    let b_worker = format!(
        "http://127.0.0.1:{}",
        port_of(&b.line("  worker-1 ", 120).await)
    );
    a.line("cluster 0x", 240).await;
    b.line("cluster 0x", 240).await;
    let (a_url, b_url) = (a.url(), b.url());

    // Clients and channel 0 on both sides, by each chain's root; a relayer between them.
    for (url, other) in [(&a_url, &b_url), (&b_url, &a_url)] {
        ok(
            url,
            &[
                "bridge",
                "client",
                "create",
                "--counterparty",
                other,
                "--sudo",
                "--suri",
                "//Alice",
            ],
        );
        ok(
            url,
            &[
                "bridge",
                "channel",
                "open",
                "--client",
                "0",
                "--counterparty-channel",
                "0",
                "--sudo",
                "--suri",
                "//Alice",
            ],
        );
    }
    let relay_log = std::fs::File::create(dir.path().join("relay.log")).unwrap();
    let _relay = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["relay", "--a", &a_url, "--b", &b_url, "--suri", "//Charlie"])
            .args(["--interval-ms", "300"])
            .stdin(std::process::Stdio::null())
            .stdout(relay_log)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    // The example pair: the answerer on B, the requester on A, each account funded (a
    // contract pays for the messages it receives, replies included).
    let requester_bundle = example("bridge_requester.contract");
    let answerer_bundle = example("bridge_answerer.contract");
    let instantiate = |net: &Net, bundle: &str| {
        let made = net.json(&["instantiate", bundle, "--suri", "//Charlie"]);
        assert_eq!(made["status"], "Success", "{made:#}");
        made["contract"].as_str().unwrap().to_string()
    };
    let answerer = instantiate(&b, &answerer_bundle);
    let requester = instantiate(&a, &requester_bundle);
    ok(&b_url, &["transfer", "--from", "//Bob", &answerer, "20"]);
    ok(&a_url, &["transfer", "--from", "//Bob", &requester, "20"]);
    let channels = common::until("channel 0 open on both sides", 120, || {
        let a_list = ok(&a_url, &["bridge", "channel", "list"]);
        let b_list = ok(&b_url, &["bridge", "channel", "list"]);
        (a_list.contains(": open") && b_list.contains(": open")).then_some(a_list)
    });
    assert!(channels.contains("channel 0"), "{channels}");

    let answerer_free = free_of(&b_url, &answerer).await;

    // `ask(channel 0, contract, question)` as //Charlie: the query id it returns.
    let ask = |contract: &str, question: &str| {
        let asked = a.json(&[
            "call",
            &requester_bundle,
            "--contract",
            &requester,
            "--message",
            "ask",
            "--suri",
            "//Charlie",
            "--args",
            "0",
            contract,
            &format!("{question:?}"),
        ]);
        assert_eq!(asked["status"], "Success", "{asked:#}");
        asked["output"]["result"]["Ok"].clone()
    };
    let question = "what is the answer?";
    assert_eq!(ask(&answerer, question), json!(0));

    // The answer comes back to the requester as `on_bridge_reply(0, Success(answer))`.
    let last_reply = |net: &Net| {
        net.query(&requester_bundle, &requester, "last_reply", &a_worker)
            .ok()
            .filter(|v| v != &json!({"Ok": null}))
    };
    let reply = common::until("the answer back on A", 180, || last_reply(&a));
    assert_eq!(
        reply,
        json!({"Ok": [0, {"Success": answer_of(question)}]}),
        "{reply:#}"
    );
    let answered = b
        .query(&answerer_bundle, &answerer, "answered", &b_worker)
        .unwrap();
    assert_eq!(answered, json!({"Ok": 1}));
    // The answerer's account paid for the call: gas, and the deposit of its counter's
    // growth (none: it was stored at instantiation).
    let paid = answerer_free.saturating_sub(free_of(&b_url, &answerer).await);
    assert!(paid > 0, "the answerer's account paid nothing");

    // A question for a contract B does not have comes back as an error.
    let nobody = format!("0x{}", "11".repeat(32));
    assert_eq!(ask(&nobody, "anyone?"), json!(1));
    let reply = common::until("the error back on A", 180, || {
        last_reply(&a).filter(|r| r["Ok"][0] == json!(1))
    });
    assert_eq!(
        reply,
        json!({"Ok": [1, {"Error": "UnknownContract"}]}),
        "{reply:#}"
    );

    // The CLI shows both answers on B, and nothing waiting on A.
    let packets = ok(&b_url, &["bridge", "packets"]);
    assert!(packets.contains("in  #1: ok"), "{packets}");
    assert!(
        packets.contains("in  #2: error: UnknownContract"),
        "{packets}"
    );
    let packets = ok(&a_url, &["bridge", "packets"]);
    assert!(packets.contains("0 in flight"), "{packets}");
}
