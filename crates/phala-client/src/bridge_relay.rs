//! A relayer between two phala chains: it moves each chain's client of the other forward,
//! confirms channel ends, delivers packets and carries acknowledgements back.
//!
//! It keeps no state of its own: every pass reads what is pending from both chains'
//! finalized state, so a relayer killed at any point and started again picks up exactly
//! where the chains are, and several relayers may run at once (the chains take each packet
//! and each acknowledgement once; a relayer that loses a race gets a refusal and moves on).
//! Nothing it submits is trusted: the chains check every header, certificate and proof.

use std::time::Duration;

use phala_keys::Sr25519Pair;
use phala_primitives::{BlockNumber, H256};
use phala_runtime::RuntimeCall;
use phala_runtime::bounded::BoundedBytes;
use phala_runtime::modules::bridge::{
    self, ChannelEnd, ChannelId, ChannelState, ClientId, ClientState, Packet, ack_key, channel_key,
    client_key, packet_key,
};

use crate::tx::{TxOptions, TxProgress};
use crate::{Client, ClientError};

/// Most transactions one pass submits to one chain: below the pool's per-sender limit.
pub const MAX_BATCH: usize = 48;
/// How far below a head the relayer looks for a block with its own certificate.
const CERTIFIED_SEARCH: u32 = 32;

/// One chain as the relayer sees it.
#[derive(Clone)]
pub struct Side {
    pub client: Client,
    /// This chain's client of the other chain.
    pub client_id: ClientId,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    pub client_updates: u32,
    pub channels_confirmed: u32,
    pub packets_delivered: u32,
    pub acks_delivered: u32,
    /// Transactions a chain refused or that failed there (a racing relayer, say), each
    /// with its reason.
    pub failures: Vec<String>,
}

impl RelayReport {
    pub fn is_idle(&self) -> bool {
        *self == RelayReport::default()
    }

    /// Whether anything landed: a pass of refusals only is no reason to hurry back.
    pub fn made_progress(&self) -> bool {
        self.client_updates > 0
            || self.channels_confirmed > 0
            || self.packets_delivered > 0
            || self.acks_delivered > 0
    }

    fn merge(&mut self, other: RelayReport) {
        self.client_updates = self.client_updates.saturating_add(other.client_updates);
        self.channels_confirmed = self
            .channels_confirmed
            .saturating_add(other.channels_confirmed);
        self.packets_delivered = self
            .packets_delivered
            .saturating_add(other.packets_delivered);
        self.acks_delivered = self.acks_delivered.saturating_add(other.acks_delivered);
        self.failures.extend(other.failures);
    }

    /// Counts what landed of a batch whose first `updates` calls were client updates.
    fn tally(&mut self, ok: &[bool], updates: usize, work: Work) {
        let landed = |it: &mut dyn Iterator<Item = &bool>| {
            u32::try_from(it.filter(|x| **x).count()).unwrap_or(u32::MAX)
        };
        let up = landed(&mut ok.iter().take(updates));
        let rest = landed(&mut ok.iter().skip(updates));
        self.client_updates = self.client_updates.saturating_add(up);
        let field = match work {
            Work::Confirm => &mut self.channels_confirmed,
            Work::Deliver => &mut self.packets_delivered,
            Work::Acknowledge => &mut self.acks_delivered,
        };
        *field = field.saturating_add(rest);
    }
}

#[derive(Clone, Copy)]
enum Work {
    Confirm,
    Deliver,
    Acknowledge,
}

/// A relayer between chains `a` and `b`, paying its fees with `signer` on both.
pub struct Relayer {
    a: Side,
    b: Side,
    signer: Sr25519Pair,
}

/// This chain's client of the chain with `genesis`, if it has one that is not frozen.
async fn client_of(client: &Client, genesis: H256) -> Result<Option<ClientId>, ClientError> {
    let clients = client.bridge_clients(None).await?;
    Ok(clients
        .into_iter()
        .filter(|(_, c)| c.genesis_hash == genesis)
        .filter(|(_, c)| c.status == bridge::ClientStatus::Active)
        .map(|(id, _)| id)
        .next_back())
}

impl Relayer {
    /// Finds each chain's client of the other (the newest active one).
    pub async fn new(a: Client, b: Client, signer: Sr25519Pair) -> Result<Relayer, ClientError> {
        let missing = |on: &Client, of: &Client| ClientError::BadResponse {
            method: "Bridge.Clients".into(),
            reason: format!(
                "the chain at {} has no active client of the chain at {} (genesis {}); \
                 create one with `phala bridge client create`",
                on.url(),
                of.url(),
                of.genesis_hash()
            ),
        };
        let on_a = client_of(&a, b.genesis_hash())
            .await?
            .ok_or_else(|| missing(&a, &b))?;
        let on_b = client_of(&b, a.genesis_hash())
            .await?
            .ok_or_else(|| missing(&b, &a))?;
        Ok(Relayer {
            a: Side {
                client: a,
                client_id: on_a,
            },
            b: Side {
                client: b,
                client_id: on_b,
            },
            signer,
        })
    }

