//! Intel DCAP quotes (SGX v3, TDX v4/v5) checked with `dcap-qvl` against supplied
//! collateral, then mapped to our verdict: measurement, report data, confidence level.
//!
//! `dcap-qvl` reports failures as text; [`classify`] sorts the ones a user can act on
//! (expired collateral, bad signature, unknown TCB level, debug mode) into their own
//! variants and keeps the rest as text.

use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::quote::Report;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::{AttestationError, MAX_COLLATERAL_LEN, MAX_QUOTE_LEN, TeeKind, Verdict};

pub const TEE_TYPE_SGX: u32 = 0x0000_0000;
pub const TEE_TYPE_TDX: u32 = 0x0000_0081;

/// Intel's verification collateral for one quote: TCB info and QE identity (signed JSON),
/// the PCK and root CRLs, and their issuer chains. Field for field `dcap-qvl`'s
/// `QuoteCollateralV3`, with a type description so it can travel in an extrinsic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Collateral {
    pub pck_crl_issuer_chain: String,
    pub root_ca_crl: Vec<u8>,
    pub pck_crl: Vec<u8>,
    pub tcb_info_issuer_chain: String,
    pub tcb_info: String,
    pub tcb_info_signature: Vec<u8>,
    pub qe_identity_issuer_chain: String,
    pub qe_identity: String,
    pub qe_identity_signature: Vec<u8>,
    pub pck_certificate_chain: Option<String>,
}

impl Collateral {
    /// Parses the JSON a PCCS or `dcap-qvl` serves (byte fields as hex strings).
    pub fn from_json(bytes: &[u8]) -> Result<Self, AttestationError> {
        if bytes.len() > MAX_COLLATERAL_LEN.saturating_mul(2) {
            return Err(AttestationError::CollateralTooLarge(bytes.len()));
        }
        let c: QuoteCollateralV3 = serde_json::from_slice(bytes)
            .map_err(|e| AttestationError::Invalid(format!("collateral JSON: {e}")))?;
        Ok(Collateral {
            pck_crl_issuer_chain: c.pck_crl_issuer_chain,
            root_ca_crl: c.root_ca_crl,
            pck_crl: c.pck_crl,
            tcb_info_issuer_chain: c.tcb_info_issuer_chain,
            tcb_info: c.tcb_info,
            tcb_info_signature: c.tcb_info_signature,
            qe_identity_issuer_chain: c.qe_identity_issuer_chain,
            qe_identity: c.qe_identity,
            qe_identity_signature: c.qe_identity_signature,
            pck_certificate_chain: c.pck_certificate_chain,
        })
    }

    /// Total bytes of its fields.
    pub fn len(&self) -> usize {
        [
            self.pck_crl_issuer_chain.len(),
            self.root_ca_crl.len(),
            self.pck_crl.len(),
            self.tcb_info_issuer_chain.len(),
            self.tcb_info.len(),
            self.tcb_info_signature.len(),
            self.qe_identity_issuer_chain.len(),
            self.qe_identity.len(),
            self.qe_identity_signature.len(),
            self.pck_certificate_chain.as_ref().map_or(0, String::len),
        ]
        .iter()
        .fold(0usize, |acc, n| acc.saturating_add(*n))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn to_qvl(&self) -> QuoteCollateralV3 {
        QuoteCollateralV3 {
            pck_crl_issuer_chain: self.pck_crl_issuer_chain.clone(),
            root_ca_crl: self.root_ca_crl.clone(),
            pck_crl: self.pck_crl.clone(),
            tcb_info_issuer_chain: self.tcb_info_issuer_chain.clone(),
            tcb_info: self.tcb_info.clone(),
            tcb_info_signature: self.tcb_info_signature.clone(),
            qe_identity_issuer_chain: self.qe_identity_issuer_chain.clone(),
            qe_identity: self.qe_identity.clone(),
            qe_identity_signature: self.qe_identity_signature.clone(),
            pck_certificate_chain: self.pck_certificate_chain.clone(),
        }
    }
}

/// The converged TCB status of a verified platform (Intel's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TcbStatus {
    UpToDate,
    SWHardeningNeeded,
    ConfigurationNeeded,
    ConfigurationAndSWHardeningNeeded,
    OutOfDate,
    OutOfDateConfigurationNeeded,
    TDRelaunchAdvised,
    TDRelaunchAdvisedConfigurationNeeded,
}

impl TcbStatus {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "UpToDate" => TcbStatus::UpToDate,
            "SWHardeningNeeded" => TcbStatus::SWHardeningNeeded,
            "ConfigurationNeeded" => TcbStatus::ConfigurationNeeded,
            "ConfigurationAndSWHardeningNeeded" => TcbStatus::ConfigurationAndSWHardeningNeeded,
            "OutOfDate" => TcbStatus::OutOfDate,
            "OutOfDateConfigurationNeeded" => TcbStatus::OutOfDateConfigurationNeeded,
            "TDRelaunchAdvised" => TcbStatus::TDRelaunchAdvised,
            "TDRelaunchAdvisedConfigurationNeeded" => {
                TcbStatus::TDRelaunchAdvisedConfigurationNeeded
            }
            _ => return None,
        })
    }
}

