//! The SDK's error type. Every message is one sentence a user can act on; the structured
//! fields are there for programs that want to branch on them.

use std::time::Duration;

use phala_primitives::{BlockNumber, H256};

use crate::dispatch::DispatchFailure;

/// Everything that can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not one the SDK can connect to.
    #[error("{url:?} is not a node URL: expected ws://, wss://, http:// or https://")]
    BadUrl { url: String },

    /// No connection could be made.
    #[error("cannot connect to {url}: {reason} — is a node running there?")]
    Connect { url: String, reason: String },

    /// The connection broke after it was made.
    #[error("the connection to {url} was lost: {reason}")]
    Disconnected { url: String, reason: String },

    /// A request or a wait took longer than allowed.
    #[error("{what} did not complete within {}", secs(*.after))]
    Timeout { what: String, after: Duration },

    /// The node refused a transaction (JSON-RPC errors 1001–1099 of `author_*`).
    #[error("transaction rejected: {reason}")]
    TxRejected { code: i32, reason: String },

    /// The node answered a request with a JSON-RPC error.
    #[error("the node refused {method}: {message}")]
    Rpc {
        method: String,
        code: i32,
        message: String,
    },

    /// The node does not serve a method the SDK needs.
    #[error("the node does not serve {method}; is this a phala node?")]
    MethodNotFound { method: String },

    /// A call needs a subscription, which plain HTTP cannot carry.
    #[error("{what} needs a WebSocket connection; connect with ws:// or wss:// instead of http://")]
    SubscriptionsUnsupported { what: String },

    /// The node's answer was not of the expected shape.
    #[error("the node sent an unexpected answer to {method}: {reason}")]
    BadResponse { method: String, reason: String },

    /// Bytes from the node did not decode with this SDK's runtime types.
    #[error(
        "{what} does not decode with this SDK's runtime types ({reason}); is the node running a different runtime version?"
    )]
    Decode { what: String, reason: String },

    /// An input the caller gave cannot be used.
    #[error("{what}: {reason}")]
    BadInput { what: String, reason: String },

    /// A contract query ran and failed (trapped, ran out of gas or time, or the contract
    /// is not on that worker); the reason comes from the worker, sealed to the caller.
    #[error("the query failed: {reason}")]
    ContractQuery { reason: String },

    /// A worker could not be reached, or answered with an error.
    #[error("worker {url}: {reason}")]
    Worker { url: String, reason: String },

    /// A worker's answer failed a check (signature, nonce, key, block).
    #[error("worker {url} sent an answer that does not verify: {reason}")]
    BadWorkerAnswer { url: String, reason: String },

    /// A block the caller named is unknown to the node.
    #[error("block {hash} is unknown to the node")]
    UnknownBlock { hash: H256 },

    /// The node's header for a block hashes to something else.
    #[error(
        "the node's header for block {requested} hashes to {computed}; the node is not Substrate-compatible"
    )]
    HeaderHashMismatch { requested: H256, computed: H256 },

    /// A finalized block does not contain the transaction that was reported in it.
    #[error("transaction {tx} is not among the extrinsics of block {block}")]
    TxNotInBlock { tx: H256, block: H256 },

    /// The pool gave up on the transaction before it was finalized.
    #[error("transaction {tx} was not included: {reason}")]
    TxNotIncluded { tx: H256, reason: String },

    /// The transaction was included and finalized, but its call failed.
    #[error("transaction {tx} failed in block #{block_number}: {failure}")]
    DispatchFailed {
        tx: H256,
        block_number: BlockNumber,
        failure: Box<DispatchFailure>,
    },

    /// A signing key could not be used.
    #[error(transparent)]
    Key(#[from] phala_keys::KeyError),
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Turns a JSON-RPC error object of a call to `method` into a [`ClientError`].
pub(crate) fn from_error_object(
    method: &str,
    code: i32,
    message: &str,
    data: Option<&str>,
) -> ClientError {
    // `data` arrives as raw JSON; Substrate puts a string there.
    let data = data
        .map(|raw| match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Null) | Err(_) => raw.to_string(),
            Ok(other) => other.to_string(),
        })
        .filter(|d| !d.is_empty() && d != "null");
    if code == -32601 {
        return ClientError::MethodNotFound {
            method: method.to_string(),
        };
    }
    if method.starts_with("author_") && (1000..1100).contains(&code) {
        return ClientError::TxRejected {
            code,
            reason: tx_rejection_reason(code, message, data.as_deref()),
        };
    }
    let message = match data {
        Some(d) if !message.contains(&d) => format!("{message}: {d}"),
        _ => message.to_string(),
    };
    ClientError::Rpc {
        method: method.to_string(),
        code,
        message,
    }
}

