//! Contract messages across a channel (docs/bridge.md, *Contracts across chains*).
//!
//! Sending: a contract's `xcm_send` is recorded in its command's effects; when the command
//! settles, each message becomes a packet here. A message that cannot leave (the channel is
//! not open) is answered at once, if its sender asked for a reply.
//!
//! Receiving: the packet is queued as a command of the destination contract, paid by that
//! contract's own account, with the sender's account here ([`remote_origin`]) as its caller.
//! Its acknowledgement waits in [`DELIVERIES`] until the cluster reports: the call's return
//! data, its revert, or why it did not run. A command left unreported is given up at its
//! deadline and answered `Unreported`, so the ordered channel's acknowledgements always go
//! on.
//!
//! Back home: the acknowledgement is delivered to the sender as a call of
//! `on_bridge_reply(query_id: u64, outcome: Ack)`, if it asked for one.
//!
//! A block with no room for a command (its contract gas or the cluster's queue full) parks
//! the work in the [`INBOX`], taken in order at the start of the next blocks before any
//! transaction: congestion delays a message or a reply, never loses it, and never refuses a
//! packet's receipt or acknowledgement.

use parity_scale_codec::Encode;
use phala_mq::contracts::{CommandStatus, OutgoingMessage, remote_origin, reply_origin};
use phala_primitives::{H256, hashing::blake2_256};

use super::{
    ACKS, Ack, AckRecord, ChannelId, ContractMessage, DELIVERIES, Delivery, Error, Event, INBOX,
    INBOX_RANGE, InboxItem, MAX_ACK_BYTES, MAX_INBOX_PER_BLOCK, MAX_PARKED_PER_CHANNEL,
    PARK_EXPIRY, PARKED_CHANNELS, Packet, PacketData, Parked, Sequence, Timeout, channel,
    packet_hash,
};
use crate::Ext;
use crate::bounded::BoundedBytes;
use crate::modules::contracts::{self, DeliverRefused};
use crate::modules::{system, timestamp, weights};
use phala_primitives::Weight;

/// How long a contract message may take to reach the other chain: after that it is
/// answered `TimedOut` there.
pub const MESSAGE_TIMEOUT_MS: u64 = 60 * 60 * 1000;

