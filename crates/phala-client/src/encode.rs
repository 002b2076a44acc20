//! Calls built by name from the chain's metadata, as polkadot.js apps builds them: a module
//! and call name (`validators.setCommitteeSize`, any case, with or without underscores) and
//! JSON arguments, encoded by the call's `scale-info` types. This is how a proposal is
//! written without hand-made SCALE: `phala gov submit --call validators.setCommitteeSize
//! --args '{"size": 8}'`.
//!
//! JSON shapes: structs as objects (field names in any case) or arrays; a one-field struct
//! also as its field's value; enums as `"Variant"` or `{"Variant": value}`, `null` for
//! `None`; byte strings and byte arrays as 0x hex; accounts (and `MultiAddress::Id`) as
//! SS58 or 0x hex; integers as JSON numbers or decimal strings (u128 amounts are planck).

use parity_scale_codec::{Compact, Encode};
use scale_info::form::PortableForm;
use scale_info::{Field, Type, TypeDef, TypeDefPrimitive, Variant};
use serde_json::Value;

use crate::metadata::ChainMetadata;

/// Deepest nesting followed; real calls are a few levels deep.
const MAX_DEPTH: u32 = 32;

/// `validators.setCommitteeSize` and `Validators.set_committee_size` alike.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl ChainMetadata {
    /// Encodes `module.call` with `args` (a JSON object of named arguments, or an array of
    /// them in order) into a `RuntimeCall`'s SCALE bytes.
    pub fn encode_call(&self, name: &str, args: &Value) -> Result<Vec<u8>, String> {
        let (module, call) = name
            .split_once('.')
            .ok_or_else(|| format!("`{name}` is not `module.call`, e.g. `system.remark`"))?;
        let (index, pallet) = self
            .pallets
            .iter()
            .find(|(_, p)| normalize(&p.name) == normalize(module))
            .ok_or_else(|| format!("the chain has no module `{module}`"))?;
        let ty = pallet
            .call_ty
            .and_then(|id| self.registry.resolve(id))
            .ok_or_else(|| format!("module {} has no calls", pallet.name))?;
        let TypeDef::Variant(def) = &ty.type_def else {
            return Err(format!("the calls of {} are not an enum", pallet.name));
        };
        let variant = def
            .variants
            .iter()
            .find(|v| normalize(&v.name) == normalize(call))
            .ok_or_else(|| {
                let names: Vec<&str> = def.variants.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "{} has no call `{call}`; it has {}",
                    pallet.name,
                    names.join(", ")
                )
            })?;
        let mut out = vec![*index, variant.index];
        Encoder { meta: self }
            .fields(&variant.fields, args, &mut out, 0)
            .map_err(|e| format!("{}.{}: {e}", pallet.name, variant.name))?;
        Ok(out)
    }
}

struct Encoder<'a> {
    meta: &'a ChainMetadata,
}

