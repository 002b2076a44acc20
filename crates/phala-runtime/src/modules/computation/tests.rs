//! Sessions driven through stake pools, heartbeats and settlements as workers and
//! gatekeepers send them.

use parity_scale_codec::Encode;
use phala_attestation::simulated::DEV_MEASUREMENT;
use phala_mq::computation::{
    HEARTBEAT, Heartbeat, SETTLEMENT, Settlement, WorkerPayout, WorkerValue,
};
use phala_mq::topics::{WORKER_REPORT, WorkerReport};
use phala_primitives::{Balance, PHA};
use phala_tokenomics::{Economics, Params};

use super::*;
use crate::genesis::{ComputationGenesis, GenesisConfig, RegistryGenesis};
use crate::modules::registry::gatekeeper_tests::{Net, Worker, publish_master};
use crate::modules::stake_pools::{self, pool_account};
use crate::modules::{REWARD_POOL_ACCOUNT, TREASURY_ACCOUNT};
use crate::testing::{TestChain, account, pair};
use crate::{RuntimeCall, RuntimeEvent};

/// Every worker is challenged every block, the cooldown and grace are 5 blocks.
pub(crate) fn test_params() -> Params {
    let mut p = Params::from_economics(&Economics::default(), 1_000).unwrap();
    p.worker_challenge_rate = 1 << 64;
    p.cooldown = 5;
    p
}

pub(crate) fn economy_chain() -> TestChain {
    economy_chain_with(None)
}

/// The economy's chain, with `validators` (Dave is endowed for one).
pub(crate) fn economy_chain_with(
    validators: Option<crate::genesis::ValidatorsGenesis>,
) -> TestChain {
    TestChain::with_genesis(GenesisConfig {
        endowed: vec![
            (account("//Alice"), 1_000_000 * PHA),
            (account("//Bob"), 100_000 * PHA),
            (account("//Charlie"), 100_000 * PHA),
            (account("//Dave"), 100_000 * PHA),
            (TREASURY_ACCOUNT, PHA),
            (REWARD_POOL_ACCOUNT, 10_000_000 * PHA),
        ],
        validators: validators.unwrap_or_default(),
        registry: RegistryGenesis {
            allow_simulated_tee: true,
            measurements: vec![DEV_MEASUREMENT.to_vec()],
            ..Default::default()
        },
        computation: ComputationGenesis {
            params: test_params(),
            double_sign_slash: crate::genesis::DEFAULT_DOUBLE_SIGN_SLASH,
        },
        stake_pools: stake_pools::Params { withdraw_grace: 5 },
        sudo_key: Some(account("//Alice")),
        governance: Default::default(),
        treasury: Default::default(),
        spec_version: None,
    })
}

/// A registered worker (operator Bob) with benchmark score `score`.
pub(crate) fn benchmarked(net: &mut Net, uri: &str, score: u32) -> Worker {
    let mut w = net.worker(uri, 3);
    net.send(
        &mut w,
        WORKER_REPORT,
        WorkerReport::BenchScore(score).encode(),
    )
    .unwrap();
    w
}

pub(crate) fn pools(call: stake_pools::Call) -> RuntimeCall {
    RuntimeCall::StakePools(call)
}

