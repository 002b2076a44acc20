//! The referendum lifecycle: deciding, queueing, confirming, approval, rejection and
//! timeouts, brought about by alarms in the scheduler.

use parity_scale_codec::Encode;
use phala_primitives::{Balance, BlockNumber, hashing};

use super::types::{
    DecidingStatus, ReferendumIndex, ReferendumInfo, ReferendumStatus, Tally, TrackId, TrackInfo,
};
use super::{
    ALARM_INTERVAL, Call, DECIDING_COUNT, Event, REFERENDUM_INFO_FOR, TRACK_QUEUE, params,
};
use crate::arith::Perbill;
use crate::modules::preimage::Bounded;
use crate::modules::scheduler;
use crate::modules::{REWARD_POOL_ACCOUNT, TREASURY_ACCOUNT, balances, system};
use crate::origin::Origin;
use crate::{Ext, RuntimeCall};

/// Priority of enactments (upstream's 63) and of alarms (128).
const ENACTMENT_PRIORITY: u8 = 63;
const ALARM_PRIORITY: u8 = 128;

/// What a vote may find: a referendum being voted on, one that ended with a result, or
/// none (never existed, cancelled, timed out or killed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollState {
    Ongoing { tally: Tally, track: TrackId },
    Completed { end: BlockNumber, approved: bool },
    None,
}

pub fn poll(ext: &Ext, index: ReferendumIndex) -> PollState {
    match REFERENDUM_INFO_FOR.get(ext, &index) {
        Some(ReferendumInfo::Ongoing(status)) => PollState::Ongoing {
            tally: status.tally,
            track: status.track,
        },
        Some(ReferendumInfo::Approved(end, ..)) => PollState::Completed {
            end,
            approved: true,
        },
        Some(ReferendumInfo::Rejected(end, ..)) => PollState::Completed {
            end,
            approved: false,
        },
        _ => PollState::None,
    }
}

/// Writes a new tally for an ongoing referendum and looks at it again next block.
pub fn set_tally(ext: &mut Ext, index: ReferendumIndex, tally: Tally) -> bool {
    let Some(ReferendumInfo::Ongoing(mut status)) = REFERENDUM_INFO_FOR.get(ext, &index) else {
        return false;
    };
    status.tally = tally;
    let now = system::block_number(ext);
    ensure_alarm_at(ext, &mut status, index, now.saturating_add(ALARM_INTERVAL));
    REFERENDUM_INFO_FOR.insert(ext, &index, &ReferendumInfo::Ongoing(status));
    true
}

/// The PHA that could vote: everything issued but the reward pool's and the treasury's,
/// and what is deactivated.
pub fn max_turnout(ext: &Ext) -> Balance {
    turnout_of(
        balances::total_issuance(ext),
        balances::free_balance(ext, &REWARD_POOL_ACCOUNT),
        balances::free_balance(ext, &TREASURY_ACCOUNT),
        balances::INACTIVE_ISSUANCE.get_or_default(ext),
    )
}

/// [`max_turnout`] from its parts (for clients that read them separately).
pub fn turnout_of(
    total: Balance,
    reward_pool: Balance,
    treasury: Balance,
    inactive: Balance,
) -> Balance {
    total.saturating_sub(
        reward_pool
            .saturating_add(treasury)
            .saturating_add(inactive),
    )
}

/// Where a tally stands against a track's curves `elapsed` blocks into deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Share of the decision period gone.
    pub x: Perbill,
    pub approval: Perbill,
    pub min_approval: Perbill,
    pub support: Perbill,
    pub min_support: Perbill,
}

impl Standing {
    pub fn new(tally: &Tally, elapsed: BlockNumber, track: &TrackInfo, turnout: Balance) -> Self {
        let x = Perbill::from_rational(
            u128::from(elapsed.min(track.decision_period)),
            u128::from(track.decision_period),
        );
        Standing {
            x,
            approval: tally.approval(),
            min_approval: track.min_approval.threshold(x),
            support: tally.support(turnout),
            min_support: track.min_support.threshold(x),
        }
    }

