//! `Balances`: PHA balances — free, reserved and frozen — with the existential deposit,
//! transfers, reserves and locks.
//!
//! Balance data lives in `System.Account` (as in Substrate's default runtimes). An account
//! exists while its total (free + reserved) is at least [`EXISTENTIAL_DEPOSIT`]; an operation
//! that would leave less either fails (`Expendability`, `ExistentialDeposit`) or, where the
//! caller allows it, reaps the account and burns the dust.
//!
//! While an account has anything reserved, its existential deposit stays in its *free*
//! balance (the rule of Substrate's holds): [`reserve`] will not take free below it, and
//! transfers and withdrawals leave it. Reserved value can then always be moved out
//! ([`repatriate_reserved`], [`take_reserved`]) without killing the account, which is what
//! lets a module settle a debt from a reserve whatever its owner did with the rest.
//!
//! Invariants, checked in tests after every block: `TotalIssuance` equals the sum of all
//! accounts' totals and never exceeds [`phala_primitives::MAX_ISSUANCE`]; an account with
//! reserves holds at least the existential deposit free.
//!
//! Every function validates before its first write, so a failed call leaves state untouched
//! even outside a storage transaction.

mod calls;
mod errors;
mod events;
#[cfg(test)]
mod tests;

pub use calls::Call;
pub use errors::Error;
pub use events::Event;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, PHA, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchError, DispatchResult};
use crate::modules::system::{self, AccountInfo};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Balances";

/// The minimum balance an account must hold to exist: 0.01 PHA.
pub const EXISTENTIAL_DEPOSIT: Balance = PHA / 100;
/// Most locks one account may carry.
pub const MAX_LOCKS: u32 = 50;

/// Marks balance data kept under the current (free/reserved/frozen) rules
/// (`pallet_balances::ExtraFlags::IS_NEW_LOGIC`).
pub const NEW_LOGIC: u128 = 1 << 127;

/// `pallet_balances::types::ExtraFlags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ExtraFlags(pub u128);

/// `pallet_balances::types::AccountData`, stored inside `System.Account`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccountData {
    /// Balance that can be transferred, less what is frozen.
    pub free: Balance,
    /// Balance set aside by modules (deposits, bonds); still owned, not spendable.
    pub reserved: Balance,
    /// The part of `free` that cannot be spent: the largest lock.
    pub frozen: Balance,
    pub flags: ExtraFlags,
}

impl AccountData {
    pub fn total(&self) -> Option<Balance> {
        self.free.checked_add(self.reserved)
    }
}

/// `pallet_balances::types::BalanceLock`: a module's claim that `amount` of the free balance
/// stays in place (for instance, PHA bonded by a validator).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct BalanceLock {
    pub id: [u8; 8],
    pub amount: Balance,
    pub reasons: Reasons,
}

/// `pallet_balances::types::Reasons`. Locks here always apply to every kind of withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Reasons {
    Fee,
    Misc,
    All,
}

pub const TOTAL_ISSUANCE: StorageValue<Balance> = StorageValue::new(
    MODULE,
    "TotalIssuance",
    Query::Default,
    &[" The total units issued in the system."],
);
pub const INACTIVE_ISSUANCE: StorageValue<Balance> = StorageValue::new(
    MODULE,
    "InactiveIssuance",
    Query::Default,
    &[" The total units of outstanding deactivated balance in the system."],
);
pub const LOCKS: StorageMap<AccountId32, Vec<BalanceLock>> = StorageMap::new(
    MODULE,
    "Locks",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" Any liquidity locks on some account balances."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        TOTAL_ISSUANCE.metadata(),
        INACTIVE_ISSUANCE.metadata(),
        LOCKS.metadata(),
    ]
}

pub fn total_issuance(ext: &Ext) -> Balance {
    TOTAL_ISSUANCE.get_or_default(ext)
}

pub fn account_data(ext: &Ext, who: &AccountId32) -> AccountData {
    system::account(ext, who).data
}

pub fn free_balance(ext: &Ext, who: &AccountId32) -> Balance {
    account_data(ext, who).free
}

