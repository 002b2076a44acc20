//! Web3 Analytics: a confidential service of each cluster, run by every member alike.
//!
//! A visitor's browser signs its consent and its page views with its own key and seals them
//! to the cluster's analytics key ([`service_secret`], derived from the cluster key, so every
//! member holds it and nobody else does). The member that receives them ([`ingest`]) checks
//! them and seals them, in arrival order, into a batch for the chain; the chain orders every
//! member's batches and relays them, so every member applies the same events in the same
//! order ([`AnalyticsState::apply`]) and a member that dies loses nothing the chain ordered.
//! The state lives in the core's sealed checkpoint like contract state.
//!
//! Owners and analysts ask fixed-shape analyses ([`report`]) that count only records whose
//! consent covers the analysis at the query's block, hide every cell describing fewer people
//! than the site's minimum cohort, and add Laplace noise under a daily ε budget when the site
//! asks for differential privacy ([`dp`]). A withdrawal or erasure removes the visitor's
//! records at once; retention erases old ones.

pub mod dp;
pub mod ingest;
pub mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use parity_scale_codec::{Decode, DecodeLimit, Encode};
use phala_crypto::keys::{KeyPair, Seed};
use phala_crypto::{EcdhSecret, Envelope};
use phala_mq::analytics::{
    ANALYTICS_COMMAND, AnalyticsCommand, AnalyticsMessage, SiteConfig, VisitorKey,
};
use phala_mq::analytics_api::{Consent, Device, Ingest, IngestItem, PageView};
use phala_mq::{Message, MessageOrigin};
use phala_primitives::{AccountId32, BlockNumber, H256};

use crate::gatekeeper::ClusterKey;

pub const DAY_MS: u64 = 86_400_000;
pub const HOUR_MS: u64 = 3_600_000;
/// How far ahead of the block that applies it a page view's time may be (a member took it
/// within 10 minutes of its own clock).
pub const FUTURE_WINDOW_MS: u64 = 15 * 60 * 1000;
/// How long, in blocks, a withdrawal's or erasure's block is remembered against older
/// consents: past it, the desks refuse such consents anyway (they name a recent block).
pub const WITHDRAWN_MEMORY: BlockNumber =
    phala_runtime::modules::analytics::WITHDRAWAL_VALIDITY.saturating_mul(2);
/// Page views kept per visitor and day: a bound on what one person contributes.
pub const MAX_VIEWS_PER_VISITOR_DAY: usize = 500;
/// Most events one batch holds.
pub const MAX_BATCH_EVENTS: usize = 4_096;

/// The cluster's analytics key: an X25519 key (and sr25519 signer) derived from the cluster
/// key, the same in every member.
pub fn service_key(cluster: &ClusterKey) -> KeyPair {
    KeyPair::new(
        cluster
            .seed
            .derive("analytics_key", cluster.cluster.as_bytes()),
    )
}

/// The analytics key's secret half, for opening what visitors and members sealed to it.
pub fn service_secret(cluster: &ClusterKey) -> EcdhSecret {
    EcdhSecret::from_bytes(*service_key(cluster).ecdh().to_bytes())
}

/// What the cluster key signs to vouch for the analytics key: `domain ‖ genesis ‖
/// cluster ‖ key`. A tracker's snippet carries the key once the CLI checked this.
pub fn service_key_statement(genesis: &H256, cluster: &H256, key: &[u8; 32]) -> Vec<u8> {
    let mut payload = phala_mq::analytics_api::SERVICE_KEY_DOMAIN.to_vec();
    payload.extend_from_slice(genesis.as_bytes());
    payload.extend_from_slice(cluster.as_bytes());
    payload.extend_from_slice(key);
    payload
}

/// The cluster key's receipt for a visitor's consent, which lets them withdraw on chain for
/// free (the chain checks it against the cluster's public key).
pub fn consent_receipt(
    cluster: &ClusterKey,
    genesis: &H256,
    site: u64,
    visitor: &VisitorKey,
) -> [u8; 64] {
    let payload = phala_runtime::modules::analytics::receipt_payload(genesis, site, visitor);
    KeyPair::new(Seed::from_bytes(*cluster.seed.expose())).sign(&payload)
}

