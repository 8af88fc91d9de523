//! `create`: exact bytes, flags, reproducibility, atomic output and errors.

use sha1::{Digest, Sha1};

use crate::common::{bytes, run, run_env, sample_tree, settings, show_json, write_tree};

/// Bencodes a byte string, for building expected documents by hand.
fn bstr(s: &[u8]) -> Vec<u8> {
    let mut out = format!("{}:", s.len()).into_bytes();
    out.extend_from_slice(s);
    out
}

#[test]
fn single_file_golden_bytes() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("hello.txt", b"hello world\n")]);
    run(
        temp.path(),
        &[
            "create",
            "hello.txt",
            "-a",
            "http://tracker.example/announce",
            "-l",
            "16KiB",
            "--no-created-by",
            "-q",
        ],
    )
    .success();
    let got = std::fs::read(temp.path().join("hello.txt.torrent")).unwrap();
    let mut want = b"d8:announce31:http://tracker.example/announce13:creation datei1700000000e4:infod6:lengthi12e4:name9:hello.txt12:piece lengthi16384e6:pieces20:".to_vec();
    want.extend_from_slice(&Sha1::digest(b"hello world\n"));
    want.extend_from_slice(b"ee");
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&got));
}

#[test]
fn multi_file_golden_bytes_with_every_optional_key() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[("d/b", b"bb"), ("d/a/x", b"x"), ("d/e", b"")],
    );
    run(
        temp.path(),
        &[
            "create",
            "d",
            "-q",
            "-l",
            "14",
            "-a",
            "udp://one.example:6969,http://two.example/announce",
            "-a",
            "https://three.example/announce",
            "--nodes",
            "dht.example:6881,[::1]:6882",
            "-w",
            "https://mirror.example/pub/",
            "-p",
            "-s",
            "SRC",
            "-c",
            "a comment",
            "-n",
            "named",
        ],
    )
    .success();
    let got = std::fs::read(temp.path().join("named.torrent")).unwrap();
    let mut want = Vec::new();
    want.extend_from_slice(b"d8:announce");
    want.extend(bstr(b"udp://one.example:6969"));
    want.extend_from_slice(b"13:announce-listll");
    want.extend(bstr(b"udp://one.example:6969"));
    want.extend(bstr(b"http://two.example/announce"));
    want.extend_from_slice(b"el");
    want.extend(bstr(b"https://three.example/announce"));
    want.extend_from_slice(b"ee7:comment9:a comment10:created by");
    want.extend(bstr(
        format!("mktorrent-rs {}", env!("CARGO_PKG_VERSION")).as_bytes(),
    ));
    want.extend_from_slice(b"13:creation datei1700000000e4:infod5:filesld6:lengthi1e4:pathl1:a1:xeed6:lengthi2e4:pathl1:beed6:lengthi0e4:pathl1:eeee4:name5:named12:piece lengthi16384e6:pieces20:");
    want.extend_from_slice(&Sha1::digest(b"xbb"));
    want.extend_from_slice(
        b"7:privatei1e6:source3:SRCe5:nodesll11:dht.examplei6881eel3:::1i6882eee8:url-listl",
    );
    want.extend(bstr(b"https://mirror.example/pub/"));
    want.extend_from_slice(b"ee");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn reproducible_across_runs_with_source_date_epoch() {
    let temp = tempfile::tempdir().unwrap();
    let dir = sample_tree(temp.path());
    let args = |out: &'static str| {
        vec![
            "create",
            "release",
            "-a",
            "http://t.example/announce",
            "-w",
            "https://m.example/",
            "-o",
            out,
            "-q",
        ]
    };
    run(temp.path(), &args("one.torrent")).success();
    // A different thread count and a touched file must not matter.
    let mut second = args("two.torrent");
    second.extend(["-j", "1"]);
    std::fs::write(dir.join("README.txt"), b"read me\n").unwrap();
    run(temp.path(), &second).success();
    let one = std::fs::read(temp.path().join("one.torrent")).unwrap();
    let two = std::fs::read(temp.path().join("two.torrent")).unwrap();
    assert_eq!(one, two);
    assert!(String::from_utf8_lossy(&one).contains("13:creation datei1700000000e"));
}

