//! The chain spec's `computation` section: the economics as people write them (decimals
//! per hour, day or year; seconds), converted with the spec's block time into the
//! per-block parameters the runtime stores.

use phala_runtime::modules::stake_pools;
use phala_tokenomics::{Economics, Params, parse_decimal};
use serde::{Deserialize, Serialize};

use crate::spec::SpecError;

/// Classic Phala's economics, with its 7-day cooldown and withdrawal grace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ComputationSpec {
    pub rho_per_hour: String,
    pub slash_per_hour: String,
    /// PHA for all workers per day.
    pub budget_per_day: String,
    pub budget_decay: String,
    pub budget_decay_days: u32,
    /// The treasury's share of each payout (at most 9 decimal places).
    pub treasury_share: String,
    pub re: String,
    pub k: String,
    pub rig_k: String,
    pub cost_k_per_year: String,
    pub cost_b_per_year: String,
    pub v_max: String,
    /// Confidence factor of levels 1 to 5 (a simulated TEE counts as 5).
    pub confidence: [String; 5],
    pub min_initial_score: u32,
    /// Blocks a challenged worker has to answer.
    pub heartbeat_window: u32,
    pub challenges_per_block: u32,
    pub challenges_per_worker_hour: u32,
    pub cooldown_secs: u64,
    /// How long a pool's withdrawal may wait before the pool stops workers to pay it.
    pub withdraw_grace_secs: u64,
    /// Share of a session's stake a proven double signing costs (at most 9 decimal places).
    pub double_sign_slash: String,
}

const WEEK_SECS: u64 = 7 * 24 * 3600;

impl Default for ComputationSpec {
    fn default() -> Self {
        ComputationSpec {
            rho_per_hour: "1.0002".into(),
            slash_per_hour: "0.001".into(),
            budget_per_day: "720000".into(),
            budget_decay: "0.75".into(),
            budget_decay_days: 180,
            treasury_share: "0.2".into(),
            re: "1.3".into(),
            k: "100".into(),
            rig_k: "0.3".into(),
            cost_k_per_year: "0.0415625".into(),
            cost_b_per_year: "88.59375".into(),
            v_max: "30000".into(),
            confidence: ["1", "1", "1", "0.8", "0.7"].map(String::from),
            min_initial_score: 50,
            heartbeat_window: 10,
            challenges_per_block: 20,
            challenges_per_worker_hour: 2,
            cooldown_secs: WEEK_SECS,
            withdraw_grace_secs: WEEK_SECS,
            double_sign_slash: "0.1".into(),
        }
    }
}

fn decimal(field: &str, text: &str) -> Result<phala_tokenomics::Fixed, SpecError> {
    parse_decimal(text).map_err(|e| SpecError::Invalid(format!("computation.{field}: {e}")))
}

/// `"0.2"` → 200,000,000 parts per billion, exactly.
fn perbill(field: &str, text: &str) -> Result<u32, SpecError> {
    fraction(&format!("computation.{field}"), text)
}

/// A decimal between 0 and 1 with at most 9 places, as parts per billion; the error
/// names `path`, the field's place in the spec.
pub(crate) fn fraction(path: &str, text: &str) -> Result<u32, SpecError> {
    let bad = || {
        SpecError::Invalid(format!(
            "{path} {text:?} is not a decimal between 0 and 1 with at most 9 places"
        ))
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u32 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return Err(bad()),
    };
    let fraction: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().map_err(|_| bad())?
    };
    let parts = whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(fraction))
        .filter(|p| *p <= 1_000_000_000)
        .ok_or_else(bad)?;
    Ok(parts)
}

impl ComputationSpec {
    /// Development chains: everything classic, but workers are challenged every ten
    /// seconds or so (rather than twice an hour) and a stopped worker's stake and a stuck
    /// withdrawal come back within minutes, so a tour of the economy fits a coffee.
    pub fn dev() -> Self {
        ComputationSpec {
            challenges_per_worker_hour: 360,
            cooldown_secs: 60,
            withdraw_grace_secs: 120,
            ..Default::default()
        }
    }

