//! Stake slashing: a worker's double signing, and gatekeepers' differing settlements.

use parity_scale_codec::Encode;
use phala_mq::computation::{Settlement, WorkerPayout};
use phala_mq::{Message, MessageOrigin, SignedMessage};
use phala_primitives::{H256, OpaqueExtrinsic, PHA};

use super::faults::judge;
use super::tests::{
    benchmarked, call_as, computation_events as events, computing_pool, economy_chain_with,
    heartbeat, pools, settle,
};
use super::*;
use crate::executive::validate_unsigned;
use crate::genesis::ValidatorsGenesis;
use crate::modules::registry::gatekeeper_tests::{Net, Worker, add_gatekeeper, publish_master};
use crate::modules::{TREASURY_ACCOUNT, stake_pools, validators};
use crate::testing::account;
use crate::{RuntimeCall, RuntimeEvent, UncheckedExtrinsic};

/// `w` signs `payload` on a topic with sequence `sequence`, for `net`'s chain.
fn signed(net: &Net, w: &Worker, sequence: u64, payload: Vec<u8>) -> SignedMessage {
    let message = Message::new(MessageOrigin::Worker(w.pair.public()), b"^x", payload);
    SignedMessage::sign(&net.chain.ctx.genesis_hash, message, sequence, |p| {
        w.pair.sign(p)
    })
}

fn report(first: SignedMessage, second: SignedMessage) -> RuntimeCall {
    RuntimeCall::Computation(Call::report_double_sign { first, second })
}

fn bare(call: RuntimeCall) -> OpaqueExtrinsic {
    OpaqueExtrinsic::from_bytes(UncheckedExtrinsic::bare(call).encode()).unwrap()
}

/// As a settled command leaves it: `amount` of gas in the treasury (Bob pays it in).
fn gas_in_treasury(net: &mut Net, amount: Balance) {
    let bob = net.bob_nonce();
    call_as(
        net,
        "//Bob",
        bob,
        RuntimeCall::Balances(crate::modules::balances::Call::transfer_keep_alive {
            dest: phala_primitives::MultiAddress::Id(TREASURY_ACCOUNT),
            value: amount,
        }),
    )
    .unwrap();
}

#[test]
fn a_double_signing_worker_loses_stake_stops_and_may_never_compute_again() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let a = signed(&net, &w, 7, vec![1]);
    let b = signed(&net, &w, 7, vec![2]);

    // Not evidence: one message signed twice (signatures are randomized), different
    // sequences, another worker's message, a message signed for another chain.
    let again = signed(&net, &w, 7, vec![1]);
    let other = benchmarked(&mut net, "//Worker2", 2000);
    let foreign = {
        let message = Message::new(MessageOrigin::Worker(w.pair.public()), b"^x", vec![2]);
        SignedMessage::sign(&H256([9; 32]), message, 7, |p| w.pair.sign(p))
    };
    let mut forged = b.clone();
    forged.message.sender = MessageOrigin::Worker(other.pair.public());
    for (x, y) in [
        (a.clone(), again),
        (a.clone(), signed(&net, &w, 8, vec![2])),
        (a.clone(), forged),
        (a.clone(), foreign),
    ] {
        let call = report(x, y);
        assert!(validate_unsigned(&net.chain.ext(), &call).is_err());
        let (_, outcomes) = net.chain.produce(vec![bare(call)]);
        assert!(outcomes[0].is_err(), "{outcomes:?}");
    }

    let call = report(a.clone(), b.clone());
    assert!(validate_unsigned(&net.chain.ext(), &call).is_ok());
    // Fee-free: the treasury gains the slash and nothing else.
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    let (_, outcomes) = net.chain.produce(vec![bare(call.clone())]);
    assert_eq!(outcomes, vec![Ok(true)]);
    assert!(events(&net).contains(&Event::WorkerDoubleSigned {
        worker: w.pair.public(),
        sequence: 7,
        slashed: 500 * PHA,
    }));
    assert_eq!(net.chain.free(&TREASURY_ACCOUNT) - treasury, 500 * PHA);
    let s = session(&net.chain.ext(), &w.pair.public()).unwrap();
    assert_eq!((s.state, s.stake), (WorkerState::CoolingDown, 4_500 * PHA));
    // Delegators see it in the share price: the pool is worth 500 PHA less.
    let pool = stake_pools::pool(&net.chain.ext(), 0).unwrap();
    assert_eq!(pool.total_value, 49_500 * PHA);

    // Once per worker.
    assert!(validate_unsigned(&net.chain.ext(), &call).is_err());
    let (_, outcomes) = net.chain.produce(vec![bare(call)]);
    assert!(outcomes[0].is_err());

    // After its cooldown the stake left comes back, but the worker cannot start again.
    for _ in 0..6 {
        net.chain.produce(vec![]);
    }
    let bob = net.bob_nonce();
    call_as(
        &mut net,
        "//Bob",
        bob,
        pools(stake_pools::Call::reclaim {
            pid: 0,
            worker: w.pair.public(),
        }),
    )
    .unwrap();
    let bob = net.bob_nonce();
    assert_eq!(
        call_as(
            &mut net,
            "//Bob",
            bob,
            pools(stake_pools::Call::start_computing {
                pid: 0,
                worker: w.pair.public(),
                stake: 5_000 * PHA,
            }),
        ),
        Err(Error::WorkerBarred.into())
    );
}

