//! A block as people read it: its header, each extrinsic's signer, call, fee and result,
//! and its events, all decoded by the chain's own metadata (so a node of a newer release
//! reads right). What `phala block` prints, and what an explorer shows of a block.

use parity_scale_codec::{Decode, Input};
use phala_primitives::extrinsic::{MultiAddress, UncheckedExtrinsic};
use phala_primitives::{BlockNumber, H256};
use phala_runtime::modules::system::{self, Phase};
use serde::Serialize;

use crate::metadata::{ChainMetadata, EventDescription};
use crate::{Client, ClientError};

/// One block, decoded.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    pub number: BlockNumber,
    pub hash: H256,
    pub parent_hash: H256,
    pub state_root: H256,
    pub extrinsics_root: H256,
    /// Whether the node has finalized it.
    pub finalized: bool,
    /// `Timestamp.set`'s time, Unix ms.
    pub timestamp_ms: Option<u64>,
    pub extrinsics: Vec<ExtrinsicView>,
    /// Events of the block's initialization and finalization (an extrinsic's are with it).
    pub events: Vec<EventView>,
    /// The last block of an epoch announces who signs the next one (and, when it changes,
    /// how long it lasts).
    pub ends_epoch: Option<EpochEndView>,
}

/// What an epoch's last block announces in its header.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochEndView {
    /// The epoch this block ends.
    pub epoch: u64,
    pub next_epoch: u64,
    /// The next committee's consensus keys, hex.
    pub consensus_keys: Vec<String>,
    /// The next epochs' new length, if it changes.
    pub new_length: Option<u32>,
}

impl EpochEndView {
    fn of(header: &phala_primitives::Header) -> Option<Self> {
        use phala_primitives::consensus::{CommitteeChange, EpochLengthChange};
        let change = CommitteeChange::from_header(header)?.ok()?;
        Some(EpochEndView {
            epoch: change.epoch.saturating_sub(1),
            next_epoch: change.epoch,
            consensus_keys: change
                .keys
                .iter()
                .map(|k| format!("0x{}", hex::encode(k)))
                .collect(),
            new_length: EpochLengthChange::from_header(header)
                .and_then(Result::ok)
                .map(|l| l.length),
        })
    }
}

/// One extrinsic of a block.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtrinsicView {
    pub index: u32,
    /// blake2_256 of its wire bytes: what `author_submitExtrinsic` returned for it.
    pub hash: H256,
    /// The signer, SS58; `None` for an unsigned (inherent or fee-free) one.
    pub signer: Option<String>,
    pub nonce: Option<u32>,
    /// The call, `Module.call { arg: value, … }` (the bytes, hex, if they do not decode).
    pub call: String,
    /// `Ok`, or why it failed.
    pub result: Option<String>,
    /// The fee it paid (`TransactionPayment.TransactionFeePaid`).
    pub fee: Option<String>,
    pub events: Vec<EventView>,
}

/// An event, rendered: `Module.Name { field: value, … }`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// `initialization`, `finalization` or `extrinsic N`.
    pub phase: String,
    pub module: String,
    pub name: String,
    pub text: String,
}

impl EventView {
    fn new(phase: Phase, event: &EventDescription) -> Self {
        EventView {
            phase: match phase {
                Phase::Initialization => "initialization".into(),
                Phase::Finalization => "finalization".into(),
                Phase::ApplyExtrinsic(i) => format!("extrinsic {i}"),
            },
            module: event.module.clone(),
            name: event.name.clone(),
            text: event.to_string(),
        }
    }
}

/// An extrinsic's call, left as bytes for the metadata to read.
struct RawCall(Vec<u8>);

impl Decode for RawCall {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        // The rest of one extrinsic (the caller hands exactly one), bounded by its size.
        let len = input
            .remaining_len()?
            .ok_or("the call's length is unknown")?;
        if len > phala_primitives::block::MAX_EXTRINSIC_LEN {
            return Err("the call is too long".into());
        }
        let mut bytes = vec![0; len];
        input.read(&mut bytes)?;
        Ok(RawCall(bytes))
    }
}

