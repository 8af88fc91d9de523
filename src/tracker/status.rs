//! The status page (`/`), `/stats.json` and Prometheus text (`/metrics`),
//! rendered from plain values. Pure.

use std::collections::HashMap;
use std::fmt::Write;

use crate::format::escape_html as escape;
use crate::metainfo::hex;

use super::keys::{KeyCounters, KeyId};
use super::swarm::{Counts, Id20, Totals};
use super::Counter;

/// Most torrents listed on the HTML page; totals always cover all.
pub const PAGE_ROWS: usize = 1000;

/// The HTML status page: one row per torrent, names when known.
pub fn html(totals: &Totals, torrents: &[(Id20, Counts)], names: &HashMap<Id20, String>) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mktorrent-rs tracker</title>\
         <style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}\
         td:first-child,th:first-child{text-align:left;font-family:monospace}</style></head><body>\n\
         <h1>mktorrent-rs tracker</h1>\n<table>\n\
         <tr><th>info hash</th><th>name</th><th>seeders</th><th>leechers</th><th>completed</th></tr>\n",
    );
    for (hash, counts) in torrents.iter().take(PAGE_ROWS) {
        let name = names.get(hash).map(|n| escape(n)).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td style=\"text-align:left\">{name}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            hex(hash),
            counts.seeders,
            counts.leechers,
            counts.completed
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>{} torrents</th><th></th><th>{}</th><th>{}</th><th>{}</th></tr>\n</table>",
        totals.torrents, totals.seeders, totals.leechers, totals.completed
    );
    if torrents.len() > PAGE_ROWS {
        let _ = writeln!(out, "<p>First {PAGE_ROWS} torrents shown.</p>");
    }
    out.push_str("</body></html>\n");
    out
}

/// `/stats.json`: totals and request counters.
pub fn json(totals: &Totals, counters: &[(Counter, u64)]) -> String {
    json_value(totals, counters).to_string()
}

/// `/stats.json` in private mode: also `"keys"`, counters per passkey
/// named by its [`KeyId`] (never the key itself).
pub fn json_with_keys(
    totals: &Totals,
    counters: &[(Counter, u64)],
    keys: &[(KeyId, KeyCounters)],
) -> String {
    let mut value = json_value(totals, counters);
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
    value.to_string()
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

    #[test]
    fn html_escapes_names_and_shows_totals() {
        let names = HashMap::from([([1; 20], "<b>x & y</b>".to_owned())]);
        let counts = Counts {
            seeders: 2,
            leechers: 3,
            completed: 4,
        };
        let totals = Totals {
            torrents: 1,
            seeders: 2,
            leechers: 3,
            completed: 4,
            limits: Default::default(),
        };
        let page = html(&totals, &[([1; 20], counts)], &names);
        assert!(page.contains("&lt;b&gt;x &amp; y&lt;/b&gt;"));
        assert!(page.contains(&hex(&[1; 20])));
        assert!(page.contains("<th>1 torrents</th>"));
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
