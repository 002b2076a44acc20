//! The economics' parameters in two forms: [`Economics`], as people state them (per hour,
//! day or year, whatever the block time), and [`Params`], the per-block values the chain
//! stores and every gatekeeper computes with. The conversion is exact integer arithmetic,
//! so one `Economics` and one block time always give the same `Params` bits.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::{Error, Fixed, div, int, mul, parse_decimal, ratio};

const MS_PER_HOUR: u64 = 3_600_000;
const MS_PER_DAY: u64 = 86_400_000;
const MS_PER_YEAR: u64 = 365 * MS_PER_DAY;

/// The economics as people state them. [`Economics::default`] is classic Phala's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Economics {
    /// V grows by this factor per hour while computing (ρ).
    pub rho_per_hour: Fixed,
    /// Share of V lost per hour while unresponsive.
    pub slash_per_hour: Fixed,
    /// PHA paid to all workers per day.
    pub budget_per_day: Fixed,
    /// The budget is multiplied by this every `budget_decay_days`.
    pub budget_decay: Fixed,
    pub budget_decay_days: u32,
    /// Parts per billion of each payout that go to the treasury (Substrate's `Perbill`):
    /// exact, where a binary fraction of 0.2 would shave a planck off round payouts.
    pub treasury_perbill: u32,
    /// Bonus on V for a better confidence level (`re`).
    pub re: Fixed,
    /// `S_min = k·√P`.
    pub k: Fixed,
    /// PHA of value per unit of score (`C = rig_k·P`).
    pub rig_k: Fixed,
    /// Running cost compensated per unit of score, per year.
    pub cost_k_per_year: Fixed,
    /// Running cost compensated per worker, per year.
    pub cost_b_per_year: Fixed,
    /// V never grows past this.
    pub v_max: Fixed,
    /// Confidence factor for levels 1 to 5; a simulated TEE counts as level 5.
    pub conf: [Fixed; 5],
    /// Lowest benchmark score that may compute.
    pub min_init_p: u32,
    /// Blocks a challenged worker has to answer.
    pub heartbeat_window: u32,
    /// Challenges aimed at per block across all workers.
    pub challenges_per_block: u32,
    /// Most challenges one worker gets per hour (on average).
    pub challenges_per_worker_hour: u32,
    /// Time from `stop_computing` until the stake can be reclaimed.
    pub cooldown_secs: u64,
}

fn dec(text: &str) -> Fixed {
    // Only called on the literals below, which parse_decimal's tests cover.
    parse_decimal(text).unwrap_or(Fixed::ZERO)
}

impl Default for Economics {
    fn default() -> Self {
        Economics {
            rho_per_hour: dec("1.0002"),
            slash_per_hour: dec("0.001"),
            budget_per_day: int(720_000),
            budget_decay: dec("0.75"),
            budget_decay_days: 180,
            treasury_perbill: 200_000_000,
            re: dec("1.3"),
            k: int(100),
            rig_k: dec("0.3"),
            cost_k_per_year: dec("0.0415625"),
            cost_b_per_year: dec("88.59375"),
            v_max: int(30_000),
            conf: [int(1), int(1), int(1), dec("0.8"), dec("0.7")],
            min_init_p: 50,
            heartbeat_window: 10,
            challenges_per_block: 20,
            challenges_per_worker_hour: 2,
            cooldown_secs: 7 * 24 * 3600,
        }
    }
}

/// Why parameters were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError(pub String);

impl core::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamsError {}

impl From<Error> for ParamsError {
    fn from(e: Error) -> Self {
        ParamsError(format!("the parameters cannot be converted: {e}"))
    }
}

/// U64F64 fixed-point bits (`value · 2^64`), as stored on chain: named so metadata tells
/// people's tools how to show the number.
pub type U64F64Bits = u128;
/// Parts per billion.
pub type Perbill = u32;

/// Longest heartbeat window: the chain keeps every challenge of the window in storage.
pub const MAX_HEARTBEAT_WINDOW: u32 = 1_000;

/// The per-block parameters, as stored on chain. Fractional values are U64F64 bits
/// (`value · 2^64`), as classic Phala stored them; read them through the accessors.
/// `Default` is all zeros, which [`Params::check`] refuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct Params {
    /// ρ per block.
    pub rho: U64F64Bits,
    /// Share of V lost per unresponsive block.
    pub slash_rate: U64F64Bits,
    /// PHA paid to all workers per block, before decay.
    pub budget_per_block: U64F64Bits,
    pub budget_decay: U64F64Bits,
    /// Blocks between two budget decays.
    pub budget_decay_interval: u32,
    /// Parts per billion of each payout for the treasury.
    pub treasury_perbill: Perbill,
    pub re: U64F64Bits,
    pub k: U64F64Bits,
    pub rig_k: U64F64Bits,
    /// Per block.
    pub cost_k: U64F64Bits,
    /// Per block.
    pub cost_b: U64F64Bits,
    pub v_max: U64F64Bits,
    pub conf: [U64F64Bits; 5],
    pub min_init_p: u32,
    pub heartbeat_window: u32,
    pub challenges_per_block: u32,
    /// Chance that a given worker is challenged in a given block, at most.
    pub worker_challenge_rate: U64F64Bits,
    /// Blocks from `stop_computing` until `reclaim`.
    pub cooldown: u32,
}

