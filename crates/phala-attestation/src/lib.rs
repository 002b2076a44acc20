//! Remote attestation as the chain judges it.
//!
//! A worker proves what it runs with an [`Attestation`]: an Intel DCAP quote (SGX or TDX)
//! together with the collateral it is checked against, or — on development chains only — a
//! [`simulated`] quote that says in its own bytes that no hardware stands behind it.
//! [`verify`] turns an attestation into a [`Verdict`]: which TEE, the measurement the
//! allowlist is keyed by, the 64 bytes of report data the quote binds, and a confidence
//! level from the TCB status.
//!
//! Pure and deterministic: the time is an argument (the chain passes its block timestamp), so
//! every node reaches the same verdict. Nothing here checks the measurement allowlist or what
//! the report data must hash to: those belong to the caller (the `Registry` module).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod dcap;
pub mod simulated;

/// Where the genuine quotes of `../shared/fixtures/attestation` are, for tests and benches:
/// `$PHALA_FIXTURES/attestation`, else a `shared/fixtures/attestation` beside this checkout
/// or any folder above it, else `/work/shared/fixtures/attestation`.
#[doc(hidden)]
pub fn fixtures_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Ok(dir) = std::env::var("PHALA_FIXTURES") {
        return PathBuf::from(dir).join("attestation");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/fixtures/attestation"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/attestation"))
}

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

pub use dcap::{Collateral, TcbStatus};

/// Largest quote accepted. Real quotes are 4–6 KiB; Intel's QE caps them near 8 KiB.
pub const MAX_QUOTE_LEN: usize = 16 * 1024;
/// Largest collateral accepted (sum of its fields). The fixtures are 14–24 KiB of JSON.
pub const MAX_COLLATERAL_LEN: usize = 128 * 1024;

/// Confidence level of a simulated TEE: below every hardware level, as Phala gave its
/// unattested dev workers.
pub const SIMULATED_CONFIDENCE: u8 = 128;

/// Intel security advisories a `ConfigurationNeeded` platform may carry and still rate 3
/// (otherwise 4): Phala's list, the default until governance changes it.
pub const DEFAULT_ADVISORY_WHITELIST: &[&str] = &[
    "INTEL-SA-00334",
    "INTEL-SA-00219",
    "INTEL-SA-00381",
    "INTEL-SA-00389",
];

/// What a worker submits to prove what it runs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Attestation {
    /// No hardware: a [`simulated`] quote. Accepted only where the chain allows it.
    #[codec(index = 0)]
    Simulated { quote: Vec<u8> },
    /// An Intel DCAP quote (SGX v3, TDX v4/v5) and the collateral to check it against.
    #[codec(index = 1)]
    Dcap {
        quote: Vec<u8>,
        collateral: Box<Collateral>,
    },
}

impl Attestation {
    /// The TEE this attestation claims, before verification.
    pub fn claimed_kind(&self) -> TeeKind {
        match self {
            Attestation::Simulated { .. } => TeeKind::Simulated,
            Attestation::Dcap { quote, .. } => match dcap::tee_type(quote) {
                Some(dcap::TEE_TYPE_TDX) => TeeKind::Tdx,
                _ => TeeKind::Sgx,
            },
        }
    }
}

/// Which kind of TEE a worker runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TeeKind {
    /// No TEE at all: for development chains, never for real value.
    #[codec(index = 0)]
    Simulated,
    #[codec(index = 1)]
    Sgx,
    #[codec(index = 2)]
    Tdx,
}

impl TeeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TeeKind::Simulated => "simulated",
            TeeKind::Sgx => "sgx",
            TeeKind::Tdx => "tdx",
        }
    }
}

impl std::fmt::Display for TeeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the chain's policy allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Whether simulated attestations are accepted (dev chains only).
    pub allow_simulated: bool,
    /// Advisory ids that keep a `ConfigurationNeeded` platform at level 3.
    pub advisory_whitelist: Vec<String>,
}

impl Policy {
    /// Production defaults: no simulation, Phala's advisory whitelist.
    pub fn production() -> Self {
        Policy {
            allow_simulated: false,
            advisory_whitelist: DEFAULT_ADVISORY_WHITELIST
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
        }
    }
}

/// A verified attestation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub tee: TeeKind,
    /// The allowlist key: SGX `mr_enclave ‖ isv_prod_id ‖ isv_svn ‖ mr_signer` (68 bytes,
    /// the SVNs big-endian), TDX `mr_td ‖ rtmr0 ‖ rtmr1 ‖ rtmr2 ‖ rtmr3` (240 bytes),
    /// simulated: the 32-byte measurement the simulated quote names.
    pub measurement: Vec<u8>,
    /// The data the quote binds: the caller checks what it must hash to.
    pub report_data: [u8; 64],
    /// The platform's TCB status (`None` for simulated).
    pub status: Option<TcbStatus>,
    pub advisory_ids: Vec<String>,
    /// 1 (best) to 5 for hardware; [`SIMULATED_CONFIDENCE`] for simulated.
    pub confidence: u8,
}

/// Why an attestation was refused. Each failure a user can act on has its own variant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestationError {
    #[error("simulated attestations are not accepted on this chain")]
    SimulatedNotAllowed,
    #[error("the simulated quote is malformed: {0}")]
    BadSimulatedQuote(&'static str),
    #[error("the quote is {0} bytes; at most {MAX_QUOTE_LEN} are accepted")]
    QuoteTooLarge(usize),
    #[error("the collateral is {0} bytes; at most {MAX_COLLATERAL_LEN} are accepted")]
    CollateralTooLarge(usize),
    #[error("the quote does not parse: {0}")]
    MalformedQuote(String),
    #[error("the quote's signature chain does not verify: {0}")]
    BadSignature(String),
    #[error("the collateral has expired at the given time: {0}")]
    CollateralExpired(String),
    #[error("the collateral is not yet valid at the given time: {0}")]
    CollateralNotYetValid(String),
    #[error("the platform matches no TCB level in the collateral")]
    NoMatchingTcbLevel,
    #[error("the platform's TCB is revoked")]
    Revoked,
    #[error("the enclave or TD runs in debug mode")]
    DebugMode,
    #[error("TCB status {0} is not accepted")]
    StatusRejected(String),
    #[error("the quote does not verify: {0}")]
    Invalid(String),
}

/// Verifies `attestation` at `now_secs` (Unix seconds, from the chain's timestamp) under
/// `policy`.
pub fn verify(
    attestation: &Attestation,
    now_secs: u64,
    policy: &Policy,
) -> Result<Verdict, AttestationError> {
    match attestation {
        Attestation::Simulated { quote } => {
            if !policy.allow_simulated {
                return Err(AttestationError::SimulatedNotAllowed);
            }
            let q = simulated::SimulatedQuote::decode(quote)?;
            Ok(Verdict {
                tee: TeeKind::Simulated,
                measurement: q.measurement.to_vec(),
                report_data: q.report_data,
                status: None,
                advisory_ids: Vec::new(),
                confidence: SIMULATED_CONFIDENCE,
            })
        }
        Attestation::Dcap { quote, collateral } => {
            dcap::verify(quote, collateral, now_secs, &policy.advisory_whitelist)
        }
    }
}
