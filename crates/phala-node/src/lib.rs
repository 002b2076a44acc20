//! A phala node: the chain client, driven by Commonware simplex consensus over authenticated
//! p2p, served over JSON-RPC, observed through Prometheus.
//!
//! Data flow: transactions arrive over RPC into the chain's pool; when this validator leads a
//! view, simplex asks the application ([`consensus::app`]) for a block, which executes pooled
//! transactions on its parent; other validators re-execute it before voting. Marshal hands
//! finalized blocks, in order, to the orchestrator ([`consensus::orchestrator`]), which commits
//! each with its certificate (`phala_chain::Chain::finalize_block`), switches committees at
//! epoch boundaries and only then acknowledges; RPC subscribers hear about it from the chain's
//! broadcast.
//!
//! Everything runs on Commonware's tokio runtime, whose storage directory holds the consensus
//! journal and marshal's archives; the chain store lives beside it.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod consensus;
pub mod identity;
pub mod log_tag;
pub mod metrics;
mod network;
pub mod stall;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use commonware_codec::DecodeExt;
use commonware_cryptography::Signer;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_runtime::{
    Handle, Metrics as _, Runner as _, Spawner as _, Supervisor as _, tokio as cw_tokio,
};
use phala_chain::{Chain, ChainSpec, PoolLimits};
use phala_keys::Ed25519Pair;
use phala_state::StoreConfig;

use consensus::engine::{self, EngineConfig};
pub use identity::Follower;
use metrics::NodeMetrics;
pub use network::MAX_FOLLOWERS;

/// Everything a node needs to run.
pub struct NodeConfig {
    pub spec: ChainSpec,
    /// Holds `chain.redb` and the consensus data (`consensus/`).
    pub base_path: PathBuf,
    /// This validator's consensus key.
    pub validator: Option<Ed25519Pair>,
    pub rpc_addr: SocketAddr,
    pub prometheus_addr: Option<SocketAddr>,
    /// Where to listen for peers; defaults to this validator's address in the spec.
    pub p2p_listen: Option<SocketAddr>,
    /// Recent states kept readable (`None`: all).
    pub pruning: Option<u32>,
    pub name: String,
    /// Full nodes this validator lets in to follow the chain (they dial us; we never dial
    /// them).
    pub followers: Vec<Follower>,
    /// Tags this node's log lines (see [`log_tag`]) where one process runs several nodes.
    pub log_tag: Option<String>,
}

/// What a started node tells its caller.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub rpc_addr: SocketAddr,
    pub prometheus_addr: Option<SocketAddr>,
    pub p2p_addr: Option<SocketAddr>,
    /// The p2p public key (the consensus key for validators, the node key for full nodes):
    /// what a validator's `--follower 0xKEY@HOST:PORT` names.
    pub p2p_key: [u8; 32],
    pub genesis_hash: phala_primitives::H256,
    pub finalized: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Chain(#[from] phala_chain::ChainError),
    #[error("cannot start the RPC server on {addr}: {reason}")]
    Rpc { addr: SocketAddr, reason: String },
    #[error("cannot listen for metrics on {addr}: {cause}")]
    Metrics {
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error("consensus stopped: {0}")]
    Stopped(String),
}

/// The first socket address `host:port` resolves to.
fn resolve(address: &str) -> Result<SocketAddr, NodeError> {
    use std::net::ToSocketAddrs;
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| NodeError::Config(format!("cannot resolve the p2p address {address:?}")))
}

/// Where this validator listens: its registered address on chain, or its genesis entry.
fn own_address(chain: &Chain, key: &[u8; 32]) -> Result<SocketAddr, NodeError> {
    use phala_runtime::modules::validators;
    let view = chain.view(None)?;
    let backend = phala_chain::backend::ViewBackend(&view);
    let ext = phala_runtime::Ext::new(&backend);
    let registered = validators::KEY_OWNER
        .get(&ext, key)
        .and_then(|account| validators::CANDIDATES.get(&ext, &account))
        .map(|c| String::from_utf8_lossy(&c.p2p_address).to_string());
    let from_spec = || {
        chain
            .spec()
            .validators()
            .ok()?
            .into_iter()
            .find(|v| v.consensus_key == *key)
            .map(|v| v.p2p_address)
    };
    let address = registered.or_else(from_spec).ok_or_else(|| {
        NodeError::Config(format!(
            "the validator key 0x{} is not registered on chain nor in the chain spec: check \
             that --validator is the consensus key's secret (phrase or seed), not its public \
             key",
            hex::encode(key)
        ))
    })?;
    resolve(&address)
}

