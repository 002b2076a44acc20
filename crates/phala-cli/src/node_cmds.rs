//! `phala devnet`, `phala node` and `phala chain-spec`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::Context;
use phala_chain::dev::local_testnet;
use phala_chain::{ChainSpec, ChainType};
use phala_keys::Ed25519Pair;
use phala_node::{NodeConfig, NodeInfo};

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
}

#[derive(clap::Args)]
pub struct NodeArgs {
    /// Chain spec file (see `phala chain-spec`).
    #[arg(long)]
    chain: PathBuf,
    /// Directory for the chain's data.
    #[arg(long)]
    base_path: PathBuf,
    /// Secret URI of this validator's consensus key (e.g. //Alice).
    #[arg(long)]
    validator: Option<String>,
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    rpc_external: bool,
    /// Prometheus metrics port; 0 disables metrics.
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Peer-to-peer listening port (default: this validator's port in the spec).
    #[arg(long)]
    p2p_port: Option<u16>,
    /// Recent states kept for historical queries, or "archive" to keep all.
    #[arg(long, default_value = "4096")]
    state_pruning: String,
    /// Node name reported over RPC.
    #[arg(long, default_value = "phala-node")]
    name: String,
}

#[derive(clap::Args)]
pub struct ChainSpecArgs {
    /// Number of validators: //Alice, //Bob, … in that order.
    #[arg(long, default_value_t = 1)]
    validators: usize,
    /// First peer-to-peer port; validator i listens on PORT+i on 127.0.0.1.
    #[arg(long, default_value_t = 30333)]
    p2p_base_port: u16,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Block time in milliseconds.
    #[arg(long, default_value_t = phala_chain::dev::DEV_BLOCK_TIME_MS)]
    block_time_ms: u64,
    /// Blocks per epoch (the committee changes only between epochs).
    #[arg(long)]
    epoch_length: Option<u32>,
    /// Give one validator a real address: `--host //Bob=node2.example.org:30333`. Repeatable.
    #[arg(long = "host", value_name = "URI=HOST:PORT")]
    hosts: Vec<String>,
}

fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

fn local_spec(
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

pub fn chain_spec(args: ChainSpecArgs) -> anyhow::Result<()> {
    let spec = local_spec(
        args.validators,
        args.p2p_base_port,
        args.block_time_ms,
        "Phala Local Testnet",
        "phala_local",
        ChainType::Local,
    )?;
    let mut spec = spec;
    if let Some(length) = args.epoch_length {
        spec.epoch_length = length;
    }
    for host in &args.hosts {
        let (uri, address) = host
            .split_once('=')
            .with_context(|| format!("--host {host:?} is not URI=HOST:PORT"))?;
        let account = phala_keys::Sr25519Pair::from_uri(uri)
            .with_context(|| format!("--host {host:?}: {uri:?} is not a secret URI"))?
            .account_id()
            .to_ss58();
        let validator = spec
            .validators
            .iter_mut()
            .find(|v| v.account == account)
            .with_context(|| {
                format!("--host {host:?}: {uri} is not one of the spec's validators")
            })?;
        validator.p2p_address = address.to_string();
    }
    spec.validate()?;
    match args.out {
        Some(path) => std::fs::write(&path, spec.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{}", spec.to_json()),
    }
    Ok(())
}

fn rpc_addr(port: u16, external: bool) -> SocketAddr {
    let ip = if external {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    SocketAddr::from((ip, port))
}

fn load_or_create_devnet_spec(base: &Path, p2p_port: u16) -> anyhow::Result<ChainSpec> {
    let path = base.join(SPEC_FILE);
    if path.exists() {
        let mut spec = ChainSpec::load(&path)?;
        // The address is not part of genesis: a resumed devnet may listen elsewhere.
        if let Some(v) = spec.validators.first_mut() {
            v.p2p_address = SocketAddr::from((Ipv4Addr::LOCALHOST, p2p_port)).to_string();
        }
        return Ok(spec);
    }
    let spec = local_spec(
        1,
        p2p_port,
        phala_chain::dev::DEV_BLOCK_TIME_MS,
        "Phala Devnet",
        "phala_dev",
        ChainType::Development,
    )?;
    std::fs::create_dir_all(base).with_context(|| format!("cannot create {}", base.display()))?;
    std::fs::write(&path, spec.to_json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(spec)
}

pub fn devnet(args: DevnetArgs) -> anyhow::Result<()> {
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
    let p2p_port = match args.p2p_port {
        Some(p) => p,
        None => free_port()?,
    };
    let spec = load_or_create_devnet_spec(&base, p2p_port)?;
    let config = NodeConfig {
        spec: spec.clone(),
        base_path: base.clone(),
        validator: Some(Ed25519Pair::from_uri("//Alice")?),
        rpc_addr: rpc_addr(args.rpc_port, args.rpc_external),
        prometheus_addr: Some(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            args.prometheus_port,
        ))),
        p2p_listen: None,
        pruning: Some(4096),
        name: "phala-devnet".into(),
    };
    let name = spec.name.clone();
    phala_node::run(config, move |info: &NodeInfo| {
        println!(
            "phala devnet is running ({name}, genesis {})",
            info.genesis_hash
        );
        println!("  RPC:         ws://{0}  (HTTP: http://{0})", info.rpc_addr);
        if let Some(p) = info.prometheus_addr {
            println!("  Prometheus:  http://{p}/metrics");
        }
        println!(
            "  Accounts:    //Alice //Bob //Charlie //Dave //Eve //Ferdie, 10,000,000 PHA each"
        );
        if keep {
            println!(
                "  Data:        {} (resumes from block #{})",
                base.display(),
                info.finalized
            );
        } else {
            println!(
                "  Data:        {} (deleted on exit; pass --base-path to keep it)",
                base.display()
            );
        }
        println!("Press Ctrl-C to stop.");
    })?;
    Ok(())
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
    let config = NodeConfig {
        spec,
        base_path: args.base_path,
        validator,
        rpc_addr: rpc_addr(args.rpc_port, args.rpc_external),
        prometheus_addr: (args.prometheus_port != 0)
            .then(|| SocketAddr::from((Ipv4Addr::LOCALHOST, args.prometheus_port))),
        p2p_listen: args
            .p2p_port
            .map(|p| SocketAddr::from((Ipv4Addr::UNSPECIFIED, p))),
        pruning,
        name: args.name,
    };
    phala_node::run(config, |info: &NodeInfo| {
        println!(
            "node running: RPC ws://{}, genesis {}, finalized #{}",
            info.rpc_addr, info.genesis_hash, info.finalized
        );
    })?;
    Ok(())
}
