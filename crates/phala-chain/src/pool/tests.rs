use parity_scale_codec::{Compact, Encode};

use super::*;

/// A distinct opaque transaction of `len` body bytes (at least 4).
fn xt(id: u32, len: usize) -> OpaqueExtrinsic {
    let mut body = id.to_le_bytes().to_vec();
    body.resize(len.max(4), 0);
    let mut bytes = Compact(u32::try_from(body.len()).unwrap()).encode();
    bytes.extend(body);
    OpaqueExtrinsic::from_bytes(bytes).unwrap()
}

fn account(n: u8) -> AccountId32 {
    AccountId32([n; 32])
}

/// A normal, immortal transaction of `sender` with fee 1 and no tags; `id` makes it unique.
fn tx(id: u32, sender: u8, nonce: Nonce, priority: u64) -> NewTx {
    let xt = xt(id, 8);
    NewTx {
        hash: xt.hash(),
        xt,
        sender: account(sender),
        nonce,
        priority,
        operational: false,
        fee: 1,
        valid_till: BlockNumber::MAX,
        tags: Vec::new(),
    }
}

fn operational(mut t: NewTx) -> NewTx {
    t.operational = true;
    t
}

/// An account at `nonce` that can pay any fee.
fn rich(nonce: Nonce) -> SenderAccount {
    SenderAccount {
        nonce,
        spendable: Balance::MAX,
    }
}

/// Roomy limits: tests narrow the one they exercise.
fn limits() -> PoolLimits {
    PoolLimits {
        max_transactions: 100,
        max_bytes: 1 << 20,
        max_normal_transactions: 100,
        max_normal_bytes: 1 << 20,
        max_future_transactions: 100,
        max_future_bytes: 1 << 20,
        max_per_sender: 100,
        max_future_per_sender: 100,
        max_lifetime: 1_000,
        ban_blocks: 10,
    }
}

/// The pool's counters, indexes and tags agree with its transactions, and it is within
/// its total and normal limits.
fn check_invariants(pool: &Pool) {
    let mut all = Usage::default();
    let mut normal = Usage::default();
    let mut future = Usage::default();
    for (sender, queue) in &pool.by_sender {
        assert!(!queue.txs.is_empty());
        assert_eq!(queue.ready_from, queue.base);
        let mut fees = 0;
        for (nonce, hash) in &queue.txs {
            let t = &pool.by_hash[hash];
            assert_eq!((&t.sender, &t.nonce), (sender, nonce));
            fees += t.fee;
        }
        assert_eq!(queue.fees, fees);
        let (ready, f) = split(
            queue.base,
            queue.txs.iter().map(|(n, h)| (*n, pool.by_hash[h].size())),
        );
        assert_eq!((queue.ready, queue.future), (ready, f));
        future = future.plus_usage(f);
        let tail = queue.tail.unwrap();
        assert!(pool.tails.contains(&tail));
        assert_eq!(tail.ready, f.txs == 0);
    }
    assert_eq!(pool.tails.len(), pool.by_sender.len());
    for t in pool.by_hash.values() {
        all = all.plus(t.size());
        if !t.operational {
            normal = normal.plus(t.size());
        }
        for tag in &t.tags {
            assert_eq!(pool.tags.get(tag), Some(&t.hash));
        }
    }
    assert_eq!((pool.all, pool.normal, pool.future), (all, normal, future));
    let l = &pool.limits;
    assert!(all.txs <= l.max_transactions && all.bytes <= l.max_bytes);
    assert!(normal.txs <= l.max_normal_transactions && normal.bytes <= l.max_normal_bytes);
}

