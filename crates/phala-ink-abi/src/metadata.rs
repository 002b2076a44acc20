//! Reading ink! metadata JSON into [`InkMetadata`].
//!
//! The metadata is read through `serde_json::Value` rather than derived structs because four
//! formats are in use and differ in small ways that a derive would turn into four copies:
//!
//! - ink 4/5 (`"version": "4"` / `5`): `label`s, types `{id, type: {path, params, def}}`;
//! - ink 3 (`{"V3": {spec, storage, types}}`, also `V1`/`V2`): `label`s, types with ids;
//! - ink ≤ 3.0-rc (`"metadataVersion": "0.1.0"`): names are arrays (`"name": ["flip"]`),
//!   args have `name`, type entries have no `id` (ids are 1-based positions) and variants
//!   may carry `discriminant` instead of `index`.
//!
//! Everything is normalised into one registry ([`Registry`]) and one callable shape
//! ([`Callable`]) so the codec never has to know which format it came from.

use std::collections::BTreeMap;

use serde_json::Value;

use super::InkError;

/// A constructor or a message of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callable {
    /// The name users call it by; trait messages are `Trait::name` (`PSP34::transfer`).
    pub label: String,
    /// The four bytes that start the call data.
    pub selector: [u8; 4],
    /// The arguments, in the order they are encoded.
    pub args: Vec<Arg>,
    /// Type id of the output: for ink 4/5 `Result<T, LangError>`, for ink 3 plain `T`.
    pub return_type: Option<u32>,
    /// Whether the message takes `&mut self` (always `true` for constructors).
    pub mutates: bool,
    /// Whether value may be transferred with the call.
    pub payable: bool,
    /// The doc comment, one entry per line.
    pub docs: Vec<String>,
}

/// One argument of a [`Callable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub label: String,
    /// Type id in the bundle's registry.
    pub ty: u32,
    /// The type as written in the source (`displayName` joined with `::`), e.g. `AccountId`.
    pub type_name: String,
}

/// An event the contract can emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub label: String,
    pub args: Vec<EventArg>,
    /// ink 5: blake2-256 of the event signature, which is `topics[0]`; `None` for anonymous
    /// events and for older formats.
    pub signature_topic: Option<[u8; 32]>,
    pub docs: Vec<String>,
}

/// One field of an [`EventSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventArg {
    pub label: String,
    pub ty: u32,
    pub type_name: String,
    /// Whether the field is also published as a topic.
    pub indexed: bool,
}

/// The contract's ABI: callables, events and the scale-info type registry they refer to.
#[derive(Debug, Clone)]
pub struct InkMetadata {
    /// 0 for the `metadataVersion 0.1.0` format, else 1..=5.
    pub(crate) version: u32,
    pub(crate) constructors: Vec<Callable>,
    pub(crate) messages: Vec<Callable>,
    pub(crate) events: Vec<EventSpec>,
    pub(crate) registry: Registry,
    pub(crate) source_hash: Option<[u8; 32]>,
    pub(crate) language: Option<String>,
}

/// The scale-info portable registry, keyed by type id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    pub(crate) types: BTreeMap<u32, Type>,
}

#[derive(Debug, Clone)]
pub(crate) struct Type {
    pub(crate) path: Vec<String>,
    pub(crate) def: Def,
}

#[derive(Debug, Clone)]
pub(crate) enum Def {
    Primitive(Prim),
    Composite(Vec<Field>),
    Variant(Vec<Variant>),
    Sequence(u32),
    Array { len: u32, ty: u32 },
    Tuple(Vec<u32>),
    Compact(u32),
    BitSequence,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: Option<String>,
    pub(crate) ty: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub(crate) name: String,
    pub(crate) index: u8,
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Bool,
    Char,
    Str,
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    I8,
    I16,
    I32,
    I64,
    I128,
    I256,
}

