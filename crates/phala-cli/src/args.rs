//! What several commands share: argument types, value parsers, local addresses and the stop
//! signal. Commands import these from here, never from one another.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use phala_client::primitives::AccountId32;
use phala_client::primitives::ss58::{self, Ss58Error};
use phala_client::primitives::{Balance, parse_pha};
use phala_client::{Client, ClientConfig};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use phala_worker::TeeChoice;

/// The TEE a worker runs in, as `--tee` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tee {
    /// No hardware: development chains only, and it says so loudly.
    Simulated,
    /// Intel SGX under Gramine (DCAP).
    Sgx,
    /// Intel TDX guest (configfs-tsm).
    Tdx,
}

impl From<Tee> for TeeChoice {
    fn from(t: Tee) -> Self {
        match t {
            Tee::Simulated => TeeChoice::Simulated,
            Tee::Sgx => TeeChoice::Sgx,
            Tee::Tdx => TeeChoice::Tdx,
        }
    }
}

/// The node a client command talks to unless told otherwise.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:9944";

/// Whether an account argument is a secret URI rather than an address.
pub fn is_secret_uri(input: &str) -> bool {
    input.starts_with('/') || input.contains("//") || input.contains(char::is_whitespace)
}

/// Why an address was refused, naming the dev account a newcomer probably meant.
pub fn address_error(input: &str, e: Ss58Error) -> anyhow::Error {
    match e {
        Ss58Error::BadChecksum(_) => {
            anyhow!(
                "{input:?} is not a valid SS58 address: its checksum does not match (mistyped?)"
            )
        }
        _ => {
            let dev = phala_chain::dev::DEV_ACCOUNTS
                .iter()
                .find(|name| name.eq_ignore_ascii_case(input));
            match dev {
                Some(name) => anyhow!(
                    "{input:?} is neither an SS58 address nor 0x followed by 64 hex digits; \
                     the dev account is written //{name}"
                ),
                None => {
                    anyhow!("{input:?} is neither an SS58 address nor 0x followed by 64 hex digits")
                }
            }
        }
    }
}

/// An account given as an SS58 address, a 0x public key or a secret URI.
pub fn resolve_account(input: &str) -> Result<AccountId32> {
    let input = input.trim();
    if is_secret_uri(input) {
        return Sr25519Pair::from_uri(input)
            .map(|pair| pair.account_id())
            .map_err(|e| anyhow!("the secret URI is not usable: {e}"));
    }
    ss58::parse_account(input)
        .map(AccountId32)
        .map_err(|e| address_error(input, e))
}

/// The sender's key pair from the secret URI flag `flag` (`--from`, `--suri`).
pub fn signer(flag: &str, input: &str) -> Result<Sr25519Pair> {
    let input = input.trim();
    if !is_secret_uri(input) && ss58::parse_account(input).is_ok() && !input.starts_with("0x") {
        bail!("{flag} must be a secret URI (like //Alice or a 12-word phrase), not an address");
    }
    // A dev account's name without `//` is no secret URI at all: say which one was meant.
    if let Some(dev) = phala_chain::dev::DEV_ACCOUNTS
        .iter()
        .find(|d| d.eq_ignore_ascii_case(input))
    {
        bail!("{flag} {input:?} is not a dev account; did you mean //{dev}?");
    }
    Sr25519Pair::from_uri(input).map_err(|e| anyhow!("the {flag} secret URI is not usable: {e}"))
}

/// An amount in PHA; `what` names a flag the amount came from, if any.
pub fn parse_amount(what: Option<&str>, input: &str) -> Result<Balance> {
    parse_pha(input).map_err(|e| match what {
        Some(flag) => anyhow!("invalid {flag}: {e}"),
        None => anyhow!("{e}"),
    })
}

pub async fn connect(url: &str, finality_timeout: Duration) -> Result<Client> {
    let config = ClientConfig {
        finality_timeout,
        ..ClientConfig::default()
    };
    Ok(Client::connect_with(url, config).await?)
}

/// The sr25519 key pair a secret URI flag (`--suri`, `--operator`) names.
pub fn sr25519(flag: &str, uri: &str) -> anyhow::Result<Sr25519Pair> {
    Sr25519Pair::from_uri(uri).map_err(|e| anyhow!("{flag}: {e}"))
}

/// The key pair `--suri` names.
pub fn suri_pair(uri: &str) -> anyhow::Result<Sr25519Pair> {
    sr25519("--suri", uri)
}

/// A 0x-hex hash given to `flag`.
pub fn h256(flag: &str, input: &str) -> anyhow::Result<H256> {
    H256::from_hex(input).map_err(|e| anyhow!("{flag} {input:?}: {e}"))
}

/// A loopback port nothing listens on right now, drawn below Linux's ephemeral range
/// (32768–60999): a port the kernel picked from that range can be taken as the local end of
/// any outgoing connection between this call and the server's own bind, which then fails
/// (a devnet's worker lost its API port that way while other processes were busy). Falls
/// back to the kernel's choice if nothing below is free.
pub fn free_port() -> anyhow::Result<u16> {
    use std::hash::{BuildHasher, RandomState};
    let seed = RandomState::new();
    for attempt in 0u64..256 {
        // 10000–19999: below the ephemeral range, and apart from the 20000–31999 the
        // tests draw from for the processes they start.
        let offset = u16::try_from(seed.hash_one(attempt) % 10_000).unwrap_or(0);
        let port = 10_000u16.saturating_add(offset);
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `port` on loopback.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Where RPC listens: loopback, or every interface with `--rpc-external`.
pub fn rpc_addr(port: u16, external: bool) -> SocketAddr {
    let ip = if external {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    };
    SocketAddr::from((ip, port))
}

/// Resolves on Ctrl-C or SIGTERM.
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

/// Runs a worker on its own small async runtime in a thread, until `stop` fires; `log_tag`
/// marks its log lines.
pub fn spawn_worker(
    config: phala_worker::WorkerConfig,
    mut stop: tokio::sync::broadcast::Receiver<()>,
    log_tag: Option<String>,
) -> std::thread::JoinHandle<Result<(), phala_node::NodeError>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| phala_node::NodeError::Stopped(format!("worker runtime: {e}")))?;
        if let Some(tag) = &log_tag {
            phala_node::log_tag::register(runtime.handle(), tag);
        }
        runtime
            .block_on(phala_worker::run(config, async move {
                let _ = stop.recv().await;
            }))
            .map_err(|e| phala_node::NodeError::Stopped(format!("worker: {e}")))
    })
}

