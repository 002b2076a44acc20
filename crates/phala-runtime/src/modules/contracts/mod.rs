//! `Contracts`: clusters of workers that run confidential contracts (docs/protocol.md,
//! *Contract commands*).
//!
//! Root (a referendum on the root track) creates a cluster from registered workers. The gatekeepers derive
//! its key from the master key, `derive(master, "cluster_key", cluster id)`, and seal it to
//! each of its workers; the chain records the cluster's public keys and relays the sealed
//! copies.
//!
//! Anyone uploads code (validated here with the workers' own rules, so accepted code always
//! loads), instantiates it in a cluster with constructor data sealed to the cluster key, and
//! pushes commands sealed to the contract key. The chain orders them and hands them to the
//! cluster; it never sees an input, an output or a contract's state. Gas is paid in PHA: the
//! limit is reserved up front, and when the first cluster worker reports the command done,
//! the gas used goes to the treasury and the rest is refunded. Storage is paid for as in
//! pallet-contracts: each contract has an account (opened with the existential deposit by
//! whoever instantiates it) holding in reserve a deposit per byte of its storage; a command
//! that grows a contract's storage pays into that reserve out of its deposit limit, one that
//! shrinks it is paid back, and termination sends the whole account to the beneficiary.
//!
//! Every payment of a command comes out of what it reserved when it was pushed (the gas
//! limit's price plus the deposit limit, the most it can cost), moved straight from the
//! origin's reserve to the treasury or the contract's account; only the rest is unreserved.
//! What the origin does with its free balance meanwhile cannot make a report fail, so a
//! command its cluster ran is always paid for. A command that is never reported can be
//! cancelled by its origin after [`COMMAND_TIMEOUT`] blocks, but the cluster may have run it
//! by then, so cancelling refunds no work: the whole gas limit is paid to the treasury, and
//! a command's deposit limit goes into its contract's storage reserve (and
//! `ContractRecord::storage_deposit`), since the cluster may have grown the contract's
//! storage without the chain charging for it and a later command freeing those bytes would
//! otherwise be refunded other callers' deposits. Only an instantiation's deposit comes back
//! (the contract never became active on chain, so it holds no storage deposits), as does the
//! deposit of a command whose contract is gone (its storage went with it).

#[cfg(test)]
mod bridge_tests;
mod bridged;
mod calls;
mod errors;
mod events;
pub mod gas;
#[cfg(test)]
mod join_tests;
mod membership;
pub mod order;
mod report;
#[cfg(test)]
mod tests;

pub use bridged::{DeliverRefused, MAX_BRIDGED_BYTES, MAX_BRIDGED_GAS, deliver, is_bridged};
pub use calls::Call;
pub use errors::Error;
pub use events::Event;
pub use membership::{
    cluster_key_report_weight, on_cluster_key_report, on_state_ready, recheck_member,
    state_ready_weight,
};

use parity_scale_codec::{Decode, Encode};
pub use phala_mq::contracts::Pricing;
use phala_mq::topics::{self, ClusterEvent, Delivery};
use phala_primitives::storage::Hasher;
use phala_primitives::{AccountId32, Balance, BlockNumber, H256};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{TREASURY_ACCOUNT, balances, message_queue};
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Contracts";

/// Most workers in one cluster: bounds the key hand-over message.
pub const MAX_CLUSTER_WORKERS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClusterInfo {
    /// Member workers' identity keys.
    pub workers: Vec<[u8; 32]>,
    /// The master key version the cluster key derives from.
    pub master_version: u32,
    /// The cluster key's sr25519 public key, once the gatekeepers delivered it.
    pub pubkey: Option<[u8; 32]>,
    /// The cluster key's x25519 public key.
    pub ecdh_pubkey: Option<[u8; 32]>,
    pub created_at: BlockNumber,
}

pub const CLUSTER_COUNT: StorageValue<u64> = StorageValue::new(
    MODULE,
    "ClusterCount",
    Query::Default,
    &[" Clusters created so far: the next cluster's id derives from it."],
);
pub const CLUSTERS: StorageMap<H256, ClusterInfo> = StorageMap::new(
    MODULE,
    "Clusters",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Clusters by id: their workers and public keys."],
);
pub const WORKER_CLUSTER: StorageMap<[u8; 32], H256> = StorageMap::new(
    MODULE,
    "WorkerCluster",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The cluster each worker belongs to (at most one)."],
);

