//! Harness for deterministic simulations: real phala nodes (chain store, runtime, the whole
//! consensus stack of `phala_node::consensus`) on Commonware's deterministic runtime, talking
//! over its simulated network. Virtual time, seeded scheduling and seeded link behaviour make a
//! run a pure function of its seed.
//!
//! A node runs under one supervised task: aborting it aborts every actor of the node — a
//! crash. Its consensus storage (the runtime's in-memory partitions `n{i}-…`) and its chain
//! store (a redb file in the run's directory) survive, so a restart resumes from both, as a
//! killed process would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use commonware_cryptography::Signer as _;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{Clock as _, Handle, Quota, Spawner as _, Supervisor as _, deterministic};
use commonware_utils::{NZU32, NZUsize, probability};
use parity_scale_codec::Encode;
use phala_chain::dev::local_testnet;
use phala_chain::{Chain, ChainSpec, ChainType, PoolLimits};
use phala_keys::{Ed25519Pair, Sr25519Pair};
use phala_node::consensus::engine::{
    self, BACKFILL_CHANNEL, BROADCAST_CHANNEL, CERT_CHANNEL, Channels, EngineConfig,
    RESOLVER_CHANNEL, TX_CHANNEL, VOTE_CHANNEL,
};
use phala_node::consensus::peers::KeysOnly;
use phala_primitives::extrinsic::AdditionalSigned;
use phala_primitives::{AccountId32, Era, H256, MultiAddress, SignedExtra};
use phala_runtime::modules::{balances, system, validators};
use phala_runtime::version::{SPEC_VERSION, TRANSACTION_VERSION};
use phala_runtime::{Ext, RuntimeCall, UncheckedExtrinsic};
use phala_state::StoreConfig;

pub type Ctx = deterministic::Context;

pub const NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];
pub const BLOCK_TIME_MS: u64 = 500;

/// Virtual wall-clock start (2026-01-01): block timestamps look like real ones.
const START: Duration = Duration::from_secs(1_767_225_600);

/// A runner for `seed`, bounded in virtual time so a stuck simulation fails instead of
/// spinning.
pub fn runner(seed: u64, limit: Duration) -> deterministic::Runner {
    let config = deterministic::Config::new()
        .with_seed(seed)
        .with_start_time(UNIX_EPOCH + START)
        .with_timeout(Some(limit));
    deterministic::Runner::new(config)
}

/// A local testnet of `validators` dev validators, `epoch_length`-block epochs.
pub fn spec(validators: usize, epoch_length: u32) -> ChainSpec {
    let mut spec = local_testnet("Sim", "sim", ChainType::Local, validators, 30333).unwrap();
    spec.block_time_ms = BLOCK_TIME_MS;
    spec.epoch_length = epoch_length;
    spec.unbonding_period = 4;
    spec
}

pub fn good_link() -> Link {
    Link {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(10),
        success_rate: probability!(1.0),
    }
}

pub fn consensus_key(name: &str) -> PrivateKey {
    let pair = Ed25519Pair::from_uri(&format!("//{name}")).unwrap();
    use commonware_codec::DecodeExt as _;
    PrivateKey::decode(bytes::Bytes::copy_from_slice(pair.seed().as_slice())).unwrap()
}

pub fn account(name: &str) -> AccountId32 {
    Sr25519Pair::from_uri(&format!("//{name}"))
        .unwrap()
        .account_id()
}

/// The genesis hash of `spec` (opens a throwaway store).
pub fn genesis_hash(spec: &ChainSpec) -> H256 {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::open(
        spec.clone(),
        StoreConfig::new(dir.path().join("g.redb")),
        PoolLimits::default(),
    )
    .unwrap();
    chain.genesis_hash()
}

/// A signed, immortal extrinsic. Signed outside the simulation (sr25519 signing draws
/// randomness), so two runs can submit the very same bytes.
pub fn signed(from: &str, nonce: u32, call: RuntimeCall, genesis: H256) -> Vec<u8> {
    let pair = Sr25519Pair::from_uri(&format!("//{from}")).unwrap();
    let extra = SignedExtra {
        era: Era::Immortal,
        nonce,
        tip: 0,
    };
    let additional = AdditionalSigned {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: genesis,
        birth_hash: genesis,
    };
    UncheckedExtrinsic::new_signed_sr25519(call, pair.account_id(), extra, &additional, |m| {
        pair.sign(m)
    })
    .encode()
}

/// `count` transfers of 1 PHA-unit multiples from //Ferdie to //Bob, nonces 0.. .
pub fn transfers(count: u32, genesis: H256) -> Vec<Vec<u8>> {
    (0..count)
        .map(|nonce| {
            let call = RuntimeCall::Balances(balances::Call::transfer_keep_alive {
                dest: MultiAddress::Id(account("Bob")),
                value: 1_000_000_000_000 + u128::from(nonce),
            });
            signed("Ferdie", nonce, call, genesis)
        })
        .collect()
}