/// The plaintext of a sealed batch: visitors' statements in the order the member took them.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BatchBody {
    pub items: Vec<Ingest>,
}

/// A page view as held: the visitor's own, with the fields their consent does not cover
/// blanked. The id refuses a replayed copy, however late it comes.
pub type StoredView = PageView;

/// One visitor of a site: their consent in force (with their signature, which proves it)
/// and their page views, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct VisitorRecord {
    pub consent: Option<(Consent, [u8; 64])>,
    pub views: Vec<StoredView>,
}

impl VisitorRecord {
    /// Whether the consent in force covers `purpose` at `now_ms`.
    pub fn covers(&self, purpose: u32, now_ms: u64) -> bool {
        self.consent
            .as_ref()
            .is_some_and(|(c, _)| c.purposes & purpose != 0 && c.expires_ms > now_ms)
    }
}

/// One site's data in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SiteData {
    pub owner: AccountId32,
    pub domain: Vec<u8>,
    pub config: SiteConfig,
    /// Analysts and the analyses (purpose bits) each may run.
    pub analysts: BTreeMap<AccountId32, u32>,
    /// The next batch id the chain will relay.
    pub next_batch: u64,
    /// Each visitor behind an `Arc`, so a batch copies only the visitors it touches.
    pub visitors: BTreeMap<VisitorKey, Arc<VisitorRecord>>,
    /// The newest block a visitor's withdrawal or erasure named: consents naming a block no
    /// later than it are void.
    pub withdrawn: BTreeMap<VisitorKey, BlockNumber>,
    /// The last hour (block time) retention ran.
    pub pruned_hour: u64,
}

impl SiteData {
    /// Which analyses `who` may run: all for the owner.
    pub fn allowed(&self, who: &AccountId32) -> u32 {
        if *who == self.owner {
            self.config.purposes
        } else {
            self.analysts.get(who).copied().unwrap_or(0) & self.config.purposes
        }
    }

    /// Page views held, over all visitors.
    pub fn view_count(&self) -> usize {
        self.visitors.values().map(|v| v.views.len()).sum()
    }

    /// Ends the visitor's consent and erases their records, unless they consented after
    /// `block` (an old statement, replayed or late, cannot undo a newer consent).
    fn erase(&mut self, visitor: &VisitorKey, block: BlockNumber) {
        let newer = self
            .visitors
            .get(visitor)
            .and_then(|r| r.consent.as_ref())
            .is_some_and(|(c, _)| c.block > block);
        if newer {
            return;
        }
        let known = self.visitors.remove(visitor).is_some() || self.withdrawn.contains_key(visitor);
        // A key the site never held anything for leaves nothing behind either.
        if known {
            let last = self.withdrawn.entry(*visitor).or_insert(block);
            *last = (*last).max(block);
        }
    }

    fn consent(&mut self, visitor: VisitorKey, consent: Consent, signature: [u8; 64]) {
        if self
            .withdrawn
            .get(&visitor)
            .is_some_and(|w| consent.block <= *w)
        {
            return;
        }
        let record = self.visitors.entry(visitor).or_default();
        let newer = record
            .consent
            .as_ref()
            .is_none_or(|(old, _)| (consent.block, consent.signed_ms) > (old.block, old.signed_ms));
        if !newer {
            return;
        }
        if consent.purposes == 0 {
            // Declining everything: nothing may use what was held, and an older consent
            // replayed later must not bring it back.
            self.erase(&visitor, consent.block);
            return;
        }
        let record = Arc::make_mut(record);
        record.consent = Some((consent, signature));
    }

