//! Swarm state: which peers announced which torrent, who seeds, how many
//! completed. Pure: time (`now`, seconds on the tracker's clock) and
//! randomness are parameters, nothing here touches a socket or a file.
//!
//! Peers are keyed by (source IP, port) and stored in their compact wire
//! form (BEP 23 for IPv4, BEP 7 for IPv6) so replies are plain copies: an
//! IPv4 peer is an 8-byte record (address + last-seen offset), no index,
//! no peer id. Each family keeps seeders then leechers in one array, each
//! run sorted by address (binary search; ports of an IP side by side), so
//! seeders are handed leechers first without scanning. Joining or leaving
//! shifts the array: O(n) bytes moved, cheap below some 10,000 peers. The
//! store is sharded by info hash, each shard behind its own mutex that is
//! never held across an `.await`.
//!
//! Every source has a share and the whole a bound ([`Limits`]): one IP
//! address holds at most `max_ports_per_ip` ports in a swarm and
//! `max_peers_per_ip` peers in all (more from it are refused: it is over its
//! share, not a newcomer); a full swarm, or a full tracker, makes room for a
//! newcomer by evicting one of 8 randomly sampled peers of the swarm, the
//! one whose address holds the most ports there (the stalest on a tie).
//! Per-address counts: per swarm from the sorted run, in all in a separate
//! set of shards, locked after a swarm shard (never the other way round).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A 20-byte info hash or peer id.
pub type Id20 = [u8; 20];

/// The `event` of an announce (BEP 3; BEP 15 numbers 0–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular announce (also `paused` and unknown values).
    None,
    Started,
    Completed,
    Stopped,
}

/// Where a peer can be reached, in compact wire form, big-endian:
/// 4-byte IPv4 + port (BEP 23) or 16-byte IPv6 + port (BEP 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    V4([u8; 6]),
    V6([u8; 18]),
}

impl Endpoint {
    /// The endpoint of `ip:port`, with v4-mapped IPv6 addresses turned
    /// into plain IPv4 so a dual-stack socket does not split a peer in two.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        match normalize_ip(ip) {
            IpAddr::V4(v4) => {
                let mut out = [0; 6];
                out[..4].copy_from_slice(&v4.octets());
                out[4..].copy_from_slice(&port.to_be_bytes());
                Self::V4(out)
            }
            IpAddr::V6(v6) => {
                let mut out = [0; 18];
                out[..16].copy_from_slice(&v6.octets());
                out[16..].copy_from_slice(&port.to_be_bytes());
                Self::V6(out)
            }
        }
    }

    pub fn ip(&self) -> IpAddr {
        match self {
            Self::V4(b) => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            Self::V6(b) => {
                let mut octets = [0; 16];
                octets.copy_from_slice(&b[..16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Self::V4(b) => u16::from_be_bytes([b[4], b[5]]),
            Self::V6(b) => u16::from_be_bytes([b[16], b[17]]),
        }
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip(), self.port())
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4; anything else is kept.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// What the swarm needs from an announce, already validated by a codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    pub info_hash: Id20,
    pub peer_id: Id20,
    /// Source address of the request and the announced port.
    pub endpoint: Endpoint,
    pub event: Event,
    /// Bytes left to download; 0 means a seeder.
    pub left: u64,
    /// Peers wanted, already capped by the codec.
    pub numwant: usize,
}

/// Counts for one torrent, as announce and scrape report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub seeders: u32,
    pub leechers: u32,
    /// Peers that announced `completed` with nothing left.
    pub completed: u32,
}

/// Why an announce was refused; the text is sent as the failure reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("tracker is full: it tracks the maximum number of torrents")]
    TooManyTorrents,
    #[error("swarm is full: this torrent has the maximum number of peers")]
    SwarmFull,
    #[error("too many ports of your address in this swarm")]
    PortsPerIp,
    #[error("too many peers from your address")]
    PeersPerIp,
    #[error("tracker is full: it stores the maximum number of peers")]
    TrackerFull,
}

/// A peer handed out by an announce: its compact address (6 or 18 bytes).
#[derive(Debug, Clone, Copy)]
pub struct PeerRef<'a> {
    pub addr: &'a [u8],
}

/// Randomness for peer selection and interval jitter.
pub trait Rng {
    fn next_u64(&mut self) -> u64;

    /// A value in `0..n` (0 when `n` is 0); the slight modulo bias is harmless here.
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
        }
    }
}

/// A small fast generator (xorshift64*); not for secrets.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
}

