//! `Bridge`: trust-minimized links to other phala chains, in IBC's shape.
//!
//! The module keeps an on-chain light client of each counterparty chain (`client.rs`):
//! governance creates it from a state it trusts (genesis hash, committee, a finalized head),
//! and anyone may move it forward with a header and its finality certificate, which the
//! light client's own verifier checks. Each accepted header leaves a consensus state (its
//! hash, state root and the block's time, proven from that root), and everything the other
//! chain claims is checked against one of those roots with a trie proof.
//!
//! Channels (`channel.rs`) are ordered. Governance opens each end, naming the client and the
//! counterparty's channel; anyone then confirms it with a proof that the other end exists,
//! names this end, and sits on a client of *this* chain. A packet is stored whole in the
//! sender's `Packets`; the receiver takes it with a proof of that entry, exactly at its next
//! sequence, and writes an acknowledgement in its own `Acks` (success, an error, or
//! "timed out" when its own height or clock had passed the packet's timeout); the sender
//! takes the acknowledgement back with a proof, in order, and deletes the packet before
//! anything else runs. A timeout is thus proven by the receiver's own record, a membership
//! proof: no proof of absence is ever trusted, which rules out the forged-absence class of
//! bridge failures by construction.
//!
//! Applications (`transfer.rs`): PHA and bridged assets in ICS-20's escrow/voucher model.
//! PHA sent away is locked in the channel's escrow account; the other side mints a voucher
//! named after its trace (a separate asset, never PHA issuance); a voucher sent home is
//! burned and unlocked on arrival; an error or a timeout refunds the sender.
//!
//! Contract messages (`message.rs`): a contract's `xcm_send` becomes a packet when its command
//! settles; the receiver queues it as a command of the destination contract, paid by that
//! contract, and writes the acknowledgement when its cluster reports (its return data, its
//! revert, or why it did not run). Back home, the acknowledgement is delivered to the sender
//! as a call of its `on_bridge_reply` if it asked for one.

mod calls;
mod channel;
mod client;
mod message;
mod transfer;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;

pub use calls::Call;
pub use channel::{ack_key, channel_key, packet_key};
pub use client::{client_key, client_status};
pub use message::{
    MESSAGE_TIMEOUT_MS, on_command_dropped, on_command_settled, on_initialize, reply_selector,
    send_message,
};
pub use transfer::{asset_balance, asset_id, escrow_account, native_denom};

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use phala_primitives::{AccountId32, BlockNumber, H256, storage::Hasher};
use scale_info::TypeInfo;

use crate::Ext;
use crate::bounded::{BoundedBytes, BoundedVec};
use crate::dispatch::{DispatchError, ModuleErrorEnum};
use crate::modules::{index, system};
use crate::storage::{Query, StorageDoubleMap, StorageMap, StorageValue};

const MODULE: &str = "Bridge";

/// The runtime version that brought the bridge: on a chain still running an older one,
/// some nodes could not execute its calls and would fork on them.
pub const BRIDGE_SINCE_SPEC_VERSION: u32 = 9;
/// The runtime version that brought contract messages (`PacketData::Contract`): before it,
/// a contract's message is not sent and a received one is answered `NeedsUpgrade`.
pub const CONTRACT_MESSAGES_SINCE_SPEC_VERSION: u32 = 10;

pub type ClientId = u32;
pub type ChannelId = u32;
pub type Sequence = u64;

/// Largest committee a client follows (consensus committees are far smaller).
pub const MAX_COMMITTEE: u32 = 128;
/// Consensus states kept per client; older heights can no longer be proven against.
pub const MAX_CONSENSUS_STATES: u32 = 64;
/// Most nodes in one state proof, and most bytes in all of them.
pub const MAX_PROOF_NODES: u32 = 64;
pub const MAX_PROOF_BYTES: usize = 64 * 1024;
/// Longest channel path an asset's trace may carry.
pub const MAX_HOPS: u32 = 4;
/// Longest base denomination.
pub const MAX_BASE_DENOM: u32 = 16;
/// Longest acknowledgement result or error text.
pub const MAX_ACK_BYTES: u32 = 4 * 1024;

