//! Delegation, withdrawals and the pool's books.

use phala_mq::computation::{Settlement, WorkerPayout};
use phala_primitives::{Balance, PHA};
use proptest::prelude::*;

const BILLION: u32 = 1_000_000_000;

use super::*;
use crate::modules::computation::tests::{
    benchmarked, call_as, computing_pool, economy_chain, heartbeat, pools, settle, test_params,
};
use crate::modules::computation::{self as comp, WorkerState};
use crate::modules::registry::gatekeeper_tests::{Net, Worker, publish_master};
use crate::testing::account;

fn charlie_shares(net: &Net) -> Balance {
    STAKERS.get_or_default(&net.chain.ext(), &(0, account("//Charlie")))
}

fn pool0(net: &Net) -> Pool {
    pool(&net.chain.ext(), 0).unwrap()
}

/// One paid heartbeat of `payout` plancks.
fn reward(net: &mut Net, w: &mut Worker, gk: &mut Worker, payout: Balance) {
    net.chain.produce(vec![]);
    let challenged = net.chain.number;
    heartbeat(net, w, challenged, 1).unwrap();
    let block = net.chain.number;
    settle(
        net,
        gk,
        &Settlement {
            block,
            offline: vec![],
            recovered: vec![],
            paid: vec![WorkerPayout {
                worker: w.pair.public(),
                v: 1 << 64,
                payout,
            }],
        },
    )
    .unwrap();
}

#[test]
fn a_delegator_withdraws_with_profit_queued_behind_the_stake_until_it_is_reclaimed() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 10_000 * PHA, 5_000 * PHA);
    let charlie = account("//Charlie");
    let before = net.chain.free(&charlie);
    let shares = charlie_shares(&net);
    assert_eq!(shares, 10_000 * PHA);
    reward(&mut net, &mut w, &mut gk, 10 * PHA);
    // 8 PHA to the pool, 0.8 of it commission: the delegators' 10,000 became 10,007.2.
    let grown = 10_000 * PHA + 7_200 * PHA / 1_000;
    assert_eq!(pool0(&net).total_value, grown);
    assert_eq!(pool0(&net).value_of(shares), grown);

    // Only 5,007.2 is free: that much is paid now, the rest waits.
    call_as(
        &mut net,
        "//Charlie",
        1,
        pools(Call::withdraw { pid: 0, shares }),
    )
    .unwrap();
    let paid_now = net.chain.free(&charlie) + net.chain.info(&charlie).data.reserved - before;
    assert!(
        paid_now > 5_007 * PHA && paid_now <= grown - 5_000 * PHA,
        "{paid_now}"
    );
    let queue = pool0(&net).withdraw_queue;
    assert_eq!(queue.len(), 1);
    assert_eq!(charlie_shares(&net), queue[0].shares);

    // The owner stops the worker; once it cooled down, anyone reclaims and the queue is paid.
    let worker = w.pair.public();
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::stop_computing { pid: 0, worker }),
    )
    .unwrap();
    for _ in 0..test_params().cooldown {
        net.chain.produce(vec![]);
    }
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::reclaim { pid: 0, worker }),
    )
    .unwrap();
    assert!(pool0(&net).withdraw_queue.is_empty());
    assert_eq!(charlie_shares(&net), 0);
    let received = net.chain.free(&charlie) - before;
    // 10,007.2 PHA back for 10,000, less the fees of his two transactions.
    assert!(received > 10_007 * PHA && received <= grown, "{received}");
    // What is left is the owner's commission and the account's deposit.
    let p = pool0(&net);
    assert_eq!(
        (p.total_shares, p.total_value, p.owner_reward),
        (0, 0, 800 * PHA / 1_000)
    );
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::claim_commission { pid: 0 }),
    )
    .unwrap();
    assert_eq!(pool0(&net).owner_reward, 0);
}

