//! `tracker --store redis://` with real clients: two tracker processes on
//! one `redis-server` (our own, on a free loopback port); a libtorrent
//! seeder announces only to A (HTTP), a second libtorrent only to B (UDP),
//! and B hands it the seeder that A stored: the download completes byte for
//! byte. Both .torrent files differ only in `announce`, so they share the
//! info hash. Everything binds 127.0.0.1; every wait is bounded.

use std::io::BufRead;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{eventually, require, scrape};
use crate::tracker::{wait_seeding, Killed};

const BIN: &str = env!("CARGO_BIN_EXE_mktorrent-rs");
const PYTHON: &str = "/usr/bin/python3";
const LIMIT: Duration = Duration::from_secs(90);

/// libtorrent session: seeds or downloads one torrent, prints SEEDING once
/// it holds every piece, exits after `seconds`.
const LIBTORRENT: &str = r#"
import sys, time
import libtorrent as lt
torrent, save, listen, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = lt.session({
    'listen_interfaces': listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
})
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
end = time.time() + seconds
said = False
while time.time() < end:
    if h.status().is_seeding and not said:
        print('SEEDING', flush=True)
        said = True
    time.sleep(0.2)
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A tracker process on `store`; returns it with its HTTP and UDP addresses.
fn tracker(store: &str) -> (Killed, SocketAddr, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"])
        .args(["--store", store, "--store-required"])
        .args(["--udp-key", "0123456789abcdef0123456789abcdef"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tracker runs");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = Killed(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut addr = |scheme: &str| -> SocketAddr {
        let line = lines.next().expect("a URL line").unwrap();
        line[scheme.len()..line.len() - "/announce".len()]
            .parse()
            .unwrap()
    };
    let http = addr("http://");
    let udp = addr("udp://");
    (child, http, udp)
}

/// A torrent of `payload` announcing to `url`, written to `out`.
fn torrent(payload: &Path, url: &str, out: &Path) -> [u8; 20] {
    let status = Command::new(BIN)
        .args(["create", "-q", "-a", url, "-o"])
        .arg(out)
        .arg(payload)
        .status()
        .unwrap();
    assert!(status.success(), "create the torrent");
    mktorrent_rs::metainfo::Torrent::parse(&std::fs::read(out).unwrap())
        .unwrap()
        .info_hash
        .0
}

fn libtorrent(script: &Path, torrent: &Path, save: &Path) -> Killed {
    let child = Command::new(PYTHON)
        .arg(script)
        .arg(torrent)
        .arg(save)
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("120")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    Killed(child)
}

#[test]
fn libtorrent_seeds_through_a_and_downloads_through_b_on_one_redis() {
    let server = require("redis-server", "redis-server");
    let lt = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status();
    assert!(
        lt.is_ok_and(|s| s.success()),
        "interop needs python3-libtorrent for {PYTHON} (apt-get install python3-libtorrent)"
    );
    let port = free_port();
    let _redis = Killed(
        Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs"),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < LIMIT, "redis-server listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    let store = format!("redis://127.0.0.1:{port}");
    let (_a, a_http, _) = tracker(&store);
    let (_b, b_http, b_udp) = tracker(&store);

    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let down = dir.path().join("down");
    std::fs::create_dir(&seed_dir).unwrap();
    std::fs::create_dir(&down).unwrap();
    let data: Vec<u8> = (0..(2u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let payload = seed_dir.join("payload.bin");
    std::fs::write(&payload, &data).unwrap();
    let via_a = dir.path().join("a.torrent");
    let via_b = dir.path().join("b.torrent");
    let hash = torrent(&payload, &format!("http://{a_http}/announce"), &via_a);
    let hash_b = torrent(&payload, &format!("udp://{b_udp}/announce"), &via_b);
    assert_eq!(hash, hash_b, "announce is outside the info dict");
    let script = dir.path().join("lt.py");
    std::fs::write(&script, LIBTORRENT).unwrap();

    let mut seeder = libtorrent(&script, &via_a, &seed_dir);
    wait_seeding(&mut seeder);
    // A stored the seeder in Redis: B's scrape already sees it.
    eventually("the seeder's announce, seen through B", || {
        scrape(b_http, &hash).0 == 1
    });
    let mut leecher = libtorrent(&script, &via_b, &down);
    wait_seeding(&mut leecher);
    let start = Instant::now();
    while std::fs::read(down.join("payload.bin")).ok().as_deref() != Some(&data[..]) {
        assert!(start.elapsed() < LIMIT, "the download never completed");
        std::thread::sleep(Duration::from_millis(200));
    }
    eventually("the completed event, seen through A", || {
        scrape(a_http, &hash).1 >= 1
    });
}
