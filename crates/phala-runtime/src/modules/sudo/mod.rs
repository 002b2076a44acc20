//! `Sudo`: one key that may make root calls, on development chains only.
//!
//! The key exists only if the genesis names one; `phala devnet` names Alice, production
//! chain specs name none, and then no call can ever run as root through this module.
//! Shapes follow Substrate's `pallet-sudo` (call indices, event and error names), so
//! polkadot.js's Sudo tab works unchanged.

#[cfg(test)]
mod tests;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::AccountId32;
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, DispatchInfo, DispatchResult, ModuleErrorEnum, Origin};
use crate::modules::{index, weights};
use crate::storage::{Query, StorageValue};
use crate::{Ext, RuntimeCall};

const MODULE: &str = "Sudo";

pub const KEY: StorageValue<AccountId32> = StorageValue::new(
    MODULE,
    "Key",
    Query::Optional,
    &[" The `AccountId` of the sudo key."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![KEY.metadata()]
}

/// Calls of the `Sudo` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Dispatch `call` as root.
    #[codec(index = 0)]
    sudo { call: Box<RuntimeCall> },
    /// Dispatch `call` as root, declaring its weight.
    #[codec(index = 1)]
    sudo_unchecked_weight {
        call: Box<RuntimeCall>,
        weight: phala_primitives::Weight,
    },
    /// Hand the key to `new`.
    #[codec(index = 2)]
    set_key { new: phala_primitives::MultiAddress },
    /// Give up the key for good: no root calls through this module after this.
    #[codec(index = 4)]
    remove_key,
}

/// Events of the `Sudo` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A root call was made; this is its result.
    #[codec(index = 0)]
    Sudid {
        sudo_result: Result<(), DispatchError>,
    },
    /// The key changed.
    #[codec(index = 1)]
    KeyChanged {
        old: Option<AccountId32>,
        new: AccountId32,
    },
    /// The key was removed.
    #[codec(index = 2)]
    KeyRemoved,
}

/// Errors of the `Sudo` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// Sender must be the Sudo account.
    RequireSudo,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::SUDO;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let own = weights::reads_writes(1, 1);
        match self {
            Call::sudo { call } => {
                let inner = call.info();
                DispatchInfo {
                    weight: weights::add(inner.weight, own),
                    ..inner
                }
            }
            Call::sudo_unchecked_weight { call, weight } => DispatchInfo {
                weight: weights::add(*weight, own),
                ..call.info()
            },
            Call::set_key { .. } | Call::remove_key => DispatchInfo {
                weight: own,
                ..Default::default()
            },
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        let who = origin.ensure_signed()?;
        let key = KEY.get(ext);
        if key != Some(who) {
            return Err(Error::RequireSudo.into());
        }
        match self {
            Call::sudo { call } | Call::sudo_unchecked_weight { call, .. } => {
                // The inner call's failure is reported, not propagated: sudo itself worked.
                let sudo_result = ext.transactional(|ext| call.dispatch(ext, Origin::Root));
                ext.deposit_event(Event::Sudid { sudo_result });
            }
            Call::set_key { new } => {
                let new = new.account().ok_or(DispatchError::CannotLookup)?;
                KEY.put(ext, &new);
                ext.deposit_event(Event::KeyChanged { old: key, new });
            }
            Call::remove_key => {
                KEY.kill(ext);
                ext.deposit_event(Event::KeyRemoved);
            }
        }
        Ok(())
    }
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Sudo(e)
    }
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Sudo",
        index: crate::modules::index::SUDO,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Root calls by one key, on development chains only; live chains are governed by referenda.",
    }
}