/// A worker root added to a cluster that exists, until it holds the cluster's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct JoiningWorker {
    pub worker: [u8; 32],
    pub added_at: BlockNumber,
    /// Whether the gatekeepers delivered it the cluster's key.
    pub keyed: bool,
}

pub const JOINING: StorageMap<H256, Vec<JoiningWorker>> = StorageMap::new(
    MODULE,
    "Joining",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[
        " Workers added to each cluster that do not hold its state yet: they are not asked to",
        " report until they do.",
    ],
);

/// The workers joining `cluster`.
pub fn joining(ext: &Ext, cluster: &H256) -> Vec<JoiningWorker> {
    JOINING.get_or_default(ext, cluster)
}

/// Whether `worker` takes report turns in `cluster`: a member, not one still joining it
/// (which has no state to report from).
pub fn holds_turns(ext: &Ext, worker: &[u8; 32], cluster: &H256) -> bool {
    WORKER_CLUSTER.get(ext, worker) == Some(*cluster)
        && !joining(ext, cluster).iter().any(|j| j.worker == *worker)
}

/// Takes `worker` off `cluster`'s joining list; whether it was on it.
pub(crate) fn stop_joining(ext: &mut Ext, cluster: &H256, worker: &[u8; 32]) -> bool {
    let mut list = joining(ext, cluster);
    let before = list.len();
    list.retain(|j| j.worker != *worker);
    if list.len() == before {
        return false;
    }
    if list.is_empty() {
        JOINING.remove(ext, cluster);
    } else {
        JOINING.insert(ext, cluster, &list);
    }
    true
}

/// PHA (in plancks) per unit of gas until governance sets [`PRICING`]. A unit of gas is
/// about one wasm instruction.
pub const GAS_PRICE: Balance = 1_000;
/// Most gas one command or instantiation may reserve.
pub const MAX_GAS: u64 = 10_000_000_000;
/// Deposit per byte of uploaded code, reserved from the uploader (until governance sets
/// [`PRICING`]).
pub const CODE_DEPOSIT_PER_BYTE: Balance = 100_000_000;
/// Deposit per byte of contract storage a command adds, taken from its deposit (until
/// governance sets [`PRICING`]).
pub const STORAGE_DEPOSIT_PER_BYTE: Balance = 100_000_000;
/// The prices a chain starts with.
pub const DEFAULT_PRICING: Pricing = Pricing {
    gas_price: GAS_PRICE,
    storage_deposit_per_byte: STORAGE_DEPOSIT_PER_BYTE,
    code_deposit_per_byte: CODE_DEPOSIT_PER_BYTE,
};
/// Highest gas price governance may set: a full command then reserves at most
/// `MAX_GAS` × this = 10,000 PHA.
pub const MAX_GAS_PRICE: Balance = 1_000_000;
/// Highest per-byte deposit governance may set: 1 PHA.
pub const MAX_DEPOSIT_PER_BYTE: Balance = phala_primitives::PHA;
/// Longest instantiation salt.
pub const MAX_SALT_LEN: usize = 128;
/// Most gas all commands of one block may reserve, so a cluster never falls far behind.
pub const MAX_BLOCK_GAS: u64 = 2 * MAX_GAS;
/// Blocks after which a command its cluster has not reported may be cancelled.
pub const COMMAND_TIMEOUT: BlockNumber = 100;
/// Blocks a command's reporter has before the next member is asked to report it instead.
pub const REPORT_TIMEOUT: BlockNumber = 10;

/// An uploaded code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct CodeRecord {
    pub owner: AccountId32,
    pub size: u32,
    pub deposit: Balance,
    pub uploaded_at: BlockNumber,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ContractStatus {
    /// Waiting for its cluster to run the constructor.
    #[default]
    #[codec(index = 0)]
    Instantiating,
    /// Instantiated: commands may be sealed to its key.
    #[codec(index = 1)]
    Active,
}

