//! Upload rate limits: a PURE token bucket ([`Bucket`], time passed in)
//! and a thin shareable limiter around it ([`RateLimit`]) that connection
//! tasks wait on.
//!
//! The bucket holds up to `burst` bytes of credit and refills at the rate;
//! credit is kept in byte-nanoseconds so refills are exact and nothing is
//! lost to rounding: over any run, bytes granted never exceed
//! `burst + rate × elapsed`.
//!
//! Fairness between connections comes from [`RateLimit`]'s line: takers
//! queue first-come first-served (an async FIFO lock), and whoever is at
//! the front sleeps until its whole (small) grant is there. So connections
//! asking for [`GRANT`]-sized grants take turns instead of one draining the
//! bucket. Nothing here holds the bucket's sync lock across an `.await`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most a connection should ask for at once, so connections sharing a
/// limit interleave in small turns.
pub const GRANT: usize = 16 * 1024;

/// Credit is counted in byte-nanoseconds: one byte is this much.
const NANOS: u128 = 1_000_000_000;

/// What a [`Bucket`] allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Send this many bytes now (already deducted).
    Send(usize),
    /// Nothing now: ask again after this long.
    Wait(Duration),
}

/// A token bucket. Starts full; the clock starts at the first take.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Bytes per second, at least 1.
    rate: u64,
    /// Most credit held, in bytes, at least 1.
    burst: u64,
    /// Credit in byte-nanoseconds, at most `burst × NANOS`.
    credit: u128,
    /// When credit was last refilled.
    last: Option<Instant>,
}

