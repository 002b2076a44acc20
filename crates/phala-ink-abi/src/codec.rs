//! SCALE encoding of [`Scon`] values and decoding to JSON, both driven by the bundle's
//! scale-info registry.
//!
//! The registry is the only source of truth for byte layouts: ink! derives `Encode` for
//! every type it puts there, so walking `def`s (composite, variant, sequence, array, tuple,
//! compact, primitive) reproduces the contract's own codec without generated code. A few
//! types are recognised by path because users think of them differently from their layout:
//! `AccountId` (SS58 in and out), `Option` (`null` / the value) and `[u8]`-like types (hex).
//!
//! Recursion is bounded by [`MAX_DEPTH`] and every read is checked, so malformed metadata or
//! hostile output bytes give an error, never a panic or an unbounded loop.

use parity_scale_codec::{Compact, Decode, Encode};
use phala_primitives::{AccountId32, ss58};
use serde_json::{Map, Value};

use super::metadata::{Def, Field, Prim, Registry, Type, Variant, type_name};
use super::scon::{MAX_DEPTH, Scon};

type Res<T> = Result<T, String>;

/// Above this many elements a sequence must have at least as many bytes left as elements,
/// so a forged length cannot make the decoder loop over zero-sized items for long.
const MAX_UNBACKED_LEN: usize = 1024;

fn expected(what: &str, v: &Scon) -> String {
    format!("expected {what}, found {}", v.describe())
}

fn too_deep() -> String {
    format!("the type nests deeper than {MAX_DEPTH} levels")
}

fn last_segment(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

fn is_u8(reg: &Registry, ty: u32) -> bool {
    matches!(reg.get(ty).map(|t| &t.def), Ok(Def::Primitive(Prim::U8)))
}

/// A composite named `AccountId`/`AccountId32` whose only field is `[u8; 32]`.
fn is_account(reg: &Registry, t: &Type) -> bool {
    if !matches!(t.name(), Some("AccountId" | "AccountId32")) {
        return false;
    }
    let Def::Composite(fields) = &t.def else {
        return false;
    };
    let [only] = fields.as_slice() else {
        return false;
    };
    matches!(reg.get(only.ty).map(|t| &t.def), Ok(Def::Array { len: 32, ty }) if is_u8(reg, *ty))
}

fn push_len(len: usize, out: &mut Vec<u8>) -> Res<()> {
    let len = u32::try_from(len).map_err(|_| format!("{len} items are too many to encode"))?;
    Compact(len).encode_to(out);
    Ok(())
}

/// `0x…` or a quoted string as bytes; `None` for other shapes (lists are handled per item).
fn byte_literal(v: &Scon) -> Res<Option<Vec<u8>>> {
    match v {
        Scon::Hex(h) => hex::decode(h).map(Some).map_err(|_| {
            format!("`0x{h}` is not valid hex (it needs an even number of hex digits)")
        }),
        Scon::Str(s) => Ok(Some(s.as_bytes().to_vec())),
        _ => Ok(None),
    }
}

fn items_of(v: &Scon) -> Option<&[Scon]> {
    match v {
        Scon::Seq(items) | Scon::Tuple(items) => Some(items),
        _ => None,
    }
}

/// Encodes `v` as a value of type `ty`, appending to `out`.
pub(crate) fn encode(
    reg: &Registry,
    ty: u32,
    v: &Scon,
    out: &mut Vec<u8>,
    depth: usize,
) -> Res<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let next = depth.saturating_add(1);
    let t = reg.get(ty)?;
    if is_account(reg, t) {
        let text = match v {
            Scon::Word(w) => Some(w.clone()),
            Scon::Hex(h) => Some(format!("0x{h}")),
            Scon::Str(s) => Some(s.clone()),
            _ => None,
        };
        if let Some(text) = text {
            let key = ss58::parse_account(&text).map_err(|e| match e {
                ss58::Ss58Error::NotAnAccount(_) => format!(
                    "expected an account (an SS58 address or 0x and 64 hex digits), found `{text}`"
                ),
                e => format!(
                    "expected an account (an SS58 address or 0x and 64 hex digits), but {e}"
                ),
            })?;
            out.extend_from_slice(&key);
            return Ok(());
        }
    }
    match &t.def {
        Def::Primitive(p) => encode_prim(*p, v, out),
        Def::Compact(inner) => {
            let prim = compact_prim(reg, *inner, depth)?;
            let bytes = int_bytes(prim, v)?;
            let mut le = [0u8; 16];
            for (dst, src) in le.iter_mut().zip(&bytes) {
                *dst = *src;
            }
            Compact(u128::from_le_bytes(le)).encode_to(out);
            Ok(())
        }
        Def::Sequence(elem) => {
            if is_u8(reg, *elem)
                && let Some(bytes) = byte_literal(v)?
            {
                push_len(bytes.len(), out)?;
                out.extend_from_slice(&bytes);
                return Ok(());
            }
            let items = items_of(v).ok_or_else(|| {
                expected(&format!("a list `[…]` of {}", type_name(reg, *elem, 0)), v)
            })?;
            push_len(items.len(), out)?;
            items
                .iter()
                .try_for_each(|item| encode(reg, *elem, item, out, next))
        }
        Def::Array { len, ty: elem } => {
            let len = usize::try_from(*len).map_err(|_| "the array is too long".to_string())?;
            if is_u8(reg, *elem)
                && let Some(bytes) = byte_literal(v)?
            {
                if bytes.len() != len {
                    return Err(format!(
                        "expected {len} bytes for [u8; {len}], found {}",
                        bytes.len()
                    ));
                }
                out.extend_from_slice(&bytes);
                return Ok(());
            }
            let what = type_name(reg, ty, 0);
            let items =
                items_of(v).ok_or_else(|| expected(&format!("a list `[…]` for {what}"), v))?;
            if items.len() != len {
                return Err(format!(
                    "expected {len} items for {what}, found {}",
                    items.len()
                ));
            }
            items
                .iter()
                .try_for_each(|item| encode(reg, *elem, item, out, next))
        }
        Def::Tuple(ids) => match (items_of(v), ids.as_slice()) {
            (Some(items), _) if items.len() == ids.len() => ids
                .iter()
                .zip(items)
                .try_for_each(|(id, item)| encode(reg, *id, item, out, next)),
            (_, [only]) => encode(reg, *only, v, out, next),
            _ => Err(expected(
                &format!("a tuple `(…)` of {} values", ids.len()),
                v,
            )),
        },
        Def::Composite(fields) => encode_composite(reg, t, fields, v, out, next),
        Def::Variant(variants) => encode_variant(reg, t, variants, v, out, next),
        Def::BitSequence => Err("bit sequences are not supported".to_string()),
    }
}

