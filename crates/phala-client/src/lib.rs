//! Rust SDK for phala nodes.
