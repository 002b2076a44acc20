//! Ordered channels and the packet lifecycle: send, receive (with its acknowledgement),
//! acknowledge.

use parity_scale_codec::{DecodeAll, Encode};
use phala_primitives::BlockNumber;

use super::client::{self, active_client};
use super::{
    ACKS, Ack, AckRecord, CHANNELS, ChannelEnd, ChannelId, ChannelState, ClientState, Error, Event,
    NEXT_CHANNEL_ID, PACKETS, Packet, PacketData, Proof, Sequence, Timeout, message, packet_hash,
    transfer,
};
use crate::Ext;
use crate::bounded::BoundedBytes;
use crate::modules::{TREASURY_ACCOUNT, balances, system, timestamp};

/// The storage key of this chain's channel end `id` (what the counterparty proves).
pub fn channel_key(id: ChannelId) -> Vec<u8> {
    CHANNELS.key(&id)
}

/// The storage key of a packet sent on `channel` (what the receiver proves).
pub fn packet_key(channel: ChannelId, sequence: Sequence) -> Vec<u8> {
    PACKETS.key(&channel, &sequence)
}

/// The storage key of the acknowledgement of a packet received on `channel` (what the
/// sender proves).
pub fn ack_key(channel: ChannelId, sequence: Sequence) -> Vec<u8> {
    ACKS.key(&channel, &sequence)
}

/// Opens this chain's end, waiting for proof of the other.
pub(super) fn open(
    ext: &mut Ext,
    client: u32,
    counterparty_channel: ChannelId,
) -> Result<ChannelId, Error> {
    active_client(ext, client)?;
    let id = NEXT_CHANNEL_ID.get_or_default(ext);
    let next = id.checked_add(1).ok_or(Error::Overflow)?;
    // The escrow account is kept alive by one existential deposit from the treasury, so
    // unlocking never reaps it (which would burn its dust and break escrow = vouchers).
    balances::transfer(
        ext,
        &TREASURY_ACCOUNT,
        &transfer::escrow_account(id),
        balances::EXISTENTIAL_DEPOSIT,
        true,
    )
    .map_err(|_| Error::CannotSeedEscrow)?;
    NEXT_CHANNEL_ID.put(ext, &next);
    CHANNELS.insert(
        ext,
        &id,
        &ChannelEnd {
            client,
            counterparty_channel,
            state: ChannelState::Init,
            next_send: 1,
            next_recv: 1,
            next_ack: 1,
        },
    );
    ext.deposit_event(Event::ChannelOpenInit {
        channel: id,
        client,
        counterparty_channel,
    });
    Ok(id)
}

/// Opens an end in `Init` once the counterparty's state at `height` shows the other end,
/// naming this one, on a client that follows this chain.
pub(super) fn confirm(
    ext: &mut Ext,
    id: ChannelId,
    height: BlockNumber,
    proof: &Proof,
) -> Result<(), Error> {
    let mut end = CHANNELS.get(ext, &id).ok_or(Error::UnknownChannel)?;
    if end.state != ChannelState::Init {
        return Err(Error::ChannelNotInit);
    }
    let their_key = channel_key(end.counterparty_channel);
    let theirs = client::proven(ext, end.client, height, proof, &[&their_key])?
        .into_iter()
        .next()
        .flatten()
        .ok_or(Error::ProofMismatch)?;
    let theirs =
        ChannelEnd::decode_all(&mut theirs.as_slice()).map_err(|_| Error::ProofMismatch)?;
    if theirs.counterparty_channel != id || theirs.state == ChannelState::Closed {
        return Err(Error::CounterpartyMismatch);
    }
    let their_client_key = client::client_key(theirs.client);
    let their_client = client::proven(ext, end.client, height, proof, &[&their_client_key])?
        .into_iter()
        .next()
        .flatten()
        .ok_or(Error::ProofMismatch)?;
    let their_client =
        ClientState::decode_all(&mut their_client.as_slice()).map_err(|_| Error::ProofMismatch)?;
    if system::block_hash(ext, 0) != Some(their_client.genesis_hash) {
        return Err(Error::CounterpartyMismatch);
    }
    end.state = ChannelState::Open;
    CHANNELS.insert(ext, &id, &end);
    ext.deposit_event(Event::ChannelOpened { channel: id });
    Ok(())
}

pub(super) fn close(ext: &mut Ext, id: ChannelId) -> Result<(), Error> {
    let mut end = CHANNELS.get(ext, &id).ok_or(Error::UnknownChannel)?;
    if end.state == ChannelState::Closed {
        return Err(Error::ChannelNotOpen);
    }
    end.state = ChannelState::Closed;
    CHANNELS.insert(ext, &id, &end);
    ext.deposit_event(Event::ChannelClosed { channel: id });
    Ok(())
}

/// Commits a packet on an open channel. The timeout must be set and not already passed by
/// what the client knows of the counterparty, so no packet is born dead.
pub(super) fn send(
    ext: &mut Ext,
    channel: ChannelId,
    timeout: Timeout,
    data: PacketData,
) -> Result<Sequence, Error> {
    let mut end = CHANNELS.get(ext, &channel).ok_or(Error::UnknownChannel)?;
    if end.state != ChannelState::Open {
        return Err(Error::ChannelNotOpen);
    }
    let client = active_client(ext, end.client)?;
    let unset = timeout.height == 0 && timeout.timestamp == 0;
    if unset || timeout.passed(client.latest_height, client.latest_timestamp) {
        return Err(Error::BadTimeout);
    }
    let sequence = end.next_send;
    end.next_send = sequence.checked_add(1).ok_or(Error::Overflow)?;
    let packet = Packet {
        source_channel: channel,
        dest_channel: end.counterparty_channel,
        sequence,
        timeout,
        data,
    };
    CHANNELS.insert(ext, &channel, &end);
    PACKETS.insert(ext, &channel, &sequence, &packet);
    ext.deposit_event(Event::PacketSent {
        channel,
        sequence,
        timeout,
    });
    Ok(sequence)
}