impl Prim {
    fn from_name(name: &str) -> Option<Prim> {
        Some(match name {
            "bool" => Prim::Bool,
            "char" => Prim::Char,
            "str" => Prim::Str,
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            "u128" => Prim::U128,
            "u256" => Prim::U256,
            "i8" => Prim::I8,
            "i16" => Prim::I16,
            "i32" => Prim::I32,
            "i64" => Prim::I64,
            "i128" => Prim::I128,
            "i256" => Prim::I256,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::Char => "char",
            Prim::Str => "String",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::U128 => "u128",
            Prim::U256 => "u256",
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::I128 => "i128",
            Prim::I256 => "i256",
        }
    }
}

impl Registry {
    pub(crate) fn get(&self, ty: u32) -> Result<&Type, String> {
        self.types
            .get(&ty)
            .ok_or_else(|| format!("type id {ty} is not in the bundle's type registry"))
    }
}

impl Type {
    /// The last segment of the path (`AccountId`, `Option`), if the type has a path.
    pub(crate) fn name(&self) -> Option<&str> {
        self.path.last().map(String::as_str)
    }
}

fn err(message: impl Into<String>) -> InkError {
    InkError::Metadata(message.into())
}

/// A `label` (ink ≥ 3) or a `name` (string, or array of segments in the oldest format).
fn label_of(v: &Value) -> Option<String> {
    if let Some(label) = v.get("label").and_then(Value::as_str) {
        return Some(label.to_string());
    }
    match v.get("name")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join("::"))
        }
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn type_id(v: Option<&Value>, what: &str) -> Result<u32, InkError> {
    v.and_then(Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| err(format!("{what} has no valid type id")))
}

fn bool_of(v: &Value, key: &str, default: bool) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// `"0x…"` with exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(digits).ok()?.try_into().ok()
}

/// A `{type: id, displayName: [..]}` reference: the id and the display name.
fn type_ref(v: Option<&Value>, what: &str) -> Result<(u32, String), InkError> {
    let v = v.ok_or_else(|| err(format!("{what} has no type")))?;
    let id = type_id(v.get("type"), what)?;
    let display = strings(v.get("displayName")).join("::");
    Ok((id, display))
}

fn parse_args(v: &Value, owner: &str) -> Result<Vec<Arg>, InkError> {
    let mut args = Vec::new();
    for (i, arg) in v
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = label_of(arg).unwrap_or_else(|| format!("arg{i}"));
        let what = format!("argument `{label}` of `{owner}`");
        let (ty, type_name) = type_ref(arg.get("type"), &what)?;
        args.push(Arg {
            label,
            ty,
            type_name,
        });
    }
    Ok(args)
}

fn parse_callable(v: &Value, constructor: bool) -> Result<Callable, InkError> {
    let kind = if constructor {
        "a constructor"
    } else {
        "a message"
    };
    let label = label_of(v).ok_or_else(|| err(format!("{kind} has no label")))?;
    let selector = v
        .get("selector")
        .and_then(Value::as_str)
        .and_then(hex_array::<4>)
        .ok_or_else(|| err(format!("`{label}` has no valid 4-byte selector")))?;
    let args = parse_args(v, &label)?;
    let return_type = match v.get("returnType") {
        None | Some(Value::Null) => None,
        Some(r) => Some(type_id(
            r.get("type"),
            &format!("the return type of `{label}`"),
        )?),
    };
    Ok(Callable {
        mutates: bool_of(v, "mutates", constructor),
        payable: bool_of(v, "payable", false),
        docs: strings(v.get("docs")),
        label,
        selector,
        args,
        return_type,
    })
}

fn parse_event(v: &Value) -> Result<EventSpec, InkError> {
    let label = label_of(v).ok_or_else(|| err("an event has no label"))?;
    let mut args = Vec::new();
    for (i, arg) in v
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let arg_label = label_of(arg).unwrap_or_else(|| format!("field{i}"));
        let what = format!("field `{arg_label}` of event `{label}`");
        let (ty, type_name) = type_ref(arg.get("type"), &what)?;
        args.push(EventArg {
            label: arg_label,
            ty,
            type_name,
            indexed: bool_of(arg, "indexed", false),
        });
    }
    let signature_topic = match v.get("signature_topic") {
        None | Some(Value::Null) => None,
        Some(t) => Some(
            t.as_str()
                .and_then(hex_array::<32>)
                .ok_or_else(|| err(format!("event `{label}` has a malformed signature_topic")))?,
        ),
    };
    Ok(EventSpec {
        label,
        args,
        signature_topic,
        docs: strings(v.get("docs")),
    })
}

