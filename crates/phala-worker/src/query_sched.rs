//! Fair scheduling of `POST /query`, so that one client flooding the worker slows only
//! itself.
//!
//! A query passes two stages, each a [`Pool`] of std threads sharing its work by
//! start-time fair queuing:
//!
//! 1. *Opening* (decrypt, check signatures and the replay guard): before it the caller is
//!    unknown, so its flows are source addresses ([`Source`]: an IPv4 address, an IPv6 /64).
//!    It is cheap, and no source may hold more than half its threads.
//! 2. *Execution* (run the contract or answer for the worker, sign, seal): its flows are
//!    callers, the account for signed queries (directly or through a session key) and the
//!    source for anonymous ones, which weigh half as much. A caller's measured running time
//!    is what it is charged, so expensive queries cost their own caller. No caller, and no
//!    source whatever accounts it signs with, runs on more than half the threads, so long
//!    queries (a contract waiting on HTTP, up to the query timeout) cannot hold them all.
//!
//! Everything a sender can fill is bounded for that sender first: queries and bytes in the
//! worker per source, queries waiting per flow, then in all; over its own bound a sender gets
//! HTTP 429 and no one else notices; over a global one, HTTP 503. Either way the query was
//! not run and its nonce is not spent: the same request may be sent again. A query whose
//! client is gone, or whose deadline passed while it waited, is dropped unrun.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use phala_crypto::query::Source;
use phala_primitives::AccountId32;
use tokio::sync::oneshot;

use crate::fair::{Limits, Pool, Refused, Task};
use crate::query::{Opened, QueryService, QueryServiceError};

/// Most queries one source may have in the worker (waiting or running, either stage).
pub const MAX_QUERIES_PER_SOURCE: usize = 64;
/// Most request bytes one source may have in the worker.
pub const MAX_BYTES_PER_SOURCE: usize = 8 * 1024 * 1024;
/// Most queries one network (an IPv4 /24, an IPv6 /48: see [`Source::network`]) may have
/// in the worker, whatever its addresses.
pub const MAX_QUERIES_PER_NETWORK: usize = 128;
/// Most queries in the worker in all: eight networks at their limit.
pub const MAX_QUERIES: usize = 1024;
/// Most request bytes in the worker in all.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Most queries one caller may have waiting to run.
pub const MAX_WAITING_PER_CALLER: usize = 32;
/// Most flows (sources or callers) each stage remembers; idle ones are forgotten first.
pub const MAX_FLOWS: usize = 4096;
/// A signed caller's share against an anonymous one's.
const SIGNED_WEIGHT: u64 = 2;
const ANONYMOUS_WEIGHT: u64 = 1;

/// Who a query runs for: a flow of the execution stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    Account(AccountId32),
    Anonymous(Source),
}

/// What became of a query.
#[derive(Debug)]
pub enum Outcome {
    /// The sealed reply: an answer, or a refusal only the caller can read.
    Reply(Vec<u8>),
    /// The request does not open or decode.
    Invalid(QueryServiceError),
    /// Not taken, or not run: see [`Refusal::sender_only`].
    Refused(Refusal),
    /// Its deadline passed while it waited.
    TimedOut,
}

/// Why a query was not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("{0} queries from this address are in progress, its limit: wait for their answers")]
    SourceQueries(usize),
    #[error(
        "{0} bytes of queries from this address are in progress, its limit: wait for their \
         answers"
    )]
    SourceBytes(usize),
    #[error("the worker has {0} queries in progress, its limit: retry later")]
    WorkerFull(usize),
    #[error("the worker has {0} bytes of queries in progress, its limit: retry later")]
    WorkerBytes(usize),
    #[error("opening queries: {0}")]
    Opening(Refused),
    #[error("running queries: {0}: wait for their answers")]
    Execution(Refused),
}

impl Refusal {
    /// Whether the refusal is the sender's own doing (its own bound was reached: HTTP 429),
    /// rather than the worker's (HTTP 503).
    pub fn sender_only(&self) -> bool {
        matches!(
            self,
            Refusal::SourceQueries(_)
                | Refusal::SourceBytes(_)
                | Refusal::Opening(Refused::FlowFull(_))
                | Refusal::Execution(Refused::FlowFull(_))
        )
    }
}

