//! `publish` end to end on loopback: the real binary seeds while an
//! in-process downloader (our codecs) finds it through the embedded tracker,
//! through the DHT only, or through the magnet link's `x.pe`, fetches the
//! metadata over BEP 9 and the data, compared byte for byte. Also the stop
//! conditions, SIGTERM, web seed checks and flag errors.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mktorrent_rs::bencode;
use mktorrent_rs::dht::{self, Dht, Id};
use mktorrent_rs::magnet::Magnet;
use mktorrent_rs::metainfo::{InfoHash, Torrent};
use mktorrent_rs::shutdown::Shutdown;
use serde_json::Value;

use crate::common::{bytes, run, settings, write_tree, BIN, EPOCH};
use crate::downloader::fetch;
use crate::web_server::WebServer;

const LIMIT: Duration = Duration::from_secs(30);

/// Snapshots a `--json` event as pretty JSON, loopback ports filtered.
fn assert_event_snapshot(temp: &Path, name: &str, event: &Value) {
    let mut settings = settings(temp);
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.bind(|| {
        insta::assert_snapshot!(name, serde_json::to_string_pretty(event).unwrap());
    });
}

/// A release tree: one file over several 32 KiB pieces, one short, one empty.
pub(crate) fn release(root: &Path) -> (PathBuf, Vec<u8>) {
    let a = bytes(150_000, 31);
    let b = bytes(1_234, 32);
    let dir = root.join("dist");
    write_tree(&dir, &[("app.bin", &a), ("notes.txt", &b), ("zero", b"")]);
    (dir, [a, b].concat())
}

/// A running `publish --json`, killed on drop.
pub(crate) struct Publish {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) events: Vec<Value>,
    pub(crate) ready: Value,
}

impl Publish {
    /// Starts `publish ARGS --json` in `dir` and waits for its `ready` event.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("publish")
            .args(args)
            .arg("--json")
            .current_dir(dir)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            // Never the user's saved DHT state.
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut publish = Self {
            child,
            lines,
            events: Vec::new(),
            ready: Value::Null,
        };
        publish.ready = publish.wait_for("ready");
        publish
    }

    /// The next event named `name`, collecting the ones before it.
    pub(crate) fn wait_for(&mut self, name: &str) -> Value {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let event: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
                    self.events.push(event.clone());
                    if event["event"] == name {
                        return event;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let output =
                        std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
                            .wait_with_output()
                            .unwrap();
                    panic!(
                        "no {name} event within {LIMIT:?}; events {:?}; stderr:\n{}",
                        self.events,
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
            }
        }
    }

    pub(crate) fn addr(&self, key: &str) -> SocketAddr {
        self.ready[key]
            .as_str()
            .unwrap_or_else(|| panic!("ready.{key}: {}", self.ready))
            .parse()
            .unwrap()
    }

    pub(crate) fn info_hash(&self) -> [u8; 20] {
        InfoHash::from_hex(self.ready["info_hash"].as_str().unwrap())
            .unwrap()
            .0
    }

    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit on its own; returns its exit code and
    /// the `stopped` event.
    pub(crate) fn finish(mut self) -> (i32, Value) {
        let stopped = self.wait_for("stopped");
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), stopped);
            }
            assert!(Instant::now() < deadline, "publish did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_reason(&self) -> &str {
        self.events
            .iter()
            .find(|e| e["event"] == "stopping")
            .and_then(|e| e["reason"].as_str())
            .unwrap_or("none")
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Compact peers (BEP 23) from a tracker's HTTP announce reply.
fn compact_peers(body: &[u8]) -> Vec<SocketAddr> {
    let value = bencode::decode(body).unwrap();
    let peers = value
        .get(b"peers")
        .and_then(bencode::Value::as_bytes)
        .unwrap_or_default();
    peers
        .chunks_exact(6)
        .map(|c| SocketAddr::from(([c[0], c[1], c[2], c[3]], u16::from_be_bytes([c[4], c[5]]))))
        .collect()
}

/// Announces a leecher for `info_hash` to an HTTP tracker and returns the
/// peers it gives back.
async fn tracker_peers(tracker: SocketAddr, info_hash: [u8; 20]) -> Vec<SocketAddr> {
    announce_leecher(tracker, info_hash, 1).await
}

/// Announces a leecher listening on `port` to an HTTP tracker and returns
/// the peers it gives back.
async fn announce_leecher(tracker: SocketAddr, info_hash: [u8; 20], port: u16) -> Vec<SocketAddr> {
    announce(tracker, info_hash, port, 1000).await
}

/// Announces a peer on `port` with `left` bytes to go to an HTTP tracker
/// and returns the peers it gives back.
pub(crate) async fn announce(
    tracker: SocketAddr,
    info_hash: [u8; 20],
    port: u16,
    left: u64,
) -> Vec<SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let escape = |b: &[u8]| -> String { b.iter().map(|x| format!("%{x:02X}")).collect() };
    let request = format!(
        "GET /announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}&compact=1 \
         HTTP/1.0\r\nHost: {tracker}\r\n\r\n",
        escape(&info_hash),
        escape(b"-TEST00-leecher00000")
    );
    let mut stream = tokio::net::TcpStream::connect(tracker).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let body_at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP reply")
        + 4;
    compact_peers(&reply[body_at..])
}

