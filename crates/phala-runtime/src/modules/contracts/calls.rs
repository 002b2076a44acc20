use parity_scale_codec::{Decode, Encode};
use phala_mq::topics::GatekeeperEvent;
use scale_info::TypeInfo;

use phala_crypto::{Envelope, Purpose};
use phala_mq::contracts::{CONTRACT_COMMAND, ContractCommand, MAX_SEALED_INPUT};
use phala_primitives::{AccountId32, Balance, H256};

use super::{
    BLOCK_GAS, CLUSTER_COUNT, CLUSTERS, CODE_RECORDS, CODES, COMMAND_TIMEOUT, ClusterInfo,
    CodeRecord, ContractRecord, ContractStatus, Error, Event, INSTANCES, JOINING, JoiningWorker,
    MAX_BLOCK_GAS, MAX_CLUSTER_WORKERS, MAX_DEPOSIT_PER_BYTE, MAX_GAS, MAX_GAS_PRICE, MAX_SALT_LEN,
    MODULE, NEXT_COMMAND_ID, PENDING_COMMANDS, PRICING, PendingCommand, Pricing, REPORT_TIMEOUT,
    WORKER_CLUSTER, cluster_id, contract_id, pay_fee_from_reserve, pricing, reporter,
    schedule_report,
};
use crate::Ext;
use crate::dispatch::{ArithmeticError, DispatchError, DispatchInfo, DispatchResult, Origin};
use crate::modules::balances;
use crate::modules::{message_queue, registry, system, weights};