fn shape(name: &str, fields: &[Field]) -> String {
    if fields.is_empty() {
        format!("`{name}`")
    } else if fields.iter().all(|f| f.name.is_some()) {
        let names: Vec<String> = fields
            .iter()
            .filter_map(|f| f.name.as_ref().map(|n| format!("{n}: …")))
            .collect();
        format!("`{name} {{ {} }}`", names.join(", "))
    } else {
        let dots = vec!["…"; fields.len()];
        format!("`{name}({})`", dots.join(", "))
    }
}

fn encode_composite(
    reg: &Registry,
    t: &Type,
    fields: &[Field],
    v: &Scon,
    out: &mut Vec<u8>,
    depth: usize,
) -> Res<()> {
    let label = t.name().unwrap_or("struct");
    let named = !fields.is_empty() && fields.iter().all(|f| f.name.is_some());
    let (given, body) = match v {
        Scon::Named(n, b) => (Some(last_segment(n)), b.as_ref()),
        other => (None, other),
    };
    if given.is_none_or(|n| Some(n) == t.name()) {
        match body {
            Scon::Map(entries) if entries.is_empty() && fields.is_empty() => return Ok(()),
            Scon::Map(entries)
                if named
                    && (fields.len() != 1
                        || entries
                            .iter()
                            .all(|(k, _)| fields.iter().any(|f| f.name.as_ref() == Some(k)))) =>
            {
                return encode_named_fields(reg, label, fields, entries, out, depth);
            }
            Scon::Tuple(items) if items.len() == fields.len() => {
                return fields
                    .iter()
                    .zip(items)
                    .try_for_each(|(f, item)| encode(reg, f.ty, item, out, depth));
            }
            Scon::Tuple(items) if fields.len() != 1 && (given.is_some() || !named) => {
                return Err(format!(
                    "`{label}` has {} field(s), {} given",
                    fields.len(),
                    items.len()
                ));
            }
            Scon::Word(w) if fields.is_empty() && Some(last_segment(w)) == t.name() => {
                return Ok(());
            }
            _ => {}
        }
    }
    // A newtype accepts its inner value directly (`Hash` as `0x…`, `Balance(u128)` as `5`).
    if let [only] = fields {
        return encode(reg, only.ty, v, out, depth);
    }
    Err(expected(&shape(label, fields), v))
}

