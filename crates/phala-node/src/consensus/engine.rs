//! Wiring of the consensus stack: block dissemination (buffered broadcast), marshal (ordered
//! finalized blocks, backfill), epoch-multiplexed simplex channels, the orchestrator that runs
//! one simplex engine per epoch, and transaction gossip.
//!
//! Generic over the runtime and the p2p channels, so the same code runs on the tokio runtime
//! with authenticated p2p in production and on the deterministic runtime with a simulated
//! network in tests.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use commonware_actor::Feedback;
use commonware_broadcast::buffered;
use commonware_consensus::Reporter;
use commonware_consensus::marshal::core::{Actor as MarshalActor, Mailbox as MarshalMailbox};
use commonware_consensus::marshal::resolver::p2p as marshal_resolver;
use commonware_consensus::marshal::standard::{Inline, Standard};
use commonware_consensus::marshal::{self, Update};
use commonware_consensus::simplex::{self, types::Finalization};
use commonware_consensus::types::ViewDelta;
use commonware_cryptography::Digested;
use commonware_cryptography::certificate::Verifier as _;
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::sha256::Digest;
use commonware_p2p::utils::mux::{self, Builder as _, Muxer};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_storage::archive::immutable;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use phala_chain::Chain;
use tokio::sync::mpsc;

use super::app::{PhalaApp, Scheme};
use super::block::{ConsensusBlock, MAX_BLOCK_BYTES, digest_of};
use super::epocher::ScheduleEpocher;
use super::guard::Guarded;
use super::orchestrator::{Orchestrator, OrchestratorParts};
use super::peers::PeerTracker;
use super::provider::EpochProvider;

pub const VOTE_CHANNEL: u64 = 0;
pub const CERT_CHANNEL: u64 = 1;
pub const RESOLVER_CHANNEL: u64 = 2;
pub const BACKFILL_CHANNEL: u64 = 3;
pub const BROADCAST_CHANNEL: u64 = 4;
pub const TX_CHANNEL: u64 = 5;

const MAILBOX: NonZeroUsize = NZUsize!(1024);
const IO_BUFFER: NonZeroUsize = NZUsize!(64 * 1024);

pub type Marshal = MarshalMailbox<Scheme, Standard<ConsensusBlock>>;
pub type BlockFinalization = Finalization<Scheme, Digest>;

/// Static inputs of the consensus stack.
pub struct EngineConfig {
    /// This node's consensus key; `None` for a node that only follows.
    pub signer: Option<PrivateKey>,
    /// Its p2p identity (the consensus key's public key for validators).
    pub identity: PublicKey,
    /// Full nodes let in as secondary peers, beside the chain's candidates.
    pub followers: Vec<super::peers::Peer>,
    /// Domain separator of every consensus signature: certificates from another chain never
    /// verify here.
    pub namespace: Vec<u8>,
    pub block_time: Duration,
    pub partition_prefix: String,
}

/// Largest message any component sends, for sizing the p2p network, with committees of up to
/// `max_committee` members.
pub fn max_message_size(max_committee: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        mux::prefixed(simplex::max_payload_size::<Scheme, Digest>(max_committee)),
        marshal::max_payload_size::<Standard<ConsensusBlock>, Scheme>(
            max_committee,
            &MAX_BLOCK_BYTES,
        ),
        phala_primitives::block::MAX_EXTRINSIC_LEN,
    ])
}

/// Forwards marshal's in-order stream of finalized blocks to the orchestrator.
#[derive(Clone)]
struct UpdateForwarder(mpsc::UnboundedSender<Update<ConsensusBlock>>);

impl Reporter for UpdateForwarder {
    type Activity = Update<ConsensusBlock>;
    fn report(&mut self, update: Self::Activity) -> Feedback {
        match self.0.send(update) {
            Ok(()) => Feedback::Ok,
            Err(_) => Feedback::Closed,
        }
    }
}

/// A running consensus stack.
pub struct Engine {
    pub marshal: Marshal,
    /// Ends with an error if a finalized block cannot be committed.
    pub orchestrator: Handle<Result<(), String>>,
    pub handles: Vec<Handle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("consensus storage failed to open: {0}")]
    Storage(String),
    #[error("the chain store has no genesis block")]
    NoGenesis,
}

/// The p2p channels the stack uses, in channel-id order.
pub struct Channels<S, R> {
    pub vote: (S, R),
    pub cert: (S, R),
    pub resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub transactions: (S, R),
}