/// Largest trie node a proof may carry: a leaf holds its value, and the largest value
/// proven (a client with the largest committee) is a little over 4 KiB.
pub const MAX_PROOF_NODE: u32 = 8 * 1024;
/// A trie proof as submitted: the nodes on the paths from a root to the keys proven.
pub type Proof = BoundedVec<BoundedBytes<MAX_PROOF_NODE>, MAX_PROOF_NODES>;
/// Largest encoded header a relayer may submit.
pub const MAX_HEADER_BYTES: u32 = 16 * 1024;
/// Largest encoded certificate: a signature per member of the largest committee and more.
pub const MAX_CERTIFICATE_BYTES: u32 = 16 * 1024;
/// How far ahead of this chain's clock a counterparty header's time may be: a committee
/// that dated its blocks in the future would keep its client from ever expiring.
pub const MAX_CLOCK_DRIFT_MS: u64 = 10 * 60 * 1000;
/// Past epochs whose committees a client keeps, to check a conflicting header at a height
/// it already passed (an equivocation at an epoch boundary in particular).
pub const MAX_PAST_EPOCHS: u32 = 4;

/// What governance trusts about a counterparty chain when it creates a client of it: the
/// chain (its genesis hash) and the committee of one of its epochs. The rest is checked:
/// `header` (a block of that epoch, before its last) must carry that committee's finality
/// certificate, and its time is proven from its state root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct TrustedState {
    pub genesis_hash: H256,
    pub epoch: u64,
    pub epoch_first: BlockNumber,
    pub epoch_last: BlockNumber,
    pub committee: BoundedVec<[u8; 32], MAX_COMMITTEE>,
    /// The SCALE-encoded header the client starts from.
    pub header: BoundedBytes<MAX_HEADER_BYTES>,
    pub certificate: BoundedBytes<MAX_CERTIFICATE_BYTES>,
    /// A proof of the header's `Timestamp.Now` against its state root.
    pub timestamp_proof: Proof,
}

/// The committee that signed one of a client's past epochs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct EpochCommittee {
    pub epoch: u64,
    pub first: BlockNumber,
    pub last: BlockNumber,
    pub committee: BoundedVec<[u8; 32], MAX_COMMITTEE>,
}

/// Whether a client may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum ClientStatus {
    #[codec(index = 0)]
    Active,
    /// Its committee signed two different blocks at `height`: nothing the counterparty
    /// says can be believed any more, and every channel on it stops.
    #[codec(index = 1)]
    Frozen { height: BlockNumber },
    /// Not updated within its trusting period: the committee it knows may have unbonded
    /// and could sign anything unpunished. Stops like a frozen client.
    #[codec(index = 2)]
    Expired,
}

/// An on-chain light client of a counterparty chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ClientState {
    pub genesis_hash: H256,
    pub epoch: u64,
    pub epoch_first: BlockNumber,
    pub epoch_last: BlockNumber,
    pub committee: BoundedVec<[u8; 32], MAX_COMMITTEE>,
    pub latest_height: BlockNumber,
    pub latest_hash: H256,
    pub latest_timestamp: u64,
    /// How long (ms of this chain's clock) the client stays usable without an update; must
    /// be shorter than the counterparty's unbonding period.
    pub trusting_period_ms: u64,
    /// Stored as `Active` or `Frozen`; `Expired` is computed from the clock.
    pub status: ClientStatus,
}

impl ClientState {
    /// Whether the client may be used at `now` (this chain's clock, ms): frozen, expired
    /// past its trusting period, or active. What the chain and everyone reading it judge by.
    pub fn status_at(&self, now: u64) -> ClientStatus {
        match self.status {
            ClientStatus::Active
                if now
                    > self
                        .latest_timestamp
                        .saturating_add(self.trusting_period_ms) =>
            {
                ClientStatus::Expired
            }
            status => status,
        }
    }
}

