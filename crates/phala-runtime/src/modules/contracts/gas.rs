//! Buyers of compute pay its providers. A command's gas goes to the treasury when its
//! report settles, as every fee does, and is recorded as the cluster's revenue; at the
//! start of a block, one cluster's revenue is shared out of the treasury with its computing
//! members ([`Config::pay_providers`]). Settling a report stays a constant amount of work
//! whatever the cluster's size, and the sharing, bounded by one cluster a block, is done
//! where it cannot crowd out transactions.
//!
//! Only gas a report settles is shared: a cancelled command's gas stays with the treasury
//! (its members did not report it, and a submitter whose pools ran the cluster must not
//! win back what it pays for clogging the queue).

use phala_primitives::{Balance, H256};

use super::{CLUSTERS, Config, Event};
use crate::Ext;
use crate::storage::{Query, StorageMap, StorageValue};
use phala_primitives::storage::Hasher;

/// Clusters with revenue waiting to be shared, at most: beyond, a cluster's gas simply
/// stays with the treasury until its turn frees a place.
pub const MAX_DUE: usize = 4_096;

pub const GAS_REVENUE: StorageMap<H256, Balance> = StorageMap::new(
    super::MODULE,
    "GasRevenue",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" Gas each cluster's commands paid the treasury, not yet shared with its members."],
);
pub const GAS_DUE: StorageValue<Vec<H256>> = StorageValue::new(
    super::MODULE,
    "GasDue",
    Query::Default,
    &[" Clusters whose revenue is shared next, first come first served: one a block."],
);

pub const GAS_OWED: StorageValue<Balance> = StorageValue::new(
    super::MODULE,
    "GasOwed",
    Query::Default,
    &[
        " The sum of `GasRevenue`: what the treasury holds for providers, which treasury",
        " spends cannot touch.",
    ],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        GAS_REVENUE.metadata(),
        GAS_DUE.metadata(),
        GAS_OWED.metadata(),
    ]
}

/// Gas revenue the treasury holds for providers.
pub fn owed(ext: &Ext) -> Balance {
    GAS_OWED.get_or_default(ext)
}

/// Records `fee`, just paid to the treasury for a command of `cluster`, as the cluster's
/// revenue. Two reads and writes.
pub(super) fn owe_providers(ext: &mut Ext, cluster: &H256, fee: Balance) {
    if fee == 0 {
        return;
    }
    let owed = GAS_REVENUE.get_or_default(ext, cluster);
    if owed == 0 {
        let mut due = GAS_DUE.get_or_default(ext);
        if due.len() >= MAX_DUE {
            return;
        }
        due.push(*cluster);
        GAS_DUE.put(ext, &due);
    }
    GAS_REVENUE.insert(ext, cluster, &owed.saturating_add(fee));
    GAS_OWED.put(ext, &self::owed(ext).saturating_add(fee));
}

/// Block start: shares the first due cluster's revenue with its members.
pub(super) fn share<C: Config>(ext: &mut Ext) {
    let mut due = GAS_DUE.get_or_default(ext);
    if due.is_empty() {
        return;
    }
    let cluster = due.remove(0);
    GAS_DUE.put(ext, &due);
    let revenue = GAS_REVENUE.get_or_default(ext, &cluster);
    GAS_REVENUE.remove(ext, &cluster);
    GAS_OWED.put(ext, &owed(ext).saturating_sub(revenue));
    let workers = CLUSTERS
        .get(ext, &cluster)
        .map(|c| c.workers)
        .unwrap_or_default();
    let paid = C::pay_providers(ext, &workers, revenue).min(revenue);
    ext.deposit_event(Event::GasShared {
        cluster,
        revenue,
        paid,
    });
}