/// A field's value in an event description.
fn field<'a>(event: &'a EventDescription, name: &str) -> Option<&'a str> {
    event
        .fields
        .iter()
        .find(|(n, _)| n.as_deref() == Some(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one extrinsic's wire bytes and what the block's events say of it.
/// Also returns the call as described, when it decodes.
fn extrinsic(
    meta: &ChainMetadata,
    index: u32,
    bytes: &[u8],
    events: &[(Phase, EventDescription)],
) -> (ExtrinsicView, Option<EventDescription>) {
    let hash = phala_primitives::extrinsic::extrinsic_hash(bytes);
    let decoded = UncheckedExtrinsic::<RawCall>::decode(&mut &bytes[..]);
    let (signer, nonce, described, call) = match &decoded {
        Ok(xt) => {
            let signer = xt.signature.as_ref().map(|s| match &s.address {
                MultiAddress::Id(id) => id.to_ss58(),
                other => format!("{other:?}"),
            });
            let described = meta.describe_call_bytes(&xt.function.0);
            let call = match &described {
                Ok(c) => c.to_string(),
                Err(e) => format!("0x{} ({e})", hex::encode(&xt.function.0)),
            };
            let nonce = xt.signature.as_ref().map(|s| s.extra.nonce);
            (signer, nonce, described.ok(), call)
        }
        Err(e) => (None, None, None, format!("0x{} ({e})", hex::encode(bytes))),
    };
    let mine: Vec<&EventDescription> = events
        .iter()
        .filter(|(p, _)| *p == Phase::ApplyExtrinsic(index))
        .map(|(_, e)| e)
        .collect();
    let result = mine
        .iter()
        .find_map(|e| match (e.module.as_str(), e.name.as_str()) {
            ("System", "ExtrinsicSuccess") => Some("Ok".to_string()),
            ("System", "ExtrinsicFailed") => Some(format!(
                "Failed: {}",
                field(e, "dispatch_error").unwrap_or("?")
            )),
            _ => None,
        });
    let fee = mine
        .iter()
        .find(|e| e.module == "TransactionPayment" && e.name == "TransactionFeePaid")
        .and_then(|e| field(e, "actual_fee"))
        .map(str::to_string);
    let view = ExtrinsicView {
        index,
        hash,
        signer,
        nonce,
        call,
        result,
        fee,
        events: mine
            .iter()
            .map(|e| EventView::new(Phase::ApplyExtrinsic(index), e))
            .collect(),
    };
    (view, described)
}

/// The time a block's `Timestamp.set` sets.
fn timestamp(calls: &[Option<EventDescription>]) -> Option<u64> {
    calls.iter().flatten().find_map(|call| {
        if call.module != "Timestamp" || call.name != "set" {
            return None;
        }
        field(call, "now")?.parse().ok()
    })
}

impl Client {
    /// Block `hash`, decoded by the node's metadata; `None` if the node does not know it.
    pub async fn block_view(&self, hash: H256) -> Result<Option<BlockView>, ClientError> {
        let Some(block) = self.block(hash).await? else {
            return Ok(None);
        };
        let meta = self.metadata().await;
        let raw = self.storage(&system::EVENTS.key(), Some(hash)).await?;
        let events = match raw {
            Some(bytes) => meta
                .read_event_records(&bytes)
                .map_err(|e| ClientError::Decode {
                    what: format!("System.Events of block {hash}"),
                    reason: e,
                })?,
            None => Vec::new(),
        };
        let (finalized, _) = self.finalized_head().await?;
        let (extrinsics, calls): (Vec<_>, Vec<_>) = block
            .extrinsics
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                extrinsic(&meta, index, x.as_bytes(), &events)
            })
            .unzip();
        Ok(Some(BlockView {
            ends_epoch: EpochEndView::of(&block.header),
            number: block.header.number,
            hash,
            parent_hash: block.header.parent_hash,
            state_root: block.header.state_root,
            extrinsics_root: block.header.extrinsics_root,
            finalized: block.header.number <= finalized
                && self.block_hash(block.header.number).await? == Some(hash),
            timestamp_ms: timestamp(&calls),
            extrinsics,
            events: events
                .iter()
                .filter(|(p, _)| !matches!(p, Phase::ApplyExtrinsic(_)))
                .map(|(p, e)| EventView::new(*p, e))
                .collect(),
        }))
    }
}
