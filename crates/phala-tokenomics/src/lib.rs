//! Phala's computation economics as deterministic arithmetic: what a worker must stake, the
//! value V it accrues while computing and loses while unresponsive, which workers a block
//! challenges, and how each heartbeat's reward is sized and split.
//!
//! Everything is U64F64 fixed point (64 integer and 64 fractional bits, classic Phala's own
//! representation) or integers: no floats anywhere, so every gatekeeper computes the same
//! bits on any machine, and the chain can require their settlements to be identical.
//! Every operation is checked: an overflow is an [`Error`], never a wrap or a panic.
//!
//! The crate is sans-IO and has no notion of storage; the chain (`Computation`) uses the
//! stake and challenge rules, the gatekeepers' TEE runtime the value and payout rules.

mod challenge;
mod decimal;
mod params;
mod value;
mod wide;

pub use challenge::{Challenge, ChallengeRanges, Target, online_target, worker_hash};
pub use decimal::{format_fixed, format_perbill, parse_decimal};
pub use params::{Economics, MAX_HEARTBEAT_WINDOW, Params, ParamsError, Perbill, U64F64Bits};
pub use value::{
    Payout, perbill_floor, pha_to_plancks, plancks_to_pha, share, split_by_weight, split_payout,
};
pub use wide::mul_div_floor;

/// The number type of the economics: 64 integer bits, 64 fractional bits.
pub type Fixed = fixed::types::U64F64;

/// Plancks per PHA (12 decimals).
pub const PLANCKS_PER_PHA: u128 = 1_000_000_000_000;

/// What can go wrong computing with the economics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A result does not fit U64F64 (or a planck amount does not fit u128).
    Overflow,
    /// A division by zero (for example a share over an empty total).
    DivisionByZero,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Overflow => f.write_str("arithmetic overflow in the economics"),
            Error::DivisionByZero => f.write_str("division by zero in the economics"),
        }
    }
}

impl std::error::Error for Error {}

pub(crate) fn int(n: u64) -> Fixed {
    Fixed::from_bits(u128::from(n) << 64)
}

/// `num / den` in fixed point, rounded down.
pub(crate) fn ratio(num: u64, den: u64) -> Result<Fixed, Error> {
    int(num).checked_div(int(den)).ok_or(if den == 0 {
        Error::DivisionByZero
    } else {
        Error::Overflow
    })
}

pub(crate) fn mul(a: Fixed, b: Fixed) -> Result<Fixed, Error> {
    a.checked_mul(b).ok_or(Error::Overflow)
}

pub(crate) fn div(a: Fixed, b: Fixed) -> Result<Fixed, Error> {
    if b == Fixed::ZERO {
        return Err(Error::DivisionByZero);
    }
    a.checked_div(b).ok_or(Error::Overflow)
}

pub(crate) fn add(a: Fixed, b: Fixed) -> Result<Fixed, Error> {
    a.checked_add(b).ok_or(Error::Overflow)
}

pub(crate) fn sqrt(a: Fixed) -> Result<Fixed, Error> {
    a.checked_sqrt().ok_or(Error::Overflow)
}
