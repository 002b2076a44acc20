//! Commands the bridge queues for a contract (docs/bridge.md, *Contracts across chains*): a
//! message from a contract on another chain, or the reply to one a contract here sent. They
//! are paid by the contract they call, from its own account, and settle as any command;
//! having no submitter here, they are given up by the chain itself once they are overdue,
//! so neither the cluster's queue nor the bridge channel waits on them.

use phala_mq::contracts::{CONTRACT_COMMAND, ContractCommand};
use phala_primitives::{AccountId32, Balance, BlockNumber, H256, storage::Hasher};

use super::calls::reserve_command;
use super::{
    CLUSTERS, COMMAND_TIMEOUT, ContractStatus, Error, Event, INSTANCES, MODULE, NEXT_COMMAND_ID,
    PENDING_COMMANDS, PendingCommand, contract_account, pricing, reporter,
};
use crate::Ext;
use crate::dispatch::DispatchError;
use crate::modules::{message_queue, system};
use crate::storage::{Query, StorageMap};

/// Most gas a call from another chain (or a reply) may have: the sender chooses it, and the
/// receiving contract pays for it.
pub const MAX_BRIDGED_GAS: u64 = super::MAX_GAS / 10;
/// Most storage bytes such a call may pay a deposit for.
pub const MAX_BRIDGED_BYTES: u64 = 16 * 1024;
// Workers refuse in `xcm_send` what the chain would refuse on arrival, and what a report's
// effects may not hold.
const _: () = assert!(
    MAX_BRIDGED_GAS == phala_vm::xcm::MAX_GAS
        && MAX_BRIDGED_BYTES == phala_vm::xcm::MAX_STORAGE_BYTES
        && phala_vm::MAX_SENT == phala_mq::contracts::MAX_SENT
        && phala_vm::MAX_SENT_BYTES == phala_mq::contracts::MAX_SENT_BYTES
        && phala_vm::xcm::MAX_CALL_LEN == phala_mq::contracts::MAX_MESSAGE_INPUT
);
/// Blocks before an overdue bridged command still behind others is looked at again.
const REPORT_RECHECK: BlockNumber = 10;

pub const DEADLINES: StorageMap<BlockNumber, Vec<u64>> = StorageMap::new(
    MODULE,
    "BridgedDeadlines",
    Hasher::Twox64Concat,
    Query::Default,
    &[
        " Commands the bridge queued, by the block they are given up at if their cluster has",
        " not reported them by then.",
    ],
);

/// Whether the bridge queued this command: it is paid by the contract it calls. No signed
/// account is a contract's account (that would need a key for a hash), so no user's
/// command passes for one.
pub fn is_bridged(pending: &PendingCommand) -> bool {
    pending.origin == contract_account(&pending.contract)
}

/// What a bridged command can still take from its contract's account: the account's
/// reserve less the contract's storage deposit (nothing if the contract is gone). Its own
/// reservation is all there unless the contract terminated, which released the account.
pub fn reservation_left(ext: &Ext, pending: &PendingCommand) -> Balance {
    let reserved = crate::modules::balances::account_data(ext, &pending.origin).reserved;
    match INSTANCES.get(ext, &pending.contract) {
        Some(record) => reserved.saturating_sub(record.storage_deposit),
        None => 0,
    }
}

/// Most bridged commands given up at one block's start; the rest wait for the next.
pub const MAX_GIVE_UPS_PER_BLOCK: usize = 16;