/// What a verified counterparty header leaves behind: what proofs are checked against.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ConsensusState {
    pub hash: H256,
    pub state_root: H256,
    pub timestamp: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum ChannelState {
    /// Opened here by governance; waiting for proof of the other end.
    #[codec(index = 0)]
    Init,
    #[codec(index = 1)]
    Open,
    /// Closed by governance: no new packets either way; acknowledgements of packets in
    /// flight still land, so their refunds happen.
    #[codec(index = 2)]
    Closed,
}

/// One end of an ordered channel.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ChannelEnd {
    pub client: ClientId,
    pub counterparty_channel: ChannelId,
    pub state: ChannelState,
    /// Sequence the next packet sent gets (from 1).
    pub next_send: Sequence,
    /// Sequence of the next packet this end must receive.
    pub next_recv: Sequence,
    /// Sequence of the next acknowledgement this end must take back.
    pub next_ack: Sequence,
}

/// When a packet expires, on the receiver's clock and height; zero means "no limit" for
/// that field, and at least one is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Timeout {
    /// The first receiver block at which the packet is no longer executed.
    pub height: BlockNumber,
    /// The first receiver time (ms) at which it is no longer executed.
    pub timestamp: u64,
}

impl Timeout {
    /// Whether a packet with this timeout is too late for a block at `height`, `now`.
    pub fn passed(&self, height: BlockNumber, now: u64) -> bool {
        (self.height != 0 && height >= self.height)
            || (self.timestamp != 0 && now >= self.timestamp)
    }
}

/// An asset's name as a structured trace: the channels it crossed (each the receiving end's
/// channel, nearest first) and its base denomination on its home chain. Never a parsed
/// string, so a `/` in a base cannot shift hops.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Denom {
    pub path: BoundedVec<ChannelId, MAX_HOPS>,
    pub base: BoundedBytes<MAX_BASE_DENOM>,
}

impl Denom {
    /// The trace as people read it: `channel-0/PHA`. Characters a base may not have on
    /// this chain (a counterparty's, not yet checked) are escaped, so no name can pass for
    /// another trace when shown.
    pub fn trace(&self) -> String {
        let mut parts: Vec<String> = self.path.iter().map(|c| format!("channel-{c}")).collect();
        parts.push(
            String::from_utf8_lossy(&self.base)
                .chars()
                .flat_map(|c| {
                    let plain = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
                    let shown: Vec<char> = if plain {
                        vec![c]
                    } else {
                        c.escape_default().collect()
                    };
                    shown
                })
                .collect(),
        );
        parts.join("/")
    }
}

/// ICS-20's packet data, with accounts in this chain family's own form.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct TransferData {
    pub denom: Denom,
    pub amount: u128,
    /// The sender on the source chain: shown, refunded to there, never trusted here.
    pub sender: AccountId32,
    pub receiver: AccountId32,
}

/// What a packet carries.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum PacketData {
    #[codec(index = 0)]
    Transfer(TransferData),
    #[codec(index = 1)]
    Contract(ContractMessage),
}

/// A contract's message to a contract on the other chain (`xcm_send`). Its input travels
/// in the clear, as it sits in the sender's state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ContractMessage {
    /// The sending contract, here.
    pub sender: H256,
    /// The contract it is for, there.
    pub contract: H256,
    /// Selector and SCALE arguments.
    pub input: BoundedBytes<MAX_MESSAGE_INPUT>,
    pub gas_limit: u64,
    /// Most storage bytes the call may pay a deposit for (paid by the receiving contract).
    pub storage_bytes: u64,
    /// Whether the acknowledgement is delivered back to the sender, and how.
    pub reply: Option<phala_mq::contracts::ReplyRequest>,
}

/// Longest input of a contract message.
pub const MAX_MESSAGE_INPUT: u32 = 4 * 1024;

/// A contract message received here whose command its cluster has not reported yet: the
/// packet's acknowledgement is written when it does.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Delivery {
    pub channel: ChannelId,
    pub sequence: Sequence,
    /// `packet_hash` of the packet, which the acknowledgement is bound to.
    pub packet: H256,
}

