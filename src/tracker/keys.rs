//! Private mode (`--keys`): passkeys in the announce path, and per-key
//! upload/download statistics.
//!
//! A passkey is 16 to 64 characters of `A-Z a-z 0-9 _ -` (URL-safe, so it
//! sits in a path unescaped). The key file holds one per line; blank lines
//! and `#` comments are ignored. Keys are never logged or shown: logs,
//! errors and `/stats.json` name a key by its [`KeyId`], the first 8 bytes
//! of SHA-256 of the key in hex (`printf %s KEY | sha256sum | cut -c1-16`).
//!
//! [`KeySet::load`] reads the file (sync: callers run it off the runtime
//! threads); everything else is pure. [`Usage`] turns the cumulative
//! `uploaded`/`downloaded` a client reports into increases between its
//! announces, remembering the last values per (key, torrent, peer id) in a
//! table bounded per key and in total.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::swarm::{Event, Id20};

/// Shortest passkey accepted.
pub const MIN_LEN: usize = 16;
/// Longest passkey accepted.
pub const MAX_LEN: usize = 64;

/// The failure reason for an announce or scrape without a passkey.
pub const MISSING: &str = "missing passkey: this tracker is private, announce to /announce/PASSKEY";
/// The error for a UDP scrape in private mode (it cannot carry a passkey).
pub const NO_UDP_SCRAPE: &str = "private tracker: scrape over HTTP at /scrape/PASSKEY";
/// The failure reason for a passkey not (or no longer) in the key list.
pub const UNKNOWN: &str = "unknown passkey";

/// Why a key file could not be used; names the file (and line), never a key.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {problem}", path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        problem: KeyProblem,
    },
}

/// What is wrong with a would-be passkey. Says where, never what the text was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("a passkey of {0} characters; passkeys have {MIN_LEN} to {MAX_LEN}")]
    Length(usize),
    #[error("character {0} of the passkey is not one of A-Z a-z 0-9 _ -")]
    Character(usize),
}

/// Checks that `key` is a well-formed passkey.
pub fn check(key: &[u8]) -> Result<(), KeyProblem> {
    if let Some(at) = key
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(KeyProblem::Character(at + 1));
    }
    if !(MIN_LEN..=MAX_LEN).contains(&key.len()) {
        return Err(KeyProblem::Length(key.len()));
    }
    Ok(())
}

/// Parses key-file text; on error returns the 1-based line and the problem.
pub fn parse(text: &str) -> Result<HashSet<String>, (usize, KeyProblem)> {
    let mut keys = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        check(line.as_bytes()).map_err(|problem| (number + 1, problem))?;
        keys.insert(line.to_owned());
    }
    Ok(keys)
}

/// A key's public name: the first 8 bytes of its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    pub fn of(key: &str) -> Self {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
        let mut id = [0; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where the passkey of a request stands, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKey<'a> {
    /// Not under `base`: some other route.
    NotOurs,
    /// `base` itself, without a key.
    Missing,
    /// `base/KEY` (not yet checked against the list).
    Key(&'a str),
}

/// Splits `base/KEY`, or `/KEY/base` (Ocelot's form: BEP 48 clients can
/// derive the scrape URL `/KEY/scrape` from it), for HTTP paths and BEP 41
/// URL data without its query.
pub fn key_in_path<'a>(path: &'a str, base: &str) -> PathKey<'a> {
    match path.strip_prefix(base) {
        Some("" | "/") => return PathKey::Missing,
        Some(rest) => {
            if let Some(key) = rest.strip_prefix('/') {
                return PathKey::Key(key);
            }
        }
        None => {}
    }
    match path
        .strip_suffix(base)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(key) if !key.is_empty() => PathKey::Key(key),
        _ => PathKey::NotOurs,
    }
}

/// The passkey in BEP 41 URL data (`/announce/KEY?query`): anything but
/// `base/KEY` counts as missing, since UDP has no other routes.
pub fn key_in_url_data<'a>(url_data: &'a [u8], base: &str) -> PathKey<'a> {
    let path = url_data.split(|&b| b == b'?').next().unwrap_or(&[]);
    match std::str::from_utf8(path).map(|p| key_in_path(p, base)) {
        Ok(PathKey::Key(key)) => PathKey::Key(key),
        _ => PathKey::Missing,
    }
}

