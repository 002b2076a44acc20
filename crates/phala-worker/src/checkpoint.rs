//! The core's state, sealed, written atomically: a worker killed at any point restarts from
//! the last complete checkpoint and re-verifies what came after it.

use std::path::Path;

use parity_scale_codec::{Decode, Encode};
use phala_tee::seal::Sealer;
use phala_tee::{Platform, TeeError, write_private_atomic};

use crate::core::CoreState;

pub const CHECKPOINT_FILE: &str = "checkpoint.sealed";
const PURPOSE: &str = "worker-checkpoint/v1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Tee(#[from] TeeError),
    #[error(
        "the checkpoint does not decode ({0}); a checkpoint from an older worker version \
         cannot be read: move it away and start again (with --trusted-checkpoint on a \
         pruning node)"
    )]
    Corrupt(String),
}

pub fn save(
    platform: &dyn Platform,
    sealer: &Sealer,
    dir: &Path,
    state: &CoreState,
) -> Result<(), CheckpointError> {
    // The state holds master, cluster and query keys: wipe the plaintext after sealing.
    let plain = zeroize::Zeroizing::new(state.encode());
    let sealed = sealer.seal(platform, PURPOSE, &plain)?;
    write_private_atomic(&dir.join(CHECKPOINT_FILE), &sealed)?;
    Ok(())
}

/// The last checkpoint, if any.
pub fn load(sealer: &Sealer, dir: &Path) -> Result<Option<CoreState>, CheckpointError> {
    let path = dir.join(CHECKPOINT_FILE);
    let sealed = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CheckpointError::Tee(TeeError::Io {
                what: format!("read {}", path.display()),
                source: e,
            }));
        }
    };
    let plain = sealer.unseal(PURPOSE, &sealed)?;
    CoreState::decode(&mut plain.as_slice())
        .map(Some)
        .map_err(|e| CheckpointError::Corrupt(e.to_string()))
}