fn encode_named_fields(
    reg: &Registry,
    label: &str,
    fields: &[Field],
    entries: &[(String, Scon)],
    out: &mut Vec<u8>,
    depth: usize,
) -> Res<()> {
    let names: Vec<&str> = fields.iter().filter_map(|f| f.name.as_deref()).collect();
    for (i, (key, _)) in entries.iter().enumerate() {
        if !names.contains(&key.as_str()) {
            return Err(format!(
                "`{label}` has no field `{key}`; fields: {}",
                names.join(", ")
            ));
        }
        if entries
            .iter()
            .skip(i.saturating_add(1))
            .any(|(k, _)| k == key)
        {
            return Err(format!("field `{key}` is given twice"));
        }
    }
    for f in fields {
        let name = f.name.as_deref().unwrap_or_default();
        let (_, value) = entries
            .iter()
            .find(|(k, _)| k == name)
            .ok_or_else(|| format!("field `{name}` of `{label}` is missing"))?;
        encode(reg, f.ty, value, out, depth).map_err(|e| format!("field `{name}`: {e}"))?;
    }
    Ok(())
}

fn variant_list(variants: &[Variant]) -> String {
    let shapes: Vec<String> = variants
        .iter()
        .map(|v| shape(&v.name, &v.fields).replace('`', ""))
        .collect();
    if shapes.is_empty() {
        "none".to_string()
    } else {
        shapes.join(", ")
    }
}

fn encode_variant(
    reg: &Registry,
    t: &Type,
    variants: &[Variant],
    v: &Scon,
    out: &mut Vec<u8>,
    depth: usize,
) -> Res<()> {
    let label = t.name().unwrap_or("enum");
    let (name, body) = match v {
        Scon::Word(w) => (last_segment(w), None),
        Scon::Named(n, b) => (last_segment(n), Some(b.as_ref())),
        _ => {
            return Err(expected(
                &format!("a variant of `{label}` ({})", variant_list(variants)),
                v,
            ));
        }
    };
    let variant = variants.iter().find(|x| x.name == name).ok_or_else(|| {
        format!(
            "`{name}` is not a variant of `{label}`; variants: {}",
            variant_list(variants)
        )
    })?;
    out.push(variant.index);
    let fields = &variant.fields;
    match body {
        None if fields.is_empty() => Ok(()),
        Some(Scon::Tuple(items)) if items.len() == fields.len() => fields
            .iter()
            .zip(items)
            .try_for_each(|(f, item)| encode(reg, f.ty, item, out, depth)),
        Some(Scon::Map(entries))
            if !fields.is_empty() && fields.iter().all(|f| f.name.is_some()) =>
        {
            encode_named_fields(reg, name, fields, entries, out, depth)
        }
        Some(Scon::Map(entries)) if fields.is_empty() && entries.is_empty() => Ok(()),
        Some(Scon::Tuple(items)) => Err(format!(
            "variant `{name}` of `{label}` takes {} value(s), {} given",
            fields.len(),
            items.len()
        )),
        _ => Err(format!(
            "variant `{name}` of `{label}` is written {}",
            shape(name, fields)
        )),
    }
}

/// The unsigned primitive a `Compact<T>` wraps (through single-field composites).
fn compact_prim(reg: &Registry, ty: u32, depth: usize) -> Res<Prim> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    match &reg.get(ty)?.def {
        Def::Primitive(p @ (Prim::U8 | Prim::U16 | Prim::U32 | Prim::U64 | Prim::U128)) => Ok(*p),
        Def::Composite(fields) => match fields.as_slice() {
            [only] => compact_prim(reg, only.ty, depth.saturating_add(1)),
            _ => Err(format!(
                "Compact<{}> is not supported",
                type_name(reg, ty, 0)
            )),
        },
        _ => Err(format!(
            "Compact<{}> is not supported",
            type_name(reg, ty, 0)
        )),
    }
}

