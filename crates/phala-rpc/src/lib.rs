//! The node's JSON-RPC server: Substrate's legacy RPC, over HTTP and WebSocket on one port.
//!
//! polkadot.js and subxt talk to this node as they would to a Substrate node, so the method names,
//! aliases, notification names, JSON shapes and error codes are Substrate's (listed in
//! `docs/substrate-compat.md`). The methods and shapes are defined once, in `phala_rpc_api`; this
//! crate implements its server traits. A request flows: jsonrpsee (transport, limits) →
//! `middleware` (per-call accounting) → the trait's generated glue, which decodes the parameters
//! → the implementation in `chain`, `state`, `author`, `system` or `payment`, which reads the
//! [`phala_chain::Chain`] on a blocking thread and answers in a `phala_rpc_api` shape or an
//! [`errors`] object. Subscriptions (`subscriptions`, and the transaction watch in `author`)
//! follow the chain's broadcast of finalized blocks.
//!
//! Only finalized blocks exist for RPC: the best block is the finalized head, every `at`
//! parameter must name a finalized block, and new-head subscriptions emit finalized headers.
//! The server deliberately does not serve `chainHead_v1_*`/`archive_v1_*`: subxt switches to them
//! whenever `rpc_methods` lists them.
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

mod author;
mod chain;
pub mod errors;
mod middleware;
mod payment;
mod state;
mod subscriptions;
mod system;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicUsize;

use jsonrpsee::RpcModule;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, PingConfig, RandomStringIdProvider, Server, ServerConfig, ServerHandle,
};
use jsonrpsee::types::ErrorObjectOwned;
use phala_chain::Chain;
use phala_primitives::H256;
use phala_rpc_api::{
    AuthorApiServer, ChainApiServer, PaymentApiServer, StateApiServer, SystemApiServer,
};
use phala_state::StateView;

pub use middleware::OnCall;
/// Most keys (or block numbers) one request may name: bounds the reads (and the response) a
/// single call causes. Enforced while the parameters decode.
pub const MAX_KEYS: usize = phala_rpc_api::MAX_LIST;
pub use state::{MAX_PAGE, MAX_QUERY_BLOCKS, MAX_QUERY_READS};

/// Largest request body: a 4 MiB extrinsic in hex is 8 MiB, plus room for key lists.
pub const MAX_REQUEST_BYTES: u32 = 15 * 1024 * 1024;
/// Largest response body; metadata and 1000-entry pages fit well within it.
pub const MAX_RESPONSE_BYTES: u32 = 15 * 1024 * 1024;
/// Subscriptions one connection may hold open.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 1024;
/// Calls one batch may hold.
pub const MAX_BATCH_LEN: u32 = 256;

/// Everything the server needs from the node besides the chain.
#[derive(Clone)]
pub struct RpcConfig {
    pub addr: SocketAddr,
    /// `system_name`.
    pub node_name: String,
    /// `system_version`.
    pub node_version: String,
    /// `system_nodeRoles`: `Authority` for validators, `Full` otherwise.
    pub is_validator: bool,
    /// `system_localPeerId`: the node's p2p identity (its public key), empty if it has none.
    pub local_peer_id: String,
    /// Connected peers, kept current by the network layer (`system_health`).
    pub peers: Arc<AtomicUsize>,
    pub max_connections: u32,
    /// Invoked with the method name of every call (batched calls included).
    pub on_call: Option<OnCall>,
}

