//! Follows phala's chain trusting nothing but a genesis header: every header it accepts is
//! covered by a Commonware simplex finality certificate signed by the committee of its epoch,
//! and committees (and epoch lengths) change only through a finalized epoch-boundary header
//! that announces the next ones.
//!
//! No I/O and no clock: headers and certificates come in, a verdict comes out. Randomness
//! (for batched signature checks) is supplied by the caller, so the crate runs unchanged
//! inside a TEE. Workers use it to follow the chain; nodes use it to check what peers send.

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

pub mod evidence;
mod transcript;

pub use transcript::TranscriptRng;

use bytes::Bytes;
use commonware_codec::{Decode, DecodeExt};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Finalization;
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::ed25519::PublicKey;
use commonware_cryptography::sha256::Digest;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;
use phala_primitives::consensus::{
    CommitteeChange, EpochBounds, EpochLengthChange, MAX_EPOCH_LENGTH, MIN_EPOCH_LENGTH,
};
use phala_primitives::{BlockNumber, DigestItem, H256, Header};
use rand_core::CryptoRng;

/// Engine id of the genesis digest entry with `(block_time_ms, epoch_length)`.
pub const GENESIS_TIMING_ENGINE_ID: [u8; 4] = *b"phcs";

/// The domain every consensus signature of a chain is made in: certificates of one chain
/// never verify on another.
pub fn namespace(genesis_hash: &H256) -> Vec<u8> {
    let mut ns = b"phala:".to_vec();
    ns.extend_from_slice(genesis_hash.as_bytes());
    ns
}

/// A finality certificate as stored and served by nodes.
pub type Certificate = Finalization<Scheme, Digest>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LightClientError {
    #[error("the genesis header is not block 0 or lacks its timing or committee entry")]
    BadGenesis,
    #[error("no headers given")]
    Empty,
    #[error("header #{got} does not follow the verified head #{head}")]
    NotNext { head: BlockNumber, got: BlockNumber },
    #[error("header #{number} does not link to its predecessor's hash")]
    BrokenLink { number: BlockNumber },
    #[error(
        "header #{number} is not in epoch {epoch} (blocks #{first}..=#{last}), where the client is"
    )]
    WrongEpoch {
        number: BlockNumber,
        epoch: u64,
        first: BlockNumber,
        last: BlockNumber,
    },
    #[error("header #{number} ends epoch {epoch}: it must be the last header of the run")]
    PastBoundary { number: BlockNumber, epoch: u64 },
    #[error("the certificate does not decode: {0}")]
    CertificateDecode(String),
    #[error("the certificate is for epoch {got}, not {expected}")]
    CertificateEpoch { expected: u64, got: u64 },
    #[error("the certificate finalizes {certified}, not header {header}")]
    CertificateMismatch { certified: H256, header: H256 },
    #[error("the certificate's signatures do not verify against the committee of epoch {epoch}")]
    BadSignatures { epoch: u64 },
    #[error("boundary header #{number} does not announce the next committee")]
    MissingCommitteeChange { number: BlockNumber },
    #[error("boundary header #{number} announces a malformed committee change")]
    BadCommitteeChange { number: BlockNumber },
    #[error("boundary header #{number} announces a malformed or out-of-range epoch length")]
    BadEpochLength { number: BlockNumber },
    #[error("a committee key is not a valid ed25519 public key")]
    BadKey,
    #[error("header #{number} does not end an epoch: a checkpoint must be an epoch's last block")]
    NotBoundary { number: BlockNumber },
}

/// What a light client must remember to resume where it stopped (workers seal it, with their
/// keys, into their checkpoints).
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub struct LightClientState {
    pub genesis_hash: H256,
    pub epoch: u64,
    /// The current epoch's first and last blocks.
    pub epoch_first: BlockNumber,
    pub epoch_last: BlockNumber,
    pub committee: Vec<[u8; 32]>,
    pub head_number: BlockNumber,
    pub head_hash: H256,
}

