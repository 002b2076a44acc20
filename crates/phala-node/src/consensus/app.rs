//! The chain as a Commonware application: build a block when we lead, re-execute a block when
//! someone else does.
//!
//! Marshal's `Inline` wrapper turns this into what simplex drives: it fetches ancestry,
//! checks heights and parent links, stores and relays blocks. What is left here is what only
//! the chain knows — executing transactions, state roots, and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use commonware_consensus::Application;
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::{scheme::ed25519, types::Context};
use commonware_cryptography::{Digested, ed25519::PublicKey, sha256::Digest};
use commonware_runtime::{Clock, Metrics, Spawner};
use futures::StreamExt;
use phala_chain::{Chain, ChainError};
use phala_primitives::Block;
use phala_runtime::block::block_timestamp;

use super::block::{ConsensusBlock, digest_of};

pub type Scheme = ed25519::Scheme;
pub type ConsensusContext = Context<Digest, PublicKey>;

/// A proposal whose timestamp is ahead of the local clock by less than this is waited for;
/// further ahead it is rejected by the chain (`MAX_CLOCK_DRIFT_MS`).
const WAIT_FOR_FUTURE_MS: u64 = 500;

/// Deepest run of unknown ancestors a node re-executes before building or verifying (after a
/// restart, notarized blocks that were never finalized are not in the store).
const MAX_CATCH_UP: usize = 1024;

#[derive(Clone)]
pub struct PhalaApp {
    pub chain: Arc<Chain>,
    pub block_time: Duration,
    /// Highest block this node executed (finalized or not), for metrics.
    pub best_height: Arc<AtomicU64>,
}

fn millis(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

fn timestamp(block: &Block) -> u64 {
    block_timestamp(&block.extrinsics).unwrap_or(0)
}

impl PhalaApp {
    fn note_height(&self, number: u32) {
        self.best_height
            .fetch_max(u64::from(number), Ordering::Relaxed);
    }

    /// Runs chain work on the blocking pool: execution is CPU-bound and must not stall the
    /// network and consensus tasks.
    async fn blocking<E, T, F>(&self, context: &E, f: F) -> Option<T>
    where
        E: Spawner,
        T: Send + 'static,
        F: FnOnce(Arc<Chain>) -> T + Send + 'static,
    {
        let chain = self.chain.clone();
        context
            .child("execute")
            .shared(true)
            .spawn(move |_| async move { f(chain) })
            .await
            .ok()
    }

    /// Makes sure `first` (and any unknown ancestors `rest` yields) has been executed, so a
    /// block can be built or verified on it. Returns false if an ancestor is invalid.
    async fn ensure_executed<E: Spawner>(
        &self,
        context: &E,
        first: Digested<ConsensusBlock>,
        rest: &mut impl Ancestry<ConsensusBlock>,
    ) -> bool {
        let mut missing = Vec::new();
        let mut cursor = Some(first);
        while let Some(block) = cursor {
            if self
                .chain
                .any_header(&block.inner().hash())
                .ok()
                .flatten()
                .is_some()
            {
                break;
            }
            if missing.len() >= MAX_CATCH_UP {
                tracing::warn!(target: "consensus", "more than {MAX_CATCH_UP} unexecuted ancestors; waiting for finality instead");
                return false;
            }
            missing.push(block);
            cursor = rest.next().await;
        }
        for block in missing.into_iter().rev() {
            let inner = block.inner().block().clone();
            let number = inner.header.number;
            match self
                .blocking(context, move |chain| {
                    chain.import_block(&inner, None).map(|_| ())
                })
                .await
            {
                Some(Ok(())) => self.note_height(number),
                Some(Err(e)) => {
                    tracing::warn!(target: "consensus", number, "ancestor does not execute: {e}");
                    return false;
                }
                None => return false,
            }
        }
        true
    }
}

impl<E> Application<E> for PhalaApp
where
    E: Spawner + Clock + Metrics,
{
    type SigningScheme = Scheme;
    type Context = ConsensusContext;
    type Block = ConsensusBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (runtime, _ctx): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> Option<Digested<Self::Block>> {
        let parent = ancestry.next().await?;
        let parent_hash = parent.inner().hash();
        let parent_time = timestamp(parent.inner().block());
        if !self.ensure_executed(&runtime, parent, &mut ancestry).await {
            return None;
        }
        // Block time is the application's business: simplex moves to the next view as soon
        // as the previous one is certified, so wait out the rest of the interval here.
        let block_ms = u64::try_from(self.block_time.as_millis()).unwrap_or(u64::MAX);
        let earliest = parent_time.saturating_add(block_ms);
        let now = millis(runtime.current());
        if earliest > now && parent_time > 0 {
            runtime
                .sleep(Duration::from_millis(earliest.saturating_sub(now)))
                .await;
        }
        let now = millis(runtime.current());
        let built = self
            .blocking(&runtime, move |chain| chain.build_block(&parent_hash, now))
            .await?;
        match built {
            Ok(pending) => {
                self.note_height(pending.number());
                let block = ConsensusBlock::new(pending.block.clone());
                let digest = digest_of(&pending.hash);
                Some(Digested::precomputed(block, digest))
            }
            Err(e) => {
                tracing::error!(target: "consensus", "cannot build a block: {e}");
                None
            }
        }
    }

    async fn verify(
        &mut self,
        (runtime, _ctx): (E, Self::Context),
        mut ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        let Some(candidate) = ancestry.next().await else {
            return false;
        };
        let Some(parent) = ancestry.next().await else {
            return false;
        };
        let parent_time = timestamp(parent.inner().block());
        if !self.ensure_executed(&runtime, parent, &mut ancestry).await {
            return false;
        }
        let block = candidate.inner().block().clone();
        // Leaders pace blocks at the block time; refuse blocks far faster than that, which
        // only a misbehaving leader produces.
        let block_ms = u64::try_from(self.block_time.as_millis()).unwrap_or(u64::MAX);
        let ts = timestamp(&block);
        if parent_time > 0 && ts < parent_time.saturating_add(block_ms / 2) {
            tracing::warn!(target: "consensus", number = block.header.number, "block follows its parent too fast");
            return false;
        }
        // Slightly ahead of our clock: wait rather than vote against an honest leader.
        let now = millis(runtime.current());
        let wait_until = ts.saturating_sub(WAIT_FOR_FUTURE_MS);
        if wait_until > now && wait_until.saturating_sub(now) < phala_chain::MAX_CLOCK_DRIFT_MS {
            runtime
                .sleep(Duration::from_millis(wait_until.saturating_sub(now)))
                .await;
        }
        let now = millis(runtime.current());
        let number = block.header.number;
        match self
            .blocking(&runtime, move |chain| {
                chain.import_block(&block, Some(now)).map(|_| ())
            })
            .await
        {
            Some(Ok(())) => {
                self.note_height(number);
                true
            }
            Some(Err(ChainError::InvalidBlock { hash, reason })) => {
                tracing::warn!(target: "consensus", number, %hash, "rejecting block: {reason}");
                false
            }
            Some(Err(e)) => {
                tracing::error!(target: "consensus", number, "cannot verify block: {e}");
                false
            }
            None => false,
        }
    }
}
