//! Deterministic simulations of a 4-validator network: real nodes on Commonware's
//! deterministic runtime and simulated network, under crashes, partitions, bad links and an
//! equivocating validator. Every run is bounded in virtual time; `PHALA_SIM_SEEDS=n` runs the
//! seeded scenarios over more seeds.

mod sim;

use std::time::Duration;

use commonware_runtime::{Clock as _, Runner as _};
use sim::{Sim, good_link, runner, spec};

const VALIDATORS: [&str; 4] = ["Alice", "Bob", "Charlie", "Dave"];
const EPOCH: u32 = 10;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_test_writer()
        .try_init();
}

fn seeds(default: u64) -> Vec<u64> {
    let n = std::env::var("PHALA_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (1..=n).collect()
}

/// Four validators finalize across epochs and agree; transfers submitted to one node reach
/// blocks through gossip.
#[test]
fn four_validators_finalize() {
    init_tracing();
    for seed in seeds(2) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        let genesis = sim::genesis_hash(&spec);
        let txs = sim::transfers(20, genesis);
        runner(seed, Duration::from_secs(600)).start(|ctx| async move {
            let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
            sim.start_each(0..4);
            sim.wait_for(&[0, 1, 2, 3], 3, Duration::from_secs(60))
                .await;
            for (n, xt) in txs.into_iter().enumerate() {
                sim.submit(n % 4, xt);
            }
            sim.wait_for(&[0, 1, 2, 3], 2 * EPOCH + 3, Duration::from_secs(120))
                .await;
            sim.assert_no_fork();
            for i in 0..4 {
                assert_eq!(sim.nonce(i, &sim::account("Ferdie")), 20, "node {i}");
            }
            println!(
                "seed {seed}: heights {:?} at {:?}",
                sim.heights(),
                ctx.current()
            );
        });
    }
}

/// A full node without a consensus key, admitted by the validators as a follower, follows the
/// finalized chain across epochs, relays transactions submitted to it, and after a crash
/// catches up from its storage.
#[test]
fn full_node_follows() {
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        let genesis = sim::genesis_hash(&spec);
        let txs = sim::transfers(10, genesis);
        runner(seed, Duration::from_secs(600)).start(|ctx| async move {
            let names = ["Alice", "Bob", "Charlie", "Dave", "Ferdie"];
            let mut sim = Sim::new(&ctx, spec, dir.path(), &names, good_link()).await;
            sim.followers = vec![4];
            sim.start_each(0..5);
            sim.wait_for(&[0, 1, 2, 3, 4], 3, Duration::from_secs(60))
                .await;
            for xt in txs {
                sim.submit(4, xt);
            }
            sim.wait_for(&[0, 1, 2, 3, 4], EPOCH + 3, Duration::from_secs(120))
                .await;
            sim.crash(4);
            let tip = sim.heights()[0];
            sim.wait_for(&[0, 1, 2, 3], tip + EPOCH, Duration::from_secs(120))
                .await;
            sim.start(4);
            let tip = sim.heights()[0];
            sim.wait_for(&[0, 1, 2, 3, 4], tip + 2, Duration::from_secs(120))
                .await;
            sim.assert_no_fork();
            for i in 0..5 {
                assert_eq!(sim.nonce(i, &sim::account("Ferdie")), 10, "node {i}");
            }
        });
    }
}

/// One of four validators crashes: the other three (a quorum) keep finalizing across an
/// epoch boundary; the crashed one restarts from its storage and catches up.
#[test]
fn one_of_four_crashed() {
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        runner(seed, Duration::from_secs(600)).start(|ctx| async move {
            let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
            sim.start_each(0..4);
            sim.wait_for(&[0, 1, 2, 3], 5, Duration::from_secs(60))
                .await;
            sim.crash(3);
            let at = sim.heights()[0];
            sim.wait_for(&[0, 1, 2], at + EPOCH + 3, Duration::from_secs(120))
                .await;
            sim.start(3);
            let tip = sim.heights()[0];
            sim.wait_for(&[0, 1, 2, 3], tip + 3, Duration::from_secs(120))
                .await;
            sim.assert_no_fork();
        });
    }
}

