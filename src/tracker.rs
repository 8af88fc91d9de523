//! The embedded BitTorrent tracker: HTTP (BEP 3, 7, 23, 24, 48) and UDP
//! (BEP 15, 41) over one swarm store: in memory ([`swarm`]) by default, or
//! Redis shared by several instances ([`store`]).
//!
//! Pure protocol logic lives in [`swarm`], [`http_proto`], [`udp_proto`],
//! [`connection_id`], [`status`] and [`keys`] (private mode); [`http`] and
//! [`udp`] are thin tokio/hyper adapters that own the sockets.
//! [`Tracker::start`] binds the configured addresses, spawns every task
//! through a [`Shutdown`], and is what both the `tracker` subcommand and
//! `publish` use. Triggering the
//! shutdown stops everything; [`Shutdown::finished`] returns once the
//! sockets are closed and the state file (if any) is saved.
//!
//! Peers that have not announced for [`TrackerConfig::peer_timeout`]
//! (default 2700 s: the 1800 s interval, its 180 s jitter and some slack
//! for a late client) are dropped by a sweep every 60 s.

pub mod access;
pub mod connection_id;
pub mod http;
pub mod http_proto;
pub mod keys;
pub mod state;
pub mod status;
pub mod store;
pub mod swarm;
pub mod udp;
pub mod udp_proto;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::shutdown::Shutdown;

use access::{Access, AccessConfig};
use connection_id::ConnectionIds;
use http_proto::Cidr;
use keys::{KeyCache, KeyCheck, KeyId, KeySet, KeysError, PathKey, Report, Usage};
use store::{RedisStore, Store, StoreConfig, StoreError, DEGRADED_INTERVAL};
use swarm::{Limits, Swarms, XorShift};

/// Everything a tracker instance can be told. [`Default`] gives the
/// documented defaults with no listen address.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub http: Vec<SocketAddr>,
    pub udp: Vec<SocketAddr>,
    /// HTTP announce path; the scrape path is derived from it (BEP 48).
    pub announce_path: String,
    /// Announce interval in seconds, plus up to `interval_jitter` more so
    /// clients started together spread out.
    pub interval: u32,
    pub interval_jitter: u32,
    pub min_interval: u32,
    /// Seconds without an announce after which a peer is dropped.
    pub peer_timeout: u32,
    pub default_numwant: usize,
    pub max_numwant: usize,
    /// Most `info_hash` values in one HTTP scrape.
    pub max_scrape: usize,
    /// Serve a full scrape (no `info_hash`), gzip-compressed, rebuilt at
    /// most once per `full_scrape_every`.
    pub full_scrape: bool,
    pub full_scrape_every: Duration,
    pub limits: Limits,
    /// Longest accepted query string, in bytes.
    pub max_query: usize,
    /// Requests per second and burst per client IP; `None`: unlimited.
    pub rate_limit: Option<(u32, u32)>,
    /// Key for UDP connection IDs; random when `None`. Instances sharing a
    /// key accept each other's IDs.
    pub connection_id_key: Option<[u8; 16]>,
    pub connection_id_max_age: u32,
    pub access: AccessConfig,
    /// How often the allowed directory is checked for changes.
    pub rescan_every: Duration,
    pub state_file: Option<PathBuf>,
    pub save_every: Duration,
    /// Requests from these networks may name the client in X-Forwarded-For.
    pub trust_proxy: Vec<Cidr>,
    /// Who may see `/`, `/stats.json` and `/metrics`; empty: everyone.
    pub stats_from: Vec<Cidr>,
    /// UDP worker threads per socket (0: one per core).
    pub udp_workers: usize,
    /// Told of every announcing peer still downloading, so a seeder in the
    /// same process can dial it at once instead of re-announcing; when
    /// the channel is full the peer is not told.
    pub announced: Option<tokio::sync::mpsc::Sender<(swarm::Id20, SocketAddr)>>,
    /// Where swarms live: this process (default) or Redis, shared by
    /// every instance pointed at it.
    pub store: StoreConfig,
    /// Private mode: the passkey file; `None`: no passkeys (open paths).
    pub keys: Option<PathBuf>,
    /// Private mode with the passkeys in this Redis set (needs the Redis store).
    pub keys_redis_set: Option<String>,
    /// How often the key file is looked at for changes.
    pub keys_check_every: Duration,
    /// `--allow-get`: serve the allowed directory's `.torrent` files at
    /// `/torrents/HEX.torrent`, linked from the status page.
    pub allow_get: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            http: Vec::new(),
            udp: Vec::new(),
            announce_path: "/announce".into(),
            interval: 1800,
            interval_jitter: 180,
            min_interval: 900,
            peer_timeout: 2700,
            default_numwant: 50,
            max_numwant: 200,
            max_scrape: 64,
            full_scrape: false,
            full_scrape_every: Duration::from_secs(60),
            limits: Limits::default(),
            max_query: 2048,
            rate_limit: None,
            connection_id_key: None,
            connection_id_max_age: connection_id::DEFAULT_MAX_AGE,
            access: AccessConfig::default(),
            rescan_every: Duration::from_secs(10),
            state_file: None,
            save_every: Duration::from_secs(300),
            trust_proxy: Vec::new(),
            stats_from: Vec::new(),
            udp_workers: 0,
            announced: None,
            store: StoreConfig::Memory,
            keys: None,
            keys_redis_set: None,
            keys_check_every: Duration::from_secs(2),
            allow_get: false,
        }
    }
}

