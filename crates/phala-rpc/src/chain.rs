//! `chain_*` queries: finalized blocks, headers and hashes. Unknown blocks answer `null`, as
//! in Substrate, because clients probe for blocks that may not exist yet.

use phala_primitives::{Block, H256};
use serde_json::Value;

use crate::json::{HeaderJson, SignedBlockJson};
use crate::params::{self, Args, MAX_KEYS};
use crate::{Ctx, Module, RpcError, RpcResult, errors, register_blocking};

pub(crate) fn register(module: &mut Module) -> Result<(), RpcError> {
    register_blocking(module, "chain_getBlockHash", get_block_hash)?;
    module.register_alias("chain_getHead", "chain_getBlockHash")?;
    register_blocking(module, "chain_getHeader", |args, ctx| {
        let at = args.optional(0, "hash", params::hash)?;
        Ok(block(ctx, at)?.map(|b| HeaderJson::from(&b.header)))
    })?;
    register_blocking(module, "chain_getBlock", |args, ctx| {
        let at = args.optional(0, "hash", params::hash)?;
        match block(ctx, at)? {
            Some(b) => {
                let certificate = certificate(ctx, b.header.number)?;
                Ok(Some(SignedBlockJson::new(&b, certificate)))
            }
            None => Ok(None),
        }
    })?;
    register_blocking(module, "phala_getFinalityProof", |args, ctx| {
        let hash = args.required(0, "hash", params::hash)?;
        let Some(number) = ctx
            .chain
            .store()
            .block_number(&hash)
            .map_err(errors::chain_client)?
        else {
            return Ok(None);
        };
        Ok(certificate(ctx, number)?
            .filter(|c| !c.is_empty())
            .map(|c| {
                serde_json::json!({
                    "blockHash": hash,
                    "blockNumber": number,
                    "engine": "smpx",
                    "certificate": phala_primitives::crypto::encode_hex(&c),
                })
            }))
    })?;
    register_blocking(module, "chain_getFinalizedHead", |_, ctx| {
        ctx.chain
            .finalized()
            .map(|(_, hash)| hash)
            .map_err(errors::chain_client)
    })?;
    module.register_alias("chain_getFinalisedHead", "chain_getFinalizedHead")?;
    Ok(())
}

/// The finality certificate stored with finalized block `number` (empty for genesis and for
/// blocks finalized only through a descendant's certificate).
fn certificate(ctx: &Ctx, number: u32) -> RpcResult<Option<Vec<u8>>> {
    ctx.chain
        .store()
        .justification(number)
        .map_err(errors::chain_client)
}

/// A finalized block by hash, or the head.
fn block(ctx: &Ctx, at: Option<H256>) -> RpcResult<Option<Block>> {
    let store = ctx.chain.store();
    let found = match at {
        Some(hash) => store.block(&hash),
        None => {
            let (n, _) = ctx.chain.finalized().map_err(errors::chain_client)?;
            store.block_by_number(n)
        }
    };
    found.map_err(errors::chain_client)
}

/// `chain_getBlockHash [n?]`: the head for no number, `null` for numbers not yet finalized,
/// and an array answer for an array of numbers (Substrate's `ListOrValue`).
fn get_block_hash(args: &Args, ctx: &Ctx) -> RpcResult<Value> {
    let hash_of = |n| -> RpcResult<Option<H256>> {
        ctx.chain
            .store()
            .block_by_number(n)
            .map(|b| b.map(|b| b.hash()))
            .map_err(errors::chain_client)
    };
    match args.raw(0) {
        None => {
            let (_, hash) = ctx.chain.finalized().map_err(errors::chain_client)?;
            Ok(serde_json::json!(hash))
        }
        Some(Value::Array(items)) => {
            if items.len() > MAX_KEYS {
                return Err(errors::invalid_params(format!(
                    "at most {MAX_KEYS} block numbers per call"
                )));
            }
            let hashes = items
                .iter()
                .map(|item| {
                    let n = params::block_number(item)
                        .map_err(|e| errors::invalid_params(format!("block number: {e}")))?;
                    hash_of(n)
                })
                .collect::<RpcResult<Vec<_>>>()?;
            Ok(serde_json::json!(hashes))
        }
        Some(_) => {
            let n = args.required(0, "blockNumber", params::block_number)?;
            Ok(serde_json::json!(hash_of(n)?))
        }
    }
}
