use parity_scale_codec::{Decode, Encode};
use phala_primitives::hashing::{blake2_256, twox_128};
use phala_primitives::{H256, PHA};
use proptest::prelude::*;

use super::*;
use crate::modules::system;
use crate::testing::{TestChain, account, pair};
use crate::{GenesisConfig, RuntimeCall, RuntimeEvent};

fn note_call(bytes: &[u8]) -> RuntimeCall {
    RuntimeCall::Preimage(Call::note_preimage {
        bytes: bytes.to_vec(),
    })
}

fn reserved(chain: &TestChain, who: &str) -> Balance {
    chain.info(&account(who)).data.reserved
}

#[test]
fn a_signed_note_holds_a_deposit_until_its_owner_unnotes_it() {
    let mut chain = TestChain::new();
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));
    let bytes = b"a proposal long enough to matter".to_vec();
    let hash = H256(blake2_256(&bytes));
    let len = bytes.len() as u32;

    chain.produce(vec![chain.sign(&alice, note_call(&bytes), 0)]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(
        reserved(&chain, "//Alice"),
        deposit_for(crate::version::SPEC_VERSION, len)
    );
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::Preimage(Event::Noted { hash }))
    );
    assert_eq!(
        PREIMAGE_FOR
            .get(&chain.ext(), &(hash, len))
            .unwrap()
            .to_vec(),
        bytes
    );
    assert_eq!(super::len(&chain.ext(), &hash), Some(len));

    // A second signed note of the same bytes, and someone else's unnote, are refused.
    let unnote = RuntimeCall::Preimage(Call::unnote_preimage { hash });
    chain.produce(vec![
        chain.sign(&bob, note_call(&bytes), 0),
        chain.sign(&bob, unnote.clone(), 1),
    ]);
    assert_eq!(chain.failure(1), Some(Error::AlreadyNoted.into()));
    assert_eq!(chain.failure(2), Some(Error::NotAuthorized.into()));

    chain.produce(vec![chain.sign(&alice, unnote, 1)]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(reserved(&chain, "//Alice"), 0);
    assert!(
        chain
            .events_of(1)
            .contains(&RuntimeEvent::Preimage(Event::Cleared { hash }))
    );
    assert!(PREIMAGE_FOR.get(&chain.ext(), &(hash, len)).is_none());
    assert!(REQUEST_STATUS_FOR.get(&chain.ext(), &hash).is_none());
}

