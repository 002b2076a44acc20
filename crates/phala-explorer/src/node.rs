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
/// Attempts at a block whose details do not read (events of a newer runtime, say) before it
/// is indexed without them: one such block must not stop the explorer following.
const TRIES_PER_BLOCK: u32 = 3;
/// Pages' answers kept (each for the block it was computed at).
const MAX_CACHED: usize = 256;
/// Page answers computed at once: the rest wait, so many viewers never mean many times the
/// node's work.
const MAX_COMPUTING: usize = 4;

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
    /// The oldest block whose transfers, commands and slashes are all still kept, and the
    /// newest indexed.
    pub from: Option<BlockNumber>,
    pub head: Option<BlockNumber>,
    head_hash: Option<H256>,
    /// Failed attempts at the next block.
    tries: u32,
    pub recent: VecDeque<BlockSummary>,
    pub transfers: VecDeque<Transfer>,
    pub slashes: VecDeque<Slash>,
    /// `Contracts.CommandExecuted` per contract within the indexed blocks.
    pub commands: HashMap<H256, u64>,
    /// Extrinsic hash → (block, index), for search; the oldest leave first.
    pub extrinsics: HashMap<H256, (BlockNumber, u32)>,
    extrinsic_order: VecDeque<H256>,
}

impl Index {
    /// The mean time between the recent blocks, if there are two.
    pub fn block_time_ms(&self) -> Option<u64> {
        let gaps: Vec<u64> = self
            .recent
            .iter()
            .zip(self.recent.iter().skip(1))
            .filter_map(|(a, b)| b.time_ms.checked_sub(a.time_ms))
            .collect();
        mean(&gaps)
    }
}

/// The mean, if there are values (sums saturate: a node's numbers are not trusted).
pub fn mean(values: &[u64]) -> Option<u64> {
    let count = u64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().fold(0u64, |a, v| a.saturating_add(*v)) / count)
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
    /// The node's address as pages show it: no credentials, path or query (they may hold
    /// an API key).
    pub public_url: String,
    client: RwLock<Option<Client>>,
    pub status: Mutex<Status>,
    pub index: Mutex<Index>,
    /// Page updates: one JSON text per event, for `/api/live`.
    pub live: broadcast::Sender<String>,
    cache: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Value>>>>,
    computing: tokio::sync::Semaphore,
    /// Open `/api/live` streams.
    pub streams: Arc<tokio::sync::Semaphore>,
}

/// Most pages listening live at once.
pub const MAX_STREAMS: usize = 256;

