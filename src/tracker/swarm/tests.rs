use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const HASH: Id20 = [7; 20];

fn v4(last: u8, port: u16) -> Endpoint {
    Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
}

fn req(endpoint: Endpoint, event: Event, left: u64, numwant: usize) -> Announce {
    Announce {
        info_hash: HASH,
        peer_id: [endpoint.port() as u8; 20],
        endpoint,
        event,
        left,
        numwant,
    }
}

/// Announces and returns the counts and the addresses handed out.
fn announce(swarms: &Swarms, req: &Announce, now: u32) -> (Counts, Vec<Vec<u8>>) {
    let mut peers = Vec::new();
    let counts = swarms
        .announce(req, now, &mut XorShift::new(42), &mut |p| {
            peers.push(p.addr.to_vec())
        })
        .expect("announce accepted");
    (counts, peers)
}

fn bytes(endpoint: Endpoint) -> Vec<u8> {
    match endpoint {
        Endpoint::V4(b) => b.to_vec(),
        Endpoint::V6(b) => b.to_vec(),
    }
}

#[test]
fn endpoint_normalises_v4_mapped_addresses() {
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert_eq!(
        Endpoint::new(mapped, 6881),
        Endpoint::V4([192, 0, 2, 1, 0x1a, 0xe1])
    );
    let v6 = Endpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
    assert_eq!(v6.socket_addr().to_string(), "[::1]:80");
}

#[test]
fn requester_is_never_returned_to_itself() {
    let swarms = Swarms::new(Limits::default());
    let (counts, peers) = announce(&swarms, &req(v4(1, 1000), Event::Started, 5, 50), 0);
    assert_eq!(counts.leechers, 1);
    assert!(peers.is_empty());
    let (counts, peers) = announce(&swarms, &req(v4(2, 1000), Event::Started, 5, 50), 0);
    assert_eq!(counts.leechers, 2);
    assert_eq!(peers, vec![bytes(v4(1, 1000))]);
}

#[test]
fn same_ip_different_port_is_another_peer() {
    let swarms = Swarms::new(Limits::default());
    announce(&swarms, &req(v4(1, 1000), Event::Started, 5, 50), 0);
    let (counts, peers) = announce(&swarms, &req(v4(1, 1001), Event::Started, 5, 50), 0);
    assert_eq!(counts.leechers, 2);
    assert_eq!(peers, vec![bytes(v4(1, 1000))]);
}

#[test]
fn seeders_get_leechers_first() {
    let swarms = Swarms::new(Limits::default());
    for i in 0..10 {
        announce(&swarms, &req(v4(i, 1), Event::Started, 0, 0), 0);
    }
    for i in 10..13 {
        announce(&swarms, &req(v4(i, 1), Event::Started, 9, 0), 0);
    }
    let (counts, peers) = announce(&swarms, &req(v4(0, 1), Event::None, 0, 4), 0);
    assert_eq!((counts.seeders, counts.leechers), (10, 3));
    assert_eq!(peers.len(), 4);
    let leechers: Vec<Vec<u8>> = (10..13).map(|i| bytes(v4(i, 1))).collect();
    for peer in &peers[..3] {
        assert!(leechers.contains(peer), "leechers come first: {peers:?}");
    }
    assert!(!leechers.contains(&peers[3]));
}

#[test]
fn numwant_caps_the_reply_and_zero_gives_none() {
    let swarms = Swarms::new(Limits::default());
    for i in 0..30 {
        announce(&swarms, &req(v4(i, 1), Event::Started, 1, 0), 0);
    }
    let (_, peers) = announce(&swarms, &req(v4(100, 1), Event::None, 1, 7), 0);
    assert_eq!(peers.len(), 7);
    let unique: std::collections::HashSet<_> = peers.iter().collect();
    assert_eq!(unique.len(), 7, "no duplicates");
    let (counts, peers) = announce(&swarms, &req(v4(101, 1), Event::None, 1, 0), 0);
    assert!(peers.is_empty());
    assert_eq!(counts.leechers, 32);
}

