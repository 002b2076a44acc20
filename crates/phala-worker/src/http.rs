//! The worker's HTTP API: `GET /info`, `/attestation`, `/health`, `/metrics`, and
//! `POST /query` (a SCALE-encoded query envelope in, a reply envelope out); Web3 Analytics'
//! endpoints are in [`crate::analytics_http`].
//!
//! It serves only public facts (keys, heights, the quote) and sealed replies; nothing secret
//! is reachable from it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use phala_crypto::query::Source;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::query::QueryService;
use crate::query_sched::{Outcome, QueryScheduler};

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
    /// The last block at which the registered attestation is valid (the worker re-attests
    /// before it).
    pub attestation_expires_at: Option<u32>,
    pub operator: Option<String>,
    pub genesis_hash: String,
    pub synced_height: u32,
    /// The epoch the light client verifies headers in: its committee signs up to
    /// `lastBlock`, whose header announces the next committee and any new length.
    pub epoch: EpochSummary,
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
    /// Added to its cluster and waiting for a member's state from this block on: it answers
    /// nothing of the cluster's until then.
    pub cluster_joining_from: Option<u32>,
    /// This epoch's query key, signed by the identity key (SCALE `QueryKeyCertificate`, hex).
    pub query_key: Option<QueryKeyInfo>,
    /// The cluster's contracts this worker runs.
    pub contracts: Vec<ContractSummary>,
    /// Contract commands (instantiations included) this worker has run.
    pub contract_commands_run: u64,
    /// Its computing session, once it is in a stake pool.
    pub computing: Option<crate::computing_watch::ComputingInfo>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochSummary {
    pub number: u64,
    pub first_block: u32,
    pub last_block: u32,
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
    /// The quote, 0x-hex (as every byte string of `/info`).
    pub quote: String,
    /// The registration info it binds (SCALE, 0x-hex) and its report data.
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
    /// 1 while Idle or Unresponsive (computing), else 0.
    pub computing: Gauge,
    pub unresponsive: Gauge,
    pub heartbeats_sent: Gauge,
    pub heartbeats_accepted: Gauge,
    pub challenges_missed: Gauge,
    /// V × 1000, as the chain last settled it.
    pub value_milli: Gauge,
    /// Rewards paid to the pool for this worker, in whole PHA.
    pub rewards_pha: Gauge,
    /// 1 while computing without rewards or with heartbeats not accepted.
    pub computing_problem: Gauge,
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
    pub queries: Arc<QueryService>,
    /// Shares the work of queries fairly among their senders, within bounds.
    pub query_scheduler: QueryScheduler,
    /// Web3 Analytics' ingest desk and what its endpoints show.
    pub analytics: crate::analytics_http::AnalyticsShared,
    /// The cluster state this member last sealed for joining workers.
    pub cluster_state: crate::cluster_join::Cached,
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
        for (name, help, gauge) in [
            (
                "computing",
                "1 while the worker computes (Idle or Unresponsive)",
                &m.computing,
            ),
            (
                "unresponsive",
                "1 while the chain marks the worker Unresponsive",
                &m.unresponsive,
            ),
            (
                "heartbeats_sent",
                "Heartbeats this worker signed",
                &m.heartbeats_sent,
            ),
            (
                "heartbeats_accepted",
                "Heartbeats the chain accepted",
                &m.heartbeats_accepted,
            ),
            (
                "challenges_missed",
                "Challenges the chain counted as missed",
                &m.challenges_missed,
            ),
            (
                "value_milli",
                "The worker's value V times 1000, as last settled",
                &m.value_milli,
            ),
            (
                "rewards_pha",
                "Rewards paid for this worker, whole PHA",
                &m.rewards_pha,
            ),
            (
                "computing_problem",
                "1 while computing without rewards or with heartbeats not accepted",
                &m.computing_problem,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

pub(crate) fn json<T: Serialize>(value: &T) -> Response {
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
        .route("/query", post(query))
        .merge(crate::analytics_http::routes())
        .merge(crate::cluster_join::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            phala_crypto::MAX_ENVELOPE,
        ))
        .with_state(shared)
}

/// `POST /query`: schedules the query fairly ([`crate::query_sched`]) and answers with the
/// sealed reply; 400 for input that does not open, 429 when the sender is over its own
/// bounds, 503 when the worker is full, 504 at the deadline.
async fn query(
    State(s): State<Arc<Shared>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: axum::body::Bytes,
) -> Response {
    // Served without connection info (in-process tests), every sender is one source.
    let source = connection.map_or(Source::UNKNOWN, |Extension(ConnectInfo(addr))| {
        Source::from(addr.ip())
    });
    // Contracts stop at the timeout; the caller is answered a margin later whatever happens,
    // counting the time the query waited.
    let timeout = s.queries.timeout();
    let limit = timeout.saturating_add(Duration::from_secs(1));
    let now = Instant::now();
    let deadline = now.checked_add(timeout).unwrap_or(now);
    let refused = |status: StatusCode, message: String| {
        s.metrics.queries_refused.inc();
        (status, format!("{message}\n")).into_response()
    };
    let receiver = match s
        .query_scheduler
        .submit(s.queries.clone(), source, body, deadline)
    {
        Ok(receiver) => receiver,
        Err(why) if why.sender_only() => {
            return refused(StatusCode::TOO_MANY_REQUESTS, why.to_string());
        }
        Err(why) => return refused(StatusCode::SERVICE_UNAVAILABLE, why.to_string()),
    };
    let timed_out = || {
        refused(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the query did not finish within {} s", limit.as_secs()),
        )
    };
    let Ok(outcome) = tokio::time::timeout(limit, receiver).await else {
        return timed_out();
    };
    match outcome {
        Ok(Outcome::Reply(reply)) => {
            s.metrics.queries_answered.inc();
            ([(header::CONTENT_TYPE, "application/octet-stream")], reply).into_response()
        }
        Ok(Outcome::Invalid(e)) => refused(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Outcome::Refused(why)) if why.sender_only() => {
            refused(StatusCode::TOO_MANY_REQUESTS, why.to_string())
        }
        Ok(Outcome::Refused(why)) => refused(StatusCode::SERVICE_UNAVAILABLE, why.to_string()),
        Ok(Outcome::TimedOut) => timed_out(),
        // The work was dropped unanswered: it panicked.
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "query task failed\n").into_response(),
    }
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
        // Each client's address: queries are shared fairly by it.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("worker API stopped: {e}");
        }
    });
    Ok((local, handle))
}
