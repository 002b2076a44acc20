//! The chain client without consensus: build, import, finalize, pool behaviour.

use std::collections::BTreeMap;
use std::sync::Arc;

use parity_scale_codec::{Compact, Encode};
use phala_attestation::Attestation;
use phala_attestation::simulated::{DEV_MEASUREMENT, SimulatedQuote};
use phala_chain::backend::ViewBackend;
use phala_chain::dev::local_testnet;
use phala_chain::{Chain, ChainType, PoolLimits, SubmitError, TxStatus};
use phala_keys::Sr25519Pair;
use phala_mq::topics::{WORKER_REPORT, WorkerReport};
use phala_mq::{Message, MessageOrigin, SignedMessage};
use phala_primitives::extrinsic::AdditionalSigned;
use phala_primitives::worker::WorkerRegistrationInfo;
use phala_primitives::{AccountId32, Era, MultiAddress, PHA, SignedExtra};
use phala_runtime::Ext;
use phala_runtime::modules::{balances, message_queue, registry};
use phala_runtime::validity::InvalidTransaction;
use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
use phala_runtime::{RuntimeCall, UncheckedExtrinsic};
use phala_state::StoreConfig;

fn open(dir: &tempfile::TempDir) -> Arc<Chain> {
    let spec = local_testnet("Test", "test", ChainType::Development, 1, 30333).unwrap();
    Chain::open(
        spec,
        StoreConfig::new(dir.path().join("chain.redb")),
        PoolLimits::default(),
    )
    .unwrap()
}

fn transfer(chain: &Chain, from: &str, nonce: u32, value: u128) -> Vec<u8> {
    let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
    transfer_to(
        chain,
        &Sr25519Pair::from_uri(from).unwrap(),
        nonce,
        bob,
        value,
    )
}

fn transfer_to(
    chain: &Chain,
    signer: &Sr25519Pair,
    nonce: u32,
    dest: AccountId32,
    value: u128,
) -> Vec<u8> {
    let call = RuntimeCall::Balances(balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(dest),
        value,
    });
    signed(chain, signer, nonce, call)
}

/// An immortal, tipless signed extrinsic.
fn signed(chain: &Chain, signer: &Sr25519Pair, nonce: u32, call: RuntimeCall) -> Vec<u8> {
    let extra = SignedExtra {
        era: Era::Immortal,
        nonce,
        tip: 0,
    };
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: chain.genesis_hash(),
        birth_hash: chain.genesis_hash(),
    };
    UncheckedExtrinsic::new_signed_sr25519(call, signer.account_id(), extra, &additional, |m| {
        signer.sign(m)
    })
    .encode()
}

/// Registers `worker` as a simulated TEE (the dev chain allows them), paid by `operator`.
fn register_worker(
    chain: &Chain,
    operator: &Sr25519Pair,
    nonce: u32,
    worker: &Sr25519Pair,
) -> Vec<u8> {
    let info = WorkerRegistrationInfo {
        version: phala_primitives::worker::version(0, 1, 0),
        machine_id: b"flood-test".to_vec(),
        pubkey: worker.public(),
        ecdh_pubkey: [7; 32],
        genesis_hash: chain.genesis_hash(),
        features: vec![2],
        operator: Some(operator.account_id()),
        recent_block: chain.finalized().unwrap().0,
        recent_block_hash: chain.finalized().unwrap().1,
    };
    let attestation = Attestation::Simulated {
        quote: SimulatedQuote {
            measurement: DEV_MEASUREMENT,
            report_data: info.report_data(),
        }
        .encode(),
    };
    let call = RuntimeCall::Registry(registry::Call::register_worker {
        info: Box::new(info),
        attestation,
    });
    signed(chain, operator, nonce, call)
}

/// `worker`'s benchmark score with `sequence`, as its relayer submits it.
fn worker_report(chain: &Chain, worker: &Sr25519Pair, sequence: u64) -> RuntimeCall {
    score_report(chain, worker, sequence, 3_000)
}

fn score_report(chain: &Chain, worker: &Sr25519Pair, sequence: u64, score: u32) -> RuntimeCall {
    let message = Message::new(
        MessageOrigin::Worker(worker.public()),
        WORKER_REPORT,
        WorkerReport::BenchScore(score).encode(),
    );
    let signed_message =
        SignedMessage::sign(&chain.genesis_hash(), message, sequence, |p| worker.sign(p));
    RuntimeCall::MessageQueue(message_queue::Call::sync_offchain_message { signed_message })
}

