//! Web seeds (BEP 19) with nobody online: aria2 and libtorrent download a
//! single-file and a multi-file torrent of ours from a loopback web seed
//! alone (no tracker, no peer, no DHT), byte for byte; so their URL rules are
//! ours. libtorrent also reads the web seeds, peers and v2 hash our magnets
//! carry.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::{bytes, create, libtorrent, output, require, run_ok, write, SYSTEM_PYTHON};
use crate::web_server::WebServer;

const LT_WEBSEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/lt_webseed.py");

/// `served/os image.iso` and `served/rel/…`, names that need escaping.
fn content(root: &Path) -> (PathBuf, PathBuf) {
    let served = root.join("served");
    let single = write(&served, "os image.iso", &bytes(150_000, 11));
    write(&served, "rel/a b.bin", &bytes(40_000, 12));
    write(&served, "rel/sub/ünï 日本.txt", &bytes(70_000, 13));
    write(&served, "rel/sub/tiny", b"x");
    (single, served.join("rel"))
}

/// Every file under `dir` as (relative path, bytes), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[track_caller]
fn assert_same(downloaded: &Path, original: &Path) {
    let (got, want) = (tree(downloaded), tree(original));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want));
    for ((name, a), (_, b)) in got.iter().zip(&want) {
        assert!(a == b, "{name} differs from the original");
    }
}

/// Torrents of the content with only `seed` as a source; the caller's name.
fn torrent(content: &Path, out: &Path, seed: &str) -> PathBuf {
    create(content, out, &["-l", "16KiB", "-w", seed]);
    // Our own check agrees before any client tries.
    run_ok(
        crate::support::ours()
            .arg("check-web-seeds")
            .arg(out)
            .arg("--full"),
    );
    out.to_owned()
}

fn aria2_download(torrent: &Path, dest: &Path) {
    let program = require("aria2c", "aria2");
    run_ok(
        Command::new(program)
            .arg(torrent)
            .arg(format!("--dir={}", dest.display()))
            .args([
                "--no-conf",
                "--interface=127.0.0.1",
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--seed-time=0",
                "--check-integrity=true",
                "--file-allocation=none",
                "--summary-interval=0",
                "--console-log-level=warn",
                "--stop=60",
            ]),
    );
}

fn libtorrent_download(torrent: &Path, dest: &Path) {
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "install python3-libtorrent: apt-get install python3-libtorrent (no {SYSTEM_PYTHON})"
    );
    let out = output(
        Command::new(SYSTEM_PYTHON)
            .arg(LT_WEBSEED)
            .arg("download")
            .arg(torrent)
            .arg(dest)
            .env("LC_ALL", "C.UTF-8"),
    );
    assert_ne!(
        out.status.code(),
        Some(3),
        "install python3-libtorrent: apt-get install python3-libtorrent"
    );
    assert!(
        out.status.success(),
        "libtorrent did not download {} from its web seed:\n{}",
        torrent.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `download` for the single-file torrent (file URL and folder URL)
/// and the multi-file one (folder URL), comparing every byte.
fn downloads_from_web_seeds(client: &str, download: fn(&Path, &Path)) {
    let temp = tempfile::tempdir().unwrap();
    let (single, multi) = content(temp.path());
    let server = WebServer::start(&[("files", temp.path().join("served"))]);
    let cases = [
        (
            "file-url",
            single.clone(),
            server.url("files/os%20image.iso"),
        ),
        ("folder-url", single.clone(), server.url("files/")),
        ("multi", multi.clone(), server.url("files/")),
    ];
    for (case, content, seed) in cases {
        let out = temp.path().join(format!("{case}.torrent"));
        let torrent = torrent(&content, &out, &seed);
        let dest = temp.path().join(format!("{client}-{case}"));
        std::fs::create_dir_all(&dest).unwrap();
        let before = server.requests.load(std::sync::atomic::Ordering::SeqCst);
        download(&torrent, &dest);
        let name = content.file_name().unwrap();
        if content.is_dir() {
            assert_same(&dest.join(name), &content);
        } else {
            let got = std::fs::read(dest.join(name)).unwrap();
            assert!(
                got == std::fs::read(&content).unwrap(),
                "{client} {case}: bytes differ"
            );
        }
        // The bytes can only have come from the web seed.
        assert!(server.requests.load(std::sync::atomic::Ordering::SeqCst) > before);
    }
    // Nothing else left on the loopback server's side.
    drop(server);
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn aria2_downloads_our_torrents_from_a_web_seed_alone() {
    downloads_from_web_seeds("aria2", aria2_download);
}

#[test]
fn libtorrent_downloads_our_torrents_from_a_web_seed_alone() {
    downloads_from_web_seeds("libtorrent", libtorrent_download);
}

#[test]
fn libtorrent_reads_web_seeds_peers_and_v2_hash_from_our_magnets() {
    let temp = tempfile::tempdir().unwrap();
    let (_, multi) = content(temp.path());
    let out = temp.path().join("h.torrent");
    let created = create(
        &multi,
        &out,
        &[
            "--hybrid",
            "-w",
            "https://m.example/pub/",
            "-w",
            "http://n.example/a b/",
        ],
    );
    let link = run_ok(
        crate::support::ours()
            .arg("magnet")
            .arg(&out)
            .args(["--torrent-url", "https://m.example/pub/rel.torrent"])
            .args(["--peer", "127.0.0.1:6881", "--peer", "[::1]:6882"]),
    );
    let lt = libtorrent(&[OsStr::new("magnet"), OsStr::new(link.trim())]);
    assert_eq!(lt["info_hash"], created["info_hash"], "{link}");
    assert_eq!(lt["info_hash_v2"], created["info_hash_v2"], "{link}");
    assert_eq!(
        lt["web_seeds"],
        json!(["https://m.example/pub/", "http://n.example/a b/"]),
        "{link}"
    );
    assert_eq!(lt["peers"], json!(["127.0.0.1:6881", "::1:6882"]), "{link}");
}