/// Queries and bytes in the worker, per source and in all.
#[derive(Debug, Default)]
struct Places {
    per_source: HashMap<Source, (usize, usize)>,
    per_network: HashMap<Source, usize>,
    queries: usize,
    bytes: usize,
}

/// A query's place in the worker, given back when its work ends or is dropped, whichever
/// stage it is in: a query stuck running still counts against its source.
struct Place {
    places: Arc<Mutex<Places>>,
    source: Source,
    bytes: usize,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        places.queries = places.queries.saturating_sub(1);
        places.bytes = places.bytes.saturating_sub(self.bytes);
        if let std::collections::hash_map::Entry::Occupied(mut entry) =
            places.per_source.entry(self.source)
        {
            let (queries, bytes) = entry.get_mut();
            *queries = queries.saturating_sub(1);
            *bytes = bytes.saturating_sub(self.bytes);
            if *queries == 0 {
                entry.remove();
            }
        }
        if let std::collections::hash_map::Entry::Occupied(mut entry) =
            places.per_network.entry(self.source.network())
        {
            *entry.get_mut() = entry.get().saturating_sub(1);
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }
}

/// The work of a query, as it goes from stage to stage.
struct Work<T> {
    service: Arc<QueryService>,
    source: Source,
    deadline: Instant,
    place: Place,
    reply: oneshot::Sender<Outcome>,
    what: T,
}

impl<T> Work<T> {
    /// Whether anyone still waits for it in time; if not, it is dropped unrun.
    fn wanted(&self) -> bool {
        !self.reply.is_closed() && Instant::now() < self.deadline
    }

    fn answer(self, outcome: Outcome) {
        // The client may have gone; nothing to do then.
        let _ = self.reply.send(outcome);
    }

    fn next<U>(self, what: U) -> Work<U> {
        Work {
            service: self.service,
            source: self.source,
            deadline: self.deadline,
            place: self.place,
            reply: self.reply,
            what,
        }
    }
}

/// Opening: the request and the pool of the stage after it.
struct Open {
    request: Bytes,
    execution: Pool<Caller, Source, Work<Opened>>,
}

impl Task for Work<Open> {
    fn run(self) {
        if !self.wanted() {
            if !self.reply.is_closed() {
                self.answer(Outcome::TimedOut);
            }
            return;
        }
        let opened = match self.service.open(&self.what.request, self.source) {
            Ok(opened) => opened,
            Err(e) => return self.answer(Outcome::Invalid(e)),
        };
        let execution = self.what.execution.clone();
        let Some(caller) = opened.admitted() else {
            // Refused with a reason only the caller reads: sealing it is all that is left.
            let work = self.next(opened);
            return work.run();
        };
        let (flow, weight) = match caller {
            Some(account) => (Caller::Account(account), SIGNED_WEIGHT),
            None => (Caller::Anonymous(self.source), ANONYMOUS_WEIGHT),
        };
        let source = self.source;
        if let Err((why, work)) = execution.submit(flow, source, weight, self.next(opened)) {
            // Refused unrun: the same query may come again.
            work.service.unadmit(&work.what);
            work.answer(Outcome::Refused(Refusal::Execution(why)));
        }
    }
}

impl Task for Work<Opened> {
    fn run(self) {
        if !self.wanted() {
            if !self.reply.is_closed() {
                self.answer(Outcome::TimedOut);
            }
            return;
        }
        let mut rng = commonware_utils::sys_rng();
        let outcome = match self.service.finish(&mut rng, self.what, self.deadline) {
            Ok(reply) => Outcome::Reply(reply),
            Err(e) => Outcome::Invalid(e),
        };
        let _ = self.reply.send(outcome);
        // The place is given back here, with the last of the query's work.
    }
}

