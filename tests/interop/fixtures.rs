//! The committed fixtures in `tests/fixtures/`: they are what their README
//! says (regenerating them with `make-fixtures.sh` gives the same torrents),
//! they describe the content [`write_content`] makes, and we hash that
//! content exactly as mktorrent did.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    create, require, run_ok, show, str_field, verify, without_authoring, write, TRACKER,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Every fixture torrent and the content it describes (see the README).
const FIXTURES: &[(&str, &str)] = &[
    ("mktorrent-single.torrent", "single.bin"),
    ("mktorrent-multi.torrent", "tree"),
    ("transmission-multi.torrent", "tree"),
];

/// Paths of every fixture torrent.
pub fn all() -> Vec<PathBuf> {
    FIXTURES
        .iter()
        .map(|(file, _)| Path::new(DIR).join(file))
        .collect()
}

/// `i % 251` for `i` in `0..len`: the `.bin` files' bytes.
fn ramp(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).expect("below 251"))
        .collect()
}

/// Writes the fixtures' content under `root`: `single.bin` and `tree/`,
/// byte for byte what `make-fixtures.sh` makes.
pub fn write_content(root: &Path) {
    write(root, "single.bin", &ramp(40_000));
    write(root, "tree/data.bin", &ramp(70_000));
    write(root, "tree/empty", b"");
    write(root, "tree/docs/readme.txt", b"mktorrent-rs test fixture\n");
    write(
        root,
        "tree/docs/ünïcödé/日本語.txt",
        "こんにちは\n".as_bytes(),
    );
}

#[test]
fn fixtures_are_small_and_in_the_readme() {
    let readme = std::fs::read_to_string(Path::new(DIR).join("README.md")).unwrap();
    for (file, _) in FIXTURES {
        let len = std::fs::metadata(Path::new(DIR).join(file)).unwrap().len();
        assert!(len < 10 * 1024, "{file} is {len} bytes; keep fixtures tiny");
        assert!(readme.contains(file), "README.md does not describe {file}");
    }
}

#[test]
fn fixtures_verify_against_their_content() {
    let dir = tempfile::tempdir().unwrap();
    write_content(dir.path());
    for (file, content) in FIXTURES {
        let (ok, report, stderr) = verify(&Path::new(DIR).join(file), &dir.path().join(content));
        assert!(ok, "{file}: {report:#}\n{stderr}");
    }
}

#[test]
fn regenerating_gives_the_committed_fixtures() {
    require("mktorrent", "mktorrent");
    require("transmission-create", "transmission-cli");
    let out = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("bash")
            .arg(Path::new(DIR).join("make-fixtures.sh"))
            .arg(out.path()),
    );
    for (file, _) in FIXTURES {
        let committed = show(&Path::new(DIR).join(file));
        let regenerated = show(&out.path().join(file));
        assert_eq!(
            without_authoring(regenerated),
            without_authoring(committed),
            "{file}: make-fixtures.sh no longer makes the committed fixture"
        );
    }
}

/// Our `create` with the same flags as mktorrent (README) gives the
/// fixtures' info hashes, so tests can compare our output to them.
#[test]
fn create_matches_the_mktorrent_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    write_content(dir.path());
    let cases: [(&str, &str, &[&str]); 2] = [
        (
            "mktorrent-single.torrent",
            "single.bin",
            &["-l", "15", "-a", TRACKER],
        ),
        (
            "mktorrent-multi.torrent",
            "tree",
            &[
                "-l",
                "15",
                "-p",
                "-s",
                "FIXTURE",
                "-a",
                "http://tracker.example/announce,udp://backup.example:6969",
                "-a",
                "https://tier2.example/announce",
                "-w",
                "http://seed.example/files/",
            ],
        ),
    ];
    for (file, content, args) in cases {
        let ours = dir.path().join(format!("ours-{file}"));
        let summary = create(&dir.path().join(content), &ours, args);
        let fixture = show(&Path::new(DIR).join(file));
        assert_eq!(
            str_field(&summary, "info_hash"),
            str_field(&fixture, "info_hash"),
            "{file}"
        );
    }
}
