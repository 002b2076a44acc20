//! The analyses, over authorized records only, with small cells hidden.
//!
//! Every report has a fixed shape: one cell per day, hour or 5-minute window, or one key
//! within one day; a range of days is the sum of its days' shown cells, never a count of its
//! own. Within one report and day, the cells it hides together describe nobody or at least
//! the minimum cohort: when the hidden cells' people number from 1 to k−1, the smallest shown
//! cell is hidden too, so subtracting shown cells from a total (the day's traffic, say)
//! never isolates fewer than k people. With differential privacy, every shown count carries
//! discrete Laplace noise scaled to what one visitor-day can contribute (contributions are
//! clamped first), and hiding is decided on the noisy counts.

use std::collections::{BTreeMap, BTreeSet};

use phala_mq::analytics_api::{
    Analysis, AnalyticsAnswer, AnswerBody, Cell, Days, Device, MAX_DAYS, SCREEN_BUCKETS,
};

use super::dp::{Noise, SharedLedger};
use super::{DAY_MS, HOUR_MS, SiteData, StoredView};

/// The realtime window.
pub const REALTIME_MS: u64 = 5 * 60 * 1000;
/// A visit ends after this long without a page view (Plausible's rule).
pub const VISIT_GAP_MS: u64 = 30 * 60 * 1000;
/// A visit's duration counts at most this much.
pub const MAX_VISIT_MS: u64 = 30 * 60 * 1000;
/// Per visitor-day, in differentially private answers: hours counted, keys counted per top
/// list, views counted per cell, visits counted.
pub const DP_HOURS: usize = 4;
pub const DP_KEYS: usize = 2;
pub const DP_VIEWS_PER_CELL: u64 = 5;
pub const DP_VISITS: usize = 5;
/// Rows a top list shows at most.
pub const MAX_ROWS: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("no open analytics site {0} in this worker's cluster")]
    UnknownSite(u64),
    #[error("this account may not run the {0} analysis on site {1}")]
    NotAllowed(&'static str, u64),
    #[error("site {site} does not offer the {name} analysis")]
    NotOffered { site: u64, name: &'static str },
    #[error("an analysis covers 1 to {MAX_DAYS} days")]
    BadDays,
    #[error(transparent)]
    Budget(#[from] super::dp::BudgetSpent),
}

pub fn name(analysis: &Analysis) -> &'static str {
    match analysis {
        Analysis::Realtime => "realtime",
        Analysis::Traffic { .. } => "traffic",
        Analysis::Pages { .. } => "pages",
        Analysis::Sources { .. } => "sources",
        Analysis::Devices { .. } => "devices",
        Analysis::Engagement { .. } => "engagement",
    }
}

/// The noise an analysis needs: what one visitor-day can change in its cells, summed.
fn sensitivity(analysis: &Analysis) -> u64 {
    let per_cell = 1 + DP_VIEWS_PER_CELL;
    match analysis {
        Analysis::Realtime => 1,
        Analysis::Traffic { hourly: false, .. } => per_cell,
        Analysis::Traffic { hourly: true, .. } => per_cell * DP_HOURS as u64,
        Analysis::Pages { .. } | Analysis::Sources { .. } => per_cell * DP_KEYS as u64,
        // One device class and one screen bucket a visitor-day.
        Analysis::Devices { .. } => per_cell * 2,
        // The visitor (the day's people count), visits and bounces.
        Analysis::Engagement { .. } => 1 + 2 * DP_VISITS as u64,
    }
}

/// Answers `analysis` of `site` for `who` at block time `now_ms`. Differentially private
/// sites charge this member's `ledger` first, against its share of the daily budget (the
/// budget split evenly among the cluster's `members`, so all of them together never spend
/// more than the budget).
#[allow(clippy::too_many_arguments)]
pub fn analyse(
    rng: &mut impl rand_core::CryptoRng,
    site_id: u64,
    site: &SiteData,
    who: &phala_primitives::AccountId32,
    analysis: Analysis,
    now_ms: u64,
    ledger: &SharedLedger,
    members: u32,
) -> Result<AnalyticsAnswer, ReportError> {
    let purpose = analysis.purpose();
    let name = name(&analysis);
    if site.config.purposes & purpose == 0 {
        return Err(ReportError::NotOffered {
            site: site_id,
            name,
        });
    }
    if site.allowed(who) & purpose == 0 {
        return Err(ReportError::NotAllowed(name, site_id));
    }
    if let Analysis::Traffic { days, .. }
    | Analysis::Pages { days }
    | Analysis::Sources { days }
    | Analysis::Devices { days }
    | Analysis::Engagement { days } = analysis
        && (days.days == 0 || days.days > MAX_DAYS)
    {
        return Err(ReportError::BadDays);
    }
    let (noise, budget_left) = match site.config.dp {
        Some(dp) => {
            let share = dp.daily_budget_milli / members.max(1);
            let left = ledger.charge(site_id, now_ms, dp.epsilon_milli, share)?;
            (
                Some(Noise {
                    sensitivity: sensitivity(&analysis),
                    epsilon_milli: dp.epsilon_milli,
                }),
                Some(left),
            )
        }
        None => (None, None),
    };
    let mut ctx = Ctx {
        k: u64::from(site.config.min_cohort),
        noise,
        rng,
        now_ms,
    };
    // Only visitors whose consent covers this analysis now.
    // Numbered: a cell counts each visitor once, by number.
    let records: Vec<(u32, &[StoredView])> = site
        .visitors
        .values()
        .filter(|r| r.covers(purpose, now_ms))
        .zip(0u32..)
        .map(|(r, n)| (n, r.views.as_slice()))
        .collect();
    let body = match analysis {
        Analysis::Realtime => {
            let from = now_ms.saturating_sub(REALTIME_MS);
            let visitors = records
                .iter()
                .filter(|(_, views)| !within(views, from, now_ms.saturating_add(1)).is_empty())
                .count();
            let (visitors, _) = ctx.cell(visitors as u64, 0);
            AnswerBody::Realtime {
                window_end_ms: now_ms,
                visitors,
            }
        }
        Analysis::Traffic { days, hourly } => traffic(&mut ctx, &records, days, hourly),
        Analysis::Pages { days } => top(&mut ctx, &records, days, |v| vec![v.path.clone()], None),
        Analysis::Sources { days } => {
            top(&mut ctx, &records, days, |v| vec![v.referrer.clone()], None)
        }
        Analysis::Devices { days } => {
            let devices = [
                Device::Unknown,
                Device::Mobile,
                Device::Tablet,
                Device::Desktop,
            ];
            let public = [
                devices.iter().map(|d| device_key(*d)).collect(),
                (0..SCREEN_BUCKETS.len()).map(screen_key).collect(),
            ];
            top(
                &mut ctx,
                &records,
                days,
                |v| vec![device_key(v.device), screen_key(usize::from(v.screen))],
                Some(&public),
            )
        }
        Analysis::Engagement { days } => engagement(&mut ctx, &records, days),
    };
    Ok(AnalyticsAnswer {
        at_ms: now_ms,
        noise_scale_milli: noise.map(|n| n.scale_milli()),
        budget_left_milli: budget_left,
        body,
    })
}

struct Ctx<'a, R> {
    k: u64,
    noise: Option<Noise>,
    rng: &'a mut R,
    /// The answer's block time: hours and days after it are not reported.
    now_ms: u64,
}

