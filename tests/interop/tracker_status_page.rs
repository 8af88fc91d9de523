//! The `tracker` binary's status page in headless Chromium: an allowed
//! dir with a v1 torrent (a name with markup), a hybrid and a torrent
//! nobody announces; libtorrent seeds the hybrid through the tracker
//! (announcing both hashes). The DOM shows the names as text, the hybrid
//! as one row with both hashes, download links (`--allow-get`) and the
//! `/stats.json` and `/metrics` links.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use mktorrent_rs::metainfo::{hex, Torrent};

use crate::status_page::chromium_dom;
use crate::support::{
    eventually, free_port, http_get, libtorrent_command, ours, parse_json, run_ok, Spawned,
};

const V1_NAME: &str = "<i>one & two";

fn create(
    dir: &Path,
    content: &str,
    data: &[u8],
    out: &Path,
    url: &str,
    extra: &[&str],
) -> Torrent {
    std::fs::write(dir.join(content), data).unwrap();
    run_ok(
        ours()
            .current_dir(dir)
            .args(["create", "-q", "-a", url, "-o"])
            .arg(out)
            .args(extra)
            .arg(content),
    );
    Torrent::parse(&std::fs::read(out).unwrap()).unwrap()
}

fn stats(addr: SocketAddr) -> serde_json::Value {
    parse_json(
        &String::from_utf8_lossy(&http_get(addr, "/stats.json")),
        "/stats.json",
    )
}

#[test]
fn chromium_shows_names_one_hybrid_row_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let torrents = root.join("torrents");
    std::fs::create_dir(&torrents).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let url = format!("http://{addr}/announce");
    let v1 = create(
        root,
        V1_NAME,
        b"first",
        &torrents.join("v1.torrent"),
        &url,
        &[],
    );
    let hybrid_file = torrents.join("hybrid.torrent");
    let data = crate::support::bytes(100_000, 7);
    let hybrid = create(root, "hybrid.bin", &data, &hybrid_file, &url, &["--hybrid"]);
    create(
        root,
        "quiet.bin",
        b"nobody",
        &torrents.join("quiet.torrent"),
        &url,
        &[],
    );
    let v2 = hybrid.info_hash_v2.expect("a hybrid has a v2 hash");

    let mut tracker = Spawned::start(
        ours()
            .args(["tracker", "--no-udp", "--allow-get", "--http"])
            .arg(addr.to_string())
            .arg("--allowed-dir")
            .arg(&torrents),
        &root.join("tracker.stderr"),
    );
    assert!(
        tracker.next_line(Duration::from_secs(30)).is_some(),
        "{}",
        tracker.stderr()
    );
    let seed_port = free_port();
    let mut seeder = Spawned::start(
        libtorrent_command("lt_seeder.py")
            .arg("seed")
            .arg(&hybrid_file)
            .arg(root)
            .arg(format!("127.0.0.1:{seed_port}"))
            .arg("120"),
        &root.join("seeder.stderr"),
    );
    eventually("libtorrent announcing the hybrid under both hashes", || {
        let stats = stats(addr);
        let row = stats["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == "hybrid.bin").cloned());
        // libtorrent announces a hybrid under both hashes: one seeder in each swarm.
        row.is_some_and(|r| r["seeders"].as_u64() == Some(2))
    });
    let _ = seeder.pending_lines();

    let dom = chromium_dom(&format!("http://{addr}/"));
    let v1_text = V1_NAME
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(dom.contains(&v1_text), "{v1_text} not in the DOM:\n{dom}");
    assert!(!dom.contains("<i>one"), "a name became markup:\n{dom}");
    assert_eq!(dom.matches("<tr class=\"torrent").count(), 3, "{dom}");
    let hybrid_rows: Vec<&str> = dom
        .split("<tr ")
        .filter(|row| row.contains("hybrid.bin"))
        .collect();
    assert_eq!(hybrid_rows.len(), 1, "one row for the hybrid:\n{dom}");
    for part in [
        format!("<code class=\"v1\">{}</code>", hex(&hybrid.info_hash.0)),
        format!("<code class=\"v2\">{}</code>", hex(&v2)),
        format!("href=\"/torrents/{}.torrent\"", hex(&hybrid.info_hash.0)),
        // Seeders: libtorrent in both swarms, summed in one row.
        "<td>2</td>".to_owned(),
    ] {
        assert!(
            hybrid_rows[0].contains(&part),
            "{part} not in {}",
            hybrid_rows[0]
        );
    }
    let quiet = dom.split("<tr ").find(|r| r.contains("quiet.bin")).unwrap();
    assert!(quiet.contains("not announced yet"), "{quiet}");
    for part in [
        format!("href=\"/torrents/{}.torrent\"", hex(&v1.info_hash.0)),
        "href=\"/stats.json\"".to_owned(),
        "href=\"/metrics\"".to_owned(),
    ] {
        assert!(dom.contains(&part), "{part} not in the DOM:\n{dom}");
    }
    // The link serves the file itself.
    let served = http_get(
        addr,
        &format!("/torrents/{}.torrent", hex(&hybrid.info_hash.0)),
    );
    assert!(served == std::fs::read(&hybrid_file).unwrap());
}
