//! Parameter types, as lenient as the clients that send them.
//!
//! polkadot.js omits absent trailing optionals while subxt sends `null`; the traits' `Option`
//! parameters take both as "absent". Block numbers come as JSON numbers, `0x` hex or decimal
//! strings; bytes as `0x` hex; accounts as SS58 of any prefix or `0x` hex. A value that does not
//! fit is a serde error, which the server answers as `-32602 Invalid params` with the reason in
//! the error's data: never a panic.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use phala_primitives::AccountId32;
use phala_primitives::crypto::{decode_hex, encode_hex};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes as Substrate's JSON writes them: a `0x`-prefixed hex string (`sp_core::Bytes`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Self {
        b.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0x-prefixed hex bytes")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Bytes, E> {
                decode_hex(s)
                    .map(Bytes)
                    .map_err(|e| E::custom(format!("expected 0x-prefixed hex bytes: {e}")))
            }
        }
        d.deserialize_str(HexVisitor)
    }
}

/// Bytes kept as the `0x` hex text they travel as: an answer too large to encode on every
/// call (the runtime's metadata) is encoded once and shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexBytes(pub Arc<str>);

impl HexBytes {
    pub fn encode(bytes: &[u8]) -> Self {
        HexBytes(encode_hex(bytes).into())
    }

    pub fn decode(&self) -> Result<Vec<u8>, phala_primitives::crypto::HexError> {
        decode_hex(&self.0)
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.starts_with("0x") {
            return Err(de::Error::custom("expected 0x-prefixed hex bytes"));
        }
        Ok(HexBytes(text.into()))
    }
}

/// A non-negative integer sent as a JSON number, a `0x` hex string or a decimal string, that
/// must fit `T` (a block number, a page size). Written back as a JSON number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number<T>(pub T);

impl<T> From<T> for Number<T> {
    fn from(v: T) -> Self {
        Number(v)
    }
}

impl<T: Into<u64> + Copy> Serialize for Number<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0.into())
    }
}

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Number<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumberVisitor<T>(PhantomData<T>);
        impl<T: TryFrom<u64>> NumberVisitor<T> {
            fn fit<E: de::Error>(n: u64) -> Result<Number<T>, E> {
                T::try_from(n).map(Number).map_err(|_| {
                    E::custom(format!(
                        "{n} is too large: at most {} bits here",
                        std::mem::size_of::<T>().saturating_mul(8)
                    ))
                })
            }
        }
        impl<T: TryFrom<u64>> Visitor<'_> for NumberVisitor<T> {
            type Value = Number<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer, as a number or a 0x-prefixed hex string")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Number<T>, E> {
                Self::fit(n)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Number<T>, E> {
                let n = u64::try_from(n)
                    .map_err(|_| E::custom(format!("{n} is not a non-negative integer")))?;
                Self::fit(n)
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Number<T>, E> {
                Err(E::custom(format!("{n} is not a non-negative integer")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Number<T>, E> {
                let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(digits) => u64::from_str_radix(digits, 16),
                    None => s.parse::<u64>(),
                };
                let n = parsed.map_err(|_| {
                    E::custom(format!(
                        "{} is not a number or a 0x-prefixed hex number",
                        quote(s)
                    ))
                })?;
                Self::fit(n)
            }
        }
        d.deserialize_any(NumberVisitor(PhantomData))
    }
}

/// An account as SS58 (of any network prefix) or `0x` and 64 hex digits; sent as SS58.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Account(pub AccountId32);

impl From<AccountId32> for Account {
    fn from(a: AccountId32) -> Self {
        Account(a)
    }
}

impl Serialize for Account {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_ss58())
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AccountVisitor;
        impl Visitor<'_> for AccountVisitor {
            type Value = Account;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an SS58 address or a 0x-prefixed 32-byte account id")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Account, E> {
                s.parse::<AccountId32>().map(Account).map_err(|_| {
                    E::custom(format!(
                        "{} is not an SS58 address or 0x-prefixed 32-byte account id",
                        quote(s)
                    ))
                })
            }
        }
        d.deserialize_str(AccountVisitor)
    }
}

