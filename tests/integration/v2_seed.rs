//! Seeding BEP 52 torrents on loopback to our in-process downloader: a
//! v2-only torrent fetched by file-aligned pieces checked against piece
//! layers that the seeder hands out (hash requests with proofs), a hybrid
//! greeted by its truncated v2 hash, bad hash requests rejected, damaged
//! content and missing piece layers refused, and `publish --v2` end to end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mktorrent_rs::magnet::Magnet;
use mktorrent_rs::metainfo::{Layout, Torrent, Version};
use mktorrent_rs::peer::handshake::Reserved;
use mktorrent_rs::peer::message::{HashRequest, Message};
use mktorrent_rs::peer::seeder::{Config, SeedError, SeedTorrent, Seeder, Verify};
use mktorrent_rs::shutdown::Shutdown;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{bytes, run, write_tree};
use crate::downloader::{fast_ext, fetch, Peer};
use crate::publish::{release, runtime, Publish};

/// Files of 4 pieces (the last short), 2 pieces, less than one piece and
/// none, in 32 KiB pieces. Returns (torrent, content dir, files end to end).
fn content(root: &Path, mode: &str) -> (Torrent, PathBuf, Vec<u8>) {
    let big = bytes(3 * 32 * 1024 + 100, 21);
    let two = bytes(40_000, 22);
    let small = bytes(5_000, 23);
    let dir = root.join("rel");
    write_tree(
        &dir,
        &[
            ("a-big.bin", &big),
            ("b-two.bin", &two),
            ("c-empty", b""),
            ("d-small.bin", &small),
        ],
    );
    run(
        root,
        &[
            "create",
            "rel",
            "-o",
            "rel.torrent",
            "-l",
            "32KiB",
            "-q",
            mode,
        ],
    )
    .success();
    let torrent = Torrent::parse(&std::fs::read(root.join("rel.torrent")).unwrap()).unwrap();
    (torrent, dir, [big, two, small].concat())
}

async fn open(torrent: Torrent, dir: &Path) -> Result<SeedTorrent, SeedError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || SeedTorrent::open(torrent, &dir, Verify::Full, &|_| {}))
        .await
        .unwrap()
}

async fn start(seed: SeedTorrent) -> (SocketAddr, Shutdown) {
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = Seeder::new(Config::default(), vec![seed], shutdown.clone());
    tokio::spawn(async move { seeder.run(listener).await });
    (addr, shutdown)
}

fn truncated_v2(torrent: &Torrent) -> [u8; 20] {
    torrent.info_hash_v2.unwrap()[..20].try_into().unwrap()
}

#[tokio::test]
async fn a_v2_only_torrent_is_fetched_by_bep_52_pieces_checked_against_served_piece_layers() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), "--v2");
    assert_eq!(torrent.meta.info.version, Version::V2);
    let info_hash = torrent.info_hash.0;
    assert_eq!(
        info_hash,
        truncated_v2(&torrent),
        "the swarm is the v2 hash"
    );
    let seed = open(torrent.clone(), &dir).await.unwrap();
    assert_eq!(seed.hashes(), [info_hash], "listed once");
    let (addr, shutdown) = start(seed).await;

    let stream = TcpStream::connect(addr).await.unwrap();
    let (_, theirs) = Peer::handshake(stream, info_hash, fast_ext()).await;
    assert!(theirs.reserved.has(Reserved::V2), "BEP 52 reserved bit");

    let fetched = fetch(addr, info_hash).await;
    assert_eq!(fetched.info, torrent.info_bytes);
    assert!(fetched.data == expected, "downloaded bytes differ");
    shutdown.trigger();
    shutdown.finished().await;
}

#[tokio::test]
async fn bad_hash_requests_and_requests_past_a_files_pieces_are_rejected() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), "--v2");
    let big = torrent.meta.info.file_tree[0].pieces_root.unwrap();
    let (addr, shutdown) = start(open(torrent.clone(), &dir).await.unwrap()).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, _) = Peer::handshake(stream, torrent.info_hash.0, fast_ext()).await;
    // a-big.bin: 4 pieces of 2 blocks, 7 blocks → 8 leaves, height 3.
    let good = HashRequest {
        pieces_root: big,
        base_layer: 1,
        index: 0,
        length: 4,
        proof_layers: 1,
    };
    let small = torrent.meta.info.file_tree[3].pieces_root.unwrap();
    for bad in [
        HashRequest {
            pieces_root: [0xAB; 32],
            ..good
        },
        HashRequest {
            pieces_root: small,
            ..good
        },
        HashRequest { length: 3, ..good },
        HashRequest { index: 2, ..good },
        HashRequest {
            proof_layers: 2,
            ..good
        },
        HashRequest {
            base_layer: 0,
            ..good
        },
    ] {
        peer.send(Message::HashRequest(bad)).await;
        let got = peer
            .until(|m| match m {
                Message::HashReject(r) => Some(*r),
                Message::Hashes { .. } => panic!("answered {bad:?}"),
                _ => None,
            })
            .await;
        assert_eq!(got, bad);
    }
    peer.send(Message::HashRequest(good)).await;
    let hashes = peer
        .until(|m| match m {
            Message::Hashes { request, hashes } if *request == good => Some(hashes.clone()),
            _ => None,
        })
        .await;
    let layer = &torrent.meta.piece_layers[&big];
    assert_eq!(hashes.concat(), *layer, "the whole layer, no uncles");

    // Piece 3 is a-big.bin's short last one; piece 4 starts b-two.bin.
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let past = mktorrent_rs::peer::message::Block {
        index: 3,
        begin: 0,
        length: 16 * 1024 + 1,
    };
    peer.send(Message::Request(past)).await;
    let got = peer
        .until(|m| match m {
            Message::Reject(b) => Some(*b),
            Message::Piece { .. } => panic!("served past the file"),
            _ => None,
        })
        .await;
    assert_eq!(got, past);
    shutdown.trigger();
    shutdown.finished().await;
}

