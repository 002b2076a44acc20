//! Head, storage and runtime-version subscriptions, all driven by the chain's broadcast of
//! finalized blocks.
//!
//! Each subscription subscribes to the broadcast *before* reading the current state, then skips
//! blocks at or below what it already sent: a block finalized in between is neither lost nor
//! sent twice. Every initial notification goes out only after the subscription id (subxt drops
//! notifications that arrive before it).

use std::collections::BTreeSet;
use std::sync::Arc;

use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionSink};
use phala_chain::{Chain, Finalized};
use phala_primitives::{BlockNumber, Header};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use phala_rpc_api::{HeaderJson, RuntimeVersionJson, StorageChangeSetJson};

use crate::state::read_keys;
use crate::{RpcResult, blocking, errors};

/// Most headers sent to catch a lagging head subscriber up; beyond that it must re-sync by
/// itself (subxt fills gaps with `chain_getBlockHash`/`chain_getHeader`).
const MAX_CATCH_UP: BlockNumber = 1024;

/// The subscription went away (unsubscribed or disconnected).
pub(crate) struct Closed;

pub(crate) async fn send_json<T: Serialize>(
    sink: &SubscriptionSink,
    value: &T,
) -> Result<(), Closed> {
    let raw = serde_json::value::to_raw_value(value).map_err(|e| {
        tracing::warn!(target: "rpc", "cannot serialize a notification: {e}");
        Closed
    })?;
    sink.send(raw).await.map_err(|_| Closed)
}

