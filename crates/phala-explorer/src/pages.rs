//! The JSON of the network's pages: validators, gatekeepers, workers, pools, contracts,
//! governance and the treasury, read from the node's storage when a page asks.

use axum::Json;
use axum::extract::State;
use phala_client::primitives::H256;
use phala_runtime::arith::Perbill;
use phala_runtime::modules::conviction_voting::{AccountVote, Conviction, Voting};
use phala_runtime::modules::referenda::ReferendumInfo;
use phala_runtime::modules::registry::TeeKind;
use phala_runtime::modules::{TREASURY_ACCOUNT, computation, contracts, stake_pools, validators};
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Shared, account, client, hex32, pha, sdk};
use crate::node::Node;

fn percent(p: Perbill) -> f64 {
    f64::from(p.deconstruct()) / 1e7
}

fn conviction(c: Conviction) -> &'static str {
    match c {
        Conviction::None => "none (0.1x)",
        Conviction::Locked1x => "1x",
        Conviction::Locked2x => "2x",
        Conviction::Locked3x => "3x",
        Conviction::Locked4x => "4x",
        Conviction::Locked5x => "5x",
        Conviction::Locked6x => "6x",
    }
}

/// An account's votes on one track, as the account page lists them.
pub fn votes_json(voting: &Voting, track: &str) -> Vec<Value> {
    match voting {
        Voting::Casting(casting) => casting
            .votes
            .iter()
            .map(|(index, vote)| {
                let text = match vote {
                    AccountVote::Standard { vote, balance } => format!(
                        "{} with {}, conviction {}",
                        if vote.aye { "aye" } else { "nay" },
                        phala_client::primitives::format_pha(*balance),
                        conviction(vote.conviction)
                    ),
                    AccountVote::Split { aye, nay } => format!(
                        "split: aye {}, nay {}",
                        phala_client::primitives::format_pha(*aye),
                        phala_client::primitives::format_pha(*nay)
                    ),
                    AccountVote::SplitAbstain { aye, nay, abstain } => format!(
                        "split: aye {}, nay {}, abstain {}",
                        phala_client::primitives::format_pha(*aye),
                        phala_client::primitives::format_pha(*nay),
                        phala_client::primitives::format_pha(*abstain)
                    ),
                };
                json!({ "referendum": index, "track": track, "vote": text })
            })
            .collect(),
        Voting::Delegating(d) => vec![json!({
            "track": track,
            "vote": format!(
                "delegates {} to {} with conviction {}",
                phala_client::primitives::format_pha(d.balance),
                account(&d.target),
                conviction(d.conviction)
            ),
        })],
    }
}

/// A session's state as `phala computing` says it.
fn state_text(state: computation::WorkerState) -> &'static str {
    use computation::WorkerState::{CoolingDown, Idle, Ready, Unresponsive};
    match state {
        Idle => "Idle (computing)",
        Unresponsive => "Unresponsive (computing, missed a challenge)",
        CoolingDown => "CoolingDown",
        Ready => "Ready (not computing)",
    }
}

pub async fn validators_page(State(node): State<Shared>) -> ApiResult {
    node.cached("validators_page", validators_page_json(&node))
        .await
        .map(Json)
}