/// A packet, stored whole in the sender's `Packets` until its acknowledgement lands: the
/// receiver proves that entry, so the bytes it executes are the bytes the sender committed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Packet {
    pub source_channel: ChannelId,
    pub dest_channel: ChannelId,
    pub sequence: Sequence,
    pub timeout: Timeout,
    pub data: PacketData,
}

/// The receiver's answer to a packet, written once in its `Acks`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Ack {
    /// Executed; the application's result.
    #[codec(index = 0)]
    Success(BoundedBytes<MAX_ACK_BYTES>),
    /// Refused by the application: its changes and events were discarded. The text is
    /// the error's name, the same on every node.
    #[codec(index = 1)]
    Error(BoundedBytes<MAX_ACK_BYTES>),
    /// Arrived at or after its timeout: not executed.
    #[codec(index = 2)]
    TimedOut,
    /// A contract message's call returned with REVERT: its changes were discarded. The
    /// bytes are what it returned (an ink! message's `Err`).
    #[codec(index = 3)]
    Reverted(BoundedBytes<MAX_ACK_BYTES>),
}

impl Ack {
    pub fn is_success(&self) -> bool {
        matches!(self, Ack::Success(_))
    }

    /// `ok`, `error: <name>` or `timed out`, as the CLI and the explorer show it.
    pub fn describe(&self) -> String {
        match self {
            Ack::Success(_) => "ok".into(),
            Ack::Error(e) => format!("error: {}", String::from_utf8_lossy(e)),
            Ack::TimedOut => "timed out".into(),
            Ack::Reverted(_) => "reverted".into(),
        }
    }
}

/// An acknowledgement as the receiver stores it: bound to the packet it answers, so the
/// sender takes it only for that very packet (after a client recovery, the receiver may
/// have answered a forged packet at the same sequence).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AckRecord {
    /// `packet_hash` of the packet received.
    pub packet: H256,
    pub ack: Ack,
}

/// The hash an acknowledgement is bound to: `blake2_256(SCALE(packet))`.
pub fn packet_hash(packet: &Packet) -> H256 {
    H256(phala_primitives::hashing::blake2_256(&packet.encode()))
}

/// A bridged asset: what its trace is and how much of it exists here.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AssetInfo {
    pub denom: Denom,
    pub supply: u128,
}

pub const NEXT_CLIENT_ID: StorageValue<ClientId> = StorageValue::new(
    MODULE,
    "NextClientId",
    Query::Default,
    &[" Id of the next client; ids are never reused."],
);
pub const CLIENTS: StorageMap<ClientId, ClientState> = StorageMap::new(
    MODULE,
    "Clients",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Light clients of counterparty chains."],
);
pub const CONSENSUS_STATES: StorageDoubleMap<ClientId, BlockNumber, ConsensusState> =
    StorageDoubleMap::new(
        MODULE,
        "ConsensusStates",
        Hasher::Twox64Concat,
        Hasher::Twox64Concat,
        Query::Optional,
        &[" Verified counterparty headers: hash, state root and time, by height."],
    );
pub const CONSENSUS_HEIGHTS: StorageMap<ClientId, BoundedVec<BlockNumber, MAX_CONSENSUS_STATES>> =
    StorageMap::new(
        MODULE,
        "ConsensusHeights",
        Hasher::Twox64Concat,
        Query::Default,
        &[" Heights of a client's kept consensus states, oldest first."],
    );
pub const PAST_COMMITTEES: StorageMap<ClientId, BoundedVec<EpochCommittee, MAX_PAST_EPOCHS>> =
    StorageMap::new(
        MODULE,
        "PastCommittees",
        Hasher::Twox64Concat,
        Query::Default,
        &[" The committees of a client's last few epochs before its current one, oldest first."],
    );