macro_rules! fixed_accessors {
    ($($name:ident),*) => {
        $(
            #[doc = concat!("`", stringify!($name), "` as a number.")]
            pub fn $name(&self) -> Fixed {
                Fixed::from_bits(self.$name)
            }
        )*
    };
}

impl Params {
    fixed_accessors!(
        rho,
        slash_rate,
        budget_per_block,
        budget_decay,
        re,
        k,
        rig_k,
        cost_k,
        cost_b,
        v_max,
        worker_challenge_rate
    );

    /// The per-block parameters of `economics` on a chain with blocks every `block_ms`.
    pub fn from_economics(economics: &Economics, block_ms: u64) -> Result<Params, ParamsError> {
        if block_ms == 0 || block_ms > MS_PER_HOUR {
            return Err(ParamsError(format!(
                "a block time of {block_ms} ms is not between 1 ms and an hour"
            )));
        }
        let e = economics;
        let per_block = |value: Fixed, period_ms: u64| -> Result<Fixed, Error> {
            div(mul(value, int(block_ms))?, int(period_ms))
        };
        let blocks = |ms: u64| -> u32 { u32::try_from(ms.div_ceil(block_ms)).unwrap_or(u32::MAX) };
        let decay_ms = u64::from(e.budget_decay_days).saturating_mul(MS_PER_DAY);
        let params = Params {
            rho: rho_per_block(e.rho_per_hour, block_ms)?.to_bits(),
            slash_rate: per_block(e.slash_per_hour, MS_PER_HOUR)?.to_bits(),
            budget_per_block: per_block(e.budget_per_day, MS_PER_DAY)?.to_bits(),
            budget_decay: e.budget_decay.to_bits(),
            budget_decay_interval: blocks(decay_ms),
            treasury_perbill: e.treasury_perbill,
            re: e.re.to_bits(),
            k: e.k.to_bits(),
            rig_k: e.rig_k.to_bits(),
            cost_k: per_block(e.cost_k_per_year, MS_PER_YEAR)?.to_bits(),
            cost_b: per_block(e.cost_b_per_year, MS_PER_YEAR)?.to_bits(),
            v_max: e.v_max.to_bits(),
            conf: e.conf.map(Fixed::to_bits),
            min_init_p: e.min_init_p,
            heartbeat_window: e.heartbeat_window,
            challenges_per_block: e.challenges_per_block,
            worker_challenge_rate: ratio(
                u64::from(e.challenges_per_worker_hour).saturating_mul(block_ms),
                MS_PER_HOUR,
            )?
            .to_bits(),
            cooldown: blocks(e.cooldown_secs.saturating_mul(1000)),
        };
        params.check()?;
        Ok(params)
    }

    /// Refuses parameters under which the rules stop making sense (V shrinking while
    /// computing, more than the payout to the treasury, a window of no blocks, ...).
    pub fn check(&self) -> Result<(), ParamsError> {
        let one = int(1);
        let fail = |what: &str| Err(ParamsError(what.to_string()));
        if self.rho() < one {
            return fail("rho must be at least 1: V may not shrink while computing");
        }
        if self.slash_rate() >= one {
            return fail("the slash rate per block must be below 1");
        }
        if self.treasury_perbill > 1_000_000_000 {
            return fail("the treasury's share must be at most 1");
        }
        if self.budget_decay() > one {
            return fail("the budget decay must be at most 1");
        }
        if self.re() < one {
            return fail("re must be at least 1");
        }
        if self.conf.iter().any(|c| Fixed::from_bits(*c) > one) {
            return fail("confidence factors must be at most 1");
        }
        if self.worker_challenge_rate() > one {
            return fail("a worker cannot be challenged more than once per block");
        }
        if self.v_max() == Fixed::ZERO {
            return fail("v_max must be above 0");
        }
        if self.heartbeat_window == 0 || self.heartbeat_window > MAX_HEARTBEAT_WINDOW {
            return fail("the heartbeat window must be 1 to 1,000 blocks");
        }
        if self.challenges_per_block == 0 {
            return fail("at least one challenge per block is needed");
        }
        if self.budget_decay_interval == 0 {
            return fail("the budget decay interval must be at least 1 block");
        }
        Ok(())
    }

    /// The confidence factor of a worker's confidence level; a simulated TEE (level 128)
    /// and anything else outside 1..=5 counts as the worst, level 5.
    pub fn conf_of(&self, level: u8) -> Fixed {
        let index = match level {
            1..=5 => usize::from(level - 1),
            _ => 4,
        };
        Fixed::from_bits(self.conf.get(index).copied().unwrap_or(self.conf[4]))
    }

