//! Envelope: known answers, tampering, wrong recipients, weak keys, and the decoder.

use parity_scale_codec::Encode;
use phala_crypto::kdf::{derive, hkdf_sha256};
use phala_crypto::{EcdhSecret, Envelope, EnvelopeError, Purpose};
use phala_primitives::H256;
use proptest::prelude::*;

fn secret(byte: u8) -> EcdhSecret {
    EcdhSecret::from_bytes([byte; 32])
}

#[test]
fn hkdf_matches_rfc5869_case_1() {
    let ikm = [0x0b; 22];
    let salt: Vec<u8> = (0u8..=0x0c).collect();
    let info: Vec<u8> = (0xf0u8..=0xf9).collect();
    assert_eq!(
        hex::encode(hkdf_sha256(&ikm, &salt, &info).as_slice()),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    );
}

/// Case 2's salt is longer than SHA-256's block, so HMAC must hash it first.
#[test]
fn hkdf_matches_rfc5869_case_2_first_block() {
    let ikm: Vec<u8> = (0x00u8..=0x4f).collect();
    let salt: Vec<u8> = (0x60u8..=0xaf).collect();
    let info: Vec<u8> = (0xb0u8..=0xff).collect();
    assert_eq!(
        hex::encode(hkdf_sha256(&ikm, &salt, &info).as_slice()),
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
    );
}

#[test]
fn x25519_matches_rfc7748() {
    let alice =
        hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a").unwrap();
    let alice = EcdhSecret::from_bytes(alice.try_into().unwrap());
    assert_eq!(
        hex::encode(alice.public()),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
}

/// Pinned bytes: any change to the format, the derivation or the associated data shows here.
/// `tests/vectors.py` recomputes both with pyca/cryptography and Python's hmac.
#[test]
fn known_answer() {
    let recipient = secret(2);
    let envelope = Envelope::seal_with(
        &secret(1),
        [3; 12],
        &recipient.public(),
        Purpose::Query,
        Some(H256([4; 32])),
        b"phala",
    )
    .unwrap();
    assert_eq!(
        hex::encode(envelope.encode()),
        KNOWN_ENVELOPE,
        "the envelope format changed"
    );
    assert_eq!(envelope.open(&recipient).unwrap().as_slice(), b"phala");
    assert_eq!(
        hex::encode(derive(&[5; 32], "cluster_key", &[6; 32]).as_slice()),
        KNOWN_DERIVED
    );
}

const KNOWN_ENVELOPE: &str = "ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a20900010404040404040404040404040404040404040404040404040404040404040404030303030303030303030303542fee3ba0b0051f554f1c6acabcf60c1018fd813be6";
const KNOWN_DERIVED: &str = "e5b16e5a3d77d4f0a696e8f93d032b4b1cbca8ba7b70f0ac37427024ce1d2ed6";

#[test]
fn tampering_and_misdelivery_are_refused() {
    let mut rng = commonware_utils::test_rng();
    let recipient = secret(2);
    let contract = Some(H256([4; 32]));
    let good = Envelope::seal(
        &mut rng,
        &recipient.public(),
        Purpose::Query,
        contract,
        b"secret query",
    )
    .unwrap();
    assert_eq!(good.open(&recipient).unwrap().as_slice(), b"secret query");
    assert!(!good.encode().windows(12).any(|w| w == b"secret query"));

    let mut ct = good.clone();
    ct.ciphertext[0] ^= 1;
    assert_eq!(ct.open(&recipient), Err(EnvelopeError::Tampered));
    let mut tag = good.clone();
    *tag.ciphertext.last_mut().unwrap() ^= 1;
    assert_eq!(tag.open(&recipient), Err(EnvelopeError::Tampered));
    let mut iv = good.clone();
    iv.iv[0] ^= 1;
    assert_eq!(iv.open(&recipient), Err(EnvelopeError::Tampered));
    let mut purpose = good.clone();
    purpose.header.purpose = Purpose::Command;
    assert_eq!(purpose.open(&recipient), Err(EnvelopeError::Tampered));
    let mut other_contract = good.clone();
    other_contract.header.contract = Some(H256([5; 32]));
    assert_eq!(
        other_contract.open(&recipient),
        Err(EnvelopeError::Tampered)
    );
    let mut sender = good.clone();
    sender.header.sender = secret(9).public();
    assert_eq!(sender.open(&recipient), Err(EnvelopeError::Tampered));

    // Another key cannot open it, even if the header is rewritten to name it.
    let stranger = secret(7);
    assert_eq!(good.open(&stranger), Err(EnvelopeError::WrongRecipient));
    let mut renamed = good.clone();
    renamed.header.recipient = stranger.public();
    assert_eq!(renamed.open(&stranger), Err(EnvelopeError::Tampered));

    // A low-order sender key gives no secret.
    let mut weak = good;
    weak.header.sender = [0; 32];
    assert_eq!(weak.open(&recipient), Err(EnvelopeError::WeakKey));
    assert_eq!(
        Envelope::seal(&mut rng, &[0; 32], Purpose::Query, None, b"x"),
        Err(EnvelopeError::WeakKey)
    );
}

#[test]
fn decoder_refuses_trailing_and_oversized_bytes() {
    let mut rng = commonware_utils::test_rng();
    let e = Envelope::seal(&mut rng, &secret(2).public(), Purpose::Command, None, b"x").unwrap();
    let mut bytes = e.encode();
    assert_eq!(Envelope::decode_bounded(&bytes).unwrap(), e);
    bytes.push(0);
    assert!(matches!(
        Envelope::decode_bounded(&bytes),
        Err(EnvelopeError::Malformed(_))
    ));
    assert_eq!(
        Envelope::decode_bounded(&vec![0; phala_crypto::MAX_ENVELOPE + 1]),
        Err(EnvelopeError::TooLarge)
    );
}

proptest! {
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(e) = Envelope::decode_bounded(&bytes) {
            let _ = e.open(&secret(2));
        }
    }

    #[test]
    fn any_payload_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..2048), seed in any::<u64>()) {
        let mut rng = commonware_utils::TestRng::new(seed);
        let recipient = secret(2);
        let e = Envelope::seal(&mut rng, &recipient.public(), Purpose::QueryReply, None, &payload).unwrap();
        let opened = e.open(&recipient).unwrap();
        prop_assert_eq!(opened.as_slice(), payload.as_slice());
    }
}
