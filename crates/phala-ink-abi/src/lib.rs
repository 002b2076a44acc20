//! ink! contract bundles: reading `.contract` / `.json` metadata, encoding calls from the
//! values users type, and decoding return values and events to JSON, all by name.
//!
//! A CLI in the manner of cargo-contract needs three things from a bundle, and this module
//! gives them without generated code, driven only by the bundle's scale-info registry:
//!
//! - **Call data**: [`InkMetadata::encode_call`] = selector ‖ SCALE(args in order), with each
//!   argument written in cargo-contract's value syntax (`42`, `"text"`, `0x…`, SS58
//!   addresses, `[a, b]`, `(a, b)`, `Some(x)`, `Variant { f: x }`, `Struct { f: x }`).
//! - **Return values**: [`InkMetadata::decode_return`] turns a message's output into JSON
//!   (ink 4/5 outputs are `MessageResult<T>`, so `{"Ok": …}` or `{"Err": "CouldNotReadInput"}`).
//! - **Events**: [`InkMetadata::decode_event`] finds the event (ink 5: `topics[0]` is the
//!   signature topic; ink ≤ 4: the first data byte is the event's index in `spec.events`,
//!   because those versions encode the enum of all events) and names its fields.
//!
//! Four metadata formats are read (ink 5, ink 4, ink 3 `V3`, and the `metadataVersion 0.1.0`
//! format of ink 3 release candidates); `metadata.rs` describes how they differ.
//! Everything here is input-driven and never panics: parsing, encoding and decoding are
//! bounded in depth and every read is checked.
//!
//! ```no_run
//! # fn run() -> Result<(), phala_ink_abi::InkError> {
//! use phala_ink_abi::Bundle;
//! let bundle = Bundle::load("erc20.contract".as_ref())?;
//! let meta = &bundle.metadata;
//! let transfer = meta.message("transfer")?;
//! let data = meta.encode_call(
//!     transfer,
//!     &["5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into(), "100".into()],
//! )?;
//! # let output = [0u8, 1, 0];
// `00 01 00`: the message ran (Ok) and returned Err(InsufficientBalance).
//! let result = meta.decode_return(transfer, &output)?; // {"Ok": {"Err": "InsufficientBalance"}}
//! # let _ = (data, result); Ok(()) }
//! ```

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

mod codec;
mod metadata;
mod scon;
#[cfg(test)]
mod tests;

use std::path::Path;

use serde_json::Value;

pub use metadata::{Arg, Callable, EventArg, EventSpec, InkMetadata};

/// Everything that can go wrong reading a bundle or encoding and decoding with it. Every
/// message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum InkError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A bare `.wasm` file was given where metadata is needed.
    #[error(
        "{path} is a wasm file without metadata; give the `.contract` bundle or its `.json` metadata"
    )]
    WasmWithoutMetadata { path: String },

    /// The text is not JSON.
    #[error("the bundle is not valid JSON: {0}")]
    Json(String),

    /// The JSON is not ink! metadata this module understands.
    #[error("the bundle's metadata is not understood: {0}")]
    Metadata(String),

    /// `source.hash` does not match the embedded code.
    #[error("the bundle is corrupt: its source.hash is {expected} but its wasm hashes to {actual}")]
    HashMismatch { expected: String, actual: String },

    /// No constructor or message by that name or selector.
    #[error("the bundle has no {kind} `{name}`; {kind}s: {available}")]
    NotFound {
        kind: &'static str,
        name: String,
        available: String,
    },

    /// The wrong number of arguments was given.
    #[error(
        "`{label}` takes {expected} argument{} ({signature}) but {got} {} given",
        if *.expected == 1 { "" } else { "s" },
        if *.got == 1 { "was" } else { "were" }
    )]
    Arity {
        label: String,
        expected: usize,
        got: usize,
        signature: String,
    },

    /// One argument could not be parsed or encoded.
    #[error("argument `{arg}` of `{label}`: {message}")]
    Arg {
        label: String,
        arg: String,
        message: String,
    },

    /// A value given to [`InkMetadata::encode_value`] could not be parsed or encoded.
    #[error("invalid value: {0}")]
    Value(String),

    /// Output bytes do not decode as the expected type.
    #[error("cannot decode {what}: {message}")]
    Decode { what: String, message: String },

    /// An event's topics and data match no event of the contract.
    #[error("cannot tell which event this is: {0}")]
    UnknownEvent(String),
}