/// Polls `look` until it finds `want` among the peers.
async fn until_listed<F, Fut>(want: SocketAddr, mut look: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<SocketAddr>>,
{
    let deadline = Instant::now() + LIMIT;
    loop {
        if look().await.contains(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "{want} never listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn a_downloader_announcing_to_the_embedded_tracker_is_dialled_at_once() {
    use tokio::io::AsyncReadExt;
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    let publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--tracker-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--no-utp",
            // A plaintext handshake first, so this listener can read it.
            "--encryption",
            "disable",
        ],
    );
    let tracker: SocketAddr = publish.ready["embedded_tracker"]["http"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let info_hash = publish.info_hash();
    runtime().block_on(async {
        // A downloader that only waits to be called, like rtorrent behind
        // a tracker; publish's own re-announce is 15 s or more away.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        announce_leecher(tracker, info_hash, port).await;
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("publish dials the announced downloader within 5 s")
            .unwrap();
        let mut handshake = [0; 68];
        stream.read_exact(&mut handshake).await.unwrap();
        assert_eq!(&handshake[1..20], b"BitTorrent protocol");
        assert_eq!(handshake[28..48], info_hash);
    });
}

#[test]
fn magnet_x_pe_alone_is_enough_and_one_download_stops_it() {
    let temp = tempfile::tempdir().unwrap();
    let (_, expected) = release(temp.path());
    let publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-downloads",
            "1",
        ],
    );
    assert_eq!(publish.events[0]["event"], "created");
    let magnet = Magnet::parse(publish.ready["magnet"].as_str().unwrap()).unwrap();
    let listen = publish.addr("listen");
    assert_eq!(magnet.peers, vec![listen.to_string()]);
    let info_hash = magnet.info_hash.unwrap().0;
    let fetched = runtime().block_on(fetch(listen, info_hash));
    assert!(fetched.data == expected, "downloaded bytes differ");
    // The info dictionary is the one in the torrent publish wrote.
    let written =
        Torrent::parse(&std::fs::read(temp.path().join("dist.torrent")).unwrap()).unwrap();
    assert_eq!(fetched.info, written.info_bytes);

    let (code, stopped) = publish.finish();
    assert_eq!(code, 0);
    assert_eq!(stopped["reason"], "downloads");
    assert_eq!(stopped["completed"], 1);
    assert_eq!(stopped["uploaded"], expected.len() as u64);
    // Our test downloader speaks plaintext.
    assert_eq!(
        (
            stopped["connections"]["rc4"].as_u64(),
            stopped["connections"]["plaintext"].as_u64()
        ),
        (Some(0), Some(1))
    );
}

