//! `tracker --store redis://`: several real tracker processes on one Redis
//! serve one set of swarms (HTTP and UDP, connection IDs through a shared
//! --udp-key, kill -9 of one), and a Redis that goes away and comes back
//! (degraded answers from memory, counted in /metrics, then recovery;
//! --store-required refusing instead), and a one-node Redis Cluster
//! through `redis+cluster://`.
//!
//! The first test uses the server named by `MKTORRENT_TEST_REDIS`
//! (`.ci/run` starts one); the others start their own `redis-server` on a
//! free loopback port, so they can stop it. Without either they say they
//! were skipped.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mktorrent_rs::announce::udp as client;
use mktorrent_rs::bencode::{self, Value};
use mktorrent_rs::tracker::swarm::Event;
use mktorrent_rs::tracker::udp_proto::AnnounceRequest;

const UDP_KEY: &str = "00112233445566778899aabbccddeeff";

/// A `redis-server` of our own on a free port, killed by PID on drop.
pub(super) struct RedisServer {
    child: Child,
    pub(super) port: u16,
}

impl RedisServer {
    /// `None` (after saying so) when redis-server is not on PATH.
    pub(super) fn start(port: Option<u16>) -> Option<Self> {
        let port = port.unwrap_or_else(free_port);
        let child = match Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(err) => {
                eprintln!("skipped: cannot start redis-server ({err})");
                return None;
            }
        };
        let server = Self { child, port };
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < end,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    pub(super) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `mktorrent-rs tracker` process, killed on drop; its log in a file.
pub(super) struct TrackerProc {
    pub(super) child: Child,
    pub(super) http: SocketAddr,
    pub(super) udp: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl TrackerProc {
    fn start(store: &str, extra: &[&str]) -> Self {
        let mut args = vec!["--store", store, "--udp-key", UDP_KEY];
        args.extend_from_slice(extra);
        Self::spawn(&args)
    }

    /// `tracker` on loopback ports with `args` and no rate limit.
    pub(super) fn spawn(args: &[&str]) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(super::common::BIN)
            .args(["tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"])
            .args(["--rate-limit", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = |scheme: &str| -> SocketAddr {
            let line = lines.next().expect("a URL line").unwrap();
            line[scheme.len()..line.len() - "/announce".len()]
                .parse()
                .unwrap_or_else(|_| panic!("{line}"))
        };
        let http = addr("http://");
        let udp = addr("udp://");
        Self {
            child,
            http,
            udp,
            log,
        }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    pub(super) fn metric(&self, name: &str) -> u64 {
        let body = get(self.http, "/metrics");
        let text = String::from_utf8_lossy(&body);
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }
}

impl Drop for TrackerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET's body.
pub(super) fn get(addr: SocketAddr, target: &str) -> Vec<u8> {
    super::tracker_status::get(addr, target).2
}

pub(super) fn escape(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub(super) fn unique_hash() -> [u8; 20] {
    let mut hash = [0; 20];
    getrandom::fill(&mut hash).unwrap();
    hash
}

/// An HTTP announce; returns the decoded reply.
fn http_announce(addr: SocketAddr, hash: &[u8; 20], port: u16, left: u64, event: &str) -> Vec<u8> {
    let target = format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}{}",
        escape(hash),
        escape(&[b'a' + (port % 26) as u8; 20]),
        if event.is_empty() {
            String::new()
        } else {
            format!("&event={event}")
        }
    );
    get(addr, &target)
}

fn int(body: &[u8], key: &str) -> i64 {
    let value = bencode::decode(body).expect("bencoded reply");
    value
        .get(key.as_bytes())
        .and_then(Value::as_int)
        .unwrap_or_else(|| panic!("no {key} in {}", String::from_utf8_lossy(body)))
}

pub(super) fn peer_ports(body: &[u8]) -> Vec<u16> {
    let value = bencode::decode(body).expect("bencoded reply");
    let peers = value.get(b"peers").and_then(Value::as_bytes).unwrap_or(&[]);
    peers
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect()
}

/// (seeders, completed, leechers) from an HTTP scrape.
fn http_scrape(addr: SocketAddr, hash: &[u8; 20]) -> (i64, i64, i64) {
    let body = get(addr, &format!("/scrape?info_hash={}", escape(hash)));
    let value = bencode::decode(&body).expect("bencoded scrape");
    let file = value
        .get(b"files")
        .and_then(|f| f.get(hash))
        .unwrap_or_else(|| panic!("no file in {}", String::from_utf8_lossy(&body)));
    let n = |k: &str| file.get(k.as_bytes()).and_then(Value::as_int).unwrap();
    (n("complete"), n("downloaded"), n("incomplete"))
}

pub(super) fn udp_socket(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket
}

pub(super) fn exchange(socket: &UdpSocket, packet: &[u8]) -> Vec<u8> {
    socket.send(packet).unwrap();
    let mut buf = vec![0; 2048];
    let n = socket.recv(&mut buf).expect("a UDP reply");
    buf[..n].to_vec()
}

pub(super) fn udp_connect(socket: &UdpSocket) -> u64 {
    let reply = exchange(socket, &client::encode_connect(7));
    u64::from_be_bytes(reply[8..16].try_into().unwrap())
}

pub(super) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// A UDP announce with connection ID `cid` sent from `socket`; returns
/// (interval, leechers, seeders, peer ports).
fn udp_announce(
    socket: &UdpSocket,
    cid: u64,
    hash: [u8; 20],
    port: u16,
    left: u64,
) -> (u32, u32, u32, Vec<u16>) {
    let packet = client::encode_announce(
        &(&AnnounceRequest {
            connection_id: cid,
            transaction_id: 9,
            info_hash: hash,
            peer_id: [port as u8; 20],
            downloaded: 0,
            left,
            uploaded: 0,
            event: Event::Started,
            key: 0,
            num_want: -1,
            port,
            url_data: Vec::new(),
        })
            .into(),
    );
    let reply = exchange(socket, &packet);
    assert_eq!(be32(&reply, 0), 1, "an announce reply: {reply:?}");
    let ports = reply[20..]
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect();
    (be32(&reply, 8), be32(&reply, 12), be32(&reply, 16), ports)
}

/// (seeders, completed, leechers) from a UDP scrape.
fn udp_scrape(socket: &UdpSocket, cid: u64, hash: [u8; 20]) -> (i64, i64, i64) {
    let reply = exchange(socket, &client::encode_scrape(cid, 3, &[hash]));
    assert_eq!(be32(&reply, 0), 2, "a scrape reply: {reply:?}");
    let n = |at| i64::from(be32(&reply, at));
    (n(8), n(12), n(16))
}

#[test]
fn three_instances_share_one_set_of_swarms() {
    let Ok(url) = std::env::var("MKTORRENT_TEST_REDIS") else {
        eprintln!("skipped: MKTORRENT_TEST_REDIS is not set (redis://127.0.0.1:PORT)");
        return;
    };
    let a = TrackerProc::start(&url, &[]);
    let mut b = TrackerProc::start(&url, &[]);
    let c = TrackerProc::start(&url, &[]);
    let hash = unique_hash();

    // Peer 7001 announces to A over HTTP.
    let first = http_announce(a.http, &hash, 7001, 100, "started");
    assert_eq!(int(&first, "incomplete"), 1);
    // B over UDP accepts a connection ID that A issued, and returns 7001.
    let socket = udp_socket(b.udp);
    let cid = udp_connect(&udp_socket(a.udp));
    let (interval, leechers, seeders, ports) = udp_announce(&socket, cid, hash, 7002, 100);
    assert_eq!((leechers, seeders, ports), (2, 0, vec![7001]));
    assert!(
        interval >= 1800,
        "a normal interval, not degraded: {interval}"
    );
    // C over HTTP returns both.
    let reply = http_announce(c.http, &hash, 7003, 100, "started");
    let mut ports = peer_ports(&reply);
    ports.sort_unstable();
    assert_eq!(ports, vec![7001, 7002]);

    // Completed once, though sent to two instances.
    http_announce(a.http, &hash, 7001, 0, "completed");
    http_announce(c.http, &hash, 7001, 0, "completed");
    let want = (1, 1, 2);
    assert_eq!(http_scrape(a.http, &hash), want);
    assert_eq!(udp_scrape(&socket, cid, hash), want);
    assert_eq!(http_scrape(c.http, &hash), want);

    // Stopped on C removes 7001 everywhere.
    http_announce(c.http, &hash, 7001, 0, "stopped");
    let want = (0, 1, 2);
    assert_eq!(http_scrape(a.http, &hash), want);
    assert_eq!(udp_scrape(&socket, cid, hash), want);
    assert_eq!(http_scrape(c.http, &hash), want);
    let reply = http_announce(a.http, &hash, 7003, 100, "");
    assert_eq!(peer_ports(&reply), vec![7002]);

    // kill -9 of B: A and C go on serving the same swarm.
    let status = Command::new("kill")
        .args(["-KILL", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = b.child.wait();
    let reply = http_announce(c.http, &hash, 7004, 100, "started");
    assert_eq!(int(&reply, "incomplete"), 3);
    assert_eq!(http_scrape(a.http, &hash), (0, 1, 3));
    assert_eq!(a.metric("tracker_store_degraded_total"), 0);
    assert_eq!(c.metric("tracker_store_degraded_total"), 0);
}

/// Retries `f` for up to 10 s until it returns `Some`.
pub(super) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn redis_down_degrades_to_memory_and_recovers() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let port = redis.port;
    let tracker = TrackerProc::start(&redis.url(), &[]);
    let required = TrackerProc::start(&redis.url(), &["--store-required"]);
    let hash = unique_hash();
    let socket = udp_socket(tracker.udp);
    let cid = udp_connect(&socket);
    let reply = http_announce(tracker.http, &hash, 7001, 100, "started");
    assert!(int(&reply, "interval") >= 1800);

    drop(redis);
    // Degraded: answered from memory with a short interval, over HTTP and UDP.
    let reply = http_announce(tracker.http, &hash, 7002, 100, "started");
    assert_eq!(
        int(&reply, "interval"),
        60,
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(int(&reply, "min interval"), 60);
    let (interval, leechers, _, ports) = udp_announce(&socket, cid, hash, 7003, 100);
    assert_eq!((interval, leechers, ports), (60, 2, vec![7002]));
    assert!(tracker.metric("tracker_store_degraded_total") >= 2);
    assert!(tracker.metric("tracker_store_errors_total") >= 1);
    // --store-required refuses instead.
    let refused = http_announce(required.http, &hash, 7004, 100, "started");
    let text = String::from_utf8_lossy(&refused);
    assert!(text.contains("tracker store unavailable"), "{text}");

    // Back on the same port: the probe notices and Redis answers again.
    let _redis = RedisServer::start(Some(port)).expect("redis-server restarts");
    eventually("recovery", || {
        let reply = http_announce(tracker.http, &hash, 7005, 100, "started");
        (int(&reply, "interval") >= 1800).then_some(())
    });
    eventually("recovery of --store-required", || {
        let reply = http_announce(required.http, &hash, 7006, 100, "started");
        let value = bencode::decode(&reply).ok()?;
        (value.get(b"interval")?.as_int()? >= 1800).then_some(())
    });
    let log = tracker.log();
    assert_eq!(log.matches("answering from memory").count(), 1, "{log}");
    assert_eq!(log.matches("leaving degraded mode").count(), 1, "{log}");
}

#[test]
fn store_required_exits_at_start_when_redis_is_unreachable() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let output = Command::new(super::common::BIN)
        .args(["tracker", "--http", "127.0.0.1:0", "--no-udp"])
        .args(["--store", &url, "--store-required"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&url), "names the store: {stderr}");
    // Without --store-required it starts, degraded, and serves from memory.
    let tracker = TrackerProc::start(&url, &[]);
    let reply = http_announce(tracker.http, &unique_hash(), 7001, 100, "started");
    assert_eq!(int(&reply, "interval"), 60);
    assert!(tracker.log().contains("answering from memory"));
    // Flags that need one process's swarms are refused with --store.
    let output = Command::new(super::common::BIN)
        .args(["tracker", "--store", &url, "--full-scrape"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--full-scrape"));
}

#[test]
fn redis_cluster_url_serves_two_instances() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = match Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--cluster-enabled",
            "yes",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            eprintln!("skipped: cannot start redis-server ({err})");
            return;
        }
    };
    let _cluster = RedisServer { child, port };
    let cli = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli beside redis-server");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A one-node cluster holding every slot.
    eventually("the node", || cli(&["ping"]).contains("PONG").then_some(()));
    cli(&["cluster", "addslotsrange", "0", "16383"]);
    eventually("cluster_state:ok", || {
        cli(&["cluster", "info"])
            .contains("cluster_state:ok")
            .then_some(())
    });
    let url = format!("redis+cluster://127.0.0.1:{port}");
    let a = TrackerProc::start(&url, &["--store-required"]);
    let b = TrackerProc::start(&url, &["--store-required"]);
    let hash = unique_hash();
    http_announce(a.http, &hash, 7001, 0, "completed");
    let reply = http_announce(b.http, &hash, 7002, 100, "started");
    assert_eq!(peer_ports(&reply), vec![7001]);
    assert_eq!(http_scrape(a.http, &hash), (1, 1, 1));
    // Every key of the swarm in one slot: the hash tag.
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let keys = cli(&["keys", &format!("mkt:{{{hex}}}:*")]);
    assert_eq!(keys.lines().count(), 3, "s4, l4 and c: {keys}");
}