/// A contract, as far as the chain knows it: where it runs and its public keys, never its
/// state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ContractRecord {
    pub code_hash: H256,
    pub cluster: H256,
    pub deployer: AccountId32,
    pub status: ContractStatus,
    /// The contract key's sr25519 public key, registered by its cluster.
    pub pubkey: Option<[u8; 32]>,
    /// The contract key's x25519 public key: commands are sealed to it.
    pub ecdh_pubkey: Option<[u8; 32]>,
    /// Storage deposit held (reserved) on its account, [`contract_account`].
    pub storage_deposit: Balance,
    /// Bytes of storage that deposit pays for. Freed bytes are refunded their share of it
    /// (`storage_deposit × freed / storage_bytes`), not at a price: bytes stored when
    /// deposits were cheap never draw out what others paid at a dearer price.
    pub storage_bytes: u64,
}

/// A contract's own account: the contract id as an account id. It is opened with the
/// existential deposit when the contract is instantiated and holds the contract's storage
/// deposits in reserve; termination empties it to the contract's beneficiary.
pub fn contract_account(contract: &H256) -> AccountId32 {
    AccountId32(contract.0)
}

/// A command (or instantiation) the cluster has not reported yet, and what it reserved.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct PendingCommand {
    pub origin: AccountId32,
    pub contract: H256,
    /// The cluster that runs it (the contract may be gone by the time it reports).
    pub cluster: H256,
    pub gas_limit: u64,
    pub deposit: Balance,
    pub instantiate: bool,
    pub pushed_at: BlockNumber,
    /// How many times another member was asked to report it ([`REPORT_TIMEOUT`]).
    pub reassigned: u32,
    /// The prices in force when it was pushed, which it is settled at.
    pub pricing: Pricing,
}

pub const CODES: StorageMap<H256, Vec<u8>> = StorageMap::new(
    MODULE,
    "Codes",
    Hasher::Identity,
    Query::Optional,
    &[" Uploaded wasm codes by blake2b-256 hash. Public: workers fetch them by hash."],
);
pub const CODE_RECORDS: StorageMap<H256, CodeRecord> = StorageMap::new(
    MODULE,
    "CodeRecords",
    Hasher::Identity,
    Query::Optional,
    &[" Who uploaded each code, its size and deposit."],
);
pub const INSTANCES: StorageMap<H256, ContractRecord> = StorageMap::new(
    MODULE,
    "Instances",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Contracts by id: code, cluster, deployer and public keys."],
);
pub const NEXT_COMMAND_ID: StorageValue<u64> = StorageValue::new(
    MODULE,
    "NextCommandId",
    Query::Default,
    &[" The id the next command or instantiation gets."],
);
pub const BLOCK_GAS: StorageValue<(BlockNumber, u64)> = StorageValue::new(
    MODULE,
    "BlockGas",
    Query::Optional,
    &[" Gas reserved by commands in the block named, against `MAX_BLOCK_GAS`."],
);
pub const PRICING: StorageValue<Pricing> = StorageValue::new(
    MODULE,
    "Pricing",
    Query::Optional,
    &[
        " Gas price and deposits per byte set by governance (the defaults until then). A",
        " command keeps the prices in force when it was pushed.",
    ],
);

/// The prices in force.
pub fn pricing(ext: &Ext) -> Pricing {
    PRICING.get(ext).unwrap_or(DEFAULT_PRICING)
}

pub const PENDING_COMMANDS: StorageMap<u64, PendingCommand> = StorageMap::new(
    MODULE,
    "PendingCommands",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Commands awaiting their cluster's report, with what they reserved."],
);

pub const REPORT_DEADLINES: StorageMap<BlockNumber, Vec<u64>> = StorageMap::new(
    MODULE,
    "ReportDeadlines",
    Hasher::Twox64Concat,
    Query::Default,
    &[
        " Commands whose reporter is due by the block named: still pending then, they go to the next member.",
    ],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        CLUSTER_COUNT.metadata(),
        CLUSTERS.metadata(),
        WORKER_CLUSTER.metadata(),
        JOINING.metadata(),
        CODES.metadata(),
        CODE_RECORDS.metadata(),
        INSTANCES.metadata(),
        NEXT_COMMAND_ID.metadata(),
        BLOCK_GAS.metadata(),
        PRICING.metadata_optional(),
        PENDING_COMMANDS.metadata_optional(),
        REPORT_DEADLINES.metadata(),
        bridged::DEADLINES.metadata(),
    ]
    .into_iter()
    .chain(order::storage_metadata())
    .chain(gas::storage_metadata())
    .collect()
}

