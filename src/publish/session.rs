//! The publish engine: one [`Publisher`] owns the seeder's listeners, the
//! DHT node, the embedded tracker, the dialler and the torrents, each with
//! its announcer and stop conditions. Torrents are added and removed at run
//! time ([`Handle`]); each stops alone, and the session ends when all have
//! stopped (unless told to keep running, as `--watch` does) or on the
//! caller's [`Shutdown`]. `cli/publish.rs` only builds the [`Config`]
//! (after creating and verifying content, which is synchronous rayon work)
//! and prints the [`Event`]s and [`Snapshot`]s it gets back.
//!
//! Stopping is ordered: each torrent's announcer says `stopped`; then the
//! DHT table is saved while the node runs, every peer-facing task stops,
//! and the embedded tracker stops last so it still hears our `stopped`.
//! The caller's `Shutdown::finished` returns only after all of that.

mod bind;
mod dial;
mod torrent;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

pub use super::snapshot::Snapshot;
use super::snapshot::{LimitCount, TorrentState};
use super::status_server::StatusServer;
use super::{RateMeter, StopConditions, StopReason};
use crate::announce::{AnnounceEvent, PeerFound};
use crate::dht::{self, Dht, Id};
use crate::error::{Error, Result};
use crate::peer::rate::RateLimit;
use crate::peer::seeder::{self, SeedTorrent, Seeder};
use crate::shutdown::Shutdown;
use crate::tracker::{Tracker, TrackerConfig};
use crate::utp::{self, UtpSocket};
use torrent::Entry;

/// Seeder ports tried, in order, with [`Listen::Default`].
pub const DEFAULT_PORTS: std::ops::RangeInclusive<u16> = 6881..=6889;
/// A peer learnt from a tracker, the DHT or PEX is dialled again after this long.
const REDIAL_AFTER: Duration = Duration::from_secs(60);
/// Addresses remembered for [`REDIAL_AFTER`]; the oldest go first beyond it.
const MAX_REMEMBERED_DIALS: usize = 10_000;
/// Dials in flight at once.
const MAX_DIALS: usize = 32;
/// How long a uTP dial waits for the SYN's answer before TCP is tried.
const UTP_DIAL_TIMEOUT: Duration = Duration::from_secs(4);
/// `--connect` peers are re-dialled this often while not connected.
const CONNECT_EVERY: Duration = Duration::from_secs(5);
/// How long stopping (goodbyes to trackers, closing connections) may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// DHT `get_peers` after our announce: 15 s, 30 s, 1 min, 2 min, 5 min
/// after start, then every 5 min (the node re-announces by itself).
const DHT_LOOKUPS: [u64; 5] = [15, 15, 30, 60, 180];
const DHT_LOOKUP_EVERY: Duration = Duration::from_secs(300);

/// Where the seeder listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// 0.0.0.0 on the first port of [`DEFAULT_PORTS`] free for every transport.
    Default,
    Exact(SocketAddr),
}

/// The DHT node's settings; names are resolved and state read by the caller.
#[derive(Debug, Clone, Default)]
pub struct DhtSettings {
    /// Its own UDP address; `None`: the seeder's port (shared with uTP).
    pub listen: Option<SocketAddr>,
    pub bootstrap: Vec<SocketAddr>,
    pub id: Option<Id>,
    /// Where the routing table is saved when the session stops.
    pub state: Option<PathBuf>,
}

/// Everything a session needs; built by `cli/publish.rs`.
pub struct Config {
    /// Opened (and verified) torrents; one listener serves them all.
    pub torrents: Vec<SeedTorrent>,
    pub listen: Listen,
    pub tcp: bool,
    pub utp: bool,
    /// MSE/PE for incoming connections and dials.
    pub encryption: crate::peer::mse::Policy,
    pub tracker: Option<TrackerConfig>,
    /// The embedded tracker's announce URLs: a torrent listing one is
    /// counted among that tracker's seeders.
    pub embedded_urls: Vec<String>,
    pub dht: Option<DhtSettings>,
    /// Peers to dial and keep connected (for the first torrent).
    pub connect: Vec<SocketAddr>,
    pub all_tiers: bool,
    pub slots: usize,
    pub max_peers: usize,
    pub max_peers_per_ip: usize,
    /// Checked for each torrent on its own.
    pub stop: StopConditions,
    /// Run on when no torrent is left (torrents come and go, `--watch`).
    pub keep_running: bool,
    /// Serve the status page, `/status.json` and `/metrics` here.
    pub status_listen: Option<SocketAddr>,
    /// Upload bytes per second, all torrents together.
    pub max_upload_rate: Option<u64>,
    /// Upload bytes per second of each torrent.
    pub max_upload_rate_per_torrent: Option<u64>,
}

