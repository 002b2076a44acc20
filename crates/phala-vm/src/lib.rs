//! Runs unmodified compiled ink! contracts (docs/contracts-abi.md).
//!
//! A [`Vm`] executes one request (instantiate or call) against a cluster's committed state
//! ([`Backend`]) and returns an [`Outcome`]: the result, the gas used, and the [`Changes`] to
//! commit. It never writes anything itself, so the worker decides what is committed, and
//! atomically. The host API is pallet-contracts' (`seal0`/`seal1`/`seal2` and the legacy
//! `seal_` names), with its return codes and REVERT semantics, plus Phala's pink chain
//! extension; gas is wasmi fuel.
//!
//! Determinism: commands run in [`Mode::Transaction`] on every worker of a cluster and must end
//! in the same state. Floats are refused at upload, fuel is counted by one pinned wasmi with
//! eager compilation, and every host function whose answer could differ between workers
//! (HTTP, randomness, the local cache, the clock, sr25519 signing) answers a fixed value in
//! transactions.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod code;
mod crypto;
mod env;
mod exec;
pub mod gas;
mod host;
mod host_calls;
mod mem;
mod pink;
mod world;
pub mod xcm;

use std::sync::Arc;
use std::time::Instant;

pub use code::{CodeError, CodeSummary, MAX_CODE_SIZE, MAX_MEMORY_PAGES, validate};
pub use crypto::SigType;
pub use env::{LOCAL_CACHE_QUOTA, LocalEnvironment};
pub use exec::{MAX_CALL_DEPTH, MAX_DEBUG_BUFFER};
pub use host::{MAX_EVENT_TOPICS, MAX_PAYLOAD_LEN, MAX_STORAGE_KEY_LEN};
pub use pink::{
    Environment, HttpRequest, HttpRequestError, HttpResponse, MAX_BATCH_REQUESTS, MAX_HTTP_TIMEOUT,
    PINK_EVENT_TOPIC, QuotaExceeded, apply_cache_op,
};
pub use world::{
    AccountId, Backend, CacheOp, Changes, CodeHash, ContractEvent, ContractInfo, MAX_SENT,
    MAX_SENT_BYTES, MemoryBackend, apply_changes, contract_address,
};

use exec::{Frame, HostState, Shared, World};

/// Where the compiled contracts of `../shared/fixtures/contracts` are, for tests and benches:
/// `$PHALA_FIXTURES/contracts`, else a `shared/fixtures/contracts` beside this checkout or
/// any folder above it, else `/work/shared/fixtures/contracts`.
#[doc(hidden)]
pub fn contract_fixtures_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Ok(dir) = std::env::var("PHALA_FIXTURES") {
        return PathBuf::from(dir).join("contracts");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/fixtures/contracts"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/contracts"))
}
use world::Overlay;

/// The `seal_return` flag that reverts the frame's changes.
pub const REVERT: u32 = 0x1;

/// pallet-contracts' `ReturnErrorCode`, as host functions return it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ReturnCode {
    Success = 0,
    CalleeTrapped = 1,
    CalleeReverted = 2,
    KeyNotFound = 3,
    TransferFailed = 5,
    CodeNotFound = 7,
    NotCallable = 8,
    LoggingDisabled = 9,
    CallRuntimeFailed = 10,
    EcdsaRecoveryFailed = 11,
    Sr25519VerifyFailed = 12,
    XcmExecutionFailed = 13,
    XcmSendFailed = 14,
}

/// Whether an execution is a command (ordered by the chain, run by every cluster worker, its
/// changes kept) or a query (one worker, nothing kept, may use HTTP and randomness).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Transaction,
    Query,
}

/// The block and cluster an execution runs in.
#[derive(Clone, Debug)]
pub struct ExecContext {
    pub mode: Mode,
    pub cluster: [u8; 32],
    pub block_number: u32,
    /// The block's timestamp: what `now` returns.
    pub timestamp_ms: u64,
    /// PHA (in plancks) per unit of gas, for `weight_to_fee`.
    pub gas_price: u128,
    /// What pink's `system_contract_id` returns.
    pub system_contract: AccountId,
    /// A query stops with [`ExecError::Timeout`] at its next host call after this.
    pub deadline: Option<Instant>,
}

