//! The gas schedule. One unit of gas is one unit of wasmi fuel (about one wasm instruction);
//! host functions charge fixed amounts in the same unit so that a contract pays for the work
//! it makes the host do. The numbers are part of consensus between a cluster's workers:
//! changing one changes which commands run out of gas.

/// Every host function call.
pub const HOST_CALL: u64 = 200;
/// Per 64 bytes copied between the contract's memory and the host (rounded up).
pub const COPY_PER_64_BYTES: u64 = 1;
pub const STORAGE_READ: u64 = 2_000;
pub const STORAGE_WRITE: u64 = 5_000;
/// Per byte written to storage, on top of [`STORAGE_WRITE`].
pub const STORAGE_PER_BYTE: u64 = 2;
pub const EVENT: u64 = 2_000;
pub const EVENT_PER_TOPIC: u64 = 500;
pub const EVENT_PER_BYTE: u64 = 1;
pub const HASH: u64 = 300;
/// Per 8 bytes hashed.
pub const HASH_PER_8_BYTES: u64 = 1;
pub const CALL: u64 = 20_000;
pub const INSTANTIATE: u64 = 50_000;
/// Per byte of the instantiated code: loading and instantiating scale with its size.
pub const INSTANTIATE_PER_CODE_BYTE: u64 = 1;
/// Per 8 bytes of a frame's code, for loading and instantiating it.
pub const LOAD_PER_8_CODE_BYTES: u64 = 1;
/// Per byte a cache operation stores, on top of [`CACHE_OP`].
pub const CACHE_PER_BYTE: u64 = 1;
pub const SIGNATURE: u64 = 60_000;
pub const KEY_DERIVATION: u64 = 30_000;
pub const HTTP_REQUEST: u64 = 100_000;
pub const CACHE_OP: u64 = 5_000;
pub const LOG: u64 = 1_000;

/// `bytes.div_ceil(64) * per`, saturating: a cost can only grow.
pub fn per_64(bytes: usize, per: u64) -> u64 {
    (bytes as u64).div_ceil(64).saturating_mul(per)
}

/// `bytes * per`, saturating.
pub fn per_byte(bytes: usize, per: u64) -> u64 {
    (bytes as u64).saturating_mul(per)
}

/// `bytes.div_ceil(8) * per`, saturating.
pub fn per_8(bytes: usize, per: u64) -> u64 {
    (bytes as u64).div_ceil(8).saturating_mul(per)
}