fn encode_prim(p: Prim, v: &Scon, out: &mut Vec<u8>) -> Res<()> {
    match p {
        Prim::Bool => match v {
            Scon::Word(w) if w == "true" => out.push(1),
            Scon::Word(w) if w == "false" => out.push(0),
            _ => return Err(expected("`true` or `false`", v)),
        },
        Prim::Char => {
            let text = match v {
                Scon::Str(s) | Scon::Word(s) => s,
                _ => return Err(expected("a character", v)),
            };
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => out.extend_from_slice(&u32::from(c).to_le_bytes()),
                _ => return Err(expected("a single character", v)),
            }
        }
        Prim::Str => {
            let text = match v {
                Scon::Str(s) | Scon::Word(s) => s,
                _ => return Err(expected("a string `\"…\"`", v)),
            };
            push_len(text.len(), out)?;
            out.extend_from_slice(text.as_bytes());
        }
        _ => out.extend_from_slice(&int_bytes(p, v)?),
    }
    Ok(())
}

/// `(min, max)` of a primitive integer of at most 128 bits, and its width in bytes.
fn int_limits(p: Prim) -> Option<(i128, u128, usize)> {
    Some(match p {
        Prim::U8 => (0, u128::from(u8::MAX), 1),
        Prim::U16 => (0, u128::from(u16::MAX), 2),
        Prim::U32 => (0, u128::from(u32::MAX), 4),
        Prim::U64 => (0, u128::from(u64::MAX), 8),
        Prim::U128 => (0, u128::MAX, 16),
        Prim::I8 => (i128::from(i8::MIN), u128::from(i8::MAX.unsigned_abs()), 1),
        Prim::I16 => (i128::from(i16::MIN), u128::from(i16::MAX.unsigned_abs()), 2),
        Prim::I32 => (i128::from(i32::MIN), u128::from(i32::MAX.unsigned_abs()), 4),
        Prim::I64 => (i128::from(i64::MIN), u128::from(i64::MAX.unsigned_abs()), 8),
        Prim::I128 => (i128::MIN, i128::MAX.unsigned_abs(), 16),
        _ => return None,
    })
}

/// The little-endian bytes of an integer literal as primitive `p`, range-checked.
fn int_bytes(p: Prim, v: &Scon) -> Res<Vec<u8>> {
    let Scon::Int {
        negative,
        digits,
        text,
    } = v
    else {
        return Err(expected(&format!("an integer ({})", p.name()), v));
    };
    let Some((min, max, width)) = int_limits(p) else {
        return wide_bytes(p, *negative, digits, text);
    };
    let out_of_range = || format!("{text} is out of range for {} ({min} to {max})", p.name());
    let magnitude: u128 = digits.parse().map_err(|_| out_of_range())?;
    let value: i128 = if *negative {
        0i128
            .checked_sub_unsigned(magnitude)
            .ok_or_else(out_of_range)?
    } else {
        if magnitude > max {
            return Err(out_of_range());
        }
        // Unsigned values above i128::MAX only occur for u128 and are encoded directly.
        match i128::try_from(magnitude) {
            Ok(v) => v,
            Err(_) => return Ok(magnitude.to_le_bytes().to_vec()),
        }
    };
    if value < min {
        return Err(out_of_range());
    }
    Ok(value
        .to_le_bytes()
        .get(..width)
        .map(<[u8]>::to_vec)
        .unwrap_or_default())
}

/// u256 / i256 from decimal digits, as 32 little-endian bytes (two's complement for i256).
#[allow(clippy::arithmetic_side_effects)] // every intermediate is below 2^16
fn wide_bytes(p: Prim, negative: bool, digits: &str, text: &str) -> Res<Vec<u8>> {
    let out_of_range = || format!("{text} is out of range for {}", p.name());
    let mut acc = [0u8; 32];
    for d in digits.chars() {
        let mut carry = d.to_digit(10).ok_or_else(out_of_range)?;
        for byte in acc.iter_mut() {
            let x = u32::from(*byte) * 10 + carry;
            let [lo, hi, ..] = x.to_le_bytes();
            *byte = lo;
            carry = u32::from(hi);
        }
        if carry != 0 {
            return Err(out_of_range());
        }
    }
    let zero = acc.iter().all(|b| *b == 0);
    let top = acc.last().copied().unwrap_or_default();
    match (p, negative) {
        (Prim::U256, true) if !zero => Err(out_of_range()),
        (Prim::I256, false) if top & 0x80 != 0 => Err(out_of_range()),
        (Prim::I256, true) => {
            let min = top == 0x80 && acc.iter().rev().skip(1).all(|b| *b == 0);
            if top & 0x80 != 0 && !min {
                return Err(out_of_range());
            }
            negate(&mut acc);
            Ok(acc.to_vec())
        }
        _ => Ok(acc.to_vec()),
    }
}

