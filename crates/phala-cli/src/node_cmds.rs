//! `phala devnet`, `phala node` and `phala chain-spec`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use phala_chain::dev::{DEV_ACCOUNTS, local_testnet};
use phala_chain::{ChainSpec, ChainType};
use phala_keys::Ed25519Pair;
use phala_node::{Follower, NodeConfig, NodeInfo};

const SPEC_FILE: &str = "chain-spec.json";

#[derive(clap::Args)]
pub struct DevnetArgs {
    /// Keep the chain in this directory (and resume from it next time); default: a temporary
    /// directory deleted on exit.
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// JSON-RPC port (HTTP and WebSocket).
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// Prometheus metrics port.
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Peer-to-peer port; default: a free port.
    #[arg(long)]
    p2p_port: Option<u16>,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    rpc_external: bool,
    /// Number of validators (//Alice, //Bob, …), each with its own RPC port from --rpc-port on.
    #[arg(long, default_value_t = 1)]
    validators: usize,
    /// Number of full nodes (no consensus key) following the validators, with RPC ports after
    /// the validators'.
    #[arg(long, default_value_t = 0)]
    full_nodes: usize,
    /// Number of simulated TEE workers, following the first validator; each registers and
    /// benchmarks at once (operators //Alice, //Bob, … in turn).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// HTTP API port of the first worker; the others follow. 0: a free port for each.
    #[arg(long, default_value_t = 8000)]
    worker_port: u16,
    /// HTTP API port of the first validator's gatekeeper worker, the others following;
    /// default: free ports.
    #[arg(long)]
    gatekeeper_port: Option<u16>,
    /// Run the validators without their gatekeeper workers (no master key, no clusters).
    #[arg(long)]
    no_gatekeepers: bool,
    /// Leave the workers out of any cluster (by default they form one, for contracts).
    #[arg(long)]
    no_cluster: bool,
    /// Hosts the workers' contracts may reach over HTTP(S) in queries (as `phala worker
    /// --http-allow`). Default: none.
    #[arg(long, value_delimiter = ',')]
    http_allow: Vec<String>,
}

/// Most workers `phala devnet` runs.
pub const MAX_DEVNET_WORKERS: usize = 32;

#[derive(clap::Args)]
pub struct NodeArgs {
    /// Chain spec file (see `phala chain-spec`).
    #[arg(long)]
    chain: PathBuf,
    /// Directory for the chain's data.
    #[arg(long)]
    base_path: PathBuf,
    /// Secret URI of this validator's consensus key (e.g. //Alice, or its phrase). Prefer
    /// the environment variable on shared machines: arguments are visible to others.
    #[arg(long, env = "PHALA_VALIDATOR", hide_env_values = true)]
    validator: Option<String>,
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    rpc_external: bool,
    /// Prometheus metrics port; 0 disables metrics. Default: 9615, or the next free port
    /// after it when another node on this machine has it (the port is printed).
    #[arg(long)]
    prometheus_port: Option<u16>,
    /// Peer-to-peer listening port (default: this validator's port in the spec; required for
    /// a full node).
    #[arg(long)]
    p2p_port: Option<u16>,
    /// Let a full node follow this validator: `--follower 0xKEY@HOST:PORT`, KEY being what the
    /// full node prints at start. Repeatable.
    #[arg(long = "follower", value_name = "0xKEY@HOST:PORT")]
    followers: Vec<String>,
    /// Recent states kept for historical queries, or "archive" to keep all.
    #[arg(long, default_value = "4096")]
    state_pruning: String,
    /// Node name reported over RPC.
    #[arg(long, default_value = "phala-node")]
    name: String,
    /// Also run this validator's gatekeeper: a TEE worker in the same process, following
    /// this node. Root makes it a gatekeeper (`phala gatekeeper add`), or, on a
    /// development chain, the genesis list of gatekeeper operators.
    #[arg(long, requires = "validator")]
    gatekeeper: bool,
    /// Secret URI of the gatekeeper worker's operator (pays its transactions); default:
    /// the validator's URI + "//stash".
    #[arg(
        long,
        env = "PHALA_OPERATOR",
        hide_env_values = true,
        requires = "gatekeeper"
    )]
    operator: Option<String>,
    /// The gatekeeper worker's TEE. Required with --gatekeeper, so that nobody runs a
    /// simulated (unprotected) gatekeeper without having said so.
    #[arg(
        long,
        value_enum,
        requires = "gatekeeper",
        required_if_eq("gatekeeper", "true")
    )]
    tee: Option<crate::worker_cmds::Tee>,
    /// Address of the gatekeeper worker's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8000", requires = "gatekeeper")]
    worker_listen: SocketAddr,
    /// Intel collateral (PCCS JSON) for the gatekeeper's hardware quote.
    #[arg(long, requires = "gatekeeper")]
    collateral: Option<PathBuf>,
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
    }
}

