//! Trust that lasts only as long as its grounds: attestations expire, a removed measurement
//! revokes the workers that run it, and a role (gatekeeper, cluster member) needs a current
//! attestation at a good enough confidence level.
//!
//! Revocation is immediate where it matters and bounded everywhere: a worker whose
//! measurement is no longer allowed, or whose attestation expired, is refused at once by
//! every check ([`usable`]); gatekeepers (a bounded set) lose the role in the same call,
//! followed by a master key rotation; and the registrations and cluster seats of the rest
//! are removed page by page (at most [`PAGE`] workers a block), so a measurement many
//! workers run never makes one block too heavy.

use phala_primitives::BlockNumber;
use phala_primitives::storage::Hasher;

use super::{
    ALLOWED_MEASUREMENTS, Error, Event, TeeKind, WORKERS, WorkerHooks, WorkerInfo, gatekeeper,
};
use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::system;
use crate::storage::{Query, StorageMap, StorageValue};

/// Workers per page of a measurement's index, and revoked per block.
pub const PAGE: usize = 256;
/// Blocks between two sweeps of the gatekeeper set for expired attestations.
pub const SWEEP_EVERY: BlockNumber = 16;

pub const MEASUREMENT_PAGES: StorageMap<(Vec<u8>, u32), Vec<[u8; 32]>> = StorageMap::new(
    super::MODULE,
    "MeasurementPages",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[
        " Workers registered with each measurement, in pages of 256 (entries of workers that \
        moved to another measurement since are left, and skipped).",
    ],
);
pub const MEASUREMENT_PAGE_COUNT: StorageMap<Vec<u8>, u32> = StorageMap::new(
    super::MODULE,
    "MeasurementPageCount",
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" How many pages each measurement's index has."],
);
pub const REVOKING: StorageValue<Vec<(Vec<u8>, u32)>> = StorageValue::new(
    super::MODULE,
    "Revoking",
    Query::Default,
    &[" Removed measurements whose workers are still being revoked, and the next page."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        MEASUREMENT_PAGES.metadata(),
        MEASUREMENT_PAGE_COUNT.metadata(),
        REVOKING.metadata(),
    ]
}

/// Whether `info`'s attestation is still valid at the current block.
pub fn attestation_current(ext: &Ext, info: &WorkerInfo) -> bool {
    system::block_number(ext) <= info.expires_at
}

/// Whether the chain takes anything from this worker: a current attestation of a
/// measurement still allowed.
pub fn usable(ext: &Ext, info: &WorkerInfo) -> Result<(), Error> {
    if !ALLOWED_MEASUREMENTS.contains(ext, &info.measurement) {
        return Err(Error::MeasurementNotAllowed);
    }
    if !attestation_current(ext, info) {
        return Err(Error::AttestationExpired);
    }
    Ok(())
}

/// Whether a worker may take a role that needs confidence level `max_level` or better:
/// usable, and a hardware level within it (a simulated TEE only where the genesis allows
/// simulation).
pub fn check_role(ext: &Ext, info: &WorkerInfo, max_level: u8) -> Result<(), Error> {
    usable(ext, info)?;
    let trusted = match info.tee {
        TeeKind::Simulated => super::ALLOW_SIMULATED_TEE.get_or_default(ext),
        TeeKind::Sgx | TeeKind::Tdx => info.confidence_level <= max_level,
    };
    if trusted {
        Ok(())
    } else {
        Err(Error::ConfidenceTooLow)
    }
}

/// Files a newly registered (or newly measured) worker in its measurement's index.
pub(super) fn index(ext: &mut Ext, pubkey: [u8; 32], measurement: &[u8]) {
    let measurement = measurement.to_vec();
    let count = MEASUREMENT_PAGE_COUNT.get_or_default(ext, &measurement);
    let last = count.saturating_sub(1);
    let mut page = MEASUREMENT_PAGES.get_or_default(ext, &(measurement.clone(), last));
    if count == 0 || page.len() >= PAGE {
        let next = if count == 0 { 0 } else { count };
        MEASUREMENT_PAGES.insert(ext, &(measurement.clone(), next), &vec![pubkey]);
        MEASUREMENT_PAGE_COUNT.insert(ext, &measurement, &next.saturating_add(1));
    } else {
        page.push(pubkey);
        MEASUREMENT_PAGES.insert(ext, &(measurement, last), &page);
    }
}