/// How much of `who`'s free balance a withdrawal can take: all but what is frozen and, when
/// the account must survive (`keep_alive`, or it has reserves or dependants), the existential
/// deposit. Reserves do not count towards it: they may be taken later, and the account must
/// still exist then.
pub fn reducible_balance(ext: &Ext, who: &AccountId32, keep_alive: bool) -> Balance {
    let info = system::account(ext, who);
    let data = info.data;
    let keep_for_ed = if must_survive(&info, keep_alive) {
        EXISTENTIAL_DEPOSIT
    } else {
        0
    };
    data.free.saturating_sub(data.frozen.max(keep_for_ed))
}

/// Whether a withdrawal from this account must leave the existential deposit in its free
/// balance rather than reap it.
fn must_survive(info: &AccountInfo, keep_alive: bool) -> bool {
    keep_alive || info.data.reserved > 0 || info.consumers > 0
}

/// Applies `f` to a copy of `who`'s balance data, then stores it, creating or reaping the
/// account as its total crosses the existential deposit. Nothing is written if `f` or the
/// existence rules fail.
fn mutate_account<R>(
    ext: &mut Ext,
    who: &AccountId32,
    allow_death: bool,
    f: impl FnOnce(&mut AccountData) -> Result<R, DispatchError>,
) -> Result<R, DispatchError> {
    let mut info: AccountInfo = system::account(ext, who);
    let was_alive = info.providers > 0;
    let mut data = info.data;
    let result = f(&mut data)?;
    let total = data.total().ok_or(ArithmeticError::Overflow)?;
    if total >= EXISTENTIAL_DEPOSIT {
        data.flags = ExtraFlags(NEW_LOGIC);
        info.data = data;
        if !was_alive {
            info.providers = 1;
        }
        system::set_account(ext, who, info);
        if !was_alive {
            ext.deposit_event(Event::Endowed {
                account: *who,
                free_balance: data.free,
            });
        }
        return Ok(result);
    }
    if !was_alive {
        return if total == 0 {
            Ok(result)
        } else {
            Err(Error::ExistentialDeposit.into())
        };
    }
    if !allow_death || data.reserved > 0 || info.consumers > 0 {
        return Err(Error::Expendability.into());
    }
    // Reap: what is left is dust, burned.
    let issuance = total_issuance(ext)
        .checked_sub(total)
        .ok_or(ArithmeticError::Underflow)?;
    TOTAL_ISSUANCE.put(ext, &issuance);
    info.providers = 0;
    info.data = AccountData::default();
    system::set_account(ext, who, info);
    if total > 0 {
        ext.deposit_event(Event::DustLost {
            account: *who,
            amount: total,
        });
    }
    Ok(result)
}

/// Moves `value` of free balance from `from` to `to`. With `keep_alive`, `from` must stay at
/// or above the existential deposit; otherwise it may be reaped.
pub fn transfer(
    ext: &mut Ext,
    from: &AccountId32,
    to: &AccountId32,
    value: Balance,
    keep_alive: bool,
) -> DispatchResult {
    if value == 0 || from == to {
        return Ok(());
    }
    // Check both sides before writing either.
    let sender = account_data(ext, from);
    let new_free = sender
        .free
        .checked_sub(value)
        .ok_or(Error::InsufficientBalance)?;
    if new_free < sender.frozen {
        return Err(Error::LiquidityRestrictions.into());
    }
    let receiver = account_data(ext, to);
    let receiver_total = receiver
        .total()
        .and_then(|t| t.checked_add(value))
        .ok_or(ArithmeticError::Overflow)?;
    if receiver_total < EXISTENTIAL_DEPOSIT {
        return Err(Error::ExistentialDeposit.into());
    }
    // Reserves do not count: the existential deposit stays free while anything is reserved.
    if new_free < EXISTENTIAL_DEPOSIT && must_survive(&system::account(ext, from), keep_alive) {
        return Err(Error::Expendability.into());
    }
    mutate_account(ext, from, !keep_alive, |d| {
        d.free = new_free;
        Ok(())
    })?;
    mutate_account(ext, to, false, |d| {
        d.free = d.free.checked_add(value).ok_or(ArithmeticError::Overflow)?;
        Ok(())
    })?;
    ext.deposit_event(Event::Transfer {
        from: *from,
        to: *to,
        amount: value,
    });
    Ok(())
}

