//! `phala gov …` and `phala treasury …`: proposals, referenda, conviction votes,
//! delegation and locks; the treasury's spends and pot.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use parity_scale_codec::{DecodeLimit, Encode};
use phala_client::Client;
use phala_client::governance::ReferendumView;
use phala_client::keys::Sr25519Pair;
use phala_client::primitives::{AccountId32, Balance, H256, MultiAddress, format_pha, hashing};
use phala_runtime::arith::Perbill;
use phala_runtime::modules::conviction_voting::{self, AccountVote, Conviction, Vote, Voting};
use phala_runtime::modules::preimage::{self, Bounded};
use phala_runtime::modules::referenda::{self, ReferendumInfo, TRACK_IDS, TrackId};
use phala_runtime::modules::scheduler::DispatchTime;
use phala_runtime::modules::treasury::{self, NativeOrWithId};
use phala_runtime::{OriginCaller, RuntimeCall, RuntimeEvent};

use crate::args::{DEFAULT_URL, TxArgs, connect, parse_amount, resolve_account, submit_call};

#[derive(Debug, Subcommand)]
pub enum GovCmd {
    /// Note a call on chain (for proposals too long to go inline): prints its hash.
    Preimage {
        #[command(flatten)]
        call: CallArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Print a call's SCALE encoding (0x hex), built by name from the node's metadata: to
    /// check a proposal, or to paste into polkadot.js apps.
    Encode {
        /// `module.call`, as polkadot.js names it (e.g. `validators.setCommitteeSize`).
        call: String,
        /// The arguments, as JSON (see `phala gov submit --help`).
        #[arg(long, default_value = "{}")]
        args: String,
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
    /// Propose a call for a referendum on a track (notes it first if it is long).
    Submit {
        /// The track, which is the origin the call runs with if it passes: root,
        /// treasurer, referendum_canceller, referendum_killer, small_spender,
        /// medium_spender, big_spender or parameters.
        #[arg(long)]
        track: String,
        #[command(flatten)]
        call: CallArgs,
        /// Enact this many blocks after approval (at least the track's minimum).
        #[arg(long, default_value_t = 1, conflicts_with = "at")]
        after: u32,
        /// Enact at this block (or as soon after approval as the track allows).
        #[arg(long)]
        at: Option<u32>,
        /// Also place the track's decision deposit.
        #[arg(long)]
        deposit: bool,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Place a referendum's decision deposit, so it can be decided.
    Deposit {
        /// The referendum's number (`phala gov status`).
        index: u32,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Vote on a referendum: aye or nay with an amount of PHA and a conviction. Voting
    /// again replaces your vote (the lock keeps the largest amount until you unlock).
    Vote {
        /// The referendum's number (`phala gov status`).
        index: u32,
        /// aye or nay.
        side: String,
        /// PHA voted (locked while the referendum runs), e.g. "1000".
        amount: String,
        /// none (0.1 vote per PHA, no lock) or 1x…6x (1–6 votes per PHA, locked 1, 2, 4,
        /// 8, 16 or 32 periods after a decision you backed).
        #[arg(long, default_value = "1x")]
        conviction: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Lend your vote on a track to another account.
    Delegate {
        /// Track name or id.
        track: String,
        /// Who votes for you (address or secret URI's account).
        to: String,
        /// PHA lent.
        amount: String,
        /// none or 1x…6x, as for `vote`: the lent PHA counts that many times.
        #[arg(long, default_value = "1x")]
        conviction: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Take back a delegation (its PHA stays locked for its conviction's periods).
    Undelegate {
        /// Track name or id.
        track: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Remove your votes on ended referenda and free the PHA whose locks expired.
    Unlock {
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Referenda: track, state, tally, approval and support against the curves, and when
    /// they end (all, or one).
    Status {
        index: Option<u32>,
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
    /// The tracks and their rules.
    Tracks {
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TreasuryCmd {
    /// Propose a spend: a referendum on a spending track whose call approves it.
    Spend {
        /// PHA, e.g. "500".
        amount: String,
        /// Who is paid: an SS58 address, a 0x public key or a secret URI's account.
        beneficiary: String,
        /// treasurer, small_spender, medium_spender or big_spender (each has a limit), or
        /// root (none).
        #[arg(long, default_value = "treasurer")]
        track: String,
        /// The first block it may be paid out at.
        #[arg(long)]
        valid_from: Option<u32>,
        /// Also place the track's decision deposit.
        #[arg(long)]
        deposit: bool,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// The pot, the rules, and the approved spends.
    Spends {
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
    },
    /// Pay out an approved spend (anyone may).
    Payout {
        /// The spend's number (`phala treasury spends`).
        index: u32,
        #[command(flatten)]
        tx: TxArgs,
    },
}

/// A call, by name or as SCALE hex.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The call: `module.call` by name (e.g. `validators.setCommitteeSize`, as polkadot.js
    /// names it), with `--args`; or its SCALE encoding as 0x hex (polkadot.js apps'
    /// "encoded call data").
    #[arg(long)]
    call: String,
    /// The arguments of a call given by name, as JSON: an object by argument name (e.g.
    /// '{"size": 8}') or an array in order. Byte strings and accounts as 0x hex (accounts
    /// also SS58), amounts in planck (1 PHA = 10^12), enums as "Variant" or
    /// {"Variant": value}.
    #[arg(long, default_value = "{}")]
    args: String,
}

impl CallArgs {
    /// The call, built from the node's metadata if given by name, and checked to be a call
    /// of this chain.
    async fn resolve(&self, client: &Client) -> Result<RuntimeCall> {
        let bytes = if self.call.starts_with("0x") {
            if self.args != "{}" {
                bail!("--args goes with a call given by name, not with 0x hex");
            }
            phala_client::primitives::crypto::decode_hex(&self.call).map_err(|_| {
                anyhow!(
                    "--call `{}` is not valid 0x hex (or a call by name, module.call)",
                    self.call
                )
            })?
        } else {
            let args: serde_json::Value =
                serde_json::from_str(&self.args).map_err(|e| anyhow!("--args is not JSON: {e}"))?;
            client
                .metadata()
                .await
                .encode_call(&self.call, &args)
                .map_err(|e| anyhow!("{e}"))?
        };
        RuntimeCall::decode_all_with_depth_limit(
            phala_runtime::MAX_CALL_DEPTH,
            &mut bytes.as_slice(),
        )
        .map_err(|e| anyhow!("--call is not a call of this chain: {e}"))
    }
}

fn track_id(name: &str) -> Result<TrackId> {
    if let Ok(id) = name.parse::<TrackId>()
        && TRACK_IDS.iter().any(|(t, _, _)| *t == id)
    {
        return Ok(id);
    }
    TRACK_IDS
        .iter()
        .find(|(_, n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(id, _, _)| *id)
        .ok_or_else(|| {
            let names: Vec<_> = TRACK_IDS.iter().map(|(_, n, _)| *n).collect();
            anyhow!("no track {name:?}: the tracks are {}", names.join(", "))
        })
}

fn track_name(id: TrackId) -> &'static str {
    TRACK_IDS
        .iter()
        .find(|(t, _, _)| *t == id)
        .map(|(_, n, _)| *n)
        .unwrap_or("unknown")
}

fn parse_conviction(text: &str) -> Result<Conviction> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_prefix("locked").unwrap_or(&t);
    Ok(match t.trim_end_matches('x') {
        "none" | "0" | "0.1" => Conviction::None,
        "1" => Conviction::Locked1x,
        "2" => Conviction::Locked2x,
        "3" => Conviction::Locked3x,
        "4" => Conviction::Locked4x,
        "5" => Conviction::Locked5x,
        "6" => Conviction::Locked6x,
        _ => bail!("--conviction {text:?}: use none, or 1x to 6x"),
    })
}

fn percent(p: Perbill) -> String {
    format!("{:.2}%", f64::from(p.deconstruct()) / 1e7)
}

/// Names `call` for a proposal: inline if short, else by its preimage, noted now if the
/// chain does not have it yet.
async fn bound(client: &Client, signer: &Sr25519Pair, call: &RuntimeCall) -> Result<Bounded> {
    if let Some(inline) = Bounded::inline(call) {
        return Ok(inline);
    }
    let bytes = call.encode();
    let hash = H256(hashing::blake2_256(&bytes));
    let len = u32::try_from(bytes.len()).map_err(|_| anyhow!("the call is too long"))?;
    if client.preimage_len(hash).await? != Some(len) {
        crate::outln!("Noting the call ({len} bytes) as preimage {hash}…");
        submit_call(
            client,
            signer,
            RuntimeCall::Preimage(preimage::Call::note_preimage { bytes }),
        )
        .await?;
    }
    Ok(Bounded::Lookup { hash, len })
}

/// Submits a referendum on `track` for `call`; returns its index.
pub(crate) async fn propose(
    client: &Client,
    signer: &Sr25519Pair,
    track: TrackId,
    call: &RuntimeCall,
    enactment: DispatchTime,
    deposit: bool,
) -> Result<u32> {
    let params = client.governance_params().await?;
    let info = params
        .track(track)
        .ok_or_else(|| anyhow!("this chain has no {} track", track_name(track)))?;
    let origin: OriginCaller = referenda::origin_for_track(track)
        .ok_or_else(|| anyhow!("track {track} grants no origin"))?;
    let proposal = bound(client, signer, call).await?;
    let events = submit_call(
        client,
        signer,
        RuntimeCall::Referenda(referenda::Call::submit {
            proposal_origin: Box::new(origin),
            proposal,
            enactment_moment: enactment,
        }),
    )
    .await?;
    let index = events
        .iter()
        .find_map(|e| match e {
            RuntimeEvent::Referenda(referenda::Event::Submitted { index, .. }) => Some(*index),
            _ => None,
        })
        .ok_or_else(|| anyhow!("the chain reported no Submitted event"))?;
    crate::outln!(
        "Referendum #{index} on the {} track (submission deposit {} held).",
        track_name(track),
        format_pha(params.submission_deposit)
    );
    if deposit {
        submit_call(
            client,
            signer,
            RuntimeCall::Referenda(referenda::Call::place_decision_deposit { index }),
        )
        .await?;
        crate::outln!(
            "Decision deposit of {} placed.",
            format_pha(info.decision_deposit)
        );
    } else {
        crate::outln!(
            "It is decided once someone places its decision deposit of {}: phala gov deposit {index}",
            format_pha(info.decision_deposit)
        );
    }
    Ok(index)
}

async fn ensure_ongoing(client: &Client, index: u32) -> Result<()> {
    match client.referendum(index).await? {
        Some(ReferendumInfo::Ongoing(_)) => Ok(()),
        Some(_) => bail!("referendum #{index} has ended (phala gov status {index})"),
        None => bail!("no referendum #{index} (phala gov status lists them)"),
    }
}

pub async fn run(cmd: GovCmd) -> Result<()> {
    match cmd {
        GovCmd::Preimage { call, tx } => {
            let (client, signer) = tx.open().await?;
            let call = call.resolve(&client).await?;
            let bytes = call.encode();
            let hash = H256(hashing::blake2_256(&bytes));
            submit_call(
                &client,
                &signer,
                RuntimeCall::Preimage(preimage::Call::note_preimage {
                    bytes: bytes.clone(),
                }),
            )
            .await?;
            crate::outln!(
                "Preimage {hash}, {} bytes (deposit {}).",
                bytes.len(),
                format_pha(preimage::deposit_for(
                    client.refresh_runtime_version().await?.spec_version,
                    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
                ))
            );
            Ok(())
        }
        GovCmd::Submit {
            track,
            call,
            after,
            at,
            deposit,
            tx,
        } => {
            let track = track_id(&track)?;
            let (client, signer) = tx.open().await?;
            let call = call.resolve(&client).await?;
            let enactment = at.map_or(DispatchTime::After(after), DispatchTime::At);
            propose(&client, &signer, track, &call, enactment, deposit)
                .await
                .map(|_| ())
        }
        GovCmd::Deposit { index, tx } => {
            let (client, signer) = tx.open().await?;
            ensure_ongoing(&client, index).await?;
            submit_call(
                &client,
                &signer,
                RuntimeCall::Referenda(referenda::Call::place_decision_deposit { index }),
            )
            .await
            .map(|_| ())
        }
        GovCmd::Vote {
            index,
            side,
            amount,
            conviction,
            tx,
        } => {
            let aye = match side.to_ascii_lowercase().as_str() {
                "aye" | "yes" => true,
                "nay" | "no" => false,
                _ => bail!("vote aye or nay, not {side:?}"),
            };
            let balance = parse_amount(Some("amount"), &amount)?;
            if balance == 0 {
                bail!("a vote needs an amount of PHA above zero");
            }
            let conviction = parse_conviction(&conviction)?;
            let (client, signer) = tx.open().await?;
            ensure_ongoing(&client, index).await?;
            let vote = AccountVote::Standard {
                vote: Vote { aye, conviction },
                balance,
            };
            submit_call(
                &client,
                &signer,
                RuntimeCall::ConvictionVoting(conviction_voting::Call::vote {
                    poll_index: index,
                    vote,
                }),
            )
            .await
            .map(|_| ())
        }
        GovCmd::Delegate {
            track,
            to,
            amount,
            conviction,
            tx,
        } => {
            let class = track_id(&track)?;
            let target = resolve_account(&to)?;
            let balance = parse_amount(Some("amount"), &amount)?;
            let conviction = parse_conviction(&conviction)?;
            let (client, signer) = tx.open().await?;
            if target == signer.account_id() {
                bail!("you cannot delegate to yourself");
            }
            // A delegator casts no votes of its own on the track: clear ended ones first.
            if let Voting::Casting(casting) = client.voting_for(&signer.account_id(), class).await?
            {
                let mut running = Vec::new();
                for (index, _) in casting.votes.iter() {
                    if matches!(
                        client.referendum(*index).await?,
                        Some(ReferendumInfo::Ongoing(_))
                    ) {
                        running.push(format!("#{index}"));
                    } else {
                        let remove = conviction_voting::Call::remove_vote {
                            class: Some(class),
                            index: *index,
                        };
                        submit_call(&client, &signer, RuntimeCall::ConvictionVoting(remove))
                            .await?;
                    }
                }
                if !running.is_empty() {
                    bail!(
                        "you vote yourself on the {} track in {}: delegate once they end",
                        track_name(class),
                        running.join(", ")
                    );
                }
            }
            submit_call(
                &client,
                &signer,
                RuntimeCall::ConvictionVoting(conviction_voting::Call::delegate {
                    class,
                    to: MultiAddress::Id(target),
                    conviction,
                    balance,
                }),
            )
            .await
            .map(|_| ())
        }
        GovCmd::Undelegate { track, tx } => {
            let class = track_id(&track)?;
            let (client, signer) = tx.open().await?;
            submit_call(
                &client,
                &signer,
                RuntimeCall::ConvictionVoting(conviction_voting::Call::undelegate { class }),
            )
            .await
            .map(|_| ())
        }
        GovCmd::Unlock { tx } => unlock(tx).await,
        GovCmd::Status { index, url } => status(index, &url).await,
        GovCmd::Tracks { url } => tracks(&url).await,
        GovCmd::Encode { call, args, url } => {
            let client = connect(&url, Duration::from_secs(60)).await?;
            let call = CallArgs { call, args }.resolve(&client).await?;
            // Only the hex on stdout, so `CALL=$(phala gov encode …)` works; what it is
            // goes to stderr.
            crate::outln!("0x{}", hex::encode(call.encode()));
            eprintln!("{call:?}");
            Ok(())
        }
    }
}

async fn unlock(tx: TxArgs) -> Result<()> {
    let (client, signer) = tx.open().await?;
    let who = signer.account_id();
    let locks = client.class_locks(&who).await?;
    if locks.is_empty() {
        crate::outln!("{who} has no PHA locked by votes.");
        return Ok(());
    }
    for (class, _) in locks {
        if let Voting::Casting(casting) = client.voting_for(&who, class).await? {
            for (index, _) in casting.votes.iter() {
                if !matches!(
                    client.referendum(*index).await?,
                    Some(ReferendumInfo::Ongoing(_))
                ) {
                    submit_call(
                        &client,
                        &signer,
                        RuntimeCall::ConvictionVoting(conviction_voting::Call::remove_vote {
                            class: Some(class),
                            index: *index,
                        }),
                    )
                    .await?;
                }
            }
        }
        submit_call(
            &client,
            &signer,
            RuntimeCall::ConvictionVoting(conviction_voting::Call::unlock {
                class,
                target: MultiAddress::Id(who),
            }),
        )
        .await?;
    }
    let left = client.class_locks(&who).await?;
    if left.is_empty() {
        crate::outln!("All of {who}'s PHA is free of votes.");
        return Ok(());
    }
    for (class, amount) in left {
        let why = match client.voting_for(&who, class).await? {
            Voting::Casting(c) if !c.votes.is_empty() => {
                let running: Vec<_> = c.votes.iter().map(|(i, _)| format!("#{i}")).collect();
                format!("votes on {} still running", running.join(", "))
            }
            Voting::Casting(c) => format!("conviction lock until block #{}", c.prior.0),
            Voting::Delegating(d) => format!("delegated to {}", d.target),
        };
        crate::outln!(
            "{} stays locked on the {} track: {why}.",
            format_pha(amount),
            track_name(class)
        );
    }
    Ok(())
}

fn describe(v: &ReferendumView, now: u32, block_ms: u64) -> String {
    let when = |block: u32| {
        let secs = u64::from(block.saturating_sub(now)).saturating_mul(block_ms) / 1000;
        format!("#{block} (in {secs} s)")
    };
    match &v.info {
        ReferendumInfo::Ongoing(s) => {
            let mut out = format!(
                "#{} {} — ayes {}, nays {}, support {}",
                v.index,
                track_name(s.track),
                format_pha(s.tally.ayes),
                format_pha(s.tally.nays),
                format_pha(s.tally.support)
            );
            if let (Some(st), Some((_, t))) = (&v.standing, &v.track) {
                out.push_str(&format!(
                    "\n    approval {} (needs {}), support {} (needs {}) at {} of the decision period: {}",
                    percent(st.approval),
                    percent(st.min_approval),
                    percent(st.support),
                    percent(st.min_support),
                    percent(st.x),
                    if st.passing() { "passing" } else { "failing" }
                ));
                let state = match (&s.deciding, s.in_queue, &s.decision_deposit) {
                    (Some(d), _, _) => match d.confirming {
                        Some(c) => format!("confirming until {}", when(c)),
                        None => format!(
                            "deciding until {}",
                            when(d.since.saturating_add(t.decision_period))
                        ),
                    },
                    (None, true, _) => "queued for a deciding slot".to_string(),
                    (None, false, Some(_)) => format!(
                        "preparing until {}",
                        when(s.submitted.saturating_add(t.prepare_period))
                    ),
                    (None, false, None) => format!(
                        "needs its decision deposit of {} (phala gov deposit {})",
                        format_pha(t.decision_deposit),
                        v.index
                    ),
                };
                out.push_str(&format!("\n    {state}"));
            }
            out
        }
        ReferendumInfo::Approved(at, ..) => match v.enacts_at {
            Some(block) => format!(
                "#{} approved at #{at}; its call runs at {}",
                v.index,
                when(block)
            ),
            None => format!("#{} approved at #{at}", v.index),
        },
        ReferendumInfo::Rejected(at, ..) => format!("#{} rejected at #{at}", v.index),
        ReferendumInfo::Cancelled(at, ..) => format!("#{} cancelled at #{at}", v.index),
        ReferendumInfo::TimedOut(at, ..) => format!("#{} timed out at #{at}", v.index),
        ReferendumInfo::Killed(at) => format!("#{} killed at #{at}", v.index),
    }
}

/// The chain's block time, from the timestamps of the last hundred blocks (one second if
/// the chain is younger).
async fn block_ms(client: &Client, now: u32) -> u64 {
    // Genesis has no timestamp: measure from block 1 at the earliest.
    let from = now.saturating_sub(100).max(1);
    let span = now.saturating_sub(from);
    if span < 2 {
        return 1_000;
    }
    let stamp = |n: u32| async move {
        let hash = client.block_hash(n).await.ok().flatten()?;
        client.timestamp_at(hash).await.ok()
    };
    match (stamp(from).await, stamp(now).await) {
        (Some(a), Some(b)) if b > a => (b - a) / u64::from(span),
        _ => 1_000,
    }
}

async fn status(index: Option<u32>, url: &str) -> Result<()> {
    let client = connect(url, Duration::from_secs(60)).await?;
    let (now, _) = client.best_head().await?;
    let block_ms = block_ms(&client, now).await;
    let views = client.referenda().await?;
    let views: Vec<_> = match index {
        Some(i) => {
            let v: Vec<_> = views.into_iter().filter(|v| v.index == i).collect();
            if v.is_empty() {
                bail!("no referendum #{i}");
            }
            v
        }
        None => views,
    };
    if views.is_empty() {
        crate::outln!("No referenda yet (phala gov submit).");
    }
    for v in &views {
        crate::outln!("{}", describe(v, now, block_ms));
        if let ReferendumInfo::Approved(at, ..) = v.info
            && v.enacts_at.is_none()
        {
            crate::outln!("    {}", enactment_result(&client, v.index, at, now).await);
        }
    }
    Ok(())
}

/// Blocks after an approval `gov status` searches for the enactment's result.
const ENACTMENT_SEARCH: u32 = 300;

/// What became of an approved referendum's call: the `Scheduler.Dispatched` event of its
/// enactment (found by its task name within [`ENACTMENT_SEARCH`] blocks of the approval).
async fn enactment_result(client: &Client, index: u32, approved: u32, now: u32) -> String {
    let name = referenda::enactment_name(index);
    let metadata = client.metadata().await;
    for block in approved..=now.min(approved.saturating_add(ENACTMENT_SEARCH)) {
        let Ok(Some(hash)) = client.block_hash(block).await else {
            continue;
        };
        let Ok(events) = client.events_at(hash).await else {
            continue;
        };
        for record in events {
            if let RuntimeEvent::Scheduler(phala_runtime::modules::scheduler::Event::Dispatched {
                id: Some(id),
                result,
                ..
            }) = &record.event
                && *id == name
            {
                return match result {
                    Ok(()) => format!("its call ran at #{block}: Ok"),
                    Err(e) => format!(
                        "its call ran at #{block} and FAILED: {}",
                        phala_client::DispatchFailure::new(*e, &metadata)
                    ),
                };
            }
        }
    }
    format!(
        "its call ran after #{approved} (its result is the Scheduler.Dispatched event with id 0x{})",
        hex::encode(name)
    )
}

/// `blocks` as a time at `block_ms` per block.
fn span(blocks: u32, block_ms: u64) -> String {
    let secs = u64::from(blocks).saturating_mul(block_ms) / 1000;
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

async fn tracks(url: &str) -> Result<()> {
    let client = connect(url, Duration::from_secs(60)).await?;
    let params = client.governance_params().await?;
    let (now, _) = client.best_head().await?;
    let ms = block_ms(&client, now).await;
    crate::outln!(
        "Submission deposit {}; undecided referenda time out after {}; a conviction lock period is {} ({} ms blocks).",
        format_pha(params.submission_deposit),
        span(params.undeciding_timeout, ms),
        span(params.vote_locking_period, ms),
        ms
    );
    for (id, t) in &params.tracks {
        crate::outln!(
            "{id:>3} {:<21} decides {} at once; deposit {}; prepare {}, decide {}, confirm {}, enact {} after approval",
            t.name,
            t.max_deciding,
            format_pha(t.decision_deposit),
            span(t.prepare_period, ms),
            span(t.decision_period, ms),
            span(t.confirm_period, ms),
            span(t.min_enactment_period, ms)
        );
    }
    Ok(())
}

pub async fn run_treasury(cmd: TreasuryCmd) -> Result<()> {
    match cmd {
        TreasuryCmd::Spend {
            amount,
            beneficiary,
            track,
            valid_from,
            deposit,
            tx,
        } => {
            let amount = parse_amount(Some("amount"), &amount)?;
            if amount == 0 {
                bail!("a spend must be of more than 0 PHA");
            }
            let beneficiary: AccountId32 = resolve_account(&beneficiary)?;
            let track = track_id(&track)?;
            let (client, signer) = tx.open().await?;
            let origin = referenda::origin_for_track(track);
            let limit = match origin {
                Some(OriginCaller::Origins(g)) => client
                    .treasury_params()
                    .await?
                    .limits
                    .iter()
                    .find(|(o, _)| *o == g)
                    .map(|(_, l)| *l),
                Some(_) => Some(Balance::MAX),
                None => None,
            };
            match limit {
                None => bail!(
                    "the {} track cannot spend: use treasurer, small_spender, medium_spender or big_spender",
                    track_name(track)
                ),
                Some(limit) if amount > limit => bail!(
                    "{} is above the {} track's limit of {}",
                    format_pha(amount),
                    track_name(track),
                    format_pha(limit)
                ),
                Some(_) => {}
            }
            let pot = client.treasury_pot().await?;
            if amount > pot {
                crate::outln!(
                    "Note: the treasury's pot holds {} now; the spend can be paid out only once it holds {}.",
                    format_pha(pot),
                    format_pha(amount)
                );
            }
            let call = RuntimeCall::Treasury(treasury::Call::spend {
                asset_kind: Box::new(NativeOrWithId::Native),
                amount,
                beneficiary: Box::new(MultiAddress::Id(beneficiary)),
                valid_from,
            });
            propose(
                &client,
                &signer,
                track,
                &call,
                DispatchTime::After(1),
                deposit,
            )
            .await
            .map(|_| ())
        }
        TreasuryCmd::Spends { url } => {
            let client = connect(&url, Duration::from_secs(60)).await?;
            let (now, _) = client.best_head().await?;
            let params = client.treasury_params().await?;
            let pot = client.treasury_pot().await?;
            crate::outln!(
                "Pot: {} (spend period {} blocks, burn {} of the rest, spends claimable for {} blocks)",
                format_pha(pot),
                params.spend_period,
                percent(params.burn),
                params.payout_period
            );
            let spends = client.treasury_spends().await?;
            if spends.is_empty() {
                crate::outln!("No approved spends.");
            }
            for (index, s) in spends {
                let state = match s.status {
                    treasury::PaymentState::Pending if now < s.valid_from => {
                        format!("payable from #{}", s.valid_from)
                    }
                    treasury::PaymentState::Pending if now >= s.expire_at => "expired".to_string(),
                    treasury::PaymentState::Pending if s.amount > pot => {
                        format!("payable once the pot holds it, until #{}", s.expire_at)
                    }
                    treasury::PaymentState::Pending => format!(
                        "payable now, until #{} (phala treasury payout {index})",
                        s.expire_at
                    ),
                    treasury::PaymentState::Attempted { .. } => "paid".to_string(),
                    treasury::PaymentState::Failed => "failed; payable again".to_string(),
                };
                crate::outln!(
                    "#{index} {} to {}: {state}",
                    format_pha(s.amount),
                    s.beneficiary
                );
            }
            Ok(())
        }
        TreasuryCmd::Payout { index, tx } => {
            let (client, signer) = tx.open().await?;
            let (now, _) = client.best_head().await?;
            let spend = client
                .treasury_spends()
                .await?
                .into_iter()
                .find(|(i, _)| *i == index)
                .map(|(_, s)| s)
                .ok_or_else(|| anyhow!("no spend #{index} (phala treasury spends lists them)"))?;
            if now < spend.valid_from {
                bail!("spend #{index} is payable from block #{}", spend.valid_from);
            }
            if matches!(spend.status, treasury::PaymentState::Attempted { .. }) {
                bail!("spend #{index} is already paid");
            }
            let pot = client.treasury_pot().await?;
            if spend.amount > pot {
                bail!(
                    "spend #{index} is {} but the treasury's pot holds {}: it can be paid once the pot has grown",
                    format_pha(spend.amount),
                    format_pha(pot)
                );
            }
            submit_call(
                &client,
                &signer,
                RuntimeCall::Treasury(treasury::Call::payout { index }),
            )
            .await
            .map(|_| ())
        }
    }
}
