//! The worker's core: verified inputs in, signed messages out, no I/O.
//!
//! It trusts nothing the host hands it. Headers must extend the light client's head and
//! carry a finality certificate of the committee it knows; each block's facts (the chain's
//! outbound messages, this worker's registration, how far the chain has read its messages)
//! must come with a read proof against that header's state root. A batch that fails any check
//! is refused as a whole, with the reason, and the core's state is unchanged.

use parity_scale_codec::{Decode, Encode};
use phala_light_client::{LightClient, LightClientError, LightClientState};
use phala_mq::topics::{self, WorkerEvent, WorkerEventWithKey, WorkerReport};
use phala_mq::{Message, MessageOrigin, SignedMessage};
use phala_primitives::storage::{self, Hasher};
use phala_primitives::worker::WorkerRegistrationInfo;
use phala_primitives::{BlockNumber, H256, Header};
use phala_runtime::modules::registry::WorkerInfo;
use phala_runtime::modules::registry::gatekeeper::MasterPubkeyRecord;
use rand_core::CryptoRng;

use std::collections::BTreeMap;
use std::sync::Arc;

use parity_scale_codec::DecodeLimit;
use phala_mq::computation::{
    COMPUTATION_EVENT, ComputationEvent, HEARTBEAT, Heartbeat, SETTLEMENT,
};
use phala_mq::contracts::{CONTRACT_COMMAND, CONTRACT_REPORT, ContractCommand, ContractReport};

use crate::computing::{Economy, MySession};
use crate::contracts::{ContractRuntime, ContractsState};
use crate::gatekeeper::{self, ClusterKey, Effects, MasterKeys};
use crate::keys::WorkerKeys;
use phala_crypto::keys::Seed;
use phala_crypto::query::QueryKeyCertificate;
use phala_mq::topics::{ClusterEvent, GatekeeperEvent, GatekeeperReport};

mod join;
pub use join::{JoinError, Joining, KeptBlock, max_sealed_state_bytes, seal_state};

/// One finalized block as the relayer delivers it: the header and a read proof of
/// [`WorkerCore::proof_keys`] against its state root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncBlock {
    pub header: Header,
    pub proof: Vec<Vec<u8>>,
}

/// Consecutive blocks of one epoch, and the finality certificate of the last.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SyncBatch {
    pub blocks: Vec<SyncBlock>,
    pub certificate: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    #[error("refused header: {0}")]
    Header(#[from] LightClientError),
    #[error("refused state proof for block #{number}: {reason}")]
    Proof { number: BlockNumber, reason: String },
    #[error("block #{number}: {what} in the proven state does not decode")]
    Undecodable {
        number: BlockNumber,
        what: &'static str,
    },
    /// Uploaded codes this worker has not loaded yet: the host fetches them (they are
    /// public, and checked against their hash) and imports again.
    #[error("{} uploaded code(s) not loaded yet", .0.len())]
    MissingCodes(Vec<[u8; 32]>),
    /// The chain runs a runtime version newer than this worker knows: it stops before the
    /// first block of that version rather than read state it may misunderstand.
    #[error(
        "block #{number} runs runtime spec version {spec_version}, and this worker knows spec \
         version {newest} at most: install a phala release that supports spec version \
         {spec_version} and start the worker again on the same base path"
    )]
    UnsupportedRuntime {
        number: BlockNumber,
        spec_version: u32,
        newest: u32,
    },
}

/// What the core remembers between restarts (sealed into the checkpoint).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CoreState {
    pub light: LightClientState,
    /// The next sequence this worker will sign.
    pub next_sequence: u64,
    /// Signed messages the chain has not yet accepted, in sequence order.
    pub pending: Vec<SignedMessage>,
    /// This worker's registration, as last proven.
    pub registration: Option<WorkerInfo>,
    /// Whether a benchmark was requested and not yet answered.
    pub bench_requested: bool,
    /// Chain → worker messages processed, in total.
    pub processed_messages: u64,
    /// The master keys, once this worker is a gatekeeper.
    pub master: Option<MasterKeys>,
    /// The key of the cluster this worker belongs to, once delivered.
    pub cluster_key: Option<ClusterKey>,
    /// The cluster's contracts and their state.
    pub contracts: Arc<ContractsState>,
    /// The last proven block's timestamp: contracts' `now`.
    pub timestamp_ms: u64,
    /// Key reports from blocks too old by the TEE's clock to act on (a rolled-back
    /// checkpoint replays real but stale events): sent once a fresh block shows they are
    /// still wanted.
    pub held_key_reports: Vec<GatekeeperReport>,
    /// Every session, replayed from genesis: what a gatekeeper settles from.
    pub economy: Economy,
    /// This worker's own session, for answering challenges.
    pub session: MySession,
    /// Work done since this worker first computed, counted by the host; never decreases.
    pub iterations: u64,
    /// The cluster's Web3 Analytics sites and their data.
    pub analytics: Arc<crate::analytics::AnalyticsState>,
    /// Added to a cluster that exists: waiting for a member's state ([`join`]).
    pub joining: Option<Joining>,
}

