//! `check-web-seeds` against a loopback server with every way a mirror
//! breaks (see `web_server`), `create`'s BEP 19 warnings, and magnets that
//! carry what a client needs with nobody online.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{bytes, run, settings, write_tree};
use crate::web_server::WebServer;

/// `good/rel/…` and `bad/rel/…` (one byte flipped in `sub/b.bin`).
fn content(temp: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let good = temp.join("good");
    let files: [(&str, Vec<u8>); 3] = [
        ("rel/a.bin", bytes(40_000, 1)),
        ("rel/sub/b.bin", bytes(70_000, 2)),
        ("rel/c d.txt", b"hello web seeds\n".to_vec()),
    ];
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, &d[..])).collect();
    write_tree(&good, &refs);
    let bad = temp.join("bad");
    write_tree(&bad, &refs);
    let mut damaged = files[1].1.clone();
    damaged[50_000] ^= 1;
    write_tree(&bad, &[("rel/sub/b.bin", &damaged)]);
    (good, bad)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

/// The seed entry for `url`, with each file's problem (or "ok").
fn verdicts(report: &serde_json::Value, url: &str) -> Vec<(String, String)> {
    let seed = report["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["url"] == url)
        .unwrap_or_else(|| panic!("no {url} in {report}"));
    seed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["problem"].as_str().unwrap_or("ok").to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_broken_mirror_gets_its_verdict_in_bounded_time() {
    let temp = tempfile::tempdir().unwrap();
    let (good, bad) = content(temp.path());
    let server = WebServer::start(&[("good", good.clone()), ("bad", bad)]);
    let seeds = [
        "good/",
        "bad/",
        "missing/",
        "norange/",
        "redirect/3/",
        "loop/",
        "slow/",
    ]
    .map(|p| server.url(p));
    let mut args = vec!["create", "good/rel", "-l", "16KiB", "-o", "t.torrent", "-q"];
    for seed in &seeds {
        args.extend(["-w", seed]);
    }
    run(temp.path(), &args).success();

    let started = Instant::now();
    let checked = run(
        temp.path(),
        &[
            "check-web-seeds",
            "t.torrent",
            "--json",
            "--full",
            "--timeout",
            "1",
        ],
    )
    .failure();
    // The slow server would need ~30 s per piece; the endless body forever.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let report = json(&checked.stdout);
    assert_eq!(report["ok"], false);
    let all = |url: &str, want: &str| {
        for (path, got) in verdicts(&report, url) {
            assert_eq!(got, want, "{url} {path}");
        }
    };
    all(&seeds[0], "ok");
    assert_eq!(
        verdicts(&report, &seeds[1]),
        [
            ("rel/a.bin".to_owned(), "ok".to_owned()),
            ("rel/c d.txt".to_owned(), "ok".to_owned()),
            ("rel/sub/b.bin".to_owned(), "mismatch".to_owned()),
        ]
    );
    all(&seeds[2], "http_status");
    all(&seeds[3], "ignores_range");
    all(&seeds[4], "ok");
    all(&seeds[5], "too_many_redirects");
    // Tiny files arrive in time even from the slow server; the rest do not.
    for (path, got) in verdicts(&report, &seeds[6]) {
        let want = if path == "rel/c d.txt" {
            "ok"
        } else {
            "too_slow"
        };
        assert_eq!(got, want, "slow {path}");
    }
    // Hung up on the endless body long before it filled memory.
    assert!(
        server
            .norange_bytes
            .load(std::sync::atomic::Ordering::SeqCst)
            < 64 << 20
    );

    let seed = |i: usize| &report["seeds"][i];
    let good_file = &seed(0)["files"][2];
    assert_eq!(good_file["url"], format!("{}rel/sub/b.bin", seeds[0]));
    assert_eq!(good_file["length"], 70_000);
    assert_eq!(good_file["range_supported"], true);
    assert!(good_file["pieces_checked"].as_u64().unwrap() >= 5);
    // Piece 5 (bytes 81 920..) holds b.bin's byte 50 000 (at 40 016 + 50 000).
    assert_eq!(seed(1)["files"][2]["bad_pieces"], serde_json::json!([5]));
    assert_eq!(seed(2)["files"][0]["status"], 404);
    assert_eq!(seed(4)["files"][0]["redirects"], 4);
    assert_eq!(
        seed(4)["files"][0]["final_url"],
        format!("{}rel/a.bin", seeds[0])
    );

    // Human output names each failing URL and why.
    let human = run(
        temp.path(),
        &["check-web-seeds", "t.torrent", "--full", "--timeout", "1"],
    )
    .failure();
    assert!(
        human.stdout.contains("2 of 7 web seeds serve the torrent"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("bad pieces: 5"), "{}", human.stdout);
    assert!(human.stdout.contains("server ignores Range"));
    assert!(
        human.stderr.contains("5 of 7 web seeds failed"),
        "{}",
        human.stderr
    );
}

#[test]
fn drop_failing_keeps_the_info_hash_and_the_good_urls() {
    let temp = tempfile::tempdir().unwrap();
    let (good, _) = content(temp.path());
    let server = WebServer::start(&[("good", good)]);
    let (ok, missing) = (server.url("good/"), server.url("missing/"));
    run(
        temp.path(),
        &[
            "create",
            "good/rel",
            "--hybrid",
            "-w",
            &missing,
            "-w",
            &ok,
            "-o",
            "t.torrent",
            "-q",
        ],
    )
    .success();
    let dropped = run(
        temp.path(),
        &[
            "check-web-seeds",
            "t.torrent",
            "--drop-failing",
            "-o",
            "fixed.torrent",
        ],
    )
    .success();
    assert!(
        dropped.stderr.contains("with 1 of 2 web seeds"),
        "{}",
        dropped.stderr
    );
    let before = crate::common::show_json(temp.path(), "t.torrent");
    let after = crate::common::show_json(temp.path(), "fixed.torrent");
    assert_eq!(after["info_hash"], before["info_hash"]);
    assert_eq!(after["web_seeds"], serde_json::json!([ok]));
    run(temp.path(), &["check-web-seeds", "fixed.torrent"]).success();
    // Never overwritten silently.
    run(
        temp.path(),
        &[
            "check-web-seeds",
            "t.torrent",
            "--drop-failing",
            "-o",
            "fixed.torrent",
        ],
    )
    .failure();
}

#[test]
fn single_file_urls_point_at_the_file_or_its_folder() {
    let temp = tempfile::tempdir().unwrap();
    let data = bytes(100_000, 9);
    write_tree(&temp.path().join("good"), &[("os.iso", &data)]);
    let server = WebServer::start(&[("good", temp.path().join("good"))]);
    let (file, folder, wrong) = (
        server.url("good/os.iso"),
        server.url("good/"),
        server.url("good/other.iso"),
    );
    for version in ["--v2", "--hybrid", "--no-date"] {
        run(
            temp.path(),
            &[
                "create",
                "good/os.iso",
                "-w",
                &file,
                "-w",
                &folder,
                "-o",
                "s.torrent",
                "-q",
                "-f",
                version,
            ],
        )
        .success();
        run(temp.path(), &["check-web-seeds", "s.torrent", "--full"]).success();
    }
    run(
        temp.path(),
        &[
            "create",
            "good/os.iso",
            "-w",
            &wrong,
            "-o",
            "w.torrent",
            "-q",
        ],
    )
    .success();
    let failed = run(temp.path(), &["check-web-seeds", "w.torrent", "--json"]).failure();
    assert_eq!(
        verdicts(&json(&failed.stdout), &wrong),
        [("os.iso".to_owned(), "http_status".to_owned())]
    );
}

#[test]
fn check_refuses_a_torrent_without_web_seeds() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    run(temp.path(), &["create", "f", "-q"]).success();
    let failed = run(temp.path(), &["check-web-seeds", "f.torrent"]).failure();
    assert!(
        failed.stderr.contains("has no web seeds"),
        "{}",
        failed.stderr
    );
}

#[test]
fn create_warns_when_a_url_cannot_serve_the_torrent_shape() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[("rel/a", b"a"), ("rel/b", b"b"), ("one.iso", b"x")],
    );
    let multi = run(
        temp.path(),
        &[
            "create",
            "rel",
            "-q",
            "-w",
            "https://gh.example/download/v1/rel",
        ],
    )
    .success();
    assert!(
        multi
            .stderr
            .contains("warning: web seed https://gh.example/download/v1/rel does not end in `/`"),
        "{}",
        multi.stderr
    );
    let fine = run(
        temp.path(),
        &[
            "create",
            "one.iso",
            "-q",
            "-w",
            "https://gh.example/download/v1/one.iso",
            "-w",
            "https://mirror.example/pub/",
        ],
    )
    .success();
    assert_eq!(fine.stderr, "");
}

