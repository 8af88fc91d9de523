//! create → show → verify → magnet, the way a release engineer uses them.

use crate::common::{bytes, run, sample_tree, show_json, write_tree};

fn roundtrip(temp: &std::path::Path, input: &str, piece: &str) -> serde_json::Value {
    let created = run(
        temp,
        &[
            "create",
            input,
            "-l",
            piece,
            "-a",
            "http://t.example/announce",
            "--json",
        ],
    )
    .success();
    let created: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
    let torrent = format!(
        "{}.torrent",
        std::path::Path::new(input)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let shown = show_json(temp, &torrent);
    assert_eq!(shown["info_hash"], created["info_hash"]);
    let verified = run(temp, &["verify", &torrent, "--json"]).success();
    let verified: serde_json::Value = serde_json::from_str(&verified.stdout).unwrap();
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["info_hash"], created["info_hash"]);
    let magnet = run(temp, &["magnet", &torrent]).success();
    assert_eq!(magnet.stdout.trim(), shown["magnet"]);
    assert!(magnet.stdout.starts_with(&format!(
        "magnet:?xt=urn:btih:{}",
        created["info_hash"].as_str().unwrap()
    )));
    shown
}

#[test]
fn single_file() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("disk image.iso", &bytes(100_001, 9))]);
    let shown = roundtrip(temp.path(), "disk image.iso", "16k");
    assert_eq!(shown["multi_file"], false);
    assert_eq!(shown["piece_count"], 7);
    assert_eq!(
        shown["files"],
        serde_json::json!([{"path": "disk image.iso", "length": 100_001}])
    );
}

#[test]
fn nested_tree_with_empty_files_and_non_ascii_names() {
    let temp = tempfile::tempdir().unwrap();
    sample_tree(temp.path());
    for piece in ["16k", "32k", "1M"] {
        let shown = roundtrip(temp.path(), "release", piece);
        let paths: Vec<&str> = shown["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "README.txt",
                "bin/empty",
                "bin/tool",
                "data/big.bin",
                "docs/empty-dir-file",
                "docs/ünïcödé/日本語.txt"
            ]
        );
        std::fs::remove_file(temp.path().join("release.torrent")).unwrap();
    }
}

#[test]
fn results_are_byte_identical_across_runs() {
    for _ in 0..2 {
        let temp = tempfile::tempdir().unwrap();
        sample_tree(temp.path());
        run(temp.path(), &["create", "release", "-o", "a.torrent", "-q"]).success();
        run(
            temp.path(),
            &["create", "release", "-o", "b.torrent", "-q", "-j", "1"],
        )
        .success();
        assert_eq!(
            std::fs::read(temp.path().join("a.torrent")).unwrap(),
            std::fs::read(temp.path().join("b.torrent")).unwrap()
        );
    }
}

#[test]
fn verify_finds_content_beside_the_torrent_or_in_cwd() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("d/a", b"a")]);
    run(
        temp.path(),
        &["create", "d", "-q", "-o", "elsewhere/d.torrent"],
    )
    .failure();
    std::fs::create_dir(temp.path().join("elsewhere")).unwrap();
    run(
        temp.path(),
        &["create", "d", "-q", "-o", "elsewhere/d.torrent"],
    )
    .success();
    // Not beside the torrent, but in the working directory.
    run(temp.path(), &["verify", "elsewhere/d.torrent"]).success();
    let nowhere = run(
        temp.path().join("elsewhere").as_path(),
        &["verify", "d.torrent"],
    )
    .failure();
    assert!(
        nowhere.stderr.contains("pass --content"),
        "{}",
        nowhere.stderr
    );
    run(
        temp.path().join("elsewhere").as_path(),
        &["verify", "d.torrent", "--content", "../d"],
    )
    .success();
}
