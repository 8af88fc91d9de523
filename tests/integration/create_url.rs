//! `create URL` against the loopback web server: the same torrent as
//! `create FILE`/`create DIR` on the same bytes (v1, v2, hybrid; single and
//! multi-file; url-list set or left out), every server fault as a clear
//! error that writes nothing, and peak memory while streaming a body the
//! server generates on the fly.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bytes, run, show_json, write_tree, BIN, EPOCH};
use crate::web_server::WebServer;

/// `pub/dist/{a.bin, b.bin, c d.txt, empty}` served under `/pub/`.
fn server(temp: &Path) -> WebServer {
    let root = temp.join("pub");
    write_tree(
        &root,
        &[
            ("dist/a.bin", &bytes(40_000, 1)),
            ("dist/b.bin", &bytes(70_000, 2)),
            ("dist/c d.txt", b"hello web seeds\n"),
            ("dist/empty", b""),
        ],
    );
    WebServer::start(&[("pub", root)])
}

const FILES: [&str; 4] = ["b.bin", "c%20d.txt", "a.bin", "empty"];

fn read(temp: &Path, name: &str) -> Vec<u8> {
    std::fs::read(temp.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

#[test]
fn urls_give_the_torrent_create_gives_for_the_same_files() {
    let temp = tempfile::tempdir().unwrap();
    let server = server(temp.path());
    let dir = temp.path();
    let single = server.url("pub/dist/b.bin");
    let multi: Vec<String> = FILES
        .iter()
        .map(|f| server.url(&format!("pub/dist/{f}")))
        .collect();
    let multi_seed = server.url("pub/");
    for version in [&[][..], &["--v2"], &["--hybrid"]] {
        for piece in [&["-l", "16KiB"][..], &[]] {
            let tag = format!("{version:?} {piece:?}");
            let flags: Vec<&str> = version.iter().chain(piece).copied().collect();
            let create = |inputs: &[&str], extra: &[&str], out: &str| {
                let mut args = vec!["create", "-q", "-a", "http://t.example/a", "-o", out];
                args.extend(inputs);
                args.extend(&flags);
                args.extend(extra);
                run(dir, &args).success();
                read(dir, out)
            };
            // Single file: the URL is the web seed.
            let local = create(&["pub/dist/b.bin"], &["-w", &single, "-f"], "local.torrent");
            let remote = create(&[&single], &["-f"], "url.torrent");
            assert!(local == remote, "single {tag}");
            assert_eq!(
                show_json(dir, "url.torrent")["web_seeds"][0],
                single.as_str()
            );
            let local = create(&["pub/dist/b.bin"], &["-f"], "local.torrent");
            let remote = create(&[&single], &["--no-web-seed", "-f"], "url.torrent");
            assert!(local == remote, "single --no-web-seed {tag}");

            // Multi-file: the folder above `dist/` is the web seed.
            let urls: Vec<&str> = multi.iter().map(String::as_str).collect();
            let local = create(&["pub/dist"], &["-w", &multi_seed, "-f"], "local.torrent");
            let remote = create(&urls, &["-f"], "url.torrent");
            assert!(local == remote, "multi {tag}");
            let shown = show_json(dir, "url.torrent");
            assert_eq!(shown["web_seeds"], serde_json::json!([multi_seed]));
            let local = create(&["pub/dist"], &["-f"], "local.torrent");
            let remote = create(&urls, &["--no-web-seed", "-f"], "url.torrent");
            assert!(local == remote, "multi --no-web-seed {tag}");
            assert_eq!(
                show_json(dir, "url.torrent")["web_seeds"],
                serde_json::json!([])
            );
        }
    }
}

#[test]
fn a_range_less_server_is_fine_without_a_web_seed() {
    let temp = tempfile::tempdir().unwrap();
    let server = server(temp.path());
    let dir = temp.path();
    let url = server.url("plain/dist/a.bin");
    let failed = run(dir, &["create", &url, "-o", "t.torrent"]).failure();
    assert!(failed.stderr.contains("ignores Range"), "{}", failed.stderr);
    assert!(failed.stderr.contains("--no-web-seed"), "{}", failed.stderr);
    run(
        dir,
        &["create", &url, "--no-web-seed", "-o", "t.torrent", "-q"],
    )
    .success();
    run(
        dir,
        &["create", "pub/dist/a.bin", "-o", "local.torrent", "-q"],
    )
    .success();
    assert!(read(dir, "t.torrent") == read(dir, "local.torrent"));
    // The summary reports the streamed content.
    let json = run(
        dir,
        &["create", &url, "--no-web-seed", "-o", "j.torrent", "--json"],
    )
    .success();
    let summary: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(summary["total_size"], 40_000);
    assert_eq!(summary["name"], "a.bin");
}

#[test]
fn server_faults_and_unusable_urls_are_errors_that_say_why() {
    let temp = tempfile::tempdir().unwrap();
    let server = server(temp.path());
    let dir = temp.path();
    let addr = server.addr;
    let https = format!("https://{addr}/pub/dist/a.bin");
    let redirect = server.url("redirect/1/dist/b.bin");
    let cases: Vec<(Vec<String>, Vec<&str>, Vec<String>)> = vec![
        (
            vec![server.url("missing/x.bin")],
            vec![],
            vec![format!(
                "HTTP 404 Not Found from http://{addr}/missing/x.bin"
            )],
        ),
        (
            vec![redirect.clone()],
            vec![],
            vec![
                format!("{redirect} redirects to http://{addr}/pub/dist/b.bin (2 redirects)"),
                "give that URL instead".into(),
            ],
        ),
        (
            vec![server.url("short/dist/b.bin")],
            vec![],
            vec![format!(
                "http://{addr}/short/dist/b.bin: the body ended after 35000 of the 70000 bytes"
            )],
        ),
        (
            vec![server.url("nolength/dist/b.bin")],
            vec!["--no-web-seed"],
            vec!["no Content-Length".into()],
        ),
        (
            vec![server.url("pub/dist/a.bin"), server.url("pub/b.bin")],
            vec![],
            vec!["are in different folders".into()],
        ),
        (
            vec![server.url("pub/dist/a.bin"), server.url("pub/dist/b.bin")],
            vec!["--name", "other"],
            vec!["--name \"other\" differs from the folder".into()],
        ),
        (
            vec![https.clone()],
            vec![],
            vec![https, "TLS".into(), "use http:// instead".into()],
        ),
        (
            vec![server.url("pub/dist/")],
            vec![],
            vec!["names a folder, not a file".into()],
        ),
        (
            vec![server.url("pub/dist/a.bin"), "pub/dist/b.bin".into()],
            vec![],
            vec!["cannot be mixed".into()],
        ),
    ];
    for (urls, extra, wanted) in cases {
        let mut args = vec!["create", "-o", "t.torrent"];
        args.extend(urls.iter().map(String::as_str));
        args.extend(&extra);
        let started = Instant::now();
        let failed = run(dir, &args).failure();
        assert!(started.elapsed() < Duration::from_secs(20), "{urls:?}");
        for text in &wanted {
            assert!(
                failed.stderr.contains(text.as_str()),
                "{urls:?}: {}",
                failed.stderr
            );
        }
        assert!(!dir.join("t.torrent").exists(), "{urls:?} wrote a torrent");
    }
}

/// The largest VmHWM (peak resident memory) of `create URL` while it
/// streams `size` generated bytes, in KiB.
fn peak_rss_kib(size: u64) -> u64 {
    let temp = tempfile::tempdir().unwrap();
    let server = WebServer::start(&[("pub", temp.path().to_owned())]);
    let url = server.url(&format!("generated/{size}/big.bin"));
    let mut child = Command::new(BIN)
        .args(["create", &url, "-q", "-o", "big.torrent"])
        .current_dir(temp.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(600) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("create {url} took over 10 minutes");
        }
        let text = std::fs::read_to_string(&status_file).unwrap_or_default();
        let hwm = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        peak = hwm.unwrap_or(0).max(peak);
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let shown = show_json(temp.path(), "big.torrent");
    assert_eq!(shown["total_size"], size, "{shown}");
    eprintln!(
        "create URL of {size} bytes: peak RSS {peak} KiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    peak
}

#[test]
fn streaming_256_mib_keeps_memory_bounded() {
    let peak = peak_rss_kib(256 << 20);
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// Slow in a debug build (SHA-1 of 2 GiB); run it with `--ignored`.
#[test]
#[ignore]
fn streaming_2_gib_keeps_memory_bounded() {
    let peak = peak_rss_kib(2 << 30);
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn publish_refuses_urls_before_any_request() {
    let temp = tempfile::tempdir().unwrap();
    let server = server(temp.path());
    let url = server.url("pub/dist/a.bin");
    let failed = run(temp.path(), &["publish", &url]).failure();
    assert!(failed.stderr.contains("`create URL`"), "{}", failed.stderr);
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}
