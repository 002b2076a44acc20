use parity_scale_codec::{Decode, Encode};
use phala_crypto::Envelope;
use phala_mq::contracts::CommandStatus;
use phala_primitives::{AccountId32, Balance, H256};
use scale_info::TypeInfo;

/// Events of the `Contracts` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A cluster was created; its key follows from the gatekeepers.
    #[codec(index = 0)]
    ClusterCreated {
        cluster: H256,
        workers: Vec<[u8; 32]>,
    },
    /// The gatekeepers delivered a cluster's key to its workers.
    #[codec(index = 1)]
    ClusterKeyPublished {
        cluster: H256,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
    /// A code was uploaded and validated.
    #[codec(index = 2)]
    CodeUploaded {
        code_hash: H256,
        owner: AccountId32,
        size: u32,
    },
    /// An instantiation was handed to its cluster as command `command`.
    #[codec(index = 3)]
    Instantiating {
        contract: H256,
        cluster: H256,
        deployer: AccountId32,
        code_hash: H256,
        command: u64,
    },
    /// The cluster ran the constructor; commands may now be sealed to `ecdh_pubkey`.
    #[codec(index = 4)]
    Instantiated {
        contract: H256,
        command: u64,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
    /// The constructor failed; nothing was created and the id is free again.
    #[codec(index = 5)]
    InstantiationFailed {
        contract: H256,
        command: u64,
        status: CommandStatus,
    },
    /// A command was handed to the contract's cluster.
    #[codec(index = 6)]
    CommandPushed {
        contract: H256,
        origin: AccountId32,
        command: u64,
    },
    /// The cluster ran a command (or a constructor): its status, gas, fee, the storage
    /// deposit it paid and the deposit it got back for storage it freed, and the output sealed
    /// to the caller's reply key.
    #[codec(index = 7)]
    CommandExecuted {
        contract: H256,
        command: u64,
        status: CommandStatus,
        gas_used: u64,
        fee: Balance,
        storage_deposit: Balance,
        storage_refunded: Balance,
        output: Option<Envelope>,
    },
    /// Its submitter gave up a command its cluster did not report in time. The cluster may
    /// have run it, so it paid its whole gas limit as `fee` and forfeited its deposit limit
    /// to the treasury (`deposit_forfeited`: what it may have grown is unknown); an
    /// instantiation's deposit comes back (`deposit_refunded`).
    #[codec(index = 8)]
    CommandCancelled {
        contract: H256,
        command: u64,
        fee: Balance,
        deposit_forfeited: Balance,
        deposit_refunded: Balance,
    },
    /// A contract terminated during command `command`: its account's balance, deposits
    /// included, went to `beneficiary`, and it can no longer be called.
    #[codec(index = 9)]
    ContractTerminated {
        contract: H256,
        command: u64,
        beneficiary: AccountId32,
        released: Balance,
    },
    /// A contract instantiated another during command `command`; commands may be sealed
    /// to the new contract's `ecdh_pubkey` at once.
    #[codec(index = 10)]
    ContractInstantiatedByContract {
        contract: H256,
        deployer: H256,
        code_hash: H256,
        command: u64,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
    /// A contract replaced its own code (`set_code_hash`) during command `command`.
    #[codec(index = 11)]
    ContractCodeChanged {
        contract: H256,
        command: u64,
        code_hash: H256,
    },
    /// A worker left its cluster: its measurement was removed from the allowlist.
    #[codec(index = 12)]
    WorkerLeftCluster { cluster: H256, worker: [u8; 32] },
    /// A command's report came in before the commands ahead of it settled: it is kept and
    /// settles right after them.
    #[codec(index = 13)]
    ReportKept { cluster: H256, command: u64 },
    /// A kept report did not settle when its turn came; the command waits for another
    /// member's report.
    #[codec(index = 14)]
    ReportRefused {
        cluster: H256,
        command: u64,
        error: crate::dispatch::DispatchError,
    },
    /// A cluster's gas revenue was shared: `paid` of `revenue` went from the treasury to
    /// its computing members' pools (the rest, the treasury's part, stays).
    #[codec(index = 15)]
    GasShared {
        cluster: H256,
        revenue: Balance,
        paid: Balance,
    },
    /// Governance set the prices commands pushed from now on pay.
    #[codec(index = 16)]
    PricingSet {
        pricing: phala_mq::contracts::Pricing,
    },
    /// Root added a worker to a cluster: the gatekeepers deliver it the cluster's key, then
    /// it fetches a member's state and joins the reporting turns
    /// ([`Event::WorkerJoinedCluster`]).
    #[codec(index = 17)]
    WorkerJoiningCluster { cluster: H256, worker: [u8; 32] },
    /// A worker added to a cluster holds its state (a member's, as of block `state_at`,
    /// with every command since replayed) and takes its turn reporting.
    #[codec(index = 18)]
    WorkerJoinedCluster {
        cluster: H256,
        worker: [u8; 32],
        state_at: phala_primitives::BlockNumber,
    },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Contracts(e)
    }
}
