//! `phala devnet`: a whole local network in one process.
//!
//! [`DevnetPlan::resolve`] turns the arguments into every node's and worker's configuration
//! (ports, the chain spec, data directories) without starting anything, so the layout is
//! unit-tested; [`Devnet::start`] runs a plan, and [`Devnet::wait`] stops it on a signal or
//! when any part of it ends. End-to-end tests can start a devnet in-process with the same
//! three steps.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use phala_chain::dev::{DEV_ACCOUNTS, DEV_BLOCK_TIME_MS};
use phala_chain::{ChainSpec, ChainType};
use phala_keys::Ed25519Pair;
use phala_node::{Follower, NodeConfig, NodeError, NodeInfo};

use crate::args::{local_spec, loopback, rpc_addr};

/// Where a devnet keeps its spec, so a restart resumes the same chain.
pub const SPEC_FILE: &str = "chain-spec.json";
/// Most workers a devnet runs.
pub const MAX_DEVNET_WORKERS: usize = 32;
/// States a devnet node keeps for historical queries (the first validator keeps all when
/// workers follow it: they sync from genesis with a read proof of every block).
const DEVNET_PRUNING: u32 = 4096;

#[derive(clap::Args, Clone, Debug)]
pub struct DevnetArgs {
    /// Keep the chain in this directory (and resume from it next time); default: a temporary
    /// directory deleted on exit.
    #[arg(long)]
    pub base_path: Option<PathBuf>,
    /// JSON-RPC port (HTTP and WebSocket).
    #[arg(long, default_value_t = 9944)]
    pub rpc_port: u16,
    /// Prometheus metrics port.
    #[arg(long, default_value_t = 9615)]
    pub prometheus_port: u16,
    /// Peer-to-peer port; default: a free port.
    #[arg(long)]
    pub p2p_port: Option<u16>,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    pub rpc_external: bool,
    /// Number of validators (//Alice, //Bob, …), each with its own RPC port from --rpc-port on.
    #[arg(long, default_value_t = 1)]
    pub validators: usize,
    /// Number of full nodes (no consensus key) following the validators, with RPC ports after
    /// the validators'.
    #[arg(long, default_value_t = 0)]
    pub full_nodes: usize,
    /// Number of simulated TEE workers, following the first validator; each registers and
    /// benchmarks at once (operators //Alice, //Bob, … in turn).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// HTTP API port of the first worker; the others follow. 0: a free port for each.
    #[arg(long, default_value_t = 8000)]
    pub worker_port: u16,
    /// HTTP API port of the first validator's gatekeeper worker, the others following;
    /// default: free ports.
    #[arg(long)]
    pub gatekeeper_port: Option<u16>,
    /// Run the validators without their gatekeeper workers (no master key, no clusters).
    #[arg(long)]
    pub no_gatekeepers: bool,
    /// Leave the workers out of any cluster (by default they form one, for contracts).
    #[arg(long)]
    pub no_cluster: bool,
    /// Put the workers to work: each operator creates a stake pool, stakes S_min for each
    /// of its workers and starts them computing, so rewards flow within a minute.
    #[arg(long)]
    pub computing: bool,
    /// Hosts the workers' contracts may reach over HTTP(S) in queries (as `phala worker
    /// --http-allow`). Default: none.
    #[arg(long, value_delimiter = ',')]
    pub http_allow: Vec<String>,
    /// Run a Web3 Analytics demo: //Alice registers a site for 127.0.0.1 in the workers'
    /// cluster, and the devnet serves a demo site with the tracker and the owner's
    /// dashboard (needs --workers).
    #[arg(long)]
    pub analytics_demo: bool,
    /// Port of the demo site (0: a free one).
    #[arg(long, default_value_t = 8088)]
    pub demo_port: u16,
    /// Port of the demo's dashboard (0: a free one).
    #[arg(long, default_value_t = 8089)]
    pub dashboard_port: u16,
    /// Blocks per epoch of a new devnet (default 600, ten minutes): shorter epochs show
    /// committee and epoch-length changes sooner. A saved devnet keeps its own.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub epoch_length: Option<u32>,
    /// Port of the web explorer the devnet serves for its first node (0: a free one).
    #[arg(long, default_value_t = 8080)]
    pub explorer_port: u16,
    /// Serve no explorer.
    #[arg(long)]
    pub no_explorer: bool,
}

