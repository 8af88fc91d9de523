//! Iterative lookups (BEP 5): query the closest known nodes, `alpha` at a
//! time, learn closer ones from their replies, and stop when the `k` closest
//! nodes still in the running have all answered.
//!
//! Pure state machine: the node feeds it replies and failures and sends the
//! queries it asks for. Bootstrap routers enter with no known id and rank
//! behind every node with one, so they are asked only while better nodes
//! are missing.

use std::net::SocketAddr;

use super::id::Id;
use super::krpc::NodeInfo;

/// Queries in flight among the k closest.
pub const ALPHA: usize = 3;
/// Candidates kept; farther ones that were never asked are forgotten.
const MAX_CANDIDATES: usize = 128;
/// Peers collected per lookup.
const MAX_PEERS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Waiting,
    InFlight,
    Answered { token: Option<Vec<u8>> },
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    id: Option<Id>,
    addr: SocketAddr,
    state: State,
}

/// A node that answered, with the token it gave (get_peers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub node: NodeInfo,
    pub token: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Lookup {
    target: Id,
    k: usize,
    candidates: Vec<Candidate>,
    peers: Vec<SocketAddr>,
    queries_sent: usize,
}

impl Lookup {
    /// Starts from known nodes and, behind them, bootstrap addresses.
    pub fn new(target: Id, k: usize, known: &[NodeInfo], bootstrap: &[SocketAddr]) -> Self {
        let mut lookup = Self {
            target,
            k,
            candidates: Vec::new(),
            peers: Vec::new(),
            queries_sent: 0,
        };
        for node in known {
            lookup.add(Some(node.id), node.addr);
        }
        for addr in bootstrap {
            lookup.add(None, *addr);
        }
        lookup
    }

    pub fn target(&self) -> Id {
        self.target
    }

    fn rank(&self, id: Option<Id>) -> (bool, [u8; 20]) {
        match id {
            Some(id) => (false, id.distance(&self.target)),
            None => (true, [0xff; 20]),
        }
    }

    fn add(&mut self, id: Option<Id>, addr: SocketAddr) {
        if self
            .candidates
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        let rank = self.rank(id);
        let at = self.candidates.partition_point(|c| self.rank(c.id) <= rank);
        self.candidates.insert(
            at,
            Candidate {
                id,
                addr,
                state: State::Waiting,
            },
        );
        if self.candidates.len() > MAX_CANDIDATES {
            if let Some(far) = self
                .candidates
                .iter()
                .rposition(|c| c.state == State::Waiting)
            {
                self.candidates.remove(far);
            }
        }
    }

