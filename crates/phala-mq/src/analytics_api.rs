//! Web3 Analytics' formats between people and a cluster's analytics service: what a
//! visitor's browser sends (a signed consent or page view, sealed to the cluster's analytics
//! key), what an owner or analyst asks ([`AnalyticsQuery`], inside a signed query), what a
//! visitor asks about their own data ([`AccessRequest`]), and the answers.
//!
//! Every statement a visitor key signs starts with its own domain label and the chain's
//! genesis hash, so no signature made for one purpose or chain counts for another.

use parity_scale_codec::{Decode, Encode};
use phala_primitives::{BlockNumber, H256};
use scale_info::TypeInfo;

use crate::analytics::VisitorKey;

/// Separates the statements a visitor key signs.
pub const CONSENT_DOMAIN: &[u8] = b"phala/analytics/consent:";
pub const EVENT_DOMAIN: &[u8] = b"phala/analytics/event:";
pub const ACCESS_DOMAIN: &[u8] = b"phala/analytics/access:";
/// What the cluster key signs to vouch for its analytics key.
pub const SERVICE_KEY_DOMAIN: &[u8] = b"phala/analytics/service-key:";

/// The query "contract" id that addresses a worker's analytics service rather than a
/// contract: `blake2_256("phala/analytics/service")`.
pub fn service_id() -> H256 {
    H256(sp_crypto_hashing::blake2_256(b"phala/analytics/service"))
}

/// Longest path a page view carries (longer ones are cut by the tracker).
pub const MAX_PATH: usize = 256;
/// Longest referrer host.
pub const MAX_REFERRER: usize = 253;
/// Largest sealed ingest request a worker reads.
pub const MAX_INGEST_BYTES: usize = 2 * 1024;

/// A visitor's statement, signed by their key and sealed to the analytics key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Ingest {
    pub site: u64,
    pub visitor: VisitorKey,
    pub item: IngestItem,
    /// The visitor key's signature of [`Ingest::signing_payload`].
    pub signature: [u8; 64],
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum IngestItem {
    #[codec(index = 0)]
    Consent(Consent),
    #[codec(index = 1)]
    PageView(PageView),
    /// Erase everything held about this visitor for the site and end their consent (the
    /// fast way; the chain's `withdraw_consent` is the way no pipeline can drop).
    #[codec(index = 2)]
    Erase {
        /// A recent block: orders the erasure against the visitor's consents.
        block: BlockNumber,
    },
}

/// Which analyses a visitor lets the site run on their records, and until when. A newer
/// statement (a later `block`, or the same block and a later `signed_ms`) replaces an older
/// one; `purposes` 0 declines everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Consent {
    pub purposes: u32,
    /// Unix ms after which it no longer covers anything.
    pub expires_ms: u64,
    /// When the visitor gave it (their clock, Unix ms).
    pub signed_ms: u64,
    /// A recent block the tracker saw: a withdrawal signed at or after it ends this consent.
    pub block: BlockNumber,
}

/// The device class, as the tracker guesses it from the screen and pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, TypeInfo)]
pub enum Device {
    #[codec(index = 0)]
    Unknown,
    #[codec(index = 1)]
    Mobile,
    #[codec(index = 2)]
    Tablet,
    #[codec(index = 3)]
    Desktop,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Unknown => "(not set)",
            Device::Mobile => "Mobile",
            Device::Tablet => "Tablet",
            Device::Desktop => "Desktop",
        }
    }
}

/// Screen width buckets (CSS px): under 576, 768, 992, 1200, and wider.
pub const SCREEN_BUCKETS: [&str; 5] = ["<576", "576-767", "768-991", "992-1199", ">=1200"];

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct PageView {
    /// Random per page view: a repeat of the same id is refused.
    pub id: [u8; 16],
    /// When it happened (the visitor's clock, Unix ms): workers refuse ones far from theirs.
    pub at_ms: u64,
    /// The path, without query string or fragment.
    pub path: Vec<u8>,
    /// The referrer's host, empty for none or the site itself.
    pub referrer: Vec<u8>,
    pub device: Device,
    /// Index into [`SCREEN_BUCKETS`].
    pub screen: u8,
}

impl Ingest {
    /// `domain ‖ genesis ‖ SCALE(site, visitor, item)`: what the visitor key signs.
    pub fn signing_payload(&self, genesis: &H256) -> Vec<u8> {
        let domain = match self.item {
            IngestItem::Consent(_) | IngestItem::Erase { .. } => CONSENT_DOMAIN,
            IngestItem::PageView(_) => EVENT_DOMAIN,
        };
        let mut payload = domain.to_vec();
        payload.extend_from_slice(genesis.as_bytes());
        (self.site, &self.visitor, &self.item).encode_to(&mut payload);
        payload
    }

    /// Whether the visitor key signed it.
    pub fn verify(&self, genesis: &H256) -> bool {
        self.visitor
            .verify(&self.signing_payload(genesis), &self.signature)
    }
}

impl VisitorKey {
    /// Checks `signature` of `message` by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match self {
            VisitorKey::Ed25519(key) => {
                phala_primitives::crypto::ed25519_verify(signature, message, key)
            }
            VisitorKey::Sr25519(key) => {
                phala_primitives::crypto::sr25519_verify(signature, message, key)
            }
        }
    }
}