/// The loaded key file.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashSet<String>,
    /// Modification time and size when loaded, to notice changes.
    fingerprint: Option<(Option<SystemTime>, u64)>,
}

impl KeySet {
    /// A set from keys already checked (tests, Redis).
    pub fn from_keys(keys: HashSet<String>) -> Self {
        Self {
            keys,
            fingerprint: None,
        }
    }

    /// Reads and checks the key file.
    pub fn load(path: &Path) -> Result<Self, KeysError> {
        let fingerprint = fingerprint(path);
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read {
            path: path.to_owned(),
            source,
        })?;
        let keys = parse(&text).map_err(|(line, problem)| KeysError::BadLine {
            path: path.to_owned(),
            line,
            problem,
        })?;
        Ok(Self { keys, fingerprint })
    }

    /// Whether the file's modification time or size differs from when this
    /// set was loaded (a vanished file counts as changed: the reload then
    /// fails and the old keys stay).
    pub fn changed(&self, path: &Path) -> bool {
        fingerprint(path) != self.fingerprint
    }

    /// The same keys, marked as loaded from `path` as it is now (after a
    /// failed reload, so the poll waits for the next change).
    pub fn refingerprinted(&self, path: &Path) -> Self {
        Self {
            keys: self.keys.clone(),
            fingerprint: fingerprint(path),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn ids(&self) -> HashSet<KeyId> {
        self.keys.iter().map(|k| KeyId::of(k)).collect()
    }
}

fn fingerprint(path: &Path) -> Option<(Option<SystemTime>, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok(), meta.len()))
}

/// What a passkey check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Known(KeyId),
    /// Refused, with the failure reason to send.
    Refused(&'static str),
    /// Well-formed but not cached: ask the Redis set.
    Ask(String),
}

/// How long a key found in the Redis set is believed without asking again.
pub const CACHE_TTL: u32 = 30;
/// Most keys cached.
pub const CACHE_KEYS: usize = 100_000;

/// Keys recently found in the Redis set, with when (seconds). Only members
/// are cached, so strangers cannot fill it; unknown keys ask every time
/// (the per-IP rate limit bounds that).
#[derive(Debug)]
pub struct KeyCache {
    cap: usize,
    checked: HashMap<String, u32>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(CACHE_KEYS)
    }
}

impl KeyCache {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            checked: HashMap::new(),
        }
    }

    /// Whether `key` was found at most [`CACHE_TTL`] seconds before `now`.
    pub fn fresh(&self, key: &str, now: u32) -> bool {
        self.checked
            .get(key)
            .is_some_and(|&at| now.saturating_sub(at) <= CACHE_TTL)
    }

    /// Whether `key` was ever found (used while Redis is unavailable).
    pub fn known(&self, key: &str) -> bool {
        self.checked.contains_key(key)
    }

    /// Notes `key` as a member at `now`; when full, stale entries go first,
    /// then the one checked longest ago.
    pub fn insert(&mut self, key: &str, now: u32) {
        if !self.checked.contains_key(key) && self.checked.len() >= self.cap {
            self.checked
                .retain(|_, at| now.saturating_sub(*at) <= CACHE_TTL);
            if self.checked.len() >= self.cap {
                let oldest = self
                    .checked
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.checked.remove(&oldest);
                }
            }
        }
        self.checked.insert(key.to_owned(), now);
    }

    pub fn remove(&mut self, key: &str) {
        self.checked.remove(key);
    }

    /// Forgets everything (SIGHUP: revocations take effect at once).
    pub fn clear(&mut self) {
        self.checked.clear();
    }

    pub fn len(&self) -> usize {
        self.checked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checked.is_empty()
    }
}

/// Most peers remembered per key: a seedbox announcing 10,000 torrents.
pub const PEERS_PER_KEY: usize = 10_000;
/// Most peers remembered in all (about 100 bytes each).
pub const PEERS_TOTAL: usize = 1_000_000;
/// Most keys with counters (a Redis set may hold any number).
pub const KEYS_TOTAL: usize = 100_000;

/// One accepted announce, as far as statistics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub info_hash: Id20,
    pub peer_id: Id20,
    /// Cumulative for the client's session (BEP 3).
    pub uploaded: u64,
    pub downloaded: u64,
    pub event: Event,
}

