//! The DHT node on loopback: a network of our own nodes in one process
//! (lookups converge, announce/get_peers, expiry by a moved clock), and a
//! raw KRPC probe of one node. Every socket is 127.0.0.1 port 0; no test
//! sends a packet anywhere else.

use std::net::SocketAddr;
use std::time::Duration;

use mktorrent_rs::dht::{krpc, Clock, Config, Dht, Id};
use mktorrent_rs::shutdown::Shutdown;
use rand::SeedableRng;
use tokio::net::UdpSocket;

/// A network test must finish well within this, or it fails.
const DEADLINE: Duration = Duration::from_secs(20);

pub fn test_config(bootstrap: Vec<SocketAddr>, clock: &Clock) -> Config {
    Config {
        bootstrap,
        query_timeout: Duration::from_secs(2),
        rate_limit: 0,
        tick: Duration::from_millis(50),
        // Re-announces would hide expiry; they have their own test.
        reannounce_every: Duration::from_secs(86_400 * 365),
        clock: clock.clone(),
        ..Config::default()
    }
}

pub async fn start(config: Config, shutdown: &Shutdown) -> Dht {
    start_on("127.0.0.1:0", config, shutdown).await
}

async fn start_on(addr: &str, config: Config, shutdown: &Shutdown) -> Dht {
    let socket = UdpSocket::bind(addr).await.unwrap();
    Dht::start(socket, config, shutdown).unwrap()
}

