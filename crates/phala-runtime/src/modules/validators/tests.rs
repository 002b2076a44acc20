use phala_primitives::PHA;
use phala_primitives::consensus::CommitteeChange;

use super::*;
use crate::genesis::{GenesisConfig, ValidatorsGenesis};
use crate::modules::TREASURY_ACCOUNT;
use crate::testing::{TestChain, account, pair};
use crate::{RuntimeCall, RuntimeEvent};

const EPOCH: u32 = 5;

fn key_pair(n: u8) -> phala_keys::Ed25519Pair {
    phala_keys::Ed25519Pair::from_uri(&format!("//Validator{n}")).unwrap()
}

fn key(n: u8) -> [u8; 32] {
    key_pair(n).public()
}

/// Key `n`'s proof of possession for `who` on `chain`.
fn pop(chain: &TestChain, n: u8, who: &AccountId32) -> [u8; 64] {
    key_pair(n).sign(&possession_payload(&chain.hashes[0], who))
}

fn chain() -> TestChain {
    let params = Params {
        epoch_length: EPOCH,
        committee_size: 2,
        unbonding_period: 3,
        slash_percent: 10,
        min_bond: 100 * PHA,
    };
    TestChain::with_genesis(GenesisConfig {
        endowed: ["//Alice", "//Bob", "//Charlie", "//Dave"]
            .iter()
            .map(|u| (account(u), 10_000 * PHA))
            .collect::<Vec<_>>()
            .into_iter()
            .chain([(TREASURY_ACCOUNT, PHA)])
            .collect(),
        validators: ValidatorsGenesis {
            params,
            validators: vec![
                (
                    account("//Alice"),
                    key(1),
                    b"127.0.0.1:30333".to_vec(),
                    1_000 * PHA,
                ),
                (
                    account("//Bob"),
                    key(2),
                    b"127.0.0.1:30334".to_vec(),
                    1_000 * PHA,
                ),
            ],
        },
        ..Default::default()
    })
}

fn call(c: Call) -> RuntimeCall {
    RuntimeCall::Validators(c)
}

/// Charlie bonds `bond` and stands with consensus key 3 (his first two transactions).
fn charlie_stands(chain: &mut TestChain, bond: Balance) {
    let charlie = pair("//Charlie");
    let proof = pop(chain, 3, &charlie.account_id());
    let xts = vec![
        chain.sign(&charlie, call(Call::bond { value: bond }), 0),
        chain.sign(
            &charlie,
            call(Call::validate {
                consensus_key: key(3),
                p2p_address: b"127.0.0.1:30335".to_vec(),
                proof_of_possession: proof,
            }),
            1,
        ),
    ];
    chain.produce(xts);
}

fn committee_accounts(chain: &TestChain, epoch: u64) -> Vec<AccountId32> {
    committee(&chain.ext(), epoch)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.account)
        .collect()
}

#[test]
fn genesis_bonds_and_seats_the_committee() {
    let chain = chain();
    // Equal bonds: ties go to the smaller account id (Bob's).
    assert_eq!(
        committee_accounts(&chain, 0),
        vec![account("//Bob"), account("//Alice")]
    );
    assert_eq!(
        balances::account_data(&chain.ext(), &account("//Alice")).frozen,
        1_000 * PHA
    );
}

#[test]
fn bonding_lifecycle() {
    let mut chain = chain();
    let dave = pair("//Dave");
    let txs = vec![
        chain.sign(&dave, call(Call::bond { value: 500 * PHA }), 0),
        chain.sign(&dave, call(Call::unbond { value: 200 * PHA }), 1),
        chain.sign(&dave, call(Call::unbond { value: 400 * PHA }), 2),
        chain.sign(
            &dave,
            call(Call::bond {
                value: 20_000 * PHA,
            }),
            3,
        ),
    ];
    let (_, outcomes) = chain.produce(txs);
    assert_eq!(outcomes, vec![Ok(true), Ok(true), Ok(false), Ok(false)]);
    let ledger = LEDGER.get(&chain.ext(), &dave.account_id()).unwrap();
    assert_eq!(ledger.active, 300 * PHA);
    assert_eq!(
        ledger.unlocking,
        vec![Unlocking {
            value: 200 * PHA,
            at: 1 + 3
        }]
    );
    assert_eq!(
        balances::account_data(&chain.ext(), &dave.account_id()).frozen,
        500 * PHA
    );
    // Too early: nothing unlocks. After the period: the chunk is released.
    let (_, outcomes) = chain.produce(vec![chain.sign(&dave, call(Call::withdraw_unbonded), 4)]);
    assert_eq!(outcomes, vec![Ok(true)]);
    assert_eq!(
        balances::account_data(&chain.ext(), &dave.account_id()).frozen,
        500 * PHA
    );
    chain.produce(vec![]);
    chain.produce(vec![chain.sign(&dave, call(Call::withdraw_unbonded), 5)]);
    assert_eq!(
        balances::account_data(&chain.ext(), &dave.account_id()).frozen,
        300 * PHA
    );
}

