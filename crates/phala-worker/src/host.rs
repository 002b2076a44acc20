//! The host shell around the core: the TEE provider, sealed files, the relayer loop and
//! the HTTP API.
//!
//! The relayer is untrusted by design: it fetches finalized headers, certificates and read
//! proofs from a node and feeds them to the core, which verifies everything; it submits the
//! core's registration and signed messages as extrinsics paid by the operator. A batch the
//! core refuses is retried with backoff and reported loudly, never skipped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parity_scale_codec::Encode;
use phala_attestation::Attestation;
use phala_client::{Client, TxOptions};
use phala_keys::Sr25519Pair;
use phala_light_client::LightClient;
use phala_primitives::{BlockNumber, H256};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::{message_queue, registry};
use phala_tee::seal::Sealer;
use phala_tee::{Platform, TeeKind};
use tracing::{debug, error, info, warn};

use crate::contract_env::HttpPolicy;
use crate::contracts::ContractRuntime;
use crate::core::{CoreError, SyncBatch, SyncBlock, WorkerCore};
use crate::http::Shared;
use crate::keys::WorkerKeys;
use crate::{bench, checkpoint};

/// Most blocks fetched and verified as one batch.
pub const MAX_BATCH: u32 = 256;
/// Requests in flight to the node while fetching a batch.
const FETCH_CONCURRENCY: usize = 32;
/// How often a caught-up worker polls for new finalized blocks.
const POLL: Duration = Duration::from_millis(250);
/// How often ingested analytics events are sealed into a batch, and how many make one at
/// once.
const ANALYTICS_FLUSH_EVERY: Duration = Duration::from_millis(1_000);
const ANALYTICS_FLUSH_AT: usize = 2_000;
/// After this many refusals of the same batch the worker says it is stuck.
const STUCK_AFTER: u32 = 3;
/// How often a wait (for an unreachable node) is said again in the log.
const WAIT_LOG_EVERY: Duration = Duration::from_secs(5);
/// Failed requests in a row after which the worker opens a new connection to its node.
const RECONNECT_AFTER: u32 = 3;

/// Which TEE provider the worker runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeeChoice {
    Simulated,
    Sgx,
    Tdx,
}

#[derive(Debug)]
pub struct WorkerConfig {
    pub node_url: String,
    pub base_path: PathBuf,
    /// Pays for the worker's extrinsics and collects what it earns.
    pub operator: Sr25519Pair,
    pub tee: TeeChoice,
    pub listen: SocketAddr,
    /// Refuse a node whose genesis differs (trust on first use if `None`).
    pub genesis_hash: Option<H256>,
    /// Start from this epoch-boundary block instead of genesis (first start only). It is
    /// verified back to genesis by one certificate per epoch, so it needs no trust.
    pub trusted_checkpoint: Option<H256>,
    /// Collateral for a hardware quote (Intel PCS/PCCS JSON).
    pub collateral: Option<PathBuf>,
    /// Draw a progress bar while catching up (a terminal), or log lines.
    pub progress_bar: bool,
    pub contracts: ContractsConfig,
    /// Web3 Analytics statements one address may send per minute (its fair share of
    /// ingestion).
    pub ingest_per_source: u32,
    /// Worker API URLs of cluster members to fetch the cluster's state from, should this
    /// worker be added to a cluster that exists.
    pub cluster_peers: Vec<String>,
}

/// What contracts may do in this worker.
#[derive(Clone, Debug)]
pub struct ContractsConfig {
    /// Hosts contracts may reach over HTTP(S) in queries (see [`HttpPolicy::allows`]).
    pub http_allow: Vec<String>,
    /// Longest a query may run, HTTP included.
    pub query_timeout: Duration,
    /// Most gas a query may use.
    pub query_gas: u64,
}