    /// The budget per block at `block`, after its decays.
    pub fn budget_at(&self, block: u32) -> Result<Fixed, Error> {
        let decays = block / self.budget_decay_interval.max(1);
        // decay ≤ 1, so its powers cannot overflow.
        mul(
            self.budget_per_block(),
            pow(self.budget_decay(), u64::from(decays))?,
        )
    }
}

/// `rho_per_hour ^ (block_ms / 1 h)`, the largest U64F64 whose power does not exceed it:
/// found by bisection over exact powers, since there is no float to take the root with.
fn rho_per_block(rho_per_hour: Fixed, block_ms: u64) -> Result<Fixed, Error> {
    let g = gcd(block_ms, MS_PER_HOUR);
    let (num, den) = (block_ms / g, MS_PER_HOUR / g);
    let target = pow(rho_per_hour, num)?;
    let (mut lo, mut hi) = (int(1).min(target), target);
    // Invariant: lo^den ≤ target < (hi + ε)^den.
    while lo < hi {
        let mid_bits = lo.to_bits() + (hi.to_bits() - lo.to_bits()).div_ceil(2);
        let mid = Fixed::from_bits(mid_bits);
        match pow(mid, den) {
            Ok(p) if p <= target => lo = mid,
            _ => hi = Fixed::from_bits(mid_bits - 1),
        }
    }
    Ok(lo)
}

fn pow(base: Fixed, mut exponent: u64) -> Result<Fixed, Error> {
    let mut result = int(1);
    let mut square = base;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul(result, square)?;
        }
        exponent >>= 1;
        if exponent > 0 {
            square = mul(square, square)?;
        }
    }
    Ok(result)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format_fixed;

    #[test]
    fn classic_defaults_at_12_seconds_match_classic_phalas_per_block_values() {
        let p = Params::from_economics(&Economics::default(), 12_000).unwrap();
        // Classic Phala: rho 1.000000666600231 per 12 s block (1.0002 ^ (1/300)).
        assert_eq!(format_fixed(p.rho(), 15), "1.000000666600231");
        // 0.001 / 300.
        assert_eq!(format_fixed(p.slash_rate(), 12), "0.000003333333");
        // 100 PHA per 12 s block.
        assert_eq!(format_fixed(p.budget_per_block(), 12), "100");
        // 0.0415625 / 2,628,000 and 88.59375 / 2,628,000 blocks a year.
        assert_eq!(format_fixed(p.cost_k(), 18), "0.000000015815258752");
        assert_eq!(format_fixed(p.cost_b(), 15), "0.000033711472603");
        assert_eq!(p.budget_decay_interval, 180 * 7200);
        assert_eq!(p.cooldown, 7 * 24 * 300);
        // 2 per hour over 300 blocks an hour.
        assert_eq!(
            format_fixed(p.worker_challenge_rate(), 12),
            "0.006666666667"
        );
    }

    #[test]
    fn rho_per_block_compounds_back_to_rho_per_hour() {
        for block_ms in [1_000, 2_500, 6_000, 12_000, 1_800_000] {
            let p = Params::from_economics(&Economics::default(), block_ms).unwrap();
            let per_hour = pow(p.rho(), MS_PER_HOUR / block_ms).unwrap();
            let back = format_fixed(per_hour, 7);
            assert_eq!(back, "1.0002", "{block_ms}");
        }
    }

    #[test]
    fn nonsense_parameters_are_refused() {
        let e = Economics::default();
        assert!(Params::from_economics(&e, 0).is_err());
        for broken in [
            Economics {
                rho_per_hour: dec("0.99"),
                ..e.clone()
            },
            Economics {
                treasury_perbill: 1_500_000_000,
                ..e.clone()
            },
            Economics {
                heartbeat_window: 0,
                ..e.clone()
            },
            Economics {
                slash_per_hour: int(3600),
                ..e.clone()
            },
            Economics {
                challenges_per_block: 0,
                ..e.clone()
            },
            Economics {
                conf: [int(2); 5],
                ..e.clone()
            },
        ] {
            assert!(
                Params::from_economics(&broken, 1_000).is_err(),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn budget_decays_every_interval_and_simulated_tees_count_as_the_worst_level() {
        let p = Params::from_economics(&Economics::default(), 12_000).unwrap();
        assert_eq!(p.budget_at(0).unwrap(), p.budget_per_block());
        assert_eq!(
            p.budget_at(p.budget_decay_interval - 1).unwrap(),
            p.budget_per_block()
        );
        assert_eq!(
            format_fixed(p.budget_at(p.budget_decay_interval).unwrap(), 6),
            "75"
        );
        assert_eq!(
            format_fixed(p.budget_at(2 * p.budget_decay_interval).unwrap(), 6),
            "56.25"
        );
        assert_eq!(p.conf_of(1), int(1));
        assert_eq!(format_fixed(p.conf_of(4), 3), "0.8");
        assert_eq!(p.conf_of(128), p.conf_of(5));
        assert_eq!(p.conf_of(0), p.conf_of(5));
    }
}
