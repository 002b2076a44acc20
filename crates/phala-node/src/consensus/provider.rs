//! The signing schemes of each epoch, for marshal: it verifies a block's certificate with the
//! scheme of the block's epoch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::{Provider, Scoped};

use super::app::Scheme;

/// Filled by the orchestrator as it learns each committee (from genesis and from finalized
/// epoch-boundary headers).
#[derive(Clone, Default)]
pub struct EpochProvider {
    schemes: Arc<Mutex<BTreeMap<Epoch, Arc<Scheme>>>>,
}

impl std::fmt::Debug for EpochProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochProvider")
    }
}

impl EpochProvider {
    fn schemes(&self) -> std::sync::MutexGuard<'_, BTreeMap<Epoch, Arc<Scheme>>> {
        // Holding the lock never spans a panic-prone section; recover if one did.
        self.schemes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `epoch`'s scheme (idempotent: a redelivered boundary keeps the first).
    pub fn register(&self, epoch: Epoch, scheme: Scheme) -> Arc<Scheme> {
        self.schemes()
            .entry(epoch)
            .or_insert_with(|| Arc::new(scheme))
            .clone()
    }

    /// Forgets epochs below `epoch`.
    pub fn retire_below(&self, epoch: Epoch) {
        self.schemes().retain(|e, _| *e >= epoch);
    }
}

impl Provider for EpochProvider {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<Scheme>> {
        // A full `scheme` scope even for verify-only instances: marshal's notarized-block
        // path asks for `Provider::scheme`, which a verifier scope does not give.
        self.schemes().get(&epoch).cloned().map(Scoped::scheme)
    }
}