/// Runs `call` from `who` in its own block; returns the dispatch result.
pub(crate) fn call_as(
    net: &mut Net,
    who: &str,
    nonce: u32,
    call: RuntimeCall,
) -> Result<(), crate::dispatch::DispatchError> {
    let xt = net.chain.sign(&pair(who), call, nonce);
    let (_, outcomes) = net.chain.produce(vec![xt]);
    assert!(matches!(outcomes.as_slice(), [Ok(_)]), "{outcomes:?}");
    match net.chain.failure(1) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A pool of Bob's (10 % commission) with `worker` in it and `stake` of Charlie's
/// contribution computing; returns Bob's and Charlie's next nonces.
pub(crate) fn computing_pool(
    net: &mut Net,
    worker: &Worker,
    contribution: Balance,
    stake: Balance,
) {
    let bob = net.bob_nonce();
    call_as(
        net,
        "//Bob",
        bob,
        pools(stake_pools::Call::create {
            commission: 100_000_000,
            cap: None,
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    call_as(
        net,
        "//Bob",
        bob,
        pools(stake_pools::Call::add_worker {
            pid: 0,
            worker: worker.pair.public(),
        }),
    )
    .unwrap();
    call_as(
        net,
        "//Charlie",
        0,
        pools(stake_pools::Call::contribute {
            pid: 0,
            amount: contribution,
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    call_as(
        net,
        "//Bob",
        bob,
        pools(stake_pools::Call::start_computing {
            pid: 0,
            worker: worker.pair.public(),
            stake,
        }),
    )
    .unwrap();
}

pub(crate) fn heartbeat(
    net: &mut Net,
    w: &mut Worker,
    challenge_block: u32,
    iterations: u64,
) -> Result<(), crate::dispatch::DispatchError> {
    net.send(
        w,
        HEARTBEAT,
        Heartbeat {
            challenge_block,
            iterations,
        }
        .encode(),
    )
}

pub(crate) fn settle(
    net: &mut Net,
    gk: &mut Worker,
    s: &Settlement,
) -> Result<(), crate::dispatch::DispatchError> {
    net.send(gk, SETTLEMENT, s.encode())
}

fn session_of(net: &Net, w: &Worker) -> Session {
    session(&net.chain.ext(), &w.pair.public()).unwrap()
}

pub(crate) fn computation_events(net: &Net) -> Vec<Event> {
    net.chain
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Computation(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pool_starts_a_worker_with_at_least_s_min_and_its_initial_value() {
    let mut net = Net::with_chain(economy_chain());
    let w = benchmarked(&mut net, "//Worker1", 2000);
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::create {
            commission: 0,
            cap: None,
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::add_worker {
            pid: 0,
            worker: w.pair.public(),
        }),
    )
    .unwrap();
    call_as(
        &mut net,
        "//Charlie",
        0,
        pools(stake_pools::Call::contribute {
            pid: 0,
            amount: 50_000 * PHA,
        }),
    )
    .unwrap();
    assert_eq!(session_of(&net, &w).state, WorkerState::Ready);

    // S_min for P = 2000 is 4472.13595... PHA: a planck less is refused.
    let s_min = min_stake(&test_params(), 2000).unwrap();
    assert_eq!(s_min / PHA, 4472);
    let start = |stake| {
        pools(stake_pools::Call::start_computing {
            pid: 0,
            worker: w.pair.public(),
            stake,
        })
    };
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(&mut net, "//Bob", bob, start(s_min - 1)),
        Err(Error::StakeTooLow.into())
    );
    // Ve = (1 + 0.3·0.7)·(S + 600) must stay within v_max = 30,000.
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(&mut net, "//Bob", bob, start(30_000 * PHA)),
        Err(Error::StakeTooHigh.into())
    );
    let bob = net.bob_nonce();
    call_as(&mut net, "//Bob", bob, start(s_min)).unwrap();

    let s = session_of(&net, &w);
    assert_eq!(s.state, WorkerState::Idle);
    assert_eq!(s.stake, s_min);
    // A simulated TEE counts as level 5 (conf 0.7): 1.21 · (4472.136 + 600) = 6137.28.
    assert_eq!(
        phala_tokenomics::format_fixed(value_of(s.initial_v), 2),
        "6137.28"
    );
    assert_eq!(COMPUTING_WORKERS.get_or_default(&net.chain.ext()), 1);
    // The stake is reserved on the pool's account.
    let pool_acct = crate::modules::balances::account_data(&net.chain.ext(), &pool_account(0));
    assert_eq!(pool_acct.reserved, s_min);
    // Another block: it carries a challenge for the one computing worker.
    net.chain.produce(vec![]);
    assert!(
        CHALLENGES
            .get(&net.chain.ext(), &net.chain.number)
            .is_some()
    );
}

#[test]
fn a_worker_without_a_score_or_with_too_low_a_score_cannot_start() {
    let mut net = Net::with_chain(economy_chain());
    let unscored = net.worker("//Worker1", 3);
    let low = benchmarked(&mut net, "//Worker2", 10);
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::create {
            commission: 0,
            cap: None,
        }),
    )
    .unwrap();
    for w in [&unscored, &low] {
        let bob = net.bob_nonce();
        call_as(
            &mut net,
            "//Bob",
            bob,
            pools(stake_pools::Call::add_worker {
                pid: 0,
                worker: w.pair.public(),
            }),
        )
        .unwrap();
    }
    call_as(
        &mut net,
        "//Charlie",
        0,
        pools(stake_pools::Call::contribute {
            pid: 0,
            amount: 50_000 * PHA,
        }),
    )
    .unwrap();
    let start = |w: &Worker| {
        pools(stake_pools::Call::start_computing {
            pid: 0,
            worker: w.pair.public(),
            stake: 10_000 * PHA,
        })
    };
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(&mut net, "//Bob", bob, start(&unscored)),
        Err(Error::NotBenchmarked.into())
    );
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(&mut net, "//Bob", bob, start(&low)),
        Err(Error::ScoreTooLow.into())
    );
    // Charlie does not operate the worker: he cannot add it to a pool of his own.
    call_as(
        &mut net,
        "//Charlie",
        1,
        pools(stake_pools::Call::create {
            commission: 0,
            cap: None,
        }),
    )
    .unwrap();
    let other = benchmarked(&mut net, "//Worker3", 2000);
    assert_eq!(
        call_as(
            &mut net,
            "//Charlie",
            2,
            pools(stake_pools::Call::add_worker {
                pid: 1,
                worker: other.pair.public()
            })
        ),
        Err(stake_pools::Error::NotOperator.into())
    );
}

#[test]
fn heartbeats_answer_recent_challenges_once_and_in_order() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let started = session_of(&net, &w).started_at;
    // The start block's own challenge came before the start.
    assert_eq!(
        heartbeat(&mut net, &mut w, started, 1),
        Err(Error::AlreadyAnswered.into())
    );
    let challenged = net.chain.number;
    // A challenge of this very block is not answerable yet; the last one is.
    assert_eq!(
        heartbeat(&mut net, &mut w, challenged + 1, 1),
        Err(Error::UnknownChallenge.into())
    );
    heartbeat(&mut net, &mut w, challenged, 100).unwrap();
    let s = session_of(&net, &w);
    assert_eq!(
        (s.last_challenge, s.iterations, s.heartbeats),
        (challenged, 100, 1)
    );
    assert_eq!(s.last_heartbeat_at, net.chain.number);
    // Not twice, not an older one, and the counter never goes back.
    assert_eq!(
        heartbeat(&mut net, &mut w, challenged, 200),
        Err(Error::AlreadyAnswered.into())
    );
    let next = net.chain.number;
    assert_eq!(
        heartbeat(&mut net, &mut w, next, 50),
        Err(Error::IterationsDecreased.into())
    );
    // Past the window, a challenge is gone.
    for _ in 0..11 {
        net.chain.produce(vec![]);
    }
    let old = net.chain.number - 11;
    assert_eq!(
        heartbeat(&mut net, &mut w, old, 500),
        Err(Error::UnknownChallenge.into())
    );
}

#[test]
fn the_first_settlement_pays_the_pool_and_treasury_and_a_differing_copy_is_a_fault() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk1 = net.worker("//Gatekeeper1", 4);
    let mut gk2 = net.worker("//Gatekeeper2", 5);
    publish_master(&mut net, &mut gk1);
    net.root(crate::modules::registry::gatekeeper_tests::add_gatekeeper(
        &gk2,
    ))
    .unwrap();
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    // The start block's challenge came before the start: answer the next one.
    net.chain.produce(vec![]);
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 100).unwrap();
    let hb_block = net.chain.number;

    let issuance = crate::modules::balances::total_issuance(&net.chain.ext());
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    let reward_pool = net.chain.free(&REWARD_POOL_ACCOUNT);
    let payout = 10 * PHA;
    let settlement = Settlement {
        block: hb_block,
        offline: vec![],
        recovered: vec![],
        paid: vec![WorkerPayout {
            worker: w.pair.public(),
            v: 7_000u128 << 64,
            payout,
        }],
    };
    // Workers are not gatekeepers.
    assert_eq!(
        settle(&mut net, &mut w, &settlement),
        Err(Error::NotGatekeeper.into())
    );
    settle(&mut net, &mut gk1, &settlement).unwrap();
    // 20 % to the treasury, 80 % to the pool (of which 10 % commission). The treasury
    // also took the message's transaction fee.
    assert!(computation_events(&net).contains(&Event::WorkerRewarded {
        worker: w.pair.public(),
        owner: pool_account(0),
        pool: 8 * PHA,
        treasury: 2 * PHA,
        v: 7_000u128 << 64,
    }));
    assert!(net.chain.free(&TREASURY_ACCOUNT) - treasury >= 2 * PHA);
    assert_eq!(reward_pool - net.chain.free(&REWARD_POOL_ACCOUNT), payout);
    assert_eq!(
        crate::modules::balances::total_issuance(&net.chain.ext()),
        issuance
    );
    let pool = stake_pools::pool(&net.chain.ext(), 0).unwrap();
    assert_eq!(pool.owner_reward, 8 * PHA / 10);
    assert_eq!(pool.total_value, 50_000 * PHA + 8 * PHA - 8 * PHA / 10);
    let s = session_of(&net, &w);
    assert_eq!(
        (s.total_reward, s.v, s.last_paid_at),
        (8 * PHA, 7_000u128 << 64, hb_block)
    );

    // The same copy from another gatekeeper changes nothing.
    settle(&mut net, &mut gk2, &settlement).unwrap();
    assert_eq!(net.chain.free(&REWARD_POOL_ACCOUNT), reward_pool - payout);
    // A different one is recorded, and not applied.
    let mut other = settlement.clone();
    other.paid[0].payout = payout * 2;
    settle(&mut net, &mut gk2, &other).unwrap();
    assert_eq!(net.chain.free(&REWARD_POOL_ACCOUNT), reward_pool - payout);
    assert!(
        computation_events(&net).contains(&Event::SettlementMismatch {
            block: hb_block,
            gatekeeper: gk2.pair.public(),
            applied_from: gk1.pair.public(),
        })
    );
}