/// A measurement left the allowlist: its gatekeepers lose the role now (and the master key
/// is rotated), its other workers page by page from the next block. Refused if it would
/// leave no gatekeeper: the master key would be lost for good (add gatekeepers of another
/// measurement first).
pub(super) fn revoke_measurement(ext: &mut Ext, measurement: &[u8]) -> DispatchResult {
    let gatekeepers = gatekeeper::GATEKEEPERS.get_or_default(ext);
    let revoked: Vec<[u8; 32]> = gatekeepers
        .iter()
        .filter(|g| {
            WORKERS
                .get(ext, g)
                .is_some_and(|w| w.measurement == measurement)
        })
        .copied()
        .collect();
    if !revoked.is_empty() && revoked.len() == gatekeepers.len() {
        return Err(Error::LastGatekeepers.into());
    }
    gatekeeper::remove_and_rotate(ext, &revoked)?;
    let mut queue = REVOKING.get_or_default(ext);
    queue.push((measurement.to_vec(), 0));
    REVOKING.put(ext, &queue);
    Ok(())
}

/// Takes a revoked worker's registration and cluster seat.
fn revoke<H: WorkerHooks>(ext: &mut Ext, pubkey: &[u8; 32]) {
    H::on_revoked(ext, pubkey);
    WORKERS.remove(ext, pubkey);
    ext.deposit_event(Event::WorkerRevoked { pubkey: *pubkey });
}

/// Block start: revokes one page of a removed measurement's workers, and every
/// [`SWEEP_EVERY`] blocks takes the role from gatekeepers whose attestation expired (their
/// platform may no longer pass), rotating the master key.
pub fn on_initialize<H: WorkerHooks>(ext: &mut Ext, number: BlockNumber) {
    let mut queue = REVOKING.get_or_default(ext);
    if let Some((measurement, page)) = queue.first().cloned() {
        let key = (measurement.clone(), page);
        for pubkey in MEASUREMENT_PAGES.get_or_default(ext, &key) {
            // Entries of workers re-registered with another measurement since are stale.
            if WORKERS
                .get(ext, &pubkey)
                .is_some_and(|w| w.measurement == measurement)
            {
                revoke::<H>(ext, &pubkey);
            }
        }
        MEASUREMENT_PAGES.remove(ext, &key);
        let next = page.saturating_add(1);
        if next >= MEASUREMENT_PAGE_COUNT.get_or_default(ext, &measurement) {
            MEASUREMENT_PAGE_COUNT.remove(ext, &measurement);
            queue.remove(0);
        } else if let Some(first) = queue.first_mut() {
            first.1 = next;
        }
        REVOKING.put(ext, &queue);
    }
    if number.checked_rem(SWEEP_EVERY) == Some(0) {
        let expired: Vec<[u8; 32]> = gatekeeper::GATEKEEPERS
            .get_or_default(ext)
            .into_iter()
            .filter(|g| {
                WORKERS
                    .get(ext, g)
                    .is_none_or(|w| !attestation_current(ext, &w))
            })
            .collect();
        // Best effort: a failed rotation request (no master key yet) leaves the removal.
        let _ = ext.transactional(|ext| gatekeeper::remove_and_rotate(ext, &expired));
    }
}

/// A registered worker re-attested: if its new attestation no longer qualifies it for a
/// role it holds, it loses the role.
pub(super) fn recheck_roles<H: WorkerHooks>(ext: &mut Ext, worker: &WorkerInfo) -> DispatchResult {
    let params = super::params(ext);
    if gatekeeper::is_gatekeeper(ext, &worker.pubkey)
        && check_role(ext, worker, params.gatekeeper_max_level).is_err()
    {
        gatekeeper::remove_and_rotate(ext, &[worker.pubkey])?;
    }
    H::on_reattested(ext, worker);
    Ok(())
}
