//! Shared helpers: run the binary, make content, snapshot settings.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_mktorrent-rs");
/// A fixed creation date for reproducible output.
pub const EPOCH: &str = "1700000000";

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// The run as a snapshot: exit code, stdout, stderr.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success:\n{}", self.transcript());
        self
    }

    #[track_caller]
    pub fn failure(self) -> Self {
        assert_ne!(self.code, 0, "expected failure:\n{}", self.transcript());
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// Runs the binary in `dir` with a fixed SOURCE_DATE_EPOCH.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_env(dir, args, &[("SOURCE_DATE_EPOCH", EPOCH)])
}

pub fn run_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH");
    for (key, value) in vars {
        command.env(key, value);
    }
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stdout_bytes: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes `(relative path, contents)` pairs under `root`, creating directories.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (path, data) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, data).unwrap();
    }
}

/// Deterministic pseudo-random bytes (xorshift), so content is the same on every machine.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A nested tree with empty files, non-ASCII names and a file spanning pieces.
pub fn sample_tree(root: &Path) -> PathBuf {
    let dir = root.join("release");
    write_tree(
        &dir,
        &[
            ("README.txt", b"read me\n"),
            ("bin/tool", &bytes(70_000, 1)),
            ("bin/empty", b""),
            ("docs/ünïcödé/日本語.txt", "こんにちは\n".as_bytes()),
            ("docs/empty-dir-file", b""),
            ("data/big.bin", &bytes(300_000, 2)),
        ],
    );
    dir
}

/// Snapshot settings: top-level `snapshots/`, temp paths and timings filtered.
pub fn settings(temp: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    let temp_text = temp.display().to_string();
    settings.add_filter(&regex_escape(&temp_text), "[TMP]");
    settings.add_filter(r"Hashed in .*", "Hashed in [TIME]");
    settings.add_filter(env!("CARGO_PKG_VERSION"), "[VERSION]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Parses `show --json` output.
pub fn show_json(dir: &Path, torrent: &str) -> serde_json::Value {
    let run = run(dir, &["show", "--json", torrent]).success();
    serde_json::from_str(&run.stdout).expect("show --json prints JSON")
}