/// Block start: a bridged command still unreported at its deadline is given up (charged as
/// a cancelled command, from what is left of its reservation), and a delivered message
/// answered as unreported, but only once it is the first of its cluster's queue: the
/// cluster runs commands in order, so one still behind others may simply not have had its
/// turn (and would run after the chain had given it up). Otherwise, or past the block's
/// share, it is looked at again later.
pub fn on_initialize(ext: &mut Ext, number: BlockNumber) {
    let due = DEADLINES.get_or_default(ext, &number);
    if due.is_empty() {
        return;
    }
    DEADLINES.remove(ext, &number);
    let mut given_up = 0usize;
    for id in due {
        let Some(pending) = PENDING_COMMANDS.get(ext, &id) else {
            continue;
        };
        let first = super::order::first_of(ext, &pending.cluster) == Some(id);
        if !first || given_up >= MAX_GIVE_UPS_PER_BLOCK || super::order::report_kept(ext, id) {
            let at = number.saturating_add(if first { 1 } else { REPORT_RECHECK });
            let mut later = DEADLINES.get_or_default(ext, &at);
            later.push(id);
            DEADLINES.insert(ext, &at, &later);
            continue;
        }
        given_up = given_up.saturating_add(1);
        // Capped at what the contract still holds, giving up cannot fail; were it to, the
        // command stays, for `cancel_command`.
        let _ = ext.transactional(|ext| -> Result<(), DispatchError> {
            super::calls::give_up(ext, id, &pending)
        });
    }
}

/// Why a message from the bridge could not be queued for its contract: the bridge answers
/// the packet with this name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliverRefused {
    /// No active contract with that id here.
    UnknownContract,
    /// The contract's account cannot pay the gas limit and deposit (it pays for the
    /// messages it receives).
    CannotPay,
    /// This block's gas, or the cluster's queue, is full.
    Busy,
    /// A gas limit of zero or over [`MAX_BRIDGED_GAS`], or more than [`MAX_BRIDGED_BYTES`]
    /// of storage.
    BadLimits,
}

/// Queues a call of `contract` that came over the bridge, paid by the contract's own account
/// (gas limit and `storage_bytes` of deposit reserved from it, settled as any command), with
/// `input` in the clear and `origin` the remote sender's account here. Returns the command's
/// id. Writes nothing when it refuses.
pub fn deliver(
    ext: &mut Ext,
    contract: H256,
    origin: [u8; 32],
    input: Vec<u8>,
    (gas_limit, storage_bytes): (u64, u64),
) -> Result<u64, DeliverRefused> {
    let record = INSTANCES
        .get(ext, &contract)
        .filter(|r| r.status == ContractStatus::Active)
        .ok_or(DeliverRefused::UnknownContract)?;
    let info = CLUSTERS
        .get(ext, &record.cluster)
        .ok_or(DeliverRefused::UnknownContract)?;
    if gas_limit == 0 || gas_limit > MAX_BRIDGED_GAS || storage_bytes > MAX_BRIDGED_BYTES {
        return Err(DeliverRefused::BadLimits);
    }
    let pricing = pricing(ext);
    let deposit = pricing
        .storage_deposit_per_byte
        .checked_mul(Balance::from(storage_bytes))
        .ok_or(DeliverRefused::BadLimits)?;
    let reporter = reporter(&info, NEXT_COMMAND_ID.get_or_default(ext), 0);
    let payer = contract_account(&contract);
    let refused = |e: DispatchError| {
        if e == Error::GasLimit.into() {
            DeliverRefused::BadLimits
        } else if e == Error::BlockGasExhausted.into()
            || e == Error::ClusterBusy.into()
            || e == Error::TooManyCommands.into()
        {
            DeliverRefused::Busy
        } else {
            DeliverRefused::CannotPay
        }
    };
    ext.transactional(|ext| {
        let (id, pricing) = reserve_command(
            ext,
            payer,
            contract,
            record.cluster,
            (gas_limit, deposit),
            false,
        )
        .map_err(refused)?;
        ext.deposit_event(Event::CommandPushed {
            contract,
            origin: AccountId32(origin),
            command: id,
        });
        // A block whose outbound queue is full takes it no more than one whose gas is.
        message_queue::push_bulk(
            ext,
            MODULE,
            CONTRACT_COMMAND,
            &ContractCommand::Deliver {
                id,
                cluster: record.cluster,
                contract,
                origin,
                input,
                gas_limit,
                deposit,
                reporter,
                pricing,
            },
        )
        .map_err(|_| DeliverRefused::Busy)?;
        let at = system::block_number(ext).saturating_add(COMMAND_TIMEOUT);
        let mut due = DEADLINES.get_or_default(ext, &at);
        due.push(id);
        DEADLINES.insert(ext, &at, &due);
        Ok(id)
    })
}
