//! `phala explorer`: a read-only web explorer for any phala node.
//!
//! It reads only what every node serves — JSON-RPC, metadata, storage — through the SDK, so
//! it works against any node of any phala chain. The browser gets one small page
//! (`assets/`) that renders from this crate's JSON API, and new blocks and the node's
//! comings and goings are pushed to it as server-sent events (`/api/live`). No key ever
//! reaches it: where someone would act, a page shows the `phala` command and the
//! polkadot.js call instead.

mod api;
mod bridge_page;
mod node;
mod pages;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

pub use api::group;
use node::Node;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const FAVICON: &str = include_str!("../assets/favicon.svg");

/// A running explorer.
#[derive(Debug)]
pub struct Explorer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Serves until aborted (or the process ends).
    pub task: tokio::task::JoinHandle<()>,
}

impl Explorer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            // Nothing but this origin's own script, style and API: no third party ever sees
            // who looks at what.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

async fn live(axum::extract::State(node): axum::extract::State<Arc<Node>>) -> Response {
    // Each open page holds a stream: past the limit, one more is turned away.
    let Ok(permit) = node.streams.clone().try_acquire_owned() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too many pages are listening live",
        )
            .into_response();
    };
    let updates = node.live.subscribe();
    let first = node.status_json().to_string();
    let first =
        futures::stream::once(async move { Ok::<_, Infallible>(Event::default().data(first)) });
    let rest = futures::stream::unfold((updates, permit), |(mut updates, permit)| async move {
        loop {
            match updates.recv().await {
                Ok(text) => return Some((Ok(Event::default().data(text)), (updates, permit))),
                // A slow page misses some updates; the next one brings it current.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(first.chain(rest))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// For the explorer's own page: an answer that is a state to show ("not found", "node
/// unreachable") goes out as 200 with the real status in `X-Status`, so the browser's
/// console does not log it as a failed load. Every other client gets the real status.
async fn page_status(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let from_page = request.headers().contains_key("x-explorer-page");
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    let status = response.status();
    if from_page && !status.is_success() {
        *response.status_mut() = axum::http::StatusCode::OK;
        response
            .headers_mut()
            .insert("x-status", axum::http::HeaderValue::from(status.as_u16()));
    }
    response
}

fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        // Browsers ask for it whatever the page says.
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .route("/api/status", get(api::status))
        .route("/api/home", get(api::home))
        .route("/api/block/{id}", get(api::block))
        .route("/api/account/{id}", get(api::account_page))
        .route("/api/search", get(api::search))
        .route("/api/validators", get(pages::validators_page))
        .route("/api/gatekeepers", get(pages::gatekeepers_page))
        .route("/api/workers", get(pages::workers_page))
        .route("/api/pools", get(pages::pools_page))
        .route("/api/contracts", get(pages::contracts_page))
        .route("/api/governance", get(pages::governance_page))
        .route("/api/treasury", get(pages::treasury_page))
        .route("/api/bridge", get(bridge_page::bridge_page))
        .route("/api/live", get(live))
        .layer(axum::middleware::from_fn(page_status))
        .with_state(node)
}

/// Starts the explorer for the node at `node_url` on `listen` (port 0: a free one). It
/// starts even if the node does not answer yet: the pages say so until it does.
pub async fn start(node_url: &str, listen: SocketAddr) -> std::io::Result<Explorer> {
    let node = Node::new(node_url.to_string());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(node.clone());
    // One task for both: aborting it stops the follower too.
    let task = tokio::spawn(async move {
        tokio::select! {
            served = axum::serve(listener, app).into_future() => {
                if let Err(e) = served {
                    tracing::error!(target: "explorer", "the explorer stopped serving: {e}");
                }
            }
            () = node.follow() => {}
        }
    });
    Ok(Explorer { addr, task })
}