pub struct SimNode {
    pub name: String,
    pub key: PrivateKey,
    /// The running node's chain, for observation; `None` while it is down.
    pub chain: Arc<Mutex<Option<Arc<Chain>>>>,
    pub handle: Option<Handle<()>>,
    pub base: PathBuf,
}

pub struct Sim {
    pub ctx: Ctx,
    pub spec: ChainSpec,
    pub oracle: Oracle<PublicKey, Ctx>,
    pub nodes: Vec<SimNode>,
    /// Nodes that run without a consensus key, admitted by everyone as followers.
    pub followers: Vec<usize>,
}

impl Sim {
    /// A network of `names` (validators or not, as `spec` says) with `link` between every
    /// pair; no node started yet.
    pub async fn new(ctx: &Ctx, spec: ChainSpec, dir: &Path, names: &[&str], link: Link) -> Sim {
        let max_committee = spec.committee_size.max(names.len() as u32);
        let (network, oracle) = Network::new(
            ctx.child("network"),
            simulated::Config {
                max_size: engine::max_message_size(max_committee),
                max_peers_per_set: NZUsize!(16),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(3),
            },
        );
        network.start();
        let nodes: Vec<SimNode> = names
            .iter()
            .enumerate()
            .map(|(i, name)| SimNode {
                name: name.to_string(),
                key: consensus_key(name),
                chain: Arc::new(Mutex::new(None)),
                handle: None,
                base: dir.join(format!("n{i}")),
            })
            .collect();
        let sim = Sim {
            ctx: ctx.child("sim"),
            spec,
            oracle,
            nodes,
            followers: Vec::new(),
        };
        sim.set_links(|_, _| Some(link.clone())).await;
        sim
    }

    pub fn key(&self, i: usize) -> PublicKey {
        self.nodes[i].key.public_key()
    }

