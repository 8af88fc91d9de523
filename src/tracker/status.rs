//! The status page (`/`), `/stats.json` and Prometheus text (`/metrics`),
//! rendered from plain values. Pure.
//!
//! [`rows`] joins the swarms with the allowed directory: a hybrid's two
//! swarms (v1 hash, truncated v2 hash) become one row, and directory
//! torrents nobody announced yet are listed with zero counts. The page and
//! `/stats.json` show the same rows, at most [`PAGE_ROWS`] of them.

use std::fmt::Write;

use crate::format::escape_html as escape;
use crate::metainfo::hex;

use super::access::{Access, DirTorrent};
use super::keys::{KeyCounters, KeyId};
use super::swarm::{Counts, Id20, Totals};
use super::Counter;

/// Most torrents listed on the HTML page; totals always cover all.
pub const PAGE_ROWS: usize = 1000;

/// What the page header says besides the totals.
#[derive(Debug, Clone, Copy)]
pub struct PageInfo<'a> {
    pub version: &'a str,
    pub uptime: std::time::Duration,
    /// `--allow-get`: names link to the `.torrent` download.
    pub allow_get: bool,
    /// Link a full scrape at this path (only when it is served).
    pub full_scrape: Option<&'a str>,
}

/// One torrent of the page: a directory torrent (both hashes of a hybrid)
/// or a swarm the directory does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    pub name: Option<&'a str>,
    /// From the allowed directory: its hashes and file.
    pub torrent: Option<&'a DirTorrent>,
    /// The announced hash of a swarm not from the directory.
    pub hash: Option<Id20>,
    /// Summed over the torrent's swarms: a client announcing a hybrid
    /// under both hashes counts twice.
    pub counts: Counts,
    pub announced: bool,
}

/// The rows of the page, busiest first (then by name), at most
/// [`PAGE_ROWS`]; and how many there are in all.
pub fn rows<'a>(swarms: &[(Id20, Counts)], access: &'a Access) -> (Vec<Row<'a>>, usize) {
    let dir = access.dir_torrents();
    let mut rows: Vec<Row<'a>> = dir
        .iter()
        .map(|t| Row {
            name: Some(t.name.as_str()),
            torrent: Some(t),
            hash: None,
            counts: Counts::default(),
            announced: false,
        })
        .collect();
    for (hash, counts) in swarms {
        let index = access
            .dir_torrent(hash)
            .and_then(|t| dir.iter().position(|d| std::ptr::eq(d, t)));
        let row = if let Some(i) = index {
            &mut rows[i]
        } else {
            rows.push(Row {
                name: access.names.get(hash).map(String::as_str),
                torrent: None,
                hash: Some(*hash),
                counts: Counts::default(),
                announced: false,
            });
            let last = rows.len() - 1;
            &mut rows[last]
        };
        row.counts.seeders = row.counts.seeders.saturating_add(counts.seeders);
        row.counts.leechers = row.counts.leechers.saturating_add(counts.leechers);
        row.counts.completed = row.counts.completed.saturating_add(counts.completed);
        row.announced = true;
    }
    let total = rows.len();
    let order = |a: &Row<'_>, b: &Row<'_>| {
        let active = |r: &Row<'_>| {
            (
                u64::from(r.counts.seeders) + u64::from(r.counts.leechers),
                r.counts.completed,
            )
        };
        active(b)
            .cmp(&active(a))
            .then(b.announced.cmp(&a.announced))
            .then(a.name.is_none().cmp(&b.name.is_none()))
            .then(a.name.cmp(&b.name))
            .then(first_hash(a).cmp(&first_hash(b)))
    };
    // Only the shown rows are sorted: a million swarms cost one pass.
    if rows.len() > PAGE_ROWS {
        rows.select_nth_unstable_by(PAGE_ROWS, order);
        rows.truncate(PAGE_ROWS);
    }
    rows.sort_unstable_by(order);
    (rows, total)
}

