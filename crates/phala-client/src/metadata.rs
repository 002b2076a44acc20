//! What the SDK reads from runtime metadata: module error names and docs, and readable
//! renderings of events.
//!
//! The SDK decodes state with its own runtime types and needs no metadata for that. Names and
//! docs are what metadata adds: a `DispatchError::Module { index: 2, error: [1, 0, 0, 0] }`
//! becomes `Balances.InsufficientBalance: Balance too low to send value.`, and an event becomes
//! `Balances.Transfer { from: 45R2…, to: 43qs…, amount: 1 PHA }`.

use std::collections::BTreeMap;
use std::fmt;

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::{Compact, Decode, Encode};
use phala_primitives::{AccountId32, format_pha};
use phala_runtime::RuntimeEvent;
use scale_info::form::PortableForm;
use scale_info::{Field, PortableRegistry, TypeDef, TypeDefPrimitive, Variant};

/// Deepest nesting the renderer follows; real events are a few levels deep.
const MAX_DEPTH: u32 = 32;

/// Where a [`ChainMetadata`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataSource {
    /// Fetched from the node: names match the runtime the node runs.
    Node,
    /// Built into this SDK (the node's metadata could not be read).
    Local,
}

pub(crate) struct PalletInfo {
    pub(crate) name: String,
    pub(crate) call_ty: Option<u32>,
    event_ty: Option<u32>,
    error_ty: Option<u32>,
}

/// The parts of runtime metadata the SDK uses.
pub struct ChainMetadata {
    pub(crate) registry: PortableRegistry,
    pub(crate) pallets: BTreeMap<u8, PalletInfo>,
    source: MetadataSource,
}

impl fmt::Debug for ChainMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainMetadata")
            .field("pallets", &self.pallets.len())
            .field("source", &self.source)
            .finish()
    }
}

/// A module error resolved by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleErrorInfo {
    /// The module (pallet) name, e.g. `Balances`.
    pub module: String,
    /// The error variant, e.g. `InsufficientBalance`.
    pub name: String,
    /// The variant's documentation, one line (may be empty).
    pub docs: String,
}

/// An event rendered for people: `Module.Name { field: value, … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDescription {
    pub module: String,
    pub name: String,
    /// Field names (absent for tuple-like events) and rendered values: accounts as SS58
    /// (prefix 30), balances as PHA, hashes and byte strings as 0x hex.
    pub fields: Vec<(Option<String>, String)>,
    /// The event's documentation, one line (may be empty).
    pub docs: String,
}

impl fmt::Display for EventDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.module, self.name)?;
        f.write_str(&render_fields(&self.fields))
    }
}