fn skipped(net: &Net) -> Option<u32> {
    computation_events(net).into_iter().find_map(|e| match e {
        Event::SettlementApplied { skipped, .. } => Some(skipped),
        _ => None,
    })
}

#[test]
fn entries_the_chain_cannot_confirm_are_skipped_and_the_rest_applied() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    // The start block's challenge came before the start: answer the next one.
    net.chain.produce(vec![]);
    let reward_pool = net.chain.free(&REWARD_POOL_ACCOUNT);
    let wk = w.pair.public();
    let paid = |block, payout| Settlement {
        block,
        offline: vec![],
        recovered: vec![],
        paid: vec![WorkerPayout {
            worker: wk,
            v: 1,
            payout,
        }],
    };
    let budget = test_params().budget_per_block();
    let cap = |net: &Net, block: u32| {
        let blocks = block - session(&net.chain.ext(), &wk).unwrap().last_paid_at;
        phala_tokenomics::pha_to_plancks(budget * phala_tokenomics::Fixed::from_num(blocks))
    };

    // A payout for a block the worker was already paid up to (its start), and one above
    // the whole budget of the blocks it covers: both skipped, nothing paid.
    let started = session_of(&net, &w).started_at;
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 100).unwrap();
    let hb = net.chain.number;
    settle(&mut net, &mut gk, &paid(started, 1)).unwrap();
    assert_eq!(skipped(&net), Some(1));
    let over = cap(&net, hb) + 1;
    settle(&mut net, &mut gk, &paid(hb, over)).unwrap();
    assert_eq!(skipped(&net), Some(1));
    assert_eq!(net.chain.free(&REWARD_POOL_ACCOUNT), reward_pool);

    // Offline although it answered: skipped; a block not final yet: refused.
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 200).unwrap();
    let hb = net.chain.number;
    let window = test_params().heartbeat_window;
    while net.chain.number <= challenged + window {
        net.chain.produce(vec![]);
    }
    let offline = Settlement {
        block: challenged + window,
        offline: vec![WorkerValue { worker: wk, v: 1 }],
        recovered: vec![],
        paid: vec![],
    };
    let mut future = paid(hb, 1);
    future.block = net.chain.number + 1;
    assert_eq!(
        settle(&mut net, &mut gk, &future),
        Err(Error::SettlementOutOfRange.into())
    );
    settle(&mut net, &mut gk, &offline).unwrap();
    assert_eq!(skipped(&net), Some(1));
    assert_eq!(session_of(&net, &w).state, WorkerState::Idle);
    // Blocks before the last settled one are closed.
    assert_eq!(
        settle(&mut net, &mut gk, &paid(hb, 1)),
        Err(Error::SettlementOutOfRange.into())
    );

    // A later heartbeat is paid up to the exact cap, even if the worker answered again
    // before the settlement arrived.
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 300).unwrap();
    let hb = net.chain.number;
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 400).unwrap();
    let exact = cap(&net, hb);
    settle(&mut net, &mut gk, &paid(hb, exact)).unwrap();
    assert_eq!(skipped(&net), Some(0));
    assert_eq!(reward_pool - net.chain.free(&REWARD_POOL_ACCOUNT), exact);
}