/// Why the tracker could not start, load or save; each names the file or
/// address at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("cannot listen on {proto} {addr}: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read hash list {}: {source}", path.display())]
    ReadList {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {text:?} is not a 40-digit hex info hash", path.display())]
    BadListLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("cannot read allowed dir {}: {reason}", path.display())]
    AllowedDir { path: PathBuf, reason: String },
    #[error("cannot read state file {}: {source}", path.display())]
    ReadState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {} is damaged: {reason}", path.display())]
    BadState { path: PathBuf, reason: String },
    #[error("cannot write state file {}: {source}", path.display())]
    WriteState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot get random bytes for the connection-ID key: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("passkeys in a Redis set need the Redis store (--store redis://...)")]
    KeysNeedRedis,
    #[error("internal error: {0}")]
    Internal(String),
}

/// Request counters for `/metrics` and `/stats.json`.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: [AtomicU64; Counter::COUNT],
}

/// What a request was and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    HttpAnnounceOk,
    HttpAnnounceFailed,
    HttpScrapeOk,
    HttpScrapeFailed,
    HttpOther,
    UdpConnect,
    UdpAnnounceOk,
    UdpAnnounceFailed,
    UdpScrapeOk,
    UdpScrapeFailed,
    UdpDropped,
    RateLimited,
    BytesReceived,
    BytesSent,
    /// Answered from memory because the Redis store was slow or down.
    StoreDegraded,
    /// Redis calls that failed or timed out.
    StoreErrors,
}

impl Counter {
    const COUNT: usize = 16;
    pub const ALL: [Counter; Self::COUNT] = [
        Self::HttpAnnounceOk,
        Self::HttpAnnounceFailed,
        Self::HttpScrapeOk,
        Self::HttpScrapeFailed,
        Self::HttpOther,
        Self::UdpConnect,
        Self::UdpAnnounceOk,
        Self::UdpAnnounceFailed,
        Self::UdpScrapeOk,
        Self::UdpScrapeFailed,
        Self::UdpDropped,
        Self::RateLimited,
        Self::BytesReceived,
        Self::BytesSent,
        Self::StoreDegraded,
        Self::StoreErrors,
    ];