impl<R: rand_core::CryptoRng> Ctx<'_, R> {
    /// A (visitors, views) cell: both hidden when the (noisy) visitors are under k. Without
    /// noise an empty cell shows 0: it describes nobody.
    fn cell(&mut self, visitors: u64, views: u64) -> (Cell, Cell) {
        if visitors == 0 && self.noise.is_none() {
            return (Some(0), Some(views));
        }
        let (visitors, views) = match self.noise {
            Some(noise) => (
                noise.apply(self.rng, visitors),
                noise.apply(self.rng, views),
            ),
            None => (visitors, views),
        };
        if visitors < self.k {
            (None, None)
        } else {
            (Some(visitors), Some(views))
        }
    }
}

fn device_key(device: Device) -> Vec<u8> {
    device.name().as_bytes().to_vec()
}

fn screen_key(bucket: usize) -> Vec<u8> {
    let name = SCREEN_BUCKETS.get(bucket).copied().unwrap_or("(not set)");
    format!("screen {name}").into_bytes()
}

/// The day range's bounds in ms.
fn bounds(days: Days) -> (u64, u64) {
    let from = u64::from(days.from_day).saturating_mul(DAY_MS);
    let to = from.saturating_add(u64::from(days.days).saturating_mul(DAY_MS));
    (from, to)
}

