//! The TEE worker's sans-IO core: what would run inside the enclave.
//!
//! Verified inputs in (headers with finality certificates, state proofs, sealed bytes),
//! signed messages and answers out. It opens no socket and starts no runtime: the host crate
//! (`phala-worker`) does the network I/O and hands the core its bytes, and the few things the
//! core needs from outside — a contract's HTTP request, the wall clock contracts see — come
//! in through traits ([`contract_env::HttpTransport`], [`contract_env::Clock`]). The one
//! file it touches is its own sealed state ([`checkpoint`]), written atomically, since
//! sealing and the write belong together for crash safety.
//! CI checks that its dependency tree gains no async runtime, HTTP stack or RPC client.
//!
//! - [`core`]: follows the chain with the light client and reacts to the chain's messages.
//! - [`keys`] and [`checkpoint`]: the identity and ECDH keys and the core's state, sealed by
//!   the TEE as one unit (keys never leave the chain position they were made for).
//! - [`gatekeeper`]: the master key's life in a gatekeeper, and cluster keys in workers.
//! - [`contracts`] and [`contract_env`]: the cluster's ink! contracts and what pink gives them.
//! - [`query`]: encrypted, signed queries answered from the last verified block.
//! - [`reattest`]: when a registered worker must refresh its attestation.
//! - [`analytics`]: Web3 Analytics, the cluster's confidential analytics service.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod analytics;
pub mod checkpoint;
pub mod computing;
pub mod contract_env;
pub mod contracts;
pub mod core;
pub mod gatekeeper;
pub mod keys;
pub mod query;
pub mod reattest;
#[cfg(test)]
pub(crate) mod test_support;

/// This worker runtime's version, as it registers: 0.1.0.
pub const VERSION: u32 = phala_primitives::worker::version(0, 1, 0);
