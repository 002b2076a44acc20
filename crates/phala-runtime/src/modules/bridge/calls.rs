use parity_scale_codec::{Decode, Encode};
use phala_primitives::{AccountId32, BlockNumber, H256, MultiAddress};
use scale_info::TypeInfo;

use super::{
    Ack, ChannelId, ClientId, MAX_CERTIFICATE_BYTES, MAX_COMMITTEE, MAX_HEADER_BYTES, Packet,
    Proof, Timeout, TrustedState, channel, client, ensure_enabled, transfer,
};
use crate::Ext;
use crate::bounded::BoundedBytes;
use crate::dispatch::{DispatchError, DispatchInfo, DispatchResult, Origin};
use crate::modules::weights;

/// Checking one committee signature (batched), in weight: measured near 40 µs on a 2-core
/// Xeon VM, doubled.
const SIGNATURE_WEIGHT: u64 = 80_000_000;
/// Hashing and walking a proof of the largest size.
const PROOF_WEIGHT: u64 = 200_000_000;

/// Calls of the `Bridge` module.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Create a light client of another phala chain from what governance trusts about it:
    /// its genesis hash and the committee of one epoch, with a header of that epoch that the
    /// committee's certificate and a proof of its time must confirm (root).
    #[codec(index = 0)]
    create_client {
        trusted: TrustedState,
        trusting_period_ms: u64,
    },
    /// Move a client to a newer finalized header of its chain: the SCALE header, its
    /// finality certificate and a proof of its `Timestamp.Now` (anyone). Within the client's
    /// epoch any later header will do; to cross into the next epoch submit that epoch's last
    /// block first. A certified header that conflicts with an accepted one freezes the client.
    #[codec(index = 1)]
    update_client {
        client: ClientId,
        header: BoundedBytes<MAX_HEADER_BYTES>,
        certificate: BoundedBytes<MAX_CERTIFICATE_BYTES>,
        timestamp_proof: Proof,
    },
    /// Freeze a client with two certified headers at one height (anyone).
    #[codec(index = 2)]
    submit_misbehaviour {
        client: ClientId,
        header_a: BoundedBytes<MAX_HEADER_BYTES>,
        certificate_a: BoundedBytes<MAX_CERTIFICATE_BYTES>,
        header_b: BoundedBytes<MAX_HEADER_BYTES>,
        certificate_b: BoundedBytes<MAX_CERTIFICATE_BYTES>,
    },
    /// Open this chain's end of a channel to `counterparty_channel` over `client` (root).
    /// The treasury seeds the channel's escrow account with the existential deposit.
    #[codec(index = 3)]
    open_channel {
        client: ClientId,
        counterparty_channel: ChannelId,
    },
    /// Open an end once the counterparty's state at `proof_height` shows its end naming
    /// this one on a client of this chain (anyone).
    #[codec(index = 4)]
    confirm_channel {
        channel: ChannelId,
        proof_height: BlockNumber,
        proof: Proof,
    },
    /// Close a channel: no new packets either way (root).
    #[codec(index = 5)]
    close_channel { channel: ChannelId },
    /// Send `amount` of PHA (`asset` none) or of a bridged asset to `receiver` on the other
    /// side of `channel`, refunded if it fails there or arrives after `timeout` (its
    /// height and time, on the receiving chain; zero leaves one unset).
    #[codec(index = 6)]
    transfer {
        channel: ChannelId,
        asset: Option<H256>,
        receiver: AccountId32,
        #[codec(compact)]
        amount: u128,
        timeout: Timeout,
    },
    /// Deliver the counterparty's next packet on a channel, proven stored there (anyone).
    #[codec(index = 7)]
    recv_packet {
        packet: Packet,
        proof_height: BlockNumber,
        proof: Proof,
    },
    /// Deliver the acknowledgement of a packet sent from here, proven stored by the
    /// counterparty (anyone).
    #[codec(index = 8)]
    acknowledge_packet {
        packet: Packet,
        ack: Ack,
        proof_height: BlockNumber,
        proof: Proof,
    },
    /// Move a bridged asset to another account here.
    #[codec(index = 9)]
    transfer_asset {
        asset: H256,
        dest: MultiAddress,
        #[codec(compact)]
        amount: u128,
    },
    /// Give a frozen or expired client the state of `substitute`, a newer active client of
    /// the same chain, so its channels and what they hold go on (root).
    #[codec(index = 10)]
    recover_client {
        client: ClientId,
        substitute: ClientId,
    },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        let certificate =
            weights::compute(SIGNATURE_WEIGHT.saturating_mul(u64::from(MAX_COMMITTEE)));
        let proof = weights::compute(PROOF_WEIGHT);
        let weight = match self {
            Call::create_client { .. } => weights::add(
                weights::add(certificate, proof),
                weights::reads_writes(3, 5),
            ),
            Call::update_client { .. } => weights::add(
                weights::add(certificate, proof),
                weights::reads_writes(4, 5),
            ),
            Call::submit_misbehaviour { .. } => weights::add(
                weights::add(certificate, certificate),
                weights::reads_writes(2, 1),
            ),
            Call::open_channel { .. } => weights::reads_writes(6, 5),
            Call::confirm_channel { .. } => {
                weights::add(weights::add(proof, proof), weights::reads_writes(5, 1))
            }
            Call::close_channel { .. } => weights::reads_writes(1, 1),
            Call::transfer { .. } => weights::reads_writes(8, 7),
            Call::recv_packet { .. } | Call::acknowledge_packet { .. } => {
                weights::add(proof, weights::reads_writes(20, 16))
            }
            Call::transfer_asset { .. } => weights::reads_writes(3, 2),
            Call::recover_client { .. } => {
                let states = 2u64.saturating_mul(u64::from(super::MAX_CONSENSUS_STATES));
                weights::reads_writes(states.saturating_add(4), states.saturating_add(3))
            }
        };
        DispatchInfo {
            weight,
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        ensure_enabled(ext)?;
        match self {
            Call::create_client {
                trusted,
                trusting_period_ms,
            } => {
                origin.ensure_root()?;
                client::create(ext, trusted, trusting_period_ms)?;
            }
            Call::update_client {
                client: id,
                header,
                certificate,
                timestamp_proof,
            } => {
                origin.ensure_signed()?;
                let header = client::decode_header(&header)?;
                client::update(ext, id, &header, &certificate, &timestamp_proof)?;
            }
            Call::submit_misbehaviour {
                client: id,
                header_a,
                certificate_a,
                header_b,
                certificate_b,
            } => {
                origin.ensure_signed()?;
                let a = client::decode_header(&header_a)?;
                let b = client::decode_header(&header_b)?;
                client::misbehaviour(ext, id, (&a, &certificate_a), (&b, &certificate_b))?;
            }
            Call::open_channel {
                client,
                counterparty_channel,
            } => {
                origin.ensure_root()?;
                channel::open(ext, client, counterparty_channel)?;
            }
            Call::confirm_channel {
                channel: id,
                proof_height,
                proof,
            } => {
                origin.ensure_signed()?;
                channel::confirm(ext, id, proof_height, &proof)?;
            }
            Call::close_channel { channel: id } => {
                origin.ensure_root()?;
                channel::close(ext, id)?;
            }
            Call::transfer {
                channel: id,
                asset,
                receiver,
                amount,
                timeout,
            } => {
                let sender = origin.ensure_signed()?;
                transfer::send(ext, sender, id, asset, receiver, amount, timeout)?;
            }
            Call::recv_packet {
                packet,
                proof_height,
                proof,
            } => {
                origin.ensure_signed()?;
                channel::recv(ext, &packet, proof_height, &proof)?;
            }
            Call::acknowledge_packet {
                packet,
                ack,
                proof_height,
                proof,
            } => {
                origin.ensure_signed()?;
                channel::acknowledge(ext, &packet, &ack, proof_height, &proof)?;
            }
            Call::transfer_asset {
                asset,
                dest,
                amount,
            } => {
                let from = origin.ensure_signed()?;
                let to = dest.account().ok_or(DispatchError::CannotLookup)?;
                transfer::transfer_asset(ext, from, asset, to, amount)?;
            }
            Call::recover_client {
                client: id,
                substitute,
            } => {
                origin.ensure_root()?;
                client::recover(ext, id, substitute)?;
            }
        }
        Ok(())
    }
}
