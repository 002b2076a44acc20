//! Telling the p2p layer who to connect to in each epoch: the committee as primary peers
//! (dialed, blocks cached from them), everyone else allowed in as secondary peers.

use std::net::SocketAddr;

use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{Address, AddressableManager, AddressableTrackedPeers, Manager, TrackedPeers};
use commonware_utils::ordered::{Map, Set};

pub type Peer = (PublicKey, SocketAddr);

/// The one p2p call the orchestrator makes, over both the real (addressed) network and the
/// simulated one.
pub trait PeerTracker: Clone + Send + Sync + 'static {
    /// Peer-set ids follow epochs and must only increase.
    fn track(&mut self, epoch: u64, primary: &[Peer], secondary: &[Peer]);
}

/// The authenticated `lookup` network, which needs addresses.
#[derive(Clone, Debug)]
pub struct Addressed<M>(pub M);

fn map(peers: &[Peer]) -> Map<PublicKey, Address> {
    let mut entries: Vec<(PublicKey, Address)> = peers
        .iter()
        .map(|(k, a)| (k.clone(), Address::from(*a)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    Map::try_from(entries).unwrap_or_default()
}

impl<M: AddressableManager<PublicKey = PublicKey> + Sync> PeerTracker for Addressed<M> {
    fn track(&mut self, epoch: u64, primary: &[Peer], secondary: &[Peer]) {
        let _ = self.0.track(
            epoch,
            AddressableTrackedPeers::new(map(primary), map(secondary)),
        );
    }
}

/// A network that identifies peers by key only (the deterministic simulator).
#[derive(Clone, Debug)]
pub struct KeysOnly<M>(pub M);

impl<M: Manager<PublicKey = PublicKey> + Sync> PeerTracker for KeysOnly<M> {
    fn track(&mut self, epoch: u64, primary: &[Peer], secondary: &[Peer]) {
        let keys = |peers: &[Peer]| Set::from_iter_dedup(peers.iter().map(|(k, _)| k.clone()));
        let _ = self
            .0
            .track(epoch, TrackedPeers::new(keys(primary), keys(secondary)));
    }
}
