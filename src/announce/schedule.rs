//! Which tracker to announce to, with which event, and when: the pure
//! state machine under [`super::client`]. Time and randomness come in as
//! arguments; actions come out; no I/O.
//!
//! Every (tracker, info hash) pair is announced on its own, so a hybrid
//! torrent's v1 hash and truncated v2 hash each get their own `started`.
//! Trackers are grouped in BEP 12 tiers, shuffled once within each tier.
//! A *lane* walks the trackers for one info hash: by default one lane per
//! hash over all tiers in order (later tiers are used only when every
//! tracker before them is failing); with `all_tiers`, one lane per hash
//! and tier. A lane announces to the first tracker in its order that is
//! not backing off; a tracker that answers moves to the front of its tier.
//!
//! Limits (see [`ScheduleConfig::default`]): a tracker's `interval` is
//! clamped to [60 s, 2 h] (30 min when absent), then raised to its
//! `min interval` (itself capped at one day against typos). A failing pair
//! is retried after 15 s, doubling up to 30 min, each delay shortened by a
//! random 0–25 % so many clients do not retry in step.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{hex, AnnounceReply, Event, ScrapeCounts};
use crate::tracker::swarm::Rng;

/// Timing limits; tests shrink them.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Announce to the first working tracker of every tier, not just the first tier.
    pub all_tiers: bool,
    /// Used when a tracker gives no `interval`.
    pub default_interval: Duration,
    /// Floor and ceiling for a tracker's `interval`.
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// First retry delay after a failure, doubled per consecutive failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Waits after the first few successful announces of a pair, shorter
    /// than any interval, so peers that join just after us are found soon
    /// (still never sooner than the tracker's `min interval`).
    pub early: Vec<Duration>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            all_tiers: false,
            default_interval: Duration::from_secs(30 * 60),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(2 * 60 * 60),
            retry_base: Duration::from_secs(15),
            retry_max: Duration::from_secs(30 * 60),
            // Re-announces at 15 s, 30 s, 1 min, 2 min and 5 min after start.
            early: [15, 15, 30, 60, 180].map(Duration::from_secs).to_vec(),
        }
    }
}

/// The longest `min interval` we honour: one day.
const MAX_MIN_INTERVAL: u32 = 24 * 60 * 60;

/// Where one (tracker, info hash) pair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackerState {
    /// Not tried yet (or only after others, as a fallback).
    Idle,
    Announcing,
    /// Its last announce succeeded.
    Working,
    /// Its last announce failed; retried after a backoff.
    Failed,
    /// Accepted our `stopped`.
    Stopped,
}

/// A snapshot of one (tracker, info hash) pair.
#[derive(Debug, Clone, Serialize)]
pub struct TrackerStatus {
    pub url: String,
    /// Numbered from 1, as `show` numbers tiers.
    pub tier: usize,
    /// Lowercase hex.
    pub info_hash: String,
    pub state: TrackerState,
    pub last_error: Option<String>,
    pub warning: Option<String>,
    pub seeders: Option<u64>,
    pub leechers: Option<u64>,
    pub downloaded: Option<u64>,
    pub peers_received: u64,
    pub announces: u64,
    pub failures: u64,
    /// Seconds until this pair is announced (or retried) next, if planned.
    pub next_announce_secs: Option<u64>,
}

/// Something the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Announce {
        pair: usize,
        url: String,
        info_hash: [u8; 20],
        event: Event,
        tracker_id: Option<Vec<u8>>,
    },
    /// Learn `downloaded` by scraping, for a tracker whose announce reply lacked it.
    Scrape {
        pair: usize,
        url: String,
        info_hash: [u8; 20],
    },
}

#[derive(Debug, Clone)]
struct Pair {
    tracker: usize,
    hash: usize,
    state: TrackerState,
    /// Accepted `started` and not yet `stopped`.
    started: bool,
    completed_sent: bool,
    tracker_id: Option<Vec<u8>>,
    last_error: Option<String>,
    warning: Option<String>,
    seeders: Option<u64>,
    leechers: Option<u64>,
    downloaded: Option<u64>,
    peers_received: u64,
    announces: u64,
    failures: u64,
    consecutive_failures: u32,
    retry_at: Option<Instant>,
    next_at: Option<Instant>,
    interval: Duration,
    last_scrape: Option<Instant>,
    scrape_due: bool,
}

#[derive(Debug, Clone)]
struct Lane {
    hash: usize,
    /// Tracker indices, tier by tier.
    order: Vec<usize>,
    next_at: Instant,
    /// The tracker with an announce in flight.
    busy: Option<usize>,
}

