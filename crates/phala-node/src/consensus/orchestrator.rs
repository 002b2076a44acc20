//! One simplex engine per epoch, and the commit of every finalized block.
//!
//! Marshal delivers finalized blocks in height order, at least once, and waits for an
//! acknowledgement. For each block the orchestrator commits it (state, block, certificate)
//! to the chain store in one transaction; for the last block of an epoch it then reads the
//! next committee from the block's header, registers that epoch's scheme with marshal, tracks
//! the new peer set, stops the old engine and starts the new one — and only then
//! acknowledges. A crash at any point redelivers the block and the (idempotent) steps run
//! again.
//!
//! A node outside the committee runs no engine: it asks committee members for finalized
//! blocks above its height (marshal's `hint_finalized`) and follows. Messages for a later
//! epoch than ours mean the sender has finalized our epoch's boundary block; we fetch it from
//! them, which is how a node that was down catches up across epochs.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::marshal::Update;
use commonware_consensus::marshal::standard::Inline;
use commonware_consensus::simplex::{
    self, ForwardPolicy, SkipBudget, SkipPolicy, elector::RoundRobin,
};
use commonware_consensus::types::{Epoch, Epocher, Height, ViewDelta};
use commonware_consensus::{Heightable, Reporters};
use commonware_cryptography::Sha256;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::sha256::Digest;
use commonware_p2p::utils::mux::MuxHandle;
use commonware_p2p::{Blocker, Message, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::acknowledgement::Acknowledgement;
use commonware_utils::ordered::Set;
use commonware_utils::vec::NonEmptyVec;
use commonware_utils::{NZDuration, NZUsize};
use phala_chain::Chain;
use phala_primitives::consensus::CommitteeChange;
use phala_runtime::Ext;
use phala_runtime::modules::validators;
use tokio::sync::mpsc;

use super::app::{PhalaApp, Scheme};
use super::block::ConsensusBlock;
use super::engine::Marshal;
use super::epocher::ScheduleEpocher;
use super::evidence::EvidenceReporter;
use super::peers::{Peer, PeerTracker};
use super::provider::EpochProvider;

const MAILBOX: NonZeroUsize = NZUsize!(1024);
const IO_BUFFER: NonZeroUsize = NZUsize!(64 * 1024);
/// How often a node outside the committee asks for new finalized blocks.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// Heights asked for at once by a node known to be behind (all of them exist).
const CATCH_UP_WINDOW: u64 = 64;
/// How long a follower waits on the next height before fetching by ancestry instead.
const STALLED_AFTER: Duration = Duration::from_secs(3);
/// Heights asked for at each poll.
const POLL_WINDOW: u64 = 8;

pub type Backup = mpsc::Receiver<(u64, Message<PublicKey>)>;

struct Active {
    epoch: Epoch,
    committee: Set<PublicKey>,
    engine: Option<Handle<()>>,
}

pub struct Orchestrator<E, B, T, S>
where
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
{
    context: E,
    parts: OrchestratorParts<E, B, T, S>,
    active: Option<Active>,
    /// While following: the last processed height and when it last moved.
    progress: (Height, std::time::SystemTime),
    /// The latest epoch a committee member was heard in, when later than ours: we are behind
    /// and fetch finalized blocks by height, many at a time, instead of walking ancestry one
    /// round trip per block.
    behind: Option<Epoch>,
}

/// The first address `host:port` resolves to (none for unresolvable ones: such a peer is
/// simply not dialed).
fn resolve(address: &[u8]) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    std::str::from_utf8(address)
        .ok()?
        .to_socket_addrs()
        .ok()?
        .next()
}

fn public_key(bytes: &[u8; 32]) -> Option<PublicKey> {
    PublicKey::decode(Bytes::copy_from_slice(bytes)).ok()
}