#[test]
fn readiness_and_replacement() {
    let mut pool = Pool::new(limits());
    let a = 1;
    let n1 = tx(1, a, 1, 0);
    assert_eq!(pool.insert(n1.clone(), rich(0), 1), Ok(false));
    let mut promoted = pool.watch(n1.hash);
    let n0 = tx(2, a, 0, 0);
    assert_eq!(pool.insert(n0.clone(), rich(0), 1), Ok(true));
    assert_eq!(promoted.try_recv(), Ok(TxStatus::Ready));
    assert_eq!(pool.next_nonce(&account(a), 0), 2);
    assert_eq!(
        pool.insert(n0.clone(), rich(0), 1),
        Err(Rejected::AlreadyImported)
    );
    assert_eq!(
        pool.insert(tx(3, a, 0, 0), rich(0), 1),
        Err(Rejected::PriorityTooLow { old: 0, new: 0 })
    );
    let mut watch = pool.watch(n0.hash);
    let better = tx(3, a, 0, 5);
    assert_eq!(pool.insert(better.clone(), rich(0), 1), Ok(true));
    assert_eq!(watch.try_recv(), Ok(TxStatus::Usurped(better.hash)));
    let mut mortal = tx(4, a, 2, 0);
    mortal.valid_till = 10;
    assert_eq!(pool.insert(mortal, rich(0), 1), Ok(true));
    let order: Vec<_> = pool.block_candidates().iter().map(|t| t.nonce).collect();
    assert_eq!(order, vec![0, 1, 2]);
    pool.prune_expired(10);
    assert_eq!(pool.len(), 2);
    check_invariants(&pool);
}

#[test]
fn a_sender_is_limited_and_its_future_transactions_more_so() {
    let mut pool = Pool::new(PoolLimits {
        max_per_sender: 4,
        max_future_per_sender: 2,
        ..limits()
    });
    let a = 1;
    assert_eq!(pool.insert(tx(1, a, 1, 0), rich(0), 1), Ok(false));
    assert_eq!(pool.insert(tx(2, a, 5, 0), rich(0), 1), Ok(false));
    assert_eq!(
        pool.insert(tx(3, a, 3, 0), rich(0), 1),
        Err(Rejected::SenderFutureFull { limit: 2 })
    );
    // Another sender is not affected.
    assert_eq!(pool.insert(tx(4, 2, 1, 0), rich(0), 1), Ok(false));
    // Filling the gap makes nonce 1 ready, which frees room for a future one.
    assert_eq!(pool.insert(tx(5, a, 0, 0), rich(0), 1), Ok(true));
    assert_eq!(pool.insert(tx(6, a, 3, 0), rich(0), 1), Ok(false));
    assert_eq!(
        pool.insert(tx(7, a, 2, 0), rich(0), 1),
        Err(Rejected::SenderFull { limit: 4 })
    );
    // Replacing one does not add to the count.
    assert_eq!(pool.insert(tx(8, a, 3, 1), rich(0), 1), Ok(false));
    assert_eq!(pool.sender_txs(&account(a)).len(), 4);
    // Only ready transactions are block candidates.
    let candidates: Vec<_> = pool
        .block_candidates()
        .iter()
        .map(|t| (t.sender, t.nonce))
        .collect();
    assert_eq!(candidates, vec![(account(a), 0), (account(a), 1)]);
    check_invariants(&pool);
}

