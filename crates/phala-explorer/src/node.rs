//! The explorer's side of the node: one SDK client, reconnected whenever the node goes away,
//! and a bounded index of recent finalized blocks (their times, transfers, contract
//! commands and slashes) that the follower keeps up to date and announces to open pages.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phala_client::Client;
use phala_client::primitives::{AccountId32, Balance, BlockNumber, H256};
use phala_runtime::RuntimeEvent;
use phala_runtime::modules::{balances, contracts, validators};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Blocks kept for the home page's list and charts.
const RECENT: usize = 120;
/// Blocks indexed behind the head on (re)connecting: transfers, commands and slashes found
/// there are what the account, contract and validator pages can show of the past.
const BACKFILL: u32 = 1_000;
/// Transfers and slashes kept.
const MAX_TRANSFERS: usize = 2_000;
const MAX_SLASHES: usize = 200;
const MAX_EXTRINSICS: usize = 20_000;
/// How often the finalized head is read.
const POLL: Duration = Duration::from_millis(400);

/// One finalized block as the home page lists it.
#[derive(Clone, Debug)]
pub struct BlockSummary {
    pub number: BlockNumber,
    pub hash: H256,
    /// `Timestamp.Now` after the block, Unix ms.
    pub time_ms: u64,
    pub extrinsics: usize,
    pub events: usize,
    /// When the explorer saw it finalized (only for blocks it saw arrive).
    pub seen_ms: Option<u64>,
}

