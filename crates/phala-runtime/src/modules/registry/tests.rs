use parity_scale_codec::Encode;
use phala_attestation::simulated::{DEV_MEASUREMENT, SimulatedQuote};
use phala_attestation::{Attestation, TeeKind};
use phala_mq::topics::{WorkerEvent, WorkerEventWithKey};
use phala_primitives::worker::WorkerRegistrationInfo;
use phala_primitives::{H256, PHA};

use super::*;
use crate::dispatch::DispatchError;
use crate::genesis::{GenesisConfig, RegistryGenesis};
use crate::modules::{TREASURY_ACCOUNT, message_queue, sudo};
use crate::testing::{TestChain, account, pair};
use crate::{RuntimeCall, RuntimeEvent};

pub(crate) fn dev_chain(allow_simulated_tee: bool) -> TestChain {
    TestChain::with_genesis(GenesisConfig {
        endowed: vec![
            (account("//Alice"), 1_000 * PHA),
            (account("//Bob"), 1_000 * PHA),
            (TREASURY_ACCOUNT, PHA),
        ],
        registry: RegistryGenesis {
            allow_simulated_tee,
            measurements: vec![DEV_MEASUREMENT.to_vec()],
            ..Default::default()
        },
        sudo_key: Some(account("//Alice")),
        ..Default::default()
    })
}

pub(crate) fn info(chain: &TestChain, worker: &phala_keys::Sr25519Pair) -> WorkerRegistrationInfo {
    WorkerRegistrationInfo {
        version: phala_primitives::worker::version(0, 1, 0),
        machine_id: b"machine-1".to_vec(),
        pubkey: worker.public(),
        ecdh_pubkey: [7; 32],
        genesis_hash: chain.ctx.genesis_hash,
        features: vec![2],
        operator: Some(account("//Bob")),
        recent_block: chain.number,
        recent_block_hash: chain.head,
    }
}

pub(crate) fn simulated(info: &WorkerRegistrationInfo, measurement: [u8; 32]) -> Attestation {
    Attestation::Simulated {
        quote: SimulatedQuote {
            measurement,
            report_data: info.report_data(),
        }
        .encode(),
    }
}

pub(crate) fn register(info: WorkerRegistrationInfo, attestation: Attestation) -> RuntimeCall {
    RuntimeCall::Registry(Call::register_worker {
        info: Box::new(info),
        attestation,
    })
}

fn module_error(e: Error) -> Option<DispatchError> {
    Some(e.into())
}

#[test]
fn a_simulated_worker_registers_on_a_dev_chain_and_is_asked_to_benchmark() {
    let mut chain = dev_chain(true);
    let worker = pair("//Worker1");
    let bob = pair("//Bob");
    let i = info(&chain, &worker);
    let (_, outcomes) = chain.produce(vec![chain.sign(
        &bob,
        register(i.clone(), simulated(&i, DEV_MEASUREMENT)),
        0,
    )]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let w = worker_of(&chain, &worker);
    assert_eq!(w.tee, TeeKind::Simulated);
    assert_eq!(w.confidence_level, phala_attestation::SIMULATED_CONFIDENCE);
    assert_eq!(w.operator, Some(account("//Bob")));
    assert_eq!(w.registered_at, 1);
    assert_eq!(w.initial_score, None);
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::Registry(Event::WorkerRegistered {
                pubkey: worker.public(),
                tee: TeeKind::Simulated,
                confidence_level: 128,
                operator: Some(account("//Bob")),
            }))
    );
    // The chain asks the worker to benchmark, in this block's outbound messages.
    let out = message_queue::OUTBOUND_MESSAGES.get_or_default(&chain.ext());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].destination, phala_mq::topics::WORKER_EVENT);
    assert_eq!(
        out[0].payload,
        WorkerEventWithKey {
            pubkey: worker.public(),
            event: WorkerEvent::BenchStart { duration_secs: 6 },
        }
        .encode()
    );
    // The next block starts with none.
    chain.produce(vec![]);
    assert!(
        message_queue::OUTBOUND_MESSAGES
            .get_or_default(&chain.ext())
            .is_empty()
    );

    // Registering again refreshes the attestation, keeps the first block.
    let i2 = WorkerRegistrationInfo {
        ecdh_pubkey: [8; 32],
        ..i
    };
    let (_, outcomes) = chain.produce(vec![chain.sign(
        &bob,
        register(i2.clone(), simulated(&i2, DEV_MEASUREMENT)),
        1,
    )]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let w = worker_of(&chain, &worker);
    assert_eq!((w.registered_at, w.attested_at), (1, 3));
    assert_eq!(w.ecdh_pubkey, [8; 32]);
}