/// Whether `who` can pay `amount` (a fee) from its free balance and stay alive.
pub fn can_withdraw(ext: &Ext, who: &AccountId32, amount: Balance) -> bool {
    if !system::account_exists(ext, who) {
        return false;
    }
    reducible_balance(ext, who, true) >= amount
}

/// Takes `amount` out of `who`'s free balance (it leaves the account's books; the caller
/// must put it somewhere with [`deposit`] or account for the burn). Keeps the account alive.
pub fn withdraw(ext: &mut Ext, who: &AccountId32, amount: Balance) -> DispatchResult {
    if amount == 0 {
        return Ok(());
    }
    if !can_withdraw(ext, who, amount) {
        return Err(if free_balance(ext, who) < amount {
            Error::InsufficientBalance.into()
        } else {
            Error::LiquidityRestrictions.into()
        });
    }
    mutate_account(ext, who, false, |d| {
        d.free = d
            .free
            .checked_sub(amount)
            .ok_or(Error::InsufficientBalance)?;
        Ok(())
    })?;
    ext.deposit_event(Event::Withdraw { who: *who, amount });
    Ok(())
}

/// Adds `amount` to `who`'s free balance (the counterpart of [`withdraw`]). Fails if the
/// account does not exist and `amount` is below the existential deposit.
pub fn deposit(ext: &mut Ext, who: &AccountId32, amount: Balance) -> DispatchResult {
    if amount == 0 {
        return Ok(());
    }
    mutate_account(ext, who, false, |d| {
        d.free = d
            .free
            .checked_add(amount)
            .ok_or(ArithmeticError::Overflow)?;
        Ok(())
    })?;
    ext.deposit_event(Event::Deposit { who: *who, amount });
    Ok(())
}

/// Removes `amount` from total issuance: for value withdrawn and then deposited nowhere.
pub fn burn_withdrawn(ext: &mut Ext, amount: Balance) -> DispatchResult {
    let issuance = total_issuance(ext)
        .checked_sub(amount)
        .ok_or(ArithmeticError::Underflow)?;
    TOTAL_ISSUANCE.put(ext, &issuance);
    Ok(())
}

/// Moves `amount` from free to reserved. The free balance left must cover the frozen part
/// and the existential deposit, so that the reserve can later be taken whole.
pub fn reserve(ext: &mut Ext, who: &AccountId32, amount: Balance) -> DispatchResult {
    if amount == 0 {
        return Ok(());
    }
    let data = account_data(ext, who);
    let new_free = data
        .free
        .checked_sub(amount)
        .ok_or(Error::InsufficientBalance)?;
    if new_free < data.frozen {
        return Err(Error::LiquidityRestrictions.into());
    }
    if new_free < EXISTENTIAL_DEPOSIT {
        return Err(Error::Expendability.into());
    }
    mutate_account(ext, who, false, |d| {
        d.free = new_free;
        d.reserved = d
            .reserved
            .checked_add(amount)
            .ok_or(ArithmeticError::Overflow)?;
        Ok(())
    })?;
    ext.deposit_event(Event::Reserved { who: *who, amount });
    Ok(())
}

/// Moves up to `amount` from reserved back to free; returns how much could not be moved.
pub fn unreserve(ext: &mut Ext, who: &AccountId32, amount: Balance) -> Balance {
    let data = account_data(ext, who);
    let actual = amount.min(data.reserved);
    if actual == 0 {
        return amount;
    }
    let moved = mutate_account(ext, who, false, |d| {
        d.reserved = d
            .reserved
            .checked_sub(actual)
            .ok_or(ArithmeticError::Underflow)?;
        d.free = d
            .free
            .checked_add(actual)
            .ok_or(ArithmeticError::Overflow)?;
        Ok(())
    });
    match moved {
        Ok(()) => {
            ext.deposit_event(Event::Unreserved {
                who: *who,
                amount: actual,
            });
            amount.saturating_sub(actual)
        }
        Err(_) => amount,
    }
}

