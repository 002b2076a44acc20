use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::*;

fn limits() -> Limits {
    Limits {
        per_flow: 100,
        total: 1_000,
        flows: 10,
        running_per_flow: 10,
        running_per_group: 10,
    }
}

/// Runs every job the queue hands out at `cost` each, one at a time; returns their order.
fn serve_all(
    queue: &mut FairQueue<&'static str, &'static str, u32>,
    cost: impl Fn(&str) -> u64,
) -> Vec<u32> {
    let mut order = Vec::new();
    while let Some((ticket, job)) = queue.pop() {
        order.push(job);
        let c = cost(ticket.flow);
        queue.done(ticket, c);
    }
    order
}

#[test]
fn a_flow_with_many_queued_alternates_with_a_newcomer() {
    let mut queue = FairQueue::new(limits());
    for n in 0..50 {
        queue.push("flooder", "flooder", 1, n).unwrap();
    }
    // The flooder has been served for a while when the other caller arrives.
    let mut order = Vec::new();
    for _ in 0..10 {
        let (ticket, job) = queue.pop().unwrap();
        order.push(job);
        queue.done(ticket, 1_000);
    }
    for n in 1000..1005 {
        queue.push("other", "other", 1, n).unwrap();
    }
    order.extend(serve_all(&mut queue, |_| 1_000));
    let others: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, job)| **job >= 1000)
        .map(|(i, _)| i)
        .collect();
    // The newcomer is served at once, then every other job, never behind the backlog.
    assert_eq!(others, vec![10, 12, 14, 16, 18], "{order:?}");
    assert_eq!(order.len(), 55);
    // Each flow's own jobs keep their order.
    let flooder: Vec<u32> = order.iter().copied().filter(|j| *j < 1000).collect();
    assert_eq!(flooder, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_flow_pays_what_its_jobs_cost() {
    let mut queue = FairQueue::new(limits());
    for n in 0..30 {
        queue.push("expensive", "expensive", 1, n).unwrap();
        queue.push("cheap", "cheap", 1, 100 + n).unwrap();
    }
    // Expensive jobs cost ten times as much: once the estimates are corrected, the cheap
    // flow is served about ten jobs for each expensive one.
    let order = serve_all(
        &mut queue,
        |flow| {
            if flow == "expensive" { 10_000 } else { 1_000 }
        },
    );
    let first_30 = &order[..30];
    let expensive = first_30.iter().filter(|j| **j < 100).count();
    assert!(
        (2..=6).contains(&expensive),
        "{expensive} expensive jobs among the first 30: {order:?}"
    );
}

#[test]
fn weights_set_shares() {
    let mut queue = FairQueue::new(limits());
    for n in 0..40 {
        queue.push("signed", "signed", 2, n).unwrap();
        queue.push("anonymous", "anonymous", 1, 100 + n).unwrap();
    }
    let order = serve_all(&mut queue, |_| 1_000);
    let signed = order[..30].iter().filter(|j| **j < 100).count();
    assert!((19..=21).contains(&signed), "{order:?}");
}

#[test]
fn an_idle_flow_does_not_bank_credit() {
    let mut queue = FairQueue::new(limits());
    for n in 0..20 {
        queue.push("busy", "busy", 1, n).unwrap();
    }
    let order = serve_all(&mut queue, |_| 1_000);
    assert_eq!(order.len(), 20);
    // A flow that was idle all along starts at the virtual time, not at zero: it goes
    // first (the busy flow's last job is still charged) but does not get its five jobs in
    // a row ahead of the busy flow.
    for n in 0..5 {
        queue.push("latecomer", "latecomer", 1, 100 + n).unwrap();
        queue.push("busy", "busy", 1, 20 + n).unwrap();
    }
    let order = serve_all(&mut queue, |_| 1_000);
    assert_eq!(order, vec![100, 20, 101, 21, 102, 22, 103, 23, 104, 24]);
}

#[test]
fn queues_are_bounded_per_flow_and_in_all() {
    let mut queue = FairQueue::new(Limits {
        per_flow: 3,
        total: 5,
        flows: 10,
        running_per_flow: 1,
        running_per_group: 1,
    });
    for n in 0..3 {
        queue.push("a", "a", 1, n).unwrap();
    }
    // The flow is full: only it is refused.
    assert_eq!(queue.push("a", "a", 1, 3), Err((Refused::FlowFull(3), 3)));
    queue.push("b", "b", 1, 10).unwrap();
    queue.push("c", "c", 1, 20).unwrap();
    assert_eq!(queue.waiting(), 5);
    assert_eq!(
        queue.push("d", "d", 1, 30),
        Err((Refused::QueueFull(5), 30))
    );
    // Serving one makes room again.
    let (ticket, _) = queue.pop().unwrap();
    assert_eq!(queue.waiting(), 4);
    queue.push("d", "d", 1, 30).unwrap();
    queue.done(ticket, 1);
}

#[test]
fn one_flow_never_runs_more_than_its_share_of_executors() {
    let mut queue = FairQueue::new(Limits {
        running_per_flow: 2,
        ..limits()
    });
    for n in 0..10 {
        queue.push("flooder", "flooder", 1, n).unwrap();
    }
    let first = queue.pop().unwrap();
    let second = queue.pop().unwrap();
    // Two of the flooder's jobs run: a third waits, though executors may be free.
    assert!(queue.pop().is_none());
    queue.push("other", "other", 1, 100).unwrap();
    assert_eq!(queue.pop().map(|(_, job)| job), Some(100));
    queue.done(first.0, 1_000);
    assert_eq!(queue.pop().map(|(_, job)| job), Some(2));
    queue.done(second.0, 1_000);
}

#[test]
fn many_flows_from_one_address_never_run_more_than_its_share() {
    let mut queue = FairQueue::new(Limits {
        running_per_flow: 2,
        running_per_group: 2,
        ..limits()
    });
    // One address signing with three accounts: three flows, one group.
    for (n, flow) in ["sybil 1", "sybil 2", "sybil 3"].into_iter().enumerate() {
        for m in 0..5 {
            queue
                .push(flow, "mallory's address", 1, (n * 10 + m) as u32)
                .unwrap();
        }
    }
    let first = queue.pop().unwrap();
    let second = queue.pop().unwrap();
    assert_ne!(first.0.flow, second.0.flow);
    // The address has two running: its third account waits, though its flow is fresh.
    assert!(queue.pop().is_none());
    queue.push("alice", "alice's address", 1, 100).unwrap();
    assert_eq!(queue.pop().map(|(_, job)| job), Some(100));
    // When one of the address's jobs ends, one more of its jobs may run.
    queue.done(first.0, 1_000);
    assert!(queue.pop().is_some());
    assert!(queue.pop().is_none());
    queue.done(second.0, 1_000);
    assert!(queue.pop().is_some());
}

#[test]
fn idle_flows_are_forgotten_and_busy_ones_kept() {
    let mut queue = FairQueue::new(Limits {
        flows: 3,
        ..limits()
    });
    // Three flows, one job each, served: the table is full of idle flows.
    for (n, flow) in ["a", "b", "c"].into_iter().enumerate() {
        queue.push(flow, flow, 1, n as u32).unwrap();
    }
    let order = serve_all(&mut queue, |_| 1_000);
    assert_eq!(order.len(), 3);
    assert!(queue.flows() <= 3);
    // New flows take their places.
    for (n, flow) in ["d", "e", "f"].into_iter().enumerate() {
        queue.push(flow, flow, 1, 10 + n as u32).unwrap();
    }
    assert_eq!(queue.flows(), 3);
    // With every remembered flow busy, a new one is refused, and only it.
    assert_eq!(
        queue.push("g", "g", 1, 20),
        Err((Refused::TooManyFlows(3), 20))
    );
    queue.push("d", "d", 1, 13).unwrap();
    assert_eq!(serve_all(&mut queue, |_| 1_000).len(), 4);
    queue.push("g", "g", 1, 20).unwrap();
}

#[test]
fn memory_stays_bounded_under_many_flows() {
    let mut queue = FairQueue::new(Limits {
        flows: 64,
        ..limits()
    });
    for n in 0..10_000u32 {
        // Each flow comes once, is served at once, and never again.
        let key: &'static str = Box::leak(format!("flow {n}").into_boxed_str());
        queue.push(key, key, 1, n).unwrap();
        let (ticket, _) = queue.pop().unwrap();
        queue.done(ticket, 1_000);
        assert!(queue.flows() <= 64);
    }
}

#[test]
fn the_pool_runs_every_job_on_few_threads_and_ends_them() {
    let pool: Pool<u8, u8, Box<dyn FnOnce() + Send>> = Pool::new(
        "test",
        2,
        Limits {
            per_flow: 1_000,
            total: 1_000,
            flows: 10,
            running_per_flow: 2,
            running_per_group: 2,
        },
    );
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for n in 0..40u32 {
        let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
        pool.submit(
            (n % 3) as u8,
            0,
            1,
            Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
                running.fetch_sub(1, Ordering::SeqCst);
                if n == 7 {
                    panic!("a job that panics");
                }
                tx.send(n).unwrap();
            }),
        )
        .map_err(|(why, _)| why)
        .unwrap();
    }
    drop(tx);
    let mut done: Vec<u32> = rx.iter().collect();
    done.sort();
    let expected: Vec<u32> = (0..40).filter(|n| *n != 7).collect();
    assert_eq!(done, expected);
    assert!(most.load(Ordering::SeqCst) <= 2);
    // The threads end once the queue is empty (the last one may still be on its way out).
    for _ in 0..1_000 {
        if pool.state.lock().unwrap().threads == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(pool.state.lock().unwrap().threads, 0);
    let (waiting, flows) = pool.load();
    assert_eq!(waiting, 0);
    assert!(flows <= 3);
}
