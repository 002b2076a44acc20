//! The methods, one trait per namespace. jsonrpsee's macro makes each a `…Server` trait the
//! node implements and a `…Client` trait implemented for every jsonrpsee client.
//!
//! Names, aliases and notification names are Substrate's (`docs/substrate-compat.md`).
//! Methods marked `blocking` read the chain's store and run off the async workers. Only
//! finalized blocks exist for RPC: every `at` names a finalized block and defaults to the
//! finalized head.

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use phala_primitives::H256;

use crate::params::{Account, Bytes, HexBytes, List, ListOrValue, Number};
use crate::types::{
    ChainTypeJson, DispatchInfoJson, FeeDetailsJson, FinalityProofJson, HeaderJson, HealthJson,
    NodeRoleJson, Properties, ReadProofJson, RpcMethodsJson, RuntimeVersionJson, SignedBlockJson,
    StorageChangeSetJson, SyncStateJson, TransactionStatus,
};

/// A block number parameter.
pub type BlockNumberParam = Number<u32>;

/// `chain_*`: finalized blocks, headers and hashes, and head subscriptions. Unknown blocks
/// answer `null`, as in Substrate, because clients probe for blocks that may not exist yet.
#[rpc(client, server)]
pub trait ChainApi {
    /// The hash of block `number` (the head if absent); a list of numbers answers a list.
    #[method(name = "chain_getBlockHash", aliases = ["chain_getHead"], blocking)]
    fn block_hash(
        &self,
        number: Option<ListOrValue<BlockNumberParam>>,
    ) -> RpcResult<ListOrValue<Option<H256>>>;

    #[method(name = "chain_getHeader", blocking)]
    fn header(&self, hash: Option<H256>) -> RpcResult<Option<HeaderJson>>;

    #[method(name = "chain_getBlock", blocking)]
    fn block(&self, hash: Option<H256>) -> RpcResult<Option<SignedBlockJson>>;

    #[method(
        name = "chain_getFinalizedHead",
        aliases = ["chain_getFinalisedHead"],
        blocking
    )]
    fn finalized_head(&self) -> RpcResult<H256>;

    /// The block's own finality certificate: `null` for unknown blocks, genesis, and blocks
    /// finalized only through a descendant's certificate.
    #[method(name = "phala_getFinalityProof", blocking)]
    fn finality_proof(&self, hash: H256) -> RpcResult<Option<FinalityProofJson>>;

    /// Finalized headers: the head first, then each newly finalized block.
    #[subscription(
        name = "chain_subscribeNewHeads" => "chain_newHead",
        aliases = ["chain_subscribeNewHead", "subscribe_newHead"],
        unsubscribe = "chain_unsubscribeNewHeads",
        unsubscribe_aliases = ["chain_unsubscribeNewHead", "unsubscribe_newHead"],
        item = HeaderJson
    )]
    async fn subscribe_new_heads(&self) -> SubscriptionResult;

    /// The same stream: only finalized blocks are served.
    #[subscription(
        name = "chain_subscribeAllHeads" => "chain_allHead",
        unsubscribe = "chain_unsubscribeAllHeads",
        item = HeaderJson
    )]
    async fn subscribe_all_heads(&self) -> SubscriptionResult;

    #[subscription(
        name = "chain_subscribeFinalizedHeads" => "chain_finalizedHead",
        aliases = ["chain_subscribeFinalisedHeads"],
        unsubscribe = "chain_unsubscribeFinalizedHeads",
        unsubscribe_aliases = ["chain_unsubscribeFinalisedHeads"],
        item = HeaderJson
    )]
    async fn subscribe_finalized_heads(&self) -> SubscriptionResult;
}

/// `state_*`: storage, runtime calls, metadata and version at a finalized block. Listings are
/// paged or bounded; absent prefixes mean the empty prefix.
#[rpc(client, server)]
pub trait StateApi {
    /// Runtime API `name` (e.g. `Core_version`) with SCALE `bytes`; the SCALE answer.
    #[method(name = "state_call", aliases = ["state_callAt"], blocking)]
    fn call(&self, name: String, bytes: Bytes, at: Option<H256>) -> RpcResult<Bytes>;

