//! Seeders for the client tests that run both against `publish` and
//! against a libtorrent control (`lt_seeder.py seed`), on one address: a
//! loopback one, or a test namespace's host end (`crate::netns`).
//!
//! A test proves its client harness with the control first; the same
//! client code then runs against `publish`. Everything binds the given
//! address only and is told of no tracker or DHT node elsewhere; every
//! process is killed when its value is dropped.

use std::ffi::OsStr;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::publish::{dht_node_on, os, Publish, Ready, PIECE};
use crate::support::{create, libtorrent_command, ours, parse_json, Spawned};

/// Transmission 3.00 searches the DHT only once it knows more than 8
/// nodes (libtransmission/tr-dht.c, `getstatus`): one more than that.
pub const DHT_NODES: usize = 9;

/// A private DHT network of `dht serve` nodes on one address.
pub struct DhtNetwork {
    _nodes: Vec<Spawned>,
    pub addrs: Vec<SocketAddr>,
}

impl DhtNetwork {
    /// `count` nodes on `ip`: the first joined to nothing, the others
    /// through it (and so to each other).
    pub fn start(dir: &Path, ip: IpAddr, count: usize) -> Self {
        let ip = ip.to_string();
        let mut nodes = Vec::new();
        let mut addrs = Vec::new();
        for n in 0..count {
            let bootstrap: Vec<SocketAddr> = addrs.first().copied().into_iter().collect();
            let (node, addr) = dht_node_on(dir, &ip, &bootstrap, &format!("dht-{n}"));
            nodes.push(node);
            addrs.push(addr);
        }
        Self {
            _nodes: nodes,
            addrs,
        }
    }

    /// The addresses joined by commas (for `--nodes`).
    pub fn joined(&self) -> String {
        let addrs: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        addrs.join(",")
    }
}

/// A TCP port free on `ip` right now (for tools that take a fixed port).
pub fn free_port_on(ip: IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|err| panic!("a free TCP port on {ip}: {err}"))
}

/// A port free on `ip` for both TCP and UDP (a libtorrent listen port
/// serves TCP and uTP).
pub fn free_tcp_udp_port_on(ip: IpAddr) -> u16 {
    for _ in 0..20 {
        let port = free_port_on(ip);
        if std::net::UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port on {ip} free for TCP and UDP")
}

/// `publish CONTENT` creating `torrent` with its embedded tracker (the
/// torrent's only one) and its seeder on `ip`; the DHT node is joined to
/// `dht` only, or off when `dht` is empty. Returns the ready event.
pub fn publish_tracker(
    dir: &Path,
    content: &Path,
    torrent: &Path,
    ip: IpAddr,
    dht: &[SocketAddr],
) -> (Publish, Ready) {
    publish_tracker_with(dir, content, torrent, ip, dht, &[])
}

/// [`publish_tracker`] with `extra` arguments.
pub fn publish_tracker_with(
    dir: &Path,
    content: &Path,
    torrent: &Path,
    ip: IpAddr,
    dht: &[SocketAddr],
    extra: &[&OsStr],
) -> (Publish, Ready) {
    let any = format!("{ip}:0");
    let mut args: Vec<&OsStr> = vec![
        content.as_os_str(),
        os("-l"),
        os(PIECE),
        os("-o"),
        torrent.as_os_str(),
        os("--tracker-listen"),
        os(&any),
        os("--listen"),
        os(&any),
    ];
    let nodes: Vec<String> = dht.iter().map(ToString::to_string).collect();
    if nodes.is_empty() {
        args.push(os("--no-dht"));
    }
    for node in &nodes {
        args.extend([os("--dht-bootstrap"), os(node)]);
    }
    args.extend_from_slice(extra);
    let mut publish = Publish::start(dir, &args);
    let ready = publish.ready();
    assert_eq!(ready.listen.ip(), ip, "publish listens where it was told");
    (publish, ready)
}

/// A trackerless `publish CONTENT` creating `torrent` (its `nodes` are the
/// network's), seeding on `ip` and on the DHT through `network` only.
pub fn publish_dht(
    dir: &Path,
    content: &Path,
    torrent: &Path,
    ip: IpAddr,
    network: &DhtNetwork,
) -> (Publish, Ready) {
    let any = format!("{ip}:0");
    let joined = network.joined();
    let nodes: Vec<String> = network.addrs.iter().map(ToString::to_string).collect();
    let mut args: Vec<&OsStr> = vec![
        content.as_os_str(),
        os("-l"),
        os(PIECE),
        os("-o"),
        torrent.as_os_str(),
        os("--trackerless"),
        os("--nodes"),
        os(&joined),
        os("--listen"),
        os(&any),
    ];
    for node in &nodes {
        args.extend([os("--dht-bootstrap"), os(node)]);
    }
    let mut publish = Publish::start(dir, &args);
    let ready = publish.ready();
    assert_eq!(ready.listen.ip(), ip, "publish listens where it was told");
    (publish, ready)
}

/// `mktorrent-rs tracker` serving HTTP on `ip` (for the control seeder);
/// returns it and its announce URL.
pub fn tracker(dir: &Path, ip: IpAddr) -> (Spawned, String) {
    let port = free_port_on(ip);
    let addr = SocketAddr::new(ip, port);
    let process = Spawned::start(
        ours()
            .arg("tracker")
            .arg("--http")
            .arg(addr.to_string())
            .args(["--no-udp", "--interval", "5", "--min-interval", "1"]),
        &dir.join("tracker.stderr"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the tracker does not listen on {addr}:\n{}",
            process.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (process, format!("http://{addr}/announce"))
}

/// The control torrent for `content`, announced to `tracker` (or
/// trackerless with `nodes` when `tracker` is `None`).
pub fn control_torrent(content: &Path, torrent: &Path, tracker: Option<&str>, nodes: &str) {
    match tracker {
        Some(url) => create(content, torrent, &["-a", url, "-l", PIECE]),
        None => create(
            content,
            torrent,
            &["--trackerless", "--nodes", nodes, "-l", PIECE],
        ),
    };
}

/// The libtorrent control seeder: `lt_seeder.py seed` on `listen` (TCP and
/// uTP), announcing to the torrent's trackers and, given nodes, to the DHT
/// through them. Returns once the content is checked and it listens.
pub fn libtorrent_seeder(
    dir: &Path,
    torrent: &Path,
    save: &Path,
    listen: SocketAddr,
    dht: &[SocketAddr],
) -> Spawned {
    let mut cmd = libtorrent_command("lt_seeder.py");
    cmd.arg("seed")
        .arg(torrent)
        .arg(save)
        .arg(listen.to_string())
        .arg("600");
    for node in dht {
        cmd.arg(node.to_string());
    }
    let mut seeder = Spawned::start(&mut cmd, &dir.join("lt-seeder.stderr"));
    let line = seeder
        .next_line(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the libtorrent seeder exited:\n{}", seeder.stderr()));
    let said = parse_json(&line, "lt_seeder.py seed");
    assert_eq!(said["listening"], listen.to_string(), "{said}");
    seeder
}

/// Polls `check` every half second until it holds; panics after `limit`
/// with `what` and `detail()` (for the client's own log).
pub fn wait_for(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}\n{}",
            detail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    started.elapsed()
}
