//! A cluster worker's report of a command. The first one per command settles it, paying
//! only out of what the command reserved when it was pushed (the gas limit's price and the
//! deposit limit): the gas used to the treasury; for an instantiation, the contract's keys
//! registered (and its account opened) or its id freed; the command's [`Effects`] applied to
//! deposits and to the list of contracts; and whatever is left of the reserve unreserved.
//!
//! Nothing here touches the origin's free balance. The cluster has run the command by the
//! time it is reported, so its settlement must not depend on what the origin did since: a
//! report that failed for want of funds would leave the command pending, and cancelling it
//! would hand back what the cluster's work and storage cost.

use std::collections::BTreeSet;

use phala_mq::contracts::{ContractReport, Effects, MAX_REPLY, MAX_SEALED_OUTPUT, NewContract};
use phala_primitives::{AccountId32, Balance, H256, Weight};

use super::{
    CODE_RECORDS, ContractRecord, ContractStatus, Error, Event, INSTANCES, PENDING_COMMANDS,
    PendingCommand, contract_account, pay_gas,
};
use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchError, DispatchResult};
use crate::modules::balances::{self, BalanceStatus, EXISTENTIAL_DEPOSIT};
use crate::modules::system;
use crate::modules::weights;

/// The storage work settling a report does, from its effects: each listed contract costs
/// account and record reads and writes. Checked against what the handler does in
/// `tests::a_reports_weight_grows_with_its_effects`.
pub fn report_weight(payload: &[u8]) -> Weight {
    let Ok(ContractReport::Executed { effects, .. }) = ContractReport::decode_any(payload) else {
        return weights::reads_writes(1, 0);
    };
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    let per = |count: u64, reads: u64, writes: u64| {
        weights::reads_writes(count.saturating_mul(reads), count.saturating_mul(writes))
    };
    [
        // The pending command, the caller's account, the treasury, the instance, and the
        // cluster's gas revenue.
        weights::reads_writes(10, 10),
        // The contract's account and record, and the caller's account.
        per(n(effects.storage.len()), 4, 4),
        // The record, its code, the new account.
        per(n(effects.instantiated.len()), 4, 4),
        // The account, the beneficiary, the record.
        per(n(effects.terminated.len()), 4, 4),
        per(n(effects.code_changed.len()), 2, 1),
        // A delivered message's pending record and acknowledgement.
        weights::reads_writes(2, 2),
        // Each message sent: its channel and client, and the packet; or, refused, the
        // reply queued for its sender (a command pushed, or parked).
        per(n(effects.sent.len()), 12, 10),
    ]
    .into_iter()
    .fold(Weight::ZERO, weights::add)
}