/// Runs a worker on its own small async runtime in a thread, until `stop` fires.
fn spawn_worker(
    config: phala_worker::WorkerConfig,
    mut stop: tokio::sync::broadcast::Receiver<()>,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| phala_node::NodeError::Stopped(format!("worker runtime: {e}")))?;
        runtime
            .block_on(phala_worker::run(config, async move {
                let _ = stop.recv().await;
            }))
            .map_err(|e| phala_node::NodeError::Stopped(format!("worker: {e}")))
    })
}

fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

pub(crate) fn local_spec(
    validators: usize,
    base_port: u16,
    block_time_ms: u64,
    name: &str,
    id: &str,
    chain_type: ChainType,
) -> anyhow::Result<ChainSpec> {
    let mut spec = local_testnet(name, id, chain_type, validators, base_port)?;
    spec.block_time_ms = block_time_ms;
    spec.validate()?;
    Ok(spec)
}

/// What a started node prints: where to reach it.
fn announce(info: &NodeInfo) {
    println!(
        "node running: RPC ws://{}, genesis {}, finalized #{}{}",
        info.rpc_addr,
        info.genesis_hash,
        info.finalized,
        info.prometheus_addr
            .map(|a| format!(", metrics http://{a}/metrics"))
            .unwrap_or_default()
    );
}

