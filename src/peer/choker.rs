//! Upload slots for a seed, across every connection of every torrent:
//! pure, with the round counter, the time and randomness passed in.
//!
//! A seed has no download rates to reciprocate, so slots rotate round-robin:
//! a peer keeps a regular slot for [`TURN`] rounds (the seeder runs one
//! round every 10 s), then yields it to the interested peer that has waited
//! longest. One more slot is optimistic: a random waiting peer, re-drawn
//! every [`TURN`] rounds, so newcomers get data at once. Peers that are not
//! interested never hold a slot.
//!
//! A slot holder that asks for nothing is snubbing us: one that has not
//! requested a block within [`SNUB_AFTER_UNCHOKE`] of getting its slot, or
//! for [`SNUB_AFTER_REQUEST`] since its last request, with nothing of its
//! still owed, loses the slot at once to a peer that is waiting. A peer
//! choked that way does not, while it waits, push out other idle holders
//! in turn (so idle peers do not trade slots among themselves); it gets a
//! slot again by rotation or when one is free.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Rounds a peer keeps a regular or optimistic slot while others wait.
pub const TURN: u64 = 3;
/// Default number of upload slots (regular + optimistic).
pub const DEFAULT_SLOTS: usize = 12;
/// A new slot holder that has not requested within this is snubbed.
pub const SNUB_AFTER_UNCHOKE: Duration = Duration::from_secs(5);
/// A slot holder that has requested, but not for this long, is snubbed.
pub const SNUB_AFTER_REQUEST: Duration = Duration::from_secs(10);

/// Identifies a connection for the choker.
pub type PeerKey = u64;

/// What the choker is told of an interested peer's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    /// When it last asked for a block, if ever.
    pub last_request: Option<Instant>,
    /// Whether blocks it asked for are still queued or being written: a
    /// peer waiting on us (a slow link, a rate limit) is not snubbing.
    pub pending: bool,
}

#[derive(Debug, Clone)]
pub struct Choker {
    slots: usize,
    round: u64,
    /// Regular slot holders and the round they got the slot.
    regular: BTreeMap<PeerKey, u64>,
    optimistic: Option<(PeerKey, u64)>,
    /// The round each peer last lost its slot, for round-robin order.
    last_served: BTreeMap<PeerKey, u64>,
    /// When each slot holder got its slot.
    unchoked_at: BTreeMap<PeerKey, Instant>,
    /// Peers that lost their slot as snubbed and have not held one since.
    snubbed: BTreeSet<PeerKey>,
}

impl Choker {
    /// `slots` counts the optimistic slot; at least 1.
    pub fn new(slots: usize) -> Self {
        Self {
            slots: slots.max(1),
            round: 0,
            regular: BTreeMap::new(),
            optimistic: None,
            last_served: BTreeMap::new(),
            unchoked_at: BTreeMap::new(),
            snubbed: BTreeSet::new(),
        }
    }

