//! The pallet-contracts host functions (docs/contracts-abi.md, *Host functions*): storage, input
//! and output, context getters, hashing, events, debug messages and signature checks. Calls and
//! instantiation are in `host_calls`, the pink chain extension in `pink`.
//!
//! Every function is linked under its name and under the legacy `seal_`-prefixed alias that
//! ink! 3 code imports, with the same signature and behaviour.

use std::collections::HashMap;

use parity_scale_codec::{Compact, Decode, Encode};
use wasmi::{Caller, Engine, Error, Func, FuncType, IntoFunc, Store};

use crate::exec::{HostState, World};
use crate::mem::{HostExit, SENTINEL, charge, read, read_array, trap, write, write_out};
use crate::world::ContractEvent;
use crate::{ReturnCode, gas};

/// Longest storage key.
pub const MAX_STORAGE_KEY_LEN: usize = 128;
/// Largest storage value, event data, input or output.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024;
/// Most topics on one event.
pub const MAX_EVENT_TOPICS: usize = 4;

type Maker = Box<dyn Fn(&mut Store<HostState>) -> Func + Send + Sync>;

/// Every host function, by (module, name), with its wasm type and a way to put it in a store.
pub(crate) struct HostTable {
    entries: Vec<(FuncType, Maker)>,
    index: HashMap<(String, String), usize>,
}

impl HostTable {
    pub fn new(engine: &Engine) -> Self {
        let mut table = Builder {
            table: HostTable {
                entries: Vec::new(),
                index: HashMap::new(),
            },
            store: Store::new(engine, HostState::placeholder()),
        };
        register(&mut table);
        crate::host_calls::register(&mut table);
        crate::pink::register(&mut table);
        table.table
    }

    pub fn find(&self, module: &str, name: &str) -> Option<usize> {
        self.index
            .get(&(module.to_string(), name.to_string()))
            .copied()
    }

    pub fn has_type(&self, index: usize, ty: &FuncType) -> bool {
        self.entries.get(index).is_some_and(|(own, _)| own == ty)
    }

    pub fn make(&self, index: usize, store: &mut Store<HostState>) -> Result<Func, Error> {
        let (_, make) = self
            .entries
            .get(index)
            .ok_or_else(|| trap("unknown host function"))?;
        Ok(make(store))
    }
}

pub(crate) struct Builder {
    table: HostTable,
    /// Only used to learn each function's wasm type.
    store: Store<HostState>,
}

impl Builder {
    /// Links `module.name` and its `seal_` alias.
    pub fn add<P, R, F>(&mut self, module: &str, name: &str, func: F)
    where
        F: IntoFunc<HostState, P, R> + Clone + Send + Sync + 'static,
    {
        self.add_one(module, name, func.clone());
        if !name.starts_with("seal_") {
            self.add_one(module, &format!("seal_{name}"), func);
        }
    }

    fn add_one<P, R, F>(&mut self, module: &str, name: &str, func: F)
    where
        F: IntoFunc<HostState, P, R> + Clone + Send + Sync + 'static,
    {
        let ty = Func::wrap(&mut self.store, func.clone()).ty(&self.store);
        let index = self.table.entries.len();
        self.table.entries.push((
            ty,
            Box::new(move |store: &mut Store<HostState>| Func::wrap(store, func.clone())),
        ));
        self.table
            .index
            .insert((module.to_string(), name.to_string()), index);
    }
}

/// The world of the running frame.
pub(crate) fn world<'a>(caller: &'a mut Caller<'_, HostState>) -> Result<&'a mut World, Error> {
    caller
        .data_mut()
        .world
        .as_deref_mut()
        .ok_or_else(|| trap("the execution state is missing"))
}

fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.len() > MAX_STORAGE_KEY_LEN {
        return Err(trap(format!(
            "storage key of {} bytes; the limit is {MAX_STORAGE_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

fn read_key(
    caller: &mut Caller<'_, HostState>,
    ptr: u32,
    len: Option<u32>,
) -> Result<Vec<u8>, Error> {
    let key = match len {
        Some(len) => {
            if len as usize > MAX_STORAGE_KEY_LEN {
                return Err(trap(format!(
                    "storage key of {len} bytes; the limit is {MAX_STORAGE_KEY_LEN}"
                )));
            }
            read(caller, ptr, len)?
        }
        None => read_array::<32>(caller, ptr)?.to_vec(),
    };
    check_key(&key)?;
    Ok(key)
}

fn read_payload(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
    if len as usize > MAX_PAYLOAD_LEN {
        return Err(trap(format!(
            "{len} bytes; values, events and outputs are limited to {MAX_PAYLOAD_LEN}"
        )));
    }
    read(caller, ptr, len)
}

pub(crate) fn read_only_guard(caller: &Caller<'_, HostState>) -> Result<(), Error> {
    if caller.data().frame.read_only {
        return Err(trap("state change in a read-only call"));
    }
    Ok(())
}

fn size_or_sentinel(value: Option<Vec<u8>>) -> u32 {
    value.map_or(SENTINEL, |v| v.len() as u32)
}

/// Writes (`Some`) or clears (`None`) a storage entry and returns the previous size.
fn set_storage(
    caller: &mut Caller<'_, HostState>,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
) -> Result<u32, Error> {
    read_only_guard(caller)?;
    let bytes = value.as_ref().map_or(0, Vec::len);
    charge(
        caller,
        gas::STORAGE_WRITE.saturating_add(gas::per_byte(
            bytes.saturating_add(key.len()),
            gas::STORAGE_PER_BYTE,
        )),
    )?;
    let address = caller.data().frame.address;
    let old = world(caller)?
        .overlay
        .set(&address, &key, value)
        .map_err(|e| trap(e.to_string()))?;
    Ok(size_or_sentinel(old))
}

fn get_storage(caller: &mut Caller<'_, HostState>, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    charge(caller, gas::STORAGE_READ)?;
    let address = caller.data().frame.address;
    Ok(world(caller)?.overlay.get(&address, key))
}

fn get_storage_out(
    caller: &mut Caller<'_, HostState>,
    key: &[u8],
    out_ptr: u32,
    out_len_ptr: u32,
) -> Result<u32, Error> {
    match get_storage(caller, key)? {
        Some(value) => {
            write_out(caller, out_ptr, out_len_ptr, &value, false)?;
            Ok(ReturnCode::Success as u32)
        }
        None => Ok(ReturnCode::KeyNotFound as u32),
    }
}

fn hash_into(
    caller: &mut Caller<'_, HostState>,
    input_ptr: u32,
    input_len: u32,
    output_ptr: u32,
    hash: fn(&[u8]) -> Vec<u8>,
) -> Result<(), Error> {
    charge(
        caller,
        gas::HASH.saturating_add(gas::per_8(input_len as usize, gas::HASH_PER_8_BYTES)),
    )?;
    let input = read(caller, input_ptr, input_len)?;
    write(caller, output_ptr, &hash(&input))
}

/// The host functions of pallet-contracts' API that do not call other contracts (those are
/// in `host_calls`), by area.
fn register(t: &mut Builder) {
    register_storage(t);
    register_io(t);
    register_context(t);
    register_hashing(t);
    register_events(t);
    register_signatures(t);
    register_chain_specific(t);
}

/// Storage: ink! 4/5 use the variable-length-key versions, ink! 3 the 32-byte ones.
fn register_storage(t: &mut Builder) {
    t.add(
        "seal0",
        "set_storage",
        |mut c: Caller<'_, HostState>, key: u32, value: u32, len: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, None)?;
            let value = read_payload(&mut c, value, len)?;
            set_storage(&mut c, key, Some(value)).map(|_| ())
        },
    );
    t.add(
        "seal1",
        "set_storage",
        |mut c: Caller<'_, HostState>, key: u32, value: u32, len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, None)?;
            let value = read_payload(&mut c, value, len)?;
            set_storage(&mut c, key, Some(value))
        },
    );
    t.add(
        "seal2",
        "set_storage",
        |mut c: Caller<'_, HostState>,
         key: u32,
         key_len: u32,
         value: u32,
         len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, Some(key_len))?;
            let value = read_payload(&mut c, value, len)?;
            set_storage(&mut c, key, Some(value))
        },
    );
    t.add(
        "seal0",
        "clear_storage",
        |mut c: Caller<'_, HostState>, key: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, None)?;
            set_storage(&mut c, key, None).map(|_| ())
        },
    );
    t.add(
        "seal1",
        "clear_storage",
        |mut c: Caller<'_, HostState>, key: u32, key_len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, Some(key_len))?;
            set_storage(&mut c, key, None)
        },
    );
    t.add(
        "seal0",
        "get_storage",
        |mut c: Caller<'_, HostState>, key: u32, out: u32, out_len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, None)?;
            get_storage_out(&mut c, &key, out, out_len)
        },
    );
    t.add(
        "seal1",
        "get_storage",
        |mut c: Caller<'_, HostState>,
         key: u32,
         key_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, Some(key_len))?;
            get_storage_out(&mut c, &key, out, out_len)
        },
    );
    t.add(
        "seal0",
        "contains_storage",
        |mut c: Caller<'_, HostState>, key: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, None)?;
            Ok(size_or_sentinel(get_storage(&mut c, &key)?))
        },
    );
    t.add(
        "seal1",
        "contains_storage",
        |mut c: Caller<'_, HostState>, key: u32, key_len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, Some(key_len))?;
            Ok(size_or_sentinel(get_storage(&mut c, &key)?))
        },
    );
    t.add(
        "seal0",
        "take_storage",
        |mut c: Caller<'_, HostState>,
         key: u32,
         key_len: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let key = read_key(&mut c, key, Some(key_len))?;
            match get_storage(&mut c, &key)? {
                Some(value) => {
                    write_out(&mut c, out, out_len, &value, false)?;
                    set_storage(&mut c, key, None)?;
                    Ok(ReturnCode::Success as u32)
                }
                None => Ok(ReturnCode::KeyNotFound as u32),
            }
        },
    );
}

