//! The tokio adapter: runs the [`Schedule`], performs its HTTP(S) and UDP
//! announces and scrapes, and reports peers, events and status.
//!
//! One driver task per [`Announcer`] owns the clock and the random
//! generator; each announce runs as its own task so a slow tracker never
//! delays another. The schedule sits behind a std mutex that is never held
//! across an `.await`, so [`Announcer::status`] is cheap and synchronous.
//! On shutdown the driver cancels what is in flight, sends `stopped`
//! (bounded by [`AnnounceConfig::timeout`], all trackers at once) to every
//! tracker that accepted `started`, and ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::task::JoinSet;

use super::http::{self as http_codec, AnnounceParams};
use super::schedule::{Action, Schedule, ScheduleConfig};
pub use super::schedule::{TrackerState, TrackerStatus};
use super::udp::{self as udp_codec, ConnectionId, Reply};
use super::{hex, AnnounceReply, Event, ScrapeCounts};
use crate::error::chain;
use crate::shutdown::Shutdown;
use crate::tracker::swarm::XorShift;

/// Largest tracker reply we read; real ones are a few kilobytes.
const MAX_REPLY: usize = 1 << 20;
/// Peers waiting for the consumer beyond this are dropped (the next
/// announce brings fresh ones).
const PEER_QUEUE: usize = 1024;

/// What to announce, where, and how patiently.
#[derive(Debug, Clone)]
pub struct AnnounceConfig {
    /// Tracker URLs (http, https, udp) in BEP 12 tiers.
    pub tiers: Vec<Vec<String>>,
    /// Each is announced on its own (v1, and the truncated v2 hash of a hybrid).
    pub info_hashes: Vec<[u8; 20]>,
    pub peer_id: [u8; 20],
    /// Our seeder's TCP port.
    pub port: u16,
    /// Bytes left to download: 0 for a seeder.
    pub left: u64,
    pub numwant: u32,
    pub all_tiers: bool,
    pub key: u32,
    /// Per HTTP request, and per UDP exchange (connect + announce).
    pub timeout: Duration,
    /// BEP 15 retransmission base (15 s); tests use less.
    pub udp_base_timeout: Duration,
    /// Floor for a tracker's interval (60 s); tests use less.
    pub min_interval: Duration,
    /// First retry delay after a failure (15 s, doubling to 30 min).
    pub retry_base: Duration,
}

impl Default for AnnounceConfig {
    fn default() -> Self {
        let schedule = ScheduleConfig::default();
        Self {
            tiers: Vec::new(),
            info_hashes: Vec::new(),
            peer_id: [0; 20],
            port: 0,
            left: 0,
            numwant: 50,
            all_tiers: false,
            key: 0,
            timeout: Duration::from_secs(15),
            udp_base_timeout: udp_codec::DEFAULT_BASE_TIMEOUT,
            min_interval: schedule.min_interval,
            retry_base: schedule.retry_base,
        }
    }
}

/// One announce result, as broadcast by [`Announcer::events`].
#[derive(Debug, Clone, Serialize)]
pub struct AnnounceEvent {
    pub url: String,
    /// Lowercase hex.
    pub info_hash: String,
    /// "started", "regular", "completed" or "stopped".
    pub event: &'static str,
    pub ok: bool,
    pub error: Option<String>,
    pub peers: usize,
    pub seeders: Option<u64>,
    pub leechers: Option<u64>,
    pub downloaded: Option<u64>,
    /// The interval the tracker asked for.
    pub interval_secs: Option<u64>,
}

/// A peer a tracker told us about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFound {
    pub info_hash: [u8; 20],
    pub addr: SocketAddr,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// What the announce tasks share.
struct Io {
    http: Result<HttpClient, String>,
    peer_id: [u8; 20],
    port: u16,
    numwant: u32,
    key: u32,
    timeout: Duration,
    udp_base: Duration,
    left: AtomicU64,
    uploaded: Arc<dyn Fn() -> u64 + Send + Sync>,
}

struct Inner {
    schedule: Mutex<Schedule>,
    events: broadcast::Sender<AnnounceEvent>,
    /// Subscribed at start, handed to the first caller of `events`.
    first_events: Mutex<Option<broadcast::Receiver<AnnounceEvent>>>,
    wake: Notify,
}