impl std::fmt::Debug for RpcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcConfig")
            .field("addr", &self.addr)
            .field("node_name", &self.node_name)
            .field("node_version", &self.node_version)
            .field("is_validator", &self.is_validator)
            .field("max_connections", &self.max_connections)
            .field("on_call", &self.on_call.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot bind the RPC server to {addr}: {cause}")]
    Bind {
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("RPC method registration failed: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}

/// A running server. Dropping it stops the server too.
#[derive(Debug)]
pub struct RpcHandle {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl RpcHandle {
    /// The bound address (with the actual port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and closes the open ones.
    pub fn stop(&self) {
        // Stopping twice is harmless.
        let _ = self.handle.stop();
    }

    /// Completes once the server has shut down.
    pub async fn stopped(self) {
        self.handle.stopped().await
    }
}

/// What every handler reads.
pub(crate) struct Ctx {
    pub chain: Arc<Chain>,
    pub node_name: String,
    pub local_peer_id: String,
    pub node_version: String,
    pub is_validator: bool,
    pub peers: Arc<AtomicUsize>,
    /// `rpc_methods`' answer, known once every namespace is merged.
    pub methods: OnceLock<Vec<String>>,
}

impl Ctx {
    /// The finalized block `at` names, or the finalized head.
    pub fn resolve_at(&self, at: Option<H256>) -> Result<H256, ErrorObjectOwned> {
        match at {
            None => self
                .chain
                .finalized()
                .map(|(_, hash)| hash)
                .map_err(errors::from_chain),
            Some(hash) => match self.chain.store().block_number(&hash) {
                Ok(Some(_)) => Ok(hash),
                Ok(None) => Err(errors::unknown_block(&hash)),
                Err(e) => Err(errors::state_client(e)),
            },
        }
    }

    /// The state after a finalized block (default: the head). Pending blocks are not exposed
    /// even though the chain could read them.
    pub fn view(&self, at: Option<H256>) -> Result<StateView, ErrorObjectOwned> {
        let hash = self.resolve_at(at)?;
        self.chain.view(Some(hash)).map_err(errors::from_chain)
    }
}

/// The server side of every `phala_rpc_api` trait: one handle on the shared context.
#[derive(Clone)]
pub(crate) struct Api(Arc<Ctx>);

impl std::ops::Deref for Api {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

/// A handler result: any serializable value or a JSON-RPC error.
pub(crate) type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// Runs blocking chain work off the async workers; a panic in it becomes an internal error.
pub(crate) async fn blocking<T, F>(f: F) -> RpcResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> RpcResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(errors::internal(format!("handler failed: {e}"))))
}

/// Every method and alias this server answers.
pub(crate) fn build_module(ctx: Ctx) -> Result<RpcModule<()>, RpcError> {
    let api = Api(Arc::new(ctx));
    let mut module = RpcModule::new(());
    module.merge(ChainApiServer::into_rpc(api.clone()))?;
    module.merge(StateApiServer::into_rpc(api.clone()))?;
    module.merge(AuthorApiServer::into_rpc(api.clone()))?;
    module.merge(SystemApiServer::into_rpc(api.clone()))?;
    module.merge(PaymentApiServer::into_rpc(api.clone()))?;
    let mut methods: Vec<String> = module.method_names().map(str::to_owned).collect();
    methods.sort_unstable();
    // Set once, here, before the module serves anything.
    let _ = api.methods.set(methods);
    Ok(module)
}

/// Binds `config.addr` and serves the chain until the handle is stopped or dropped.
pub async fn start(chain: Arc<Chain>, config: RpcConfig) -> Result<RpcHandle, RpcError> {
    let listener = std::net::TcpListener::bind(config.addr).map_err(|cause| RpcError::Bind {
        addr: config.addr,
        cause,
    })?;
    start_on(chain, config, listener).await
}

/// Serves the chain on a listener bound beforehand (a node claims its ports before it writes
/// anything), until the handle is stopped or dropped. `config.addr` only names it in errors.
pub async fn start_on(
    chain: Arc<Chain>,
    config: RpcConfig,
    listener: std::net::TcpListener,
) -> Result<RpcHandle, RpcError> {
    let module = build_module(Ctx {
        chain,
        node_name: config.node_name,
        local_peer_id: config.local_peer_id,
        node_version: config.node_version,
        is_validator: config.is_validator,
        peers: config.peers,
        methods: OnceLock::new(),
    })?;
    let known: Arc<HashSet<&'static str>> = Arc::new(module.method_names().collect());
    let on_call = config.on_call;
    let rpc_middleware =
        RpcServiceBuilder::new().layer_fn(move |service| middleware::CallCounter {
            service,
            on_call: on_call.clone(),
            known: known.clone(),
        });
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH_LEN))
        // Frees connection slots held by peers that vanished without closing.
        .enable_ws_ping(PingConfig::new())
        // Substrate's subscription ids: strings, so no client ever parses them as numbers.
        .set_id_provider(RandomStringIdProvider::new(16))
        .build();
    let bind_error = |cause| RpcError::Bind {
        addr: config.addr,
        cause,
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    let server = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(rpc_middleware)
        .build_from_tcp(listener)
        .map_err(bind_error)?;
    let addr = server.local_addr().map_err(bind_error)?;
    let handle = server.start(module);
    tracing::info!(target: "rpc", %addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcHandle { addr, handle })
}
