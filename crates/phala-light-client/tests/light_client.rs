//! The light client against certificates made by real committee keys.

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
use phala_keys::Ed25519Pair;
use phala_light_client::{LightClient, LightClientError, namespace};
use phala_primitives::consensus::CommitteeChange;
use phala_primitives::{DigestItem, H256, Header};

const EPOCH: u32 = 4;

fn key(uri: &str) -> PrivateKey {
    PrivateKey::decode(Bytes::copy_from_slice(
        Ed25519Pair::from_uri(uri).unwrap().seed().as_slice(),
    ))
    .unwrap()
}

fn public(uri: &str) -> [u8; 32] {
    Ed25519Pair::from_uri(uri).unwrap().public()
}

fn header(parent: &Header, digest: Vec<DigestItem>) -> Header {
    Header {
        parent_hash: parent.hash(),
        number: parent.number + 1,
        state_root: H256([parent.number as u8; 32]),
        extrinsics_root: H256::zero(),
        digest,
    }
}

/// A certificate for `header` signed by `signers` (a committee of `committee`) in `epoch`.
fn certify(
    genesis: &H256,
    header: &Header,
    epoch: u64,
    committee: &[&str],
    signers: &[&str],
) -> Vec<u8> {
    let participants = Set::try_from(
        committee
            .iter()
            .map(|u| key(u).public_key())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let ns = namespace(genesis);
    let proposal = Proposal::new(
        Round::new(Epoch::new(epoch), View::new(u64::from(header.number) + 10)),
        View::new(u64::from(header.number) + 9),
        Digest(header.hash().0),
    );
    let votes: Vec<Finalize<Scheme, Digest>> = signers
        .iter()
        .map(|u| {
            let scheme = Scheme::signer(&ns, participants.clone(), key(u)).unwrap();
            Finalize::sign(&scheme, proposal.clone()).unwrap()
        })
        .collect();
    let verifier = Scheme::verifier(&ns, participants);
    let cert = Finalization::from_finalizes(
        &verifier,
        commonware_utils::non_empty!(@votes.iter()),
        &Sequential,
    )
    .unwrap();
    cert.encode().to_vec()
}

fn genesis(committee: &[&str]) -> Header {
    let change = CommitteeChange {
        epoch: 0,
        keys: committee.iter().map(|u| public(u)).collect(),
    };
    Header {
        parent_hash: H256::zero(),
        number: 0,
        state_root: H256([7; 32]),
        extrinsics_root: H256::zero(),
        digest: vec![
            DigestItem::Consensus(
                *b"phcs",
                parity_scale_codec::Encode::encode(&(1000u64, EPOCH)),
            ),
            change.digest_item(),
        ],
    }
}

const OLD: [&str; 4] = ["//Alice", "//Bob", "//Charlie", "//Dave"];
const NEW: [&str; 4] = ["//Alice", "//Bob", "//Charlie", "//Eve"];

#[test]
fn follows_a_committee_change_and_refuses_the_old_committee_after_it() {
    let g = genesis(&OLD);
    let gh = g.hash();
    let mut client = LightClient::from_genesis(&g).unwrap();
    let mut rng = commonware_utils::test_rng();

    let h1 = header(&g, vec![]);
    let h2 = header(&h1, vec![]);
    let change = CommitteeChange {
        epoch: 1,
        keys: NEW.iter().map(|u| public(u)).collect(),
    };
    let h3 = header(&h2, vec![change.digest_item()]);
    // Three of four signatures are a quorum.
    let cert3 = certify(&gh, &h3, 0, &OLD, &OLD[..3]);
    client
        .import(&mut rng, &[h1.clone(), h2.clone(), h3.clone()], &cert3)
        .unwrap();
    assert_eq!(client.epoch(), 1);
    assert_eq!(client.committee(), change.keys.as_slice());
    assert_eq!(client.head(), (3, h3.hash()));

    // Epoch 1: the old committee's certificate is refused, the new one's accepted.
    let h4 = header(&h3, vec![]);
    let stale = certify(&gh, &h4, 1, &OLD, &OLD[..3]);
    assert_eq!(
        client.import(&mut rng, std::slice::from_ref(&h4), &stale),
        Err(LightClientError::BadSignatures { epoch: 1 })
    );
    let old_epoch = certify(&gh, &h4, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client.import(&mut rng, std::slice::from_ref(&h4), &old_epoch),
        Err(LightClientError::CertificateEpoch {
            expected: 1,
            got: 0
        })
    );
    let good = certify(&gh, &h4, 1, &NEW, &NEW[1..]);
    client
        .import(&mut rng, std::slice::from_ref(&h4), &good)
        .unwrap();
    assert_eq!(client.head().0, 4);
}

#[test]
fn refuses_forged_truncated_and_mismatched_certificates() {
    let g = genesis(&OLD);
    let gh = g.hash();
    let mut client = LightClient::from_genesis(&g).unwrap();
    let mut rng = commonware_utils::test_rng();
    let h1 = header(&g, vec![]);
    let h2 = header(&h1, vec![]);
    let cert = certify(&gh, &h1, 0, &OLD, &OLD[..3]);

    // A flipped signature bit.
    let mut forged = cert.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(matches!(
        client.import(&mut rng, std::slice::from_ref(&h1), &forged),
        Err(LightClientError::BadSignatures { .. } | LightClientError::CertificateDecode(_))
    ));
    // Truncated.
    assert!(matches!(
        client.import(&mut rng, std::slice::from_ref(&h1), &cert[..cert.len() / 2]),
        Err(LightClientError::CertificateDecode(_))
    ));
    assert!(matches!(
        client.import(&mut rng, std::slice::from_ref(&h1), &[]),
        Err(LightClientError::CertificateDecode(_))
    ));
    // A certificate for another header.
    assert!(matches!(
        client.import(&mut rng, &[h1.clone(), h2.clone()], &cert),
        Err(LightClientError::CertificateMismatch { .. })
    ));
    // From another chain (other genesis, so another namespace).
    let other = certify(&H256([1; 32]), &h1, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client.import(&mut rng, std::slice::from_ref(&h1), &other),
        Err(LightClientError::BadSignatures { epoch: 0 })
    );
    // Gaps and broken links.
    assert_eq!(
        client.import(&mut rng, std::slice::from_ref(&h2), &cert),
        Err(LightClientError::NotNext { head: 0, got: 2 })
    );
    let mut stranger = h1.clone();
    stranger.parent_hash = H256([9; 32]);
    assert_eq!(
        client.import(&mut rng, &[stranger], &cert),
        Err(LightClientError::BrokenLink { number: 1 })
    );
    // Nothing was accepted; the honest certificate still works.
    assert_eq!(client.head().0, 0);
    client.import(&mut rng, &[h1], &cert).unwrap();
}

#[test]
fn boundaries_must_end_a_run_and_announce_the_next_committee() {
    let g = genesis(&OLD);
    let gh = g.hash();
    let mut rng = commonware_utils::test_rng();
    let h1 = header(&g, vec![]);
    let h2 = header(&h1, vec![]);
    let h3 = header(&h2, vec![]); // boundary without a committee change
    let h4 = header(&h3, vec![]);
    let mut client = LightClient::from_genesis(&g).unwrap();
    let cert4 = certify(&gh, &h4, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client.import(&mut rng, &[h1.clone(), h2.clone(), h3.clone(), h4], &cert4),
        Err(LightClientError::PastBoundary {
            number: 3,
            epoch: 0
        })
    );
    let cert3 = certify(&gh, &h3, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client.import(&mut rng, &[h1, h2, h3], &cert3),
        Err(LightClientError::MissingCommitteeChange { number: 3 })
    );
}

#[test]
fn genesis_must_carry_timing_and_committee() {
    let mut g = genesis(&OLD);
    g.digest.pop();
    assert_eq!(
        LightClient::from_genesis(&g).unwrap_err(),
        LightClientError::BadGenesis
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn random_certificates_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        static GENESIS: std::sync::LazyLock<Header> = std::sync::LazyLock::new(|| genesis(&OLD));
        let g = GENESIS.clone();
        let mut client = LightClient::from_genesis(&g).unwrap();
        let h1 = header(&g, vec![]);
        let mut rng = commonware_utils::test_rng();
        proptest::prop_assert!(client.import(&mut rng, &[h1], &bytes).is_err());
    }
}

#[test]
fn skips_to_a_certified_boundary_and_survives_a_restart() {
    let g = genesis(&OLD);
    let gh = g.hash();
    let h1 = header(&g, vec![]);
    let h2 = header(&h1, vec![]);
    let change = CommitteeChange {
        epoch: 1,
        keys: NEW.iter().map(|u| public(u)).collect(),
    };
    let h3 = header(&h2, vec![change.digest_item()]);
    let mut rng = commonware_utils::test_rng();
    let mut client = LightClient::from_genesis(&g).unwrap();

    // Not a boundary, a boundary without its announcement, a boundary certified by a
    // committee the client does not trust (the attacker's own), or by the right committee
    // for another block: refused, and the client is unchanged.
    let cert2 = certify(&gh, &h2, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client.import_boundary(&mut rng, &h2, &cert2).unwrap_err(),
        LightClientError::NotBoundary { number: 2 }
    );
    let bare = header(&h2, vec![]);
    let bare_cert = certify(&gh, &bare, 0, &OLD, &OLD[..3]);
    assert_eq!(
        client
            .import_boundary(&mut rng, &bare, &bare_cert)
            .unwrap_err(),
        LightClientError::MissingCommitteeChange { number: 3 }
    );
    const FOREIGN: [&str; 4] = ["//Ferdie", "//One", "//Two", "//Three"];
    let forged = certify(&gh, &h3, 0, &FOREIGN, &FOREIGN);
    assert_eq!(
        client.import_boundary(&mut rng, &h3, &forged).unwrap_err(),
        LightClientError::BadSignatures { epoch: 0 }
    );
    assert!(matches!(
        client.import_boundary(&mut rng, &h3, &bare_cert),
        Err(LightClientError::CertificateMismatch { .. })
    ));
    assert_eq!(client.head(), (0, gh));

    let cert3 = certify(&gh, &h3, 0, &OLD, &OLD[..3]);
    client.import_boundary(&mut rng, &h3, &cert3).unwrap();
    assert_eq!((client.epoch(), client.head()), (1, (3, h3.hash())));
    // The next boundary belongs to epoch 1: the old boundary cannot be replayed.
    assert!(client.import_boundary(&mut rng, &h3, &cert3).is_err());
    // The saved state resumes to the same client, which follows the new committee.
    let mut client2 = LightClient::resume(client.state()).unwrap();
    let h4 = header(&h3, vec![]);
    let good = certify(&gh, &h4, 1, &NEW, &NEW[1..]);
    let mut rng = commonware_utils::test_rng();
    client
        .import(&mut rng, std::slice::from_ref(&h4), &good)
        .unwrap();
    client2
        .import(&mut rng, std::slice::from_ref(&h4), &good)
        .unwrap();
    assert_eq!(client.state(), client2.state());
}

/// A boundary that announces a new length moves the next boundary; one that announces a
/// length for another epoch, or out of bounds, is refused before anything changes.
#[test]
fn follows_an_epoch_length_change() {
    use phala_primitives::consensus::{EpochBounds, EpochLengthChange};
    let g = genesis(&OLD);
    let gh = g.hash();
    let mut rng = commonware_utils::test_rng();
    let change = CommitteeChange {
        epoch: 1,
        keys: NEW.iter().map(|u| public(u)).collect(),
    };
    let h1 = header(&g, vec![]);
    let h2 = header(&h1, vec![]);
    let boundary =
        |length: EpochLengthChange| header(&h2, vec![change.digest_item(), length.digest_item()]);
    for bad in [
        EpochLengthChange {
            epoch: 2,
            length: 6,
        },
        EpochLengthChange {
            epoch: 1,
            length: 1,
        },
    ] {
        let h3 = boundary(bad);
        let cert = certify(&gh, &h3, 0, &OLD, &OLD[..3]);
        let mut client = LightClient::from_genesis(&g).unwrap();
        assert_eq!(
            client.import_boundary(&mut rng, &h3, &cert),
            Err(LightClientError::BadEpochLength { number: 3 })
        );
        assert_eq!(client.head(), (0, gh));
    }
    let h3 = boundary(EpochLengthChange {
        epoch: 1,
        length: 6,
    });
    let cert3 = certify(&gh, &h3, 0, &OLD, &OLD[..3]);
    let mut client = LightClient::from_genesis(&g).unwrap();
    client.import_boundary(&mut rng, &h3, &cert3).unwrap();
    assert_eq!(
        client.epoch_bounds(),
        EpochBounds {
            epoch: 1,
            first: 4,
            last: 9
        }
    );
    // Block 7 would have ended epoch 1 at the old length; now it is inside it.
    let mut run = vec![header(&h3, vec![])];
    for _ in 0..3 {
        let next = header(run.last().unwrap(), vec![]);
        run.push(next);
    }
    let cert7 = certify(&gh, &run[3], 1, &NEW, &NEW[1..]);
    let mut resumed = LightClient::resume(client.state()).unwrap();
    client.import(&mut rng, &run, &cert7).unwrap();
    resumed.import(&mut rng, &run, &cert7).unwrap();
    assert_eq!(client.state(), resumed.state());
    // Epoch 1's boundary is #9; without a length entry, epoch 2 keeps the new length.
    let h8 = header(&run[3], vec![]);
    let next = CommitteeChange {
        epoch: 2,
        keys: NEW.iter().map(|u| public(u)).collect(),
    };
    let h9 = header(&h8, vec![next.digest_item()]);
    assert!(matches!(
        client.import(
            &mut rng,
            &[h8.clone(), h9.clone(), header(&h9, vec![])],
            &cert7
        ),
        Err(LightClientError::PastBoundary { number: 9, .. })
    ));
    let cert9 = certify(&gh, &h9, 1, &NEW, &NEW[1..]);
    client.import(&mut rng, &[h8, h9], &cert9).unwrap();
    assert_eq!(
        client.epoch_bounds(),
        EpochBounds {
            epoch: 2,
            first: 10,
            last: 15
        }
    );
}
