//! Reading the economy: stake pools, computing sessions and the economics' parameters.

use phala_primitives::{AccountId32, Balance, BlockNumber, H256};
use phala_runtime::modules::{computation, stake_pools, timestamp};

use crate::{Client, ClientError};

/// A pool and when it was read.
#[derive(Clone, Debug)]
pub struct PoolSnapshot {
    pub pid: u64,
    pub pool: stake_pools::Pool,
}

/// How a pool's share price moved over a span of the chain's time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Growth {
    /// Annual rate the share price grew at over `span_ms` (0.05 = 5 %).
    pub apr: f64,
    /// How much the share price grew over `span_ms` (0.001 = 0.1 %).
    pub growth: f64,
    pub span_ms: u64,
}

impl Growth {
    /// Shortest history an APR is worth extrapolating from: over a few minutes one reward
    /// more or less swings the rate by orders of magnitude.
    pub const MIN_APR_SPAN_MS: u64 = 3_600_000;

    /// The APR, if the history is long enough to mean anything.
    pub fn apr(&self) -> Option<f64> {
        (self.span_ms >= Self::MIN_APR_SPAN_MS).then_some(self.apr)
    }
}

/// Share price as plancks of value per 10^12 shares (a share starts at 1 PHA per 1 PHA).
pub fn share_price(pool: &stake_pools::Pool) -> Option<f64> {
    (pool.total_shares > 0).then(|| pool.total_value as f64 / pool.total_shares as f64)
}

impl Client {
    /// Block `at`'s timestamp (`Timestamp.Now`, ms); 0 for genesis, which has none.
    pub async fn timestamp_at(&self, at: H256) -> Result<u64, ClientError> {
        Ok(self
            .storage_decoded("Timestamp.Now", &timestamp::NOW.key(), Some(at))
            .await?
            .unwrap_or(0))
    }

    /// Every stake pool at the best block.
    pub async fn pools(&self) -> Result<Vec<PoolSnapshot>, ClientError> {
        let (_, at) = self.best_head().await?;
        self.pools_at(at).await
    }

    /// How many blocks make a day at the chain's own pace, from the timestamps of the 100
    /// blocks up to block `now` (hash `at`).
    pub async fn blocks_per_day(&self, now: BlockNumber, at: H256) -> Result<u32, ClientError> {
        let back = now.saturating_sub(100).max(1);
        let then = self
            .block_hash(back)
            .await?
            .ok_or_else(|| ClientError::BadResponse {
                method: "chain_getBlockHash".into(),
                reason: format!("no block #{back}"),
            })?;
        let (t1, t0) = (self.timestamp_at(at).await?, self.timestamp_at(then).await?);
        let per_block = t1
            .saturating_sub(t0)
            .checked_div(u64::from(now.saturating_sub(back)))
            .unwrap_or(0)
            .max(1);
        Ok(u32::try_from(86_400_000u64.checked_div(per_block).unwrap_or(0)).unwrap_or(u32::MAX))
    }

    /// Every pool at block `at`, by id.
    pub async fn pools_at(&self, at: H256) -> Result<Vec<PoolSnapshot>, ClientError> {
        // Storage iterates in hash order; people read pools by id, as this returns them.
        let pools = self
            .twox64_entries("a StakePools.Pools entry", &stake_pools::POOLS.prefix(), at)
            .await?;
        Ok(pools
            .into_iter()
            .map(|(pid, pool)| PoolSnapshot { pid, pool })
            .collect())
    }

    /// One pool at block `at` (the best block if `None`).
    pub async fn pool(
        &self,
        pid: u64,
        at: Option<H256>,
    ) -> Result<Option<stake_pools::Pool>, ClientError> {
        let key = stake_pools::POOLS.key(&pid);
        self.storage_decoded("a StakePools.Pools entry", &key, at)
            .await
    }

    /// `who`'s shares in pool `pid`.
    pub async fn pool_shares(&self, pid: u64, who: &AccountId32) -> Result<Balance, ClientError> {
        let key = stake_pools::STAKERS.key(&(pid, *who));
        Ok(self
            .storage_decoded("a StakePools.Stakers entry", &key, None)
            .await?
            .unwrap_or(0))
    }

