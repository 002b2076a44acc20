//! Bounds-checked access to a contract's linear memory from host functions, and the ways a
//! host function stops the contract. Every pointer a contract passes is checked here; an
//! out-of-bounds pointer or a too-small output buffer traps (as in pallet-contracts) rather
//! than being truncated or wrapped.

use wasmi::{Caller, Error};

use crate::exec::HostState;
use crate::gas;

/// `u32::MAX` as an output pointer: "do not copy the output back".
pub const SENTINEL: u32 = u32::MAX;

/// Why a host function stopped the contract. Carried through wasmi as a host error.
#[derive(Debug, thiserror::Error)]
pub enum HostExit {
    /// `seal_return`: a normal end, possibly reverting.
    #[error("returned with flags {flags}")]
    Return { flags: u32, data: Vec<u8> },
    /// `terminate`: a normal end; the contract is gone.
    #[error("terminated")]
    Terminated,
    #[error("out of gas")]
    OutOfGas,
    #[error("the query ran past its deadline")]
    Timeout,
    #[error("{0}")]
    Trap(String),
}

impl wasmi::errors::HostError for HostExit {}

pub fn trap(reason: impl Into<String>) -> Error {
    Error::host(HostExit::Trap(reason.into()))
}

/// Charges `amount` gas, trapping with out-of-gas (and no fuel left) if there is not enough.
/// A query past its deadline stops here too, so no host call outlives it for long.
pub fn charge(caller: &mut Caller<'_, HostState>, amount: u64) -> Result<(), Error> {
    if let Some(world) = caller.data().world.as_ref()
        && world
            .ctx
            .deadline
            .is_some_and(|deadline| std::time::Instant::now() > deadline)
    {
        return Err(Error::host(HostExit::Timeout));
    }
    let fuel = caller.get_fuel()?;
    match fuel.checked_sub(amount) {
        Some(left) => caller.set_fuel(left),
        None => {
            caller.set_fuel(0)?;
            Err(Error::host(HostExit::OutOfGas))
        }
    }
}

fn memory(caller: &Caller<'_, HostState>) -> Result<wasmi::Memory, Error> {
    caller
        .data()
        .memory
        .ok_or_else(|| trap("the contract's memory is not set up"))
}

/// The contract's memory size in bytes.
pub fn memory_len(caller: &Caller<'_, HostState>) -> Result<usize, Error> {
    Ok(memory(caller)?.data(caller).len())
}

/// Reads `len` bytes at `ptr`, charging for the copy.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
    charge(caller, gas::per_64(len as usize, gas::COPY_PER_64_BYTES))?;
    let memory = memory(caller)?;
    let data = memory.data(&*caller);
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or_else(|| trap("memory access out of bounds"))?;
    data.get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| trap("memory access out of bounds"))
}

/// Reads a fixed-size value (an account id, a hash, a balance) at `ptr`.
pub fn read_array<const N: usize>(
    caller: &mut Caller<'_, HostState>,
    ptr: u32,
) -> Result<[u8; N], Error> {
    let bytes = read(caller, ptr, N as u32)?;
    bytes
        .try_into()
        .map_err(|_| trap("memory access out of bounds"))
}

pub fn read_u128(caller: &mut Caller<'_, HostState>, ptr: u32) -> Result<u128, Error> {
    Ok(u128::from_le_bytes(read_array::<16>(caller, ptr)?))
}

/// Writes `bytes` at `ptr`.
pub fn write(caller: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8]) -> Result<(), Error> {
    charge(caller, gas::per_64(bytes.len(), gas::COPY_PER_64_BYTES))?;
    let memory = memory(caller)?;
    memory
        .write(&mut *caller, ptr as usize, bytes)
        .map_err(|_| trap("memory access out of bounds"))
}

/// Writes `bytes` to an `(out_ptr, out_len_ptr)` pair: `*out_len_ptr` holds the capacity on
/// entry and the length written on exit. With `allow_skip`, an `out_ptr` of [`SENTINEL`]
/// skips the copy.
pub fn write_out(
    caller: &mut Caller<'_, HostState>,
    out_ptr: u32,
    out_len_ptr: u32,
    bytes: &[u8],
    allow_skip: bool,
) -> Result<(), Error> {
    if allow_skip && out_ptr == SENTINEL {
        return Ok(());
    }
    let capacity = u32::from_le_bytes(read_array::<4>(caller, out_len_ptr)?);
    let len = u32::try_from(bytes.len()).map_err(|_| trap("output too large"))?;
    if len > capacity {
        return Err(trap(format!(
            "output buffer too small: {len} bytes into {capacity}"
        )));
    }
    write(caller, out_ptr, bytes)?;
    write(caller, out_len_ptr, &len.to_le_bytes())
}
