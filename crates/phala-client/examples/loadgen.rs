//! Load generator: end-to-end finalized transfers per second through RPC, and the time from
//! submitting one transfer to its finality.
//!
//! usage: cargo run --release -p phala-client --example loadgen -- [URL] [SENDERS] [TXS_PER_SENDER] [LATENCY_SAMPLES]
//! (defaults: ws://127.0.0.1:9944 200 10 20). Run against a `phala devnet` (or any node of a
//! network whose //Alice is funded) on an otherwise idle machine; //Alice funds the senders
//! first.

use std::time::{Duration, Instant};

use futures::StreamExt;
use phala_client::{Client, SignedTx, SigningParams, transfer_call};
use phala_keys::Sr25519Pair;
use phala_primitives::{Era, PHA};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9944".into());
    let senders: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let per_sender: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let samples: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20)
        .max(1);
    let client = Client::connect(&url).await?;
    let alice = Sr25519Pair::from_uri("//Alice")?;
    let pairs: Vec<Sr25519Pair> = (0..senders)
        .map(|i| Sr25519Pair::from_uri(&format!("//load//{i}")))
        .collect::<Result<_, _>>()?;

    let version = client.runtime_version();
    let params = |nonce| SigningParams {
        nonce,
        tip: 0,
        era: Era::Immortal,
        birth_number: 0,
        birth_hash: client.genesis_hash(),
        genesis_hash: client.genesis_hash(),
        spec_version: version.spec_version,
        transaction_version: version.transaction_version,
    };

    // Latency: one transfer at a time on an idle chain.
    let mut latencies = Vec::new();
    for _ in 0..samples {
        let start = Instant::now();
        client
            .transfer(&alice, pairs[0].account_id(), PHA, true)
            .await?
            .into_result()?;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    // Nearest-rank percentiles.
    let pct = |p: usize| latencies[(latencies.len() * p).div_ceil(100).saturating_sub(1)];
    println!(
        "submit-to-finalized latency over {} transfers: min {:?}, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies[0],
        pct(50),
        pct(99),
        latencies[latencies.len() - 1]
    );

    // Fund the senders from Alice, in chunks that fit one sender's pool allowance.
    for chunk in pairs.chunks(200) {
        let first = client.next_nonce(&alice.account_id()).await?;
        let funding: Vec<SignedTx> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| {
                SignedTx::new(
                    transfer_call(p.account_id(), 100 * PHA, true),
                    &alice,
                    params(first + i as u32),
                )
            })
            .collect();
        for tx in &funding[..funding.len() - 1] {
            client.submit(tx).await?;
        }
        client
            .submit_and_watch(&funding[funding.len() - 1])
            .await?
            .wait_finalized()
            .await?
            .into_result()?;
    }

    // Throughput: every sender sends `per_sender` transfers, all submitted at once.
    let load: Vec<SignedTx> = pairs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let dest = pairs[(i + 1) % pairs.len()].account_id();
            (0..per_sender).map(move |n| (p, dest, n))
        })
        .map(|(p, dest, n)| SignedTx::new(transfer_call(dest, PHA / 100, true), p, params(n)))
        .collect();
    let total = load.len();
    let (start_number, _) = client.finalized_head().await?;
    let start = Instant::now();
    let submitted = futures::stream::iter(load.iter())
        .map(|tx| client.submit(tx))
        .buffer_unordered(64)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    let submit_time = start.elapsed();
    let mut included = 0usize;
    let mut next = start_number + 1;
    let deadline = Instant::now() + Duration::from_secs(600);
    while included < submitted && Instant::now() < deadline {
        let (head, _) = client.finalized_head().await?;
        while next <= head {
            if let Some(hash) = client.block_hash(next).await?
                && let Some(block) = client.block(hash).await?
            {
                included += block.extrinsics.len().saturating_sub(1);
            }
            next += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();
    println!(
        "{submitted}/{total} transfers submitted in {submit_time:?}; {included} finalized in {elapsed:?} over {} blocks: {:.0} finalized transfers/s",
        next - start_number - 1,
        included as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