/// Two of four crash: no quorum, so nothing is finalized and nothing forks. When one returns
/// (from its storage), finality resumes; when the other returns, it catches up.
#[test]
fn two_of_four_crashed_halts_then_resumes() {
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        runner(seed, Duration::from_secs(600)).start(|ctx| async move {
            let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
            sim.start_each(0..4);
            sim.wait_for(&[0, 1, 2, 3], 5, Duration::from_secs(60))
                .await;
            sim.crash(2);
            sim.crash(3);
            // Votes already in flight may still finalize the block being decided.
            ctx.sleep(Duration::from_secs(3)).await;
            let stalled = sim.heights();
            ctx.sleep(Duration::from_secs(30)).await;
            assert_eq!(sim.heights(), stalled, "finalized without a quorum");
            sim.assert_no_fork();
            sim.start(2);
            let top = stalled[0].max(stalled[1]);
            sim.wait_for(&[0, 1, 2], top + 5, Duration::from_secs(120))
                .await;
            sim.start(3);
            let tip = sim.heights()[0];
            sim.wait_for(&[0, 1, 2, 3], tip + 3, Duration::from_secs(120))
                .await;
            sim.assert_no_fork();
        });
    }
}

/// A 2|2 partition: neither side has a quorum, so finality stops without forking; once the
/// network heals it resumes.
#[test]
fn partition_heals() {
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        runner(seed, Duration::from_secs(600)).start(|ctx| async move {
            let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
            sim.start_each(0..4);
            sim.wait_for(&[0, 1, 2, 3], 5, Duration::from_secs(60))
                .await;
            sim.partition(&[&[0, 1], &[2, 3]], good_link()).await;
            ctx.sleep(Duration::from_secs(3)).await;
            let stalled = sim.heights();
            ctx.sleep(Duration::from_secs(30)).await;
            assert_eq!(sim.heights(), stalled, "a minority finalized");
            sim.assert_no_fork();
            sim.set_links(|_, _| Some(good_link())).await;
            let top = *stalled.iter().max().unwrap();
            sim.wait_for(&[0, 1, 2, 3], top + EPOCH, Duration::from_secs(180))
                .await;
            sim.assert_no_fork();
        });
    }
}

/// Slow, jittery links that drop one message in six: finality continues across epochs.
#[test]
fn slow_lossy_links() {
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        let genesis = sim::genesis_hash(&spec);
        let txs = sim::transfers(10, genesis);
        runner(seed, Duration::from_secs(900)).start(|ctx| async move {
            let bad = commonware_p2p::simulated::Link {
                latency: Duration::from_millis(250),
                jitter: Duration::from_millis(150),
                success_rate: commonware_utils::probability!(0.83),
            };
            let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, bad).await;
            sim.start_each(0..4);
            sim.wait_for(&[0, 1, 2, 3], 2, Duration::from_secs(120))
                .await;
            for xt in txs {
                sim.submit(1, xt);
            }
            sim.wait_for(&[0, 1, 2, 3], 2 * EPOCH + 2, Duration::from_secs(300))
                .await;
            sim.assert_no_fork();
            for i in 0..4 {
                assert_eq!(sim.nonce(i, &sim::account("Ferdie")), 10, "node {i}");
            }
        });
    }
}

/// Every node is killed at once and restarted from its storage: the network resumes where it
/// stopped, with the same history.
#[test]
fn whole_network_restarts() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(4, EPOCH);
    runner(7, Duration::from_secs(600)).start(|ctx| async move {
        let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
        sim.start_each(0..4);
        sim.wait_for(&[0, 1, 2, 3], EPOCH + 4, Duration::from_secs(60))
            .await;
        let before: Vec<_> = (0..=EPOCH + 4).map(|n| sim.hash_at(0, n)).collect();
        for i in 0..4 {
            sim.crash(i);
        }
        ctx.sleep(Duration::from_secs(5)).await;
        sim.start_each(0..4);
        sim.wait_for(&[0, 1, 2, 3], 3 * EPOCH, Duration::from_secs(180))
            .await;
        sim.assert_no_fork();
        for (n, hash) in before.into_iter().enumerate() {
            assert_eq!(sim.hash_at(2, n as u32), hash, "history changed at #{n}");
        }
    });
}

