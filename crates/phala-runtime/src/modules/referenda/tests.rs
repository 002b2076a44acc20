use phala_primitives::{Balance, PHA};

use super::*;
use crate::modules::computation::DOUBLE_SIGN_SLASH;
use crate::modules::conviction_voting::{self, AccountVote, Conviction, Vote};
use crate::modules::scheduler::{self, DispatchTime};
use crate::modules::{TREASURY_ACCOUNT, balances, sudo};
use crate::origin::{GovOrigin, Origin};
use crate::testing::{TestChain, account, pair};
use crate::{GenesisConfig, OriginCaller, RuntimeCall, RuntimeEvent};

/// Development tracks with a 20-block decision period, so tests end quickly.
pub(crate) fn fast_params() -> GovernanceParams {
    let mut params = GovernanceParams::development(1_000);
    for (_, t) in &mut params.tracks {
        t.decision_period = 20;
    }
    params
}

pub(crate) fn gov_chain() -> TestChain {
    TestChain::with_genesis(GenesisConfig {
        endowed: vec![
            (account("//Alice"), 10_000 * PHA),
            (account("//Bob"), 2_000 * PHA),
            (account("//Charlie"), 2_000 * PHA),
            (account("//Ferdie"), 100 * PHA),
            (TREASURY_ACCOUNT, PHA),
        ],
        governance: fast_params(),
        sudo_key: Some(account("//Ferdie")),
        ..Default::default()
    })
}

fn set_slash(perbill: u32) -> RuntimeCall {
    RuntimeCall::Computation(crate::modules::computation::Call::set_double_sign_slash { perbill })
}

pub(crate) fn submit_call(origin: OriginCaller, call: &RuntimeCall, after: u32) -> RuntimeCall {
    RuntimeCall::Referenda(Call::submit {
        proposal_origin: Box::new(origin),
        proposal: crate::modules::preimage::Bounded::inline(call).unwrap(),
        enactment_moment: DispatchTime::After(after),
    })
}

pub(crate) fn vote_call(
    index: u32,
    aye: bool,
    conviction: Conviction,
    balance: Balance,
) -> RuntimeCall {
    RuntimeCall::ConvictionVoting(conviction_voting::Call::vote {
        poll_index: index,
        vote: AccountVote::Standard {
            vote: Vote { aye, conviction },
            balance,
        },
    })
}

fn info(chain: &TestChain, index: u32) -> Option<ReferendumInfo> {
    REFERENDUM_INFO_FOR.get(&chain.ext(), &index)
}