async fn validators_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (epochs, params) =
        tokio::try_join!(client.epochs(), client.validator_params()).map_err(&fail)?;
    let at = Some(epochs.at.1);
    let mut committees = Vec::new();
    let newest = epochs.next.epoch;
    for epoch in newest.saturating_sub(validators::COMMITTEE_HISTORY)..=newest {
        let members: Option<Vec<validators::Member>> = client
            .storage_decoded(
                "a Validators.Committees entry",
                &validators::COMMITTEES.key(&epoch),
                at,
            )
            .await
            .map_err(&fail)?;
        if let Some(members) = members {
            committees.push(json!({
                "epoch": epoch,
                "members": members.iter().map(|m| account(&m.account)).collect::<Vec<_>>(),
            }));
        }
    }
    committees.reverse();
    let list: Vec<phala_client::primitives::AccountId32> = client
        .storage_decoded(
            "Validators.CandidateList",
            &validators::CANDIDATE_LIST.key(),
            at,
        )
        .await
        .map_err(&fail)?
        .unwrap_or_default();
    let mut candidates = Vec::new();
    for who in &list {
        let candidate: Option<validators::Candidate> = client
            .storage_decoded(
                "a Validators.Candidates entry",
                &validators::CANDIDATES.key(who),
                at,
            )
            .await
            .map_err(&fail)?;
        let ledger = client.bond_ledger(who, at).await.map_err(&fail)?;
        candidates.push(json!({
            "account": account(who),
            "consensusKey": candidate.as_ref().map(|c| hex32(&c.consensus_key)),
            "p2pAddress": candidate.map(|c| String::from_utf8_lossy(&c.p2p_address).to_string()),
            "bond": pha(ledger.as_ref().map_or(0, |l| l.active)),
            "unbonding": pha(ledger.map_or(0, |l| l.total().saturating_sub(l.active))),
            "inCommittee": epochs.committee.iter().any(|m| m.account == *who),
        }));
    }
    let slashes: Vec<Value> = node
        .index()
        .slashes
        .iter()
        .rev()
        .map(|s| json!({ "block": s.block, "account": account(&s.who), "amount": pha(s.amount) }))
        .collect();
    let e = epochs.current;
    Ok(json!({
        "epoch": { "number": e.epoch, "firstBlock": e.first, "lastBlock": e.last },
        "next": { "number": epochs.next.epoch, "firstBlock": epochs.next.first, "lastBlock": epochs.next.last },
        "pendingLength": epochs.next_length,
        "schedule": epochs.schedule.segments().iter().map(|s| json!({
            "firstEpoch": s.first_epoch, "firstBlock": s.first_block, "length": s.length,
        })).collect::<Vec<_>>(),
        "committeeSize": params.committee_size,
        "unbondingPeriod": params.unbonding_period,
        "minBond": pha(params.min_bond),
        "slashPercent": params.slash_percent,
        "committees": committees,
        "candidates": candidates,
        "slashes": slashes,
        "slashesIndexedFrom": node.index().from,
        "act": {
            "cli": "phala validator bond 1000 --suri //You && phala validator validate --consensus-key //YourNodeKey --p2p-address host:30333 --suri //You",
            "polkadotJs": "api.tx.validators.bond(amount); api.tx.validators.validate(consensusKey, p2pAddress, proofOfPossession)",
        },
    }))
}

pub async fn gatekeepers_page(State(node): State<Shared>) -> ApiResult {
    node.cached("gatekeepers_page", gatekeepers_page_json(&node))
        .await
        .map(Json)
}

async fn gatekeepers_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (keys, history, pending) = tokio::try_join!(
        client.gatekeepers(),
        client.master_key_history(),
        client.pending_rotation(),
    )
    .map_err(&fail)?;
    let mut gatekeepers = Vec::new();
    for key in &keys {
        let info = client.worker(key).await.map_err(&fail)?;
        gatekeepers.push(json!({
            "pubkey": hex32(key),
            "operator": info.as_ref().and_then(|w| w.operator.as_ref()).map(account),
            "tee": info.as_ref().map(|w| format!("{:?}", w.tee)),
            "simulated": info.as_ref().is_some_and(|w| w.tee == TeeKind::Simulated),
        }));
    }
    Ok(json!({
        "gatekeepers": gatekeepers,
        "masterKeys": history.iter().map(|r| json!({
            "version": r.version,
            "pubkey": hex32(&r.pubkey),
            "ecdhPubkey": hex32(&r.ecdh_pubkey),
            "since": r.since,
        })).collect::<Vec<_>>(),
        "rotations": history.len().saturating_sub(1),
        "pendingRotation": pending,
        "act": {
            "cli": "phala gov submit --track root --deposit --suri //You --call registry.rotateMasterKey --args '{}'",
            "polkadotJs": "api.tx.referenda.submit({system: 'Root'}, {Inline: api.tx.registry.rotateMasterKey().method.toHex()}, {After: 10})",
        },
    }))
}

pub async fn workers_page(State(node): State<Shared>) -> ApiResult {
    node.cached("workers_page", workers_page_json(&node))
        .await
        .map(Json)
}

