//! The publish engine: one [`Publisher`] owns the seeder's listeners, the
//! DHT node, the embedded tracker, the announcers, the dialler and the stop
//! conditions of a publish session. `cli/publish.rs` only builds the
//! [`Config`] (after creating and verifying content, which is synchronous
//! rayon work) and prints the [`Event`]s and [`Snapshot`]s it gets back.
//!
//! Stopping is ordered: when a stop condition is met or the caller's
//! [`Shutdown`] is triggered, the DHT table is saved while the node runs,
//! then every peer-facing task stops (announcers send `stopped`), and the
//! embedded tracker stops last so it still hears our own `stopped`. The
//! caller's `Shutdown::finished` returns only after all of that.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{Progress, StopConditions, StopReason};
use crate::announce::{AnnounceConfig, AnnounceEvent, Announcer, PeerFound, TrackerStatus};
use crate::dht::{self, Dht, Id};
use crate::error::{Error, Result};
use crate::metainfo::{InfoHash, Torrent};
use crate::peer::seeder::{self, SeedTorrent, Seeder, Transport};
use crate::shutdown::Shutdown;
use crate::tracker::{Tracker, TrackerConfig};
use crate::utp::{self, UtpSocket};

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
    pub tracker: Option<TrackerConfig>,
    pub dht: Option<DhtSettings>,
    /// Peers to dial and keep connected.
    pub connect: Vec<SocketAddr>,
    pub all_tiers: bool,
    pub slots: usize,
    pub max_peers: usize,
    pub max_peers_per_ip: usize,
    pub stop: StopConditions,
}

/// What happened, in order; [`Event::Stopped`] is the last one.
#[derive(Debug, Clone)]
pub enum Event {
    Announce(AnnounceEvent),
    DhtAnnounce {
        info_hash: [u8; 20],
        stored: usize,
        peers: usize,
    },
    DhtError(String),
    /// Something went wrong that does not stop the session.
    Warning(String),
    Stopping(StopReason),
    Stopped(Summary),
}

/// The end of a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub reason: StopReason,
    pub elapsed: Duration,
    pub uploaded: u64,
    pub completed: u64,
}

/// A session's state now, for status lines.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub progress: Progress,
    pub seeder: seeder::Stats,
    pub trackers: Vec<TrackerStatus>,
    pub dht_nodes: Option<usize>,
}

/// What every task of a session shares.
struct Parts {
    seeder: Seeder,
    utp: Option<UtpSocket>,
    dht: Option<Dht>,
    tracker: Option<Tracker>,
    announcers: Vec<Announcer>,
    /// Every info hash served: v1 and truncated v2 of each torrent.
    hashes: Vec<[u8; 20]>,
    size: u64,
    started: Instant,
    stop: StopConditions,
    listen: SocketAddr,
}

impl Parts {
    /// Completed copies: the most any one source saw (never a sum: a
    /// download seen by our seeder is usually also reported to the tracker).
    fn downloads(&self, stats: &seeder::Stats) -> u64 {
        let mut seen = stats.completed;
        if let Some(tracker) = &self.tracker {
            for hash in &self.hashes {
                let counts = tracker.shared().swarms.scrape(hash);
                seen = seen.max(u64::from(counts.completed));
            }
        }
        for announcer in &self.announcers {
            for status in announcer.status() {
                seen = seen.max(status.downloaded.unwrap_or(0));
            }
        }
        seen
    }

    fn progress(&self) -> (Progress, seeder::Stats) {
        let stats = self.seeder.stats();
        let progress = Progress {
            elapsed: self.started.elapsed(),
            downloads: self.downloads(&stats),
            uploaded: stats.uploaded,
            size: self.size,
        };
        (progress, stats)
    }
}

