//! The transaction pool: validated transactions waiting for a block, ordered per sender by
//! nonce.
//!
//! A transaction enters only after the runtime validated it against the finalized state.
//! Nonces ahead of the account's wait ("future") until the gap is filled by other pooled
//! transactions ("ready"). Building a block never removes anything — a block may not be
//! finalized — transactions leave when a finalized block includes them, when their sender's
//! state changes and revalidation fails, when their lifetime runs out, or when a
//! higher-ranked newcomer needs their room.
//!
//! Admission rules, which keep the pool bounded and useful whatever clients send
//! (numbers are [`PoolLimits::default`]):
//!
//! - **Per sender**: at most 64 pooled transactions, of which at most 16 future; a nonce 64 or
//!   more ahead of the account's is refused outright, as it could never become ready.
//! - **Fees**: the fees (tips included) of one sender's pooled transactions together stay
//!   within what the account can pay while staying alive, so pooling costs what the
//!   transactions would cost.
//! - **Lifetime**: a transaction leaves after at most 1,024 blocks, immortal ones too
//!   (watchers hear `Dropped`); its hash is then refused for 64 blocks, as are evicted ones.
//! - **Room**: 16,384 transactions and 64 MiB. Normal transactions may fill 7/8 of both;
//!   the rest is kept for operational ones (equivocation reports, workers' messages), which
//!   must be ready when they arrive. Future transactions may fill 1/8 of both.
//! - **Eviction**: when a budget is full, a newcomer evicts the lowest-ranked sender tails —
//!   a sender's highest nonce, so nobody else's transactions are stranded — that free what
//!   it needs. Rank is (ready, priority): a future transaction, which no block can take
//!   yet, always ranks below a ready one. A newcomer that does not outrank them is refused.
//! - **Tags**: at most one pooled transaction provides each extra tag the runtime reports
//!   (one per worker message), so one message cannot be wrapped into many transactions.

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use phala_primitives::{AccountId32, Balance, BlockNumber, H256, Nonce, OpaqueExtrinsic};
use tokio::sync::mpsc;

/// Limits that keep the pool's memory bounded whatever clients send.
#[derive(Clone, Copy, Debug)]
pub struct PoolLimits {
    /// Every transaction, operational ones included.
    pub max_transactions: usize,
    pub max_bytes: usize,
    /// Normal (not operational) transactions: the rest is kept for operational ones.
    pub max_normal_transactions: usize,
    pub max_normal_bytes: usize,
    /// Transactions waiting for an earlier nonce, of any sender.
    pub max_future_transactions: usize,
    pub max_future_bytes: usize,
    pub max_per_sender: usize,
    /// Of `max_per_sender`, how many may wait for an earlier nonce.
    pub max_future_per_sender: usize,
    /// Blocks a transaction may stay, whatever its mortality.
    pub max_lifetime: BlockNumber,
    /// Blocks an evicted or expired transaction's hash is refused for.
    pub ban_blocks: BlockNumber,
}

