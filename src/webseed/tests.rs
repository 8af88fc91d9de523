use std::path::Path;

use super::*;
use crate::env::Env;

fn url(seed: &str, name: &str, path: &[&str]) -> String {
    let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    file_url(seed, name, &path).unwrap().to_string()
}

#[test]
fn single_file_url_is_the_file_or_a_folder_plus_name() {
    // BEP 19: no trailing slash → the file itself.
    assert_eq!(
        url("https://dl.example/v1.0/os.iso", "os.iso", &[]),
        "https://dl.example/v1.0/os.iso"
    );
    assert_eq!(
        url("https://dl.example/download?id=7", "os.iso", &[]),
        "https://dl.example/download?id=7"
    );
    // Trailing slash → the folder; the name is appended, escaped.
    assert_eq!(
        url("https://dl.example/v1.0/", "my os #1.iso", &[]),
        "https://dl.example/v1.0/my%20os%20%231.iso"
    );
}

#[test]
fn multi_file_url_appends_name_and_each_escaped_component() {
    assert_eq!(
        url("http://m.example/pub/", "rel", &["docs", "a b?c", "日.txt"]),
        "http://m.example/pub/rel/docs/a%20b%3Fc/%E6%97%A5.txt"
    );
    // A '/' inside a component cannot happen (paths are validated), but a
    // '%' must not be taken for an escape.
    assert_eq!(
        url("http://m.example/pub/", "rel", &["100%.txt"]),
        "http://m.example/pub/rel/100%25.txt"
    );
    // Missing trailing slash: added, as libtorrent does.
    assert_eq!(
        url("http://m.example/pub", "rel", &["f"]),
        "http://m.example/pub/rel/f"
    );
    // The fragment is dropped; the query stays after the path.
    assert_eq!(
        url("http://m.example/pub/?tok=1#x", "rel", &["f"]),
        "http://m.example/pub/rel/f?tok=1"
    );
}

#[test]
fn non_http_urls_are_rejected() {
    assert!(matches!(
        file_url("ftp://m.example/", "a", &[]),
        Err(UrlError::Scheme(s)) if s == "ftp"
    ));
    assert!(matches!(
        file_url("no url", "a", &[]),
        Err(UrlError::Parse(_))
    ));
}

#[test]
fn shape_warnings_flag_urls_that_cannot_serve_the_torrent() {
    let multi_file_url = shape_warnings("https://gh.example/releases/v1/rel", "rel", false);
    assert_eq!(multi_file_url.len(), 1);
    assert!(multi_file_url[0].contains("does not end in `/`"));
    assert!(multi_file_url[0].contains("drop \"rel\""));
    assert!(shape_warnings("https://m.example/pub/", "rel", false).is_empty());
    // A bare host:port has the path `/` once parsed, but not as written.
    let bare = shape_warnings("http://m.example:8080", "rel", false);
    assert!(bare[0].contains("does not end in `/`"), "{bare:?}");
    assert!(shape_warnings("http://m.example:8080/", "rel", false).is_empty());
    assert!(shape_warnings("http://m.example:8080/?sig=1", "rel", false).len() == 1);
    assert!(shape_warnings("https://m.example/os.iso", "os.iso", true).is_empty());
    assert!(shape_warnings("https://m.example/pub/", "os.iso", true).is_empty());
    // A signed file URL is fine for one file, not as a folder.
    assert!(shape_warnings("https://m.example/os.iso?sig=1", "os.iso", true).is_empty());
    let folder_query = shape_warnings("https://m.example/pub/?sig=1", "os.iso", true);
    assert!(folder_query[0].contains("query string"), "{folder_query:?}");
    let fragment = shape_warnings("https://m.example/os.iso#top", "os.iso", true);
    assert!(fragment[0].contains("fragment"), "{fragment:?}");
}