/// Nodes 1.. bootstrap from node 0; returns once every table has k nodes.
async fn network(size: usize, clock: &Clock, shutdown: &Shutdown) -> Vec<Dht> {
    let first = start(test_config(vec![], clock), shutdown).await;
    let mut nodes = vec![first.clone()];
    for _ in 1..size {
        let config = test_config(vec![first.local_addr()], clock);
        nodes.push(start(config, shutdown).await);
    }
    for node in &nodes {
        while node.stats().await.unwrap().nodes < 8 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    nodes
}

fn true_closest(nodes: &[Dht], target: &Id, except: Id, k: usize) -> Vec<Id> {
    let mut ids: Vec<Id> = nodes
        .iter()
        .map(Dht::id)
        .filter(|id| *id != except)
        .collect();
    ids.sort_by_key(|id| id.distance(target));
    ids.truncate(k);
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_nodes_converge_announce_find_and_expire() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let nodes = network(60, &clock, &shutdown).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);

        // Lookups from several nodes reach the true 8 closest.
        for from in [1, 17, 33, 59] {
            let target = Id::random(&mut rng);
            let found: Vec<Id> = nodes[from]
                .find_node(target)
                .await
                .unwrap()
                .iter()
                .map(|n| n.id)
                .collect();
            assert_eq!(found, true_closest(&nodes, &target, nodes[from].id(), 8));
        }

        // An announce through one node is found through another.
        let hash = Id::random(&mut rng);
        let announce = nodes[10].announce(hash, Some(4242)).await.unwrap();
        assert!(announce.stored >= 6, "{announce:?}");
        let peer: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let found = nodes[45].get_peers(hash).await.unwrap();
        assert_eq!(found.peers, vec![peer]);
        assert!(
            found.queries < 40,
            "a lookup takes a few round trips: {found:?}"
        );

        // implied_port: the announcer's UDP port is stored.
        let implied = Id::random(&mut rng);
        nodes[11].announce(implied, None).await.unwrap();
        let found = nodes[46].get_peers(implied).await.unwrap();
        assert_eq!(found.peers, vec![nodes[11].local_addr()]);

        // 45 minutes later the announce has expired everywhere.
        clock.advance(Duration::from_secs(46 * 60));
        let found = nodes[45].get_peers(hash).await.unwrap();
        assert!(found.peers.is_empty(), "{found:?}");
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    tokio::time::timeout(DEADLINE, shutdown.finished())
        .await
        .expect("every node task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeding_node_lists_itself_to_whoever_asks_it() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let seeder = start(test_config(vec![], &clock), &shutdown).await;
        let hash = Id([7; 20]);
        seeder.seed(hash, 51413).await.unwrap();
        // A downloader whose only entry point is the seeder's node.
        let downloader = start(test_config(vec![seeder.local_addr()], &clock), &shutdown).await;
        let found = downloader.get_peers(hash).await.unwrap();
        assert_eq!(found.peers, vec!["127.0.0.1:51413".parse().unwrap()]);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announces_are_repeated_when_the_table_grows_from_empty() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        // Announced while alone: nobody hears it.
        let lonely = start(test_config(vec![], &clock), &shutdown).await;
        let hash = Id([9; 20]);
        let first = lonely.announce(hash, Some(7000)).await.unwrap();
        assert_eq!(first.stored, 0);
        // A node that pings it enters its table: the announce is redone.
        let other = start(test_config(vec![], &clock), &shutdown).await;
        other.ping(lonely.local_addr()).await.unwrap();
        loop {
            if other.stats().await.unwrap().stored_hashes == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let found = other.get_peers(hash).await.unwrap();
        assert_eq!(found.peers, vec!["127.0.0.1:7000".parse().unwrap()]);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_router_is_retried_until_it_answers() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        // The router's port is held by a socket that never answers...
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let router_addr = silent.local_addr().unwrap();
        let config = Config {
            query_timeout: Duration::from_millis(200),
            ..test_config(vec![router_addr], &clock)
        };
        let node = start(config, &shutdown).await;
        let mut buf = [0u8; 1500];
        silent.recv_from(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(node.stats().await.unwrap().nodes, 0);
        // ...until the router comes up on it.
        drop(silent);
        let router = start_on(
            &router_addr.to_string(),
            test_config(vec![], &clock),
            &shutdown,
        )
        .await;
        while node.stats().await.unwrap().nodes == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(node.nodes().await.unwrap()[0].id, router.id());
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_nodes_exchange_nodes6_and_peers() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let first = start_on("[::1]:0", test_config(vec![], &clock), &shutdown).await;
        let mut nodes = vec![first.clone()];
        for _ in 0..5 {
            let config = test_config(vec![first.local_addr()], &clock);
            nodes.push(start_on("[::1]:0", config, &shutdown).await);
        }
        for node in &nodes {
            while node.stats().await.unwrap().nodes < 5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Nodes learnt only through `nodes6` (BEP 32) are found.
        let found = nodes[4].find_node(nodes[5].id()).await.unwrap();
        assert_eq!(
            found.first().map(|n| n.id),
            Some(nodes[5].id()),
            "{found:?}"
        );
        let hash = Id([6; 20]);
        let done = nodes[1].announce(hash, Some(6000)).await.unwrap();
        assert!(done.stored >= 4, "{done:?}");
        let peers = nodes[2].get_peers(hash).await.unwrap().peers;
        assert_eq!(peers, vec!["[::1]:6000".parse().unwrap()]);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bep42_id_follows_the_public_address_replies_agree_on() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let node = start(test_config(vec![], &clock), &shutdown).await;
        let before = node.id();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = peer.local_addr().unwrap();
        let public: SocketAddr = "124.31.75.21:6881".parse().unwrap();
        for round in 0..3u8 {
            let pinger = {
                let node = node.clone();
                tokio::spawn(async move { node.ping(to).await })
            };
            // Answer as a node that sees us at a public address.
            let mut buf = [0u8; 1500];
            let (len, from) = peer.recv_from(&mut buf).await.unwrap();
            let query = krpc::decode(&buf[..len]).unwrap();
            assert_eq!(query.transaction_id.len(), 4, "our queries use 4-byte ids");
            let reply = krpc::Message {
                transaction_id: query.transaction_id,
                body: krpc::Body::Response(krpc::Response {
                    id: Id([round + 1; 20]),
                    ..krpc::Response::default()
                }),
                version: None,
                ip: Some(public),
                read_only: false,
            };
            peer.send_to(&reply.encode(), from).await.unwrap();
            pinger.await.unwrap().unwrap();
            if round < 2 {
                assert_eq!(node.id(), before, "{} votes are not enough", round + 1);
            }
        }
        let after = node.id();
        assert_ne!(after, before);
        assert!(after.is_secure_for(public.ip()));
        let stats = node.stats().await.unwrap();
        assert_eq!(stats.external_ip, Some(public.ip()));
        assert_eq!(stats.id, after.to_hex());
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_rate_limited_and_stays_within_the_caps() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let config = Config {
            rate_limit: 200,
            rate_burst: 400,
            max_hashes: 100,
            ..test_config(vec![], &clock)
        };
        let node = start(config, &shutdown).await;
        let to = node.local_addr();
        let flooder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = [b'f'; 20];
        let reply = exchange(
            &flooder,
            to,
            &bencoded_query(b"t", "get_peers", &[("id", &me), ("info_hash", &me)]),
        )
        .await
        .unwrap();
        let krpc::Body::Response(r) = reply.body else {
            panic!("{reply:?}")
        };
        let token = r.token.unwrap();
        // 3000 announces of distinct hashes, as fast as we can send them.
        for n in 0u32..3000 {
            let mut hash = [0u8; 20];
            hash[..4].copy_from_slice(&n.to_be_bytes());
            let query = bencoded_query(
                &n.to_be_bytes(),
                "announce_peer",
                &[
                    ("id", &me),
                    ("info_hash", &hash),
                    ("port", b"i:6881"),
                    ("token", &token),
                ],
            );
            flooder.send_to(&query, to).await.unwrap();
            // Still ~100,000/s, far over the limit, but the socket's receive
            // buffer is not overrun on a busy machine (what was sent arrives).
            if n % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // Another address on the loopback network is still answered at once.
        let other = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let reply = exchange(&other, to, &bencoded_query(b"p", "ping", &[("id", &me)])).await;
        assert!(
            reply.is_some(),
            "a flood from one IP must not silence the node"
        );
        let stats = node.stats().await.unwrap();
        assert_eq!(
            stats.stored_hashes, 100,
            "the cap is reached, never passed: {stats:?}"
        );
        assert!(stats.counters.queries_rate_limited > 0, "{stats:?}");
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_queries_are_paced() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let config = Config {
            max_queries_per_sec: 20,
            ..test_config(vec![], &clock)
        };
        let node = start(config, &shutdown).await;
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = peer.local_addr().unwrap();
        let pings: Vec<_> = (0..30)
            .map(|_| {
                let node = node.clone();
                tokio::spawn(async move { node.ping(to).await })
            })
            .collect();
        let mut arrivals = Vec::new();
        let mut buf = [0u8; 1500];
        for _ in 0..30 {
            let (len, from) = peer.recv_from(&mut buf).await.unwrap();
            arrivals.push(std::time::Instant::now());
            let query = krpc::decode(&buf[..len]).unwrap();
            let reply = krpc::Message {
                transaction_id: query.transaction_id,
                body: krpc::Body::Response(krpc::Response {
                    id: Id([1; 20]),
                    ..krpc::Response::default()
                }),
                version: None,
                ip: None,
                read_only: false,
            };
            peer.send_to(&reply.encode(), from).await.unwrap();
        }
        for ping in pings {
            ping.await.unwrap().expect("every paced ping is answered");
        }
        // A burst of 10, then 20 per second: the other 20 take a second.
        let spread = arrivals[29] - arrivals[0];
        assert!(
            spread >= Duration::from_millis(800),
            "30 queries in {spread:?}"
        );
        assert!(node.stats().await.unwrap().counters.queries_deferred >= 10);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

/// One raw KRPC exchange with a node: send `query`, return the decoded
/// reply, skipping queries the node sends us meanwhile (it pings newcomers).
async fn exchange(socket: &UdpSocket, to: SocketAddr, query: &[u8]) -> Option<krpc::Message> {
    socket.send_to(query, to).await.unwrap();
    let mut buf = [0u8; 2048];
    loop {
        let received =
            tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await;
        let (len, _) = received.ok()?.unwrap();
        let message = krpc::decode(&buf[..len]).expect("the node sends valid KRPC");
        if !matches!(message.body, krpc::Body::Query(_)) {
            return Some(message);
        }
    }
}

fn error_code(reply: &krpc::Message) -> Option<i64> {
    match reply.body {
        krpc::Body::Error { code, .. } => Some(code),
        _ => None,
    }
}

fn bencoded_query(tid: &[u8], method: &str, args: &[(&str, &[u8])]) -> Vec<u8> {
    let mut dict = std::collections::BTreeMap::new();
    for (key, value) in args {
        let value = if let Some(int) = value.strip_prefix(b"i:") {
            let text = std::str::from_utf8(int).unwrap();
            mktorrent_rs::bencode::Bencode::Int(text.parse().unwrap())
        } else {
            mktorrent_rs::bencode::Bencode::Bytes(value.to_vec())
        };
        dict.insert(key.as_bytes().to_vec(), value);
    }
    use mktorrent_rs::bencode::{dict as d, Bencode};
    d([
        ("t", Bencode::Bytes(tid.to_vec())),
        ("y", "q".into()),
        ("q", method.into()),
        ("a", Bencode::Dict(dict)),
    ])
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krpc_probe() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let node = start(test_config(vec![], &clock), &shutdown).await;
        let to = node.local_addr();
        let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let my_id = [b'p'; 20];
        let hash = [b'h'; 20];

        // Transaction ids of 1 to 4 bytes (and odd bytes) come back verbatim.
        for tid in [&b"a"[..], b"ab", b"abc", b"\x00\xff\x01\x80"] {
            let reply = exchange(&probe, to, &bencoded_query(tid, "ping", &[("id", &my_id)]))
                .await
                .expect("ping answered");
            assert_eq!(reply.transaction_id, tid);
            let krpc::Body::Response(r) = &reply.body else {
                panic!("not a reply: {reply:?}");
            };
            assert_eq!(r.id, node.id());
            assert_eq!(reply.ip, Some(probe.local_addr().unwrap()), "BEP 42 ip key");
        }

        // get_peers gives a token; announce with it, with and without implied_port.
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(b"gp", "get_peers", &[("id", &my_id), ("info_hash", &hash)]),
        )
        .await
        .unwrap();
        let krpc::Body::Response(r) = reply.body else {
            panic!("{reply:?}")
        };
        let token = r.token.expect("a token");
        let announce = |tid: &'static [u8], extra: Vec<(&'static str, Vec<u8>)>, token: Vec<u8>| {
            let mut args: Vec<(&str, Vec<u8>)> = vec![
                ("id", my_id.to_vec()),
                ("info_hash", hash.to_vec()),
                ("token", token),
            ];
            args.extend(extra);
            let borrowed: Vec<(&str, &[u8])> =
                args.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            bencoded_query(tid, "announce_peer", &borrowed)
        };
        let reply = exchange(
            &probe,
            to,
            &announce(b"a1", vec![("port", b"i:6881".to_vec())], token.clone()),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), None, "{reply:?}");
        let reply = exchange(
            &probe,
            to,
            &announce(
                b"a2",
                vec![("port", b"i:1".to_vec()), ("implied_port", b"i:1".to_vec())],
                token.clone(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), None, "{reply:?}");
        let found = node.get_peers(Id(hash)).await.unwrap();
        let mut peers = found.peers.clone();
        peers.sort();
        let mut expected: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            probe.local_addr().unwrap(),
        ];
        expected.sort();
        assert_eq!(peers, expected, "port 6881 and the implied UDP port");

        // A wrong token, a missing port, a bad id.
        let reply = exchange(
            &probe,
            to,
            &announce(
                b"a3",
                vec![("port", b"i:6881".to_vec())],
                b"forged".to_vec(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), Some(203));
        assert_eq!(reply.transaction_id, b"a3");
        let reply = exchange(&probe, to, &announce(b"a4", vec![], token.clone()))
            .await
            .unwrap();
        assert_eq!(error_code(&reply), Some(203));
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(b"x", "ping", &[("id", b"short")]),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), Some(203));

        // The token outlives one rotation, not two.
        clock.advance(Duration::from_secs(6 * 60));
        let reply = exchange(
            &probe,
            to,
            &announce(b"a5", vec![("port", b"i:6882".to_vec())], token.clone()),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), None, "previous secret accepted");
        clock.advance(Duration::from_secs(6 * 60));
        let reply = exchange(
            &probe,
            to,
            &announce(b"a6", vec![("port", b"i:6883".to_vec())], token.clone()),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), Some(203), "token too old");

        // Unknown methods: 204, or nodes when they name a target.
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(b"u1", "vote", &[("id", &my_id)]),
        )
        .await
        .unwrap();
        assert_eq!(error_code(&reply), Some(204));
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(b"u2", "future_find", &[("id", &my_id), ("target", &hash)]),
        )
        .await
        .unwrap();
        assert!(matches!(reply.body, krpc::Body::Response(_)), "{reply:?}");

        // BEP 51 sample_infohashes lists what we store.
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(
                b"s",
                "sample_infohashes",
                &[("id", &my_id), ("target", &hash)],
            ),
        )
        .await
        .unwrap();
        let krpc::Body::Response(r) = reply.body else {
            panic!("{reply:?}")
        };
        assert_eq!(r.samples, Some(vec![Id(hash)]));
        assert_eq!(r.num, Some(1));

        // Junk gets no reply, and the node keeps answering afterwards.
        for junk in [
            &b""[..],
            b"\x41\x02\x00\x00\x00\x00",
            b"i42e",
            b"d1:t1:xe",
            b"d1:ad2:id20:",
        ] {
            assert!(exchange(&probe, to, junk).await.is_none(), "{junk:?}");
        }
        let reply = exchange(
            &probe,
            to,
            &bencoded_query(b"ok", "ping", &[("id", &my_id)]),
        )
        .await;
        assert!(reply.is_some());
        let stats = node.stats().await.unwrap();
        assert_eq!(stats.counters.packets_dropped, 5);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

