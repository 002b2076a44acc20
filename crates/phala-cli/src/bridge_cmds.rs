//! `phala bridge …` and `phala relay`: light clients of other phala chains, channels,
//! transfers of PHA and bridged assets, what is in flight, and the relayer.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use phala_client::bridge::Timeout;
use phala_client::bridge_relay::{RelayReport, Relayer};
use phala_client::primitives::{AccountId32, format_pha};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::bridge::{
    self, ChannelEnd, ChannelState, ClientState, ClientStatus, Denom, PacketData,
};
use phala_runtime::modules::referenda::TRACK_IDS;
use phala_runtime::modules::scheduler::DispatchTime;

use crate::args::{
    DEFAULT_URL, ListArgs, TxArgs, connect, h256, parse_amount, resolve_account, submit_call,
};

#[derive(Debug, Subcommand)]
pub enum BridgeCmd {
    /// Light clients of other phala chains: create one (root), move one forward, list.
    #[command(subcommand)]
    Client(ClientCmd),
    /// Channels: open this chain's end (root), list.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Send PHA (or a bridged asset, --asset) over a channel; refunded if it fails on the
    /// other side or arrives after its timeout.
    Transfer(TransferArgs),
    /// Packets in flight and the last acknowledgements, per channel.
    Packets(ListArgs),
    /// Bridged assets on this chain, with their trace and supply (and an account's
    /// holdings with --account).
    Assets(AssetsArgs),
}

