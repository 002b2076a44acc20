//! The chain spec's `governance` section: the referendum tracks, deposits and periods.
//! Periods are written in seconds and converted with the spec's block time. Left out, a
//! development chain decides in seconds (a referendum passes within half a minute) and a
//! live one in days, after Polkadot's OpenGov.

use phala_runtime::arith::{FixedI64, Perbill};
use phala_runtime::modules::referenda::{Curve, GovernanceParams, TrackInfo};
use phala_runtime::modules::treasury;
use phala_runtime::origin::GovOrigin;
use serde::{Deserialize, Serialize};

use crate::spec::SpecError;
use crate::spec_computation::fraction;

/// A chain's governance rules as written in its spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GovernanceSpec {
    /// Planck held from every referendum's submitter.
    pub submission_deposit: String,
    /// How long a referendum may wait to be decided before it times out.
    pub undeciding_timeout_secs: u64,
    /// One conviction-lock period (Locked1x locks one, Locked6x thirty-two).
    pub vote_locking_period_secs: u64,
    pub tracks: Vec<TrackSpec>,
    /// The treasury's rules; left out, the defaults for the chain's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treasury: Option<TreasurySpec>,
}

/// The treasury's spend period, burn rate, payout period and spending limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TreasurySpec {
    /// How often queued `spendLocal` awards are paid (and the rest burnt).
    pub spend_period_secs: u64,
    /// Share of the unspent pot burnt each spend period (a decimal; "0" rolls it over).
    pub burn: String,
    /// How long an approved `spend` may be paid out.
    pub payout_period_secs: u64,
    /// Planck each spending origin may approve at once: keys `treasurer`,
    /// `smallSpender`, `mediumSpender`, `bigSpender`.
    pub limits: std::collections::BTreeMap<String, String>,
}

const SPENDERS: [(&str, GovOrigin); 4] = [
    ("treasurer", GovOrigin::Treasurer),
    ("smallSpender", GovOrigin::SmallSpender),
    ("mediumSpender", GovOrigin::MediumSpender),
    ("bigSpender", GovOrigin::BigSpender),
];

impl TreasurySpec {
    pub fn from_params(p: &treasury::Params, block_ms: u64) -> Self {
        TreasurySpec {
            spend_period_secs: secs(p.spend_period, block_ms),
            burn: show_per(p.burn),
            payout_period_secs: secs(p.payout_period, block_ms),
            limits: p
                .limits
                .iter()
                .filter_map(|(origin, limit)| {
                    let name = SPENDERS.iter().find(|(_, o)| o == origin)?.0;
                    Some((name.to_string(), limit.to_string()))
                })
                .collect(),
        }
    }

    pub fn params(&self, block_ms: u64) -> Result<treasury::Params, SpecError> {
        let limits = self
            .limits
            .iter()
            .map(|(name, limit)| {
                let origin = SPENDERS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, o)| *o)
                    .ok_or_else(|| {
                        SpecError::Invalid(format!(
                            "governance.treasury.limits: {name:?} is not one of treasurer, \
                             smallSpender, mediumSpender, bigSpender"
                        ))
                    })?;
                Ok((
                    origin,
                    planck(&format!("governance.treasury.limits.{name}"), limit)?,
                ))
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        let params = treasury::Params {
            spend_period: blocks(self.spend_period_secs, block_ms).max(1),
            burn: per("governance.treasury.burn", &self.burn)?,
            payout_period: blocks(self.payout_period_secs, block_ms).max(1),
            limits,
        };
        params
            .check()
            .map_err(|e| SpecError::Invalid(format!("governance.treasury: {e}")))?;
        Ok(params)
    }
}

/// One track: `id` picks the origin it grants (0 root, 11 treasurer, 20
/// referendum_canceller, 21 referendum_killer, 32/33/34 small/medium/big_spender, 40
/// parameters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackSpec {
    pub id: u16,
    pub name: String,
    pub max_deciding: u32,
    /// Planck.
    pub decision_deposit: String,
    pub prepare_secs: u64,
    pub decision_secs: u64,
    pub confirm_secs: u64,
    pub min_enactment_secs: u64,
    pub min_approval: CurveSpec,
    pub min_support: CurveSpec,
}