    /// Prometheus metric name and labels.
    pub fn prometheus(self) -> (&'static str, &'static str) {
        match self {
            Self::HttpAnnounceOk => (
                "requests",
                "protocol=\"http\",kind=\"announce\",result=\"ok\"",
            ),
            Self::HttpAnnounceFailed => (
                "requests",
                "protocol=\"http\",kind=\"announce\",result=\"failed\"",
            ),
            Self::HttpScrapeOk => (
                "requests",
                "protocol=\"http\",kind=\"scrape\",result=\"ok\"",
            ),
            Self::HttpScrapeFailed => (
                "requests",
                "protocol=\"http\",kind=\"scrape\",result=\"failed\"",
            ),
            Self::HttpOther => ("requests", "protocol=\"http\",kind=\"other\",result=\"ok\""),
            Self::UdpConnect => (
                "requests",
                "protocol=\"udp\",kind=\"connect\",result=\"ok\"",
            ),
            Self::UdpAnnounceOk => (
                "requests",
                "protocol=\"udp\",kind=\"announce\",result=\"ok\"",
            ),
            Self::UdpAnnounceFailed => (
                "requests",
                "protocol=\"udp\",kind=\"announce\",result=\"failed\"",
            ),
            Self::UdpScrapeOk => ("requests", "protocol=\"udp\",kind=\"scrape\",result=\"ok\""),
            Self::UdpScrapeFailed => (
                "requests",
                "protocol=\"udp\",kind=\"scrape\",result=\"failed\"",
            ),
            Self::UdpDropped => (
                "requests",
                "protocol=\"udp\",kind=\"invalid\",result=\"dropped\"",
            ),
            Self::RateLimited => ("rate_limited", ""),
            Self::BytesReceived => ("bytes", "direction=\"received\""),
            Self::BytesSent => ("bytes", "direction=\"sent\""),
            Self::StoreDegraded => ("store_degraded", ""),
            Self::StoreErrors => ("store_errors", ""),
        }
    }

    /// Key in `/stats.json`.
    pub fn json_key(self) -> &'static str {
        match self {
            Self::HttpAnnounceOk => "http_announce_ok",
            Self::HttpAnnounceFailed => "http_announce_failed",
            Self::HttpScrapeOk => "http_scrape_ok",
            Self::HttpScrapeFailed => "http_scrape_failed",
            Self::HttpOther => "http_other",
            Self::UdpConnect => "udp_connect",
            Self::UdpAnnounceOk => "udp_announce_ok",
            Self::UdpAnnounceFailed => "udp_announce_failed",
            Self::UdpScrapeOk => "udp_scrape_ok",
            Self::UdpScrapeFailed => "udp_scrape_failed",
            Self::UdpDropped => "udp_dropped",
            Self::RateLimited => "rate_limited",
            Self::BytesReceived => "bytes_received",
            Self::BytesSent => "bytes_sent",
            Self::StoreDegraded => "store_degraded",
            Self::StoreErrors => "store_errors",
        }
    }
}

impl Metrics {
    pub fn add(&self, counter: Counter, n: u64) {
        self.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].load(Ordering::Relaxed)
    }
}

/// Per-IP token buckets (requests per second, burst).
#[derive(Debug)]
struct RateLimiter {
    per_second: f32,
    burst: f32,
    buckets: std::sync::Mutex<HashMap<IpAddr, (f32, Instant)>>,
}

impl RateLimiter {
    fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, last) = buckets.entry(ip).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f32() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets clients whose bucket is full again.
    fn sweep(&self, now: Instant) {
        let full_after = Duration::from_secs_f32(self.burst / self.per_second.max(0.001));
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < full_after);
    }
}

/// State every server task shares.
#[derive(Debug)]
pub struct Shared {
    pub config: TrackerConfig,
    /// This process's swarms: the store itself, or with Redis the
    /// fallback for degraded answers.
    pub swarms: Swarms,
    pub store: Store,
    pub ids: ConnectionIds,
    pub access: RwLock<Arc<Access>>,
    pub metrics: Metrics,
    pub scrape_path: Option<String>,
    /// The passkeys (private mode only).
    pub keys: RwLock<Arc<KeySet>>,
    /// Per-key statistics (private mode only).
    pub usage: std::sync::Mutex<Usage>,
    /// Keys recently found in the Redis set (`keys_redis_set` only).
    key_cache: std::sync::Mutex<KeyCache>,
    started: Instant,
    rate: Option<RateLimiter>,
    /// `--allow-get` downloads in progress.
    pub downloads: http::DownloadSlots,
    /// Gzipped full scrape and when it was built.
    full_scrape_cache: std::sync::Mutex<Option<(Instant, bytes::Bytes)>>,
}

