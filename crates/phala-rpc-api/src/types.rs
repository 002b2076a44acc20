//! The JSON shapes of Substrate's RPC results, with their conversions to the chain's types.
//!
//! Clients recompute block hashes from header JSON and decode runtime versions, storage change
//! sets and transaction statuses by field name, so every name and encoding here follows
//! Substrate's serde output exactly (camelCase, hex numbers in headers, hex bytes). The server
//! writes these shapes and the SDK reads them: one definition, so the two cannot drift.

use std::fmt;

use parity_scale_codec::{Decode, Encode};
use phala_primitives::crypto::{decode_hex, encode_hex};
use phala_primitives::{Block, BlockNumber, DigestItem, H256, Header, OpaqueExtrinsic};
use phala_runtime::RuntimeVersion;
use phala_runtime::dispatch::DispatchClass;
use phala_runtime::modules::transaction_payment::{FeeDetails, RuntimeDispatchInfo};
use serde::{Deserialize, Serialize};

use crate::params::Bytes;

/// Why a JSON shape does not convert to its SCALE type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// `sp_runtime::generic::Digest` as JSON: each log is the hex of its SCALE encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestJson {
    pub logs: Vec<String>,
}

/// A header as `chain_getHeader` and the head subscriptions send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderJson {
    pub parent_hash: H256,
    /// Hex without leading zeros (`"0x0"` for genesis); a JSON number is also accepted back.
    pub number: NumberJson,
    pub state_root: H256,
    pub extrinsics_root: H256,
    pub digest: DigestJson,
}

/// A block number the way Substrate writes it (hex string) or a client may (number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberJson {
    Hex(String),
    Number(u64),
}

impl NumberJson {
    pub fn hex(n: BlockNumber) -> Self {
        NumberJson::Hex(format!("0x{n:x}"))
    }

    pub fn value(&self) -> Result<BlockNumber, JsonError> {
        let n = match self {
            NumberJson::Number(n) => *n,
            NumberJson::Hex(s) => {
                let digits = s
                    .strip_prefix("0x")
                    .ok_or_else(|| JsonError(format!("block number {s:?} is not 0x hex")))?;
                u64::from_str_radix(digits, 16)
                    .map_err(|_| JsonError(format!("block number {s:?} is not 0x hex")))?
            }
        };
        BlockNumber::try_from(n).map_err(|_| JsonError(format!("block number {n} exceeds u32")))
    }
}

impl From<&Header> for HeaderJson {
    fn from(h: &Header) -> Self {
        HeaderJson {
            parent_hash: h.parent_hash,
            number: NumberJson::hex(h.number),
            state_root: h.state_root,
            extrinsics_root: h.extrinsics_root,
            digest: DigestJson {
                logs: h.digest.iter().map(|d| encode_hex(&d.encode())).collect(),
            },
        }
    }
}

impl TryFrom<&HeaderJson> for Header {
    type Error = JsonError;