/// A validator that was offline while the others finalized 1,000 blocks (a hundred epochs)
/// joins and backfills the whole chain from its peers, executing every block.
#[test]
fn missed_thousand_blocks_backfills() {
    init_tracing();
    // `PHALA_SIM_BACKFILL=10000` measures a longer catch-up (the closing note's benchmark).
    let missed: u32 = std::env::var("PHALA_SIM_BACKFILL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(4, EPOCH);
    let virtual_limit = Duration::from_secs(u64::from(missed) * 4 + 600);
    runner(11, virtual_limit).start(|ctx| async move {
        let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
        sim.start_each(0..3);
        sim.wait_for(
            &[0, 1, 2],
            missed,
            Duration::from_secs(u64::from(missed) * 2),
        )
        .await;
        let wall = std::time::Instant::now();
        let (joined, heights) = (ctx.current(), sim.heights());
        sim.start(3);
        let tip = sim.heights()[0];
        sim.wait_for(&[3], tip, Duration::from_secs(u64::from(missed).max(600)))
            .await;
        sim.assert_no_fork();
        assert_eq!(sim.state_root(3, tip), sim.state_root(0, tip));
        // And then keeps up with the moving tip.
        let tip = sim.heights()[0] + 2;
        sim.wait_for(&[0, 1, 2, 3], tip, Duration::from_secs(300))
            .await;
        sim.assert_no_fork();
        println!(
            "backfilled {heights:?} -> {:?} in {:?} virtual, {:?} wall",
            sim.heights(),
            ctx.current().duration_since(joined).unwrap(),
            wall.elapsed()
        );
    });
}

/// //Dave runs Commonware's `conflicter` instead of a node: it signs a conflicting vote for
/// every proposal it sees. The honest three see the conflict, report it on chain; Dave's bond
/// is slashed, he stops being a candidate, and the next committee is the honest three, who
/// keep finalizing.
#[test]
fn equivocator_is_slashed_and_dropped() {
    use commonware_consensus::simplex::mocks::conflicter::{Config, Conflicter};
    use commonware_cryptography::Sha256;
    use commonware_p2p::utils::mux::Muxer;
    use commonware_runtime::{Quota, Supervisor as _};
    use commonware_utils::ordered::Set;
    use phala_node::consensus::app::Scheme;
    use phala_node::consensus::engine::VOTE_CHANNEL;
    use phala_runtime::modules::validators;

    init_tracing();
    const LONG_EPOCH: u32 = 20;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(4, LONG_EPOCH);
    let slash_percent = u128::from(spec.slash_percent);
    let namespace = phala_light_client::namespace(&sim::genesis_hash(&spec));
    runner(3, Duration::from_secs(600)).start(|ctx| async move {
        let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, good_link()).await;
        sim.start_each(0..3);
        let committee = Set::from_iter_dedup((0..4).map(|i| sim.key(i)));
        let scheme = Scheme::signer(&namespace, committee, sim.nodes[3].key.clone()).unwrap();
        let control = sim.oracle.control(sim.key(3));
        let votes = control
            .register(VOTE_CHANNEL, Quota::per_second(commonware_utils::NZU32!(4096)))
            .await
            .unwrap();
        let (mux, mut handle) = Muxer::new(ctx.child("byzantine_mux"), votes.0, votes.1);
        mux.start();
        let epoch0 = handle.register(0).await.unwrap();
        Conflicter::<_, _, Sha256>::new(ctx.child("conflicter"), Config { scheme }).start(epoch0);

        let dave = sim::account("Dave");
        let dave_key = sim.key(3);
        let start = ctx.current();
        while sim.read(0, |ext| validators::CANDIDATES.get(ext, &dave)).is_some() {
            assert!(
                ctx.current().duration_since(start).unwrap() < Duration::from_secs(120),
                "Dave was never punished; heights {:?}",
                sim.heights()
            );
            ctx.sleep(Duration::from_millis(500)).await;
        }
        let punished_at = ctx.current();
        let bond = phala_chain::dev::DEV_BOND;
        let ledger = sim.read(0, |ext| validators::LEDGER.get(ext, &dave)).unwrap();
        assert_eq!(ledger.active, bond - bond * slash_percent / 100, "slashed once");

        // The first committee elected after the punishment leaves Dave out; it finalizes.
        let mut epoch = 1;
        let without = loop {
            sim.wait_for(&[0], epoch as u32 * LONG_EPOCH, Duration::from_secs(120))
                .await;
            let keys = sim.committee(0, epoch).expect("committee of a started epoch");
            if !keys.iter().any(|k| k.as_slice() == dave_key.as_ref()) {
                assert_eq!(keys.len(), 3);
                break epoch;
            }
            epoch += 1;
        };
        sim.wait_for(
            &[0, 1, 2],
            without as u32 * LONG_EPOCH + 5,
            Duration::from_secs(120),
        )
        .await;
        sim.assert_no_fork();
        let ledger = sim.read(0, |ext| validators::LEDGER.get(ext, &dave)).unwrap();
        assert_eq!(ledger.active, bond - bond * slash_percent / 100, "slashed only once");
        let blocked = sim.oracle.blocked().await.unwrap();
        println!(
            "Dave punished by {:?}, out of the committee from epoch {without}; heights {:?}; blocked {}",
            punished_at.duration_since(start).unwrap(),
            sim.heights(),
            blocked.len()
        );
        assert!(
            blocked.iter().all(|(_, offender)| *offender == dave_key),
            "an honest node was blocked: {blocked:?}"
        );
    });
}

