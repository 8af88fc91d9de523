//! The publish session's status page (`/`), `/status.json` and Prometheus
//! text (`/metrics`), each rendered from one [`Snapshot`]. Pure: no I/O and
//! no clock, so every page is a function of the snapshot alone; serving
//! them is [`super::status_server`].
//!
//! Torrent names, tracker URLs and tracker errors come from outside (the
//! torrent file, the trackers' replies), so every string is escaped for
//! where it lands: HTML text and attributes, or Prometheus label values.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::Duration;

use crate::announce::{TrackerState, TrackerStatus};
use crate::format::{self, escape_html as escape};

use super::snapshot::{Snapshot, TorrentSnapshot, TorrentState};

/// Most torrents listed on the HTML page; the session totals,
/// `/status.json` and `/metrics` always cover every torrent.
pub const PAGE_ROWS: usize = 1000;

/// Columns of the torrent table, for the tracker rows' `colspan`.
const COLUMNS: usize = 10;

const STYLE: &str = "body{font-family:sans-serif;margin:1em 2em}\
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}\
tr.torrent{border-top:1px solid #999}code{font-size:90%}\
.num{text-align:right;white-space:nowrap}.stopped,.error{color:#a00}table.trackers td{font-size:90%;color:#333}";

/// The status page: session totals, then one row per torrent followed by
/// a row with its trackers. Refreshes itself every `refresh` (at least
/// once a second) with a meta refresh, so it works without JavaScript.
///
/// Test-friendly markers: `<table class="session">` with
/// `<td data-field="...">` cells; `<tr class="torrent"
/// data-info-hash="HEX" data-state="seeding|stopped">` whose cells have
/// classes (`name`, `info-hash`, `state`, ...); `<tr class="tracker"
/// data-state="...">` per tracker.
pub fn html(snapshot: &Snapshot, refresh: Duration) -> String {
    let mut out = String::with_capacity(4096 + snapshot.torrents.len() * 1024);
    let seeding = snapshot
        .torrents
        .iter()
        .filter(|t| t.state == TorrentState::Seeding)
        .count();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{}\">\
         <title>mktorrent-rs publish</title><style>{STYLE}</style></head><body>\n\
         <h1>mktorrent-rs publish</h1>\n",
        refresh.as_secs().max(1)
    );
    session_table(&mut out, snapshot);
    let _ = writeln!(
        out,
        "<h2>Torrents: {} ({seeding} seeding)</h2>\n<table class=\"torrents\">\n\
         <tr><th>name</th><th>info hash</th><th>state</th><th class=\"num\">peers</th>\
         <th class=\"num\">seeders seen</th><th class=\"num\">upload rate</th>\
         <th class=\"num\">uploaded</th><th class=\"num\">ratio</th>\
         <th class=\"num\">completed</th><th>idle</th></tr>",
        snapshot.torrents.len()
    );
    if snapshot.torrents.is_empty() {
        let _ = writeln!(
            out,
            "<tr class=\"empty\"><td colspan=\"{COLUMNS}\">No torrents yet.</td></tr>"
        );
    }
    for torrent in snapshot.torrents.iter().take(PAGE_ROWS) {
        torrent_rows(&mut out, torrent);
    }
    out.push_str("</table>\n");
    if snapshot.torrents.len() > PAGE_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"truncated\">The first {PAGE_ROWS} of {} torrents are shown; \
             <a href=\"/status.json\">/status.json</a> and <a href=\"/metrics\">/metrics</a> \
             list all.</p>",
            snapshot.torrents.len()
        );
    }
    out.push_str(
        "<p><a href=\"/status.json\">status.json</a> · <a href=\"/metrics\">metrics</a></p>\n\
         </body></html>\n",
    );
    out
}

