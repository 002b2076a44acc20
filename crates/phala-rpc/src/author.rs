//! `author_*`: transaction submission and watching.
//!
//! A transaction the pool refuses is refused in the call's own error (codes 1001–1016, as in
//! Substrate), including for `submitAndWatch`: clients then see the reason instead of a bare
//! `"invalid"` notification. An accepted watch answers with the subscription id before any
//! status, because subxt drops notifications that precede it.

use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use phala_chain::TxStatus;
use phala_primitives::crypto::encode_hex;
use tokio::sync::mpsc;

use crate::json::tx_status;
use crate::params::{self, Args};
use crate::subscriptions::send_json;
use crate::{Module, RpcError, blocking, errors, register_blocking};

pub(crate) fn register(module: &mut Module) -> Result<(), RpcError> {
    register_blocking(module, "author_submitExtrinsic", |args, ctx| {
        let bytes = args.required(0, "extrinsic", params::bytes)?;
        ctx.chain.submit(bytes).map_err(errors::from_submit)
    })?;
    register_blocking(module, "author_pendingExtrinsics", |_, ctx| {
        Ok(ctx
            .chain
            .pending_extrinsics()
            .iter()
            .map(|x| encode_hex(x.as_bytes()))
            .collect::<Vec<_>>())
    })?;
    module.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |params, pending, ctx, _| async move {
            let chain = ctx.chain.clone();
            let submitted = match parse_extrinsic(&params) {
                Ok(bytes) => {
                    blocking(move || chain.submit_and_watch(bytes).map_err(errors::from_submit))
                        .await
                }
                Err(e) => Err(e),
            };
            match submitted {
                Ok((hash, statuses)) => {
                    tracing::debug!(target: "rpc", %hash, "watching transaction");
                    watch(pending, statuses).await
                }
                Err(e) => pending.reject(e).await,
            }
        },
    )?;
    Ok(())
}

fn parse_extrinsic(params: &Params<'_>) -> Result<Vec<u8>, ErrorObjectOwned> {
    Args::parse(params)?.required(0, "extrinsic", params::bytes)
}

/// Forwards pool statuses until a final one, an unwatch, or a disconnect.
async fn watch(pending: PendingSubscriptionSink, mut statuses: mpsc::UnboundedReceiver<TxStatus>) {
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        let status = tokio::select! {
            _ = sink.closed() => return,
            status = statuses.recv() => status,
        };
        // `None`: the chain itself is gone (node shutting down).
        let Some(status) = status else { return };
        if send_json(&sink, &tx_status(&status)).await.is_err() || status.is_final() {
            return;
        }
    }
}
