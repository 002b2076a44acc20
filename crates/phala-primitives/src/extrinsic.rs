//! The v4 extrinsic envelope (`sp_runtime::generic::UncheckedExtrinsic`) and its signed payload.
//!
//! ```text
//! ext    = Compact<u32>(len(body)) ‖ body
//! signed : body = 0x84 ‖ MultiAddress ‖ MultiSignature ‖ extra ‖ call
//! bare   : body = 0x04 ‖ call
//! extra  = Era ‖ Compact<u32> nonce ‖ Compact<u128> tip
//! signed payload = call ‖ extra ‖ spec_version ‖ tx_version ‖ genesis ‖ birth hash
//!                  (blake2_256 of it when longer than 256 bytes)
//! ```
//! The transaction hash is `blake2_256(ext)`, length prefix included.

use parity_scale_codec::{Compact, Decode, Encode, Error as CodecError, Input, Output};
use scale_info::{
    Path, Type, TypeInfo, TypeParameter,
    build::{Fields, Variants},
    meta_type,
};

use crate::{AccountId32, Balance, Era, H256, Nonce, hashing::blake2_256};

/// Format version byte of a signed v4 extrinsic.
pub const SIGNED_V4: u8 = 0x84;
/// Format version byte of a bare (unsigned, inherent) v4 extrinsic.
pub const BARE_V4: u8 = 0x04;

/// Account index type of `MultiAddress::Index`. The chain has no indices module, so lookups by
/// index always fail; the type exists for wire compatibility.
pub type AccountIndex = u32;

/// `sp_runtime::MultiAddress<AccountId32, u32>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MultiAddress {
    #[codec(index = 0)]
    Id(AccountId32),
    #[codec(index = 1)]
    Index(#[codec(compact)] AccountIndex),
    #[codec(index = 2)]
    Raw(Vec<u8>),
    #[codec(index = 3)]
    Address32([u8; 32]),
    #[codec(index = 4)]
    Address20([u8; 20]),
}

impl MultiAddress {
    /// The account this address names, where it names one without a lookup table.
    pub fn account(&self) -> Option<AccountId32> {
        match self {
            MultiAddress::Id(id) => Some(*id),
            MultiAddress::Address32(bytes) => Some(AccountId32(*bytes)),
            MultiAddress::Raw(bytes) => {
                <[u8; 32]>::try_from(bytes.as_slice()).ok().map(AccountId32)
            }
            MultiAddress::Index(_) | MultiAddress::Address20(_) => None,
        }
    }
}

impl From<AccountId32> for MultiAddress {
    fn from(id: AccountId32) -> Self {
        MultiAddress::Id(id)
    }
}

impl TypeInfo for MultiAddress {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("MultiAddress", "sp_runtime::multiaddress"))
            .type_params(vec![
                TypeParameter::new("AccountId", Some(meta_type::<AccountId32>())),
                TypeParameter::new("AccountIndex", Some(meta_type::<AccountIndex>())),
            ])
            .variant(
                Variants::new()
                    .variant("Id", |v| {
                        v.index(0).fields(
                            Fields::unnamed()
                                .field(|f| f.ty::<AccountId32>().type_name("AccountId")),
                        )
                    })
                    .variant("Index", |v| {
                        v.index(1).fields(
                            Fields::unnamed()
                                .field(|f| f.compact::<AccountIndex>().type_name("AccountIndex")),
                        )
                    })
                    .variant("Raw", |v| {
                        v.index(2).fields(
                            Fields::unnamed().field(|f| f.ty::<Vec<u8>>().type_name("Vec<u8>")),
                        )
                    })
                    .variant("Address32", |v| {
                        v.index(3).fields(
                            Fields::unnamed().field(|f| f.ty::<[u8; 32]>().type_name("[u8; 32]")),
                        )
                    })
                    .variant("Address20", |v| {
                        v.index(4).fields(
                            Fields::unnamed().field(|f| f.ty::<[u8; 20]>().type_name("[u8; 20]")),
                        )
                    }),
            )
    }
}

/// `sp_runtime::MultiSignature`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MultiSignature {
    #[codec(index = 0)]
    Ed25519([u8; 64]),
    #[codec(index = 1)]
    Sr25519([u8; 64]),
    #[codec(index = 2)]
    Ecdsa([u8; 65]),
}

