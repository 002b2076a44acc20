//! Computing: a worker answering its challenges, and the gatekeepers' economy.
//!
//! A computing worker answers each challenge that picks it with a heartbeat carrying its
//! work counter. Gatekeepers replay every session from the chain's proven
//! [`ComputationEvent`]s, in block order, and after each block compute its settlement —
//! the workers whose challenge window closed unanswered, the ones that recovered, and what
//! each heartbeat earned — in deterministic fixed point, so every gatekeeper sends the same
//! bytes. Work per block is O(challenged + settled workers): challenged workers are found
//! by hash range, and a worker's value is brought up to date only when it is settled
//! (`Σshare` uses each worker's share as of its last settlement).

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};
use phala_mq::computation::{ComputationEvent, MAX_SETTLED, Settlement, WorkerPayout, WorkerValue};
use phala_primitives::BlockNumber;
use phala_tokenomics::{Challenge, Fixed, Params, pha_to_plancks, share, worker_hash};

/// The benchmark window the score is counted in (iterations per this many ms).
const SCORE_WINDOW_MS: u64 = phala_mq::topics::BENCHMARK_SECONDS as u64 * 1000;

/// One computing worker, as the gatekeepers follow it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Miner {
    pub p_bench: u32,
    pub confidence_level: u8,
    /// U64F64 bits, as of the end of block `updated_at`.
    pub v: u128,
    pub updated_at: BlockNumber,
    pub unresponsive: bool,
    pub started_at: BlockNumber,
    /// The newest challenge it answered (the chain's `last_challenge`).
    pub answered_up_to: BlockNumber,
    pub iterations: u64,
    pub iterations_at_ms: u64,
    /// Performance measured between its last two heartbeats (score units).
    pub p_instant: u32,
    /// Its share in `Σshare` (U64F64 bits; 0 while unresponsive).
    pub share: u128,
    pub last_paid_at: BlockNumber,
}

/// The gatekeepers' view of every session. Sealed with the checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Economy {
    pub miners: BTreeMap<[u8; 32], Miner>,
    /// `blake2_256(pubkey)` → pubkey: challenged workers by range query.
    by_hash: BTreeMap<[u8; 32], [u8; 32]>,
    /// Block a challenge's window closes at → the workers it picked.
    deadlines: BTreeMap<BlockNumber, Vec<([u8; 32], BlockNumber)>>,
    /// U64F64 bits.
    pub sum_share: u128,
    /// Heartbeats of the block being processed, in order.
    heartbeats: Vec<[u8; 32]>,
    /// Whether every session event since genesis went through this economy. A worker that
    /// followed the chain from a later checkpoint lacks the sessions started before it: its
    /// settlements would differ from every complete gatekeeper's, and be slashed as faulty.
    pub complete: bool,
}

fn bits(f: Fixed) -> u128 {
    f.to_bits()
}

impl Economy {
    /// An empty economy; `complete` if it will see every session event from genesis on.
    pub fn new(complete: bool) -> Self {
        Economy {
            complete,
            ..Economy::default()
        }
    }
}

impl Miner {
    /// Brings V to the end of block `to`: grown while responsive, decayed while not.
    fn advance(&mut self, params: &Params, to: BlockNumber) {
        let mut v = Fixed::from_bits(self.v);
        let v_max = params.v_max();
        for _ in self.updated_at..to {
            let next = if self.unresponsive {
                params.slash_step(v)
            } else {
                params.idle_step(v, self.p_instant, self.p_bench)
            };
            let Ok(next) = next else { break };
            let settled = next == v || (!self.unresponsive && next >= v_max && v >= v_max);
            v = next;
            if settled {
                break;
            }
        }
        self.v = bits(v);
        self.updated_at = self.updated_at.max(to);
    }

    fn share_now(&self, params: &Params) -> u128 {
        share(
            Fixed::from_bits(self.v),
            self.p_instant,
            params.conf_of(self.confidence_level),
        )
        .map(bits)
        .unwrap_or(0)
    }
}

impl Economy {
    fn set_share(&mut self, worker: &[u8; 32], share: u128) {
        if let Some(m) = self.miners.get_mut(worker) {
            self.sum_share = self.sum_share.saturating_sub(m.share).saturating_add(share);
            m.share = share;
        }
    }

