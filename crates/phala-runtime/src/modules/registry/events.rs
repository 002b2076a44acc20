use parity_scale_codec::{Decode, Encode};
use phala_attestation::TeeKind;
use phala_primitives::AccountId32;
use scale_info::TypeInfo;

/// Events of the `Registry` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// A worker registered for the first time.
    #[codec(index = 0)]
    WorkerRegistered {
        pubkey: [u8; 32],
        tee: TeeKind,
        confidence_level: u8,
        operator: Option<AccountId32>,
    },
    /// A registered worker refreshed its attestation.
    #[codec(index = 1)]
    WorkerUpdated {
        pubkey: [u8; 32],
        tee: TeeKind,
        confidence_level: u8,
    },
    /// A worker's benchmark score was recorded as its initial performance.
    #[codec(index = 2)]
    BenchScoreRecorded { pubkey: [u8; 32], score: u32 },
    /// A measurement was added to the allowlist.
    #[codec(index = 3)]
    MeasurementAdded { measurement: Vec<u8> },
    /// A measurement was removed from the allowlist.
    #[codec(index = 4)]
    MeasurementRemoved { measurement: Vec<u8> },
    /// A worker became a gatekeeper.
    #[codec(index = 5)]
    GatekeeperRegistered { pubkey: [u8; 32] },
    /// The first gatekeeper published the master key's public key.
    #[codec(index = 6)]
    MasterPubkeyPublished { version: u32, pubkey: [u8; 32] },
    /// The chain relayed the master key history, sealed, to a gatekeeper.
    #[codec(index = 7)]
    MasterKeyHistoryDelivered { to: [u8; 32], up_to: u32 },
    /// A master key rotation was requested.
    #[codec(index = 8)]
    MasterKeyRotationRequested { version: u32 },
    /// A new master key took effect.
    #[codec(index = 9)]
    MasterKeyRotated { version: u32, pubkey: [u8; 32] },
    /// A worker stopped being a gatekeeper.
    #[codec(index = 10)]
    GatekeeperRemoved { pubkey: [u8; 32] },
    /// Root gave up a rotation no gatekeeper completed.
    #[codec(index = 11)]
    MasterKeyRotationCancelled { version: u32 },
    /// A worker's measurement was removed from the allowlist: it left its cluster, stopped
    /// being a gatekeeper and lost its registration.
    #[codec(index = 12)]
    WorkerRevoked { pubkey: [u8; 32] },
    /// Root set the registry's parameters.
    #[codec(index = 13)]
    ParamsSet { params: super::RegistryParams },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Registry(e)
    }
}
