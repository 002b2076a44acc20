//! Code validation at upload, with the rules of pallet-contracts (docs/contracts-abi.md, *Code
//! rules*): Wasm MVP plus sign-extension, no floating point (it would break determinism between
//! workers), one memory imported as `env.memory` with at most 16 pages, function imports only from
//! `seal0`/`seal1`/`seal2` and only of host functions this VM has, and exactly the exports `deploy`
//! and `call`, both `() -> ()`. A module passing these always loads on every worker.

use std::sync::OnceLock;

use wasmi::{CompilationMode, Config, Engine, ExternType, Module};

use crate::host::HostTable;

/// Largest accepted code.
pub const MAX_CODE_SIZE: usize = 2 * 1024 * 1024;
/// Largest memory a contract may declare, in 64 KiB pages.
pub const MAX_MEMORY_PAGES: u32 = 16;

/// Why a code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is {0} bytes; the limit is {MAX_CODE_SIZE} (2 MiB)")]
    TooLarge(usize),
    #[error("not a wasm binary (it does not start with \\0asm)")]
    NotWasm,
    #[error("the code uses floating point, which contracts may not: {0}")]
    FloatingPoint(String),
    #[error("invalid wasm: {0}")]
    Invalid(String),
    #[error("the code must import its memory as env.memory")]
    NoMemory,
    #[error("the code imports {0}; memory must be imported as env.memory")]
    BadMemoryImport(String),
    #[error("the memory may grow to {0} pages; the limit is {MAX_MEMORY_PAGES}")]
    MemoryTooLarge(u64),
    #[error("the code imports {0}, which is not a host function")]
    UnknownImport(String),
    #[error("the code imports {0} with the wrong signature")]
    ImportSignature(String),
    #[error("the code imports {0}; only functions and env.memory may be imported")]
    ForbiddenImport(String),
    #[error("the code exports {0}; a contract exports exactly `deploy` and `call`")]
    ForbiddenExport(String),
    #[error("the code does not export `{0}`")]
    MissingExport(&'static str),
    #[error("the export `{0}` must be a function of type () -> ()")]
    ExportSignature(String),
}

/// How an import of a prepared code is satisfied.
pub(crate) enum Import {
    Memory,
    /// An index into the host table.
    Func(usize),
}

/// A validated, compiled code, ready to instantiate.
pub(crate) struct PreparedCode {
    pub module: Module,
    /// Bytes of wasm: what loading it is charged by.
    pub size: usize,
    pub memory_min: u32,
    pub memory_max: u32,
    pub imports: Vec<Import>,
}

/// The engine every worker uses: the same wasm features as pallet-contracts, fuel metering,
/// and eager compilation so that fuel never depends on what was compiled before.
pub(crate) fn engine() -> Engine {
    let mut config = Config::default();
    config
        .wasm_sign_extension(true)
        .wasm_mutable_global(false)
        .wasm_saturating_float_to_int(false)
        .wasm_multi_value(false)
        .wasm_multi_memory(false)
        .wasm_bulk_memory(false)
        .wasm_reference_types(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_memory64(false)
        .wasm_wide_arithmetic(false)
        .floats(false)
        .consume_fuel(true)
        .ignore_custom_sections(true)
        .compilation_mode(CompilationMode::Eager);
    Engine::new(&config)
}

impl PreparedCode {
    pub fn prepare(engine: &Engine, table: &HostTable, wasm: &[u8]) -> Result<Self, CodeError> {
        if wasm.len() > MAX_CODE_SIZE {
            return Err(CodeError::TooLarge(wasm.len()));
        }
        // wasmi would also take the text format; contracts are binaries only.
        if !wasm.starts_with(b"\0asm") {
            return Err(CodeError::NotWasm);
        }
        let module = Module::new(engine, wasm).map_err(|e| {
            let message = e.to_string();
            if message.contains("float") {
                CodeError::FloatingPoint(message)
            } else {
                CodeError::Invalid(message)
            }
        })?;

        let mut memory = None;
        let mut imports = Vec::new();
        for import in module.imports() {
            let name = format!("{}.{}", import.module(), import.name());
            match import.ty() {
                ExternType::Memory(ty) => {
                    if import.module() != "env" || import.name() != "memory" || memory.is_some() {
                        return Err(CodeError::BadMemoryImport(name));
                    }
                    let max = ty.maximum().unwrap_or(u64::from(MAX_MEMORY_PAGES));
                    if max > u64::from(MAX_MEMORY_PAGES) || ty.minimum() > max {
                        return Err(CodeError::MemoryTooLarge(max));
                    }
                    // Both fit in u32: they are at most MAX_MEMORY_PAGES.
                    memory = Some((ty.minimum() as u32, max as u32));
                    imports.push(Import::Memory);
                }
                ExternType::Func(ty) => {
                    if !matches!(import.module(), "seal0" | "seal1" | "seal2") {
                        return Err(CodeError::UnknownImport(name));
                    }
                    let index = table
                        .find(import.module(), import.name())
                        .ok_or_else(|| CodeError::UnknownImport(name.clone()))?;
                    if !table.has_type(index, ty) {
                        return Err(CodeError::ImportSignature(name));
                    }
                    imports.push(Import::Func(index));
                }
                _ => return Err(CodeError::ForbiddenImport(name)),
            }
        }
        let (memory_min, memory_max) = memory.ok_or(CodeError::NoMemory)?;

        let mut seen = (false, false);
        for export in module.exports() {
            let name = export.name();
            match name {
                "deploy" | "call" => {}
                other => return Err(CodeError::ForbiddenExport(other.to_string())),
            }
            match export.ty() {
                // pallet-contracts still takes `() -> i32` from old ink! 3 builds.
                ExternType::Func(ty)
                    if ty.params().is_empty()
                        && matches!(ty.results(), [] | [wasmi::ValType::I32]) => {}
                _ => return Err(CodeError::ExportSignature(name.to_string())),
            }
            if name == "deploy" {
                seen.0 = true;
            } else {
                seen.1 = true;
            }
        }
        if !seen.0 {
            return Err(CodeError::MissingExport("deploy"));
        }
        if !seen.1 {
            return Err(CodeError::MissingExport("call"));
        }
        Ok(Self {
            module,
            size: wasm.len(),
            memory_min,
            memory_max,
            imports,
        })
    }
}

/// What validation learnt about a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSummary {
    /// blake2b-256 of the code: the id it is uploaded under.
    pub code_hash: [u8; 32],
    pub size: usize,
    /// Every host function it imports, as `module.name`.
    pub imports: Vec<String>,
}

/// Validates a code with the rules every worker applies; the chain calls this at upload so a
/// code it accepts always runs.
pub fn validate(wasm: &[u8]) -> Result<CodeSummary, CodeError> {
    static SHARED: OnceLock<(Engine, HostTable)> = OnceLock::new();
    let (engine, table) = SHARED.get_or_init(|| {
        let engine = engine();
        let table = HostTable::new(&engine);
        (engine, table)
    });
    let code = PreparedCode::prepare(engine, table, wasm)?;
    let imports = code
        .module
        .imports()
        .filter(|import| matches!(import.ty(), ExternType::Func(_)))
        .map(|import| format!("{}.{}", import.module(), import.name()))
        .collect();
    Ok(CodeSummary {
        code_hash: sp_crypto_hashing::blake2_256(wasm),
        size: wasm.len(),
        imports,
    })
}