fn full_node_needs_port() -> NodeError {
    NodeError::Config(
        "a full node (no --validator) needs --p2p-port: it dials the validators that admit it with --follower".into(),
    )
}

/// The consensus key as Commonware's type.
fn consensus_key(pair: &Ed25519Pair) -> Result<PrivateKey, NodeError> {
    PrivateKey::decode(bytes::Bytes::copy_from_slice(pair.seed().as_slice()))
        .map_err(|e| NodeError::Config(format!("invalid consensus key: {e}")))
}

/// Runs a node until Ctrl-C or SIGTERM (or a fatal error). `on_ready` is called once RPC is
/// up. Blocks the calling thread: it owns the runtime.
pub fn run(
    config: NodeConfig,
    on_ready: impl FnOnce(&NodeInfo) + Send + 'static,
) -> Result<(), NodeError> {
    run_until(config, on_ready, shutdown_signal())
}

/// Like [`run`], but stops when `stop` resolves instead of on a signal (for embedding and
/// tests).
pub fn run_until(
    config: NodeConfig,
    on_ready: impl FnOnce(&NodeInfo) + Send + 'static,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    if config.validator.is_none() && config.p2p_listen.is_none() {
        return Err(full_node_needs_port());
    }
    if config.followers.len() > network::MAX_FOLLOWERS {
        return Err(NodeError::Config(format!(
            "at most {} followers can be admitted, not {}",
            network::MAX_FOLLOWERS,
            config.followers.len()
        )));
    }
    if let Some(tag) = &config.log_tag {
        log_tag::register_thread(tag);
    }
    // Every port is claimed before anything is written: a node that cannot listen leaves no
    // chain behind in its base path.
    let listeners = Listeners::bind(&config)?;
    let storage = config.base_path.join("consensus");
    std::fs::create_dir_all(&config.base_path).map_err(|e| {
        NodeError::Config(format!(
            "cannot create base path {}: {e}",
            config.base_path.display()
        ))
    })?;
    // Opened before the runtime starts: a base path used by another node fails here with a
    // clear error instead of waiting forever on the consensus storage lock.
    let mut store = StoreConfig::new(config.base_path.join("chain.redb"));
    store.pruning = config.pruning;
    let chain = Chain::open(config.spec.clone(), store, PoolLimits::default())?;
    // An old release restarted after the chain scheduled a newer runtime refuses to go on
    // rather than execute the switch block with the wrong rules.
    chain
        .check_next_runtime()
        .map_err(|e| NodeError::Config(e.to_string()))?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    let runtime = cw_tokio::Config::new()
        .with_worker_threads(threads)
        .with_storage_directory(storage)
        .with_catch_panics(false);
    let log_tag = config.log_tag.clone();
    cw_tokio::Runner::new(runtime).start(|context| async move {
        if let Some(tag) = &log_tag {
            log_tag::register(&tokio::runtime::Handle::current(), tag);
        }
        let result = run_inner(
            context.child("node"),
            config,
            listeners,
            chain,
            on_ready,
            stop,
        )
        .await;
        // Stop every task (consensus, p2p) before the runtime exits, so storage is closed.
        let _ = context.stop(0, Some(Duration::from_secs(10))).await;
        result
    })
}

/// The RPC and metrics sockets, bound before the node writes anything.
struct Listeners {
    rpc: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
}

impl Listeners {
    fn bind(config: &NodeConfig) -> Result<Listeners, NodeError> {
        let addr = config.rpc_addr;
        let rpc = std::net::TcpListener::bind(addr).map_err(|e| NodeError::Rpc {
            addr,
            reason: port_hint(&e, "--rpc-port"),
        })?;
        let metrics = config
            .prometheus_addr
            .map(|addr| {
                metrics::bind_default_or_next(addr)
                    .map_err(|cause| NodeError::Metrics { addr, cause })
            })
            .transpose()?;
        // A full node's peer port is known now. A validator's may have been registered on
        // chain since genesis, so the spec's address is checked here only for a new chain;
        // the address in use is checked again once the chain is open.
        let new_chain = !config.base_path.join("chain.redb").exists();
        let p2p = config.p2p_listen.or_else(|| {
            if !new_chain {
                return None;
            }
            let key = config.validator.as_ref()?.public();
            let spec = config.spec.validators().ok()?;
            let address = spec
                .into_iter()
                .find(|v| v.consensus_key == key)?
                .p2p_address;
            resolve(&address).ok()
        });
        if let Some(listen) = p2p {
            check_p2p_port(listen)?;
        }
        Ok(Listeners { rpc, metrics })
    }
}

