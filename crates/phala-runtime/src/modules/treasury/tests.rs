use phala_primitives::{MultiAddress, PHA};

use super::*;
use crate::RuntimeCall;
use crate::modules::conviction_voting::Conviction;
use crate::modules::referenda::tests::{gov_chain, submit_call, vote_call};
use crate::modules::referenda::{self, ReferendumInfo};
use crate::origin::{GovOrigin, Origin};
use crate::testing::{TestChain, account, pair};

fn spend(amount: Balance, to: &str, valid_from: Option<BlockNumber>) -> Call {
    Call::spend {
        asset_kind: Box::new(NativeOrWithId::Native),
        amount,
        beneficiary: Box::new(MultiAddress::Id(account(to))),
        valid_from,
    }
}

fn fund(chain: &mut TestChain, amount: Balance) {
    // What fees and slashes would have brought in: credited and issued together.
    chain.mutate(|ext| {
        balances::deposit(ext, &TREASURY_ACCOUNT, amount).unwrap();
        let issuance = balances::total_issuance(ext) + amount;
        balances::TOTAL_ISSUANCE.put(ext, &issuance);
    });
}

fn as_gov(chain: &mut TestChain, origin: Origin, call: Call) -> Result<(), DispatchError> {
    chain.mutate(|ext| ext.transactional(|ext| call.dispatch(ext, origin)))
}

#[test]
fn spends_are_limited_by_their_origin_and_paid_from_their_block() {
    let mut chain = gov_chain();
    fund(&mut chain, 50_000 * PHA);
    let limit = params(&chain.ext())
        .limits
        .iter()
        .find(|(o, _)| *o == GovOrigin::SmallSpender)
        .unwrap()
        .1;
    assert_eq!(
        as_gov(
            &mut chain,
            Origin::Gov(GovOrigin::SmallSpender),
            spend(limit + 1, "//Dave", None)
        ),
        Err(Error::InsufficientPermission.into())
    );
    assert_eq!(
        as_gov(
            &mut chain,
            Origin::Signed(account("//Bob")),
            spend(1, "//Dave", None)
        ),
        Err(DispatchError::BadOrigin)
    );
    assert_eq!(
        as_gov(
            &mut chain,
            Origin::Gov(GovOrigin::Parameters),
            spend(1, "//Dave", None)
        ),
        Err(DispatchError::BadOrigin)
    );
    as_gov(
        &mut chain,
        Origin::Gov(GovOrigin::SmallSpender),
        spend(limit, "//Dave", Some(3)),
    )
    .unwrap();
    let payout = RuntimeCall::Treasury(Call::payout { index: 0 });
    let bob = pair("//Bob");
    chain.produce(vec![chain.sign(&bob, payout.clone(), 0)]);
    assert_eq!(chain.failure(1), Some(Error::EarlyPayout.into()));
    chain.produce(vec![]);
    let before = chain.free(&account("//Dave"));
    chain.produce(vec![chain.sign(&bob, payout.clone(), 1)]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(chain.free(&account("//Dave")), before + limit);
    chain.produce(vec![
        chain.sign(&bob, payout, 2),
        chain.sign(
            &bob,
            RuntimeCall::Treasury(Call::check_status { index: 0 }),
            3,
        ),
    ]);
    assert_eq!(chain.failure(1), Some(Error::AlreadyAttempted.into()));
    assert_eq!(chain.failure(2), None);
    assert!(SPENDS.get(&chain.ext(), &0).is_none());
}

#[test]
fn a_treasurer_referendum_spends_and_the_beneficiary_is_paid() {
    let mut chain = gov_chain();
    fund(&mut chain, 50_000 * PHA);
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));
    let proposal = RuntimeCall::Treasury(spend(1_234 * PHA, "//Charlie", None));
    chain.produce(vec![
        chain.sign(
            &alice,
            submit_call(Origin::Gov(GovOrigin::Treasurer).caller(), &proposal, 0),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Referenda(referenda::Call::place_decision_deposit { index: 0 }),
            1,
        ),
        chain.sign(
            &alice,
            vote_call(0, true, Conviction::Locked1x, 9_000 * PHA),
            2,
        ),
    ]);
    assert_eq!(
        referenda::REFERENDUM_INFO_FOR
            .get(&chain.ext(), &0)
            .map(|i| matches!(i, ReferendumInfo::Ongoing(s) if s.track == 11)),
        Some(true)
    );
    while chain.number < 16 {
        chain.produce(vec![]);
    }
    assert!(matches!(
        referenda::REFERENDUM_INFO_FOR.get(&chain.ext(), &0),
        Some(ReferendumInfo::Approved(..))
    ));
    let spend = SPENDS.get(&chain.ext(), &0).expect("the enacted spend");
    assert_eq!(spend.amount, 1_234 * PHA);
    let before = chain.free(&account("//Charlie"));
    chain.produce(vec![chain.sign(
        &bob,
        RuntimeCall::Treasury(Call::payout { index: 0 }),
        0,
    )]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(chain.free(&account("//Charlie")), before + 1_234 * PHA);
}