    /// What a client does before hashing a header it received.
    fn try_from(j: &HeaderJson) -> Result<Self, JsonError> {
        let digest = j
            .digest
            .logs
            .iter()
            .map(|log| {
                let bytes = decode_hex(log).map_err(|e| JsonError(format!("digest log: {e}")))?;
                let mut input = bytes.as_slice();
                let item = DigestItem::decode(&mut input)
                    .map_err(|e| JsonError(format!("digest log {log}: {e}")))?;
                if !input.is_empty() {
                    return Err(JsonError(format!("digest log {log} has trailing bytes")));
                }
                Ok(item)
            })
            .collect::<Result<_, _>>()?;
        Ok(Header {
            parent_hash: j.parent_hash,
            number: j.number.value()?,
            state_root: j.state_root,
            extrinsics_root: j.extrinsics_root,
            digest,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockBodyJson {
    pub header: HeaderJson,
    /// Full wire bytes of each extrinsic, length prefix included: clients hash these.
    pub extrinsics: Vec<Bytes>,
}

/// `chain_getBlock`'s `SignedBlock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBlockJson {
    pub block: BlockBodyJson,
    /// `[[engine id bytes, justification bytes]]`: the block's simplex finality certificate
    /// under engine id `smpx`, or `null` for blocks finalized without one of their own.
    pub justifications: Option<Vec<([u8; 4], Vec<u8>)>>,
}

impl SignedBlockJson {
    pub fn new(b: &Block, certificate: Option<Vec<u8>>) -> Self {
        let mut json = SignedBlockJson::from(b);
        json.justifications = certificate
            .filter(|c| !c.is_empty())
            .map(|c| vec![(phala_primitives::consensus::FINALITY_ENGINE_ID, c)]);
        json
    }
}

impl From<&Block> for SignedBlockJson {
    fn from(b: &Block) -> Self {
        SignedBlockJson {
            block: BlockBodyJson {
                header: HeaderJson::from(&b.header),
                extrinsics: b
                    .extrinsics
                    .iter()
                    .map(|x| Bytes(x.as_bytes().to_vec()))
                    .collect(),
            },
            justifications: None,
        }
    }
}

impl TryFrom<SignedBlockJson> for Block {
    type Error = JsonError;

    fn try_from(j: SignedBlockJson) -> Result<Self, JsonError> {
        let header = Header::try_from(&j.block.header)?;
        let extrinsics = j
            .block
            .extrinsics
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                OpaqueExtrinsic::from_bytes(x.0)
                    .map_err(|e| JsonError(format!("extrinsic {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Block { header, extrinsics })
    }
}

/// `phala_getFinalityProof`: a finalized block's own simplex certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalityProofJson {
    pub block_hash: H256,
    pub block_number: BlockNumber,
    /// The consensus engine id as text (`"smpx"`).
    pub engine: String,
    /// The encoded certificate; verify it with `phala-light-client`.
    pub certificate: Bytes,
}

/// `sp_version::RuntimeVersion` as Substrate serializes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeVersionJson {
    pub spec_name: String,
    pub impl_name: String,
    pub authoring_version: u32,
    pub spec_version: u32,
    pub impl_version: u32,
    /// `[api id as 0x hex of 8 bytes, version]`.
    #[serde(default)]
    pub apis: Vec<(String, u32)>,
    pub transaction_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_version: Option<u8>,
    /// Substrate still emits the pre-`systemVersion` name; polkadot.js reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<u8>,
}

impl From<&RuntimeVersion> for RuntimeVersionJson {
    fn from(v: &RuntimeVersion) -> Self {
        RuntimeVersionJson {
            spec_name: v.spec_name.clone(),
            impl_name: v.impl_name.clone(),
            authoring_version: v.authoring_version,
            spec_version: v.spec_version,
            impl_version: v.impl_version,
            apis: v
                .apis
                .iter()
                .map(|(id, ver)| (encode_hex(id), *ver))
                .collect(),
            transaction_version: v.transaction_version,
            system_version: Some(v.system_version),
            state_version: Some(v.system_version),
        }
    }
}

impl TryFrom<&RuntimeVersionJson> for RuntimeVersion {
    type Error = JsonError;

    fn try_from(j: &RuntimeVersionJson) -> Result<Self, JsonError> {
        let apis = j
            .apis
            .iter()
            .map(|(id, version)| {
                let bytes = decode_hex(id).map_err(|e| JsonError(format!("api id {id}: {e}")))?;
                let id: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| JsonError(format!("api id {id} is not 8 bytes")))?;
                Ok((id, *version))
            })
            .collect::<Result<Vec<_>, JsonError>>()?;
        Ok(RuntimeVersion {
            spec_name: j.spec_name.clone(),
            impl_name: j.impl_name.clone(),
            authoring_version: j.authoring_version,
            spec_version: j.spec_version,
            impl_version: j.impl_version,
            apis,
            transaction_version: j.transaction_version,
            // Nodes from before `systemVersion` send only `stateVersion`; older ones neither.
            system_version: j.system_version.or(j.state_version).unwrap_or(1),
        })
    }
}

/// `sp_core::storage::StorageChangeSet`: values at one block, `null` for absent keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageChangeSetJson {
    pub block: H256,
    pub changes: Vec<(Bytes, Option<Bytes>)>,
}

impl StorageChangeSetJson {
    pub fn new<'a>(
        block: H256,
        changes: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> Self {
        StorageChangeSetJson {
            block,
            changes: changes
                .into_iter()
                .map(|(k, v)| (Bytes::from(k), v.map(Bytes::from)))
                .collect(),
        }
    }
}

/// `sp_rpc`'s `ReadProof`: trie nodes proving values against block `at`'s state root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadProofJson {
    pub at: H256,
    pub proof: Vec<Bytes>,
}

/// A transaction's status in the node's pool: `author_extrinsicUpdate`'s payload
/// (`sc_transaction_pool_api::TransactionStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransactionStatus {
    /// Waiting for an earlier nonce.
    Future,
    /// Valid and queued for the next block.
    Ready,
    /// Gossiped to these peers.
    Broadcast(Vec<String>),
    /// Included in this (not yet final) block.
    InBlock(H256),
    /// The block it was in left the best chain.
    Retracted(H256),
    /// The node gave up waiting for the block it was in to be finalized.
    FinalityTimeout(H256),
    /// Included in this finalized block.
    Finalized(H256),
    /// Replaced by this transaction (same sender and nonce).
    Usurped(H256),
    /// Removed from the pool (full, or the era expired).
    Dropped,
    /// Became invalid (stale nonce, expired era, …).
    Invalid,
}

