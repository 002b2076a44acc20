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
pub const PURPOSE: &str = "worker-state/v3";
/// The layout before epoch lengths could change: the light client kept one length for all
/// epochs. Read once and migrated; the next checkpoint is written as v3.
const PURPOSE_V2: &str = "worker-state/v2";
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

/// `LightClientState` as `worker-state/v2` sealed it.
#[derive(Encode, Decode)]
struct LightStateV2 {
    genesis_hash: phala_primitives::H256,
    epoch_length: u32,
    epoch: u64,
    committee: Vec<[u8; 32]>,
    head_number: phala_primitives::BlockNumber,
    head_hash: phala_primitives::H256,
}

/// A v2 plaintext in v3's layout: only the light client's state (right after the keys)
/// changed. Every epoch of a v2 worker's chain had the genesis length (no runtime before
/// v3's could change it), so the current epoch's blocks follow from it.
fn migrate_v2(plain: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, CheckpointError> {
    let corrupt = |e: String| CheckpointError::Corrupt(format!("v2 checkpoint: {e}"));
    let mut input = plain;
    let keys = KeySecrets::decode(&mut input).map_err(|e| corrupt(e.to_string()))?;
    let old = LightStateV2::decode(&mut input).map_err(|e| corrupt(e.to_string()))?;
    let bounds = phala_primitives::consensus::EpochSchedule::fixed(old.epoch_length)
        .bounds(old.epoch)
        .ok_or_else(|| corrupt(format!("epoch {} is past the last block", old.epoch)))?;
    let light = phala_light_client::LightClientState {
        genesis_hash: old.genesis_hash,
        epoch: old.epoch,
        epoch_first: bounds.first,
        epoch_last: bounds.last,
        committee: old.committee,
        head_number: old.head_number,
        head_hash: old.head_hash,
    };
    let mut out = zeroize::Zeroizing::new(keys.encode());
    light.encode_to(&mut *out);
    out.extend_from_slice(input);
    Ok(out)
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
    let plain = match sealer.unseal(PURPOSE, &sealed) {
        Ok(plain) => plain,
        Err(e) => match sealer.unseal(PURPOSE_V2, &sealed) {
            Ok(old) => migrate_v2(&old)?,
            Err(_) => return Err(e.into()),
        },
    };
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

    /// A worker of the release before epoch-length changes resumes its keys and position.
    #[test]
    fn a_v2_checkpoint_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let (platform, sealer) = open(dir.path());
        let keys = WorkerKeys::generate(&platform).unwrap();
        let core =
            crate::core::WorkerCore::new(keys, LightClient::from_genesis(&genesis(1)).unwrap());
        let mut state = core.state().clone();
        state.light.epoch = 3;
        // v2's bytes: the keys, the old light client state, then the rest unchanged.
        let new_light = state.light.encode();
        let old_light = LightStateV2 {
            genesis_hash: state.light.genesis_hash,
            epoch_length: 10,
            epoch: 3,
            committee: state.light.committee.clone(),
            head_number: state.light.head_number,
            head_hash: state.light.head_hash,
        };
        let mut plain = core.keys().secrets().encode();
        old_light.encode_to(&mut plain);
        plain.extend_from_slice(&state.encode()[new_light.len()..]);
        let sealed = sealer.seal(&platform, PURPOSE_V2, &plain).unwrap();
        std::fs::write(dir.path().join(CHECKPOINT_FILE), sealed).unwrap();

        let (keys, loaded) = load(&sealer, dir.path()).unwrap().unwrap();
        assert_eq!(keys.pubkey(), core.keys().pubkey());
        assert_eq!(
            (loaded.light.epoch_first, loaded.light.epoch_last),
            (30, 39)
        );
        let mut expected = state;
        expected.light.epoch_first = 30;
        expected.light.epoch_last = 39;
        assert_eq!(loaded, expected);
        // Garbage under the old purpose is refused, not guessed at.
        let junk = sealer.seal(&platform, PURPOSE_V2, b"junk").unwrap();
        std::fs::write(dir.path().join(CHECKPOINT_FILE), junk).unwrap();
        assert!(matches!(
            load(&sealer, dir.path()),
            Err(CheckpointError::Corrupt(_))
        ));
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
