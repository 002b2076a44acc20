//! The bridge from outside: a chain's light clients of other chains, its channel ends,
//! packets in flight, acknowledgements and bridged assets; the trusted state a client of a
//! chain is created from; and what a relayer submits (headers with certificates and state
//! proofs). The relayer itself is [`crate::bridge_relay`].

use phala_primitives::{AccountId32, BlockNumber, H256, Header};
use phala_runtime::bounded::{BoundedBytes, BoundedVec};
use phala_runtime::modules::bridge::{
    self, ASSET_BALANCES, ASSETS, Ack, AssetInfo, CHANNELS, CLIENTS, ChannelEnd, ChannelId,
    ClientId, ClientState, ESCROWED, PACKETS, Packet, Proof, Sequence, TrustedState,
};
use phala_runtime::modules::timestamp;

use crate::{Client, ClientError};

pub use phala_runtime::modules::bridge::{
    Denom, PacketData, Timeout, TransferData, asset_id, escrow_account, native_denom,
};

fn bad(what: &str, reason: impl Into<String>) -> ClientError {
    ClientError::Decode {
        what: what.into(),
        reason: reason.into(),
    }
}

/// A state proof as the bridge's calls take it.
pub fn proof_of(nodes: Vec<Vec<u8>>) -> Result<Proof, ClientError> {
    let nodes = nodes
        .into_iter()
        .map(|n| BoundedBytes::new(n).ok_or_else(|| bad("a proof node", "over 8 KiB")))
        .collect::<Result<Vec<_>, _>>()?;
    BoundedVec::new(nodes).ok_or_else(|| bad("a state proof", "more than 64 nodes"))
}

/// What a relayer submits to move a client of this chain to block `number`.
#[derive(Clone, Debug)]
pub struct HeaderUpdate {
    pub header: Header,
    pub certificate: Vec<u8>,
    pub timestamp_proof: Proof,
}

impl Client {
    /// This chain's light clients of other chains, by id, at block `at` (the finalized
    /// head if `None`).
    pub async fn bridge_clients(
        &self,
        at: Option<H256>,
    ) -> Result<Vec<(ClientId, ClientState)>, ClientError> {
        self.bridge_entries("a Bridge.Clients entry", &CLIENTS.prefix(), at)
            .await
    }

