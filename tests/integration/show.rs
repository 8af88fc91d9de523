//! `show`: human and JSON output, lenient reading, rejected paths.

use sha1::{Digest, Sha1};

use crate::common::{run, sample_tree, settings, write_tree};

fn sample_torrent(temp: &std::path::Path) {
    sample_tree(temp);
    run(
        temp,
        &[
            "create",
            "release",
            "-q",
            "-l",
            "32k",
            "-a",
            "udp://tracker.example:6969/announce,http://backup.example/announce",
            "-a",
            "https://tier2.example/announce",
            "-w",
            "https://mirror.example/pub/",
            "--nodes",
            "[::1]:6881",
            "-c",
            "Release 1.0",
            "-s",
            "ORG",
            "-p",
        ],
    )
    .success();
}

#[test]
fn human_output() {
    let temp = tempfile::tempdir().unwrap();
    sample_torrent(temp.path());
    let out = run(temp.path(), &["show", "release.torrent"]).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("show_human", out.transcript()));
}

#[test]
fn json_output() {
    let temp = tempfile::tempdir().unwrap();
    sample_torrent(temp.path());
    let out = run(temp.path(), &["show", "--json", "release.torrent"]).success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    settings(temp.path()).bind(|| insta::assert_json_snapshot!("show_json", json));
}

#[test]
fn reads_standard_input() {
    let temp = tempfile::tempdir().unwrap();
    write_tree(temp.path(), &[("f", b"x")]);
    run(temp.path(), &["create", "f", "-q"]).success();
    let file = std::fs::File::open(temp.path().join("f.torrent")).unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["show", "-"])
        .stdin(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Name          f\n"));
}

/// Builds a torrent by hand with keys out of order and unknown keys.
fn sloppy_torrent(path_component: &str) -> (Vec<u8>, Vec<u8>) {
    let mut info = Vec::new();
    info.extend_from_slice(b"d5:filesld4:pathl");
    info.extend_from_slice(format!("{}:{}", path_component.len(), path_component).as_bytes());
    info.extend_from_slice(b"e6:lengthi3eee4:name3:dir6:pieces20:");
    info.extend_from_slice(&Sha1::digest(b"abc"));
    info.extend_from_slice(b"12:piece lengthi16384e7:unknown3:zzze");
    let mut doc = b"d4:infod".to_vec();
    doc.truncate(doc.len() - 1);
    doc.extend_from_slice(&info);
    doc.extend_from_slice(b"8:announce20:http://t.example/ann3:zzzi1ee");
    (doc, info)
}

#[test]
fn lenient_reading_keeps_the_raw_info_hash() {
    let temp = tempfile::tempdir().unwrap();
    let (doc, info) = sloppy_torrent("a.txt");
    std::fs::write(temp.path().join("sloppy.torrent"), &doc).unwrap();
    let json = crate::common::show_json(temp.path(), "sloppy.torrent");
    let expected: String = Sha1::digest(&info)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["info_hash"], expected);
    assert_eq!(
        json["trackers"],
        serde_json::json!([["http://t.example/ann"]])
    );
    // And the content verifies against it.
    write_tree(temp.path(), &[("dir/a.txt", b"abc")]);
    run(temp.path(), &["verify", "sloppy.torrent"]).success();
}

#[test]
fn errors() {
    let temp = tempfile::tempdir().unwrap();
    for (name, component) in [("dotdot", ".."), ("slash", "a/b"), ("empty", "")] {
        let (doc, _) = sloppy_torrent(component);
        std::fs::write(temp.path().join(format!("{name}.torrent")), &doc).unwrap();
    }
    std::fs::write(
        temp.path().join("garbage.torrent"),
        b"<html>not a torrent</html>",
    )
    .unwrap();
    std::fs::write(temp.path().join("truncated.torrent"), b"d4:infod4:name").unwrap();
    let cases = [
        "dotdot",
        "slash",
        "empty",
        "garbage",
        "truncated",
        "missing",
    ];
    for name in cases {
        let file = format!("{name}.torrent");
        let out = run(temp.path(), &["show", &file]).failure();
        settings(temp.path())
            .bind(|| insta::assert_snapshot!(format!("show_error_{name}"), out.transcript()));
    }
    // verify refuses unsafe paths before touching the disk.
    let out = run(temp.path(), &["verify", "dotdot.torrent", "--content", "."]).failure();
    assert!(out.stderr.contains("unsafe path"), "{}", out.stderr);
}

#[test]
fn show_and_magnet_take_a_magnet_link() {
    let temp = tempfile::tempdir().unwrap();
    let link = "magnet:?dn=release&xt=urn:btih:1CA6D6C422D45C8BD3DFA518531F4108ADAB2DD8\
                &tr=udp%3A%2F%2Ft.example%3A6969&xl=1609587&ws=https%3A%2F%2Fm.example%2F";
    let out = run(temp.path(), &["show", link]).success();
    settings(temp.path()).bind(|| insta::assert_snapshot!("show_magnet", out.transcript()));
    let json = run(temp.path(), &["show", "--json", link]).success();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    settings(temp.path()).bind(|| {
        insta::assert_snapshot!(
            "show_magnet_json",
            serde_json::to_string_pretty(&value).unwrap()
        );
    });
    // magnet normalises: hash lowercase, xt first, peers added once.
    let out = run(temp.path(), &["magnet", link, "--peer", "10.0.0.1:6881"]).success();
    assert_eq!(
        out.stdout.trim(),
        "magnet:?xt=urn:btih:1ca6d6c422d45c8bd3dfa518531f4108adab2dd8&dn=release&xl=1609587\
         &tr=udp%3A%2F%2Ft.example%3A6969&ws=https%3A%2F%2Fm.example%2F&x.pe=10.0.0.1:6881"
    );
    let bad = run(temp.path(), &["show", "magnet:?dn=x"]).failure();
    settings(temp.path())
        .bind(|| insta::assert_snapshot!("show_error_magnet_without_hash", bad.transcript()));
}