/// `state_subscribeRuntimeVersion`: the version in force at the finalized head, then each
/// new one as upgrades take effect (clients re-read metadata and sign with it).
pub(crate) async fn runtime_version(
    pending: PendingSubscriptionSink,
    chain: Arc<Chain>,
) -> SubscriptionResult {
    let mut finalized = chain.subscribe_finalized();
    let reader = chain.clone();
    let current =
        match blocking(move || reader.runtime_version(None).map_err(errors::chain_client)).await {
            Ok(v) => v,
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
    let Ok(sink) = pending.accept().await else {
        return Ok(());
    };
    if send_json(&sink, &RuntimeVersionJson::from(&current))
        .await
        .is_err()
    {
        return Ok(());
    }
    let mut last = current.spec_version;
    loop {
        let at = match next_event(&sink, &mut finalized).await {
            Event::Closed => return Ok(()),
            Event::Block(f) => Some(f.hash),
            Event::Lagged => None,
        };
        let reader = chain.clone();
        let Ok(version) =
            blocking(move || reader.runtime_version(at).map_err(errors::chain_client)).await
        else {
            continue;
        };
        if version.spec_version != last {
            last = version.spec_version;
            if send_json(&sink, &RuntimeVersionJson::from(&version))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
}

/// Finalized headers numbered `after + 1 ..= up_to` (at most [`MAX_CATCH_UP`] of the newest).
fn headers_between(
    chain: &Chain,
    after: BlockNumber,
    up_to: BlockNumber,
) -> RpcResult<Vec<Header>> {
    let first = after
        .saturating_add(1)
        .max(up_to.saturating_sub(MAX_CATCH_UP.saturating_sub(1)));
    let mut headers = Vec::new();
    for n in first..=up_to {
        match chain
            .store()
            .block_by_number(n)
            .map_err(errors::chain_client)?
        {
            Some(block) => headers.push(block.header),
            None => break,
        }
    }
    Ok(headers)
}

/// What a subscriber missed when it fell behind the broadcast.
async fn catch_up(chain: &Arc<Chain>, after: BlockNumber) -> RpcResult<Vec<Header>> {
    let chain = chain.clone();
    blocking(move || {
        let (head, _) = chain.finalized().map_err(errors::chain_client)?;
        headers_between(&chain, after, head)
    })
    .await
}

/// Every head subscription: the finalized head, then each newly finalized header.
pub(crate) async fn follow_heads(
    pending: PendingSubscriptionSink,
    chain: Arc<Chain>,
) -> SubscriptionResult {
    follow_heads_inner(pending, chain).await;
    Ok(())
}

async fn follow_heads_inner(pending: PendingSubscriptionSink, chain: Arc<Chain>) {
    let mut finalized = chain.subscribe_finalized();
    let reader = chain.clone();
    let head = match blocking(move || reader.finalized_header().map_err(errors::chain_client)).await
    {
        Ok(head) => head,
        Err(e) => return pending.reject(e).await,
    };
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let mut last = head.number;
    if send_json(&sink, &HeaderJson::from(&head)).await.is_err() {
        return;
    }
    loop {
        let headers = match next_event(&sink, &mut finalized).await {
            Event::Closed => return,
            Event::Block(f) => vec![f.block.header.clone()],
            Event::Lagged => match catch_up(&chain, last).await {
                Ok(headers) => headers,
                Err(e) => {
                    tracing::warn!(target: "rpc", "head subscription cannot catch up: {}", e.message());
                    return;
                }
            },
        };
        for header in headers {
            if header.number <= last {
                continue;
            }
            if send_json(&sink, &HeaderJson::from(&header)).await.is_err() {
                return;
            }
            last = header.number;
        }
    }
}

enum Event {
    Block(Arc<Finalized>),
    /// The subscriber fell more than the broadcast's capacity behind.
    Lagged,
    Closed,
}

async fn next_event(
    sink: &SubscriptionSink,
    rx: &mut broadcast::Receiver<Arc<Finalized>>,
) -> Event {
    tokio::select! {
        _ = sink.closed() => Event::Closed,
        event = rx.recv() => match event {
            Ok(f) => Event::Block(f),
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(target: "rpc", missed, "subscriber lagged behind finalized blocks");
                Event::Lagged
            }
            Err(RecvError::Closed) => Event::Closed,
        },
    }
}

/// Values of `keys` at the finalized head, with its number.
async fn read_head(
    chain: &Arc<Chain>,
    keys: &Arc<Vec<Vec<u8>>>,
) -> RpcResult<(BlockNumber, StorageChangeSetJson)> {
    let (chain, keys) = (chain.clone(), keys.clone());
    blocking(move || {
        let view = chain.view(None).map_err(errors::from_chain)?;
        let values = read_keys(&view, &keys)?;
        let set = StorageChangeSetJson::new(
            view.block_hash(),
            keys.iter()
                .zip(&values)
                .map(|(k, v)| (k.as_slice(), v.as_deref())),
        );
        Ok((view.number(), set))
    })
    .await
}

/// `state_subscribeStorage`: with keys, every key's current value first, then the keys a
/// finalized block wrote; without keys, everything each block wrote.
pub(crate) async fn follow_storage(
    keys: Option<Vec<Vec<u8>>>,
    pending: PendingSubscriptionSink,
    chain: Arc<Chain>,
) -> SubscriptionResult {
    let mut finalized = chain.subscribe_finalized();
    let Some(keys) = keys else {
        return follow_all_storage(pending, chain, finalized).await;
    };
    // Duplicates would only repeat entries; order is kept for the initial change set.
    let mut seen = BTreeSet::new();
    let keys: Arc<Vec<Vec<u8>>> = Arc::new(
        keys.into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect(),
    );
    let (mut last, initial) = match read_head(&chain, &keys).await {
        Ok(head) => head,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let Ok(sink) = pending.accept().await else {
        return Ok(());
    };
    if send_json(&sink, &initial).await.is_err() {
        return Ok(());
    }
    loop {
        let set = match next_event(&sink, &mut finalized).await {
            Event::Closed => return Ok(()),
            Event::Block(f) if f.block.header.number <= last => continue,
            Event::Block(f) => {
                last = f.block.header.number;
                changed_keys(&f, &keys)
            }
            // Missed blocks may have changed anything: resend every value.
            Event::Lagged => {
                let (number, set) = read_head(&chain, &keys)
                    .await
                    .map_err(|e| e.message().to_string())?;
                last = number;
                Some(set)
            }
        };
        if let Some(set) = set
            && send_json(&sink, &set).await.is_err()
        {
            return Ok(());
        }
    }
}

/// The requested keys a block wrote, or `None` if it wrote none of them.
fn changed_keys(f: &Finalized, keys: &[Vec<u8>]) -> Option<StorageChangeSetJson> {
    let changes: Vec<(&[u8], Option<&[u8]>)> = keys
        .iter()
        .filter_map(|k| f.changes.get(k).map(|v| (k.as_slice(), v.as_deref())))
        .collect();
    (!changes.is_empty()).then(|| StorageChangeSetJson::new(f.hash, changes))
}

/// Subscription to every key: like Substrate, no initial set (it would be the whole state).
async fn follow_all_storage(
    pending: PendingSubscriptionSink,
    chain: Arc<Chain>,
    mut finalized: broadcast::Receiver<Arc<Finalized>>,
) -> SubscriptionResult {
    let reader = chain.clone();
    let mut last = match blocking(move || reader.finalized().map_err(errors::chain_client)).await {
        Ok((number, _)) => number,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let Ok(sink) = pending.accept().await else {
        return Ok(());
    };
    loop {
        match next_event(&sink, &mut finalized).await {
            Event::Closed => return Ok(()),
            Event::Block(f) if f.block.header.number <= last => {}
            Event::Block(f) => {
                last = f.block.header.number;
                if f.changes.is_empty() {
                    continue;
                }
                let set = StorageChangeSetJson::new(
                    f.hash,
                    f.changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
                );
                if send_json(&sink, &set).await.is_err() {
                    return Ok(());
                }
            }
            // Past changes are not kept, so a gap cannot be filled: end the subscription
            // with an error rather than let the subscriber believe it saw every change.
            Event::Lagged => {
                return Err(
                    "subscriber fell behind and missed storage changes; resubscribe".into(),
                );
            }
        }
    }
}
