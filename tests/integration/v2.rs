//! v2 and hybrid torrents (BEP 52 + BEP 47): layout rules, round trips,
//! damage detection and reproducibility. libtorrent agreement is in the
//! interop tests.

use crate::common::{bytes, run, sample_tree, settings, show_json, write_tree};

fn create(temp: &std::path::Path, input: &str, out: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["create", input, "-o", out, "--json"];
    args.extend(extra);
    serde_json::from_str(&run(temp, &args).success().stdout).unwrap()
}

#[test]
fn hybrid_pads_every_multi_file_entry_but_never_a_single_file() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[
            ("d/a", &bytes(20_000, 1)),
            ("d/b", &bytes(16_384, 2)),
            ("d/c", &bytes(5, 3)),
            ("d/e", b""),
        ],
    );
    create(temp.path(), "d", "d.torrent", &["--hybrid", "-l", "16k"]);
    let files: Vec<(String, u64, bool)> = show_json(temp.path(), "d.torrent")["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["length"].as_u64().unwrap(),
                f["padding"] == true,
            )
        })
        .collect();
    let expected = [
        ("a", 20_000, false),
        (".pad/12768", 12_768, true),
        ("b", 16_384, false),
        ("c", 5, false),
        // After the last data file too, so every file starts and ends on a piece.
        (".pad/16379", 16_379, true),
        ("e", 0, false),
    ];
    let expected: Vec<(String, u64, bool)> = expected
        .iter()
        .map(|(p, l, pad)| ((*p).to_owned(), *l, *pad))
        .collect();
    assert_eq!(files, expected);

    create(
        temp.path(),
        "d/a",
        "single.torrent",
        &["--hybrid", "-l", "16k"],
    );
    let single = show_json(temp.path(), "single.torrent");
    assert_eq!(single["files"].as_array().unwrap().len(), 1);
    assert_eq!(single["piece_count"], 2);
}

#[test]
fn v2_and_hybrid_round_trip_through_show_verify_and_magnet() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    for mode in ["--v2", "--hybrid"] {
        let summary = create(
            temp.path(),
            "release",
            "release.torrent",
            &[mode, "-l", "32k", "-f"],
        );
        let shown = show_json(temp.path(), "release.torrent");
        assert_eq!(shown["info_hash_v2"], summary["info_hash_v2"]);
        assert_eq!(shown["total_size"], 370_024, "pad files are not content");
        let roots = shown["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["pieces_root"].is_string())
            .count();
        assert_eq!(roots, 4, "{mode}: every non-empty file has a pieces root");
        run(temp.path(), &["verify", "release.torrent"]).success();
        let magnet = run(temp.path(), &["magnet", "release.torrent"])
            .success()
            .stdout;
        let v2 = summary["info_hash_v2"].as_str().unwrap();
        assert!(
            magnet.contains(&format!("xt=urn:btmh:1220{v2}")),
            "{magnet}"
        );
        assert_eq!(
            magnet.contains("xt=urn:btih:"),
            mode == "--hybrid",
            "{magnet}"
        );
    }
}

#[test]
fn piece_layers_only_for_files_over_one_piece_and_always_present() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("small/a", &bytes(30_000, 4))]);
    create(
        temp.path(),
        "small",
        "small.torrent",
        &["--v2", "-l", "32k"],
    );
    let raw = std::fs::read(temp.path().join("small.torrent")).unwrap();
    assert!(
        raw.windows(17).any(|w| w == b"12:piece layersde"),
        "an empty piece layers dictionary"
    );
    create(temp.path(), "small", "big.torrent", &["--v2", "-l", "16k"]);
    let raw = std::fs::read(temp.path().join("big.torrent")).unwrap();
    assert!(
        !raw.windows(17).any(|w| w == b"12:piece layersde"),
        "one layer for the 2-piece file"
    );
}

#[test]
fn damage_is_found_by_v2_and_by_the_hybrids_v1_pieces() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    create(temp.path(), "release", "v2.torrent", &["--v2", "-l", "16k"]);
    create(
        temp.path(),
        "release",
        "hybrid.torrent",
        &["--hybrid", "-l", "16k"],
    );
    let big = temp.path().join("release/data/big.bin");
    let mut data = std::fs::read(&big).unwrap();
    data[200_000] ^= 1;
    std::fs::write(&big, data).unwrap();
    for torrent in ["v2.torrent", "hybrid.torrent"] {
        let out = run(temp.path(), &["verify", torrent, "--json"]).failure();
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            report["damaged_files"],
            serde_json::json!([{"path": "data/big.bin", "bad_pieces": 1}]),
            "{torrent}"
        );
    }
}

#[test]
fn reproducible_whatever_the_thread_count() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    create(
        temp.path(),
        "release",
        "one.torrent",
        &["--hybrid", "-j", "1"],
    );
    create(
        temp.path(),
        "release",
        "two.torrent",
        &["--hybrid", "-j", "2"],
    );
    assert_eq!(
        std::fs::read(temp.path().join("one.torrent")).unwrap(),
        std::fs::read(temp.path().join("two.torrent")).unwrap()
    );
}

#[test]
fn v2_and_hybrid_flags_conflict() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    let out = run(temp.path(), &["create", "f", "--v2", "--hybrid"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
}

#[test]
fn hybrid_show_snapshot() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[
            ("d/a.bin", &bytes(40_000, 5)),
            ("d/empty", b""),
            ("d/sub/b", &bytes(100, 6)),
        ],
    );
    run(
        temp.path(),
        &[
            "create",
            "d",
            "--hybrid",
            "-l",
            "16k",
            "-q",
            "-a",
            "http://t.example/announce",
        ],
    )
    .success();
    let out = run(temp.path(), &["show", "d.torrent"]).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("show_hybrid", out.transcript()));
}

#[test]
fn v2_only_show_counts_each_files_pieces() {
    let temp = tempfile::tempdir().unwrap();
    // 40,000 bytes in 16 KiB pieces: 3; 100 bytes: 1; the empty file: none.
    write_tree(
        temp.path(),
        &[
            ("d/a.bin", &bytes(40_000, 5)),
            ("d/empty", b""),
            ("d/sub/b", &bytes(100, 6)),
        ],
    );
    run(
        temp.path(),
        &[
            "create",
            "d",
            "--v2",
            "-l",
            "16k",
            "-q",
            "-a",
            "http://t.example/announce",
        ],
    )
    .success();
    let out = run(temp.path(), &["show", "d.torrent"]).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("show_v2", out.transcript()));
    let json = run(temp.path(), &["show", "--json", "d.torrent"]).success();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["piece_count"], 4);
}