/// The announce plan for one torrent.
#[derive(Debug, Clone)]
pub struct Schedule {
    config: ScheduleConfig,
    /// (url, tier), duplicates removed.
    trackers: Vec<(String, usize)>,
    hashes: Vec<[u8; 20]>,
    pairs: Vec<Pair>,
    lanes: Vec<Lane>,
    completed: bool,
}

impl Schedule {
    /// Plans announces of every hash to every tracker in `tiers`; the first
    /// announces are due at `now`. Empty tiers and repeated URLs are dropped.
    pub fn new(
        tiers: &[Vec<String>],
        hashes: &[[u8; 20]],
        config: ScheduleConfig,
        now: Instant,
        rng: &mut dyn Rng,
    ) -> Self {
        let mut trackers: Vec<(String, usize)> = Vec::new();
        let mut tier_lists: Vec<Vec<usize>> = Vec::new();
        for tier in tiers {
            let mut list = Vec::new();
            for url in tier {
                let url = url.trim();
                if url.is_empty() || trackers.iter().any(|(u, _)| u == url) {
                    continue;
                }
                list.push(trackers.len());
                trackers.push((url.to_owned(), tier_lists.len()));
            }
            if list.is_empty() {
                continue;
            }
            // BEP 12: shuffle each tier once.
            for i in (1..list.len()).rev() {
                list.swap(i, rng.below(i + 1));
            }
            tier_lists.push(list);
        }
        let mut pairs = Vec::with_capacity(trackers.len() * hashes.len());
        for tracker in 0..trackers.len() {
            for hash in 0..hashes.len() {
                pairs.push(Pair {
                    tracker,
                    hash,
                    state: TrackerState::Idle,
                    started: false,
                    completed_sent: false,
                    tracker_id: None,
                    last_error: None,
                    warning: None,
                    seeders: None,
                    leechers: None,
                    downloaded: None,
                    peers_received: 0,
                    announces: 0,
                    failures: 0,
                    consecutive_failures: 0,
                    retry_at: None,
                    next_at: Some(now),
                    interval: config.default_interval,
                    last_scrape: None,
                    scrape_due: false,
                });
            }
        }
        let mut lanes = Vec::new();
        for hash in 0..hashes.len() {
            let orders: Vec<Vec<usize>> = if config.all_tiers {
                tier_lists.clone()
            } else {
                vec![tier_lists.concat()]
            };
            for order in orders {
                if !order.is_empty() {
                    lanes.push(Lane {
                        hash,
                        order,
                        next_at: now,
                        busy: None,
                    });
                }
            }
        }
        Self {
            config,
            trackers,
            hashes: hashes.to_vec(),
            pairs,
            lanes,
            completed: false,
        }
    }

    fn pair_id(&self, tracker: usize, hash: usize) -> usize {
        tracker * self.hashes.len() + hash
    }

