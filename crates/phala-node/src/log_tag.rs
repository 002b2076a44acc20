//! Which part of a process wrote a log line, when one process runs several (a devnet's
//! validators, gatekeepers and workers). Each part runs on its own async runtime, and tasks
//! do not carry tracing spans across spawns, so the tag is looked up by the runtime the
//! logging thread belongs to (or, before a part's runtime starts, by its thread).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use tokio::runtime::{Handle, Id};

fn tags() -> &'static RwLock<HashMap<Id, String>> {
    static TAGS: OnceLock<RwLock<HashMap<Id, String>>> = OnceLock::new();
    TAGS.get_or_init(Default::default)
}

/// Tags every line logged on the runtime `handle` belongs to.
pub fn register(handle: &Handle, tag: &str) {
    if let Ok(mut map) = tags().write() {
        map.insert(handle.id(), tag.to_string());
    }
}

thread_local! {
    static THREAD_TAG: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Tags every line logged on this thread outside any runtime.
pub fn register_thread(tag: &str) {
    let _ = THREAD_TAG.try_with(|t| *t.borrow_mut() = Some(tag.to_string()));
}

/// The tag of the runtime this thread runs, else of the thread, if it has one.
pub fn current() -> Option<String> {
    if let Ok(handle) = Handle::try_current()
        && let Some(tag) = tags()
            .read()
            .ok()
            .and_then(|m| m.get(&handle.id()).cloned())
    {
        return Some(tag);
    }
    // try_with: a line logged while this thread's locals are torn down has no tag.
    THREAD_TAG.try_with(|t| t.borrow().clone()).ok().flatten()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_tagged_by_their_runtime() {
        assert_eq!(super::current(), None);
        let a = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        super::register(a.handle(), "Alice");
        assert_eq!(a.block_on(async { super::current() }), Some("Alice".into()));
        assert_eq!(b.block_on(async { super::current() }), None);
        std::thread::spawn(|| {
            super::register_thread("Bob");
            assert_eq!(super::current(), Some("Bob".into()));
        })
        .join()
        .unwrap();
        assert_eq!(super::current(), None);
    }
}
