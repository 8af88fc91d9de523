//! `mktorrent-rs publish` (the real binary, with `--json`) against real
//! clients on loopback: libtorrent finds it through the embedded HTTP and
//! UDP trackers, through the DHT from a bare info-hash magnet, and from the
//! `x.pe` of the magnet it prints; aria2 through the HTTP tracker and the
//! DHT; Transmission when publish dials it; and a hybrid torrent is
//! announced under both info hashes. Each test reads publish's `ready`
//! line for ports and paths, compares the download with the source byte for
//! byte, and lets `--until-downloads 1` stop publish, which must then exit
//! 0 after a `stopped` event. Every process binds 127.0.0.1 only and is told
//! of no tracker or node elsewhere (trackerless torrents get loopback
//! `--nodes`, or `create` would write the public routers); every wait is
//! bounded and every child is killed when a test fails.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mktorrent_rs::magnet::Magnet;
use serde_json::Value;

use crate::support::{
    assert_libtorrent_imported, assert_same_tree, create, eventually, free_port, free_udp_port,
    libtorrent_command, nested_tree, ours, parse_json, require, same_nonempty_files, scrape,
    str_field, transmission_cli, Spawned, LIMIT,
};

/// Content every test publishes: [`crate::support::NESTED`], ~1.6 MiB.
pub(crate) const NAME: &str = "release";
pub(crate) const PIECE: &str = "32KiB";
/// A node address nobody answers at, for torrents whose DHT is unused.
pub(crate) const NO_NODE: &str = "127.0.0.1:1";

/// A running `publish --json --until-downloads 1`, with every event read
/// so far. On a failing test its events and stderr are printed, then it is
/// killed.
pub(crate) struct Publish {
    process: Spawned,
    events: Vec<Value>,
}

/// The `ready` event.
pub(crate) struct Ready {
    pub(crate) listen: SocketAddr,
    pub(crate) torrent: PathBuf,
    pub(crate) magnet: String,
    pub(crate) info_hash: String,
    pub(crate) info_hash_v2: Option<String>,
    pub(crate) trackers: Vec<String>,
    /// The embedded tracker's HTTP addresses.
    pub(crate) http: Vec<SocketAddr>,
    /// The embedded tracker's UDP addresses.
    pub(crate) udp: Vec<SocketAddr>,
    pub(crate) dht: Option<SocketAddr>,
}

impl Publish {
    /// `publish ARGS... --json --until-downloads 1`, run in `dir`.
    pub(crate) fn start(dir: &Path, args: &[&OsStr]) -> Self {
        let mut cmd = ours();
        cmd.current_dir(dir)
            .arg("publish")
            .args(args)
            .args(["--json", "--until-downloads", "1"]);
        Self {
            process: Spawned::start(&mut cmd, &dir.join("publish.stderr")),
            events: Vec::new(),
        }
    }

