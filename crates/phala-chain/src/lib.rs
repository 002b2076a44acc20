//! The chain client: a chain spec, the runtime and the store put together.
//!
//! Consensus drives it through three calls — [`Chain::build_block`] (a proposal on top of a
//! parent), [`Chain::import_block`] (re-execute someone else's proposal and check its roots)
//! and [`Chain::finalize_block`] (commit it with its certificate) — and everything else reads
//! from it: RPC, the SDK's node-side tests, metrics. It owns the transaction pool and
//! announces each finalized block on a broadcast channel.
//!
//! The pool takes a transaction only after the runtime validated it against the finalized
//! state, and bounds what anyone can hold in it (details in [`pool`]): 64 transactions per
//! sender of which 16 future, their fees together within what the sender can pay, at most
//! 1,024 blocks in the pool, an eighth of the room kept for operational transactions (worker
//! messages, equivocation reports), and when full the lowest-ranked sender tail gives way to a
//! higher-ranked newcomer. Every refusal is a [`SubmitError`] with Substrate's author error
//! code. Blocks take ready transactions only, operational ones first.
//!
//! Only finalized blocks are visible outside: with BFT finality a block is final a round
//! after it is proposed, and serving unfinalized forks would only confuse clients.
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

pub mod backend;
pub mod dev;
pub mod pool;
pub mod spec;
pub mod spec_computation;
pub mod spec_governance;
pub mod witness;

use std::sync::{Arc, Mutex, MutexGuard};

use parity_scale_codec::Encode;
use phala_primitives::{
    AccountId32, Balance, Block, BlockNumber, H256, Header, Nonce, OpaqueExtrinsic,
};
use phala_runtime::block::{BlockBuilder, BlockError, Skipped, block_timestamp, execute_block};
use phala_runtime::dispatch::DispatchClass;
use phala_runtime::executive::{Context, decode_extrinsic};
use phala_runtime::modules::{system, timestamp};
use phala_runtime::validity::{InvalidTransaction, TransactionValidityError, UnknownTransaction};
use phala_runtime::{Ext, api};
use phala_state::{Changes, PendingBlock, StateError, StateView, Store, StoreConfig};
use tokio::sync::{broadcast, mpsc};

use backend::ViewBackend;
use pool::{NewTx, Pool, Rejected, SenderAccount};
pub use pool::{PoolLimits, TxStatus};
pub use spec::{ChainSpec, ChainType, RegistrySpec, SpecError, Validator};

/// Refuses to build or verify block `number` on a parent whose state schedules (or runs) a
/// runtime version this node does not have (`PHALA_MAX_SPEC_VERSION` counts): it would
/// execute the block with its own, older rules. The node stops once the parent is final
/// ([`Chain::check_next_runtime`]); until then it neither proposes nor votes for the block.
fn refuse_unsupported(backend: &ViewBackend<'_>, number: BlockNumber) -> Result<(), ChainError> {
    match phala_runtime::modules::system::unsupported_upgrade(
        &Ext::new(backend),
        newest_spec_version(),
    ) {
        Some(u) if u.at_block <= number => Err(ChainError::UpgradeRequired(u)),
        _ => Ok(()),
    }
}

/// The newest runtime version this node runs: the build's, or less if
/// `PHALA_MAX_SPEC_VERSION` says so — to rehearse an upgrade with a node that behaves as an
/// older release.
pub fn newest_spec_version() -> u32 {
    static NEWEST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *NEWEST.get_or_init(|| {
        let built = phala_runtime::version::NEWEST_SPEC_VERSION;
        std::env::var("PHALA_MAX_SPEC_VERSION")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map_or(built, |cap| cap.min(built))
    })
}