/// What the client trusts so far.
#[derive(Clone, Debug)]
pub struct LightClient {
    genesis_hash: H256,
    namespace: Vec<u8>,
    epoch: EpochBounds,
    committee: Vec<[u8; 32]>,
    verifier: Scheme,
    head: (BlockNumber, H256),
}

pub(crate) fn verifier(
    namespace: &[u8],
    committee: &[[u8; 32]],
) -> Result<Scheme, LightClientError> {
    let keys = committee
        .iter()
        .map(|k| PublicKey::decode(Bytes::copy_from_slice(k)).map_err(|_| LightClientError::BadKey))
        .collect::<Result<Vec<_>, _>>()?;
    let set = Set::try_from(keys).map_err(|_| LightClientError::BadKey)?;
    Ok(Scheme::verifier(namespace, set))
}

/// Whether `key` can sit in a committee: the consensus engine and this client decode it.
/// The chain checks this before a key may stand for election, so an elected committee
/// never halts the light clients that follow it.
pub fn is_committee_key(key: &[u8; 32]) -> bool {
    PublicKey::decode(Bytes::copy_from_slice(key)).is_ok()
}

/// The `(block_time_ms, epoch_length)` a genesis header announces.
pub fn genesis_timing(genesis: &Header) -> Option<(u64, u32)> {
    genesis.digest.iter().find_map(|item| match item {
        DigestItem::Consensus(id, data) if *id == GENESIS_TIMING_ENGINE_ID => {
            <(u64, u32) as parity_scale_codec::Decode>::decode(&mut data.as_slice()).ok()
        }
        _ => None,
    })
}

/// The consensus keys whose signatures make `certificate`, and its epoch, once it is checked
/// to finalize `hash` with signatures of `committee` that verify under the chain's
/// namespace. What an explorer shows as a block's signers.
pub fn certificate_signers(
    rng: &mut impl CryptoRng,
    genesis_hash: &H256,
    committee: &[[u8; 32]],
    hash: &H256,
    certificate: &[u8],
) -> Result<(u64, Vec<[u8; 32]>), LightClientError> {
    use commonware_cryptography::certificate::Scheme as _;
    let verifier = verifier(&namespace(genesis_hash), committee)?;
    let cert = Certificate::decode_cfg(
        Bytes::copy_from_slice(certificate),
        &verifier.certificate_codec_config(),
    )
    .map_err(|e| LightClientError::CertificateDecode(e.to_string()))?;
    let epoch = cert.proposal.round.epoch().get();
    let certified = H256(cert.proposal.payload.0);
    if certified != *hash {
        return Err(LightClientError::CertificateMismatch {
            certified,
            header: *hash,
        });
    }
    if !cert.verify(rng, &verifier, &Sequential) {
        return Err(LightClientError::BadSignatures { epoch });
    }
    // Signer indices count in the scheme's (sorted) participant order, not the committee's.
    let participants = verifier.participants();
    let signers = cert
        .certificate
        .signers
        .iter()
        .filter_map(|p| participants.get(usize::try_from(p.get()).ok()?))
        .filter_map(|key| <[u8; 32]>::try_from(key.as_ref()).ok())
        .collect();
    Ok((epoch, signers))
}

impl LightClient {
    /// Starts from a genesis header whose hash the caller trusts.
    pub fn from_genesis(genesis: &Header) -> Result<Self, LightClientError> {
        if genesis.number != 0 {
            return Err(LightClientError::BadGenesis);
        }
        let (_, epoch_length) = genesis_timing(genesis).ok_or(LightClientError::BadGenesis)?;
        if !(MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&epoch_length) {
            return Err(LightClientError::BadGenesis);
        }
        let change = match CommitteeChange::from_header(genesis) {
            Some(Ok(change)) if change.epoch == 0 && !change.keys.is_empty() => change,
            _ => return Err(LightClientError::BadGenesis),
        };
        let hash = genesis.hash();
        let namespace = namespace(&hash);
        let verifier = verifier(&namespace, &change.keys)?;
        Ok(LightClient {
            genesis_hash: hash,
            namespace,
            epoch: EpochBounds {
                epoch: 0,
                first: 0,
                last: epoch_length.saturating_sub(1),
            },
            committee: change.keys,
            verifier,
            head: (0, hash),
        })
    }