fn parse_fields(v: Option<&Value>, owner: u32) -> Result<Vec<Field>, InkError> {
    let mut fields = Vec::new();
    for f in v.and_then(Value::as_array).into_iter().flatten() {
        fields.push(Field {
            name: f.get("name").and_then(Value::as_str).map(str::to_string),
            ty: type_id(f.get("type"), &format!("a field of type {owner}"))?,
        });
    }
    Ok(fields)
}

fn parse_def(def: &Value, id: u32) -> Result<Def, InkError> {
    let (kind, body) = def
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| err(format!("type {id} has no definition")))?;
    let field_ty = |v: &Value| type_id(v.get("type"), &format!("type {id}"));
    Ok(match kind.as_str() {
        "primitive" => Def::Primitive(
            body.as_str()
                .and_then(Prim::from_name)
                .ok_or_else(|| err(format!("type {id} is an unknown primitive {body}")))?,
        ),
        "composite" => Def::Composite(parse_fields(body.get("fields"), id)?),
        "variant" => {
            let mut variants = Vec::new();
            for (pos, var) in body
                .get("variants")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let name = label_of(var)
                    .ok_or_else(|| err(format!("a variant of type {id} has no name")))?;
                let index = var
                    .get("index")
                    .or_else(|| var.get("discriminant"))
                    .and_then(Value::as_u64)
                    .unwrap_or(pos as u64);
                let index = u8::try_from(index)
                    .map_err(|_| err(format!("variant `{name}` of type {id} has index {index}")))?;
                variants.push(Variant {
                    name,
                    index,
                    fields: parse_fields(var.get("fields"), id)?,
                });
            }
            Def::Variant(variants)
        }
        "sequence" => Def::Sequence(field_ty(body)?),
        "array" => Def::Array {
            len: body
                .get("len")
                .and_then(Value::as_u64)
                .and_then(|l| u32::try_from(l).ok())
                .ok_or_else(|| err(format!("array type {id} has no length")))?,
            ty: field_ty(body)?,
        },
        "tuple" => {
            let mut ids = Vec::new();
            for t in body.as_array().into_iter().flatten() {
                ids.push(type_id(Some(t), &format!("tuple type {id}"))?);
            }
            Def::Tuple(ids)
        }
        "compact" => Def::Compact(field_ty(body)?),
        "bitSequence" => Def::BitSequence,
        // scale-info 0.x's marker for `PhantomData`: encodes to nothing.
        "phantom" => Def::Tuple(Vec::new()),
        other => return Err(err(format!("type {id} has an unknown kind `{other}`"))),
    })
}

fn parse_types(types: Option<&Value>) -> Result<Registry, InkError> {
    let mut registry = Registry::default();
    for (pos, entry) in types
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        // scale-info ≥ 1.0: `{id, type}`; older: the type itself, ids 1-based by position.
        let (id, ty) = match entry.get("id") {
            Some(id) => (
                type_id(Some(id), "a type-registry entry")?,
                entry.get("type").unwrap_or(&Value::Null),
            ),
            None => (
                u32::try_from(pos)
                    .ok()
                    .and_then(|p| p.checked_add(1))
                    .ok_or_else(|| err("the type registry is too large"))?,
                entry,
            ),
        };
        let def = ty
            .get("def")
            .ok_or_else(|| err(format!("type {id} has no definition")))?;
        let parsed = Type {
            path: strings(ty.get("path")),
            def: parse_def(def, id)?,
        };
        if registry.types.insert(id, parsed).is_some() {
            return Err(err(format!("type id {id} is defined twice")));
        }
    }
    Ok(registry)
}