impl Default for DevnetArgs {
    /// What `phala devnet` does without arguments.
    fn default() -> Self {
        Self {
            base_path: None,
            rpc_port: 9944,
            prometheus_port: 9615,
            p2p_port: None,
            rpc_external: false,
            validators: 1,
            full_nodes: 0,
            workers: 0,
            worker_port: 8000,
            gatekeeper_port: None,
            no_gatekeepers: false,
            no_cluster: false,
            computing: false,
            http_allow: Vec::new(),
            analytics_demo: false,
            demo_port: 8088,
            dashboard_port: 8089,
            epoch_length: None,
            explorer_port: 8080,
            no_explorer: false,
        }
    }
}

/// Why a devnet could not be planned or run. Each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("{0}")]
    Args(String),
    #[error("chain spec: {0}")]
    Spec(String),
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("a {0} thread panicked")]
    Panicked(&'static str),
}

/// A simulated worker of the devnet, following the first validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerPlan {
    pub base_path: PathBuf,
    /// The dev account that operates it (pays its transactions).
    pub operator: String,
    pub listen: SocketAddr,
}

/// A validator's gatekeeper worker, following its own validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatekeeperPlan {
    /// The validator's dev account name (`Alice`, …).
    pub validator: String,
    pub base_path: PathBuf,
    pub listen: SocketAddr,
}

/// Everything a devnet will run, decided before anything starts.
pub struct DevnetPlan {
    pub base: PathBuf,
    /// Whether `base` outlives the devnet (`--base-path`) or is a temporary directory.
    pub keep: bool,
    pub spec: ChainSpec,
    /// Whether `spec` is new (written to `base` at start) or the saved one.
    pub new_spec: bool,
    /// Validators, then full nodes, by name. Validators' followers (the full nodes' keys)
    /// are filled in at start, when the full nodes' keys are loaded.
    pub nodes: Vec<(String, NodeConfig)>,
    pub workers: Vec<WorkerPlan>,
    pub gatekeepers: Vec<GatekeeperPlan>,
    pub http_allow: Vec<String>,
    /// Whether the workers form a cluster once registered.
    pub cluster: bool,
    /// Whether the workers are put in pools and start computing once benchmarked.
    pub computing: bool,
    /// The analytics demo's site and dashboard ports, if it runs.
    pub analytics_demo: Option<crate::devnet_analytics::DemoPorts>,
    /// Where the explorer listens, if it runs.
    pub explorer: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for DevnetPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevnetPlan")
            .field("base", &self.base)
            .field(
                "nodes",
                &self.nodes.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("workers", &self.workers)
            .field("gatekeepers", &self.gatekeepers)
            .field("cluster", &self.cluster)
            .field("computing", &self.computing)
            .field("analytics_demo", &self.analytics_demo)
            .finish_non_exhaustive()
    }
}