fn referenda_events(chain: &TestChain) -> Vec<Event> {
    chain
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Referenda(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Produces empty blocks until `number`, collecting the referenda events on the way.
fn run_to(chain: &mut TestChain, number: u32) -> Vec<(u32, Event)> {
    let mut seen = Vec::new();
    while chain.number < number {
        chain.produce(vec![]);
        seen.extend(
            referenda_events(chain)
                .into_iter()
                .map(|e| (chain.number, e)),
        );
    }
    seen
}

#[test]
fn a_root_referendum_passes_with_conviction_votes_and_is_enacted() {
    let mut chain = gov_chain();
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));
    let root = Origin::Root.caller();
    chain.produce(vec![
        chain.sign(&alice, submit_call(root, &set_slash(42), 0), 0),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &alice,
            vote_call(0, true, Conviction::Locked1x, 8_000 * PHA),
            2,
        ),
        chain.sign(
            &bob,
            vote_call(0, true, Conviction::Locked2x, 1_500 * PHA),
            0,
        ),
    ]);
    for i in 1..=4 {
        assert_eq!(chain.failure(i), None, "extrinsic {i}");
    }
    let params = fast_params();
    let root_track = params.track(0).unwrap().clone();
    assert_eq!(
        chain.info(&account("//Alice")).data.reserved,
        params.submission_deposit + root_track.decision_deposit
    );
    let Some(ReferendumInfo::Ongoing(status)) = info(&chain, 0) else {
        panic!("not ongoing")
    };
    assert_eq!(status.tally.ayes, 8_000 * PHA + 3_000 * PHA);
    assert_eq!(status.tally.support, 9_500 * PHA);

    // Prepare 4 blocks, confirm 6, enactment at least 4 after approval.
    let events = run_to(&mut chain, 20);
    let at = |want: &dyn Fn(&Event) -> bool| events.iter().find(|(_, e)| want(e)).map(|(n, _)| *n);
    assert_eq!(
        at(&|e| matches!(e, Event::DecisionStarted { index: 0, .. })),
        Some(5)
    );
    assert_eq!(
        at(&|e| matches!(e, Event::ConfirmStarted { index: 0 })),
        Some(5)
    );
    assert_eq!(
        at(&|e| matches!(e, Event::Confirmed { index: 0, .. })),
        Some(11)
    );
    assert!(matches!(
        info(&chain, 0),
        Some(ReferendumInfo::Approved(11, Some(_), Some(_)))
    ));
    assert_eq!(DOUBLE_SIGN_SLASH.get(&chain.ext()), Some(42));
    assert_eq!(
        scheduler::lookup(&chain.ext(), &service::enactment_name(0)),
        None
    );

    // Deposits of an approved referendum come back.
    chain.produce(vec![
        chain.sign(
            &bob,
            RuntimeCall::Referenda(Call::refund_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &bob,
            RuntimeCall::Referenda(Call::refund_submission_deposit { index: 0 }),
            2,
        ),
    ]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(chain.failure(2), None);
    assert_eq!(chain.info(&account("//Alice")).data.reserved, 0);
}

#[test]
fn the_enactment_runs_at_its_moment_not_before() {
    let mut chain = gov_chain();
    let alice = pair("//Alice");
    chain.produce(vec![
        chain.sign(
            &alice,
            submit_call(Origin::Root.caller(), &set_slash(7), 30),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &alice,
            vote_call(0, true, Conviction::Locked1x, 8_900 * PHA),
            2,
        ),
    ]);
    run_to(&mut chain, 11);
    assert!(matches!(
        info(&chain, 0),
        Some(ReferendumInfo::Approved(11, ..))
    ));
    // After(30) from approval at 11: block 41.
    assert_eq!(
        scheduler::lookup(&chain.ext(), &service::enactment_name(0)),
        Some((41, 0))
    );
    run_to(&mut chain, 40);
    assert_ne!(DOUBLE_SIGN_SLASH.get(&chain.ext()), Some(7));
    run_to(&mut chain, 41);
    assert_eq!(DOUBLE_SIGN_SLASH.get(&chain.ext()), Some(7));
}

#[test]
fn a_referendum_that_fails_changes_nothing() {
    let mut chain = gov_chain();
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));
    let before = DOUBLE_SIGN_SLASH.get(&chain.ext());
    chain.produce(vec![
        chain.sign(
            &bob,
            submit_call(Origin::Root.caller(), &set_slash(99), 0),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 0 }),
            0,
        ),
        chain.sign(
            &alice,
            vote_call(0, false, Conviction::Locked3x, 8_900 * PHA),
            1,
        ),
        chain.sign(&bob, vote_call(0, true, Conviction::None, 1_000 * PHA), 1),
    ]);
    // Deciding from 5, for 20 blocks.
    let events = run_to(&mut chain, 30);
    assert!(
        events
            .iter()
            .any(|(n, e)| *n == 25 && matches!(e, Event::Rejected { index: 0, .. }))
    );
    assert!(matches!(
        info(&chain, 0),
        Some(ReferendumInfo::Rejected(25, ..))
    ));
    assert_eq!(DOUBLE_SIGN_SLASH.get(&chain.ext()), before);
    // A rejected referendum's submission deposit is not refundable; its decision one is.
    chain.produce(vec![
        chain.sign(
            &bob,
            RuntimeCall::Referenda(Call::refund_submission_deposit { index: 0 }),
            2,
        ),
        chain.sign(
            &bob,
            RuntimeCall::Referenda(Call::refund_decision_deposit { index: 0 }),
            3,
        ),
    ]);
    assert_eq!(chain.failure(1), Some(Error::BadStatus.into()));
    assert_eq!(chain.failure(2), None);
}

#[test]
fn undecided_referenda_time_out_and_proposals_need_a_track() {
    let mut chain = gov_chain();
    let bob = pair("//Bob");
    chain.produce(vec![
        chain.sign(
            &bob,
            submit_call(Origin::Root.caller(), &set_slash(1), 0),
            0,
        ),
        // A signed origin has no track.
        chain.sign(
            &bob,
            submit_call(Origin::Signed(account("//Bob")).caller(), &set_slash(1), 0),
            1,
        ),
    ]);
    assert_eq!(chain.failure(2), Some(Error::NoTrack.into()));
    let timeout = fast_params().undeciding_timeout;
    let events = run_to(&mut chain, 1 + timeout);
    assert!(
        events
            .iter()
            .any(|(n, e)| *n == 1 + timeout && matches!(e, Event::TimedOut { index: 0, .. }))
    );
    assert!(matches!(
        info(&chain, 0),
        Some(ReferendumInfo::TimedOut(..))
    ));
}

