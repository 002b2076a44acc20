use phala_primitives::{Era, H256, MultiAddress, PHA};

use super::*;
use crate::block::Skipped;
use crate::dispatch::{DispatchError, ModuleError};
use crate::modules::{TREASURY_ACCOUNT, transaction_payment};
use crate::testing::{TestChain, account, pair};
use crate::validity::{InvalidTransaction, TransactionValidityError};
use crate::{RuntimeCall, RuntimeEvent};

fn transfer(dest: &str, value: Balance, keep_alive: bool) -> RuntimeCall {
    let dest = MultiAddress::Id(account(dest));
    RuntimeCall::Balances(if keep_alive {
        Call::transfer_keep_alive { dest, value }
    } else {
        Call::transfer_allow_death { dest, value }
    })
}

fn failed_with(chain: &TestChain, index: u32) -> Option<DispatchError> {
    chain.events_of(index).into_iter().find_map(|e| match e {
        RuntimeEvent::System(system::Event::ExtrinsicFailed { dispatch_error, .. }) => {
            Some(dispatch_error)
        }
        _ => None,
    })
}

#[test]
fn transfer_moves_funds_and_pays_the_treasury() {
    let mut chain = TestChain::new();
    let (alice, bob) = (account("//Alice"), account("//Bob"));
    let xt = chain.sign(&pair("//Alice"), transfer("//Bob", 10 * PHA, true), 0);
    let len = xt.as_bytes().len();
    let (_, outcomes) = chain.produce(vec![xt]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let fee = transaction_payment::compute_fee(len, &transfer("//Bob", 10 * PHA, true).info(), 0);
    assert!(fee > 0);
    assert_eq!(chain.free(&alice), 990 * PHA - fee);
    assert_eq!(chain.free(&bob), 1_010 * PHA);
    assert_eq!(chain.free(&TREASURY_ACCOUNT), PHA + fee);
    assert_eq!(chain.nonce(&alice), 1);
    let events = chain.events_of(1);
    assert!(events.contains(&RuntimeEvent::Balances(Event::Transfer {
        from: alice,
        to: bob,
        amount: 10 * PHA
    })));
    assert!(events.contains(&RuntimeEvent::TransactionPayment(
        transaction_payment::Event::TransactionFeePaid {
            who: alice,
            actual_fee: fee,
            tip: 0
        }
    )));
    assert!(matches!(
        events.last(),
        Some(RuntimeEvent::System(system::Event::ExtrinsicSuccess { .. }))
    ));
}

#[test]
fn failed_transfer_changes_only_fee_and_nonce() {
    let mut chain = TestChain::new();
    let alice = account("//Alice");
    let xt = chain.sign(&pair("//Alice"), transfer("//Bob", 5_000 * PHA, false), 0);
    let before = chain.free(&account("//Bob"));
    let (_, outcomes) = chain.produce(vec![xt]);
    assert_eq!(outcomes, vec![Ok(false)]);
    assert_eq!(chain.free(&account("//Bob")), before);
    assert_eq!(chain.nonce(&alice), 1);
    assert!(chain.free(&alice) < 1_000 * PHA);
    assert_eq!(
        failed_with(&chain, 1),
        Some(DispatchError::Module(ModuleError {
            index: crate::modules::index::BALANCES,
            error: [1, 0, 0, 0]
        }))
    );
    assert_eq!(Error::InsufficientBalance.encode(), vec![1]);
}

#[test]
fn new_accounts_need_the_existential_deposit() {
    let mut chain = TestChain::new();
    let dave = account("//Dave");
    let small = chain.sign(
        &pair("//Alice"),
        transfer("//Dave", EXISTENTIAL_DEPOSIT - 1, false),
        0,
    );
    let enough = chain.sign(
        &pair("//Alice"),
        transfer("//Dave", EXISTENTIAL_DEPOSIT, false),
        1,
    );
    let (_, outcomes) = chain.produce(vec![small, enough]);
    assert_eq!(outcomes, vec![Ok(false), Ok(true)]);
    assert_eq!(
        failed_with(&chain, 1),
        Some(Error::ExistentialDeposit.into())
    );
    assert_eq!(chain.free(&dave), EXISTENTIAL_DEPOSIT);
    assert!(
        chain
            .events_of(2)
            .contains(&RuntimeEvent::System(system::Event::NewAccount {
                account: dave
            }))
    );
}

#[test]
fn keep_alive_refuses_to_reap_and_allow_death_reaps() {
    let mut chain = TestChain::new();
    let bob = account("//Bob");
    // Everything but half the existential deposit after the fee: keep-alive must refuse.
    let probe = chain.sign(&pair("//Bob"), transfer("//Alice", 999 * PHA, true), 0);
    let fee = transaction_payment::compute_fee(
        probe.as_bytes().len(),
        &transfer("//Alice", 999 * PHA, true).info(),
        0,
    );
    let keep = chain.sign(
        &pair("//Bob"),
        transfer("//Alice", 1_000 * PHA - fee - EXISTENTIAL_DEPOSIT / 2, true),
        0,
    );
    assert_eq!(keep.as_bytes().len(), probe.as_bytes().len());
    let (_, outcomes) = chain.produce(vec![keep]);
    assert_eq!(outcomes, vec![Ok(false)]);
    assert_eq!(failed_with(&chain, 1), Some(Error::Expendability.into()));
    // transfer_all without keep-alive empties and reaps the account.
    let all = chain.sign(
        &pair("//Bob"),
        RuntimeCall::Balances(Call::transfer_all {
            dest: MultiAddress::Id(account("//Alice")),
            keep_alive: false,
        }),
        1,
    );
    let (_, outcomes) = chain.produce(vec![all]);
    assert_eq!(outcomes, vec![Ok(true)]);
    assert!(!system::account_exists(&chain.ext(), &bob));
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::System(system::Event::KilledAccount {
                account: bob
            }))
    );
}

