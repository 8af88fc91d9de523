//! mktorrent (1.1, the reference C tool): for the same content, piece length
//! and flags we must write the same info dictionary, so the same info hash;
//! and `verify` must accept what mktorrent writes.
//!
//! What we learned about mktorrent 1.1 while writing these:
//! - `-l` is an exponent between 15 and 28, so 16 KiB pieces cannot be
//!   compared here (`libtorrent::libtorrent_made_torrents_hash_like_ours_including_sixteen_kib_pieces`
//!   covers them).
//! - It keeps empty files, as we do.
//! - It includes hidden files; we leave them out unless `--include-hidden`.
//! - It follows symbolic links inside the content; we skip them unless
//!   `--follow-symlinks`.
//! - It orders files by whole path (`strcmp`), we order by path component;
//!   the two differ when a name sorts below `/` against a sibling directory.

use std::path::Path;

use crate::support::{
    bytes, corrupt, create, mktorrent, mktorrent_with, nested_files, nested_tree, show, show_files,
    str_field, verify, without_authoring, write, NESTED, TRACKER,
};

/// 32 KiB, 256 KiB and 1 MiB.
const EXPONENTS: [u32; 3] = [15, 18, 20];

/// Creates a torrent of `content` with mktorrent and with us (same tracker
/// and piece length) and asserts the reports agree on everything but the
/// authoring fields. Returns our report.
fn assert_same_as_mktorrent(content: &Path, exponent: u32) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("mktorrent.torrent");
    let ours = dir.path().join("ours.torrent");
    mktorrent(content, &theirs, exponent);
    create(
        content,
        &ours,
        &["-a", TRACKER, "-l", &exponent.to_string()],
    );
    let (theirs, ours) = (show(&theirs), show(&ours));
    assert_eq!(
        str_field(&ours, "info_hash"),
        str_field(&theirs, "info_hash"),
        "info hash differs from mktorrent for {} with 2^{exponent} pieces",
        content.display()
    );
    assert_eq!(without_authoring(ours.clone()), without_authoring(theirs));
    ours
}

#[test]
fn single_files_hash_like_mktorrent_for_each_piece_length() {
    let dir = tempfile::tempdir().unwrap();
    // Smaller than every piece; a whole number of 32 KiB and 256 KiB pieces
    // but less than one 1 MiB piece; a multiple of nothing.
    for (seed, len) in [(11, 1_000), (12, 3 * 262_144), (13, 1_048_576 + 12_345)] {
        let file = write(dir.path(), &format!("file-{len}.bin"), &bytes(len, seed));
        for exponent in EXPONENTS {
            let report = assert_same_as_mktorrent(&file, exponent);
            let piece = 1u64 << exponent;
            assert_eq!(report["piece_count"], (len as u64).div_ceil(piece));
        }
    }
}

#[test]
fn nested_tree_with_empty_files_and_utf8_names_hashes_like_mktorrent() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested tree");
    for exponent in EXPONENTS {
        let report = assert_same_as_mktorrent(&content, exponent);
        // Both keep the empty files, in the same place.
        assert_eq!(show_files(&report), nested_files());
    }
}

#[test]
fn utf8_single_file_name_hashes_like_mktorrent() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "ünïcödé 日本語 file.txt", &bytes(40_000, 21));
    let report = assert_same_as_mktorrent(&file, 15);
    assert_eq!(report["name"], "ünïcödé 日本語 file.txt");
    assert_eq!(report["multi_file"], false);
}

#[test]
fn every_field_matches_mktorrent_with_private_source_tiers_web_seeds_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "content");
    let args = [
        "-a",
        "http://a.example/announce,udp://b.example:6969",
        "-a",
        "https://c.example/announce?passkey=x",
        "-w",
        "http://seed.example/files/",
        "-w",
        "https://seed2.example/",
        "-p",
        "-s",
        "SOURCE-TAG",
        "-c",
        "comment: ünï",
        "-n",
        "renamed ünï",
    ];
    let theirs = dir.path().join("mktorrent.torrent");
    let ours = dir.path().join("ours.torrent");
    mktorrent_with(&content, &theirs, 16, &args);
    create(&content, &ours, &[&args[..], &["-l", "16"]].concat());
    let (theirs, ours) = (show(&theirs), show(&ours));
    assert_eq!(without_authoring(ours.clone()), without_authoring(theirs));
    // And the fields say what we asked for (not just the same mistake twice).
    assert_eq!(ours["private"], true);
    assert_eq!(ours["source"], "SOURCE-TAG");
    assert_eq!(ours["name"], "renamed ünï");
    assert_eq!(
        ours["trackers"],
        serde_json::json!([
            ["http://a.example/announce", "udp://b.example:6969"],
            ["https://c.example/announce?passkey=x"]
        ])
    );
    assert_eq!(
        ours["web_seeds"],
        serde_json::json!(["http://seed.example/files/", "https://seed2.example/"])
    );
}

