//! `System`: accounts and nonces, the block number and parent hash, recent block hashes, and
//! the events of the current block.

mod calls;
mod events;
#[cfg(test)]
mod tests;

pub use calls::Call;
pub use events::{Error, Event};

use parity_scale_codec::{Compact, Decode, Encode};
use phala_primitives::{AccountId32, BlockNumber, H256, Nonce, storage::Hasher};
use scale_info::{Path, Type, TypeInfo, TypeParameter, build::Fields, meta_type};

use crate::modules::balances::AccountData;
use crate::storage::{Query, StorageMap, StorageValue};
use crate::{Ext, RuntimeEvent};

const MODULE: &str = "System";

/// How many recent block hashes are kept for transaction mortality checks. Transactions may
/// be mortal for at most this many blocks.
pub const BLOCK_HASH_COUNT: BlockNumber = 4096;

/// The well-known placeholder Substrate stores for block 0's hash until block 1 records the
/// real one.
pub const GENESIS_HASH_PLACEHOLDER: H256 = H256([69; 32]);

/// `frame_system::AccountInfo`: the nonce, reference counts and balance data of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccountInfo {
    pub nonce: Nonce,
    /// Modules depending on the account staying alive (e.g. balance locks).
    pub consumers: u32,
    /// Modules keeping the account alive (Balances, while the balance is at least the
    /// existential deposit).
    pub providers: u32,
    pub sufficients: u32,
    pub data: AccountData,
}

/// When an event happened within its block (`frame_system::Phase`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Phase {
    ApplyExtrinsic(u32),
    Finalization,
    Initialization,
}

/// One event of the block (`frame_system::EventRecord`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EventRecord {
    pub phase: Phase,
    pub event: RuntimeEvent,
    pub topics: Vec<H256>,
}

impl TypeInfo for EventRecord {
    type Identity = Self;
    fn type_info() -> Type {
        // polkadot.js finds the runtime's event type through this exact path and its `E`
        // parameter.
        Type::builder()
            .path(Path::new("EventRecord", "frame_system"))
            .type_params(vec![
                TypeParameter::new("E", Some(meta_type::<RuntimeEvent>())),
                TypeParameter::new("T", Some(meta_type::<H256>())),
            ])
            .composite(
                Fields::named()
                    .field(|f| f.ty::<Phase>().name("phase").type_name("Phase"))
                    .field(|f| f.ty::<RuntimeEvent>().name("event").type_name("E"))
                    .field(|f| f.ty::<Vec<H256>>().name("topics").type_name("Vec<T>")),
            )
    }
}

/// `frame_system::LastRuntimeUpgradeInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct LastRuntimeUpgradeInfo {
    pub spec_version: Compact<u32>,
    pub spec_name: String,
}

impl Default for LastRuntimeUpgradeInfo {
    fn default() -> Self {
        LastRuntimeUpgradeInfo {
            spec_version: Compact(0),
            spec_name: String::new(),
        }
    }
}

/// Weight used in the current block per class (`PerDispatchClass<Weight>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct PerDispatchClass<T> {
    pub normal: T,
    pub operational: T,
    pub mandatory: T,
}

pub const ACCOUNT: StorageMap<AccountId32, AccountInfo> = StorageMap::new(
    MODULE,
    "Account",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" The full account information for a particular account ID."],
);
pub const EXTRINSIC_COUNT: StorageValue<u32> = StorageValue::new(
    MODULE,
    "ExtrinsicCount",
    Query::Optional,
    &[" Total extrinsics count for the current block."],
);
pub const BLOCK_WEIGHT: StorageValue<PerDispatchClass<phala_primitives::Weight>> =
    StorageValue::new(
        MODULE,
        "BlockWeight",
        Query::Default,
        &[" The current weight for the block."],
    );
pub const BLOCK_HASH: StorageMap<BlockNumber, H256> = StorageMap::new(
    MODULE,
    "BlockHash",
    Hasher::Twox64Concat,
    Query::Default,
    &[" Map of block numbers to block hashes."],
);
pub const NUMBER: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "Number",
    Query::Default,
    &[" The current block number being processed."],
);
pub const PARENT_HASH: StorageValue<H256> = StorageValue::new(
    MODULE,
    "ParentHash",
    Query::Default,
    &[" Hash of the previous block."],
);
pub const EVENTS: StorageValue<Vec<EventRecord>> = StorageValue::new(
    MODULE,
    "Events",
    Query::Default,
    &[" Events deposited for the current block."],
);
pub const EVENT_COUNT: StorageValue<u32> = StorageValue::new(
    MODULE,
    "EventCount",
    Query::Default,
    &[" The number of events in the `Events<T>` list."],
);
pub const LAST_RUNTIME_UPGRADE: StorageValue<LastRuntimeUpgradeInfo> = StorageValue::new(
    MODULE,
    "LastRuntimeUpgrade",
    Query::Optional,
    &[" Stores the `spec_version` and `spec_name` of when the last runtime upgrade happened."],
);

