//! libtorrent (2.0, through its Python bindings and `lt_inspect.py`): the
//! torrents and magnet links we write load in the most widely embedded
//! torrent library with exactly the metadata we meant, and agree with
//! what our own `show --json` reports. Also: torrents libtorrent hashes itself
//! (16 KiB pieces, which mktorrent cannot make) have our info hash.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::{json, Value};

use crate::support::{
    bytes, corrupt, create, libtorrent, libtorrent_torrent, magnet, nested_files, nested_tree,
    show, show_files, str_field, verify, write, NESTED, TRACKER,
};

/// What a torrent should hold, independently of any tool.
struct Intent<'a> {
    name: &'a str,
    multi_file: bool,
    files: Vec<(String, u64)>,
    piece_length: u64,
    trackers: Vec<Vec<&'a str>>,
    web_seeds: Vec<&'a str>,
    private: bool,
    nodes: Vec<&'a str>,
}

/// libtorrent's tracker list regrouped into tiers, each tier sorted:
/// libtorrent shuffles the URLs within a tier when it loads a torrent, as
/// BEP 12 asks clients to, so only the tiers and their members are stable.
fn lt_tiers(view: &Value) -> Vec<Vec<String>> {
    let mut tiers: Vec<Vec<String>> = Vec::new();
    for tracker in view["trackers"].as_array().unwrap() {
        let tier = usize::try_from(tracker["tier"].as_u64().unwrap()).unwrap();
        if tiers.len() <= tier {
            tiers.resize(tier + 1, Vec::new());
        }
        tiers[tier].push(str_field(tracker, "url").to_owned());
    }
    for tier in &mut tiers {
        tier.sort();
    }
    tiers
}

/// `tiers` with each tier sorted, to compare with [`lt_tiers`].
fn sorted_tiers(tiers: &[Vec<&str>]) -> Vec<Vec<String>> {
    tiers
        .iter()
        .map(|tier| {
            let mut tier: Vec<String> = tier.iter().map(|&url| url.to_owned()).collect();
            tier.sort();
            tier
        })
        .collect()
}

/// libtorrent's nodes written the way `show --json` writes them.
fn lt_nodes(view: &Value) -> Vec<String> {
    view["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let host = pair[0].as_str().unwrap();
            let port = pair[1].as_u64().unwrap();
            if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        })
        .collect()
}

/// libtorrent's file list, with the torrent name stripped from multi-file
/// paths as `show --json` does.
pub fn lt_files(view: &Value, multi_file: bool) -> Vec<(String, u64)> {
    let prefix = format!("{}/", str_field(view, "name"));
    view["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["pad"], false, "libtorrent sees a pad file: {view:#}");
            let path = str_field(f, "path");
            let path = if multi_file {
                path.strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("{path} outside {prefix}"))
            } else {
                path
            };
            (path.to_owned(), f["length"].as_u64().unwrap())
        })
        .collect()
}

/// Creates a torrent with `args`, loads it in libtorrent and checks that
/// libtorrent, `show --json`, `create --json` and `intent` all agree.
fn check(content: &Path, args: &[&str], intent: &Intent<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let torrent = dir.path().join("out.torrent");
    let summary = create(content, &torrent, args);
    let report = show(&torrent);
    let lt = libtorrent_torrent(&torrent);
    assert!(lt.get("error").is_none(), "libtorrent rejects it: {lt:#}");

    let hash = str_field(&summary, "info_hash");
    assert_eq!(str_field(&report, "info_hash"), hash);
    assert_eq!(str_field(&lt, "info_hash"), hash, "libtorrent: {lt:#}");
    assert_eq!(lt["has_v2"], false);

    assert_eq!(report["name"], intent.name);
    assert_eq!(lt["name"], intent.name);
    assert_eq!(report["multi_file"], intent.multi_file);
    assert_eq!(show_files(&report), intent.files);
    assert_eq!(lt_files(&lt, intent.multi_file), intent.files);

    let total: u64 = intent.files.iter().map(|f| f.1).sum();
    let pieces = total.div_ceil(intent.piece_length);
    assert_eq!(report["total_size"], total);
    assert_eq!(lt["total_size"], total);
    assert_eq!(report["piece_length"], intent.piece_length);
    assert_eq!(lt["piece_length"], intent.piece_length);
    assert_eq!(report["piece_count"], pieces);
    assert_eq!(lt["num_pieces"], pieces);

    assert_eq!(report["trackers"], json!(intent.trackers));
    assert_eq!(lt_tiers(&lt), sorted_tiers(&intent.trackers));
    assert_eq!(report["web_seeds"], json!(intent.web_seeds));
    assert_eq!(lt["web_seeds"], json!(intent.web_seeds));
    assert_eq!(report["private"], intent.private);
    assert_eq!(lt["private"], intent.private);
    assert_eq!(report["nodes"], json!(intent.nodes));
    assert_eq!(lt_nodes(&lt), intent.nodes);
}