/// The two stages and the bounds on what waits in them; see the module documentation.
pub struct QueryScheduler {
    opening: Pool<Source, Source, Work<Open>>,
    execution: Pool<Caller, Source, Work<Opened>>,
    places: Arc<Mutex<Places>>,
}

impl std::fmt::Debug for QueryScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryScheduler")
            .field("opening", &self.opening.load())
            .field("execution", &self.execution.load())
            .finish_non_exhaustive()
    }
}

impl Default for QueryScheduler {
    /// Opening on as many threads as cores; execution on twice as many (contracts may wait
    /// on HTTP, and no caller may take more than half).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores.clamp(1, 16), cores.saturating_mul(2).clamp(2, 64))
    }
}

impl QueryScheduler {
    pub fn new(opening_threads: usize, execution_threads: usize) -> Self {
        let limits = |per_flow, threads: usize| Limits {
            per_flow,
            total: MAX_QUERIES,
            flows: MAX_FLOWS,
            running_per_flow: (threads / 2).max(1),
            running_per_group: (threads / 2).max(1),
        };
        Self {
            opening: Pool::new(
                "query-open",
                opening_threads,
                limits(MAX_QUERIES_PER_SOURCE, opening_threads),
            ),
            execution: Pool::new(
                "query-run",
                execution_threads,
                limits(MAX_WAITING_PER_CALLER, execution_threads),
            ),
            places: Arc::default(),
        }
    }

    /// Queries in the worker, and how many wait to be opened and to run.
    pub fn load(&self) -> (usize, usize, usize) {
        let queries = self
            .places
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queries;
        (queries, self.opening.load().0, self.execution.load().0)
    }

    /// Takes `request` from `source` into the worker: the outcome arrives on the receiver.
    /// Contracts stop at `deadline`, and a query still waiting then is dropped.
    pub fn submit(
        &self,
        service: Arc<QueryService>,
        source: Source,
        request: Bytes,
        deadline: Instant,
    ) -> Result<oneshot::Receiver<Outcome>, Refusal> {
        let place = self.take_place(source, request.len())?;
        let (reply, receiver) = oneshot::channel();
        let work = Work {
            service,
            source,
            deadline,
            place,
            reply,
            what: Open {
                request,
                execution: self.execution.clone(),
            },
        };
        self.opening
            .submit(source, source, 1, work)
            .map_err(|(why, _)| Refusal::Opening(why))?;
        Ok(receiver)
    }

