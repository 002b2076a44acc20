//! Parameter types, as lenient as the clients that send them.
//!
//! polkadot.js omits absent trailing optionals while subxt sends `null`; the traits' `Option`
//! parameters take both as "absent". Block numbers come as JSON numbers, `0x` hex or decimal
//! strings; bytes as `0x` hex; accounts as SS58 of any prefix or `0x` hex. A value that does not
//! fit is a serde error, which the server answers as `-32602 Invalid params` with the reason in
//! the error's data: never a panic.

use std::fmt;
use std::marker::PhantomData;

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
                    E::custom(format!("{s:?} is not a number or a 0x-prefixed hex number"))
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
                s.parse::<AccountId32>().map(Account).map_err(|e| {
                    E::custom(format!(
                        "expected an SS58 address or 0x-prefixed 32-byte account id: {e}"
                    ))
                })
            }
        }
        d.deserialize_str(AccountVisitor)
    }
}

/// One value or a list of them, answered in kind (Substrate's `ListOrValue`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ListOrValue<T> {
    List(Vec<T>),
    Value(T),
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
        }

        #[test]
        fn numbers_round_trip(n in any::<u32>()) {
            let v = serde_json::to_value(Number(n)).unwrap();
            prop_assert_eq!(parse::<Number<u32>>(v).unwrap(), Number(n));
            prop_assert_eq!(parse::<Number<u32>>(json!(format!("{n:#x}"))).unwrap(), Number(n));
        }
    }
}