pub const NEXT_CHANNEL_ID: StorageValue<ChannelId> = StorageValue::new(
    MODULE,
    "NextChannelId",
    Query::Default,
    &[" Id of the next channel; ids are never reused."],
);
pub const CHANNELS: StorageMap<ChannelId, ChannelEnd> = StorageMap::new(
    MODULE,
    "Channels",
    Hasher::Twox64Concat,
    Query::Optional,
    &[" This chain's ends of channels."],
);
pub const PACKETS: StorageDoubleMap<ChannelId, Sequence, Packet> = StorageDoubleMap::new(
    MODULE,
    "Packets",
    Hasher::Twox64Concat,
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Packets sent and not yet acknowledged: what the receiver proves."],
);
pub const ACKS: StorageDoubleMap<ChannelId, Sequence, AckRecord> = StorageDoubleMap::new(
    MODULE,
    "Acks",
    Hasher::Twox64Concat,
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Acknowledgements of packets received: what the sender proves."],
);
pub const ASSETS: StorageMap<H256, AssetInfo> = StorageMap::new(
    MODULE,
    "Assets",
    Hasher::Identity,
    Query::Optional,
    &[" Bridged assets by id (the hash of their trace) and their supply here."],
);
pub const ASSET_BALANCES: StorageDoubleMap<H256, AccountId32, u128> = StorageDoubleMap::new(
    MODULE,
    "AssetBalances",
    Hasher::Identity,
    Hasher::Blake2_128Concat,
    Query::Default,
    &[" Holdings of bridged assets."],
);
pub const ESCROWED: StorageDoubleMap<ChannelId, H256, u128> = StorageDoubleMap::new(
    MODULE,
    "Escrowed",
    Hasher::Twox64Concat,
    Hasher::Identity,
    Query::Default,
    &[" What each channel's escrow holds of each asset sent away over it."],
);

pub const DELIVERIES: StorageMap<u64, Delivery> = StorageMap::new(
    MODULE,
    "Deliveries",
    Hasher::Twox64Concat,
    Query::Optional,
    &[
        " Contract messages received and queued as commands, by command id, until their",
        " cluster reports: the packet's acknowledgement is written then.",
    ],
);

/// Work for a contract the bridge could not queue yet because the block had no room (its
/// contract gas or the cluster's queue was full): taken in arrival order per channel at the
/// start of the next blocks, so a busy block delays it and loses nothing. An item that finds
/// no room for [`PARK_EXPIRY`] blocks is answered `Busy`, so a stuck cluster holds a channel
/// up for that long at most.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum InboxItem {
    /// A contract message received here: its acknowledgement waits for it.
    #[codec(index = 0)]
    Message {
        sequence: Sequence,
        /// `packet_hash` of its packet.
        packet: H256,
        message: ContractMessage,
    },
    /// The outcome of a message sent from here, for its sender's `on_bridge_reply`.
    #[codec(index = 1)]
    Reply { message: ContractMessage, ack: Ack },
}

/// An inbox item and the block it was parked in.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Parked {
    pub at: BlockNumber,
    pub item: InboxItem,
}

/// Most inbox items taken at one block's start, all channels together.
pub const MAX_INBOX_PER_BLOCK: u32 = 16;
/// Most items a channel's inbox holds: past it, a contract packet's receipt is refused (the
/// relayer brings it again) and a reply is dropped with `ReplyNotDelivered`.
pub const MAX_PARKED_PER_CHANNEL: u64 = 256;
/// Blocks an item may wait for room before it is answered `Busy`.
pub const PARK_EXPIRY: BlockNumber = 100;

pub const INBOX: StorageDoubleMap<ChannelId, u64, Parked> = StorageDoubleMap::new(
    MODULE,
    "Inbox",
    Hasher::Twox64Concat,
    Hasher::Twox64Concat,
    Query::Optional,
    &[" Contract messages and replies waiting for a block with room, per channel, in order."],
);
pub const INBOX_RANGE: StorageMap<ChannelId, (u64, u64)> = StorageMap::new(
    MODULE,
    "InboxRange",
    Hasher::Twox64Concat,
    Query::Default,
    &[" Each channel's inbox: its first item and the index the next one gets."],
);
pub const PARKED_CHANNELS: StorageValue<Vec<ChannelId>> = StorageValue::new(
    MODULE,
    "ParkedChannels",
    Query::Default,
    &[" Channels with items in their inbox."],
);