#[test]
fn stopped_removes_the_peer_and_never_creates_one() {
    let swarms = Swarms::new(Limits::default());
    let (counts, _) = announce(&swarms, &req(v4(1, 1), Event::Stopped, 0, 50), 0);
    assert_eq!(counts, Counts::default());
    assert_eq!(swarms.totals().torrents, 0, "no swarm created");

    announce(&swarms, &req(v4(1, 1), Event::Started, 1, 50), 0);
    announce(&swarms, &req(v4(2, 1), Event::Started, 0, 50), 0);
    let (counts, peers) = announce(&swarms, &req(v4(1, 1), Event::Stopped, 1, 50), 0);
    assert_eq!((counts.seeders, counts.leechers), (1, 0));
    assert!(peers.is_empty(), "a stopping peer gets no peers");
    let (_, peers) = announce(&swarms, &req(v4(3, 1), Event::None, 1, 50), 0);
    assert_eq!(peers, vec![bytes(v4(2, 1))]);
}

#[test]
fn completed_counts_once_per_peer_and_only_with_nothing_left() {
    let swarms = Swarms::new(Limits::default());
    announce(&swarms, &req(v4(1, 1), Event::Started, 10, 0), 0);
    let (counts, _) = announce(&swarms, &req(v4(1, 1), Event::Completed, 3, 0), 0);
    assert_eq!(counts.completed, 0, "left > 0 is not a completion");
    let (counts, _) = announce(&swarms, &req(v4(1, 1), Event::Completed, 0, 0), 0);
    assert_eq!(
        (counts.completed, counts.seeders, counts.leechers),
        (1, 1, 0)
    );
    let (counts, _) = announce(&swarms, &req(v4(1, 1), Event::Completed, 0, 0), 0);
    assert_eq!(counts.completed, 1, "repeated completed");
    let (counts, _) = announce(&swarms, &req(v4(2, 1), Event::Completed, 0, 0), 0);
    assert_eq!(counts.completed, 2);
}

#[test]
fn expiry_drops_quiet_peers_and_empty_swarms_but_keeps_completed() {
    let swarms = Swarms::new(Limits::default());
    announce(&swarms, &req(v4(1, 1), Event::Completed, 0, 0), 100);
    announce(&swarms, &req(v4(2, 1), Event::Started, 5, 0), 200);
    let other = Announce {
        info_hash: [9; 20],
        ..req(v4(3, 1), Event::Started, 5, 0)
    };
    swarms
        .announce(&other, 100, &mut XorShift::new(1), &mut |_| {})
        .unwrap();
    assert_eq!(swarms.expire(150), 2);
    assert_eq!(
        swarms.scrape(&HASH),
        Counts {
            seeders: 0,
            leechers: 1,
            completed: 1
        }
    );
    assert_eq!(swarms.scrape(&[9; 20]), Counts::default());
    assert_eq!(
        swarms.totals().torrents,
        1,
        "empty swarm without completions dropped"
    );
    assert_eq!(swarms.expire(300), 1);
    assert_eq!(swarms.scrape(&HASH).completed, 1, "completed count kept");
    assert_eq!(swarms.totals().torrents, 1);
}