impl Rng for XorShift {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One stored peer: its compact address, then when it was last seen, in
/// seconds after its swarm's `base` (u16, little-endian). No peer id: BEP 23
/// replies carry none and BEP 3 clients accept dictionary peers without.
/// Alignment 1, so an IPv4 peer is 8 bytes and an IPv6 peer 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec<const N: usize> {
    addr: [u8; N],
    seen: [u8; 2],
}

impl<const N: usize> Rec<N> {
    const EMPTY: Self = Self {
        addr: [0; N],
        seen: [0; 2],
    };

    fn offset(&self) -> u16 {
        u16::from_le_bytes(self.seen)
    }

    /// The address bytes without the port.
    fn ip(&self) -> &[u8] {
        &self.addr[..N - 2]
    }
}

/// Peers of one address family in one allocation: seeders, then leechers,
/// each run sorted by compact address (big-endian IP, then port), so a peer
/// is found by binary search and the ports of one IP sit side by side (the
/// per-swarm port count needs no table). Slots from `len` on are spare
/// capacity, kept within about 1/8 of `len`.
#[derive(Debug)]
struct PeerList<const N: usize> {
    recs: Box<[Rec<N>]>,
    len: u32,
    seeders: u32,
}

/// An IP address as a map key: 4 or 16 address bytes, zero-padded.
pub type IpKey = [u8; 16];

fn ip_key(addr: &[u8]) -> IpKey {
    let mut key = [0; 16];
    let ip_len = addr.len().saturating_sub(2).min(16);
    key[..ip_len].copy_from_slice(&addr[..ip_len]);
    if ip_len == 4 {
        // Keep IPv4 keys apart from the IPv6 address 0a00:0001::.
        key[15] = 4;
    }
    key
}

/// Peers per address in all swarms (one shard). IPv4 addresses have a
/// map of their own with 4-byte keys: an entry is 8 bytes, not 20, and
/// most peers have an address of their own.
#[derive(Debug, Default)]
struct IpCounts {
    v4: HashMap<[u8; 4], u32>,
    v6: HashMap<IpKey, u32>,
}

/// The IPv4 address of a key made by [`ip_key`], if it is one.
fn v4_of(key: &IpKey) -> Option<[u8; 4]> {
    let mut v4 = [0; 4];
    v4.copy_from_slice(&key[..4]);
    (key[4..15].iter().all(|b| *b == 0) && key[15] == 4).then_some(v4)
}

impl IpCounts {
    fn get(&self, key: &IpKey) -> u32 {
        let held = match v4_of(key) {
            Some(v4) => self.v4.get(&v4),
            None => self.v6.get(key),
        };
        held.copied().unwrap_or(0)
    }

    fn add(&mut self, key: IpKey) {
        match v4_of(&key) {
            Some(v4) => *self.v4.entry(v4).or_default() += 1,
            None => *self.v6.entry(key).or_default() += 1,
        }
    }

    fn sub(&mut self, key: IpKey) {
        fn sub_in<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: K) {
            if let Entry::Occupied(mut count) = map.entry(key) {
                *count.get_mut() = count.get().saturating_sub(1);
                if *count.get() == 0 {
                    count.remove();
                }
            }
        }
        match v4_of(&key) {
            Some(v4) => sub_in(&mut self.v4, v4),
            None => sub_in(&mut self.v6, key),
        }
    }

    /// Every count, with its key as [`ip_key`] makes it.
    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (IpKey, u32)> + '_ {
        let v4 = self
            .v4
            .iter()
            .map(|(ip, n)| (ip_key(&[ip[0], ip[1], ip[2], ip[3], 0, 0]), *n));
        v4.chain(self.v6.iter().map(|(k, n)| (*k, *n)))
    }
}

impl<const N: usize> Default for PeerList<N> {
    fn default() -> Self {
        Self {
            recs: Box::default(),
            len: 0,
            seeders: 0,
        }
    }
}

impl<const N: usize> PeerList<N> {
    fn len(&self) -> usize {
        self.len as usize
    }

    fn seeder_count(&self) -> usize {
        self.seeders as usize
    }

    fn all(&self) -> &[Rec<N>] {
        &self.recs[..self.len()]
    }

    fn seeders(&self) -> &[Rec<N>] {
        &self.recs[..self.seeder_count()]
    }

    fn leechers(&self) -> &[Rec<N>] {
        &self.recs[self.seeder_count()..self.len()]
    }

