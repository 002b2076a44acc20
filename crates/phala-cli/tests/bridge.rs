//! Two real devnets bridged by `phala relay`, nothing trusted but each chain's finality:
//! light clients created and channels opened by each chain's root, PHA sent A → B as a
//! voucher and back, a relayer killed mid-way and restarted with nothing delivered twice, a
//! packet past its timeout refunded, replayed, forged, misdirected and out-of-order packets
//! refused with their reasons, and A's committee changing (Bob stops validating) with B's
//! client following. Throughout, a watcher checks at every block that the vouchers on each
//! side never exceed what the other side's escrow holds.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use phala_client::Client;
use phala_client::bridge::{Denom, asset_id, native_denom};
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::{AccountId32, H256, PHA};
use phala_client::{RuntimeCall, TxOptions};
use phala_runtime::bounded::BoundedVec;
use phala_runtime::modules::bridge::{self, PacketData, packet_key};

fn ok(url: &str, args: &[&str]) -> String {
    common::phala_at(url, args).unwrap_or_else(|e| panic!("phala {args:?}: {e}"))
}

/// A `phala relay` process between the two chains; killed when dropped.
struct Relay(Child);

impl Relay {
    fn start(a: &str, b: &str, log: &std::path::Path) -> Relay {
        Self::start_as(a, b, log, "//Charlie")
    }

    fn start_as(a: &str, b: &str, log: &std::path::Path, suri: &str) -> Relay {
        let child = Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["relay", "--a", a, "--b", b, "--suri", suri])
            .args(["--interval-ms", "200"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Relay(child)
    }

    /// SIGKILL: no chance to finish what it was doing.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn account(uri: &str) -> AccountId32 {
    Sr25519Pair::from_uri(uri).unwrap().account_id()
}

/// The voucher of the other chain's PHA that arrives over channel 0.
fn voucher() -> H256 {
    asset_id(&Denom {
        path: BoundedVec::new(vec![0]).unwrap(),
        base: native_denom().base,
    })
}

struct Chain {
    url: String,
    client: Client,
}

impl Chain {
    async fn voucher_supply(&self) -> u128 {
        self.client
            .bridge_assets(None)
            .await
            .unwrap()
            .into_iter()
            .find(|(id, _)| *id == voucher())
            .map(|(_, a)| a.supply)
            .unwrap_or(0)
    }

    async fn escrowed(&self) -> u128 {
        self.client
            .bridge_escrowed(0, asset_id(&native_denom()), None)
            .await
            .unwrap()
    }

    async fn vouchers_of(&self, who: &str) -> u128 {
        self.client
            .bridge_asset_balance(voucher(), &account(who), None)
            .await
            .unwrap()
    }

    async fn channel(&self) -> bridge::ChannelEnd {
        self.client.bridge_channel(0, None).await.unwrap().unwrap()
    }

