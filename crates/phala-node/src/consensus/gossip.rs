//! Transaction gossip: what local clients submit goes to every peer; what peers send is
//! validated into the pool. A peer that sends bytes that are not an extrinsic is blocked.

use std::sync::Arc;

use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use phala_chain::Chain;
use phala_primitives::OpaqueExtrinsic;
use tokio::sync::broadcast::error::RecvError;

pub async fn run<S, R, B>(chain: Arc<Chain>, mut sender: S, mut receiver: R, mut blocker: B)
where
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let mut local = chain.subscribe_transactions();
    loop {
        tokio::select! {
            announced = local.recv() => match announced {
                Ok(xt) => {
                    sender.send(Recipients::All, bytes::Bytes::from(xt.into_bytes()), false);
                }
                // Falling behind only means some transactions are not gossiped; they still
                // reach a block when this node leads.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            received = receiver.recv() => {
                let Ok((peer, message)) = received else { return };
                let bytes = message.as_ref().to_vec();
                if OpaqueExtrinsic::from_bytes(bytes.clone()).is_err() {
                    tracing::warn!(target: "p2p", ?peer, "blocking a peer that gossiped a malformed transaction");
                    blocker.block(peer);
                    continue;
                }
                // Invalid or already-known transactions are ordinary (races, stale nonces).
                let _ = chain.import_gossiped(bytes);
            }
        }
    }
}