    pub fn passing(&self) -> bool {
        self.approval >= self.min_approval && self.support >= self.min_support
    }
}

fn is_passing(ext: &Ext, tally: &Tally, elapsed: BlockNumber, track: &TrackInfo) -> bool {
    Standing::new(tally, elapsed, track, max_turnout(ext)).passing()
}

/// When the referendum could next change on its own: the end of confirming, or the
/// point where its current tally would start to pass, or the end of its decision period.
fn decision_time(
    ext: &Ext,
    deciding: &DecidingStatus,
    tally: &Tally,
    track: &TrackInfo,
) -> BlockNumber {
    deciding.confirming.unwrap_or_else(|| {
        let until_approval = track.min_approval.delay(tally.approval());
        let until_support = track.min_support.delay(tally.support(max_turnout(ext)));
        let offset = until_approval.max(until_support);
        let blocks = offset.mul_ceil(u128::from(track.decision_period));
        deciding
            .since
            .saturating_add(u32::try_from(blocks).unwrap_or(u32::MAX))
    })
}

/// Sets the referendum's alarm to `when`, replacing any other.
pub(super) fn ensure_alarm_at(
    ext: &mut Ext,
    status: &mut ReferendumStatus,
    index: ReferendumIndex,
    when: BlockNumber,
) -> bool {
    if status.alarm.is_some_and(|(at, _)| at == when) {
        return false;
    }
    let Some(call) = Bounded::inline(&RuntimeCall::Referenda(Call::nudge_referendum { index }))
    else {
        return true;
    };
    // The new alarm first, in the first block from `when` with room; only once it is set
    // does the old one go, so a full agenda never leaves the referendum without one.
    if let Ok(address) =
        scheduler::schedule_soonest(ext, None, when, ALARM_PRIORITY, Origin::Root.caller(), call)
    {
        ensure_no_alarm(ext, status);
        status.alarm = Some((when, address));
    }
    true
}

pub(super) fn ensure_no_alarm(ext: &mut Ext, status: &mut ReferendumStatus) -> bool {
    match status.alarm.take() {
        Some((_, address)) => {
            // The alarm may be the task running now, already out of its agenda.
            let _ = scheduler::cancel(ext, None, address);
            true
        }
        None => false,
    }
}

/// The task name enactments run under: `blake2_256(("assembly", "enactment", index))`.
pub fn enactment_name(index: ReferendumIndex) -> [u8; 32] {
    hashing::blake2_256(&(*b"assembly", "enactment", index).encode())
}

fn schedule_enactment(
    ext: &mut Ext,
    index: ReferendumIndex,
    track: &TrackInfo,
    status: &ReferendumStatus,
) {
    let now = system::block_number(ext);
    let earliest = now.saturating_add(track.min_enactment_period.max(1));
    let when = status.enactment.evaluate(now).max(earliest);
    // The name is unique per referendum and the block is in the future; a full agenda
    // makes the enactment late, not lost (upstream's would be lost).
    let _ = scheduler::schedule_soonest(
        ext,
        Some(enactment_name(index)),
        when,
        ENACTMENT_PRIORITY,
        status.origin,
        status.proposal.clone(),
    );
}

/// A decision on `track` ended: the best-backed queued referendum takes its slot, or the
/// count goes down.
pub(super) fn one_fewer_deciding(ext: &mut Ext, track: TrackId) {
    let mut queue = TRACK_QUEUE.get_or_default(ext, &track);
    let next = queue.as_mut_vec().pop();
    TRACK_QUEUE.insert(ext, &track, &queue);
    let Some((index, _)) = next else {
        let count = DECIDING_COUNT.get_or_default(ext, &track).saturating_sub(1);
        if count == 0 {
            DECIDING_COUNT.remove(ext, &track);
        } else {
            DECIDING_COUNT.insert(ext, &track, &count);
        }
        return;
    };
    let Some(ReferendumInfo::Ongoing(mut status)) = REFERENDUM_INFO_FOR.get(ext, &index) else {
        return;
    };
    let Some(info) = params(ext).track(track).cloned() else {
        return;
    };
    let now = system::block_number(ext);
    if let Some(alarm) = begin_deciding(ext, &mut status, index, now, &info) {
        ensure_alarm_at(ext, &mut status, index, alarm);
    }
    REFERENDUM_INFO_FOR.insert(ext, &index, &ReferendumInfo::Ongoing(status));
}