/// Calls of the `Contracts` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Create a cluster of registered workers (root: a referendum on the root track). Each worker may
    /// belong to one cluster.
    #[codec(index = 0)]
    create_cluster { workers: Vec<[u8; 32]> },
    /// Upload a wasm code. It is validated with the rules every worker applies (wasm MVP,
    /// no floats, at most 16 memory pages, exactly `deploy` and `call`, at most 2 MiB) and
    /// a deposit per byte is reserved. Uploading a code that exists changes nothing.
    #[codec(index = 1)]
    upload_code { code: Vec<u8> },
    /// Instantiate an uploaded code in a cluster. `data` is the constructor call (selector
    /// and arguments) in a `SealedInput` sealed to the cluster's key. The contract's id is
    /// blake2_256(deployer ‖ code_hash ‖ cluster ‖ salt). `gas_limit` × the gas price is
    /// reserved until the cluster reports; `deposit` bounds the storage it may add.
    #[codec(index = 2)]
    instantiate {
        code_hash: H256,
        data: Envelope,
        salt: Vec<u8>,
        cluster: H256,
        gas_limit: u64,
        deposit: Balance,
    },
    /// Push a command to an instantiated contract: a `SealedInput` sealed to the contract's
    /// key, run in chain order by every worker of its cluster.
    #[codec(index = 3)]
    push_command {
        contract: H256,
        payload: Envelope,
        gas_limit: u64,
        deposit: Balance,
    },
    /// Give up a command (or instantiation) its cluster has not reported for
    /// `COMMAND_TIMEOUT` blocks. Only its submitter may (anyone, for a command the bridge
    /// queued). The cluster may have run it, so nothing it could have cost comes back: the
    /// whole gas limit and a command's deposit limit are paid to the treasury. An
    /// instantiation's id is freed and its deposit limit comes back.
    #[codec(index = 4)]
    cancel_command { command: u64 },
    /// Set the gas price and the deposits per byte (root, or a referendum on the
    /// parameters track): each 1 to its maximum (`MAX_GAS_PRICE`, `MAX_DEPOSIT_PER_BYTE`).
    /// Commands pushed from now on pay them; pending ones keep theirs.
    #[codec(index = 5)]
    set_pricing { pricing: Pricing },
    /// Take a worker out of its cluster (root: a referendum on the root track). It stops
    /// being asked to report; commands it was to report go to the next member after the
    /// report timeout. It is told to erase the cluster key and state, but keys cannot be
    /// taken back from a TEE that does not follow its code, so remove a worker for its
    /// operator's sake, not to shut out a compromised TEE. The last member stays.
    #[codec(index = 6)]
    remove_cluster_worker { worker: [u8; 32] },
    /// Add a registered worker to a cluster whose key is out (root: a referendum on the
    /// root track). The gatekeepers deliver it the cluster's key; it then installs a
    /// member's state, sealed under the cluster key, replays the cluster's commands since,
    /// and says so on chain (`WorkerJoinedCluster`). Until then it is not asked to report.
    #[codec(index = 7)]
    add_cluster_worker { cluster: H256, worker: [u8; 32] },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::create_cluster { workers } => {
                let n = u64::try_from(workers.len()).unwrap_or(u64::MAX);
                weights::reads_writes(n.saturating_mul(2).saturating_add(3), n.saturating_add(3))
            }
            // Validation compiles the code: about 25 ns per byte on the reference machine.
            Call::upload_code { code } => weights::add(
                weights::reads_writes(2, 4),
                weights::compute(
                    u64::try_from(code.len())
                        .unwrap_or(u64::MAX)
                        .saturating_mul(25_000),
                ),
            ),
            Call::instantiate { .. } | Call::push_command { .. } => weights::reads_writes(7, 7),
            Call::cancel_command { .. } => weights::reads_writes(3, 3),
            Call::set_pricing { .. } => weights::reads_writes(0, 1),
            Call::remove_cluster_worker { .. } => weights::reads_writes(3, 3),
            Call::add_cluster_worker { .. } => weights::reads_writes(8, 4),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::create_cluster { workers } => {
                origin.ensure_root()?;
                create_cluster(ext, workers)
            }
            Call::upload_code { code } => {
                let who = origin.ensure_signed()?;
                upload_code(ext, who, code)
            }
            Call::instantiate {
                code_hash,
                data,
                salt,
                cluster,
                gas_limit,
                deposit,
            } => {
                let who = origin.ensure_signed()?;
                instantiate(
                    ext,
                    who,
                    code_hash,
                    data,
                    salt,
                    cluster,
                    (gas_limit, deposit),
                )
            }
            Call::push_command {
                contract,
                payload,
                gas_limit,
                deposit,
            } => {
                let who = origin.ensure_signed()?;
                push_command(ext, who, contract, payload, (gas_limit, deposit))
            }
            Call::cancel_command { command } => {
                let who = origin.ensure_signed()?;
                cancel_command(ext, who, command)
            }
            Call::set_pricing { pricing } => {
                origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
                let within = |v: Balance, max: Balance| (1..=max).contains(&v);
                if !within(pricing.gas_price, MAX_GAS_PRICE)
                    || !within(pricing.storage_deposit_per_byte, MAX_DEPOSIT_PER_BYTE)
                    || !within(pricing.code_deposit_per_byte, MAX_DEPOSIT_PER_BYTE)
                {
                    return Err(Error::BadPricing.into());
                }
                PRICING.put(ext, &pricing);
                ext.deposit_event(Event::PricingSet { pricing });
                Ok(())
            }
            Call::remove_cluster_worker { worker } => {
                origin.ensure_root()?;
                let cluster = WORKER_CLUSTER
                    .get(ext, &worker)
                    .ok_or(Error::NotInCluster)?;
                let info = CLUSTERS.get(ext, &cluster).ok_or(Error::ClusterNotFound)?;
                // A worker still joining holds no turn: it may always go.
                let is_joining = super::joining(ext, &cluster)
                    .iter()
                    .any(|j| j.worker == worker);
                if info.workers.len() <= 1 && !is_joining {
                    return Err(Error::LastMember.into());
                }
                super::leave_cluster(ext, &worker);
                Ok(())
            }
            Call::add_cluster_worker { cluster, worker } => {
                origin.ensure_root()?;
                add_cluster_worker(ext, cluster, worker)
            }
        }
    }
}

fn cancel_command(ext: &mut Ext, who: AccountId32, command: u64) -> DispatchResult {
    let pending = PENDING_COMMANDS
        .get(ext, &command)
        .ok_or(Error::UnknownCommand)?;
    // A command the bridge queued is given up by anyone (and at its deadline by the chain
    // itself, `bridged::on_initialize`): it has no submitter here.
    if pending.origin != who && !super::bridged::is_bridged(&pending) {
        return Err(Error::NotYourCommand.into());
    }
    let due = pending.pushed_at.saturating_add(COMMAND_TIMEOUT);
    if system::block_number(ext) < due {
        return Err(Error::CommandNotTimedOut.into());
    }
    // Its report is in: it settles as soon as the commands ahead of it do.
    if super::order::report_kept(ext, command) {
        return Err(Error::ReportAlreadyIn.into());
    }
    give_up(ext, command, &pending)
}