fn session_table(out: &mut String, s: &Snapshot) {
    let listen = s
        .listen
        .map_or_else(|| "not listening".to_owned(), |a| a.to_string());
    let dht = match (s.dht, s.dht_nodes) {
        (Some(addr), Some(nodes)) => format!("{addr}, {nodes} nodes"),
        (Some(addr), None) => addr.to_string(),
        (None, Some(nodes)) => format!("{nodes} nodes"),
        (None, None) => "off".to_owned(),
    };
    let rows = [
        ("listen", "listening on", escape(&listen)),
        (
            "peers",
            "peers",
            format!(
                "{} (tcp {}, utp {}; rc4 {}, plain {})",
                s.peers,
                s.peers_tcp,
                s.peers_utp,
                s.peers_encrypted,
                (s.peers_tcp + s.peers_utp).saturating_sub(s.peers_encrypted)
            ),
        ),
        (
            "upload-rate",
            "upload rate",
            super::rate(s.upload_rate as f64),
        ),
        ("uploaded", "uploaded", format::size(s.uploaded)),
        ("dht", "DHT", escape(&dht)),
        ("elapsed", "running for", format::duration(s.elapsed)),
    ];
    out.push_str("<table class=\"session\">\n");
    for (field, label, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{label}</th><td data-field=\"{field}\">{value}</td></tr>"
        );
    }
    out.push_str("</table>\n");
}

fn torrent_rows(out: &mut String, t: &TorrentSnapshot) {
    let hash = escape(&t.info_hash);
    let (state_class, state) = match t.state {
        TorrentState::Seeding => ("seeding", "seeding".to_owned()),
        TorrentState::Stopped(reason) => ("stopped", format!("stopped: {}", reason.describe())),
    };
    let mut hashes = format!("<code class=\"v1\">{hash}</code>");
    if let Some(v2) = &t.info_hash_v2 {
        let _ = write!(hashes, "<br><code class=\"v2\">{}</code>", escape(v2));
    }
    let idle = t
        .idle
        .map_or_else(|| "never requested".to_owned(), format::duration);
    let _ = writeln!(
        out,
        "<tr class=\"torrent\" data-info-hash=\"{hash}\" data-state=\"{state_class}\">\
         <td class=\"name\">{name}</td><td class=\"info-hash\">{hashes}</td>\
         <td class=\"state {state_class}\">{state}</td>\
         <td class=\"peers num\">{peers} ({seeders} complete)</td>\
         <td class=\"seeders num\">{other}</td>\
         <td class=\"upload-rate num\">{rate}</td><td class=\"uploaded num\">{uploaded}</td>\
         <td class=\"ratio num\">{ratio}</td><td class=\"completed num\">{completed}</td>\
         <td class=\"idle\">{idle}</td></tr>",
        name = escape(&t.name),
        peers = t.peers,
        seeders = t.seeders,
        other = t.other_seeders,
        rate = super::rate(t.upload_rate as f64),
        uploaded = format::size(t.uploaded),
        ratio = ratio(t.ratio),
        completed = t.completed,
    );
    let _ = write!(
        out,
        "<tr class=\"trackers\" data-info-hash=\"{hash}\"><td></td><td colspan=\"{}\">",
        COLUMNS - 1
    );
    if t.trackers.is_empty() {
        out.push_str("no trackers");
    } else {
        out.push_str("<table class=\"trackers\">");
        for tracker in &t.trackers {
            tracker_row(out, t, tracker);
        }
        out.push_str("</table>");
    }
    out.push_str("</td></tr>\n");
}

fn tracker_row(out: &mut String, t: &TorrentSnapshot, tracker: &TrackerStatus) {
    let state = tracker_state(tracker.state);
    // A hybrid torrent is announced under both hashes; say which this is.
    let which = match &t.info_hash_v2 {
        Some(v2) if tracker.info_hash != t.info_hash && v2.starts_with(&tracker.info_hash) => {
            " (v2)"
        }
        Some(_) => " (v1)",
        None => "",
    };
    let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let counts = if tracker.seeders.is_none()
        && tracker.leechers.is_none()
        && tracker.downloaded.is_none()
    {
        String::new()
    } else {
        format!(
            "{} seeders, {} leechers, {} downloaded",
            count(tracker.seeders),
            count(tracker.leechers),
            count(tracker.downloaded)
        )
    };
    let next = tracker
        .next_announce_secs
        .map(|s| format!("next in {}", format::duration(Duration::from_secs(s))))
        .unwrap_or_default();
    let mut notes = String::new();
    if let Some(err) = &tracker.last_error {
        let _ = write!(notes, "<span class=\"error\">{}</span>", escape(err));
    }
    if let Some(warning) = &tracker.warning {
        let _ = write!(notes, " <span class=\"warning\">{}</span>", escape(warning));
    }
    let _ = write!(
        out,
        "<tr class=\"tracker\" data-state=\"{state}\" data-info-hash=\"{hash}\">\
         <td class=\"url\">{url}</td><td class=\"tier\">tier {tier}{which}</td>\
         <td class=\"tracker-state\">{state}</td><td class=\"counts\">{counts}</td>\
         <td class=\"next\">{next}</td><td class=\"notes\">{notes}</td></tr>",
        hash = escape(&tracker.info_hash),
        url = escape(&tracker.url),
        tier = tracker.tier,
    );
}

