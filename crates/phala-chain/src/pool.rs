//! The transaction pool: validated transactions waiting for a block, ordered per sender by
//! nonce.
//!
//! A transaction enters only after the runtime validated it against the finalized state.
//! Nonces ahead of the account's wait ("future") until the gap is filled by other pooled
//! transactions ("ready"). Building a block never removes anything — a block may not be
//! finalized — transactions leave when a finalized block includes them, when their sender's
//! state changes and revalidation fails, or when their mortality runs out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use phala_primitives::{AccountId32, BlockNumber, H256, Nonce, OpaqueExtrinsic};
use tokio::sync::mpsc;

/// Limits that keep the pool's memory bounded whatever clients send.
#[derive(Clone, Copy, Debug)]
pub struct PoolLimits {
    pub max_transactions: usize,
    pub max_bytes: usize,
    pub max_per_sender: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_transactions: 16_384,
            max_bytes: 64 * 1024 * 1024,
            max_per_sender: 256,
        }
    }
}

/// What happens to a watched transaction (`author_extrinsicUpdate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    Future,
    Ready,
    InBlock(H256),
    Finalized(H256),
    /// Another transaction with the same sender and nonce took its place.
    Usurped(H256),
    Dropped,
    Invalid,
}

impl TxStatus {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TxStatus::Finalized(_) | TxStatus::Usurped(_) | TxStatus::Dropped | TxStatus::Invalid
        )
    }
}

#[derive(Debug)]
pub struct PoolTx {
    pub hash: H256,
    pub xt: OpaqueExtrinsic,
    pub sender: AccountId32,
    pub nonce: Nonce,
    pub priority: u64,
    /// First block number at which the transaction is no longer valid.
    pub valid_till: BlockNumber,
    seq: u64,
}

/// Why the pool refused a valid transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    AlreadyImported,
    Full,
    /// An equal-nonce transaction with at least this priority is already pooled.
    PriorityTooLow {
        old: u64,
        new: u64,
    },
}

#[derive(Default)]
pub struct Pool {
    limits: PoolLimits,
    by_hash: HashMap<H256, Arc<PoolTx>>,
    by_sender: BTreeMap<AccountId32, BTreeMap<Nonce, H256>>,
    watchers: HashMap<H256, Vec<mpsc::UnboundedSender<TxStatus>>>,
    bytes: usize,
    seq: u64,
}

impl Pool {
    pub fn new(limits: PoolLimits) -> Self {
        Pool {
            limits,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn max_per_sender(&self) -> usize {
        self.limits.max_per_sender
    }

    pub fn contains(&self, hash: &H256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Adds a validated transaction; `account_nonce` is the sender's finalized nonce.
    /// Returns whether it is ready.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        hash: H256,
        xt: OpaqueExtrinsic,
        sender: AccountId32,
        nonce: Nonce,
        priority: u64,
        valid_till: BlockNumber,
        account_nonce: Nonce,
    ) -> Result<bool, Rejected> {
        if self.by_hash.contains_key(&hash) {
            return Err(Rejected::AlreadyImported);
        }
        let size = xt.as_bytes().len();
        let replaced = self
            .by_sender
            .get(&sender)
            .and_then(|q| q.get(&nonce))
            .copied();
        if let Some(old_hash) = replaced {
            let old = self.by_hash.get(&old_hash).map(|t| t.priority).unwrap_or(0);
            if priority <= old {
                return Err(Rejected::PriorityTooLow { old, new: priority });
            }
        } else {
            let sender_len = self.by_sender.get(&sender).map(|q| q.len()).unwrap_or(0);
            if self.by_hash.len() >= self.limits.max_transactions
                || self.bytes.saturating_add(size) > self.limits.max_bytes
                || sender_len >= self.limits.max_per_sender
            {
                return Err(Rejected::Full);
            }
        }
        if let Some(old_hash) = replaced {
            self.remove(&old_hash, TxStatus::Usurped(hash));
        }
        self.seq = self.seq.wrapping_add(1);
        let tx = Arc::new(PoolTx {
            hash,
            xt,
            sender,
            nonce,
            priority,
            valid_till,
            seq: self.seq,
        });
        self.bytes = self.bytes.saturating_add(size);
        self.by_hash.insert(hash, tx);
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, hash);
        let ready = self.is_ready(&sender, nonce, account_nonce);
        if ready {
            // This nonce closed a gap: the waiting successors are ready now.
            let promoted: Vec<H256> = self
                .by_sender
                .get(&sender)
                .map(|q| {
                    (nonce.saturating_add(1)..)
                        .map_while(|n| q.get(&n).copied())
                        .collect()
                })
                .unwrap_or_default();
            for hash in promoted {
                self.notify(&hash, TxStatus::Ready);
            }
        }
        Ok(ready)
    }

    /// Whether every nonce from the account's up to `nonce` is pooled.
    fn is_ready(&self, sender: &AccountId32, nonce: Nonce, account_nonce: Nonce) -> bool {
        let Some(queue) = self.by_sender.get(sender) else {
            return false;
        };
        (account_nonce..=nonce).all(|n| queue.contains_key(&n))
    }

    pub fn watch(&mut self, hash: H256) -> mpsc::UnboundedReceiver<TxStatus> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.watchers.entry(hash).or_default().push(tx);
        rx
    }