impl DevnetPlan {
    /// Refuses to start when a fixed port is taken (most often by another devnet), before
    /// anything is printed or written, naming the flag that moves it.
    pub fn check_ports(&self) -> Result<(), DevnetError> {
        let mut wanted: Vec<(String, SocketAddr, &str)> = Vec::new();
        for (name, config) in &self.nodes {
            wanted.push((format!("{name}'s RPC"), config.rpc_addr, "--rpc-port"));
            // The conventional metrics port falls back to the next free one by itself.
            if let Some(addr) = config
                .prometheus_addr
                .filter(|a| a.port() != phala_node::metrics::DEFAULT_PORT)
            {
                wanted.push((format!("{name}'s metrics"), addr, "--prometheus-port"));
            }
        }
        for (i, w) in self.workers.iter().enumerate() {
            let name = format!("worker-{}'s API", i.saturating_add(1));
            wanted.push((name, w.listen, "--worker-port"));
        }
        for g in &self.gatekeepers {
            let name = format!("{}'s gatekeeper API", g.validator);
            wanted.push((name, g.listen, "--gatekeeper-port"));
        }
        if let Some(demo) = self.analytics_demo {
            for (what, port, flag) in [
                ("the analytics demo site", demo.site, "--demo-port"),
                (
                    "the analytics dashboard",
                    demo.dashboard,
                    "--dashboard-port",
                ),
            ] {
                if port != 0 {
                    wanted.push((what.into(), SocketAddr::from(([127, 0, 0, 1], port)), flag));
                }
            }
        }
        // Held until every port is tried: two parts of one plan on one port fail too.
        let mut held = Vec::new();
        for (what, addr, flag) in wanted {
            match std::net::TcpListener::bind(addr) {
                Ok(listener) => held.push(listener),
                Err(e) => {
                    return Err(DevnetError::Args(format!(
                        "{what} port {} is not free ({e}); is another devnet running? Pass \
                         {flag} to choose another (a second devnet beside the first needs \
                         --rpc-port, --prometheus-port and, with workers, --worker-port)",
                        addr.port()
                    )));
                }
            }
        }
        drop(held);
        Ok(())
    }

