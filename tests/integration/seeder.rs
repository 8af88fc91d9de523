//! The seeder on loopback against an in-process downloader built from our
//! own codecs: data and metadata (BEP 9) fetched and compared byte for byte.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mktorrent_rs::metainfo::{Layout, Torrent};
use mktorrent_rs::peer::crypt::{self, Negotiated};
use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::message::{self, Block, ExtendedHandshake, Message};
use mktorrent_rs::peer::mse::{self, Policy};
use mktorrent_rs::peer::seeder::{Config, Dial, SeedError, SeedTorrent, Seeder, Verify};
use mktorrent_rs::shutdown::Shutdown;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{bytes, run, write_tree};
use crate::downloader::{fast_ext, Peer, LIMIT};

const PIECE: u64 = 32 * 1024;

/// A multi-file torrent: piece 1 spans `a` and `b`, piece 2 is short and
/// spans `b`, an empty file and `c`. Returns (torrent, content dir, bytes).
fn content(root: &Path, hybrid: bool) -> (Torrent, PathBuf, Vec<u8>) {
    let a = bytes(40_000, 11);
    let b = bytes(30_000, 12);
    let c = bytes(5_000, 13);
    let dir = root.join("rel");
    write_tree(
        &dir,
        &[
            ("a.bin", &a),
            ("b.bin", &b),
            ("b2-empty", b""),
            ("c.bin", &c),
        ],
    );
    let mut args = vec!["create", "rel", "-o", "rel.torrent", "-l", "32KiB", "-q"];
    if hybrid {
        args.push("--hybrid");
    }
    run(root, &args).success();
    let torrent = Torrent::parse(&std::fs::read(root.join("rel.torrent")).unwrap()).unwrap();
    (torrent, dir, [a, b, c].concat())
}

async fn start(
    torrent: Torrent,
    dir: &Path,
) -> (Seeder, SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
    let dir = dir.to_owned();
    let seed = tokio::task::spawn_blocking(move || {
        SeedTorrent::open(torrent, &dir, Verify::Full, &|_| {})
    })
    .await
    .unwrap()
    .unwrap();
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = Seeder::new(Config::default(), vec![seed], shutdown.clone());
    let running = {
        let seeder = seeder.clone();
        tokio::spawn(async move { seeder.run(listener).await })
    };
    (seeder, addr, shutdown, running)
}

#[tokio::test]
async fn downloads_data_and_metadata_over_fast_and_extension_protocol() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let info_len = torrent.info_bytes.len();
    let (seeder, addr, shutdown, running) = start(torrent, &dir).await;

    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, theirs) = Peer::handshake(stream, info_hash, fast_ext()).await;
    assert_eq!(theirs.info_hash, info_hash);
    assert!(theirs.reserved.has(Reserved::FAST) && theirs.reserved.has(Reserved::EXTENSION));
    let Some(Message::Extended { id: 0, payload }) = peer.recv().await else {
        panic!("extended handshake first")
    };
    let ext = ExtendedHandshake::parse(&payload).unwrap();
    assert_eq!(ext.metadata_size, Some(info_len as u64));
    assert_eq!(peer.recv().await, Some(Message::HaveAll));
    let ours = ExtendedHandshake {
        extensions: [("ut_metadata".to_owned(), 2)].into(),
        ..Default::default()
    };
    peer.send(Message::Extended {
        id: 0,
        payload: ours.encode(),
    })
    .await;

    let info = peer
        .metadata(ext.id_of("ut_metadata").unwrap(), info_len)
        .await;
    assert_eq!(<[u8; 20]>::from(Sha1::digest(&info)), info_hash);
    let data = peer.download(expected.len() as u64, PIECE).await;
    assert!(data == expected, "downloaded bytes differ");

    // Oversized and out-of-range requests are rejected, not served.
    for bad in [
        Block {
            index: 0,
            begin: 0,
            length: 16 * 1024 + 1,
        },
        Block {
            index: 2,
            begin: 0,
            length: 9_465,
        },
        Block {
            index: 3,
            begin: 0,
            length: 1,
        },
    ] {
        peer.send(Message::Request(bad)).await;
        let got = peer
            .until(|m| match m {
                Message::Reject(b) => Some(*b),
                Message::Piece { .. } => panic!("served {bad:?}"),
                _ => None,
            })
            .await;
        assert_eq!(got, bad);
    }
    assert_eq!(seeder.stats().uploaded, expected.len() as u64);
    assert_eq!(seeder.stats().peers, 1);

    // Announcing every piece makes us a seed: counted, then closed.
    for index in 0..3 {
        peer.send(Message::Have(index)).await;
    }
    while peer.recv().await.is_some() {}
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
    assert_eq!(seeder.stats().completed, 1);
    assert_eq!(seeder.stats().peers, 0);
}