    /// The next event named `name`; the ones before it are kept too.
    pub(crate) fn event(&mut self, name: &str) -> Value {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.process.next_line(left) else {
                let status = self.process.wait(Duration::from_secs(5));
                panic!("publish exited with {status} before a {name:?} event");
            };
            let event = parse_json(&line, "publish --json");
            assert!(event["event"].is_string(), "no \"event\" in {line}");
            self.events.push(event.clone());
            if event["event"] == name {
                return event;
            }
        }
    }

    pub(crate) fn ready(&mut self) -> Ready {
        let event = self.event("ready");
        let addr = |value: &Value| -> SocketAddr {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("not an address: {value} in {event}"));
            text.parse()
                .unwrap_or_else(|err| panic!("{text}: {err} in {event}"))
        };
        let list = |value: &Value| -> Vec<Value> { value.as_array().cloned().unwrap_or_default() };
        let tracker = &event["embedded_tracker"];
        let ready = Ready {
            listen: addr(&event["listen"]),
            torrent: PathBuf::from(str_field(&event, "torrent")),
            magnet: str_field(&event, "magnet").to_owned(),
            info_hash: str_field(&event, "info_hash").to_owned(),
            info_hash_v2: event["info_hash_v2"].as_str().map(str::to_owned),
            trackers: list(&event["trackers"])
                .iter()
                .map(|url| url.as_str().expect("tracker URL").to_owned())
                .collect(),
            http: list(&tracker["http"]).iter().map(addr).collect(),
            udp: list(&tracker["udp"]).iter().map(addr).collect(),
            dht: (!event["dht"].is_null()).then(|| addr(&event["dht"])),
        };
        // Loopback, or the host end of a test namespace (crate::netns).
        let ip = ready.listen.ip();
        assert!(
            ip.is_loopback() || ip.to_string().starts_with("10.231."),
            "{event}"
        );
        ready
    }

    /// Waits for publish to stop by itself after the one download it was
    /// told to wait for; asserts the `stopping` and `stopped` events and exit
    /// 0. Returns every event.
    pub(crate) fn finish(mut self) -> Vec<Value> {
        let stopping = self.event("stopping");
        assert_eq!(stopping["reason"], "downloads", "{stopping}");
        let stopped = self.event("stopped");
        assert!(
            stopped["completed"].as_u64() >= Some(1),
            "the finished download was not counted: {stopped}"
        );
        assert!(stopped["uploaded"].as_u64() > Some(0), "{stopped}");
        let status = self.process.wait(LIMIT);
        assert!(status.success(), "publish exited with {status}");
        std::mem::take(&mut self.events)
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Events printed after the last one the test waited for.
            for line in self.process.pending_lines() {
                self.events
                    .push(serde_json::from_str(&line).unwrap_or(Value::String(line)));
            }
            eprintln!(
                "{}\nJSON events:\n{}\nstderr:\n{}",
                self.process.what(),
                lines(&self.events),
                self.process.stderr()
            );
        }
    }
}

/// The `announce` events that succeeded, as (url, info_hash).
fn good_announces(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "announce" && e["ok"] == true)
        .map(|e| {
            (
                str_field(e, "url").to_owned(),
                str_field(e, "info_hash").to_owned(),
            )
        })
        .collect()
}

/// Events one per line, for failure messages.
/// Asserts that publish's final `stopped` event counts at least one RC4
/// (MSE/PE) connection and no plaintext one: the downloader required
/// encryption, and publish spoke it.
pub(crate) fn assert_only_rc4(events: &[Value]) {
    let last = events.iter().rev().find(|e| e["event"] == "stopped");
    let connections = last.map(|e| &e["connections"]);
    assert!(
        connections.is_some_and(|c| c["rc4"].as_u64() > Some(0) && c["plaintext"] == 0),
        "expected RC4 connections only; events:\n{}",
        lines(events)
    );
}

pub(crate) fn lines(events: &[Value]) -> String {
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    lines.join("\n")
}

/// A temp dir with [`NAME`] in it; returns (dir, content).
pub(crate) fn content() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temp dir");
    let content = nested_tree(temp.path(), NAME);
    (temp, content)
}

/// `lt_download.py DEST ARGS...` (libtorrent, 127.0.0.1 only): waits until
/// it has every piece and returns its report. It keeps seeding until
/// dropped, so publish sees the finished download.
pub(crate) fn libtorrent_download(dest: &Path, args: &[&OsStr]) -> (Spawned, Value) {
    std::fs::create_dir_all(dest).expect("mkdir");
    let mut cmd = libtorrent_command("lt_download.py");
    cmd.arg(dest).args(args).args(["--timeout", "80"]);
    let mut client = Spawned::start(&mut cmd, &dest.with_extension("stderr"));
    let Some(line) = client.next_line(LIMIT) else {
        let status = client.wait(Duration::from_secs(5));
        assert_libtorrent_imported(status, &client.stderr());
        panic!(
            "libtorrent did not complete ({status}):\n{}",
            client.stderr()
        );
    };
    let report = parse_json(&line, "lt_download.py");
    (client, report)
}