#[test]
fn local_spends_are_awarded_each_period_and_the_rest_burns_at_its_rate() {
    let mut chain = gov_chain();
    chain.mutate(|ext| {
        PARAMS.put(
            ext,
            &Params {
                spend_period: 5,
                burn: Perbill::from_percent(10),
                payout_period: 100,
                limits: Params::default().limits,
            },
        )
    });
    fund(&mut chain, 10_000 * PHA);
    let issuance = balances::total_issuance(&chain.ext());
    let award = |amount, to: &str| Call::spend_local {
        amount,
        beneficiary: MultiAddress::Id(account(to)),
    };
    as_gov(&mut chain, Origin::Root, award(1_000 * PHA, "//Dave")).unwrap();
    let pot_before = pot(&chain.ext());
    while chain.number < 5 {
        chain.produce(vec![]);
    }
    assert_eq!(chain.free(&account("//Dave")), 1_000 * PHA);
    assert!(APPROVALS.get_or_default(&chain.ext()).is_empty());
    // Fees of the empty blocks are none: what is left is the pot less the award.
    let left = pot_before - 1_000 * PHA;
    let burnt = left / 10;
    assert_eq!(pot(&chain.ext()), left - burnt);
    assert_eq!(balances::total_issuance(&chain.ext()), issuance - burnt);

    // An award bigger than the pot waits, and nothing burns while it waits.
    as_gov(&mut chain, Origin::Root, award(1_000_000 * PHA, "//Dave")).unwrap();
    let pot_now = pot(&chain.ext());
    while chain.number < 10 {
        chain.produce(vec![]);
    }
    assert_eq!(pot(&chain.ext()), pot_now);
    assert_eq!(APPROVALS.get_or_default(&chain.ext()).len(), 1);
    as_gov(
        &mut chain,
        Origin::Gov(GovOrigin::Treasurer),
        Call::remove_approval { proposal_id: 1 },
    )
    .unwrap();
    assert!(PROPOSALS.get(&chain.ext(), &1).is_none());
}

#[test]
fn the_pot_keeps_what_is_owed_to_compute_providers() {
    let mut chain = gov_chain();
    fund(&mut chain, 1_000 * PHA);
    let pot_before = pot(&chain.ext());
    chain.mutate(|ext| contracts::gas::GAS_OWED.put(ext, &(400 * PHA)));
    assert_eq!(pot(&chain.ext()), pot_before - 400 * PHA);
    as_gov(&mut chain, Origin::Root, spend(pot_before, "//Dave", None)).unwrap();
    chain.produce(vec![chain.sign(
        &pair("//Bob"),
        RuntimeCall::Treasury(Call::payout { index: 0 }),
        0,
    )]);
    assert_eq!(chain.failure(1), Some(Error::PayoutError.into()));
}
