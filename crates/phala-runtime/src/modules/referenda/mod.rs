//! `Referenda`: proposals PHA holders decide by conviction vote, each on the track of the
//! origin it asks for.
//!
//! Substrate's `pallet-referenda` (OpenGov), same calls, storage, events and lifecycle:
//! anyone submits a proposal with a submission deposit, asking for an origin (root, or one
//! of governance's own); the origin picks the track, whose rules decide it. Once someone
//! places the track's decision deposit and the prepare period is over, the referendum is
//! decided (or queued while the track is full). It passes once its approval and support
//! stay above the track's curves for the confirm period, and its proposal is then
//! scheduled as that origin after the enactment delay; it fails if the decision period
//! ends first. Alarms in the scheduler bring each referendum back when something can
//! change.
//!
//! The tracks and periods are chain parameters (the chain spec's `governance`), so a
//! development chain decides in seconds what a live chain decides in weeks.

mod calls;
mod service;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod tracks;
mod types;

pub use calls::Call;
pub use service::{PollState, Standing, enactment_name, max_turnout, poll, set_tally, turnout_of};
pub use tracks::{GovernanceParams, TRACK_IDS, origin_for_track, track_for};
pub use types::{
    Curve, DecidingStatus, Deposit, ReferendumIndex, ReferendumInfo, ReferendumStatus, Tally,
    TrackId, TrackInfo,
};

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Balance, BlockNumber, H256, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::bounded::BoundedVec;
use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::preimage::Bounded;
use crate::modules::{balances, index};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Referenda";

/// Referenda one track's queue may hold (Polkadot's 100).
pub const MAX_QUEUED: u32 = 100;
/// Blocks between alarms (Polkadot's 1).
pub const ALARM_INTERVAL: BlockNumber = 1;

pub type TrackQueue = BoundedVec<(ReferendumIndex, Balance), MAX_QUEUED>;

pub const REFERENDUM_COUNT: StorageValue<ReferendumIndex> = StorageValue::new(
    MODULE,
    "ReferendumCount",
    Query::Default,
    &[" The next free referendum index, aka the number of referenda started so far."],
);

pub const REFERENDUM_INFO_FOR: StorageMap<ReferendumIndex, ReferendumInfo> = StorageMap::new(
    MODULE,
    "ReferendumInfoFor",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Information concerning any given referendum."],
);

pub const TRACK_QUEUE: StorageMap<TrackId, TrackQueue> = StorageMap::new(
    MODULE,
    "TrackQueue",
    Hasher::Twox64Concat,
    Query::Default,
    &[
        " The sorted list of referenda ready to be decided but not yet being decided, ordered by",
        " conviction-weighted approvals.",
    ],
);

pub const DECIDING_COUNT: StorageMap<TrackId, u32> = StorageMap::new(
    MODULE,
    "DecidingCount",
    Hasher::Twox64Concat,
    Query::Default,
    &[" The number of referenda being decided currently."],
);

pub const METADATA_OF: StorageMap<ReferendumIndex, H256> = StorageMap::new(
    MODULE,
    "MetadataOf",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The metadata (a preimage hash) of a referendum."],
);

/// The chain's governance parameters (not in upstream, whose tracks are compiled in):
/// deposits, timeouts and every track's rules.
pub const PARAMS: StorageValue<GovernanceParams> = StorageValue::new(
    MODULE,
    "Params",
    Query::Optional,
    &[" This chain's tracks, submission deposit and undeciding timeout."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        REFERENDUM_COUNT.metadata(),
        REFERENDUM_INFO_FOR.metadata_optional(),
        TRACK_QUEUE.metadata(),
        DECIDING_COUNT.metadata(),
        METADATA_OF.metadata(),
        PARAMS.metadata(),
    ]
}

/// The governance parameters in force (the genesis always writes them; a chain without
/// them has no tracks).
pub fn params(ext: &Ext) -> GovernanceParams {
    PARAMS.get(ext).unwrap_or_default()
}