/// The member that reports command `id` after `reassigned` reassignments: members take
/// turns, and a reassignment goes to the next one.
pub fn reporter(info: &ClusterInfo, id: u64, reassigned: u32) -> [u8; 32] {
    let n = u64::try_from(info.workers.len()).unwrap_or(u64::MAX).max(1);
    let turn = id.wrapping_add(u64::from(reassigned));
    usize::try_from(turn.checked_rem(n).unwrap_or(0))
        .ok()
        .and_then(|i| info.workers.get(i))
        .copied()
        .unwrap_or_default()
}

/// Expects a report of `id` by `at`.
pub(crate) fn schedule_report(ext: &mut Ext, id: u64, at: BlockNumber) {
    let mut due = REPORT_DEADLINES.get_or_default(ext, &at);
    due.push(id);
    REPORT_DEADLINES.insert(ext, &at, &due);
}

/// Block start: commands whose reporter let its deadline pass go to the next member, until
/// every member has had its turn (then only `cancel_command` is left).
pub fn on_initialize<C: Config>(ext: &mut Ext, number: BlockNumber) {
    order::on_initialize(ext);
    gas::share::<C>(ext);
    bridged::on_initialize(ext, number);
    let due = REPORT_DEADLINES.get_or_default(ext, &number);
    if due.is_empty() {
        return;
    }
    REPORT_DEADLINES.remove(ext, &number);
    for id in due {
        let Some(mut pending) = PENDING_COMMANDS.get(ext, &id) else {
            continue;
        };
        // Its report is in, waiting for the commands ahead of it.
        if order::report_kept(ext, id) {
            continue;
        }
        let Some(info) = CLUSTERS.get(ext, &pending.cluster) else {
            continue;
        };
        let turns = u32::try_from(info.workers.len()).unwrap_or(u32::MAX);
        let next = pending.reassigned.saturating_add(1);
        if next >= turns {
            continue;
        }
        let reporter = reporter(&info, id, next);
        let sent = message_queue::push(
            ext,
            MODULE,
            phala_mq::contracts::CONTRACT_COMMAND,
            &phala_mq::contracts::ContractCommand::Reassign {
                id,
                cluster: pending.cluster,
                reporter,
            },
        );
        if sent.is_err() {
            // A full queue this block: try again in the next.
            schedule_report(ext, id, number.saturating_add(1));
            continue;
        }
        pending.reassigned = next;
        PENDING_COMMANDS.insert(ext, &id, &pending);
        schedule_report(ext, id, number.saturating_add(REPORT_TIMEOUT));
    }
}

/// The id of a contract: blake2_256(deployer ‖ code_hash ‖ cluster ‖ salt).
pub fn contract_id(deployer: &AccountId32, code_hash: &H256, cluster: &H256, salt: &[u8]) -> H256 {
    H256(phala_vm::contract_address(
        &deployer.0,
        &code_hash.0,
        &cluster.0,
        salt,
    ))
}

pub fn instance(ext: &Ext, id: &H256) -> Option<ContractRecord> {
    INSTANCES.get(ext, id)
}

pub use order::on_report;
pub use report::report_weight;

/// What the runtime's root tells this module: who is paid for the compute a command used.
pub trait Config {
    /// Shares `revenue`, gas a cluster's commands paid the treasury, with those who provide
    /// the compute among the cluster's `workers`, paying them out of the treasury (less the
    /// treasury's own part). Returns what it paid.
    fn pay_providers(ext: &mut Ext, workers: &[[u8; 32]], revenue: Balance) -> Balance;
}

/// Nobody but the treasury is paid (tests of this module alone).
impl Config for () {
    fn pay_providers(_: &mut Ext, _: &[[u8; 32]], _: Balance) -> Balance {
        0
    }
}

