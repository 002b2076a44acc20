//! How long a caller waits for its queries while another floods the worker.
//!
//! A worker with a slow contract (48M gas of wasm a call) serves `POST /query` on 127.0.0.1.
//! The other caller (127.0.0.2, signed by //Alice) sends queries one at a time, for the
//! worker itself (cheap: open, check, sign, seal) and for the slow contract: first alone,
//! then while //Mallory floods from 127.0.0.1 with FLOOD connections of slow signed queries,
//! resending each refused one after 100 ms. Prints the other caller's latency percentiles
//! and what the flood got. Flooder, worker and caller share this machine's cores, as does
//! anything else running.
//!
//! usage: cargo bench -p phala-worker --bench query_flood [-- QUERIES [FLOOD]]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use phala_crypto::query::WORKER_ITSELF;
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use phala_worker::contracts::ContractRuntime;

/// Sends `count` queries for `contract` one after another; returns each one's latency, or
/// why it failed.
async fn ask(
    url: &str,
    worker: &Worker,
    alice: &Sr25519Pair,
    contract: H256,
    first: u64,
    count: u64,
) -> (Vec<Duration>, Vec<String>) {
    let http = client(Ipv4Addr::new(127, 0, 0, 2));
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    for n in first..first + count {
        let (body, ephemeral, nonce) = query(worker, alice, contract, n);
        let start = Instant::now();
        match http.post(url).body(body).send().await {
            Ok(response) if response.status().is_success() => {
                let bytes = response.bytes().await.unwrap();
                let elapsed = start.elapsed();
                match open(worker, &bytes, &ephemeral, &nonce) {
                    Ok(_) => latencies.push(elapsed),
                    Err(e) => failures.push(e),
                }
            }
            Ok(response) => failures.push(response.status().to_string()),
            Err(e) => failures.push(e.to_string()),
        }
    }
    (latencies, failures)
}

fn report(what: &str, (mut latencies, failures): (Vec<Duration>, Vec<String>)) {
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "  {what:<34} {:>4} answered, {:>3} failed: p50 {:>9.2?} p90 {:>9.2?} p99 {:>9.2?} max {:>9.2?}",
        latencies.len(),
        failures.len(),
        pct(50),
        pct(90),
        pct(99),
        latencies.last().copied().unwrap_or_default(),
    );
    if let Some(first) = failures.first() {
        println!("    first failure: {first}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let queries: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(40);
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(600);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (shared, worker) = worker(ContractRuntime::default());
        let worker = Arc::new(worker);
        let (addr, server) =
            phala_worker::http::serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), shared)
                .await
                .unwrap();
        let url = format!("http://{addr}/query");
        let alice = Sr25519Pair::from_uri("//Alice").unwrap();
        println!(
            "query flood: {} cores, {queries} queries of each kind, flood of {connections} \
             connections",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );

        println!("alone:");
        report(
            "worker itself",
            ask(&url, &worker, &alice, WORKER_ITSELF, 0, queries).await,
        );
        report(
            "slow contract (48M gas)",
            ask(&url, &worker, &alice, worker.slow, 1 << 20, queries).await,
        );

        let mut flooder = Flooder::new(&url, worker.clone());
        // Long enough to outlast the measurement; it is stopped after.
        flooder.rounds = 10_000;
        let started = Instant::now();
        let tasks = flooder.start(connections).await;
        let before = flooder.statuses.lock().unwrap().get(&200).copied();
        let measured = Instant::now();
        println!("under the flood:");
        report(
            "worker itself",
            ask(&url, &worker, &alice, WORKER_ITSELF, 2 << 20, queries).await,
        );
        report(
            "slow contract (48M gas)",
            ask(&url, &worker, &alice, worker.slow, 3 << 20, queries).await,
        );
        let answered = flooder.statuses.lock().unwrap().get(&200).copied();
        let seconds = measured.elapsed().as_secs_f64();
        flooder.stop(tasks).await;
        server.abort();
        println!(
            "  the flood: {} requests in {:.1} s, {:?} by status; {:.1} of its slow queries \
             answered a second while measured",
            flooder.sent.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64(),
            flooder.statuses.lock().unwrap(),
            (answered.unwrap_or(0) - before.unwrap_or(0)) as f64 / seconds,
        );
    });
}