#[test]
fn requested_bytes_are_noted_for_free_and_kept_until_the_last_unrequest() {
    let mut chain = TestChain::new();
    let alice = pair("//Alice");
    let bytes = vec![7u8; 300];
    let hash = H256(blake2_256(&bytes));
    chain.mutate(|ext| {
        request(ext, hash);
        request(ext, hash);
    });
    chain.produce(vec![chain.sign(&alice, note_call(&bytes), 0)]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(
        reserved(&chain, "//Alice"),
        0,
        "a requested preimage is free"
    );
    chain.mutate(|ext| unrequest(ext, hash).unwrap());
    assert!(PREIMAGE_FOR.contains(&chain.ext(), &(hash, 300)));
    chain.mutate(|ext| unrequest(ext, hash).unwrap());
    assert!(!PREIMAGE_FOR.contains(&chain.ext(), &(hash, 300)));
    assert_eq!(
        chain.mutate(|ext| unrequest(ext, hash)),
        Err(Error::NotRequested.into())
    );
}

#[test]
fn a_deposit_outlives_a_request_and_returns_when_both_are_gone() {
    let mut chain = TestChain::new();
    let bytes = vec![1u8; 10];
    let hash = H256(blake2_256(&bytes));
    let alice = account("//Alice");
    chain.mutate(|ext| {
        note(ext, bytes.clone(), Some(alice)).unwrap();
        request(ext, hash);
        // The owner takes the deposit back; the request keeps the bytes.
        unnote(ext, hash, Some(alice)).unwrap();
    });
    assert_eq!(reserved(&chain, "//Alice"), 0);
    assert!(PREIMAGE_FOR.contains(&chain.ext(), &(hash, 10)));
    chain.mutate(|ext| unrequest(ext, hash).unwrap());
    assert!(!PREIMAGE_FOR.contains(&chain.ext(), &(hash, 10)));
}

#[test]
fn root_notes_are_free_and_count_as_requests() {
    let mut chain = TestChain::new();
    let call = RuntimeCall::System(system::Call::remark {
        remark: vec![9; 200],
    });
    let bounded = chain.mutate(|ext| bound(ext, &call).unwrap().0);
    let Bounded::Lookup { hash, len } = bounded.clone() else {
        panic!("a 200-byte call is not inline");
    };
    assert_eq!(chain.mutate(|ext| realize(ext, &bounded)), Ok(call.clone()));
    assert_eq!(
        REQUEST_STATUS_FOR.get(&chain.ext(), &hash),
        Some(RequestStatus::Requested {
            maybe_ticket: None,
            count: 1,
            maybe_len: Some(len)
        })
    );
    chain.mutate(|ext| drop_bounded(ext, &bounded));
    assert_eq!(
        chain.mutate(|ext| realize(ext, &bounded)),
        Err(Unavailable::Missing)
    );
    // Short calls stay inline and touch no storage.
    let short = RuntimeCall::System(system::Call::remark { remark: vec![1] });
    assert!(matches!(Bounded::inline(&short), Some(Bounded::Inline(_))));
}

#[test]
fn notes_above_the_limit_and_without_the_deposit_are_refused() {
    let mut chain = TestChain::with_genesis(GenesisConfig {
        endowed: vec![(account("//Alice"), 2 * PHA)],
        ..Default::default()
    });
    let alice = account("//Alice");
    let huge = vec![0u8; MAX_SIZE as usize + 1];
    assert_eq!(
        chain.mutate(|ext| note(ext, huge, None)),
        Err(Error::TooBig.into())
    );
    // 2 PHA cannot hold the deposit of 2,000 bytes (3 PHA).
    assert!(
        chain
            .mutate(|ext| note(ext, vec![5; 2_000], Some(alice)))
            .is_err()
    );
    assert_eq!(reserved(&chain, "//Alice"), 0);
}

#[test]
fn storage_keys_and_shapes_are_substrates() {
    let hash = H256([3; 32]);
    let mut want = twox_128(b"Preimage").to_vec();
    want.extend(twox_128(b"PreimageFor"));
    want.extend(hash.0);
    want.extend(33u32.to_le_bytes());
    assert_eq!(PREIMAGE_FOR.key(&(hash, 33)), want);

    // Inline calls are at most 128 bytes: a longer one does not decode.
    let mut long = vec![1u8];
    long.extend(vec![0u8; 129].encode());
    assert!(Bounded::decode(&mut long.as_slice()).is_err());
    let lookup = Bounded::Lookup { hash, len: 33 }.encode();
    assert_eq!(lookup.first(), Some(&2));
    use scale_info::TypeInfo;
    assert_eq!(
        Bounded::type_info().path.segments,
        vec!["frame_support", "traits", "preimages", "Bounded"]
    );
}

#[test]
fn ensure_updated_checks_its_bounds() {
    let mut chain = TestChain::new();
    let alice = pair("//Alice");
    chain.produce(vec![
        chain.sign(
            &alice,
            RuntimeCall::Preimage(Call::ensure_updated { hashes: vec![] }),
            0,
        ),
        chain.sign(
            &alice,
            RuntimeCall::Preimage(Call::ensure_updated {
                hashes: vec![H256::default(); MAX_HASH_UPGRADE + 1],
            }),
            1,
        ),
    ]);
    assert_eq!(chain.failure(1), Some(Error::TooFew.into()));
    assert_eq!(chain.failure(2), Some(Error::TooMany.into()));
}

#[derive(Clone, Debug)]
enum Op {
    Note(u8, Option<u8>),
    Unnote(u8, Option<u8>),
    Request(u8),
    Unrequest(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, proptest::option::of(0u8..3)).prop_map(|(b, w)| Op::Note(b, w)),
        (0u8..4, proptest::option::of(0u8..3)).prop_map(|(b, w)| Op::Unnote(b, w)),
        (0u8..4).prop_map(Op::Request),
        (0u8..4).prop_map(Op::Unrequest),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens to notes and requests, the deposits reserved are exactly those the
    /// statuses record, nothing is created or lost, and bytes are stored exactly while a
    /// status says they are.
    #[test]
    fn deposits_match_statuses(ops in proptest::collection::vec(op(), 1..40)) {
        let who = ["//Alice", "//Bob", "//Charlie"].map(account);
        let blobs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 40 * (i as usize + 1)]).collect();
        let mut chain = TestChain::new();
        let issuance = balances::total_issuance(&chain.ext());
        for op in ops {
            chain.mutate(|ext| {
                let _ = ext.transactional(|ext| match &op {
                    Op::Note(b, w) => note(ext, blobs[*b as usize].clone(), w.map(|w| who[w as usize])).map(|_| ()),
                    Op::Unnote(b, w) => unnote(ext, H256(blake2_256(&blobs[*b as usize])), w.map(|w| who[w as usize])),
                    Op::Request(b) => { request(ext, H256(blake2_256(&blobs[*b as usize]))); Ok(()) }
                    Op::Unrequest(b) => unrequest(ext, H256(blake2_256(&blobs[*b as usize]))),
                });
            });
        }
        let ext = chain.ext();
        prop_assert_eq!(balances::total_issuance(&ext), issuance);
        let mut held = [0u128; 3];
        for blob in &blobs {
            let hash = H256(blake2_256(blob));
            let len = blob.len() as u32;
            let status = REQUEST_STATUS_FOR.get(&ext, &hash);
            let ticket = match &status {
                Some(RequestStatus::Unrequested { ticket, .. }) => Some(ticket),
                Some(RequestStatus::Requested { maybe_ticket, .. }) => maybe_ticket.as_ref(),
                None => None,
            };
            if let Some((owner, HoldConsideration(amount))) = ticket {
                let i = who.iter().position(|w| w == owner).unwrap();
                held[i] += amount;
            }
            prop_assert_eq!(PREIMAGE_FOR.contains(&ext, &(hash, len)), super::len(&ext, &hash) == Some(len));
        }
        for (i, w) in who.iter().enumerate() {
            prop_assert_eq!(system::account(&ext, w).data.reserved, held[i]);
        }
    }
}
