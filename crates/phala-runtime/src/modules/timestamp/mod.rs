//! `Timestamp`: the block's time, set by its author through a mandatory inherent.
//!
//! Each block's first extrinsic is a bare `Timestamp::set` carrying the author's clock in
//! milliseconds. The runtime only requires time to move forward; nodes also refuse a block
//! whose time is ahead of their own clock by more than a tolerance (that check needs a clock,
//! so it lives in the node).

mod calls;
#[cfg(test)]
mod tests;

pub use calls::{Call, Error};

use phala_primitives::Moment;

use crate::Ext;
use crate::storage::{Query, StorageValue};

const MODULE: &str = "Timestamp";

/// Half the default block time. Clients derive the expected block time as twice this value
/// (polkadot.js uses it to size transaction mortality); the runtime itself only requires
/// strictly increasing timestamps, so chains with faster blocks remain valid.
pub const MINIMUM_PERIOD: Moment = 500;

pub const NOW: StorageValue<Moment> = StorageValue::new(
    MODULE,
    "Now",
    Query::Default,
    &[" The current time for the current block."],
);
pub const DID_UPDATE: StorageValue<bool> = StorageValue::new(
    MODULE,
    "DidUpdate",
    Query::Default,
    &[" Whether the timestamp has been updated in this block."],
);

pub fn now(ext: &Ext) -> Moment {
    NOW.get_or_default(ext)
}

/// Called at the start of every block.
pub fn on_initialize(ext: &mut Ext) {
    DID_UPDATE.kill(ext);
}

/// Whether this block has set its time (checked when the block is finished).
pub fn did_update(ext: &Ext) -> bool {
    DID_UPDATE.get_or_default(ext)
}

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![NOW.metadata(), DID_UPDATE.metadata()]
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Timestamp",
        index: crate::modules::index::TIMESTAMP,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: None,
        constants: vec![crate::metadata::constant(
            "MinimumPeriod",
            &MINIMUM_PERIOD,
            " Half the expected block time in milliseconds.",
        )],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " The block's time, set by its author.",
    }
}
