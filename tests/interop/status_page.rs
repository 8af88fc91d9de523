//! publish's status page and `/metrics` read by real consumers: Debian's
//! Chromium renders the page headless and dumps the DOM it built (so
//! escaping is judged by a real HTML parser), and Prometheus's own Python
//! parser (`python3-prometheus-client`) reads the metrics text.
//!
//! [`chromium_dom`] and [`assert_prometheus`] take a URL and a text, not a
//! server, so a test of the real `publish --status-listen` can use them as
//! well as the in-process test here.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mktorrent_rs::publish::snapshot::Snapshot;
use mktorrent_rs::publish::status_server::StatusServer;
use mktorrent_rs::shutdown::Shutdown;
use serde_json::Value;

use crate::status_snapshot::{two_torrents, A, A_NAME, B, B_NAME, B_V2};
use crate::support::{http_get, parse_json, require, SYSTEM_PYTHON};

/// Longest Chromium may take to load a page and dump it.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

/// Chromium and every process it started (one process group), killed
/// when dropped so a failed or hung run leaves nothing behind.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The DOM Chromium builds for `url` (what a browser shows, after parsing,
/// not the bytes served), from `chromium --headless --dump-dom` with a
/// throwaway profile. Panics if Chromium is missing, fails, or takes
/// longer than a minute.
pub fn chromium_dom(url: &str) -> String {
    let program = require("chromium", "chromium");
    let profile = tempfile::tempdir().expect("a temporary Chromium profile");
    let stderr_path = profile.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("a Chromium stderr file");
    let mut cmd = Command::new(program);
    cmd.args([
        "--headless",
        // Tests run as root, where Chromium's sandbox refuses to start.
        "--no-sandbox",
        "--disable-gpu",
        // Containers often have a small /dev/shm.
        "--disable-dev-shm-usage",
        // Nothing but the page: no first-run work, updates or sync.
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(["--dump-dom", url])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(stderr);
    // Its own process group, so Drop reaches the renderer and GPU helpers.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut browser = Browser(
        cmd.spawn()
            .unwrap_or_else(|err| panic!("cannot start {cmd:?}: {err}")),
    );
    let mut stdout = browser.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut dom = Vec::new();
        let read = stdout.read_to_end(&mut dom).map(|_| dom);
        let _ = tx.send(read);
    });
    let log = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let started = Instant::now();
    let dom = match rx.recv_timeout(CHROMIUM_LIMIT) {
        Ok(Ok(dom)) => dom,
        Ok(Err(err)) => panic!("reading chromium's output for {url}: {err}"),
        Err(_) => panic!(
            "chromium --dump-dom {url}: no DOM within {CHROMIUM_LIMIT:?}; stderr:\n{}",
            log()
        ),
    };
    let status = loop {
        if let Some(status) = browser.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            started.elapsed() < CHROMIUM_LIMIT,
            "chromium --dump-dom {url}: still running after its DOM; stderr:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium --dump-dom {url} failed with {status}; stderr:\n{}",
        log()
    );
    let dom = String::from_utf8(dom).expect("Chromium's DOM is UTF-8");
    assert!(
        dom.contains("<html"),
        "chromium --dump-dom {url}: no document; stderr:\n{}",
        log()
    );
    dom
}

/// One sample as Prometheus's Python parser read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    /// The family (for counters without `_total`, as the parser names it).
    pub family: String,
    /// `counter`, `gauge`, ...
    pub kind: String,
    /// The sample's own name (`..._total` for counters).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Reads every family and sample of `text` (Prometheus text format 0.0.4)
/// with `prometheus_client.parser.text_string_to_metric_families`; panics,
/// showing the text, on a parse error or on a family that appears twice.
const PROMETHEUS_PARSE: &str = r#"
import json, math, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as err:
    print(err, file=sys.stderr)
    sys.exit(3)
seen, out = set(), []
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.name in seen:
        sys.exit(f"family {family.name} appears twice")
    seen.add(family.name)
    for s in family.samples:
        out.append({"family": family.name, "kind": family.type, "name": s.name,
                    "labels": s.labels, "value": repr(float(s.value))})
print(json.dumps(out))
"#;

