//! `MessageQueue`: the chain's end of the message queue (docs/protocol.md, *Message queue*).
//!
//! Worker → chain: `sync_offchain_message` carries a `SignedMessage`. It is accepted only
//! if its sender is an off-chain origin the chain knows (a registered worker), the signature
//! verifies over this chain's genesis hash, and its sequence is exactly the next one for
//! that sender. Stale and future sequences are refused in the pool and in blocks alike, so a
//! message is never applied twice nor out of order. Once accepted its sequence is consumed
//! even if the topic's handler fails (the failure is an event), so one bad message cannot
//! wedge a worker's queue.
//!
//! The call is `DispatchClass::Operational`: it may use the block room and the pool room kept
//! from normal transactions, and outranks them. That room is not a flood target because the
//! pool runs [`check`] before admitting one, so only a registered worker's genuine next
//! message gets in — at most one per worker at a time.
//!
//! Chain → worker: modules `push` messages; a block's messages are its
//! `OutboundMessages` value, cleared at the start of the next block, so a worker reads each
//! block's messages once, with a read proof against that block's state root.

#[cfg(test)]
mod tests;

use parity_scale_codec::{Decode, Encode};
use phala_mq::{Message, MessageOrigin, SignedMessage, topics};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{
    DispatchClass, DispatchError, DispatchInfo, DispatchResult, ModuleErrorEnum, Origin, Pays,
};
use crate::modules::{index, registry, system, weights};
use crate::storage::{Query, StorageMap, StorageValue};
use crate::validity::InvalidTransaction;
use phala_primitives::storage::Hasher;

const MODULE: &str = "MessageQueue";

/// Most messages the chain's modules may push in one block.
pub const MAX_OUTBOUND_PER_BLOCK: usize = 4096;
/// Most payload bytes one block may queue for workers.
pub const MAX_OUTBOUND_BYTES_PER_BLOCK: usize = 4 * 1024 * 1024;

pub const OFFCHAIN_INGRESS: StorageMap<MessageOrigin, u64> = StorageMap::new(
    MODULE,
    "OffchainIngress",
    Hasher::Blake2_128Concat,
    Query::Optional,
    &[" The next sequence number expected from each off-chain sender."],
);
pub const OUTBOUND_MESSAGES: StorageValue<Vec<Message>> = StorageValue::new(
    MODULE,
    "OutboundMessages",
    Query::Default,
    &[" Messages the chain's modules sent to workers in this block."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![OFFCHAIN_INGRESS.metadata(), OUTBOUND_MESSAGES.metadata()]
}

/// Calls of the `MessageQueue` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Deliver a signed message from an off-chain sender (a worker).
    #[codec(index = 0)]
    sync_offchain_message { signed_message: SignedMessage },
}

/// Events of the `MessageQueue` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    /// An off-chain message was accepted and handled.
    #[codec(index = 0)]
    Dispatched {
        sender: MessageOrigin,
        sequence: u64,
    },
    /// An off-chain message was accepted (its sequence is used) but its handler refused it.
    #[codec(index = 1)]
    DispatchFailed {
        sender: MessageOrigin,
        sequence: u64,
        error: DispatchError,
    },
}

/// Errors of the `MessageQueue` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The sender is not an off-chain origin.
    BadSender,
    /// The sender is unknown to the chain (for a worker: not registered).
    UnknownSender,
    /// The signature does not verify for the sender.
    BadSignature,
    /// The sequence was already used.
    StaleSequence,
    /// The sequence is ahead of the next expected one.
    FutureSequence,
    /// The topic or payload is too large.
    MessageTooLarge,
    /// The topic is not addressed to the chain, or no module handles it.
    UnknownTopic,
    /// Too many outbound messages in this block.
    OutboundQueueFull,
    /// The worker's attestation has expired, or its measurement was removed from the
    /// allowlist: its messages are refused until it re-attests with an allowed one.
    AttestationExpired,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::MESSAGE_QUEUE;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// Block start: the previous block's outbound messages are no longer current.
pub fn on_initialize(ext: &mut Ext) {
    OUTBOUND_MESSAGES.kill(ext);
}

/// Sends `payload` on `topic` from the chain module `module` to workers in this block.
pub fn push(ext: &mut Ext, module: &str, topic: &[u8], payload: &impl Encode) -> DispatchResult {
    let message = Message::new(MessageOrigin::pallet(module), topic, payload.encode());
    let mut queue = OUTBOUND_MESSAGES.get_or_default(ext);
    // Workers prove the whole queue every block: its bytes are bounded, not just its length.
    let bytes: usize = queue
        .iter()
        .map(|m| m.payload.len())
        .fold(message.payload.len(), usize::saturating_add);
    if queue.len() >= MAX_OUTBOUND_PER_BLOCK
        || bytes > MAX_OUTBOUND_BYTES_PER_BLOCK
        || !message.within_bounds()
    {
        return Err(Error::OutboundQueueFull.into());
    }
    queue.push(message);
    OUTBOUND_MESSAGES.put(ext, &queue);
    Ok(())
}

/// The next sequence expected from `sender`.
pub fn next_sequence(ext: &Ext, sender: &MessageOrigin) -> u64 {
    OFFCHAIN_INGRESS.get(ext, sender).unwrap_or(0)
}