impl Default for PoolLimits {
    fn default() -> Self {
        let max_transactions: usize = 16_384;
        let max_bytes: usize = 64 * 1024 * 1024;
        let eighth = |n: usize| n.checked_div(8).unwrap_or(0);
        PoolLimits {
            max_transactions,
            max_bytes,
            max_normal_transactions: max_transactions.saturating_sub(eighth(max_transactions)),
            max_normal_bytes: max_bytes.saturating_sub(eighth(max_bytes)),
            max_future_transactions: eighth(max_transactions),
            max_future_bytes: eighth(max_bytes),
            max_per_sender: 64,
            max_future_per_sender: 16,
            max_lifetime: 1_024,
            ban_blocks: 64,
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

/// A validated transaction on its way in.
#[derive(Clone, Debug)]
pub struct NewTx {
    pub hash: H256,
    pub xt: OpaqueExtrinsic,
    pub sender: AccountId32,
    pub nonce: Nonce,
    pub priority: u64,
    /// Operational transactions may use the room normal ones cannot.
    pub operational: bool,
    /// What inclusion would withdraw from the sender.
    pub fee: Balance,
    /// First block number at which its mortality has ended.
    pub valid_till: BlockNumber,
    /// What it provides besides its sender and nonce.
    pub tags: Vec<Vec<u8>>,
}

/// The sender's account as the validation saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderAccount {
    pub nonce: Nonce,
    /// What its pooled transactions' fees may add up to.
    pub spendable: Balance,
}

#[derive(Debug)]
pub struct PoolTx {
    pub hash: H256,
    pub xt: OpaqueExtrinsic,
    pub sender: AccountId32,
    pub nonce: Nonce,
    pub priority: u64,
    pub operational: bool,
    pub fee: Balance,
    /// First block number at which the transaction leaves: the end of its mortality or of
    /// its lifetime in the pool, whichever comes first.
    pub valid_till: BlockNumber,
    tags: Vec<Vec<u8>>,
    seq: u64,
}

impl PoolTx {
    fn size(&self) -> usize {
        self.xt.as_bytes().len()
    }
}

/// Why the pool refused a valid transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    AlreadyImported,
    /// It was evicted or expired recently.
    Banned,
    /// A pooled transaction with the same nonce, or providing the same tag, has at least
    /// this priority.
    PriorityTooLow {
        old: u64,
        new: u64,
    },
    /// The sender already has this many pooled.
    SenderFull {
        limit: usize,
    },
    /// The sender already has this many waiting for an earlier nonce.
    SenderFutureFull {
        limit: usize,
    },
    /// The sender's pooled fees and this one's exceed what it can pay.
    FeesExceedBalance {
        pooled: Balance,
        fee: Balance,
        spendable: Balance,
    },
    /// Operational room is for transactions a block can take now.
    OperationalFuture,
    /// No room, and nothing it outranks to evict.
    Full,
}

/// A count of transactions and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    txs: usize,
    bytes: usize,
}

impl Usage {
    fn plus(self, bytes: usize) -> Usage {
        Usage {
            txs: self.txs.saturating_add(1),
            bytes: self.bytes.saturating_add(bytes),
        }
    }

    fn minus(self, bytes: usize) -> Usage {
        Usage {
            txs: self.txs.saturating_sub(1),
            bytes: self.bytes.saturating_sub(bytes),
        }
    }

    fn minus_usage(self, other: Usage) -> Usage {
        Usage {
            txs: self.txs.saturating_sub(other.txs),
            bytes: self.bytes.saturating_sub(other.bytes),
        }
    }

    fn plus_usage(self, other: Usage) -> Usage {
        Usage {
            txs: self.txs.saturating_add(other.txs),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }

    /// Whether `self` breaks a limit that `before` did not already break as far: a budget
    /// overfull for other reasons (a changed base) is not the newcomer's to fix.
    fn over(self, before: Usage, max_txs: usize, max_bytes: usize) -> bool {
        (self.txs > max_txs && self.txs > before.txs)
            || (self.bytes > max_bytes && self.bytes > before.bytes)
    }
}

/// A sender's highest nonce in the eviction order: futures first, then by priority, newest
/// first among equals (older transactions keep their place).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TailKey {
    ready: bool,
    priority: u64,
    newest_first: Reverse<u64>,
    sender: AccountId32,
}

/// What one sender has pooled.
#[derive(Debug, Default)]
struct SenderQueue {
    /// The account's nonce when last seen: transactions contiguous from it are ready.
    base: Nonce,
    txs: BTreeMap<Nonce, H256>,
    /// How many from `ready_from` (`base` when last counted) on are ready.
    ready_from: Nonce,
    ready: usize,
    /// What is not ready: counted in the pool's future budget.
    future: Usage,
    fees: Balance,
    tail: Option<TailKey>,
}

/// Hashes refused for a while: evicted or expired transactions, so the same bytes cannot
/// come straight back. Bounded by count; the oldest ban goes first.
#[derive(Debug, Default)]
struct Bans {
    until: HashMap<H256, BlockNumber>,
    order: VecDeque<(H256, BlockNumber)>,
}

