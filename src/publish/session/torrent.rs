//! One torrent of a session: its announcer and DHT tasks (under a
//! shutdown of its own, so it can stop alone), its stop conditions and its
//! figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Event, Parts, TorrentRef, DHT_LOOKUPS, DHT_LOOKUP_EVERY, STOP_TIMEOUT};
use crate::announce::{
    AnnounceConfig, AnnounceEvent, Announcer, PeerFound, TrackerState, TrackerStatus,
};
use crate::dht::{Dht, Id};
use crate::metainfo::{hex, InfoHash};
use crate::peer::seeder::TorrentStats;
use crate::publish::snapshot::{TorrentSnapshot, TorrentState};
use crate::publish::{Progress, RateMeter, StopReason};
use crate::shutdown::Shutdown;

/// A torrent added to the session.
pub(super) struct Entry {
    pub(super) id: TorrentRef,
    pub(super) info_hash_v2: Option<String>,
    /// v1, and a hybrid's truncated v2.
    pub(super) hashes: Vec<[u8; 20]>,
    pub(super) size: u64,
    pub(super) added: Instant,
    /// Whether its trackers include the embedded one (which then counts
    /// us among its seeders).
    pub(super) uses_embedded: bool,
    pub(super) announcer: Option<Announcer>,
    /// Its announcer and DHT tasks.
    pub(super) tasks: Shutdown,
    /// Ends the passing on of its announce events.
    pub(super) forwarding: CancellationToken,
    pub(super) state: TorrentState,
    pub(super) rate: RateMeter,
    pub(super) upload_rate: u64,
    /// The seeder's figures when it stopped serving the torrent.
    frozen: Option<TorrentStats>,
}

/// Starts the announcer and DHT tasks of a torrent already added to the
/// seeder; returns its entry.
pub(super) fn start(
    parts: &Arc<Parts>,
    torrent: &crate::metainfo::Torrent,
    hashes: Vec<[u8; 20]>,
) -> Entry {
    let tasks = Shutdown::new();
    let forwarding = CancellationToken::new();
    let id = TorrentRef {
        info_hash: torrent.info_hash.to_hex(),
        name: torrent.meta.info.name.clone(),
    };
    let tiers = torrent.meta.tracker_tiers();
    let uses_embedded = tiers
        .iter()
        .flatten()
        .any(|u| parts.embedded_urls.contains(u));
    let announcer = (!tiers.is_empty()).then(|| {
        let announcer = start_announcer(parts, torrent, tiers, hashes.clone(), &tasks);
        // Not under `tasks`: the announcer's `stopped` reply is passed on
        // after `tasks` have ended.
        let events = forward_events(
            announcer.events(),
            parts.events.clone(),
            id.clone(),
            forwarding.clone(),
        );
        parts.peers.spawn(events);
        announcer
    });
    if let Some(dht) = &parts.dht {
        for hash in &hashes {
            tasks.spawn(dht_loop(
                dht.clone(),
                id.clone(),
                *hash,
                parts.listen.port(),
                parts.dial.clone(),
                parts.events.clone(),
                tasks.clone(),
            ));
        }
    }
    Entry {
        id,
        info_hash_v2: torrent.info_hash_v2.as_ref().map(|h| hex(h)),
        hashes,
        size: torrent.meta.info.total_length(),
        added: Instant::now(),
        uses_embedded,
        announcer,
        tasks,
        forwarding,
        state: TorrentState::Seeding,
        rate: RateMeter::default(),
        upload_rate: 0,
        frozen: None,
    }
}

