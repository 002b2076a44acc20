//! `payment_*`: fee estimates through the `TransactionPaymentApi` runtime API.
//!
//! The extrinsic goes to the runtime exactly as the client sent it (its SCALE encoding, length
//! prefix included) followed by that length, as polkadot.js and subxt call the API directly.
//! The runtime does not check signatures here: polkadot.js estimates with a fake signature.

use parity_scale_codec::Decode;
use phala_chain::ChainError;
use phala_runtime::api::ApiError;
use phala_runtime::modules::transaction_payment::{FeeDetails, RuntimeDispatchInfo};

use crate::json::{DispatchInfoJson, FeeDetailsJson};
use crate::params::{self, Args};
use crate::{Ctx, Module, RpcError, RpcResult, errors, register_blocking};
use jsonrpsee::types::ErrorObjectOwned;

pub(crate) fn register(module: &mut Module) -> Result<(), RpcError> {
    register_blocking(module, "payment_queryInfo", |args, ctx| {
        let info: RuntimeDispatchInfo = query(args, ctx, "TransactionPaymentApi_query_info")?;
        Ok(DispatchInfoJson::from(&info))
    })?;
    register_blocking(module, "payment_queryFeeDetails", |args, ctx| {
        let details: FeeDetails = query(args, ctx, "TransactionPaymentApi_query_fee_details")?;
        Ok(FeeDetailsJson::from(&details))
    })?;
    Ok(())
}

const UNABLE: &str = "Unable to query dispatch info.";

fn query<T: Decode>(args: &Args, ctx: &Ctx, method: &str) -> RpcResult<T> {
    let mut input = args.required(0, "extrinsic", params::bytes)?;
    let at = ctx.resolve_at(args.optional(1, "at", params::hash)?)?;
    let len = u32::try_from(input.len())
        .map_err(|_| errors::invalid_params("extrinsic longer than u32::MAX bytes"))?;
    input.extend_from_slice(&len.to_le_bytes());
    let output = ctx
        .chain
        .runtime_call(Some(at), method, &input)
        .map_err(|e| match e {
            ChainError::Api(ApiError::BadInput { reason, .. }) => {
                ErrorObjectOwned::owned(errors::payment::DECODE, UNABLE, Some(reason))
            }
            other => {
                ErrorObjectOwned::owned(errors::payment::RUNTIME, UNABLE, Some(other.to_string()))
            }
        })?;
    T::decode(&mut output.as_slice()).map_err(|e| {
        ErrorObjectOwned::owned(
            errors::payment::RUNTIME,
            UNABLE,
            Some(format!("runtime answered undecodable {method} output: {e}")),
        )
    })
}