#[test]
fn limits_refuse_new_torrents_evict_in_full_swarms_and_serve_existing_peers() {
    let swarms = Swarms::new(Limits {
        max_torrents: 1,
        max_peers_per_swarm: 2,
        ..Limits::default()
    });
    let mut rng = XorShift::new(1);
    swarms
        .announce(
            &req(v4(1, 1), Event::Started, 1, 0),
            0,
            &mut rng,
            &mut |_| {},
        )
        .unwrap();
    swarms
        .announce(
            &req(v4(2, 1), Event::Started, 1, 0),
            0,
            &mut rng,
            &mut |_| {},
        )
        .unwrap();
    // A full swarm makes room for the newcomer.
    swarms
        .announce(
            &req(v4(3, 1), Event::Started, 1, 0),
            0,
            &mut rng,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(swarms.peer_count(), 2);
    assert_eq!(swarms.limit_counts().evicted_swarm_full, 1);
    swarms
        .announce(&req(v4(3, 1), Event::None, 0, 0), 0, &mut rng, &mut |_| {})
        .unwrap();
    let other = Announce {
        info_hash: [1; 20],
        ..req(v4(1, 1), Event::Started, 1, 0)
    };
    assert_eq!(
        swarms.announce(&other, 0, &mut rng, &mut |_| {}),
        Err(Refused::TooManyTorrents)
    );
    assert_eq!(swarms.limit_counts().refused_torrents, 1);
}

/// Each run is strictly sorted by address, within its capacity.
fn assert_sorted<const N: usize>(list: &PeerList<N>) {
    assert!(list.seeder_count() <= list.len() && list.len() <= list.recs.len());
    for run in [list.seeders(), list.leechers()] {
        assert!(run.windows(2).all(|w| w[0].addr < w[1].addr), "{run:?}");
    }
}

/// Every per-address count agrees with the peers stored.
fn assert_counts_consistent(swarms: &Swarms) {
    let mut per_ip: HashMap<IpKey, u32> = HashMap::new();
    let mut total = 0;
    for shard in &*swarms.shards {
        for swarm in lock(shard).values() {
            swarm.for_each_peer_ip(&mut |key| {
                *per_ip.entry(key).or_default() += 1;
                total += 1;
            });
            assert_sorted(&swarm.v4);
            if let Some(v6) = &swarm.v6 {
                assert_sorted(v6);
                assert!(v6.len() > 0, "an empty IPv6 list is dropped");
            }
        }
    }
    let mut stored: HashMap<IpKey, u32> = HashMap::new();
    for shard in &*swarms.per_ip {
        stored.extend(lock(shard).iter());
    }
    assert_eq!(stored, per_ip);
    assert_eq!(swarms.peer_count(), total);
}

#[test]
fn a_later_peer_is_accepted_after_one_address_filled_a_swarm() {
    // One address with 100 ports in a swarm of at most 100 (its share raised
    // so it can fill it): another address still gets in, and stays.
    let swarms = Swarms::new(Limits {
        max_peers_per_swarm: 100,
        max_ports_per_ip: 1_000,
        ..Limits::default()
    });
    for port in 0..100 {
        announce(&swarms, &req(v4(1, 1000 + port), Event::Started, 1, 0), 1);
    }
    let (counts, _) = announce(&swarms, &req(v4(2, 6881), Event::Started, 1, 0), 2);
    assert_eq!(counts.leechers, 100);
    for port in 100..400 {
        announce(&swarms, &req(v4(1, 1000 + port), Event::Started, 1, 0), 3);
    }
    let (_, peers) = announce(&swarms, &req(v4(3, 6881), Event::None, 1, 200), 4);
    assert!(
        peers.contains(&bytes(v4(2, 6881))),
        "the other address was kept"
    );
    assert_eq!(swarms.limit_counts().evicted_swarm_full, 302);
    assert_counts_consistent(&swarms);
}

#[test]
fn an_address_has_a_share_per_swarm_and_in_all() {
    let swarms = Swarms::new(Limits {
        max_ports_per_ip: 3,
        max_peers_per_ip: 10,
        ..Limits::default()
    });
    let mut rng = XorShift::new(3);
    let mut try_announce = |hash: u8, endpoint: Endpoint| {
        let announce = Announce {
            info_hash: [hash; 20],
            ..req(endpoint, Event::Started, 1, 0)
        };
        swarms.announce(&announce, 0, &mut rng, &mut |_| {})
    };
    for port in 0..3 {
        try_announce(1, v4(1, port)).unwrap();
    }
    assert_eq!(try_announce(1, v4(1, 3)), Err(Refused::PortsPerIp));
    try_announce(1, v4(2, 3)).unwrap();
    for hash in 2..5 {
        for port in 0..3 {
            let _ = try_announce(hash, v4(1, port));
        }
    }
    assert_eq!(try_announce(9, v4(1, 0)), Err(Refused::PeersPerIp));
    try_announce(9, v4(2, 0)).unwrap();
    let counts = swarms.limit_counts();
    assert_eq!(
        (counts.refused_ports_per_ip, counts.refused_peers_per_ip),
        (1, 3)
    );
    // Stopping frees the share.
    swarms
        .announce(
            &req(v4(1, 0), Event::Stopped, 1, 0),
            0,
            &mut XorShift::new(1),
            &mut |_| {},
        )
        .unwrap();
    assert_counts_consistent(&swarms);
}

#[test]
fn a_full_tracker_makes_room_for_newcomers_even_to_an_empty_swarm() {
    let swarms = Swarms::new(Limits {
        max_peers: 5,
        ..Limits::default()
    });
    for n in 0..5 {
        announce(&swarms, &req(v4(n, 1), Event::Started, 1, 0), 0);
    }
    let (counts, _) = announce(&swarms, &req(v4(9, 1), Event::Started, 1, 0), 1);
    assert_eq!(counts.leechers, 5);
    assert_eq!(swarms.limit_counts().evicted_tracker_full, 1);
    let empty = Announce {
        info_hash: [2; 20],
        ..req(v4(10, 1), Event::Started, 1, 0)
    };
    // A newcomer to an empty swarm takes a place in the largest one.
    let mut found = 0;
    let mut tries = 0;
    while found == 0 && tries < 64 {
        // The eviction samples shards; with one big swarm it may take tries.
        tries += 1;
        let newcomer = Announce {
            endpoint: v4(10 + tries, 1),
            ..empty
        };
        if swarms
            .announce(&newcomer, 1, &mut XorShift::new(tries.into()), &mut |_| {})
            .is_ok()
        {
            found = tries;
        }
    }
    assert!(found > 0, "the newcomer to an empty swarm was never let in");
    assert_eq!(swarms.peer_count(), 5);
    assert_eq!(swarms.scrape(&empty.info_hash).leechers, 1);
    let first = req(v4(0, 1), Event::Started, 1, 0).info_hash;
    assert_eq!(swarms.scrape(&first).leechers, 4);
    assert_counts_consistent(&swarms);
}

#[test]
fn a_full_tracker_with_nobody_to_evict_refuses() {
    let swarms = Swarms::new(Limits {
        max_peers: 0,
        ..Limits::default()
    });
    assert_eq!(
        swarms.announce(
            &req(v4(1, 1), Event::Started, 1, 0),
            0,
            &mut XorShift::new(1),
            &mut |_| {}
        ),
        Err(Refused::TrackerFull)
    );
    assert_eq!(swarms.limit_counts().refused_tracker_full, 1);
}

#[test]
fn ipv6_peers_go_only_to_ipv6_requesters() {
    let swarms = Swarms::new(Limits::default());
    let six = |port| Endpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
    announce(&swarms, &req(six(1), Event::Started, 1, 0), 0);
    announce(&swarms, &req(v4(1, 1), Event::Started, 1, 0), 0);
    let (counts, peers) = announce(&swarms, &req(six(2), Event::None, 1, 50), 0);
    assert_eq!(counts.leechers, 3, "counts cover both families");
    assert_eq!(peers, vec![bytes(six(1))]);
    let (_, peers) = announce(&swarms, &req(v4(2, 1), Event::None, 1, 50), 0);
    assert_eq!(peers, vec![bytes(v4(1, 1))]);
}

#[test]
fn export_then_import_restores_counts_and_peers() {
    let swarms = Swarms::new(Limits::default());
    announce(&swarms, &req(v4(1, 1), Event::Completed, 0, 0), 0);
    announce(&swarms, &req(v4(2, 1), Event::Started, 4, 0), 0);
    let six = Endpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 9);
    announce(&swarms, &req(six, Event::Started, 4, 0), 0);
    let saved = swarms.export();
    let restored = Swarms::new(Limits::default());
    restored.import(saved.clone(), 500);
    assert_eq!(restored.export(), saved);
    assert_eq!(restored.scrape(&HASH), swarms.scrape(&HASH));
    // Imported peers count as just seen: they survive an expiry before `now`.
    assert_eq!(restored.expire(400), 0);
    // The peer that completed before the restart is not counted twice.
    let (counts, _) = announce(&restored, &req(v4(1, 1), Event::Completed, 0, 0), 600);
    assert_eq!(counts.completed, 1);
}

