//! Scalar types and units of the chain.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::{Path, Type, TypeInfo, build::Fields};

/// A balance in the smallest unit (10^-12 PHA). u128, as both clients require.
pub type Balance = u128;
/// Block height.
pub type BlockNumber = u32;
/// Per-account transaction counter.
pub type Nonce = u32;
/// Milliseconds since the Unix epoch.
pub type Moment = u64;

/// Number of decimals of PHA.
pub const DECIMALS: u8 = 12;
/// One PHA in the smallest unit.
pub const PHA: Balance = 1_000_000_000_000;
/// The cap on total issuance: 1,000,000,000 PHA. No state transition may exceed it.
pub const MAX_ISSUANCE: Balance = 1_000_000_000 * PHA;
/// SS58 address prefix of the Phala network.
pub const SS58_PREFIX: u16 = 30;
/// Token symbol reported in chain properties.
pub const TOKEN_SYMBOL: &str = "PHA";

/// Substrate's two-dimensional weight (`sp_weights::weight_v2::Weight`): execution time in
/// picoseconds and proof size in bytes, both compact-encoded.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, MaxEncodedLen,
)]
pub struct Weight {
    #[codec(compact)]
    pub ref_time: u64,
    #[codec(compact)]
    pub proof_size: u64,
}

impl Weight {
    pub const ZERO: Weight = Weight {
        ref_time: 0,
        proof_size: 0,
    };

    pub const fn from_parts(ref_time: u64, proof_size: u64) -> Self {
        Weight {
            ref_time,
            proof_size,
        }
    }

    pub fn saturating_add(self, other: Weight) -> Weight {
        Weight {
            ref_time: self.ref_time.saturating_add(other.ref_time),
            proof_size: self.proof_size.saturating_add(other.proof_size),
        }
    }

    /// True when neither dimension of `self` exceeds that of `limit`.
    pub fn all_lte(self, limit: Weight) -> bool {
        self.ref_time <= limit.ref_time && self.proof_size <= limit.proof_size
    }
}

impl TypeInfo for Weight {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("Weight", "sp_weights::weight_v2"))
            .composite(
                Fields::named()
                    .field(|f| f.compact::<u64>().name("ref_time").type_name("u64"))
                    .field(|f| f.compact::<u64>().name("proof_size").type_name("u64")),
            )
    }
}

/// Formats a balance as PHA with up to 12 decimals, trailing zeros trimmed ("1.5 PHA").
pub fn format_pha(amount: Balance) -> String {
    let whole = amount / PHA;
    let frac = amount % PHA;
    if frac == 0 {
        return format!("{whole} PHA");
    }
    let digits = format!("{frac:012}");
    format!("{whole}.{} PHA", digits.trim_end_matches('0'))
}

/// Why an amount string could not be read as PHA.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not a number like 1.5 or 1.5 PHA")]
    NotANumber(String),
    #[error("amount {0:?} has more than 12 decimals")]
    TooPrecise(String),
    #[error("amount {0:?} is larger than the PHA supply")]
    TooLarge(String),
}

/// Parses "1.5", "1.5 PHA" or "0.000000000001pha" into the smallest unit.
pub fn parse_pha(input: &str) -> Result<Balance, AmountError> {
    let s = input.trim();
    let s = s
        .strip_suffix("PHA")
        .or_else(|| s.strip_suffix("pha"))
        .unwrap_or(s)
        .trim();
    if s.is_empty() {
        return Err(AmountError::Empty);
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
        return Err(AmountError::NotANumber(input.to_string()));
    }
    if frac.len() > usize::from(DECIMALS) {
        return Err(AmountError::TooPrecise(input.to_string()));
    }
    let too_large = || AmountError::TooLarge(input.to_string());
    let whole: Balance = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut frac_units: Balance = 0;
    for (i, c) in frac.chars().enumerate() {
        let digit = Balance::from(c.to_digit(10).unwrap_or(0));
        let exp = u32::from(DECIMALS).saturating_sub(u32::try_from(i).unwrap_or(u32::MAX));
        let place = 10u128.pow(exp.saturating_sub(1));
        frac_units = frac_units.saturating_add(digit.saturating_mul(place));
    }
    let total = whole
        .checked_mul(PHA)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(too_large)?;
    if total > MAX_ISSUANCE {
        return Err(too_large());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts() {
        assert_eq!(parse_pha("1"), Ok(PHA));
        assert_eq!(parse_pha("1.5"), Ok(PHA + PHA / 2));
        assert_eq!(parse_pha("1.5 PHA"), Ok(PHA + PHA / 2));
        assert_eq!(parse_pha(" 2pha "), Ok(2 * PHA));
        assert_eq!(parse_pha("0.000000000001"), Ok(1));
        assert_eq!(parse_pha(".25"), Ok(PHA / 4));
        assert_eq!(parse_pha("1000000000"), Ok(MAX_ISSUANCE));
        assert!(matches!(
            parse_pha("1000000000.1"),
            Err(AmountError::TooLarge(_))
        ));
        assert!(matches!(
            parse_pha("0.0000000000001"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(parse_pha("abc"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_pha("-1"), Err(AmountError::NotANumber(_))));
        assert!(matches!(parse_pha("."), Err(AmountError::NotANumber(_))));
        assert_eq!(parse_pha(""), Err(AmountError::Empty));
        assert!(matches!(
            parse_pha("99999999999999999999999999999999999999999"),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(format_pha(PHA), "1 PHA");
        assert_eq!(format_pha(PHA + PHA / 2), "1.5 PHA");
        assert_eq!(format_pha(1), "0.000000000001 PHA");
    }

    #[test]
    fn weight_encoding_is_two_compacts() {
        let w = Weight::from_parts(125_000_000, 3593);
        assert_eq!(hex::encode(w.encode()), "0265cd1d2538");
    }
}
