//! The worker's HTTP API: `GET /info`, `/attestation`, `/health`, `/metrics`, and
//! `POST /query` (a SCALE-encoded query envelope in, a reply envelope out).
//!
//! It serves only public facts (keys, heights, the quote) and sealed replies; nothing secret
//! is reachable from it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// What the worker shows about itself.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub pubkey: String,
    pub ecdh_pubkey: String,
    pub tee: String,
    /// True for the simulated TEE: no hardware protects this worker.
    pub simulated: bool,
    pub registered: bool,
    pub confidence_level: Option<u8>,
    pub initial_score: Option<u32>,
    pub operator: Option<String>,
    pub genesis_hash: String,
    pub synced_height: u32,
    pub chain_height: u32,
    pub runtime_version: u32,
    /// Whether this worker is a gatekeeper.
    pub gatekeeper: bool,
    /// The newest master key this gatekeeper holds: its version and public key.
    pub master_key_version: Option<u32>,
    pub master_pubkey: Option<String>,
    /// How many master key versions it holds (the history).
    pub master_key_versions: usize,
    /// The cluster whose key this worker holds, and the key's public key.
    pub cluster: Option<String>,
    pub cluster_pubkey: Option<String>,
    /// This epoch's query key, signed by the identity key (SCALE `QueryKeyCertificate`, hex).
    pub query_key: Option<QueryKeyInfo>,
    /// The cluster's contracts this worker runs.
    pub contracts: Vec<ContractSummary>,
    /// Contract commands (instantiations included) this worker has run.
    pub contract_commands_run: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractSummary {
    pub id: String,
    pub code_hash: String,
    /// A root of the contract's state keyed by the cluster key: equal on every worker of the
    /// cluster that ran the same commands, and useless for guessing the state.
    pub state_root: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryKeyInfo {
    pub epoch: u32,
    pub ecdh_pubkey: String,
    /// The whole certificate, SCALE-encoded, hex.
    pub certificate: String,
}

/// The attestation the worker registers with.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationInfo {
    pub tee: String,
    /// The quote, hex.
    pub quote: String,
    /// The registration info it binds (SCALE, hex) and its report data.
    pub registration_info: String,
    pub report_data: String,
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub synced_height: Gauge,
    pub chain_height: Gauge,
    pub blocks_imported: Counter,
    pub batches_refused: Counter,
    pub messages_submitted: Counter,
    pub registrations_submitted: Counter,
    pub queries_answered: Counter,
    pub queries_refused: Counter,
}

/// State shared between the host loop and the API.
#[derive(Debug, Default)]
pub struct Shared {
    pub info: Mutex<Info>,
    pub attestation: Mutex<AttestationInfo>,
    /// Why the worker cannot follow the chain, if it cannot.
    pub problem: Mutex<Option<String>>,
    /// Why the chain refused the worker's registration; kept until a registration succeeds.
    pub registration_problem: Mutex<Option<String>>,
    pub metrics: Metrics,
    pub queries: crate::query::QueryService,
    /// Queries being answered: beyond this many, new ones get 503 at once.
    pub query_slots: QuerySlots,
}

/// Bounds the queries answered at once (each holds a blocking thread).
#[derive(Debug)]
pub struct QuerySlots(pub Arc<tokio::sync::Semaphore>);

/// Most queries in flight.
pub const MAX_QUERIES_IN_FLIGHT: usize = 256;

impl Default for QuerySlots {
    fn default() -> Self {
        QuerySlots(Arc::new(tokio::sync::Semaphore::new(MAX_QUERIES_IN_FLIGHT)))
    }
}

impl Shared {
    fn render_metrics(&self) -> String {
        let mut registry = Registry::with_prefix("phala_worker");
        let m = &self.metrics;
        registry.register(
            "synced_height",
            "Last block verified",
            m.synced_height.clone(),
        );
        registry.register(
            "chain_height",
            "Finalized height of the node",
            m.chain_height.clone(),
        );
        registry.register(
            "blocks_imported",
            "Blocks verified and applied",
            m.blocks_imported.clone(),
        );
        registry.register(
            "batches_refused",
            "Batches refused for a bad header, certificate or proof",
            m.batches_refused.clone(),
        );
        registry.register(
            "messages_submitted",
            "Signed messages submitted to the chain",
            m.messages_submitted.clone(),
        );
        registry.register(
            "registrations_submitted",
            "Registrations submitted",
            m.registrations_submitted.clone(),
        );
        registry.register(
            "queries_answered",
            "Queries answered with a signed, encrypted reply",
            m.queries_answered.clone(),
        );
        registry.register(
            "queries_refused",
            "Queries refused before decryption",
            m.queries_refused.clone(),
        );
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

fn json<T: Serialize>(value: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).unwrap_or_default(),
    )
        .into_response()
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/info",
            get(|State(s): State<Arc<Shared>>| async move {
                let info = s.info.lock().map(|i| i.clone()).unwrap_or_default();
                json(&info)
            }),
        )
        .route(
            "/attestation",
            get(|State(s): State<Arc<Shared>>| async move {
                let a = s.attestation.lock().map(|a| a.clone()).unwrap_or_default();
                json(&a)
            }),
        )
        .route(
            "/health",
            get(|State(s): State<Arc<Shared>>| async move {
                let problem = s
                    .problem
                    .lock()
                    .ok()
                    .and_then(|p| p.clone())
                    .or_else(|| s.registration_problem.lock().ok().and_then(|p| p.clone()));
                match problem {
                    None => (StatusCode::OK, "ok\n".to_string()),
                    Some(problem) => (StatusCode::SERVICE_UNAVAILABLE, format!("{problem}\n")),
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<Arc<Shared>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    s.render_metrics(),
                )
            }),
        )
        .route(
            "/query",
            post(
                |State(s): State<Arc<Shared>>, body: axum::body::Bytes| async move {
                    let Ok(permit) = s.query_slots.0.clone().try_acquire_owned() else {
                        s.metrics.queries_refused.inc();
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "too many queries in flight\n",
                        )
                            .into_response();
                    };
                    // Decryption, signing and contracts are CPU work: off the async threads.
                    // A contract stops at its deadline or its gas; the caller is answered at
                    // the deadline (plus a margin) whatever happens, and the task keeps its
                    // slot until it ends, so stuck queries still count against the limit.
                    let shared = s.clone();
                    let limit = s.queries.timeout() + std::time::Duration::from_secs(1);
                    let task = tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        let mut rng = commonware_utils::sys_rng();
                        shared.queries.answer(&mut rng, &body)
                    });
                    let Ok(result) = tokio::time::timeout(limit, task).await else {
                        s.metrics.queries_refused.inc();
                        return (
                            StatusCode::GATEWAY_TIMEOUT,
                            format!("the query did not finish within {} s\n", limit.as_secs()),
                        )
                            .into_response();
                    };
                    match result {
                        Ok(Ok(reply)) => {
                            s.metrics.queries_answered.inc();
                            ([(header::CONTENT_TYPE, "application/octet-stream")], reply)
                                .into_response()
                        }
                        Ok(Err(e)) => {
                            s.metrics.queries_refused.inc();
                            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
                        }
                        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "query task failed\n")
                            .into_response(),
                    }
                },
            ),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            phala_crypto::MAX_ENVELOPE,
        ))
        .with_state(shared)
}

/// Binds `addr` (fails at once if taken) and serves until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(shared);
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("worker API stopped: {e}");
        }
    });
    Ok((local, handle))
}