/// Two's-complement negation of a little-endian number.
#[allow(clippy::arithmetic_side_effects)] // carries are 0 or 1
fn negate(bytes: &mut [u8; 32]) {
    let mut carry = 1u16;
    for b in bytes.iter_mut() {
        let x = u16::from(!*b) + carry;
        let [lo, hi] = x.to_le_bytes();
        *b = lo;
        carry = u16::from(hi);
    }
}

/// Decimal digits of a little-endian magnitude.
#[allow(clippy::arithmetic_side_effects)] // rem < 10, so rem * 256 + byte < 2^12
fn wide_decimal(mut mag: [u8; 32]) -> String {
    let mut digits = Vec::new();
    while mag.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for byte in mag.iter_mut().rev() {
            let cur = rem * 256 + u32::from(*byte);
            *byte = u8::try_from(cur / 10).unwrap_or_default();
            rem = cur % 10;
        }
        digits.push(char::from_digit(rem, 10).unwrap_or('0'));
    }
    if digits.is_empty() {
        return "0".to_string();
    }
    digits.iter().rev().collect()
}

// ---------------------------------------------------------------------------------------
// Decoding

fn take<'a>(data: &mut &'a [u8], n: usize, what: &str) -> Res<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n).ok_or_else(|| {
        format!(
            "the data ends early: {what} needs {n} byte(s) but {} remain",
            data.len()
        )
    })?;
    *data = rest;
    Ok(head)
}

fn take_array<const N: usize>(data: &mut &[u8], what: &str) -> Res<[u8; N]> {
    let bytes = take(data, N, what)?;
    bytes
        .try_into()
        .map_err(|_| format!("the data ends early: {what} needs {N} bytes"))
}

fn decode_len(data: &mut &[u8], element: &str) -> Res<usize> {
    let len = Compact::<u32>::decode(data)
        .map_err(|_| format!("the length of a {element} is not a valid compact integer"))?;
    usize::try_from(len.0).map_err(|_| format!("the {element} is too long"))
}

/// `len` items of type `elem`. Items that take no bytes (`()`) are not backed by the data,
/// so a long run of them is refused: nested, they would multiply into billions of values.
fn decode_items(
    reg: &Registry,
    elem: u32,
    len: usize,
    data: &mut &[u8],
    depth: usize,
) -> Res<Value> {
    let mut items = Vec::new();
    for i in 0..len {
        let before = data.len();
        items.push(decode(reg, elem, data, depth)?);
        if i == 0 && data.len() == before && len > MAX_UNBACKED_LEN {
            return Err(format!(
                "{len} items that take no bytes each; at most {MAX_UNBACKED_LEN} are decoded"
            ));
        }
    }
    Ok(Value::Array(items))
}

fn check_backed(len: usize, data: &[u8], what: &str) -> Res<()> {
    if len > MAX_UNBACKED_LEN && len > data.len() {
        return Err(format!(
            "the data claims a {what} of {len} items but only {} bytes remain",
            data.len()
        ));
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(bytes)))
}

/// A number when it fits `u64`/`i64` exactly, else its decimal string.
fn number(text: String) -> Value {
    if let Ok(n) = text.parse::<u64>() {
        Value::from(n)
    } else if let Ok(n) = text.parse::<i64>() {
        Value::from(n)
    } else {
        Value::String(text)
    }
}

