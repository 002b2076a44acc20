//! The value rules: what a worker must stake, the value V it starts with and how V moves
//! each block, its reward share, and how a payout is sized and split.

use crate::{Error, Fixed, PLANCKS_PER_PHA, Params, add, div, int, mul, sqrt};

impl Params {
    /// The least stake for a worker of benchmark score `p`: `S_min = k·√P`.
    pub fn s_min(&self, p: u32) -> Result<Fixed, Error> {
        mul(self.k(), sqrt(int(u64::from(p)))?)
    }

    /// The value a worker starts computing with: `Ve = (1 + (re−1)·conf)·(S + rig_k·P)`.
    pub fn initial_v(&self, stake: Fixed, p: u32, conf: Fixed) -> Result<Fixed, Error> {
        let bonus = add(int(1), mul(self.re() - int(1), conf)?)?;
        let c = mul(self.rig_k(), int(u64::from(p)))?;
        mul(bonus, add(stake, c)?)
    }

    /// V after one block of computing at instant performance `p_instant` against the
    /// benchmark `p_bench`: `V + (p/p_bench)·((ρ−1)·V + cost_k·p_bench + cost_b)`, at most
    /// `v_max`. A worker above `v_max` (after a parameter change) is not lowered by it.
    pub fn idle_step(&self, v: Fixed, p_instant: u32, p_bench: u32) -> Result<Fixed, Error> {
        let perf = if p_bench == 0 {
            int(1)
        } else {
            div(int(u64::from(p_instant)), int(u64::from(p_bench)))?
        };
        let cost = add(mul(self.cost_k(), int(u64::from(p_bench)))?, self.cost_b())?;
        let growth = add(mul(self.rho() - int(1), v)?, cost)?;
        let next = add(v, mul(perf, growth)?)?;
        Ok(if v >= self.v_max() {
            v
        } else {
            next.min(self.v_max())
        })
    }

    /// V after one unresponsive block: `V − V·slash_rate`.
    pub fn slash_step(&self, v: Fixed) -> Result<Fixed, Error> {
        Ok(v - mul(v, self.slash_rate())?)
    }

    /// The PHA a heartbeat earns: `share/Σshare · budget · blocks`, at most `budget · blocks`.
    pub fn payout(
        &self,
        share: Fixed,
        sum_share: Fixed,
        budget_per_block: Fixed,
        blocks: u32,
    ) -> Result<Fixed, Error> {
        let budget = mul(budget_per_block, int(u64::from(blocks)))?;
        if sum_share == Fixed::ZERO || share == Fixed::ZERO {
            return Ok(Fixed::ZERO);
        }
        // Multiply first: share·budget keeps the precision a small share/Σshare would lose.
        let paid = match share.checked_mul(budget) {
            Some(product) => div(product, sum_share)?,
            None => mul(div(share, sum_share)?, budget)?,
        };
        Ok(paid.min(budget))
    }
}

/// A worker's weight in the reward split: `√(V² + (2·p·conf)²)`.
pub fn share(v: Fixed, p_instant: u32, conf: Fixed) -> Result<Fixed, Error> {
    let perf = mul(int(2u64.saturating_mul(u64::from(p_instant))), conf)?;
    sqrt(add(mul(v, v)?, mul(perf, perf)?)?)
}

/// A payout in plancks, split between the worker's pool and the treasury.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payout {
    pub pool: u128,
    pub treasury: u128,
}

/// Splits `plancks` by the treasury's parts per billion: the treasury's part is rounded
/// down and the pool gets exactly the rest, so the parts always add up to the whole.
pub fn split_payout(params: &Params, plancks: u128) -> Payout {
    let treasury = perbill_floor(plancks, params.treasury_perbill).min(plancks);
    Payout {
        pool: plancks - treasury,
        treasury,
    }
}

