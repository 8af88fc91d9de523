//! Where swarms live: in this process ([`Swarms`], the default) or in
//! Redis/Valkey, shared by any number of tracker instances.
//!
//! [`Store`] is an enum, not a trait object: the in-memory arm stays the
//! synchronous call it always was (no boxed future, no allocation), and
//! only the Redis arm awaits. With Redis, the process's own [`Swarms`]
//! still exists: it answers when Redis is slow or down ("degraded", with a
//! short interval so clients come back soon), counted in `/metrics`.
//!
//! Redis layout, per swarm (every key carries the `{<info hash hex>}` hash
//! tag, so one swarm is one Cluster slot and one script call):
//! `mkt:{h}:s4` / `:l4` / `:s6` / `:l6`: sorted sets of seeders and
//! leechers per address family, member = the compact peer (BEP 23: 6
//! bytes, BEP 7: 18 bytes), score = the peer's deadline in Unix seconds;
//! `mkt:{h}:c`: a hash whose field `n` is the completed count. One Lua
//! script per announce ([`ANNOUNCE_LUA`]) prunes, applies the event, counts
//! and picks peers; keys expire by TTL, so nothing scans. Time, the random
//! window offset and the peer are script arguments, built here purely.
//!
//! Kept in memory only (documented in the README): the per-address caps
//! (`--max-ports-per-ip`, `--max-peers-per-ip`), `--max-torrents` and
//! `--max-total-peers`; Redis's `maxmemory` is the total bound there.
//! `--max-peers` holds per swarm and family: a newcomer to a full set
//! takes the place of its stalest peer (lowest deadline).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;

use super::swarm::{Announce, Counts, Endpoint, Event, Id20};

/// How long one Redis call may take before the tracker answers from memory.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// The interval sent with a degraded answer: clients come back soon.
pub const DEGRADED_INTERVAL: u32 = 60;
/// How often a degraded tracker checks whether Redis is back.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// The completed count outlives the peers (as in memory): 30 days after
/// the last announce.
const COMPLETED_TTL: u32 = 30 * 24 * 3600;

/// Which store, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreConfig {
    #[default]
    Memory,
    /// `redis://`, `rediss://`, `redis+cluster://` or `rediss+cluster://`.
    Redis {
        url: String,
        /// Fail instead of answering from memory when Redis is unavailable.
        required: bool,
    },
}

/// Why the store could not be reached or understood; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bad store URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("redis store {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("redis store {url}: no answer within {} ms", CALL_TIMEOUT.as_millis())]
    Timeout { url: String },
    #[error("redis store {url}: not connected yet")]
    NotConnected { url: String },
    #[error("redis store {url}: unexpected reply: {reason}")]
    Reply { url: String, reason: String },
}

/// The swarms of this tracker.
#[derive(Debug)]
pub enum Store {
    /// Only the process's own [`super::swarm::Swarms`] (in `Shared`).
    Memory,
    Redis(Box<RedisStore>),
}

/// An announce answered by Redis: counts and the compact peers, concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReply {
    pub counts: Counts,
    /// Entries of 6 (IPv4) or 18 (IPv6) bytes, the announcer's family.
    pub peers: Vec<u8>,
}

/// The announce script. KEYS: s4 l4 s6 l6 c (one hash tag).
/// ARGV: 1 family ("4"/"6"), 2 member, 3 event (n/c/s/x: none,
/// completed, started, stopped), 4 seeder ("1"/"0"), 5 now, 6 deadline,
/// 7 numwant, 8 random offset, 9 set TTL, 10 completed TTL, 11 max peers
/// per set pair. Returns {seeders, leechers, completed, peers}.
pub const ANNOUNCE_LUA: &str = r"
local now = tonumber(ARGV[5])
-- lazy pruning: strictly past the deadline, as the in-memory sweep
for i = 1, 4 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. now) end
local s, l = KEYS[1], KEYS[2]
if ARGV[1] == '6' then s, l = KEYS[3], KEYS[4] end
local me, event, seeder = ARGV[2], ARGV[3], ARGV[4] == '1'
local out = {}
if event == 'x' then
  redis.call('ZREM', s, me)
  redis.call('ZREM', l, me)
