//! DHT interop with libtorrent (python3-libtorrent, driven by
//! `dht_libtorrent.py` beside this file) on 127.0.0.1 only: a libtorrent
//! session bootstrapped only from our node finds a peer announced through
//! our nodes, and our `dht get-peers` finds a libtorrent seeder's announce.
//! A missing python3 or libtorrent fails the test.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mktorrent_rs::dht::{Clock, Config, Dht, Id};
use mktorrent_rs::shutdown::Shutdown;
use tokio::net::UdpSocket;

use crate::support::SYSTEM_PYTHON as PYTHON;

const BIN: &str = env!("CARGO_BIN_EXE_mktorrent-rs");
const DRIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/dht_libtorrent.py"
);
const DEADLINE: Duration = Duration::from_secs(40);

/// Eight of our nodes on loopback, the first being everyone's bootstrap.
async fn our_network(shutdown: &Shutdown) -> Vec<Dht> {
    let clock = Clock::default();
    let config = |bootstrap| Config {
        bootstrap,
        rate_limit: 0,
        tick: Duration::from_millis(50),
        clock: clock.clone(),
        ..Config::default()
    };
    let mut nodes: Vec<Dht> = Vec::new();
    for i in 0..8 {
        let bootstrap = if i == 0 {
            vec![]
        } else {
            vec![nodes[0].local_addr()]
        };
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        nodes.push(Dht::start(socket, config(bootstrap), shutdown).unwrap());
    }
    for node in &nodes {
        while node.stats().await.unwrap().nodes < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    nodes
}

fn libtorrent_driver(args: &[&str]) -> Command {
    let check = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status()
        .unwrap_or_else(|err| {
            panic!(
                "install python3-libtorrent: apt-get install python3-libtorrent ({PYTHON}: {err})"
            )
        });
    assert!(
        check.success(),
        "python3-libtorrent is required for the DHT interop tests"
    );
    let mut command = Command::new(PYTHON);
    command.arg(DRIVER).args(args);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_finds_a_peer_announced_through_our_node() {
    let shutdown = Shutdown::new();
    let run = async {
        let nodes = our_network(&shutdown).await;
        let hash = Id([0x5a; 20]);
        let done = nodes[3].announce(hash, Some(6881)).await.unwrap();
        assert!(done.stored >= 4, "{done:?}");
        let bootstrap = nodes[0].local_addr().to_string();
        let output = tokio::task::spawn_blocking(move || {
            libtorrent_driver(&["get-peers", &hash.to_hex(), &bootstrap, "30"])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "libtorrent found nothing: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(json["peers"], serde_json::json!(["127.0.0.1:6881"]));
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

/// Kills the libtorrent process however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_get_peers_finds_a_libtorrent_seeder() {
    let shutdown = Shutdown::new();
    let temp = tempfile::tempdir().unwrap();
    let run = async {
        let nodes = our_network(&shutdown).await;
        let router = nodes[0].local_addr().to_string();
        let dir = temp.path();
        std::fs::write(dir.join("content.bin"), vec![0x42u8; 200_000]).unwrap();
        let created = Command::new(BIN)
            .current_dir(dir)
            .args(["create", "content.bin", "--trackerless", "--nodes", &router])
            .args(["-o", "seed.torrent"])
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        let torrent = dir.join("seed.torrent").display().to_string();
        let save_path = dir.display().to_string();

        let mut seeder = Child(
            libtorrent_driver(&["seed", &torrent, &router, "35", &save_path])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let mut first = String::new();
        std::io::BufReader::new(seeder.0.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let listening: serde_json::Value = serde_json::from_str(first.trim())
            .unwrap_or_else(|_| panic!("libtorrent did not start: {first:?}"));
        let port = listening["listening"].as_u64().unwrap();
        let expected = format!("127.0.0.1:{port}");

        // libtorrent announces on its own schedule: ask until it has.
        let started = Instant::now();
        loop {
            let torrent = torrent.clone();
            let output = tokio::task::spawn_blocking(move || {
                Command::new(BIN)
                    .args([
                        "dht",
                        "get-peers",
                        &torrent,
                        "--bind",
                        "127.0.0.1:0",
                        "--json",
                    ])
                    .args(["--timeout", "10"])
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(output.status.success(), "{output:?}");
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let peers: Vec<&str> = json["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.as_str())
                .collect();
            if peers.contains(&expected.as_str()) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no announce from libtorrent at {expected}: {json}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        drop(seeder);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}
