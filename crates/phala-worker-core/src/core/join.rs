//! A worker added to a cluster that exists (`contracts.addClusterWorker`) needs the
//! cluster's state before it can run the cluster's commands: the contracts' storage and the
//! analytics sites, as every member holds them.
//!
//! - When its key comes (a [`ClusterEvent::MemberKey`](phala_mq::topics::ClusterEvent)
//!   at block K), the worker keeps the cluster's commands of every later block, unapplied.
//! - A member seals its state as of its newest block S under a key derived from the cluster
//!   key ([`seal_state`]); the host fetches it from a member's `GET /cluster/state`.
//! - The worker opens it (only a holder of the cluster key could have made it, so the host
//!   can neither read nor forge it), checks S ≥ K, installs it and replays the commands it
//!   kept from the blocks after S. It then tells the chain ([`ClusterStateReady`]), which
//!   adds it to the reporting turns.
//!
//! A host that hands over a stale state achieves nothing: any state from K on, with the
//! commands since replayed, is the state every member holds. One from before K is refused.
//! The commands kept are bounded: past [`MAX_KEPT_BYTES`] they are dropped and a state from
//! the current block on is asked for instead. The member's privacy ledger stays with the
//! member; the new worker counts its share of today's budgets as spent.

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_mq::Message;
use phala_mq::topics::{CLUSTER_STATE_READY, ClusterStateReady};
use phala_primitives::{BlockNumber, H256};

use super::{CoreState, Outcome, WorkerCore};
use crate::analytics::AnalyticsState;
use crate::contracts::ContractsState;
use crate::gatekeeper::ClusterKey;

/// Most bytes of commands a joining worker keeps while it waits for a member's state.
pub const MAX_KEPT_BYTES: u64 = 64 * 1024 * 1024;
/// Most blocks it keeps (a day and more at one block a second).
pub const MAX_KEPT_BLOCKS: usize = 200_000;
/// Largest sealed state a worker takes.
pub const MAX_STATE_BYTES: usize = 1024 * 1024 * 1024;

/// [`MAX_STATE_BYTES`] and room for the framing, as bytes a host may read.
pub const fn max_sealed_state_bytes() -> u64 {
    MAX_STATE_BYTES as u64 + 1024
}
const AAD_LABEL: &[u8] = b"phala/cluster-state/v1";

/// A joining worker's wait for its cluster's state (sealed in the checkpoint).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Joining {
    /// The oldest block a member's state may be from.
    pub min_state_at: BlockNumber,
    /// The cluster's commands of each block since, to replay over the state.
    pub kept: Vec<KeptBlock>,
    pub kept_bytes: u64,
}

/// One block's cluster commands, in chain order, with the block's time.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct KeptBlock {
    pub number: BlockNumber,
    pub timestamp_ms: u64,
    pub messages: Vec<Message>,
}

impl Joining {
    pub fn new(from: BlockNumber) -> Self {
        Joining {
            min_state_at: from,
            ..Default::default()
        }
    }

