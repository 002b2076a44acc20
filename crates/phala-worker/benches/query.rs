//! What one worker core spends per encrypted query: open the envelope, check the caller's
//! signature and the replay guard, sign the reply, seal it back. The client's side
//! (sealing the query, opening and verifying the reply) is measured apart.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use std::net::{IpAddr, Ipv4Addr};

use phala_crypto::query::{
    MAX_NONCES_PER_CALLER, MAX_QUERY_TTL, QueryBody, QuerySigner, SignedQuery, Source,
    WORKER_ITSELF,
};
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_keys::Sr25519Pair;
use phala_primitives::H256;
use phala_worker::query::QueryService;

fn queries(c: &mut Criterion) {
    let genesis = H256([1; 32]);
    let query_key = EcdhSecret::from_bytes([2; 32]);
    let recipient = query_key.public();
    let identity = Sr25519Pair::from_uri("//Worker").unwrap();
    let me = identity.public();
    let service = QueryService::with_keys(genesis, 10, H256([3; 32]), query_key, identity);
    // Each caller has a budget of remembered nonces: spread the queries over enough callers
    // (accounts, or addresses for anonymous ones) that none is refused for it.
    let accounts: Vec<Sr25519Pair> = (0..4)
        .map(|i| Sr25519Pair::from_uri(&format!("//Alice//{i}")).unwrap())
        .collect();
    let mut rng = commonware_utils::test_rng();
    let mut n: u64 = 0;
    let mut make = |signed: bool| {
        n += 1;
        let caller = (n as usize / MAX_NONCES_PER_CALLER) % accounts.len();
        let alice = &accounts[caller];
        let source = Source::from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, caller as u8)));
        let mut nonce = [0u8; 32];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        let body = QueryBody {
            worker: me,
            contract: WORKER_ITSELF,
            nonce,
            expires_at: 10 + MAX_QUERY_TTL,
            payload: Vec::new(),
        };
        let signer = signed.then(|| QuerySigner::Account {
            account: alice.account_id(),
            signature: alice.sign(&body.signing_payload(&genesis)),
        });
        let query = SignedQuery { body, signer };
        let sealed = Envelope::seal(
            &mut commonware_utils::test_rng(),
            &recipient,
            Purpose::Query,
            Some(WORKER_ITSELF),
            &query.encode(),
        )
        .unwrap()
        .encode();
        (sealed, source)
    };
    let mut group = c.benchmark_group("worker query");
    group.throughput(Throughput::Elements(1));
    for (name, signed) in [
        ("anonymous, empty payload", false),
        ("signed, empty payload", true),
    ] {
        // Fresh nonces each time, or the replay guard would refuse them.
        let requests: Vec<(Vec<u8>, Source)> = (0..20_000).map(|_| make(signed)).collect();
        let mut next = requests.iter().cycle();
        group.bench_function(name, |b| {
            b.iter(|| {
                let (request, source) = next.next().unwrap();
                service.answer(&mut rng, request, *source).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
