//! The TEE worker's host (Phala's pRuntime shell with its pherry relayer in one process):
//! everything around the sans-IO core (`phala-worker-core`, re-exported here as [`core`],
//! [`keys`], [`checkpoint`], [`gatekeeper`], [`contracts`], [`query`]) that does I/O.
//!
//! - [`query_sched`]: shares the work of queries fairly among senders (start-time fair queuing,
//!   [`fair`]), so one flooding client slows only itself.
//! - [`host`]: the thin shell around the core: the relayer (node → core: headers,
//!   certificates, proofs; core → chain: registration and signed messages as extrinsics
//!   paid by the operator), the benchmark ([`bench`]), progress output, and the HTTP API
//!   ([`http`]).
//! - [`http_transport`]: contracts' HTTP requests, made for the core once it has allowed them.
//! - [`code_files`]: contract codes on disk and from the node.
//! - [`cluster_join`]: a member's sealed cluster state, served to and fetched by workers
//!   added to a cluster that exists.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod analytics_http;
pub mod bench;
pub mod cluster_join;
pub mod code_files;
pub mod computing_watch;
pub mod fair;
pub mod host;
pub mod http;
pub mod http_transport;
pub mod query_sched;
mod tls;

// The core, under the paths it had before it became its own crate.
pub use phala_worker_core::{
    VERSION, analytics, checkpoint, contract_env, contracts, core, gatekeeper, keys, query,
    reattest,
};

pub use host::{ContractsConfig, TeeChoice, WorkerConfig, WorkerError, run};
