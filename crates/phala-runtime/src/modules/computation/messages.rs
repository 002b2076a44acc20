//! Workers' heartbeats and gatekeepers' settlements, as the message queue delivers them
//! (signature and sequence already checked).

use parity_scale_codec::{DecodeLimit, Encode};
use phala_mq::computation::{ComputationEvent, Heartbeat, Settlement, WorkerPayout, WorkerValue};
use phala_primitives::{Balance, H256, Weight};
use phala_tokenomics::{pha_to_plancks, split_payout, worker_hash};

use super::{
    BUDGET_LEFT, CHALLENGES, Error, Event, Hooks, NEXT_SETTLEMENT, SESSIONS, SETTLEMENT_FAULTS,
    SETTLEMENT_MEMORY, SETTLEMENTS, Session, WorkerState, params, push,
};
use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchError, DispatchResult};
use crate::modules::{
    REWARD_POOL_ACCOUNT, TREASURY_ACCOUNT, balances, registry, system, timestamp, weights,
};

/// A heartbeat reads the session and the challenge, writes the session and the queue.
pub fn heartbeat_weight(_payload: &[u8]) -> Weight {
    weights::reads_writes(4, 3)
}

/// A worker's answer to its challenge.
pub fn on_heartbeat(ext: &mut Ext, worker: [u8; 32], payload: &[u8]) -> DispatchResult {
    let heartbeat = Heartbeat::decode_all_with_depth_limit(4, &mut &payload[..])
        .map_err(|_| Error::BadMessage)?;
    let params = params(ext)?;
    let mut session = SESSIONS.get(ext, &worker).ok_or(Error::NotBound)?;
    if !matches!(session.state, WorkerState::Idle | WorkerState::Unresponsive) {
        return Err(Error::NotComputing.into());
    }
    let now = system::block_number(ext);
    let challenged = heartbeat.challenge_block;
    // Answerable from the block after the challenge, for `heartbeat_window` blocks.
    let age = now.checked_sub(challenged).ok_or(Error::UnknownChallenge)?;
    if age == 0 || age > params.heartbeat_window {
        return Err(Error::UnknownChallenge.into());
    }
    // Also refuses challenges from before the session started (last_challenge starts there).
    if challenged <= session.last_challenge {
        return Err(Error::AlreadyAnswered.into());
    }
    let challenge = CHALLENGES
        .get(ext, &challenged)
        .ok_or(Error::UnknownChallenge)?;
    if !challenge.picks(&worker_hash(&worker)) {
        return Err(Error::NotChallenged.into());
    }
    if heartbeat.iterations < session.iterations {
        return Err(Error::IterationsDecreased.into());
    }
    session.last_challenge = challenged;
    session.last_heartbeat_at = now;
    session.iterations = heartbeat.iterations;
    session.heartbeats = session.heartbeats.saturating_add(1);
    SESSIONS.insert(ext, &worker, &session);
    push(
        ext,
        &ComputationEvent::Heartbeat {
            worker,
            challenge_block: challenged,
            iterations: heartbeat.iterations,
            at_ms: timestamp::now(ext),
        },
    )?;
    ext.deposit_event(Event::HeartbeatReceived {
        worker,
        challenge_block: challenged,
        iterations: heartbeat.iterations,
    });
    Ok(())
}

/// Per listed worker a settlement touches its session, the reward pool's, owner's and
/// treasury's balances, and the owner pool's books, which serve up to
/// `stake_pools::SERVE_ON_REWARD` queued withdrawals (two records each); the copy's vote is
/// one more record. Every entry takes
/// at least 32 bytes, which bounds their number before decoding.
pub fn settlement_weight(payload: &[u8]) -> Weight {
    let entries = u64::try_from(payload.len() / 32)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let serve = u64::try_from(crate::modules::stake_pools::SERVE_ON_REWARD)
        .unwrap_or(u64::MAX)
        .saturating_mul(2);
    weights::reads_writes(
        entries
            .saturating_mul(serve.saturating_add(6))
            .saturating_add(5),
        entries
            .saturating_mul(serve.saturating_add(5))
            .saturating_add(3),
    )
}