    async fn free(&self, who: &str) -> u128 {
        self.client.free_balance(&account(who)).await.unwrap()
    }
}

/// Polls `f` (bounded) until it holds.
async fn until<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Checks, at each new finalized block of either chain, that each side's vouchers never
/// exceed the other side's escrow (read after them: locking precedes minting, burning
/// precedes unlocking).
fn watch_supply(a: String, b: String, stop: Arc<AtomicBool>, log: Arc<Mutex<Vec<String>>>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let a = Chain {
            client: Client::connect(&a).await.unwrap(),
            url: a,
        };
        let b = Chain {
            client: Client::connect(&b).await.unwrap(),
            url: b,
        };
        let mut last = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            let heads = (
                a.client.finalized_head().await.unwrap().0,
                b.client.finalized_head().await.unwrap().0,
            );
            if heads != last {
                last = heads;
                for (home, away) in [(&a, &b), (&b, &a)] {
                    let supply = away.voucher_supply().await;
                    let locked = home.escrowed().await;
                    let line = format!(
                        "{} at {heads:?}: {supply} vouchers, {locked} locked at {}",
                        away.url, home.url
                    );
                    log.lock().unwrap().push(if supply <= locked {
                        line
                    } else {
                        format!("VIOLATION {line}")
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// The dispatch error of `call` signed by //Eve on `chain`, which must fail.
async fn refused(chain: &Chain, call: bridge::Call) -> String {
    let eve = Sr25519Pair::from_uri("//Eve").unwrap();
    let outcome = chain
        .client
        .submit_and_wait(RuntimeCall::Bridge(call), &eve, TxOptions::default())
        .await
        .unwrap();
    match outcome.result {
        Ok(()) => panic!("the chain took it"),
        Err(failure) => failure.to_string(),
    }
}

#[test]
fn two_devnets_bridge_pha_both_ways_through_an_untrusted_relayer() {
    let dir = tempfile::tempdir().unwrap();
    // A has two validators, so its committee can change; B one. Ten-block epochs show
    // B's client crossing many committee hand-overs.
    let base_args = ["--epoch-length", "10", "--no-gatekeepers", "--no-explorer"];
    let mut a_args = base_args.to_vec();
    a_args.extend(["--validators", "2"]);
    let a_dev = common::Devnet::start_with(
        &dir.path().join("a"),
        common::free_port_pair(),
        common::free_port(),
        &a_args,
    );
    let b_dev = common::Devnet::start_with(
        &dir.path().join("b"),
        common::free_port(),
        common::free_port(),
        &base_args,
    );
    let (a_url, b_url) = (a_dev.ws_url(), b_dev.ws_url());
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(bridge_both_ways(dir.path(), a_url, b_url));
    drop((a_dev, b_dev));
}

async fn bridge_both_ways(dir: &std::path::Path, a_url: String, b_url: String) {
    let a = Chain {
        client: Client::connect(&a_url).await.unwrap(),
        url: a_url.clone(),
    };
    let b = Chain {
        client: Client::connect(&b_url).await.unwrap(),
        url: b_url.clone(),
    };
    assert_ne!(a.client.genesis_hash(), b.client.genesis_hash());

    // Each chain's root creates a client of the other and opens its end of channel 0.
    for (url, other) in [(&a_url, &b_url), (&b_url, &a_url)] {
        let out = ok(
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
        assert!(out.contains("Client 0 created"), "{out}");
        let out = ok(
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
        assert!(out.contains("Channel 0 is opened here"), "{out}");
    }
    // Nobody but root opens channels.
    let err = common::phala_at(
        &a_url,
        &[
            "bridge",
            "channel",
            "open",
            "--client",
            "0",
            "--counterparty-channel",
            "1",
            "--sudo",
            "--suri",
            "//Bob",
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("RequireSudo") || err.contains("BadOrigin"),
        "{err}"
    );

    // An explorer of A, whose bridge page is checked in a real browser later.
    let explorer_port = common::free_port();
    let explorer_url = format!("http://127.0.0.1:{explorer_port}");
    let _explorer = Relay(
        Command::new(env!("CARGO_BIN_EXE_phala"))
            .args(["explorer", "--url", &a_url, "--listen"])
            .arg(format!("127.0.0.1:{explorer_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (a, b, stop, samples) = (a_url.clone(), b_url.clone(), stop.clone(), samples.clone());
        std::thread::spawn(move || watch_supply(a, b, stop, samples))
    };

    // The relayer confirms both ends.
    let relay_log = dir.join("relay.log");
    let relay = Relay::start(&a_url, &b_url, &relay_log);
    until("both channel ends open", 90, async || {
        let open = bridge::ChannelState::Open;
        (a.channel().await.state == open && b.channel().await.state == open).then_some(())
    })
    .await;
    // A second client of B on A, which no channel uses: the relayer keeps relaying channel
    // 0 over its own client 0 (it once followed the newest client instead, and stalled).
    let out = ok(
        &a_url,
        &[
            "bridge",
            "client",
            "create",
            "--counterparty",
            &b_url,
            "--sudo",
            "--suri",
            "//Alice",
        ],
    );
    assert!(out.contains("client 0 already follows that chain"), "{out}");
    assert!(out.contains("Client 1 created"), "{out}");
    let channels = ok(&a_url, &["bridge", "channel", "list"]);
    assert!(
        channels.contains("channel 0 ↔ their channel 0 over client 0: open"),
        "{channels}"
    );

    // A → B: 100 PHA locked on A, 100 vouchers minted to Bob on B.
    let alice_before = a.free("//Alice").await;
    ok(
        &a_url,
        &[
            "bridge",
            "transfer",
            "--channel",
            "0",
            "--to",
            "//Bob",
            "--amount",
            "100",
            "--suri",
            "//Alice",
        ],
    );
    let alice_after_send = a.free("//Alice").await;
    assert!(alice_before - alice_after_send > 100 * PHA);
    until("100 vouchers for Bob on B", 60, async || {
        (b.vouchers_of("//Bob").await == 100 * PHA).then_some(())
    })
    .await;
    until("the acknowledgement back on A", 60, async || {
        let end = a.channel().await;
        (end.next_ack == end.next_send).then_some(())
    })
    .await;
    assert_eq!(a.escrowed().await, 100 * PHA);
    let assets = ok(&b_url, &["bridge", "assets", "--account", "//Bob"]);
    assert!(
        assets.contains("channel-0/PHA  supply 100, held 100"),
        "{assets}"
    );

    // The relayer is killed mid-way and started again: every packet lands exactly once.
    let dave_before = b.vouchers_of("//Dave").await;
    let mut relay = Some(relay);
    for i in 0..5 {
        if i == 2
            && let Some(r) = relay.take()
        {
            r.kill();
        }
        ok(
            &a_url,
            &[
                "bridge",
                "transfer",
                "--channel",
                "0",
                "--to",
                "//Dave",
                "--amount",
                "1",
                "--suri",
                "//Alice",
            ],
        );
    }
    assert!(relay.is_none());
    let sent = a.channel().await.next_send - 1;
    assert_eq!(sent, 6);
    // Two relayers at once (another operator's, paying with //Ferdie): they race for the
    // same packets, and the chains take each once.
    let relay = Relay::start(&a_url, &b_url, &relay_log);
    let rival = Relay::start_as(&a_url, &b_url, &dir.join("rival.log"), "//Ferdie");
    until(
        "all six packets received and acknowledged",
        90,
        async || {
            let (ea, eb) = (a.channel().await, b.channel().await);
            (eb.next_recv == 7 && ea.next_ack == 7).then_some(())
        },
    )
    .await;
    assert_eq!(b.vouchers_of("//Dave").await - dave_before, 5 * PHA);
    assert_eq!(b.voucher_supply().await, 105 * PHA);
    assert_eq!(a.escrowed().await, 105 * PHA);
    rival.kill();

    // B → A: Bob sends 40 vouchers home to Alice: burned on B, unlocked on A.
    let alice_before_return = a.free("//Alice").await;
    let out = ok(
        &b_url,
        &[
            "bridge",
            "transfer",
            "--channel",
            "0",
            "--to",
            "//Alice",
            "--amount",
            "40",
            "--asset",
            &voucher().to_string(),
            "--suri",
            "//Bob",
        ],
    );
    assert!(out.contains("carries 40 channel-0/PHA"), "{out}");
    until("40 PHA back with Alice", 60, async || {
        (a.free("//Alice").await == alice_before_return + 40 * PHA).then_some(())
    })
    .await;
    assert_eq!(b.vouchers_of("//Bob").await, 60 * PHA);
    until("the vouchers' acknowledgement on B", 60, async || {
        let end = b.channel().await;
        (end.next_ack == end.next_send).then_some(())
    })
    .await;
    assert_eq!(a.escrowed().await, 65 * PHA);
    assert_eq!(b.voucher_supply().await, 65 * PHA);

    // A packet that reaches B after its timeout is refunded on A.
    relay.kill();
    let b_height = b.client.finalized_head().await.unwrap().0;
    let expires = (b_height + 3).to_string();
    ok(
        &a_url,
        &[
            "bridge",
            "transfer",
            "--channel",
            "0",
            "--to",
            "//Bob",
            "--amount",
            "7",
            "--expires-at-block",
            &expires,
            "--suri",
            "//Alice",
        ],
    );
    let alice_after_late_send = a.free("//Alice").await;
    until("B past the timeout", 60, async || {
        (b.client.finalized_head().await.unwrap().0 > b_height + 4).then_some(())
    })
    .await;
    // A's bridge page, in a browser: the channel, the late packet in flight, what its
    // escrow holds, its client of B and what it received.
    let b_genesis = b.client.genesis_hash().to_string();
    let wants = serde_json::json!([
        "Channel 0 ↔ their channel 0 · open",
        "7 PHA",
        format!("their #{expires}"),
        "72 PHA",
        format!("{}…{}", &b_genesis[..10], &b_genesis[b_genesis.len() - 8..]),
        "active",
        "ok",
    ]);
    let shots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/explorer-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("explorer-bridge.png");
    let out = common::polkadot_js(
        "explorer_browser.mjs",
        &[
            "bridge",
            &explorer_url,
            &wants.to_string(),
            &shot.display().to_string(),
        ],
    )
    .unwrap_or_else(|e| panic!("explorer_browser.mjs bridge: {e}"));
    println!("bridge page: {out}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot");

    let packets = ok(&a_url, &["bridge", "packets"]);
    assert!(packets.contains("1 in flight"), "{packets}");
    assert!(
        packets.contains(&format!("times out at their block #{expires}")),
        "{packets}"
    );

    // Meanwhile, what a lying relayer could try, submitted by hand, is refused with its
    // reason. B's client of A is brought up to date first.
    ok(
        &b_url,
        &[
            "bridge",
            "client",
            "update",
            "--counterparty",
            &a_url,
            "--suri",
            "//Eve",
        ],
    );
    let packet = a.client.bridge_packet(0, 7, None).await.unwrap().unwrap();
    let height = b
        .client
        .bridge_client(0, None)
        .await
        .unwrap()
        .unwrap()
        .latest_height;
    let proof = a
        .client
        .bridge_proof(height, &[packet_key(0, 7)])
        .await
        .unwrap();
    let recv = |packet: bridge::Packet, proof| bridge::Call::recv_packet {
        packet,
        proof_height: height,
        proof,
    };
    let mut forged = packet.clone();
    let PacketData::Transfer(t) = &mut forged.data else {
        panic!("a transfer was sent")
    };
    t.amount = 1_000_000 * PHA;
    assert!(
        refused(&b, recv(forged, proof.clone()))
            .await
            .contains("ProofMismatch"),
        "a forged amount"
    );
    let mut ahead = packet.clone();
    ahead.sequence = 8;
    assert!(
        refused(&b, recv(ahead, proof.clone()))
            .await
            .contains("OutOfOrder")
    );
    let mut misdirected = packet.clone();
    misdirected.source_channel = 3;
    assert!(
        refused(&b, recv(misdirected, proof.clone()))
            .await
            .contains("WrongChannel")
    );
    let other_key_proof = a
        .client
        .bridge_proof(height, &[phala_runtime::modules::bridge::channel_key(0)])
        .await
        .unwrap();
    assert!(
        refused(&b, recv(packet.clone(), other_key_proof))
            .await
            .contains("BadProof")
    );
    let delivered_before = b.channel().await.next_recv;
    assert_eq!(delivered_before, 7, "nothing forged was taken");

    // The relayer comes back: B takes the late packet as timed out, A refunds it.
    let relay = Relay::start(&a_url, &b_url, &relay_log);
    until("the late packet refunded", 60, async || {
        (a.free("//Alice").await == alice_after_late_send + 7 * PHA).then_some(())
    })
    .await;
    assert_eq!(
        b.client.bridge_ack(0, 7, None).await.unwrap(),
        Some(bridge::Ack::TimedOut)
    );
    let received = ok(&b_url, &["bridge", "packets"]);
    assert!(received.contains("in  #7: timed out"), "{received}");
    // Replaying the delivered packet is refused.
    assert!(
        refused(&b, recv(packet, proof))
            .await
            .contains("AlreadyReceived")
    );
    assert_eq!(a.escrowed().await, 65 * PHA);

    // A's committee changes: Bob stops validating, and from the next election A is
    // signed by Alice alone. B's client follows the hand-over; packets keep flowing.
    ok(&a_url, &["validator", "chill", "--suri", "//Bob"]);
    until("A's committee down to one", 120, async || {
        let view = a.client.epochs().await.ok()?;
        (view.committee.len() == 1).then_some(())
    })
    .await;
    ok(
        &a_url,
        &[
            "bridge",
            "transfer",
            "--channel",
            "0",
            "--to",
            "//Bob",
            "--amount",
            "2",
            "--suri",
            "//Alice",
        ],
    );
    until("the packet over the new committee", 90, async || {
        (b.vouchers_of("//Bob").await == 62 * PHA).then_some(())
    })
    .await;
    let clients: serde_json::Value =
        serde_json::from_str(&ok(&b_url, &["bridge", "client", "list", "--json"])).unwrap();
    assert_eq!(
        clients[0]["committee"].as_array().unwrap().len(),
        1,
        "{clients:#}"
    );
    until("everything acknowledged", 60, async || {
        let (ea, eb) = (a.channel().await, b.channel().await);
        (ea.next_ack == ea.next_send && eb.next_ack == eb.next_send).then_some(())
    })
    .await;
    relay.kill();

    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let violations: Vec<_> = samples
        .iter()
        .filter(|l| l.starts_with("VIOLATION"))
        .collect();
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(samples.len() > 40, "only {} samples", samples.len());
    // Nothing in flight: vouchers equal escrow exactly.
    assert_eq!(b.voucher_supply().await, a.escrowed().await);
    assert_eq!(b.voucher_supply().await, 67 * PHA);
    let log = std::fs::read_to_string(&relay_log).unwrap_or_default();
    assert!(log.contains("Relaying between"), "{log}");
}
