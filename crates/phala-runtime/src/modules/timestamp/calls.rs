use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use super::{DID_UPDATE, NOW};
use crate::Ext;
use crate::dispatch::{
    DispatchClass, DispatchError, DispatchInfo, DispatchResult, ModuleErrorEnum, Origin, Pays,
};
use crate::modules::{index, weights};

/// Calls of the `Timestamp` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Set the current time. Only as the block author's inherent, once per block.
    #[codec(index = 0)]
    set {
        #[codec(compact)]
        now: u64,
    },
}

/// Errors of the `Timestamp` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The timestamp was already set in this block.
    AlreadySet,
    /// The timestamp does not move forward from the previous block's.
    TimeWentBackwards,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::TIMESTAMP;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        DispatchInfo {
            weight: weights::reads_writes(2, 2),
            class: DispatchClass::Mandatory,
            pays_fee: Pays::No,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        let Call::set { now } = self;
        origin.ensure_none()?;
        if DID_UPDATE.get_or_default(ext) {
            return Err(Error::AlreadySet.into());
        }
        if now <= NOW.get_or_default(ext) {
            return Err(Error::TimeWentBackwards.into());
        }
        NOW.put(ext, &now);
        DID_UPDATE.put(ext, &true);
        Ok(())
    }
}
