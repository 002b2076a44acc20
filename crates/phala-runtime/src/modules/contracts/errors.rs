use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;

/// Errors of the `Contracts` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// A cluster needs at least one worker.
    NoWorkers,
    /// A cluster has at most 64 workers.
    TooManyWorkers,
    /// A worker is listed twice.
    DuplicateWorker,
    /// No worker is registered under this key.
    WorkerNotFound,
    /// The worker already belongs to a cluster.
    WorkerInCluster,
    /// No master key exists yet: register a gatekeeper first.
    NoMasterKey,
    /// No cluster has this id.
    ClusterNotFound,
    /// The cluster's key is already set (another gatekeeper's copy came first).
    ClusterKeyAlreadySet,
    /// The cluster counter is exhausted.
    TooManyClusters,
    /// The code is larger than 2 MiB.
    CodeTooLarge,
    /// The code is not a valid wasm module (MVP and sign-extension only).
    CodeInvalid,
    /// The code uses floating point, which would make workers disagree.
    CodeUsesFloats,
    /// The code must import one memory as `env.memory`, of at most 16 pages.
    CodeBadMemory,
    /// The code imports something that is not a host function of the contract runtime.
    CodeBadImports,
    /// The code must export exactly `deploy` and `call`, both `() -> ()`.
    CodeBadExports,
    /// No code was uploaded under this hash.
    CodeNotFound,
    /// The cluster's key has not been delivered yet.
    ClusterNotReady,
    /// A contract with this deployer, code, cluster and salt exists.
    ContractExists,
    /// No contract has this id.
    ContractNotFound,
    /// The contract is still being instantiated.
    ContractNotReady,
    /// The salt is longer than 128 bytes.
    SaltTooLong,
    /// The sealed input is larger than 48 KiB.
    InputTooLarge,
    /// The envelope is not sealed for a command.
    NotACommand,
    /// The envelope is not sealed to the cluster's (or contract's) key.
    WrongRecipient,
    /// The gas limit must be between 1 and 10,000,000,000.
    GasLimit,
    /// The command counter is exhausted.
    TooManyCommands,
    /// No command is waiting under this id: none was sent under it, or it was already
    /// reported (by another worker, perhaps) or cancelled.
    UnknownCommand,
    /// The worker is not in the cluster (a report from outside it, or removing a worker
    /// that is in none).
    NotInCluster,
    /// The report does not decode.
    BadReport,
    /// This block's commands have reserved all the gas a block allows; try the next block.
    BlockGasExhausted,
    /// Only the account that pushed a command may cancel it.
    NotYourCommand,
    /// A command may be cancelled only 100 blocks after it was pushed.
    CommandNotTimedOut,
    /// An instantiation's deposit must at least cover the contract account's existential
    /// deposit (0.01 PHA).
    DepositTooLow,
    /// The cluster has as many commands waiting for their reports as it may (1,024).
    ClusterBusy,
    /// A report of this command is already in; it waits for the commands ahead of it.
    ReportAlreadyIn,
    /// The gas price must be 1 to 1,000,000 plancks and each deposit per byte 1 planck to
    /// 1 PHA.
    BadPricing,
    /// A cluster keeps at least one member.
    LastMember,
    /// The worker was not added to this cluster, or has not received its key yet.
    NotJoining,
    /// A joining worker's state must be from the block it was added at, or later.
    StateTooOld,
    /// Gatekeepers hold the master key and run no contracts: a gatekeeper cannot join a
    /// cluster.
    WorkerIsGatekeeper,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::CONTRACTS;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