/// What the host should do after an import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Blocks imported.
    pub blocks: u32,
    /// Run the benchmark for this many seconds and call [`WorkerCore::benchmark_done`].
    pub run_benchmark: Option<u32>,
    /// The registration became visible in this batch.
    pub registered: bool,
    /// Key events worth a log line (never a secret).
    pub notes: Vec<String>,
}

pub struct WorkerCore {
    keys: WorkerKeys,
    light: LightClient,
    state: CoreState,
    /// Query keys: the current one and, for a short grace after a change, the one before
    /// (for queries in flight). Only in memory, never in the checkpoint: a restart makes a
    /// new one, and a key dropped here is gone, so a later break-in opens no recorded query.
    query_keys: Vec<QueryKey>,
    /// The newest query key's certificate.
    query_certificate: Option<QueryKeyCertificate>,
    contract_runtime: Arc<ContractRuntime>,
    /// Reports of commands another member was to report, by command id, in case the chain
    /// reassigns one here. Only in memory (bounded): after a restart the chain's next
    /// reassignment goes to another member.
    held_reports: BTreeMap<u64, Vec<u8>>,
    /// Whether the operator was told this gatekeeper cannot settle (once per run).
    said_incomplete: bool,
    /// The newest runtime version this worker reads blocks of.
    newest_spec_version: u32,
}

/// Most reports held for reassignment; the oldest go first.
const MAX_HELD_REPORTS: usize = 4_096;
/// Most key reports held back while replaying stale blocks.
const MAX_HELD_KEY_REPORTS: usize = 1_024;
/// How old (by the TEE's clock) a block may be for its key events to be acted on at once.
pub const KEY_EVENT_FRESHNESS_MS: u64 = 10 * 60 * 1000;
/// Longest a query key is used, even if the chain does not advance to the next epoch.
pub const QUERY_KEY_MAX_AGE_MS: u64 = 60 * 60 * 1000;
/// How long a replaced query key still opens queries in flight.
pub const QUERY_KEY_GRACE_MS: u64 = 60 * 1000;

impl std::fmt::Debug for WorkerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerCore")
            .field("pubkey", &hex::encode(self.keys.pubkey()))
            .field("head", &self.light.head())
            .finish()
    }
}

/// Storage keys the core needs proven at every block.
pub fn proof_keys(pubkey: &[u8; 32]) -> [Vec<u8>; 9] {
    use phala_runtime::modules::registry::gatekeeper;
    [
        phala_mq::outbound_messages_key(),
        storage::map_key(
            "Registry",
            "Workers",
            Hasher::Blake2_128Concat,
            &pubkey.encode(),
        ),
        storage::map_key(
            "MessageQueue",
            "OffchainIngress",
            Hasher::Blake2_128Concat,
            &MessageOrigin::Worker(*pubkey).encode(),
        ),
        gatekeeper::GATEKEEPERS.key(),
        gatekeeper::MASTER_PUBKEY_HISTORY.key(),
        // Contracts' `now` in commands: the block's time, the same on every worker.
        phala_runtime::modules::timestamp::NOW.key(),
        // The economics gatekeepers settle with, and the first block still unsettled.
        phala_runtime::modules::computation::PARAMS.key(),
        phala_runtime::modules::computation::NEXT_SETTLEMENT.key(),
        // The runtime version each block ran with: a worker stops at one it does not know.
        phala_runtime::modules::system::LAST_RUNTIME_UPGRADE.key(),
    ]
}

impl WorkerCore {
    /// A fresh core following the chain from `light`'s head.
    pub fn new(keys: WorkerKeys, light: LightClient) -> Self {
        // Only a core that replays the chain from genesis sees every session start.
        let from_genesis = light.head().0 == 0;
        let state = CoreState {
            light: light.state(),
            next_sequence: 0,
            pending: Vec::new(),
            registration: None,
            bench_requested: false,
            processed_messages: 0,
            master: None,
            cluster_key: None,
            contracts: Arc::default(),
            timestamp_ms: 0,
            held_key_reports: Vec::new(),
            economy: Economy::new(from_genesis),
            session: MySession::default(),
            iterations: 0,
            analytics: Arc::default(),
            joining: None,
        };
        Self::assemble(keys, light, state)
    }

    /// A core around `state`, with what lives only in memory starting empty.
    fn assemble(keys: WorkerKeys, light: LightClient, state: CoreState) -> Self {
        WorkerCore {
            keys,
            light,
            state,
            query_keys: Vec::new(),
            query_certificate: None,
            contract_runtime: Arc::default(),
            held_reports: BTreeMap::new(),
            said_incomplete: false,
            newest_spec_version: phala_runtime::version::NEWEST_SPEC_VERSION,
        }
    }

    /// Reads blocks of runtime versions up to `newest` only (at most this build's): what an
    /// operator rehearsing an upgrade sets to act as an older release.
    pub fn with_newest_spec_version(mut self, newest: u32) -> Self {
        self.newest_spec_version = newest.min(phala_runtime::version::NEWEST_SPEC_VERSION);
        self
    }

    /// Runs contracts with `runtime` (its HTTP allowlist and query limits).
    pub fn with_contract_runtime(mut self, runtime: Arc<ContractRuntime>) -> Self {
        self.contract_runtime = runtime;
        self
    }