    /// Takes one of block `number`'s events.
    pub fn on_event(&mut self, params: &Params, number: BlockNumber, event: &ComputationEvent) {
        match event {
            ComputationEvent::Challenge { seed, target } => {
                let challenge = Challenge {
                    seed: *seed,
                    target: *target,
                };
                let closes = number.saturating_add(params.heartbeat_window);
                let mut picked = Vec::new();
                for (first, last) in challenge.ranges().0 {
                    for (_, worker) in self.by_hash.range(first..=last) {
                        if self
                            .miners
                            .get(worker)
                            .is_some_and(|m| m.started_at < number)
                        {
                            picked.push((*worker, number));
                        }
                    }
                }
                if !picked.is_empty() {
                    self.deadlines.entry(closes).or_default().extend(picked);
                }
            }
            ComputationEvent::Started {
                worker,
                p_bench,
                confidence_level,
                initial_v,
                at_ms,
                ..
            } => {
                let miner = Miner {
                    p_bench: *p_bench,
                    confidence_level: *confidence_level,
                    v: *initial_v,
                    updated_at: number,
                    started_at: number,
                    answered_up_to: number,
                    iterations_at_ms: *at_ms,
                    p_instant: *p_bench,
                    last_paid_at: number,
                    ..Default::default()
                };
                let share = miner.share_now(params);
                self.miners.insert(*worker, miner);
                self.by_hash.insert(worker_hash(worker), *worker);
                self.set_share(worker, share);
            }
            ComputationEvent::Stopped { worker } => {
                self.set_share(worker, 0);
                self.miners.remove(worker);
                self.by_hash.remove(&worker_hash(worker));
            }
            ComputationEvent::Heartbeat {
                worker,
                challenge_block,
                iterations,
                at_ms,
            } => {
                if let Some(m) = self.miners.get_mut(worker) {
                    let elapsed = at_ms.saturating_sub(m.iterations_at_ms);
                    if elapsed > 0 {
                        let done = u128::from(iterations.saturating_sub(m.iterations));
                        let p =
                            done.saturating_mul(u128::from(SCORE_WINDOW_MS)) / u128::from(elapsed);
                        // As classic Phala: at most 120 % of the benchmark.
                        let cap = u128::from(m.p_bench).saturating_mul(6) / 5;
                        m.p_instant = u32::try_from(p.min(cap)).unwrap_or(u32::MAX);
                    }
                    m.iterations = *iterations;
                    m.iterations_at_ms = *at_ms;
                    m.answered_up_to = m.answered_up_to.max(*challenge_block);
                    self.heartbeats.push(*worker);
                }
            }
            ComputationEvent::ParamsSet { .. } => {}
            ComputationEvent::HeartbeatResumed => {
                for m in self.miners.values_mut() {
                    m.last_paid_at = m.last_paid_at.max(number);
                }
            }
        }
    }

    /// Ends block `number`: its settlement (perhaps empty). The chain checks it in the
    /// same order: offline, then recovered, then paid.
    pub fn end_block(&mut self, params: &Params, number: BlockNumber) -> Settlement {
        let mut settlement = Settlement {
            block: number,
            offline: Vec::new(),
            recovered: Vec::new(),
            paid: Vec::new(),
        };
        // Drop windows that closed before this block (a gatekeeper that started late).
        while let Some((&closes, _)) = self.deadlines.first_key_value() {
            if closes >= number {
                break;
            }
            self.deadlines.pop_first();
        }
        for (worker, challenged) in self.deadlines.remove(&number).unwrap_or_default() {
            let Some(m) = self.miners.get_mut(&worker) else {
                continue;
            };
            if m.unresponsive || m.answered_up_to >= challenged || m.started_at >= challenged {
                continue;
            }
            m.advance(params, number);
            m.unresponsive = true;
            m.last_paid_at = number;
            let v = m.v;
            self.set_share(&worker, 0);
            if !settlement.offline.iter().any(|o| o.worker == worker) {
                settlement.offline.push(WorkerValue { worker, v });
            }
        }
        let budget = params.budget_at(number).unwrap_or(Fixed::ZERO);
        for worker in std::mem::take(&mut self.heartbeats) {
            let Some(m) = self.miners.get_mut(&worker) else {
                continue;
            };
            m.advance(params, number);
            if m.unresponsive {
                m.unresponsive = false;
                settlement.recovered.push(worker);
            }
            let blocks = number.saturating_sub(m.last_paid_at);
            m.last_paid_at = number;
            let new_share = m.share_now(params);
            let v = m.v;
            self.set_share(&worker, new_share);
            let payout = params
                .payout(
                    Fixed::from_bits(new_share),
                    Fixed::from_bits(self.sum_share),
                    budget,
                    blocks,
                )
                .map(pha_to_plancks)
                .unwrap_or(0);
            settlement.paid.push(WorkerPayout { worker, v, payout });
        }
        // The chain takes at most MAX_SETTLED per list: what is left out is skipped there
        // too (a payout lost, a state the next heartbeat corrects), never the settlement.
        settlement.offline.truncate(MAX_SETTLED);
        settlement.recovered.truncate(MAX_SETTLED);
        settlement.paid.truncate(MAX_SETTLED);
        settlement
    }
}

