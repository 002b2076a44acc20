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
pub(crate) fn blocks_of(secs: u64, block_ms: u64) -> BlockNumber {
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
        const H: u64 = 3_600;
        const D: u64 = 24 * H;
        let track = |id, max, deposit, periods| default_track(id, max, deposit, periods, block_ms);
        GovernanceParams {
            submission_deposit: 10 * PHA,
            undeciding_timeout: blocks_of(14 * D, block_ms),
            vote_locking_period: blocks_of(7 * D, block_ms),
            tracks: vec![
                track(0, 1, 100_000 * PHA, [2 * H, 7 * D, D, D]),
                track(11, 10, 10_000 * PHA, [2 * H, 7 * D, 2 * D, D]),
                track(20, 100, 1_000 * PHA, [2 * H, 7 * D, 3 * H, 10 * 60]),
                track(21, 100, 5_000 * PHA, [2 * H, 7 * D, 3 * H, 10 * 60]),
                track(32, 50, 1_000 * PHA, [4 * H, 7 * D, 12 * H, D]),
                track(33, 50, 2_000 * PHA, [4 * H, 7 * D, D, D]),
                track(34, 50, 4_000 * PHA, [4 * H, 7 * D, 2 * D, D]),
                track(40, 10, 10_000 * PHA, [2 * H, 7 * D, D, D]),
            ],
        }
    }

    /// A development chain's rules: the same tracks, decided in seconds, so a referendum
    /// passes within half a minute.
    pub fn development(block_ms: u64) -> Self {
        let periods = [4, 300, 6, 4];
        let track = |id, max, deposit| default_track(id, max, deposit, periods, block_ms);
        GovernanceParams {
            submission_deposit: 10 * PHA,
            undeciding_timeout: blocks_of(1_800, block_ms),
            vote_locking_period: blocks_of(30, block_ms),
            tracks: vec![
                track(0, 1, 1_000 * PHA),
                track(11, 10, 100 * PHA),
                track(20, 100, 100 * PHA),
                track(21, 100, 100 * PHA),
                track(32, 50, 10 * PHA),
                track(33, 50, 20 * PHA),
                track(34, 50, 40 * PHA),
                track(40, 10, 100 * PHA),
            ],
        }
    }
}

/// Track `id` (named as [`TRACK_IDS`] names it) with the default curves — approval from
/// 100 % to 50 % and support from 50 % to 0 % over the decision period — and its prepare,
/// decision, confirm and enactment periods given in seconds.
fn default_track(
    id: TrackId,
    max_deciding: u32,
    decision_deposit: Balance,
    [prepare, decision, confirm, enact]: [u64; 4],
    block_ms: u64,
) -> (TrackId, TrackInfo) {
    let name = TRACK_IDS
        .iter()
        .find(|(t, _, _)| *t == id)
        .map_or("unknown", |(_, name, _)| *name);
    let info = TrackInfo {
        name: name.into(),
        max_deciding,
        decision_deposit,
        prepare_period: blocks_of(prepare, block_ms),
        decision_period: blocks_of(decision, block_ms),
        confirm_period: blocks_of(confirm, block_ms),
        min_enactment_period: blocks_of(enact, block_ms),
        min_approval: Curve::linear(Perbill::from_percent(50), Perbill::ONE),
        min_support: Curve::linear(Perbill::ZERO, Perbill::from_percent(50)),
    };
    (id, info)
}
