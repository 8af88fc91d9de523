//! Per-IP rate limit on incoming queries: a token bucket per address,
//! in a bounded map so a flood from many addresses cannot grow memory
//! without limit. Pure: time is an input.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Addresses tracked at once; idle ones are forgotten first.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    /// `per_second` 0 disables the limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: HashMap::new(),
        }
    }

    /// Whether a query from `ip` may be answered now.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.per_second == 0.0 {
            return true;
        }
        if self.buckets.len() >= MAX_TRACKED && !self.buckets.contains_key(&ip) {
            let (rate, burst) = (self.per_second, self.burst);
            // A bucket that has refilled is the same as no bucket.
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
            if self.buckets.len() >= MAX_TRACKED {
                return false;
            }
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_the_rate_per_ip() {
        let mut limiter = RateLimiter::new(10, 5);
        let now = Instant::now();
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!((0..20).filter(|_| limiter.allow(ip, now)).count(), 5);
        assert!(
            limiter.allow("1.2.3.5".parse().unwrap(), now),
            "other IPs unaffected"
        );
        let later = now + Duration::from_millis(500);
        assert_eq!((0..20).filter(|_| limiter.allow(ip, later)).count(), 5);
    }

    #[test]
    fn memory_stays_bounded_under_a_spoofed_flood() {
        let mut limiter = RateLimiter::new(1, 1);
        let now = Instant::now();
        for n in 0..(MAX_TRACKED as u32 + 5000) {
            limiter.allow(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(limiter.tracked() <= MAX_TRACKED);
        // Later, idle addresses are forgotten and new ones get through.
        let later = now + Duration::from_secs(2);
        assert!(limiter.allow("9.9.9.9".parse().unwrap(), later));
    }
}
