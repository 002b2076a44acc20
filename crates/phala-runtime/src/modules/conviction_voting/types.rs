//! Votes, convictions and voting records in `pallet_conviction_voting`'s shapes.

use parity_scale_codec::{Decode, Encode, Error as CodecError, Input, MaxEncodedLen, Output};
use phala_primitives::{AccountId32, Balance, BlockNumber};
use scale_info::{Path, Type, TypeInfo, build::Fields};

use crate::bounded::BoundedVec;
use crate::modules::referenda::{ReferendumIndex, Tally};

/// Votes one account may have on one track at once (Polkadot's 512).
pub const MAX_VOTES: u32 = 512;

/// How long a vote's PHA stays locked after a decision it backed, in lock periods, and
/// how much each PHA counts.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Encode,
    Decode,
    MaxEncodedLen,
    TypeInfo,
)]
pub enum Conviction {
    /// 0.1 vote per PHA, no lock.
    #[default]
    #[codec(index = 0)]
    None,
    #[codec(index = 1)]
    Locked1x,
    #[codec(index = 2)]
    Locked2x,
    #[codec(index = 3)]
    Locked3x,
    #[codec(index = 4)]
    Locked4x,
    #[codec(index = 5)]
    Locked5x,
    #[codec(index = 6)]
    Locked6x,
}

impl Conviction {
    fn from_byte(b: u8) -> Option<Conviction> {
        Some(match b {
            0 => Conviction::None,
            1 => Conviction::Locked1x,
            2 => Conviction::Locked2x,
            3 => Conviction::Locked3x,
            4 => Conviction::Locked4x,
            5 => Conviction::Locked5x,
            6 => Conviction::Locked6x,
            _ => return None,
        })
    }

    /// Lock periods after the decision: 0, 1, 2, 4, 8, 16, 32.
    pub fn lock_periods(self) -> u32 {
        match self {
            Conviction::None => 0,
            Conviction::Locked1x => 1,
            Conviction::Locked2x => 2,
            Conviction::Locked3x => 4,
            Conviction::Locked4x => 8,
            Conviction::Locked5x => 16,
            Conviction::Locked6x => 32,
        }
    }

    /// The votes `capital` PHA cast with this conviction: a tenth without conviction,
    /// one to six times otherwise.
    pub fn votes(self, capital: Balance) -> Delegations {
        let votes = match self {
            Conviction::None => capital / 10,
            c => capital.saturating_mul(Balance::from(c as u8)),
        };
        Delegations { votes, capital }
    }
}

/// Aye or nay with a conviction, in one byte: `aye << 7 | conviction`
/// (`pallet_conviction_voting::vote::Vote`, which polkadot.js reads as a `GenericVote`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vote {
    pub aye: bool,
    pub conviction: Conviction,
}

impl Encode for Vote {
    fn size_hint(&self) -> usize {
        1
    }
    fn encode_to<O: Output + ?Sized>(&self, dest: &mut O) {
        dest.push_byte(u8::from(self.aye) << 7 | self.conviction as u8);
    }
}

impl Decode for Vote {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        let b = input.read_byte()?;
        let conviction = Conviction::from_byte(b & 0b0111_1111).ok_or("Invalid conviction")?;
        Ok(Vote {
            aye: b & 0b1000_0000 != 0,
            conviction,
        })
    }
}

impl MaxEncodedLen for Vote {
    fn max_encoded_len() -> usize {
        1
    }
}

impl TypeInfo for Vote {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("Vote", "pallet_conviction_voting::vote"))
            .composite(Fields::unnamed().field(|f| {
                f.ty::<u8>()
                    .docs(&["Raw vote byte, encodes aye + conviction"])
            }))
    }
}

/// A vote with its PHA (`pallet_conviction_voting::vote::AccountVote`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub enum AccountVote {
    /// All of `balance` for one side, with a conviction.
    #[codec(index = 0)]
    Standard { vote: Vote, balance: Balance },
    /// Split between both sides, without conviction.
    #[codec(index = 1)]
    Split { aye: Balance, nay: Balance },
    /// Split between both sides and abstention, without conviction.
    #[codec(index = 2)]
    SplitAbstain {
        aye: Balance,
        nay: Balance,
        abstain: Balance,
    },
}

impl AccountVote {
    /// The PHA the vote locks.
    pub fn balance(&self) -> Balance {
        match *self {
            AccountVote::Standard { balance, .. } => balance,
            AccountVote::Split { aye, nay } => aye.saturating_add(nay),
            AccountVote::SplitAbstain { aye, nay, abstain } => {
                aye.saturating_add(nay).saturating_add(abstain)
            }
        }
    }

    /// The side of a standard vote (delegations follow only standard votes).
    pub fn as_standard(&self) -> Option<bool> {
        match self {
            AccountVote::Standard { vote, .. } => Some(vote.aye),
            _ => None,
        }
    }

    /// `(lock periods, balance)` a standard vote on the winning side stays locked for.
    pub fn locked_if(&self, approved: bool) -> Option<(u32, Balance)> {
        match *self {
            AccountVote::Standard { vote, balance } if vote.aye == approved => {
                Some((vote.conviction.lock_periods(), balance))
            }
            _ => None,
        }
    }
}

/// Votes and capital delegated to an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct Delegations {
    pub votes: Balance,
    pub capital: Balance,
}

