//! Signed queries and signed replies (docs/protocol.md, *Queries*).
//!
//! A query travels inside an [`Envelope`](crate::Envelope) to the worker's query key. It may
//! be signed by the caller's account, or by a session key the account certified until a
//! block, so the contract sees who asks; unsigned queries are anonymous. Every query carries
//! a nonce and an expiry height: the worker refuses expired queries and remembers nonces
//! until they expire ([`ReplayGuard`]), so a recorded query cannot be replayed; what it
//! remembers is charged to the caller and to the address it came from ([`Source`]), each
//! with a budget, so no one caller can fill it for the others. The reply
//! echoes the nonce and states the block height and hash it was computed at, signed by the
//! worker's identity key, so a client can tell a fresh answer from a stale or forged one.
//!
//! Every signature is over a domain tag and the chain's genesis hash: nothing signed here
//! verifies as anything else, or on another chain.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};

use parity_scale_codec::{Decode, Encode};
use phala_primitives::crypto::sr25519_verify;
use phala_primitives::{AccountId32, BlockNumber, H256};
use scale_info::TypeInfo;

/// Longest a query may stay valid, in blocks: how long the replay guard remembers its nonce
/// and charges it to its caller. Clients ask for 100 (`phala_client::worker`), which leaves a
/// worker up to 50 blocks behind the chain's head room to accept them.
pub const MAX_QUERY_TTL: BlockNumber = 150;

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
    #[error(
        "this caller has {limit} unexpired queries on record, its limit: retry once some \
         expire (queries that expire sooner are forgotten sooner)"
    )]
    CallerBusy { limit: usize },
    #[error(
        "{limit} unexpired queries from this address are on record, its limit: retry once \
         some expire"
    )]
    SourceBusy { limit: usize },
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

/// Most unexpired nonces one caller may have on record: an account (signed queries, through
/// a session key or not) or, for anonymous queries, a [`Source`]. A caller over it is refused
/// until some of its queries expire; others are not affected. At [`MAX_QUERY_TTL`] blocks per
/// query that is a sustained rate of `MAX_NONCES_PER_CALLER / MAX_QUERY_TTL` queries a block.
pub const MAX_NONCES_PER_CALLER: usize = 10_000;
/// Most unexpired nonces of queries from one [`Source`], whoever signed them: accounts cost
/// nothing to make, so one address signing with many must not fill the guard either.
pub const MAX_NONCES_PER_SOURCE: usize = 25_000;
/// Most unexpired nonces of queries from one network ([`Source::network`]: an IPv4 /24, an
/// IPv6 /48), whatever its addresses.
pub const MAX_NONCES_PER_NETWORK: usize = 50_000;
/// Most nonces remembered at once, to bound memory (about 200 bytes each, 50 MB in all):
/// five networks at their limit, so no single address or network reaches it. Beyond it
/// every query is refused until older ones expire.
pub const MAX_REMEMBERED_NONCES: usize = 250_000;

/// Where a query came from, as far as limits go: an IPv4 address, or the /64 network of an
/// IPv6 address (a host is commonly given a whole /64, so each of its addresses would
/// otherwise count as another client). IPv4 addresses mapped into IPv6 are the IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source([u8; 16]);

impl Source {
    /// Stands for clients whose address is unknown: they share one budget.
    pub const UNKNOWN: Source = Source([0; 16]);

    /// The network the source is in, for a second, wider budget: an IPv4 /24 or an IPv6
    /// /48 (a site's usual allocation). Addresses are cheap inside one network (a /48 holds
    /// 65,536 /64s), so per-source budgets alone would let one holder reach the global ones.
    pub fn network(&self) -> Source {
        let v6 = Ipv6Addr::from(self.0);
        let mut network = [0u8; 16];
        match v6.to_ipv4_mapped() {
            Some(v4) => {
                let [a, b, c, _] = v4.octets();
                return Source(
                    std::net::Ipv4Addr::new(a, b, c, 0)
                        .to_ipv6_mapped()
                        .octets(),
                );
            }
            None => {
                let (prefix, _) = self.0.split_at(6);
                let (head, _) = network.split_at_mut(6);
                head.copy_from_slice(prefix);
            }
        }
        Source(network)
    }
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        let v6 = match ip {
            IpAddr::V4(v4) => return Source(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => v6,
        };
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Source(v4.to_ipv6_mapped().octets());
        }
        let mut network = [0u8; 16];
        let octets = v6.octets();
        let (prefix, _) = octets.split_at(8);
        let (head, _) = network.split_at_mut(8);
        head.copy_from_slice(prefix);
        Source(network)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v6 = Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => write!(f, "{v4}"),
            None => write!(f, "{v6}/64"),
        }
    }
}