/// A gatekeeper's settlement of one block: the first is applied, identical copies are
/// ignored, and a differing copy is recorded as a fault.
pub fn on_settlement<H: Hooks>(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    if !registry::is_gatekeeper(ext, &sender) {
        return Err(Error::NotGatekeeper.into());
    }
    let settlement = Settlement::decode_all_with_depth_limit(4, &mut &payload[..])
        .map_err(|_| Error::BadMessage)?;
    if !settlement.within_bounds() {
        return Err(Error::BadMessage.into());
    }
    let now = system::block_number(ext);
    let block = settlement.block;
    if block >= now {
        return Err(Error::SettlementOutOfRange.into());
    }
    let digest = H256(phala_primitives::hashing::blake2_256(&settlement.encode()));
    if let Some((applied, applied_from)) = SETTLEMENTS.get(ext, &block) {
        let news = super::faults::record_vote(ext, block, sender, digest);
        if news && applied != digest {
            let faults = SETTLEMENT_FAULTS.get_or_default(ext).saturating_add(1);
            SETTLEMENT_FAULTS.put(ext, &faults);
            // Either this gatekeeper or the first one is faulty; the chain cannot tell
            // which from two copies, so it records both names.
            ext.deposit_event(Event::SettlementMismatch {
                block,
                gatekeeper: sender,
                applied_from,
            });
        }
        return Ok(());
    }
    if block < NEXT_SETTLEMENT.get_or_default(ext) || now.saturating_sub(block) > SETTLEMENT_MEMORY
    {
        return Err(Error::SettlementOutOfRange.into());
    }
    let (paid, skipped) = apply::<H>(ext, &settlement)?;
    NEXT_SETTLEMENT.put(ext, &block.checked_add(1).ok_or(ArithmeticError::Overflow)?);
    SETTLEMENTS.insert(ext, &block, &(digest, sender));
    super::faults::record_vote(ext, block, sender, digest);
    ext.deposit_event(Event::SettlementApplied {
        block,
        gatekeeper: sender,
        paid,
        skipped,
    });
    Ok(())
}

fn computing(ext: &Ext, worker: &[u8; 32]) -> Option<Session> {
    SESSIONS
        .get(ext, worker)
        .filter(|s| matches!(s.state, WorkerState::Idle | WorkerState::Unresponsive))
}

