//! A cluster worker's report of a command: the first one per command settles it (gas to
//! the treasury, the rest refunded, the storage added kept in deposit) and, for an
//! instantiation, registers the contract's public keys or frees its id.

use parity_scale_codec::DecodeLimit;
use phala_mq::contracts::{ContractReport, MAX_SEALED_OUTPUT};
use phala_primitives::Balance;

use super::{
    ContractStatus, Error, Event, GAS_PRICE, INSTANCES, PENDING_COMMANDS, STORAGE_DEPOSIT_PER_BYTE,
    WORKER_CLUSTER,
};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{TREASURY_ACCOUNT, balances};

pub fn on_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let report = ContractReport::decode_all_with_depth_limit(8, &mut &payload[..])
        .map_err(|_| Error::BadReport)?;
    let ContractReport::Executed {
        id,
        contract,
        status,
        gas_used,
        storage_added,
        contract_keys,
        output,
    } = report;
    if output
        .as_ref()
        .is_some_and(|o| o.ciphertext.len() > MAX_SEALED_OUTPUT)
    {
        return Err(Error::BadReport.into());
    }
    let pending = PENDING_COMMANDS
        .get(ext, &id)
        .ok_or(Error::UnknownCommand)?;
    if pending.contract != contract {
        return Err(Error::BadReport.into());
    }
    let mut record = INSTANCES
        .get(ext, &contract)
        .ok_or(Error::ContractNotFound)?;
    if WORKER_CLUSTER.get(ext, &sender) != Some(record.cluster) {
        return Err(Error::NotInCluster.into());
    }
    let keys = match (pending.instantiate, status.is_success(), contract_keys) {
        (true, true, Some(keys)) => Some(keys),
        (true, true, None) => return Err(Error::BadReport.into()),
        _ => None,
    };

    // Settle: everything reserved comes back, then the gas used is paid and the storage
    // added is reserved again out of the deposit.
    let gas_used = gas_used.min(pending.gas_limit);
    let reserved = GAS_PRICE
        .saturating_mul(Balance::from(pending.gas_limit))
        .saturating_add(pending.deposit);
    let fee = GAS_PRICE.saturating_mul(Balance::from(gas_used));
    let storage_deposit = if status.is_success() {
        STORAGE_DEPOSIT_PER_BYTE
            .saturating_mul(Balance::from(storage_added))
            .min(pending.deposit)
    } else {
        0
    };
    PENDING_COMMANDS.remove(ext, &id);
    balances::unreserve(ext, &pending.origin, reserved);
    balances::withdraw(ext, &pending.origin, fee)?;
    // A treasury that does not exist yet cannot take a fee below the existential deposit:
    // burnt then, as transaction fees are, rather than leaving the command unsettled.
    if balances::deposit(ext, &TREASURY_ACCOUNT, fee).is_err() {
        balances::burn_withdrawn(ext, fee)?;
    }
    balances::reserve(ext, &pending.origin, storage_deposit)?;

    ext.deposit_event(Event::CommandExecuted {
        contract,
        command: id,
        status: status.clone(),
        gas_used,
        fee,
        storage_deposit,
        output,
    });
    if pending.instantiate {
        match keys {
            Some((pubkey, ecdh_pubkey)) => {
                record.status = ContractStatus::Active;
                record.pubkey = Some(pubkey);
                record.ecdh_pubkey = Some(ecdh_pubkey);
                record.storage_deposit = storage_deposit;
                INSTANCES.insert(ext, &contract, &record);
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
                    status,
                });
            }
        }
    } else if storage_deposit > 0 {
        record.storage_deposit = record.storage_deposit.saturating_add(storage_deposit);
        INSTANCES.insert(ext, &contract, &record);
    }
    Ok(())
}