/// Input and output.
fn register_io(t: &mut Builder) {
    t.add(
        "seal0",
        "input",
        |mut c: Caller<'_, HostState>, out: u32, out_len: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let input = c
                .data()
                .frame
                .input
                .clone()
                .ok_or_else(|| trap("the input was forwarded to a callee and is gone"))?;
            write_out(&mut c, out, out_len, &input, false)
        },
    );
    t.add(
        "seal0",
        "seal_return",
        |mut c: Caller<'_, HostState>, flags: u32, data: u32, len: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            if flags & !crate::REVERT != 0 {
                return Err(trap(format!("invalid return flags {flags:#x}")));
            }
            let data = read_payload(&mut c, data, len)?;
            Err(Error::host(HostExit::Return { flags, data }))
        },
    );
}

/// The execution context: caller, address, value, time, gas, code.
fn register_context(t: &mut Builder) {
    fn getter(
        t: &mut Builder,
        name: &str,
        value: fn(&mut Caller<'_, HostState>) -> Result<Vec<u8>, Error>,
    ) {
        // A fn pointer cannot be captured by a closure that must stay a plain fn, so each
        // getter gets a closure over its pointer; fn pointers are Copy, Send and Sync.
        t.add(
            "seal0",
            name,
            move |mut c: Caller<'_, HostState>, out: u32, out_len: u32| -> Result<(), Error> {
                charge(&mut c, gas::HOST_CALL)?;
                let bytes = value(&mut c)?;
                write_out(&mut c, out, out_len, &bytes, false)
            },
        );
    }
    getter(t, "caller", |c| Ok(c.data().frame.caller.to_vec()));
    getter(t, "address", |c| Ok(c.data().frame.address.to_vec()));
    getter(t, "value_transferred", |c| {
        Ok(c.data().frame.value.encode())
    });
    // No value moves inside a cluster (transfers of anything but zero fail), so contracts see
    // a balance of 0. Their chain accounts hold only the existential deposit and storage
    // deposits, which are not the contract's to spend and are not shown here.
    getter(t, "balance", |_| Ok(0u128.encode()));
    getter(t, "minimum_balance", |_| Ok(0u128.encode()));
    getter(t, "tombstone_deposit", |_| Ok(0u128.encode()));
    getter(t, "now", |c| Ok(world(c)?.ctx.timestamp_ms.encode()));
    getter(t, "block_number", |c| {
        Ok(world(c)?.ctx.block_number.encode())
    });
    getter(t, "gas_left", |c| Ok(c.get_fuel()?.encode()));
    getter(t, "own_code_hash", |c| {
        Ok(c.data().frame.code_hash.to_vec())
    });
    t.add(
        "seal1",
        "gas_left",
        |mut c: Caller<'_, HostState>, out: u32, out_len: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            // A SCALE `Weight`: ref_time, then proof_size, both compact.
            let weight = (Compact(c.get_fuel()?), Compact(0u64)).encode();
            write_out(&mut c, out, out_len, &weight, false)
        },
    );
    t.add(
        "seal0",
        "weight_to_fee",
        |mut c: Caller<'_, HostState>, gas: u64, out: u32, out_len: u32| -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let fee = u128::from(gas).saturating_mul(world(&mut c)?.ctx.gas_price);
            write_out(&mut c, out, out_len, &fee.encode(), false)
        },
    );
    t.add(
        "seal1",
        "weight_to_fee",
        |mut c: Caller<'_, HostState>,
         ref_time: u64,
         _proof: u64,
         out: u32,
         out_len: u32|
         -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let fee = u128::from(ref_time).saturating_mul(world(&mut c)?.ctx.gas_price);
            write_out(&mut c, out, out_len, &fee.encode(), false)
        },
    );
    t.add(
        "seal0",
        "caller_is_origin",
        |mut c: Caller<'_, HostState>| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let caller = c.data().frame.caller;
            let world = world(&mut c)?;
            Ok(u32::from(world.stack.len() == 1 && caller == world.origin))
        },
    );
    t.add(
        "seal0",
        "caller_is_root",
        |mut c: Caller<'_, HostState>| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            Ok(0)
        },
    );
    t.add(
        "seal0",
        "is_contract",
        |mut c: Caller<'_, HostState>, account: u32| -> Result<u32, Error> {
            charge(&mut c, gas::STORAGE_READ)?;
            let account = read_array::<32>(&mut c, account)?;
            Ok(u32::from(
                world(&mut c)?.overlay.contract(&account).is_some(),
            ))
        },
    );
    t.add(
        "seal0",
        "code_hash",
        |mut c: Caller<'_, HostState>,
         account: u32,
         out: u32,
         out_len: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::STORAGE_READ)?;
            let account = read_array::<32>(&mut c, account)?;
            match world(&mut c)?.overlay.contract(&account) {
                Some(info) => {
                    write_out(&mut c, out, out_len, &info.code_hash, false)?;
                    Ok(ReturnCode::Success as u32)
                }
                None => Ok(ReturnCode::KeyNotFound as u32),
            }
        },
    );
    t.add(
        "seal0",
        "instantiation_nonce",
        |mut c: Caller<'_, HostState>| -> Result<u64, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            Ok(world(&mut c)?.instantiations)
        },
    );
    t.add(
        "seal0",
        "reentrance_count",
        |mut c: Caller<'_, HostState>| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let address = c.data().frame.address;
            let count = world(&mut c)?
                .stack
                .iter()
                .filter(|a| **a == address)
                .count();
            Ok(count.saturating_sub(1) as u32)
        },
    );
    t.add(
        "seal0",
        "account_reentrance_count",
        |mut c: Caller<'_, HostState>, account: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let account = read_array::<32>(&mut c, account)?;
            Ok(world(&mut c)?
                .stack
                .iter()
                .filter(|a| **a == account)
                .count() as u32)
        },
    );
}

