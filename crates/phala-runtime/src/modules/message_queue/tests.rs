use parity_scale_codec::Encode;
use phala_attestation::simulated::DEV_MEASUREMENT;
use phala_keys::Sr25519Pair;
use phala_mq::topics::{WORKER_REPORT, WorkerReport};
use phala_mq::{Message, MessageOrigin, SignedMessage};

use super::*;
use crate::RuntimeEvent;
use crate::api::validate_transaction;
use crate::modules::registry::tests::{dev_chain, info, register, simulated};
use crate::modules::registry::{self, WORKERS};
use crate::testing::{TestChain, pair};
use crate::validity::{InvalidTransaction, TransactionValidityError};

fn registered() -> (TestChain, Sr25519Pair) {
    let mut chain = dev_chain(true);
    let worker = pair("//Worker1");
    let i = info(&chain, &worker);
    let (_, outcomes) = chain.produce(vec![chain.sign(
        &pair("//Bob"),
        register(i.clone(), simulated(&i, DEV_MEASUREMENT)),
        0,
    )]);
    assert_eq!(outcomes, vec![Ok(true)]);
    (chain, worker)
}

fn report(
    chain: &TestChain,
    signer: &Sr25519Pair,
    sender: MessageOrigin,
    sequence: u64,
    score: u32,
) -> SignedMessage {
    let message = Message::new(
        sender,
        WORKER_REPORT,
        WorkerReport::BenchScore(score).encode(),
    );
    SignedMessage::sign(&chain.ctx.genesis_hash, message, sequence, |p| {
        signer.sign(p)
    })
}

fn sync(m: SignedMessage) -> crate::RuntimeCall {
    crate::RuntimeCall::MessageQueue(Call::sync_offchain_message { signed_message: m })
}

fn pool(chain: &TestChain, m: SignedMessage, nonce: u32) -> Result<(), TransactionValidityError> {
    let xt = chain.sign(&pair("//Bob"), sync(m), nonce);
    let decoded = crate::executive::decode_extrinsic(xt.as_bytes()).unwrap();
    validate_transaction(
        &chain.state,
        &chain.ctx,
        decoded,
        xt.as_bytes().len(),
        chain.head,
    )
    .unwrap()
    .map(|_| ())
}

fn err(e: Error) -> Option<crate::dispatch::DispatchError> {
    Some(e.into())
}

#[test]
fn a_benchmark_score_arrives_once_in_order() {
    let (mut chain, worker) = registered();
    let me = MessageOrigin::Worker(worker.public());
    let first = report(&chain, &worker, me.clone(), 0, 10_000);
    assert_eq!(pool(&chain, first.clone(), 1), Ok(()));
    chain.produce(vec![chain.sign(&pair("//Bob"), sync(first.clone()), 1)]);
    assert_eq!(chain.failure(1), None);
    // Capped at 6000.
    let w = WORKERS.get(&chain.ext(), &worker.public()).unwrap();
    assert_eq!(w.initial_score, Some(6000));
    assert_eq!(next_sequence(&chain.ext(), &me), 1);
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::MessageQueue(Event::Dispatched {
                sender: me.clone(),
                sequence: 0
            }))
    );

    // Replayed: refused by the pool and by dispatch.
    assert_eq!(
        pool(&chain, first.clone(), 2),
        Err(InvalidTransaction::Stale.into())
    );
    chain.produce(vec![chain.sign(&pair("//Bob"), sync(first), 2)]);
    assert_eq!(chain.failure(1), err(Error::StaleSequence));

    // From the future: refused too.
    let future = report(&chain, &worker, me.clone(), 5, 1);
    assert_eq!(
        pool(&chain, future.clone(), 3),
        Err(InvalidTransaction::Future.into())
    );
    chain.produce(vec![chain.sign(&pair("//Bob"), sync(future), 3)]);
    assert_eq!(chain.failure(1), err(Error::FutureSequence));

    // The next one is accepted even though its handler refuses it (the score is already
    // recorded): its sequence is used, so later messages are not stuck behind it.
    let second = report(&chain, &worker, me.clone(), 1, 5);
    chain.produce(vec![chain.sign(&pair("//Bob"), sync(second), 4)]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(next_sequence(&chain.ext(), &me), 2);
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::MessageQueue(Event::DispatchFailed {
                sender: me,
                sequence: 1,
                error: registry::Error::ScoreAlreadyReported.into(),
            }))
    );
}