/// A running publish session.
pub struct Publisher {
    parts: Arc<Parts>,
    events: mpsc::UnboundedReceiver<Event>,
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

impl Publisher {
    /// Binds every listener and starts every part, then returns; the
    /// session runs until a stop condition or `shutdown`. On error, the
    /// parts already started are stopped before it returns.
    pub async fn start(config: Config, shutdown: &Shutdown) -> Result<Publisher> {
        let stages = Stages {
            peers: Shutdown::new(),
            tracker: Shutdown::new(),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        match start_parts(config, &stages, &events_tx).await {
            Ok((parts, dht_state)) => {
                let parts = Arc::new(parts);
                let forwarding = CancellationToken::new();
                for announcer in &parts.announcers {
                    shutdown.spawn(forward_events(
                        announcer.events(),
                        events_tx.clone(),
                        forwarding.clone(),
                    ));
                }
                shutdown.spawn(supervise(
                    parts.clone(),
                    stages,
                    shutdown.clone(),
                    events_tx,
                    forwarding,
                    dht_state,
                ));
                Ok(Publisher { parts, events })
            }
            Err(err) => {
                stages.stop().await;
                Err(err)
            }
        }
    }

    /// The seeder's address (TCP, and uTP on the same port number).
    pub fn listen_addr(&self) -> SocketAddr {
        self.parts.listen
    }

    pub fn dht_addr(&self) -> Option<SocketAddr> {
        self.parts.dht.as_ref().map(Dht::local_addr)
    }

    pub fn tracker(&self) -> Option<&Tracker> {
        self.parts.tracker.as_ref()
    }

    /// The next event; `None` after [`Event::Stopped`].
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    pub async fn snapshot(&self) -> Snapshot {
        let (progress, seeder) = self.parts.progress();
        let dht_nodes = match &self.parts.dht {
            Some(dht) => dht.stats().await.ok().map(|s| s.nodes),
            None => None,
        };
        Snapshot {
            progress,
            seeder,
            trackers: self
                .parts
                .announcers
                .iter()
                .flat_map(Announcer::status)
                .collect(),
            dht_nodes,
        }
    }
}

/// Sockets for the seeder: a TCP listener and a UDP socket for uTP, on one
/// port number.
struct Bound {
    tcp: Option<tokio::net::TcpListener>,
    udp: Option<tokio::net::UdpSocket>,
    addr: SocketAddr,
}

async fn bind_at(addr: SocketAddr, tcp: bool, udp: bool) -> std::io::Result<Bound> {
    let listener = match tcp {
        true => Some(tokio::net::TcpListener::bind(addr).await?),
        false => None,
    };
    // Port 0: uTP takes the number TCP was given.
    let addr = match &listener {
        Some(l) => l.local_addr()?,
        None => addr,
    };
    let socket = match udp {
        true => Some(tokio::net::UdpSocket::bind(addr).await?),
        false => None,
    };
    let addr = match (&listener, &socket) {
        (Some(l), _) => l.local_addr()?,
        (None, Some(s)) => s.local_addr()?,
        (None, None) => addr,
    };
    Ok(Bound {
        tcp: listener,
        udp: socket,
        addr,
    })
}

async fn bind_seeder(listen: Listen, tcp: bool, udp: bool) -> Result<Bound> {
    match listen {
        Listen::Exact(addr) => bind_at(addr, tcp, udp)
            .await
            .map_err(|source| Error::Listen { addr, source }),
        Listen::Default => {
            let mut last = None;
            for port in DEFAULT_PORTS {
                let addr = SocketAddr::from(([0, 0, 0, 0], port));
                match bind_at(addr, tcp, udp).await {
                    Ok(bound) => return Ok(bound),
                    Err(err) => last = Some((addr, err)),
                }
            }
            let (addr, source) = last.unwrap_or_else(|| {
                (
                    SocketAddr::from(([0, 0, 0, 0], 6881)),
                    std::io::ErrorKind::AddrInUse.into(),
                )
            });
            Err(Error::Listen { addr, source })
        }
    }
}

/// Starts the DHT node: on its own socket when one is named (or uTP is
/// off), else sharing the seeder's UDP socket with uTP.
fn start_dht(
    settings: &DhtSettings,
    shared: Option<(
        std::net::UdpSocket,
        mpsc::Receiver<(bytes::Bytes, SocketAddr)>,
    )>,
    own: Option<tokio::net::UdpSocket>,
    announced: mpsc::Sender<(Id, SocketAddr)>,
    shutdown: &Shutdown,
) -> Result<Dht> {
    let mut config = dht::Config {
        id: settings.id,
        announced: Some(announced),
        ..dht::Config::default()
    };
    let (started, addr) = match (shared, own) {
        (Some((sender, incoming)), _) => {
            let addr = sender
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            config.bootstrap = same_family(&settings.bootstrap, addr);
            (Dht::start_shared(sender, incoming, config, shutdown), addr)
        }
        (None, Some(socket)) => {
            let addr = socket
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            config.bootstrap = same_family(&settings.bootstrap, addr);
            (Dht::start(socket, config, shutdown), addr)
        }
        (None, None) => {
            let addr = SocketAddr::from(([0, 0, 0, 0], 0));
            return Err(Error::DhtBind {
                addr,
                source: std::io::ErrorKind::AddrNotAvailable.into(),
            });
        }
    };
    started.map_err(|source| Error::DhtBind { addr, source })
}

fn same_family(nodes: &[SocketAddr], ours: SocketAddr) -> Vec<SocketAddr> {
    let mut nodes: Vec<SocketAddr> = nodes
        .iter()
        .copied()
        .filter(|a| a.is_ipv4() == ours.is_ipv4())
        .collect();
    nodes.dedup();
    nodes
}

/// The DHT's own socket: `--dht-listen`, else the seeder's address and port
/// (any free port when that one is taken).
async fn bind_dht(settings: &DhtSettings, seeder: SocketAddr) -> Result<tokio::net::UdpSocket> {
    match settings.listen {
        Some(addr) => tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|source| Error::DhtBind { addr, source }),
        None => match tokio::net::UdpSocket::bind(seeder).await {
            Ok(socket) => Ok(socket),
            Err(_) => {
                let any = SocketAddr::new(seeder.ip(), 0);
                tokio::net::UdpSocket::bind(any)
                    .await
                    .map_err(|source| Error::DhtBind { addr: any, source })
            }
        },
    }
}

/// Starts every part under `stages`; the caller stops them on error.
async fn start_parts(
    config: Config,
    stages: &Stages,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(Parts, Option<PathBuf>)> {
    let Config {
        torrents,
        listen,
        tcp,
        utp: utp_on,
        tracker,
        dht: dht_settings,
        connect,
        all_tiers,
        slots,
        max_peers,
        max_peers_per_ip,
        stop,
    } = config;
    // Every peer, tracker client and DHT query holds descriptors.
    if let Err(err) = crate::limits::raise_fd_limit() {
        let _ = events.send(Event::Warning(format!(
            "cannot raise the open-file limit: {err}"
        )));
    }
    // Downloaders announcing to the embedded tracker are dialled at once:
    // one that announced before us got no peers and may not ask again for
    // the whole interval, and the min interval keeps us from asking early.
    let (tracked_tx, tracked_rx) = mpsc::channel(256);
    let tracker = match tracker {
        Some(tracker_config) => {
            let tracker_config = TrackerConfig {
                announced: Some(tracked_tx),
                ..tracker_config
            };
            Some(Tracker::start(tracker_config, &stages.tracker).await?)
        }
        None => None,
    };
    let bound = bind_seeder(listen, tcp, utp_on).await?;
    let listen = bound.addr;
    let shutdown = &stages.peers;

    // uTP reads the seeder's UDP port and hands KRPC datagrams to the DHT
    // node when it shares the port.
    let shares_port = dht_settings
        .as_ref()
        .is_some_and(|d| d.listen.is_none() || d.listen == Some(listen));
    let (krpc_tx, krpc_rx) = mpsc::channel(1024);
    let utp = match bound.udp {
        Some(socket) => Some(
            UtpSocket::start(
                socket,
                utp::Config {
                    max_connections: max_peers,
                    max_per_ip: max_peers_per_ip,
                    forward_other: shares_port.then(|| krpc_tx.clone()),
                },
                shutdown,
            )
            .map_err(|source| Error::Listen {
                addr: listen,
                source,
            })?,
        ),
        None => None,
    };
    drop(krpc_tx);
    let (announced_tx, announced_rx) = mpsc::channel(256);
    let dht = match &dht_settings {
        Some(settings) => {
            let shared = match (&utp, shares_port) {
                (Some(utp), true) => Some((
                    utp.sender().map_err(|source| Error::DhtBind {
                        addr: listen,
                        source,
                    })?,
                    krpc_rx,
                )),
                _ => None,
            };
            let own = match shared {
                Some(_) => None,
                None => Some(bind_dht(settings, listen).await?),
            };
            Some(start_dht(settings, shared, own, announced_tx, shutdown)?)
        }
        None => None,
    };

    let (dial_tx, dial_rx) = mpsc::channel::<PeerFound>(1024);
    let (pex_tx, pex_rx) = mpsc::channel(256);
    shutdown.spawn(forward(
        pex_rx,
        dial_tx.clone(),
        |(info_hash, addr)| PeerFound { info_hash, addr },
        shutdown.clone(),
    ));
    let peer_id = seeder::new_peer_id();
    let size: u64 = torrents
        .iter()
        .map(|t| t.torrent().meta.info.total_length())
        .sum();
    let infos: Vec<(Torrent, Vec<[u8; 20]>)> = torrents
        .iter()
        .map(|t| (t.torrent().clone(), swarm_hashes(t.torrent())))
        .collect();
    let hashes: Vec<[u8; 20]> = infos.iter().flat_map(|(_, h)| h.clone()).collect();
    let seeder = Seeder::new(
        seeder::Config {
            peer_id,
            upload_slots: slots,
            max_connections: max_peers,
            max_per_ip: max_peers_per_ip,
            dht_port: dht.as_ref().map(|d| d.local_addr().port()),
            pex_found: Some(pex_tx),
            ..seeder::Config::default()
        },
        torrents,
        shutdown.clone(),
    );
    {
        let seeder = seeder.clone();
        let listener = bound.tcp;
        shutdown.spawn(async move { seeder.serve(listener).await });
    }
    if let Some(utp) = &utp {
        shutdown.spawn(accept_utp(seeder.clone(), utp.clone(), shutdown.clone()));
    }

    // Peers to dial: from trackers, DHT lookups, DHT announces to us and PEX.
    let mut announcers = Vec::new();
    for (torrent, torrent_hashes) in &infos {
        let tiers = torrent.meta.tracker_tiers();
        if tiers.is_empty() {
            continue;
        }
        let uploaded = {
            let seeder = seeder.clone();
            Arc::new(move || seeder.stats().uploaded) as Arc<dyn Fn() -> u64 + Send + Sync>
        };
        let (announcer, found) = Announcer::start(
            AnnounceConfig {
                tiers,
                info_hashes: torrent_hashes.clone(),
                peer_id,
                port: listen.port(),
                left: 0,
                all_tiers,
                // BEP 7: lets trackers recognise us across address changes.
                key: u32::from_be_bytes([peer_id[16], peer_id[17], peer_id[18], peer_id[19]]),
                ..AnnounceConfig::default()
            },
            uploaded,
            shutdown,
        );
        shutdown.spawn(forward(found, dial_tx.clone(), |p| p, shutdown.clone()));
        announcers.push(announcer);
    }
    if tracker.is_some() {
        shutdown.spawn(forward(
            tracked_rx,
            dial_tx.clone(),
            |(info_hash, addr)| PeerFound { info_hash, addr },
            shutdown.clone(),
        ));
    }
    if let Some(dht) = &dht {
        for hash in &hashes {
            shutdown.spawn(dht_loop(
                dht.clone(),
                *hash,
                listen.port(),
                dial_tx.clone(),
                events.clone(),
                shutdown.clone(),
            ));
        }
        // Some downloaders (rtorrent) announce to our node and wait to be called.
        shutdown.spawn(forward(
            announced_rx,
            dial_tx.clone(),
            |(id, addr): (Id, SocketAddr)| PeerFound {
                info_hash: id.0,
                addr,
            },
            shutdown.clone(),
        ));
    }
    let parts = Parts {
        seeder,
        utp,
        dht,
        tracker,
        announcers,
        hashes,
        size,
        started: Instant::now(),
        stop,
        listen,
    };
    let dialer = Dialer {
        seeder: parts.seeder.clone(),
        utp: parts.utp.clone(),
        tcp,
    };
    shutdown.spawn(dial_loop(dialer.clone(), dial_rx, listen, shutdown.clone()));
    if let (false, Some((_, first))) = (connect.is_empty(), infos.first()) {
        shutdown.spawn(connect_loop(dialer, connect, first[0], shutdown.clone()));
    }
    let dht_state = dht_settings.and_then(|d| d.state);
    Ok((parts, dht_state))
}

/// The hashes a torrent's swarm goes by: v1, and a hybrid's truncated v2.
fn swarm_hashes(torrent: &Torrent) -> Vec<[u8; 20]> {
    crate::tracker::access::torrent_hashes(torrent)
}

/// Waits for a stop condition or the caller's shutdown, then stops the
/// session in order (see the module doc).
async fn supervise(
    parts: Arc<Parts>,
    stages: Stages,
    shutdown: Shutdown,
    events: mpsc::UnboundedSender<Event>,
    forwarding: CancellationToken,
    dht_state: Option<PathBuf>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let reason = loop {
        tokio::select! {
            () = shutdown.cancelled() => break StopReason::Signal,
            _ = tick.tick() => {
                if let Some(reason) = parts.stop.check(&parts.progress().0) {
                    break reason;
                }
            }
        }
    };
    let _ = events.send(Event::Stopping(reason));
    if let (Some(dht), Some(path)) = (&parts.dht, &dht_state) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(err) = dht::save_state(dht, None, path).await {
            let _ = events.send(Event::Warning(err.to_string()));
        }
    }
    if tokio::time::timeout(STOP_TIMEOUT, stages.peers.finished())
        .await
        .is_err()
    {
        let _ = events.send(Event::Warning(
            "some connections did not close in time".into(),
        ));
    }
    // The announcers are done: pass on their last replies (`stopped`).
    forwarding.cancel();
    tokio::task::yield_now().await;
    stages.tracker.finished().await;
    let (progress, _) = parts.progress();
    let _ = events.send(Event::Stopped(Summary {
        reason,
        elapsed: progress.elapsed,
        uploaded: progress.uploaded,
        completed: progress.downloads,
    }));
}

/// Passes one announcer's results on as [`Event::Announce`] until
/// `done`, then what is left in the channel.
async fn forward_events(
    mut results: broadcast::Receiver<AnnounceEvent>,
    events: mpsc::UnboundedSender<Event>,
    done: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            result = results.recv() => match result {
                Ok(event) => { let _ = events.send(Event::Announce(event)); }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = done.cancelled() => break,
        }
    }
    while let Ok(event) = results.try_recv() {
        let _ = events.send(Event::Announce(event));
    }
}