/// Settles a report whose command is the first of its cluster still pending (see
/// [`super::order`]).
pub(super) fn settle(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let report = ContractReport::decode_any(payload).map_err(|_| Error::BadReport)?;
    let ContractReport::Executed {
        id,
        contract,
        status,
        gas_used,
        contract_keys,
        output,
        effects,
        reply,
    } = report;
    if output
        .as_ref()
        .is_some_and(|o| o.ciphertext.len() > MAX_SEALED_OUTPUT)
        || !effects.is_bounded()
        || reply.as_ref().is_some_and(|r| r.len() > MAX_REPLY)
    {
        return Err(Error::BadReport.into());
    }
    let pending = PENDING_COMMANDS
        .get(ext, &id)
        .ok_or(Error::UnknownCommand)?;
    if pending.contract != contract {
        return Err(Error::BadReport.into());
    }
    if !super::holds_turns(ext, &sender, &pending.cluster) {
        return Err(Error::NotInCluster.into());
    }
    let success = status.is_success();
    let keys = match (pending.instantiate, success, contract_keys) {
        (true, true, Some(keys)) => Some(keys),
        (true, true, None) => return Err(Error::BadReport.into()),
        _ => None,
    };
    // A failed command changed nothing, whatever the report says.
    let effects = if success { effects } else { Effects::default() };
    check_effects(ext, &pending, &effects)?;
    check_new_accounts(ext, &pending, keys.is_some(), &effects)?;
    let own = match keys {
        Some(keys) => Some((
            INSTANCES
                .get(ext, &contract)
                .ok_or(Error::ContractNotFound)?,
            keys,
        )),
        None => None,
    };
    let gas_used = gas_used.min(pending.gas_limit);
    let gas_price = pending.pricing.gas_price;
    let gas_reserved = gas_price
        .checked_mul(Balance::from(pending.gas_limit))
        .ok_or(ArithmeticError::Overflow)?;
    let mut fee = gas_price
        .checked_mul(Balance::from(gas_used))
        .ok_or(ArithmeticError::Overflow)?;
    if super::is_bridged(&pending) {
        // Its contract may have terminated before it ran, releasing the account the
        // command was reserved on: what is left is all there is to take.
        fee = fee.min(super::bridged::reservation_left(ext, &pending));
    }

    PENDING_COMMANDS.remove(ext, &id);
    super::order::dequeue(ext, &pending.cluster, id);
    pay_gas(ext, &pending.origin, &pending.cluster, fee)?;
    let mut deposits = Deposits {
        origin: pending.origin,
        budget: pending.deposit,
        paid: 0,
        refunded: 0,
        per_byte: pending.pricing.storage_deposit_per_byte,
    };
    if pending.instantiate {
        match own {
            Some((mut record, (pubkey, ecdh_pubkey))) => {
                record.status = ContractStatus::Active;
                record.pubkey = Some(pubkey);
                record.ecdh_pubkey = Some(ecdh_pubkey);
                INSTANCES.insert(ext, &contract, &record);
                deposits.open_account(ext, &contract)?;
                ext.deposit_event(Event::Instantiated {
                    contract,
                    command: id,
                    pubkey,
                    ecdh_pubkey,
                });
            }
            None => {
                INSTANCES.remove(ext, &contract);
                ext.deposit_event(Event::InstantiationFailed {
                    contract,
                    command: id,
                    status: status.clone(),
                });
            }
        }
    }
    for new in &effects.instantiated {
        add_instance(ext, &pending, id, new);
        deposits.open_account(ext, &new.contract)?;
    }
    for (c, bytes) in &effects.storage {
        deposits.storage_changed(ext, c, *bytes)?;
    }
    for (c, code_hash) in &effects.code_changed {
        if let Some(mut record) = INSTANCES.get(ext, c) {
            record.code_hash = *code_hash;
            INSTANCES.insert(ext, c, &record);
            ext.deposit_event(Event::ContractCodeChanged {
                contract: *c,
                command: id,
                code_hash: *code_hash,
            });
        }
    }
    let mut terminated = Vec::new();
    for (c, beneficiary) in &effects.terminated {
        let beneficiary = AccountId32(*beneficiary);
        let released = release_account(ext, c, &beneficiary, &pending.origin)?;
        INSTANCES.remove(ext, c);
        terminated.push(Event::ContractTerminated {
            contract: *c,
            command: id,
            beneficiary,
            released,
        });
    }

    // What the command reserved and did not spend goes back to its origin.
    let unspent = gas_reserved
        .checked_sub(fee)
        .and_then(|gas| gas.checked_add(deposits.budget))
        .ok_or(ArithmeticError::Underflow)?;
    balances::unreserve(ext, &pending.origin, unspent);

    ext.deposit_event(Event::CommandExecuted {
        contract,
        command: id,
        status: status.clone(),
        gas_used,
        fee,
        storage_deposit: deposits.paid,
        storage_refunded: deposits.refunded,
        output,
    });
    for event in terminated {
        ext.deposit_event(event);
    }
    // The bridge's side: a delivered message's answer, and the messages this command sent.
    crate::modules::bridge::on_command_settled(ext, id, &status, reply);
    for message in effects.sent {
        crate::modules::bridge::send_message(ext, message);
    }
    Ok(())
}

/// Refuses a report whose effects name contracts the chain does not know (or knows twice)
/// before anything is written.
fn check_effects(ext: &Ext, pending: &PendingCommand, effects: &Effects) -> DispatchResult {
    let mut known: BTreeSet<H256> = BTreeSet::new();
    if pending.instantiate {
        known.insert(pending.contract);
    }
    for new in &effects.instantiated {
        if INSTANCES.contains(ext, &new.contract)
            || !CODE_RECORDS.contains(ext, &new.code_hash)
            || !known.insert(new.contract)
        {
            return Err(Error::BadReport.into());
        }
    }
    // A contract of this cluster, or one this command made. Deployers are checked only now
    // that every new contract is known: a contract made by one made in the same command may
    // come first in the list.
    let ours = |c: &H256| {
        known.contains(c)
            || INSTANCES
                .get(ext, c)
                .is_some_and(|r| r.cluster == pending.cluster)
    };
    // Each list names contracts of ours, each at most once.
    let listed_once = |ids: Vec<&H256>| {
        let mut seen = BTreeSet::new();
        ids.into_iter().all(|c| seen.insert(*c) && ours(c))
    };
    let well_formed = effects.instantiated.iter().all(|new| ours(&new.deployer))
        && effects.storage.iter().all(|(_, bytes)| *bytes != 0)
        && effects
            .code_changed
            .iter()
            .all(|(_, code)| CODE_RECORDS.contains(ext, code))
        && listed_once(effects.storage.iter().map(|(c, _)| c).collect())
        && listed_once(effects.terminated.iter().map(|(c, _)| c).collect())
        && listed_once(effects.code_changed.iter().map(|(c, _)| c).collect())
        && effects.sent.iter().all(|m| ours(&m.sender));
    if !well_formed {
        return Err(Error::BadReport.into());
    }
    Ok(())
}

