//! TLS for contracts' HTTPS requests: rustls with the ring provider (already in the build
//! for the RPC client) and the platform's certificate roots.

use std::sync::Once;

/// Installs ring as the process's rustls provider, once; harmless if one is installed.
pub fn ensure_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