    fn view(&mut self, visitor: &VisitorKey, view: PageView, block_ms: u64) {
        // A batch may come late (its member was down): anything within retention counts.
        let oldest =
            block_ms.saturating_sub(u64::from(self.config.retention_days).saturating_mul(DAY_MS));
        if view.at_ms < oldest || view.at_ms > block_ms.saturating_add(FUTURE_WINDOW_MS) {
            return;
        }
        // Only a visitor with a consent in force is recorded at all.
        let Some(record) = self.visitors.get_mut(visitor) else {
            return;
        };
        if !record.covers(phala_runtime::modules::analytics::purpose::ALL, block_ms) {
            return;
        }
        // The visitor's views that day: a replayed id is refused, and a day holds at most
        // MAX_VIEWS_PER_VISITOR_DAY.
        let day = view.at_ms / DAY_MS;
        let from = record.views.partition_point(|v| v.at_ms < day * DAY_MS);
        let to = record
            .views
            .partition_point(|v| v.at_ms < day.saturating_add(1) * DAY_MS);
        let that_day = record.views.get(from..to).unwrap_or_default();
        if that_day.len() >= MAX_VIEWS_PER_VISITOR_DAY || that_day.iter().any(|v| v.id == view.id) {
            return;
        }
        let covers = |p| record.covers(p, block_ms);
        use phala_runtime::modules::analytics::purpose;
        let stored = StoredView {
            id: view.id,
            at_ms: view.at_ms,
            path: if covers(purpose::PAGES) || covers(purpose::ENGAGEMENT) {
                view.path
            } else {
                Vec::new()
            },
            referrer: if covers(purpose::SOURCES) {
                view.referrer
            } else {
                Vec::new()
            },
            device: if covers(purpose::DEVICES) {
                view.device
            } else {
                Device::Unknown
            },
            screen: if covers(purpose::DEVICES) {
                view.screen
            } else {
                0
            },
        };
        let record = Arc::make_mut(record);
        // Kept in time order: views arrive nearly sorted.
        let at = record.views.partition_point(|v| v.at_ms <= stored.at_ms);
        record.views.insert(at, stored);
    }

    /// Erases records past retention and forgets old withdrawals, once per hour of block
    /// time.
    fn prune(&mut self, block_ms: u64, number: BlockNumber) {
        let hour = block_ms / HOUR_MS;
        if hour <= self.pruned_hour {
            return;
        }
        self.pruned_hour = hour;
        let keep_from =
            block_ms.saturating_sub(u64::from(self.config.retention_days).saturating_mul(DAY_MS));
        let mut empty = Vec::new();
        for (key, record) in self.visitors.iter_mut() {
            if record.views.first().is_some_and(|v| v.at_ms < keep_from) {
                let record = Arc::make_mut(record);
                record.views.retain(|v| v.at_ms >= keep_from);
            }
            let expired = record
                .consent
                .as_ref()
                .is_none_or(|(c, _)| c.expires_ms <= block_ms);
            if expired && record.views.is_empty() {
                empty.push(*key);
            }
        }
        for key in empty {
            self.visitors.remove(&key);
        }
        self.withdrawn
            .retain(|_, block| number.saturating_sub(*block) <= WITHDRAWN_MEMORY);
    }
}

/// Every site this cluster serves (sealed in the checkpoint).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct AnalyticsState {
    pub sites: BTreeMap<u64, Arc<SiteData>>,
    /// The ε each site spent today, per this member: shared with the query path.
    pub ledger: dp::SharedLedger,
}

impl AnalyticsState {
    /// Applies one of the chain's analytics messages, if it is one and for `cluster`.
    /// Returns a note for the log (never a secret), if any.
    pub fn on_message(
        &mut self,
        message: &Message,
        cluster: Option<&ClusterKey>,
        block_ms: u64,
    ) -> Option<String> {
        if message.sender != MessageOrigin::pallet("Analytics")
            || message.destination != ANALYTICS_COMMAND
        {
            return None;
        }
        let cluster = cluster?;
        let message =
            AnalyticsMessage::decode_all_with_depth_limit(8, &mut message.payload.as_slice())
                .ok()?;
        if message.cluster != cluster.cluster {
            return None;
        }
        self.apply(message.command, &service_secret(cluster), block_ms)
    }