/// Most items one list parameter (storage keys, block numbers) or list answer may hold.
/// Checked while decoding, so an oversized list is refused before it is built.
pub const MAX_LIST: usize = 4096;

/// What a refusal quotes of the input: enough to recognise it, never the whole body.
fn quote(input: &str) -> String {
    const MAX: usize = 64;
    match input.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", input.get(..end).unwrap_or_default()),
        None => format!("{input:?}"),
    }
}

/// A list of at most [`MAX_LIST`] items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> From<Vec<T>> for List<T> {
    fn from(v: Vec<T>) -> Self {
        List(v)
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Collects a sequence, refusing item [`MAX_LIST`] + 1 as soon as it is reached.
fn bounded_seq<'de, T: Deserialize<'de>, A: de::SeqAccess<'de>>(
    mut seq: A,
) -> Result<Vec<T>, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
    while let Some(item) = seq.next_element()? {
        if items.len() >= MAX_LIST {
            return Err(de::Error::custom(format!(
                "more than {MAX_LIST} items in one list"
            )));
        }
        items.push(item);
    }
    Ok(items)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a list of at most {MAX_LIST} items")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<List<T>, A::Error> {
                bounded_seq(seq).map(List)
            }
            // Said without quoting the string back: it may be the whole request.
            fn visit_str<E: de::Error>(self, s: &str) -> Result<List<T>, E> {
                Err(E::custom(format!(
                    "expected a list, got the string {}",
                    quote(s)
                )))
            }
        }
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