impl MultiSignature {
    /// Checks the signature of `signer` over an already-prepared payload (see
    /// [`signing_message`]). ECDSA is not supported: it would need secp256k1, and no Phala
    /// wallet signs with it, so such signatures never verify.
    pub fn verify(&self, message: &[u8], signer: &AccountId32) -> bool {
        match self {
            MultiSignature::Sr25519(sig) => crate::crypto::sr25519_verify(sig, message, &signer.0),
            MultiSignature::Ed25519(sig) => crate::crypto::ed25519_verify(sig, message, &signer.0),
            MultiSignature::Ecdsa(_) => false,
        }
    }
}

macro_rules! signature_type {
    ($name:ident, $module:literal, $len:literal) => {
        struct $name;
        impl TypeInfo for $name {
            type Identity = Self;
            fn type_info() -> Type {
                Type::builder()
                    .path(Path::new("Signature", $module))
                    .composite(
                        Fields::unnamed()
                            .field(|f| f.ty::<[u8; $len]>().type_name(concat!("[u8; ", $len, "]"))),
                    )
            }
        }
    };
}
signature_type!(Ed25519Signature, "sp_core::ed25519", 64);
signature_type!(Sr25519Signature, "sp_core::sr25519", 64);
signature_type!(EcdsaSignature, "sp_core::ecdsa", 65);

impl TypeInfo for MultiSignature {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("MultiSignature", "sp_runtime"))
            .variant(
                Variants::new()
                    .variant("Ed25519", |v| {
                        v.index(0).fields(
                            Fields::unnamed().field(|f| {
                                f.ty::<Ed25519Signature>().type_name("ed25519::Signature")
                            }),
                        )
                    })
                    .variant("Sr25519", |v| {
                        v.index(1).fields(
                            Fields::unnamed().field(|f| {
                                f.ty::<Sr25519Signature>().type_name("sr25519::Signature")
                            }),
                        )
                    })
                    .variant("Ecdsa", |v| {
                        v.index(2).fields(
                            Fields::unnamed()
                                .field(|f| f.ty::<EcdsaSignature>().type_name("ecdsa::Signature")),
                        )
                    }),
            )
    }
}

/// The "extra" data the signed extensions put in a transaction, in declaration order:
/// CheckMortality's era, CheckNonce's nonce and ChargeTransactionPayment's tip. The other
/// extensions (CheckNonZeroSender, CheckSpecVersion, CheckTxVersion, CheckGenesis,
/// CheckWeight) carry nothing in the transaction itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedExtra {
    pub era: Era,
    pub nonce: Nonce,
    pub tip: Balance,
}

impl Encode for SignedExtra {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        self.era.encode_to(dest);
        Compact(self.nonce).encode_to(dest);
        Compact(self.tip).encode_to(dest);
    }
}

impl Decode for SignedExtra {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        Ok(SignedExtra {
            era: Era::decode(input)?,
            nonce: Compact::<Nonce>::decode(input)?.0,
            tip: Compact::<Balance>::decode(input)?.0,
        })
    }
}

/// The data the signature covers but the transaction does not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode)]
pub struct AdditionalSigned {
    pub spec_version: u32,
    pub transaction_version: u32,
    pub genesis_hash: H256,
    /// Hash of the era's birth block (the genesis hash for immortal transactions).
    pub birth_hash: H256,
}

/// The bytes an account signs: `call ‖ extra ‖ additional`, hashed when over 256 bytes.
pub fn signing_message(call: &[u8], extra: &SignedExtra, additional: &AdditionalSigned) -> Vec<u8> {
    let mut payload = Vec::with_capacity(call.len().saturating_add(100));
    payload.extend_from_slice(call);
    extra.encode_to(&mut payload);
    additional.encode_to(&mut payload);
    if payload.len() > 256 {
        blake2_256(&payload).to_vec()
    } else {
        payload
    }
}

/// The signer part of a signed extrinsic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub address: MultiAddress,
    pub signature: MultiSignature,
    pub extra: SignedExtra,
}

/// A v4 extrinsic with a decoded call of type `Call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UncheckedExtrinsic<Call> {
    pub signature: Option<Signature>,
    pub function: Call,
}

impl<Call: Encode> UncheckedExtrinsic<Call> {
    pub fn bare(function: Call) -> Self {
        UncheckedExtrinsic {
            signature: None,
            function,
        }
    }