/// Hashing: the output is written directly; input and output may overlap.
fn register_hashing(t: &mut Builder) {
    t.add(
        "seal0",
        "hash_blake2_256",
        |mut c: Caller<'_, HostState>, input: u32, len: u32, output: u32| -> Result<(), Error> {
            hash_into(&mut c, input, len, output, |d| {
                sp_crypto_hashing::blake2_256(d).to_vec()
            })
        },
    );
    t.add(
        "seal0",
        "hash_blake2_128",
        |mut c: Caller<'_, HostState>, input: u32, len: u32, output: u32| -> Result<(), Error> {
            hash_into(&mut c, input, len, output, |d| {
                sp_crypto_hashing::blake2_128(d).to_vec()
            })
        },
    );
    t.add(
        "seal0",
        "hash_sha2_256",
        |mut c: Caller<'_, HostState>, input: u32, len: u32, output: u32| -> Result<(), Error> {
            hash_into(&mut c, input, len, output, |d| {
                sp_crypto_hashing::sha2_256(d).to_vec()
            })
        },
    );
    t.add(
        "seal0",
        "hash_keccak_256",
        |mut c: Caller<'_, HostState>, input: u32, len: u32, output: u32| -> Result<(), Error> {
            hash_into(&mut c, input, len, output, |d| {
                sp_crypto_hashing::keccak_256(d).to_vec()
            })
        },
    );
}