else
  local in_s = redis.call('ZSCORE', s, me)
  local in_l = redis.call('ZSCORE', l, me)
  if not in_s and not in_l then
    local max = tonumber(ARGV[11])
    if redis.call('ZCARD', s) + redis.call('ZCARD', l) >= max then
      -- full: the stalest peer of the larger set makes room
      local victim = s
      if redis.call('ZCARD', l) > redis.call('ZCARD', s) then victim = l end
      redis.call('ZPOPMIN', victim)
    end
  end
  if seeder then
    if in_l then redis.call('ZREM', l, me) end
    -- counted once: a peer that was not seeding already
    if event == 'c' and not in_s then redis.call('HINCRBY', KEYS[5], 'n', 1) end
    redis.call('ZADD', s, ARGV[6], me)
  else
    if in_s then redis.call('ZREM', s, me) end
    redis.call('ZADD', l, ARGV[6], me)
  end
  local ttl = ARGV[9]
  redis.call('EXPIRE', s, ttl)
  redis.call('EXPIRE', l, ttl)
  redis.call('EXPIRE', KEYS[5], ARGV[10])
  local want, r = tonumber(ARGV[7]), tonumber(ARGV[8])
  -- a random window of each set, wrapping; a seeder gets leechers first
  local function take(key)
    if #out >= want then return end
    local n = redis.call('ZCARD', key)
    if n == 0 then return end
    local need = math.min(want - #out + 1, n)
    local start = r % n
    local got = redis.call('ZRANGE', key, start, start + need - 1)
    if #got < need then
      local more = redis.call('ZRANGE', key, 0, need - #got - 1)
      for _, m in ipairs(more) do got[#got + 1] = m end
    end
    for _, m in ipairs(got) do
      if #out >= want then return end
      if m ~= me then out[#out + 1] = m end
    end
  end
  if seeder then take(l); take(s) else take(s); take(l) end
end
local seeders = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[3])
local leechers = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[4])
local completed = tonumber(redis.call('HGET', KEYS[5], 'n') or '0')
return {seeders, leechers, completed, table.concat(out)}
";

/// The five keys of a swarm: s4 l4 s6 l6 c.
pub fn keys(info_hash: &Id20) -> [String; 5] {
    let mut hex = String::with_capacity(40);
    for b in info_hash {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    ["s4", "l4", "s6", "l6", "c"].map(|k| format!("mkt:{{{hex}}}:{k}"))
}

/// What one announce tells the script, besides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptArgs {
    pub family: &'static str,
    pub member: Vec<u8>,
    pub event: &'static str,
    pub seeder: &'static str,
    pub now: u64,
    pub deadline: u64,
    pub numwant: usize,
    pub offset: u32,
    pub ttl: u32,
    pub completed_ttl: u32,
    pub max_peers: usize,
}

/// Pure: the script arguments for `req` at `now` (Unix seconds), with a
/// random window offset `random`.
pub fn script_args(
    req: &Announce,
    now: u64,
    peer_timeout: u32,
    max_peers: usize,
    random: u64,
) -> ScriptArgs {
    let (family, member) = match &req.endpoint {
        Endpoint::V4(b) => ("4", b.to_vec()),
        Endpoint::V6(b) => ("6", b.to_vec()),
    };
    ScriptArgs {
        family,
        member,
        event: match req.event {
            Event::None => "n",
            Event::Completed => "c",
            Event::Started => "s",
            Event::Stopped => "x",
        },
        seeder: if req.left == 0 { "1" } else { "0" },
        now,
        deadline: now + u64::from(peer_timeout),
        numwant: req.numwant,
        // Below 2^31: exact in Lua's doubles, and modulo keeps it in range.
        offset: (random >> 33) as u32,
        // A quiet swarm's sets vanish a little after its last peer's deadline.
        ttl: peer_timeout.saturating_add(60),
        completed_ttl: COMPLETED_TTL.max(peer_timeout),
        max_peers: max_peers.max(1),
    }
}

/// Pure: the script's reply, checked. `entry` is 6 or 18.
pub fn parse_reply(value: redis::Value, entry: usize) -> Result<RemoteReply, String> {
    let redis::Value::Array(items) = value else {
        return Err(format!("expected an array, got {value:?}"));
    };
    let [s, l, c, peers] = <[redis::Value; 4]>::try_from(items)
        .map_err(|items| format!("expected 4 items, got {}", items.len()))?;
    let count = |v: redis::Value| match v {
        redis::Value::Int(n) => Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        other => Err(format!("expected a count, got {other:?}")),
    };
    let counts = Counts {
        seeders: count(s)?,
        leechers: count(l)?,
        completed: count(c)?,
    };
    let peers = match peers {
        redis::Value::BulkString(bytes) => bytes,
        redis::Value::SimpleString(s) => s.into_bytes(),
        redis::Value::Okay => Vec::new(),
        other => return Err(format!("expected peer bytes, got {other:?}")),
    };
    if !peers.len().is_multiple_of(entry) {
        return Err(format!(
            "{} peer bytes are not a multiple of {entry}",
            peers.len()
        ));
    }
    Ok(RemoteReply { counts, peers })
}

/// The connection: one server (reconnecting by itself) or a Cluster
/// (connected by the probe task once a node answers).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Swarms in Redis, shared by every instance pointed at the same server.
pub struct RedisStore {
    url: String,
    single: Option<ConnectionManager>,
    cluster_client: Option<redis::cluster::ClusterClient>,
    cluster: Mutex<Option<ClusterConnection>>,
    script: redis::Script,
    required: bool,
    degraded: AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: print none of it.
        f.debug_struct("RedisStore")
            .field("required", &self.required)
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

/// The URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl RedisStore {
    /// Parses the URL and sets up the connection lazily: nothing is
    /// contacted here (see [`RedisStore::check`]).
    pub fn new(url: &str, required: bool) -> Result<Self, StoreError> {
        let shown = redact(url);
        let bad = |reason: String| StoreError::Url {
            url: shown.clone(),
            reason,
        };
        let (single, cluster_client) = if let Some(rest) = url
            .strip_prefix("redis+cluster://")
            .map(|r| ("redis", r))
            .or_else(|| url.strip_prefix("rediss+cluster://").map(|r| ("rediss", r)))
        {
            let (scheme, rest) = rest;
            // Seed nodes, comma-separated: redis+cluster://h1:p1,h2:p2
            let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (auth, hosts) = match hosts.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), hosts),
            };
            if !path.is_empty() {
                return Err(bad("a Cluster has only database 0".into()));
            }
            let nodes: Vec<String> = hosts
                .split(',')
                .filter(|h| !h.is_empty())
                .map(|h| format!("{scheme}://{auth}{h}"))
                .collect();
            if nodes.is_empty() {
                return Err(bad("no node given".into()));
            }
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .connection_timeout(CALL_TIMEOUT)
                .response_timeout(CALL_TIMEOUT)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            (None, Some(client))
        } else if url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("unix://")
        {
            let client = redis::Client::open(url).map_err(|e| bad(e.to_string()))?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CALL_TIMEOUT))
                .set_response_timeout(Some(CALL_TIMEOUT))
                // Reconnects are the probe's job; a request never waits for them.
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(500));
            let manager = ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| bad(e.to_string()))?;
            (Some(manager), None)
        } else {
            return Err(bad(
                "expected redis://, rediss://, redis+cluster:// or rediss+cluster://".into(),
            ));
        };
        Ok(Self {
            url: shown,
            single,
            cluster_client,
            cluster: Mutex::new(None),
            script: redis::Script::new(ANNOUNCE_LUA),
            required,
            degraded: AtomicBool::new(false),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn required(&self) -> bool {
        self.required
    }

    /// Whether requests go to memory now (Redis failed and the probe has
    /// not seen it back yet).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn conn(&self) -> Result<Conn, StoreError> {
        if let Some(manager) = &self.single {
            return Ok(Conn::Single(manager.clone()));
        }
        self.cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .map(Conn::Cluster)
            .ok_or_else(|| StoreError::NotConnected {
                url: self.url.clone(),
            })
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(StoreError::Redis {
                url: self.url.clone(),
                source,
            }),
            Err(_) => Err(StoreError::Timeout {
                url: self.url.clone(),
            }),
        }
    }

    /// Connects (Cluster), pings and loads the script: the start-up check
    /// and the degraded probe.
    pub async fn check(&self) -> Result<(), StoreError> {
        if let Some(client) = &self.cluster_client {
            let connected = self
                .cluster
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some();
            if !connected {
                let conn = self.timed(client.get_async_connection()).await?;
                *self
                    .cluster
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(conn);
            }
        }
        let ping = redis::cmd("PING");
        match self.conn()? {
            Conn::Single(mut c) => {
                self.timed(ping.query_async::<()>(&mut c)).await?;
                self.timed(self.script.load_async(&mut c)).await?;
            }
            Conn::Cluster(mut c) => {
                self.timed(ping.query_async::<()>(&mut c)).await?;
            }
        }
        Ok(())
    }

    /// Records the announce in Redis and picks peers. `random` picks the
    /// window of peers.
    pub async fn announce(
        &self,
        req: &Announce,
        now: u64,
        peer_timeout: u32,
        max_peers: usize,
        random: u64,
    ) -> Result<RemoteReply, StoreError> {
        let keys = keys(&req.info_hash);
        let a = script_args(req, now, peer_timeout, max_peers, random);
        let mut call = self.script.prepare_invoke();
        for key in &keys {
            call.key(key);
        }
        call.arg(a.family)
            .arg(&a.member)
            .arg(a.event)
            .arg(a.seeder)
            .arg(a.now)
            .arg(a.deadline)
            .arg(a.numwant)
            .arg(a.offset)
            .arg(a.ttl)
            .arg(a.completed_ttl)
            .arg(a.max_peers);
        let value: redis::Value = match self.conn()? {
            Conn::Single(mut c) => self.timed(call.invoke_async(&mut c)).await?,
            Conn::Cluster(mut c) => self.timed(call.invoke_async(&mut c)).await?,
        };
        let entry = if a.family == "4" { 6 } else { 18 };
        parse_reply(value, entry).map_err(|reason| StoreError::Reply {
            url: self.url.clone(),
            reason,
        })
    }

    /// Read-only counts of live peers (deadline not passed) and completed.
    pub async fn scrape(&self, info_hash: &Id20, now: u64) -> Result<Counts, StoreError> {
        let keys = keys(info_hash);
        let mut pipe = redis::pipe();
        for key in &keys[..4] {
            pipe.cmd("ZCOUNT").arg(key).arg(now).arg("+inf");
        }
        pipe.cmd("HGET").arg(&keys[4]).arg("n");
        let (s4, l4, s6, l6, c): (u64, u64, u64, u64, Option<u64>) = match self.conn()? {
            Conn::Single(mut c) => self.timed(pipe.query_async(&mut c)).await?,
            Conn::Cluster(mut c) => self.timed(pipe.query_async(&mut c)).await?,
        };
        let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Counts {
            seeders: n(s4 + s6),
            leechers: n(l4 + l6),
            completed: n(c.unwrap_or(0)),
        })
    }

    /// Whether `member` is in the set `set` (SISMEMBER): passkeys kept in
    /// Redis by the site that issues them.
    pub async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SISMEMBER");
        cmd.arg(set).arg(member);
        match self.conn()? {
            Conn::Single(mut c) => self.timed(cmd.query_async(&mut c)).await,
            Conn::Cluster(mut c) => self.timed(cmd.query_async(&mut c)).await,
        }
    }

    /// Notes a failed call: enters degraded mode (logged once) so requests
    /// stop waiting on Redis until the probe sees it back.
    pub fn failed(&self, err: &StoreError) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{err}; answering from memory (interval {DEGRADED_INTERVAL} s) until it is back"
            );
        }
    }

    /// Checks Redis every second while degraded; leaves degraded mode
    /// (logged once) when it answers again. Returns at shutdown.
    pub async fn probe(&self, shutdown: &crate::shutdown::Shutdown) {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !self.is_degraded() {
                continue;
            }
            match self.check().await {
                Ok(()) => {
                    self.degraded.store(false, Ordering::Relaxed);
                    tracing::info!(store = %self.url, "redis store is back; leaving degraded mode");
                }
                Err(err) => tracing::debug!("{err}"),
            }
        }
    }

    /// Starts degraded (before the first successful check).
    pub fn set_degraded(&self) {
        self.degraded.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    fn announce(endpoint: Endpoint, event: Event, left: u64) -> Announce {
        Announce {
            info_hash: [0xab; 20],
            peer_id: [1; 20],
            endpoint,
            event,
            left,
            numwant: 50,
        }
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = keys(&[0xab; 20]);
        let tag = format!("{{{}}}", "ab".repeat(20));
        assert!(keys.iter().all(|k| k.contains(&tag)), "{keys:?}");
        assert_eq!(keys[0], format!("mkt:{tag}:s4"));
        assert_eq!(keys[4], format!("mkt:{tag}:c"));
    }

    #[test]
    fn args_carry_member_event_and_deadline() {
        let v4 = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 6881);
        let a = script_args(&announce(v4, Event::Completed, 0), 1000, 2700, 10, u64::MAX);
        assert_eq!(a.family, "4");
        assert_eq!(a.member, vec![192, 0, 2, 1, 0x1a, 0xe1]);
        assert_eq!((a.event, a.seeder), ("c", "1"));
        assert_eq!(a.deadline, 3700);
        assert!(a.offset < 1 << 31);
        let v6 = Endpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1);
        let a = script_args(&announce(v6, Event::Stopped, 5), 0, 60, 0, 0);
        assert_eq!(
            (a.family, a.member.len(), a.event, a.seeder),
            ("6", 18, "x", "0")
        );
        assert_eq!(a.max_peers, 1, "a zero cap still admits one peer");
    }

    #[test]
    fn reply_is_checked() {
        use redis::Value;
        let ok = Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::BulkString(vec![0; 12]),
        ]);
        let reply = parse_reply(ok, 6).unwrap();
        assert_eq!(
            (
                reply.counts.seeders,
                reply.counts.leechers,
                reply.counts.completed
            ),
            (1, 2, 3)
        );
        assert_eq!(reply.peers.len(), 12);
        let torn = Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::BulkString(vec![0; 7]),
        ]);
        assert!(parse_reply(torn, 6).is_err());
        assert!(parse_reply(Value::Int(1), 6).is_err());
        assert!(parse_reply(Value::Array(vec![]), 6).is_err());
    }

    #[test]
    fn urls_are_checked_and_passwords_hidden() {
        let err = RedisStore::new("http://x", false).unwrap_err().to_string();
        assert!(err.contains("redis://"), "{err}");
        assert_eq!(redact("redis://u:secret@h:1/2"), "redis://u:***@h:1/2");
        let err = RedisStore::new("redis+cluster:///", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no node"), "{err}");
    }
}

#[cfg(test)]
mod contract;
