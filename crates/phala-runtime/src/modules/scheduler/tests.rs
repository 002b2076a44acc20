use phala_primitives::PHA;

use super::*;
use crate::modules::computation::DOUBLE_SIGN_SLASH;
use crate::modules::{preimage, sudo, system};
use crate::origin::{GovOrigin, Origin};
use crate::testing::{TestChain, account, pair};
use crate::{GenesisConfig, RuntimeCall, RuntimeEvent};

fn sudo_chain() -> TestChain {
    TestChain::with_genesis(GenesisConfig {
        endowed: vec![
            (account("//Alice"), 1_000 * PHA),
            (account("//Bob"), 1_000 * PHA),
            (crate::modules::TREASURY_ACCOUNT, PHA),
        ],
        sudo_key: Some(account("//Alice")),
        ..Default::default()
    })
}

fn as_root(call: RuntimeCall) -> RuntimeCall {
    RuntimeCall::Sudo(sudo::Call::sudo {
        call: Box::new(call),
    })
}

fn set_slash(perbill: u32) -> RuntimeCall {
    RuntimeCall::Computation(crate::modules::computation::Call::set_double_sign_slash { perbill })
}

fn slash(chain: &TestChain) -> Option<u32> {
    DOUBLE_SIGN_SLASH.get(&chain.ext())
}