    pub fn contract_runtime(&self) -> &Arc<ContractRuntime> {
        &self.contract_runtime
    }

    pub fn contracts(&self) -> &Arc<ContractsState> {
        &self.state.contracts
    }

    /// Loads a code (from anywhere: it is checked against its hash when used). Returns its
    /// hash.
    pub fn add_code(&self, wasm: &[u8]) -> [u8; 32] {
        self.contract_runtime.codes.add(wasm)
    }

    /// Uploaded codes the state knows and this worker has not loaded.
    pub fn missing_codes(&self) -> Vec<[u8; 32]> {
        self.state
            .contracts
            .codes
            .iter()
            .filter(|h| !self.contract_runtime.codes.contains(h))
            .copied()
            .collect()
    }

    /// Resumes from a checkpoint.
    pub fn resume(keys: WorkerKeys, state: CoreState) -> Result<Self, CoreError> {
        let light = LightClient::resume(state.light.clone())?;
        Ok(Self::assemble(keys, light, state))
    }

    pub fn state(&self) -> &CoreState {
        &self.state
    }

    pub fn keys(&self) -> &WorkerKeys {
        &self.keys
    }

    pub fn head(&self) -> (BlockNumber, H256) {
        self.light.head()
    }

    /// The blocks of the epoch the verified head is in (or, at its boundary, the next).
    pub fn epoch_bounds(&self) -> phala_primitives::consensus::EpochBounds {
        self.light.epoch_bounds()
    }

    pub fn genesis_hash(&self) -> H256 {
        self.light.genesis_hash()
    }

    pub fn proof_keys(&self) -> [Vec<u8>; 9] {
        proof_keys(&self.keys.pubkey())
    }

    /// The registration this worker submits, bound into its quote's report data.
    pub fn registration_info(
        &self,
        operator: Option<phala_primitives::AccountId32>,
        machine_id: Vec<u8>,
        cores: u32,
    ) -> WorkerRegistrationInfo {
        WorkerRegistrationInfo {
            version: crate::VERSION,
            machine_id,
            pubkey: self.keys.pubkey(),
            ecdh_pubkey: self.keys.ecdh_pubkey(),
            genesis_hash: self.genesis_hash(),
            features: vec![cores],
            operator,
            recent_block: self.head().0,
            recent_block_hash: self.head().1,
        }
    }