/// How far ahead of a verifier's clock a block's timestamp may be.
pub const MAX_CLOCK_DRIFT_MS: u64 = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("block execution failed: {0}")]
    Block(#[from] BlockError),
    #[error("unknown parent block {0}")]
    UnknownParent(H256),
    #[error("block {hash} is invalid: {reason}")]
    InvalidBlock { hash: H256, reason: String },
    #[error("runtime call failed: {0}")]
    Api(#[from] api::ApiError),
    /// The next block needs a runtime this node does not have.
    #[error("{0}")]
    UpgradeRequired(phala_runtime::modules::system::UnsupportedUpgrade),
}

/// Why the pool refused a transaction; maps onto Substrate's `author_*` JSON-RPC errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("Extrinsic has invalid format: {0}")]
    Format(String),
    #[error("Invalid Transaction: {}", .0.description())]
    Invalid(InvalidTransaction),
    #[error("Unknown Transaction Validity: {0:?}")]
    Unknown(UnknownTransaction),
    #[error("Transaction Already Imported")]
    AlreadyImported(H256),
    /// It was evicted or expired recently; the same bytes are refused for a while.
    #[error("Transaction is temporarily banned")]
    TemporarilyBanned,
    #[error("Priority is too low: ({old} vs {new})")]
    PriorityTooLow { old: u64, new: u64 },
    /// The pool is full of transactions this one does not outrank.
    #[error("Immediately Dropped: the transaction pool is full")]
    PoolFull,
    #[error("Immediately Dropped: the sender already has {limit} transactions in the pool")]
    TooManyFromSender { limit: usize },
    #[error(
        "Immediately Dropped: the sender already has {limit} transactions waiting for an earlier nonce"
    )]
    TooManyFuture { limit: usize },
    /// Each fee alone is payable, but not with the sender's other pooled transactions'.
    #[error(
        "Invalid Transaction: the sender's pooled transactions already owe {pooled} of the {spendable} it can pay, and this one costs {fee}"
    )]
    PooledFeesExceedBalance {
        pooled: Balance,
        fee: Balance,
        spendable: Balance,
    },
    #[error("Verification Error: {0}")]
    Internal(String),
}

impl SubmitError {
    fn rejected(r: Rejected, hash: H256) -> Self {
        match r {
            Rejected::AlreadyImported => SubmitError::AlreadyImported(hash),
            Rejected::Banned => SubmitError::TemporarilyBanned,
            Rejected::PriorityTooLow { old, new } => SubmitError::PriorityTooLow { old, new },
            Rejected::SenderFull { limit } => SubmitError::TooManyFromSender { limit },
            Rejected::SenderFutureFull { limit } => SubmitError::TooManyFuture { limit },
            Rejected::FeesExceedBalance {
                pooled,
                fee,
                spendable,
            } => SubmitError::PooledFeesExceedBalance {
                pooled,
                fee,
                spendable,
            },
            // The room kept for operational transactions is for what a block can take now.
            Rejected::OperationalFuture => SubmitError::Invalid(InvalidTransaction::Future),
            Rejected::Full => SubmitError::PoolFull,
        }
    }
}

/// A transaction the runtime found valid, with what the pool needs to place it.
struct Validated {
    sender: AccountId32,
    nonce: Nonce,
    account: SenderAccount,
    priority: u64,
    operational: bool,
    fee: Balance,
    valid_till: BlockNumber,
    tags: Vec<Vec<u8>>,
}

/// A newly finalized block, as announced to subscribers.
#[derive(Debug)]
pub struct Finalized {
    pub block: Block,
    pub hash: H256,
    /// Every storage key the block wrote or deleted, with its new value.
    pub changes: Changes,
}

pub struct Chain {
    spec: ChainSpec,
    store: Store,
    ctx: Context,
    pool: Mutex<Pool>,
    finalized_tx: broadcast::Sender<Arc<Finalized>>,
    /// Transactions accepted from local clients, for gossip to peers.
    announce_tx: broadcast::Sender<OpaqueExtrinsic>,
    /// Recent finalized worker messages, to prove a double signing with.
    witness: Mutex<witness::MessageWitness>,
    /// The unsupported upgrade already warned about (once per schedule).
    upgrade_warned: Mutex<Option<phala_runtime::modules::system::UnsupportedUpgrade>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Chain({}, genesis {})",
            self.spec.id, self.ctx.genesis_hash
        )
    }
}