/// One run under crashes, lossy links and transactions, reduced to a fingerprint: the
/// finalized chain, the state root and the runtime's audit of every scheduling decision.
fn fingerprint(seed: u64, txs: Vec<Vec<u8>>) -> (Vec<u32>, Vec<phala_primitives::H256>, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(4, EPOCH);
    runner(seed, Duration::from_secs(600)).start(|ctx| async move {
        let lossy = commonware_p2p::simulated::Link {
            latency: Duration::from_millis(100),
            jitter: Duration::from_millis(60),
            success_rate: commonware_utils::probability!(0.9),
        };
        let mut sim = Sim::new(&ctx, spec, dir.path(), &VALIDATORS, lossy).await;
        sim.start_each(0..4);
        ctx.sleep(Duration::from_secs(3)).await;
        for (n, xt) in txs.into_iter().enumerate() {
            sim.submit(n % 4, xt);
        }
        ctx.sleep(Duration::from_secs(5)).await;
        sim.crash(1);
        ctx.sleep(Duration::from_secs(4)).await;
        sim.start(1);
        ctx.sleep(Duration::from_secs(10)).await;
        let agreed = sim.assert_no_fork();
        assert!(agreed > EPOCH, "too little progress: {:?}", sim.heights());
        let hashes = (0..=agreed).filter_map(|n| sim.hash_at(0, n)).collect();
        let heights = sim.heights();
        (heights, hashes, ctx.auditor().state())
    })
}

#[test]
fn same_seed_same_state() {
    init_tracing();
    let spec = spec(4, EPOCH);
    let txs = sim::transfers(12, sim::genesis_hash(&spec));
    let a = fingerprint(5, txs.clone());
    let b = fingerprint(5, txs.clone());
    assert_eq!(a, b, "same seed, different run");
    let c = fingerprint(6, txs);
    assert_ne!(a.2, c.2, "the seed does not reach the schedule");
}