/// How a root call is made: through sudo on a development chain, or proposed as a
/// referendum on the root track.
#[derive(Debug, Args)]
pub struct RootArgs {
    #[command(flatten)]
    pub tx: TxArgs,
    /// `--suri` is the sudo key (development chains): the call runs now. Without it the
    /// call is proposed as a referendum on the root track, with its decision deposit.
    #[arg(long)]
    pub sudo: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Create a client of the chain at --counterparty from its finalized head, committee
    /// and genesis hash (root).
    Create {
        /// RPC endpoint of a node of the other chain.
        #[arg(long)]
        counterparty: String,
        /// How long the client stays usable without an update (e.g. 14d, 36h, 90m); keep
        /// it below the other chain's unbonding period.
        #[arg(long, default_value = "7d")]
        trusting_period: String,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Move both chains' clients of each other, where channels use them, to each other's
    /// finalized head (anyone; a relayer does this as it goes).
    Update {
        /// RPC endpoint of a node of the other chain.
        #[arg(long)]
        counterparty: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// This chain's clients of other chains.
    List(ListArgs),
    /// Give a frozen or expired client the state of a newer client of the same chain
    /// (create it first with `client create`), so its channels go on (root).
    Recover {
        /// The frozen or expired client.
        #[arg(long)]
        client: u32,
        /// The newer, active client of the same chain.
        #[arg(long)]
        substitute: u32,
        #[command(flatten)]
        root: RootArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    /// Open this chain's end of a channel to the other chain's `--counterparty-channel`
    /// over `--client` (root). It opens for packets once a relayer proves the other end,
    /// which the other chain's governance opens the same way.
    Open {
        /// This chain's client of the other chain (`phala bridge client list`).
        #[arg(long)]
        client: u32,
        /// The id the other chain's end has, or will have: its next channel id (`phala
        /// bridge channel list` there; 0 on a chain with none).
        #[arg(long)]
        counterparty_channel: u32,
        #[command(flatten)]
        root: RootArgs,
    },
    /// This chain's channel ends, with what their escrows hold.
    List(ListArgs),
    /// Close this chain's end (root): it sends nothing more, and answers every packet that
    /// still arrives with an error, so the other side refunds it.
    Close {
        #[arg(long)]
        channel: u32,
        #[command(flatten)]
        root: RootArgs,
    },
}

#[derive(Debug, Args)]
pub struct AssetsArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Also show this account's holding of each (address or secret URI).
    #[arg(long)]
    pub account: Option<String>,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The channel (`phala bridge channel list`).
    #[arg(long)]
    pub channel: u32,
    /// The receiver on the other chain: an SS58 address, a 0x public key or a secret URI's
    /// account (//Bob).
    #[arg(long)]
    pub to: String,
    /// Amount, e.g. "10" or "0.5" (12 decimals, PHA or the bridged asset).
    #[arg(long)]
    pub amount: String,
    /// A bridged asset: its id or its trace as `phala bridge assets` shows them
    /// (`channel-0/PHA`); PHA if absent.
    #[arg(long)]
    pub asset: Option<String>,
    /// The packet times out this long after the other chain's last known time (e.g.
    /// 10m, 1h).
    #[arg(long, default_value = "10m")]
    pub expires_in: String,
    /// Or at this block of the other chain.
    #[arg(long, conflicts_with = "expires_in")]
    pub expires_at_block: Option<u32>,
    #[command(flatten)]
    pub tx: TxArgs,
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// RPC endpoint of a node of one chain.
    #[arg(long)]
    pub a: String,
    /// RPC endpoint of a node of the other.
    #[arg(long)]
    pub b: String,
    /// Secret URI of the account that pays the relayer's fees on both chains.
    #[arg(long, env = "PHALA_SURI", hide_env_values = true)]
    pub suri: String,
    /// Pause between passes when there is nothing to carry, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub interval_ms: u64,
    /// Relay until a pass finds nothing to carry (at most 20 passes), then exit. Contract
    /// messages it delivered are waited for (up to 2 minutes) until their contracts answer,
    /// and the answers carried back.
    #[arg(long)]
    pub once: bool,
    /// Seconds to wait for each transaction to be finalized (1 to 86400).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// How long `phala relay --once` waits for contracts on the other chain to answer the
/// messages it delivered.
const ONCE_ANSWER_WAIT: Duration = Duration::from_secs(120);

/// `14d`, `36h`, `90m`, `45s` or plain seconds, in milliseconds.
pub fn parse_duration_ms(flag: &str, input: &str) -> Result<u64> {
    let input = input.trim();
    let (digits, unit) = match input.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => input.split_at(at),
        None => (input, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| anyhow!("{flag} {input:?}: expected a number and a unit (s, m, h, d)"))?;
    let unit_ms: u64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => bail!("{flag} {input:?}: unknown unit {other:?} (s, m, h, d)"),
    };
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| anyhow!("{flag} {input:?} is too long"))?;
    if ms == 0 {
        bail!("{flag} {input:?} is zero");
    }
    Ok(ms)
}

/// A time given in ms since the epoch, as a UTC date: `2026-12-06 22:15:03 UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1_000 % 86_400;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        crate::args::date(ms / crate::args::DAY_MS),
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `1 key`, `4 keys`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `--url URL` when the node is not the default one, for commands a page suggests.
fn url_flag(url: &str) -> String {
    if url == DEFAULT_URL {
        String::new()
    } else {
        format!(" --url {url}")
    }
}

/// Runs a root call: through sudo, or as a root-track referendum.
async fn root_call(root: &RootArgs, call: RuntimeCall) -> Result<Vec<phala_runtime::RuntimeEvent>> {
    let (client, signer) = root.tx.open().await?;
    if root.sudo {
        return crate::args::as_root(&client, &root.tx.suri, call)
            .await
            .map_err(|e| {
                if format!("{e:#}").contains("RequireSudo") {
                    e.context(
                        "--suri is not this chain's sudo key; without --sudo the call is \
                         proposed as a root referendum instead",
                    )
                } else {
                    e
                }
            });
    }
    let track = TRACK_IDS
        .iter()
        .find(|(_, name, _)| *name == "root")
        .map(|(id, _, _)| *id)
        .ok_or_else(|| anyhow!("this build has no root track"))?;
    let index =
        crate::gov_cmds::propose(&client, &signer, track, &call, DispatchTime::After(1), true)
            .await?;
    crate::outln!(
        "Proposed as referendum #{index} on the root track; it runs once approved \
         (`phala gov status {index}`, `phala gov vote {index} aye <amount>`)."
    );
    Ok(Vec::new())
}

fn status_name(status: ClientStatus) -> String {
    match status {
        ClientStatus::Active => "active".into(),
        ClientStatus::Frozen { height } => format!("frozen at #{height}"),
        ClientStatus::Expired => "expired".into(),
    }
}

fn state_name(state: ChannelState) -> &'static str {
    match state {
        ChannelState::Init => "waiting for the other end",
        ChannelState::Open => "open",
        ChannelState::Closed => "closed",
    }
}