#[derive(Debug, Clone)]
enum Op {
    Announce { who: u8, event: u8, seeder: bool },
    Expire { cutoff: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, 0u8..4, any::<bool>()).prop_map(|(who, event, seeder)| Op::Announce { who, event, seeder }),
        1 => (0u32..40).prop_map(|cutoff| Op::Expire { cutoff }),
    ]
}

proptest! {
    /// Counts, peer lists and the index agree with a plain model after any
    /// sequence of announces and expiries.
    #[test]
    fn store_matches_a_simple_model(ops in proptest::collection::vec(op(), 1..80)) {
        let swarms = Swarms::new(Limits::default());
        // who -> (seeder, last_seen)
        let mut model: HashMap<u8, (bool, u32)> = HashMap::new();
        let mut completed = 0u32;
        for (now, op) in ops.into_iter().enumerate() {
            let now = now as u32;
            match op {
                Op::Announce { who, event, seeder } => {
                    let event = [Event::None, Event::Started, Event::Completed, Event::Stopped][usize::from(event)];
                    let endpoint = if who % 3 == 0 {
                        Endpoint::new(IpAddr::V6(Ipv6Addr::new(1, 0, 0, 0, 0, 0, 0, u16::from(who))), 1)
                    } else {
                        v4(who, 1)
                    };
                    let (counts, peers) = announce(&swarms, &req(endpoint, event, u64::from(!seeder), 100), now);
                    if event == Event::Stopped {
                        model.remove(&who);
                        prop_assert!(peers.is_empty());
                    } else {
                        // Counted unless it was seeding here already.
                        let was_seeder = model.get(&who).is_some_and(|(s, _)| *s);
                        if event == Event::Completed && seeder && !was_seeder {
                            completed += 1;
                        }
                        model.insert(who, (seeder, now));
                        let same_family = model.keys().filter(|w| (**w % 3 == 0) == (who % 3 == 0)).count();
                        prop_assert_eq!(peers.len(), same_family - 1);
                        prop_assert!(!peers.contains(&bytes(endpoint)));
                    }
                    if !(model.is_empty() && completed == 0 && event == Event::Stopped) {
                        let seeders = model.values().filter(|(s, _)| *s).count() as u32;
                        prop_assert_eq!(counts, Counts { seeders, leechers: model.len() as u32 - seeders, completed });
                    }
                }
                Op::Expire { cutoff } => {
                    model.retain(|_, (_, seen)| *seen >= cutoff);
                    swarms.expire(cutoff);
                }
            }
        }
        let seeders = model.values().filter(|(s, _)| *s).count() as u32;
        let expected = if model.is_empty() && completed == 0 {
            Counts::default()
        } else {
            Counts { seeders, leechers: model.len() as u32 - seeders, completed }
        };
        prop_assert_eq!(swarms.scrape(&HASH), expected);
        assert_counts_consistent(&swarms);
    }
}

