//! The runtime's view of state while it executes: a base [`Backend`] plus layered writes.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::RuntimeEvent;
use crate::modules::system::{EventRecord, Phase};

/// Read access to the state the runtime builds on (the parent block's post-state).
pub trait Backend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
}

/// The backend could not be read. Execution stops: the block is abandoned, never committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state backend failed: {0}")]
pub struct BackendError(pub String);

impl Backend for BTreeMap<Vec<u8>, Vec<u8>> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

struct Layer {
    changes: Changes,
    events_len: usize,
}

/// Execution state: reads fall through open transaction layers to committed changes and then
/// the backend; writes go to the innermost layer.
///
/// A backend failure or an undecodable stored value *poisons* the `Ext`: reads keep returning
/// `None` so execution can unwind without panicking, and [`Ext::fatal`] makes the caller
/// discard everything. Nothing computed by a poisoned `Ext` may be committed.
pub struct Ext<'a> {
    backend: &'a dyn Backend,
    committed: Changes,
    layers: Vec<Layer>,
    events: Vec<EventRecord>,
    phase: Phase,
    fatal: RefCell<Option<String>>,
}

impl<'a> Ext<'a> {
    pub fn new(backend: &'a dyn Backend) -> Self {
        Ext {
            backend,
            committed: Changes::new(),
            layers: Vec::new(),
            events: Vec::new(),
            phase: Phase::Initialization,
            fatal: RefCell::new(None),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        for layer in self.layers.iter().rev() {
            if let Some(change) = layer.changes.get(key) {
                return change.clone();
            }
        }
        if let Some(change) = self.committed.get(key) {
            return change.clone();
        }
        match self.backend.get(key) {
            Ok(value) => value,
            Err(e) => {
                self.poison(e.0);
                None
            }
        }
    }

    pub fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.changes_mut().insert(key, Some(value));
    }

    pub fn remove(&mut self, key: Vec<u8>) {
        self.changes_mut().insert(key, None);
    }

    fn changes_mut(&mut self) -> &mut Changes {
        match self.layers.last_mut() {
            Some(layer) => &mut layer.changes,
            None => &mut self.committed,
        }
    }

    /// Runs `f` in a storage transaction: its writes and events are kept if it returns `Ok`
    /// and discarded if it returns `Err`.
    pub fn transactional<R, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, E>,
    ) -> Result<R, E> {
        self.layers.push(Layer {
            changes: Changes::new(),
            events_len: self.events.len(),
        });
        let result = f(self);
        if let Some(layer) = self.layers.pop() {
            match &result {
                Ok(_) => {
                    let target = self.changes_mut();
                    target.extend(layer.changes);
                }
                Err(_) => self.events.truncate(layer.events_len),
            }
        }
        result
    }

    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
    }

    pub fn deposit_event(&mut self, event: impl Into<RuntimeEvent>) {
        self.events.push(EventRecord {
            phase: self.phase,
            event: event.into(),
            topics: Vec::new(),
        });
    }

    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    pub fn take_events(&mut self) -> Vec<EventRecord> {
        std::mem::take(&mut self.events)
    }

    /// Marks the execution as unusable (see the type's docs).
    pub fn poison(&self, reason: impl Into<String>) {
        let mut fatal = self.fatal.borrow_mut();
        if fatal.is_none() {
            *fatal = Some(reason.into());
        }
    }

    pub fn fatal(&self) -> Option<String> {
        self.fatal.borrow().clone()
    }

    /// The accumulated writes. Open transactions must have been closed.
    pub fn into_changes(self) -> Changes {
        self.committed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_nest_and_roll_back() {
        let base: BTreeMap<Vec<u8>, Vec<u8>> = [(b"a".to_vec(), b"1".to_vec())].into();
        let mut ext = Ext::new(&base);
        ext.set(b"b".to_vec(), b"2".to_vec());
        let r: Result<(), ()> = ext.transactional(|ext| {
            ext.set(b"a".to_vec(), b"x".to_vec());
            let inner: Result<(), ()> = ext.transactional(|ext| {
                ext.remove(b"b".to_vec());
                Ok(())
            });
            assert!(inner.is_ok());
            assert_eq!(ext.get(b"b"), None);
            Err(())
        });
        assert!(r.is_err());
        assert_eq!(ext.get(b"a"), Some(b"1".to_vec()));
        assert_eq!(ext.get(b"b"), Some(b"2".to_vec()));
        let changes = ext.into_changes();
        assert_eq!(changes.len(), 1);
    }

    struct Failing;
    impl Backend for Failing {
        fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
            Err(BackendError("disk gone".into()))
        }
    }

    #[test]
    fn backend_failure_poisons() {
        let ext = Ext::new(&Failing);
        assert_eq!(ext.get(b"k"), None);
        assert_eq!(ext.fatal().as_deref(), Some("disk gone"));
    }
}
