//! Positional parameters as Substrate clients send them.
//!
//! Both clients send an array; polkadot.js omits absent trailing optionals while subxt sends
//! `null`, so both mean "absent". Block numbers come as JSON numbers or hex strings, hashes and
//! bytes as `0x` hex. Every failure is a `-32602` naming the parameter, never a panic.

use jsonrpsee::types::{ErrorObjectOwned, Params};
use phala_primitives::crypto::decode_hex;
use phala_primitives::{AccountId32, BlockNumber, H256};
use serde_json::Value;

use crate::errors::invalid_params;

/// Most keys one request may name: bounds the reads (and the response) a single call causes.
pub const MAX_KEYS: usize = 4096;

pub struct Args {
    values: Vec<Value>,
}

type Parse<T> = fn(&Value) -> Result<T, String>;

impl Args {
    pub fn parse(params: &Params<'_>) -> Result<Args, ErrorObjectOwned> {
        let values = match params.as_str() {
            None => Vec::new(),
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Array(values)) => values,
                Ok(Value::Null) => Vec::new(),
                Ok(_) => return Err(invalid_params("parameters must be a JSON array")),
                Err(e) => return Err(invalid_params(format!("malformed parameters: {e}"))),
            },
        };
        Ok(Args { values })
    }

    fn value(&self, index: usize) -> Option<&Value> {
        self.values.get(index).filter(|v| !v.is_null())
    }

    pub fn required<T>(
        &self,
        index: usize,
        name: &str,
        parse: Parse<T>,
    ) -> Result<T, ErrorObjectOwned> {
        match self.value(index) {
            Some(v) => parse(v).map_err(|e| invalid_params(format!("parameter `{name}`: {e}"))),
            None => Err(invalid_params(format!(
                "missing required parameter `{name}` (position {index})"
            ))),
        }
    }

    pub fn optional<T>(
        &self,
        index: usize,
        name: &str,
        parse: Parse<T>,
    ) -> Result<Option<T>, ErrorObjectOwned> {
        self.value(index)
            .map(|v| parse(v).map_err(|e| invalid_params(format!("parameter `{name}`: {e}"))))
            .transpose()
    }

    /// The raw value at `index`, for parameters with more than one accepted shape.
    pub fn raw(&self, index: usize) -> Option<&Value> {
        self.value(index)
    }
}

fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got {}", kind(v)))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn string(v: &Value) -> Result<String, String> {
    as_str(v).map(str::to_owned)
}

pub fn hash(v: &Value) -> Result<H256, String> {
    H256::from_hex(as_str(v)?).map_err(|e| format!("expected a 0x-prefixed 32-byte hash: {e}"))
}

pub fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    decode_hex(as_str(v)?).map_err(|e| format!("expected 0x-prefixed hex bytes: {e}"))
}

/// A storage key prefix; `null` is already "absent", which callers treat as empty.
pub fn key(v: &Value) -> Result<Vec<u8>, String> {
    bytes(v)
}

pub fn keys(v: &Value) -> Result<Vec<Vec<u8>>, String> {
    let items = v
        .as_array()
        .ok_or_else(|| format!("expected an array of hex keys, got {}", kind(v)))?;
    if items.len() > MAX_KEYS {
        return Err(format!(
            "{} keys requested, at most {MAX_KEYS} are allowed per call",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| bytes(item).map_err(|e| format!("key #{i}: {e}")))
        .collect()
}

/// A non-negative integer as a JSON number, a `0x` hex string or a decimal string.
fn integer(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a non-negative integer")),
        Value::String(s) => {
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(digits) => u64::from_str_radix(digits, 16),
                None => s.parse::<u64>(),
            };
            parsed.map_err(|_| format!("{s:?} is not a number or 0x-prefixed hex number"))
        }
        other => Err(format!("expected a number, got {}", kind(other))),
    }
}

pub fn block_number(v: &Value) -> Result<BlockNumber, String> {
    let n = integer(v)?;
    BlockNumber::try_from(n)
        .map_err(|_| format!("{n} exceeds the largest block number {}", BlockNumber::MAX))
}

pub fn count(v: &Value) -> Result<u32, String> {
    let n = integer(v)?;
    u32::try_from(n).map_err(|_| format!("{n} does not fit in u32"))
}

/// An account as SS58 of any network prefix, or `0x` and 64 hex digits.
pub fn account(v: &Value) -> Result<AccountId32, String> {
    as_str(v)?
        .parse::<AccountId32>()
        .map_err(|e| format!("expected an SS58 address or 0x-prefixed 32-byte account id: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        let raw = v.to_string();
        Args::parse(&Params::new(Some(&raw))).unwrap()
    }

    #[test]
    fn numbers_hex_and_nulls() {
        let a = args(json!([5, "0x1a", null, "12"]));
        assert_eq!(a.required(0, "n", block_number).unwrap(), 5);
        assert_eq!(a.required(1, "n", block_number).unwrap(), 26);
        assert_eq!(a.optional(2, "n", block_number).unwrap(), None);
        assert_eq!(a.optional(3, "n", block_number).unwrap(), Some(12));
        assert_eq!(a.optional(9, "n", block_number).unwrap(), None);
        assert!(a.required(2, "n", block_number).is_err());
        let a = args(json!([-1, 1.5, "0x", 4294967296u64, true]));
        for i in 0..5 {
            let e = a.required(i, "n", block_number).unwrap_err();
            assert_eq!(e.code(), -32602);
        }
    }

    #[test]
    fn hashes_and_bytes() {
        let a = args(json!(["0x", "0x0102", "0102", "0xzz", ["0x01", 2]]));
        assert_eq!(a.required(0, "b", bytes).unwrap(), Vec::<u8>::new());
        assert_eq!(a.required(1, "b", bytes).unwrap(), vec![1, 2]);
        assert!(a.required(2, "b", bytes).is_err());
        assert!(a.required(3, "b", bytes).is_err());
        assert!(a.required(1, "h", hash).is_err());
        assert!(a.required(4, "k", keys).is_err());
        assert!(Args::parse(&Params::new(Some("{\"a\":1}"))).is_err());
        assert!(Args::parse(&Params::new(None)).unwrap().values.is_empty());
    }
}
