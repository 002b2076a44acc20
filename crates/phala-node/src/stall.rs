//! What a node that sees no new finalized block is waiting for, said every few seconds
//! instead of nothing (a new validator waiting for its epoch, a full node nobody admitted, a
//! committee short of two thirds all looked the same: silent at block #N).

use std::time::{Duration, Instant};

use phala_runtime::modules::validators::Member;

/// How long without a new finalized block before the node says why, and how often after
/// (at least three block times, for chains with slow blocks).
pub const QUIET: Duration = Duration::from_secs(15);

/// The quiet spell for a chain with `block_time`.
pub fn quiet_for(block_time: Duration) -> Duration {
    QUIET.max(block_time.saturating_mul(3))
}

/// Follows the finalized height and says when a wait deserves a line.
#[derive(Debug)]
pub struct StallWatch {
    height: u32,
    since: Instant,
    said: Option<Instant>,
    quiet: Duration,
}

impl StallWatch {
    pub fn new(height: u32, now: Instant, quiet: Duration) -> Self {
        StallWatch {
            height,
            since: now,
            said: None,
            quiet,
        }
    }

    /// The height at `now`; how long the node has waited, when that should be said now.
    pub fn observe(&mut self, height: u32, now: Instant) -> Option<Duration> {
        if height != self.height {
            *self = StallWatch::new(height, now, self.quiet);
            return None;
        }
        let waited = now.saturating_duration_since(self.since);
        let due = match self.said {
            None => waited >= self.quiet,
            Some(at) => now.saturating_duration_since(at) >= self.quiet,
        };
        if due {
            self.said = Some(now);
            Some(waited)
        } else {
            None
        }
    }
}

/// What this node is waiting for. `committee` is that of the epoch the next block belongs
/// to, if the chain knows it; `me` is a validator's consensus key.
pub fn reason(
    me: Option<[u8; 32]>,
    committee: Option<&[Member]>,
    epoch: u64,
    peers: usize,
) -> String {
    match (me, committee) {
        (Some(key), Some(members)) if members.iter().any(|m| m.consensus_key == key) => {
            format!(
                "waiting for the committee of epoch {epoch}: {peers} peer(s) connected; a \
                 block needs votes from two thirds of its {} members",
                members.len()
            )
        }
        (Some(_), Some(_)) => format!(
            "this validator is not in the committee of epoch {epoch}: it follows the chain \
             and joins when an epoch it was elected for begins ({peers} peer(s) connected)"
        ),
        (Some(_), None) | (None, _) if peers == 0 => "no peer is connected: a full node \
             must be admitted by a validator (`--follower 0xKEY@HOST:PORT` on the validator, \
             KEY being the p2p key this node printed at start), and a validator needs the \
             others' addresses in the spec to be reachable"
            .to_string(),
        _ => format!("{peers} peer(s) connected; waiting for them to send finalized blocks"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_primitives::AccountId32;

    fn member(key: u8) -> Member {
        Member {
            account: AccountId32([key; 32]),
            consensus_key: [key; 32],
            p2p_address: b"127.0.0.1:30333".to_vec(),
        }
    }

    #[test]
    fn a_wait_is_said_after_a_quiet_spell_and_then_every_spell() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(5, t0, quiet_for(Duration::from_secs(1)));
        assert_eq!(watch.observe(5, t0 + Duration::from_secs(14)), None);
        assert_eq!(
            watch.observe(5, t0 + Duration::from_secs(15)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watch.observe(5, t0 + Duration::from_secs(20)), None);
        assert_eq!(
            watch.observe(5, t0 + Duration::from_secs(30)),
            Some(Duration::from_secs(30))
        );
        // Progress resets it.
        assert_eq!(watch.observe(6, t0 + Duration::from_secs(31)), None);
        assert_eq!(watch.observe(6, t0 + Duration::from_secs(45)), None);
    }

    #[test]
    fn each_kind_of_wait_says_what_it_waits_for() {
        let committee = [member(1), member(2), member(3), member(4)];
        let member_wait = reason(Some([1; 32]), Some(&committee), 3, 1);
        assert!(member_wait.contains("two thirds of its 4"), "{member_wait}");
        let outsider = reason(Some([9; 32]), Some(&committee), 3, 2);
        assert!(
            outsider.contains("not in the committee of epoch 3"),
            "{outsider}"
        );
        let alone = reason(None, Some(&committee), 3, 0);
        assert!(alone.contains("--follower"), "{alone}");
        let following = reason(None, None, 3, 2);
        assert!(following.contains("2 peer(s) connected"), "{following}");
    }
}
