//! `Registry`: which workers exist, what they run, and how much the chain trusts them.
//!
//! A worker registers with `register_worker(info, attestation)`. The chain verifies the
//! attestation at the block's time (`phala-attestation`: Intel DCAP for SGX and TDX, or a
//! simulated quote where the genesis allows it), requires the quote's report data to be
//! `blake2_256(SCALE(info))` so the keys and operator in `info` come from inside the TEE,
//! requires the measurement to be on the allowlist, and records the worker under its
//! identity key with its TEE kind and confidence level. Registering again refreshes the
//! attestation and keeps everything else (the benchmark score, the registration block).
//!
//! A new worker is asked, through the message queue, to benchmark itself; the score it
//! reports (iterations per 6 s, at most 6000) becomes its initial performance.
//!
//! Trust is not forever ([`RegistryParams`]): an attestation is valid for
//! `attestation_validity` blocks, after which the chain refuses the worker's messages until
//! it re-attests (workers do so on their own before expiry); OutOfDate platforms (level 5)
//! register only where the genesis allows them; gatekeepers and cluster members need a
//! confidence level at least as good as the chain's minimum for the role; and removing a
//! measurement from the allowlist revokes every worker that runs it: it leaves its cluster,
//! stops being a gatekeeper (a master key rotation follows) and loses its registration.
//!
//! Root makes registered workers gatekeepers; [`gatekeeper`] keeps the master key's public
//! record and relays the sealed key hand-overs between them.

mod calls;
mod errors;
mod events;
pub mod gatekeeper;
#[cfg(test)]
pub(crate) mod gatekeeper_tests;
#[cfg(test)]
pub(crate) mod tests;
mod trust;
#[cfg(test)]
mod trust_tests;

pub use gatekeeper::{
    MAX_DELIVERIES, check_deliveries, expel as expel_gatekeeper, is_gatekeeper, master_version,
    on_report as on_gatekeeper_report, report_weight as gatekeeper_report_weight,
};
pub use trust::{attestation_current, check_role, on_initialize, usable};

pub use calls::Call;
pub use errors::Error;
pub use events::Event;

use parity_scale_codec::{Decode, Encode};
pub use phala_attestation::{TcbStatus, TeeKind};
use phala_mq::topics::{self, WorkerEvent, WorkerEventWithKey, WorkerReport};
use phala_primitives::{AccountId32, BlockNumber, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::DispatchResult;
use crate::modules::message_queue;
use crate::storage::{Query, StorageMap, StorageValue};

const MODULE: &str = "Registry";

/// What other modules do when a worker's standing changes. Clusters live in `contracts`,
/// which builds on this module; the runtime's root implements this trait to wire the two
/// without a circle.
pub trait WorkerHooks {
    /// `pubkey`'s registration is being revoked: it must keep no seat in other modules.
    fn on_revoked(ext: &mut Ext, pubkey: &[u8; 32]);
    /// `worker` re-attested: seats its new attestation no longer qualifies it for are taken.
    fn on_reattested(ext: &mut Ext, worker: &WorkerInfo);
}

/// Longest allowlist entry (a TDX measurement: 5 × 48 bytes).
pub const MAX_MEASUREMENT_LEN: usize = 240;

/// A registered worker.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct WorkerInfo {
    /// sr25519 identity key: signs the worker's messages.
    pub pubkey: [u8; 32],
    /// x25519 key for secrets sent to the worker.
    pub ecdh_pubkey: [u8; 32],
    pub runtime_version: u32,
    pub machine_id: Vec<u8>,
    pub features: Vec<u32>,
    pub operator: Option<AccountId32>,
    /// `Simulated` on development chains: never real protection.
    pub tee: TeeKind,
    pub tcb_status: Option<TcbStatus>,
    /// 1 (best) to 5 for hardware, 128 for simulated.
    pub confidence_level: u8,
    pub measurement: Vec<u8>,
    /// Block of the first registration.
    pub registered_at: BlockNumber,
    /// Block of the latest (re-)registration.
    pub attested_at: BlockNumber,
    /// The benchmark score, once reported: the worker's initial performance P.
    pub initial_score: Option<u32>,
    /// The last block at which the attestation is valid; after it, the worker's messages
    /// are refused until it re-attests.
    pub expires_at: BlockNumber,
}

/// The registry's chain parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RegistryParams {
    /// Blocks an attestation stays valid.
    pub attestation_validity: BlockNumber,
    /// The worst confidence level (1 best, 5 worst) a gatekeeper may have. Simulated TEEs,
    /// where the genesis allows them, are exempt.
    pub gatekeeper_max_level: u8,
    /// The worst confidence level a cluster member may have.
    pub cluster_max_level: u8,
    /// Whether OutOfDate platforms (level 5) may register at all.
    pub allow_out_of_date: bool,
}

/// Shortest attestation validity root may set: a worker needs time to re-attest.
pub const MIN_ATTESTATION_VALIDITY: BlockNumber = 20;

impl Default for RegistryParams {
    fn default() -> Self {
        RegistryParams {
            // A week of 6-second blocks.
            attestation_validity: 100_800,
            gatekeeper_max_level: 2,
            cluster_max_level: 3,
            allow_out_of_date: false,
        }
    }
}

impl RegistryParams {
    pub fn check(&self) -> Result<(), Error> {
        let level_ok = |l: u8| (1..=5).contains(&l);
        if self.attestation_validity < MIN_ATTESTATION_VALIDITY
            || !level_ok(self.gatekeeper_max_level)
            || !level_ok(self.cluster_max_level)
        {
            return Err(Error::BadParams);
        }
        Ok(())
    }
}