    /// Verifies and applies a batch: all of it, or nothing. `now_ms` is the TEE's clock
    /// (Unix milliseconds): key events in blocks older than [`KEY_EVENT_FRESHNESS_MS`] by it
    /// change what this worker holds but are acted on only once a fresh block shows they
    /// are still wanted, and query keys age by it.
    pub fn import(
        &mut self,
        rng: &mut impl CryptoRng,
        batch: &SyncBatch,
        now_ms: u64,
    ) -> Result<Outcome, CoreError> {
        let _span = tracing::debug_span!(
            "worker.import",
            blocks = batch.blocks.len(),
            last = batch.blocks.last().map(|b| b.header.number)
        )
        .entered();
        let headers: Vec<Header> = batch.blocks.iter().map(|b| b.header.clone()).collect();
        let mut light = self.light.clone();
        light.import(rng, &headers, &batch.certificate)?;

        // Every proof is checked before anything changes.
        let keys = self.proof_keys();
        let mut facts = Vec::with_capacity(batch.blocks.len());
        for block in &batch.blocks {
            facts.push(BlockFacts::prove(block, &keys)?);
        }

        // A block of a runtime version this worker does not know is not read at all.
        if let Some(fact) = facts
            .iter()
            .find(|f| f.spec_version > self.newest_spec_version)
        {
            return Err(CoreError::UnsupportedRuntime {
                number: fact.number,
                spec_version: fact.spec_version,
                newest: self.newest_spec_version,
            });
        }

        // Every code a command could use must be loaded first, or workers would disagree.
        let mut missing = self.missing_codes();
        for fact in &facts {
            for message in &fact.messages {
                if let Some(ContractCommand::CodeUploaded { code_hash }) = contract_command(message)
                    && !self.contract_runtime.codes.contains(&code_hash.0)
                    && !missing.contains(&code_hash.0)
                {
                    missing.push(code_hash.0);
                }
            }
        }
        if !missing.is_empty() {
            return Err(CoreError::MissingCodes(missing));
        }

        // Apply, in block order. A joining worker's kept commands (up to 64 MiB) are taken,
        // not cloned: nothing below returns early, and the new state replaces the old.
        let joining = self.state.joining.take();
        let mut state = self.state.clone();
        state.joining = joining;
        let mut outcome = Outcome {
            blocks: u32::try_from(batch.blocks.len()).unwrap_or(u32::MAX),
            ..Default::default()
        };
        let me = self.keys.pubkey();
        // Taken, not cloned (it can hold megabytes): nothing below returns early, and it is
        // put back at the end.
        let mut held = std::mem::take(&mut self.held_reports);
        let last_number = facts.last().map_or(0, |f| f.number);
        let next_settlement = facts.last().map_or(0, |f| f.next_settlement);
        for BlockFacts {
            number,
            params,
            next_settlement: _,
            messages,
            registration,
            ingress,
            gatekeepers,
            record,
            now,
            spec_version: _,
        } in facts
        {
            state.timestamp_ms = now;
            let fresh = now_ms.saturating_sub(now) <= KEY_EVENT_FRESHNESS_MS;
            // A joining worker's cluster commands of this block, kept for after its state.
            let mut kept = Vec::new();
            for message in messages {
                state.processed_messages = state.processed_messages.saturating_add(1);
                if state.joining.is_some()
                    && let Some(key) = &state.cluster_key
                    && join::is_kept(&message, &key.cluster)
                {
                    kept.push(message);
                    continue;
                }
                if let (Some(event), Some(params)) = (computation_event(&message), &params) {
                    state.economy.on_event(params, number, &event);
                    let answer = state
                        .session
                        .on_event(&me, number, &event, state.iterations);
                    // Only challenges the chain still takes an answer to (with two
                    // blocks for the answer to reach one): an old block replayed after
                    // a restart is not answered.
                    if let Some(challenge_block) = answer
                        && last_number.saturating_sub(number).saturating_add(2)
                            <= params.heartbeat_window
                    {
                        let heartbeat = Heartbeat {
                            challenge_block,
                            // Counted from the session's start, as the gatekeepers count.
                            iterations: state
                                .iterations
                                .saturating_sub(state.session.iterations_at_start),
                        };
                        state.session.heartbeats = state.session.heartbeats.saturating_add(1);
                        self.send_report(&mut state, HEARTBEAT, heartbeat.encode(), &mut outcome);
                    }
                    continue;
                }
                if let Some(command) = contract_command(&message) {
                    if let ContractCommand::Reassign { id, reporter, .. } = command {
                        if reporter == me
                            && let Some(report) = held.remove(&id)
                        {
                            outcome
                                .notes
                                .push(format!("command {id} reassigned here: reporting it"));
                            self.send_report(&mut state, CONTRACT_REPORT, report, &mut outcome);
                        }
                        continue;
                    }
                    let report = self.contract_runtime.command(
                        rng,
                        &mut state.contracts,
                        state.cluster_key.as_ref(),
                        self.keys.ecdh_pubkey(),
                        (number, state.timestamp_ms),
                        command,
                        &mut outcome.notes,
                    );
                    // One member reports each command; every member ran it, and the others
                    // keep their report in case the chain reassigns the command to them.
                    if let Some((report, reporter)) = report {
                        if reporter == me {
                            self.send_report(
                                &mut state,
                                CONTRACT_REPORT,
                                report.encode(),
                                &mut outcome,
                            );
                        } else {
                            let ContractReport::Executed { id, .. } = &report;
                            held.insert(*id, report.encode());
                            while held.len() > MAX_HELD_REPORTS {
                                held.pop_first();
                            }
                        }
                    }
                    continue;
                }
                if message.destination == phala_mq::analytics::ANALYTICS_COMMAND {
                    let cluster = state.cluster_key.as_ref();
                    let note = Arc::make_mut(&mut state.analytics).on_message(
                        &message,
                        cluster,
                        state.timestamp_ms,
                    );
                    outcome.notes.extend(note);
                    continue;
                }
                let from_chain = message.sender == MessageOrigin::pallet("Registry")
                    || message.sender == MessageOrigin::pallet("Contracts");
                if from_chain && message.destination == topics::GATEKEEPER_EVENT {
                    if let Ok(event) = GatekeeperEvent::decode(&mut message.payload.as_slice()) {
                        let mut fx = Effects::default();
                        gatekeeper::on_gatekeeper_event(
                            &mut state.master,
                            &self.keys,
                            rng,
                            event,
                            &record,
                            &mut fx,
                        );
                        self.apply_key_effects(&mut state, fx, fresh, &mut outcome);
                    }
                    continue;
                }
                if from_chain && message.destination == topics::CLUSTER_EVENT {
                    if let Ok(event) = ClusterEvent::decode(&mut message.payload.as_slice()) {
                        let mut fx = Effects::default();
                        let taken = gatekeeper::on_cluster_event(
                            &mut state.cluster_key,
                            &self.keys,
                            event,
                            &mut fx,
                        );
                        if taken.is_some() {
                            // Whatever another cluster left here is not this one's (and a
                            // worker that left keeps nothing of its cluster's).
                            state.contracts = Arc::new(ContractsState {
                                codes: std::mem::take(
                                    &mut Arc::make_mut(&mut state.contracts).codes,
                                ),
                                ..Default::default()
                            });
                            state.analytics = Arc::default();
                            state.joining = None;
                        }
                        if taken == Some(gatekeeper::KeyTaken::Joined) {
                            state.joining = Some(Joining::new(number));
                            outcome.notes.push(format!(
                                "added to a cluster that exists: waiting for a member's state \
                                 from block #{number} on (GET /cluster/state of a member)"
                            ));
                        }
                        self.apply_key_effects(&mut state, fx, fresh, &mut outcome);
                    }
                    continue;
                }
                if message.sender != MessageOrigin::pallet("Registry")
                    || message.destination != topics::WORKER_EVENT
                {
                    continue;
                }
                let Ok(event) = WorkerEventWithKey::decode(&mut message.payload.as_slice()) else {
                    continue;
                };
                if event.pubkey != me {
                    continue;
                }
                match event.event {
                    WorkerEvent::BenchStart { .. } => state.bench_requested = true,
                    WorkerEvent::BenchScoreRecorded { .. } => state.bench_requested = false,
                }
            }
            if let Some(params) = &params {
                let settlement = state.economy.end_block(params, number);
                // Every gatekeeper sends its copy of each block's settlement the chain still
                // takes, and of recent ones even if settled: each copy is a vote the chain
                // judges, and a gatekeeper a few blocks behind must not leave a fast
                // faulty copy unopposed. A gatekeeper back from a long outage catches up
                // on the blocks still unsettled only (each full copy costs block room).
                // Only a complete economy settles: one started from a checkpoint would be
                // outvoted, and slashed, for the sessions it never saw.
                let behind = last_number.saturating_sub(number);
                let wanted = gatekeepers.contains(&me)
                    && !settlement.is_empty()
                    && behind < phala_runtime::modules::computation::SETTLEMENT_MEMORY
                    && (number >= next_settlement || behind <= VOTE_WINDOW);
                if wanted && state.economy.complete {
                    self.send_report(&mut state, SETTLEMENT, settlement.encode(), &mut outcome);
                } else if wanted && !self.said_incomplete {
                    self.said_incomplete = true;
                    outcome.notes.push(
                        "this gatekeeper followed the chain from a checkpoint, so its economy                          lacks the sessions started before it: it sends no settlements (they                          would be outvoted and its operator slashed); to settle, start it                          from genesis with a fresh base path"
                            .into(),
                    );
                }
            }
            if let Some(joining) = state.joining.as_mut() {
                outcome.notes.extend(joining.keep(number, now, kept));
            } else if !state.analytics.sites.is_empty() {
                Arc::make_mut(&mut state.analytics).end_block(state.timestamp_ms, number);
            }
            let mut fx = Effects::default();
            gatekeeper::reconcile(
                &mut state.master,
                gatekeepers.contains(&me),
                &record,
                number,
                &mut fx,
            );
            self.apply_key_effects(&mut state, fx, fresh, &mut outcome);
            if fresh && !state.held_key_reports.is_empty() {
                let held = std::mem::take(&mut state.held_key_reports);
                let wanted = gatekeeper::still_wanted(held, &record, &gatekeepers);
                if !wanted.is_empty() {
                    outcome.notes.push(format!(
                        "caught up: sending {} key report(s) held while replaying old blocks",
                        wanted.len()
                    ));
                }
                for report in wanted {
                    let (topic, payload) = report.topic_and_payload();
                    self.send_report(&mut state, topic, payload, &mut outcome);
                }
            }
            if state.registration.is_none() && registration.is_some() {
                outcome.registered = true;
            }
            state.registration = registration;
            // The chain has consumed every sequence below `ingress`.
            state.pending.retain(|m| m.sequence >= ingress);
            state.next_sequence = state.next_sequence.max(ingress);
        }
        // A registered worker without a score benchmarks, unless its report is on its way:
        // asked again after a restart, so an interrupted benchmark never strands it.
        let scored = state
            .registration
            .as_ref()
            .is_some_and(|r| r.initial_score.is_some());
        if scored {
            state.bench_requested = false;
        }
        let reporting = state
            .pending
            .iter()
            .any(|m| m.message.destination == topics::WORKER_REPORT);
        if state.registration.is_some() && !scored && !reporting {
            outcome.run_benchmark = Some(topics::BENCHMARK_SECONDS);
        }

        state.light = light.state();
        self.light = light;
        self.state = state;
        self.held_reports = held;
        let _ = self.tick(rng, now_ms);
        Ok(outcome)
    }

