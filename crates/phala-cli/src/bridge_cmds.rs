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
    self, Ack, ChannelEnd, ChannelState, ClientState, ClientStatus, Denom, PacketData,
};
use phala_runtime::modules::referenda::TRACK_IDS;
use phala_runtime::modules::scheduler::DispatchTime;

use crate::args::{DEFAULT_URL, TxArgs, connect, h256, parse_amount, resolve_account, submit_call};

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
    /// Move a client to the other chain's finalized head (anyone; a relayer does this).
    Update {
        /// RPC endpoint of a node of the other chain.
        #[arg(long)]
        counterparty: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// This chain's clients of other chains.
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    /// Open this chain's end of a channel to the other chain's `--counterparty-channel`
    /// over `--client` (root). It opens for packets once a relayer proves the other end,
    /// which the other chain's governance opens the same way.
    Open {
        #[arg(long)]
        client: u32,
        #[arg(long)]
        counterparty_channel: u32,
        #[command(flatten)]
        root: RootArgs,
    },
    /// This chain's channel ends.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
    /// The receiver on the other chain (address or 0x public key).
    #[arg(long)]
    pub to: String,
    /// Amount, e.g. "10" or "0.5" (12 decimals, PHA or the bridged asset).
    #[arg(long)]
    pub amount: String,
    /// A bridged asset's id (`phala bridge assets`); PHA if absent.
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
    /// Relay until a pass finds nothing to carry (at most 20 passes), then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds to wait for each transaction to be finalized (1 to 86400).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

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
    n.checked_mul(unit_ms)
        .filter(|ms| *ms > 0)
        .ok_or_else(|| anyhow!("{flag} {input:?} is zero or too long"))
}

/// Runs a root call: through sudo, or as a root-track referendum.
async fn root_call(root: &RootArgs, call: RuntimeCall) -> Result<Vec<phala_runtime::RuntimeEvent>> {
    let (client, signer) = root.tx.open().await?;
    if root.sudo {
        return crate::key_cmds::as_root(&client, &root.tx.suri, call).await;
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
        ClientStatus::Frozen { height } => format!("FROZEN at #{height}"),
        ClientStatus::Expired => "EXPIRED".into(),
    }
}

fn state_name(state: ChannelState) -> &'static str {
    match state {
        ChannelState::Init => "waiting for the other end",
        ChannelState::Open => "open",
        ChannelState::Closed => "closed",
    }
}

fn denom_name(denom: &Denom) -> String {
    // The chain refuses other characters in names it mints; escape anything else anyway.
    let base: String = String::from_utf8_lossy(&denom.base)
        .chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                vec![c]
            } else {
                c.escape_default().collect()
            }
        })
        .collect();
    let mut parts: Vec<String> = denom.path.iter().map(|c| format!("channel-{c}")).collect();
    parts.push(base);
    parts.join("/")
}

/// An amount in its asset's units (12 decimals, as PHA) and the asset's trace.
fn amount_of(amount: u128, denom: &Denom) -> String {
    format!("{} {}", number(amount), denom_name(denom))
}

/// An amount with 12 decimals, without a unit.
fn number(amount: u128) -> String {
    format_pha(amount).trim_end_matches(" PHA").to_string()
}

fn ack_name(ack: &Ack) -> String {
    match ack {
        Ack::Success(_) => "ok".into(),
        Ack::Error(e) => format!("error: {}", String::from_utf8_lossy(e)),
        Ack::TimedOut => "timed out".into(),
    }
}

pub async fn run(cmd: BridgeCmd) -> Result<()> {
    match cmd {
        BridgeCmd::Client(ClientCmd::Create {
            counterparty,
            trusting_period,
            root,
        }) => {
            let trusting_period_ms = parse_duration_ms("--trusting-period", &trusting_period)?;
            let other = connect(&counterparty, Duration::from_secs(root.tx.timeout))
                .await
                .with_context(|| format!("the other chain's node {counterparty}"))?;
            let trusted = other.bridge_trusted_state().await?;
            let header = <phala_client::primitives::Header as parity_scale_codec::Decode>::decode(
                &mut &trusted.header[..],
            )
            .map_err(|e| anyhow!("the other chain's header does not decode: {e}"))?;
            crate::outln!(
                "The chain at {counterparty}: genesis {}; epoch {} (#{}..=#{}) signed by {} \
                 keys; starting from #{} ({}, state root {}), certified by them.",
                trusted.genesis_hash,
                trusted.epoch,
                trusted.epoch_first,
                trusted.epoch_last,
                trusted.committee.len(),
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
                .storage_decoded::<u64>(
                    "Timestamp.Now",
                    &phala_runtime::modules::timestamp::NOW.key(),
                    None,
                )
                .await?
                .unwrap_or(0);
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
                    "client {id}: chain {} at #{} ({}), epoch {} (#{}..=#{}), {} keys, {}",
                    c.genesis_hash,
                    c.latest_height,
                    c.latest_hash,
                    c.epoch,
                    c.epoch_first,
                    c.epoch_last,
                    c.committee.len(),
                    status_name(effective_status(&c, ext_now))
                );
            }
            Ok(())
        }
        BridgeCmd::Channel(ChannelCmd::Open {
            client,
            counterparty_channel,
            root,
        }) => {
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
                        "Channel {channel} waits for the other end; a relayer confirms it \
                         (phala relay --a … --b …)."
                    );
                }
            }
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
            for (id, c) in channels {
                crate::outln!(
                    "channel {id} ↔ their channel {} over client {}: {}; sent {}, received {}, \
                     acknowledged {}",
                    c.counterparty_channel,
                    c.client,
                    state_name(c.state),
                    c.next_send.saturating_sub(1),
                    c.next_recv.saturating_sub(1),
                    c.next_ack.saturating_sub(1)
                );
            }
            Ok(())
        }
        BridgeCmd::Transfer(args) => transfer(args).await,
        BridgeCmd::Packets(args) => packets(args).await,
        BridgeCmd::Assets(args) => assets(args).await,
    }
}

