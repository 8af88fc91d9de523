//! v2 and hybrid torrents (BEP 52 + BEP 47) against libtorrent 2.0, the
//! reference implementation: same info hashes, pieces roots and piece
//! layers as libtorrent's own `create_torrent` for the same files and piece
//! length; our verify accepts libtorrent's; and a libtorrent downloader
//! completes our hybrid from a libtorrent seeder.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::Value;

use crate::support::{bytes, corrupt, create, nested_tree, verify, write};

const LT_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/lt_v2.py");

fn lt_v2(args: &[&OsStr]) -> Value {
    crate::support::libtorrent_script(LT_V2, args)
}

fn lt_info(torrent: &Path) -> Value {
    lt_v2(&[OsStr::new("info"), torrent.as_os_str()])
}

fn lt_make(content: &Path, piece_length: u64, out: &Path, mode: &str) -> Value {
    let piece = piece_length.to_string();
    lt_v2(&[
        OsStr::new("make"),
        content.as_os_str(),
        OsStr::new(&piece),
        out.as_os_str(),
        OsStr::new(mode),
    ])
}

/// Content with many-piece files, one-piece files, a file of exactly one
/// piece, empty files, UTF-8 names and an executable.
fn content(root: &Path) -> std::path::PathBuf {
    let dir = nested_tree(root, "release");
    write(&dir, "exact-16k", &bytes(16_384, 40));
    let tool = write(&dir, "bin/tool", &bytes(40_000, 41));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[test]
fn our_v2_and_hybrid_torrents_equal_libtorrents_own() {
    let temp = tempfile::tempdir().unwrap();
    let dir = content(temp.path());
    let single = write(temp.path(), "single.iso", &bytes(1_000_003, 42));
    for (input, name) in [(&dir, "tree"), (&single, "single")] {
        for piece_length in [16_384u64, 65_536, 1 << 20] {
            for mode in ["v2", "hybrid"] {
                let ours_path = temp
                    .path()
                    .join(format!("{name}-{piece_length}-{mode}.torrent"));
                let theirs_path = temp
                    .path()
                    .join(format!("lt-{name}-{piece_length}-{mode}.torrent"));
                let summary = create(
                    input,
                    &ours_path,
                    &[&format!("--{mode}"), "-l", &piece_length.to_string()],
                );
                let ours = lt_info(&ours_path);
                let theirs = lt_make(input, piece_length, &theirs_path, mode);
                let case = format!("{name}, {piece_length}-byte pieces, {mode}");
                assert_eq!(ours["v2"], theirs["v2"], "v2 info hash, {case}");
                assert_eq!(ours["v1"], theirs["v1"], "v1 info hash, {case}");
                assert_eq!(ours["roots"], theirs["roots"], "pieces roots, {case}");
                assert_eq!(ours["layers"], theirs["layers"], "piece layers, {case}");
                assert_eq!(
                    ours["files"], theirs["files"],
                    "file list with pad files, {case}"
                );
                // What libtorrent reads from our file is what we said we wrote.
                assert_eq!(summary["info_hash_v2"], ours["v2"], "{case}");
                if mode == "hybrid" {
                    assert_eq!(summary["info_hash"], ours["v1"], "{case}");
                }
            }
        }
    }
}

#[test]
fn verify_checks_libtorrents_v2_and_hybrid_torrents() {
    let temp = tempfile::tempdir().unwrap();
    let dir = content(temp.path());
    for mode in ["v2", "hybrid"] {
        let torrent = temp.path().join(format!("lt-{mode}.torrent"));
        lt_make(&dir, 32_768, &torrent, mode);
        let (ok, report, stderr) = verify(&torrent, &dir);
        assert!(ok, "{mode}: {report:#} {stderr}");
    }
    corrupt(&dir.join("z-last"), 600_000);
    for mode in ["v2", "hybrid"] {
        let (ok, report, _) = verify(&temp.path().join(format!("lt-{mode}.torrent")), &dir);
        assert!(!ok, "{mode}: corruption must be found");
        assert_eq!(
            report["damaged_files"],
            serde_json::json!([{"path": "z-last", "bad_pieces": 1}]),
            "{mode}"
        );
    }
}

#[test]
fn libtorrent_downloads_our_hybrid_from_a_libtorrent_seeder() {
    let temp = tempfile::tempdir().unwrap();
    let dir = content(temp.path());
    let torrent = temp.path().join("release.torrent");
    create(&dir, &torrent, &["--hybrid", "-l", "64k"]);
    let dest = temp.path().join("downloaded");
    std::fs::create_dir(&dest).unwrap();
    lt_v2(&[
        OsStr::new("download"),
        torrent.as_os_str(),
        temp.path().as_os_str(),
        dest.as_os_str(),
    ]);
    for entry in walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let relative = entry.path().strip_prefix(temp.path()).unwrap();
        let got = std::fs::read(dest.join(relative))
            .unwrap_or_else(|err| panic!("{}: {err}", relative.display()));
        assert_eq!(
            got,
            std::fs::read(entry.path()).unwrap(),
            "{} differs",
            relative.display()
        );
    }
}
