//! The runtime APIs clients reach through `state_call` (`<Trait>_<method>`, SCALE in and out),
//! and the node-side checks the transaction pool builds on them.

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_primitives::{AccountId32, Balance, H256, Nonce, Weight};

use crate::dispatch::DispatchClass;
use crate::executive::{Context, Mode, check_signed};
use crate::metadata::{self, VERSIONS};
use crate::modules::{balances, system, transaction_payment, weights};
use crate::validity::{
    TransactionSource, TransactionValidity, TransactionValidityError, ValidTransaction,
};
use crate::{Backend, Ext, MAX_CALL_DEPTH, RuntimeCall, UncheckedExtrinsic};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("runtime API {0:?} is not served by this runtime")]
    UnknownMethod(String),
    #[error("could not decode the arguments of {method}: {reason}")]
    BadInput { method: String, reason: String },
    #[error("state could not be read: {0}")]
    Backend(String),
}

/// Reads every argument from `input` and requires that nothing is left over.
struct Args<'a> {
    method: &'a str,
    input: &'a [u8],
}

impl<'a> Args<'a> {
    fn next<T: Decode>(&mut self) -> Result<T, ApiError> {
        T::decode_with_depth_limit(MAX_CALL_DEPTH, &mut self.input)
            .map_err(|e| self.bad(e.to_string()))
    }

    fn finish(&self) -> Result<(), ApiError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(self.bad("trailing bytes after the arguments".into()))
        }
    }

    fn bad(&self, reason: String) -> ApiError {
        ApiError::BadInput {
            method: self.method.into(),
            reason,
        }
    }
}

fn fee_info(
    len: u32,
    info: crate::dispatch::DispatchInfo,
    signed: bool,
) -> transaction_payment::RuntimeDispatchInfo {
    let partial_fee = if signed {
        transaction_payment::compute_fee(len as usize, &info, 0)
    } else {
        0
    };
    transaction_payment::RuntimeDispatchInfo {
        weight: weights::EXTRINSIC_BASE.saturating_add(info.weight),
        class: info.class,
        partial_fee,
    }
}

fn fee_details(
    len: u32,
    info: crate::dispatch::DispatchInfo,
    signed: bool,
) -> transaction_payment::FeeDetails {
    if signed {
        transaction_payment::compute_fee_details(len as usize, &info, 0)
    } else {
        transaction_payment::FeeDetails::default()
    }
}

/// Runs the runtime API `method` with SCALE `input` against the state in `backend`.
pub fn call(
    backend: &dyn Backend,
    ctx: &Context,
    method: &str,
    input: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let mut args = Args { method, input };
    let output = match method {
        "Core_version" => crate::version::version_of(&crate::Ext::new(backend)).encode(),
        "Metadata_metadata" => metadata::opaque(
            &metadata::metadata_bytes_at(&crate::Ext::new(backend), 14).unwrap_or_default(),
        ),
        "Metadata_metadata_versions" => VERSIONS.to_vec().encode(),
        "Metadata_metadata_at_version" => {
            let version: u32 = args.next()?;
            match metadata::metadata_bytes_at(&crate::Ext::new(backend), version) {
                Some(bytes) => {
                    let mut out = vec![1u8];
                    out.extend(metadata::opaque(&bytes));
                    out
                }
                None => vec![0u8],
            }
        }
        "AccountNonceApi_account_nonce" => {
            let who: AccountId32 = args.next()?;
            let ext = Ext::new(backend);
            let nonce = system::account(&ext, &who).nonce;
            check_backend(&ext)?;
            nonce.encode()
        }
        "TransactionPaymentApi_query_info" | "TransactionPaymentApi_query_fee_details" => {
            let xt: UncheckedExtrinsic = args.next()?;
            let len: u32 = args.next()?;
            let info = xt.function.info();
            let signed = xt.signature.is_some();
            if method.ends_with("query_info") {
                fee_info(len, info, signed).encode()
            } else {
                fee_details(len, info, signed).encode()
            }
        }
        "TransactionPaymentCallApi_query_call_info"
        | "TransactionPaymentCallApi_query_call_fee_details" => {
            let call: RuntimeCall = args.next()?;
            let len: u32 = args.next()?;
            if method.ends_with("query_call_info") {
                fee_info(len, call.info(), true).encode()
            } else {
                fee_details(len, call.info(), true).encode()
            }
        }
        "TransactionPaymentApi_query_weight_to_fee"
        | "TransactionPaymentCallApi_query_weight_to_fee" => {
            let weight: Weight = args.next()?;
            transaction_payment::weight_to_fee(weight).encode()
        }
        "TransactionPaymentApi_query_length_to_fee"
        | "TransactionPaymentCallApi_query_length_to_fee" => {
            let len: u32 = args.next()?;
            Balance::from(len)
                .saturating_mul(transaction_payment::TRANSACTION_BYTE_FEE)
                .encode()
        }
        "TaggedTransactionQueue_validate_transaction" => {
            let _source: TransactionSource = args.next()?;
            let start = args.input;
            let xt: UncheckedExtrinsic = args.next()?;
            let len = start.len().saturating_sub(args.input.len());
            let block_hash: H256 = args.next()?;
            args.finish()?;
            validate_transaction(backend, ctx, xt, len, block_hash)?.encode()
        }
        other => return Err(ApiError::UnknownMethod(other.into())),
    };
    args.finish()?;
    Ok(output)
}

