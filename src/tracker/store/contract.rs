//! The store contract: one seeded random sequence of announces, stops,
//! completes, scrapes and clock steps, applied to a small reference model
//! and to each store; every count and every peer set (asked with numwant
//! above the swarm size, compared as sets) must agree with the model.
//!
//! The in-memory store always runs. The Redis store runs when
//! `MKTORRENT_TEST_REDIS=redis://HOST:PORT[/DB]` is set (`.ci/run` starts a
//! server); otherwise the test says it was skipped. Each run uses fresh
//! random info hashes, so parallel runs on one server do not collide.
//!
//! What the contract leaves out: the per-address caps (in memory only), and
//! moves real clients do not make, such as a seeder turning leecher again.
//! Both stores count a `completed` from a peer not seeding here already (a
//! leecher or a newcomer).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::swarm::{Announce, Counts, Endpoint, Event, Id20, Limits, Rng, Swarms, XorShift};
use super::RedisStore;

const TIMEOUT: u32 = 100;
const TORRENTS: usize = 3;
const PEERS: usize = 24;
const STEPS: usize = 400;

/// One step of the sequence.
#[derive(Debug, Clone)]
enum Step {
    Announce(Announce),
    Scrape(Id20),
    Tick(u32),
}

/// What every store must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Announced(Counts, HashSet<Vec<u8>>),
    Scraped(Counts),
    Ticked,
}

/// Compact address -> (seeder, last seen).
type ModelPeers = HashMap<Vec<u8>, (bool, u64)>;

/// The reference: a peer is alive while `last + TIMEOUT >= now`.
#[derive(Default)]
struct Model {
    /// Per torrent: peers and completed.
    swarms: HashMap<Id20, (ModelPeers, u32)>,
}

impl Model {
    fn prune(&mut self, now: u64) {
        for (peers, _) in self.swarms.values_mut() {
            peers.retain(|_, (_, last)| *last + u64::from(TIMEOUT) >= now);
        }
    }

    fn counts(&self, hash: &Id20) -> Counts {
        let Some((peers, completed)) = self.swarms.get(hash) else {
            return Counts::default();
        };
        let seeders = peers.values().filter(|(s, _)| *s).count();
        Counts {
            seeders: seeders as u32,
            leechers: (peers.len() - seeders) as u32,
            completed: *completed,
        }
    }

    fn state(&self, hash: &Id20, addr: &[u8]) -> Option<bool> {
        self.swarms.get(hash)?.0.get(addr).map(|(s, _)| *s)
    }

    fn apply(&mut self, step: &Step, now: u64) -> Answer {
        self.prune(now);
        match step {
            Step::Tick(_) => Answer::Ticked,
            Step::Scrape(hash) => Answer::Scraped(self.counts(hash)),
            Step::Announce(req) => {
                let me = compact(&req.endpoint);
                let entry = self.swarms.entry(req.info_hash).or_default();
                if req.event == Event::Stopped {
                    entry.0.remove(&me);
                    return Answer::Announced(self.counts(&req.info_hash), HashSet::new());
                }
                let seeder = req.left == 0;
                let was_seeder = entry.0.get(&me).is_some_and(|(s, _)| *s);
                if req.event == Event::Completed && seeder && !was_seeder {
                    entry.1 += 1;
                }
                entry.0.insert(me.clone(), (seeder, now));
                let others = entry
                    .0
                    .keys()
                    .filter(|a| a.len() == me.len() && **a != me)
                    .cloned()
                    .collect();
                Answer::Announced(self.counts(&req.info_hash), others)
            }
        }
    }
}

fn compact(endpoint: &Endpoint) -> Vec<u8> {
    match endpoint {
        Endpoint::V4(b) => b.to_vec(),
        Endpoint::V6(b) => b.to_vec(),
    }
}

