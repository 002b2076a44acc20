//! The chain client: a chain spec, the runtime and the store put together.
//!
//! Consensus drives it through three calls — [`Chain::build_block`] (a proposal on top of a
//! parent), [`Chain::import_block`] (re-execute someone else's proposal and check its roots)
//! and [`Chain::finalize_block`] (commit it with its certificate) — and everything else reads
//! from it: RPC, the SDK's node-side tests, metrics. It owns the transaction pool and
//! announces each finalized block on a broadcast channel.
//!
//! Only finalized blocks are visible outside: with BFT finality a block is final a round
//! after it is proposed, and serving unfinalized forks would only confuse clients.

pub mod backend;
pub mod dev;
pub mod pool;
pub mod spec;

use std::sync::{Arc, Mutex, MutexGuard};

use parity_scale_codec::Encode;
use phala_primitives::{AccountId32, Block, BlockNumber, H256, Header, Nonce, OpaqueExtrinsic};
use phala_runtime::block::{BlockBuilder, BlockError, Skipped, block_timestamp, execute_block};
use phala_runtime::executive::{Context, decode_extrinsic};
use phala_runtime::modules::{system, timestamp};
use phala_runtime::validity::{InvalidTransaction, TransactionValidityError, UnknownTransaction};
use phala_runtime::{Ext, api};
use phala_state::{Changes, PendingBlock, StateError, StateView, Store, StoreConfig};
use tokio::sync::{broadcast, mpsc};

