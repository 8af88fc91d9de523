//! Upload rate limits on loopback: a seeder-wide limit holds one
//! downloader to its rate, a torrent's limit is shared fairly between two
//! downloaders at once, and no limit stays fast.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mktorrent_rs::metainfo::Torrent;
use mktorrent_rs::peer::message::{Block, Message};
use mktorrent_rs::peer::rate::RateLimit;
use mktorrent_rs::peer::seeder::{Config, SeedTorrent, Seeder, Verify};
use mktorrent_rs::shutdown::Shutdown;
use tokio::net::{TcpListener, TcpSocket};

use crate::common::{bytes, run, write_tree};
use crate::downloader::{fast_ext, Peer};

const MIB: usize = 1024 * 1024;
const SIZE: usize = 6 * MIB;
const PIECE: usize = 256 * 1024;
const BLOCK: usize = 16 * 1024;

/// 6 MiB in 256 KiB pieces, seeded with `limit` on the torrent and
/// `config` for the seeder.
async fn start(
    root: &Path,
    config: Config,
    limit: Option<Arc<RateLimit>>,
) -> (SocketAddr, Shutdown, [u8; 20], Vec<u8>) {
    let data = bytes(SIZE, 14);
    let dir = root.join("six");
    write_tree(&dir, &[("six.bin", &data)]);
    run(
        root,
        &["create", "six", "-o", "six.torrent", "-l", "256KiB", "-q"],
    )
    .success();
    let torrent = Torrent::parse(&std::fs::read(root.join("six.torrent")).unwrap()).unwrap();
    let info_hash = torrent.info_hash.0;
    let mut seed = SeedTorrent::open(torrent, &dir, Verify::Skip, &|_| {}).unwrap();
    seed.set_upload_limit(limit);
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = Seeder::new(config, vec![seed], shutdown.clone());
    shutdown.spawn(async move { seeder.run(listener).await });
    (addr, shutdown, info_hash, data)
}

async fn handshaken(from: Ipv4Addr, to: SocketAddr, info_hash: [u8; 20]) -> Peer {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    let stream = socket.connect(to).await.unwrap();
    Peer::handshake(stream, info_hash, fast_ext()).await.0
}