    fn take_place(&self, source: Source, bytes: usize) -> Result<Place, Refusal> {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        let (queries, held) = places.per_source.get(&source).copied().unwrap_or((0, 0));
        if queries >= MAX_QUERIES_PER_SOURCE {
            return Err(Refusal::SourceQueries(MAX_QUERIES_PER_SOURCE));
        }
        if places
            .per_network
            .get(&source.network())
            .copied()
            .unwrap_or(0)
            >= MAX_QUERIES_PER_NETWORK
        {
            return Err(Refusal::SourceQueries(MAX_QUERIES_PER_NETWORK));
        }
        if held.saturating_add(bytes) > MAX_BYTES_PER_SOURCE {
            return Err(Refusal::SourceBytes(MAX_BYTES_PER_SOURCE));
        }
        if places.queries >= MAX_QUERIES {
            return Err(Refusal::WorkerFull(MAX_QUERIES));
        }
        if places.bytes.saturating_add(bytes) > MAX_BYTES {
            return Err(Refusal::WorkerBytes(MAX_BYTES));
        }
        places.queries = places.queries.saturating_add(1);
        places.bytes = places.bytes.saturating_add(bytes);
        let entry = places.per_source.entry(source).or_default();
        entry.0 = entry.0.saturating_add(1);
        entry.1 = entry.1.saturating_add(bytes);
        let network = places.per_network.entry(source.network()).or_default();
        *network = network.saturating_add(1);
        Ok(Place {
            places: self.places.clone(),
            source,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use phala_crypto::EcdhSecret;
    use phala_keys::Sr25519Pair;
    use phala_primitives::H256;

    use super::*;

    fn source(last: u8) -> Source {
        Source::from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    fn service() -> Arc<QueryService> {
        Arc::new(QueryService::with_keys(
            H256([1; 32]),
            10,
            H256([2; 32]),
            EcdhSecret::from_bytes([3; 32]),
            Sr25519Pair::from_uri("//Worker").unwrap(),
        ))
    }

    #[test]
    fn a_source_over_its_bounds_is_refused_alone_until_its_queries_end() {
        let scheduler = QueryScheduler::new(1, 2);
        let mut held: Vec<Place> = (0..MAX_QUERIES_PER_SOURCE)
            .map(|_| scheduler.take_place(source(1), 100).unwrap())
            .collect();
        let refusal = scheduler.take_place(source(1), 100).err().unwrap();
        assert_eq!(refusal, Refusal::SourceQueries(MAX_QUERIES_PER_SOURCE));
        assert!(refusal.sender_only());
        // Another address is not affected.
        let other = scheduler.take_place(source(2), 100).unwrap();
        // One query of the first ends: it may send one more.
        held.pop();
        held.push(scheduler.take_place(source(1), 100).unwrap());
        assert_eq!(scheduler.load().0, MAX_QUERIES_PER_SOURCE + 1);
        // Bytes are bounded per source too.
        assert_eq!(
            scheduler
                .take_place(source(2), MAX_BYTES_PER_SOURCE)
                .err()
                .unwrap(),
            Refusal::SourceBytes(MAX_BYTES_PER_SOURCE)
        );
        drop((held, other));
        assert_eq!(scheduler.load().0, 0);
        assert!(scheduler.places.lock().unwrap().per_source.is_empty());
        assert!(scheduler.places.lock().unwrap().per_network.is_empty());
    }

    /// An address in a network (/24) of its own.
    fn network_source(n: u8) -> Source {
        Source::from(IpAddr::V4(Ipv4Addr::new(198, 18, n, 1)))
    }

    #[test]
    fn one_networks_addresses_fill_only_its_share() {
        let scheduler = QueryScheduler::new(1, 2);
        let mut held = Vec::new();
        for s in 0..=u8::MAX {
            match scheduler.take_place(source(s), 10) {
                Ok(place) => held.push(place),
                Err(why) => {
                    assert_eq!(why, Refusal::SourceQueries(MAX_QUERIES_PER_NETWORK));
                    assert!(why.sender_only());
                    break;
                }
            }
        }
        assert_eq!(held.len(), MAX_QUERIES_PER_NETWORK.min(256));
        assert!(scheduler.take_place(network_source(7), 10).is_ok());
    }

    #[test]
    fn the_worker_refuses_everyone_only_when_many_networks_fill_it() {
        let scheduler = QueryScheduler::new(1, 2);
        let mut held = Vec::new();
        for s in 0..=u8::MAX {
            for _ in 0..MAX_QUERIES_PER_SOURCE {
                match scheduler.take_place(network_source(s), 10) {
                    Ok(place) => held.push(place),
                    Err(why) => {
                        assert_eq!(why, Refusal::WorkerFull(MAX_QUERIES));
                        assert!(!why.sender_only());
                        assert_eq!(held.len(), MAX_QUERIES);
                        assert!(usize::from(s) >= MAX_QUERIES / MAX_QUERIES_PER_NETWORK);
                        return;
                    }
                }
            }
        }
        panic!("never full");
    }

    #[tokio::test]
    async fn garbage_is_invalid_and_a_late_query_is_not_run() {
        let scheduler = QueryScheduler::new(1, 2);
        let later = Instant::now() + Duration::from_secs(10);
        let outcome = scheduler
            .submit(
                service(),
                source(1),
                Bytes::from_static(b"not an envelope"),
                later,
            )
            .unwrap()
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Invalid(_)), "{outcome:?}");
        let outcome = scheduler
            .submit(
                service(),
                source(1),
                Bytes::from_static(b"too late"),
                Instant::now(),
            )
            .unwrap()
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        // Both gave their places back.
        for _ in 0..1_000 {
            if scheduler.load() == (0, 0, 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("places not given back: {:?}", scheduler.load());
    }
}
