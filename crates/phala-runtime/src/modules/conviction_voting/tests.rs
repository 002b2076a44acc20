use phala_primitives::{Balance, MultiAddress, PHA};
use proptest::prelude::*;

use super::*;
use crate::RuntimeCall;
use crate::modules::referenda::tests::{fast_params, gov_chain, submit_call, vote_call};
use crate::modules::referenda::{self as referenda_mod, PollState};
use crate::modules::{balances, system};
use crate::origin::Origin;
use crate::testing::{TestChain, account, pair};

fn transfer(to: &str, value: Balance) -> RuntimeCall {
    RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(account(to)),
        value,
    })
}

fn remark() -> RuntimeCall {
    RuntimeCall::System(system::Call::remark { remark: vec![] })
}

fn frozen(chain: &TestChain, who: &str) -> Balance {
    chain.info(&account(who)).data.frozen
}

/// Alice opens referendum 0 on the root track with her deposits.
fn open(chain: &mut TestChain) {
    let alice = pair("//Alice");
    chain.produce(vec![
        chain.sign(&alice, submit_call(Origin::Root.caller(), &remark(), 0), 0),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(referenda_mod::Call::place_decision_deposit { index: 0 }),
            1,
        ),
    ]);
}

/// Referendum 0's tally; it must be ongoing.
fn ongoing_tally(chain: &TestChain) -> referenda_mod::Tally {
    match referenda_mod::poll(&chain.ext(), 0) {
        PollState::Ongoing { tally, .. } => tally,
        other => panic!("referendum 0 is not ongoing: {other:?}"),
    }
}

fn produce_until(chain: &mut TestChain, number: u32) {
    while chain.number < number {
        chain.produce(vec![]);
    }
}