/// Runs the binary off the async runtime (it blocks until the command ends).
async fn run_cli(args: Vec<String>) -> crate::common::Run {
    tokio::task::spawn_blocking(move || {
        let temp = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::common::run(temp.path(), &args)
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ping_announce_and_get_peers_through_our_node() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let router = start(test_config(vec![], &clock), &shutdown).await;
    let addr = router.local_addr().to_string();
    let run = async {
        let out = run_cli(strings(&["dht", "ping", &addr])).await.success();
        assert!(out.stdout.contains(&router.id().to_hex()), "{}", out.stdout);
        let out = run_cli(strings(&["dht", "ping", "--json", &addr]))
            .await
            .success();
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["id"], router.id().to_hex());

        let hash = "0123456789abcdef0123456789abcdef01234567";
        let common = [
            "--bind",
            "127.0.0.1:0",
            "--bootstrap",
            &addr,
            "--timeout",
            "10",
        ];
        let mut args = strings(&["dht", "announce", hash, "--port", "6881", "--json"]);
        args.extend(strings(&common));
        let out = run_cli(args).await.success();
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["nodes_stored"], 1, "{}", out.stdout);

        let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=x");
        for target in [hash, magnet.as_str()] {
            let mut args = strings(&["dht", "get-peers", target]);
            args.extend(strings(&common));
            let out = run_cli(args).await.success();
            assert_eq!(out.stdout, "127.0.0.1:6881\n", "{}", out.transcript());
        }
        // The one-shot tools said `ro` (BEP 43): the router did not keep them.
        assert_eq!(router.stats().await.unwrap().nodes, 0);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_get_peers_bootstraps_from_the_torrent_nodes() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let router = start(test_config(vec![], &clock), &shutdown).await;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_owned();
    std::fs::write(dir.join("file.bin"), crate::common::bytes(1000, 3)).unwrap();
    let nodes = router.local_addr().to_string();
    let run = async {
        let created = tokio::task::spawn_blocking(move || {
            crate::common::run(
                &dir,
                &[
                    "create",
                    "file.bin",
                    "--trackerless",
                    "--nodes",
                    &nodes,
                    "-o",
                    "t.torrent",
                ],
            )
            .success();
            crate::common::show_json(&dir, "t.torrent")
        })
        .await
        .unwrap();
        let hash = created["info_hash"]
            .as_str()
            .expect("show --json has info_hash")
            .to_owned();
        router
            .seed(Id::from_hex(&hash).unwrap(), 7777)
            .await
            .unwrap();
        let torrent = temp.path().join("t.torrent").display().to_string();
        let out = run_cli(strings(&[
            "dht",
            "get-peers",
            &torrent,
            "--bind",
            "127.0.0.1:0",
            "--json",
        ]))
        .await
        .success();
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["info_hash"], hash);
        assert_eq!(json["peers"], serde_json::json!(["127.0.0.1:7777"]));
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_name_the_problem() {
    let dead = {
        // A port nobody listens on: bind, note it, close it.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().to_string()
    };
    let out = run_cli(strings(&["dht", "ping", &dead, "--timeout", "1"]))
        .await
        .failure();
    assert!(
        out.stderr.contains(&format!("no reply from {dead}")),
        "{}",
        out.stderr
    );
    let out = run_cli(strings(&[
        "dht",
        "get-peers",
        "not-a-hash",
        "--no-default-routers",
    ]))
    .await
    .failure();
    assert!(out.stderr.contains("not-a-hash"), "{}", out.stderr);
    let out = run_cli(strings(&[
        "dht",
        "announce",
        "0123456789abcdef0123456789abcdef01234567",
    ]))
    .await;
    assert_eq!(out.code, 2, "--port or --implied-port is required");
}

/// Kills a child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_serve_routes_survives_junk_and_saves_its_table() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let temp = tempfile::tempdir().unwrap();
    let state = temp.path().join("dht.state");
    let mut child = KillOnDrop(
        Command::new(crate::common::BIN)
            .args(["dht", "serve", "--no-default-routers"])
            .args(["--bind", "127.0.0.1:0", "--bind6", "[::1]:0"])
            .args(["--status-interval", "1", "--state"])
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Banner lines arrive through a thread, so a silent child cannot hang the test.
    let (lines, banners) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(child.0.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let address_in_banner = || -> SocketAddr {
        let banner = banners
            .recv_timeout(Duration::from_secs(10))
            .expect("dht serve prints where it listens");
        banner
            .split_whitespace()
            .find_map(|word| word.parse().ok())
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
    };
    let addr = address_in_banner();
    let addr6 = address_in_banner();
    assert!(addr6.is_ipv6());

    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for packet in [
            &b"\x41\x02\x00\x00"[..],
            b"d1:xe",
            b"garbage",
            &[b'l'; 1400],
        ] {
            junk.send_to(packet, addr).await.unwrap();
        }
        // Two of our nodes meet through it.
        let a = start(test_config(vec![addr], &clock), &shutdown).await;
        let b = start(test_config(vec![addr], &clock), &shutdown).await;
        a.ping(addr).await.expect("serve answers after junk");
        b.ping(addr).await.unwrap();
        let found = a.find_node(b.id()).await.unwrap();
        assert!(found.iter().any(|n| n.id == b.id()), "{found:?}");
        // The IPv6 node shares the IPv4 node's id.
        let v6 = start_on("[::1]:0", test_config(vec![], &clock), &shutdown).await;
        let id6 = v6.ping(addr6).await.expect("the IPv6 node answers");
        assert_eq!(
            Some(id6),
            a.find_node(id6).await.unwrap().first().map(|n| n.id)
        );
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;

    let pid = child.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let saved = mktorrent_rs::dht::state::State::decode(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved.nodes.len(), 3, "{saved:?}");
    assert_eq!(saved.nodes.iter().filter(|n| n.addr.is_ipv6()).count(), 1);
    assert!(saved.id.is_some());
}

/// Asks `to` for peers of `hash` from `socket`: the values and a token.
async fn get_peers_raw(
    socket: &UdpSocket,
    to: SocketAddr,
    hash: &[u8; 20],
) -> (Vec<SocketAddr>, Vec<u8>) {
    let me = [b'g'; 20];
    let reply = exchange(
        socket,
        to,
        &bencoded_query(b"gp", "get_peers", &[("id", &me), ("info_hash", hash)]),
    )
    .await
    .expect("a get_peers reply");
    let krpc::Body::Response(r) = reply.body else {
        panic!("{reply:?}")
    };
    (r.values, r.token.expect("a token"))
}

/// Sends announce_peer for `hash` and `port` and waits for the node's answer.
async fn announce_raw(
    socket: &UdpSocket,
    to: SocketAddr,
    hash: &[u8; 20],
    port: u16,
    token: &[u8],
) -> krpc::Message {
    let me = [b'a'; 20];
    let port = format!("i:{port}");
    exchange(
        socket,
        to,
        &bencoded_query(
            b"ap",
            "announce_peer",
            &[
                ("id", &me),
                ("info_hash", hash),
                ("port", port.as_bytes()),
                ("token", token),
            ],
        ),
    )
    .await
    .expect("an announce_peer answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_announce_is_stored_after_two_hundred_addresses_filled_the_store() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let config = Config {
            max_hashes: 400,
            ..test_config(vec![], &clock)
        };
        let node = start(config, &shutdown).await;
        let to = node.local_addr();
        // 200 source addresses, 4 new hashes each: twice what the store holds.
        for a in 0..200u8 {
            let socket = UdpSocket::bind((std::net::Ipv4Addr::new(127, 1, 0, a), 0))
                .await
                .unwrap();
            let (_, token) = get_peers_raw(&socket, to, &[a; 20]).await;
            for n in 0..4u8 {
                let mut hash = [a; 20];
                hash[19] = n;
                let reply = announce_raw(&socket, to, &hash, 6881, &token).await;
                assert_eq!(error_code(&reply), None, "{reply:?}");
            }
        }
        let stats = node.stats().await.unwrap();
        assert_eq!(stats.stored_hashes, 400, "{stats:?}");
        assert!(
            stats.counters.peer_store.evicted_store_full >= 400,
            "{stats:?}"
        );

        let good = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let hash = [0xee; 20];
        let (_, token) = get_peers_raw(&good, to, &hash).await;
        let reply = announce_raw(&good, to, &hash, 51413, &token).await;
        assert_eq!(
            error_code(&reply),
            None,
            "the good announce is stored: {reply:?}"
        );
        let asker = UdpSocket::bind("127.0.0.3:0").await.unwrap();
        let (values, _) = get_peers_raw(&asker, to, &hash).await;
        assert_eq!(values, vec!["127.0.0.2:51413".parse().unwrap()]);
        let metrics = node.stats().await.unwrap().to_prometheus();
        assert!(
            metrics.contains("mktorrent_dht_peer_store_evicted_store_full_total "),
            "{metrics}"
        );
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_announcing_260_ports_cannot_push_the_real_peer_out() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let node = start(test_config(vec![], &clock), &shutdown).await;
        let to = node.local_addr();
        let hash = [0x5a; 20];
        let real = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let (_, token) = get_peers_raw(&real, to, &hash).await;
        announce_raw(&real, to, &hash, 51413, &token).await;

        let attacker = UdpSocket::bind("127.0.0.4:0").await.unwrap();
        let (_, token) = get_peers_raw(&attacker, to, &hash).await;
        for port in 0..260u16 {
            let reply = announce_raw(&attacker, to, &hash, 20_000 + port, &token).await;
            assert_eq!(error_code(&reply), None, "{reply:?}");
        }
        let asker = UdpSocket::bind("127.0.0.3:0").await.unwrap();
        for _ in 0..10 {
            let (values, _) = get_peers_raw(&asker, to, &hash).await;
            assert!(
                values.contains(&"127.0.0.2:51413".parse().unwrap()),
                "{values:?}"
            );
            assert!(
                values.len() <= 5,
                "4 ports of the attacker at most: {values:?}"
            );
        }
        let stats = node.stats().await.unwrap();
        assert_eq!(
            stats.counters.peer_store.evicted_ports_per_ip, 256,
            "{stats:?}"
        );
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}
