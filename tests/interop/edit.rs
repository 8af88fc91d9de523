//! `edit` against libtorrent and `transmission-edit` (Transmission 3.00):
//! edited v1, v2 and hybrid torrents load in libtorrent with the trackers,
//! web seeds and info hashes we meant, and tracker additions and removals
//! give transmission-edit's announce lists (its very bytes where it writes
//! the shape we write).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{create, libtorrent, ours, require, run_ok, show};

/// libtorrent's trackers as tiers of URLs, each tier sorted (libtorrent
/// shuffles URLs within a tier, as BEP 12 asks).
fn lt_tiers(lt: &Value) -> Vec<Vec<String>> {
    let mut tiers: Vec<Vec<String>> = Vec::new();
    for tracker in lt["trackers"].as_array().unwrap() {
        let tier = usize::try_from(tracker["tier"].as_u64().unwrap()).unwrap();
        while tiers.len() <= tier {
            tiers.push(Vec::new());
        }
        tiers[tier].push(tracker["url"].as_str().unwrap().to_owned());
    }
    tiers.retain(|t| !t.is_empty());
    for tier in &mut tiers {
        tier.sort();
    }
    tiers
}

fn our_tiers(torrent: &Path) -> Vec<Vec<String>> {
    serde_json::from_value(show(torrent)["trackers"].clone()).unwrap()
}

fn inspect(torrent: &Path) -> Value {
    let lt = libtorrent(&["torrent".as_ref(), torrent.as_os_str()]);
    assert!(
        lt.get("error").is_none(),
        "libtorrent rejects {torrent:?}: {lt}"
    );
    lt
}

fn edit(args: &[&str]) {
    run_ok(ours().arg("edit").args(args).arg("-q"));
}

fn content(dir: &Path) -> PathBuf {
    let path = dir.join("data.bin");
    std::fs::write(&path, crate::support::bytes(200_000, 5)).unwrap();
    path
}

fn edited_in_libtorrent(version: &[&str]) {
    let temp = tempfile::tempdir().unwrap();
    let data = content(temp.path());
    let torrent = temp.path().join("t.torrent");
    let made = create(
        &data,
        &torrent,
        &[
            &[
                "-a",
                "http://a.example/announce",
                "-w",
                "http://w.example/data.bin",
            ][..],
            version,
        ]
        .concat(),
    );
    let t = torrent.to_str().unwrap();
    edit(&[
        t,
        "-a",
        "udp://b.example:1,udp://c.example:2",
        "-a",
        "http://d.example/announce",
        "--remove-web-seed",
        "http://w.*",
        "-w",
        "https://m.example/pub/",
        "-c",
        "edited",
        "-i",
    ]);
    let lt = inspect(&torrent);
    let want_tiers = vec![
        vec!["http://a.example/announce".to_owned()],
        vec![
            "udp://b.example:1".to_owned(),
            "udp://c.example:2".to_owned(),
        ],
        vec!["http://d.example/announce".to_owned()],
    ];
    assert_eq!(our_tiers(&torrent), want_tiers);
    let mut sorted = want_tiers;
    for tier in &mut sorted {
        tier.sort();
    }
    assert_eq!(lt_tiers(&lt), sorted);
    assert_eq!(
        lt["web_seeds"],
        serde_json::json!(["https://m.example/pub/"])
    );
    // Outside `info`: the same swarm.
    if version.is_empty() || version == ["--hybrid"] {
        assert_eq!(lt["info_hash"], made["info_hash"]);
    }
    if !version.is_empty() {
        assert_eq!(lt["info_hash_v2"], made["info_hash_v2"]);
    }

    edit(&[
        t,
        "--source",
        "SRC",
        "--private",
        "--name",
        "renamed.bin",
        "-d",
        "udp://*",
        "-i",
    ]);
    let lt = inspect(&torrent);
    let now = show(&torrent);
    assert_eq!(lt["private"], true);
    assert_eq!(lt["name"], "renamed.bin");
    assert_eq!(
        lt_tiers(&lt),
        vec![
            vec!["http://a.example/announce".to_owned()],
            vec!["http://d.example/announce".to_owned()]
        ]
    );
    if version.is_empty() || version == ["--hybrid"] {
        assert_ne!(lt["info_hash"], made["info_hash"]);
        assert_eq!(lt["info_hash"], now["info_hash"]);
    }
    if !version.is_empty() {
        assert_ne!(lt["info_hash_v2"], made["info_hash_v2"]);
        assert_eq!(lt["info_hash_v2"], now["info_hash_v2"]);
    }
    let files: Vec<&str> = lt["files"]
        .as_array()
        .unwrap()
        .iter()
        // libtorrent pads a v2 file's tail in its own file list.
        .filter(|f| f["pad"] == false)
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["renamed.bin"]);
}