/// Applies every entry the chain can confirm and skips the rest (returning how much was
/// paid and how many were skipped). A settlement arrives blocks after the block it settles,
/// and in between a listed worker may have been stopped or answered again: such an entry is
/// stale, not false, and refusing the whole settlement for it would lose every other
/// worker's payout. Chain and gatekeepers converge on the next heartbeat: a heartbeat proves
/// a worker alive, whatever state the chain had it in.
fn apply<H: Hooks>(
    ext: &mut Ext,
    settlement: &Settlement,
) -> Result<(Balance, u32), DispatchError> {
    let params = params(ext)?;
    let block = settlement.block;
    let mut skipped: u32 = 0;
    // An offline worker was picked by the challenge whose window closed at this block, and
    // has answered nothing since.
    let closed = block
        .checked_sub(params.heartbeat_window)
        .and_then(|c| CHALLENGES.get(ext, &c).map(|ch| (c, ch)));
    for WorkerValue { worker, v } in &settlement.offline {
        let confirmed = match (computing(ext, worker), &closed) {
            (Some(session), Some((c, ch))) => (session.state == WorkerState::Idle
                && session.started_at < *c
                && session.last_challenge < *c
                && ch.picks(&worker_hash(worker)))
            .then_some(session),
            _ => None,
        };
        let Some(mut session) = confirmed else {
            skipped = skipped.saturating_add(1);
            continue;
        };
        session.state = WorkerState::Unresponsive;
        session.v = *v;
        session.missed = session.missed.saturating_add(1);
        // Blocks spent unresponsive earn nothing: the next payout counts from here.
        session.last_paid_at = block;
        SESSIONS.insert(ext, worker, &session);
        ext.deposit_event(Event::WorkerUnresponsive { worker: *worker });
    }
    for worker in &settlement.recovered {
        match computing(ext, worker) {
            Some(mut session)
                if session.state == WorkerState::Unresponsive
                    && session.last_heartbeat_at >= block =>
            {
                session.state = WorkerState::Idle;
                SESSIONS.insert(ext, worker, &session);
                ext.deposit_event(Event::WorkerRecovered { worker: *worker });
            }
            _ => skipped = skipped.saturating_add(1),
        }
    }
    let budget = params.budget_at(block).map_err(|_| Error::Overflow)?;
    let mut total: Balance = 0;
    let resumed_at = super::HEARTBEAT_RESUMED_AT.get_or_default(ext);
    for WorkerPayout { worker, v, payout } in &settlement.paid {
        let Some(mut session) = computing(ext, worker)
            .filter(|s| s.last_heartbeat_at >= block && s.last_paid_at < block)
        else {
            skipped = skipped.saturating_add(1);
            continue;
        };
        // However a gatekeeper computes, a heartbeat earns at most the whole budget of
        // the blocks it covers: a faulty one cannot drain the reward pool.
        // Paused blocks pay nothing (gatekeepers restart every payout clock at a resume).
        let since = session.last_paid_at.max(resumed_at);
        let blocks = block.saturating_sub(since);
        let cap = budget
            .checked_mul(phala_tokenomics::Fixed::from_num(blocks))
            .map(pha_to_plancks);
        if cap.is_none_or(|cap| *payout > cap) {
            skipped = skipped.saturating_add(1);
            continue;
        }
        if session.state == WorkerState::Unresponsive {
            // It answered: alive, whatever the chain last concluded.
            session.state = WorkerState::Idle;
            ext.deposit_event(Event::WorkerRecovered { worker: *worker });
        }
        session.v = *v;
        session.last_paid_at = block;
        let paid = pay::<H>(ext, worker, &mut session, *payout, &params);
        total = total.checked_add(paid).ok_or(ArithmeticError::Overflow)?;
        SESSIONS.insert(ext, worker, &session);
    }
    Ok((total, skipped))
}

/// Pays what the reward pool can of `payout`: the treasury's share to the treasury, the
/// rest to the session's owner. Returns what left the reward pool.
fn pay<H: Hooks>(
    ext: &mut Ext,
    worker: &[u8; 32],
    session: &mut Session,
    payout: Balance,
    params: &phala_tokenomics::Params,
) -> Balance {
    // Whatever gatekeepers settle, all payouts together never exceed the budget accrued
    // while anyone computed: a faulty settlement cannot pay out tomorrow's budget today.
    let budget_left = super::budget_left(ext, params);
    let available = balances::reducible_balance(ext, &REWARD_POOL_ACCOUNT, true);
    let amount = payout.min(available).min(budget_left);
    if amount < payout {
        let unpaid = payout.saturating_sub(amount);
        ext.deposit_event(if amount == available {
            Event::RewardPoolExhausted {
                worker: *worker,
                unpaid,
            }
        } else {
            Event::BudgetExceeded {
                worker: *worker,
                unpaid,
            }
        });
    }
    if amount == 0 {
        return 0;
    }
    let split = split_payout(params, amount);
    let owner = session.owner;
    let moved = ext.transactional(|ext| -> DispatchResult {
        balances::transfer(ext, &REWARD_POOL_ACCOUNT, &owner, split.pool, true)?;
        balances::transfer(
            ext,
            &REWARD_POOL_ACCOUNT,
            &TREASURY_ACCOUNT,
            split.treasury,
            true,
        )
    });
    if moved.is_err() {
        // Only a treasury share below the existential deposit of a treasury that does not
        // exist can fail here: the payout is skipped, never half made.
        ext.deposit_event(Event::RewardPoolExhausted {
            worker: *worker,
            unpaid: amount,
        });
        return 0;
    }
    BUDGET_LEFT.put(ext, &budget_left.saturating_sub(amount));
    session.total_reward = session.total_reward.saturating_add(split.pool);
    H::on_reward(ext, &owner, worker, split.pool);
    ext.deposit_event(Event::WorkerRewarded {
        worker: *worker,
        owner,
        pool: split.pool,
        treasury: split.treasury,
        v: session.v,
    });
    amount
}