    /// Every computing session at the best block, by worker.
    pub async fn sessions(&self) -> Result<Vec<([u8; 32], computation::Session)>, ClientError> {
        let (_, at) = self.best_head().await?;
        self.sessions_at(at).await
    }

    /// Every computing session at block `at`, by pool, then worker.
    pub async fn sessions_at(
        &self,
        at: H256,
    ) -> Result<Vec<([u8; 32], computation::Session)>, ClientError> {
        let prefix = computation::SESSIONS.prefix();
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&prefix, at).await? {
            // Blake2_128Concat: the worker key follows the prefix and a 16-byte hash.
            let Some(worker) = key
                .get(prefix.len().saturating_add(16)..)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            else {
                continue;
            };
            if let Some(s) = self
                .storage_decoded("a Computation.Sessions entry", &key, Some(at))
                .await?
            {
                out.push((worker, s));
            }
        }
        // By pool, then worker: a pool's workers together.
        out.sort_by_key(|(worker, s): &([u8; 32], computation::Session)| {
            (stake_pools::pool_of_account(&s.owner), *worker)
        });
        Ok(out)
    }

    /// One worker's session, if it has one.
    pub async fn session(
        &self,
        worker: &[u8; 32],
    ) -> Result<Option<computation::Session>, ClientError> {
        let key = computation::SESSIONS.key(worker);
        self.storage_decoded("a Computation.Sessions entry", &key, None)
            .await
    }

    /// The economics' per-block parameters.
    pub async fn computation_params(&self) -> Result<phala_tokenomics::Params, ClientError> {
        let key = computation::PARAMS.key();
        self.storage_decoded("Computation.Params", &key, None)
            .await?
            .ok_or_else(|| ClientError::BadResponse {
                method: "state_getStorage".into(),
                reason: "this chain has no Computation.Params (it predates the economy)".into(),
            })
    }

    /// The pool a worker belongs to.
    pub async fn worker_pool(&self, worker: &[u8; 32]) -> Result<Option<u64>, ClientError> {
        let key = stake_pools::WORKER_POOL.key(worker);
        self.storage_decoded("a StakePools.WorkerPool entry", &key, None)
            .await
    }

    /// How pool `pid`'s share price grew over the last `span` blocks (or since the oldest
    /// block the node has, if younger), as an annual rate. `None` while the pool has no
    /// shares or the span is empty.
    pub async fn pool_growth(
        &self,
        pid: u64,
        span: BlockNumber,
    ) -> Result<Option<Growth>, ClientError> {
        let (now, at) = self.best_head().await?;
        let Some(now_pool) = self.pool(pid, Some(at)).await? else {
            return Ok(None);
        };
        // The span's start, or the first block the pool had shares at if it is younger
        // (found by bisection: shares, once there, stay unless all are withdrawn).
        let mut lo = now.saturating_sub(span).max(1);
        let has_shares = |number| async move {
            let Some(hash) = self.block_hash(number).await? else {
                return Ok::<_, ClientError>(None);
            };
            Ok(self
                .pool(pid, Some(hash))
                .await?
                .filter(|p| p.total_shares > 0)
                .map(|p| (hash, p)))
        };
        let (then_hash, then_pool) = match has_shares(lo).await? {
            Some(found) => found,
            None => {
                let mut hi = now;
                while lo.saturating_add(1) < hi {
                    let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
                    if has_shares(mid).await?.is_some() {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                match has_shares(hi).await? {
                    Some(found) => found,
                    None => return Ok(None),
                }
            }
        };
        let (Some(p1), Some(p0)) = (share_price(&now_pool), share_price(&then_pool)) else {
            return Ok(None);
        };
        let span_ms = self
            .timestamp_at(at)
            .await?
            .saturating_sub(self.timestamp_at(then_hash).await?);
        if span_ms == 0 || p0 <= 0.0 {
            return Ok(None);
        }
        const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
        let growth = p1 / p0 - 1.0;
        Ok(Some(Growth {
            apr: growth * YEAR_MS / span_ms as f64,
            growth,
            span_ms,
        }))
    }
}
