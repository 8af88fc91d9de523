//! Peers announced to us (BEP 5 announce_peer), for any info hash, not only
//! those near our id: a bootstrap node must serve what it is told.
//!
//! Pure and bounded, with a share per source and a total bound, so that no
//! address can lock others out (`Limits`):
//! - one IP address holds at most [`Limits::max_ports_per_ip`] ports in one
//!   swarm and [`Limits::max_entries_per_ip`] entries (hash, port) overall;
//!   past either, its own stalest entry (in that swarm, or anywhere) makes
//!   room;
//! - a full swarm drops the stalest entry of the address holding the most
//!   entries in it;
//! - a full store (entries or hashes) drops the stalest entry of the address
//!   holding the most entries overall; for a new hash it drops a swarm of
//!   one peer, taken from the address holding the most entries that has one.
//!
//! Newcomers are never refused while someone holds more than they do, and
//! entries of an address with few of them (a real peer) are the last to go.
//! Announcements expire after [`PEER_TTL`]; replies carry a random sample
//! small enough to keep a datagram under about 1 KiB.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::seq::{IndexedRandom, IteratorRandom};
use rand::Rng;

use super::id::Id;

/// Announcements are forgotten after this (clients re-announce every ~15-30 min).
pub const PEER_TTL: Duration = Duration::from_secs(45 * 60);
/// `values` per reply: 50 IPv4 peers are 400 bytes; 25 IPv6 peers 525.
pub const MAX_VALUES_V4: usize = 50;
pub const MAX_VALUES_V6: usize = 25;

/// The bounds of a [`PeerStore`]; every one is at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Info hashes stored.
    pub max_hashes: usize,
    /// Peers per info hash.
    pub max_peers_per_hash: usize,
    /// Peers (hash, address) in all, the memory bound: about 200 bytes each.
    pub max_peers: usize,
    /// Ports one IP address holds in one swarm (several clients behind a NAT).
    pub max_ports_per_ip: usize,
    /// Entries one IP address holds across all hashes (a seedbox with many torrents).
    pub max_entries_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_hashes: 20_000,
            max_peers_per_hash: 200,
            max_peers: 100_000,
            max_ports_per_ip: 4,
            max_entries_per_ip: 1_000,
        }
    }
}

/// What each bound did, since the store was made (only ever growing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCounters {
    /// An address past `max_ports_per_ip` in a swarm lost its stalest port there.
    pub evicted_ports_per_ip: u64,
    /// An address past `max_entries_per_ip` lost its stalest entry.
    pub evicted_entries_per_ip: u64,
    /// A full swarm lost the stalest entry of its most-represented address.
    pub evicted_swarm_full: u64,
    /// A full store lost an entry of its most-represented address.
    pub evicted_store_full: u64,
    /// Announces refused: the store was full of swarms of several peers and
    /// no entry could be evicted by the rules above (not expected in practice).
    pub refused_store_full: u64,
}

/// What one IP address holds: its entries, stalest first.
#[derive(Debug, Clone, Default)]
struct Holder {
    entries: BTreeSet<(Instant, Id, u16)>,
    /// Entries that are the only peer of their swarm.
    sole: usize,
}

#[derive(Debug, Clone)]
pub struct PeerStore {
    swarms: HashMap<Id, Vec<(SocketAddr, Instant)>>,
    holders: HashMap<IpAddr, Holder>,
    /// Addresses by the number of entries they hold (most last).
    ranking: BTreeSet<(usize, IpAddr)>,
    total: usize,
    limits: Limits,
    counters: StoreCounters,
}

/// What [`PeerStore::announce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    Refreshed,
    /// Nothing could be evicted to make room (see [`StoreCounters::refused_store_full`]).
    Full,
}

/// Which bound made room for an announce.
#[derive(Debug, Clone, Copy)]
enum Cause {
    PortsPerIp,
    EntriesPerIp,
    SwarmFull,
    StoreFull,
}

/// Evictions one announce may cause while looking for a hash slot, at most.
const MAX_EVICTIONS_FOR_A_HASH: usize = 64;