/// Parses `text` with Prometheus's Python client (see
/// [`PROMETHEUS_PARSE`]) and returns its samples; panics if the client is
/// missing, or rejects the text.
pub fn assert_prometheus(text: &str) -> Vec<PromSample> {
    use std::io::Write;
    assert!(
        std::path::Path::new(SYSTEM_PYTHON).is_file(),
        "install python3-prometheus-client: apt-get install python3-prometheus-client \
         (no {SYSTEM_PYTHON})"
    );
    let mut child = Command::new(SYSTEM_PYTHON)
        .args(["-c", PROMETHEUS_PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {SYSTEM_PYTHON}: {err}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = text.to_owned();
    // Written on a thread: a large text must not block against our read.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the parser runs");
    let _ = writer.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(3),
        "install python3-prometheus-client: apt-get install python3-prometheus-client ({})",
        stderr.trim()
    );
    assert!(
        out.status.success(),
        "prometheus_client rejects the metrics ({}):\n{stderr}\n--- text\n{text}",
        out.status
    );
    let samples = parse_json(
        &String::from_utf8_lossy(&out.stdout),
        "the parser's samples",
    );
    samples
        .as_array()
        .expect("a list of samples")
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or_else(|| panic!("{k} in {s}"));
            let labels = match &s["labels"] {
                Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect(),
                other => panic!("labels {other}"),
            };
            PromSample {
                family: field("family").to_owned(),
                kind: field("kind").to_owned(),
                name: field("name").to_owned(),
                labels,
                // Python's repr: `nan`, `inf`, `-inf` or a decimal; Rust reads all.
                value: field("value")
                    .parse()
                    .unwrap_or_else(|_| panic!("value in {s}")),
            }
        })
        .collect()
}

/// A status server on 127.0.0.1:0 in its own runtime, for blocking tests.
struct Served {
    addr: SocketAddr,
    shutdown: Shutdown,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    fn start(snapshot: Snapshot) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let shutdown = Shutdown::new();
        let (tx, rx) = tokio::sync::watch::channel(Arc::new(snapshot));
        let server = runtime
            .block_on(StatusServer::start(
                "127.0.0.1:0".parse().unwrap(),
                rx,
                &shutdown,
            ))
            .expect("the status server starts");
        // The server keeps serving the last value once the sender is gone.
        drop(tx);
        Self {
            addr: server.local_addr(),
            shutdown,
            runtime,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.runtime.block_on(self.shutdown.finished());
    }
}

#[test]
fn chromium_shows_both_torrents_and_prometheus_parses_the_metrics() {
    let served = Served::start(two_torrents());
    let dom = chromium_dom(&format!("http://{}/", served.addr));
    assert!(dom.contains("mktorrent-rs publish"), "{dom}");
    // Chromium serialises text with &, < and > escaped (quotes and
    // backslashes as they are): a name that was parsed as text, not markup.
    let b_text = B_NAME
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    for part in [
        format!("<td class=\"name\">{A_NAME}</td>"),
        format!("<td class=\"name\">{b_text}</td>"),
        format!("data-info-hash=\"{A}\""),
        format!("data-info-hash=\"{B}\""),
        format!("<code class=\"v1\">{A}</code>"),
        format!("<code class=\"v2\">{B_V2}</code>"),
        "stopped: download count reached".to_owned(),
    ] {
        assert!(dom.contains(&part), "{part} not in the DOM:\n{dom}");
    }
    assert!(!dom.contains("<gamma"), "a name became markup:\n{dom}");
    assert_eq!(dom.matches("<tr class=\"torrent\"").count(), 2, "{dom}");

    let text = String::from_utf8(http_get(served.addr, "/metrics")).expect("UTF-8 metrics");
    let samples = assert_prometheus(&text);
    let up: BTreeMap<&str, (&str, f64)> = samples
        .iter()
        .filter(|s| s.name == "mktorrent_publish_torrent_up")
        .map(|s| {
            (
                s.labels["info_hash"].as_str(),
                (s.labels["name"].as_str(), s.value),
            )
        })
        .collect();
    // The label values read back exactly: quotes and backslash unescaped.
    assert_eq!(up, BTreeMap::from([(A, (A_NAME, 1.0)), (B, (B_NAME, 0.0))]));
    let counter = samples
        .iter()
        .find(|s| s.name == "mktorrent_publish_seeder_refused_per_ip_total")
        .unwrap_or_else(|| panic!("no cap counter in\n{text}"));
    assert_eq!((counter.kind.as_str(), counter.value), ("counter", 3.0));
    assert!(
        samples.iter().any(|s| s.name == "mktorrent_publish_peers"),
        "{text}"
    );
}

#[test]
#[should_panic(expected = "prometheus_client rejects the metrics")]
fn assert_prometheus_fails_on_a_malformed_label() {
    assert_prometheus("# TYPE x gauge\nx{a=\"b} 1\n");
}

#[test]
#[should_panic(expected = "appears twice")]
fn assert_prometheus_fails_on_a_repeated_family() {
    assert_prometheus("# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\nx 2\n");
}