#[test]
fn found_through_the_embedded_tracker() {
    for hybrid in [false, true] {
        let temp = tempfile::tempdir().unwrap();
        let (_, expected) = release(temp.path());
        let mut args = vec![
            "dist",
            "--tracker-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-downloads",
            "1",
        ];
        if hybrid {
            args.push("--hybrid");
        }
        let publish = Publish::start(temp.path(), &args);
        let tracker: SocketAddr = publish.ready["embedded_tracker"]["http"][0]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let trackers = publish.ready["trackers"].as_array().unwrap();
        assert_eq!(
            trackers,
            &[
                Value::from(format!("http://{tracker}/announce")),
                Value::from(format!("udp://{tracker}")),
            ]
        );
        let listen = publish.addr("listen");
        let torrent =
            Torrent::parse(&std::fs::read(temp.path().join("dist.torrent")).unwrap()).unwrap();
        let mut hashes = vec![torrent.info_hash.0];
        if let Some(v2) = torrent.info_hash_v2 {
            hashes.push(v2[..20].try_into().unwrap());
        }
        assert_eq!(hashes.len(), if hybrid { 2 } else { 1 });
        let runtime = runtime();
        runtime.block_on(async {
            // A hybrid is announced under both hashes.
            for hash in &hashes {
                until_listed(listen, || tracker_peers(tracker, *hash)).await;
            }
            let fetched = fetch(listen, torrent.info_hash.0).await;
            if !hybrid {
                assert!(fetched.data == expected, "downloaded bytes differ");
            }
            assert_eq!(fetched.info, torrent.info_bytes);
        });
        let (code, stopped) = publish.finish();
        assert_eq!((code, stopped["reason"].as_str()), (0, Some("downloads")));
    }
}

#[test]
fn found_through_the_dht_only_and_state_saved_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let (_, expected) = release(temp.path());
    let runtime = runtime();
    let shutdown = Shutdown::new();
    // The other node of a two-node network: the downloader's.
    let node = runtime.block_on(async {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Dht::start(socket, dht::Config::default(), &shutdown).unwrap()
    });
    let node_addr = node.local_addr().to_string();
    let state = temp.path().join("dht.state");
    let mut publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--trackerless",
            "--nodes",
            &node_addr,
            "--listen",
            "127.0.0.1:0",
            "--dht-listen",
            "127.0.0.1:0",
            "--dht-bootstrap",
            &node_addr,
            "--dht-state",
            state.to_str().unwrap(),
        ],
    );
    let listen = publish.addr("listen");
    let info_hash = publish.info_hash();
    runtime.block_on(async {
        let id = Id::from(InfoHash(info_hash));
        until_listed(listen, || async {
            node.get_peers(id)
                .await
                .map(|g| g.peers)
                .unwrap_or_default()
        })
        .await;
        let fetched = fetch(listen, info_hash).await;
        assert!(fetched.data == expected, "downloaded bytes differ");
    });
    // The first round may find the routing table still empty (a busy
    // machine); publish retries until a node stores the announce.
    let mut announced = publish.wait_for("dht_announce");
    while announced["stored"].as_u64() == Some(0) {
        announced = publish.wait_for("dht_announce");
    }
    assert!(announced["stored"].as_u64().unwrap() >= 1, "{announced}");
    publish.terminate();
    let stop_reason = {
        let (code, stopped) = publish.finish();
        assert_eq!(code, 0);
        stopped["reason"].clone()
    };
    assert_eq!(stop_reason, "signal");
    assert!(state.exists(), "DHT state saved at exit");
    runtime.block_on(shutdown.finished());
}

