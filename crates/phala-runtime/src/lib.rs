//! Phala's state-transition function: deterministic, no I/O, no panics.
//!
//! The runtime reads state through a [`Backend`] and returns the changes a block makes; it
//! never touches a database, a clock or the network, so every node computes the same state
//! root from the same block. Its parts:
//!
//! - [`modules`]: the chain modules in FRAME's shape (calls with stable indices, typed storage,
//!   events, errors), without its macros. Module index = outer enum index = metadata index.
//! - [`executive`]: applying extrinsics — the signed extensions (spec/tx version, genesis,
//!   mortality, nonce, weight, fee), dispatch inside a storage transaction so a failed call
//!   changes nothing but the fee and the nonce, and the events each step emits.
//! - [`block`]: building and re-executing whole blocks.
//! - [`metadata`] (V14 and V15, built from the runtime's own `scale-info` types) and [`api`]
//!   (the runtime APIs clients reach through `state_call`).
//!
//! Every arithmetic step on balances is checked; any input that does not decode is an error,
//! never a panic; and a storage read that fails in the backend aborts the block instead of
//! being mistaken for an empty value.
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
pub mod arith;
pub mod block;
pub mod bounded;
pub mod dispatch;
pub mod executive;
pub mod ext;
pub mod genesis;
pub mod metadata;
pub mod modules;
pub mod origin;
pub mod storage;
#[cfg(test)]
mod testing;
pub mod validity;
pub mod version;
pub mod wiring;

pub use ext::{Backend, BackendError, Ext};
pub use genesis::GenesisConfig;
pub use version::{RuntimeVersion, VERSION};
pub use wiring::Wiring;

/// A decoded extrinsic of this runtime.
pub type UncheckedExtrinsic = phala_primitives::UncheckedExtrinsic<RuntimeCall>;

/// How deeply nested a call may be (calls inside calls); bounds the decoder's recursion.
pub const MAX_CALL_DEPTH: u32 = 64;

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use dispatch::{DispatchInfo, DispatchResult, Origin};
use modules::{
    analytics, balances, bridge, computation, contracts, conviction_voting, message_queue,
    preimage, referenda, registry, scheduler, stake_pools, sudo, system, timestamp,
    transaction_payment, treasury, validators,
};
use origin::{GovOrigin, RawOrigin};

/// Every call of the runtime: the module index, then the module's call.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RuntimeCall {
    #[codec(index = 0)]
    System(system::Call),
    #[codec(index = 1)]
    Timestamp(timestamp::Call),
    #[codec(index = 2)]
    Balances(balances::Call),
    #[codec(index = 4)]
    Validators(validators::Call),
    #[codec(index = 5)]
    Registry(registry::Call),
    #[codec(index = 6)]
    MessageQueue(message_queue::Call),
    #[codec(index = 7)]
    Contracts(contracts::Call),
    #[codec(index = 8)]
    Computation(computation::Call),
    #[codec(index = 9)]
    StakePools(stake_pools::Call),
    #[codec(index = 10)]
    Preimage(preimage::Call),
    #[codec(index = 11)]
    Scheduler(scheduler::Call),
    #[codec(index = 19)]
    Treasury(treasury::Call),
    #[codec(index = 20)]
    ConvictionVoting(conviction_voting::Call),
    #[codec(index = 21)]
    Referenda(referenda::Call),
    #[codec(index = 23)]
    Analytics(analytics::Call),
    #[codec(index = 24)]
    Bridge(bridge::Call),
    #[codec(index = 30)]
    Sudo(sudo::Call),
}

