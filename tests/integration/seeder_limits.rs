//! The seeder under attack, at small scale on loopback (several 127.x
//! source addresses): idle connections, one address opening many, peers
//! that request and never read, peers that hold upload slots and never
//! request, and a BEP 9 metadata flood. A good
//! downloader must still complete, and memory must stay bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use mktorrent_rs::metainfo::Torrent;
use mktorrent_rs::peer::handshake::Handshake;
use mktorrent_rs::peer::message::{Block, ExtendedHandshake, Message, Metadata};
use mktorrent_rs::peer::seeder::{Config, SeedTorrent, Seeder, Verify};
use mktorrent_rs::shutdown::Shutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::common::{bytes, run, write_tree};
use crate::downloader::{fast_ext, Peer, LIMIT};

const SIZE: usize = 16 * 1024 * 1024;

/// 16 MiB in 16 KiB pieces: a 20 KiB info dictionary, so every metadata
/// reply is a full 16 KiB piece.
fn content(root: &Path) -> (Torrent, std::path::PathBuf, Vec<u8>) {
    let data = bytes(SIZE, 41);
    let dir = root.join("big");
    write_tree(&dir, &[("big.bin", &data)]);
    run(
        root,
        &["create", "big", "-o", "big.torrent", "-l", "16KiB", "-q"],
    )
    .success();
    let torrent = Torrent::parse(&std::fs::read(root.join("big.torrent")).unwrap()).unwrap();
    (torrent, dir, data)
}

async fn start(root: &Path, config: Config) -> (Seeder, SocketAddr, Shutdown, Torrent, Vec<u8>) {
    let (torrent, dir, data) = content(root);
    let seed = SeedTorrent::open(torrent.clone(), &dir, Verify::Skip, &|_| {}).unwrap();
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = Seeder::new(config, vec![seed], shutdown.clone());
    {
        let seeder = seeder.clone();
        shutdown.spawn(async move { seeder.run(listener).await });
    }
    (seeder, addr, shutdown, torrent, data)
}

/// A connection from `from` (any 127.x address is this machine) with a
/// small receive buffer, so a peer that does not read fills up quickly.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(16 * 1024)?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    socket.connect(to).await
}

async fn handshaken(from: Ipv4Addr, to: SocketAddr, info_hash: [u8; 20]) -> Peer {
    let stream = connect_from(from, to).await.unwrap();
    Peer::handshake(stream, info_hash, fast_ext()).await.0
}

