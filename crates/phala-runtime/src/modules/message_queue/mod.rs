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
//! Which module handles a topic, and whether a worker may send at all, is the runtime root's
//! business ([`Config`]): this module depends on no other chain module but `system`, so the
//! modules that send and handle messages can build on it.
//!
//! Chain → worker: modules `push` messages; a block's messages are its
//! `OutboundMessages` value, cleared at the start of the next block, so a worker reads each
//! block's messages once, with a read proof against that block's state root.

#[cfg(test)]
mod tests;

use parity_scale_codec::{Decode, Encode};
use phala_mq::{Message, MessageOrigin, SignedMessage};
use scale_info::TypeInfo;

use crate::Ext;
use crate::dispatch::{
    DispatchClass, DispatchError, DispatchInfo, DispatchResult, ModuleErrorEnum, Origin, Pays,
};
use crate::modules::{index, system, weights};
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
    /// Deliver up to 32 consecutive messages of one sender in one transaction: a worker
    /// that signs several in a block (heartbeats, settlements, reports) is not held to one
    /// message per block. The first must carry the next sequence.
    #[codec(index = 1)]
    sync_offchain_messages { signed_messages: Vec<SignedMessage> },
}

/// Most messages in one `sync_offchain_messages`.
pub const MAX_BATCH: usize = 32;

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
    /// A batch must hold 1 to 32 messages of one sender with consecutive sequences.
    BadBatch,
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::MESSAGE_QUEUE;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// Whether a worker may send messages, as the module that registers workers sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderStatus {
    /// Not registered.
    Unknown,
    /// Registered, but its attestation expired or its measurement was removed.
    Untrusted,
    /// Registered and trusted.
    Trusted,
}

/// A topic's handler: what the message does and what it costs.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The topic, as messages name it in `destination`.
    pub topic: &'static [u8],
    /// Handles a worker's message on this topic (its sender's identity key, its payload).
    pub handle: fn(&mut Ext, [u8; 32], &[u8]) -> DispatchResult,
    /// The storage and compute work handling `payload` asks for, known before handling it.
    pub weight: fn(&[u8]) -> phala_primitives::Weight,
}

/// What the runtime's root tells this module: who its senders are and where each topic
/// goes (as FRAME's message queue takes a `MessageProcessor` from its runtime).
pub trait Config {
    /// Whether the worker `pubkey` may send.
    fn sender_status(ext: &Ext, pubkey: &[u8; 32]) -> SenderStatus;
    /// Every topic the chain handles; others are refused.
    const ROUTES: &'static [Route];
}

/// Block start: the previous block's outbound messages are no longer current.
pub fn on_initialize(ext: &mut Ext) {
    OUTBOUND_MESSAGES.kill(ext);
}

/// Outbound room kept from [`push_bulk`] for the chain's own bookkeeping (challenges,
/// sessions starting and stopping, heartbeats, gatekeeper and worker events): a block full
/// of contract commands must not cost workers their heartbeats.
pub const RESERVED_OUTBOUND: usize = 512;
/// Bytes kept from [`push_bulk`], likewise.
pub const RESERVED_OUTBOUND_BYTES: usize = 512 * 1024;

/// Sends `payload` on `topic` from the chain module `module` to workers in this block,
/// using the whole outbound room (the chain's own messages).
pub fn push(ext: &mut Ext, module: &str, topic: &[u8], payload: &impl Encode) -> DispatchResult {
    push_within(ext, module, topic, payload, 0, 0)
}

/// Sends a message that users' transactions cause, in bulk (contract commands and code):
/// it may not take the room reserved for the chain's own messages.
pub fn push_bulk(
    ext: &mut Ext,
    module: &str,
    topic: &[u8],
    payload: &impl Encode,
) -> DispatchResult {
    push_within(
        ext,
        module,
        topic,
        payload,
        RESERVED_OUTBOUND,
        RESERVED_OUTBOUND_BYTES,
    )
}

