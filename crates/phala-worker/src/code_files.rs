//! Contract codes on the host's disk and from the node. Codes are public (they are on
//! chain), so they are stored in the clear under `<base>/codes/<hash>.wasm`; whatever the
//! disk or the node hands over, the core keys it by its own blake2b-256, so a wrong file or
//! a lying node can only make a code missing, never replace one.

use std::path::{Path, PathBuf};

use parity_scale_codec::Decode;
use phala_client::Client;
use phala_primitives::H256;

use crate::core::WorkerCore;

pub fn dir(base: &Path) -> PathBuf {
    base.join("codes")
}

/// Loads every stored code into the core; returns how many loaded.
pub fn load_all(base: &Path, core: &WorkerCore) -> usize {
    let Ok(entries) = std::fs::read_dir(dir(base)) else {
        return 0;
    };
    let mut loaded = 0usize;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let Ok(wasm) = std::fs::read(&path) else {
            continue;
        };
        let hash = core.add_code(&wasm);
        let named = path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s == hex::encode(hash));
        if named {
            loaded = loaded.saturating_add(1);
        } else {
            tracing::warn!(
                "{} is not the code its name says (its hash is 0x{}); ignored",
                path.display(),
                hex::encode(hash)
            );
        }
    }
    loaded
}

/// Writes a code atomically (temporary file, then rename).
pub fn save(base: &Path, hash: &[u8; 32], wasm: &[u8]) -> std::io::Result<()> {
    let dir = dir(base);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.wasm", hex::encode(hash)));
    let tmp = dir.join(format!("{}.wasm.tmp", hex::encode(hash)));
    std::fs::write(&tmp, wasm)?;
    std::fs::rename(tmp, path)
}

/// Fetches an uploaded code from the node and checks it against its hash.
pub async fn fetch(client: &Client, hash: &[u8; 32]) -> Result<Vec<u8>, String> {
    let key = phala_runtime::modules::contracts::CODES.key(&H256(*hash));
    let value = client
        .storage(&key, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the node has no code 0x{}", hex::encode(hash)))?;
    let wasm = Vec::<u8>::decode(&mut value.as_slice())
        .map_err(|e| format!("code 0x{} does not decode: {e}", hex::encode(hash)))?;
    if sp_crypto_hashing::blake2_256(&wasm) != *hash {
        return Err(format!(
            "the node's code 0x{} does not match its hash",
            hex::encode(hash)
        ));
    }
    Ok(wasm)
}
