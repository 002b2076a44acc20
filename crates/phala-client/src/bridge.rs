//! The bridge from outside: a chain's light clients of other chains, its channel ends,
//! packets in flight, acknowledgements and bridged assets; the trusted state a client of a
//! chain is created from; and what a relayer submits (headers with certificates and state
//! proofs). The relayer itself is [`crate::bridge_relay`].

use phala_primitives::{AccountId32, BlockNumber, H256, Header};
use phala_runtime::bounded::{BoundedBytes, BoundedVec};
use phala_runtime::modules::bridge::{
    self, ASSET_BALANCES, ASSETS, Ack, AssetInfo, CHANNELS, CLIENTS, ChannelEnd, ChannelId,
    ClientId, ClientState, ESCROWED, NEXT_CHANNEL_ID, NEXT_CLIENT_ID, PACKETS, Packet, Proof,
    Sequence, TrustedState,
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
        .map(|n| BoundedBytes::new(n).ok_or_else(|| bad("a proof node", "over 4 KiB")))
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
    /// This chain's light clients of other chains, by id, at block `at` (best if `None`).
    pub async fn bridge_clients(
        &self,
        at: Option<H256>,
    ) -> Result<Vec<(ClientId, ClientState)>, ClientError> {
        let next: ClientId = self
            .storage_decoded("Bridge.NextClientId", &NEXT_CLIENT_ID.key(), at)
            .await?
            .unwrap_or(0);
        let mut out = Vec::new();
        for id in 0..next {
            if let Some(c) = self.bridge_client(id, at).await? {
                out.push((id, c));
            }
        }
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
        let next: ChannelId = self
            .storage_decoded("Bridge.NextChannelId", &NEXT_CHANNEL_ID.key(), at)
            .await?
            .unwrap_or(0);
        let mut out = Vec::new();
        for id in 0..next {
            if let Some(c) = self.bridge_channel(id, at).await? {
                out.push((id, c));
            }
        }
        Ok(out)
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
        self.storage_decoded(
            "a Bridge.Acks entry",
            &bridge::ACKS.key(&channel, &sequence),
            at,
        )
        .await
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
    /// hash, the finalized head with its state root and time, and the committee of the
    /// epoch it is in (the next one's when the head ends its epoch).
    pub async fn bridge_trusted_state(&self) -> Result<TrustedState, ClientError> {
        let view = self.epochs().await?;
        let (number, hash) = view.at;
        let header = self
            .header(hash)
            .await?
            .ok_or_else(|| bad("the finalized header", format!("#{number} is missing")))?;
        let (bounds, committee) = if number == view.current.last {
            let next = view.next_committee.ok_or_else(|| {
                bad(
                    "Validators.Committees",
                    "the head ends its epoch but the next committee is not stored",
                )
            })?;
            (view.next, next)
        } else {
            (view.current, view.committee)
        };
        let timestamp: u64 = self
            .storage_decoded("Timestamp.Now", &timestamp::NOW.key(), Some(hash))
            .await?
            .unwrap_or(0);
        let keys = committee.iter().map(|m| m.consensus_key).collect();
        Ok(TrustedState {
            genesis_hash: self.genesis_hash(),
            epoch: bounds.epoch,
            epoch_first: bounds.first,
            epoch_last: bounds.last,
            committee: BoundedVec::new(keys)
                .ok_or_else(|| bad("the committee", "more members than a client follows"))?,
            head_number: number,
            head_hash: hash,
            state_root: header.state_root,
            timestamp,
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
