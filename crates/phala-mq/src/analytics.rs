//! Web3 Analytics' messages: the chain tells a site's cluster what changed about the site and
//! about consents ([`AnalyticsCommand`]), in chain order, so every member applies the same
//! changes at the same point of its data.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, BlockNumber, H256};
use scale_info::TypeInfo;

/// Chain → a site's cluster workers: [`AnalyticsMessage`]s.
pub const ANALYTICS_COMMAND: &[u8] = b"phala/analytics/command";
/// Cluster worker → chain: [`AnalyticsBatch`]es of a site's ingested events.
pub const ANALYTICS_BATCH: &[u8] = b"^phala/analytics/batch";

/// Largest sealed batch, so its message fits the queue.
pub const MAX_SEALED_BATCH: usize = 48 * 1024;

/// Events a member took in for a site, sealed to the cluster's analytics key: the chain
/// orders and charges it by size, and relays it to every member, never seeing inside.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnalyticsBatch {
    pub site: u64,
    /// How many events it holds (the member says; the chain shows it, not checks it).
    pub events: u32,
    pub sealed: phala_crypto::Envelope,
}

/// A visitor's pseudonymous key: ed25519 (a key the tracker keeps in the browser) or sr25519
/// (the person's own account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, TypeInfo)]
pub enum VisitorKey {
    #[codec(index = 0)]
    Ed25519([u8; 32]),
    #[codec(index = 1)]
    Sr25519([u8; 32]),
}

/// Differential privacy for a site's answers: Laplace noise at `epsilon` per answer, and at
/// most `daily_budget` of ε spent per day (both in thousandths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct DpConfig {
    pub epsilon_milli: u32,
    pub daily_budget_milli: u32,
}

/// What the owner sets about a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SiteConfig {
    /// Days records are kept; older ones are erased.
    pub retention_days: u32,
    /// The analyses the site offers (bit flags, `purpose::*`): a visitor consents to some
    /// of them, and an answer counts only records whose consent covers it.
    pub purposes: u32,
    /// Cells describing fewer people than this are suppressed.
    pub min_cohort: u32,
    pub dp: Option<DpConfig>,
}

/// An [`AnalyticsCommand`] for the members of `cluster` (the site's: a command about a
/// closed site still names it).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnalyticsMessage {
    pub cluster: H256,
    pub command: AnalyticsCommand,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum AnalyticsCommand {
    /// A site was registered (or its owner changed its configuration).
    #[codec(index = 0)]
    SiteConfigured {
        site: u64,
        owner: AccountId32,
        domain: Vec<u8>,
        config: SiteConfig,
    },
    /// The site closed: erase everything held about it.
    #[codec(index = 1)]
    SiteClosed { site: u64 },
    /// The owner let `analyst` run the analyses in `purposes` (none: no longer).
    #[codec(index = 2)]
    AnalystSet {
        site: u64,
        analyst: AccountId32,
        purposes: u32,
    },
    /// Batch `id` of the site's events (ids count up from 0 per site), from member `from`:
    /// every member applies it, in this order.
    #[codec(index = 4)]
    Batch {
        site: u64,
        id: u64,
        from: [u8; 32],
        events: u32,
        sealed: phala_crypto::Envelope,
    },
    /// A visitor withdrew consent at block `at`, by a statement signed at block
    /// `signed_at`: from `at` on, every analysis leaves out their records, and they are
    /// erased. A consent the visitor gave after `signed_at` stands (an old statement
    /// cannot cancel a newer consent).
    #[codec(index = 3)]
    ConsentWithdrawn {
        site: u64,
        visitor: VisitorKey,
        signed_at: BlockNumber,
        at: BlockNumber,
    },
}