#[test]
fn a_withdrawal_that_outwaits_the_grace_period_stops_workers_to_pay_it() {
    let mut net = Net::with_chain(economy_chain());
    let w = benchmarked(&mut net, "//Worker1", 2000);
    let w2 = benchmarked(&mut net, "//Worker2", 2000);
    computing_pool(&mut net, &w, 20_000 * PHA, 5_000 * PHA);
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::add_worker {
            pid: 0,
            worker: w2.pair.public(),
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::start_computing {
            pid: 0,
            worker: w2.pair.public(),
            stake: 6_000 * PHA,
        }),
    )
    .unwrap();
    // Charlie wants 12,000 back; 9,000 is free.
    call_as(
        &mut net,
        "//Charlie",
        1,
        pools(Call::withdraw {
            pid: 0,
            shares: 12_000 * PHA,
        }),
    )
    .unwrap();
    assert_eq!(pool0(&net).withdraw_queue[0].shares, 3_000 * PHA);
    let grace = PARAMS.get_or_default(&net.chain.ext()).withdraw_grace;
    for _ in 0..grace {
        net.chain.produce(vec![]);
    }
    // The smaller stake (5,000) covers the 3,000 owed: only that worker stops.
    let state = |w: &Worker| {
        comp::session(&net.chain.ext(), &w.pair.public())
            .unwrap()
            .state
    };
    assert_eq!(state(&w), WorkerState::CoolingDown);
    assert_eq!(state(&w2), WorkerState::Idle);
    for _ in 0..test_params().cooldown {
        net.chain.produce(vec![]);
    }
    call_as(
        &mut net,
        "//Alice",
        0,
        pools(Call::reclaim {
            pid: 0,
            worker: w.pair.public(),
        }),
    )
    .unwrap();
    assert!(pool0(&net).withdraw_queue.is_empty());
    assert_eq!(charlie_shares(&net), 8_000 * PHA);
}

#[test]
fn pool_accounts_are_substrate_sub_accounts_and_nothing_else_is_one() {
    let a = pool_account(7);
    assert_eq!(&a.0[..12], b"modlphala/sp");
    assert_eq!(pool_of_account(&a), Some(7));
    assert_eq!(pool_of_account(&crate::modules::TREASURY_ACCOUNT), None);
    assert_eq!(pool_of_account(&account("//Alice")), None);
    let mut dirty = a;
    dirty.0[31] = 1;
    assert_eq!(pool_of_account(&dirty), None);
}

#[derive(Clone, Debug)]
enum Op {
    Contribute(usize, Balance),
    Withdraw(usize, Balance),
    Reward(Balance),
    Slash(Balance),
    Stake(Balance),
    Unstake(Balance),
}

fn op() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        1u128..1_000,
        1u128..10_000 * PHA,
        1u128..1_000_000_000 * PHA
    ];
    prop_oneof![
        (0usize..4, amount.clone()).prop_map(|(i, a)| Op::Contribute(i, a)),
        (0usize..4, amount.clone()).prop_map(|(i, a)| Op::Withdraw(i, a)),
        amount.clone().prop_map(Op::Reward),
        amount.clone().prop_map(Op::Slash),
        amount.clone().prop_map(Op::Stake),
        amount.prop_map(Op::Unstake),
    ]
}

proptest! {
    /// Over any sequence of contributions, withdrawals, rewards, slashes and staking:
    /// shares add up, value is free plus staked, no holder can claim more than the pool
    /// has, and every planck is accounted for (in = held + out).
    #[test]
    fn the_books_conserve_every_planck(ops in proptest::collection::vec(op(), 1..60), commission in 0u32..=1_000_000_000) {
        let mut pool = Pool { commission, ..Default::default() };
        let mut holders: [Balance; 4] = [0; 4];
        let (mut into, mut out) = (0u128, 0u128);
        for op in ops {
            match op {
                Op::Contribute(i, a) => {
                    if let Ok(shares) = pool.contribute(a) {
                        holders[i] += shares;
                        into += a;
                    }
                }
                Op::Withdraw(i, s) => {
                    let s = s.min(holders[i]);
                    let (shares, value) = if pool.total_value == 0 { (s, 0) } else { pool.payable(s) };
                    pool.burn(shares, value).unwrap();
                    holders[i] -= shares;
                    out += value;
                }
                Op::Reward(a) => {
                    let commission = pool.add_reward(a);
                    into += a;
                    // The owner's commission leaves the delegators' books when claimed.
                    pool.owner_reward -= commission;
                    out += commission;
                }
                Op::Slash(a) => {
                    let a = a.min(pool.staked);
                    pool.slash(a);
                    out += a;
                }
                Op::Stake(a) => { let _ = pool.stake(a); }
                Op::Unstake(a) => { let _ = pool.unstake(a.min(pool.staked)); }
            }
            prop_assert_eq!(holders.iter().sum::<Balance>(), pool.total_shares);
            prop_assert_eq!(pool.total_value, pool.free_stake + pool.staked);
            prop_assert_eq!(into, pool.total_value + out);
            let claims: Balance = holders.iter().map(|h| pool.value_of(*h)).sum();
            prop_assert!(claims <= pool.total_value);
        }
    }
}

