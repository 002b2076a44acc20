//! The JSON the pages render: the home page, blocks, accounts and search. Every value is
//! read from the node when asked (the index only adds what storage cannot say: recent block
//! times, transfers); amounts go out both in planck and as the CLI prints them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use phala_client::primitives::{AccountId32, Balance, BlockNumber, H256, format_pha};
use phala_client::{Client, ClientError};
use phala_runtime::modules::computation::WorkerState;
use phala_runtime::modules::{TREASURY_ACCOUNT, balances, stake_pools, validators};
use serde_json::{Value, json};

use crate::node::Node;

pub type Shared = Arc<Node>;

/// An answer that is not the page's data: why, and the HTTP status that says it.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub type ApiResult = Result<Json<Value>, ApiError>;

pub fn not_found(what: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, what.into())
}

pub fn bad_request(what: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, what.into())
}

/// The client, or "the node does not answer".
pub fn client(node: &Node) -> Result<Client, ApiError> {
    node.client().ok_or_else(|| {
        let status = node.status.lock().map(|s| s.error.clone()).unwrap_or(None);
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the node at {} does not answer{}",
                node.public_url,
                status.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        )
    })
}

/// A failed read: a lost connection makes the follower reconnect.
pub fn sdk(node: &Node) -> impl Fn(ClientError) -> ApiError + '_ {
    move |e| {
        node.failed(&e);
        let status = match e {
            ClientError::Disconnected { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError(status, node.redact(e.to_string()))
    }
}

/// `1234567.5` as `1,234,567.5`.
pub fn group(number: &str) -> String {
    let (whole, rest) = number.split_at(number.find('.').unwrap_or(number.len()));
    let digits: Vec<char> = whole.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out + rest
}

/// An amount: exact in planck and in PHA, and as people read it (grouped, at most four
/// decimals, cut, not rounded up: a page never shows more than there is).
pub fn pha(amount: Balance) -> Value {
    const CUT: Balance = phala_client::primitives::PHA / 10_000;
    let exact = format_pha(amount);
    let shown = amount - amount % CUT;
    let number = format_pha(shown);
    let number = group(number.trim_end_matches(" PHA"));
    let text = if shown == amount {
        format!("{number} PHA")
    } else {
        format!("{number}… PHA")
    };
    json!({ "planck": amount.to_string(), "text": text, "exact": exact })
}

/// Pool shares as the CLI prints them: in units of a PHA's worth at a price of one.
pub fn shares(amount: Balance) -> String {
    group(format_pha(amount).trim_end_matches(" PHA"))
}

pub fn hex32(bytes: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub fn account(who: &AccountId32) -> String {
    who.to_ss58()
}

pub async fn status(State(node): State<Shared>) -> Json<Value> {
    let mut status = node.status_json();
    if let Some(client) = node.client()
        && let Some(map) = status.as_object_mut()
    {
        map.insert("genesis".into(), client.genesis_hash().to_string().into());
        map.insert(
            "specVersion".into(),
            client.runtime_version().spec_version.into(),
        );
        let name = client.chain_name().await.ok();
        map.insert("chain".into(), name.into());
    }
    Json(status)
}

pub async fn home(State(node): State<Shared>) -> ApiResult {
    node.cached("home", home_json(&node)).await.map(Json)
}

async fn home_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (finalized, best, epochs, issuance, sessions, workers, pools) = tokio::try_join!(
        client.finalized_head(),
        client.best_head(),
        client.epochs(),
        client.total_issuance(),
        client.sessions(),
        client.workers(),
        client.pools(),
    )
    .map_err(&fail)?;
    let treasury = client
        .free_balance(&TREASURY_ACCOUNT)
        .await
        .map_err(&fail)?;
    let (recent, chart, block_time, latency) = {
        let index = node.index();
        let recent: Vec<Value> = index
            .recent
            .iter()
            .rev()
            .take(20)
            .map(|b| b.json())
            .collect();
        let chart: Vec<Value> = index
            .recent
            .iter()
            .zip(index.recent.iter().skip(1))
            .map(|(b, next)| {
                json!({
                    "number": next.number,
                    "blockTimeMs": next.time_ms.saturating_sub(b.time_ms),
                })
            })
            .collect();
        let latencies: Vec<u64> = index
            .recent
            .iter()
            .filter_map(|b| b.seen_ms.map(|s| s.saturating_sub(b.time_ms)))
            .collect();
        let latency = crate::node::mean(&latencies);
        (recent, chart, index.block_time_ms(), latency)
    };
    // Computing: answering its challenges, or late with one (its value decays meanwhile).
    let computing = sessions
        .iter()
        .filter(|(_, s)| matches!(s.state, WorkerState::Idle | WorkerState::Unresponsive))
        .count();
    let pool_stake = pools
        .iter()
        .fold(0 as Balance, |a, p| a.saturating_add(p.pool.total_value));
    Ok(json!({
        "chain": client.chain_name().await.ok(),
        "finalized": finalized.0,
        "best": best.0,
        "blockTimeMs": block_time,
        "finalityLatencyMs": latency,
        "epoch": {
            "number": epochs.current.epoch,
            "firstBlock": epochs.current.first,
            "lastBlock": epochs.current.last,
            "committee": epochs.committee.iter().map(|m| account(&m.account)).collect::<Vec<_>>(),
        },
        "issuance": pha(issuance),
        "treasury": pha(treasury),
        "workers": { "registered": workers.len(), "computing": computing, "sessions": sessions.len() },
        "poolStake": pha(pool_stake),
        "pools": pools.len(),
        "recentBlocks": recent,
        "chart": chart,
    }))
}

/// A block number, or a 0x block hash.
async fn resolve_block(client: &Client, id: &str) -> Result<Option<H256>, ClientError> {
    if let Ok(number) = id.parse::<BlockNumber>() {
        return client.block_hash(number).await;
    }
    Ok(parse_h256(id))
}

fn parse_h256(text: &str) -> Option<H256> {
    let bytes = hex::decode(text.strip_prefix("0x")?).ok()?;
    Some(H256(<[u8; 32]>::try_from(bytes.as_slice()).ok()?))
}

pub async fn block(State(node): State<Shared>, Path(id): Path<String>) -> ApiResult {
    if id.len() > 80 {
        return Err(bad_request("a block is a number or a 0x hash"));
    }
    node.cached(&format!("block/{id}"), block_json(&node, &id))
        .await
        .map(Json)
}

async fn block_json(node: &Node, id: &str) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let hash = resolve_block(&client, id)
        .await
        .map_err(&fail)?
        .ok_or_else(|| not_found(format!("no block {id}")))?;
    let view = client
        .block_view(hash)
        .await
        .map_err(&fail)?
        .ok_or_else(|| not_found(format!("no block {id}")))?;
    let mut out = serde_json::to_value(&view).map_err(|e| bad_request(e.to_string()))?;
    let signers = signers(&client, &view).await.map_err(&fail)?;
    if let Some(map) = out.as_object_mut() {
        map.insert("certificate".into(), signers);
    }
    Ok(out)
}

