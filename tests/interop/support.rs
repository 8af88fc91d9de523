//! Shared helpers: running our binary and the peer tools, deterministic
//! content, and small conversions between their views of a torrent.
//!
//! Every peer tool is looked up through [`require`], which panics with the
//! package to install when it is missing: with the `interop` feature on, a
//! missing tool is a failure, never a skip.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The announce URL given to every tool (mktorrent insists on one).
pub const TRACKER: &str = "http://tracker.example/announce";

/// The libtorrent helper script, run with the system Python.
const LT_INSPECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/lt_inspect.py");

/// The Python that has the `libtorrent` module (Debian's python3-libtorrent).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// Finds `program` on `PATH`, or panics saying which package provides it.
pub fn require(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("install {program}: apt-get install {package} (the interop tests need it)")
    })
}

/// Runs a command to completion; panics if it cannot be started.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"))
}

/// Runs a command and panics, showing its output, unless it succeeds.
/// Returns standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|err| panic!("{cmd:?}: stdout not UTF-8: {err}"))
}

/// Our binary, with no inherited `SOURCE_DATE_EPOCH`.
pub fn ours() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mktorrent-rs"));
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// `create CONTENT -o OUT --no-date --json EXTRA...`; returns the summary.
pub fn create(content: &Path, out: &Path, extra: &[&str]) -> Value {
    let stdout = run_ok(
        ours()
            .arg("create")
            .arg(content)
            .arg("-o")
            .arg(out)
            .args(["--no-date", "--json", "--quiet"])
            .args(extra),
    );
    parse_json(&stdout, "create --json")
}

/// `show FILE --json`.
pub fn show(torrent: &Path) -> Value {
    let stdout = run_ok(ours().arg("show").arg(torrent).arg("--json"));
    parse_json(&stdout, "show --json")
}

/// `magnet FILE`, trimmed.
pub fn magnet(torrent: &Path) -> String {
    run_ok(ours().arg("magnet").arg(torrent)).trim().to_owned()
}

/// `verify FILE --content PATH --json`: the exit status and the report.
pub fn verify(torrent: &Path, content: &Path) -> (bool, Value, String) {
    let out = output(
        ours()
            .arg("verify")
            .arg(torrent)
            .arg("--content")
            .arg(content)
            .arg("--json"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.success(),
        parse_json(&stdout, "verify --json"),
        stderr,
    )
}

pub fn parse_json(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{what}: not JSON ({err}):\n{text}"))
}

/// `lt_inspect.py ARGS...` under the system Python: its JSON answer.
pub fn libtorrent(args: &[&OsStr]) -> Value {
    libtorrent_script(LT_INSPECT, args)
}

/// Runs a libtorrent helper script from tests/interop/ (`script` is its
/// file name or full path) under the system Python; returns its JSON answer.
/// Each script exits 3 when `import libtorrent` fails.
pub fn libtorrent_script(script: &str, args: &[&OsStr]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "install python3-libtorrent: apt-get install python3-libtorrent (no {SYSTEM_PYTHON})"
    );
    // libtorrent converts file names through the locale: under plain `C` it
    // cannot open the UTF-8 names these tests use ("Operation canceled").
    let out = output(
        Command::new(SYSTEM_PYTHON)
            .arg(&script)
            .args(args)
            .env("LC_ALL", "C.UTF-8"),
    );
    assert_ne!(
        out.status.code(),
        Some(3),
        "install python3-libtorrent: apt-get install python3-libtorrent ({})",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed with {}:\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(
        &String::from_utf8_lossy(&out.stdout),
        &script.display().to_string(),
    )
}

/// libtorrent's view of a torrent file.
pub fn libtorrent_torrent(torrent: &Path) -> Value {
    libtorrent(&[OsStr::new("torrent"), torrent.as_os_str()])
}

/// `mktorrent -a TRACKER -l EXP -o OUT CONTENT`.
pub fn mktorrent(content: &Path, out: &Path, exponent: u32) {
    mktorrent_with(content, out, exponent, &["-a", TRACKER]);
}

/// `mktorrent -l EXP -o OUT ARGS... CONTENT` (ARGS must hold an `-a`).
pub fn mktorrent_with(content: &Path, out: &Path, exponent: u32, args: &[&str]) {
    let program = require("mktorrent", "mktorrent");
    run_ok(
        Command::new(program)
            .args(["-l", &exponent.to_string(), "-o"])
            .arg(out)
            .args(args)
            .arg(content),
    );
}

/// `transmission-create -o OUT -s KIB EXTRA... CONTENT`.
pub fn transmission_create(content: &Path, out: &Path, piece_kib: u32, extra: &[&str]) {
    let program = require("transmission-create", "transmission-cli");
    run_ok(
        Command::new(program)
            .arg("-o")
            .arg(out)
            .args(["-s", &piece_kib.to_string()])
            .args(extra)
            .arg(content),
    );
}

/// The info hash `transmission-show` prints on its `Hash:` line.
pub fn transmission_show_hash(torrent: &Path) -> String {
    let program = require("transmission-show", "transmission-cli");
    let stdout = run_ok(Command::new(program).arg(torrent));
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("transmission-show printed no Hash: line:\n{stdout}"))
        .trim()
        .to_owned()
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Writes `data` at `root/relative`, creating directories.
pub fn write(root: &Path, relative: &str, data: &[u8]) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|err| panic!("mkdir {}: {err}", parent.display()));
    }
    std::fs::write(&path, data).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    path
}

/// Flips every bit of the byte at `offset` in `path`.
pub fn corrupt(path: &Path, offset: usize) {
    let mut data = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    data[offset] ^= 0xff;
    std::fs::write(path, data).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
}

/// Files of [`nested_tree`]: relative path and length.
///
/// Covers a file spanning many pieces, empty files (at the top and deep
/// down), a file smaller than any piece, non-ASCII (UTF-8) directory and
/// file names, and a total that is not a multiple of any piece length. No
/// hidden files (tools disagree on those), and no name that sorts below `/`
/// against a sibling directory (tools disagree on that order too: see
/// `mktorrent::file_order_differs_when_a_name_sorts_below_slash`).
pub const NESTED: &[(&str, usize)] = &[
    ("a.bin", 300_001),
    ("empty", 0),
    ("sub/b.dat", 5_000),
    ("sub/deeper/c.dat", 70_000),
    ("sub/ünïcödé/zero", 0),
    ("sub/ünïcödé/日本語.txt", 19),
    ("z-last", 1_234_567),
];

/// Writes [`NESTED`] under `root/name` and returns that directory.
pub fn nested_tree(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    for (seed, (path, len)) in (1..).zip(NESTED) {
        write(&dir, path, &bytes(*len, seed));
    }
    dir
}

/// A `show --json` file list as `(path, length)`.
pub fn show_files(report: &Value) -> Vec<(String, u64)> {
    report["files"]
        .as_array()
        .expect("show --json has files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("file path").to_owned(),
                f["length"].as_u64().expect("file length"),
            )
        })
        .collect()
}

/// The [`NESTED`] list as `show --json` reports it.
pub fn nested_files() -> Vec<(String, u64)> {
    NESTED
        .iter()
        .map(|(path, len)| ((*path).to_owned(), *len as u64))
        .collect()
}

/// A string field of a JSON object.
pub fn str_field<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {value:#}"))
}

/// A `show --json` report without the fields that name the authoring tool
/// and time, which legitimately differ between tools.
pub fn without_authoring(mut report: Value) -> Value {
    let object = report.as_object_mut().expect("show --json is an object");
    object.remove("created_by");
    object.remove("creation_date");
    report
}