#[test]
fn locks_freeze_and_reserves_move_funds() {
    let chain = TestChain::new();
    let alice = account("//Alice");
    let bob = account("//Bob");
    let mut ext = chain.ext();
    set_lock(&mut ext, *b"staking ", &alice, 900 * PHA).unwrap();
    assert_eq!(account_data(&ext, &alice).frozen, 900 * PHA);
    assert_eq!(system::account(&ext, &alice).consumers, 1);
    assert_eq!(
        super::transfer(&mut ext, &alice, &bob, 200 * PHA, false),
        Err(Error::LiquidityRestrictions.into())
    );
    super::transfer(&mut ext, &alice, &bob, 50 * PHA, false).unwrap();
    set_lock(&mut ext, *b"staking ", &alice, 100 * PHA).unwrap();
    assert_eq!(account_data(&ext, &alice).frozen, 100 * PHA);
    remove_lock(&mut ext, *b"staking ", &alice);
    assert_eq!(account_data(&ext, &alice).frozen, 0);
    assert_eq!(system::account(&ext, &alice).consumers, 0);

    reserve(&mut ext, &bob, 300 * PHA).unwrap();
    assert_eq!(account_data(&ext, &bob).reserved, 300 * PHA);
    assert_eq!(
        reserve(&mut ext, &bob, 2_000 * PHA),
        Err(Error::InsufficientBalance.into())
    );
    assert_eq!(unreserve(&mut ext, &bob, 400 * PHA), 100 * PHA);
    assert_eq!(account_data(&ext, &bob).reserved, 0);
    assert_eq!(
        set_lock(&mut ext, *b"x       ", &account("//Nobody"), 1),
        Err(Error::DeadAccount.into())
    );
}