#[test]
fn an_unanswered_challenge_makes_a_worker_unresponsive_until_it_answers() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let missed = net.chain.number + 1;
    let window = test_params().heartbeat_window;
    while net.chain.number < missed + window {
        net.chain.produce(vec![]);
    }
    let offline = Settlement {
        block: missed + window,
        offline: vec![WorkerValue {
            worker: w.pair.public(),
            v: 6_000u128 << 64,
        }],
        recovered: vec![],
        paid: vec![],
    };
    // Claimed one block early, the window has not closed.
    let mut early = offline.clone();
    early.block -= 1;
    settle(&mut net, &mut gk, &early).unwrap();
    assert_eq!(skipped(&net), Some(1));
    assert_eq!(session_of(&net, &w).state, WorkerState::Idle);
    settle(&mut net, &mut gk, &offline).unwrap();
    let s = session_of(&net, &w);
    assert_eq!(
        (s.state, s.missed, s.v),
        (WorkerState::Unresponsive, 1, 6_000u128 << 64)
    );
    // Still computing: challenged, and answering recovers it.
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w, challenged, 10).unwrap();
    let recovered = Settlement {
        block: net.chain.number,
        offline: vec![],
        recovered: vec![w.pair.public()],
        paid: vec![WorkerPayout {
            worker: w.pair.public(),
            v: 5_990u128 << 64,
            payout: PHA,
        }],
    };
    settle(&mut net, &mut gk, &recovered).unwrap();
    assert_eq!(session_of(&net, &w).state, WorkerState::Idle);
    assert!(computation_events(&net).contains(&Event::WorkerRecovered {
        worker: w.pair.public()
    }));
}