/// A handle on the running announces; clones share them.
#[derive(Clone)]
pub struct Announcer {
    inner: Arc<Inner>,
    io: Arc<Io>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop the announces: the data stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn seed() -> u64 {
    let mut bytes = [0; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        return nanos as u64 | 1;
    }
    u64::from_le_bytes(bytes) | 1
}

impl Announcer {
    /// Spawns the announce tasks through `shutdown` (must be called inside
    /// a tokio runtime). `uploaded` is read at each announce. Peers found
    /// arrive on the returned receiver; if it is not drained, surplus
    /// peers are dropped rather than stalling the announces.
    pub fn start(
        config: AnnounceConfig,
        uploaded: Arc<dyn Fn() -> u64 + Send + Sync>,
        shutdown: &Shutdown,
    ) -> (Announcer, mpsc::Receiver<PeerFound>) {
        let mut rng = XorShift::new(seed());
        let schedule_config = ScheduleConfig {
            all_tiers: config.all_tiers,
            min_interval: config.min_interval,
            retry_base: config.retry_base,
            ..ScheduleConfig::default()
        };
        let schedule = Schedule::new(
            &config.tiers,
            &config.info_hashes,
            schedule_config,
            Instant::now(),
            &mut rng,
        );
        let http = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map(|b| {
                let connector = b.https_or_http().enable_http1().build();
                // No idle connections: announces are minutes apart.
                Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(0)
                    .build(connector)
            })
            .map_err(|err| format!("no TLS: {err}"));
        let io = Arc::new(Io {
            http,
            peer_id: config.peer_id,
            port: config.port,
            numwant: config.numwant,
            key: config.key,
            timeout: config.timeout,
            udp_base: config.udp_base_timeout,
            left: AtomicU64::new(config.left),
            uploaded,
        });
        let (events, first_events) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            schedule: Mutex::new(schedule),
            events,
            first_events: Mutex::new(Some(first_events)),
            wake: Notify::new(),
        });
        let (peers_tx, peers_rx) = mpsc::channel(PEER_QUEUE);
        let announcer = Announcer { inner, io };
        shutdown.spawn(drive(announcer.clone(), peers_tx, shutdown.clone(), rng));
        (announcer, peers_rx)
    }

    /// A snapshot of every (tracker, info hash) pair.
    pub fn status(&self) -> Vec<TrackerStatus> {
        lock(&self.inner.schedule).status(Instant::now())
    }

    /// One event per announce result. The first call gets every event
    /// since [`Announcer::start`] (an announce over loopback can finish
    /// before the caller subscribes); later calls, those from now on.
    pub fn events(&self) -> broadcast::Receiver<AnnounceEvent> {
        lock(&self.inner.first_events)
            .take()
            .unwrap_or_else(|| self.inner.events.subscribe())
    }

    /// We have every piece now: `left` becomes 0 and trackers hear `completed`.
    pub fn completed(&self) {
        self.io.left.store(0, Ordering::Relaxed);
        lock(&self.inner.schedule).completed(Instant::now());
        self.inner.wake.notify_one();
    }
}

/// A finished task's result.
enum Done {
    Announce {
        pair: usize,
        url: String,
        info_hash: [u8; 20],
        event: Event,
        result: Result<AnnounceReply, String>,
    },
    Scrape {
        pair: usize,
        counts: Option<ScrapeCounts>,
    },
}

async fn drive(
    announcer: Announcer,
    peers: mpsc::Sender<PeerFound>,
    shutdown: Shutdown,
    mut rng: XorShift,
) {
    let Announcer { inner, io } = announcer;
    let mut running: JoinSet<Done> = JoinSet::new();
    loop {
        let (actions, wake) = {
            let mut schedule = lock(&inner.schedule);
            let actions = schedule.poll(Instant::now());
            (actions, schedule.next_wake())
        };
        for action in actions {
            running.spawn(perform(io.clone(), action));
        }
        // Far enough to mean "until something else happens".
        let wake = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(done) = done {
                    record(&inner, &peers, done, &mut rng);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {}
            () = inner.wake.notified() => {}
        }
    }
    running.shutdown().await;
    let stops = lock(&inner.schedule).stop_actions();
    let mut stopping: JoinSet<Done> = JoinSet::new();
    for action in stops {
        stopping.spawn(perform(io.clone(), action));
    }
    let all = async {
        while let Some(done) = stopping.join_next().await {
            if let Ok(done) = done {
                record(&inner, &peers, done, &mut rng);
            }
        }
    };
    // Each exchange has its own deadline; this bounds the whole with slack.
    let _ = tokio::time::timeout(io.timeout + Duration::from_millis(500), all).await;
    stopping.shutdown().await;
}