impl Bans {
    fn ban(&mut self, hash: H256, until: BlockNumber, max: usize) {
        self.until.insert(hash, until);
        self.order.push_back((hash, until));
        while self.order.len() > max {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((hash, until)) = self.order.pop_front()
            && self.until.get(&hash) == Some(&until)
        {
            self.until.remove(&hash);
        }
    }

    fn is_banned(&self, hash: &H256, now: BlockNumber) -> bool {
        self.until.get(hash).is_some_and(|until| *until > now)
    }

    fn expire(&mut self, now: BlockNumber) {
        while self.order.front().is_some_and(|(_, until)| *until <= now) {
            self.pop_oldest();
        }
    }
}

#[derive(Default)]
pub struct Pool {
    limits: PoolLimits,
    by_hash: HashMap<H256, Arc<PoolTx>>,
    by_sender: BTreeMap<AccountId32, SenderQueue>,
    /// Every sender's tail, lowest rank first: the eviction order.
    tails: BTreeSet<TailKey>,
    /// Extra tags and the transaction providing each.
    tags: HashMap<Vec<u8>, H256>,
    watchers: HashMap<H256, Vec<mpsc::UnboundedSender<TxStatus>>>,
    all: Usage,
    normal: Usage,
    future: Usage,
    bans: Bans,
    seq: u64,
}

/// Ready count and the future transactions' usage of nonce-ordered `(nonce, size)` entries
/// whose account nonce is `base`: ready are those contiguous from `base`, the rest wait.
fn split(base: Nonce, entries: impl Iterator<Item = (Nonce, usize)>) -> (usize, Usage) {
    let mut expected = Some(base);
    let mut ready = 0usize;
    let mut future = Usage::default();
    for (nonce, size) in entries {
        if expected == Some(nonce) {
            ready = ready.saturating_add(1);
            expected = nonce.checked_add(1);
        } else {
            future = future.plus(size);
        }
    }
    (ready, future)
}

impl Pool {
    pub fn new(limits: PoolLimits) -> Self {
        Pool {
            limits,
            ..Default::default()
        }
    }