/// Takes the counterparty's next packet on this channel, proven stored there at `height`,
/// and writes its acknowledgement: the application's result, its error (its changes and
/// events discarded), or `TimedOut` when this block is past the packet's timeout. A
/// contract message queued for its contract is answered later, when its cluster reports
/// (`None`).
pub(super) fn recv(
    ext: &mut Ext,
    packet: &Packet,
    height: BlockNumber,
    proof: &Proof,
) -> Result<Option<Ack>, Error> {
    let mut end = CHANNELS
        .get(ext, &packet.dest_channel)
        .ok_or(Error::UnknownChannel)?;
    // A closed end still takes packets, to answer them with an error: the sender's end may
    // not know it is closed, and only an acknowledgement refunds what it sent.
    if end.state == ChannelState::Init {
        return Err(Error::ChannelNotOpen);
    }
    if packet.source_channel != end.counterparty_channel {
        return Err(Error::WrongChannel);
    }
    if packet.sequence < end.next_recv {
        return Err(Error::AlreadyReceived);
    }
    if packet.sequence > end.next_recv {
        return Err(Error::OutOfOrder);
    }
    client::prove_value(
        ext,
        end.client,
        height,
        proof,
        &packet_key(packet.source_channel, packet.sequence),
        &packet.encode(),
    )?;
    end.next_recv = end.next_recv.checked_add(1).ok_or(Error::Overflow)?;
    CHANNELS.insert(ext, &packet.dest_channel, &end);
    let error =
        |e: Error| Ack::Error(BoundedBytes::new(e.name().as_bytes().to_vec()).unwrap_or_default());
    let ack = if packet
        .timeout
        .passed(system::block_number(ext), timestamp::now(ext))
    {
        Ack::TimedOut
    } else if end.state == ChannelState::Closed {
        error(Error::ChannelClosed)
    } else {
        match &packet.data {
            PacketData::Transfer(data) => {
                match ext.transactional(|ext| transfer::on_recv(ext, packet, data)) {
                    Ok(result) => Ack::Success(result),
                    Err(e) => error(e),
                }
            }
            PacketData::Contract(message) => match message::on_recv(ext, packet, message) {
                Ok(()) => return Ok(None),
                // The channel's inbox is full: the packet stays unreceived (the transaction
                // fails whole) and a relayer brings it again.
                Err(Error::Busy) => return Err(Error::Busy),
                Err(e) => error(e),
            },
        }
    };
    ACKS.insert(
        ext,
        &packet.dest_channel,
        &packet.sequence,
        &AckRecord {
            packet: packet_hash(packet),
            ack: ack.clone(),
        },
    );
    ext.deposit_event(Event::PacketReceived {
        channel: packet.dest_channel,
        sequence: packet.sequence,
        ack: ack.clone(),
    });
    Ok(Some(ack))
}

/// Takes back the acknowledgement of a packet sent from here, proven stored by the
/// counterparty at `height`, in order. The packet is deleted before the application runs,
/// so nothing the application does can take the same acknowledgement twice.
pub(super) fn acknowledge(
    ext: &mut Ext,
    packet: &Packet,
    ack: &Ack,
    height: BlockNumber,
    proof: &Proof,
) -> Result<(), Error> {
    let mut end = CHANNELS
        .get(ext, &packet.source_channel)
        .ok_or(Error::UnknownChannel)?;
    if end.state == ChannelState::Init {
        return Err(Error::ChannelNotOpen);
    }
    if packet.dest_channel != end.counterparty_channel {
        return Err(Error::WrongChannel);
    }
    let Some(stored) = PACKETS.get(ext, &packet.source_channel, &packet.sequence) else {
        return Err(if packet.sequence < end.next_ack {
            Error::AlreadyAcknowledged
        } else {
            Error::UnknownPacket
        });
    };
    if stored != *packet {
        return Err(Error::PacketMismatch);
    }
    if packet.sequence != end.next_ack {
        return Err(Error::OutOfOrder);
    }
    client::prove_value(
        ext,
        end.client,
        height,
        proof,
        &ack_key(packet.dest_channel, packet.sequence),
        &AckRecord {
            packet: packet_hash(packet),
            ack: ack.clone(),
        }
        .encode(),
    )?;
    PACKETS.remove(ext, &packet.source_channel, &packet.sequence);
    end.next_ack = end.next_ack.checked_add(1).ok_or(Error::Overflow)?;
    CHANNELS.insert(ext, &packet.source_channel, &end);
    match &packet.data {
        PacketData::Transfer(data) => transfer::on_ack(ext, packet, data, ack)?,
        PacketData::Contract(message) => message::on_ack(ext, packet, message, ack),
    }
    ext.deposit_event(Event::PacketAcknowledged {
        channel: packet.source_channel,
        sequence: packet.sequence,
        ack: ack.clone(),
    });
    Ok(())
}