#[test]
fn magnets_carry_web_seeds_exact_source_and_peers() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("rel/a", b"a"), ("rel/b", b"b")]);
    run(
        temp.path(),
        &[
            "create",
            "rel",
            "-q",
            "--hybrid",
            "-w",
            "https://m.example/pub/",
        ],
    )
    .success();
    let link = run(
        temp.path(),
        &[
            "magnet",
            "rel.torrent",
            "--torrent-url",
            "https://m.example/pub/rel.torrent",
            "--peer",
            "127.0.0.1:6881",
            "--peer",
            "[::1]:6882",
        ],
    )
    .success()
    .stdout;
    let parsed = mktorrent_rs::magnet::Magnet::parse(link.trim()).unwrap();
    assert!(
        parsed.info_hash.is_some() && parsed.info_hash_v2.is_some(),
        "{link}"
    );
    assert_eq!(parsed.web_seeds, ["https://m.example/pub/"]);
    assert_eq!(parsed.exact_sources, ["https://m.example/pub/rel.torrent"]);
    assert_eq!(parsed.peers, ["127.0.0.1:6881", "[::1]:6882"]);
    assert!(
        link.contains(
            "&xs=https%3A%2F%2Fm.example%2Fpub%2Frel.torrent&x.pe=127.0.0.1:6881&x.pe=[::1]:6882"
        ),
        "{link}"
    );

    // create --magnet prints the same link.
    let created = run(
        temp.path(),
        &[
            "create",
            "rel",
            "-q",
            "-f",
            "--hybrid",
            "-w",
            "https://m.example/pub/",
            "--magnet",
            "--torrent-url",
            "https://m.example/pub/rel.torrent",
            "--peer",
            "127.0.0.1:6881",
            "--peer",
            "[::1]:6882",
        ],
    )
    .success();
    assert_eq!(created.stdout, link);

    for (flag, value, error) in [
        ("--peer", "::1:80", "--peer \"::1:80\""),
        ("--peer", "host", "--peer \"host\""),
        (
            "--torrent-url",
            "ftp://m.example/t",
            "--torrent-url \"ftp://m.example/t\"",
        ),
    ] {
        let failed = run(temp.path(), &["magnet", "rel.torrent", flag, value]).failure();
        assert!(failed.stderr.contains(error), "{}", failed.stderr);
    }
}

