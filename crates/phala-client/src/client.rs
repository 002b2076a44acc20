//! [`Client`]: a connection to a node and typed queries of its chain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, Balance, Block, BlockNumber, H256, Header};
use phala_rpc_api::{
    Account, Bytes, ChainApiClient, HeaderJson, List, ListOrValue, Number, RuntimeVersionJson,
    StateApiClient, SystemApiClient,
};
use phala_runtime::RuntimeVersion;
use phala_runtime::modules::balances;
use phala_runtime::modules::system::{self, AccountInfo, EventRecord};
use tokio::sync::OnceCell;

use crate::error::ClientError;
use crate::metadata::{ChainMetadata, MetadataSource};
use crate::rpc::{Call, ChainProperties, Rpc};

/// Limits of a [`Client`]. Every wait the SDK does is bounded by one of them.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// How long opening the connection may take.
    pub connect_timeout: Duration,
    /// How long the node may take to answer one request.
    pub request_timeout: Duration,
    /// How long [`crate::TxProgress::wait_finalized`] waits for finality.
    pub finality_timeout: Duration,
    /// How often finalized blocks are polled when watching a transaction over HTTP.
    pub poll_interval: Duration,
    /// Largest response accepted, in bytes (metadata and big blocks need a few MiB).
    pub max_response_size: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            finality_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            max_response_size: 64 * 1024 * 1024,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) rpc: Rpc,
    pub(crate) config: ClientConfig,
    genesis_hash: H256,
    runtime_version: Mutex<RuntimeVersion>,
    properties: ChainProperties,
    metadata: OnceCell<Arc<ChainMetadata>>,
}

/// A connection to a phala node. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.rpc.url())
            .field("genesis_hash", &self.inner.genesis_hash)
            .finish()
    }
}