    pub fn sides(&self) -> (&Side, &Side) {
        (&self.a, &self.b)
    }

    /// One pass both ways: confirm channel ends, deliver packets, carry acknowledgements.
    pub async fn step(&self) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        for (src, dst) in [(&self.a, &self.b), (&self.b, &self.a)] {
            // One direction's trouble (a node that lies or is away, a dead client) is
            // reported and does not stop the other's work.
            if !self.usable(dst, &mut report).await {
                continue;
            }
            for result in [
                self.confirm_channels(src, dst).await,
                self.deliver(src, dst).await,
                self.acknowledge(src, dst).await,
                self.refresh(src, dst).await,
            ] {
                match result {
                    Ok(r) => report.merge(r),
                    Err(e) => report.failures.push(format!("{}: {e}", dst.client.url())),
                }
            }
        }
        Ok(report)
    }

    /// Whether `dst`'s client of the other chain can still be moved: not frozen, and not
    /// expired by `dst`'s own clock. A dead client needs governance (`recoverClient`), and
    /// every transaction sent to it would only pay a fee to fail.
    async fn usable(&self, dst: &Side, report: &mut RelayReport) -> bool {
        let state = match dst.client.bridge_client(dst.client_id, None).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                report.failures.push(format!(
                    "{}: client {} is gone",
                    dst.client.url(),
                    dst.client_id
                ));
                return false;
            }
            Err(e) => {
                report.failures.push(format!("{}: {e}", dst.client.url()));
                return false;
            }
        };
        let now: u64 = dst
            .client
            .storage_decoded(
                "Timestamp.Now",
                &phala_runtime::modules::timestamp::NOW.key(),
                None,
            )
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        let expired = now
            > state
                .latest_timestamp
                .saturating_add(state.trusting_period_ms);
        if let bridge::ClientStatus::Frozen { height } = state.status {
            report.failures.push(format!(
                "{}: client {} is frozen at #{height}; governance must recover it",
                dst.client.url(),
                dst.client_id
            ));
            return false;
        }
        if expired {
            report.failures.push(format!(
                "{}: client {} expired; governance must recover it",
                dst.client.url(),
                dst.client_id
            ));
            return false;
        }
        true
    }

    /// Keeps `dst`'s client of `src` from expiring while nothing crosses: once a third of
    /// its trusting period has passed since its last header, it is moved to `src`'s head.
    async fn refresh(&self, src: &Side, dst: &Side) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let Some(state) = dst.client.bridge_client(dst.client_id, None).await? else {
            return Ok(report);
        };
        let src_now: u64 = src
            .client
            .storage_decoded(
                "Timestamp.Now",
                &phala_runtime::modules::timestamp::NOW.key(),
                None,
            )
            .await?
            .unwrap_or(0);
        let stale_after = state
            .latest_timestamp
            .saturating_add(state.trusting_period_ms / 3);
        if src_now <= stale_after {
            return Ok(report);
        }
        let (_, calls) = self.updates(src, dst).await?;
        let updates = calls.len();
        if updates > 0 {
            let ok = self.submit_all(&dst.client, calls, &mut report).await?;
            report.tally(&ok, updates, Work::Confirm);
        }
        Ok(report)
    }

    /// Moves each chain's client of the other to the other's finalized head, nothing more.
    pub async fn update_once(&self) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        for (src, dst) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let (_, calls) = self.updates(src, dst).await?;
            if calls.is_empty() {
                continue;
            }
            let updates = calls.len();
            let ok = self.submit_all(&dst.client, calls, &mut report).await?;
            report.tally(&ok, updates, Work::Confirm);
        }
        Ok(report)
    }

    /// Passes until `stop` resolves, waiting `interval` after an idle one.
    pub async fn run(
        &self,
        interval: Duration,
        mut on_pass: impl FnMut(&RelayReport),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ClientError> {
        tokio::pin!(stop);
        loop {
            let report = self.step().await?;
            on_pass(&report);
            let pause = if report.made_progress() {
                Duration::ZERO
            } else {
                interval
            };
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The channel ends on `dst` over its client of `src`.
    async fn ends_on(dst: &Side) -> Result<Vec<(ChannelId, ChannelEnd)>, ClientError> {
        let at = dst.client.finalized_head().await?.1;
        Ok(dst
            .client
            .bridge_channels(Some(at))
            .await?
            .into_iter()
            .filter(|(_, end)| end.client == dst.client_id)
            .collect())
    }

    /// Moves `dst`'s client of `src` to `src`'s newest certified block, crossing epoch
    /// boundaries one at a time. Submits nothing if it is already there. Returns the
    /// height the client will be at once the submitted updates land, and the updates.
    async fn updates(
        &self,
        src: &Side,
        dst: &Side,
    ) -> Result<(BlockNumber, Vec<RuntimeCall>), ClientError> {
        let state: ClientState = dst
            .client
            .bridge_client(dst.client_id, None)
            .await?
            .ok_or_else(|| ClientError::BadResponse {
                method: "Bridge.Clients".into(),
                reason: format!("client {} is gone", dst.client_id),
            })?;
        let (head, _) = src.client.finalized_head().await?;
        let mut calls = Vec::new();
        let mut at = state.latest_height;
        let mut epoch_last = state.epoch_last;
        // Each boundary ends an epoch and hands over to the next committee; its length
        // comes from the source chain's own schedule.
        while head > at && calls.len() < MAX_BATCH {
            let target = if head >= epoch_last {
                epoch_last
            } else {
                match self.certified_at_or_below(src, head, at).await? {
                    Some(n) => n,
                    None => break,
                }
            };
            let Some(update) = src.client.bridge_header_update(target).await? else {
                break;
            };
            calls.push(RuntimeCall::Bridge(bridge::Call::update_client {
                client: dst.client_id,
                header: bounded(parity_scale_codec::Encode::encode(&update.header))?,
                certificate: bounded(update.certificate)?,
                timestamp_proof: update.timestamp_proof,
            }));
            at = target;
            if target == epoch_last {
                let hash = src.client.block_hash(target.saturating_add(1)).await?;
                let schedule = src.client.epoch_schedule(hash).await?;
                match schedule.containing(target.saturating_add(1)) {
                    Some(next) => epoch_last = next.last,
                    None => break,
                }
            }
        }
        Ok((at, calls))
    }

    /// The highest block in `(floor, head]` with a certificate of its own.
    async fn certified_at_or_below(
        &self,
        src: &Side,
        head: BlockNumber,
        floor: BlockNumber,
    ) -> Result<Option<BlockNumber>, ClientError> {
        let mut n = head;
        while n > floor && head.saturating_sub(n) < CERTIFIED_SEARCH {
            if let Some(hash) = src.client.block_hash(n).await?
                && src.client.finality_proof(hash).await?.is_some()
            {
                return Ok(Some(n));
            }
            n = n.saturating_sub(1);
        }
        Ok(None)
    }

    /// Opens `dst`'s ends in `Init` whose other end exists on `src`.
    async fn confirm_channels(&self, src: &Side, dst: &Side) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let waiting: Vec<_> = Self::ends_on(dst)
            .await?
            .into_iter()
            .filter(|(_, end)| end.state == ChannelState::Init)
            .collect();
        if waiting.is_empty() {
            return Ok(report);
        }
        let (height, mut calls) = self.updates(src, dst).await?;
        let hash = src.client.block_hash(height).await?;
        let updates = calls.len();
        for (id, end) in waiting {
            let Some(theirs) = src
                .client
                .bridge_channel(end.counterparty_channel, hash)
                .await?
            else {
                continue;
            };
            if theirs.counterparty_channel != id {
                continue;
            }
            let proof = src
                .client
                .bridge_proof(
                    height,
                    &[
                        channel_key(end.counterparty_channel),
                        client_key(theirs.client),
                    ],
                )
                .await?;
            calls.push(RuntimeCall::Bridge(bridge::Call::confirm_channel {
                channel: id,
                proof_height: height,
                proof,
            }));
        }
        if calls.len() == updates {
            return Ok(report);
        }
        let ok = self.submit_all(&dst.client, calls, &mut report).await?;
        report.tally(&ok, updates, Work::Confirm);
        Ok(report)
    }

    /// Delivers `src`'s packets that `dst` has not received, in order.
    async fn deliver(&self, src: &Side, dst: &Side) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let mut wanted = Vec::new();
        let src_head = src.client.finalized_head().await?.1;
        for (id, end) in Self::ends_on(dst).await? {
            if end.state != ChannelState::Open {
                continue;
            }
            let Some(theirs) = src
                .client
                .bridge_channel(end.counterparty_channel, Some(src_head))
                .await?
            else {
                continue;
            };
            if end.next_recv < theirs.next_send {
                wanted.push((id, end, theirs));
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        let (height, mut calls) = self.updates(src, dst).await?;
        let updates = calls.len();
        let at = src.client.block_hash(height).await?;
        for (_, end, _) in wanted {
            let mut seq = end.next_recv;
            while calls.len() < MAX_BATCH {
                let Some(packet) = src
                    .client
                    .bridge_packet(end.counterparty_channel, seq, at)
                    .await?
                else {
                    break;
                };
                calls.push(self.recv_call(src, &packet, height).await?);
                seq = seq.saturating_add(1);
            }
        }
        if calls.len() == updates {
            return Ok(report);
        }
        let ok = self.submit_all(&dst.client, calls, &mut report).await?;
        report.tally(&ok, updates, Work::Deliver);
        Ok(report)
    }

    async fn recv_call(
        &self,
        src: &Side,
        packet: &Packet,
        height: BlockNumber,
    ) -> Result<RuntimeCall, ClientError> {
        let proof = src
            .client
            .bridge_proof(
                height,
                &[packet_key(packet.source_channel, packet.sequence)],
            )
            .await?;
        Ok(RuntimeCall::Bridge(bridge::Call::recv_packet {
            packet: packet.clone(),
            proof_height: height,
            proof,
        }))
    }

    /// Carries `dst`'s acknowledgements of packets `src` sent back to `src`, in order.
    async fn acknowledge(&self, src: &Side, dst: &Side) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let dst_head = dst.client.finalized_head().await?.1;
        let mut wanted = Vec::new();
        for (id, end) in Self::ends_on(src).await? {
            if end.state == ChannelState::Init || end.next_ack >= end.next_send {
                continue;
            }
            let Some(theirs) = dst
                .client
                .bridge_channel(end.counterparty_channel, Some(dst_head))
                .await?
            else {
                continue;
            };
            if end.next_ack < theirs.next_recv {
                wanted.push((id, end));
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        // `src` proves `dst`'s acknowledgements: its client of `dst` moves.
        let (height, mut calls) = self.updates(dst, src).await?;
        let updates = calls.len();
        let at = dst.client.block_hash(height).await?;
        let src_head = src.client.finalized_head().await?.1;
        for (id, end) in wanted {
            let mut seq = end.next_ack;
            while calls.len() < MAX_BATCH {
                let Some(ack) = dst
                    .client
                    .bridge_ack(end.counterparty_channel, seq, at)
                    .await?
                else {
                    break;
                };
                let Some(packet) = src.client.bridge_packet(id, seq, Some(src_head)).await? else {
                    break;
                };
                let proof = dst
                    .client
                    .bridge_proof(height, &[ack_key(end.counterparty_channel, seq)])
                    .await?;
                calls.push(RuntimeCall::Bridge(bridge::Call::acknowledge_packet {
                    packet,
                    ack,
                    proof_height: height,
                    proof,
                }));
                seq = seq.saturating_add(1);
            }
        }
        if calls.len() == updates {
            return Ok(report);
        }
        let ok = self.submit_all(&src.client, calls, &mut report).await?;
        report.tally(&ok, updates, Work::Acknowledge);
        Ok(report)
    }

    /// Signs `calls` with consecutive nonces, submits them all, and waits for each to be
    /// final; whether each succeeded, in order. Refusals go to the report.
    async fn submit_all(
        &self,
        client: &Client,
        calls: Vec<RuntimeCall>,
        report: &mut RelayReport,
    ) -> Result<Vec<bool>, ClientError> {
        let mut nonce = client.next_nonce(&self.signer.account_id()).await?;
        let mut progress: Vec<Option<TxProgress>> = Vec::new();
        for call in calls {
            let options = TxOptions {
                nonce: Some(nonce),
                ..TxOptions::default()
            };
            let tx = client.sign(call, &self.signer, options).await?;
            match client.submit_and_watch(&tx).await {
                Ok(p) => {
                    progress.push(Some(p));
                    nonce = nonce.saturating_add(1);
                }
                Err(e) => {
                    report.failures.push(format!("{}: {e}", client.url()));
                    progress.push(None);
                }
            }
        }
        let mut ok = Vec::new();
        for p in progress {
            let Some(p) = p else {
                ok.push(false);
                continue;
            };
            match p.wait_finalized().await {
                Ok(outcome) => match outcome.result {
                    Ok(()) => ok.push(true),
                    Err(failure) => {
                        report.failures.push(format!(
                            "{}: block #{}: {}",
                            client.url(),
                            outcome.block_number,
                            failure
                        ));
                        ok.push(false);
                    }
                },
                Err(e) => {
                    report.failures.push(format!("{}: {e}", client.url()));
                    ok.push(false);
                }
            }
        }
        Ok(ok)
    }
}

fn bounded<const N: u32>(bytes: Vec<u8>) -> Result<BoundedBytes<N>, ClientError> {
    let len = bytes.len();
    BoundedBytes::new(bytes).ok_or_else(|| ClientError::Decode {
        what: "a header or certificate".into(),
        reason: format!("{len} bytes is over the chain's limit of {N}"),
    })
}