#[test]
fn a_stopped_worker_cools_down_before_its_stake_returns_to_the_pool() {
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let worker = w.pair.public();
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::stop_computing { pid: 0, worker }),
    )
    .unwrap();
    assert_eq!(session_of(&net, &w).state, WorkerState::CoolingDown);
    assert_eq!(COMPUTING_WORKERS.get_or_default(&net.chain.ext()), 0);
    // A stopped worker's heartbeats are refused; no challenges are made.
    net.chain.produce(vec![]);
    assert!(
        CHALLENGES
            .get(&net.chain.ext(), &net.chain.number)
            .is_none()
    );
    let last = net.chain.number;
    assert_eq!(
        heartbeat(&mut net, &mut w, last, 1),
        Err(Error::NotComputing.into())
    );
    // Anyone may reclaim, but only after the cooldown.
    assert_eq!(
        call_as(
            &mut net,
            "//Charlie",
            1,
            pools(stake_pools::Call::reclaim { pid: 0, worker })
        ),
        Err(Error::CooldownNotOver.into())
    );
    while net.chain.number < session_of(&net, &w).cooling_since + test_params().cooldown {
        net.chain.produce(vec![]);
    }
    call_as(
        &mut net,
        "//Charlie",
        2,
        pools(stake_pools::Call::reclaim { pid: 0, worker }),
    )
    .unwrap();
    let pool = stake_pools::pool(&net.chain.ext(), 0).unwrap();
    assert_eq!((pool.free_stake, pool.staked), (50_000 * PHA, 0));
    assert_eq!(session_of(&net, &w).state, WorkerState::Ready);
    let acct = crate::modules::balances::account_data(&net.chain.ext(), &pool_account(0));
    assert_eq!(acct.reserved, 0);
    // Ready again: the owner may take it out of the pool.
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::remove_worker { pid: 0, worker }),
    )
    .unwrap();
    assert!(session(&net.chain.ext(), &worker).is_none());
}

