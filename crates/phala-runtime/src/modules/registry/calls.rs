use parity_scale_codec::{Decode, Encode};
use phala_attestation::{Attestation, AttestationError};
use phala_mq::topics::{BENCHMARK_SECONDS, WorkerEvent};
use phala_primitives::worker::WorkerRegistrationInfo;
use scale_info::TypeInfo;

use super::{
    ALLOWED_MEASUREMENTS, Error, Event, MAX_MEASUREMENT_LEN, PARAMS, RegistryParams, WORKERS,
    WorkerHooks, WorkerInfo, notify, policy, trust,
};
use crate::Ext;
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::{system, timestamp, weights};

/// Calls of the `Registry` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Register a worker, or refresh its attestation. Anyone may submit it (usually the
    /// worker's relayer, paid by its operator): the attestation is the authority.
    #[codec(index = 0)]
    register_worker {
        info: Box<WorkerRegistrationInfo>,
        attestation: Attestation,
    },
    /// Allow workers with this measurement to register (root).
    #[codec(index = 1)]
    add_measurement { measurement: Vec<u8> },
    /// Stop allowing a measurement (root). Every worker registered with it is revoked: it
    /// leaves its cluster, stops being a gatekeeper (the master key is then rotated) and
    /// loses its registration.
    #[codec(index = 2)]
    remove_measurement { measurement: Vec<u8> },
    /// Make a registered worker a gatekeeper (root: a referendum on the root track). The first one makes
    /// the master key; later ones receive it from the others.
    #[codec(index = 3)]
    register_gatekeeper { pubkey: [u8; 32] },
    /// Replace the master key (root: a referendum on the root track). Gatekeepers keep the old ones, so
    /// data sealed under them stays readable.
    #[codec(index = 4)]
    rotate_master_key,
    /// Stop a worker being a gatekeeper (root: a referendum on the root track); its TEE erases its master
    /// keys. Rotate the master key afterwards.
    #[codec(index = 5)]
    remove_gatekeeper { pubkey: [u8; 32] },
    /// Give up a requested rotation no gatekeeper completed (root: a referendum on the root track).
    #[codec(index = 6)]
    cancel_master_key_rotation,
    /// Set the attestation validity and the confidence levels roles need (root, until
    /// governance). Applies to attestations made from now on and to role changes.
    #[codec(index = 7)]
    set_params { params: RegistryParams },
}