#[test]
fn a_made_up_key_is_no_evidence() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let stranger = Worker {
        pair: crate::testing::pair("//Stranger"),
        ecdh: phala_crypto::EcdhSecret::from_bytes([9; 32]),
        sequence: 0,
    };
    let call = report(
        signed(&net, &stranger, 0, vec![1]),
        signed(&net, &stranger, 0, vec![2]),
    );
    assert!(validate_unsigned(&net.chain.ext(), &call).is_err());
    let (_, outcomes) = net.chain.produce(vec![bare(call)]);
    assert!(outcomes[0].is_err());
}

const A: [u8; 32] = [1; 32];
const B: [u8; 32] = [2; 32];
const C: [u8; 32] = [3; 32];
const X: H256 = H256([10; 32]);
const Y: H256 = H256([11; 32]);
const Z: H256 = H256([12; 32]);

#[test]
fn the_judge_slashes_the_outvoted_and_nobody_on_a_split() {
    // Agreement: nobody.
    assert_eq!(judge(&[(A, X), (B, X), (C, X)]), (Some(X), vec![]));
    assert_eq!(judge(&[]), (None, vec![]));
    // Two against one: the one.
    assert_eq!(judge(&[(A, X), (C, Y), (B, X)]), (Some(X), vec![C]));
    // A tie, or three ways: someone is faulty, but not proven who; nobody is slashed (an
    // honest gatekeeper paired with a faulty one must not pay for it).
    assert_eq!(judge(&[(A, X), (B, Y)]), (None, vec![]));
    assert_eq!(judge(&[(A, X), (B, Y), (C, Z)]), (None, vec![]));
    // Self-contradiction is proof on its own, split or not.
    assert_eq!(judge(&[(A, X), (B, Y), (B, X)]), (Some(X), vec![B]));
    // Two different copies from one gatekeeper: faulty even on the majority's side.
    assert_eq!(judge(&[(A, X), (B, X), (C, X), (A, Y)]), (Some(X), vec![A]));
}

/// Three gatekeepers, each run by its own bonded validator: Bob, Charlie and Dave.
fn three_gatekeepers() -> (Net, Worker, [Worker; 3]) {
    let bond = 10_000 * PHA;
    let validators = ValidatorsGenesis {
        params: validators::Params {
            epoch_length: 100_000,
            committee_size: 4,
            unbonding_period: 3,
            slash_percent: 10,
            min_bond: 100 * PHA,
        },
        validators: ["//Bob", "//Charlie", "//Dave"]
            .iter()
            .enumerate()
            .map(|(i, u)| {
                (
                    account(u),
                    phala_keys::Ed25519Pair::from_uri(&format!("//Validator{i}"))
                        .unwrap()
                        .public(),
                    format!("127.0.0.1:{}", 30_000 + i).into_bytes(),
                    bond,
                )
            })
            .collect(),
    };
    let mut net = Net::with_chain(economy_chain_with(Some(validators)));
    let w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk1 = net.worker("//Gatekeeper1", 4);
    let gk2 = net.worker_by("//Gatekeeper2", 5, "//Charlie");
    let gk3 = net.worker_by("//Gatekeeper3", 6, "//Dave");
    publish_master(&mut net, &mut gk1);
    for gk in [&gk2, &gk3] {
        net.root(add_gatekeeper(gk)).unwrap();
    }
    (net, w, [gk1, gk2, gk3])
}