/// Creates a torrent in-process and parses it back.
fn create(dir: &Path, content: &Path, extra: &[&str]) -> (Torrent, Vec<u8>) {
    let out = dir.join(format!("t{}.torrent", extra.join("")));
    let mut env = Env {
        cwd: dir.to_owned(),
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
        stderr_is_terminal: false,
        source_date_epoch: None,
        now: 0,
    };
    let mut args = vec![
        "mktorrent-rs".to_owned(),
        "create".to_owned(),
        content.display().to_string(),
        "-o".to_owned(),
        out.display().to_string(),
        "-q".to_owned(),
        "-f".to_owned(),
        "--piece-length".to_owned(),
        "16KiB".to_owned(),
        "-w".to_owned(),
        "http://a.example/".to_owned(),
        "-w".to_owned(),
        "http://b.example/".to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    assert_eq!(crate::run(args, &mut env), 0);
    let bytes = std::fs::read(&out).unwrap();
    (Torrent::parse(&bytes).unwrap(), bytes)
}

fn tree(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("rel");
    // Sizes chosen so v1 pieces of 16 KiB straddle several files.
    for (name, len, seed) in [
        ("a.bin", 20_000usize, 1u8),
        ("b/empty", 0, 2),
        ("b/small", 100, 3),
        ("c d.bin", 40_000, 4),
    ] {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let data: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        std::fs::write(path, data).unwrap();
    }
    root
}

/// Reads each piece the way a web seed would serve it and hashes it.
fn bad_pieces(torrent: &Torrent, root: &Path, checks: &[PieceCheck]) -> Vec<u64> {
    let files = seed_files(&torrent.meta.info);
    let mut bad = Vec::new();
    for check in checks {
        let mut hasher = PieceHasher::new(check.expect);
        for span in &check.spans {
            match *span {
                Span::Fetch {
                    file,
                    offset,
                    length,
                } => {
                    let path = files[file]
                        .path
                        .iter()
                        .fold(root.to_owned(), |p, c| p.join(c));
                    let data = std::fs::read(path).unwrap();
                    hasher.update(&data[offset as usize..(offset + length) as usize]);
                }
                Span::Zeros(n) => hasher.zeros(n),
            }
        }
        if !hasher.matches() {
            bad.push(check.piece);
        }
    }
    bad
}

#[test]
fn full_plans_rebuild_every_piece_of_v1_v2_and_hybrid() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    for version in [&[][..], &["--v2"][..], &["--hybrid"][..]] {
        let (torrent, _) = create(dir.path(), &root, version);
        let checks = plan_pieces(&torrent, Sample::Full, 1).unwrap();
        let expected = if version.is_empty() {
            torrent.meta.info.pieces.len()
        } else {
            // v2: per-file pieces: 2 + 1 + 3.
            6
        };
        assert_eq!(checks.len(), expected, "{version:?}");
        assert!(
            bad_pieces(&torrent, &root, &checks).is_empty(),
            "{version:?}"
        );
    }
}

#[test]
fn v1_pieces_spanning_files_take_ranges_from_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let (torrent, _) = create(dir.path(), &root, &[]);
    let checks = plan_pieces(&torrent, Sample::Full, 1).unwrap();
    // Piece 1 = bytes 16384..32768: the end of a.bin, all of b/small, the
    // start of c d.bin (the empty file contributes nothing).
    assert_eq!(
        checks[1].spans,
        vec![
            Span::Fetch {
                file: 0,
                offset: 16_384,
                length: 3_616
            },
            Span::Fetch {
                file: 2,
                offset: 0,
                length: 100
            },
            Span::Fetch {
                file: 3,
                offset: 0,
                length: 12_668
            },
        ]
    );
    // Damage one byte of c d.bin at 30 000: only the piece holding it fails.
    let path = root.join("c d.bin");
    let mut data = std::fs::read(&path).unwrap();
    data[30_000] ^= 0xff;
    std::fs::write(&path, data).unwrap();
    let offset = 20_000 + 100 + 30_000;
    assert_eq!(bad_pieces(&torrent, &root, &checks), vec![offset / 16_384]);
}

#[test]
fn sampling_takes_first_last_and_a_few_random_pieces_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("big.bin");
    std::fs::write(&root, vec![7u8; 16_384 * 40 + 5]).unwrap();
    let (torrent, _) = create(dir.path(), &root, &[]);
    let pieces = |seed| {
        plan_pieces(&torrent, Sample::Random(3), seed)
            .unwrap()
            .iter()
            .map(|c| c.piece)
            .collect::<Vec<_>>()
    };
    let sample = pieces(9);
    assert_eq!(sample.first(), Some(&0));
    assert_eq!(sample.last(), Some(&40));
    assert!((3..=5).contains(&sample.len()), "{sample:?}");
    // The seed decides, so a run can be repeated.
    assert_eq!(pieces(9), sample);
    assert_eq!(
        plan_pieces(&torrent, Sample::Random(0), 1).unwrap().len(),
        2
    );
}

#[test]
fn rewriting_url_list_keeps_the_info_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let (torrent, bytes) = create(dir.path(), &root, &["--hybrid"]);
    let kept = with_web_seeds(&bytes, &["http://b.example/".to_owned()]).unwrap();
    let parsed = Torrent::parse(&kept).unwrap();
    assert_eq!(parsed.info_hash, torrent.info_hash);
    assert_eq!(parsed.info_hash_v2, torrent.info_hash_v2);
    assert_eq!(parsed.meta.web_seeds, vec!["http://b.example/".to_owned()]);
    let none = Torrent::parse(&with_web_seeds(&bytes, &[]).unwrap()).unwrap();
    assert!(none.meta.web_seeds.is_empty());
    assert_eq!(none.info_hash, torrent.info_hash);

    // Unsorted keys inside info (other tools write them) stay as they are.
    let odd = b"d4:infod4:name1:a6:lengthi3e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae8:url-list9:http://x/e";
    let before = Torrent::parse(odd).unwrap();
    let after = Torrent::parse(&with_web_seeds(odd, &[]).unwrap()).unwrap();
    assert_eq!(after.info_hash, before.info_hash);
    assert_eq!(after.info_bytes, before.info_bytes);
}