/// A chain spec for `validators` dev validators (//Alice…) on loopback ports from
/// `base_port`.
pub fn local_spec(
    validators: usize,
    base_port: u16,
    block_time_ms: u64,
    name: &str,
    id: &str,
    chain_type: phala_chain::ChainType,
) -> anyhow::Result<phala_chain::ChainSpec> {
    let mut spec = phala_chain::dev::local_testnet(name, id, chain_type, validators, base_port)?;
    spec.block_time_ms = block_time_ms;
    spec.validate()?;
    Ok(spec)
}

/// Writes to stdout for [`outln!`](crate::outln): a reader that went away (a closed pipe) is
/// not an error; any other failure is said once on stderr.
pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(text).and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        eprintln!("warning: cannot write to stdout: {e}");
    }
}

/// Signs `call`, submits it, follows it to finality and prints its events; fails with the
/// chain's reason if the call failed.
pub async fn submit_call(
    client: &Client,
    signer: &Sr25519Pair,
    call: phala_runtime::RuntimeCall,
) -> Result<Vec<phala_runtime::RuntimeEvent>> {
    let outcome = client
        .submit_and_wait(call, signer, phala_client::TxOptions::default())
        .await
        .context("waiting for finality")?;
    let metadata = client.metadata().await;
    for event in &outcome.events {
        crate::outln!("  {}", metadata.describe_event(event));
    }
    match &outcome.result {
        Ok(()) => {
            crate::outln!("Done in block #{}.", outcome.block_number);
            Ok(outcome.events)
        }
        Err(failure) => anyhow::bail!("failed in block #{}: {failure}", outcome.block_number),
    }
}

/// What every command that signs a transaction takes: the signer, the node, and how long
/// to wait for finality.
#[derive(Debug, clap::Args)]
pub struct TxArgs {
    /// Secret URI of the signing account (it pays the fees), e.g. //Eve.
    #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
    pub suri: String,
    /// The node's RPC endpoint.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Seconds to wait for the transaction to be finalized (1 to 86400).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

impl TxArgs {
    /// The node and the signing account: one connection for a command's checks and its
    /// transaction.
    pub async fn open(&self) -> Result<(Client, Sr25519Pair)> {
        let signer = signer("--suri", &self.suri)?;
        let client = connect(&self.url, Duration::from_secs(self.timeout)).await?;
        Ok((client, signer))
    }
}

/// The cluster `--cluster` names, or the only one.
pub async fn pick_cluster(client: &Client, given: Option<&str>) -> Result<H256> {
    if let Some(c) = given {
        return h256("--cluster", c);
    }
    let clusters = client.clusters().await?;
    match &clusters[..] {
        [(id, _)] => Ok(*id),
        [] => bail!(
            "there is no cluster yet (phala devnet --workers N makes one; root makes them with `phala cluster create`)"
        ),
        _ => bail!(
            "there are {} clusters; choose one with --cluster ({})",
            clusters.len(),
            clusters
                .iter()
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

/// `YYYY-MM-DD` of a day since 1970-01-01 (Howard Hinnant's civil_from_days).
pub fn date(day: u64) -> String {
    let z = i64::try_from(day).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix ms time.
pub fn time(ms: u64) -> String {
    let minutes = ms / 60_000 % 1_440;
    format!(
        "{} {:02}:{:02}",
        date(ms / DAY_MS),
        minutes / 60,
        minutes % 60
    )
}

/// What a listing command takes: the node, and whether to print JSON.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The node's RPC endpoint (ws://, wss://, http:// or https://).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Submits `call` through `Sudo`, waits for finality, fails with the inner call's error,
/// and returns the block's events of the transaction.
pub async fn as_root(
    client: &Client,
    suri: &str,
    call: phala_runtime::RuntimeCall,
) -> Result<Vec<phala_runtime::RuntimeEvent>> {
    use phala_runtime::modules::sudo;
    let key = suri_pair(suri)?;
    let call = phala_runtime::RuntimeCall::Sudo(sudo::Call::sudo {
        call: Box::new(call),
    });
    // A dev account is often also a worker's operator: its messages may take the nonce.
    let outcome = client
        .submit_and_wait(call, &key, phala_client::TxOptions::default())
        .await?;
    let metadata = client.metadata().await;
    if let Err(f) = &outcome.result {
        bail!("the sudo call failed: {f}");
    }
    for event in &outcome.events {
        if let phala_runtime::RuntimeEvent::Sudo(sudo::Event::Sudid {
            sudo_result: Err(e),
        }) = event
        {
            bail!(
                "root's call failed in block #{}: {}",
                outcome.block_number,
                phala_client::DispatchFailure::new(*e, &metadata).description()
            );
        }
    }
    crate::outln!(
        "Done in block #{} ({}).",
        outcome.block_number,
        outcome.block_hash
    );
    Ok(outcome.events)
}