    /// The run of seeders or leechers: its first slot and its records.
    fn run(&self, seeder: bool) -> (usize, &[Rec<N>]) {
        if seeder {
            (0, self.seeders())
        } else {
            (self.seeder_count(), self.leechers())
        }
    }

    /// Where `addr` is stored.
    fn find(&self, addr: &[u8; N]) -> Option<usize> {
        [true, false].into_iter().find_map(|seeder| {
            let (first, run) = self.run(seeder);
            run.binary_search_by(|r| r.addr.cmp(addr))
                .ok()
                .map(|i| first + i)
        })
    }

    /// Ports of the address of `addr` in this list.
    fn ports_of(&self, addr: &[u8; N]) -> usize {
        let ip = &addr[..N - 2];
        [self.seeders(), self.leechers()]
            .iter()
            .map(|run| {
                let from = run.partition_point(|r| r.ip() < ip);
                let to = run.partition_point(|r| r.ip() <= ip);
                to - from
            })
            .sum()
    }

    /// Stores a peer that is not stored yet, in its run's order.
    fn insert(&mut self, rec: Rec<N>, seeder: bool) {
        let (first, run) = self.run(seeder);
        let at = first + run.partition_point(|r| r.addr < rec.addr);
        let len = self.len();
        if len == self.recs.len() {
            // Grow by 1/8 (at least one): tight, and still amortised.
            self.resize(len + 1 + len / 8);
        }
        self.recs.copy_within(at..len, at + 1);
        self.recs[at] = rec;
        self.len += 1;
        if seeder {
            self.seeders += 1;
        }
    }

    /// Removes the record in slot `at` (< len) and returns it; capacity is
    /// left to [`Self::trim`].
    fn remove_at(&mut self, at: usize) -> Rec<N> {
        let rec = self.recs[at];
        self.recs.copy_within(at + 1..self.len(), at);
        self.len -= 1;
        if at < self.seeder_count() {
            self.seeders -= 1;
        }
        rec
    }

    /// Moves the records into an allocation of exactly `cap` (≥ len) slots.
    fn resize(&mut self, cap: usize) {
        let mut recs = Vec::with_capacity(cap);
        recs.extend_from_slice(self.all());
        recs.resize(cap, Rec::EMPTY);
        self.recs = recs.into_boxed_slice();
    }

    /// Gives back capacity once less than half of it is used.
    fn trim(&mut self) {
        let len = self.len();
        if len * 2 < self.recs.len() {
            self.resize(len + len / 8);
        }
    }

    /// Evicts one of [`EVICTION_SAMPLE`] randomly sampled peers: the one
    /// whose address holds the most ports here, the stalest on a tie.
    /// Returns its address key.
    fn evict_one(&mut self, rng: &mut dyn Rng) -> Option<IpKey> {
        let total = self.len();
        let mut victim: Option<(usize, (usize, std::cmp::Reverse<u16>))> = None;
        for _ in 0..EVICTION_SAMPLE.min(total) {
            let at = rng.below(total);
            let rec = &self.recs[at];
            let rank = (self.ports_of(&rec.addr), std::cmp::Reverse(rec.offset()));
            if victim.as_ref().is_none_or(|(_, best)| rank > *best) {
                victim = Some((at, rank));
            }
        }
        let (at, _) = victim?;
        Some(ip_key(&self.remove_at(at).addr))
    }

    /// Drops peers seen less than `delta` seconds after the swarm's base
    /// and makes the others relative to a base `delta` later, telling
    /// `gone` each dropped address; returns how many. Order is kept.
    fn expire(&mut self, delta: u32, gone: &mut dyn FnMut(IpKey)) -> usize {
        let (len, seeders) = (self.len(), self.seeder_count());
        let (mut kept, mut kept_seeders) = (0, 0);
        for at in 0..len {
            let rec = self.recs[at];
            let offset = u32::from(rec.offset());
            if offset < delta {
                gone(ip_key(&rec.addr));
                continue;
            }
            // offset ≥ delta, so the difference fits.
            let seen = u16::try_from(offset - delta).unwrap_or(u16::MAX);
            self.recs[kept] = Rec {
                addr: rec.addr,
                seen: seen.to_le_bytes(),
            };
            kept += 1;
            if at < seeders {
                kept_seeders += 1;
            }
        }
        self.len = u32::try_from(kept).unwrap_or(u32::MAX);
        self.seeders = kept_seeders;
        self.trim();
        len - kept
    }

