//! Fair sharing of the worker's CPU among flows of requests: start-time fair queuing (SFQ,
//! Goyal, Vin and Cheng 1996), as classic Phala scheduled queries.
//!
//! Each flow (a caller, an address) has a virtual finish tag: how much service it has had,
//! divided by its weight. A job is tagged when it reaches the head of its flow's queue with
//! the start tag `max(virtual time, the flow's finish tag)`, and the executors always take
//! the smallest start tag, so a flow that has had a lot waits behind one that has had
//! little. What a job costs is unknown until it ran: the flow is charged its running
//! estimate when the job starts and the measured cost corrects its tag when it ends, so a
//! flow of expensive jobs slows itself, not the others.
//!
//! Everything is bounded: jobs waiting per flow and in all, flows remembered (idle flows are
//! forgotten, those that owe nothing first), and jobs running at once per flow and per group
//! (the flows one address opens: accounts cost nothing to make), so one sender can never
//! hold every executor while others wait. A job that does not fit is handed back with the
//! reason, for its sender alone.
//!
//! [`Pool`] runs the jobs of a [`FairQueue`] on a bounded number of std threads, started when
//! work arrives and ended when none is left.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Bounds of a [`FairQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Jobs one flow may have waiting.
    pub per_flow: usize,
    /// Jobs waiting in all.
    pub total: usize,
    /// Flows remembered: those with jobs, and idle ones whose debt is still remembered.
    pub flows: usize,
    /// Jobs of one flow running at once.
    pub running_per_flow: usize,
    /// Jobs of one group (flows from one address) running at once.
    pub running_per_group: usize,
}

/// Why a job was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} requests of this sender are already waiting")]
    FlowFull(usize),
    #[error("{0} requests are waiting, the most this worker queues")]
    QueueFull(usize),
    #[error("{0} senders are busy, the most this worker serves at once")]
    TooManyFlows(usize),
    #[error("the worker cannot start a thread to run requests")]
    NoExecutor,
}

/// The least a job is charged, so that even free jobs advance their flow's tag.
const MIN_COST: u64 = 1;
/// What a flow's first job is charged before anything was measured (ns).
const INITIAL_ESTIMATE: u64 = 100_000;

struct Flow<G, J> {
    /// Each job with its group.
    waiting: VecDeque<(G, J)>,
    /// Where the flow's next job starts: its last job's start plus its charge.
    finish: u64,
    /// The head's key in `FairQueue::ready`, when the flow may run one more.
    head: Option<(u64, u64)>,
    running: usize,
    weight: u64,
    /// A running mean of what its jobs cost.
    estimate: u64,
}

impl<G, J> Flow<G, J> {
    fn idle(&self) -> bool {
        self.waiting.is_empty() && self.running == 0
    }
}

/// A job taken from the queue: give it back to [`FairQueue::done`] with its cost.
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket<K, G> {
    flow: K,
    group: G,
    /// What the flow was charged when the job started (before weighting).
    charged: u64,
}

/// Start-time fair queuing of jobs `J` among flows `K`. Costs are in any unit, the same for
/// all jobs (the pool uses nanoseconds of an executor). Each job also belongs to a group
/// `G` (the address it came from), which bounds how many run at once across the flows one
/// address may open.
pub struct FairQueue<K, G, J> {
    limits: Limits,
    flows: HashMap<K, Flow<G, J>>,
    /// Heads of flows that may run one more, by (start tag, arrival order).
    ready: BTreeMap<(u64, u64), K>,
    /// Jobs running per group; groups at zero are removed.
    groups: HashMap<G, usize>,
    /// The start tag of the last job served: where new or idle flows start.
    virtual_time: u64,
    waiting: usize,
    sequence: u64,
    /// A running mean over all flows: a new flow's first estimate.
    estimate: u64,
}

impl<K, G, J> std::fmt::Debug for FairQueue<K, G, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FairQueue")
            .field("limits", &self.limits)
            .field("flows", &self.flows.len())
            .field("waiting", &self.waiting)
            .field("virtual_time", &self.virtual_time)
            .finish()
    }
}

/// The next value of a running mean that weighs the newest sample a quarter.
fn mean(old: u64, sample: u64) -> u64 {
    (old / 4)
        .saturating_mul(3)
        .saturating_add(sample / 4)
        .max(MIN_COST)
}

