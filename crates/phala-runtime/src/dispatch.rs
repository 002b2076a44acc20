//! Dispatch outcomes in Substrate's shapes: `DispatchError`, `DispatchInfo`.
//!
//! Clients decode `System.ExtrinsicFailed` by these exact type paths and variant names
//! (`sp_runtime::DispatchError`, `Module { index, error }`), so the `TypeInfo` of the error
//! types is written out by hand.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::Weight;
use scale_info::{
    Path, Type, TypeInfo,
    build::{Fields, Variants},
};

pub use crate::origin::Origin;

/// A module error as it travels in `DispatchError::Module`: the module's index and the error
/// variant's index (bytes 1..4 are reserved for nested errors and always zero here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ModuleError {
    pub index: u8,
    pub error: [u8; 4],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TokenError {
    FundsUnavailable,
    OnlyProvider,
    BelowMinimum,
    CannotCreate,
    UnknownAsset,
    Frozen,
    Unsupported,
    CannotCreateHold,
    NotExpendable,
    Blocked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ArithmeticError {
    Underflow,
    Overflow,
    DivisionByZero,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TransactionalError {
    LimitReached,
    NoLayer,
}

/// Why a dispatched call failed (`sp_runtime::DispatchError`, same variant order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum DispatchError {
    Other,
    CannotLookup,
    BadOrigin,
    Module(ModuleError),
    ConsumerRemaining,
    NoProviders,
    TooManyConsumers,
    Token(TokenError),
    Arithmetic(ArithmeticError),
    Transactional(TransactionalError),
    Exhausted,
    Corruption,
    Unavailable,
    RootNotAllowed,
}

impl From<ArithmeticError> for DispatchError {
    fn from(e: ArithmeticError) -> Self {
        DispatchError::Arithmetic(e)
    }
}

impl From<TokenError> for DispatchError {
    fn from(e: TokenError) -> Self {
        DispatchError::Token(e)
    }
}

/// A module's error enum: fieldless, SCALE-encoded as its variant index.
pub trait ModuleErrorEnum: Encode {
    /// The module's index in the runtime.
    const MODULE_INDEX: u8;

    fn into_dispatch_error(self) -> DispatchError
    where
        Self: Sized,
    {
        let variant = self.encode().first().copied().unwrap_or(0);
        DispatchError::Module(ModuleError {
            index: Self::MODULE_INDEX,
            error: [variant, 0, 0, 0],
        })
    }
}

pub type DispatchResult = Result<(), DispatchError>;

/// Weight class of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum DispatchClass {
    #[default]
    Normal,
    Operational,
    Mandatory,
}

/// Whether a call pays a fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Pays {
    #[default]
    Yes,
    No,
}

/// What a call costs (`frame_support::dispatch::DispatchInfo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct DispatchInfo {
    pub weight: Weight,
    pub class: DispatchClass,
    pub pays_fee: Pays,
}

fn unit_variants(names: &'static [&'static str]) -> Variants {
    let mut variants = Variants::new();
    for (i, name) in names.iter().enumerate() {
        variants = variants.variant(*name, |v| v.index(u8::try_from(i).unwrap_or(u8::MAX)));
    }
    variants
}

impl TypeInfo for TokenError {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("TokenError", "sp_runtime"))
            .variant(unit_variants(&[
                "FundsUnavailable",
                "OnlyProvider",
                "BelowMinimum",
                "CannotCreate",
                "UnknownAsset",
                "Frozen",
                "Unsupported",
                "CannotCreateHold",
                "NotExpendable",
                "Blocked",
            ]))
    }
}

impl TypeInfo for ArithmeticError {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("ArithmeticError", "sp_arithmetic"))
            .variant(unit_variants(&["Underflow", "Overflow", "DivisionByZero"]))
    }
}

impl TypeInfo for TransactionalError {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("TransactionalError", "sp_runtime"))
            .variant(unit_variants(&["LimitReached", "NoLayer"]))
    }
}

impl TypeInfo for ModuleError {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("ModuleError", "sp_runtime"))
            .composite(
                Fields::named()
                    .field(|f| f.ty::<u8>().name("index").type_name("u8"))
                    .field(|f| {
                        f.ty::<[u8; 4]>()
                            .name("error")
                            .type_name("[u8; MAX_MODULE_ERROR_ENCODED_SIZE]")
                    }),
            )
    }
}

impl TypeInfo for DispatchError {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("DispatchError", "sp_runtime"))
            .variant(
                Variants::new()
                    .variant("Other", |v| v.index(0))
                    .variant("CannotLookup", |v| v.index(1))
                    .variant("BadOrigin", |v| v.index(2))
                    .variant("Module", |v| {
                        v.index(3).fields(
                            Fields::unnamed()
                                .field(|f| f.ty::<ModuleError>().type_name("ModuleError")),
                        )
                    })
                    .variant("ConsumerRemaining", |v| v.index(4))
                    .variant("NoProviders", |v| v.index(5))
                    .variant("TooManyConsumers", |v| v.index(6))
                    .variant("Token", |v| {
                        v.index(7).fields(
                            Fields::unnamed()
                                .field(|f| f.ty::<TokenError>().type_name("TokenError")),
                        )
                    })
                    .variant("Arithmetic", |v| {
                        v.index(8).fields(
                            Fields::unnamed()
                                .field(|f| f.ty::<ArithmeticError>().type_name("ArithmeticError")),
                        )
                    })
                    .variant("Transactional", |v| {
                        v.index(9).fields(Fields::unnamed().field(|f| {
                            f.ty::<TransactionalError>().type_name("TransactionalError")
                        }))
                    })
                    .variant("Exhausted", |v| v.index(10))
                    .variant("Corruption", |v| v.index(11))
                    .variant("Unavailable", |v| v.index(12))
                    .variant("RootNotAllowed", |v| v.index(13)),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_error_encoding() {
        let e = DispatchError::Module(ModuleError {
            index: 2,
            error: [2, 0, 0, 0],
        });
        assert_eq!(e.encode(), vec![3, 2, 2, 0, 0, 0]);
        assert_eq!(DispatchError::BadOrigin.encode(), vec![2]);
        assert_eq!(
            DispatchError::Token(TokenError::Frozen).encode(),
            vec![7, 5]
        );
    }
}