fn begin_deciding(
    ext: &mut Ext,
    status: &mut ReferendumStatus,
    index: ReferendumIndex,
    now: BlockNumber,
    track: &TrackInfo,
) -> Option<BlockNumber> {
    let passing = is_passing(ext, &status.tally, 0, track);
    status.in_queue = false;
    ext.deposit_event(Event::DecisionStarted {
        index,
        track: status.track,
        proposal: status.proposal.clone(),
        tally: status.tally,
    });
    let confirming = passing.then(|| {
        ext.deposit_event(Event::ConfirmStarted { index });
        now.saturating_add(track.confirm_period)
    });
    let deciding = DecidingStatus {
        since: now,
        confirming,
    };
    let alarm = decision_time(ext, &deciding, &status.tally, track).max(now.saturating_add(1));
    status.deciding = Some(deciding);
    Some(alarm)
}

/// Starts deciding, or queues while the track is full.
fn ready_for_deciding(
    ext: &mut Ext,
    now: BlockNumber,
    track: &TrackInfo,
    index: ReferendumIndex,
    status: &mut ReferendumStatus,
) -> Option<BlockNumber> {
    let count = DECIDING_COUNT.get_or_default(ext, &status.track);
    if count < track.max_deciding {
        DECIDING_COUNT.insert(ext, &status.track, &count.saturating_add(1));
        begin_deciding(ext, status, index, now, track)
    } else {
        let mut queue = TRACK_QUEUE.get_or_default(ext, &status.track);
        let ayes = status.tally.ayes;
        let at = queue
            .iter()
            .position(|(_, a)| *a > ayes)
            .unwrap_or(queue.len());
        if queue.is_full() {
            // The weakest referendum leaves the queue (it times out if it never returns).
            if at == 0 {
                return None;
            }
            let dropped = queue.as_mut_vec().remove(0);
            if let Some((i, _)) = dropped {
                requeue_out(ext, i);
            }
            let _ = queue.try_insert(at.saturating_sub(1), (index, ayes));
        } else {
            let _ = queue.try_insert(at, (index, ayes));
        }
        status.in_queue = true;
        TRACK_QUEUE.insert(ext, &status.track, &queue);
        None
    }
}

/// A referendum pushed out of a full queue: it waits to be served again (and times out).
fn requeue_out(ext: &mut Ext, index: ReferendumIndex) {
    if let Some(ReferendumInfo::Ongoing(mut status)) = REFERENDUM_INFO_FOR.get(ext, &index) {
        status.in_queue = false;
        let now = system::block_number(ext);
        ensure_alarm_at(ext, &mut status, index, now.saturating_add(1));
        REFERENDUM_INFO_FOR.insert(ext, &index, &ReferendumInfo::Ongoing(status));
    }
}

/// Ends a referendum at `now`: its alarm goes, its event is emitted, and its info keeps the
/// deposits still to be refunded.
fn conclude(
    ext: &mut Ext,
    status: &mut ReferendumStatus,
    event: Event,
    now: BlockNumber,
    end: fn(BlockNumber, Option<super::Deposit>, Option<super::Deposit>) -> ReferendumInfo,
) -> ReferendumInfo {
    ensure_no_alarm(ext, status);
    ext.deposit_event(event);
    end(
        now,
        Some(status.submission_deposit.clone()),
        status.decision_deposit.clone(),
    )
}

