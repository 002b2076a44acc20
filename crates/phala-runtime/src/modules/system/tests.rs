use super::*;
use crate::RuntimeCall;
use crate::testing::{TestChain, pair};

#[test]
fn block_hashes_are_recorded_and_events_reset() {
    let mut chain = TestChain::new();
    chain.produce(vec![]);
    let ext = chain.ext();
    assert_eq!(block_number(&ext), 1);
    assert_eq!(block_hash(&ext, 0), Some(chain.hashes[0]));
    // Only the timestamp inherent's success event.
    assert_eq!(EVENTS.get_or_default(&ext).len(), 1);
}

#[test]
fn remark_with_event_emits_the_hash() {
    let mut chain = TestChain::new();
    let alice = pair("//Alice");
    let call = RuntimeCall::System(Call::remark_with_event {
        remark: b"hello".to_vec(),
    });
    let xt = chain.sign(&alice, call, 0);
    let (_, outcomes) = chain.produce(vec![xt]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let events = chain.events_of(1);
    assert!(events.contains(&RuntimeEvent::System(Event::Remarked {
        sender: alice.account_id(),
        hash: phala_primitives::hashing::hash256(b"hello"),
    })));
}

mod upgrades {
    use super::super::*;
    use crate::block::{BlockBuilder, BlockError};
    use crate::dispatch::{DispatchError, Origin};
    use crate::testing::TestChain;

    fn schedule(spec_version: u32, at_block: BlockNumber) -> Call {
        Call::schedule_upgrade {
            spec_version,
            at_block,
        }
    }

    #[test]
    fn only_root_schedules_a_newer_version_in_the_future() {
        let mut chain = TestChain::new();
        let next = crate::version::SPEC_VERSION + 1;
        let signed = Origin::Signed(crate::testing::account("//Alice"));
        assert_eq!(
            chain.mutate(|ext| schedule(next, 20).dispatch(ext, signed)),
            Err(DispatchError::BadOrigin)
        );
        assert_eq!(
            chain.mutate(|ext| {
                schedule(crate::version::SPEC_VERSION, 20).dispatch(ext, Origin::Root)
            }),
            Err(Error::SpecVersionNeedsToIncrease.into())
        );
        for too_soon in [0, MIN_UPGRADE_LEAD - 1] {
            assert_eq!(
                chain.mutate(|ext| schedule(next, too_soon).dispatch(ext, Origin::Root)),
                Err(Error::UpgradeInThePast.into())
            );
        }
        chain
            .mutate(|ext| schedule(next, 20).dispatch(ext, Origin::Root))
            .unwrap();
        assert_eq!(SCHEDULED_UPGRADE.get(&chain.ext()), Some((next, 20)));
        // Anyone may send it (to fail): it must not take operational room.
        assert_eq!(
            schedule(next, 20).info().class,
            crate::dispatch::DispatchClass::Normal
        );
        chain
            .mutate(|ext| Call::cancel_upgrade.dispatch(ext, Origin::Root))
            .unwrap();
        assert_eq!(
            chain.mutate(|ext| Call::cancel_upgrade.dispatch(ext, Origin::Root)),
            Err(Error::NothingScheduled.into())
        );
    }

    #[test]
    fn a_runtime_without_the_scheduled_version_refuses_the_switch_block() {
        let mut chain = TestChain::new();
        let next = crate::version::NEWEST_SPEC_VERSION + 1;
        chain
            .mutate(|ext| schedule(next, 12).dispatch(ext, Origin::Root))
            .unwrap();
        let upgrade =
            unsupported_upgrade(&chain.ext(), crate::version::NEWEST_SPEC_VERSION).unwrap();
        assert_eq!((upgrade.spec_version, upgrade.at_block), (next, 12));
        while chain.number < 11 {
            chain.produce(vec![]);
        }
        // The version the next block runs with stays the old one: this build lacks it.
        assert_eq!(
            next_block_spec_version(&chain.ext()),
            crate::version::SPEC_VERSION
        );
        let refused = BlockBuilder::new(&chain.state, chain.ctx, chain.head, 12, chain.now + 1_000);
        match refused {
            Err(BlockError::Fatal(reason)) => {
                assert!(
                    reason.contains(&format!("runtime spec version {next} at block #12")),
                    "{reason}"
                );
                assert!(reason.contains("install a phala release"), "{reason}");
            }
            other => panic!("block #12 was not refused: {:?}", other.map(|_| ())),
        }
        assert_eq!(
            active_spec_version(&chain.ext()),
            crate::version::SPEC_VERSION
        );
    }

    #[test]
    fn an_older_build_refuses_a_chain_already_upgraded() {
        let mut chain = TestChain::new();
        // As if a newer runtime took effect at block 1.
        chain.mutate(|ext| {
            LAST_RUNTIME_UPGRADE.put(
                ext,
                &LastRuntimeUpgradeInfo {
                    spec_version: (crate::version::NEWEST_SPEC_VERSION + 1).into(),
                    spec_name: crate::version::SPEC_NAME.into(),
                },
            );
            LAST_UPGRADE_AT.put(ext, &1);
        });
        let upgrade =
            unsupported_upgrade(&chain.ext(), crate::version::NEWEST_SPEC_VERSION).unwrap();
        assert_eq!(upgrade.at_block, 1);
        assert!(matches!(
            BlockBuilder::new(&chain.state, chain.ctx, chain.head, 1, chain.now + 1_000),
            Err(BlockError::Fatal(_))
        ));
    }
}