/// An amount in its asset's units (12 decimals, as PHA) and the asset's trace.
fn amount_of(amount: u128, denom: &Denom) -> String {
    format!("{} {}", number(amount), denom.trace())
}

/// An amount with 12 decimals, without a unit.
fn number(amount: u128) -> String {
    format_pha(amount).trim_end_matches(" PHA").to_string()
}

pub async fn run(cmd: BridgeCmd) -> Result<()> {
    match cmd {
        BridgeCmd::Client(ClientCmd::Create {
            counterparty,
            trusting_period,
            root,
        }) => {
            let trusting_period_ms = parse_duration_ms("--trusting-period", &trusting_period)?;
            if !(60_000..=365 * 86_400_000).contains(&trusting_period_ms) {
                bail!(
                    "--trusting-period {trusting_period}: between 1m and 365d (keep it below \
                     the other chain's unbonding period, and above the time a root referendum \
                     takes, or the client is dead on arrival)"
                );
            }
            let other = connect(&counterparty, Duration::from_secs(root.tx.timeout))
                .await
                .with_context(|| format!("the other chain's node {counterparty}"))?;
            let this = connect(&root.tx.url, Duration::from_secs(root.tx.timeout)).await?;
            if this.genesis_hash() == other.genesis_hash() {
                bail!(
                    "{} and {counterparty} are nodes of the same chain (genesis {}): a client \
                     follows another chain",
                    root.tx.url,
                    this.genesis_hash()
                );
            }
            for (id, c) in this.bridge_clients(None).await? {
                if c.genesis_hash == other.genesis_hash() && c.status == ClientStatus::Active {
                    crate::outln!(
                        "Note: client {id} already follows that chain; a second one is only \
                         needed to recover a frozen or expired client (`phala bridge client \
                         recover`)."
                    );
                }
            }
            let trusted = other.bridge_trusted_state().await?;
            let header = <phala_client::primitives::Header as parity_scale_codec::Decode>::decode(
                &mut &trusted.header[..],
            )
            .map_err(|e| anyhow!("the other chain's header does not decode: {e}"))?;
            crate::outln!(
                "The chain at {counterparty}: genesis {}; epoch {} (#{}..=#{}) signed by {}; \
                 starting from #{} ({}, state root {}), certified by them.",
                trusted.genesis_hash,
                trusted.epoch,
                trusted.epoch_first,
                trusted.epoch_last,
                plural(trusted.committee.len(), "key", "keys"),
                header.number,
                header.hash(),
                header.state_root
            );
            for key in trusted.committee.iter() {
                crate::outln!("  committee key 0x{}", hex::encode(key));
            }
            let events = root_call(
                &root,
                RuntimeCall::Bridge(bridge::Call::create_client {
                    trusted,
                    trusting_period_ms,
                }),
            )
            .await?;
            for e in events {
                if let phala_runtime::RuntimeEvent::Bridge(bridge::Event::ClientCreated {
                    client,
                    ..
                }) = e
                {
                    crate::outln!("Client {client} created.");
                }
            }
            Ok(())
        }
        BridgeCmd::Client(ClientCmd::Update { counterparty, tx }) => {
            let (client, signer) = tx.open().await?;
            let other = connect(&counterparty, Duration::from_secs(tx.timeout)).await?;
            let relayer = Relayer::new(client, other, signer).await?;
            let report = relayer.update_once().await?;
            print_report(&report);
            Ok(())
        }
        BridgeCmd::Client(ClientCmd::List(args)) => {
            let client = connect(&args.url, Duration::from_secs(60)).await?;
            let clients = client.bridge_clients(None).await?;
            let ext_now = client
                .timestamp_at(client.finalized_head().await?.1)
                .await?;
            if args.json {
                let list: Vec<_> = clients
                    .iter()
                    .map(|(id, c)| client_json(*id, c, ext_now))
                    .collect();
                crate::outln!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if clients.is_empty() {
                crate::outln!(
                    "No clients (create one: phala bridge client create --counterparty ws://…)."
                );
            }
            for (id, c) in clients {
                crate::outln!(
                    "client {id}: chain {} at #{} ({}), epoch {} (#{}..=#{}), {}, {}",
                    c.genesis_hash,
                    c.latest_height,
                    c.latest_hash,
                    c.epoch,
                    c.epoch_first,
                    c.epoch_last,
                    plural(c.committee.len(), "key", "keys"),
                    status_name(c.status_at(ext_now))
                );
            }
            Ok(())
        }
        BridgeCmd::Channel(ChannelCmd::Open {
            client,
            counterparty_channel,
            root,
        }) => {
            let this = connect(&root.tx.url, Duration::from_secs(root.tx.timeout)).await?;
            match this.bridge_client(client, None).await? {
                None => bail!(
                    "this chain has no client {client} (`phala bridge client list{}`; create \
                     one with `phala bridge client create`)",
                    url_flag(&root.tx.url)
                ),
                Some(c) if c.status != ClientStatus::Active => {
                    bail!("client {client} is {}", status_name(c.status))
                }
                Some(_) => {}
            }
            let events = root_call(
                &root,
                RuntimeCall::Bridge(bridge::Call::open_channel {
                    client,
                    counterparty_channel,
                }),
            )
            .await?;
            for e in events {
                if let phala_runtime::RuntimeEvent::Bridge(bridge::Event::ChannelOpenInit {
                    channel,
                    ..
                }) = e
                {
                    crate::outln!(
                        "Channel {channel} is opened here. It takes packets once the other \
                         chain has opened its end too (`phala bridge channel open \
                         --counterparty-channel {channel} …` there) and a relayer has proven \
                         each end to the other (`phala relay --a … --b …`)."
                    );
                }
            }
            Ok(())
        }
        BridgeCmd::Channel(ChannelCmd::Close { channel, root }) => {
            root_call(
                &root,
                RuntimeCall::Bridge(bridge::Call::close_channel { channel }),
            )
            .await?;
            Ok(())
        }
        BridgeCmd::Client(ClientCmd::Recover {
            client,
            substitute,
            root,
        }) => {
            root_call(
                &root,
                RuntimeCall::Bridge(bridge::Call::recover_client { client, substitute }),
            )
            .await?;
            Ok(())
        }
        BridgeCmd::Channel(ChannelCmd::List(args)) => {
            let client = connect(&args.url, Duration::from_secs(60)).await?;
            let channels = client.bridge_channels(None).await?;
            if args.json {
                let list: Vec<_> = channels
                    .iter()
                    .map(|(id, c)| channel_json(*id, c))
                    .collect();
                crate::outln!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if channels.is_empty() {
                crate::outln!("No channels.");
            }
            let native = phala_client::bridge::asset_id(&phala_client::bridge::native_denom());
            for (id, c) in channels {
                let escrowed = client.bridge_escrowed(id, native, None).await?;
                crate::outln!(
                    "channel {id} ↔ their channel {} over client {}: {}; sent {}, received {}, \
                     acknowledged {}; escrow {} holds {}",
                    c.counterparty_channel,
                    c.client,
                    state_name(c.state),
                    c.next_send.saturating_sub(1),
                    c.next_recv.saturating_sub(1),
                    c.next_ack.saturating_sub(1),
                    phala_client::bridge::escrow_account(id),
                    format_pha(escrowed)
                );
            }
            Ok(())
        }
        BridgeCmd::Transfer(args) => transfer(args).await,
        BridgeCmd::Packets(args) => packets(args).await,
        BridgeCmd::Assets(args) => assets(args).await,
    }
}

fn client_json(id: u32, c: &ClientState, now: u64) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "genesisHash": c.genesis_hash.to_string(),
        "latestHeight": c.latest_height,
        "latestHash": c.latest_hash.to_string(),
        "latestTimestamp": c.latest_timestamp,
        "epoch": c.epoch,
        "epochFirst": c.epoch_first,
        "epochLast": c.epoch_last,
        "committee": c.committee.iter().map(|k| format!("0x{}", hex::encode(k))).collect::<Vec<_>>(),
        "trustingPeriodMs": c.trusting_period_ms,
        "status": status_name(c.status_at(now)),
    })
}

