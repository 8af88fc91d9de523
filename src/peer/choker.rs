//! Upload slots for a seed, across every connection of every torrent:
//! pure, with the round counter and randomness passed in.
//!
//! A seed has no download rates to reciprocate, so slots rotate round-robin:
//! a peer keeps a regular slot for [`TURN`] rounds (the seeder runs one
//! round every 10 s), then yields it to the interested peer that has waited
//! longest. One more slot is optimistic: a random waiting peer, re-drawn
//! every [`TURN`] rounds, so newcomers get data at once. Peers that are not
//! interested never hold a slot.

use std::collections::{BTreeMap, BTreeSet};

/// Rounds a peer keeps a regular or optimistic slot while others wait.
pub const TURN: u64 = 3;
/// Default number of upload slots (regular + optimistic).
pub const DEFAULT_SLOTS: usize = 12;

/// Identifies a connection for the choker.
pub type PeerKey = u64;

#[derive(Debug, Clone)]
pub struct Choker {
    slots: usize,
    round: u64,
    /// Regular slot holders and the round they got the slot.
    regular: BTreeMap<PeerKey, u64>,
    optimistic: Option<(PeerKey, u64)>,
    /// The round each peer last lost its slot, for round-robin order.
    last_served: BTreeMap<PeerKey, u64>,
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
        }
    }

    /// The peers to unchoke now, given every currently interested peer.
    /// `rotate` advances one round (the periodic re-choke); without it only
    /// free slots are filled and uninterested peers are dropped (call it
    /// when interest changes or a peer leaves). `random` picks the
    /// optimistic peer.
    pub fn rechoke(
        &mut self,
        interested: &BTreeSet<PeerKey>,
        rotate: bool,
        random: u64,
    ) -> BTreeSet<PeerKey> {
        self.regular.retain(|peer, _| interested.contains(peer));
        self.last_served.retain(|peer, _| interested.contains(peer));
        if self
            .optimistic
            .is_some_and(|(peer, _)| !interested.contains(&peer))
        {
            self.optimistic = None;
        }
        let holders = |c: &Self| c.regular.len() + usize::from(c.optimistic.is_some());
        let waiting = |c: &Self| {
            interested
                .iter()
                .filter(|p| !c.regular.contains_key(p) && c.optimistic.map(|(o, _)| o) != Some(**p))
                .count()
        };
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
        // Regular slots: everyone but the optimistic one, longest wait first
        // (never served counts as waiting since round 0).
        let regular_slots = self.slots.saturating_sub(1).max(1);
        let mut queue: Vec<(u64, PeerKey)> = interested
            .iter()
            .filter(|p| {
                !self.regular.contains_key(p) && self.optimistic.map(|(o, _)| o) != Some(**p)
            })
            .map(|p| (self.last_served.get(p).copied().unwrap_or(0), *p))
            .collect();
        queue.sort_unstable();
        let mut queue: Vec<PeerKey> = queue.into_iter().map(|(_, p)| p).collect();
        if self.optimistic.is_none() && !queue.is_empty() && self.slots > 1 {
            // Drawn from the waiting peers, but not the one first in line,
            // which the regular rotation is about to serve anyway.
            let skip = usize::from(queue.len() > 1 && self.regular.len() < regular_slots);
            let pool = queue.len() - skip;
            let pick = skip + (random % pool as u64) as usize;
            let peer = queue.remove(pick);
            self.optimistic = Some((peer, self.round));
        }
        for peer in queue {
            if holders(self) >= self.slots || self.regular.len() >= regular_slots {
                break;
            }
            self.regular.insert(peer, self.round);
        }
        self.unchoked()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(peers: impl IntoIterator<Item = PeerKey>) -> BTreeSet<PeerKey> {
        peers.into_iter().collect()
    }

    #[test]
    fn few_interested_peers_are_all_unchoked() {
        let mut c = Choker::new(4);
        assert_eq!(c.rechoke(&set([1, 2, 3]), false, 0), set([1, 2, 3]));
        assert_eq!(c.rechoke(&set([1, 2, 3, 4]), false, 0), set([1, 2, 3, 4]));
        // Rotation with nobody waiting keeps everyone.
        for round in 0..10 {
            assert_eq!(
                c.rechoke(&set([1, 2, 3, 4]), true, round),
                set([1, 2, 3, 4])
            );
        }
    }

    #[test]
    fn uninterested_peers_lose_their_slot_at_once() {
        let mut c = Choker::new(2);
        assert_eq!(c.rechoke(&set([1, 2, 3]), false, 0).len(), 2);
        let after = c.rechoke(&set([3]), false, 0);
        assert_eq!(after, set([3]));
        assert!(c.rechoke(&set([]), false, 0).is_empty());
    }

    #[test]
    fn slots_rotate_round_robin_and_serve_everyone() {
        let peers = set(1..=10);
        let mut c = Choker::new(4);
        let mut served = BTreeSet::new();
        let mut rounds_held: BTreeMap<PeerKey, u64> = BTreeMap::new();
        for round in 0..40u64 {
            let unchoked = c.rechoke(&peers, true, round.wrapping_mul(0x9E37_79B9));
            assert_eq!(unchoked.len(), 4, "round {round}: {unchoked:?}");
            for p in &unchoked {
                *rounds_held.entry(*p).or_default() += 1;
            }
            served.extend(unchoked);
        }
        assert_eq!(served, peers, "every peer got a turn");
        // Fairness: 40 rounds x 4 slots over 10 peers is 16 each; allow
        // the optimistic draw some spread.
        for (peer, held) in rounds_held {
            assert!((6..=26).contains(&held), "peer {peer} held {held} rounds");
        }
    }

    #[test]
    fn the_optimistic_slot_follows_the_random_draw() {
        let mut a = Choker::new(2);
        let mut b = Choker::new(2);
        let peers = set(1..=6);
        let ua = a.rechoke(&peers, false, 0);
        let ub = b.rechoke(&peers, false, 3);
        assert_eq!(ua.len(), 2);
        assert_ne!(ua, ub);
        // Both give the regular slot to the first in line.
        assert!(ua.contains(&1) && ub.contains(&1));
    }

    #[test]
    fn one_slot_still_rotates() {
        let mut c = Choker::new(1);
        let peers = set([1, 2]);
        let mut seen = BTreeSet::new();
        for round in 0..10 {
            let u = c.rechoke(&peers, true, round);
            assert_eq!(u.len(), 1);
            seen.extend(u);
        }
        assert_eq!(seen, peers);
    }
}