impl InkMetadata {
    /// Reads the metadata from a parsed `.contract` / `.json` document.
    pub fn from_value(doc: &Value) -> Result<InkMetadata, InkError> {
        if !doc.is_object() {
            return Err(err("the document is not a JSON object"));
        }
        let wrapped = ["V3", "V2", "V1"]
            .iter()
            .zip([3u32, 2, 1])
            .find_map(|(key, v)| doc.get(*key).map(|inner| (inner, v)));
        let (body, version) = if let Some((inner, v)) = wrapped {
            (inner, v)
        } else if doc.get("metadataVersion").is_some() {
            (doc, 0)
        } else {
            let v = match doc.get("version") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.parse::<u64>().ok(),
                _ => None,
            };
            match v.and_then(|v| u32::try_from(v).ok()) {
                Some(v @ 4..=5) => (doc, v),
                Some(v) => {
                    return Err(err(format!(
                        "metadata version {v} is not supported (supported: ink! 3, 4 and 5)"
                    )));
                }
                None => {
                    return Err(err(
                        "it has no `version`, `V3` or `metadataVersion` field, so it is not ink! metadata",
                    ));
                }
            }
        };
        let spec = body
            .get("spec")
            .ok_or_else(|| err("it has no `spec` section"))?;
        let mut constructors = Vec::new();
        for c in spec
            .get("constructors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            constructors.push(parse_callable(c, true)?);
        }
        let mut messages = Vec::new();
        for m in spec
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            messages.push(parse_callable(m, false)?);
        }
        let mut events = Vec::new();
        for e in spec
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            events.push(parse_event(e)?);
        }
        let registry = parse_types(body.get("types"))?;
        let meta = InkMetadata {
            version,
            constructors,
            messages,
            events,
            registry,
            source_hash: doc
                .pointer("/source/hash")
                .and_then(Value::as_str)
                .and_then(hex_array::<32>),
            language: doc
                .pointer("/source/language")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        meta.check_references()?;
        Ok(meta)
    }

    /// Every type id the spec and the registry mention must exist, so the codec can treat a
    /// missing id as a broken bundle rather than a user error.
    fn check_references(&self) -> Result<(), InkError> {
        let missing = |ty: u32, what: &str| -> Result<(), InkError> {
            if self.registry.types.contains_key(&ty) {
                Ok(())
            } else {
                Err(err(format!(
                    "{what} refers to type id {ty}, which the registry lacks"
                )))
            }
        };
        for c in self.constructors.iter().chain(&self.messages) {
            for a in &c.args {
                missing(a.ty, &format!("argument `{}` of `{}`", a.label, c.label))?;
            }
            if let Some(r) = c.return_type {
                missing(r, &format!("the return type of `{}`", c.label))?;
            }
        }
        for e in &self.events {
            for a in &e.args {
                missing(a.ty, &format!("field `{}` of event `{}`", a.label, e.label))?;
            }
        }
        for (id, t) in &self.registry.types {
            let what = format!("type {id}");
            let fields = |fs: &[Field]| fs.iter().try_for_each(|f| missing(f.ty, &what));
            match &t.def {
                Def::Primitive(_) | Def::BitSequence => {}
                Def::Composite(fs) => fields(fs)?,
                Def::Variant(vs) => vs.iter().try_for_each(|v| fields(&v.fields))?,
                Def::Sequence(ty) | Def::Array { ty, .. } | Def::Compact(ty) => {
                    missing(*ty, &what)?
                }
                Def::Tuple(ids) => ids.iter().try_for_each(|ty| missing(*ty, &what))?,
            }
        }
        Ok(())
    }

    /// The metadata format: 0 for the oldest (`metadataVersion 0.1.0`), 3 for `V3`, 4, 5.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The ink! version the bundle names, e.g. `ink! 4.3.0`.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// `source.hash` as written in the metadata (present in `.json` files too).
    pub fn source_hash(&self) -> Option<[u8; 32]> {
        self.source_hash
    }

    pub fn constructors(&self) -> &[Callable] {
        &self.constructors
    }

    pub fn messages(&self) -> &[Callable] {
        &self.messages
    }

    pub fn events(&self) -> &[EventSpec] {
        &self.events
    }

    /// A constructor by label, by selector (`0x9bae9d5e`), or by the last segment of a
    /// trait label when only one matches.
    pub fn constructor(&self, name: &str) -> Result<&Callable, InkError> {
        find(&self.constructors, "constructor", name)
    }

    /// A message by label (`flip`, `PSP34::transfer`), by selector (`0x633aa551`), or by the
    /// last segment of a trait label when only one matches (`transfer`).
    pub fn message(&self, name: &str) -> Result<&Callable, InkError> {
        find(&self.messages, "message", name)
    }

    /// The constructor a CLI uses when none is named: `new`, else `default`, else the first.
    pub fn default_constructor(&self) -> Option<&Callable> {
        let by = |label: &str| self.constructors.iter().find(|c| c.label == label);
        by("new")
            .or_else(|| by("default"))
            .or_else(|| self.constructors.first())
    }

    /// A readable name for a type id: `u128`, `AccountId`, `Option<AccountId>`,
    /// `Vec<u8>`, `[u8; 32]`, `(u32, bool)`.
    pub fn type_name(&self, ty: u32) -> String {
        type_name(&self.registry, ty, 0)
    }
}