#[test]
fn creation_date_defaults_to_now_and_no_date_omits_it() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    run_env(
        temp.path(),
        &["create", "f", "-q", "-o", "now.torrent"],
        &[],
    )
    .success();
    let torrent = show_json(temp.path(), "now.torrent");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let date = torrent["creation_date"].as_i64().unwrap();
    assert!((now - 600..=now + 1).contains(&date), "{date} vs {now}");
    run(
        temp.path(),
        &["create", "f", "-q", "--no-date", "-o", "nodate.torrent"],
    )
    .success();
    assert!(show_json(temp.path(), "nodate.torrent")["creation_date"].is_null());
    let bad = run_env(
        temp.path(),
        &["create", "f", "-q", "-o", "x.torrent"],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    )
    .failure();
    assert!(bad.stderr.contains("SOURCE_DATE_EPOCH"), "{}", bad.stderr);
}

#[test]
fn trackers_tiers_and_announce() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    run(
        temp.path(),
        &["create", "f", "-q", "-a", "http://a.example/announce"],
    )
    .success();
    let one = show_json(temp.path(), "f.torrent");
    assert_eq!(
        one["trackers"],
        serde_json::json!([["http://a.example/announce"]])
    );
    let raw = std::fs::read(temp.path().join("f.torrent")).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("announce-list"),
        "one URL: no announce-list"
    );

    run(
        temp.path(),
        &[
            "create",
            "f",
            "-q",
            "-f",
            "--announce",
            "udp://b.example:1337/announce, http://c.example/x",
            "-a",
            "https://d.example/announce",
        ],
    )
    .success();
    let tiers = show_json(temp.path(), "f.torrent");
    assert_eq!(
        tiers["trackers"],
        serde_json::json!([
            ["udp://b.example:1337/announce", "http://c.example/x"],
            ["https://d.example/announce"]
        ])
    );
}

#[test]
fn trackerless_uses_default_routers_and_says_so() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    let out = run(temp.path(), &["create", "f", "--trackerless"]).success();
    assert!(
        out.stderr.contains("router.bittorrent.com:6881"),
        "{}",
        out.stderr
    );
    let torrent = show_json(temp.path(), "f.torrent");
    assert_eq!(torrent["trackers"], serde_json::json!([]));
    assert_eq!(torrent["nodes"].as_array().unwrap().len(), 4);

    run(
        temp.path(),
        &[
            "create",
            "f",
            "-f",
            "-q",
            "--trackerless",
            "--nodes",
            "127.0.0.1:6881",
            "--nodes",
            "[::1]:7000",
        ],
    )
    .success();
    let torrent = show_json(temp.path(), "f.torrent");
    assert_eq!(
        torrent["nodes"],
        serde_json::json!(["127.0.0.1:6881", "[::1]:7000"])
    );
}

#[test]
fn private_source_comment_name() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    run(
        temp.path(),
        &[
            "create",
            "f",
            "-q",
            "-p",
            "-s",
            "TRK",
            "-c",
            "hi",
            "-n",
            "other",
            "-a",
            "http://t.example/a",
        ],
    )
    .success();
    let torrent = show_json(temp.path(), "other.torrent");
    assert_eq!(torrent["private"], true);
    assert_eq!(torrent["source"], "TRK");
    assert_eq!(torrent["comment"], "hi");
    assert_eq!(torrent["name"], "other");
    run(temp.path(), &["create", "f", "-q", "-o", "public.torrent"]).success();
    let raw = std::fs::read(temp.path().join("public.torrent")).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains("private"),
        "public torrents carry no private key"
    );
}

