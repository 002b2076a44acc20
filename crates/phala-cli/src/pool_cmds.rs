//! `phala pool …`, `phala pools` and `phala computing`: stake pools and their workers'
//! computing sessions, as an owner, a delegator or an onlooker sees them.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use phala_client::Client;
use phala_client::computing::share_price;
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::{Balance, format_pha};
use phala_runtime::RuntimeCall;
use phala_runtime::modules::computation::{self, WorkerState, min_stake};
use phala_runtime::modules::stake_pools::{self, Call};
use phala_tokenomics::format_fixed;

use crate::args::{DEFAULT_URL, TxArgs, connect, parse_amount, submit_call};

#[derive(Debug, Subcommand)]
pub enum PoolCmd {
    /// Create a pool owned by the signer (who pays its account's 0.01 PHA deposit).
    Create {
        /// The owner's commission on rewards, in percent (e.g. 10 or 2.5).
        #[arg(long, default_value = "0")]
        commission: String,
        /// Most PHA the pool accepts.
        #[arg(long)]
        cap: Option<String>,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Add a worker the signer operates to the signer's pool.
    AddWorker {
        pid: u64,
        /// The worker's identity key (0x…, see `phala workers`).
        worker: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Take a Ready worker (not computing, not cooling down) out of the pool.
    RemoveWorker {
        pid: u64,
        worker: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Buy shares of a pool with PHA.
    Contribute {
        pid: u64,
        /// PHA, e.g. "5000".
        amount: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Sell shares: paid at once from the pool's free stake, the rest queued and paid as
    /// stake comes free (the pool stops workers if it waits past the grace period).
    Withdraw {
        pid: u64,
        /// Shares to sell (shown by `phala pools`), e.g. "1000".
        #[arg(required_unless_present = "all")]
        shares: Option<String>,
        /// Sell every share the signer holds.
        #[arg(long, conflicts_with = "shares")]
        all: bool,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Start a worker of the pool computing with some of the pool's free stake (owner).
    Start {
        pid: u64,
        worker: String,
        /// PHA to stake; at least S_min = k·√P for the worker (said if too low). Default:
        /// S_min.
        stake: Option<String>,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Stop a worker computing; its stake comes back after the cooldown (owner).
    Stop {
        pid: u64,
        worker: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Return a cooled-down worker's stake to the pool (anyone).
    Reclaim {
        pid: u64,
        worker: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Pay the owner its commission (owner).
    Claim {
        pid: u64,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Change the commission, in percent (owner). A cut is at once; a rise takes effect
    /// after the withdrawal grace period, so delegators can leave at the old rate first.
    SetCommission {
        pid: u64,
        commission: String,
        #[command(flatten)]
        tx: TxArgs,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The node's RPC endpoint.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PoolsArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Also show this account's shares in each pool and what they are worth (an SS58
    /// address, 0x public key or secret URI such as //Charlie).
    #[arg(long)]
    pub account: Option<String>,
}

fn worker_key(input: &str) -> Result<[u8; 32]> {
    phala_client::primitives::crypto::decode_hex(input)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            anyhow!("worker {input:?} is not a 0x identity key of 32 bytes (see `phala workers`)")
        })
}

/// "10" or "2.5" percent → parts per billion.
fn percent_perbill(input: &str) -> Result<u32> {
    let bad = || anyhow!("commission {input:?} is not a percentage such as 10 or 2.5");
    let value =
        phala_tokenomics::parse_decimal(input.trim().trim_end_matches('%')).map_err(|_| bad())?;
    if value > phala_tokenomics::Fixed::from_num(100) {
        bail!("commission {input} is above 100%");
    }
    // percent · 10^7 = parts per billion, rounded down.
    let parts = phala_tokenomics::mul_div_floor(value.to_bits(), 10_000_000, 1 << 64)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(bad)?;
    Ok(parts)
}

async fn pool_of(client: &Client, pid: u64) -> Result<stake_pools::Pool> {
    client
        .pool(pid, None)
        .await?
        .ok_or_else(|| anyhow!("there is no pool {pid} (see `phala pools`)"))
}

async fn submit(client: &Client, signer: &Sr25519Pair, call: Call) -> Result<()> {
    submit_call(client, signer, RuntimeCall::StakePools(call))
        .await
        .map(|_| ())
}

pub async fn run(cmd: PoolCmd) -> Result<()> {
    match cmd {
        PoolCmd::Create {
            commission,
            cap,
            tx,
        } => {
            let commission = percent_perbill(&commission)?;
            let cap = cap.map(|c| parse_amount(Some("--cap"), &c)).transpose()?;
            let (client, signer) = tx.open().await?;
            submit(&client, &signer, Call::create { commission, cap }).await
        }
        PoolCmd::AddWorker { pid, worker, tx } => {
            let worker = worker_key(&worker)?;
            let (client, signer) = tx.open().await?;
            let pool = pool_of(&client, pid).await?;
            let me = signer.account_id();
            if pool.owner != me {
                bail!(
                    "pool {pid} belongs to {}, not {}",
                    pool.owner.to_ss58(),
                    me.to_ss58()
                );
            }
            let info = client
                .worker(&worker)
                .await?
                .ok_or_else(|| anyhow!("no worker 0x{} is registered", hex::encode(worker)))?;
            if info.operator != Some(me) {
                bail!(
                    "worker 0x{} is operated by {}, and only its operator may add it to a pool",
                    hex::encode(worker),
                    info.operator.map_or("nobody".into(), |o| o.to_ss58())
                );
            }
            submit(&client, &signer, Call::add_worker { pid, worker }).await
        }
        PoolCmd::RemoveWorker { pid, worker, tx } => {
            let worker = worker_key(&worker)?;
            let (client, signer) = tx.open().await?;
            owned_by(&client, pid, &signer).await?;
            in_state(&client, &worker, &[WorkerState::Ready], "remove it").await?;
            submit(&client, &signer, Call::remove_worker { pid, worker }).await
        }
        PoolCmd::Contribute { pid, amount, tx } => {
            let amount = parse_amount(None, &amount)?;
            if amount < phala_runtime::modules::balances::EXISTENTIAL_DEPOSIT {
                bail!(
                    "contributions start at {}: less could never be withdrawn",
                    format_pha(phala_runtime::modules::balances::EXISTENTIAL_DEPOSIT)
                );
            }
            let (client, signer) = tx.open().await?;
            pool_of(&client, pid).await?;
            let me = signer.account_id();
            let free = client.free_balance(&me).await?;
            if amount >= free {
                bail!(
                    "{} has {} free: it cannot contribute {} and pay the fee",
                    me.to_ss58(),
                    format_pha(free),
                    format_pha(amount)
                );
            }
            submit(&client, &signer, Call::contribute { pid, amount }).await
        }
        PoolCmd::Withdraw {
            pid,
            shares,
            all,
            tx,
        } => {
            let (client, signer) = tx.open().await?;
            let held = client.pool_shares(pid, &signer.account_id()).await?;
            let shares = match (shares, all) {
                (_, true) => held,
                (Some(s), false) => parse_amount(None, &s)?,
                (None, false) => bail!("give the shares to sell, or --all"),
            };
            if shares == 0 || shares > held {
                bail!(
                    "{} holds {} shares of pool {pid}",
                    signer.account_id().to_ss58(),
                    shares_text(held)
                );
            }
            submit(&client, &signer, Call::withdraw { pid, shares }).await
        }
        PoolCmd::Start {
            pid,
            worker,
            stake,
            tx,
        } => {
            let worker = worker_key(&worker)?;
            let (client, signer) = tx.open().await?;
            owned_by(&client, pid, &signer).await?;
            in_state(&client, &worker, &[WorkerState::Ready], "start it").await?;
            let params = client.computation_params().await?;
            let p = benchmarked(&client, &worker, Duration::from_secs(tx.timeout)).await?;
            let least = min_stake(&params, p).map_err(|e| anyhow!("{e:?}"))?;
            let stake = match stake {
                Some(s) => parse_amount(None, &s)?,
                None => least,
            };
            if stake < least {
                bail!(
                    "a worker with score {p} needs a stake of at least {} (S_min = k·√P)",
                    format_pha(least)
                );
            }
            let pool = pool_of(&client, pid).await?;
            if pool.free_stake < stake {
                bail!(
                    "pool {pid} has {} free; contribute more before staking {}",
                    format_pha(pool.free_stake),
                    format_pha(stake)
                );
            }
            crate::outln!(
                "Starting 0x{} with {}",
                hex::encode(worker),
                format_pha(stake)
            );
            submit(
                &client,
                &signer,
                Call::start_computing { pid, worker, stake },
            )
            .await
        }
        PoolCmd::Stop { pid, worker, tx } => {
            let worker = worker_key(&worker)?;
            let (client, signer) = tx.open().await?;
            owned_by(&client, pid, &signer).await?;
            let computing = [WorkerState::Idle, WorkerState::Unresponsive];
            in_state(&client, &worker, &computing, "stop it").await?;
            submit(&client, &signer, Call::stop_computing { pid, worker }).await?;
            if let Some(session) = client.session(&worker).await? {
                let params = client.computation_params().await?;
                crate::outln!(
                    "Its stake returns to the pool after the cooldown, from block #{}: \
                     `phala pool reclaim {pid} 0x{} --suri …` (anyone may).",
                    computation::reclaimable_at(&params, &session),
                    hex::encode(worker)
                );
            }
            Ok(())
        }
        PoolCmd::Reclaim { pid, worker, tx } => {
            let worker = worker_key(&worker)?;
            let (client, signer) = tx.open().await?;
            cooled_down(&client, &worker).await?;
            submit(&client, &signer, Call::reclaim { pid, worker }).await
        }
        PoolCmd::Claim { pid, tx } => {
            let (client, signer) = tx.open().await?;
            let pool = owned_by(&client, pid, &signer).await?;
            if pool.owner_reward == 0 {
                bail!("pool {pid} has no commission to claim yet");
            }
            submit(&client, &signer, Call::claim_commission { pid }).await
        }
        PoolCmd::SetCommission {
            pid,
            commission,
            tx,
        } => {
            let commission = percent_perbill(&commission)?;
            let (client, signer) = tx.open().await?;
            let pool = owned_by(&client, pid, &signer).await?;
            submit(&client, &signer, Call::set_commission { pid, commission }).await?;
            if commission > pool.commission {
                crate::outln!(
                    "The rise takes effect after the withdrawal grace period (`phala pools` \
                     shows the block), so delegators can leave at the old rate first."
                );
            } else if pool.pending_commission.is_some() {
                crate::outln!("This cut also cancels the rise that was scheduled.");
            }
            Ok(())
        }
    }
}

/// The pool, if the signer owns it; otherwise says whose it is (the chain would refuse
/// the call after taking its fee).
async fn owned_by(client: &Client, pid: u64, signer: &Sr25519Pair) -> Result<stake_pools::Pool> {
    let pool = pool_of(client, pid).await?;
    let me = signer.account_id();
    if pool.owner != me {
        bail!(
            "pool {pid} belongs to {}, not {}: only its owner may do this",
            pool.owner.to_ss58(),
            me.to_ss58()
        );
    }
    Ok(pool)
}

/// Refuses to `what` a worker whose session is in none of `states`, saying which it is in.
async fn in_state(
    client: &Client,
    worker: &[u8; 32],
    states: &[WorkerState],
    what: &str,
) -> Result<()> {
    let session = client.session(worker).await?.ok_or_else(|| {
        anyhow!(
            "worker 0x{} is in no pool: `phala pool add-worker` first",
            hex::encode(worker)
        )
    })?;
    if states.contains(&session.state) {
        return Ok(());
    }
    let why = match session.state {
        WorkerState::CoolingDown => {
            let params = client.computation_params().await?;
            format!(
                "cooling down until block #{} (then `phala pool reclaim`)",
                computation::reclaimable_at(&params, &session)
            )
        }
        WorkerState::Ready => "not computing".to_string(),
        WorkerState::Idle | WorkerState::Unresponsive => "computing".to_string(),
    };
    bail!("worker 0x{} is {why}: cannot {what}", hex::encode(worker))
}

/// A registered worker's benchmark score, waited for (a worker benchmarks for 6 s right
/// after it registers) at most `timeout`.
async fn benchmarked(client: &Client, worker: &[u8; 32], timeout: Duration) -> Result<u32> {
    let start = std::time::Instant::now();
    let mut said = false;
    loop {
        let info = client
            .worker(worker)
            .await?
            .ok_or_else(|| anyhow!("no worker 0x{} is registered", hex::encode(worker)))?;
        if let Some(score) = info.initial_score {
            return Ok(score);
        }
        if start.elapsed() >= timeout {
            bail!(
                "worker 0x{} has not reported its benchmark within {} s; is it running?",
                hex::encode(worker),
                timeout.as_secs()
            );
        }
        if !said {
            crate::outln!("Waiting for the worker's benchmark…");
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Refuses a reclaim the chain would refuse, saying when it becomes possible.
async fn cooled_down(client: &Client, worker: &[u8; 32]) -> Result<()> {
    let session = client
        .session(worker)
        .await?
        .ok_or_else(|| anyhow!("worker 0x{} is in no pool", hex::encode(worker)))?;
    if session.state != WorkerState::CoolingDown {
        bail!(
            "worker 0x{} is {:?}, not cooling down",
            hex::encode(worker),
            session.state
        );
    }
    let params = client.computation_params().await?;
    let at = computation::reclaimable_at(&params, &session);
    let (now, _) = client.best_head().await?;
    if now.saturating_add(1) < at {
        bail!("the cooldown ends at block #{at} (now #{now})");
    }
    Ok(())
}

/// Shares print like PHA amounts (a share is worth 1 PHA until the price moves).
fn shares_text(shares: Balance) -> String {
    format_pha(shares).trim_end_matches(" PHA").to_string()
}

/// `phala pools`: every pool's stake, share price, commission, APR and workers.
pub async fn pools(args: PoolsArgs) -> Result<()> {
    let who = args
        .account
        .as_deref()
        .map(crate::args::resolve_account)
        .transpose()?;
    let args = args.list;
    let client = connect(&args.url, Duration::from_secs(30)).await?;
    let pools = client.pools().await?;
    let sessions = client.sessions().await?;
    let params = client.computation_params().await?;
    let (now, head) = client.best_head().await?;
    // A day of blocks at the chain's own pace, measured from the timestamps.
    let day_blocks = client.blocks_per_day(now, head).await.unwrap_or(86_400);
    let mut json = Vec::new();
    let mut held_anywhere = false;
    if pools.is_empty() && !args.json {
        crate::outln!("No pools yet: `phala pool create --suri …`");
    }
    for snap in pools {
        let p = &snap.pool;
        let growth = client.pool_growth(snap.pid, day_blocks).await?;
        let price = share_price(p);
        let held = match &who {
            Some(who) => Some(client.pool_shares(snap.pid, who).await?),
            None => None,
        };
        if args.json {
            json.push(serde_json::json!({
                "pid": snap.pid,
                "owner": p.owner.to_ss58(),
                "account": stake_pools::pool_account(snap.pid).to_ss58(),
                "commissionPerbill": p.commission,
                "cap": p.cap.map(|c| c.to_string()),
                "totalValue": p.total_value.to_string(),
                "totalShares": p.total_shares.to_string(),
                "freeStake": p.free_stake.to_string(),
                "staked": p.staked.to_string(),
                "ownerReward": p.owner_reward.to_string(),
                "sharePrice": price,
                "apr": growth.and_then(|g| g.apr()),
                "sharePriceGrowth": growth.map(|g| g.growth),
                "aprSpanMs": growth.map(|g| g.span_ms),
                "pendingCommission": p.pending_commission.map(|(c, from)| serde_json::json!({
                    "commissionPerbill": c,
                    "fromBlock": from,
                })),
                "workers": p.workers.iter().map(|w| format!("0x{}", hex::encode(w))).collect::<Vec<_>>(),
                "withdrawQueue": p.withdraw_queue.len(),
                "accountShares": held.map(|s| s.to_string()),
                "accountValue": held.map(|s| p.value_of(s).to_string()),
            }));
            continue;
        }
        let percent = |perbill: u32| phala_tokenomics::format_perbill(u128::from(perbill));
        let rising = p
            .pending_commission
            .map(|(c, from)| format!(" (rising to {} at #{from})", percent(c)))
            .unwrap_or_default();
        crate::outln!(
            "pool {}  owner {}  commission {}{rising}",
            snap.pid,
            p.owner.to_ss58(),
            percent(p.commission)
        );
        crate::outln!(
            "  account {}",
            stake_pools::pool_account(snap.pid).to_ss58()
        );
        crate::outln!(
            "  stake {} ({} free, {} staked)  shares {}  share price {}",
            format_pha(p.total_value),
            format_pha(p.free_stake),
            format_pha(p.staked),
            shares_text(p.total_shares),
            price.map_or("-".into(), |x| format!("{x:.6}"))
        );
        match growth {
            Some(g) => match g.apr() {
                Some(apr) => crate::outln!(
                    "  APR {:.2}% (over the last {})",
                    apr * 100.0,
                    span_text(g.span_ms)
                ),
                None => crate::outln!(
                    "  share price {:+.4}% over the last {} (an APR needs an hour of history)",
                    g.growth * 100.0,
                    span_text(g.span_ms)
                ),
            },
            None => crate::outln!("  APR - (no shares, or no history yet)"),
        }
        if let (Some(held), Some(who)) = (held, &who)
            && held > 0
        {
            held_anywhere = true;
            crate::outln!(
                "  {} holds {} shares, worth {}",
                who.to_ss58(),
                shares_text(held),
                format_pha(p.value_of(held))
            );
        }
        if p.owner_reward > 0 {
            crate::outln!(
                "  owner's unclaimed commission {}",
                format_pha(p.owner_reward)
            );
        }
        if !p.withdraw_queue.is_empty() {
            let queued: Balance = p.withdraw_queue.iter().map(|w| w.shares).sum();
            crate::outln!(
                "  {} withdrawal(s) waiting for {} shares",
                p.withdraw_queue.len(),
                shares_text(queued)
            );
        }
        for w in &p.workers {
            let state = sessions
                .iter()
                .find(|(k, _)| k == w)
                .map_or("-".to_string(), |(_, s)| {
                    state_text(s, &params, now, Some(snap.pid), w)
                });
            crate::outln!("  worker 0x{}  {state}", hex::encode(w));
        }
    }
    if let Some(who) = &who
        && !held_anywhere
        && !args.json
    {
        crate::outln!("{} holds no shares in any pool.", who.to_ss58());
    }
    if args.json {
        crate::outln!("{}", serde_json::Value::Array(json));
    }
    Ok(())
}

/// A session's state as people read it, with what to do when a cooldown is over.
fn state_text(
    s: &computation::Session,
    params: &phala_tokenomics::Params,
    now: u32,
    pid: Option<u64>,
    worker: &[u8; 32],
) -> String {
    match s.state {
        WorkerState::Idle => "Idle (computing)".into(),
        WorkerState::Unresponsive => "Unresponsive (computing, missed a challenge)".into(),
        WorkerState::CoolingDown => {
            let at = computation::reclaimable_at(params, s);
            if now >= at {
                format!(
                    "CoolingDown, over since #{at}: `phala pool reclaim {} 0x{} --suri …` \
                     returns its stake",
                    pid.map_or("<pool>".into(), |p| p.to_string()),
                    hex::encode(worker)
                )
            } else {
                format!("CoolingDown until #{at}")
            }
        }
        WorkerState::Ready => "Ready (not computing)".into(),
    }
}

fn span_text(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{:.1} h", secs as f64 / 3600.0)
    } else if secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// `phala computing`: every session's state, value, performance, heartbeats and rewards.
pub async fn computing(args: ListArgs) -> Result<()> {
    let client = connect(&args.url, Duration::from_secs(30)).await?;
    let sessions = client.sessions().await?;
    let (now, _) = client.best_head().await?;
    let params = client.computation_params().await?;
    let mut json = Vec::new();
    if sessions.is_empty() && !args.json {
        crate::outln!("No worker is in a pool yet: `phala pool add-worker`");
    }
    for (worker, s) in sessions {
        let pid = stake_pools::pool_of_account(&s.owner);
        let v = computation::value_of(s.v);
        if args.json {
            json.push(serde_json::json!({
                "worker": format!("0x{}", hex::encode(worker)),
                "pool": pid,
                "owner": s.owner.to_ss58(),
                "state": format!("{:?}", s.state),
                "stake": s.stake.to_string(),
                "v": format_fixed(v, 6),
                "p": s.p_bench,
                "startedAt": s.started_at,
                "lastHeartbeatAt": s.last_heartbeat_at,
                "heartbeats": s.heartbeats,
                "missed": s.missed,
                "totalReward": s.total_reward.to_string(),
            }));
            continue;
        }
        let owner = match pid {
            Some(pid) => format!("pool {pid}"),
            None => s.owner.to_ss58(),
        };
        let state = state_text(&s, &params, now, pid, &worker);
        crate::outln!("worker 0x{}  {owner}  {state}", hex::encode(worker));
        if s.state == WorkerState::Ready {
            continue;
        }
        let heartbeat = if s.heartbeats == 0 {
            "no heartbeat yet".to_string()
        } else {
            format!(
                "last heartbeat #{} ({} blocks ago)",
                s.last_heartbeat_at,
                now.saturating_sub(s.last_heartbeat_at)
            )
        };
        crate::outln!(
            "  stake {}  V {}  P {}  {heartbeat}",
            format_pha(s.stake),
            format_fixed(v, 2),
            s.p_bench
        );
        crate::outln!(
            "  heartbeats {}  missed {}  rewards {}",
            s.heartbeats,
            s.missed,
            format_pha(s.total_reward)
        );
    }
    if args.json {
        crate::outln!("{}", serde_json::Value::Array(json));
    }
    Ok(())
}
