//! Random bytes into every decoder that takes network input: none may panic.

use std::collections::BTreeMap;

use phala_primitives::{H256, OpaqueExtrinsic};
use phala_runtime::executive::{Context, decode_extrinsic};
use phala_runtime::{GenesisConfig, api, block};
use proptest::prelude::*;

const METHODS: &[&str] = &[
    "Core_version",
    "Metadata_metadata",
    "Metadata_metadata_at_version",
    "Metadata_metadata_versions",
    "AccountNonceApi_account_nonce",
    "TransactionPaymentApi_query_info",
    "TransactionPaymentApi_query_fee_details",
    "TransactionPaymentApi_query_weight_to_fee",
    "TransactionPaymentApi_query_length_to_fee",
    "TransactionPaymentCallApi_query_call_info",
    "TransactionPaymentCallApi_query_call_fee_details",
    "TaggedTransactionQueue_validate_transaction",
];

fn state() -> BTreeMap<Vec<u8>, Vec<u8>> {
    GenesisConfig::default().build_storage().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn extrinsic_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_extrinsic(&bytes);
    }

    #[test]
    fn extrinsic_decoder_on_plausible_prefixes(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        version in prop_oneof![Just(0x84u8), Just(0x04u8)],
        module in 0u8..5,
    ) {
        let mut inner = vec![version];
        if version == 0x04 { inner.push(module); }
        inner.extend(body);
        let mut bytes = parity_scale_codec::Encode::encode(&parity_scale_codec::Compact(inner.len() as u32));
        bytes.extend(inner);
        let _ = decode_extrinsic(&bytes);
    }

    #[test]
    fn runtime_api_inputs(method in 0usize..METHODS.len(), input in proptest::collection::vec(any::<u8>(), 0..200)) {
        let state = state();
        let ctx = Context { genesis_hash: H256::zero() };
        let _ = api::call(&state, &ctx, METHODS[method], &input);
    }

    #[test]
    fn block_execution(extrinsics in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..4)) {
        let state = state();
        let ctx = Context { genesis_hash: H256::zero() };
        let xts: Vec<OpaqueExtrinsic> = extrinsics
            .into_iter()
            .filter_map(|mut b| {
                let mut bytes = parity_scale_codec::Encode::encode(&parity_scale_codec::Compact(b.len() as u32));
                bytes.append(&mut b);
                OpaqueExtrinsic::from_bytes(bytes).ok()
            })
            .collect();
        prop_assert!(block::execute_block(&state, ctx, H256::zero(), 1, &xts).is_err());
    }
}