/// The libtorrent report names `peer` among the peers it downloaded from.
fn assert_peer(report: &Value, peer: SocketAddr) {
    let peers = report["peers"].as_array().expect("peers");
    assert!(
        peers.iter().any(|p| *p == peer.to_string()),
        "{peer} not among libtorrent's peers: {report}"
    );
}

/// The magnet reduced to its v1 info hash and name: no trackers, peers or
/// v2 hash, so the DHT is the only way to the seeder.
pub(crate) fn btih_only(uri: &str) -> String {
    let full = Magnet::parse(uri).unwrap_or_else(|err| panic!("{uri}: {err}"));
    let bare = Magnet {
        info_hash: full.info_hash,
        name: full.name,
        ..Magnet::default()
    };
    bare.to_uri()
}

/// `dht serve` on 127.0.0.1, joined to nothing: the network's first node.
fn dht_node(dir: &Path) -> (Spawned, SocketAddr) {
    dht_node_on(dir, "127.0.0.1", &[], "dht")
}

/// `dht serve` on `ip`, port 0, joined through `bootstrap` (none: the
/// network's first node); its stderr goes to `dir/NAME.stderr`.
pub(crate) fn dht_node_on(
    dir: &Path,
    ip: &str,
    bootstrap: &[SocketAddr],
    name: &str,
) -> (Spawned, SocketAddr) {
    let mut cmd = ours();
    cmd.args(["dht", "serve", "--bind", &format!("{ip}:0")])
        .args(["--no-default-routers", "--rate-limit", "0"]);
    for node in bootstrap {
        cmd.arg("--bootstrap").arg(node.to_string());
    }
    let node = Spawned::start(&mut cmd, &dir.join(format!("{name}.stderr")));
    // It says "DHT node ID listening on ADDR (N bootstrap addresses)" on
    // stderr; stdout has only its status lines.
    let started = Instant::now();
    loop {
        let said = node.stderr();
        let addr = said
            .split_whitespace()
            .skip_while(|word| *word != "on")
            .nth(1)
            .and_then(|word| word.parse().ok());
        if let Some(addr) = addr {
            return (node, addr);
        }
        assert!(
            started.elapsed() < LIMIT,
            "dht serve named no address: {said:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `aria2c SOURCE` into `dest`, loopback only, exiting once complete;
/// `extra` turns its DHT on or off. Its DHT file and HOME are in `dest`'s
/// parent, never the user's.
/// Publish creating `torrent` from `content` with the embedded tracker
/// listed first, no DHT, and `extra` flags.
fn publish_on_tracker(dir: &Path, content: &Path, torrent: &Path, extra: &[&OsStr]) -> Publish {
    let mut args = vec![
        content.as_os_str(),
        os("-l"),
        os(PIECE),
        os("-o"),
        torrent.as_os_str(),
        os("--tracker-listen"),
        os("127.0.0.1:0"),
        os("--listen"),
        os("127.0.0.1:0"),
        os("--no-dht"),
    ];
    args.extend_from_slice(extra);
    Publish::start(dir, &args)
}

/// A `dht serve` node and a trackerless publish that joins the DHT through
/// it (the node is also the torrent's only `nodes` entry, so nothing public
/// is ever contacted).
fn publish_on_dht(dir: &Path, content: &Path) -> (Spawned, String, Publish) {
    let (node_process, node) = dht_node(dir);
    let node = node.to_string();
    let publish = Publish::start(
        dir,
        &[
            content.as_os_str(),
            os("-l"),
            os(PIECE),
            os("--trackerless"),
            os("--nodes"),
            os(&node),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--dht-listen"),
            os("127.0.0.1:0"),
            os("--dht-bootstrap"),
            os(&node),
        ],
    );
    (node_process, node, publish)
}

fn aria2(dest: &Path, source: &OsStr, extra: &[String]) -> Spawned {
    let program = require("aria2c", "aria2");
    let home = dest.with_extension("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    Spawned::start(
        Command::new(program)
            .env("HOME", &home)
            .arg(format!("--dir={}", dest.display()))
            .args([
                "--interface=127.0.0.1",
                "--disable-ipv6=true",
                "--seed-time=0",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--file-allocation=none",
                "--summary-interval=0",
                "--console-log-level=notice",
                "--bt-stop-timeout=80",
                "--bt-tracker-connect-timeout=10",
                "--bt-tracker-timeout=10",
            ])
            .arg(format!("--listen-port={}", free_port()))
            .arg(format!(
                "--dht-file-path={}",
                home.join("dht.dat").display()
            ))
            .args(extra)
            .arg(source),
        &dest.with_extension("stderr"),
    )
}

/// Waits for aria2 to exit 0, showing what it printed otherwise.
fn aria2_done(mut client: Spawned) {
    let status = client.wait(LIMIT);
    if !status.success() {
        let mut said = Vec::new();
        while let Some(line) = client.next_line(Duration::from_secs(1)) {
            said.push(line);
        }
        panic!(
            "aria2c exited with {status}:\n{}\n{}",
            said.join("\n"),
            client.stderr()
        );
    }
}

pub(crate) fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

#[test]
fn libtorrent_downloads_through_the_embedded_http_tracker() {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let mut publish = publish_on_tracker(temp.path(), &content, &torrent, &[]);
    let created = publish.event("created");
    let ready = publish.ready();
    assert_eq!(created["info_hash"], ready.info_hash.as_str());
    assert!(
        std::fs::read(temp.path().join(&ready.torrent)).ok() == std::fs::read(&torrent).ok(),
        "ready names the torrent written: {}",
        ready.torrent.display()
    );
    let (http, udp) = (ready.http[0], ready.udp[0]);
    assert_eq!(
        ready.trackers[..2],
        [format!("http://{http}/announce"), format!("udp://{udp}")],
        "the embedded tracker comes first"
    );

    // Publish's own announce, over either URL: both reach one swarm.
    let hash = unhex20(&ready.info_hash);
    eventually("publish in the embedded tracker's swarm", || {
        scrape(http, &hash).0 == 1
    });

    let dest = temp.path().join("libtorrent");
    let (client, report) = libtorrent_download(&dest, &[os("--torrent"), torrent.as_os_str()]);
    assert_eq!(report["info_hash"], ready.info_hash.as_str());
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_peer(&report, ready.listen);
    let events = publish.finish();
    drop(client);
    // Both URLs share one tier, tried in random order (BEP 12).
    assert!(
        good_announces(&events)
            .iter()
            .any(|(url, _)| ready.trackers[..2].contains(url)),
        "no good announce to the embedded tracker; events:\n{}",
        lines(&events)
    );
}

#[test]
fn libtorrent_downloads_through_the_embedded_udp_tracker_of_a_torrent_file() {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let port = free_udp_port();
    let url = format!("udp://127.0.0.1:{port}");
    create(&content, &torrent, &["-a", &url, "-l", PIECE]);
    let mut publish = Publish::start(
        temp.path(),
        &[
            torrent.as_os_str(),
            os("--content"),
            content.as_os_str(),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--no-dht"),
        ],
    );
    let ready = publish.ready();
    assert_eq!(
        ready.udp,
        [SocketAddr::from(([127, 0, 0, 1], port))],
        "the embedded UDP tracker starts on the torrent's port"
    );

    let dest = temp.path().join("libtorrent");
    let (client, report) = libtorrent_download(&dest, &[os("--torrent"), torrent.as_os_str()]);
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_peer(&report, ready.listen);
    let events = publish.finish();
    drop(client);
    assert!(
        good_announces(&events)
            .iter()
            .any(|(announced, _)| announced.starts_with(&url)),
        "no good announce to {url}; events:\n{}",
        lines(&events)
    );
}

#[test]
fn libtorrent_finds_publish_through_the_dht_from_a_bare_magnet() {
    libtorrent_dht_download(false);
}

/// libtorrent with encryption forced both ways and RC4 only finds publish
/// through the DHT alone and downloads from it.
#[test]
fn libtorrent_with_forced_encryption_finds_publish_through_the_dht() {
    libtorrent_dht_download(true);
}

/// libtorrent joins a private DHT through a `dht serve` node, finds a
/// trackerless publish from a bare magnet and downloads from it (with
/// encryption forced: over RC4 only).
fn libtorrent_dht_download(forced_encryption: bool) {
    let (temp, content) = content();
    let (_node, node, mut publish) = publish_on_dht(temp.path(), &content);
    let ready = publish.ready();
    let ours = ready.dht.expect("ready names the DHT address").to_string();
    assert!(ready.trackers.is_empty(), "{:?}", ready.trackers);
    let magnet = btih_only(&ready.magnet);
    assert!(!magnet.contains("x.pe") && !magnet.contains("tr="));

    let dest = temp.path().join("libtorrent");
    let mut args = vec![
        os("--magnet"),
        os(&magnet),
        os("--dht"),
        os(&node),
        os("--dht"),
        os(&ours),
    ];
    if forced_encryption {
        args.push(os("--forced-encryption"));
    }
    let (client, report) = libtorrent_download(&dest, &args);
    assert_eq!(report["has_metadata"], true);
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_peer(&report, ready.listen);
    let events = publish.finish();
    drop(client);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "dht_announce" && e["stored"].as_u64() > Some(0)),
        "no DHT announce was stored anywhere; events:\n{}",
        lines(&events)
    );
    if forced_encryption {
        assert_only_rc4(&events);
    }
}

#[test]
fn libtorrent_downloads_from_the_magnet_publish_prints() {
    let (temp, content) = content();
    let mut publish = Publish::start(
        temp.path(),
        &[
            content.as_os_str(),
            os("-l"),
            os(PIECE),
            os("--trackerless"),
            os("--nodes"),
            os(NO_NODE),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--no-dht"),
        ],
    );
    let ready = publish.ready();
    assert!(ready.dht.is_none());
    assert!(
        ready.magnet.contains(&format!("x.pe={}", ready.listen)),
        "{}",
        ready.magnet
    );

    let dest = temp.path().join("libtorrent");
    let (client, report) = libtorrent_download(&dest, &[os("--magnet"), os(&ready.magnet)]);
    assert_eq!(report["has_metadata"], true);
    assert_same_tree(&content, &dest.join(NAME), true);
    publish.finish();
    drop(client);
}

/// What aria2 needs to accept only MSE connections, RC4 included (it
/// would otherwise settle for header-only obfuscation).
const ARIA2_REQUIRE_CRYPTO: [&str; 2] = ["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"];

#[test]
fn aria2_downloads_through_the_embedded_http_tracker() {
    aria2_tracker_download(false);
}

#[test]
fn aria2_requiring_encryption_downloads_through_the_embedded_http_tracker() {
    aria2_tracker_download(true);
}

fn aria2_tracker_download(require_crypto: bool) {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let mut publish = publish_on_tracker(temp.path(), &content, &torrent, &[]);
    publish.ready();
    let dest = temp.path().join("aria2");
    let mut args = vec!["--enable-dht=false".to_owned()];
    if require_crypto {
        args.extend(ARIA2_REQUIRE_CRYPTO.map(String::from));
    }
    let client = aria2(&dest, torrent.as_os_str(), &args);
    aria2_done(client);
    assert_same_tree(&content, &dest.join(NAME), true);
    let events = publish.finish();
    if require_crypto {
        assert_only_rc4(&events);
    }
}

#[test]
fn aria2_finds_publish_through_the_dht() {
    aria2_dht_download(false);
}

#[test]
fn aria2_requiring_encryption_finds_publish_through_the_dht() {
    aria2_dht_download(true);
}

fn aria2_dht_download(require_crypto: bool) {
    let (temp, content) = content();
    let (_node, _, mut publish) = publish_on_dht(temp.path(), &content);
    let ready = publish.ready();
    let ours = ready.dht.expect("ready names the DHT address");
    let dest = temp.path().join("aria2");
    let mut args = vec![
        "--enable-dht=true".to_owned(),
        "--dht-listen-addr=127.0.0.1".to_owned(),
        format!("--dht-listen-port={}", free_udp_port()),
        format!("--dht-entry-point={ours}"),
    ];
    if require_crypto {
        args.extend(ARIA2_REQUIRE_CRYPTO.map(String::from));
    }
    let client = aria2(&dest, os(&btih_only(&ready.magnet)), &args);
    aria2_done(client);
    assert_same_tree(&content, &dest.join(NAME), true);
    let events = publish.finish();
    if require_crypto {
        assert_only_rc4(&events);
    }
}

#[test]
fn transmission_downloads_when_publish_dials_it() {
    let (temp, content) = content();
    let port = free_port();
    let torrent = temp.path().join("release.torrent");
    let connect = format!("127.0.0.1:{port}");
    let mut publish = publish_on_tracker(
        temp.path(),
        &content,
        &torrent,
        &[os("--connect"), os(&connect)],
    );
    publish.ready();
    // Started after publish: its --connect must dial again until it answers.
    let dest = temp.path().join("transmission");
    let _client = transmission_cli(
        &torrent,
        &dest,
        &temp.path().join("transmission-config"),
        port,
    );
    let started = Instant::now();
    // Transmission 3.00 does not create empty files.
    while !same_nonempty_files(&content, &dest.join(NAME)) {
        assert!(
            started.elapsed() < LIMIT,
            "transmission did not complete within {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_same_tree(&content, &dest.join(NAME), false);
    publish.finish();
}

#[test]
fn a_hybrid_torrent_is_announced_under_both_info_hashes() {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let mut publish = publish_on_tracker(temp.path(), &content, &torrent, &[os("--hybrid")]);
    let ready = publish.ready();
    let v1 = ready.info_hash.clone();
    let v2 = ready.info_hash_v2.clone().expect("a hybrid has a v2 hash");
    assert_eq!((v1.len(), v2.len()), (40, 64));
    // Trackers know a v2 swarm by the hash truncated to 20 bytes (BEP 52).
    let v2_short = v2[..40].to_owned();
    // Before any client joins, so the seeder in each swarm is publish.
    for hash in [&v1, &v2_short] {
        let bytes = unhex20(hash);
        eventually(&format!("publish in the swarm of {hash}"), || {
            scrape(ready.http[0], &bytes).0 == 1
        });
    }

    let dest = temp.path().join("libtorrent");
    let (client, _) = libtorrent_download(&dest, &[os("--torrent"), torrent.as_os_str()]);
    assert_same_tree(&content, &dest.join(NAME), true);
    let events = publish.finish();
    drop(client);
    let announced = good_announces(&events);
    for hash in [&v1, &v2] {
        assert!(
            announced
                .iter()
                .any(|(_, h)| h == hash || (h.len() == 40 && hash.starts_with(h.as_str()))),
            "{hash} never announced; events:\n{}",
            lines(&events)
        );
    }
}

/// 40 hex digits as 20 bytes.
fn unhex20(hex: &str) -> [u8; 20] {
    let mut out = [0; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = hex
            .get(2 * i..2 * i + 2)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .unwrap_or_else(|| panic!("not 40 hex digits: {hex}"));
    }
    out
}

/// A plain HTTP/1.0 GET on loopback: the body.
fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("status page listens");
    stream.set_read_timeout(Some(LIMIT)).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    assert!(head.split_whitespace().nth(1) == Some("200"), "{head}");
    body.to_owned()
}

#[test]
fn libtorrent_downloads_two_torrents_from_one_publish_and_its_status_page_shows_both() {
    let (temp, content) = content();
    let second = nested_tree(temp.path(), "second");
    let mut publish = Publish::start(
        temp.path(),
        &[
            content.as_os_str(),
            second.as_os_str(),
            os("-l"),
            os(PIECE),
            os("--tracker-listen"),
            os("127.0.0.1:0"),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--no-dht"),
            os("--status-listen"),
            os("127.0.0.1:0"),
        ],
    );
    let first_ready = publish.ready();
    let second_ready = publish.ready();
    assert_eq!(first_ready.listen, second_ready.listen, "one port for both");
    assert_eq!(first_ready.http, second_ready.http, "one embedded tracker");
    let status: SocketAddr = publish
        .events
        .iter()
        .rev()
        .find(|e| e["event"] == "ready")
        .and_then(|e| e["status"].as_str())
        .expect("ready names the status address")
        .parse()
        .expect("an address");

    let dest = temp.path().join("libtorrent-1");
    let (first_client, report) =
        libtorrent_download(&dest, &[os("--torrent"), first_ready.torrent.as_os_str()]);
    assert_eq!(report["info_hash"], first_ready.info_hash.as_str());
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_peer(&report, first_ready.listen);

    // Between the two downloads: the first torrent done, the second seeding.
    let dom = crate::status_page::chromium_dom(&format!("http://{status}/"));
    for ready in [&first_ready, &second_ready] {
        assert!(
            dom.contains(&ready.info_hash),
            "{} missing:\n{dom}",
            ready.info_hash
        );
    }
    assert!(dom.contains("second"), "{dom}");
    let samples = crate::status_page::assert_prometheus(&http_get(status, "/metrics"));
    let torrents_seen: std::collections::HashSet<_> = samples
        .iter()
        .filter(|s| s.name == "mktorrent_publish_torrent_uploaded_bytes_total")
        .filter_map(|s| s.labels.get("info_hash").cloned())
        .collect();
    assert_eq!(torrents_seen.len(), 2, "{samples:?}");

    let dest = temp.path().join("libtorrent-2");
    let (second_client, report) =
        libtorrent_download(&dest, &[os("--torrent"), second_ready.torrent.as_os_str()]);
    assert_eq!(report["info_hash"], second_ready.info_hash.as_str());
    assert_same_tree(&second, &dest.join("second"), true);
    // Each torrent stops alone, then the session.
    for _ in 0..2 {
        let stopped = publish.event("stopped");
        assert_eq!(stopped["reason"], "downloads", "{stopped}");
    }
    let events = publish.finish();
    drop((first_client, second_client));
    let stopped: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "stopped" && e["info_hash"].is_string())
        .collect();
    assert_eq!(
        stopped.len(),
        2,
        "one stopped per torrent:\n{}",
        lines(&events)
    );
}

/// libtorrent with encryption forced both ways and RC4 only (what
/// "require encryption" means in qBittorrent) downloads from publish, given
/// the torrent file (`by_magnet: false`, found via the embedded tracker) or
/// the magnet with `x.pe`: its first segment is an MSE handshake, which
/// publish must answer.
fn forced_encryption_download(by_magnet: bool) {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let mut publish = publish_on_tracker(temp.path(), &content, &torrent, &[]);
    let ready = publish.ready();
    let dest = temp.path().join("libtorrent");
    let source = match by_magnet {
        true => [os("--magnet"), os(&ready.magnet)],
        false => [os("--torrent"), torrent.as_os_str()],
    };
    let (client, report) =
        libtorrent_download(&dest, &[source[0], source[1], os("--forced-encryption")]);
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_peer(&report, ready.listen);
    drop(client);
    assert_only_rc4(&publish.finish());
}

#[test]
fn libtorrent_with_forced_encryption_downloads_through_the_embedded_tracker() {
    forced_encryption_download(false);
}

#[test]
fn libtorrent_with_forced_encryption_downloads_from_the_x_pe_magnet() {
    forced_encryption_download(true);
}