#[test]
fn a_full_pool_evicts_the_lowest_ranked_tail_for_a_higher_newcomer() {
    let mut pool = Pool::new(PoolLimits {
        max_transactions: 4,
        max_normal_transactions: 4,
        ..limits()
    });
    // Sender 1's high-priority nonce 0 is followed by a tipless nonce 1: only the tail can go,
    // so its nonce 0 never waits for a gap.
    assert_eq!(pool.insert(tx(1, 1, 0, 9), rich(0), 1), Ok(true));
    let tail = tx(2, 1, 1, 0);
    assert_eq!(pool.insert(tail.clone(), rich(0), 1), Ok(true));
    assert_eq!(pool.insert(tx(3, 2, 0, 3), rich(0), 1), Ok(true));
    assert_eq!(pool.insert(tx(4, 3, 0, 5), rich(0), 1), Ok(true));
    let mut dropped = pool.watch(tail.hash);
    // Equal to the lowest tail: refused, nothing changes.
    assert_eq!(pool.insert(tx(5, 4, 0, 0), rich(0), 1), Err(Rejected::Full));
    assert_eq!(pool.len(), 4);
    let newcomer = tx(6, 4, 0, 1);
    assert_eq!(pool.insert(newcomer.clone(), rich(0), 1), Ok(true));
    assert_eq!(dropped.try_recv(), Ok(TxStatus::Dropped));
    assert!(!pool.contains(&tail.hash) && pool.contains(&newcomer.hash));
    assert_eq!(pool.next_nonce(&account(1), 0), 1);
    // The evicted transaction cannot come straight back.
    assert_eq!(pool.insert(tail.clone(), rich(0), 2), Err(Rejected::Banned));
    assert!(pool.is_banned(&tail.hash, 10));
    assert!(!pool.is_banned(&tail.hash, 11));
    // Next lowest tail is sender 4's newcomer (1), then sender 2 (3).
    assert_eq!(pool.insert(tx(7, 5, 0, 1), rich(0), 1), Err(Rejected::Full));
    assert_eq!(pool.insert(tx(8, 5, 0, 2), rich(0), 1), Ok(true));
    assert!(!pool.contains(&newcomer.hash));
    check_invariants(&pool);
}

#[test]
fn a_ready_newcomer_outranks_any_future_transaction() {
    let mut pool = Pool::new(PoolLimits {
        max_transactions: 2,
        max_normal_transactions: 2,
        ..limits()
    });
    let waiting = tx(1, 1, 5, 1_000);
    assert_eq!(pool.insert(waiting.clone(), rich(0), 1), Ok(false));
    assert_eq!(pool.insert(tx(2, 2, 0, 0), rich(0), 1), Ok(true));
    // A future newcomer does not outrank the ready one, nor the equal future one.
    assert_eq!(
        pool.insert(tx(3, 3, 1, 1_000), rich(0), 1),
        Err(Rejected::Full)
    );
    // A ready one evicts the future one whatever its tip.
    assert_eq!(pool.insert(tx(4, 3, 0, 0), rich(0), 1), Ok(true));
    assert!(!pool.contains(&waiting.hash));
    check_invariants(&pool);
}

#[test]
fn future_transactions_have_a_budget_of_their_own() {
    let mut pool = Pool::new(PoolLimits {
        max_future_transactions: 2,
        ..limits()
    });
    assert_eq!(pool.insert(tx(1, 1, 1, 0), rich(0), 1), Ok(false));
    let newest = tx(2, 2, 1, 0);
    assert_eq!(pool.insert(newest.clone(), rich(0), 1), Ok(false));
    assert_eq!(pool.insert(tx(3, 3, 1, 0), rich(0), 1), Err(Rejected::Full));
    // Ready transactions do not count against it.
    for sender in 3..10 {
        assert_eq!(
            pool.insert(tx(u32::from(sender) * 10, sender, 0, 0), rich(0), 1),
            Ok(true)
        );
    }
    // A higher-priority future one evicts the newest of the lowest.
    assert_eq!(pool.insert(tx(4, 10, 1, 1), rich(0), 1), Ok(false));
    assert!(!pool.contains(&newest.hash));
    assert_eq!(pool.future.txs, 2);
    check_invariants(&pool);
}

#[test]
fn transactions_expire_after_their_lifetime_even_if_immortal() {
    let mut pool = Pool::new(PoolLimits {
        max_lifetime: 100,
        ban_blocks: 10,
        ..limits()
    });
    let immortal = tx(1, 1, 0, 0);
    let later = tx(2, 2, 0, 0);
    assert_eq!(pool.insert(immortal.clone(), rich(0), 5), Ok(true));
    assert_eq!(pool.insert(later.clone(), rich(0), 50), Ok(true));
    let mut watch = pool.watch(immortal.hash);
    pool.prune_expired(104);
    assert_eq!(pool.len(), 2);
    pool.prune_expired(105);
    assert_eq!(watch.try_recv(), Ok(TxStatus::Dropped));
    assert_eq!(pool.len(), 1);
    // Refused for a while rather than starting a new lifetime at once.
    assert_eq!(
        pool.insert(immortal.clone(), rich(0), 106),
        Err(Rejected::Banned)
    );
    pool.prune_expired(115);
    assert_eq!(pool.insert(immortal, rich(0), 115), Ok(true));
    pool.prune_expired(150);
    assert!(!pool.contains(&later.hash));
    check_invariants(&pool);
}