#[tokio::test]
async fn plain_peers_get_a_bitfield_and_hybrid_serves_as_v1() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), true);
    let info_hash = torrent.info_hash.0;
    let piece_length = torrent.meta.info.piece_length;
    let total = torrent.meta.info.total_length();
    let layout = torrent.meta.info.layout.clone();
    let (_, addr, shutdown, running) = start(torrent, &dir).await;

    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, _) = Peer::handshake(stream, info_hash, Reserved::default()).await;
    let Some(Message::Bitfield(bits)) = peer.recv().await else {
        panic!("bitfield without fast")
    };
    let pieces = total.div_ceil(piece_length) as usize;
    assert_eq!(message::count_bits(&bits, pieces), pieces);
    let data = peer.download(total, piece_length).await;
    // The v1 view of a hybrid: the files with BEP 47 pad files between.
    let unpadded: Vec<u8> = {
        let Layout::Multi { files } = &layout else {
            panic!("multi-file")
        };
        let mut out = Vec::new();
        for f in files {
            if f.is_padding() {
                out.resize(out.len() + f.length as usize, 0);
            } else {
                out.extend(
                    std::fs::read(f.path.iter().fold(dir.clone(), |p, c| p.join(c))).unwrap(),
                );
            }
        }
        assert!(out.len() > expected.len(), "hybrid has pad files");
        out
    };
    assert!(data == unpadded, "hybrid v1 bytes differ");
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}

#[tokio::test]
async fn dials_out_to_a_listening_downloader() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let (seeder, _, shutdown, running) = start(torrent, &dir).await;

    let downloader = TcpListener::bind("127.0.0.1:0").await.unwrap();
    seeder
        .connect(downloader.local_addr().unwrap(), info_hash)
        .await
        .unwrap();
    let (stream, _) = downloader.accept().await.unwrap();
    let (mut peer, theirs) = Peer::handshake(stream, info_hash, fast_ext()).await;
    assert_eq!(theirs.info_hash, info_hash);
    let data = peer.download(expected.len() as u64, PIECE).await;
    assert!(data == expected, "downloaded bytes differ");

    let unknown = seeder
        .connect(downloader.local_addr().unwrap(), [0; 20])
        .await;
    assert!(matches!(unknown, Err(SeedError::UnknownTorrent(_))));
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}

#[tokio::test]
async fn garbage_mse_and_unknown_handshakes_are_closed() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), false);
    let (_, addr, shutdown, running) = start(torrent, &dir).await;

    // MSE/PE starts with a 96-byte Diffie-Hellman public key; we answer
    // with ours, then close when no req1 comes within the padding window.
    let mut mse = TcpStream::connect(addr).await.unwrap();
    mse.write_all(&bytes(96, 5)).await.unwrap();
    let mut yb = [0u8; 96];
    tokio::time::timeout(Duration::from_secs(2), mse.read_exact(&mut yb))
        .await
        .expect("answered promptly")
        .unwrap();
    mse.write_all(&bytes(512 + 40, 6)).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), mse.read_to_end(&mut rest))
        .await
        .expect("closed promptly");
    assert!(rest.len() <= 512, "got {read:?}, {} bytes", rest.len());

    let stream = TcpStream::connect(addr).await.unwrap();
    let mut peer = Peer {
        stream,
        buf: Vec::new(),
    };
    let other = Handshake {
        reserved: Reserved::default(),
        info_hash: [9; 20],
        peer_id: [1; 20],
    };
    peer.stream.write_all(&other.encode()).await.unwrap();
    assert!(
        peer.fill().await.is_none(),
        "unknown torrent gets no answer"
    );

    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}