/// Serves incoming uTP connections until shutdown.
async fn accept_utp(seeder: Seeder, utp: UtpSocket, shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = utp.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => seeder.accept_stream(stream, addr, Transport::Utp),
            Err(err) => {
                tracing::debug!("uTP accept: {err}");
                return;
            }
        }
    }
}

/// Opens connections to peers: uTP first when it is on (as libtorrent
/// and Transmission do), then TCP.
#[derive(Clone)]
struct Dialer {
    seeder: Seeder,
    utp: Option<UtpSocket>,
    tcp: bool,
}

impl Dialer {
    async fn dial(&self, addr: SocketAddr, info_hash: [u8; 20]) -> Result<Transport> {
        self.seeder.check_dial(info_hash)?;
        let mut last = None;
        if let Some(utp) = &self.utp {
            match tokio::time::timeout(UTP_DIAL_TIMEOUT, utp.connect(addr)).await {
                Ok(Ok(stream)) => {
                    self.seeder
                        .dialled(stream, addr, info_hash, Transport::Utp)?;
                    return Ok(Transport::Utp);
                }
                Ok(Err(err)) => last = Some(err),
                Err(_) => last = Some(std::io::ErrorKind::TimedOut.into()),
            }
        }
        if self.tcp {
            self.seeder.connect(addr, info_hash).await?;
            return Ok(Transport::Tcp);
        }
        Err(seeder::SeedError::Dial {
            addr,
            source: last.unwrap_or_else(|| std::io::ErrorKind::Unsupported.into()),
        }
        .into())
    }
}