#[test]
fn operational_transactions_have_reserved_room() {
    let mut pool = Pool::new(PoolLimits {
        max_transactions: 4,
        max_normal_transactions: 3,
        ..limits()
    });
    for sender in 1..=3 {
        assert_eq!(
            pool.insert(tx(u32::from(sender), sender, 0, 5), rich(0), 1),
            Ok(true)
        );
    }
    // Normal room is full of equal priority.
    assert_eq!(pool.insert(tx(4, 4, 0, 5), rich(0), 1), Err(Rejected::Full));
    // An operational transaction still gets in, without evicting anyone.
    let report = operational(tx(5, 5, 0, u64::MAX));
    assert_eq!(pool.insert(report.clone(), rich(0), 1), Ok(true));
    assert_eq!(pool.len(), 4);
    // Blocks take it first.
    assert_eq!(pool.block_candidates()[0].hash, report.hash);
    // Operational room is for what a block can take now.
    assert_eq!(
        pool.insert(operational(tx(6, 6, 1, u64::MAX)), rich(0), 1),
        Err(Rejected::OperationalFuture)
    );
    // With the whole pool full, another operational one evicts a normal tail.
    assert_eq!(
        pool.insert(operational(tx(7, 7, 0, u64::MAX - 1)), rich(0), 1),
        Ok(true)
    );
    assert_eq!(pool.len(), 4);
    assert_eq!(pool.normal.txs, 2);
    check_invariants(&pool);
}

#[test]
fn an_account_cannot_pool_more_fees_than_it_can_pay() {
    let mut pool = Pool::new(limits());
    let a = 1;
    let holding_10 = |nonce| SenderAccount {
        nonce,
        spendable: 10,
    };
    let with_fee = |id, nonce, priority, fee| NewTx {
        fee,
        ..tx(id, a, nonce, priority)
    };
    assert_eq!(
        pool.insert(with_fee(1, 0, 0, 4), holding_10(0), 1),
        Ok(true)
    );
    assert_eq!(
        pool.insert(with_fee(2, 1, 0, 4), holding_10(0), 1),
        Ok(true)
    );
    assert_eq!(
        pool.insert(with_fee(3, 2, 0, 4), holding_10(0), 1),
        Err(Rejected::FeesExceedBalance {
            pooled: 8,
            fee: 4,
            spendable: 10
        })
    );
    // Future ones count too: they are what a flood is made of.
    assert_eq!(
        pool.insert(with_fee(4, 9, 0, 3), holding_10(0), 1),
        Err(Rejected::FeesExceedBalance {
            pooled: 8,
            fee: 3,
            spendable: 10
        })
    );
    // A replacement's fee stands instead of the one it replaces.
    assert_eq!(
        pool.insert(with_fee(5, 1, 1, 6), holding_10(0), 1),
        Ok(true)
    );
    // The balance fell (spent in a block): the highest nonces leave until the rest is
    // payable.
    let tail = pool.sender_txs(&account(a))[1].hash;
    let mut watch = pool.watch(tail);
    pool.enforce_fees(&account(a), 5);
    assert_eq!(watch.try_recv(), Ok(TxStatus::Dropped));
    assert_eq!(pool.sender_txs(&account(a)).len(), 1);
    check_invariants(&pool);
}

