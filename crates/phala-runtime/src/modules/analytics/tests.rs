use parity_scale_codec::{Decode, Encode};
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_primitives::{Balance, OpaqueExtrinsic, PHA};
use proptest::prelude::*;

use super::*;
use crate::dispatch::{DispatchError, Origin};
use crate::executive::validate_unsigned;
use crate::genesis::GenesisConfig;
use crate::modules::contracts::{CLUSTERS, ClusterInfo};
use crate::modules::{balances, message_queue};
use crate::testing::{TestChain, account, pair};
use crate::{RuntimeCall, RuntimeEvent, UncheckedExtrinsic};

const CLUSTER: H256 = H256([0xc1; 32]);

/// Stands for the cluster's key, which signs consent receipts in its workers.
fn cluster_key() -> Sr25519Pair {
    Sr25519Pair::from_uri("//Cluster").unwrap()
}

fn chain() -> TestChain {
    let mut chain = TestChain::with_genesis(GenesisConfig {
        endowed: ["//Alice", "//Bob", "//Charlie"]
            .iter()
            .map(|u| (account(u), 1_000 * PHA))
            // Fees go to the treasury (to nowhere, burnt, if it does not exist).
            .chain([(crate::modules::TREASURY_ACCOUNT, PHA)])
            .collect(),
        ..Default::default()
    });
    chain.mutate(|ext| {
        CLUSTERS.insert(
            ext,
            &CLUSTER,
            &ClusterInfo {
                workers: vec![[1; 32]],
                master_version: 0,
                pubkey: Some(cluster_key().public()),
                ecdh_pubkey: Some([3; 32]),
                created_at: 0,
            },
        )
    });
    chain.produce(vec![]);
    chain
}

fn config() -> SiteConfig {
    SiteConfig {
        retention_days: 30,
        purposes: purpose::ALL,
        min_cohort: 5,
        dp: None,
    }
}

fn register(domain: &str, config: SiteConfig, prepay: Balance) -> Call {
    Call::register_site {
        domain: domain.as_bytes().to_vec(),
        cluster: CLUSTER,
        config,
        prepay,
    }
}

/// Runs `call` signed by `who` in its own block; the error it failed with, if any.
fn run(chain: &mut TestChain, who: &str, call: Call) -> Result<(), DispatchError> {
    let signer = pair(who);
    let nonce = chain.nonce(&signer.account_id());
    let xt = chain.sign(&signer, RuntimeCall::Analytics(call), nonce);
    let (_, outcomes) = chain.produce(vec![xt]);
    assert!(matches!(outcomes.as_slice(), [Ok(_)]), "{outcomes:?}");
    chain.failure(1).map_or(Ok(()), Err)
}

fn commands(chain: &TestChain) -> Vec<AnalyticsCommand> {
    message_queue::OUTBOUND_MESSAGES
        .get_or_default(&chain.ext())
        .into_iter()
        .filter(|m| m.destination == phala_mq::analytics::ANALYTICS_COMMAND)
        .map(|m| AnalyticsMessage::decode(&mut m.payload.as_slice()).unwrap())
        .inspect(|m| assert_eq!(m.cluster, CLUSTER))
        .map(|m| m.command)
        .collect()
}

/// The cluster's receipt for `visitor`'s consent to `site`.
fn receipt(chain: &TestChain, site: u64, visitor: &VisitorKey) -> [u8; 64] {
    cluster_key().sign(&receipt_payload(&chain.hashes[0], site, visitor))
}

/// A withdrawal with the cluster's receipt, as a visitor's browser sends it for free.
fn withdrawal(chain: &TestChain, site: u64, key: &Ed25519Pair, signed_at: u32) -> Call {
    let visitor = VisitorKey::Ed25519(key.public());
    let payload = withdrawal_payload(&chain.hashes[0], site, &visitor, signed_at);
    Call::withdraw_consent {
        site,
        visitor,
        signed_at,
        signature: key.sign(&payload),
        receipt: Some(receipt(chain, site, &visitor)),
    }
}

