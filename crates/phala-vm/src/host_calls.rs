//! Cross-contract host functions: `call` (seal0/1/2), `delegate_call`, `instantiate`
//! (seal0/1/2), `terminate`, `transfer` and `set_code_hash`. A callee runs in its own frame
//! with a slice of the caller's gas; what it leaves comes back. Errors that pallet-contracts
//! reports as return codes are return codes here, and the ones it traps on trap.

use wasmi::{Caller, Error};

use crate::exec::{self, Frame, FrameEnd, HostState, MAX_CALL_DEPTH};
use crate::host::{Builder, world};
use crate::mem::{HostExit, charge, read, read_array, read_u128, trap, write_out};
use crate::world::{AccountId, ContractInfo};
use crate::{ExecError, ReturnCode, gas};

pub const FORWARD_INPUT: u32 = 0x1;
pub const CLONE_INPUT: u32 = 0x2;
pub const TAIL_CALL: u32 = 0x4;
pub const ALLOW_REENTRY: u32 = 0x8;
pub const READ_ONLY: u32 = 0x10;
const ALL_FLAGS: u32 = FORWARD_INPUT | CLONE_INPUT | TAIL_CALL | ALLOW_REENTRY | READ_ONLY;

enum Target {
    Contract(AccountId),
    /// Another code run on the caller's own storage.
    Delegate([u8; 32]),
}

struct CallArgs {
    flags: u32,
    target: Target,
    gas: u64,
    value: u128,
    input_ptr: u32,
    input_len: u32,
    out_ptr: u32,
    out_len_ptr: u32,
}

/// Gives a callee `requested` gas (0 = all that is left), taken from the caller now.
fn reserve_gas(caller: &mut Caller<'_, HostState>, requested: u64) -> Result<u64, Error> {
    let left = caller.get_fuel()?;
    let budget = if requested == 0 {
        left
    } else {
        requested.min(left)
    };
    caller.set_fuel(left.saturating_sub(budget))?;
    Ok(budget)
}

/// Runs a nested frame with the world moved out of the caller, then puts both back.
fn nested(
    caller: &mut Caller<'_, HostState>,
    requested_gas: u64,
    run: impl FnOnce(&std::sync::Arc<exec::Shared>, Box<exec::World>, u64) -> FrameEnd,
) -> Result<Result<crate::ExecReturn, ExecError>, Error> {
    let shared = caller
        .data()
        .shared
        .clone()
        .ok_or_else(|| trap("no VM to run a callee in"))?;
    let world = caller
        .data_mut()
        .world
        .take()
        .ok_or_else(|| trap("the execution state is missing"))?;
    if world.stack.len() >= MAX_CALL_DEPTH {
        caller.data_mut().world = Some(world);
        return Err(trap("call depth limit reached"));
    }
    let budget = match reserve_gas(caller, requested_gas) {
        Ok(budget) => budget,
        Err(e) => {
            caller.data_mut().world = Some(world);
            return Err(e);
        }
    };
    let end = run(&shared, world, budget);
    caller.data_mut().world = end.world;
    let left = caller.get_fuel()?;
    caller.set_fuel(left.saturating_add(end.fuel_left))?;
    if caller.data().world.is_none() {
        return Err(trap("a callee lost the execution state"));
    }
    // A query past its deadline stops everything, not just the callee.
    if matches!(end.result, Err(ExecError::Timeout)) {
        return Err(Error::host(HostExit::Timeout));
    }
    Ok(end.result)
}