/// What `/stats.json` shows per key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounters {
    pub announces: u64,
    pub uploaded: u64,
    pub downloaded: u64,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    uploaded: u64,
    downloaded: u64,
    seen: u32,
}

#[derive(Debug, Default)]
struct KeyUsage {
    counters: KeyCounters,
    peers: HashMap<(Id20, Id20), Last>,
    /// When this key last announced.
    seen: u32,
}

impl KeyUsage {
    /// Forgets the peer seen longest ago (a full scan: only when full).
    fn evict_stalest(&mut self) -> bool {
        let stalest = self
            .peers
            .iter()
            .min_by_key(|(_, last)| last.seen)
            .map(|(peer, _)| *peer);
        stalest.is_some_and(|peer| self.peers.remove(&peer).is_some())
    }
}

/// Per-key counters and the last values each peer reported.
#[derive(Debug)]
pub struct Usage {
    per_key: usize,
    total: usize,
    max_keys: usize,
    keys: HashMap<KeyId, KeyUsage>,
    /// Peers remembered across all keys.
    peers: usize,
}

impl Default for Usage {
    fn default() -> Self {
        Self::new(PEERS_PER_KEY, PEERS_TOTAL, KEYS_TOTAL)
    }
}

impl Usage {
    /// A table remembering at most `per_key` peers per key and `total` in
    /// all, with counters for at most `max_keys` keys.
    pub fn new(per_key: usize, total: usize, max_keys: usize) -> Self {
        Self {
            per_key: per_key.max(1),
            total: total.max(1),
            max_keys: max_keys.max(1),
            keys: HashMap::new(),
            peers: 0,
        }
    }

    /// Counts one accepted announce by `id` at `now` (seconds). A
    /// `started` announce, or one whose values went down (the client
    /// restarted), begins a session: its values count in full. A peer not
    /// remembered (evicted, or the tracker restarted) counts nothing this
    /// time: what it reported may have been counted already.
    pub fn record(&mut self, id: KeyId, report: &Report, now: u32) {
        let peer = (report.info_hash, report.peer_id);
        let known = self
            .keys
            .get(&id)
            .is_some_and(|usage| usage.peers.contains_key(&peer));
        if !self.keys.contains_key(&id) && self.keys.len() >= self.max_keys {
            // The key quiet for longest gives up its counters.
            let quietest = self
                .keys
                .iter()
                .min_by_key(|(_, u)| u.seen)
                .map(|(k, _)| *k);
            self.retain(|k| Some(*k) != quietest);
        }
        if !known && report.event != Event::Stopped {
            self.make_room(id);
        }
        let usage = self.keys.entry(id).or_default();
        usage.seen = now;
        let previous = usage.peers.get(&peer).copied();
        let (up, down) = match previous {
            _ if report.event == Event::Started => (report.uploaded, report.downloaded),
            None => (0, 0),
            Some(last)
                if report.uploaded < last.uploaded || report.downloaded < last.downloaded =>
            {
                (report.uploaded, report.downloaded)
            }
            Some(last) => (
                report.uploaded - last.uploaded,
                report.downloaded - last.downloaded,
            ),
        };
        let counters = &mut usage.counters;
        counters.announces = counters.announces.saturating_add(1);
        counters.uploaded = counters.uploaded.saturating_add(up);
        counters.downloaded = counters.downloaded.saturating_add(down);
        if report.event == Event::Stopped {
            if usage.peers.remove(&peer).is_some() {
                self.peers -= 1;
            }
        } else {
            let last = Last {
                uploaded: report.uploaded,
                downloaded: report.downloaded,
                seen: now,
            };
            if usage.peers.insert(peer, last).is_none() {
                self.peers += 1;
            }
        }
    }

    /// Frees a place for a new peer of `id`: its own stalest peer when it
    /// holds its share, else, when the table is full, the stalest peer of
    /// the key holding the most.
    fn make_room(&mut self, id: KeyId) {
        let own = self.keys.get(&id).map_or(0, |u| u.peers.len());
        let victim = if own >= self.per_key {
            Some(id)
        } else if self.peers >= self.total {
            self.keys
                .iter()
                .max_by_key(|(_, u)| u.peers.len())
                .map(|(id, _)| *id)
        } else {
            None
        };
        if let Some(usage) = victim.and_then(|v| self.keys.get_mut(&v)) {
            if usage.evict_stalest() {
                self.peers -= 1;
            }
        }
    }

