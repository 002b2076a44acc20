//! A worker with a slow contract, queries sealed to it, and a flooding client: shared by the
//! query tests and the flood benchmark.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parity_scale_codec::{DecodeLimit, Encode};
use phala_crypto::keys::Seed;
use phala_crypto::query::{Answer, QueryBody, QuerySigner, SignedQuery, SignedReply};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use phala_vm::ContractInfo;
use phala_worker::contracts::{ContractRuntime, ContractsState};
use phala_worker::gatekeeper::ClusterKey;
use phala_worker::http::Shared;
use phala_worker::query::QueryService;

pub const GENESIS: H256 = H256([1; 32]);
pub const HEIGHT: u32 = 10;
/// Requests each flooding connection sends at most, so the flood ends by itself.
pub const FLOOD_ROUNDS: usize = 200;

/// A contract whose every call counts down a loop: an expensive query that still succeeds.
pub const SLOW: &str = r#"(module
    (import "env" "memory" (memory 1 16))
    (func (export "deploy"))
    (func (export "call") (local $i i32)
        (local.set $i (i32.const 16000000))
        (loop $again
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (br_if $again (local.get $i)))))"#;

pub struct Worker {
    pub identity: [u8; 32],
    pub query_key: [u8; 32],
    pub slow: H256,
}

/// Gas the slow contract's call uses.
pub const SLOW_GAS: u64 = 48_000_018;

pub fn worker(runtime: ContractRuntime) -> (Arc<Shared>, Worker) {
    let query_key = EcdhSecret::from_bytes([2; 32]);
    let recipient = query_key.public();
    let identity = Sr25519Pair::from_uri("//Worker").unwrap();
    let me = identity.public();
    let cluster = ClusterKey {
        cluster: H256([7; 32]),
        seed: Seed::from_bytes([9; 32]),
        members: 1,
    };
    let runtime = Arc::new(runtime);
    let code_hash = runtime.codes.add(&wat::parse_str(SLOW).unwrap());
    let slow = [0x51; 32];
    let mut state = ContractsState::default();
    state.codes.insert(code_hash);
    state.contracts.insert(
        slow,
        ContractInfo {
            code_hash,
            deployer: [0xa1; 32],
        },
    );
    let queries = QueryService::with_keys(GENESIS, HEIGHT, H256([3; 32]), query_key, identity)
        .with_contracts(cluster, Arc::new(state), runtime);
    let shared = Arc::new(Shared {
        queries: Arc::new(queries),
        ..Default::default()
    });
    (
        shared,
        Worker {
            identity: me,
            query_key: recipient,
            slow: H256(slow),
        },
    )
}

/// A query signed by `signer`, sealed to the worker: the request body, the key that opens
/// the reply, and the nonce the reply must echo.
pub fn query(
    worker: &Worker,
    signer: &Sr25519Pair,
    contract: H256,
    n: u64,
) -> (Vec<u8>, EcdhSecret, [u8; 32]) {
    sealed(worker, Some(signer), contract, n)
}

pub fn anonymous(worker: &Worker, contract: H256, n: u64) -> (Vec<u8>, EcdhSecret, [u8; 32]) {
    sealed(worker, None, contract, n)
}

pub fn sealed(
    worker: &Worker,
    signer: Option<&Sr25519Pair>,
    contract: H256,
    n: u64,
) -> (Vec<u8>, EcdhSecret, [u8; 32]) {
    let id = signer.map_or([0xee; 32], |s| s.public());
    let mut nonce = [0u8; 32];
    nonce[..8].copy_from_slice(&n.to_le_bytes());
    nonce[8..16].copy_from_slice(&id[..8]);
    let body = QueryBody {
        worker: worker.identity,
        contract,
        nonce,
        expires_at: HEIGHT + 50,
        payload: Vec::new(),
    };
    let signer = signer.map(|signer| QuerySigner::Account {
        account: signer.account_id(),
        signature: signer.sign(&body.signing_payload(&GENESIS)),
    });
    let query = SignedQuery { body, signer };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[8..16].copy_from_slice(&id[8..16]);
    let ephemeral = EcdhSecret::from_bytes(seed);
    let sealed = Envelope::seal_with(
        &ephemeral,
        [0; 12],
        &worker.query_key,
        Purpose::Query,
        Some(contract),
        &query.encode(),
    )
    .unwrap();
    (sealed.encode(), ephemeral, nonce)
}