    /// Replaces every directed link: `f(from, to)` gives the new one, `None` for none.
    pub async fn set_links(&self, f: impl Fn(usize, usize) -> Option<Link>) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if a == b {
                    continue;
                }
                let _ = self.oracle.remove_link(self.key(a), self.key(b)).await;
                if let Some(link) = f(a, b) {
                    self.oracle
                        .add_link(self.key(a), self.key(b), link)
                        .await
                        .unwrap();
                }
            }
        }
    }

    /// Cuts the network into `groups`; links inside a group stay `link`.
    pub async fn partition(&self, groups: &[&[usize]], link: Link) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        self.set_links(|a, b| {
            (group_of(a).is_some() && group_of(a) == group_of(b)).then(|| link.clone())
        })
        .await;
    }

    pub fn start(&mut self, i: usize) {
        assert!(self.nodes[i].handle.is_none(), "node {i} is running");
        let node = &self.nodes[i];
        let key = node.key.clone();
        let slot = node.chain.clone();
        let base = node.base.clone();
        let spec = self.spec.clone();
        let oracle = self.oracle.clone();
        let prefix = format!("n{i}");
        let follows = self.followers.contains(&i);
        let followers: Vec<_> = self
            .followers
            .iter()
            .map(|&f| (self.key(f), std::net::SocketAddr::from(([127, 0, 0, 1], 0))))
            .collect();
        let handle = self
            .ctx
            .child("node")
            .with_attribute("id", i)
            .spawn(move |ctx| async move {
                let chain = open_chain(&ctx, &spec, &base).await;
                *slot.lock().unwrap() = Some(chain.clone());
                let control = oracle.control(key.public_key());
                // Re-registering after a crash replaces the crashed instance's routes.
                let quota = Quota::per_second(NZU32!(4096));
                let channels = Channels {
                    vote: control.register(VOTE_CHANNEL, quota).await.unwrap(),
                    cert: control.register(CERT_CHANNEL, quota).await.unwrap(),
                    resolver: control.register(RESOLVER_CHANNEL, quota).await.unwrap(),
                    backfill: control.register(BACKFILL_CHANNEL, quota).await.unwrap(),
                    broadcast: control.register(BROADCAST_CHANNEL, quota).await.unwrap(),
                    transactions: control.register(TX_CHANNEL, quota).await.unwrap(),
                };
                let config = EngineConfig {
                    signer: (!follows).then(|| key.clone()),
                    identity: key.public_key(),
                    followers,
                    namespace: phala_light_client::namespace(&chain.genesis_hash()),
                    block_time: Duration::from_millis(spec.block_time_ms),
                    partition_prefix: prefix,
                };
                let engine = engine::start(
                    ctx.child("consensus"),
                    &config,
                    chain,
                    Arc::new(AtomicU64::new(0)),
                    control.clone(),
                    oracle.manager(),
                    KeysOnly(oracle.manager()),
                    channels,
                )
                .await
                .unwrap();
                match engine.orchestrator.await {
                    Ok(Ok(())) => {}
                    other => panic!("node {i}: orchestrator stopped: {other:?}"),
                }
            });
        self.nodes[i].handle = Some(handle);
    }

    /// Starts each of `nodes`.
    pub fn start_each(&mut self, nodes: impl IntoIterator<Item = usize>) {
        for i in nodes {
            self.start(i);
        }
    }

    /// Kills node `i` at whatever point it is.
    pub fn crash(&mut self, i: usize) {
        if let Some(handle) = self.nodes[i].handle.take() {
            handle.abort();
        }
        *self.nodes[i].chain.lock().unwrap() = None;
    }

    pub fn chain(&self, i: usize) -> Option<Arc<Chain>> {
        self.nodes[i].chain.lock().unwrap().clone()
    }

    /// Finalized height of node `i` (0 while it is down or opening).
    pub fn finalized(&self, i: usize) -> u32 {
        self.chain(i)
            .and_then(|c| c.finalized().ok())
            .map_or(0, |(n, _)| n)
    }

    pub fn heights(&self) -> Vec<u32> {
        (0..self.nodes.len()).map(|i| self.finalized(i)).collect()
    }

    /// Waits (virtual time, bounded) until every node in `which` has finalized `target`.
    pub async fn wait_for(&self, which: &[usize], target: u32, limit: Duration) {
        let start = self.ctx.current();
        while which.iter().any(|&i| self.finalized(i) < target) {
            let waited = self.ctx.current().duration_since(start).unwrap_or_default();
            assert!(
                waited < limit,
                "nodes {which:?} did not reach #{target} in {limit:?}: heights {:?}",
                self.heights()
            );
            self.ctx.sleep(Duration::from_millis(250)).await;
        }
    }

    /// The hash of finalized block `number` on node `i`.
    pub fn hash_at(&self, i: usize, number: u32) -> Option<H256> {
        let chain = self.chain(i)?;
        let (finalized, _) = chain.finalized().ok()?;
        if number > finalized {
            return None;
        }
        chain
            .store()
            .block_by_number(number)
            .ok()
            .flatten()
            .map(|b| b.hash())
    }

    /// No fork: every height finalized by two running nodes has the same block on both.
    /// Returns the highest height all running nodes agree on.
    pub fn assert_no_fork(&self) -> u32 {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.chain(i).is_some())
            .collect();
        let top = running
            .iter()
            .map(|&i| self.finalized(i))
            .max()
            .unwrap_or(0);
        for number in 0..=top {
            let mut seen: Option<(usize, H256)> = None;
            for &i in &running {
                if let Some(hash) = self.hash_at(i, number) {
                    match seen {
                        Some((j, other)) => assert_eq!(
                            other, hash,
                            "fork at #{number}: node {j} has {other:?}, node {i} has {hash:?}"
                        ),
                        None => seen = Some((i, hash)),
                    }
                }
            }
        }
        running
            .iter()
            .map(|&i| self.finalized(i))
            .min()
            .unwrap_or(0)
    }

    /// Hands `xt` to node `i`'s pool (as RPC would); gossip takes it to the others.
    pub fn submit(&self, i: usize, xt: Vec<u8>) {
        let chain = self.chain(i).expect("node is down");
        chain.submit(xt).unwrap();
    }

    /// Reads finalized state of node `i`.
    pub fn read<T>(&self, i: usize, f: impl FnOnce(&Ext) -> T) -> T {
        let chain = self.chain(i).expect("node is down");
        let view = chain.view(None).unwrap();
        let backend = phala_chain::backend::ViewBackend(&view);
        let ext = Ext::new(&backend);
        f(&ext)
    }

    pub fn nonce(&self, i: usize, who: &AccountId32) -> u32 {
        self.read(i, |ext| {
            system::ACCOUNT
                .get(ext, who)
                .map_or(0, |account| account.nonce)
        })
    }

    /// Consensus keys of the committee of `epoch` in node `i`'s finalized state.
    pub fn committee(&self, i: usize, epoch: u64) -> Option<Vec<[u8; 32]>> {
        self.read(i, |ext| {
            validators::committee(ext, epoch)
                .map(|members| members.iter().map(|m| m.consensus_key).collect())
        })
    }

    /// The state root at finalized height `number` on node `i`.
    pub fn state_root(&self, i: usize, number: u32) -> H256 {
        let chain = self.chain(i).unwrap();
        chain
            .store()
            .block_by_number(number)
            .unwrap()
            .unwrap()
            .header
            .state_root
    }
}

/// Opens a node's chain store. After a crash the aborted instance's tasks release the store
/// as the runtime drops them; until then the database is still locked, so retry briefly.
async fn open_chain(ctx: &Ctx, spec: &ChainSpec, base: &Path) -> Arc<Chain> {
    std::fs::create_dir_all(base).unwrap();
    let mut last = None;
    for _ in 0..100 {
        let mut store = StoreConfig::new(base.join("chain.redb"));
        store.cache_bytes = 8 * 1024 * 1024;
        match Chain::open(spec.clone(), store, PoolLimits::default()) {
            Ok(chain) => return chain,
            Err(e) => last = Some(e),
        }
        ctx.sleep(Duration::from_millis(10)).await;
    }
    panic!("cannot reopen the chain store: {last:?}");
}
