//! Transaction gossip: what local clients submit goes to every peer; what peers send is
//! validated into the pool. A peer that sends bytes that are not a batch of extrinsics is
//! blocked.
//!
//! Transactions travel in batches (a SCALE `Vec<Vec<u8>>`): under load, one message per
//! transaction would exceed the per-peer message quota and overrun the local announcement
//! channel, and a transaction that is not gossiped waits until the node it reached leads.

use std::sync::Arc;
use std::time::Duration;

use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use parity_scale_codec::{Compact, Decode, Encode};
use phala_chain::Chain;
use phala_primitives::OpaqueExtrinsic;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// A batch stops growing at this many bytes (one transaction may still exceed it alone; the
/// p2p message limit admits any single valid transaction).
const BATCH_BYTES: usize = 512 * 1024;
/// How long the first transaction of a batch waits for company (against a block time of
/// a second).
const LINGER: Duration = Duration::from_millis(20);
/// Most transactions in one batch, so a receiver's work per message stays bounded.
pub const MAX_BATCH: usize = 2048;

/// Encodes transactions as one gossip message.
pub fn encode_batch(batch: &[Vec<u8>]) -> Vec<u8> {
    batch.encode()
}

/// Decodes a gossip message: a non-empty SCALE list of at most [`MAX_BATCH`] extrinsics,
/// with nothing after it.
pub fn decode_batch(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let input = &mut bytes;
    let Compact(count) = Compact::<u32>::decode(input).ok()?;
    let count = usize::try_from(count).ok()?;
    if count == 0 || count > MAX_BATCH {
        return None;
    }
    let mut batch = Vec::with_capacity(count);
    for _ in 0..count {
        let xt = Vec::<u8>::decode(input).ok()?;
        batch.push(OpaqueExtrinsic::from_bytes(xt).ok()?.into_bytes());
    }
    input.is_empty().then_some(batch)
}

pub async fn run<E, S, R, B>(
    clock: E,
    chain: Arc<Chain>,
    mut sender: S,
    mut receiver: R,
    mut blocker: B,
) where
    E: Clock,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let mut local = chain.subscribe_transactions();
    loop {
        tokio::select! {
            // In order, not at random: the same seed must give the same run.
            biased;
            announced = local.recv() => {
                let first = match announced {
                    Ok(xt) => xt,
                    // Falling behind only means some transactions are not gossiped; they
                    // still reach a block when this node leads.
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(target: "p2p", missed, "transaction gossip fell behind; these reach a block only when this node leads");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                // What arrives shortly after goes in the same message: clients submitting
                // thousands per second would otherwise make as many messages, past the
                // per-peer quota.
                clock.sleep(LINGER).await;
                let mut size = first.as_bytes().len();
                let mut batch = vec![first.into_bytes()];
                while size < BATCH_BYTES && batch.len() < MAX_BATCH {
                    match local.try_recv() {
                        Ok(xt) => {
                            size = size.saturating_add(xt.as_bytes().len());
                            batch.push(xt.into_bytes());
                        }
                        Err(TryRecvError::Lagged(missed)) => {
                            tracing::warn!(target: "p2p", missed, "transaction gossip fell behind; these reach a block only when this node leads");
                        }
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                sender.send(Recipients::All, bytes::Bytes::from(encode_batch(&batch)), false);
            }
            received = receiver.recv() => {
                let Ok((peer, message)) = received else { return };
                let Some(batch) = decode_batch(message.as_ref()) else {
                    tracing::warn!(target: "p2p", ?peer, "blocking a peer that gossiped a malformed transaction batch");
                    blocker.block(peer);
                    continue;
                };
                for xt in batch {
                    // Invalid or already-known transactions are ordinary (races, stale
                    // nonces).
                    let _ = chain.import_gossiped(xt);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_garbage_is_refused() {
        // The envelope gossip checks: a compact length prefix covering exactly the rest.
        let xt = vec![0x0c, 0x04, 0x00, 0x00];
        let batch = vec![xt.clone(), xt.clone()];
        assert_eq!(decode_batch(&encode_batch(&batch)), Some(batch.clone()));
        let mut trailing = encode_batch(&batch);
        trailing.push(0);
        assert_eq!(decode_batch(&trailing), None);
        // An element whose own prefix is wrong spoils the batch.
        assert_eq!(decode_batch(&encode_batch(&[vec![0x10, 0x04]])), None);
        assert_eq!(decode_batch(&[]), None);
        assert_eq!(decode_batch(&encode_batch(&[])), None);
        assert_eq!(decode_batch(&[0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(decode_batch(&[0x04, 0x08, 0x01]), None);
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_batch(&bytes);
        }
    }
}
