use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use super::Event;
use crate::Ext;
use crate::dispatch::{DispatchClass, DispatchInfo, DispatchResult, Origin, Pays};
use crate::modules::weights;

/// Calls of the `System` module (FRAME's call indices).
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Make some on-chain remark.
    #[codec(index = 0)]
    remark { remark: Vec<u8> },
    /// Make some on-chain remark and emit an event.
    #[codec(index = 7)]
    remark_with_event { remark: Vec<u8> },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let (Call::remark { remark } | Call::remark_with_event { remark }) = self;
        // Hashing the remark is the only work; 1 ns per byte covers it.
        let bytes = u64::try_from(remark.len()).unwrap_or(u64::MAX);
        let weight = weights::compute(2_000_000u64.saturating_add(bytes.saturating_mul(1_000)));
        DispatchInfo {
            weight,
            class: DispatchClass::Normal,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::remark { .. } => {
                origin.ensure_signed_or_root()?;
                Ok(())
            }
            Call::remark_with_event { remark } => {
                let sender = origin.ensure_signed()?;
                let hash = phala_primitives::hashing::hash256(&remark);
                ext.deposit_event(Event::Remarked { sender, hash });
                Ok(())
            }
        }
    }
}
