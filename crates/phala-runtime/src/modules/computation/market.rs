//! Buyers of compute pay its providers: the gas a cluster's contract commands paid the
//! treasury is shared with the cluster's members that compute in a stake pool, pro rata by
//! the share the economics give them (`√(V² + (2·P·conf)²)`, as a heartbeat's payout is
//! weighed), less the treasury's part of every payout. Members that are not computing take
//! nothing; with none computing, the treasury keeps it all, as it kept every fee before.

use phala_primitives::Balance;
use phala_tokenomics::{Fixed, perbill_floor, share, split_by_weight};

use super::{Event, Hooks, SESSIONS, Session, WorkerState, params};
use crate::Ext;
use crate::modules::{TREASURY_ACCOUNT, balances};

/// Pays the computing members among `workers` their part of `revenue` out of the treasury.
/// Returns what it paid; a part the treasury cannot pay (it spent the money meanwhile)
/// stays unpaid. Bounded by the cluster's size.
pub fn pay_providers<H: Hooks>(ext: &mut Ext, workers: &[[u8; 32]], revenue: Balance) -> Balance {
    let Ok(params) = params(ext) else {
        return 0;
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
    if providers.is_empty() {
        return 0;
    }
    let to_providers = revenue.saturating_sub(perbill_floor(revenue, params.treasury_perbill));
    let weights: Vec<u128> = providers.iter().map(|(_, _, w)| *w).collect();
    let parts = split_by_weight(to_providers, &weights);
    let mut paid: Balance = 0;
    for ((worker, mut session, _), part) in providers.into_iter().zip(parts) {
        if part == 0 {
            continue;
        }
        let owner = session.owner;
        if ext
            .transactional(|ext| balances::transfer(ext, &TREASURY_ACCOUNT, &owner, part, true))
            .is_err()
        {
            continue;
        }
        paid = paid.saturating_add(part);
        session.total_reward = session.total_reward.saturating_add(part);
        SESSIONS.insert(ext, &worker, &session);
        H::on_reward(ext, &owner, &worker, part);
        ext.deposit_event(Event::ComputePaid {
            worker,
            owner,
            amount: part,
        });
    }
    paid
}
