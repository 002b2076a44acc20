//! The TEE worker (Phala's pRuntime with its pherry relayer in one process).
//!
//! - [`core`]: the sans-IO heart. Verified inputs in (headers with finality certificates,
//!   state proofs), signed messages out. It is what would run inside the enclave.
//! - [`keys`] and [`checkpoint`]: the identity and ECDH keys and the core's state, sealed by
//!   the TEE as one unit (keys never leave the chain position they were made for), so a
//!   restart resumes without registering again.
//! - [`gatekeeper`]: the master key's life in a gatekeeper, and cluster keys in workers.
//! - [`query`]: encrypted, signed queries answered from the last verified block;
//!   [`query_sched`] shares their work fairly among senders (start-time fair queuing,
//!   [`fair`]), so one flooding client slows only itself.
//! - [`host`]: the thin shell around the core: the relayer (node → core: headers,
//!   certificates, proofs; core → chain: registration and signed messages as extrinsics
//!   paid by the operator), the benchmark, progress output, and the HTTP API ([`http`]).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod bench;
pub mod checkpoint;
pub mod code_files;
pub mod contract_env;
pub mod contracts;
pub mod core;
pub mod fair;
pub mod gatekeeper;
pub mod host;
pub mod http;
pub mod keys;
pub mod query;
pub mod query_sched;
pub mod reattest;
mod tls;

pub use host::{ContractsConfig, TeeChoice, WorkerConfig, WorkerError, run};

/// This worker runtime's version, as it registers: 0.1.0.
pub const VERSION: u32 = phala_primitives::worker::version(0, 1, 0);
