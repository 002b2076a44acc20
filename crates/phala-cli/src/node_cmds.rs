//! `phala node`: a validator or full node, optionally with its gatekeeper worker.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use phala_chain::ChainSpec;
use phala_keys::Ed25519Pair;
use phala_node::{Follower, NodeConfig, NodeInfo};

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
    /// JSON-RPC port (HTTP and WebSocket on one port), on 127.0.0.1 unless --rpc-external.
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
    tee: Option<crate::args::Tee>,
    /// Address of the gatekeeper worker's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8000", requires = "gatekeeper")]
    worker_listen: SocketAddr,
    /// Intel collateral (PCCS JSON) for the gatekeeper's hardware quote.
    #[arg(long, requires = "gatekeeper")]
    collateral: Option<PathBuf>,
}

/// What a started node prints: where to reach it.
fn announce(info: &NodeInfo) {
    crate::outln!(
        "node running: RPC ws://{}, genesis {}, finalized #{}{}",
        info.rpc_addr,
        info.genesis_hash,
        info.finalized,
        info.prometheus_addr
            .map(|a| format!(", metrics http://{a}/metrics"))
            .unwrap_or_default()
    );
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
        let operator = crate::args::sr25519("--operator", &operator_uri)?;
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
            ingest_per_source: phala_worker::analytics::ingest::SOURCE_LIMIT,
            cluster_peers: Vec::new(),
        })
    } else {
        None
    };
    let config = NodeConfig {
        spec,
        base_path: args.base_path,
        validator,
        rpc_addr: crate::args::rpc_addr(args.rpc_port, args.rpc_external),
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
        // Tagged only when the gatekeeper shares the process, so its lines can be told apart.
        log_tag: gatekeeper.is_some().then(|| "node".to_string()),
    };
    if let Some(worker) = gatekeeper {
        return node_with_gatekeeper(config, worker);
    }
    phala_node::run(config, move |info: &NodeInfo| {
        announce(info);
        if full_node {
            crate::outln!(
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
    crate::outln!(
        "gatekeeper worker: http://{}/info; once registered, root makes it a gatekeeper with \
         `phala gatekeeper add <its pubkey> --suri <root>` (a development chain does it itself)",
        worker.listen
    );
    let worker = crate::args::spawn_worker(worker, stop_tx.subscribe(), Some("gatekeeper".into()));
    let signal = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    signal.block_on(async {
        loop {
            tokio::select! {
                _ = crate::args::shutdown_signal() => break,
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
