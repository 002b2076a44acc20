//! The runtime version clients sign against (`CheckSpecVersion`, `CheckTxVersion`) and the
//! runtime APIs it serves.

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// `sp_version::RuntimeVersion`, SCALE layout of the current Substrate.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RuntimeVersion {
    pub spec_name: String,
    pub impl_name: String,
    pub authoring_version: u32,
    pub spec_version: u32,
    pub impl_version: u32,
    pub apis: Vec<([u8; 8], u32)>,
    pub transaction_version: u32,
    pub system_version: u8,
}

/// The runtime APIs served through `state_call`, with the versions clients expect.
pub const APIS: &[(&str, u32)] = &[
    ("Core", 5),
    ("Metadata", 2),
    ("TaggedTransactionQueue", 3),
    ("AccountNonceApi", 1),
    ("TransactionPaymentApi", 4),
    ("TransactionPaymentCallApi", 3),
];

/// An API's id: the 8-byte BLAKE2b of its trait name (not a truncated blake2_256).
pub fn api_id(name: &str) -> [u8; 8] {
    phala_primitives::hashing::blake2_64(name.as_bytes())
}

/// `specName`. Not one of the names polkadot.js carries legacy type overrides for.
pub const SPEC_NAME: &str = "phala";
/// The newest release's runtime version: bumped whenever the state transition changes.
/// A chain's genesis records the version it started with (the chain spec's
/// `genesisSpecVersion`), and each block runs with the version in force at its height.
pub const SPEC_VERSION: u32 = 10;
/// The newest runtime version this build can execute: a chain runs each block with the
/// version in force at its height (genesis's, then each `System.scheduleUpgrade`'s), and a
/// chain scheduled to switch to a newer one stops this node before the switch. Test builds
/// (feature `next-runtime`) carry one more version, to rehearse upgrades with.
pub const NEWEST_SPEC_VERSION: u32 = if cfg!(feature = "next-runtime") {
    TEST_NEXT_SPEC_VERSION
} else {
    SPEC_VERSION
};
/// The test-only version: far above any real release's number, so a binary built with
/// test features can never take a real upgrade for it.
pub const TEST_NEXT_SPEC_VERSION: u32 = 1_000_000;
/// Bumped whenever call encodings change; part of every signature.
pub const TRANSACTION_VERSION: u32 = 2;

/// The runtime version at the block whose state `ext` reads, as Substrate reports it: the
/// one the next block runs with.
pub fn version_of(ext: &crate::Ext) -> RuntimeVersion {
    RuntimeVersion {
        spec_version: crate::modules::system::next_block_spec_version(ext),
        ..version()
    }
}

/// The version of this runtime.
pub fn version() -> RuntimeVersion {
    RuntimeVersion {
        spec_name: SPEC_NAME.into(),
        impl_name: "phala-node".into(),
        authoring_version: 1,
        spec_version: SPEC_VERSION,
        impl_version: 0,
        apis: APIS.iter().map(|(name, v)| (api_id(name), *v)).collect(),
        transaction_version: TRANSACTION_VERSION,
        system_version: 1,
    }
}

/// The version of this runtime, built once.
pub static VERSION: std::sync::LazyLock<RuntimeVersion> = std::sync::LazyLock::new(version);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_match_substrate() {
        assert_eq!(hex::encode(api_id("Core")), "df6acb689907609b");
        assert_eq!(hex::encode(api_id("Metadata")), "37e397fc7c91f5e4");
        assert_eq!(
            hex::encode(api_id("TaggedTransactionQueue")),
            "d2bc9897eed08f15"
        );
        assert_eq!(hex::encode(api_id("AccountNonceApi")), "bc9d89904f5b923f");
        assert_eq!(
            hex::encode(api_id("TransactionPaymentApi")),
            "37c8bb1350a9a2a8"
        );
        assert_eq!(
            hex::encode(api_id("TransactionPaymentCallApi")),
            "f3ff14d5ab527059"
        );
    }

    #[test]
    fn scale_layout_matches_vector() {
        let v = RuntimeVersion {
            spec_name: "mychain".into(),
            impl_name: "mychain-node".into(),
            authoring_version: 1,
            spec_version: 100,
            impl_version: 1,
            apis: vec![(api_id("Core"), 5)],
            transaction_version: 1,
            system_version: 1,
        };
        assert_eq!(
            hex::encode(v.encode()),
            "1c6d79636861696e306d79636861696e2d6e6f646501000000640000000100000004df6acb689907609b050000000100000001"
        );
    }
}