fn rpc_addr(port: u16, external: bool) -> SocketAddr {
    let ip = if external {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    SocketAddr::from((ip, port))
}

/// The devnet's spec: the one saved in `base` (its genesis, validators and their ports) or a
/// new one for `validators` validators on free loopback ports.
fn load_or_create_devnet_spec(
    base: &Path,
    validators: usize,
    first_p2p_port: Option<u16>,
) -> anyhow::Result<ChainSpec> {
    let path = base.join(SPEC_FILE);
    if path.exists() {
        let spec = ChainSpec::load(&path)?;
        if spec.validators.len() != validators {
            bail!(
                "{} holds a devnet with {} validators; start it with --validators {} or use another --base-path",
                base.display(),
                spec.validators.len(),
                spec.validators.len()
            );
        }
        return Ok(spec);
    }
    let mut spec = local_spec(
        validators,
        30333,
        phala_chain::dev::DEV_BLOCK_TIME_MS,
        "Phala Devnet",
        "phala_dev",
        ChainType::Development,
    )?;
    for (i, v) in spec.validators.iter_mut().enumerate() {
        let port = match (i, first_p2p_port) {
            (0, Some(port)) => port,
            _ => free_port()?,
        };
        v.p2p_address = SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string();
    }
    spec.validate()?;
    std::fs::create_dir_all(base).with_context(|| format!("cannot create {}", base.display()))?;
    std::fs::write(&path, spec.to_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(spec)
}

pub fn devnet(args: DevnetArgs) -> anyhow::Result<()> {
    if args.validators == 0 || args.validators > DEV_ACCOUNTS.len() {
        bail!(
            "--validators must be 1 to {} (//Alice..//Ferdie)",
            DEV_ACCOUNTS.len()
        );
    }
    if args.workers > MAX_DEVNET_WORKERS {
        bail!("--workers must be at most {MAX_DEVNET_WORKERS}");
    }
    if args.full_nodes > phala_node::MAX_FOLLOWERS {
        bail!("--full-nodes must be at most {}", phala_node::MAX_FOLLOWERS);
    }
    let temp;
    let (base, keep) = match args.base_path {
        Some(path) => (path, true),
        None => {
            temp = tempfile::Builder::new()
                .prefix("phala-devnet-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (temp.path().to_path_buf(), false)
        }
    };
    let spec = load_or_create_devnet_spec(&base, args.validators, args.p2p_port)?;
    let port = |first: u16, i: usize| -> anyhow::Result<u16> {
        u16::try_from(i)
            .ok()
            .and_then(|i| first.checked_add(i))
            .context("port out of range")
    };
    // Full nodes' keys and ports come first: every validator admits them.
    let mut full_nodes = Vec::new();
    for i in 0..args.full_nodes {
        let base_path = base.join(format!("full-{}", i + 1));
        let key = phala_node::identity::load_or_create_node_key(&base_path)?;
        let p2p = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        full_nodes.push((base_path, key, p2p));
    }
    let followers: Vec<Follower> = full_nodes
        .iter()
        .map(|(_, key, p2p)| Follower {
            key: key.public(),
            address: *p2p,
        })
        .collect();
    let mut configs = Vec::new();
    for (i, name) in DEV_ACCOUNTS.iter().take(args.validators).enumerate() {
        configs.push((
            name.to_string(),
            NodeConfig {
                spec: spec.clone(),
                base_path: base.join(name.to_lowercase()),
                validator: Some(Ed25519Pair::from_uri(&format!("//{name}"))?),
                rpc_addr: rpc_addr(port(args.rpc_port, i)?, args.rpc_external),
                prometheus_addr: Some(SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    port(args.prometheus_port, i)?,
                ))),
                p2p_listen: None,
                // Workers sync from genesis with a read proof of every block's state: the
                // validator they follow keeps all states.
                pruning: if i == 0 && args.workers > 0 {
                    None
                } else {
                    Some(4096)
                },
                name: format!("phala-devnet-{}", name.to_lowercase()),
                followers: followers.clone(),
            },
        ));
    }
    for (i, (base_path, _, p2p)) in full_nodes.into_iter().enumerate() {
        let at = args.validators.saturating_add(i);
        configs.push((
            format!("full-{}", i + 1),
            NodeConfig {
                spec: spec.clone(),
                base_path,
                validator: None,
                rpc_addr: rpc_addr(port(args.rpc_port, at)?, args.rpc_external),
                prometheus_addr: Some(SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    port(args.prometheus_port, at)?,
                ))),
                p2p_listen: Some(p2p),
                pruning: Some(4096),
                name: format!("phala-devnet-full-{}", i + 1),
                followers: Vec::new(),
            },
        ));
    }
    println!(
        "phala devnet: {} ({} validator{}{})",
        spec.name,
        args.validators,
        if args.validators == 1 { "" } else { "s" },
        match args.full_nodes {
            0 => String::new(),
            1 => ", 1 full node".into(),
            n => format!(", {n} full nodes"),
        }
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<(String, NodeInfo)>();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut threads = Vec::new();
    for (name, config) in configs {
        let ready = ready_tx.clone();
        let mut stop = stop_tx.subscribe();
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
    let mut first_rpc = None;
    let mut gatekeeper_nodes = Vec::new();
    for _ in 0..threads.len() {
        let Ok((name, info)) = ready_rx.recv() else {
            break;
        };
        if name == DEV_ACCOUNTS[0] {
            first_rpc = Some(info.rpc_addr);
        }
        if !args.no_gatekeepers && DEV_ACCOUNTS.contains(&name.as_str()) {
            gatekeeper_nodes.push((name.clone(), info.rpc_addr));
        }
        println!(
            "  {name:<8} RPC ws://{0} (HTTP http://{0}), metrics {1}, genesis {2}",
            info.rpc_addr,
            info.prometheus_addr
                .map(|p| format!("http://{p}/metrics"))
                .unwrap_or_default(),
            info.genesis_hash
        );
    }
    let mut worker_urls = Vec::new();
    if let Some(rpc) = first_rpc {
        for i in 0..args.workers {
            let operator = DEV_ACCOUNTS[i % DEV_ACCOUNTS.len()];
            let listen = SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                match args.worker_port {
                    0 => free_port()?,
                    first => port(first, i)?,
                },
            ));
            let mut config = dev_worker(
                rpc,
                base.join(format!("worker-{}", i + 1)),
                phala_keys::Sr25519Pair::from_uri(&format!("//{operator}"))?,
                listen,
            );
            config.contracts.http_allow = args.http_allow.clone();
            println!(
                "  worker-{:<2} http://{listen}/info (simulated TEE, operator //{operator})",
                i + 1
            );
            threads.push(spawn_worker(config, stop_tx.subscribe()));
            worker_urls.push(format!("http://{listen}"));
        }
        if !worker_urls.is_empty() && !args.no_gatekeepers && !args.no_cluster {
            threads.push(crate::devnet_cluster::spawn(
                rpc,
                worker_urls,
                stop_tx.subscribe(),
            ));
        }
    }
    gatekeeper_nodes.sort_by_key(|(n, _)| DEV_ACCOUNTS.iter().position(|a| a == n));
    // Each validator's gatekeeper follows its own node; the genesis makes it a gatekeeper
    // when it registers (its operator, the validator's stash, is listed there).
    for (i, (name, rpc)) in gatekeeper_nodes.into_iter().enumerate() {
        let listen = match args.gatekeeper_port {
            Some(first) => SocketAddr::from((Ipv4Addr::LOCALHOST, port(first, i)?)),
            None => SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?)),
        };
        let config = dev_worker(
            rpc,
            base.join(name.to_lowercase()).join("gatekeeper"),
            phala_chain::dev::gatekeeper_operator(&name)?,
            listen,
        );
        println!(
            "  gatekeeper {name:<8} http://{listen}/info (simulated TEE, operator //{name}//stash)"
        );
        threads.push(spawn_worker(config, stop_tx.subscribe()));
    }
    println!("  Accounts: //Alice //Bob //Charlie //Dave //Eve //Ferdie, 10,000,000 PHA each");
    if keep {
        println!("  Data:     {} (resumes on the next start)", base.display());
    } else {
        println!(
            "  Data:     {} (deleted on exit; pass --base-path to keep it)",
            base.display()
        );
    }
    println!("Press Ctrl-C to stop.");
    // Stop every node on Ctrl-C / SIGTERM, or when any of them ends (with its error).
    let signal = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watchers: Vec<_> = threads
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
            _ = shutdown_signal() => {}
            _ = done_rx.recv() => {}
        }
    });
    let _ = stop_tx.send(());
    let mut first_error = None;
    for watcher in watchers {
        match watcher.join() {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                first_error.get_or_insert(anyhow::Error::from(e));
            }
            _ => {
                first_error.get_or_insert(anyhow::anyhow!("a node thread panicked"));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn node(args: NodeArgs) -> anyhow::Result<()> {
    let spec = ChainSpec::load(&args.chain)?;
    let validator = match &args.validator {
        Some(uri) => Some(
            Ed25519Pair::from_uri(uri)
                .with_context(|| format!("--validator {uri:?} is not a valid secret URI"))?,
        ),
        None => None,
    };
    let pruning = match args.state_pruning.as_str() {
        "archive" => None,
        n => Some(n.parse::<u32>().with_context(|| {
            format!("--state-pruning {n:?} is neither a number nor \"archive\"")
        })?),
    };
    let followers = args
        .followers
        .iter()
        .map(|f| {
            f.parse::<Follower>()
                .map_err(|e| anyhow::anyhow!("--follower {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if validator.is_none() && !followers.is_empty() {
        bail!("--follower admits full nodes to a validator; this node has no --validator");
    }
    let full_node = validator.is_none();
    let gatekeeper = if args.gatekeeper {
        let uri = args.validator.clone().unwrap_or_default();
        let operator_uri = args
            .operator
            .clone()
            .unwrap_or_else(|| format!("{uri}//stash"));
        let operator = phala_keys::Sr25519Pair::from_uri(&operator_uri)
            .map_err(|e| anyhow::anyhow!("--operator: {e}"))?;
        Some(phala_worker::WorkerConfig {
            node_url: String::new(),
            base_path: args.base_path.join("gatekeeper"),
            operator,
            tee: args
                .tee
                .context("--gatekeeper needs --tee (simulated, sgx or tdx)")?
                .into(),
            listen: args.worker_listen,
            genesis_hash: None,
            trusted_checkpoint: None,
            collateral: args.collateral.clone(),
            progress_bar: false,
            contracts: Default::default(),
        })
    } else {
        None
    };
    let config = NodeConfig {
        spec,
        base_path: args.base_path,
        validator,
        rpc_addr: rpc_addr(args.rpc_port, args.rpc_external),
        prometheus_addr: match args.prometheus_port {
            Some(0) => None,
            port => Some(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                port.unwrap_or(phala_node::metrics::DEFAULT_PORT),
            ))),
        },
        p2p_listen: args
            .p2p_port
            .map(|p| SocketAddr::from((Ipv4Addr::UNSPECIFIED, p))),
        pruning,
        name: args.name,
        followers,
    };
    if let Some(worker) = gatekeeper {
        return node_with_gatekeeper(config, worker);
    }
    phala_node::run(config, move |info: &NodeInfo| {
        announce(info);
        if full_node {
            println!(
                "full node: p2p key 0x{}; each validator admits it with --follower 0x{}@HOST:{}",
                hex::encode(info.p2p_key),
                hex::encode(info.p2p_key),
                info.p2p_addr.map(|a| a.port()).unwrap_or_default()
            );
        }
    })?;
    Ok(())
}

/// A validator and its gatekeeper worker in one process: the worker follows the node's own
/// RPC; either stopping stops both.
fn node_with_gatekeeper(
    config: NodeConfig,
    mut worker: phala_worker::WorkerConfig,
) -> anyhow::Result<()> {
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<NodeInfo>();
    let mut stop = stop_tx.subscribe();
    let node = std::thread::spawn(move || {
        phala_node::run_until(
            config,
            move |info: &NodeInfo| {
                let _ = ready_tx.send(info.clone());
            },
            async move {
                let _ = stop.recv().await;
            },
        )
    });
    let Ok(info) = ready_rx.recv() else {
        // The node stopped before it was ready: its error says why.
        return match node.join() {
            Ok(Err(e)) => Err(e.into()),
            _ => Err(anyhow::anyhow!("the node stopped before it was ready")),
        };
    };
    announce(&info);
    worker.node_url = format!("ws://{}", info.rpc_addr);
    worker.genesis_hash = Some(info.genesis_hash);
    println!(
        "gatekeeper worker: http://{}/info; once registered, root makes it a gatekeeper with \
         `phala gatekeeper add <its pubkey> --suri <root>` (a development chain does it itself)",
        worker.listen
    );
    let worker = spawn_worker(worker, stop_tx.subscribe());
    let signal = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    signal.block_on(async {
        loop {
            tokio::select! {
                _ = shutdown_signal() => break,
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                    if node.is_finished() || worker.is_finished() {
                        break;
                    }
                }
            }
        }
    });
    let _ = stop_tx.send(());
    let node = node
        .join()
        .map_err(|_| anyhow::anyhow!("the node thread panicked"))?;
    let worker = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the gatekeeper thread panicked"))?;
    node?;
    worker?;
    Ok(())
}
