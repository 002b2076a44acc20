//! Runtime metadata V14 and V15, built from the runtime's own types.
//!
//! Everything clients learn about the chain — module and call indices, storage keys and
//! hashers, event and error layouts, signed extensions, constants and runtime APIs — comes
//! from here, and every type is the `scale-info` description of the Rust type the runtime
//! actually encodes, so metadata cannot disagree with the wire.

use std::sync::LazyLock;

use frame_metadata::RuntimeMetadataPrefixed;
use frame_metadata::v14::{
    ExtrinsicMetadata as ExtrinsicMetadataV14, PalletCallMetadata, PalletConstantMetadata,
    PalletErrorMetadata, PalletEventMetadata, PalletMetadata as PalletMetadataV14,
    PalletStorageMetadata, RuntimeMetadataV14,
    SignedExtensionMetadata as SignedExtensionMetadataV14, StorageEntryMetadata,
};
use frame_metadata::v15::{
    CustomMetadata, ExtrinsicMetadata as ExtrinsicMetadataV15, OuterEnums,
    PalletMetadata as PalletMetadataV15, RuntimeApiMetadata, RuntimeApiMethodMetadata,
    RuntimeApiMethodParamMetadata, RuntimeMetadataV15,
    SignedExtensionMetadata as SignedExtensionMetadataV15,
};
use parity_scale_codec::{Compact, Encode};
use phala_primitives::{AccountId32, Balance, Era, H256, MultiAddress, MultiSignature, Weight};
use scale_info::{MetaType, Path, Type, TypeInfo, TypeParameter, build::Fields, meta_type};

use crate::modules::system::PerDispatchClass;
use crate::modules::{
    analytics, balances, computation, contracts, conviction_voting, message_queue, preimage,
    referenda, registry, scheduler, stake_pools, sudo, timestamp, transaction_payment, treasury,
    validators, weights,
};
use crate::validity::{TransactionSource, TransactionValidity};
use crate::version::RuntimeVersion;
use crate::{RuntimeCall, RuntimeEvent};

/// Metadata versions served, newest last. `Metadata_metadata` serves the first.
pub const VERSIONS: [u32; 2] = [14, 15];

/// The extrinsic type as clients see it: opaque bytes, with the address, call, signature and
/// signed-extension types as parameters.
pub struct ExtrinsicType;

impl TypeInfo for ExtrinsicType {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new(
                "UncheckedExtrinsic",
                "sp_runtime::generic::unchecked_extrinsic",
            ))
            .type_params(vec![
                TypeParameter::new("Address", Some(meta_type::<MultiAddress>())),
                TypeParameter::new("Call", Some(meta_type::<RuntimeCall>())),
                TypeParameter::new("Signature", Some(meta_type::<MultiSignature>())),
                TypeParameter::new("Extra", Some(meta_type::<SignedExtra>())),
            ])
            .composite(Fields::unnamed().field(|f| f.ty::<Vec<u8>>()))
    }
}

/// Every module error, by module index (`RuntimeError`), for V15's outer enums.
#[derive(TypeInfo)]
#[allow(dead_code)]
pub enum RuntimeError {
    #[codec(index = 0)]
    System(crate::modules::system::Error),
    #[codec(index = 1)]
    Timestamp(timestamp::Error),
    #[codec(index = 2)]
    Balances(balances::Error),
    #[codec(index = 4)]
    Validators(validators::Error),
    #[codec(index = 5)]
    Registry(registry::Error),
    #[codec(index = 6)]
    MessageQueue(message_queue::Error),
    #[codec(index = 7)]
    Contracts(contracts::Error),
    #[codec(index = 8)]
    Computation(computation::Error),
    #[codec(index = 9)]
    StakePools(stake_pools::Error),
    #[codec(index = 10)]
    Preimage(preimage::Error),
    #[codec(index = 11)]
    Scheduler(scheduler::Error),
    #[codec(index = 19)]
    Treasury(treasury::Error),
    #[codec(index = 20)]
    ConvictionVoting(conviction_voting::Error),
    #[codec(index = 21)]
    Referenda(referenda::Error),
    #[codec(index = 23)]
    Analytics(analytics::Error),
    #[codec(index = 24)]
    Bridge(crate::modules::bridge::Error),
    #[codec(index = 30)]
    Sudo(sudo::Error),
}