/// Where [`repatriate_reserved`] puts what it moves (`frame_support::traits::BalanceStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum BalanceStatus {
    Free,
    Reserved,
}

/// Moves exactly `amount` out of `from`'s reserved balance into `to`'s free or reserved
/// balance, or fails without writing anything: `from` must have that much reserved (and
/// stays alive: its existential deposit is free); into `Free`, `to` may be created if
/// `amount` reaches the existential deposit; into `Reserved`, `to` must already hold the
/// existential deposit free, as any account with reserves does.
pub fn repatriate_reserved(
    ext: &mut Ext,
    from: &AccountId32,
    to: &AccountId32,
    amount: Balance,
    status: BalanceStatus,
) -> DispatchResult {
    if amount == 0 {
        return Ok(());
    }
    if from == to {
        if account_data(ext, from).reserved < amount {
            return Err(Error::InsufficientBalance.into());
        }
        return match status {
            BalanceStatus::Reserved => Ok(()),
            // The total does not change, so the whole amount moves.
            BalanceStatus::Free => match unreserve(ext, from, amount) {
                0 => Ok(()),
                _ => Err(ArithmeticError::Overflow.into()),
            },
        };
    }
    let sender = check_take_reserved(ext, from, amount)?;
    let receiver = account_data(ext, to);
    let (to_free, to_reserved) = match status {
        BalanceStatus::Free => (
            receiver
                .free
                .checked_add(amount)
                .ok_or(ArithmeticError::Overflow)?,
            receiver.reserved,
        ),
        BalanceStatus::Reserved => {
            if receiver.free < EXISTENTIAL_DEPOSIT {
                return Err(Error::DeadAccount.into());
            }
            (
                receiver.free,
                receiver
                    .reserved
                    .checked_add(amount)
                    .ok_or(ArithmeticError::Overflow)?,
            )
        }
    };
    let to_total = to_free
        .checked_add(to_reserved)
        .ok_or(ArithmeticError::Overflow)?;
    if to_total < EXISTENTIAL_DEPOSIT {
        return Err(Error::ExistentialDeposit.into());
    }
    mutate_account(ext, from, false, |d| {
        d.reserved = sender.reserved;
        Ok(())
    })?;
    mutate_account(ext, to, false, |d| {
        d.free = to_free;
        d.reserved = to_reserved;
        Ok(())
    })?;
    ext.deposit_event(Event::ReserveRepatriated {
        from: *from,
        to: *to,
        amount,
        destination_status: status,
    });
    Ok(())
}

/// Takes exactly `amount` out of `who`'s reserved balance, or fails without writing
/// anything. Like [`withdraw`], the value leaves the account's books: the caller deposits
/// it elsewhere or burns it.
pub fn take_reserved(ext: &mut Ext, who: &AccountId32, amount: Balance) -> DispatchResult {
    if amount == 0 {
        return Ok(());
    }
    let left = check_take_reserved(ext, who, amount)?;
    mutate_account(ext, who, false, |d| {
        d.reserved = left.reserved;
        Ok(())
    })?;
    ext.deposit_event(Event::Withdraw { who: *who, amount });
    Ok(())
}

/// `who`'s balance data once `amount` is out of its reserve, if that is allowed: there is
/// that much reserved and the account stays alive (it does whenever its existential deposit
/// is free, as the reserving rules keep it).
fn check_take_reserved(
    ext: &Ext,
    who: &AccountId32,
    amount: Balance,
) -> Result<AccountData, DispatchError> {
    let mut data = account_data(ext, who);
    data.reserved = data
        .reserved
        .checked_sub(amount)
        .ok_or(Error::InsufficientBalance)?;
    let total = data.total().ok_or(ArithmeticError::Overflow)?;
    if total < EXISTENTIAL_DEPOSIT {
        return Err(Error::Expendability.into());
    }
    Ok(data)
}

