//! Governance's calls whose work grows with what an account has done, against the weight
//! they are charged (`weights.rs`: 10 µs a read, 40 µs a write, on the reference machine):
//! a vote by an account already voting on N referenda of the track (its `VotingFor` record
//! holds up to 512 votes, read and written whole), and a delegation, which moves the
//! delegator's whole balance onto every referendum the target votes on.
//!
//! `cargo bench -p phala-runtime --bench governance`.

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use phala_keys::Sr25519Pair;
use phala_primitives::{AccountId32, MultiAddress, PHA};
use phala_runtime::dispatch::Origin;
use phala_runtime::modules::conviction_voting::{self, AccountVote, Conviction, Vote};
use phala_runtime::modules::preimage::Bounded;
use phala_runtime::modules::referenda::{self, GovernanceParams};
use phala_runtime::modules::scheduler::DispatchTime;
use phala_runtime::modules::system;
use phala_runtime::origin::RawOrigin;
use phala_runtime::{Ext, GenesisConfig, OriginCaller, RuntimeCall};

type State = BTreeMap<Vec<u8>, Vec<u8>>;

fn account(uri: &str) -> AccountId32 {
    Sr25519Pair::from_uri(uri).unwrap().account_id()
}

fn apply(state: &mut State, f: impl FnOnce(&mut Ext)) {
    let mut ext = Ext::new(state);
    f(&mut ext);
    for (k, v) in ext.into_changes() {
        match v {
            Some(v) => state.insert(k, v),
            None => state.remove(&k),
        };
    }
}

fn vote(index: u32) -> RuntimeCall {
    RuntimeCall::ConvictionVoting(conviction_voting::Call::vote {
        poll_index: index,
        vote: AccountVote::Standard {
            vote: Vote {
                aye: true,
                conviction: Conviction::Locked1x,
            },
            balance: 1_000 * PHA,
        },
    })
}

/// A chain where Bob submitted `n + 1` root referenda and Alice voted on the first `n`.
fn setup(n: u32) -> State {
    let mut state = GenesisConfig {
        endowed: vec![
            (account("//Alice"), 10_000_000 * PHA),
            (account("//Bob"), 10_000_000 * PHA),
            (account("//Charlie"), 10_000_000 * PHA),
        ],
        governance: GovernanceParams::development(1_000),
        ..Default::default()
    }
    .build_storage()
    .unwrap();
    apply(&mut state, |ext| {
        system::NUMBER.put(ext, &1);
        let remark = RuntimeCall::System(system::Call::remark { remark: vec![] });
        for _ in 0..=n {
            RuntimeCall::Referenda(referenda::Call::submit {
                proposal_origin: Box::new(OriginCaller::system(RawOrigin::Root)),
                proposal: Bounded::inline(&remark).unwrap(),
                enactment_moment: DispatchTime::After(1),
            })
            .dispatch(ext, Origin::Signed(account("//Bob")))
            .unwrap();
        }
        for i in 0..n {
            vote(i)
                .dispatch(ext, Origin::Signed(account("//Alice")))
                .unwrap();
        }
    });
    state
}

fn bench(c: &mut Criterion) {
    let (alice, charlie) = (account("//Alice"), account("//Charlie"));
    let mut group = c.benchmark_group("governance");
    group.sample_size(20);
    for n in [0u32, 100, 511] {
        let state = setup(n);
        let weight = vote(n).info().weight.ref_time;
        eprintln!(
            "vote with {n} votes held: charged {} µs",
            weight / 1_000_000
        );
        let call = vote(n);
        group.bench_function(format!("vote with {n} votes held"), |b| {
            b.iter_batched(
                || call.clone(),
                |call| {
                    let mut ext = Ext::new(&state);
                    call.dispatch(&mut ext, Origin::Signed(alice)).unwrap();
                    ext.into_changes().len()
                },
                BatchSize::SmallInput,
            )
        });
        // Charlie lends his vote to Alice: it lands on each of her n referenda.
        let delegate = RuntimeCall::ConvictionVoting(conviction_voting::Call::delegate {
            class: 0,
            to: MultiAddress::Id(alice),
            conviction: Conviction::Locked1x,
            balance: 1_000 * PHA,
        });
        eprintln!(
            "delegate onto {n} votes: charged {} µs",
            delegate.info().weight.ref_time / 1_000_000
        );
        group.bench_function(format!("delegate onto {n} votes"), |b| {
            b.iter_batched(
                || (),
                |_| {
                    let mut ext = Ext::new(&state);
                    delegate
                        .clone()
                        .dispatch(&mut ext, Origin::Signed(charlie))
                        .unwrap();
                    ext.into_changes().len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
