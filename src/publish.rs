//! The pure parts of `publish`: stop conditions, durations, the status
//! that `--json` prints and the human status line, and the status page,
//! `/status.json` and `/metrics` ([`status`]). The orchestration (which
//! starts the seeder, tracker, DHT node and announcer) is [`session`], and
//! [`status_server`] serves those pages; nothing else here does I/O or
//! reads a clock.

pub mod session;
pub mod snapshot;
pub mod status;
pub mod status_server;
pub mod watch;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// When an unattended publish should end by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StopConditions {
    /// Seed for this long.
    pub seed_time: Option<Duration>,
    /// Until this many completed copies were seen.
    pub until_downloads: Option<u64>,
    /// Until this many times the content size was uploaded.
    pub ratio: Option<f64>,
    /// Until this many seeders other than us are seen.
    pub until_seeders: Option<u64>,
    /// Until no peer asked for data for this long.
    pub until_idle: Option<Duration>,
}

/// Why publish stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    SeedTime,
    Downloads,
    Ratio,
    Seeders,
    Idle,
    /// Its torrent file left the watched directory.
    Removed,
    Signal,
}

impl StopReason {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SeedTime => "seed time reached",
            Self::Downloads => "download count reached",
            Self::Ratio => "upload ratio reached",
            Self::Seeders => "other seeders took over",
            Self::Idle => "no peer asked for data",
            Self::Removed => "torrent file removed",
            Self::Signal => "interrupted",
        }
    }
}

/// What the stop conditions are checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    /// Completed copies: the most that any one source (our seeder, a
    /// tracker) reports, never a sum, so one download is not counted twice.
    pub downloads: u64,
    pub uploaded: u64,
    /// Content size in bytes (the ratio's denominator).
    pub size: u64,
    /// Seeders other than us: the most any one source reports.
    pub other_seeders: u64,
    /// Since a peer last asked for data (or since the start).
    pub idle: Duration,
}

impl Progress {
    pub fn ratio(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            self.uploaded as f64 / self.size as f64
        }
    }
}

impl StopConditions {
    /// The first condition met, if any.
    pub fn check(&self, progress: &Progress) -> Option<StopReason> {
        if self.seed_time.is_some_and(|t| progress.elapsed >= t) {
            return Some(StopReason::SeedTime);
        }
        if self
            .until_downloads
            .is_some_and(|n| progress.downloads >= n)
        {
            return Some(StopReason::Downloads);
        }
        if self.ratio.is_some_and(|r| progress.ratio() >= r) {
            return Some(StopReason::Ratio);
        }
        if self
            .until_seeders
            .is_some_and(|n| progress.other_seeders >= n)
        {
            return Some(StopReason::Seeders);
        }
        if self.until_idle.is_some_and(|d| progress.idle >= d) {
            return Some(StopReason::Idle);
        }
        None
    }
}

/// Upload rate over a sliding window of samples (bytes sent so far, taken
/// about once a second).
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    samples: std::collections::VecDeque<(std::time::Instant, u64)>,
}

/// How far back [`RateMeter`] looks.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

impl RateMeter {
    /// Records `total` bytes sent by `now`; returns bytes per second over
    /// the window.
    pub fn sample(&mut self, now: std::time::Instant, total: u64) -> u64 {
        self.samples.push_back((now, total));
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        match self.samples.front() {
            Some((at, first)) if now > *at => {
                (total.saturating_sub(*first) as f64 / now.duration_since(*at).as_secs_f64()) as u64
            }
            _ => 0,
        }
    }
}

/// Parses `90`, `90s`, `10m`, `2h`, `1d`, `1h30m` or `1m30s`: whole
/// numbers, each with an optional unit (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        // Units must shrink left to right: "1h30m", not "30m1h" or "1m1m".
        if number.is_empty() || unit >= last_unit {
            return None;
        }
        last_unit = unit;
        let value: u64 = number.parse().ok()?;
        total = total.checked_add(value.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// Whether `ip` is an address peers would reach this machine at only from
/// here: loopback or unspecified.
pub fn is_loopback_or_any(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// The `x.pe` value for a seeder listening on `listen`: the public host
/// when given, else the bound address unless it is a wildcard.
pub fn peer_address(listen: SocketAddr, public_host: Option<&str>) -> Option<String> {
    match public_host {
        Some(host) if host.contains(':') && !host.starts_with('[') => {
            Some(format!("[{host}]:{}", listen.port()))
        }
        Some(host) => Some(format!("{host}:{}", listen.port())),
        None if listen.ip().is_unspecified() => None,
        None => Some(listen.to_string()),
    }
}

/// A host for URLs: IPv6 addresses in brackets.
pub fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `1.5 MiB/s`-style rates for the status line.
pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", crate::format::size(bytes_per_sec.max(0.0) as u64))
}

/// Everything the status line and the `status` event show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub elapsed_secs: u64,
    /// Connections open now, and the handshaken ones by transport.
    pub peers: usize,
    pub peers_tcp: usize,
    pub peers_utp: usize,
    /// Handshaken connections by encryption: RC4 (MSE/PE), the rest plaintext.
    pub peers_encrypted: usize,
    pub peers_plaintext: usize,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Bytes per second since the previous status.
    pub upload_rate: u64,
    pub completed: u64,
    pub ratio: f64,
    /// Trackers answering / trackers announced to.
    pub trackers_working: usize,
    pub trackers_total: usize,
    /// Nodes in the DHT routing table; `None` without a DHT.
    pub dht_nodes: Option<usize>,
}

