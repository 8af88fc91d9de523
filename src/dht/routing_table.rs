//! The routing table (BEP 5): k-buckets over the 160-bit id space, where
//! only the bucket holding our own id splits.
//!
//! Pure: every call takes the current time (and an rng where it needs one),
//! and asks the caller to send pings rather than sending them. A node is
//! good if it answered us within 15 minutes (or queried us within 15 minutes
//! after answering once), bad after [`MAX_FAILURES`] unanswered queries in a
//! row, questionable otherwise. A full bucket replaces a bad node at once;
//! with only questionable nodes it keeps the newcomer aside and asks for the
//! questionable ones to be pinged first (ping-before-replace).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::Rng;

use super::id::Id;
use super::krpc::NodeInfo;

/// BEP 5 bucket size.
pub const K: usize = 8;
/// Good for this long after the last answer.
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// A bucket untouched for this long gets a lookup of a random id in it.
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);
/// Unanswered queries in a row before a node is bad.
pub const MAX_FAILURES: u32 = 2;
/// Nodes kept aside per bucket, waiting for a slot.
const REPLACEMENTS: usize = 8;
/// Don't re-ping a questionable node more often than this.
const PING_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Good,
    Questionable,
    Bad,
}

/// How we heard from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// It answered one of our queries.
    Response,
    /// It sent us a query.
    Query,
}

/// What [`RoutingTable::heard_from`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Added,
    Updated,
    /// Not added: our own id, an id seen at another address, or over the per-IP cap.
    Rejected,
    /// The bucket is full of questionable nodes: the newcomer waits aside;
    /// ping these, and [`RoutingTable::failed`] on timeout lets it in.
    PingFirst(Vec<NodeInfo>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Id,
    pub addr: SocketAddr,
    last_response: Option<Instant>,
    last_query: Option<Instant>,
    last_ping: Option<Instant>,
    failures: u32,
}

impl Entry {
    fn new(id: Id, addr: SocketAddr) -> Self {
        Self {
            id,
            addr,
            last_response: None,
            last_query: None,
            last_ping: None,
            failures: 0,
        }
    }

    pub fn status(&self, now: Instant) -> Status {
        let recent =
            |t: Option<Instant>| t.is_some_and(|t| now.saturating_duration_since(t) < GOOD_FOR);
        if self.failures >= MAX_FAILURES {
            Status::Bad
        } else if recent(self.last_response)
            || (self.last_response.is_some() && recent(self.last_query))
        {
            Status::Good
        } else {
            Status::Questionable
        }
    }

    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            id: self.id,
            addr: self.addr,
        }
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    nodes: Vec<Entry>,
    replacements: Vec<Entry>,
    last_changed: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Self {
            nodes: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RoutingTable {
    own_id: Id,
    buckets: Vec<Bucket>,
    /// Nodes allowed per public IP address; loopback and private ranges are exempt.
    max_per_ip: usize,
}

/// Addresses where many nodes per IP are normal (tests, LANs).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
        }
    }
}

impl RoutingTable {
    pub fn new(own_id: Id, max_per_ip: usize, now: Instant) -> Self {
        Self {
            own_id,
            buckets: vec![Bucket::new(now)],
            max_per_ip,
        }
    }

    pub fn own_id(&self) -> Id {
        self.own_id
    }

    /// Nodes in the table (not counting those waiting aside).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    pub fn count(&self, status: Status, now: Instant) -> usize {
        self.entries().filter(|e| e.status(now) == status).count()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    fn bucket_index(&self, id: &Id) -> usize {
        self.own_id
            .common_prefix_len(id)
            .min(self.buckets.len() - 1)
    }

    fn find_mut(&mut self, id: &Id) -> Option<&mut Entry> {
        let index = self.bucket_index(id);
        self.buckets[index].nodes.iter_mut().find(|e| e.id == *id)
    }