/// A contract bundle: its metadata and, for `.contract` files, its code.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub metadata: InkMetadata,
    /// The wasm code (`source.wasm`), absent in metadata-only `.json` files.
    pub wasm: Option<Vec<u8>>,
    /// `contract.name`, or the file stem when the metadata has none.
    pub name: String,
}

impl Bundle {
    /// Reads a `.contract` bundle or a `.json` metadata file.
    pub fn load(path: &Path) -> Result<Bundle, InkError> {
        let shown = path.display().to_string();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wasm"))
        {
            return Err(InkError::WasmWithoutMetadata { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(|source| InkError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut bundle = Bundle::from_json(&text).map_err(|e| match e {
            InkError::Json(m) => InkError::Json(format!("{m} (in {shown})")),
            InkError::Metadata(m) => InkError::Metadata(format!("{m} (in {shown})")),
            other => other,
        })?;
        if bundle.name.is_empty() {
            let stem = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            bundle.name = stem.split('.').next().unwrap_or_default().to_string();
        }
        Ok(bundle)
    }

    /// Reads a bundle from its JSON text. The code, when present, must hash to `source.hash`.
    pub fn from_json(text: &str) -> Result<Bundle, InkError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| InkError::Json(e.to_string()))?;
        let metadata = InkMetadata::from_value(&doc)?;
        let wasm = match doc.pointer("/source/wasm") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let digits = s.strip_prefix("0x").unwrap_or(s);
                Some(
                    hex::decode(digits)
                        .map_err(|e| InkError::Metadata(format!("source.wasm is not hex ({e})")))?,
                )
            }
            Some(_) => {
                return Err(InkError::Metadata(
                    "source.wasm is not a hex string".to_string(),
                ));
            }
        };
        let hash = doc.pointer("/source/hash");
        if hash.is_some_and(|h| !h.is_null()) && metadata.source_hash.is_none() {
            return Err(InkError::Metadata(
                "source.hash is not 0x and 64 hex digits".to_string(),
            ));
        }
        if let (Some(code), Some(expected)) = (&wasm, metadata.source_hash) {
            let actual = phala_primitives::hashing::blake2_256(code);
            if actual != expected {
                return Err(InkError::HashMismatch {
                    expected: format!("0x{}", hex::encode(expected)),
                    actual: format!("0x{}", hex::encode(actual)),
                });
            }
        }
        let name = doc
            .pointer("/contract/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Bundle {
            metadata,
            wasm,
            name,
        })
    }

    /// blake2-256 of the code: the code hash the chain will know it by.
    pub fn code_hash(&self) -> Option<[u8; 32]> {
        self.wasm
            .as_deref()
            .map(phala_primitives::hashing::blake2_256)
    }
}

impl InkMetadata {
    /// Call data: `selector ‖ SCALE(args in order)`, each argument parsed from the value
    /// syntax against its type. `args.len()` must equal the callable's arity.
    pub fn encode_call(&self, callable: &Callable, args: &[String]) -> Result<Vec<u8>, InkError> {
        if args.len() != callable.args.len() {
            return Err(InkError::Arity {
                label: callable.label.clone(),
                expected: callable.args.len(),
                got: args.len(),
                signature: self.signature(callable),
            });
        }
        let mut out = callable.selector.to_vec();
        for (arg, text) in callable.args.iter().zip(args) {
            scon::parse(text)
                .and_then(|v| codec::encode(&self.registry, arg.ty, &v, &mut out, 0))
                .map_err(|message| InkError::Arg {
                    label: callable.label.clone(),
                    arg: arg.label.clone(),
                    message,
                })?;
        }
        Ok(out)
    }

    /// The arguments as `name: Type, …` (`to: AccountId, value: Balance`), for help text
    /// and error messages.
    pub fn signature(&self, callable: &Callable) -> String {
        let args: Vec<String> = callable
            .args
            .iter()
            .map(|a| {
                // The source's name (`Balance`) unless it is a bare generic (`Option`) or a
                // macro-made alias (`psp34_external::TransferInput1`).
                let full = self.type_name(a.ty);
                let ty = if a.type_name.is_empty()
                    || a.type_name.contains("::")
                    || full.starts_with(&format!("{}<", a.type_name))
                {
                    full
                } else {
                    a.type_name.clone()
                };
                format!("{}: {ty}", a.label)
            })
            .collect();
        args.join(", ")
    }