/// Brings an ongoing referendum up to date at block `now`: its new info, and whether a
/// decision slot on its track came free.
pub(super) fn service(
    ext: &mut Ext,
    now: BlockNumber,
    index: ReferendumIndex,
    mut status: ReferendumStatus,
) -> (ReferendumInfo, bool) {
    let params = params(ext);
    let Some(track) = params.track(status.track).cloned() else {
        // The track was removed by a parameter change: the referendum can never be
        // decided; it times out.
        let event = Event::TimedOut {
            index,
            tally: status.tally,
        };
        let info = conclude(ext, &mut status, event, now, ReferendumInfo::TimedOut);
        return (info, false);
    };
    let timeout = status.submitted.saturating_add(params.undeciding_timeout);
    let mut alarm = BlockNumber::MAX;
    match status.deciding {
        None => {
            if status.in_queue {
                // Keep the queue sorted by the current ayes.
                let mut queue = TRACK_QUEUE.get_or_default(ext, &status.track);
                queue.as_mut_vec().retain(|(i, _)| *i != index);
                let ayes = status.tally.ayes;
                let at = queue
                    .iter()
                    .position(|(_, a)| *a > ayes)
                    .unwrap_or(queue.len());
                let _ = queue.try_insert(at, (index, ayes));
                TRACK_QUEUE.insert(ext, &status.track, &queue);
            } else if status.decision_deposit.is_some() {
                let prepare_end = status.submitted.saturating_add(track.prepare_period);
                if now >= prepare_end {
                    if let Some(set) = ready_for_deciding(ext, now, &track, index, &mut status) {
                        alarm = alarm.min(set);
                    }
                } else {
                    alarm = alarm.min(prepare_end);
                }
            } else {
                alarm = timeout;
            }
            if status.deciding.is_none() && now >= timeout && !status.in_queue {
                let event = Event::TimedOut {
                    index,
                    tally: status.tally,
                };
                let info = conclude(ext, &mut status, event, now, ReferendumInfo::TimedOut);
                return (info, false);
            }
            if status.deciding.is_none() && !status.in_queue {
                alarm = alarm.min(timeout);
            }
        }
        Some(mut deciding) => {
            let passing = is_passing(
                ext,
                &status.tally,
                now.saturating_sub(deciding.since),
                &track,
            );
            if passing {
                match deciding.confirming {
                    Some(confirming) if now >= confirming => {
                        schedule_enactment(ext, index, &track, &status);
                        let event = Event::Confirmed {
                            index,
                            tally: status.tally,
                        };
                        let info = conclude(ext, &mut status, event, now, ReferendumInfo::Approved);
                        return (info, true);
                    }
                    Some(_) => {}
                    None => {
                        deciding.confirming = Some(now.saturating_add(track.confirm_period));
                        ext.deposit_event(Event::ConfirmStarted { index });
                    }
                }
            } else {
                if now >= deciding.since.saturating_add(track.decision_period) {
                    let event = Event::Rejected {
                        index,
                        tally: status.tally,
                    };
                    let info = conclude(ext, &mut status, event, now, ReferendumInfo::Rejected);
                    return (info, true);
                }
                if deciding.confirming.take().is_some() {
                    ext.deposit_event(Event::ConfirmAborted { index });
                }
            }
            status.deciding = Some(deciding);
            alarm = decision_time(ext, &deciding, &status.tally, &track).max(now.saturating_add(1));
        }
    }
    if alarm < BlockNumber::MAX {
        ensure_alarm_at(ext, &mut status, index, alarm);
    } else {
        ensure_no_alarm(ext, &mut status);
    }
    (ReferendumInfo::Ongoing(status), false)
}

/// Services referendum `index` and stores the result; frees its deciding slot if it ended.
pub(super) fn nudge(ext: &mut Ext, index: ReferendumIndex) -> Result<(), super::Error> {
    let Some(ReferendumInfo::Ongoing(status)) = REFERENDUM_INFO_FOR.get(ext, &index) else {
        return Err(super::Error::NotOngoing);
    };
    let track = status.track;
    let now = system::block_number(ext);
    // The alarm that brought us here has run.
    let mut status = status;
    if status.alarm.is_some_and(|(_, (block, _))| block <= now) {
        status.alarm = None;
    }
    let (info, freed) = service(ext, now, index, status);
    REFERENDUM_INFO_FOR.insert(ext, &index, &info);
    if freed {
        one_fewer_deciding(ext, track);
    }
    Ok(())
}