/// Who pays for remembering a nonce: the account that signed, else the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Payer {
    Account(AccountId32),
    Anonymous(Source),
}

/// A nonce as remembered: a signed query's nonce is its signer's, so a replay is refused
/// whatever address it comes from.
type Remembered = (Option<AccountId32>, [u8; 32]);

/// Remembers answered nonces until their queries expire, so none is answered twice. Each
/// caller and each source has a budget of remembered nonces, so one cannot crowd the others
/// out; the total is capped too.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    /// Each nonce with its expiry and the source it came from.
    seen: HashMap<Remembered, (BlockNumber, Source)>,
    by_expiry: BTreeSet<(BlockNumber, Remembered)>,
    /// Unexpired nonces per payer and per source; entries at zero are removed.
    per_payer: HashMap<Payer, usize>,
    per_source: HashMap<Source, usize>,
    per_network: HashMap<Source, usize>,
}

fn payer(caller: Option<AccountId32>, source: Source) -> Payer {
    match caller {
        Some(account) => Payer::Account(account),
        None => Payer::Anonymous(source),
    }
}

impl ReplayGuard {
    /// Admits `body` at `height` once: refuses it if expired, valid too far ahead, seen, or
    /// over its caller's, its source's or the global budget. `caller` must be what
    /// [`SignedQuery::caller`] returned for it (`None`: anonymous); `source` is where it came
    /// from.
    pub fn admit(
        &mut self,
        body: &QueryBody,
        caller: Option<AccountId32>,
        source: Source,
        height: BlockNumber,
    ) -> Result<(), QueryError> {
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
        self.forget_expired(height);
        let key = (caller, body.nonce);
        if self.seen.contains_key(&key) {
            return Err(QueryError::Replayed);
        }
        let payer = payer(caller, source);
        if self.per_payer.get(&payer).copied().unwrap_or(0) >= MAX_NONCES_PER_CALLER {
            return Err(QueryError::CallerBusy {
                limit: MAX_NONCES_PER_CALLER,
            });
        }
        if self.per_source.get(&source).copied().unwrap_or(0) >= MAX_NONCES_PER_SOURCE {
            return Err(QueryError::SourceBusy {
                limit: MAX_NONCES_PER_SOURCE,
            });
        }
        if self
            .per_network
            .get(&source.network())
            .copied()
            .unwrap_or(0)
            >= MAX_NONCES_PER_NETWORK
        {
            return Err(QueryError::SourceBusy {
                limit: MAX_NONCES_PER_NETWORK,
            });
        }
        if self.seen.len() >= MAX_REMEMBERED_NONCES {
            return Err(QueryError::Busy);
        }
        self.seen.insert(key, (body.expires_at, source));
        self.by_expiry.insert((body.expires_at, key));
        let count = self.per_payer.entry(payer).or_default();
        *count = count.saturating_add(1);
        let count = self.per_source.entry(source).or_default();
        *count = count.saturating_add(1);
        let count = self.per_network.entry(source.network()).or_default();
        *count = count.saturating_add(1);
        Ok(())
    }

    /// Forgets a query admitted but then not run at all (the worker had no room for it), so
    /// its caller may send the very same query again and is not charged for it. Never for a
    /// query that ran: that would let it be replayed.
    pub fn forget(&mut self, body: &QueryBody, caller: Option<AccountId32>) {
        let key = (caller, body.nonce);
        if let Some((expires, source)) = self.seen.remove(&key) {
            self.by_expiry.remove(&(expires, key));
            self.release(key, source);
        }
    }

    /// Forgets what can no longer be replayed, oldest first.
    fn forget_expired(&mut self, height: BlockNumber) {
        while let Some(&(expires, key)) = self.by_expiry.first() {
            if expires >= height {
                break;
            }
            self.by_expiry.pop_first();
            if let Some((_, source)) = self.seen.remove(&key) {
                self.release(key, source);
            }
        }
    }

    fn release(&mut self, (caller, _): Remembered, source: Source) {
        release(&mut self.per_payer, payer(caller, source));
        release(&mut self.per_source, source);
        release(&mut self.per_network, source.network());
    }

    /// Nonces remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Callers and sources with nonces on record: bounded by [`ReplayGuard::len`], since
    /// those with none are forgotten.
    pub fn budgets(&self) -> (usize, usize) {
        (self.per_payer.len(), self.per_source.len())
    }
}

fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let std::collections::hash_map::Entry::Occupied(mut count) = counts.entry(key) {
        *count.get_mut() = count.get().saturating_sub(1);
        if *count.get() == 0 {
            count.remove();
        }
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
