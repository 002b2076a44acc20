//! The JSON shapes of Substrate's RPC results.
//!
//! Clients recompute block hashes from header JSON and decode runtime versions, storage change
//! sets and transaction statuses by field name, so every name and encoding here follows
//! Substrate's serde output exactly (camelCase, hex numbers in headers, hex bytes).

use parity_scale_codec::{Decode, Encode};
use phala_chain::TxStatus;
use phala_primitives::crypto::{decode_hex, encode_hex};
use phala_primitives::{Block, BlockNumber, DigestItem, H256, Header};
use phala_runtime::RuntimeVersion;
use phala_runtime::dispatch::DispatchClass;
use phala_runtime::modules::transaction_payment::{FeeDetails, RuntimeDispatchInfo};
use serde::{Deserialize, Serialize};

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

/// Why a JSON shape does not convert back to its SCALE type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

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

#[derive(Clone, Debug, Serialize)]
pub struct BlockBodyJson {
    pub header: HeaderJson,
    /// Full wire bytes of each extrinsic, length prefix included: clients hash these.
    pub extrinsics: Vec<String>,
}

/// `chain_getBlock`'s `SignedBlock`.
#[derive(Clone, Debug, Serialize)]
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
                    .map(|x| encode_hex(x.as_bytes()))
                    .collect(),
            },
            justifications: None,
        }
    }
}

/// `sp_version::RuntimeVersion` as Substrate serializes it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeVersionJson {
    pub spec_name: String,
    pub impl_name: String,
    pub authoring_version: u32,
    pub spec_version: u32,
    pub impl_version: u32,
    pub apis: Vec<(String, u32)>,
    pub transaction_version: u32,
    pub system_version: u8,
    /// Substrate still emits the pre-`systemVersion` name; polkadot.js reads it.
    pub state_version: u8,
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
            system_version: v.system_version,
            state_version: v.system_version,
        }
    }
}

/// `sp_core::storage::StorageChangeSet`: values at one block, `null` for absent keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageChangeSetJson {
    pub block: H256,
    pub changes: Vec<(String, Option<String>)>,
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
                .map(|(k, v)| (encode_hex(k), v.map(encode_hex)))
                .collect(),
        }
    }
}

/// `sp_rpc`'s `ReadProof`.
#[derive(Clone, Debug, Serialize)]
pub struct ReadProofJson {
    pub at: H256,
    pub proof: Vec<String>,
}

/// `author_extrinsicUpdate` payloads (`sc_transaction_pool_api::TransactionStatus`).
pub fn tx_status(status: &TxStatus) -> serde_json::Value {
    use serde_json::json;
    match status {
        TxStatus::Future => json!("future"),
        TxStatus::Ready => json!("ready"),
        TxStatus::InBlock(h) => json!({ "inBlock": h }),
        TxStatus::Finalized(h) => json!({ "finalized": h }),
        TxStatus::Usurped(h) => json!({ "usurped": h }),
        TxStatus::Dropped => json!("dropped"),
        TxStatus::Invalid => json!("invalid"),
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthJson {
    pub peers: usize,
    pub is_syncing: bool,
    pub should_have_peers: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStateJson {
    pub starting_block: BlockNumber,
    pub current_block: BlockNumber,
    pub highest_block: BlockNumber,
}

/// `sp_weights::Weight`'s serde form (snake_case, unlike everything around it).
#[derive(Clone, Debug, Serialize)]
pub struct WeightJson {
    pub ref_time: u64,
    pub proof_size: u64,
}

/// `payment_queryInfo`'s `RuntimeDispatchInfo`: the fee as a decimal string (u128 does not fit
/// a JavaScript number).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchInfoJson {
    pub weight: WeightJson,
    pub class: &'static str,
    pub partial_fee: String,
}

impl From<&RuntimeDispatchInfo> for DispatchInfoJson {
    fn from(i: &RuntimeDispatchInfo) -> Self {
        DispatchInfoJson {
            weight: WeightJson {
                ref_time: i.weight.ref_time,
                proof_size: i.weight.proof_size,
            },
            class: match i.class {
                DispatchClass::Normal => "normal",
                DispatchClass::Operational => "operational",
                DispatchClass::Mandatory => "mandatory",
            },
            partial_fee: i.partial_fee.to_string(),
        }
    }
}

/// Balances as `NumberOrHex::Hex`, the form Substrate's fee RPC produces.
fn balance_hex(v: u128) -> String {
    format!("0x{v:x}")
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionFeeJson {
    pub base_fee: String,
    pub len_fee: String,
    pub adjusted_weight_fee: String,
}

/// `payment_queryFeeDetails`: the tip is not serialized, as in Substrate.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeDetailsJson {
    pub inclusion_fee: Option<InclusionFeeJson>,
}

impl From<&FeeDetails> for FeeDetailsJson {
    fn from(d: &FeeDetails) -> Self {
        FeeDetailsJson {
            inclusion_fee: d.inclusion_fee.as_ref().map(|f| InclusionFeeJson {
                base_fee: balance_hex(f.base_fee),
                len_fee: balance_hex(f.len_fee),
                adjusted_weight_fee: balance_hex(f.adjusted_weight_fee),
            }),
        }
    }
}

/// Hash of a storage value for `state_getStorageHash`.
pub fn value_hash(value: &[u8]) -> H256 {
    phala_primitives::hashing::hash256(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_json() {
        let header = Header {
            parent_hash: H256([1; 32]),
            number: 26,
            state_root: H256([2; 32]),
            extrinsics_root: H256([3; 32]),
            digest: vec![DigestItem::PreRuntime(*b"aura", 4u64.encode())],
        };
        let json = serde_json::to_value(HeaderJson::from(&header)).unwrap();
        assert_eq!(json["number"], "0x1a");
        assert_eq!(json["digest"]["logs"][0], "0x0661757261200400000000000000");
        let back: HeaderJson = serde_json::from_value(json).unwrap();
        assert_eq!(Header::try_from(&back).unwrap().hash(), header.hash());
        let genesis = HeaderJson::from(&Header {
            number: 0,
            ..header
        });
        assert_eq!(genesis.number, NumberJson::Hex("0x0".into()));
        assert_eq!(NumberJson::Number(7).value().unwrap(), 7);
        assert!(NumberJson::Hex("7".into()).value().is_err());
    }

    #[test]
    fn statuses_and_fees() {
        let h = H256([0xaa; 32]);
        assert_eq!(tx_status(&TxStatus::Ready), "ready");
        assert_eq!(
            tx_status(&TxStatus::InBlock(h))["inBlock"],
            serde_json::Value::String(h.to_hex())
        );
        let details = FeeDetails {
            inclusion_fee: Some(phala_runtime::modules::transaction_payment::InclusionFee {
                base_fee: 0,
                len_fee: 255,
                adjusted_weight_fee: 16,
            }),
            tip: 5,
        };
        let json = serde_json::to_value(FeeDetailsJson::from(&details)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"inclusionFee":{"baseFee":"0x0","lenFee":"0xff","adjustedWeightFee":"0x10"}})
        );
    }
}
