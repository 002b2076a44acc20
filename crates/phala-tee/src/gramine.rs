//! SGX under Gramine: quotes and sealing keys through the `/dev/attestation` pseudo-files.
//!
//! Quote: write exactly 64 bytes to `user_report_data` (Gramine zero-pads short writes and
//! silently truncates long ones, so we never write anything but 64), then read `quote`.
//! The two files are process-wide state, so one mutex serialises write-then-read.
//! Sealing root: the 16-byte `keys/_sgx_mrenclave` key (EGETKEY, MRENCLAVE policy: only this
//! exact enclave build on this CPU derives it), stretched with HKDF; the worker never uses it
//! for anything else, as Gramine's docs require of keys shared with encrypted mounts.

use std::path::PathBuf;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::seal::hkdf_sha256;
use crate::{Platform, TeeError, TeeKind, read_bounded};

pub const DEFAULT_ROOT: &str = "/dev/attestation";
/// Largest quote Gramine's QE returns (its `QUOTE_MAX_SIZE` is 8 KiB); we allow headroom.
pub const MAX_QUOTE_LEN: u64 = 16 * 1024;

#[derive(Debug)]
pub struct GramineSgx {
    root: PathBuf,
    lock: Mutex<()>,
}

impl GramineSgx {
    /// Opens the default `/dev/attestation`, refusing unless Gramine was started with DCAP
    /// attestation.
    pub fn open() -> Result<Self, TeeError> {
        Self::open_at(PathBuf::from(DEFAULT_ROOT))
    }

    /// Opens the attestation files under `root` (tests point this at a fake tree).
    pub fn open_at(root: PathBuf) -> Result<Self, TeeError> {
        let kind_path = root.join("attestation_type");
        let kind = std::fs::read_to_string(&kind_path).map_err(|e| {
            TeeError::Unavailable(format!(
                "{} cannot be read ({e}): not running inside Gramine-SGX",
                kind_path.display()
            ))
        })?;
        match kind.trim() {
            "dcap" => {}
            other => {
                return Err(TeeError::Unavailable(format!(
                    "Gramine attestation type is {other:?}; the worker needs \"dcap\" \
                     (manifest: sgx.remote_attestation = \"dcap\")"
                )));
            }
        }
        Ok(GramineSgx {
            root,
            lock: Mutex::new(()),
        })
    }
}

impl Platform for GramineSgx {
    fn kind(&self) -> TeeKind {
        TeeKind::Sgx
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, TeeError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let data_path = self.root.join("user_report_data");
        std::fs::write(&data_path, report_data)
            .map_err(|e| TeeError::io(format!("write {}", data_path.display()), e))?;
        let quote_path = self.root.join("quote");
        let quote = read_bounded(&quote_path, MAX_QUOTE_LEN)?;
        if quote.is_empty() {
            return Err(TeeError::Quote("Gramine returned an empty quote".into()));
        }
        Ok(quote)
    }

    fn sealing_root(&self) -> Result<Zeroizing<[u8; 32]>, TeeError> {
        let path = self.root.join("keys/_sgx_mrenclave");
        let key = Zeroizing::new(read_bounded(&path, 64)?);
        if key.len() != 16 {
            return Err(TeeError::Unavailable(format!(
                "{} holds {} bytes, not a 16-byte SGX sealing key",
                path.display(),
                key.len()
            )));
        }
        Ok(hkdf_sha256(&key, b"phala-tee/gramine", b"sealing-root"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(kind: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("attestation_type"), kind).unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/_sgx_mrenclave"), [7u8; 16]).unwrap();
        std::fs::write(dir.path().join("quote"), b"QUOTE").unwrap();
        dir
    }

    #[test]
    fn writes_exactly_64_bytes_then_reads_the_quote() {
        let dir = fake("dcap");
        let p = GramineSgx::open_at(dir.path().to_path_buf()).unwrap();
        assert_eq!(p.quote(&[9; 64]).unwrap(), b"QUOTE");
        assert_eq!(
            std::fs::read(dir.path().join("user_report_data")).unwrap(),
            vec![9; 64]
        );
        let root = p.sealing_root().unwrap();
        assert_eq!(root.len(), 32);
        assert_ne!(&root[..16], &[7u8; 16]);
    }

    #[test]
    fn refuses_without_dcap() {
        let dir = fake("none");
        let err = GramineSgx::open_at(dir.path().to_path_buf()).unwrap_err();
        assert!(err.to_string().contains("needs \"dcap\""), "{err}");
        let missing = GramineSgx::open_at(PathBuf::from("/nonexistent/attestation")).unwrap_err();
        assert!(missing.to_string().contains("not running inside Gramine"));
    }

    #[test]
    fn refuses_a_wrong_sized_key() {
        let dir = fake("dcap");
        std::fs::write(dir.path().join("keys/_sgx_mrenclave"), [7u8; 15]).unwrap();
        let p = GramineSgx::open_at(dir.path().to_path_buf()).unwrap();
        assert!(p.sealing_root().is_err());
    }
}