impl Bucket {
    /// A full bucket refilling at `bytes_per_sec` and holding at most
    /// `burst` bytes (both at least 1).
    pub fn new(bytes_per_sec: u64, burst: u64) -> Self {
        let burst = burst.max(1);
        Self {
            rate: bytes_per_sec.max(1),
            burst,
            credit: u128::from(burst) * NANOS,
            last: None,
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Up to `want` bytes now: at least one whenever there is at least one
    /// byte of credit, or else how long until there is.
    pub fn take(&mut self, now: Instant, want: usize) -> Grant {
        self.take_at_least(now, 1, want)
    }

    /// As [`Self::take`], but grants only once `least` bytes are there
    /// (`least` is capped at `want` and at the burst, so it can always be
    /// met), and otherwise says how long until they are. Asking for a
    /// whole small grant saves writing a few bytes at a time.
    pub fn take_at_least(&mut self, now: Instant, least: usize, want: usize) -> Grant {
        self.refill(now);
        if want == 0 {
            return Grant::Send(0);
        }
        let want = want as u128;
        let need = (least as u128).clamp(1, want).min(u128::from(self.burst));
        let have = self.credit / NANOS;
        if have >= need {
            let granted = have.min(want);
            self.credit -= granted * NANOS;
            // `granted` ≤ `want`, which came from a usize.
            return Grant::Send(usize::try_from(granted).unwrap_or(usize::MAX));
        }
        let short = need * NANOS - self.credit;
        let nanos = short.div_ceil(u128::from(self.rate));
        Grant::Wait(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    /// Returns `bytes` taken but not used (never above the burst).
    pub fn give_back(&mut self, bytes: usize) {
        let cap = u128::from(self.burst) * NANOS;
        self.credit = (self.credit + bytes as u128 * NANOS).min(cap);
    }

    fn refill(&mut self, now: Instant) {
        // A clock read on another thread may be a little behind: time
        // never runs backwards here, it only stands still.
        let elapsed = self
            .last
            .map_or(0, |last| now.saturating_duration_since(last).as_nanos());
        if self.last.is_none_or(|last| now > last) {
            self.last = Some(now);
        }
        let cap = u128::from(self.burst) * NANOS;
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(u128::from(self.rate)))
            .min(cap);
    }
}

/// The default burst for a rate: a tenth of a second of it, at least one
/// [`GRANT`], so one turn always fits.
pub fn default_burst(bytes_per_sec: u64) -> u64 {
    (bytes_per_sec / 10).max(GRANT as u64)
}

/// A rate limit shared by the connections under it (wrap it in an `Arc`):
/// the seeder-wide one, or one torrent's.
#[derive(Debug)]
pub struct RateLimit {
    bucket: Mutex<Bucket>,
    /// Takers wait here in turn (tokio's mutex is FIFO), so the one at
    /// the front gets its whole grant and the others queue behind it.
    line: tokio::sync::Mutex<()>,
}

impl RateLimit {
    /// `bytes_per_sec` (at least 1) with [`default_burst`].
    pub fn new(bytes_per_sec: u64) -> Self {
        Self::with_burst(bytes_per_sec, default_burst(bytes_per_sec))
    }

    pub fn with_burst(bytes_per_sec: u64, burst: u64) -> Self {
        Self {
            bucket: Mutex::new(Bucket::new(bytes_per_sec, burst)),
            line: tokio::sync::Mutex::new(()),
        }
    }

    /// Bytes per second.
    pub fn rate(&self) -> u64 {
        self.with_bucket(|b| b.rate())
    }

    /// Waits for up to `want` bytes of allowance and returns it (at least
    /// 1 unless `want` is 0). Cancel-safe: credit is deducted only when
    /// the grant is returned.
    pub async fn acquire(&self, want: usize) -> usize {
        acquire_all(&[self], want).await
    }

    fn with_bucket<T>(&self, f: impl FnOnce(&mut Bucket) -> T) -> T {
        // A panic elsewhere cannot leave the bucket half-updated: every
        // change is a plain assignment.
        f(&mut self.bucket.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Waits for up to `want` bytes (at most [`GRANT`] is a fair turn) under
/// every limit in `limits` at once, and returns the grant.
///
/// Each limit's line is joined in the order given, so callers must list
/// shared limits in one order everywhere (the seeder: the torrent's, then
/// its own); a limit listed twice counts once. Holding every line, it takes
/// the whole `want` from each bucket in turn; when one has too little, what
/// the earlier ones gave is handed back and it sleeps until that bucket
/// has enough. Cancel-safe: nothing is deducted until the grant is
/// returned, and no bucket lock is held across an `.await`.
pub async fn acquire_all(limits: &[&RateLimit], want: usize) -> usize {
    let mut distinct: Vec<&RateLimit> = Vec::with_capacity(limits.len());
    for limit in limits {
        if !distinct.iter().any(|seen| std::ptr::eq(*seen, *limit)) {
            distinct.push(limit);
        }
    }
    if want == 0 || distinct.is_empty() {
        return want;
    }
    let mut turns = Vec::with_capacity(distinct.len());
    for limit in &distinct {
        turns.push(limit.line.lock().await);
    }
    loop {
        let now = Instant::now();
        let mut granted = want;
        let mut taken: Vec<(&RateLimit, usize)> = Vec::with_capacity(distinct.len());
        let mut wait = None;
        for limit in &distinct {
            match limit.with_bucket(|b| b.take_at_least(now, granted, granted)) {
                Grant::Send(n) => {
                    granted = n;
                    taken.push((limit, n));
                }
                Grant::Wait(d) => {
                    wait = Some(d);
                    break;
                }
            }
        }
        match wait {
            None => {
                // A smaller burst further on may have cut the grant.
                for (limit, n) in taken {
                    limit.with_bucket(|b| b.give_back(n - granted));
                }
                drop(turns);
                return granted;
            }
            Some(d) => {
                for (limit, n) in taken {
                    limit.with_bucket(|b| b.give_back(n));
                }
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// The limits a connection is under, owned, for a future that outlives
/// the borrow of its seeder: narrowest first.
pub async fn acquire_owned(limits: Vec<Arc<RateLimit>>, want: usize) -> usize {
    let refs: Vec<&RateLimit> = limits.iter().map(|l| &**l).collect();
    acquire_all(&refs, want).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn starts_full_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 100);
        assert_eq!(b.take(t0, 60), Grant::Send(60));
        assert_eq!(b.take(t0, 60), Grant::Send(40));
        // Empty: one byte comes every millisecond at 1000 B/s.
        assert_eq!(b.take(t0, 60), Grant::Wait(MS));
        assert_eq!(b.take(t0 + 10 * MS, 60), Grant::Send(10));
        // Refills stop at the burst.
        assert_eq!(
            b.take(t0 + 10 * Duration::from_secs(1), 1000),
            Grant::Send(100)
        );
    }

    #[test]
    fn at_least_waits_for_the_whole_turn_and_never_for_more_than_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 100);
        assert_eq!(b.take(t0, 95), Grant::Send(95));
        // 5 bytes there: `take` gives them, `take_at_least` waits for 50.
        assert_eq!(b.take_at_least(t0, 50, 50), Grant::Wait(45 * MS));
        assert_eq!(b.take_at_least(t0 + 45 * MS, 50, 50), Grant::Send(50));
        // Asking for more than the burst waits for the burst.
        assert_eq!(
            b.take_at_least(t0 + 45 * MS, 500, 500),
            Grant::Wait(100 * MS)
        );
        assert_eq!(b.take_at_least(t0 + 145 * MS, 500, 500), Grant::Send(100));
        assert_eq!(b.take(t0 + 145 * MS, 0), Grant::Send(0));
    }

    #[test]
    fn fractions_of_a_byte_accumulate_and_time_never_runs_back() {
        let t0 = Instant::now();
        // 3 B/s: a byte every 333.33 ms.
        let mut b = Bucket::new(3, 1);
        assert_eq!(b.take(t0, 1), Grant::Send(1));
        let Grant::Wait(d) = b.take(t0, 1) else {
            panic!("empty")
        };
        assert_eq!(d, Duration::from_nanos(333_333_334));
        assert_eq!(b.take(t0 + d, 1), Grant::Send(1));
        // An earlier reading is treated as no time passed.
        assert!(matches!(b.take(t0, 1), Grant::Wait(_)));
        assert_eq!(b.take(t0 + d + d, 1), Grant::Send(1));
    }

    #[test]
    fn given_back_credit_is_capped_at_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 20);
        assert_eq!(b.take(t0, 15), Grant::Send(15));
        b.give_back(1000);
        assert_eq!(b.take(t0, 1000), Grant::Send(20));
    }

    #[test]
    fn default_burst_is_a_tenth_of_a_second_and_at_least_one_turn() {
        assert_eq!(default_burst(1 << 20), (1 << 20) / 10);
        assert_eq!(default_burst(1000), GRANT as u64);
    }

    proptest! {
        /// Whatever the takes, never more than burst + rate × elapsed;
        /// every grant within what was asked; and waiting as told is
        /// always enough.
        #[test]
        fn never_grants_more_than_the_rate_allows(
            rate in 1u64..10_000_000,
            burst in 1u64..1_000_000,
            steps in proptest::collection::vec((0u64..50_000_000, 0usize..200_000, 0usize..200_000), 1..64),
        ) {
            let t0 = Instant::now();
            let mut b = Bucket::new(rate, burst);
            let mut now = t0;
            let mut total: u128 = 0;
            for (advance_ns, want, least) in steps {
                now += Duration::from_nanos(advance_ns);
                match b.take_at_least(now, least, want) {
                    Grant::Send(n) => {
                        prop_assert!(n <= want);
                        prop_assert!(want == 0 || n >= least.clamp(1, want).min(burst as usize));
                        total += n as u128;
                    }
                    Grant::Wait(d) => {
                        prop_assert!(want > 0 && !d.is_zero());
                        let mut probe = b.clone();
                        prop_assert!(matches!(probe.take_at_least(now + d, least, want), Grant::Send(_)));
                    }
                }
                let elapsed = now.duration_since(t0).as_nanos();
                prop_assert!(
                    total * NANOS <= u128::from(burst) * NANOS + u128::from(rate) * elapsed,
                    "{total} bytes in {elapsed} ns at {rate} B/s, burst {burst}"
                );
            }
        }
    }

    #[tokio::test]
    async fn acquire_waits_its_turn_and_connections_alternate() {
        let limit = Arc::new(RateLimit::with_burst(1 << 20, GRANT as u64));
        assert_eq!(limit.acquire(100_000).await, GRANT);
        let started = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for who in 0..2 {
            let (limit, order) = (limit.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..4 {
                    let n = limit.acquire(GRANT).await;
                    order.lock().unwrap().push((who, n));
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // 8 turns of 16 KiB at 1 MiB/s: 125 ms, taken in turn.
        let elapsed = started.elapsed();
        assert!(elapsed >= 120 * MS && elapsed < 2000 * MS, "{elapsed:?}");
        let order = order.lock().unwrap();
        assert!(order.iter().all(|(_, n)| *n == GRANT), "{order:?}");
        for pair in order.windows(2) {
            assert_ne!(pair[0].0, pair[1].0, "turns alternate: {order:?}");
        }
    }

    #[tokio::test]
    async fn a_dropped_acquire_takes_nothing_and_gives_up_its_place() {
        let limit = RateLimit::with_burst(1000, 100);
        assert_eq!(limit.acquire(100).await, 100);
        // Cancelled while waiting for 100 bytes (100 ms): the 50 that came
        // meanwhile are still there, so this needs no sleep.
        let cancelled = tokio::time::timeout(50 * MS, limit.acquire(100)).await;
        assert!(cancelled.is_err());
        let at = Instant::now();
        assert_eq!(limit.acquire(50).await, 50);
        assert!(at.elapsed() < 40 * MS, "{:?}", at.elapsed());
    }

    #[tokio::test]
    async fn two_limits_grant_the_least_and_keep_the_rest() {
        let torrent = RateLimit::with_burst(1000, 100);
        let global = RateLimit::with_burst(1000, 30);
        assert_eq!(acquire_all(&[&torrent, &global], 100).await, 30);
        // The torrent's bucket kept the 70 the global one could not match.
        let at = Instant::now();
        assert_eq!(acquire_all(&[&torrent], 70).await, 70);
        assert!(at.elapsed() < 20 * MS, "{:?}", at.elapsed());
        // The same limit twice counts once: 30 bytes are 30 ms.
        let at = Instant::now();
        assert_eq!(acquire_all(&[&global, &global], 30).await, 30);
        assert!(
            at.elapsed() >= 25 * MS && at.elapsed() < 500 * MS,
            "{:?}",
            at.elapsed()
        );
        assert_eq!(acquire_all(&[], 5).await, 5);
        assert_eq!(global.rate(), 1000);
    }
}