#[test]
fn single_file_loads_as_intended() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "ünï file.bin", &bytes(300_001, 61));
    check(
        &file,
        &["-a", TRACKER, "-l", "32KiB"],
        &Intent {
            name: "ünï file.bin",
            multi_file: false,
            files: vec![("ünï file.bin".into(), 300_001)],
            piece_length: 32_768,
            trackers: vec![vec![TRACKER]],
            web_seeds: vec![],
            private: false,
            nodes: vec![],
        },
    );
}

fn nested_intent<'a>(piece_length: u64) -> Intent<'a> {
    Intent {
        name: "nested",
        multi_file: true,
        files: nested_files(),
        piece_length,
        trackers: vec![vec![TRACKER]],
        web_seeds: vec![],
        private: false,
        nodes: vec![],
    }
}

#[test]
fn nested_tree_with_empty_files_and_utf8_names_loads_as_intended() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    check(
        &content,
        &["-a", TRACKER, "-l", "16KiB"],
        &nested_intent(16_384),
    );
}

#[test]
fn private_torrent_loads_as_private() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    check(
        &content,
        &[
            "-a",
            TRACKER,
            "-l",
            "256KiB",
            "--private",
            "--source",
            "TAG",
        ],
        &Intent {
            private: true,
            ..nested_intent(262_144)
        },
    );
}

#[test]
fn tracker_tiers_and_web_seeds_load_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    let tier1 = ["http://a.example/announce", "udp://b.example:6969"];
    let tier2 = ["https://c.example/announce?passkey=p%2Fq&x=1"];
    let tier3 = ["udp://[2001:db8::1]:6969"];
    let seeds = ["http://seed.example/files/", "https://seed2.example/dl/"];
    check(
        &content,
        &[
            "-a",
            &tier1.join(","),
            "-a",
            tier2[0],
            "-a",
            tier3[0],
            "-w",
            seeds[0],
            "-w",
            seeds[1],
            "-l",
            "1MiB",
        ],
        &Intent {
            trackers: vec![tier1.to_vec(), tier2.to_vec(), tier3.to_vec()],
            web_seeds: seeds.to_vec(),
            ..nested_intent(1_048_576)
        },
    );
}

#[test]
fn trackerless_torrent_with_nodes_loads_its_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    check(
        &content,
        &[
            "--trackerless",
            "--nodes",
            "192.0.2.1:6881,[2001:db8::1]:6882",
            "--nodes",
            "router.example:25401",
            "-l",
            "64KiB",
        ],
        &Intent {
            trackers: vec![],
            nodes: vec![
                "192.0.2.1:6881",
                "[2001:db8::1]:6882",
                "router.example:25401",
            ],
            ..nested_intent(65_536)
        },
    );
}

#[test]
fn magnet_link_parses_in_libtorrent_with_our_hash_name_and_trackers() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    let torrent = dir.path().join("out.torrent");
    // A name and URLs full of characters that need escaping in a URI.
    let name = "a b&c+d%e#f=g?h ünï 日本";
    let trackers = [
        "http://a.example/announce?passkey=p%2Fq&x=1+2",
        "udp://b.example:6969",
        "udp://[2001:db8::1]:6969",
    ];
    let seeds = ["http://seed.example/files/", "https://seed2.example/a b/"];
    create(
        &content,
        &torrent,
        &[
            "-n",
            name,
            "-a",
            &trackers[..2].join(","),
            "-a",
            trackers[2],
            "-w",
            seeds[0],
            "-w",
            seeds[1],
        ],
    );
    let report = show(&torrent);
    let link = magnet(&torrent);
    assert_eq!(link, str_field(&report, "magnet"));

    let lt = libtorrent(&[OsStr::new("magnet"), OsStr::new(&link)]);
    assert_eq!(lt["info_hash"], report["info_hash"], "{link}");
    assert_eq!(lt["name"], name, "{link}");
    // A magnet link has no tiers: every tracker, in tier order.
    assert_eq!(lt["trackers"], json!(trackers), "{link}");
    // Every URL a magnet link carries must survive our escaping.
    let lt_seeds: Vec<String> = lt["web_seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lt_seeds, seeds, "{link}");
}