fn effective_status(c: &ClientState, now: u64) -> ClientStatus {
    match c.status {
        ClientStatus::Active if now > c.latest_timestamp.saturating_add(c.trusting_period_ms) => {
            ClientStatus::Expired
        }
        s => s,
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
        "status": status_name(effective_status(c, now)),
    })
}

fn channel_json(id: u32, c: &ChannelEnd) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "client": c.client,
        "counterpartyChannel": c.counterparty_channel,
        "state": format!("{:?}", c.state),
        "nextSend": c.next_send,
        "nextRecv": c.next_recv,
        "nextAck": c.next_ack,
    })
}

async fn transfer(args: TransferArgs) -> Result<()> {
    let (client, signer) = args.tx.open().await?;
    let receiver = resolve_account(&args.to)?;
    let amount = parse_amount(Some("--amount"), &args.amount)?;
    let asset = args
        .asset
        .as_deref()
        .map(|a| h256("--asset", a))
        .transpose()?;
    let denom = match asset {
        None => phala_client::bridge::native_denom(),
        Some(id) => {
            client
                .bridge_assets(None)
                .await?
                .into_iter()
                .find(|(a, _)| *a == id)
                .ok_or_else(|| {
                    anyhow!("this chain has no bridged asset {id} (`phala bridge assets`)")
                })?
                .1
                .denom
        }
    };
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
        Some(height) => Timeout {
            height,
            timestamp: 0,
        },
        None => {
            // The other chain's clock as this chain last saw it, or this chain's own if
            // that is later (a client not updated for a while lags behind).
            let own_now: u64 = client
                .storage_decoded(
                    "Timestamp.Now",
                    &phala_runtime::modules::timestamp::NOW.key(),
                    None,
                )
                .await?
                .unwrap_or(0);
            let base = other.latest_timestamp.max(own_now);
            Timeout {
                height: 0,
                timestamp: base
                    .saturating_add(parse_duration_ms("--expires-in", &args.expires_in)?),
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
                "Packet {sequence} on channel {} carries {} to {}; a relayer delivers it \
                 (`phala bridge packets` follows it).",
                args.channel,
                amount_of(amount, &denom),
                receiver
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
            if let Some(ack) = client.bridge_ack(id, seq, Some(at)).await? {
                received.push((seq, ack));
            }
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
                        "sequence": seq, "ack": ack_name(ack),
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
            crate::outln!("  in  #{seq}: {}", ack_name(&ack));
        }
    }
    Ok(())
}

fn describe_packet(p: &bridge::Packet) -> String {
    let PacketData::Transfer(t) = &p.data;
    let timeout = match (p.timeout.height, p.timeout.timestamp) {
        (0, ts) => format!("times out at their time {ts} ms"),
        (h, 0) => format!("times out at their block #{h}"),
        (h, ts) => format!("times out at their block #{h} or time {ts} ms"),
    };
    format!(
        "{} from {} to {}, {timeout}",
        amount_of(t.amount, &t.denom),
        t.sender,
        t.receiver
    )
}

fn packet_json(p: &bridge::Packet) -> serde_json::Value {
    let PacketData::Transfer(t) = &p.data;
    serde_json::json!({
        "sequence": p.sequence,
        "sourceChannel": p.source_channel,
        "destChannel": p.dest_channel,
        "timeoutHeight": p.timeout.height,
        "timeoutTimestamp": p.timeout.timestamp,
        "denom": denom_name(&t.denom),
        "amount": t.amount.to_string(),
        "sender": t.sender.to_string(),
        "receiver": t.receiver.to_string(),
    })
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
                    "trace": denom_name(&info.denom),
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
            denom_name(&info.denom),
            number(info.supply)
        );
    }
    Ok(())
}

fn print_report(report: &RelayReport) {
    if report.is_idle() {
        crate::outln!("Nothing to carry.");
        return;
    }
    crate::outln!(
        "client updates {}, channels confirmed {}, packets delivered {}, acknowledgements \
         delivered {}",
        report.client_updates,
        report.channels_confirmed,
        report.packets_delivered,
        report.acks_delivered
    );
    for f in &report.failures {
        crate::outln!("  refused: {f}");
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
    let (on_a, on_b) = relayer.sides();
    crate::outln!(
        "Relaying between {} (its client {} of the other) and {} (its client {}).",
        args.a,
        on_a.client_id,
        args.b,
        on_b.client_id
    );
    if args.once {
        for _ in 0..20 {
            let report = relayer.step().await?;
            print_report(&report);
            if !report.made_progress() {
                if report.failures.is_empty() {
                    return Ok(());
                }
                bail!("the chains refused what was left to carry (above)");
            }
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