#[test]
fn last_seen_stays_exact_far_past_the_offset_range() {
    // Times are u16 offsets from a per-swarm base; 150,000 s is more than
    // twice their range. Each expiry keeps a peer seen at the cutoff and
    // drops one seen a second before.
    let swarms = Swarms::new(Limits::default());
    let peer = |n: u8, now: u32| announce(&swarms, &req(v4(n, 1), Event::Started, 1, 0), now);
    peer(1, 5);
    peer(2, 60_000);
    // No sweep for 100,000 s: the base moves, and the oldest peer counts
    // as seen 65,535 s ago (only a peer timeout above 18 h sees that).
    peer(3, 100_000);
    assert_eq!(swarms.expire(34_465), 0);
    assert_eq!(swarms.expire(60_000), 1, "the oldest peer");
    assert_eq!(swarms.expire(60_001), 1, "the peer seen at 60,000");
    peer(4, 150_000);
    assert_eq!(swarms.expire(100_000), 0);
    assert_eq!(swarms.expire(100_001), 1);
    assert_eq!(swarms.expire(150_000), 0);
    assert_eq!(swarms.scrape(&HASH).leechers, 1);
    // A re-announce refreshes the time; an earlier clock (tests, imports)
    // moves the base back.
    peer(4, 150_100);
    assert_eq!(swarms.expire(150_050), 0);
    peer(5, 140_000);
    assert_eq!(swarms.expire(140_001), 1, "the peer seen at 140,000");
    assert_eq!(swarms.expire(150_100), 0);
    assert_eq!(swarms.expire(150_101), 1);
    assert_counts_consistent(&swarms);
}