/// The runtime itself, as metadata names it.
#[derive(TypeInfo)]
pub struct Runtime;

// The signed extensions: what each puts in the transaction ("extra").
#[derive(TypeInfo)]
struct CheckNonZeroSender;
#[derive(TypeInfo)]
struct CheckSpecVersion;
#[derive(TypeInfo)]
struct CheckTxVersion;
#[derive(TypeInfo)]
struct CheckGenesis;
#[derive(TypeInfo)]
#[allow(dead_code)]
struct CheckMortality(Era);
#[derive(TypeInfo)]
#[allow(dead_code)]
struct CheckNonce(#[codec(compact)] u32);
#[derive(TypeInfo)]
struct CheckWeight;
#[derive(TypeInfo)]
#[allow(dead_code)]
struct ChargeTransactionPayment(#[codec(compact)] Balance);

type SignedExtra = (
    CheckNonZeroSender,
    CheckSpecVersion,
    CheckTxVersion,
    CheckGenesis,
    CheckMortality,
    CheckNonce,
    CheckWeight,
    ChargeTransactionPayment,
);

/// `(identifier, extra type, additional-signed type)` in the order the payload carries them.
fn signed_extensions() -> Vec<(&'static str, MetaType, MetaType)> {
    vec![
        (
            "CheckNonZeroSender",
            meta_type::<CheckNonZeroSender>(),
            meta_type::<()>(),
        ),
        (
            "CheckSpecVersion",
            meta_type::<CheckSpecVersion>(),
            meta_type::<u32>(),
        ),
        (
            "CheckTxVersion",
            meta_type::<CheckTxVersion>(),
            meta_type::<u32>(),
        ),
        (
            "CheckGenesis",
            meta_type::<CheckGenesis>(),
            meta_type::<H256>(),
        ),
        (
            "CheckMortality",
            meta_type::<CheckMortality>(),
            meta_type::<H256>(),
        ),
        ("CheckNonce", meta_type::<CheckNonce>(), meta_type::<()>()),
        ("CheckWeight", meta_type::<CheckWeight>(), meta_type::<()>()),
        (
            "ChargeTransactionPayment",
            meta_type::<ChargeTransactionPayment>(),
            meta_type::<()>(),
        ),
    ]
}

// Constant types, in FRAME's shapes.
#[derive(Encode, TypeInfo)]
pub(crate) struct WeightsPerClass {
    pub(crate) base_extrinsic: Weight,
    pub(crate) max_extrinsic: Option<Weight>,
    pub(crate) max_total: Option<Weight>,
    pub(crate) reserved: Option<Weight>,
}

#[derive(Encode, TypeInfo)]
pub(crate) struct BlockWeights {
    pub(crate) base_block: Weight,
    pub(crate) max_block: Weight,
    pub(crate) per_class: PerDispatchClass<WeightsPerClass>,
}

#[derive(Encode, TypeInfo)]
pub(crate) struct BlockLength {
    pub(crate) max: PerDispatchClass<u32>,
}

#[derive(Encode, TypeInfo)]
pub(crate) struct RuntimeDbWeight {
    pub(crate) read: u64,
    pub(crate) write: u64,
}

/// A module constant: its SCALE value and type.
pub fn constant<T: Encode + TypeInfo + 'static>(
    name: &'static str,
    value: &T,
    docs: &'static str,
) -> PalletConstantMetadata {
    PalletConstantMetadata {
        name,
        ty: meta_type::<T>(),
        value: value.encode(),
        docs: vec![docs],
    }
}

pub(crate) fn block_weights() -> BlockWeights {
    let normal = weights::max_normal_block();
    BlockWeights {
        base_block: weights::BLOCK_BASE,
        max_block: weights::MAX_BLOCK,
        per_class: PerDispatchClass {
            normal: WeightsPerClass {
                base_extrinsic: weights::EXTRINSIC_BASE,
                max_extrinsic: Some(normal),
                max_total: Some(normal),
                reserved: Some(Weight::ZERO),
            },
            operational: WeightsPerClass {
                base_extrinsic: weights::EXTRINSIC_BASE,
                max_extrinsic: Some(weights::MAX_BLOCK),
                max_total: Some(weights::MAX_BLOCK),
                reserved: Some(Weight::ZERO),
            },
            mandatory: WeightsPerClass {
                base_extrinsic: weights::EXTRINSIC_BASE,
                max_extrinsic: None,
                max_total: None,
                reserved: None,
            },
        },
    }
}

/// One module's metadata, common to V14 and V15: each module's `metadata()` makes its own.
pub struct ModuleMetadata {
    pub name: &'static str,
    pub index: u8,
    pub storage: Vec<StorageEntryMetadata>,
    pub calls: Option<MetaType>,
    pub event: Option<MetaType>,
    pub constants: Vec<PalletConstantMetadata>,
    pub error: Option<MetaType>,
    pub docs: &'static str,
}

/// The modules' metadata, in index order: [`crate::modules::all`].
fn modules() -> Vec<ModuleMetadata> {
    crate::modules::all()
}

fn v14() -> RuntimeMetadataV14 {
    v14_of(modules())
}

fn v14_of(modules: Vec<ModuleMetadata>) -> RuntimeMetadataV14 {
    let pallets = modules
        .into_iter()
        .map(|m| PalletMetadataV14 {
            name: m.name,
            storage: (!m.storage.is_empty()).then_some(PalletStorageMetadata {
                prefix: m.name,
                entries: m.storage,
            }),
            calls: m.calls.map(|ty| PalletCallMetadata { ty }),
            event: m.event.map(|ty| PalletEventMetadata { ty }),
            constants: m.constants,
            error: m.error.map(|ty| PalletErrorMetadata { ty }),
            index: m.index,
        })
        .collect();
    let extrinsic = ExtrinsicMetadataV14 {
        ty: meta_type::<ExtrinsicType>(),
        version: 4,
        signed_extensions: signed_extensions()
            .into_iter()
            .map(
                |(identifier, ty, additional_signed)| SignedExtensionMetadataV14 {
                    identifier,
                    ty,
                    additional_signed,
                },
            )
            .collect(),
    };
    RuntimeMetadataV14::new(pallets, extrinsic, meta_type::<Runtime>())
}

fn method(
    name: &'static str,
    inputs: Vec<(&'static str, MetaType)>,
    output: MetaType,
    doc: &'static str,
) -> RuntimeApiMethodMetadata {
    RuntimeApiMethodMetadata {
        name,
        inputs: inputs
            .into_iter()
            .map(|(name, ty)| RuntimeApiMethodParamMetadata { name, ty })
            .collect(),
        output,
        docs: vec![doc],
    }
}

/// The runtime APIs, as served by [`crate::api`].
fn apis() -> Vec<RuntimeApiMetadata> {
    let opaque = meta_type::<Vec<u8>>;
    let xt = meta_type::<ExtrinsicType>;
    vec![
        RuntimeApiMetadata {
            name: "Core",
            methods: vec![method(
                "version",
                vec![],
                meta_type::<RuntimeVersion>(),
                " Returns the version of the runtime.",
            )],
            docs: vec![" The `Core` runtime api that every Substrate runtime needs to implement."],
        },
        RuntimeApiMetadata {
            name: "Metadata",
            methods: vec![
                method(
                    "metadata",
                    vec![],
                    opaque(),
                    " Returns the metadata of a runtime.",
                ),
                method(
                    "metadata_at_version",
                    vec![("version", meta_type::<u32>())],
                    meta_type::<Option<Vec<u8>>>(),
                    " Returns the metadata at a given version.",
                ),
                method(
                    "metadata_versions",
                    vec![],
                    meta_type::<Vec<u32>>(),
                    " Returns the supported metadata versions.",
                ),
            ],
            docs: vec![" The `Metadata` api trait that returns metadata for the runtime."],
        },
        RuntimeApiMetadata {
            name: "TaggedTransactionQueue",
            methods: vec![method(
                "validate_transaction",
                vec![
                    ("source", meta_type::<TransactionSource>()),
                    ("tx", xt()),
                    ("block_hash", meta_type::<H256>()),
                ],
                meta_type::<TransactionValidity>(),
                " Validate the transaction.",
            )],
            docs: vec![
                " The `TaggedTransactionQueue` api trait for interfering with the transaction queue.",
            ],
        },
        RuntimeApiMetadata {
            name: "AccountNonceApi",
            methods: vec![method(
                "account_nonce",
                vec![("account", meta_type::<AccountId32>())],
                meta_type::<u32>(),
                " Get current account nonce of given `AccountId`.",
            )],
            docs: vec![" The API to query account nonce."],
        },
        RuntimeApiMetadata {
            name: "TransactionPaymentApi",
            methods: vec![
                method(
                    "query_info",
                    vec![("uxt", xt()), ("len", meta_type::<u32>())],
                    meta_type::<transaction_payment::RuntimeDispatchInfo>(),
                    " Weight, class and fee of an extrinsic.",
                ),
                method(
                    "query_fee_details",
                    vec![("uxt", xt()), ("len", meta_type::<u32>())],
                    meta_type::<transaction_payment::FeeDetails>(),
                    " The fee of an extrinsic, part by part.",
                ),
                method(
                    "query_weight_to_fee",
                    vec![("weight", meta_type::<Weight>())],
                    meta_type::<Balance>(),
                    " The fee of a weight.",
                ),
                method(
                    "query_length_to_fee",
                    vec![("length", meta_type::<u32>())],
                    meta_type::<Balance>(),
                    " The fee of a length.",
                ),
            ],
            docs: vec![" Transaction fees of extrinsics."],
        },
        RuntimeApiMetadata {
            name: "TransactionPaymentCallApi",
            methods: vec![
                method(
                    "query_call_info",
                    vec![
                        ("call", meta_type::<RuntimeCall>()),
                        ("len", meta_type::<u32>()),
                    ],
                    meta_type::<transaction_payment::RuntimeDispatchInfo>(),
                    " Weight, class and fee of a call.",
                ),
                method(
                    "query_call_fee_details",
                    vec![
                        ("call", meta_type::<RuntimeCall>()),
                        ("len", meta_type::<u32>()),
                    ],
                    meta_type::<transaction_payment::FeeDetails>(),
                    " The fee of a call, part by part.",
                ),
                method(
                    "query_weight_to_fee",
                    vec![("weight", meta_type::<Weight>())],
                    meta_type::<Balance>(),
                    " The fee of a weight.",
                ),
                method(
                    "query_length_to_fee",
                    vec![("length", meta_type::<u32>())],
                    meta_type::<Balance>(),
                    " The fee of a length.",
                ),
            ],
            docs: vec![" Transaction fees of calls."],
        },
    ]
}

fn v15() -> RuntimeMetadataV15 {
    v15_of(modules())
}

fn v15_of(modules: Vec<ModuleMetadata>) -> RuntimeMetadataV15 {
    let pallets = modules
        .into_iter()
        .map(|m| PalletMetadataV15 {
            name: m.name,
            storage: (!m.storage.is_empty()).then_some(PalletStorageMetadata {
                prefix: m.name,
                entries: m.storage,
            }),
            calls: m.calls.map(|ty| PalletCallMetadata { ty }),
            event: m.event.map(|ty| PalletEventMetadata { ty }),
            constants: m.constants,
            error: m.error.map(|ty| PalletErrorMetadata { ty }),
            index: m.index,
            docs: vec![m.docs],
        })
        .collect();
    let extrinsic = ExtrinsicMetadataV15 {
        version: 4,
        address_ty: meta_type::<MultiAddress>(),
        call_ty: meta_type::<RuntimeCall>(),
        signature_ty: meta_type::<MultiSignature>(),
        extra_ty: meta_type::<SignedExtra>(),
        signed_extensions: signed_extensions()
            .into_iter()
            .map(
                |(identifier, ty, additional_signed)| SignedExtensionMetadataV15 {
                    identifier,
                    ty,
                    additional_signed,
                },
            )
            .collect(),
    };
    RuntimeMetadataV15::new(
        pallets,
        extrinsic,
        meta_type::<Runtime>(),
        apis(),
        OuterEnums {
            call_enum_ty: meta_type::<RuntimeCall>(),
            event_enum_ty: meta_type::<RuntimeEvent>(),
            error_enum_ty: meta_type::<RuntimeError>(),
        },
        CustomMetadata {
            map: Default::default(),
        },
    )
}

static V14_BYTES: LazyLock<Vec<u8>> =
    LazyLock::new(|| RuntimeMetadataPrefixed::from(v14()).encode());
static V15_BYTES: LazyLock<Vec<u8>> =
    LazyLock::new(|| RuntimeMetadataPrefixed::from(v15()).encode());

/// The `RuntimeMetadataPrefixed` bytes ("meta" ‖ version ‖ metadata) of a served version.
pub fn metadata_bytes(version: u32) -> Option<&'static [u8]> {
    match version {
        14 => Some(&V14_BYTES),
        15 => Some(&V15_BYTES),
        _ => None,
    }
}

/// The modules' metadata with this chain's governance constants (tracks, periods,
/// deposits), which its chain spec sets rather than the runtime.
fn chain_modules(
    governance: &referenda::GovernanceParams,
    treasury_params: &treasury::Params,
    version: &crate::version::RuntimeVersion,
) -> Vec<ModuleMetadata> {
    let mut modules = modules();
    for m in &mut modules {
        match m.name {
            "System" => {
                for c in &mut m.constants {
                    if c.name == "Version" {
                        c.value = version.encode();
                    }
                }
            }
            "Referenda" => m.constants = referenda::constants(governance),
            "ConvictionVoting" => m.constants = conviction_voting::constants(governance),
            "Treasury" => m.constants = treasury::constants(treasury_params),
            _ => {}
        }
    }
    modules
}

/// Chains' metadata, by served version and the encoding of their governance parameters:
/// built once per chain (a node serves one chain, whose parameters change only by
/// referendum).
static CHAIN_METADATA: std::sync::Mutex<Vec<((u32, Vec<u8>), std::sync::Arc<Vec<u8>>)>> =
    std::sync::Mutex::new(Vec::new());
const CHAIN_METADATA_CACHE: usize = 8;

/// [`metadata_bytes`] with the governance constants of the chain whose state `ext` reads.
pub fn metadata_bytes_at(ext: &crate::Ext, version: u32) -> Option<std::sync::Arc<Vec<u8>>> {
    if !VERSIONS.contains(&version) {
        return None;
    }
    // Read once: the cache key and, on a miss, the constants.
    let chain = (
        referenda::params(ext),
        treasury::params(ext),
        crate::version::version_of(ext),
    );
    let key = (version, chain.encode());
    let cached = CHAIN_METADATA
        .lock()
        .ok()
        .and_then(|c| c.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    if let Some(bytes) = cached {
        return Some(bytes);
    }
    let modules = chain_modules(&chain.0, &chain.1, &chain.2);
    let bytes = std::sync::Arc::new(match version {
        14 => RuntimeMetadataPrefixed::from(v14_of(modules)).encode(),
        _ => RuntimeMetadataPrefixed::from(v15_of(modules)).encode(),
    });
    if let Ok(mut cache) = CHAIN_METADATA.lock() {
        if cache.len() >= CHAIN_METADATA_CACHE {
            cache.remove(0);
        }
        cache.push((key, bytes.clone()));
    }
    Some(bytes)
}

/// `OpaqueMetadata` encoding: `Compact(len) ‖ bytes`.
pub fn opaque(bytes: &[u8]) -> Vec<u8> {
    let mut out = Compact(u32::try_from(bytes.len()).unwrap_or(u32::MAX)).encode();
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
    use parity_scale_codec::Decode;
    use scale_info::{PortableRegistry, TypeDef};

    use super::*;

    fn decode(version: u32) -> RuntimeMetadata {
        let bytes = metadata_bytes(version).unwrap();
        assert_eq!(&bytes[..4], b"meta");
        RuntimeMetadataPrefixed::decode(&mut &bytes[..]).unwrap().1
    }

    fn find_path<'a>(
        types: &'a PortableRegistry,
        path: &[&str],
    ) -> Option<&'a scale_info::Type<scale_info::form::PortableForm>> {
        types
            .types
            .iter()
            .map(|t| &t.ty)
            .find(|t| t.path.segments == path)
    }

    #[test]
    fn v14_has_the_shapes_clients_look_for() {
        let RuntimeMetadata::V14(md) = decode(14) else {
            panic!("not v14")
        };
        for path in [
            &["sp_runtime", "DispatchError"][..],
            &["frame_system", "EventRecord"],
            &[
                "sp_runtime",
                "generic",
                "unchecked_extrinsic",
                "UncheckedExtrinsic",
            ],
            &["sp_runtime", "multiaddress", "MultiAddress"],
            &["sp_core", "crypto", "AccountId32"],
            &["sp_runtime", "MultiSignature"],
            &["sp_runtime", "generic", "era", "Era"],
            &["sp_weights", "weight_v2", "Weight"],
            &["phala_runtime", "RuntimeCall"],
            &["phala_runtime", "RuntimeEvent"],
        ] {
            assert!(find_path(&md.types, path).is_some(), "missing {path:?}");
        }
        let xt = md.types.resolve(md.extrinsic.ty.id).unwrap();
        let names: Vec<_> = xt.type_params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Address", "Call", "Signature", "Extra"]);
        let ext_names: Vec<_> = md
            .extrinsic
            .signed_extensions
            .iter()
            .map(|e| e.identifier.as_str())
            .collect();
        assert_eq!(
            ext_names,
            [
                "CheckNonZeroSender",
                "CheckSpecVersion",
                "CheckTxVersion",
                "CheckGenesis",
                "CheckMortality",
                "CheckNonce",
                "CheckWeight",
                "ChargeTransactionPayment"
            ]
        );
        let indices: Vec<_> = md
            .pallets
            .iter()
            .map(|p| (p.name.as_str(), p.index))
            .collect();
        assert_eq!(
            indices,
            [
                ("System", 0),
                ("Timestamp", 1),
                ("Balances", 2),
                ("TransactionPayment", 3),
                ("Validators", 4),
                ("Registry", 5),
                ("MessageQueue", 6),
                ("Contracts", 7),
                ("Computation", 8),
                ("StakePools", 9),
                ("Preimage", 10),
                ("Scheduler", 11),
                ("Treasury", 19),
                ("ConvictionVoting", 20),
                ("Referenda", 21),
                ("Origins", 22),
                ("Analytics", 23),
                ("Bridge", 24),
                ("Sudo", 30)
            ]
        );
        // System.Account's default decodes as an all-zero 80-byte AccountInfo data part.
        let system = &md.pallets[0];
        let account = system
            .storage
            .as_ref()
            .unwrap()
            .entries
            .iter()
            .find(|e| e.name == "Account")
            .unwrap();
        assert_eq!(account.default.len(), 16 + 64);
    }

    #[test]
    fn outer_enum_variants_match_module_indices() {
        let RuntimeMetadata::V15(md) = decode(15) else {
            panic!("not v15")
        };
        for ty in [
            md.outer_enums.call_enum_ty,
            md.outer_enums.event_enum_ty,
            md.outer_enums.error_enum_ty,
        ] {
            let TypeDef::Variant(v) = &md.types.resolve(ty.id).unwrap().type_def else {
                panic!("not an enum")
            };
            for variant in &v.variants {
                let pallet = md.pallets.iter().find(|p| p.name == variant.name).unwrap();
                assert_eq!(pallet.index, variant.index, "{}", variant.name);
            }
        }
        let served: Vec<_> = md.apis.iter().map(|a| a.name.as_str()).collect();
        let declared: Vec<_> = crate::version::APIS.iter().map(|(n, _)| *n).collect();
        assert_eq!(served, declared);
    }

    #[test]
    fn every_declared_api_method_is_served() {
        let RuntimeMetadata::V15(md) = decode(15) else {
            panic!("not v15")
        };
        let state = std::collections::BTreeMap::new();
        let ctx = crate::executive::Context {
            genesis_hash: H256::zero(),
        };
        for api in &md.apis {
            for m in &api.methods {
                let name = format!("{}_{}", api.name, m.name);
                let result = crate::api::call(&state, &ctx, &name, &[]);
                assert!(
                    !matches!(result, Err(crate::api::ApiError::UnknownMethod(_))),
                    "{name} is declared but not served"
                );
            }
        }
    }
}