fn without_receipt(call: Call) -> Call {
    match call {
        Call::withdraw_consent {
            site,
            visitor,
            signed_at,
            signature,
            ..
        } => Call::withdraw_consent {
            site,
            visitor,
            signed_at,
            signature,
            receipt: None,
        },
        other => other,
    }
}

fn unsigned(call: Call) -> OpaqueExtrinsic {
    let xt = UncheckedExtrinsic::bare(RuntimeCall::Analytics(call));
    OpaqueExtrinsic::from_bytes(xt.encode()).unwrap()
}

#[test]
fn a_site_is_registered_with_a_checked_configuration_and_its_prepayment() {
    let mut chain = chain();
    let bad = |domain: &str, config: SiteConfig, prepay| (domain.to_string(), config, prepay);
    for (case, want) in [
        (bad("", config(), PHA), Error::BadDomain),
        (bad("Shop.example", config(), PHA), Error::BadDomain),
        (bad("shop..example", config(), PHA), Error::BadDomain),
        (bad(&"a".repeat(254), config(), PHA), Error::BadDomain),
        (
            bad(
                "shop.example",
                SiteConfig {
                    retention_days: 0,
                    ..config()
                },
                PHA,
            ),
            Error::BadRetention,
        ),
        (
            bad(
                "shop.example",
                SiteConfig {
                    purposes: 0,
                    ..config()
                },
                PHA,
            ),
            Error::BadPurposes,
        ),
        (
            bad(
                "shop.example",
                SiteConfig {
                    purposes: 1 << 6,
                    ..config()
                },
                PHA,
            ),
            Error::BadPurposes,
        ),
        (
            bad(
                "shop.example",
                SiteConfig {
                    min_cohort: 1,
                    ..config()
                },
                PHA,
            ),
            Error::BadCohort,
        ),
        (
            bad(
                "shop.example",
                SiteConfig {
                    dp: Some(DpConfig {
                        epsilon_milli: 500,
                        daily_budget_milli: 100,
                    }),
                    ..config()
                },
                PHA,
            ),
            Error::BadPrivacy,
        ),
        (bad("shop.example", config(), PHA - 1), Error::PrepayTooLow),
    ] {
        let (domain, config, prepay) = case;
        assert_eq!(
            run(&mut chain, "//Alice", register(&domain, config, prepay)),
            Err(want.into()),
            "{domain}"
        );
    }
    let unknown = Call::register_site {
        domain: b"shop.example".to_vec(),
        cluster: H256([9; 32]),
        config: config(),
        prepay: PHA,
    };
    assert_eq!(
        run(&mut chain, "//Alice", unknown),
        Err(Error::UnknownCluster.into())
    );

    let alice = account("//Alice");
    let before = balances::free_balance(&chain.ext(), &alice);
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), 10 * PHA),
    )
    .unwrap();
    let info = SITES.get(&chain.ext(), &0).unwrap();
    assert_eq!((info.owner, info.cluster), (alice, CLUSTER));
    assert_eq!(
        balances::free_balance(&chain.ext(), &site_account(0)),
        10 * PHA
    );
    assert!(balances::free_balance(&chain.ext(), &alice) <= before - 10 * PHA);
    // The cluster hears of it.
    assert!(matches!(
        commands(&chain).as_slice(),
        [AnalyticsCommand::SiteConfigured { site: 0, config: c, .. }] if *c == config()
    ));
}