#[test]
fn hidden_files_are_kept_by_mktorrent_and_by_us_only_with_include_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write(&content, "visible.bin", &bytes(50_000, 31));
    write(&content, ".hidden", &bytes(100, 32));
    write(&content, ".git/config", &bytes(100, 33));
    let theirs = dir.path().join("mktorrent.torrent");
    mktorrent(&content, &theirs, 15);
    let theirs = show(&theirs);
    let paths: Vec<String> = show_files(&theirs).into_iter().map(|f| f.0).collect();
    assert_eq!(paths, [".git/config", ".hidden", "visible.bin"]);

    let with = dir.path().join("with.torrent");
    create(
        &content,
        &with,
        &["-a", TRACKER, "-l", "15", "--include-hidden"],
    );
    assert_eq!(show(&with)["info_hash"], theirs["info_hash"]);

    let without = dir.path().join("without.torrent");
    create(&content, &without, &["-a", TRACKER, "-l", "15"]);
    let without = show(&without);
    assert_ne!(without["info_hash"], theirs["info_hash"]);
    assert_eq!(
        show_files(&without),
        [("visible.bin".to_owned(), 50_000)],
        "hidden files are left out by default"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_by_mktorrent_and_by_us_only_with_follow_symlinks() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write(&content, "real/f.bin", &bytes(5_000, 35));
    symlink("real/f.bin", content.join("file-link")).unwrap();
    symlink("real", content.join("dir-link")).unwrap();
    let theirs = dir.path().join("mktorrent.torrent");
    mktorrent(&content, &theirs, 15);
    let theirs = show(&theirs);
    let paths: Vec<String> = show_files(&theirs).into_iter().map(|f| f.0).collect();
    assert_eq!(paths, ["dir-link/f.bin", "file-link", "real/f.bin"]);

    let followed = dir.path().join("followed.torrent");
    create(
        &content,
        &followed,
        &["-a", TRACKER, "-l", "15", "--follow-symlinks"],
    );
    assert_eq!(show(&followed)["info_hash"], theirs["info_hash"]);

    let skipped = dir.path().join("skipped.torrent");
    create(&content, &skipped, &["-a", TRACKER, "-l", "15"]);
    assert_eq!(
        show_files(&show(&skipped)),
        [("real/f.bin".to_owned(), 5_000)],
        "symbolic links are left out by default"
    );
}

/// A known disagreement, pinned so that changing either order is a decision.
/// mktorrent 1.1 sorts whole paths with `strcmp`, so `a-b/x` and `a.txt`
/// (bytes `-` 0x2d and `.` 0x2e below `/` 0x2f) come before `a/x`; we
/// compare path components (like BEP 52's file tree), putting `a/x` first.
/// Real content hits this: `Album/` beside `Album.cue`, `Disc 1/` beside
/// `Disc 1 Extras/`. Both torrents list the same files; only the order, and
/// so the info hash, differ.
#[test]
fn file_order_differs_when_a_name_sorts_below_slash() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    for (seed, path) in (41..).zip(["a/x", "a-b/x", "a.txt", "a b/x", "b"]) {
        write(&content, path, &bytes(1_000, seed));
    }
    let theirs = dir.path().join("mktorrent.torrent");
    let ours = dir.path().join("ours.torrent");
    mktorrent(&content, &theirs, 15);
    create(&content, &ours, &["-a", TRACKER, "-l", "15"]);
    let (theirs, ours) = (show(&theirs), show(&ours));

    let paths = |report: &serde_json::Value| -> Vec<String> {
        show_files(report).into_iter().map(|f| f.0).collect()
    };
    assert_eq!(paths(&theirs), ["a b/x", "a-b/x", "a.txt", "a/x", "b"]);
    assert_eq!(paths(&ours), ["a/x", "a b/x", "a-b/x", "a.txt", "b"]);
    assert_ne!(ours["info_hash"], theirs["info_hash"]);
}

#[test]
fn verify_accepts_mktorrent_torrents_and_names_the_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let tree = nested_tree(dir.path(), "tree");
    let single = write(dir.path(), "single.bin", &bytes(100_000, 51));
    for (content, damaged, offset) in [
        (&tree, "sub/deeper/c.dat", 12_345),
        (&single, "single.bin", 99_999),
    ] {
        let torrent = dir
            .path()
            .join(format!("{damaged}.torrent").replace('/', "_"));
        mktorrent(content, &torrent, 15);

        let (ok, report, stderr) = verify(&torrent, content);
        assert!(
            ok,
            "verify rejected mktorrent's torrent: {report:#}\n{stderr}"
        );

        let file = if content.is_dir() {
            content.join(damaged)
        } else {
            content.clone()
        };
        corrupt(&file, offset);
        let (ok, report, stderr) = verify(&torrent, content);
        assert!(!ok, "verify missed a flipped byte in {damaged}: {report:#}");
        assert_eq!(report["bad_pieces"].as_array().map(Vec::len), Some(1));
        let named: Vec<&str> = report["damaged_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| str_field(d, "path"))
            .collect();
        assert!(named.contains(&damaged), "{damaged} not named: {report:#}");
        // An empty file holds no byte of any piece, so it is never damaged.
        for path in named {
            assert!(
                NESTED.iter().all(|(p, len)| *p != path || *len > 0),
                "empty file {path} named as damaged: {report:#}"
            );
        }
        assert!(stderr.contains("1 bad piece"), "{stderr}");
    }
}
