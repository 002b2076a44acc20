//! Consensus: Commonware simplex over the chain, one engine per epoch.

pub mod app;
pub mod block;
pub mod engine;
pub mod epocher;
pub mod evidence;
pub mod gossip;
pub mod guard;
pub mod orchestrator;
pub mod peers;
pub mod provider;