    /// The peers to unchoke now, given every currently interested peer and
    /// its requests. `rotate` advances one round (the periodic re-choke);
    /// without it only snubbing holders are replaced, free slots filled
    /// and uninterested peers dropped (call it when interest changes, a
    /// peer leaves, and every second or so for snubbing). `random` picks
    /// the optimistic peer.
    pub fn rechoke(
        &mut self,
        interested: &BTreeMap<PeerKey, Demand>,
        rotate: bool,
        random: u64,
        now: Instant,
    ) -> BTreeSet<PeerKey> {
        self.regular.retain(|peer, _| interested.contains_key(peer));
        self.last_served
            .retain(|peer, _| interested.contains_key(peer));
        self.snubbed.retain(|peer| interested.contains_key(peer));
        if self
            .optimistic
            .is_some_and(|(peer, _)| !interested.contains_key(&peer))
        {
            self.optimistic = None;
        }
        let holders = |c: &Self| c.regular.len() + usize::from(c.optimistic.is_some());
        let holds = |c: &Self, p: &PeerKey| {
            c.regular.contains_key(p) || c.optimistic.map(|(o, _)| o) == Some(*p)
        };
        let waiting = |c: &Self| interested.keys().filter(|p| !holds(c, p)).count();
        if rotate {
            self.round += 1;
            // Regular holders whose turn is over yield, oldest first, as
            // many as there are peers waiting.
            let mut expired: Vec<(u64, PeerKey)> = self
                .regular
                .iter()
                .filter(|(_, since)| self.round - **since >= TURN)
                .map(|(peer, since)| (*since, *peer))
                .collect();
            expired.sort_unstable();
            for (_, peer) in expired.into_iter().take(waiting(self)) {
                self.regular.remove(&peer);
                self.last_served.insert(peer, self.round);
            }
            if let Some((peer, since)) = self.optimistic {
                if self.round - since >= TURN && waiting(self) > 0 {
                    self.optimistic = None;
                    self.last_served.insert(peer, self.round);
                }
            }
        }
        // Snubbing holders make room, the longest idle first, for as many
        // waiting peers as have not been snubbed themselves.
        let fresh = interested
            .keys()
            .filter(|p| !holds(self, p) && !self.snubbed.contains(p))
            .count();
        let mut idle: Vec<(Instant, PeerKey)> = self
            .unchoked()
            .into_iter()
            .filter_map(|peer| {
                let since = *self.unchoked_at.get(&peer)?;
                snubbing(since, interested.get(&peer).copied()?, now).map(|idle| (idle, peer))
            })
            .collect();
        idle.sort_unstable();
        let mut just_snubbed = BTreeSet::new();
        for (_, peer) in idle.into_iter().take(fresh) {
            self.regular.remove(&peer);
            if self.optimistic.is_some_and(|(o, _)| o == peer) {
                self.optimistic = None;
            }
            // Behind everyone waiting now, though not behind those who
            // yield their slots in later rounds.
            self.last_served.insert(peer, self.round + 1);
            self.snubbed.insert(peer);
            just_snubbed.insert(peer);
        }
        // Regular slots: everyone but the optimistic one, longest wait first
        // (never served counts as waiting since round 0).
        let regular_slots = self.slots.saturating_sub(1).max(1);
        let mut queue: Vec<(u64, PeerKey)> = interested
            .keys()
            .filter(|p| !holds(self, p) && !just_snubbed.contains(p))
            .map(|p| (self.last_served.get(p).copied().unwrap_or(0), *p))
            .collect();
        queue.sort_unstable();
        let mut queue: Vec<PeerKey> = queue.into_iter().map(|(_, p)| p).collect();
        if self.optimistic.is_none() && !queue.is_empty() && self.slots > 1 {
            // Drawn from the waiting peers, but not the one first in line,
            // which the regular rotation is about to serve anyway, nor a
            // snubbed one while others wait.
            let skip = usize::from(queue.len() > 1 && self.regular.len() < regular_slots);
            let mut pool: Vec<usize> = (skip..queue.len())
                .filter(|at| !self.snubbed.contains(&queue[*at]))
                .collect();
            if pool.is_empty() {
                pool = (skip..queue.len()).collect();
            }
            let pick = pool[(random % pool.len() as u64) as usize];
            let peer = queue.remove(pick);
            self.optimistic = Some((peer, self.round));
            self.unchoked_at.insert(peer, now);
        }
        for peer in queue {
            if holders(self) >= self.slots || self.regular.len() >= regular_slots {
                break;
            }
            self.regular.insert(peer, self.round);
            self.unchoked_at.insert(peer, now);
        }
        let unchoked = self.unchoked();
        self.unchoked_at.retain(|peer, _| unchoked.contains(peer));
        for peer in &unchoked {
            self.snubbed.remove(peer);
        }
        unchoked
    }