#[test]
fn seed_time_stops_an_existing_torrent_and_damage_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    run(temp.path(), &["create", "dist", "-o", "dist.torrent", "-q"]).success();
    let publish = Publish::start(
        temp.path(),
        &[
            "dist.torrent",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--seed-time",
            "1s",
        ],
    );
    assert_eq!(publish.stop_reason(), "none");
    assert_eq!(
        publish.events[0]["event"], "ready",
        "no create for a .torrent"
    );
    let (code, stopped) = publish.finish();
    assert_eq!((code, stopped["reason"].as_str()), (0, Some("seed-time")));

    // One flipped byte: refused before anything is announced.
    let file = temp.path().join("dist/app.bin");
    let mut data = std::fs::read(&file).unwrap();
    data[70_000] ^= 1;
    std::fs::write(&file, data).unwrap();
    let out = run(
        temp.path(),
        &[
            "publish",
            "dist.torrent",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--json",
        ],
    )
    .failure();
    assert!(out.stderr.contains("1 of 5 pieces"), "{}", out.stderr);
    assert!(!out.stdout.contains("\"ready\""), "{}", out.stdout);
}

#[test]
fn web_seeds_are_checked_before_publishing() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    let server = WebServer::start(&[("good", temp.path().to_owned())]);
    let (good, missing) = (server.url("good/"), server.url("missing/"));
    run(
        temp.path(),
        &[
            "create",
            "dist",
            "-o",
            "dist.torrent",
            "-q",
            "-w",
            &good,
            "-w",
            &missing,
        ],
    )
    .success();
    let before = Torrent::parse(&std::fs::read(temp.path().join("dist.torrent")).unwrap()).unwrap();
    let common = ["--listen", "127.0.0.1:0", "--no-dht", "--seed-time", "0"];

    let mut args = vec!["publish", "dist.torrent", "--check-web-seeds"];
    args.extend(common);
    let out = run(temp.path(), &args).failure();
    assert!(out.stderr.contains(&missing), "{}", out.stderr);
    assert!(!out.stderr.contains("Seeding"), "{}", out.stderr);

    args.push("--drop-failing-web-seeds");
    args.push("--json");
    let out = run(temp.path(), &args).success();
    let checked: Value = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "web_seeds")
        .expect("a web_seeds event");
    // Each failing URL says why, for the CI log.
    assert_event_snapshot(temp.path(), "publish_json_web_seeds", &checked);
    let after = Torrent::parse(&std::fs::read(temp.path().join("dist.torrent")).unwrap()).unwrap();
    assert_eq!(after.meta.web_seeds, vec![good]);
    assert_eq!(after.info_hash, before.info_hash);
}

#[test]
fn flag_mistakes_are_named() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    run(temp.path(), &["create", "dist", "-o", "dist.torrent", "-q"]).success();
    let cases: &[(&[&str], &str)] = &[
        (
            &["publish", "dist.torrent", "-a", "http://t.example/announce"],
            "create flags",
        ),
        (&["publish", "dist", "--seed-time", "5x"], "--seed-time"),
        (&["publish", "dist", "--ratio", "0"], "--ratio"),
        (
            &[
                "publish",
                "dist",
                "--tracker-listen",
                "0.0.0.0:0",
                "--no-dht",
            ],
            "--public-host",
        ),
        (&["publish", "dist", "--content", "x"], "--content"),
        (&["publish", "missing.torrent", "--no-dht"], "missing"),
    ];
    for (args, needle) in cases {
        let out = run(temp.path(), args).failure();
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn an_outside_tracker_gets_started_then_stopped() {
    use mktorrent_rs::tracker::{Tracker, TrackerConfig};
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    let runtime = runtime();
    let shutdown = Shutdown::new();
    let tracker = runtime.block_on(async {
        let config = TrackerConfig {
            http: vec!["127.0.0.1:0".parse().unwrap()],
            ..TrackerConfig::default()
        };
        Tracker::start(config, &shutdown).await.unwrap()
    });
    let addr = tracker.http_addrs()[0];
    let url = format!("http://{addr}/announce");
    // The URL points here but its port is taken: publish only announces to it.
    let publish = Publish::start(
        temp.path(),
        &["dist", "-a", &url, "--listen", "127.0.0.1:0", "--no-dht"],
    );
    assert!(publish.ready["embedded_tracker"].is_null());
    let listen = publish.addr("listen");
    let info_hash = publish.info_hash();
    runtime.block_on(until_listed(listen, || tracker_peers(addr, info_hash)));
    publish.terminate();
    let (code, stopped) = publish.finish();
    assert_eq!((code, stopped["reason"].as_str()), (0, Some("signal")));
    let after = runtime.block_on(tracker_peers(addr, info_hash));
    assert!(
        !after.contains(&listen),
        "still listed after stopped: {after:?}"
    );
    runtime.block_on(shutdown.finished());
}

#[test]
fn upload_ratio_stops_it() {
    let temp = tempfile::tempdir().unwrap();
    let (_, expected) = release(temp.path());
    let publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--ratio",
            "1",
        ],
    );
    let listen = publish.addr("listen");
    let fetched = runtime().block_on(fetch(listen, publish.info_hash()));
    assert!(fetched.data == expected, "downloaded bytes differ");
    let (code, stopped) = publish.finish();
    assert_eq!((code, stopped["reason"].as_str()), (0, Some("ratio")));
    assert_eq!(stopped["uploaded"], expected.len() as u64);
}

