//! `state_*` queries: storage, runtime calls, metadata and version at a finalized block.
//!
//! Every answer is bounded: pages of at most [`MAX_PAGE`] keys, unpaged listings refused past
//! that size, and range queries limited in blocks and reads, so no request can make the node
//! build an unbounded response.

use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use phala_primitives::H256;
use phala_rpc_api::{
    Bytes, HexBytes, List, Number, ReadProofJson, RuntimeVersionJson, StateApiServer,
    StorageChangeSetJson,
};
use phala_state::StateView;

use crate::{Api, Ctx, RpcResult, errors, subscriptions};

/// Substrate's cap on `state_getKeysPaged`'s `count`; polkadot.js pages with exactly this.
pub const MAX_PAGE: u32 = 1000;
/// Most blocks one `state_queryStorage` may span.
pub const MAX_QUERY_BLOCKS: u32 = 1000;
/// Most storage reads (keys × blocks) one `state_queryStorage` may cost.
pub const MAX_QUERY_READS: usize = 100_000;

#[async_trait]
impl StateApiServer for Api {
    fn call(&self, name: String, bytes: Bytes, at: Option<H256>) -> RpcResult<Bytes> {
        let at = self.resolve_at(at)?;
        self.chain
            .runtime_call(Some(at), &name, &bytes.0)
            .map(Bytes)
            .map_err(errors::from_chain)
    }

    fn storage(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<Bytes>> {
        Ok(self.value(&key, at)?.map(Bytes))
    }

    fn storage_hash(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<H256>> {
        Ok(self.value(&key, at)?.map(|v| value_hash(&v)))
    }

    fn storage_size(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<u64>> {
        Ok(self
            .value(&key, at)?
            .map(|v| u64::try_from(v.len()).unwrap_or(u64::MAX)))
    }

    /// Keys under `prefix` strictly after `start_key` (polkadot.js passes the prefix itself on
    /// the first page, subxt `null`).
    fn keys_paged(
        &self,
        prefix: Option<Bytes>,
        count: Number<u32>,
        start_key: Option<Bytes>,
        at: Option<H256>,
    ) -> RpcResult<Vec<Bytes>> {
        let count = count.0;
        if count > MAX_PAGE {
            return Err(errors::invalid_count(count, MAX_PAGE));
        }
        let view = self.view(at)?;
        let keys = view
            .keys_paged(
                &prefix.unwrap_or_default().0,
                start_key.as_ref().map(|k| k.0.as_slice()),
                count as usize,
            )
            .map_err(errors::state_client)?;
        Ok(keys.into_iter().map(Bytes).collect())
    }

    fn keys(&self, prefix: Option<Bytes>, at: Option<H256>) -> RpcResult<Vec<Bytes>> {
        let view = self.view(at)?;
        let pairs = bounded_pairs(&view, &prefix.unwrap_or_default().0, "keys")?;
        Ok(pairs.into_iter().map(|(k, _)| Bytes(k)).collect())
    }

    fn pairs(&self, prefix: Option<Bytes>, at: Option<H256>) -> RpcResult<Vec<(Bytes, Bytes)>> {
        let view = self.view(at)?;
        let pairs = bounded_pairs(&view, &prefix.unwrap_or_default().0, "pairs")?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (Bytes(k), Bytes(v)))
            .collect())
    }

    fn query_storage_at(
        &self,
        keys: List<Bytes>,
        at: Option<H256>,
    ) -> RpcResult<Vec<StorageChangeSetJson>> {
        let keys = raw_keys(keys);
        let view = self.view(at)?;
        Ok(vec![change_set(&view, &keys)?])
    }

    fn query_storage(
        &self,
        keys: List<Bytes>,
        from_block: H256,
        to_block: Option<H256>,
    ) -> RpcResult<Vec<StorageChangeSetJson>> {
        query_storage(self, raw_keys(keys), from_block, to_block)
    }

    fn read_proof(&self, keys: List<Bytes>, at: Option<H256>) -> RpcResult<ReadProofJson> {
        let keys = raw_keys(keys);
        let view = self.view(at)?;
        let proof = view.read_proof(&keys).map_err(errors::state_client)?;
        Ok(ReadProofJson {
            at: view.block_hash(),
            proof: proof.into_iter().map(Bytes).collect(),
        })
    }

    fn metadata(&self, at: Option<H256>) -> RpcResult<HexBytes> {
        // The runtime's `Metadata_metadata` at that block: its constants carry the chain's
        // governance parameters. The answer is `OpaqueMetadata` (a length-prefixed vector).
        let at = self.resolve_at(at)?;
        let opaque = self
            .chain
            .runtime_call(Some(at), "Metadata_metadata", &[])
            .map_err(errors::from_chain)?;
        let bytes = <Vec<u8> as parity_scale_codec::Decode>::decode(&mut opaque.as_slice())
            .map_err(|e| errors::internal(format!("metadata does not decode: {e}")))?;
        Ok(HexBytes::encode(&bytes))
    }

    fn runtime_version(&self, at: Option<H256>) -> RpcResult<RuntimeVersionJson> {
        // The version in force at that block: upgrades change it at their block.
        let at = self.resolve_at(at)?;
        let version = self
            .chain
            .runtime_version(Some(at))
            .map_err(errors::from_chain)?;
        Ok(RuntimeVersionJson::from(&version))
    }

    async fn subscribe_runtime_version(
        &self,
        pending: PendingSubscriptionSink,
    ) -> SubscriptionResult {
        subscriptions::runtime_version(pending, self.chain.clone()).await
    }

    async fn subscribe_storage(
        &self,
        pending: PendingSubscriptionSink,
        keys: Option<List<Bytes>>,
    ) -> SubscriptionResult {
        subscriptions::follow_storage(keys.map(raw_keys), pending, self.chain.clone()).await
    }
}

impl Api {
    /// The raw value under `key` at `at`.
    fn value(&self, key: &Bytes, at: Option<H256>) -> RpcResult<Option<Vec<u8>>> {
        let view = self.view(at)?;
        view.get(&key.0).map_err(errors::state_client)
    }
}

/// A key list (at most [`crate::MAX_KEYS`], checked as it was decoded) as raw keys.
fn raw_keys(keys: List<Bytes>) -> Vec<Vec<u8>> {
    keys.0.into_iter().map(|k| k.0).collect()
}

/// All pairs under `prefix`, refused when there are more than a page.
fn bounded_pairs(
    view: &StateView,
    prefix: &[u8],
    what: &str,
) -> RpcResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let limit = MAX_PAGE as usize;
    let pairs = view
        .pairs_paged(prefix, None, limit.saturating_add(1))
        .map_err(errors::state_client)?;
    if pairs.len() > limit {
        return Err(errors::too_many_results(what, limit, "state_getKeysPaged"));
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

/// `state_queryStorage`: one change set with every key at `from`, then one
/// per later block in which any of them changed.
fn query_storage(
    ctx: &Ctx,
    keys: Vec<Vec<u8>>,
    from: H256,
    to: Option<H256>,
) -> RpcResult<Vec<StorageChangeSetJson>> {
    let to = ctx.resolve_at(to)?;
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

/// Hash of a storage value for `state_getStorageHash`.
fn value_hash(value: &[u8]) -> H256 {
    phala_primitives::hashing::hash256(value)
}