#[test]
fn one_transaction_per_tag() {
    let mut pool = Pool::new(limits());
    let tagged = |id, sender, priority| NewTx {
        tags: vec![b"message".to_vec()],
        ..operational(tx(id, sender, 0, priority))
    };
    let first = tagged(1, 1, 10);
    assert_eq!(pool.insert(first.clone(), rich(0), 1), Ok(true));
    // The same message wrapped by someone else: not twice.
    assert_eq!(
        pool.insert(tagged(2, 2, 10), rich(0), 1),
        Err(Rejected::PriorityTooLow { old: 10, new: 10 })
    );
    // Unless it outranks the holder, which then gives way.
    let mut watch = pool.watch(first.hash);
    let second = tagged(3, 2, 11);
    assert_eq!(pool.insert(second.clone(), rich(0), 1), Ok(true));
    assert_eq!(watch.try_recv(), Ok(TxStatus::Usurped(second.hash)));
    // The tag is free again once its holder leaves.
    pool.remove(&second.hash, TxStatus::Finalized(H256([0; 32])));
    assert_eq!(pool.insert(tagged(4, 3, 0), rich(0), 1), Ok(true));
    check_invariants(&pool);
}

#[test]
fn a_new_account_nonce_promotes_waiting_transactions() {
    let mut pool = Pool::new(limits());
    let a = account(1);
    let included = tx(1, 1, 0, 0);
    assert_eq!(pool.insert(included.clone(), rich(0), 1), Ok(true));
    let waiting = tx(2, 1, 2, 0);
    assert_eq!(pool.insert(waiting.clone(), rich(0), 1), Ok(false));
    let mut watch = pool.watch(waiting.hash);
    // Nonces 0 and 1 were included (1 from another node's pool).
    pool.set_account_nonce(&a, 2);
    pool.remove(&included.hash, TxStatus::Finalized(H256([0; 32])));
    assert_eq!(watch.try_recv(), Ok(TxStatus::Ready));
    assert!(watch.try_recv().is_err());
    assert_eq!(pool.block_candidates().len(), 1);
    check_invariants(&pool);
}

/// Whatever arrives, the pool stays within its limits and its books stay consistent.
#[test]
fn the_pool_stays_bounded_and_consistent_under_random_traffic() {
    let mut pool = Pool::new(PoolLimits {
        max_transactions: 40,
        max_bytes: 2_000,
        max_normal_transactions: 35,
        max_normal_bytes: 1_750,
        max_future_transactions: 10,
        max_future_bytes: 500,
        max_per_sender: 8,
        max_future_per_sender: 3,
        max_lifetime: 20,
        ban_blocks: 5,
    });
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut nonces = [0u32; 12];
    for step in 0..5_000u32 {
        let now = step / 50 + 1;
        let sender = u8::try_from(next(12)).unwrap();
        let base = nonces[usize::from(sender)];
        let mut t = tx(
            step,
            sender,
            base + u32::try_from(next(10)).unwrap(),
            next(5),
        );
        t.xt = xt(step, 8 + usize::try_from(next(100)).unwrap());
        t.hash = t.xt.hash();
        t.operational = next(10) == 0;
        t.fee = u128::from(next(4));
        let account = SenderAccount {
            nonce: base,
            spendable: 12,
        };
        let _ = pool.insert(t, account, now);
        match next(20) {
            // A block includes a sender's first ready transaction.
            0 => {
                if let Some(first) = pool.block_candidates().first().cloned() {
                    let sender = first.sender;
                    let n = &mut nonces[usize::from(sender.0[0])];
                    *n = first.nonce + 1;
                    pool.set_account_nonce(&sender, *n);
                    pool.remove(&first.hash, TxStatus::Finalized(H256([0; 32])));
                    // Stale ones are dropped by revalidation.
                    for stale in pool.sender_txs(&sender) {
                        if stale.nonce < *n {
                            pool.remove(&stale.hash, TxStatus::Invalid);
                        }
                    }
                    pool.enforce_fees(&sender, u128::from(next(20)));
                }
            }
            1 => pool.prune_expired(now),
            _ => {}
        }
        check_invariants(&pool);
        for queue in pool.by_sender.values() {
            assert!(queue.txs.len() <= 8);
        }
    }
    assert!(!pool.is_empty());
}