#[test]
fn a_winning_vote_stays_locked_for_its_conviction_then_unlock_frees_it() {
    let mut chain = gov_chain();
    open(&mut chain);
    let bob = pair("//Bob");
    chain.produce(vec![chain.sign(
        &bob,
        vote_call(0, true, Conviction::Locked2x, 1_500 * PHA),
        0,
    )]);
    assert_eq!(frozen(&chain, "//Bob"), 1_500 * PHA);
    // Bob has ~2,000 PHA: 1,500 are locked, so 1,000 cannot leave.
    chain.produce(vec![chain.sign(
        &bob,
        transfer("//Charlie", 1_000 * PHA),
        1,
    )]);
    assert_eq!(
        chain.failure(1),
        Some(balances::Error::LiquidityRestrictions.into())
    );
    // Alice alone cannot pass it (support), but Bob's vote with hers does: approved at 11.
    chain.produce(vec![chain.sign(
        &pair("//Alice"),
        vote_call(0, true, Conviction::None, 8_000 * PHA),
        2,
    )]);
    produce_until(&mut chain, 12);
    assert_eq!(
        referenda_mod::poll(&chain.ext(), 0),
        PollState::Completed {
            end: 11,
            approved: true
        }
    );
    // Removing the vote keeps the lock: two periods after the end.
    let period = fast_params().vote_locking_period;
    let unlock_at = 11 + 2 * period;
    chain.produce(vec![
        chain.sign(
            &bob,
            RuntimeCall::ConvictionVoting(Call::remove_vote {
                class: Some(0),
                index: 0,
            }),
            2,
        ),
        chain.sign(
            &bob,
            RuntimeCall::ConvictionVoting(Call::unlock {
                class: 0,
                target: MultiAddress::Id(account("//Bob")),
            }),
            3,
        ),
    ]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(frozen(&chain, "//Bob"), 1_500 * PHA);
    produce_until(&mut chain, unlock_at);
    chain.produce(vec![chain.sign(
        &bob,
        RuntimeCall::ConvictionVoting(Call::unlock {
            class: 0,
            target: MultiAddress::Id(account("//Bob")),
        }),
        4,
    )]);
    assert_eq!(frozen(&chain, "//Bob"), 0);
    assert!(
        balances::LOCKS
            .get(&chain.ext(), &account("//Bob"))
            .is_none()
    );
    chain.produce(vec![chain.sign(
        &bob,
        transfer("//Charlie", 1_000 * PHA),
        5,
    )]);
    assert_eq!(chain.failure(1), None);
}

#[test]
fn votes_cannot_exceed_the_balance_or_touch_ended_referenda() {
    let mut chain = gov_chain();
    open(&mut chain);
    let bob = pair("//Bob");
    chain.produce(vec![
        chain.sign(
            &bob,
            vote_call(0, true, Conviction::Locked1x, 5_000 * PHA),
            0,
        ),
        chain.sign(&bob, vote_call(7, true, Conviction::Locked1x, PHA), 1),
    ]);
    assert_eq!(chain.failure(1), Some(Error::InsufficientFunds.into()));
    assert_eq!(chain.failure(2), Some(Error::NotOngoing.into()));
}

#[test]
fn changing_a_vote_replaces_it_in_the_tally() {
    let mut chain = gov_chain();
    open(&mut chain);
    let bob = pair("//Bob");
    chain.produce(vec![
        chain.sign(
            &bob,
            vote_call(0, true, Conviction::Locked3x, 1_000 * PHA),
            0,
        ),
        chain.sign(&bob, vote_call(0, false, Conviction::None, 500 * PHA), 1),
    ]);
    let tally = ongoing_tally(&chain);
    assert_eq!((tally.ayes, tally.nays, tally.support), (0, 50 * PHA, 0));
    // The lock keeps the largest amount voted until unlocked.
    assert_eq!(frozen(&chain, "//Bob"), 1_000 * PHA);
}

#[test]
fn delegated_votes_follow_the_delegates_vote() {
    let mut chain = gov_chain();
    open(&mut chain);
    let (bob, charlie) = (pair("//Bob"), pair("//Charlie"));
    chain.produce(vec![
        chain.sign(
            &charlie,
            RuntimeCall::ConvictionVoting(Call::delegate {
                class: 0,
                to: MultiAddress::Id(account("//Bob")),
                conviction: Conviction::Locked2x,
                balance: 1_000 * PHA,
            }),
            0,
        ),
        chain.sign(&bob, vote_call(0, true, Conviction::Locked1x, 100 * PHA), 0),
    ]);
    assert_eq!(chain.failure(1), None);
    let tally = ongoing_tally(&chain);
    assert_eq!(tally.ayes, 100 * PHA + 2_000 * PHA);
    assert_eq!(tally.support, 1_100 * PHA);
    assert_eq!(frozen(&chain, "//Charlie"), 1_000 * PHA);
    // A delegator cannot vote itself on that track; undelegating takes its votes away.
    chain.produce(vec![
        chain.sign(&charlie, vote_call(0, true, Conviction::None, PHA), 1),
        chain.sign(
            &charlie,
            RuntimeCall::ConvictionVoting(Call::undelegate { class: 0 }),
            2,
        ),
    ]);
    assert_eq!(chain.failure(1), Some(Error::AlreadyDelegating.into()));
    let tally = ongoing_tally(&chain);
    assert_eq!(tally.ayes, 100 * PHA);
    // Still locked for its conviction's periods from the undelegation.
    assert_eq!(frozen(&chain, "//Charlie"), 1_000 * PHA);
    chain.produce(vec![chain.sign(
        &charlie,
        RuntimeCall::ConvictionVoting(Call::delegate {
            class: 0,
            to: MultiAddress::Id(account("//Charlie")),
            conviction: Conviction::None,
            balance: PHA,
        }),
        3,
    )]);
    assert_eq!(chain.failure(1), Some(Error::Nonsense.into()));
}

#[test]
fn the_vote_byte_is_substrates() {
    use parity_scale_codec::{Decode, Encode};
    let aye1 = Vote {
        aye: true,
        conviction: Conviction::Locked1x,
    };
    assert_eq!(aye1.encode(), vec![0x81]);
    assert_eq!(Vote::default().encode(), vec![0x00]);
    assert!(Vote::decode(&mut [0x87u8].as_slice()).is_err());
    use scale_info::TypeInfo;
    assert_eq!(
        Vote::type_info().path.segments,
        vec!["pallet_conviction_voting", "vote", "Vote"]
    );
}

#[derive(Clone, Debug)]
enum Op {
    Vote(usize, bool, u8, u16),
    Remove(usize),
    Delegate(usize, usize, u8, u16),
    Undelegate(usize),
    Unlock(usize),
    Transfer(usize, u16),
    Wait(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, any::<bool>(), 0u8..7, 1u16..3000)
            .prop_map(|(w, a, c, b)| Op::Vote(w, a, c, b)),
        (0usize..3).prop_map(Op::Remove),
        (0usize..3, 0usize..3, 0u8..7, 1u16..3000)
            .prop_map(|(w, t, c, b)| Op::Delegate(w, t, c, b)),
        (0usize..3).prop_map(Op::Undelegate),
        (0usize..3).prop_map(Op::Unlock),
        (0usize..3, 1u16..3000).prop_map(|(w, b)| Op::Transfer(w, b)),
        (1u8..20).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No vote, delegation, unlock or referendum step creates or destroys PHA; every
    /// account's frozen balance is its largest class lock; and a transfer never takes an
    /// account's free balance below what is frozen.
    #[test]
    fn votes_only_lock_and_locks_hold(ops in proptest::collection::vec(op(), 1..30)) {
        let names = ["//Bob", "//Charlie", "//Dave"];
        let mut chain = TestChain::with_genesis(crate::GenesisConfig {
            endowed: vec![
                (account("//Alice"), 10_000 * PHA),
                (account("//Bob"), 3_000 * PHA),
                (account("//Charlie"), 3_000 * PHA),
                (account("//Dave"), 3_000 * PHA),
                (crate::modules::TREASURY_ACCOUNT, PHA),
            ],
            governance: fast_params(),
            ..Default::default()
        });
        open(&mut chain);
        let issuance = balances::total_issuance(&chain.ext());
        for op in ops {
            let conviction = |c: u8| [Conviction::None, Conviction::Locked1x, Conviction::Locked2x,
                Conviction::Locked3x, Conviction::Locked4x, Conviction::Locked5x, Conviction::Locked6x][c as usize];
            let (who, call) = match op {
                Op::Vote(w, aye, c, b) => (w, vote_call(0, aye, conviction(c), Balance::from(b) * PHA)),
                Op::Remove(w) => (w, RuntimeCall::ConvictionVoting(Call::remove_vote { class: Some(0), index: 0 })),
                Op::Delegate(w, t, c, b) => (w, RuntimeCall::ConvictionVoting(Call::delegate {
                    class: 0, to: MultiAddress::Id(account(names[t])), conviction: conviction(c), balance: Balance::from(b) * PHA })),
                Op::Undelegate(w) => (w, RuntimeCall::ConvictionVoting(Call::undelegate { class: 0 })),
                Op::Unlock(w) => (w, RuntimeCall::ConvictionVoting(Call::unlock { class: 0, target: MultiAddress::Id(account(names[w])) })),
                Op::Transfer(w, b) => (w, transfer("//Alice", Balance::from(b) * PHA)),
                Op::Wait(n) => {
                    for _ in 0..n { chain.produce(vec![]); }
                    continue;
                }
            };
            let signer = pair(names[who]);
            let nonce = chain.nonce(&account(names[who]));
            let is_transfer = matches!(call, RuntimeCall::Balances(_));
            let free_before = chain.info(&account(names[who])).data.free;
            chain.produce(vec![chain.sign(&signer, call, nonce)]);
            let ext = chain.ext();
            let after = system::account(&ext, &account(names[who])).data;
            if is_transfer && chain.failure(1).is_none() {
                prop_assert!(after.free < free_before);
                prop_assert!(after.free >= after.frozen, "a transfer took frozen PHA");
            }
            prop_assert_eq!(balances::total_issuance(&ext), issuance);
            for name in names {
                let who = account(name);
                let data = system::account(&ext, &who).data;
                let class_max = CLASS_LOCKS_FOR.get_or_default(&ext, &who).iter().map(|(_, a)| *a).max().unwrap_or(0);
                prop_assert_eq!(data.frozen, class_max);
            }
            // The tally is exactly what the voting records add up to.
            if let PollState::Ongoing { tally, .. } = referenda_mod::poll(&ext, 0) {
                let mut want = referenda_mod::Tally::default();
                for name in names {
                    if let Voting::Casting(c) = VOTING_FOR.get_or_default(&ext, &account(name), &0) {
                        for (_, v) in c.votes.iter() {
                            want.add(v).unwrap();
                            if let Some(aye) = v.as_standard() { want.increase(aye, c.delegations).unwrap(); }
                        }
                    }
                }
                prop_assert_eq!(tally, want);
            }
        }
    }
}