impl<K: Clone + Eq + Hash, G: Clone + Eq + Hash, J> FairQueue<K, G, J> {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            flows: HashMap::new(),
            ready: BTreeMap::new(),
            groups: HashMap::new(),
            virtual_time: 0,
            waiting: 0,
            sequence: 0,
            estimate: INITIAL_ESTIMATE,
        }
    }

    /// Jobs waiting.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Flows remembered.
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Queues `job` of `group` for `flow`; a flow seen for the first time gets `weight` (at
    /// least 1): its share of the executors against others with work. Hands the job back if
    /// it does not fit.
    pub fn push(&mut self, flow: K, group: G, weight: u64, job: J) -> Result<(), (Refused, J)> {
        if self.waiting >= self.limits.total {
            return Err((Refused::QueueFull(self.limits.total), job));
        }
        if !self.flows.contains_key(&flow) && self.flows.len() >= self.limits.flows {
            self.forget_idle();
            if self.flows.len() >= self.limits.flows {
                return Err((Refused::TooManyFlows(self.limits.flows), job));
            }
        }
        let (virtual_time, estimate) = (self.virtual_time, self.estimate);
        let state = match self.flows.entry(flow.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Flow {
                waiting: VecDeque::new(),
                finish: virtual_time,
                head: None,
                running: 0,
                weight: weight.max(1),
                estimate,
            }),
        };
        if state.waiting.len() >= self.limits.per_flow {
            return Err((Refused::FlowFull(self.limits.per_flow), job));
        }
        state.waiting.push_back((group, job));
        self.waiting = self.waiting.saturating_add(1);
        self.tag_head(&flow);
        Ok(())
    }

    /// The job with the smallest start tag among flows that may run one more and whose
    /// head's group may too, if any.
    pub fn pop(&mut self) -> Option<(Ticket<K, G>, J)> {
        // Heads passed over belong to groups at their limit: at most a few groups' worth,
        // since those groups' jobs hold the executors.
        let (&(start, sequence), key) = self.ready.iter().find(|(_, key)| {
            self.flows
                .get(*key)
                .and_then(|flow| flow.waiting.front())
                .is_some_and(|(group, _)| {
                    self.groups.get(group).copied().unwrap_or(0) < self.limits.running_per_group
                })
        })?;
        let key = key.clone();
        self.ready.remove(&(start, sequence));
        let flow = self.flows.get_mut(&key)?;
        flow.head = None;
        let (group, job) = flow.waiting.pop_front()?;
        self.waiting = self.waiting.saturating_sub(1);
        self.virtual_time = self.virtual_time.max(start);
        flow.finish = start.saturating_add((flow.estimate / flow.weight).max(MIN_COST));
        flow.running = flow.running.saturating_add(1);
        let charged = flow.estimate;
        let running = self.groups.entry(group.clone()).or_default();
        *running = running.saturating_add(1);
        self.tag_head(&key);
        Some((
            Ticket {
                flow: key,
                group,
                charged,
            },
            job,
        ))
    }

    /// Ends a job: its flow pays what it cost instead of what it was charged.
    pub fn done(&mut self, ticket: Ticket<K, G>, cost: u64) {
        let cost = cost.max(MIN_COST);
        self.estimate = mean(self.estimate, cost);
        if let Entry::Occupied(mut running) = self.groups.entry(ticket.group) {
            *running.get_mut() = running.get().saturating_sub(1);
            if *running.get() == 0 {
                running.remove();
            }
        }
        let virtual_time = self.virtual_time;
        let Some(flow) = self.flows.get_mut(&ticket.flow) else {
            return;
        };
        flow.running = flow.running.saturating_sub(1);
        flow.finish = flow
            .finish
            .saturating_add(cost / flow.weight)
            .saturating_sub(ticket.charged / flow.weight);
        flow.estimate = mean(flow.estimate, cost);
        if flow.idle() && flow.finish <= virtual_time {
            // It owes nothing: a new job of it would start at the virtual time anyway.
            self.flows.remove(&ticket.flow);
            return;
        }
        // The head's tag was computed with the estimate; the correction moves it.
        if let Some(key) = flow.head.take() {
            self.ready.remove(&key);
        }
        self.tag_head(&ticket.flow);
    }

    /// Makes the head of `flow` ready if it has one and may run one more job.
    fn tag_head(&mut self, key: &K) {
        let Some(flow) = self.flows.get_mut(key) else {
            return;
        };
        if flow.head.is_some()
            || flow.waiting.is_empty()
            || flow.running >= self.limits.running_per_flow
        {
            return;
        }
        let start = flow.finish.max(self.virtual_time);
        let tag = (start, self.sequence);
        self.sequence = self.sequence.wrapping_add(1);
        flow.head = Some(tag);
        self.ready.insert(tag, key.clone());
    }

    /// Forgets idle flows: all that owe nothing, or else the one that owes least, so a new
    /// flow can be remembered. Runs only when the table is full.
    fn forget_idle(&mut self) {
        let virtual_time = self.virtual_time;
        let before = self.flows.len();
        self.flows
            .retain(|_, flow| !(flow.idle() && flow.finish <= virtual_time));
        if self.flows.len() < before {
            return;
        }
        let least = self
            .flows
            .iter()
            .filter(|(_, flow)| flow.idle())
            .min_by_key(|(_, flow)| flow.finish)
            .map(|(key, _)| key.clone());
        if let Some(key) = least {
            self.flows.remove(&key);
        }
    }
}

