//! The RPC server against a real chain on a temporary directory, through jsonrpsee's
//! WebSocket and HTTP clients — the transport subxt uses.

mod author;
mod blocks;
mod common;
mod methods;
mod state;