#[test]
fn validating_needs_a_bond_a_unique_key_and_an_address() {
    let mut chain = chain();
    let dave = pair("//Dave");
    chain.produce(vec![]);
    let proof = |k: u8| pop(&chain, k, &dave.account_id());
    let validate = |k: u8, addr: &[u8]| {
        call(Call::validate {
            consensus_key: key(k),
            p2p_address: addr.to_vec(),
            proof_of_possession: proof(k),
        })
    };
    let txs = vec![
        chain.sign(&dave, validate(4, b"127.0.0.1:1"), 0),
        chain.sign(&dave, call(Call::bond { value: 50 * PHA }), 1),
        chain.sign(&dave, validate(4, b"127.0.0.1:1"), 2),
        chain.sign(&dave, call(Call::bond { value: 100 * PHA }), 3),
        chain.sign(&dave, validate(1, b"127.0.0.1:1"), 4),
        chain.sign(&dave, validate(4, b"no port"), 5),
        chain.sign(&dave, validate(4, b"127.0.0.1:30999"), 6),
    ];
    let (_, outcomes) = chain.produce(txs);
    assert_eq!(
        outcomes,
        vec![
            Ok(false),
            Ok(true),
            Ok(false),
            Ok(true),
            Ok(false),
            Ok(false),
            Ok(true)
        ]
    );
    assert_eq!(
        KEY_OWNER.get(&chain.ext(), &key(4)),
        Some(dave.account_id())
    );
    let (_, outcomes) = chain.produce(vec![chain.sign(&dave, call(Call::chill), 7)]);
    assert_eq!(outcomes, vec![Ok(true)]);
    assert_eq!(KEY_OWNER.get(&chain.ext(), &key(4)), None);
}

