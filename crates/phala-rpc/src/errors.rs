//! JSON-RPC error objects with Substrate's codes, messages and `data`, so that polkadot.js and
//! subxt show and classify our failures exactly as they do a Substrate node's.

use jsonrpsee::types::ErrorObjectOwned;
use phala_chain::{ChainError, SubmitError};
use phala_primitives::H256;
use phala_state::StateError;

/// JSON-RPC 2.0's "invalid params".
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC 2.0's "internal error".
pub const INTERNAL_ERROR: i32 = -32603;

/// `sc-rpc-api` author errors (base 1000).
pub mod author {
    pub const BAD_FORMAT: i32 = 1001;
    pub const VERIFICATION: i32 = 1002;
    pub const INVALID_TRANSACTION: i32 = 1010;
    pub const UNKNOWN_VALIDITY: i32 = 1011;
    pub const TEMPORARILY_BANNED: i32 = 1012;
    pub const ALREADY_IMPORTED: i32 = 1013;
    pub const TOO_LOW_PRIORITY: i32 = 1014;
    pub const IMMEDIATELY_DROPPED: i32 = 1016;
}

/// `sc-rpc-api` state errors (base 4000).
pub mod state {
    pub const INVALID_BLOCK_RANGE: i32 = 4001;
    pub const INVALID_COUNT: i32 = 4002;
    pub const CLIENT: i32 = 4003;
}

/// `sc-rpc-api` chain errors (base 3000): anything the database could not answer.
pub const CHAIN_CLIENT: i32 = 3002;

/// `pallet-transaction-payment-rpc` errors.
pub mod payment {
    pub const RUNTIME: i32 = 1;
    pub const DECODE: i32 = 2;
}

pub fn invalid_params(details: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, "Invalid params", Some(details.into()))
}

pub fn internal(details: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR, "Internal error", Some(details.to_string()))
}

/// A state method's failure to read the chain (`4003 Client error: …`).
pub fn state_client(details: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        state::CLIENT,
        format!("Client error: {details}"),
        None::<()>,
    )
}

/// A block hash that names no finalized block of this node.
pub fn unknown_block(hash: &H256) -> ErrorObjectOwned {
    state_client(format!(
        "UnknownBlock: {hash} is not a finalized block known to this node"
    ))
}

/// State-method errors: unknown or pruned blocks and failed runtime calls read as Substrate's
/// `Client error: …`.
pub fn from_chain(e: ChainError) -> ErrorObjectOwned {
    match e {
        ChainError::State(StateError::UnknownBlock(hash)) => unknown_block(&hash),
        other => state_client(other),
    }
}

/// A chain method's database failure.
pub fn chain_client(details: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(CHAIN_CLIENT, format!("Client error: {details}"), None::<()>)
}

/// `getKeysPaged` with a page larger than Substrate allows.
pub fn invalid_count(value: u32, max: u32) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        state::INVALID_COUNT,
        format!("count exceeds maximum value. value: {value}, max: {max}"),
        None::<()>,
    )
}

/// An unpaged query whose answer would exceed the bound every response is held to.
pub fn too_many_results(what: &str, max: usize, paged: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        state::INVALID_COUNT,
        format!("more than {max} {what} match; use {paged} instead"),
        None::<()>,
    )
}

pub fn invalid_block_range(
    from: &H256,
    to: &H256,
    details: impl std::fmt::Display,
) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        state::INVALID_BLOCK_RANGE,
        format!("Cannot resolve a block range ['{from}' ... '{to}']. {details}"),
        None::<()>,
    )
}