/// `w` answers the next block's challenge; returns the settlement an honest gatekeeper
/// sends for the heartbeat's block (10 PHA at V 7,000).
fn paid_heartbeat(net: &mut Net, w: &mut Worker) -> Settlement {
    net.chain.produce(vec![]);
    let challenged = net.chain.number;
    heartbeat(net, w, challenged, 100).unwrap();
    Settlement {
        block: net.chain.number,
        offline: vec![],
        recovered: vec![],
        paid: vec![WorkerPayout {
            worker: w.pair.public(),
            v: 7_000u128 << 64,
            payout: 10 * PHA,
        }],
    }
}

/// Produces blocks until `block`'s settlement copies have been judged.
fn until_judged(net: &mut Net, block: phala_primitives::BlockNumber) {
    while net.chain.number <= block + SETTLEMENT_MEMORY {
        net.chain.produce(vec![]);
    }
}

fn bond_of(net: &Net, who: &str) -> Balance {
    validators::LEDGER
        .get(&net.chain.ext(), &account(who))
        .map(|l| l.total())
        .unwrap_or(0)
}

#[test]
fn a_gatekeeper_outvoted_on_a_settlement_loses_its_operators_bond_once() {
    let (mut net, mut w, [mut gk1, mut gk2, mut gk3]) = three_gatekeepers();
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let honest = paid_heartbeat(&mut net, &mut w);
    let block = honest.block;
    let mut greedy = honest.clone();
    greedy.paid[0].payout = 20 * PHA;
    // The faulty copy comes first and is applied; the honest majority follows.
    settle(&mut net, &mut gk3, &greedy).unwrap();
    settle(&mut net, &mut gk1, &honest).unwrap();
    settle(&mut net, &mut gk2, &honest).unwrap();
    // It goes on sending bad copies of later blocks: one fault still costs one slash.
    let mut later = greedy.clone();
    later.block += 1;
    later.paid.clear();
    later.offline = vec![phala_mq::computation::WorkerValue {
        worker: w.pair.public(),
        v: 1,
    }];
    settle(&mut net, &mut gk3, &later).unwrap();
    let mut honest_later = later.clone();
    honest_later.offline.clear();
    honest_later.recovered = vec![w.pair.public()];
    settle(&mut net, &mut gk1, &honest_later).unwrap();
    settle(&mut net, &mut gk2, &honest_later).unwrap();
    // A repeat from one gatekeeper is one vote.
    settle(&mut net, &mut gk1, &honest).unwrap();
    // Both honest copies of each of the two blocks differ from the one applied.
    assert_eq!(SETTLEMENT_FAULTS.get_or_default(&net.chain.ext()), 4);
    let votes = SETTLEMENT_VOTES.get(&net.chain.ext(), &block).unwrap();
    assert_eq!(votes.len(), 3);

    let before = [
        bond_of(&net, "//Bob"),
        bond_of(&net, "//Charlie"),
        bond_of(&net, "//Dave"),
    ];
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    // Judged when the block leaves the chain's memory, not before.
    while net.chain.number < block + SETTLEMENT_MEMORY {
        net.chain.produce(vec![]);
    }
    assert!(SETTLEMENT_VOTES.get(&net.chain.ext(), &block).is_some());
    net.chain.produce(vec![]);
    let digest = H256(phala_primitives::hashing::blake2_256(&honest.encode()));
    assert!(events(&net).contains(&Event::SettlementJudged {
        block,
        majority: Some(digest),
        faulty: 1,
    }));
    assert!(events(&net).contains(&Event::GatekeeperFaulty {
        block,
        gatekeeper: gk3.pair.public(),
        slashed: 1_000 * PHA,
    }));
    assert_eq!(
        [
            bond_of(&net, "//Bob"),
            bond_of(&net, "//Charlie"),
            bond_of(&net, "//Dave"),
        ],
        [before[0], before[1], before[2] - 1_000 * PHA]
    );
    assert_eq!(net.chain.free(&TREASURY_ACCOUNT) - treasury, 1_000 * PHA);
    assert!(SETTLEMENT_VOTES.get(&net.chain.ext(), &block).is_none());
    // Dave still stands for election (a settlement fault costs bond, not the seat), but
    // his enclave is no gatekeeper any more: the master key rotates without it.
    assert!(validators::CANDIDATES.contains(&net.chain.ext(), &account("//Dave")));
    assert!(!crate::modules::registry::is_gatekeeper(
        &net.chain.ext(),
        &gk3.pair.public()
    ));
    // Its bad copy of the next block is judged a block later: no second slash.
    net.chain.produce(vec![]);
    assert_eq!(bond_of(&net, "//Dave"), before[2] - 1_000 * PHA);
    assert!(events(&net).contains(&Event::SettlementJudged {
        block: block + 1,
        majority: Some(H256(phala_primitives::hashing::blake2_256(
            &honest_later.encode()
        ))),
        faulty: 0,
    }));
}