impl BlockSummary {
    pub fn json(&self) -> Value {
        json!({
            "number": self.number,
            "hash": self.hash.to_string(),
            "timeMs": self.time_ms,
            "extrinsics": self.extrinsics,
            "events": self.events,
            "finalityLatencyMs": self.seen_ms.map(|s| s.saturating_sub(self.time_ms)),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Transfer {
    pub block: BlockNumber,
    pub from: AccountId32,
    pub to: AccountId32,
    pub amount: Balance,
}

#[derive(Clone, Debug)]
pub struct Slash {
    pub block: BlockNumber,
    pub who: AccountId32,
    pub amount: Balance,
}

/// What the follower learnt from the blocks it indexed.
#[derive(Default)]
pub struct Index {
    pub genesis: Option<H256>,
    /// The first block indexed and the newest.
    pub from: Option<BlockNumber>,
    pub head: Option<BlockNumber>,
    pub recent: VecDeque<BlockSummary>,
    pub transfers: VecDeque<Transfer>,
    pub slashes: VecDeque<Slash>,
    /// `Contracts.CommandExecuted` per contract within the indexed blocks.
    pub commands: HashMap<H256, u64>,
    /// Extrinsic hash → (block, index), for search; the oldest leave first.
    pub extrinsics: HashMap<H256, (BlockNumber, u32)>,
    extrinsic_order: VecDeque<H256>,
}

/// Whether the node answers, and why not.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub reachable: bool,
    pub error: Option<String>,
    pub since_ms: u64,
}

pub struct Node {
    pub url: String,
    client: RwLock<Option<Client>>,
    pub status: Mutex<Status>,
    pub index: Mutex<Index>,
    /// Page updates: one JSON text per event, for `/api/live`.
    pub live: broadcast::Sender<String>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Node {
    pub fn new(url: String) -> Arc<Node> {
        let (live, _) = broadcast::channel(256);
        Arc::new(Node {
            url,
            client: RwLock::new(None),
            status: Mutex::new(Status::default()),
            index: Mutex::new(Index::default()),
            live,
        })
    }

    /// The connected client, if the node answers.
    pub fn client(&self) -> Option<Client> {
        self.client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        lock(&self.index)
    }

    pub fn status_json(&self) -> Value {
        let status = lock(&self.status).clone();
        json!({
            "type": "status",
            "node": self.url,
            "reachable": status.reachable,
            "error": status.error,
            "sinceMs": status.since_ms,
            "finalized": self.index().head,
        })
    }

    fn set_status(&self, reachable: bool, error: Option<String>) {
        let changed = {
            let mut status = lock(&self.status);
            let changed = status.reachable != reachable || status.since_ms == 0;
            if changed {
                status.since_ms = now_ms();
            }
            status.reachable = reachable;
            status.error = error;
            changed
        };
        if changed {
            let _ = self.live.send(self.status_json().to_string());
        }
    }

    /// A request failed: if the connection is gone, drop the client so the follower
    /// reconnects, and tell open pages.
    pub fn failed(&self, error: &phala_client::ClientError) {
        use phala_client::ClientError::{Connect, Disconnected, Timeout};
        if matches!(error, Disconnected { .. } | Connect { .. } | Timeout { .. }) {
            *self.client.write().unwrap_or_else(|p| p.into_inner()) = None;
            self.set_status(false, Some(error.to_string()));
        }
    }

    /// Follows the node forever: connects (again and again while it is away), indexes what
    /// it missed and then every new finalized block.
    pub async fn follow(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let client = match self.client() {
                Some(client) => client,
                None => {
                    let config = phala_client::ClientConfig {
                        connect_timeout: Duration::from_secs(5),
                        request_timeout: Duration::from_secs(15),
                        ..Default::default()
                    };
                    match Client::connect_with(&self.url, config).await {
                        Ok(client) => {
                            backoff = Duration::from_millis(500);
                            let mut index = self.index();
                            if index.genesis != Some(client.genesis_hash()) {
                                // Another chain answers at this address: forget the old one.
                                *index = Index {
                                    genesis: Some(client.genesis_hash()),
                                    ..Index::default()
                                };
                            }
                            drop(index);
                            *self.client.write().unwrap_or_else(|p| p.into_inner()) =
                                Some(client.clone());
                            self.set_status(true, None);
                            client
                        }
                        Err(e) => {
                            self.set_status(false, Some(e.to_string()));
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(3));
                            continue;
                        }
                    }
                }
            };
            if let Err(e) = self.catch_up(&client).await {
                tracing::debug!(target: "explorer", "following {}: {e}", self.url);
                self.failed(&e);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Indexes every finalized block after the newest indexed one (at most [`BACKFILL`]
    /// behind the head).
    async fn catch_up(&self, client: &Client) -> Result<(), phala_client::ClientError> {
        let (head, _) = client.finalized_head().await?;
        let start = match self.index().head {
            Some(done) if done >= head => return Ok(()),
            Some(done) => done.saturating_add(1).max(head.saturating_sub(BACKFILL)),
            None => head.saturating_sub(BACKFILL).max(1),
        };
        let live = self.index().head.is_some();
        for number in start..=head {
            let Some(hash) = client.block_hash(number).await? else {
                continue;
            };
            let (block, events, time_ms) = tokio::try_join!(
                client.block(hash),
                client.events_at(hash),
                client.timestamp_at(hash),
            )?;
            let Some(block) = block else { continue };
            let summary = BlockSummary {
                number,
                hash,
                time_ms,
                extrinsics: block.extrinsics.len(),
                events: events.len(),
                seen_ms: live.then(now_ms),
            };
            let json = summary.json();
            {
                let mut index = self.index();
                index.from.get_or_insert(number);
                index.head = Some(number);
                record(&mut index, summary, &block.extrinsics, &events);
            }
            if live {
                let _ = self
                    .live
                    .send(json!({ "type": "block", "block": json }).to_string());
            }
        }
        Ok(())
    }
}

/// Adds one block's facts to the index, keeping every list within its bound.
fn record(
    index: &mut Index,
    summary: BlockSummary,
    extrinsics: &[phala_client::primitives::OpaqueExtrinsic],
    events: &[phala_runtime::modules::system::EventRecord],
) {
    let number = summary.number;
    for (i, xt) in extrinsics.iter().enumerate() {
        let hash = xt.hash();
        let at = (number, u32::try_from(i).unwrap_or(u32::MAX));
        if index.extrinsics.insert(hash, at).is_none() {
            index.extrinsic_order.push_back(hash);
        }
    }
    while index.extrinsic_order.len() > MAX_EXTRINSICS {
        if let Some(old) = index.extrinsic_order.pop_front() {
            index.extrinsics.remove(&old);
        }
    }
    for record in events {
        match &record.event {
            RuntimeEvent::Balances(balances::Event::Transfer { from, to, amount }) => {
                index.transfers.push_back(Transfer {
                    block: number,
                    from: *from,
                    to: *to,
                    amount: *amount,
                });
            }
            RuntimeEvent::Contracts(contracts::Event::CommandExecuted { contract, .. }) => {
                let count = index.commands.entry(*contract).or_default();
                *count = count.saturating_add(1);
            }
            RuntimeEvent::Validators(validators::Event::Slashed { who, amount }) => {
                index.slashes.push_back(Slash {
                    block: number,
                    who: *who,
                    amount: *amount,
                });
            }
            _ => {}
        }
    }
    while index.transfers.len() > MAX_TRANSFERS {
        index.transfers.pop_front();
    }
    while index.slashes.len() > MAX_SLASHES {
        index.slashes.pop_front();
    }
    index.recent.push_back(summary);
    while index.recent.len() > RECENT {
        index.recent.pop_front();
    }
}