/// The attack: a queued withdrawal its account cannot receive (worth less than the
/// existential deposit, to an account that no longer exists) used to fail every call that
/// serves the queue, freezing the pool for everyone. Now it is dropped and the queue moves.
#[test]
fn an_unpayable_withdrawal_is_dropped_rather_than_freezing_the_pool() {
    let mut net = Net::with_chain(economy_chain());
    let w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 10_000 * PHA, 10_000 * PHA);
    let ghost = account("//Nobody");
    net.chain.mutate(|ext| {
        let mut p = pool(ext, 0).unwrap();
        // A holder of 1 planck's worth of shares, queued first, account gone.
        p.total_shares += 1;
        p.total_value += 1;
        p.free_stake += 1;
        p.withdraw_queue.push(Withdrawal {
            who: ghost,
            shares: 1,
            requested_at: 1,
        });
        STAKERS.insert(ext, &(0, ghost), &1);
        POOLS.insert(ext, &0, &p);
        // The planck the books now count, taken from the treasury into the pool's account.
        crate::modules::balances::transfer(
            ext,
            &crate::modules::TREASURY_ACCOUNT,
            &pool_account(0),
            1,
            true,
        )
        .unwrap();
    });
    // Charlie contributes: the queue is served, the ghost's request dropped, his call fine.
    call_as(
        &mut net,
        "//Charlie",
        1,
        pools(Call::contribute {
            pid: 0,
            amount: 100 * PHA,
        }),
    )
    .unwrap();
    let p = pool0(&net);
    assert!(p.withdraw_queue.is_empty());
    assert_eq!(STAKERS.get_or_default(&net.chain.ext(), &(0, ghost)), 1);
    assert!(net.chain.events().iter().any(|e| matches!(
        e.event,
        crate::RuntimeEvent::StakePools(Event::WithdrawalDropped { .. })
    )));
}

/// The attack: the owner raises the commission to 100 % just before a reward lands, taking
/// what delegators joined for. A rise now waits out the withdrawal grace period (5 blocks
/// here), long enough to withdraw at the old rate; a cut is at once.
#[test]
fn a_commission_rise_waits_out_the_grace_period_and_a_cut_does_not() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::set_commission {
            pid: 0,
            commission: BILLION,
        }),
    )
    .unwrap();
    let scheduled = pool0(&net).pending_commission.unwrap();
    assert_eq!(scheduled, (BILLION, net.chain.number + 5));
    // The reward right after still pays delegators at 10 %.
    reward(&mut net, &mut w, &mut gk, 10 * PHA);
    assert_eq!(pool0(&net).owner_reward, PHA * 8 / 10);
    while net.chain.number < scheduled.1 {
        net.chain.produce(vec![]);
    }
    reward(&mut net, &mut w, &mut gk, 10 * PHA);
    let p = pool0(&net);
    assert_eq!(
        (p.commission, p.pending_commission, p.owner_reward),
        (BILLION, None, PHA * 8 / 10 + 8 * PHA)
    );
    // A cut is at once.
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::set_commission {
            pid: 0,
            commission: 0,
        }),
    )
    .unwrap();
    assert_eq!(pool0(&net).commission, 0);
}

/// The classic first-depositor attack: deposit a dust amount, then "donate" to the pool so
/// one share is worth a fortune and the next depositor's shares round down to nothing.
/// Here a pool's value is its books, not its account's balance: a transfer into the pool
/// account moves no share price, and shares start at one per planck. (A planck is refused
/// outright: contributions start at the existential deposit.)
#[test]
fn a_donation_to_the_pool_account_cannot_inflate_the_share_price() {
    let mut net = Net::with_chain(economy_chain());
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::create {
            commission: 0,
            cap: None,
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(
            &mut net,
            "//Bob",
            bob,
            pools(Call::contribute { pid: 0, amount: 1 }),
        ),
        Err(Error::ContributionTooSmall.into())
    );
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(Call::contribute {
            pid: 0,
            amount: crate::modules::balances::EXISTENTIAL_DEPOSIT,
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        crate::RuntimeCall::Balances(crate::modules::balances::Call::transfer_keep_alive {
            dest: phala_primitives::MultiAddress::Id(pool_account(0)),
            value: 10_000 * PHA,
        }),
    )
    .unwrap();
    call_as(
        &mut net,
        "//Charlie",
        0,
        pools(Call::contribute {
            pid: 0,
            amount: 500 * PHA,
        }),
    )
    .unwrap();
    assert_eq!(charlie_shares(&net), 500 * PHA);
    assert_eq!(pool0(&net).value_of(charlie_shares(&net)), 500 * PHA);
}