#[test]
fn forged_messages_are_refused() {
    let (mut chain, worker) = registered();
    let mallory = pair("//Mallory");
    let me = MessageOrigin::Worker(worker.public());
    // Signed by someone else in the worker's name.
    let forged = report(&chain, &mallory, me.clone(), 0, 1);
    assert_eq!(
        pool(&chain, forged.clone(), 1),
        Err(InvalidTransaction::BadProof.into())
    );
    // A tampered signature.
    let mut tampered = report(&chain, &worker, me.clone(), 0, 1);
    tampered.signature[0] ^= 1;
    // Signed for another chain.
    let message = Message::new(
        me.clone(),
        WORKER_REPORT,
        WorkerReport::BenchScore(1).encode(),
    );
    let other_chain = SignedMessage::sign(&phala_primitives::H256([9; 32]), message, 0, |p| {
        worker.sign(p)
    });
    // An on-chain origin cannot be claimed from outside.
    let pallet = report(&chain, &worker, MessageOrigin::pallet("Registry"), 0, 1);
    // An unregistered worker.
    let stranger = report(
        &chain,
        &mallory,
        MessageOrigin::Worker(mallory.public()),
        0,
        1,
    );
    assert_eq!(
        pool(&chain, stranger.clone(), 1),
        Err(InvalidTransaction::BadSigner.into())
    );
    let bob = pair("//Bob");
    chain.produce(vec![
        chain.sign(&bob, sync(forged), 1),
        chain.sign(&bob, sync(tampered), 2),
        chain.sign(&bob, sync(other_chain), 3),
        chain.sign(&bob, sync(pallet), 4),
        chain.sign(&bob, sync(stranger), 5),
    ]);
    assert_eq!(chain.failure(1), err(Error::BadSignature));
    assert_eq!(chain.failure(2), err(Error::BadSignature));
    assert_eq!(chain.failure(3), err(Error::BadSignature));
    assert_eq!(chain.failure(4), err(Error::BadSender));
    assert_eq!(chain.failure(5), err(Error::UnknownSender));
    assert_eq!(next_sequence(&chain.ext(), &me), 0);
    assert_eq!(
        WORKERS
            .get(&chain.ext(), &worker.public())
            .unwrap()
            .initial_score,
        None
    );
}

/// Worker messages are operational: they outrank every normal transaction in the pool and
/// still fit a block whose normal share is full.
#[test]
fn worker_messages_use_the_operational_room() {
    use crate::block::Skipped;
    use crate::dispatch::DispatchClass;
    use crate::executive::{OPERATIONAL_PRIORITY, decode_extrinsic, priority};
    use phala_attestation::Attestation;

    let (mut chain, worker) = registered();
    let me = MessageOrigin::Worker(worker.public());
    let message = chain.sign(&pair("//Bob"), sync(report(&chain, &worker, me, 0, 10)), 1);
    let decoded = decode_extrinsic(message.as_bytes()).unwrap();
    let pooled = crate::api::validate_for_pool(
        &chain.state,
        &chain.ctx,
        decoded,
        message.as_bytes().len(),
        chain.head,
    )
    .unwrap()
    .unwrap();
    assert_eq!(pooled.class, DispatchClass::Operational);
    assert!(pooled.valid.priority >= OPERATIONAL_PRIORITY);
    assert!(priority(DispatchClass::Normal, u128::MAX) < OPERATIONAL_PRIORITY);
    assert!(pooled.fee > 0);
    let signer = pooled.signer.unwrap();
    assert_eq!(signer.who, pair("//Bob").account_id());
    assert_eq!(signer.nonce, 1);
    assert!(signer.spendable > 0 && signer.spendable < chain.free(&signer.who));

    // Registrations with a DCAP quote are charged 10 ms each: 36 fill the normal share.
    let i = info(&chain, &pair("//Worker2"));
    let heavy = register(
        i,
        Attestation::Dcap {
            quote: Vec::new(),
            collateral: Box::default(),
        },
    );
    let mut txs: Vec<_> = (0..37)
        .map(|nonce| chain.sign(&pair("//Alice"), heavy.clone(), nonce))
        .collect();
    txs.push(message);
    let (built, outcomes) = chain.produce(txs);
    assert_eq!(outcomes[35], Ok(false));
    assert_eq!(outcomes[36], Err(Skipped::Full));
    assert_eq!(outcomes[37], Ok(true));
    assert_eq!(built.extrinsics.len(), 38);
    let weight = crate::modules::system::BLOCK_WEIGHT
        .get_or_default(&chain.ext())
        .operational;
    assert!(weight.ref_time > 0);
    assert_eq!(
        next_sequence(&chain.ext(), &MessageOrigin::Worker(worker.public())),
        1
    );
}