impl RuntimeCall {
    /// Weight, class and fee liability of the call, known before running it.
    pub fn info(&self) -> DispatchInfo {
        match self {
            RuntimeCall::System(c) => c.info(),
            RuntimeCall::Timestamp(c) => c.info(),
            RuntimeCall::Balances(c) => c.info(),
            RuntimeCall::Validators(c) => c.info(),
            RuntimeCall::Registry(c) => c.info(),
            RuntimeCall::MessageQueue(c) => c.info::<Wiring>(),
            RuntimeCall::Contracts(c) => c.info(),
            RuntimeCall::Computation(c) => c.info(),
            RuntimeCall::StakePools(c) => c.info(),
            RuntimeCall::Preimage(c) => c.info(),
            RuntimeCall::Scheduler(c) => c.info(),
            RuntimeCall::Treasury(c) => c.info(),
            RuntimeCall::ConvictionVoting(c) => c.info(),
            RuntimeCall::Referenda(c) => c.info(),
            RuntimeCall::Analytics(c) => c.info(),
            RuntimeCall::Bridge(c) => c.info(),
            RuntimeCall::Sudo(c) => c.info(),
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            RuntimeCall::System(c) => c.dispatch(ext, origin),
            RuntimeCall::Timestamp(c) => c.dispatch(ext, origin),
            RuntimeCall::Balances(c) => c.dispatch(ext, origin),
            RuntimeCall::Validators(c) => c.dispatch(ext, origin),
            RuntimeCall::Registry(c) => c.dispatch::<Wiring>(ext, origin),
            RuntimeCall::MessageQueue(c) => c.dispatch::<Wiring>(ext, origin),
            RuntimeCall::Contracts(c) => c.dispatch(ext, origin),
            RuntimeCall::Computation(c) => c.dispatch::<Wiring>(ext, origin),
            RuntimeCall::StakePools(c) => c.dispatch(ext, origin),
            RuntimeCall::Preimage(c) => c.dispatch(ext, origin),
            RuntimeCall::Scheduler(c) => c.dispatch(ext, origin),
            RuntimeCall::Treasury(c) => c.dispatch(ext, origin),
            RuntimeCall::ConvictionVoting(c) => c.dispatch(ext, origin),
            RuntimeCall::Referenda(c) => c.dispatch(ext, origin),
            RuntimeCall::Analytics(c) => c.dispatch(ext, origin),
            RuntimeCall::Bridge(c) => c.dispatch(ext, origin),
            RuntimeCall::Sudo(c) => c.dispatch(ext, origin),
        }
    }

    /// Whether this is an inherent only a block author may include, bare, in its block.
    pub fn is_inherent(&self) -> bool {
        matches!(self, RuntimeCall::Timestamp(_))
    }
}

/// Every event of the runtime: the module index, then the module's event.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RuntimeEvent {
    #[codec(index = 0)]
    System(system::Event),
    #[codec(index = 2)]
    Balances(balances::Event),
    #[codec(index = 3)]
    TransactionPayment(transaction_payment::Event),
    #[codec(index = 4)]
    Validators(validators::Event),
    #[codec(index = 5)]
    Registry(registry::Event),
    #[codec(index = 6)]
    MessageQueue(message_queue::Event),
    #[codec(index = 7)]
    Contracts(contracts::Event),
    #[codec(index = 8)]
    Computation(computation::Event),
    #[codec(index = 9)]
    StakePools(stake_pools::Event),
    #[codec(index = 10)]
    Preimage(preimage::Event),
    #[codec(index = 11)]
    Scheduler(scheduler::Event),
    #[codec(index = 19)]
    Treasury(treasury::Event),
    #[codec(index = 20)]
    ConvictionVoting(conviction_voting::Event),
    #[codec(index = 21)]
    Referenda(referenda::Event),
    #[codec(index = 23)]
    Analytics(analytics::Event),
    #[codec(index = 24)]
    Bridge(bridge::Event),
    #[codec(index = 30)]
    Sudo(sudo::Event),
}

/// An origin as stored with a call that runs later: Substrate's `OriginCaller`, one variant
/// per module that has origins, at that module's index.
#[allow(non_camel_case_types)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, parity_scale_codec::MaxEncodedLen, TypeInfo,
)]
pub enum OriginCaller {
    #[codec(index = 0)]
    system(RawOrigin),
    #[codec(index = 22)]
    Origins(GovOrigin),
}

impl OriginCaller {
    /// The origin a stored call runs with; `None` for one nothing here can grant.
    pub fn origin(self) -> Option<Origin> {
        match self {
            OriginCaller::system(RawOrigin::Root) => Some(Origin::Root),
            OriginCaller::system(RawOrigin::Signed(who)) => Some(Origin::Signed(who)),
            OriginCaller::system(RawOrigin::None) => Some(Origin::None),
            OriginCaller::system(RawOrigin::Authorized) => None,
            OriginCaller::Origins(g) => Some(Origin::Gov(g)),
        }
    }
}