    pub fn limits(&self) -> &PoolLimits {
        &self.limits
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn contains(&self, hash: &H256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Whether `hash` was evicted or expired recently (as of block `now`).
    pub fn is_banned(&self, hash: &H256, now: BlockNumber) -> bool {
        self.bans.is_banned(hash, now)
    }

    fn size_of(&self, hash: &H256) -> usize {
        self.by_hash.get(hash).map(|t| t.size()).unwrap_or(0)
    }

    /// Whether a pooled transaction is ready as its sender's queue stands.
    fn is_ready(&self, tx: &PoolTx) -> bool {
        self.by_sender.get(&tx.sender).is_some_and(|q| {
            tx.nonce >= q.base
                && usize::try_from(tx.nonce.saturating_sub(q.base)).unwrap_or(usize::MAX) < q.ready
        })
    }

    /// Adds a validated transaction that would go into block `now`; `account` is its
    /// sender's finalized account. Returns whether it is ready. On `Err` nothing changed.
    pub fn insert(
        &mut self,
        tx: NewTx,
        account: SenderAccount,
        now: BlockNumber,
    ) -> Result<bool, Rejected> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(Rejected::AlreadyImported);
        }
        if self.bans.is_banned(&tx.hash, now) {
            return Err(Rejected::Banned);
        }
        let size = tx.xt.as_bytes().len();
        let queue = self.by_sender.get(&tx.sender);
        let replaced: Option<Arc<PoolTx>> = queue
            .and_then(|q| q.txs.get(&tx.nonce))
            .and_then(|h| self.by_hash.get(h))
            .cloned();
        if let Some(old) = &replaced
            && tx.priority <= old.priority
        {
            return Err(Rejected::PriorityTooLow {
                old: old.priority,
                new: tx.priority,
            });
        }

        // The sender's queue as it would be with the newcomer in.
        let base = queue.map_or(account.nonce, |q| q.base.max(account.nonce));
        let mut entries: BTreeMap<Nonce, usize> = queue
            .map(|q| q.txs.iter().map(|(n, h)| (*n, self.size_of(h))).collect())
            .unwrap_or_default();
        entries.insert(tx.nonce, size);
        let (_, sender_future) = split(base, entries.iter().map(|(n, s)| (*n, *s)));
        let ready = (base..=tx.nonce).all(|n| entries.contains_key(&n));
        if replaced.is_none() && entries.len() > self.limits.max_per_sender {
            return Err(Rejected::SenderFull {
                limit: self.limits.max_per_sender,
            });
        }
        if !ready && sender_future.txs > self.limits.max_future_per_sender {
            return Err(Rejected::SenderFutureFull {
                limit: self.limits.max_future_per_sender,
            });
        }
        if tx.operational && !ready {
            return Err(Rejected::OperationalFuture);
        }
        let pooled = queue
            .map_or(0, |q| q.fees)
            .saturating_sub(replaced.as_ref().map_or(0, |t| t.fee));
        if pooled
            .checked_add(tx.fee)
            .is_none_or(|total| total > account.spendable)
        {
            return Err(Rejected::FeesExceedBalance {
                pooled,
                fee: tx.fee,
                spendable: account.spendable,
            });
        }

        // Another sender's transaction providing one of its tags gives way only to a
        // higher rank; the same sender's never does, as removing it could strand the newcomer.
        let rank = (ready, tx.priority);
        let mut usurped: Vec<Arc<PoolTx>> = replaced.into_iter().collect();
        for tag in &tx.tags {
            let Some(holder) = self.tags.get(tag).and_then(|h| self.by_hash.get(h)) else {
                continue;
            };
            if usurped.iter().any(|t| t.hash == holder.hash) {
                continue;
            }
            if holder.sender == tx.sender || (self.is_ready(holder), holder.priority) >= rank {
                return Err(Rejected::PriorityTooLow {
                    old: holder.priority,
                    new: tx.priority,
                });
            }
            usurped.push(holder.clone());
        }

        let victims = self.plan_evictions(&tx, size, ready, sender_future, &usurped)?;

        for old in &usurped {
            self.remove(&old.hash, TxStatus::Usurped(tx.hash));
        }
        let ban_until = now.saturating_add(self.limits.ban_blocks);
        for victim in victims {
            tracing::debug!(target: "pool", hash = %victim, by = %tx.hash, "evicting transaction");
            self.bans
                .ban(victim, ban_until, self.limits.max_transactions.max(1));
            self.remove(&victim, TxStatus::Dropped);
        }

        self.seq = self.seq.wrapping_add(1);
        let valid_till = tx
            .valid_till
            .min(now.saturating_add(self.limits.max_lifetime));
        let pooled_tx = Arc::new(PoolTx {
            hash: tx.hash,
            xt: tx.xt,
            sender: tx.sender,
            nonce: tx.nonce,
            priority: tx.priority,
            operational: tx.operational,
            fee: tx.fee,
            valid_till,
            tags: tx.tags,
            seq: self.seq,
        });
        self.all = self.all.plus(size);
        if !pooled_tx.operational {
            self.normal = self.normal.plus(size);
        }
        for tag in &pooled_tx.tags {
            self.tags.insert(tag.clone(), pooled_tx.hash);
        }
        let queue = self.by_sender.entry(pooled_tx.sender).or_default();
        queue.base = base;
        queue.txs.insert(pooled_tx.nonce, pooled_tx.hash);
        queue.fees = queue.fees.saturating_add(pooled_tx.fee);
        let sender = pooled_tx.sender;
        self.by_hash.insert(pooled_tx.hash, pooled_tx);
        self.refresh(&sender);
        Ok(ready)
    }