    /// Records that `id` at `addr` answered us or queried us. Read-only
    /// nodes (BEP 43) must not be passed here.
    pub fn heard_from(&mut self, id: Id, addr: SocketAddr, heard: Heard, now: Instant) -> Outcome {
        if id == self.own_id {
            return Outcome::Rejected;
        }
        let touch = |e: &mut Entry| match heard {
            Heard::Response => {
                e.last_response = Some(now);
                e.failures = 0;
            }
            Heard::Query => e.last_query = Some(now),
        };
        if let Some(entry) = self.find_mut(&id) {
            if entry.addr != addr {
                // Someone else claiming a known id: keep the one we know.
                return Outcome::Rejected;
            }
            touch(entry);
            return Outcome::Updated;
        }
        if self.entries().any(|e| e.addr == addr) {
            return Outcome::Rejected;
        }
        if !is_local(addr.ip())
            && self.entries().filter(|e| e.addr.ip() == addr.ip()).count() >= self.max_per_ip
        {
            return Outcome::Rejected;
        }
        let mut entry = Entry::new(id, addr);
        touch(&mut entry);
        loop {
            let index = self.bucket_index(&id);
            let count = self.buckets.len();
            let bucket = &mut self.buckets[index];
            if bucket.nodes.len() < K {
                bucket.nodes.push(entry);
                bucket.last_changed = now;
                return Outcome::Added;
            }
            if let Some(bad) = bucket
                .nodes
                .iter()
                .position(|e| e.status(now) == Status::Bad)
            {
                bucket.nodes[bad] = entry;
                bucket.last_changed = now;
                return Outcome::Added;
            }
            if index == count - 1 && count < 160 {
                self.split(now);
                continue;
            }
            // Ping-before-replace: questionable nodes get a chance to answer.
            bucket.replacements.retain(|e| e.id != id && e.addr != addr);
            if bucket.replacements.len() >= REPLACEMENTS {
                bucket.replacements.remove(0);
            }
            bucket.replacements.push(entry);
            let to_ping = bucket
                .nodes
                .iter_mut()
                .filter(|e| e.status(now) == Status::Questionable)
                .filter(|e| {
                    e.last_ping
                        .is_none_or(|t| now.saturating_duration_since(t) >= PING_INTERVAL)
                })
                .map(|e| {
                    e.last_ping = Some(now);
                    e.info()
                })
                .collect::<Vec<_>>();
            return if to_ping.is_empty() {
                Outcome::Rejected
            } else {
                Outcome::PingFirst(to_ping)
            };
        }
    }

    /// Splits the last bucket (the one holding our id) in two: nodes
    /// sharing more than `depth` bits with us move to the new last bucket.
    fn split(&mut self, now: Instant) {
        let depth = self.buckets.len() - 1;
        let own = self.own_id;
        let nearer = |e: &Entry| own.common_prefix_len(&e.id) > depth;
        let old = &mut self.buckets[depth];
        let mut near = Bucket::new(now);
        let (moved, kept): (Vec<_>, Vec<_>) = old.nodes.drain(..).partition(nearer);
        (near.nodes, old.nodes) = (moved, kept);
        let (moved, kept): (Vec<_>, Vec<_>) = old.replacements.drain(..).partition(nearer);
        (near.replacements, old.replacements) = (moved, kept);
        self.buckets.push(near);
    }

    /// A query to `id` went unanswered. A node that turns bad is replaced
    /// by the newest node waiting aside in its bucket.
    pub fn failed(&mut self, id: &Id, now: Instant) {
        let index = self.bucket_index(id);
        let bucket = &mut self.buckets[index];
        let Some(pos) = bucket.nodes.iter().position(|e| e.id == *id) else {
            return;
        };
        bucket.nodes[pos].failures += 1;
        if bucket.nodes[pos].status(now) == Status::Bad {
            if let Some(replacement) = bucket.replacements.pop() {
                bucket.nodes[pos] = replacement;
                bucket.last_changed = now;
            }
        }
    }

    /// We sent a query to `id` (so it is not pinged again too soon).
    pub fn queried(&mut self, id: &Id, now: Instant) {
        if let Some(entry) = self.find_mut(id) {
            entry.last_ping = Some(now);
        }
    }

    /// Up to `count` nodes closest to `target`, good ones before
    /// questionable ones of the same distance; bad nodes never.
    pub fn closest(&self, target: &Id, count: usize, now: Instant) -> Vec<NodeInfo> {
        let mut nodes: Vec<&Entry> = self
            .entries()
            .filter(|e| e.status(now) != Status::Bad)
            .collect();
        nodes.sort_by_key(|e| e.id.distance(target));
        nodes.into_iter().take(count).map(Entry::info).collect()
    }

