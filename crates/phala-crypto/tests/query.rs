//! Signed queries: anonymous, account-signed and session-signed callers; forged, expired and
//! replayed queries; replies a client can check for freshness and origin.

use parity_scale_codec::{Decode, Encode};
use phala_crypto::query::{
    QueryBody, QueryError, QueryReply, QuerySigner, ReplayGuard, SessionCertificate, SignedQuery,
    SignedReply, Source,
};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use proptest::prelude::*;

const GENESIS: H256 = H256([9; 32]);
const SOURCE: Source = Source::UNKNOWN;

fn body(nonce: u8) -> QueryBody {
    QueryBody {
        worker: [3; 32],
        contract: H256([1; 32]),
        nonce: [nonce; 32],
        expires_at: 100,
        payload: b"get".to_vec(),
    }
}

fn pair(uri: &str) -> Sr25519Pair {
    Sr25519Pair::from_uri(uri).unwrap()
}

fn signed_by_account(body: QueryBody, signer: &Sr25519Pair) -> SignedQuery {
    let signature = signer.sign(&body.signing_payload(&GENESIS));
    SignedQuery {
        body,
        signer: Some(QuerySigner::Account {
            account: signer.account_id(),
            signature,
        }),
    }
}

fn session(account: &Sr25519Pair, key: &Sr25519Pair, expires_at: u32) -> SessionCertificate {
    SessionCertificate {
        account: account.account_id(),
        session_key: key.public(),
        expires_at,
        signature: account.sign(&SessionCertificate::signing_payload(
            &GENESIS,
            &key.public(),
            expires_at,
        )),
    }
}

fn signed_by_session(body: QueryBody, cert: SessionCertificate, key: &Sr25519Pair) -> SignedQuery {
    let signature = key.sign(&body.signing_payload(&GENESIS));
    SignedQuery {
        body,
        signer: Some(QuerySigner::Session {
            certificate: cert,
            signature,
        }),
    }
}

#[test]
fn callers_are_anonymous_or_proven() {
    let alice = pair("//Alice");
    let anonymous = SignedQuery {
        body: body(1),
        signer: None,
    };
    assert_eq!(anonymous.caller(&GENESIS, 10), Ok(None));
    let signed = signed_by_account(body(2), &alice);
    assert_eq!(signed.caller(&GENESIS, 10), Ok(Some(alice.account_id())));
    // Another chain's signature does not verify here.
    assert_eq!(
        signed.caller(&H256([8; 32]), 10),
        Err(QueryError::BadSignature)
    );
    // A changed payload breaks the signature: it is refused, not made anonymous.
    let mut changed = signed.clone();
    changed.body.payload = b"transfer".to_vec();
    assert_eq!(changed.caller(&GENESIS, 10), Err(QueryError::BadSignature));
    // Someone else's signature in Alice's name.
    let mut forged = signed_by_account(body(3), &pair("//Mallory"));
    if let Some(QuerySigner::Account { account, .. }) = &mut forged.signer {
        *account = alice.account_id();
    }
    assert_eq!(forged.caller(&GENESIS, 10), Err(QueryError::BadSignature));
}

#[test]
fn session_keys_work_until_their_certificate_expires() {
    let alice = pair("//Alice");
    let key = pair("//AliceSession");
    let cert = session(&alice, &key, 50);
    let q = signed_by_session(body(4), cert.clone(), &key);
    assert_eq!(q.caller(&GENESIS, 50), Ok(Some(alice.account_id())));
    assert_eq!(
        q.caller(&GENESIS, 51),
        Err(QueryError::CertificateExpired {
            expired_at: 50,
            height: 51
        })
    );
    // A certificate whose expiry was extended no longer verifies.
    let mut extended = cert.clone();
    extended.expires_at = 1_000;
    let q = signed_by_session(body(5), extended, &key);
    assert_eq!(q.caller(&GENESIS, 60), Err(QueryError::BadCertificate));
    // A query signed by another key under Alice's certificate.
    let q = signed_by_session(body(6), cert, &pair("//Mallory"));
    assert_eq!(q.caller(&GENESIS, 10), Err(QueryError::BadSignature));
}

