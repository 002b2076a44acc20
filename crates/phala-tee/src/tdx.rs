//! Intel TDX guests: quotes through the kernel's configfs-tsm interface (Linux ≥ 6.7).
//!
//! One report directory under `/sys/kernel/config/tsm/report/`. Its `provider` must read
//! `tdx_guest`. A quote is: read `generation` (g0), write exactly 64 bytes to `inblob` in one
//! open/write/close (configfs applies binary attributes at close), check `generation` is
//! g0 + 1 (otherwise another writer raced us), read `outblob`, and check `generation` is
//! still g0 + 1 (otherwise the quote may be for someone else's data: retry).
//!
//! TDX has no hardware sealing key. The root sealing secret is a 32-byte file the
//! confidential VM's key management puts on its encrypted, measured disk (dstack's KMS does
//! this); without it the provider refuses to start rather than invent a key the host could
//! read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::seal::hkdf_sha256;
use crate::{Platform, TeeError, TeeKind, read_bounded};

pub const DEFAULT_REPORT_DIR: &str = "/sys/kernel/config/tsm/report/phala-worker";
/// `TSM_OUTBLOB_MAX` in the kernel.
pub const MAX_OUTBLOB: u64 = 32 * 1024;
const RETRIES: usize = 3;

#[derive(Debug)]
pub struct Tdx {
    report_dir: PathBuf,
    sealing_key: PathBuf,
    lock: Mutex<()>,
}

impl Tdx {
    /// Opens (creating if needed) the configfs report directory and checks its provider.
    pub fn open(report_dir: PathBuf, sealing_key: PathBuf) -> Result<Self, TeeError> {
        if !report_dir.is_dir() {
            std::fs::create_dir(&report_dir).map_err(|e| {
                TeeError::Unavailable(format!(
                    "cannot create {} ({e}): no configfs-tsm here (needs a TDX guest with \
                     Linux 6.7 or later, configfs mounted, and root)",
                    report_dir.display()
                ))
            })?;
        }
        let provider_path = report_dir.join("provider");
        let provider = std::fs::read_to_string(&provider_path)
            .map_err(|e| TeeError::io(format!("read {}", provider_path.display()), e))?;
        if provider.trim() != "tdx_guest" {
            return Err(TeeError::Unavailable(format!(
                "configfs-tsm provider is {:?}, not tdx_guest",
                provider.trim()
            )));
        }
        Ok(Tdx {
            report_dir,
            sealing_key,
            lock: Mutex::new(()),
        })
    }

    fn generation(&self) -> Result<u64, TeeError> {
        let path = self.report_dir.join("generation");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| TeeError::io(format!("read {}", path.display()), e))?;
        parse_generation(&text)
    }

    fn try_quote(&self, report_data: &[u8; 64]) -> Result<Option<Vec<u8>>, TeeError> {
        let g0 = self.generation()?;
        let inblob = self.report_dir.join("inblob");
        std::fs::write(&inblob, report_data)
            .map_err(|e| TeeError::io(format!("write {}", inblob.display()), e))?;
        let expected = g0.saturating_add(1);
        if self.generation()? != expected {
            return Ok(None);
        }
        let quote = read_bounded(&self.report_dir.join("outblob"), MAX_OUTBLOB)?;
        if self.generation()? != expected {
            return Ok(None);
        }
        Ok(Some(quote))
    }
}

/// The `generation` attribute: a decimal counter and a newline.
pub fn parse_generation(text: &str) -> Result<u64, TeeError> {
    text.trim()
        .parse()
        .map_err(|_| TeeError::Quote(format!("configfs-tsm generation {text:?} is not a number")))
}

fn load_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, TeeError> {
    let bytes = Zeroizing::new(read_bounded(path, 64).map_err(|e| {
        TeeError::Unavailable(format!(
            "TDX has no hardware sealing key; the worker needs a 32-byte key provisioned by \
             the confidential VM's key management at {} ({e})",
            path.display()
        ))
    })?);
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| TeeError::Unavailable(format!("{} is not a 32-byte key", path.display())))?;
    Ok(Zeroizing::new(key))
}

impl Platform for Tdx {
    fn kind(&self) -> TeeKind {
        TeeKind::Tdx
    }

    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, TeeError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..RETRIES {
            if let Some(quote) = self.try_quote(report_data)? {
                if quote.is_empty() {
                    return Err(TeeError::Quote("the kernel returned an empty quote".into()));
                }
                return Ok(quote);
            }
        }
        Err(TeeError::Quote(format!(
            "another process kept writing {} (generation changed {RETRIES} times)",
            self.report_dir.display()
        )))
    }

    fn sealing_root(&self) -> Result<Zeroizing<[u8; 32]>, TeeError> {
        let key = load_key(&self.sealing_key)?;
        Ok(hkdf_sha256(
            key.as_slice(),
            b"phala-tee/tdx",
            b"sealing-root",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(provider: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("provider"), provider).unwrap();
        std::fs::write(dir.path().join("generation"), "4\n").unwrap();
        std::fs::write(dir.path().join("outblob"), b"TDQUOTE").unwrap();
        dir
    }

    #[test]
    fn generation_parses() {
        assert_eq!(parse_generation("17\n").unwrap(), 17);
        assert!(parse_generation("x\n").is_err());
    }

    #[test]
    fn refuses_other_providers() {
        let dir = fake("sev_guest\n");
        let err = Tdx::open(dir.path().to_path_buf(), dir.path().join("k")).unwrap_err();
        assert!(err.to_string().contains("not tdx_guest"), "{err}");
    }

    #[test]
    fn a_generation_that_does_not_advance_is_a_race() {
        // A plain directory does not bump `generation` on write, exactly as if another
        // writer had raced us every time: the provider must give up, not return a quote
        // that may bind someone else's data.
        let dir = fake("tdx_guest\n");
        let p = Tdx::open(dir.path().to_path_buf(), dir.path().join("k")).unwrap();
        let err = p.quote(&[1; 64]).unwrap_err();
        assert!(err.to_string().contains("generation changed"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("inblob")).unwrap(),
            vec![1; 64]
        );
    }

    #[test]
    fn sealing_needs_a_provisioned_key() {
        let dir = fake("tdx_guest\n");
        let p = Tdx::open(dir.path().to_path_buf(), dir.path().join("k")).unwrap();
        let err = p.sealing_root().unwrap_err();
        assert!(err.to_string().contains("no hardware sealing key"), "{err}");
        std::fs::write(dir.path().join("k"), [3u8; 32]).unwrap();
        assert_eq!(p.sealing_root().unwrap().len(), 32);
    }
}
