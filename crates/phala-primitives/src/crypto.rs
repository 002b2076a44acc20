//! Account ids, 32-byte hashes and signature verification.

use core::fmt;
use core::str::FromStr;

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::{Path, Type, TypeInfo, build::Fields};

use crate::ss58;

/// The signing context Substrate uses for sr25519 transaction signatures.
pub const SIGNING_CTX: &[u8] = b"substrate";

/// A 32-byte account id: an sr25519 or ed25519 public key (`sp_core::crypto::AccountId32`).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, MaxEncodedLen,
)]
pub struct AccountId32(pub [u8; 32]);

impl AccountId32 {
    pub const fn new(bytes: [u8; 32]) -> Self {
        AccountId32(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SS58 address with Phala's prefix (30).
    pub fn to_ss58(&self) -> String {
        ss58::encode(&self.0, crate::SS58_PREFIX)
    }
}

impl fmt::Display for AccountId32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

impl fmt::Debug for AccountId32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{})", self.to_ss58(), hex::encode(self.0))
    }
}

impl FromStr for AccountId32 {
    type Err = ss58::Ss58Error;

    /// Accepts an SS58 address of any prefix, or 0x followed by 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ss58::parse_account(s).map(AccountId32)
    }
}

impl From<[u8; 32]> for AccountId32 {
    fn from(bytes: [u8; 32]) -> Self {
        AccountId32(bytes)
    }
}

impl AsRef<[u8]> for AccountId32 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TypeInfo for AccountId32 {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("AccountId32", "sp_core::crypto"))
            .composite(Fields::unnamed().field(|f| f.ty::<[u8; 32]>().type_name("[u8; 32]")))
    }
}

/// A 32-byte hash (`primitive_types::H256`): block hashes, state roots, extrinsic hashes.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, MaxEncodedLen,
)]
pub struct H256(pub [u8; 32]);

impl H256 {
    pub const fn zero() -> Self {
        H256([0; 32])
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `0x`-prefixed lowercase hex, the form every Substrate RPC uses.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses `0x` followed by exactly 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        let bytes = decode_hex(s)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| HexError::Length {
            expected: 32,
            got: b.len(),
        })?;
        Ok(H256(arr))
    }
}

impl fmt::Debug for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; 32]> for H256 {
    fn from(bytes: [u8; 32]) -> Self {
        H256(bytes)
    }
}

impl AsRef<[u8]> for H256 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl TypeInfo for H256 {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("H256", "primitive_types"))
            .composite(Fields::unnamed().field(|f| f.ty::<[u8; 32]>().type_name("[u8; 32]")))
    }
}

impl serde::Serialize for H256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for H256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        H256::from_hex(&s).map_err(|e| {
            serde::de::Error::custom(format!("expected a 0x-prefixed 32-byte hash: {e}"))
        })
    }
}

/// Why a hex string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HexError {
    #[error("hex string must start with 0x")]
    MissingPrefix,
    #[error("invalid hex: {0}")]
    Invalid(String),
    #[error("expected {expected} bytes, got {got}")]
    Length { expected: usize, got: usize },
}

/// Decodes a `0x`-prefixed hex string (the prefix is required, as in Substrate's RPC).
pub fn decode_hex(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or(HexError::MissingPrefix)?;
    hex::decode(digits).map_err(|e| HexError::Invalid(e.to_string()))
}

/// `0x`-prefixed lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Verifies an sr25519 signature made with Substrate's `"substrate"` signing context.
pub fn sr25519_verify(signature: &[u8; 64], message: &[u8], public: &[u8; 32]) -> bool {
    let Ok(public) = schnorrkel::PublicKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = schnorrkel::Signature::from_bytes(signature) else {
        return false;
    };
    public
        .verify_simple(SIGNING_CTX, message, &signature)
        .is_ok()
}

/// Verifies an ed25519 signature over the raw message.
pub fn ed25519_verify(signature: &[u8; 64], message: &[u8], public: &[u8; 32]) -> bool {
    let Ok(public) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    public.verify_strict(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = H256([0xab; 32]);
        assert_eq!(H256::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(H256::from_hex("ab"), Err(HexError::MissingPrefix));
        assert!(matches!(
            H256::from_hex("0xabcd"),
            Err(HexError::Length {
                expected: 32,
                got: 2
            })
        ));
        assert!(matches!(H256::from_hex("0xzz"), Err(HexError::Invalid(_))));
    }

    #[test]
    fn garbage_signatures_do_not_verify() {
        assert!(!sr25519_verify(&[0; 64], b"x", &[0; 32]));
        assert!(!sr25519_verify(&[1; 64], b"x", &[1; 32]));
        assert!(!ed25519_verify(&[0; 64], b"x", &[0; 32]));
    }
}
