//! Rust SDK for phala nodes: typed queries, signing and submitting transactions, following
//! them to finality.
//!
//! The SDK speaks Substrate's legacy JSON-RPC (the same methods polkadot.js and subxt use) and
//! decodes everything with the chain's own Rust types from `phala-runtime` and
//! `phala-primitives`, so queries need no metadata. Metadata is read to put names and docs
//! on module errors and events, and to read blocks as people read them ([`blocks`]: calls
//! and events decoded by the node's own metadata).
//!
//! # Data flow
//!
//! - [`Client::connect`] opens a WebSocket (`ws://`, `wss://`) or HTTP (`http://`, `https://`)
//!   connection and reads the genesis hash, the runtime version and the chain properties.
//! - Queries ([`Client::account`], [`Client::events_at`], [`Client::finalized_head`], …) are
//!   one RPC each; storage keys come from the runtime's storage items, values are decoded
//!   with the runtime's types and must use every byte.
//! - [`Client::sign`] builds a v4 extrinsic exactly as Substrate clients do: era born at the
//!   finalized head, nonce from `system_accountNextIndex`, spec/transaction version and
//!   genesis hash from the node, sr25519 signature with the `substrate` context.
//! - [`Client::submit_and_watch`] returns a [`TxProgress`]; [`TxProgress::wait_finalized`]
//!   follows `author_submitAndWatchExtrinsic` (or, over HTTP, polls finalized blocks) and
//!   returns a [`TxOutcome`]: block, extrinsic index (found by hashing the block's
//!   extrinsics), the transaction's events, its fee and the dispatch result with module
//!   errors resolved by name ([`DispatchFailure`]).
//!
//! Every wait is bounded ([`ClientConfig`]: 10 s to connect, 30 s per request, 60 s for
//! finality by default), and every error is a [`ClientError`] whose message is one sentence.
//!
//! # Example
//!
//! ```no_run
//! use phala_client::{Client, TxOptions, transfer_call};
//! use phala_client::keys::Sr25519Pair;
//! use phala_client::primitives::{PHA, format_pha};
//!
//! # async fn run() -> Result<(), phala_client::ClientError> {
//! let client = Client::connect("ws://127.0.0.1:9944").await?;
//! let alice = Sr25519Pair::from_uri("//Alice")?;
//! let bob = Sr25519Pair::from_uri("//Bob")?.account_id();
//!
//! let before = client.free_balance(&bob).await?;
//! let tx = client
//!     .sign(transfer_call(bob, PHA, true), &alice, TxOptions::default())
//!     .await?;
//! println!("fee estimate: {}", format_pha(client.fee_estimate(&tx).await?.partial_fee));
//! let outcome = client.submit_and_watch(&tx).await?.wait_finalized().await?;
//! println!("finalized in #{} ({}), fee {}", outcome.block_number, outcome.block_hash,
//!          format_pha(outcome.fee));
//! let metadata = client.metadata().await;
//! for event in &outcome.events {
//!     println!("  {}", metadata.describe_event(event));
//! }
//! outcome.into_result()?; // a failed call becomes ClientError::DispatchFailed
//! assert_eq!(client.free_balance(&bob).await?, before + PHA);
//!
//! // Or in one call:
//! let outcome = client.transfer(&alice, bob, PHA, true).await?;
//! assert!(outcome.is_success());
//! # Ok(()) }
//! ```
//!
//! # Testing against a node
//!
//! An integration test starts a dev node on a free port, connects with
//! `Client::connect(&format!("ws://127.0.0.1:{port}"))` and uses the dev accounts
//! (`//Alice`, `//Bob`, …), as above. A failing transfer (more than the balance) must give
//! an outcome whose `result` is `Err` with description
//! `Balances.InsufficientBalance: Balance too low to send value.` (or the token error the
//! runtime reports). The crate's own tests run the same flow against an in-process mock node.

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

pub mod analytics;
pub mod analytics_worker;
pub mod blocks;
pub mod bridge;
pub mod bridge_relay;
mod client;
pub mod computing;
pub mod contracts;
mod dispatch;
mod encode;
pub mod epochs;
mod error;
pub mod governance;
/// ink! bundles: the `phala-ink-abi` crate (feature `ink`).
#[cfg(feature = "ink")]
pub use phala_ink_abi as ink;
mod metadata;
mod rpc;
mod tx;
pub mod worker;

pub use client::{Client, ClientConfig};
pub use dispatch::DispatchFailure;
pub use error::ClientError;
pub use metadata::{ChainMetadata, EventDescription, MetadataSource, ModuleErrorInfo};
pub use phala_crypto as crypto;
pub use rpc::ChainProperties;
pub use tx::{
    DEFAULT_MORTALITY, SignedTx, SigningParams, TxOptions, TxOutcome, TxProgress, TxStatus,
    transfer_call,
};

/// Account keys (`phala-keys`).
pub use phala_keys as keys;
/// The chain's wire types (`phala-primitives`).
pub use phala_primitives as primitives;
/// The runtime's calls, events, errors and storage types (`phala-runtime`).
pub use phala_runtime as runtime;

pub use phala_runtime::modules::system::{AccountInfo, EventRecord, Phase};
pub use phala_runtime::modules::transaction_payment::RuntimeDispatchInfo;
pub use phala_runtime::{RuntimeCall, RuntimeEvent};

/// `timeout` from now; a timeout too long for the clock (`Duration::MAX`) waits a year.
pub(crate) fn deadline_after(timeout: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}