/// What an [`Orchestrator`] is built from, wired up by `engine::start`.
pub struct OrchestratorParts<E, B, T, S>
where
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
{
    pub chain: Arc<Chain>,
    pub marshal: Marshal,
    pub inline: Inline<E, Scheme, PhalaApp, ConsensusBlock, ScheduleEpocher>,
    pub provider: EpochProvider,
    pub epocher: ScheduleEpocher,
    /// This validator's consensus key; `None` on a full node.
    pub signer: Option<PrivateKey>,
    pub namespace: Vec<u8>,
    pub block_time: Duration,
    pub partition_prefix: String,
    pub page_cache: CacheRef,
    pub blocker: B,
    pub tracker: T,
    pub vote: MuxHandle<S>,
    pub cert: MuxHandle<S>,
    pub resolver: MuxHandle<S>,
    /// Full nodes admitted as secondary peers in every epoch.
    pub followers: Vec<Peer>,
}

impl<E, B, T, S> Orchestrator<E, B, T, S>
where
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    B: Blocker<PublicKey = PublicKey>,
    T: PeerTracker,
    S: Sender<PublicKey = PublicKey>,
{
    pub fn new(context: E, parts: OrchestratorParts<E, B, T, S>) -> Self {
        Orchestrator {
            context,
            parts,
            active: None,
            progress: (Height::zero(), std::time::UNIX_EPOCH),
            behind: None,
        }
    }

    /// Runs until marshal closes its stream (shutdown) or a commit fails. A failed commit is
    /// fatal: acknowledging would make marshal skip a block the store does not have.
    pub async fn run(
        mut self,
        mut updates: mpsc::UnboundedReceiver<Update<ConsensusBlock>>,
        mut vote_backup: Backup,
        mut cert_backup: Backup,
    ) -> Result<(), String> {
        // Restart-safe start: the epoch of the next block marshal will deliver.
        let processed = self.parts.marshal.get_processed().await;
        let next = processed.map_or(Height::zero(), |p| p.height().next());
        // The chain store commits before marshal hears back, so the epocher (read from the
        // store) always covers the next block; if not, the two disagree and guessing an
        // epoch would leave the node in it forever.
        let epoch = self
            .parts
            .epocher
            .containing(next)
            .map(|i| i.epoch())
            .ok_or_else(|| {
                format!(
                    "the chain store is behind consensus storage: block #{} is past the epochs                      the store knows",
                    next.get()
                )
            })?;
        let (floor, keys) = self.committee_of(epoch)?;
        if let Some(previous) = epoch.previous()
            && let Ok((_, previous_keys)) = self.committee_of(previous)
        {
            // Late certificates of the previous epoch still need checking.
            let scheme = self.scheme_for(&previous_keys).0;
            self.parts.provider.register(previous, scheme);
        }
        tracing::info!(target: "consensus", epoch = epoch.get(), "starting consensus");
        self.enter(epoch, floor, &keys).await?;

        let mut last_hint = self.context.current();
        loop {
            let polling = self.polling();
            let tick = async {
                if polling {
                    self.context.sleep(POLL_EVERY).await
                } else {
                    futures::future::pending::<()>().await
                }
            };
            tokio::select! {
                // In order, not at random: the same seed must give the same run.
                biased;
                update = updates.recv() => {
                    let Some(update) = update else { return Ok(()) };
                    self.handle_update(update).await?;
                }
                message = vote_backup.recv() => {
                    let Some((their_epoch, (from, _))) = message else { return Ok(()) };
                    self.handle_backup(their_epoch, from, &mut last_hint);
                }
                message = cert_backup.recv() => {
                    let Some((their_epoch, (from, _))) = message else { return Ok(()) };
                    self.handle_backup(their_epoch, from, &mut last_hint);
                }
                _ = tick => self.poll().await,
            }
        }
    }

    /// The committee of `epoch` and the block it builds on: genesis for epoch 0, otherwise
    /// the (finalized, committed) boundary block of the epoch before, whose header announces
    /// the committee.
    fn committee_of(&self, epoch: Epoch) -> Result<(Digest, Vec<[u8; 32]>), String> {
        let (number, expected) = match epoch.previous() {
            None => (0u32, 0u64),
            Some(previous) => {
                let last = self
                    .parts
                    .epocher
                    .last(previous)
                    .ok_or("epoch out of range")?;
                (
                    u32::try_from(last.get()).map_err(|_| "height out of range")?,
                    epoch.get(),
                )
            }
        };
        let block = self
            .parts
            .chain
            .store()
            .block_by_number(number)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "boundary block #{number} of epoch {} is not in the store",
                    epoch.get()
                )
            })?;
        match CommitteeChange::from_header(&block.header) {
            Some(Ok(change)) if change.epoch == expected && !change.keys.is_empty() => {
                Ok((Digest(block.hash().0), change.keys))
            }
            _ => Err(format!(
                "block #{number} does not announce the committee of epoch {}",
                epoch.get()
            )),
        }
    }

    /// Our scheme for a committee: a signer if our key is in it, a verifier otherwise.
    fn scheme_for(&self, keys: &[[u8; 32]]) -> (Scheme, Set<PublicKey>, bool) {
        let set = Set::from_iter_dedup(keys.iter().filter_map(public_key));
        if let Some(key) = &self.parts.signer
            && let Some(scheme) = Scheme::signer(&self.parts.namespace, set.clone(), key.clone())
        {
            return (scheme, set, true);
        }
        (
            Scheme::verifier(&self.parts.namespace, set.clone()),
            set,
            false,
        )
    }

    /// Addresses of the committee (primary) and of the other candidates (secondary: they
    /// follow, and may be elected next), from the finalized state.
    fn peers(&self, epoch: Epoch) -> (Vec<Peer>, Vec<Peer>) {
        let Ok(view) = self.parts.chain.view(None) else {
            return (Vec::new(), Vec::new());
        };
        let backend = phala_chain::backend::ViewBackend(&view);
        let ext = Ext::new(&backend);
        let members = validators::committee(&ext, epoch.get()).unwrap_or_default();
        let primary: Vec<Peer> = members
            .iter()
            .filter_map(|m| Some((public_key(&m.consensus_key)?, resolve(&m.p2p_address)?)))
            .collect();
        let mut secondary: Vec<Peer> = validators::CANDIDATE_LIST
            .get_or_default(&ext)
            .iter()
            .filter_map(|account| validators::CANDIDATES.get(&ext, account))
            .filter(|c| !members.iter().any(|m| m.consensus_key == c.consensus_key))
            .filter_map(|c| Some((public_key(&c.consensus_key)?, resolve(&c.p2p_address)?)))
            .collect();
        secondary.extend(
            self.parts
                .followers
                .iter()
                .filter(|(key, _)| !primary.iter().any(|(k, _)| k == key))
                .cloned(),
        );
        (primary, secondary)
    }

    async fn enter(
        &mut self,
        epoch: Epoch,
        floor: Digest,
        keys: &[[u8; 32]],
    ) -> Result<(), String> {
        let (scheme, committee, signer) = self.scheme_for(keys);
        let scheme = self.parts.provider.register(epoch, scheme);
        let (primary, secondary) = self.peers(epoch);
        self.parts.tracker.track(epoch.get(), &primary, &secondary);
        if let Some(old) = self.active.take()
            && let Some(engine) = old.engine
        {
            engine.abort();
        }
        let engine = if signer {
            Some(
                self.start_engine(epoch, floor, scheme.as_ref().clone())
                    .await?,
            )
        } else {
            None
        };
        tracing::info!(target: "consensus", epoch = epoch.get(), committee = committee.len(), signing = signer, "entered epoch");
        self.active = Some(Active {
            epoch,
            committee,
            engine,
        });
        if let Some(previous) = epoch.previous() {
            self.parts.provider.retire_below(previous);
        }
        // The engine two epochs back stopped long ago and nothing restarts it: its journal
        // goes, or short epochs would leave a directory per epoch forever.
        if let Some(old) = epoch.get().checked_sub(2) {
            let partition = format!("{}-simplex-e{old}", self.parts.partition_prefix);
            if let Err(e) = self.context.remove(&partition, None).await
                && !matches!(e, commonware_runtime::Error::PartitionMissing(_))
            {
                tracing::warn!(target: "consensus", %partition, "cannot remove an old epoch's journal: {e}");
            }
        }
        Ok(())
    }

    async fn start_engine(
        &mut self,
        epoch: Epoch,
        floor: Digest,
        scheme: Scheme,
    ) -> Result<Handle<()>, String> {
        let block_time = self.parts.block_time;
        let reporter = Reporters::from((
            self.parts.inline.clone(),
            EvidenceReporter::new(self.parts.chain.clone()),
        ));
        let engine = simplex::Engine::new(
            self.context
                .child("simplex")
                .with_attribute("epoch", epoch.get()),
            simplex::Config {
                scheme,
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.parts.blocker.clone(),
                automaton: self.parts.inline.clone(),
                relay: self.parts.inline.clone(),
                reporter,
                track_historical_votes: false,
                strategy: Sequential,
                partition: format!("{}-simplex-e{}", self.parts.partition_prefix, epoch.get()),
                mailbox_size: MAILBOX,
                epoch,
                // The previous epoch's boundary block is this epoch's starting point.
                floor: simplex::Floor::Genesis(floor),
                replay_buffer: IO_BUFFER,
                write_buffer: IO_BUFFER,
                page_cache: self.parts.page_cache.clone(),
                // Timeouts count from the start of a view, which includes the leader's wait
                // for the block time: they must exceed it plus propagation and execution.
                leader_timeout: block_time
                    .saturating_mul(2)
                    .saturating_add(Duration::from_secs(1)),
                certification_timeout: block_time
                    .saturating_mul(2)
                    .saturating_add(Duration::from_secs(2)),
                timeout_retry: Duration::from_secs(1),
                view_retention: ViewDelta::new(10),
                skip: SkipPolicy::Enabled {
                    timeout: block_time
                        .saturating_mul(2)
                        .saturating_add(Duration::from_secs(10)),
                    budget: SkipBudget::Participants,
                },
                fetch_timeout: NZDuration!(Duration::from_secs(2)),
                fetch_retry_delay: Duration::from_millis(100),
                forward: ForwardPolicy::Disabled,
            },
        );
        let subchannel = epoch.get();
        let vote = self
            .parts
            .vote
            .register(subchannel)
            .await
            .map_err(|e| format!("vote channel: {e}"))?;
        let cert = self
            .parts
            .cert
            .register(subchannel)
            .await
            .map_err(|e| format!("certificate channel: {e}"))?;
        let resolver = self
            .parts
            .resolver
            .register(subchannel)
            .await
            .map_err(|e| format!("resolver channel: {e}"))?;
        Ok(engine.start(vote, cert, resolver))
    }

    async fn handle_update(&mut self, update: Update<ConsensusBlock>) -> Result<(), String> {
        let Update::Block(block, ack) = update else {
            return Ok(());
        };
        let height = block.height();
        if height.get() == 0 {
            ack.acknowledge();
            return Ok(());
        }
        // Marshal keeps a certificate for every block finalized by its own certificate; a
        // block finalized only through a descendant's certificate has none of its own.
        let certificate = self
            .parts
            .marshal
            .get_finalization(height)
            .await
            .map(|f| f.encode().to_vec())
            .unwrap_or_default();
        let chain = self.parts.chain.clone();
        let inner = block.inner().block().clone();
        let committed = self
            .context
            .child("commit")
            .shared(true)
            .spawn(move |_| async move { chain.finalize_block(&inner, &certificate) })
            .await;
        match committed {
            Ok(Ok(())) => {}
            // The next block needs a runtime this node lacks: stop here, before executing
            // it, with what to do. Acknowledged only if this block was committed (the
            // error can also come from importing it), so a node upgraded and restarted
            // gets it again.
            Ok(Err(e @ phala_chain::ChainError::UpgradeRequired(_))) => {
                if self
                    .parts
                    .chain
                    .finalized()
                    .is_ok_and(|(n, _)| u64::from(n) >= height.get())
                {
                    ack.acknowledge();
                }
                return Err(e.to_string());
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "cannot commit finalized block #{}: {e}",
                    height.get()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "commit task for block #{} failed: {e}",
                    height.get()
                ));
            }
        }
        let current = self
            .active
            .as_ref()
            .map(|a| a.epoch)
            .unwrap_or(Epoch::zero());
        if self.parts.epocher.last(current) == Some(height) {
            // The boundary may have changed the length of the epochs after it.
            self.parts.epocher.refresh(&self.parts.chain)?;
            let next = current.next();
            let (floor, keys) = self.committee_of(next)?;
            self.enter(next, floor, &keys).await?;
            // Catching up or following: ask for the new epoch's blocks now rather than at
            // the next tick, or every epoch costs a tick.
            if self.polling() {
                self.poll().await;
            }
        }
        // Only now: a crash before this redelivers the block and redoes the transition.
        ack.acknowledge();
        Ok(())
    }

    /// Whether we fetch finalized blocks ourselves: outside the committee, or behind it.
    fn polling(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.engine.is_none() || self.behind.is_some_and(|b| b > a.epoch))
    }

    /// A message for an epoch we run no engine for. From a committee member of a later
    /// epoch, it means our epoch's boundary block is final: fetch it from them. Rate-limited,
    /// and only for committee members, so outsiders cannot make us fetch.
    fn handle_backup(
        &mut self,
        their_epoch: u64,
        from: PublicKey,
        last_hint: &mut std::time::SystemTime,
    ) {
        let Some(active) = &self.active else { return };
        if their_epoch <= active.epoch.get() || active.committee.position(&from).is_none() {
            return;
        }
        let theirs = Epoch::new(their_epoch);
        if self.behind.is_none_or(|b| b < theirs) {
            self.behind = Some(theirs);
        }
        let now = self.context.current();
        if now.duration_since(*last_hint).unwrap_or_default() < Duration::from_millis(200) {
            return;
        }
        *last_hint = now;
        if let Some(boundary) = self.parts.epocher.last(active.epoch) {
            self.parts
                .marshal
                .hint_finalized(boundary, NonEmptyVec::new(from));
        }
    }

    /// Outside the committee: ask its members for the next finalized blocks, each with its
    /// own certificate (which this node then serves). Only when that stalls — a height
    /// finalized solely through a descendant has no certificate to fetch — ask for the
    /// epoch's boundary block too (which has its own), and take the blocks before it by
    /// ancestry.
    async fn poll(&mut self) {
        let Some(active) = &self.active else { return };
        let Ok(targets) =
            NonEmptyVec::try_from(active.committee.iter().cloned().collect::<Vec<_>>())
        else {
            return;
        };
        let Some(last) = self.parts.epocher.last(active.epoch) else {
            return;
        };
        let processed = self
            .parts
            .marshal
            .get_processed()
            .await
            .map_or(Height::zero(), |p| p.height());
        let now = self.context.current();
        if processed != self.progress.0 {
            self.progress = (processed, now);
        }
        let behind = self.behind.is_some_and(|b| b > active.epoch);
        let window = if behind { CATCH_UP_WINDOW } else { POLL_WINDOW };
        let mut height = processed.next();
        for _ in 0..window {
            if height > last {
                break;
            }
            self.parts.marshal.hint_finalized(height, targets.clone());
            height = height.next();
        }
        if now.duration_since(self.progress.1).unwrap_or_default() >= STALLED_AFTER {
            self.parts.marshal.hint_finalized(last, targets);
        }
    }
}
