//! `ConvictionVoting`: PHA holders vote on referenda, or lend their vote on a track, and
//! lock their PHA for longer to count for more.
//!
//! Substrate's `pallet-conviction-voting`, same calls, storage, events and locking rules.
//! A vote locks its PHA (the balance lock `pyconvot`: locked PHA stays in the account,
//! and cannot be transferred, reserved or spent on fees) while the referendum runs; a standard vote on the winning side stays
//! locked for its conviction's periods after the decision. Locks are kept per track and
//! the account's lock is the largest of them; `unlock` recomputes it once they expire.
//! Votes never move PHA: they only lock it.

mod calls;
#[cfg(test)]
mod tests;
mod types;

pub use calls::Call;
pub use types::{
    AccountVote, Casting, Conviction, Delegating, Delegations, MAX_VOTES, PriorLock, TallyExt,
    Vote, Voting,
};

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::bounded::BoundedVec;
use crate::dispatch::{ArithmeticError, DispatchError, DispatchResult, ModuleErrorEnum};
use crate::modules::referenda::{self, PollState, ReferendumIndex, TrackId};
use crate::modules::{balances, index, system};
use crate::storage::{Query, StorageMap};

const MODULE: &str = "ConvictionVoting";

/// The balance lock votes place.
pub const LOCK_ID: [u8; 8] = *b"pyconvot";
/// Tracks one account may hold locks on (one per track this runtime knows, with room).
pub const MAX_CLASS_LOCKS: u32 = 16;

pub type ClassLocks = BoundedVec<(TrackId, Balance), MAX_CLASS_LOCKS>;

pub const VOTING_FOR: crate::storage::StorageDoubleMap<AccountId32, TrackId, Voting> =
    crate::storage::StorageDoubleMap::new(
        MODULE,
        "VotingFor",
        Hasher::Twox64Concat,
        Hasher::Twox64Concat,
        Query::Default,
        &[
            " All voting for a particular voter in a particular voting class. We store the",
            " balance for the number of votes that we have recorded.",
        ],
    );

pub const CLASS_LOCKS_FOR: StorageMap<AccountId32, ClassLocks> = StorageMap::new(
    MODULE,
    "ClassLocksFor",
    Hasher::Twox64Concat,
    Query::Default,
    &[
        " The voting classes which have a non-zero lock requirement and the lock amounts which",
        " they require. The actual amount locked on behalf of this pallet should always be the",
        " maximum of this list.",
    ],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![VOTING_FOR.metadata(), CLASS_LOCKS_FOR.metadata()]
}

/// Events of the `ConvictionVoting` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// An account has delegated their vote to another account. \[who, target, class\]
    #[codec(index = 0)]
    Delegated(AccountId32, AccountId32, TrackId),
    /// An \[account\] has cancelled a previous delegation operation.
    #[codec(index = 1)]
    Undelegated(AccountId32, TrackId),
    /// An account has voted
    #[codec(index = 2)]
    Voted {
        who: AccountId32,
        vote: AccountVote,
        poll_index: ReferendumIndex,
    },
    /// A vote has been removed
    #[codec(index = 3)]
    VoteRemoved {
        who: AccountId32,
        vote: AccountVote,
        poll_index: ReferendumIndex,
    },
    /// The lockup period of a conviction vote expired, and the funds have been unlocked.
    #[codec(index = 4)]
    VoteUnlocked { who: AccountId32, class: TrackId },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::ConvictionVoting(e)
    }
}

/// Errors of the `ConvictionVoting` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Poll is not ongoing.
    NotOngoing,
    /// The given account did not vote on the poll.
    NotVoter,
    /// The actor has no permission to conduct the action.
    NoPermission,
    /// The actor has no permission to conduct the action right now but will do in the future.
    NoPermissionYet,
    /// The account is already delegating.
    AlreadyDelegating,
    /// The account currently has votes attached to it and the operation cannot succeed until
    /// these are removed through `remove_vote`.
    AlreadyVoting,
    /// Too high a balance was provided that the account cannot afford.
    InsufficientFunds,
    /// The account is not currently delegating.
    NotDelegating,
    /// Delegation to oneself makes no sense.
    Nonsense,
    /// Maximum number of votes reached.
    MaxVotesReached,
    /// The class must be supplied since it is not easily determinable from the state.
    ClassNeeded,
    /// The class ID supplied is invalid.
    BadClass,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::CONVICTION_VOTING;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// What an account may vote or delegate with: its free PHA, which the lock then freezes.