    /// A transaction signed by the sr25519 account `signer`: `sign` receives the exact message
    /// to sign (see [`signing_message`]) and returns the signature.
    pub fn new_signed_sr25519(
        function: Call,
        signer: AccountId32,
        extra: SignedExtra,
        additional: &AdditionalSigned,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Self {
        let message = signing_message(&function.encode(), &extra, additional);
        UncheckedExtrinsic {
            signature: Some(Signature {
                address: MultiAddress::Id(signer),
                signature: MultiSignature::Sr25519(sign(&message)),
                extra,
            }),
            function,
        }
    }

    /// Encoding without the outer compact length.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match &self.signature {
            Some(sig) => {
                body.push(SIGNED_V4);
                sig.address.encode_to(&mut body);
                sig.signature.encode_to(&mut body);
                sig.extra.encode_to(&mut body);
            }
            None => body.push(BARE_V4),
        }
        self.function.encode_to(&mut body);
        body
    }
}

impl<Call: Encode> Encode for UncheckedExtrinsic<Call> {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        self.encode_body().encode_to(dest);
    }
}

impl<Call: Decode> Decode for UncheckedExtrinsic<Call> {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        let len = Compact::<u32>::decode(input)?.0 as usize;
        if let Some(remaining) = input.remaining_len()?
            && remaining < len
        {
            return Err("Extrinsic length prefix exceeds the input".into());
        }
        let before = input.remaining_len()?;
        let version = input.read_byte()?;
        let signature = match version {
            SIGNED_V4 => Some(Signature {
                address: MultiAddress::decode(input)?,
                signature: MultiSignature::decode(input)?,
                extra: SignedExtra::decode(input)?,
            }),
            BARE_V4 => None,
            _ => return Err("Unsupported extrinsic format version".into()),
        };
        let function = Call::decode(input)?;
        if let (Some(before), Some(after)) = (before, input.remaining_len()?)
            && before.checked_sub(after) != Some(len)
        {
            return Err("Extrinsic length prefix does not match its contents".into());
        }
        Ok(UncheckedExtrinsic {
            signature,
            function,
        })
    }
}

/// The transaction hash: blake2_256 of the full encoding, length prefix included.
pub fn extrinsic_hash(encoded: &[u8]) -> H256 {
    H256(blake2_256(encoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bob() -> AccountId32 {
        AccountId32(
            hex::decode("8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48")
                .unwrap()
                .try_into()
                .unwrap(),
        )
    }

    #[test]
    fn signing_payload_matches_substrate_vector() {
        // Balances(5).transfer_keep_alive(3) { dest: Id(Bob), value: 10^12 }
        let mut call = vec![5u8, 3];
        MultiAddress::Id(bob()).encode_to(&mut call);
        Compact(1_000_000_000_000u128).encode_to(&mut call);
        let extra = SignedExtra {
            era: Era::mortal(64, 100),
            nonce: 0,
            tip: 0,
        };
        let additional = AdditionalSigned {
            spec_version: 100,
            transaction_version: 1,
            genesis_hash: H256([0x11; 32]),
            birth_hash: H256([0x22; 32]),
        };
        let msg = signing_message(&call, &extra, &additional);
        assert_eq!(msg.len(), 117);
        let expected = format!(
            "0503008eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48070010a5d4e8450200006400000001000000{}{}",
            "11".repeat(32),
            "22".repeat(32)
        );
        assert_eq!(hex::encode(&msg), expected);
    }

    #[test]
    fn round_trip_and_length_checks() {
        let xt = UncheckedExtrinsic {
            signature: Some(Signature {
                address: MultiAddress::Id(bob()),
                signature: MultiSignature::Sr25519([7; 64]),
                extra: SignedExtra {
                    era: Era::Immortal,
                    nonce: 5,
                    tip: 1,
                },
            }),
            function: vec![1u8, 2, 3],
        };
        let bytes = xt.encode();
        assert_eq!(
            UncheckedExtrinsic::<Vec<u8>>::decode(&mut &bytes[..]).unwrap(),
            xt
        );
        // Truncated input is refused.
        assert!(UncheckedExtrinsic::<Vec<u8>>::decode(&mut &bytes[..bytes.len() - 1]).is_err());
        // A length prefix larger than the body is refused even with trailing bytes present.
        let mut longer = Compact(bytes.len() as u32).encode();
        longer.extend_from_slice(&bytes[1..]);
        longer.push(0);
        assert!(UncheckedExtrinsic::<Vec<u8>>::decode(&mut &longer[..]).is_err());
        // Unknown version byte.
        let mut bad = bytes.clone();
        bad[1] = 0x85;
        assert!(UncheckedExtrinsic::<Vec<u8>>::decode(&mut &bad[..]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = UncheckedExtrinsic::<Vec<u8>>::decode(&mut &bytes[..]);
            let _ = MultiAddress::decode(&mut &bytes[..]);
            let _ = MultiSignature::decode(&mut &bytes[..]);
        }
    }
}