thread_local! {
    /// Per-thread generator for peer selection and jitter: no locking, no
    /// per-request seeding.
    static RNG: RefCell<XorShift> = RefCell::new(XorShift::new(seed()));
}

fn seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

/// Runs `f` with this thread's generator.
pub fn with_rng<T>(f: impl FnOnce(&mut XorShift) -> T) -> T {
    RNG.with(|rng| f(&mut rng.borrow_mut()))
}

impl Shared {
    /// Seconds on the swarm clock (since start).
    pub fn now(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Unix seconds, for connection IDs that other instances must accept.
    pub fn unix_now() -> u32 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
    }

    pub fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether `info_hash` may be tracked. Open trackers skip the lock.
    /// Passes a stored announce of a downloader to [`TrackerConfig::announced`].
    pub fn tell(&self, request: &swarm::Announce) {
        if let Some(tx) = &self.config.announced {
            if request.left > 0 && request.event != swarm::Event::Stopped {
                let addr = SocketAddr::new(request.endpoint.ip(), request.endpoint.port());
                let _ = tx.try_send((request.info_hash, addr));
            }
        }
    }

    pub fn allows(&self, info_hash: &swarm::Id20) -> bool {
        self.config.access.is_open() || self.access().allows(info_hash)
    }

    /// The interval to send: base plus random jitter.
    pub fn interval(&self, rng: &mut XorShift) -> u32 {
        use swarm::Rng;
        let jitter = rng.below(self.config.interval_jitter as usize + 1);
        self.config
            .interval
            .saturating_add(u32::try_from(jitter).unwrap_or(0))
    }

    /// Whether this client may make another request now.
    pub fn rate_ok(&self, ip: IpAddr) -> bool {
        match &self.rate {
            Some(rate) if !rate.allow(ip, Instant::now()) => {
                self.metrics.add(Counter::RateLimited, 1);
                false
            }
            _ => true,
        }
    }

    pub fn stats_allowed(&self, ip: IpAddr) -> bool {
        self.config.stats_from.is_empty() || self.config.stats_from.iter().any(|n| n.contains(ip))
    }

    /// Reloads the access lists; swarms of torrents no longer allowed are
    /// dropped, every other swarm stays.
    pub fn reload_access(&self) -> Result<usize, TrackerError> {
        let access = Access::load(&self.config.access)?;
        let dropped = self.swarms.retain(|hash| access.allows(hash));
        *self
            .access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(access);
        Ok(dropped)
    }

    /// The gzipped full scrape, rebuilt when older than the configured age.
    pub fn full_scrape(&self) -> bytes::Bytes {
        let mut cache = self
            .full_scrape_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((built, body)) = &*cache {
            if built.elapsed() < self.config.full_scrape_every {
                return body.clone();
            }
        }
        let mut plain = Vec::new();
        http_proto::write_scrape(&mut plain, &self.swarms.all_counts());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let body = std::io::Write::write_all(&mut gz, &plain)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let body = bytes::Bytes::from(body);
        *cache = Some((Instant::now(), body.clone()));
        body
    }

    /// Asks the Redis store to record an announce. `Degraded` means: answer
    /// from memory with [`DEGRADED_INTERVAL`] (Redis failed now, or still
    /// is failing); `Failed` (with `--store-required`) means: refuse.
    pub async fn remote_announce(&self, redis: &RedisStore, req: &swarm::Announce) -> Remote {
        if !redis.is_degraded() {
            let random = with_rng(swarm::Rng::next_u64);
            let cap = self.config.limits.max_peers_per_swarm;
            let now = u64::from(Self::unix_now());
            match redis
                .announce(req, now, self.config.peer_timeout, cap, random)
                .await
            {
                Ok(reply) => return Remote::Answered(reply),
                Err(err) => self.store_failed(redis, &err),
            }
        }
        self.fallback(redis)
    }