#[tokio::test]
async fn a_hybrid_greeted_by_its_v2_hash_answers_hash_requests_and_serves_its_pieces() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), "--hybrid");
    let v2 = truncated_v2(&torrent);
    let (addr, shutdown) = start(open(torrent.clone(), &dir).await.unwrap()).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, theirs) = Peer::handshake(stream, v2, fast_ext()).await;
    assert_eq!(theirs.info_hash, v2);
    assert!(theirs.reserved.has(Reserved::V2));
    let info = &torrent.meta.info;
    for file in info
        .file_tree
        .iter()
        .filter(|f| f.length > info.piece_length)
    {
        let root = file.pieces_root.unwrap();
        let layer = peer.piece_layer(root, file.length, info.piece_length).await;
        assert_eq!(layer.concat(), torrent.meta.piece_layers[&root]);
    }
    // The same bytes as v1 pieces, pad files read as zeros.
    let data = peer.download(info.total_length(), info.piece_length).await;
    let Layout::Multi { files } = &info.layout else {
        panic!("a directory")
    };
    let mut content = Vec::new();
    let mut at = 0;
    for file in files {
        let end = at + file.length as usize;
        if !file.is_padding() {
            content.extend_from_slice(&data[at..end]);
        }
        at = end;
    }
    assert!(content == expected, "downloaded bytes differ");
    shutdown.trigger();
    shutdown.finished().await;
}

#[tokio::test]
async fn damaged_content_and_missing_piece_layers_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), "--v2");
    let mut bare = torrent.clone();
    bare.meta.piece_layers.clear();
    let err = open(bare, &dir).await.unwrap_err();
    assert!(matches!(err, SeedError::PieceLayers { .. }), "{err}");
    assert!(err.to_string().contains("a-big.bin"), "{err}");

    let mut damaged = bytes(40_000, 22);
    damaged[35_000] ^= 1;
    std::fs::write(dir.join("b-two.bin"), damaged).unwrap();
    let err = open(torrent.clone(), &dir).await.unwrap_err();
    assert!(
        matches!(
            err,
            SeedError::Mismatch {
                bad: 1,
                count: 7,
                ..
            }
        ),
        "{err}"
    );
    // Started anyway, the bad piece is never sent.
    let dir2 = dir.clone();
    let seed = tokio::task::spawn_blocking(move || {
        SeedTorrent::open(torrent, &dir2, Verify::Skip, &|_| {})
    })
    .await
    .unwrap()
    .unwrap();
    let info_hash = seed.torrent().info_hash.0;
    let (addr, shutdown) = start(seed).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, _) = Peer::handshake(stream, info_hash, fast_ext()).await;
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let bad = mktorrent_rs::peer::message::Block {
        index: 5,
        begin: 0,
        length: 40_000 - 32 * 1024,
    };
    peer.send(Message::Request(bad)).await;
    let got = peer
        .until(|m| match m {
            Message::Reject(b) => Some(*b),
            Message::Piece { .. } => panic!("served a damaged piece"),
            _ => None,
        })
        .await;
    assert_eq!(got, bad);
    shutdown.trigger();
    shutdown.finished().await;
}

#[test]
fn publish_v2_seeds_a_v2_only_torrent_found_by_its_magnet() {
    let temp = tempfile::tempdir().unwrap();
    let (_, expected) = release(temp.path());
    let publish = Publish::start(
        temp.path(),
        &[
            "dist",
            "--v2",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--until-downloads",
            "1",
        ],
    );
    assert_eq!(publish.ready["version"], "v2");
    let v2 = publish.ready["info_hash_v2"].as_str().unwrap().to_owned();
    let info_hash = publish.info_hash();
    assert_eq!(mktorrent_rs::metainfo::hex(&info_hash), v2[..40]);
    let magnet = publish.ready["magnet"].as_str().unwrap();
    assert!(
        magnet.contains(&format!("xt=urn:btmh:1220{v2}")),
        "{magnet}"
    );
    let listen = publish.addr("listen");
    assert_eq!(
        Magnet::parse(magnet).unwrap().peers,
        vec![listen.to_string()]
    );
    let fetched = runtime().block_on(fetch(listen, info_hash));
    assert!(fetched.data == expected, "downloaded bytes differ");
    let written =
        Torrent::parse(&std::fs::read(temp.path().join("dist.torrent")).unwrap()).unwrap();
    assert_eq!(fetched.info, written.info_bytes);
    let (code, stopped) = publish.finish();
    assert_eq!(code, 0);
    assert_eq!(stopped["reason"], "downloads");
    assert_eq!(stopped["uploaded"], expected.len() as u64);
}
