//! Whole blocks: building one from a stream of candidate transactions, and re-executing one
//! received from another node.
//!
//! Layout of every block: extrinsic 0 is the bare `Timestamp::set` inherent, then signed
//! transactions. A builder skips transactions that are invalid or do not fit; an executed
//! block must be valid throughout, or it is rejected whole.

use parity_scale_codec::Encode;
use phala_primitives::{BlockNumber, DigestItem, H256, Moment, OpaqueExtrinsic, Weight};

use crate::dispatch::DispatchClass;
use crate::executive::{Applied, ApplyError, Context, apply_extrinsic, decode_extrinsic};
use crate::modules::system::{self, EventRecord, PerDispatchClass, Phase};
use crate::modules::{
    computation, contracts, message_queue, registry, scheduler, stake_pools, timestamp, validators,
    weights,
};
use crate::validity::{InvalidTransaction, TransactionValidityError};
use crate::{Backend, Ext, RuntimeCall, UncheckedExtrinsic};

/// Storage changes a block makes: `Some` writes, `None` deletes.
pub type Changes = std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A finished block body and its effects.
#[derive(Debug)]
pub struct BuiltBlock {
    pub extrinsics: Vec<OpaqueExtrinsic>,
    pub changes: Changes,
    pub events: Vec<EventRecord>,
    pub weight: Weight,
    /// Digest entries the header must carry (the next committee, at epoch boundaries).
    pub digest: Vec<DigestItem>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    #[error("block has no timestamp inherent as its first extrinsic")]
    MissingTimestamp,
    #[error("extrinsic {index} is invalid: {error}")]
    InvalidExtrinsic { index: usize, error: ApplyError },
    #[error("block exceeds its weight or length limit")]
    TooHeavy,
    #[error("execution aborted: {0}")]
    Fatal(String),
}

/// Why the builder did not take a transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Invalid now; `Future` and resource exhaustion may become valid later.
    Invalid(TransactionValidityError),
    Undecodable(String),
    /// The block is full.
    Full,
    /// The state backend failed; the block cannot be finished.
    Fatal(String),
}

/// Builds a block: initialises it, applies the timestamp inherent, then takes transactions
/// one by one until it is full.
pub struct BlockBuilder<'a> {
    ext: Ext<'a>,
    ctx: Context,
    extrinsics: Vec<OpaqueExtrinsic>,
    number: BlockNumber,
    normal_weight: Weight,
    operational_weight: Weight,
    mandatory_weight: Weight,
    normal_len: usize,
    /// Bytes of normal and operational transactions together.
    transactions_len: usize,
}

impl<'a> BlockBuilder<'a> {
    /// Starts block `number` on top of `parent_hash`, whose post-state `backend` is, with the
    /// author's `timestamp`.
    pub fn new(
        backend: &'a dyn Backend,
        ctx: Context,
        parent_hash: H256,
        number: BlockNumber,
        timestamp: Moment,
    ) -> Result<Self, BlockError> {
        let mut ext = Ext::new(backend);
        ext.set_phase(Phase::Initialization);
        system::initialize(&mut ext, number, parent_hash);
        timestamp::on_initialize(&mut ext);
        validators::on_initialize(&mut ext, number);
        message_queue::on_initialize(&mut ext);
        // Revocations push gatekeeper events: after the queue is cleared.
        registry::on_initialize::<crate::Wiring>(&mut ext, number);
        // After the queue is cleared: reassignments are this block's messages.
        contracts::on_initialize::<crate::Wiring>(&mut ext, number);
        // After the contracts' deadlines: parked bridge work takes the block's first gas.
        let inbox = crate::modules::bridge::on_initialize(&mut ext);
        // After the queue is cleared: the challenge is this block's message.
        computation::on_initialize::<crate::Wiring>(&mut ext, number);
        stake_pools::on_initialize(&mut ext, number);
        crate::modules::treasury::on_initialize(&mut ext, number);
        // Last: enacted proposals see the block as the modules left it.
        let scheduled = scheduler::on_initialize(&mut ext, number);
        if let Some(reason) = ext.fatal() {
            return Err(BlockError::Fatal(reason));
        }
        let mut builder = BlockBuilder {
            ext,
            ctx,
            extrinsics: Vec::new(),
            number,
            normal_weight: Weight::ZERO,
            operational_weight: Weight::ZERO,
            mandatory_weight: weights::BLOCK_BASE
                .saturating_add(scheduled)
                .saturating_add(inbox),
            normal_len: 0,
            transactions_len: 0,
        };
        let inherent = UncheckedExtrinsic::bare(RuntimeCall::Timestamp(timestamp::Call::set {
            now: timestamp,
        }));
        let bytes = OpaqueExtrinsic::from_bytes(inherent.encode())
            .map_err(|e| BlockError::Fatal(e.to_string()))?;
        builder
            .apply(bytes)
            .map_err(|error| BlockError::InvalidExtrinsic { index: 0, error })?;
        Ok(builder)
    }

