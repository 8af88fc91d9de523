//! BEP 52 `hashes` against libtorrent's own merkle proofs: a raw peer
//! sends a libtorrent seeder of a v2-only torrent a set of hash requests
//! (aligned spans of the piece layer and the layers above, with and
//! without proof layers, one running into the padding, one malformed) and
//! compares each answer, `hashes` or `hash reject`, with what our
//! `merkle::FileTree` answers for the same request. With `UPDATE_FIXTURES=1`
//! the piece layer and libtorrent's answers are written to
//! `tests/fixtures/bep52/`, which the unit tests in `src/merkle.rs` replay.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use mktorrent_rs::merkle::FileTree;
use mktorrent_rs::metainfo::Torrent;
use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::message::{self, HashRequest, Message};
use serde_json::json;

use crate::support::{create, free_port, libtorrent_command, write, Spawned};

/// 70 pieces of 32 KiB: the piece layer is one layer above the blocks and
/// is padded to 128 hashes.
const PIECE: u64 = 32 * 1024;
const PIECES: u64 = 70;

/// (base layer, index, length, proof layers): base 1 is the piece layer.
const REQUESTS: &[(u32, u32, u32, u32)] = &[
    (1, 0, 2, 0),
    (1, 0, 2, 6),
    (1, 6, 2, 3),
    (1, 0, 4, 5),
    (1, 64, 8, 6),
    (1, 64, 64, 6),
    (1, 0, 128, 0),
    (1, 68, 4, 4),
    (2, 0, 2, 5),
    (3, 8, 8, 2),
];

/// Requests BEP 52 forbids: a length that is not a power of two, an
/// unaligned span. We reject them (the BEP's MUST); libtorrent 2.0.8
/// answers the hashes anyway, which the fixture records.
const MALFORMED: &[(u32, u32, u32, u32)] = &[(1, 0, 3, 0), (1, 2, 4, 0)];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Frames from `stream` until every request has a `hashes` or a `hash
/// reject`; other messages are skipped.
fn answers(stream: &mut TcpStream, wanted: usize) -> Vec<Message> {
    let started = Instant::now();
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 16384];
    while got.len() < wanted {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {wanted} answers from libtorrent",
            got.len()
        );
        let n = stream
            .read(&mut chunk)
            .expect("libtorrent keeps the connection");
        assert!(n > 0, "libtorrent closed after {} answers", got.len());
        buf.extend_from_slice(&chunk[..n]);
        while let Some((msg, used)) = message::decode(&buf).expect("well-formed frames") {
            buf.drain(..used);
            if matches!(msg, Message::Hashes { .. } | Message::HashReject(_)) {
                got.push(msg);
            }
        }
    }
    got
}

#[test]
fn our_hash_replies_equal_libtorrents_merkle_proofs() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data: Vec<u8> = (0..PIECE * PIECES).map(|i| (i % 253) as u8).collect();
    let content = write(temp.path(), "layers.bin", &data);
    let torrent_path = temp.path().join("layers.torrent");
    create(&content, &torrent_path, &["--v2", "-l", "32KiB"]);
    let torrent = Torrent::parse(&std::fs::read(&torrent_path).expect("read")).expect("parse");
    let (root, layer) = torrent
        .meta
        .piece_layers
        .iter()
        .next()
        .expect("a piece layer");
    let pieces: Vec<[u8; 32]> = layer
        .chunks(32)
        .map(|c| c.try_into().expect("32"))
        .collect();
    let tree = FileTree::from_piece_layer(&pieces, PIECE).expect("a tree");
    assert_eq!(&tree.root(), root);

    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = libtorrent_command("lt_seeder.py");
    cmd.arg("seed")
        .arg(&torrent_path)
        .arg(temp.path())
        .args([&listen, "60"]);
    let mut seeder = Spawned::start(&mut cmd, &temp.path().join("lt-seeder.stderr"));
    seeder
        .next_line(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the libtorrent seeder exited:\n{}", seeder.stderr()));

    let mut stream = TcpStream::connect(&listen).expect("connect to libtorrent");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let ours = Handshake {
        reserved: Reserved::default().with(Reserved::V2).with(Reserved::FAST),
        info_hash: torrent.info_hash.0,
        peer_id: *b"-MR0001-bep52-proofs",
    };
    stream.write_all(&ours.encode()).expect("send handshake");
    let mut theirs = [0u8; handshake::LEN];
    stream
        .read_exact(&mut theirs)
        .expect("libtorrent's handshake");
    // A v2-only swarm implies v2: libtorrent sets the reserved bit only
    // for hybrids (an upgrade offer), so the info hash is what must match.
    let theirs = handshake::decode(&theirs)
        .expect("a handshake")
        .expect("whole");
    assert_eq!(theirs.info_hash, torrent.info_hash.0);

    let requests: Vec<HashRequest> = REQUESTS
        .iter()
        .chain(MALFORMED)
        .map(|&(base_layer, index, length, proof_layers)| HashRequest {
            pieces_root: *root,
            base_layer,
            index,
            length,
            proof_layers,
        })
        .collect();
    let mut out = Vec::new();
    for request in &requests {
        out.extend(Message::HashRequest(*request).to_bytes());
    }
    stream.write_all(&out).expect("send hash requests");
    let got = answers(&mut stream, requests.len());
    drop(seeder);

    let mut exchanges = Vec::new();
    for request in &requests {
        let theirs = got.iter().find_map(|m| match m {
            Message::Hashes { request: r, hashes } if r == request => Some(Some(hashes.concat())),
            Message::HashReject(r) if r == request => Some(None),
            _ => None,
        });
        let theirs = theirs.unwrap_or_else(|| panic!("no answer to {request:?}"));
        let mine = tree
            .hashes(
                request.base_layer,
                request.index,
                request.length,
                request.proof_layers,
            )
            .ok()
            .map(|h| h.concat());
        let fields = (
            request.base_layer,
            request.index,
            request.length,
            request.proof_layers,
        );
        if MALFORMED.contains(&fields) {
            assert_eq!(mine, None, "we reject {request:?}");
        } else {
            assert_eq!(
                mine.as_ref().map(|h| hex(h)),
                theirs.as_ref().map(|h| hex(h)),
                "our answer to {request:?} differs from libtorrent's"
            );
        }
        exchanges.push(json!({
            "malformed": MALFORMED.contains(&fields),
            "request": [request.base_layer, request.index, request.length, request.proof_layers],
            "hashes": theirs.map(|h| hex(&h)),
        }));
    }
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bep52");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let fixture = json!({
            "made_by": "UPDATE_FIXTURES=1 cargo test --features interop --test interop bep52_proofs (tests/interop/bep52_proofs.rs)",
            "libtorrent": crate::mse::libtorrent_version(),
            "piece_length": PIECE,
            "pieces_root": hex(root),
            "piece_layer": hex(layer),
            "exchanges": exchanges,
        });
        let text = serde_json::to_string_pretty(&fixture).expect("json") + "\n";
        std::fs::write(dir.join("libtorrent-hashes.json"), text).expect("write");
    }
}