fn tracker_state(state: TrackerState) -> &'static str {
    match state {
        TrackerState::Idle => "idle",
        TrackerState::Announcing => "announcing",
        TrackerState::Working => "working",
        TrackerState::Failed => "failed",
        TrackerState::Stopped => "stopped",
    }
}

fn ratio(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "–".to_owned()
    }
}

/// `/status.json`: the snapshot as its serde attributes name it.
pub fn json(snapshot: &Snapshot) -> String {
    // Plain structs of strings and numbers cannot fail to serialise; should
    // one ever do, the page says so instead of the task panicking.
    serde_json::to_string(snapshot).unwrap_or_else(|err| {
        serde_json::json!({ "error": format!("cannot serialise the status: {err}") }).to_string()
    })
}

/// Prometheus text exposition format 0.0.4. Per-torrent families are
/// `mktorrent_publish_torrent_*{info_hash="...",name="..."}`, session
/// totals `mktorrent_publish_*`, and each cap in `snapshot.limits` is the
/// counter `mktorrent_publish_<name>_total`. Every family's `# HELP` and
/// `# TYPE` come once, before its samples.
pub fn metrics(snapshot: &Snapshot) -> String {
    let mut out = Metrics {
        text: String::with_capacity(4096 + snapshot.torrents.len() * 1500),
        families: BTreeSet::new(),
    };
    torrent_metrics(&mut out, snapshot);
    session_metrics(&mut out, snapshot);
    limit_metrics(&mut out, snapshot);
    out.text
}

/// Per-torrent families: name, type, help and how to read the value.
const PER_TORRENT: [TorrentFamily; 9] = [
    (
        "torrent_up",
        "gauge",
        "1 while the torrent is seeding, 0 once it stopped.",
        |t| u8::from(t.state == TorrentState::Seeding).to_string(),
    ),
    (
        "torrent_peers",
        "gauge",
        "Open peer connections of the torrent.",
        |t| t.peers.to_string(),
    ),
    (
        "torrent_seeders",
        "gauge",
        "Connected peers that hold every piece.",
        |t| t.seeders.to_string(),
    ),
    (
        "torrent_seeders_seen",
        "gauge",
        "Seeders other than us: the most any one source (tracker, connections) saw.",
        |t| t.other_seeders.to_string(),
    ),
    (
        "torrent_uploaded_bytes_total",
        "counter",
        "Block bytes sent for the torrent.",
        |t| t.uploaded.to_string(),
    ),
    (
        "torrent_upload_rate_bytes",
        "gauge",
        "Upload rate in bytes per second over the last few seconds.",
        |t| t.upload_rate.to_string(),
    ),
    (
        "torrent_completed_total",
        "counter",
        "Completed downloads: the most any one source saw.",
        |t| t.completed.to_string(),
    ),
    (
        "torrent_ratio",
        "gauge",
        "Bytes uploaded divided by the content size.",
        |t| float(t.ratio),
    ),
    (
        "torrent_size_bytes",
        "gauge",
        "Content size in bytes.",
        |t| t.size.to_string(),
    ),
];

