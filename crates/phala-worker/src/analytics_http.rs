//! The worker's Web3 Analytics endpoints:
//! - `GET /analytics/info`: the cluster's analytics key, vouched for by the cluster key, and
//!   the sites this cluster serves;
//! - `POST /analytics/ingest`: one sealed consent or page view from a visitor's browser,
//!   answered once it is in a batch sealed into the worker's checkpoint (so it survives a
//!   crash);
//! - `POST /analytics/access`: a visitor's sealed request for what is held about them,
//!   answered sealed to them (with the cluster's receipt for their consent, once ordered);
//! - `GET /analytics/tracker.js`: the tracker script a site's pages load.
//!
//! Browsers call them from the site's pages, so they answer cross-origin requests; ingest
//! only from the site's own domain (checked per site by the desk).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use phala_crypto::query::Source;
use phala_worker_core::analytics::ingest::{IngestDesk, IngestError};
use serde::Serialize;

use crate::http::Shared;

/// The tracker script, served to the site's pages.
pub const TRACKER_JS: &str = include_str!("../assets/tracker.js");
/// How long an ingest waits for its batch to be sealed into the checkpoint.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// What the analytics endpoints share with the host.
#[derive(Debug)]
pub struct AnalyticsShared {
    pub desk: IngestDesk,
    /// Takes below this number are sealed in the checkpoint.
    pub durable: tokio::sync::watch::Sender<u64>,
    pub info: Mutex<AnalyticsInfo>,
    /// The node the worker follows: withdrawals are relayed to it.
    pub node: Mutex<Option<phala_client::Client>>,
}