fn worker_of(chain: &TestChain, worker: &phala_keys::Sr25519Pair) -> WorkerInfo {
    WORKERS.get(&chain.ext(), &worker.public()).unwrap()
}

#[test]
fn simulated_workers_are_refused_without_the_genesis_switch() {
    let mut chain = dev_chain(false);
    let worker = pair("//Worker1");
    let i = info(&chain, &worker);
    chain.produce(vec![chain.sign(
        &pair("//Bob"),
        register(i.clone(), simulated(&i, DEV_MEASUREMENT)),
        0,
    )]);
    assert_eq!(
        chain.failure(1),
        module_error(Error::SimulatedTeeNotAllowed)
    );
    assert!(WORKERS.get(&chain.ext(), &worker.public()).is_none());
}

#[test]
fn bad_registrations_are_refused_with_their_reason() {
    let mut chain = dev_chain(true);
    let bob = pair("//Bob");
    let worker = pair("//Worker1");
    let i = info(&chain, &worker);
    // Measurement outside the allowlist.
    let other = simulated(&i, [9; 32]);
    // Report data for other info (the operator was swapped after quoting).
    let swapped = WorkerRegistrationInfo {
        operator: Some(account("//Mallory")),
        ..i.clone()
    };
    let mismatched = simulated(&i, DEV_MEASUREMENT);
    // Another chain's registration.
    let foreign = WorkerRegistrationInfo {
        genesis_hash: H256([1; 32]),
        ..i.clone()
    };
    let foreign_att = simulated(&foreign, DEV_MEASUREMENT);
    // Not a simulated quote at all.
    let garbage = Attestation::Simulated { quote: vec![0; 10] };
    chain.produce(vec![
        chain.sign(&bob, register(i.clone(), other), 0),
        chain.sign(&bob, register(swapped, mismatched), 1),
        chain.sign(&bob, register(foreign, foreign_att), 2),
        chain.sign(&bob, register(i, garbage), 3),
    ]);
    assert_eq!(chain.failure(1), module_error(Error::MeasurementNotAllowed));
    assert_eq!(chain.failure(2), module_error(Error::ReportDataMismatch));
    assert_eq!(chain.failure(3), module_error(Error::GenesisMismatch));
    assert_eq!(chain.failure(4), module_error(Error::MalformedQuote));
    assert!(WORKERS.get(&chain.ext(), &worker.public()).is_none());
}

