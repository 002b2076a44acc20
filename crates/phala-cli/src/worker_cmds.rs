//! `phala worker`: a TEE worker and its relayer, in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use phala_worker::WorkerConfig;

use crate::args::{Tee, h256, sr25519};

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The node to follow and submit through (ws:// or http://).
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    node: String,
    /// Directory for the worker's sealed state (its keys and checkpoint, sealed together:
    /// losing it loses the worker's identity).
    #[arg(long)]
    base_path: PathBuf,
    /// Secret URI of the operator account: pays the worker's transactions, collects rewards.
    /// Prefer the environment variable on shared machines: arguments are visible to others.
    #[arg(long, env = "PHALA_OPERATOR", hide_env_values = true)]
    operator: String,
    /// The TEE the worker runs in: `simulated` (no protection; development chains only),
    /// `sgx` (Gramine) or `tdx`.
    #[arg(long, value_enum, default_value_t = Tee::Simulated)]
    tee: Tee,
    /// Address of the worker's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Refuse a node whose genesis hash differs (0x-hex). Default: the node's on the first
    /// start; from then on the keys are sealed with that genesis and refuse any other.
    #[arg(long)]
    genesis_hash: Option<String>,
    /// On the first start, follow the chain from this finalized epoch-boundary block (the
    /// last block of an epoch, 0x-hash) instead of from genesis: faster, and the node need
    /// not keep older states. The worker verifies it back to genesis by one finality
    /// certificate per epoch.
    #[arg(long)]
    trusted_checkpoint: Option<String>,
    /// Intel collateral (PCCS JSON) for a hardware quote.
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// A host contracts may reach over HTTP(S) in queries: `api.example.com`,
    /// `*.example.com` (the domain and its subdomains) or `*` (any). Repeat or separate with
    /// commas. Default: none.
    #[arg(long, value_delimiter = ',')]
    http_allow: Vec<String>,
    /// Longest a contract query may run, in seconds (HTTP requests included; 1 to 600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    query_timeout: u64,
    /// Most gas a signed contract query may use; anonymous ones get a quarter of it.
    #[arg(long, default_value_t = phala_worker::contracts::DEFAULT_QUERY_GAS)]
    query_gas: u64,
    /// Web3 Analytics consents and page views one address may send per minute; more are
    /// refused (HTTP 429) so a flood cannot crowd out other visitors.
    #[arg(long, default_value_t = phala_worker::analytics::ingest::SOURCE_LIMIT)]
    ingest_per_source: u32,
    /// A cluster member's worker API (`http://host:port`) to fetch the cluster's sealed
    /// state from, should this worker be added to a cluster that exists
    /// (`contracts.addClusterWorker`). Repeat or separate with commas; tried in turn.
    #[arg(long, value_delimiter = ',')]
    cluster_peer: Vec<String>,
}

pub fn config(args: WorkerArgs) -> anyhow::Result<WorkerConfig> {
    let operator = sr25519("--operator", &args.operator)?;
    let genesis_hash = args
        .genesis_hash
        .map(|h| h256("--genesis-hash", &h))
        .transpose()?;
    let trusted_checkpoint = args
        .trusted_checkpoint
        .map(|h| h256("--trusted-checkpoint", &h))
        .transpose()?;
    Ok(WorkerConfig {
        node_url: args.node,
        base_path: args.base_path,
        operator,
        tee: args.tee.into(),
        listen: args.listen,
        genesis_hash,
        trusted_checkpoint,
        collateral: args.collateral,
        progress_bar: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        contracts: phala_worker::ContractsConfig {
            http_allow: args.http_allow,
            query_timeout: std::time::Duration::from_secs(args.query_timeout),
            query_gas: args.query_gas,
        },
        ingest_per_source: args.ingest_per_source,
        cluster_peers: args.cluster_peer,
    })
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(phala_worker::run(config, crate::args::shutdown_signal()))?;
    Ok(())
}
