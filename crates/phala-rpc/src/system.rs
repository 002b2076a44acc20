//! `system_*`: node and chain identity, health, and the next account nonce.

use std::sync::atomic::Ordering;

use phala_chain::ChainType;

use crate::json::{HealthJson, SyncStateJson};
use crate::params;
use crate::{Ctx, Module, RpcError, errors, ok, register_blocking};

pub(crate) fn register(module: &mut Module) -> Result<(), RpcError> {
    module.register_method("system_chain", |_, ctx, _| ctx.chain.spec().name.clone())?;
    module.register_method("system_name", |_, ctx, _| ctx.node_name.clone())?;
    module.register_method("system_version", |_, ctx, _| ctx.node_version.clone())?;
    module.register_method("system_properties", |_, ctx, _| {
        ok(ctx.chain.spec().properties())
    })?;
    module.register_method("system_chainType", |_, ctx, _| {
        match ctx.chain.spec().chain_type {
            ChainType::Development => "Development",
            ChainType::Local => "Local",
            ChainType::Live => "Live",
        }
    })?;
    module.register_method("system_health", |_, ctx, _| ok(health(ctx)))?;
    module.register_method("system_nodeRoles", |_, ctx, _| {
        vec![if ctx.is_validator {
            "Authority"
        } else {
            "Full"
        }]
    })?;
    // Peer details live in the network layer, which does not expose them to RPC.
    module.register_method("system_peers", |_, _, _| Vec::<serde_json::Value>::new())?;
    module.register_method("system_localPeerId", |_, ctx, _| ctx.local_peer_id.clone())?;
    register_blocking(module, "system_syncState", |_, ctx| {
        let (n, _) = ctx.chain.finalized().map_err(errors::internal)?;
        // Finality is the only notion of "synced" here: the head is the highest known block.
        Ok(SyncStateJson {
            starting_block: 0,
            current_block: n,
            highest_block: n,
        })
    })?;
    register_blocking(module, "system_accountNextIndex", |args, ctx| {
        let who = args.required(0, "accountId", params::account)?;
        ctx.chain.account_next_index(&who).map_err(errors::internal)
    })?;
    module.register_alias("account_nextIndex", "system_accountNextIndex")?;
    Ok(())
}

fn health(ctx: &Ctx) -> HealthJson {
    let spec = ctx.chain.spec();
    HealthJson {
        peers: ctx.peers.load(Ordering::Relaxed),
        is_syncing: false,
        // A lone validator makes progress by itself; anyone else needs the network.
        should_have_peers: !ctx.is_validator || spec.validators.len() > 1,
    }
}