/// Governance (sudo, on this development chain) shortens epochs from 10 blocks to 4 and
/// then lengthens them to 7: the boundary blocks announce each new length, every node
/// switches engines at the new boundaries, a validator that was down across the change
/// catches up from its storage, and a full node follows. The committee keeps finalizing
/// throughout and nobody forks.
#[test]
fn epoch_length_changes_at_the_announced_boundary() {
    use phala_primitives::consensus::{CommitteeChange, EpochLengthChange};
    use phala_runtime::RuntimeCall;
    use phala_runtime::modules::{sudo, validators};
    init_tracing();
    for seed in seeds(1) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(4, EPOCH);
        let genesis = sim::genesis_hash(&spec);
        let set = |nonce, length| {
            let call = RuntimeCall::Sudo(sudo::Call::sudo {
                call: Box::new(RuntimeCall::Validators(
                    validators::Call::set_epoch_length { length },
                )),
            });
            sim::signed("Alice", nonce, call, genesis)
        };
        let (shorten, lengthen) = (set(0, 4), set(1, 7));
        runner(seed, Duration::from_secs(900)).start(|ctx| async move {
            let names = ["Alice", "Bob", "Charlie", "Dave", "Ferdie"];
            let mut sim = Sim::new(&ctx, spec, dir.path(), &names, good_link()).await;
            sim.followers = vec![4];
            sim.start_each(0..5);
            sim.wait_for(&[0, 1, 2, 3, 4], 2, Duration::from_secs(60))
                .await;
            sim.submit(0, shorten);
            // Epoch 0 (#0..=#9) keeps its length; Dave is down from before its end.
            sim.wait_for(&[0, 1, 2, 3], 6, Duration::from_secs(60))
                .await;
            sim.crash(3);
            // Epochs 1, 2, 3 are #10..=#13, #14..=#17, #18..=#21.
            sim.wait_for(&[0, 1, 2], 19, Duration::from_secs(120)).await;
            sim.submit(0, lengthen);
            // Epoch 4 (#22..=#25) is the last of 4 blocks if the change lands in epoch 3,
            // and epoch 5 the first of 7; Dave returns after both.
            sim.wait_for(&[0, 1, 2], 40, Duration::from_secs(240)).await;
            sim.start(3);
            let tip = sim.heights()[0];
            sim.wait_for(&[0, 1, 2, 3, 4], tip + 3, Duration::from_secs(240))
                .await;
            let top = sim.assert_no_fork();
            // Read the boundaries back from the headers of one node.
            let chain = sim.chain(0).unwrap();
            let mut boundaries = Vec::new();
            for number in 0..=top {
                let block = chain.store().block_by_number(number).unwrap().unwrap();
                if let Some(Ok(change)) = CommitteeChange::from_header(&block.header) {
                    let length =
                        EpochLengthChange::from_header(&block.header).map(|l| l.unwrap().length);
                    boundaries.push((number, change.epoch, length));
                }
            }
            let first_of_seven = boundaries
                .iter()
                .position(|b| b.2 == Some(7))
                .expect("the lengthening was announced");
            assert_eq!(boundaries[0], (0, 0, None), "{boundaries:?}");
            assert_eq!(boundaries[1], (9, 1, Some(4)), "{boundaries:?}");
            for pair in boundaries[1..].windows(2) {
                let gap = pair[1].0 - pair[0].0;
                let length = if pair[1].1 > boundaries[first_of_seven].1 {
                    7
                } else {
                    4
                };
                assert_eq!(gap, length, "{boundaries:?}");
            }
            assert!(boundaries.len() > first_of_seven + 1, "{boundaries:?}");
            // Every node reads the same schedule from its state.
            let schedules: Vec<_> = (0..5)
                .map(|i| {
                    sim.read(i, |ext| {
                        validators::schedule(ext).unwrap().segments().to_vec()
                    })
                })
                .collect();
            assert!(schedules.windows(2).all(|w| w[0] == w[1]));
            assert_eq!(schedules[0].len(), 3);
        });
    }
}
