use parity_scale_codec::{Decode, Encode};
use phala_primitives::{Balance, MultiAddress};
use scale_info::TypeInfo;

use super::{
    AccountVote, Conviction, Event, Scope, delegate, remove_vote, undelegate, update_lock, vote,
};
use crate::Ext;
use crate::dispatch::{DispatchError, DispatchInfo, DispatchResult, Origin};
use crate::modules::referenda::{ReferendumIndex, TrackId};
use crate::modules::weights;

/// Calls of the `ConvictionVoting` module (`pallet_conviction_voting::Call`).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Vote on referendum `poll_index` (or change the vote), locking its PHA.
    #[codec(index = 0)]
    vote {
        #[codec(compact)]
        poll_index: ReferendumIndex,
        vote: AccountVote,
    },
    /// Lend this account's vote on `class` to `to`.
    #[codec(index = 1)]
    delegate {
        class: TrackId,
        to: MultiAddress,
        conviction: Conviction,
        balance: Balance,
    },
    /// Take back a delegation on `class`.
    #[codec(index = 2)]
    undelegate { class: TrackId },
    /// Recompute `target`'s lock on `class`, freeing what expired.
    #[codec(index = 3)]
    unlock {
        class: TrackId,
        target: MultiAddress,
    },
    /// Remove this account's vote on referendum `index`.
    #[codec(index = 4)]
    remove_vote {
        class: Option<TrackId>,
        index: ReferendumIndex,
    },
    /// Remove `target`'s vote on an ended referendum once it locks nothing.
    #[codec(index = 5)]
    remove_other_vote {
        target: MultiAddress,
        class: TrackId,
        index: ReferendumIndex,
    },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        // Delegation touches every vote of the target (up to 512 referenda).
        let weight = match self {
            Call::vote { .. } | Call::remove_vote { .. } | Call::remove_other_vote { .. } => {
                weights::reads_writes(10, 8)
            }
            Call::delegate { .. } | Call::undelegate { .. } => weights::add(
                weights::reads_writes(10, 8),
                weights::reads_writes(u64::from(super::MAX_VOTES), u64::from(super::MAX_VOTES)),
            ),
            Call::unlock { .. } => weights::reads_writes(4, 4),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        let who = origin.ensure_signed()?;
        match self {
            Call::vote {
                poll_index,
                vote: v,
            } => vote(ext, who, poll_index, v),
            Call::delegate {
                class,
                to,
                conviction,
                balance,
            } => {
                let target = to.account().ok_or(DispatchError::CannotLookup)?;
                delegate(ext, who, class, target, conviction, balance)
            }
            Call::undelegate { class } => undelegate(ext, who, class),
            Call::unlock { class, target } => {
                let target = target.account().ok_or(DispatchError::CannotLookup)?;
                update_lock(ext, &target, class)?;
                ext.deposit_event(Event::VoteUnlocked { who: target, class });
                Ok(())
            }
            Call::remove_vote { class, index } => remove_vote(ext, who, class, index, Scope::Any),
            Call::remove_other_vote {
                target,
                class,
                index,
            } => {
                let target = target.account().ok_or(DispatchError::CannotLookup)?;
                let scope = if target == who {
                    Scope::Any
                } else {
                    Scope::OnlyExpired
                };
                remove_vote(ext, target, Some(class), index, scope)
            }
        }
    }
}