    /// Rewrites every offset with `f`.
    fn map_offsets(&mut self, mut f: impl FnMut(u16) -> u16) {
        let len = self.len();
        for rec in &mut self.recs[..len] {
            rec.seen = f(rec.offset()).to_le_bytes();
        }
    }

    fn oldest(&self) -> Option<u16> {
        self.all().iter().map(Rec::offset).min()
    }

    /// Hands out up to `want` peers other than `requester`, from a random
    /// window: leechers first for a seeder (seeders only fill up), one
    /// window over seeders and leechers together for a leecher.
    fn select<'o>(
        &'o self,
        requester: &[u8; N],
        requester_seeds: bool,
        want: usize,
        rng: &mut dyn Rng,
        out: &mut dyn FnMut(PeerRef<'o>),
    ) -> usize {
        let mut given = 0;
        let mut pass = Pass {
            requester,
            want,
            given: &mut given,
            rng,
            out,
        };
        if requester_seeds {
            pass.window(self.leechers());
            pass.window(self.seeders());
        } else {
            pass.window(self.all());
        }
        given
    }
}

/// One selection: hands out peers until `want` are given.
struct Pass<'a, 'o, const N: usize> {
    requester: &'a [u8; N],
    want: usize,
    given: &'a mut usize,
    rng: &'a mut dyn Rng,
    out: &'a mut dyn FnMut(PeerRef<'o>),
}

impl<'o, const N: usize> Pass<'_, 'o, N> {
    /// Walks `recs` from a random start, wrapping around.
    fn window(&mut self, recs: &'o [Rec<N>]) {
        let start = self.rng.below(recs.len());
        let (tail, head) = recs.split_at(start);
        for rec in head.iter().chain(tail) {
            if *self.given >= self.want {
                return;
            }
            if &rec.addr != self.requester {
                (self.out)(PeerRef { addr: &rec.addr });
                *self.given += 1;
            }
        }
    }
}

/// One torrent: IPv4 peers, IPv6 peers (boxed: most swarms have none), the
/// time their offsets count from, and the completed count, which outlives
/// the peers.
#[derive(Debug, Default)]
struct Swarm {
    v4: PeerList<6>,
    v6: Option<Box<PeerList<18>>>,
    /// Seconds on the tracker's clock; each peer's time is an offset.
    base: u32,
    completed: u32,
}

impl Swarm {
    fn counts(&self) -> Counts {
        let (mut seeders, mut leechers) = (self.v4.seeder_count(), self.v4.leechers().len());
        if let Some(v6) = &self.v6 {
            seeders += v6.seeder_count();
            leechers += v6.leechers().len();
        }
        Counts {
            seeders: u32::try_from(seeders).unwrap_or(u32::MAX),
            leechers: u32::try_from(leechers).unwrap_or(u32::MAX),
            completed: self.completed,
        }
    }

    fn peer_count(&self) -> usize {
        self.v4.len() + self.v6.as_ref().map_or(0, |v6| v6.len())
    }

    /// Calls `f` with the address of every peer.
    fn for_each_peer_ip(&self, f: &mut dyn FnMut(IpKey)) {
        for rec in self.v4.all() {
            f(ip_key(&rec.addr));
        }
        if let Some(v6) = &self.v6 {
            for rec in v6.all() {
                f(ip_key(&rec.addr));
            }
        }
    }

    /// The offset of `now` from the base, moving the base first when `now`
    /// is out of its range (earlier, or more than 18 h later).
    fn stamp(&mut self, now: u32) -> [u8; 2] {
        let offset = match now.checked_sub(self.base).map(u16::try_from) {
            Some(Ok(offset)) => offset,
            _ => {
                self.rebase(now);
                u16::try_from(now.saturating_sub(self.base)).unwrap_or(u16::MAX)
            }
        };
        offset.to_le_bytes()
    }

    /// Moves the base to the oldest peer's time, or to `now` less 18 h when
    /// that is older: only a peer timeout above 18 h keeps such peers, and
    /// they then count as seen 18 h ago.
    fn rebase(&mut self, now: u32) {
        let oldest = [
            self.v4.oldest(),
            self.v6.as_ref().and_then(|v6| v6.oldest()),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|offset| self.base.saturating_add(u32::from(offset)));
        let base = oldest
            .unwrap_or(now)
            .min(now)
            .max(now.saturating_sub(u32::from(u16::MAX)));
        let old = self.base;
        let shift = |offset: u16| {
            let seen = old.saturating_add(u32::from(offset));
            u16::try_from(seen.saturating_sub(base)).unwrap_or(u16::MAX)
        };
        self.v4.map_offsets(shift);
        if let Some(v6) = &mut self.v6 {
            v6.map_offsets(shift);
        }
        self.base = base;
    }