fn finalize_next(chain: &Chain, now: u64) -> phala_primitives::Block {
    let (_, head) = chain.finalized().unwrap();
    let pending = chain.build_block(&head, now).unwrap();
    chain.finalize_block(&pending.block, b"cert").unwrap();
    pending.block.clone()
}

#[tokio::test]
async fn pool_build_finalize_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let alice = Sr25519Pair::from_uri("//Alice").unwrap().account_id();
    let mut finalized = chain.subscribe_finalized();

    // Nonce 1 waits for nonce 0.
    let (_, mut watch1) = chain
        .submit_and_watch(transfer(&chain, "//Alice", 1, PHA))
        .unwrap();
    assert_eq!(watch1.recv().await, Some(TxStatus::Future));
    let first = transfer(&chain, "//Alice", 0, PHA);
    let (h0, mut watch0) = chain.submit_and_watch(first.clone()).unwrap();
    assert_eq!(watch0.recv().await, Some(TxStatus::Ready));
    assert_eq!(chain.account_next_index(&alice).unwrap(), 2);
    assert_eq!(chain.submit(first), Err(SubmitError::AlreadyImported(h0)));
    // Same nonce, new signature, no higher tip: refused as a low-priority replacement.
    assert_eq!(
        chain.submit(transfer(&chain, "//Alice", 0, PHA)),
        Err(SubmitError::PriorityTooLow { old: 1, new: 1 })
    );

    let block = finalize_next(&chain, 10_000);
    assert_eq!(block.extrinsics.len(), 3);
    assert_eq!(watch0.recv().await, Some(TxStatus::InBlock(block.hash())));
    assert_eq!(watch0.recv().await, Some(TxStatus::Finalized(block.hash())));
    assert_eq!(chain.pool_len(), 0);
    let event = finalized.recv().await.unwrap();
    assert_eq!(event.hash, block.hash());

    // Stale nonce and garbage are refused with the right errors.
    assert_eq!(
        chain.submit(transfer(&chain, "//Alice", 0, PHA)),
        Err(SubmitError::Invalid(InvalidTransaction::Stale))
    );
    assert!(matches!(
        chain.submit(vec![1, 2, 3]),
        Err(SubmitError::Format(_))
    ));
    let mut bad = transfer(&chain, "//Alice", 2, PHA);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(
        chain.submit(bad),
        Err(SubmitError::Invalid(InvalidTransaction::BadProof))
    ));
    // An oversized length prefix is a format error.
    let mut huge = Compact(10_000_000u32).encode();
    huge.extend([0u8; 10]);
    assert!(matches!(chain.submit(huge), Err(SubmitError::Format(_))));
}

#[test]
fn another_node_imports_and_reopen_keeps_state() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(&dir_a);
    let b = open(&dir_b);
    assert_eq!(a.genesis_hash(), b.genesis_hash());
    a.submit(transfer(&a, "//Alice", 0, 5 * PHA)).unwrap();
    let (_, head) = a.finalized().unwrap();
    let proposal = a.build_block(&head, 5_000).unwrap();
    // B re-executes A's proposal and agrees on the state root.
    let imported = b.import_block(&proposal.block, Some(5_000)).unwrap();
    assert_eq!(imported.hash, proposal.hash);
    // A tampered block is refused.
    let mut tampered = proposal.block.clone();
    tampered.header.state_root = phala_primitives::H256([9; 32]);
    assert!(b.import_block(&tampered, Some(5_000)).is_err());
    // Timestamps far in the future are refused.
    let future = a.build_block(&head, 10_000_000).unwrap();
    assert!(b.import_block(&future.block, Some(5_000)).is_err());

    b.finalize_block(&proposal.block, b"cert").unwrap();
    a.finalize_block(&proposal.block, b"cert").unwrap();
    // Redelivery is a no-op.
    a.finalize_block(&proposal.block, b"cert").unwrap();
    let root = a.finalized_header().unwrap().state_root;
    drop(a);
    let a = open(&dir_a);
    assert_eq!(a.finalized_header().unwrap().state_root, root);
    assert_eq!(a.finalized().unwrap().0, 1);
    finalize_next(&a, 6_000);
    assert_eq!(a.finalized().unwrap().0, 2);
}

/// Accounts and future nonces per account of the flood: as many as the pool used to take
/// (16,384 slots, 256 per sender, nonces up to 255 ahead).
const FLOOD_ACCOUNTS: usize = 65;
const FLOOD_NONCES: u32 = 255;

