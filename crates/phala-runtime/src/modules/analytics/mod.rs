//! `Analytics`: Web3 Analytics' sites and consents on chain.
//!
//! A site owner registers a site (`register_site`: domain, the cluster whose workers hold its
//! data, retention, the analyses offered, the minimum cohort, optional differential privacy)
//! and prepays PHA into the site's own account, from which its ingestion will be paid; the
//! owner can change the configuration, top up, authorize analysts per purpose, and close
//! the site (the rest of the prepayment comes back, and the cluster erases its data).
//!
//! Consents are the visitor's and live in the cluster (sealed), never on chain. A withdrawal
//! must reach the cluster even if the site's own pipeline would drop it, so anyone may put
//! one on chain: `withdraw_consent`, signed by the visitor's key, either signed by any
//! account, which pays the fee, or unsigned and free. A free one must carry the cluster's
//! receipt for the visitor's consent (the cluster key's signature of [`receipt_payload`],
//! which the tracker got when the consent was recorded): keys nobody consented with cannot
//! use the free path. Free ones are also capped at [`MAX_FREE_WITHDRAWALS`] a block, rank
//! below every paying transaction, and one visitor may withdraw once per site every
//! [`WITHDRAWAL_INTERVAL`] blocks. The chain relays every change to the site's cluster in
//! order ([`AnalyticsMessage`]).
//!
//! A withdrawal is public: the visitor key and the site are in the transaction. With the
//! tracker's own browser key that is a pseudonym; with a person's account key it links the
//! account to the site.

mod batch;
#[cfg(test)]
mod batch_tests;
mod calls;
#[cfg(test)]
mod tests;

pub use batch::{PRICE_PER_BYTE, batch_weight, on_batch};

pub use calls::{Call, check_config, receipt_payload, valid_domain, withdrawal_payload};
pub(crate) use calls::{check_receipt, check_withdrawal, free_withdrawal_room};
pub use phala_mq::analytics::{
    AnalyticsCommand, AnalyticsMessage, DpConfig, SiteConfig, VisitorKey,
};

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, BlockNumber, H256, storage::Hasher};
use scale_info::TypeInfo;

use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::index;
use crate::storage::{Query, StorageDoubleMap, StorageMap, StorageValue};

const MODULE: &str = "Analytics";

/// The analyses a site may offer and a consent may cover (`SiteConfig::purposes` bits).
pub mod purpose {
    /// Visitors online in the last 5 minutes.
    pub const REALTIME: u32 = 1;
    /// Page views and unique visitors per hour and per day.
    pub const TRAFFIC: u32 = 1 << 1;
    /// Top paths.
    pub const PAGES: u32 = 1 << 2;
    /// Top referrers.
    pub const SOURCES: u32 = 1 << 3;
    /// Device classes and screen sizes.
    pub const DEVICES: u32 = 1 << 4;
    /// Bounce rate and visit duration.
    pub const ENGAGEMENT: u32 = 1 << 5;
    pub const ALL: u32 = (1 << 6) - 1;
    /// Names, as the CLI and the tracker's banner show them.
    pub const NAMES: [(u32, &str); 6] = [
        (REALTIME, "realtime"),
        (TRAFFIC, "traffic"),
        (PAGES, "pages"),
        (SOURCES, "sources"),
        (DEVICES, "devices"),
        (ENGAGEMENT, "engagement"),
    ];
}

/// Longest domain (DNS's limit).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest retention: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3_650;
/// Smallest minimum cohort: a cell of one person is that person.
pub const MIN_COHORT_FLOOR: u32 = 2;
pub const MAX_COHORT: u32 = 1_000;
/// ε per answer at most 10, a daily budget at most 100 (thousandths).
pub const MAX_EPSILON_MILLI: u32 = 10_000;
pub const MAX_DAILY_BUDGET_MILLI: u32 = 100_000;
/// The least a site is prepaid at registration.
pub const MIN_PREPAY: phala_primitives::Balance = phala_primitives::PHA;
/// Free withdrawals the chain takes per block, whoever sends them.
pub const MAX_FREE_WITHDRAWALS: u32 = 64;
/// Blocks between two withdrawals of one visitor for one site.
pub const WITHDRAWAL_INTERVAL: BlockNumber = 100;
/// A withdrawal statement is good for this many blocks after the block it names.
pub const WITHDRAWAL_VALIDITY: BlockNumber = 14_400;
/// Separates withdrawal statements from anything else a visitor key signs.
pub const WITHDRAWAL_DOMAIN: &[u8] = b"phala/analytics/withdraw:";
/// Separates consent receipts from anything else the cluster key signs.
pub const RECEIPT_DOMAIN: &[u8] = b"phala/analytics/consent-receipt:";

/// A visitor's last withdrawal for a site: the block its statement names (older ones are
/// stale) and the block it went on chain at (the interval counts from it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct LastWithdrawal {
    pub signed_at: BlockNumber,
    pub included_at: BlockNumber,
}

/// A site on chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SiteInfo {
    pub owner: AccountId32,
    /// The domain its pages are served from (lower-case ASCII): the ingest endpoint only
    /// takes page views from it.
    pub domain: Vec<u8>,
    /// The cluster whose workers hold and analyse its data.
    pub cluster: H256,
    pub config: SiteConfig,
    pub registered_at: BlockNumber,
}