    pub fn notify(&mut self, hash: &H256, status: TxStatus) {
        let done = status.is_final();
        if let Some(watchers) = self.watchers.get_mut(hash) {
            watchers.retain(|w| w.send(status.clone()).is_ok());
        }
        if done {
            self.watchers.remove(hash);
        }
    }

    /// Removes a transaction and tells its watchers why.
    pub fn remove(&mut self, hash: &H256, status: TxStatus) {
        if let Some(tx) = self.by_hash.remove(hash) {
            self.bytes = self.bytes.saturating_sub(tx.xt.as_bytes().len());
            if let Some(queue) = self.by_sender.get_mut(&tx.sender) {
                queue.remove(&tx.nonce);
                if queue.is_empty() {
                    self.by_sender.remove(&tx.sender);
                }
            }
        }
        self.notify(hash, status);
    }

    /// Candidates for a block: each sender's transactions in nonce order, senders ordered by
    /// their first transaction's priority, then age.
    pub fn block_candidates(&self) -> Vec<Arc<PoolTx>> {
        let mut runs: Vec<Vec<Arc<PoolTx>>> = self
            .by_sender
            .values()
            .map(|queue| {
                queue
                    .values()
                    .filter_map(|h| self.by_hash.get(h).cloned())
                    .collect()
            })
            .collect();
        runs.sort_by_key(|run: &Vec<Arc<PoolTx>>| {
            run.first()
                .map(|t| (std::cmp::Reverse(t.priority), t.seq))
                .unwrap_or((std::cmp::Reverse(0), u64::MAX))
        });
        runs.into_iter().flatten().collect()
    }

    pub fn senders(&self) -> Vec<AccountId32> {
        self.by_sender.keys().copied().collect()
    }

    pub fn sender_txs(&self, sender: &AccountId32) -> Vec<Arc<PoolTx>> {
        self.by_sender
            .get(sender)
            .map(|q| {
                q.values()
                    .filter_map(|h| self.by_hash.get(h).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next nonce for `sender` counting its pooled transactions contiguous with
    /// `account_nonce` (`system_accountNextIndex`).
    pub fn next_nonce(&self, sender: &AccountId32, account_nonce: Nonce) -> Nonce {
        let mut next = account_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            while queue.contains_key(&next) {
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Drops transactions whose mortality ended at `number`.
    pub fn prune_expired(&mut self, number: BlockNumber) {
        let expired: Vec<H256> = self
            .by_hash
            .values()
            .filter(|t| t.valid_till <= number)
            .map(|t| t.hash)
            .collect();
        for hash in expired {
            self.remove(&hash, TxStatus::Dropped);
        }
    }

    pub fn all_bytes(&self) -> Vec<OpaqueExtrinsic> {
        let mut txs: Vec<_> = self.by_hash.values().collect();
        txs.sort_by_key(|t| t.seq);
        txs.into_iter().map(|t| t.xt.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xt(n: u8) -> OpaqueExtrinsic {
        OpaqueExtrinsic::from_bytes(vec![12, 4, n, 0]).unwrap()
    }

    #[test]
    fn readiness_replacement_and_limits() {
        let mut pool = Pool::new(PoolLimits {
            max_transactions: 3,
            max_bytes: 1 << 20,
            max_per_sender: 10,
        });
        let a = AccountId32([1; 32]);
        assert_eq!(
            pool.insert(H256([1; 32]), xt(1), a, 1, 0, 100, 0),
            Ok(false)
        );
        let mut promoted = pool.watch(H256([1; 32]));
        assert_eq!(pool.insert(H256([2; 32]), xt(2), a, 0, 0, 100, 0), Ok(true));
        assert_eq!(promoted.try_recv(), Ok(TxStatus::Ready));
        assert_eq!(pool.next_nonce(&a, 0), 2);
        assert_eq!(
            pool.insert(H256([2; 32]), xt(2), a, 0, 0, 100, 0),
            Err(Rejected::AlreadyImported)
        );
        assert_eq!(
            pool.insert(H256([3; 32]), xt(3), a, 0, 0, 100, 0),
            Err(Rejected::PriorityTooLow { old: 0, new: 0 })
        );
        let mut watch = pool.watch(H256([2; 32]));
        assert_eq!(pool.insert(H256([3; 32]), xt(3), a, 0, 5, 100, 0), Ok(true));
        assert_eq!(watch.try_recv(), Ok(TxStatus::Usurped(H256([3; 32]))));
        assert_eq!(pool.insert(H256([4; 32]), xt(4), a, 2, 0, 10, 0), Ok(true));
        assert_eq!(
            pool.insert(H256([5; 32]), xt(5), a, 3, 0, 100, 0),
            Err(Rejected::Full)
        );
        let order: Vec<_> = pool.block_candidates().iter().map(|t| t.nonce).collect();
        assert_eq!(order, vec![0, 1, 2]);
        pool.prune_expired(10);
        assert_eq!(pool.len(), 2);
    }
}