pub fn account(ext: &Ext, who: &AccountId32) -> AccountInfo {
    ACCOUNT.get_or_default(ext, who)
}

/// Whether the account exists (something provides for it).
pub fn account_exists(ext: &Ext, who: &AccountId32) -> bool {
    let info = account(ext, who);
    info.providers > 0 || info.sufficients > 0
}

/// Stores account info, creating the account (`NewAccount`) or reaping it (`KilledAccount`)
/// as its provider count crosses zero. A reaped account loses its nonce, as in Substrate.
pub fn set_account(ext: &mut Ext, who: &AccountId32, info: AccountInfo) {
    let existed = account_exists(ext, who);
    let exists = info.providers > 0 || info.sufficients > 0;
    match (existed, exists) {
        (_, true) => {
            ACCOUNT.insert(ext, who, &info);
            if !existed {
                ext.deposit_event(Event::NewAccount { account: *who });
            }
        }
        (true, false) => {
            ACCOUNT.remove(ext, who);
            ext.deposit_event(Event::KilledAccount { account: *who });
        }
        (false, false) => ACCOUNT.remove(ext, who),
    }
}

pub fn inc_nonce(ext: &mut Ext, who: &AccountId32) {
    let mut info = account(ext, who);
    info.nonce = info.nonce.wrapping_add(1);
    ACCOUNT.insert(ext, who, &info);
}

pub fn block_number(ext: &Ext) -> BlockNumber {
    NUMBER.get_or_default(ext)
}

/// Hash of a recent block (within [`BLOCK_HASH_COUNT`]) or of genesis.
pub fn block_hash(ext: &Ext, number: BlockNumber) -> Option<H256> {
    BLOCK_HASH.get(ext, &number)
}

pub const SCHEDULED_UPGRADE: StorageValue<(u32, BlockNumber)> = StorageValue::new(
    MODULE,
    "ScheduledUpgrade",
    Query::Optional,
    &[" The runtime spec version the chain switches to, and the block it does at."],
);

pub const LAST_UPGRADE_AT: StorageValue<BlockNumber> = StorageValue::new(
    MODULE,
    "LastUpgradeAt",
    Query::Optional,
    &[" The block the runtime version in force took effect at (none: genesis)."],
);

/// Blocks an upgrade must be scheduled ahead, at least: nodes that lack the version warn
/// their operators from the scheduling block on. (Referenda give days.)
pub const MIN_UPGRADE_LEAD: BlockNumber = 10;

/// The runtime spec version in force: genesis's, then each upgrade's.
pub fn active_spec_version(ext: &Ext) -> u32 {
    LAST_RUNTIME_UPGRADE
        .get(ext)
        .map(|u| u.spec_version.0)
        .unwrap_or(crate::version::SPEC_VERSION)
}

/// An upgrade this runtime cannot run: the version the chain needs and the block it
/// needs it from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsupportedUpgrade {
    pub spec_version: u32,
    pub at_block: BlockNumber,
    /// The newest version the node has.
    pub newest: u32,
}

impl core::fmt::Display for UnsupportedUpgrade {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the chain switches to runtime spec version {} at block #{}, and this node runs \
             spec version {} at most: install a phala release that supports spec version {} \
             and start it on the same base path (nothing is lost; it resumes from the last \
             finalized block)",
            self.spec_version, self.at_block, self.newest, self.spec_version
        )
    }
}

/// The version the next block runs with: the one in force, or the scheduled one if the
/// next block is its switch (what Substrate reports at a block: the runtime its successor
/// executes, so clients sign the switch block's transactions right).
pub fn next_block_spec_version(ext: &Ext) -> u32 {
    let next = block_number(ext).saturating_add(1);
    match SCHEDULED_UPGRADE.get(ext) {
        Some((spec_version, at_block))
            if at_block == next && spec_version <= crate::version::NEWEST_SPEC_VERSION =>
        {
            spec_version
        }
        _ => active_spec_version(ext),
    }
}

/// What a node whose newest runtime version is `newest` cannot run: the version already in
/// force (an older release started on an upgraded chain), or the scheduled one.
pub fn unsupported_upgrade(ext: &Ext, newest: u32) -> Option<UnsupportedUpgrade> {
    let active = active_spec_version(ext);
    if active > newest {
        return Some(UnsupportedUpgrade {
            spec_version: active,
            at_block: LAST_UPGRADE_AT.get(ext).unwrap_or(0),
            newest,
        });
    }
    let (spec_version, at_block) = SCHEDULED_UPGRADE.get(ext)?;
    (spec_version > newest).then_some(UnsupportedUpgrade {
        spec_version,
        at_block,
        newest,
    })
}