#[test]
fn a_full_track_queues_and_the_freed_slot_goes_to_the_queue() {
    let alice = pair("//Alice");
    let root = Origin::Root.caller();
    let deposit = |i| RuntimeCall::Referenda(Call::place_decision_deposit { index: i });
    // The root track decides one at a time.
    let mut chain = TestChain::with_genesis(GenesisConfig {
        endowed: vec![(account("//Alice"), 100_000 * PHA), (TREASURY_ACCOUNT, PHA)],
        governance: fast_params(),
        ..Default::default()
    });
    chain.produce(vec![
        chain.sign(&alice, submit_call(root, &set_slash(1), 0), 0),
        chain.sign(&alice, submit_call(root, &set_slash(2), 0), 1),
        chain.sign(&alice, deposit(0), 2),
        chain.sign(&alice, deposit(1), 3),
    ]);
    run_to(&mut chain, 6);
    let Some(ReferendumInfo::Ongoing(second)) = info(&chain, 1) else {
        panic!()
    };
    assert!(second.in_queue && second.deciding.is_none());
    assert_eq!(TRACK_QUEUE.get_or_default(&chain.ext(), &0).len(), 1);
    // The first fails at 25 (no votes); the second starts deciding then.
    let events = run_to(&mut chain, 26);
    assert!(
        events
            .iter()
            .any(|(n, e)| *n == 25 && matches!(e, Event::DecisionStarted { index: 1, .. }))
    );
    assert_eq!(DECIDING_COUNT.get_or_default(&chain.ext(), &0), 1);
}

#[test]
fn cancel_refunds_and_kill_slashes_by_their_own_tracks() {
    let mut chain = gov_chain();
    let (alice, bob, ferdie) = (pair("//Alice"), pair("//Bob"), pair("//Ferdie"));
    let root = Origin::Root.caller();
    chain.produce(vec![
        chain.sign(&bob, submit_call(root, &set_slash(1), 0), 0),
        chain.sign(&bob, submit_call(root, &set_slash(2), 0), 1),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 1 }),
            0,
        ),
    ]);
    let bob_reserved = chain.info(&account("//Bob")).data.reserved;
    // Signed accounts cannot cancel; root (here through sudo) can.
    let sudo = |call: RuntimeCall| {
        RuntimeCall::Sudo(sudo::Call::sudo {
            call: Box::new(call),
        })
    };
    chain.produce(vec![
        chain.sign(&bob, RuntimeCall::Referenda(Call::cancel { index: 0 }), 2),
        chain.sign(
            &ferdie,
            sudo(RuntimeCall::Referenda(Call::cancel { index: 0 })),
            0,
        ),
    ]);
    assert_eq!(
        chain.failure(1),
        Some(crate::dispatch::DispatchError::BadOrigin)
    );
    assert!(matches!(
        info(&chain, 0),
        Some(ReferendumInfo::Cancelled(..))
    ));
    chain.produce(vec![chain.sign(
        &bob,
        RuntimeCall::Referenda(Call::refund_submission_deposit { index: 0 }),
        3,
    )]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(
        chain.info(&account("//Bob")).data.reserved,
        bob_reserved - fast_params().submission_deposit
    );

    // A killer-track origin kills: both deposits go to the treasury.
    let treasury = chain.free(&TREASURY_ACCOUNT);
    chain.mutate(|ext| {
        RuntimeCall::Referenda(Call::kill { index: 1 })
            .dispatch(ext, Origin::Gov(GovOrigin::ReferendumKiller))
            .unwrap()
    });
    assert!(matches!(info(&chain, 1), Some(ReferendumInfo::Killed(_))));
    let root_deposit = fast_params().track(0).unwrap().decision_deposit;
    assert!(
        chain.free(&TREASURY_ACCOUNT) >= treasury + root_deposit + fast_params().submission_deposit
    );
    assert_eq!(chain.info(&account("//Bob")).data.reserved, 0);
    assert_eq!(chain.info(&account("//Alice")).data.reserved, 0);
    // A canceller cannot kill.
    assert!(
        chain
            .mutate(|ext| RuntimeCall::Referenda(Call::kill { index: 1 })
                .dispatch(ext, Origin::Gov(GovOrigin::ReferendumCanceller)))
            .is_err()
    );
}