/// A visitor's request for what is held about them: sealed (purpose `Query`) to the
/// analytics key by a fresh key, the answer sealed back to that key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccessRequest {
    pub site: u64,
    pub visitor: VisitorKey,
    /// Random: the answer echoes it.
    pub nonce: [u8; 32],
    /// When it was made (Unix ms): workers refuse old ones.
    pub at_ms: u64,
    /// The visitor key's signature of [`AccessRequest::signing_payload`].
    pub signature: [u8; 64],
}

impl AccessRequest {
    pub fn signing_payload(&self, genesis: &H256) -> Vec<u8> {
        let mut payload = ACCESS_DOMAIN.to_vec();
        payload.extend_from_slice(genesis.as_bytes());
        (self.site, &self.visitor, &self.nonce, self.at_ms).encode_to(&mut payload);
        payload
    }
}

/// A visitor's withdrawal for a worker to put on chain as a fee-free transaction
/// (`Analytics.withdraw_consent`, unsigned): the chain checks the signature and receipt.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WithdrawRequest {
    pub site: u64,
    pub visitor: VisitorKey,
    pub signed_at: BlockNumber,
    /// The visitor key's signature of the chain's withdrawal statement.
    pub signature: [u8; 64],
    /// The cluster's receipt for the visitor's consent.
    pub receipt: Option<[u8; 64]>,
}

/// What is held about one visitor of a site: the payload of a signed reply (which names
/// the block it was computed at and echoes the request's nonce).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct VisitorData {
    /// Their consent in force, with their signature of it.
    pub consent: Option<(Consent, [u8; 64])>,
    /// Their page views the service holds, oldest first.
    pub views: Vec<HeldView>,
    /// True when their data was erased (a withdrawal or an erasure) and nothing is held.
    pub erased: bool,
    /// The cluster key's receipt for their consent in force (see the chain's
    /// `receipt_payload`): with it, withdrawing on chain is free.
    pub receipt: Option<[u8; 64]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct HeldView {
    pub at_ms: u64,
    pub path: Vec<u8>,
    pub referrer: Vec<u8>,
    pub device: Device,
    pub screen: u8,
}

/// Which whole UTC days an analysis covers: `days` days from day `from_day` (days since
/// 1970-01-01). At most [`MAX_DAYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Days {
    pub from_day: u32,
    pub days: u32,
}

pub const MAX_DAYS: u32 = 93;

/// The analyses an owner or analyst may ask for. Their shapes are fixed (no free filters):
/// each cell is one day, hour or 5-minute window, or one key within one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Analysis {
    /// Visitors in the last 5 minutes.
    #[codec(index = 0)]
    Realtime,
    /// Page views and unique visitors per day, or per hour.
    #[codec(index = 1)]
    Traffic { days: Days, hourly: bool },
    /// Top paths (visitors summed over the days, each day counted on its own).
    #[codec(index = 2)]
    Pages { days: Days },
    /// Top referrer hosts ("" is direct).
    #[codec(index = 3)]
    Sources { days: Days },
    /// Device classes and screen buckets.
    #[codec(index = 4)]
    Devices { days: Days },
    /// Visits, bounce rate and visit duration per day.
    #[codec(index = 5)]
    Engagement { days: Days },
}

impl Analysis {
    /// The purpose bit (`Analytics` module's `purpose::*`) a record's consent must cover.
    pub fn purpose(&self) -> u32 {
        match self {
            Analysis::Realtime => 1,
            Analysis::Traffic { .. } => 1 << 1,
            Analysis::Pages { .. } => 1 << 2,
            Analysis::Sources { .. } => 1 << 3,
            Analysis::Devices { .. } => 1 << 4,
            Analysis::Engagement { .. } => 1 << 5,
        }
    }
}

/// An analysis of a site: the payload of a signed query to [`service_id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnalyticsQuery {
    pub site: u64,
    pub analysis: Analysis,
}

/// A count, or `None` where it describes fewer people than the site's minimum cohort (or a
/// smaller cell could be derived from it).
pub type Cell = Option<u64>;

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnalyticsAnswer {
    /// The block time (Unix ms) the answer was computed at.
    pub at_ms: u64,
    /// Laplace noise's scale added to every shown count (thousandths), when the site uses
    /// differential privacy.
    pub noise_scale_milli: Option<u64>,
    /// The ε left today after this answer (thousandths), when the site uses differential
    /// privacy.
    pub budget_left_milli: Option<u32>,
    pub body: AnswerBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum AnswerBody {
    #[codec(index = 0)]
    Realtime {
        /// The 5 minutes counted end here (Unix ms).
        window_end_ms: u64,
        visitors: Cell,
    },
    /// One row per day or hour: its start (Unix ms), page views, unique visitors.
    #[codec(index = 1)]
    Traffic { rows: Vec<(u64, Cell, Cell)> },
    /// Shown keys with visitors (per-day unique visitors, summed) and page views, most
    /// visitors first; keys with too few visitors are left out.
    #[codec(index = 2)]
    Top { rows: Vec<(Vec<u8>, u64, u64)> },
    /// One row per day: its start, visits, bounce rate (percent), mean visit duration (s).
    #[codec(index = 3)]
    Engagement {
        rows: Vec<(u64, Cell, Option<u32>, Option<u32>)>,
    },
}
