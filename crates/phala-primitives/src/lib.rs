//! Phala's wire types, shared by the runtime, the node, the SDK and the workers.
//!
//! Everything here follows Substrate's SCALE formats byte for byte, so that polkadot.js and
//! subxt can build, sign, hash and decode what the chain produces: account ids and hashes
//! ([`AccountId32`], [`H256`]), block headers ([`Header`]) whose hash is
//! `blake2_256(SCALE(header))`, the v4 extrinsic envelope ([`UncheckedExtrinsic`]) with its
//! signed payload, transaction mortality ([`Era`]), SS58 addresses ([`ss58`]) and the storage
//! key layout ([`storage`]).
//!
//! The crate does no I/O and never panics on input: every decoder is bounded and checked, and
//! signature verification returns a boolean.
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

pub mod block;
pub mod consensus;
pub mod crypto;
pub mod era;
pub mod extrinsic;
pub mod hashing;
pub mod header;
pub mod ss58;
pub mod storage;
pub mod types;
pub mod worker;

pub use block::{Block, OpaqueExtrinsic};
pub use crypto::{AccountId32, H256};
pub use era::Era;
pub use extrinsic::{MultiAddress, MultiSignature, SignedExtra, UncheckedExtrinsic};
pub use header::{DigestItem, Header};
pub use types::*;
