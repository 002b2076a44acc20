//! Prometheus metrics on their own port: chain heights, pool size, RPC calls, and every metric
//! the consensus stack registers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The node's own metrics.
pub struct NodeMetrics {
    registry: Registry,
    pub best_height: Gauge,
    pub finalized_height: Gauge,
    pub pool_size: Gauge,
    pub peers: Gauge,
    pub rpc_calls: Family<Vec<(String, String)>, Counter>,
    /// Gatekeepers' settlement copies that differed from the applied one, as the finalized
    /// state counts them: anything but 0 means a faulty gatekeeper enclave.
    pub settlement_mismatches: Gauge,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("phala");
        let best_height = Gauge::default();
        let finalized_height = Gauge::default();
        let pool_size = Gauge::default();
        let peers = Gauge::default();
        let rpc_calls = Family::<Vec<(String, String)>, Counter>::default();
        let settlement_mismatches = Gauge::default();
        registry.register(
            "settlement_mismatches",
            "Gatekeeper settlement copies that differed from the applied one (finalized state)",
            settlement_mismatches.clone(),
        );
        registry.register(
            "block_height",
            "Highest block executed by this node",
            best_height.clone(),
        );
        registry.register(
            "finalized_height",
            "Highest finalized block",
            finalized_height.clone(),
        );
        registry.register(
            "txpool_size",
            "Transactions waiting in the pool",
            pool_size.clone(),
        );
        registry.register("peers", "Connected peers", peers.clone());
        registry.register("rpc_calls", "JSON-RPC calls by method", rpc_calls.clone());
        NodeMetrics {
            registry,
            best_height,
            finalized_height,
            pool_size,
            peers,
            rpc_calls,
            settlement_mismatches,
        }
    }
}

impl NodeMetrics {
    pub fn count_rpc_call(&self, method: &str) {
        self.rpc_calls
            .get_or_create(&vec![("method".to_string(), method.to_string())])
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Refreshes the gauges that mirror chain state.
    pub fn refresh(&self, chain: &phala_chain::Chain, best: &AtomicU64, peers: &AtomicUsize) {
        self.peers
            .set(i64::try_from(peers.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
        if let Ok((finalized, _)) = chain.finalized() {
            self.finalized_height.set(i64::from(finalized));
            let best = best.load(Ordering::Relaxed).max(u64::from(finalized));
            self.best_height
                .set(i64::try_from(best).unwrap_or(i64::MAX));
        }
        self.pool_size
            .set(i64::try_from(chain.pool_len()).unwrap_or(i64::MAX));
        if let Ok(view) = chain.view(None) {
            let backend = phala_chain::backend::ViewBackend(&view);
            let ext = phala_runtime::Ext::new(&backend);
            let faults =
                phala_runtime::modules::computation::SETTLEMENT_FAULTS.get_or_default(&ext);
            self.settlement_mismatches.set(i64::from(faults));
        }
    }
}

/// How many peers the p2p stack has a live connection with, read from its metrics: its
/// tracker keeps one `…directory_connected{peer="…"}` sample per connected peer and removes
/// it on disconnect.
pub fn connected_peers(encoded: &str) -> usize {
    encoded
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("directory_connected{"))
        .count()
}

/// The peers the p2p stack has blocked (for misbehaviour it detected, for hours), read from
/// its tracker's `…directory_blocked{peer="…"}` samples, sorted.
pub fn blocked_peers(encoded: &str) -> Vec<String> {
    let mut peers: Vec<String> = encoded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once("directory_blocked{peer=\"")?.1.split_once('"'))
        .map(|(peer, _)| peer.to_string())
        .collect();
    peers.sort();
    peers.dedup();
    peers
}

/// Extra text appended to every scrape (the consensus stack's own registry).
pub type ExtraMetrics = Arc<Mutex<Option<Box<dyn Fn() -> String + Send>>>>;

/// Serves `GET /metrics` until the listener fails. Deliberately tiny: one request per
/// connection, bounded request size and time.
pub async fn serve(listener: TcpListener, metrics: Arc<NodeMetrics>, extra: ExtraMetrics) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let metrics = metrics.clone();
        let extra = extra.clone();
        tokio::spawn(async move {
            let mut request = vec![0u8; 4096];
            let read =
                tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
            let Ok(Ok(n)) = read else { return };
            let head = String::from_utf8_lossy(request.get(..n).unwrap_or_default()).to_string();
            let response = if head.starts_with("GET /metrics") {
                let mut body = metrics.encode();
                if let Ok(extra) = extra.lock()
                    && let Some(f) = extra.as_ref()
                {
                    body.push_str(&f());
                }
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

/// The conventional metrics port: several nodes on one machine all default to it.
pub const DEFAULT_PORT: u16 = 9615;

/// Binds `addr`; if that is the conventional port and another process holds it, the next
/// free port after it (up to 100 on), so that a second node on one machine starts as
/// written instead of failing. Any other port is bound exactly or not at all. Blocking (a
/// node binds before its runtime starts); serve it with [`serve`] after `from_std`.
pub fn bind_default_or_next(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use std::net::TcpListener;
    match TcpListener::bind(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() == DEFAULT_PORT => {
            for port in DEFAULT_PORT.saturating_add(1)..DEFAULT_PORT.saturating_add(100) {
                if let Ok(listener) = TcpListener::bind(SocketAddr::new(addr.ip(), port)) {
                    return Ok(listener);
                }
            }
            Err(e)
        }
        other => other,
    }
}

#[cfg(test)]
mod peer_tests {
    #[test]
    fn connected_peers_are_counted_from_the_trackers_samples() {
        let text = "# HELP p2p_tracker_directory_connected When a peer connected.\n\
            # TYPE p2p_tracker_directory_connected gauge\n\
            p2p_tracker_directory_connected{peer=\"ab\"} 1700000000000\n\
            p2p_tracker_directory_connected{peer=\"cd\"} 1700000000001\n\
            p2p_tracker_directory_blocked{peer=\"ef\"} 1\n";
        assert_eq!(super::connected_peers(text), 2);
        assert_eq!(super::connected_peers(""), 0);
        assert_eq!(super::blocked_peers(text), vec!["ef".to_string()]);
        assert!(super::blocked_peers("").is_empty());
    }
}