    /// Drops peers last seen before `cutoff`; the survivors were all seen
    /// at or after it, so it becomes the base.
    fn expire(&mut self, cutoff: u32, gone: &mut dyn FnMut(IpKey)) -> usize {
        let Some(delta) = cutoff.checked_sub(self.base).filter(|d| *d > 0) else {
            return 0;
        };
        let mut removed = self.v4.expire(delta, gone);
        if let Some(v6) = &mut self.v6 {
            removed += v6.expire(delta, gone);
            if v6.len() == 0 {
                self.v6 = None;
            }
        }
        self.base = cutoff;
        removed
    }
}

/// Peers sampled when one must make room (see [`PeerList::evict_one`]).
const EVICTION_SAMPLE: usize = 8;

/// Limits on what requests can make the store grow to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Torrents tracked; new ones are refused beyond it.
    pub max_torrents: usize,
    /// Peers in one swarm; a newcomer evicts one beyond it.
    pub max_peers_per_swarm: usize,
    /// Peers in all swarms (about 20 bytes each, plus roughly 20 per distinct
    /// address for its count in all swarms); a newcomer evicts one
    /// of its swarm beyond it (a newcomer to an empty swarm is refused).
    pub max_peers: usize,
    /// Ports one IP address holds in one swarm (clients behind one NAT).
    pub max_ports_per_ip: usize,
    /// Peers one IP address holds in all swarms (a seedbox's torrents).
    pub max_peers_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_torrents: 1_000_000,
            max_peers_per_swarm: 100_000,
            max_peers: 5_000_000,
            max_ports_per_ip: 8,
            max_peers_per_ip: 10_000,
        }
    }
}

/// What each limit refused or evicted since start (only ever growing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LimitCounts {
    pub refused_torrents: u64,
    pub refused_ports_per_ip: u64,
    pub refused_peers_per_ip: u64,
    pub refused_tracker_full: u64,
    pub evicted_swarm_full: u64,
    pub evicted_tracker_full: u64,
}

#[derive(Debug, Default)]
struct AtomicLimitCounts {
    refused_torrents: std::sync::atomic::AtomicU64,
    refused_ports_per_ip: std::sync::atomic::AtomicU64,
    refused_peers_per_ip: std::sync::atomic::AtomicU64,
    refused_tracker_full: std::sync::atomic::AtomicU64,
    evicted_swarm_full: std::sync::atomic::AtomicU64,
    evicted_tracker_full: std::sync::atomic::AtomicU64,
}

fn bump(counter: &std::sync::atomic::AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One stored peer, for state files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub endpoint: Endpoint,
    pub seeder: bool,
}

/// One torrent as saved to or loaded from a state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentRecord {
    pub info_hash: Id20,
    pub completed: u32,
    pub peers: Vec<PeerRecord>,
}

/// Totals over every torrent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub torrents: usize,
    pub seeders: u64,
    pub leechers: u64,
    pub completed: u64,
    /// What each limit refused or evicted since start.
    pub limits: LimitCounts,
}

const SHARDS: usize = 64;
/// Shards sampled for the largest swarm when a full tracker makes room.
const EVICTION_SHARDS: usize = 4;

