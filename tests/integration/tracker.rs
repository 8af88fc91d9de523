//! The tracker's contract over real HTTP and UDP on loopback: every rule of
//! the spec a client can observe, with the server started in-process on
//! port 0 (and once as the real binary).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use mktorrent_rs::announce::udp as client;
use mktorrent_rs::bencode::{self, Value};
use mktorrent_rs::shutdown::Shutdown;
use mktorrent_rs::tracker::connection_id::ConnectionIds;
use mktorrent_rs::tracker::swarm::{Event, Limits};
use mktorrent_rs::tracker::udp_proto::AnnounceRequest;
use mktorrent_rs::tracker::{Tracker, TrackerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const KEY: [u8; 16] = *b"0123456789abcdef";

fn config() -> TrackerConfig {
    TrackerConfig {
        http: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
        udp: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
        connection_id_key: Some(KEY),
        ..TrackerConfig::default()
    }
}

struct Server {
    tracker: Tracker,
    shutdown: Shutdown,
}

impl Server {
    async fn start(config: TrackerConfig) -> Self {
        let shutdown = Shutdown::new();
        let tracker = Tracker::start(config, &shutdown)
            .await
            .expect("tracker starts");
        Self { tracker, shutdown }
    }

    fn http4(&self) -> SocketAddr {
        self.tracker.http_addrs()[0]
    }

    fn http6(&self) -> SocketAddr {
        self.tracker.http_addrs()[1]
    }

    fn udp4(&self) -> SocketAddr {
        self.tracker.udp_addrs()[0]
    }

    fn udp6(&self) -> SocketAddr {
        self.tracker.udp_addrs()[1]
    }

    /// Stops the server and proves its ports are closed.
    async fn stop(self) {
        let addrs = self.tracker.http_addrs().to_vec();
        self.shutdown.finished().await;
        for addr in addrs {
            assert!(TcpStream::connect(addr).await.is_err(), "{addr} still open");
        }
    }
}

/// One HTTP/1.1 GET; returns status, raw headers and body.
async fn get_with(addr: SocketAddr, target: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("reply in time")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

async fn get(addr: SocketAddr, target: &str) -> Vec<u8> {
    let (status, _, body) = get_with(addr, target, "").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

fn escape(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn announce_url(hash: &[u8; 20], port: u16, left: u64, extra: &str) -> String {
    let peer_id = [b'a' + (port % 26) as u8; 20];
    format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}{extra}",
        escape(hash),
        escape(&peer_id)
    )
}

fn int(value: &Value<'_>, key: &str) -> i64 {
    value
        .get(key.as_bytes())
        .and_then(Value::as_int)
        .unwrap_or_else(|| panic!("no integer {key}"))
}

fn bytes_of<'a>(value: &Value<'a>, key: &str) -> &'a [u8] {
    value
        .get(key.as_bytes())
        .and_then(Value::as_bytes)
        .unwrap_or_else(|| panic!("no string {key}"))
}

fn failure(body: &[u8]) -> String {
    let value = bencode::decode(body).expect("bencoded reply");
    String::from_utf8_lossy(bytes_of(&value, "failure reason")).into_owned()
}