fn record(inner: &Inner, peers: &mpsc::Sender<PeerFound>, done: Done, rng: &mut XorShift) {
    let now = Instant::now();
    match done {
        Done::Scrape { pair, counts } => lock(&inner.schedule).on_scrape(pair, counts, now),
        Done::Announce {
            pair,
            url,
            info_hash,
            event,
            result,
        } => {
            let reply = result.as_ref().map_err(String::as_str);
            lock(&inner.schedule).on_announce(pair, event, reply, now, rng);
            let (ok, error, reply) = match result {
                Ok(reply) => (true, None, reply),
                Err(err) => (false, Some(err), AnnounceReply::default()),
            };
            if ok {
                tracing::debug!(%url, event = event.as_str(), peers = reply.peers.len(), "announced");
            } else {
                tracing::warn!(%url, event = event.as_str(), error = error.as_deref().unwrap_or(""), "announce failed");
            }
            for &addr in &reply.peers {
                // Full or closed queue: drop; the consumer gets more next time.
                let _ = peers.try_send(PeerFound { info_hash, addr });
            }
            let _ = inner.events.send(AnnounceEvent {
                url,
                info_hash: hex(&info_hash),
                event: event.as_str(),
                ok,
                error,
                peers: reply.peers.len(),
                seeders: reply.seeders,
                leechers: reply.leechers,
                downloaded: reply.downloaded,
                interval_secs: reply.interval.map(u64::from),
            });
        }
    }
}

async fn perform(io: Arc<Io>, action: Action) -> Done {
    match action {
        Action::Announce {
            pair,
            url,
            info_hash,
            event,
            tracker_id,
        } => {
            let params = AnnounceParams {
                info_hash,
                peer_id: io.peer_id,
                port: io.port,
                uploaded: (io.uploaded)(),
                downloaded: 0,
                left: io.left.load(Ordering::Relaxed),
                numwant: if event == Event::Stopped {
                    0
                } else {
                    io.numwant
                },
                key: io.key,
                event,
                tracker_id,
            };
            let result = announce(&io, &url, &params)
                .await
                .map_err(|err| format!("{url}: {err}"));
            Done::Announce {
                pair,
                url,
                info_hash,
                event,
                result,
            }
        }
        Action::Scrape {
            pair,
            url,
            info_hash,
        } => {
            let counts = match scrape(&io, &url, &info_hash).await {
                Ok(counts) => counts,
                Err(err) => {
                    tracing::debug!(%url, %err, "scrape failed");
                    None
                }
            };
            Done::Scrape { pair, counts }
        }
    }
}

async fn announce(io: &Io, url: &str, params: &AnnounceParams) -> Result<AnnounceReply, String> {
    if url.starts_with("udp://") {
        udp_announce(io, url, params).await
    } else if url.starts_with("http://") || url.starts_with("https://") {
        let body = http_get(io, &http_codec::announce_url(url, params)).await?;
        http_codec::parse_announce(&body).map_err(|err| err.to_string())
    } else {
        Err("not an http, https or udp tracker".into())
    }
}

async fn scrape(io: &Io, url: &str, info_hash: &[u8; 20]) -> Result<Option<ScrapeCounts>, String> {
    if url.starts_with("udp://") {
        let build =
            |connection_id, tid| udp_codec::encode_scrape(connection_id, tid, &[*info_hash]);
        match udp_request(io, url, build).await? {
            Reply::Scrape(counts) => Ok(counts.first().copied()),
            Reply::Error(message) => Err(format!("tracker says: {message}")),
            _ => Err("unexpected reply to a scrape".into()),
        }
    } else {
        let Some(scrape) = http_codec::scrape_url(url) else {
            return Ok(None);
        };
        let body = http_get(io, &http_codec::scrape_url_for(&scrape, info_hash)).await?;
        http_codec::parse_scrape(&body, info_hash).map_err(|err| err.to_string())
    }
}

async fn http_get(io: &Io, url: &str) -> Result<Vec<u8>, String> {
    let client = io.http.as_ref().map_err(Clone::clone)?;
    let request = hyper::Request::get(url)
        .header(
            hyper::header::USER_AGENT,
            concat!("mktorrent-rs/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::new())
        .map_err(|err| format!("bad URL: {err}"))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|err| chain(&err))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|err| format!("reading the reply: {err}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        Ok(body.to_vec())
    };
    tokio::time::timeout(io.timeout, exchange)
        .await
        .map_err(|_| format!("no reply within {:?}", io.timeout))?
}

fn rand_u32() -> u32 {
    (seed() >> 16) as u32
}

/// Resolves the tracker (first address) and opens a socket connected to it.
async fn udp_socket(url: &str) -> Result<(UdpSocket, SocketAddr), String> {
    let rest = url.strip_prefix("udp://").unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let addr = tokio::net::lookup_host(authority)
        .await
        .map_err(|err| format!("cannot resolve {authority}: {err}"))?
        .next()
        .ok_or_else(|| format!("{authority} has no address"))?;
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|err| format!("cannot open a UDP socket: {err}"))?;
    socket
        .connect(addr)
        .await
        .map_err(|err| format!("cannot reach {addr}: {err}"))?;
    Ok((socket, addr))
}