/// Splits `amount` pro rata by `weights`, each part rounded down (256-bit intermediates):
/// the parts never add up to more than `amount`, and what rounding leaves is the caller's
/// to place. All zero (or no) weights: nothing is split.
pub fn split_by_weight(amount: u128, weights: &[u128]) -> Vec<u128> {
    let total = weights
        .iter()
        .try_fold(0u128, |sum, w| sum.checked_add(*w))
        .filter(|t| *t > 0);
    weights
        .iter()
        .map(|w| {
            total
                .and_then(|t| crate::mul_div_floor(amount, *w, t))
                .unwrap_or(0)
        })
        .collect()
}

/// `amount · parts / 10^9` rounded down (parts capped at 10^9), without overflow for any
/// u128 amount: Substrate's `Perbill` applied to a balance.
pub fn perbill_floor(amount: u128, parts: u32) -> u128 {
    const BILLION: u128 = 1_000_000_000;
    let parts = u128::from(parts).min(BILLION);
    // amount = q·10^9 + r: q·parts fits (q < 2^98.1, parts < 2^30) and r·parts < 10^18.
    let (q, r) = (amount / BILLION, amount % BILLION);
    q * parts + r * parts / BILLION
}

/// PHA as U64F64 → plancks, rounded down: a payout never pays more than it computed.
pub fn pha_to_plancks(value: Fixed) -> u128 {
    let bits = value.to_bits();
    let whole = (bits >> 64).saturating_mul(PLANCKS_PER_PHA);
    // The fraction (< 2^64) times 10^12 (< 2^40) fits u128.
    let fraction = ((bits & u128::from(u64::MAX)) * PLANCKS_PER_PHA) >> 64;
    whole.saturating_add(fraction)
}

