//! Ingested events on their way between a site's cluster members: a member seals a batch of
//! what it took in (topic [`ANALYTICS_BATCH`](phala_mq::analytics::ANALYTICS_BATCH)); the
//! chain checks it comes from a member of the site's cluster, charges the site's prepayment
//! by its size, numbers it, and relays it to every member, so all apply the same events in
//! the same order and none is lost when a member dies. The chain sees sizes, never events.

use parity_scale_codec::{DecodeLimit, Encode};
use phala_mq::analytics::{AnalyticsBatch, MAX_SEALED_BATCH};
use phala_primitives::{Balance, Weight};

use super::{
    AnalyticsCommand, AnalyticsMessage, Error, Event, MODULE, NEXT_BATCH, SITES, site_account,
};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::{TREASURY_ACCOUNT, balances, contracts, message_queue, weights};

/// What a sealed byte of events costs the site (0.000001 PHA): a full batch 0.05 PHA.
pub const PRICE_PER_BYTE: Balance = 1_000_000;

fn decode(payload: &[u8]) -> Option<AnalyticsBatch> {
    AnalyticsBatch::decode_all_with_depth_limit(8, &mut &payload[..]).ok()
}

/// A member's batch, delivered (signature and sequence checked) by the message queue.
pub fn on_batch(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let batch = decode(payload).ok_or(Error::BadBatch)?;
    let bytes = batch.sealed.encoded_size();
    if bytes > MAX_SEALED_BATCH {
        return Err(Error::BadBatch.into());
    }
    let site = SITES.get(ext, &batch.site).ok_or(Error::UnknownSite)?;
    if contracts::WORKER_CLUSTER.get(ext, &sender) != Some(site.cluster) {
        return Err(Error::NotInCluster.into());
    }
    let price = PRICE_PER_BYTE
        .checked_mul(Balance::try_from(bytes).map_err(|_| Error::BadBatch)?)
        .ok_or(Error::BadBatch)?;
    // The site's account stays open (keep-alive): an empty prepayment refuses batches
    // until the owner tops it up.
    balances::transfer(
        ext,
        &site_account(batch.site),
        &TREASURY_ACCOUNT,
        price,
        true,
    )
    .map_err(|_| Error::PrepaymentExhausted)?;
    let id = NEXT_BATCH.get_or_default(ext, &batch.site);
    NEXT_BATCH.insert(ext, &batch.site, &id.saturating_add(1));
    message_queue::push_bulk(
        ext,
        MODULE,
        phala_mq::analytics::ANALYTICS_COMMAND,
        &AnalyticsMessage {
            cluster: site.cluster,
            command: AnalyticsCommand::Batch {
                site: batch.site,
                id,
                from: sender,
                events: batch.events,
                sealed: batch.sealed,
            },
        },
    )?;
    ext.deposit_event(Event::BatchAccepted {
        site: batch.site,
        id,
        events: batch.events,
        bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        paid: price,
    });
    Ok(())
}

/// The storage work a batch asks for: the site, the sender's cluster, two balances, the
/// counter and the relayed message (about its size again).
pub fn batch_weight(payload: &[u8]) -> Weight {
    let bytes = u64::try_from(payload.len()).unwrap_or(u64::MAX);
    weights::add(
        weights::reads_writes(6, 5),
        weights::compute(bytes.saturating_mul(2_000)),
    )
}