fn attestation_error(e: AttestationError) -> Error {
    match e {
        AttestationError::SimulatedNotAllowed => Error::SimulatedTeeNotAllowed,
        AttestationError::BadSimulatedQuote(_) => Error::MalformedQuote,
        AttestationError::QuoteTooLarge(_) => Error::QuoteTooLarge,
        AttestationError::CollateralTooLarge(_) => Error::CollateralTooLarge,
        AttestationError::MalformedQuote(_) => Error::MalformedQuote,
        AttestationError::BadSignature(_) => Error::BadQuoteSignature,
        AttestationError::CollateralExpired(_) => Error::CollateralExpired,
        AttestationError::CollateralNotYetValid(_) => Error::CollateralNotYetValid,
        AttestationError::NoMatchingTcbLevel => Error::NoMatchingTcbLevel,
        AttestationError::Revoked => Error::TcbRevoked,
        AttestationError::DebugMode => Error::DebugEnclave,
        AttestationError::StatusRejected(_) => Error::TcbStatusRejected,
        AttestationError::Invalid(_) => Error::InvalidAttestation,
    }
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let weight = match self {
            Call::register_worker { attestation, .. } => {
                let verify = match attestation {
                    Attestation::Simulated { .. } => weights::compute(20_000_000),
                    // Measured at 0.74 ms per quote on a 2-core Xeon VM (`cargo bench -p
                    // phala-attestation`); charged at 10 ms for slower validators.
                    Attestation::Dcap { .. } => weights::compute(10_000_000_000),
                };
                weights::add(weights::reads_writes(5, 3), verify)
            }
            Call::add_measurement { .. } | Call::set_params { .. } => weights::reads_writes(1, 1),
            // Revokes every worker of the measurement: charged for a full gatekeeper set's
            // worth of them (root's call, so never a spam vector).
            Call::remove_measurement { .. } => weights::reads_writes(
                u64::try_from(super::gatekeeper::MAX_GATEKEEPERS).unwrap_or(u64::MAX),
                u64::try_from(super::gatekeeper::MAX_GATEKEEPERS).unwrap_or(u64::MAX),
            ),
            Call::register_gatekeeper { .. } | Call::remove_gatekeeper { .. } => {
                weights::reads_writes(4, 4)
            }
            Call::cancel_master_key_rotation => weights::reads_writes(1, 1),
            Call::rotate_master_key => weights::reads_writes(
                u64::try_from(super::gatekeeper::MAX_GATEKEEPERS).unwrap_or(u64::MAX),
                2,
            ),
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch<H: WorkerHooks>(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::register_worker { info, attestation } => {
                let signer = origin.ensure_signed()?;
                register::<H>(ext, *info, attestation, &signer)
            }
            Call::add_measurement { measurement } => {
                origin.ensure_root()?;
                if measurement.is_empty() || measurement.len() > MAX_MEASUREMENT_LEN {
                    return Err(Error::BadMeasurement.into());
                }
                if ALLOWED_MEASUREMENTS.contains(ext, &measurement) {
                    return Err(Error::MeasurementAlreadyAllowed.into());
                }
                let now = system::block_number(ext);
                ALLOWED_MEASUREMENTS.insert(ext, &measurement, &now);
                ext.deposit_event(Event::MeasurementAdded { measurement });
                Ok(())
            }
            Call::remove_measurement { measurement } => {
                origin.ensure_root()?;
                if !ALLOWED_MEASUREMENTS.contains(ext, &measurement) {
                    return Err(Error::MeasurementNotFound.into());
                }
                ALLOWED_MEASUREMENTS.remove(ext, &measurement);
                ext.deposit_event(Event::MeasurementRemoved {
                    measurement: measurement.clone(),
                });
                trust::revoke_measurement(ext, &measurement)
            }
            Call::set_params { params } => {
                origin.ensure_root_or(crate::origin::GovOrigin::Parameters)?;
                params.check()?;
                PARAMS.put(ext, &params);
                ext.deposit_event(Event::ParamsSet { params });
                Ok(())
            }
            Call::register_gatekeeper { pubkey } => {
                origin.ensure_root()?;
                super::gatekeeper::register(ext, pubkey)
            }
            Call::rotate_master_key => {
                origin.ensure_root()?;
                super::gatekeeper::request_rotation(ext)
            }
            Call::remove_gatekeeper { pubkey } => {
                origin.ensure_root()?;
                super::gatekeeper::remove(ext, pubkey)
            }
            Call::cancel_master_key_rotation => {
                origin.ensure_root()?;
                let version = super::gatekeeper::PENDING_ROTATION
                    .get(ext)
                    .ok_or(Error::RotationNotPending)?;
                super::gatekeeper::PENDING_ROTATION.kill(ext);
                ext.deposit_event(Event::MasterKeyRotationCancelled { version });
                Ok(())
            }
        }
    }
}