/// A torrent, as named in events: v1 info hash (lowercase hex) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentRef {
    pub info_hash: String,
    pub name: String,
}

/// What happened, in order; [`Event::Stopped`] is the last one.
#[derive(Debug, Clone)]
pub enum Event {
    Added(TorrentRef),
    Announce(TorrentRef, AnnounceEvent),
    DhtAnnounce {
        torrent: TorrentRef,
        /// The hash announced (a hybrid's second one is its truncated v2).
        info_hash: [u8; 20],
        stored: usize,
        peers: usize,
    },
    DhtError(String),
    /// Something went wrong that does not stop the session.
    Warning(String),
    TorrentStopping(TorrentRef, StopReason),
    TorrentStopped(TorrentRef, Summary),
    /// The session is ending (after its torrents stopped, or on a signal).
    Stopping(StopReason),
    Stopped(Summary),
}

/// The end of a torrent or of the session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub reason: StopReason,
    pub elapsed: Duration,
    pub uploaded: u64,
    pub completed: u64,
    /// Handshaken connections over the run, by encryption.
    pub connections_rc4: u64,
    pub connections_plaintext: u64,
}

/// What every task of a session shares.
struct Parts {
    seeder: Seeder,
    dht: Option<Dht>,
    tracker: Option<Tracker>,
    listen: SocketAddr,
    peer_id: [u8; 20],
    all_tiers: bool,
    embedded_urls: Vec<String>,
    status: Option<SocketAddr>,
    rate_per_torrent: Option<u64>,
    dial: mpsc::Sender<PeerFound>,
    events: mpsc::UnboundedSender<Event>,
    /// Everything that faces peers (torrents' own tasks stop first).
    peers: Shutdown,
    stop: StopConditions,
    keep_running: bool,
    started: Instant,
    entries: Mutex<Vec<Entry>>,
    /// The session's upload rate and its meter.
    rate: Mutex<(RateMeter, u64)>,
    snapshots: watch::Sender<Arc<Snapshot>>,
}

impl Parts {
    /// Runs `f` on entry `at` under the lock (never held across `.await`).
    fn with_entry<T>(&self, at: usize, f: impl FnOnce(&mut Entry) -> Option<T>) -> Option<T> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get_mut(at).and_then(f)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn snapshot(&self) -> Snapshot {
        let dht_nodes = match &self.dht {
            Some(dht) => dht.stats().await.ok(),
            None => None,
        };
        let now = Instant::now();
        let stats = self.seeder.stats();
        let mut limits = seeder_limits(&stats);
        if let Some(tracker) = &self.tracker {
            limits.extend(tracker_limits(&tracker.shared().swarms.limit_counts()));
        }
        if let Some(dht) = &dht_nodes {
            limits.extend(dht_limits(&dht.counters.peer_store));
        }
        Snapshot {
            elapsed: now.duration_since(self.started),
            listen: Some(self.listen),
            dht: self.dht.as_ref().map(Dht::local_addr),
            torrents: self
                .entries()
                .iter()
                .map(|e| e.snapshot(self, now))
                .collect(),
            peers: stats.peers,
            peers_tcp: stats.peers_tcp,
            peers_utp: stats.peers_utp,
            peers_encrypted: stats.peers_encrypted,
            connections_rc4: stats.connections.0,
            connections_plaintext: stats.connections.1,
            uploaded: stats.uploaded,
            upload_rate: self.rate.lock().map_or(0, |r| r.1),
            dht_nodes: dht_nodes.map(|s| s.nodes),
            limits,
        }
    }

    /// Totals over every torrent.
    fn summary(&self, reason: StopReason) -> Summary {
        let now = Instant::now();
        let completed = self
            .entries()
            .iter()
            .map(|e| e.progress(self, now).0.downloads)
            .sum();
        let stats = self.seeder.stats();
        Summary {
            reason,
            elapsed: now.duration_since(self.started),
            uploaded: stats.uploaded,
            completed,
            connections_rc4: stats.connections.0,
            connections_plaintext: stats.connections.1,
        }
    }
}

