//! `state_*` queries: storage, runtime calls, metadata and version at a finalized block.
//!
//! Every answer is bounded: pages of at most [`MAX_PAGE`] keys, unpaged listings refused past
//! that size, and range queries limited in blocks and reads, so no request can make the node
//! build an unbounded response.

use std::sync::LazyLock;

use phala_primitives::H256;
use phala_primitives::crypto::encode_hex;
use phala_runtime::VERSION;
use phala_state::StateView;

use crate::json::{ReadProofJson, RuntimeVersionJson, StorageChangeSetJson, value_hash};
use crate::params::{self, Args};
use crate::{Ctx, Module, RpcError, RpcResult, errors, register_blocking};

/// Substrate's cap on `state_getKeysPaged`'s `count`; polkadot.js pages with exactly this.
pub const MAX_PAGE: u32 = 1000;
/// Most blocks one `state_queryStorage` may span.
pub const MAX_QUERY_BLOCKS: u32 = 1000;
/// Most storage reads (keys × blocks) one `state_queryStorage` may cost.
pub const MAX_QUERY_READS: usize = 100_000;

/// `state_getMetadata`'s answer, encoded once: it is large and never changes.
static METADATA_HEX: LazyLock<String> =
    LazyLock::new(|| encode_hex(phala_runtime::metadata::metadata_bytes(14).unwrap_or_default()));

pub(crate) fn register(module: &mut Module) -> Result<(), RpcError> {
    register_blocking(module, "state_call", call)?;
    module.register_alias("state_callAt", "state_call")?;

    register_blocking(module, "state_getStorage", |args, ctx| {
        Ok(storage(args, ctx)?.map(|v| encode_hex(&v)))
    })?;
    module.register_alias("state_getStorageAt", "state_getStorage")?;
    register_blocking(module, "state_getStorageHash", |args, ctx| {
        Ok(storage(args, ctx)?.map(|v| value_hash(&v)))
    })?;
    module.register_alias("state_getStorageHashAt", "state_getStorageHash")?;
    register_blocking(module, "state_getStorageSize", |args, ctx| {
        Ok(storage(args, ctx)?.map(|v| v.len()))
    })?;
    module.register_alias("state_getStorageSizeAt", "state_getStorageSize")?;

    register_blocking(module, "state_getKeysPaged", keys_paged)?;
    module.register_alias("state_getKeysPagedAt", "state_getKeysPaged")?;
    register_blocking(module, "state_getKeys", |args, ctx| {
        let prefix = args.optional(0, "prefix", params::key)?.unwrap_or_default();
        let view = ctx.view(args.optional(1, "at", params::hash)?)?;
        let pairs = bounded_pairs(&view, &prefix, "keys", "state_getKeysPaged")?;
        Ok(pairs
            .into_iter()
            .map(|(k, _)| encode_hex(&k))
            .collect::<Vec<_>>())
    })?;
    register_blocking(module, "state_getPairs", |args, ctx| {
        let prefix = args.optional(0, "prefix", params::key)?.unwrap_or_default();
        let view = ctx.view(args.optional(1, "at", params::hash)?)?;
        let pairs = bounded_pairs(&view, &prefix, "pairs", "state_getKeysPaged")?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (encode_hex(&k), encode_hex(&v)))
            .collect::<Vec<_>>())
    })?;

    register_blocking(module, "state_queryStorageAt", |args, ctx| {
        let keys = args.required(0, "keys", params::keys)?;
        let view = ctx.view(args.optional(1, "at", params::hash)?)?;
        Ok(vec![change_set(&view, &keys)?])
    })?;
    register_blocking(module, "state_queryStorage", query_storage)?;
    register_blocking(module, "state_getReadProof", |args, ctx| {
        let keys = args.required(0, "keys", params::keys)?;
        let view = ctx.view(args.optional(1, "at", params::hash)?)?;
        let proof = view.read_proof(&keys).map_err(errors::state_client)?;
        Ok(ReadProofJson {
            at: view.block_hash(),
            proof: proof.iter().map(|node| encode_hex(node)).collect(),
        })
    })?;

    register_blocking(module, "state_getMetadata", |args, ctx| {
        ctx.resolve_at(args.optional(0, "at", params::hash)?)?;
        Ok(METADATA_HEX.as_str())
    })?;
    register_blocking(module, "state_getRuntimeVersion", |args, ctx| {
        // One runtime for the whole chain so far; the block only has to exist.
        ctx.resolve_at(args.optional(0, "at", params::hash)?)?;
        Ok(RuntimeVersionJson::from(&*VERSION))
    })?;
    module.register_alias("chain_getRuntimeVersion", "state_getRuntimeVersion")?;
    Ok(())
}

/// `state_call [method, data, at?]`.
fn call(args: &Args, ctx: &Ctx) -> RpcResult<String> {
    let method = args.required(0, "name", params::string)?;
    let data = args.required(1, "bytes", params::bytes)?;
    let at = ctx.resolve_at(args.optional(2, "at", params::hash)?)?;
    ctx.chain
        .runtime_call(Some(at), &method, &data)
        .map(|out| encode_hex(&out))
        .map_err(errors::from_chain)
}

