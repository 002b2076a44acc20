//! The ingest desk: what a member does with a visitor's sealed statement before the chain
//! orders it. It opens the envelope with the analytics key, checks the statement (the site,
//! the page's origin, the visitor's signature, times, sizes, replays) and refuses bad ones
//! with the reason; it queues good ones per site and seals them into batches for the chain.
//! Each source gets a bounded share, so a flood from one address cannot crowd out others.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use parity_scale_codec::{DecodeLimit, Encode};
use phala_crypto::query::Source;
use phala_crypto::{EcdhSecret, Envelope, Purpose};
use phala_mq::analytics::{AnalyticsBatch, MAX_SEALED_BATCH};
use phala_mq::analytics_api::{
    Ingest, IngestItem, MAX_INGEST_BYTES, MAX_PATH, MAX_REFERRER, SCREEN_BUCKETS,
};
use phala_primitives::{BlockNumber, H256};

use super::{BatchBody, DAY_MS};

/// How far a statement's time may be from this member's clock.
pub const CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;
/// Statements one source may send per window, by default (an office behind one address
/// browses at a few page views a second).
pub const SOURCE_LIMIT: u32 = 1_200;
pub const SOURCE_WINDOW_MS: u64 = 60_000;
/// Statements waiting for a batch, over all sites, and for one site.
pub const MAX_PENDING: usize = 50_000;
pub const MAX_PENDING_PER_SITE: usize = 10_000;
/// The longest a consent may run.
pub const MAX_CONSENT_MS: u64 = 400 * DAY_MS;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("this worker holds no analytics key yet (it is in no cluster, or still syncing)")]
    NotReady,
    #[error("the request does not open or decode: {0}")]
    Malformed(String),
    #[error("the request is sealed to another key than this cluster's analytics key")]
    WrongKey,
    #[error("site {0} is not served by this cluster")]
    UnknownSite(u64),
    #[error("site {site} takes page views from {domain} only, not {origin}")]
    WrongOrigin {
        site: u64,
        domain: String,
        origin: String,
    },
    #[error("the visitor key's signature does not verify")]
    BadSignature,
    #[error("{0}")]
    Invalid(String),
    #[error("this page view was already received")]
    Replayed,
    #[error("too many events from this address; try again in a minute")]
    Flooded,
    #[error("the worker is busy; try again shortly")]
    Busy,
}

/// What a member needs to check statements, refreshed after each import.
pub struct DeskKeys {
    pub genesis: H256,
    pub service: EcdhSecret,
    pub service_public: [u8; 32],
    /// Open sites of the cluster and their domains.
    pub sites: BTreeMap<u64, Vec<u8>>,
    pub head: BlockNumber,
}

#[derive(Default)]
struct Desk {
    keys: Option<std::sync::Arc<DeskKeys>>,
    pending: BTreeMap<u64, Vec<Ingest>>,
    pending_count: usize,
    /// Page view ids taken recently, with their times.
    seen: HashMap<[u8; 16], u64>,
    /// Per source: the window's start and what it sent in it.
    sources: HashMap<Source, (u64, u32)>,
    /// When `seen` and `sources` were last pruned.
    pruned_ms: u64,
    /// How many times batches were taken: what is accepted now goes into take number
    /// `generation`.
    generation: u64,
}

/// Accepted, and queued. (A consent's receipt comes with the visitor's data once the
/// chain has ordered the consent: see `QueryService::analytics_access`.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub site: u64,
    /// The take ([`IngestDesk::take_batches`]) that will carry it.
    pub generation: u64,
}

pub struct IngestDesk {
    desk: Mutex<Desk>,
    source_limit: std::sync::atomic::AtomicU32,
}

impl Default for IngestDesk {
    fn default() -> Self {
        IngestDesk {
            desk: Mutex::default(),
            source_limit: std::sync::atomic::AtomicU32::new(SOURCE_LIMIT),
        }
    }
}

impl std::fmt::Debug for IngestDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IngestDesk")
    }
}