/// (Upstream also counts reserved PHA; here reserves can leave the account — contract
/// deposits move to the contract — so PHA voted from a reserve would escape the lock.)
fn voting_balance(ext: &Ext, who: &AccountId32) -> Balance {
    balances::account_data(ext, who).free
}

fn store_voting(ext: &mut Ext, who: &AccountId32, class: TrackId, voting: &Voting) {
    if voting.is_default() {
        VOTING_FOR.remove(ext, who, &class);
    } else {
        VOTING_FOR.insert(ext, who, &class, voting);
    }
}

/// Casts (or replaces) `who`'s vote on referendum `index`.
pub fn vote(
    ext: &mut Ext,
    who: AccountId32,
    index: ReferendumIndex,
    vote: AccountVote,
) -> DispatchResult {
    if vote.balance() > voting_balance(ext, &who) {
        return Err(Error::InsufficientFunds.into());
    }
    let PollState::Ongoing { mut tally, track } = referenda::poll(ext, index) else {
        return Err(Error::NotOngoing.into());
    };
    let mut voting = VOTING_FOR.get_or_default(ext, &who, &track);
    let Voting::Casting(casting) = &mut voting else {
        return Err(Error::AlreadyDelegating.into());
    };
    match casting.votes.binary_search_by_key(&index, |(i, _)| *i) {
        Ok(at) => {
            let old = casting
                .votes
                .get(at)
                .map(|(_, v)| *v)
                .ok_or(Error::NotVoter)?;
            tally.remove(&old).ok_or(ArithmeticError::Underflow)?;
            if let Some(aye) = old.as_standard() {
                tally
                    .reduce(aye, casting.delegations)
                    .ok_or(ArithmeticError::Underflow)?;
            }
            if let Some(slot) = casting.votes.as_mut_vec().get_mut(at) {
                slot.1 = vote;
            }
        }
        Err(at) => casting
            .votes
            .try_insert(at, (index, vote))
            .map_err(|_| Error::MaxVotesReached)?,
    }
    tally.add(&vote).ok_or(ArithmeticError::Overflow)?;
    if let Some(aye) = vote.as_standard() {
        tally
            .increase(aye, casting.delegations)
            .ok_or(ArithmeticError::Overflow)?;
    }
    extend_lock(ext, &who, track, vote.balance())?;
    referenda::set_tally(ext, index, tally);
    store_voting(ext, &who, track, &voting);
    ext.deposit_event(Event::Voted {
        who,
        vote,
        poll_index: index,
    });
    Ok(())
}

/// Who may remove a vote: its voter at any time, others only once it locks nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    OnlyExpired,
}