/// The seeded sequence: only moves real clients make (a seeder stays a
/// seeder; `completed` comes from a leecher or a newcomer).
fn sequence(seed: u64, hashes: &[Id20]) -> Vec<Step> {
    let mut rng = XorShift::new(seed);
    let endpoints: Vec<Endpoint> = (0..PEERS)
        .map(|i| {
            let port = 6881 + i as u16;
            if i % 3 == 2 {
                let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1);
                Endpoint::new(IpAddr::V6(ip), port)
            } else {
                Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8 + 1)), port)
            }
        })
        .collect();
    let mut model = Model::default();
    let mut now = 0u64;
    let mut steps = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        let step = match rng.below(20) {
            0 => Step::Tick(1 + rng.below(TIMEOUT as usize / 2) as u32),
            1 | 2 => Step::Scrape(hashes[rng.below(hashes.len())]),
            _ => {
                let info_hash = hashes[rng.below(hashes.len())];
                let endpoint = endpoints[rng.below(endpoints.len())];
                let state = model.state(&info_hash, &compact(&endpoint));
                let (event, left) = match (state, rng.below(10)) {
                    (_, 0) => (Event::Stopped, 1 + rng.below(1000) as u64),
                    (Some(true), _) => (Event::None, 0),
                    (Some(false), 1..=3) | (None, 1) => (Event::Completed, 0),
                    (Some(false), _) => (Event::None, 1 + rng.below(1000) as u64),
                    (None, 2) => (Event::Started, 0),
                    (None, _) => (Event::Started, 1 + rng.below(1000) as u64),
                };
                Step::Announce(Announce {
                    info_hash,
                    peer_id: [rng.below(256) as u8; 20],
                    endpoint,
                    event,
                    left,
                    numwant: PEERS * 2,
                })
            }
        };
        if let Step::Tick(by) = step {
            now += u64::from(by);
        }
        model.apply(&step, now);
        steps.push(step);
    }
    steps
}

/// Runs the sequence on `store`, checking each answer against the model.
async fn check<S: ContractStore>(store: &mut S, seed: u64, hashes: &[Id20], base: u64) {
    let mut model = Model::default();
    let mut now = base;
    for (i, step) in sequence(seed, hashes).iter().enumerate() {
        if let Step::Tick(by) = step {
            now += u64::from(*by);
        }
        let want = model.apply(step, now);
        let got = store.apply(step, now, seed ^ i as u64).await;
        assert_eq!(got, want, "{}: seed {seed}, step {i}: {step:?}", S::NAME);
    }
}

trait ContractStore {
    const NAME: &'static str;
    async fn apply(&mut self, step: &Step, now: u64, random: u64) -> Answer;
}

/// The in-memory store, with the housekeeping sweep run before each step.
struct Memory(Swarms);

impl ContractStore for Memory {
    const NAME: &'static str = "memory";
    async fn apply(&mut self, step: &Step, now: u64, random: u64) -> Answer {
        let now = u32::try_from(now).unwrap_or(u32::MAX);
        self.0.expire(now.saturating_sub(TIMEOUT));
        match step {
            Step::Tick(_) => Answer::Ticked,
            Step::Scrape(hash) => Answer::Scraped(self.0.scrape(hash)),
            Step::Announce(req) => {
                let mut rng = XorShift::new(random);
                let mut peers = HashSet::new();
                let counts = self
                    .0
                    .announce(req, now, &mut rng, &mut |p| {
                        peers.insert(p.addr.to_vec());
                    })
                    .unwrap_or_else(|refused| panic!("refused: {refused}"));
                Answer::Announced(counts, peers)
            }
        }
    }
}

struct Redis(RedisStore);