#[test]
fn expired_far_and_replayed_queries_are_refused() {
    let mut guard = ReplayGuard::default();
    assert_eq!(guard.admit(&body(1), None, SOURCE, 10), Ok(()));
    assert_eq!(
        guard.admit(&body(1), None, SOURCE, 11),
        Err(QueryError::Replayed)
    );
    assert_eq!(
        guard.admit(&body(2), None, SOURCE, 101),
        Err(QueryError::Expired {
            expired_at: 100,
            height: 101
        })
    );
    let mut far = body(3);
    far.expires_at = 10 + phala_crypto::query::MAX_QUERY_TTL + 1;
    assert_eq!(
        guard.admit(&far, None, SOURCE, 10),
        Err(QueryError::TooLong {
            expires_at: far.expires_at
        })
    );
    // Nonces are forgotten once their queries expire, so memory stays bounded.
    assert_eq!(guard.admit(&body(4), None, SOURCE, 100), Ok(()));
    let mut later = body(5);
    later.expires_at = 300;
    assert_eq!(guard.admit(&later, None, SOURCE, 200), Ok(()));
    assert_eq!(guard.len(), 1);
}

#[test]
fn a_whole_round_trip_verifies_on_the_client() {
    let mut rng = commonware_utils::test_rng();
    let worker_identity = pair("//Worker");
    let worker_query_key = EcdhSecret::from_bytes([7; 32]);
    let alice = pair("//Alice");

    // Client: sign, encrypt to the worker's query key with a fresh ephemeral key.
    let query = signed_by_account(body(1), &alice);
    let sent = Envelope::seal(
        &mut rng,
        &worker_query_key.public(),
        Purpose::Query,
        Some(query.body.contract),
        &query.encode(),
    )
    .unwrap();

    // Worker: open, check the caller and the nonce, answer at its height, sign, encrypt back.
    let opened = sent.open(&worker_query_key).unwrap();
    let received = SignedQuery::decode(&mut opened.as_slice()).unwrap();
    assert_eq!(received.caller(&GENESIS, 42), Ok(Some(alice.account_id())));
    let mut guard = ReplayGuard::default();
    guard
        .admit(&received.body, Some(alice.account_id()), SOURCE, 42)
        .unwrap();
    let reply = QueryReply {
        nonce: received.body.nonce,
        height: 42,
        block_hash: H256([42; 32]),
        payload: b"true".to_vec(),
    };
    let signed = SignedReply {
        signature: worker_identity.sign(&reply.signing_payload(&GENESIS)),
        worker: worker_identity.public(),
        reply,
    };
    let client_ephemeral = sent.header.sender;
    // The reply goes to the key the query came from (the client kept its secret; here the
    // worker seals to the public key, and the test opens with a key it made for the client).
    let client = EcdhSecret::from_bytes([11; 32]);
    assert_ne!(client.public(), client_ephemeral);
    let back = Envelope::seal(
        &mut rng,
        &client.public(),
        Purpose::QueryReply,
        Some(received.body.contract),
        &signed.encode(),
    )
    .unwrap();

    // Client: open, check signer, nonce, and read the height and hash it answered at.
    let opened = back.open(&client).unwrap();
    let reply = SignedReply::decode(&mut opened.as_slice()).unwrap();
    let checked = reply
        .verify(&GENESIS, &worker_identity.public(), &[1; 32])
        .unwrap();
    assert_eq!((checked.height, checked.block_hash), (42, H256([42; 32])));
    assert_eq!(
        reply.verify(&GENESIS, &worker_identity.public(), &[2; 32]),
        Err(QueryError::WrongNonce)
    );
    assert_eq!(
        reply.verify(&GENESIS, &pair("//Other").public(), &[1; 32]),
        Err(QueryError::WrongWorker)
    );
    let mut stale = reply.clone();
    stale.reply.height = 41;
    assert_eq!(
        stale.verify(&GENESIS, &worker_identity.public(), &[1; 32]),
        Err(QueryError::BadReplySignature)
    );
}

proptest! {
    #[test]
    fn query_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(q) = SignedQuery::decode(&mut bytes.as_slice()) {
            let _ = q.caller(&GENESIS, 1);
        }
        let _ = SignedReply::decode(&mut bytes.as_slice());
    }
}