/// Opens and checks a reply; returns the answer inside.
pub fn open(worker: &Worker, reply: &[u8], ephemeral: &EcdhSecret, nonce: &[u8; 32]) -> Answer {
    let opened = Envelope::decode_bounded(reply)
        .unwrap()
        .open(ephemeral)
        .unwrap();
    let signed = SignedReply::decode_all_with_depth_limit(8, &mut opened.as_slice()).unwrap();
    let reply = signed.verify(&GENESIS, &worker.identity, nonce).unwrap();
    Answer::decode_all_with_depth_limit(4, &mut reply.payload.as_slice()).unwrap()
}

pub fn client(from: Ipv4Addr) -> reqwest::Client {
    // reqwest is built without a TLS provider of its own; these requests are plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .timeout(phala_client::worker::QUERY_TIMEOUT)
        .build()
        .unwrap()
}

/// What the flood's requests were answered with, by HTTP status (0: no answer).
pub type Statuses = Arc<std::sync::Mutex<BTreeMap<u16, usize>>>;

/// A flooding client: connections from 127.0.0.1, each sending the slow query signed by one
/// of Mallory's accounts (accounts cost nothing to make), a new one after each answer, the
/// same one again soon after a refusal, until stopped or `rounds` requests.
#[derive(Clone)]
pub struct Flooder {
    url: String,
    http: reqwest::Client,
    worker: Arc<Worker>,
    mallory: Arc<Vec<Sr25519Pair>>,
    stop: Arc<AtomicBool>,
    /// Requests each connection sends at most.
    pub rounds: usize,
    /// Requests sent.
    pub sent: Arc<AtomicUsize>,
    pub statuses: Statuses,
}

impl Flooder {
    pub fn new(url: &str, worker: Arc<Worker>) -> Self {
        Self {
            url: url.to_string(),
            http: client(Ipv4Addr::new(127, 0, 0, 1)),
            worker,
            mallory: Arc::new(
                (0..3)
                    .map(|i| Sr25519Pair::from_uri(&format!("//Mallory//{i}")).unwrap())
                    .collect(),
            ),
            stop: Arc::default(),
            rounds: FLOOD_ROUNDS,
            sent: Arc::default(),
            statuses: Statuses::default(),
        }
    }

    /// Opens `connections` flooding connections; returns once each has sent a request.
    pub async fn start(&self, connections: usize) -> Vec<tokio::task::JoinHandle<()>> {
        let tasks = (0..connections)
            .map(|task| tokio::spawn(self.clone().connection(task)))
            .collect();
        let first = self.sent.load(Ordering::Relaxed);
        while self.sent.load(Ordering::Relaxed) < first + connections {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tasks
    }

    /// Gives up: requests still waiting are dropped, as a client that disconnects drops them.
    pub async fn stop(&self, tasks: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("the flood ends");
        }
    }

    async fn connection(self, task: usize) {
        let mut fresh = (task * self.rounds) as u64;
        let mallory = &self.mallory[task % self.mallory.len()];
        let mut refused = None;
        for _ in 0..self.rounds {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let body = refused.take().unwrap_or_else(|| {
                fresh += 1;
                query(&self.worker, mallory, self.worker.slow, fresh).0
            });
            self.sent.fetch_add(1, Ordering::Relaxed);
            let status = match self.http.post(&self.url).body(body.clone()).send().await {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            };
            *self.statuses.lock().unwrap().entry(status).or_default() += 1;
            if status == 429 || status == 503 {
                // Refused unread: try it again soon, as an attacker would, without spinning.
                refused = Some(body);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