/// A threshold curve; fractions are decimals between 0 and 1 (`"0.5"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum CurveSpec {
    /// From `ceil` down to `floor` over `length` of the decision period.
    #[serde(rename_all = "camelCase")]
    LinearDecreasing {
        length: String,
        floor: String,
        ceil: String,
    },
    /// From `begin` down `step` every `period` of the decision period, never below `end`.
    #[serde(rename_all = "camelCase")]
    SteppedDecreasing {
        begin: String,
        end: String,
        step: String,
        period: String,
    },
    /// `factor / (x + xOffset) + yOffset`; signed decimals, 9 places at most.
    #[serde(rename_all = "camelCase")]
    Reciprocal {
        factor: String,
        x_offset: String,
        y_offset: String,
    },
}

fn blocks(secs: u64, block_ms: u64) -> u32 {
    u32::try_from(secs.saturating_mul(1_000).div_ceil(block_ms.max(1))).unwrap_or(u32::MAX)
}

fn secs(blocks: u32, block_ms: u64) -> u64 {
    u64::from(blocks).saturating_mul(block_ms) / 1_000
}

fn per(path: &str, text: &str) -> Result<Perbill, SpecError> {
    fraction(path, text).map(Perbill::from_parts)
}

fn fixed(path: &str, text: &str) -> Result<FixedI64, SpecError> {
    let bad = || {
        SpecError::Invalid(format!(
            "{path} {text:?} is not a decimal with at most 9 places"
        ))
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    let value = whole
        .checked_mul(FixedI64::DIV)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)?;
    Ok(FixedI64(if negative {
        value.saturating_neg()
    } else {
        value
    }))
}

fn show_per(p: Perbill) -> String {
    show_fixed(FixedI64::from_perbill(p))
}

