//! Equivocation evidence made from real signatures: verified, attributed, refused when forged.

use bytes::Bytes;
use commonware_codec::DecodeExt;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Activity, ConflictingFinalize, Finalize, Proposal};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::Signer as _;
use commonware_cryptography::ed25519::PrivateKey;
use commonware_cryptography::sha256::Digest;
use commonware_utils::ordered::Set;
use phala_keys::Ed25519Pair;
use phala_light_client::evidence::{self, EvidenceError, OffenceKind};
use phala_primitives::H256;

const COMMITTEE: [&str; 4] = ["//Alice", "//Bob", "//Charlie", "//Dave"];

fn key(uri: &str) -> PrivateKey {
    PrivateKey::decode(Bytes::copy_from_slice(
        Ed25519Pair::from_uri(uri).unwrap().seed().as_slice(),
    ))
    .unwrap()
}

fn public(uri: &str) -> [u8; 32] {
    Ed25519Pair::from_uri(uri).unwrap().public()
}

/// Bob finalizes two different blocks in view 7 of epoch 2.
fn double_finalize(ns: &[u8]) -> Vec<u8> {
    let participants = Set::try_from(
        COMMITTEE
            .iter()
            .map(|u| key(u).public_key())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let bob = Scheme::signer(ns, participants, key("//Bob")).unwrap();
    let round = Round::new(Epoch::new(2), View::new(7));
    let a = Finalize::sign(&bob, Proposal::new(round, View::new(6), Digest([1; 32]))).unwrap();
    let b = Finalize::sign(&bob, Proposal::new(round, View::new(6), Digest([2; 32]))).unwrap();
    let activity: Activity<Scheme, Digest> =
        Activity::ConflictingFinalize(ConflictingFinalize::new(a, b));
    evidence::encode(&activity).unwrap()
}

#[test]
fn conflicting_finalizes_prove_an_offence() {
    let ns = phala_light_client::namespace(&H256([3; 32]));
    let committee: Vec<[u8; 32]> = COMMITTEE.iter().map(|u| public(u)).collect();
    let bytes = double_finalize(&ns);
    assert_eq!(evidence::claimed_epoch(&bytes), Ok(2));
    let offence = evidence::verify(&ns, &committee, &bytes).unwrap();
    assert_eq!(offence.kind, OffenceKind::ConflictingFinalize);
    assert_eq!(offence.offender, public("//Bob"));
    assert_eq!((offence.epoch, offence.view), (2, 7));
    // Committee order does not matter.
    let mut reversed = committee.clone();
    reversed.reverse();
    assert_eq!(
        evidence::verify(&ns, &reversed, &bytes).unwrap().offender,
        public("//Bob")
    );

    // Another chain's namespace, another committee, a flipped bit, truncation: refused.
    let other_ns = phala_light_client::namespace(&H256([4; 32]));
    assert_eq!(
        evidence::verify(&other_ns, &committee, &bytes),
        Err(EvidenceError::BadSignature)
    );
    let strangers: Vec<[u8; 32]> = ["//Eve", "//Ferdie", "//Charlie", "//Dave"]
        .iter()
        .map(|u| public(u))
        .collect();
    assert!(evidence::verify(&ns, &strangers, &bytes).is_err());
    let mut forged = bytes.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(evidence::verify(&ns, &committee, &forged).is_err());
    assert_eq!(
        evidence::verify(&ns, &committee, &bytes[..bytes.len() - 3]),
        Err(EvidenceError::Malformed)
    );
    assert_eq!(
        evidence::verify(&ns, &committee, &[]),
        Err(EvidenceError::Malformed)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    #[test]
    fn random_evidence_never_panics(tag in 0u8..12, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let mut bytes = vec![tag];
        bytes.extend(body);
        let _ = evidence::claimed_epoch(&bytes);
        let _ = evidence::verify(b"ns", &[[1; 32]], &bytes);
    }
}