fn channel_json(id: u32, c: &ChannelEnd) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "client": c.client,
        "counterpartyChannel": c.counterparty_channel,
        "state": state_name(c.state),
        "nextSend": c.next_send,
        "nextRecv": c.next_recv,
        "nextAck": c.next_ack,
    })
}

async fn transfer(args: TransferArgs) -> Result<()> {
    let (client, signer) = args.tx.open().await?;
    let receiver = resolve_account(&args.to)?;
    let amount = parse_amount(Some("--amount"), &args.amount)?;
    if amount == 0 {
        bail!("--amount must be more than zero");
    }
    // An asset by id, or by its trace as `phala bridge assets` shows it.
    let (asset, denom) = match args.asset.as_deref() {
        None => (None, phala_client::bridge::native_denom()),
        Some(given) => {
            let assets = client.bridge_assets(None).await?;
            let found = if given.starts_with("0x") {
                let id = h256("--asset", given)?;
                assets.into_iter().find(|(a, _)| *a == id)
            } else {
                assets
                    .into_iter()
                    .find(|(_, info)| info.denom.trace() == given)
            };
            let (id, info) = found.ok_or_else(|| {
                anyhow!(
                    "this chain has no bridged asset {given} (`phala bridge assets{}`; PHA \
                     needs no --asset)",
                    url_flag(&args.tx.url)
                )
            })?;
            (Some(id), info.denom)
        }
    };
    let sender = signer.account_id();
    let held = match asset {
        None => client.free_balance(&sender).await?,
        Some(id) => client.bridge_asset_balance(id, &sender, None).await?,
    };
    if held < amount {
        bail!(
            "{sender} holds {} of {}, less than the {} to send",
            number(held),
            denom.trace(),
            number(amount)
        );
    }
    let end = client
        .bridge_channel(args.channel, None)
        .await?
        .ok_or_else(|| anyhow!("this chain has no channel {}", args.channel))?;
    if end.state != ChannelState::Open {
        bail!("channel {} is {}", args.channel, state_name(end.state));
    }
    let other = client
        .bridge_client(end.client, None)
        .await?
        .ok_or_else(|| anyhow!("channel {}'s client {} is gone", args.channel, end.client))?;
    let timeout = match args.expires_at_block {
        Some(height) if height <= other.latest_height => bail!(
            "--expires-at-block {height} has passed as far as this chain knows the other (it \
             has seen its block #{}): give a later block",
            other.latest_height
        ),
        Some(height) => Timeout {
            height,
            timestamp: 0,
        },
        None => {
            // The other chain's clock as this chain last saw it, or this chain's own if
            // that is later (a client not updated for a while lags behind).
            let own_now = client
                .timestamp_at(client.finalized_head().await?.1)
                .await?;
            let base = other.latest_timestamp.max(own_now);
            let expires_in = parse_duration_ms("--expires-in", &args.expires_in)?;
            if expires_in > 30 * 86_400_000 {
                bail!("--expires-in {}: at most 30d", args.expires_in);
            }
            Timeout {
                height: 0,
                timestamp: base.saturating_add(expires_in),
            }
        }
    };
    let events = submit_call(
        &client,
        &signer,
        RuntimeCall::Bridge(bridge::Call::transfer {
            channel: args.channel,
            asset,
            receiver,
            amount,
            timeout,
        }),
    )
    .await?;
    for e in events {
        if let phala_runtime::RuntimeEvent::Bridge(bridge::Event::TransferSent {
            sequence, ..
        }) = e
        {
            crate::outln!(
                "Packet {sequence} on channel {} carries {} to {}, {}; a relayer delivers \
                 it (`phala bridge packets{}` follows it).",
                args.channel,
                amount_of(amount, &denom),
                receiver,
                describe_timeout(&timeout),
                url_flag(&args.tx.url)
            );
        }
    }
    Ok(())
}