/// The confidence level of a TCB status (docs/protocol.md, *Attestation and registration*):
/// UpToDate 1, SWHardeningNeeded 2, ConfigurationNeeded 3 (4 with an advisory outside the
/// whitelist), OutOfDate 5. The combined statuses Intel added later rate as their worse part, as
/// Phala's chain rated them: ConfigurationAndSWHardeningNeeded like ConfigurationNeeded,
/// OutOfDateConfigurationNeeded like OutOfDate. TD relaunch advice is refused: the TD should be
/// restarted on the updated module first.
pub fn confidence(
    status: TcbStatus,
    advisory_ids: &[String],
    whitelist: &[String],
) -> Result<u8, AttestationError> {
    Ok(match status {
        TcbStatus::UpToDate => 1,
        TcbStatus::SWHardeningNeeded => 2,
        TcbStatus::ConfigurationNeeded | TcbStatus::ConfigurationAndSWHardeningNeeded => {
            if advisory_ids.iter().all(|a| whitelist.contains(a)) {
                3
            } else {
                4
            }
        }
        TcbStatus::OutOfDate | TcbStatus::OutOfDateConfigurationNeeded => 5,
        TcbStatus::TDRelaunchAdvised | TcbStatus::TDRelaunchAdvisedConfigurationNeeded => {
            return Err(AttestationError::StatusRejected(format!("{status:?}")));
        }
    })
}

/// The quote header's TEE type, if the quote is long enough to have one.
pub fn tee_type(quote: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = quote.get(4..8)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// Sorts a `dcap-qvl` failure (its whole context chain) into what the user must fix.
pub fn classify(message: String) -> AttestationError {
    let m = message.as_str();
    if m.contains("No matching TCB level") {
        AttestationError::NoMatchingTcbLevel
    } else if m.contains("Revoked") {
        AttestationError::Revoked
    } else if m.contains("Debug mode") {
        AttestationError::DebugMode
    } else if m.contains("expired") || m.contains("Expired") {
        AttestationError::CollateralExpired(message)
    } else if m.contains("in the future") || m.contains("NotValidYet") {
        AttestationError::CollateralNotYetValid(message)
    } else if m.contains("signature is invalid")
        || m.contains("Signature is invalid")
        || m.contains("hash mismatch")
    {
        AttestationError::BadSignature(message)
    } else if m.contains("Failed to decode") || m.contains("Unsupported") {
        AttestationError::MalformedQuote(message)
    } else {
        AttestationError::Invalid(message)
    }
}

/// Verifies a DCAP quote at `now_secs` and maps it to a verdict.
pub fn verify(
    quote: &[u8],
    collateral: &Collateral,
    now_secs: u64,
    whitelist: &[String],
) -> Result<Verdict, AttestationError> {
    if quote.len() > MAX_QUOTE_LEN {
        return Err(AttestationError::QuoteTooLarge(quote.len()));
    }
    if collateral.len() > MAX_COLLATERAL_LEN {
        return Err(AttestationError::CollateralTooLarge(collateral.len()));
    }
    let report = dcap_qvl::verify::ring::verify(quote, &collateral.to_qvl(), now_secs)
        .map_err(|e| classify(format!("{e:#}")))?;
    let status = TcbStatus::parse(&report.status)
        .ok_or_else(|| AttestationError::StatusRejected(report.status.clone()))?;
    let confidence = confidence(status, &report.advisory_ids, whitelist)?;
    let (tee, measurement, report_data) = measurement(&report.report)?;
    Ok(Verdict {
        tee,
        measurement,
        report_data,
        status: Some(status),
        advisory_ids: report.advisory_ids,
        confidence,
    })
}

/// The allowlist key and report data of a verified report.
fn measurement(report: &Report) -> Result<(TeeKind, Vec<u8>, [u8; 64]), AttestationError> {
    if let Some(sgx) = report.as_sgx() {
        let mut m = Vec::with_capacity(68);
        m.extend_from_slice(&sgx.mr_enclave);
        m.extend_from_slice(&sgx.isv_prod_id.to_be_bytes());
        m.extend_from_slice(&sgx.isv_svn.to_be_bytes());
        m.extend_from_slice(&sgx.mr_signer);
        return Ok((TeeKind::Sgx, m, sgx.report_data));
    }
    if let Some(td) = report.as_td10() {
        let mut m = Vec::with_capacity(240);
        for part in [&td.mr_td, &td.rt_mr0, &td.rt_mr1, &td.rt_mr2, &td.rt_mr3] {
            m.extend_from_slice(part);
        }
        return Ok((TeeKind::Tdx, m, td.report_data));
    }
    Err(AttestationError::Invalid("unknown report body".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl() -> Vec<String> {
        crate::Policy::production().advisory_whitelist
    }

    #[test]
    fn confidence_levels() {
        let none: Vec<String> = Vec::new();
        assert_eq!(confidence(TcbStatus::UpToDate, &none, &wl()), Ok(1));
        assert_eq!(
            confidence(TcbStatus::SWHardeningNeeded, &none, &wl()),
            Ok(2)
        );
        assert_eq!(
            confidence(
                TcbStatus::ConfigurationNeeded,
                &["INTEL-SA-00334".into()],
                &wl()
            ),
            Ok(3)
        );
        assert_eq!(
            confidence(
                TcbStatus::ConfigurationAndSWHardeningNeeded,
                &["INTEL-SA-00289".into()],
                &wl()
            ),
            Ok(4)
        );
        assert_eq!(confidence(TcbStatus::OutOfDate, &none, &wl()), Ok(5));
        assert_eq!(
            confidence(TcbStatus::OutOfDateConfigurationNeeded, &none, &wl()),
            Ok(5)
        );
        assert!(confidence(TcbStatus::TDRelaunchAdvised, &none, &wl()).is_err());
    }

    #[test]
    fn every_intel_status_name_parses() {
        for name in [
            "UpToDate",
            "SWHardeningNeeded",
            "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded",
            "OutOfDate",
            "OutOfDateConfigurationNeeded",
            "TDRelaunchAdvised",
            "TDRelaunchAdvisedConfigurationNeeded",
        ] {
            let s = TcbStatus::parse(name).unwrap();
            assert_eq!(format!("{s:?}"), name);
        }
        assert_eq!(TcbStatus::parse("Revoked"), None);
    }
}