    pub fn economics(&self) -> Result<Economics, SpecError> {
        let mut conf = [phala_tokenomics::Fixed::ZERO; 5];
        for (slot, text) in conf.iter_mut().zip(&self.confidence) {
            *slot = decimal("confidence", text)?;
        }
        Ok(Economics {
            rho_per_hour: decimal("rhoPerHour", &self.rho_per_hour)?,
            slash_per_hour: decimal("slashPerHour", &self.slash_per_hour)?,
            budget_per_day: decimal("budgetPerDay", &self.budget_per_day)?,
            budget_decay: decimal("budgetDecay", &self.budget_decay)?,
            budget_decay_days: self.budget_decay_days,
            treasury_perbill: perbill("treasuryShare", &self.treasury_share)?,
            re: decimal("re", &self.re)?,
            k: decimal("k", &self.k)?,
            rig_k: decimal("rigK", &self.rig_k)?,
            cost_k_per_year: decimal("costKPerYear", &self.cost_k_per_year)?,
            cost_b_per_year: decimal("costBPerYear", &self.cost_b_per_year)?,
            v_max: decimal("vMax", &self.v_max)?,
            conf,
            min_init_p: self.min_initial_score,
            heartbeat_window: self.heartbeat_window,
            challenges_per_block: self.challenges_per_block,
            challenges_per_worker_hour: self.challenges_per_worker_hour,
            cooldown_secs: self.cooldown_secs,
        })
    }

    /// The per-block parameters at `block_ms`.
    pub fn params(&self, block_ms: u64) -> Result<Params, SpecError> {
        Params::from_economics(&self.economics()?, block_ms)
            .map_err(|e| SpecError::Invalid(format!("computation: {e}")))
    }

    /// Parts per billion of a session's stake a proven double signing costs.
    pub fn double_sign_slash(&self) -> Result<u32, SpecError> {
        perbill("doubleSignSlash", &self.double_sign_slash)
    }

    pub fn stake_pools(&self, block_ms: u64) -> stake_pools::Params {
        let blocks = self
            .withdraw_grace_secs
            .saturating_mul(1000)
            .div_ceil(block_ms.max(1));
        stake_pools::Params {
            withdraw_grace: u32::try_from(blocks).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_section_is_classic_phala_at_the_specs_block_time() {
        let spec = ComputationSpec::default();
        let p = spec.params(12_000).unwrap();
        assert_eq!(
            p,
            Params::from_economics(&Economics::default(), 12_000).unwrap()
        );
        assert_eq!(spec.stake_pools(6_000).withdraw_grace, 100_800);
        assert_eq!(ComputationSpec::dev().params(1_000).unwrap().cooldown, 60);
        assert_eq!(
            spec.double_sign_slash().unwrap(),
            phala_runtime::genesis::DEFAULT_DOUBLE_SIGN_SLASH
        );
    }

    #[test]
    fn shares_and_decimals_are_checked_with_the_field_named() {
        assert_eq!(perbill("x", "0.2").unwrap(), 200_000_000);
        assert_eq!(perbill("x", "1").unwrap(), 1_000_000_000);
        assert_eq!(perbill("x", "0.000000001").unwrap(), 1);
        for bad in ["1.5", "2", "-0.1", "0.1234567891", "0.x", "", "."] {
            assert!(perbill("x", bad).is_err(), "{bad}");
        }
        let spec = ComputationSpec {
            rho_per_hour: "1,0002".into(),
            ..Default::default()
        };
        let e = spec.params(1000).unwrap_err().to_string();
        assert!(e.contains("computation.rhoPerHour"), "{e}");
        let spec = ComputationSpec {
            heartbeat_window: 0,
            ..Default::default()
        };
        assert!(spec.params(1000).is_err());
    }
}