    /// Forgets peers last seen before `cutoff` (they have left the swarms).
    pub fn expire(&mut self, cutoff: u32) -> usize {
        let mut removed = 0;
        for usage in self.keys.values_mut() {
            let before = usage.peers.len();
            usage.peers.retain(|_, last| last.seen >= cutoff);
            removed += before - usage.peers.len();
        }
        self.peers -= removed;
        removed
    }

    /// Drops the counters and peers of keys `keep` refuses (revoked keys).
    pub fn retain(&mut self, mut keep: impl FnMut(&KeyId) -> bool) {
        let mut removed = 0;
        self.keys.retain(|id, usage| {
            let kept = keep(id);
            if !kept {
                removed += usage.peers.len();
            }
            kept
        });
        self.peers -= removed;
    }

    /// Counters per key, ordered by id.
    pub fn rows(&self) -> Vec<(KeyId, KeyCounters)> {
        let mut rows: Vec<_> = self.keys.iter().map(|(id, u)| (*id, u.counters)).collect();
        rows.sort_unstable_by_key(|(id, _)| *id);
        rows
    }

    /// Peers remembered, in all.
    pub fn peers(&self) -> usize {
        self.peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice-0123456789abcdef";
    const BOB: &str = "bob_0123456789ABCDEF";

    #[test]
    fn key_files_take_one_key_per_line_with_comments() {
        let text = format!("# members\n\n{ALICE}  # alice\n  {BOB}\n{ALICE}\n");
        let keys = parse(&text).unwrap();
        assert_eq!(keys, HashSet::from([ALICE.to_owned(), BOB.to_owned()]));
        assert_eq!(
            parse(&format!("{ALICE}\nshort\n")).unwrap_err(),
            (2, KeyProblem::Length(5))
        );
        assert_eq!(
            parse("0123456789abcdef/x\n").unwrap_err(),
            (1, KeyProblem::Character(17))
        );
        assert_eq!(
            parse(&"k".repeat(65)).unwrap_err(),
            (1, KeyProblem::Length(65))
        );
        assert!(parse(&"k".repeat(64)).is_ok());
    }

    #[test]
    fn errors_name_the_file_and_line_but_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let secret = "almost-a-key-but-with-a-dot.in-it";
        std::fs::write(&path, format!("{ALICE}\n{secret}\n")).unwrap();
        let err = KeySet::load(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
        assert!(!err.contains(secret) && !err.contains(ALICE), "{err}");
    }

    #[test]
    fn key_ids_are_the_first_8_bytes_of_sha256_in_hex() {
        // printf %s alice-0123456789abcdef | sha256sum | cut -c1-16
        let digest = <sha2::Sha256 as sha2::Digest>::digest(ALICE.as_bytes());
        let want: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(KeyId::of(ALICE).to_string(), want);
        assert_eq!(want.len(), 16);
        assert_ne!(KeyId::of(ALICE), KeyId::of(BOB));
    }

    #[test]
    fn paths_split_into_base_and_key() {
        assert_eq!(key_in_path("/announce", "/announce"), PathKey::Missing);
        assert_eq!(key_in_path("/announce/", "/announce"), PathKey::Missing);
        assert_eq!(
            key_in_path("/announce/abc", "/announce"),
            PathKey::Key("abc")
        );
        assert_eq!(
            key_in_path("/abc/announce", "/announce"),
            PathKey::Key("abc")
        );
        assert_eq!(key_in_path("//announce", "/announce"), PathKey::NotOurs);
        assert_eq!(key_in_path("/announcex", "/announce"), PathKey::NotOurs);
        assert_eq!(key_in_path("/", "/announce"), PathKey::NotOurs);
        assert_eq!(
            key_in_url_data(b"/announce/abc?x=1", "/announce"),
            PathKey::Key("abc")
        );
        assert_eq!(
            key_in_url_data(b"/abc/announce?x", "/announce"),
            PathKey::Key("abc")
        );
        assert_eq!(key_in_url_data(b"", "/announce"), PathKey::Missing);
        assert_eq!(
            key_in_url_data(b"/other/abc", "/announce"),
            PathKey::Missing
        );
        assert_eq!(
            key_in_url_data(b"/announce/\xff", "/announce"),
            PathKey::Missing
        );
    }

    fn report(peer: u8, uploaded: u64, downloaded: u64, event: Event) -> Report {
        Report {
            info_hash: [1; 20],
            peer_id: [peer; 20],
            uploaded,
            downloaded,
            event,
        }
    }

    #[test]
    fn usage_counts_increases_between_announces() {
        let mut usage = Usage::default();
        let id = KeyId::of(ALICE);
        usage.record(id, &report(1, 0, 0, Event::Started), 0);
        usage.record(id, &report(1, 100, 1000, Event::None), 10);
        usage.record(id, &report(1, 150, 1000, Event::Completed), 20);
        let want = KeyCounters {
            announces: 3,
            uploaded: 150,
            downloaded: 1000,
        };
        assert_eq!(usage.rows(), vec![(id, want)]);
        // The client restarted without `started`: its new values count in full.
        usage.record(id, &report(1, 30, 5, Event::None), 30);
        // Stopped counts its increase and forgets the peer.
        usage.record(id, &report(1, 40, 5, Event::Stopped), 40);
        let (_, counters) = usage.rows()[0];
        assert_eq!((counters.uploaded, counters.downloaded), (190, 1005));
        assert_eq!(usage.peers(), 0);
        // A peer first seen mid-session counts nothing until its next announce.
        usage.record(id, &report(2, 5000, 5000, Event::None), 50);
        usage.record(id, &report(2, 5001, 5000, Event::None), 60);
        assert_eq!(usage.rows()[0].1.uploaded, 191);
    }

    #[test]
    fn usage_is_bounded_per_key_and_in_total() {
        let mut usage = Usage::new(3, 5, 100);
        let (a, b) = (KeyId::of(ALICE), KeyId::of(BOB));
        for peer in 0..10 {
            usage.record(a, &report(peer, 0, 0, Event::Started), u32::from(peer));
        }
        assert_eq!(usage.peers(), 3, "alice holds her share");
        // Her oldest peers were evicted: peer 0 is unknown again, peer 9 is not.
        usage.record(a, &report(9, 10, 0, Event::None), 20);
        assert_eq!(usage.rows()[0].1.uploaded, 10);
        for peer in 0..10 {
            usage.record(b, &report(peer, 0, 0, Event::Started), 30);
        }
        assert_eq!(usage.peers(), 5, "total bound");
        let rows = usage.rows();
        assert!(rows.iter().all(|(_, c)| c.announces >= 10));
        // A newcomer always gets in: the largest key makes room.
        usage.record(a, &report(50, 0, 0, Event::Started), 40);
        assert_eq!(usage.peers(), 5);
        assert_eq!(usage.expire(35), 4);
        assert_eq!(usage.peers(), 1);
        usage.retain(|id| *id != a);
        assert_eq!(usage.peers(), 0);
        assert_eq!(usage.rows().len(), 1);
    }

    #[test]
    fn usage_keeps_counters_for_a_bounded_number_of_keys() {
        let mut usage = Usage::new(10, 10, 2);
        let ids = [ALICE, BOB, "carol-0123456789abcdef"].map(KeyId::of);
        usage.record(ids[0], &report(1, 0, 0, Event::Started), 0);
        usage.record(ids[1], &report(1, 0, 0, Event::Started), 5);
        usage.record(ids[0], &report(1, 0, 0, Event::None), 10);
        usage.record(ids[2], &report(1, 0, 0, Event::Started), 20);
        let kept: HashSet<_> = usage.rows().into_iter().map(|(id, _)| id).collect();
        assert_eq!(
            kept,
            HashSet::from([ids[0], ids[2]]),
            "Bob was quiet longest"
        );
        assert_eq!(usage.peers(), 2);
    }

    #[test]
    fn cache_believes_members_for_a_while_and_stays_bounded() {
        let mut cache = KeyCache::new(2);
        cache.insert(ALICE, 100);
        assert!(cache.fresh(ALICE, 100 + CACHE_TTL));
        assert!(!cache.fresh(ALICE, 101 + CACHE_TTL));
        assert!(cache.known(ALICE), "kept for when Redis is down");
        cache.insert(BOB, 110);
        cache.insert("carol-0123456789abcdef", 120);
        assert_eq!(cache.len(), 2);
        assert!(!cache.known(ALICE), "the oldest made room");
        cache.clear();
        assert!(cache.is_empty());
    }
}
