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

/// A link inside the content that leads outside it is not read (as `create`
/// skips it), unless `--follow-symlinks`.
#[cfg(unix)]
#[test]
fn links_outside_the_content_are_not_read_unless_followed() {
    let temp = tempfile::tempdir().unwrap();
    let outside = temp.path().join("outside.bin");
    std::fs::write(&outside, bytes(300_000, 9)).unwrap();
    write_tree(&temp.path().join("c"), &[("a.txt", b"inside")]);
    std::fs::copy(&outside, temp.path().join("c/b.bin")).unwrap();
    run(temp.path(), &["create", "c", "-q", "-l", "16k"]).success();
    // Same bytes, now through a link to outside the content.
    std::fs::remove_file(temp.path().join("c/b.bin")).unwrap();
    std::os::unix::fs::symlink(&outside, temp.path().join("c/b.bin")).unwrap();
    let out = run(temp.path(), &["verify", "c.torrent"]).failure();
    assert!(
        out.stderr.contains("b.bin is a link outside the content"),
        "{}",
        out.stderr
    );
    let json = run(temp.path(), &["verify", "c.torrent", "--json"]).failure();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["outside_links"], serde_json::json!(["b.bin"]));
    run(temp.path(), &["verify", "c.torrent", "--follow-symlinks"]).success();
}

/// A file that grows while it is hashed fails verify, naming it.
#[cfg(target_os = "linux")]
#[test]
fn a_file_that_grows_while_hashing_fails() {
    use std::io::Write;
    let temp = tempfile::tempdir().unwrap();
    write_tree(&temp.path().join("g"), &[("small.txt", b"x")]);
    std::fs::write(temp.path().join("g/big.bin"), bytes(64 << 20, 3)).unwrap();
    run(temp.path(), &["create", "g", "-q", "-l", "1m"]).success();
    let child = std::process::Command::new(crate::common::BIN)
        .args(["verify", "g.torrent", "-q", "-j", "1"])
        .current_dir(temp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once verify has the file open (sizes were checked before), it grows.
    let big = temp.path().join("g/big.bin").canonicalize().unwrap();
    let fd_dir = format!("/proc/{}/fd", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let open = std::fs::read_dir(&fd_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == big));
        if open {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "verify never opened the file"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut file = std::fs::OpenOptions::new().append(true).open(&big).unwrap();
    file.write_all(b"appended while hashing").unwrap();
    drop(file);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("big.bin changed size while it was verified"),
        "{stderr}"
    );
}

#[test]
fn content_naming_the_parent_directory_gets_a_hint() {
    let temp = setup();
    // `release` lives in the temp dir: --content . is one level too high.
    let out = run(
        temp.path(),
        &["verify", "release.torrent", "--content", "."],
    )
    .failure();
    settings(temp.path())
        .bind(|| insta::assert_snapshot!("verify_error_parent_dir", out.transcript()));
    run(
        temp.path(),
        &["verify", "release.torrent", "--content", "release"],
    )
    .success();
}
