//! Encrypted queries per second against one worker over HTTP: each of CONCURRENCY tasks
//! seals an anonymous empty query to the worker's certified query key, posts it, opens the
//! reply and checks its signature and nonce, for SECONDS. Prints queries/s and latency
//! percentiles.
//!
//! With CONTRACT and PAYLOAD (0x-hex), each query calls that contract instead of the worker
//! itself (e.g. a flipper's `get`, 0x2f865bd9).
//!
//! A worker limits each client address (queries in progress, and unexpired nonces: 10,000
//! per anonymous address per query lifetime of 100 blocks here). Against a worker on this
//! machine each task therefore connects from its own loopback address (127.0.0.2, …), as
//! CONCURRENCY separate clients would; against a remote one all share this host's address.
//!
//! usage: query_load NODE_URL WORKER_URL CONCURRENCY SECONDS [CONTRACT PAYLOAD]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parity_scale_codec::{DecodeLimit, Encode};
use phala_client::Client;
use phala_client::crypto::query::{Answer, QueryBody, SignedQuery, SignedReply, WORKER_ITSELF};
use phala_client::crypto::{EcdhSecret, Envelope, Purpose};
use phala_client::worker::WorkerApi;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (node, worker, concurrency, seconds, contract, payload) = match args.as_slice() {
        [_, node, worker, concurrency, seconds] => (
            node,
            worker,
            concurrency,
            seconds,
            WORKER_ITSELF,
            Vec::new(),
        ),
        [_, node, worker, concurrency, seconds, contract, payload] => (
            node,
            worker,
            concurrency,
            seconds,
            phala_client::primitives::H256::from_hex(contract)?,
            phala_client::primitives::crypto::decode_hex(payload)?,
        ),
        _ => {
            return Err(
                "usage: query_load NODE_URL WORKER_URL CONCURRENCY SECONDS [CONTRACT PAYLOAD]"
                    .into(),
            );
        }
    };
    let concurrency: usize = concurrency.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);
    let node = Client::connect(node).await?;
    let genesis = node.genesis_hash();
    let (worker_key, certificate) = WorkerApi::new(worker)?.query_key(&node).await?;
    let (height, _) = node.finalized_head().await?;
    let url: hyper::Uri = format!("{}/query", worker.trim_end_matches('/')).parse()?;
    let local = matches!(url.host(), Some("127.0.0.1" | "localhost"));
    let deadline = Instant::now() + duration;
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let mut connector = HttpConnector::new();
        if local {
            let [_, _, hi, lo] = (t as u32 + 2).to_be_bytes();
            connector.set_local_address(Some(IpAddr::V4(Ipv4Addr::new(127, 0, hi, lo))));
        }
        let http = HttpClient::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
        let (url, counter) = (url.clone(), counter.clone());
        let payload = payload.clone();
        let recipient = certificate.ecdh_pubkey;
        tasks.push(tokio::spawn(async move {
            let mut rng = phala_client::crypto::keys::Seed::from_bytes([t as u8; 32]);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rng = rng.derive("load", &n.to_le_bytes());
                let nonce = *rng.expose();
                let query = SignedQuery {
                    body: QueryBody {
                        worker: worker_key,
                        contract,
                        nonce,
                        // As phala_client::worker asks: within the worker's MAX_QUERY_TTL.
                        expires_at: height + 100,
                        payload: payload.clone(),
                    },
                    signer: None,
                };
                let ephemeral = EcdhSecret::from_bytes(*rng.derive("eph", b"").expose());
                let mut iv = [0u8; 12];
                iv.copy_from_slice(&rng.derive("iv", b"").expose()[..12]);
                let sealed = Envelope::seal_with(
                    &ephemeral,
                    iv,
                    &recipient,
                    Purpose::Query,
                    Some(contract),
                    &query.encode(),
                )
                .expect("seal");
                let start = Instant::now();
                let request = hyper::Request::post(url.clone())
                    .body(Full::new(Bytes::from(sealed.encode())))
                    .expect("request");
                let response = http.request(request).await.expect("post");
                assert!(response.status().is_success(), "{}", response.status());
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                let opened = Envelope::decode_bounded(&body)
                    .expect("reply envelope")
                    .open(&ephemeral)
                    .expect("opens");
                let reply = SignedReply::decode_all_with_depth_limit(8, &mut opened.as_slice())
                    .expect("reply");
                let verified = reply
                    .verify(&genesis, &worker_key, &nonce)
                    .expect("verified reply");
                let answer =
                    Answer::decode_all_with_depth_limit(4, &mut verified.payload.as_slice())
                        .expect("answer");
                assert!(answer.is_ok(), "the worker refused: {answer:?}");
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    all.sort();
    let pct = |p: usize| all.get(all.len() * p / 100).copied().unwrap_or_default();
    println!(
        "{} queries in {:?} with {concurrency} clients: {:.0} queries/s, p50 {:?}, p99 {:?}",
        all.len(),
        duration,
        all.len() as f64 / duration.as_secs_f64(),
        pct(50),
        pct(99)
    );
    Ok(())
}
