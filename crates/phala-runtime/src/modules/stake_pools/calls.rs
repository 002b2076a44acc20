use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance};
use scale_info::TypeInfo;

use super::{
    Error, Event, MAX_QUEUE, MAX_WORKERS, PARAMS, POOL_COUNT, POOLS, Pool, SERVE_ON_CALL, STAKERS,
    WORKER_POOL, Withdrawal, pool_account, put, schedule_deadline, serve_queue,
};
use crate::Ext;
use crate::dispatch::{DispatchError, DispatchInfo, DispatchResult, Origin};
use crate::modules::balances::{self, EXISTENTIAL_DEPOSIT};
use crate::modules::{computation, registry, system, weights};

const BILLION: u32 = 1_000_000_000;

/// Calls of the `StakePools` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Create a pool owned by the caller, who pays its account's existential deposit.
    /// `commission` is parts per billion of each reward kept by the owner.
    #[codec(index = 0)]
    create {
        commission: u32,
        cap: Option<Balance>,
    },
    /// Add a worker the caller operates (its registration names the caller) to the pool.
    #[codec(index = 1)]
    add_worker { pid: u64, worker: [u8; 32] },
    /// Remove a Ready worker (not computing, not cooling down) from the pool.
    #[codec(index = 2)]
    remove_worker { pid: u64, worker: [u8; 32] },
    /// Buy shares at the current price.
    #[codec(index = 3)]
    contribute {
        pid: u64,
        #[codec(compact)]
        amount: Balance,
    },
    /// Sell shares: paid at once from free stake, otherwise queued and paid as stake
    /// comes free. A new request replaces the caller's queued one (and goes to the back).
    #[codec(index = 4)]
    withdraw {
        pid: u64,
        #[codec(compact)]
        shares: Balance,
    },
    /// Start a worker computing with `stake` of the pool's free stake (owner).
    #[codec(index = 5)]
    start_computing {
        pid: u64,
        worker: [u8; 32],
        #[codec(compact)]
        stake: Balance,
    },
    /// Stop a worker computing; its stake comes back after the cooldown (owner).
    #[codec(index = 6)]
    stop_computing { pid: u64, worker: [u8; 32] },
    /// Return a cooled-down worker's stake to the pool's free stake (anyone).
    #[codec(index = 7)]
    reclaim { pid: u64, worker: [u8; 32] },
    /// Pay the owner its commission (owner).
    #[codec(index = 8)]
    claim_commission { pid: u64 },
    /// Change the commission (owner): a cut at once, a rise after the withdrawal grace
    /// period.
    #[codec(index = 9)]
    set_commission { pid: u64, commission: u32 },
    /// Change the cap (owner); existing value above it stays.
    #[codec(index = 10)]
    set_cap { pid: u64, cap: Option<Balance> },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let queue = u64::try_from(SERVE_ON_CALL).unwrap_or(u64::MAX);
        let weight = match self {
            Call::create { .. } => weights::reads_writes(3, 4),
            Call::add_worker { .. } | Call::remove_worker { .. } => weights::reads_writes(5, 4),
            // Serving the queue may pay every queued request.
            Call::contribute { .. } | Call::reclaim { .. } => weights::reads_writes(
                queue.saturating_mul(2).saturating_add(6),
                queue.saturating_mul(2).saturating_add(6),
            ),
            Call::withdraw { .. } => weights::reads_writes(
                queue.saturating_mul(2).saturating_add(8),
                queue.saturating_mul(2).saturating_add(8),
            ),
            Call::start_computing { .. } | Call::stop_computing { .. } => {
                weights::reads_writes(8, 6)
            }
            Call::claim_commission { .. } => weights::reads_writes(3, 3),
            Call::set_commission { .. } | Call::set_cap { .. } => weights::reads_writes(1, 1),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        let who = origin.ensure_signed()?;
        match self {
            Call::create { commission, cap } => create(ext, who, commission, cap),
            Call::add_worker { pid, worker } => {
                let mut pool = owned(ext, pid, &who)?;
                let info = registry::worker(ext, &worker).ok_or(Error::WorkerNotInPool)?;
                if info.operator != Some(who) {
                    return Err(Error::NotOperator.into());
                }
                if WORKER_POOL.contains(ext, &worker) {
                    return Err(Error::WorkerInPool.into());
                }
                if pool.workers.len() >= MAX_WORKERS {
                    return Err(Error::TooManyWorkers.into());
                }
                computation::bind(ext, &worker, &pool_account(pid))?;
                pool.workers.push(worker);
                WORKER_POOL.insert(ext, &worker, &pid);
                put(ext, pid, &pool);
                ext.deposit_event(Event::WorkerAdded { pid, worker });
                Ok(())
            }
            Call::remove_worker { pid, worker } => {
                let mut pool = owned(ext, pid, &who)?;
                in_pool(ext, pid, &worker)?;
                computation::unbind(ext, &worker, &pool_account(pid))?;
                pool.workers.retain(|w| *w != worker);
                WORKER_POOL.remove(ext, &worker);
                put(ext, pid, &pool);
                ext.deposit_event(Event::WorkerRemoved { pid, worker });
                Ok(())
            }
            Call::contribute { pid, amount } => {
                let mut pool = POOLS.get(ext, &pid).ok_or(Error::PoolNotFound)?;
                // Less could never be withdrawn (a withdrawal pays at least the existential
                // deposit): it would be stuck in the pool.
                if amount < EXISTENTIAL_DEPOSIT {
                    return Err(Error::ContributionTooSmall.into());
                }
                let shares = pool.contribute(amount)?;
                balances::transfer(ext, &who, &pool_account(pid), amount, true)?;
                let held = STAKERS.get_or_default(ext, &(pid, who));
                let held = held.checked_add(shares).ok_or(Error::CapExceeded)?;
                STAKERS.insert(ext, &(pid, who), &held);
                ext.deposit_event(Event::Contributed {
                    pid,
                    who,
                    amount,
                    shares,
                });
                serve_queue(ext, pid, &mut pool, SERVE_ON_CALL);
                put(ext, pid, &pool);
                Ok(())
            }
            Call::withdraw { pid, shares } => withdraw(ext, pid, who, shares),
            Call::start_computing { pid, worker, stake } => {
                let mut pool = owned(ext, pid, &who)?;
                in_pool(ext, pid, &worker)?;
                pool.stake(stake)?;
                computation::start(ext, &worker, &pool_account(pid), stake)?;
                put(ext, pid, &pool);
                Ok(())
            }
            Call::stop_computing { pid, worker } => {
                owned(ext, pid, &who)?;
                in_pool(ext, pid, &worker)?;
                computation::stop(ext, &worker, &pool_account(pid))
            }
            Call::reclaim { pid, worker } => {
                let mut pool = POOLS.get(ext, &pid).ok_or(Error::PoolNotFound)?;
                in_pool(ext, pid, &worker)?;
                let returned = computation::reclaim(ext, &worker, &pool_account(pid))?;
                pool.unstake(returned)?;
                serve_queue(ext, pid, &mut pool, SERVE_ON_CALL);
                put(ext, pid, &pool);
                Ok(())
            }
            Call::claim_commission { pid } => {
                let mut pool = owned(ext, pid, &who)?;
                let amount = pool.owner_reward;
                if amount == 0 {
                    return Err(Error::NothingToClaim.into());
                }
                pool.owner_reward = 0;
                balances::transfer(ext, &pool_account(pid), &who, amount, true)?;
                put(ext, pid, &pool);
                ext.deposit_event(Event::CommissionClaimed {
                    pid,
                    owner: who,
                    amount,
                });
                Ok(())
            }
            Call::set_commission { pid, commission } => {
                let mut pool = owned(ext, pid, &who)?;
                if commission > BILLION {
                    return Err(Error::BadCommission.into());
                }
                let now = system::block_number(ext);
                pool.apply_due_commission(now);
                if commission <= pool.commission {
                    // A cut is good news for delegators: at once, replacing any rise.
                    pool.commission = commission;
                    pool.pending_commission = None;
                    put(ext, pid, &pool);
                    ext.deposit_event(Event::CommissionSet { pid, commission });
                } else {
                    let from = now.saturating_add(PARAMS.get_or_default(ext).withdraw_grace);
                    pool.pending_commission = Some((commission, from));
                    put(ext, pid, &pool);
                    ext.deposit_event(Event::CommissionScheduled {
                        pid,
                        commission,
                        from,
                    });
                }
                Ok(())
            }
            Call::set_cap { pid, cap } => {
                let mut pool = owned(ext, pid, &who)?;
                pool.cap = cap;
                put(ext, pid, &pool);
                ext.deposit_event(Event::CapSet { pid, cap });
                Ok(())
            }
        }
    }
}