    /// Keeps query keys within their lifetime by the TEE's clock: a new key each epoch or
    /// after [`QUERY_KEY_MAX_AGE_MS`], and the previous one erased after
    /// [`QUERY_KEY_GRACE_MS`], whether or not the host advances the chain. The host calls
    /// it regularly; imports call it too.
    /// Returns whether the query keys changed.
    pub fn tick(&mut self, rng: &mut impl CryptoRng, now_ms: u64) -> bool {
        let epoch = u32::try_from(self.light.epoch()).unwrap_or(u32::MAX);
        let changed = rotate_query_keys(&mut self.query_keys, epoch, now_ms, rng);
        if changed {
            // Signed once per key, not each time it is shown.
            self.query_certificate = self.certify_query_key();
        }
        changed
    }

    /// Sends key reports at once from a fresh block; holds them from a stale one.
    fn apply_key_effects(
        &self,
        state: &mut CoreState,
        fx: Effects,
        fresh: bool,
        outcome: &mut Outcome,
    ) {
        if !fresh && !fx.reports.is_empty() {
            // Said every time: a wrong clock on this machine would hold them for good.
            outcome.notes.push(format!(
                "holding {} key report(s) from a block over {} minutes older than this \
                 machine's clock until the worker catches up (if it has, check the clock)",
                fx.reports.len(),
                KEY_EVENT_FRESHNESS_MS / 60_000
            ));
        }
        for report in fx.reports {
            if fresh {
                let (topic, payload) = report.topic_and_payload();
                self.send_report(state, topic, payload, outcome);
            } else if state.held_key_reports.len() < MAX_HELD_KEY_REPORTS {
                state.held_key_reports.push(report);
            }
        }
        outcome.notes.extend(fx.notes);
    }

