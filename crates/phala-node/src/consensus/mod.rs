//! Consensus: Commonware simplex over the chain.

pub mod app;
pub mod block;
pub mod engine;
pub mod finalizer;
