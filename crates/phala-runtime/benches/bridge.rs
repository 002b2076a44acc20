//! What the bridge costs on chain, against the weight its calls are charged: a client update
//! (decoding the header, checking a finality certificate of a 4- and a 100-member
//! committee, proving the header's time) and the receipt of one packet (a trie proof of the
//! packet in the other chain's state, then either the transfer minting its voucher and the
//! acknowledgement written, or a contract message queued as a command of its contract).
//!
//! `cargo bench -p phala-runtime --bench bridge`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use commonware_codec::{DecodeExt, Encode as _};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Finalization, Finalize, Proposal};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::Signer as _;
use commonware_cryptography::ed25519::PrivateKey;
use commonware_cryptography::sha256::Digest;
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use parity_scale_codec::Encode;
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_primitives::{AccountId32, H256, Header, PHA};
use phala_runtime::bounded::{BoundedBytes, BoundedVec};
use phala_runtime::dispatch::Origin;
use phala_runtime::modules::bridge::{
    self, ChannelEnd, ChannelState, Denom, Packet, PacketData, Timeout, TransferData, TrustedState,
};
use phala_runtime::modules::{TREASURY_ACCOUNT, system, timestamp};
use phala_runtime::{Ext, GenesisConfig, RuntimeCall};

type State = BTreeMap<Vec<u8>, Vec<u8>>;

fn account(uri: &str) -> AccountId32 {
    Sr25519Pair::from_uri(uri).unwrap().account_id()
}

fn apply(state: &mut State, f: impl FnOnce(&mut Ext)) {
    let mut ext = Ext::new(state);
    f(&mut ext);
    for (k, v) in ext.into_changes() {
        match v {
            Some(v) => state.insert(k, v),
            None => state.remove(&k),
        };
    }
}

fn seed(i: usize) -> PrivateKey {
    let pair = Ed25519Pair::from_uri(&format!("//member{i}")).unwrap();
    PrivateKey::decode(Bytes::copy_from_slice(pair.seed().as_slice())).unwrap()
}

const COUNTERPARTY: H256 = H256([7; 32]);

/// A certificate of `hash` by a bare quorum of `keys`.
fn certify(keys: &[PrivateKey], hash: H256, number: u32) -> Vec<u8> {
    let participants =
        Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let ns = phala_light_client::namespace(&COUNTERPARTY);
    let proposal = Proposal::new(
        Round::new(Epoch::new(0), View::new(u64::from(number) + 10)),
        View::new(u64::from(number) + 9),
        Digest(hash.0),
    );
    let quorum = keys.len() - (keys.len() - 1) / 3;
    let votes: Vec<Finalize<Scheme, Digest>> = keys
        .iter()
        .take(quorum)
        .map(|k| {
            let scheme = Scheme::signer(&ns, participants.clone(), k.clone()).unwrap();
            Finalize::sign(&scheme, proposal.clone()).unwrap()
        })
        .collect();
    let verifier = Scheme::verifier(&ns, participants);
    Finalization::from_finalizes(
        &verifier,
        commonware_utils::non_empty!(@votes.iter()),
        &Sequential,
    )
    .unwrap()
    .encode()
    .to_vec()
}

/// The counterparty's state at block 5: its time, and a packet on its channel 0.
fn counterparty_state(packet: &Packet) -> (H256, HashMap<H256, Vec<u8>>) {
    let mut entries: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    entries.insert(timestamp::NOW.key(), Encode::encode(&10_000u64));
    entries.insert(bridge::packet_key(0, 1), Encode::encode(packet));
    // Some bulk, so the proofs have realistic depth.
    for i in 0u32..2_000 {
        entries.insert(system::ACCOUNT.key(&account_of(i)), vec![1; 80]);
    }
    let mut nodes = HashMap::new();
    let diff = phala_trie::apply_changes(
        &nodes,
        phala_trie::empty_root(),
        entries
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
    )
    .unwrap();
    nodes.extend(diff.inserted);
    (diff.root, nodes)
}

fn account_of(i: u32) -> AccountId32 {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_le_bytes());
    AccountId32(b)
}

fn proof(nodes: &HashMap<H256, Vec<u8>>, root: H256, key: Vec<u8>) -> bridge::Proof {
    let nodes = phala_trie::proof_for_keys(nodes, &root, &[key]).unwrap();
    BoundedVec::new(
        nodes
            .into_iter()
            .map(|n| BoundedBytes::new(n).unwrap())
            .collect(),
    )
    .unwrap()
}

fn packet() -> Packet {
    packet_of(PacketData::Transfer(TransferData {
        denom: Denom {
            path: BoundedVec::default(),
            base: BoundedBytes::new(b"PHA".to_vec()).unwrap(),
        },
        amount: 10 * PHA,
        sender: account("//Alice"),
        receiver: account("//Bob"),
    }))
}

const CONTRACT: H256 = H256([0xb2; 32]);

/// A contract message for [`CONTRACT`]: a 64-byte call, with a reply asked for.
fn message() -> Packet {
    packet_of(PacketData::Contract(bridge::ContractMessage {
        sender: H256([0xa1; 32]),
        contract: CONTRACT,
        input: BoundedBytes::new(vec![7; 64]).unwrap(),
        gas_limit: 1_000_000_000,
        storage_bytes: 1024,
        reply: Some(phala_mq::contracts::ReplyRequest {
            query_id: 1,
            gas_limit: 1_000_000_000,
            storage_bytes: 1024,
        }),
    }))
}

fn packet_of(data: PacketData) -> Packet {
    Packet {
        source_channel: 0,
        dest_channel: 0,
        sequence: 1,
        timeout: Timeout {
            height: 1_000_000,
            timestamp: 0,
        },
        data,
    }
}

