//! The simulated TEE: for development chains only, and loud about it.
//!
//! Its quotes are [`phala_attestation::simulated`] records, which name themselves as
//! simulated; its "sealing" key is a random file, `sealing-key.INSECURE-SIMULATION`, that
//! says in its first line that it protects nothing from the machine's owner. A real
//! provider refuses that file, and this one refuses to run where a real TEE's sealed data
//! lives (see [`Simulated::open`]).

use std::path::{Path, PathBuf};

use phala_attestation::simulated::SimulatedQuote;
use zeroize::Zeroizing;

use crate::{Platform, TeeError, TeeKind, write_private_atomic};

/// What simulated workers claim to run: the allowlist entry a dev genesis carries for them.
pub const MEASUREMENT: [u8; 32] = phala_attestation::simulated::DEV_MEASUREMENT;

pub const KEY_FILE: &str = "sealing-key.INSECURE-SIMULATION";
const HEADER: &str = "SIMULATED-NOT-SEALED-v1";

/// The warning every simulated worker prints at start.
pub const WARNING: &str = "SIMULATED TEE: no hardware protects this worker. Its keys, \
contract state and queries are readable by whoever controls this machine. Only development \
chains (genesis allow_simulated_tee = true) accept it; never use it for real value.";

/// A TEE that is not one.
#[derive(Debug)]
pub struct Simulated {
    key: Zeroizing<[u8; 32]>,
    measurement: [u8; 32],
    key_path: PathBuf,
}

impl Simulated {
    /// Loads the simulated sealing key from `dir`, creating it (random, mode 0600) on first
    /// use.
    pub fn open(dir: &Path) -> Result<Self, TeeError> {
        Self::open_with_measurement(dir, MEASUREMENT)
    }

    /// As [`open`](Self::open), claiming another measurement (to exercise allowlists).
    pub fn open_with_measurement(dir: &Path, measurement: [u8; 32]) -> Result<Self, TeeError> {
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => parse_key_file(&text).ok_or_else(|| {
                TeeError::Unavailable(format!(
                    "{} is not a simulated sealing key file",
                    key_path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| TeeError::io(format!("create {}", dir.display()), e))?;
                let mut key = Zeroizing::new([0u8; 32]);
                getrandom::getrandom(key.as_mut_slice())
                    .map_err(|e| TeeError::Random(e.to_string()))?;
                let text = Zeroizing::new(format!(
                    "{HEADER}\ninsecure: true\nThis key stands in for a TEE's sealing key. \
                     Anyone who can read this file can read everything the worker sealed.\n\
                     key: {}\n",
                    hex::encode(key.as_slice())
                ));
                write_private_atomic(&key_path, text.as_bytes())?;
                key
            }
            Err(e) => return Err(TeeError::io(format!("read {}", key_path.display()), e)),
        };
        Ok(Simulated {
            key,
            measurement,
            key_path,
        })
    }

    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    pub fn measurement(&self) -> [u8; 32] {
        self.measurement
    }
}

fn parse_key_file(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let hex_key = text.lines().find_map(|l| l.strip_prefix("key: "))?;
    let bytes = Zeroizing::new(hex::decode(hex_key.trim()).ok()?);
    let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

/// Whether `dir` holds a simulated sealing key: real providers refuse such a directory.
pub fn is_simulated_dir(dir: &Path) -> bool {
    dir.join(KEY_FILE).exists()
}

impl Platform for Simulated {
    fn kind(&self) -> TeeKind {
        TeeKind::Simulated
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, TeeError> {
        Ok(SimulatedQuote {
            measurement: self.measurement,
            report_data: *report_data,
        }
        .encode())
    }

    fn sealing_root(&self) -> Result<Zeroizing<[u8; 32]>, TeeError> {
        Ok(self.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_file_is_private_marked_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = Simulated::open(dir.path()).unwrap();
        let meta = std::fs::metadata(a.key_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(a.key_path()).unwrap();
        assert!(text.starts_with("SIMULATED-NOT-SEALED-v1\ninsecure: true"));
        let b = Simulated::open(dir.path()).unwrap();
        assert_eq!(
            a.sealing_root().unwrap().as_slice(),
            b.sealing_root().unwrap().as_slice()
        );
        assert!(is_simulated_dir(dir.path()));
    }

    #[test]
    fn refuses_a_foreign_key_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "hello").unwrap();
        assert!(Simulated::open(dir.path()).is_err());
    }

    #[test]
    fn quotes_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let p = Simulated::open(dir.path()).unwrap();
        let q = p.quote(&[5; 64]).unwrap();
        assert!(q.starts_with(b"PHALA-SIMULATED-TEE-NOT-SECURE"));
        let back = SimulatedQuote::decode(&q).unwrap();
        assert_eq!(back.measurement, MEASUREMENT);
        assert_eq!(back.report_data, [5; 64]);
    }
}