    /// The tails a newcomer must evict to fit, lowest rank first; `Full` if it does not
    /// outrank enough of them. `sender_future` is its sender's future usage with it in;
    /// `usurped` leave anyway.
    fn plan_evictions(
        &self,
        tx: &NewTx,
        size: usize,
        ready: bool,
        sender_future: Usage,
        usurped: &[Arc<PoolTx>],
    ) -> Result<Vec<H256>, Rejected> {
        let l = &self.limits;
        let stored_future = self
            .by_sender
            .get(&tx.sender)
            .map_or(Usage::default(), |q| q.future);
        let mut all = self.all.plus(size);
        let mut normal = if tx.operational {
            self.normal
        } else {
            self.normal.plus(size)
        };
        let mut future = self
            .future
            .minus_usage(stored_future)
            .plus_usage(sender_future);
        for old in usurped {
            all = all.minus(old.size());
            if !old.operational {
                normal = normal.minus(old.size());
            }
            if old.sender != tx.sender && !self.is_ready(old) {
                future = future.minus(old.size());
            }
        }
        let over = |all: Usage, normal: Usage, future: Usage| {
            (
                all.over(self.all, l.max_transactions, l.max_bytes),
                normal.over(self.normal, l.max_normal_transactions, l.max_normal_bytes),
                future.over(self.future, l.max_future_transactions, l.max_future_bytes),
            )
        };
        let mut victims = Vec::new();
        let (mut over_all, mut over_normal, mut over_future) = over(all, normal, future);
        for key in &self.tails {
            if !(over_all || over_normal || over_future) {
                break;
            }
            if (key.ready, key.priority) >= (ready, tx.priority) {
                break;
            }
            if key.sender == tx.sender {
                continue;
            }
            let Some(victim) = self
                .by_sender
                .get(&key.sender)
                .and_then(|q| q.txs.last_key_value())
                .and_then(|(_, h)| self.by_hash.get(h))
            else {
                continue;
            };
            if usurped.iter().any(|t| t.hash == victim.hash) {
                continue;
            }
            let helps =
                over_all || (over_normal && !victim.operational) || (over_future && !key.ready);
            if !helps {
                continue;
            }
            all = all.minus(victim.size());
            if !victim.operational {
                normal = normal.minus(victim.size());
            }
            if !key.ready {
                future = future.minus(victim.size());
            }
            victims.push(victim.hash);
            (over_all, over_normal, over_future) = over(all, normal, future);
        }
        if over_all || over_normal || over_future {
            return Err(Rejected::Full);
        }
        Ok(victims)
    }

    /// Recomputes a sender's readiness, its share of the future budget and its place in the
    /// eviction order after its queue or base changed; tells watchers of newly ready ones.
    fn refresh(&mut self, sender: &AccountId32) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        if let Some(key) = queue.tail.take() {
            self.tails.remove(&key);
        }
        self.future = self.future.minus_usage(queue.future);
        if queue.txs.is_empty() {
            self.by_sender.remove(sender);
            return;
        }
        let by_hash = &self.by_hash;
        let size = |h: &H256| by_hash.get(h).map(|t| t.size()).unwrap_or(0);
        let was_ready: Vec<H256> = queue
            .txs
            .range(queue.ready_from..)
            .take(queue.ready)
            .map(|(_, h)| *h)
            .collect();
        let (ready, future) = split(queue.base, queue.txs.iter().map(|(n, h)| (*n, size(h))));
        queue.ready_from = queue.base;
        queue.ready = ready;
        queue.future = future;
        let newly_ready: Vec<H256> = queue
            .txs
            .range(queue.base..)
            .take(ready)
            .map(|(_, h)| *h)
            .filter(|h| !was_ready.contains(h))
            .collect();
        let tail = queue
            .txs
            .last_key_value()
            .and_then(|(_, h)| by_hash.get(h))
            .map(|t| TailKey {
                ready: future.txs == 0,
                priority: t.priority,
                newest_first: Reverse(t.seq),
                sender: *sender,
            });
        queue.tail = tail;
        if let Some(key) = tail {
            self.tails.insert(key);
        }
        self.future = self.future.plus_usage(future);
        for hash in newly_ready {
            self.notify(&hash, TxStatus::Ready);
        }
    }

