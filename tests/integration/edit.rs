//! `edit`: every flag on the real binary; bytes outside the edited keys and
//! the info hash kept or changed as the report says; `--dry-run` and
//! errors write nothing.

use std::path::{Path, PathBuf};

use mktorrent_rs::bencode;

use crate::common::{bytes, run, settings, show_json, write_tree};

const A: &str = "http://a.example/announce";

/// A torrent of 100 000 bytes with one tracker, a comment and a web seed.
fn make(dir: &Path, version: &str) -> PathBuf {
    write_tree(dir, &[("data.bin", &bytes(100_000, 7))]);
    let name = format!("{}.torrent", version.trim_start_matches('-'));
    let name = if version.is_empty() {
        "v1.torrent".to_owned()
    } else {
        name
    };
    let mut args = vec![
        "create",
        "data.bin",
        "-a",
        A,
        "-c",
        "first",
        "-w",
        "http://w.example/data.bin",
        "-o",
        &name,
        "-q",
    ];
    if !version.is_empty() {
        args.push(version);
    }
    run(dir, &args).success();
    dir.join(name)
}

/// Top-level `(key, raw value)` pairs in file order.
fn entries(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let root = bencode::decode(bytes).unwrap();
    root.as_dict()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_vec(), v.raw.to_vec()))
        .collect()
}

/// Asserts that every entry of `dict` other than `edited` keeps its bytes
/// and its place, in `before` and `after` alike.
#[track_caller]
fn same_except(before: &[(Vec<u8>, Vec<u8>)], after: &[(Vec<u8>, Vec<u8>)], edited: &[&str]) {
    let keep = |list: &[(Vec<u8>, Vec<u8>)]| -> Vec<(Vec<u8>, Vec<u8>)> {
        list.iter()
            .filter(|(k, _)| !edited.iter().any(|e| e.as_bytes() == k.as_slice()))
            .cloned()
            .collect()
    };
    assert_eq!(
        keep(before),
        keep(after),
        "bytes outside {edited:?} changed"
    );
}

/// The entries of the `info` dictionary.
fn info_entries(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let root = bencode::decode(bytes).unwrap();
    let info = root.get(b"info").unwrap();
    info.as_dict()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_vec(), v.raw.to_vec()))
        .collect()
}

fn tiers(json: &serde_json::Value) -> Vec<Vec<String>> {
    serde_json::from_value(json["trackers"].clone()).unwrap()
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

#[test]
fn add_tracker_makes_tiers_as_create_does_and_keeps_the_info_hash() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let before = std::fs::read(&torrent).unwrap();
    let out = run(
        temp.path(),
        &[
            "edit",
            file_name(&torrent),
            "-a",
            "udp://b.example:1",
            "--add-tracker",
            "udp://c.example:2,http://d.example/announce",
            "-a",
            A,
            "-o",
            "out.torrent",
        ],
    )
    .success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("edit_add_tracker", out.transcript()));
    let after = std::fs::read(temp.path().join("out.torrent")).unwrap();
    same_except(&entries(&before), &entries(&after), &["announce-list"]);
    let json = show_json(temp.path(), "out.torrent");
    assert_eq!(
        tiers(&json),
        vec![
            vec![A.to_owned()],
            vec!["udp://b.example:1".to_owned()],
            vec![
                "udp://c.example:2".to_owned(),
                "http://d.example/announce".to_owned()
            ],
        ]
    );
    assert_eq!(
        json["info_hash"],
        show_json(temp.path(), file_name(&torrent))["info_hash"]
    );
    // The input was left alone.
    assert_eq!(std::fs::read(&torrent).unwrap(), before);
}

#[test]
fn remove_tracker_by_url_and_glob_promotes_the_next_one() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    run(
        temp.path(),
        &[
            "edit",
            &name,
            "-a",
            "udp://b.example:1,udp://c.example:2",
            "-a",
            "http://old.example/x",
            "-i",
        ],
    )
    .success();
    let out = run(
        temp.path(),
        &[
            "edit",
            &name,
            "--remove-tracker",
            A,
            "-d",
            "*old.example/*",
            "-d",
            "udp://nothing.example:1",
            "--in-place",
        ],
    )
    .success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("edit_remove_tracker", out.transcript()));
    let json = show_json(temp.path(), &name);
    assert_eq!(
        tiers(&json),
        vec![vec![
            "udp://b.example:1".to_owned(),
            "udp://c.example:2".to_owned()
        ]]
    );
    let root_bytes = std::fs::read(&torrent).unwrap();
    let root = bencode::decode(&root_bytes).unwrap();
    assert_eq!(
        root.get(b"announce").unwrap().as_str(),
        Some("udp://b.example:1")
    );
    // Removing the last tracker removes both keys.
    run(temp.path(), &["edit", &name, "-d", "udp://*", "-i"]).success();
    let root_bytes = std::fs::read(&torrent).unwrap();
    let keys: Vec<Vec<u8>> = entries(&root_bytes).into_iter().map(|(k, _)| k).collect();
    assert!(!keys.contains(&b"announce".to_vec()), "{keys:?}");
    assert!(!keys.contains(&b"announce-list".to_vec()), "{keys:?}");
}