/// Has libtorrent itself make a torrent (`mode`: `create` for v1 only,
/// `create-hybrid` for v1 + v2) of [`NESTED`] under `root/nested`, written
/// to `out`; returns libtorrent's answer (`info_hash`).
fn libtorrent_create(mode: &str, root: &Path, piece_length: u64, out: &Path) -> Value {
    let piece_length = piece_length.to_string();
    let specs: Vec<String> = NESTED
        .iter()
        .map(|(path, len)| format!("nested/{path}:{len}"))
        .collect();
    let mut args = vec![
        OsStr::new(mode),
        root.as_os_str(),
        OsStr::new(&piece_length),
        out.as_os_str(),
    ];
    args.extend(specs.iter().map(OsStr::new));
    libtorrent(&args)
}

/// libtorrent hashes the same files, in our order, with piece lengths
/// mktorrent cannot make; the info hash must be ours. Then `show` reads the
/// torrent libtorrent wrote with the hash libtorrent reports.
#[test]
fn libtorrent_made_torrents_hash_like_ours_including_sixteen_kib_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    for piece_length in [16_384u64, 65_536, 4_194_304] {
        let theirs = dir.path().join(format!("lt-{piece_length}.torrent"));
        let ours = dir.path().join(format!("ours-{piece_length}.torrent"));
        let lt = libtorrent_create("create", dir.path(), piece_length, &theirs);

        let summary = create(&content, &ours, &["-l", &piece_length.to_string()]);
        assert_eq!(
            summary["info_hash"], lt["info_hash"],
            "{piece_length}-byte pieces"
        );
        let report = show(&theirs);
        assert_eq!(report["info_hash"], lt["info_hash"]);
        assert_eq!(show_files(&report), nested_files());
    }
}

/// libtorrent's default is a hybrid v1 + v2 torrent whose BEP 47 pad files
/// align every file to a piece (qBittorrent writes these). `show` must report
/// its v1 info hash and the same files, pads marked as padding; `verify` must
/// accept the content (pads read as zeros, never from disk) and name a
/// damaged file.
#[test]
fn hybrid_torrents_from_libtorrent_show_and_verify_with_pad_files() {
    let dir = tempfile::tempdir().unwrap();
    let content = nested_tree(dir.path(), "nested");
    let torrent = dir.path().join("hybrid.torrent");
    let made = libtorrent_create("create-hybrid", dir.path(), 32_768, &torrent);
    let view = libtorrent_torrent(&torrent);
    assert_eq!(view["has_v2"], true, "{view:#}");

    let report = show(&torrent);
    assert_eq!(report["info_hash"], made["info_hash"]);
    let prefix = "nested/";
    let lt_all: Vec<(String, u64, bool)> = view["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = str_field(f, "path").strip_prefix(prefix).unwrap();
            let pad = f["pad"].as_bool().unwrap();
            (path.to_owned(), f["length"].as_u64().unwrap(), pad)
        })
        .collect();
    let ours_all: Vec<(String, u64, bool)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let pad = f.get("padding").and_then(Value::as_bool).unwrap_or(false);
            (
                str_field(f, "path").to_owned(),
                f["length"].as_u64().unwrap(),
                pad,
            )
        })
        .collect();
    assert_eq!(ours_all, lt_all);
    assert!(ours_all.iter().any(|f| f.2), "no pad files: {report:#}");
    let real: Vec<(String, u64)> = ours_all
        .into_iter()
        .filter(|f| !f.2)
        .map(|f| (f.0, f.1))
        .collect();
    assert_eq!(real, nested_files());

    let (ok, report, stderr) = verify(&torrent, &content);
    assert!(
        ok,
        "verify rejected libtorrent's hybrid torrent: {report:#}\n{stderr}"
    );
    corrupt(&content.join("sub/deeper/c.dat"), 1);
    let (ok, report, _) = verify(&torrent, &content);
    assert!(!ok, "verify missed a flipped byte: {report:#}");
    let named: Vec<&str> = report["damaged_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| str_field(d, "path"))
        .collect();
    assert_eq!(named, ["sub/deeper/c.dat"], "{report:#}");
}

/// Content whose files are all empty would give a torrent with no pieces,
/// which libtorrent ("invalid length of torrent") and transmission-show
/// ("Invalid metadata entry") reject, so `create` refuses it.
#[test]
fn create_refuses_content_libtorrent_cannot_load() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("empty-files");
    write(&content, "a", b"");
    write(&content, "sub/b", b"");
    let torrent = dir.path().join("out.torrent");
    let out = crate::support::output(
        crate::support::ours()
            .arg("create")
            .arg(&content)
            .arg("-o")
            .arg(&torrent)
            .arg("--quiet"),
    );
    if out.status.success() {
        let lt = libtorrent_torrent(&torrent);
        panic!("create wrote a torrent libtorrent cannot load: {lt}");
    }
}