/// [`CONTRACT`], active in a cluster here, its account funded.
fn add_contract(ext: &mut Ext) {
    use phala_runtime::modules::contracts::{self, ClusterInfo, ContractRecord, ContractStatus};
    let cluster = contracts::cluster_id(0);
    contracts::CLUSTERS.insert(
        ext,
        &cluster,
        &ClusterInfo {
            workers: vec![[9; 32]],
            master_version: 1,
            pubkey: Some([1; 32]),
            ecdh_pubkey: Some([2; 32]),
            created_at: 0,
        },
    );
    contracts::INSTANCES.insert(
        ext,
        &CONTRACT,
        &ContractRecord {
            code_hash: H256([3; 32]),
            cluster,
            deployer: account("//Alice"),
            status: ContractStatus::Active,
            pubkey: Some([4; 32]),
            ecdh_pubkey: Some([5; 32]),
            storage_deposit: 0,
            storage_bytes: 0,
        },
    );
    phala_runtime::modules::balances::transfer(
        ext,
        &account("//Alice"),
        &contracts::contract_account(&CONTRACT),
        100 * PHA,
        false,
    )
    .unwrap();
}

/// This chain with a client of the counterparty (committee `keys`, head #4) and channel 0
/// open to its channel 0.
fn setup(keys: &[PrivateKey]) -> State {
    let mut state = GenesisConfig {
        endowed: vec![
            (account("//Alice"), 1_000 * PHA),
            (account("//Charlie"), 1_000 * PHA),
            (TREASURY_ACCOUNT, 10 * PHA),
        ],
        ..Default::default()
    }
    .build_storage()
    .unwrap();
    apply(&mut state, |ext| {
        system::BLOCK_HASH.insert(ext, &0, &H256([1; 32]));
        timestamp::NOW.put(ext, &10_000);
        let (root, nodes) = counterparty_state(&packet());
        let mut head = header(root);
        head.number = 4;
        let trusted = TrustedState {
            genesis_hash: COUNTERPARTY,
            epoch: 0,
            epoch_first: 0,
            epoch_last: 1_000,
            committee: BoundedVec::new(
                keys.iter()
                    .map(|k| <[u8; 32]>::try_from(k.public_key().as_ref()).unwrap())
                    .collect(),
            )
            .unwrap(),
            header: BoundedBytes::new(head.encode()).unwrap(),
            certificate: BoundedBytes::new(certify(keys, head.hash(), 4)).unwrap(),
            timestamp_proof: proof(&nodes, root, timestamp::NOW.key()),
        };
        RuntimeCall::Bridge(bridge::Call::create_client {
            trusted,
            trusting_period_ms: 86_400_000,
        })
        .dispatch(ext, Origin::Root)
        .unwrap();
        RuntimeCall::Bridge(bridge::Call::open_channel {
            client: 0,
            counterparty_channel: 0,
        })
        .dispatch(ext, Origin::Root)
        .unwrap();
        let mut end: ChannelEnd = bridge::CHANNELS.get(ext, &0).unwrap();
        end.state = ChannelState::Open;
        bridge::CHANNELS.insert(ext, &0, &end);
    });
    state
}

fn header(root: H256) -> Header {
    Header {
        parent_hash: H256([4; 32]),
        number: 5,
        state_root: root,
        extrinsics_root: H256::zero(),
        digest: vec![],
    }
}

fn update_call(keys: &[PrivateKey], packet: &Packet) -> RuntimeCall {
    let (root, nodes) = counterparty_state(packet);
    let header = header(root);
    RuntimeCall::Bridge(bridge::Call::update_client {
        client: 0,
        header: BoundedBytes::new(header.encode()).unwrap(),
        certificate: BoundedBytes::new(certify(keys, header.hash(), 5)).unwrap(),
        timestamp_proof: proof(&nodes, root, timestamp::NOW.key()),
    })
}

fn bench(c: &mut Criterion) {
    let relayer = Origin::Signed(account("//Charlie"));
    for members in [4usize, 100] {
        let keys: Vec<PrivateKey> = (0..members).map(seed).collect();
        let state = setup(&keys);
        let call = update_call(&keys, &packet());
        println!(
            "update_client, {members} members: {} bytes, charged {} ps of weight",
            call.encode().len(),
            call.info().weight.ref_time
        );
        c.bench_function(&format!("bridge/update_client/{members}_members"), |b| {
            b.iter_batched(
                || call.clone(),
                |call| {
                    let mut ext = Ext::new(&state);
                    call.dispatch(&mut ext, relayer).unwrap();
                },
                BatchSize::SmallInput,
            )
        });
    }

    let keys: Vec<PrivateKey> = (0..4).map(seed).collect();
    for (name, packet) in [
        ("recv_packet", packet()),
        ("recv_packet/contract_message", message()),
    ] {
        let mut state = setup(&keys);
        let update = update_call(&keys, &packet);
        apply(&mut state, |ext| {
            update.dispatch(ext, relayer).unwrap();
            add_contract(ext);
        });
        let (root, nodes) = counterparty_state(&packet);
        let recv = RuntimeCall::Bridge(bridge::Call::recv_packet {
            packet: packet.clone(),
            proof_height: 5,
            proof: proof(&nodes, root, bridge::packet_key(0, 1)),
        });
        println!(
            "{name}: {} bytes, charged {} ps of weight",
            recv.encode().len(),
            recv.info().weight.ref_time
        );
        c.bench_function(&format!("bridge/{name}"), |b| {
            b.iter_batched(
                || recv.clone(),
                |call| {
                    let mut ext = Ext::new(&state);
                    call.dispatch(&mut ext, relayer).unwrap();
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