#[allow(clippy::too_many_arguments)]
pub async fn start<E, Bl, Pp, T, S, R>(
    context: E,
    config: &EngineConfig,
    chain: Arc<Chain>,
    best_height: Arc<AtomicU64>,
    blocker: Bl,
    peers: Pp,
    tracker: T,
    channels: Channels<S, R>,
) -> Result<Engine, EngineError>
where
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    Bl: Blocker<PublicKey = PublicKey>,
    Pp: Provider<PublicKey = PublicKey>,
    T: PeerTracker,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let me = config.identity.clone();
    let prefix = &config.partition_prefix;
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(1024));
    let epocher = ScheduleEpocher::load(&chain).map_err(EngineError::Storage)?;

    let genesis = chain
        .store()
        .block_by_number(0)
        .map_err(|e| EngineError::Storage(e.to_string()))?
        .ok_or(EngineError::NoGenesis)?;
    let genesis = ConsensusBlock::new(genesis);
    let genesis_digest = digest_of(&genesis.hash());

    let (broadcast_engine, buffer) = buffered::Engine::<_, _, ConsensusBlock, _, _>::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: MAILBOX,
            deque_size: 10,
            priority: false,
            codec_config: MAX_BLOCK_BYTES,
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    let (broadcast_sender, broadcast_receiver) = channels.broadcast;
    let broadcast_receiver =
        Guarded::<_, _, ConsensusBlock>::new(broadcast_receiver, blocker.clone(), MAX_BLOCK_BYTES);
    let broadcast_handle = broadcast_engine.start((broadcast_sender, broadcast_receiver));

    let resolver_engine = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: MAILBOX,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    let archive_config = |name: &str, codec_config| immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
        freezer_table_initial_size: 65_536,
        freezer_table_resize_frequency: 4,
        freezer_table_resize_chunk_size: 16_384,
        freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
        freezer_value_target_size: 1024 * 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        items_per_section: NZU64!(262_144),
        freezer_key_write_buffer: IO_BUFFER,
        freezer_value_write_buffer: IO_BUFFER,
        ordinal_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
        codec_config,
    };
    // Certificates of every committee share this archive: it is local, trusted storage.
    let finalizations = immutable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            "finalizations-by-height",
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .map_err(|e| EngineError::Storage(e.to_string()))?;
    let blocks = immutable::Archive::init(
        context.child("finalized_blocks"),
        archive_config("finalized-blocks", MAX_BLOCK_BYTES),
    )
    .await
    .map_err(|e| EngineError::Storage(e.to_string()))?;

    let provider = EpochProvider::default();
    let (marshal_actor, marshal, _floor) =
        MarshalActor::<_, Standard<ConsensusBlock>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: provider.clone(),
                epocher: epocher.clone(),
                start: marshal::Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
                partition_prefix: format!("{prefix}-marshal"),
                mailbox_size: MAILBOX,
                view_retention: ViewDelta::new(10),
                prunable_items_per_section: NZU64!(4096),
                page_cache: page_cache.clone(),
                replay_buffer: IO_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: MAX_BLOCK_BYTES,
                max_repair: NZUsize!(10),
                max_pending_acks: NZUsize!(1),
                strategy: Sequential,
            },
        )
        .await;

    let app = PhalaApp {
        chain: chain.clone(),
        block_time: config.block_time,
        best_height,
    };
    // One wrapper for every epoch: its state is keyed by (epoch, view).
    let inline = Inline::new(
        context.child("application"),
        app,
        marshal.clone(),
        epocher.clone(),
    );

    // Simplex channels carry an epoch prefix, so each epoch's engine has its own; traffic for
    // an epoch we run no engine for lands in the backup queues (see the orchestrator).
    let (vote_mux, vote_handle, vote_backup) =
        Muxer::builder(context.child("vote_mux"), channels.vote.0, channels.vote.1)
            .with_backup()
            .build();
    let (cert_mux, cert_handle, cert_backup) =
        Muxer::builder(context.child("cert_mux"), channels.cert.0, channels.cert.1)
            .with_backup()
            .build();
    let (resolver_mux, resolver_handle) = Muxer::new(
        context.child("resolver_mux"),
        channels.resolver.0,
        channels.resolver.1,
    );
    vote_mux.start();
    cert_mux.start();
    resolver_mux.start();

    let (updates_tx, updates) = mpsc::unbounded_channel();
    let marshal_handle = marshal_actor.start(UpdateForwarder(updates_tx), buffer, resolver_engine);

    let orchestrator = Orchestrator::new(
        context.child("orchestrator"),
        OrchestratorParts {
            chain: chain.clone(),
            marshal: marshal.clone(),
            inline,
            provider,
            epocher,
            signer: config.signer.clone(),
            namespace: config.namespace.clone(),
            block_time: config.block_time,
            partition_prefix: config.partition_prefix.clone(),
            page_cache,
            blocker: blocker.clone(),
            tracker,
            vote: vote_handle,
            cert: cert_handle,
            resolver: resolver_handle,
            followers: config.followers.clone(),
        },
    );
    let orchestrator = context
        .child("orchestrator_task")
        .spawn(move |_| orchestrator.run(updates, vote_backup, cert_backup));

    let (tx_sender, tx_receiver) = channels.transactions;
    let gossip = context
        .child("gossip")
        .spawn(move |ctx| super::gossip::run(ctx, chain, tx_sender, tx_receiver, blocker));

    Ok(Engine {
        marshal,
        orchestrator,
        handles: vec![broadcast_handle, marshal_handle, gossip],
    })
}
