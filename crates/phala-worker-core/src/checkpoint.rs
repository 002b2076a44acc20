//! The worker's sealed state: its keys and the core's state (the light client's verified
//! position with the genesis it trusts, master and cluster keys, contracts) in one sealed
//! file, written atomically. A worker killed at any point restarts from the last complete
//! checkpoint and re-verifies what came after it.
//!
//! Keys and position are one sealed unit on purpose. Keys are created for one chain (the
//! genesis their light client starts from) and exist nowhere else: a deleted checkpoint
//! takes the keys with it, and a checkpoint from another worker or another chain brings its
//! own keys, never this worker's. So nobody outside the TEE can point a worker's keys at a
//! chain of their choosing (which would let them feed it forged key events). What sealing
//! cannot stop is an older copy of this same file put back (rollback): that needs a
//! hardware monotonic counter, see the threat model in ARCHITECTURE.md.

use std::path::Path;

use parity_scale_codec::{Decode, DecodeAll, Encode};
use phala_tee::seal::Sealer;
use phala_tee::{Platform, TeeError, write_private_atomic};

use crate::core::CoreState;
use crate::keys::{KeySecrets, WorkerKeys};

pub const CHECKPOINT_FILE: &str = "worker.sealed";
/// The sealing purpose of [`CHECKPOINT_FILE`]. Its plaintext starts with the identity seed
/// and the ECDH secret, 32 bytes each.
pub const PURPOSE: &str = "worker-state/v2";
/// Files of the worker before keys and position were sealed together.
const LEGACY_FILES: [&str; 2] = ["worker-keys.sealed", "checkpoint.sealed"];

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Tee(#[from] TeeError),
    #[error(
        "the checkpoint does not decode ({0}); a checkpoint from an older worker version \
         cannot be read: start a new worker with an empty --base-path and register it"
    )]
    Corrupt(String),
    #[error(
        "{0} holds keys sealed apart from their chain position by an older worker; they \
         cannot be resumed safely. Start a new worker with an empty --base-path and register \
         it (its identity will be new)"
    )]
    Legacy(String),
}

/// The layout of the sealed file: the keys' secrets first, then the core's state.
#[derive(Encode)]
struct SealedRef<'a> {
    keys: &'a KeySecrets,
    state: &'a CoreState,
}

#[derive(Decode)]
struct Sealed {
    keys: KeySecrets,
    state: CoreState,
}

/// Seals `keys` and `state` together.
pub fn save(
    platform: &dyn Platform,
    sealer: &Sealer,
    dir: &Path,
    keys: &WorkerKeys,
    state: &CoreState,
) -> Result<(), CheckpointError> {
    let secrets = keys.secrets();
    // The state holds master and cluster keys: wipe the plaintext after sealing.
    let plain = zeroize::Zeroizing::new(
        SealedRef {
            keys: &secrets,
            state,
        }
        .encode(),
    );
    let sealed = sealer.seal(platform, PURPOSE, &plain)?;
    write_private_atomic(&dir.join(CHECKPOINT_FILE), &sealed)?;
    Ok(())
}

/// The keys and the state last sealed in `dir`, if any. Files of an older worker that kept
/// them apart are refused, not resumed.
pub fn load(
    sealer: &Sealer,
    dir: &Path,
) -> Result<Option<(WorkerKeys, CoreState)>, CheckpointError> {
    let path = dir.join(CHECKPOINT_FILE);
    let sealed = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(legacy) = LEGACY_FILES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
            {
                return Err(CheckpointError::Legacy(legacy.display().to_string()));
            }
            return Ok(None);
        }
        Err(e) => {
            return Err(CheckpointError::Tee(TeeError::Io {
                what: format!("read {}", path.display()),
                source: e,
            }));
        }
    };
    let plain = sealer.unseal(PURPOSE, &sealed)?;
    let Sealed { keys, state } = Sealed::decode_all(&mut plain.as_slice())
        .map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    let keys =
        WorkerKeys::from_sealed(&keys).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    Ok(Some((keys, state)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::genesis;
    use phala_light_client::LightClient;

    fn open(dir: &Path) -> (phala_tee::simulated::Simulated, Sealer) {
        let platform = phala_tee::simulated::Simulated::open(dir).unwrap();
        let sealer = Sealer::new(&platform).unwrap();
        (platform, sealer)
    }

    #[test]
    fn keys_and_position_come_back_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (platform, sealer) = open(dir.path());
        assert!(load(&sealer, dir.path()).unwrap().is_none());
        let keys = WorkerKeys::generate(&platform).unwrap();
        let core =
            crate::core::WorkerCore::new(keys, LightClient::from_genesis(&genesis(1)).unwrap());
        save(&platform, &sealer, dir.path(), core.keys(), core.state()).unwrap();
        let (keys, state) = load(&sealer, dir.path()).unwrap().unwrap();
        assert_eq!(keys.pubkey(), core.keys().pubkey());
        assert_eq!(&state, core.state());
        assert_eq!(state.light.genesis_hash, genesis(1).hash());

        // Deleted: the keys are gone with it; nothing resumes.
        std::fs::remove_file(dir.path().join(CHECKPOINT_FILE)).unwrap();
        assert!(load(&sealer, dir.path()).unwrap().is_none());
    }

    #[test]
    fn files_of_a_worker_that_sealed_keys_apart_are_refused() {
        for legacy in LEGACY_FILES {
            let dir = tempfile::tempdir().unwrap();
            let (_, sealer) = open(dir.path());
            std::fs::write(dir.path().join(legacy), b"sealed").unwrap();
            let err = load(&sealer, dir.path()).unwrap_err();
            assert!(matches!(err, CheckpointError::Legacy(_)), "{err}");
            assert!(err.to_string().contains("empty --base-path"), "{err}");
        }
    }

    #[test]
    fn a_file_sealed_by_another_tee_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let (platform, sealer) = open(dir.path());
        let core = crate::core::WorkerCore::new(
            WorkerKeys::generate(&platform).unwrap(),
            LightClient::from_genesis(&genesis(1)).unwrap(),
        );
        save(&platform, &sealer, dir.path(), core.keys(), core.state()).unwrap();
        std::fs::copy(
            dir.path().join(CHECKPOINT_FILE),
            other.path().join(CHECKPOINT_FILE),
        )
        .unwrap();
        let (_, other_sealer) = open(other.path());
        assert!(load(&other_sealer, other.path()).is_err());
    }
}