fn seeder_limits(stats: &seeder::Stats) -> Vec<LimitCount> {
    vec![
        LimitCount {
            name: "seeder_refused_per_ip",
            help: "Peer connections refused: their address had its share (--max-peers-per-ip).",
            value: stats.refused_per_ip,
        },
        LimitCount {
            name: "seeder_evicted",
            help: "Peer connections closed to make room when the seeder was full (--max-peers).",
            value: stats.evicted,
        },
        LimitCount {
            name: "seeder_refused_full",
            help: "Peer connections refused: the seeder was full and nobody could be evicted.",
            value: stats.refused_full,
        },
        LimitCount {
            name: "seeder_stalled",
            help: "Peer connections dropped because the peer stopped reading.",
            value: stats.stalled,
        },
    ]
}

fn tracker_limits(counts: &crate::tracker::swarm::LimitCounts) -> Vec<LimitCount> {
    let count = |name, help, value| LimitCount { name, help, value };
    vec![
        count(
            "tracker_refused_torrents",
            "Announces refused: the embedded tracker tracked its most torrents.",
            counts.refused_torrents,
        ),
        count(
            "tracker_refused_ports_per_ip",
            "Announces refused: the address had its share of ports in the swarm.",
            counts.refused_ports_per_ip,
        ),
        count(
            "tracker_refused_peers_per_ip",
            "Announces refused: the address had its share of peers in the tracker.",
            counts.refused_peers_per_ip,
        ),
        count(
            "tracker_refused_full",
            "Announces refused: the tracker was full and nobody could be evicted.",
            counts.refused_tracker_full,
        ),
        count(
            "tracker_evicted_swarm_full",
            "Peers evicted from a full swarm to make room.",
            counts.evicted_swarm_full,
        ),
        count(
            "tracker_evicted_full",
            "Peers evicted from the full tracker to make room.",
            counts.evicted_tracker_full,
        ),
    ]
}

fn dht_limits(counts: &dht::peer_store::StoreCounters) -> Vec<LimitCount> {
    let count = |name, help, value| LimitCount { name, help, value };
    vec![
        count(
            "dht_evicted_ports_per_ip",
            "DHT peer store: an address past its ports per swarm lost its stalest one.",
            counts.evicted_ports_per_ip,
        ),
        count(
            "dht_evicted_entries_per_ip",
            "DHT peer store: an address past its entries lost its stalest one.",
            counts.evicted_entries_per_ip,
        ),
        count(
            "dht_evicted_swarm_full",
            "DHT peer store: a full swarm lost an entry of its most-represented address.",
            counts.evicted_swarm_full,
        ),
        count(
            "dht_evicted_store_full",
            "DHT peer store: the full store lost an entry of its most-represented address.",
            counts.evicted_store_full,
        ),
        count(
            "dht_refused_store_full",
            "DHT peer store: announces refused, nothing could be evicted.",
            counts.refused_store_full,
        ),
    ]
}

/// A running publish session.
pub struct Publisher {
    handle: Handle,
    events: mpsc::UnboundedReceiver<Event>,
}

/// Adds and removes a session's torrents; cheap to clone.
#[derive(Clone)]
pub struct Handle {
    parts: Arc<Parts>,
}

impl Handle {
    /// Starts seeding, announcing and looking for peers of `seed`.
    pub fn add(&self, mut seed: SeedTorrent) -> Result<TorrentRef> {
        let parts = &self.parts;
        let torrent = seed.torrent().clone();
        let id = TorrentRef {
            info_hash: torrent.info_hash.to_hex(),
            name: torrent.meta.info.name.clone(),
        };
        if parts.peers.is_triggered() {
            return Err(Error::PublishStopped(id.name));
        }
        let hashes = seed.hashes();
        if let Some(rate) = parts.rate_per_torrent {
            seed.set_upload_limit(Some(Arc::new(RateLimit::new(rate))));
        }
        if !parts.seeder.add(seed) {
            return Err(Error::AlreadyPublished {
                name: id.name,
                info_hash: id.info_hash,
            });
        }
        if let Some(tracker) = &parts.tracker {
            tracker.set_allowed(&hashes, &id.name, true);
        }
        let entry = torrent::start(parts, &torrent, hashes);
        parts.entries().push(entry);
        let _ = parts.events.send(Event::Added(id.clone()));
        Ok(id)
    }

    /// Stops the torrent that goes by `info_hash` (v1, or a hybrid's
    /// truncated v2) and forgets it in the embedded tracker; returns once
    /// its trackers were told, false when no such torrent is seeding.
    pub async fn remove(&self, info_hash: &[u8; 20]) -> bool {
        let at = self
            .parts
            .entries()
            .iter()
            .position(|e| e.state == TorrentState::Seeding && e.hashes.contains(info_hash));
        match at {
            Some(at) => {
                torrent::stop(&self.parts, at, StopReason::Removed).await;
                true
            }
            None => false,
        }
    }

