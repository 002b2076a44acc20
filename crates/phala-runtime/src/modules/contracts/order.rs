//! Reports settle in the order their commands were pushed, per cluster.
//!
//! Every member of a cluster runs its commands in chain order, so each command's effects
//! assume the ones before it: a contract made by an earlier command, or one a later command
//! terminates. Reporters take turns, and their reports reach the chain in any order (a tip,
//! a busy reporter). Settling them as they come would let a later command's report change
//! what an earlier one's can name (a contract it terminated), so the earlier report would be
//! refused forever and its command could only be cancelled, with storage nobody paid for
//! left behind. So a report that arrives before the commands ahead of it is kept, and
//! settled as soon as they are.

use phala_mq::contracts::ContractReport;
use phala_primitives::H256;

use super::{Error, Event, PENDING_COMMANDS};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::storage::{Query, StorageMap, StorageValue};
use phala_primitives::storage::Hasher;

/// Most commands a cluster may have waiting for their reports.
pub const MAX_CLUSTER_PENDING: usize = 1_024;
/// Most kept reports one report or one block settles; the rest follow in later blocks.
pub const MAX_SETTLED_AT_ONCE: usize = 16;

pub const CLUSTER_QUEUE: StorageMap<H256, Vec<u64>> = StorageMap::new(
    super::MODULE,
    "ClusterQueue",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" Each cluster's commands awaiting settlement, in push order."],
);
pub const EARLY_REPORTS: StorageMap<u64, ([u8; 32], Vec<u8>)> = StorageMap::new(
    super::MODULE,
    "EarlyReports",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Reports that arrived before the commands ahead of theirs settled: reporter and report."],
);
pub const BACKLOGGED: StorageValue<Vec<H256>> = StorageValue::new(
    super::MODULE,
    "Backlogged",
    Query::Default,
    &[" Clusters with kept reports ready to settle beyond what one call settles."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        CLUSTER_QUEUE.metadata(),
        EARLY_REPORTS.metadata(),
        BACKLOGGED.metadata(),
    ]
}

/// Files a new command at the end of its cluster's queue.
pub(super) fn check_room(ext: &Ext, cluster: &H256) -> Result<(), Error> {
    if CLUSTER_QUEUE.get_or_default(ext, cluster).len() >= MAX_CLUSTER_PENDING {
        return Err(Error::ClusterBusy);
    }
    Ok(())
}

pub(super) fn enqueue(ext: &mut Ext, cluster: &H256, id: u64) {
    let mut queue = CLUSTER_QUEUE.get_or_default(ext, cluster);
    queue.push(id);
    CLUSTER_QUEUE.insert(ext, cluster, &queue);
}

/// Takes a settled or cancelled command out of its cluster's queue.
pub(super) fn dequeue(ext: &mut Ext, cluster: &H256, id: u64) {
    let mut queue = CLUSTER_QUEUE.get_or_default(ext, cluster);
    queue.retain(|c| *c != id);
    if queue.is_empty() {
        CLUSTER_QUEUE.remove(ext, cluster);
    } else {
        CLUSTER_QUEUE.insert(ext, cluster, &queue);
    }
    EARLY_REPORTS.remove(ext, &id);
}

/// Whether a report of `id` is in and only waits for the commands ahead of it.
pub fn report_kept(ext: &Ext, id: u64) -> bool {
    EARLY_REPORTS.contains(ext, &id)
}

/// A cluster member's report: settled now if its command is the first of its cluster still
/// pending, kept until then otherwise.
pub fn on_report(ext: &mut Ext, sender: [u8; 32], payload: &[u8]) -> DispatchResult {
    let _span = tracing::debug_span!("contracts.settle", bytes = payload.len()).entered();
    let ContractReport::Executed { id, .. } =
        ContractReport::decode_any(payload).map_err(|_| Error::BadReport)?;
    let pending = PENDING_COMMANDS
        .get(ext, &id)
        .ok_or(Error::UnknownCommand)?;
    if !super::holds_turns(ext, &sender, &pending.cluster) {
        return Err(Error::NotInCluster.into());
    }
    let first = CLUSTER_QUEUE
        .get_or_default(ext, &pending.cluster)
        .first()
        .copied();
    if first != Some(id) {
        if EARLY_REPORTS.contains(ext, &id) {
            return Err(Error::ReportAlreadyIn.into());
        }
        EARLY_REPORTS.insert(ext, &id, &(sender, payload.to_vec()));
        ext.deposit_event(Event::ReportKept {
            cluster: pending.cluster,
            command: id,
        });
        return Ok(());
    }
    super::report::settle(ext, sender, payload)?;
    settle_kept(ext, &pending.cluster);
    Ok(())
}

/// The first command of `cluster`'s queue: the one its workers run next, or are running.
pub(super) fn first_of(ext: &Ext, cluster: &H256) -> Option<u64> {
    CLUSTER_QUEUE.get_or_default(ext, cluster).first().copied()
}

/// Settles the kept reports now first in `cluster`'s queue, at most
/// [`MAX_SETTLED_AT_ONCE`]; more wait for the next block. A kept report that does not settle
/// is dropped: its command goes on waiting, and is reassigned or cancelled as any other.
pub(super) fn settle_kept(ext: &mut Ext, cluster: &H256) {
    for _ in 0..MAX_SETTLED_AT_ONCE {
        let Some(first) = CLUSTER_QUEUE.get_or_default(ext, cluster).first().copied() else {
            return;
        };
        let Some((sender, payload)) = EARLY_REPORTS.get(ext, &first) else {
            return;
        };
        EARLY_REPORTS.remove(ext, &first);
        if let Err(error) = ext.transactional(|ext| super::report::settle(ext, sender, &payload)) {
            ext.deposit_event(Event::ReportRefused {
                cluster: *cluster,
                command: first,
                error,
            });
            return;
        }
    }
    // Still more ready: the next blocks go on.
    let ready = CLUSTER_QUEUE
        .get_or_default(ext, cluster)
        .first()
        .is_some_and(|first| EARLY_REPORTS.contains(ext, first));
    if ready {
        let mut backlog = BACKLOGGED.get_or_default(ext);
        if !backlog.contains(cluster) {
            backlog.push(*cluster);
            BACKLOGGED.put(ext, &backlog);
        }
    }
}

/// Block start: goes on settling the clusters whose kept reports one call could not all
/// settle.
pub(super) fn on_initialize(ext: &mut Ext) {
    let backlog = BACKLOGGED.get_or_default(ext);
    if backlog.is_empty() {
        return;
    }
    BACKLOGGED.kill(ext);
    for cluster in backlog {
        settle_kept(ext, &cluster);
    }
}