/// Everything, 64 blocks in flight, adding each block's bytes to `got`
/// as it arrives. Returns the data and when the first request went out.
async fn download(peer: &mut Peer, got: &AtomicU64) -> (Vec<u8>, Instant) {
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let started = Instant::now();
    let blocks: Vec<Block> = (0..SIZE / BLOCK)
        .map(|i| Block {
            index: (i * BLOCK / PIECE) as u32,
            begin: (i * BLOCK % PIECE) as u32,
            length: BLOCK as u32,
        })
        .collect();
    let mut data = vec![0u8; SIZE];
    let (mut sent, mut received) = (0, 0);
    while received < blocks.len() {
        while sent < blocks.len() && sent - received < 64 {
            peer.send(Message::Request(blocks[sent])).await;
            sent += 1;
        }
        let (index, begin, bytes) = peer
            .until(|m| match m {
                Message::Piece { index, begin, data } => Some((*index, *begin, data.clone())),
                Message::Reject(b) => panic!("rejected {b:?}"),
                _ => None,
            })
            .await;
        let at = index as usize * PIECE + begin as usize;
        data[at..at + bytes.len()].copy_from_slice(&bytes);
        got.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        received += 1;
    }
    (data, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeder_limited_to_1_mib_s_serves_6_mib_in_about_6_s() {
    let temp = tempfile::tempdir().unwrap();
    let config = Config {
        upload_limit: Some(Arc::new(RateLimit::new(MIB as u64))),
        ..Config::default()
    };
    let (addr, shutdown, info_hash, data) = start(temp.path(), config, None).await;
    let mut peer = handshaken(Ipv4Addr::LOCALHOST, addr, info_hash).await;
    let (got, started) = download(&mut peer, &AtomicU64::new(0)).await;
    let elapsed = started.elapsed();
    eprintln!(
        "6 MiB at a 1 MiB/s limit in {elapsed:?} ({:.3} MiB/s)",
        6.0 / elapsed.as_secs_f64()
    );
    assert!(got == data, "data differs");
    assert!(
        (4.8..=7.2).contains(&elapsed.as_secs_f64()),
        "6 MiB at 1 MiB/s took {elapsed:?}"
    );
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_downloaders_share_a_torrents_limit_fairly() {
    let temp = tempfile::tempdir().unwrap();
    // The torrent's 1 MiB/s binds; the seeder-wide limit is there too,
    // so every grant goes through both.
    let config = Config {
        upload_limit: Some(Arc::new(RateLimit::new(64 * MIB as u64))),
        ..Config::default()
    };
    let limit = Some(Arc::new(RateLimit::new(MIB as u64)));
    let (addr, shutdown, info_hash, _) = start(temp.path(), config, limit).await;
    let counters = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let mut peers = Vec::new();
    for i in 0..2u8 {
        peers.push(handshaken(Ipv4Addr::new(127, 0, 6, i + 1), addr, info_hash).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = peers
        .into_iter()
        .zip(&counters)
        .map(|(mut peer, got)| {
            let got = got.clone();
            tokio::spawn(async move { download(&mut peer, &got).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shares = counters.each_ref().map(|c| c.load(Ordering::Relaxed));
    let elapsed = started.elapsed().as_secs_f64();
    for task in &tasks {
        task.abort();
    }
    let total = shares[0] + shares[1];
    let mib = |b: u64| b as f64 / MIB as f64;
    eprintln!(
        "in {elapsed:.2} s: {:.2} + {:.2} MiB = {:.2} MiB/s",
        mib(shares[0]),
        mib(shares[1]),
        mib(total) / elapsed
    );
    for share in shares {
        assert!(
            share as f64 >= 0.35 * total as f64,
            "unfair: {shares:?} of {total}"
        );
    }
    let rate = mib(total) / elapsed;
    assert!(
        (0.8..=1.2).contains(&rate),
        "{rate:.3} MiB/s under a 1 MiB/s limit"
    );
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_limit_6_mib_is_fast() {
    let temp = tempfile::tempdir().unwrap();
    let (addr, shutdown, info_hash, data) = start(temp.path(), Config::default(), None).await;
    let mut peer = handshaken(Ipv4Addr::LOCALHOST, addr, info_hash).await;
    let (got, started) = download(&mut peer, &AtomicU64::new(0)).await;
    let elapsed = started.elapsed();
    eprintln!("6 MiB unlimited in {elapsed:?}");
    assert!(got == data, "data differs");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_slow_limit_is_not_a_write_stall() {
    let temp = tempfile::tempdir().unwrap();
    // The second block waits 6.4 s for allowance, past the 5 s tick that
    // drops connections whose socket took nothing for `write_stall`.
    let config = Config {
        upload_limit: Some(Arc::new(RateLimit::with_burst(2560, BLOCK as u64))),
        write_stall: Duration::from_secs(1),
        ..Config::default()
    };
    let (addr, shutdown, info_hash, data) = start(temp.path(), config, None).await;
    let mut peer = handshaken(Ipv4Addr::LOCALHOST, addr, info_hash).await;
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let started = Instant::now();
    for begin in [0, BLOCK as u32] {
        peer.send(Message::Request(Block {
            index: 0,
            begin,
            length: BLOCK as u32,
        }))
        .await;
    }
    let mut got = Vec::new();
    while got.len() < 2 * BLOCK {
        let bytes = peer
            .until(|m| match m {
                Message::Piece { data, .. } => Some(data.clone()),
                _ => None,
            })
            .await;
        got.extend(bytes);
    }
    let elapsed = started.elapsed();
    eprintln!("two blocks at 2.5 KiB/s in {elapsed:?}");
    assert!(got == data[..2 * BLOCK], "data differs");
    assert!(elapsed > Duration::from_secs(5), "{elapsed:?}");
    shutdown.finished().await;
}