    /// Counts from Redis; `None`: answer from memory (or refuse, when required).
    pub async fn remote_scrape(
        &self,
        redis: &RedisStore,
        info_hash: &swarm::Id20,
    ) -> Remote<swarm::Counts> {
        if !redis.is_degraded() {
            match redis.scrape(info_hash, u64::from(Self::unix_now())).await {
                Ok(counts) => return Remote::Answered(counts),
                Err(err) => self.store_failed(redis, &err),
            }
        }
        self.fallback(redis)
    }

    fn store_failed(&self, redis: &RedisStore, err: &StoreError) {
        self.metrics.add(Counter::StoreErrors, 1);
        redis.failed(err);
    }

    fn fallback<T>(&self, redis: &RedisStore) -> Remote<T> {
        if redis.required() {
            Remote::Failed
        } else {
            self.metrics.add(Counter::StoreDegraded, 1);
            Remote::Degraded
        }
    }

    /// Whether announces need a passkey (`--keys`, `--keys-redis-set`).
    pub fn private(&self) -> bool {
        self.config.keys.is_some() || self.config.keys_redis_set.is_some()
    }

    /// The key of a request in private mode: known, refused (with the
    /// failure reason), or to be asked of Redis ([`Shared::ask_key`]).
    pub fn check_key(&self, key: PathKey<'_>) -> KeyCheck {
        let key = match key {
            PathKey::Key(key) if keys::check(key.as_bytes()).is_ok() => key,
            PathKey::Key(_) => return KeyCheck::Refused(keys::UNKNOWN),
            PathKey::Missing | PathKey::NotOurs => return KeyCheck::Refused(keys::MISSING),
        };
        if self.config.keys_redis_set.is_none() {
            return if self.keys_now().contains(key) {
                KeyCheck::Known(KeyId::of(key))
            } else {
                KeyCheck::Refused(keys::UNKNOWN)
            };
        }
        if self.cache().fresh(key, self.now()) {
            KeyCheck::Known(KeyId::of(key))
        } else {
            KeyCheck::Ask(key.to_owned())
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.key_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the Redis set about `key`. While Redis is unavailable, a key
    /// found before is still accepted; any other is refused.
    pub async fn ask_key(&self, key: &str) -> Result<KeyId, &'static str> {
        let (Store::Redis(redis), Some(set)) = (&self.store, &self.config.keys_redis_set) else {
            return Err(keys::UNKNOWN);
        };
        if !redis.is_degraded() {
            match redis.is_member(set, key).await {
                Ok(true) => {
                    let now = self.now();
                    self.cache().insert(key, now);
                    return Ok(KeyId::of(key));
                }
                Ok(false) => {
                    self.cache().remove(key);
                    return Err(keys::UNKNOWN);
                }
                Err(err) => self.store_failed(redis, &err),
            }
        }
        if self.cache().known(key) {
            self.metrics.add(Counter::StoreDegraded, 1);
            Ok(KeyId::of(key))
        } else {
            Err(STORE_UNAVAILABLE)
        }
    }

    fn keys_now(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Counts an accepted announce made with passkey `id`.
    pub fn record_usage(&self, id: KeyId, report: &Report) {
        let now = self.now();
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(id, report, now);
    }

    /// Per-key counters for `/stats.json`.
    pub fn usage_rows(&self) -> Vec<(KeyId, keys::KeyCounters)> {
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .rows()
    }

    /// Re-reads the key file; on error the old keys stay. Revoked keys
    /// are refused from the next announce, and their counters dropped.
    /// Returns (keys now, added, revoked).
    pub fn reload_keys(&self) -> Result<(usize, usize, usize), TrackerError> {
        let Some(path) = &self.config.keys else {
            // Redis set: members are asked again from the next announce.
            let cached = {
                let mut cache = self.cache();
                let n = cache.len();
                cache.clear();
                n
            };
            return Ok((cached, 0, 0));
        };
        let new = match KeySet::load(path) {
            Ok(new) => new,
            Err(err) => {
                // Looked at again only when the file changes once more.
                let mut keys = self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *keys = Arc::new(keys.refingerprinted(path));
                return Err(err.into());
            }
        };
        let (old_ids, new_ids) = (self.keys_now().ids(), new.ids());
        let added = new_ids.difference(&old_ids).count();
        let revoked = old_ids.difference(&new_ids).count();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new);
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|id| new_ids.contains(id));
        Ok((new_ids.len(), added, revoked))
    }