fn check_backend(ext: &Ext) -> Result<(), ApiError> {
    match ext.fatal() {
        Some(reason) => Err(ApiError::Backend(reason)),
        None => Ok(()),
    }
}

/// Validity of `xt` (of `len` encoded bytes) for inclusion in the block after `at`, whose
/// post-state `backend` is: `TaggedTransactionQueue_validate_transaction`'s answer. The
/// node's pool runs [`validate_for_pool`], the same check with more to go on.
pub fn validate_transaction(
    backend: &dyn Backend,
    ctx: &Context,
    xt: UncheckedExtrinsic,
    len: usize,
    at: H256,
) -> Result<TransactionValidity, ApiError> {
    Ok(validate_for_pool(backend, ctx, xt, len, at)?.map(|v| v.valid))
}

/// What the transaction pool needs beyond [`ValidTransaction`] to bound what one account
/// may hold in it. A node-side API only: `TaggedTransactionQueue_validate_transaction` keeps
/// Substrate's exact answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolValidity {
    pub valid: ValidTransaction,
    pub class: DispatchClass,
    /// What inclusion would withdraw from the signer (fee and tip); zero when unsigned.
    pub fee: Balance,
    /// The signer's account as the validation saw it; `None` when unsigned.
    pub signer: Option<SignerAccount>,
}

/// A signer's account as far as the pool is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignerAccount {
    pub who: AccountId32,
    /// The account's next nonce: pooled transactions from here on are ready.
    pub nonce: Nonce,
    /// What fees can take while keeping the account alive: the most its pooled transactions
    /// may promise together.
    pub spendable: Balance,
}

/// The pool's view of `who` in the state `backend` holds.
pub fn signer_account(backend: &dyn Backend, who: &AccountId32) -> Result<SignerAccount, ApiError> {
    let ext = Ext::new(backend);
    let account = signer_account_in(&ext, who);
    check_backend(&ext)?;
    Ok(account)
}

fn signer_account_in(ext: &Ext, who: &AccountId32) -> SignerAccount {
    SignerAccount {
        who: *who,
        nonce: system::account(ext, who).nonce,
        spendable: if system::account_exists(ext, who) {
            balances::reducible_balance(ext, who, true)
        } else {
            0
        },
    }
}

/// [`validate_transaction`] with what the pool needs besides.
pub fn validate_for_pool(
    backend: &dyn Backend,
    ctx: &Context,
    xt: UncheckedExtrinsic,
    len: usize,
    at: H256,
) -> Result<Result<PoolValidity, TransactionValidityError>, ApiError> {
    let mut ext = Ext::new(backend);
    let number = system::block_number(&ext).saturating_add(1);
    system::initialize(&mut ext, number, at);
    let validity = if xt.signature.is_none() {
        let class = xt.function.info().class;
        crate::executive::validate_unsigned(&ext, &xt.function).map(|valid| PoolValidity {
            valid,
            class,
            fee: 0,
            signer: None,
        })
    } else {
        check_signed(&ext, ctx, xt, len, Mode::Validate).map(|(checked, valid)| PoolValidity {
            valid,
            class: checked.info.class,
            fee: checked.fee,
            signer: Some(signer_account_in(&ext, &checked.who)),
        })
    };
    check_backend(&ext)?;
    Ok(validity)
}
