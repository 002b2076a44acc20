//! Contract messages across a channel (docs/bridge.md, *Contracts across chains*).
//!
//! Sending: a contract's `xcm_send` is recorded in its command's effects; when the command
//! settles, each message becomes a packet here. A message that cannot leave (the channel is
//! not open) is answered at once, if its sender asked for a reply.
//!
//! Receiving: the packet is queued as a command of the destination contract, paid by that
//! contract's own account, with the sender's account here ([`remote_origin`]) as its caller.
//! Its acknowledgement waits in [`DELIVERIES`] until the cluster reports: the call's return
//! data, its revert, or why it did not run. A command never reported is given up after
//! the contracts module's timeout (by anyone) and answered `NotExecuted`, so the ordered
//! channel's acknowledgements always go on.
//!
//! Back home: the acknowledgement is delivered to the sender as a call of
//! `on_bridge_reply(query_id: u64, outcome: Ack)`, if it asked for one.

use parity_scale_codec::Encode;
use phala_mq::contracts::{CommandStatus, OutgoingMessage, ReplyRequest, remote_origin};
use phala_primitives::{H256, hashing::blake2_256};

use super::{
    ACKS, Ack, AckRecord, ChannelId, ContractMessage, DELIVERIES, Delivery, Error, Event,
    MAX_ACK_BYTES, Packet, PacketData, Timeout, channel, packet_hash,
};
use crate::Ext;
use crate::bounded::BoundedBytes;
use crate::modules::contracts::{self, DeliverRefused};
use crate::modules::timestamp;

/// How long a contract message may take to reach the other chain: after that it is
/// answered `TimedOut` there.
pub const MESSAGE_TIMEOUT_MS: u64 = 60 * 60 * 1000;

/// The selector replies are delivered with: ink!'s selector of a message named
/// `on_bridge_reply` (the first four bytes of its name's BLAKE2b-256).
pub fn reply_selector() -> [u8; 4] {
    let hash = blake2_256(b"on_bridge_reply");
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Whether `command` is a contract message received over the bridge.
pub fn is_delivery(ext: &Ext, command: u64) -> bool {
    DELIVERIES.contains(ext, &command)
}

/// Whether the chain runs the version that brought contract messages.
fn enabled(ext: &Ext) -> bool {
    crate::modules::system::active_spec_version(ext) >= super::CONTRACT_MESSAGES_SINCE_SPEC_VERSION
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
            if let Some(request) = data.reply {
                // Refused, it is reported as an event: a settlement cannot fail.
                let _ = reply(
                    ext,
                    channel,
                    &data,
                    request,
                    &Ack::Error(name(error.name())),
                );
            }
        }
    }
}

/// The receiving side: queues the call. `Ok` leaves the acknowledgement pending; an error is
/// the acknowledgement.
pub(super) fn on_recv(
    ext: &mut Ext,
    packet: &Packet,
    message: &ContractMessage,
) -> Result<(), Error> {
    if !enabled(ext) {
        return Err(Error::NeedsUpgrade);
    }
    let origin = remote_origin(packet.dest_channel, &message.sender);
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
            channel: packet.dest_channel,
            sequence: packet.sequence,
            packet: packet_hash(packet),
        },
    );
    ext.deposit_event(Event::MessageDelivered {
        channel: packet.dest_channel,
        sequence: packet.sequence,
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
    answer(ext, command, delivery, ack);
}

/// A delivered message's command was given up unreported: it is answered as not run.
pub fn on_command_dropped(ext: &mut Ext, command: u64) {
    if let Some(delivery) = DELIVERIES.get(ext, &command) {
        answer(
            ext,
            command,
            delivery,
            Ack::Error(name(Error::NotExecuted.name())),
        );
    }
}

fn answer(ext: &mut Ext, command: u64, delivery: Delivery, ack: Ack) {
    DELIVERIES.remove(ext, &command);
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
/// asked for it. A sender that cannot take it (gone, or unable to pay) does not stop the
/// channel: that is an event. Only a block with no room refuses (`Busy`), so the
/// acknowledgement is taken again in a later block.
pub(super) fn on_ack(
    ext: &mut Ext,
    packet: &Packet,
    message: &ContractMessage,
    ack: &Ack,
) -> Result<(), Error> {
    match message.reply {
        Some(request) => match reply(ext, packet.source_channel, message, request, ack) {
            Err(Error::Busy) => Err(Error::Busy),
            _ => Ok(()),
        },
        None => Ok(()),
    }
}

/// Queues `on_bridge_reply(query_id, outcome)` for the sender, paid by it, called by the
/// remote contract's account here. A refusal is reported as an event and returned.
fn reply(
    ext: &mut Ext,
    channel: ChannelId,
    message: &ContractMessage,
    request: ReplyRequest,
    ack: &Ack,
) -> Result<(), Error> {
    let mut input = reply_selector().to_vec();
    request.query_id.encode_to(&mut input);
    ack.encode_to(&mut input);
    let origin = remote_origin(channel, &message.contract);
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
        Err(e) => {
            let error = refused(e);
            ext.deposit_event(Event::ReplyNotDelivered {
                channel,
                sender,
                query_id: request.query_id,
                error,
            });
            Err(error)
        }
    }
}