/// `[key, at?]` → the raw value.
fn storage(args: &Args, ctx: &Ctx) -> RpcResult<Option<Vec<u8>>> {
    let key = args.required(0, "key", params::key)?;
    let view = ctx.view(args.optional(1, "at", params::hash)?)?;
    view.get(&key).map_err(errors::state_client)
}

/// `state_getKeysPaged [prefix, count, startKey?, at?]`: keys under `prefix` strictly after
/// `startKey` (polkadot.js passes the prefix itself on the first page, subxt `null`).
fn keys_paged(args: &Args, ctx: &Ctx) -> RpcResult<Vec<String>> {
    let prefix = args.optional(0, "prefix", params::key)?.unwrap_or_default();
    let count = args.required(1, "count", params::count)?;
    if count > MAX_PAGE {
        return Err(errors::invalid_count(count, MAX_PAGE));
    }
    let start = args.optional(2, "startKey", params::key)?;
    let view = ctx.view(args.optional(3, "at", params::hash)?)?;
    let keys = view
        .keys_paged(&prefix, start.as_deref(), count as usize)
        .map_err(errors::state_client)?;
    Ok(keys.iter().map(|k| encode_hex(k)).collect())
}

/// All pairs under `prefix`, refused when there are more than a page.
fn bounded_pairs(
    view: &StateView,
    prefix: &[u8],
    what: &str,
    paged: &str,
) -> RpcResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let limit = MAX_PAGE as usize;
    let pairs = view
        .pairs_paged(prefix, None, limit.saturating_add(1))
        .map_err(errors::state_client)?;
    if pairs.len() > limit {
        return Err(errors::too_many_results(what, limit, paged));
    }
    Ok(pairs)
}

/// Values of `keys` (in request order) at the view's block.
fn change_set(view: &StateView, keys: &[Vec<u8>]) -> RpcResult<StorageChangeSetJson> {
    let values = read_keys(view, keys)?;
    Ok(StorageChangeSetJson::new(
        view.block_hash(),
        keys.iter()
            .zip(&values)
            .map(|(k, v)| (k.as_slice(), v.as_deref())),
    ))
}

pub(crate) fn read_keys(view: &StateView, keys: &[Vec<u8>]) -> RpcResult<Vec<Option<Vec<u8>>>> {
    keys.iter()
        .map(|k| view.get(k).map_err(errors::state_client))
        .collect()
}

/// `state_queryStorage [keys, from, to?]`: one change set with every key at `from`, then one
/// per later block in which any of them changed.
fn query_storage(args: &Args, ctx: &Ctx) -> RpcResult<Vec<StorageChangeSetJson>> {
    let keys = args.required(0, "keys", params::keys)?;
    let from = args.required(1, "fromBlock", params::hash)?;
    let to = ctx.resolve_at(args.optional(2, "toBlock", params::hash)?)?;
    let number_of = |hash: &H256| -> RpcResult<u32> {
        ctx.chain
            .store()
            .block_number(hash)
            .map_err(errors::state_client)?
            .ok_or_else(|| errors::invalid_block_range(&from, &to, format!("unknown block {hash}")))
    };
    let (from_n, to_n) = (number_of(&from)?, number_of(&to)?);
    let span = to_n
        .checked_sub(from_n)
        .ok_or_else(|| errors::invalid_block_range(&from, &to, "from block is after to block"))?;
    if span >= MAX_QUERY_BLOCKS {
        return Err(errors::invalid_block_range(
            &from,
            &to,
            format!("at most {MAX_QUERY_BLOCKS} blocks per query"),
        ));
    }
    let reads = keys.len().saturating_mul((span as usize).saturating_add(1));
    if reads > MAX_QUERY_READS {
        return Err(errors::invalid_block_range(
            &from,
            &to,
            format!("{reads} reads requested, at most {MAX_QUERY_READS} per query"),
        ));
    }
    let mut last: Option<Vec<Option<Vec<u8>>>> = None;
    let mut out = Vec::new();
    for n in from_n..=to_n {
        let hash = ctx
            .chain
            .store()
            .block_by_number(n)
            .map_err(errors::state_client)?
            .map(|b| b.hash())
            .ok_or_else(|| errors::state_client(format!("finalized block #{n} is missing")))?;
        let view = ctx.chain.view(Some(hash)).map_err(errors::from_chain)?;
        let values = read_keys(&view, &keys)?;
        let changes: Vec<(&[u8], Option<&[u8]>)> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| match &last {
                None => true,
                Some(prev) => prev.get(*i) != values.get(*i),
            })
            .map(|(i, k)| (k.as_slice(), values.get(i).and_then(|v| v.as_deref())))
            .collect();
        if !changes.is_empty() {
            out.push(StorageChangeSetJson::new(hash, changes));
        }
        last = Some(values);
    }
    Ok(out)
}