    /// The plan for `args` in `base`: with the spec saved there (`saved`) or a new one, and
    /// `free_port` for every port the arguments leave open. Starts nothing and touches no
    /// file.
    pub fn resolve(
        args: &DevnetArgs,
        base: &Path,
        keep: bool,
        saved: Option<ChainSpec>,
        free_port: &mut dyn FnMut() -> Result<u16, DevnetError>,
    ) -> Result<DevnetPlan, DevnetError> {
        if args.validators == 0 || args.validators > DEV_ACCOUNTS.len() {
            return Err(DevnetError::Args(format!(
                "--validators must be 1 to {} (//Alice..//Ferdie)",
                DEV_ACCOUNTS.len()
            )));
        }
        if args.workers > MAX_DEVNET_WORKERS {
            return Err(DevnetError::Args(format!(
                "--workers must be at most {MAX_DEVNET_WORKERS}"
            )));
        }
        if args.full_nodes > phala_node::MAX_FOLLOWERS {
            return Err(DevnetError::Args(format!(
                "--full-nodes must be at most {}",
                phala_node::MAX_FOLLOWERS
            )));
        }
        let new_spec = saved.is_none();
        let spec = match saved {
            Some(spec) if spec.validators.len() != args.validators => {
                let n = spec.validators.len();
                return Err(DevnetError::Args(format!(
                    "{} holds a devnet with {n} validator{}; start it with --validators {n} or use another --base-path",
                    base.display(),
                    if n == 1 { "" } else { "s" },
                )));
            }
            Some(spec) => {
                if let Some(asked) = args.epoch_length
                    && asked != spec.epoch_length
                {
                    tracing::warn!(
                        "--epoch-length {asked} is ignored: {} holds a devnet whose genesis \
                         set {} blocks (governance changes it: validators.setEpochLength)",
                        base.display(),
                        spec.epoch_length
                    );
                }
                spec
            }
            None => new_spec_for(args, free_port)?,
        };
        let port = |first: u16, i: usize| -> Result<u16, DevnetError> {
            u16::try_from(i)
                .ok()
                .and_then(|i| first.checked_add(i))
                .ok_or_else(|| DevnetError::Args(format!("port {first} + {i} is out of range")))
        };
        // A node named `part` (Alice, full-1): its directory, node name and log tag follow.
        let node = |part: &str, i: usize| -> Result<_, DevnetError> {
            let lower = part.to_lowercase();
            Ok(NodeConfig {
                spec: spec.clone(),
                base_path: base.join(&lower),
                validator: None,
                rpc_addr: rpc_addr(port(args.rpc_port, i)?, args.rpc_external),
                prometheus_addr: Some(loopback(port(args.prometheus_port, i)?)),
                p2p_listen: None,
                pruning: Some(DEVNET_PRUNING),
                name: format!("phala-devnet-{lower}"),
                followers: Vec::new(),
                log_tag: Some(part.to_string()),
            })
        };
        let mut nodes = Vec::new();
        for (i, name) in DEV_ACCOUNTS.iter().take(args.validators).enumerate() {
            let mut config = node(name, i)?;
            config.validator = Some(
                Ed25519Pair::from_uri(&format!("//{name}"))
                    .map_err(|e| DevnetError::Key(e.to_string()))?,
            );
            if i == 0 && args.workers > 0 {
                config.pruning = None;
            }
            nodes.push((name.to_string(), config));
        }
        for i in 0..args.full_nodes {
            let name = format!("full-{}", i.saturating_add(1));
            let mut config = node(&name, args.validators.saturating_add(i))?;
            config.p2p_listen = Some(loopback(free_port()?));
            nodes.push((name, config));
        }
        if args.analytics_demo && (args.workers == 0 || args.no_gatekeepers || args.no_cluster) {
            return Err(DevnetError::Args(
                "--analytics-demo needs workers in a cluster (--workers N, without \
                 --no-gatekeepers or --no-cluster)"
                    .into(),
            ));
        }
        if args.computing && (args.workers == 0 || args.no_gatekeepers) {
            return Err(DevnetError::Args(
                "--computing needs workers (--workers N) and the gatekeepers that settle their \
                 rewards (no --no-gatekeepers)"
                    .into(),
            ));
        }
        let workers = (0..args.workers)
            .map(|i| {
                Ok(WorkerPlan {
                    base_path: base.join(format!("worker-{}", i.saturating_add(1))),
                    operator: DEV_ACCOUNTS
                        .get(i % DEV_ACCOUNTS.len())
                        .copied()
                        .unwrap_or("Alice")
                        .to_string(),
                    listen: loopback(match args.worker_port {
                        0 => free_port()?,
                        first => port(first, i)?,
                    }),
                })
            })
            .collect::<Result<Vec<_>, DevnetError>>()?;
        let gatekeepers = if args.no_gatekeepers {
            Vec::new()
        } else {
            DEV_ACCOUNTS
                .iter()
                .take(args.validators)
                .enumerate()
                .map(|(i, name)| {
                    Ok(GatekeeperPlan {
                        validator: name.to_string(),
                        base_path: base.join(name.to_lowercase()).join("gatekeeper"),
                        listen: loopback(match args.gatekeeper_port {
                            Some(first) => port(first, i)?,
                            None => free_port()?,
                        }),
                    })
                })
                .collect::<Result<Vec<_>, DevnetError>>()?
        };
        Ok(DevnetPlan {
            base: base.to_path_buf(),
            keep,
            spec,
            new_spec,
            nodes,
            cluster: !workers.is_empty() && !args.no_gatekeepers && !args.no_cluster,
            computing: args.computing,
            analytics_demo: args
                .analytics_demo
                .then_some(crate::devnet_analytics::DemoPorts {
                    site: args.demo_port,
                    dashboard: args.dashboard_port,
                }),
            workers,
            gatekeepers,
            http_allow: args.http_allow.clone(),
            explorer: (!args.no_explorer)
                .then(|| crate::args::rpc_addr(args.explorer_port, args.rpc_external)),
        })
    }
}

