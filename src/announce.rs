//! The tracker client: announcing our torrents to HTTP(S) (BEP 3, 23, 48)
//! and UDP (BEP 15, 41) trackers, tier by tier (BEP 12).
//!
//! [`http`] and [`udp`] are pure codecs for requests and replies;
//! [`schedule`] is the pure state machine that decides which tracker to
//! announce to, with which event, and when (intervals, backoff, tiers).
//! [`client`] is the thin tokio adapter that owns sockets and the clock and
//! is what `publish` starts. Nothing here is a server: the tracker server
//! lives in [`crate::tracker`].

pub mod client;
pub mod http;
pub mod schedule;
pub mod udp;

use std::net::SocketAddr;

pub use client::{
    AnnounceConfig, AnnounceEvent, Announcer, PeerFound, TrackerState, TrackerStatus,
};

/// The `event` of an announce (BEP 3; UDP codes from BEP 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A periodic announce: no `event` parameter at all.
    Regular,
    Started,
    Completed,
    Stopped,
}

impl Event {
    /// The name used in reports and in the HTTP `event` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "regular",
            Self::Started => "started",
            Self::Completed => "completed",
            Self::Stopped => "stopped",
        }
    }

    /// BEP 15: 0 none, 1 completed, 2 started, 3 stopped.
    pub fn udp_code(self) -> u32 {
        match self {
            Self::Regular => 0,
            Self::Completed => 1,
            Self::Started => 2,
            Self::Stopped => 3,
        }
    }
}

/// What a tracker told us in answer to an announce, whatever the transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnounceReply {
    /// Seconds until the next regular announce, as the tracker asked.
    pub interval: Option<u32>,
    /// Seconds the tracker wants at least between announces.
    pub min_interval: Option<u32>,
    pub seeders: Option<u64>,
    pub leechers: Option<u64>,
    /// Completed downloads the tracker knows of.
    pub downloaded: Option<u64>,
    pub warning: Option<String>,
    /// BEP 3 `tracker id`, to send back as `trackerid`.
    pub tracker_id: Option<Vec<u8>>,
    /// IPv4 peers first, then IPv6 ones, in the order the tracker gave.
    pub peers: Vec<SocketAddr>,
}

/// Counts for one torrent from a scrape (BEP 48 / BEP 15).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrapeCounts {
    pub seeders: u64,
    pub leechers: u64,
    pub downloaded: u64,
}

/// Lowercase hex of an info hash, for reports.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
