//! Equivocation evidence: two conflicting signed consensus messages from one committee
//! member, checked with nothing but the chain's namespace and the committee of the epoch the
//! messages were signed in. The runtime runs this on evidence submitted in a transaction, so
//! it is deterministic and does no I/O.

use bytes::Bytes;
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{
    Activity, Attributable, ConflictingFinalize, ConflictingNotarize, NullifyFinalize,
};
use commonware_consensus::{Epochable, Viewable};
use commonware_cryptography::certificate::Scheme as _;
use commonware_cryptography::sha256::Digest;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Quorum as _;

/// What the conflicting messages were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffenceKind {
    /// Notarize votes for two different proposals in one view.
    ConflictingNotarize,
    /// Finalize votes for two different proposals in one view.
    ConflictingFinalize,
    /// A nullify vote and a finalize vote in one view.
    NullifyFinalize,
}

/// A proven equivocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offence {
    pub kind: OffenceKind,
    /// The offender's consensus key.
    pub offender: [u8; 32],
    pub epoch: u64,
    pub view: u64,
}

impl Offence {
    /// One id per (offender, epoch, view): the same equivocation cannot be punished twice by
    /// resubmitting other pairs of its messages.
    pub fn id(&self) -> [u8; 32] {
        let mut data = b"phala/offence".to_vec();
        data.extend_from_slice(&self.offender);
        data.extend_from_slice(&self.epoch.to_le_bytes());
        data.extend_from_slice(&self.view.to_le_bytes());
        phala_primitives::hashing::blake2_256(&data)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvidenceError {
    #[error("the evidence does not decode as conflicting consensus messages")]
    Malformed,
    #[error("a committee key is not a valid ed25519 public key")]
    BadCommittee,
    #[error("the evidence's signatures do not verify against the epoch's committee")]
    BadSignature,
    #[error("the signer is not a member of the epoch's committee")]
    NotAMember,
}

// Wire tags of the evidence variants in Commonware's `Activity` encoding.
const TAG_CONFLICTING_NOTARIZE: u8 = 7;
const TAG_CONFLICTING_FINALIZE: u8 = 8;
const TAG_NULLIFY_FINALIZE: u8 = 9;

type Evidence = Activity<Scheme, Digest>;

/// The wire form of a piece of evidence (`None` for activity that is not evidence).
pub fn encode(activity: &Evidence) -> Option<Vec<u8>> {
    match activity {
        Activity::ConflictingNotarize(_)
        | Activity::ConflictingFinalize(_)
        | Activity::NullifyFinalize(_) => Some(activity.encode().to_vec()),
        _ => None,
    }
}

/// Decodes only the three evidence variants; anything else (certificates in particular,
/// whose size depends on the committee) is refused before it is read.
fn decode(bytes: &[u8]) -> Result<(OffenceKind, Evidence), EvidenceError> {
    let (&tag, body) = bytes.split_first().ok_or(EvidenceError::Malformed)?;
    let body = Bytes::copy_from_slice(body);
    Ok(match tag {
        TAG_CONFLICTING_NOTARIZE => (
            OffenceKind::ConflictingNotarize,
            Activity::ConflictingNotarize(
                ConflictingNotarize::decode(body).map_err(|_| EvidenceError::Malformed)?,
            ),
        ),
        TAG_CONFLICTING_FINALIZE => (
            OffenceKind::ConflictingFinalize,
            Activity::ConflictingFinalize(
                ConflictingFinalize::decode(body).map_err(|_| EvidenceError::Malformed)?,
            ),
        ),
        TAG_NULLIFY_FINALIZE => (
            OffenceKind::NullifyFinalize,
            Activity::NullifyFinalize(
                NullifyFinalize::decode(body).map_err(|_| EvidenceError::Malformed)?,
            ),
        ),
        _ => return Err(EvidenceError::Malformed),
    })
}

/// The epoch the evidence's messages claim, to look up the committee that must have signed
/// them. Says nothing about validity.
pub fn claimed_epoch(bytes: &[u8]) -> Result<u64, EvidenceError> {
    let (_, evidence) = decode(bytes)?;
    Ok(match &evidence {
        Activity::ConflictingNotarize(e) => e.epoch().get(),
        Activity::ConflictingFinalize(e) => e.epoch().get(),
        Activity::NullifyFinalize(e) => e.epoch().get(),
        _ => return Err(EvidenceError::Malformed),
    })
}

/// Checks evidence against the committee of its epoch (keys in any order) under the chain's
/// `namespace`, returning the offence it proves.
pub fn verify(
    namespace: &[u8],
    committee: &[[u8; 32]],
    bytes: &[u8],
) -> Result<Offence, EvidenceError> {
    let (kind, evidence) = decode(bytes)?;
    let scheme = crate::verifier(namespace, committee).map_err(|_| EvidenceError::BadCommittee)?;
    let (signer, epoch, view) = match &evidence {
        Activity::ConflictingNotarize(e) => (e.signer(), e.epoch(), e.view()),
        Activity::ConflictingFinalize(e) => (e.signer(), e.epoch(), e.view()),
        Activity::NullifyFinalize(e) => (e.signer(), e.epoch(), e.view()),
        _ => return Err(EvidenceError::Malformed),
    };
    // Two single-signature checks; ed25519 attestation checks take no randomness from the rng,
    // so a fixed one keeps this deterministic.
    let mut rng = commonware_utils::TestRng::new(0);
    if !evidence.verify(&mut rng, &scheme, &Sequential) {
        return Err(EvidenceError::BadSignature);
    }
    let key = scheme
        .participants()
        .key(signer)
        .ok_or(EvidenceError::NotAMember)?;
    let offender: [u8; 32] = key
        .as_ref()
        .try_into()
        .map_err(|_| EvidenceError::NotAMember)?;
    Ok(Offence {
        kind,
        offender,
        epoch: epoch.get(),
        view: view.get(),
    })
}