    /// Saves the state file, if configured.
    pub fn save_state(&self) -> Result<(), TrackerError> {
        match &self.config.state_file {
            Some(path) => state::save(path, &self.swarms.export()),
            None => Ok(()),
        }
    }
}

/// What the Redis store made of a request.
#[derive(Debug)]
pub enum Remote<T = store::RemoteReply> {
    Answered(T),
    /// Answer from this process's swarms, with [`DEGRADED_INTERVAL`].
    Degraded,
    /// `--store-required` and Redis is unavailable: refuse.
    Failed,
}

/// The failure reason sent when `--store-required` and Redis is down.
pub const STORE_UNAVAILABLE: &str = "tracker store unavailable, try again later";

/// A running tracker.
#[derive(Debug, Clone)]
pub struct Tracker {
    shared: Arc<Shared>,
    http: Vec<SocketAddr>,
    udp: Vec<SocketAddr>,
}

impl Tracker {
    /// Loads access lists and state, binds every configured address and
    /// spawns the servers and housekeeping through `shutdown`. Must be
    /// called inside a tokio runtime. On error, tasks already spawned stop
    /// when the caller awaits [`Shutdown::finished`].
    pub async fn start(config: TrackerConfig, shutdown: &Shutdown) -> Result<Self, TrackerError> {
        let key = match config.connection_id_key {
            Some(key) => key,
            None => {
                let mut key = [0; 16];
                getrandom::fill(&mut key).map_err(|e| TrackerError::Random(e.to_string()))?;
                key
            }
        };
        let access_config = config.access.clone();
        let access = tokio::task::spawn_blocking(move || Access::load(&access_config))
            .await
            .map_err(|e| TrackerError::Internal(e.to_string()))??;
        tracing::info!(allowed = %access.describe(), "access lists loaded");
        if config.keys_redis_set.is_some() && config.store == StoreConfig::Memory {
            return Err(TrackerError::KeysNeedRedis);
        }
        let keys = match config.keys.clone() {
            Some(path) => {
                let shown = path.display().to_string();
                let keys = tokio::task::spawn_blocking(move || KeySet::load(&path))
                    .await
                    .map_err(|e| TrackerError::Internal(e.to_string()))??;
                if keys.is_empty() {
                    tracing::warn!("no passkeys in {shown}: every announce is refused");
                }
                tracing::info!(keys = keys.len(), "private mode: passkeys loaded");
                keys
            }
            None => KeySet::default(),
        };
        let swarms = Swarms::new(config.limits);
        if let Some(path) = &config.state_file {
            let path = path.clone();
            // An unwritable state path is said now, not at the first save minutes later.
            check_writable(&path)?;
            let records = tokio::task::spawn_blocking(move || {
                let removed = state::remove_stale_temp_files(&path)?;
                if removed > 0 {
                    tracing::info!(
                        removed,
                        "removed temporary files of interrupted state saves"
                    );
                }
                state::load(&path)
            })
            .await
            .map_err(|e| TrackerError::Internal(e.to_string()))??;
            let kept: Vec<_> = records
                .into_iter()
                .filter(|r| access.allows(&r.info_hash))
                .collect();
            let torrents = kept.len();
            swarms.import(kept, 0);
            tracing::info!(
                torrents,
                peers = swarms.peer_count(),
                path = %config.state_file.as_deref().unwrap_or(std::path::Path::new("")).display(),
                "state restored"
            );
        }
        let store = match &config.store {
            StoreConfig::Memory => Store::Memory,
            StoreConfig::Redis { url, required } => {
                let redis = RedisStore::new(url, *required)?;
                match redis.check().await {
                    Ok(()) => tracing::info!(store = %redis.url(), "redis store connected"),
                    // Fail fast: nothing is bound yet.
                    Err(err) if *required => return Err(err.into()),
                    Err(err) => {
                        redis.set_degraded();
                        tracing::warn!(
                            "{err}; answering from memory (interval {DEGRADED_INTERVAL} s) until it is back"
                        );
                    }
                }
                Store::Redis(Box::new(redis))
            }
        };
        let mut http_listeners = Vec::new();
        for &addr in &config.http {
            http_listeners.push((addr, bind_tcp(addr)?));
        }
        let mut udp_sockets = Vec::new();
        for &addr in &config.udp {
            udp_sockets.push((addr, bind_udp(addr)?));
        }
        let shared = Arc::new(Shared {
            ids: ConnectionIds::new(key, config.connection_id_max_age),
            scrape_path: http_proto::scrape_path(&config.announce_path),
            rate: config.rate_limit.map(|(per_second, burst)| RateLimiter {
                per_second: per_second as f32,
                burst: burst.max(1) as f32,
                buckets: std::sync::Mutex::default(),
            }),
            config,
            swarms,
            store,
            access: RwLock::new(Arc::new(access)),
            keys: RwLock::new(Arc::new(keys)),
            usage: std::sync::Mutex::default(),
            key_cache: std::sync::Mutex::default(),
            metrics: Metrics::default(),
            started: Instant::now(),
            downloads: http::DownloadSlots::default(),
            full_scrape_cache: std::sync::Mutex::new(None),
        });
        let mut http_addrs = Vec::new();
        for (addr, listener) in http_listeners {
            let local = listener.local_addr().map_err(|source| TrackerError::Bind {
                proto: "http",
                addr,
                source,
            })?;
            http_addrs.push(local);
            shutdown.spawn(http::serve(listener, shared.clone(), shutdown.clone()));
        }
        let mut udp_addrs = Vec::new();
        let workers = match shared.config.udp_workers {
            // A worker waits out each Redis round trip: more of them keep the cores busy.
            0 if matches!(shared.store, Store::Redis(_)) => {
                8 * std::thread::available_parallelism().map_or(2, |n| n.get())
            }
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        for (addr, socket) in udp_sockets {
            let local = socket.local_addr().map_err(|source| TrackerError::Bind {
                proto: "udp",
                addr,
                source,
            })?;
            udp_addrs.push(local);
            udp::serve(socket, shared.clone(), shutdown, workers).map_err(|source| {
                TrackerError::Bind {
                    proto: "udp",
                    addr,
                    source,
                }
            })?;
        }
        shutdown.spawn(housekeeping(shared.clone(), shutdown.clone()));
        if matches!(shared.store, Store::Redis(_)) {
            let (shared, stop) = (shared.clone(), shutdown.clone());
            shutdown.spawn(async move {
                if let Store::Redis(redis) = &shared.store {
                    redis.probe(&stop).await;
                }
            });
        }
        tracing::info!(http = ?http_addrs, udp = ?udp_addrs, "tracker started");
        Ok(Self {
            shared,
            http: http_addrs,
            udp: udp_addrs,
        })
    }

    /// The bound HTTP addresses (ports resolved when 0 was asked for).
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http
    }

    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Allows (or, with `allowed: false`, forbids again) a torrent by its
    /// hashes at run time, as `publish` does for torrents it adds and
    /// removes. A reload from files drops these changes.
    pub fn set_allowed(&self, hashes: &[swarm::Id20], name: &str, allowed: bool) {
        let mut access = self
            .shared
            .access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *access = Arc::new(access.with_torrent(hashes, name, allowed));
    }