async fn workers_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (workers, sessions, (now, _), gatekeepers) = tokio::try_join!(
        client.workers(),
        client.sessions(),
        client.finalized_head(),
        client.gatekeepers()
    )
    .map_err(&fail)?;
    let pools = client.pools().await.map_err(&fail)?;
    let rows: Vec<Value> = workers
        .iter()
        .map(|w| {
            let session = sessions
                .iter()
                .find(|(k, _)| *k == w.pubkey)
                .map(|(_, s)| s);
            // A session that has not started computing has no value, score or heartbeat yet.
            let active = session.filter(|s| s.state != computation::WorkerState::Ready);
            let pool = pools.iter().find(|p| p.pool.workers.contains(&w.pubkey));
            json!({
                "pubkey": hex32(&w.pubkey),
                "role": if gatekeepers.contains(&w.pubkey) { "gatekeeper" } else { "worker" },
                "operator": w.operator.as_ref().map(account),
                "tee": format!("{:?}", w.tee),
                "simulated": w.tee == TeeKind::Simulated,
                "confidenceLevel": w.confidence_level,
                "measurement": format!("0x{}", hex::encode(&w.measurement)),
                "attestedAt": w.attested_at,
                "attestationAgeBlocks": now.saturating_sub(w.attested_at),
                "attestationExpiresAt": w.expires_at,
                "score": w.initial_score,
                "pool": pool.map(|p| p.pid),
                "state": session.map_or("not in a pool", |s| state_text(s.state)),
                "v": active.map(|s| phala_tokenomics::format_fixed(computation::value_of(s.v), 4)),
                "p": active.map(|s| s.p_bench),
                "lastHeartbeatAt": active.map(|s| s.last_heartbeat_at),
                "heartbeats": active.map(|s| s.heartbeats),
                "totalReward": session.map(|s| pha(s.total_reward)),
            })
        })
        .collect();
    Ok(json!({
        "finalized": now,
        "workers": rows,
        "act": {
            "cli": "phala pool add-worker <pid> 0xWORKER --suri //Owner && phala pool start-computing <pid> 0xWORKER <stake> --suri //Owner",
            "polkadotJs": "api.tx.stakePools.addWorker(pid, worker); api.tx.stakePools.startComputing(pid, worker, stake)",
        },
    }))
}

/// Blocks to look back over for the pools' history, and how many points to take.
const HISTORY_BLOCKS: u32 = 3_600;
const HISTORY_POINTS: u32 = 12;

pub async fn pools_page(State(node): State<Shared>) -> ApiResult {
    node.cached("pools_page", pools_page_json(&node))
        .await
        .map(Json)
}