/// The selector replies are delivered with: ink!'s selector of a message named
/// `on_bridge_reply` (the first four bytes of its name's BLAKE2b-256).
pub fn reply_selector() -> [u8; 4] {
    let hash = blake2_256(b"on_bridge_reply");
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Whether the chain runs the version that brought contract messages.
fn enabled(ext: &Ext) -> bool {
    system::active_spec_version(ext) >= super::CONTRACT_MESSAGES_SINCE_SPEC_VERSION
}

fn name(error: &str) -> BoundedBytes<MAX_ACK_BYTES> {
    BoundedBytes::new(error.as_bytes().to_vec()).unwrap_or_default()
}

/// Sends a message a settled command recorded. Never fails: the command ran, so a message
/// that cannot leave is reported (and answered, if a reply was asked for), not refused.
pub fn send_message(ext: &mut Ext, message: OutgoingMessage) {
    let channel = message.channel;
    let sender = message.sender;
    // The report's effects were checked bounded; an input over the bound cannot get here.
    let Some(input) = BoundedBytes::new(message.input) else {
        ext.deposit_event(Event::MessageNotSent {
            channel,
            sender,
            error: Error::BadLimits,
        });
        return;
    };
    let data = ContractMessage {
        sender,
        contract: message.contract,
        input,
        gas_limit: message.gas_limit,
        storage_bytes: message.storage_bytes,
        reply: message.reply,
    };
    let timeout = Timeout {
        height: 0,
        timestamp: timestamp::now(ext).saturating_add(MESSAGE_TIMEOUT_MS),
    };
    let sent = if enabled(ext) {
        ext.transactional(|ext| {
            channel::send(ext, channel, timeout, PacketData::Contract(data.clone()))
        })
    } else {
        Err(Error::NeedsUpgrade)
    };
    match sent {
        Ok(sequence) => ext.deposit_event(Event::MessageSent {
            channel,
            sequence,
            sender,
            contract: data.contract,
        }),
        Err(error) => {
            ext.deposit_event(Event::MessageNotSent {
                channel,
                sender,
                error,
            });
            // Before the upgrade nothing of this existed: no reply either.
            if data.reply.is_some() && error != Error::NeedsUpgrade {
                reply_or_park(ext, channel, data, Ack::Error(name(error.name())));
            }
        }
    }
}

/// The receiving side: queues the call for its contract, or parks it in the inbox if this
/// block has no room (or others wait before it). `Ok` leaves the acknowledgement pending;
/// an error is the acknowledgement.
pub(super) fn on_recv(
    ext: &mut Ext,
    packet: &Packet,
    message: &ContractMessage,
) -> Result<(), Error> {
    if !enabled(ext) {
        return Err(Error::NeedsUpgrade);
    }
    let channel = packet.dest_channel;
    if inbox_empty(ext, channel) {
        match queue_message(ext, channel, packet.sequence, packet_hash(packet), message) {
            Err(Error::Busy) => {}
            done => return done,
        }
    }
    // A full inbox refuses the receipt: the packet stays unreceived, for a later block.
    park(
        ext,
        channel,
        InboxItem::Message {
            sequence: packet.sequence,
            packet: packet_hash(packet),
            message: message.clone(),
        },
    )
}

/// Queues a received message as a command of its contract, its acknowledgement pending.
fn queue_message(
    ext: &mut Ext,
    channel: ChannelId,
    sequence: Sequence,
    packet: H256,
    message: &ContractMessage,
) -> Result<(), Error> {
    let origin = remote_origin(channel, &message.sender);
    let command = contracts::deliver(
        ext,
        message.contract,
        origin,
        message.input.to_vec(),
        (message.gas_limit, message.storage_bytes),
    )
    .map_err(refused)?;
    DELIVERIES.insert(
        ext,
        &command,
        &Delivery {
            channel,
            sequence,
            packet,
        },
    );
    ext.deposit_event(Event::MessageDelivered {
        channel,
        sequence,
        contract: message.contract,
        command,
    });
    Ok(())
}

fn refused(e: DeliverRefused) -> Error {
    match e {
        DeliverRefused::UnknownContract => Error::UnknownContract,
        DeliverRefused::CannotPay => Error::CannotPay,
        DeliverRefused::Busy => Error::Busy,
        DeliverRefused::BadLimits => Error::BadLimits,
    }
}

/// A command settled: if it was a delivered message, its acknowledgement is written from
/// how it ended and what it returned.
pub fn on_command_settled(
    ext: &mut Ext,
    command: u64,
    status: &CommandStatus,
    reply: Option<Vec<u8>>,
) {
    let Some(delivery) = DELIVERIES.get(ext, &command) else {
        return;
    };
    let data = reply.and_then(BoundedBytes::new);
    let ack = match (status, data) {
        (CommandStatus::Success, Some(data)) => Ack::Success(data),
        (CommandStatus::Reverted, Some(data)) => Ack::Reverted(data),
        (CommandStatus::Success | CommandStatus::Reverted, None) => {
            Ack::Error(name("ReplyTooLarge"))
        }
        (other, _) => Ack::Error(name(&format!("{other:?}"))),
    };
    DELIVERIES.remove(ext, &command);
    answer(ext, &delivery, Some(command), ack);
}

/// A delivered message's command was given up unreported: answered so, as it may or may
/// not have run.
pub fn on_command_dropped(ext: &mut Ext, command: u64) {
    if let Some(delivery) = DELIVERIES.get(ext, &command) {
        DELIVERIES.remove(ext, &command);
        answer(
            ext,
            &delivery,
            Some(command),
            Ack::Error(name(Error::Unreported.name())),
        );
    }
}

/// Writes a received message's acknowledgement.
fn answer(ext: &mut Ext, delivery: &Delivery, command: Option<u64>, ack: Ack) {
    ACKS.insert(
        ext,
        &delivery.channel,
        &delivery.sequence,
        &AckRecord {
            packet: delivery.packet,
            ack: ack.clone(),
        },
    );
    ext.deposit_event(Event::MessageAnswered {
        channel: delivery.channel,
        sequence: delivery.sequence,
        command,
        ack,
    });
}

/// The sending side's answer to an acknowledgement: the outcome goes to the sender if it
/// asked for it. Never fails: a sender that cannot take it (gone, or unable to pay) gets
/// an event, and a block with no room parks it, so the channel always goes on.
pub(super) fn on_ack(ext: &mut Ext, packet: &Packet, message: &ContractMessage, ack: &Ack) {
    if message.reply.is_some() {
        reply_or_park(ext, packet.source_channel, message.clone(), ack.clone());
    }
}

/// Queues `on_bridge_reply` now, or parks it if this block has no room or others wait on
/// the channel; a full inbox drops it (`ReplyNotDelivered`) rather than stop the channel.
fn reply_or_park(ext: &mut Ext, channel: ChannelId, message: ContractMessage, ack: Ack) {
    let item = InboxItem::Reply { message, ack };
    if inbox_empty(ext, channel) && try_item(ext, channel, &item) != Err(Error::Busy) {
        return;
    }
    if park(ext, channel, item.clone()).is_err() {
        expire(ext, channel, &item);
    }
}

/// Queues `on_bridge_reply(query_id, outcome)` for the sender, paid by it, called by the
/// answering contract's reply account here. A refusal other than `Busy` is an event.
fn reply(
    ext: &mut Ext,
    channel: ChannelId,
    message: &ContractMessage,
    ack: &Ack,
) -> Result<(), Error> {
    let Some(request) = message.reply else {
        return Ok(());
    };
    let mut input = reply_selector().to_vec();
    request.query_id.encode_to(&mut input);
    ack.encode_to(&mut input);
    let origin = reply_origin(channel, &message.contract);
    let sender: H256 = message.sender;
    match contracts::deliver(
        ext,
        sender,
        origin,
        input,
        (request.gas_limit, request.storage_bytes),
    ) {
        Ok(command) => {
            ext.deposit_event(Event::ReplyDelivered {
                channel,
                sender,
                query_id: request.query_id,
                command,
            });
            Ok(())
        }
        Err(DeliverRefused::Busy) => Err(Error::Busy),
        Err(e) => {
            ext.deposit_event(Event::ReplyNotDelivered {
                channel,
                sender,
                query_id: request.query_id,
                error: refused(e),
            });
            Ok(())
        }
    }
}

/// Takes one inbox item: `Err(Busy)` if the block has no room for it (it stays).
fn try_item(ext: &mut Ext, channel: ChannelId, item: &InboxItem) -> Result<(), Error> {
    match item {
        InboxItem::Message {
            sequence,
            packet,
            message,
        } => match queue_message(ext, channel, *sequence, *packet, message) {
            Err(Error::Busy) => Err(Error::Busy),
            Ok(()) => Ok(()),
            Err(e) => {
                let delivery = Delivery {
                    channel,
                    sequence: *sequence,
                    packet: *packet,
                };
                answer(ext, &delivery, None, Ack::Error(name(e.name())));
                Ok(())
            }
        },
        InboxItem::Reply { message, ack } => reply(ext, channel, message, ack),
    }
}

/// An item that found no room in time: a message is answered `Busy`, a reply dropped.
fn expire(ext: &mut Ext, channel: ChannelId, item: &InboxItem) {
    match item {
        InboxItem::Message {
            sequence, packet, ..
        } => {
            let delivery = Delivery {
                channel,
                sequence: *sequence,
                packet: *packet,
            };
            answer(ext, &delivery, None, Ack::Error(name(Error::Busy.name())));
        }
        InboxItem::Reply { message, .. } => {
            if let Some(request) = message.reply {
                ext.deposit_event(Event::ReplyNotDelivered {
                    channel,
                    sender: message.sender,
                    query_id: request.query_id,
                    error: Error::Busy,
                });
            }
        }
    }
}

fn inbox_empty(ext: &Ext, channel: ChannelId) -> bool {
    let (first, next) = INBOX_RANGE.get_or_default(ext, &channel);
    first == next
}

/// Parks `item` at the end of `channel`'s inbox; `Busy` if it is full.
fn park(ext: &mut Ext, channel: ChannelId, item: InboxItem) -> Result<(), Error> {
    let (first, next) = INBOX_RANGE.get_or_default(ext, &channel);
    if next.saturating_sub(first) >= MAX_PARKED_PER_CHANNEL {
        return Err(Error::Busy);
    }
    if first == next {
        let mut parked = PARKED_CHANNELS.get_or_default(ext);
        if !parked.contains(&channel) {
            parked.push(channel);
            PARKED_CHANNELS.put(ext, &parked);
        }
    }
    let at = system::block_number(ext);
    INBOX.insert(ext, &channel, &next, &Parked { at, item });
    INBOX_RANGE.insert(ext, &channel, &(first, next.saturating_add(1)));
    ext.deposit_event(Event::Parked {
        channel,
        index: next,
    });
    Ok(())
}

/// Block start: parked work is taken in order per channel, before any transaction can use
/// the block's contract gas, up to [`MAX_INBOX_PER_BLOCK`] items in all. A channel whose
/// next item finds no room waits (others go on); an item that waited [`PARK_EXPIRY`] blocks
/// is answered `Busy`. Returns the weight it used.
pub fn on_initialize(ext: &mut Ext) -> Weight {
    let channels = PARKED_CHANNELS.get_or_default(ext);
    if channels.is_empty() {
        return weights::reads_writes(1, 0);
    }
    let now = system::block_number(ext);
    let mut budget = MAX_INBOX_PER_BLOCK;
    let mut left = Vec::new();
    // Starting at a different channel each block, so none waits behind the others.
    let start = usize::try_from(now)
        .unwrap_or(0)
        .checked_rem(channels.len())
        .unwrap_or(0);
    for channel in channels.iter().cycle().skip(start).take(channels.len()) {
        let (mut first, next) = INBOX_RANGE.get_or_default(ext, channel);
        while first < next && budget > 0 {
            budget = budget.saturating_sub(1);
            if let Some(parked) = INBOX.get(ext, channel, &first) {
                let expired = now >= parked.at.saturating_add(PARK_EXPIRY);
                if try_item(ext, *channel, &parked.item) == Err(Error::Busy) {
                    if !expired {
                        break;
                    }
                    expire(ext, *channel, &parked.item);
                }
                INBOX.remove(ext, channel, &first);
            }
            first = first.saturating_add(1);
        }
        if first < next {
            INBOX_RANGE.insert(ext, channel, &(first, next));
            left.push(*channel);
        } else {
            INBOX_RANGE.remove(ext, channel);
        }
    }
    PARKED_CHANNELS.put(ext, &left);
    let taken = u64::from(MAX_INBOX_PER_BLOCK.saturating_sub(budget));
    let channels = u64::try_from(channels.len()).unwrap_or(u64::MAX);
    // Per channel its range; per item the entry and, queued, a command (contract, cluster,
    // account, pending command, queue, deadline, outbound message).
    weights::add(
        weights::reads_writes(channels.saturating_add(1), channels.saturating_add(1)),
        weights::reads_writes(taken.saturating_mul(14), taken.saturating_mul(12)),
    )
}