/// What to run.
#[derive(Clone, Debug)]
pub enum Entry {
    Instantiate {
        code_hash: CodeHash,
        salt: Vec<u8>,
        input: Vec<u8>,
    },
    Call {
        contract: AccountId,
        input: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
pub struct Request {
    /// The account that signed the command or query (all zeros for an anonymous query).
    pub origin: AccountId,
    pub entry: Entry,
    pub gas_limit: u64,
}

/// How a contract returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecReturn {
    pub flags: u32,
    pub data: Vec<u8>,
}

impl ExecReturn {
    pub fn is_revert(&self) -> bool {
        self.flags & REVERT != 0
    }
}

/// Why an execution failed. Every failure rolls back all changes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("out of gas")]
    OutOfGas,
    #[error("contract trapped: {0}")]
    Trapped(String),
    #[error("code 0x{} is not uploaded", hex(.0))]
    CodeNotFound(CodeHash),
    #[error("no contract 0x{}", hex(.0))]
    ContractNotFound(AccountId),
    #[error("contract 0x{} already exists (same deployer, code and salt)", hex(.0))]
    DuplicateContract(AccountId),
    #[error("the query ran past its deadline")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(&'static str),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The result of one execution.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub result: Result<ExecReturn, ExecError>,
    /// The called contract, or the instantiated one's address.
    pub contract: AccountId,
    pub gas_used: u64,
    /// Empty unless the execution succeeded without REVERT.
    pub changes: Changes,
    /// Events of the frames that were kept, in order.
    pub events: Vec<ContractEvent>,
    /// What `debug_message` collected (panic messages of Debug builds land here).
    pub debug_message: String,
}

impl Outcome {
    /// True if the execution succeeded and was not reverted: its changes stand.
    pub fn is_success(&self) -> bool {
        self.result.as_ref().is_ok_and(|r| !r.is_revert())
    }
}

/// The contract interpreter. Cheap to clone; compiled codes are cached inside.
#[derive(Clone)]
pub struct Vm {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vm")
    }
}

impl Default for Vm {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    pub fn new() -> Self {
        let engine = code::engine();
        let table = host::HostTable::new(&engine);
        Self {
            shared: Arc::new(Shared::new(engine, table)),
        }
    }

    /// Runs one request. Nothing is written: the caller applies [`Outcome::changes`].
    pub fn execute(
        &self,
        backend: Box<dyn Backend>,
        env: Arc<dyn Environment>,
        ctx: ExecContext,
        request: Request,
    ) -> Outcome {
        let world = Box::new(World {
            overlay: Overlay::new(backend),
            ctx,
            env,
            origin: request.origin,
            stack: Vec::new(),
            debug: String::new(),
            instantiations: 0,
        });
        let fuel = request.gas_limit;
        let (contract, end) = match request.entry {
            Entry::Instantiate {
                code_hash,
                salt,
                input,
            } => exec::instantiate_contract(
                &self.shared,
                world,
                request.origin,
                code_hash,
                &salt,
                input,
                fuel,
            ),
            Entry::Call { contract, input } => (
                contract,
                exec::call(&self.shared, world, request.origin, contract, input, fuel),
            ),
        };
        let gas_used = fuel.saturating_sub(end.fuel_left);
        let Some(world) = end.world else {
            return Outcome {
                result: Err(ExecError::Internal("the execution state was lost")),
                contract,
                gas_used,
                changes: Changes::default(),
                events: Vec::new(),
                debug_message: String::new(),
            };
        };
        let World { overlay, debug, .. } = *world;
        let (changes, events) = overlay.finish();
        let success = end.result.as_ref().is_ok_and(|r| !r.is_revert());
        Outcome {
            result: end.result,
            contract,
            gas_used,
            changes: if success { changes } else { Changes::default() },
            events: if success { events } else { Vec::new() },
            debug_message: debug,
        }
    }
}

impl HostState {
    /// The state of the store used only to learn host functions' types.
    pub(crate) fn placeholder() -> Self {
        HostState {
            shared: None,
            memory: None,
            frame: Frame {
                address: [0; 32],
                code_hash: [0; 32],
                caller: [0; 32],
                input: None,
                value: 0,
                read_only: false,
                constructing: false,
            },
            world: None,
        }
    }
}