    fn send_report(
        &self,
        state: &mut CoreState,
        topic: &[u8],
        payload: Vec<u8>,
        outcome: &mut Outcome,
    ) {
        // The chain refuses larger messages, and one refused message would hold up every
        // later one: never queue it.
        if payload.len() > phala_mq::MAX_PAYLOAD_LEN {
            outcome.notes.push(format!(
                "a report of {} bytes exceeds the message limit; not sent",
                payload.len()
            ));
            return;
        }
        queue(state, &self.keys, &self.genesis_hash(), topic, payload);
    }

    /// Queues members' sealed batches of ingested analytics events for the chain. The
    /// host saves the checkpoint right after, before it tells the senders they were taken.
    pub fn queue_analytics_batches(&mut self, batches: Vec<phala_mq::analytics::AnalyticsBatch>) {
        let genesis = self.genesis_hash();
        for batch in batches {
            queue(
                &mut self.state,
                &self.keys,
                &genesis,
                phala_mq::analytics::ANALYTICS_BATCH,
                batch.encode(),
            );
        }
    }

    /// What the ingest desk needs to take statements for this cluster's sites, once this
    /// worker holds the cluster key.
    pub fn analytics_desk_keys(&self) -> Option<crate::analytics::ingest::DeskKeys> {
        let cluster = self.state.cluster_key.as_ref()?;
        let service = crate::analytics::service_secret(cluster);
        Some(crate::analytics::ingest::DeskKeys {
            genesis: self.genesis_hash(),
            service_public: service.public(),
            service,
            sites: self
                .state
                .analytics
                .sites
                .iter()
                .map(|(id, s)| (*id, s.domain.clone()))
                .collect(),
            head: self.head().0,
        })
    }

    /// The analytics key and the cluster key's signature vouching for it.
    pub fn analytics_service_key(&self) -> Option<([u8; 32], [u8; 64])> {
        let cluster = self.state.cluster_key.as_ref()?;
        let public = crate::analytics::service_key(cluster).ecdh_public();
        let statement = crate::analytics::service_key_statement(
            &self.genesis_hash(),
            &cluster.cluster,
            &public,
        );
        let signature = phala_crypto::keys::KeyPair::new(Seed::from_bytes(*cluster.seed.expose()))
            .sign(&statement);
        Some((public, signature))
    }

    /// Whether this worker is a gatekeeper (as last proven).
    pub fn is_gatekeeper(&self) -> bool {
        self.state.master.is_some()
    }

    /// The newest master key version held and its public key; never the secret.
    pub fn master_public(&self) -> Option<(u32, [u8; 32])> {
        self.state.master.as_ref()?.current_public()
    }

    /// How many master key versions this gatekeeper holds.
    pub fn master_versions(&self) -> usize {
        self.state.master.as_ref().map_or(0, |m| m.versions.len())
    }

    /// The cluster this worker holds the key of, and the key's public key.
    pub fn cluster_public(&self) -> Option<(H256, [u8; 32])> {
        let c = self.state.cluster_key.as_ref()?;
        Some((
            c.cluster,
            phala_crypto::keys::KeyPair::new(c.seed.clone()).public(),
        ))
    }

    /// The current query key's certificate, signed by the identity key.
    pub fn query_key_certificate(&self) -> Option<QueryKeyCertificate> {
        self.query_certificate.clone()
    }

    fn certify_query_key(&self) -> Option<QueryKeyCertificate> {
        let QueryKey { epoch, seed, .. } = self.query_keys.last()?;
        let ecdh_pubkey = phala_crypto::EcdhSecret::from_bytes(*seed.expose()).public();
        let worker = self.keys.pubkey();
        let signature = self.keys.sign(&QueryKeyCertificate::signing_payload(
            &self.genesis_hash(),
            &worker,
            *epoch,
            &ecdh_pubkey,
        ));
        Some(QueryKeyCertificate {
            worker,
            epoch: *epoch,
            ecdh_pubkey,
            signature,
        })
    }

    /// The query secrets in force (the current one and one in its grace), each with the
    /// last moment (TEE clock, Unix ms) it may open a query.
    pub fn query_secrets(&self) -> Vec<(phala_crypto::EcdhSecret, u64)> {
        self.query_keys
            .iter()
            .map(|k| {
                (
                    phala_crypto::EcdhSecret::from_bytes(*k.seed.expose()),
                    k.usable_until(),
                )
            })
            .collect()
    }

    /// The identity key pair, for signing query replies outside the core.
    pub fn identity(&self) -> phala_keys::Sr25519Pair {
        self.keys.identity()
    }

    /// Counts work the host did for computing: heartbeats report the total, which the
    /// gatekeepers turn into this worker's performance.
    pub fn add_iterations(&mut self, done: u64) {
        self.state.iterations = self.state.iterations.saturating_add(done);
    }