impl PeerStore {
    pub fn new(limits: Limits) -> Self {
        let at_least_one = |n: usize| n.max(1);
        Self {
            swarms: HashMap::new(),
            holders: HashMap::new(),
            ranking: BTreeSet::new(),
            total: 0,
            limits: Limits {
                max_hashes: at_least_one(limits.max_hashes),
                max_peers_per_hash: at_least_one(limits.max_peers_per_hash),
                max_peers: at_least_one(limits.max_peers),
                max_ports_per_ip: at_least_one(limits.max_ports_per_ip),
                max_entries_per_ip: at_least_one(limits.max_entries_per_ip),
            },
            counters: StoreCounters::default(),
        }
    }

    /// Number of info hashes with at least one peer.
    pub fn hash_count(&self) -> usize {
        self.swarms.len()
    }

    pub fn peer_count(&self) -> usize {
        self.total
    }

    pub fn counters(&self) -> StoreCounters {
        self.counters
    }

    pub fn announce(&mut self, info_hash: Id, peer: SocketAddr, now: Instant) -> Stored {
        if let Some(swarm) = self.swarms.get_mut(&info_hash) {
            if let Some(entry) = swarm.iter_mut().find(|(addr, _)| *addr == peer) {
                let before = entry.1;
                entry.1 = now;
                if let Some(holder) = self.holders.get_mut(&peer.ip()) {
                    holder.entries.remove(&(before, info_hash, peer.port()));
                    holder.entries.insert((now, info_hash, peer.port()));
                }
                return Stored::Refreshed;
            }
        }
        let ip = peer.ip();
        // The address's own share, in this swarm and overall.
        if let Some(swarm) = self.swarms.get(&info_hash) {
            let mine = swarm.iter().filter(|(addr, _)| addr.ip() == ip);
            if mine.clone().count() >= self.limits.max_ports_per_ip {
                if let Some((addr, _)) = mine.min_by_key(|(_, seen)| *seen).copied() {
                    self.evict(info_hash, addr, Cause::PortsPerIp);
                }
            }
        }
        if self.held_by(ip) >= self.limits.max_entries_per_ip {
            if let Some((hash, addr)) = self.stalest_of(ip, false) {
                self.evict(hash, addr, Cause::EntriesPerIp);
            }
        }
        // The swarm's bound: its most-represented address pays.
        if let Some(swarm) = self.swarms.get(&info_hash) {
            if swarm.len() >= self.limits.max_peers_per_hash {
                if let Some(addr) = most_represented_stalest(swarm) {
                    self.evict(info_hash, addr, Cause::SwarmFull);
                }
            }
        }
        // The store's bounds: the address holding the most pays.
        if !self.swarms.contains_key(&info_hash)
            && self.swarms.len() >= self.limits.max_hashes
            && !self.free_a_hash()
        {
            self.counters.refused_store_full += 1;
            return Stored::Full;
        }
        if self.total >= self.limits.max_peers {
            if let Some((hash, addr)) = self
                .ranking
                .last()
                .and_then(|&(_, top)| self.stalest_of(top, false))
            {
                self.evict(hash, addr, Cause::StoreFull);
            }
        }
        self.insert(info_hash, peer, now);
        Stored::Added
    }

    /// Makes room for one more hash: drops a swarm of one peer, of the
    /// address holding the most entries that has one. When every swarm has
    /// several peers, the top address's stalest entries go until one is left
    /// with a single peer (at most [`MAX_EVICTIONS_FOR_A_HASH`]).
    fn free_a_hash(&mut self) -> bool {
        for _ in 0..MAX_EVICTIONS_FOR_A_HASH {
            let with_sole = self
                .ranking
                .iter()
                .rev()
                .map(|&(_, ip)| ip)
                .find(|ip| self.holders.get(ip).is_some_and(|h| h.sole > 0));
            if let Some((hash, addr)) = with_sole.and_then(|ip| self.stalest_of(ip, true)) {
                self.evict(hash, addr, Cause::StoreFull);
                return true;
            }
            let Some((hash, addr)) = self
                .ranking
                .last()
                .and_then(|&(_, top)| self.stalest_of(top, false))
            else {
                return false;
            };
            self.evict(hash, addr, Cause::StoreFull);
            if self.swarms.len() < self.limits.max_hashes {
                return true;
            }
        }
        false
    }

    fn held_by(&self, ip: IpAddr) -> usize {
        self.holders.get(&ip).map_or(0, |h| h.entries.len())
    }