fn owned(ext: &Ext, pid: u64, who: &AccountId32) -> Result<Pool, DispatchError> {
    let pool = POOLS.get(ext, &pid).ok_or(Error::PoolNotFound)?;
    if pool.owner != *who {
        return Err(Error::NotOwner.into());
    }
    Ok(pool)
}

fn in_pool(ext: &Ext, pid: u64, worker: &[u8; 32]) -> DispatchResult {
    if WORKER_POOL.get(ext, worker) != Some(pid) {
        return Err(Error::WorkerNotInPool.into());
    }
    Ok(())
}

fn create(
    ext: &mut Ext,
    owner: AccountId32,
    commission: u32,
    cap: Option<Balance>,
) -> DispatchResult {
    if commission > BILLION {
        return Err(Error::BadCommission.into());
    }
    let pid = POOL_COUNT.get_or_default(ext);
    let next = pid.checked_add(1).ok_or(Error::TooManyPools)?;
    let account = pool_account(pid);
    // The pool's account lives on its creator's existential deposit, never on the
    // delegators' stake.
    balances::transfer(ext, &owner, &account, EXISTENTIAL_DEPOSIT, true)?;
    POOL_COUNT.put(ext, &next);
    put(
        ext,
        pid,
        &Pool {
            owner,
            commission,
            cap,
            ..Default::default()
        },
    );
    ext.deposit_event(Event::PoolCreated {
        pid,
        owner,
        account,
        commission,
    });
    Ok(())
}