impl Chain {
    /// Opens the store (writing genesis on first use) for `spec`.
    pub fn open(
        spec: ChainSpec,
        store: StoreConfig,
        limits: PoolLimits,
    ) -> Result<Arc<Chain>, ChainError> {
        spec.validate()?;
        let storage = spec.genesis_storage()?;
        let store = Store::open(store)?;
        let genesis_hash = store.init_genesis(&storage, |root| {
            spec.genesis_block(&storage, root)
                .map_err(|e| e.to_string())
        })?;
        let (finalized_tx, _) = broadcast::channel(1024);
        // As many as the pool holds: gossip then falls behind only if the whole pool turned
        // over before it ran, and a transaction it skips is one no longer pending anyway.
        let (announce_tx, _) = broadcast::channel(limits.max_transactions.clamp(1, 1 << 20));
        Ok(Arc::new(Chain {
            spec,
            store,
            ctx: Context { genesis_hash },
            pool: Mutex::new(Pool::new(limits)),
            finalized_tx,
            announce_tx,
            witness: Mutex::default(),
            upgrade_warned: Mutex::default(),
        }))
    }

    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn genesis_hash(&self) -> H256 {
        self.ctx.genesis_hash
    }

    pub fn context(&self) -> Context {
        self.ctx
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        // A panic while holding the lock cannot leave the pool inconsistent in a way worse
        // than losing pending transactions, so recover the guard.
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number and hash of the last finalized block.
    pub fn finalized(&self) -> Result<(BlockNumber, H256), ChainError> {
        Ok(self.store.finalized()?)
    }

    /// The upgrade the finalized state schedules, if this node cannot run it.
    pub fn unsupported_upgrade(
        &self,
    ) -> Result<Option<phala_runtime::modules::system::UnsupportedUpgrade>, ChainError> {
        let view = self.store.latest_view()?;
        let backend = ViewBackend(&view);
        Ok(phala_runtime::modules::system::unsupported_upgrade(
            &Ext::new(&backend),
            newest_spec_version(),
        ))
    }

    /// `Err(UpgradeRequired)` if the block after the finalized head needs a runtime this
    /// node does not have: it must stop before executing it rather than fork.
    pub fn check_next_runtime(&self) -> Result<(), ChainError> {
        let (head, _) = self.finalized()?;
        match self.unsupported_upgrade()? {
            Some(u) if u.at_block <= head.saturating_add(1) => Err(ChainError::UpgradeRequired(u)),
            Some(u) => {
                let mut warned = self
                    .upgrade_warned
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if *warned != Some(u) {
                    tracing::warn!(target: "chain", "{u}; this node stops before block #{}", u.at_block);
                    *warned = Some(u);
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn finalized_header(&self) -> Result<Header, ChainError> {
        let (n, hash) = self.finalized()?;
        self.store
            .block_by_number(n)?
            .map(|b| b.header)
            .ok_or(ChainError::State(StateError::UnknownBlock(hash)))
    }

    pub fn subscribe_finalized(&self) -> broadcast::Receiver<Arc<Finalized>> {
        self.finalized_tx.subscribe()
    }

    /// A header known to this node: finalized, or an unfinalized block it executed.
    pub fn any_header(&self, hash: &H256) -> Result<Option<Header>, ChainError> {
        if let Some(pending) = self.store.pending(hash) {
            return Ok(Some(pending.block.header.clone()));
        }
        Ok(self.store.block(hash)?.map(|b| b.header))
    }

    /// State after the block `at`, or after the finalized head.
    pub fn view(&self, at: Option<H256>) -> Result<StateView, ChainError> {
        Ok(match at {
            Some(hash) => self.store.view_at(&hash)?,
            None => self.store.latest_view()?,
        })
    }

    /// Runs a runtime API against the state after `at` (default: finalized head).
    pub fn runtime_call(
        &self,
        at: Option<H256>,
        method: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, ChainError> {
        let view = self.view(at)?;
        Ok(api::call(&ViewBackend(&view), &self.ctx, method, input)?)
    }

    /// The runtime version in force at block `at` (the finalized head if `None`).
    pub fn runtime_version(
        &self,
        at: Option<H256>,
    ) -> Result<phala_runtime::RuntimeVersion, ChainError> {
        let view = self.view(at)?;
        let backend = ViewBackend(&view);
        Ok(phala_runtime::version::version_of(&Ext::new(&backend)))
    }

    fn parent_info(&self, parent: &H256) -> Result<(Header, StateView), ChainError> {
        let header = self
            .any_header(parent)?
            .ok_or(ChainError::UnknownParent(*parent))?;
        let view = self.store.view_at(parent).map_err(|e| match e {
            StateError::UnknownBlock(_) => ChainError::UnknownParent(*parent),
            other => other.into(),
        })?;
        Ok((header, view))
    }

    fn seal(
        &self,
        parent: &Header,
        view: &StateView,
        built: phala_runtime::block::BuiltBlock,
    ) -> Result<Arc<PendingBlock>, ChainError> {
        let diff = view
            .with_node_store(|nodes| {
                phala_trie::apply_changes(
                    nodes,
                    view.state_root(),
                    built
                        .changes
                        .iter()
                        .map(|(k, v)| (k.as_slice(), v.as_deref())),
                )
            })
            .map_err(StateError::from)?;
        let header = Header {
            parent_hash: parent.hash(),
            number: parent.number.saturating_add(1),
            state_root: diff.root,
            extrinsics_root: phala_primitives::block::extrinsics_root(&built.extrinsics),
            // The runtime decides what the header announces (the next committee), so a
            // verifier that re-executes rebuilds exactly the same header.
            digest: built.digest,
        };
        let block = Block {
            header,
            extrinsics: built.extrinsics,
        };
        Ok(self
            .store
            .insert_pending(PendingBlock::new(block, built.changes, diff)))
    }

    /// Builds and executes a block on `parent` with pooled transactions. The timestamp is
    /// `now_ms`, or just after the parent's if the clock lags.
    pub fn build_block(&self, parent: &H256, now_ms: u64) -> Result<Arc<PendingBlock>, ChainError> {
        let _span = tracing::debug_span!("chain.build_block", %parent).entered();
        let (parent_header, view) = self.parent_info(parent)?;
        let backend = ViewBackend(&view);
        let number = parent_header.number.saturating_add(1);
        refuse_unsupported(&backend, number)?;
        let parent_time = timestamp::now(&Ext::new(&backend));
        let now = now_ms.max(parent_time.saturating_add(1));
        let candidates = self.pool().block_candidates();
        let mut builder = BlockBuilder::new(&backend, self.ctx, *parent, number, now)?;
        let mut blocked_sender: Option<AccountId32> = None;
        let mut invalid = Vec::new();
        // Once normal transactions' share is full, operational ones may still use the rest.
        let mut normal_full = false;
        for tx in candidates {
            if blocked_sender == Some(tx.sender) {
                continue;
            }
            if normal_full && !tx.operational {
                blocked_sender = Some(tx.sender);
                continue;
            }
            match builder.push(tx.xt.clone()) {
                Ok(_) => {}
                Err(Skipped::Full) if tx.operational => break,
                Err(Skipped::Full) => {
                    // Its sender's later nonces cannot go before it.
                    blocked_sender = Some(tx.sender);
                    normal_full = true;
                }
                Err(Skipped::Fatal(reason)) => return Err(BlockError::Fatal(reason).into()),
                // Later nonces of this sender cannot apply either.
                Err(Skipped::Invalid(_) | Skipped::Undecodable(_)) => {
                    blocked_sender = Some(tx.sender);
                    invalid.push(tx.hash);
                }
            }
        }
        // Invalid on the finalized state itself, it never becomes valid again (a stale worker
        // message, say): it leaves, with its sender's later nonces, instead of holding room
        // for free. On a parent not yet final it stays: that block may never be finalized.
        if !invalid.is_empty() && self.finalized().is_ok_and(|(_, head)| head == *parent) {
            let mut pool = self.pool();
            for hash in &invalid {
                tracing::debug!(target: "pool", %hash, "dropping a transaction invalid on the finalized state");
                pool.remove_invalid(hash);
            }
        }
        let built = builder.finish()?;
        let pending = self.seal(&parent_header, &view, built)?;
        tracing::debug!(target: "chain", number, hash = %pending.hash, txs = pending.block.extrinsics.len().saturating_sub(1), "built block");
        Ok(pending)
    }

    /// Verifies a block by re-executing it on its parent; keeps it as pending if valid.
    /// `now_ms` is the verifier's clock (`None` skips the drift check, for blocks that are
    /// already finalized).
    pub fn import_block(
        &self,
        block: &Block,
        now_ms: Option<u64>,
    ) -> Result<Arc<PendingBlock>, ChainError> {
        let hash = block.hash();
        let _span = tracing::debug_span!("chain.import_block", number = block.header.number, %hash)
            .entered();
        if let Some(pending) = self.store.pending(&hash) {
            return Ok(pending);
        }
        let invalid = |reason: String| ChainError::InvalidBlock { hash, reason };
        let (parent_header, view) = self.parent_info(&block.header.parent_hash)?;
        if block.header.number != parent_header.number.saturating_add(1) {
            return Err(invalid(format!(
                "number {} does not follow parent #{}",
                block.header.number, parent_header.number
            )));
        }
        if block.header.extrinsics_root
            != phala_primitives::block::extrinsics_root(&block.extrinsics)
        {
            return Err(invalid("extrinsics root mismatch".into()));
        }
        if let (Some(now), Some(ts)) = (now_ms, block_timestamp(&block.extrinsics))
            && ts > now.saturating_add(MAX_CLOCK_DRIFT_MS)
        {
            return Err(invalid(format!(
                "timestamp {ts} is too far ahead of local time {now}"
            )));
        }
        refuse_unsupported(&ViewBackend(&view), block.header.number)?;
        let built = execute_block(
            &ViewBackend(&view),
            self.ctx,
            block.header.parent_hash,
            block.header.number,
            &block.extrinsics,
        )
        .map_err(|e| invalid(e.to_string()))?;
        let pending = self.seal(&parent_header, &view, built)?;
        if pending.hash != hash {
            return Err(invalid(format!(
                "state root mismatch: block says {}, execution gives {}",
                block.header.state_root, pending.block.header.state_root
            )));
        }
        Ok(pending)
    }

    /// Commits a finalized block with its certificate, updates the pool and announces it.
    /// Committing a block at or below the finalized height is a no-op, so redelivery after a
    /// restart is harmless.
    pub fn finalize_block(&self, block: &Block, justification: &[u8]) -> Result<(), ChainError> {
        let _span =
            tracing::debug_span!("chain.finalize_block", number = block.header.number).entered();
        let (head, _) = self.finalized()?;
        if block.header.number <= head {
            return Ok(());
        }
        let pending = self.import_block(block, None)?;
        self.store.commit_block(&pending, justification)?;
        tracing::info!(target: "chain", number = pending.number(), hash = %pending.hash, txs = pending.block.extrinsics.len().saturating_sub(1), "finalized");
        self.witness
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(&pending.block.extrinsics);
        self.after_finalized(&pending);
        let _ = self.finalized_tx.send(Arc::new(Finalized {
            block: pending.block.clone(),
            hash: pending.hash,
            changes: pending.changes.clone(),
        }));
        self.check_next_runtime()
    }

    /// Pool upkeep after a finalized block: report included transactions, revalidate the
    /// senders whose accounts changed (their nonce, and whether their pooled fees are still
    /// payable), drop expired ones.
    fn after_finalized(&self, block: &PendingBlock) {
        let view = match self.store.latest_view() {
            Ok(view) => view,
            Err(e) => {
                tracing::error!(target: "chain", "cannot read finalized state for pool upkeep: {e}");
                return;
            }
        };
        let backend = ViewBackend(&view);
        let mut pool = self.pool();
        let touched: Vec<(AccountId32, SenderAccount)> = pool
            .senders()
            .into_iter()
            .filter(|s| block.changes.contains_key(&system::ACCOUNT.key(s)))
            .filter_map(|s| match api::signer_account(&backend, &s) {
                Ok(a) => Some((
                    s,
                    SenderAccount {
                        nonce: a.nonce,
                        spendable: a.spendable,
                    },
                )),
                Err(e) => {
                    tracing::error!(target: "chain", "cannot read account {s} for pool upkeep: {e}");
                    None
                }
            })
            .collect();
        for (sender, account) in &touched {
            pool.set_account_nonce(sender, account.nonce);
        }
        for xt in block.block.extrinsics.iter().skip(1) {
            let hash = xt.hash();
            if pool.contains(&hash) {
                pool.notify(&hash, TxStatus::InBlock(block.hash));
                pool.remove(&hash, TxStatus::Finalized(block.hash));
            }
        }
        for (sender, account) in &touched {
            for tx in pool.sender_txs(sender) {
                if let Err(e) = self.validate(&view, tx.xt.as_bytes()) {
                    tracing::debug!(target: "pool", hash = %tx.hash, "dropping transaction: {e}");
                    pool.remove(&tx.hash, TxStatus::Invalid);
                }
            }
            pool.enforce_fees(sender, account.spendable);
        }
        // A worker message turns stale when another copy is delivered, or its worker's
        // attestation expires, without its relayer's account changing.
        for tx in pool.operational_txs() {
            if !pool.contains(&tx.hash) {
                continue;
            }
            if let Err(e) = self.validate(&view, tx.xt.as_bytes()) {
                tracing::debug!(target: "pool", hash = %tx.hash, "dropping operational transaction: {e}");
                pool.remove_invalid(&tx.hash);
            }
        }
        pool.prune_expired(block.number().saturating_add(1));
    }

    /// Runtime validation against a state.
    fn validate(&self, view: &StateView, bytes: &[u8]) -> Result<Validated, SubmitError> {
        let xt = decode_extrinsic(bytes).map_err(|e| SubmitError::Format(e.to_string()))?;
        let tx_nonce = xt.signature.as_ref().map_or(0, |sig| sig.extra.nonce);
        let pooled = api::validate_for_pool(
            &ViewBackend(view),
            &self.ctx,
            xt,
            bytes.len(),
            view.block_hash(),
        )
        .map_err(|e| SubmitError::Internal(e.to_string()))?
        .map_err(|e| match e {
            TransactionValidityError::Invalid(i) => SubmitError::Invalid(i),
            TransactionValidityError::Unknown(u) => SubmitError::Unknown(u),
        })?;
        let valid = pooled.valid;
        let (sender, nonce, account, tags) = match pooled.signer {
            // The first tag is the sender and nonce, which the pool keys on anyway.
            Some(signer) => (
                signer.who,
                tx_nonce,
                SenderAccount {
                    nonce: signer.nonce,
                    spendable: signer.spendable,
                },
                valid.provides.iter().skip(1).cloned().collect(),
            ),
            // Unsigned transactions (equivocation reports) queue under a pseudo-sender
            // derived from what they provide, so two reports of one offence replace each
            // other.
            None => {
                let tag = valid
                    .provides
                    .first()
                    .ok_or(SubmitError::Unknown(UnknownTransaction::CannotLookup))?;
                (
                    AccountId32(phala_primitives::hashing::blake2_256(tag)),
                    0,
                    SenderAccount::default(),
                    Vec::new(),
                )
            }
        };
        let current = view.number().saturating_add(1);
        let valid_till = BlockNumber::try_from(u64::from(current).saturating_add(valid.longevity))
            .unwrap_or(BlockNumber::MAX);
        Ok(Validated {
            sender,
            nonce,
            account,
            priority: valid.priority,
            operational: pooled.class != DispatchClass::Normal,
            fee: pooled.fee,
            valid_till,
            tags,
        })
    }

    fn insert(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(H256, TxStatus, MutexGuard<'_, Pool>), SubmitError> {
        let xt =
            OpaqueExtrinsic::from_bytes(bytes).map_err(|e| SubmitError::Format(e.to_string()))?;
        let hash = xt.hash();
        let view = self
            .store
            .latest_view()
            .map_err(|e| SubmitError::Internal(e.to_string()))?;
        let now = view.number().saturating_add(1);
        {
            // Cheap refusals before the signature check.
            let pool = self.pool();
            if pool.contains(&hash) {
                return Err(SubmitError::AlreadyImported(hash));
            }
            if pool.is_banned(&hash, now) {
                return Err(SubmitError::TemporarilyBanned);
            }
        }
        let v = match self.validate(&view, xt.as_bytes()) {
            Ok(v) => v,
            Err(e) => {
                if matches!(e, SubmitError::Invalid(InvalidTransaction::Stale)) {
                    self.report_double_sign(xt.as_bytes());
                }
                return Err(e);
            }
        };
        let mut pool = self.pool();
        // A nonce further ahead than the sender's pool allowance could never become ready.
        let allowance = u64::try_from(pool.limits().max_per_sender).unwrap_or(u64::MAX);
        if u64::from(v.nonce) >= u64::from(v.account.nonce).saturating_add(allowance) {
            return Err(SubmitError::Invalid(InvalidTransaction::Future));
        }
        let tx = NewTx {
            hash,
            xt,
            sender: v.sender,
            nonce: v.nonce,
            priority: v.priority,
            operational: v.operational,
            fee: v.fee,
            valid_till: v.valid_till,
            tags: v.tags,
        };
        let ready = pool
            .insert(tx, v.account, now)
            .map_err(|r| SubmitError::rejected(r, hash))?;
        Ok((
            hash,
            if ready {
                TxStatus::Ready
            } else {
                TxStatus::Future
            },
            pool,
        ))
    }

    /// A stale worker message that differs from the delivered one with its sequence proves
    /// its worker double-signed: pool and gossip the report (see [`witness`]).
    fn report_double_sign(&self, refused: &[u8]) {
        let evidence = self
            .witness
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .evidence(refused);
        let Some(call) = evidence else { return };
        let report = phala_runtime::UncheckedExtrinsic::bare(call).encode();
        match self.insert(report.clone()) {
            Ok((hash, _, _)) => {
                tracing::warn!(target: "pool", %hash, "a worker signed two different messages with one sequence: reported");
                self.announce(report);
            }
            Err(e) => {
                tracing::debug!(target: "pool", "double-signing report not pooled: {e}");
            }
        }
    }

    /// Validates and pools a transaction (`author_submitExtrinsic`).
    pub fn submit(&self, bytes: Vec<u8>) -> Result<H256, SubmitError> {
        let announce = bytes.clone();
        let hash = self.insert(bytes).map(|(hash, _, _)| hash)?;
        self.announce(announce);
        Ok(hash)
    }

    /// Pools a transaction a peer gossiped. It is not announced again: peers are a full mesh,
    /// so whoever sent it has sent it to everyone.
    pub fn import_gossiped(&self, bytes: Vec<u8>) -> Result<H256, SubmitError> {
        self.insert(bytes).map(|(hash, _, _)| hash)
    }

    /// Transactions accepted from local clients, to gossip.
    pub fn subscribe_transactions(&self) -> broadcast::Receiver<OpaqueExtrinsic> {
        self.announce_tx.subscribe()
    }

    fn announce(&self, bytes: Vec<u8>) {
        if let Ok(xt) = OpaqueExtrinsic::from_bytes(bytes) {
            // No subscriber (no network yet) is fine.
            let _ = self.announce_tx.send(xt);
        }
    }

    /// Validates and pools a transaction and follows it (`author_submitAndWatchExtrinsic`).
    /// The first status on the channel is `Ready` or `Future`.
    pub fn submit_and_watch(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(H256, mpsc::UnboundedReceiver<TxStatus>), SubmitError> {
        let announce = bytes.clone();
        let (hash, status, mut pool) = self.insert(bytes)?;
        let rx = pool.watch(hash);
        pool.notify(&hash, status);
        drop(pool);
        self.announce(announce);
        Ok((hash, rx))
    }

    /// Next nonce for `who`, counting pooled transactions (`system_accountNextIndex`).
    pub fn account_next_index(&self, who: &AccountId32) -> Result<Nonce, ChainError> {
        let view = self.store.latest_view()?;
        let account_nonce = system::account(&Ext::new(&ViewBackend(&view)), who).nonce;
        Ok(self.pool().next_nonce(who, account_nonce))
    }

    pub fn pending_extrinsics(&self) -> Vec<OpaqueExtrinsic> {
        self.pool().all_bytes()
    }

    /// Whether the pool holds the transaction `hash`.
    pub fn pool_contains(&self, hash: &H256) -> bool {
        self.pool().contains(hash)
    }

    pub fn pool_len(&self) -> usize {
        self.pool().len()
    }

    /// SCALE of the header, for callers that need its exact bytes.
    pub fn encode_header(header: &Header) -> Vec<u8> {
        header.encode()
    }
}
