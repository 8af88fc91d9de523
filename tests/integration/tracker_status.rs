//! The real `tracker` binary's status page with an allowed directory: a
//! hybrid announced under both hashes is one row, an unannounced torrent
//! is listed, names are escaped, `/stats.json` carries the same rows, and
//! `--allow-get` serves the `.torrent` byte for byte (404 without it).

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mktorrent_rs::metainfo::{hex, Torrent};

use super::common::{run, BIN};

/// The tracker process, killed and reaped when the test ends.
struct Tracker(Child, SocketAddr);

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, torrents: &Path, extra: &[&str]) -> Tracker {
    let mut child = Command::new(BIN)
        .args([
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--no-udp",
            "--allowed-dir",
        ])
        .arg(torrents)
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    let addr = url["http://".len()..url.len() - "/announce".len()]
        .parse()
        .unwrap_or_else(|_| panic!("no address in {url:?}"));
    Tracker(child, addr)
}

/// One GET: status, headers, body.
pub(super) fn get(addr: SocketAddr, target: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    (
        head[9..12].parse().unwrap(),
        head,
        raw[split + 4..].to_vec(),
    )
}

fn announce(addr: SocketAddr, hash: &[u8; 20], port: u16) {
    let escape = |b: &[u8]| {
        percent_encoding::percent_encode(b, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let target = format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=0",
        escape(hash),
        escape(&[b'p'; 20])
    );
    let (status, _, body) = get(addr, &target);
    assert_eq!(status, 200);
    assert!(
        !String::from_utf8_lossy(&body).contains("failure"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// An allowed dir with a v1 torrent (a name to escape), a hybrid and a
/// torrent nobody will announce; returns their paths.
pub fn allowed_dir(dir: &Path) -> (PathBuf, [PathBuf; 3]) {
    let torrents = dir.join("torrents");
    std::fs::create_dir(&torrents).unwrap();
    let make = |content: &str, data: &[u8], out: &str, extra: &[&str]| {
        std::fs::write(dir.join(content), data).unwrap();
        let out = torrents.join(out);
        let mut args = vec!["create", "-q", "-a", "http://t/announce", "-o"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        args.push(content);
        run(dir, &args).success();
        out
    };
    (
        torrents.clone(),
        [
            make("<script>a & b", b"v1 content", "v1.torrent", &[]),
            make(
                "hybrid.bin",
                b"hybrid content",
                "hybrid é.torrent",
                &["--hybrid"],
            ),
            make("quiet.bin", b"nobody", "quiet.torrent", &[]),
        ],
    )
}

pub fn parse(path: &Path) -> Torrent {
    Torrent::parse(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn page_and_stats_show_hybrid_rows_unannounced_torrents_and_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let (torrents, [v1, hybrid, quiet]) = allowed_dir(dir.path());
    let (v1, hybrid_t, quiet) = (parse(&v1), parse(&hybrid), parse(&quiet));
    let v2 = hybrid_t.info_hash_v2.unwrap();
    let v2_short: [u8; 20] = v2[..20].try_into().unwrap();
    let tracker = start(dir.path(), &torrents, &["--allow-get"]);
    let addr = tracker.1;
    announce(addr, &v1.info_hash.0, 1001);
    announce(addr, &hybrid_t.info_hash.0, 1002);
    announce(addr, &v2_short, 1003);

    let (status, head, body) = get(addr, "/");
    assert_eq!(status, 200, "{head}");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("&lt;script&gt;a &amp; b"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
    assert!(page.contains("href=\"/stats.json\"") && page.contains("href=\"/metrics\""));
    assert_eq!(page.matches("<tr class=\"torrent").count(), 3, "{page}");
    let row = |needle: &str| {
        page.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no row with {needle}: {page}"))
    };
    let hybrid_row = row("hybrid.bin");
    assert!(
        hybrid_row.contains(&hex(&hybrid_t.info_hash.0)),
        "{hybrid_row}"
    );
    assert!(hybrid_row.contains(&hex(&v2)), "{hybrid_row}");
    // Two seeders: one under each hash, in one row.
    assert!(hybrid_row.contains("<td>2</td><td>0</td>"), "{hybrid_row}");
    assert!(hybrid_row.contains(&format!("/torrents/{}.torrent", hex(&hybrid_t.info_hash.0))));
    assert!(row("quiet.bin").contains("not announced yet"));

    let (_, _, body) = get(addr, "/stats.json");
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["seeders"], 3, "existing totals stay: {stats}");
    assert_eq!(stats["rows_total"], 3, "{stats}");
    let rows = stats["rows"].as_array().unwrap();
    let by_name = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(by_name("hybrid.bin")["info_hash_v2"], hex(&v2));
    assert_eq!(by_name("hybrid.bin")["seeders"], 2);
    assert_eq!(by_name("quiet.bin")["announced"], false);
    assert_eq!(by_name("quiet.bin")["info_hash"], hex(&quiet.info_hash.0));

    // By v1 hash, truncated v2 and full v2: the file itself.
    let want = std::fs::read(&hybrid).unwrap();
    for key in [hex(&hybrid_t.info_hash.0), hex(&v2_short), hex(&v2)] {
        let (status, head, body) = get(addr, &format!("/torrents/{key}.torrent"));
        assert_eq!(status, 200, "{head}");
        assert!(body == want, "served bytes differ from the file");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/x-bittorrent"),
            "{head}"
        );
        assert!(
            head.contains("content-disposition: attachment; filename=\"hybrid _.torrent\"; filename*=utf-8''hybrid%20%c3%a9%2etorrent"),
            "{head}"
        );
    }
    let (status, _, _) = get(addr, &format!("/torrents/{}.torrent", "ab".repeat(20)));
    assert_eq!(status, 404, "a hash not in the dir");
    let (status, _, _) = get(addr, "/torrents/..%2fv1.torrent");
    assert_eq!(status, 404, "no path from the request");
}

#[test]
fn without_allow_get_no_links_and_no_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let (torrents, [v1, _, _]) = allowed_dir(dir.path());
    let v1 = parse(&v1);
    let tracker = start(dir.path(), &torrents, &[]);
    let (_, _, body) = get(tracker.1, "/");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("hybrid.bin"), "{page}");
    assert!(!page.contains("/torrents/"), "{page}");
    let (status, _, _) = get(
        tracker.1,
        &format!("/torrents/{}.torrent", hex(&v1.info_hash.0)),
    );
    assert_eq!(status, 404);
    let run = run(dir.path(), &["tracker", "--allow-get"]).failure();
    assert!(run.stderr.contains("--allowed-dir"), "{}", run.stderr);
}
