//! The worker's one interface to its TEE, after Phala's `pal`: quotes, sealing,
//! randomness and (untrusted) time.
//!
//! [`Platform`] is implemented by three providers:
//! - [`simulated::Simulated`]: no hardware. Quotes say so in their own bytes, the sealing key
//!   is a plain file marked insecure, and the worker prints a loud warning. Only chains whose
//!   genesis allows simulated TEEs accept it.
//! - [`gramine::GramineSgx`]: SGX under Gramine (`/dev/attestation`).
//! - [`tdx::Tdx`]: Intel TDX guests through the kernel's configfs-tsm interface.
//!
//! The hardware providers are unit-tested for their file protocols against fake device
//! trees; they run for real only on hardware. Everything above this crate is the same code
//! path for all three: sealing derives per-purpose keys from the provider's root key with
//! HKDF-SHA256 and encrypts with AES-256-GCM ([`seal`]).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod gramine;
pub mod seal;
pub mod simulated;
pub mod tdx;

pub use phala_attestation::TeeKind;
pub use zeroize::Zeroizing;

/// Why the TEE could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the TEE is not usable here: {0}")]
    Unavailable(String),
    #[error("the quote provider misbehaved: {0}")]
    Quote(String),
    #[error("sealed data does not open: {0}")]
    Unseal(String),
    #[error("the system random source failed: {0}")]
    Random(String),
}

impl TeeError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        TeeError::Io {
            what: what.into(),
            source,
        }
    }
}

/// What a worker needs from its TEE.
pub trait Platform: Send + Sync + 'static {
    fn kind(&self) -> TeeKind;

    /// A quote binding `report_data`. For DCAP providers this is Intel's quote, to be
    /// submitted with collateral; for the simulated one, a simulated quote.
    fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, TeeError>;

    /// The root sealing secret: only this enclave (or TD) on this machine can derive it.
    /// Never used directly; [`seal::Sealer`] derives per-purpose keys from it.
    fn sealing_root(&self) -> Result<Zeroizing<[u8; 32]>, TeeError>;

    /// Fills `buf` with randomness the host cannot predict.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), TeeError> {
        getrandom::getrandom(buf).map_err(|e| TeeError::Random(e.to_string()))
    }

    /// Wall-clock milliseconds since the Unix epoch, as the host reports them: never trust
    /// this for anything that matters; consensus time comes from verified blocks.
    fn untrusted_unix_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// Reads at most `max` bytes, refusing longer files.
pub(crate) fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, TeeError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| TeeError::io(format!("open {}", path.display()), e))?;
    let mut out = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| TeeError::io(format!("read {}", path.display()), e))?;
    if u64::try_from(out.len()).unwrap_or(u64::MAX) > max {
        return Err(TeeError::Quote(format!(
            "{} is longer than {max} bytes",
            path.display()
        )));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename), mode 0600.
pub fn write_private_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), TeeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| TeeError::io(format!("create {}", tmp.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| TeeError::io(format!("write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| TeeError::io(format!("rename to {}", path.display()), e))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
