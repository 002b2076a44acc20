use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `Registry` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// This chain does not accept simulated TEEs (only development genesis allows them).
    SimulatedTeeNotAllowed,
    /// The quote does not parse.
    MalformedQuote,
    /// The quote is larger than allowed.
    QuoteTooLarge,
    /// The collateral is larger than allowed.
    CollateralTooLarge,
    /// The quote's signatures do not verify (tampered, or not from a genuine TEE).
    BadQuoteSignature,
    /// The collateral has expired at the block's time: fetch fresh collateral.
    CollateralExpired,
    /// The collateral is not yet valid at the block's time.
    CollateralNotYetValid,
    /// The platform matches no TCB level in the collateral.
    NoMatchingTcbLevel,
    /// The platform's TCB is revoked.
    TcbRevoked,
    /// The enclave or TD runs in debug mode.
    DebugEnclave,
    /// The platform's TCB status is not accepted.
    TcbStatusRejected,
    /// The attestation does not verify.
    InvalidAttestation,
    /// The quote's report data is not the hash of the registration info.
    ReportDataMismatch,
    /// The registration is for another chain.
    GenesisMismatch,
    /// The registration info is too large.
    BadRegistrationInfo,
    /// The worker's measurement is not on the allowlist.
    MeasurementNotAllowed,
    /// The measurement is empty or longer than 240 bytes.
    BadMeasurement,
    /// The measurement is already allowed.
    MeasurementAlreadyAllowed,
    /// The measurement is not on the allowlist.
    MeasurementNotFound,
    /// No worker is registered under this key.
    WorkerNotFound,
    /// The worker report does not decode.
    BadReport,
    /// The worker's benchmark score is already recorded.
    ScoreAlreadyReported,
    /// The worker is already a gatekeeper.
    AlreadyGatekeeper,
    /// There are as many gatekeepers as allowed (64).
    TooManyGatekeepers,
    /// The sender or recipient is not a gatekeeper.
    NotGatekeeper,
    /// No master key exists yet (the first gatekeeper has not published it).
    NoMasterKey,
    /// A rotation is already waiting for the gatekeepers.
    RotationPending,
    /// No rotation is waiting: none was requested, it was cancelled, or a gatekeeper's
    /// proposal already completed it.
    RotationNotPending,
    /// The master key's public key is already published.
    MasterKeyAlreadyPublished,
    /// This gatekeeper already received this much of the key history (another copy came
    /// first).
    AlreadyDelivered,
    /// The sealed keys are not one per recipient, sealed to each one's ECDH key.
    BadDelivery,
    /// Only the gatekeeper asked to make the first master key may publish it.
    NotTheGenerator,
    /// The worker's attestation has expired: it must register again (re-attest).
    AttestationExpired,
    /// The worker's confidence level is worse than the role needs.
    ConfidenceTooLow,
    /// The platform is OutOfDate (level 5), which this chain does not accept.
    OutOfDateTcb,
    /// Parameters out of range (validity below the minimum, or a level not 1–5).
    BadParams,
    /// Removing this measurement would revoke every gatekeeper, losing the master key: add
    /// gatekeepers of another measurement first.
    LastGatekeepers,
    /// The registration names a block the chain does not have, or one more than 100 blocks
    /// old: attest again from a recent block.
    StaleRegistration,
    /// No gatekeeper is registered to carry out a rotation: add one first.
    NoGatekeepers,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::REGISTRY;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