/// A visitor's views within `[from, to)`: views are kept in time order.
fn within(views: &[StoredView], from: u64, to: u64) -> &[StoredView] {
    let lo = views.partition_point(|v| v.at_ms < from);
    let hi = views.partition_point(|v| v.at_ms < to).max(lo);
    views.get(lo..hi).unwrap_or_default()
}

/// Counts of one cell: its visitors and their page views (clamped per visitor in DP mode).
#[derive(Default)]
struct Tally {
    /// Each visitor once: a visitor adds to a cell at most once per report.
    visitors: Vec<u32>,
    views: u64,
}

impl Tally {
    fn add(&mut self, visitor: u32, views: u64, clamp: bool) {
        self.visitors.push(visitor);
        let views = if clamp {
            views.min(DP_VIEWS_PER_CELL)
        } else {
            views
        };
        self.views = self.views.saturating_add(views);
    }
}

/// Which cells to hide so that the hidden ones together describe nobody or at least `k`
/// people: cells under `k` first, then the smallest shown ones while the hidden ones'
/// people number from 1 to k−1.
/// With noise, hiding is decided on noisy counts alone (a decision on a true count would
/// leak it), and the noise covers what subtraction reveals.
fn complementary<T: Ord + Clone>(
    cells: &BTreeMap<T, Tally>,
    shown: impl Fn(&T) -> bool,
    k: u64,
    noisy: bool,
) -> BTreeSet<T> {
    let mut hidden: BTreeSet<T> = cells.keys().filter(|key| !shown(key)).cloned().collect();
    if noisy {
        return hidden;
    }
    loop {
        let people: BTreeSet<u32> = hidden
            .iter()
            .filter_map(|key| cells.get(key))
            .flat_map(|t| t.visitors.iter().copied())
            .collect();
        let n = people.len() as u64;
        if n == 0 || n >= k {
            return hidden;
        }
        let smallest = cells
            .iter()
            .filter(|(key, _)| !hidden.contains(*key))
            .min_by_key(|(_, t)| t.visitors.len());
        match smallest {
            Some((key, _)) => {
                hidden.insert(key.clone());
            }
            None => return hidden,
        }
    }
}