/// Pool refusals with the codes, messages and `data` strings of Substrate's author RPC.
pub fn from_submit(e: SubmitError) -> ErrorObjectOwned {
    match e {
        SubmitError::Format(reason) => ErrorObjectOwned::owned(
            author::BAD_FORMAT,
            format!("Extrinsic has invalid format: {reason}"),
            None::<()>,
        ),
        SubmitError::Invalid(invalid) => ErrorObjectOwned::owned(
            author::INVALID_TRANSACTION,
            "Invalid Transaction",
            Some(invalid.description()),
        ),
        SubmitError::Unknown(unknown) => ErrorObjectOwned::owned(
            author::UNKNOWN_VALIDITY,
            "Unknown Transaction Validity",
            Some(format!("{unknown:?}")),
        ),
        SubmitError::AlreadyImported(hash) => ErrorObjectOwned::owned(
            author::ALREADY_IMPORTED,
            "Transaction Already Imported",
            Some(format!("{hash:?}")),
        ),
        SubmitError::PriorityTooLow { old, new } => ErrorObjectOwned::owned(
            author::TOO_LOW_PRIORITY,
            format!("Priority is too low: ({old} vs {new})"),
            Some(
                "The transaction has too low priority to replace another transaction already in the pool.",
            ),
        ),
        SubmitError::TemporarilyBanned => ErrorObjectOwned::owned(
            author::TEMPORARILY_BANNED,
            "Transaction is temporarily banned",
            Some(
                "The transaction was recently evicted from the pool or outlived its time there; submit it again later.",
            ),
        ),
        SubmitError::PoolFull => ErrorObjectOwned::owned(
            author::IMMEDIATELY_DROPPED,
            "Immediately Dropped",
            Some(
                "The transaction couldn't enter the pool because of the limit: it is full of transactions of at least its priority. Raise the tip or retry later.",
            ),
        ),
        SubmitError::TooManyFromSender { limit } => ErrorObjectOwned::owned(
            author::IMMEDIATELY_DROPPED,
            "Immediately Dropped",
            Some(format!(
                "The sender already has {limit} transactions in the pool, the most one account may; wait for some to be included."
            )),
        ),
        SubmitError::TooManyFuture { limit } => ErrorObjectOwned::owned(
            author::IMMEDIATELY_DROPPED,
            "Immediately Dropped",
            Some(format!(
                "The sender already has {limit} transactions waiting for an earlier nonce, the most one account may; submit the missing nonces first."
            )),
        ),
        SubmitError::PooledFeesExceedBalance {
            pooled,
            fee,
            spendable,
        } => ErrorObjectOwned::owned(
            author::INVALID_TRANSACTION,
            "Invalid Transaction",
            Some(format!(
                "Inability to pay some fees (e.g. account balance too low): the sender's pooled transactions already owe {pooled} of the {spendable} it can pay, and this one costs {fee}"
            )),
        ),
        SubmitError::Internal(reason) => ErrorObjectOwned::owned(
            author::VERIFICATION,
            format!("Verification Error: {reason}"),
            Some(reason),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_runtime::validity::{InvalidTransaction, UnknownTransaction};

    #[test]
    fn author_errors_match_substrate() {
        let e = from_submit(SubmitError::Invalid(InvalidTransaction::BadProof));
        assert_eq!(e.code(), 1010);
        assert_eq!(e.message(), "Invalid Transaction");
        assert_eq!(
            e.data().map(|d| d.get()),
            Some("\"Transaction has a bad signature\"")
        );
        let e = from_submit(SubmitError::Unknown(UnknownTransaction::CannotLookup));
        assert_eq!(e.code(), 1011);
        assert_eq!(e.data().map(|d| d.get()), Some("\"CannotLookup\""));
        let e = from_submit(SubmitError::AlreadyImported(H256([0xab; 32])));
        assert_eq!(e.code(), 1013);
        assert_eq!(
            e.data().map(|d| d.get().to_string()),
            Some(format!("\"0x{}\"", "ab".repeat(32)))
        );
        assert_eq!(from_submit(SubmitError::PoolFull).code(), 1016);
        assert_eq!(from_submit(SubmitError::TemporarilyBanned).code(), 1012);
        let e = from_submit(SubmitError::TooManyFuture { limit: 16 });
        assert_eq!(e.code(), 1016);
        assert!(e.data().unwrap().get().contains("16 transactions waiting"));
        assert_eq!(
            from_submit(SubmitError::TooManyFromSender { limit: 64 }).code(),
            1016
        );
        let e = from_submit(SubmitError::PooledFeesExceedBalance {
            pooled: 8,
            fee: 4,
            spendable: 10,
        });
        assert_eq!(e.code(), 1010);
        assert!(
            e.data()
                .unwrap()
                .get()
                .starts_with("\"Inability to pay some fees")
        );
        assert_eq!(
            from_submit(SubmitError::PriorityTooLow { old: 1, new: 0 }).message(),
            "Priority is too low: (1 vs 0)"
        );
        assert_eq!(from_submit(SubmitError::Format("x".into())).code(), 1001);
    }
}