#[test]
fn tls_failures_and_closed_ports_are_unreachable() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("good/os.iso", &bytes(1000, 3))]);
    let server = WebServer::start(&[("good", temp.path().join("good"))]);
    // HTTPS to a plain-HTTP port: the TLS handshake fails.
    let https = format!("https://{}/good/", server.addr);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    run(
        temp.path(),
        &["create", "good/os.iso", "-q", "-w", &https, "-w", &closed],
    )
    .success();
    let failed = run(
        temp.path(),
        &[
            "check-web-seeds",
            "os.iso.torrent",
            "--json",
            "--timeout",
            "5",
        ],
    )
    .failure();
    let report = json(&failed.stdout);
    for url in [&https, &closed] {
        assert_eq!(
            verdicts(&report, url),
            [("os.iso".to_owned(), "unreachable".to_owned())]
        );
    }
    let detail = report["seeds"][0]["files"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with(&format!("{https}os.iso: ")), "{detail}");
}

#[test]
fn v2_pieces_are_checked_per_file_against_the_piece_layers() {
    let temp = tempfile::tempdir().unwrap();
    let (good, bad) = content(temp.path());
    let server = WebServer::start(&[("good", good), ("bad", bad)]);
    let (ok, damaged) = (server.url("good/"), server.url("bad/"));
    for version in ["--v2", "--hybrid"] {
        run(
            temp.path(),
            &[
                "create",
                "good/rel",
                "-l",
                "16KiB",
                version,
                "-w",
                &ok,
                "-w",
                &damaged,
                "-o",
                "t.torrent",
                "-q",
                "-f",
            ],
        )
        .success();
        let failed = run(
            temp.path(),
            &["check-web-seeds", "t.torrent", "--json", "--full"],
        )
        .failure();
        let report = json(&failed.stdout);
        assert_eq!(report["seeds"][0]["ok"], true, "{version}");
        let b = &report["seeds"][1]["files"][2];
        assert_eq!(b["path"], "rel/sub/b.bin");
        // Byte 50 000 of the file is in its own piece 3 (v2 pieces never span files).
        assert_eq!(b["bad_pieces"], serde_json::json!([3]), "{version}");
        assert_eq!(b["pieces_checked"], 5, "{version}");
        assert_eq!(
            report["seeds"][1]["files"][0]["problem"],
            serde_json::Value::Null
        );
    }
}

#[test]
fn a_bare_host_web_seed_passes_the_check_but_is_warned_of() {
    let temp = tempfile::tempdir().unwrap();
    let (good, _) = content(temp.path());
    // The server's root holds `rel/`, so `http://host:port` serves it.
    let server = WebServer::start(&[("rel", good.join("rel"))]);
    let bare = server.url("").trim_end_matches('/').to_owned();
    let created = run(
        temp.path(),
        &["create", "good/rel", "-w", &bare, "-o", "t.torrent"],
    )
    .success();
    // A fixed seed: the pieces checked are the same on every run.
    let checked = run(
        temp.path(),
        &["check-web-seeds", "t.torrent", "--random-seed", "1"],
    )
    .success();
    let mut settings = settings(temp.path());
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.bind(|| {
        insta::assert_snapshot!("create_warning_bare_host_web_seed", created.transcript());
        insta::assert_snapshot!("check_web_seeds_bare_host", checked.transcript());
    });
}