fn register<H: WorkerHooks>(
    ext: &mut Ext,
    info: WorkerRegistrationInfo,
    attestation: Attestation,
    signer: &phala_primitives::AccountId32,
) -> DispatchResult {
    // Every check first; nothing is written until all pass.
    if !info.within_bounds() {
        return Err(Error::BadRegistrationInfo.into());
    }
    let genesis = system::block_hash(ext, 0).ok_or(Error::GenesisMismatch)?;
    if info.genesis_hash != genesis {
        return Err(Error::GenesisMismatch.into());
    }
    // Attested just now, as seen from a block the chain knows: an old (info, quote) pair
    // replayed later is refused.
    let now = system::block_number(ext);
    let fresh = now.saturating_sub(info.recent_block) <= REGISTRATION_FRESHNESS
        && system::block_hash(ext, info.recent_block) == Some(info.recent_block_hash);
    if !fresh {
        return Err(Error::StaleRegistration.into());
    }
    let now_secs = timestamp::now(ext).checked_div(1000).unwrap_or(0);
    let verdict = phala_attestation::verify(&attestation, now_secs, &policy(ext))
        .map_err(attestation_error)?;
    if verdict.report_data != info.report_data() {
        return Err(Error::ReportDataMismatch.into());
    }
    if !ALLOWED_MEASUREMENTS.contains(ext, &verdict.measurement) {
        return Err(Error::MeasurementNotAllowed.into());
    }
    let params = PARAMS.get_or_default(ext);
    admit_level(verdict.tee, verdict.confidence, &params)?;

    let block = system::block_number(ext);
    let previous = WORKERS.get(ext, &info.pubkey);
    let worker = WorkerInfo {
        pubkey: info.pubkey,
        ecdh_pubkey: info.ecdh_pubkey,
        runtime_version: info.version,
        machine_id: info.machine_id,
        features: info.features,
        operator: info.operator,
        tee: verdict.tee,
        tcb_status: verdict.status,
        confidence_level: verdict.confidence,
        measurement: verdict.measurement,
        registered_at: previous.as_ref().map_or(block, |p| p.registered_at),
        attested_at: block,
        initial_score: previous.as_ref().and_then(|p| p.initial_score),
        expires_at: block.saturating_add(params.attestation_validity),
    };
    if previous
        .as_ref()
        .is_none_or(|p| p.measurement != worker.measurement)
    {
        trust::index(ext, worker.pubkey, &worker.measurement);
    }
    WORKERS.insert(ext, &worker.pubkey, &worker);
    // Re-attested at a level its roles no longer accept: it loses them.
    if previous.is_some() {
        trust::recheck_roles::<H>(ext, &worker)?;
    }
    ext.deposit_event(if previous.is_some() {
        Event::WorkerUpdated {
            pubkey: worker.pubkey,
            tee: worker.tee,
            confidence_level: worker.confidence_level,
        }
    } else {
        Event::WorkerRegistered {
            pubkey: worker.pubkey,
            tee: worker.tee,
            confidence_level: worker.confidence_level,
            operator: worker.operator,
        }
    });
    if previous.is_none() {
        super::gatekeeper::on_registered(ext, worker.pubkey, worker.operator, signer);
    }
    if worker.initial_score.is_none() {
        // Asked again on re-registration, so a worker interrupted mid-benchmark is never
        // stuck without a score.
        notify(
            ext,
            worker.pubkey,
            WorkerEvent::BenchStart {
                duration_secs: BENCHMARK_SECONDS,
            },
        )?;
    }
    Ok(())
}

/// Blocks a registration may lag the block it names: time to quote and to be included.
pub const REGISTRATION_FRESHNESS: phala_primitives::BlockNumber = 100;

/// OutOfDate platforms (level 5 and worse) register only where the genesis allows them.
fn admit_level(
    tee: phala_attestation::TeeKind,
    level: u8,
    params: &RegistryParams,
) -> Result<(), Error> {
    let hardware = tee != phala_attestation::TeeKind::Simulated;
    if hardware && level >= 5 && !params.allow_out_of_date {
        return Err(Error::OutOfDateTcb);
    }
    Ok(())
}

#[cfg(test)]
mod level_tests {
    use super::*;
    use phala_attestation::TeeKind;

    #[test]
    fn out_of_date_platforms_register_only_where_the_genesis_allows() {
        let strict = RegistryParams::default();
        let lenient = RegistryParams {
            allow_out_of_date: true,
            ..strict
        };
        for level in 1..=4 {
            assert_eq!(admit_level(TeeKind::Sgx, level, &strict), Ok(()));
        }
        assert_eq!(
            admit_level(TeeKind::Sgx, 5, &strict),
            Err(Error::OutOfDateTcb)
        );
        assert_eq!(
            admit_level(TeeKind::Tdx, 5, &strict),
            Err(Error::OutOfDateTcb)
        );
        assert_eq!(admit_level(TeeKind::Sgx, 5, &lenient), Ok(()));
        // The simulated level (128) is not a hardware level: simulation has its own switch.
        assert_eq!(admit_level(TeeKind::Simulated, 128, &strict), Ok(()));
    }
}
