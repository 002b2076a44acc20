//! Wiring of the consensus stack: block dissemination (buffered broadcast), marshal (ordered
//! finalized blocks, backfill) and one simplex engine.
//!
//! Generic over the runtime and the p2p channels so the same code runs on the tokio runtime
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
use commonware_consensus::simplex::{
    self, ForwardPolicy, SkipBudget, SkipPolicy, elector::RoundRobin, types::Finalization,
};
use commonware_consensus::types::{Epoch, FixedEpocher, ViewDelta};
use commonware_cryptography::certificate::{ConstantProvider, Verifier as _};
use commonware_cryptography::ed25519::{PrivateKey, PublicKey};
use commonware_cryptography::sha256::Digest;
use commonware_cryptography::{Digested, Sha256, Signer};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_storage::archive::immutable;
use commonware_utils::ordered::Set;
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use phala_chain::Chain;
use tokio::sync::mpsc;

use super::app::{PhalaApp, Scheme};
use super::block::{ConsensusBlock, MAX_BLOCK_BYTES, digest_of};

pub const VOTE_CHANNEL: u64 = 0;
pub const CERT_CHANNEL: u64 = 1;
pub const RESOLVER_CHANNEL: u64 = 2;
pub const BACKFILL_CHANNEL: u64 = 3;
pub const BROADCAST_CHANNEL: u64 = 4;

const MAILBOX: NonZeroUsize = NZUsize!(1024);
const IO_BUFFER: NonZeroUsize = NZUsize!(64 * 1024);

pub type Marshal = MarshalMailbox<Scheme, Standard<ConsensusBlock>>;
pub type BlockFinalization = Finalization<Scheme, Digest>;

/// Static inputs of the consensus stack.
pub struct EngineConfig {
    pub signer: PrivateKey,
    pub participants: Set<PublicKey>,
    /// Domain separator of every consensus signature: certificates from another chain never
    /// verify here.
    pub namespace: Vec<u8>,
    pub block_time: Duration,
    pub partition_prefix: String,
}

/// Largest message any consensus component sends, for sizing the p2p network.
pub fn max_message_size(participants: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, Digest>(participants),
        marshal::max_payload_size::<Standard<ConsensusBlock>, Scheme>(
            participants,
            &MAX_BLOCK_BYTES,
        ),
    ])
}

/// Forwards marshal's in-order stream of finalized blocks to the finalizer task.
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
    /// Finalized blocks in height order, each to be acknowledged once committed.
    pub updates: mpsc::UnboundedReceiver<Update<ConsensusBlock>>,
    pub handles: Vec<Handle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("this node's consensus key is not in the chain's validator set")]
    NotAValidator,
    #[error("consensus storage failed to open: {0}")]
    Storage(String),
    #[error("the chain store has no genesis block")]
    NoGenesis,
}

type Channel<S, R> = (S, R);

#[allow(clippy::too_many_arguments)]
pub async fn start<E, Bl, Pp, VS, VR, CS, CR, RS, RR, BS, BR, XS, XR>(
    context: E,
    config: &EngineConfig,
    chain: Arc<Chain>,
    best_height: Arc<AtomicU64>,
    blocker: Bl,
    peers: Pp,
    vote: Channel<VS, VR>,
    cert: Channel<CS, CR>,
    resolver: Channel<RS, RR>,
    backfill: Channel<BS, BR>,
    broadcast: Channel<XS, XR>,
) -> Result<Engine, EngineError>
where
    E: Spawner + Clock + Metrics + Storage + rand_core::CryptoRng,
    Bl: Blocker<PublicKey = PublicKey>,
    Pp: Provider<PublicKey = PublicKey>,
    VS: Sender<PublicKey = PublicKey>,
    VR: Receiver<PublicKey = PublicKey>,
    CS: Sender<PublicKey = PublicKey>,
    CR: Receiver<PublicKey = PublicKey>,
    RS: Sender<PublicKey = PublicKey>,
    RR: Receiver<PublicKey = PublicKey>,
    BS: Sender<PublicKey = PublicKey>,
    BR: Receiver<PublicKey = PublicKey>,
    XS: Sender<PublicKey = PublicKey>,
    XR: Receiver<PublicKey = PublicKey>,
{
    let me = config.signer.public_key();
    let scheme = Scheme::signer(
        &config.namespace,
        config.participants.clone(),
        config.signer.clone(),
    )
    .ok_or(EngineError::NotAValidator)?;
    let prefix = &config.partition_prefix;
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(1024));
    // One epoch for the whole chain until validator elections exist: `FixedEpocher` needs a
    // length above 1, and u64::MAX heights is forever.
    let epocher = FixedEpocher::new(NZU64!(u64::MAX));

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
    let broadcast_handle = broadcast_engine.start(broadcast);

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
        backfill,
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

    let (marshal_actor, marshal, _floor) =
        MarshalActor::<_, Standard<ConsensusBlock>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: ConstantProvider::<Scheme, Epoch>::new(scheme.clone()),
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
        chain,
        block_time: config.block_time,
        best_height,
    };
    let inline = Inline::new(context.child("application"), app, marshal.clone(), epocher);

    // Timeouts count from the start of a view, which includes the leader's wait for the block
    // time: they must exceed the block time plus propagation and execution.
    let block_time = config.block_time;
    let engine = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            track_historical_votes: false,
            strategy: Sequential,
            partition: format!("{prefix}-simplex-e0"),
            mailbox_size: MAILBOX,
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
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
    let engine_handle = engine.start(vote, cert, resolver);

    let (updates_tx, updates) = mpsc::unbounded_channel();
    let marshal_handle = marshal_actor.start(UpdateForwarder(updates_tx), buffer, resolver_engine);

    Ok(Engine {
        marshal,
        updates,
        handles: vec![broadcast_handle, engine_handle, marshal_handle],
    })
}
