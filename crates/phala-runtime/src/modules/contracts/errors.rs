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
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::CONTRACTS;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}