    /// Keeps block `number`'s cluster messages; says so if the bound made it start over.
    pub(super) fn keep(
        &mut self,
        number: BlockNumber,
        timestamp_ms: u64,
        messages: Vec<Message>,
    ) -> Option<String> {
        if number <= self.min_state_at {
            return None;
        }
        let size = u64::try_from(messages.encoded_size())
            .unwrap_or(u64::MAX)
            .saturating_add(16);
        if self.kept.len() >= MAX_KEPT_BLOCKS
            || self.kept_bytes.saturating_add(size) > MAX_KEPT_BYTES
        {
            *self = Joining::new(number);
            return Some(format!(
                "no member's state came while this worker kept the cluster's commands (the \
                 most it keeps): it now needs a state from block #{number} on"
            ));
        }
        self.kept_bytes = self.kept_bytes.saturating_add(size);
        self.kept.push(KeptBlock {
            number,
            timestamp_ms,
            messages,
        });
        None
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinError {
    #[error("this worker is not waiting for a cluster's state")]
    NotJoining,
    #[error("this worker holds no cluster key")]
    NoCluster,
    #[error("this worker is joining its cluster and does not hold its state yet")]
    Joining,
    #[error("the cluster state is larger than {MAX_STATE_BYTES} bytes")]
    TooLarge,
    #[error("the cluster state does not decode: {0}")]
    Malformed(String),
    #[error("the state is cluster {0}'s, not this worker's")]
    OtherCluster(H256),
    #[error("the state does not open under the cluster key: forged, damaged or another cluster's")]
    DoesNotOpen,
    #[error(
        "the state is from block #{at}, before this worker joined at #{min}: ask a member that \
         has followed the chain further"
    )]
    TooOld { at: BlockNumber, min: BlockNumber },
    #[error(
        "the state is from block #{at}, ahead of this worker's #{head}: install it once synced"
    )]
    AheadOfThisWorker { at: BlockNumber, head: BlockNumber },
    #[error("{} uploaded code(s) the state uses are not loaded yet", .0.len())]
    MissingCodes(Vec<[u8; 32]>),
    #[error("sealing the state failed: {0}")]
    Seal(String),
}

/// What travels from a member to a joining worker: the cluster id (32 bytes), the block
/// (u32, little-endian), then the sealed box to the end. Read in place, never copied.
const HEADER_LEN: usize = 36;

#[derive(Encode)]
struct PlainRef<'a> {
    contracts: &'a ContractsState,
    analytics: &'a AnalyticsState,
}

#[derive(Decode)]
struct Plain {
    contracts: ContractsState,
    analytics: AnalyticsState,
}

fn transfer_key(cluster: &ClusterKey) -> zeroize::Zeroizing<[u8; 32]> {
    phala_crypto::kdf::derive(
        cluster.seed.expose(),
        "cluster_state",
        cluster.cluster.as_bytes(),
    )
}

fn aad(genesis: &H256, cluster: &H256, at: BlockNumber) -> Vec<u8> {
    (AAD_LABEL, genesis, cluster, at).encode()
}

