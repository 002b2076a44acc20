//! Frames: one contract execution each, in its own wasmi store with its own memory. A nested
//! call moves the [`World`] (overlay, context, call stack) out of the caller's store into the
//! callee's and back, so exactly one frame can touch it at a time and no lock is needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmi::{Engine, Extern, Instance, Memory, MemoryType, Store, TrapCode, Val};

use crate::code::{Import, PreparedCode};
use crate::host::HostTable;
use crate::mem::HostExit;
use crate::world::{AccountId, CodeHash, ContractInfo, Overlay, contract_address};
use crate::{Environment, ExecContext, ExecError, ExecReturn, gas};

/// Deepest nesting of contract calls, the top-level one included (pallet-contracts allows 5
/// nested frames).
pub const MAX_CALL_DEPTH: usize = 6;
/// Most bytes of debug messages kept per execution.
pub const MAX_DEBUG_BUFFER: usize = 64 * 1024;
/// Codes compiled and kept; a code beyond this is compiled again when next used.
const CODE_CACHE_SIZE: usize = 256;

/// What every store of a [`crate::Vm`] shares.
pub(crate) struct Shared {
    pub engine: Engine,
    pub table: HostTable,
    cache: Mutex<HashMap<CodeHash, Arc<PreparedCode>>>,
}