fn scheduler_events(chain: &TestChain) -> Vec<Event> {
    chain
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Scheduler(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn root_schedules_a_call_that_runs_as_root_at_its_block() {
    let mut chain = sudo_chain();
    let alice = pair("//Alice");
    let schedule = RuntimeCall::Scheduler(Call::schedule_after {
        after: 2,
        maybe_periodic: None,
        priority: 0,
        call: Box::new(set_slash(42)),
    });
    // Signed accounts may not schedule.
    chain.produce(vec![
        chain.sign(&pair("//Bob"), schedule.clone(), 0),
        chain.sign(&alice, as_root(schedule), 0),
    ]);
    assert_eq!(
        chain.failure(1),
        Some(crate::dispatch::DispatchError::BadOrigin)
    );
    // After(2) at block 1: runs at block 4.
    assert_eq!(AGENDA.get_or_default(&chain.ext(), &4).len(), 1);
    chain.produce(vec![]);
    chain.produce(vec![]);
    assert_ne!(slash(&chain), Some(42));
    chain.produce(vec![]);
    assert_eq!(slash(&chain), Some(42));
    assert!(scheduler_events(&chain).contains(&Event::Dispatched {
        task: (4, 0),
        id: None,
        result: Ok(())
    }));
    assert!(
        !AGENDA.contains(&chain.ext(), &4),
        "a finished agenda is removed"
    );
}

#[test]
fn a_failing_call_is_reported_and_an_origin_is_kept() {
    let mut chain = sudo_chain();
    // A governance origin may not make a root call: the task runs and fails.
    let bounded = Bounded::inline(&set_slash(7)).unwrap();
    chain.mutate(|ext| {
        schedule(
            ext,
            Some([1; 32]),
            DispatchTime::At(2),
            None,
            0,
            Origin::Gov(GovOrigin::Treasurer).caller(),
            bounded,
        )
        .unwrap()
    });
    assert_eq!(lookup(&chain.ext(), &[1; 32]), Some((2, 0)));
    chain.produce(vec![]);
    chain.produce(vec![]);
    assert!(scheduler_events(&chain).contains(&Event::Dispatched {
        task: (2, 0),
        id: Some([1; 32]),
        result: Err(crate::dispatch::DispatchError::BadOrigin)
    }));
    assert_eq!(lookup(&chain.ext(), &[1; 32]), None);
}

#[test]
fn names_are_unique_and_cancel_frees_them() {
    let mut chain = sudo_chain();
    let root = Origin::Root.caller();
    let call = Bounded::inline(&set_slash(1)).unwrap();
    chain.mutate(|ext| {
        schedule(
            ext,
            Some([2; 32]),
            DispatchTime::At(5),
            None,
            0,
            root,
            call.clone(),
        )
        .unwrap();
        assert_eq!(
            schedule(
                ext,
                Some([2; 32]),
                DispatchTime::At(6),
                None,
                0,
                root,
                call.clone()
            ),
            Err(Error::FailedToSchedule.into())
        );
        // Someone else's origin cannot cancel root's task.
        assert_eq!(
            cancel_named(
                ext,
                Some(Origin::Gov(GovOrigin::Treasurer).caller()),
                [2; 32]
            ),
            Err(crate::dispatch::DispatchError::BadOrigin)
        );
        cancel_named(ext, Some(root), [2; 32]).unwrap();
        assert_eq!(
            cancel_named(ext, Some(root), [2; 32]),
            Err(Error::NotFound.into())
        );
        schedule(
            ext,
            Some([2; 32]),
            DispatchTime::At(6),
            None,
            0,
            root,
            call.clone(),
        )
        .unwrap();
        assert_eq!(
            schedule(ext, None, DispatchTime::At(0), None, 0, root, call.clone()),
            Err(Error::TargetBlockNumberInPast.into())
        );
    });
    assert!(!AGENDA.contains(&chain.ext(), &5));
}

#[test]
fn a_missing_preimage_makes_the_task_unavailable() {
    let mut chain = sudo_chain();
    let long = RuntimeCall::System(system::Call::remark {
        remark: vec![1; 500],
    });
    let bounded = chain.mutate(|ext| preimage::bound(ext, &long).unwrap().0);
    let Some((hash, _)) = bounded.lookup() else {
        panic!("not a lookup")
    };
    chain.mutate(|ext| {
        schedule(
            ext,
            None,
            DispatchTime::At(2),
            None,
            0,
            Origin::Root.caller(),
            bounded.clone(),
        )
        .unwrap();
        // bound's own request goes: the task's keeps the bytes.
        preimage::drop_bounded(ext, &bounded);
    });
    assert!(preimage::len(&chain.ext(), &hash).is_some());
    // A second task naming a preimage that is never noted.
    let ghost = Bounded::Lookup {
        hash: phala_primitives::H256([9; 32]),
        len: 10,
    };
    chain.mutate(|ext| {
        schedule(
            ext,
            None,
            DispatchTime::At(2),
            None,
            0,
            Origin::Root.caller(),
            ghost,
        )
        .unwrap()
    });
    chain.produce(vec![]);
    chain.produce(vec![]);
    let events = scheduler_events(&chain);
    assert!(events.contains(&Event::Dispatched {
        task: (2, 0),
        id: None,
        result: Ok(())
    }));
    assert!(events.contains(&Event::CallUnavailable {
        task: (2, 1),
        id: None
    }));
    // The run dropped the request: the bytes are gone, and so is the agenda.
    assert_eq!(preimage::len(&chain.ext(), &hash), None);
    assert!(!AGENDA.contains(&chain.ext(), &2));
}

#[test]
fn periodic_tasks_repeat_and_retries_run_failed_ones_again() {
    let mut chain = sudo_chain();
    let root = Origin::Root.caller();
    let remark = Bounded::inline(&RuntimeCall::System(system::Call::remark_with_event {
        remark: vec![1],
    }))
    .unwrap();
    let failing = Bounded::inline(&set_slash(2_000_000_000)).unwrap();
    chain.mutate(|ext| {
        // Three runs, two blocks apart: at 2, 4 and 6.
        schedule(
            ext,
            None,
            DispatchTime::At(2),
            Some((2, 3)),
            0,
            root,
            remark.clone(),
        )
        .unwrap();
        let failed = schedule(
            ext,
            None,
            DispatchTime::At(2),
            None,
            1,
            root,
            failing.clone(),
        )
        .unwrap();
        RETRIES.insert(
            ext,
            &failed,
            &RetryConfig {
                total_retries: 1,
                remaining: 1,
                period: 1,
            },
        );
    });
    let mut dispatched = Vec::new();
    let mut retry_failed = 0;
    for _ in 0..8 {
        chain.produce(vec![]);
        for e in scheduler_events(&chain) {
            match e {
                Event::Dispatched { task, .. } => dispatched.push(task.0),
                Event::RetryFailed { .. } => retry_failed += 1,
                _ => {}
            }
        }
    }
    // The remark at 2, 4, 6; the failing call at 2 and its one retry at 3.
    assert_eq!(dispatched, vec![2, 2, 3, 4, 6]);
    assert_eq!(retry_failed, 1);
}

#[test]
fn a_full_agenda_refuses_more_and_tasks_run_in_priority_order() {
    let mut chain = sudo_chain();
    let root = Origin::Root.caller();
    chain.mutate(|ext| {
        for i in 0..MAX_SCHEDULED_PER_BLOCK {
            let call = Bounded::inline(&set_slash(i)).unwrap();
            // Priorities descend, so the last placed runs first.
            let priority = u8::try_from(MAX_SCHEDULED_PER_BLOCK - i).unwrap();
            schedule(ext, None, DispatchTime::At(2), None, priority, root, call).unwrap();
        }
        let one_more = Bounded::inline(&set_slash(0)).unwrap();
        assert_eq!(
            schedule(ext, None, DispatchTime::At(2), None, 0, root, one_more),
            Err(Error::FailedToSchedule.into())
        );
    });
    chain.produce(vec![]);
    chain.produce(vec![]);
    // The lowest number runs first, so priority 50 (setting 0) ran last.
    assert_eq!(slash(&chain), Some(0));
}

#[test]
fn an_overweight_task_waits_without_blocking_others() {
    let mut chain = sudo_chain();
    chain.mutate(|ext| {
        let mut agenda = Agenda::default();
        // A task heavier than the scheduler's whole share: sudo_unchecked_weight declares
        // any weight.
        let heavy = RuntimeCall::Sudo(sudo::Call::sudo_unchecked_weight {
            call: Box::new(set_slash(3)),
            weight: MAXIMUM_WEIGHT,
        });
        let heavy = preimage::bound(ext, &heavy).unwrap().0;
        agenda
            .try_push(Some(Scheduled {
                maybe_id: None,
                priority: 0,
                call: heavy,
                maybe_periodic: None,
                origin: Origin::Root.caller(),
            }))
            .unwrap();
        agenda
            .try_push(Some(Scheduled {
                maybe_id: None,
                priority: 1,
                call: Bounded::inline(&set_slash(4)).unwrap(),
                maybe_periodic: None,
                origin: Origin::Root.caller(),
            }))
            .unwrap();
        AGENDA.insert(ext, &2, &agenda);
    });
    chain.produce(vec![]);
    chain.produce(vec![]);
    assert!(
        scheduler_events(&chain).contains(&Event::PermanentlyOverweight {
            task: (2, 0),
            id: None
        })
    );
    assert_eq!(slash(&chain), Some(4));
    // It stays until cancelled.
    assert_eq!(
        AGENDA
            .get_or_default(&chain.ext(), &2)
            .iter()
            .flatten()
            .count(),
        1
    );
    chain.mutate(|ext| cancel(ext, None, (2, 0)).unwrap());
    assert!(!AGENDA.contains(&chain.ext(), &2));
}

#[test]
fn what_must_run_spills_past_a_full_agenda() {
    let mut chain = sudo_chain();
    let root = Origin::Root.caller();
    chain.mutate(|ext| {
        for i in 0..MAX_SCHEDULED_PER_BLOCK {
            let call = Bounded::inline(&set_slash(i)).unwrap();
            schedule(ext, None, DispatchTime::At(5), None, 0, root, call).unwrap();
        }
        let late = Bounded::inline(&set_slash(77)).unwrap();
        assert_eq!(
            schedule_soonest(ext, Some([7; 32]), 5, 63, root, late.clone()),
            Ok((6, 0))
        );
        // A taken name is refused at once, not retried.
        assert_eq!(
            schedule_soonest(ext, Some([7; 32]), 5, 63, root, late),
            Err(Error::FailedToSchedule.into())
        );
    });
    while chain.number < 6 {
        chain.produce(vec![]);
    }
    assert_eq!(slash(&chain), Some(77));
}

#[test]
fn a_task_that_cancels_another_in_its_agenda_stops_it() {
    let mut chain = sudo_chain();
    let root = Origin::Root.caller();
    chain.mutate(|ext| {
        // Slot 0 (runs first) cancels slot 1 of the same agenda.
        let cancel = RuntimeCall::Scheduler(Call::cancel { when: 2, index: 1 });
        schedule(
            ext,
            None,
            DispatchTime::At(2),
            None,
            0,
            root,
            Bounded::inline(&cancel).unwrap(),
        )
        .unwrap();
        schedule(
            ext,
            None,
            DispatchTime::At(2),
            None,
            1,
            root,
            Bounded::inline(&set_slash(5)).unwrap(),
        )
        .unwrap();
    });
    let before = slash(&chain);
    chain.produce(vec![]);
    chain.produce(vec![]);
    assert_eq!(slash(&chain), before, "the cancelled task ran");
    assert!(!AGENDA.contains(&chain.ext(), &2));
}

#[test]
fn tasks_naming_one_preimage_each_keep_it() {
    let mut chain = sudo_chain();
    let long = RuntimeCall::System(system::Call::remark {
        remark: vec![3; 300],
    });
    let schedule_it = RuntimeCall::Scheduler(Call::schedule {
        when: 3,
        maybe_periodic: None,
        priority: 0,
        call: Box::new(long),
    });
    chain.mutate(|ext| {
        schedule_it.clone().dispatch(ext, Origin::Root).unwrap();
        schedule_it.clone().dispatch(ext, Origin::Root).unwrap();
    });
    for _ in 0..3 {
        chain.produce(vec![]);
    }
    let ok = scheduler_events(&chain)
        .into_iter()
        .filter(|e| matches!(e, Event::Dispatched { result: Ok(()), .. }))
        .count();
    assert_eq!(ok, 2, "{:?}", scheduler_events(&chain));
}