/// Work for a pool thread.
pub trait Task: Send + 'static {
    fn run(self);
}

impl Task for Box<dyn FnOnce() + Send> {
    fn run(self) {
        self()
    }
}

struct PoolState<K, G, J> {
    queue: FairQueue<K, G, J>,
    /// Threads running (each takes jobs until none may run).
    threads: usize,
}

/// Runs the jobs of a [`FairQueue`] on at most `threads` std threads, measuring each job's
/// wall time as its cost (a job holds its thread for that long, CPU or not). Clones share
/// the queue and the threads.
pub struct Pool<K, G, J> {
    name: &'static str,
    max_threads: usize,
    state: Arc<Mutex<PoolState<K, G, J>>>,
}

impl<K, G, J> Clone for Pool<K, G, J> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            max_threads: self.max_threads,
            state: self.state.clone(),
        }
    }
}

impl<K, G, J> std::fmt::Debug for Pool<K, G, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("max_threads", &self.max_threads)
            .finish_non_exhaustive()
    }
}

impl<K, G, J> Pool<K, G, J>
where
    K: Clone + Eq + Hash + Send + 'static,
    G: Clone + Eq + Hash + Send + 'static,
    J: Task,
{
    /// A pool of at most `max_threads` threads (at least one); a flow, and a group, runs at
    /// most `limits.running_per_flow` and `limits.running_per_group` jobs at once (at least
    /// one).
    pub fn new(name: &'static str, max_threads: usize, limits: Limits) -> Self {
        Self {
            name,
            max_threads: max_threads.max(1),
            state: Arc::new(Mutex::new(PoolState {
                queue: FairQueue::new(Limits {
                    running_per_flow: limits.running_per_flow.max(1),
                    running_per_group: limits.running_per_group.max(1),
                    ..limits
                }),
                threads: 0,
            })),
        }
    }

    /// Jobs waiting and flows remembered.
    pub fn load(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.queue.waiting(), state.queue.flows())
    }

    /// Queues `job` for `flow` (see [`FairQueue::push`]); hands it back if refused.
    pub fn submit(&self, flow: K, group: G, weight: u64, job: J) -> Result<(), (Refused, J)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.queue.push(flow, group, weight, job)?;
        // Threads end only when no job may run, so one more is needed only if some are free.
        if state.threads >= self.max_threads {
            return Ok(());
        }
        let shared = self.state.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{}", self.name, state.threads))
            .spawn(move || run(&shared));
        match spawned {
            Ok(_) => state.threads = state.threads.saturating_add(1),
            // With no thread at all nothing else can be waiting (a job waits unrun only while
            // its flow or group has others running), so the one job queued is this one.
            Err(_) if state.threads == 0 => {
                if let Some((ticket, job)) = state.queue.pop() {
                    state.queue.done(ticket, MIN_COST);
                    return Err((Refused::NoExecutor, job));
                }
            }
            // The threads running will come to it.
            Err(_) => {}
        }
        Ok(())
    }
}

/// A pool thread: takes the fairest job until none may run, then ends.
fn run<K: Clone + Eq + Hash, G: Clone + Eq + Hash, J: Task>(state: &Mutex<PoolState<K, G, J>>) {
    let mut finished: Option<(Ticket<K, G>, u64)> = None;
    loop {
        let next = {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((ticket, cost)) = finished.take() {
                state.queue.done(ticket, cost);
            }
            let next = state.queue.pop();
            if next.is_none() {
                state.threads = state.threads.saturating_sub(1);
            }
            next
        };
        let Some((ticket, job)) = next else {
            return;
        };
        let started = Instant::now();
        // A panicking job must not take its thread, and its charge, with it; whoever waits
        // for it hears when the job's channel is dropped.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
        let cost = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        finished = Some((ticket, cost));
    }
}

#[cfg(test)]
#[path = "fair_tests.rs"]
mod tests;