#[test]
fn set_trackers_replaces_every_tier() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    let before = std::fs::read(&torrent).unwrap();
    run(
        temp.path(),
        &[
            "edit",
            &name,
            "--set-trackers",
            "udp://x.example:1",
            "-i",
            "-q",
        ],
    )
    .success();
    let after = std::fs::read(&torrent).unwrap();
    same_except(&entries(&before), &entries(&after), &["announce"]);
    assert_eq!(
        tiers(&show_json(temp.path(), &name)),
        vec![vec!["udp://x.example:1".to_owned()]]
    );
    let out = run(
        temp.path(),
        &[
            "edit",
            &name,
            "--set-trackers",
            "x",
            "-a",
            "udp://y:1",
            "-i",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
}

#[test]
fn web_seeds_are_added_and_removed() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    let before = std::fs::read(&torrent).unwrap();
    let out = run(
        temp.path(),
        &[
            "edit",
            &name,
            "--add-web-seed",
            "https://m.example/pub/",
            "--remove-web-seed",
            "http://w.*",
            "-i",
        ],
    )
    .success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("edit_web_seeds", out.transcript()));
    let after = std::fs::read(&torrent).unwrap();
    same_except(&entries(&before), &entries(&after), &["url-list"]);
    let json = show_json(temp.path(), &name);
    assert_eq!(
        json["web_seeds"],
        serde_json::json!(["https://m.example/pub/"])
    );
    run(
        temp.path(),
        &["edit", &name, "--remove-web-seed", "*", "-i"],
    )
    .success();
    let keys: Vec<Vec<u8>> = entries(&std::fs::read(&torrent).unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(!keys.contains(&b"url-list".to_vec()));
    let bad = run(temp.path(), &["edit", &name, "-w", "ftp://x/", "-i"]).failure();
    assert!(bad.stderr.contains("ftp://x/"), "{}", bad.stderr);
}

#[test]
fn comment_is_set_and_removed_keeping_the_info_hash() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    let before = std::fs::read(&torrent).unwrap();
    run(temp.path(), &["edit", &name, "-c", "second", "-i", "-q"]).success();
    let after = std::fs::read(&torrent).unwrap();
    same_except(&entries(&before), &entries(&after), &["comment"]);
    assert_eq!(show_json(temp.path(), &name)["comment"], "second");
    run(temp.path(), &["edit", &name, "--comment", "", "-i", "-q"]).success();
    let after = std::fs::read(&torrent).unwrap();
    same_except(&entries(&before), &entries(&after), &["comment"]);
    assert!(!entries(&after).iter().any(|(k, _)| k == b"comment"));
}

/// `--source`, `--private`, `--public` and `--name` change the info hash
/// (both for hybrids), edit only their keys, and say so.
fn info_edit(version: &str) {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), version);
    let name = file_name(&torrent).to_owned();
    let before = std::fs::read(&torrent).unwrap();
    let old = show_json(temp.path(), &name);
    let out = run(
        temp.path(),
        &[
            "edit",
            &name,
            "--source",
            "SRC",
            "--private",
            "--name",
            "renamed.bin",
            "-i",
        ],
    )
    .success();
    let label = format!("edit_info_{}", version.trim_start_matches('-'));
    let label = if version.is_empty() {
        "edit_info_v1".to_owned()
    } else {
        label
    };
    settings(temp.path()).bind(|| insta::assert_snapshot!(label, out.transcript()));
    let after = std::fs::read(&torrent).unwrap();
    same_except(&entries(&before), &entries(&after), &["info"]);
    let mut edited = vec!["source", "private", "name"];
    if !version.is_empty() {
        // A single-file v2 tree is keyed by the name.
        edited.push("file tree");
    }
    same_except(&info_entries(&before), &info_entries(&after), &edited);
    let new = show_json(temp.path(), &name);
    assert_ne!(new["info_hash"], old["info_hash"]);
    assert!(out.stdout.contains(old["info_hash"].as_str().unwrap()));
    assert!(out.stdout.contains(new["info_hash"].as_str().unwrap()));
    if !version.is_empty() {
        assert_ne!(new["info_hash_v2"], old["info_hash_v2"]);
        assert!(out.stdout.contains(new["info_hash_v2"].as_str().unwrap()));
    }
    assert_eq!(new["name"], "renamed.bin");
    assert_eq!(new["private"], true);
    assert_eq!(new["source"], "SRC");
    // Undone, the torrent is the original byte for byte.
    run(
        temp.path(),
        &[
            "edit", &name, "--source", "", "--public", "--name", "data.bin", "-i", "-q",
        ],
    )
    .success();
    assert_eq!(std::fs::read(&torrent).unwrap(), before);
    // The renamed torrent still verifies against renamed content.
    run(
        temp.path(),
        &["edit", &name, "-n", "renamed.bin", "-i", "-q"],
    )
    .success();
    std::fs::rename(
        temp.path().join("data.bin"),
        temp.path().join("renamed.bin"),
    )
    .unwrap();
    run(temp.path(), &["verify", &name]).success();
}