/// The torrent's announcer; the peers it learns go to the dialler.
fn start_announcer(
    parts: &Arc<Parts>,
    torrent: &crate::metainfo::Torrent,
    tiers: Vec<Vec<String>>,
    hashes: Vec<[u8; 20]>,
    tasks: &Shutdown,
) -> Announcer {
    let seeder = parts.seeder.clone();
    let v1 = torrent.info_hash.0;
    let uploaded = Arc::new(move || seeder.torrent_stats(&v1).map_or(0, |s| s.uploaded))
        as Arc<dyn Fn() -> u64 + Send + Sync>;
    let id = parts.peer_id;
    let (announcer, found) = Announcer::start(
        AnnounceConfig {
            tiers,
            info_hashes: hashes,
            peer_id: id,
            port: parts.listen.port(),
            left: 0,
            all_tiers: parts.all_tiers,
            // BEP 7: lets trackers recognise us across address changes.
            key: u32::from_be_bytes([id[16], id[17], id[18], id[19]]),
            ..AnnounceConfig::default()
        },
        uploaded,
        tasks,
    );
    let forward = super::dial::forward(found, parts.dial.clone(), |p| p, tasks.clone());
    tasks.spawn(forward);
    announcer
}

impl Entry {
    fn trackers(&self) -> Vec<TrackerStatus> {
        self.announcer
            .as_ref()
            .map(Announcer::status)
            .unwrap_or_default()
    }

    /// What the stop conditions are checked against, with the seeder's
    /// figures for this torrent.
    pub(super) fn progress(&self, parts: &Parts, now: Instant) -> (Progress, PeerFigures) {
        let stats = self
            .frozen
            .or_else(|| parts.seeder.torrent_stats(&self.hashes[0]))
            .unwrap_or_default();
        // Never a sum: one download is usually seen by several sources.
        let mut downloads = stats.completed;
        let mut others = stats.seeders as u64;
        if let Some(tracker) = &parts.tracker {
            for hash in &self.hashes {
                let counts = tracker.shared().swarms.scrape(hash);
                downloads = downloads.max(u64::from(counts.completed));
                let ours = u32::from(self.uses_embedded);
                others = others.max(u64::from(counts.seeders.saturating_sub(ours)));
            }
        }
        for status in self.trackers() {
            downloads = downloads.max(status.downloaded.unwrap_or(0));
            // A tracker that answered us counts us among its seeders.
            if status.state == TrackerState::Working {
                others = others.max(status.seeders.unwrap_or(0).saturating_sub(1));
            }
        }
        let last = stats.last_block.unwrap_or(self.added).max(self.added);
        let progress = Progress {
            elapsed: now.duration_since(self.added),
            downloads,
            uploaded: stats.uploaded,
            size: self.size,
            other_seeders: others,
            idle: now.duration_since(last),
        };
        let figures = PeerFigures {
            peers: stats.peers,
            seeders: stats.seeders,
            ever_requested: stats.last_block.is_some(),
        };
        (progress, figures)
    }

    pub(super) fn snapshot(&self, parts: &Parts, now: Instant) -> TorrentSnapshot {
        let (progress, figures) = self.progress(parts, now);
        TorrentSnapshot {
            name: self.id.name.clone(),
            info_hash: self.id.info_hash.clone(),
            info_hash_v2: self.info_hash_v2.clone(),
            size: self.size,
            state: self.state,
            seeding_for: progress.elapsed,
            peers: figures.peers,
            seeders: figures.seeders,
            uploaded: progress.uploaded,
            upload_rate: self.upload_rate,
            ratio: (progress.ratio() * 1000.0).round() / 1000.0,
            completed: progress.downloads,
            other_seeders: progress.other_seeders,
            idle: figures.ever_requested.then_some(progress.idle),
            trackers: self.trackers(),
        }
    }
}

/// A torrent's connections now.
pub(super) struct PeerFigures {
    peers: usize,
    seeders: usize,
    ever_requested: bool,
}