#[test]
fn slashed_stake_goes_to_the_treasury_and_lowers_the_share_price() {
    let mut net = Net::with_chain(economy_chain());
    let w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    let taken = net
        .chain
        .mutate(|ext| slash_stake::<crate::Wiring>(ext, &w.pair.public(), 1_000 * PHA).unwrap());
    assert_eq!(taken, 1_000 * PHA);
    assert_eq!(net.chain.free(&TREASURY_ACCOUNT) - treasury, 1_000 * PHA);
    let pool = stake_pools::pool(&net.chain.ext(), 0).unwrap();
    assert_eq!((pool.total_value, pool.staked), (49_000 * PHA, 4_000 * PHA));
    assert_eq!(session_of(&net, &w).stake, 4_000 * PHA);
}

#[test]
fn a_heartbeat_pause_issues_no_challenge_and_pays_nothing_for_its_blocks() {
    use crate::dispatch::{DispatchError, Origin};
    use crate::origin::GovOrigin;
    let mut net = Net::with_chain(economy_chain());
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let pause = |paused| RuntimeCall::Computation(Call::set_heartbeat_paused { paused });
    assert_eq!(
        net.chain
            .mutate(|ext| pause(true).dispatch(ext, Origin::Signed(account("//Bob")))),
        Err(DispatchError::BadOrigin)
    );
    net.chain
        .mutate(|ext| pause(true).dispatch(ext, Origin::Gov(GovOrigin::Parameters)))
        .unwrap();
    assert!(HEARTBEAT_PAUSED.get_or_default(&net.chain.ext()));
    let budget = BUDGET_LEFT.get(&net.chain.ext()).unwrap_or_default();
    net.chain.produce(vec![]);
    let paused_at = net.chain.number;
    assert!(CHALLENGES.get(&net.chain.ext(), &paused_at).is_none());
    // Paused blocks accrue no budget: nobody is paid for them.
    assert_eq!(
        BUDGET_LEFT.get(&net.chain.ext()).unwrap_or_default(),
        budget
    );
    net.chain.produce(vec![]);
    assert_eq!(
        heartbeat(&mut net, &mut w, paused_at, 10),
        Err(Error::UnknownChallenge.into())
    );
    // Resumed: the next block is challenged again and its challenge answered.
    net.chain
        .mutate(|ext| pause(false).dispatch(ext, Origin::Root))
        .unwrap();
    // Gatekeepers hear of it, and no payout may cover the blocks before it.
    let resumed = net.chain.number;
    assert_eq!(
        HEARTBEAT_RESUMED_AT.get_or_default(&net.chain.ext()),
        resumed
    );
    assert!(
        crate::modules::message_queue::OUTBOUND_MESSAGES
            .get_or_default(&net.chain.ext())
            .iter()
            .any(
                |m| m.payload == phala_mq::computation::ComputationEvent::HeartbeatResumed.encode()
            )
    );
    net.chain.produce(vec![]);
    let challenged = net.chain.number;
    assert!(CHALLENGES.get(&net.chain.ext(), &challenged).is_some());
    heartbeat(&mut net, &mut w, challenged, 20).unwrap();
}
