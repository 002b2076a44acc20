use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `Balances` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Account liquidity restrictions prevent withdrawal (the balance is locked).
    LiquidityRestrictions,
    /// Balance too low to send value.
    InsufficientBalance,
    /// Value too low to create account due to existential deposit.
    ExistentialDeposit,
    /// Transfer/payment would kill account.
    Expendability,
    /// Beneficiary account must pre-exist.
    DeadAccount,
    /// Number of locks exceeds `MaxLocks`.
    TooManyLocks,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::BALANCES;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
