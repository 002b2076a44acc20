//! Transaction validity, as `TaggedTransactionQueue_validate_transaction` reports it
//! (`sp_runtime::transaction_validity`).

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Where a transaction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TransactionSource {
    InBlock,
    Local,
    External,
}

/// Why a transaction can never be (or is not now) valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum InvalidTransaction {
    Call,
    Payment,
    Future,
    Stale,
    BadProof,
    AncientBirthBlock,
    ExhaustsResources,
    Custom(u8),
    BadMandatory,
    MandatoryValidation,
    BadSigner,
}

impl InvalidTransaction {
    /// The sentence Substrate nodes put in the JSON-RPC error's `data`.
    pub fn description(&self) -> String {
        match self {
            InvalidTransaction::Call => "Transaction call is not expected".into(),
            InvalidTransaction::Payment => {
                "Inability to pay some fees (e.g. account balance too low)".into()
            }
            InvalidTransaction::Future => "Transaction will be valid in the future".into(),
            InvalidTransaction::Stale => "Transaction is outdated".into(),
            InvalidTransaction::BadProof => "Transaction has a bad signature".into(),
            InvalidTransaction::AncientBirthBlock => {
                "Transaction has an ancient birth block".into()
            }
            InvalidTransaction::ExhaustsResources => {
                "Transaction would exhaust the block limits".into()
            }
            InvalidTransaction::Custom(n) => format!("Custom error: {n}"),
            InvalidTransaction::BadMandatory => {
                "A call was labelled as mandatory, but resulted in an Error.".into()
            }
            InvalidTransaction::MandatoryValidation => {
                "Transaction dispatch is mandatory; transactions must not be validated.".into()
            }
            InvalidTransaction::BadSigner => "Invalid signing address".into(),
        }
    }
}

/// Why validity could not be determined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum UnknownTransaction {
    CannotLookup,
    NoUnsignedValidator,
    Custom(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TransactionValidityError {
    Invalid(InvalidTransaction),
    Unknown(UnknownTransaction),
}

impl From<InvalidTransaction> for TransactionValidityError {
    fn from(e: InvalidTransaction) -> Self {
        TransactionValidityError::Invalid(e)
    }
}

impl From<UnknownTransaction> for TransactionValidityError {
    fn from(e: UnknownTransaction) -> Self {
        TransactionValidityError::Unknown(e)
    }
}

/// A valid transaction's place in the pool: ordered by `requires`/`provides` tags (the
/// sender's nonces), preferred by `priority`, dropped after `longevity` blocks.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ValidTransaction {
    pub priority: u64,
    pub requires: Vec<Vec<u8>>,
    pub provides: Vec<Vec<u8>>,
    pub longevity: u64,
    pub propagate: bool,
}

pub type TransactionValidity = Result<ValidTransaction, TransactionValidityError>;