/// Stops one torrent: its announcer says `stopped`, the DHT forgets it and
/// the seeder closes its connections. The embedded tracker keeps tracking
/// it (other seeders may rely on it) unless it was `Removed`.
pub(super) async fn stop(parts: &Arc<Parts>, at: usize, reason: StopReason) {
    let Some((id, hashes, tasks, forwarding)) = parts.with_entry(at, |entry| {
        if entry.state != TorrentState::Seeding {
            return None;
        }
        entry.state = TorrentState::Stopped(reason);
        Some((
            entry.id.clone(),
            entry.hashes.clone(),
            entry.tasks.clone(),
            entry.forwarding.clone(),
        ))
    }) else {
        return;
    };
    let _ = parts
        .events
        .send(Event::TorrentStopping(id.clone(), reason));
    if tokio::time::timeout(STOP_TIMEOUT, tasks.finished())
        .await
        .is_err()
    {
        let _ = parts.events.send(Event::Warning(format!(
            "{}: trackers did not answer `stopped` in time",
            id.name
        )));
    }
    forwarding.cancel();
    tokio::task::yield_now().await;
    if let Some(dht) = &parts.dht {
        for hash in &hashes {
            let _ = dht.forget(Id::from(InfoHash(*hash))).await;
        }
    }
    let summary = parts.with_entry(at, |entry| {
        let mut stats = parts.seeder.torrent_stats(&hashes[0]).unwrap_or_default();
        stats.peers = 0;
        stats.seeders = 0;
        entry.frozen = Some(stats);
        entry.upload_rate = 0;
        let (progress, _) = entry.progress(parts, Instant::now());
        Some(super::Summary {
            reason,
            elapsed: progress.elapsed,
            uploaded: progress.uploaded,
            completed: progress.downloads,
            connections_rc4: stats.connections.0,
            connections_plaintext: stats.connections.1,
        })
    });
    parts.seeder.remove(&hashes[0]);
    if let (Some(tracker), StopReason::Removed) = (&parts.tracker, reason) {
        tracker.set_allowed(&hashes, &id.name, false);
    }
    if let Some(summary) = summary {
        let _ = parts.events.send(Event::TorrentStopped(id, summary));
    }
}

/// Passes one announcer's results on as [`Event::Announce`] until
/// `done`, then what is left in the channel.
async fn forward_events(
    mut results: broadcast::Receiver<AnnounceEvent>,
    events: mpsc::UnboundedSender<Event>,
    id: TorrentRef,
    done: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            result = results.recv() => match result {
                Ok(event) => { let _ = events.send(Event::Announce(id.clone(), event)); }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = done.cancelled() => break,
        }
    }
    while let Ok(event) = results.try_recv() {
        let _ = events.send(Event::Announce(id.clone(), event));
    }
}

/// Announces one hash to the DHT until some node stores it (retrying with
/// backoff while the routing table fills), then looks for new peers to
/// dial on the [`DHT_LOOKUPS`] schedule.
async fn dht_loop(
    dht: Dht,
    torrent: TorrentRef,
    info_hash: [u8; 20],
    port: u16,
    dial: mpsc::Sender<PeerFound>,
    events: mpsc::UnboundedSender<Event>,
    shutdown: Shutdown,
) {
    let id = Id::from(InfoHash(info_hash));
    if let Err(err) = dht.seed(id, port).await {
        let _ = events.send(Event::DhtError(err.to_string()));
    }
    let mut retry = Duration::from_secs(2);
    let mut announced = false;
    let mut lookups = DHT_LOOKUPS.iter().map(|s| Duration::from_secs(*s));
    loop {
        let found = if announced {
            dht.get_peers(id).await.map(|f| f.peers).unwrap_or_default()
        } else {
            match dht.announce(id, Some(port)).await {
                Ok(result) => {
                    announced = result.stored > 0;
                    let _ = events.send(Event::DhtAnnounce {
                        torrent: torrent.clone(),
                        info_hash,
                        stored: result.stored,
                        peers: result.peers.len(),
                    });
                    result.peers
                }
                Err(err) => {
                    let _ = events.send(Event::DhtError(err.to_string()));
                    Vec::new()
                }
            }
        };
        for addr in found {
            let _ = dial.try_send(PeerFound { info_hash, addr });
        }
        let wait = if announced {
            lookups.next().unwrap_or(DHT_LOOKUP_EVERY)
        } else {
            let wait = retry;
            retry = (retry * 2).min(DHT_LOOKUP_EVERY);
            wait
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
