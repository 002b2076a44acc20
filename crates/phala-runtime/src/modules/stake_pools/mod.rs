//! `StakePools`: pools that stake their delegators' PHA on workers and share the rewards.
//!
//! A pool has an owner (who runs its workers), a commission on rewards, an optional cap,
//! and an account of its own holding the delegators' PHA: free while not staked, reserved
//! (by `Computation`) while a worker computes with it. Delegators hold shares; the pool's
//! value is its free stake plus its workers' stakes, so rewards (after commission) raise
//! the share price and slashes lower it.
//!
//! Withdrawals are paid at once from free stake, otherwise queued FIFO and paid as stake
//! comes free (contributions, rewards, reclaimed stake). A request still unpaid after the
//! grace period makes the pool stop enough workers to pay it: unlike classic Phala's, a
//! withdrawal can be slow but never stuck.
//!
//! Every conversion rounds against the caller (shares down on contributing, value down on
//! withdrawing), so rounding never creates PHA; what it leaves stays in the pool.

mod accounts;
mod calls;
mod errors;
mod events;
#[cfg(test)]
mod tests;

pub use accounts::{Pool, Withdrawal};
pub use calls::Call;
pub use errors::Error;
pub use events::Event;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{balances, computation, system};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "StakePools";

/// Pool shares: 12 decimals, like PHA, which a share is worth until the price moves (named
/// so metadata tells people's tools what the number is).
pub type Shares = Balance;
pub use phala_tokenomics::Perbill;

/// Workers one pool may have.
pub const MAX_WORKERS: usize = 200;
/// Withdrawal requests waiting in one pool.
pub const MAX_QUEUE: usize = 1024;
/// Pools whose grace period ends at one block.
pub const MAX_DEADLINES_PER_BLOCK: usize = 64;
/// Blocks after a full one a deadline may move to.
const DEADLINE_SPREAD: BlockNumber = 64;

/// The module's chain parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Params {
    /// Blocks a withdrawal may wait before the pool stops workers to pay it.
    pub withdraw_grace: BlockNumber,
}

pub const PARAMS: StorageValue<Params> = StorageValue::new(
    MODULE,
    "Params",
    Query::Default,
    &[" The withdrawal grace period."],
);
pub const POOL_COUNT: StorageValue<u64> = StorageValue::new(
    MODULE,
    "PoolCount",
    Query::Default,
    &[" Pools created: the next pool's id."],
);
pub const POOLS: StorageMap<u64, Pool> = StorageMap::new(
    MODULE,
    "Pools",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Pools by id."],
);
pub const STAKERS: StorageMap<(u64, AccountId32), Balance> = StorageMap::new(
    MODULE,
    "Stakers",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" Each delegator's shares in each pool."],
);
pub const WORKER_POOL: StorageMap<[u8; 32], u64> = StorageMap::new(
    MODULE,
    "WorkerPool",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The pool each worker belongs to."],
);
pub const WITHDRAW_DEADLINES: StorageMap<BlockNumber, Vec<u64>> = StorageMap::new(
    MODULE,
    "WithdrawDeadlines",
    Hasher::Twox64Concat,
    Query::Default,
    &[" Pools whose oldest withdrawal's grace period ends at a block."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        PARAMS.metadata(),
        POOL_COUNT.metadata(),
        POOLS.metadata(),
        STAKERS.metadata(),
        WORKER_POOL.metadata(),
        WITHDRAW_DEADLINES.metadata(),
    ]
}

/// A pool's own account, as Substrate derives a sub-account of a `PalletId`:
/// `"modl" ‖ "phala/sp" ‖ SCALE(pid) ‖ zero padding`.
pub fn pool_account(pid: u64) -> AccountId32 {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(b"modl");
    bytes[4..12].copy_from_slice(b"phala/sp");
    bytes[12..20].copy_from_slice(&pid.to_le_bytes());
    AccountId32(bytes)
}

/// The pool an account is the account of, if it is one.
pub fn pool_of_account(account: &AccountId32) -> Option<u64> {
    let bytes = &account.0;
    if bytes.get(..12)? != b"modlphala/sp" || bytes.get(20..)?.iter().any(|b| *b != 0) {
        return None;
    }
    let mut pid = [0u8; 8];
    pid.copy_from_slice(bytes.get(12..20)?);
    Some(u64::from_le_bytes(pid))
}

pub fn pool(ext: &Ext, pid: u64) -> Option<Pool> {
    POOLS.get(ext, &pid)
}

/// Queued withdrawals served per call: a reward (one per paid heartbeat in a settlement)
/// serves a few, a delegator's or owner's call more; what is left waits for the next.
pub const SERVE_ON_REWARD: usize = 4;
pub const SERVE_ON_CALL: usize = 64;