/// A readable reason for Substrate's `author_*` error codes (sc-rpc-api `author::error`).
fn tx_rejection_reason(code: i32, message: &str, data: Option<&str>) -> String {
    let with_data = |prefix: &str| match data {
        Some(d) => format!("{prefix}: {d}"),
        None => prefix.to_string(),
    };
    match code {
        // "Invalid Transaction" + the InvalidTransaction sentence.
        1010 => data
            .map(str::to_string)
            .unwrap_or_else(|| message.to_string()),
        1001 => format!("it is not a well-formed extrinsic ({message})"),
        1002 => with_data("it could not be verified"),
        1011 => with_data("its validity could not be determined"),
        1012 => with_data("it is temporarily banned"),
        1013 => "the node already has it in its pool".into(),
        1014 => "another transaction with the same nonce is already in the pool; \
                 raise the tip to replace it"
            .into(),
        1015 => "its nonce tags form a cycle with transactions in the pool".into(),
        // Which limit: the pool is full, or the sender has as many pooled as it may.
        1016 => with_data("the transaction pool refused it"),
        1020 => "it names a block the node does not know".into(),
        1021 => "the pool is not accepting transactions with future nonces".into(),
        _ => with_data(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_transaction_reads_as_one_sentence() {
        let e = from_error_object(
            "author_submitAndWatchExtrinsic",
            1010,
            "Invalid Transaction",
            Some("\"Transaction has a bad signature\""),
        );
        assert_eq!(
            e.to_string(),
            "transaction rejected: Transaction has a bad signature"
        );
        let e = from_error_object(
            "author_submitExtrinsic",
            1010,
            "Invalid Transaction",
            Some("\"Inability to pay some fees (e.g. account balance too low)\""),
        );
        assert_eq!(
            e.to_string(),
            "transaction rejected: Inability to pay some fees (e.g. account balance too low)"
        );
        let e = from_error_object(
            "author_submitExtrinsic",
            1014,
            "Priority is too low: (0 vs 0)",
            Some(
                "\"The transaction has too low priority to replace another transaction already in the pool.\"",
            ),
        );
        assert!(
            e.to_string()
                .starts_with("transaction rejected: another transaction")
        );
    }

    #[test]
    fn pool_refusals_say_which_limit() {
        let e = from_error_object(
            "author_submitExtrinsic",
            1016,
            "Immediately Dropped",
            Some("\"The sender already has 16 transactions waiting for an earlier nonce\""),
        );
        assert_eq!(
            e.to_string(),
            "transaction rejected: the transaction pool refused it: The sender already has 16 \
             transactions waiting for an earlier nonce"
        );
    }

    #[test]
    fn other_errors_name_the_method() {
        let e = from_error_object("state_call", 4003, "Client error: boom", None);
        assert_eq!(
            e.to_string(),
            "the node refused state_call: Client error: boom"
        );
        let e = from_error_object("state_call", 4003, "Client error", Some("\"boom\""));
        assert_eq!(
            e.to_string(),
            "the node refused state_call: Client error: boom"
        );
        let e = from_error_object("foo_bar", -32601, "Method not found", None);
        assert_eq!(
            e.to_string(),
            "the node does not serve foo_bar; is this a phala node?"
        );
        let e = ClientError::Timeout {
            what: "finalization of transaction 0x00".into(),
            after: Duration::from_secs(60),
        };
        assert_eq!(
            e.to_string(),
            "finalization of transaction 0x00 did not complete within 60 s"
        );
    }
}