#[test]
fn info_edits_v1() {
    info_edit("");
}

#[test]
fn info_edits_v2() {
    info_edit("--v2");
}

#[test]
fn info_edits_hybrid() {
    info_edit("--hybrid");
}

#[test]
fn info_edits_of_a_hybrid_directory_keep_the_tree() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(
        temp.path(),
        &[("dir/a", &bytes(40_000, 1)), ("dir/b", &bytes(9, 2))],
    );
    run(temp.path(), &["create", "dir", "--hybrid", "-q"]).success();
    let before = std::fs::read(temp.path().join("dir.torrent")).unwrap();
    run(
        temp.path(),
        &["edit", "dir.torrent", "-n", "other", "-i", "-q"],
    )
    .success();
    let after = std::fs::read(temp.path().join("dir.torrent")).unwrap();
    same_except(&info_entries(&before), &info_entries(&after), &["name"]);
    std::fs::rename(temp.path().join("dir"), temp.path().join("other")).unwrap();
    run(temp.path(), &["verify", "dir.torrent"]).success();
}

#[test]
fn dry_run_writes_nothing_and_prints_the_resulting_hash() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "--hybrid");
    let name = file_name(&torrent).to_owned();
    let before = std::fs::read(&torrent).unwrap();
    let modified = std::fs::metadata(&torrent).unwrap().modified().unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(temp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files = listing();
    let args = [
        "edit",
        name.as_str(),
        "--private",
        "-a",
        "udp://b.example:1",
        "--json",
    ];
    let mut dry = args.to_vec();
    dry.extend(["--dry-run", "-i"]);
    let out = run(temp.path(), &dry).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("edit_dry_run_json", out.stdout));
    assert_eq!(std::fs::read(&torrent).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&torrent).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(listing(), files, "--dry-run made a file");
    let dry_json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // What it said is what a real run makes.
    let mut real = args.to_vec();
    real.extend(["-o", "real.torrent"]);
    run(temp.path(), &real).success();
    let made = show_json(temp.path(), "real.torrent");
    assert_eq!(dry_json[0]["info_hash"]["new"], made["info_hash"]);
    assert_eq!(dry_json[0]["info_hash_v2"]["new"], made["info_hash_v2"]);
    assert_eq!(dry_json[0]["written"], false);
}

#[test]
fn many_files_in_place_and_nothing_written_when_one_is_bad() {
    let temp = tempfile::tempdir().unwrap();
    let one = make(temp.path(), "");
    let two = make(temp.path(), "--v2");
    let (one, two) = (file_name(&one).to_owned(), file_name(&two).to_owned());
    std::fs::write(temp.path().join("bad.torrent"), b"d4:infoi1ee").unwrap();
    let originals = [
        std::fs::read(temp.path().join(&one)).unwrap(),
        std::fs::read(temp.path().join(&two)).unwrap(),
    ];
    let out = run(
        temp.path(),
        &["edit", &one, &two, "bad.torrent", "-a", "udp://b:1", "-i"],
    )
    .failure();
    assert!(out.stderr.contains("bad.torrent"), "{}", out.stderr);
    assert!(out.stderr.contains("info"), "{}", out.stderr);
    assert_eq!(std::fs::read(temp.path().join(&one)).unwrap(), originals[0]);
    assert_eq!(std::fs::read(temp.path().join(&two)).unwrap(), originals[1]);
    run(
        temp.path(),
        &["edit", &one, &two, "-a", "udp://b.example:1", "-i", "-q"],
    )
    .success();
    for name in [&one, &two] {
        let tiers = tiers(&show_json(temp.path(), name));
        assert_eq!(tiers[1], vec!["udp://b.example:1".to_owned()], "{name}");
    }
}