async fn packets(args: ListArgs) -> Result<()> {
    let client = connect(&args.url, Duration::from_secs(60)).await?;
    let at = client.finalized_head().await?.1;
    let mut out = Vec::new();
    for (id, end) in client.bridge_channels(Some(at)).await? {
        let mut in_flight = Vec::new();
        // The oldest 100: a node reporting absurd sequences cannot make this walk forever.
        for seq in end.next_ack..end.next_send.min(end.next_ack.saturating_add(100)) {
            if let Some(p) = client.bridge_packet(id, seq, Some(at)).await? {
                in_flight.push(p);
            }
        }
        let mut received = Vec::new();
        let first = end.next_recv.saturating_sub(10).max(1);
        for seq in first..end.next_recv {
            // `None`: a contract message its contract's cluster has not answered yet.
            received.push((seq, client.bridge_ack(id, seq, Some(at)).await?));
        }
        out.push((id, end, in_flight, received));
    }
    if args.json {
        let list: Vec<_> = out
            .iter()
            .map(|(id, end, flight, received)| {
                serde_json::json!({
                    "channel": channel_json(*id, end),
                    "inFlight": flight.iter().map(packet_json).collect::<Vec<_>>(),
                    "received": received.iter().map(|(seq, ack)| serde_json::json!({
                        "sequence": seq, "ack": ack.as_ref().map(|a| a.describe()),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if out.is_empty() {
        crate::outln!("No channels.");
    }
    for (id, end, flight, received) in out {
        crate::outln!(
            "channel {id} ↔ their {} ({}): {} in flight, {} received",
            end.counterparty_channel,
            state_name(end.state),
            flight.len(),
            end.next_recv.saturating_sub(1)
        );
        for p in flight {
            crate::outln!("  out #{}: {}", p.sequence, describe_packet(&p));
        }
        for (seq, ack) in received {
            match ack {
                Some(ack) => crate::outln!("  in  #{seq}: {}", ack.describe()),
                None => crate::outln!("  in  #{seq}: waiting for its contract's answer"),
            }
        }
    }
    Ok(())
}

/// When a packet times out, on the receiving chain's height or clock.
fn describe_timeout(t: &Timeout) -> String {
    let when = |ms: u64| {
        let left = ms.saturating_sub(now_ms()) / 1_000;
        if left == 0 {
            format!("{} (passed)", utc(ms))
        } else if left < 5_400 {
            format!("{} (in {} min)", utc(ms), left.div_ceil(60))
        } else {
            utc(ms)
        }
    };
    match (t.height, t.timestamp) {
        (0, ts) => format!("times out at {} on their clock", when(ts)),
        (h, 0) => format!("times out at their block #{h}"),
        (h, ts) => format!(
            "times out at their block #{h} or {} on their clock",
            when(ts)
        ),
    }
}

fn describe_packet(p: &bridge::Packet) -> String {
    let timeout = describe_timeout(&p.timeout);
    match &p.data {
        PacketData::Transfer(t) => format!(
            "{} from {} to {}, {timeout}",
            amount_of(t.amount, &t.denom),
            t.sender,
            t.receiver
        ),
        PacketData::Contract(m) => format!(
            "message of {} bytes from contract {} to contract {}{}, {timeout}",
            m.input.len(),
            m.sender,
            m.contract,
            match &m.reply {
                Some(r) => format!(" (reply asked, query {})", r.query_id),
                None => String::new(),
            }
        ),
    }
}

fn packet_json(p: &bridge::Packet) -> serde_json::Value {
    let mut out = serde_json::json!({
        "sequence": p.sequence,
        "sourceChannel": p.source_channel,
        "destChannel": p.dest_channel,
        "timeoutHeight": p.timeout.height,
        "timeoutTimestamp": p.timeout.timestamp,
    });
    let data = match &p.data {
        PacketData::Transfer(t) => serde_json::json!({
            "kind": "transfer",
            "denom": t.denom.trace(),
            "amount": t.amount.to_string(),
            "sender": t.sender.to_string(),
            "receiver": t.receiver.to_string(),
        }),
        PacketData::Contract(m) => serde_json::json!({
            "kind": "message",
            "sender": m.sender.to_string(),
            "contract": m.contract.to_string(),
            "input": format!("0x{}", hex::encode(&m.input[..])),
            "gasLimit": m.gas_limit,
            "storageBytes": m.storage_bytes,
            "queryId": m.reply.map(|r| r.query_id),
        }),
    };
    if let (Some(out), Some(data)) = (out.as_object_mut(), data.as_object()) {
        out.extend(data.clone());
    }
    out
}

async fn assets(args: AssetsArgs) -> Result<()> {
    let client = connect(&args.list.url, Duration::from_secs(60)).await?;
    let who: Option<AccountId32> = args.account.as_deref().map(resolve_account).transpose()?;
    let mut rows = Vec::new();
    for (id, info) in client.bridge_assets(None).await? {
        let held = match &who {
            Some(w) => Some(client.bridge_asset_balance(id, w, None).await?),
            None => None,
        };
        rows.push((id, info, held));
    }
    if args.list.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(id, info, held)| {
                serde_json::json!({
                    "id": id.to_string(),
                    "trace": info.denom.trace(),
                    "supply": info.supply.to_string(),
                    "held": held.map(|h| h.to_string()),
                })
            })
            .collect();
        crate::outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if rows.is_empty() {
        crate::outln!("No bridged assets on this chain.");
    }
    for (id, info, held) in rows {
        let held = held
            .map(|h| format!(", held {}", number(h)))
            .unwrap_or_default();
        crate::outln!(
            "{id}  {}  supply {}{held}",
            info.denom.trace(),
            number(info.supply)
        );
    }
    Ok(())
}

fn print_report(report: &RelayReport) {
    let at = utc(now_ms());
    let at = at.get(11..19).unwrap_or(&at);
    let waiting = (report.awaiting_contracts > 0).then(|| {
        format!(
            "waiting for contracts to answer on {} channel(s) of the other chain",
            report.awaiting_contracts
        )
    });
    if !report.made_progress() && report.failures.is_empty() && report.raced == 0 {
        match waiting {
            Some(waiting) => crate::outln!("{at} {waiting}."),
            None => crate::outln!("{at} nothing to carry."),
        }
        return;
    }
    let raced = if report.raced > 0 {
        format!(" ({} done first by another relayer)", report.raced)
    } else {
        String::new()
    };
    crate::outln!(
        "{at} client updates {}, channels confirmed {}, packets delivered {}, \
         acknowledgements delivered {}{raced}",
        report.client_updates,
        report.channels_confirmed,
        report.packets_delivered,
        report.acks_delivered
    );
    for f in &report.failures {
        crate::outln!("  refused: {f}");
    }
    if let Some(waiting) = waiting {
        crate::outln!("  {waiting}");
    }
}

/// `phala relay`: carries headers, packets and acknowledgements both ways until Ctrl-C.
pub async fn relay(args: RelayArgs) -> Result<()> {
    let signer = crate::args::suri_pair(&args.suri)?;
    let timeout = Duration::from_secs(args.timeout);
    let a = connect(&args.a, timeout)
        .await
        .with_context(|| format!("--a {}", args.a))?;
    let b = connect(&args.b, timeout)
        .await
        .with_context(|| format!("--b {}", args.b))?;
    let relayer = Relayer::new(a, b, signer).await?;
    crate::outln!(
        "Relaying between {} and {}, for every channel between them.",
        args.a,
        args.b
    );
    if args.once {
        // Contract messages are answered some blocks after they arrive: a pass with
        // nothing to carry but answers to wait for waits for them, within a bound.
        let mut waiting_since: Option<std::time::Instant> = None;
        let mut said_waiting = false;
        let mut passes = 0;
        while passes < 20 {
            let report = relayer.step().await?;
            // Waiting is said once, not at every pass.
            let only_waiting = !report.made_progress()
                && report.failures.is_empty()
                && report.awaiting_contracts > 0;
            if !(only_waiting && said_waiting) {
                print_report(&report);
            }
            said_waiting = report.awaiting_contracts > 0;
            if report.made_progress() {
                passes += 1;
                waiting_since = None;
                continue;
            }
            if !report.failures.is_empty() {
                bail!("the chains refused what was left to carry (above)");
            }
            if report.awaiting_contracts == 0 {
                return Ok(());
            }
            let since = *waiting_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() > ONCE_ANSWER_WAIT {
                bail!(
                    "contract messages received on the other chain are still unanswered after                      {} s: their contracts' clusters have not reported them (a command left                      unreported is given up after {} blocks, and answered as not run)",
                    ONCE_ANSWER_WAIT.as_secs(),
                    phala_runtime::modules::contracts::COMMAND_TIMEOUT
                );
            }
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
        bail!("still work to carry after 20 passes");
    }
    relayer
        .run(
            Duration::from_millis(args.interval_ms),
            |report| {
                if report.made_progress() || !report.failures.is_empty() {
                    print_report(report);
                }
            },
            crate::args::shutdown_signal(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_the_calendar() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_593_195_843), "2026-12-06 21:39:55 UTC");
        assert_eq!(utc(4_102_444_800_000), "2100-01-01 00:00:00 UTC");
    }

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration_ms("--x", "90m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("--x", "45").unwrap(), 45_000);
        assert!(parse_duration_ms("--x", "0").is_err());
        assert!(parse_duration_ms("--x", "3w").is_err());
        assert!(parse_duration_ms("--x", "99999999999999999d").is_err());
    }
}