/// Every swarm, sharded by info hash.
#[derive(Debug)]
pub struct Swarms {
    shards: Box<[Mutex<HashMap<Id20, Swarm>>]>,
    /// Entries over all shards, so the torrent limit is global.
    torrents: AtomicUsize,
    /// Peers over all shards, for `max_peers`.
    peers: AtomicUsize,
    /// Peers per IP address over all swarms, sharded by address.
    per_ip: Box<[Mutex<IpCounts>]>,
    limits: Limits,
    counts: AtomicLimitCounts,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the tracker down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared announce logic for one family's peer list; `seen` is the
/// swarm's stamp for now. A `completed` counts when its peer was not
/// seeding here already (a leecher, or a newcomer), as with Redis.
#[allow(clippy::too_many_arguments)]
fn announce_in<const N: usize>(
    list: &mut PeerList<N>,
    swarms: &Swarms,
    completed: &mut u32,
    addr: [u8; N],
    seen: [u8; 2],
    req: &Announce,
    rng: &mut dyn Rng,
    out: &mut dyn FnMut(PeerRef<'_>),
) -> Result<(), Refused> {
    let seeder = req.left == 0;
    let found = list.find(&addr);
    if req.event == Event::Stopped {
        if let Some(at) = found {
            list.remove_at(at);
            list.trim();
            swarms.forget(ip_key(&addr));
        }
        return Ok(());
    }
    let was_seeder = match found {
        Some(at) => {
            let was_seeder = at < list.seeder_count();
            if was_seeder == seeder {
                list.recs[at].seen = seen;
            } else {
                list.remove_at(at);
                list.insert(Rec { addr, seen }, seeder);
            }
            was_seeder
        }
        None => {
            swarms.admit(list, &addr, rng)?;
            list.insert(Rec { addr, seen }, seeder);
            false
        }
    };
    if req.event == Event::Completed && seeder && !was_seeder {
        *completed = completed.saturating_add(1);
    }
    if req.numwant > 0 {
        list.select(&addr, seeder, req.numwant, rng, out);
    }
    Ok(())
}

impl Swarms {
    pub fn new(limits: Limits) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            torrents: AtomicUsize::new(0),
            peers: AtomicUsize::new(0),
            per_ip: (0..SHARDS).map(|_| Mutex::default()).collect(),
            limits,
            counts: AtomicLimitCounts::default(),
        }
    }

    fn ip_shard(&self, key: &IpKey) -> &Mutex<IpCounts> {
        let spread = key
            .iter()
            .fold(0usize, |h, b| h.wrapping_mul(31) ^ usize::from(*b));
        &self.per_ip[spread % SHARDS]
    }

    /// Peers stored in all swarms.
    pub fn peer_count(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }

    /// What each limit refused or evicted since start.
    pub fn limit_counts(&self) -> LimitCounts {
        let c = &self.counts;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        LimitCounts {
            refused_torrents: get(&c.refused_torrents),
            refused_ports_per_ip: get(&c.refused_ports_per_ip),
            refused_peers_per_ip: get(&c.refused_peers_per_ip),
            refused_tracker_full: get(&c.refused_tracker_full),
            evicted_swarm_full: get(&c.evicted_swarm_full),
            evicted_tracker_full: get(&c.evicted_tracker_full),
        }
    }