/// Block start at a scheduled upgrade's block: switches to it if this runtime has it,
/// and refuses the block otherwise (the node stops before it, never forking).
fn apply_upgrade(ext: &mut Ext, number: BlockNumber) {
    // An older build than the chain's runtime must not execute its blocks at all.
    let active = active_spec_version(ext);
    if active > crate::version::NEWEST_SPEC_VERSION {
        ext.poison(
            UnsupportedUpgrade {
                spec_version: active,
                at_block: LAST_UPGRADE_AT.get(ext).unwrap_or(0),
                newest: crate::version::NEWEST_SPEC_VERSION,
            }
            .to_string(),
        );
        return;
    }
    let Some((spec_version, at_block)) = SCHEDULED_UPGRADE.get(ext) else {
        return;
    };
    if at_block != number {
        return;
    }
    if spec_version > crate::version::NEWEST_SPEC_VERSION {
        ext.poison(
            UnsupportedUpgrade {
                spec_version,
                at_block,
                newest: crate::version::NEWEST_SPEC_VERSION,
            }
            .to_string(),
        );
        return;
    }
    SCHEDULED_UPGRADE.kill(ext);
    LAST_UPGRADE_AT.put(ext, &number);
    LAST_RUNTIME_UPGRADE.put(
        ext,
        &LastRuntimeUpgradeInfo {
            spec_version: spec_version.into(),
            spec_name: crate::version::SPEC_NAME.into(),
        },
    );
    ext.deposit_event(Event::CodeUpdated);
}

/// Starts a block: records the parent's hash, forgets hashes older than the mortality window
/// and clears the previous block's bookkeeping.
pub fn initialize(ext: &mut Ext, number: BlockNumber, parent_hash: H256) {
    apply_upgrade(ext, number);
    NUMBER.put(ext, &number);
    PARENT_HASH.put(ext, &parent_hash);
    if let Some(parent_number) = number.checked_sub(1) {
        BLOCK_HASH.insert(ext, &parent_number, &parent_hash);
    }
    // Block 0's hash stays forever: immortal transactions are signed against it.
    if let Some(old) = number.checked_sub(BLOCK_HASH_COUNT.saturating_add(1))
        && old != 0
    {
        BLOCK_HASH.remove(ext, &old);
    }
    EXTRINSIC_COUNT.kill(ext);
    BLOCK_WEIGHT.kill(ext);
}

/// Ends a block: writes its events and counters.
pub fn finalize(
    ext: &mut Ext,
    extrinsic_count: u32,
    weight: PerDispatchClass<phala_primitives::Weight>,
) {
    EXTRINSIC_COUNT.put(ext, &extrinsic_count);
    BLOCK_WEIGHT.put(ext, &weight);
    let events = ext.take_events();
    EVENT_COUNT.put(ext, &u32::try_from(events.len()).unwrap_or(u32::MAX));
    EVENTS.put(ext, &events);
}

/// Storage entries for metadata, in declaration order.
pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        ACCOUNT.metadata(),
        EXTRINSIC_COUNT.metadata(),
        BLOCK_WEIGHT.metadata(),
        BLOCK_HASH.metadata(),
        NUMBER.metadata(),
        PARENT_HASH.metadata(),
        EVENTS.metadata(),
        EVENT_COUNT.metadata(),
        LAST_RUNTIME_UPGRADE.metadata(),
        SCHEDULED_UPGRADE.metadata(),
        LAST_UPGRADE_AT.metadata(),
    ]
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    use crate::metadata::{BlockLength, RuntimeDbWeight, block_weights};
    use crate::modules::weights;
    crate::metadata::ModuleMetadata {
        name: "System",
        index: crate::modules::index::SYSTEM,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![
            crate::metadata::constant(
                "BlockWeights",
                &block_weights(),
                " Block & extrinsics weights: base values and limits.",
            ),
            crate::metadata::constant(
                "BlockLength",
                &BlockLength {
                    max: PerDispatchClass {
                        normal: weights::max_normal_length(),
                        operational: weights::MAX_BLOCK_LENGTH,
                        mandatory: weights::MAX_BLOCK_LENGTH,
                    },
                },
                " The maximum length of a block (in bytes).",
            ),
            crate::metadata::constant(
                "BlockHashCount",
                &BLOCK_HASH_COUNT,
                " Maximum number of block number to block hash mappings to keep (oldest pruned first).",
            ),
            crate::metadata::constant(
                "DbWeight",
                &RuntimeDbWeight {
                    read: weights::DB_READ,
                    write: weights::DB_WRITE,
                },
                " The weight of runtime database operations the runtime can invoke.",
            ),
            crate::metadata::constant(
                "Version",
                &crate::version::version(),
                " Get the chain's in-code version.",
            ),
            crate::metadata::constant(
                "SS58Prefix",
                &phala_primitives::SS58_PREFIX,
                " The designated SS58 prefix of this chain.",
            ),
        ],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Accounts, nonces, block numbers and hashes, events, and runtime upgrades.",
    }
}
