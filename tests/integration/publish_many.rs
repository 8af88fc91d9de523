//! `publish` as a release seeder and a seed host: several torrents in one
//! process on one port, `--watch` adding and stopping torrents as files
//! come and go, and the stop conditions that end one torrent alone
//! (`--until-seeders`, `--until-idle`).

use std::path::Path;
use std::time::{Duration, Instant};

use mktorrent_rs::metainfo::Torrent;
use serde_json::Value;

use crate::common::{bytes, run, write_tree};
use crate::downloader::fetch;
use crate::publish::{announce, release, runtime, Publish};

/// A second release, unlike [`release`]'s.
fn other_release(root: &Path) -> Vec<u8> {
    let data = bytes(90_000, 77);
    write_tree(&root.join("docs"), &[("manual.pdf", &data)]);
    data
}

fn hash_of(event: &Value) -> [u8; 20] {
    mktorrent_rs::metainfo::InfoHash::from_hex(event["info_hash"].as_str().unwrap())
        .unwrap()
        .0
}

fn tracker_of(publish: &Publish) -> std::net::SocketAddr {
    publish.ready["embedded_tracker"]["http"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The events named `name` so far, then more until there are `n`.
fn events(publish: &mut Publish, name: &str, n: usize) -> Vec<Value> {
    while publish.events.iter().filter(|e| e["event"] == name).count() < n {
        publish.wait_for(name);
    }
    let matching = publish.events.iter().filter(|e| e["event"] == name);
    matching.cloned().collect()
}

#[test]
fn two_torrents_are_served_on_one_port_and_each_stops_alone() {
    let temp = tempfile::tempdir().unwrap();
    let (_, first) = release(temp.path());
    let second = other_release(temp.path());
    let mut publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "docs",
            "--tracker-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-downloads",
            "1",
        ],
    );
    let ready = events(&mut publish, "ready", 2);
    assert_eq!(ready[0]["name"], "dist");
    assert_eq!(ready[1]["name"], "docs");
    // One port, one embedded tracker, for both.
    assert_eq!(ready[0]["listen"], ready[1]["listen"]);
    assert_eq!(ready[0]["embedded_tracker"], ready[1]["embedded_tracker"]);
    let listen = publish.addr("listen");
    let runtime = runtime();

    let fetched = runtime.block_on(fetch(listen, hash_of(&ready[0])));
    assert!(fetched.data == first, "dist: downloaded bytes differ");
    let stopped = publish.wait_for("stopped");
    assert_eq!(stopped["name"], "dist", "{stopped}");
    assert_eq!(stopped["reason"], "downloads");
    // The other one still seeds.
    let fetched = runtime.block_on(fetch(listen, hash_of(&ready[1])));
    assert!(fetched.data == second, "docs: downloaded bytes differ");
    let stopped = publish.wait_for("stopped");
    assert_eq!(stopped["name"], "docs", "{stopped}");

    // Then the process ends, with totals over both.
    let (code, last) = publish.finish();
    assert_eq!(code, 0);
    assert!(last["info_hash"].is_null(), "{last}");
    assert_eq!(last["completed"], 2);
    assert_eq!(last["uploaded"], (first.len() + second.len()) as u64);
}

#[test]
fn until_seeders_stops_once_another_seeder_announces() {
    let temp = tempfile::tempdir().unwrap();
    let (_, expected) = release(temp.path());
    let mut publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--tracker-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-seeders",
            "1",
        ],
    );
    let (listen, tracker, hash) = (
        publish.addr("listen"),
        tracker_of(&publish),
        publish.info_hash(),
    );
    let started = Instant::now();
    runtime().block_on(async {
        let fetched = fetch(listen, hash).await;
        assert!(fetched.data == expected, "downloaded bytes differ");
        // A completed download is not yet a seeder...
        tokio::time::sleep(Duration::from_secs(2)).await;
        // ...one that stays and says so to the tracker is.
        announce(tracker, hash, 7001, 0).await;
    });
    assert!(
        !publish.events.iter().any(|e| e["event"] == "stopping"),
        "stopped before another seeder was seen"
    );
    let stopping = publish.wait_for("stopping");
    assert_eq!(stopping["reason"], "seeders", "{stopping}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let (code, _) = publish.finish();
    assert_eq!(code, 0);
}

#[test]
fn until_idle_stops_when_nobody_asks_for_data() {
    let temp = tempfile::tempdir().unwrap();
    release(temp.path());
    let started = Instant::now();
    let mut publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-idle",
            "3s",
        ],
    );
    let stopping = publish.wait_for("stopping");
    assert_eq!(stopping["reason"], "idle", "{stopping}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(publish.finish().0, 0);
}

#[test]
fn watch_seeds_torrents_as_they_appear_and_stops_them_as_they_go() {
    let temp = tempfile::tempdir().unwrap();
    let seeds = temp.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    let (_, expected) = release(&seeds);
    let mut publish = Publish::start(
        temp.path(),
        &[
            "--watch",
            "seeds",
            "--rescan-every",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
        ],
    );
    let listen = publish.addr("listen");
    // Nothing to seed yet; a torrent dropped in is picked up without restart.
    let torrent = seeds.join("dist.torrent");
    let out = run(temp.path(), &["create", "-o", "made.torrent", "seeds/dist"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::rename(temp.path().join("made.torrent"), &torrent).unwrap();
    let added = publish.wait_for("added");
    assert_eq!(added["name"], "dist");
    let hash = Torrent::parse(&std::fs::read(&torrent).unwrap())
        .unwrap()
        .info_hash
        .0;
    let fetched = runtime().block_on(fetch(listen, hash));
    assert!(fetched.data == expected, "downloaded bytes differ");

    std::fs::remove_file(&torrent).unwrap();
    let stopped = publish.wait_for("stopped");
    assert_eq!(
        (stopped["name"].as_str(), stopped["reason"].as_str()),
        (Some("dist"), Some("removed"))
    );
    // Removed torrents are not served any more; the process runs on.
    runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(listen).await.unwrap();
        let mut hello = vec![19];
        hello.extend_from_slice(b"BitTorrent protocol");
        hello.extend_from_slice(&[0; 8]);
        hello.extend_from_slice(&hash);
        hello.extend_from_slice(b"-TEST00-refused00000");
        stream.write_all(&hello).await.unwrap();
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply));
        assert!(read.await.is_ok(), "the seeder hangs up");
        assert!(reply.is_empty(), "a removed torrent got a handshake");
    });
    publish.terminate();
    let (code, last) = publish.finish();
    assert_eq!((code, last["reason"].as_str()), (0, Some("signal")));
}

#[test]
fn max_upload_rate_holds_the_rate_over_six_mib() {
    let temp = tempfile::tempdir().unwrap();
    let data = bytes(6 << 20, 5);
    write_tree(&temp.path().join("big"), &[("disk.img", &data)]);
    let publish = Publish::start(
        temp.path(),
        &[
            "big",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--max-upload-rate",
            "1MiB",
            "--until-downloads",
            "1",
        ],
    );
    let (listen, hash) = (publish.addr("listen"), publish.info_hash());
    let started = Instant::now();
    let fetched = runtime().block_on(fetch(listen, hash));
    let took = started.elapsed().as_secs_f64();
    assert!(fetched.data == data, "downloaded bytes differ");
    // 6 MiB at 1 MiB/s, ±20 % (the metadata and the burst are small).
    assert!((4.8..=7.2).contains(&took), "took {took:.2} s");
    eprintln!("6 MiB at --max-upload-rate 1MiB took {took:.2} s");
    assert_eq!(publish.finish().0, 0);
}
