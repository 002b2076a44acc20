//! Why an included transaction's call failed, in words.

use std::fmt;

use phala_runtime::dispatch::{ArithmeticError, DispatchError, TokenError, TransactionalError};

use crate::metadata::{ChainMetadata, ModuleErrorInfo};

/// A failed dispatch: the runtime's error and a readable description of it, such as
/// `Balances.InsufficientBalance: Balance too low to send value.`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchFailure {
    /// The error as the runtime reported it in `System.ExtrinsicFailed`.
    pub error: DispatchError,
    /// For module errors: the module, the error's name and its docs, when the metadata
    /// describes them.
    pub module: Option<ModuleErrorInfo>,
    description: String,
}

impl DispatchFailure {
    /// Describes `error`, resolving module errors through `metadata`.
    pub fn new(error: DispatchError, metadata: &ChainMetadata) -> DispatchFailure {
        let module = match error {
            DispatchError::Module(m) => metadata.module_error(m.index, m.error),
            _ => None,
        };
        let description = match (&error, &module) {
            (_, Some(info)) if info.docs.is_empty() => format!("{}.{}", info.module, info.name),
            (_, Some(info)) => format!("{}.{}: {}", info.module, info.name, info.docs),
            (DispatchError::Module(m), None) => {
                let variant = m.error[0];
                match metadata.module_name(m.index) {
                    Some(name) => {
                        format!("{name} error #{variant} (the metadata does not describe it)")
                    }
                    None => format!("error #{variant} of unknown module #{}", m.index),
                }
            }
            (other, None) => describe_plain(other),
        };
        DispatchFailure {
            error,
            module,
            description,
        }
    }

    /// The description, e.g. `Balances.InsufficientBalance: Balance too low to send value.`
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl fmt::Display for DispatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl std::error::Error for DispatchFailure {}

/// Descriptions of the non-module errors, with `sp_runtime`'s docs.
fn describe_plain(error: &DispatchError) -> String {
    let (name, docs): (String, &str) = match error {
        DispatchError::Other => ("Other".into(), "An unspecified error occurred."),
        DispatchError::CannotLookup => (
            "CannotLookup".into(),
            "An address could not be resolved to an account.",
        ),
        DispatchError::BadOrigin => (
            "BadOrigin".into(),
            "The call was made by an origin that may not make it.",
        ),
        DispatchError::Module(m) => (format!("Module #{}", m.index), "A module error."),
        DispatchError::ConsumerRemaining => (
            "ConsumerRemaining".into(),
            "At least one consumer is remaining so the account cannot be destroyed.",
        ),
        DispatchError::NoProviders => (
            "NoProviders".into(),
            "There are no providers so the account cannot be created.",
        ),
        DispatchError::TooManyConsumers => (
            "TooManyConsumers".into(),
            "There are too many consumers so the account cannot be created.",
        ),
        DispatchError::Token(e) => (format!("Token.{e:?}"), token_docs(*e)),
        DispatchError::Arithmetic(e) => (
            format!("Arithmetic.{e:?}"),
            match e {
                ArithmeticError::Underflow => "An underflow would occur.",
                ArithmeticError::Overflow => "An overflow would occur.",
                ArithmeticError::DivisionByZero => "Division by zero.",
            },
        ),
        DispatchError::Transactional(e) => (
            format!("Transactional.{e:?}"),
            match e {
                TransactionalError::LimitReached => {
                    "Too many transactional layers have been spawned."
                }
                TransactionalError::NoLayer => {
                    "A transactional layer was expected, but does not exist."
                }
            },
        ),
        DispatchError::Exhausted => (
            "Exhausted".into(),
            "Resources exhausted, e.g. an attempt to read or write data which is too large.",
        ),
        DispatchError::Corruption => (
            "Corruption".into(),
            "The state is corrupt; this is generally not going to fix itself.",
        ),
        DispatchError::Unavailable => (
            "Unavailable".into(),
            "Some resource is unavailable right now; this might fix itself later.",
        ),
        DispatchError::RootNotAllowed => ("RootNotAllowed".into(), "Root origin is not allowed."),
    };
    format!("{name}: {docs}")
}

fn token_docs(e: TokenError) -> &'static str {
    match e {
        TokenError::FundsUnavailable => "Funds are unavailable.",
        TokenError::OnlyProvider => {
            "Some part of the balance gives the only provider reference to the account and thus cannot be (re)moved."
        }
        TokenError::BelowMinimum => "Account cannot exist with the funds that would be given.",
        TokenError::CannotCreate => "Account cannot be created.",
        TokenError::UnknownAsset => "The asset in question is unknown.",
        TokenError::Frozen => "Funds exist but are frozen.",
        TokenError::Unsupported => "Operation is not supported by the asset.",
        TokenError::CannotCreateHold => "Account cannot be created for recording amount on hold.",
        TokenError::NotExpendable => "Account that is desired to remain would die.",
        TokenError::Blocked => "Account cannot receive the assets.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Encode;
    use phala_runtime::dispatch::ModuleError;
    use phala_runtime::modules::balances;

    #[test]
    fn module_errors_name_module_variant_and_docs() {
        let md = ChainMetadata::local();
        let error: DispatchError = balances::Error::InsufficientBalance.into();
        let f = DispatchFailure::new(error, &md);
        assert_eq!(
            f.to_string(),
            "Balances.InsufficientBalance: Balance too low to send value."
        );
        let info = f.module.unwrap();
        assert_eq!(
            (info.module.as_str(), info.name.as_str()),
            ("Balances", "InsufficientBalance")
        );

        let expendability: DispatchError = balances::Error::Expendability.into();
        assert_eq!(
            DispatchFailure::new(expendability, &md).to_string(),
            "Balances.Expendability: Transfer/payment would kill account."
        );
    }

    #[test]
    fn unknown_module_errors_still_read() {
        let md = ChainMetadata::local();
        let unknown_variant = DispatchError::Module(ModuleError {
            index: 2,
            error: [250, 0, 0, 0],
        });
        assert_eq!(
            DispatchFailure::new(unknown_variant, &md).to_string(),
            "Balances error #250 (the metadata does not describe it)"
        );
        let unknown_module = DispatchError::Module(ModuleError {
            index: 99,
            error: [1, 0, 0, 0],
        });
        assert_eq!(
            DispatchFailure::new(unknown_module, &md).to_string(),
            "error #1 of unknown module #99"
        );
    }

    #[test]
    fn plain_errors_have_docs() {
        let md = ChainMetadata::local();
        let cases = [
            (
                DispatchError::BadOrigin,
                "BadOrigin: The call was made by an origin that may not make it.",
            ),
            (
                DispatchError::Token(TokenError::FundsUnavailable),
                "Token.FundsUnavailable: Funds are unavailable.",
            ),
            (
                DispatchError::Arithmetic(ArithmeticError::Overflow),
                "Arithmetic.Overflow: An overflow would occur.",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(DispatchFailure::new(error, &md).to_string(), text);
        }
        // Errors decoded from the wire describe the same way.
        let wire = DispatchError::Token(TokenError::Frozen).encode();
        assert_eq!(wire, vec![7, 5]);
    }
}
