//! What the core's unit tests share: a genesis header and a worker following it.

use parity_scale_codec::Encode;
use phala_light_client::LightClient;
use phala_primitives::consensus::CommitteeChange;
use phala_primitives::{DigestItem, H256, Header};

use crate::core::WorkerCore;
use crate::keys::WorkerKeys;

/// A genesis header (one validator, Alice) whose state root is `seed` repeated.
pub fn genesis(seed: u8) -> Header {
    let change = CommitteeChange {
        epoch: 0,
        keys: vec![
            phala_keys::Ed25519Pair::from_uri("//Alice")
                .unwrap()
                .public(),
        ],
    };
    Header {
        parent_hash: H256::zero(),
        number: 0,
        state_root: H256([seed; 32]),
        extrinsics_root: H256::zero(),
        digest: vec![
            DigestItem::Consensus(*b"phcs", (1000u64, 10u32).encode()),
            change.digest_item(),
        ],
    }
}

/// A new worker on [`genesis`]`(1)`, with keys of a simulated TEE in `dir`.
pub fn worker(dir: &std::path::Path) -> WorkerCore {
    let platform = phala_tee::simulated::Simulated::open(dir).unwrap();
    let keys = WorkerKeys::generate(&platform).unwrap();
    WorkerCore::new(keys, LightClient::from_genesis(&genesis(1)).unwrap())
}