impl TransactionStatus {
    /// No status follows this one.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TransactionStatus::Finalized(_)
                | TransactionStatus::Usurped(_)
                | TransactionStatus::FinalityTimeout(_)
                | TransactionStatus::Dropped
                | TransactionStatus::Invalid
        )
    }
}

impl fmt::Display for TransactionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionStatus::Future => f.write_str("waiting for an earlier nonce"),
            TransactionStatus::Ready => f.write_str("ready"),
            TransactionStatus::Broadcast(peers) => {
                write!(f, "broadcast to {} peers", peers.len())
            }
            TransactionStatus::InBlock(h) => write!(f, "in block {h}"),
            TransactionStatus::Retracted(h) => write!(f, "block {h} was retracted"),
            TransactionStatus::FinalityTimeout(h) => {
                write!(f, "finality timed out for block {h}")
            }
            TransactionStatus::Finalized(h) => write!(f, "finalized in block {h}"),
            TransactionStatus::Usurped(h) => write!(f, "replaced by {h}"),
            TransactionStatus::Dropped => f.write_str("dropped"),
            TransactionStatus::Invalid => f.write_str("invalid"),
        }
    }
}

/// `system_properties`: `ss58Format`, `tokenDecimals`, `tokenSymbol` and whatever else a chain
/// declares (Substrate's `Properties`).
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// `system_chainType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainTypeJson {
    Development,
    Local,
    Live,
    Custom(String),
}

/// `system_nodeRoles` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeRoleJson {
    Full,
    LightClient,
    Authority,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthJson {
    pub peers: usize,
    pub is_syncing: bool,
    pub should_have_peers: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStateJson {
    pub starting_block: BlockNumber,
    pub current_block: BlockNumber,
    pub highest_block: BlockNumber,
}

/// `rpc_methods`: every method and alias the node answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcMethodsJson {
    pub version: u32,
    pub methods: Vec<String>,
}

/// `sp_weights::Weight`'s serde form (snake_case, unlike everything around it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightJson {
    pub ref_time: u64,
    pub proof_size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DispatchClassJson {
    Normal,
    Operational,
    Mandatory,
}

/// `payment_queryInfo`'s `RuntimeDispatchInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchInfoJson {
    pub weight: WeightJson,
    pub class: DispatchClassJson,
    /// A decimal string: a u128 does not fit a JavaScript number.
    #[serde(with = "u128_decimal")]
    pub partial_fee: u128,
}

impl From<&RuntimeDispatchInfo> for DispatchInfoJson {
    fn from(i: &RuntimeDispatchInfo) -> Self {
        DispatchInfoJson {
            weight: WeightJson {
                ref_time: i.weight.ref_time,
                proof_size: i.weight.proof_size,
            },
            class: match i.class {
                DispatchClass::Normal => DispatchClassJson::Normal,
                DispatchClass::Operational => DispatchClassJson::Operational,
                DispatchClass::Mandatory => DispatchClassJson::Mandatory,
            },
            partial_fee: i.partial_fee,
        }
    }
}

/// Balances as `NumberOrHex::Hex`, the form Substrate's fee RPC produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionFeeJson {
    #[serde(with = "u128_hex")]
    pub base_fee: u128,
    #[serde(with = "u128_hex")]
    pub len_fee: u128,
    #[serde(with = "u128_hex")]
    pub adjusted_weight_fee: u128,
}

/// `payment_queryFeeDetails`: the tip is not serialized, as in Substrate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeDetailsJson {
    pub inclusion_fee: Option<InclusionFeeJson>,
}

impl From<&FeeDetails> for FeeDetailsJson {
    fn from(d: &FeeDetails) -> Self {
        FeeDetailsJson {
            inclusion_fee: d.inclusion_fee.as_ref().map(|f| InclusionFeeJson {
                base_fee: f.base_fee,
                len_fee: f.len_fee,
                adjusted_weight_fee: f.adjusted_weight_fee,
            }),
        }
    }
}

mod u128_decimal {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| de::Error::custom(format!("{s:?} is not a decimal u128")))
    }
}

mod u128_hex {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{v:x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.strip_prefix("0x")
            .and_then(|digits| u128::from_str_radix(digits, 16).ok())
            .ok_or_else(|| de::Error::custom(format!("{s:?} is not a 0x hex u128")))
    }
}

#[cfg(test)]
mod tests;