    /// The peers currently holding a slot.
    pub fn unchoked(&self) -> BTreeSet<PeerKey> {
        self.regular
            .keys()
            .copied()
            .chain(self.optimistic.map(|(p, _)| p))
            .collect()
    }
}

/// Since when a holder unchoked at `unchoked_at` has been idle, if that
/// makes it snubbing at `now`.
fn snubbing(unchoked_at: Instant, demand: Demand, now: Instant) -> Option<Instant> {
    if demand.pending {
        return None;
    }
    let (since, grace) = match demand.last_request {
        Some(at) if at >= unchoked_at => (at, SNUB_AFTER_REQUEST),
        // Requests made while choked were refused: they do not count.
        _ => (unchoked_at, SNUB_AFTER_UNCHOKE),
    };
    (now.saturating_duration_since(since) >= grace).then_some(since)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interested peers that have asked for nothing yet.
    fn set(peers: impl IntoIterator<Item = PeerKey>) -> BTreeMap<PeerKey, Demand> {
        peers.into_iter().map(|p| (p, Demand::default())).collect()
    }

    fn keys(peers: impl IntoIterator<Item = PeerKey>) -> BTreeSet<PeerKey> {
        peers.into_iter().collect()
    }

    #[test]
    fn few_interested_peers_are_all_unchoked() {
        let now = Instant::now();
        let mut c = Choker::new(4);
        assert_eq!(c.rechoke(&set([1, 2, 3]), false, 0, now), keys([1, 2, 3]));
        assert_eq!(
            c.rechoke(&set([1, 2, 3, 4]), false, 0, now),
            keys([1, 2, 3, 4])
        );
        // Rotation with nobody waiting keeps everyone.
        for round in 0..10 {
            assert_eq!(
                c.rechoke(&set([1, 2, 3, 4]), true, round, now),
                keys([1, 2, 3, 4])
            );
        }
    }

    #[test]
    fn uninterested_peers_lose_their_slot_at_once() {
        let now = Instant::now();
        let mut c = Choker::new(2);
        assert_eq!(c.rechoke(&set([1, 2, 3]), false, 0, now).len(), 2);
        let after = c.rechoke(&set([3]), false, 0, now);
        assert_eq!(after, keys([3]));
        assert!(c.rechoke(&set([]), false, 0, now).is_empty());
    }

    #[test]
    fn slots_rotate_round_robin_and_serve_everyone() {
        let now = Instant::now();
        let peers = set(1..=10);
        let mut c = Choker::new(4);
        let mut served = BTreeSet::new();
        let mut rounds_held: BTreeMap<PeerKey, u64> = BTreeMap::new();
        for round in 0..40u64 {
            let unchoked = c.rechoke(&peers, true, round.wrapping_mul(0x9E37_79B9), now);
            assert_eq!(unchoked.len(), 4, "round {round}: {unchoked:?}");
            for p in &unchoked {
                *rounds_held.entry(*p).or_default() += 1;
            }
            served.extend(unchoked);
        }
        assert_eq!(served, keys(1..=10), "every peer got a turn");
        // Fairness: 40 rounds x 4 slots over 10 peers is 16 each; allow
        // the optimistic draw some spread.
        for (peer, held) in rounds_held {
            assert!((6..=26).contains(&held), "peer {peer} held {held} rounds");
        }
    }

    #[test]
    fn the_optimistic_slot_follows_the_random_draw() {
        let now = Instant::now();
        let mut a = Choker::new(2);
        let mut b = Choker::new(2);
        let peers = set(1..=6);
        let ua = a.rechoke(&peers, false, 0, now);
        let ub = b.rechoke(&peers, false, 3, now);
        assert_eq!(ua.len(), 2);
        assert_ne!(ua, ub);
        // Both give the regular slot to the first in line.
        assert!(ua.contains(&1) && ub.contains(&1));
    }

    #[test]
    fn one_slot_still_rotates() {
        let now = Instant::now();
        let mut c = Choker::new(1);
        let peers = set([1, 2]);
        let mut seen = BTreeSet::new();
        for round in 0..10 {
            let u = c.rechoke(&peers, true, round, now);
            assert_eq!(u.len(), 1);
            seen.extend(u);
        }
        assert_eq!(seen, keys([1, 2]));
    }

    const S: Duration = Duration::from_secs(1);

    fn asked(at: Instant) -> Demand {
        Demand {
            last_request: Some(at),
            pending: false,
        }
    }

    #[test]
    fn a_holder_that_never_requests_gives_its_slot_to_a_waiting_peer() {
        let t0 = Instant::now();
        let mut c = Choker::new(2);
        assert_eq!(c.rechoke(&set([1, 2]), false, 0, t0), keys([1, 2]));
        // 1 asks for blocks; 2 never does; 3 comes and waits.
        let mut peers = set([1, 2, 3]);
        peers.insert(1, asked(t0 + S));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + S), keys([1, 2]));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 4 * S), keys([1, 2]));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 5 * S), keys([1, 3]));
        // 1 asked after its unchoke: it has 10 s from its last request.
        peers.insert(3, asked(t0 + 6 * S));
        peers.insert(4, Demand::default());
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 10 * S), keys([1, 3]));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 11 * S), keys([3, 4]));
    }

    #[test]
    fn a_holder_still_owed_blocks_or_with_nobody_waiting_keeps_its_slot() {
        let t0 = Instant::now();
        let mut c = Choker::new(2);
        let mut peers = set([1, 2, 3]);
        assert_eq!(c.rechoke(&peers, false, 0, t0), keys([1, 2]));
        // 1's requests are still being served (a slow link, a rate limit).
        let owed = Demand {
            last_request: Some(t0),
            pending: true,
        };
        peers.insert(1, owed);
        peers.insert(2, owed);
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 60 * S), keys([1, 2]));
        // Nobody waits: idle holders are left alone.
        let mut c = Choker::new(4);
        assert_eq!(c.rechoke(&set([1, 2]), false, 0, t0), keys([1, 2]));
        assert_eq!(c.rechoke(&set([1, 2]), false, 0, t0 + 60 * S), keys([1, 2]));
    }

    #[test]
    fn requests_made_while_choked_do_not_count() {
        let t0 = Instant::now();
        let mut c = Choker::new(1);
        let mut peers = set([1, 2]);
        peers.insert(2, asked(t0));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + S), keys([1]));
        // 1 is snubbed; 2 gets the slot, with its old request before it.
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 6 * S), keys([2]));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 10 * S), keys([2]));
        // 2 is snubbed too, but only a peer not snubbed yet may push it out.
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 11 * S), keys([2]));
    }

    #[test]
    fn snubbed_peers_do_not_trade_slots_among_themselves() {
        let t0 = Instant::now();
        let mut c = Choker::new(2);
        let mut peers = set([1, 2]);
        assert_eq!(c.rechoke(&peers, false, 0, t0), keys([1, 2]));
        peers.extend(set([3]));
        // The longest idle (a tie: the lowest key) makes room for 3.
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 5 * S), keys([2, 3]));
        // 1, waiting as snubbed, does not push out 2 or 3, though idle.
        for later in 6..30 {
            assert_eq!(c.rechoke(&peers, false, 0, t0 + later * S), keys([2, 3]));
        }
        // A newcomer does, the longest idle first.
        peers.extend(set([4]));
        assert_eq!(c.rechoke(&peers, false, 0, t0 + 30 * S), keys([3, 4]));
        // Rotation still gives the snubbed peer a turn in the end.
        let mut seen = BTreeSet::new();
        for round in 0..12 {
            seen.extend(c.rechoke(&peers, true, round, t0 + 30 * S));
        }
        assert!(seen.contains(&1), "{seen:?}");
    }
}