/// Who signed the block's own finality certificate, checked against its epoch's committee.
async fn signers(
    client: &Client,
    view: &phala_client::blocks::BlockView,
) -> Result<Value, ClientError> {
    let Some(cert) = client.finality_proof(view.hash).await? else {
        return Ok(json!({ "present": false }));
    };
    let at = Some(view.hash);
    let schedule = client.epoch_schedule(at).await?;
    let Some(epoch) = schedule.containing(view.number).map(|b| b.epoch) else {
        return Ok(json!({ "present": true, "error": "the block is past every epoch" }));
    };
    let members: Vec<validators::Member> = client
        .storage_decoded(
            "a Validators.Committees entry",
            &validators::COMMITTEES.key(&epoch),
            at,
        )
        .await?
        .unwrap_or_default();
    let keys: Vec<[u8; 32]> = members.iter().map(|m| m.consensus_key).collect();
    let mut rng = commonware_utils::sys_rng();
    Ok(
        match phala_light_client::certificate_signers(
            &mut rng,
            &client.genesis_hash(),
            &keys,
            &view.hash,
            &cert,
        ) {
            Ok((cert_epoch, _)) if cert_epoch != epoch => json!({
                "present": true,
                "verified": false,
                "error": format!("the certificate is for epoch {cert_epoch}, the block is in epoch {epoch}"),
            }),
            Ok((cert_epoch, signed)) => json!({
                "present": true,
                "verified": true,
                "epoch": cert_epoch,
                "committee": members.len(),
                "signers": signed.iter().map(|key| {
                    let who = members.iter().find(|m| m.consensus_key == *key);
                    json!({
                        "consensusKey": hex32(key),
                        "account": who.map(|m| account(&m.account)),
                    })
                }).collect::<Vec<_>>(),
            }),
            Err(e) => json!({ "present": true, "verified": false, "error": e.to_string() }),
        },
    )
}