/// An I/O error binding a port, with the flag that picks another when it is taken.
fn port_hint(e: &std::io::Error, flag: &str) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "{e}; another process (a node already running?) holds the port: pass {flag} to choose another"
        )
    } else {
        e.to_string()
    }
}

/// The p2p stack panics on a listener it cannot bind: find out first, and say what to do.
fn check_p2p_port(listen: SocketAddr) -> Result<(), NodeError> {
    match std::net::TcpListener::bind(listen) {
        Ok(_) => Ok(()),
        Err(e) => Err(NodeError::Config(format!(
            "cannot listen for peers on {listen}: {e}. The spec's address must be one of this \
             machine's (behind NAT or a DNS name for another interface, pass --p2p-port to \
             listen on all interfaces), and no other node may use the port"
        ))),
    }
}

async fn run_inner(
    context: cw_tokio::Context,
    config: NodeConfig,
    listeners: Listeners,
    chain: Arc<Chain>,
    on_ready: impl FnOnce(&NodeInfo) + Send + 'static,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    // The spec's validators must parse before anything starts.
    config
        .spec
        .validators()
        .map_err(phala_chain::ChainError::from)?;
    // Validators are known by their consensus key; a full node by a key of its own.
    let (identity, signer, listen) = match &config.validator {
        Some(validator) => {
            let listen = match config.p2p_listen {
                Some(address) => address,
                None => own_address(&chain, &validator.public())?,
            };
            let signer = consensus_key(validator)?;
            (validator.clone(), Some(signer), listen)
        }
        None => {
            let listen = config.p2p_listen.ok_or_else(full_node_needs_port)?;
            (
                identity::load_or_create_node_key(&config.base_path)?,
                None,
                listen,
            )
        }
    };
    check_p2p_port(listen)?;
    let p2p_key = identity.public();
    let block_time = Duration::from_millis(config.spec.block_time_ms);
    let node_metrics = Arc::new(NodeMetrics::default());
    let peers = Arc::new(AtomicUsize::new(0));
    let rpc_metrics = node_metrics.clone();
    let rpc = phala_rpc::start_on(
        chain.clone(),
        phala_rpc::RpcConfig {
            addr: config.rpc_addr,
            node_name: config.name.clone(),
            node_version: env!("CARGO_PKG_VERSION").to_string(),
            is_validator: config.validator.is_some(),
            local_peer_id: format!("0x{}", hex::encode(p2p_key)),
            peers: peers.clone(),
            max_connections: 100,
            on_call: Some(Arc::new(move |method: &str| {
                rpc_metrics.count_rpc_call(method)
            })),
        },
        listeners.rpc,
    )
    .await
    .map_err(|e| NodeError::Rpc {
        addr: config.rpc_addr,
        reason: e.to_string(),
    })?;

    let best_height = Arc::new(AtomicU64::new(0));
    let extra: metrics::ExtraMetrics = Default::default();
    let prometheus_addr = match (config.prometheus_addr, listeners.metrics) {
        (Some(addr), Some(listener)) => {
            let listener = listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
                .map_err(|cause| NodeError::Metrics { addr, cause })?;
            let bound = listener.local_addr().unwrap_or(addr);
            tokio::spawn(metrics::serve(
                listener,
                node_metrics.clone(),
                extra.clone(),
            ));
            Some(bound)
        }
        _ => None,
    };
    {
        let (chain, best, metrics, peers, extra) = (
            chain.clone(),
            best_height.clone(),
            node_metrics.clone(),
            peers.clone(),
            extra.clone(),
        );
        let me = config.validator.as_ref().map(|v| v.public());
        let mut watch = stall::StallWatch::new(
            chain.finalized().map(|(n, _)| n).unwrap_or(0),
            std::time::Instant::now(),
            stall::quiet_for(block_time),
        );
        tokio::spawn(async move {
            let mut blocked: Vec<String> = Vec::new();
            loop {
                if let Ok((height, _)) = chain.finalized()
                    && let Some(waited) = watch.observe(height, std::time::Instant::now())
                {
                    let (epoch, committee) = chain
                        .view(None)
                        .ok()
                        .and_then(|view| {
                            use phala_runtime::modules::validators;
                            let backend = phala_chain::backend::ViewBackend(&view);
                            let ext = phala_runtime::Ext::new(&backend);
                            let epoch =
                                validators::epoch_bounds(&ext, height.saturating_add(1))?.epoch;
                            Some((epoch, validators::committee(&ext, epoch)))
                        })
                        .unwrap_or_default();
                    let connected = peers.load(Ordering::Relaxed);
                    tracing::info!(
                        target: "node",
                        "no new finalized block for {} s (at #{height}): {}",
                        waited.as_secs(),
                        stall::reason(me, committee.as_deref(), epoch, connected)
                    );
                }
                // The p2p stack's own count of live connections, from its registry.
                let encoded = extra
                    .lock()
                    .ok()
                    .and_then(|e| e.as_ref().map(|encode| encode()));
                if let Some(text) = encoded {
                    peers.store(metrics::connected_peers(&text), Ordering::Relaxed);
                    // A block lasts hours and silently shrinks the node's connectivity:
                    // an operator must see it, and whom it hit.
                    let now_blocked = metrics::blocked_peers(&text);
                    for peer in now_blocked.iter().filter(|p| !blocked.contains(p)) {
                        tracing::warn!(target: "p2p", peer = %peer, "the p2p stack blocked a peer for misbehaviour; no connection with it until the block expires");
                    }
                    for peer in blocked.iter().filter(|p| !now_blocked.contains(p)) {
                        tracing::info!(target: "p2p", peer = %peer, "a peer's block expired");
                    }
                    blocked = now_blocked;
                }
                metrics.refresh(&chain, &best, &peers);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    let p2p_signer = consensus_key(&identity)?;
    let me: PublicKey = p2p_signer.public_key();
    let followers = config
        .followers
        .iter()
        .filter_map(|f| {
            let key = PublicKey::decode(bytes::Bytes::copy_from_slice(&f.key)).ok()?;
            Some((key, f.address))
        })
        .collect();
    let namespace = phala_light_client::namespace(&chain.genesis_hash());
    // Governance may grow the committee (`validators.setCommitteeSize`) up to the maximum:
    // the buffers fit it from the start, so no node needs restarting for it.
    let max_committee = phala_primitives::consensus::MAX_COMMITTEE_SIZE;
    let p2p = network::start(
        context.child("network"),
        &p2p_signer,
        &namespace,
        listen,
        max_committee,
    )?;
    let engine_config = EngineConfig {
        signer,
        identity: me,
        followers,
        namespace,
        block_time,
        partition_prefix: "phala".into(),
    };
    let engine = engine::start(
        context.child("consensus"),
        &engine_config,
        chain.clone(),
        best_height.clone(),
        p2p.oracle.clone(),
        p2p.oracle.clone(),
        consensus::peers::Addressed(p2p.oracle.clone()),
        p2p.channels,
    )
    .await?;
    {
        let metrics_context = context.child("metrics");
        if let Ok(mut extra) = extra.lock() {
            *extra = Some(Box::new(move || metrics_context.encode()));
        }
    }
    let finalizer = engine.orchestrator;

    let (finalized, _) = chain.finalized()?;
    on_ready(&NodeInfo {
        rpc_addr: rpc.local_addr(),
        prometheus_addr,
        p2p_addr: Some(listen),
        p2p_key,
        genesis_hash: chain.genesis_hash(),
        finalized,
    });

    let mut handles: Vec<Handle<()>> = engine.handles;
    handles.push(p2p.handle);
    let outcome = tokio::select! {
        _ = stop => {
            tracing::info!(target: "node", "shutting down");
            Ok(())
        }
        r = Handle::select(handles) => Err(NodeError::Stopped(format!("a consensus task ended: {r:?}"))),
        r = finalizer => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NodeError::Stopped(e)),
            Err(e) => Err(NodeError::Stopped(e.to_string())),
        },
    };
    rpc.stop();
    outcome
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