/// Pays a command's gas `fee` out of `who`'s reserve to the treasury and records it as
/// `cluster`'s revenue, shared with its computing members at a later block start
/// ([`gas`]).
pub(crate) fn pay_gas(
    ext: &mut Ext,
    who: &AccountId32,
    cluster: &H256,
    fee: Balance,
) -> DispatchResult {
    pay_fee_from_reserve(ext, who, fee)?;
    gas::owe_providers(ext, cluster, fee);
    Ok(())
}

/// Pays a command's `fee` out of `who`'s reserve to the treasury. A treasury that does not
/// exist yet cannot take a fee below the existential deposit: burnt then, as transaction
/// fees are, rather than leaving the command unsettled.
pub(crate) fn pay_fee_from_reserve(
    ext: &mut Ext,
    who: &AccountId32,
    fee: Balance,
) -> DispatchResult {
    balances::take_reserved(ext, who, fee)?;
    // `deposit` checks before it writes: a refusal leaves the treasury as it was.
    if balances::deposit(ext, &TREASURY_ACCOUNT, fee).is_err() {
        balances::burn_withdrawn(ext, fee)?;
    }
    Ok(())
}

/// The id of the `n`-th cluster.
pub fn cluster_id(n: u64) -> H256 {
    H256(phala_primitives::hashing::blake2_256(
        &(b"phala/cluster", n).encode(),
    ))
}

pub fn cluster(ext: &Ext, id: &H256) -> Option<ClusterInfo> {
    CLUSTERS.get(ext, id)
}

/// Takes a revoked worker out of its cluster, if it is in one. Commands it was to report
/// go to the next member when their report times out.
pub fn leave_cluster(ext: &mut Ext, worker: &[u8; 32]) {
    let Some(cluster) = WORKER_CLUSTER.get(ext, worker) else {
        return;
    };
    WORKER_CLUSTER.remove(ext, worker);
    // The worker erases the key and the cluster's state. Chain messages have reserved
    // room; were it ever refused, the worker would keep them as before, holding no turn.
    let _ = message_queue::push(
        ext,
        MODULE,
        topics::CLUSTER_EVENT,
        &ClusterEvent::MemberLeft {
            cluster,
            worker: *worker,
        },
    );
    if stop_joining(ext, &cluster, worker) {
        ext.deposit_event(Event::WorkerLeftCluster {
            cluster,
            worker: *worker,
        });
        return;
    }
    if let Some(mut info) = CLUSTERS.get(ext, &cluster) {
        info.workers.retain(|w| w != worker);
        CLUSTERS.insert(ext, &cluster, &info);
        ext.deposit_event(Event::WorkerLeftCluster {
            cluster,
            worker: *worker,
        });
    }
}

/// The workers of a cluster still waiting for its key.
pub fn cluster_workers(ext: &Ext, id: &H256) -> Result<Vec<[u8; 32]>, Error> {
    let info = CLUSTERS.get(ext, id).ok_or(Error::ClusterNotFound)?;
    if info.pubkey.is_some() {
        return Err(Error::ClusterKeyAlreadySet);
    }
    Ok(info.workers)
}

/// Records a cluster's public keys (the first gatekeeper copy) and relays the sealed keys.
pub fn set_cluster_key(
    ext: &mut Ext,
    cluster: H256,
    pubkey: [u8; 32],
    ecdh_pubkey: [u8; 32],
    envelopes: Vec<Delivery>,
) -> DispatchResult {
    let mut info = CLUSTERS.get(ext, &cluster).ok_or(Error::ClusterNotFound)?;
    if info.pubkey.is_some() {
        return Err(Error::ClusterKeyAlreadySet.into());
    }
    info.pubkey = Some(pubkey);
    info.ecdh_pubkey = Some(ecdh_pubkey);
    CLUSTERS.insert(ext, &cluster, &info);
    ext.deposit_event(Event::ClusterKeyPublished {
        cluster,
        pubkey,
        ecdh_pubkey,
    });
    message_queue::push(
        ext,
        MODULE,
        topics::CLUSTER_EVENT,
        &ClusterEvent::Key {
            cluster,
            pubkey,
            ecdh_pubkey,
            envelopes,
        },
    )
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Contracts",
        index: crate::modules::index::CONTRACTS,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Confidential contracts: clusters of workers and their keys.",
    }
}