/// Plancks → PHA as U64F64, rounded down; fails past 2^64 PHA (far above the cap).
pub fn plancks_to_pha(plancks: u128) -> Result<Fixed, Error> {
    let whole = plancks / PLANCKS_PER_PHA;
    let rest = plancks % PLANCKS_PER_PHA;
    if whole > u128::from(u64::MAX) {
        return Err(Error::Overflow);
    }
    // rest < 10^12 < 2^40, so rest·2^64 fits u128.
    Ok(Fixed::from_bits(
        (whole << 64) | ((rest << 64) / PLANCKS_PER_PHA),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Economics, format_fixed};
    use proptest::prelude::*;

    fn params() -> Params {
        Params::from_economics(&Economics::default(), 12_000).unwrap()
    }

    /// The worked numbers, with classic Phala's defaults and conf 1.
    #[test]
    fn known_answers_for_stake_and_initial_value() {
        let p = params();
        let one = int(1);
        let s = p.s_min(2000).unwrap();
        assert_eq!(format_fixed(s, 1), "4472.1");
        assert_eq!(
            format_fixed(p.initial_v(s, 2000, one).unwrap(), 1),
            "6593.8"
        );
        // 1.3 · 5072.135954999... = 6593.7767414...
        assert_eq!(
            format_fixed(p.initial_v(s, 2000, one).unwrap(), 6),
            "6593.776741"
        );
        let s = p.s_min(450).unwrap();
        assert_eq!(format_fixed(s, 1), "2121.3");
        assert_eq!(format_fixed(p.initial_v(s, 450, one).unwrap(), 1), "2933.2");
        // A level-5 worker gets less of the bonus: 1 + 0.3·0.7 = 1.21.
        let v5 = p.initial_v(int(1000), 0, p.conf_of(5)).unwrap();
        assert_eq!(format_fixed(v5, 6), "1210");
    }

    #[test]
    fn value_grows_while_computing_and_decays_while_unresponsive() {
        let p = params();
        let v = int(10_000);
        let grown = p.idle_step(v, 2000, 2000).unwrap();
        // (ρ−1)·V = 0.0066660 and the costs 0.0000316 + 0.0000337 per 12 s block.
        assert_eq!(format_fixed(grown - v, 7), "0.0067313");
        // Half the performance, half the growth (to the last bits' rounding).
        let half = p.idle_step(v, 1000, 2000).unwrap() - v;
        assert!(((grown - v) / 2).abs_diff(half) <= Fixed::from_bits(4));
        // Capped at v_max, and a worker already above it is left alone.
        assert_eq!(p.idle_step(p.v_max(), 2000, 2000).unwrap(), p.v_max());
        assert_eq!(p.idle_step(int(40_000), 2000, 2000).unwrap(), int(40_000));
        // 0.1 % an hour: 300 blocks of 12 s.
        let mut slashed = v;
        for _ in 0..300 {
            slashed = p.slash_step(slashed).unwrap();
        }
        assert_eq!(format_fixed(slashed, 1), "9990");
    }

    #[test]
    fn a_heartbeats_payout_is_its_share_of_the_budget_since_the_last_one() {
        let p = params();
        let budget = p.budget_at(0).unwrap();
        let a = share(int(3000), 0, int(1)).unwrap();
        assert_eq!(a, int(3000));
        // √(4000² + (2·1500·1)²) = 5000.
        let b = share(int(4000), 1500, int(1)).unwrap();
        assert_eq!(b, int(5000));
        let sum = a + b;
        // 3000/8000 of 100 PHA a block, over 10 blocks.
        assert_eq!(p.payout(a, sum, budget, 10).unwrap(), int(375));
        assert_eq!(p.payout(b, sum, budget, 10).unwrap(), int(625));
        assert_eq!(p.payout(a, Fixed::ZERO, budget, 10).unwrap(), Fixed::ZERO);
        // A share above the sum (a stale sum) is still bounded by the budget.
        assert_eq!(p.payout(sum, a, budget, 1).unwrap(), budget);
        let split = split_payout(&p, pha_to_plancks(int(375)));
        assert_eq!(split.treasury, 75 * PLANCKS_PER_PHA);
        assert_eq!(split.pool, 300 * PLANCKS_PER_PHA);
    }

    proptest! {
        #[test]
        fn a_split_never_creates_or_loses_a_planck(plancks in any::<u128>(), parts in 0u32..=1_000_000_000) {
            let mut p = params();
            p.treasury_perbill = parts;
            let split = split_payout(&p, plancks);
            prop_assert_eq!(split.pool.checked_add(split.treasury), Some(plancks));
        }

        #[test]
        fn a_weighted_split_never_creates_a_planck_and_leaves_less_than_one_per_part(
            amount in any::<u128>(),
            weights in proptest::collection::vec(0u128..u128::MAX / 64, 0..64),
        ) {
            let parts = split_by_weight(amount, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            let sum = parts.iter().try_fold(0u128, |a, p| a.checked_add(*p));
            prop_assert!(sum.is_some_and(|s| s <= amount));
            if weights.iter().any(|w| *w > 0) {
                let left = amount - sum.unwrap_or(0);
                prop_assert!(left < weights.len() as u128);
            } else {
                prop_assert!(parts.iter().all(|p| *p == 0));
            }
        }

        #[test]
        fn plancks_round_trip_down(plancks in 0u128..=1_000_000_000 * PLANCKS_PER_PHA) {
            let pha = plancks_to_pha(plancks).unwrap();
            let back = pha_to_plancks(pha);
            prop_assert!(back <= plancks && plancks - back <= 1);
        }

        #[test]
        fn payouts_of_all_shares_never_exceed_the_budget(
            shares in proptest::collection::vec(0u64..1_000_000, 1..50),
            blocks in 1u32..100_000,
        ) {
            let p = params();
            let budget = p.budget_at(0).unwrap();
            let shares: Vec<Fixed> = shares.into_iter().map(int).collect();
            let sum = shares.iter().fold(Fixed::ZERO, |a, s| a + *s);
            let paid: u128 = shares
                .iter()
                .map(|s| pha_to_plancks(p.payout(*s, sum, budget, blocks).unwrap()))
                .sum();
            prop_assert!(paid <= pha_to_plancks(budget * int(u64::from(blocks))));
        }

        #[test]
        fn value_steps_never_panic(v in any::<u128>(), p_instant in any::<u32>(), p_bench in any::<u32>()) {
            let p = params();
            let v = Fixed::from_bits(v);
            let _ = p.idle_step(v, p_instant, p_bench);
            let _ = p.slash_step(v);
            let _ = share(v, p_instant, p.conf_of(1));
        }
    }
}