/// The BitTorrent handshake both ways over a negotiated (RC4) stream.
async fn bt_handshake_over<R, W>(n: &mut Negotiated<R, W>, info_hash: [u8; 20]) -> Handshake
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let ours = Handshake {
        reserved: Reserved::default(),
        info_hash,
        peer_id: [3; 20],
    };
    n.writer.write_all(&ours.encode()).await.unwrap();
    n.writer.flush().await.unwrap();
    let mut buf = std::mem::take(&mut n.payload);
    while buf.len() < handshake::LEN {
        let mut chunk = [0u8; 256];
        let got = n.reader.read(&mut chunk).await.unwrap();
        assert!(got > 0, "closed during the handshake");
        buf.extend_from_slice(&chunk[..got]);
    }
    handshake::decode(&buf).unwrap().unwrap()
}

#[tokio::test]
async fn encrypted_peers_are_answered_and_dialled_over_rc4() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let (seeder, addr, shutdown, running) = start(torrent, &dir).await;
    let deadline = tokio::time::Instant::now() + LIMIT;

    let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut n = crypt::dial(r, w, info_hash, Policy::Require, deadline)
        .await
        .unwrap();
    assert!(n.encrypted);
    assert_eq!(
        bt_handshake_over(&mut n, info_hash).await.info_hash,
        info_hash
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seeder.stats().peers_encrypted, 1);

    let downloader = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (told, handshaken) = tokio::sync::oneshot::channel();
    let dial = Dial {
        info_hash,
        encrypt: true,
        handshaken: Some(told),
    };
    seeder
        .connect_with(downloader.local_addr().unwrap(), dial)
        .await
        .unwrap();
    let (stream, _) = downloader.accept().await.unwrap();
    let (r, w) = stream.into_split();
    let lookup = |req2: &[u8; 20]| (*req2 == mse::req2_hash(&info_hash)).then_some(info_hash);
    let mut back = crypt::accept(r, w, Policy::Require, lookup, deadline)
        .await
        .unwrap();
    assert_eq!((back.encrypted, back.skey), (true, Some(info_hash)));
    assert_eq!(
        bt_handshake_over(&mut back, info_hash).await.info_hash,
        info_hash
    );
    tokio::time::timeout(LIMIT, handshaken)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seeder.stats().peers_encrypted, 2);
    drop((n, back));

    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}

#[tokio::test]
async fn damaged_content_is_refused_before_and_during_seeding() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, expected) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let mut damaged = bytes(30_000, 12);
    damaged[100] ^= 1;
    std::fs::write(dir.join("b.bin"), &damaged).unwrap();

    let err = SeedTorrent::open(torrent.clone(), &dir, Verify::Full, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("1 of 3 pieces"), "{err}");

    // Skipping verification still never sends the bad piece.
    let seed = SeedTorrent::open(torrent, &dir, Verify::Skip, &|_| {}).unwrap();
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = Seeder::new(Config::default(), vec![seed], shutdown.clone());
    let running = {
        let seeder = seeder.clone();
        tokio::spawn(async move { seeder.run(listener).await })
    };
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, _) = Peer::handshake(stream, info_hash, fast_ext()).await;
    peer.send(Message::Interested).await;
    peer.until(|m| (*m == Message::Unchoke).then_some(())).await;
    let good = Block {
        index: 0,
        begin: 0,
        length: 16384,
    };
    let bad = Block {
        index: 1,
        begin: 0,
        length: 16384,
    };
    peer.send(Message::Request(bad)).await;
    assert_eq!(
        peer.until(|m| matches!(m, Message::Reject(_) | Message::Piece { .. }).then(|| m.clone()))
            .await,
        Message::Reject(bad)
    );
    peer.send(Message::Request(good)).await;
    let got = peer
        .until(|m| match m {
            Message::Piece { data, .. } => Some(data.clone()),
            _ => None,
        })
        .await;
    assert!(got == expected[..16384], "good piece served");
    assert_eq!(seeder.stats().uploaded, 16384);
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_ends_open_connections_and_run_returns() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let (seeder, addr, shutdown, running) = start(torrent, &dir).await;
    let mut peers = Vec::new();
    for _ in 0..3 {
        let stream = TcpStream::connect(addr).await.unwrap();
        peers.push(Peer::handshake(stream, info_hash, fast_ext()).await.0);
    }
    assert_eq!(seeder.stats().peers, 3);
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
    assert_eq!(seeder.stats().peers, 0);
    for peer in &mut peers {
        while peer.recv().await.is_some() {}
    }
}