#[test]
fn edited_v1_loads_in_libtorrent() {
    edited_in_libtorrent(&[]);
}

#[test]
fn edited_v2_loads_in_libtorrent() {
    edited_in_libtorrent(&["--v2"]);
}

#[test]
fn edited_hybrid_loads_in_libtorrent() {
    edited_in_libtorrent(&["--hybrid"]);
}

/// Runs `transmission-edit FLAG URL` on a copy of `input`, and ours with
/// `our_flag URL` on another; returns both results.
fn both(input: &Path, dir: &Path, flag: &str, our_flag: &str, url: &str) -> (Vec<u8>, Vec<u8>) {
    let theirs = dir.join("theirs.torrent");
    std::fs::copy(input, &theirs).unwrap();
    let program = require("transmission-edit", "transmission-cli");
    run_ok(
        std::process::Command::new(program)
            .args([flag, url])
            .arg(&theirs),
    );
    let mine = dir.join("ours.torrent");
    run_ok(
        ours()
            .arg("edit")
            .arg(input)
            .args([our_flag, url, "-o"])
            .arg(&mine)
            .args(["-f", "-q"]),
    );
    (
        std::fs::read(&theirs).unwrap(),
        std::fs::read(&mine).unwrap(),
    )
}

#[test]
fn tracker_add_and_remove_match_transmission_edit() {
    let temp = tempfile::tempdir().unwrap();
    let data = content(temp.path());
    let tiers = |trackers: &[&str], name: &str| {
        let path = temp.path().join(name);
        let mut args = vec![];
        for t in trackers {
            args.extend(["-a", *t]);
        }
        create(&data, &path, &args);
        path
    };
    let (a, b, c) = (
        "http://a.example/announce",
        "udp://b.example:1",
        "http://c.example/announce",
    );
    let none = tiers(&[], "none.torrent");
    let one = tiers(&[a], "one.torrent");
    let three = tiers(&[a, b, c], "three.torrent");
    let two = tiers(&[a, b], "two.torrent");
    // (input, transmission flag, our flag, URL, bytes identical?)
    let cases: &[(&Path, &str, &str, &str, bool)] = &[
        // Added as the only tracker: `announce` alone, both.
        (&none, "-a", "--add-tracker", a, true),
        // Added as a new tier after `announce`.
        (&one, "-a", "--add-tracker", b, true),
        (&three, "-a", "--add-tracker", "udp://d.example:4", true),
        // Already there: nothing changes.
        (&three, "-a", "--add-tracker", b, true),
        // Removed from the middle.
        (&three, "-d", "--remove-tracker", b, true),
        // Removed from `announce`: the next tracker takes its place.
        (&three, "-d", "--remove-tracker", a, true),
        // Not there.
        (
            &three,
            "-d",
            "--remove-tracker",
            "udp://nope.example:9",
            true,
        ),
        // One tracker left: transmission-edit keeps a one-URL
        // `announce-list`; we write `announce` alone, as create does.
        (&two, "-d", "--remove-tracker", a, false),
        // The last one removed: no trackers at all, both.
        (&one, "-d", "--remove-tracker", a, true),
    ];
    for &(input, flag, our_flag, url, identical) in cases {
        let (theirs, mine) = both(input, temp.path(), flag, our_flag, url);
        let label = format!(
            "{} {flag} {url}",
            input.file_name().unwrap().to_string_lossy()
        );
        let (t, m) = (
            temp.path().join("theirs.torrent"),
            temp.path().join("ours.torrent"),
        );
        assert_eq!(
            our_tiers(&m),
            our_tiers(&t),
            "{label}: announce lists differ"
        );
        assert_eq!(
            lt_tiers(&inspect(&m)),
            lt_tiers(&inspect(&t)),
            "{label}: libtorrent"
        );
        if identical {
            assert!(
                theirs == mine,
                "{label}: bytes differ\ntheirs: {}\nours:   {}",
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&mine)
            );
        } else {
            assert_ne!(theirs, mine, "{label}: now identical: update this case");
        }
        assert_eq!(show(&m)["info_hash"], show(input)["info_hash"], "{label}");
    }
}