/// Refuses a report that would open more contract accounts than the command's deposit limit
/// can pay the existential deposit of. The worker counts them against the limit, so an
/// honest report always passes; this keeps settlement from taking more than the command
/// reserved, which would be taken from the origin's other reserves.
fn check_new_accounts(
    ext: &Ext,
    pending: &PendingCommand,
    instantiated: bool,
    effects: &Effects,
) -> DispatchResult {
    let mut opened: BTreeSet<H256> = BTreeSet::new();
    if pending.instantiate && instantiated {
        opened.insert(pending.contract);
    }
    opened.extend(effects.instantiated.iter().map(|new| new.contract));
    opened.extend(
        effects
            .storage
            .iter()
            .filter(|(_, bytes)| *bytes > 0)
            .map(|(c, _)| *c),
    );
    let count = opened
        .iter()
        .filter(|c| !system::account_exists(ext, &contract_account(c)))
        .count();
    let cost = Balance::try_from(count)
        .ok()
        .and_then(|n| EXISTENTIAL_DEPOSIT.checked_mul(n))
        .ok_or(Error::BadReport)?;
    if cost > pending.deposit {
        return Err(Error::BadReport.into());
    }
    Ok(())
}

fn add_instance(ext: &mut Ext, pending: &PendingCommand, command: u64, new: &NewContract) {
    INSTANCES.insert(
        ext,
        &new.contract,
        &ContractRecord {
            code_hash: new.code_hash,
            cluster: pending.cluster,
            deployer: AccountId32(new.deployer.0),
            status: ContractStatus::Active,
            pubkey: Some(new.pubkey),
            ecdh_pubkey: Some(new.ecdh_pubkey),
            storage_deposit: 0,
            storage_bytes: 0,
        },
    );
    ext.deposit_event(Event::ContractInstantiatedByContract {
        contract: new.contract,
        deployer: new.deployer,
        code_hash: new.code_hash,
        command,
        pubkey: new.pubkey,
        ecdh_pubkey: new.ecdh_pubkey,
    });
}

/// Storage deposits of one command: paid out of its origin's reserve, up to its deposit
/// limit; refunded to the origin's free balance for storage it freed.
struct Deposits {
    origin: AccountId32,
    /// What is left of the command's deposit limit, still reserved on the origin.
    budget: Balance,
    paid: Balance,
    refunded: Balance,
    /// The storage deposit per byte the command was pushed at.
    per_byte: Balance,
}

impl Deposits {
    /// Opens a new contract's account with the existential deposit, in its free balance
    /// (where it must be for the account to hold reserves). The worker counted it against
    /// the limit ([`check_new_accounts`] made sure the limit covers it); a contract's account
    /// that exists already is left as it is.
    fn open_account(&mut self, ext: &mut Ext, contract: &H256) -> DispatchResult {
        let account = contract_account(contract);
        if system::account_exists(ext, &account) {
            return Ok(());
        }
        let budget = self
            .budget
            .checked_sub(EXISTENTIAL_DEPOSIT)
            .ok_or(Error::BadReport)?;
        balances::repatriate_reserved(
            ext,
            &self.origin,
            &account,
            EXISTENTIAL_DEPOSIT,
            BalanceStatus::Free,
        )?;
        self.budget = budget;
        self.paid = self
            .paid
            .checked_add(EXISTENTIAL_DEPOSIT)
            .ok_or(ArithmeticError::Overflow)?;
        Ok(())
    }

