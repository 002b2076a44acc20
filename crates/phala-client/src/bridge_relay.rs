//! A relayer between two phala chains: for every channel end on either chain, it moves the
//! end's own client of the other chain forward, confirms the end, delivers packets and
//! carries acknowledgements back.
//!
//! It keeps no state of its own: every pass reads what is pending from both chains'
//! finalized state, so a relayer killed at any point and started again picks up exactly
//! where the chains are, and several relayers may run at once (the chains take each packet
//! and each acknowledgement once; a relayer that loses a race gets a refusal and moves on).
//! Nothing it submits is trusted: the chains check every header, certificate and proof.

use std::time::Duration;

use phala_keys::Sr25519Pair;
use phala_primitives::BlockNumber;
use phala_runtime::RuntimeCall;
use phala_runtime::bounded::BoundedBytes;
use phala_runtime::modules::bridge::{
    self, ChannelEnd, ChannelId, ChannelState, ClientId, ClientState, ClientStatus, Packet,
    ack_key, channel_key, client_key, packet_key,
};

use crate::tx::{TxOptions, TxProgress};
use crate::{Client, ClientError};

/// Most transactions one pass submits to one chain: below the pool's per-sender limit.
pub const MAX_BATCH: usize = 48;
/// How far below a head the relayer looks for a block with its own certificate.
const CERTIFIED_SEARCH: u32 = 32;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    pub client_updates: u32,
    pub channels_confirmed: u32,
    pub packets_delivered: u32,
    pub acks_delivered: u32,
    /// Transactions another relayer's beat to it: the work was done, by someone else.
    pub raced: u32,
    /// Transactions a chain refused or that failed there, each with its reason.
    pub failures: Vec<String>,
    /// Channels whose next acknowledgement is a contract message's, not written yet: the
    /// destination contract's cluster has not reported it (nothing to carry until it does).
    pub awaiting_contracts: u32,
}

impl RelayReport {
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
        self.raced = self.raced.saturating_add(other.raced);
        self.failures.extend(other.failures);
        self.awaiting_contracts = self
            .awaiting_contracts
            .saturating_add(other.awaiting_contracts);
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

/// One way across: `to`'s client `client` follows `from`; what `from` stores is proven
/// to `to` against it.
struct Link<'a> {
    from: &'a Client,
    to: &'a Client,
    client: ClientId,
}

/// A relayer between chains `a` and `b`, paying its fees with `signer` on both.
pub struct Relayer {
    a: Client,
    b: Client,
    signer: Sr25519Pair,
}

impl Relayer {
    /// A relayer between two different chains.
    pub async fn new(a: Client, b: Client, signer: Sr25519Pair) -> Result<Relayer, ClientError> {
        if a.genesis_hash() == b.genesis_hash() {
            return Err(ClientError::BadResponse {
                method: "chain_getBlockHash".into(),
                reason: format!(
                    "{} and {} are nodes of the same chain (genesis {}): a bridge joins two",
                    a.url(),
                    b.url(),
                    a.genesis_hash()
                ),
            });
        }
        Ok(Relayer { a, b, signer })
    }

    pub fn chains(&self) -> (&Client, &Client) {
        (&self.a, &self.b)
    }