#[test]
fn piece_length_automatic_explicit_and_warned() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", &bytes(100_000, 3))]);
    let auto = run(temp.path(), &["create", "f"]).success();
    assert!(
        auto.stdout.contains("× 32 KiB (automatic)"),
        "{}",
        auto.stdout
    );
    let exp = run(temp.path(), &["create", "f", "-f", "-l", "18", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&exp.stdout).unwrap();
    assert_eq!(json["piece_length"], 262_144);
    assert_eq!(json["piece_count"], 1);
    let big = run(temp.path(), &["create", "f", "-f", "-q", "-l", "32MiB"]).success();
    assert!(
        big.stderr
            .contains("warning: piece length 32 MiB is above 16 MiB"),
        "{}",
        big.stderr
    );
}

#[test]
fn json_summary_has_every_field() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    let out = run(temp.path(), &["create", "release", "--json", "-l", "64k"]).success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let shown = show_json(temp.path(), "release.torrent");
    assert_eq!(json["info_hash"], shown["info_hash"]);
    assert_eq!(json["magnet"], shown["magnet"]);
    assert_eq!(json["file_count"], 6);
    assert_eq!(json["total_size"], shown["total_size"]);
    assert_eq!(json["piece_count"], shown["piece_count"]);
    assert_eq!(
        json["output"],
        temp.path().join("release.torrent").display().to_string()
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn magnet_flag_prints_the_link() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    let out = run(temp.path(), &["create", "f", "-q", "--magnet"]).success();
    let magnet = run(temp.path(), &["magnet", "f.torrent"]).success();
    assert_eq!(out.stdout, magnet.stdout);
}

#[test]
fn stdout_output_and_no_clobber() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    let out = run(temp.path(), &["create", "f", "-o", "-"]).success();
    assert!(out.stdout_bytes.starts_with(b"d"));
    assert!(
        out.stderr.contains("Info hash"),
        "summary goes to stderr: {}",
        out.stderr
    );
    assert!(!temp.path().join("f.torrent").exists());

    std::fs::write(temp.path().join("f.torrent"), b"precious").unwrap();
    let refused = run(temp.path(), &["create", "f", "-q"]).failure();
    assert!(
        refused.stderr.contains("already exists; pass --force"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read(temp.path().join("f.torrent")).unwrap(),
        b"precious"
    );
    run(temp.path(), &["create", "f", "-q", "--force"]).success();
    assert_ne!(
        std::fs::read(temp.path().join("f.torrent")).unwrap(),
        b"precious"
    );
    let leftovers: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[cfg(unix)]
#[test]
fn force_never_replaces_a_special_file() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    let fifo = temp.path().join("pipe.torrent");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::create_dir(temp.path().join("dir.torrent")).unwrap();
    for (name, target) in [("fifo", "pipe.torrent"), ("directory", "dir.torrent")] {
        let refused = run(temp.path(), &["create", "f", "-q", "--force", "-o", target]).failure();
        settings(temp.path()).bind(|| {
            insta::assert_snapshot!(format!("create_error_force_{name}"), refused.transcript());
        });
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(temp.path().join("dir.torrent").is_dir());
}

#[test]
fn never_hashes_its_own_output() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("d/a", b"a")]);
    run(temp.path(), &["create", "d", "-q", "-o", "d/d.torrent"]).success();
    run(
        temp.path(),
        &["create", "d", "-q", "-f", "-o", "d/d.torrent"],
    )
    .success();
    let torrent = show_json(temp.path(), "d/d.torrent");
    assert_eq!(
        torrent["files"],
        serde_json::json!([{"path": "a", "length": 1}])
    );
}