    /// Resumes from a saved state. The state is trusted as it is: it must come from this
    /// client's own sealed checkpoint, never from outside the TEE.
    pub fn resume(state: LightClientState) -> Result<Self, LightClientError> {
        if state.epoch_last <= state.epoch_first || state.committee.is_empty() {
            return Err(LightClientError::BadGenesis);
        }
        let namespace = namespace(&state.genesis_hash);
        let verifier = verifier(&namespace, &state.committee)?;
        Ok(LightClient {
            genesis_hash: state.genesis_hash,
            namespace,
            epoch: EpochBounds {
                epoch: state.epoch,
                first: state.epoch_first,
                last: state.epoch_last,
            },
            committee: state.committee,
            verifier,
            head: (state.head_number, state.head_hash),
        })
    }

    /// What [`resume`](Self::resume) needs.
    pub fn state(&self) -> LightClientState {
        LightClientState {
            genesis_hash: self.genesis_hash,
            epoch: self.epoch.epoch,
            epoch_first: self.epoch.first,
            epoch_last: self.epoch.last,
            committee: self.committee.clone(),
            head_number: self.head.0,
            head_hash: self.head.1,
        }
    }

    pub fn genesis_hash(&self) -> H256 {
        self.genesis_hash
    }

    /// Number and hash of the last verified header.
    pub fn head(&self) -> (BlockNumber, H256) {
        self.head
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.epoch
    }

    /// The current epoch's blocks: its last one is the next boundary to verify.
    pub fn epoch_bounds(&self) -> EpochBounds {
        self.epoch
    }

    /// Consensus keys of the committee that signs the current epoch.
    pub fn committee(&self) -> &[[u8; 32]] {
        &self.committee
    }

    /// Verifies `headers`, which must continue the verified head without gaps, within the
    /// current epoch; the last one must be finalized by `certificate` (the encoded Commonware
    /// `Finalization` of the current committee). A run that reaches the epoch's last block
    /// must end there; the client then moves to the committee that block announces.
    pub fn import(
        &mut self,
        rng: &mut impl CryptoRng,
        headers: &[Header],
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        let last = headers.last().ok_or(LightClientError::Empty)?;
        let (mut number, mut hash) = self.head;
        for header in headers {
            let expected = number.saturating_add(1);
            if header.number != expected {
                return Err(LightClientError::NotNext {
                    head: number,
                    got: header.number,
                });
            }
            if header.parent_hash != hash {
                return Err(LightClientError::BrokenLink {
                    number: header.number,
                });
            }
            self.check_in_epoch(header.number)?;
            if header.number == self.epoch.last && !std::ptr::eq(header, last) {
                return Err(LightClientError::PastBoundary {
                    number: header.number,
                    epoch: self.epoch.epoch,
                });
            }
            number = header.number;
            hash = header.hash();
        }
        self.certify(rng, last, certificate)
    }

    /// Skips from the verified head to the last block of the current epoch on that block's
    /// certificate alone, and moves to the committee it announces. The committee of an
    /// epoch finalizes exactly one block at each height, so its certificate of the epoch's
    /// last block proves that block without the ones before it. A chain of these, one per
    /// epoch, carries trust from genesis to a recent block cheaply; the skipped blocks'
    /// contents stay unverified, so a worker that starts this way knows nothing of them.
    pub fn import_boundary(
        &mut self,
        rng: &mut impl CryptoRng,
        boundary: &Header,
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        let number = boundary.number;
        self.check_in_epoch(number)?;
        if number != self.epoch.last {
            return Err(LightClientError::NotBoundary { number });
        }
        self.import_header(rng, boundary, certificate)
    }