    /// The stalest entry of `ip`; with `sole`, only among swarms of one peer.
    fn stalest_of(&self, ip: IpAddr, sole: bool) -> Option<(Id, SocketAddr)> {
        let holder = self.holders.get(&ip)?;
        holder
            .entries
            .iter()
            .find(|(_, hash, _)| !sole || self.swarms.get(hash).is_some_and(|s| s.len() == 1))
            .map(|&(_, hash, port)| (hash, SocketAddr::new(ip, port)))
    }

    fn evict(&mut self, info_hash: Id, peer: SocketAddr, cause: Cause) {
        if self.remove(info_hash, peer) {
            let counter = match cause {
                Cause::PortsPerIp => &mut self.counters.evicted_ports_per_ip,
                Cause::EntriesPerIp => &mut self.counters.evicted_entries_per_ip,
                Cause::SwarmFull => &mut self.counters.evicted_swarm_full,
                Cause::StoreFull => &mut self.counters.evicted_store_full,
            };
            *counter += 1;
        }
    }

    fn insert(&mut self, info_hash: Id, peer: SocketAddr, now: Instant) {
        let swarm = self.swarms.entry(info_hash).or_default();
        let was_sole = match swarm.as_slice() {
            [(only, _)] => Some(only.ip()),
            _ => None,
        };
        swarm.push((peer, now));
        let is_sole = swarm.len() == 1;
        if let Some(only) = was_sole {
            self.adjust_sole(only, false);
        }
        let ip = peer.ip();
        let held = self.held_by(ip);
        self.ranking.remove(&(held, ip));
        let holder = self.holders.entry(ip).or_default();
        holder.entries.insert((now, info_hash, peer.port()));
        if is_sole {
            holder.sole += 1;
        }
        self.ranking.insert((held + 1, ip));
        self.total += 1;
    }

    /// Removes one entry, keeping every index in step; false if absent.
    fn remove(&mut self, info_hash: Id, peer: SocketAddr) -> bool {
        let Some(swarm) = self.swarms.get_mut(&info_hash) else {
            return false;
        };
        let Some(at) = swarm.iter().position(|(addr, _)| *addr == peer) else {
            return false;
        };
        let was_sole = swarm.len() == 1;
        let (_, seen) = swarm.swap_remove(at);
        let now_sole = match swarm.as_slice() {
            [(only, _)] => Some(only.ip()),
            _ => None,
        };
        if swarm.is_empty() {
            self.swarms.remove(&info_hash);
        }
        if let Some(only) = now_sole {
            self.adjust_sole(only, true);
        }
        let ip = peer.ip();
        let held = self.held_by(ip);
        self.ranking.remove(&(held, ip));
        if let Some(holder) = self.holders.get_mut(&ip) {
            holder.entries.remove(&(seen, info_hash, peer.port()));
            if was_sole {
                holder.sole = holder.sole.saturating_sub(1);
            }
            if holder.entries.is_empty() {
                self.holders.remove(&ip);
            } else {
                self.ranking.insert((held - 1, ip));
            }
        }
        self.total = self.total.saturating_sub(1);
        true
    }

    fn adjust_sole(&mut self, ip: IpAddr, gained: bool) {
        if let Some(holder) = self.holders.get_mut(&ip) {
            if gained {
                holder.sole += 1;
            } else {
                holder.sole = holder.sole.saturating_sub(1);
            }
        }
    }

    /// A random sample of live peers of `info_hash` of one address family.
    pub fn peers<R: Rng + ?Sized>(
        &self,
        info_hash: &Id,
        ipv6: bool,
        now: Instant,
        rng: &mut R,
    ) -> Vec<SocketAddr> {
        let max = if ipv6 { MAX_VALUES_V6 } else { MAX_VALUES_V4 };
        let Some(swarm) = self.swarms.get(info_hash) else {
            return Vec::new();
        };
        swarm
            .iter()
            .filter(|(addr, seen)| addr.is_ipv6() == ipv6 && live(*seen, now))
            .map(|(addr, _)| *addr)
            .sample(rng, max)
    }

    /// Drops expired peers and empty swarms.
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<(Id, SocketAddr)> = self
            .swarms
            .iter()
            .flat_map(|(hash, swarm)| {
                swarm
                    .iter()
                    .filter(|(_, seen)| !live(*seen, now))
                    .map(move |(addr, _)| (*hash, *addr))
            })
            .collect();
        for (hash, addr) in expired {
            self.remove(hash, addr);
        }
    }

    /// BEP 51: up to `max` random info hashes we store.
    pub fn sample_hashes<R: Rng + ?Sized>(&self, max: usize, rng: &mut R) -> Vec<Id> {
        let hashes: Vec<&Id> = self.swarms.keys().collect();
        hashes.sample(rng, max).map(|id| **id).collect()
    }
}

