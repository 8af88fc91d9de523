//! Real clients against our tracker on loopback: libtorrent (python3
//! bindings) and aria2 announce over HTTP and UDP, and a download between a
//! libtorrent seeder and an aria2 or libtorrent downloader completes through
//! it. Every process binds 127.0.0.1 only (aria2 listens on all addresses but
//! is given no peer or node outside loopback), and every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mktorrent_rs::shutdown::Shutdown;
use mktorrent_rs::tracker::{Tracker, TrackerConfig};

use crate::support::{eventually, http_get, scrape};

const BIN: &str = env!("CARGO_BIN_EXE_mktorrent-rs");
const PYTHON: &str = "/usr/bin/python3";
const LIMIT: Duration = Duration::from_secs(90);

/// libtorrent session: seeds or downloads one torrent, prints SEEDING once it
/// holds every piece, exits after `seconds`.
const LIBTORRENT: &str = r#"
import sys, time
import libtorrent as lt
torrent, save, listen, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = lt.session({
    'listen_interfaces': listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'announce_to_all_trackers': True,
})
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
end = time.time() + seconds
said = False
while time.time() < end:
    st = h.status()
    if st.is_seeding and not said:
        print('SEEDING', flush=True)
        said = True
    time.sleep(0.2)
"#;

fn require_tools() {
    let lt = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status();
    assert!(
        lt.is_ok_and(|s| s.success()),
        "interop needs python3-libtorrent for {PYTHON} (apt-get install python3-libtorrent)"
    );
    let aria = Command::new("aria2c")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        aria.is_ok_and(|s| s.success()),
        "interop needs aria2c (apt-get install aria2)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Deterministic content of `len` bytes.
fn content(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    seed_dir: PathBuf,
    torrent: PathBuf,
    data: Vec<u8>,
    info_hash: [u8; 20],
}

/// A 2 MiB file and a torrent announcing to `url`.
fn fixture(url: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let seed_dir = root.join("seed");
    std::fs::create_dir(&seed_dir).unwrap();
    let data = content(2 << 20);
    std::fs::write(seed_dir.join("payload.bin"), &data).unwrap();
    let torrent = root.join("payload.torrent");
    let status = Command::new(BIN)
        .args(["create", "-q", "-a", url, "-o"])
        .arg(&torrent)
        .arg(seed_dir.join("payload.bin"))
        .status()
        .unwrap();
    assert!(status.success(), "create the torrent");
    let parsed = mktorrent_rs::metainfo::Torrent::parse(&std::fs::read(&torrent).unwrap()).unwrap();
    Fixture {
        _dir: dir,
        root,
        seed_dir,
        torrent,
        data,
        info_hash: parsed.info_hash.0,
    }
}

/// A child process killed (and reaped) on drop.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn libtorrent(fx: &Fixture, save: &Path, seconds: u32) -> Killed {
    libtorrent_on(fx, save, seconds, &format!("127.0.0.1:{}", free_port()))
}

/// A libtorrent session listening on `listen` (`127.0.0.1:P` or `[::1]:P`).
fn libtorrent_on(fx: &Fixture, save: &Path, seconds: u32, listen: &str) -> Killed {
    let script = fx.root.join("lt.py");
    std::fs::write(&script, LIBTORRENT).unwrap();
    let child = Command::new(PYTHON)
        .arg(&script)
        .arg(&fx.torrent)
        .arg(save)
        .arg(listen)
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    Killed(child)
}