fn show_fixed(f: FixedI64) -> String {
    let sign = if f.0 < 0 { "-" } else { "" };
    let abs = f.0.unsigned_abs();
    let whole = abs / 1_000_000_000;
    let frac = format!("{:09}", abs % 1_000_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

impl CurveSpec {
    fn curve(&self, path: &str) -> Result<Curve, SpecError> {
        Ok(match self {
            CurveSpec::LinearDecreasing {
                length,
                floor,
                ceil,
            } => Curve::LinearDecreasing {
                length: per(&format!("{path}.length"), length)?,
                floor: per(&format!("{path}.floor"), floor)?,
                ceil: per(&format!("{path}.ceil"), ceil)?,
            },
            CurveSpec::SteppedDecreasing {
                begin,
                end,
                step,
                period,
            } => Curve::SteppedDecreasing {
                begin: per(&format!("{path}.begin"), begin)?,
                end: per(&format!("{path}.end"), end)?,
                step: per(&format!("{path}.step"), step)?,
                period: per(&format!("{path}.period"), period)?,
            },
            CurveSpec::Reciprocal {
                factor,
                x_offset,
                y_offset,
            } => Curve::Reciprocal {
                factor: fixed(&format!("{path}.factor"), factor)?,
                x_offset: fixed(&format!("{path}.xOffset"), x_offset)?,
                y_offset: fixed(&format!("{path}.yOffset"), y_offset)?,
            },
        })
    }

    fn from_curve(c: &Curve) -> CurveSpec {
        match c {
            Curve::LinearDecreasing {
                length,
                floor,
                ceil,
            } => CurveSpec::LinearDecreasing {
                length: show_per(*length),
                floor: show_per(*floor),
                ceil: show_per(*ceil),
            },
            Curve::SteppedDecreasing {
                begin,
                end,
                step,
                period,
            } => CurveSpec::SteppedDecreasing {
                begin: show_per(*begin),
                end: show_per(*end),
                step: show_per(*step),
                period: show_per(*period),
            },
            Curve::Reciprocal {
                factor,
                x_offset,
                y_offset,
            } => CurveSpec::Reciprocal {
                factor: show_fixed(*factor),
                x_offset: show_fixed(*x_offset),
                y_offset: show_fixed(*y_offset),
            },
        }
    }
}

fn planck(path: &str, text: &str) -> Result<u128, SpecError> {
    text.parse()
        .map_err(|_| SpecError::Invalid(format!("{path} {text:?} is not a whole number of planck")))
}

impl GovernanceSpec {
    /// The section that gives `params` at `block_ms` (what a spec without one gets, written
    /// out so people can start from it).
    pub fn from_params(params: &GovernanceParams, block_ms: u64) -> Self {
        GovernanceSpec {
            treasury: None,
            submission_deposit: params.submission_deposit.to_string(),
            undeciding_timeout_secs: secs(params.undeciding_timeout, block_ms),
            vote_locking_period_secs: secs(params.vote_locking_period, block_ms),
            tracks: params
                .tracks
                .iter()
                .map(|(id, t)| TrackSpec {
                    id: *id,
                    name: t.name.clone(),
                    max_deciding: t.max_deciding,
                    decision_deposit: t.decision_deposit.to_string(),
                    prepare_secs: secs(t.prepare_period, block_ms),
                    decision_secs: secs(t.decision_period, block_ms),
                    confirm_secs: secs(t.confirm_period, block_ms),
                    min_enactment_secs: secs(t.min_enactment_period, block_ms),
                    min_approval: CurveSpec::from_curve(&t.min_approval),
                    min_support: CurveSpec::from_curve(&t.min_support),
                })
                .collect(),
        }
    }

    /// The runtime's parameters at `block_ms`, checked.
    pub fn params(&self, block_ms: u64) -> Result<GovernanceParams, SpecError> {
        let tracks = self
            .tracks
            .iter()
            .map(|t| {
                let path = format!("governance.tracks[{}]", t.id);
                Ok((
                    t.id,
                    TrackInfo {
                        name: t.name.clone(),
                        max_deciding: t.max_deciding,
                        decision_deposit: planck(
                            &format!("{path}.decisionDeposit"),
                            &t.decision_deposit,
                        )?,
                        prepare_period: blocks(t.prepare_secs, block_ms),
                        decision_period: blocks(t.decision_secs, block_ms),
                        confirm_period: blocks(t.confirm_secs, block_ms),
                        min_enactment_period: blocks(t.min_enactment_secs, block_ms),
                        min_approval: t.min_approval.curve(&format!("{path}.minApproval"))?,
                        min_support: t.min_support.curve(&format!("{path}.minSupport"))?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        GovernanceParams {
            submission_deposit: planck("governance.submissionDeposit", &self.submission_deposit)?,
            undeciding_timeout: blocks(self.undeciding_timeout_secs, block_ms),
            vote_locking_period: blocks(self.vote_locking_period_secs, block_ms),
            tracks,
        }
        .normalize()
        .map_err(|e| SpecError::Invalid(format!("governance: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_out_defaults_read_back_the_same() {
        for (params, block_ms) in [
            (GovernanceParams::development(1_000), 1_000),
            (GovernanceParams::live(6_000), 6_000),
        ] {
            let spec = GovernanceSpec::from_params(&params, block_ms);
            let json = serde_json::to_string(&spec).unwrap();
            let back: GovernanceSpec = serde_json::from_str(&json).unwrap();
            assert_eq!(back.params(block_ms).unwrap(), params.normalize().unwrap());
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut spec = GovernanceSpec::from_params(&GovernanceParams::development(1_000), 1_000);
        spec.tracks[0].min_support = CurveSpec::LinearDecreasing {
            length: "1".into(),
            floor: "0".into(),
            ceil: "1.5".into(),
        };
        let e = spec.params(1_000).unwrap_err().to_string();
        assert!(e.contains("governance.tracks[0].minSupport.ceil"), "{e}");
        assert_eq!(fixed("x", "-0.25").unwrap(), FixedI64(-250_000_000));
        assert_eq!(show_fixed(FixedI64(-250_000_000)), "-0.25");
        assert!(fixed("x", "1.0000000001").is_err());
    }
}