/// Removes `who`'s vote on referendum `index`: from the tally while it runs; afterwards,
/// a winning conviction vote turns into a prior lock until its periods end.
pub fn remove_vote(
    ext: &mut Ext,
    who: AccountId32,
    class: Option<TrackId>,
    index: ReferendumIndex,
    scope: Scope,
) -> DispatchResult {
    let poll = referenda::poll(ext, index);
    let class = match (class, poll) {
        (Some(c), _) => c,
        (None, PollState::Ongoing { track, .. }) => track,
        (None, _) => return Err(Error::ClassNeeded.into()),
    };
    let mut voting = VOTING_FOR.get_or_default(ext, &who, &class);
    let Voting::Casting(casting) = &mut voting else {
        return Err(Error::NotVoter.into());
    };
    let at = casting
        .votes
        .binary_search_by_key(&index, |(i, _)| *i)
        .map_err(|_| Error::NotVoter)?;
    let (_, removed) = casting
        .votes
        .as_mut_vec()
        .remove(at)
        .ok_or(Error::NotVoter)?;
    match poll {
        PollState::Ongoing { mut tally, track } => {
            if track != class {
                return Err(Error::BadClass.into());
            }
            if scope == Scope::OnlyExpired {
                return Err(Error::NoPermission.into());
            }
            tally.remove(&removed).ok_or(ArithmeticError::Underflow)?;
            if let Some(aye) = removed.as_standard() {
                tally
                    .reduce(aye, casting.delegations)
                    .ok_or(ArithmeticError::Underflow)?;
            }
            referenda::set_tally(ext, index, tally);
        }
        PollState::Completed { end, approved } => {
            if let Some((periods, balance)) = removed.locked_if(approved) {
                let lock = referenda::params(ext)
                    .vote_locking_period
                    .saturating_mul(periods);
                let unlock_at = end.saturating_add(lock);
                if system::block_number(ext) < unlock_at {
                    if scope == Scope::OnlyExpired {
                        return Err(Error::NoPermissionYet.into());
                    }
                    casting.prior.accumulate(unlock_at, balance);
                }
            }
        }
        // Cancelled, timed out or killed: nothing holds the vote.
        PollState::None => {}
    }
    store_voting(ext, &who, class, &voting);
    ext.deposit_event(Event::VoteRemoved {
        who,
        vote: removed,
        poll_index: index,
    });
    Ok(())
}

/// Raises `who`'s lock for `class` to at least `amount`.
fn extend_lock(
    ext: &mut Ext,
    who: &AccountId32,
    class: TrackId,
    amount: Balance,
) -> DispatchResult {
    let mut locks = CLASS_LOCKS_FOR.get_or_default(ext, who);
    match locks.iter().position(|(c, _)| *c == class) {
        Some(at) => {
            if let Some(entry) = locks.as_mut_vec().get_mut(at) {
                entry.1 = entry.1.max(amount);
            }
        }
        None => locks
            .try_push((class, amount))
            .map_err(|_| Error::BadClass)?,
    }
    let needed = locks.iter().map(|(_, a)| *a).max().unwrap_or(0);
    balances::set_lock(ext, LOCK_ID, who, needed)?;
    CLASS_LOCKS_FOR.insert(ext, who, &locks);
    Ok(())
}

/// Recomputes `who`'s lock for `class` from its votes and prior lock, and the account's
/// lock from all its classes.
pub fn update_lock(ext: &mut Ext, who: &AccountId32, class: TrackId) -> DispatchResult {
    let now = system::block_number(ext);
    let mut voting = VOTING_FOR.get_or_default(ext, who, &class);
    voting.rejig(now);
    let class_needed = voting.locked_balance();
    store_voting(ext, who, class, &voting);
    let mut locks = CLASS_LOCKS_FOR.get_or_default(ext, who);
    locks.as_mut_vec().retain(|(c, _)| *c != class);
    if class_needed > 0 {
        locks
            .try_push((class, class_needed))
            .map_err(|_| Error::BadClass)?;
    }
    let needed = locks.iter().map(|(_, a)| *a).max().unwrap_or(0);
    if locks.is_empty() {
        CLASS_LOCKS_FOR.remove(ext, who);
    } else {
        CLASS_LOCKS_FOR.insert(ext, who, &locks);
    }
    if needed == 0 {
        balances::remove_lock(ext, LOCK_ID, who);
        Ok(())
    } else {
        balances::set_lock(ext, LOCK_ID, who, needed)
    }
}

