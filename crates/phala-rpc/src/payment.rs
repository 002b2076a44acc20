//! `payment_*`: fee estimates through the `TransactionPaymentApi` runtime API.
//!
//! The extrinsic goes to the runtime exactly as the client sent it (its SCALE encoding, length
//! prefix included) followed by that length, as polkadot.js and subxt call the API directly.
//! The runtime does not check signatures here: polkadot.js estimates with a fake signature.

use jsonrpsee::types::ErrorObjectOwned;
use parity_scale_codec::Decode;
use phala_chain::ChainError;
use phala_primitives::H256;
use phala_rpc_api::{Bytes, DispatchInfoJson, FeeDetailsJson, PaymentApiServer};
use phala_runtime::api::ApiError;
use phala_runtime::modules::transaction_payment::{FeeDetails, RuntimeDispatchInfo};

use crate::{Api, RpcResult, errors};

impl PaymentApiServer for Api {
    fn query_info(&self, extrinsic: Bytes, at: Option<H256>) -> RpcResult<DispatchInfoJson> {
        let info: RuntimeDispatchInfo =
            self.query(extrinsic, at, "TransactionPaymentApi_query_info")?;
        Ok(DispatchInfoJson::from(&info))
    }

    fn query_fee_details(&self, extrinsic: Bytes, at: Option<H256>) -> RpcResult<FeeDetailsJson> {
        let details: FeeDetails =
            self.query(extrinsic, at, "TransactionPaymentApi_query_fee_details")?;
        Ok(FeeDetailsJson::from(&details))
    }
}

const UNABLE: &str = "Unable to query dispatch info.";

impl Api {
    fn query<T: Decode>(&self, extrinsic: Bytes, at: Option<H256>, method: &str) -> RpcResult<T> {
        let mut input = extrinsic.0;
        let at = self.resolve_at(at)?;
        let len = u32::try_from(input.len())
            .map_err(|_| errors::invalid_params("extrinsic longer than u32::MAX bytes"))?;
        input.extend_from_slice(&len.to_le_bytes());
        let output = self
            .chain
            .runtime_call(Some(at), method, &input)
            .map_err(|e| match e {
                ChainError::Api(ApiError::BadInput { reason, .. }) => {
                    ErrorObjectOwned::owned(errors::payment::DECODE, UNABLE, Some(reason))
                }
                other => ErrorObjectOwned::owned(
                    errors::payment::RUNTIME,
                    UNABLE,
                    Some(other.to_string()),
                ),
            })?;
        T::decode(&mut output.as_slice()).map_err(|e| {
            ErrorObjectOwned::owned(
                errors::payment::RUNTIME,
                UNABLE,
                Some(format!("runtime answered undecodable {method} output: {e}")),
            )
        })
    }
}