fn traffic<R: rand_core::CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    records: &[(u32, &[StoredView])],
    days: Days,
    hourly: bool,
) -> AnswerBody {
    let (from, to) = bounds(days);
    let clamp = ctx.noise.is_some();
    let mut rows = Vec::new();
    for day in 0..u64::from(days.days) {
        let day_start = from.saturating_add(day.saturating_mul(DAY_MS));
        let day_end = day_start.saturating_add(DAY_MS).min(to);
        let bucket = if hourly { HOUR_MS } else { DAY_MS };
        let mut cells: BTreeMap<u64, Tally> = BTreeMap::new();
        for (visitor, views) in records {
            let mut per_cell: BTreeMap<u64, u64> = BTreeMap::new();
            for v in within(views, day_start, day_end) {
                let start = day_start + (v.at_ms - day_start) / bucket * bucket;
                *per_cell.entry(start).or_default() += 1;
            }
            let limit = if clamp && hourly {
                DP_HOURS
            } else {
                usize::MAX
            };
            for (start, n) in per_cell.into_iter().take(limit) {
                cells.entry(start).or_default().add(*visitor, n, clamp);
            }
        }
        let k = ctx.k;
        let mut shown_counts = BTreeMap::new();
        for (start, tally) in &cells {
            let cell = ctx.cell(tally.visitors.len() as u64, tally.views);
            shown_counts.insert(*start, cell);
        }
        let hidden = complementary(
            &cells,
            |start| shown_counts.get(start).is_some_and(|(v, _)| v.is_some()),
            k,
            clamp,
        );
        let mut start = day_start;
        while start < day_end && start <= ctx.now_ms {
            let (visitors, views) = if hidden.contains(&start) {
                (None, None)
            } else {
                shown_counts.get(&start).copied().unwrap_or((
                    // No visitor at all: nobody is described by a zero.
                    Some(0),
                    Some(0),
                ))
            };
            // An empty cell with noise is still a released count.
            let (visitors, views) = if cells.contains_key(&start) || ctx.noise.is_none() {
                (visitors, views)
            } else {
                ctx.cell(0, 0)
            };
            rows.push((start, views, visitors));
            start = start.saturating_add(bucket);
        }
    }
    AnswerBody::Traffic { rows }
}

/// δ of a differentially private top list: the chance that a key only a few visitor-days
/// produced is shown anyway (keys are data).
pub const DP_KEY_DELTA: f64 = 1e-6;

/// A top list per day. `public`: each dimension's whole key set, when it is fixed (device
/// classes, screen buckets): with noise every key is released, so a key's presence says
/// nothing. Otherwise, with noise, a key is shown only when its noisy visitors reach
/// `k + scale·ln(1/(2δ))`, so a key one visitor-day produced shows with probability at
/// most δ.
fn top<R: rand_core::CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    records: &[(u32, &[StoredView])],
    days: Days,
    keys: impl Fn(&StoredView) -> Vec<Vec<u8>>,
    public: Option<&[Vec<Vec<u8>>]>,
) -> AnswerBody {
    let (from, _) = bounds(days);
    let clamp = ctx.noise.is_some();
    // With noise, one key per dimension a visitor-day for fixed sets, DP_KEYS otherwise.
    let key_limit = if public.is_some() { 1 } else { DP_KEYS };
    let key_threshold = match (ctx.noise, public) {
        (Some(noise), None) => {
            let scale = noise.scale_milli() as f64 / 1000.0;
            ctx.k
                .saturating_add((scale * (1.0 / (2.0 * DP_KEY_DELTA)).ln()).ceil() as u64)
        }
        _ => ctx.k,
    };
    let mut totals: BTreeMap<Vec<u8>, (u64, u64)> = BTreeMap::new();
    for day in 0..u64::from(days.days) {
        let day_start = from.saturating_add(day.saturating_mul(DAY_MS));
        let day_end = day_start.saturating_add(DAY_MS);
        // Each dimension (the key's position) is a report of its own.
        let mut dims: BTreeMap<usize, BTreeMap<Vec<u8>, Tally>> = BTreeMap::new();
        for (visitor, views) in records {
            let mut per_key: BTreeMap<(usize, Vec<u8>), u64> = BTreeMap::new();
            for v in within(views, day_start, day_end) {
                for (dim, key) in keys(v).into_iter().enumerate() {
                    *per_key.entry((dim, key)).or_default() += 1;
                }
            }
            let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
            for ((dim, key), n) in per_key {
                let count = taken.entry(dim).or_default();
                if clamp && *count >= key_limit {
                    continue;
                }
                *count += 1;
                dims.entry(dim)
                    .or_default()
                    .entry(key)
                    .or_default()
                    .add(*visitor, n, clamp);
            }
        }
        if let (true, Some(public)) = (clamp, public) {
            for (dim, all) in public.iter().enumerate() {
                let cells = dims.entry(dim).or_default();
                for key in all {
                    cells.entry(key.clone()).or_default();
                }
            }
        }
        for cells in dims.values() {
            let k = ctx.k;
            let mut shown_counts = BTreeMap::new();
            for (key, tally) in cells {
                let (visitors, views) = ctx.cell(tally.visitors.len() as u64, tally.views);
                let cell = match visitors {
                    Some(v) if v < key_threshold => (None, None),
                    _ => (visitors, views),
                };
                shown_counts.insert(key.clone(), cell);
            }
            let hidden = complementary(
                cells,
                |key| shown_counts.get(key).is_some_and(|(v, _)| v.is_some()),
                k,
                clamp,
            );
            for (key, (visitors, views)) in shown_counts {
                if hidden.contains(&key) {
                    continue;
                }
                if let (Some(visitors), Some(views)) = (visitors, views) {
                    let total = totals.entry(key).or_default();
                    total.0 = total.0.saturating_add(visitors);
                    total.1 = total.1.saturating_add(views);
                }
            }
        }
    }
    let mut rows: Vec<(Vec<u8>, u64, u64)> = totals
        .into_iter()
        .map(|(key, (visitors, views))| (key, visitors, views))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(MAX_ROWS);
    AnswerBody::Top { rows }
}