    /// Grown storage moves deposit, at the command's price per byte, from the origin's
    /// reserve into the contract's (never more than the limit left); freed storage moves
    /// the freed bytes' share of the contract's deposit from its reserve to the origin's
    /// free balance (never more than the contract holds).
    fn storage_changed(&mut self, ext: &mut Ext, contract: &H256, bytes: i64) -> DispatchResult {
        let account = contract_account(contract);
        let mut record = INSTANCES.get(ext, contract);
        if bytes > 0 {
            let amount = self
                .per_byte
                .checked_mul(Balance::from(bytes.unsigned_abs()))
                .ok_or(ArithmeticError::Overflow)?;
            // Every recorded contract's account was opened with it; this only guards a
            // deposit into an account that is not there.
            self.open_account(ext, contract)?;
            let charge = amount.min(self.budget);
            if charge > 0 {
                balances::repatriate_reserved(
                    ext,
                    &self.origin,
                    &account,
                    charge,
                    BalanceStatus::Reserved,
                )?;
                self.budget = self
                    .budget
                    .checked_sub(charge)
                    .ok_or(ArithmeticError::Underflow)?;
                self.paid = self
                    .paid
                    .checked_add(charge)
                    .ok_or(ArithmeticError::Overflow)?;
            }
            if let Some(r) = record.as_mut() {
                r.storage_bytes = r.storage_bytes.saturating_add(bytes.unsigned_abs());
                r.storage_deposit = r
                    .storage_deposit
                    .checked_add(charge)
                    .ok_or(ArithmeticError::Overflow)?;
            }
        } else {
            let held = balances::account_data(ext, &account).reserved;
            let Some(r) = record.as_mut() else {
                return Ok(());
            };
            let freed = bytes.unsigned_abs().min(r.storage_bytes);
            let share = share_of(r.storage_deposit, freed, r.storage_bytes);
            r.storage_bytes = r.storage_bytes.saturating_sub(freed);
            let refund = share.min(held);
            if refund > 0 {
                // The origin exists: its existential deposit stayed free while it had this
                // command reserved.
                balances::repatriate_reserved(
                    ext,
                    &account,
                    &self.origin,
                    refund,
                    BalanceStatus::Free,
                )?;
                self.refunded = self
                    .refunded
                    .checked_add(refund)
                    .ok_or(ArithmeticError::Overflow)?;
                // The record follows the account's reserve, which is what was refunded
                // from (and checked above). Saturating, not an error: a settlement must
                // never fail, or its caller could cancel a command the cluster ran for a
                // refund.
                r.storage_deposit = r.storage_deposit.saturating_sub(refund);
            }
        }
        if let Some(r) = record {
            INSTANCES.insert(ext, contract, &r);
        }
        Ok(())
    }
}

/// Empties a terminated contract's account, reserve included, to its beneficiary, or to the
/// command's origin if the beneficiary cannot take it (a new account below the existential
/// deposit, or the contract's own account): a report is never refused for where the money
/// goes.
fn release_account(
    ext: &mut Ext,
    contract: &H256,
    beneficiary: &AccountId32,
    origin: &AccountId32,
) -> Result<Balance, DispatchError> {
    let account = contract_account(contract);
    let reserved = balances::account_data(ext, &account).reserved;
    balances::unreserve(ext, &account, reserved);
    let free = balances::free_balance(ext, &account);
    // `transfer` checks both sides before it writes, so a refusal leaves nothing half-done.
    // The origin always takes it: it is alive, its existential deposit free.
    let to_beneficiary = *beneficiary != account
        && balances::transfer(ext, &account, beneficiary, free, false).is_ok();
    if !to_beneficiary {
        balances::transfer(ext, &account, origin, free, false)?;
    }
    Ok(free)
}

/// `amount × part / whole` without overflow (`part ≤ whole`; zero if `whole` is).
fn share_of(amount: Balance, part: u64, whole: u64) -> Balance {
    let (part, whole) = (Balance::from(part), Balance::from(whole));
    // amount = q·whole + r: q·part ≤ amount, and r·part < whole² ≤ 2^128.
    let (Some(q), Some(r)) = (amount.checked_div(whole), amount.checked_rem(whole)) else {
        return 0;
    };
    q.saturating_mul(part)
        .saturating_add(r.saturating_mul(part).checked_div(whole).unwrap_or(0))
}

#[cfg(test)]
mod share_tests {
    use super::share_of;
    use proptest::prelude::*;

    proptest! {
        /// Refunding bytes a piece at a time never pays out more than the deposit held,
        /// and freeing every byte pays out all of it but rounding.
        #[test]
        fn shares_never_exceed_the_deposit(
            amount in any::<u128>(),
            parts in proptest::collection::vec(1u64..u64::MAX / 64, 1..8),
        ) {
            let whole: u64 = parts.iter().sum();
            let (mut left_amount, mut left_bytes, mut paid) = (amount, whole, 0u128);
            for part in &parts {
                let share = share_of(left_amount, *part, left_bytes);
                prop_assert!(share <= left_amount);
                left_amount -= share;
                left_bytes -= part;
                paid += share;
            }
            prop_assert_eq!(left_bytes, 0);
            prop_assert_eq!(paid, amount);
        }
    }
}