/// Decodes one value of type `ty` from the front of `data`, advancing it.
pub(crate) fn decode(reg: &Registry, ty: u32, data: &mut &[u8], depth: usize) -> Res<Value> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let next = depth.saturating_add(1);
    let t = reg.get(ty)?;
    if is_account(reg, t) {
        let key = take_array::<32>(data, "an account id")?;
        return Ok(Value::String(AccountId32(key).to_ss58()));
    }
    match &t.def {
        Def::Primitive(p) => decode_prim(*p, data),
        Def::Compact(inner) => {
            let prim = compact_prim(reg, *inner, depth)?;
            let value = Compact::<u128>::decode(data)
                .map_err(|_| "the data is not a valid compact integer".to_string())?
                .0;
            match int_limits(prim) {
                Some((_, max, _)) if value <= max => Ok(number(value.to_string())),
                _ => Err(format!(
                    "compact value {value} is too large for {}",
                    prim.name()
                )),
            }
        }
        Def::Sequence(elem) => {
            let len = decode_len(data, "sequence")?;
            if is_u8(reg, *elem) {
                return Ok(hex_string(take(data, len, "a byte vector")?));
            }
            check_backed(len, data, "sequence")?;
            decode_items(reg, *elem, len, data, next)
        }
        Def::Array { len, ty: elem } => {
            let len = usize::try_from(*len).map_err(|_| "the array is too long".to_string())?;
            if is_u8(reg, *elem) {
                return Ok(hex_string(take(data, len, "a byte array")?));
            }
            check_backed(len, data, "array")?;
            decode_items(reg, *elem, len, data, next)
        }
        Def::Tuple(ids) => {
            if ids.is_empty() {
                return Ok(Value::Null);
            }
            let mut items = Vec::new();
            for id in ids {
                items.push(decode(reg, *id, data, next)?);
            }
            Ok(Value::Array(items))
        }
        Def::Composite(fields) => decode_fields(reg, fields, data, next),
        Def::Variant(variants) => {
            let [index] = take_array::<1>(data, "an enum")?;
            let label = t.name().unwrap_or("enum");
            let variant = variants.iter().find(|v| v.index == index).ok_or_else(|| {
                format!(
                    "byte {index} is not a variant index of `{label}` (variants: {})",
                    variant_list(variants)
                )
            })?;
            if t.path == ["Option"] {
                return match variant.name.as_str() {
                    "None" => Ok(Value::Null),
                    _ => decode_fields(reg, &variant.fields, data, next),
                };
            }
            if variant.fields.is_empty() {
                return Ok(Value::String(variant.name.clone()));
            }
            let inner = decode_fields(reg, &variant.fields, data, next)?;
            let mut map = Map::new();
            map.insert(variant.name.clone(), inner);
            Ok(Value::Object(map))
        }
        Def::BitSequence => Err("bit sequences are not supported".to_string()),
    }
}

/// Named fields → object, one unnamed field → its value, several → array, none → null.
fn decode_fields(reg: &Registry, fields: &[Field], data: &mut &[u8], depth: usize) -> Res<Value> {
    match fields {
        [] => Ok(Value::Null),
        [only] if only.name.is_none() => decode(reg, only.ty, data, depth),
        _ if fields.iter().all(|f| f.name.is_some()) => {
            let mut map = Map::new();
            for f in fields {
                let value = decode(reg, f.ty, data, depth)?;
                map.insert(f.name.clone().unwrap_or_default(), value);
            }
            Ok(Value::Object(map))
        }
        _ => {
            let mut items = Vec::new();
            for f in fields {
                items.push(decode(reg, f.ty, data, depth)?);
            }
            Ok(Value::Array(items))
        }
    }
}

fn decode_prim(p: Prim, data: &mut &[u8]) -> Res<Value> {
    let what = p.name();
    Ok(match p {
        Prim::Bool => match take_array::<1>(data, what)? {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            [b] => return Err(format!("byte {b} is not a bool (0 or 1)")),
        },
        Prim::Char => {
            let code = u32::from_le_bytes(take_array(data, what)?);
            let c = char::from_u32(code)
                .ok_or_else(|| format!("{code:#x} is not a unicode character"))?;
            Value::String(c.to_string())
        }
        Prim::Str => {
            let len = decode_len(data, "string")?;
            let bytes = take(data, len, "a string")?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| "the string is not valid UTF-8".to_string())?;
            Value::String(text.to_string())
        }
        Prim::U8 => Value::from(u8::from_le_bytes(take_array(data, what)?)),
        Prim::U16 => Value::from(u16::from_le_bytes(take_array(data, what)?)),
        Prim::U32 => Value::from(u32::from_le_bytes(take_array(data, what)?)),
        Prim::U64 => Value::from(u64::from_le_bytes(take_array(data, what)?)),
        Prim::U128 => number(u128::from_le_bytes(take_array(data, what)?).to_string()),
        Prim::I8 => Value::from(i8::from_le_bytes(take_array(data, what)?)),
        Prim::I16 => Value::from(i16::from_le_bytes(take_array(data, what)?)),
        Prim::I32 => Value::from(i32::from_le_bytes(take_array(data, what)?)),
        Prim::I64 => Value::from(i64::from_le_bytes(take_array(data, what)?)),
        Prim::I128 => number(i128::from_le_bytes(take_array(data, what)?).to_string()),
        Prim::U256 => number(wide_decimal(take_array(data, what)?)),
        Prim::I256 => {
            let mut bytes: [u8; 32] = take_array(data, what)?;
            if bytes.last().is_some_and(|top| top & 0x80 != 0) {
                negate(&mut bytes);
                number(format!("-{}", wide_decimal(bytes)))
            } else {
                number(wide_decimal(bytes))
            }
        }
    })
}