    /// Everything due at `now`: at most one announce per idle lane, and
    /// pending scrapes.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        for lane_index in 0..self.lanes.len() {
            let lane = &self.lanes[lane_index];
            if lane.busy.is_some() || now < lane.next_at {
                continue;
            }
            let hash = lane.hash;
            let ready = lane.order.iter().copied().find(|&t| {
                self.pairs[self.pair_id(t, hash)]
                    .retry_at
                    .is_none_or(|at| at <= now)
            });
            let Some(tracker) = ready else {
                // Everyone is backing off: wake for the earliest retry.
                let earliest = lane
                    .order
                    .iter()
                    .filter_map(|&t| self.pairs[self.pair_id(t, hash)].retry_at)
                    .min();
                self.lanes[lane_index].next_at = earliest.unwrap_or(now);
                continue;
            };
            let id = self.pair_id(tracker, hash);
            let pair = &mut self.pairs[id];
            let event = if !pair.started {
                Event::Started
            } else if self.completed && !pair.completed_sent {
                Event::Completed
            } else {
                Event::Regular
            };
            pair.state = TrackerState::Announcing;
            pair.next_at = None;
            self.lanes[lane_index].busy = Some(tracker);
            actions.push(Action::Announce {
                pair: id,
                url: self.trackers[tracker].0.clone(),
                info_hash: self.hashes[hash],
                event,
                tracker_id: self.pairs[id].tracker_id.clone(),
            });
        }
        for id in 0..self.pairs.len() {
            if std::mem::take(&mut self.pairs[id].scrape_due) {
                let pair = &self.pairs[id];
                actions.push(Action::Scrape {
                    pair: id,
                    url: self.trackers[pair.tracker].0.clone(),
                    info_hash: self.hashes[pair.hash],
                });
            }
        }
        actions
    }

    /// When [`Schedule::poll`] next has something to do; `None` while
    /// every lane waits for an answer (or there is nothing to announce).
    pub fn next_wake(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter(|l| l.busy.is_none())
            .map(|l| l.next_at)
            .min()
    }

    fn lane_of(&self, id: usize) -> Option<usize> {
        let pair = &self.pairs[id];
        self.lanes
            .iter()
            .position(|l| l.hash == pair.hash && l.busy == Some(pair.tracker))
    }

    /// The interval to wait after a successful announce (see the module doc).
    pub fn effective_interval(&self, reply: &AnnounceReply) -> Duration {
        let c = &self.config;
        let mut wait = reply
            .interval
            .map_or(c.default_interval, |s| Duration::from_secs(s.into()))
            .clamp(c.min_interval, c.max_interval.max(c.min_interval));
        if let Some(min) = reply.min_interval {
            wait = wait.max(Duration::from_secs(min.min(MAX_MIN_INTERVAL).into()));
        }
        wait
    }

    /// The wait after the `nth` successful announce (0 for the first):
    /// an early step while one is left and shorter, else the interval.
    pub fn wait_after(&self, reply: &AnnounceReply, nth: u64) -> Duration {
        let full = self.effective_interval(reply);
        let step = usize::try_from(nth)
            .ok()
            .and_then(|n| self.config.early.get(n).copied());
        match step {
            Some(step) if step < full => {
                let floor = reply.min_interval.map_or(Duration::ZERO, |m| {
                    Duration::from_secs(m.min(MAX_MIN_INTERVAL).into())
                });
                step.max(floor).min(full)
            }
            _ => full,
        }
    }

    fn backoff(&self, failures: u32, rng: &mut dyn Rng) -> Duration {
        let c = &self.config;
        let full = c
            .retry_base
            .saturating_mul(1 << failures.saturating_sub(1).min(20))
            .min(c.retry_max);
        // Up to 25 % earlier, so clients that failed together spread out.
        let cut = rng.next_u64() % 251;
        full.mul_f64(1.0 - cut as f64 / 1000.0)
    }

    /// Records the outcome of an announce that [`Schedule::poll`] (or
    /// [`Schedule::stop_actions`]) asked for. Errors are text that already
    /// names the tracker.
    pub fn on_announce(
        &mut self,
        id: usize,
        event: Event,
        outcome: Result<&AnnounceReply, &str>,
        now: Instant,
        rng: &mut dyn Rng,
    ) {
        let Some(pair) = self.pairs.get(id) else {
            return;
        };
        let tracker = pair.tracker;
        let lane = self.lane_of(id);
        match outcome {
            Ok(reply) => {
                let interval = self.effective_interval(reply);
                let wait = self.wait_after(reply, self.pairs[id].announces);
                let pair = &mut self.pairs[id];
                pair.announces += 1;
                pair.consecutive_failures = 0;
                pair.retry_at = None;
                pair.last_error = None;
                pair.warning.clone_from(&reply.warning);
                pair.peers_received += reply.peers.len() as u64;
                pair.seeders = reply.seeders.or(pair.seeders);
                pair.leechers = reply.leechers.or(pair.leechers);
                if reply.downloaded.is_some() {
                    pair.downloaded = reply.downloaded;
                } else if event != Event::Stopped
                    && pair.last_scrape.is_none_or(|at| at + pair.interval <= now)
                {
                    pair.scrape_due = true;
                }
                if reply.tracker_id.is_some() {
                    pair.tracker_id.clone_from(&reply.tracker_id);
                }
                pair.interval = interval;
                match event {
                    Event::Stopped => {
                        pair.started = false;
                        pair.state = TrackerState::Stopped;
                        pair.next_at = None;
                        return;
                    }
                    Event::Completed => pair.completed_sent = true,
                    Event::Started | Event::Regular => {}
                }
                pair.started = true;
                pair.state = TrackerState::Working;
                let completion_owed = self.completed && !pair.completed_sent;
                let next = if completion_owed { now } else { now + wait };
                pair.next_at = Some(next);
                if let Some(l) = lane {
                    let lane = &mut self.lanes[l];
                    lane.busy = None;
                    lane.next_at = next;
                    // BEP 12: a tracker that answers moves to the front of its tier.
                    let tier = self.trackers[tracker].1;
                    if let Some(at) = lane.order.iter().position(|&t| t == tracker) {
                        let front = lane
                            .order
                            .iter()
                            .position(|&t| self.trackers[t].1 == tier)
                            .unwrap_or(at);
                        let t = lane.order.remove(at);
                        lane.order.insert(front, t);
                    }
                    // Other trackers of this lane are now only fallbacks.
                    let hash = lane.hash;
                    for &other in &self.lanes[l].order {
                        let other_id = other * self.hashes.len() + hash;
                        let p = &mut self.pairs[other_id];
                        if other != tracker && p.retry_at.is_none() {
                            p.next_at = None;
                        }
                    }
                }
            }
            Err(error) => {
                let pair = &mut self.pairs[id];
                pair.failures += 1;
                pair.consecutive_failures += 1;
                pair.last_error = Some(error.to_owned());
                pair.state = TrackerState::Failed;
                if event == Event::Stopped {
                    pair.next_at = None;
                    return;
                }
                let failures = pair.consecutive_failures;
                let retry = now + self.backoff(failures, rng);
                let pair = &mut self.pairs[id];
                pair.retry_at = Some(retry);
                pair.next_at = Some(retry);
                if let Some(l) = lane {
                    // Try the next tracker of the lane at once.
                    self.lanes[l].busy = None;
                    self.lanes[l].next_at = now;
                }
            }
        }
    }

    /// Records a scrape's outcome; a failed scrape is not an announce
    /// failure, so it only waits for the next interval.
    pub fn on_scrape(&mut self, id: usize, counts: Option<ScrapeCounts>, now: Instant) {
        if let Some(pair) = self.pairs.get_mut(id) {
            pair.last_scrape = Some(now);
            if let Some(c) = counts {
                pair.downloaded = Some(c.downloaded);
                pair.seeders = pair.seeders.or(Some(c.seeders));
                pair.leechers = pair.leechers.or(Some(c.leechers));
            }
        }
    }

    /// We finished downloading: every tracker that accepted `started`
    /// hears `completed` at once, the others with their `started`.
    pub fn completed(&mut self, now: Instant) {
        if self.completed {
            return;
        }
        self.completed = true;
        for lane in &mut self.lanes {
            if lane.busy.is_none() {
                lane.next_at = lane.next_at.min(now);
            }
        }
    }

    /// Forgets announces in flight (their tasks were cancelled): they
    /// count as never answered.
    pub fn abandon_in_flight(&mut self) {
        for l in 0..self.lanes.len() {
            if let Some(tracker) = self.lanes[l].busy.take() {
                let id = self.pair_id(tracker, self.lanes[l].hash);
                let pair = &mut self.pairs[id];
                pair.state = if pair.started {
                    TrackerState::Working
                } else {
                    TrackerState::Idle
                };
            }
        }
    }

    /// `stopped` announces for every pair that accepted `started`; nothing
    /// is polled afterwards.
    pub fn stop_actions(&mut self) -> Vec<Action> {
        self.abandon_in_flight();
        for lane in &mut self.lanes {
            lane.busy = Some(usize::MAX);
        }
        let mut actions = Vec::new();
        for (id, pair) in self.pairs.iter_mut().enumerate() {
            pair.next_at = None;
            pair.scrape_due = false;
            if pair.started {
                pair.state = TrackerState::Announcing;
                actions.push(Action::Announce {
                    pair: id,
                    url: self.trackers[pair.tracker].0.clone(),
                    info_hash: self.hashes[pair.hash],
                    event: Event::Stopped,
                    tracker_id: pair.tracker_id.clone(),
                });
            }
        }
        actions
    }

    /// A snapshot of every pair, tracker by tracker in tier order.
    pub fn status(&self, now: Instant) -> Vec<TrackerStatus> {
        self.pairs
            .iter()
            .map(|p| {
                let (url, tier) = &self.trackers[p.tracker];
                TrackerStatus {
                    url: url.clone(),
                    tier: *tier + 1,
                    info_hash: hex(&self.hashes[p.hash]),
                    state: p.state,
                    last_error: p.last_error.clone(),
                    warning: p.warning.clone(),
                    seeders: p.seeders,
                    leechers: p.leechers,
                    downloaded: p.downloaded,
                    peers_received: p.peers_received,
                    announces: p.announces,
                    failures: p.failures,
                    next_announce_secs: p
                        .next_at
                        .map(|at| at.saturating_duration_since(now).as_secs()),
                }
            })
            .collect()
    }

    /// The tracker URL and info hash of a pair.
    pub fn pair(&self, id: usize) -> Option<(&str, [u8; 20])> {
        let pair = self.pairs.get(id)?;
        Some((&self.trackers[pair.tracker].0, self.hashes[pair.hash]))
    }
}

#[cfg(test)]
mod tests;