impl Encoder<'_> {
    fn resolve(&self, id: u32) -> Result<&Type<PortableForm>, String> {
        self.meta
            .registry
            .resolve(id)
            .ok_or_else(|| format!("type {id} is not in the metadata"))
    }

    /// A struct's or a variant's fields from an object, an array, or (one field) a value.
    fn fields(
        &self,
        fields: &[Field<PortableForm>],
        value: &Value,
        out: &mut Vec<u8>,
        depth: u32,
    ) -> Result<(), String> {
        match value {
            Value::Object(map) if fields.iter().all(|f| f.name.is_some()) => {
                for key in map.keys() {
                    if !fields
                        .iter()
                        .any(|f| f.name.as_deref().map(normalize) == Some(normalize(key)))
                    {
                        let names: Vec<&str> =
                            fields.iter().filter_map(|f| f.name.as_deref()).collect();
                        return Err(format!(
                            "no argument `{key}` (it takes {})",
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ));
                    }
                }
                for field in fields {
                    let name = field.name.as_deref().unwrap_or_default();
                    let v = map
                        .iter()
                        .find(|(k, _)| normalize(k) == normalize(name))
                        .map(|(_, v)| v)
                        .ok_or_else(|| format!("argument `{name}` is missing"))?;
                    self.value(field.ty.id, v, out, depth.saturating_add(1))
                        .map_err(|e| format!("{name}: {e}"))?;
                }
                Ok(())
            }
            Value::Array(items) if items.len() == fields.len() && fields.len() != 1 => {
                for (field, v) in fields.iter().zip(items) {
                    self.value(field.ty.id, v, out, depth.saturating_add(1))?;
                }
                Ok(())
            }
            Value::Null if fields.is_empty() => Ok(()),
            Value::Object(map) if map.is_empty() && fields.is_empty() => Ok(()),
            Value::Array(items) if items.is_empty() && fields.is_empty() => Ok(()),
            v if fields.len() == 1 => {
                let Some(field) = fields.first() else {
                    return Err("no field".into());
                };
                // A one-field struct, or a one-element array of its value (unless that
                // array is the value itself, as for a list).
                if let Value::Array(items) = v
                    && let [only] = items.as_slice()
                {
                    let mut attempt = Vec::new();
                    if self
                        .value(field.ty.id, only, &mut attempt, depth.saturating_add(1))
                        .is_ok()
                    {
                        out.extend_from_slice(&attempt);
                        return Ok(());
                    }
                }
                self.value(field.ty.id, v, out, depth.saturating_add(1))
            }
            v => Err(format!("expected {} argument(s), got {v}", fields.len())),
        }
    }

    fn value(&self, id: u32, value: &Value, out: &mut Vec<u8>, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("value nested too deeply".into());
        }
        let ty = self.resolve(id)?;
        let last = ty.path.segments.last().map(String::as_str);
        match &ty.type_def {
            TypeDef::Composite(def) => {
                if last == Some("AccountId32")
                    && let Value::String(s) = value
                {
                    out.extend_from_slice(&account(s)?);
                    return Ok(());
                }
                self.fields(&def.fields, value, out, depth)
            }
            TypeDef::Variant(def) => self.variant(last, &def.variants, value, out, depth),
            TypeDef::Sequence(def) => {
                let element = def.type_param.id;
                if self.is_u8(element)
                    && let Value::String(s) = value
                {
                    let bytes = hex_bytes(s)?;
                    Compact(u32::try_from(bytes.len()).map_err(|_| "too long")?).encode_to(out);
                    out.extend_from_slice(&bytes);
                    return Ok(());
                }
                let Value::Array(items) = value else {
                    return Err(format!(
                        "expected an array (or 0x hex for bytes), got {value}"
                    ));
                };
                Compact(u32::try_from(items.len()).map_err(|_| "too long")?).encode_to(out);
                for v in items {
                    self.value(element, v, out, depth.saturating_add(1))?;
                }
                Ok(())
            }
            TypeDef::Array(def) => {
                let len = usize::try_from(def.len).map_err(|_| "array too long")?;
                let element = def.type_param.id;
                if self.is_u8(element)
                    && let Value::String(s) = value
                {
                    let bytes = if len == 32 {
                        account(s)?.to_vec()
                    } else {
                        hex_bytes(s)?
                    };
                    if bytes.len() != len {
                        return Err(format!("expected {len} bytes, got {}", bytes.len()));
                    }
                    out.extend_from_slice(&bytes);
                    return Ok(());
                }
                match value {
                    Value::Array(items) if items.len() == len => {
                        for v in items {
                            self.value(element, v, out, depth.saturating_add(1))?;
                        }
                        Ok(())
                    }
                    v => Err(format!("expected an array of {len}, got {v}")),
                }
            }
            TypeDef::Tuple(def) => match value {
                Value::Array(items) if items.len() == def.fields.len() => {
                    for (t, v) in def.fields.iter().zip(items) {
                        self.value(t.id, v, out, depth.saturating_add(1))?;
                    }
                    Ok(())
                }
                Value::Null if def.fields.is_empty() => Ok(()),
                v => Err(format!(
                    "expected an array of {}, got {v}",
                    def.fields.len()
                )),
            },
            TypeDef::Primitive(p) => primitive(p, value, out),
            TypeDef::Compact(def) => {
                let inner = self.resolve(def.type_param.id)?;
                let TypeDef::Primitive(p) = &inner.type_def else {
                    return Err("a compact of a non-integer is not supported".into());
                };
                let n = integer(value)?;
                let fits = |max: u128| {
                    if n <= max {
                        Ok(())
                    } else {
                        Err(format!("{n} does not fit"))
                    }
                };
                match p {
                    TypeDefPrimitive::U8 => fits(u8::MAX.into())?,
                    TypeDefPrimitive::U16 => fits(u16::MAX.into())?,
                    TypeDefPrimitive::U32 => fits(u32::MAX.into())?,
                    TypeDefPrimitive::U64 => fits(u64::MAX.into())?,
                    TypeDefPrimitive::U128 => {}
                    _ => return Err("a compact of a non-integer is not supported".into()),
                }
                Compact(n).encode_to(out);
                Ok(())
            }
            TypeDef::BitSequence(_) => Err("bit sequences are not supported".into()),
        }
    }

    fn variant(
        &self,
        path_last: Option<&str>,
        variants: &[Variant<PortableForm>],
        value: &Value,
        out: &mut Vec<u8>,
        depth: u32,
    ) -> Result<(), String> {
        let find = |name: &str| {
            variants
                .iter()
                .find(|v| normalize(&v.name) == normalize(name))
                .ok_or_else(|| {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    format!("no variant `{name}` (one of {})", names.join(", "))
                })
        };
        match (path_last, value) {
            (Some("Option"), Value::Null) => {
                out.push(find("None")?.index);
                Ok(())
            }
            (Some("Option"), v) if !is_variant_object(v, variants) => {
                let some = find("Some")?;
                out.push(some.index);
                self.fields(&some.fields, v, out, depth)
            }
            // An account where an address is asked for.
            (Some("MultiAddress"), Value::String(s)) => {
                out.push(find("Id")?.index);
                out.extend_from_slice(&account(s)?);
                Ok(())
            }
            (_, Value::String(name)) => {
                let v = find(name)?;
                if !v.fields.is_empty() {
                    return Err(format!("variant `{}` takes arguments", v.name));
                }
                out.push(v.index);
                Ok(())
            }
            (_, Value::Object(map)) if map.len() == 1 => {
                let (name, inner) = map.iter().next().ok_or("empty object")?;
                let v = find(name)?;
                out.push(v.index);
                self.fields(&v.fields, inner, out, depth)
            }
            (_, v) => Err(format!(
                "expected \"Variant\" or {{\"Variant\": value}}, got {v}"
            )),
        }
    }

    fn is_u8(&self, id: u32) -> bool {
        self.resolve(id)
            .is_ok_and(|t| matches!(t.type_def, TypeDef::Primitive(TypeDefPrimitive::U8)))
    }
}