fn push_within(
    ext: &mut Ext,
    module: &str,
    topic: &[u8],
    payload: &impl Encode,
    keep: usize,
    keep_bytes: usize,
) -> DispatchResult {
    let message = Message::new(MessageOrigin::pallet(module), topic, payload.encode());
    let mut queue = OUTBOUND_MESSAGES.get_or_default(ext);
    // Workers prove the whole queue every block: its bytes are bounded, not just its length.
    let bytes: usize = queue
        .iter()
        .map(|m| m.payload.len())
        .fold(message.payload.len(), usize::saturating_add);
    if queue.len() >= MAX_OUTBOUND_PER_BLOCK.saturating_sub(keep)
        || bytes > MAX_OUTBOUND_BYTES_PER_BLOCK.saturating_sub(keep_bytes)
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
pub fn check<C: Config>(ext: &Ext, signed: &SignedMessage) -> Result<(), Error> {
    let message = &signed.message;
    if !message.within_bounds() {
        return Err(Error::MessageTooLarge);
    }
    let genesis = system::block_hash(ext, 0).ok_or(Error::BadSignature)?;
    match &message.sender {
        MessageOrigin::Worker(pubkey) => {
            let status = C::sender_status(ext, pubkey);
            if status == SenderStatus::Unknown {
                return Err(Error::UnknownSender);
            }
            if !signed.verify_with(&genesis, pubkey) {
                return Err(Error::BadSignature);
            }
            // Revoked (its measurement removed) or expired: nothing it sends is taken.
            if status == SenderStatus::Untrusted {
                return Err(Error::AttestationExpired);
            }
        }
        // Nothing signs as these origins: gatekeepers and cluster members report from their
        // own worker origin, and their role is checked when the report is handled.
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

/// Every check a batch must pass, without writing anything: the first message as
/// [`check`] checks one, the rest from the same sender, each with the next sequence and a
/// valid signature.
pub fn check_batch<C: Config>(ext: &Ext, batch: &[SignedMessage]) -> Result<(), Error> {
    let (first, rest) = batch.split_first().ok_or(Error::BadBatch)?;
    if batch.len() > MAX_BATCH {
        return Err(Error::BadBatch);
    }
    check::<C>(ext, first)?;
    let MessageOrigin::Worker(pubkey) = &first.message.sender else {
        return Err(Error::BadSender);
    };
    let genesis = system::block_hash(ext, 0).ok_or(Error::BadSignature)?;
    let mut expected = first.sequence;
    for signed in rest {
        expected = expected.checked_add(1).ok_or(Error::BadBatch)?;
        if signed.message.sender != first.message.sender || signed.sequence != expected {
            return Err(Error::BadBatch);
        }
        if !signed.message.within_bounds() {
            return Err(Error::MessageTooLarge);
        }
        if !signed.verify_with(&genesis, pubkey) {
            return Err(Error::BadSignature);
        }
    }
    Ok(())
}

fn pool_error(e: Error) -> InvalidTransaction {
    match e {
        Error::StaleSequence => InvalidTransaction::Stale,
        Error::FutureSequence => InvalidTransaction::Future,
        Error::BadSignature => InvalidTransaction::BadProof,
        Error::UnknownSender | Error::BadSender | Error::AttestationExpired => {
            InvalidTransaction::BadSigner
        }
        _ => InvalidTransaction::Call,
    }
}

/// Pool validity of a `sync_offchain_messages`: the tag of its first message, so a batch
/// and a single message starting at the same sequence are one transaction to the pool.
pub fn validate_batch<C: Config>(
    ext: &Ext,
    batch: &[SignedMessage],
) -> Result<Vec<u8>, InvalidTransaction> {
    check_batch::<C>(ext, batch).map_err(pool_error)?;
    let first = batch.first().ok_or(InvalidTransaction::Call)?;
    Ok((b"phala/mq", &first.message.sender, first.sequence).encode())
}

/// Pool validity of a `sync_offchain_message`, and the tag that keeps one copy per
/// (sender, sequence) in the pool.
pub fn validate<C: Config>(
    ext: &Ext,
    signed: &SignedMessage,
) -> Result<Vec<u8>, InvalidTransaction> {
    check::<C>(ext, signed).map_err(pool_error)?;
    Ok((b"phala/mq", &signed.message.sender, signed.sequence).encode())
}

fn route_of<C: Config>(message: &Message) -> Option<&'static Route> {
    C::ROUTES
        .iter()
        .find(|r| r.topic == message.destination.as_slice())
}

fn route<C: Config>(ext: &mut Ext, message: &Message) -> DispatchResult {
    match (&message.sender, route_of::<C>(message)) {
        (MessageOrigin::Worker(pubkey), Some(route)) => {
            (route.handle)(ext, *pubkey, &message.payload)
        }
        _ => Err(Error::UnknownTopic.into()),
    }
}

/// What routing `message` costs its handler: decoding and hashing its bytes, and the
/// storage work its content asks for. Undecodable content is refused at once, so it costs
/// only the bytes.
fn handler_weight<C: Config>(message: &Message) -> phala_primitives::Weight {
    let bytes = u64::try_from(message.payload.len()).unwrap_or(u64::MAX);
    // About 2 ns a byte to decode, hash and copy into the outbound queue.
    let decode = weights::compute(bytes.saturating_mul(2_000));
    let work = match route_of::<C>(message) {
        Some(route) => (route.weight)(&message.payload),
        None => weights::reads_writes(2, 2),
    };
    weights::add(decode, work)
}

impl Call {
    pub fn info<C: Config>(&self) -> DispatchInfo {
        // Per message: a signature check, the sender lookup and the sequence, then what
        // the handler does, which grows with what the message asks (a contract report's
        // effects, a hand-over's envelopes).
        let one = |m: &SignedMessage| {
            weights::add(
                weights::add(weights::reads_writes(4, 4), weights::compute(100_000_000)),
                handler_weight::<C>(&m.message),
            )
        };
        let weight = match self {
            Call::sync_offchain_message { signed_message } => one(signed_message),
            Call::sync_offchain_messages { signed_messages } => signed_messages
                .iter()
                .take(MAX_BATCH)
                .map(one)
                .fold(phala_primitives::Weight::ZERO, weights::add),
        };
        DispatchInfo {
            weight,
            // Workers' reports keep the chain working (benchmarks, keys, contract results,
            // heartbeats), as FRAME's system-critical calls do: they get the pool's and the
            // block's reserved room. Only genuine messages qualify: the pool checks the
            // worker's signatures and sequences before admitting them.
            class: DispatchClass::Operational,
            pays_fee: Pays::Yes,
        }
    }

    pub fn dispatch<C: Config>(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        origin.ensure_signed()?;
        let batch = match self {
            Call::sync_offchain_message { signed_message } => {
                check::<C>(ext, &signed_message)?;
                vec![signed_message]
            }
            Call::sync_offchain_messages { signed_messages } => {
                check_batch::<C>(ext, &signed_messages)?;
                signed_messages
            }
        };
        for signed_message in batch {
            deliver::<C>(ext, signed_message)?;
        }
        Ok(())
    }
}

/// Takes one checked message: its sequence is used whatever its handler says.
fn deliver<C: Config>(ext: &mut Ext, signed_message: SignedMessage) -> DispatchResult {
    let sender = signed_message.message.sender.clone();
    let sequence = signed_message.sequence;
    let next = sequence.checked_add(1).ok_or(DispatchError::Arithmetic(
        crate::dispatch::ArithmeticError::Overflow,
    ))?;
    OFFCHAIN_INGRESS.insert(ext, &sender, &next);
    match ext.transactional(|ext| route::<C>(ext, &signed_message.message)) {
        Ok(()) => ext.deposit_event(Event::Dispatched { sender, sequence }),
        Err(error) => ext.deposit_event(Event::DispatchFailed {
            sender,
            sequence,
            error,
        }),
    }
    Ok(())
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::MessageQueue(e)
    }
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "MessageQueue",
        index: crate::modules::index::MESSAGE_QUEUE,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Signed, sequenced messages between the chain and TEE workers.",
    }
}