/// Events of the `Referenda` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A referendum has been submitted.
    #[codec(index = 0)]
    Submitted {
        index: ReferendumIndex,
        track: TrackId,
        proposal: Bounded,
    },
    /// The decision deposit has been placed.
    #[codec(index = 1)]
    DecisionDepositPlaced {
        index: ReferendumIndex,
        who: phala_primitives::AccountId32,
        amount: Balance,
    },
    /// The decision deposit has been refunded.
    #[codec(index = 2)]
    DecisionDepositRefunded {
        index: ReferendumIndex,
        who: phala_primitives::AccountId32,
        amount: Balance,
    },
    /// A deposit has been slashed.
    #[codec(index = 3)]
    DepositSlashed {
        who: phala_primitives::AccountId32,
        amount: Balance,
    },
    /// A referendum has moved into the deciding phase.
    #[codec(index = 4)]
    DecisionStarted {
        index: ReferendumIndex,
        track: TrackId,
        proposal: Bounded,
        tally: Tally,
    },
    #[codec(index = 5)]
    ConfirmStarted { index: ReferendumIndex },
    #[codec(index = 6)]
    ConfirmAborted { index: ReferendumIndex },
    /// A referendum has ended its confirmation phase and is ready for approval.
    #[codec(index = 7)]
    Confirmed {
        index: ReferendumIndex,
        tally: Tally,
    },
    /// A referendum has been approved and its proposal has been scheduled (declared
    /// upstream and never emitted; `Confirmed` is the approval).
    #[codec(index = 8)]
    Approved { index: ReferendumIndex },
    /// A proposal has been rejected by referendum.
    #[codec(index = 9)]
    Rejected {
        index: ReferendumIndex,
        tally: Tally,
    },
    /// A referendum has been timed out without being decided.
    #[codec(index = 10)]
    TimedOut {
        index: ReferendumIndex,
        tally: Tally,
    },
    /// A referendum has been cancelled.
    #[codec(index = 11)]
    Cancelled {
        index: ReferendumIndex,
        tally: Tally,
    },
    /// A referendum has been killed.
    #[codec(index = 12)]
    Killed {
        index: ReferendumIndex,
        tally: Tally,
    },
    /// The submission deposit has been refunded.
    #[codec(index = 13)]
    SubmissionDepositRefunded {
        index: ReferendumIndex,
        who: phala_primitives::AccountId32,
        amount: Balance,
    },
    /// Metadata for a referendum has been set.
    #[codec(index = 14)]
    MetadataSet { index: ReferendumIndex, hash: H256 },
    /// Metadata for a referendum has been cleared.
    #[codec(index = 15)]
    MetadataCleared { index: ReferendumIndex, hash: H256 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Referenda(e)
    }
}

/// Errors of the `Referenda` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Referendum is not ongoing.
    NotOngoing,
    /// Referendum's decision deposit is already paid.
    HasDeposit,
    /// The track identifier given was invalid.
    BadTrack,
    /// There are already a full complement of referenda in progress for this track.
    Full,
    /// The queue of the track is empty.
    QueueEmpty,
    /// The referendum index provided is invalid in this context.
    BadReferendum,
    /// There was nothing to do in the advancement.
    NothingToDo,
    /// No track exists for the proposal origin.
    NoTrack,
    /// Any deposit cannot be refunded until after the decision is over.
    Unfinished,
    /// The deposit refunder is not the depositor.
    NoPermission,
    /// The deposit cannot be refunded since none was made.
    NoDeposit,
    /// The referendum status is invalid for this operation.
    BadStatus,
    /// The preimage does not exist.
    PreimageNotExist,
    /// The preimage is stored with a different length than the one provided.
    PreimageStoredWithDifferentLength,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::REFERENDA;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// Gives a deposit back.
fn refund(ext: &mut Ext, deposit: &Deposit) {
    // What cannot be unreserved was already taken (never, with these deposits): nothing
    // more to give back.
    let _ = balances::unreserve(ext, &deposit.who, deposit.amount);
}

/// Moves a deposit to the treasury.
fn slash(ext: &mut Ext, deposit: &Deposit) {
    let moved = balances::repatriate_reserved(
        ext,
        &deposit.who,
        &crate::modules::TREASURY_ACCOUNT,
        deposit.amount,
        balances::BalanceStatus::Free,
    );
    if moved.is_ok() {
        ext.deposit_event(Event::DepositSlashed {
            who: deposit.who,
            amount: deposit.amount,
        });
    } else {
        // The deposit could not move whole (the treasury account below ED cannot happen
        // with a deposit above ED): give it back rather than leave it reserved forever.
        refund(ext, deposit);
    }
}

/// The module's constants with `params`' values.
pub fn constants(params: &GovernanceParams) -> Vec<frame_metadata::v14::PalletConstantMetadata> {
    vec![
        crate::metadata::constant(
            "SubmissionDeposit",
            &params.submission_deposit,
            " The minimum amount to be used as a deposit for a public referendum proposal.",
        ),
        crate::metadata::constant(
            "MaxQueued",
            &MAX_QUEUED,
            " Maximum size of the referendum queue for a single track.",
        ),
        crate::metadata::constant(
            "UndecidingTimeout",
            &params.undeciding_timeout,
            " The number of blocks after submission that a referendum must begin being decided by.",
        ),
        crate::metadata::constant(
            "AlarmInterval",
            &ALARM_INTERVAL,
            " Quantization level for the referendum wakeup scheduler.",
        ),
        crate::metadata::constant(
            "Tracks",
            &params.tracks,
            " Information concerning the different referendum tracks.",
        ),
    ]
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Referenda",
        index: index::REFERENDA,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: constants(&GovernanceParams::default()),
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Proposals decided by conviction vote on the track of the origin they ask for.",
    }
}