/// Gives up a pending command whose report never came (checked by the caller). The cluster
/// may have run it: its gas is paid whole. Whatever storage it may have grown is unknown (in
/// any contract it reached), so its deposit limit is forfeited to the treasury rather than
/// handed back, where the submitter could recover it. An instantiation never became active
/// on chain: nobody can call what it made, and its deposit comes back.
pub(super) fn give_up(ext: &mut Ext, command: u64, pending: &PendingCommand) -> DispatchResult {
    let bridged = super::bridged::is_bridged(pending);
    let mut fee = pending
        .pricing
        .gas_price
        .checked_mul(Balance::from(pending.gas_limit))
        .ok_or(ArithmeticError::Overflow)?;
    let mut deposit = pending.deposit;
    let payer = pending.origin;
    if bridged {
        // Its contract may have terminated since, releasing its account: what is left of
        // this command's reservation is all there is to take.
        let held = super::bridged::reservation_left(ext, pending);
        fee = fee.min(held);
        deposit = deposit.min(held.saturating_sub(fee));
    }

    PENDING_COMMANDS.remove(ext, &command);
    super::order::dequeue(ext, &pending.cluster, command);
    pay_fee_from_reserve(ext, &payer, fee)?;
    let (deposit_forfeited, deposit_refunded) = if pending.instantiate {
        balances::unreserve(ext, &payer, deposit);
        (0, deposit)
    } else {
        pay_fee_from_reserve(ext, &payer, deposit)?;
        (deposit, 0)
    };
    if pending.instantiate
        && INSTANCES
            .get(ext, &pending.contract)
            .is_some_and(|r| r.status == ContractStatus::Instantiating)
    {
        INSTANCES.remove(ext, &pending.contract);
    }
    ext.deposit_event(Event::CommandCancelled {
        contract: pending.contract,
        command,
        fee,
        deposit_forfeited,
        deposit_refunded,
    });
    if bridged {
        crate::modules::bridge::on_command_dropped(ext, command);
    }
    // Reports kept behind it can settle now.
    super::order::settle_kept(ext, &pending.cluster);
    Ok(())
}

fn code_error(e: phala_vm::CodeError) -> Error {
    use phala_vm::CodeError as E;
    match e {
        E::TooLarge(_) => Error::CodeTooLarge,
        E::NotWasm | E::Invalid(_) => Error::CodeInvalid,
        E::FloatingPoint(_) => Error::CodeUsesFloats,
        E::NoMemory | E::BadMemoryImport(_) | E::MemoryTooLarge(_) => Error::CodeBadMemory,
        E::UnknownImport(_) | E::ImportSignature(_) | E::ForbiddenImport(_) => {
            Error::CodeBadImports
        }
        E::ForbiddenExport(_) | E::MissingExport(_) | E::ExportSignature(_) => {
            Error::CodeBadExports
        }
    }
}

fn upload_code(ext: &mut Ext, owner: AccountId32, code: Vec<u8>) -> DispatchResult {
    let summary = phala_vm::validate(&code).map_err(code_error)?;
    let code_hash = H256(summary.code_hash);
    if CODE_RECORDS.contains(ext, &code_hash) {
        return Ok(());
    }
    let size = u32::try_from(code.len()).map_err(|_| Error::CodeTooLarge)?;
    let deposit = pricing(ext)
        .code_deposit_per_byte
        .checked_mul(Balance::from(size))
        .ok_or(Error::CodeTooLarge)?;
    balances::reserve(ext, &owner, deposit)?;
    CODES.insert(ext, &code_hash, &code);
    CODE_RECORDS.insert(
        ext,
        &code_hash,
        &CodeRecord {
            owner,
            size,
            deposit,
            uploaded_at: system::block_number(ext),
        },
    );
    ext.deposit_event(Event::CodeUploaded {
        code_hash,
        owner,
        size,
    });
    message_queue::push_bulk(
        ext,
        MODULE,
        CONTRACT_COMMAND,
        &ContractCommand::CodeUploaded { code_hash },
    )
}

/// Checks a sealed input's size and recipient before anything is reserved.
fn check_sealed(envelope: &Envelope, recipient: Option<[u8; 32]>) -> Result<(), Error> {
    if envelope.encoded_size() > MAX_SEALED_INPUT {
        return Err(Error::InputTooLarge);
    }
    if envelope.header.purpose != Purpose::Command {
        return Err(Error::NotACommand);
    }
    if Some(envelope.header.recipient) != recipient {
        return Err(Error::WrongRecipient);
    }
    Ok(())
}