/// An SS58 address or 0x public key.
pub fn parse_account(text: &str) -> Option<AccountId32> {
    if let Ok(who) = text.parse::<AccountId32>() {
        return Some(who);
    }
    parse_h256(text).map(|h| AccountId32(h.0))
}

pub async fn account_page(State(node): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let who = parse_account(&id)
        .ok_or_else(|| bad_request("that is not an SS58 address or a 0x account id".to_string()))?;
    node.cached(
        &format!("account/{}", account(&who)),
        account_json(&node, who),
    )
    .await
    .map(Json)
}

async fn account_json(node: &Node, who: AccountId32) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let locks_key = balances::LOCKS.key(&who);
    let (info, locks, pools, ledger, class_locks) = tokio::try_join!(
        client.account_at(&who, None),
        client.storage_decoded::<Vec<balances::BalanceLock>>(
            "a Balances.Locks entry",
            &locks_key,
            None
        ),
        client.pools(),
        client.bond_ledger(&who, None),
        client.class_locks(&who),
    )
    .map_err(&fail)?;
    let mut held_shares = Vec::new();
    for snap in &pools {
        let held = client.pool_shares(snap.pid, &who).await.map_err(&fail)?;
        if held > 0 {
            held_shares.push(json!({
                "pool": snap.pid,
                "shares": shares(held),
                "value": pha(snap.pool.value_of(held)),
            }));
        }
    }
    let mut votes = Vec::new();
    if let Ok(params) = client.governance_params().await {
        for (track, info) in &params.tracks {
            let voting = client.voting_for(&who, *track).await.map_err(&fail)?;
            votes.extend(crate::pages::votes_json(&voting, &info.name));
        }
    }
    let transfers: Vec<Value> = {
        let index = node.index();
        index
            .transfers
            .iter()
            .rev()
            .filter(|t| t.from == who || t.to == who)
            .take(50)
            .map(|t| {
                json!({
                    "block": t.block,
                    "from": account(&t.from),
                    "to": account(&t.to),
                    "amount": pha(t.amount),
                })
            })
            .collect()
    };
    let indexed_from = node.index().from;
    let data = &info.data;
    Ok(json!({
        "address": account(&who),
        "hex": hex32(&who.0),
        "nonce": info.nonce,
        "free": pha(data.free),
        "reserved": pha(data.reserved),
        "frozen": pha(data.frozen),
        "transferable": pha(data.free.saturating_sub(data.frozen)),
        "locks": locks.unwrap_or_default().iter().map(|l| json!({
            "id": String::from_utf8_lossy(&l.id).to_string(),
            "holder": lock_holder(&l.id),
            "amount": pha(l.amount),
        })).collect::<Vec<_>>(),
        "bond": ledger.map(|l| json!({
            "active": pha(l.active),
            "unlocking": l.unlocking.iter().map(|u| json!({ "amount": pha(u.value), "at": u.at })).collect::<Vec<_>>(),
        })),
        "poolShares": held_shares,
        "votes": votes,
        "classLocks": class_locks.iter().map(|(track, amount)| json!({
            "track": track, "amount": pha(*amount),
        })).collect::<Vec<_>>(),
        "transfers": transfers,
        "transfersIndexedFrom": indexed_from,
        "isPoolAccount": pools.iter().find(|p| stake_pools::pool_account(p.pid) == who).map(|p| p.pid),
    }))
}