/// `{"Some": x}` for an `Option` is the variant form, not a struct value.
fn is_variant_object(value: &Value, variants: &[Variant<PortableForm>]) -> bool {
    matches!(value, Value::Object(map) if map.len() == 1
        && map.keys().all(|k| variants.iter().any(|v| normalize(&v.name) == normalize(k))))
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("expected 0x hex, got `{s}`"))?;
    hex::decode(digits).map_err(|e| format!("`{s}` is not hex: {e}"))
}

/// An SS58 address or 0x public key.
fn account(s: &str) -> Result<[u8; 32], String> {
    phala_primitives::ss58::parse_account(s).map_err(|e| format!("`{s}` is not an account: {e}"))
}

fn integer(value: &Value) -> Result<u128, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(u128::from)
            .ok_or_else(|| format!("{n} is not a non-negative integer")),
        Value::String(s) => s
            .replace('_', "")
            .parse::<u128>()
            .map_err(|_| format!("`{s}` is not a non-negative integer")),
        v => Err(format!("expected an integer, got {v}")),
    }
}

fn signed(value: &Value) -> Result<i128, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s) => s
            .replace('_', "")
            .parse::<i128>()
            .map_err(|_| format!("`{s}` is not an integer")),
        v => Err(format!("expected an integer, got {v}")),
    }
}