#[test]
fn contract_gas_pays_the_computing_members_pools_less_the_treasurys_part() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let w = benchmarked(&mut net, "//Worker1", 2000);
    let idle = benchmarked(&mut net, "//Worker2", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    // The gas is in the treasury already (commands pay it there when they settle).
    let gas = 1_000 * PHA;
    gas_in_treasury(&mut net, gas);
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    // Nothing created or lost: `mutate` checks issuance still equals the sum of balances.
    let paid = net.chain.mutate(|ext| {
        pay_providers::<crate::Wiring>(ext, &[idle.pair.public(), w.pair.public()], gas)
    });
    // The one computing member takes 80 %, of which its pool's owner 10 %.
    assert_eq!(paid, 800 * PHA);
    assert_eq!(treasury - net.chain.free(&TREASURY_ACCOUNT), 800 * PHA);
    let pool = stake_pools::pool(&net.chain.ext(), 0).unwrap();
    assert_eq!(pool.owner_reward, 80 * PHA);
    assert_eq!(pool.total_value, 50_000 * PHA + 720 * PHA);
    assert_eq!(
        session(&net.chain.ext(), &w.pair.public())
            .unwrap()
            .total_reward,
        800 * PHA
    );
    // Nobody computing: the treasury keeps it.
    let state = net.chain.state.clone();
    let mut ext = crate::Ext::new(&state);
    assert_eq!(
        pay_providers::<crate::Wiring>(&mut ext, &[idle.pair.public()], gas),
        0
    );
}