    /// One pass both ways: for each client that a channel end sits on, confirm the ends,
    /// deliver packets, carry acknowledgements, and keep the client fresh.
    pub async fn step(&self) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        for (from, to) in [(&self.a, &self.b), (&self.b, &self.a)] {
            // One link's trouble (a node that lies or is away, a dead client) is reported
            // and does not stop the others.
            let clients = match Self::clients_used(from, to, &mut report).await {
                Ok(c) => c,
                Err(e) => {
                    report.failures.push(format!("{}: {e}", to.url()));
                    continue;
                }
            };
            for client in clients {
                let link = Link { from, to, client };
                for result in [
                    self.confirm_channels(&link).await,
                    self.deliver(&link).await,
                    self.acknowledge(&link).await,
                    self.refresh(&link).await,
                ] {
                    match result {
                        Ok(r) => report.merge(r),
                        Err(e) => report.failures.push(format!("{}: {e}", to.url())),
                    }
                }
            }
        }
        Ok(report)
    }

    /// The clients of `from` on `to` that channel ends sit on and that can still move:
    /// not frozen, and not expired by `to`'s own clock. A dead client needs governance
    /// (`recoverClient`); every transaction sent to it would only pay a fee to fail.
    async fn clients_used(
        from: &Client,
        to: &Client,
        report: &mut RelayReport,
    ) -> Result<Vec<ClientId>, ClientError> {
        let at = to.finalized_head().await?.1;
        let clients = to.bridge_clients(Some(at)).await?;
        let ends = to.bridge_channels(Some(at)).await?;
        let now = to.timestamp_at(at).await?;
        let mut used = Vec::new();
        for (id, state) in clients {
            if state.genesis_hash != from.genesis_hash()
                || !ends.iter().any(|(_, e)| e.client == id)
            {
                continue;
            }
            match state.status_at(now) {
                ClientStatus::Active => used.push(id),
                ClientStatus::Frozen { height } => report.failures.push(format!(
                    "{}: client {id} is frozen at #{height}; governance must recover it \
                     (bridge.recoverClient)",
                    to.url()
                )),
                ClientStatus::Expired => report.failures.push(format!(
                    "{}: client {id} expired; governance must recover it (bridge.recoverClient)",
                    to.url()
                )),
            }
        }
        Ok(used)
    }

    /// Keeps a client from expiring while nothing crosses: once a third of its trusting
    /// period has passed since its last header, it is moved to the other chain's head.
    async fn refresh(&self, link: &Link<'_>) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let Some(state) = link.to.bridge_client(link.client, None).await? else {
            return Ok(report);
        };
        let from_now = link
            .from
            .timestamp_at(link.from.finalized_head().await?.1)
            .await?;
        let stale_after = state
            .latest_timestamp
            .saturating_add(state.trusting_period_ms / 3);
        if from_now <= stale_after {
            return Ok(report);
        }
        let (_, calls) = self.updates(link).await?;
        let updates = calls.len();
        if updates > 0 {
            let ok = self.submit_all(link.to, calls, &mut report).await?;
            report.tally(&ok, updates, Work::Confirm);
        }
        Ok(report)
    }

    /// Moves every client that a channel end sits on to the other chain's finalized head,
    /// nothing more.
    pub async fn update_once(&self) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        for (from, to) in [(&self.a, &self.b), (&self.b, &self.a)] {
            for client in Self::clients_used(from, to, &mut report).await? {
                let link = Link { from, to, client };
                let (_, calls) = self.updates(&link).await?;
                if calls.is_empty() {
                    continue;
                }
                let updates = calls.len();
                let ok = self.submit_all(to, calls, &mut report).await?;
                report.tally(&ok, updates, Work::Confirm);
            }
        }
        Ok(report)
    }

    /// Passes until `stop` resolves, waiting `interval` after a pass that landed nothing.
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

    /// The channel ends on `link.to` that sit on `link.client`.
    async fn ends(link: &Link<'_>) -> Result<Vec<(ChannelId, ChannelEnd)>, ClientError> {
        let at = link.to.finalized_head().await?.1;
        Ok(link
            .to
            .bridge_channels(Some(at))
            .await?
            .into_iter()
            .filter(|(_, end)| end.client == link.client)
            .collect())
    }

    /// Moves the link's client to `from`'s newest certified block, crossing epoch
    /// boundaries one at a time. Returns the height the client will be at once the
    /// updates land, and the updates (none if it is already there).
    async fn updates(
        &self,
        link: &Link<'_>,
    ) -> Result<(BlockNumber, Vec<RuntimeCall>), ClientError> {
        let state: ClientState =
            link.to
                .bridge_client(link.client, None)
                .await?
                .ok_or_else(|| ClientError::BadResponse {
                    method: "Bridge.Clients".into(),
                    reason: format!("client {} is gone", link.client),
                })?;
        let (head, _) = link.from.finalized_head().await?;
        let mut calls = Vec::new();
        let mut at = state.latest_height;
        let mut epoch_last = state.epoch_last;
        // Each boundary ends an epoch and hands over to the next committee; its length
        // comes from the source chain's own schedule.
        while head > at && calls.len() < MAX_BATCH {
            let found = if head >= epoch_last {
                let update = link.from.bridge_header_update(epoch_last).await?;
                update.map(|u| (epoch_last, u))
            } else {
                link.from
                    .bridge_newest_update(head, at, CERTIFIED_SEARCH)
                    .await?
            };
            let Some((target, update)) = found else {
                break;
            };
            calls.push(RuntimeCall::Bridge(bridge::Call::update_client {
                client: link.client,
                header: bounded(parity_scale_codec::Encode::encode(&update.header))?,
                certificate: bounded(update.certificate)?,
                timestamp_proof: update.timestamp_proof,
            }));
            at = target;
            if target == epoch_last {
                let hash = link.from.block_hash(target.saturating_add(1)).await?;
                let schedule = link.from.epoch_schedule(hash).await?;
                match schedule.containing(target.saturating_add(1)) {
                    Some(next) => epoch_last = next.last,
                    None => break,
                }
            }
        }
        Ok((at, calls))
    }

    /// Opens `to`'s ends in `Init` whose other end exists on `from`, naming them.
    async fn confirm_channels(&self, link: &Link<'_>) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let waiting: Vec<_> = Self::ends(link)
            .await?
            .into_iter()
            .filter(|(_, end)| end.state == ChannelState::Init)
            .collect();
        if waiting.is_empty() {
            return Ok(report);
        }
        let (height, mut calls) = self.updates(link).await?;
        let hash = link.from.block_hash(height).await?;
        let updates = calls.len();
        for (id, end) in waiting {
            let Some(theirs) = link
                .from
                .bridge_channel(end.counterparty_channel, hash)
                .await?
            else {
                continue;
            };
            if theirs.counterparty_channel != id {
                report.failures.push(format!(
                    "{}: channel {id} names their channel {}, which names channel {} here: \
                     they will never open",
                    link.to.url(),
                    end.counterparty_channel,
                    theirs.counterparty_channel
                ));
                continue;
            }
            let proof = link
                .from
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
        let ok = self.submit_all(link.to, calls, &mut report).await?;
        report.tally(&ok, updates, Work::Confirm);
        Ok(report)
    }

    /// Delivers `from`'s packets that `to` has not received, in order.
    async fn deliver(&self, link: &Link<'_>) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let mut wanted = Vec::new();
        let from_head = link.from.finalized_head().await?.1;
        for (_, end) in Self::ends(link).await? {
            if end.state == ChannelState::Init {
                continue;
            }
            let Some(theirs) = link
                .from
                .bridge_channel(end.counterparty_channel, Some(from_head))
                .await?
            else {
                continue;
            };
            if end.next_recv < theirs.next_send {
                wanted.push(end);
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        let (height, mut calls) = self.updates(link).await?;
        let updates = calls.len();
        let at = link.from.block_hash(height).await?;
        for end in wanted {
            let mut seq = end.next_recv;
            while calls.len() < MAX_BATCH {
                let Some(packet) = link
                    .from
                    .bridge_packet(end.counterparty_channel, seq, at)
                    .await?
                else {
                    break;
                };
                calls.push(Self::recv_call(link.from, &packet, height).await?);
                seq = seq.saturating_add(1);
            }
        }
        if calls.len() == updates {
            return Ok(report);
        }
        let ok = self.submit_all(link.to, calls, &mut report).await?;
        report.tally(&ok, updates, Work::Deliver);
        Ok(report)
    }

    async fn recv_call(
        from: &Client,
        packet: &Packet,
        height: BlockNumber,
    ) -> Result<RuntimeCall, ClientError> {
        let proof = from
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

    /// Carries `from`'s acknowledgements of packets `to` sent back to `to`, in order.
    async fn acknowledge(&self, link: &Link<'_>) -> Result<RelayReport, ClientError> {
        let mut report = RelayReport::default();
        let from_head = link.from.finalized_head().await?.1;
        let mut wanted = Vec::new();
        for (id, end) in Self::ends(link).await? {
            if end.state == ChannelState::Init || end.next_ack >= end.next_send {
                continue;
            }
            let Some(theirs) = link
                .from
                .bridge_channel(end.counterparty_channel, Some(from_head))
                .await?
            else {
                continue;
            };
            if end.next_ack >= theirs.next_recv {
                continue;
            }
            // A contract message's acknowledgement is written when its cluster reports,
            // some blocks after the packet was received: nothing to carry until then.
            let written = link
                .from
                .bridge_ack(end.counterparty_channel, end.next_ack, Some(from_head))
                .await?
                .is_some();
            if written {
                wanted.push((id, end));
            } else {
                report.awaiting_contracts = report.awaiting_contracts.saturating_add(1);
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        let (height, mut calls) = self.updates(link).await?;
        let updates = calls.len();
        let at = link.from.block_hash(height).await?;
        let to_head = link.to.finalized_head().await?.1;
        for (id, end) in wanted {
            let mut seq = end.next_ack;
            while calls.len() < MAX_BATCH {
                let Some(ack) = link
                    .from
                    .bridge_ack(end.counterparty_channel, seq, at)
                    .await?
                else {
                    break;
                };
                let Some(packet) = link.to.bridge_packet(id, seq, Some(to_head)).await? else {
                    break;
                };
                let proof = link
                    .from
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
        let ok = self.submit_all(link.to, calls, &mut report).await?;
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
                    Err(failure) if is_race(&failure.to_string()) => {
                        report.raced = report.raced.saturating_add(1);
                        ok.push(false);
                    }
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

/// Whether a failure only says another relayer got there first.
fn is_race(failure: &str) -> bool {
    [
        "Bridge.AlreadyReceived",
        "Bridge.AlreadyAcknowledged",
        "Bridge.HeaderKnown",
        "Bridge.ChannelNotInit",
        "Bridge.HeaderNotNext",
    ]
    .iter()
    .any(|name| failure.contains(name))
}

fn bounded<const N: u32>(bytes: Vec<u8>) -> Result<BoundedBytes<N>, ClientError> {
    let len = bytes.len();
    BoundedBytes::new(bytes).ok_or_else(|| ClientError::Decode {
        what: "a header or certificate".into(),
        reason: format!("{len} bytes is over the chain's limit of {N}"),
    })
}
