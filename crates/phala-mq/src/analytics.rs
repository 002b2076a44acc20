//! Web3 Analytics' messages: the chain tells a site's cluster what changed about the site and
//! about consents ([`AnalyticsCommand`]), in chain order, so every member applies the same
//! changes at the same point of its data.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, BlockNumber};
use scale_info::TypeInfo;

/// Chain → a site's cluster workers: [`AnalyticsCommand`]s.
pub const ANALYTICS_COMMAND: &[u8] = b"phala/analytics/command";

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
    /// A visitor withdrew consent at block `at`: from then on, every analysis leaves out
    /// their records, and they are erased.
    #[codec(index = 3)]
    ConsentWithdrawn {
        site: u64,
        visitor: VisitorKey,
        at: BlockNumber,
    },
}