fn withdraw(ext: &mut Ext, pid: u64, who: AccountId32, shares: Balance) -> DispatchResult {
    let mut pool = POOLS.get(ext, &pid).ok_or(Error::PoolNotFound)?;
    let held = STAKERS.get_or_default(ext, &(pid, who));
    if shares == 0 || shares > held {
        return Err(Error::InsufficientShares.into());
    }
    // Worth at least the existential deposit: dust requests would crowd the queue.
    if pool.total_value > 0 && pool.value_of(shares) < EXISTENTIAL_DEPOSIT {
        return Err(Error::WithdrawalTooSmall.into());
    }
    pool.withdraw_queue.retain(|w| w.who != who);
    if pool.withdraw_queue.len() >= MAX_QUEUE {
        return Err(Error::TooManyWithdrawals.into());
    }
    let now = system::block_number(ext);
    // Behind everyone already waiting: the queue is paid in order.
    pool.withdraw_queue.push(Withdrawal {
        who,
        shares,
        requested_at: now,
    });
    serve_queue(ext, pid, &mut pool, SERVE_ON_CALL);
    if let Some(left) = pool.withdraw_queue.iter().find(|w| w.who == who) {
        ext.deposit_event(Event::WithdrawalQueued {
            pid,
            who,
            shares: left.shares,
        });
        schedule_deadline(ext, pid);
    }
    put(ext, pid, &pool);
    Ok(())
}