/// A new devnet spec: the dev validators on free loopback ports (the first on `--p2p-port`
/// if given).
fn new_spec_for(
    args: &DevnetArgs,
    free_port: &mut dyn FnMut() -> Result<u16, DevnetError>,
) -> Result<ChainSpec, DevnetError> {
    let mut spec = local_spec(
        args.validators,
        30333,
        DEV_BLOCK_TIME_MS,
        "Phala Devnet",
        "phala_dev",
        ChainType::Development,
    )
    .map_err(|e| DevnetError::Spec(format!("{e:#}")))?;
    if let Some(length) = args.epoch_length {
        spec.epoch_length = length;
    }
    for (i, v) in spec.validators.iter_mut().enumerate() {
        let port = match (i, args.p2p_port) {
            (0, Some(port)) => port,
            _ => free_port()?,
        };
        v.p2p_address = loopback(port).to_string();
    }
    spec.validate()
        .map_err(|e| DevnetError::Spec(e.to_string()))?;
    Ok(spec)
}

/// The spec saved in `base` by an earlier run, if any.
pub fn saved_spec(base: &Path) -> Result<Option<ChainSpec>, DevnetError> {
    let path = base.join(SPEC_FILE);
    if !path.exists() {
        return Ok(None);
    }
    ChainSpec::load(&path)
        .map(Some)
        .map_err(|e| DevnetError::Spec(format!("{}: {e}", path.display())))
}

