//! Joining a cluster that exists, the host's side (the core's is
//! `phala_worker_core::core::join`): serving this member's sealed cluster state to joining
//! workers (`GET /cluster/state`), and fetching one for this worker from the members the
//! operator names (`--cluster-peer`). The state is sealed under the cluster key inside the
//! TEE, so neither host can read or forge it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use phala_primitives::BlockNumber;
use phala_worker_core::core::JoinError;

use crate::http::Shared;

/// How long a sealed state is served again before a fresh one is made: sealing a large
/// state takes time, and many joining workers may ask at once.
const REUSE_FOR: Duration = Duration::from_secs(10);
/// Longest a fetch of a member's state may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Most bytes read from a member.
const MAX_FETCH: u64 = phala_worker_core::core::max_sealed_state_bytes();

/// The last state this member sealed, or why it could not: when, and the outcome (the
/// block and the bytes, shared by every response rather than copied).
pub type Cached = Mutex<Option<(Instant, Result<(BlockNumber, Bytes), JoinError>)>>;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/cluster/state", get(state))
}

/// `GET /cluster/state`: this member's cluster state, sealed under the cluster key, with
/// its block in `x-phala-state-at`. 409 from a worker that is joining itself, 404 from one
/// in no cluster, 503 while another request's seal is under way. One seal at a time, and
/// its outcome is reused for [`REUSE_FOR`], so requests cost the member little.
async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let made = tokio::task::spawn_blocking(move || {
        // Never queue blocking threads behind a seal: the others are told to come back.
        let Ok(mut cached) = shared.cluster_state.try_lock() else {
            return None;
        };
        if let Some((when, outcome)) = cached.as_ref()
            && when.elapsed() < REUSE_FOR
        {
            return Some(outcome.clone());
        }
        // Stale bytes are let go before new ones are made.
        *cached = None;
        let outcome = shared
            .queries
            .export_cluster_state(&mut commonware_utils::sys_rng())
            .map(|(at, bytes)| (at, Bytes::from(bytes)));
        *cached = Some((Instant::now(), outcome.clone()));
        Some(outcome)
    })
    .await;
    match made {
        Ok(Some(Ok((at, bytes)))) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::HeaderName::from_static("x-phala-state-at"),
                    at.to_string(),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "2")],
            "another request's state is being sealed; try again shortly\n",
        )
            .into_response(),
        Ok(Some(Err(e @ JoinError::Joining))) => {
            (StatusCode::CONFLICT, format!("{e}\n")).into_response()
        }
        Ok(Some(Err(e @ JoinError::NoCluster))) => {
            (StatusCode::NOT_FOUND, format!("{e}\n")).into_response()
        }
        Ok(Some(Err(e))) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// Fetches a member's sealed state from `peer` (a worker API URL), bounded in size and time.
pub fn fetch(peer: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let url = format!("{}/cluster/state", peer.trim_end_matches('/'));
    let client = reqwest::blocking::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let response = client.get(&url).send().map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let mut body = Vec::new();
    response
        .take(MAX_FETCH.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(format!("{url} answered {status}: {}", text.trim()));
    }
    if u64::try_from(body.len()).unwrap_or(u64::MAX) > MAX_FETCH {
        return Err(format!("{url} sent more than {MAX_FETCH} bytes"));
    }
    Ok(body)
}

/// The host's wait for a member's state: which peer is next, a fetched state waiting for
/// this worker to catch up with it, and when to try again.
#[derive(Default)]
pub struct Fetching {
    pub next_peer: usize,
    pub held: Option<Vec<u8>>,
    pub next_try: Option<Instant>,
    pub said_no_peer: Option<Instant>,
}

impl Fetching {
    pub fn due(&self) -> bool {
        self.next_try.is_none_or(|t| Instant::now() >= t)
    }

    pub fn wait(&mut self, for_: Duration) {
        self.next_try = Some(Instant::now() + for_);
    }
}