    /// Applies a command of the chain, in chain order.
    pub fn apply(
        &mut self,
        command: AnalyticsCommand,
        service: &EcdhSecret,
        block_ms: u64,
    ) -> Option<String> {
        match command {
            AnalyticsCommand::SiteConfigured {
                site,
                owner,
                domain,
                config,
            } => {
                match self.sites.get_mut(&site) {
                    Some(data) => {
                        let data = Arc::make_mut(data);
                        data.owner = owner;
                        data.domain = domain;
                        data.config = config;
                        data.analysts.retain(|_, p| *p & config.purposes != 0);
                    }
                    None => {
                        self.sites.insert(
                            site,
                            Arc::new(SiteData {
                                owner,
                                domain,
                                config,
                                analysts: BTreeMap::new(),
                                next_batch: 0,
                                visitors: BTreeMap::new(),
                                withdrawn: BTreeMap::new(),
                                pruned_hour: block_ms / HOUR_MS,
                            }),
                        );
                    }
                }
                None
            }
            AnalyticsCommand::SiteClosed { site } => {
                self.sites.remove(&site);
                self.ledger.retain(|s| s != site);
                Some(format!("analytics site {site} closed: its data is erased"))
            }
            AnalyticsCommand::AnalystSet {
                site,
                analyst,
                purposes,
            } => {
                let data = Arc::make_mut(self.sites.get_mut(&site)?);
                if purposes == 0 {
                    data.analysts.remove(&analyst);
                } else {
                    data.analysts.insert(analyst, purposes);
                }
                None
            }
            AnalyticsCommand::ConsentWithdrawn {
                site,
                visitor,
                signed_at,
                at: _,
            } => {
                let data = Arc::make_mut(self.sites.get_mut(&site)?);
                let stands = data
                    .visitors
                    .get(&visitor)
                    .and_then(|r| r.consent.as_ref())
                    .is_some_and(|(c, _)| c.block > signed_at);
                if !stands {
                    data.erase(&visitor, signed_at);
                }
                None
            }
            AnalyticsCommand::Batch {
                site,
                id,
                from: _,
                events: _,
                sealed,
            } => {
                let data = Arc::make_mut(self.sites.get_mut(&site)?);
                if id < data.next_batch {
                    return None;
                }
                let gap = id > data.next_batch;
                data.next_batch = id.saturating_add(1);
                let note = gap.then(|| {
                    format!("analytics site {site}: batches before {id} were never seen here")
                });
                let Some(body) = open_batch(&sealed, service) else {
                    return Some(format!(
                        "analytics site {site}: batch {id} does not open with the cluster's \
                         analytics key; skipped"
                    ));
                };
                for ingest in body.items {
                    if ingest.site != site {
                        continue;
                    }
                    match ingest.item {
                        IngestItem::Consent(consent) => {
                            data.consent(ingest.visitor, consent, ingest.signature)
                        }
                        IngestItem::PageView(view) => data.view(&ingest.visitor, view, block_ms),
                        IngestItem::Erase { block } => data.erase(&ingest.visitor, block),
                    }
                }
                note
            }
        }
    }

    /// Runs retention for every site (the core calls it once per block).
    pub fn end_block(&mut self, block_ms: u64, number: BlockNumber) {
        for data in self.sites.values_mut() {
            if block_ms / HOUR_MS > data.pruned_hour {
                Arc::make_mut(data).prune(block_ms, number);
            }
        }
    }
}

fn open_batch(sealed: &Envelope, service: &EcdhSecret) -> Option<BatchBody> {
    if sealed.header.purpose != phala_crypto::Purpose::AnalyticsBatch {
        return None;
    }
    let plain = sealed.open(service).ok()?;
    BatchBody::decode_all_with_depth_limit(8, &mut plain.as_slice()).ok()
}
