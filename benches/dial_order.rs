//! Dial order for `publish --encryption prefer` (issue 12), not a test:
//! prints figures, asserts nothing.
//!
//! A libtorrent 2.0 seeder (`tests/interop/lt_seeder.py`) runs in each of
//! its three MSE/PE policies: its default (accepts both), `disabled`
//! (plaintext only, like rtorrent's default) and `forced` (RC4 only, what
//! "require encryption" means). Against each, `BENCH_DIALS` (30) dials are
//! timed from connect to libtorrent's BitTorrent handshake, for the two
//! orders `prefer` could use: MSE first then plaintext, and plaintext first
//! then MSE (a refused first try costs a new connection). Our side is the
//! library's own `peer::mse::Initiator` over blocking TCP on 127.0.0.1.
//!
//! Run: `cargo bench --bench dial_order` (needs python3-libtorrent).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mktorrent_rs::metainfo::Torrent;
use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::mse::{self, Initiator, Secrets};
use rand::RngExt;

const PYTHON: &str = "/usr/bin/python3";

fn dials() -> usize {
    std::env::var("BENCH_DIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

fn ours(info_hash: [u8; 20]) -> [u8; handshake::LEN] {
    Handshake {
        reserved: Reserved::default().with(Reserved::EXTENSION),
        info_hash,
        peer_id: *b"-MR0001-dial-order--",
    }
    .encode()
}

/// A TCP connection as the seeder opens it (Nagle off).
fn connect(addr: &str) -> Option<TcpStream> {
    let stream = TcpStream::connect(addr).ok()?;
    stream.set_nodelay(true).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(stream)
}

/// Connect, plaintext handshake, their 68 bytes; `None` when refused.
fn plaintext(addr: &str, info_hash: [u8; 20]) -> Option<()> {
    let mut stream = connect(addr)?;
    stream.write_all(&ours(info_hash)).ok()?;
    let mut theirs = [0u8; handshake::LEN];
    stream.read_exact(&mut theirs).ok()?;
    (theirs[28..48] == info_hash).then_some(())
}

/// Connect, MSE (RC4 or plaintext offered), their handshake decrypted.
fn encrypted(addr: &str, info_hash: [u8; 20]) -> Option<()> {
    let mut stream = connect(addr)?;
    let mut rng = rand::rng();
    let secrets = Secrets {
        private_key: rng.random(),
        pad: vec![0; rng.random_range(0..=mse::MAX_PAD)],
    };
    let provide = mse::CRYPTO_RC4 | mse::CRYPTO_PLAINTEXT;
    let (mut initiator, hello) =
        Initiator::new(info_hash, provide, ours(info_hash).to_vec(), secrets);
    stream.write_all(&hello).ok()?;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        let step = initiator.feed(&buf[..n]).ok()?;
        stream.write_all(&step.send).ok()?;
        if let Some(mut done) = step.done {
            let mut payload = done.payload;
            while payload.len() < handshake::LEN {
                let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
                let mut more = buf[..n].to_vec();
                if let Some((_, dec)) = done.ciphers.as_mut() {
                    dec.apply(&mut more);
                }
                payload.extend(more);
            }
            return (payload[28..48] == info_hash).then_some(());
        }
    }
}

/// One dial in `order`; how long until a handshake, and how many tries.
fn dial(addr: &str, info_hash: [u8; 20], encrypted_first: bool) -> (Duration, usize) {
    let started = Instant::now();
    let order = if encrypted_first {
        [true, false]
    } else {
        [false, true]
    };
    for (n, encrypt) in order.into_iter().enumerate() {
        let ok = if encrypt {
            encrypted(addr, info_hash)
        } else {
            plaintext(addr, info_hash)
        };
        if ok.is_some() {
            return (started.elapsed(), n + 1);
        }
    }
    (started.elapsed(), 3)
}

struct Seeder(Child);

impl Drop for Seeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn seeder(root: &Path, torrent: &Path, policy: &str) -> (Seeder, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0);
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(PYTHON)
        .arg(root.join("tests/interop/lt_seeder.py"))
        .arg("seed")
        .arg(torrent)
        .arg(torrent.parent().unwrap_or(Path::new(".")))
        .args([&addr, "600"])
        .env("LT_ENCRYPTION", policy)
        .env("LC_ALL", "C.UTF-8")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{PYTHON} lt_seeder.py: {e} (apt-get install python3-libtorrent)")
        });
    // The first line says it is listening, once the content is checked.
    let mut line = [0u8; 1];
    if let Some(out) = child.stdout.as_mut() {
        while out.read(&mut line).is_ok_and(|n| n == 1) && line[0] != b'\n' {}
    }
    (Seeder(child), addr)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().expect("a temp dir");
    let content = temp.path().join("dial.bin");
    std::fs::write(&content, vec![7u8; 1 << 20]).expect("write content");
    let torrent = temp.path().join("dial.torrent");
    let status = Command::new(env!("CARGO_BIN_EXE_mktorrent-rs"))
        .arg("create")
        .arg(&content)
        .arg("-o")
        .arg(&torrent)
        .args(["-q", "--no-date"])
        .status()
        .expect("mktorrent-rs create");
    assert!(status.success());
    let parsed = Torrent::parse(&std::fs::read(&torrent).expect("read")).expect("parse");
    let info_hash = parsed.info_hash.0;
    let n = dials();
    println!(
        "{n} dials per cell, libtorrent seeder on 127.0.0.1; median time to its handshake (tries)"
    );
    println!(
        "{:<34} {:>20} {:>20}",
        "libtorrent policy", "MSE first", "plaintext first"
    );
    for (policy, what) in [
        ("enabled", "default (accepts both)"),
        ("disabled", "disabled (plaintext only)"),
        ("forced", "forced (RC4 only)"),
    ] {
        let (_seeder, addr) = seeder(root, &torrent, policy);
        let mut cells = Vec::new();
        for encrypted_first in [true, false] {
            let runs: Vec<(Duration, usize)> = (0..n)
                .map(|_| dial(&addr, info_hash, encrypted_first))
                .collect();
            let tries = runs.iter().map(|r| r.1).max().unwrap_or(0);
            let time = median(runs.into_iter().map(|r| r.0).collect());
            cells.push(format!("{:.2} ms ({tries})", time.as_secs_f64() * 1000.0));
        }
        println!("{what:<34} {:>20} {:>20}", cells[0], cells[1]);
    }
}