fn first_hash(row: &Row<'_>) -> Option<Id20> {
    row.hash
        .or_else(|| row.torrent.and_then(|t| t.hashes().next()))
}

/// Where `--allow-get` serves a directory torrent: by its v1 hash, or a
/// v2-only torrent by its full v2 hash.
pub fn download_path(torrent: &DirTorrent) -> String {
    match (torrent.v1, torrent.v2) {
        (Some(v1), _) => format!("/torrents/{}.torrent", hex(&v1)),
        (None, Some(v2)) => format!("/torrents/{}.torrent", hex(&v2)),
        (None, None) => String::new(),
    }
}

/// The torrent a `/torrents/HEX.torrent` request names, if it is one of
/// `access`'s: HEX is 40 digits (v1 or truncated v2) or 64 (full v2).
pub fn download_target<'a>(path: &str, access: &'a Access) -> Option<&'a DirTorrent> {
    let hex = path.strip_prefix("/torrents/")?.strip_suffix(".torrent")?;
    let bytes = unhex(hex)?;
    match bytes.len() {
        20 => access.dir_torrent(&bytes.as_slice().try_into().ok()?),
        32 => {
            let v2: [u8; 32] = bytes.as_slice().try_into().ok()?;
            access
                .dir_torrent(&super::access::truncate(&v2))
                .filter(|t| t.v2 == Some(v2))
        }
        _ => None,
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The tracker's status page: version, uptime, totals, links, and one
/// row per torrent (`rows` from [`rows`], `total` of them in all).
pub fn page(info: &PageInfo<'_>, totals: &Totals, rows: &[Row<'_>], total: usize) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mktorrent-rs tracker</title>\
         <style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}\
         td.name,th.name{text-align:left}td.hash{text-align:left;font-family:monospace}\
         tr.unannounced{color:#777}</style></head><body>\n<h1>mktorrent-rs tracker</h1>\n",
    );
    let _ = write!(
        out,
        "<p class=\"about\">version <span class=\"version\">{}</span>, up <span class=\"uptime\">{}</span>. \
         {} swarms, {} seeders, {} leechers, {} completed.</p>\n<p class=\"links\">\
         <a href=\"/stats.json\">/stats.json</a> <a href=\"/metrics\">/metrics</a>",
        escape(info.version),
        crate::format::duration(info.uptime),
        totals.torrents,
        totals.seeders,
        totals.leechers,
        totals.completed
    );
    if let Some(scrape) = info.full_scrape {
        let scrape = escape(scrape);
        let _ = write!(out, " <a href=\"{scrape}\">{scrape}</a>");
    }
    out.push_str(
        "</p>\n<table>\n<tr><th class=\"name\">name</th><th class=\"name\">info hash</th>\
         <th>seeders</th><th>leechers</th><th>completed</th></tr>\n",
    );
    for row in rows {
        let name = row.name.map(escape).unwrap_or_default();
        let name = match row.torrent {
            Some(t) if info.allow_get => {
                format!(
                    "<a class=\"download\" href=\"{}\">{name}</a>",
                    download_path(t)
                )
            }
            _ => name,
        };
        let hashes = match (row.torrent, row.hash) {
            (Some(t), _) => {
                let mut cell = String::new();
                if let Some(v1) = t.v1 {
                    let _ = write!(cell, "v1 <code class=\"v1\">{}</code>", hex(&v1));
                }
                if let Some(v2) = t.v2 {
                    if !cell.is_empty() {
                        cell.push_str("<br>");
                    }
                    let _ = write!(
                        cell,
                        "v2 <code class=\"v2\">{}</code> (announced as <code class=\"v2-short\">{}</code>)",
                        hex(&v2),
                        hex(&v2[..20])
                    );
                }
                cell
            }
            (None, Some(hash)) => format!("<code>{}</code>", hex(&hash)),
            (None, None) => String::new(),
        };
        let (class, note) = if row.announced {
            ("torrent", "")
        } else {
            ("torrent unannounced", " <em>(not announced yet)</em>")
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td class=\"name\">{name}{note}</td><td class=\"hash\">{hashes}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            row.counts.seeders, row.counts.leechers, row.counts.completed
        );
    }
    out.push_str("</table>\n");
    if total > rows.len() {
        let _ = writeln!(
            out,
            "<p>First {} of {total} torrents shown.</p>",
            rows.len()
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// `/stats.json` with the page's rows (`"rows"`, `"rows_total"`),
/// `"version"` and `"uptime_seconds"` added.
pub fn json_with_rows(
    totals: &Totals,
    counters: &[(Counter, u64)],
    info: &PageInfo<'_>,
    rows: &[Row<'_>],
    total: usize,
    keys: Option<&[(KeyId, KeyCounters)]>,
) -> String {
    let mut value = json_value(totals, counters);
    if let Some(keys) = keys {
        add_keys(&mut value, keys);
    }
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut entry = serde_json::json!({
                "name": row.name,
                "seeders": row.counts.seeders,
                "leechers": row.counts.leechers,
                "completed": row.counts.completed,
                "announced": row.announced,
            });
            if let Some(hash) = row.hash {
                entry["info_hash"] = hex(&hash).into();
            }
            if let Some(t) = row.torrent {
                if let Some(v1) = t.v1 {
                    entry["info_hash"] = hex(&v1).into();
                }
                if let Some(v2) = t.v2 {
                    entry["info_hash_v2"] = hex(&v2).into();
                    entry["info_hash_v2_announced"] = hex(&v2[..20]).into();
                }
                if info.allow_get {
                    entry["download"] = download_path(t).into();
                }
            }
            entry
        })
        .collect();
    value["rows"] = rows.into();
    value["rows_total"] = total.into();
    value["version"] = info.version.into();
    value["uptime_seconds"] = info.uptime.as_secs().into();
    value.to_string()
}

/// `/stats.json`: totals and request counters.
pub fn json(totals: &Totals, counters: &[(Counter, u64)]) -> String {
    json_value(totals, counters).to_string()
}

/// Private mode: `"keys"`, counters per passkey named by its [`KeyId`]
/// (never the key itself).
fn add_keys(value: &mut serde_json::Value, keys: &[(KeyId, KeyCounters)]) {
    let rows: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|(id, c)| {
            let row = serde_json::json!({
                "announces": c.announces,
                "uploaded": c.uploaded,
                "downloaded": c.downloaded,
            });
            (id.to_string(), row)
        })
        .collect();
    value["keys"] = serde_json::Value::Object(rows);
}