#[tokio::test]
async fn seed_command_serves_until_sigterm_and_exits_zero() {
    use std::io::BufRead;
    let temp = tempfile::tempdir().unwrap();
    let (torrent, _, expected) = content(temp.path(), false);
    let mut child = std::process::Command::new(crate::common::BIN)
        .args(["seed", "rel.torrent", "--listen", "127.0.0.1:0", "-q"])
        .current_dir(temp.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .parse()
        .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains(&format!("x.pe={addr}")), "magnet: {line}");

    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut peer, _) = Peer::handshake(stream, torrent.info_hash.0, fast_ext()).await;
    let data = peer.download(expected.len() as u64, PIECE).await;
    assert!(data == expected, "downloaded bytes differ");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert_eq!(
        rest.trim(),
        format!("sent {} bytes; 0 completed downloads seen", expected.len())
    );
}

#[tokio::test]
async fn connection_cap_and_upload_slots_hold() {
    let temp = tempfile::tempdir().unwrap();
    let (torrent, dir, _) = content(temp.path(), false);
    let info_hash = torrent.info_hash.0;
    let seed = SeedTorrent::open(torrent, &dir, Verify::Skip, &|_| {}).unwrap();
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        max_connections: 2,
        upload_slots: 1,
        ..Config::default()
    };
    let seeder = Seeder::new(config, vec![seed], shutdown.clone());
    let running = {
        let seeder = seeder.clone();
        tokio::spawn(async move { seeder.run(listener).await })
    };
    let mut peers = Vec::new();
    for _ in 0..2 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = Peer::handshake(stream, info_hash, fast_ext()).await;
        peer.send(Message::Interested).await;
        peers.push(peer);
    }
    // A third connection is over the cap: closed without a handshake.
    let mut third = Peer {
        stream: TcpStream::connect(addr).await.unwrap(),
        buf: Vec::new(),
    };
    let hello = Handshake {
        reserved: fast_ext(),
        info_hash,
        peer_id: [3; 20],
    };
    let _ = third.stream.write_all(&hello.encode()).await;
    assert!(third.fill().await.is_none(), "over the cap");

    // One slot: exactly one of the two interested peers is unchoked.
    peers[0]
        .until(|m| matches!(m, Message::HaveAll).then_some(()))
        .await;
    peers[1]
        .until(|m| matches!(m, Message::HaveAll).then_some(()))
        .await;
    let first = tokio::time::timeout(
        Duration::from_millis(500),
        peers[0].until(|m| (*m == Message::Unchoke).then_some(())),
    )
    .await;
    let second = tokio::time::timeout(
        Duration::from_millis(500),
        peers[1].until(|m| (*m == Message::Unchoke).then_some(())),
    )
    .await;
    assert!(first.is_ok() != second.is_ok(), "one slot, one unchoke");
    assert_eq!(seeder.stats().peers, 2);
    shutdown.finished().await;
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap();
}