#[test]
fn only_the_owner_changes_or_closes_a_site_and_closing_refunds_it() {
    let mut chain = chain();
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), 10 * PHA),
    )
    .unwrap();
    let narrower = SiteConfig {
        purposes: purpose::TRAFFIC | purpose::PAGES,
        ..config()
    };
    assert_eq!(
        run(
            &mut chain,
            "//Bob",
            Call::update_site {
                site: 0,
                config: narrower
            }
        ),
        Err(Error::NotOwner.into())
    );
    run(
        &mut chain,
        "//Alice",
        Call::update_site {
            site: 0,
            config: narrower,
        },
    )
    .unwrap();
    assert_eq!(SITES.get(&chain.ext(), &0).unwrap().config, narrower);
    // Anyone may top up.
    run(
        &mut chain,
        "//Bob",
        Call::top_up {
            site: 0,
            amount: 5 * PHA,
        },
    )
    .unwrap();
    assert_eq!(
        balances::free_balance(&chain.ext(), &site_account(0)),
        15 * PHA
    );
    assert_eq!(
        run(&mut chain, "//Bob", Call::close_site { site: 0 }),
        Err(Error::NotOwner.into())
    );
    let alice = account("//Alice");
    let before = balances::free_balance(&chain.ext(), &alice);
    let issuance = balances::total_issuance(&chain.ext());
    run(&mut chain, "//Alice", Call::close_site { site: 0 }).unwrap();
    assert!(SITES.get(&chain.ext(), &0).is_none());
    assert_eq!(balances::free_balance(&chain.ext(), &site_account(0)), 0);
    // The whole prepayment back, less this call's fee (which went to the treasury).
    let after = balances::free_balance(&chain.ext(), &alice);
    assert!(after > before + 14 * PHA && after <= before + 15 * PHA);
    assert_eq!(balances::total_issuance(&chain.ext()), issuance);
    chain.check_invariants();
    assert!(commands(&chain).contains(&AnalyticsCommand::SiteClosed { site: 0 }));
    assert_eq!(
        run(&mut chain, "//Alice", Call::close_site { site: 0 }),
        Err(Error::UnknownSite.into())
    );
}

#[test]
fn the_owner_authorizes_analysts_per_purpose() {
    let mut chain = chain();
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), PHA),
    )
    .unwrap();
    let set = |analyst: &str, purposes| Call::set_analyst {
        site: 0,
        analyst: account(analyst),
        purposes,
    };
    assert_eq!(
        run(&mut chain, "//Bob", set("//Bob", purpose::PAGES)),
        Err(Error::NotOwner.into())
    );
    assert_eq!(
        run(&mut chain, "//Alice", set("//Alice", purpose::PAGES)),
        Err(Error::OwnerIsAnalyst.into())
    );
    assert_eq!(
        run(&mut chain, "//Alice", set("//Bob", 1 << 9)),
        Err(Error::BadPurposes.into())
    );
    run(&mut chain, "//Alice", set("//Bob", purpose::PAGES)).unwrap();
    assert_eq!(
        ANALYSTS.get(&chain.ext(), &0, &account("//Bob")),
        Some(purpose::PAGES)
    );
    assert!(commands(&chain).contains(&AnalyticsCommand::AnalystSet {
        site: 0,
        analyst: account("//Bob"),
        purposes: purpose::PAGES
    }));
    run(&mut chain, "//Alice", set("//Bob", 0)).unwrap();
    assert_eq!(ANALYSTS.get(&chain.ext(), &0, &account("//Bob")), None);
}