fn primitive(p: &TypeDefPrimitive, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    macro_rules! int {
        ($t:ty, $read:ident) => {{
            let n = $read(value)?;
            <$t>::try_from(n)
                .map_err(|_| format!("{n} does not fit in {}", stringify!($t)))?
                .encode_to(out);
        }};
    }
    match p {
        TypeDefPrimitive::Bool => match value {
            Value::Bool(b) => b.encode_to(out),
            v => return Err(format!("expected true or false, got {v}")),
        },
        TypeDefPrimitive::Str => match value {
            Value::String(s) => s.encode_to(out),
            v => return Err(format!("expected a string, got {v}")),
        },
        TypeDefPrimitive::Char => return Err("chars are not supported".into()),
        TypeDefPrimitive::U8 => int!(u8, integer),
        TypeDefPrimitive::U16 => int!(u16, integer),
        TypeDefPrimitive::U32 => int!(u32, integer),
        TypeDefPrimitive::U64 => int!(u64, integer),
        TypeDefPrimitive::U128 => int!(u128, integer),
        TypeDefPrimitive::I8 => int!(i8, signed),
        TypeDefPrimitive::I16 => int!(i16, signed),
        TypeDefPrimitive::I32 => int!(i32, signed),
        TypeDefPrimitive::I64 => int!(i64, signed),
        TypeDefPrimitive::I128 => int!(i128, signed),
        TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => {
            return Err("256-bit integers are not supported".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use parity_scale_codec::Encode;
    use phala_keys::Sr25519Pair;
    use phala_primitives::MultiAddress;
    use phala_runtime::RuntimeCall;
    use phala_runtime::modules::{balances, contracts, referenda, registry, system, validators};
    use serde_json::json;

    use crate::ChainMetadata;

    fn encode(name: &str, args: serde_json::Value) -> Result<Vec<u8>, String> {
        ChainMetadata::local().encode_call(name, &args)
    }

    #[test]
    fn calls_encode_as_the_runtime_encodes_them() {
        let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
        let cases = [
            (
                encode("validators.setCommitteeSize", json!({"size": 8})),
                RuntimeCall::Validators(validators::Call::set_committee_size { size: 8 }),
            ),
            (
                encode("Validators.set_committee_size", json!([8])),
                RuntimeCall::Validators(validators::Call::set_committee_size { size: 8 }),
            ),
            (
                encode("registry.addMeasurement", json!({"measurement": "0x5a5a"})),
                RuntimeCall::Registry(registry::Call::add_measurement {
                    measurement: vec![0x5a, 0x5a],
                }),
            ),
            (
                encode("registry.addMeasurement", json!(["0x5a5a"])),
                RuntimeCall::Registry(registry::Call::add_measurement {
                    measurement: vec![0x5a, 0x5a],
                }),
            ),
            (
                encode("registry.addMeasurement", json!([[1, 2]])),
                RuntimeCall::Registry(registry::Call::add_measurement {
                    measurement: vec![1, 2],
                }),
            ),
            (
                encode(
                    "balances.transferKeepAlive",
                    json!({"dest": bob.to_ss58(), "value": "1000000000000"}),
                ),
                RuntimeCall::Balances(balances::Call::transfer_keep_alive {
                    dest: MultiAddress::Id(bob),
                    value: 1_000_000_000_000,
                }),
            ),
            (
                encode(
                    "contracts.setPricing",
                    json!({"pricing": {"gasPrice": 2000, "storageDepositPerByte": 1, "codeDepositPerByte": "3"}}),
                ),
                RuntimeCall::Contracts(contracts::Call::set_pricing {
                    pricing: contracts::Pricing {
                        gas_price: 2_000,
                        storage_deposit_per_byte: 1,
                        code_deposit_per_byte: 3,
                    },
                }),
            ),
            (
                encode("system.remark", json!({"remark": "0x0102"})),
                RuntimeCall::System(system::Call::remark { remark: vec![1, 2] }),
            ),
            (
                encode("referenda.cancel", json!({"index": 3})),
                RuntimeCall::Referenda(referenda::Call::cancel { index: 3 }),
            ),
            (
                encode(
                    "contracts.removeClusterWorker",
                    json!({"worker": format!("0x{}", hex::encode([7u8; 32]))}),
                ),
                RuntimeCall::Contracts(contracts::Call::remove_cluster_worker { worker: [7; 32] }),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, Ok(want.encode()), "{want:?}");
        }
    }

    #[test]
    fn bad_names_and_arguments_say_what_is_wrong() {
        let err = |name, args| encode(name, args).unwrap_err();
        assert!(err("nosuch.call", json!({})).contains("no module"));
        assert!(err("validators.nosuch", json!({})).contains("set_committee_size"));
        assert!(err("validators.setCommitteeSize", json!({})).contains("missing"));
        assert!(err("validators.setCommitteeSize", json!({"size": 8, "x": 1})).contains("`x`"));
        assert!(err("validators.setCommitteeSize", json!({"size": -1})).contains("size"));
        assert!(err("validators.setCommitteeSize", json!({"size": 1u64 << 40})).contains("fit"));
        assert!(err("registry.addMeasurement", json!({"measurement": "zz"})).contains("hex"));
        assert!(err("system", json!({})).contains("module.call"));
    }

    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-zA-Z0-9x_ ]{0,12}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::from("0x0102")),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever JSON a user passes, encoding answers Ok or an error, never panics, and
        /// what it encodes decodes as a call of this chain.
        #[test]
        fn any_json_encodes_or_is_refused(
            name in proptest::sample::select(vec![
                "system.remark", "validators.setCommitteeSize", "contracts.setPricing",
                "balances.transferKeepAlive", "referenda.submit", "convictionVoting.vote",
                "treasury.spend", "computation.setParams", "scheduler.schedule", "nope.nope",
            ]),
            args in json(),
        ) {
            if let Ok(bytes) = encode(name, args) {
                use parity_scale_codec::DecodeLimit;
                proptest::prop_assert!(RuntimeCall::decode_all_with_depth_limit(
                    phala_runtime::MAX_CALL_DEPTH,
                    &mut bytes.as_slice()
                )
                .is_ok());
            }
        }
    }
}