impl Delegations {
    pub fn checked_add(self, o: Delegations) -> Option<Delegations> {
        Some(Delegations {
            votes: self.votes.checked_add(o.votes)?,
            capital: self.capital.checked_add(o.capital)?,
        })
    }

    pub fn saturating_sub(self, o: Delegations) -> Delegations {
        Delegations {
            votes: self.votes.saturating_sub(o.votes),
            capital: self.capital.saturating_sub(o.capital),
        }
    }
}

/// A lock that outlives the votes it came from: until block `.0`, at least `.1` PHA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct PriorLock(pub BlockNumber, pub Balance);

impl PriorLock {
    pub fn accumulate(&mut self, until: BlockNumber, amount: Balance) {
        self.0 = self.0.max(until);
        self.1 = self.1.max(amount);
    }

    /// Forgets the lock once it has expired.
    pub fn rejig(&mut self, now: BlockNumber) {
        if now >= self.0 {
            *self = PriorLock::default();
        }
    }

    pub fn locked(&self) -> Balance {
        self.1
    }
}

/// An account that votes itself on a track.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Casting {
    /// By referendum index, ascending.
    pub votes: BoundedVec<(ReferendumIndex, AccountVote), MAX_VOTES>,
    pub delegations: Delegations,
    pub prior: PriorLock,
}

/// An account that lends its vote on a track to another.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Delegating {
    pub balance: Balance,
    pub target: AccountId32,
    pub conviction: Conviction,
    pub delegations: Delegations,
    pub prior: PriorLock,
}

/// An account's voting on one track (`pallet_conviction_voting::vote::Voting`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Voting {
    #[codec(index = 0)]
    Casting(Casting),
    #[codec(index = 1)]
    Delegating(Delegating),
}

impl Default for Voting {
    fn default() -> Self {
        Voting::Casting(Casting::default())
    }
}

impl Voting {
    /// Forgets expired prior locks.
    pub fn rejig(&mut self, now: BlockNumber) {
        match self {
            Voting::Casting(c) => c.prior.rejig(now),
            Voting::Delegating(d) => d.prior.rejig(now),
        }
    }

    /// The PHA this track's voting keeps locked.
    pub fn locked_balance(&self) -> Balance {
        match self {
            Voting::Casting(c) => c
                .votes
                .iter()
                .map(|(_, v)| v.balance())
                .fold(c.prior.locked(), Balance::max),
            Voting::Delegating(d) => d.balance.max(d.prior.locked()),
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Voting::default()
    }
}

/// Tally arithmetic: every step checked, so a vote that would overflow is refused rather
/// than wrapped.
pub trait TallyExt: Sized {
    fn add(&mut self, vote: &AccountVote) -> Option<()>;
    fn remove(&mut self, vote: &AccountVote) -> Option<()>;
    fn increase(&mut self, aye: bool, d: Delegations) -> Option<()>;
    fn reduce(&mut self, aye: bool, d: Delegations) -> Option<()>;
}

impl TallyExt for Tally {
    fn add(&mut self, vote: &AccountVote) -> Option<()> {
        apply(self, vote, true)
    }

    fn remove(&mut self, vote: &AccountVote) -> Option<()> {
        apply(self, vote, false)
    }

    fn increase(&mut self, aye: bool, d: Delegations) -> Option<()> {
        shift(self, aye, d, true)
    }

    fn reduce(&mut self, aye: bool, d: Delegations) -> Option<()> {
        shift(self, aye, d, false)
    }
}

fn step(a: Balance, b: Balance, add: bool) -> Option<Balance> {
    if add {
        a.checked_add(b)
    } else {
        a.checked_sub(b)
    }
}

/// Adds or takes away a vote: `(ayes, nays, support)` it counts for.
fn apply(tally: &mut Tally, vote: &AccountVote, add: bool) -> Option<()> {
    let (ayes, nays, support) = match *vote {
        AccountVote::Standard { vote, balance } => {
            let d = vote.conviction.votes(balance);
            if vote.aye {
                (d.votes, 0, d.capital)
            } else {
                (0, d.votes, 0)
            }
        }
        AccountVote::Split { aye, nay } => {
            let (aye, nay) = (Conviction::None.votes(aye), Conviction::None.votes(nay));
            (aye.votes, nay.votes, aye.capital)
        }
        AccountVote::SplitAbstain { aye, nay, abstain } => {
            let (aye, nay, abstain) = (
                Conviction::None.votes(aye),
                Conviction::None.votes(nay),
                Conviction::None.votes(abstain),
            );
            (
                aye.votes,
                nay.votes,
                aye.capital.checked_add(abstain.capital)?,
            )
        }
    };
    tally.ayes = step(tally.ayes, ayes, add)?;
    tally.nays = step(tally.nays, nays, add)?;
    tally.support = step(tally.support, support, add)?;
    Some(())
}

/// Adds or takes away delegated votes following a standard vote's side.
fn shift(tally: &mut Tally, aye: bool, d: Delegations, add: bool) -> Option<()> {
    if aye {
        tally.ayes = step(tally.ayes, d.votes, add)?;
        tally.support = step(tally.support, d.capital, add)?;
    } else {
        tally.nays = step(tally.nays, d.votes, add)?;
    }
    Some(())
}