/// One value or a list of at most [`MAX_LIST`] of them, answered in kind (Substrate's
/// `ListOrValue`). Decoded as it arrives, never buffered whole to guess which it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ListOrValue<T> {
    List(Vec<T>),
    Value(T),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for ListOrValue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        struct EitherVisitor<T>(PhantomData<T>);
        impl<T: serde::de::DeserializeOwned> EitherVisitor<T> {
            /// A single value, handed to `T` as the JSON it was (so `Option<_>` takes
            /// `null` and strings alike).
            fn one<E: de::Error>(value: Value) -> Result<ListOrValue<T>, E> {
                T::deserialize(value)
                    .map(ListOrValue::Value)
                    .map_err(E::custom)
            }
        }
        impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for EitherVisitor<T> {
            type Value = ListOrValue<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a value or a list of at most {MAX_LIST} values")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<ListOrValue<T>, A::Error> {
                bounded_seq(seq).map(ListOrValue::List)
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListOrValue<T>, E> {
                Self::one(Value::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<ListOrValue<T>, E> {
                Self::one(Value::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ListOrValue<T>, E> {
                Self::one(Value::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ListOrValue<T>, E> {
                Self::one(Value::from(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ListOrValue<T>, E> {
                Self::one(Value::from(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ListOrValue<T>, E> {
                Self::one(Value::from(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListOrValue<T>, E> {
                Self::one(Value::String(v.to_owned()))
            }
        }
        d.deserialize_any(EitherVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn parse<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_in_every_form_clients_send() {
        for (v, n) in [
            (json!(5), 5u32),
            (json!("0x1a"), 26),
            (json!("0X1A"), 26),
            (json!("12"), 12),
            (json!(u32::MAX), u32::MAX),
        ] {
            assert_eq!(parse::<Number<u32>>(v).unwrap(), Number(n));
        }
        for bad in [
            json!(-1),
            json!(1.5),
            json!("0x"),
            json!("zz"),
            json!(4_294_967_296u64),
            json!(true),
            json!(null),
            json!([1]),
        ] {
            assert!(parse::<Number<u32>>(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_value(Number(7u32)).unwrap(), json!(7));
    }

    #[test]
    fn bytes_are_prefixed_hex() {
        assert_eq!(parse::<Bytes>(json!("0x")).unwrap(), Bytes(vec![]));
        assert_eq!(parse::<Bytes>(json!("0x0102")).unwrap(), Bytes(vec![1, 2]));
        for bad in [json!("0102"), json!("0xzz"), json!("0x123"), json!(12)] {
            assert!(parse::<Bytes>(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_value(Bytes(vec![0xab])).unwrap(), "0xab");
    }

    #[test]
    fn accounts_in_any_prefix_or_hex() {
        let hex = format!("0x{}", "d4".repeat(32));
        let a = parse::<Account>(json!(hex)).unwrap();
        let ss58 = serde_json::to_value(a).unwrap();
        assert_eq!(parse::<Account>(ss58).unwrap(), a);
        for bad in [json!("5Grwva"), json!(5), json!("0x1234")] {
            assert!(parse::<Account>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_or_value() {
        assert_eq!(
            parse::<ListOrValue<Number<u32>>>(json!([0, "0x2"])).unwrap(),
            ListOrValue::List(vec![Number(0), Number(2)])
        );
        assert_eq!(
            parse::<ListOrValue<Number<u32>>>(json!("0x2")).unwrap(),
            ListOrValue::Value(Number(2))
        );
        assert!(parse::<ListOrValue<Number<u32>>>(json!({"n": 1})).is_err());
        // Answers: a hash, null, or a list of either.
        let h = format!("0x{}", "ab".repeat(32));
        let hash = phala_primitives::H256([0xab; 32]);
        assert_eq!(
            parse::<ListOrValue<Option<phala_primitives::H256>>>(json!(h)).unwrap(),
            ListOrValue::Value(Some(hash))
        );
        assert_eq!(
            parse::<ListOrValue<Option<phala_primitives::H256>>>(json!(null)).unwrap(),
            ListOrValue::Value(None)
        );
        assert_eq!(
            parse::<ListOrValue<Option<phala_primitives::H256>>>(json!([h, null])).unwrap(),
            ListOrValue::List(vec![Some(hash), None])
        );
    }

    /// A 15 MiB list was decoded whole before its length was checked.
    #[test]
    fn lists_stop_at_their_bound() {
        let at_bound = json!(vec![0; MAX_LIST]);
        let over = json!(vec![0; MAX_LIST + 1]);
        assert_eq!(
            parse::<List<Number<u32>>>(at_bound.clone())
                .unwrap()
                .0
                .len(),
            MAX_LIST
        );
        assert!(
            parse::<List<Number<u32>>>(over.clone())
                .unwrap_err()
                .contains("more than")
        );
        assert!(parse::<ListOrValue<Number<u32>>>(at_bound).is_ok());
        assert!(
            parse::<ListOrValue<Number<u32>>>(over)
                .unwrap_err()
                .contains("more than")
        );
        // A huge string where a list belongs is refused without being quoted back whole.
        let long = "x".repeat(100_000);
        let e = parse::<List<Bytes>>(json!(long)).unwrap_err();
        assert!(e.len() < 200, "{e}");
        let e = parse::<Number<u32>>(json!(long)).unwrap_err();
        assert!(e.len() < 200, "{e}");
        let e = parse::<Account>(json!(long)).unwrap_err();
        assert!(e.len() < 200, "{e}");
    }

    proptest! {
        /// Whatever JSON text arrives, the decoders answer or refuse; they never panic.
        #[test]
        fn decoders_never_panic(text in ".{0,64}", n in any::<i128>()) {
            let _ = serde_json::from_str::<Bytes>(&format!("{text:?}"));
            let _ = serde_json::from_str::<Account>(&format!("{text:?}"));
            let _ = serde_json::from_str::<Number<u32>>(&format!("{text:?}"));
            let _ = serde_json::from_str::<Number<u32>>(&n.to_string());
            let _ = serde_json::from_str::<ListOrValue<Number<u32>>>(&text);
            let _ = serde_json::from_str::<List<Bytes>>(&text);
        }

        #[test]
        fn numbers_round_trip(n in any::<u32>()) {
            let v = serde_json::to_value(Number(n)).unwrap();
            prop_assert_eq!(parse::<Number<u32>>(v).unwrap(), Number(n));
            prop_assert_eq!(parse::<Number<u32>>(json!(format!("{n:#x}"))).unwrap(), Number(n));
        }
    }
}