    #[method(name = "state_getStorage", aliases = ["state_getStorageAt"], blocking)]
    fn storage(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<Bytes>>;

    #[method(name = "state_getStorageHash", aliases = ["state_getStorageHashAt"], blocking)]
    fn storage_hash(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<H256>>;

    #[method(name = "state_getStorageSize", aliases = ["state_getStorageSizeAt"], blocking)]
    fn storage_size(&self, key: Bytes, at: Option<H256>) -> RpcResult<Option<u64>>;

    /// Keys under `prefix` strictly after `start_key`, at most `count` of them.
    #[method(name = "state_getKeysPaged", aliases = ["state_getKeysPagedAt"], blocking)]
    fn keys_paged(
        &self,
        prefix: Option<Bytes>,
        count: Number<u32>,
        start_key: Option<Bytes>,
        at: Option<H256>,
    ) -> RpcResult<Vec<Bytes>>;

    #[method(name = "state_getKeys", blocking)]
    fn keys(&self, prefix: Option<Bytes>, at: Option<H256>) -> RpcResult<Vec<Bytes>>;

    #[method(name = "state_getPairs", blocking)]
    fn pairs(&self, prefix: Option<Bytes>, at: Option<H256>) -> RpcResult<Vec<(Bytes, Bytes)>>;

    #[method(name = "state_queryStorageAt", blocking)]
    fn query_storage_at(
        &self,
        keys: List<Bytes>,
        at: Option<H256>,
    ) -> RpcResult<Vec<StorageChangeSetJson>>;

    /// One change set with every key at `from_block`, then one per later block in which any
    /// of them changed, up to `to_block`.
    #[method(name = "state_queryStorage", blocking)]
    fn query_storage(
        &self,
        keys: List<Bytes>,
        from_block: H256,
        to_block: Option<H256>,
    ) -> RpcResult<Vec<StorageChangeSetJson>>;

    #[method(name = "state_getReadProof", blocking)]
    fn read_proof(&self, keys: List<Bytes>, at: Option<H256>) -> RpcResult<ReadProofJson>;

    /// The runtime's metadata (V14, SCALE).
    #[method(name = "state_getMetadata", blocking)]
    fn metadata(&self, at: Option<H256>) -> RpcResult<HexBytes>;

    #[method(
        name = "state_getRuntimeVersion",
        aliases = ["chain_getRuntimeVersion"],
        blocking
    )]
    fn runtime_version(&self, at: Option<H256>) -> RpcResult<RuntimeVersionJson>;

    #[subscription(
        name = "state_subscribeRuntimeVersion" => "state_runtimeVersion",
        aliases = ["chain_subscribeRuntimeVersion"],
        unsubscribe = "state_unsubscribeRuntimeVersion",
        unsubscribe_aliases = ["chain_unsubscribeRuntimeVersion"],
        item = RuntimeVersionJson
    )]
    async fn subscribe_runtime_version(&self) -> SubscriptionResult;

    /// The values of `keys` (every key, if absent) now, then whenever a finalized block
    /// changes one of them.
    #[subscription(
        name = "state_subscribeStorage" => "state_storage",
        unsubscribe = "state_unsubscribeStorage",
        item = StorageChangeSetJson
    )]
    async fn subscribe_storage(&self, keys: Option<List<Bytes>>) -> SubscriptionResult;
}

/// `author_*`: transaction submission and watching. A transaction the pool refuses is refused
/// in the call's own error (codes 1001–1016, as in Substrate), the watch included.
#[rpc(client, server)]
pub trait AuthorApi {
    /// The transaction's hash.
    #[method(name = "author_submitExtrinsic", blocking)]
    fn submit_extrinsic(&self, extrinsic: Bytes) -> RpcResult<H256>;

    #[method(name = "author_pendingExtrinsics", blocking)]
    fn pending_extrinsics(&self) -> RpcResult<Vec<Bytes>>;

    /// Statuses until a final one.
    #[subscription(
        name = "author_submitAndWatchExtrinsic" => "author_extrinsicUpdate",
        unsubscribe = "author_unwatchExtrinsic",
        item = TransactionStatus
    )]
    async fn submit_and_watch_extrinsic(&self, extrinsic: Bytes) -> SubscriptionResult;
}

/// `system_*`: node and chain identity, health, the next account nonce, and `rpc_methods`.
#[rpc(client, server)]
pub trait SystemApi {
    #[method(name = "system_chain")]
    fn chain(&self) -> RpcResult<String>;

    #[method(name = "system_name")]
    fn name(&self) -> RpcResult<String>;

    #[method(name = "system_version")]
    fn version(&self) -> RpcResult<String>;

    #[method(name = "system_properties")]
    fn properties(&self) -> RpcResult<Properties>;

    #[method(name = "system_chainType")]
    fn chain_type(&self) -> RpcResult<ChainTypeJson>;

    #[method(name = "system_health")]
    fn health(&self) -> RpcResult<HealthJson>;

    #[method(name = "system_nodeRoles")]
    fn node_roles(&self) -> RpcResult<Vec<NodeRoleJson>>;

    /// Always empty: peer details stay in the network layer.
    #[method(name = "system_peers")]
    fn peers(&self) -> RpcResult<Vec<serde_json::Value>>;

    #[method(name = "system_localPeerId")]
    fn local_peer_id(&self) -> RpcResult<String>;

    #[method(name = "system_syncState", blocking)]
    fn sync_state(&self) -> RpcResult<SyncStateJson>;

    /// The nonce `account`'s next transaction should use, counting pooled transactions.
    #[method(
        name = "system_accountNextIndex",
        aliases = ["account_nextIndex"],
        blocking
    )]
    fn account_next_index(&self, account: Account) -> RpcResult<u32>;

    /// Every method and alias served, this one included.
    #[method(name = "rpc_methods")]
    fn rpc_methods(&self) -> RpcResult<RpcMethodsJson>;
}

/// `payment_*`: fee estimates for a SCALE-encoded extrinsic (signature not checked).
#[rpc(client, server)]
pub trait PaymentApi {
    #[method(name = "payment_queryInfo", blocking)]
    fn query_info(&self, extrinsic: Bytes, at: Option<H256>) -> RpcResult<DispatchInfoJson>;

    #[method(name = "payment_queryFeeDetails", blocking)]
    fn query_fee_details(&self, extrinsic: Bytes, at: Option<H256>) -> RpcResult<FeeDetailsJson>;
}
