//! Peers announced to us (BEP 5 announce_peer), for any info hash, not only
//! those near our id: a bootstrap node must serve what it is told.
//!
//! Pure and bounded: announcements expire after [`PEER_TTL`], the number of
//! hashes and of peers per hash are capped (a full swarm drops its stalest
//! peer, a full store refuses new hashes until some expire), and replies
//! carry a random sample small enough to keep a datagram under about 1 KiB.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::seq::{IndexedRandom, IteratorRandom};
use rand::Rng;

use super::id::Id;

/// Announcements are forgotten after this (clients re-announce every ~15-30 min).
pub const PEER_TTL: Duration = Duration::from_secs(45 * 60);
/// `values` per reply: 50 IPv4 peers are 400 bytes; 25 IPv6 peers 525.
pub const MAX_VALUES_V4: usize = 50;
pub const MAX_VALUES_V6: usize = 25;

#[derive(Debug, Clone)]
pub struct PeerStore {
    swarms: HashMap<Id, Vec<(SocketAddr, Instant)>>,
    max_hashes: usize,
    max_peers: usize,
}

/// What [`PeerStore::announce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    Refreshed,
    /// The store holds its maximum of hashes.
    Full,
}

impl PeerStore {
    pub fn new(max_hashes: usize, max_peers: usize) -> Self {
        Self {
            swarms: HashMap::new(),
            max_hashes,
            max_peers,
        }
    }

    /// Number of info hashes with at least one peer.
    pub fn hash_count(&self) -> usize {
        self.swarms.len()
    }

    pub fn peer_count(&self) -> usize {
        self.swarms.values().map(Vec::len).sum()
    }

    pub fn announce(&mut self, info_hash: Id, peer: SocketAddr, now: Instant) -> Stored {
        if !self.swarms.contains_key(&info_hash) && self.swarms.len() >= self.max_hashes {
            return Stored::Full;
        }
        let swarm = self.swarms.entry(info_hash).or_default();
        if let Some(entry) = swarm.iter_mut().find(|(addr, _)| *addr == peer) {
            entry.1 = now;
            return Stored::Refreshed;
        }
        if swarm.len() >= self.max_peers {
            if let Some(stalest) = swarm
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(i, _)| i)
            {
                swarm.swap_remove(stalest);
            }
        }
        swarm.push((peer, now));
        Stored::Added
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
        self.swarms.retain(|_, swarm| {
            swarm.retain(|(_, seen)| live(*seen, now));
            !swarm.is_empty()
        });
    }

    /// BEP 51: up to `max` random info hashes we store.
    pub fn sample_hashes<R: Rng + ?Sized>(&self, max: usize, rng: &mut R) -> Vec<Id> {
        let hashes: Vec<&Id> = self.swarms.keys().collect();
        hashes.sample(rng, max).map(|id| **id).collect()
    }
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

    #[test]
    fn peers_expire_unless_re_announced() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let now = Instant::now();
        let mut store = PeerStore::new(10, 10);
        let hash = Id([9; 20]);
        store.announce(hash, peer(1), now);
        store.announce(hash, peer(2), now);
        let later = now + PEER_TTL - Duration::from_secs(1);
        assert_eq!(store.announce(hash, peer(2), later), Stored::Refreshed);
        let expired = now + PEER_TTL;
        assert_eq!(store.peers(&hash, false, expired, &mut rng), vec![peer(2)]);
        store.expire(expired);
        assert_eq!(store.peer_count(), 1);
        store.expire(later + PEER_TTL);
        assert_eq!(store.hash_count(), 0);
    }

    #[test]
    fn caps_bound_hashes_and_peers_keeping_the_newest() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let now = Instant::now();
        let mut store = PeerStore::new(2, 40);
        assert_eq!(store.announce(Id([1; 20]), peer(1), now), Stored::Added);
        assert_eq!(store.announce(Id([2; 20]), peer(1), now), Stored::Added);
        assert_eq!(store.announce(Id([3; 20]), peer(1), now), Stored::Full);
        for n in 0..300 {
            store.announce(
                Id([1; 20]),
                peer(n),
                now + Duration::from_secs(u64::from(n)),
            );
        }
        assert_eq!(store.peer_count(), 41);
        let kept = store.peers(&Id([1; 20]), false, now, &mut rng);
        assert_eq!(kept.len(), 40);
        assert!(kept.contains(&peer(299)));
        assert!(!kept.contains(&peer(0)));
    }

    #[test]
    fn replies_carry_a_bounded_sample() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let now = Instant::now();
        let mut store = PeerStore::new(1, 1000);
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
        let mut store = PeerStore::new(100, 10);
        let v6: SocketAddr = "[2001:db8::1]:6881".parse().unwrap();
        store.announce(Id([1; 20]), v6, now);
        store.announce(Id([1; 20]), peer(1), now);
        assert_eq!(store.peers(&Id([1; 20]), true, now, &mut rng), vec![v6]);
        for n in 0..50 {
            store.announce(Id([n; 20]), peer(1), now);
        }
        assert_eq!(store.sample_hashes(20, &mut rng).len(), 20);
    }
}