impl ChainMetadata {
    /// Reads `RuntimeMetadataPrefixed` bytes ("meta" ‖ version ‖ metadata), V14 to V16.
    pub fn from_bytes(bytes: &[u8], source: MetadataSource) -> Result<ChainMetadata, String> {
        let prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..])
            .map_err(|e| format!("metadata does not decode: {e}"))?;
        macro_rules! pallets {
            ($m:expr) => {{
                let pallets = $m
                    .pallets
                    .iter()
                    .map(|p| {
                        let info = PalletInfo {
                            name: p.name.clone(),
                            call_ty: p.calls.as_ref().map(|c| c.ty.id),
                            event_ty: p.event.as_ref().map(|e| e.ty.id),
                            error_ty: p.error.as_ref().map(|e| e.ty.id),
                        };
                        (p.index, info)
                    })
                    .collect();
                ($m.types, pallets)
            }};
        }
        let (registry, pallets) = match prefixed.1 {
            RuntimeMetadata::V14(m) => pallets!(m),
            RuntimeMetadata::V15(m) => pallets!(m),
            RuntimeMetadata::V16(m) => pallets!(m),
            other => {
                return Err(format!(
                    "metadata version {} is not supported",
                    other.version()
                ));
            }
        };
        Ok(ChainMetadata {
            registry,
            pallets,
            source,
        })
    }

    /// The metadata of the runtime this SDK was built with.
    pub fn local() -> ChainMetadata {
        let bytes = phala_runtime::metadata::metadata_bytes(15).unwrap_or_default();
        ChainMetadata::from_bytes(bytes, MetadataSource::Local).unwrap_or(ChainMetadata {
            registry: PortableRegistry { types: Vec::new() },
            pallets: BTreeMap::new(),
            source: MetadataSource::Local,
        })
    }

    pub fn source(&self) -> MetadataSource {
        self.source
    }

    /// Name of the module with this index.
    pub fn module_name(&self, index: u8) -> Option<&str> {
        self.pallets.get(&index).map(|p| p.name.as_str())
    }

    /// The module error `error` (variant index first) of module `index`.
    pub fn module_error(&self, index: u8, error: [u8; 4]) -> Option<ModuleErrorInfo> {
        let pallet = self.pallets.get(&index)?;
        let ty = self.registry.resolve(pallet.error_ty?)?;
        let TypeDef::Variant(def) = &ty.type_def else {
            return None;
        };
        let variant = def.variants.iter().find(|v| v.index == error[0])?;
        Some(ModuleErrorInfo {
            module: pallet.name.clone(),
            name: variant.name.clone(),
            docs: one_line(&variant.docs),
        })
    }

    /// Renders an event. Falls back to its `Debug` form if the metadata does not describe it.
    pub fn describe_event(&self, event: &RuntimeEvent) -> EventDescription {
        self.describe_event_bytes(&event.encode())
            .unwrap_or_else(|_| EventDescription {
                module: "?".into(),
                name: format!("{event:?}"),
                fields: Vec::new(),
                docs: String::new(),
            })
    }

    /// Renders a SCALE-encoded `RuntimeEvent` (module index, then the module's event).
    pub fn describe_event_bytes(&self, bytes: &[u8]) -> Result<EventDescription, String> {
        let mut input = bytes;
        let event = self.read_event(&mut input)?;
        if !input.is_empty() {
            return Err(format!("{} trailing bytes after the event", input.len()));
        }
        Ok(event)
    }

    /// Reads one `RuntimeEvent` from the front of `input`, by the chain's metadata.
    pub fn read_event(&self, input: &mut &[u8]) -> Result<EventDescription, String> {
        self.read_indexed(input, "events", |p| p.event_ty)
    }

    /// Renders a SCALE-encoded `RuntimeCall` (module index, call index, arguments) by the
    /// chain's metadata, in the same shape as an event: `Module.call { arg: value, … }`.
    pub fn describe_call_bytes(&self, bytes: &[u8]) -> Result<EventDescription, String> {
        let mut input = bytes;
        let call = self.read_indexed(&mut input, "calls", |p| p.call_ty)?;
        if !input.is_empty() {
            return Err(format!("{} trailing bytes after the call", input.len()));
        }
        Ok(call)
    }

    /// A block's `System.Events` value: each event, by the chain's metadata, with when in
    /// the block it happened.
    pub fn read_event_records(
        &self,
        bytes: &[u8],
    ) -> Result<Vec<(phala_runtime::modules::system::Phase, EventDescription)>, String> {
        use phala_runtime::modules::system::Phase;
        let mut input = bytes;
        let count = Compact::<u32>::decode(&mut input)
            .map_err(|e| e.to_string())?
            .0;
        let count = usize::try_from(count).map_err(|e| e.to_string())?;
        // Every record takes more than a byte: a count beyond the input is a lie.
        if count > input.len() {
            return Err("more events announced than bytes".into());
        }
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let phase = Phase::decode(&mut input).map_err(|e| e.to_string())?;
            let event = self.read_event(&mut input)?;
            <Vec<[u8; 32]>>::decode(&mut input).map_err(|e| format!("event topics: {e}"))?;
            records.push((phase, event));
        }
        if !input.is_empty() {
            return Err(format!("{} trailing bytes after the events", input.len()));
        }
        Ok(records)
    }

    /// Reads a module-indexed enum (a `RuntimeEvent` or `RuntimeCall`) whose per-module type
    /// `ty` gives.
    fn read_indexed(
        &self,
        input: &mut &[u8],
        what: &str,
        ty: impl Fn(&PalletInfo) -> Option<u32>,
    ) -> Result<EventDescription, String> {
        let index = u8::decode(input).map_err(|e| e.to_string())?;
        let pallet = self
            .pallets
            .get(&index)
            .ok_or_else(|| format!("no module with index {index}"))?;
        let ty_id = ty(pallet).ok_or_else(|| format!("module {} has no {what}", pallet.name))?;
        let ty = self
            .registry
            .resolve(ty_id)
            .ok_or_else(|| format!("unknown type of {what}"))?;
        let TypeDef::Variant(def) = &ty.type_def else {
            return Err(format!("the {what} of {} are not an enum", pallet.name));
        };
        let variant = read_variant(&def.variants, input)?;
        let renderer = Renderer {
            registry: &self.registry,
        };
        let fields = variant
            .fields
            .iter()
            .map(|f| Ok((f.name.clone(), renderer.field(f, input, 0)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(EventDescription {
            module: pallet.name.clone(),
            name: variant.name.clone(),
            fields,
            docs: one_line(&variant.docs),
        })
    }
}

fn one_line(docs: &[String]) -> String {
    docs.iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_fields(fields: &[(Option<String>, String)]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let named = fields.iter().all(|(n, _)| n.is_some());
    let parts: Vec<String> = fields
        .iter()
        .map(|(n, v)| match n {
            Some(n) if named => format!("{n}: {v}"),
            _ => v.clone(),
        })
        .collect();
    if named {
        format!(" {{ {} }}", parts.join(", "))
    } else {
        format!("({})", parts.join(", "))
    }
}

fn read_variant<'v>(
    variants: &'v [Variant<PortableForm>],
    input: &mut &[u8],
) -> Result<&'v Variant<PortableForm>, String> {
    let index = u8::decode(input).map_err(|e| e.to_string())?;
    variants
        .iter()
        .find(|v| v.index == index)
        .ok_or_else(|| format!("no variant with index {index}"))
}

/// Renders SCALE values by their `scale-info` types.
struct Renderer<'a> {
    registry: &'a PortableRegistry,
}