/// Dials peers learnt from trackers and the DHT, each at most once per
/// [`REDIAL_AFTER`], skipping ones already connected and ourselves; at
/// most [`MAX_DIALS`] at once.
async fn dial_loop(
    dialer: Dialer,
    mut found: mpsc::Receiver<PeerFound>,
    own: SocketAddr,
    shutdown: Shutdown,
) {
    let mut last_dial: HashMap<SocketAddr, Instant> = HashMap::new();
    let slots = Arc::new(Semaphore::new(MAX_DIALS));
    loop {
        let peer = tokio::select! {
            () = shutdown.cancelled() => return,
            peer = found.recv() => match peer {
                Some(peer) => peer,
                None => return,
            },
        };
        let is_self = peer.addr.port() == own.port()
            && (peer.addr.ip() == own.ip()
                || super::is_loopback_or_any(own.ip()) && peer.addr.ip().is_loopback());
        if is_self || dialer.seeder.connected_to(peer.addr) {
            continue;
        }
        let now = Instant::now();
        if last_dial
            .get(&peer.addr)
            .is_some_and(|at| now.duration_since(*at) < REDIAL_AFTER)
        {
            continue;
        }
        if last_dial.len() >= MAX_REMEMBERED_DIALS {
            last_dial.retain(|_, at| now.duration_since(*at) < REDIAL_AFTER);
        }
        last_dial.insert(peer.addr, now);
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let dialer = dialer.clone();
        shutdown.spawn(async move {
            if let Err(err) = dialer.dial(peer.addr, peer.info_hash).await {
                tracing::debug!("{err}");
            }
            drop(permit);
        });
    }
}