/// Waits for the libtorrent script to print SEEDING.
pub(crate) fn wait_seeding(child: &mut Killed) {
    use std::io::BufRead;
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line == "SEEDING" {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(LIMIT)
        .expect("libtorrent reaches seeding in time");
}

fn aria2(fx: &Fixture, out: &Path, udp: bool) -> Killed {
    let mut command = Command::new("aria2c");
    command
        .arg(format!("--dir={}", out.display()))
        .args([
            // Seed 3 s: with 0 aria2 skips `completed` and sends only `stopped`.
            "--seed-time=0.05",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--file-allocation=none",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--bt-stop-timeout=80",
            "--bt-tracker-connect-timeout=10",
            "--bt-tracker-timeout=10",
        ])
        .arg(format!("--listen-port={}", free_port()));
    if udp {
        // aria2 only speaks UDP tracker through its DHT socket; with no
        // bootstrap nodes and a fresh DHT file it contacts nobody else.
        command
            .arg("--enable-dht=true")
            .arg(format!("--dht-listen-port={}", free_port()))
            .arg(format!("--dht-file-path={}", out.join("dht.dat").display()));
    } else {
        command.arg("--enable-dht=false");
    }
    let child = command
        .arg(&fx.torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aria2c runs");
    Killed(child)
}

fn wait_exit(child: &mut Killed) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < LIMIT,
            "client did not finish in {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_file(path: &Path, data: &[u8]) {
    let start = Instant::now();
    while std::fs::read(path).ok().as_deref() != Some(data) {
        assert!(
            start.elapsed() < LIMIT,
            "{} never completed",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Server {
    runtime: tokio::runtime::Runtime,
    tracker: Tracker,
    shutdown: Shutdown,
}

impl Server {
    fn start() -> Self {
        Self::start_with(TrackerConfig::default())
    }

    /// `config` on IPv4 and IPv6 loopback.
    fn start_with(config: TrackerConfig) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let shutdown = Shutdown::new();
        let config = TrackerConfig {
            http: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
            udp: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
            ..config
        };
        let tracker = runtime.block_on(Tracker::start(config, &shutdown)).unwrap();
        Self {
            runtime,
            tracker,
            shutdown,
        }
    }

    fn http_url(&self) -> String {
        format!("http://{}/announce", self.tracker.http_addrs()[0])
    }

    fn udp_url(&self) -> String {
        format!("udp://{}/announce", self.tracker.udp_addrs()[0])
    }

    fn counter(&self, name: &str) -> u64 {
        let addr: SocketAddr = self.tracker.http_addrs()[0];
        let body = http_get(addr, "/stats.json");
        let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
        stats["counters"][name].as_u64().unwrap_or(0)
    }

    /// (seeders, completed, leechers) from an HTTP scrape.
    fn scrape(&self, hash: &[u8; 20]) -> (i64, i64, i64) {
        scrape(self.tracker.http_addrs()[0], hash)
    }

    fn stop(self) {
        self.runtime.block_on(self.shutdown.finished());
    }
}

#[test]
fn libtorrent_seeds_to_aria2_through_the_http_tracker() {
    require_tools();
    let server = Server::start();
    let fx = fixture(&server.http_url());
    let mut seeder = libtorrent(&fx, &fx.seed_dir, 120);
    wait_seeding(&mut seeder);
    eventually("the seeder's announce", || {
        server.scrape(&fx.info_hash).0 == 1
    });

    let out = fx.root.join("aria2-http");
    std::fs::create_dir(&out).unwrap();
    let mut leecher = aria2(&fx, &out, false);
    let status = wait_exit(&mut leecher);
    assert!(status.success(), "aria2 exit {status:?}");
    wait_file(&out.join("payload.bin"), &fx.data);
    eventually("aria2's completed event", || {
        server.scrape(&fx.info_hash).1 == 1
    });
    assert!(server.counter("http_announce_ok") >= 3);
    drop(seeder);
    server.stop();
}

#[test]
fn libtorrent_seeds_to_aria2_through_the_udp_tracker() {
    require_tools();
    let server = Server::start();
    let fx = fixture(&server.udp_url());
    let mut seeder = libtorrent(&fx, &fx.seed_dir, 120);
    wait_seeding(&mut seeder);
    eventually("the seeder's UDP announce", || {
        server.counter("udp_announce_ok") >= 1
    });

    let out = fx.root.join("aria2-udp");
    std::fs::create_dir(&out).unwrap();
    let mut leecher = aria2(&fx, &out, true);
    let status = wait_exit(&mut leecher);
    assert!(status.success(), "aria2 exit {status:?}");
    wait_file(&out.join("payload.bin"), &fx.data);
    assert!(server.counter("udp_connect") >= 2, "both clients connected");
    eventually("aria2's completed event", || {
        server.scrape(&fx.info_hash).1 == 1
    });
    drop(seeder);
    server.stop();
}

#[test]
fn libtorrent_downloads_from_libtorrent_through_the_udp_tracker() {
    require_tools();
    let server = Server::start();
    let fx = fixture(&server.udp_url());
    let mut seeder = libtorrent(&fx, &fx.seed_dir, 120);
    wait_seeding(&mut seeder);
    let out = fx.root.join("lt-down");
    std::fs::create_dir(&out).unwrap();
    let mut leecher = libtorrent(&fx, &out, 120);
    wait_seeding(&mut leecher);
    wait_file(&out.join("payload.bin"), &fx.data);
    eventually("libtorrent's completed event", || {
        server.scrape(&fx.info_hash).1 >= 1
    });
    drop((seeder, leecher));
    server.stop();
}

#[test]
fn libtorrent_peers_meet_over_ipv6_through_the_http_tracker() {
    require_tools();
    let server = Server::start();
    let url = format!("http://{}/announce", server.tracker.http_addrs()[1]);
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let fx = fixture(&url);
    let v6_port = || {
        std::net::TcpListener::bind("[::1]:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free IPv6 loopback port")
    };
    let mut seeder = libtorrent_on(&fx, &fx.seed_dir, 120, &format!("[::1]:{}", v6_port()));
    wait_seeding(&mut seeder);
    let out = fx.root.join("lt-v6");
    std::fs::create_dir(&out).unwrap();
    let mut leecher = libtorrent_on(&fx, &out, 120, &format!("[::1]:{}", v6_port()));
    wait_seeding(&mut leecher);
    wait_file(&out.join("payload.bin"), &fx.data);
    eventually("both IPv6 peers in the swarm", || {
        let (seeders, completed, _) = server.scrape(&fx.info_hash);
        seeders == 2 && completed >= 1
    });
    drop((seeder, leecher));
    server.stop();
}

#[test]
fn libtorrent_downloads_through_a_private_udp_tracker_with_a_passkey() {
    require_tools();
    const KEY: &str = "member-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("passkeys.txt");
    std::fs::write(&keys, format!("{KEY}\n")).unwrap();
    let server = Server::start_with(TrackerConfig {
        keys: Some(keys),
        ..TrackerConfig::default()
    });
    // libtorrent sends the path as BEP 41 URL data: the key travels with it.
    let url = format!("udp://{}/announce/{KEY}", server.tracker.udp_addrs()[0]);
    let fx = fixture(&url);
    let mut seeder = libtorrent(&fx, &fx.seed_dir, 120);
    wait_seeding(&mut seeder);
    let out = fx.root.join("lt-private");
    std::fs::create_dir(&out).unwrap();
    let mut leecher = libtorrent(&fx, &out, 120);
    wait_seeding(&mut leecher);
    wait_file(&out.join("payload.bin"), &fx.data);
    // The leecher's `completed` announce reports what it downloaded.
    let id = mktorrent_rs::tracker::keys::KeyId::of(KEY).to_string();
    let key_stats = || {
        let body = http_get(server.tracker.http_addrs()[0], "/stats.json");
        let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
        stats["keys"][&id].clone()
    };
    eventually("the download counted under the key", || {
        key_stats()["downloaded"].as_u64() >= Some(fx.data.len() as u64)
    });
    assert!(
        key_stats()["announces"].as_u64() >= Some(3),
        "{}",
        key_stats()
    );
    assert_eq!(server.counter("udp_announce_failed"), 0);
    drop((seeder, leecher));
    server.stop();
}