/// A running devnet.
pub struct Devnet {
    threads: Vec<JoinHandle<Result<(), NodeError>>>,
    stop: tokio::sync::broadcast::Sender<()>,
    /// Each node's name and where it listens, in the order they became ready.
    pub nodes: Vec<(String, NodeInfo)>,
    /// The workers' HTTP APIs.
    pub workers: Vec<String>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("nodes", &self.nodes.len())
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// A devnet's simulated worker following the node at `rpc`.
fn dev_worker(
    rpc: SocketAddr,
    base_path: PathBuf,
    operator: phala_keys::Sr25519Pair,
    listen: SocketAddr,
) -> phala_worker::WorkerConfig {
    phala_worker::WorkerConfig {
        node_url: format!("ws://{rpc}"),
        base_path,
        operator,
        tee: phala_worker::TeeChoice::Simulated,
        listen,
        genesis_hash: None,
        trusted_checkpoint: None,
        collateral: None,
        progress_bar: false,
        contracts: Default::default(),
        ingest_per_source: phala_worker::analytics::ingest::SOURCE_LIMIT,
        cluster_peers: Vec::new(),
    }
}

impl Devnet {
    /// Starts every node of `plan`, then, once they are ready, its workers, gatekeepers and
    /// cluster set-up. Prints where each part listens.
    pub fn start(mut plan: DevnetPlan) -> Result<Devnet, DevnetError> {
        plan.check_ports()?;
        if plan.new_spec {
            let path = plan.base.join(SPEC_FILE);
            std::fs::create_dir_all(&plan.base).map_err(|source| DevnetError::Io {
                what: "create",
                path: plan.base.clone(),
                source,
            })?;
            std::fs::write(&path, plan.spec.to_json()).map_err(|source| DevnetError::Io {
                what: "write",
                path,
                source,
            })?;
        }
        // Every validator admits the full nodes, whose keys live in their data directories.
        let mut followers = Vec::new();
        for (_, config) in plan.nodes.iter().filter(|(_, c)| c.validator.is_none()) {
            let key = phala_node::identity::load_or_create_node_key(&config.base_path)?;
            if let Some(address) = config.p2p_listen {
                followers.push(Follower {
                    key: key.public(),
                    address,
                });
            }
        }
        for (_, config) in plan.nodes.iter_mut() {
            if config.validator.is_some() {
                config.followers = followers.clone();
            }
        }
        let validators = plan.spec.validators.len();
        let full_nodes = plan.nodes.len().saturating_sub(validators);
        crate::outln!(
            "phala devnet: {} ({} validator{}{}; epochs of {} blocks at genesis)",
            plan.spec.name,
            validators,
            if validators == 1 { "" } else { "s" },
            match full_nodes {
                0 => String::new(),
                1 => ", 1 full node".into(),
                n => format!(", {n} full nodes"),
            },
            plan.spec.epoch_length
        );
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<(String, NodeInfo)>();
        let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut threads = Vec::new();
        let order: Vec<String> = plan.nodes.iter().map(|(name, _)| name.clone()).collect();
        for (name, config) in plan.nodes {
            let ready = ready_tx.clone();
            let mut stop = stop.subscribe();
            threads.push(std::thread::spawn(move || {
                phala_node::run_until(
                    config,
                    move |info: &NodeInfo| {
                        let _ = ready.send((name, info.clone()));
                    },
                    async move {
                        let _ = stop.recv().await;
                    },
                )
            }));
        }
        drop(ready_tx);
        let mut nodes = Vec::new();
        for _ in 0..threads.len() {
            let Ok(ready) = ready_rx.recv() else {
                break;
            };
            nodes.push(ready);
        }
        // Listed in the plan's order (Alice first), not in the order they happened to start.
        nodes.sort_by_key(|(name, _)| order.iter().position(|n| n == name));
        for (name, info) in &nodes {
            crate::outln!(
                "  {name:<8} RPC ws://{0} (HTTP http://{0}), metrics {1}, genesis {2}",
                info.rpc_addr,
                info.prometheus_addr
                    .map(|p| format!("http://{p}/metrics"))
                    .unwrap_or_default(),
                info.genesis_hash
            );
        }
        let rpc_of = |name: &str| {
            nodes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, info)| info.rpc_addr)
        };
        let mut workers = Vec::new();
        let operators: Vec<String> = plan.workers.iter().map(|w| w.operator.clone()).collect();
        if let Some(rpc) = DEV_ACCOUNTS.first().and_then(|first| rpc_of(first)) {
            for (i, worker) in plan.workers.into_iter().enumerate() {
                let operator = phala_keys::Sr25519Pair::from_uri(&format!("//{}", worker.operator))
                    .map_err(|e| DevnetError::Key(e.to_string()))?;
                let mut config = dev_worker(rpc, worker.base_path, operator, worker.listen);
                config.contracts.http_allow = plan.http_allow.clone();
                crate::outln!(
                    "  worker-{:<2} http://{}/info (simulated TEE, operator //{})",
                    i.saturating_add(1),
                    worker.listen,
                    worker.operator
                );
                let tag = format!("worker-{}", i.saturating_add(1));
                threads.push(crate::args::spawn_worker(
                    config,
                    stop.subscribe(),
                    Some(tag),
                ));
                workers.push(format!("http://{}", worker.listen));
            }
            if plan.cluster && !workers.is_empty() {
                threads.push(crate::devnet_cluster::spawn(
                    rpc,
                    workers.clone(),
                    stop.subscribe(),
                ));
            }
            if let Some(ports) = plan.analytics_demo {
                threads.push(crate::devnet_analytics::spawn(
                    rpc,
                    workers.clone(),
                    ports,
                    stop.subscribe(),
                ));
            }
            if plan.computing {
                threads.push(crate::devnet_computing::spawn(
                    rpc,
                    workers.iter().cloned().zip(operators).collect(),
                    stop.subscribe(),
                ));
            }
        }
        // Each validator's gatekeeper follows its own node; the genesis makes it a gatekeeper
        // when it registers (its operator, the validator's stash, is listed there).
        for gatekeeper in plan.gatekeepers {
            let Some(rpc) = rpc_of(&gatekeeper.validator) else {
                continue;
            };
            let name = gatekeeper.validator;
            let operator = phala_chain::dev::gatekeeper_operator(&name)
                .map_err(|e| DevnetError::Key(e.to_string()))?;
            let config = dev_worker(rpc, gatekeeper.base_path, operator, gatekeeper.listen);
            crate::outln!(
                "  gatekeeper {name:<8} http://{}/info (simulated TEE, operator //{name}//stash)",
                gatekeeper.listen
            );
            let tag = format!("gk-{name}");
            threads.push(crate::args::spawn_worker(
                config,
                stop.subscribe(),
                Some(tag),
            ));
        }
        if let Some(listen) = plan.explorer
            && let Some(rpc) = DEV_ACCOUNTS.first().and_then(|first| rpc_of(first))
            && let Some((url, thread)) =
                crate::explorer_cmds::spawn_for_devnet(rpc, listen, stop.subscribe())
        {
            crate::outln!("  Explorer: {url}");
            threads.push(thread);
        }
        if plan.new_spec {
            crate::outln!(
                "  Accounts: //Alice //Bob //Charlie //Dave //Eve //Ferdie, 10,000,000 PHA each"
            );
        } else {
            // A resumed chain: what they hold now is on chain, not what genesis gave them.
            crate::outln!(
                "  Accounts: //Alice //Bob //Charlie //Dave //Eve //Ferdie (`phala balance //Bob`)"
            );
        }
        if plan.keep {
            crate::outln!(
                "  Data:     {} (resumes on the next start)",
                plan.base.display()
            );
        } else {
            crate::outln!(
                "  Data:     {} (deleted on exit; pass --base-path to keep it)",
                plan.base.display()
            );
        }
        Ok(Devnet {
            threads,
            stop,
            nodes,
            workers,
        })
    }

    /// Runs until `shutdown` resolves or any part of the devnet ends (with its error), then
    /// stops every part and returns the first error.
    pub fn wait(self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), DevnetError> {
        let signal = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DevnetError::Node(NodeError::Stopped(format!("signal runtime: {e}"))))?;
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let watchers: Vec<_> = self
            .threads
            .into_iter()
            .map(|thread| {
                let done = done_tx.clone();
                std::thread::spawn(move || {
                    let result = thread.join();
                    let _ = done.send(());
                    result
                })
            })
            .collect();
        signal.block_on(async {
            tokio::select! {
                _ = shutdown => {}
                _ = done_rx.recv() => {}
            }
        });
        let _ = self.stop.send(());
        let mut first_error = None;
        for watcher in watchers {
            match watcher.join() {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    first_error.get_or_insert(DevnetError::Node(e));
                }
                _ => {
                    first_error.get_or_insert(DevnetError::Panicked("node"));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops every part now.
    pub fn stop(self) -> Result<(), DevnetError> {
        self.wait(std::future::ready(()))
    }
}

/// `phala devnet`.
pub fn run(args: DevnetArgs) -> anyhow::Result<()> {
    let temp;
    let (base, keep) = match &args.base_path {
        Some(path) => (path.clone(), true),
        None => {
            temp = tempfile::Builder::new()
                .prefix("phala-devnet-")
                .tempdir()
                .map_err(|e| anyhow::anyhow!("cannot create a temporary directory: {e}"))?;
            (temp.path().to_path_buf(), false)
        }
    };
    let saved = saved_spec(&base)?;
    // Ports are chosen before anything listens: never hand out one port twice.
    let mut given = std::collections::HashSet::new();
    let mut free_port = || {
        for _ in 0..64 {
            let port = crate::args::free_port().map_err(|e| DevnetError::Args(format!("{e:#}")))?;
            if given.insert(port) {
                return Ok(port);
            }
        }
        Err(DevnetError::Args("cannot find enough free ports".into()))
    };
    let plan = DevnetPlan::resolve(&args, &base, keep, saved, &mut free_port)?;
    let devnet = Devnet::start(plan)?;
    crate::outln!("Press Ctrl-C to stop.");
    devnet.wait(crate::args::shutdown_signal())?;
    Ok(())
}

#[cfg(test)]
#[path = "devnet_tests.rs"]
mod tests;
