//! One bridge channel under load, end to end, between two chains already bridged (a client
//! of each other, channel 0 open both ways, as the README's *Bridges* section sets up):
//! first LATENCY single transfers A → B, each timed from its submission to its
//! acknowledgement taken back on A, with a relayer running; then PACKETS transfers
//! submitted at once from SENDERS accounts, timed from the first submission until the last
//! acknowledgement lands: packets per second through the channel.
//!
//! usage: bridge_load A_URL B_URL RELAYER_SURI LATENCY PACKETS SENDERS

use std::time::{Duration, Instant};

use phala_client::bridge_relay::Relayer;
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::PHA;
use phala_client::runtime::modules::bridge::{self, Timeout};
use phala_client::{Client, RuntimeCall, TxOptions};

const SENDERS: [&str; 6] = [
    "//Alice",
    "//Bob",
    "//Dave",
    "//Eve",
    "//Ferdie",
    "//Charlie",
];

async fn acked(a: &Client) -> (u64, u64) {
    let end = a
        .bridge_channel(0, None)
        .await
        .unwrap()
        .expect("no channel 0 on A");
    (end.next_ack, end.next_send)
}

fn transfer(to: &Sr25519Pair, now_ms: u64) -> RuntimeCall {
    RuntimeCall::Bridge(bridge::Call::transfer {
        channel: 0,
        asset: None,
        receiver: to.account_id(),
        amount: PHA,
        timeout: Timeout {
            height: 0,
            timestamp: now_ms + 3_600_000,
        },
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: bridge_load A_URL B_URL RELAYER_SURI LATENCY PACKETS SENDERS");
        std::process::exit(2);
    }
    let a = Client::connect(&args[1]).await.unwrap();
    let b = Client::connect(&args[2]).await.unwrap();
    let relayer_key = Sr25519Pair::from_uri(&args[3]).unwrap();
    let latency_runs: usize = args[4].parse().unwrap();
    let packets: usize = args[5].parse().unwrap();
    let senders: usize = args[6]
        .parse::<usize>()
        .unwrap()
        .clamp(1, SENDERS.len() - 1);
    let relayer = Relayer::new(a.clone(), b.clone(), relayer_key)
        .await
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(async move {
        relayer
            .run(Duration::from_millis(100), |_| {}, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
    });
    let receiver = Sr25519Pair::from_uri("//Ferdie").unwrap();

    let mut latencies = Vec::new();
    let alice = Sr25519Pair::from_uri(SENDERS[0]).unwrap();
    for _ in 0..latency_runs {
        let start = Instant::now();
        let outcome = a
            .submit_and_wait(transfer(&receiver, now_ms()), &alice, TxOptions::default())
            .await
            .unwrap();
        outcome.result.expect("the transfer failed");
        let (_, next_send) = acked(&a).await;
        let committed = start.elapsed();
        loop {
            let (next_ack, _) = acked(&a).await;
            if next_ack >= next_send {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies.push((committed, start.elapsed()));
    }
    if !latencies.is_empty() {
        latencies.sort_by_key(|l| l.1);
        let median = latencies[latencies.len() / 2];
        println!(
            "latency over {} transfers: median {:.2} s from submission to the acknowledgement on A \
             ({:.2} s of it until the transfer itself was final on A); min {:.2} s, max {:.2} s",
            latencies.len(),
            median.1.as_secs_f64(),
            median.0.as_secs_f64(),
            latencies[0].1.as_secs_f64(),
            latencies[latencies.len() - 1].1.as_secs_f64()
        );
    }

    if packets > 0 {
        let (_, before) = acked(&a).await;
        let start = Instant::now();
        let keys: Vec<Sr25519Pair> = SENDERS[..senders]
            .iter()
            .map(|s| Sr25519Pair::from_uri(s).unwrap())
            .collect();
        let mut tasks = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let a = a.clone();
            let share = packets / senders + usize::from(i < packets % senders);
            let to = receiver.clone();
            tasks.push(tokio::spawn(async move {
                let mut nonce = a.next_nonce(&key.account_id()).await.unwrap();
                let mut left = share;
                // Waves within the pool's 64 transactions per sender.
                while left > 0 {
                    let wave = left.min(60);
                    let mut watching = Vec::new();
                    for _ in 0..wave {
                        let options = TxOptions {
                            nonce: Some(nonce),
                            ..TxOptions::default()
                        };
                        let tx = a
                            .sign(transfer(&to, now_ms()), &key, options)
                            .await
                            .unwrap();
                        watching.push(a.submit_and_watch(&tx).await.unwrap());
                        nonce += 1;
                    }
                    for w in watching {
                        w.wait_finalized()
                            .await
                            .unwrap()
                            .result
                            .expect("a transfer failed");
                    }
                    left -= wave;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let sent_at = start.elapsed();
        let target = before + packets as u64;
        loop {
            let (next_ack, _) = acked(&a).await;
            if next_ack >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let total = start.elapsed();
        println!(
            "throughput: {packets} transfers from {senders} senders final on A in {:.1} s, all \
             received on B and acknowledged on A in {:.1} s: {:.1} packets/s through the channel",
            sent_at.as_secs_f64(),
            total.as_secs_f64(),
            packets as f64 / total.as_secs_f64()
        );
    }
    let _ = stop_tx.send(());
    let _ = relay.await;
}