    /// Entries of a map keyed by `Twox64Concat(u32)`, listed by key (so a node cannot make
    /// this walk ids that do not exist), in id order.
    async fn bridge_entries<T: parity_scale_codec::Decode>(
        &self,
        what: &str,
        prefix: &[u8],
        at: Option<H256>,
    ) -> Result<Vec<(u32, T)>, ClientError> {
        let at = match at {
            Some(h) => h,
            None => self.finalized_head().await?.1,
        };
        let mut out = Vec::new();
        for key in self.keys_with_prefix(prefix, at).await? {
            let id = key
                .get(prefix.len().saturating_add(8)..)
                .and_then(|k| <[u8; 4]>::try_from(k).ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| bad(what, "a key that is not Twox64Concat(u32)"))?;
            if let Some(value) = self.storage_decoded::<T>(what, &key, Some(at)).await? {
                out.push((id, value));
            }
        }
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    pub async fn bridge_client(
        &self,
        id: ClientId,
        at: Option<H256>,
    ) -> Result<Option<ClientState>, ClientError> {
        self.storage_decoded("a Bridge.Clients entry", &CLIENTS.key(&id), at)
            .await
    }

    /// This chain's channel ends, by id.
    pub async fn bridge_channels(
        &self,
        at: Option<H256>,
    ) -> Result<Vec<(ChannelId, ChannelEnd)>, ClientError> {
        self.bridge_entries("a Bridge.Channels entry", &CHANNELS.prefix(), at)
            .await
    }

    pub async fn bridge_channel(
        &self,
        id: ChannelId,
        at: Option<H256>,
    ) -> Result<Option<ChannelEnd>, ClientError> {
        self.storage_decoded("a Bridge.Channels entry", &CHANNELS.key(&id), at)
            .await
    }

    /// A packet sent on `channel` and not yet acknowledged.
    pub async fn bridge_packet(
        &self,
        channel: ChannelId,
        sequence: Sequence,
        at: Option<H256>,
    ) -> Result<Option<Packet>, ClientError> {
        self.storage_decoded(
            "a Bridge.Packets entry",
            &PACKETS.key(&channel, &sequence),
            at,
        )
        .await
    }

    /// The acknowledgement this chain wrote for a packet it received on `channel`.
    pub async fn bridge_ack(
        &self,
        channel: ChannelId,
        sequence: Sequence,
        at: Option<H256>,
    ) -> Result<Option<Ack>, ClientError> {
        Ok(self
            .storage_decoded::<bridge::AckRecord>(
                "a Bridge.Acks entry",
                &bridge::ACKS.key(&channel, &sequence),
                at,
            )
            .await?
            .map(|record| record.ack))
    }

    /// The bridged assets this chain has minted, by id.
    pub async fn bridge_assets(
        &self,
        at: Option<H256>,
    ) -> Result<Vec<(H256, AssetInfo)>, ClientError> {
        let at = match at {
            Some(h) => h,
            None => self.finalized_head().await?.1,
        };
        let prefix = ASSETS.prefix();
        let keys = self.keys_with_prefix(&prefix, at).await?;
        let mut out = Vec::new();
        for key in keys {
            let id = key
                .get(prefix.len()..)
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .map(H256)
                .ok_or_else(|| bad("a Bridge.Assets key", "not 32 bytes after the prefix"))?;
            if let Some(info) = self
                .storage_decoded::<AssetInfo>("a Bridge.Assets entry", &key, Some(at))
                .await?
            {
                out.push((id, info));
            }
        }
        Ok(out)
    }

    /// `who`'s holding of bridged asset `asset`.
    pub async fn bridge_asset_balance(
        &self,
        asset: H256,
        who: &AccountId32,
        at: Option<H256>,
    ) -> Result<u128, ClientError> {
        Ok(self
            .storage_decoded(
                "a Bridge.AssetBalances entry",
                &ASSET_BALANCES.key(&asset, who),
                at,
            )
            .await?
            .unwrap_or(0))
    }

    /// What `channel`'s escrow holds of `asset` (PHA's id is `asset_id(&native_denom())`).
    pub async fn bridge_escrowed(
        &self,
        channel: ChannelId,
        asset: H256,
        at: Option<H256>,
    ) -> Result<u128, ClientError> {
        Ok(self
            .storage_decoded(
                "a Bridge.Escrowed entry",
                &ESCROWED.key(&channel, &asset),
                at,
            )
            .await?
            .unwrap_or(0))
    }

    /// What another chain's governance needs to create a client of this one: the genesis
    /// hash and the committee of the finalized head's epoch, with a recent block of that
    /// epoch (not its last), its own certificate and a proof of its time.
    pub async fn bridge_trusted_state(&self) -> Result<TrustedState, ClientError> {
        let view = self.epochs().await?;
        let (head, _) = view.at;
        let bounds = view.current;
        // The newest block of the epoch, short of its last, with a certificate of its own.
        let top = head.min(bounds.last.saturating_sub(1));
        let (_, update) = self
            .bridge_newest_update(top, bounds.first.saturating_sub(1), 65)
            .await?
            .ok_or_else(|| {
                bad(
                    "the finalized chain",
                    format!(
                        "no block of epoch {} up to #{top} has a certificate of its own",
                        bounds.epoch
                    ),
                )
            })?;
        let keys = view.committee.iter().map(|m| m.consensus_key).collect();
        let header = parity_scale_codec::Encode::encode(&update.header);
        Ok(TrustedState {
            genesis_hash: self.genesis_hash(),
            epoch: bounds.epoch,
            epoch_first: bounds.first,
            epoch_last: bounds.last,
            committee: BoundedVec::new(keys)
                .ok_or_else(|| bad("the committee", "more members than a client follows"))?,
            header: BoundedBytes::new(header)
                .ok_or_else(|| bad("a header", "over the bridge's size limit"))?,
            certificate: BoundedBytes::new(update.certificate)
                .ok_or_else(|| bad("a certificate", "over the bridge's size limit"))?,
            timestamp_proof: update.timestamp_proof,
        })
    }

    /// The header of block `number` with its finality certificate and a proof of its time:
    /// `None` if the block has no certificate of its own (finalized through a descendant's).
    pub async fn bridge_header_update(
        &self,
        number: BlockNumber,
    ) -> Result<Option<HeaderUpdate>, ClientError> {
        let Some(hash) = self.block_hash(number).await? else {
            return Ok(None);
        };
        let Some(certificate) = self.finality_proof(hash).await? else {
            return Ok(None);
        };
        let header = self
            .header(hash)
            .await?
            .ok_or_else(|| bad("a finalized header", format!("#{number} is missing")))?;
        let proof = self.read_proof(&[timestamp::NOW.key()], hash).await?;
        Ok(Some(HeaderUpdate {
            header,
            certificate,
            timestamp_proof: proof_of(proof)?,
        }))
    }

    /// The newest block in `(floor, top]`, at most `scan` blocks below `top`, that has a
    /// certificate of its own, with its update.
    pub async fn bridge_newest_update(
        &self,
        top: BlockNumber,
        floor: BlockNumber,
        scan: u32,
    ) -> Result<Option<(BlockNumber, HeaderUpdate)>, ClientError> {
        let mut n = top;
        while n > floor && top.saturating_sub(n) < scan {
            if let Some(update) = self.bridge_header_update(n).await? {
                return Ok(Some((n, update)));
            }
            n = n.saturating_sub(1);
        }
        Ok(None)
    }

    /// A proof of `keys` in the state of block `number`.
    pub async fn bridge_proof(
        &self,
        number: BlockNumber,
        keys: &[Vec<u8>],
    ) -> Result<Proof, ClientError> {
        let hash = self
            .block_hash(number)
            .await?
            .ok_or_else(|| bad("a block hash", format!("#{number} is unknown")))?;
        proof_of(self.read_proof(keys, hash).await?)
    }
}