    /// Whether this worker computes (as the chain's events last said).
    pub fn computing_since(&self) -> Option<BlockNumber> {
        self.state.session.started_at
    }

    /// Signs the benchmark's result for the chain.
    pub fn benchmark_done(&mut self, score: u32) -> SignedMessage {
        self.send(
            topics::WORKER_REPORT,
            WorkerReport::BenchScore(score.min(topics::MAX_SCORE)).encode(),
        )
    }

    /// Signs a message to the chain with the next sequence and queues it.
    fn send(&mut self, topic: &[u8], payload: Vec<u8>) -> SignedMessage {
        let genesis = self.genesis_hash();
        queue(&mut self.state, &self.keys, &genesis, topic, payload)
    }
}

/// Blocks behind the newest proven one a gatekeeper still sends copies of settled blocks
/// for, as votes.
pub const VOTE_WINDOW: BlockNumber = 20;

/// What one block's state proof says, verified against its state root and decoded.
struct BlockFacts {
    number: BlockNumber,
    /// The economics in force, on chains that have them.
    params: Option<phala_tokenomics::Params>,
    /// The first block the chain still takes a settlement for.
    next_settlement: BlockNumber,
    /// The chain's messages to workers in this block.
    messages: Vec<Message>,
    /// This worker's registration, if any.
    registration: Option<WorkerInfo>,
    /// The next sequence the chain expects from this worker.
    ingress: u64,
    gatekeepers: Vec<[u8; 32]>,
    /// The master key's public history.
    record: Vec<MasterPubkeyRecord>,
    /// The block's timestamp (ms).
    now: u64,
    /// The runtime version the block ran with.
    spec_version: u32,
}

impl BlockFacts {
    /// Checks `block`'s proof of the values at `keys` ([`proof_keys`]) and decodes them.
    fn prove(block: &SyncBlock, keys: &[Vec<u8>]) -> Result<BlockFacts, CoreError> {
        let number = block.header.number;
        let values = phala_trie::verify_proof(&block.header.state_root, &block.proof, keys)
            .map_err(|e| CoreError::Proof {
                number,
                reason: e.to_string(),
            })?;
        let [
            messages,
            registration,
            ingress,
            gatekeepers,
            record,
            now,
            params,
            next_settlement,
            runtime,
        ]: [Option<Vec<u8>>; 9] = values.try_into().map_err(|_| CoreError::Proof {
            number,
            reason: "wrong number of values".into(),
        })?;
        fn decode<T: Decode>(
            number: BlockNumber,
            what: &'static str,
            bytes: Option<Vec<u8>>,
        ) -> Result<Option<T>, CoreError> {
            bytes
                .map(|bytes| T::decode(&mut bytes.as_slice()))
                .transpose()
                .map_err(|_| CoreError::Undecodable { number, what })
        }
        // Decoded in this order so the first undecodable value named is the same as ever.
        let gatekeepers = decode(number, "Registry.Gatekeepers", gatekeepers)?.unwrap_or_default();
        let record = decode(number, "Registry.MasterPubkeyHistory", record)?.unwrap_or_default();
        let runtime: Option<phala_runtime::modules::system::LastRuntimeUpgradeInfo> =
            decode(number, "System.LastRuntimeUpgrade", runtime)?;
        Ok(BlockFacts {
            number,
            spec_version: runtime
                .map(|r| r.spec_version.0)
                .unwrap_or(phala_runtime::version::SPEC_VERSION),
            params: decode(number, "Computation.Params", params)?,
            next_settlement: decode(number, "Computation.NextSettlement", next_settlement)?
                .unwrap_or(0),
            messages: decode(number, "OutboundMessages", messages)?.unwrap_or_default(),
            registration: decode(number, "Registry.Workers", registration)?,
            ingress: decode(number, "MessageQueue.OffchainIngress", ingress)?.unwrap_or(0),
            gatekeepers,
            record,
            now: decode(number, "Timestamp.Now", now)?.unwrap_or(0),
        })
    }
}

/// Signs a message to the chain with `state`'s next sequence and queues it.
fn queue(
    state: &mut CoreState,
    keys: &WorkerKeys,
    genesis: &H256,
    topic: &[u8],
    payload: Vec<u8>,
) -> SignedMessage {
    let message = Message::new(MessageOrigin::Worker(keys.pubkey()), topic, payload);
    let sequence = state.next_sequence;
    let signed = SignedMessage::sign(genesis, message, sequence, |p| keys.sign(p));
    state.next_sequence = sequence.saturating_add(1);
    state.pending.push(signed.clone());
    signed
}

/// A query key and its life by the TEE's clock.
struct QueryKey {
    epoch: u32,
    seed: Seed,
    created_ms: u64,
    /// When a newer key replaced it, plus the grace for queries in flight.
    retire_ms: Option<u64>,
}

impl QueryKey {
    /// The last moment it may open a query, whether or not the host lets the core rotate
    /// it in time.
    fn usable_until(&self) -> u64 {
        self.retire_ms.unwrap_or_else(|| {
            self.created_ms
                .saturating_add(QUERY_KEY_MAX_AGE_MS)
                .saturating_add(QUERY_KEY_GRACE_MS)
        })
    }
}

