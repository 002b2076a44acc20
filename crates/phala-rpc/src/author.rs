//! `author_*`: transaction submission and watching.
//!
//! A transaction the pool refuses is refused in the call's own error (codes 1001–1016, as in
//! Substrate), including for `submitAndWatch`: clients then see the reason instead of a bare
//! `"invalid"` notification. An accepted watch answers with the subscription id before any
//! status, because subxt drops notifications that precede it.

use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use phala_chain::TxStatus;
use phala_primitives::H256;
use phala_rpc_api::{AuthorApiServer, Bytes, TransactionStatus};
use tokio::sync::mpsc;

use crate::subscriptions::send_json;
use crate::{Api, RpcResult, blocking, errors};

#[async_trait]
impl AuthorApiServer for Api {
    fn submit_extrinsic(&self, extrinsic: Bytes) -> RpcResult<H256> {
        self.chain.submit(extrinsic.0).map_err(errors::from_submit)
    }

    fn pending_extrinsics(&self) -> RpcResult<Vec<Bytes>> {
        Ok(self
            .chain
            .pending_extrinsics()
            .iter()
            .map(|x| Bytes(x.as_bytes().to_vec()))
            .collect())
    }

    async fn submit_and_watch_extrinsic(
        &self,
        pending: PendingSubscriptionSink,
        extrinsic: Bytes,
    ) -> SubscriptionResult {
        let chain = self.chain.clone();
        let submitted = blocking(move || {
            chain
                .submit_and_watch(extrinsic.0)
                .map_err(errors::from_submit)
        })
        .await;
        match submitted {
            Ok((hash, statuses)) => {
                tracing::debug!(target: "rpc", %hash, "watching transaction");
                watch(pending, statuses).await
            }
            Err(e) => pending.reject(e).await,
        }
        Ok(())
    }
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
        if send_json(&sink, &transaction_status(&status))
            .await
            .is_err()
            || status.is_final()
        {
            return;
        }
    }
}

/// The pool's status as `author_extrinsicUpdate` sends it.
fn transaction_status(status: &TxStatus) -> TransactionStatus {
    match status {
        TxStatus::Future => TransactionStatus::Future,
        TxStatus::Ready => TransactionStatus::Ready,
        TxStatus::InBlock(h) => TransactionStatus::InBlock(*h),
        TxStatus::Finalized(h) => TransactionStatus::Finalized(*h),
        TxStatus::Usurped(h) => TransactionStatus::Usurped(*h),
        TxStatus::Dropped => TransactionStatus::Dropped,
        TxStatus::Invalid => TransactionStatus::Invalid,
    }
}
