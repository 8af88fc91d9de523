//! `verify`: every kind of damage is found and named; exit 0 only when all matches.

use crate::common::{bytes, run, sample_tree, settings, write_tree};

fn setup() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    run(temp.path(), &["create", "release", "-q", "-l", "16k"]).success();
    temp
}

#[test]
fn intact_content_passes() {
    let temp = setup();
    let out = run(temp.path(), &["verify", "release.torrent"]).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("verify_ok", out.transcript()));
}

#[test]
fn damage_missing_and_wrong_size_are_reported() {
    let temp = setup();
    let root = temp.path().join("release");
    // One flipped byte in the middle of big.bin (pieces 5.. of the content).
    let mut big = bytes(300_000, 2);
    big[100_000] ^= 0xff;
    std::fs::write(root.join("data/big.bin"), big).unwrap();
    std::fs::remove_file(root.join("README.txt")).unwrap();
    std::fs::write(root.join("bin/empty"), b"now not empty").unwrap();
    let out = run(temp.path(), &["verify", "release.torrent"]).failure();
    settings(temp.path()).bind(|| insta::assert_snapshot!("verify_damaged", out.transcript()));

    let json = run(temp.path(), &["verify", "release.torrent", "--json"]).failure();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["missing_files"], serde_json::json!(["README.txt"]));
    assert_eq!(json["wrong_size"][0]["path"], "bin/empty");
    let damaged: Vec<&str> = json["damaged_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(damaged.contains(&"data/big.bin"), "{damaged:?}");
    assert!(damaged.contains(&"README.txt"), "{damaged:?}");
}

#[test]
fn single_file_content_path_may_be_the_file_or_its_directory() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("in/file.bin", &bytes(50_000, 4))]);
    run(temp.path(), &["create", "in/file.bin", "-q"]).success();
    run(
        temp.path(),
        &["verify", "file.bin.torrent", "--content", "in/file.bin"],
    )
    .success();
    run(
        temp.path(),
        &["verify", "file.bin.torrent", "--content", "in"],
    )
    .success();
    std::fs::write(temp.path().join("in/file.bin"), bytes(50_000, 5)).unwrap();
    let out = run(
        temp.path(),
        &["verify", "file.bin.torrent", "--content", "in", "-q"],
    )
    .failure();
    assert!(
        out.stdout.contains("damaged       file.bin"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("bad pieces of"), "{}", out.stderr);
}