/// Takes up to `amount` of `who`'s free balance as a penalty, locked or not, but never the
/// existential deposit: the account survives to be slashed or to unbond again. Returns what
/// was taken, which leaves the account's books; the caller deposits it elsewhere.
pub fn slash(ext: &mut Ext, who: &AccountId32, amount: Balance) -> Balance {
    let data = account_data(ext, who);
    let slashable = data.free.saturating_sub(EXISTENTIAL_DEPOSIT);
    let actual = amount.min(slashable);
    if actual == 0 {
        return 0;
    }
    let taken = mutate_account(ext, who, false, |d| {
        d.free = d
            .free
            .checked_sub(actual)
            .ok_or(ArithmeticError::Underflow)?;
        Ok(())
    });
    match taken {
        Ok(()) => {
            ext.deposit_event(Event::Slashed {
                who: *who,
                amount: actual,
            });
            actual
        }
        Err(_) => 0,
    }
}

fn recompute_frozen(locks: &[BalanceLock]) -> Balance {
    locks.iter().map(|l| l.amount).max().unwrap_or(0)
}

/// Creates or replaces the lock `id` on `who`'s free balance. The account must exist.
pub fn set_lock(ext: &mut Ext, id: [u8; 8], who: &AccountId32, amount: Balance) -> DispatchResult {
    if amount == 0 {
        remove_lock(ext, id, who);
        return Ok(());
    }
    if !system::account_exists(ext, who) {
        return Err(Error::DeadAccount.into());
    }
    let mut locks = LOCKS.get_or_default(ext, who);
    let had_locks = !locks.is_empty();
    match locks.iter_mut().find(|l| l.id == id) {
        Some(lock) => lock.amount = amount,
        None => {
            if locks.len() >= MAX_LOCKS as usize {
                return Err(Error::TooManyLocks.into());
            }
            locks.push(BalanceLock {
                id,
                amount,
                reasons: Reasons::All,
            });
        }
    }
    let frozen = recompute_frozen(&locks);
    let mut info = system::account(ext, who);
    info.data.frozen = frozen;
    if !had_locks {
        info.consumers = info.consumers.saturating_add(1);
    }
    system::set_account(ext, who, info);
    LOCKS.insert(ext, who, &locks);
    ext.deposit_event(Event::Locked { who: *who, amount });
    Ok(())
}

/// Removes the lock `id` from `who`, if present.
pub fn remove_lock(ext: &mut Ext, id: [u8; 8], who: &AccountId32) {
    let mut locks = LOCKS.get_or_default(ext, who);
    let Some(pos) = locks.iter().position(|l| l.id == id) else {
        return;
    };
    let removed = locks.remove(pos);
    let mut info = system::account(ext, who);
    info.data.frozen = recompute_frozen(&locks);
    if locks.is_empty() {
        info.consumers = info.consumers.saturating_sub(1);
        LOCKS.remove(ext, who);
    } else {
        LOCKS.insert(ext, who, &locks);
    }
    system::set_account(ext, who, info);
    ext.deposit_event(Event::Unlocked {
        who: *who,
        amount: removed.amount,
    });
}

/// Credits genesis balances; used only when building the genesis state.
pub(crate) fn endow_genesis(ext: &mut Ext, who: &AccountId32, amount: Balance) -> DispatchResult {
    mutate_account(ext, who, false, |d| {
        d.free = d
            .free
            .checked_add(amount)
            .ok_or(ArithmeticError::Overflow)?;
        Ok(())
    })?;
    let issuance = total_issuance(ext)
        .checked_add(amount)
        .ok_or(ArithmeticError::Overflow)?;
    TOTAL_ISSUANCE.put(ext, &issuance);
    Ok(())
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Balances",
        index: crate::modules::index::BALANCES,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![
            crate::metadata::constant(
                "ExistentialDeposit",
                &EXISTENTIAL_DEPOSIT,
                " The minimum amount required to keep an account open.",
            ),
            crate::metadata::constant(
                "MaxLocks",
                &MAX_LOCKS,
                " The maximum number of locks that should exist on an account.",
            ),
        ],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " PHA balances: transfers, reserves and locks.",
    }
}