impl Shared {
    pub fn new(engine: Engine, table: HostTable) -> Self {
        Self {
            engine,
            table,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled code for `code_hash`, from the cache or compiled now.
    fn prepared(
        &self,
        overlay: &Overlay,
        code_hash: &CodeHash,
    ) -> Result<Arc<PreparedCode>, ExecError> {
        // The backend decides whether a code exists, never the cache: it may hold codes
        // another execution (or another state) knew.
        let wasm = overlay
            .code(code_hash)
            .ok_or(ExecError::CodeNotFound(*code_hash))?;
        if let Ok(cache) = self.cache.lock()
            && let Some(code) = cache.get(code_hash)
        {
            return Ok(code.clone());
        }
        let code = PreparedCode::prepare(&self.engine, &self.table, &wasm)
            .map(Arc::new)
            .map_err(|e| ExecError::Trapped(format!("stored code does not load: {e}")))?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CODE_CACHE_SIZE
                && let Some(evict) = cache.keys().next().copied()
            {
                cache.remove(&evict);
            }
            cache.insert(*code_hash, code.clone());
        }
        Ok(code)
    }
}

/// State shared by all frames of one execution.
pub(crate) struct World {
    pub overlay: Overlay,
    pub ctx: ExecContext,
    pub env: Arc<dyn Environment>,
    pub origin: AccountId,
    /// The contracts currently executing, outermost first.
    pub stack: Vec<AccountId>,
    pub debug: String,
    pub instantiations: u64,
}

impl World {
    pub fn debug_message(&mut self, message: &str) {
        let room = MAX_DEBUG_BUFFER.saturating_sub(self.debug.len());
        if room == 0 {
            return;
        }
        let mut end = message.len().min(room);
        while !message.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        self.debug.push_str(message.get(..end).unwrap_or_default());
    }
}

/// One executing contract.
pub(crate) struct Frame {
    /// Whose storage and balance this frame uses (the caller's, in a delegate call).
    pub address: AccountId,
    /// The code running.
    pub code_hash: CodeHash,
    pub caller: AccountId,
    /// `None` once forwarded to a callee.
    pub input: Option<Vec<u8>>,
    pub value: u128,
    /// Set by a READ_ONLY call: no state may change in this frame or below.
    pub read_only: bool,
    /// Running `deploy`: the contract cannot terminate before it exists.
    pub constructing: bool,
}

/// The data of every store.
pub(crate) struct HostState {
    /// `None` only in the placeholder store that learns host function types.
    pub shared: Option<Arc<Shared>>,
    pub memory: Option<Memory>,
    pub frame: Frame,
    /// Moved into a callee's store during a nested call.
    pub world: Option<Box<World>>,
}

/// The end of a frame: its result, the fuel it left, and the world handed back (`None` only
/// if a nested frame lost it, which the caller reports as an internal error).
pub(crate) struct FrameEnd {
    pub result: Result<ExecReturn, ExecError>,
    pub fuel_left: u64,
    pub world: Option<Box<World>>,
}

/// Runs `export` of the frame's code. Changes are rolled back unless it returned without
/// REVERT.
pub(crate) fn run_frame(
    shared: &Arc<Shared>,
    mut world: Box<World>,
    frame: Frame,
    export: &str,
    fuel: u64,
) -> FrameEnd {
    if world.stack.len() >= MAX_CALL_DEPTH {
        return FrameEnd {
            result: Err(ExecError::Trapped("call depth limit reached".into())),
            fuel_left: fuel,
            world: Some(world),
        };
    }
    let code = match shared.prepared(&world.overlay, &frame.code_hash) {
        Ok(code) => code,
        Err(e) => {
            return FrameEnd {
                result: Err(e),
                fuel_left: fuel,
                world: Some(world),
            };
        }
    };
    // Loading and instantiating scale with the code's size, cached or not: charged per
    // frame, the same on every worker.
    let load = gas::per_8(code.size, gas::LOAD_PER_8_CODE_BYTES);
    let Some(fuel) = fuel.checked_sub(load) else {
        return FrameEnd {
            result: Err(ExecError::OutOfGas),
            fuel_left: 0,
            world: Some(world),
        };
    };
    let checkpoint = world.overlay.checkpoint();
    world.stack.push(frame.address);
    let mut store = Store::new(
        &shared.engine,
        HostState {
            shared: Some(shared.clone()),
            memory: None,
            frame,
            world: Some(world),
        },
    );
    let outcome = store
        .set_fuel(fuel)
        .and_then(|()| instantiate(&mut store, shared, &code))
        .and_then(|instance| {
            let func = instance
                .get_func(&store, export)
                .ok_or_else(|| wasmi::Error::new(format!("no export `{export}`")))?;
            // Old ink! 3 builds return an i32 nobody reads.
            let mut results = [Val::I32(0)];
            let results = results
                .get_mut(..func.ty(&store).results().len())
                .unwrap_or_default();
            func.call(&mut store, &[], results)
        });
    // Running out of fuel mid-block can leave a few units unspent; out of gas is all of it.
    let fuel_left = match &outcome {
        Err(e) if e.as_trap_code() == Some(TrapCode::OutOfFuel) => 0,
        _ => store.get_fuel().unwrap_or(0),
    };
    let mut world = store.into_data().world;
    let result = match world.as_mut() {
        Some(world) => {
            world.stack.pop();
            let result = end_of(outcome);
            if !result.as_ref().is_ok_and(|r| !r.is_revert()) {
                world.overlay.rollback(checkpoint);
            }
            result
        }
        None => Err(ExecError::Internal(
            "a nested frame lost the execution state",
        )),
    };
    FrameEnd {
        result,
        fuel_left,
        world,
    }
}

fn instantiate(
    store: &mut Store<HostState>,
    shared: &Shared,
    code: &PreparedCode,
) -> Result<Instance, wasmi::Error> {
    let memory = Memory::new(
        &mut *store,
        MemoryType::new(code.memory_min, Some(code.memory_max)),
    )?;
    store.data_mut().memory = Some(memory);
    let mut imports = Vec::with_capacity(code.imports.len());
    for import in &code.imports {
        imports.push(match import {
            Import::Memory => Extern::Memory(memory),
            Import::Func(index) => Extern::Func(shared.table.make(*index, &mut *store)?),
        });
    }
    Instance::new(&mut *store, &code.module, &imports)
}

/// Turns how wasm execution ended into the contract's result.
fn end_of(outcome: Result<(), wasmi::Error>) -> Result<ExecReturn, ExecError> {
    let error = match outcome {
        Ok(()) => return Ok(ExecReturn::default()),
        Err(error) => error,
    };
    if error.as_trap_code() == Some(TrapCode::OutOfFuel) {
        return Err(ExecError::OutOfGas);
    }
    if error.downcast_ref::<HostExit>().is_none() {
        return Err(ExecError::Trapped(error.to_string()));
    }
    match error.downcast::<HostExit>() {
        Some(HostExit::Return { flags, data }) => Ok(ExecReturn { flags, data }),
        Some(HostExit::Terminated) => Ok(ExecReturn::default()),
        Some(HostExit::OutOfGas) => Err(ExecError::OutOfGas),
        Some(HostExit::Timeout) => Err(ExecError::Timeout),
        Some(HostExit::Trap(reason)) => Err(ExecError::Trapped(reason)),
        None => Err(ExecError::Internal("host exit vanished")),
    }
}

/// A call of `contract`'s `call` export.
pub(crate) fn call(
    shared: &Arc<Shared>,
    world: Box<World>,
    caller: AccountId,
    contract: AccountId,
    input: Vec<u8>,
    fuel: u64,
) -> FrameEnd {
    let Some(info) = world.overlay.contract(&contract) else {
        return FrameEnd {
            result: Err(ExecError::ContractNotFound(contract)),
            fuel_left: fuel,
            world: Some(world),
        };
    };
    let frame = Frame {
        address: contract,
        code_hash: info.code_hash,
        caller,
        input: Some(input),
        value: 0,
        read_only: false,
        constructing: false,
    };
    run_frame(shared, world, frame, "call", fuel)
}

/// An instantiation by `deployer`; the new contract's address is returned with the result.
pub(crate) fn instantiate_contract(
    shared: &Arc<Shared>,
    mut world: Box<World>,
    deployer: AccountId,
    code_hash: CodeHash,
    salt: &[u8],
    input: Vec<u8>,
    fuel: u64,
) -> (AccountId, FrameEnd) {
    let address = contract_address(&deployer, &code_hash, &world.ctx.cluster, salt);
    if world.overlay.contract(&address).is_some() || world.overlay.terminated(&address) {
        return (
            address,
            FrameEnd {
                result: Err(ExecError::DuplicateContract(address)),
                fuel_left: fuel,
                world: Some(world),
            },
        );
    }
    if world.overlay.code(&code_hash).is_none() {
        return (
            address,
            FrameEnd {
                result: Err(ExecError::CodeNotFound(code_hash)),
                fuel_left: fuel,
                world: Some(world),
            },
        );
    }
    world.instantiations = world.instantiations.saturating_add(1);
    let checkpoint = world.overlay.checkpoint();
    world.overlay.set_contract(
        address,
        Some(ContractInfo {
            code_hash,
            deployer,
        }),
    );
    let frame = Frame {
        address,
        code_hash,
        caller: deployer,
        input: Some(input),
        value: 0,
        read_only: false,
        constructing: true,
    };
    let mut end = run_frame(shared, world, frame, "deploy", fuel);
    if !end.result.as_ref().is_ok_and(|r| !r.is_revert())
        && let Some(world) = end.world.as_mut()
    {
        world.overlay.rollback(checkpoint);
    }
    (address, end)
}