#[test]
fn pool_checks() {
    use crate::api::validate_transaction;
    use crate::executive::decode_extrinsic;
    let mut chain = TestChain::new();
    chain.produce(vec![]);
    let alice = pair("//Alice");
    let validate = |chain: &TestChain, xt: &phala_primitives::OpaqueExtrinsic| {
        let decoded = decode_extrinsic(xt.as_bytes()).unwrap();
        validate_transaction(
            &chain.state,
            &chain.ctx,
            decoded,
            xt.as_bytes().len(),
            chain.head,
        )
        .unwrap()
    };
    let ok = chain.sign(&alice, transfer("//Bob", PHA, true), 0);
    let valid = validate(&chain, &ok).unwrap();
    assert!(valid.requires.is_empty());
    let future = chain.sign(&alice, transfer("//Bob", PHA, true), 3);
    assert_eq!(validate(&chain, &future).unwrap().requires.len(), 1);
    // A different genesis hash breaks the signature.
    let mut other = TestChain::new();
    other.ctx.genesis_hash = H256([1; 32]);
    other.produce(vec![]);
    let foreign = other.sign_with(&alice, transfer("//Bob", PHA, true), 0, Era::Immortal, 0);
    assert_eq!(
        validate(&chain, &foreign),
        Err(TransactionValidityError::Invalid(
            InvalidTransaction::BadProof
        ))
    );
    // A poor account cannot pay.
    let poor = chain.sign(&pair("//Nobody"), transfer("//Bob", PHA, true), 0);
    assert_eq!(
        validate(&chain, &poor),
        Err(TransactionValidityError::Invalid(
            InvalidTransaction::Payment
        ))
    );
    // Stale nonce after the first transaction lands.
    chain.produce(vec![ok.clone()]);
    assert_eq!(
        validate(&chain, &ok),
        Err(TransactionValidityError::Invalid(InvalidTransaction::Stale))
    );
    // Expired mortality is reported as an ancient birth block.
    let short = chain.sign_with(
        &alice,
        transfer("//Bob", PHA, true),
        1,
        Era::mortal(4, u64::from(chain.number)),
        0,
    );
    for _ in 0..5 {
        chain.produce(vec![]);
    }
    assert_eq!(
        validate(&chain, &short),
        Err(TransactionValidityError::Invalid(
            InvalidTransaction::AncientBirthBlock
        ))
    );
    // In a block, a future nonce is skipped, not applied.
    let future = chain.sign(&alice, transfer("//Bob", PHA, true), 7);
    let (_, outcomes) = chain.produce(vec![future]);
    assert_eq!(
        outcomes,
        vec![Err(Skipped::Invalid(TransactionValidityError::Invalid(
            InvalidTransaction::Future
        )))]
    );
}

#[test]
fn issuance_is_conserved_under_random_transfers() {
    use proptest::prelude::*;
    let names = ["//Alice", "//Bob", "//Charlie", "//Dave"];
    proptest!(ProptestConfig::with_cases(20), |(ops in proptest::collection::vec((0usize..3, 0usize..4, 0u128..1_200, any::<bool>()), 1..12))| {
        let mut chain = TestChain::new();
        let mut nonces = [0u32; 3];
        let txs: Vec<_> = ops.iter().map(|(from, to, amount, keep)| {
            let xt = chain.sign(&pair(names[*from]), transfer(names[*to], amount * PHA / 3, *keep), nonces[*from]);
            nonces[*from] += 1;
            xt
        }).collect();
        chain.produce(txs);
        chain.check_invariants();
    });
}

/// Σ free + reserved over every account these tests touch.
fn sum_of_balances(ext: &crate::Ext) -> Balance {
    ["//Alice", "//Bob", "//Charlie", "//Dave"]
        .iter()
        .map(|uri| account(uri))
        .chain([TREASURY_ACCOUNT])
        .map(|who| account_data(ext, &who).total().unwrap())
        .sum()
}

#[test]
fn the_existential_deposit_stays_free_while_anything_is_reserved() {
    let chain = TestChain::new();
    let (alice, bob) = (account("//Alice"), account("//Bob"));
    let mut ext = chain.ext();
    // Reserving may not take free below the existential deposit.
    assert_eq!(
        reserve(&mut ext, &alice, 1_000 * PHA - EXISTENTIAL_DEPOSIT + 1),
        Err(Error::Expendability.into())
    );
    reserve(&mut ext, &alice, 1_000 * PHA - EXISTENTIAL_DEPOSIT).unwrap();
    assert_eq!(
        (
            account_data(&ext, &alice).free,
            account_data(&ext, &alice).reserved
        ),
        (EXISTENTIAL_DEPOSIT, 1_000 * PHA - EXISTENTIAL_DEPOSIT)
    );
    // Reserves do not count towards it: nothing of the free balance may go, even allowing
    // death, and fees cannot be paid from it.
    assert_eq!(reducible_balance(&ext, &alice, false), 0);
    assert!(!can_withdraw(&ext, &alice, 1));
    assert_eq!(
        super::transfer(&mut ext, &alice, &bob, 1, false),
        Err(Error::Expendability.into())
    );
    assert_eq!(
        withdraw(&mut ext, &alice, 1),
        Err(Error::LiquidityRestrictions.into())
    );
    // Above it, free balance moves as usual, down to the existential deposit.
    unreserve(&mut ext, &alice, 10 * PHA);
    assert_eq!(reducible_balance(&ext, &alice, false), 10 * PHA);
    super::transfer(&mut ext, &alice, &bob, 10 * PHA, false).unwrap();
    assert_eq!(account_data(&ext, &alice).free, EXISTENTIAL_DEPOSIT);
    // So the whole reserve can be taken and the account lives on with its deposit.
    let reserved = account_data(&ext, &alice).reserved;
    take_reserved(&mut ext, &alice, reserved).unwrap();
    burn_withdrawn(&mut ext, reserved).unwrap();
    assert_eq!(
        (
            account_data(&ext, &alice).free,
            account_data(&ext, &alice).reserved
        ),
        (EXISTENTIAL_DEPOSIT, 0)
    );
    assert!(system::account_exists(&ext, &alice));
    // With nothing reserved, the account may be emptied and reaped again.
    assert_eq!(reducible_balance(&ext, &alice, false), EXISTENTIAL_DEPOSIT);
}

