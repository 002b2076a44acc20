//! The store's state views as the runtime's backend.

use phala_runtime::{Backend, BackendError};
use phala_state::StateView;

/// Adapts a [`StateView`] to [`Backend`].
pub struct ViewBackend<'a>(pub &'a StateView);

impl Backend for ViewBackend<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.get(key).map_err(|e| BackendError(e.to_string()))
    }
}