#[test]
fn output_to_stdout_matches_the_file_output() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    let out = run(temp.path(), &["edit", &name, "-c", "x", "-o", "-"]).success();
    run(temp.path(), &["edit", &name, "-c", "x", "-o", "f.torrent"]).success();
    assert_eq!(
        out.stdout_bytes,
        std::fs::read(temp.path().join("f.torrent")).unwrap()
    );
    assert!(
        out.stderr.contains("Written"),
        "report on stderr: {}",
        out.stderr
    );
}

#[test]
fn errors_name_the_file_and_field_and_write_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    std::fs::write(temp.path().join("taken.torrent"), b"x").unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("edit_error_no_target", &["edit", &name, "-c", "x"]),
        ("edit_error_nothing_to_edit", &["edit", &name, "-i"]),
        (
            "edit_error_bad_tracker",
            &["edit", &name, "-a", "udp://nop", "-i"],
        ),
        ("edit_error_bad_name", &["edit", &name, "-n", "a/b", "-i"]),
        (
            "edit_error_output_with_many",
            &["edit", &name, &name, "-c", "x", "-o", "o.torrent"],
        ),
        (
            "edit_error_output_exists",
            &["edit", &name, "-c", "x", "-o", "taken.torrent"],
        ),
        (
            "edit_error_missing_file",
            &["edit", "missing.torrent", "-c", "x", "-i"],
        ),
        (
            "edit_error_not_a_torrent",
            &["edit", "taken.torrent", "-c", "x", "-i"],
        ),
    ];
    let before = std::fs::read(&torrent).unwrap();
    for (label, args) in cases {
        let out = run(temp.path(), args).failure();
        settings(temp.path()).bind(|| insta::assert_snapshot!(*label, out.transcript()));
    }
    assert_eq!(std::fs::read(&torrent).unwrap(), before);
    assert_eq!(
        std::fs::read(temp.path().join("taken.torrent")).unwrap(),
        b"x"
    );
    assert!(!temp.path().join("o.torrent").exists());
    // --force overwrites --output.
    run(
        temp.path(),
        &["edit", &name, "-c", "x", "-o", "taken.torrent", "-f", "-q"],
    )
    .success();
    assert_eq!(show_json(temp.path(), "taken.torrent")["comment"], "x");
}

#[cfg(unix)]
#[test]
fn in_place_keeps_the_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    std::fs::set_permissions(&torrent, std::fs::Permissions::from_mode(0o600)).unwrap();
    run(temp.path(), &["edit", "v1.torrent", "-c", "x", "-i", "-q"]).success();
    let mode = std::fs::metadata(&torrent).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[cfg(unix)]
#[test]
fn in_place_through_a_symlink_edits_the_target() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    std::os::unix::fs::symlink(&torrent, temp.path().join("link.torrent")).unwrap();
    run(
        temp.path(),
        &["edit", "link.torrent", "-c", "via link", "-i", "-q"],
    )
    .success();
    let link = std::fs::symlink_metadata(temp.path().join("link.torrent")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        show_json(temp.path(), file_name(&torrent))["comment"],
        "via link"
    );
}

#[test]
fn an_edit_that_changes_nothing_leaves_the_file_alone() {
    let temp = tempfile::tempdir().unwrap();
    let torrent = make(temp.path(), "");
    let name = file_name(&torrent).to_owned();
    let modified = std::fs::metadata(&torrent).unwrap().modified().unwrap();
    let out = run(temp.path(), &["edit", &name, "-a", A, "-c", "first", "-i"]).success();
    assert!(out.stdout.contains("unchanged"), "{}", out.stdout);
    assert_eq!(
        std::fs::metadata(&torrent).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn other_tools_torrents_keep_every_other_byte() {
    let temp = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for name in [
        "mktorrent-single.torrent",
        "mktorrent-multi.torrent",
        "transmission-multi.torrent",
    ] {
        let input = Path::new(fixtures).join(name);
        let before = std::fs::read(&input).unwrap();
        let out = temp.path().join(name);
        let out_text = out.display().to_string();
        let input_text = input.display().to_string();
        run(
            temp.path(),
            &[
                "edit",
                &input_text,
                "-c",
                "edited",
                "-a",
                "udp://new.example:1",
                "-o",
                &out_text,
                "-q",
            ],
        )
        .success();
        let after = std::fs::read(&out).unwrap();
        same_except(
            &entries(&before),
            &entries(&after),
            &["comment", "announce", "announce-list"],
        );
        let raw_info = |bytes: &[u8]| {
            bencode::decode(bytes)
                .unwrap()
                .get(b"info")
                .unwrap()
                .raw
                .to_vec()
        };
        assert_eq!(raw_info(&before), raw_info(&after), "{name}");
    }
}