    /// Reports a problem that does not stop the session.
    pub fn warn(&self, message: String) {
        let _ = self.parts.events.send(Event::Warning(message));
    }

    /// The hashes of every torrent still seeding.
    pub fn seeding(&self) -> Vec<[u8; 20]> {
        self.parts
            .entries()
            .iter()
            .filter(|e| e.state == TorrentState::Seeding)
            .map(|e| e.hashes[0])
            .collect()
    }

    pub async fn snapshot(&self) -> Snapshot {
        self.parts.snapshot().await
    }

    /// The latest snapshot, renewed every second.
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.parts.snapshots.subscribe()
    }
}

impl Publisher {
    /// Binds every listener and starts every part, then returns; the
    /// session runs until its torrents have stopped or `shutdown`. On
    /// error, the parts already started are stopped before it returns.
    pub async fn start(config: Config, shutdown: &Shutdown) -> Result<Publisher> {
        let stages = Stages {
            peers: Shutdown::new(),
            tracker: Shutdown::new(),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let torrents = match start_parts(config, &stages, events_tx).await {
            Ok((parts, torrents, dht_state)) => {
                let handle = Handle {
                    parts: Arc::new(parts),
                };
                for seed in torrents {
                    if let Err(err) = handle.add(seed) {
                        stages.stop().await;
                        return Err(err);
                    }
                }
                shutdown.spawn(supervise(
                    handle.parts.clone(),
                    stages,
                    shutdown.clone(),
                    dht_state,
                ));
                return Ok(Publisher { handle, events });
            }
            Err(err) => err,
        };
        stages.stop().await;
        Err(torrents)
    }

    /// The seeder's address (TCP, and uTP on the same port number).
    pub fn listen_addr(&self) -> SocketAddr {
        self.handle.parts.listen
    }

    pub fn dht_addr(&self) -> Option<SocketAddr> {
        self.handle.parts.dht.as_ref().map(Dht::local_addr)
    }

    pub fn tracker(&self) -> Option<&Tracker> {
        self.handle.parts.tracker.as_ref()
    }

    /// Where the status page is served.
    pub fn status_addr(&self) -> Option<SocketAddr> {
        self.handle.parts.status
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The next event; `None` after [`Event::Stopped`].
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    pub async fn snapshot(&self) -> Snapshot {
        self.handle.snapshot().await
    }
}

/// The shutdowns a session runs under: `peers` for everything that faces
/// peers, `tracker` for the embedded tracker, which stops last.
struct Stages {
    peers: Shutdown,
    tracker: Shutdown,
}

impl Stages {
    async fn stop(&self) {
        self.peers.finished().await;
        self.tracker.finished().await;
    }
}

/// Starts every shared part under `stages` (the caller stops them on
/// error); the torrents are added afterwards.
async fn start_parts(
    mut config: Config,
    stages: &Stages,
    events: mpsc::UnboundedSender<Event>,
) -> Result<(Parts, Vec<SeedTorrent>, Option<PathBuf>)> {
    // Every peer, tracker client and DHT query holds descriptors.
    if let Err(err) = crate::limits::raise_fd_limit() {
        let _ = events.send(Event::Warning(format!(
            "cannot raise the open-file limit: {err}"
        )));
    }
    let shutdown = &stages.peers;
    let (dial_tx, dial_rx) = mpsc::channel::<PeerFound>(1024);
    let tracker = start_tracker(config.tracker.take(), stages, &dial_tx).await?;
    let bound = bind::bind_seeder(config.listen, config.tcp, config.utp).await?;
    let listen = bound.addr;
    let (utp, dht) = start_udp(&config, bound.udp, listen, shutdown).await?;
    let (dht, announced_rx) = dht.unzip();
    if let Some(announced_rx) = announced_rx {
        // Some downloaders (rtorrent) announce to our node and wait to be called.
        let into = |(id, addr): (Id, SocketAddr)| PeerFound {
            info_hash: id.0,
            addr,
        };
        let forward = dial::forward(announced_rx, dial_tx.clone(), into, shutdown.clone());
        shutdown.spawn(forward);
    }
    let dht_port = dht.as_ref().map(|d| d.local_addr().port());
    let seeder = start_seeder(&config, bound.tcp, dht_port, &dial_tx, shutdown);
    if let Some(utp) = &utp {
        let accept = dial::accept_utp(seeder.clone(), utp.clone(), shutdown.clone());
        shutdown.spawn(accept);
    }
    let dialer = dial::Dialer {
        seeder: seeder.clone(),
        utp,
        tcp: config.tcp,
        encryption: config.encryption,
    };
    let dials = dial::dial_loop(dialer.clone(), dial_rx, listen, shutdown.clone());
    shutdown.spawn(dials);
    if let (false, Some(first)) = (config.connect.is_empty(), config.torrents.first()) {
        let hash = first.hashes()[0];
        let connect = std::mem::take(&mut config.connect);
        shutdown.spawn(dial::connect_loop(dialer, connect, hash, shutdown.clone()));
    }
    let mut parts = Parts {
        seeder,
        dht,
        tracker,
        listen,
        peer_id: [0; 20],
        all_tiers: config.all_tiers,
        embedded_urls: std::mem::take(&mut config.embedded_urls),
        status: None,
        rate_per_torrent: config.max_upload_rate_per_torrent,
        dial: dial_tx,
        events,
        peers: shutdown.clone(),
        stop: config.stop,
        keep_running: config.keep_running,
        started: Instant::now(),
        entries: Mutex::new(Vec::new()),
        rate: Mutex::new((RateMeter::default(), 0)),
        snapshots: watch::Sender::new(Arc::new(Snapshot::default())),
    };
    parts.peer_id = parts.seeder.peer_id();
    if let Some(addr) = config.status_listen {
        // Stops with the tracker, last: the page shows the session to the end.
        let rx = parts.snapshots.subscribe();
        let server = StatusServer::start(addr, rx, &stages.tracker).await?;
        parts.status = Some(server.local_addr());
    }
    let dht_state = config.dht.and_then(|d| d.state);
    Ok((parts, config.torrents, dht_state))
}

/// The embedded tracker, if configured. Downloaders announcing to it are
/// dialled at once: one that announced before us got no peers and may not
/// ask again for the whole interval, and the min interval keeps us from
/// asking early.
async fn start_tracker(
    config: Option<TrackerConfig>,
    stages: &Stages,
    dial: &mpsc::Sender<PeerFound>,
) -> Result<Option<Tracker>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let (tracked_tx, tracked_rx) = mpsc::channel(256);
    let config = TrackerConfig {
        announced: Some(tracked_tx),
        ..config
    };
    let tracker = Tracker::start(config, &stages.tracker).await?;
    let into = |(info_hash, addr)| PeerFound { info_hash, addr };
    let peers = &stages.peers;
    peers.spawn(dial::forward(tracked_rx, dial.clone(), into, peers.clone()));
    Ok(Some(tracker))
}

/// The seeder, serving the TCP listener (if any); peers it learns through
/// PEX go to the dialler.
fn start_seeder(
    config: &Config,
    listener: Option<tokio::net::TcpListener>,
    dht_port: Option<u16>,
    dial: &mpsc::Sender<PeerFound>,
    shutdown: &Shutdown,
) -> Seeder {
    let (pex_tx, pex_rx) = mpsc::channel(256);
    let into = |(info_hash, addr)| PeerFound { info_hash, addr };
    shutdown.spawn(dial::forward(pex_rx, dial.clone(), into, shutdown.clone()));
    let seeder = Seeder::new(
        seeder::Config {
            peer_id: seeder::new_peer_id(),
            upload_slots: config.slots,
            max_connections: config.max_peers,
            max_per_ip: config.max_peers_per_ip,
            dht_port,
            pex_found: Some(pex_tx),
            upload_limit: config.max_upload_rate.map(|r| Arc::new(RateLimit::new(r))),
            encryption: config.encryption,
            ..seeder::Config::default()
        },
        Vec::new(),
        shutdown.clone(),
    );
    let serving = seeder.clone();
    shutdown.spawn(async move { serving.serve(listener).await });
    seeder
}

type DhtStarted = (Dht, mpsc::Receiver<(Id, SocketAddr)>);

/// uTP on the seeder's UDP port, and the DHT node: sharing that socket
/// (KRPC datagrams are handed over by uTP) unless it has its own address.
async fn start_udp(
    config: &Config,
    udp: Option<tokio::net::UdpSocket>,
    listen: SocketAddr,
    shutdown: &Shutdown,
) -> Result<(Option<UtpSocket>, Option<DhtStarted>)> {
    let shares_port = config
        .dht
        .as_ref()
        .is_some_and(|d| d.listen.is_none() || d.listen == Some(listen));
    let (krpc_tx, krpc_rx) = mpsc::channel(1024);
    let utp = match udp {
        Some(socket) => {
            let utp_config = utp::Config {
                max_connections: config.max_peers,
                max_per_ip: config.max_peers_per_ip,
                forward_other: shares_port.then(|| krpc_tx.clone()),
            };
            let started = UtpSocket::start(socket, utp_config, shutdown);
            Some(started.map_err(|source| Error::Listen {
                addr: listen,
                source,
            })?)
        }
        None => None,
    };
    drop(krpc_tx);
    let Some(settings) = &config.dht else {
        return Ok((utp, None));
    };
    let (announced_tx, announced_rx) = mpsc::channel(256);
    let shared = match (&utp, shares_port) {
        (Some(utp), true) => {
            let sender = utp.sender().map_err(|source| Error::DhtBind {
                addr: listen,
                source,
            })?;
            Some((sender, krpc_rx))
        }
        _ => None,
    };
    let own = match shared {
        Some(_) => None,
        None => Some(bind::bind_dht(settings, listen).await?),
    };
    let dht = bind::start_dht(settings, shared, own, announced_tx, shutdown)?;
    Ok((utp, Some((dht, announced_rx))))
}

/// Each second: stops torrents whose condition is met, renews rates and
/// the snapshot, and ends the session when every torrent has stopped (or
/// on `shutdown`), in order (see the module doc).
async fn supervise(
    parts: Arc<Parts>,
    stages: Stages,
    shutdown: Shutdown,
    dht_state: Option<PathBuf>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut stops = tokio::task::JoinSet::new();
    let mut last = StopReason::Signal;
    let reason = loop {
        tokio::select! {
            () = shutdown.cancelled() => break StopReason::Signal,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        for (at, reason) in due_stops(&parts, now) {
            last = reason;
            let parts = parts.clone();
            stops.spawn(async move { torrent::stop(&parts, at, reason).await });
        }
        while stops.try_join_next().is_some() {}
        renew(&parts, now).await;
        let all_stopped = {
            let entries = parts.entries();
            !entries.is_empty() && entries.iter().all(|e| e.state != TorrentState::Seeding)
        };
        if all_stopped && stops.is_empty() && !parts.keep_running {
            break last;
        }
    };
    let _ = parts.events.send(Event::Stopping(reason));
    let seeding = parts.entries().len();
    for at in 0..seeding {
        let parts = parts.clone();
        stops.spawn(async move { torrent::stop(&parts, at, reason).await });
    }
    while stops.join_next().await.is_some() {}
    finish(&parts, &stages, dht_state.as_deref()).await;
    let _ = parts.events.send(Event::Stopped(parts.summary(reason)));
}

/// Torrents whose stop condition is met now.
fn due_stops(parts: &Parts, now: Instant) -> Vec<(usize, StopReason)> {
    parts
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.state == TorrentState::Seeding)
        .filter_map(|(at, e)| parts.stop.check(&e.progress(parts, now).0).map(|r| (at, r)))
        .collect()
}

/// Renews upload rates and the published snapshot.
async fn renew(parts: &Parts, now: Instant) {
    for entry in parts.entries().iter_mut() {
        let uploaded = parts
            .seeder
            .torrent_stats(&entry.hashes[0])
            .map_or(0, |s| s.uploaded);
        entry.upload_rate = entry.rate.sample(now, uploaded);
    }
    if let Ok(mut rate) = parts.rate.lock() {
        rate.1 = rate.0.sample(now, parts.seeder.stats().uploaded);
    }
    if parts.snapshots.receiver_count() > 0 {
        let snapshot = parts.snapshot().await;
        parts.snapshots.send_replace(Arc::new(snapshot));
    }
}

/// Saves the DHT table, stops every peer-facing task, then the tracker.
async fn finish(parts: &Parts, stages: &Stages, dht_state: Option<&std::path::Path>) {
    if let (Some(dht), Some(path)) = (&parts.dht, dht_state) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(err) = dht::save_state(dht, None, path).await {
            let _ = parts.events.send(Event::Warning(err.to_string()));
        }
    }
    if tokio::time::timeout(STOP_TIMEOUT, stages.peers.finished())
        .await
        .is_err()
    {
        let _ = parts.events.send(Event::Warning(
            "some connections did not close in time".into(),
        ));
    }
    stages.tracker.finished().await;
}