// Storage metadata declares a default for every value type; a worker entry is `Optional`, so
// this one is never read.
impl Default for WorkerInfo {
    fn default() -> Self {
        WorkerInfo {
            pubkey: [0; 32],
            ecdh_pubkey: [0; 32],
            runtime_version: 0,
            machine_id: Vec::new(),
            features: Vec::new(),
            operator: None,
            tee: TeeKind::Simulated,
            tcb_status: None,
            confidence_level: 0,
            measurement: Vec::new(),
            registered_at: 0,
            attested_at: 0,
            initial_score: None,
            expires_at: 0,
        }
    }
}

pub const ALLOW_SIMULATED_TEE: StorageValue<bool> = StorageValue::new(
    MODULE,
    "AllowSimulatedTee",
    Query::Default,
    &[" Whether simulated TEEs may register (development chains only; set at genesis)."],
);
pub const ALLOWED_MEASUREMENTS: StorageMap<Vec<u8>, BlockNumber> = StorageMap::new(
    MODULE,
    "AllowedMeasurements",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Worker measurements allowed to register, and the block each was added at."],
);
pub const ADVISORY_WHITELIST: StorageValue<Vec<Vec<u8>>> = StorageValue::new(
    MODULE,
    "AdvisoryWhitelist",
    Query::Default,
    &[" Intel advisories that keep a ConfigurationNeeded platform at confidence level 3."],
);
pub const WORKERS: StorageMap<[u8; 32], WorkerInfo> = StorageMap::new(
    MODULE,
    "Workers",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" Registered workers by identity key."],
);
pub const PARAMS: StorageValue<RegistryParams> = StorageValue::new(
    MODULE,
    "Params",
    Query::Default,
    &[" Attestation validity and the confidence levels each role needs."],
);
pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        ALLOW_SIMULATED_TEE.metadata(),
        ALLOWED_MEASUREMENTS.metadata(),
        ADVISORY_WHITELIST.metadata(),
        WORKERS.metadata(),
        PARAMS.metadata(),
    ]
    .into_iter()
    .chain(trust::storage_metadata())
    .chain(gatekeeper::storage_metadata())
    .collect()
}

pub fn worker(ext: &Ext, pubkey: &[u8; 32]) -> Option<WorkerInfo> {
    WORKERS.get(ext, pubkey)
}

pub fn params(ext: &Ext) -> RegistryParams {
    PARAMS.get_or_default(ext)
}

/// The attestation policy in force.
pub fn policy(ext: &Ext) -> phala_attestation::Policy {
    phala_attestation::Policy {
        allow_simulated: ALLOW_SIMULATED_TEE.get_or_default(ext),
        advisory_whitelist: ADVISORY_WHITELIST
            .get_or_default(ext)
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect(),
    }
}

fn notify(ext: &mut Ext, pubkey: [u8; 32], event: WorkerEvent) -> DispatchResult {
    message_queue::push(
        ext,
        MODULE,
        topics::WORKER_EVENT,
        &WorkerEventWithKey { pubkey, event },
    )
}

/// What a worker's report costs to handle: its record read and written, and a reply.
pub fn worker_report_weight(_payload: &[u8]) -> phala_primitives::Weight {
    crate::modules::weights::reads_writes(2, 2)
}

/// A worker's report, delivered (signature and sequence checked) by the message queue.
pub fn on_worker_report(ext: &mut Ext, pubkey: [u8; 32], payload: &[u8]) -> DispatchResult {
    let report = WorkerReport::decode(&mut &payload[..]).map_err(|_| Error::BadReport)?;
    let mut info = WORKERS.get(ext, &pubkey).ok_or(Error::WorkerNotFound)?;
    match report {
        WorkerReport::BenchScore(score) => {
            if info.initial_score.is_some() {
                return Err(Error::ScoreAlreadyReported.into());
            }
            let score = score.min(topics::MAX_SCORE);
            info.initial_score = Some(score);
            WORKERS.insert(ext, &pubkey, &info);
            ext.deposit_event(Event::BenchScoreRecorded { pubkey, score });
            notify(ext, pubkey, WorkerEvent::BenchScoreRecorded { score })?;
        }
    }
    Ok(())
}

/// Genesis: the simulation switch, the allowlist and the advisory whitelist.
pub(crate) fn build_genesis(
    ext: &mut Ext,
    genesis: &crate::genesis::RegistryGenesis,
) -> Result<(), String> {
    genesis
        .params
        .check()
        .map_err(|_| "registry parameters out of range".to_string())?;
    PARAMS.put(ext, &genesis.params);
    ALLOW_SIMULATED_TEE.put(ext, &genesis.allow_simulated_tee);
    for m in &genesis.measurements {
        if m.is_empty() || m.len() > MAX_MEASUREMENT_LEN {
            return Err(format!("measurement of {} bytes is not allowed", m.len()));
        }
        ALLOWED_MEASUREMENTS.insert(ext, m, &0);
    }
    if genesis.gatekeeper_operators.len() > gatekeeper::MAX_GATEKEEPERS {
        return Err("too many gatekeeper operators".into());
    }
    gatekeeper::AUTO_GATEKEEPER_OPERATORS.put(ext, &genesis.gatekeeper_operators);
    ADVISORY_WHITELIST.put(
        ext,
        &genesis
            .advisory_whitelist
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect(),
    );
    Ok(())
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Registry",
        index: crate::modules::index::REGISTRY,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Workers: attested registration, the measurement allowlist, benchmark scores.",
    }
}