    fn apply(&mut self, xt: OpaqueExtrinsic) -> Result<Applied, ApplyError> {
        let index = u32::try_from(self.extrinsics.len()).unwrap_or(u32::MAX);
        let applied = apply_extrinsic(&mut self.ext, &self.ctx, xt.as_bytes(), index)?;
        let len = xt.as_bytes().len();
        match applied.info.class {
            DispatchClass::Mandatory => {
                self.mandatory_weight = self.mandatory_weight.saturating_add(applied.weight)
            }
            DispatchClass::Normal => {
                self.normal_weight = self.normal_weight.saturating_add(applied.weight);
                self.normal_len = self.normal_len.saturating_add(len);
                self.transactions_len = self.transactions_len.saturating_add(len);
            }
            DispatchClass::Operational => {
                self.operational_weight = self.operational_weight.saturating_add(applied.weight);
                self.transactions_len = self.transactions_len.saturating_add(len);
            }
        }
        self.extrinsics.push(xt);
        Ok(applied)
    }

    /// Tries to add a transaction (signed, or an unsigned equivocation report). On `Err`
    /// nothing changed.
    pub fn push(&mut self, xt: OpaqueExtrinsic) -> Result<Applied, Skipped> {
        // Check it fits before running it.
        let decoded =
            decode_extrinsic(xt.as_bytes()).map_err(|e| Skipped::Undecodable(e.to_string()))?;
        if decoded.signature.is_none() && decoded.function.is_inherent() {
            return Err(Skipped::Invalid(InvalidTransaction::Call.into()));
        }
        let info = decoded.function.info();
        let weight = weights::EXTRINSIC_BASE.saturating_add(info.weight);
        if !self.fits(info.class, weight, xt.as_bytes().len()) {
            return Err(Skipped::Full);
        }
        match self.apply(xt) {
            Ok(applied) => Ok(applied),
            Err(ApplyError::Invalid(e)) => Err(Skipped::Invalid(e)),
            Err(ApplyError::Undecodable(e)) => Err(Skipped::Undecodable(e)),
            Err(ApplyError::Fatal(e)) => Err(Skipped::Fatal(e)),
        }
    }

    /// Whether a transaction of `class`, `weight` and `len` bytes still fits: normal ones in
    /// their share, operational ones in the whole block (what normal ones cannot take is
    /// theirs).
    fn fits(&self, class: DispatchClass, weight: Weight, len: usize) -> bool {
        let (normal_weight, normal_len) = match class {
            DispatchClass::Normal => (
                self.normal_weight.saturating_add(weight),
                self.normal_len.saturating_add(len),
            ),
            DispatchClass::Operational | DispatchClass::Mandatory => {
                (self.normal_weight, self.normal_len)
            }
        };
        let total_weight =
            self.total_weight()
                .saturating_add(if class == DispatchClass::Mandatory {
                    Weight::ZERO
                } else {
                    weight
                });
        let total_len = self.transactions_len.saturating_add(len);
        within_limits(normal_weight, normal_len, total_weight, total_len)
    }

    fn total_weight(&self) -> Weight {
        self.normal_weight
            .saturating_add(self.operational_weight)
            .saturating_add(self.mandatory_weight)
    }