impl Renderer<'_> {
    fn field(
        &self,
        field: &Field<PortableForm>,
        input: &mut &[u8],
        depth: u32,
    ) -> Result<String, String> {
        self.value(field.ty.id, Unit::of(field), input, depth)
    }

    fn value(&self, id: u32, unit: Unit, input: &mut &[u8], depth: u32) -> Result<String, String> {
        if depth > MAX_DEPTH {
            return Err("value nested too deeply".into());
        }
        let ty = self
            .registry
            .resolve(id)
            .ok_or_else(|| format!("unknown type {id}"))?;
        match ty.path.segments.last().map(String::as_str) {
            Some("AccountId32") => {
                let id = AccountId32::decode(input).map_err(|e| e.to_string())?;
                return Ok(id.to_ss58());
            }
            Some("H256") => {
                let bytes = <[u8; 32]>::decode(input).map_err(|e| e.to_string())?;
                return Ok(format!("0x{}", hex::encode(bytes)));
            }
            _ => {}
        }
        let depth = depth.saturating_add(1);
        match &ty.type_def {
            TypeDef::Composite(def) => {
                let fields = self.fields(&def.fields, input, depth)?;
                Ok(match fields.as_slice() {
                    [(None, v)] => v.clone(),
                    [] => "()".into(),
                    _ => render_fields(&fields).trim_start().to_string(),
                })
            }
            TypeDef::Variant(def) => {
                let variant = read_variant(&def.variants, input)?;
                let fields = self.fields(&variant.fields, input, depth)?;
                Ok(match fields.as_slice() {
                    // A variant wrapping one struct reads as that struct: `Module { .. }`.
                    [(None, v)] if v.starts_with('{') => format!("{} {v}", variant.name),
                    _ => format!("{}{}", variant.name, render_fields(&fields)),
                })
            }
            TypeDef::Sequence(def) => {
                let len = Compact::<u32>::decode(input).map_err(|e| e.to_string())?.0;
                let len = usize::try_from(len).map_err(|e| e.to_string())?;
                if len > input.len() {
                    return Err("sequence longer than the input".into());
                }
                self.items(def.type_param.id, len, input, depth)
            }
            TypeDef::Array(def) => {
                let len = usize::try_from(def.len).map_err(|e| e.to_string())?;
                self.items(def.type_param.id, len, input, depth)
            }
            TypeDef::Tuple(def) => {
                let items = def
                    .fields
                    .iter()
                    .map(|t| self.value(t.id, Unit::None, input, depth))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", items.join(", ")))
            }
            TypeDef::Primitive(p) => primitive(p, unit, input),
            TypeDef::Compact(_) => {
                let n = Compact::<u128>::decode(input).map_err(|e| e.to_string())?.0;
                Ok(unit.render(n))
            }
            TypeDef::BitSequence(_) => Err("bit sequences are not supported".into()),
        }
    }

    fn fields(
        &self,
        fields: &[Field<PortableForm>],
        input: &mut &[u8],
        depth: u32,
    ) -> Result<Vec<(Option<String>, String)>, String> {
        fields
            .iter()
            .map(|f| Ok((f.name.clone(), self.field(f, input, depth)?)))
            .collect()
    }

    /// `len` items of type `item`; byte strings as hex.
    fn items(
        &self,
        item: u32,
        len: usize,
        input: &mut &[u8],
        depth: u32,
    ) -> Result<String, String> {
        let is_byte = self
            .registry
            .resolve(item)
            .is_some_and(|t| matches!(t.type_def, TypeDef::Primitive(TypeDefPrimitive::U8)));
        if is_byte {
            let bytes = input
                .get(..len)
                .ok_or("byte string longer than the input")?;
            *input = input.get(len..).unwrap_or_default();
            return Ok(format!("0x{}", hex::encode(bytes)));
        }
        let items = (0..len)
            .map(|_| self.value(item, Unit::None, input, depth))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("[{}]", items.join(", ")))
    }
}

