//! Genuine Intel quotes and collateral (../shared/fixtures/attestation, see its MANIFEST),
//! verified at the times the MANIFEST gives. Never the wall clock: the collateral expired
//! long ago, which is itself one of the cases.

use std::path::PathBuf;

use phala_attestation::{
    Attestation, AttestationError, Collateral, Policy, TcbStatus, TeeKind, dcap, verify,
};

/// Inside each pair's validity window (MANIFEST: not_after − 1).
const SGX_NOW: u64 = 1_752_919_277;
const TDX_NOW: u64 = 1_752_919_234;
const TD15EX_NOW: u64 = 1_794_008_710;
const OUTDATED_NOW: u64 = 1_774_003_274;
/// 2026-11-26, when these tests were written: every collateral has expired by then.
const TODAY: u64 = 1_795_651_200;

fn fixtures() -> PathBuf {
    let dir = phala_attestation::fixtures_dir();
    assert!(
        dir.is_dir(),
        "attestation fixtures not found: set PHALA_FIXTURES to the shared fixtures folder"
    );
    dir
}

fn pair(name: &str) -> (Vec<u8>, Collateral) {
    let dir = fixtures();
    let quote = std::fs::read(dir.join(name)).unwrap();
    let json = std::fs::read(dir.join(format!("{name}_collateral.json"))).unwrap();
    (quote, Collateral::from_json(&json).unwrap())
}

fn check(name: &str, now: u64) -> Result<phala_attestation::Verdict, AttestationError> {
    let (quote, collateral) = pair(name);
    verify(
        &Attestation::Dcap {
            quote,
            collateral: Box::new(collateral),
        },
        now,
        &Policy::production(),
    )
}

#[test]
fn sgx_sample_needs_configuration_and_sw_hardening() {
    let v = check("sgx_quote", SGX_NOW).unwrap();
    assert_eq!(v.tee, TeeKind::Sgx);
    assert_eq!(v.status, Some(TcbStatus::ConfigurationAndSWHardeningNeeded));
    assert_eq!(v.advisory_ids, vec!["INTEL-SA-00289", "INTEL-SA-00615"]);
    // Neither advisory is on the whitelist: level 4.
    assert_eq!(v.confidence, 4);
    assert_eq!(v.measurement.len(), 68);
    assert!(hex::encode(&v.measurement).starts_with("33d8736d"));
    assert!(v.report_data.starts_with(b"Hello, world!"));
}

#[test]
fn whitelisted_advisories_rate_three() {
    let (quote, collateral) = pair("sgx_quote");
    let mut policy = Policy::production();
    policy.advisory_whitelist = vec!["INTEL-SA-00289".into(), "INTEL-SA-00615".into()];
    let v = verify(
        &Attestation::Dcap {
            quote,
            collateral: Box::new(collateral),
        },
        SGX_NOW,
        &policy,
    )
    .unwrap();
    assert_eq!(v.confidence, 3);
}

#[test]
fn tdx_samples_are_up_to_date() {
    let v = check("tdx_quote", TDX_NOW).unwrap();
    assert_eq!(v.tee, TeeKind::Tdx);
    assert_eq!(v.status, Some(TcbStatus::UpToDate));
    assert!(v.advisory_ids.is_empty());
    assert_eq!(v.confidence, 1);
    assert_eq!(v.measurement.len(), 240);
    assert!(hex::encode(&v.measurement).starts_with("91eb2b44"));

    let v = check("tdx_quote_td15ex", TD15EX_NOW).unwrap();
    assert_eq!(v.status, Some(TcbStatus::UpToDate));
    assert_eq!(v.confidence, 1);
    // rtmr3 is the last 48 bytes, and is extended at run time in this sample.
    assert_ne!(&v.measurement[192..], &[0u8; 48][..]);
}

#[test]
fn outdated_tdx_matches_no_tcb_level() {
    assert_eq!(
        check("tdx_quote_outdated", OUTDATED_NOW),
        Err(AttestationError::NoMatchingTcbLevel)
    );
}

