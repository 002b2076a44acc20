//! Signed queries and signed replies (protocol.md §5).
//!
//! A query travels inside an [`Envelope`](crate::Envelope) to the worker's query key. It may
//! be signed by the caller's account, or by a session key the account certified until a
//! block, so the contract sees who asks; unsigned queries are anonymous. Every query carries
//! a nonce and an expiry height: the worker refuses expired queries and remembers nonces
//! until they expire ([`ReplayGuard`]), so a recorded query cannot be replayed. The reply
//! echoes the nonce and states the block height and hash it was computed at, signed by the
//! worker's identity key, so a client can tell a fresh answer from a stale or forged one.
//!
//! Every signature is over a domain tag and the chain's genesis hash: nothing signed here
//! verifies as anything else, or on another chain.

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::crypto::sr25519_verify;
use phala_primitives::{AccountId32, BlockNumber, H256};
use scale_info::TypeInfo;

/// Longest a query may stay valid, in blocks: bounds the replay guard's memory.
pub const MAX_QUERY_TTL: BlockNumber = 600;

/// The contract id of the worker itself: it answers with `SCALE(Option<AccountId32>)`,
/// the caller it saw, whatever the payload. Clients use it to check a worker end to end.
pub const WORKER_ITSELF: H256 = H256([0; 32]);

/// What [`QueryReply::payload`] holds: SCALE of the answer, or why there is none.
pub type Answer = Result<Vec<u8>, String>;

/// What the caller asks.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct QueryBody {
    /// The worker asked: signed with the rest, so a query cannot be redirected to another
    /// worker.
    pub worker: [u8; 32],
    pub contract: H256,
    /// Random, never reused: the reply echoes it and the worker refuses a repeat.
    pub nonce: [u8; 32],
    /// The last block at which the worker may answer.
    pub expires_at: BlockNumber,
    pub payload: Vec<u8>,
}

/// An account's statement that `session_key` may sign queries for it until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SessionCertificate {
    pub account: AccountId32,
    pub session_key: [u8; 32],
    pub expires_at: BlockNumber,
    /// The account's sr25519 signature over [`SessionCertificate::signing_payload`].
    pub signature: [u8; 64],
}

/// Who signed a query.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum QuerySigner {
    #[codec(index = 0)]
    Account {
        account: AccountId32,
        signature: [u8; 64],
    },
    #[codec(index = 1)]
    Session {
        certificate: SessionCertificate,
        signature: [u8; 64],
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SignedQuery {
    pub body: QueryBody,
    /// `None`: an anonymous query.
    pub signer: Option<QuerySigner>,
}

/// What the worker answers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct QueryReply {
    pub nonce: [u8; 32],
    /// The block whose state the answer was computed on.
    pub height: BlockNumber,
    pub block_hash: H256,
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SignedReply {
    pub reply: QueryReply,
    /// The worker's identity key.
    pub worker: [u8; 32],
    pub signature: [u8; 64],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("the query's signature does not verify")]
    BadSignature,
    #[error("the session certificate's signature does not verify")]
    BadCertificate,
    #[error("the session certificate expired at block #{expired_at} (now #{height})")]
    CertificateExpired {
        expired_at: BlockNumber,
        height: BlockNumber,
    },
    #[error("the query expired at block #{expired_at} (now #{height})")]
    Expired {
        expired_at: BlockNumber,
        height: BlockNumber,
    },
    #[error("the query is valid until #{expires_at}, more than {MAX_QUERY_TTL} blocks ahead")]
    TooLong { expires_at: BlockNumber },
    #[error("this query was already answered (replayed nonce)")]
    Replayed,
    #[error("the worker is answering too many queries; retry later")]
    Busy,
    #[error("the reply is not signed by the expected worker")]
    WrongWorker,
    #[error("the reply answers another query")]
    WrongNonce,
    #[error("the reply's signature does not verify")]
    BadReplySignature,
}

fn payload(domain: &[u8], genesis: &H256, body: &impl Encode) -> Vec<u8> {
    let mut out = domain.to_vec();
    out.extend_from_slice(genesis.as_bytes());
    body.encode_to(&mut out);
    out
}

impl QueryBody {
    pub fn signing_payload(&self, genesis: &H256) -> Vec<u8> {
        payload(b"phala/query/v1", genesis, self)
    }
}

impl SessionCertificate {
    pub fn signing_payload(
        genesis: &H256,
        session_key: &[u8; 32],
        expires_at: BlockNumber,
    ) -> Vec<u8> {
        payload(b"phala/session/v1", genesis, &(session_key, expires_at))
    }
}

impl QueryReply {
    pub fn signing_payload(&self, genesis: &H256) -> Vec<u8> {
        payload(b"phala/reply/v1", genesis, self)
    }
}