impl ContractStore for Redis {
    const NAME: &'static str = "redis";
    async fn apply(&mut self, step: &Step, now: u64, random: u64) -> Answer {
        match step {
            Step::Tick(_) => Answer::Ticked,
            Step::Scrape(hash) => Answer::Scraped(self.0.scrape(hash, now).await.unwrap()),
            Step::Announce(req) => {
                let reply = self
                    .0
                    .announce(req, now, TIMEOUT, 100_000, XorShift::new(random).next_u64())
                    .await
                    .unwrap();
                let entry = if matches!(req.endpoint, Endpoint::V4(_)) {
                    6
                } else {
                    18
                };
                let peers: HashSet<Vec<u8>> = reply
                    .peers
                    .chunks_exact(entry)
                    .map(<[u8]>::to_vec)
                    .collect();
                assert_eq!(peers.len() * entry, reply.peers.len(), "a peer twice");
                Answer::Announced(reply.counts, peers)
            }
        }
    }
}

fn hashes(salt: u64) -> Vec<Id20> {
    let mut unique = [0u8; 8];
    getrandom::fill(&mut unique).unwrap();
    (0..TORRENTS)
        .map(|t| {
            let mut h = [0u8; 20];
            h[..8].copy_from_slice(&unique);
            h[8..16].copy_from_slice(&salt.to_be_bytes());
            h[16] = t as u8;
            h
        })
        .collect()
}

const SEEDS: [u64; 6] = [1, 2, 3, 0xdead_beef, 42, 7_777_777];

#[tokio::test]
async fn memory_store_meets_the_contract() {
    for seed in SEEDS {
        let limits = Limits {
            max_peers_per_swarm: 100_000,
            ..Limits::default()
        };
        let mut store = Memory(Swarms::new(limits));
        // The memory clock starts at 0 (seconds since start).
        check(&mut store, seed, &hashes(seed), 1_000).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_meets_the_contract() {
    let Ok(url) = std::env::var("MKTORRENT_TEST_REDIS") else {
        eprintln!("skipped: MKTORRENT_TEST_REDIS is not set (redis://127.0.0.1:PORT)");
        return;
    };
    let store = RedisStore::new(&url, true).unwrap();
    store.check().await.unwrap();
    let mut store = Redis(store);
    // Redis scores are Unix seconds; keys expire by real time, long after the test.
    let base = u64::from(super::super::Shared::unix_now());
    for seed in SEEDS {
        check(&mut store, seed, &hashes(seed), base).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_windows_are_random_and_bounded() {
    let Ok(url) = std::env::var("MKTORRENT_TEST_REDIS") else {
        eprintln!("skipped: MKTORRENT_TEST_REDIS is not set (redis://127.0.0.1:PORT)");
        return;
    };
    let store = RedisStore::new(&url, true).unwrap();
    let hash = hashes(99)[0];
    let now = u64::from(super::super::Shared::unix_now());
    let announce = |i: u32, numwant: usize| Announce {
        info_hash: hash,
        peer_id: [0; 20],
        endpoint: Endpoint::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 1),
        event: Event::Started,
        left: 1,
        numwant,
    };
    for i in 0..100 {
        store
            .announce(&announce(i, 0), now, 60, 1000, 0)
            .await
            .unwrap();
    }
    let mut seen = HashSet::new();
    for r in 0..20u64 {
        let reply = store
            .announce(
                &announce(0, 10),
                now,
                60,
                1000,
                r.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
            .await
            .unwrap();
        assert_eq!(reply.peers.len(), 60, "10 peers of 6 bytes");
        assert!(!reply
            .peers
            .chunks(6)
            .any(|p| p == compact(&announce(0, 0).endpoint)));
        seen.extend(reply.peers.chunks(6).map(<[u8]>::to_vec));
    }
    assert!(
        seen.len() > 30,
        "windows start at random offsets: {} seen",
        seen.len()
    );
    // The per-swarm cap: a newcomer to a full set takes the stalest peer's place.
    let capped = store
        .announce(&announce(500, 0), now + 1, 60, 100, 0)
        .await
        .unwrap();
    assert_eq!(capped.counts.leechers, 100);
}