/// Every check an off-chain message must pass, without writing anything.
pub fn check(ext: &Ext, signed: &SignedMessage) -> Result<(), Error> {
    let message = &signed.message;
    if !message.within_bounds() {
        return Err(Error::MessageTooLarge);
    }
    let genesis = system::block_hash(ext, 0).ok_or(Error::BadSignature)?;
    match &message.sender {
        MessageOrigin::Worker(pubkey) => {
            let worker = registry::worker(ext, pubkey).ok_or(Error::UnknownSender)?;
            if !signed.verify_with(&genesis, pubkey) {
                return Err(Error::BadSignature);
            }
            // Revoked (its measurement removed) or expired: nothing it sends is taken.
            if registry::usable(ext, &worker).is_err() {
                return Err(Error::AttestationExpired);
            }
        }
        // Nothing signs as these origins: gatekeepers and cluster members report from their
        // own worker origin (`GATEKEEPER_REPORT`, `CONTRACT_REPORT`), and their role is
        // checked when the report is handled.
        MessageOrigin::Gatekeeper | MessageOrigin::Cluster(_) | MessageOrigin::Contract(_) => {
            return Err(Error::UnknownSender);
        }
        MessageOrigin::Pallet(_) | MessageOrigin::AccountId(_) => return Err(Error::BadSender),
    }
    let expected = next_sequence(ext, &message.sender);
    match signed.sequence.cmp(&expected) {
        core::cmp::Ordering::Less => Err(Error::StaleSequence),
        core::cmp::Ordering::Greater => Err(Error::FutureSequence),
        core::cmp::Ordering::Equal => Ok(()),
    }
}

/// Pool validity of a `sync_offchain_message`, and the tag that keeps one copy per
/// (sender, sequence) in the pool.
pub fn validate(ext: &Ext, signed: &SignedMessage) -> Result<Vec<u8>, InvalidTransaction> {
    check(ext, signed).map_err(|e| match e {
        Error::StaleSequence => InvalidTransaction::Stale,
        Error::FutureSequence => InvalidTransaction::Future,
        Error::BadSignature => InvalidTransaction::BadProof,
        Error::UnknownSender | Error::BadSender | Error::AttestationExpired => {
            InvalidTransaction::BadSigner
        }
        _ => InvalidTransaction::Call,
    })?;
    Ok((b"phala/mq", &signed.message.sender, signed.sequence).encode())
}

fn route(ext: &mut Ext, message: &Message) -> DispatchResult {
    if message.destination == topics::WORKER_REPORT
        && let MessageOrigin::Worker(pubkey) = message.sender
    {
        return registry::on_worker_report(ext, pubkey, &message.payload);
    }
    if message.destination == topics::GATEKEEPER_REPORT
        && let MessageOrigin::Worker(pubkey) = message.sender
    {
        return registry::gatekeeper::on_report(ext, pubkey, &message.payload);
    }
    if message.destination == phala_mq::contracts::CONTRACT_REPORT
        && let MessageOrigin::Worker(pubkey) = message.sender
    {
        return crate::modules::contracts::on_report(ext, pubkey, &message.payload);
    }
    Err(Error::UnknownTopic.into())
}

/// What routing `message` costs its handler: decoding and hashing its bytes, and the
/// storage work its content asks for. Undecodable content is refused at once, so it costs
/// only the bytes.
fn handler_weight(message: &Message) -> phala_primitives::Weight {
    let bytes = u64::try_from(message.payload.len()).unwrap_or(u64::MAX);
    // About 2 ns a byte to decode, hash and copy into the outbound queue.
    let decode = weights::compute(bytes.saturating_mul(2_000));
    let work = if message.destination == phala_mq::contracts::CONTRACT_REPORT {
        crate::modules::contracts::report_weight(&message.payload)
    } else if message.destination == topics::GATEKEEPER_REPORT {
        registry::gatekeeper::report_weight(&message.payload)
    } else {
        weights::reads_writes(2, 2)
    };
    weights::add(decode, work)
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let Call::sync_offchain_message { signed_message } = self;
        DispatchInfo {
            // A signature check, the sender lookup and the sequence, then what the handler
            // does, which grows with what the message asks (a contract report's effects, a
            // hand-over's envelopes).
            weight: weights::add(
                weights::add(weights::reads_writes(4, 4), weights::compute(100_000_000)),
                handler_weight(&signed_message.message),
            ),
            // Workers' reports keep the chain working (benchmarks, keys, contract results),
            // as FRAME's system-critical calls do: they get the pool's and the block's
            // reserved room. Only genuine messages qualify: the pool checks the worker's
            // signature and sequence before admitting one.
            class: DispatchClass::Operational,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        origin.ensure_signed()?;
        let Call::sync_offchain_message { signed_message } = self;
        check(ext, &signed_message)?;
        let sender = signed_message.message.sender.clone();
        let sequence = signed_message.sequence;
        let next = sequence.checked_add(1).ok_or(DispatchError::Arithmetic(
            crate::dispatch::ArithmeticError::Overflow,
        ))?;
        OFFCHAIN_INGRESS.insert(ext, &sender, &next);
        match ext.transactional(|ext| route(ext, &signed_message.message)) {
            Ok(()) => ext.deposit_event(Event::Dispatched { sender, sequence }),
            Err(error) => ext.deposit_event(Event::DispatchFailed {
                sender,
                sequence,
                error,
            }),
        }
        Ok(())
    }
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::MessageQueue(e)
    }
}
