//! What a worker registers with: the facts its attestation quote vouches for.

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::{AccountId32, BlockNumber, H256};

/// Longest machine id accepted.
pub const MAX_MACHINE_ID_LEN: usize = 64;
/// Most feature flags accepted.
pub const MAX_FEATURES: usize = 16;

/// A worker's registration. The first 32 bytes of its quote's report data are
/// `blake2_256(SCALE(info))`, so the chain knows these keys and this operator came from
/// inside the attested TEE, and the genesis hash keeps a registration from being replayed on
/// another chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WorkerRegistrationInfo {
    /// Worker runtime version (`major << 16 | minor << 8 | patch`).
    pub version: u32,
    pub machine_id: Vec<u8>,
    /// The worker's sr25519 identity key: it signs every message the worker sends.
    pub pubkey: [u8; 32],
    /// The worker's x25519 key, for secrets sent to it.
    pub ecdh_pubkey: [u8; 32],
    pub genesis_hash: H256,
    /// Feature flags; the first is the number of CPU cores.
    pub features: Vec<u32>,
    /// The account that runs the worker and collects what it earns.
    pub operator: Option<AccountId32>,
    /// A block the worker has verified, recent when it attests: the chain accepts the
    /// registration only within a few blocks of it, so an old (info, quote) pair cannot be
    /// replayed to extend an attestation or bring back an earlier operator.
    pub recent_block: BlockNumber,
    pub recent_block_hash: H256,
}

impl WorkerRegistrationInfo {
    /// What the quote's report data must hold: the info's hash, then zeros.
    pub fn report_data(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let hash = sp_crypto_hashing::blake2_256(&self.encode());
        if let Some(head) = out.get_mut(..32) {
            head.copy_from_slice(&hash);
        }
        out
    }

    pub fn within_bounds(&self) -> bool {
        self.machine_id.len() <= MAX_MACHINE_ID_LEN && self.features.len() <= MAX_FEATURES
    }
}

/// Encodes a version as `major << 16 | minor << 8 | patch`.
pub const fn version(major: u8, minor: u8, patch: u8) -> u32 {
    u32::from_be_bytes([0, major, minor, patch])
}