    /// Moves the head to `header`, anywhere after it in the current epoch (the epoch's last
    /// block included, which switches committee), on its certificate alone: the committee of
    /// an epoch finalizes exactly one block at each height. What an on-chain client of
    /// another chain needs, where a relayer submits only the headers whose state it proves
    /// against.
    pub fn import_header(
        &mut self,
        rng: &mut impl CryptoRng,
        header: &Header,
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        let number = header.number;
        self.check_in_epoch(number)?;
        if number <= self.head.0 {
            return Err(LightClientError::NotNext {
                head: self.head.0,
                got: number,
            });
        }
        self.certify(rng, header, certificate)
    }

    /// Checks that `certificate` is the current committee's finalization of `header`, which
    /// must lie in the current epoch, without moving the head: a header at a height already
    /// passed that differs from the one accepted there is proof that the committee signed
    /// two blocks at one height.
    pub fn check_certified(
        &self,
        rng: &mut impl CryptoRng,
        header: &Header,
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        self.check_in_epoch(header.number)?;
        self.verify_certificate(rng, header, certificate)
    }

    fn check_in_epoch(&self, number: BlockNumber) -> Result<(), LightClientError> {
        if self.epoch.contains(number) {
            return Ok(());
        }
        Err(LightClientError::WrongEpoch {
            number,
            epoch: self.epoch.epoch,
            first: self.epoch.first,
            last: self.epoch.last,
        })
    }

    /// Checks that `certificate` is the current committee's finalization of `header`.
    fn verify_certificate(
        &self,
        rng: &mut impl CryptoRng,
        header: &Header,
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        let hash = header.hash();
        let cert = Certificate::decode_cfg(
            Bytes::copy_from_slice(certificate),
            &self.verifier.certificate_codec_config(),
        )
        .map_err(|e| LightClientError::CertificateDecode(e.to_string()))?;
        let cert_epoch = cert.proposal.round.epoch().get();
        if cert_epoch != self.epoch.epoch {
            return Err(LightClientError::CertificateEpoch {
                expected: self.epoch.epoch,
                got: cert_epoch,
            });
        }
        let certified = H256(cert.proposal.payload.0);
        if certified != hash {
            return Err(LightClientError::CertificateMismatch {
                certified,
                header: hash,
            });
        }
        if !cert.verify(rng, &self.verifier, &Sequential) {
            return Err(LightClientError::BadSignatures {
                epoch: self.epoch.epoch,
            });
        }
        Ok(())
    }

    /// Checks that `certificate` is the current committee's finalization of `last`, then
    /// makes `last` the head, switching committee if it ends the epoch. The caller has
    /// checked that `last` belongs to the current epoch and follows the head.
    fn certify(
        &mut self,
        rng: &mut impl CryptoRng,
        last: &Header,
        certificate: &[u8],
    ) -> Result<(), LightClientError> {
        self.verify_certificate(rng, last, certificate)?;
        let (number, hash) = (last.number, last.hash());
        // Everything checks: advance, and switch committee (and length) at a boundary.
        if number == self.epoch.last {
            let change = match CommitteeChange::from_header(last) {
                None => return Err(LightClientError::MissingCommitteeChange { number }),
                Some(Err(_)) => return Err(LightClientError::BadCommitteeChange { number }),
                Some(Ok(change)) => change,
            };
            let next_epoch = self.epoch.epoch.saturating_add(1);
            if change.epoch != next_epoch || change.keys.is_empty() {
                return Err(LightClientError::BadCommitteeChange { number });
            }
            let length = match EpochLengthChange::from_header(last) {
                None => self.epoch.length(),
                Some(Ok(EpochLengthChange { epoch, length }))
                    if epoch == next_epoch
                        && (MIN_EPOCH_LENGTH..=MAX_EPOCH_LENGTH).contains(&length) =>
                {
                    length
                }
                Some(_) => return Err(LightClientError::BadEpochLength { number }),
            };
            let next = self
                .epoch
                .next(length)
                .ok_or(LightClientError::BadEpochLength { number })?;
            self.verifier = verifier(&self.namespace, &change.keys)?;
            self.committee = change.keys;
            self.epoch = next;
        }
        self.head = (number, hash);
        Ok(())
    }
}
