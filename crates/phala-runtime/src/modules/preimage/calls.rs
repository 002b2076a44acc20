use parity_scale_codec::{Decode, Encode};
use phala_primitives::H256;
use scale_info::TypeInfo;

use super::{Error, MAX_HASH_UPGRADE, note, request, unnote, unrequest};
use crate::Ext;
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::weights;

/// Calls of the `Preimage` module (`pallet_preimage::Call`).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Store `bytes` under their hash. A signed note holds a deposit until unnoted; root's
    /// is free and counts as a request.
    #[codec(index = 0)]
    note_preimage { bytes: Vec<u8> },
    /// Remove a note and return its deposit (its owner, or root).
    #[codec(index = 1)]
    unnote_preimage { hash: H256 },
    /// Keep the preimage of `hash` (root): a later note of it is free.
    #[codec(index = 2)]
    request_preimage { hash: H256 },
    /// Withdraw a request (root).
    #[codec(index = 3)]
    unrequest_preimage { hash: H256 },
    /// Move notes of the old layout to the new one. Nothing here has the old layout, so
    /// this only checks its argument.
    #[codec(index = 4)]
    ensure_updated { hashes: Vec<H256> },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            // Hashing and storing the bytes: the length fee prices the bytes themselves.
            Call::note_preimage { bytes } => weights::add(
                weights::reads_writes(2, 3),
                weights::compute(
                    u64::try_from(bytes.len())
                        .unwrap_or(u64::MAX)
                        .saturating_mul(2_000),
                ),
            ),
            Call::unnote_preimage { .. }
            | Call::request_preimage { .. }
            | Call::unrequest_preimage { .. } => weights::reads_writes(2, 3),
            Call::ensure_updated { hashes } => {
                weights::reads_writes(u64::try_from(hashes.len()).unwrap_or(u64::MAX), 0)
            }
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::note_preimage { bytes } => {
                let who = origin.ensure_signed_or_root()?;
                note(ext, bytes, who).map(|_| ())
            }
            Call::unnote_preimage { hash } => {
                let who = origin.ensure_signed_or_root()?;
                unnote(ext, hash, who)
            }
            Call::request_preimage { hash } => {
                origin.ensure_root()?;
                request(ext, hash);
                Ok(())
            }
            Call::unrequest_preimage { hash } => {
                origin.ensure_root()?;
                unrequest(ext, hash)
            }
            Call::ensure_updated { hashes } => {
                origin.ensure_signed()?;
                if hashes.is_empty() {
                    return Err(Error::TooFew.into());
                }
                if hashes.len() > MAX_HASH_UPGRADE {
                    return Err(Error::TooMany.into());
                }
                Ok(())
            }
        }
    }
}