#[test]
fn the_allowlist_is_changed_by_root_only() {
    let mut chain = dev_chain(true);
    let alice = pair("//Alice");
    let bob = pair("//Bob");
    let add = |m: Vec<u8>| RuntimeCall::Registry(Call::add_measurement { measurement: m });
    let sudo = |c: RuntimeCall| RuntimeCall::Sudo(sudo::Call::sudo { call: Box::new(c) });
    chain.produce(vec![
        chain.sign(&bob, add(vec![9; 32]), 0),
        chain.sign(&bob, sudo(add(vec![9; 32])), 1),
        chain.sign(&alice, sudo(add(vec![9; 32])), 0),
        chain.sign(&alice, sudo(add(vec![])), 1),
    ]);
    assert_eq!(chain.failure(1), Some(DispatchError::BadOrigin));
    assert_eq!(chain.failure(2), Some(sudo::Error::RequireSudo.into()));
    assert!(ALLOWED_MEASUREMENTS.contains(&chain.ext(), &vec![9; 32]));
    assert!(
        chain
            .events_of(4)
            .contains(&RuntimeEvent::Sudo(sudo::Event::Sudid {
                sudo_result: Err(Error::BadMeasurement.into())
            }))
    );

    // Now the worker with that measurement registers; removing it revokes that worker and
    // stops the next one.
    let worker = pair("//Worker9");
    let i = info(&chain, &worker);
    let remove = RuntimeCall::Registry(Call::remove_measurement {
        measurement: vec![9; 32],
    });
    chain.produce(vec![
        chain.sign(&bob, register(i.clone(), simulated(&i, [9; 32])), 2),
        chain.sign(&alice, sudo(remove), 2),
    ]);
    assert_eq!(chain.failure(1), None);
    // Refused at once; its registration goes at the next block's start.
    let registered = WORKERS.get(&chain.ext(), &worker.public()).unwrap();
    assert_eq!(
        usable(&chain.ext(), &registered),
        Err(Error::MeasurementNotAllowed)
    );
    chain.produce(vec![]);
    assert!(!WORKERS.contains(&chain.ext(), &worker.public()));
    let other = pair("//Worker10");
    let j = info(&chain, &other);
    chain.produce(vec![chain.sign(
        &bob,
        register(j.clone(), simulated(&j, [9; 32])),
        3,
    )]);
    assert_eq!(chain.failure(1), module_error(Error::MeasurementNotAllowed));
}

#[test]
fn genuine_quotes_verify_on_chain_but_must_bind_the_registration() {
    let dir = phala_attestation::fixtures_dir();
    let quote = std::fs::read(dir.join("sgx_quote")).unwrap();
    let collateral = phala_attestation::Collateral::from_json(
        &std::fs::read(dir.join("sgx_quote_collateral.json")).unwrap(),
    )
    .unwrap();
    let attestation = Attestation::Dcap {
        quote,
        collateral: Box::new(collateral),
    };
    let mut chain = dev_chain(false);
    let bob = pair("//Bob");
    let i = info(&chain, &pair("//Worker1"));
    // Inside the collateral's window the quote verifies, but its report data is
    // "Hello, world!", not this registration's hash.
    chain.now = 1_752_919_270_000;
    chain.produce(vec![chain.sign(
        &bob,
        register(i.clone(), attestation.clone()),
        0,
    )]);
    assert_eq!(chain.failure(1), module_error(Error::ReportDataMismatch));
    // Months later the collateral has expired.
    chain.now = 1_795_651_200_000;
    chain.produce(vec![chain.sign(&bob, register(i, attestation), 1)]);
    assert_eq!(chain.failure(1), module_error(Error::CollateralExpired));
}

/// The attack: anyone can resubmit a worker's old (info, quote), with fresh public
/// collateral, to extend its attestation without its TEE or to bring back an operator it
/// had before. A registration names a recent block the chain knows: once that is more than
/// 100 blocks old it is refused, and so is a block the chain never had.
#[test]
fn an_old_registration_cannot_be_replayed() {
    let mut chain = dev_chain(true);
    let bob = pair("//Bob");
    let worker = pair("//Worker1");
    let i = info(&chain, &worker);
    let quote = simulated(&i, DEV_MEASUREMENT);
    chain.produce(vec![chain.sign(
        &bob,
        register(i.clone(), quote.clone()),
        0,
    )]);
    assert_eq!(chain.failure(1), None);
    for _ in 0..calls::REGISTRATION_FRESHNESS {
        chain.produce(vec![]);
    }
    chain.produce(vec![chain.sign(&bob, register(i.clone(), quote), 1)]);
    assert_eq!(chain.failure(1), module_error(Error::StaleRegistration));
    // A block the chain does not have.
    let forged = WorkerRegistrationInfo {
        recent_block_hash: H256([7; 32]),
        ..info(&chain, &worker)
    };
    let forged_quote = simulated(&forged, DEV_MEASUREMENT);
    chain.produce(vec![chain.sign(&bob, register(forged, forged_quote), 2)]);
    assert_eq!(chain.failure(1), module_error(Error::StaleRegistration));
}