/// Who holds a balance lock, by its id.
fn lock_holder(id: &[u8; 8]) -> &'static str {
    use phala_runtime::modules::conviction_voting;
    if *id == validators::LOCK_ID {
        "validator bond (phala validator unbond)"
    } else if *id == conviction_voting::LOCK_ID {
        "conviction votes (phala gov unlock)"
    } else {
        "another module"
    }
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    q: String,
}

/// Where a search lands: the kind of thing it names and the page's route.
pub async fn search(State(node): State<Shared>, Query(q): Query<SearchQuery>) -> ApiResult {
    // `#12` as people write a block number.
    let text = q.q.trim().trim_start_matches('#');
    if text.is_empty() || text.len() > 128 {
        return Err(bad_request(
            "search for a block number or hash, an extrinsic hash, an account, a worker or a contract",
        ));
    }
    let found = |kind: &str, route: String| Ok(Json(json!({ "kind": kind, "route": route })));
    if let Ok(number) = text.parse::<BlockNumber>() {
        return found("block", format!("#/block/{number}"));
    }
    let client = client(&node)?;
    let fail = sdk(&node);
    if let Some(hash) = parse_h256(text) {
        if let Some(&(block, index)) = node.index().extrinsics.get(&hash) {
            return found("extrinsic", format!("#/block/{block}?x={index}"));
        }
        if client.header(hash).await.map_err(&fail)?.is_some() {
            return found("block", format!("#/block/{text}"));
        }
        if client.contract(hash).await.map_err(&fail)?.is_some() {
            return found("contract", format!("#/contracts?id={text}"));
        }
        if client.worker(&hash.0).await.map_err(&fail)?.is_some() {
            return found("worker", format!("#/workers?id={text}"));
        }
        if client.cluster(hash).await.map_err(&fail)?.is_some() {
            return found("cluster", format!("#/contracts?cluster={text}"));
        }
    }
    if let Some(who) = parse_account(text) {
        return found("account", format!("#/account/{}", account(&who)));
    }
    Err(not_found(format!(
        "nothing on this chain is named {text}: try a block number or hash, an extrinsic hash \
         (recent ones), an SS58 account, a worker or a contract id"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_at_most_four_decimals_and_never_more_than_there_is() {
        let pha_ = phala_client::primitives::PHA;
        assert_eq!(pha(0)["text"], "0 PHA");
        assert_eq!(pha(pha_ + pha_ / 4)["text"], "1.25 PHA");
        assert_eq!(pha(pha_ / 3)["text"], "0.3333… PHA");
        assert_eq!(pha(2 * pha_ - 1)["text"], "1.9999… PHA");
        assert_eq!(pha(2 * pha_ - 1)["exact"], "1.999999999999 PHA");
        assert_eq!(pha(7)["planck"], "7");
        assert_eq!(pha(10_000_000 * pha_)["text"], "10,000,000 PHA");
        assert_eq!(pha(1_234_567 * pha_ + pha_ / 2)["text"], "1,234,567.5 PHA");
        assert_eq!(group("100"), "100");
        assert_eq!(group("1000.25"), "1,000.25");
    }

    proptest::proptest! {
        /// Whatever is typed into the search box, reading it never panics, and a hash or
        /// account reads back as what was typed.
        #[test]
        fn search_text_is_read_without_panicking(text in "\\PC{0,80}", bytes in proptest::array::uniform32(0u8..)) {
            let _ = parse_h256(&text);
            let _ = parse_account(&text);
            let hex = format!("0x{}", hex::encode(bytes));
            proptest::prop_assert_eq!(parse_h256(&hex), Some(H256(bytes)));
            proptest::prop_assert_eq!(parse_account(&hex), Some(AccountId32(bytes)));
            let ss58 = AccountId32(bytes).to_ss58();
            proptest::prop_assert_eq!(parse_account(&ss58), Some(AccountId32(bytes)));
        }
    }
}
