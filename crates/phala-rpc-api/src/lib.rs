//! The node's JSON-RPC API, defined once for both sides.
//!
//! Each namespace (`chain`, `state`, `author`, `system`, `payment`) is a jsonrpsee `#[rpc]`
//! trait in [`api`]: the macro makes a `…Server` trait that `phala-rpc` implements and a
//! `…Client` trait that every jsonrpsee client gets, which `phala-client` calls. The method
//! names, Substrate's aliases, the parameter types ([`params`]) and the JSON shapes
//! ([`types`]) therefore exist once, as Substrate keeps its `*-rpc-api` crates.
//!
//! This crate does not serve, connect or read a chain: it has no transport and no state, only
//! shapes, their conversions to the chain's types, and the methods' signatures.
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

pub mod api;
pub mod params;
pub mod types;

pub use api::*;
pub use params::{Account, Bytes, HexBytes, List, ListOrValue, MAX_LIST, Number};
pub use types::*;
