use parity_scale_codec::{Decode, Encode};
use phala_primitives::H256;
use scale_info::TypeInfo;

use super::service::{ensure_no_alarm, nudge, one_fewer_deciding, service};
use super::types::{Deposit, ReferendumIndex, ReferendumInfo, ReferendumStatus, Tally, TrackId};
use super::{
    DECIDING_COUNT, Error, Event, METADATA_OF, REFERENDUM_COUNT, REFERENDUM_INFO_FOR, TRACK_QUEUE,
    params, refund, slash, track_for,
};
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::preimage::{self, Bounded};
use crate::modules::scheduler::DispatchTime;
use crate::modules::{balances, system, weights};
use crate::origin::GovOrigin;
use crate::{Ext, OriginCaller};

/// Calls of the `Referenda` module (`pallet_referenda::Call`).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Propose `proposal`, to run as `proposal_origin` at `enactment_moment` if it passes.
    /// Holds the submission deposit.
    #[codec(index = 0)]
    submit {
        proposal_origin: Box<OriginCaller>,
        proposal: Bounded,
        enactment_moment: DispatchTime,
    },
    /// Hold the track's decision deposit for referendum `index`, so it can be decided.
    #[codec(index = 1)]
    place_decision_deposit { index: ReferendumIndex },
    /// Give back the decision deposit of an ended referendum (not a killed one).
    #[codec(index = 2)]
    refund_decision_deposit { index: ReferendumIndex },
    /// End an ongoing referendum, deposits refundable (root or `ReferendumCanceller`).
    #[codec(index = 3)]
    cancel { index: ReferendumIndex },
    /// End an ongoing referendum and slash its deposits (root or `ReferendumKiller`).
    #[codec(index = 4)]
    kill { index: ReferendumIndex },
    /// Bring a referendum up to date (root: the scheduler's alarms).
    #[codec(index = 5)]
    nudge_referendum { index: ReferendumIndex },
    /// Let the next queued referendum of `track` be decided (root). Here a slot is handed
    /// on the moment it frees, so this only checks there is nothing to do.
    #[codec(index = 6)]
    one_fewer_deciding { track: TrackId },
    /// Give back the submission deposit of an approved or cancelled referendum.
    #[codec(index = 7)]
    refund_submission_deposit { index: ReferendumIndex },
    /// Set or clear the metadata (a noted preimage's hash) of a referendum: its submitter
    /// while ongoing, or root.
    #[codec(index = 8)]
    set_metadata {
        index: ReferendumIndex,
        maybe_hash: Option<H256>,
    },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        // Servicing a referendum may start deciding it, move its queue (up to 100
        // entries) and reschedule its alarm.
        // An alarm or an enactment may look through the scheduler's spill blocks.
        let spill = u64::from(crate::modules::scheduler::SPILL_BLOCKS);
        let weight = match self {
            Call::submit { .. } => weights::reads_writes(spill.saturating_add(8), 8),
            Call::place_decision_deposit { .. }
            | Call::cancel { .. }
            | Call::kill { .. }
            | Call::nudge_referendum { .. } => {
                weights::reads_writes(spill.saturating_mul(2).saturating_add(12), 12)
            }
            Call::one_fewer_deciding { .. } => weights::reads_writes(2, 0),
            Call::refund_decision_deposit { .. }
            | Call::refund_submission_deposit { .. }
            | Call::set_metadata { .. } => weights::reads_writes(3, 3),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::submit {
                proposal_origin,
                proposal,
                enactment_moment,
            } => submit(ext, origin, *proposal_origin, proposal, enactment_moment),
            Call::place_decision_deposit { index } => {
                let who = origin.ensure_signed()?;
                let mut status = ongoing(ext, index)?;
                if status.decision_deposit.is_some() {
                    return Err(Error::HasDeposit.into());
                }
                let amount = params(ext)
                    .track(status.track)
                    .ok_or(Error::NoTrack)?
                    .decision_deposit;
                balances::reserve(ext, &who, amount)?;
                status.decision_deposit = Some(Deposit { who, amount });
                let now = system::block_number(ext);
                let track = status.track;
                let (info, freed) = service(ext, now, index, status);
                REFERENDUM_INFO_FOR.insert(ext, &index, &info);
                if freed {
                    one_fewer_deciding(ext, track);
                }
                ext.deposit_event(Event::DecisionDepositPlaced { index, who, amount });
                Ok(())
            }
            Call::refund_decision_deposit { index } => {
                origin.ensure_signed_or_root()?;
                let mut info = REFERENDUM_INFO_FOR
                    .get(ext, &index)
                    .ok_or(Error::BadReferendum)?;
                let deposit = match &mut info {
                    ReferendumInfo::Ongoing(_) => return Err(Error::Unfinished.into()),
                    ReferendumInfo::Killed(_) => return Err(Error::NoDeposit.into()),
                    ReferendumInfo::Approved(_, _, d)
                    | ReferendumInfo::Rejected(_, _, d)
                    | ReferendumInfo::Cancelled(_, _, d)
                    | ReferendumInfo::TimedOut(_, _, d) => d.take().ok_or(Error::NoDeposit)?,
                };
                refund(ext, &deposit);
                REFERENDUM_INFO_FOR.insert(ext, &index, &info);
                ext.deposit_event(Event::DecisionDepositRefunded {
                    index,
                    who: deposit.who,
                    amount: deposit.amount,
                });
                Ok(())
            }
            Call::refund_submission_deposit { index } => {
                origin.ensure_signed_or_root()?;
                let mut info = REFERENDUM_INFO_FOR
                    .get(ext, &index)
                    .ok_or(Error::BadReferendum)?;
                let deposit = match &mut info {
                    ReferendumInfo::Approved(_, s, _) | ReferendumInfo::Cancelled(_, s, _) => {
                        s.take().ok_or(Error::NoDeposit)?
                    }
                    _ => return Err(Error::BadStatus.into()),
                };
                refund(ext, &deposit);
                REFERENDUM_INFO_FOR.insert(ext, &index, &info);
                ext.deposit_event(Event::SubmissionDepositRefunded {
                    index,
                    who: deposit.who,
                    amount: deposit.amount,
                });
                Ok(())
            }
            Call::cancel { index } => {
                origin.ensure_root_or(GovOrigin::ReferendumCanceller)?;
                let mut status = ongoing(ext, index)?;
                end_early(ext, index, &mut status);
                let now = system::block_number(ext);
                ext.deposit_event(Event::Cancelled {
                    index,
                    tally: status.tally,
                });
                REFERENDUM_INFO_FOR.insert(
                    ext,
                    &index,
                    &ReferendumInfo::Cancelled(
                        now,
                        Some(status.submission_deposit.clone()),
                        status.decision_deposit.clone(),
                    ),
                );
                Ok(())
            }
            Call::kill { index } => {
                origin.ensure_root_or(GovOrigin::ReferendumKiller)?;
                let mut status = ongoing(ext, index)?;
                end_early(ext, index, &mut status);
                let now = system::block_number(ext);
                ext.deposit_event(Event::Killed {
                    index,
                    tally: status.tally,
                });
                slash(ext, &status.submission_deposit);
                if let Some(d) = &status.decision_deposit {
                    slash(ext, d);
                }
                if let Some(hash) = METADATA_OF.get(ext, &index) {
                    METADATA_OF.remove(ext, &index);
                    ext.deposit_event(Event::MetadataCleared { index, hash });
                }
                REFERENDUM_INFO_FOR.insert(ext, &index, &ReferendumInfo::Killed(now));
                Ok(())
            }
            Call::nudge_referendum { index } => {
                origin.ensure_root()?;
                nudge(ext, index).map_err(Into::into)
            }
            Call::one_fewer_deciding { track } => {
                origin.ensure_root()?;
                let info = params(ext);
                let track_info = info.track(track).ok_or(Error::BadTrack)?;
                if TRACK_QUEUE.get_or_default(ext, &track).is_empty()
                    || DECIDING_COUNT.get_or_default(ext, &track) >= track_info.max_deciding
                {
                    return Err(Error::NothingToDo.into());
                }
                one_fewer_deciding_refill(ext, track);
                Ok(())
            }
            Call::set_metadata { index, maybe_hash } => {
                let who = origin.ensure_signed_or_root()?;
                if let Some(who) = who {
                    let status = ongoing(ext, index)?;
                    if status.submission_deposit.who != who {
                        return Err(Error::NoPermission.into());
                    }
                }
                match maybe_hash {
                    Some(hash) => {
                        if preimage::len(ext, &hash).is_none() {
                            return Err(Error::PreimageNotExist.into());
                        }
                        METADATA_OF.insert(ext, &index, &hash);
                        ext.deposit_event(Event::MetadataSet { index, hash });
                    }
                    None => {
                        if let Some(hash) = METADATA_OF.get(ext, &index) {
                            METADATA_OF.remove(ext, &index);
                            ext.deposit_event(Event::MetadataCleared { index, hash });
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn ongoing(ext: &Ext, index: ReferendumIndex) -> Result<ReferendumStatus, Error> {
    match REFERENDUM_INFO_FOR.get(ext, &index) {
        Some(ReferendumInfo::Ongoing(status)) => Ok(status),
        _ => Err(Error::NotOngoing),
    }
}

/// Takes a referendum out of deciding or the queue before it ends early.
fn end_early(ext: &mut Ext, index: ReferendumIndex, status: &mut ReferendumStatus) {
    ensure_no_alarm(ext, status);
    if status.deciding.is_some() {
        one_fewer_deciding(ext, status.track);
    } else if status.in_queue {
        let mut queue = TRACK_QUEUE.get_or_default(ext, &status.track);
        queue.as_mut_vec().retain(|(i, _)| *i != index);
        TRACK_QUEUE.insert(ext, &status.track, &queue);
    }
}

/// Admits queued referenda while the track has free slots.
fn one_fewer_deciding_refill(ext: &mut Ext, track: TrackId) {
    // `one_fewer_deciding` hands a slot to the best queued referendum; counting one up
    // first makes it a pure hand-over.
    let count = DECIDING_COUNT.get_or_default(ext, &track);
    DECIDING_COUNT.insert(ext, &track, &count.saturating_add(1));
    one_fewer_deciding(ext, track);
}

fn submit(
    ext: &mut Ext,
    origin: Origin,
    proposal_origin: OriginCaller,
    proposal: Bounded,
    enactment_moment: DispatchTime,
) -> DispatchResult {
    let who = origin.ensure_signed()?;
    let params = params(ext);
    let (track, _) = track_for(&params, &proposal_origin).ok_or(Error::NoTrack)?;
    if let Some((hash, Some(len))) = proposal.lookup()
        && let Some(stored) = preimage::len(ext, &hash)
        && stored != len
    {
        return Err(Error::PreimageStoredWithDifferentLength.into());
    }
    let amount = params.submission_deposit;
    balances::reserve(ext, &who, amount)?;
    let index = REFERENDUM_COUNT.get_or_default(ext);
    REFERENDUM_COUNT.put(ext, &index.saturating_add(1));
    let now = system::block_number(ext);
    let mut status = ReferendumStatus {
        track,
        origin: proposal_origin,
        proposal: proposal.clone(),
        enactment: enactment_moment,
        submitted: now,
        submission_deposit: Deposit { who, amount },
        decision_deposit: None,
        deciding: None,
        tally: Tally::default(),
        in_queue: false,
        alarm: None,
    };
    super::service::ensure_alarm_at(
        ext,
        &mut status,
        index,
        now.saturating_add(params.undeciding_timeout),
    );
    REFERENDUM_INFO_FOR.insert(ext, &index, &ReferendumInfo::Ongoing(status));
    ext.deposit_event(Event::Submitted {
        index,
        track,
        proposal,
    });
    Ok(())
}