fn find<'a>(
    list: &'a [Callable],
    kind: &'static str,
    name: &str,
) -> Result<&'a Callable, InkError> {
    let name = name.trim();
    if let Some(c) = list.iter().find(|c| c.label == name) {
        return Ok(c);
    }
    if name.starts_with("0x")
        && let Some(sel) = hex_array::<4>(name)
        && let Some(c) = list.iter().find(|c| c.selector == sel)
    {
        return Ok(c);
    }
    let mut by_suffix = list
        .iter()
        .filter(|c| c.label.rsplit("::").next() == Some(name));
    if let (Some(c), None) = (by_suffix.next(), by_suffix.next()) {
        return Ok(c);
    }
    let available = if list.is_empty() {
        "none".to_string()
    } else {
        list.iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(InkError::NotFound {
        kind,
        name: name.to_string(),
        available,
    })
}

pub(crate) fn type_name(reg: &Registry, ty: u32, depth: usize) -> String {
    if depth > 8 {
        return "…".to_string();
    }
    let Ok(t) = reg.get(ty) else {
        return format!("#{ty}");
    };
    let inner = |ty: u32| type_name(reg, ty, depth.saturating_add(1));
    match &t.def {
        Def::Primitive(p) => p.name().to_string(),
        Def::Sequence(elem) => format!("Vec<{}>", inner(*elem)),
        Def::Array { len, ty } => format!("[{}; {len}]", inner(*ty)),
        Def::Tuple(ids) => {
            let parts: Vec<String> = ids.iter().map(|id| inner(*id)).collect();
            format!("({})", parts.join(", "))
        }
        Def::Compact(ty) => format!("Compact<{}>", inner(*ty)),
        Def::BitSequence => "BitVec".to_string(),
        Def::Variant(vs) if t.path == ["Option"] => {
            match vs
                .iter()
                .find(|v| v.name == "Some")
                .and_then(|v| v.fields.first())
            {
                Some(f) => format!("Option<{}>", inner(f.ty)),
                None => "Option".to_string(),
            }
        }
        Def::Variant(vs) if t.path == ["Result"] => {
            let arm = |n: &str| {
                vs.iter()
                    .find(|v| v.name == n)
                    .and_then(|v| v.fields.first())
                    .map(|f| inner(f.ty))
                    .unwrap_or_else(|| "()".to_string())
            };
            format!("Result<{}, {}>", arm("Ok"), arm("Err"))
        }
        Def::Composite(_) | Def::Variant(_) => t
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{ty}")),
    }
}