    /// Number of extrinsics so far, the inherent included.
    pub fn len(&self) -> usize {
        self.extrinsics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.extrinsics.is_empty()
    }

    /// Read access to the block's state so far (for the transaction pool's bookkeeping).
    pub fn ext(&self) -> &Ext<'a> {
        &self.ext
    }

    /// Ends the block: writes its events and counters and returns its body and changes.
    pub fn finish(mut self) -> Result<BuiltBlock, BlockError> {
        self.ext.set_phase(Phase::Finalization);
        if !timestamp::did_update(&self.ext) {
            return Err(BlockError::MissingTimestamp);
        }
        let weight = PerDispatchClass {
            normal: self.normal_weight,
            operational: self.operational_weight,
            mandatory: self.mandatory_weight,
        };
        let digest: Vec<DigestItem> = validators::on_finalize(&mut self.ext, self.number)
            .map(|end| end.digest())
            .unwrap_or_default();
        let count = u32::try_from(self.extrinsics.len()).unwrap_or(u32::MAX);
        let total_weight = self.total_weight();
        let events = self.ext.events().to_vec();
        system::finalize(&mut self.ext, count, weight);
        if let Some(reason) = self.ext.fatal() {
            return Err(BlockError::Fatal(reason));
        }
        Ok(BuiltBlock {
            extrinsics: self.extrinsics,
            changes: self.ext.into_changes(),
            events,
            weight: total_weight,
            digest,
        })
    }
}

/// A block's limits: normal transactions within their share, everything within the block.
fn within_limits(
    normal_weight: Weight,
    normal_len: usize,
    total_weight: Weight,
    transactions_len: usize,
) -> bool {
    let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    normal_weight.all_lte(weights::max_normal_block())
        && normal_len <= as_usize(weights::max_normal_length())
        && total_weight.all_lte(weights::MAX_BLOCK)
        && transactions_len <= as_usize(weights::MAX_BLOCK_LENGTH)
}

/// The timestamp a block's inherent carries, if its first extrinsic is one.
pub fn block_timestamp(extrinsics: &[OpaqueExtrinsic]) -> Option<Moment> {
    let first = extrinsics.first()?;
    match decode_extrinsic(first.as_bytes()).ok()? {
        UncheckedExtrinsic {
            signature: None,
            function: RuntimeCall::Timestamp(timestamp::Call::set { now }),
        } => Some(now),
        _ => None,
    }
}

/// Re-executes a block received from another node. Every extrinsic must apply, the first
/// must be the timestamp inherent and no other may be an inherent.
pub fn execute_block(
    backend: &dyn Backend,
    ctx: Context,
    parent_hash: H256,
    number: BlockNumber,
    extrinsics: &[OpaqueExtrinsic],
) -> Result<BuiltBlock, BlockError> {
    let now = block_timestamp(extrinsics).ok_or(BlockError::MissingTimestamp)?;
    let mut builder = BlockBuilder::new(backend, ctx, parent_hash, number, now)?;
    for (index, xt) in extrinsics.iter().enumerate().skip(1) {
        let decoded =
            decode_extrinsic(xt.as_bytes()).map_err(|e| BlockError::InvalidExtrinsic {
                index,
                error: ApplyError::Undecodable(e.to_string()),
            })?;
        if decoded.signature.is_none() && decoded.function.is_inherent() {
            return Err(BlockError::InvalidExtrinsic {
                index,
                error: ApplyError::Invalid(InvalidTransaction::Call.into()),
            });
        }
        builder
            .apply(xt.clone())
            .map_err(|error| BlockError::InvalidExtrinsic { index, error })?;
    }
    if !within_limits(
        builder.normal_weight,
        builder.normal_len,
        builder.total_weight(),
        builder.transactions_len,
    ) {
        return Err(BlockError::TooHeavy);
    }
    let built = builder.finish()?;
    if built.extrinsics.as_slice() != extrinsics {
        return Err(BlockError::Fatal(
            "re-executed body differs from the block".into(),
        ));
    }
    Ok(built)
}
