//! A publish session's state at one moment: what `--json` status lines,
//! the status page, `/status.json` and `/metrics` are made from. Plain
//! data, built by the session; rendering is `status`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::StopReason;
use crate::announce::TrackerStatus;

/// The whole session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// Since the session started.
    #[serde(rename = "elapsed_secs", serialize_with = "secs")]
    pub elapsed: Duration,
    /// The seeder's address (TCP, and uTP on the same port).
    pub listen: Option<SocketAddr>,
    pub dht: Option<SocketAddr>,
    /// Every torrent added, stopped ones too, in the order they were added.
    pub torrents: Vec<TorrentSnapshot>,
    /// Open connections, all torrents.
    pub peers: usize,
    pub peers_tcp: usize,
    pub peers_utp: usize,
    /// Handshaken connections in RC4 (MSE/PE); the rest are plaintext.
    pub peers_encrypted: usize,
    /// Handshaken connections since the start: RC4 and plaintext.
    pub connections_rc4: u64,
    pub connections_plaintext: u64,
    /// Block bytes sent, all torrents.
    pub uploaded: u64,
    /// Bytes per second over the last few seconds, all torrents.
    pub upload_rate: u64,
    pub dht_nodes: Option<usize>,
    /// What each cap refused or evicted, for `/metrics`.
    pub limits: Vec<LimitCount>,
}

/// Whether a torrent is still served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum TorrentState {
    Seeding,
    Stopped(StopReason),
}

/// One torrent.
#[derive(Debug, Clone, Serialize)]
pub struct TorrentSnapshot {
    pub name: String,
    /// Lowercase hex.
    pub info_hash: String,
    /// Lowercase hex of the full SHA-256, for v2 and hybrid torrents.
    pub info_hash_v2: Option<String>,
    /// Content size in bytes.
    pub size: u64,
    #[serde(flatten)]
    pub state: TorrentState,
    #[serde(rename = "seeding_secs", serialize_with = "secs")]
    pub seeding_for: Duration,
    /// Open connections (handshaken) for this torrent.
    pub peers: usize,
    /// Connected peers that hold every piece.
    pub seeders: usize,
    pub uploaded: u64,
    /// Bytes per second over the last few seconds.
    pub upload_rate: u64,
    /// Uploaded divided by size.
    pub ratio: f64,
    /// Completed downloads: the most any one source saw.
    pub completed: u64,
    /// Seeders other than us: the most any one source saw (trackers'
    /// counts, the embedded tracker, connected complete peers).
    pub other_seeders: u64,
    /// Since a peer last requested a block; `None`: none ever did.
    #[serde(rename = "idle_secs", serialize_with = "opt_secs")]
    pub idle: Option<Duration>,
    pub trackers: Vec<TrackerStatus>,
}

/// One cap's count, as a Prometheus counter:
/// `mktorrent_publish_<name>_total{...labels}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitCount {
    /// `snake_case`, e.g. `seeder_refused_per_ip`.
    pub name: &'static str,
    /// One line for `# HELP`.
    pub help: &'static str,
    pub value: u64,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}