/// The attack: a faulty gatekeeper pays every worker the whole budget of the blocks it
/// covers, each within its own cap, together many times the budget. All payouts together
/// never exceed the budget accrued while anyone computed, plus a bounded cushion.
#[test]
fn payouts_together_never_exceed_the_accrued_budget() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let mut w1 = benchmarked(&mut net, "//Worker1", 2000);
    let mut w2 = benchmarked(&mut net, "//Worker2", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w1, 50_000 * PHA, 5_000 * PHA);
    for call in [
        stake_pools::Call::add_worker {
            pid: 0,
            worker: w2.pair.public(),
        },
        stake_pools::Call::start_computing {
            pid: 0,
            worker: w2.pair.public(),
            stake: 5_000 * PHA,
        },
    ] {
        let bob = net.bob_nonce();
        call_as(&mut net, "//Bob", bob, pools(call)).unwrap();
    }
    net.chain.produce(vec![]);
    let challenged = net.chain.number;
    heartbeat(&mut net, &mut w1, challenged, 1).unwrap();
    // Settled as of the first heartbeat's block; the second came a block later.
    let block = net.chain.number;
    heartbeat(&mut net, &mut w2, challenged, 1).unwrap();
    let ext = net.chain.ext();
    let params = params(&ext).unwrap();
    let cap_of = |w: &Worker| {
        let s = session(&ext, &w.pair.public()).unwrap();
        pha_to_plancks(
            params
                .budget_at(block)
                .unwrap()
                .checked_mul(Fixed::from_num(block - s.last_paid_at))
                .unwrap(),
        )
    };
    let (cap1, cap2) = (cap_of(&w1), cap_of(&w2));
    // Spend the cushion first, as an earlier settlement would have (the test chain's
    // workers are all new: there is nothing else to spend it on).
    drop(ext);
    let spent_cushion = net.chain.mutate(|ext| {
        let left = budget_left(ext, &params);
        let cushion = pha_to_plancks(
            params
                .budget_at(block)
                .unwrap()
                .checked_mul(Fixed::from_num(BUDGET_CUSHION_BLOCKS))
                .unwrap(),
        );
        BUDGET_LEFT.put(ext, &(left - cushion));
        cushion
    });
    assert!(spent_cushion > 0);
    let ext = net.chain.ext();
    // The settlement's own block accrues one block more.
    let accrued = BUDGET_LEFT.get_or_default(&ext)
        + pha_to_plancks(params.budget_at(net.chain.number + 1).unwrap());
    assert!(cap1 + cap2 > accrued, "{cap1} + {cap2} vs {accrued}");
    let reward_pool = net.chain.free(&crate::modules::REWARD_POOL_ACCOUNT);
    let greedy = Settlement {
        block,
        offline: vec![],
        recovered: vec![],
        paid: [(&w1, cap1), (&w2, cap2)]
            .into_iter()
            .map(|(w, payout)| WorkerPayout {
                worker: w.pair.public(),
                v: 7_000u128 << 64,
                payout,
            })
            .collect(),
    };
    settle(&mut net, &mut gk, &greedy).unwrap();
    let paid = reward_pool - net.chain.free(&crate::modules::REWARD_POOL_ACCOUNT);
    assert_eq!(paid, accrued);
    assert!(
        events(&net)
            .iter()
            .any(|e| matches!(e, Event::BudgetExceeded { .. }))
    );
    assert_eq!(BUDGET_LEFT.get_or_default(&net.chain.ext()), 0);
}

/// A shorter heartbeat window set mid-way forgets the challenges that the new window's
/// block-start cleanup would never reach, so none stays in storage forever.
#[test]
fn a_shorter_window_leaves_no_challenge_behind() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let w = benchmarked(&mut net, "//Worker1", 2000);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    while net.chain.number < 700 {
        net.chain.produce(vec![]);
    }
    let mut params = params(&net.chain.ext()).unwrap();
    assert_eq!(params.heartbeat_window, 10);
    params.heartbeat_window = 3;
    net.root(RuntimeCall::Computation(Call::set_params { params }))
        .unwrap();
    for _ in 0..20 {
        net.chain.produce(vec![]);
    }
    let now = net.chain.number;
    let kept = (1..=now)
        .filter(|b| CHALLENGES.contains(&net.chain.ext(), b))
        .count() as u32;
    // Exactly the new window plus the settlement memory, and this block's.
    assert_eq!(kept, 3 + SETTLEMENT_MEMORY + 1);
}