    /// Indices of the k closest candidates that have not failed.
    fn top(&self) -> impl Iterator<Item = usize> + '_ {
        self.candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state != State::Failed)
            .take(self.k)
            .map(|(i, _)| i)
    }

    /// Addresses to query now (marked in flight).
    pub fn next_queries(&mut self) -> Vec<SocketAddr> {
        let top: Vec<usize> = self.top().collect();
        let mut in_flight = top
            .iter()
            .filter(|&&i| self.candidates[i].state == State::InFlight)
            .count();
        let mut out = Vec::new();
        for i in top {
            if in_flight >= ALPHA {
                break;
            }
            let c = &mut self.candidates[i];
            if c.state == State::Waiting {
                c.state = State::InFlight;
                in_flight += 1;
                out.push(c.addr);
            }
        }
        self.queries_sent += out.len();
        out
    }

    /// A reply from `from`: its id, the closer nodes it knows, the peers and
    /// token it gave. `nodes` must already be filtered to our address family.
    pub fn on_reply(
        &mut self,
        from: SocketAddr,
        id: Id,
        nodes: &[NodeInfo],
        peers: &[SocketAddr],
        token: Option<Vec<u8>>,
    ) {
        if let Some(pos) = self.candidates.iter().position(|c| c.addr == from) {
            let mut c = self.candidates.remove(pos);
            if c.state == State::Failed {
                // A late reply after its timeout: still good for its nodes.
                self.candidates.insert(pos, c);
            } else {
                c.id = Some(id);
                c.state = State::Answered { token };
                let rank = self.rank(c.id);
                let at = self.candidates.partition_point(|x| self.rank(x.id) <= rank);
                self.candidates.insert(at, c);
            }
        }
        for node in nodes {
            self.add(Some(node.id), node.addr);
        }
        for peer in peers {
            if self.peers.len() < MAX_PEERS && !self.peers.contains(peer) {
                self.peers.push(*peer);
            }
        }
    }

    /// `from` did not answer (timeout or error).
    pub fn on_failure(&mut self, from: SocketAddr) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == from) {
            c.state = State::Failed;
        }
    }

    /// True once nothing among the k closest is waiting or in flight.
    pub fn is_done(&self) -> bool {
        self.top().all(|i| {
            matches!(
                self.candidates[i].state,
                State::Answered { .. } | State::Failed
            )
        })
    }

    /// The k closest nodes that answered, closest first.
    pub fn closest(&self) -> Vec<Answered> {
        self.candidates
            .iter()
            .filter_map(|c| match (&c.state, c.id) {
                (State::Answered { token }, Some(id)) => Some(Answered {
                    node: NodeInfo { id, addr: c.addr },
                    token: token.clone(),
                }),
                _ => None,
            })
            .take(self.k)
            .collect()
    }

    pub fn peers(&self) -> &[SocketAddr] {
        &self.peers
    }

    pub fn queries_sent(&self) -> usize {
        self.queries_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dht::routing_table::{Heard, RoutingTable};
    use rand::SeedableRng;
    use std::time::Instant;

    /// A simulated network: every node has a real routing table filled
    /// with every other node (so each knows its neighbourhood well and the
    /// far space coarsely), and answers with the 8 closest it knows.
    struct Net {
        nodes: Vec<NodeInfo>,
        tables: Vec<RoutingTable>,
    }

    impl Net {
        fn new(count: u16, seed: u64) -> Self {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let now = Instant::now();
            let nodes: Vec<NodeInfo> = (0..count)
                .map(|n| NodeInfo {
                    id: Id::random(&mut rng),
                    addr: SocketAddr::from(([127, 0, 0, 1], 1000 + n)),
                })
                .collect();
            let tables = nodes
                .iter()
                .map(|me| {
                    let mut table = RoutingTable::new(me.id, 1, now);
                    for other in &nodes {
                        table.heard_from(other.id, other.addr, Heard::Response, now);
                    }
                    table
                })
                .collect();
            Self { nodes, tables }
        }

        fn at(&self, addr: SocketAddr) -> NodeInfo {
            *self.nodes.iter().find(|n| n.addr == addr).unwrap()
        }

        fn reply(&self, addr: SocketAddr, target: &Id) -> Vec<NodeInfo> {
            let me = self.nodes.iter().position(|n| n.addr == addr).unwrap();
            self.tables[me].closest(target, 8, Instant::now())
        }

        fn true_closest(&self, target: &Id, k: usize) -> Vec<Id> {
            let mut ids: Vec<Id> = self.nodes.iter().map(|n| n.id).collect();
            ids.sort_by_key(|id| id.distance(target));
            ids.truncate(k);
            ids
        }
    }

    #[test]
    fn converges_to_the_true_k_closest_from_a_single_router() {
        let net = Net::new(300, 11);
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        for _ in 0..10 {
            let target = Id::random(&mut rng);
            let mut lookup = Lookup::new(target, 8, &[], &[net.nodes[0].addr]);
            let mut rounds = 0;
            while !lookup.is_done() {
                let batch = lookup.next_queries();
                assert!(!batch.is_empty(), "stuck with nothing in flight");
                assert!(batch.len() <= ALPHA);
                for addr in batch {
                    let node = net.at(addr);
                    lookup.on_reply(addr, node.id, &net.reply(addr, &target), &[], None);
                }
                rounds += 1;
                assert!(rounds < 100);
            }
            let found: Vec<Id> = lookup.closest().iter().map(|a| a.node.id).collect();
            assert_eq!(found, net.true_closest(&target, 8));
            assert!(lookup.queries_sent() < 80, "{}", lookup.queries_sent());
        }
    }

    #[test]
    fn failures_are_skipped_and_an_empty_start_is_done_at_once() {
        let target = Id([0; 20]);
        assert!(Lookup::new(target, 8, &[], &[]).is_done());

        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        let b = SocketAddr::from(([127, 0, 0, 1], 2));
        let mut lookup = Lookup::new(target, 8, &[], &[a, b]);
        assert_eq!(lookup.next_queries(), vec![a, b]);
        lookup.on_failure(a);
        assert!(!lookup.is_done());
        lookup.on_reply(b, Id([1; 20]), &[], &[], Some(b"tok".to_vec()));
        assert!(lookup.is_done());
        assert_eq!(
            lookup.closest(),
            vec![Answered {
                node: NodeInfo {
                    id: Id([1; 20]),
                    addr: b
                },
                token: Some(b"tok".to_vec())
            }]
        );
    }

    #[test]
    fn peers_are_collected_once() {
        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        let peer = SocketAddr::from(([10, 0, 0, 1], 6881));
        let mut lookup = Lookup::new(Id([0; 20]), 8, &[], &[a]);
        lookup.next_queries();
        lookup.on_reply(a, Id([1; 20]), &[], &[peer, peer], None);
        assert_eq!(lookup.peers(), [peer]);
    }
}