fn do_call(caller: &mut Caller<'_, HostState>, args: CallArgs) -> Result<u32, Error> {
    charge(caller, gas::CALL)?;
    if args.flags & !ALL_FLAGS != 0 {
        return Err(trap(format!("invalid call flags {:#x}", args.flags)));
    }
    if matches!(args.target, Target::Delegate(_)) && args.flags & (ALLOW_REENTRY | READ_ONLY) != 0 {
        return Err(trap(
            "delegate_call does not take ALLOW_REENTRY or READ_ONLY",
        ));
    }
    let input = if args.flags & CLONE_INPUT != 0 {
        caller
            .data()
            .frame
            .input
            .clone()
            .ok_or_else(|| trap("the input was already forwarded"))?
    } else if args.flags & FORWARD_INPUT != 0 {
        caller
            .data_mut()
            .frame
            .input
            .take()
            .ok_or_else(|| trap("the input was already forwarded"))?
    } else {
        read(caller, args.input_ptr, args.input_len)?
    };
    if args.value != 0 {
        return Ok(ReturnCode::TransferFailed as u32);
    }
    let frame = &caller.data().frame;
    let read_only = frame.read_only || args.flags & READ_ONLY != 0;
    let (me, my_caller, my_value, constructing) =
        (frame.address, frame.caller, frame.value, frame.constructing);
    let callee = match args.target {
        Target::Contract(callee) => {
            let world = world(caller)?;
            let Some(info) = world.overlay.contract(&callee) else {
                return Ok(ReturnCode::NotCallable as u32);
            };
            if args.flags & ALLOW_REENTRY == 0 && world.stack.contains(&callee) {
                return Err(trap("reentrance denied: the callee is already executing"));
            }
            Frame {
                address: callee,
                code_hash: info.code_hash,
                caller: me,
                input: Some(input),
                value: 0,
                read_only,
                constructing: false,
            }
        }
        Target::Delegate(code_hash) => {
            if world(caller)?.overlay.code(&code_hash).is_none() {
                return Ok(ReturnCode::CodeNotFound as u32);
            }
            Frame {
                address: me,
                code_hash,
                caller: my_caller,
                input: Some(input),
                value: my_value,
                read_only,
                // Delegated code still runs on the (unfinished) caller.
                constructing,
            }
        }
    };
    let result = nested(caller, args.gas, |shared, world, fuel| {
        exec::run_frame(shared, world, callee, "call", fuel)
    })?;
    match result {
        Ok(output) => {
            if args.flags & TAIL_CALL != 0 && !output.is_revert() {
                return Err(Error::host(HostExit::Return {
                    flags: output.flags,
                    data: output.data,
                }));
            }
            write_out(caller, args.out_ptr, args.out_len_ptr, &output.data, true)?;
            Ok(if output.is_revert() {
                ReturnCode::CalleeReverted as u32
            } else {
                ReturnCode::Success as u32
            })
        }
        Err(ExecError::CodeNotFound(_)) => Ok(ReturnCode::CodeNotFound as u32),
        Err(ExecError::ContractNotFound(_)) => Ok(ReturnCode::NotCallable as u32),
        Err(_) => Ok(ReturnCode::CalleeTrapped as u32),
    }
}

struct InstantiateArgs {
    code_hash_ptr: u32,
    gas: u64,
    value: u128,
    input_ptr: u32,
    input_len: u32,
    address_ptr: u32,
    address_len_ptr: u32,
    out_ptr: u32,
    out_len_ptr: u32,
    salt_ptr: u32,
    salt_len: u32,
}

fn do_instantiate(caller: &mut Caller<'_, HostState>, args: InstantiateArgs) -> Result<u32, Error> {
    charge(caller, gas::INSTANTIATE)?;
    if caller.data().frame.read_only {
        return Err(trap("instantiate in a read-only call"));
    }
    let code_hash = read_array::<32>(caller, args.code_hash_ptr)?;
    let input = read(caller, args.input_ptr, args.input_len)?;
    let salt = read(caller, args.salt_ptr, args.salt_len)?;
    if args.value != 0 {
        return Ok(ReturnCode::TransferFailed as u32);
    }
    let Some(code) = world(caller)?.overlay.code(&code_hash) else {
        return Ok(ReturnCode::CodeNotFound as u32);
    };
    charge(
        caller,
        gas::per_byte(code.len(), gas::INSTANTIATE_PER_CODE_BYTE),
    )?;
    let deployer = caller.data().frame.address;
    let mut address = [0u8; 32];
    let result = nested(caller, args.gas, |shared, world, fuel| {
        let (new, end) =
            exec::instantiate_contract(shared, world, deployer, code_hash, &salt, input, fuel);
        address = new;
        end
    })?;
    match result {
        Ok(output) => {
            if !output.is_revert() {
                write_out(
                    caller,
                    args.address_ptr,
                    args.address_len_ptr,
                    &address,
                    true,
                )?;
            }
            write_out(caller, args.out_ptr, args.out_len_ptr, &output.data, true)?;
            Ok(if output.is_revert() {
                ReturnCode::CalleeReverted as u32
            } else {
                ReturnCode::Success as u32
            })
        }
        Err(ExecError::CodeNotFound(_)) => Ok(ReturnCode::CodeNotFound as u32),
        Err(ExecError::DuplicateContract(_)) => Err(trap(
            "a contract with this code, deployer and salt already exists",
        )),
        Err(_) => Ok(ReturnCode::CalleeTrapped as u32),
    }
}

