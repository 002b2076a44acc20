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

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        ALLOW_SIMULATED_TEE.metadata(),
        ALLOWED_MEASUREMENTS.metadata(),
        ADVISORY_WHITELIST.metadata(),
        WORKERS.metadata(),
    ]
    .into_iter()
    .chain(gatekeeper::storage_metadata())
    .collect()
}

pub fn worker(ext: &Ext, pubkey: &[u8; 32]) -> Option<WorkerInfo> {
    WORKERS.get(ext, pubkey)
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