#[derive(Debug, Clone)]
enum ListOp {
    Add { ip: u8, port: u8, seeder: bool },
    Remove { ip: u8, port: u8 },
}

fn list_op() -> impl Strategy<Value = ListOp> {
    prop_oneof![
        3 => (0u8..6, 0u8..4, any::<bool>()).prop_map(|(ip, port, seeder)| ListOp::Add { ip, port, seeder }),
        2 => (0u8..6, 0u8..4).prop_map(|(ip, port)| ListOp::Remove { ip, port }),
    ]
}

proptest! {
    /// Inserts, moves between runs and removals keep both runs sorted and
    /// equal to a sorted model; `find` and `ports_of` agree with it; spare
    /// capacity stays bounded.
    #[test]
    fn peer_list_runs_match_a_sorted_model(ops in proptest::collection::vec(list_op(), 1..120)) {
        let mut list = PeerList::<6>::default();
        let mut model: std::collections::BTreeMap<[u8; 6], bool> = Default::default();
        let addr = |ip: u8, port: u8| [10, 0, ip / 3, ip, 0, port];
        for op in ops {
            match op {
                ListOp::Add { ip, port, seeder } => {
                    let a = addr(ip, port);
                    if let Some(at) = list.find(&a) {
                        list.remove_at(at);
                    }
                    list.insert(Rec { addr: a, seen: [ip, port] }, seeder);
                    model.insert(a, seeder);
                }
                ListOp::Remove { ip, port } => {
                    let a = addr(ip, port);
                    prop_assert_eq!(list.find(&a).is_some(), model.remove(&a).is_some());
                    if let Some(at) = list.find(&a) {
                        prop_assert_eq!(list.remove_at(at).addr, a);
                        list.trim();
                    }
                }
            }
            let run = |seeds: bool| model.iter().filter(|(_, s)| **s == seeds).map(|(a, _)| *a).collect::<Vec<_>>();
            prop_assert_eq!(list.seeders().iter().map(|r| r.addr).collect::<Vec<_>>(), run(true));
            prop_assert_eq!(list.leechers().iter().map(|r| r.addr).collect::<Vec<_>>(), run(false));
            for ip in 0..6 {
                let a = addr(ip, 0);
                let want = model.keys().filter(|k| k[..4] == a[..4]).count();
                prop_assert_eq!(list.ports_of(&a), want);
            }
            for rec in list.all() {
                prop_assert_eq!(rec.seen, [rec.addr[3], rec.addr[5]], "record moved whole");
            }
            prop_assert!(list.recs.len() <= 2 * list.len() + 1, "{} slots for {}", list.recs.len(), list.len());
        }
    }
}