    /// Takes in a sender's nonce after a finalized block changed it: transactions
    /// contiguous from it are ready. Call it before removing the block's transactions, so
    /// their successors are never counted as waiting in between.
    pub fn set_account_nonce(&mut self, sender: &AccountId32, nonce: Nonce) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        queue.base = nonce;
        self.refresh(sender);
    }

    /// Keeps a sender's pooled fees payable after its balance changed: the highest nonces
    /// leave (`Dropped`) until they are.
    pub fn enforce_fees(&mut self, sender: &AccountId32, spendable: Balance) {
        while let Some(queue) = self.by_sender.get(sender)
            && queue.fees > spendable
            && let Some((_, hash)) = queue.txs.last_key_value()
        {
            let hash = *hash;
            tracing::debug!(target: "pool", %hash, "dropping transaction: its sender can no longer pay its pooled fees");
            self.remove(&hash, TxStatus::Dropped);
        }
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
            self.all = self.all.minus(tx.size());
            if !tx.operational {
                self.normal = self.normal.minus(tx.size());
            }
            for tag in &tx.tags {
                if self.tags.get(tag) == Some(hash) {
                    self.tags.remove(tag);
                }
            }
            if let Some(queue) = self.by_sender.get_mut(&tx.sender) {
                if queue.txs.get(&tx.nonce) == Some(hash) {
                    queue.txs.remove(&tx.nonce);
                }
                queue.fees = queue.fees.saturating_sub(tx.fee);
            }
            self.refresh(&tx.sender);
        }
        self.notify(hash, status);
    }

    /// Candidates for a block: each sender's ready transactions in nonce order, senders
    /// ordered by their first transaction's priority (operational ones first), then age.
    /// Future transactions are left out: no block could take them.
    pub fn block_candidates(&self) -> Vec<Arc<PoolTx>> {
        let mut runs: Vec<Vec<Arc<PoolTx>>> = self
            .by_sender
            .values()
            .map(|queue| {
                queue
                    .txs
                    .range(queue.base..)
                    .take(queue.ready)
                    .filter_map(|(_, h)| self.by_hash.get(h).cloned())
                    .collect::<Vec<_>>()
            })
            .filter(|run| !run.is_empty())
            .collect();
        runs.sort_by_key(|run: &Vec<Arc<PoolTx>>| {
            run.first()
                .map(|t| (Reverse(t.priority), t.seq))
                .unwrap_or((Reverse(0), u64::MAX))
        });
        runs.into_iter().flatten().collect()
    }

    pub fn senders(&self) -> Vec<AccountId32> {
        self.by_sender.keys().copied().collect()
    }

    /// The pooled operational transactions: their validity depends on more than their
    /// sender's account (a worker's sequence and attestation), so they are revalidated
    /// after every finalized block. Few: one per worker message in flight.
    pub fn operational_txs(&self) -> Vec<Arc<PoolTx>> {
        self.by_hash
            .values()
            .filter(|t| t.operational)
            .cloned()
            .collect()
    }

    /// Removes `hash` as invalid, and its sender's later nonces with it: they could only
    /// wait, holding room, for a transaction that will never apply.
    pub fn remove_invalid(&mut self, hash: &H256) {
        let Some(tx) = self.by_hash.get(hash).cloned() else {
            return;
        };
        let later: Vec<H256> = self
            .sender_txs(&tx.sender)
            .into_iter()
            .filter(|t| t.nonce > tx.nonce)
            .map(|t| t.hash)
            .collect();
        self.remove(hash, TxStatus::Invalid);
        for hash in later {
            self.remove(&hash, TxStatus::Dropped);
        }
    }

    pub fn sender_txs(&self, sender: &AccountId32) -> Vec<Arc<PoolTx>> {
        self.by_sender
            .get(sender)
            .map(|q| {
                q.txs
                    .values()
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
            while queue.txs.contains_key(&next) {
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Drops transactions whose mortality or lifetime ended at `number`; their hashes stay
    /// refused for a while, so the same bytes do not start a new lifetime straight away.
    pub fn prune_expired(&mut self, number: BlockNumber) {
        self.bans.expire(number);
        let expired: Vec<H256> = self
            .by_hash
            .values()
            .filter(|t| t.valid_till <= number)
            .map(|t| t.hash)
            .collect();
        let ban_until = number.saturating_add(self.limits.ban_blocks);
        for hash in expired {
            self.bans
                .ban(hash, ban_until, self.limits.max_transactions.max(1));
            self.remove(&hash, TxStatus::Dropped);
        }
    }

    pub fn all_bytes(&self) -> Vec<OpaqueExtrinsic> {
        let mut txs: Vec<_> = self.by_hash.values().collect();
        txs.sort_by_key(|t| t.seq);
        txs.into_iter().map(|t| t.xt.clone()).collect()
    }
}