    /// Re-reads the access lists and the key file (SIGHUP). Swarms still
    /// allowed stay; a file that fails to load keeps its old contents.
    pub async fn reload(&self) -> Result<(), TrackerError> {
        let shared = self.shared.clone();
        let keys = tokio::task::spawn_blocking(move || reload_keys_logged(&shared, "SIGHUP"))
            .await
            .map_err(|e| TrackerError::Internal(e.to_string()))?;
        let shared = self.shared.clone();
        let dropped = tokio::task::spawn_blocking(move || shared.reload_access())
            .await
            .map_err(|e| TrackerError::Internal(e.to_string()))??;
        let allowed = self.shared.access().describe();
        tracing::info!(dropped, %allowed, "access lists reloaded");
        keys
    }
}

/// Reloads the key file (if any) and logs counts, never keys.
fn reload_keys_logged(shared: &Shared, why: &str) -> Result<(), TrackerError> {
    if !shared.private() {
        return Ok(());
    }
    let (keys, added, revoked) = shared.reload_keys()?;
    if shared.config.keys.is_some() {
        tracing::info!(keys, added, revoked, "passkeys reloaded ({why})");
    } else {
        tracing::info!(forgotten = keys, "passkey cache cleared ({why})");
    }
    Ok(())
}

/// Fails, naming the path, when the state file's directory cannot take a
/// new file (saves write a temporary file there and rename it).
fn check_writable(path: &std::path::Path) -> Result<(), TrackerError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    tempfile::Builder::new()
        .prefix(".mktorrent-rs-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|source| TrackerError::WriteState {
            path: path.to_owned(),
            source,
        })
}

