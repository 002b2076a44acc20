//! `system_*`: node and chain identity, health, the next account nonce, and `rpc_methods`.

use std::sync::atomic::Ordering;

use phala_chain::ChainType;
use phala_rpc_api::{
    Account, ChainTypeJson, HealthJson, NodeRoleJson, Properties, RpcMethodsJson, SyncStateJson,
    SystemApiServer,
};

use crate::{Api, RpcResult, errors};

impl SystemApiServer for Api {
    fn chain(&self) -> RpcResult<String> {
        Ok(self.chain.spec().name.clone())
    }

    fn name(&self) -> RpcResult<String> {
        Ok(self.node_name.clone())
    }

    fn version(&self) -> RpcResult<String> {
        Ok(self.node_version.clone())
    }

    fn properties(&self) -> RpcResult<Properties> {
        Ok(self.chain.spec().properties())
    }

    fn chain_type(&self) -> RpcResult<ChainTypeJson> {
        Ok(match self.chain.spec().chain_type {
            ChainType::Development => ChainTypeJson::Development,
            ChainType::Local => ChainTypeJson::Local,
            ChainType::Live => ChainTypeJson::Live,
        })
    }

    fn health(&self) -> RpcResult<HealthJson> {
        let spec = self.chain.spec();
        Ok(HealthJson {
            peers: self.peers.load(Ordering::Relaxed),
            is_syncing: false,
            // A lone validator makes progress by itself; anyone else needs the network.
            should_have_peers: !self.is_validator || spec.validators.len() > 1,
        })
    }

    fn node_roles(&self) -> RpcResult<Vec<NodeRoleJson>> {
        Ok(vec![if self.is_validator {
            NodeRoleJson::Authority
        } else {
            NodeRoleJson::Full
        }])
    }

    fn peers(&self) -> RpcResult<Vec<serde_json::Value>> {
        // Peer details live in the network layer, which does not expose them to RPC.
        Ok(Vec::new())
    }

    fn local_peer_id(&self) -> RpcResult<String> {
        Ok(self.local_peer_id.clone())
    }

    fn sync_state(&self) -> RpcResult<SyncStateJson> {
        let (n, _) = self.chain.finalized().map_err(errors::internal)?;
        // Finality is the only notion of "synced" here: the head is the highest known block.
        Ok(SyncStateJson {
            starting_block: 0,
            current_block: n,
            highest_block: n,
        })
    }

    fn account_next_index(&self, account: Account) -> RpcResult<u32> {
        self.chain
            .account_next_index(&account.0)
            .map_err(errors::internal)
    }

    fn rpc_methods(&self) -> RpcResult<RpcMethodsJson> {
        Ok(RpcMethodsJson {
            version: 1,
            methods: self.methods.get().cloned().unwrap_or_default(),
        })
    }
}
