//! The chain modules, each in FRAME's shape: `calls` (the call enum with stable indices and
//! its dispatch), `events`, `errors`, typed storage items in `mod.rs`, and `tests`.
//!
//! Modules talk to each other only through the functions their `mod.rs` exports, and their
//! dependencies run one way: `system` ← `balances` ← `transaction_payment`, `validators`;
//! `message_queue` ← `registry` ← `contracts`. Where a lower module needs a higher one it
//! declares a trait (`message_queue::Config`, `registry::WorkerHooks`) that the runtime's
//! root implements in [`crate::wiring`].

pub mod analytics;
pub mod balances;
pub mod bridge;
pub mod computation;
pub mod contracts;
pub mod conviction_voting;
pub mod message_queue;
pub mod preimage;
pub mod referenda;
pub mod registry;
pub mod scheduler;
pub mod stake_pools;
pub mod sudo;
pub mod system;
pub mod timestamp;
pub mod transaction_payment;
pub mod treasury;
pub mod validators;
pub mod weights;

use phala_primitives::AccountId32;

/// Every module's metadata, in index order: the one list metadata V14 and V15 are built from.
/// A new module adds its `metadata()` here, its call and event to `RuntimeCall` and
/// `RuntimeEvent`, and its error to `metadata::RuntimeError`; a test checks they agree.
pub fn all() -> Vec<crate::metadata::ModuleMetadata> {
    vec![
        system::metadata(),
        timestamp::metadata(),
        balances::metadata(),
        transaction_payment::metadata(),
        validators::metadata(),
        registry::metadata(),
        message_queue::metadata(),
        contracts::metadata(),
        computation::metadata(),
        stake_pools::metadata(),
        preimage::metadata(),
        scheduler::metadata(),
        treasury::metadata(),
        conviction_voting::metadata(),
        referenda::metadata(),
        crate::origin::metadata(),
        analytics::metadata(),
        bridge::metadata(),
        sudo::metadata(),
    ]
}

/// Module indices: the first byte of every call and event, and the index in metadata and in
/// module errors. Never reuse or reorder.
pub mod index {
    pub const SYSTEM: u8 = 0;
    pub const TIMESTAMP: u8 = 1;
    pub const BALANCES: u8 = 2;
    pub const TRANSACTION_PAYMENT: u8 = 3;
    pub const VALIDATORS: u8 = 4;
    pub const REGISTRY: u8 = 5;
    pub const MESSAGE_QUEUE: u8 = 6;
    pub const CONTRACTS: u8 = 7;
    pub const COMPUTATION: u8 = 8;
    pub const STAKE_POOLS: u8 = 9;
    pub const PREIMAGE: u8 = 10;
    /// Polkadot's scheduler is 1, which is `Timestamp` here.
    pub const SCHEDULER: u8 = 11;
    pub const TREASURY: u8 = 19;
    pub const CONVICTION_VOTING: u8 = 20;
    pub const REFERENDA: u8 = 21;
    /// Governance's origins (no calls or storage: only the `OriginCaller` variant).
    pub const ORIGINS: u8 = 22;
    pub const ANALYTICS: u8 = 23;
    pub const BRIDGE: u8 = 24;
    /// Development chains only: live chains have no key.
    pub const SUDO: u8 = 30;
}

/// The account of a module, as Substrate derives it from a `PalletId`:
/// `"modl" ‖ id ‖ zero padding`.
pub const fn module_account(id: [u8; 8]) -> AccountId32 {
    let [a, b, c, d, e, f, g, h] = id;
    #[rustfmt::skip]
    let bytes = [
        b'm', b'o', b'd', b'l', a, b, c, d, e, f, g, h,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    AccountId32(bytes)
}

/// Where transaction fees, contract gas, forfeited command deposits and validators' slashes
/// go: Substrate's treasury account.
pub const TREASURY_ACCOUNT: AccountId32 = module_account(*b"py/trsry");

/// Holds the computation rewards not yet paid out (70 % of the supply at genesis).
pub const REWARD_POOL_ACCOUNT: AccountId32 = module_account(*b"phala/rp");