/// The families labelled by torrent.
fn torrent_metrics(out: &mut Metrics, snapshot: &Snapshot) {
    let labels: Vec<String> = snapshot
        .torrents
        .iter()
        .map(|t| {
            format!(
                "info_hash=\"{}\",name=\"{}\"",
                label_value(&t.info_hash),
                label_value(&t.name)
            )
        })
        .collect();
    for (name, kind, help, value) in PER_TORRENT {
        if out.family(name, kind, help) {
            for (t, labels) in snapshot.torrents.iter().zip(&labels) {
                out.sample(name, labels, &value(t));
            }
        }
    }
    if out.family(
        "torrent_trackers",
        "gauge",
        "Trackers of the torrent (each announced hash counts) by state.",
    ) {
        for (t, labels) in snapshot.torrents.iter().zip(&labels) {
            for state in [
                TrackerState::Idle,
                TrackerState::Announcing,
                TrackerState::Working,
                TrackerState::Failed,
                TrackerState::Stopped,
            ] {
                let n = t.trackers.iter().filter(|s| s.state == state).count();
                let labels = format!("{labels},state=\"{}\"", tracker_state(state));
                out.sample("torrent_trackers", &labels, &n.to_string());
            }
        }
    }
}

/// Session totals.
fn session_metrics(out: &mut Metrics, s: &Snapshot) {
    let seeding = s
        .torrents
        .iter()
        .filter(|t| t.state == TorrentState::Seeding)
        .count();
    if out.family("torrents", "gauge", "Torrents added, by state.") {
        out.sample("torrents", "state=\"seeding\"", &seeding.to_string());
        let stopped = s.torrents.len() - seeding;
        out.sample("torrents", "state=\"stopped\"", &stopped.to_string());
    }
    let totals = [
        (
            "uptime_seconds",
            "gauge",
            "Seconds since the session started.",
            s.elapsed.as_secs().to_string(),
        ),
        (
            "peers",
            "gauge",
            "Open peer connections, all torrents.",
            s.peers.to_string(),
        ),
        (
            "uploaded_bytes_total",
            "counter",
            "Block bytes sent, all torrents.",
            s.uploaded.to_string(),
        ),
        (
            "upload_rate_bytes",
            "gauge",
            "Upload rate in bytes per second over the last few seconds, all torrents.",
            s.upload_rate.to_string(),
        ),
    ];
    for (name, kind, help, value) in totals {
        if out.family(name, kind, help) {
            out.sample(name, "", &value);
        }
    }
    if out.family(
        "peers_by_transport",
        "gauge",
        "Handshaken peer connections by transport, all torrents.",
    ) {
        out.sample(
            "peers_by_transport",
            "transport=\"tcp\"",
            &s.peers_tcp.to_string(),
        );
        out.sample(
            "peers_by_transport",
            "transport=\"utp\"",
            &s.peers_utp.to_string(),
        );
    }
    if out.family(
        "peers_by_encryption",
        "gauge",
        "Handshaken peer connections by encryption (MSE/PE RC4 or plaintext), all torrents.",
    ) {
        let plain = (s.peers_tcp + s.peers_utp).saturating_sub(s.peers_encrypted);
        out.sample(
            "peers_by_encryption",
            "encryption=\"rc4\"",
            &s.peers_encrypted.to_string(),
        );
        out.sample(
            "peers_by_encryption",
            "encryption=\"plaintext\"",
            &plain.to_string(),
        );
    }
    if out.family(
        "connections_total",
        "counter",
        "Handshaken peer connections since the start, by encryption, all torrents.",
    ) {
        out.sample(
            "connections_total",
            "encryption=\"rc4\"",
            &s.connections_rc4.to_string(),
        );
        out.sample(
            "connections_total",
            "encryption=\"plaintext\"",
            &s.connections_plaintext.to_string(),
        );
    }
    if let Some(nodes) = s.dht_nodes {
        if out.family("dht_nodes", "gauge", "Nodes in the DHT routing table.") {
            out.sample("dht_nodes", "", &nodes.to_string());
        }
    }
}

/// Every cap's refusals and evictions.
fn limit_metrics(out: &mut Metrics, s: &Snapshot) {
    // One family per cap name: should a name repeat, its first HELP wins
    // and the values add up, so the family still appears once.
    let mut limits: Vec<(String, &str, u64)> = Vec::new();
    for limit in &s.limits {
        let name = format!("{}_total", metric_name(limit.name));
        match limits.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, value)) => *value = value.saturating_add(limit.value),
            None => limits.push((name, limit.help, limit.value)),
        }
    }
    for (name, help, value) in limits {
        // A cap named like a family above would repeat it: left out.
        if out.family(&name, "counter", help) {
            out.sample(&name, "", &value.to_string());
        }
    }
}

