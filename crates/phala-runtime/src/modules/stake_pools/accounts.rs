//! A pool's books, apart from storage so their arithmetic can be property-tested alone.
//!
//! `total_value = free_stake + staked` is what the delegators own together; the owner's
//! unclaimed commission is kept apart. Shares and value convert at
//! `total_value / total_shares`, always rounding against whoever asks.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, BlockNumber};
use phala_tokenomics::{mul_div_floor, perbill_floor};
use scale_info::TypeInfo;

use super::{Error, Perbill, Shares};
use crate::dispatch::{ArithmeticError, DispatchError};

/// A queued withdrawal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Withdrawal {
    pub who: AccountId32,
    pub shares: Shares,
    pub requested_at: BlockNumber,
}

/// A stake pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Pool {
    pub owner: AccountId32,
    /// Parts per billion of each reward kept by the owner.
    pub commission: Perbill,
    /// Most value the pool accepts, if limited.
    pub cap: Option<Balance>,
    pub workers: Vec<[u8; 32]>,
    pub total_shares: Shares,
    /// What the delegators own together: `free_stake + staked`.
    pub total_value: Balance,
    /// Free in the pool's account, owned by the delegators.
    pub free_stake: Balance,
    /// Reserved in the pool's account by its computing and cooling-down workers.
    pub staked: Balance,
    /// The owner's commission, free in the pool's account until claimed.
    pub owner_reward: Balance,
    pub withdraw_queue: Vec<Withdrawal>,
    /// A raised commission and the block it takes effect at: a rise waits out the
    /// withdrawal grace period, so delegators can leave at the old rate first.
    pub pending_commission: Option<(Perbill, BlockNumber)>,
}

fn overflow() -> DispatchError {
    ArithmeticError::Overflow.into()
}

fn underflow() -> DispatchError {
    ArithmeticError::Underflow.into()
}

impl Pool {
    /// Shares `amount` buys now (rounded down).
    pub fn shares_for(&self, amount: Balance) -> Result<Balance, DispatchError> {
        if self.total_shares == 0 {
            return Ok(amount);
        }
        if self.total_value == 0 {
            return Err(Error::PoolBankrupt.into());
        }
        mul_div_floor(amount, self.total_shares, self.total_value).ok_or_else(overflow)
    }

    /// What `shares` are worth now (rounded down).
    pub fn value_of(&self, shares: Balance) -> Balance {
        if self.total_shares == 0 {
            return 0;
        }
        mul_div_floor(shares, self.total_value, self.total_shares).unwrap_or(0)
    }

    /// How many of `shares` the free stake can pay now, and their value.
    pub fn payable(&self, shares: Balance) -> (Balance, Balance) {
        let value = self.value_of(shares);
        if value <= self.free_stake {
            return (shares, value);
        }
        let affordable = mul_div_floor(self.free_stake, self.total_shares, self.total_value)
            .unwrap_or(0)
            .min(shares);
        (affordable, self.value_of(affordable).min(self.free_stake))
    }

    pub fn contribute(&mut self, amount: Balance) -> Result<Balance, DispatchError> {
        let shares = self.shares_for(amount)?;
        if shares == 0 {
            return Err(Error::ContributionTooSmall.into());
        }
        let total_value = self.total_value.checked_add(amount).ok_or_else(overflow)?;
        if self.cap.is_some_and(|cap| total_value > cap) {
            return Err(Error::CapExceeded.into());
        }
        self.total_shares = self.total_shares.checked_add(shares).ok_or_else(overflow)?;
        self.total_value = total_value;
        self.free_stake = self.free_stake.checked_add(amount).ok_or_else(overflow)?;
        Ok(shares)
    }

    /// Removes `shares` paid out with `value` of free stake.
    pub fn burn(&mut self, shares: Balance, value: Balance) -> Result<(), DispatchError> {
        self.total_shares = self
            .total_shares
            .checked_sub(shares)
            .ok_or_else(underflow)?;
        self.total_value = self.total_value.checked_sub(value).ok_or_else(underflow)?;
        self.free_stake = self.free_stake.checked_sub(value).ok_or_else(underflow)?;
        Ok(())
    }

    /// Makes a scheduled commission current once its block has come.
    pub fn apply_due_commission(&mut self, now: BlockNumber) {
        if let Some((commission, from)) = self.pending_commission
            && now >= from
        {
            self.commission = commission;
            self.pending_commission = None;
        }
    }

    /// A reward paid into the pool's account: returns the owner's commission. With no
    /// delegators, all of it is the owner's.
    pub fn add_reward(&mut self, amount: Balance) -> Balance {
        let commission = if self.total_shares == 0 {
            amount
        } else {
            perbill_floor(amount, self.commission)
        };
        let rest = amount.saturating_sub(commission);
        self.owner_reward = self.owner_reward.saturating_add(commission);
        self.free_stake = self.free_stake.saturating_add(rest);
        self.total_value = self.total_value.saturating_add(rest);
        commission
    }

    /// `stake` of free stake went to a worker.
    pub fn stake(&mut self, stake: Balance) -> Result<(), DispatchError> {
        self.free_stake = self
            .free_stake
            .checked_sub(stake)
            .ok_or(Error::InsufficientFreeStake)?;
        self.staked = self.staked.checked_add(stake).ok_or_else(overflow)?;
        Ok(())
    }

    /// `stake` came back from a worker.
    pub fn unstake(&mut self, stake: Balance) -> Result<(), DispatchError> {
        self.staked = self.staked.checked_sub(stake).ok_or_else(underflow)?;
        self.free_stake = self.free_stake.checked_add(stake).ok_or_else(overflow)?;
        Ok(())
    }

    /// `amount` of a worker's stake was slashed away.
    pub fn slash(&mut self, amount: Balance) {
        self.staked = self.staked.saturating_sub(amount);
        self.total_value = self.total_value.saturating_sub(amount);
    }
}