async fn pools_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (now, head) = client.finalized_head().await.map_err(&fail)?;
    let pools = client.pools_at(head).await.map_err(&fail)?;
    let day_blocks = client.blocks_per_day(now, head).await.unwrap_or(86_400);
    let mut rows = Vec::new();
    for snap in &pools {
        let p = &snap.pool;
        let growth = client
            .pool_growth(snap.pid, day_blocks)
            .await
            .map_err(&fail)?;
        let queued = p
            .withdraw_queue
            .iter()
            .fold(0u128, |a, w| a.saturating_add(w.shares));
        rows.push(json!({
            "pid": snap.pid,
            "owner": account(&p.owner),
            "account": account(&stake_pools::pool_account(snap.pid)),
            "commission": format!("{:.2}%", f64::from(p.commission) / 1e7),
            "stake": pha(p.total_value),
            "free": pha(p.free_stake),
            "staked": pha(p.staked),
            "shares": crate::api::shares(p.total_shares),
            "sharePrice": phala_client::computing::share_price(p).map(|x| format!("{x:.6}")),
            "apr": growth.and_then(|g| g.apr()).map(|a| format!("{:.2}%", a * 100.0)),
            "workers": p.workers.iter().map(hex32).collect::<Vec<_>>(),
            "withdrawQueue": { "requests": p.withdraw_queue.len(), "shares": crate::api::shares(queued) },
        }));
    }
    // Stake and share price over the last hours, from the states the node still keeps.
    let mut history = Vec::new();
    let span = HISTORY_BLOCKS.min(now.saturating_sub(1));
    for i in 0..=HISTORY_POINTS {
        let back = span.saturating_mul(HISTORY_POINTS.saturating_sub(i)) / HISTORY_POINTS;
        let number = now.saturating_sub(back);
        let Ok(Some(hash)) = client.block_hash(number).await else {
            continue;
        };
        let (Ok(snaps), Ok(time), Ok(sessions)) = (
            client.pools_at(hash).await,
            client.timestamp_at(hash).await,
            client.sessions_at(hash).await,
        ) else {
            continue;
        };
        if history.last().is_some_and(|h: &Value| h["block"] == number) {
            continue;
        }
        history.push(json!({
            "block": number,
            "timeMs": time,
            "stake": snaps.iter().fold(0u128, |a, s| a.saturating_add(s.pool.total_value)).to_string(),
            // Paid to pools over the sessions' lives: its growth is the rewards.
            "rewards": sessions.iter().fold(0u128, |a, (_, s)| a.saturating_add(s.total_reward)).to_string(),
            "sharePrices": snaps.iter().map(|s| json!({
                "pid": s.pid,
                "price": phala_client::computing::share_price(&s.pool),
            })).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({
        "pools": rows,
        "history": history,
        "act": {
            "cli": "phala pool contribute <pid> <amount> --suri //You",
            "polkadotJs": "api.tx.stakePools.contribute(pid, amount)",
        },
    }))
}

pub async fn contracts_page(State(node): State<Shared>) -> ApiResult {
    node.cached("contracts_page", contracts_page_json(&node))
        .await
        .map(Json)
}

async fn contracts_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (_, at) = client.finalized_head().await.map_err(&fail)?;
    let prefix = contracts::INSTANCES.prefix();
    let mut rows = Vec::new();
    for key in client.keys_with_prefix(&prefix, at).await.map_err(&fail)? {
        // Blake2_128Concat: the id follows the prefix and a 16-byte hash.
        let Some(id) = key
            .get(prefix.len().saturating_add(16)..)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(H256)
        else {
            continue;
        };
        let Some(record): Option<contracts::ContractRecord> = client
            .storage_decoded("a Contracts.Instances entry", &key, Some(at))
            .await
            .map_err(&fail)?
        else {
            continue;
        };
        let executed = node.index().commands.get(&id).copied().unwrap_or(0);
        rows.push(json!({
            "id": id.to_string(),
            "codeHash": record.code_hash.to_string(),
            "cluster": record.cluster.to_string(),
            "deployer": account(&record.deployer),
            "status": format!("{:?}", record.status),
            "storageDeposit": pha(record.storage_deposit),
            "storageBytes": record.storage_bytes,
            "commandsExecuted": executed,
        }));
    }
    let clusters = client.clusters().await.map_err(&fail)?;
    Ok(json!({
        "contracts": rows,
        "commandsIndexedFrom": node.index().from,
        "clusters": clusters.iter().map(|(id, c)| json!({
            "id": id.to_string(),
            "workers": c.workers.iter().map(hex32).collect::<Vec<_>>(),
            "createdAt": c.created_at,
            "keyPublished": c.pubkey.is_some(),
        })).collect::<Vec<_>>(),
        "act": {
            "cli": "phala contract call --contract 0xID --message <name> --suri //You",
            "polkadotJs": "api.tx.contracts.pushCommand(contract, sealedInput, gasLimit, depositLimit)",
        },
    }))
}

pub async fn governance_page(State(node): State<Shared>) -> ApiResult {
    node.cached("governance_page", governance_page_json(&node))
        .await
        .map(Json)
}

async fn governance_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (referenda, (now, _)) =
        tokio::try_join!(client.referenda(), client.best_head()).map_err(&fail)?;
    let block_ms = node.index().block_time_ms().unwrap_or(1_000);
    let rows: Vec<Value> = referenda
        .iter()
        .map(|r| {
            let track = r.track.as_ref();
            let (state, tally, ends) = match &r.info {
                ReferendumInfo::Ongoing(s) => {
                    let ends = match (&s.deciding, track) {
                        (Some(d), Some((_, t))) => Some(
                            d.confirming
                                .unwrap_or(d.since.saturating_add(t.decision_period)),
                        ),
                        _ => None,
                    };
                    let state = match &s.deciding {
                        Some(d) if d.confirming.is_some() => "confirming",
                        Some(_) => "deciding",
                        None if s.decision_deposit.is_none() => "waiting for its decision deposit",
                        None => "preparing",
                    };
                    (state.to_string(), Some(&s.tally), ends)
                }
                ReferendumInfo::Approved(at, ..) => (format!("approved at #{at}"), None, None),
                ReferendumInfo::Rejected(at, ..) => (format!("rejected at #{at}"), None, None),
                ReferendumInfo::Cancelled(at, ..) => (format!("cancelled at #{at}"), None, None),
                ReferendumInfo::TimedOut(at, ..) => (format!("timed out at #{at}"), None, None),
                ReferendumInfo::Killed(at) => (format!("killed at #{at}"), None, None),
            };
            let curves = track.map(|(_, t)| {
                (0..=20u32)
                    .map(|i| {
                        let x = Perbill::from_rational(u128::from(i), 20);
                        json!({
                            "x": percent(x),
                            "approval": percent(t.min_approval.threshold(x)),
                            "support": percent(t.min_support.threshold(x)),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            json!({
                "index": r.index,
                "track": track.map(|(id, t)| json!({ "id": id, "name": t.name })),
                "state": state,
                "ayes": tally.map(|t| pha(t.ayes)),
                "nays": tally.map(|t| pha(t.nays)),
                "support": tally.map(|t| pha(t.support)),
                "standing": r.standing.as_ref().map(|s| json!({
                    "x": percent(s.x),
                    "approval": percent(s.approval),
                    "minApproval": percent(s.min_approval),
                    "support": percent(s.support),
                    "minSupport": percent(s.min_support),
                })),
                "endsAt": ends,
                "msLeft": ends.map(|e| u64::from(e.saturating_sub(now)).saturating_mul(block_ms)),
                "enactsAt": r.enacts_at,
                "curves": curves,
                "act": {
                    "cli": format!("phala gov vote {} aye <PHA> --conviction 1x --suri //You", r.index),
                    "polkadotJs": format!("api.tx.convictionVoting.vote({}, {{Standard: {{vote: {{aye: true, conviction: 'Locked1x'}}, balance}}}})", r.index),
                },
            })
        })
        .collect();
    Ok(json!({ "best": now, "referenda": rows }))
}

pub async fn treasury_page(State(node): State<Shared>) -> ApiResult {
    node.cached("treasury_page", treasury_page_json(&node))
        .await
        .map(Json)
}

async fn treasury_page_json(node: &Node) -> Result<Value, ApiError> {
    let client = client(node)?;
    let fail = sdk(node);
    let (pot, free, params, spends) = tokio::try_join!(
        client.treasury_pot(),
        client.free_balance(&TREASURY_ACCOUNT),
        client.treasury_params(),
        client.treasury_spends(),
    )
    .map_err(&fail)?;
    Ok(json!({
        "account": account(&TREASURY_ACCOUNT),
        "balance": pha(free),
        "spendable": pha(pot),
        "spendPeriod": params.spend_period,
        "payoutPeriod": params.payout_period,
        "burn": format!("{:.2}%", percent(params.burn)),
        "spends": spends.iter().map(|(index, s)| json!({
            "index": index,
            "amount": pha(s.amount),
            "beneficiary": account(&s.beneficiary),
            "validFrom": s.valid_from,
            "expireAt": s.expire_at,
            "status": format!("{:?}", s.status),
        })).collect::<Vec<_>>(),
        "act": {
            "cli": "phala treasury spend <PHA> <beneficiary> --deposit --suri //You",
            "polkadotJs": "api.tx.referenda.submit({Origins: 'Treasurer'}, {Inline: api.tx.treasury.spend(null, amount, beneficiary, null).method.toHex()}, {After: 10})",
        },
    }))
}