/// Events and debugging.
fn register_events(t: &mut Builder) {
    t.add(
        "seal0",
        "deposit_event",
        |mut c: Caller<'_, HostState>,
         topics: u32,
         topics_len: u32,
         data: u32,
         data_len: u32|
         -> Result<(), Error> {
            charge(&mut c, gas::HOST_CALL)?;
            read_only_guard(&c)?;
            let topics = if topics_len == 0 {
                Vec::new()
            } else {
                let bytes = read(&mut c, topics, topics_len)?;
                if bytes.len() > 1 + 32 * MAX_EVENT_TOPICS {
                    return Err(trap("too many event topics"));
                }
                Vec::<[u8; 32]>::decode(&mut bytes.as_slice())
                    .map_err(|_| trap("event topics do not decode"))?
            };
            if topics.len() > MAX_EVENT_TOPICS {
                return Err(trap(format!(
                    "{} event topics; the limit is {MAX_EVENT_TOPICS}",
                    topics.len()
                )));
            }
            let data = read_payload(&mut c, data, data_len)?;
            charge(
                &mut c,
                gas::EVENT
                    .saturating_add(gas::EVENT_PER_TOPIC.saturating_mul(topics.len() as u64))
                    .saturating_add(gas::per_byte(data.len(), gas::EVENT_PER_BYTE)),
            )?;
            let contract = c.data().frame.address;
            if crate::pink::is_pink_event(&topics) {
                return crate::pink::on_pink_event(&mut c, contract, &data);
            }
            world(&mut c)?
                .overlay
                .deposit_event(ContractEvent {
                    contract,
                    topics,
                    data,
                })
                .map_err(|e| trap(e.to_string()))
        },
    );
    t.add(
        "seal0",
        "debug_message",
        |mut c: Caller<'_, HostState>, ptr: u32, len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            let bytes = read(&mut c, ptr, len.min(MAX_PAYLOAD_LEN as u32))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            world(&mut c)?.debug_message(&text);
            Ok(ReturnCode::Success as u32)
        },
    );
}

/// Signature checks.
fn register_signatures(t: &mut Builder) {
    t.add(
        "seal0",
        "ecdsa_recover",
        |mut c: Caller<'_, HostState>, sig: u32, hash: u32, out: u32| -> Result<u32, Error> {
            charge(&mut c, gas::SIGNATURE)?;
            let signature = read_array::<65>(&mut c, sig)?;
            let hash = read_array::<32>(&mut c, hash)?;
            match crate::crypto::ecdsa_recover(&signature, &hash) {
                Some(public) => {
                    write(&mut c, out, &public)?;
                    Ok(ReturnCode::Success as u32)
                }
                None => Ok(ReturnCode::EcdsaRecoveryFailed as u32),
            }
        },
    );
    t.add(
        "seal0",
        "ecdsa_to_eth_address",
        |mut c: Caller<'_, HostState>, key: u32, out: u32| -> Result<u32, Error> {
            charge(&mut c, gas::SIGNATURE)?;
            let key = read_array::<33>(&mut c, key)?;
            match crate::crypto::eth_address(&key) {
                Some(address) => {
                    write(&mut c, out, &address)?;
                    Ok(ReturnCode::Success as u32)
                }
                None => Ok(ReturnCode::EcdsaRecoveryFailed as u32),
            }
        },
    );
    t.add(
        "seal0",
        "sr25519_verify",
        |mut c: Caller<'_, HostState>,
         sig: u32,
         key: u32,
         len: u32,
         msg: u32|
         -> Result<u32, Error> {
            charge(&mut c, gas::SIGNATURE)?;
            let signature = read_array::<64>(&mut c, sig)?;
            let key = read_array::<32>(&mut c, key)?;
            let message = read(&mut c, msg, len)?;
            if crate::crypto::sr25519_verify(&signature, &message, &key) {
                Ok(ReturnCode::Success as u32)
            } else {
                Ok(ReturnCode::Sr25519VerifyFailed as u32)
            }
        },
    );
}

