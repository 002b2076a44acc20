//! The tracks: which origin each decides, and the chain's rules for each.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Balance, BlockNumber, PHA};
use scale_info::TypeInfo;

use super::types::{Curve, TrackId, TrackInfo};
use crate::OriginCaller;
use crate::arith::Perbill;
use crate::origin::{GovOrigin, RawOrigin};

/// Every track this runtime knows, with the origin it grants: Polkadot's ids, plus 40 for
/// `parameters`.
pub const TRACK_IDS: [(TrackId, &str, OriginCaller); 8] = [
    (0, "root", OriginCaller::system(RawOrigin::Root)),
    (11, "treasurer", OriginCaller::Origins(GovOrigin::Treasurer)),
    (
        20,
        "referendum_canceller",
        OriginCaller::Origins(GovOrigin::ReferendumCanceller),
    ),
    (
        21,
        "referendum_killer",
        OriginCaller::Origins(GovOrigin::ReferendumKiller),
    ),
    (
        32,
        "small_spender",
        OriginCaller::Origins(GovOrigin::SmallSpender),
    ),
    (
        33,
        "medium_spender",
        OriginCaller::Origins(GovOrigin::MediumSpender),
    ),
    (
        34,
        "big_spender",
        OriginCaller::Origins(GovOrigin::BigSpender),
    ),
    (
        40,
        "parameters",
        OriginCaller::Origins(GovOrigin::Parameters),
    ),
];

/// The origin a track grants.
pub fn origin_for_track(track: TrackId) -> Option<OriginCaller> {
    TRACK_IDS
        .iter()
        .find(|(id, _, _)| *id == track)
        .map(|(_, _, o)| *o)
}

/// The track that decides proposals asking for `origin`, if this chain has it.
pub fn track_for<'a>(
    params: &'a GovernanceParams,
    origin: &OriginCaller,
) -> Option<(TrackId, &'a TrackInfo)> {
    let id = TRACK_IDS
        .iter()
        .find(|(_, _, o)| o == origin)
        .map(|(id, _, _)| *id)?;
    params.track(id).map(|t| (id, t))
}

/// Blocks of `block_ms` in `secs` seconds, at least one.
fn blocks_of(secs: u64, block_ms: u64) -> BlockNumber {
    let blocks = secs
        .saturating_mul(1_000)
        .checked_div(block_ms)
        .unwrap_or(u64::MAX)
        .max(1);
    u32::try_from(blocks).unwrap_or(u32::MAX)
}

/// A chain's governance rules.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct GovernanceParams {
    /// Held from the submitter of every referendum.
    pub submission_deposit: Balance,
    /// Blocks a referendum may wait to be decided before it times out.
    pub undeciding_timeout: BlockNumber,
    /// Blocks one conviction-lock period lasts (`ConvictionVoting.VoteLockingPeriod`).
    pub vote_locking_period: BlockNumber,
    /// The tracks, sorted by id.
    pub tracks: Vec<(TrackId, TrackInfo)>,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        GovernanceParams::live(1_000)
    }
}

/// Why governance parameters are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error("track {0} is not one this runtime knows (known: 0, 11, 20, 21, 32, 33, 34, 40)")]
    UnknownTrack(TrackId),
    #[error("track {0} appears twice")]
    DuplicateTrack(TrackId),
    #[error("track {0} has a zero max_deciding, decision period or confirm period")]
    ZeroPeriod(TrackId),
    #[error("the vote locking period is zero")]
    ZeroLock,
    #[error("a chain needs the root track (id 0)")]
    NoRoot,
}