#[test]
fn curves_fall_and_delays_find_where_they_pass() {
    use crate::arith::Perbill;
    let linear = Curve::linear(Perbill::from_percent(50), Perbill::ONE);
    assert_eq!(linear.threshold(Perbill::ZERO), Perbill::ONE);
    assert_eq!(linear.threshold(Perbill::ONE), Perbill::from_percent(50));
    assert_eq!(
        linear.threshold(Perbill::from_percent(50)),
        Perbill::from_percent(75)
    );
    assert_eq!(
        linear.delay(Perbill::from_percent(75)),
        Perbill::from_percent(50)
    );
    assert_eq!(linear.delay(Perbill::from_percent(10)), Perbill::ONE);
    assert_eq!(linear.delay(Perbill::ONE), Perbill::ZERO);
    let stepped = Curve::SteppedDecreasing {
        begin: Perbill::from_percent(80),
        end: Perbill::from_percent(30),
        step: Perbill::from_percent(10),
        period: Perbill::from_percent(10),
    };
    assert_eq!(
        stepped.threshold(Perbill::from_percent(25)),
        Perbill::from_percent(60)
    );
    assert_eq!(stepped.threshold(Perbill::ONE), Perbill::from_percent(30));
    // Polkadot's root approval: Reciprocal(factor 0.222, x_offset 0.0208, y_offset 0.4).
    let reciprocal = Curve::Reciprocal {
        factor: crate::arith::FixedI64(222_222_224),
        x_offset: crate::arith::FixedI64(333_333_335),
        y_offset: crate::arith::FixedI64(333_333_332),
    };
    assert!(reciprocal.threshold(Perbill::ZERO) <= Perbill::ONE);
    assert!(reciprocal.threshold(Perbill::ONE) < reciprocal.threshold(Perbill::ZERO));
}

#[test]
fn the_enactment_name_is_upstreams() {
    assert_eq!(
        hex::encode(service::enactment_name(0)),
        "5a614cd58fac2c25d3f478ab06ba0748f0819a96726cc60e729b0c146dc562d6"
    );
}

#[test]
fn governance_params_are_checked() {
    let mut p = fast_params();
    p.tracks.push((99, p.tracks[0].1.clone()));
    assert_eq!(p.normalize(), Err(tracks::ParamsError::UnknownTrack(99)));
    let mut p = fast_params();
    p.tracks.retain(|(id, _)| *id != 0);
    assert_eq!(p.normalize(), Err(tracks::ParamsError::NoRoot));
    let mut p = fast_params();
    p.tracks.push(p.tracks[1].clone());
    assert!(matches!(
        p.normalize(),
        Err(tracks::ParamsError::DuplicateTrack(_))
    ));
    assert!(GovernanceParams::live(6_000).normalize().is_ok());
}

#[test]
fn balances_move_only_by_deposits() {
    // What the lifecycle moves: deposits reserved, refunded or slashed to the treasury;
    // issuance never changes.
    let mut chain = gov_chain();
    let issuance = balances::total_issuance(&chain.ext());
    let alice = pair("//Alice");
    chain.produce(vec![
        chain.sign(
            &alice,
            submit_call(Origin::Root.caller(), &set_slash(3), 0),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &alice,
            vote_call(0, true, Conviction::Locked6x, 8_900 * PHA),
            2,
        ),
    ]);
    run_to(&mut chain, 20);
    assert_eq!(balances::total_issuance(&chain.ext()), issuance);
}

#[test]
fn a_parameters_referendum_sets_the_economics_from_its_enactment_block() {
    use crate::modules::computation;
    let mut chain = gov_chain();
    let alice = pair("//Alice");
    let mut params = computation::PARAMS.get(&chain.ext()).unwrap();
    params.heartbeat_window += 5;
    let call = RuntimeCall::Computation(computation::Call::set_params { params });
    // Only root and the parameters track may set them.
    assert_eq!(
        chain.mutate(|ext| call
            .clone()
            .dispatch(ext, Origin::Gov(GovOrigin::Treasurer))),
        Err(crate::dispatch::DispatchError::BadOrigin)
    );
    let parameters = Origin::Gov(GovOrigin::Parameters).caller();
    let bounded = chain.mutate(|ext| crate::modules::preimage::bound(ext, &call).unwrap().0);
    chain.produce(vec![
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::submit {
                proposal_origin: Box::new(parameters),
                proposal: bounded,
                enactment_moment: DispatchTime::After(0),
            }),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(Call::place_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &alice,
            vote_call(0, true, Conviction::Locked1x, 8_900 * PHA),
            2,
        ),
    ]);
    let Some(ReferendumInfo::Ongoing(status)) = info(&chain, 0) else {
        panic!()
    };
    assert_eq!(status.track, 40);
    // Approved at 11, enacted at 15 (the track's minimum enactment delay).
    run_to(&mut chain, 14);
    assert_ne!(computation::PARAMS.get(&chain.ext()), Some(params));
    run_to(&mut chain, 15);
    assert_eq!(computation::PARAMS.get(&chain.ext()), Some(params));
    // Gatekeepers learn it from this block's message queue, as from a root call.
    assert!(chain.events().iter().any(|r| matches!(
        r.event,
        RuntimeEvent::Computation(computation::Event::ParamsSet)
    )));
}