/// Chain-specific calls a cluster does not have, and deprecated ones.
fn register_chain_specific(t: &mut Builder) {
    t.add(
        "seal0",
        "call_runtime",
        |mut c: Caller<'_, HostState>, _call: u32, _len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            Ok(ReturnCode::CallRuntimeFailed as u32)
        },
    );
    t.add(
        "seal0",
        "xcm_execute",
        |mut c: Caller<'_, HostState>, _msg: u32, _len: u32| -> Result<u32, Error> {
            charge(&mut c, gas::HOST_CALL)?;
            Ok(ReturnCode::XcmExecutionFailed as u32)
        },
    );
    t.add(
        "seal0",
        "xcm_send",
        |mut c: Caller<'_, HostState>,
         dest: u32,
         msg: u32,
         len: u32,
         out: u32|
         -> Result<u32, Error> {
            // As a storage write: the message sits in the chain's state until answered.
            charge(&mut c, gas::STORAGE_WRITE)?;
            charge(&mut c, gas::per_byte(len as usize, gas::STORAGE_PER_BYTE))?;
            if len as usize > crate::xcm::MAX_CALL_LEN.saturating_mul(2) {
                return Err(trap("xcm_send: the message is longer than 8 KiB"));
            }
            let message = read(&mut c, msg, len)?;
            // `dest` comes without a length: read what a destination can take, or up to the
            // end of memory.
            let available = crate::mem::memory_len(&c)?.saturating_sub(dest as usize);
            let dest_len = available.min(crate::xcm::MAX_DEST_LEN);
            let dest = read(&mut c, dest, u32::try_from(dest_len).unwrap_or(0))?;
            let refused = |c: &mut Caller<'_, HostState>, why: String| -> Result<u32, Error> {
                world(c)?.debug_message(&why);
                Ok(ReturnCode::XcmSendFailed as u32)
            };
            let sent = match crate::xcm::decode(&dest, &message) {
                Ok(sent) => sent,
                Err(e) => return refused(&mut c, e.to_string()),
            };
            if world(&mut c)?.ctx.mode == crate::Mode::Query {
                return refused(&mut c, "xcm_send: a query cannot send messages".into());
            }
            read_only_guard(&c)?;
            let sender = c.data().frame.address;
            if world(&mut c)?.overlay.send(sender, sent).is_err() {
                return refused(
                    &mut c,
                    format!(
                        "xcm_send: at most {} messages, {} bytes of calls, per command",
                        crate::world::MAX_SENT,
                        crate::world::MAX_SENT_BYTES
                    ),
                );
            }
            // The message's hash, as pallet-xcm answers with its `XcmHash`.
            let hash = sp_crypto_hashing::blake2_256(&message);
            write(&mut c, out, &hash)?;
            Ok(ReturnCode::Success as u32)
        },
    );
    for name in ["lock_delegate_dependency", "unlock_delegate_dependency"] {
        t.add(
            "seal0",
            name,
            |mut c: Caller<'_, HostState>, code_hash: u32| -> Result<(), Error> {
                charge(&mut c, gas::HOST_CALL)?;
                read_array::<32>(&mut c, code_hash).map(|_| ())
            },
        );
    }
    // Deprecated in pallet-contracts; contracts that still import it load, and trap if they
    // call it, because an on-chain "random" was never random.
    for module in ["seal0", "seal1"] {
        t.add(
            module,
            "random",
            |_c: Caller<'_, HostState>,
             _subject: u32,
             _len: u32,
             _out: u32,
             _out_len: u32|
             -> Result<(), Error> {
                Err(trap(
                    "`random` is not available; use pink's getrandom in queries",
                ))
            },
        );
    }
}