/// A visitor's visits within a day: (start, page views, duration ms).
fn visits(views: &[StoredView], day_start: u64, day_end: u64) -> Vec<(u64, u64, u64)> {
    let mut out: Vec<(u64, u64, u64)> = Vec::new();
    let mut last = 0u64;
    for v in within(views, day_start, day_end) {
        match out.last_mut() {
            Some((start, count, duration)) if v.at_ms.saturating_sub(last) <= VISIT_GAP_MS => {
                *count += 1;
                *duration = v.at_ms.saturating_sub(*start).min(MAX_VISIT_MS);
            }
            _ => out.push((v.at_ms, 1, 0)),
        }
        last = v.at_ms;
    }
    out
}

fn engagement<R: rand_core::CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    records: &[(u32, &[StoredView])],
    days: Days,
) -> AnswerBody {
    let (from, _) = bounds(days);
    let clamp = ctx.noise.is_some();
    let mut rows = Vec::new();
    for day in 0..u64::from(days.days) {
        let day_start = from.saturating_add(day.saturating_mul(DAY_MS));
        let day_end = day_start.saturating_add(DAY_MS);
        if day_start > ctx.now_ms {
            break;
        }
        let (mut people, mut count, mut bounces, mut duration_ms) = (0u64, 0u64, 0u64, 0u64);
        for (_, views) in records {
            let mut visits = visits(views, day_start, day_end);
            if visits.is_empty() {
                continue;
            }
            if clamp {
                visits.truncate(DP_VISITS);
            }
            people += 1;
            count += visits.len() as u64;
            bounces += visits.iter().filter(|v| v.1 == 1).count() as u64;
            duration_ms += visits.iter().map(|v| v.2).sum::<u64>();
        }
        let (shown_people, visits_cell) = ctx.cell(people, count);
        let row = match (shown_people, visits_cell) {
            (Some(_), Some(visits)) if visits > 0 => {
                let bounces = match ctx.noise {
                    Some(noise) => noise.apply(ctx.rng, bounces),
                    None => bounces,
                }
                .min(visits);
                let rate = u32::try_from(bounces.saturating_mul(100) / visits).unwrap_or(100);
                // Under differential privacy durations are not released: their sum would need
                // noise of its own, out of the same ε.
                let mean = (!clamp)
                    .then(|| u32::try_from(duration_ms / 1_000 / visits).unwrap_or(u32::MAX));
                (day_start, Some(visits), Some(rate), mean)
            }
            (Some(_), Some(visits)) => (day_start, Some(visits), None, None),
            _ => (day_start, None, None, None),
        };
        rows.push(row);
    }
    AnswerBody::Engagement { rows }
}