/// `scheme://host:port` of `url`, without user, password, path or query.
pub fn public_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    }
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
            public_url: public_url(&url),
            url,
            client: RwLock::new(None),
            status: Mutex::new(Status::default()),
            index: Mutex::new(Index::default()),
            live,
            cache: Mutex::new(HashMap::new()),
            computing: tokio::sync::Semaphore::new(MAX_COMPUTING),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        })
    }

    /// A page's answer for the newest indexed block: computed once however many ask at
    /// once, and kept until the next block.
    pub async fn cached<F, E>(&self, page: &str, compute: F) -> Result<Value, E>
    where
        F: std::future::Future<Output = Result<Value, E>>,
    {
        let key = format!("{}@{:?}", page, self.index().head_hash);
        let cell = {
            let mut cache = lock(&self.cache);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.entry(key).or_default().clone()
        };
        let value = cell
            .get_or_try_init(|| async {
                let _permit = self.computing.acquire().await;
                compute.await
            })
            .await?;
        Ok(value.clone())
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
            "node": self.public_url,
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
            status.error = error.map(|e| self.redact(e));
            changed
        };
        if changed {
            let _ = self.live.send(self.status_json().to_string());
        }
    }

    /// `text` without the node's full address (which may hold credentials).
    pub fn redact(&self, text: String) -> String {
        if self.url == self.public_url {
            text
        } else {
            text.replace(&self.url, &self.public_url)
        }
    }

    /// A request failed: if the connection is gone, drop the client so the follower
    /// reconnects, and tell open pages. (A slow answer is not a lost node: under load, one
    /// page's timeout must not cut every page off.)
    pub fn failed(&self, error: &phala_client::ClientError) {
        use phala_client::ClientError::{Connect, Disconnected};
        if matches!(error, Disconnected { .. } | Connect { .. }) {
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
                            // Another chain at this address, or this chain begun again
                            // (same genesis, other blocks): forget what was indexed.
                            let (genesis, head) = {
                                let index = self.index();
                                (index.genesis, index.head.zip(index.head_hash))
                            };
                            let same = match head {
                                Some((number, hash)) => {
                                    client.block_hash(number).await.ok().flatten() == Some(hash)
                                }
                                None => true,
                            };
                            if genesis != Some(client.genesis_hash()) || !same {
                                *self.index() = Index {
                                    genesis: Some(client.genesis_hash()),
                                    ..Index::default()
                                };
                            }
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
                tracing::debug!(target: "explorer", "following {}: {e}", self.public_url);
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
            let read = tokio::try_join!(
                client.block(hash),
                client.events_at(hash),
                client.timestamp_at(hash),
            );
            let (block, events, time_ms) = match read {
                Ok((Some(block), events, time)) => (block.extrinsics, events, time),
                Ok((None, ..)) => continue,
                Err(e) if is_connection(&e) => return Err(e),
                Err(e) => {
                    let tries = {
                        let mut index = self.index();
                        index.tries = index.tries.saturating_add(1);
                        index.tries
                    };
                    if tries < TRIES_PER_BLOCK {
                        return Err(e);
                    }
                    tracing::warn!(target: "explorer", "block #{number} is indexed without its details: {e}");
                    let time = client.timestamp_at(hash).await.unwrap_or(0);
                    (Vec::new(), Vec::new(), time)
                }
            };
            // A block's finality latency only means something if it was seen as it came.
            let fresh = live && head.saturating_sub(number) <= 2;
            let summary = BlockSummary {
                number,
                hash,
                time_ms,
                extrinsics: block.len(),
                events: events.len(),
                seen_ms: fresh.then(now_ms),
            };
            let json = summary.json();
            {
                let mut index = self.index();
                index.tries = 0;
                index.from.get_or_insert(number);
                index.head = Some(number);
                index.head_hash = Some(hash);
                record(&mut index, summary, &block, &events);
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

fn is_connection(error: &phala_client::ClientError) -> bool {
    use phala_client::ClientError::{Connect, Disconnected, Timeout};
    matches!(error, Disconnected { .. } | Connect { .. } | Timeout { .. })
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
    // What leaves moves the start of what the account and validator pages can claim.
    while index.transfers.len() > MAX_TRANSFERS {
        if let Some(gone) = index.transfers.pop_front() {
            index.from = Some(gone.block.saturating_add(1));
        }
    }
    while index.slashes.len() > MAX_SLASHES {
        if let Some(gone) = index.slashes.pop_front() {
            index.from = index.from.max(Some(gone.block.saturating_add(1)));
        }
    }
    index.recent.push_back(summary);
    while index.recent.len() > RECENT {
        index.recent.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(number: BlockNumber, time_ms: u64) -> BlockSummary {
        BlockSummary {
            number,
            hash: H256::zero(),
            time_ms,
            extrinsics: 0,
            events: 0,
            seen_ms: None,
        }
    }

    #[test]
    fn block_time_is_the_mean_gap() {
        let mut index = Index::default();
        assert_eq!(index.block_time_ms(), None);
        index.recent.push_back(at(1, 5));
        assert_eq!(index.block_time_ms(), None);
        index.recent.extend([at(2, 1_005), at(3, 3_005)]);
        assert_eq!(index.block_time_ms(), Some(1_500));
        assert_eq!(mean(&[u64::MAX, u64::MAX]), Some(u64::MAX / 2));
    }
}