/// The attack: many funded accounts each pool every future nonce they may, which can never
/// become ready (nonce 0 is withheld) and never expire (immortal). Users and workers must
/// still get their transactions in and finalized.
#[tokio::test]
async fn a_future_nonce_flood_leaves_room_for_users_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let bob = Sr25519Pair::from_uri("//Bob").unwrap().account_id();
    let funders: Vec<Sr25519Pair> = ["//Alice", "//Bob", "//Charlie", "//Dave"]
        .iter()
        .map(|uri| Sr25519Pair::from_uri(uri).unwrap())
        .collect();
    let attackers: Vec<Sr25519Pair> = (0..FLOOD_ACCOUNTS)
        .map(|i| Sr25519Pair::from_uri(&format!("//Attacker{i}")).unwrap())
        .collect();
    for (i, attacker) in attackers.iter().enumerate() {
        let funder = &funders[i % funders.len()];
        let nonce = u32::try_from(i / funders.len()).unwrap();
        let xt = transfer_to(&chain, funder, nonce, attacker.account_id(), 1_000 * PHA);
        chain.submit(xt).unwrap();
    }
    let operator = Sr25519Pair::from_uri("//Ferdie").unwrap();
    let worker = Sr25519Pair::from_uri("//FloodTestWorker").unwrap();
    chain
        .submit(register_worker(&chain, &operator, 0, &worker))
        .unwrap();
    let mut now = 10_000;
    let block = finalize_next(&chain, now);
    assert_eq!(block.extrinsics.len(), FLOOD_ACCOUNTS + 2);
    assert_eq!(chain.pool_len(), 0);

    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for attacker in &attackers {
        for nonce in 1..=FLOOD_NONCES {
            let xt = transfer_to(&chain, attacker, nonce, bob, PHA);
            if let Err(e) = chain.submit(xt) {
                *refused.entry(e.to_string()).or_default() += 1;
            }
        }
    }
    let flood_pooled = chain.pool_len();
    eprintln!("flood: {flood_pooled} pooled, refused: {refused:?}");
    // Each attacker pools only its future allowance; the rest is refused with a reason.
    let limits = PoolLimits::default();
    assert_eq!(flood_pooled, FLOOD_ACCOUNTS * limits.max_future_per_sender);
    let too_many = SubmitError::TooManyFuture {
        limit: limits.max_future_per_sender,
    };
    assert_eq!(
        refused.get(&too_many.to_string()).copied().unwrap_or(0)
            + refused
                .get(&SubmitError::Invalid(InvalidTransaction::Future).to_string())
                .copied()
                .unwrap_or(0),
        FLOOD_ACCOUNTS * usize::try_from(FLOOD_NONCES).unwrap() - flood_pooled
    );

    let (_, mut user) = chain
        .submit_and_watch(transfer(&chain, "//Eve", 0, PHA))
        .expect("a user's transfer is accepted during the flood");
    let (_, mut message) = chain
        .submit_and_watch(signed(
            &chain,
            &operator,
            1,
            worker_report(&chain, &worker, 0),
        ))
        .expect("a worker's message is accepted during the flood");
    assert_eq!(user.recv().await, Some(TxStatus::Ready));
    assert_eq!(message.recv().await, Some(TxStatus::Ready));
    // The operational room is no flood target: the same message cannot be wrapped again,
    // and a made-up one does not validate.
    let rewrapped = signed(&chain, &attackers[0], 0, worker_report(&chain, &worker, 0));
    assert_eq!(
        chain.submit(rewrapped),
        Err(SubmitError::PriorityTooLow {
            old: phala_runtime::executive::OPERATIONAL_PRIORITY,
            new: phala_runtime::executive::OPERATIONAL_PRIORITY,
        })
    );
    let forged = signed(
        &chain,
        &attackers[1],
        0,
        worker_report(&chain, &attackers[1], 0),
    );
    assert_eq!(
        chain.submit(forged),
        Err(SubmitError::Invalid(InvalidTransaction::BadSigner))
    );
    let ahead = signed(&chain, &attackers[2], 0, worker_report(&chain, &worker, 1));
    assert_eq!(
        chain.submit(ahead),
        Err(SubmitError::Invalid(InvalidTransaction::Future))
    );
    let mut finalized = 0;
    for _ in 0..3 {
        now += 1_000;
        let block = finalize_next(&chain, now);
        for watch in [&mut user, &mut message] {
            while let Ok(status) = watch.try_recv() {
                if status == TxStatus::Finalized(block.hash()) {
                    finalized += 1;
                }
            }
        }
        if finalized == 2 {
            break;
        }
    }
    assert_eq!(finalized, 2, "both were finalized within three blocks");
    let view = chain.view(None).unwrap();
    let sender = MessageOrigin::Worker(worker.public());
    assert_eq!(
        message_queue::next_sequence(&Ext::new(&ViewBackend(&view)), &sender),
        1
    );
}