/// A settled command's gas, recorded as its cluster's revenue, is shared at the next
/// block start with the cluster's computing member, out of the treasury.
#[test]
fn a_clusters_gas_revenue_is_shared_at_the_next_block_start() {
    use crate::modules::contracts::{self, gas};
    let mut net = Net::with_chain(economy_chain_with(None));
    let w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    net.root(RuntimeCall::Contracts(contracts::Call::create_cluster {
        workers: vec![w.pair.public()],
    }))
    .unwrap();
    let cluster = contracts::cluster_id(0);
    // As a settled report leaves it: the gas in the treasury, owed to the cluster.
    let gas_fee = 100 * PHA;
    gas_in_treasury(&mut net, gas_fee);
    net.chain.mutate(|ext| {
        gas::GAS_REVENUE.insert(ext, &cluster, &gas_fee);
        gas::GAS_DUE.put(ext, &vec![cluster]);
    });
    let treasury = net.chain.free(&TREASURY_ACCOUNT);
    net.chain.produce(vec![]);
    let shared = net.chain.events().into_iter().find_map(|r| match r.event {
        RuntimeEvent::Contracts(contracts::Event::GasShared {
            cluster: c,
            revenue,
            paid,
        }) if c == cluster => Some((revenue, paid)),
        _ => None,
    });
    assert_eq!(shared, Some((gas_fee, 80 * PHA)));
    assert_eq!(treasury - net.chain.free(&TREASURY_ACCOUNT), 80 * PHA);
    assert!(gas::GAS_DUE.get_or_default(&net.chain.ext()).is_empty());
    assert_eq!(
        gas::GAS_REVENUE.get_or_default(&net.chain.ext(), &cluster),
        0
    );
}

/// The attacks on judging: a gatekeeper floods a block with different copies to crowd
/// out the others' votes, then leaves the gatekeeper set before the block is judged. Each
/// gatekeeper has room for two votes, and the operator recorded with the vote is slashed
/// all the same.
#[test]
fn a_flooding_gatekeeper_cannot_crowd_out_votes_nor_leave_to_dodge_its_slash() {
    let (mut net, mut w, [mut gk1, mut gk2, mut gk3]) = three_gatekeepers();
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let honest = paid_heartbeat(&mut net, &mut w);
    let block = honest.block;
    for payout in [20, 21, 22, 23] {
        let mut bad = honest.clone();
        bad.paid[0].payout = payout * PHA;
        settle(&mut net, &mut gk3, &bad).unwrap();
    }
    settle(&mut net, &mut gk1, &honest).unwrap();
    settle(&mut net, &mut gk2, &honest).unwrap();
    let votes = SETTLEMENT_VOTES.get(&net.chain.ext(), &block).unwrap();
    assert_eq!(votes.len(), 4, "two of the flooder's and both honest ones");
    // Dave takes his gatekeeper out before the judgment.
    net.root(RuntimeCall::Registry(
        crate::modules::registry::Call::remove_gatekeeper {
            pubkey: gk3.pair.public(),
        },
    ))
    .unwrap();
    let before = bond_of(&net, "//Dave");
    until_judged(&mut net, block);
    assert_eq!(bond_of(&net, "//Dave"), before - before / 10);
    assert!(events(&net).contains(&Event::GatekeeperFaulty {
        block,
        gatekeeper: gk3.pair.public(),
        slashed: before / 10,
    }));
}

/// The only gatekeeper is never expelled, even proven faulty: with none left the master
/// key could not be handed on. (Its operator here holds no bond: the fault is recorded,
/// nothing is slashed.)
#[test]
fn the_last_gatekeeper_is_judged_faulty_but_not_expelled() {
    let mut net = Net::with_chain(economy_chain_with(None));
    let mut w = benchmarked(&mut net, "//Worker1", 2000);
    let mut gk = net.worker("//Gatekeeper1", 4);
    publish_master(&mut net, &mut gk);
    computing_pool(&mut net, &w, 50_000 * PHA, 5_000 * PHA);
    let mut s = paid_heartbeat(&mut net, &mut w);
    let block = s.block;
    settle(&mut net, &mut gk, &s).unwrap();
    s.paid[0].payout = 11 * PHA;
    settle(&mut net, &mut gk, &s).unwrap();
    until_judged(&mut net, block);
    assert!(
        events(&net)
            .iter()
            .any(|e| matches!(e, Event::GatekeeperFaulty { gatekeeper, .. } if *gatekeeper == gk.pair.public()))
    );
    assert!(crate::modules::registry::is_gatekeeper(
        &net.chain.ext(),
        &gk.pair.public()
    ));
}