impl Default for ContractsConfig {
    fn default() -> Self {
        Self {
            http_allow: Vec::new(),
            query_timeout: crate::contracts::DEFAULT_QUERY_TIMEOUT,
            query_gas: crate::contracts::DEFAULT_QUERY_GAS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("TEE: {0}")]
    Tee(#[from] phala_tee::TeeError),
    #[error("keys: {0}")]
    Keys(#[from] crate::keys::KeysError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("the checkpoint cannot be resumed: {0}")]
    Resume(#[from] CoreError),
    #[error("node: {0}")]
    Node(String),
    #[error("{0}")]
    Config(String),
    #[error("cannot serve the worker API on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The name of the file a running worker locks in its base path.
pub const LOCK_FILE: &str = "LOCK";

/// Locks the base path for this process (an OS advisory lock, released when the process
/// ends, even by SIGKILL).
fn lock_base_path(base: &std::path::Path) -> Result<std::fs::File, WorkerError> {
    let path = base.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| WorkerError::Config(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(WorkerError::Config(format!(
            "another worker is running with base path {}: two copies of one worker sign              different messages with the same sequences, and the chain slashes its pool's              stake for that (stop the other one first)",
            base.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(WorkerError::Config(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

fn open_platform(config: &WorkerConfig) -> Result<Box<dyn Platform>, WorkerError> {
    std::fs::create_dir_all(&config.base_path).map_err(|e| {
        WorkerError::Config(format!("cannot create {}: {e}", config.base_path.display()))
    })?;
    match config.tee {
        TeeChoice::Simulated => {
            let p = phala_tee::simulated::Simulated::open(&config.base_path)?;
            // Once, in the log: a banner on stderr as well showed it twice per worker.
            warn!("{}", phala_tee::simulated::WARNING);
            Ok(Box::new(p))
        }
        TeeChoice::Sgx | TeeChoice::Tdx => {
            if phala_tee::simulated::is_simulated_dir(&config.base_path) {
                return Err(WorkerError::Config(format!(
                    "{} belongs to a simulated worker; a hardware worker needs its own base path",
                    config.base_path.display()
                )));
            }
            if config.tee == TeeChoice::Sgx {
                Ok(Box::new(phala_tee::gramine::GramineSgx::open()?))
            } else {
                Ok(Box::new(phala_tee::tdx::Tdx::open(
                    PathBuf::from(phala_tee::tdx::DEFAULT_REPORT_DIR),
                    config.base_path.join("tdx-sealing-key"),
                )?))
            }
        }
    }
}

async fn connect(url: &str) -> Client {
    let mut delay = Duration::from_millis(200);
    loop {
        match Client::connect(url).await {
            Ok(c) => return c,
            Err(e) => {
                warn!("cannot reach node {url}: {e}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(WAIT_LOG_EVERY);
            }
        }
    }
}

async fn genesis_header(
    client: &Client,
    genesis: H256,
) -> Result<phala_primitives::Header, WorkerError> {
    client
        .header(genesis)
        .await
        .map_err(|e| WorkerError::Node(e.to_string()))?
        .ok_or_else(|| WorkerError::Node("the node has no genesis header".into()))
}

/// A light client at the epoch-boundary block `trusted`, reached from genesis by the
/// certificate of every epoch's last block (one per epoch): the node supplies headers and
/// certificates, and nothing is believed that the committees did not sign.
async fn certified_checkpoint(
    client: &Client,
    genesis: H256,
    trusted: H256,
) -> Result<LightClient, WorkerError> {
    use futures::StreamExt;
    let refused = |e: String| WorkerError::Config(format!("--trusted-checkpoint {trusted}: {e}"));
    let mut light = LightClient::from_genesis(&genesis_header(client, genesis).await?)
        .map_err(|e| WorkerError::Node(format!("genesis header: {e}")))?;
    let target = client
        .header(trusted)
        .await
        .map_err(|e| WorkerError::Node(e.to_string()))?
        .ok_or_else(|| WorkerError::Node(format!("the node has no block {trusted}")))?;
    info!(
        "verifying the epoch boundaries from genesis to #{}",
        target.number
    );
    let fetch = |number: BlockNumber| async move {
        let hash = client
            .block_hash(number)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the node has no block #{number}"))?;
        let header = client
            .header(hash)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the node has no header #{number}"))?;
        let certificate = client
            .finality_proof(hash)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the node has no certificate for boundary #{number}"))?;
        Ok::<_, String>((header, certificate))
    };
    let mut rng = commonware_utils::sys_rng();
    // Boundaries are fetched ahead as the current length predicts them; one that announces
    // a new length ends the run, and the next run predicts by it. Only verified headers
    // move the client, so a node that lies about lengths gets nothing accepted.
    loop {
        let start = light.epoch_bounds();
        let length = start.length();
        let predicted = std::iter::successors(Some(start), move |b| b.next(length))
            .take_while(|b| b.last <= target.number)
            .map(|b| b.last);
        let mut boundaries = futures::stream::iter(predicted)
            .map(fetch)
            .buffered(FETCH_CONCURRENCY);
        let mut moved = false;
        while let Some(boundary) = boundaries.next().await {
            let (header, certificate) = boundary.map_err(WorkerError::Node)?;
            light
                .import_boundary(&mut rng, &header, &certificate)
                .map_err(|e| refused(format!("boundary #{}: {e}", header.number)))?;
            moved = true;
            if light.epoch_bounds().length() != length {
                break;
            }
        }
        if !moved {
            break;
        }
    }
    if light.head().0 != target.number {
        return Err(refused(
            phala_light_client::LightClientError::NotBoundary {
                number: target.number,
            }
            .to_string(),
        ));
    }
    if light.head().1 != trusted {
        return Err(refused(format!(
            "the chain's certified block #{} is {}, not this hash",
            target.number,
            light.head().1
        )));
    }
    info!(
        "following chain {genesis} from checkpoint #{} ({trusted}), certified from genesis",
        target.number
    );
    Ok(light)
}

/// Runs the worker until `shutdown` resolves.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WorkerError> {
    // Held until the worker stops, and taken before anything in the base path is touched:
    // two processes on one sealed state would sign different messages with the same
    // sequences, which the chain punishes as a rolled-back worker.
    std::fs::create_dir_all(&config.base_path).map_err(|e| {
        WorkerError::Config(format!("cannot create {}: {e}", config.base_path.display()))
    })?;
    let _lock = lock_base_path(&config.base_path)?;
    let platform = open_platform(&config)?;
    let sealer = Sealer::new(platform.as_ref())?;
    // Before anything else: a base path this worker cannot resume is refused at once.
    let sealed = checkpoint::load(&sealer, &config.base_path)?;

    let shared = Arc::new(Shared::default());
    shared
        .analytics
        .desk
        .set_source_limit(config.ingest_per_source);
    let (addr, server) = crate::http::serve(config.listen, shared.clone())
        .await
        .map_err(|source| WorkerError::Listen {
            addr: config.listen,
            source,
        })?;
    info!("worker API on http://{addr}");

    // Stoppable while it waits for a node that may never come.
    tokio::pin!(shutdown);
    let client = tokio::select! {
        client = connect(&config.node_url) => client,
        () = &mut shutdown => {
            server.abort();
            return Ok(());
        }
    };
    if let Ok(mut node) = shared.analytics.node.lock() {
        *node = Some(client.clone());
    }
    let genesis = client.genesis_hash();
    if let Some(expected) = config.genesis_hash
        && expected != genesis
    {
        return Err(WorkerError::Config(format!(
            "the node's genesis is {genesis}, not the expected {expected}"
        )));
    }

    let core = match sealed {
        Some((keys, state)) => {
            // The keys were made for one chain and are sealed with it: no flag and no node
            // can move them to another.
            if state.light.genesis_hash != genesis {
                return Err(WorkerError::Config(format!(
                    "this worker's keys belong to chain {}, but the node serves {genesis}: \
                     point it at a node of its own chain, or start a new worker with an empty \
                     --base-path",
                    state.light.genesis_hash
                )));
            }
            if config.trusted_checkpoint.is_some() {
                warn!(
                    "--trusted-checkpoint is ignored: this worker resumes from its sealed state \
                     (to start over from the checkpoint, with a new identity, move {} away)",
                    config.base_path.join(checkpoint::CHECKPOINT_FILE).display()
                );
            }
            let core = WorkerCore::resume(keys, state)?;
            info!(
                pubkey = %format!("0x{}", hex::encode(core.keys().pubkey())),
                tee = %platform.kind(),
                "worker identity unsealed; resumed from checkpoint at block #{}",
                core.head().0
            );
            core
        }
        None => {
            let light = match config.trusted_checkpoint {
                None => {
                    info!("following chain {genesis} from genesis");
                    let header = genesis_header(&client, genesis).await?;
                    LightClient::from_genesis(&header)
                        .map_err(|e| WorkerError::Node(format!("genesis header: {e}")))?
                }
                Some(trusted) => certified_checkpoint(&client, genesis, trusted).await?,
            };
            // Keys are born with their chain position and sealed with it before they are
            // used for anything.
            let keys = WorkerKeys::generate(platform.as_ref())?;
            let core = WorkerCore::new(keys, light);
            checkpoint::save(
                platform.as_ref(),
                &sealer,
                &config.base_path,
                core.keys(),
                core.state(),
            )?;
            info!(
                pubkey = %format!("0x{}", hex::encode(core.keys().pubkey())),
                tee = %platform.kind(),
                "worker identity created and sealed for chain {genesis}"
            );
            core
        }
    };
    let core = core.with_contract_runtime(Arc::new(ContractRuntime::new(
        HttpPolicy::new(
            config.contracts.http_allow.clone(),
            Arc::new(crate::http_transport::ReqwestTransport),
        ),
        config.contracts.query_gas,
        config.contracts.query_timeout,
    )));
    // Rehearsing an upgrade: act as a release that knows runtime versions up to N.
    let core = match std::env::var("PHALA_MAX_SPEC_VERSION")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        Some(newest) => core.with_newest_spec_version(newest),
        None => core,
    };
    let codes = crate::code_files::load_all(&config.base_path, &core);
    if codes > 0 {
        info!("loaded {codes} contract code(s)");
    }

    let mut host = Host {
        platform,
        sealer,
        config,
        client,
        core,
        shared,
        last_registration: None,
        registration_refusals: Arc::default(),
        submitted: Vec::new(),
        failures: 0,
        node_failures: 0,
        benchmark: None,
        progress: None,
        last_log: Instant::now(),
        last_sample: None,
        computing: Default::default(),
        computing_info: None,
        last_analytics_flush: None,
        join: Default::default(),
    };
    host.refresh_info();
    tokio::select! {
        biased;
        () = &mut shutdown => {}
        result = host.run() => result?,
    }
    host.save()?;
    server.abort();
    Ok(())
}

/// How often a computing worker measures its speed, and for how long.
const WORK_SAMPLE_EVERY: Duration = Duration::from_secs(5);
const WORK_BURST: Duration = Duration::from_millis(50);

struct Host {
    platform: Box<dyn Platform>,
    sealer: Sealer,
    config: WorkerConfig,
    client: Client,
    core: WorkerCore,
    shared: Arc<Shared>,
    last_registration: Option<Instant>,
    /// Registrations the chain refused in a row.
    registration_refusals: Arc<std::sync::atomic::AtomicU32>,
    /// (sequence, when) of messages submitted and not yet seen accepted.
    submitted: Vec<(u64, Instant)>,
    failures: u32,
    /// Requests to the node that failed in a row.
    node_failures: u32,
    benchmark: Option<tokio::task::JoinHandle<u32>>,
    progress: Option<indicatif::ProgressBar>,
    last_log: Instant,
    /// When the work counter was last advanced while computing.
    last_sample: Option<Instant>,
    /// The session as the chain last had it, and what it says to the operator.
    computing: crate::computing_watch::Watch,
    computing_info: Option<crate::computing_watch::ComputingInfo>,
    last_analytics_flush: Option<Instant>,
    join: crate::cluster_join::Fetching,
}

impl Host {
    async fn run(&mut self) -> Result<(), WorkerError> {
        loop {
            let finalized = match self.client.finalized_head().await {
                Ok((n, _)) => {
                    self.node_failures = 0;
                    n
                }
                Err(e) => {
                    self.problem(Some(format!("node unreachable: {e}")));
                    self.node_failures = self.node_failures.saturating_add(1);
                    // A closed connection never comes back by itself, and one whose peer
                    // vanished without closing it only times out: both get a new one.
                    if matches!(e, phala_client::ClientError::Disconnected { .. })
                        || self.node_failures >= RECONNECT_AFTER
                    {
                        self.reconnect(&e).await;
                        self.node_failures = 0;
                    } else {
                        // Said every few seconds, so a long wait is never silent.
                        if self.last_log.elapsed() >= WAIT_LOG_EVERY {
                            warn!("waiting for node {}: {e}", self.config.node_url);
                            self.last_log = Instant::now();
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            };
            self.shared.metrics.chain_height.set(i64::from(finalized));
            self.flush_analytics()?;
            let (head, _) = self.core.head();
            if head < finalized {
                self.sync_once(head, finalized).await?;
            } else {
                self.finish_progress();
                self.problem(None);
                // Query keys age by the clock even while the chain stands still.
                let now = self.platform.untrusted_unix_millis();
                if self.core.tick(&mut commonware_utils::sys_rng(), now) {
                    self.refresh_info();
                }
                self.act().await?;
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// A new connection to the node after the old one failed (the node restarted, or the
    /// network failed): retried, and said, until a node of this worker's chain answers. A
    /// node of another chain is said and waited out, not followed: the light client would
    /// refuse its blocks anyway.
    async fn reconnect(&mut self, lost: &phala_client::ClientError) {
        warn!(
            "lost node {}: {lost}; reconnecting (contract state and queries are served from \
             block #{} meanwhile)",
            self.config.node_url,
            self.core.head().0
        );
        let ours = self.core.genesis_hash();
        loop {
            let client = connect(&self.config.node_url).await;
            if client.genesis_hash() == ours {
                info!("reconnected to node {}", self.config.node_url);
                if let Ok(mut node) = self.shared.analytics.node.lock() {
                    *node = Some(client.clone());
                }
                self.client = client;
                return;
            }
            error!(
                "node {} now serves chain {}, not {ours} this worker follows; trying again in \
                 {} s (point --node at a node of this chain)",
                self.config.node_url,
                client.genesis_hash(),
                WAIT_LOG_EVERY.as_secs()
            );
            tokio::time::sleep(WAIT_LOG_EVERY).await;
        }
    }

    /// Fetches, verifies and applies the next batch towards `finalized`.
    async fn sync_once(
        &mut self,
        head: BlockNumber,
        finalized: BlockNumber,
    ) -> Result<(), WorkerError> {
        let from = head.saturating_add(1);
        // A batch stays in one epoch and ends at its boundary, where the committee changes.
        let epoch_end = self.core.epoch_bounds().last;
        let to = finalized.min(head.saturating_add(MAX_BATCH)).min(epoch_end);
        self.show_progress(head, finalized);
        let batch = match self.fetch(from, to, finalized).await {
            Ok(batch) => batch,
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let message = format!("cannot fetch blocks from #{from} from the node: {e}");
                if self.failures >= STUCK_AFTER {
                    error!(
                        "STUCK at block #{from}: {message} ({} attempts). A node that prunes \
                         old states cannot serve blocks this far back: follow one started with \
                         --state-pruning archive, or start a new worker from a recent epoch \
                         boundary with --trusted-checkpoint.",
                        self.failures
                    );
                } else {
                    warn!("{message}; retrying");
                }
                self.problem(Some(message));
                tokio::time::sleep(self.backoff()).await;
                return Ok(());
            }
        };
        let mut rng = commonware_utils::sys_rng();
        // Contract commands can run for seconds: keep the API's async threads free.
        let now = self.platform.untrusted_unix_millis();
        let imported = blocking(|| self.core.import(&mut rng, &batch, now));
        match imported {
            // Public data the core needs before it can go on: fetch, then import again.
            Err(CoreError::MissingCodes(hashes)) => self.load_codes(hashes).await,
            Ok(outcome) => {
                self.failures = 0;
                self.shared
                    .metrics
                    .blocks_imported
                    .inc_by(u64::from(outcome.blocks));
                for note in &outcome.notes {
                    info!("{note}");
                }
                if outcome.registered {
                    info!("registered on chain: {}", self.registration_summary());
                    if let Ok(mut p) = self.shared.registration_problem.lock() {
                        *p = None;
                    }
                }
                self.after_import(outcome.run_benchmark, finalized).await?;
            }
            // A runtime this release does not know: stop, saying what to install.
            Err(e @ CoreError::UnsupportedRuntime { .. }) => {
                error!("{e}");
                return Err(WorkerError::Node(e.to_string()));
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                self.shared.metrics.batches_refused.inc();
                let message = format!("refused blocks from #{from} from the node: {e}");
                if self.failures >= STUCK_AFTER {
                    error!(
                        "STUCK at block #{from}: {message} ({} attempts); the node serves data \
                         that does not verify. Point the worker at another node.",
                        self.failures
                    );
                } else {
                    warn!("{message}; retrying");
                }
                self.problem(Some(message));
                let backoff =
                    Duration::from_millis(250u64.saturating_mul(1 << self.failures.min(6)));
                tokio::time::sleep(backoff).await;
            }
        }
        Ok(())
    }

    /// Fetches uploaded codes (public, checked against their hash) and stores them.
    async fn load_codes(&mut self, hashes: Vec<[u8; 32]>) {
        for hash in hashes {
            match crate::code_files::fetch(&self.client, &hash).await {
                Ok(wasm) => {
                    self.core.add_code(&wasm);
                    if let Err(e) = crate::code_files::save(&self.config.base_path, &hash, &wasm) {
                        warn!("cannot store code 0x{}: {e}", hex::encode(hash));
                    }
                    info!("loaded contract code 0x{}", hex::encode(hash));
                }
                Err(e) => {
                    warn!("{e}; retrying");
                    self.failures = self.failures.saturating_add(1);
                    tokio::time::sleep(self.backoff()).await;
                }
            }
        }
    }

    /// A worker added to a cluster that exists: fetches a member's sealed state from the
    /// peers the operator named, in turn, and installs it.
    async fn join_cluster(&mut self) -> Result<(), WorkerError> {
        use phala_worker_core::core::JoinError;
        let Some((cluster, from)) = self.core.joining() else {
            return Ok(());
        };
        if !self.join.due() {
            return Ok(());
        }
        let bytes = match self.join.held.take() {
            Some(bytes) => bytes,
            None => {
                let peers = &self.config.cluster_peers;
                let Some(peer) = peers
                    .get(self.join.next_peer.checked_rem(peers.len()).unwrap_or(0))
                    .cloned()
                else {
                    if self
                        .join
                        .said_no_peer
                        .is_none_or(|t| t.elapsed() >= WAIT_LOG_EVERY.saturating_mul(6))
                    {
                        self.join.said_no_peer = Some(Instant::now());
                        warn!(
                            "this worker was added to cluster {cluster} and needs a member's \
                             state from block #{from} on: restart it with --cluster-peer \
                             http://<a member's worker API>"
                        );
                    }
                    return Ok(());
                };
                self.join.next_peer = self.join.next_peer.wrapping_add(1);
                info!("fetching cluster {cluster}'s state from {peer}");
                match tokio::task::spawn_blocking(move || crate::cluster_join::fetch(&peer)).await {
                    Ok(Ok(bytes)) => bytes,
                    Ok(Err(e)) => {
                        warn!("cannot fetch the cluster's state: {e}; trying again");
                        self.join.wait(Duration::from_secs(5));
                        return Ok(());
                    }
                    Err(e) => {
                        warn!("cannot fetch the cluster's state: {e}");
                        self.join.wait(Duration::from_secs(5));
                        return Ok(());
                    }
                }
            }
        };
        let mut rng = commonware_utils::sys_rng();
        match blocking(|| self.core.install_cluster_state(&mut rng, &bytes)) {
            Ok(outcome) => {
                for note in &outcome.notes {
                    info!("{note}");
                }
                // Sealed before the word that it holds the state leaves.
                self.save()?;
                self.refresh_info();
            }
            // Newer than this worker: kept until it has caught up.
            Err(JoinError::AheadOfThisWorker { .. }) => self.join.held = Some(bytes),
            Err(JoinError::MissingCodes(hashes)) => {
                self.load_codes(hashes).await;
                self.join.held = Some(bytes);
            }
            Err(e) => {
                warn!("the member's state was refused: {e}; asking the next peer");
                self.join.wait(Duration::from_secs(5));
            }
        }
        Ok(())
    }

    async fn after_import(
        &mut self,
        run_benchmark: Option<u32>,
        finalized: BlockNumber,
    ) -> Result<(), WorkerError> {
        let (head, _) = self.core.head();
        self.shared.metrics.synced_height.set(i64::from(head));
        if let Some(secs) = run_benchmark
            && self.benchmark.is_none()
        {
            info!("benchmarking for {secs} s");
            self.benchmark = Some(tokio::task::spawn_blocking(move || {
                bench::run(Duration::from_secs(u64::from(secs)))
            }));
        }
        // Checkpoint after every batch while catching up is cheap next to fetching it.
        self.save()?;
        self.refresh_info();
        if head >= finalized {
            self.act().await?;
        }
        Ok(())
    }

    /// What a caught-up worker does: finish the benchmark, register, send messages.
    async fn act(&mut self) -> Result<(), WorkerError> {
        if let Some(task) = &self.benchmark
            && task.is_finished()
            && let Some(task) = self.benchmark.take()
        {
            let score = task.await.unwrap_or(0);
            let signed = self.core.benchmark_done(score);
            // Sealed before it leaves, so a crash cannot make the worker sign another
            // message with the same sequence.
            self.save()?;
            info!(score, sequence = signed.sequence, "benchmark done");
        }
        let head = self.core.head().0;
        match self.core.state().registration.as_ref() {
            None => self.register().await,
            Some(registration) => match crate::reattest::status(registration, head) {
                crate::reattest::Attestation::Valid => {}
                crate::reattest::Attestation::Due => self.register().await,
                crate::reattest::Attestation::Expired { at } => {
                    self.problem(Some(crate::reattest::expired_problem(at)));
                    self.register().await;
                }
            },
        }
        self.join_cluster().await?;
        self.count_work().await;
        self.submit_pending().await;
        self.watch_computing().await;
        Ok(())
    }

    /// Reads the session from the chain now and then, for `/info`, the metrics and a loud
    /// word when rewards stop.
    async fn watch_computing(&mut self) {
        if !self.computing.due() || self.core.state().registration.is_none() {
            return;
        }
        let me = self.core.keys().pubkey();
        let (Ok(session), Ok(pool)) = (
            self.client.session(&me).await,
            self.client.worker_pool(&me).await,
        ) else {
            return;
        };
        let sent = self.core.state().session.heartbeats;
        let (info, warning) = self.computing.observe(session.as_ref(), pool, sent);
        if let Some(warning) = warning {
            error!("{warning}");
        }
        let m = &self.shared.metrics;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Some(s) = &session {
            let computing = matches!(
                s.state,
                phala_runtime::modules::computation::WorkerState::Idle
                    | phala_runtime::modules::computation::WorkerState::Unresponsive
            );
            m.computing.set(i64::from(computing));
            m.unresponsive.set(i64::from(
                s.state == phala_runtime::modules::computation::WorkerState::Unresponsive,
            ));
            m.heartbeats_accepted.set(i64::from(s.heartbeats));
            m.challenges_missed.set(i64::from(s.missed));
            m.value_milli.set(gauge(
                u64::try_from((s.v >> 64).saturating_mul(1000)).unwrap_or(u64::MAX),
            ));
            m.rewards_pha.set(gauge(
                u64::try_from(s.total_reward / phala_primitives::PHA).unwrap_or(u64::MAX),
            ));
        }
        m.heartbeats_sent.set(gauge(sent));
        m.computing_problem.set(i64::from(
            info.as_ref()
                .is_some_and(|i| i.warning.is_some() && i.state == "Idle"),
        ));
        self.computing_info = info;
        self.refresh_info();
    }

    /// While computing, advances the work counter heartbeats report: the benchmark's
    /// speed, measured in a short burst every few seconds, times the time passed. A
    /// machine that is slower or busier than its benchmark shows it in its performance.
    async fn count_work(&mut self) {
        if self.core.computing_since().is_none() {
            self.last_sample = None;
            return;
        }
        let Some(last) = self.last_sample else {
            self.last_sample = Some(Instant::now());
            return;
        };
        if last.elapsed() < WORK_SAMPLE_EVERY {
            return;
        }
        let burst = tokio::task::spawn_blocking(|| bench::run(WORK_BURST))
            .await
            .unwrap_or(0);
        let elapsed = u64::try_from(last.elapsed().as_millis()).unwrap_or(u64::MAX);
        let burst_ms = u64::try_from(WORK_BURST.as_millis()).unwrap_or(1).max(1);
        let done = u64::from(burst).saturating_mul(elapsed) / burst_ms;
        self.core.add_iterations(done);
        self.last_sample = Some(Instant::now());
    }

    async fn register(&mut self) {
        // 30 s between attempts, doubling after each refusal (a chain that refuses this
        // worker would otherwise charge the operator a fee every 30 s), at most 15 min.
        let refusals = self
            .registration_refusals
            .load(std::sync::atomic::Ordering::Relaxed);
        let wait = Duration::from_secs(30)
            .saturating_mul(1 << refusals.min(5))
            .min(Duration::from_secs(900));
        if self.last_registration.is_some_and(|t| t.elapsed() < wait) {
            return;
        }
        self.last_registration = Some(Instant::now());
        let info = self.registration_info();
        let attestation = match self.attestation(&info) {
            Ok(a) => a,
            Err(e) => {
                error!("cannot attest: {e}");
                self.problem(Some(format!("cannot attest: {e}")));
                return;
            }
        };
        let call = RuntimeCall::Registry(registry::Call::register_worker {
            info: Box::new(info),
            attestation,
        });
        let progress = match self.sign(call).await {
            Ok(tx) => self
                .client
                .submit_and_watch(&tx)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match progress {
            Ok(progress) => {
                self.shared.metrics.registrations_submitted.inc();
                info!("registration submitted in {}", progress.tx_hash());
                // The chain says why a registration fails only in its events: follow it to
                // finality, off the sync loop.
                let shared = self.shared.clone();
                let refusals = self.registration_refusals.clone();
                tokio::spawn(async move {
                    match progress
                        .wait_finalized()
                        .await
                        .and_then(|o| o.into_result())
                    {
                        Ok(outcome) => {
                            refusals.store(0, std::sync::atomic::Ordering::Relaxed);
                            info!("registration finalized in #{}", outcome.block_number);
                        }
                        Err(e) => {
                            refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            error!("the chain refused the registration: {e}");
                            if let Ok(mut p) = shared.registration_problem.lock() {
                                *p = Some(format!("the chain refused the registration: {e}"));
                            }
                        }
                    }
                });
            }
            Err(e) => {
                self.registration_refusals
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                warn!("registration refused: {e}");
                if let Ok(mut p) = self.shared.registration_problem.lock() {
                    *p = Some(format!("registration refused: {e}"));
                }
            }
        }
    }

    fn registration_info(&self) -> phala_primitives::worker::WorkerRegistrationInfo {
        let cores = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(1))
            .unwrap_or(1);
        let machine_id = std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().as_bytes().to_vec())
            .unwrap_or_default();
        let mut machine_id = machine_id;
        machine_id.truncate(phala_primitives::worker::MAX_MACHINE_ID_LEN);
        self.core
            .registration_info(Some(self.config.operator.account_id()), machine_id, cores)
    }

    fn attestation(
        &self,
        info: &phala_primitives::worker::WorkerRegistrationInfo,
    ) -> Result<Attestation, WorkerError> {
        let quote = self.platform.quote(&info.report_data())?;
        if let Ok(mut a) = self.shared.attestation.lock() {
            *a = crate::http::AttestationInfo {
                tee: self.platform.kind().to_string(),
                quote: phala_primitives::crypto::encode_hex(&quote),
                registration_info: phala_primitives::crypto::encode_hex(&info.encode()),
                report_data: phala_primitives::crypto::encode_hex(&info.report_data()),
            };
        }
        match self.platform.kind() {
            TeeKind::Simulated => Ok(Attestation::Simulated { quote }),
            TeeKind::Sgx | TeeKind::Tdx => {
                let path = self.config.collateral.as_ref().ok_or_else(|| {
                    WorkerError::Config(
                        "a hardware quote needs Intel collateral: pass --collateral FILE \
                         (the PCCS JSON for this platform)"
                            .into(),
                    )
                })?;
                let json = std::fs::read(path).map_err(|e| {
                    WorkerError::Config(format!("cannot read {}: {e}", path.display()))
                })?;
                let collateral = phala_attestation::Collateral::from_json(&json)
                    .map_err(|e| WorkerError::Config(e.to_string()))?;
                Ok(Attestation::Dcap {
                    quote,
                    collateral: Box::new(collateral),
                })
            }
        }
    }

    /// Submits the pending messages, up to 32 in one transaction (heartbeats, settlements
    /// and reports of one block go together); resubmits after a while if the chain has not
    /// taken them.
    async fn submit_pending(&mut self) {
        let pending = self.core.state().pending.clone();
        self.submitted
            .retain(|(seq, _)| pending.iter().any(|m| m.sequence == *seq));
        let Some(first) = pending.first() else {
            return;
        };
        let sequence = first.sequence;
        let recent = self
            .submitted
            .iter()
            .any(|(s, t)| *s == sequence && t.elapsed() < Duration::from_secs(12));
        if recent {
            return;
        }
        let batch: Vec<_> = pending.into_iter().take(message_queue::MAX_BATCH).collect();
        let count = batch.len();
        let call = if count == 1 {
            let mut batch = batch;
            RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_message {
                signed_message: batch.remove(0),
            })
        } else {
            RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_messages {
                signed_messages: batch,
            })
        };
        match self.submit(call).await {
            Ok(hash) => {
                self.shared
                    .metrics
                    .messages_submitted
                    .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
                self.submitted.retain(|(s, _)| *s != sequence);
                self.submitted.push((sequence, Instant::now()));
                info!(sequence, count, "message(s) submitted in {hash}");
            }
            // The one before it is not in a block yet: expected, and retried.
            Err(e) if e.contains("valid in the future") => {
                debug!(sequence, "message waits for the previous one: {e}");
            }
            Err(e) => {
                warn!(sequence, "message refused by the node: {e}");
            }
        }
    }

    async fn sign(&self, call: RuntimeCall) -> Result<phala_client::SignedTx, String> {
        self.client
            .sign(call, &self.config.operator, TxOptions::default())
            .await
            .map_err(|e| e.to_string())
    }

    async fn submit(&self, call: RuntimeCall) -> Result<H256, String> {
        let tx = self.sign(call).await?;
        self.client.submit(&tx).await.map_err(|e| e.to_string())
    }

    /// The certificate that ends a batch: `to`'s own, or — for a block finalized only through
    /// a descendant — the next block's that has one, within the epoch and what is finalized.
    async fn certified_end(
        &self,
        to: BlockNumber,
        finalized: BlockNumber,
    ) -> Result<(BlockNumber, Vec<u8>), String> {
        let epoch_end = self.core.epoch_bounds().last;
        let mut end = to;
        loop {
            let hash = self
                .client
                .block_hash(end)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the node has no block #{end}"))?;
            if let Some(cert) = self
                .client
                .finality_proof(hash)
                .await
                .map_err(|e| e.to_string())?
            {
                return Ok((end, cert));
            }
            if end >= finalized || end >= epoch_end {
                return Err(format!(
                    "the node has no finality certificate for any block #{to}..=#{end}"
                ));
            }
            end = end.saturating_add(1);
        }
    }

    async fn fetch(
        &self,
        from: BlockNumber,
        to: BlockNumber,
        finalized: BlockNumber,
    ) -> Result<SyncBatch, String> {
        use futures::StreamExt;
        let (to, certificate) = self.certified_end(to, finalized).await?;
        let keys = self.core.proof_keys().to_vec();
        let client = &self.client;
        let blocks: Vec<Result<SyncBlock, String>> = futures::stream::iter(from..=to)
            .map(|n| {
                let keys = keys.clone();
                async move {
                    let hash = client
                        .block_hash(n)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("the node has no block #{n}"))?;
                    let (header, proof) = futures::try_join!(
                        async { client.header(hash).await.map_err(|e| e.to_string()) },
                        async {
                            client
                                .read_proof(&keys, hash)
                                .await
                                .map_err(|e| e.to_string())
                        }
                    )?;
                    let header = header.ok_or_else(|| format!("the node has no header #{n}"))?;
                    Ok(SyncBlock { header, proof })
                }
            })
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await;
        Ok(SyncBatch {
            blocks: blocks.into_iter().collect::<Result<_, _>>()?,
            certificate,
        })
    }

    /// 250 ms doubling per consecutive failure, at most 16 s.
    fn backoff(&self) -> Duration {
        Duration::from_millis(250u64.saturating_mul(1 << self.failures.min(6)))
    }

    fn save(&self) -> Result<(), WorkerError> {
        checkpoint::save(
            self.platform.as_ref(),
            &self.sealer,
            &self.config.base_path,
            self.core.keys(),
            self.core.state(),
        )?;
        Ok(())
    }

    fn registration_summary(&self) -> String {
        match &self.core.state().registration {
            Some(r) => format!(
                "tee {:?}, confidence level {}, operator {}",
                r.tee,
                match r.tee {
                    phala_runtime::modules::registry::TeeKind::Simulated => format!(
                        "{} (simulated: no protection; the economics count it as level 5)",
                        r.confidence_level
                    ),
                    _ => format!("{} (1 best, 5 worst)", r.confidence_level),
                },
                r.operator
                    .map(|o| o.to_ss58())
                    .unwrap_or_else(|| "none".into())
            ),
            None => "not registered".into(),
        }
    }

    /// Seals what the ingest desk took into batches, queues them as messages to the chain
    /// and saves the checkpoint; only then are the visitors who sent them answered.
    fn flush_analytics(&mut self) -> Result<(), WorkerError> {
        let analytics = &self.shared.analytics;
        if analytics.desk.pending() == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let due = self
            .last_analytics_flush
            .is_none_or(|t| now.duration_since(t) >= ANALYTICS_FLUSH_EVERY)
            || analytics.desk.pending() >= ANALYTICS_FLUSH_AT;
        if !due {
            return Ok(());
        }
        self.last_analytics_flush = Some(now);
        let batches = analytics
            .desk
            .take_batches(&mut commonware_utils::sys_rng());
        let taken = analytics.desk.generation();
        let (count, events) = (
            batches.len(),
            batches.iter().map(|b| u64::from(b.events)).sum::<u64>(),
        );
        self.core.queue_analytics_batches(batches);
        self.save()?;
        analytics.durable.send_replace(taken);
        debug!(count, events, "analytics batch(es) sealed and queued");
        Ok(())
    }

    fn refresh_info(&self) {
        self.shared
            .analytics
            .desk
            .set_keys(self.core.analytics_desk_keys());
        if let Ok(mut info) = self.shared.analytics.info.lock() {
            *info = crate::analytics_http::AnalyticsInfo::of(&self.core);
        }
        let state = self.core.state();
        let keys = self.core.keys();
        let reg = state.registration.as_ref();
        let master = self.core.master_public();
        let cluster = self.core.cluster_public();
        if let Ok(mut info) = self.shared.info.lock() {
            *info = crate::http::Info {
                pubkey: format!("0x{}", hex::encode(keys.pubkey())),
                ecdh_pubkey: format!("0x{}", hex::encode(keys.ecdh_pubkey())),
                tee: self.platform.kind().to_string(),
                simulated: self.platform.kind() == TeeKind::Simulated,
                registered: reg.is_some(),
                confidence_level: reg.map(|r| r.confidence_level),
                initial_score: reg.and_then(|r| r.initial_score),
                attestation_expires_at: reg.map(|r| r.expires_at),
                operator: Some(self.config.operator.account_id().to_ss58()),
                genesis_hash: self.core.genesis_hash().to_string(),
                synced_height: self.core.head().0,
                epoch: {
                    let e = self.core.epoch_bounds();
                    crate::http::EpochSummary {
                        number: e.epoch,
                        first_block: e.first,
                        last_block: e.last,
                    }
                },
                chain_height: u32::try_from(self.shared.metrics.chain_height.get()).unwrap_or(0),
                runtime_version: crate::VERSION,
                gatekeeper: self.core.is_gatekeeper(),
                master_key_version: master.map(|(v, _)| v),
                master_pubkey: master.map(|(_, k)| format!("0x{}", hex::encode(k))),
                master_key_versions: self.core.master_versions(),
                cluster: cluster.map(|(c, _)| c.to_string()),
                cluster_pubkey: cluster.map(|(_, k)| format!("0x{}", hex::encode(k))),
                cluster_joining_from: self.core.joining().map(|(_, from)| from),
                query_key: self
                    .core
                    .query_key_certificate()
                    .map(|c| crate::http::QueryKeyInfo {
                        epoch: c.epoch,
                        ecdh_pubkey: format!("0x{}", hex::encode(c.ecdh_pubkey)),
                        certificate: format!("0x{}", hex::encode(c.encode())),
                    }),
                contracts: state
                    .contracts
                    .contracts
                    .iter()
                    .map(|(id, c)| crate::http::ContractSummary {
                        id: format!("0x{}", hex::encode(id)),
                        code_hash: format!("0x{}", hex::encode(c.code_hash)),
                        state_root: state
                            .cluster_key
                            .as_ref()
                            .and_then(|k| state.contracts.root(&k.seed, id))
                            .map(|r| r.to_string()),
                    })
                    .collect(),
                contract_commands_run: state.contracts.commands_run,
                computing: self.computing_info.clone(),
            };
        }
        self.shared.queries.update(&self.core);
    }

    fn problem(&self, problem: Option<String>) {
        if let Ok(mut p) = self.shared.problem.lock() {
            *p = problem;
        }
    }

    fn show_progress(&mut self, head: BlockNumber, finalized: BlockNumber) {
        if self.config.progress_bar {
            let bar = self.progress.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(u64::from(finalized));
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "syncing {bar:40} {pos}/{len} blocks, {per_sec}, eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_length(u64::from(finalized));
            bar.set_position(u64::from(head));
        } else if finalized.saturating_sub(head) > 16
            && self.last_log.elapsed() >= Duration::from_secs(5)
        {
            self.last_log = Instant::now();
            info!("synced #{head} of #{finalized}");
        }
    }

    fn finish_progress(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
            info!("caught up at #{}", self.core.head().0);
        }
    }
}

/// Runs CPU-heavy `f` without stalling the runtime's other tasks, where the runtime allows.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
