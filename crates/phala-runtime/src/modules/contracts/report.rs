//! A cluster worker's report of a command. The first one per command settles it: gas to the
//! treasury and the rest refunded; for an instantiation, the contract's keys registered (and
//! its account opened) or its id freed; and the command's [`Effects`] applied to deposits and
//! to the list of contracts.

use std::collections::BTreeSet;

use parity_scale_codec::DecodeLimit;
use phala_mq::contracts::{ContractReport, Effects, MAX_SEALED_OUTPUT, NewContract};
use phala_primitives::{AccountId32, Balance, H256};

use super::{
    CODE_RECORDS, ContractRecord, ContractStatus, Error, Event, GAS_PRICE, INSTANCES,
    PENDING_COMMANDS, PendingCommand, STORAGE_DEPOSIT_PER_BYTE, WORKER_CLUSTER, contract_account,
};
use crate::Ext;
use crate::dispatch::{DispatchError, DispatchResult};
use crate::modules::{TREASURY_ACCOUNT, balances, system};

pub fn on_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let report = ContractReport::decode_all_with_depth_limit(8, &mut &payload[..])
        .map_err(|_| Error::BadReport)?;
    let ContractReport::Executed {
        id,
        contract,
        status,
        gas_used,
        contract_keys,
        output,
        effects,
    } = report;
    if output
        .as_ref()
        .is_some_and(|o| o.ciphertext.len() > MAX_SEALED_OUTPUT)
        || !effects.is_bounded()
    {
        return Err(Error::BadReport.into());
    }
    let pending = PENDING_COMMANDS
        .get(ext, &id)
        .ok_or(Error::UnknownCommand)?;
    if pending.contract != contract {
        return Err(Error::BadReport.into());
    }
    if WORKER_CLUSTER.get(ext, &sender) != Some(pending.cluster) {
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

    // Settle the gas: everything reserved comes back, then the gas used is paid.
    let gas_used = gas_used.min(pending.gas_limit);
    let reserved = GAS_PRICE
        .saturating_mul(Balance::from(pending.gas_limit))
        .saturating_add(pending.deposit);
    let fee = GAS_PRICE.saturating_mul(Balance::from(gas_used));
    PENDING_COMMANDS.remove(ext, &id);
    balances::unreserve(ext, &pending.origin, reserved);
    balances::withdraw(ext, &pending.origin, fee)?;
    // A treasury that does not exist yet cannot take a fee below the existential deposit:
    // burnt then, as transaction fees are, rather than leaving the command unsettled.
    if balances::deposit(ext, &TREASURY_ACCOUNT, fee).is_err() {
        balances::burn_withdrawn(ext, fee)?;
    }

    let mut deposits = Deposits {
        origin: pending.origin,
        budget: pending.deposit,
        paid: 0,
        refunded: 0,
    };
    if pending.instantiate {
        match keys {
            Some((pubkey, ecdh_pubkey)) => {
                let mut record = INSTANCES
                    .get(ext, &contract)
                    .ok_or(Error::ContractNotFound)?;
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

    ext.deposit_event(Event::CommandExecuted {
        contract,
        command: id,
        status,
        gas_used,
        fee,
        storage_deposit: deposits.paid,
        storage_refunded: deposits.refunded,
        output,
    });
    for event in terminated {
        ext.deposit_event(event);
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
        && listed_once(effects.code_changed.iter().map(|(c, _)| c).collect());
    if !well_formed {
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

/// Storage deposits of one command: paid by its origin out of its deposit limit, refunded
/// to it for storage it freed.
struct Deposits {
    origin: AccountId32,
    /// What is left of the command's deposit limit.
    budget: Balance,
    paid: Balance,
    refunded: Balance,
}

impl Deposits {
    /// Opens a new contract's account with the existential deposit. The worker counted it
    /// against the limit; a contract's account that exists already is left as it is.
    fn open_account(&mut self, ext: &mut Ext, contract: &H256) -> DispatchResult {
        let account = contract_account(contract);
        if system::account_exists(ext, &account) {
            return Ok(());
        }
        let ed = balances::EXISTENTIAL_DEPOSIT;
        balances::transfer(ext, &self.origin, &account, ed, true)?;
        self.budget = self.budget.saturating_sub(ed);
        self.paid = self.paid.saturating_add(ed);
        Ok(())
    }

    /// Grown storage moves deposit from the origin into the contract's reserve (never more
    /// than the limit left); freed storage moves it back to the origin (never more than the
    /// contract holds).
    fn storage_changed(&mut self, ext: &mut Ext, contract: &H256, bytes: i64) -> DispatchResult {
        let account = contract_account(contract);
        let amount = STORAGE_DEPOSIT_PER_BYTE.saturating_mul(Balance::from(bytes.unsigned_abs()));
        let mut record = INSTANCES.get(ext, contract);
        if bytes > 0 {
            // Every recorded contract's account was opened with it; this only guards a
            // transfer below the existential deposit into an account that is not there.
            self.open_account(ext, contract)?;
            let charge = amount.min(self.budget);
            if charge == 0 {
                return Ok(());
            }
            balances::transfer(ext, &self.origin, &account, charge, true)?;
            balances::reserve(ext, &account, charge)?;
            self.budget = self.budget.saturating_sub(charge);
            self.paid = self.paid.saturating_add(charge);
            if let Some(r) = record.as_mut() {
                r.storage_deposit = r.storage_deposit.saturating_add(charge);
            }
        } else {
            let held = balances::account_data(ext, &account).reserved;
            let refund = amount.min(held);
            if refund == 0 {
                return Ok(());
            }
            let left = balances::unreserve(ext, &account, refund);
            let refund = refund.saturating_sub(left);
            balances::transfer(ext, &account, &self.origin, refund, true)?;
            self.refunded = self.refunded.saturating_add(refund);
            if let Some(r) = record.as_mut() {
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
/// deposit): a report is never refused for where the money goes.
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
    if balances::transfer(ext, &account, beneficiary, free, false).is_err() {
        balances::transfer(ext, &account, origin, free, false)?;
    }
    Ok(free)
}