fn host_of(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // An IPv6 literal keeps its brackets; a port goes.
    match host.rsplit_once(':') {
        Some((h, port)) if !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether a page at `origin` belongs to `domain` (the domain itself or a subdomain).
pub fn origin_matches(origin: &str, domain: &[u8]) -> bool {
    let host = host_of(origin).to_ascii_lowercase();
    let Ok(domain) = std::str::from_utf8(domain) else {
        return false;
    };
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

fn check_item(item: &IngestItem, now_ms: u64, head: BlockNumber) -> Result<(), IngestError> {
    let invalid = |s: &str| Err(IngestError::Invalid(s.into()));
    match item {
        IngestItem::Consent(c) => {
            if c.signed_ms.abs_diff(now_ms) > CLOCK_SKEW_MS {
                return invalid("the consent's time is more than 10 minutes from the worker's");
            }
            if c.expires_ms <= now_ms || c.expires_ms > now_ms.saturating_add(MAX_CONSENT_MS) {
                return invalid("a consent runs for up to 400 days from now");
            }
            if c.purposes & !phala_runtime::modules::analytics::purpose::ALL != 0 {
                return invalid("unknown purposes in the consent");
            }
            if c.block > head.saturating_add(2)
                || c.block
                    < head.saturating_sub(phala_runtime::modules::analytics::WITHDRAWAL_VALIDITY)
            {
                return invalid("the consent names a block that is not recent");
            }
        }
        IngestItem::Erase { block } => {
            if *block > head.saturating_add(2) {
                return invalid("the erasure names a future block");
            }
        }
        IngestItem::PageView(v) => {
            if v.at_ms.abs_diff(now_ms) > CLOCK_SKEW_MS {
                return invalid("the page view's time is more than 10 minutes from the worker's");
            }
            if v.path.len() > MAX_PATH || v.path.first() != Some(&b'/') {
                return invalid("a path starts with / and has at most 256 bytes");
            }
            if std::str::from_utf8(&v.path).is_err() || v.path.iter().any(|b| b.is_ascii_control())
            {
                return invalid("the path is not printable UTF-8");
            }
            let host_ok = v
                .referrer
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if v.referrer.len() > MAX_REFERRER || !host_ok {
                return invalid("the referrer is not a host name");
            }
            if usize::from(v.screen) >= SCREEN_BUCKETS.len() {
                return invalid("unknown screen bucket");
            }
        }
    }
    Ok(())
}

impl IngestDesk {
    /// Statements one source may send per minute.
    pub fn set_source_limit(&self, limit: u32) {
        self.source_limit
            .store(limit.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the keys and sites the core holds now.
    pub fn set_keys(&self, keys: Option<DeskKeys>) {
        let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        desk.keys = keys.map(std::sync::Arc::new);
    }

    /// The analytics key this member takes statements for.
    pub fn service_public(&self) -> Option<[u8; 32]> {
        let desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        desk.keys.as_ref().map(|k| k.service_public)
    }

    /// Charges one request to `source`'s share of this minute, before any work is done
    /// for it: ingest, a visitor's data and withdrawals share it.
    pub fn charge(&self, source: Source, now_ms: u64) -> Result<(), IngestError> {
        let limit = self.source_limit.load(std::sync::atomic::Ordering::Relaxed);
        let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        // Pruned now and then, not on every request: both can hold many entries.
        if now_ms.saturating_sub(desk.pruned_ms) >= SOURCE_WINDOW_MS {
            desk.pruned_ms = now_ms;
            desk.seen
                .retain(|_, at| now_ms.saturating_sub(*at) <= 2 * CLOCK_SKEW_MS);
            desk.sources
                .retain(|_, (start, _)| now_ms.saturating_sub(*start) < SOURCE_WINDOW_MS);
        }
        let window = desk.sources.entry(source).or_insert((now_ms, 0));
        if now_ms.saturating_sub(window.0) >= SOURCE_WINDOW_MS {
            *window = (now_ms, 0);
        }
        if window.1 >= limit {
            return Err(IngestError::Flooded);
        }
        window.1 = window.1.saturating_add(1);
        Ok(())
    }

    /// Checks one sealed statement from `source` (sent by a page at `origin`, if a browser
    /// said) and queues it for the next batch. The source is charged first, and the
    /// decryption and signature check run without holding the desk, so neither a flood of
    /// bad requests nor one slow request holds up the others.
    pub fn accept(
        &self,
        body: &[u8],
        origin: Option<&str>,
        source: Source,
        now_ms: u64,
    ) -> Result<Accepted, IngestError> {
        if body.len() > MAX_INGEST_BYTES {
            return Err(IngestError::Invalid(format!(
                "a request has at most {MAX_INGEST_BYTES} bytes"
            )));
        }
        self.charge(source, now_ms)?;
        let keys = self
            .desk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .clone()
            .ok_or(IngestError::NotReady)?;
        let envelope =
            Envelope::decode_bounded(body).map_err(|e| IngestError::Malformed(e.to_string()))?;
        if envelope.header.purpose != Purpose::Ingest {
            return Err(IngestError::Malformed(
                "the envelope is not an ingest".into(),
            ));
        }
        if envelope.header.recipient != keys.service_public {
            return Err(IngestError::WrongKey);
        }
        let plain = envelope
            .open(&keys.service)
            .map_err(|e| IngestError::Malformed(e.to_string()))?;
        let ingest = Ingest::decode_all_with_depth_limit(8, &mut plain.as_slice())
            .map_err(|e| IngestError::Malformed(e.to_string()))?;
        let domain = keys
            .sites
            .get(&ingest.site)
            .ok_or(IngestError::UnknownSite(ingest.site))?;
        if let Some(origin) = origin
            && !origin_matches(origin, domain)
        {
            return Err(IngestError::WrongOrigin {
                site: ingest.site,
                domain: String::from_utf8_lossy(domain).into_owned(),
                origin: origin.chars().take(100).collect(),
            });
        }
        check_item(&ingest.item, now_ms, keys.head)?;
        if !ingest.verify(&keys.genesis) {
            return Err(IngestError::BadSignature);
        }
        let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        let desk = &mut *desk;
        // Bounded: what waits in all, and per site, so one site's flood leaves room.
        let site = ingest.site;
        let site_pending = desk.pending.get(&site).map_or(0, Vec::len);
        if desk.pending_count >= MAX_PENDING || site_pending >= MAX_PENDING_PER_SITE {
            return Err(IngestError::Busy);
        }
        if let IngestItem::PageView(v) = &ingest.item
            && desk.seen.insert(v.id, now_ms).is_some()
        {
            return Err(IngestError::Replayed);
        }
        let generation = desk.generation;
        desk.pending.entry(site).or_default().push(ingest);
        desk.pending_count = desk.pending_count.saturating_add(1);
        Ok(Accepted { site, generation })
    }

    /// The number the next take gets.
    pub fn generation(&self) -> u64 {
        self.desk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Statements waiting for a batch.
    pub fn pending(&self) -> usize {
        self.desk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending_count
    }

    /// Seals everything waiting into batches (each under the chain's size limit), in the
    /// order it came. Everything accepted with a generation below [`IngestDesk::generation`]
    /// is in this take or an earlier one.
    pub fn take_batches(&self, rng: &mut impl rand_core::CryptoRng) -> Vec<AnalyticsBatch> {
        let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        let Some(service) = desk.keys.as_ref().map(|k| k.service_public) else {
            return Vec::new();
        };
        let pending = std::mem::take(&mut desk.pending);
        desk.pending_count = 0;
        desk.generation = desk.generation.saturating_add(1);
        drop(desk);
        // Room for the envelope's header, IV, tag and length prefixes.
        let budget = MAX_SEALED_BATCH.saturating_sub(256);
        let mut batches = Vec::new();
        for (site, items) in pending {
            let mut chunk: Vec<Ingest> = Vec::new();
            let mut size = 0usize;
            for item in items {
                let len = item.encoded_size();
                if !chunk.is_empty()
                    && (size.saturating_add(len) > budget || chunk.len() >= super::MAX_BATCH_EVENTS)
                {
                    batches.extend(seal(rng, &service, site, std::mem::take(&mut chunk)));
                    size = 0;
                }
                size = size.saturating_add(len);
                chunk.push(item);
            }
            if !chunk.is_empty() {
                batches.extend(seal(rng, &service, site, chunk));
            }
        }
        batches
    }
}

fn seal(
    rng: &mut impl rand_core::CryptoRng,
    service: &[u8; 32],
    site: u64,
    items: Vec<Ingest>,
) -> Option<AnalyticsBatch> {
    let events = u32::try_from(items.len()).unwrap_or(u32::MAX);
    let plain = zeroize::Zeroizing::new(BatchBody { items }.encode());
    let sealed = Envelope::seal(rng, service, Purpose::AnalyticsBatch, None, &plain).ok()?;
    Some(AnalyticsBatch {
        site,
        events,
        sealed,
    })
}
