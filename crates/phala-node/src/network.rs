//! Authenticated p2p between validators (Commonware `lookup`: every peer's key and address
//! are known from the chain spec).

use std::net::SocketAddr;
use std::time::Duration;

use commonware_cryptography::ChaCha20Poly1305;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address, AddressableManager as _};
use commonware_runtime::{Handle, Quota, tokio as cw_tokio};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::{Map, Set};
use commonware_utils::{NZU32, NZUsize};

use crate::NodeError;
use crate::consensus::engine::{
    BACKFILL_CHANNEL, BROADCAST_CHANNEL, CERT_CHANNEL, RESOLVER_CHANNEL, VOTE_CHANNEL,
    max_message_size,
};

type Channel = (
    lookup::Sender<PublicKey, cw_tokio::Context>,
    lookup::Receiver<PublicKey>,
);

pub struct P2p {
    pub oracle: lookup::Oracle<PublicKey>,
    pub vote: Channel,
    pub cert: Channel,
    pub resolver: Channel,
    pub backfill: Channel,
    pub broadcast: Channel,
    pub handle: Handle<()>,
}

pub fn start(
    context: cw_tokio::Context,
    signer: &PrivateKey,
    namespace: &[u8],
    listen: SocketAddr,
    members: &[(PublicKey, SocketAddr)],
    participants: &Set<PublicKey>,
) -> Result<P2p, NodeError> {
    let me = commonware_cryptography::Signer::public_key(signer);
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: signer.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let size = u32::try_from(participants.len()).unwrap_or(u32::MAX);
    let mut config = lookup::Config::recommended(
        handshake,
        &[namespace, b"_P2P"].concat(),
        listen,
        commonware_p2p::authenticated::peer_set_limit(participants.iter(), &me),
        max_message_size(size),
        NZUsize!(1024),
    );
    // Validators of a test or private network sit on loopback and private addresses.
    config.allow_private_ips = true;
    config.peer_connection_cooldown = Duration::from_secs(5);
    let (mut network, mut oracle) = lookup::Network::new(context, config);
    let peers: Map<PublicKey, Address> = members
        .iter()
        .map(|(k, a)| (k.clone(), Address::from(*a)))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| NodeError::Config("duplicate validator keys in the chain spec".into()))?;
    // Peer-set ids follow epochs; the validator set is fixed, so there is only epoch 0.
    let _ = oracle.track(0, peers);
    // Generous per-peer quotas: a validator is expected to send many votes and blocks.
    let quota = Quota::per_second(NZU32!(1024));
    let vote = network.register(VOTE_CHANNEL, quota);
    let cert = network.register(CERT_CHANNEL, quota);
    let resolver = network.register(RESOLVER_CHANNEL, quota);
    let backfill = network.register(BACKFILL_CHANNEL, quota);
    let broadcast = network.register(BROADCAST_CHANNEL, quota);
    let handle = network.start();
    Ok(P2p {
        oracle,
        vote,
        cert,
        resolver,
        backfill,
        broadcast,
        handle,
    })
}