impl SignedQuery {
    /// Who asks: `Ok(None)` for an anonymous query, `Ok(Some(account))` for a valid
    /// signature, an error for an invalid one or an expired certificate — a bad signature
    /// never silently becomes anonymous.
    pub fn caller(
        &self,
        genesis: &H256,
        height: BlockNumber,
    ) -> Result<Option<AccountId32>, QueryError> {
        let message = self.body.signing_payload(genesis);
        match &self.signer {
            None => Ok(None),
            Some(QuerySigner::Account { account, signature }) => {
                if sr25519_verify(signature, &message, account.as_bytes()) {
                    Ok(Some(*account))
                } else {
                    Err(QueryError::BadSignature)
                }
            }
            Some(QuerySigner::Session {
                certificate,
                signature,
            }) => {
                let cert_message = SessionCertificate::signing_payload(
                    genesis,
                    &certificate.session_key,
                    certificate.expires_at,
                );
                if !sr25519_verify(
                    &certificate.signature,
                    &cert_message,
                    certificate.account.as_bytes(),
                ) {
                    return Err(QueryError::BadCertificate);
                }
                if height > certificate.expires_at {
                    return Err(QueryError::CertificateExpired {
                        expired_at: certificate.expires_at,
                        height,
                    });
                }
                if sr25519_verify(signature, &message, &certificate.session_key) {
                    Ok(Some(certificate.account))
                } else {
                    Err(QueryError::BadSignature)
                }
            }
        }
    }
}

impl SignedReply {
    /// Checks that `worker` answered the query with `nonce`; returns the reply.
    pub fn verify(
        &self,
        genesis: &H256,
        worker: &[u8; 32],
        nonce: &[u8; 32],
    ) -> Result<&QueryReply, QueryError> {
        if self.worker != *worker {
            return Err(QueryError::WrongWorker);
        }
        if self.reply.nonce != *nonce {
            return Err(QueryError::WrongNonce);
        }
        if !sr25519_verify(
            &self.signature,
            &self.reply.signing_payload(genesis),
            &self.worker,
        ) {
            return Err(QueryError::BadReplySignature);
        }
        Ok(&self.reply)
    }
}

/// Most nonces remembered at once: beyond it new queries are refused until older ones
/// expire, so a flood of queries cannot exhaust the worker's memory.
pub const MAX_REMEMBERED_NONCES: usize = 200_000;

/// Remembers answered nonces until their queries expire, so none is answered twice.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: BTreeMap<[u8; 32], BlockNumber>,
    by_expiry: std::collections::BTreeSet<(BlockNumber, [u8; 32])>,
}

impl ReplayGuard {
    /// Admits `body` at `height` once: refuses it if expired, valid too far ahead, or seen.
    pub fn admit(&mut self, body: &QueryBody, height: BlockNumber) -> Result<(), QueryError> {
        if height > body.expires_at {
            return Err(QueryError::Expired {
                expired_at: body.expires_at,
                height,
            });
        }
        if body.expires_at.saturating_sub(height) > MAX_QUERY_TTL {
            return Err(QueryError::TooLong {
                expires_at: body.expires_at,
            });
        }
        // Forget what can no longer be replayed, oldest first.
        while let Some(&(expires, nonce)) = self.by_expiry.first() {
            if expires >= height {
                break;
            }
            self.by_expiry.pop_first();
            self.seen.remove(&nonce);
        }
        if self.seen.contains_key(&body.nonce) {
            return Err(QueryError::Replayed);
        }
        if self.seen.len() >= MAX_REMEMBERED_NONCES {
            return Err(QueryError::Busy);
        }
        self.seen.insert(body.nonce, body.expires_at);
        self.by_expiry.insert((body.expires_at, body.nonce));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A worker's query key for one epoch, signed by its identity key. Clients check it
/// against the identity registered on chain before encrypting to it. Query keys change every
/// epoch and old ones are erased, so a later break-in cannot open recorded past queries.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct QueryKeyCertificate {
    pub worker: [u8; 32],
    pub epoch: u32,
    /// The x25519 key queries for this epoch are encrypted to.
    pub ecdh_pubkey: [u8; 32],
    pub signature: [u8; 64],
}

impl QueryKeyCertificate {
    pub fn signing_payload(
        genesis: &H256,
        worker: &[u8; 32],
        epoch: u32,
        ecdh_pubkey: &[u8; 32],
    ) -> Vec<u8> {
        payload(
            b"phala/query-key/v1",
            genesis,
            &(worker, epoch, ecdh_pubkey),
        )
    }

    /// Whether `worker` signed this certificate.
    pub fn verify(&self, genesis: &H256, worker: &[u8; 32]) -> bool {
        self.worker == *worker
            && sr25519_verify(
                &self.signature,
                &Self::signing_payload(genesis, &self.worker, self.epoch, &self.ecdh_pubkey),
                &self.worker,
            )
    }
}
