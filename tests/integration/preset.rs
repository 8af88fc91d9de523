//! `--preset`: the command line wins over the preset, which wins over the
//! default; the current directory's mktorrent-rs.toml, then the config
//! directory's; unknown keys, wrong types and unknown presets are errors
//! naming the key, preset and files.

use std::path::Path;

use crate::common::{bytes, run_env, settings, show_json, write_tree, EPOCH};

const PRESET: &str = r#"
[presets.tracker]
trackers = [["udp://a.example:1", "udp://b.example:2"], "http://c.example/announce"]
private = true
source = "PRESET"
comment = "from the preset"
piece-length = "64KiB"
exclude = ["*.nfo"]
web-seeds = "https://m.example/pub/"

[presets.auto]
max-piece-length = 15
target-piece-count = 10
"#;

/// An empty config home, so the user's real files never leak into a test.
fn vars<'a>(config: &'a str, home: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SOURCE_DATE_EPOCH", EPOCH),
        ("XDG_CONFIG_HOME", config),
        ("HOME", home),
    ]
}

fn content(dir: &Path) {
    write_tree(
        dir,
        &[("rel/a.bin", &bytes(300_000, 3)), ("rel/skip.nfo", b"nfo")],
    );
}

fn no_config(temp: &Path) -> (String, String) {
    let empty = temp.join("empty-home");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    (empty.clone(), empty)
}

#[test]
fn command_line_over_preset_over_default() {
    let temp = tempfile::tempdir().unwrap();
    content(temp.path());
    std::fs::write(temp.path().join("mktorrent-rs.toml"), PRESET).unwrap();
    let (config, home) = no_config(temp.path());
    let env = vars(&config, &home);
    run_env(
        temp.path(),
        &[
            "create", "rel", "--preset", "tracker", "--source", "CLI", "-l", "32KiB", "-q",
        ],
        &env,
    )
    .success();
    let json = show_json(temp.path(), "rel.torrent");
    // Given on the command line.
    assert_eq!(json["source"], "CLI");
    assert_eq!(json["piece_length"], 32768);
    // From the preset.
    assert_eq!(json["private"], true);
    assert_eq!(json["comment"], "from the preset");
    assert_eq!(
        json["trackers"],
        serde_json::json!([
            ["udp://a.example:1", "udp://b.example:2"],
            ["http://c.example/announce"]
        ])
    );
    assert_eq!(
        json["web_seeds"],
        serde_json::json!(["https://m.example/pub/"])
    );
    let files: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["a.bin"], "exclude from the preset");
    // Default: not in the preset, not given.
    assert!(json["created_by"]
        .as_str()
        .unwrap()
        .starts_with("mktorrent-rs"));

    // A repeatable flag on the command line replaces the preset's list.
    run_env(
        temp.path(),
        &[
            "create",
            "rel",
            "--preset",
            "tracker",
            "-a",
            "udp://cli.example:9",
            "--exclude",
            "nothing",
            "-o",
            "cli.torrent",
            "-q",
        ],
        &env,
    )
    .success();
    let json = show_json(temp.path(), "cli.torrent");
    assert_eq!(
        json["trackers"],
        serde_json::json!([["udp://cli.example:9"]])
    );
    assert_eq!(json["files"].as_array().unwrap().len(), 2);
}

#[test]
fn automatic_piece_length_options_from_a_preset_and_the_command_line() {
    let temp = tempfile::tempdir().unwrap();
    content(temp.path());
    std::fs::write(temp.path().join("mktorrent-rs.toml"), PRESET).unwrap();
    let (config, home) = no_config(temp.path());
    let env = vars(&config, &home);
    // 300 003 bytes aiming at 10 pieces: 32 KiB pieces, capped at 2^15.
    run_env(
        temp.path(),
        &["create", "rel", "--preset", "auto", "-o", "a.torrent", "-q"],
        &env,
    )
    .success();
    assert_eq!(show_json(temp.path(), "a.torrent")["piece_length"], 32768);
    // The command line's cap wins over the preset's.
    run_env(
        temp.path(),
        &[
            "create",
            "rel",
            "--preset",
            "auto",
            "--max-piece-length",
            "16KiB",
            "-o",
            "b.torrent",
            "-q",
        ],
        &env,
    )
    .success();
    assert_eq!(show_json(temp.path(), "b.torrent")["piece_length"], 16384);
    // Without a preset: aiming at 4 pieces gives 128 KiB.
    run_env(
        temp.path(),
        &[
            "create",
            "rel",
            "--target-piece-count",
            "4",
            "-o",
            "c.torrent",
            "-q",
        ],
        &env,
    )
    .success();
    assert_eq!(show_json(temp.path(), "c.torrent")["piece_length"], 131072);
    let bad = run_env(
        temp.path(),
        &["create", "rel", "--target-piece-count", "0", "-q"],
        &env,
    )
    .failure();
    assert!(
        bad.stderr.contains("--target-piece-count"),
        "{}",
        bad.stderr
    );
}

