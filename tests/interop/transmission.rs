//! Transmission (3.00's `transmission-create` and `transmission-show`):
//! Transmission reads our torrents with our info hash; we read and verify
//! torrents Transmission and mktorrent write, reporting the info hash that
//! `transmission-show` and libtorrent report.
//!
//! Transmission's info hashes for the same content are not expected to equal
//! ours: `transmission-create` 3.00 leaves out empty files and hidden files,
//! writes `private` even when 0, and orders files case-insensitively by whole
//! path comparing bytes as signed chars (so `ü…` sorts before `b`).

use std::path::{Path, PathBuf};

use crate::libtorrent::lt_files;
use crate::support::{
    bytes, corrupt, create, libtorrent_torrent, mktorrent, mktorrent_with, nested_tree, show,
    show_files, str_field, transmission_create, transmission_show_hash, verify, write, TRACKER,
};

#[test]
fn transmission_show_reads_our_torrents_with_our_info_hash() {
    let dir = tempfile::tempdir().unwrap();
    let tree = nested_tree(dir.path(), "nested");
    let single = write(dir.path(), "single ünï.bin", &bytes(70_000, 71));
    let cases: [(&Path, &[&str]); 4] = [
        (&single, &["-a", TRACKER]),
        (&tree, &["-a", TRACKER, "-l", "16KiB"]),
        (&tree, &["-a", "http://a.example/a,udp://b.example:1", "-p"]),
        (&tree, &["--trackerless", "--nodes", "192.0.2.1:6881"]),
    ];
    for (i, (content, args)) in cases.into_iter().enumerate() {
        let torrent = dir.path().join(format!("{i}.torrent"));
        let summary = create(content, &torrent, args);
        assert_eq!(
            transmission_show_hash(&torrent),
            str_field(&summary, "info_hash"),
            "transmission-show disagrees on {args:?}"
        );
    }
}

/// Makes `(content, torrent)` pairs with transmission-create: a single
/// file and a nested tree (empty files included, which it leaves out).
fn transmission_torrents(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let tree = nested_tree(dir, "tree");
    let single = write(dir, "single.bin", &bytes(100_000, 81));
    let mut made = Vec::new();
    for (content, kib, extra) in [
        (tree, 16, &["-t", TRACKER, "-p"][..]),
        (
            single,
            32,
            &["-t", TRACKER, "-c", "made by transmission"][..],
        ),
    ] {
        let name = content.file_name().unwrap().to_string_lossy().into_owned();
        let torrent = dir.join(format!("transmission-{name}.torrent"));
        transmission_create(&content, &torrent, kib, extra);
        made.push((content, torrent));
    }
    made
}

#[test]
fn verify_accepts_transmission_torrents_and_names_the_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    for (content, torrent) in transmission_torrents(dir.path()) {
        let (ok, report, stderr) = verify(&torrent, &content);
        assert!(
            ok,
            "verify rejected {}: {report:#}\n{stderr}",
            torrent.display()
        );

        let (file, shown) = if content.is_dir() {
            (content.join("sub/b.dat"), "sub/b.dat")
        } else {
            (content.clone(), "single.bin")
        };
        corrupt(&file, 4_321);
        let (ok, report, stderr) = verify(&torrent, &content);
        assert!(!ok, "verify missed a flipped byte in {shown}: {report:#}");
        assert_eq!(report["bad_pieces"].as_array().map(Vec::len), Some(1));
        let named: Vec<&str> = report["damaged_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| str_field(d, "path"))
            .collect();
        assert!(named.contains(&shown), "{shown} not named: {report:#}");
        assert!(stderr.contains("1 bad piece"), "{stderr}");
    }
}

/// `show` on torrents other tools wrote: the info hash must be the one
/// `transmission-show` and libtorrent compute, and the file list libtorrent's.
#[test]
fn show_reports_the_info_hash_transmission_and_libtorrent_see_in_third_party_torrents() {
    let dir = tempfile::tempdir().unwrap();
    let mut torrents: Vec<PathBuf> = transmission_torrents(dir.path())
        .into_iter()
        .map(|(_, torrent)| torrent)
        .collect();
    let tree = dir.path().join("tree");
    let by_mktorrent = dir.path().join("mktorrent-tree.torrent");
    mktorrent(&tree, &by_mktorrent, 15);
    let by_mktorrent_private = dir.path().join("mktorrent-private.torrent");
    mktorrent_with(
        &tree,
        &by_mktorrent_private,
        16,
        &[
            "-a",
            TRACKER,
            "-p",
            "-s",
            "TAG",
            "-w",
            "http://seed.example/",
        ],
    );
    torrents.extend([by_mktorrent, by_mktorrent_private]);
    torrents.extend(crate::fixtures::all());

    for torrent in &torrents {
        let report = show(torrent);
        let lt = libtorrent_torrent(torrent);
        let hash = str_field(&report, "info_hash");
        assert_eq!(
            transmission_show_hash(torrent),
            hash,
            "{}",
            torrent.display()
        );
        assert_eq!(str_field(&lt, "info_hash"), hash, "{}", torrent.display());
        let multi_file = report["multi_file"].as_bool().unwrap();
        assert_eq!(
            show_files(&report),
            lt_files(&lt, multi_file),
            "{}",
            torrent.display()
        );
        assert_eq!(report["private"], lt["private"], "{}", torrent.display());
    }
}