/// Pays what free stake allows of the queued withdrawals, oldest first, at most `limit`
/// of them. A request the free stake covers only in part is paid in part and keeps its
/// place. A request that cannot be paid at all (its account cannot receive it) is dropped,
/// its shares kept: one account must never hold up the queue.
fn serve_queue(ext: &mut Ext, pid: u64, pool: &mut Pool, limit: usize) {
    let account = pool_account(pid);
    for _ in 0..limit {
        let Some(head) = pool.withdraw_queue.first().cloned() else {
            return;
        };
        let held = STAKERS.get_or_default(ext, &(pid, head.who));
        let wanted = head.shares.min(held);
        let (shares, value) = if pool.total_value == 0 {
            // A pool slashed to nothing: its shares are worth nothing; clear them.
            (wanted, 0)
        } else {
            pool.payable(wanted)
        };
        if wanted > 0 && (shares == 0 || (value == 0 && pool.total_value > 0)) {
            // Nothing free yet (or less than a planck's worth): wait.
            return;
        }
        let mut books = pool.clone();
        let paid = ext.transactional(|ext| -> DispatchResult {
            books.burn(shares, value)?;
            if value > 0 {
                balances::transfer(ext, &account, &head.who, value, true)?;
            }
            STAKERS.insert(ext, &(pid, head.who), &held.saturating_sub(shares));
            Ok(())
        });
        if paid.is_err() {
            pool.withdraw_queue.remove(0);
            ext.deposit_event(Event::WithdrawalDropped {
                pid,
                who: head.who,
                shares: wanted,
            });
            continue;
        }
        *pool = books;
        if shares > 0 {
            ext.deposit_event(Event::Withdrawn {
                pid,
                who: head.who,
                shares,
                amount: value,
            });
        }
        if shares < wanted {
            if let Some(first) = pool.withdraw_queue.first_mut() {
                first.shares = wanted.saturating_sub(shares);
            }
            return;
        }
        pool.withdraw_queue.remove(0);
    }
}

fn put(ext: &mut Ext, pid: u64, pool: &Pool) {
    POOLS.insert(ext, &pid, pool);
}

/// Block start: pools whose oldest withdrawal outwaited its grace period stop workers to
/// pay it. O(pools with a deadline now).
pub fn on_initialize(ext: &mut Ext, number: BlockNumber) {
    let due = WITHDRAW_DEADLINES.get_or_default(ext, &number);
    if due.is_empty() {
        return;
    }
    WITHDRAW_DEADLINES.remove(ext, &number);
    let grace = PARAMS.get_or_default(ext).withdraw_grace;
    for pid in due {
        let _ = ext.transactional(|ext| force_withdrawals(ext, pid, number, grace));
    }
}

/// Stops workers, smallest stake first, until the stake they will release (with the free
/// stake) covers every withdrawal that waited past its grace period.
fn force_withdrawals(
    ext: &mut Ext,
    pid: u64,
    now: BlockNumber,
    grace: BlockNumber,
) -> DispatchResult {
    let Some(pool) = POOLS.get(ext, &pid) else {
        return Ok(());
    };
    let mut owed: Balance = 0;
    for w in &pool.withdraw_queue {
        if w.requested_at.saturating_add(grace) > now {
            break;
        }
        let held = STAKERS.get_or_default(ext, &(pid, w.who));
        owed = owed.saturating_add(pool.value_of(w.shares.min(held)));
    }
    let mut coming = pool.free_stake;
    // Stake already cooling down is on its way.
    let mut computing = Vec::new();
    for worker in &pool.workers {
        if let Some(s) = computation::session(ext, worker) {
            match s.state {
                computation::WorkerState::CoolingDown => coming = coming.saturating_add(s.stake),
                computation::WorkerState::Idle | computation::WorkerState::Unresponsive => {
                    computing.push((s.stake, *worker))
                }
                computation::WorkerState::Ready => {}
            }
        }
    }
    computing.sort();
    let account = pool_account(pid);
    for (stake, worker) in computing {
        if coming >= owed {
            break;
        }
        computation::stop(ext, &worker, &account)?;
        coming = coming.saturating_add(stake);
        ext.deposit_event(Event::WorkerStoppedForWithdrawal { pid, worker });
    }
    Ok(())
}

/// Remembers that `pid` must be checked when a withdrawal queued now outwaits the grace:
/// at that block, or the first of the next few with room (pools cannot crowd a request
/// out of its deadline).
fn schedule_deadline(ext: &mut Ext, pid: u64) {
    let grace = PARAMS.get_or_default(ext).withdraw_grace;
    let first = system::block_number(ext).saturating_add(grace.max(1));
    for at in first..first.saturating_add(DEADLINE_SPREAD) {
        let mut due = WITHDRAW_DEADLINES.get_or_default(ext, &at);
        if due.contains(&pid) {
            return;
        }
        if due.len() < MAX_DEADLINES_PER_BLOCK {
            due.push(pid);
            WITHDRAW_DEADLINES.insert(ext, &at, &due);
            return;
        }
    }
}

/// `Computation` paid `amount` into a pool's account: commission to the owner's claimable
/// reward, the rest to the delegators' value.
pub fn on_reward(ext: &mut Ext, account: &AccountId32, amount: Balance) {
    let Some(pid) = pool_of_account(account) else {
        return;
    };
    let Some(mut pool) = POOLS.get(ext, &pid) else {
        return;
    };
    pool.apply_due_commission(system::block_number(ext));
    let commission = pool.add_reward(amount);
    serve_queue(ext, pid, &mut pool, SERVE_ON_REWARD);
    put(ext, pid, &pool);
    ext.deposit_event(Event::RewardReceived {
        pid,
        to_delegators: amount.saturating_sub(commission),
        commission,
    });
}

/// `Computation` slashed `amount` of a worker's stake out of a pool's account.
pub fn on_slashed(ext: &mut Ext, account: &AccountId32, amount: Balance) {
    let Some(pid) = pool_of_account(account) else {
        return;
    };
    let Some(mut pool) = POOLS.get(ext, &pid) else {
        return;
    };
    pool.slash(amount);
    put(ext, pid, &pool);
    ext.deposit_event(Event::PoolSlashed { pid, amount });
}

/// Genesis: the withdrawal grace period.
pub(crate) fn build_genesis(ext: &mut Ext, params: &Params) {
    PARAMS.put(ext, params);
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "StakePools",
        index: crate::modules::index::STAKE_POOLS,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Stake pools: delegators' shares, workers' stakes, rewards and withdrawals.",
    }
}
