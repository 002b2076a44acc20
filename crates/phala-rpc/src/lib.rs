//! The node's JSON-RPC server.
