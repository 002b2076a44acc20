//! Answers encrypted queries (`POST /query`) from the state the core last verified.
//!
//! A query is an [`Envelope`] sealed to the worker's query key of the current or previous
//! epoch. Inside is a [`SignedQuery`]; the worker checks its signature chain (a bad
//! signature or an expired session certificate is refused, never treated as anonymous),
//! refuses expired and replayed nonces, answers, and seals a [`SignedReply`] — the nonce,
//! the height and hash of the block it answered at, signed by the identity key — to the
//! caller's ephemeral key. Refusals of a readable query (signature, expiry, replay or a
//! caller over its budget, another worker or contract) travel inside that signed, encrypted
//! reply, so only its caller reads the reason; input that does not open or decode gets a
//! plain HTTP 400.
//!
//! The work comes in two stages, so it can be shared fairly (the host's `query_sched`):
//! [`QueryService::open`] (decrypt, check signatures and the replay guard: cheap, and before
//! it the caller is unknown) and [`QueryService::finish`] (run the query, sign, seal).
//! Anonymous contract queries get a fraction of a signed query's gas
//! ([`crate::contracts::ANONYMOUS_GAS_DIVISOR`]).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use parity_scale_codec::{DecodeLimit, Encode};
use phala_crypto::query::{
    Answer, QueryKeyCertificate, QueryReply, ReplayGuard, SignedQuery, SignedReply, Source,
    WORKER_ITSELF,
};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_primitives::{AccountId32, BlockNumber, H256};

use crate::contracts::{ContractRuntime, ContractsState};
use crate::core::WorkerCore;
use crate::gatekeeper::ClusterKey;

/// Why a query got no encrypted answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryServiceError {
    #[error("the worker has not verified any block yet")]
    NotReady,
    #[error("{0}")]
    Envelope(#[from] phala_crypto::EnvelopeError),
    #[error("the envelope is not a query")]
    NotAQuery,
    #[error(
        "this worker is joining its cluster and does not hold the cluster's state yet: ask \
         another member"
    )]
    Joining,
    #[error(
        "the query is sealed to a key this worker no longer holds (query keys change every \
         epoch): fetch the current one from /info"
    )]
    UnknownQueryKey,
}

struct Snapshot {
    genesis: H256,
    height: BlockNumber,
    block_hash: H256,
    /// Query secrets with the last moment (Unix ms) each may open a query.
    secrets: Vec<(EcdhSecret, u64)>,
    identity: Sr25519Pair,
    certificate: Option<QueryKeyCertificate>,
    worker_ecdh: [u8; 32],
    cluster_key: Option<ClusterKey>,
    contracts: Arc<ContractsState>,
    timestamp_ms: u64,
    runtime: Arc<ContractRuntime>,
    analytics: Arc<crate::analytics::AnalyticsState>,
    /// Added to its cluster and still without the cluster's state: it answers nothing of
    /// the cluster's.
    joining: bool,
}

/// Unix milliseconds by the platform's clock.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What the HTTP API answers queries with; refreshed by the host after every import.
#[derive(Default)]
pub struct QueryService {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    replay: Mutex<ReplayGuard>,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryService")
    }
}

