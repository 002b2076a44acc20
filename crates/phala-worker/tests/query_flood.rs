//! The attack on `POST /query`: one client floods the worker with expensive queries, far more
//! than it can answer at once, signed with several accounts; another caller, asking one
//! query at a time, must still get every answer. Each caller has its own address (the flooder 127.0.0.1, the other
//! 127.0.0.2), as two clients on the internet would.
//!
//! Before fair scheduling (one global limit of 256 queries in flight), the other caller got
//! 503s and timeouts: 12 of its 20 queries failed. How long it waits is measured by
//! `benches/query_flood.rs`, never asserted here.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use parity_scale_codec::DecodeAll;
use phala_crypto::query::WORKER_ITSELF;
use phala_keys::Sr25519Pair;
use phala_mq::contracts::ContractQueryResult;
use phala_primitives::AccountId32;
use phala_worker::contracts::ContractRuntime;

/// Concurrent flooding requests: more than the 256 the worker used to take in flight.
const FLOOD: usize = 600;
/// Queries the other caller sends, one after another.
const QUERIES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_caller_does_not_shut_others_out() {
    let (shared, worker) = worker(ContractRuntime::default());
    let worker = Arc::new(worker);
    let (addr, server) =
        phala_worker::http::serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), shared.clone())
            .await
            .unwrap();
    let url = format!("http://{addr}/query");

    let flooder = Flooder::new(&url, worker.clone());
    let tasks = flooder.start(FLOOD).await;

    // One query at a time, alternately for the worker itself and for the slow contract.
    let alice = Sr25519Pair::from_uri("//Alice").unwrap();
    let other = client(Ipv4Addr::new(127, 0, 0, 2));
    let mut refused = Vec::new();
    for n in 0..QUERIES as u64 {
        let contract = if n % 2 == 0 {
            WORKER_ITSELF
        } else {
            worker.slow
        };
        let (body, ephemeral, nonce) = query(&worker, &alice, contract, n);
        let response = match other.post(&url).body(body).send().await {
            Ok(response) => response,
            Err(e) => {
                refused.push(format!("query {n}: no answer: {e}"));
                continue;
            }
        };
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        if !status.is_success() {
            refused.push(format!(
                "query {n}: {status} {}",
                String::from_utf8_lossy(&bytes).trim()
            ));
            continue;
        }
        let answer = open(&worker, &bytes, &ephemeral, &nonce).expect("an answer");
        if contract == WORKER_ITSELF {
            let seen: Option<AccountId32> = phala_client::worker::decode_caller(&answer).unwrap();
            assert_eq!(seen, Some(alice.account_id()));
        } else {
            let result = ContractQueryResult::decode_all(&mut answer.as_slice()).unwrap();
            assert_eq!((result.flags, result.gas_used), (0, SLOW_GAS));
        }
    }
    flooder.stop(tasks).await;
    server.abort();
    eprintln!(
        "flood: {} requests, statuses {:?}",
        flooder.sent.load(Ordering::Relaxed),
        flooder.statuses.lock().unwrap()
    );
    assert!(
        refused.is_empty(),
        "{} of {QUERIES} queries of the other caller refused: {refused:#?}",
        refused.len()
    );
    // The flooder was refused for itself (429), never as if the worker were full (503).
    let statuses = flooder.statuses.lock().unwrap();
    assert!(statuses.contains_key(&429), "{statuses:?}");
    assert!(!statuses.contains_key(&503), "{statuses:?}");
}
