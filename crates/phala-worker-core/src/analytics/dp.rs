//! Differential privacy for analytics answers: exact discrete Laplace noise and the daily ε
//! budget each member keeps per site.
//!
//! The sampler is Canonne, Kamath and Steinke's (NeurIPS 2020, Algorithm 2): integers only,
//! Bernoulli trials from uniform integers of a CSPRNG, so none of the floating-point leaks of
//! the textbook sampler (Mironov 2012). `P(Z = z) ∝ exp(-|z|·s/t)`: scale `t/s`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use parity_scale_codec::{Decode, Encode};

use super::DAY_MS;

/// A uniform integer in `0..n` (`n > 0`), by rejection.
fn uniform(rng: &mut impl rand_core::CryptoRng, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    // The largest multiple of n that fits: draws at or above it are rejected.
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// Bernoulli(num/den), `num <= den`, `den > 0`.
fn bernoulli(rng: &mut impl rand_core::CryptoRng, num: u64, den: u64) -> bool {
    uniform(rng, den) < num
}

/// Bernoulli(exp(-num/den)) for `num/den` in [0, 1].
fn bernoulli_exp_le1(rng: &mut impl rand_core::CryptoRng, num: u64, den: u64) -> bool {
    let mut k: u64 = 1;
    loop {
        // Bernoulli(num / (den·k)): stop at the first failure.
        let Some(d) = den.checked_mul(k) else {
            return k % 2 == 1;
        };
        if !bernoulli(rng, num, d) {
            return k % 2 == 1;
        }
        k = k.saturating_add(1);
    }
}

/// Bernoulli(exp(-num/den)) for any `num/den >= 0`.
fn bernoulli_exp(rng: &mut impl rand_core::CryptoRng, num: u64, den: u64) -> bool {
    let whole = num / den;
    for _ in 0..whole {
        if !bernoulli_exp_le1(rng, 1, 1) {
            return false;
        }
    }
    bernoulli_exp_le1(rng, num % den, den)
}

/// A discrete Laplace sample with scale `t/s` (`s, t > 0`).
pub fn discrete_laplace(rng: &mut impl rand_core::CryptoRng, s: u64, t: u64) -> i64 {
    let (s, t) = (s.max(1), t.max(1));
    loop {
        let u = uniform(rng, t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u64 = 0;
        while bernoulli_exp_le1(rng, 1, 1) {
            v = v.saturating_add(1);
        }
        let x = u.saturating_add(t.saturating_mul(v));
        let y = i64::try_from(x / s).unwrap_or(i64::MAX);
        let negative = bernoulli(rng, 1, 2);
        if negative && y == 0 {
            continue;
        }
        return if negative { -y } else { y };
    }
}

/// Noise for one answer: scale `sensitivity / ε`, with ε in thousandths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noise {
    pub sensitivity: u64,
    pub epsilon_milli: u32,
}

impl Noise {
    /// The scale in thousandths.
    pub fn scale_milli(&self) -> u64 {
        self.sensitivity
            .saturating_mul(1_000_000)
            .checked_div(u64::from(self.epsilon_milli.max(1)))
            .unwrap_or(u64::MAX)
    }

    /// `count` plus noise, never below 0 (clamping a noisy value is post-processing).
    pub fn apply(&self, rng: &mut impl rand_core::CryptoRng, count: u64) -> u64 {
        let noise = discrete_laplace(
            rng,
            u64::from(self.epsilon_milli.max(1)),
            self.sensitivity.saturating_mul(1_000),
        );
        let noisy = i128::from(count).saturating_add(i128::from(noise));
        u64::try_from(noisy.max(0)).unwrap_or(u64::MAX)
    }
}

/// ε spent per site today, by this member (thousandths): (day since 1970, spent).
#[derive(Clone, Debug, Default)]
pub struct SharedLedger(Arc<Mutex<BTreeMap<u64, (u64, u32)>>>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the site's privacy budget for today is spent ({spent} of {budget} thousandths of ε); \
     it renews at 00:00 UTC"
)]
pub struct BudgetSpent {
    pub spent: u32,
    pub budget: u32,
}

impl SharedLedger {
    /// Charges `epsilon` to `site` for the day of `now_ms`; returns what is left, or refuses
    /// (charging nothing) when it would go over `budget`.
    pub fn charge(
        &self,
        site: u64,
        now_ms: u64,
        epsilon: u32,
        budget: u32,
    ) -> Result<u32, BudgetSpent> {
        let day = now_ms / DAY_MS;
        let mut ledger = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = ledger.entry(site).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        let spent = entry.1.saturating_add(epsilon);
        if spent > budget {
            return Err(BudgetSpent {
                spent: entry.1.min(budget),
                budget,
            });
        }
        entry.1 = spent;
        Ok(budget.saturating_sub(spent))
    }

    /// Counts `site`'s whole budget as spent for the day of `now_ms`.
    pub fn exhaust(&self, site: u64, now_ms: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(site, (now_ms / DAY_MS, u32::MAX));
    }

    fn snapshot(&self) -> BTreeMap<u64, (u64, u32)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets closed sites.
    pub fn retain(&self, keep: impl Fn(u64) -> bool) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|site, _| keep(*site));
    }
}

impl PartialEq for SharedLedger {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.snapshot() == other.snapshot()
    }
}

impl Eq for SharedLedger {}

impl Encode for SharedLedger {
    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        self.snapshot().encode_to(dest);
    }
}

impl Decode for SharedLedger {
    fn decode<I: parity_scale_codec::Input>(
        input: &mut I,
    ) -> Result<Self, parity_scale_codec::Error> {
        Ok(SharedLedger(Arc::new(Mutex::new(BTreeMap::decode(input)?))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_laplace_has_the_asked_spread_and_no_bias() {
        let mut rng = commonware_utils::test_rng();
        // Scale 4: variance 2·e^(-1/4)/(1-e^(-1/4))² ≈ 31.5.
        let n = 20_000;
        let samples: Vec<i64> = (0..n).map(|_| discrete_laplace(&mut rng, 1, 4)).collect();
        let mean = samples.iter().sum::<i64>() as f64 / n as f64;
        let var = samples
            .iter()
            .map(|x| (*x as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(mean.abs() < 0.3, "mean {mean}");
        assert!((25.0..38.0).contains(&var), "variance {var}");
        // Symmetric, with zero the most likely value.
        let zeros = samples.iter().filter(|x| **x == 0).count();
        let ones = samples.iter().filter(|x| **x == 1).count();
        let minus = samples.iter().filter(|x| **x == -1).count();
        assert!(zeros > ones && zeros > minus);
        assert!(ones.abs_diff(minus) < n / 50);
    }

    #[test]
    fn the_budget_is_refused_once_spent_and_renews_the_next_day() {
        let ledger = SharedLedger::default();
        assert_eq!(ledger.charge(1, 5, 400, 1_000), Ok(600));
        assert_eq!(ledger.charge(1, 6, 400, 1_000), Ok(200));
        assert_eq!(
            ledger.charge(1, 7, 400, 1_000),
            Err(BudgetSpent {
                spent: 800,
                budget: 1_000
            })
        );
        // Another site has its own.
        assert_eq!(ledger.charge(2, 7, 400, 1_000), Ok(600));
        assert_eq!(ledger.charge(1, DAY_MS + 1, 400, 1_000), Ok(600));
        // It survives the checkpoint.
        let back = SharedLedger::decode(&mut ledger.encode().as_slice()).unwrap();
        assert_eq!(back, ledger);
    }
}