/// A fresh query key for each epoch, and at least every [`QUERY_KEY_MAX_AGE_MS`]; a replaced
/// key is erased [`QUERY_KEY_GRACE_MS`] later (and at once if older than the previous epoch),
/// so a later break-in finds nothing that opens queries recorded before.
/// Returns whether the keys changed (the host then refreshes what the query service holds).
fn rotate_query_keys(
    keys: &mut Vec<QueryKey>,
    epoch: u32,
    now_ms: u64,
    rng: &mut impl CryptoRng,
) -> bool {
    let stale = keys.last().is_none_or(|k| {
        k.epoch != epoch || now_ms.saturating_sub(k.created_ms) >= QUERY_KEY_MAX_AGE_MS
    });
    if stale {
        let retire = now_ms.saturating_add(QUERY_KEY_GRACE_MS);
        for key in keys.iter_mut() {
            key.retire_ms.get_or_insert(retire);
        }
        keys.push(QueryKey {
            epoch,
            seed: Seed::generate(rng),
            created_ms: now_ms,
            retire_ms: None,
        });
    }
    // Dropping a `Seed` wipes it.
    let before = keys.len();
    keys.retain(|k| {
        k.retire_ms
            .is_none_or(|r| r > now_ms && k.epoch.saturating_add(1) >= epoch)
    });
    stale || keys.len() != before
}

/// A contract command of the chain's queue, if `message` is one.
/// A chain message for computing workers and gatekeepers.
fn computation_event(message: &Message) -> Option<ComputationEvent> {
    if message.sender != MessageOrigin::pallet("Computation")
        || message.destination != COMPUTATION_EVENT
    {
        return None;
    }
    ComputationEvent::decode(&mut message.payload.as_slice()).ok()
}

fn contract_command(message: &Message) -> Option<ContractCommand> {
    if message.sender != MessageOrigin::pallet("Contracts")
        || message.destination != CONTRACT_COMMAND
    {
        return None;
    }
    ContractCommand::decode_all_with_depth_limit(8, &mut message.payload.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epochs(keys: &[QueryKey]) -> Vec<u32> {
        keys.iter().map(|k| k.epoch).collect()
    }

    #[test]
    fn query_keys_change_every_epoch_and_the_old_one_is_erased_after_its_grace() {
        let mut rng = commonware_utils::test_rng();
        let mut keys = Vec::new();
        assert!(rotate_query_keys(&mut keys, 0, 1_000, &mut rng));
        assert!(!rotate_query_keys(&mut keys, 0, 2_000, &mut rng));
        assert_eq!(keys.len(), 1);
        let first = keys[0].seed.clone();
        assert!(rotate_query_keys(&mut keys, 1, 3_000, &mut rng));
        // Queries in flight at the change still open for a while.
        assert_eq!(epochs(&keys), [0, 1]);
        assert_eq!(keys[0].usable_until(), 3_000 + QUERY_KEY_GRACE_MS);
        rotate_query_keys(&mut keys, 1, 3_000 + QUERY_KEY_GRACE_MS, &mut rng);
        assert_eq!(epochs(&keys), [1]);
        assert!(keys.iter().all(|k| k.seed != first));
        // A worker that slept through epochs keeps only the current one.
        rotate_query_keys(&mut keys, 9, 10_000, &mut rng);
        assert_eq!(epochs(&keys), [9]);
    }

    #[test]
    fn query_keys_expire_by_the_tee_clock_when_the_chain_does_not_advance() {
        let mut rng = commonware_utils::test_rng();
        let mut keys = Vec::new();
        rotate_query_keys(&mut keys, 4, 0, &mut rng);
        let recorded_to = phala_crypto::EcdhSecret::from_bytes(*keys[0].seed.expose()).public();
        // A query someone records on the wire.
        let recorded = phala_crypto::Envelope::seal(
            &mut rng,
            &recorded_to,
            phala_crypto::Purpose::Query,
            None,
            b"a secret question",
        )
        .unwrap();
        // The head stays in epoch 4 (the host stops feeding blocks): the key is replaced
        // after its maximum age anyway, and erased after the grace.
        assert!(!rotate_query_keys(
            &mut keys,
            4,
            QUERY_KEY_MAX_AGE_MS - 1,
            &mut rng
        ));
        assert!(rotate_query_keys(
            &mut keys,
            4,
            QUERY_KEY_MAX_AGE_MS,
            &mut rng
        ));
        let after = QUERY_KEY_MAX_AGE_MS + QUERY_KEY_GRACE_MS;
        rotate_query_keys(&mut keys, 4, after, &mut rng);
        assert_eq!(keys.len(), 1);
        for key in &keys {
            let secret = phala_crypto::EcdhSecret::from_bytes(*key.seed.expose());
            assert!(recorded.open(&secret).is_err());
        }
        // A key the host never lets the core rotate stops being usable on its own.
        assert_eq!(
            keys[0].usable_until(),
            QUERY_KEY_MAX_AGE_MS + QUERY_KEY_MAX_AGE_MS + QUERY_KEY_GRACE_MS
        );
    }
}