    /// Decodes a callable's output into JSON; every byte must be used. ink 4/5 outputs are
    /// `MessageResult<T>` and come back whole (`{"Ok": …}` / `{"Err": "CouldNotReadInput"}`);
    /// ink 3 outputs are the plain `T`. A callable without a return type expects no bytes
    /// and gives `null`.
    pub fn decode_return(&self, callable: &Callable, data: &[u8]) -> Result<Value, InkError> {
        let what = format!("the output of `{}`", callable.label);
        let Some(ty) = callable.return_type else {
            if data.is_empty() {
                return Ok(Value::Null);
            }
            return Err(InkError::Decode {
                what,
                message: format!("it returns nothing, but {} bytes were given", data.len()),
            });
        };
        self.decode_all(ty, data, what)
    }

    fn decode_all(&self, ty: u32, data: &[u8], what: String) -> Result<Value, InkError> {
        let mut cursor = data;
        let value = codec::decode(&self.registry, ty, &mut cursor, 0).map_err(|message| {
            InkError::Decode {
                what: what.clone(),
                message,
            }
        })?;
        if !cursor.is_empty() {
            return Err(InkError::Decode {
                what,
                message: format!(
                    "{} byte(s) are left over after a complete {}",
                    cursor.len(),
                    self.type_name(ty)
                ),
            });
        }
        Ok(value)
    }

    /// Identifies an event from its topics and data and decodes its fields by name:
    /// `(label, {field: value})`. ink 5 events are found by `topics[0]` (the signature
    /// topic; an anonymous event by its number of topics); older ones by the first data
    /// byte, the event's index in `spec.events`.
    pub fn decode_event(
        &self,
        topics: &[[u8; 32]],
        data: &[u8],
    ) -> Result<(String, Value), InkError> {
        if self.events.is_empty() {
            return Err(InkError::UnknownEvent(
                "the contract declares no events".to_string(),
            ));
        }
        let (event, fields) = if self.version >= 5 {
            let by_topic = topics
                .first()
                .and_then(|t0| self.events.iter().find(|e| e.signature_topic == Some(*t0)));
            match by_topic {
                Some(event) => (event, data),
                None => {
                    let mut anonymous = self.events.iter().filter(|e| {
                        e.signature_topic.is_none()
                            && e.args.iter().filter(|a| a.indexed).count() == topics.len()
                    });
                    match (anonymous.next(), anonymous.next()) {
                        (Some(event), None) => (event, data),
                        _ => {
                            let topic = topics
                                .first()
                                .map(|t| format!("0x{}", hex::encode(t)))
                                .unwrap_or_else(|| "none".to_string());
                            return Err(InkError::UnknownEvent(format!(
                                "no event has the signature topic {topic} (events: {})",
                                self.event_labels()
                            )));
                        }
                    }
                }
            }
        } else {
            let (index, rest) = data
                .split_first()
                .ok_or_else(|| InkError::UnknownEvent("the event data is empty".to_string()))?;
            let event = self.events.get(usize::from(*index)).ok_or_else(|| {
                InkError::UnknownEvent(format!(
                    "its first byte {index} is not an event index (the contract has {} events: {})",
                    self.events.len(),
                    self.event_labels()
                ))
            })?;
            (event, rest)
        };
        let what = format!("event `{}`", event.label);
        let mut cursor = fields;
        let mut map = serde_json::Map::new();
        for arg in &event.args {
            let value = codec::decode(&self.registry, arg.ty, &mut cursor, 0).map_err(|m| {
                InkError::Decode {
                    what: what.clone(),
                    message: format!("field `{}`: {m}", arg.label),
                }
            })?;
            map.insert(arg.label.clone(), value);
        }
        if !cursor.is_empty() {
            return Err(InkError::Decode {
                what,
                message: format!("{} byte(s) are left over after its fields", cursor.len()),
            });
        }
        Ok((event.label.clone(), Value::Object(map)))
    }

    fn event_labels(&self) -> String {
        let labels: Vec<&str> = self.events.iter().map(|e| e.label.as_str()).collect();
        labels.join(", ")
    }

    /// SCALE bytes of a value of type `ty` written in the value syntax.
    pub fn encode_value(&self, ty: u32, text: &str) -> Result<Vec<u8>, InkError> {
        let mut out = Vec::new();
        scon::parse(text)
            .and_then(|v| codec::encode(&self.registry, ty, &v, &mut out, 0))
            .map_err(InkError::Value)?;
        Ok(out)
    }

    /// Decodes one value of type `ty` from the front of `data`, advancing it past the value.
    pub fn decode_value(&self, ty: u32, data: &mut &[u8]) -> Result<Value, InkError> {
        codec::decode(&self.registry, ty, data, 0).map_err(|message| InkError::Decode {
            what: format!("a {}", self.type_name(ty)),
            message,
        })
    }
}
