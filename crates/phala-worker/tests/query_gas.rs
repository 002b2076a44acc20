//! Anonymous contract queries cost their sender nothing, not even an account: they get a
//! fraction of a signed query's gas.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;
use parity_scale_codec::DecodeAll;
use phala_crypto::query::Source;
use phala_keys::Sr25519Pair;
use phala_mq::contracts::ContractQueryResult;
use phala_worker::contract_env::HttpPolicy;
use phala_worker::contracts::{ANONYMOUS_GAS_DIVISOR, ContractRuntime};

#[test]
fn anonymous_queries_get_less_gas_than_signed_ones() {
    // Enough gas for the slow contract when signed, a quarter of it when anonymous.
    let gas = SLOW_GAS * 2;
    let runtime = ContractRuntime::new(HttpPolicy::default(), gas, Duration::from_secs(10));
    assert_eq!(runtime.query_gas_for(None), gas / ANONYMOUS_GAS_DIVISOR);
    let (shared, worker) = worker(runtime);
    let mut rng = commonware_utils::test_rng();
    let source = Source::from(IpAddr::V4(Ipv4Addr::LOCALHOST));

    let alice = Sr25519Pair::from_uri("//Alice").unwrap();
    let (body, ephemeral, nonce) = query(&worker, &alice, worker.slow, 1);
    let reply = shared.queries.answer(&mut rng, &body, source).unwrap();
    let answer = open(&worker, &reply, &ephemeral, &nonce).expect("signed: an answer");
    let result = ContractQueryResult::decode_all(&mut answer.as_slice()).unwrap();
    assert_eq!(result.gas_used, SLOW_GAS);

    let (body, ephemeral, nonce) = anonymous(&worker, worker.slow, 2);
    let reply = shared.queries.answer(&mut rng, &body, source).unwrap();
    let refusal = open(&worker, &reply, &ephemeral, &nonce).expect_err("anonymous: out of gas");
    assert!(refusal.contains("out of gas"), "{refusal}");
}
