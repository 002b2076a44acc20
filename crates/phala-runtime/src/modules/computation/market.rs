//! Buyers of compute pay its providers: the gas a contract command used goes to the cluster
//! members that compute in a stake pool, pro rata by the share the economics give them
//! (`√(V² + (2·P·conf)²)`, as a heartbeat's payout is weighed), less the treasury's part of
//! every payout. Members that are not computing take nothing; with none computing, the
//! treasury takes it all, as it took every fee before.

use phala_primitives::Balance;
use phala_tokenomics::{Fixed, mul_div_floor, perbill_floor, share};

use super::{Event, Hooks, SESSIONS, Session, WorkerState, params};
use crate::Ext;
use crate::modules::balances;

/// Pays `amount` (already taken from its payer) to the computing members among `workers`.
/// Returns what it did not place: the treasury's part, rounding, and whatever a pool
/// account could not take. Bounded by the cluster's size.
pub fn pay_providers<H: Hooks>(ext: &mut Ext, workers: &[[u8; 32]], amount: Balance) -> Balance {
    let Ok(params) = params(ext) else {
        return amount;
    };
    let providers: Vec<([u8; 32], Session, u128)> = workers
        .iter()
        .filter_map(|w| {
            let session = SESSIONS.get(ext, w)?;
            if session.state != WorkerState::Idle {
                return None;
            }
            let weight = share(
                Fixed::from_bits(session.v),
                session.p_bench,
                params.conf_of(session.confidence_level),
            )
            .ok()?
            .to_bits();
            (weight > 0).then_some((*w, session, weight))
        })
        .collect();
    let total = providers
        .iter()
        .try_fold(0u128, |sum, (_, _, w)| sum.checked_add(*w));
    let Some(total) = total.filter(|t| *t > 0) else {
        return amount;
    };
    let to_treasury = perbill_floor(amount, params.treasury_perbill);
    let to_providers = amount.saturating_sub(to_treasury);
    let mut placed: Balance = 0;
    for (worker, mut session, weight) in providers {
        let part = mul_div_floor(to_providers, weight, total).unwrap_or(0);
        if part == 0 {
            continue;
        }
        let owner = session.owner;
        if ext
            .transactional(|ext| balances::deposit(ext, &owner, part))
            .is_err()
        {
            continue;
        }
        placed = placed.saturating_add(part);
        session.total_reward = session.total_reward.saturating_add(part);
        SESSIONS.insert(ext, &worker, &session);
        H::on_reward(ext, &owner, &worker, part);
        ext.deposit_event(Event::ComputePaid {
            worker,
            owner,
            amount: part,
        });
    }
    amount.saturating_sub(placed)
}