/// Connects (BEP 15) and sends the request `build` makes from the
/// connection id and a transaction id, all within [`Io::timeout`]. A
/// connection id is used for at most its 60 s lifetime: if the request
/// goes unanswered that long, we connect again. Connection ids are not
/// kept between announces because each uses a fresh socket, and trackers
/// may tie the id to the source port.
async fn udp_request(
    io: &Io,
    url: &str,
    build: impl Fn(u64, u32) -> Vec<u8>,
) -> Result<Reply, String> {
    let (socket, addr) = udp_socket(url).await?;
    let v6 = addr.is_ipv6();
    let deadline = tokio::time::Instant::now() + io.timeout;
    loop {
        let tid = rand_u32();
        let connect = udp_codec::encode_connect(tid);
        let connection = match udp_exchange(io, &socket, &connect, tid, v6, deadline).await? {
            Reply::Connect { connection_id } => ConnectionId {
                id: connection_id,
                received: Instant::now(),
            },
            Reply::Error(message) => return Err(format!("tracker says: {message}")),
            _ => return Err("unexpected reply to connect".into()),
        };
        let tid = rand_u32();
        let packet = build(connection.id, tid);
        let expires =
            tokio::time::Instant::from_std(connection.received + udp_codec::CONNECTION_ID_LIFETIME);
        match udp_exchange(io, &socket, &packet, tid, v6, deadline.min(expires)).await {
            Err(_) if expires < deadline && !connection.valid_at(Instant::now()) => continue,
            other => return other,
        }
    }
}

async fn udp_announce(io: &Io, url: &str, p: &AnnounceParams) -> Result<AnnounceReply, String> {
    let url_data = udp_codec::url_data(url);
    let build = |connection_id, transaction_id| {
        udp_codec::encode_announce(&udp_codec::AnnounceRequest {
            connection_id,
            transaction_id,
            info_hash: p.info_hash,
            peer_id: p.peer_id,
            downloaded: p.downloaded,
            left: p.left,
            uploaded: p.uploaded,
            event: p.event,
            key: p.key,
            num_want: i32::try_from(p.numwant).unwrap_or(i32::MAX),
            port: p.port,
            url_data: url_data.clone(),
        })
    };
    match udp_request(io, url, build).await? {
        Reply::Announce {
            interval,
            leechers,
            seeders,
            peers,
        } => Ok(AnnounceReply {
            interval: Some(interval),
            seeders: Some(seeders.into()),
            leechers: Some(leechers.into()),
            peers,
            ..AnnounceReply::default()
        }),
        Reply::Error(message) => Err(format!("tracker says: {message}")),
        _ => Err("unexpected reply to an announce".into()),
    }
}

/// Sends `packet` and waits for the reply to `tid`, retransmitting after
/// 15 × 2^n seconds (scaled by the configured base) until `deadline`.
async fn udp_exchange(
    io: &Io,
    socket: &UdpSocket,
    packet: &[u8],
    tid: u32,
    v6: bool,
    deadline: tokio::time::Instant,
) -> Result<Reply, String> {
    let mut buf = vec![0; 65_536];
    let mut tries = 0;
    let mut last_error = None;
    for n in 0..=udp_codec::MAX_RETRANSMIT_EXPONENT {
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        if let Err(err) = socket.send(packet).await {
            last_error = Some(err.to_string());
        }
        tries += 1;
        let wait = (tokio::time::Instant::now() + udp_codec::retransmit_timeout(io.udp_base, n))
            .min(deadline);
        loop {
            match tokio::time::timeout_at(wait, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(err)) => {
                    // E.g. ICMP port unreachable: wait out this try anyway.
                    last_error = Some(err.to_string());
                    tokio::time::sleep_until(wait).await;
                    break;
                }
                Ok(Ok(len)) => match udp_codec::parse_reply(&buf[..len], tid, v6) {
                    Ok(reply) => return Ok(reply),
                    Err(
                        udp_codec::ReplyError::OtherTransaction(_)
                        | udp_codec::ReplyError::TooShort(_),
                    ) => {}
                    Err(err) => return Err(err.to_string()),
                },
            }
        }
    }
    let tries = if tries == 1 {
        "1 try".to_owned()
    } else {
        format!("{tries} tries")
    };
    Err(match last_error {
        Some(err) => format!("no reply after {tries} (last error: {err})"),
        None => format!("no reply after {tries}"),
    })
}