impl GovernanceParams {
    pub fn track(&self, id: TrackId) -> Option<&TrackInfo> {
        self.tracks
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, info)| info)
    }

    /// Sorts the tracks and checks them.
    pub fn normalize(mut self) -> Result<Self, ParamsError> {
        self.tracks.sort_by_key(|(id, _)| *id);
        for pair in self.tracks.windows(2) {
            if let [(a, _), (b, _)] = pair
                && a == b
            {
                return Err(ParamsError::DuplicateTrack(*a));
            }
        }
        for (id, t) in &self.tracks {
            if origin_for_track(*id).is_none() {
                return Err(ParamsError::UnknownTrack(*id));
            }
            if t.max_deciding == 0 || t.decision_period == 0 || t.confirm_period == 0 {
                return Err(ParamsError::ZeroPeriod(*id));
            }
        }
        if self.vote_locking_period == 0 {
            return Err(ParamsError::ZeroLock);
        }
        if self.track(0).is_none() {
            return Err(ParamsError::NoRoot);
        }
        Ok(self)
    }

    /// A live chain's rules, after Polkadot's (periods in days, converted to blocks of
    /// `block_ms`; deposits scaled to PHA).
    pub fn live(block_ms: u64) -> Self {
        let blocks = |secs: u64| blocks_of(secs, block_ms);
        const H: u64 = 3_600;
        const D: u64 = 24 * H;
        let approval = Curve::linear(Perbill::from_percent(50), Perbill::ONE);
        let support = Curve::linear(Perbill::ZERO, Perbill::from_percent(50));
        let track = |name: &str, max, deposit, prep, decision, confirm, enact| TrackInfo {
            name: name.into(),
            max_deciding: max,
            decision_deposit: deposit,
            prepare_period: blocks(prep),
            decision_period: blocks(decision),
            confirm_period: blocks(confirm),
            min_enactment_period: blocks(enact),
            min_approval: approval.clone(),
            min_support: support.clone(),
        };
        GovernanceParams {
            submission_deposit: 10 * PHA,
            undeciding_timeout: blocks(14 * D),
            vote_locking_period: blocks(7 * D),
            tracks: vec![
                (0, track("root", 1, 100_000 * PHA, 2 * H, 7 * D, D, D)),
                (
                    11,
                    track("treasurer", 10, 10_000 * PHA, 2 * H, 7 * D, 2 * D, D),
                ),
                (
                    20,
                    track(
                        "referendum_canceller",
                        100,
                        1_000 * PHA,
                        2 * H,
                        7 * D,
                        3 * H,
                        10 * 60,
                    ),
                ),
                (
                    21,
                    track(
                        "referendum_killer",
                        100,
                        5_000 * PHA,
                        2 * H,
                        7 * D,
                        3 * H,
                        10 * 60,
                    ),
                ),
                (
                    32,
                    track("small_spender", 50, 1_000 * PHA, 4 * H, 7 * D, 12 * H, D),
                ),
                (
                    33,
                    track("medium_spender", 50, 2_000 * PHA, 4 * H, 7 * D, D, D),
                ),
                (
                    34,
                    track("big_spender", 50, 4_000 * PHA, 4 * H, 7 * D, 2 * D, D),
                ),
                (
                    40,
                    track("parameters", 10, 10_000 * PHA, 2 * H, 7 * D, D, D),
                ),
            ],
        }
    }

    /// A development chain's rules: the same tracks, decided in seconds, so a referendum
    /// passes within half a minute.
    pub fn development(block_ms: u64) -> Self {
        let blocks = |secs: u64| blocks_of(secs, block_ms);
        let approval = Curve::linear(Perbill::from_percent(50), Perbill::ONE);
        let support = Curve::linear(Perbill::ZERO, Perbill::from_percent(50));
        let track = |name: &str, max, deposit| TrackInfo {
            name: name.into(),
            max_deciding: max,
            decision_deposit: deposit,
            prepare_period: blocks(4),
            decision_period: blocks(300),
            confirm_period: blocks(6),
            min_enactment_period: blocks(4),
            min_approval: approval.clone(),
            min_support: support.clone(),
        };
        GovernanceParams {
            submission_deposit: 10 * PHA,
            undeciding_timeout: blocks(1_800),
            vote_locking_period: blocks(30),
            tracks: vec![
                (0, track("root", 1, 1_000 * PHA)),
                (11, track("treasurer", 10, 100 * PHA)),
                (20, track("referendum_canceller", 100, 100 * PHA)),
                (21, track("referendum_killer", 100, 100 * PHA)),
                (32, track("small_spender", 50, 10 * PHA)),
                (33, track("medium_spender", 50, 20 * PHA)),
                (34, track("big_spender", 50, 40 * PHA)),
                (40, track("parameters", 10, 100 * PHA)),
            ],
        }
    }
}