/// A per-torrent family: name, type, help and how to read its value.
type TorrentFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TorrentSnapshot) -> String,
);

/// The text being built and the families already written.
struct Metrics {
    text: String,
    families: BTreeSet<String>,
}

impl Metrics {
    /// Writes `# HELP` and `# TYPE` for `mktorrent_publish_<name>`;
    /// `false` (nothing written) if that family was written already.
    fn family(&mut self, name: &str, kind: &str, help: &str) -> bool {
        if !self.families.insert(name.to_owned()) {
            return false;
        }
        let _ = writeln!(
            self.text,
            "# HELP mktorrent_publish_{name} {}\n# TYPE mktorrent_publish_{name} {kind}",
            help_text(help)
        );
        true
    }

    fn sample(&mut self, name: &str, labels: &str, value: &str) {
        if labels.is_empty() {
            let _ = writeln!(self.text, "mktorrent_publish_{name} {value}");
        } else {
            let _ = writeln!(self.text, "mktorrent_publish_{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as format 0.0.4 quotes it: `\`, `"` and newline escaped.
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `# HELP` text: backslash and newline escaped (quotes may stay).
fn help_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A metric name fragment: anything outside `[a-zA-Z0-9_]` becomes `_`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A float as Prometheus writes one: `NaN`, `+Inf`, `-Inf` or decimal.
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::publish::snapshot::LimitCount;
    use crate::publish::StopReason;

    const HOSTILE: &str = "<script>alert(\"x\\y\")</script>\n& 'q'";

    fn tracker(url: &str, hash: &str, state: TrackerState, error: Option<&str>) -> TrackerStatus {
        TrackerStatus {
            url: url.to_owned(),
            tier: 0,
            info_hash: hash.to_owned(),
            state,
            last_error: error.map(str::to_owned),
            warning: None,
            seeders: Some(3),
            leechers: None,
            downloaded: Some(7),
            peers_received: 4,
            announces: 2,
            failures: u64::from(error.is_some()),
            next_announce_secs: Some(1800),
        }
    }

    fn torrent(name: &str, hash: char, state: TorrentState) -> TorrentSnapshot {
        let info_hash = hash.to_string().repeat(40);
        TorrentSnapshot {
            name: name.to_owned(),
            trackers: vec![tracker(
                "http://tracker.test/announce",
                &info_hash,
                TrackerState::Working,
                None,
            )],
            info_hash,
            info_hash_v2: None,
            size: 1 << 20,
            state,
            seeding_for: Duration::from_secs(90),
            peers: 2,
            seeders: 1,
            uploaded: 3 << 19,
            upload_rate: 1024 * 1024 + 200 * 1024,
            ratio: 1.5,
            completed: 2,
            other_seeders: 4,
            idle: Some(Duration::from_secs(200)),
        }
    }

    fn two_torrents() -> Snapshot {
        let mut hybrid = torrent(HOSTILE, 'b', TorrentState::Stopped(StopReason::SeedTime));
        hybrid.info_hash_v2 = Some("c".repeat(64));
        hybrid.idle = None;
        hybrid.ratio = f64::NAN;
        hybrid.trackers.push(tracker(
            "udp://tracker.test:6969/<x>",
            &"c".repeat(40),
            TrackerState::Failed,
            Some("<b>refused</b> & \"gone\""),
        ));
        let listen: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        Snapshot {
            elapsed: Duration::from_secs(3700),
            listen: Some(listen),
            dht: Some(listen),
            torrents: vec![torrent("plain.iso", 'a', TorrentState::Seeding), hybrid],
            peers: 3,
            peers_tcp: 1,
            peers_utp: 1,
            peers_encrypted: 1,
            connections_rc4: 4,
            connections_plaintext: 6,
            uploaded: 5 << 20,
            upload_rate: 2048,
            dht_nodes: Some(57),
            limits: vec![
                LimitCount {
                    name: "seeder_refused_per_ip",
                    help: "Connections refused: one address held its share.",
                    value: 5,
                },
                LimitCount {
                    name: "seeder_evicted_total_cap",
                    help: "Connections evicted for a newcomer.",
                    value: 1,
                },
            ],
        }
    }

    #[test]
    fn html_escapes_hostile_names_and_errors() {
        let page = html(&two_torrents(), Duration::from_secs(5));
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>refused"), "{page}");
        assert!(!page.contains("/<x>"), "{page}");
        assert!(page.contains(
            "<td class=\"name\">&lt;script&gt;alert(&quot;x\\y&quot;)&lt;/script&gt;\n&amp; &#39;q&#39;</td>"
        ));
        assert!(page.contains("&lt;b&gt;refused&lt;/b&gt; &amp; &quot;gone&quot;"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        // A zero refresh would reload in a tight loop.
        assert!(html(&Snapshot::default(), Duration::ZERO).contains("content=\"1\""));
    }

    #[test]
    fn html_lists_both_torrents_with_state_hashes_and_trackers() {
        let page = html(&two_torrents(), Duration::from_secs(5));
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        assert!(page.contains(&format!(
            "<tr class=\"torrent\" data-info-hash=\"{a}\" data-state=\"seeding\">"
        )));
        assert!(page.contains(&format!(
            "<tr class=\"torrent\" data-info-hash=\"{b}\" data-state=\"stopped\">"
        )));
        assert!(page.contains("<td class=\"name\">plain.iso</td>"));
        assert!(page.contains("stopped: seed time reached"));
        assert!(page.contains(&format!("<code class=\"v2\">{}</code>", "c".repeat(64))));
        for part in [
            "<td class=\"upload-rate num\">1.20 MiB/s</td>",
            "<td class=\"uploaded num\">1.50 MiB</td>",
            "<td class=\"ratio num\">1.50</td>",
            "<td class=\"ratio num\">–</td>",
            "<td class=\"completed num\">2</td>",
            "<td class=\"seeders num\">4</td>",
            "<td class=\"idle\">3m 20s</td>",
            "<td class=\"idle\">never requested</td>",
            "<tr class=\"tracker\" data-state=\"failed\"",
            "tier 0 (v2)",
            "3 seeders, ? leechers, 7 downloaded",
            "next in 30m 00s",
            "<td data-field=\"listen\">127.0.0.1:6881</td>",
            "<td data-field=\"peers\">3 (tcp 1, utp 1; rc4 1, plain 1)</td>",
            "<td data-field=\"dht\">127.0.0.1:6881, 57 nodes</td>",
            "<td data-field=\"uploaded\">5 MiB</td>",
            "<td data-field=\"upload-rate\">2 KiB/s</td>",
            "<td data-field=\"elapsed\">1h 01m</td>",
            "Torrents: 2 (1 seeding)",
        ] {
            assert!(page.contains(part), "{part} missing:\n{page}");
        }
    }

    #[test]
    fn html_caps_its_rows_but_not_the_count() {
        let mut snapshot = Snapshot::default();
        assert!(html(&snapshot, Duration::from_secs(5)).contains("No torrents yet."));
        snapshot.torrents = vec![torrent("x", 'a', TorrentState::Seeding); PAGE_ROWS + 1];
        let page = html(&snapshot, Duration::from_secs(5));
        assert_eq!(page.matches("<tr class=\"torrent\"").count(), PAGE_ROWS);
        assert!(page.contains(&format!("of {} torrents are shown", PAGE_ROWS + 1)));
    }

    #[test]
    fn json_names_fields_as_the_snapshot_says() {
        let value: serde_json::Value = serde_json::from_str(&json(&two_torrents())).unwrap();
        assert_eq!(value["elapsed_secs"], 3700);
        assert_eq!(value["listen"], "127.0.0.1:6881");
        assert_eq!(value["torrents"].as_array().unwrap().len(), 2);
        let (a, b) = (&value["torrents"][0], &value["torrents"][1]);
        assert_eq!(a["name"], "plain.iso");
        assert_eq!(a["state"], "seeding");
        assert!(a.get("reason").is_none(), "{a}");
        assert_eq!(a["idle_secs"], 200);
        assert_eq!(a["seeding_secs"], 90);
        assert_eq!(b["name"], HOSTILE);
        assert_eq!(b["state"], "stopped");
        assert_eq!(b["reason"], "seed-time");
        assert_eq!(b["idle_secs"], serde_json::Value::Null);
        assert_eq!(b["info_hash_v2"], "c".repeat(64));
        // NaN has no JSON form: null.
        assert_eq!(b["ratio"], serde_json::Value::Null);
        assert_eq!(b["trackers"][1]["state"], "failed");
        assert_eq!(value["limits"][0]["name"], "seeder_refused_per_ip");
    }

    /// A strict reading of format 0.0.4 for what we emit: every sample is
    /// `name{labels} value` (labels optional, values quoted and escaped),
    /// each family's HELP and TYPE come once and before its samples, and a
    /// family's samples are contiguous. Returns (family, labels, value).
    fn check_exposition(text: &str) -> Vec<(String, String, f64)> {
        let mut helped = BTreeSet::new();
        let mut typed = BTreeSet::new();
        let mut finished = BTreeSet::new();
        let mut current = String::new();
        let mut samples = Vec::new();
        assert!(text.ends_with('\n'), "no final newline");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
                assert!(valid_name(name), "bad name in {line:?}");
                match kind {
                    "HELP" => assert!(helped.insert(name.to_owned()), "second HELP: {line}"),
                    "TYPE" => {
                        assert!(typed.insert(name.to_owned()), "second TYPE: {line}");
                        let ty = parts.next().unwrap_or("");
                        assert!(["counter", "gauge"].contains(&ty), "{line}");
                        if ty == "counter" {
                            assert!(name.ends_with("_total"), "{line}");
                        }
                    }
                    _ => panic!("unknown comment {line:?}"),
                }
                continue;
            }
            let name_end = line
                .find(['{', ' '])
                .unwrap_or_else(|| panic!("no value: {line:?}"));
            let name = &line[..name_end];
            assert!(valid_name(name), "bad name in {line:?}");
            assert!(typed.contains(name), "sample before its TYPE: {line:?}");
            if name != current {
                assert!(finished.insert(current.clone()), "{name} split: {line:?}");
                current = name.to_owned();
            }
            let mut rest = &line[name_end..];
            let mut labels = String::new();
            if let Some(inner) = rest.strip_prefix('{') {
                let close = labels_end(inner).unwrap_or_else(|| panic!("bad labels: {line:?}"));
                labels = inner[..close].to_owned();
                rest = &inner[close + 1..];
            }
            let value = rest
                .strip_prefix(' ')
                .unwrap_or_else(|| panic!("no space before value: {line:?}"));
            let value = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value: {line:?}")),
            };
            samples.push((name.to_owned(), labels, value));
        }
        assert_eq!(helped, typed, "HELP and TYPE differ");
        samples
    }

    fn valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    /// Where the `}` closing `k="v",k="v"` is, checking every escape.
    fn labels_end(inner: &str) -> Option<usize> {
        let bytes = inner.as_bytes();
        let mut i = 0;
        loop {
            let eq = inner[i..].find('=')? + i;
            if !valid_name(&inner[i..eq]) || bytes.get(eq + 1) != Some(&b'"') {
                return None;
            }
            i = eq + 2;
            loop {
                match bytes.get(i)? {
                    b'\\' => {
                        if !matches!(bytes.get(i + 1)?, b'\\' | b'"' | b'n') {
                            return None;
                        }
                        i += 2;
                    }
                    b'\n' => return None,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            i += 1;
            match bytes.get(i)? {
                b'}' => return Some(i),
                b',' => i += 1,
                _ => return None,
            }
        }
    }

    #[test]
    fn metrics_parse_strictly_with_both_torrents() {
        let text = metrics(&two_torrents());
        let samples = check_exposition(&text);
        let value = |name: &str, labels: &str| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l == labels)
                .map(|(_, _, v)| *v)
                .unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
        };
        let a = format!("info_hash=\"{}\",name=\"plain.iso\"", "a".repeat(40));
        let b = format!(
            "info_hash=\"{}\",name=\"<script>alert(\\\"x\\\\y\\\")</script>\\n& 'q'\"",
            "b".repeat(40)
        );
        assert_eq!(value("mktorrent_publish_torrent_up", &a), 1.0);
        assert_eq!(value("mktorrent_publish_torrent_up", &b), 0.0);
        assert_eq!(value("mktorrent_publish_torrent_peers", &a), 2.0);
        assert_eq!(value("mktorrent_publish_torrent_seeders", &b), 1.0);
        assert_eq!(
            value("mktorrent_publish_torrent_uploaded_bytes_total", &a),
            f64::from(3 << 19)
        );
        assert_eq!(value("mktorrent_publish_torrent_completed_total", &b), 2.0);
        assert_eq!(value("mktorrent_publish_torrent_ratio", &a), 1.5);
        assert!(value("mktorrent_publish_torrent_ratio", &b).is_nan());
        assert_eq!(
            value(
                "mktorrent_publish_torrent_trackers",
                &format!("{b},state=\"failed\"")
            ),
            1.0
        );
        assert_eq!(
            value("mktorrent_publish_torrents", "state=\"stopped\""),
            1.0
        );
        assert_eq!(
            value("mktorrent_publish_peers_by_transport", "transport=\"utp\""),
            1.0
        );
        assert_eq!(
            value(
                "mktorrent_publish_peers_by_encryption",
                "encryption=\"rc4\""
            ),
            1.0
        );
        assert_eq!(
            value(
                "mktorrent_publish_peers_by_encryption",
                "encryption=\"plaintext\""
            ),
            1.0
        );
        assert_eq!(
            value("mktorrent_publish_connections_total", "encryption=\"rc4\""),
            4.0
        );
        assert_eq!(value("mktorrent_publish_dht_nodes", ""), 57.0);
        assert_eq!(
            value("mktorrent_publish_uploaded_bytes_total", ""),
            5.0 * 1048576.0
        );
        assert_eq!(
            value("mktorrent_publish_seeder_refused_per_ip_total", ""),
            5.0
        );
        assert_eq!(
            value("mktorrent_publish_seeder_evicted_total_cap_total", ""),
            1.0
        );
        assert!(text.contains(
            "# HELP mktorrent_publish_seeder_refused_per_ip_total \
             Connections refused: one address held its share.\n"
        ));
    }

    #[test]
    fn metrics_write_each_family_once_whatever_the_input() {
        let mut snapshot = two_torrents();
        snapshot.dht_nodes = None;
        // A repeated cap, one with a stray character, one named like a
        // built-in family: each family still appears once.
        snapshot.limits.extend([
            LimitCount {
                name: "seeder_refused_per_ip",
                help: "again",
                value: 2,
            },
            LimitCount {
                name: "bad-name",
                help: "back\\slash\nnewline",
                value: 1,
            },
            LimitCount {
                name: "uploaded_bytes",
                help: "clash",
                value: 9,
            },
        ]);
        let text = metrics(&snapshot);
        let samples = check_exposition(&text);
        assert!(text.contains("mktorrent_publish_seeder_refused_per_ip_total 7\n"));
        assert!(text.contains("# HELP mktorrent_publish_bad_name_total back\\\\slash\\nnewline\n"));
        assert!(text.contains("mktorrent_publish_uploaded_bytes_total 5242880\n"));
        assert!(!text.contains("dht_nodes"));
        assert_eq!(
            samples
                .iter()
                .filter(|(n, _, _)| n == "mktorrent_publish_torrent_peers")
                .count(),
            2
        );
        check_exposition(&metrics(&Snapshot::default()));
    }

    #[test]
    fn the_checker_rejects_what_prometheus_would() {
        for bad in [
            "x 1\n",
            "# TYPE x gauge\nx{a=\"b} 1\n",
            "# TYPE x gauge\nx{a=\"\\q\"} 1\n",
            "# TYPE x gauge\nx 1\n# TYPE x gauge\n",
            "# TYPE x gauge\nx one\n",
            "# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx 2\n",
        ] {
            assert!(
                std::panic::catch_unwind(|| check_exposition(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