#[test]
fn anyone_carries_a_visitors_signed_withdrawal_free_and_it_cannot_be_forged_or_replayed() {
    let mut chain = chain();
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), PHA),
    )
    .unwrap();
    let key = Ed25519Pair::from_uri("//Visitor").unwrap();
    let now = chain.number;
    let call = withdrawal(&chain, 0, &key, now);

    // A forged signature, another site, a statement from the future, no receipt, a receipt
    // for someone else: refused by the pool.
    let mut forged = call.clone();
    if let Call::withdraw_consent { signature, .. } = &mut forged {
        signature[0] ^= 1;
    }
    let mut borrowed = call.clone();
    if let Call::withdraw_consent { receipt: r, .. } = &mut borrowed {
        *r = Some(receipt(&chain, 0, &VisitorKey::Ed25519([9; 32])));
    }
    for bad in [
        forged,
        withdrawal(&chain, 1, &key, now),
        withdrawal(&chain, 0, &key, now + 5),
        without_receipt(call.clone()),
        borrowed,
    ] {
        assert!(validate_unsigned(&chain.ext(), &RuntimeCall::Analytics(bad)).is_err());
    }
    assert!(validate_unsigned(&chain.ext(), &RuntimeCall::Analytics(call.clone())).is_ok());

    // Unsigned, in a block: no fee, and the cluster is told.
    let (_, outcomes) = chain.produce(vec![unsigned(call.clone())]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let visitor = VisitorKey::Ed25519(key.public());
    assert!(
        commands(&chain).contains(&AnalyticsCommand::ConsentWithdrawn {
            site: 0,
            visitor,
            signed_at: now,
            at: chain.number
        })
    );
    assert!(chain.events().iter().any(|e| matches!(
        e.event,
        RuntimeEvent::Analytics(Event::ConsentWithdrawn { site: 0, .. })
    )));
    // Replayed: stale. A new statement too soon after: refused until the interval passed.
    assert!(validate_unsigned(&chain.ext(), &RuntimeCall::Analytics(call)).is_err());
    let again = withdrawal(&chain, 0, &key, chain.number);
    assert_eq!(
        chain.mutate(|ext| again.clone().dispatch(ext, Origin::None)),
        Err(Error::TooSoon.into())
    );
    // A statement backdated to look old does not shorten the interval: it counts from the
    // block the last withdrawal went on chain at.
    let included = chain.number;
    chain.produce(vec![]);
    let backdated = withdrawal(&chain, 0, &key, now + 1);
    assert_eq!(
        chain.mutate(|ext| backdated.dispatch(ext, Origin::None)),
        Err(Error::TooSoon.into())
    );
    while chain.number < included + WITHDRAWAL_INTERVAL {
        chain.produce(vec![]);
    }
    // Signed by anyone, paying the fee, it needs no receipt (and skips the free quota).
    run(&mut chain, "//Bob", without_receipt(again)).unwrap();
}

#[test]
fn an_sr25519_account_can_withdraw_too() {
    let mut chain = chain();
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), PHA),
    )
    .unwrap();
    let key = Sr25519Pair::from_uri("//Dave").unwrap();
    let visitor = VisitorKey::Sr25519(key.public());
    let signed_at = chain.number;
    let payload = withdrawal_payload(&chain.hashes[0], 0, &visitor, signed_at);
    let call = Call::withdraw_consent {
        site: 0,
        visitor,
        signed_at,
        signature: key.sign(&payload),
        receipt: Some(receipt(&chain, 0, &visitor)),
    };
    let (_, outcomes) = chain.produce(vec![unsigned(call)]);
    assert_eq!(outcomes, vec![Ok(true)]);
}

#[test]
fn free_withdrawals_are_limited_per_block() {
    let mut chain = chain();
    run(
        &mut chain,
        "//Alice",
        register("shop.example", config(), PHA),
    )
    .unwrap();
    let now = chain.number;
    let xts: Vec<_> = (0..MAX_FREE_WITHDRAWALS + 2)
        .map(|i| {
            let key = Ed25519Pair::from_uri(&format!("//Visitor{i}")).unwrap();
            unsigned(withdrawal(&chain, 0, &key, now))
        })
        .collect();
    let (_, outcomes) = chain.produce(xts);
    let taken = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
    assert_eq!(taken, MAX_FREE_WITHDRAWALS as usize);
    assert!(outcomes.iter().skip(taken).all(|o| o.is_err()));
    // The next block has room again.
    let key = Ed25519Pair::from_uri("//Late").unwrap();
    let (_, outcomes) = chain.produce(vec![unsigned(withdrawal(&chain, 0, &key, now))]);
    assert_eq!(outcomes, vec![Ok(true)]);
}

proptest! {
    /// Registering, topping up and closing sites moves PHA between accounts (fees to the
    /// treasury) and never creates or destroys any.
    #[test]
    fn sites_never_create_or_destroy_pha(ops in proptest::collection::vec((0u8..3, 0u64..3, 1u128..20), 1..12)) {
        let mut chain = chain();
        let issuance = balances::total_issuance(&chain.ext());
        for (op, site, amount) in ops {
            let call = match op {
                0 => register("shop.example", config(), amount * PHA),
                1 => Call::top_up { site, amount: amount * PHA },
                _ => Call::close_site { site },
            };
            let _ = run(&mut chain, "//Alice", call);
        }
        prop_assert_eq!(balances::total_issuance(&chain.ext()), issuance);
        chain.check_invariants();
    }
}