/// A worker's own session, as far as answering challenges goes. Sealed with the checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct MySession {
    /// The block it started computing at, while it computes.
    pub started_at: Option<BlockNumber>,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// The work counter when the session started: heartbeats report the work since.
    pub iterations_at_start: u64,
}

impl MySession {
    /// Takes one of block `number`'s events; returns the challenge block to answer, if
    /// this event is a challenge that picks `me`.
    pub fn on_event(
        &mut self,
        me: &[u8; 32],
        number: BlockNumber,
        event: &ComputationEvent,
        iterations: u64,
    ) -> Option<BlockNumber> {
        match event {
            ComputationEvent::Started { worker, .. } if worker == me => {
                self.started_at = Some(number);
                self.iterations_at_start = iterations;
                None
            }
            ComputationEvent::Stopped { worker } if worker == me => {
                self.started_at = None;
                None
            }
            ComputationEvent::Challenge { seed, target } => {
                let started = self.started_at?;
                let picked = Challenge {
                    seed: *seed,
                    target: *target,
                }
                .picks(&worker_hash(me));
                (picked && started < number).then_some(number)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_tokenomics::Economics;
    use proptest::prelude::*;

    fn params() -> Params {
        let mut p = Params::from_economics(&Economics::default(), 1_000).unwrap();
        p.worker_challenge_rate = 1 << 64;
        p
    }

    fn started(worker: u8, p_bench: u32) -> ComputationEvent {
        ComputationEvent::Started {
            worker: [worker; 32],
            p_bench,
            confidence_level: 1,
            stake: 0,
            initial_v: 5_000u128 << 64,
            at_ms: 0,
        }
    }

    fn challenge(n: u32) -> ComputationEvent {
        ComputationEvent::Challenge {
            seed: [n as u8; 32],
            target: phala_tokenomics::online_target(&params(), 1),
        }
    }

    fn heartbeat(
        worker: u8,
        challenge_block: u32,
        iterations: u64,
        at_ms: u64,
    ) -> ComputationEvent {
        ComputationEvent::Heartbeat {
            worker: [worker; 32],
            challenge_block,
            iterations,
            at_ms,
        }
    }

    #[test]
    fn a_heartbeat_is_paid_its_share_and_a_missed_challenge_makes_the_worker_offline() {
        let p = params();
        let mut e = Economy::default();
        e.on_event(&p, 1, &started(1, 2000));
        e.on_event(&p, 1, &started(2, 2000));
        assert!(e.end_block(&p, 1).is_empty());
        // Block 2 challenges both; worker 1 answers in block 3, worker 2 never.
        e.on_event(&p, 2, &challenge(2));
        assert!(e.end_block(&p, 2).is_empty());
        e.on_event(&p, 3, &heartbeat(1, 2, 2_000, 6_000));
        let s = e.end_block(&p, 3);
        assert_eq!(s.paid.len(), 1);
        let paid = s.paid[0];
        assert_eq!(paid.worker, [1; 32]);
        // Two equal shares: half of 2 blocks' budget (8.33 PHA a block at 1 s).
        let budget = pha_to_plancks(p.budget_per_block() * Fixed::from_num(2));
        assert!(
            paid.payout.abs_diff(budget / 2) < budget / 100,
            "{} {}",
            paid.payout,
            budget
        );
        // V grew over the two blocks.
        assert!(paid.v > 5_000u128 << 64);
        for n in 4..12 {
            assert!(e.end_block(&p, n).is_empty());
        }
        // Block 12 closes block 2's window: worker 2 is offline, its share gone.
        let s = e.end_block(&p, 12);
        assert_eq!(s.offline.len(), 1);
        assert_eq!(s.offline[0].worker, [2; 32]);
        assert!(e.miners[&[2; 32]].unresponsive);
        assert_eq!(e.sum_share, e.miners[&[1; 32]].share);
        // A heartbeat recovers it.
        e.on_event(&p, 13, &challenge(13));
        e.on_event(&p, 14, &heartbeat(2, 13, 100, 14_000));
        let s = e.end_block(&p, 14);
        assert_eq!(s.recovered, vec![[2; 32]]);
        assert_eq!(s.paid.len(), 1);
        // It was unresponsive from block 12: V decayed for the blocks since.
        assert!(s.paid[0].v < e.miners[&[1; 32]].v + 1);
    }

    #[test]
    fn a_payout_after_a_heartbeat_pause_covers_only_the_blocks_since_the_resume() {
        let p = params();
        let mut e = Economy::default();
        e.on_event(&p, 1, &started(1, 2000));
        // Paused from block 2; resumed at block 50, challenged at 51, answered at 52.
        e.on_event(&p, 50, &ComputationEvent::HeartbeatResumed);
        e.on_event(&p, 51, &challenge(51));
        e.on_event(&p, 52, &heartbeat(1, 51, 2_000, 6_000));
        let s = e.end_block(&p, 52);
        // The only computing worker: the whole budget of blocks 51 and 52, not 2..=52.
        let budget = pha_to_plancks(p.budget_per_block() * Fixed::from_num(2));
        assert!(
            s.paid[0].payout.abs_diff(budget) < budget / 100,
            "{} {budget}",
            s.paid[0].payout
        );
    }

    #[test]
    fn a_worker_answers_only_challenges_after_its_start_that_pick_it() {
        let me = [1u8; 32];
        let mut s = MySession::default();
        assert_eq!(s.on_event(&me, 1, &challenge(1), 0), None);
        s.on_event(&me, 2, &started(1, 2000), 0);
        assert_eq!(s.on_event(&me, 2, &challenge(2), 0), None);
        assert_eq!(s.on_event(&me, 3, &challenge(3), 0), Some(3));
        let none = ComputationEvent::Challenge {
            seed: [0; 32],
            target: [0; 32],
        };
        assert_eq!(s.on_event(&me, 4, &none, 0), None);
        s.on_event(&me, 5, &ComputationEvent::Stopped { worker: me }, 0);
        assert_eq!(s.on_event(&me, 6, &challenge(6), 0), None);
    }

    proptest! {
        /// Gatekeepers fed the same events produce byte-identical settlements, whatever
        /// else they did before (one restarted from its sealed state mid-way).
        #[test]
        fn gatekeepers_fed_the_same_events_settle_identically(
            script in proptest::collection::vec((0u8..6, 0u8..4, 0u64..50_000), 1..80),
            cut in 0usize..80,
        ) {
            let p = params();
            let mut a = Economy::default();
            let mut b = Economy::default();
            for (i, (worker, kind, n)) in script.iter().enumerate() {
                let number = u32::try_from(i).unwrap() + 1;
                let event = match kind {
                    0 => started(*worker, 1000 + u32::from(*worker) * 100),
                    1 => ComputationEvent::Stopped { worker: [*worker; 32] },
                    2 => challenge(number),
                    _ => heartbeat(*worker, number.saturating_sub(1), *n, u64::from(number) * 1000),
                };
                a.on_event(&p, number, &event);
                b.on_event(&p, number, &event);
                if i == cut {
                    b = Economy::decode(&mut b.encode().as_slice()).unwrap();
                }
                prop_assert_eq!(a.end_block(&p, number).encode(), b.end_block(&p, number).encode());
            }
            prop_assert_eq!(a, b);
        }
    }
}
