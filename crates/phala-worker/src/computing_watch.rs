//! What a computing worker's operator sees: its session as the chain has it (state, stake,
//! V, P, heartbeats, rewards) on `/info` and in Prometheus, and a loud warning when it
//! computes and answers its challenges but its rewards stop (classic Phala's workers lost
//! rewards silently), or when the chain has marked it unresponsive.

use std::time::{Duration, Instant};

use phala_primitives::Balance;
use phala_runtime::modules::computation::{self, Session, WorkerState};
use serde::Serialize;

/// How often the session is read from the chain.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Heartbeats the chain may accept without a payout before the worker says so.
const UNPAID_HEARTBEATS: u32 = 3;
/// Heartbeats this worker may send that the chain does not take before it says so.
const UNACCEPTED_HEARTBEATS: u64 = 3;

/// The session as `/info` shows it: amounts in plancks (exact, for programs) and in PHA
/// (for people), V in PHA.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputingInfo {
    pub state: String,
    pub pool: Option<u64>,
    pub stake: String,
    pub stake_pha: String,
    pub v: String,
    pub p: u32,
    pub heartbeats_sent: u64,
    pub heartbeats_accepted: u32,
    pub challenges_missed: u32,
    pub last_heartbeat_at: u32,
    pub total_reward: String,
    pub total_reward_pha: String,
    /// Why the operator should look, if something is wrong.
    pub warning: Option<String>,
}

/// Follows the session between checks.
#[derive(Debug, Default)]
pub struct Watch {
    last_check: Option<Instant>,
    /// Accepted heartbeats and rewards when the total reward last grew.
    paid_mark: Option<(u32, Balance)>,
    /// Heartbeats sent and accepted when the chain last took one.
    accepted_mark: Option<(u64, u32)>,
    /// The last warning logged, so it is said when it changes, not every check.
    said: Option<String>,
}

impl Watch {
    /// Whether it is time to read the session again.
    pub fn due(&self) -> bool {
        self.last_check.is_none_or(|t| t.elapsed() >= CHECK_EVERY)
    }

    /// Takes the chain's view of the session and the heartbeats this worker sent; returns
    /// what `/info` shows, and a warning to log if a new one arose.
    pub fn observe(
        &mut self,
        session: Option<&Session>,
        pool: Option<u64>,
        heartbeats_sent: u64,
    ) -> (Option<ComputingInfo>, Option<String>) {
        self.last_check = Some(Instant::now());
        let Some(s) = session else {
            self.paid_mark = None;
            self.accepted_mark = None;
            self.said = None;
            return (None, None);
        };
        let computing = matches!(s.state, WorkerState::Idle | WorkerState::Unresponsive);
        let warning = if !computing {
            self.paid_mark = None;
            self.accepted_mark = None;
            None
        } else {
            self.judge(s, heartbeats_sent)
        };
        let fresh = warning.clone().filter(|w| self.said.as_ref() != Some(w));
        self.said = warning.clone();
        let info = ComputingInfo {
            state: format!("{:?}", s.state),
            pool,
            stake: s.stake.to_string(),
            stake_pha: phala_primitives::format_pha(s.stake),
            v: phala_tokenomics::format_fixed(computation::value_of(s.v), 6),
            p: s.p_bench,
            heartbeats_sent,
            heartbeats_accepted: s.heartbeats,
            challenges_missed: s.missed,
            last_heartbeat_at: s.last_heartbeat_at,
            total_reward: s.total_reward.to_string(),
            total_reward_pha: phala_primitives::format_pha(s.total_reward),
            warning,
        };
        (Some(info), fresh)
    }

    fn judge(&mut self, s: &Session, sent: u64) -> Option<String> {
        if s.state == WorkerState::Unresponsive {
            return Some(format!(
                "the chain marked this worker Unresponsive (challenges missed: {}): its value \
                 decays until it answers again; check that it keeps up with the chain",
                s.missed
            ));
        }
        // Rewards: the total must grow within a few accepted heartbeats.
        let (paid_at, reward) = *self.paid_mark.get_or_insert((s.heartbeats, s.total_reward));
        if s.total_reward > reward {
            self.paid_mark = Some((s.heartbeats, s.total_reward));
        } else if s.heartbeats.saturating_sub(paid_at) >= UNPAID_HEARTBEATS {
            return Some(format!(
                "COMPUTING WITHOUT REWARDS: the chain accepted {} heartbeats since the last \
                 payout and paid nothing; the gatekeepers may not be settling (see \
                 SettlementApplied events) or the reward pool may be empty \
                 (RewardPoolExhausted)",
                s.heartbeats.saturating_sub(paid_at)
            ));
        }
        // Heartbeats: what this worker sends must reach the chain.
        let (sent_at, accepted) = *self.accepted_mark.get_or_insert((sent, s.heartbeats));
        if s.heartbeats > accepted {
            self.accepted_mark = Some((sent, s.heartbeats));
        } else if sent.saturating_sub(sent_at) >= UNACCEPTED_HEARTBEATS {
            return Some(format!(
                "HEARTBEATS NOT ACCEPTED: this worker sent {} heartbeats the chain has not \
                 taken; check that its messages are submitted (operator balance, node \
                 reachable) and see MessageQueue.DispatchFailed events",
                sent.saturating_sub(sent_at)
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(heartbeats: u32, reward: Balance) -> Session {
        Session {
            state: WorkerState::Idle,
            heartbeats,
            total_reward: reward,
            ..Default::default()
        }
    }

    #[test]
    fn heartbeats_without_rewards_and_unaccepted_heartbeats_are_said_once() {
        let mut w = Watch::default();
        assert_eq!(w.observe(Some(&session(0, 0)), Some(0), 0).1, None);
        assert_eq!(w.observe(Some(&session(1, 5)), Some(0), 1).1, None);
        // Three accepted heartbeats, no payout: said, then not repeated.
        let (info, said) = w.observe(Some(&session(4, 5)), Some(0), 4);
        assert!(said.unwrap().contains("WITHOUT REWARDS"));
        assert!(info.unwrap().warning.is_some());
        assert_eq!(w.observe(Some(&session(4, 5)), Some(0), 4).1, None);
        // Paid again: all clear.
        let (info, said) = w.observe(Some(&session(5, 9)), Some(0), 5);
        assert_eq!((info.unwrap().warning, said), (None, None));
        // Sent, never taken.
        let said = w.observe(Some(&session(5, 9)), Some(0), 9).1;
        assert!(said.unwrap().contains("NOT ACCEPTED"));
        // Unresponsive is said too; out of a pool, nothing.
        let mut s = session(5, 9);
        s.state = WorkerState::Unresponsive;
        assert!(
            w.observe(Some(&s), Some(0), 9)
                .1
                .unwrap()
                .contains("Unresponsive")
        );
        assert_eq!(w.observe(None, None, 9), (None, None));
    }
}