impl Default for AnalyticsShared {
    fn default() -> Self {
        AnalyticsShared {
            desk: IngestDesk::default(),
            durable: tokio::sync::watch::Sender::new(0),
            info: Mutex::default(),
            node: Mutex::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsInfo {
    pub genesis_hash: String,
    pub cluster: Option<String>,
    pub cluster_pubkey: Option<String>,
    /// The X25519 key visitors seal to.
    pub service_key: Option<String>,
    /// The cluster key's sr25519 signature of `"phala/analytics/service-key:" ‖ genesis ‖
    /// cluster ‖ service key`.
    pub service_key_signature: Option<String>,
    /// The newest block this worker verified: trackers name it in consents.
    pub head: u32,
    /// Block time of that block (Unix ms).
    pub head_time_ms: u64,
    pub sites: Vec<u64>,
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

impl AnalyticsInfo {
    pub fn of(core: &phala_worker_core::core::WorkerCore) -> Self {
        let key = core.analytics_service_key();
        AnalyticsInfo {
            genesis_hash: hex(core.genesis_hash().as_bytes()),
            cluster: core.cluster_public().map(|(c, _)| hex(c.as_bytes())),
            cluster_pubkey: core.cluster_public().map(|(_, k)| hex(&k)),
            service_key: key.map(|(k, _)| hex(&k)),
            service_key_signature: key.map(|(_, s)| hex(&s)),
            head: core.head().0,
            head_time_ms: core.state().timestamp_ms,
            sites: core.state().analytics.sites.keys().copied().collect(),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Who sent a request, as limits count: an IPv4 address or an IPv6 /64.
fn source_of(connection: Option<Extension<ConnectInfo<SocketAddr>>>) -> Source {
    connection.map_or(Source::UNKNOWN, |Extension(ConnectInfo(addr))| {
        Source::from(addr.ip())
    })
}

/// Charges a request to its sender's share; the refusal to send if it is spent.
fn charge(
    s: &Shared,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    origin: Option<&HeaderValue>,
) -> Option<Response> {
    s.analytics
        .desk
        .charge(source_of(connection), now_ms())
        .err()
        .map(|e| cors((StatusCode::TOO_MANY_REQUESTS, format!("{e}\n")), origin))
}

fn cors(response: impl IntoResponse, origin: Option<&HeaderValue>) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin.cloned().unwrap_or(HeaderValue::from_static("*")),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    response
}

pub fn routes() -> Router<Arc<Shared>> {
    let preflight = |headers: HeaderMap| async move {
        cors(StatusCode::NO_CONTENT, headers.get(header::ORIGIN))
    };
    Router::new()
        .route(
            "/analytics/info",
            get(|State(s): State<Arc<Shared>>| async move {
                let info = s
                    .analytics
                    .info
                    .lock()
                    .map(|i| i.clone())
                    .unwrap_or_default();
                cors(crate::http::json(&info), None)
            }),
        )
        .route(
            "/analytics/tracker.js",
            get(|| async {
                cors(
                    (
                        [
                            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        TRACKER_JS,
                    ),
                    None,
                )
            }),
        )
        .route("/analytics/ingest", post(ingest).options(preflight))
        .route("/analytics/access", post(access).options(preflight))
        .route("/analytics/withdraw", post(withdraw).options(preflight))
}

/// `POST /analytics/withdraw`: a SCALE `WithdrawRequest`, put on chain as a fee-free
/// transaction; the chain checks it (the node's refusal comes back as the reason).
async fn withdraw(
    State(s): State<Arc<Shared>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use parity_scale_codec::DecodeLimit;
    use phala_mq::analytics_api::WithdrawRequest;
    let origin = headers.get(header::ORIGIN);
    if let Some(refused) = charge(&s, connection, origin) {
        return refused;
    }
    let request = match WithdrawRequest::decode_all_with_depth_limit(8, &mut &body[..]) {
        Ok(r) => r,
        Err(e) => {
            return cors(
                (
                    StatusCode::BAD_REQUEST,
                    format!("the withdrawal does not decode: {e}\n"),
                ),
                origin,
            );
        }
    };
    let Some(node) = s.analytics.node.lock().ok().and_then(|n| n.clone()) else {
        return cors(
            (StatusCode::SERVICE_UNAVAILABLE, "no node connected yet\n"),
            origin,
        );
    };
    let call = phala_runtime::RuntimeCall::Analytics(
        phala_runtime::modules::analytics::Call::withdraw_consent {
            site: request.site,
            visitor: request.visitor,
            signed_at: request.signed_at,
            signature: request.signature,
            receipt: request.receipt,
        },
    );
    match node.submit_unsigned(&call).await {
        Ok(hash) => cors(
            crate::http::json(&serde_json::json!({ "transaction": hex(hash.as_bytes()) })),
            origin,
        ),
        Err(e) => cors(
            (
                StatusCode::BAD_REQUEST,
                format!("the chain refused the withdrawal: {e}\n"),
            ),
            origin,
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngestReply {
    site: u64,
    /// True once it is sealed in the worker's checkpoint, on its way to the chain.
    durable: bool,
}

/// `POST /analytics/ingest`.
async fn ingest(
    State(s): State<Arc<Shared>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = headers.get(header::ORIGIN);
    let source = source_of(connection);
    let origin_str = origin.and_then(|o| o.to_str().ok()).map(str::to_string);
    // Opening and verifying take a fraction of a millisecond of CPU: off the async threads.
    let shared = s.clone();
    let accepted = tokio::task::spawn_blocking(move || {
        shared
            .analytics
            .desk
            .accept(&body, origin_str.as_deref(), source, now_ms())
    })
    .await
    .unwrap_or(Err(IngestError::Busy));
    let accepted = match accepted {
        Ok(accepted) => accepted,
        Err(e) => {
            let status = match e {
                IngestError::Flooded => StatusCode::TOO_MANY_REQUESTS,
                IngestError::Busy | IngestError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
                IngestError::WrongOrigin { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            return cors((status, format!("{e}\n")), origin);
        }
    };
    // Answered once its take is sealed in the checkpoint (or after a bound: it is still
    // queued, only not yet safe from a crash).
    let mut durable = s.analytics.durable.subscribe();
    let wait = durable.wait_for(|d| *d > accepted.generation);
    let durable = matches!(tokio::time::timeout(DURABLE_WAIT, wait).await, Ok(Ok(_)));
    let reply = IngestReply {
        site: accepted.site,
        durable,
    };
    let status = if durable {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    cors((status, crate::http::json(&reply)), origin)
}

/// `POST /analytics/access`: the sealed answer, or 400 with the reason for input that does
/// not open.
async fn access(
    State(s): State<Arc<Shared>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = headers.get(header::ORIGIN);
    if let Some(refused) = charge(&s, connection, origin) {
        return refused;
    }
    let queries = s.queries.clone();
    let answer = tokio::task::spawn_blocking(move || {
        queries.analytics_access(&mut commonware_utils::sys_rng(), &body)
    })
    .await;
    match answer {
        Ok(Ok(reply)) => cors(
            ([(header::CONTENT_TYPE, "application/octet-stream")], reply),
            origin,
        ),
        Ok(Err(e)) => cors((StatusCode::BAD_REQUEST, format!("{e}\n")), origin),
        Err(_) => cors(
            (StatusCode::INTERNAL_SERVER_ERROR, "access task failed\n"),
            origin,
        ),
    }
}