#[test]
fn expired_collateral_is_refused() {
    for name in ["sgx_quote", "tdx_quote", "tdx_quote_td15ex"] {
        match check(name, TODAY) {
            Err(AttestationError::CollateralExpired(_)) => {}
            other => panic!("{name} at today's time: {other:?}"),
        }
    }
    // One second past the SGX window: the QE identity is the first to expire.
    match check("sgx_quote", SGX_NOW + 2) {
        Err(AttestationError::CollateralExpired(m)) => assert!(m.contains("QE Identity")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn collateral_not_yet_valid_is_refused() {
    match check("sgx_quote", 1_750_330_570) {
        Err(AttestationError::CollateralNotYetValid(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_bit_breaks_the_signature() {
    for (name, now) in [("sgx_quote", SGX_NOW), ("tdx_quote", TDX_NOW)] {
        let (mut quote, collateral) = pair(name);
        // The last byte of report data: SGX body ends at 48 + 384, TDX v4 body at 48 + 584.
        let at = if name == "sgx_quote" { 431 } else { 631 };
        quote[at] ^= 1;
        match verify(
            &Attestation::Dcap {
                quote,
                collateral: Box::new(collateral),
            },
            now,
            &Policy::production(),
        ) {
            Err(AttestationError::BadSignature(m)) => {
                assert!(m.contains("ISV enclave report signature is invalid"), "{m}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn mismatched_and_malformed_inputs_are_refused() {
    let (sgx_quote, _) = pair("sgx_quote");
    let (_, tdx_collateral) = pair("tdx_quote");
    assert!(
        verify(
            &Attestation::Dcap {
                quote: sgx_quote.clone(),
                collateral: Box::new(tdx_collateral.clone()),
            },
            SGX_NOW,
            &Policy::production(),
        )
        .is_err()
    );
    assert!(matches!(
        verify(
            &Attestation::Dcap {
                quote: sgx_quote[..100].to_vec(),
                collateral: Box::new(tdx_collateral.clone()),
            },
            SGX_NOW,
            &Policy::production(),
        ),
        Err(AttestationError::MalformedQuote(_))
    ));
    assert_eq!(
        verify(
            &Attestation::Dcap {
                quote: vec![0; phala_attestation::MAX_QUOTE_LEN + 1],
                collateral: Box::new(tdx_collateral),
            },
            SGX_NOW,
            &Policy::production(),
        ),
        Err(AttestationError::QuoteTooLarge(
            phala_attestation::MAX_QUOTE_LEN + 1
        ))
    );
    assert!(Collateral::from_json(b"{\"not\": \"collateral\"}").is_err());
}

#[test]
fn tappd_quotes_parse_as_tdx() {
    for name in ["tdx-quote.hex", "quote-from-tappd.hex"] {
        let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
        let text = text.trim().trim_start_matches("0x");
        let quote = hex::decode(text).unwrap();
        assert_eq!(quote.len(), 5006);
        assert_eq!(dcap::tee_type(&quote), Some(dcap::TEE_TYPE_TDX));
    }
}

#[test]
fn collateral_survives_scale() {
    use parity_scale_codec::{Decode, Encode};
    let (quote, collateral) = pair("tdx_quote");
    let a = Attestation::Dcap {
        quote,
        collateral: Box::new(collateral),
    };
    let bytes = a.encode();
    let back = Attestation::decode(&mut bytes.as_slice()).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.claimed_kind(), TeeKind::Tdx);
    assert!(check("tdx_quote", TDX_NOW).is_ok());
}

#[test]
fn simulated_needs_the_chain_to_allow_it() {
    use phala_attestation::simulated::SimulatedQuote;
    let quote = SimulatedQuote {
        measurement: [1; 32],
        report_data: [2; 64],
    }
    .encode();
    let a = Attestation::Simulated { quote };
    assert_eq!(
        verify(&a, 0, &Policy::production()),
        Err(AttestationError::SimulatedNotAllowed)
    );
    let dev = Policy {
        allow_simulated: true,
        ..Policy::production()
    };
    let v = verify(&a, 0, &dev).unwrap();
    assert_eq!(v.tee, TeeKind::Simulated);
    assert_eq!(v.confidence, phala_attestation::SIMULATED_CONFIDENCE);
    assert_eq!(v.measurement, vec![1; 32]);
}

mod decoder {
    use parity_scale_codec::{Decode, DecodeLimit};
    use phala_attestation::Attestation;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Attestation::decode_all_with_depth_limit(8, &mut bytes.as_slice());
            let _ = Attestation::decode(&mut bytes.as_slice());
        }
    }
}