impl QueryService {
    /// Takes the core's newest verified block and query keys.
    pub fn update(&self, core: &WorkerCore) {
        let (height, block_hash) = core.head();
        let snapshot = Snapshot {
            genesis: core.genesis_hash(),
            height,
            block_hash,
            secrets: core.query_secrets(),
            identity: core.identity(),
            certificate: core.query_key_certificate(),
            worker_ecdh: core.keys().ecdh_pubkey(),
            cluster_key: core.state().cluster_key.clone(),
            contracts: core.contracts().clone(),
            timestamp_ms: core.state().timestamp_ms,
            runtime: core.contract_runtime().clone(),
            analytics: core.state().analytics.clone(),
            joining: core.state().joining.is_some(),
        };
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some(Arc::new(snapshot));
        }
    }

    /// A service with given keys, for benchmarks and tests without a chain.
    #[doc(hidden)]
    pub fn with_keys(
        genesis: H256,
        height: BlockNumber,
        block_hash: H256,
        query_secret: EcdhSecret,
        identity: Sr25519Pair,
    ) -> Self {
        let service = QueryService::default();
        if let Ok(mut s) = service.snapshot.write() {
            *s = Some(Arc::new(Snapshot {
                genesis,
                height,
                block_hash,
                secrets: vec![(query_secret, u64::MAX)],
                identity,
                certificate: None,
                worker_ecdh: [0; 32],
                cluster_key: None,
                contracts: Arc::default(),
                timestamp_ms: 0,
                runtime: Arc::default(),
                analytics: Arc::default(),
                joining: false,
            }));
        }
        service
    }

    /// How long a query may run (the contract runtime's limit).
    pub fn timeout(&self) -> std::time::Duration {
        self.current()
            .map_or(crate::contracts::DEFAULT_QUERY_TIMEOUT, |s| {
                s.runtime.query_timeout
            })
    }

    /// Gives a service made by [`QueryService::with_keys`] a cluster's contracts, for
    /// benchmarks and tests without a chain.
    #[doc(hidden)]
    pub fn with_contracts(
        self,
        cluster_key: ClusterKey,
        contracts: Arc<ContractsState>,
        runtime: Arc<ContractRuntime>,
    ) -> Self {
        if let Ok(mut s) = self.snapshot.write()
            && let Some(current) = s.as_ref()
        {
            *s = Some(Arc::new(Snapshot {
                genesis: current.genesis,
                height: current.height,
                block_hash: current.block_hash,
                secrets: current
                    .secrets
                    .iter()
                    .map(|(k, until)| (EcdhSecret::from_bytes(*k.to_bytes()), *until))
                    .collect(),
                identity: current.identity.clone(),
                certificate: current.certificate.clone(),
                worker_ecdh: current.worker_ecdh,
                cluster_key: Some(cluster_key),
                contracts,
                timestamp_ms: current.timestamp_ms,
                runtime,
                analytics: current.analytics.clone(),
                joining: false,
            }));
        }
        self
    }

    pub fn certificate(&self) -> Option<QueryKeyCertificate> {
        self.current()?.certificate.clone()
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().ok()?.clone()
    }

    /// This member's cluster state as of its newest block, sealed under the cluster key for
    /// a worker joining the cluster ([`crate::core::seal_state`]), with that block.
    pub fn export_cluster_state(
        &self,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<(BlockNumber, Vec<u8>), crate::core::JoinError> {
        use crate::core::JoinError;
        let snap = self.current().ok_or(JoinError::NoCluster)?;
        if snap.joining {
            return Err(JoinError::Joining);
        }
        let cluster = snap.cluster_key.as_ref().ok_or(JoinError::NoCluster)?;
        let sealed = crate::core::seal_state(
            rng,
            &snap.genesis,
            cluster,
            snap.height,
            &snap.contracts,
            &snap.analytics,
        )?;
        Ok((snap.height, sealed))
    }

    /// Answers one encoded query envelope from `source` with an encoded reply envelope:
    /// [`QueryService::open`] and [`QueryService::finish`] at once, for benchmarks and tests
    /// (the HTTP API schedules the two apart, see the host's `query_sched`).
    pub fn answer(
        &self,
        rng: &mut impl rand_core::CryptoRng,
        request: &[u8],
        source: Source,
    ) -> Result<Vec<u8>, QueryServiceError> {
        let deadline = Instant::now()
            .checked_add(self.timeout())
            .unwrap_or_else(Instant::now);
        let opened = self.open(request, source)?;
        self.finish(rng, opened, deadline)
    }

    /// The first, cheap stage: opens the envelope, checks the query is for this worker, who
    /// signed it, and that it is fresh (the replay guard charges its nonce to the caller and
    /// to `source`). Input that does not open is an error; a readable query that is refused
    /// comes back [`Opened`] with the reason, to be answered sealed.
    pub fn open(&self, request: &[u8], source: Source) -> Result<Opened, QueryServiceError> {
        let _span = tracing::debug_span!("worker.query_open", bytes = request.len()).entered();
        let snap = self.current().ok_or(QueryServiceError::NotReady)?;
        let envelope = Envelope::decode_bounded(request)?;
        if envelope.header.purpose != Purpose::Query {
            return Err(QueryServiceError::NotAQuery);
        }
        // A key past its life is not used even if the host never let the core replace it.
        let now = now_ms();
        let secret = snap
            .secrets
            .iter()
            .find(|(s, until)| *until > now && s.public() == envelope.header.recipient)
            .map(|(s, _)| s)
            .ok_or(QueryServiceError::UnknownQueryKey)?;
        let plaintext = envelope.open(secret)?;
        // Without a readable body there is no nonce to answer to.
        let query = SignedQuery::decode_all_with_depth_limit(8, &mut plaintext.as_slice())
            .map_err(|e| phala_crypto::EnvelopeError::Malformed(format!("the query: {e}")))?;
        let caller = self.check(&snap, &query, envelope.header.contract, source);
        Ok(Opened {
            snap,
            reply_to: envelope.header.sender,
            query,
            caller,
        })
    }

    fn check(
        &self,
        snap: &Snapshot,
        query: &SignedQuery,
        sealed_for: Option<H256>,
        source: Source,
    ) -> Result<Option<AccountId32>, String> {
        if query.body.worker != snap.identity.public() {
            return Err("the query is addressed to another worker".into());
        }
        if sealed_for.is_some_and(|c| c != query.body.contract) {
            return Err("the envelope names another contract than the query".into());
        }
        let caller = query
            .caller(&snap.genesis, snap.height)
            .map_err(|e| e.to_string())?;
        self.replay
            .lock()
            .map_err(|_| "the replay guard is unavailable".to_string())?
            .admit(&query.body, caller, source, snap.height)
            .map_err(|e| e.to_string())?;
        Ok(caller)
    }

    /// Forgets the nonce of a query [`QueryService::open`] admitted but that will not run
    /// (the worker had no room for it), so that its caller may send the same query again.
    pub fn unadmit(&self, opened: &Opened) {
        if let Ok(caller) = opened.caller
            && let Ok(mut replay) = self.replay.lock()
        {
            replay.forget(&opened.query.body, caller);
        }
    }

    /// The second stage: runs an admitted query (a refused one only gets its reason), and
    /// signs and seals the reply to the caller. A contract stops at `deadline`.
    pub fn finish(
        &self,
        rng: &mut impl rand_core::CryptoRng,
        opened: Opened,
        deadline: Instant,
    ) -> Result<Vec<u8>, QueryServiceError> {
        let _span =
            tracing::debug_span!("worker.query_run", accepted = opened.caller.is_ok()).entered();
        let Opened {
            snap,
            reply_to,
            query,
            caller,
        } = opened;
        let answer = caller.and_then(|caller| Self::run(rng, &snap, &query, caller, deadline));
        seal_reply(
            rng,
            &snap,
            query.body.nonce,
            &answer,
            &reply_to,
            query.body.contract,
        )
    }

    fn run(
        rng: &mut impl rand_core::CryptoRng,
        snap: &Snapshot,
        query: &SignedQuery,
        caller: Option<AccountId32>,
        deadline: Instant,
    ) -> Answer {
        if query.body.contract == WORKER_ITSELF {
            return Ok(caller.encode());
        }
        if snap.joining {
            return Err(crate::core::JoinError::Joining.to_string() + ": ask another member");
        }
        if query.body.contract == phala_mq::analytics_api::service_id() {
            return Self::analyse(rng, snap, &query.body.payload, caller);
        }
        let cluster = snap
            .cluster_key
            .as_ref()
            .ok_or_else(|| "this worker is in no cluster: it runs no contracts".to_string())?;
        snap.runtime
            .query(
                snap.contracts.clone(),
                cluster,
                snap.worker_ecdh,
                (snap.height, snap.timestamp_ms),
                caller.map(|a| a.0),
                query.body.contract.0,
                query.body.payload.clone(),
                deadline,
            )
            .map(|result| result.encode())
    }
}