    /// The same nodes under a new own id (BEP 42 made us change it):
    /// buckets are laid out anew around it.
    pub fn with_own_id(&self, own_id: Id, now: Instant) -> Self {
        let mut table = Self::new(own_id, self.max_per_ip, now);
        for bucket in &self.buckets {
            for entry in &bucket.nodes {
                if entry.id != own_id {
                    table.insert_entry(entry.clone(), now);
                }
            }
        }
        table
    }

    /// Places an existing entry, splitting as needed; dropped if its bucket is full.
    fn insert_entry(&mut self, entry: Entry, now: Instant) {
        loop {
            let index = self.bucket_index(&entry.id);
            let count = self.buckets.len();
            let bucket = &mut self.buckets[index];
            if bucket.nodes.len() < K {
                bucket.nodes.push(entry);
                return;
            }
            if index == count - 1 && count < 160 {
                self.split(now);
                continue;
            }
            return;
        }
    }

    /// Random targets in up to `max` buckets nobody has touched for
    /// [`REFRESH_AFTER`]; those buckets count as refreshed from now.
    pub fn refresh_targets<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        max: usize,
        rng: &mut R,
    ) -> Vec<Id> {
        let own = self.own_id;
        let last = self.buckets.len() - 1;
        let mut targets = Vec::new();
        for (index, bucket) in self.buckets.iter_mut().enumerate() {
            if targets.len() < max
                && now.saturating_duration_since(bucket.last_changed) >= REFRESH_AFTER
            {
                bucket.last_changed = now;
                // The last bucket also holds ids sharing more bits; any of them will do.
                let prefix = if index == last { index.min(159) } else { index };
                targets.push(own.random_in_bucket(prefix, rng));
            }
        }
        targets
    }

    /// Questionable nodes not pinged lately: ping them to keep the table fresh.
    pub fn to_ping(&mut self, now: Instant, max: usize) -> Vec<NodeInfo> {
        let mut out = Vec::new();
        for bucket in &mut self.buckets {
            for e in &mut bucket.nodes {
                if out.len() >= max {
                    return out;
                }
                if e.status(now) == Status::Questionable
                    && e.last_ping
                        .is_none_or(|t| now.saturating_duration_since(t) >= PING_INTERVAL)
                {
                    e.last_ping = Some(now);
                    out.push(e.info());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn public(n: u32) -> SocketAddr {
        SocketAddr::from(([1, 2, (n >> 8) as u8, n as u8], 6881))
    }

    fn table() -> (RoutingTable, Instant) {
        let now = Instant::now();
        (RoutingTable::new(Id([0; 20]), 1, now), now)
    }

    /// An id whose first set bit is `bit`, with `n` in its last bytes.
    fn id_at(bit: usize, n: u32) -> Id {
        let mut id = [0; 20];
        id[bit / 8] = 0x80 >> (bit % 8);
        id[16..].copy_from_slice(&n.to_be_bytes());
        Id(id)
    }

    #[test]
    fn only_the_bucket_holding_our_id_splits() {
        let (mut t, now) = table();
        // Far half of the space (bit 0 set): one bucket's worth, no more.
        for n in 0..20 {
            t.heard_from(id_at(0, n), public(n), Heard::Response, now);
        }
        assert_eq!(t.entries().filter(|e| e.id.bit(0)).count(), K);
        // Nearer nodes keep splitting the bucket holding our id.
        for bit in 1..10 {
            for n in 0..3 {
                let n = (bit * 10 + n) as u32;
                assert_eq!(
                    t.heard_from(id_at(bit, n), public(n + 100), Heard::Response, now),
                    Outcome::Added
                );
            }
        }
        assert_eq!(t.len(), K + 27);
        assert!(t.bucket_count() > 2);
    }

    #[test]
    fn ping_before_replace_then_replace_once_bad() {
        let (mut t, now) = table();
        for n in 0..K as u32 {
            t.heard_from(id_at(0, n), public(n), Heard::Response, now);
        }
        // Full of good nodes: a newcomer is kept aside without pings.
        let newcomer = id_at(0, 99);
        assert_eq!(
            t.heard_from(newcomer, public(99), Heard::Response, now),
            Outcome::Rejected
        );
        // 15 minutes later they are questionable: ping them first.
        let later = now + GOOD_FOR;
        let Outcome::PingFirst(to_ping) =
            t.heard_from(newcomer, public(99), Heard::Response, later)
        else {
            panic!("expected pings");
        };
        assert_eq!(to_ping.len(), K);
        // One answers, one does not (twice): the silent one makes room.
        t.heard_from(to_ping[0].id, to_ping[0].addr, Heard::Response, later);
        t.failed(&to_ping[1].id, later);
        assert!(!t.entries().any(|e| e.id == newcomer));
        t.failed(&to_ping[1].id, later);
        assert!(t.entries().any(|e| e.id == newcomer));
        assert!(!t.entries().any(|e| e.id == to_ping[1].id));
        assert_eq!(t.len(), K);
    }

    #[test]
    fn statuses_follow_the_fifteen_minute_rule() {
        let (mut t, now) = table();
        let id = id_at(3, 1);
        t.heard_from(id, public(1), Heard::Query, now);
        assert_eq!(t.count(Status::Questionable, now), 1, "never answered");
        t.heard_from(id, public(1), Heard::Response, now);
        assert_eq!(t.count(Status::Good, now), 1);
        let later = now + GOOD_FOR;
        assert_eq!(t.count(Status::Questionable, later), 1);
        t.heard_from(id, public(1), Heard::Query, later);
        assert_eq!(
            t.count(Status::Good, later),
            1,
            "queried us after answering once"
        );
        t.failed(&id, later);
        t.failed(&id, later);
        assert_eq!(t.count(Status::Bad, later), 1);
        assert!(
            t.closest(&id, 8, later).is_empty(),
            "bad nodes are not handed out"
        );
    }

    #[test]
    fn per_ip_cap_applies_to_public_addresses_only() {
        let (mut t, now) = table();
        let same_ip = |port| SocketAddr::from(([1, 2, 3, 4], port));
        assert_eq!(
            t.heard_from(id_at(1, 1), same_ip(1), Heard::Response, now),
            Outcome::Added
        );
        assert_eq!(
            t.heard_from(id_at(2, 2), same_ip(2), Heard::Response, now),
            Outcome::Rejected
        );
        for port in 1..=5 {
            let local = SocketAddr::from(([127, 0, 0, 1], port));
            assert_eq!(
                t.heard_from(id_at(3 + port as usize, 0), local, Heard::Response, now),
                Outcome::Added
            );
        }
    }

    #[test]
    fn an_id_cannot_move_to_another_address() {
        let (mut t, now) = table();
        t.heard_from(id_at(1, 1), public(1), Heard::Response, now);
        assert_eq!(
            t.heard_from(id_at(1, 1), public(2), Heard::Response, now),
            Outcome::Rejected
        );
        assert_eq!(
            t.heard_from(Id([0; 20]), public(3), Heard::Response, now),
            Outcome::Rejected
        );
        assert_eq!(t.closest(&Id([0; 20]), 8, now)[0].addr, public(1));
    }

    #[test]
    fn a_new_own_id_keeps_the_nodes() {
        let (mut t, now) = table();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for n in 0..40 {
            t.heard_from(Id::random(&mut rng), public(n), Heard::Response, now);
        }
        let moved = t.with_own_id(Id([0xff; 20]), now);
        assert_eq!(moved.own_id(), Id([0xff; 20]));
        assert!(moved.len() >= K && moved.len() <= t.len());
        assert!(moved.entries().all(|e| t.entries().any(|o| o.id == e.id)));
    }

    #[test]
    fn closest_is_sorted_by_xor_distance() {
        let (mut t, now) = table();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut all = Vec::new();
        for n in 0..200 {
            let id = Id::random(&mut rng);
            if t.heard_from(id, public(n), Heard::Response, now) == Outcome::Added {
                all.push(id);
            }
        }
        let target = Id::random(&mut rng);
        all.sort_by_key(|id| id.distance(&target));
        let closest: Vec<Id> = t.closest(&target, K, now).iter().map(|n| n.id).collect();
        assert_eq!(closest, all[..K]);
    }

    #[test]
    fn untouched_buckets_are_refreshed_once() {
        let (mut t, now) = table();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        t.heard_from(id_at(0, 1), public(1), Heard::Response, now);
        assert!(t.refresh_targets(now, 8, &mut rng).is_empty());
        let later = now + REFRESH_AFTER;
        assert_eq!(
            t.refresh_targets(later, 8, &mut rng).len(),
            t.bucket_count()
        );
        assert!(t.refresh_targets(later, 8, &mut rng).is_empty());
    }
}
