//! `phala`: a thin command line over the node and the client SDK (the commands live in the
//! `phala_cli` library, so tests can run them in-process).
//!
//! Arguments are parsed first, then resolved into a validated configuration; every failure
//! ends as one sentence on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use phala_cli::{
    analytics_cmds, block_cmds, bridge_cmds, client_cmds, contract_cmds, devnet, explorer_cmds,
    gov_cmds, key_cmds, node_cmds, pool_cmds, spec_cmds, validator_cmds, worker_cmds,
};

#[derive(Parser)]
#[command(
    name = "phala",
    version,
    about = "Phala: a decentralized, confidential cloud — node and client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole local network in one process: no set-up, dev accounts funded.
    Devnet(devnet::DevnetArgs),
    /// Run a node of the chain a spec file describes.
    Node(node_cmds::NodeArgs),
    /// Run a TEE worker: register, follow the chain on proofs, serve its API.
    Worker(worker_cmds::WorkerArgs),
    /// Write a chain spec: for a live chain (real keys), or with --dev for a test network.
    ChainSpec(spec_cmds::ChainSpecArgs),
    /// Generate or inspect keys.
    #[command(subcommand)]
    Key(client_cmds::KeyCmd),
    /// Show an account's balance.
    Balance(client_cmds::BalanceArgs),
    /// Transfer PHA and wait until the transfer is final.
    Transfer(client_cmds::TransferArgs),
    /// List the registered workers (simulated ones marked as such).
    Workers(client_cmds::WorkersArgs),
    /// Show a block: its extrinsics (signer, call, fee, result) and events, decoded by the
    /// node's metadata.
    Block(block_cmds::BlockArgs),
    /// List the gatekeepers and the master key's public history.
    Gatekeepers(key_cmds::ListArgs),
    /// Make a worker a gatekeeper, or rotate the master key (root).
    #[command(subcommand)]
    Gatekeeper(key_cmds::GatekeeperCmd),
    /// List the clusters and their keys.
    Clusters(key_cmds::ListArgs),
    /// Create a cluster of workers, or add and remove its workers (root).
    #[command(subcommand)]
    Cluster(key_cmds::ClusterCmd),
    /// Send an encrypted, optionally signed query to a worker and check its signed reply.
    Query(key_cmds::QueryArgs),
    /// Upload, instantiate, call and query confidential ink! contracts (cargo-contract style).
    #[command(subcommand)]
    Contract(contract_cmds::ContractCmd),
    /// Bond PHA and stand for election as a validator (gatekeeper).
    #[command(subcommand)]
    Validator(validator_cmds::ValidatorCmd),
    /// Create a stake pool, add and start workers, contribute and withdraw.
    #[command(subcommand)]
    Pool(pool_cmds::PoolCmd),
    /// List the stake pools: stake, share price, commission, APR, workers (and, with
    /// --account, that account's shares).
    Pools(pool_cmds::PoolsArgs),
    /// List the workers' computing sessions: state, V, P, heartbeats, rewards.
    Computing(pool_cmds::ListArgs),
    /// Governance: propose calls, place deposits, vote with conviction, delegate, unlock,
    /// and follow referenda.
    #[command(subcommand)]
    Gov(gov_cmds::GovCmd),
    /// The treasury: propose spends, list them with the pot, pay them out.
    #[command(subcommand)]
    Treasury(gov_cmds::TreasuryCmd),
    /// Web3 Analytics: sites on chain, the tracker snippet, reports and a dashboard.
    #[command(subcommand)]
    Analytics(analytics_cmds::AnalyticsCmd),
    /// Serve the web explorer for a node: blocks, accounts, validators, workers, pools,
    /// contracts, governance and the treasury, updated live.
    Explorer(explorer_cmds::ExplorerArgs),
    /// Bridges to other phala chains: light clients, channels, transfers, packets.
    #[command(subcommand)]
    Bridge(bridge_cmds::BridgeCmd),
    /// Relay between two chains: client updates, channel confirmations, packets and
    /// acknowledgements, both ways, until Ctrl-C.
    Relay(bridge_cmds::RelayArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,chain=info,node=info,state=info,phala_worker=info")
    });
    // Colour only for a person at a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .event_format(Tagged(tracing_subscriber::fmt::format()))
        .try_init();
}

/// The usual line, after the tag of the part that wrote it (`Alice`, `worker-1`, `gk-Bob`)
/// where one process runs several (see `phala_node::log_tag`).
struct Tagged<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Tagged<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if let Some(tag) = phala_node::log_tag::current() {
            write!(writer, "{tag:<9} | ")?;
        }
        self.0.format_event(ctx, writer, event)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Devnet(args) => devnet::run(args),
        Command::Node(args) => node_cmds::node(args),
        Command::Worker(args) => worker_cmds::worker(args),
        Command::ChainSpec(args) => spec_cmds::chain_spec(args),
        Command::Key(cmd) => client_cmds::run_key(cmd),
        Command::Balance(args) => block_on(client_cmds::run_balance(args)),
        Command::Transfer(args) => block_on(client_cmds::run_transfer(args)),
        Command::Workers(args) => block_on(client_cmds::run_workers(args)),
        Command::Block(args) => block_on(block_cmds::run(args)),
        Command::Gatekeepers(args) => block_on(key_cmds::run_gatekeepers(args)),
        Command::Gatekeeper(cmd) => block_on(key_cmds::run_gatekeeper(cmd)),
        Command::Clusters(args) => block_on(key_cmds::run_clusters(args)),
        Command::Cluster(cmd) => block_on(key_cmds::run_cluster(cmd)),
        Command::Validator(cmd) => block_on(validator_cmds::run(cmd)),
        Command::Pool(cmd) => block_on(pool_cmds::run(cmd)),
        Command::Pools(args) => block_on(pool_cmds::pools(args)),
        Command::Computing(args) => block_on(pool_cmds::computing(args)),
        Command::Query(args) => block_on(key_cmds::run_query(args)),
        Command::Contract(cmd) => block_on(contract_cmds::run(cmd)),
        Command::Gov(cmd) => block_on(gov_cmds::run(cmd)),
        Command::Treasury(cmd) => block_on(gov_cmds::run_treasury(cmd)),
        Command::Analytics(cmd) => block_on(analytics_cmds::run(cmd)),
        Command::Explorer(args) => block_on(explorer_cmds::run(args)),
        Command::Bridge(cmd) => block_on(bridge_cmds::run(cmd)),
        Command::Relay(args) => block_on(bridge_cmds::relay(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command's arguments are consistent (unique names, valid defaults): clap only
    /// checks this when a command is first parsed.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