#[test]
fn filters_hidden_junk_and_globs() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[
            ("d/keep.txt", b"k"),
            ("d/.hidden", b"h"),
            ("d/.git/HEAD", b"g"),
            ("d/.DS_Store", b"j"),
            ("d/Thumbs.db", b"j"),
            ("d/x.log", b"l"),
            ("d/sub/y.log", b"l"),
        ],
    );
    run(temp.path(), &["create", "d", "-q"]).success();
    let paths = |t: &serde_json::Value| -> Vec<String> {
        t["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        paths(&show_json(temp.path(), "d.torrent")),
        ["keep.txt", "sub/y.log", "x.log"]
    );
    run(
        temp.path(),
        &["create", "d", "-q", "-f", "--exclude", "*.log"],
    )
    .success();
    assert_eq!(paths(&show_json(temp.path(), "d.torrent")), ["keep.txt"]);
    run(
        temp.path(),
        &["create", "d", "-q", "-f", "--include", "sub/*.log"],
    )
    .success();
    assert_eq!(paths(&show_json(temp.path(), "d.torrent")), ["sub/y.log"]);
    run(
        temp.path(),
        &[
            "create",
            "d",
            "-q",
            "-f",
            "--include-hidden",
            "--include-junk",
        ],
    )
    .success();
    assert_eq!(paths(&show_json(temp.path(), "d.torrent")).len(), 7);
}

#[test]
fn error_messages() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[
            ("f", b"x"),
            ("hidden-only/.h", b""),
            ("zero/a", b""),
            ("zero/b/c", b""),
        ],
    );
    std::fs::create_dir(temp.path().join("empty")).unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("missing_input", &["create", "nope"]),
        ("empty_directory", &["create", "empty"]),
        ("empty_after_filtering", &["create", "hidden-only"]),
        ("only_empty_files", &["create", "zero"]),
        (
            "bad_tracker_scheme",
            &["create", "f", "-a", "ftp://t.example/"],
        ),
        (
            "udp_tracker_without_port",
            &["create", "f", "-a", "udp://t.example"],
        ),
        ("bad_web_seed", &["create", "f", "-w", "mirror.example/x"]),
        ("bad_node", &["create", "f", "--nodes", "host"]),
        ("bad_piece_length", &["create", "f", "-l", "300k"]),
        (
            "trackerless_with_tracker",
            &["create", "f", "--trackerless", "-a", "http://t.example/a"],
        ),
        ("bad_name", &["create", "f", "-n", "../x"]),
    ];
    for (name, args) in cases {
        let out = run(temp.path(), args).failure();
        settings(temp.path())
            .bind(|| insta::assert_snapshot!(format!("create_error_{name}"), out.transcript()));
    }
    let leftovers = std::fs::read_dir(temp.path()).unwrap().count();
    assert_eq!(leftovers, 4, "failed runs write nothing");
}

#[cfg(unix)]
#[test]
fn unreadable_entry_is_named_and_nothing_is_written() {
    // A dangling link that --follow-symlinks must read: fails even for root.
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("d/ok", b"s")]);
    std::os::unix::fs::symlink(temp.path().join("gone"), temp.path().join("d/dangling")).unwrap();
    run(temp.path(), &["create", "d", "-q"]).success();
    let out = run(
        temp.path(),
        &["create", "d", "-o", "follow.torrent", "--follow-symlinks"],
    )
    .failure();
    assert!(out.stderr.contains("dangling"), "{}", out.stderr);
    assert!(!temp.path().join("follow.torrent").exists());
}

#[test]
fn human_summary_snapshot() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    let out = run(
        temp.path(),
        &[
            "create",
            "release",
            "-a",
            "http://t.example/announce",
            "--magnet",
        ],
    )
    .success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("create_summary", out.transcript()));
}