/// The attack: a key nobody holds (any 32 bytes) stands, is elected, and halts every light
/// client at the boundary; or someone else's valid key is registered without its secret.
#[test]
fn only_a_valid_key_its_holder_signed_for_may_stand() {
    let mut chain = chain();
    chain.produce(vec![]);
    let dave = pair("//Dave");
    let who = dave.account_id();
    // Not a curve point (the first y with no x), the identity (small order), and a
    // non-canonical encoding (y = p + 1, which decodes as 1).
    let off_curve = (2u8..)
        .map(|b| {
            let mut k = [0u8; 32];
            k[0] = b;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xee;
    non_canonical[31] = 0x7f;
    for bad in [off_curve, identity, non_canonical] {
        assert!(!valid_consensus_key(&bad), "{bad:?}");
    }
    let genesis = chain.hashes[0];
    let attempts = [
        // (key, proof, expected error)
        (off_curve, [0; 64], Error::InvalidConsensusKey),
        (identity, [0; 64], Error::InvalidConsensusKey),
        (non_canonical, [0; 64], Error::InvalidConsensusKey),
        // Alice's stash's key, unproven: a valid point, but Dave cannot sign for it.
        (
            key(9),
            key_pair(4).sign(&possession_payload(&genesis, &who)),
            Error::BadProofOfPossession,
        ),
        // Signed for another account, or another chain.
        (
            key(4),
            key_pair(4).sign(&possession_payload(&genesis, &account("//Bob"))),
            Error::BadProofOfPossession,
        ),
        (
            key(4),
            key_pair(4).sign(&possession_payload(&phala_primitives::H256([7; 32]), &who)),
            Error::BadProofOfPossession,
        ),
    ];
    let mut nonce = 0;
    chain.produce(vec![chain.sign(
        &dave,
        call(Call::bond { value: 500 * PHA }),
        nonce,
    )]);
    nonce += 1;
    for (consensus_key, proof, expected) in attempts {
        let xt = chain.sign(
            &dave,
            call(Call::validate {
                consensus_key,
                p2p_address: b"127.0.0.1:1".to_vec(),
                proof_of_possession: proof,
            }),
            nonce,
        );
        nonce += 1;
        chain.produce(vec![xt]);
        assert_eq!(chain.failure(1), Some(expected.into()));
        assert!(!CANDIDATES.contains(&chain.ext(), &who));
    }
    // The holder's own proof: accepted.
    let xt = chain.sign(
        &dave,
        call(Call::validate {
            consensus_key: key(4),
            p2p_address: b"127.0.0.1:1".to_vec(),
            proof_of_possession: pop(&chain, 4, &who),
        }),
        nonce,
    );
    chain.produce(vec![xt]);
    assert_eq!(chain.failure(1), None);
    assert_eq!(KEY_OWNER.get(&chain.ext(), &key(4)), Some(who));
}

#[test]
fn the_boundary_block_elects_and_announces_the_next_committee() {
    let mut chain = chain();
    charlie_stands(&mut chain, 5_000 * PHA);
    // Bob leaves.
    chain.produce(vec![chain.sign(&pair("//Bob"), call(Call::chill), 0)]);
    let mut boundary = None;
    for _ in 2..EPOCH {
        let (built, _) = chain.produce(vec![]);
        if !built.digest.is_empty() {
            assert!(built.events.iter().any(|e| matches!(
                e.event,
                RuntimeEvent::Validators(Event::NewCommittee { epoch: 1, .. })
            )));
            boundary = Some((chain.number, built.digest));
        }
    }
    let (number, digest) = boundary.expect("no committee announced");
    assert_eq!(number, EPOCH - 1);
    let header = phala_primitives::Header {
        parent_hash: phala_primitives::H256::zero(),
        number,
        state_root: phala_primitives::H256::zero(),
        extrinsics_root: phala_primitives::H256::zero(),
        digest,
    };
    // Charlie (largest bond) and Alice; Bob chilled.
    assert_eq!(
        CommitteeChange::from_header(&header),
        Some(Ok(CommitteeChange {
            epoch: 1,
            keys: vec![key(3), key(1)]
        }))
    );
    assert_eq!(
        committee_accounts(&chain, 1),
        vec![account("//Charlie"), account("//Alice")]
    );
}

#[test]
fn governance_sets_the_committee_size_from_the_next_election() {
    use crate::dispatch::{DispatchError, Origin};
    use crate::origin::GovOrigin;
    use phala_primitives::consensus::{MAX_COMMITTEE_SIZE, MIN_GOVERNED_COMMITTEE_SIZE};
    let mut chain = chain();
    let set = |size| RuntimeCall::Validators(Call::set_committee_size { size });
    // Only root or the parameters track; 4 to the maximum.
    for origin in [
        Origin::Signed(account("//Alice")),
        Origin::Gov(GovOrigin::Treasurer),
    ] {
        assert_eq!(
            chain.mutate(|ext| set(4).dispatch(ext, origin)),
            Err(DispatchError::BadOrigin)
        );
    }
    for size in [
        0,
        1,
        MIN_GOVERNED_COMMITTEE_SIZE - 1,
        MAX_COMMITTEE_SIZE + 1,
    ] {
        assert_eq!(
            chain.mutate(|ext| set(size).dispatch(ext, Origin::Root)),
            Err(Error::BadCommitteeSize.into())
        );
    }
    // Charlie stands; two seats leave him out until governance grows the committee.
    charlie_stands(&mut chain, 500 * PHA);
    chain
        .mutate(|ext| set(4).dispatch(ext, Origin::Gov(GovOrigin::Parameters)))
        .unwrap();
    assert_eq!(params(&chain.ext()).committee_size, 4);
    while chain.number < EPOCH {
        chain.produce(vec![]);
    }
    // Epoch 0 kept its two; the boundary seated all three who stand.
    assert_eq!(committee_accounts(&chain, 0).len(), 2);
    assert_eq!(committee_accounts(&chain, 1).len(), 3);
}

#[test]
fn governance_changes_the_epoch_length_from_the_next_boundary() {
    use crate::dispatch::{DispatchError, Origin};
    use crate::origin::GovOrigin;
    use phala_primitives::consensus::EpochLengthChange;
    let mut chain = chain();
    let set = |length| RuntimeCall::Validators(Call::set_epoch_length { length });
    for origin in [
        Origin::Signed(account("//Alice")),
        Origin::Gov(GovOrigin::Treasurer),
    ] {
        assert_eq!(
            chain.mutate(|ext| set(8).dispatch(ext, origin)),
            Err(DispatchError::BadOrigin)
        );
    }
    for length in [0, 1, 1_000_001] {
        assert_eq!(
            chain.mutate(|ext| set(length).dispatch(ext, Origin::Root)),
            Err(Error::BadEpochLength.into())
        );
    }
    // Without a sudo key the chain is live: no epoch under 100 blocks, and 16 epochs of
    // 100 blocks outlast the 3-block unbonding period, so an offender could leave before
    // its evidence lands.
    let parameters = || Origin::Gov(GovOrigin::Parameters);
    assert_eq!(
        chain.mutate(|ext| set(3).dispatch(ext, parameters())),
        Err(Error::EpochTooShort.into())
    );
    assert_eq!(
        chain.mutate(|ext| set(100).dispatch(ext, parameters())),
        Err(Error::EpochOutlastsUnbonding.into())
    );
    chain.mutate(|ext| crate::modules::sudo::KEY.put(ext, &account("//Alice")));
    // A chain still on an older runtime version has nodes that cannot run the call.
    chain.mutate(|ext| {
        use crate::modules::system::{LAST_RUNTIME_UPGRADE, LastRuntimeUpgradeInfo};
        let now = LAST_RUNTIME_UPGRADE.get(ext);
        LAST_RUNTIME_UPGRADE.put(
            ext,
            &LastRuntimeUpgradeInfo {
                spec_version: 7.into(),
                ..Default::default()
            },
        );
        assert_eq!(
            set(3).dispatch(ext, Origin::Root),
            Err(Error::NeedsUpgrade.into())
        );
        match now {
            Some(info) => LAST_RUNTIME_UPGRADE.put(ext, &info),
            None => LAST_RUNTIME_UPGRADE.kill(ext),
        }
    });
    chain
        .mutate(|ext| set(3).dispatch(ext, parameters()))
        .unwrap();
    // Epoch 0 keeps its 5 blocks; its last announces the committee and the new length.
    let mut announced = Vec::new();
    while chain.number < 14 {
        let (built, _) = chain.produce(vec![]);
        if !built.digest.is_empty() {
            let header = phala_primitives::Header {
                parent_hash: phala_primitives::H256::zero(),
                number: chain.number,
                state_root: phala_primitives::H256::zero(),
                extrinsics_root: phala_primitives::H256::zero(),
                digest: built.digest,
            };
            let committee = CommitteeChange::from_header(&header).unwrap().unwrap();
            let length = EpochLengthChange::from_header(&header).map(|l| l.unwrap());
            announced.push((chain.number, committee.epoch, length));
        }
    }
    assert_eq!(
        announced,
        vec![
            (
                4,
                1,
                Some(EpochLengthChange {
                    epoch: 1,
                    length: 3
                })
            ),
            (7, 2, None),
            (10, 3, None),
            (13, 4, None),
        ]
    );
    let ext = chain.ext();
    assert_eq!(NEXT_EPOCH_LENGTH.get(&ext), None);
    let bounds = epoch_bounds(&ext, 9).unwrap();
    assert_eq!((bounds.epoch, bounds.first, bounds.last), (2, 8, 10));
    assert_eq!(committee_accounts(&chain, 4).len(), 2);
}

#[test]
fn equivocation_slashes_to_the_treasury_once() {
    let chain = chain();
    let mut ext = chain.ext();
    let treasury_before = balances::free_balance(&ext, &TREASURY_ACCOUNT);
    let offence = Offence {
        offender: account("//Bob"),
        consensus_key: key(2),
        epoch: 0,
        id: [9; 32],
    };
    punish(&mut ext, &offence).unwrap();
    // 10 % of Bob's 1,000 PHA bond.
    assert_eq!(
        balances::free_balance(&ext, &TREASURY_ACCOUNT),
        treasury_before + 100 * PHA
    );
    assert_eq!(
        LEDGER.get(&ext, &account("//Bob")).unwrap().active,
        900 * PHA
    );
    assert_eq!(
        balances::account_data(&ext, &account("//Bob")).frozen,
        900 * PHA
    );
    assert!(!CANDIDATES.contains(&ext, &account("//Bob")));
    assert_eq!(
        punish(&mut ext, &offence),
        Err(Error::AlreadyReported.into())
    );
    // Issuance still equals the sum of balances.
    let changes = ext.into_changes();
    let mut chain = chain;
    for (k, v) in changes {
        match v {
            Some(v) => chain.state.insert(k, v),
            None => chain.state.remove(&k),
        };
    }
    chain.check_invariants();
}

mod evidence {
    use bytes::Bytes;
    use commonware_codec::DecodeExt;
    use commonware_consensus::simplex::scheme::ed25519::Scheme;
    use commonware_consensus::simplex::types::{Activity, ConflictingFinalize, Finalize, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::Signer as _;
    use commonware_cryptography::ed25519::PrivateKey;
    use commonware_cryptography::sha256::Digest;
    use commonware_utils::ordered::Set;
    use parity_scale_codec::Encode;
    use phala_keys::Ed25519Pair;
    use phala_primitives::{OpaqueExtrinsic, PHA};

    use super::super::*;
    use crate::executive::validate_unsigned;
    use crate::genesis::{GenesisConfig, ValidatorsGenesis};
    use crate::modules::TREASURY_ACCOUNT;
    use crate::testing::{TestChain, account};
    use crate::{RuntimeCall, RuntimeEvent, UncheckedExtrinsic};

    fn key(uri: &str) -> PrivateKey {
        PrivateKey::decode(Bytes::copy_from_slice(
            Ed25519Pair::from_uri(uri).unwrap().seed().as_slice(),
        ))
        .unwrap()
    }

    fn public(uri: &str) -> [u8; 32] {
        Ed25519Pair::from_uri(uri).unwrap().public()
    }

    fn chain() -> TestChain {
        let params = Params {
            epoch_length: 100,
            committee_size: 4,
            unbonding_period: 3,
            slash_percent: 10,
            min_bond: 100 * PHA,
        };
        TestChain::with_genesis(GenesisConfig {
            endowed: vec![
                (account("//Alice"), 10_000 * PHA),
                (account("//Bob"), 10_000 * PHA),
                (TREASURY_ACCOUNT, PHA),
            ],
            validators: ValidatorsGenesis {
                params,
                validators: vec![
                    (
                        account("//Alice"),
                        public("//Alice"),
                        b"127.0.0.1:1".to_vec(),
                        1_000 * PHA,
                    ),
                    (
                        account("//Bob"),
                        public("//Bob"),
                        b"127.0.0.1:2".to_vec(),
                        1_000 * PHA,
                    ),
                ],
            },
            ..Default::default()
        })
    }

    /// Bob signs two different finalizations for one view, under this chain's namespace.
    fn evidence(chain: &TestChain) -> Vec<u8> {
        let ns = phala_light_client::namespace(&chain.hashes[0]);
        let participants =
            Set::try_from(vec![key("//Alice").public_key(), key("//Bob").public_key()]).unwrap();
        let bob = Scheme::signer(&ns, participants, key("//Bob")).unwrap();
        let round = Round::new(Epoch::new(0), View::new(3));
        let a = Finalize::sign(&bob, Proposal::new(round, View::new(2), Digest([1; 32]))).unwrap();
        let b = Finalize::sign(&bob, Proposal::new(round, View::new(2), Digest([2; 32]))).unwrap();
        let activity: Activity<Scheme, Digest> =
            Activity::ConflictingFinalize(ConflictingFinalize::new(a, b));
        phala_light_client::evidence::encode(&activity).unwrap()
    }

    fn report(evidence: Vec<u8>) -> OpaqueExtrinsic {
        let xt = UncheckedExtrinsic::bare(RuntimeCall::Validators(Call::report_equivocation {
            evidence,
        }));
        OpaqueExtrinsic::from_bytes(xt.encode()).unwrap()
    }

    #[test]
    fn unsigned_reports_slash_the_equivocator_once() {
        let mut chain = chain();
        chain.produce(vec![]);
        let proof = evidence(&chain);
        let call = RuntimeCall::Validators(Call::report_equivocation {
            evidence: proof.clone(),
        });
        assert!(validate_unsigned(&chain.ext(), &call).is_ok());
        let mut forged = proof.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let forged_call = RuntimeCall::Validators(Call::report_equivocation {
            evidence: forged.clone(),
        });
        assert!(validate_unsigned(&chain.ext(), &forged_call).is_err());

        let treasury = balances::free_balance(&chain.ext(), &TREASURY_ACCOUNT);
        let (built, outcomes) = chain.produce(vec![report(proof.clone()), report(forged)]);
        assert_eq!(outcomes[0], Ok(true));
        assert!(
            outcomes[1].is_err(),
            "a forged report must not enter a block"
        );
        assert!(
            built
                .events
                .iter()
                .any(|e| matches!(e.event, RuntimeEvent::Validators(Event::Slashed { .. })))
        );
        assert_eq!(
            balances::free_balance(&chain.ext(), &TREASURY_ACCOUNT),
            treasury + 100 * PHA
        );
        assert!(!CANDIDATES.contains(&chain.ext(), &account("//Bob")));
        // The same offence again is stale.
        assert!(validate_unsigned(&chain.ext(), &call).is_err());
        let (_, outcomes) = chain.produce(vec![report(proof)]);
        assert!(outcomes[0].is_err());
    }

    /// The attack: Bob equivocates, then rotates his consensus key and has an accomplice
    /// (Dave, with a token bond) register the old key, so the evidence slashes Dave. The
    /// offender is whoever held the key's seat in the epoch of the offence.
    #[test]
    fn slashing_hits_who_held_the_key_in_that_epoch() {
        let mut chain = chain();
        chain.produce(vec![]);
        let genesis = chain.hashes[0];
        let bob = crate::testing::pair("//Bob");
        let dave = crate::testing::pair("//Dave");
        let new_key = Ed25519Pair::from_uri("//Bob//rotated").unwrap();
        let old_key = Ed25519Pair::from_uri("//Bob").unwrap();
        let (_, outcomes) = chain.produce(vec![
            chain.sign(
                &bob,
                RuntimeCall::Validators(Call::validate {
                    consensus_key: new_key.public(),
                    p2p_address: b"127.0.0.1:2".to_vec(),
                    proof_of_possession: new_key
                        .sign(&possession_payload(&genesis, &account("//Bob"))),
                }),
                0,
            ),
            chain.sign(
                &chain_alice(),
                RuntimeCall::Balances(balances::Call::transfer_keep_alive {
                    dest: phala_primitives::MultiAddress::Id(account("//Dave")),
                    value: 200 * PHA,
                }),
                0,
            ),
        ]);
        assert_eq!(outcomes, vec![Ok(true), Ok(true)]);
        let (_, outcomes) = chain.produce(vec![
            chain.sign(
                &dave,
                RuntimeCall::Validators(Call::bond { value: 100 * PHA }),
                0,
            ),
            chain.sign(
                &dave,
                RuntimeCall::Validators(Call::validate {
                    consensus_key: old_key.public(),
                    p2p_address: b"127.0.0.1:4".to_vec(),
                    proof_of_possession: old_key
                        .sign(&possession_payload(&genesis, &account("//Dave"))),
                }),
                1,
            ),
        ]);
        assert_eq!(outcomes, vec![Ok(true), Ok(true)]);
        assert_eq!(
            KEY_OWNER.get(&chain.ext(), &old_key.public()),
            Some(account("//Dave"))
        );

        let bob_bond = LEDGER.get(&chain.ext(), &account("//Bob")).unwrap().active;
        let (_, outcomes) = chain.produce(vec![report(evidence(&chain))]);
        assert_eq!(outcomes, vec![Ok(true)]);
        assert_eq!(
            LEDGER.get(&chain.ext(), &account("//Bob")).unwrap().active,
            bob_bond - bob_bond / 10
        );
        assert_eq!(
            LEDGER.get(&chain.ext(), &account("//Dave")).unwrap().active,
            100 * PHA,
            "the accomplice was slashed instead of the offender"
        );
    }

    fn chain_alice() -> phala_keys::Sr25519Pair {
        crate::testing::pair("//Alice")
    }
}