/// The attack: a relay of a worker message, pooled on one node, goes stale when another
/// copy is delivered through another node (or the worker's attestation expires): its
/// relayer's account never changes, so it used to stay pooled, holding its tag (the
/// worker's next message is refused as a duplicate) and making its relayer's later nonces
/// look ready, all without paying anything. Now it leaves after the next finalized block.
#[test]
fn a_stale_worker_message_leaves_the_pool_with_its_relayers_later_nonces() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(&dir_a);
    let b = open(&dir_b);
    let worker = Sr25519Pair::from_uri("//FloodWorker").unwrap();
    let alice = Sr25519Pair::from_uri("//Alice").unwrap();
    let bob = Sr25519Pair::from_uri("//Bob").unwrap();
    let charlie = Sr25519Pair::from_uri("//Charlie").unwrap();
    // Both nodes see the worker registered.
    a.submit(register_worker(&a, &alice, 0, &worker)).unwrap();
    let (_, head) = a.finalized().unwrap();
    let block = a.build_block(&head, 5_000).unwrap().block.clone();
    a.finalize_block(&block, b"cert").unwrap();
    b.finalize_block(&block, b"cert").unwrap();

    // Charlie relays the worker's message to B (and queues more behind it); Bob relays the
    // same message to A, which finalizes it.
    let stale = signed(&b, &charlie, 0, worker_report(&b, &worker, 0));
    let stale_hash = b.submit(stale).unwrap();
    let later = b.submit(transfer(&b, "//Charlie", 1, PHA)).unwrap();
    a.submit(signed(&a, &bob, 0, worker_report(&a, &worker, 0)))
        .unwrap();
    let (_, head) = a.finalized().unwrap();
    let block = a.build_block(&head, 6_000).unwrap().block.clone();
    a.finalize_block(&block, b"cert").unwrap();
    b.finalize_block(&block, b"cert").unwrap();

    // On B, Charlie's copy is stale: it and what queued behind it are gone, and the
    // worker's next message is taken.
    assert!(!b.pool_contains(&stale_hash));
    assert!(!b.pool_contains(&later));
    b.submit(signed(&b, &bob, 1, worker_report(&b, &worker, 1)))
        .unwrap();
}

/// The attack: a worker's operator rolls its sealed state back (or runs a copy), and the
/// worker signs a different message with a sequence the chain already consumed. The pool
/// refuses it as stale, as before; now the node also proves the double signing with the
/// delivered message and pools the fee-free report, which the next block applies.
#[test]
fn a_node_that_refuses_a_double_signed_message_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(&dir);
    let worker = Sr25519Pair::from_uri("//RolledBack").unwrap();
    let alice = Sr25519Pair::from_uri("//Alice").unwrap();
    let bob = Sr25519Pair::from_uri("//Bob").unwrap();
    chain
        .submit(register_worker(&chain, &alice, 0, &worker))
        .unwrap();
    finalize_next(&chain, 5_000);
    chain
        .submit(signed(&chain, &bob, 0, worker_report(&chain, &worker, 0)))
        .unwrap();
    finalize_next(&chain, 6_000);

    // The same message again is merely stale; a different one is evidence.
    let again = chain.submit(signed(&chain, &bob, 1, worker_report(&chain, &worker, 0)));
    assert!(matches!(
        again,
        Err(SubmitError::Invalid(InvalidTransaction::Stale))
    ));
    assert_eq!(chain.pool_len(), 0);
    let rolled_back = chain.submit(signed(&chain, &bob, 1, score_report(&chain, &worker, 0, 9)));
    assert!(matches!(
        rolled_back,
        Err(SubmitError::Invalid(InvalidTransaction::Stale))
    ));
    assert_eq!(chain.pool_len(), 1, "the report is pooled");
    finalize_next(&chain, 7_000);
    let view = chain.view(None).unwrap();
    let backend = ViewBackend(&view);
    let ext = Ext::new(&backend);
    assert!(phala_runtime::modules::computation::DOUBLE_SIGNERS.contains(&ext, &worker.public()));
    assert_eq!(chain.pool_len(), 0);
}