impl Status {
    /// `peers 3 · up 1.2 MiB/s · sent 40.0 MiB · ratio 0.40 · 1 completed · trackers 1/2 · dht 57 nodes`
    pub fn line(&self) -> String {
        let mut parts = vec![
            format!(
                "peers {} (tcp {}, utp {}; rc4 {}, plain {})",
                self.peers,
                self.peers_tcp,
                self.peers_utp,
                self.peers_encrypted,
                self.peers_plaintext
            ),
            format!("up {}", rate(self.upload_rate as f64)),
            format!("sent {}", crate::format::size(self.uploaded)),
            format!("ratio {:.2}", self.ratio),
            format!("{} completed", self.completed),
        ];
        if self.trackers_total > 0 {
            parts.push(format!(
                "trackers {}/{} working",
                self.trackers_working, self.trackers_total
            ));
        }
        if let Some(nodes) = self.dht_nodes {
            parts.push(format!("dht {nodes} nodes"));
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        let secs = |t| parse_duration(t).map(|d| d.as_secs());
        assert_eq!(secs("90"), Some(90));
        assert_eq!(secs("90s"), Some(90));
        assert_eq!(secs("10m"), Some(600));
        assert_eq!(secs("2h"), Some(7200));
        assert_eq!(secs("1d"), Some(86_400));
        assert_eq!(secs("1h30m"), Some(5400));
        assert_eq!(secs("1m30s"), Some(90));
        for bad in [
            "",
            "m",
            "1x",
            "30m1h",
            "1m1m",
            "1h30",
            "-5",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn first_met_condition_stops() {
        let progress = Progress {
            elapsed: Duration::from_secs(60),
            downloads: 2,
            uploaded: 300,
            size: 100,
            other_seeders: 1,
            idle: Duration::from_secs(30),
        };
        assert_eq!(StopConditions::default().check(&progress), None);
        let time = StopConditions {
            seed_time: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        assert_eq!(time.check(&progress), Some(StopReason::SeedTime));
        let downloads = StopConditions {
            until_downloads: Some(3),
            ratio: Some(3.0),
            ..Default::default()
        };
        assert_eq!(downloads.check(&progress), Some(StopReason::Ratio));
        let not_yet = StopConditions {
            until_downloads: Some(3),
            ratio: Some(3.5),
            seed_time: Some(Duration::from_secs(61)),
            until_seeders: Some(2),
            until_idle: Some(Duration::from_secs(31)),
        };
        assert_eq!(not_yet.check(&progress), None);
        let seeders = StopConditions {
            until_seeders: Some(1),
            ..not_yet
        };
        assert_eq!(seeders.check(&progress), Some(StopReason::Seeders));
        let idle = StopConditions {
            until_idle: Some(Duration::from_secs(30)),
            ..not_yet
        };
        assert_eq!(idle.check(&progress), Some(StopReason::Idle));
        let zero = Progress {
            size: 0,
            ..progress
        };
        assert_eq!(zero.ratio(), 0.0);
    }

    #[test]
    fn rate_meter_averages_over_its_window() {
        let start = std::time::Instant::now();
        let mut meter = RateMeter::default();
        assert_eq!(meter.sample(start, 0), 0);
        let mut rate = 0;
        for s in 1..=10u64 {
            rate = meter.sample(start + Duration::from_secs(s), s * 1000);
        }
        assert_eq!(rate, 1000);
        // A stop shows as a falling rate, reaching 0 once the window passed.
        let later = start + Duration::from_secs(12);
        assert!(meter.sample(later, 10_000) < 1000);
        assert_eq!(meter.sample(start + Duration::from_secs(20), 10_000), 0);
    }

    #[test]
    fn peer_addresses_for_magnets() {
        let any: SocketAddr = "0.0.0.0:6881".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(peer_address(any, None), None);
        assert_eq!(peer_address(local, None).as_deref(), Some("127.0.0.1:7000"));
        assert_eq!(
            peer_address(any, Some("seed.example")).as_deref(),
            Some("seed.example:6881")
        );
        assert_eq!(
            peer_address(any, Some("2001:db8::1")).as_deref(),
            Some("[2001:db8::1]:6881")
        );
        assert_eq!(url_host("::1"), "[::1]");
        assert_eq!(url_host("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn status_line_names_every_part() {
        let status = Status {
            elapsed_secs: 5,
            peers: 3,
            peers_tcp: 1,
            peers_utp: 2,
            peers_encrypted: 1,
            peers_plaintext: 2,
            uploaded: 40 * 1024 * 1024,
            upload_rate: 1024 * 1024,
            completed: 1,
            ratio: 0.4,
            trackers_working: 1,
            trackers_total: 2,
            dht_nodes: Some(57),
        };
        let line = status.line();
        for part in [
            "peers 3 (tcp 1, utp 2; rc4 1, plain 2)",
            "ratio 0.40",
            "1 completed",
            "trackers 1/2 working",
            "dht 57 nodes",
        ] {
            assert!(line.contains(part), "{line}");
        }
    }
}