fn bind_tcp(addr: SocketAddr) -> Result<tokio::net::TcpListener, TrackerError> {
    let err = |source| TrackerError::Bind {
        proto: "http",
        addr,
        source,
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(err)?;
    if addr.is_ipv6() {
        // So [::]:P and 0.0.0.0:P can both be bound.
        socket.set_only_v6(true).map_err(err)?;
    }
    socket.set_reuse_address(true).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(1024).map_err(err)?;
    tokio::net::TcpListener::from_std(socket.into()).map_err(err)
}

fn bind_udp(addr: SocketAddr) -> Result<tokio::net::UdpSocket, TrackerError> {
    let err = |source| TrackerError::Bind {
        proto: "udp",
        addr,
        source,
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(err)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(err)?;
    }
    // Bursts of announces must not be dropped by a small default buffer.
    let _ = socket.set_recv_buffer_size(8 << 20);
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    tokio::net::UdpSocket::from_std(socket.into()).map_err(err)
}

/// Expiry sweeps, rate-limiter cleanup, allowed-dir rescans and periodic
/// saves; saves once more at shutdown.
async fn housekeeping(shared: Arc<Shared>, shutdown: Shutdown) {
    let mut expire = tokio::time::interval(Duration::from_secs(60));
    let mut save = tokio::time::interval(shared.config.save_every);
    let mut rescan = tokio::time::interval(shared.config.rescan_every);
    let mut keys_check = tokio::time::interval(shared.config.keys_check_every);
    for tick in [&mut expire, &mut save, &mut rescan, &mut keys_check] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = expire.tick() => {
                let cutoff = shared.now().saturating_sub(shared.config.peer_timeout);
                let removed = shared.swarms.expire(cutoff);
                shared
                    .usage
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .expire(cutoff);
                if let Some(rate) = &shared.rate {
                    rate.sweep(Instant::now());
                }
                tracing::debug!(removed, "expired quiet peers");
            }
            _ = save.tick(), if shared.config.state_file.is_some() => {
                let shared = shared.clone();
                if let Ok(Err(err)) = tokio::task::spawn_blocking(move || shared.save_state()).await {
                    tracing::warn!("{err}");
                }
            }
            _ = keys_check.tick(), if shared.config.keys.is_some() => {
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let changed = shared
                        .config
                        .keys
                        .as_deref()
                        .is_some_and(|path| shared.keys_now().changed(path));
                    if changed {
                        if let Err(err) = reload_keys_logged(&shared, "file changed") {
                            tracing::error!("{err}; keeping the old passkeys");
                        }
                    }
                }).await;
            }
            _ = rescan.tick(), if shared.config.access.allowed_dir.is_some() => {
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if shared.access().dir_changed(&shared.config.access) {
                        match shared.reload_access() {
                            Ok(dropped) => tracing::info!(
                                dropped,
                                allowed = %shared.access().describe(),
                                "allowed dir changed; reloaded"
                            ),
                            Err(err) => tracing::warn!("{err}"),
                        }
                    }
                }).await;
            }
        }
    }
    let saver = shared.clone();
    match tokio::task::spawn_blocking(move || saver.save_state()).await {
        Ok(Err(err)) => tracing::error!("{err}"),
        Ok(Ok(())) if shared.config.state_file.is_some() => tracing::info!("state saved"),
        _ => {}
    }
}
