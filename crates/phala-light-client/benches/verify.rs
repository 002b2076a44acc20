//! Light-client verification rate: headers with finality certificates checked per second, for
//! committees of 4 and 16, both one certificate per header (following the chain block by
//! block) and one certificate per run of headers (catching up).

use bytes::Bytes;
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Finalization, Finalize, Proposal};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::Signer as _;
use commonware_cryptography::ed25519::PrivateKey;
use commonware_cryptography::sha256::Digest;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use phala_keys::Ed25519Pair;
use phala_light_client::{LightClient, namespace};
use phala_primitives::consensus::CommitteeChange;
use phala_primitives::{DigestItem, H256, Header};

const HEADERS: u32 = 256;

struct Chain {
    genesis: Header,
    headers: Vec<Header>,
    certificates: Vec<Vec<u8>>,
}

fn chain(committee: usize) -> Chain {
    let uris: Vec<String> = (0..committee).map(|i| format!("//bench//{i}")).collect();
    let pairs: Vec<Ed25519Pair> = uris
        .iter()
        .map(|u| Ed25519Pair::from_uri(u).unwrap())
        .collect();
    let keys: Vec<PrivateKey> = pairs
        .iter()
        .map(|p| PrivateKey::decode(Bytes::copy_from_slice(p.seed().as_slice())).unwrap())
        .collect();
    let change = CommitteeChange {
        epoch: 0,
        keys: pairs.iter().map(|p| p.public()).collect(),
    };
    // One long epoch: the bench measures verification, not committee changes.
    let genesis = Header {
        parent_hash: H256::zero(),
        number: 0,
        state_root: H256([7; 32]),
        extrinsics_root: H256::zero(),
        digest: vec![
            DigestItem::Consensus(
                *b"phcs",
                parity_scale_codec::Encode::encode(&(1000u64, 1_000_000u32)),
            ),
            change.digest_item(),
        ],
    };
    let participants =
        Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let ns = namespace(&genesis.hash());
    let signers: Vec<Scheme> = keys
        .iter()
        .map(|k| Scheme::signer(&ns, participants.clone(), k.clone()).unwrap())
        .collect();
    let verifier = Scheme::verifier(&ns, participants);
    let quorum = committee - (committee - 1) / 3;
    let mut headers = Vec::new();
    let mut certificates = Vec::new();
    let mut parent = genesis.clone();
    for n in 1..=HEADERS {
        let header = Header {
            parent_hash: parent.hash(),
            number: n,
            state_root: H256([n as u8; 32]),
            extrinsics_root: H256::zero(),
            digest: vec![],
        };
        let proposal = Proposal::new(
            Round::new(Epoch::new(0), View::new(u64::from(n) + 1)),
            View::new(u64::from(n)),
            Digest(header.hash().0),
        );
        let votes: Vec<Finalize<Scheme, Digest>> = signers[..quorum]
            .iter()
            .map(|s| Finalize::sign(s, proposal.clone()).unwrap())
            .collect();
        let cert = Finalization::from_finalizes(
            &verifier,
            commonware_utils::non_empty!(@votes.iter()),
            &Sequential,
        )
        .unwrap();
        certificates.push(cert.encode().to_vec());
        parent = header.clone();
        headers.push(header);
    }
    Chain {
        genesis,
        headers,
        certificates,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("light_client");
    group.throughput(Throughput::Elements(u64::from(HEADERS)));
    group.sample_size(10);
    for committee in [4, 16] {
        let chain = chain(committee);
        group.bench_function(
            format!("each_header_certified/committee_{committee}"),
            |b| {
                b.iter_batched(
                    || LightClient::from_genesis(&chain.genesis).unwrap(),
                    |mut client| {
                        let mut rng = commonware_utils::test_rng();
                        for (header, cert) in chain.headers.iter().zip(&chain.certificates) {
                            client
                                .import(&mut rng, std::slice::from_ref(header), cert)
                                .unwrap();
                        }
                        client
                    },
                    BatchSize::SmallInput,
                )
            },
        );
        group.bench_function(
            format!("one_certificate_per_run/committee_{committee}"),
            |b| {
                b.iter_batched(
                    || LightClient::from_genesis(&chain.genesis).unwrap(),
                    |mut client| {
                        let mut rng = commonware_utils::test_rng();
                        let last = chain.certificates.last().unwrap();
                        client.import(&mut rng, &chain.headers, last).unwrap();
                        client
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
