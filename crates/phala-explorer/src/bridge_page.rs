//! The bridge page: this chain's light clients of other chains, its channel ends with what
//! their escrows hold, packets in flight, the latest acknowledgements it wrote, and the
//! bridged assets it has minted.

use axum::Json;
use axum::extract::State;
use phala_client::Client;
use phala_client::bridge::{asset_id, escrow_account, native_denom};
use phala_runtime::modules::bridge::{
    ChannelState, ClientStatus, Denom, Packet, PacketData, Sequence,
};
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Shared, account, client, hex32, pha, sdk};
use crate::node::Node;

/// Acknowledgements shown per channel, newest first.
const RECENT_ACKS: u64 = 10;
/// Packets in flight shown per channel, oldest first.
const MAX_IN_FLIGHT: u64 = 100;

pub async fn bridge_page(State(node): State<Shared>) -> ApiResult {
    node.cached("bridge_page", bridge_page_json(&node))
        .await
        .map(Json)
}

/// An amount of an asset with this trace, shown like PHA amounts but in its own unit.
fn amount(value: u128, denom: &Denom) -> Value {
    let mut v = pha(value);
    let unit = denom.trace();
    for field in ["text", "exact"] {
        if let Some(text) = v.get(field).and_then(Value::as_str) {
            let replaced = format!("{} {unit}", text.trim_end_matches(" PHA"));
            v[field] = replaced.into();
        }
    }
    v
}

fn packet_json(p: &Packet) -> Value {
    // A contract message shows where the amount would be, its contracts as the parties.
    let (what, sender, receiver) = match &p.data {
        PacketData::Transfer(t) => (
            amount(t.amount, &t.denom),
            json!(account(&t.sender)),
            json!(account(&t.receiver)),
        ),
        PacketData::Contract(m) => (
            json!({
                "text": format!("contract message, {} bytes", m.input.len()),
                "exact": format!("0x{}", hex::encode(&m.input[..])),
            }),
            json!(account(&phala_client::primitives::AccountId32(m.sender.0))),
            json!(m.contract.to_string()),
        ),
    };
    json!({
        "sequence": p.sequence,
        "kind": match p.data { PacketData::Transfer(_) => "transfer", PacketData::Contract(_) => "message" },
        "amount": what,
        "sender": sender,
        "receiver": receiver,
        "timeoutHeight": (p.timeout.height != 0).then_some(p.timeout.height),
        "timeoutMs": (p.timeout.timestamp != 0).then_some(p.timeout.timestamp),
    })
}

async fn in_flight(
    client: &Client,
    channel: u32,
    from: Sequence,
    to: Sequence,
    at: phala_client::primitives::H256,
) -> Result<Vec<Value>, phala_client::ClientError> {
    let mut out = Vec::new();
    for seq in from..to.min(from.saturating_add(MAX_IN_FLIGHT)) {
        if let Some(p) = client.bridge_packet(channel, seq, Some(at)).await? {
            out.push(packet_json(&p));
        }
    }
    Ok(out)
}

async fn bridge_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let at = client.finalized_head().await.map_err(&fail)?.1;
    let (clients, channels, assets) = tokio::try_join!(
        client.bridge_clients(Some(at)),
        client.bridge_channels(Some(at)),
        client.bridge_assets(Some(at)),
    )
    .map_err(&fail)?;
    let now = client.timestamp_at(at).await.map_err(&fail)?;
    let clients: Vec<Value> = clients
        .iter()
        .map(|(id, c)| {
            let status = match c.status_at(now) {
                ClientStatus::Frozen { height } => format!("frozen at #{height}"),
                ClientStatus::Expired => "expired".into(),
                ClientStatus::Active => "active".into(),
            };
            json!({
                "id": id,
                "chain": c.genesis_hash.to_string(),
                "height": c.latest_height,
                "hash": c.latest_hash.to_string(),
                "timeMs": c.latest_timestamp,
                "epoch": c.epoch,
                "epochFirst": c.epoch_first,
                "epochLast": c.epoch_last,
                "committee": c.committee.iter().map(hex32).collect::<Vec<_>>(),
                "trustingPeriodMs": c.trusting_period_ms,
                "status": status,
            })
        })
        .collect();
    let native = native_denom();
    let mut channel_rows = Vec::new();
    for (id, end) in &channels {
        let flight = in_flight(&client, *id, end.next_ack, end.next_send, at)
            .await
            .map_err(&fail)?;
        let mut acks = Vec::new();
        let first = end.next_recv.saturating_sub(RECENT_ACKS).max(1);
        for seq in (first..end.next_recv).rev() {
            if let Some(ack) = client.bridge_ack(*id, seq, Some(at)).await.map_err(&fail)? {
                acks.push(json!({ "sequence": seq, "ack": ack.describe() }));
            }
        }
        let escrowed = client
            .bridge_escrowed(*id, asset_id(&native), Some(at))
            .await
            .map_err(&fail)?;
        channel_rows.push(json!({
            "id": id,
            "client": end.client,
            "counterpartyChannel": end.counterparty_channel,
            "state": match end.state {
                ChannelState::Init => "waiting for the other end",
                ChannelState::Open => "open",
                ChannelState::Closed => "closed",
            },
            "sent": end.next_send.saturating_sub(1),
            "received": end.next_recv.saturating_sub(1),
            "acknowledged": end.next_ack.saturating_sub(1),
            "escrowAccount": account(&escrow_account(*id)),
            "escrowedPha": pha(escrowed),
            "inFlight": flight,
            "recentAcks": acks,
        }));
    }
    let assets: Vec<Value> = assets
        .iter()
        .map(|(id, a)| {
            json!({
                "id": id.to_string(),
                "trace": a.denom.trace(),
                "supply": amount(a.supply, &a.denom),
            })
        })
        .collect();
    Ok(json!({
        "clients": clients,
        "channels": channel_rows,
        "assets": assets,
        "act": {
            "cli": "phala bridge transfer --channel <id> --to <address on the other chain> --amount <PHA> --suri //You",
            "polkadotJs": "api.tx.bridge.transfer(channel, null, receiver, amount, {height: 0, timestamp: Date.now() + 600000})",
        },
    }))
}
