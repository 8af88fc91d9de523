//! What publish prints: one `ready` per torrent, the engine's events and
//! the status lines, as JSON lines (`--json`) or for people on stderr. The
//! magnet links go to stdout, the one thing scripts want.

use std::collections::HashMap;
use std::io::Write;

use serde_json::{json, Value};

use super::{Plan, Prepared};
use crate::announce::TrackerState;
use crate::env::Env;
use crate::error::Result;
use crate::metainfo::{hex, Version};
use crate::publish::session::{Event, Publisher, Snapshot, Summary, TorrentRef};
use crate::publish::{self as logic, Status};

/// Prints one event: a JSON line with `--json`, else nothing (human output
/// is written where each event happens).
pub(super) fn emit(env: &mut Env, json: bool, event: &Value) -> Result<()> {
    if json {
        writeln!(env.stdout, "{event}")?;
        env.stdout.flush()?;
    }
    Ok(())
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value> {
    Ok(serde_json::to_value(value).map_err(std::io::Error::other)?)
}

/// The magnet for a torrent: its own sources, `--torrent-url`, `--peer`
/// and our own address.
pub(super) fn magnet(plan: &Plan, prepared: &Prepared, publisher: &Publisher) -> String {
    let mut magnet = crate::magnet::Magnet::from_torrent(&prepared.torrent);
    magnet.exact_sources.clone_from(&plan.exact_sources);
    magnet.peers.clone_from(&plan.peers);
    let own = logic::peer_address(publisher.listen_addr(), plan.public_host.as_deref());
    if let Some(own) = own {
        if !magnet.peers.contains(&own) {
            magnet.peers.push(own);
        }
    }
    magnet.to_uri()
}

/// The `ready` line of one torrent, with the session's addresses.
pub(super) fn print_ready(
    plan: &Plan,
    prepared: &Prepared,
    publisher: &Publisher,
    env: &mut Env,
) -> Result<()> {
    let torrent = &prepared.torrent;
    let magnet = magnet(plan, prepared, publisher);
    let listen = publisher.listen_addr();
    let tracker = publisher.tracker();
    let dht = publisher.dht_addr();
    let ready = json!({
        "event": "ready",
        "name": torrent.meta.info.name,
        "info_hash": torrent.info_hash.to_hex(),
        "info_hash_v2": torrent.info_hash_v2.as_ref().map(|h| hex(h)),
        "version": torrent.meta.info.version,
        "torrent": prepared.path.display().to_string(),
        "magnet": magnet,
        "listen": listen.to_string(),
        "transports": transports(plan),
        "trackers": torrent.meta.tracker_tiers().concat(),
        "embedded_tracker": tracker.map(|t| json!({
            "http": t.http_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "udp": t.udp_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        "dht": dht.map(|d| d.to_string()),
        "status": publisher.status_addr().map(|a| a.to_string()),
    });
    emit(env, plan.json, &ready)?;
    if !plan.json && !plan.quiet {
        let out = &mut env.stderr;
        writeln!(
            out,
            "Seeding       {} ({})",
            torrent.meta.info.name, torrent.info_hash
        )?;
        if torrent.meta.info.version == Version::Hybrid {
            if let Some(v2) = &torrent.info_hash_v2 {
                writeln!(out, "Info hash v2  {}", hex(v2))?;
            }
        }
    }
    if !plan.json {
        // The magnet is the one line scripts want: stdout, even with --quiet.
        writeln!(env.stdout, "{magnet}")?;
        env.stdout.flush()?;
    }
    Ok(())
}

/// The `ready` line of a session with no torrent yet (`--watch`).
pub(super) fn print_ready_empty(plan: &Plan, publisher: &Publisher, env: &mut Env) -> Result<()> {
    let ready = json!({
        "event": "ready",
        "listen": publisher.listen_addr().to_string(),
        "transports": transports(plan),
        "embedded_tracker": publisher.tracker().map(|t| json!({
            "http": t.http_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "udp": t.udp_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        "dht": publisher.dht_addr().map(|d| d.to_string()),
        "status": publisher.status_addr().map(|a| a.to_string()),
    });
    emit(env, plan.json, &ready)
}

/// The session's addresses, once, for people.
pub(super) fn print_session(plan: &Plan, publisher: &Publisher, env: &mut Env) -> Result<()> {
    if plan.json || plan.quiet {
        return Ok(());
    }
    let out = &mut env.stderr;
    writeln!(
        out,
        "Listening on  {} ({})",
        publisher.listen_addr(),
        transports(plan).join(", ")
    )?;
    if let Some(t) = publisher.tracker() {
        for addr in t.http_addrs() {
            let path = &t.shared().config.announce_path;
            writeln!(out, "Tracker       http://{addr}{path}")?;
        }
        for addr in t.udp_addrs() {
            writeln!(out, "Tracker       udp://{addr}")?;
        }
    }
    if let Some(d) = publisher.dht_addr() {
        writeln!(out, "DHT node on   {d}")?;
    }
    if let Some(a) = publisher.status_addr() {
        writeln!(out, "Status page   http://{a}/")?;
    }
    Ok(())
}

pub(super) fn transports(plan: &Plan) -> Vec<&'static str> {
    let mut names = Vec::new();
    if plan.tcp {
        names.push("tcp");
    }
    if plan.utp {
        names.push("utp");
    }
    names
}

/// The `status` line or event: session totals and every torrent's trackers.
pub(super) fn print_status(
    plan: &Plan,
    snapshot: &Snapshot,
    live_line: bool,
    env: &mut Env,
) -> Result<()> {
    let status = status_of(snapshot);
    if plan.json {
        let mut event = to_value(&status)?;
        event["event"] = json!("status");
        let trackers: Vec<_> = snapshot.torrents.iter().flat_map(|t| &t.trackers).collect();
        event["trackers"] = to_value(&trackers)?;
        event["torrents"] = to_value(&snapshot.torrents)?;
        emit(env, true, &event)
    } else if plan.quiet {
        Ok(())
    } else if live_line {
        write!(env.stderr, "\r\x1b[2K{}", status.line())?;
        Ok(env.stderr.flush()?)
    } else {
        Ok(writeln!(env.stderr, "{}", status.line())?)
    }
}

fn status_of(snapshot: &Snapshot) -> Status {
    let trackers = || snapshot.torrents.iter().flat_map(|t| &t.trackers);
    let size: u64 = snapshot.torrents.iter().map(|t| t.size).sum();
    let ratio = if size == 0 {
        0.0
    } else {
        snapshot.uploaded as f64 / size as f64
    };
    Status {
        elapsed_secs: snapshot.elapsed.as_secs(),
        peers: snapshot.peers,
        peers_tcp: snapshot.peers_tcp,
        peers_utp: snapshot.peers_utp,
        peers_encrypted: snapshot.peers_encrypted,
        peers_plaintext: (snapshot.peers_tcp + snapshot.peers_utp)
            .saturating_sub(snapshot.peers_encrypted),
        uploaded: snapshot.uploaded,
        upload_rate: snapshot.upload_rate,
        completed: snapshot.torrents.iter().map(|t| t.completed).sum(),
        ratio: (ratio * 1000.0).round() / 1000.0,
        // Distinct URLs: a hybrid announces each under two hashes.
        trackers_working: distinct(trackers().filter(|t| t.state == TrackerState::Working)),
        trackers_total: distinct(trackers()),
        dht_nodes: snapshot.dht_nodes,
    }
}

fn distinct<'a>(trackers: impl Iterator<Item = &'a crate::announce::TrackerStatus>) -> usize {
    let urls: std::collections::HashSet<&str> = trackers.map(|t| t.url.as_str()).collect();
    urls.len()
}

fn summary_json(event: &str, summary: &Summary) -> Value {
    json!({
        "event": event,
        "reason": summary.reason,
        "elapsed_secs": summary.elapsed.as_secs(),
        "uploaded": summary.uploaded,
        "completed": summary.completed,
        "connections": {
            "rc4": summary.connections_rc4,
            "plaintext": summary.connections_plaintext,
        },
    })
}

fn with_torrent(mut value: Value, id: &TorrentRef) -> Value {
    value["info_hash"] = json!(id.info_hash);
    value["name"] = json!(id.name);
    value
}

/// Prints the engine's events; remembers which trackers answered, so
/// people see a tracker's first success and each change, not every reply.
#[derive(Default)]
pub(super) struct Printer {
    first_ok: HashMap<String, bool>,
}

impl Printer {
    pub(super) fn event(&mut self, event: Event, plan: &Plan, env: &mut Env) -> Result<()> {
        let people = !plan.json && !plan.quiet;
        match event {
            Event::Added(id) => {
                emit(
                    env,
                    plan.json,
                    &with_torrent(json!({"event": "added"}), &id),
                )?;
                if people {
                    writeln!(env.stderr, "Added         {} ({})", id.name, id.info_hash)?;
                }
            }
            Event::Announce(id, event) => self.announce(&id, event, plan, env)?,
            Event::DhtAnnounce {
                torrent,
                info_hash,
                stored,
                peers,
            } => {
                let value = json!({"event": "dht_announce", "info_hash": hex(&info_hash), "name": torrent.name, "stored": stored, "peers": peers});
                emit(env, plan.json, &value)?;
                if people && stored > 0 {
                    let hash = hex(&info_hash);
                    writeln!(
                        env.stderr,
                        "DHT           announced {hash} to {stored} nodes"
                    )?;
                }
            }
            Event::DhtError(message) => {
                emit(
                    env,
                    plan.json,
                    &json!({"event": "dht_error", "error": message}),
                )?;
                if !plan.json {
                    env.warn(format_args!("DHT: {message}"))?;
                }
            }
            Event::Warning(message) => {
                emit(
                    env,
                    plan.json,
                    &json!({"event": "warning", "message": message}),
                )?;
                if !plan.json {
                    env.warn(message)?;
                }
            }
            Event::TorrentStopping(id, reason) => {
                let value = json!({"event": "stopping", "reason": reason});
                emit(env, plan.json, &with_torrent(value, &id))?;
                if people {
                    writeln!(
                        env.stderr,
                        "Stopping      {}: {}",
                        id.name,
                        reason.describe()
                    )?;
                }
            }
            Event::TorrentStopped(id, summary) => {
                emit(
                    env,
                    plan.json,
                    &with_torrent(summary_json("stopped", &summary), &id),
                )?;
                if people {
                    writeln!(env.stderr, "Stopped       {}: {}", id.name, sent(&summary))?;
                }
            }
            Event::Stopping(reason) => {
                emit(
                    env,
                    plan.json,
                    &json!({"event": "stopping", "reason": reason}),
                )?;
                if people {
                    writeln!(env.stderr, "Stopping: {}", reason.describe())?;
                }
            }
            Event::Stopped(summary) => {
                emit(env, plan.json, &summary_json("stopped", &summary))?;
                if people {
                    writeln!(env.stderr, "{}", sent(&summary))?;
                }
            }
        }
        Ok(())
    }

    fn announce(
        &mut self,
        id: &TorrentRef,
        event: crate::announce::AnnounceEvent,
        plan: &Plan,
        env: &mut Env,
    ) -> Result<()> {
        let mut value = to_value(&event)?;
        value["event"] = json!("announce");
        value["announce_event"] = json!(event.event);
        value["name"] = json!(id.name);
        emit(env, plan.json, &value)?;
        if plan.json || plan.quiet {
            return Ok(());
        }
        let key = format!("{} {}", event.url, event.info_hash);
        let was_ok = self.first_ok.insert(key, event.ok);
        let short = event.info_hash.get(..8).unwrap_or(&event.info_hash);
        if event.ok && was_ok != Some(true) {
            let counts = event
                .seeders
                .zip(event.leechers)
                .map(|(s, l)| format!(", {s} seeders, {l} leechers"))
                .unwrap_or_default();
            writeln!(
                env.stderr,
                "Announced     {} for {short} ({} peers{counts})",
                event.url, event.peers
            )?;
        } else if !event.ok && was_ok != Some(false) {
            let error = event.error.as_deref().unwrap_or("failed");
            env.warn(format_args!("tracker {} ({short}): {error}", event.url))?;
        }
        Ok(())
    }
}

fn sent(summary: &Summary) -> String {
    let downloads = summary.completed;
    let connections = summary.connections_rc4 + summary.connections_plaintext;
    format!(
        "Sent {} in {:.0} s; {downloads} completed download{}; {connections} connection{} ({} RC4)",
        crate::format::size(summary.uploaded),
        summary.elapsed.as_secs_f64(),
        if downloads == 1 { "" } else { "s" },
        if connections == 1 { "" } else { "s" },
        summary.connections_rc4,
    )
}