/// How a number reads, from the type name its field declares (`Balance`, and the runtime's
/// `Perbill`, `Shares` and `U64F64Bits` aliases): the encoding is the plain integer either
/// way, so any client decodes it; only people need the unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    None,
    /// Plancks, shown as PHA.
    Pha,
    /// Pool shares: 12 decimals like PHA, but not PHA.
    Shares,
    /// Parts per billion, shown as a percentage.
    Perbill,
    /// U64F64 fixed-point bits, shown as the decimal they stand for.
    Fixed,
}

impl Unit {
    fn of(field: &Field<PortableForm>) -> Unit {
        match field.type_name.as_deref() {
            Some(n) if n.contains("Balance") => Unit::Pha,
            Some("Shares") => Unit::Shares,
            Some("Perbill") => Unit::Perbill,
            Some("U64F64Bits") => Unit::Fixed,
            _ => Unit::None,
        }
    }

    fn render(self, n: u128) -> String {
        match self {
            Unit::None => n.to_string(),
            Unit::Pha => format_pha(n),
            Unit::Shares => format!("{} shares", format_pha(n).trim_end_matches(" PHA")),
            Unit::Perbill => phala_tokenomics::format_perbill(n),
            Unit::Fixed => phala_tokenomics::format_fixed(phala_tokenomics::Fixed::from_bits(n), 6),
        }
    }
}