#[test]
fn the_config_directory_xdg_then_home() {
    let temp = tempfile::tempdir().unwrap();
    content(temp.path());
    let xdg = temp.path().join("xdg");
    let home = temp.path().join("home");
    write_tree(
        &xdg,
        &[(
            "mktorrent-rs/mktorrent-rs.toml",
            b"[presets.p]\ncomment = \"xdg\"\n",
        )],
    );
    write_tree(
        &home,
        &[(
            ".config/mktorrent-rs/mktorrent-rs.toml",
            b"[presets.p]\ncomment = \"home\"\n",
        )],
    );
    let (xdg, home) = (xdg.display().to_string(), home.display().to_string());
    let create = |env: &[(&str, &str)], out: &str| {
        run_env(
            temp.path(),
            &["create", "rel", "--preset", "p", "-o", out, "-q"],
            env,
        )
        .success();
        show_json(temp.path(), out)["comment"].clone()
    };
    assert_eq!(create(&vars(&xdg, &home), "1.torrent"), "xdg");
    // XDG_CONFIG_HOME unset (empty): ~/.config.
    assert_eq!(create(&vars("", &home), "2.torrent"), "home");
    // The current directory comes first.
    std::fs::write(
        temp.path().join("mktorrent-rs.toml"),
        "[presets.p]\ncomment = \"cwd\"\n",
    )
    .unwrap();
    assert_eq!(create(&vars(&xdg, &home), "3.torrent"), "cwd");
    // A cwd file without the preset falls through to the config directory.
    std::fs::write(
        temp.path().join("mktorrent-rs.toml"),
        "[presets.other]\ncomment = \"cwd\"\n",
    )
    .unwrap();
    assert_eq!(create(&vars(&xdg, &home), "4.torrent"), "xdg");
    // The summary names the file read, on stderr and in --json.
    let out = run_env(
        temp.path(),
        &["create", "rel", "--preset", "p", "-o", "5.torrent"],
        &vars(&xdg, &home),
    )
    .success();
    let file = format!("{xdg}/mktorrent-rs/mktorrent-rs.toml");
    assert!(
        out.stderr.contains(&format!("Preset        p from {file}")),
        "{}",
        out.stderr
    );
    let out = run_env(
        temp.path(),
        &[
            "create",
            "rel",
            "--preset",
            "p",
            "-o",
            "6.torrent",
            "--json",
        ],
        &vars(&xdg, &home),
    )
    .success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["preset"],
        serde_json::json!({"name": "p", "file": file})
    );
}

#[test]
fn errors_name_the_key_preset_and_files() {
    let temp = tempfile::tempdir().unwrap();
    content(temp.path());
    let (config, home) = no_config(temp.path());
    let env = vars(&config, &home);
    let cases: &[(&str, &str, &str)] = &[
        (
            "preset_error_unknown_key",
            "[presets.p]\ntracker = \"udp://a.example:1\"\nprivte = true\n",
            "p",
        ),
        (
            "preset_error_wrong_type",
            "[presets.p]\nprivate = \"yes\"\n",
            "p",
        ),
        (
            "preset_error_wrong_list_item",
            "[presets.p]\nexclude = [\"a\", 3]\n",
            "p",
        ),
        (
            "preset_error_unknown_preset",
            "[presets.one]\n[presets.two]\n",
            "three",
        ),
        ("preset_error_not_toml", "[presets.p\n", "p"),
        ("preset_error_top_level", "comment = \"x\"\n", "p"),
    ];
    for (label, text, name) in cases {
        std::fs::write(temp.path().join("mktorrent-rs.toml"), text).unwrap();
        let out = run_env(temp.path(), &["create", "rel", "--preset", name], &env).failure();
        settings(temp.path()).bind(|| insta::assert_snapshot!(*label, out.transcript()));
        assert!(!temp.path().join("rel.torrent").exists());
    }
    // No file anywhere: both places are named.
    std::fs::remove_file(temp.path().join("mktorrent-rs.toml")).unwrap();
    let out = run_env(temp.path(), &["create", "rel", "--preset", "p"], &env).failure();
    assert!(out
        .stderr
        .contains(&format!("{}/mktorrent-rs.toml", temp.path().display())));
    assert!(out
        .stderr
        .contains(&format!("{config}/mktorrent-rs/mktorrent-rs.toml")));
}

#[test]
fn publish_takes_the_preset_too() {
    let temp = tempfile::tempdir().unwrap();
    content(temp.path());
    std::fs::write(temp.path().join("mktorrent-rs.toml"), PRESET).unwrap();
    let (config, home) = no_config(temp.path());
    let env = vars(&config, &home);
    std::fs::write(
        temp.path().join("mktorrent-rs.toml"),
        "[presets.p]\nsource = \"PUB\"\ncomment = \"published\"\npiece-length = 16\n",
    )
    .unwrap();
    run_env(
        temp.path(),
        &[
            "publish",
            "rel",
            "--preset",
            "p",
            "-c",
            "cli wins",
            "--listen",
            "127.0.0.1:0",
            "--no-dht",
            "--seed-time",
            "0",
            "--json",
        ],
        &env,
    )
    .success();
    let json = show_json(temp.path(), "rel.torrent");
    assert_eq!(json["source"], "PUB");
    assert_eq!(json["comment"], "cli wins");
    assert_eq!(json["piece_length"], 65536);
    // An unknown key stops publish before it serves anything.
    std::fs::write(
        temp.path().join("mktorrent-rs.toml"),
        "[presets.p]\nbogus = 1\n",
    )
    .unwrap();
    let out = run_env(
        temp.path(),
        &["publish", "rel", "--preset", "p", "--no-dht", "-f"],
        &env,
    )
    .failure();
    assert!(out.stderr.contains("`bogus`"), "{}", out.stderr);
}