#[test]
fn slips_in_flags_are_named_and_a_torrent_nobody_can_find_is_warned_of() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    for (name, args) in [
        (
            "tracker_with_space",
            &["-a", "http://t.example/ann ounce"][..],
        ),
        ("empty_tracker", &["-a", ""][..]),
        (
            "tracker_without_scheme",
            &["-a", "t.example:6969/announce"][..],
        ),
        ("empty_source", &["-s", ""][..]),
        ("zero_threads", &["-j", "0"][..]),
    ] {
        let mut line = vec!["create", "f", "-q"];
        line.extend_from_slice(args);
        let out = run(temp.path(), &line).failure();
        settings(temp.path())
            .bind(|| insta::assert_snapshot!(format!("create_error_{name}"), out.transcript()));
    }
    let out = run(temp.path(), &["create", "f"]).success();
    settings(temp.path())
        .bind(|| insta::assert_snapshot!("create_warning_unfindable", out.transcript()));
    let out = run(
        temp.path(),
        &["create", "f", "--force", "-a", "udp://t.example:1"],
    )
    .success();
    assert!(!out.stderr.contains("no trackers"), "{}", out.stderr);
}

#[test]
fn flags_of_other_tools_get_a_real_hint() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    for (name, args) in [
        ("mktorrent_t", &["-t", "4"][..]),
        ("transmission_t", &["-t", "http://t.example/announce"][..]),
        ("mktorrent_d", &["-d"][..]),
        ("mktorrent_v", &["-v"][..]),
    ] {
        let mut line = vec!["create", "f"];
        line.extend_from_slice(args);
        let out = run(temp.path(), &line).failure();
        assert!(!out.stderr.contains("tip:"), "{}", out.stderr);
        settings(temp.path())
            .bind(|| insta::assert_snapshot!(format!("create_error_{name}"), out.transcript()));
    }
    // check-web-seeds' -j became --requests.
    let out = run(temp.path(), &["check-web-seeds", "f.torrent", "-j", "4"]).failure();
    assert!(!out.stderr.contains("tip:"), "{}", out.stderr);
    settings(temp.path())
        .bind(|| insta::assert_snapshot!("check_web_seeds_error_j", out.transcript()));
}

#[test]
fn what_the_filters_skipped_is_said_and_listed() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[
            ("d/keep.txt", b"k"),
            ("d/.hidden", b"h"),
            ("d/.git/HEAD", b"g"),
            ("d/.DS_Store", b"j"),
            ("d/x.log", b"l"),
        ],
    );
    let out = run(
        temp.path(),
        &[
            "create",
            "d",
            "-a",
            "udp://t.example:1",
            "--exclude",
            "*.log",
        ],
    )
    .success();
    settings(temp.path())
        .bind(|| insta::assert_snapshot!("create_skipped_summary", out.transcript()));
    let json = run(
        temp.path(),
        &[
            "create",
            "d",
            "-f",
            "--json",
            "-a",
            "udp://t.example:1",
            "--exclude",
            "*.log",
        ],
    )
    .success();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    settings(temp.path()).bind(|| {
        insta::assert_snapshot!(
            "create_skipped_json",
            serde_json::to_string_pretty(&value["skipped"]).unwrap()
        );
    });
}

/// Kills the child when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stderr_off_a_terminal_gets_a_plain_progress_line() {
    use std::io::BufRead;
    let temp = tempfile::tempdir().unwrap();
    // Sparse: costs no disk, and is far more than one thread hashes before
    // the first line (5 s); the run is stopped once the line is seen.
    let big = std::fs::File::create(temp.path().join("big.bin")).unwrap();
    big.set_len(64 << 30).unwrap();
    drop(big);
    let mut child = KillOnDrop(
        std::process::Command::new(crate::common::BIN)
            .args(["create", "big.bin", "-j", "1", "-a", "udp://t.example:1"])
            .current_dir(temp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let line = lines
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("a progress line within 30 s");
    assert!(!line.contains('\x1b') && !line.contains('\r'), "{line:?}");
    let mut settings = settings(temp.path());
    settings.add_filter(r"^(\w+) \d+(\.\d+)? \w+ of", "$1 [DONE] of");
    settings.add_filter(r", \d+(\.\d+)? \w+/s$", ", [RATE]");
    settings.bind(|| insta::assert_snapshot!("create_progress_off_a_terminal", line));
}