pub fn storage_metadata() -> Vec<frame_metadata::v14::StorageEntryMetadata> {
    vec![
        NEXT_CLIENT_ID.metadata(),
        CLIENTS.metadata_optional(),
        CONSENSUS_STATES.metadata_optional(),
        CONSENSUS_HEIGHTS.metadata(),
        PAST_COMMITTEES.metadata(),
        NEXT_CHANNEL_ID.metadata(),
        CHANNELS.metadata_optional(),
        PACKETS.metadata_optional(),
        ACKS.metadata_optional(),
        ASSETS.metadata_optional(),
        ASSET_BALANCES.metadata(),
        ESCROWED.metadata(),
        DELIVERIES.metadata_optional(),
        INBOX.metadata_optional(),
        INBOX_RANGE.metadata(),
        PARKED_CHANNELS.metadata(),
    ]
}

/// Events of the `Bridge` module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Event {
    #[codec(index = 0)]
    ClientCreated {
        client: ClientId,
        genesis_hash: H256,
        height: BlockNumber,
    },
    #[codec(index = 1)]
    ClientUpdated {
        client: ClientId,
        height: BlockNumber,
        hash: H256,
        epoch: u64,
    },
    /// Two certified headers at one height: the client stops for good.
    #[codec(index = 2)]
    ClientFrozen {
        client: ClientId,
        height: BlockNumber,
    },
    #[codec(index = 3)]
    ChannelOpenInit {
        channel: ChannelId,
        client: ClientId,
        counterparty_channel: ChannelId,
    },
    #[codec(index = 4)]
    ChannelOpened { channel: ChannelId },
    #[codec(index = 5)]
    ChannelClosed { channel: ChannelId },
    /// A packet was committed here; relayers carry it from `Packets`.
    #[codec(index = 6)]
    PacketSent {
        channel: ChannelId,
        sequence: Sequence,
        timeout: Timeout,
    },
    /// A packet from the counterparty was taken and answered.
    #[codec(index = 7)]
    PacketReceived {
        channel: ChannelId,
        sequence: Sequence,
        ack: Ack,
    },
    /// The answer to a packet sent from here came back.
    #[codec(index = 8)]
    PacketAcknowledged {
        channel: ChannelId,
        sequence: Sequence,
        ack: Ack,
    },
    #[codec(index = 9)]
    TransferSent {
        channel: ChannelId,
        sequence: Sequence,
        asset: H256,
        amount: u128,
        sender: AccountId32,
        receiver: AccountId32,
    },
    /// Bridged in: minted (a voucher) or unlocked (an asset coming home).
    #[codec(index = 10)]
    TransferReceived {
        channel: ChannelId,
        sequence: Sequence,
        asset: H256,
        amount: u128,
        receiver: AccountId32,
    },
    /// A transfer that failed or timed out went back to its sender.
    #[codec(index = 11)]
    TransferRefunded {
        channel: ChannelId,
        sequence: Sequence,
        asset: H256,
        amount: u128,
        sender: AccountId32,
    },
    #[codec(index = 12)]
    AssetTransferred {
        asset: H256,
        from: AccountId32,
        to: AccountId32,
        amount: u128,
    },
    /// Governance replaced a frozen or expired client's state with a fresh client's: its
    /// channels go on.
    #[codec(index = 13)]
    ClientRecovered {
        client: ClientId,
        substitute: ClientId,
        height: BlockNumber,
    },
    /// A contract's message left over a channel.
    #[codec(index = 14)]
    MessageSent {
        channel: ChannelId,
        sequence: Sequence,
        sender: H256,
        contract: H256,
    },
    /// A contract's message could not leave (the channel is not open, or its client is
    /// not active); a reply was asked for, it says so.
    #[codec(index = 15)]
    MessageNotSent {
        channel: ChannelId,
        sender: H256,
        error: Error,
    },
    /// A contract message from the counterparty was queued as a command of its contract.
    #[codec(index = 16)]
    MessageDelivered {
        channel: ChannelId,
        sequence: Sequence,
        contract: H256,
        command: u64,
    },
    /// A received contract message's acknowledgement is written: its command was reported
    /// (or given up), or it could not be queued (`command` is `None`).
    #[codec(index = 17)]
    MessageAnswered {
        channel: ChannelId,
        sequence: Sequence,
        command: Option<u64>,
        ack: Ack,
    },
    /// A message's outcome was queued for its sender as a call of `on_bridge_reply`.
    #[codec(index = 18)]
    ReplyDelivered {
        channel: ChannelId,
        sender: H256,
        query_id: u64,
        command: u64,
    },
    /// A message's outcome could not be queued for its sender.
    #[codec(index = 19)]
    ReplyNotDelivered {
        channel: ChannelId,
        sender: H256,
        query_id: u64,
        error: Error,
    },
    /// A block had no room for a contract message or a reply: it waits in its channel's
    /// inbox.
    #[codec(index = 20)]
    Parked { channel: ChannelId, index: u64 },
}