/// Runs publish and waits at most `limit` for it to exit: (code, stdout, stderr).
fn publish_exits_within(dir: &Path, args: &[&str], limit: Duration) -> (i32, String, String) {
    let mut child = std::process::Command::new(crate::common::BIN)
        .current_dir(dir)
        .arg("publish")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("publish {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

#[test]
fn a_failing_part_ends_publish_even_with_an_embedded_tracker() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    run(temp.path(), &["create", "dist", "-o", "dist.torrent", "-q"]).success();
    // The seeder's port is taken: the tracker has started by then, and
    // must not keep the process alive.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let (code, out, err) = publish_exits_within(
        temp.path(),
        &[
            "dist.torrent",
            "--listen",
            &listen,
            "--tracker-listen",
            "127.0.0.1:0",
            "--no-dht",
            "--json",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(&listen), "names the address: {err}");
    let error: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|e: &serde_json::Value| e["event"] == "error")
        .unwrap_or_else(|| panic!("no error event: {out}"));
    assert_event_snapshot(temp.path(), "publish_json_error_busy_port", &error);
}

#[test]
fn require_tracker_fails_when_no_tracker_answers_and_status_counts_every_tracker() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    // Three trackers in two tiers, none answering: each port is taken (so
    // publish is not their tracker) by a listener that hangs up at once.
    let urls: Vec<String> = (0..3)
        .map(|_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/announce", listener.local_addr().unwrap());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    drop(stream);
                }
            });
            url
        })
        .collect();
    let first_tier = format!("{},{}", urls[0], urls[1]);
    let (code, stdout, _) = publish_exits_within(
        temp.path(),
        &[
            "dist",
            "-a",
            &first_tier,
            "-a",
            &urls[2],
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--seed-time",
            "3s",
            "--status-interval",
            "1",
            "--require-tracker",
            "--json",
        ],
        LIMIT,
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(code, 1, "{stdout}");
    let last = events.last().unwrap();
    assert_event_snapshot(temp.path(), "publish_json_error_no_tracker", last);
    let status = events
        .iter()
        .find(|e| e["event"] == "status")
        .expect("a status event");
    // The counts and the tiers as in `show` (from 1); each tracker's timing varies.
    let trackers: Vec<Value> = status["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!({ "tier": t["tier"], "url": t["url"] }))
        .collect();
    let summary = serde_json::json!({
        "trackers_total": status["trackers_total"],
        "trackers": trackers,
    });
    assert_event_snapshot(temp.path(), "publish_json_status_trackers", &summary);
}