fn ports(compact: &[u8], entry: usize) -> Vec<u16> {
    compact
        .chunks(entry)
        .map(|c| u16::from_be_bytes([c[entry - 2], c[entry - 1]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_announce_returns_other_peers_compactly() {
    let server = Server::start(config()).await;
    let hash = [0x11; 20];
    let body = get(
        server.http4(),
        &announce_url(&hash, 1001, 5, "&event=started"),
    )
    .await;
    let reply = bencode::decode(&body).unwrap();
    assert_eq!(bytes_of(&reply, "peers"), b"", "never returned to itself");
    assert_eq!((int(&reply, "complete"), int(&reply, "incomplete")), (0, 1));
    let interval = int(&reply, "interval");
    assert!(
        (1800..=1980).contains(&interval),
        "interval with jitter: {interval}"
    );
    assert_eq!(int(&reply, "min interval"), 900);
    assert_eq!(bytes_of(&reply, "external ip"), [127, 0, 0, 1], "BEP 24");

    let body = get(server.http4(), &announce_url(&hash, 1002, 0, "")).await;
    let reply = bencode::decode(&body).unwrap();
    assert_eq!(bytes_of(&reply, "peers"), [127, 0, 0, 1, 0x03, 0xe9]);
    assert_eq!((int(&reply, "complete"), int(&reply, "incomplete")), (1, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_binary_hashes_with_plus_and_percent_escapes() {
    let server = Server::start(config()).await;
    // 0x2B '+', 0x25 '%', 0x20 ' ' inside a binary hash.
    let mut hash = [0xfe; 20];
    hash[..3].copy_from_slice(b"+% ");
    let a = announce_url(&hash, 2001, 1, "");
    // Same hash, the '+' left unescaped (as some clients send it): the byte 0x2B.
    let b = announce_url(&hash, 2002, 1, "").replacen("%2B%25%20", "+%25%20", 1);
    assert_ne!(a, b);
    get(server.http4(), &a).await;
    let body = get(server.http4(), &b).await;
    let reply = bencode::decode(&body).unwrap();
    assert_eq!(
        int(&reply, "incomplete"),
        2,
        "both spellings are one torrent"
    );
    assert_eq!(ports(bytes_of(&reply, "peers"), 6), vec![2001]);
    // A '+' where the hash has a space is another torrent, not this one.
    let c = announce_url(&hash, 2003, 1, "").replacen("%2B%25%20", "%2B%25+", 1);
    let reply = get(server.http4(), &c).await;
    assert_eq!(int(&bencode::decode(&reply).unwrap(), "incomplete"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_200_with_a_failure_reason() {
    let server = Server::start(config()).await;
    let hash = [0x22; 20];
    let (status, _, body) = get_with(server.http4(), &announce_url(&hash, 0, 1, ""), "").await;
    assert_eq!(status, 200);
    assert!(failure(&body).contains("port"), "{}", failure(&body));
    let short = "/announce?info_hash=abc&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1";
    assert!(failure(&get(server.http4(), short).await).contains("20 bytes"));
    let missing = "/announce?peer_id=aaaaaaaaaaaaaaaaaaaa&port=1";
    assert!(failure(&get(server.http4(), missing).await).contains("info_hash"));
    let long = format!("{}&pad={}", announce_url(&hash, 1, 1, ""), "x".repeat(3000));
    assert!(failure(&get(server.http4(), &long).await).contains("too long"));
    let (status, _, _) = get_with(server.http4(), "/nowhere", "").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_numwant_stopped_and_completed_rules() {
    let server = Server::start(config()).await;
    let hash = [0x33; 20];
    for port in 3001..3006 {
        get(server.http4(), &announce_url(&hash, port, 1, "")).await;
    }
    let reply = get(server.http4(), &announce_url(&hash, 3010, 1, "&numwant=0")).await;
    let reply = bencode::decode(&reply).unwrap();
    assert_eq!(bytes_of(&reply, "peers"), b"");
    assert_eq!(int(&reply, "incomplete"), 6);
    let reply = get(server.http4(), &announce_url(&hash, 3010, 1, "&numwant=2")).await;
    assert_eq!(
        bytes_of(&bencode::decode(&reply).unwrap(), "peers").len(),
        12
    );
    let reply = get(
        server.http4(),
        &announce_url(&hash, 3010, 1, "&numwant=junk"),
    )
    .await;
    assert_eq!(
        bytes_of(&bencode::decode(&reply).unwrap(), "peers").len(),
        30,
        "garbage: default"
    );

    // Stopped for an unknown torrent creates nothing.
    let other = [0x34; 20];
    get(
        server.http4(),
        &announce_url(&other, 3001, 1, "&event=stopped"),
    )
    .await;
    let stats = get(server.http4(), "/stats.json").await;
    let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    assert_eq!(stats["torrents"], 1);

    // Stopped removes the peer.
    get(
        server.http4(),
        &announce_url(&hash, 3001, 1, "&event=stopped"),
    )
    .await;
    // Completed counts once per peer, only with left=0.
    for _ in 0..2 {
        get(
            server.http4(),
            &announce_url(&hash, 3002, 0, "&event=completed"),
        )
        .await;
    }
    let reply = get(
        server.http4(),
        &announce_url(&hash, 3003, 0, "&event=paused"),
    )
    .await;
    let reply = bencode::decode(&reply).unwrap();
    assert_eq!(
        int(&reply, "downloaded"),
        1,
        "repeated completed counts once"
    );
    assert_eq!((int(&reply, "complete"), int(&reply, "incomplete")), (2, 3));
    // Seeders get leechers first.
    let reply = get(server.http4(), &announce_url(&hash, 3003, 0, "&numwant=3")).await;
    let given = ports(bytes_of(&bencode::decode(&reply).unwrap(), "peers"), 6);
    assert_eq!(given.len(), 3);
    assert!(
        given.iter().all(|p| [3004, 3005, 3010].contains(p)),
        "{given:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_dictionary_form_lists_peers_without_ids() {
    let server = Server::start(config()).await;
    let hash = [0x44; 20];
    get(server.http4(), &announce_url(&hash, 4001, 1, "")).await;
    let body = get(server.http4(), &announce_url(&hash, 4002, 1, "&compact=0")).await;
    let reply = bencode::decode(&body).unwrap();
    let peers = reply
        .get(b"peers")
        .and_then(Value::as_list)
        .expect("a list");
    assert_eq!(peers.len(), 1);
    assert_eq!(
        peers[0].get(b"ip").and_then(Value::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(int(&peers[0], "port"), 4001);
    // Peer ids are not stored (a compact store): BEP 3 clients do without.
    assert!(peers[0].get(b"peer id").is_none());
    let body = get(
        server.http4(),
        &announce_url(&hash, 4002, 1, "&compact=0&no_peer_id=1"),
    )
    .await;
    let reply = bencode::decode(&body).unwrap();
    let peers = reply.get(b"peers").and_then(Value::as_list).unwrap();
    assert!(peers[0].get(b"peer id").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ipv6_peers_come_in_peers6() {
    let server = Server::start(config()).await;
    let hash = [0x55; 20];
    get(server.http6(), &announce_url(&hash, 5001, 1, "")).await;
    get(server.http4(), &announce_url(&hash, 5003, 1, "")).await;
    let body = get(server.http6(), &announce_url(&hash, 5002, 1, "")).await;
    let reply = bencode::decode(&body).unwrap();
    let peers6 = bytes_of(&reply, "peers6");
    assert_eq!(peers6.len(), 18);
    assert_eq!(&peers6[..16], &std::net::Ipv6Addr::LOCALHOST.octets());
    assert_eq!(ports(peers6, 18), vec![5001]);
    assert_eq!(bytes_of(&reply, "peers"), b"");
    assert_eq!(bytes_of(&reply, "external ip").len(), 16);
    assert_eq!(int(&reply, "incomplete"), 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_scrape_several_hashes_cap_and_full_scrape() {
    let mut cfg = config();
    cfg.max_scrape = 2;
    let server = Server::start(cfg).await;
    let (a, b) = ([0x61; 20], [0x62; 20]);
    get(
        server.http4(),
        &announce_url(&a, 6001, 0, "&event=completed"),
    )
    .await;
    get(server.http4(), &announce_url(&a, 6002, 9, "")).await;
    let body = get(
        server.http4(),
        &format!("/scrape?info_hash={}&info_hash={}", escape(&a), escape(&b)),
    )
    .await;
    let reply = bencode::decode(&body).unwrap();
    let files = reply.get(b"files").unwrap();
    let fa = files.get(&a).unwrap();
    assert_eq!(
        (
            int(fa, "complete"),
            int(fa, "downloaded"),
            int(fa, "incomplete")
        ),
        (1, 1, 1)
    );
    assert_eq!(int(files.get(&b).unwrap(), "complete"), 0);
    let three = format!(
        "/scrape?info_hash={0}&info_hash={0}&info_hash={0}",
        escape(&a)
    );
    assert!(failure(&get(server.http4(), &three).await).contains("at most 2"));
    assert!(failure(&get(server.http4(), "/scrape").await).contains("full scrape"));
    server.stop().await;

    let mut cfg = config();
    cfg.full_scrape = true;
    let server = Server::start(cfg).await;
    get(server.http4(), &announce_url(&a, 6001, 0, "")).await;
    let (status, head, body) = get_with(server.http4(), "/scrape", "").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
    let reply = bencode::decode(&plain).unwrap();
    assert_eq!(
        int(reply.get(b"files").unwrap().get(&a).unwrap(), "complete"),
        1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start(config()).await;
    let mut stream = TcpStream::connect(server.http4()).await.unwrap();
    let target = announce_url(&[0x66; 20], 6601, 1, "");
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut buf = vec![0; 4096];
    for _ in 0..3 {
        stream.write_all(request.as_bytes()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    drop(stream);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_trusted_proxy_names_the_client() {
    let mut cfg = config();
    cfg.trust_proxy = vec!["127.0.0.0/8".parse().unwrap()];
    let server = Server::start(cfg).await;
    let hash = [0x77; 20];
    let xff = "X-Forwarded-For: 10.9.9.9, 198.51.100.7\r\n";
    get_with(server.http4(), &announce_url(&hash, 7001, 1, ""), xff).await;
    let body = get(server.http4(), &announce_url(&hash, 7002, 1, "")).await;
    let reply = bencode::decode(&body).unwrap();
    assert_eq!(
        bytes_of(&reply, "peers"),
        [198, 51, 100, 7, 0x1b, 0x59],
        "rightmost entry"
    );
    server.stop().await;

    // Untrusted sources cannot claim another address.
    let server = Server::start(config()).await;
    let (_, _, body) = get_with(server.http4(), &announce_url(&hash, 7001, 1, ""), xff).await;
    assert_eq!(
        bytes_of(&bencode::decode(&body).unwrap(), "external ip"),
        [127, 0, 0, 1]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_new_entries_with_a_clear_reason() {
    let mut cfg = config();
    cfg.limits = Limits {
        max_torrents: 1,
        max_peers_per_swarm: 1,
        max_ports_per_ip: 1,
        ..Limits::default()
    };
    cfg.rate_limit = Some((1, 8));
    let server = Server::start(cfg).await;
    get(server.http4(), &announce_url(&[1; 20], 8001, 1, "")).await;
    let full = get(server.http4(), &announce_url(&[1; 20], 8002, 1, "")).await;
    assert!(
        failure(&full).contains("too many ports of your address"),
        "{}",
        failure(&full)
    );
    let full = get(server.http4(), &announce_url(&[2; 20], 8001, 1, "")).await;
    assert!(
        failure(&full).contains("tracker is full"),
        "{}",
        failure(&full)
    );
    let mut limited = false;
    for _ in 0..10 {
        let body = get(server.http4(), &announce_url(&[1; 20], 8001, 1, "")).await;
        limited |= bencode::decode(&body)
            .ok()
            .and_then(|v| v.get(b"failure reason").map(|_| failure(&body)))
            .is_some_and(|r| r.contains("too many requests"));
    }
    assert!(limited, "the per-IP rate limit kicks in");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pages_stats_and_metrics() {
    let server = Server::start(config()).await;
    let hash = [0x88; 20];
    get(
        server.http4(),
        &announce_url(&hash, 8801, 0, "&event=completed"),
    )
    .await;
    let page = String::from_utf8(get(server.http4(), "/").await).unwrap();
    assert!(page.contains(&"88".repeat(20)), "{page}");
    let stats: serde_json::Value =
        serde_json::from_slice(&get(server.http4(), "/stats.json").await).unwrap();
    assert_eq!(
        (stats["seeders"].as_u64(), stats["completed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["counters"]["http_announce_ok"], 1);
    let metrics = String::from_utf8(get(server.http4(), "/metrics").await).unwrap();
    assert!(metrics.contains("tracker_seeders 1"), "{metrics}");
    assert!(metrics
        .contains("tracker_requests_total{protocol=\"http\",kind=\"announce\",result=\"ok\"} 1"));
    server.stop().await;

    let mut cfg = config();
    cfg.stats_from = vec!["192.0.2.0/24".parse().unwrap()];
    let server = Server::start(cfg).await;
    let (status, _, _) = get_with(server.http4(), "/metrics", "").await;
    assert_eq!(status, 403, "restricted to listed networks");
    server.stop().await;
}

// ---- UDP ----

async fn udp_client(server: SocketAddr) -> UdpSocket {
    let local = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let socket = UdpSocket::bind(local).await.unwrap();
    socket.connect(server).await.unwrap();
    socket
}

/// Sends and waits briefly for a reply; `None` means silently dropped.
async fn exchange(socket: &UdpSocket, packet: &[u8]) -> Option<Vec<u8>> {
    socket.send(packet).await.unwrap();
    let mut buf = vec![0; 4096];
    match tokio::time::timeout(Duration::from_millis(400), socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

async fn connect(socket: &UdpSocket) -> u64 {
    let reply = exchange(socket, &client::encode_connect(0xabcd))
        .await
        .expect("connect reply");
    assert_eq!(reply.len(), 16);
    assert_eq!(&reply[..8], &[0, 0, 0, 0, 0, 0, 0xab, 0xcd]);
    u64::from_be_bytes(reply[8..16].try_into().unwrap())
}

fn udp_announce(cid: u64, hash: [u8; 20], port: u16, left: u64, event: Event) -> Vec<u8> {
    client::encode_announce(
        &(&AnnounceRequest {
            connection_id: cid,
            transaction_id: 0x0102_0304,
            info_hash: hash,
            peer_id: [port as u8; 20],
            downloaded: 0,
            left,
            uploaded: 0,
            event,
            key: 0,
            num_want: -1,
            port,
            url_data: b"/announce".to_vec(),
        })
            .into(),
    )
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_connect_announce_scrape_over_ipv4_and_ipv6() {
    let server = Server::start(config()).await;
    let hash = [0x99; 20];
    for (addr, entry) in [(server.udp4(), 6), (server.udp6(), 18)] {
        let a = udp_client(addr).await;
        let b = udp_client(addr).await;
        let (ca, cb) = (connect(&a).await, connect(&b).await);
        let reply = exchange(&a, &udp_announce(ca, hash, 9001, 0, Event::Completed))
            .await
            .unwrap();
        assert_eq!(be32(&reply, 0), 1, "announce action");
        assert_eq!(be32(&reply, 4), 0x0102_0304, "transaction id");
        let reply = exchange(&b, &udp_announce(cb, hash, 9002, 7, Event::Started))
            .await
            .unwrap();
        assert!((1800..=1980).contains(&be32(&reply, 8)));
        let peers = &reply[20..];
        assert_eq!(peers.len(), entry, "one peer in the packet's family");
        assert_eq!(ports(peers, entry), vec![9001]);
        if entry == 18 {
            assert_eq!(&peers[..16], &std::net::Ipv6Addr::LOCALHOST.octets());
        } else {
            assert_eq!(&peers[..4], &[127, 0, 0, 1]);
        }
    }
    // Counts cover both families: 2 seeders (one per family), 2 leechers, 2 completed.
    let c = udp_client(server.udp4()).await;
    let cid = connect(&c).await;
    let scrape = client::encode_scrape(cid, 5, &[hash, [0; 20]]);
    let reply = exchange(&c, &scrape).await.unwrap();
    assert_eq!(reply.len(), 8 + 2 * 12);
    assert_eq!((be32(&reply, 0), be32(&reply, 4)), (2, 5));
    // Order: seeders, completed, leechers.
    assert_eq!(
        (be32(&reply, 8), be32(&reply, 12), be32(&reply, 16)),
        (2, 2, 2)
    );
    assert_eq!(
        (be32(&reply, 20), be32(&reply, 24), be32(&reply, 28)),
        (0, 0, 0)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_drops_bad_ids_short_packets_and_unknown_actions() {
    let server = Server::start(config()).await;
    let socket = udp_client(server.udp4()).await;
    let hash = [0xaa; 20];
    let ip = "127.0.0.1".parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let ids = ConnectionIds::new(KEY, 120);
    // Expired (issued 121 s ago), from the future, wrong key: all dropped.
    for cid in [
        ids.issue(ip, now - 125),
        ids.issue(ip, now + 60),
        ConnectionIds::new([9; 16], 120).issue(ip, now),
        0x41727101980,
    ] {
        assert_eq!(
            exchange(&socket, &udp_announce(cid, hash, 1, 0, Event::None)).await,
            None
        );
    }
    // An ID we issued ourselves with the shared key is accepted (several instances).
    let sibling = udp_announce(ids.issue(ip, now - 60), hash, 1, 0, Event::None);
    let reply = exchange(&socket, &sibling).await;
    assert!(reply.is_some(), "valid ID from a sibling instance");
    let cid = connect(&socket).await;
    let full = udp_announce(cid, hash, 1, 0, Event::None);
    assert_eq!(
        exchange(&socket, &full[..97]).await,
        None,
        "announce under 98 bytes"
    );
    let mut unknown = full.clone();
    unknown[11] = 7;
    assert_eq!(exchange(&socket, &unknown).await, None, "unknown action");
    // Port 0 gets an error packet (action 3) with the transaction id.
    let reply = exchange(&socket, &udp_announce(cid, hash, 0, 0, Event::None))
        .await
        .unwrap();
    assert_eq!((be32(&reply, 0), be32(&reply, 4)), (3, 0x0102_0304));
    // Trailing bytes are ignored.
    let mut padded = full.clone();
    padded.extend_from_slice(&[0; 30]);
    assert!(exchange(&socket, &padded).await.is_some());
    let stats: serde_json::Value =
        serde_json::from_slice(&get(server.http4(), "/stats.json").await).unwrap();
    assert_eq!(stats["counters"]["udp_dropped"], 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_reply_fits_one_datagram() {
    let mut cfg = config();
    cfg.limits.max_ports_per_ip = 1_000;
    let server = Server::start(cfg).await;
    let hash = [0xbb; 20];
    let socket = udp_client(server.udp6()).await;
    let cid = connect(&socket).await;
    // 100 IPv6 peers on one address, different ports.
    for port in 1..=100 {
        exchange(&socket, &udp_announce(cid, hash, port, 1, Event::Started))
            .await
            .unwrap();
    }
    let mut packet = udp_announce(cid, hash, 200, 1, Event::None);
    packet[92..96].copy_from_slice(&500i32.to_be_bytes());
    let reply = exchange(&socket, &packet).await.unwrap();
    assert!(reply.len() <= 1232, "{} bytes", reply.len());
    assert_eq!((reply.len() - 20) % 18, 0);
    server.stop().await;
}

// ---- access control and state ----

fn write_hash_list(path: &Path, hashes: &[[u8; 20]]) {
    let text: String = hashes
        .iter()
        .map(|h| format!("{}\n", mktorrent_rs::metainfo::hex(h)))
        .collect();
    std::fs::write(path, format!("# test list\n{text}")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_deny_lists_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow");
    write_hash_list(&allow, &[[1; 20]]);
    let mut cfg = config();
    cfg.access.allow_list = Some(allow.clone());
    let server = Server::start(cfg).await;
    get(server.http4(), &announce_url(&[1; 20], 1, 1, "")).await;
    let refused = get(server.http4(), &announce_url(&[2; 20], 1, 1, "")).await;
    assert!(failure(&refused).contains("not allowed"));
    let udp = udp_client(server.udp4()).await;
    let cid = connect(&udp).await;
    let reply = exchange(&udp, &udp_announce(cid, [2; 20], 1, 0, Event::None))
        .await
        .unwrap();
    assert_eq!(be32(&reply, 0), 3, "UDP error reply");

    // Reload swaps the lists without dropping allowed swarms.
    write_hash_list(&allow, &[[1; 20], [2; 20]]);
    server.tracker.reload().await.unwrap();
    let body = get(server.http4(), &announce_url(&[2; 20], 1, 1, "")).await;
    assert!(bencode::decode(&body)
        .unwrap()
        .get(b"failure reason")
        .is_none());
    let body = get(server.http4(), &announce_url(&[1; 20], 2, 1, "")).await;
    assert_eq!(
        int(&bencode::decode(&body).unwrap(), "incomplete"),
        2,
        "swarm kept"
    );
    server.stop().await;

    let deny = dir.path().join("deny");
    write_hash_list(&deny, &[[3; 20]]);
    let mut cfg = config();
    cfg.access.deny_list = Some(deny);
    let server = Server::start(cfg).await;
    assert!(
        failure(&get(server.http4(), &announce_url(&[3; 20], 1, 1, "")).await)
            .contains("not allowed")
    );
    get(server.http4(), &announce_url(&[4; 20], 1, 1, "")).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_dir_tracks_its_torrents_and_notices_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let torrents = dir.path().join("torrents");
    std::fs::create_dir(&torrents).unwrap();
    std::fs::write(dir.path().join("one.txt"), b"first file").unwrap();
    std::fs::write(dir.path().join("two.txt"), b"second file").unwrap();
    let make = |name: &str| {
        let out = torrents.join(format!("{name}.torrent"));
        super::common::run(
            dir.path(),
            &[
                "create",
                "-q",
                "-a",
                "http://t/announce",
                "-o",
                out.to_str().unwrap(),
                name,
            ],
        )
        .success();
        let bytes = std::fs::read(&out).unwrap();
        mktorrent_rs::metainfo::Torrent::parse(&bytes)
            .unwrap()
            .info_hash
            .0
    };
    let one = make("one.txt");
    let mut cfg = config();
    cfg.access.allowed_dir = Some(torrents.clone());
    cfg.rescan_every = Duration::from_millis(200);
    let server = Server::start(cfg).await;
    get(server.http4(), &announce_url(&one, 1, 1, "")).await;
    let page = String::from_utf8(get(server.http4(), "/").await).unwrap();
    assert!(page.contains("one.txt"), "name shown: {page}");

    let two = make("two.txt");
    let mut allowed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = get(server.http4(), &announce_url(&two, 1, 1, "")).await;
        if bencode::decode(&body)
            .unwrap()
            .get(b"failure reason")
            .is_none()
        {
            allowed = true;
            break;
        }
    }
    assert!(allowed, "a torrent added to the dir is picked up");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tracker.state");
    let mut cfg = config();
    cfg.state_file = Some(state.clone());
    let server = Server::start(cfg.clone()).await;
    let hash = [0xcc; 20];
    get(
        server.http4(),
        &announce_url(&hash, 1, 0, "&event=completed"),
    )
    .await;
    get(server.http4(), &announce_url(&hash, 2, 5, "")).await;
    server.stop().await;
    assert!(state.exists(), "saved at shutdown");

    let server = Server::start(cfg).await;
    let body = get(
        server.http4(),
        &format!("/scrape?info_hash={}", escape(&hash)),
    )
    .await;
    let reply = bencode::decode(&body).unwrap();
    let counts = reply.get(b"files").unwrap().get(&hash).unwrap();
    assert_eq!(
        (
            int(counts, "complete"),
            int(counts, "downloaded"),
            int(counts, "incomplete")
        ),
        (1, 1, 1)
    );
    let body = get(server.http4(), &announce_url(&hash, 3, 5, "")).await;
    assert_eq!(
        ports(bytes_of(&bencode::decode(&body).unwrap(), "peers"), 6).len(),
        2
    );
    server.stop().await;
}

// ---- the real binary ----

#[test]
fn binary_prints_its_urls_serves_and_stops_on_sigterm() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(super::common::BIN)
        .args([
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--state",
            "s.state",
        ])
        .current_dir(dir.path())
        // Every request logged, to see what a log file gets.
        .env("RUST_LOG", "mktorrent_rs::tracker=trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap();
    let udp = lines.next().unwrap().unwrap();
    assert!(
        http.starts_with("http://127.0.0.1:") && http.ends_with("/announce"),
        "{http}"
    );
    assert!(udp.starts_with("udp://127.0.0.1:"), "{udp}");
    let addr: SocketAddr = http["http://".len()..http.len() - "/announce".len()]
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(get(addr, &announce_url(&[5; 20], 1, 0, "")));
    assert_eq!(int(&bencode::decode(&body).unwrap(), "complete"), 1);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "clean exit on SIGTERM");
    assert!(
        dir.path().join("s.state").exists(),
        "state saved at shutdown"
    );
    // A log written to a file carries no colour codes.
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("http announce"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file: {log:?}");
}

#[test]
fn binary_rejects_bad_flags_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = super::common::run(dir.path(), &["tracker", "--udp-key", "xyz"]).failure();
    assert!(run.stderr.contains("--udp-key"), "{}", run.stderr);
    let run = super::common::run(
        dir.path(),
        &[
            "tracker",
            "--interval",
            "100",
            "--min-interval",
            "50",
            "--peer-timeout",
            "50",
        ],
    )
    .failure();
    assert!(run.stderr.contains("--peer-timeout"), "{}", run.stderr);
    let list = dir.path().join("bad-list");
    std::fs::write(&list, "not-a-hash\n").unwrap();
    let run = super::common::run(
        dir.path(),
        &[
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--no-udp",
            "--allow-list",
            "bad-list",
        ],
    )
    .failure();
    assert!(run.stderr.contains("bad-list:1"), "{}", run.stderr);
}

/// A UDP socket on `local` (another loopback address is another client IP).
async fn udp_client_on(local: &str, server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind(local).await.unwrap();
    socket.connect(server).await.unwrap();
    socket
}

/// Whether a UDP announce was accepted (action 1) or refused (action 3).
async fn udp_accepted(socket: &UdpSocket, cid: u64, hash: [u8; 20], port: u16) -> bool {
    let reply = exchange(socket, &udp_announce(cid, hash, port, 1, Event::Started))
        .await
        .expect("an announce reply");
    match be32(&reply, 0) {
        1 => true,
        3 => false,
        action => panic!("action {action} in {reply:?}"),
    }
}

async fn metrics(server: &Server) -> String {
    String::from_utf8(get(server.http4(), "/metrics").await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_with_100_ports_cannot_lock_other_peers_out_of_a_swarm() {
    for ports_per_ip in [Limits::default().max_ports_per_ip, 1_000] {
        let mut cfg = config();
        cfg.limits = Limits {
            max_peers_per_swarm: 100,
            max_ports_per_ip: ports_per_ip,
            ..Limits::default()
        };
        let server = Server::start(cfg).await;
        let hash = [0x42; 20];
        let attacker = udp_client_on("127.0.0.1:0", server.udp4()).await;
        let cid = connect(&attacker).await;
        let mut stored = 0;
        for port in 0..100 {
            stored += usize::from(udp_accepted(&attacker, cid, hash, 10_000 + port).await);
        }
        assert_eq!(stored, ports_per_ip.min(100));
        let later = udp_client_on("127.0.0.2:0", server.udp4()).await;
        let cid = connect(&later).await;
        assert!(
            udp_accepted(&later, cid, hash, 6881).await,
            "a later peer from another address is accepted"
        );
        let text = metrics(&server).await;
        if ports_per_ip == 1_000 {
            assert!(
                text.contains("tracker_limit_evicted_total{limit=\"max_peers\"} 1"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("tracker_limit_refused_total{limit=\"max_ports_per_ip\"} 92"),
                "{text}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_stores_at_most_its_share_of_peers() {
    let mut cfg = config();
    cfg.limits = Limits {
        max_peers_per_ip: 300,
        ..Limits::default()
    };
    let server = Server::start(cfg).await;
    let socket = udp_client_on("127.0.0.1:0", server.udp4()).await;
    let cid = connect(&socket).await;
    let mut stored = 0;
    for n in 0u32..1_000 {
        let mut hash = [0u8; 20];
        hash[..4].copy_from_slice(&n.to_be_bytes());
        stored += usize::from(udp_accepted(&socket, cid, hash, 7000).await);
    }
    assert_eq!(stored, 300);
    let stats = get(server.http4(), "/stats.json").await;
    let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    assert_eq!(stats["peers"], 300, "{stats}");
    assert_eq!(stats["limits"]["refused_peers_per_ip"], 700, "{stats}");
    let text = metrics(&server).await;
    assert!(
        text.contains("tracker_limit_refused_total{limit=\"max_peers_per_ip\"} 700"),
        "{text}"
    );
    let other = udp_client_on("127.0.0.2:0", server.udp4()).await;
    let cid = connect(&other).await;
    assert!(udp_accepted(&other, cid, [0; 20], 6881).await);
    // The CLI's default share is far below the 200,000 one socket once stored.
    assert_eq!(Limits::default().max_peers_per_ip, 10_000);
    server.stop().await;
}

/// The soft and hard open-file limits of a running process, from /proc.
#[cfg(target_os = "linux")]
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// Started with a soft open-file limit of 256 (and a higher hard limit), the
/// tracker raises it to the hard limit before serving.
#[cfg(target_os = "linux")]
#[test]
fn binary_raises_the_soft_open_file_limit_to_the_hard_limit() {
    use std::io::BufRead;
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -Sn 256 && exec \"$0\" tracker --http 127.0.0.1:0 --udp 127.0.0.1:0",
            super::common::BIN,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap();
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    let (soft, hard) = open_file_limits(child.id());
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(soft, hard, "soft limit raised to the hard limit");
    assert_ne!(soft, "256");
    assert_eq!(exit.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_state_temp_files_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tracker.state");
    // Ten saves killed before their rename, one of them large.
    for n in 0..10 {
        let size = if n == 0 { 1 << 20 } else { 100 };
        std::fs::write(
            dir.path().join(format!(".tracker.state.tmp-{n:06}")),
            vec![0; size],
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("unrelated.tmp"), b"keep").unwrap();
    let mut cfg = config();
    cfg.state_file = Some(state.clone());
    let server = Server::start(cfg).await;
    get(server.http4(), &announce_url(&[3; 20], 4001, 0, "")).await;
    server.tracker.shared().save_state().unwrap();
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["tracker.state", "unrelated.tmp"]);
    server.stop().await;
}

#[test]
fn binary_logs_what_it_allows_and_restores_and_refuses_an_unwritable_state_path() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::write_tree(dir.path(), &[("a/x", b"x"), ("b/y", b"y")]);
    std::fs::create_dir(dir.path().join("allowed")).unwrap();
    for name in ["a", "b"] {
        let out = format!("allowed/{name}.torrent");
        crate::common::run(
            dir.path(),
            &["create", name, "-q", "-a", "udp://t.example:1", "-o", &out],
        )
        .success();
    }
    // Unwritable: a path under a regular file. RUST_LOG fixed: the log is snapshotted.
    let refused = crate::common::run_env(
        dir.path(),
        &[
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--state",
            "a/x/state",
        ],
        &[("RUST_LOG", "info")],
    )
    .failure();
    let mut settings = crate::common::settings(dir.path());
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "[TIME]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\.mktorrent-rs-check-\w+", ".mktorrent-rs-check-[RANDOM]");
    settings.bind(|| {
        insta::assert_snapshot!("tracker_error_unwritable_state", refused.transcript());
    });

    let mut child = std::process::Command::new(super::common::BIN)
        .args(["tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"])
        .args(["--allowed-dir", "allowed", "--state", "s.state"])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            if log.contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let signal = |name: &str| {
        let _ = std::process::Command::new("kill")
            .args([name, &child.id().to_string()])
            .status();
    };
    wait_for("tracker started");
    // The dir is unchanged, so no periodic rescan logs in between.
    signal("-HUP");
    wait_for("access lists reloaded");
    signal("-TERM");
    let _ = child.wait();
    // What an operator reads: start, SIGHUP, stop.
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    settings.bind(|| insta::assert_snapshot!("tracker_log", log));
}