    /// Records a new peer of address `key` (the swarm shard is locked).
    fn remember(&self, key: IpKey) {
        lock(self.ip_shard(&key)).add(key);
        self.peers.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that a peer of address `key` is gone.
    fn forget(&self, key: IpKey) {
        let mut shard = lock(self.ip_shard(&key));
        shard.sub(key);
        drop(shard);
        self.peers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Lets a new peer `addr` into `list` (remembered by the caller's
    /// insert): refuses an address over its share, and makes room in a full
    /// swarm or a full tracker by evicting one peer of this list.
    fn admit<const N: usize>(
        &self,
        list: &mut PeerList<N>,
        addr: &[u8; N],
        rng: &mut dyn Rng,
    ) -> Result<(), Refused> {
        let key = ip_key(addr);
        if list.ports_of(addr) >= self.limits.max_ports_per_ip {
            bump(&self.counts.refused_ports_per_ip);
            return Err(Refused::PortsPerIp);
        }
        let held = lock(self.ip_shard(&key)).get(&key);
        if held as usize >= self.limits.max_peers_per_ip {
            bump(&self.counts.refused_peers_per_ip);
            return Err(Refused::PeersPerIp);
        }
        let (full, counter) = if list.len() >= self.limits.max_peers_per_swarm {
            (true, &self.counts.evicted_swarm_full)
        } else if self.peer_count() >= self.limits.max_peers {
            (true, &self.counts.evicted_tracker_full)
        } else {
            (false, &self.counts.evicted_swarm_full)
        };
        if full {
            match list.evict_one(rng) {
                Some(gone) => {
                    self.forget(gone);
                    bump(counter);
                }
                // Counted by `announce`, which first makes room elsewhere.
                None => return Err(Refused::TrackerFull),
            }
        }
        self.remember(key);
        Ok(())
    }

    fn shard(&self, info_hash: &Id20) -> &Mutex<HashMap<Id20, Swarm>> {
        // Info hashes are SHA digests, so their bytes are already uniform.
        &self.shards[usize::from(info_hash[19]) % SHARDS]
    }

    /// Records an announce and hands up to `numwant` other peers of the
    /// requester's address family to `out`. Returns the counts after it.
    /// A newcomer to a swarm with nobody to evict, when the whole tracker
    /// is full, takes the place of a peer of the largest swarm among a few
    /// sampled shards: a big swarm loses least by one peer.
    pub fn announce(
        &self,
        req: &Announce,
        now: u32,
        rng: &mut dyn Rng,
        out: &mut dyn FnMut(PeerRef<'_>),
    ) -> Result<Counts, Refused> {
        match self.announce_once(req, now, rng, out) {
            Err(Refused::TrackerFull) if self.evict_from_largest(rng) => {
                let again = self.announce_once(req, now, rng, out);
                if again == Err(Refused::TrackerFull) {
                    bump(&self.counts.refused_tracker_full);
                }
                again
            }
            Err(Refused::TrackerFull) => {
                bump(&self.counts.refused_tracker_full);
                Err(Refused::TrackerFull)
            }
            other => other,
        }
    }

    /// Evicts one peer of the largest swarm in [`EVICTION_SHARDS`] random
    /// shards; false when they hold no peer. Locks one shard at a time, so
    /// the caller must hold none.
    fn evict_from_largest(&self, rng: &mut dyn Rng) -> bool {
        let mut best: Option<(usize, Id20, usize)> = None;
        for _ in 0..EVICTION_SHARDS {
            let at = rng.below(SHARDS);
            let shard = lock(&self.shards[at]);
            for (hash, swarm) in shard.iter() {
                let size = swarm.peer_count();
                if best.is_none_or(|(_, _, most)| size > most) {
                    best = Some((at, *hash, size));
                }
            }
        }
        let Some((at, hash, size)) = best.filter(|b| b.2 > 0) else {
            return false;
        };
        let mut shard = lock(&self.shards[at]);
        let Some(swarm) = shard.get_mut(&hash) else {
            return false;
        };
        let gone = match &mut swarm.v6 {
            Some(v6) if v6.len() * 2 > size => v6.evict_one(rng),
            _ => swarm.v4.evict_one(rng),
        };
        let Some(gone) = gone else {
            return false;
        };
        drop(shard);
        self.forget(gone);
        bump(&self.counts.evicted_tracker_full);
        true
    }

    fn announce_once(
        &self,
        req: &Announce,
        now: u32,
        rng: &mut dyn Rng,
        out: &mut dyn FnMut(PeerRef<'_>),
    ) -> Result<Counts, Refused> {
        let mut shard = lock(self.shard(&req.info_hash));
        let swarm = match shard.entry(req.info_hash) {
            Entry::Occupied(entry) => entry.into_mut(),
            // `stopped` never creates anything.
            Entry::Vacant(_) if req.event == Event::Stopped => return Ok(Counts::default()),
            Entry::Vacant(entry) => {
                if self.torrents.load(Ordering::Relaxed) >= self.limits.max_torrents {
                    bump(&self.counts.refused_torrents);
                    return Err(Refused::TooManyTorrents);
                }
                self.torrents.fetch_add(1, Ordering::Relaxed);
                entry.insert(Swarm::default())
            }
        };
        let seen = swarm.stamp(now);
        match req.endpoint {
            Endpoint::V4(addr) => announce_in(
                &mut swarm.v4,
                self,
                &mut swarm.completed,
                addr,
                seen,
                req,
                rng,
                out,
            )?,
            Endpoint::V6(addr) => {
                let v6 = swarm.v6.get_or_insert_with(Box::default);
                let done = announce_in(v6, self, &mut swarm.completed, addr, seen, req, rng, out);
                // A stop or a refusal can leave it empty: most swarms have none.
                if v6.len() == 0 {
                    swarm.v6 = None;
                }
                done?;
            }
        }
        Ok(swarm.counts())
    }

    /// Counts for one torrent; an unknown torrent has all zeros.
    pub fn scrape(&self, info_hash: &Id20) -> Counts {
        lock(self.shard(info_hash))
            .get(info_hash)
            .map(Swarm::counts)
            .unwrap_or_default()
    }

    /// Drops peers last seen before `cutoff`, then empty swarms; a swarm
    /// with a completed count stays as a small entry so the count survives.
    /// Returns the number of peers removed.
    pub fn expire(&self, cutoff: u32) -> usize {
        let mut removed = 0;
        for shard in &*self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, swarm| {
                removed += swarm.expire(cutoff, &mut |key| self.forget(key));
                swarm.peer_count() > 0 || swarm.completed > 0
            });
            self.torrents
                .fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
        removed
    }

    /// Drops every swarm whose info hash `keep` rejects (after an access
    /// list changed). Returns how many were dropped.
    pub fn retain(&self, mut keep: impl FnMut(&Id20) -> bool) -> usize {
        let mut dropped = 0;
        for shard in &*self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|hash, swarm| {
                let kept = keep(hash);
                if !kept {
                    swarm.for_each_peer_ip(&mut |key| self.forget(key));
                }
                kept
            });
            dropped += before - shard.len();
        }
        self.torrents.fetch_sub(dropped, Ordering::Relaxed);
        dropped
    }

    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            limits: self.limit_counts(),
            ..Totals::default()
        };
        for shard in &*self.shards {
            for swarm in lock(shard).values() {
                let counts = swarm.counts();
                totals.torrents += 1;
                totals.seeders += u64::from(counts.seeders);
                totals.leechers += u64::from(counts.leechers);
                totals.completed += u64::from(counts.completed);
            }
        }
        totals
    }