/// Keeps `--connect` peers connected.
async fn connect_loop(
    dialer: Dialer,
    peers: Vec<SocketAddr>,
    info_hash: [u8; 20],
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval(CONNECT_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        for addr in &peers {
            if !dialer.seeder.connected_to(*addr) {
                if let Err(err) = dialer.dial(*addr, info_hash).await {
                    tracing::debug!("{err}");
                }
            }
        }
    }
}

/// Passes peers found by one source (an announcer, DHT announces to our
/// node, PEX) on to the dialler; full queues drop them.
async fn forward<T: Send>(
    mut found: mpsc::Receiver<T>,
    dial: mpsc::Sender<PeerFound>,
    into: fn(T) -> PeerFound,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            peer = found.recv() => match peer {
                Some(peer) => { let _ = dial.try_send(into(peer)); }
                None => return,
            },
        }
    }
}

/// Announces one hash to the DHT until some node stores it (retrying with
/// backoff while the routing table fills), then looks for new peers to
/// dial on the [`DHT_LOOKUPS`] schedule.
async fn dht_loop(
    dht: Dht,
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
        if !announced {
            match dht.announce(id, Some(port)).await {
                Ok(result) => {
                    announced = result.stored > 0;
                    let _ = events.send(Event::DhtAnnounce {
                        info_hash,
                        stored: result.stored,
                        peers: result.peers.len(),
                    });
                    for addr in result.peers {
                        let _ = dial.try_send(PeerFound { info_hash, addr });
                    }
                }
                Err(err) => {
                    let _ = events.send(Event::DhtError(err.to_string()));
                }
            }
        } else if let Ok(found) = dht.get_peers(id).await {
            for addr in found.peers {
                let _ = dial.try_send(PeerFound { info_hash, addr });
            }
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