impl Client {
    /// Connects to a node at `ws://`, `wss://` (full API) or `http://`, `https://` (no
    /// subscriptions; transactions are then followed by polling finalized blocks).
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Client::connect_with(url, ClientConfig::default()).await
    }

    /// [`Client::connect`] with explicit limits.
    pub async fn connect_with(url: &str, config: ClientConfig) -> Result<Client, ClientError> {
        let rpc = Rpc::open(url, &config).await?;
        let (genesis, version, properties) = (rpc.call(), rpc.call(), rpc.call());
        let (genesis_hash, runtime_version, properties) = tokio::try_join!(
            async {
                let answer = genesis
                    .block_hash(Some(ListOrValue::Value(Number(0))))
                    .await
                    .map_err(|e| genesis.fail(e))?;
                genesis
                    .one(answer)?
                    .ok_or_else(|| genesis.bad("the node does not know block 0"))
            },
            async {
                let json = version
                    .runtime_version(None)
                    .await
                    .map_err(|e| version.fail(e))?;
                to_version(&version, &json)
            },
            async {
                properties
                    .properties()
                    .await
                    .map_err(|e| properties.fail(e))
            },
        )?;
        Ok(Client {
            inner: Arc::new(Inner {
                rpc,
                config,
                genesis_hash,
                runtime_version: Mutex::new(runtime_version),
                properties: ChainProperties::from_json(properties),
                metadata: OnceCell::new(),
            }),
        })
    }

    pub fn url(&self) -> &str {
        self.inner.rpc.url()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Hash of block 0, read at connect time.
    pub fn genesis_hash(&self) -> H256 {
        self.inner.genesis_hash
    }

    /// The runtime version last read from the node (at connect time, refreshed by every
    /// [`Client::sign`]).
    pub fn runtime_version(&self) -> RuntimeVersion {
        match self.inner.runtime_version.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the node's current runtime version and remembers it.
    pub async fn refresh_runtime_version(&self) -> Result<RuntimeVersion, ClientError> {
        let call = self.rpc();
        let json = call.runtime_version(None).await.map_err(|e| call.fail(e))?;
        let version = to_version(&call, &json)?;
        match self.inner.runtime_version.lock() {
            Ok(mut v) => *v = version.clone(),
            Err(poisoned) => *poisoned.into_inner() = version.clone(),
        }
        Ok(version)
    }

    /// The chain properties (`system_properties`) read at connect time.
    pub fn properties(&self) -> &ChainProperties {
        &self.inner.properties
    }

    /// The chain's name (`system_chain`), e.g. "Development".
    pub async fn chain_name(&self) -> Result<String, ClientError> {
        let call = self.rpc();
        call.chain().await.map_err(|e| call.fail(e))
    }

    /// A handle for one call through `phala_rpc_api`'s client traits.
    pub(crate) fn rpc(&self) -> Call<'_> {
        self.inner.rpc.call()
    }

    /// Hash of the canonical block at `number`, if there is one.
    pub async fn block_hash(&self, number: BlockNumber) -> Result<Option<H256>, ClientError> {
        let call = self.rpc();
        let answer = call
            .block_hash(Some(ListOrValue::Value(Number(number))))
            .await
            .map_err(|e| call.fail(e))?;
        call.one(answer)
    }

    /// The latest finalized block: `(number, hash)`.
    pub async fn finalized_head(&self) -> Result<(BlockNumber, H256), ClientError> {
        let call = self.rpc();
        let hash = call.finalized_head().await.map_err(|e| call.fail(e))?;
        let header = self
            .header(hash)
            .await?
            .ok_or(ClientError::UnknownBlock { hash })?;
        Ok((header.number, hash))
    }

    /// The node's best block: `(number, hash)`.
    pub async fn best_head(&self) -> Result<(BlockNumber, H256), ClientError> {
        let call = self.rpc();
        let json = call.header(None).await.map_err(|e| call.fail(e))?;
        let header = checked_header(&call, json, None)?
            .ok_or_else(|| call.bad("the node has no best block"))?;
        Ok((header.number, header.hash()))
    }

    /// The header of block `hash`, or `None` if the node does not know it. The header is
    /// checked to hash to `hash`.
    pub async fn header(&self, hash: H256) -> Result<Option<Header>, ClientError> {
        let call = self.rpc();
        let json = call.header(Some(hash)).await.map_err(|e| call.fail(e))?;
        checked_header(&call, json, Some(hash))
    }

    /// Block `hash` with its extrinsics (each exactly as on the wire, length prefix
    /// included), or `None` if the node does not know it.
    pub async fn block(&self, hash: H256) -> Result<Option<Block>, ClientError> {
        let call = self.rpc();
        let json = call.block(Some(hash)).await.map_err(|e| call.fail(e))?;
        let Some(json) = json else {
            return Ok(None);
        };
        let block = Block::try_from(json).map_err(|e| call.bad(e.0))?;
        // The header hashes to `hash` (below); the extrinsics must be the ones it commits to.
        if phala_primitives::block::extrinsics_root(&block.extrinsics)
            != block.header.extrinsics_root
        {
            return Err(call.bad("the extrinsics do not match the header's extrinsics root"));
        }
        let computed = block.hash();
        if computed != hash {
            return Err(ClientError::HeaderHashMismatch {
                requested: hash,
                computed,
            });
        }
        Ok(Some(block))
    }

    /// The encoded simplex finality certificate of finalized block `hash`
    /// (`phala_getFinalityProof`): `None` for blocks finalized only through a descendant's
    /// certificate, and for unknown blocks. Verify it with `phala-light-client`.
    pub async fn finality_proof(&self, hash: H256) -> Result<Option<Vec<u8>>, ClientError> {
        let call = self.rpc();
        let proof = call.finality_proof(hash).await.map_err(|e| call.fail(e))?;
        match proof {
            Some(p) if p.block_hash != hash => {
                Err(call.bad(format!("a proof for block {} was sent", p.block_hash)))
            }
            other => Ok(other.map(|p| p.certificate.0)),
        }
    }

    /// Every storage key under `prefix` at block `at`, fetched in pages
    /// (`state_getKeysPaged`).
    pub async fn keys_with_prefix(
        &self,
        prefix: &[u8],
        at: H256,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        const PAGE: u32 = 1000;
        // A node that kept sending full pages would otherwise be followed forever.
        const MAX_PAGES: usize = 1000;
        // Keys of this chain's maps are a few hashes long; all of a prefix's fit in this.
        const MAX_KEY_LEN: usize = 1024;
        const MAX_TOTAL: usize = 64 * 1024 * 1024;
        let mut total = 0usize;
        let mut out = Vec::new();
        let mut start: Option<Bytes> = None;
        for _ in 0..MAX_PAGES {
            let call = self.rpc();
            let page = call
                .keys_paged(
                    Some(Bytes::from(prefix)),
                    Number(PAGE),
                    start.clone(),
                    Some(at),
                )
                .await
                .map_err(|e| call.fail(e))?;
            let full = page.len() == PAGE as usize;
            // Each key is under the prefix and after the one before: every page moves on.
            let mut previous = start.as_ref().map(|k| k.0.as_slice());
            for key in &page {
                if !key.0.starts_with(prefix) || previous.is_some_and(|p| key.0.as_slice() <= p) {
                    return Err(call.bad("keys outside the prefix or out of order"));
                }
                total = total.saturating_add(key.0.len());
                if key.0.len() > MAX_KEY_LEN || total > MAX_TOTAL {
                    return Err(call.bad("keys longer than any of this chain's, or too many"));
                }
                previous = Some(key.0.as_slice());
            }
            start = page.last().cloned();
            out.extend(page.into_iter().map(Vec::from));
            if !full {
                return Ok(out);
            }
        }
        Err(ClientError::BadResponse {
            method: "state_getKeysPaged".into(),
            reason: format!("more than {MAX_PAGES} pages of {PAGE} keys under one prefix"),
        })
    }

    /// Every entry of a `Twox64Concat` map at block `at` (`prefix` is the map's), by key in
    /// order: the SCALE key follows the prefix and an 8-byte hash in each storage key.
    /// Keys that do not decode as `K` are skipped.
    pub(crate) async fn twox64_entries<K: Decode + Ord, V: Decode>(
        &self,
        what: &str,
        prefix: &[u8],
        at: H256,
    ) -> Result<Vec<(K, V)>, ClientError> {
        let mut out = Vec::new();
        for key in self.keys_with_prefix(prefix, at).await? {
            let Some(k) = key
                .get(prefix.len().saturating_add(8)..)
                .and_then(|mut b| K::decode(&mut b).ok())
            else {
                continue;
            };
            if let Some(v) = self.storage_decoded(what, &key, Some(at)).await? {
                out.push((k, v));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The registered workers at the best block (`Registry.Workers`).
    pub async fn workers(
        &self,
    ) -> Result<Vec<phala_runtime::modules::registry::WorkerInfo>, ClientError> {
        let (_, at) = self.best_head().await?;
        let prefix = phala_runtime::modules::registry::WORKERS.prefix();
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&prefix, at).await? {
            if let Some(w) = self
                .storage_decoded("a Registry.Workers entry", &key, Some(at))
                .await?
            {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// One registered worker, by identity key.
    pub async fn worker(
        &self,
        pubkey: &[u8; 32],
    ) -> Result<Option<phala_runtime::modules::registry::WorkerInfo>, ClientError> {
        let key = phala_runtime::modules::registry::WORKERS.key(pubkey);
        self.storage_decoded("a Registry.Workers entry", &key, None)
            .await
    }

    /// `who`'s validator bond (`Validators.Ledger`) at block `at` (the best block if `None`):
    /// what is bonded and what unbonds when.
    pub async fn bond_ledger(
        &self,
        who: &AccountId32,
        at: Option<H256>,
    ) -> Result<Option<phala_runtime::modules::validators::Ledger>, ClientError> {
        let key = phala_runtime::modules::validators::LEDGER.key(who);
        self.storage_decoded("a Validators.Ledger entry", &key, at)
            .await
    }

    /// The validator election's parameters (`Validators.Params`): epoch length, committee
    /// size, unbonding period, slash share and minimum bond.
    pub async fn validator_params(
        &self,
    ) -> Result<phala_runtime::modules::validators::Params, ClientError> {
        let key = phala_runtime::modules::validators::PARAMS.key();
        Ok(self
            .storage_decoded("Validators.Params", &key, None)
            .await?
            .unwrap_or_default())
    }

    /// The gatekeepers' identity keys, in registration order.
    pub async fn gatekeepers(&self) -> Result<Vec<[u8; 32]>, ClientError> {
        let key = phala_runtime::modules::registry::gatekeeper::GATEKEEPERS.key();
        Ok(self
            .storage_decoded("Registry.Gatekeepers", &key, None)
            .await?
            .unwrap_or_default())
    }

    /// Every master key's public record, oldest first (the last is current).
    pub async fn master_key_history(
        &self,
    ) -> Result<Vec<phala_runtime::modules::registry::gatekeeper::MasterPubkeyRecord>, ClientError>
    {
        let key = phala_runtime::modules::registry::gatekeeper::MASTER_PUBKEY_HISTORY.key();
        Ok(self
            .storage_decoded("Registry.MasterPubkeyHistory", &key, None)
            .await?
            .unwrap_or_default())
    }

    /// The master key version a requested rotation waits for, if one does.
    pub async fn pending_rotation(&self) -> Result<Option<u32>, ClientError> {
        let key = phala_runtime::modules::registry::gatekeeper::PENDING_ROTATION.key();
        self.storage_decoded("Registry.PendingRotation", &key, None)
            .await
    }

    /// Every cluster, by id.
    pub async fn clusters(
        &self,
    ) -> Result<Vec<(H256, phala_runtime::modules::contracts::ClusterInfo)>, ClientError> {
        let (_, at) = self.best_head().await?;
        let map = phala_runtime::modules::contracts::CLUSTERS;
        let prefix = map.prefix();
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&prefix, at).await? {
            // Blake2_128Concat: the id follows the prefix and a 16-byte hash.
            let Some(id) = key
                .get(prefix.len().saturating_add(16)..)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            else {
                continue;
            };
            if let Some(c) = self
                .storage_decoded("a Contracts.Clusters entry", &key, Some(at))
                .await?
            {
                out.push((H256(id), c));
            }
        }
        Ok(out)
    }

    /// A read proof of `keys` in the state of block `at` (`state_getReadProof`): the trie
    /// nodes to check their values against that block's state root with
    /// `phala_trie::verify_proof`. The node is not trusted; the proof is.
    pub async fn read_proof(
        &self,
        keys: &[Vec<u8>],
        at: H256,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let keys = keys.iter().map(|k| Bytes::from(k.as_slice())).collect();
        let call = self.rpc();
        let proof = call
            .read_proof(List(keys), Some(at))
            .await
            .map_err(|e| call.fail(e))?;
        Ok(proof.proof.into_iter().map(Vec::from).collect())
    }

    /// The raw value under a storage key, at block `at` (the best block if `None`).
    pub async fn storage(
        &self,
        key: &[u8],
        at: Option<H256>,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let call = self.rpc();
        let value = call
            .storage(Bytes::from(key), at)
            .await
            .map_err(|e| call.fail(e))?;
        Ok(value.map(Vec::from))
    }

    /// The value under a storage key at block `at` (the best block if `None`), decoded
    /// whole as `T`; `what` names it in the error if it does not decode.
    pub async fn storage_decoded<T: Decode>(
        &self,
        what: &str,
        key: &[u8],
        at: Option<H256>,
    ) -> Result<Option<T>, ClientError> {
        self.storage(key, at)
            .await?
            .map(|bytes| decode_exact(what, &bytes))
            .transpose()
    }

    /// `System.Account` of `who` at the best block: nonce, reference counts and balances.
    /// An account that does not exist reads as all zeroes.
    pub async fn account(&self, who: &AccountId32) -> Result<AccountInfo, ClientError> {
        self.account_at(who, None).await
    }

    /// `System.Account` of `who` at block `at` (the best block if `None`).
    pub async fn account_at(
        &self,
        who: &AccountId32,
        at: Option<H256>,
    ) -> Result<AccountInfo, ClientError> {
        let what = format!("System.Account of {who}");
        Ok(self
            .storage_decoded(&what, &system::ACCOUNT.key(who), at)
            .await?
            .unwrap_or_default())
    }

    /// Free balance of `who` at the best block.
    pub async fn free_balance(&self, who: &AccountId32) -> Result<Balance, ClientError> {
        Ok(self.account(who).await?.data.free)
    }

    /// `Balances.TotalIssuance` at the best block.
    pub async fn total_issuance(&self) -> Result<Balance, ClientError> {
        Ok(self
            .storage_decoded(
                "Balances.TotalIssuance",
                &balances::TOTAL_ISSUANCE.key(),
                None,
            )
            .await?
            .unwrap_or_default())
    }

    /// The events of block `block_hash` (`System.Events`).
    pub async fn events_at(&self, block_hash: H256) -> Result<Vec<EventRecord>, ClientError> {
        let what = format!("System.Events of block {block_hash}");
        Ok(self
            .storage_decoded(&what, &system::EVENTS.key(), Some(block_hash))
            .await?
            .unwrap_or_default())
    }

    /// The nonce `who`'s next transaction should use, counting transactions in the node's
    /// pool (`system_accountNextIndex`).
    pub async fn next_nonce(&self, who: &AccountId32) -> Result<u32, ClientError> {
        let call = self.rpc();
        call.account_next_index(Account(*who))
            .await
            .map_err(|e| call.fail(e))
    }

    /// Calls runtime API `method` (e.g. `TransactionPaymentApi_query_info`) with SCALE
    /// `input` at the best block, returning the SCALE output.
    pub async fn runtime_call(&self, method: &str, input: &[u8]) -> Result<Vec<u8>, ClientError> {
        self.runtime_call_at(method, input, None).await
    }

    /// [`Client::runtime_call`] at block `at`.
    pub async fn runtime_call_at(
        &self,
        method: &str,
        input: &[u8],
        at: Option<H256>,
    ) -> Result<Vec<u8>, ClientError> {
        let call = self.rpc();
        let out = StateApiClient::call(&call, method.to_string(), Bytes::from(input), at)
            .await
            .map_err(|e| call.fail(e))?;
        Ok(out.0)
    }

    /// The node's runtime metadata (V15, else V14), fetched once. If the node's metadata
    /// cannot be read, the metadata built into this SDK is returned (not cached, so a later
    /// call tries the node again).
    pub async fn metadata(&self) -> Arc<ChainMetadata> {
        let fetched = self
            .inner
            .metadata
            .get_or_try_init(|| async { self.fetch_metadata().await.map(Arc::new) })
            .await;
        match fetched {
            Ok(md) => md.clone(),
            Err(_) => Arc::new(ChainMetadata::local()),
        }
    }

    /// V15 through `Metadata_metadata_at_version`, else whatever `state_getMetadata` serves.
    async fn fetch_metadata(&self) -> Result<ChainMetadata, ClientError> {
        let v15 = self
            .runtime_call("Metadata_metadata_at_version", &15u32.encode())
            .await
            .ok()
            .and_then(|out| {
                Option::<Vec<u8>>::decode(&mut out.as_slice())
                    .ok()
                    .flatten()
            });
        let (method, bytes) = match v15 {
            Some(bytes) => ("state_call Metadata_metadata_at_version", bytes),
            None => {
                let call = self.rpc();
                let hex = call.metadata(None).await.map_err(|e| call.fail(e))?;
                let bytes = hex.decode().map_err(|e| call.bad(e.to_string()))?;
                ("state_getMetadata", bytes)
            }
        };
        ChainMetadata::from_bytes(&bytes, MetadataSource::Node).map_err(|reason| {
            ClientError::BadResponse {
                method: method.into(),
                reason,
            }
        })
    }
}

/// A header from the node, checked to hash to `expected` when that is known.
fn checked_header(
    call: &Call<'_>,
    json: Option<HeaderJson>,
    expected: Option<H256>,
) -> Result<Option<Header>, ClientError> {
    let Some(json) = json else {
        return Ok(None);
    };
    let header = Header::try_from(&json).map_err(|e| call.bad(e.0))?;
    if let Some(requested) = expected {
        let computed = header.hash();
        if computed != requested {
            return Err(ClientError::HeaderHashMismatch {
                requested,
                computed,
            });
        }
    }
    Ok(Some(header))
}

fn to_version(call: &Call<'_>, json: &RuntimeVersionJson) -> Result<RuntimeVersion, ClientError> {
    RuntimeVersion::try_from(json).map_err(|e| call.bad(e.0))
}

/// Decodes `T` from all of `bytes`.
pub(crate) fn decode_exact<T: Decode>(what: &str, bytes: &[u8]) -> Result<T, ClientError> {
    let mut input = bytes;
    let value = T::decode(&mut input).map_err(|e| ClientError::Decode {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    if !input.is_empty() {
        return Err(ClientError::Decode {
            what: what.to_string(),
            reason: format!("{} bytes left over", input.len()),
        });
    }
    Ok(value)
}