fn primitive(p: &TypeDefPrimitive, unit: Unit, input: &mut &[u8]) -> Result<String, String> {
    fn read<T: Decode>(input: &mut &[u8]) -> Result<T, String> {
        T::decode(input).map_err(|e| e.to_string())
    }
    Ok(match p {
        TypeDefPrimitive::Bool => read::<bool>(input)?.to_string(),
        TypeDefPrimitive::Char => {
            let code = read::<u32>(input)?;
            char::from_u32(code)
                .map(|c| format!("{c:?}"))
                .ok_or("invalid char")?
        }
        TypeDefPrimitive::Str => format!("{:?}", read::<String>(input)?),
        TypeDefPrimitive::U8 => read::<u8>(input)?.to_string(),
        TypeDefPrimitive::U16 => read::<u16>(input)?.to_string(),
        TypeDefPrimitive::U32 => unit.render(u128::from(read::<u32>(input)?)),
        TypeDefPrimitive::U64 => read::<u64>(input)?.to_string(),
        TypeDefPrimitive::U128 => unit.render(read::<u128>(input)?),
        TypeDefPrimitive::I8 => read::<i8>(input)?.to_string(),
        TypeDefPrimitive::I16 => read::<i16>(input)?.to_string(),
        TypeDefPrimitive::I32 => read::<i32>(input)?.to_string(),
        TypeDefPrimitive::I64 => read::<i64>(input)?.to_string(),
        TypeDefPrimitive::I128 => read::<i128>(input)?.to_string(),
        TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => {
            format!("0x{}", hex::encode(read::<[u8; 32]>(input)?))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_primitives::{H256, PHA, Weight};
    use phala_runtime::dispatch::{DispatchClass, DispatchError, DispatchInfo, ModuleError, Pays};
    use phala_runtime::modules::{balances, system, transaction_payment};

    fn alice() -> AccountId32 {
        phala_keys::Sr25519Pair::from_uri("//Alice")
            .unwrap()
            .account_id()
    }

    fn bob() -> AccountId32 {
        phala_keys::Sr25519Pair::from_uri("//Bob")
            .unwrap()
            .account_id()
    }

    #[test]
    fn calls_and_a_blocks_event_records_read_by_metadata() {
        use phala_runtime::modules::system::{EventRecord, Phase};
        let md = ChainMetadata::local();
        let call = phala_runtime::RuntimeCall::Balances(balances::Call::transfer_keep_alive {
            dest: phala_primitives::MultiAddress::Id(bob()),
            value: 2 * PHA,
        });
        let d = md.describe_call_bytes(&call.encode()).unwrap();
        assert_eq!(
            (d.module.as_str(), d.name.as_str()),
            ("Balances", "transfer_keep_alive")
        );
        assert!(d.to_string().contains("value: 2 PHA"), "{d}");
        let mut trailing = call.encode();
        trailing.push(0);
        assert!(md.describe_call_bytes(&trailing).is_err());

        let transfer = RuntimeEvent::Balances(balances::Event::Transfer {
            from: alice(),
            to: bob(),
            amount: PHA,
        });
        let records = vec![
            EventRecord {
                phase: Phase::ApplyExtrinsic(1),
                event: transfer.clone(),
                topics: vec![H256([7; 32])],
            },
            EventRecord {
                phase: Phase::Finalization,
                event: transfer,
                topics: vec![],
            },
        ];
        let read = md.read_event_records(&records.encode()).unwrap();
        let phases: Vec<Phase> = read.iter().map(|(p, _)| *p).collect();
        assert_eq!(phases, vec![Phase::ApplyExtrinsic(1), Phase::Finalization]);
        assert!(read.iter().all(|(_, e)| e.name == "Transfer"));
        // A count beyond the bytes is refused, not allocated.
        assert!(md.read_event_records(&[0xfe, 0xff, 0xff, 0xff]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn reading_any_bytes_as_calls_or_events_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)
        ) {
            let md = ChainMetadata::local();
            let _ = md.describe_call_bytes(&bytes);
            let _ = md.read_event_records(&bytes);
            let _ = md.describe_event_bytes(&bytes);
        }
    }

    #[test]
    fn module_errors_resolve_by_name() {
        let md = ChainMetadata::local();
        let variant = balances::Error::InsufficientBalance.encode()[0];
        let info = md.module_error(2, [variant, 0, 0, 0]).unwrap();
        assert_eq!(info.module, "Balances");
        assert_eq!(info.name, "InsufficientBalance");
        assert_eq!(info.docs, "Balance too low to send value.");
        assert!(md.module_error(2, [200, 0, 0, 0]).is_none());
        assert!(md.module_error(77, [0, 0, 0, 0]).is_none());
        assert_eq!(md.module_name(0), Some("System"));
    }

    #[test]
    fn events_render_with_ss58_and_pha() {
        let md = ChainMetadata::local();
        let transfer = RuntimeEvent::Balances(balances::Event::Transfer {
            from: alice(),
            to: bob(),
            amount: PHA + PHA / 2,
        });
        let d = md.describe_event(&transfer);
        assert_eq!(
            d.to_string(),
            "Balances.Transfer { from: 45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2, \
             to: 43qsYbZGLn2xzNuurY6BY4QNDSUU7gLEcXuckpm6B3DEmEx9, amount: 1.5 PHA }"
        );
        assert_eq!(d.docs, "Transfer succeeded.");

        let fee =
            RuntimeEvent::TransactionPayment(transaction_payment::Event::TransactionFeePaid {
                who: alice(),
                actual_fee: 2_500_000_000,
                tip: 0,
            });
        assert_eq!(
            md.describe_event(&fee).to_string(),
            "TransactionPayment.TransactionFeePaid { who: 45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2, \
             actual_fee: 0.0025 PHA, tip: 0 PHA }"
        );

        let failed = RuntimeEvent::System(system::Event::ExtrinsicFailed {
            dispatch_error: DispatchError::Module(ModuleError {
                index: 2,
                error: [1, 0, 0, 0],
            }),
            dispatch_info: DispatchInfo {
                weight: Weight::from_parts(10, 20),
                class: DispatchClass::Normal,
                pays_fee: Pays::Yes,
            },
        });
        assert_eq!(
            md.describe_event(&failed).to_string(),
            "System.ExtrinsicFailed { dispatch_error: Module { index: 2, error: 0x01000000 }, \
             dispatch_info: { weight: { ref_time: 10, proof_size: 20 }, class: Normal, pays_fee: Yes } }"
        );

        let remark = RuntimeEvent::System(system::Event::Remarked {
            sender: alice(),
            hash: H256([0xab; 32]),
        });
        assert!(
            md.describe_event(&remark)
                .to_string()
                .ends_with(&format!("hash: 0x{} }}", "ab".repeat(32)))
        );
    }

    #[test]
    fn garbage_does_not_render() {
        let md = ChainMetadata::local();
        assert!(md.describe_event_bytes(&[]).is_err());
        assert!(md.describe_event_bytes(&[99, 0]).is_err());
        assert!(md.describe_event_bytes(&[2, 2, 1]).is_err());
        let mut long = RuntimeEvent::Balances(balances::Event::Deposit {
            who: alice(),
            amount: 1,
        })
        .encode();
        long.push(0);
        assert!(md.describe_event_bytes(&long).is_err());
        assert!(ChainMetadata::from_bytes(b"meta", MetadataSource::Node).is_err());
    }
}