pub const NEXT_SITE_ID: StorageValue<u64> = StorageValue::new(
    MODULE,
    "NextSiteId",
    Query::Default,
    &[" The id the next site gets."],
);
pub const SITES: StorageMap<u64, SiteInfo> = StorageMap::new(
    MODULE,
    "Sites",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Open sites. The prepayment is the free balance of `site_account(id)`."],
);
pub const ANALYSTS: StorageDoubleMap<u64, AccountId32, u32> = StorageDoubleMap::new(
    MODULE,
    "Analysts",
    Hasher::Twox64Concat,
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Accounts besides the owner that may run a site's analyses, and which (purpose bits)."],
);
pub const LAST_WITHDRAWAL: StorageDoubleMap<u64, VisitorKey, LastWithdrawal> =
    StorageDoubleMap::new(
        MODULE,
        "LastWithdrawal",
        Hasher::Twox64Concat,
        Hasher::Blake2_128Concat,
        Query::Optional,
        &[
            " Each visitor's last withdrawal per site: the block its statement named, and the block it went on chain at.",
        ],
    );
pub const NEXT_BATCH: StorageMap<u64, u64> = StorageMap::new(
    MODULE,
    "NextBatch",
    Hasher::Twox64Concat,
    Query::Default,
    &[" The id each site's next batch of events gets."],
);
pub const FREE_WITHDRAWALS: StorageValue<(BlockNumber, u32)> = StorageValue::new(
    MODULE,
    "FreeWithdrawals",
    Query::Optional,
    &[" Free withdrawals taken in the block named, against `MAX_FREE_WITHDRAWALS`."],
);

/// A site's own account, holding its prepayment: `"modl" ‖ "phala/an" ‖ SCALE(id)`.
pub fn site_account(site: u64) -> AccountId32 {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(b"modl");
    bytes[4..12].copy_from_slice(b"phala/an");
    bytes[12..20].copy_from_slice(&site.to_le_bytes());
    AccountId32(bytes)
}

/// Events of the `Analytics` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A site was registered, its prepayment moved into its account.
    #[codec(index = 0)]
    SiteRegistered {
        site: u64,
        owner: AccountId32,
        cluster: H256,
        prepaid: phala_primitives::Balance,
    },
    /// A site's owner changed its configuration.
    #[codec(index = 1)]
    SiteUpdated { site: u64 },
    /// More PHA was prepaid for a site.
    #[codec(index = 2)]
    SiteToppedUp {
        site: u64,
        amount: phala_primitives::Balance,
    },
    /// A site closed: `refunded` went back to its owner; its cluster erases its data.
    #[codec(index = 3)]
    SiteClosed {
        site: u64,
        refunded: phala_primitives::Balance,
    },
    /// The owner set which analyses `analyst` may run (none: removed).
    #[codec(index = 4)]
    AnalystSet {
        site: u64,
        analyst: AccountId32,
        purposes: u32,
    },
    /// A visitor withdrew consent; their records leave every analysis from this block on.
    #[codec(index = 5)]
    ConsentWithdrawn { site: u64, visitor: VisitorKey },
    /// A member's sealed batch of the site's events was ordered as batch `id`, `paid` from
    /// the site's prepayment for its `bytes`.
    #[codec(index = 6)]
    BatchAccepted {
        site: u64,
        id: u64,
        events: u32,
        bytes: u32,
        paid: phala_primitives::Balance,
    },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Analytics(e)
    }
}

/// Errors of the `Analytics` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// No open site has this id.
    UnknownSite,
    /// Only the site's owner may do this.
    NotOwner,
    /// The domain must be 1 to 253 characters of lower-case letters, digits, `-` and `.`.
    BadDomain,
    /// The cluster does not exist or has no key yet.
    UnknownCluster,
    /// Retention is 1 to 3,650 days.
    BadRetention,
    /// Purposes must be some of the six analyses (bits 0–5).
    BadPurposes,
    /// The minimum cohort is 2 to 1,000 people.
    BadCohort,
    /// ε is 0.001 to 10 per answer and the daily budget at least ε and at most 100.
    BadPrivacy,
    /// A site is prepaid at least 1 PHA at registration.
    PrepayTooLow,
    /// The withdrawal's signature is not the visitor key's.
    BadSignature,
    /// The withdrawal names a block in the future or too far in the past, or one no later
    /// than the visitor's last withdrawal for the site.
    StaleWithdrawal,
    /// The visitor withdrew for this site less than 100 blocks ago.
    TooSoon,
    /// This block's free withdrawals are taken; send it signed (paying the fee) or later.
    FreeWithdrawalsExhausted,
    /// The site ids ran out.
    TooManySites,
    /// The owner cannot be an analyst of their own site (they may run every analysis).
    OwnerIsAnalyst,
    /// A free withdrawal needs the site cluster's receipt for the visitor's consent, and
    /// this is not one.
    BadReceipt,
    /// A batch that does not decode, or is over 48 KiB sealed.
    BadBatch,
    /// Only a member of the site's cluster may send its batches.
    NotInCluster,
    /// The site's prepayment cannot pay for the batch: its owner (or anyone) must top it
    /// up.
    PrepaymentExhausted,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::ANALYTICS;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        NEXT_SITE_ID.metadata(),
        SITES.metadata_optional(),
        ANALYSTS.metadata(),
        LAST_WITHDRAWAL.metadata(),
        NEXT_BATCH.metadata(),
        FREE_WITHDRAWALS.metadata(),
    ]
}

/// This module's metadata: storage, calls, events and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Analytics",
        index: index::ANALYTICS,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Web3 Analytics' sites, their prepayments, analysts and consent withdrawals.",
    }
}