/// A member's state as of block `at` of chain `genesis`, sealed under its cluster's key.
/// The member's own privacy ledger stays behind: it is that member's spending.
pub fn seal_state(
    rng: &mut impl rand_core::CryptoRng,
    genesis: &H256,
    cluster: &ClusterKey,
    at: BlockNumber,
    contracts: &ContractsState,
    analytics: &AnalyticsState,
) -> Result<Vec<u8>, JoinError> {
    let analytics = AnalyticsState {
        sites: analytics.sites.clone(),
        ledger: Default::default(),
    };
    let plain = zeroize::Zeroizing::new(
        PlainRef {
            contracts,
            analytics: &analytics,
        }
        .encode(),
    );
    if plain.len() > MAX_STATE_BYTES {
        return Err(JoinError::TooLarge);
    }
    let sealed = phala_crypto::secretbox::seal(
        rng,
        &transfer_key(cluster),
        &aad(genesis, &cluster.cluster, at),
        &plain,
    )
    .map_err(|e| JoinError::Seal(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(sealed.len()));
    out.extend_from_slice(cluster.cluster.as_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens a sealed state: its block and contents.
fn open_state(
    genesis: &H256,
    cluster: &ClusterKey,
    bytes: &[u8],
) -> Result<(BlockNumber, ContractsState, AnalyticsState), JoinError> {
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_sealed_state_bytes() {
        return Err(JoinError::TooLarge);
    }
    let (id, rest) = bytes
        .split_first_chunk::<32>()
        .ok_or_else(|| JoinError::Malformed("shorter than its header".into()))?;
    let (at, sealed) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| JoinError::Malformed("shorter than its header".into()))?;
    let (id, at) = (H256(*id), BlockNumber::from_le_bytes(*at));
    if id != cluster.cluster {
        return Err(JoinError::OtherCluster(id));
    }
    let plain =
        phala_crypto::secretbox::open(&transfer_key(cluster), &aad(genesis, &id, at), sealed)
            .map_err(|_| JoinError::DoesNotOpen)?;
    let Plain {
        contracts,
        analytics,
    } = Plain::decode_all_with_depth_limit(32, &mut plain.as_slice())
        .map_err(|e| JoinError::Malformed(e.to_string()))?;
    Ok((at, contracts, analytics))
}

/// Whether `message` is one a joining worker of `cluster` keeps rather than applies: the
/// cluster's contract instantiations and calls and its analytics messages, and code uploads
/// (contracts can ask whether a code exists, so uploads must replay in their place among
/// the commands). Reassignments are for members that report.
pub(super) fn is_kept(message: &Message, cluster: &H256) -> bool {
    use phala_mq::contracts::ContractCommand;
    match super::contract_command(message) {
        Some(ContractCommand::CodeUploaded { .. }) => true,
        Some(
            ContractCommand::Instantiate { cluster: c, .. }
            | ContractCommand::Call { cluster: c, .. }
            | ContractCommand::Deliver { cluster: c, .. },
        ) => c == *cluster,
        Some(ContractCommand::Reassign { .. }) => false,
        None => {
            message.sender == phala_mq::MessageOrigin::pallet("Analytics")
                && message.destination == phala_mq::analytics::ANALYTICS_COMMAND
                && phala_mq::analytics::AnalyticsMessage::decode_all_with_depth_limit(
                    8,
                    &mut message.payload.as_slice(),
                )
                .is_ok_and(|m| m.cluster == *cluster)
        }
    }
}

impl WorkerCore {
    /// The cluster this worker is joining and the oldest block a state for it may be
    /// from, while it waits for one.
    pub fn joining(&self) -> Option<(H256, BlockNumber)> {
        let joining = self.state.joining.as_ref()?;
        let cluster = self.state.cluster_key.as_ref()?;
        Some((cluster.cluster, joining.min_state_at))
    }

    /// Installs a member's sealed state and replays the cluster's commands kept since, then
    /// queues the word to the chain that this worker holds the state. Nothing changes on
    /// an error.
    pub fn install_cluster_state(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        bytes: &[u8],
    ) -> Result<Outcome, JoinError> {
        let joining = self.state.joining.as_ref().ok_or(JoinError::NotJoining)?;
        let cluster = self
            .state
            .cluster_key
            .as_ref()
            .ok_or(JoinError::NoCluster)?;
        let (at, contracts, analytics) = open_state(&self.genesis_hash(), cluster, bytes)?;
        if at < joining.min_state_at {
            return Err(JoinError::TooOld {
                at,
                min: joining.min_state_at,
            });
        }
        let head = self.head().0;
        if at > head {
            return Err(JoinError::AheadOfThisWorker { at, head });
        }
        let missing: Vec<[u8; 32]> = contracts
            .codes
            .iter()
            .filter(|c| !self.contract_runtime.codes.contains(c))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(JoinError::MissingCodes(missing));
        }

        // Everything is checked: the kept commands are taken rather than cloned, and
        // nothing below returns early.
        let joining = self.state.joining.take().unwrap_or_default();
        let mut state: CoreState = self.state.clone();
        state.contracts = std::sync::Arc::new(contracts);
        state.analytics = std::sync::Arc::new(analytics);
        let me = self.keys.pubkey();
        let ecdh = self.keys.ecdh_pubkey();
        let mut outcome = Outcome::default();
        let mut replayed = 0usize;
        for block in joining.kept.into_iter().filter(|b| b.number > at) {
            for message in &block.messages {
                if let Some(command) = super::contract_command(message) {
                    let report = self.contract_runtime.command(
                        rng,
                        &mut state.contracts,
                        state.cluster_key.as_ref(),
                        ecdh,
                        (block.number, block.timestamp_ms),
                        command,
                        &mut outcome.notes,
                    );
                    // Not a reporter yet; kept in case the chain asks this worker later.
                    if let Some((report, reporter)) = report
                        && reporter != me
                    {
                        let phala_mq::contracts::ContractReport::Executed { id, .. } = &report;
                        self.held_reports.insert(*id, report.encode());
                    }
                } else {
                    let note = std::sync::Arc::make_mut(&mut state.analytics).on_message(
                        message,
                        state.cluster_key.as_ref(),
                        block.timestamp_ms,
                    );
                    outcome.notes.extend(note);
                }
                replayed = replayed.saturating_add(1);
            }
            if !state.analytics.sites.is_empty() {
                std::sync::Arc::make_mut(&mut state.analytics)
                    .end_block(block.timestamp_ms, block.number);
            }
        }
        // The ε this worker's share may spend today could already be spent by the member
        // whose state it took, or by members that shared the budget with one fewer: it
        // answers no noisy analysis until tomorrow (UTC).
        let ledger = crate::analytics::dp::SharedLedger::default();
        for site in state.analytics.sites.keys() {
            ledger.exhaust(*site, state.timestamp_ms);
        }
        std::sync::Arc::make_mut(&mut state.analytics).ledger = ledger;
        while self.held_reports.len() > super::MAX_HELD_REPORTS {
            self.held_reports.pop_first();
        }
        let cluster_id = state
            .cluster_key
            .as_ref()
            .map(|c| c.cluster)
            .unwrap_or_default();
        outcome.notes.push(format!(
            "installed cluster {cluster_id}'s state as of block #{at} and replayed {replayed} \
             command(s) since: telling the chain this worker holds it"
        ));
        self.state = state;
        let _ = self.send(
            CLUSTER_STATE_READY,
            ClusterStateReady {
                cluster: cluster_id,
                at,
            }
            .encode(),
        );
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phala_crypto::keys::Seed;
    use phala_mq::MessageOrigin;
    use phala_mq::analytics::{ANALYTICS_COMMAND, AnalyticsCommand, AnalyticsMessage, SiteConfig};
    use phala_primitives::AccountId32;
    use proptest::prelude::*;

    const NOON: u64 = 20_000 * 86_400_000 + 12 * 3_600_000;

    fn cluster() -> ClusterKey {
        ClusterKey {
            cluster: H256([3; 32]),
            seed: Seed::from_bytes([9; 32]),
            members: 2,
        }
    }

    fn analytics_message(cluster: H256, command: AnalyticsCommand) -> Message {
        Message::new(
            MessageOrigin::pallet("Analytics"),
            ANALYTICS_COMMAND,
            AnalyticsMessage { cluster, command }.encode(),
        )
    }

    fn site(site: u64) -> Message {
        analytics_message(
            cluster().cluster,
            AnalyticsCommand::SiteConfigured {
                site,
                owner: AccountId32([1; 32]),
                domain: format!("site{site}.example").into_bytes(),
                config: SiteConfig {
                    retention_days: 30,
                    purposes: 7,
                    min_cohort: 5,
                    dp: None,
                },
            },
        )
    }

    fn code_uploaded(hash: [u8; 32]) -> Message {
        Message::new(
            MessageOrigin::pallet("Contracts"),
            phala_mq::contracts::CONTRACT_COMMAND,
            phala_mq::contracts::ContractCommand::CodeUploaded {
                code_hash: H256(hash),
            }
            .encode(),
        )
    }

    /// What a member holds after applying `messages` in order.
    fn member(messages: &[Message]) -> (ContractsState, AnalyticsState) {
        let mut contracts = ContractsState {
            commands_run: 7,
            ..Default::default()
        };
        contracts
            .storage
            .insert(([4; 32], b"key".to_vec()), b"value".to_vec());
        let mut analytics = AnalyticsState::default();
        for m in messages {
            analytics.on_message(m, Some(&cluster()), NOON);
        }
        (contracts, analytics)
    }

    /// A worker just given the key of a cluster that exists, at genesis.
    fn joiner(dir: &std::path::Path) -> WorkerCore {
        let mut core = crate::test_support::worker(dir);
        core.state.cluster_key = Some(cluster());
        core.state.joining = Some(Joining::new(0));
        core.state.timestamp_ms = NOON;
        core
    }

    fn sealed_on(
        genesis: &H256,
        at: BlockNumber,
        key: &ClusterKey,
        state: &(ContractsState, AnalyticsState),
    ) -> Vec<u8> {
        let rng = &mut commonware_utils::test_rng();
        seal_state(rng, genesis, key, at, &state.0, &state.1).unwrap()
    }

    /// Sealed on the joiner's chain.
    fn sealed(
        at: BlockNumber,
        key: &ClusterKey,
        state: &(ContractsState, AnalyticsState),
    ) -> Vec<u8> {
        sealed_on(&crate::test_support::genesis(1).hash(), at, key, state)
    }

    fn keep(core: &mut WorkerCore, number: BlockNumber, messages: Vec<Message>) -> Option<String> {
        core.state
            .joining
            .as_mut()
            .unwrap()
            .keep(number, NOON, messages)
    }

    #[test]
    fn a_joining_worker_ends_with_what_every_member_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = joiner(dir.path());
        let mine = cluster().cluster;
        // What it keeps: its own cluster's messages, and code uploads (contracts asking
        // whether a code exists must see it appear at its place among the commands).
        let other = analytics_message(H256([4; 32]), AnalyticsCommand::SiteClosed { site: 9 });
        assert!(!is_kept(&other, &mine));
        assert!(is_kept(&site(2), &mine));
        assert!(is_kept(&code_uploaded([5; 32]), &mine));
        // Blocks after its key: kept, not applied.
        assert_eq!(
            keep(&mut core, 1, vec![code_uploaded([5; 32]), site(2)]),
            None
        );
        assert_eq!(keep(&mut core, 2, vec![]), None);
        assert!(core.state.analytics.sites.is_empty());

        // A member's state as of genesis (site 1), then the kept commands replayed.
        let at_genesis = member(&[site(1)]);
        let rng = &mut commonware_utils::test_rng();
        let outcome = core
            .install_cluster_state(rng, &sealed(0, &cluster(), &at_genesis))
            .unwrap();
        assert!(
            outcome
                .notes
                .iter()
                .any(|n| n.contains("replayed 2 command")),
            "{outcome:?}"
        );
        // The member applied the same commands at block 1 and ran retention after them.
        let (contracts, mut analytics) = member(&[site(1), site(2)]);
        analytics.end_block(NOON, 1);
        assert_eq!(core.state.analytics.sites, analytics.sites);
        assert_eq!(core.state.contracts.storage, contracts.storage);
        assert_eq!(core.state.contracts.commands_run, 7);
        assert!(core.state.contracts.codes.contains(&[5; 32]));
        // Its share of today's privacy budget counts as spent: the member's may be.
        let ledger = &core.state.analytics.ledger;
        assert!(ledger.charge(1, NOON, 1, 1_000).is_err());
        assert!(ledger.charge(2, NOON, 1, 1_000).is_err());
        assert!(ledger.charge(1, NOON + 86_400_000, 1, 1_000).is_ok());
        assert!(core.joining().is_none());
        // The chain hears that it holds the state.
        let ready = core.state.pending.last().unwrap();
        assert_eq!(ready.message.destination, CLUSTER_STATE_READY);
        assert_eq!(
            ClusterStateReady::decode(&mut ready.message.payload.as_slice()).unwrap(),
            ClusterStateReady {
                cluster: mine,
                at: 0
            }
        );
        // Installed once: a second state is refused.
        assert_eq!(
            core.install_cluster_state(rng, &sealed(0, &cluster(), &at_genesis)),
            Err(JoinError::NotJoining)
        );
    }

    #[test]
    fn forged_stale_early_or_foreign_states_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = joiner(dir.path());
        let state = member(&[site(1)]);
        let rng = &mut commonware_utils::test_rng();
        // Sealed by someone without the cluster key (the host, say).
        let forger = ClusterKey {
            seed: Seed::from_bytes([8; 32]),
            ..cluster()
        };
        let forged = sealed(0, &forger, &state);
        assert_eq!(
            core.install_cluster_state(rng, &forged),
            Err(JoinError::DoesNotOpen)
        );
        // Another cluster's.
        let other = ClusterKey {
            cluster: H256([4; 32]),
            ..cluster()
        };
        assert_eq!(
            core.install_cluster_state(rng, &sealed(0, &other, &state)),
            Err(JoinError::OtherCluster(H256([4; 32])))
        );
        // Another chain's.
        let elsewhere = sealed_on(&H256([1; 32]), 0, &cluster(), &state);
        assert_eq!(
            core.install_cluster_state(rng, &elsewhere),
            Err(JoinError::DoesNotOpen)
        );
        // Ahead of this worker: kept by the host until it catches up.
        assert_eq!(
            core.install_cluster_state(rng, &sealed(5, &cluster(), &state)),
            Err(JoinError::AheadOfThisWorker { at: 5, head: 0 })
        );
        // The block relabelled: the associated data no longer matches.
        let mut relabelled = sealed(1, &cluster(), &state);
        relabelled[32..36].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            core.install_cluster_state(rng, &relabelled),
            Err(JoinError::DoesNotOpen)
        );
        // Truncated.
        assert!(matches!(
            core.install_cluster_state(rng, &relabelled[..20]),
            Err(JoinError::Malformed(_))
        ));
        // From before it joined.
        core.state.joining = Some(Joining::new(3));
        assert_eq!(
            core.install_cluster_state(rng, &sealed(0, &cluster(), &state)),
            Err(JoinError::TooOld { at: 0, min: 3 })
        );
        assert!(core.state.analytics.sites.is_empty());
        assert!(core.state.pending.is_empty());
    }

    #[test]
    fn past_its_bound_the_worker_drops_what_it_kept_and_asks_for_a_newer_state() {
        let mut joining = Joining::new(0);
        let big = Message::new(
            MessageOrigin::pallet("Analytics"),
            ANALYTICS_COMMAND,
            vec![0; 1 << 20],
        );
        let mut said = None;
        for n in 1..=70 {
            if let Some(note) = joining.keep(n, NOON, vec![big.clone()]) {
                said = Some((n, note));
                break;
            }
        }
        let (n, note) = said.expect("the bound is reached");
        assert!(note.contains(&format!("#{n}")), "{note}");
        assert_eq!(joining.min_state_at, n);
        assert!(joining.kept.is_empty());
        assert!(joining.kept_bytes <= MAX_KEPT_BYTES);
        // Blocks a state from `n` on covers are not kept.
        assert_eq!(joining.keep(n, NOON, vec![big]), None);
        assert!(joining.kept.is_empty());
    }

    #[test]
    fn a_worker_told_it_left_its_cluster_gives_up_the_key() {
        use crate::gatekeeper::{Effects, KeyTaken, on_cluster_event};
        use phala_mq::topics::ClusterEvent;
        let dir = tempfile::tempdir().unwrap();
        let core = crate::test_support::worker(dir.path());
        let mut key = Some(cluster());
        let mut fx = Effects::default();
        let left = |worker, cluster| ClusterEvent::MemberLeft { cluster, worker };
        // Another member leaving, or another cluster's: kept.
        let taken = on_cluster_event(
            &mut key,
            &core.keys,
            left([1; 32], cluster().cluster),
            &mut fx,
        );
        assert_eq!((taken, key.is_some()), (None, true));
        let me = core.keys.pubkey();
        let taken = on_cluster_event(&mut key, &core.keys, left(me, H256([4; 32])), &mut fx);
        assert_eq!((taken, key.is_some()), (None, true));
        let taken = on_cluster_event(&mut key, &core.keys, left(me, cluster().cluster), &mut fx);
        assert_eq!((taken, key.is_none()), (Some(KeyTaken::Left), true));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_bytes_offered_as_a_state_are_refused_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut core = joiner(dir.path());
            let rng = &mut commonware_utils::test_rng();
            prop_assert!(core.install_cluster_state(rng, &bytes).is_err());
            prop_assert!(core.joining().is_some());
        }
    }
}