fn terminate(caller: &mut Caller<'_, HostState>, beneficiary: u32) -> Result<(), Error> {
    charge(caller, gas::CALL)?;
    let beneficiary = read_array::<32>(caller, beneficiary)?;
    let frame = &caller.data().frame;
    if frame.read_only {
        return Err(trap("terminate in a read-only call"));
    }
    // As in pallet-contracts: a contract cannot end before it exists, nor leave its balance
    // to its own id, which nobody can sign for.
    if frame.constructing {
        return Err(trap("terminate in a constructor"));
    }
    let address = frame.address;
    if beneficiary == address {
        return Err(trap("terminate names the contract itself as beneficiary"));
    }
    let world = world(caller)?;
    if world.stack.iter().filter(|a| **a == address).count() > 1 {
        return Err(trap("a contract cannot terminate while it is reentered"));
    }
    world.overlay.terminate(address, beneficiary);
    Err(Error::host(HostExit::Terminated))
}

pub(crate) fn register(t: &mut Builder) {
    t.add(
        "seal0",
        "call",
        |mut c: Caller<'_, HostState>,
         callee: u32,
         callee_len: u32,
         gas: u64,
         value: u32,
         value_len: u32,
         input: u32,
         input_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            if callee_len != 32 || value_len != 16 {
                return Err(trap("call takes a 32-byte account and a 16-byte value"));
            }
            let callee = read_array::<32>(&mut c, callee)?;
            let value = read_u128(&mut c, value)?;
            do_call(
                &mut c,
                CallArgs {
                    flags: ALLOW_REENTRY,
                    target: Target::Contract(callee),
                    gas,
                    value,
                    input_ptr: input,
                    input_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                },
            )
        },
    );
    t.add(
        "seal1",
        "call",
        |mut c: Caller<'_, HostState>,
         flags: u32,
         callee: u32,
         gas: u64,
         value: u32,
         input: u32,
         input_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            let callee = read_array::<32>(&mut c, callee)?;
            let value = read_u128(&mut c, value)?;
            do_call(
                &mut c,
                CallArgs {
                    flags,
                    target: Target::Contract(callee),
                    gas,
                    value,
                    input_ptr: input,
                    input_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                },
            )
        },
    );
    t.add(
        "seal2",
        "call",
        |mut c: Caller<'_, HostState>,
         flags: u32,
         callee: u32,
         ref_time: u64,
         _proof_size: u64,
         _deposit: u32,
         value: u32,
         input: u32,
         input_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            let callee = read_array::<32>(&mut c, callee)?;
            let value = read_u128(&mut c, value)?;
            do_call(
                &mut c,
                CallArgs {
                    flags,
                    target: Target::Contract(callee),
                    gas: ref_time,
                    value,
                    input_ptr: input,
                    input_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                },
            )
        },
    );
    t.add(
        "seal0",
        "delegate_call",
        |mut c: Caller<'_, HostState>,
         flags: u32,
         code_hash: u32,
         input: u32,
         input_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            let code_hash = read_array::<32>(&mut c, code_hash)?;
            do_call(
                &mut c,
                CallArgs {
                    flags,
                    target: Target::Delegate(code_hash),
                    gas: 0,
                    value: 0,
                    input_ptr: input,
                    input_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                },
            )
        },
    );
    t.add(
        "seal0",
        "instantiate",
        |mut c: Caller<'_, HostState>,
         code_hash: u32,
         code_hash_len: u32,
         gas: u64,
         value: u32,
         value_len: u32,
         input: u32,
         input_len: u32,
         address: u32,
         address_len: u32,
         out: u32,
         out_len: u32,
         salt: u32,
         salt_len: u32|
         -> Result<u32, Error> {
            if code_hash_len != 32 || value_len != 16 {
                return Err(trap(
                    "instantiate takes a 32-byte code hash and a 16-byte value",
                ));
            }
            let value = read_u128(&mut c, value)?;
            do_instantiate(
                &mut c,
                InstantiateArgs {
                    code_hash_ptr: code_hash,
                    gas,
                    value,
                    input_ptr: input,
                    input_len,
                    address_ptr: address,
                    address_len_ptr: address_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                    salt_ptr: salt,
                    salt_len,
                },
            )
        },
    );
    t.add(
        "seal1",
        "instantiate",
        |mut c: Caller<'_, HostState>,
         code_hash: u32,
         gas: u64,
         value: u32,
         input: u32,
         input_len: u32,
         address: u32,
         address_len: u32,
         out: u32,
         out_len: u32,
         salt: u32,
         salt_len: u32|
         -> Result<u32, Error> {
            let value = read_u128(&mut c, value)?;
            do_instantiate(
                &mut c,
                InstantiateArgs {
                    code_hash_ptr: code_hash,
                    gas,
                    value,
                    input_ptr: input,
                    input_len,
                    address_ptr: address,
                    address_len_ptr: address_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                    salt_ptr: salt,
                    salt_len,
                },
            )
        },
    );
    t.add(
        "seal2",
        "instantiate",
        |mut c: Caller<'_, HostState>,
         code_hash: u32,
         ref_time: u64,
         _proof_size: u64,
         _deposit: u32,
         value: u32,
         input: u32,
         input_len: u32,
         address: u32,
         address_len: u32,
         out: u32,
         out_len: u32,
         salt: u32,
         salt_len: u32|
         -> Result<u32, Error> {
            let value = read_u128(&mut c, value)?;
            do_instantiate(
                &mut c,
                InstantiateArgs {
                    code_hash_ptr: code_hash,
                    gas: ref_time,
                    value,
                    input_ptr: input,
                    input_len,
                    address_ptr: address,
                    address_len_ptr: address_len,
                    out_ptr: out,
                    out_len_ptr: out_len,
                    salt_ptr: salt,
                    salt_len,
                },
            )
        },
    );
    t.add(
        "seal0",
        "terminate",
        |mut c: Caller<'_, HostState>, beneficiary: u32, len: u32| -> Result<(), Error> {
            if len != 32 {
                return Err(trap("terminate takes a 32-byte beneficiary"));
            }
            terminate(&mut c, beneficiary)
        },
    );
    t.add(
        "seal1",
        "terminate",
        |mut c: Caller<'_, HostState>, beneficiary: u32| -> Result<(), Error> {
            terminate(&mut c, beneficiary)
        },
    );
    t.add(
        "seal0",
        "transfer",
        |mut c: Caller<'_, HostState>,
         to: u32,
         to_len: u32,
         value: u32,
         value_len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::CALL)?;
            if to_len != 32 || value_len != 16 {
                return Err(trap("transfer takes a 32-byte account and a 16-byte value"));
            }
            let _to = read_array::<32>(&mut c, to)?;
            // Clusters hold no balances: only a zero transfer can succeed.
            Ok(if read_u128(&mut c, value)? == 0 {
                ReturnCode::Success as u32
            } else {
                ReturnCode::TransferFailed as u32
            })
        },
    );
    t.add(
        "seal0",
        "set_code_hash",
        |mut c: Caller<'_, HostState>, code_hash: u32| -> Result<u32, Error> {
            charge(&mut c, gas::STORAGE_WRITE)?;
            let code_hash = read_array::<32>(&mut c, code_hash)?;
            let frame = &c.data().frame;
            if frame.read_only {
                return Err(trap("set_code_hash in a read-only call"));
            }
            let address = frame.address;
            let world = world(&mut c)?;
            if world.overlay.code(&code_hash).is_none() {
                return Ok(ReturnCode::CodeNotFound as u32);
            }
            let Some(info) = world.overlay.contract(&address) else {
                return Err(trap("the running contract has no record"));
            };
            world.overlay.set_contract(
                address,
                Some(ContractInfo {
                    code_hash,
                    deployer: info.deployer,
                }),
            );
            Ok(ReturnCode::Success as u32)
        },
    );
}