fn sync_batch(batch: Vec<SignedMessage>) -> crate::RuntimeCall {
    crate::RuntimeCall::MessageQueue(Call::sync_offchain_messages {
        signed_messages: batch,
    })
}

#[test]
fn a_batch_delivers_consecutive_messages_of_one_sender_in_one_transaction() {
    let (mut chain, worker) = registered();
    let me = MessageOrigin::Worker(worker.public());
    let batch: Vec<_> = (0..3)
        .map(|seq| report(&chain, &worker, me.clone(), seq, 100))
        .collect();
    // A gap, another sender, or nothing at all is not a batch.
    let mut gap = batch.clone();
    gap.remove(1);
    let other = pair("//Worker2");
    let mut mixed = batch.clone();
    mixed[2] = report(&chain, &other, me.clone(), 2, 100);
    let bob = |chain: &TestChain, call, nonce| {
        let xt = chain.sign(&pair("//Bob"), call, nonce);
        let decoded = crate::executive::decode_extrinsic(xt.as_bytes()).unwrap();
        validate_transaction(
            &chain.state,
            &chain.ctx,
            decoded,
            xt.as_bytes().len(),
            chain.head,
        )
        .unwrap()
        .map(|_| ())
    };
    assert_eq!(
        bob(&chain, sync_batch(gap), 1),
        Err(InvalidTransaction::Call.into())
    );
    assert_eq!(
        bob(&chain, sync_batch(mixed), 1),
        Err(InvalidTransaction::BadProof.into())
    );
    assert_eq!(
        bob(&chain, sync_batch(vec![]), 1),
        Err(InvalidTransaction::Call.into())
    );
    let too_many: Vec<_> = (0..MAX_BATCH as u64 + 1)
        .map(|seq| report(&chain, &worker, me.clone(), seq, 1))
        .collect();
    assert_eq!(
        bob(&chain, sync_batch(too_many), 1),
        Err(InvalidTransaction::Call.into())
    );

    assert_eq!(bob(&chain, sync_batch(batch.clone()), 1), Ok(()));
    chain.produce(vec![chain.sign(
        &pair("//Bob"),
        sync_batch(batch.clone()),
        1,
    )]);
    assert_eq!(chain.failure(1), None);
    // All three used their sequences (the second and third score reports were refused
    // by their handler, as single messages would be).
    assert_eq!(next_sequence(&chain.ext(), &me), 3);
    let dispatched = chain
        .events_of(1)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RuntimeEvent::MessageQueue(Event::Dispatched { .. } | Event::DispatchFailed { .. })
            )
        })
        .count();
    assert_eq!(dispatched, 3);
    // Replayed: stale.
    assert_eq!(
        bob(&chain, sync_batch(batch), 2),
        Err(InvalidTransaction::Stale.into())
    );
}

/// The attack: a block full of contract commands fills the outbound queue, and the chain's
/// own messages (a heartbeat passed on to gatekeepers, a session starting) fail with it,
/// so honest workers look offline. Bulk messages stop short of the reserved room.
#[test]
fn bulk_messages_leave_room_for_the_chains_own() {
    let chain = dev_chain(true);
    let mut ext = crate::Ext::new(&chain.state);
    let mut sent = 0usize;
    while push_bulk(&mut ext, "Contracts", b"bulk", &vec![0u8; 16]).is_ok() {
        sent += 1;
        assert!(sent <= MAX_OUTBOUND_PER_BLOCK, "bulk never stopped");
    }
    assert_eq!(sent, MAX_OUTBOUND_PER_BLOCK - RESERVED_OUTBOUND);
    for _ in 0..RESERVED_OUTBOUND {
        push(&mut ext, "Computation", b"own", &vec![0u8; 16]).unwrap();
    }
    assert!(push(&mut ext, "Computation", b"own", &vec![0u8; 16]).is_err());
    // Bytes too: one large bulk message cannot take the reserved bytes either.
    let mut ext = crate::Ext::new(&chain.state);
    let big = vec![0u8; phala_mq::MAX_PAYLOAD_LEN - 64];
    while push_bulk(&mut ext, "Contracts", b"bulk", &big).is_ok() {}
    let queued: usize = OUTBOUND_MESSAGES
        .get_or_default(&ext)
        .iter()
        .map(|m| m.payload.len())
        .sum();
    assert!(queued <= MAX_OUTBOUND_BYTES_PER_BLOCK - RESERVED_OUTBOUND_BYTES);
    push(&mut ext, "Computation", b"own", &vec![0u8; 1024]).unwrap();
}
