//! Getting each PATH ready to seed, before the engine starts: create the
//! torrent from content (or read a .torrent and find its content), check
//! its web seeds if asked, verify the content and open it for reading.
//! Synchronous: hashing runs on rayon, never on a runtime thread.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::output::emit;
use super::{DhtPlan, Input, Plan, WebSeedCheck};
use crate::cli::create::{self, Output};
use crate::dht;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::Torrent;
use crate::peer::seeder::{SeedTorrent, Verify};
use crate::publish::session::DhtSettings;
use crate::webseed::check::Options as WebSeedOptions;

/// A torrent ready to seed.
pub(crate) struct Prepared {
    /// Where the .torrent file is.
    pub(crate) path: PathBuf,
    pub(crate) torrent: Torrent,
}

/// Creates or reads the torrent of `input`; `tiers` are put first in a
/// created torrent (the embedded tracker's URLs).
pub(super) fn torrent(
    plan: &Plan,
    input: &Input,
    tiers: Option<Vec<String>>,
    env: &mut Env,
) -> Result<(Prepared, PathBuf, bool)> {
    match input {
        Input::Content(create_plan) => {
            let mut create_plan = (**create_plan).clone();
            if let Some(tier) = tiers {
                create_plan.tiers.insert(0, tier);
            }
            let made = create::make(&create_plan, env)?;
            if plan.json {
                let mut event =
                    serde_json::to_value(&made.summary).map_err(std::io::Error::other)?;
                event["event"] = json!("created");
                emit(env, true, &event)?;
            } else {
                // Stdout is kept for the magnet link alone: the summary goes to stderr.
                std::mem::swap(&mut env.stdout, &mut env.stderr);
                let reported = create::report(&create_plan, &made, env);
                std::mem::swap(&mut env.stdout, &mut env.stderr);
                reported?;
            }
            let Output::File(path) = made.output else {
                return Err(Error::Conflict("publish keeps the torrent in a file"));
            };
            let prepared = Prepared {
                path,
                torrent: made.torrent,
            };
            Ok((prepared, create_plan.input.clone(), true))
        }
        Input::Torrent { path, content } => {
            let (_, torrent) = crate::cli::read_torrent(env, path)?;
            let root = crate::cli::verify::locate(content.as_deref(), path, &torrent, env)?;
            let prepared = Prepared {
                path: env.path(path),
                torrent,
            };
            Ok((prepared, root, false))
        }
    }
}

/// Why a web seed failed, in one line: its own error, or its first bad file.
fn failure_reason(seed: &crate::webseed::check::SeedReport) -> String {
    if let Some(error) = &seed.error {
        return error.clone();
    }
    let Some(file) = seed.files.iter().find(|f| !f.ok()) else {
        return "failed".into();
    };
    let problem = file
        .problem
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "failed".into());
    match &file.detail {
        Some(detail) => format!("{}: {problem} ({detail})", file.path),
        None => format!("{}: {problem}", file.path),
    }
}

/// Checks web seeds, then verifies (unless `created` a moment ago) and
/// opens the content.
pub(super) fn open(
    plan: &Plan,
    prepared: &mut Prepared,
    content: &Path,
    created: bool,
    env: &mut Env,
) -> Result<SeedTorrent> {
    let bytes = std::fs::read(&prepared.path).map_err(|source| Error::ReadTorrent {
        path: prepared.path.clone(),
        source,
    })?;
    let torrent = prepared.torrent.clone();
    let (torrent, _) = check_web_seeds(plan, env, &prepared.path, torrent, bytes)?;
    prepared.torrent = torrent.clone();
    let verify = if created { Verify::Skip } else { plan.verify };
    let size = torrent.meta.info.total_length();
    let bar = crate::cli::progress_bar(env, size, plan.quiet || plan.json, "Verifying");
    let progress = |n| bar.inc(n);
    let started = Instant::now();
    let seed =
        crate::cli::with_threads(0, || SeedTorrent::open(torrent, content, verify, &progress))??;
    bar.finish_and_clear();
    if verify == Verify::Full && !plan.quiet && !plan.json {
        writeln!(
            env.stderr,
            "Verified {} in {:.1} s",
            crate::format::size(size),
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(seed)
}

fn check_web_seeds(
    plan: &Plan,
    env: &mut Env,
    path: &Path,
    torrent: Torrent,
    bytes: Vec<u8>,
) -> Result<(Torrent, Vec<u8>)> {
    if plan.web_seeds == WebSeedCheck::Off || torrent.meta.web_seeds.is_empty() {
        return Ok((torrent, bytes));
    }
    let options = WebSeedOptions {
        seed: u64::try_from(env.now).unwrap_or(0),
        ..WebSeedOptions::default()
    };
    let report = crate::webseed::check::check_blocking(&torrent, options)?;
    let passing = report.passing();
    let failing: Vec<String> = report
        .seeds
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.url.clone())
        .collect();
    let reasons: serde_json::Map<String, serde_json::Value> = report
        .seeds
        .iter()
        .filter(|s| !s.ok)
        .map(|s| (s.url.clone(), json!(failure_reason(s))))
        .collect();
    emit(
        env,
        plan.json,
        &json!({"event": "web_seeds", "ok": report.ok, "passing": passing, "failing": failing, "reasons": reasons}),
    )?;
    if !plan.json && !plan.quiet {
        writeln!(
            env.stderr,
            "Web seeds     {} of {} serve the content",
            passing.len(),
            report.seeds.len()
        )?;
    }
    if failing.is_empty() {
        return Ok((torrent, bytes));
    }
    if plan.web_seeds == WebSeedCheck::Fail {
        return Err(Error::WebSeedsFailed(format!(
            "not publishing: {} of {} web seeds failed the check: {} (see check-web-seeds, or \
             pass --drop-failing-web-seeds)",
            failing.len(),
            report.seeds.len(),
            failing.join(", ")
        )));
    }
    for url in &failing {
        env.warn(format_args!("dropping web seed {url}: it failed the check"))?;
    }
    let rewritten = crate::webseed::with_web_seeds(&bytes, &passing).map_err(|err| {
        Error::WebSeedsFailed(format!("cannot rewrite {}: {err}", path.display()))
    })?;
    create::write_atomically(path, &rewritten, true)?;
    let torrent = Torrent::parse(&rewritten).map_err(|source| Error::ParseTorrent {
        path: path.to_owned(),
        source,
    })?;
    Ok((torrent, rewritten))
}

/// The DHT node's bootstrap: the torrents' `nodes`, --dht-bootstrap (else
/// the public routers), and the saved state.
pub(super) async fn dht_settings(
    plan: &DhtPlan,
    torrents: &[&Torrent],
    env: &mut Env,
) -> Result<DhtSettings> {
    let mut names: Vec<String> = torrents
        .iter()
        .flat_map(|t| t.meta.nodes.iter().map(ToString::to_string))
        .collect();
    names.extend(plan.bootstrap.iter().cloned());
    if plan.bootstrap.is_empty() {
        names.extend(dht::DEFAULT_ROUTERS.iter().map(|r| (*r).to_owned()));
    }
    names.dedup();
    let mut settings = DhtSettings {
        listen: plan.listen,
        bootstrap: crate::cli::dht::resolve_nodes(&names, env).await?,
        id: None,
        state: plan.state.clone(),
    };
    if let Some(path) = &plan.state {
        if let Some(state) = crate::cli::dht::read_state(path)? {
            settings.id = state.id;
            settings.bootstrap.extend(state.addresses());
        }
    }
    Ok(settings)
}
