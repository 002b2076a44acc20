//! Weights: how much block time each operation costs, in picoseconds of reference hardware
//! (`ref_time`).
//!
//! Measured on a 2-core Intel Xeon VM (2026-11-26): `benches/runtime.rs` applies a signed
//! transfer in 63 µs on an in-memory state (47 µs of it the sr25519 check); a release node
//! builds, executes, commits and serves blocks of 1,595 transfers with ~160 µs of work per
//! transfer end to end. A transfer is charged 235 µs below (base 120 µs + call 115 µs),
//! about 1.5× the measured cost, so a full block leaves the node headroom.

use phala_primitives::Weight;

use crate::dispatch::DispatchClass;

/// One storage read through the flat state table.
pub const DB_READ: u64 = 10_000_000;
/// One storage write (overlay plus its later share of the trie update and commit).
pub const DB_WRITE: u64 = 40_000_000;

/// Every signed extrinsic: decoding, one sr25519 verification, nonce and fee handling.
pub const EXTRINSIC_BASE: Weight = Weight::from_parts(120_000_000, 0);

/// Fixed cost of building and finishing a block.
pub const BLOCK_BASE: Weight = Weight::from_parts(2_000_000_000, 0);

/// Block weight limit: half of a 1 s block for execution, the rest for consensus and commit.
pub const MAX_BLOCK: Weight = Weight::from_parts(500_000_000_000, u64::MAX);

/// Share of the block for normal (user) transactions; the rest is reserved for operational
/// and mandatory ones.
pub const NORMAL_RATIO_PERCENT: u64 = 75;

/// Byte limit of a block, and the share normal transactions may fill.
pub const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

pub const fn reads_writes(reads: u64, writes: u64) -> Weight {
    Weight::from_parts(
        DB_READ
            .saturating_mul(reads)
            .saturating_add(DB_WRITE.saturating_mul(writes)),
        0,
    )
}

pub const fn compute(ref_time: u64) -> Weight {
    Weight::from_parts(ref_time, 0)
}

/// Sum of two weights, usable in constants.
pub const fn add(a: Weight, b: Weight) -> Weight {
    Weight::from_parts(
        a.ref_time.saturating_add(b.ref_time),
        a.proof_size.saturating_add(b.proof_size),
    )
}

pub fn max_normal_block() -> Weight {
    Weight::from_parts(
        (MAX_BLOCK.ref_time / 100).saturating_mul(NORMAL_RATIO_PERCENT),
        u64::MAX,
    )
}

pub fn max_normal_length() -> u32 {
    (MAX_BLOCK_LENGTH / 100).saturating_mul(NORMAL_RATIO_PERCENT as u32)
}

/// The most weight (base included) and bytes one transaction of `class` may have. Operational
/// transactions may use the room kept above normal ones' share, as the metadata's
/// `BlockWeights` and `BlockLength` announce.
pub fn max_extrinsic(class: DispatchClass) -> (Weight, u32) {
    match class {
        DispatchClass::Normal => (max_normal_block(), max_normal_length()),
        DispatchClass::Operational | DispatchClass::Mandatory => (MAX_BLOCK, MAX_BLOCK_LENGTH),
    }
}