impl From<Event> for crate::RuntimeEvent {
    fn from(e: Event) -> Self {
        crate::RuntimeEvent::Bridge(e)
    }
}

/// Errors of the `Bridge` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Error {
    /// The chain does not run the runtime version that brought the bridge yet.
    NeedsUpgrade,
    /// No client with that id.
    UnknownClient,
    /// The trusted state is malformed: empty or oversized committee, a bad key, or a head
    /// outside its epoch.
    BadTrustedState,
    /// The header's certificate or committee change does not verify.
    BadHeader,
    /// The header is not after the client's head in its current epoch.
    HeaderNotNext,
    /// A header already accepted at that height.
    HeaderKnown,
    /// The header's time is not proven from its state root, or goes backwards.
    BadTimestamp,
    /// The client is frozen: its counterparty's committee signed two blocks at a height.
    ClientFrozen,
    /// The client has not been updated within its trusting period.
    ClientExpired,
    /// The two headers do not prove misbehaviour.
    NotMisbehaviour,
    /// No consensus state at that height (never verified, or pruned).
    UnknownHeight,
    /// The proof does not decode, is too large, or does not reach the key.
    BadProof,
    /// The proof shows a different value (or none) under the key.
    ProofMismatch,
    /// No channel with that id.
    UnknownChannel,
    /// The channel is not open.
    ChannelNotOpen,
    /// The channel is already open (or closed).
    ChannelNotInit,
    /// The other end does not name this one, or is not on a client of this chain.
    CounterpartyMismatch,
    /// The packet names another channel than this end's counterparty.
    WrongChannel,
    /// That packet was already received here.
    AlreadyReceived,
    /// The packet is not the next one this end must take.
    OutOfOrder,
    /// No packet with that sequence waits for an acknowledgement here.
    UnknownPacket,
    /// That acknowledgement was already taken.
    AlreadyAcknowledged,
    /// The packet differs from the one this chain sent.
    PacketMismatch,
    /// The timeout is unset, or already passed by the counterparty's latest known state.
    BadTimeout,
    /// Zero amount.
    ZeroAmount,
    /// No bridged asset with that id.
    UnknownAsset,
    /// Not enough of the asset.
    InsufficientBalance,
    /// The escrow of this channel holds less than the packet asks to unlock.
    EscrowShort,
    /// The asset's trace is longer than this chain keeps.
    TraceTooLong,
    /// The receiver cannot take the amount (a new account below the existential deposit).
    CannotReceive,
    /// The treasury cannot seed the channel's escrow account.
    CannotSeedEscrow,
    /// An arithmetic overflow.
    Overflow,
    /// The channel is closed here: packets on it are answered with an error.
    ChannelClosed,
    /// The asset's base name is empty or has characters other than `A-Z a-z 0-9 . _ -`.
    BadDenom,
    /// The receiver cannot hold bridged value (a channel's escrow account).
    BadReceiver,
    /// The client is active: only a frozen or expired one is recovered.
    ClientActive,
    /// The substitute is not an active client of the same chain, ahead of the one it
    /// replaces.
    BadSubstitute,
    /// No active contract with that id here.
    UnknownContract,
    /// The contract's account cannot pay the message's gas limit and deposit: a contract
    /// pays for the messages it receives.
    CannotPay,
    /// This block's contract gas, or the cluster's queue, is full.
    Busy,
    /// A gas limit of zero or over the most a command may have.
    BadLimits,
    /// The contract's cluster did not report the message in time and it was given up: it
    /// may or may not have run there (a cluster applies a command when it runs it, before
    /// it reports), so the sender must not assume either.
    Unreported,
}