/// Reserves the gas limit's price and the deposit, and records the command.
pub(super) fn reserve_command(
    ext: &mut Ext,
    origin: AccountId32,
    contract: H256,
    cluster: H256,
    (gas_limit, deposit): (u64, Balance),
    instantiate: bool,
) -> Result<(u64, Pricing), DispatchError> {
    if gas_limit == 0 || gas_limit > MAX_GAS {
        return Err(Error::GasLimit.into());
    }
    let pricing = pricing(ext);
    let gas_fee = pricing
        .gas_price
        .checked_mul(Balance::from(gas_limit))
        .ok_or(Error::GasLimit)?;
    let total = gas_fee.checked_add(deposit).ok_or(Error::GasLimit)?;
    let id = NEXT_COMMAND_ID.get_or_default(ext);
    let next = id.checked_add(1).ok_or(Error::TooManyCommands)?;
    let now = system::block_number(ext);
    let used = match BLOCK_GAS.get(ext) {
        Some((block, used)) if block == now => used,
        _ => 0,
    };
    let used = used
        .checked_add(gas_limit)
        .filter(|u| *u <= MAX_BLOCK_GAS)
        .ok_or(Error::BlockGasExhausted)?;
    super::order::check_room(ext, &cluster)?;
    balances::reserve(ext, &origin, total)?;
    super::order::enqueue(ext, &cluster, id);
    BLOCK_GAS.put(ext, &(now, used));
    NEXT_COMMAND_ID.put(ext, &next);
    PENDING_COMMANDS.insert(
        ext,
        &id,
        &PendingCommand {
            origin,
            contract,
            cluster,
            gas_limit,
            deposit,
            instantiate,
            pushed_at: system::block_number(ext),
            reassigned: 0,
            pricing,
        },
    );
    schedule_report(ext, id, now.saturating_add(REPORT_TIMEOUT));
    Ok((id, pricing))
}

fn instantiate(
    ext: &mut Ext,
    deployer: AccountId32,
    code_hash: H256,
    data: Envelope,
    salt: Vec<u8>,
    cluster: H256,
    limits: (u64, Balance),
) -> DispatchResult {
    if salt.len() > MAX_SALT_LEN {
        return Err(Error::SaltTooLong.into());
    }
    if !CODE_RECORDS.contains(ext, &code_hash) {
        return Err(Error::CodeNotFound.into());
    }
    let info = CLUSTERS.get(ext, &cluster).ok_or(Error::ClusterNotFound)?;
    if info.ecdh_pubkey.is_none() {
        return Err(Error::ClusterNotReady.into());
    }
    check_sealed(&data, info.ecdh_pubkey)?;
    let contract = contract_id(&deployer, &code_hash, &cluster, &salt);
    let next_id = NEXT_COMMAND_ID.get_or_default(ext);
    let reporter = reporter(&info, next_id, 0);
    if INSTANCES.contains(ext, &contract) {
        return Err(Error::ContractExists.into());
    }
    if limits.1 < balances::EXISTENTIAL_DEPOSIT {
        return Err(Error::DepositTooLow.into());
    }
    let (id, pricing) = reserve_command(ext, deployer, contract, cluster, limits, true)?;
    INSTANCES.insert(
        ext,
        &contract,
        &ContractRecord {
            code_hash,
            cluster,
            deployer,
            status: ContractStatus::Instantiating,
            pubkey: None,
            ecdh_pubkey: None,
            storage_deposit: 0,
            storage_bytes: 0,
        },
    );
    ext.deposit_event(Event::Instantiating {
        contract,
        cluster,
        deployer,
        code_hash,
        command: id,
    });
    let (gas_limit, deposit) = limits;
    message_queue::push_bulk(
        ext,
        MODULE,
        CONTRACT_COMMAND,
        &ContractCommand::Instantiate {
            id,
            cluster,
            contract,
            code_hash,
            deployer: deployer.0,
            salt,
            data,
            gas_limit,
            deposit,
            reporter,
            pricing,
        },
    )
}

fn push_command(
    ext: &mut Ext,
    origin: AccountId32,
    contract: H256,
    payload: Envelope,
    limits: (u64, Balance),
) -> DispatchResult {
    let record = INSTANCES
        .get(ext, &contract)
        .ok_or(Error::ContractNotFound)?;
    if record.status != ContractStatus::Active {
        return Err(Error::ContractNotReady.into());
    }
    check_sealed(&payload, record.ecdh_pubkey)?;
    if payload.header.contract != Some(contract) {
        return Err(Error::WrongRecipient.into());
    }
    let info = CLUSTERS
        .get(ext, &record.cluster)
        .ok_or(Error::ClusterNotFound)?;
    let reporter = reporter(&info, NEXT_COMMAND_ID.get_or_default(ext), 0);
    let (id, pricing) = reserve_command(ext, origin, contract, record.cluster, limits, false)?;
    ext.deposit_event(Event::CommandPushed {
        contract,
        origin,
        command: id,
    });
    let (gas_limit, deposit) = limits;
    message_queue::push_bulk(
        ext,
        MODULE,
        CONTRACT_COMMAND,
        &ContractCommand::Call {
            id,
            cluster: record.cluster,
            contract,
            origin: origin.0,
            payload,
            gas_limit,
            deposit,
            reporter,
            pricing,
        },
    )
}