impl QueryService {
    /// An owner's or analyst's analysis ([`phala_mq::analytics_api::AnalyticsQuery`]).
    fn analyse(
        rng: &mut impl rand_core::CryptoRng,
        snap: &Snapshot,
        payload: &[u8],
        caller: Option<AccountId32>,
    ) -> Answer {
        let caller = caller.ok_or_else(|| {
            "an analysis must be signed by the site's owner or an analyst".to_string()
        })?;
        let query = phala_mq::analytics_api::AnalyticsQuery::decode_all_with_depth_limit(
            8,
            &mut &payload[..],
        )
        .map_err(|e| format!("the analysis does not decode: {e}"))?;
        let site = snap.analytics.sites.get(&query.site).ok_or_else(|| {
            crate::analytics::report::ReportError::UnknownSite(query.site).to_string()
        })?;
        let members = snap.cluster_key.as_ref().map_or(1, |c| c.members);
        crate::analytics::report::analyse(
            rng,
            query.site,
            site,
            &caller,
            query.analysis,
            snap.timestamp_ms,
            &snap.analytics.ledger,
            members,
        )
        .map(|answer| answer.encode())
        .map_err(|e| e.to_string())
    }

    /// A visitor's request for what is held about them (`POST /analytics/access`): an
    /// [`phala_mq::analytics_api::AccessRequest`] sealed to the analytics key, answered with
    /// their [`phala_mq::analytics_api::VisitorData`] in a signed reply sealed back to the
    /// request's key. Refusals of a readable request travel inside the reply too.
    pub fn analytics_access(
        &self,
        rng: &mut impl rand_core::CryptoRng,
        request: &[u8],
    ) -> Result<Vec<u8>, QueryServiceError> {
        use phala_mq::analytics_api::{AccessRequest, HeldView, VisitorData};
        let snap = self.current().ok_or(QueryServiceError::NotReady)?;
        if snap.joining {
            return Err(QueryServiceError::Joining);
        }
        let cluster = snap
            .cluster_key
            .as_ref()
            .ok_or(QueryServiceError::NotReady)?;
        let envelope = Envelope::decode_bounded(request)?;
        if envelope.header.purpose != Purpose::Query {
            return Err(QueryServiceError::NotAQuery);
        }
        let service = crate::analytics::service_secret(cluster);
        if envelope.header.recipient != service.public() {
            return Err(QueryServiceError::UnknownQueryKey);
        }
        let plaintext = envelope.open(&service)?;
        let request = AccessRequest::decode_all_with_depth_limit(8, &mut plaintext.as_slice())
            .map_err(|e| phala_crypto::EnvelopeError::Malformed(format!("the request: {e}")))?;
        let skew = crate::analytics::ingest::CLOCK_SKEW_MS;
        let answer: Answer = if !request
            .visitor
            .verify(&request.signing_payload(&snap.genesis), &request.signature)
        {
            Err("the visitor key's signature does not verify".into())
        } else if request.at_ms.abs_diff(now_ms()) > skew {
            Err("the request's time is more than 10 minutes from the worker's".into())
        } else {
            match snap.analytics.sites.get(&request.site) {
                None => Err(format!(
                    "site {} is not served by this cluster",
                    request.site
                )),
                Some(site) => {
                    let record = site.visitors.get(&request.visitor);
                    Ok(VisitorData {
                        consent: record.and_then(|r| r.consent),
                        views: record
                            .map(|r| {
                                r.views
                                    .iter()
                                    .map(|v| HeldView {
                                        at_ms: v.at_ms,
                                        path: v.path.clone(),
                                        referrer: v.referrer.clone(),
                                        device: v.device,
                                        screen: v.screen,
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        erased: site.withdrawn.contains_key(&request.visitor) && record.is_none(),
                        // Only for a consent the chain has ordered: a key nobody consented
                        // with gets no free withdrawals.
                        receipt: record.and_then(|r| r.consent.as_ref()).map(|_| {
                            crate::analytics::consent_receipt(
                                cluster,
                                &snap.genesis,
                                request.site,
                                &request.visitor,
                            )
                        }),
                    }
                    .encode())
                }
            }
        };
        seal_reply(
            rng,
            &snap,
            request.nonce,
            &answer,
            &envelope.header.sender,
            phala_mq::analytics_api::service_id(),
        )
    }
}

/// Signs `answer` with the identity key, naming the snapshot's block and echoing `nonce`,
/// and seals it to the caller's `reply_to` key.
fn seal_reply(
    rng: &mut impl rand_core::CryptoRng,
    snap: &Snapshot,
    nonce: [u8; 32],
    answer: &Answer,
    reply_to: &[u8; 32],
    contract: H256,
) -> Result<Vec<u8>, QueryServiceError> {
    let reply = QueryReply {
        nonce,
        height: snap.height,
        block_hash: snap.block_hash,
        payload: answer.encode(),
    };
    let signature = snap.identity.sign(&reply.signing_payload(&snap.genesis));
    let signed = SignedReply {
        reply,
        worker: snap.identity.public(),
        signature,
    };
    Ok(Envelope::seal(
        rng,
        reply_to,
        Purpose::QueryReply,
        Some(contract),
        &signed.encode(),
    )?
    .encode())
}

/// A query through the first stage ([`QueryService::open`]): readable, and either admitted
/// for its caller or refused with a reason only the caller will read.
pub struct Opened {
    snap: Arc<Snapshot>,
    /// The caller's ephemeral key: the reply is sealed to it.
    reply_to: [u8; 32],
    query: SignedQuery,
    /// Who asks (`None`: anonymous), or why the query is refused.
    caller: Result<Option<AccountId32>, String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// Who the query runs for, if it was admitted: `Some(None)` for an anonymous caller.
    pub fn admitted(&self) -> Option<Option<AccountId32>> {
        self.caller.as_ref().ok().copied()
    }
}
