//! Substrate's `Perbill` and `FixedI64` with their metadata paths, for governance's curves
//! and tallies: exact integer arithmetic, rounding stated at each step, never a panic.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::{Path, Type, TypeInfo, build::Fields};

/// Parts per billion, at most one (`sp_arithmetic::per_things::Perbill`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, MaxEncodedLen,
)]
pub struct Perbill(u32);

pub const BILLION: u32 = 1_000_000_000;

impl Perbill {
    pub const ZERO: Perbill = Perbill(0);
    pub const ONE: Perbill = Perbill(BILLION);

    /// Clamped to one.
    pub const fn from_parts(parts: u32) -> Perbill {
        Perbill(if parts > BILLION { BILLION } else { parts })
    }

    pub const fn from_percent(percent: u32) -> Perbill {
        Perbill::from_parts(percent.saturating_mul(10_000_000))
    }

    pub const fn deconstruct(self) -> u32 {
        self.0
    }

    /// `n / d` rounded down, clamped to one; zero over zero is zero.
    pub fn from_rational(n: u128, d: u128) -> Perbill {
        if d == 0 {
            return Perbill::ZERO;
        }
        let n = n.min(d);
        // n ≤ d, so the quotient is at most a billion; the product needs wide arithmetic.
        let parts = mul_div_floor(n, u128::from(BILLION), d);
        Perbill::from_parts(u32::try_from(parts).unwrap_or(BILLION))
    }

    /// `self · n`, rounded down.
    pub fn mul_floor(self, n: u128) -> u128 {
        mul_div_floor(n, u128::from(self.0), u128::from(BILLION))
    }

    /// `self · n`, rounded up.
    pub fn mul_ceil(self, n: u128) -> u128 {
        match n.checked_mul(u128::from(self.0)) {
            Some(product) => product.div_ceil(u128::from(BILLION)),
            // Past 2^96 a planck of rounding is below notice: round the floor up.
            None => self.mul_floor(n).saturating_add(1),
        }
    }

    pub fn saturating_sub(self, other: Perbill) -> Perbill {
        Perbill(self.0.saturating_sub(other.0))
    }

    pub fn saturating_add(self, other: Perbill) -> Perbill {
        Perbill::from_parts(self.0.saturating_add(other.0))
    }
}

/// `a · b / c` rounded down, exact for any u128 inputs whose result fits (saturating
/// otherwise); zero if `c` is zero.
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> u128 {
    phala_tokenomics::mul_div_floor(a, b, c).unwrap_or(u128::MAX)
}

impl TypeInfo for Perbill {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("Perbill", "sp_arithmetic::per_things"))
            .composite(Fields::unnamed().field(|f| f.ty::<u32>().type_name("u32")))
    }
}

/// A signed fixed-point number with nine decimals (`sp_arithmetic::fixed_point::FixedI64`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, MaxEncodedLen,
)]
pub struct FixedI64(pub i64);

impl FixedI64 {
    pub const DIV: i64 = 1_000_000_000;

    pub fn from_perbill(p: Perbill) -> FixedI64 {
        FixedI64(i64::from(p.deconstruct()))
    }
}

impl TypeInfo for FixedI64 {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("FixedI64", "sp_arithmetic::fixed_point"))
            .composite(Fields::unnamed().field(|f| f.ty::<i64>().type_name("i64")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_round_down_and_clamp() {
        assert_eq!(Perbill::from_rational(1, 3).deconstruct(), 333_333_333);
        assert_eq!(Perbill::from_rational(5, 3), Perbill::ONE);
        assert_eq!(Perbill::from_rational(0, 0), Perbill::ZERO);
        assert_eq!(
            Perbill::from_rational(u128::MAX / 2, u128::MAX).deconstruct(),
            499_999_999
        );
        assert_eq!(Perbill::from_percent(50).mul_floor(3), 1);
        assert_eq!(Perbill::from_percent(50).mul_ceil(3), 2);
        assert_eq!(Perbill::from_percent(50).mul_ceil(4), 2);
        assert_eq!(Perbill::ONE.mul_floor(u128::MAX), u128::MAX);
    }
}
