//! Two in-memory chains with real state tries, headers and finality certificates, and a
//! relayer between them: what the bridge tests drive.

use std::collections::HashMap;

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
use parity_scale_codec::Encode;
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_primitives::consensus::CommitteeChange;
use phala_primitives::{AccountId32, BlockNumber, H256, Header, PHA};

use super::*;
use crate::bounded::{BoundedBytes, BoundedVec};
use crate::dispatch::{DispatchError, Origin};
use crate::modules::{TREASURY_ACCOUNT, timestamp};
use crate::testing::{TestChain, account, pair};
use crate::{GenesisConfig, RuntimeCall, RuntimeEvent};

fn key(uri: &str) -> PrivateKey {
    PrivateKey::decode(Bytes::copy_from_slice(
        Ed25519Pair::from_uri(uri).unwrap().seed().as_slice(),
    ))
    .unwrap()
}

fn public(uri: &str) -> [u8; 32] {
    Ed25519Pair::from_uri(uri).unwrap().public()
}

/// A certificate of `hash` by `committee` in `epoch`, signed by all but one member when
/// there are four or more (a bare quorum), under `genesis`'s namespace.
pub fn certify(
    genesis: &H256,
    hash: H256,
    number: BlockNumber,
    epoch: u64,
    committee: &[String],
) -> Vec<u8> {
    let participants = Set::try_from(
        committee
            .iter()
            .map(|u| key(u).public_key())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let ns = phala_light_client::namespace(genesis);
    let proposal = Proposal::new(
        Round::new(Epoch::new(epoch), View::new(u64::from(number) + 10)),
        View::new(u64::from(number) + 9),
        Digest(hash.0),
    );
    let quorum = committee.len() - committee.len().saturating_sub(1) / 3;
    let votes: Vec<Finalize<Scheme, Digest>> = committee
        .iter()
        .take(quorum)
        .map(|u| {
            let scheme = Scheme::signer(&ns, participants.clone(), key(u)).unwrap();
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

/// One chain: the runtime's state, its trie, and the headers a committee certified.
pub struct Chain {
    pub tc: TestChain,
    pub genesis: H256,
    pub epoch_length: u32,
    /// Committee of each epoch (by index); the next one is announced at each boundary.
    pub committees: Vec<Vec<String>>,
    pub headers: Vec<Header>,
    pub nodes: HashMap<H256, Vec<u8>>,
    /// Changes made outside blocks (root calls), folded into the next block's root.
    outside: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

pub fn committee(uris: &[&str]) -> Vec<String> {
    uris.iter().map(|u| u.to_string()).collect()
}

impl Chain {
    pub fn new(seed: u8, epoch_length: u32, members: &[&str]) -> Self {
        let mut tc = TestChain::with_genesis(GenesisConfig {
            endowed: vec![
                (account("//Alice"), 1_000 * PHA),
                (account("//Bob"), 1_000 * PHA),
                (account("//Charlie"), 1_000 * PHA),
                (TREASURY_ACCOUNT, 10 * PHA),
            ],
            ..Default::default()
        });
        let genesis = H256([seed; 32]);
        tc.ctx.genesis_hash = genesis;
        tc.head = genesis;
        tc.hashes = vec![genesis];
        let mut nodes = HashMap::new();
        let diff = phala_trie::apply_changes(
            &nodes,
            phala_trie::empty_root(),
            tc.state
                .iter()
                .map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
        )
        .unwrap();
        nodes.extend(diff.inserted);
        let header0 = Header {
            parent_hash: H256::zero(),
            number: 0,
            state_root: diff.root,
            extrinsics_root: H256::zero(),
            digest: vec![],
        };
        let mut chain = Chain {
            tc,
            genesis,
            epoch_length,
            committees: vec![committee(members)],
            headers: vec![header0],
            nodes,
            outside: Vec::new(),
        };
        // Block 1 records the genesis hash, as on a real chain.
        chain.produce(vec![]);
        chain
    }

    pub fn height(&self) -> BlockNumber {
        self.tc.number
    }

    pub fn epoch_of(&self, number: BlockNumber) -> u64 {
        u64::from(number / self.epoch_length)
    }

    /// Makes `members` the committee of the first epoch whose committee is not yet
    /// announced, and returns that epoch.
    pub fn set_next_committee(&mut self, members: &[&str]) -> u64 {
        let height = self.height();
        let at_boundary = (height + 1).is_multiple_of(self.epoch_length);
        let next = self.epoch_of(height) as usize + if at_boundary { 2 } else { 1 };
        while self.committees.len() < next {
            let last = self.committees.last().unwrap().clone();
            self.committees.push(last);
        }
        self.committees.truncate(next);
        self.committees.push(committee(members));
        next as u64
    }

    fn committee_of(&self, epoch: u64) -> Vec<String> {
        let i = (epoch as usize).min(self.committees.len() - 1);
        self.committees[i].clone()
    }

    /// Builds a block from `txs` and certifies its header.
    pub fn produce(
        &mut self,
        txs: Vec<phala_primitives::OpaqueExtrinsic>,
    ) -> Vec<Result<bool, crate::block::Skipped>> {
        let (built, outcomes) = self.tc.produce(txs);
        let parent = self.headers.last().unwrap();
        let root = parent.state_root;
        let mut changes: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> =
            self.outside.drain(..).collect();
        changes.extend(built.changes.clone());
        let diff = phala_trie::apply_changes(
            &self.nodes,
            root,
            changes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
        )
        .unwrap();
        self.nodes.extend(diff.inserted);
        let number = self.tc.number;
        let mut digest = vec![];
        if (number + 1).is_multiple_of(self.epoch_length) {
            let next = self.epoch_of(number) + 1;
            if self.committees.len() <= next as usize {
                let last = self.committees.last().unwrap().clone();
                self.committees.push(last);
            }
            let change = CommitteeChange {
                epoch: next,
                keys: self.committee_of(next).iter().map(|u| public(u)).collect(),
            };
            digest.push(change.digest_item());
        }
        let header = Header {
            parent_hash: if number == 1 {
                self.genesis
            } else {
                parent.hash()
            },
            number,
            state_root: diff.root,
            extrinsics_root: H256::zero(),
            digest,
        };
        self.headers.push(header);
        outcomes
    }

    pub fn header(&self, number: BlockNumber) -> &Header {
        &self.headers[number as usize]
    }

    pub fn certificate(&self, number: BlockNumber) -> Vec<u8> {
        let header = self.header(number);
        let epoch = self.epoch_of(number);
        certify(
            &self.genesis,
            header.hash(),
            number,
            epoch,
            &self.committee_of(epoch),
        )
    }

    pub fn proof(&self, number: BlockNumber, keys: &[Vec<u8>]) -> Proof {
        let root = self.header(number).state_root;
        let nodes = phala_trie::proof_for_keys(&self.nodes, &root, keys).unwrap();
        BoundedVec::new(
            nodes
                .into_iter()
                .map(|n| BoundedBytes::new(n).unwrap())
                .collect(),
        )
        .unwrap()
    }

    /// What governance would trust: this chain's genesis and the committee of its head's
    /// epoch, with the head (or the block before it, if the head ends its epoch) certified.
    pub fn trusted_state(&self) -> TrustedState {
        let mut n = self.height();
        if (n + 1).is_multiple_of(self.epoch_length) {
            n -= 1;
        }
        let epoch = self.epoch_of(n);
        let first = epoch as u32 * self.epoch_length;
        TrustedState {
            genesis_hash: self.genesis,
            epoch,
            epoch_first: first,
            epoch_last: first + self.epoch_length - 1,
            committee: BoundedVec::new(
                self.committee_of(epoch).iter().map(|u| public(u)).collect(),
            )
            .unwrap(),
            header: BoundedBytes::new(self.header(n).encode()).unwrap(),
            certificate: BoundedBytes::new(self.certificate(n)).unwrap(),
            timestamp_proof: self.proof(n, &[timestamp::NOW.key()]),
        }
    }

    /// Runs a root call directly (what a referendum or sudo would do).
    pub fn root(&mut self, call: Call) -> Result<(), DispatchError> {
        self.mutate(|ext| {
            ext.transactional(|ext| RuntimeCall::Bridge(call).dispatch(ext, Origin::Root))
        })
    }

    /// Changes the state outside any block (a root call, or a lying chain writing what it
    /// likes); the changes reach the trie with the next block, as if they ran in it.
    pub fn mutate<R>(&mut self, f: impl FnOnce(&mut crate::Ext) -> R) -> R {
        let mut ext = crate::Ext::new(&self.tc.state);
        let result = f(&mut ext);
        let changes = ext.into_changes();
        for (k, v) in changes {
            match &v {
                Some(v) => self.tc.state.insert(k.clone(), v.clone()),
                None => self.tc.state.remove(&k),
            };
            self.outside.push((k, v));
        }
        self.tc.check_invariants();
        result
    }

    /// Submits `call` signed by `who` in a block of its own; the dispatch error if it failed.
    pub fn submit(&mut self, who: &str, call: Call) -> Result<Vec<RuntimeEvent>, DispatchError> {
        let signer: Sr25519Pair = pair(who);
        let nonce = self.tc.nonce(&signer.account_id());
        let xt = self.tc.sign(&signer, RuntimeCall::Bridge(call), nonce);
        let outcomes = self.produce(vec![xt]);
        assert!(outcomes[0].is_ok(), "not included: {:?}", outcomes[0]);
        // Extrinsic 0 is the block's timestamp inherent.
        match self.tc.failure(1) {
            Some(e) => Err(e),
            None => Ok(self.tc.events_of(1)),
        }
    }

    pub fn ext(&self) -> crate::Ext<'_> {
        self.tc.ext()
    }

    pub fn channel(&self, id: ChannelId) -> ChannelEnd {
        CHANNELS.get(&self.ext(), &id).unwrap()
    }

    pub fn client(&self, id: ClientId) -> ClientState {
        CLIENTS.get(&self.ext(), &id).unwrap()
    }

    pub fn free(&self, who: &AccountId32) -> u128 {
        self.tc.free(who)
    }

    /// Packets waiting for acknowledgement on `channel`, in sequence order.
    pub fn pending_packets(&self, channel: ChannelId) -> Vec<Packet> {
        let end = self.channel(channel);
        (end.next_ack..end.next_send)
            .filter_map(|seq| PACKETS.get(&self.ext(), &channel, &seq))
            .collect()
    }
}

pub fn bridge_error(e: Error) -> DispatchError {
    e.into()
}

/// Brings `on`'s client `client` of `of` up to `of`'s head, one boundary at a time.
pub fn update_client(
    of: &Chain,
    on: &mut Chain,
    client: ClientId,
    relayer: &str,
) -> Result<(), DispatchError> {
    for _ in 0..1_000 {
        let state = on.client(client);
        let head = of.height();
        if state.latest_height >= head {
            return Ok(());
        }
        let target = head.min(state.epoch_last);
        let header = of.header(target).clone();
        let proof = of.proof(target, &[timestamp::NOW.key()]);
        on.submit(
            relayer,
            Call::update_client {
                client,
                header: BoundedBytes::new(header.encode()).unwrap(),
                certificate: BoundedBytes::new(of.certificate(target)).unwrap(),
                timestamp_proof: proof,
            },
        )?;
    }
    panic!("the client did not catch up in 1,000 updates");
}
