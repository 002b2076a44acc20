//! Authenticated p2p between validators (Commonware `lookup`: every peer's key and address
//! come from the chain — the committee and the candidates of each epoch).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use commonware_cryptography::ChaCha20Poly1305;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_p2p::authenticated::lookup;
use commonware_runtime::{Handle, Quota, tokio as cw_tokio};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::{NZU32, NZUsize};

use crate::NodeError;
use crate::consensus::engine::{
    BACKFILL_CHANNEL, BROADCAST_CHANNEL, CERT_CHANNEL, Channels, RESOLVER_CHANNEL, TX_CHANNEL,
    VOTE_CHANNEL, max_message_size,
};

type Sender = lookup::Sender<PublicKey, cw_tokio::Context>;
type Receiver = lookup::Receiver<PublicKey>;

pub struct P2p {
    pub oracle: lookup::Oracle<PublicKey>,
    pub channels: Channels<Sender, Receiver>,
    pub handle: Handle<()>,
}

/// Room for secondary peers (candidates outside the committee, admitted full nodes) beside
/// the committee itself.
const FOLLOWER_SLOTS: usize = 64;

/// Admitted full nodes, leaving the rest of the slots to candidates.
pub const MAX_FOLLOWERS: usize = 32;

pub fn start(
    context: cw_tokio::Context,
    signer: &PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    max_committee: u32,
) -> Result<P2p, NodeError> {
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: signer.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let peers_per_set = (max_committee as usize)
        .saturating_add(FOLLOWER_SLOTS)
        .saturating_add(1);
    let mut config = lookup::Config::recommended(
        handshake,
        &[namespace, b"_P2P"].concat(),
        listen,
        NonZeroUsize::new(peers_per_set).unwrap_or(NZUsize!(1)),
        max_message_size(max_committee),
        NZUsize!(1024),
    );
    // Validators of a test or private network sit on loopback and private addresses.
    config.allow_private_ips = true;
    config.peer_connection_cooldown = Duration::from_secs(5);
    // Old committees stay connected while a new epoch starts.
    config.tracked_peer_sets = NZUsize!(3);
    let (mut network, oracle) = lookup::Network::new(context, config);
    // Per-peer quotas. Commonware sizes each channel's mailbox as quota × peers up front, so
    // these are what a peer may really need, not round numbers: at 1024/s on every channel
    // an idle node held ~650 MB of empty mailboxes. A view costs a few votes and
    // certificates; catching up asks for 64 heights at once; transactions travel in batches.
    let channels = Channels {
        vote: network.register(VOTE_CHANNEL, Quota::per_second(NZU32!(256))),
        cert: network.register(CERT_CHANNEL, Quota::per_second(NZU32!(256))),
        resolver: network.register(RESOLVER_CHANNEL, Quota::per_second(NZU32!(256))),
        backfill: network.register(BACKFILL_CHANNEL, Quota::per_second(NZU32!(256))),
        broadcast: network.register(BROADCAST_CHANNEL, Quota::per_second(NZU32!(64))),
        transactions: network.register(TX_CHANNEL, Quota::per_second(NZU32!(128))),
    };
    let handle = network.start();
    Ok(P2p {
        oracle,
        channels,
        handle,
    })
}