use backend::ViewBackend;
use pool::{Pool, Rejected};
pub use pool::{PoolLimits, TxStatus};
pub use spec::{ChainSpec, ChainType, RegistrySpec, SpecError, Validator};

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
    #[error("Priority is too low: ({old} vs {new})")]
    PriorityTooLow { old: u64, new: u64 },
    #[error("Immediately Dropped: the transaction pool is full")]
    PoolFull,
    #[error("Verification Error: {0}")]
    Internal(String),
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
        let (parent_header, view) = self.parent_info(parent)?;
        let backend = ViewBackend(&view);
        let parent_time = timestamp::now(&Ext::new(&backend));
        let now = now_ms.max(parent_time.saturating_add(1));
        let number = parent_header.number.saturating_add(1);
        let candidates = self.pool().block_candidates();
        let mut builder = BlockBuilder::new(&backend, self.ctx, *parent, number, now)?;
        let mut blocked_sender: Option<AccountId32> = None;
        for tx in candidates {
            if blocked_sender == Some(tx.sender) {
                continue;
            }
            match builder.push(tx.xt.clone()) {
                Ok(_) => {}
                Err(Skipped::Full) => break,
                Err(Skipped::Fatal(reason)) => return Err(BlockError::Fatal(reason).into()),
                // Later nonces of this sender cannot apply either. Nothing leaves the pool
                // here: this block may never be finalized.
                Err(Skipped::Invalid(_) | Skipped::Undecodable(_)) => {
                    blocked_sender = Some(tx.sender)
                }
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
        let (head, _) = self.finalized()?;
        if block.header.number <= head {
            return Ok(());
        }
        let pending = self.import_block(block, None)?;
        self.store.commit_block(&pending, justification)?;
        tracing::info!(target: "chain", number = pending.number(), hash = %pending.hash, txs = pending.block.extrinsics.len().saturating_sub(1), "finalized");
        self.after_finalized(&pending);
        let _ = self.finalized_tx.send(Arc::new(Finalized {
            block: pending.block.clone(),
            hash: pending.hash,
            changes: pending.changes.clone(),
        }));
        Ok(())
    }

    /// Pool upkeep after a finalized block: report included transactions, revalidate the
    /// senders whose accounts changed, drop expired ones.
    fn after_finalized(&self, block: &PendingBlock) {
        let view = match self.store.latest_view() {
            Ok(view) => view,
            Err(e) => {
                tracing::error!(target: "chain", "cannot read finalized state for pool upkeep: {e}");
                return;
            }
        };
        let mut pool = self.pool();
        for xt in block.block.extrinsics.iter().skip(1) {
            let hash = xt.hash();
            if pool.contains(&hash) {
                pool.notify(&hash, TxStatus::InBlock(block.hash));
                pool.remove(&hash, TxStatus::Finalized(block.hash));
            }
        }
        let touched: Vec<AccountId32> = pool
            .senders()
            .into_iter()
            .filter(|s| block.changes.contains_key(&system::ACCOUNT.key(s)))
            .collect();
        for sender in touched {
            for tx in pool.sender_txs(&sender) {
                if let Err(e) = self.validate(&view, tx.xt.as_bytes()) {
                    tracing::debug!(target: "pool", hash = %tx.hash, "dropping transaction: {e}");
                    pool.remove(&tx.hash, TxStatus::Invalid);
                }
            }
        }
        pool.prune_expired(block.number().saturating_add(1));
    }

    /// Runtime validation against a state; returns sender, nonce, priority and expiry.
    fn validate(
        &self,
        view: &StateView,
        bytes: &[u8],
    ) -> Result<(AccountId32, Nonce, u64, BlockNumber), SubmitError> {
        let xt = decode_extrinsic(bytes).map_err(|e| SubmitError::Format(e.to_string()))?;
        let (sender, nonce) = match &xt.signature {
            Some(sig) => (sig.address.account(), sig.extra.nonce),
            None => (None, 0),
        };
        let validity = api::validate_transaction(
            &ViewBackend(view),
            &self.ctx,
            xt,
            bytes.len(),
            view.block_hash(),
        )
        .map_err(|e| SubmitError::Internal(e.to_string()))?;
        let valid = validity.map_err(|e| match e {
            TransactionValidityError::Invalid(i) => SubmitError::Invalid(i),
            TransactionValidityError::Unknown(u) => SubmitError::Unknown(u),
        })?;
        // Unsigned transactions (equivocation reports) queue under a pseudo-sender derived from
        // what they provide, so two reports of one offence replace each other.
        let sender = match sender {
            Some(sender) => sender,
            None => {
                let tag = valid
                    .provides
                    .first()
                    .ok_or(SubmitError::Unknown(UnknownTransaction::CannotLookup))?;
                AccountId32(phala_primitives::hashing::blake2_256(tag))
            }
        };
        let current = view.number().saturating_add(1);
        let valid_till = BlockNumber::try_from(u64::from(current).saturating_add(valid.longevity))
            .unwrap_or(BlockNumber::MAX);
        Ok((sender, nonce, valid.priority, valid_till))
    }

    fn insert(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(H256, TxStatus, MutexGuard<'_, Pool>), SubmitError> {
        let xt =
            OpaqueExtrinsic::from_bytes(bytes).map_err(|e| SubmitError::Format(e.to_string()))?;
        let hash = xt.hash();
        if self.pool().contains(&hash) {
            return Err(SubmitError::AlreadyImported(hash));
        }
        let view = self
            .store
            .latest_view()
            .map_err(|e| SubmitError::Internal(e.to_string()))?;
        let (sender, nonce, priority, valid_till) = self.validate(&view, xt.as_bytes())?;
        let account_nonce = system::account(&Ext::new(&ViewBackend(&view)), &sender).nonce;
        let mut pool = self.pool();
        // A nonce further ahead than the sender's pool allowance could never become ready.
        if u64::from(nonce) >= u64::from(account_nonce).saturating_add(pool.max_per_sender() as u64)
        {
            return Err(SubmitError::Invalid(InvalidTransaction::Future));
        }
        let ready = pool
            .insert(hash, xt, sender, nonce, priority, valid_till, account_nonce)
            .map_err(|r| match r {
                Rejected::AlreadyImported => SubmitError::AlreadyImported(hash),
                Rejected::Full => SubmitError::PoolFull,
                Rejected::PriorityTooLow { old, new } => SubmitError::PriorityTooLow { old, new },
            })?;
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

    pub fn pool_len(&self) -> usize {
        self.pool().len()
    }

    /// SCALE of the header, for callers that need its exact bytes.
    pub fn encode_header(header: &Header) -> Vec<u8> {
        header.encode()
    }
}