fn json_value(totals: &Totals, counters: &[(Counter, u64)]) -> serde_json::Value {
    let requests: serde_json::Map<String, serde_json::Value> = counters
        .iter()
        .map(|(c, n)| (c.json_key().to_owned(), serde_json::Value::from(*n)))
        .collect();
    serde_json::json!({
        "torrents": totals.torrents,
        "seeders": totals.seeders,
        "leechers": totals.leechers,
        "peers": totals.seeders + totals.leechers,
        "completed": totals.completed,
        "counters": requests,
        "limits": totals.limits,
    })
}

/// Prometheus text exposition format (version 0.0.4).
pub fn prometheus(totals: &Totals, counters: &[(Counter, u64)]) -> String {
    let mut out = String::new();
    let gauges = [
        (
            "tracker_torrents",
            "Swarms tracked.",
            totals.torrents as u64,
        ),
        ("tracker_seeders", "Seeders stored.", totals.seeders),
        ("tracker_leechers", "Leechers stored.", totals.leechers),
        (
            "tracker_completed",
            "Completed downloads counted.",
            totals.completed,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let l = &totals.limits;
    let _ = writeln!(
        out,
        "# HELP tracker_limit_refused_total Announces refused by a limit.\n\
         # TYPE tracker_limit_refused_total counter"
    );
    for (limit, value) in [
        ("max_torrents", l.refused_torrents),
        ("max_ports_per_ip", l.refused_ports_per_ip),
        ("max_peers_per_ip", l.refused_peers_per_ip),
        ("max_total_peers", l.refused_tracker_full),
    ] {
        let _ = writeln!(
            out,
            "tracker_limit_refused_total{{limit=\"{limit}\"}} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tracker_limit_evicted_total Peers evicted to make room for a newcomer.\n\
         # TYPE tracker_limit_evicted_total counter"
    );
    for (limit, value) in [
        ("max_peers", l.evicted_swarm_full),
        ("max_total_peers", l.evicted_tracker_full),
    ] {
        let _ = writeln!(
            out,
            "tracker_limit_evicted_total{{limit=\"{limit}\"}} {value}"
        );
    }
    let mut last = "";
    for (counter, value) in counters {
        let (name, labels) = counter.prometheus();
        if name != last {
            let help = match name {
                "requests" => "Requests by protocol, kind and result.",
                "bytes" => "Request and reply bytes.",
                _ => "Requests refused by the per-IP rate limit.",
            };
            let _ = writeln!(
                out,
                "# HELP tracker_{name}_total {help}\n# TYPE tracker_{name}_total counter"
            );
            last = name;
        }
        if labels.is_empty() {
            let _ = writeln!(out, "tracker_{name}_total {value}");
        } else {
            let _ = writeln!(out, "tracker_{name}_total{{{labels}}} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_torrent(name: &str, v1: Option<u8>, v2: Option<u8>) -> DirTorrent {
        DirTorrent {
            name: name.to_owned(),
            v1: v1.map(|b| [b; 20]),
            v2: v2.map(|b| [b; 32]),
            path: format!("/dir/{name}.torrent").into(),
        }
    }

    fn info(allow_get: bool) -> PageInfo<'static> {
        PageInfo {
            version: "9.9.9",
            uptime: std::time::Duration::from_secs(200),
            allow_get,
            full_scrape: None,
        }
    }

    fn counts(seeders: u32, leechers: u32, completed: u32) -> Counts {
        Counts {
            seeders,
            leechers,
            completed,
        }
    }

    /// A hybrid (announced under both hashes), a v1 torrent nobody
    /// announced, and a swarm the directory does not know.
    fn sample() -> (Access, Vec<(Id20, Counts)>) {
        let mut access = Access::default();
        access.add_dir_torrent(dir_torrent("<script>hy & brid", Some(1), Some(2)));
        access.add_dir_torrent(dir_torrent("quiet", Some(3), None));
        let swarms = vec![
            ([1; 20], counts(1, 2, 3)),
            ([2; 20], counts(1, 0, 1)),
            ([9; 20], counts(0, 1, 0)),
        ];
        (access, swarms)
    }

    #[test]
    fn a_hybrid_is_one_row_with_both_hashes_and_summed_counts() {
        let (access, swarms) = sample();
        let (rows, total) = rows(&swarms, &access);
        assert_eq!(total, 3);
        let names: Vec<_> = rows.iter().map(|r| r.name).collect();
        assert_eq!(names, [Some("<script>hy & brid"), None, Some("quiet")]);
        assert_eq!(rows[0].counts, counts(2, 2, 4));
        assert!(rows[0].announced && !rows[2].announced);
        let page = page(&info(false), &Totals::default(), &rows, total);
        assert_eq!(page.matches("<tr class=\"torrent").count(), 3, "{page}");
        let hybrid = page.lines().find(|l| l.contains("hy &amp; brid")).unwrap();
        assert!(hybrid.contains(&hex(&[1; 20])), "{hybrid}");
        assert!(hybrid.contains(&hex(&[2; 32])), "{hybrid}");
        assert!(hybrid.contains(&hex(&[2; 20])), "{hybrid}");
        assert!(
            hybrid.contains("<td>2</td><td>2</td><td>4</td>"),
            "{hybrid}"
        );
        let quiet = page.lines().find(|l| l.contains("quiet")).unwrap();
        assert!(quiet.contains("unannounced") && quiet.contains("not announced yet"));
    }

    #[test]
    fn names_are_escaped_and_header_has_version_uptime_and_links() {
        let (access, swarms) = sample();
        let (rows, total) = rows(&swarms, &access);
        let page = page(&info(false), &Totals::default(), &rows, total);
        assert!(page.contains("&lt;script&gt;hy &amp; brid"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        for part in [
            "9.9.9",
            "3m 20s",
            "href=\"/stats.json\"",
            "href=\"/metrics\"",
        ] {
            assert!(page.contains(part), "{part} not in {page}");
        }
        assert!(!page.contains("/scrape"), "no full scrape, no link");
    }

    #[test]
    fn allow_get_links_names_to_their_file_and_resolves_only_known_hashes() {
        let (mut access, swarms) = sample();
        access.add_dir_torrent(dir_torrent("v2 only", None, Some(4)));
        let (rows, total) = rows(&swarms, &access);
        let without = page(&info(false), &Totals::default(), &rows, total);
        assert!(!without.contains("/torrents/"), "{without}");
        let with = page(&info(true), &Totals::default(), &rows, total);
        let link = format!(
            "<a class=\"download\" href=\"/torrents/{}.torrent\">",
            hex(&[1; 20])
        );
        assert!(with.contains(&link), "{with}");
        let v2 = format!("/torrents/{}.torrent", hex(&[4; 32]));
        assert!(with.contains(&v2), "{with}");
        let name = |p: &str| download_target(p, &access).map(|t| t.name.as_str());
        assert_eq!(
            name(&format!("/torrents/{}.torrent", hex(&[2; 20]))),
            Some("<script>hy & brid")
        );
        assert_eq!(name(&v2), Some("v2 only"));
        assert_eq!(name(&format!("/torrents/{}.torrent", hex(&[9; 20]))), None);
        assert_eq!(
            name(&format!(
                "/torrents/{}{}.torrent",
                hex(&[4; 20]),
                "00".repeat(12)
            )),
            None
        );
        assert_eq!(name("/torrents/../../etc/passwd.torrent"), None);
        assert_eq!(name(&format!("/torrents/{}", hex(&[1; 20]))), None);
    }

    #[test]
    fn json_carries_the_rows_with_both_hashes() {
        let (access, swarms) = sample();
        let (rows, total) = rows(&swarms, &access);
        let text = json_with_rows(&Totals::default(), &[], &info(true), &rows, total, None);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["rows_total"], 3);
        assert_eq!(value["version"], "9.9.9");
        let hybrid = &value["rows"][0];
        assert_eq!(hybrid["info_hash"], hex(&[1; 20]));
        assert_eq!(hybrid["info_hash_v2"], hex(&[2; 32]));
        assert_eq!(hybrid["info_hash_v2_announced"], hex(&[2; 20]));
        assert_eq!(hybrid["seeders"], 2);
        assert_eq!(value["rows"][2]["announced"], false);
        assert_eq!(value["rows"][1]["info_hash"], hex(&[9; 20]));
        assert!(value["rows"][1].get("download").is_none());
        assert_eq!(value["torrents"], 0, "the old fields stay");
    }

    #[test]
    fn prometheus_groups_counters_under_one_help_line() {
        let counters: Vec<(Counter, u64)> = Counter::ALL.iter().map(|c| (*c, 1)).collect();
        let text = prometheus(&Totals::default(), &counters);
        assert_eq!(
            text.matches("# TYPE tracker_requests_total counter")
                .count(),
            1
        );
        assert!(text.contains(
            "tracker_requests_total{protocol=\"udp\",kind=\"announce\",result=\"ok\"} 1"
        ));
        assert!(text.contains("tracker_rate_limited_total 1"));
    }
}
