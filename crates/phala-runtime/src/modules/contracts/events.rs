use parity_scale_codec::{Decode, Encode};
use phala_primitives::H256;
use scale_info::TypeInfo;

/// Events of the `Contracts` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A cluster was created; its key follows from the gatekeepers.
    #[codec(index = 0)]
    ClusterCreated {
        cluster: H256,
        workers: Vec<[u8; 32]>,
    },
    /// The gatekeepers delivered a cluster's key to its workers.
    #[codec(index = 1)]
    ClusterKeyPublished {
        cluster: H256,
        pubkey: [u8; 32],
        ecdh_pubkey: [u8; 32],
    },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Contracts(e)
    }
}
