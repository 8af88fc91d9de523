//! aria2 (`aria2c --show-files`): another independent torrent parser reads
//! our torrents with our info hash, piece count and file list.

use std::process::Command;

use crate::support::{
    bytes, create, nested_files, nested_tree, require, run_ok, str_field, write, TRACKER,
};

/// What `aria2c -S` prints: info hash, piece count and `(path, length)`
/// files with the torrent name stripped from multi-file paths.
struct Aria2View {
    info_hash: String,
    pieces: u64,
    files: Vec<(String, u64)>,
}

fn aria2_show(torrent: &std::path::Path, name: &str) -> Aria2View {
    let program = require("aria2c", "aria2");
    let out = run_ok(Command::new(program).arg("--show-files").arg(torrent));
    let field = |label: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(label))
            .unwrap_or_else(|| panic!("aria2c printed no {label:?}:\n{out}"))
            .trim()
            .to_owned()
    };
    // Files come in pairs of lines: "  1|./NAME/PATH" then "   |SIZE (BYTES)".
    let mut files = Vec::new();
    let mut lines = out.lines();
    while let Some(line) = lines.next() {
        let Some((index, path)) = line.split_once("|./") else {
            continue;
        };
        if index.trim().parse::<u32>().is_err() {
            continue;
        }
        let size = lines.next().unwrap_or_default();
        let bytes = size
            .rsplit_once('(')
            .and_then(|(_, b)| b.strip_suffix(')'))
            .map(|b| b.replace(',', ""))
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in {size:?}:\n{out}"));
        let path = path.strip_prefix(&format!("{name}/")).unwrap_or(path);
        files.push((path.to_owned(), bytes));
    }
    Aria2View {
        info_hash: field("Info Hash: ").to_lowercase(),
        pieces: field("The Number of Pieces: ")
            .parse()
            .unwrap_or_else(|err| panic!("piece count: {err}\n{out}")),
        files,
    }
}

#[test]
fn aria2_reads_our_torrents_with_our_hash_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let tree = nested_tree(dir.path(), "nested");
    let single = write(dir.path(), "single ünï.bin", &bytes(70_000, 91));
    let cases = [
        (&tree, "nested", nested_files()),
        (
            &single,
            "single ünï.bin",
            vec![("single ünï.bin".into(), 70_000)],
        ),
    ];
    for (i, (content, name, files)) in cases.into_iter().enumerate() {
        let torrent = dir.path().join(format!("{i}.torrent"));
        let summary = create(content, &torrent, &["-a", TRACKER, "-l", "16KiB"]);
        let view = aria2_show(&torrent, name);
        assert_eq!(view.info_hash, str_field(&summary, "info_hash"));
        assert_eq!(view.pieces, summary["piece_count"].as_u64().unwrap());
        assert_eq!(view.files, files);
    }
}
