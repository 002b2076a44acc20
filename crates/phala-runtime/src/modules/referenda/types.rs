//! The referendum's wire types, in `pallet_referenda`'s shapes and field order.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber};
use scale_info::TypeInfo;

use crate::OriginCaller;
use crate::arith::{FixedI64, Perbill};
use crate::modules::preimage::Bounded;
use crate::modules::scheduler::{DispatchTime, TaskAddress};

pub type TrackId = u16;
pub type ReferendumIndex = u32;

/// A deposit and who placed it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Deposit {
    pub who: AccountId32,
    pub amount: Balance,
}

/// When a referendum began being decided, and since when it has been confirming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct DecidingStatus {
    pub since: BlockNumber,
    /// The block at which it passes if it keeps passing until then.
    pub confirming: Option<BlockNumber>,
}

/// Votes on a referendum (`pallet_conviction_voting::types::Tally`): conviction-weighted
/// ayes and nays, and the raw PHA behind the ayes (and abstentions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Tally {
    pub ayes: Balance,
    pub nays: Balance,
    pub support: Balance,
}

impl Tally {
    /// Share of the votes that are ayes, rounded down (zero with no votes).
    pub fn approval(&self) -> Perbill {
        Perbill::from_rational(self.ayes, self.ayes.saturating_add(self.nays))
    }

    /// Share of the PHA that could vote that backs the ayes, rounded down.
    pub fn support(&self, turnout: Balance) -> Perbill {
        Perbill::from_rational(self.support, turnout)
    }
}

/// An ongoing referendum (`pallet_referenda::types::ReferendumStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ReferendumStatus {
    pub track: TrackId,
    /// The origin the proposal runs with if it passes.
    pub origin: OriginCaller,
    pub proposal: Bounded,
    pub enactment: DispatchTime,
    pub submitted: BlockNumber,
    pub submission_deposit: Deposit,
    pub decision_deposit: Option<Deposit>,
    pub deciding: Option<DecidingStatus>,
    pub tally: Tally,
    /// Waiting for a deciding slot on its track.
    pub in_queue: bool,
    /// When it is next looked at, and the scheduler task that does it.
    pub alarm: Option<(BlockNumber, TaskAddress)>,
}

/// A referendum, ongoing or ended (`pallet_referenda::types::ReferendumInfo`). Ended ones
/// keep the block they ended at and the deposits not yet refunded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ReferendumInfo {
    #[codec(index = 0)]
    Ongoing(ReferendumStatus),
    #[codec(index = 1)]
    Approved(BlockNumber, Option<Deposit>, Option<Deposit>),
    #[codec(index = 2)]
    Rejected(BlockNumber, Option<Deposit>, Option<Deposit>),
    #[codec(index = 3)]
    Cancelled(BlockNumber, Option<Deposit>, Option<Deposit>),
    #[codec(index = 4)]
    TimedOut(BlockNumber, Option<Deposit>, Option<Deposit>),
    #[codec(index = 5)]
    Killed(BlockNumber),
}

/// A threshold falling over the decision period (`pallet_referenda::types::Curve`): `x` is
/// the share of the period gone, the result the approval or support needed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Curve {
    /// From `ceil` down to `floor` over `length` of the period, then flat.
    #[codec(index = 0)]
    LinearDecreasing {
        length: Perbill,
        floor: Perbill,
        ceil: Perbill,
    },
    /// From `begin`, down `step` every `period`, never below `end`.
    #[codec(index = 1)]
    SteppedDecreasing {
        begin: Perbill,
        end: Perbill,
        step: Perbill,
        period: Perbill,
    },
    /// `factor / (x + x_offset) + y_offset`, clamped to [0, 1].
    #[codec(index = 2)]
    Reciprocal {
        factor: FixedI64,
        x_offset: FixedI64,
        y_offset: FixedI64,
    },
}

impl Curve {
    /// The linear curve `ceil → floor` over the whole period.
    pub const fn linear(floor: Perbill, ceil: Perbill) -> Curve {
        Curve::LinearDecreasing {
            length: Perbill::ONE,
            floor,
            ceil,
        }
    }

    /// The threshold at `x`.
    pub fn threshold(&self, x: Perbill) -> Perbill {
        let b = i128::from(crate::arith::BILLION);
        match *self {
            Curve::LinearDecreasing {
                length,
                floor,
                ceil,
            } => {
                let gone = Perbill::from_rational(
                    u128::from(x.min(length).deconstruct()),
                    u128::from(length.deconstruct()),
                );
                let drop = gone.mul_floor(u128::from(ceil.saturating_sub(floor).deconstruct()));
                ceil.saturating_sub(Perbill::from_parts(u32::try_from(drop).unwrap_or(u32::MAX)))
            }
            Curve::SteppedDecreasing {
                begin,
                end,
                step,
                period,
            } => {
                let steps = x
                    .deconstruct()
                    .checked_div(period.deconstruct())
                    .unwrap_or(0);
                let down = step.deconstruct().saturating_mul(steps);
                begin.saturating_sub(Perbill::from_parts(down)).max(end)
            }
            Curve::Reciprocal {
                factor,
                x_offset,
                y_offset,
            } => {
                let denom = i128::from(x.deconstruct()).saturating_add(i128::from(x_offset.0));
                if denom <= 0 {
                    return Perbill::ONE;
                }
                let y = i128::from(factor.0)
                    .saturating_mul(b)
                    .checked_div(denom)
                    .unwrap_or(b)
                    .saturating_add(i128::from(y_offset.0))
                    .clamp(0, b);
                Perbill::from_parts(u32::try_from(y).unwrap_or(u32::MAX))
            }
        }
    }

    /// Whether `y` meets the threshold at `x`.
    pub fn passing(&self, x: Perbill, y: Perbill) -> bool {
        y >= self.threshold(x)
    }

    /// The least `x` at which `y` meets the threshold (one if it never does): every curve
    /// here falls as `x` grows, so a binary search finds it.
    pub fn delay(&self, y: Perbill) -> Perbill {
        if self.passing(Perbill::ZERO, y) {
            return Perbill::ZERO;
        }
        if !self.passing(Perbill::ONE, y) {
            return Perbill::ONE;
        }
        let (mut lo, mut hi) = (0u32, crate::arith::BILLION);
        // Invariant: failing at lo, passing at hi.
        while hi.saturating_sub(lo) > 1 {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            if self.passing(Perbill::from_parts(mid), y) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Perbill::from_parts(hi)
    }
}

/// A track's rules (`pallet_referenda::types::TrackDetails`, `TrackInfo` before).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct TrackInfo {
    pub name: String,
    /// Referenda decided at once; more wait in the track's queue.
    pub max_deciding: u32,
    pub decision_deposit: Balance,
    /// Blocks after submission before deciding may start.
    pub prepare_period: BlockNumber,
    /// Blocks a referendum may be decided for before it is rejected.
    pub decision_period: BlockNumber,
    /// Blocks it must keep passing to be approved.
    pub confirm_period: BlockNumber,
    /// Least blocks from approval to enactment.
    pub min_enactment_period: BlockNumber,
    pub min_approval: Curve,
    pub min_support: Curve,
}