    /// Counts of every torrent, sorted by info hash (status page, full scrape).
    pub fn all_counts(&self) -> Vec<(Id20, Counts)> {
        let mut all = Vec::new();
        for shard in &*self.shards {
            all.extend(
                lock(shard)
                    .iter()
                    .map(|(hash, swarm)| (*hash, swarm.counts())),
            );
        }
        all.sort_unstable_by_key(|entry| entry.0);
        all
    }

    /// Everything worth keeping across a restart.
    pub fn export(&self) -> Vec<TorrentRecord> {
        fn records<const N: usize>(
            list: &PeerList<N>,
            endpoint: fn(&[u8; N]) -> Endpoint,
            out: &mut Vec<PeerRecord>,
        ) {
            for (seeder, run) in [(false, list.leechers()), (true, list.seeders())] {
                out.extend(run.iter().map(|rec| PeerRecord {
                    endpoint: endpoint(&rec.addr),
                    seeder,
                }));
            }
        }
        let mut all = Vec::new();
        for shard in &*self.shards {
            for (hash, swarm) in lock(shard).iter() {
                let mut peers = Vec::with_capacity(swarm.peer_count());
                records(&swarm.v4, |a| Endpoint::V4(*a), &mut peers);
                if let Some(v6) = &swarm.v6 {
                    records(v6, |a| Endpoint::V6(*a), &mut peers);
                }
                all.push(TorrentRecord {
                    info_hash: *hash,
                    completed: swarm.completed,
                    peers,
                });
            }
        }
        all.sort_unstable_by_key(|record| record.info_hash);
        all
    }

    /// Loads saved torrents; their peers count as seen at `now`, so they get
    /// a full timeout to re-announce. Limits apply as for announces.
    pub fn import(&self, records: Vec<TorrentRecord>, now: u32) {
        /// Stores `addr` unless it is there already or over its share.
        fn add<const N: usize>(
            swarms: &Swarms,
            list: &mut PeerList<N>,
            addr: [u8; N],
            seen: [u8; 2],
            seeder: bool,
        ) {
            let key = ip_key(&addr);
            let held = lock(swarms.ip_shard(&key)).get(&key);
            if held as usize >= swarms.limits.max_peers_per_ip
                || list.find(&addr).is_some()
                || list.ports_of(&addr) >= swarms.limits.max_ports_per_ip
            {
                return;
            }
            swarms.remember(key);
            list.insert(Rec { addr, seen }, seeder);
        }
        for record in records {
            let mut shard = lock(self.shard(&record.info_hash));
            let swarm = match shard.entry(record.info_hash) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    if self.torrents.load(Ordering::Relaxed) >= self.limits.max_torrents {
                        continue;
                    }
                    self.torrents.fetch_add(1, Ordering::Relaxed);
                    entry.insert(Swarm::default())
                }
            };
            swarm.completed = swarm.completed.max(record.completed);
            let seen = swarm.stamp(now);
            for peer in record.peers {
                if swarm.peer_count() >= self.limits.max_peers_per_swarm
                    || self.peer_count() >= self.limits.max_peers
                {
                    break;
                }
                match peer.endpoint {
                    Endpoint::V4(addr) => add(self, &mut swarm.v4, addr, seen, peer.seeder),
                    Endpoint::V6(addr) => {
                        let v6 = swarm.v6.get_or_insert_with(Box::default);
                        add(self, v6, addr, seen, peer.seeder);
                    }
                }
            }
            if swarm.v6.as_ref().is_some_and(|v6| v6.len() == 0) {
                swarm.v6 = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