#[test]
fn reserves_move_exactly_or_not_at_all() {
    let chain = TestChain::new();
    let (alice, bob, dave) = (account("//Alice"), account("//Bob"), account("//Dave"));
    let mut ext = chain.ext();
    let issuance = total_issuance(&ext);
    reserve(&mut ext, &alice, 100 * PHA).unwrap();

    // Into another account's free balance.
    repatriate_reserved(&mut ext, &alice, &bob, 30 * PHA, BalanceStatus::Free).unwrap();
    assert_eq!(account_data(&ext, &alice).reserved, 70 * PHA);
    assert_eq!(account_data(&ext, &alice).free, 900 * PHA);
    assert_eq!(account_data(&ext, &bob).free, 1_030 * PHA);
    assert!(ext.events().iter().any(|e| matches!(
        e.event,
        RuntimeEvent::Balances(Event::ReserveRepatriated {
            amount,
            destination_status: BalanceStatus::Free,
            ..
        }) if amount == 30 * PHA
    )));
    // Into its reserve.
    repatriate_reserved(&mut ext, &alice, &bob, 20 * PHA, BalanceStatus::Reserved).unwrap();
    assert_eq!(account_data(&ext, &alice).reserved, 50 * PHA);
    assert_eq!(
        (
            account_data(&ext, &bob).free,
            account_data(&ext, &bob).reserved
        ),
        (1_030 * PHA, 20 * PHA)
    );
    // A new account is opened by a move into its free balance of at least the existential
    // deposit; its reserve needs the existential deposit free first.
    let before = account_data(&ext, &alice);
    let refused = [
        repatriate_reserved(
            &mut ext,
            &alice,
            &dave,
            EXISTENTIAL_DEPOSIT - 1,
            BalanceStatus::Free,
        ),
        repatriate_reserved(&mut ext, &alice, &dave, PHA, BalanceStatus::Reserved),
        // More than is reserved, and not the reserve's part that is there.
        repatriate_reserved(&mut ext, &alice, &bob, 51 * PHA, BalanceStatus::Free),
        take_reserved(&mut ext, &alice, 51 * PHA),
    ];
    assert_eq!(
        refused,
        [
            Err(Error::ExistentialDeposit.into()),
            Err(Error::DeadAccount.into()),
            Err(Error::InsufficientBalance.into()),
            Err(Error::InsufficientBalance.into()),
        ]
    );
    assert_eq!(account_data(&ext, &alice), before);
    assert!(!system::account_exists(&ext, &dave));
    repatriate_reserved(
        &mut ext,
        &alice,
        &dave,
        EXISTENTIAL_DEPOSIT,
        BalanceStatus::Free,
    )
    .unwrap();
    assert_eq!(account_data(&ext, &dave).free, EXISTENTIAL_DEPOSIT);
    repatriate_reserved(&mut ext, &alice, &dave, PHA, BalanceStatus::Reserved).unwrap();
    assert_eq!(account_data(&ext, &dave).reserved, PHA);

    // To itself: into free is an unreserve, into reserved changes nothing.
    repatriate_reserved(&mut ext, &alice, &alice, PHA, BalanceStatus::Reserved).unwrap();
    let reserved = account_data(&ext, &alice).reserved;
    repatriate_reserved(&mut ext, &alice, &alice, PHA, BalanceStatus::Free).unwrap();
    assert_eq!(account_data(&ext, &alice).reserved, reserved - PHA);
    assert_eq!(account_data(&ext, &alice).free, 901 * PHA);

    // Taking leaves the books: the caller deposits or burns what it took.
    take_reserved(&mut ext, &alice, 2 * PHA).unwrap();
    assert_eq!(account_data(&ext, &alice).reserved, reserved - 3 * PHA);
    deposit(&mut ext, &bob, 2 * PHA).unwrap();
    assert_eq!(total_issuance(&ext), issuance);
    assert_eq!(sum_of_balances(&ext), issuance);
}
