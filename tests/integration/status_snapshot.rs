//! A hand-built two-torrent [`Snapshot`] for the status server's tests
//! here and in the interop suite (which includes this file by path): one
//! torrent seeding, one stopped whose name needs escaping everywhere.

use std::time::Duration;

use mktorrent_rs::announce::{TrackerState, TrackerStatus};
use mktorrent_rs::publish::snapshot::{LimitCount, Snapshot, TorrentSnapshot, TorrentState};
use mktorrent_rs::publish::StopReason;

pub const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
/// B is a hybrid: its full v2 hash.
pub const B_V2: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
pub const A_NAME: &str = "alpha.iso";
/// Markup, quotes and a backslash: escaped differently in HTML and in
/// Prometheus label values.
pub const B_NAME: &str = "beta & <gamma> \"q\" \\ b";

/// A torrent with one failing tracker.
pub fn torrent(name: &str, info_hash: &str, state: TorrentState) -> TorrentSnapshot {
    TorrentSnapshot {
        name: name.to_owned(),
        info_hash: info_hash.to_owned(),
        info_hash_v2: None,
        size: 1 << 20,
        state,
        seeding_for: Duration::from_secs(60),
        peers: 1,
        seeders: 0,
        uploaded: 1 << 19,
        upload_rate: 4096,
        ratio: 0.5,
        completed: 1,
        other_seeders: 2,
        idle: Some(Duration::from_secs(5)),
        trackers: vec![TrackerStatus {
            url: "http://127.0.0.1:1/announce".to_owned(),
            tier: 0,
            info_hash: info_hash.to_owned(),
            state: TrackerState::Failed,
            last_error: Some("connection refused".to_owned()),
            warning: None,
            seeders: None,
            leechers: None,
            downloaded: None,
            peers_received: 0,
            announces: 1,
            failures: 1,
            next_announce_secs: Some(30),
        }],
    }
}

/// Two torrents: [`A`] seeding, [`B`] (hybrid, hostile name) stopped.
pub fn two_torrents() -> Snapshot {
    let mut b = torrent(B_NAME, B, TorrentState::Stopped(StopReason::Downloads));
    b.info_hash_v2 = Some(B_V2.to_owned());
    Snapshot {
        elapsed: Duration::from_secs(65),
        listen: Some("127.0.0.1:6881".parse().unwrap()),
        dht: None,
        torrents: vec![torrent(A_NAME, A, TorrentState::Seeding), b],
        peers: 2,
        peers_tcp: 1,
        peers_utp: 1,
        peers_encrypted: 1,
        connections_rc4: 4,
        connections_plaintext: 6,
        uploaded: 1 << 20,
        upload_rate: 8192,
        dht_nodes: None,
        limits: vec![LimitCount {
            name: "seeder_refused_per_ip",
            help: "Connections refused: one address held its share.",
            value: 3,
        }],
    }
}