impl Error {
    /// The error's name: what an error acknowledgement carries.
    pub fn name(self) -> &'static str {
        match self {
            Error::NeedsUpgrade => "NeedsUpgrade",
            Error::UnknownClient => "UnknownClient",
            Error::BadTrustedState => "BadTrustedState",
            Error::BadHeader => "BadHeader",
            Error::HeaderNotNext => "HeaderNotNext",
            Error::HeaderKnown => "HeaderKnown",
            Error::BadTimestamp => "BadTimestamp",
            Error::ClientFrozen => "ClientFrozen",
            Error::ClientExpired => "ClientExpired",
            Error::NotMisbehaviour => "NotMisbehaviour",
            Error::UnknownHeight => "UnknownHeight",
            Error::BadProof => "BadProof",
            Error::ProofMismatch => "ProofMismatch",
            Error::UnknownChannel => "UnknownChannel",
            Error::ChannelNotOpen => "ChannelNotOpen",
            Error::ChannelNotInit => "ChannelNotInit",
            Error::CounterpartyMismatch => "CounterpartyMismatch",
            Error::WrongChannel => "WrongChannel",
            Error::AlreadyReceived => "AlreadyReceived",
            Error::OutOfOrder => "OutOfOrder",
            Error::UnknownPacket => "UnknownPacket",
            Error::AlreadyAcknowledged => "AlreadyAcknowledged",
            Error::PacketMismatch => "PacketMismatch",
            Error::BadTimeout => "BadTimeout",
            Error::ZeroAmount => "ZeroAmount",
            Error::UnknownAsset => "UnknownAsset",
            Error::InsufficientBalance => "InsufficientBalance",
            Error::EscrowShort => "EscrowShort",
            Error::TraceTooLong => "TraceTooLong",
            Error::CannotReceive => "CannotReceive",
            Error::CannotSeedEscrow => "CannotSeedEscrow",
            Error::Overflow => "Overflow",
            Error::ChannelClosed => "ChannelClosed",
            Error::BadDenom => "BadDenom",
            Error::BadReceiver => "BadReceiver",
            Error::ClientActive => "ClientActive",
            Error::BadSubstitute => "BadSubstitute",
            Error::UnknownContract => "UnknownContract",
            Error::CannotPay => "CannotPay",
            Error::Busy => "Busy",
            Error::BadLimits => "BadLimits",
            Error::Unreported => "Unreported",
        }
    }
}

impl ModuleErrorEnum for Error {
    const MODULE_INDEX: u8 = index::BRIDGE;
}

impl From<Error> for DispatchError {
    fn from(e: Error) -> Self {
        e.into_dispatch_error()
    }
}

/// Refuses every bridge call until the chain runs the version that brought it.
fn ensure_enabled(ext: &Ext) -> Result<(), Error> {
    if system::active_spec_version(ext) < BRIDGE_SINCE_SPEC_VERSION {
        return Err(Error::NeedsUpgrade);
    }
    Ok(())
}

/// This module's metadata: storage, calls, events, constants and errors.
pub fn metadata() -> crate::metadata::ModuleMetadata {
    crate::metadata::ModuleMetadata {
        name: "Bridge",
        index: index::BRIDGE,
        storage: storage_metadata(),
        calls: Some(scale_info::meta_type::<Call>()),
        event: Some(scale_info::meta_type::<Event>()),
        constants: vec![
            crate::metadata::constant(
                "MaxConsensusStates",
                &MAX_CONSENSUS_STATES,
                " Consensus states kept per client.",
            ),
            crate::metadata::constant(
                "MaxHops",
                &MAX_HOPS,
                " Longest channel path a bridged asset's trace may carry.",
            ),
        ],
        error: Some(scale_info::meta_type::<Error>()),
        docs: " Light clients of other phala chains, ordered channels, packets and bridged assets.",
    }
}
