use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `Validators` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The amount is zero.
    ZeroAmount,
    /// Not enough free balance to bond that much.
    InsufficientBalance,
    /// The account has no bond.
    NotBonded,
    /// Cannot unbond more than is bonded.
    UnbondTooMuch,
    /// Too many unbonding chunks; withdraw some first.
    TooManyUnlocking,
    /// The bond is below the minimum a candidate needs.
    BondTooSmall,
    /// Another account already uses this consensus key.
    KeyInUse,
    /// The p2p address is not `host:port`.
    BadAddress,
    /// The account is not a candidate.
    NotCandidate,
    /// The evidence does not prove an equivocation by a committee member.
    InvalidEvidence,
    /// This offence was already punished.
    AlreadyReported,
    /// No validator holds the offending key.
    UnknownOffender,
    /// The consensus key is not a valid ed25519 public key (a canonical point not of small
    /// order).
    InvalidConsensusKey,
    /// The proof of possession is not the consensus key's signature of the account on this
    /// chain.
    BadProofOfPossession,
    /// Governance may set 4 to 128 seats.
    BadCommitteeSize,
    /// Epochs last 2 to 1,000,000 blocks.
    BadEpochLength,
    /// On a live chain an epoch may last at most a sixteenth of the unbonding period: an
    /// equivocation is punishable for 16 epochs, and the offender's bond must stay locked
    /// that long.
    EpochOutlastsUnbonding,
    /// The epoch length has changed as often as the schedule records (256 times).
    TooManyEpochLengthChanges,
    /// On a live chain an epoch lasts at least 100 blocks.
    EpochTooShort,
    /// The chain runs a runtime version older than 8, which lacks this call: upgrade it
    /// first (`system.scheduleUpgrade`).
    NeedsUpgrade,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::VALIDATORS;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