/// How many workers a cluster has, those still joining included.
pub(super) fn member_count(ext: &Ext, cluster: &H256, info: &ClusterInfo) -> usize {
    info.workers
        .len()
        .saturating_add(super::joining(ext, cluster).len())
}

fn add_cluster_worker(ext: &mut Ext, cluster: H256, worker: [u8; 32]) -> DispatchResult {
    let info = CLUSTERS.get(ext, &cluster).ok_or(Error::ClusterNotFound)?;
    // Before its key is out, the creation's delivery is still under way: add the worker
    // then, or make it part of a new cluster.
    if info.pubkey.is_none() {
        return Err(Error::ClusterNotReady.into());
    }
    if member_count(ext, &cluster, &info) >= MAX_CLUSTER_WORKERS {
        return Err(Error::TooManyWorkers.into());
    }
    let registered = registry::worker(ext, &worker).ok_or(Error::WorkerNotFound)?;
    registry::check_role(ext, &registered, registry::params(ext).cluster_max_level)?;
    if registry::is_gatekeeper(ext, &worker) {
        return Err(Error::WorkerIsGatekeeper.into());
    }
    if WORKER_CLUSTER.contains(ext, &worker) {
        return Err(Error::WorkerInCluster.into());
    }
    let mut list = super::joining(ext, &cluster);
    list.push(JoiningWorker {
        worker,
        added_at: system::block_number(ext),
        keyed: false,
    });
    WORKER_CLUSTER.insert(ext, &worker, &cluster);
    JOINING.insert(ext, &cluster, &list);
    ext.deposit_event(Event::WorkerJoiningCluster { cluster, worker });
    message_queue::push(
        ext,
        MODULE,
        phala_mq::topics::GATEKEEPER_EVENT,
        &GatekeeperEvent::ClusterMemberAdded {
            cluster,
            master_version: info.master_version,
            worker: (registered.pubkey, registered.ecdh_pubkey),
        },
    )
}

fn create_cluster(ext: &mut Ext, workers: Vec<[u8; 32]>) -> DispatchResult {
    if workers.is_empty() {
        return Err(Error::NoWorkers.into());
    }
    if workers.len() > MAX_CLUSTER_WORKERS {
        return Err(Error::TooManyWorkers.into());
    }
    let master_version = registry::master_version(ext).ok_or(Error::NoMasterKey)?;
    let mut keys = Vec::with_capacity(workers.len());
    for (i, w) in workers.iter().enumerate() {
        if workers.iter().take(i).any(|earlier| earlier == w) {
            return Err(Error::DuplicateWorker.into());
        }
        let info = registry::worker(ext, w).ok_or(Error::WorkerNotFound)?;
        registry::check_role(ext, &info, registry::params(ext).cluster_max_level)?;
        if registry::is_gatekeeper(ext, w) {
            return Err(Error::WorkerIsGatekeeper.into());
        }
        if WORKER_CLUSTER.contains(ext, w) {
            return Err(Error::WorkerInCluster.into());
        }
        keys.push((info.pubkey, info.ecdh_pubkey));
    }
    let n = CLUSTER_COUNT.get_or_default(ext);
    let next = n.checked_add(1).ok_or(Error::TooManyClusters)?;
    let cluster = cluster_id(n);

    CLUSTER_COUNT.put(ext, &next);
    for w in &workers {
        WORKER_CLUSTER.insert(ext, w, &cluster);
    }
    CLUSTERS.insert(
        ext,
        &cluster,
        &ClusterInfo {
            workers: workers.clone(),
            master_version,
            pubkey: None,
            ecdh_pubkey: None,
            created_at: system::block_number(ext),
        },
    );
    ext.deposit_event(Event::ClusterCreated { cluster, workers });
    message_queue::push(
        ext,
        MODULE,
        phala_mq::topics::GATEKEEPER_EVENT,
        &GatekeeperEvent::ClusterCreated {
            cluster,
            master_version,
            workers: keys,
        },
    )
}
