//! MSE/PE against libtorrent, byte for byte: our handshake state machine
//! (`peer::mse`, with fixed secrets) answers a libtorrent downloader that
//! forces RC4, and dials a libtorrent seeder that forces it. Each run checks
//! the live exchange: both sides establish RC4 and libtorrent's BitTorrent
//! handshake (its peer id, our info hash) decrypts. With `UPDATE_FIXTURES=1`
//! the exchange is also written to `tests/fixtures/mse/`, which the unit
//! tests in `src/peer/mse.rs` replay without libtorrent.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::mse::{self, Established, Initiator, Responder, Secrets, Step};
use serde_json::json;

use crate::publish::{content, os, NAME};
use crate::support::{create, libtorrent_command, str_field, Spawned};

/// How long one recorded exchange may take.
const LIMIT: Duration = Duration::from_secs(30);

fn secrets(seed: u8) -> Secrets {
    Secrets {
        private_key: std::array::from_fn(|i| seed.wrapping_mul(29).wrapping_add(i as u8 * 7)),
        pad: (0..37u8).map(|i| i ^ seed).collect(),
    }
}

fn unhex20(text: &str) -> [u8; 20] {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect();
    bytes.try_into().expect("20 bytes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The torrent of [`NAME`] in `dir` that both sides use, and its info hash.
fn torrent(dir: &Path) -> (std::path::PathBuf, [u8; 20]) {
    let torrent = dir.join("mse.torrent");
    let summary = create(&dir.join(NAME), &torrent, &["-l", "16KiB"]);
    (torrent, unhex20(str_field(&summary, "info_hash")))
}

/// What one side of a recorded exchange saw.
struct Recorded {
    peer_sent: Vec<u8>,
    we_sent: Vec<u8>,
    /// libtorrent's stream after the handshake, decrypted.
    plaintext: Vec<u8>,
}

/// Drives `feed` over `stream` until the handshake is established and 68
/// bytes of libtorrent's BitTorrent handshake have been decrypted.
fn exchange(
    stream: &mut TcpStream,
    mut we_sent: Vec<u8>,
    mut feed: impl FnMut(&[u8]) -> Result<Step, mse::MseError>,
) -> Recorded {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    stream.write_all(&we_sent).expect("send");
    let started = Instant::now();
    let (mut peer_sent, mut established): (Vec<u8>, Option<Established>) = (Vec::new(), None);
    let mut plaintext = Vec::new();
    let mut buf = [0u8; 4096];
    while plaintext.len() < handshake::LEN {
        assert!(started.elapsed() < LIMIT, "no handshake within {LIMIT:?}");
        let n = stream.read(&mut buf).expect("libtorrent keeps talking");
        assert!(n > 0, "libtorrent closed after {} bytes", peer_sent.len());
        let chunk = &buf[..n];
        peer_sent.extend_from_slice(chunk);
        match &mut established {
            Some(done) => {
                let mut more = chunk.to_vec();
                let (_, dec) = done.ciphers.as_mut().expect("RC4 was selected");
                dec.apply(&mut more);
                plaintext.extend(more);
            }
            None => {
                let step = feed(chunk).expect("the handshake goes through");
                stream.write_all(&step.send).expect("send");
                we_sent.extend(step.send);
                if let Some(done) = step.done {
                    assert_eq!(done.method, mse::Method::Rc4);
                    plaintext.extend_from_slice(&done.payload);
                    established = Some(done);
                }
            }
        }
    }
    Recorded {
        peer_sent,
        we_sent,
        plaintext,
    }
}

fn check_libtorrent_handshake(plaintext: &[u8], info_hash: [u8; 20]) {
    let theirs = handshake::decode(plaintext)
        .expect("a BitTorrent handshake")
        .expect("a whole one");
    assert_eq!(theirs.info_hash, info_hash);
    assert!(
        theirs.peer_id.starts_with(b"-LT"),
        "libtorrent's peer id: {:?}",
        String::from_utf8_lossy(&theirs.peer_id)
    );
}

fn save(name: &str, fixture: serde_json::Value) {
    if std::env::var_os("UPDATE_FIXTURES").is_none() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mse");
    std::fs::create_dir_all(&dir).expect("mkdir fixtures/mse");
    let text = serde_json::to_string_pretty(&fixture).expect("json") + "\n";
    std::fs::write(dir.join(name), text).expect("write the fixture");
}

pub(crate) fn libtorrent_version() -> String {
    let out = std::process::Command::new(crate::support::SYSTEM_PYTHON)
        .args(["-c", "import libtorrent; print(libtorrent.__version__)"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// libtorrent (encryption forced, RC4 only) dials us; we answer as the
/// responder.
#[test]
fn libtorrent_forcing_rc4_dials_our_responder() {
    let (temp, _) = content();
    let (torrent, info_hash) = torrent(temp.path());
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = listener.local_addr().expect("addr");
    let dest = temp.path().join("libtorrent");
    std::fs::create_dir_all(&dest).expect("mkdir");
    let mut cmd = libtorrent_command("lt_download.py");
    cmd.arg(&dest)
        .args([os("--torrent"), torrent.as_os_str()])
        .args([
            "--connect",
            &addr.to_string(),
            "--forced-encryption",
            "--tcp-only",
        ])
        .args(["--timeout", "30"]);
    let client = Spawned::start(&mut cmd, &dest.with_extension("stderr"));
    listener.set_nonblocking(true).expect("nonblocking");
    let started = Instant::now();
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(_) if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => panic!("libtorrent never dialled ({err}):\n{}", client.stderr()),
        }
    };
    stream.set_nonblocking(false).expect("blocking");
    let allowed = mse::CRYPTO_RC4 | mse::CRYPTO_PLAINTEXT;
    let mut responder = Responder::new(allowed, secrets(1));
    let lookup = |req2: &[u8; 20]| (*req2 == mse::req2_hash(&info_hash)).then_some(info_hash);
    let recorded = exchange(&mut stream, Vec::new(), |chunk| {
        responder.feed(chunk, lookup)
    });
    check_libtorrent_handshake(&recorded.plaintext, info_hash);
    drop(client);
    let s = secrets(1);
    save(
        "libtorrent-dials-us.json",
        json!({
            "made_by": "UPDATE_FIXTURES=1 cargo test --features interop --test interop mse:: (tests/interop/mse.rs)",
            "libtorrent": libtorrent_version(),
            "our_role": "responder",
            "info_hash": hex(&info_hash),
            "private_key": hex(&s.private_key),
            "pad": hex(&s.pad),
            "methods": allowed,
            "ia": "",
            "peer_sent": hex(&recorded.peer_sent),
            "we_sent": hex(&recorded.we_sent),
        }),
    );
}

/// We dial a libtorrent seeder that forces RC4, as the initiator, with our
/// BitTorrent handshake as IA.
#[test]
fn our_initiator_dials_libtorrent_forcing_rc4() {
    let (temp, content) = content();
    let (torrent, info_hash) = torrent(temp.path());
    let port = crate::support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = libtorrent_command("lt_seeder.py");
    cmd.arg("seed")
        .arg(&torrent)
        .arg(content.parent().expect("a parent"))
        .args([&listen, "60"])
        .env("LT_ENCRYPTION", "forced");
    let mut seeder = Spawned::start(&mut cmd, &temp.path().join("lt-seeder.stderr"));
    seeder
        .next_line(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the libtorrent seeder exited:\n{}", seeder.stderr()));
    let mut stream = TcpStream::connect(&listen).expect("connect to libtorrent");
    let ia = Handshake {
        reserved: Reserved::default(),
        info_hash,
        peer_id: *b"-MR0001-mse-fixture-",
    }
    .encode()
    .to_vec();
    let (mut initiator, hello) = Initiator::new(info_hash, mse::CRYPTO_RC4, ia.clone(), secrets(2));
    let recorded = exchange(&mut stream, hello, |chunk| initiator.feed(chunk));
    check_libtorrent_handshake(&recorded.plaintext, info_hash);
    drop(seeder);
    let s = secrets(2);
    save(
        "we-dial-libtorrent.json",
        json!({
            "made_by": "UPDATE_FIXTURES=1 cargo test --features interop --test interop mse:: (tests/interop/mse.rs)",
            "libtorrent": libtorrent_version(),
            "our_role": "initiator",
            "info_hash": hex(&info_hash),
            "private_key": hex(&s.private_key),
            "pad": hex(&s.pad),
            "methods": mse::CRYPTO_RC4,
            "ia": hex(&ia),
            "peer_sent": hex(&recorded.peer_sent),
            "we_sent": hex(&recorded.we_sent),
        }),
    );
}