/// Adds (or takes away) delegated votes to `target` and to its standard votes on ongoing
/// referenda.
fn move_upstream(
    ext: &mut Ext,
    target: &AccountId32,
    class: TrackId,
    amount: Delegations,
    add: bool,
) -> DispatchResult {
    let mut voting = VOTING_FOR.get_or_default(ext, target, &class);
    let change = |d: Delegations| {
        if add {
            d.checked_add(amount).ok_or(ArithmeticError::Overflow)
        } else {
            Ok(d.saturating_sub(amount))
        }
    };
    match &mut voting {
        // One level only: what is delegated to a delegator counts only if it votes.
        Voting::Delegating(d) => d.delegations = change(d.delegations)?,
        Voting::Casting(c) => {
            c.delegations = change(c.delegations)?;
            for (index, vote) in c.votes.iter() {
                if let (Some(aye), PollState::Ongoing { mut tally, .. }) =
                    (vote.as_standard(), referenda::poll(ext, *index))
                {
                    let moved = if add {
                        tally.increase(aye, amount)
                    } else {
                        tally.reduce(aye, amount)
                    };
                    moved.ok_or(if add {
                        ArithmeticError::Overflow
                    } else {
                        ArithmeticError::Underflow
                    })?;
                    referenda::set_tally(ext, *index, tally);
                }
            }
        }
    }
    store_voting(ext, target, class, &voting);
    Ok(())
}

/// Lends `who`'s vote on `class` to `target`.
pub fn delegate(
    ext: &mut Ext,
    who: AccountId32,
    class: TrackId,
    target: AccountId32,
    conviction: Conviction,
    balance: Balance,
) -> DispatchResult {
    if who == target {
        return Err(Error::Nonsense.into());
    }
    if referenda::params(ext).track(class).is_none() {
        return Err(Error::BadClass.into());
    }
    if balance > voting_balance(ext, &who) {
        return Err(Error::InsufficientFunds.into());
    }
    let (delegations, prior) = match VOTING_FOR.get_or_default(ext, &who, &class) {
        Voting::Delegating(_) => return Err(Error::AlreadyDelegating.into()),
        Voting::Casting(c) if !c.votes.is_empty() => return Err(Error::AlreadyVoting.into()),
        Voting::Casting(c) => (c.delegations, c.prior),
    };
    move_upstream(ext, &target, class, conviction.votes(balance), true)?;
    store_voting(
        ext,
        &who,
        class,
        &Voting::Delegating(Delegating {
            balance,
            target,
            conviction,
            delegations,
            prior,
        }),
    );
    extend_lock(ext, &who, class, balance)?;
    ext.deposit_event(Event::Delegated(who, target, class));
    Ok(())
}

/// Takes back `who`'s vote on `class`; what it lent stays locked for its conviction's
/// periods from now.
pub fn undelegate(ext: &mut Ext, who: AccountId32, class: TrackId) -> DispatchResult {
    let Voting::Delegating(d) = VOTING_FOR.get_or_default(ext, &who, &class) else {
        return Err(Error::NotDelegating.into());
    };
    move_upstream(ext, &d.target, class, d.conviction.votes(d.balance), false)?;
    let now = system::block_number(ext);
    let lock = referenda::params(ext)
        .vote_locking_period
        .saturating_mul(d.conviction.lock_periods());
    let mut prior = d.prior;
    prior.accumulate(now.saturating_add(lock), d.balance);
    store_voting(
        ext,
        &who,
        class,
        &Voting::Casting(Casting {
            votes: BoundedVec::default(),
            delegations: d.delegations,
            prior,
        }),
    );
    ext.deposit_event(Event::Undelegated(who, class));
    Ok(())
}

/// The module's constants with `params`' lock period.
pub fn constants(
    params: &referenda::GovernanceParams,
) -> Vec<frame_metadata::v14::PalletConstantMetadata> {
    vec![
        crate::metadata::constant(
            "MaxVotes",
            &MAX_VOTES,
            " The maximum number of concurrent votes an account may have.",
        ),
        crate::metadata::constant(
            "VoteLockingPeriod",
            &params.vote_locking_period,
            " The minimum period of vote locking.",
        ),
    ]
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "ConvictionVoting",
        index: index::CONVICTION_VOTING,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: constants(&referenda::GovernanceParams::default()),
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Conviction votes on referenda, and delegation per track.",
    }
}