/// Downloads everything with at most 128 requests in flight.
async fn download(peer: &mut Peer, total: usize, piece: usize) -> Vec<u8> {
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let blocks: Vec<Block> = (0..total / piece)
        .map(|index| Block {
            index: index as u32,
            begin: 0,
            length: piece as u32,
        })
        .collect();
    let mut data = vec![0u8; total];
    let mut sent = 0;
    let mut got = 0;
    while got < blocks.len() {
        while sent < blocks.len() && sent - got < 128 {
            peer.send(Message::Request(blocks[sent])).await;
            sent += 1;
        }
        let (index, bytes) = peer
            .until(|m| match m {
                Message::Piece { index, data, .. } => Some((*index as usize, data.clone())),
                Message::Reject(b) => panic!("rejected {b:?}"),
                _ => None,
            })
            .await;
        data[index * piece..index * piece + bytes.len()].copy_from_slice(&bytes);
        got += 1;
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_downloader_completes_past_idle_crowds_one_address_and_non_readers() {
    let temp = tempfile::tempdir().unwrap();
    let config = Config {
        max_connections: 40,
        upload_slots: 4,
        write_stall: Duration::from_secs(3),
        evictable_after: Duration::from_secs(1),
        ..Config::default()
    };
    let (seeder, addr, shutdown, torrent, data) = start(temp.path(), config).await;
    let info_hash = torrent.info_hash.0;

    // 250 connections from one address: only its share gets in.
    let mut crowd = Vec::new();
    for _ in 0..250 {
        if let Ok(stream) = connect_from(Ipv4Addr::new(127, 0, 3, 1), addr).await {
            crowd.push(stream);
        }
    }
    // 8 peers that keep asking for blocks and never read.
    let mut hogs = Vec::new();
    for i in 0..8 {
        let mut peer = handshaken(Ipv4Addr::new(127, 0, 2, i + 1), addr, info_hash).await;
        peer.send(Message::Interested).await;
        let mut requests = Vec::new();
        for index in 0..100u32 {
            requests.extend(
                Message::Request(Block {
                    index,
                    begin: 0,
                    length: 16 * 1024,
                })
                .to_bytes(),
            );
        }
        hogs.push(tokio::spawn(async move {
            // Until the seeder closes us; bounded by the test's own end.
            for _ in 0..120 {
                let write = peer.stream.write_all(&requests);
                if let Ok(Err(_)) = tokio::time::timeout(Duration::from_millis(500), write).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    // Idle peers, handshaken and never interested, until the seeder is full.
    let mut idle = Vec::new();
    for i in 0..40u8 {
        let from = Ipv4Addr::new(127, 0, 1, i + 1);
        let Ok(stream) = connect_from(from, addr).await else {
            continue;
        };
        let mut peer = Peer {
            stream,
            buf: Vec::new(),
        };
        let hello = Handshake {
            reserved: fast_ext(),
            info_hash,
            peer_id: [i; 20],
        };
        let _ = peer.stream.write_all(&hello.encode()).await;
        idle.push(peer);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(seeder.stats().peers >= 40, "{:?}", seeder.stats());

    let started = Instant::now();
    let mut good = handshaken(Ipv4Addr::LOCALHOST, addr, info_hash).await;
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        download(&mut good, SIZE, 16 * 1024),
    )
    .await
    .expect("the good downloader completes within 30 s");
    assert!(got == data, "data differs");
    let stats = seeder.stats();
    eprintln!("good download in {:?}; {stats:?}", started.elapsed());
    assert!(stats.refused_per_ip > 0, "{stats:?}");
    assert!(stats.evicted > 0, "{stats:?}");
    assert!(stats.stalled > 0, "{stats:?}");
    for hog in &hogs {
        hog.abort();
    }
    drop((crowd, idle));
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_hold_a_slot_and_never_request_yield_it_to_a_good_downloader() {
    let temp = tempfile::tempdir().unwrap();
    let config = Config {
        upload_slots: 4,
        ..Config::default()
    };
    let (seeder, addr, shutdown, torrent, data) = start(temp.path(), config).await;
    let info_hash = torrent.info_hash.0;
    // Every slot taken by a peer that says it is interested and then
    // asks for nothing.
    let mut idlers = Vec::new();
    for i in 0..4 {
        let mut peer = handshaken(Ipv4Addr::new(127, 0, 5, i + 1), addr, info_hash).await;
        peer.send(Message::Interested).await;
        peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
        idlers.push(peer);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let mut good = handshaken(Ipv4Addr::LOCALHOST, addr, info_hash).await;
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        download(&mut good, SIZE, 16 * 1024),
    )
    .await
    .expect("the good downloader completes");
    let elapsed = started.elapsed();
    eprintln!("good download past 4 idle slot holders in {elapsed:?}");
    assert!(got == data, "data differs");
    // It waited for a snub (5 s after the idlers' unchoke), not for the
    // 30 s rotation.
    assert!(
        elapsed > Duration::from_secs(3),
        "slots were not full: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
    // The idler that made room was told so.
    let mut choked = 0;
    for idler in &mut idlers {
        let told = tokio::time::timeout(
            Duration::from_secs(1),
            idler.until(|m| (*m == Message::Choke).then_some(())),
        )
        .await;
        choked += usize::from(told.is_ok());
    }
    assert!(choked >= 1, "no idler was choked; {:?}", seeder.stats());
    shutdown.finished().await;
}

/// Resident memory of this process, from /proc.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_flood_from_peers_that_never_read_stays_bounded() {
    let temp = tempfile::tempdir().unwrap();
    let (seeder, addr, shutdown, torrent, _) = start(temp.path(), Config::default()).await;
    let info_hash = torrent.info_hash.0;
    let before = rss_kib();
    let mut flooders = Vec::new();
    for i in 0..20u8 {
        let mut peer = handshaken(Ipv4Addr::new(127, 0, 4, i + 1), addr, info_hash).await;
        let theirs = ExtendedHandshake {
            extensions: [("ut_metadata".to_owned(), 3)].into(),
            ..Default::default()
        };
        peer.send(Message::Extended {
            id: 0,
            payload: theirs.encode(),
        })
        .await;
        flooders.push(peer);
    }
    let request = Message::Extended {
        id: 1,
        payload: Metadata::Request { piece: 0 }.encode(),
    }
    .to_bytes()
    .repeat(500);
    let until = Instant::now() + Duration::from_secs(6);
    let mut tasks = Vec::new();
    for mut peer in flooders {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                // Blocks once the seeder stops reading us: that is the point.
                let write = peer.stream.write_all(&request);
                if tokio::time::timeout(Duration::from_millis(200), write)
                    .await
                    .is_ok_and(|r| r.is_err())
                {
                    break;
                }
            }
            peer
        }));
    }
    let mut peak = before;
    while Instant::now() < until {
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in tasks {
        drop(tokio::time::timeout(LIMIT, task).await);
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!("RSS {before} KiB before, peak {peak} KiB: +{grown_mib} MiB");
    assert!(grown_mib <= 64, "grew by {grown_mib} MiB");
    assert!(seeder.stats().peers <= 20);
    shutdown.finished().await;
}