/// In a swarm, the stalest entry of the address holding the most entries.
fn most_represented_stalest(swarm: &[(SocketAddr, Instant)]) -> Option<SocketAddr> {
    let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
    for (addr, _) in swarm {
        *per_ip.entry(addr.ip()).or_default() += 1;
    }
    let most = per_ip.values().copied().max()?;
    swarm
        .iter()
        .filter(|(addr, _)| per_ip.get(&addr.ip()) == Some(&most))
        .min_by_key(|(_, seen)| *seen)
        .map(|(addr, _)| *addr)
}

fn live(seen: Instant, now: Instant) -> bool {
    now.saturating_duration_since(seen) < PEER_TTL
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn peer(n: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 6881))
    }

    fn hash(n: u32) -> Id {
        let mut id = [0u8; 20];
        id[..4].copy_from_slice(&n.to_be_bytes());
        Id(id)
    }

    fn limits(max_hashes: usize, max_peers_per_hash: usize) -> Limits {
        Limits {
            max_hashes,
            max_peers_per_hash,
            ..Limits::default()
        }
    }

    /// Every index agrees with the swarms.
    fn assert_consistent(store: &PeerStore) {
        let total: usize = store.swarms.values().map(Vec::len).sum();
        assert_eq!(store.total, total);
        let held: usize = store.holders.values().map(|h| h.entries.len()).sum();
        assert_eq!(held, total);
        assert_eq!(store.ranking.len(), store.holders.len());
        for (ip, holder) in &store.holders {
            assert!(store.ranking.contains(&(holder.entries.len(), *ip)));
            let sole = store
                .swarms
                .values()
                .filter(|s| s.len() == 1 && s[0].0.ip() == *ip)
                .count();
            assert_eq!(holder.sole, sole, "{ip}");
            for (seen, hash, port) in &holder.entries {
                let swarm = &store.swarms[hash];
                assert!(swarm.contains(&(SocketAddr::new(*ip, *port), *seen)));
            }
        }
    }

    #[test]
    fn peers_expire_unless_re_announced() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(10, 10));
        let hash = Id([9; 20]);
        store.announce(hash, peer(1), now);
        store.announce(hash, peer(2), now);
        let later = now + PEER_TTL - Duration::from_secs(1);
        assert_eq!(store.announce(hash, peer(2), later), Stored::Refreshed);
        let expired = now + PEER_TTL;
        assert_eq!(store.peers(&hash, false, expired, &mut rng), vec![peer(2)]);
        store.expire(expired);
        assert_eq!(store.peer_count(), 1);
        assert_consistent(&store);
        store.expire(later + PEER_TTL);
        assert_eq!(store.hash_count(), 0);
        assert_consistent(&store);
    }

    #[test]
    fn a_full_swarm_drops_the_stalest_of_its_most_represented_address() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(2, 40));
        for n in 0..300 {
            store.announce(hash(1), peer(n), now + Duration::from_secs(u64::from(n)));
        }
        assert_eq!(store.peer_count(), 40);
        let kept = store.peers(&hash(1), false, now, &mut rng);
        assert_eq!(kept.len(), 40);
        assert!(kept.contains(&peer(299)));
        assert!(!kept.contains(&peer(0)));
        assert_eq!(store.counters().evicted_swarm_full, 260);
        assert_consistent(&store);
    }

    #[test]
    fn one_address_with_many_ports_cannot_push_a_real_peer_out() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(100, 200));
        let real = SocketAddr::from(([192, 0, 2, 7], 51413));
        store.announce(hash(1), real, now);
        for port in 0..260u16 {
            let at = now + Duration::from_millis(u64::from(port) + 1);
            let attacker = SocketAddr::from(([203, 0, 113, 9], 10_000 + port));
            assert_eq!(store.announce(hash(1), attacker, at), Stored::Added);
        }
        let later = now + Duration::from_secs(1);
        for _ in 0..20 {
            assert!(store
                .peers(&hash(1), false, later, &mut rng)
                .contains(&real));
        }
        assert_eq!(store.peer_count(), 1 + Limits::default().max_ports_per_ip);
        assert_eq!(store.counters().evicted_ports_per_ip, 256);
        assert_consistent(&store);
    }

    #[test]
    fn a_good_announce_is_stored_after_two_hundred_addresses_filled_the_store() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(2_000, 200));
        // 200 addresses, 50 new hashes each: 10,000 hashes offered to 2,000 slots.
        let mut t = now;
        for round in 0..50u32 {
            for n in 0..200u16 {
                t += Duration::from_millis(1);
                store.announce(hash(round * 200 + u32::from(n)), peer(n), t);
            }
        }
        assert_eq!(store.hash_count(), 2_000);
        let good = SocketAddr::from(([192, 0, 2, 1], 6881));
        assert_eq!(store.announce(hash(1_000_000), good, t), Stored::Added);
        assert_eq!(
            store.peers(&hash(1_000_000), false, t, &mut rng),
            vec![good]
        );
        // The flood goes on; the good entry is never the one to make room.
        for round in 50..100u32 {
            for n in 0..200u16 {
                t += Duration::from_millis(1);
                store.announce(hash(round * 200 + u32::from(n)), peer(n), t);
            }
        }
        assert_eq!(
            store.peers(&hash(1_000_000), false, t, &mut rng),
            vec![good]
        );
        assert_eq!(store.hash_count(), 2_000);
        assert_eq!(store.counters().refused_store_full, 0);
        assert!(store.counters().evicted_store_full >= 18_000);
        assert_consistent(&store);
    }

    #[test]
    fn each_address_has_a_share_of_entries_and_the_total_is_bounded() {
        let now = Instant::now();
        let mut store = PeerStore::new(Limits {
            max_hashes: 1_000,
            max_peers_per_hash: 10,
            max_peers: 50,
            max_ports_per_ip: 2,
            max_entries_per_ip: 20,
        });
        let mut t = now;
        for n in 0..100 {
            t += Duration::from_millis(1);
            store.announce(hash(n), peer(1), t);
        }
        assert_eq!(store.peer_count(), 20, "one address keeps its newest 20");
        assert!(store.swarms.contains_key(&hash(99)));
        assert!(!store.swarms.contains_key(&hash(79)));
        assert_eq!(store.counters().evicted_entries_per_ip, 80);
        for n in 0..100u16 {
            t += Duration::from_millis(1);
            store.announce(hash(500 + u32::from(n)), peer(100 + n), t);
        }
        assert_eq!(store.peer_count(), 50);
        assert_consistent(&store);
    }

    #[test]
    fn a_hash_slot_is_found_when_every_swarm_has_several_peers() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(10, 10));
        let mut t = now;
        // Ten swarms of two peers each, from addresses 1..=4.
        for n in 0..10 {
            for p in [1 + n % 4, 1 + (n + 1) % 4] {
                t += Duration::from_millis(1);
                store.announce(hash(n), peer(p as u16), t);
            }
        }
        assert_eq!(store.hash_count(), 10);
        let good = SocketAddr::from(([192, 0, 2, 1], 6881));
        assert_eq!(store.announce(hash(99), good, t), Stored::Added);
        assert_eq!(store.peers(&hash(99), false, t, &mut rng), vec![good]);
        assert_eq!(store.hash_count(), 10);
        assert_consistent(&store);
    }

    #[test]
    fn replies_carry_a_bounded_sample() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(1, 1000));
        for n in 0..500 {
            store.announce(Id([1; 20]), peer(n), now);
        }
        let values = store.peers(&Id([1; 20]), false, now, &mut rng);
        assert_eq!(values.len(), MAX_VALUES_V4);
        let other = store.peers(&Id([1; 20]), false, now, &mut rng);
        assert_ne!(
            values, other,
            "a different sample each time spreads the load"
        );
    }

    #[test]
    fn families_are_kept_apart_and_samples_are_bounded() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let now = Instant::now();
        let mut store = PeerStore::new(limits(100, 10));
        let v6: SocketAddr = "[2001:db8::1]:6881".parse().unwrap();
        store.announce(Id([1; 20]), v6, now);
        store.announce(Id([1; 20]), peer(1), now);
        assert_eq!(store.peers(&Id([1; 20]), true, now, &mut rng), vec![v6]);
        for n in 0..50 {
            store.announce(Id([n; 20]), peer(1), now);
        }
        assert_eq!(store.sample_hashes(20, &mut rng).len(), 20);
        assert_consistent(&store);
    }
}
