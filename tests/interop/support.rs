//! Shared helpers: running our binary and the peer tools, deterministic
//! content, and small conversions between their views of a torrent.
//!
//! Every peer tool is looked up through [`require`], which panics with the
//! package to install when it is missing: with the `interop` feature on, a
//! missing tool is a failure, never a skip.

use std::ffi::OsStr;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

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

/// The command running a libtorrent helper script from tests/interop/
/// (`script` is its file name or full path) under the system Python.
/// Each script exits 3 when `import libtorrent` fails.
pub fn libtorrent_command(script: &str) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "install python3-libtorrent: apt-get install python3-libtorrent (no {SYSTEM_PYTHON})"
    );
    let mut cmd = Command::new(SYSTEM_PYTHON);
    // libtorrent converts file names through the locale: under plain `C` it
    // cannot open the UTF-8 names these tests use ("Operation canceled").
    cmd.arg(script).env("LC_ALL", "C.UTF-8");
    cmd
}

/// Panics with the package to install when a libtorrent script exited 3.
pub fn assert_libtorrent_imported(status: ExitStatus, stderr: &str) {
    assert_ne!(
        status.code(),
        Some(3),
        "install python3-libtorrent: apt-get install python3-libtorrent ({})",
        stderr.trim()
    );
}

/// Runs a libtorrent helper script from tests/interop/ (see
/// [`libtorrent_command`]) to completion; returns its JSON answer.
pub fn libtorrent_script(script: &str, args: &[&OsStr]) -> Value {
    let out = output(libtorrent_command(script).args(args));
    assert_libtorrent_imported(out.status, &String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{script} {args:?} failed with {}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&String::from_utf8_lossy(&out.stdout), script)
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

/// The longest any interop test waits for one thing to happen.
pub const LIMIT: Duration = Duration::from_secs(90);

/// Polls until `check` holds, within [`LIMIT`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A loopback TCP port free right now (for tools that take a fixed port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback TCP port")
}

/// A loopback UDP port free right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback UDP port")
}

/// Kills the child when the test ends, passed or not, so a failure leaves
/// nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process whose standard output is read line by line on a thread
/// (so every wait has a deadline) and whose standard error goes to a file
/// shown in failure messages. Killed when dropped.
pub struct Spawned {
    child: KillOnDrop,
    lines: Receiver<String>,
    stderr: PathBuf,
    what: String,
}

impl Spawned {
    /// Starts `cmd` with stdin closed, stdout piped and stderr into the
    /// file `stderr`.
    pub fn start(cmd: &mut Command, stderr: &Path) -> Self {
        let what = format!("{cmd:?}");
        let file = std::fs::File::create(stderr)
            .unwrap_or_else(|err| panic!("create {}: {err}", stderr.display()));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child: KillOnDrop(child),
            lines,
            stderr: stderr.to_owned(),
            what,
        }
    }

    /// The next line of standard output; `None` once it is closed (the
    /// process ended). Panics after `within`.
    pub fn next_line(&mut self, within: Duration) -> Option<String> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no output within {within:?}; stderr:\n{}",
                self.what,
                self.stderr()
            ),
        }
    }

    /// The lines already printed, without waiting for more.
    pub fn pending_lines(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Waits (at most `within`) for the process to exit.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                start.elapsed() < within,
                "{}: still running after {within:?}; stderr:\n{}",
                self.what,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything written to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn what(&self) -> &str {
        &self.what
    }
}

/// Asserts that every [`NESTED`] file under `dest` equals the one under
/// `source`, byte for byte. `with_empty: false` skips empty files, for
/// clients that do not create them (Transmission 3.00).
pub fn assert_same_tree(source: &Path, dest: &Path, with_empty: bool) {
    for (path, len) in NESTED.iter().filter(|(_, len)| with_empty || *len > 0) {
        let got = std::fs::read(dest.join(path))
            .unwrap_or_else(|err| panic!("{path}: not downloaded: {err}"));
        assert_eq!(got.len(), *len, "{path}");
        assert!(
            got == std::fs::read(source.join(path)).unwrap(),
            "{path} differs"
        );
    }
}

/// Whether every non-empty [`NESTED`] file under `dest` is complete.
pub fn same_nonempty_files(source: &Path, dest: &Path) -> bool {
    NESTED
        .iter()
        .filter(|(_, len)| *len > 0)
        .all(|(path, len)| {
            std::fs::read(dest.join(path)).is_ok_and(|got| {
                got.len() == *len && std::fs::read(source.join(path)).is_ok_and(|want| got == want)
            })
        })
}

/// Writes a transmission-cli configuration directory `config` that keeps
/// Transmission on loopback: no DHT, local discovery, PEX, uTP or port
/// mapping, and plaintext allowed.
pub fn transmission_config(config: &Path) {
    std::fs::create_dir_all(config)
        .unwrap_or_else(|err| panic!("mkdir {}: {err}", config.display()));
    write(
        config,
        "settings.json",
        br#"{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
            "utp-enabled": false, "port-forwarding-enabled": false,
            "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
            "encryption": 0}"#,
    );
}

/// Starts `transmission-cli` downloading `torrent` into `dest`, listening
/// on 127.0.0.1:`port`, with [`transmission_config`] in `config`.
pub fn transmission_cli(torrent: &Path, dest: &Path, config: &Path, port: u16) -> KillOnDrop {
    let program = require("transmission-cli", "transmission-cli");
    transmission_config(config);
    std::fs::create_dir_all(dest).unwrap_or_else(|err| panic!("mkdir {}: {err}", dest.display()));
    let child = Command::new(program)
        .args(["-M", "-et", "-p", &port.to_string(), "-w"])
        .arg(dest)
        .arg("-g")
        .arg(config)
        .arg(torrent)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("transmission-cli starts");
    KillOnDrop(child)
}

/// A plain HTTP/1.1 GET; returns the body.
pub fn http_get(addr: SocketAddr, target: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(addr).unwrap_or_else(|err| panic!("connect to {addr}: {err}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|err| panic!("GET http://{addr}{target}: {err}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|err| panic!("GET http://{addr}{target}: {err}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("GET http://{addr}{target}: no end of headers"));
    raw[split + 4..].to_vec()
}

/// (seeders, completed, leechers) for `hash` from an HTTP scrape of the
/// tracker at `addr` (BEP 48); zeros for a swarm it does not list.
pub fn scrape(addr: SocketAddr, hash: &[u8; 20]) -> (i64, i64, i64) {
    use mktorrent_rs::bencode::{decode, Value};
    let target = format!(
        "/scrape?info_hash={}",
        percent_encoding::percent_encode(hash, percent_encoding::NON_ALPHANUMERIC)
    );
    let body = http_get(addr, &target);
    let value = decode(&body).unwrap_or_else(|err| panic!("scrape of {addr}: {err:?}"));
    let files = value
        .get(b"files")
        .unwrap_or_else(|| panic!("scrape of {addr}: no files"));
    // A swarm the tracker has not seen yet may be left out.
    let Some(counts) = files.get(hash) else {
        return (0, 0, 0);
    };
    let int = |k: &str| {
        counts
            .get(k.as_bytes())
            .and_then(Value::as_int)
            .unwrap_or_else(|| panic!("scrape of {addr}: no {k}"))
    };
    (int("complete"), int("downloaded"), int("incomplete"))
}
