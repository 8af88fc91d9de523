//! `publish`'s flags checked and resolved into a [`Plan`]: the only place
//! that rejects flag combinations.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Args, Encryption};
use crate::cli::create::{self, TorrentArgs};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::peer::mse::Policy;
use crate::peer::seeder::Verify;
use crate::publish::session::Listen;
use crate::publish::watch::WatchConfig;
use crate::publish::{self as logic, StopConditions};

/// What to seed.
#[derive(Debug)]
pub(super) enum Input {
    Torrent {
        path: PathBuf,
        content: Option<PathBuf>,
    },
    Content(Box<create::Plan>),
}

#[derive(Debug, Clone)]
pub(super) struct DhtPlan {
    pub(super) listen: Option<SocketAddr>,
    /// Nodes given with --dht-bootstrap (they replace the public routers).
    pub(super) bootstrap: Vec<String>,
    pub(super) state: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WebSeedCheck {
    Off,
    Fail,
    Drop,
}

/// A checked plan.
#[derive(Debug)]
pub struct Plan {
    pub(super) inputs: Vec<Input>,
    pub(super) watch: Option<WatchConfig>,
    pub(super) status_listen: Option<SocketAddr>,
    pub(super) max_upload_rate: Option<u64>,
    pub(super) max_upload_rate_per_torrent: Option<u64>,
    pub(super) listen: Listen,
    pub(super) tcp: bool,
    pub(super) utp: bool,
    pub(super) encryption: Policy,
    pub(super) tracker_listen: Vec<SocketAddr>,
    pub(super) public_host: Option<String>,
    pub(super) all_tiers: bool,
    pub(super) require_tracker: bool,
    pub(super) dht: Option<DhtPlan>,
    pub(super) connect: Vec<SocketAddr>,
    pub(super) verify: Verify,
    pub(super) slots: usize,
    pub(super) max_peers: usize,
    pub(super) max_peers_per_ip: usize,
    pub(super) stop: StopConditions,
    pub(super) web_seeds: WebSeedCheck,
    /// `--torrent-url` and `--peer`, for the magnet link.
    pub(super) exact_sources: Vec<String>,
    pub(super) peers: Vec<String>,
    pub(super) status_interval: Duration,
    pub(super) json: bool,
    pub(super) quiet: bool,
}

/// A duration flag's value, if given.
fn duration(flag: &'static str, text: Option<&str>) -> Result<Option<Duration>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let parsed = logic::parse_duration(text).ok_or_else(|| {
        flag_error(
            flag,
            format!("{text:?} is not a duration such as 90s, 10m, 2h or 1h30m"),
        )
    })?;
    Ok(Some(parsed))
}

/// A rate flag's value (bytes per second), if given.
fn rate(flag: &'static str, text: Option<&str>) -> Result<Option<u64>> {
    let Some(text) = text else {
        return Ok(None);
    };
    match crate::format::parse_size(text) {
        Some(0) => Err(flag_error(flag, "must be above 0")),
        Some(bytes) => Ok(Some(bytes)),
        None => Err(flag_error(
            flag,
            format!("{text:?} is not a rate such as 500KiB, 10MiB or 1G (bytes per second)"),
        )),
    }
}

pub(super) fn flag_error(flag: &'static str, reason: impl Into<String>) -> Error {
    Error::TrackerFlag {
        flag,
        reason: reason.into(),
    }
}

impl Plan {
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        let exact_sources = args.torrent.torrent_urls.clone();
        let peers = args
            .torrent
            .peers
            .iter()
            .map(|p| crate::cli::magnet::parse_peer(p))
            .collect::<Result<Vec<_>>>()?;
        for url in &exact_sources {
            crate::cli::magnet::check_torrent_url(url)?;
        }
        let inputs = inputs(&args, env)?;
        let seed_time = duration("--seed-time", args.seed_time.as_deref())?;
        let until_idle = duration("--until-idle", args.until_idle.as_deref())?;
        let max_upload_rate = rate("--max-upload-rate", args.max_upload_rate.as_deref())?;
        let max_upload_rate_per_torrent = rate(
            "--max-upload-rate-per-torrent",
            args.max_upload_rate_per_torrent.as_deref(),
        )?;
        if args.until_seeders == Some(0) {
            return Err(flag_error("--until-seeders", "must be at least 1"));
        }
        if args.rescan_every == 0 {
            return Err(flag_error("--rescan-every", "must be at least 1 second"));
        }
        if let Some(ratio) = args.ratio {
            if !(ratio.is_finite() && ratio > 0.0) {
                return Err(flag_error("--ratio", "must be a number above 0"));
            }
        }
        if args.until_downloads == Some(0) {
            return Err(flag_error("--until-downloads", "must be at least 1"));
        }
        if args.slots == 0 || args.max_peers == 0 || args.max_peers_per_ip == 0 {
            return Err(Error::Conflict(
                "--slots, --max-peers and --max-peers-per-ip must be at least 1",
            ));
        }
        if args.status_interval == 0 {
            return Err(flag_error("--status-interval", "must be at least 1 second"));
        }
        if let Some(host) = &args.public_host {
            if host.is_empty() || host.contains('/') || host.contains(' ') {
                return Err(flag_error(
                    "--public-host",
                    format!("{host:?} is not a host"),
                ));
            }
        }
        for name in &args.dht_bootstrap {
            create::parse_node(name)?;
        }
        let dht = (!args.no_dht).then(|| DhtPlan {
            listen: args.dht_listen,
            state: args.dht_state.map(|p| env.path(p)).or_else(|| {
                // A test network must never meet nodes saved from the real one.
                args.dht_bootstrap
                    .is_empty()
                    .then(default_dht_state)
                    .flatten()
            }),
            bootstrap: args.dht_bootstrap,
        });
        let verify = if args.skip_verify {
            Verify::Skip
        } else {
            Verify::Full
        };
        let watch = args.watch.map(|dir| WatchConfig {
            dir: env.path(&dir),
            content_root: args.content_root.map(|p| env.path(p)),
            rescan_every: Duration::from_secs(args.rescan_every),
            verify,
        });
        Ok(Self {
            inputs,
            watch,
            status_listen: args.status_listen,
            max_upload_rate,
            max_upload_rate_per_torrent,
            listen: args.listen.map_or(Listen::Default, Listen::Exact),
            tcp: !args.no_tcp,
            utp: !args.no_utp,
            encryption: match args.encryption {
                Encryption::Prefer => Policy::Prefer,
                Encryption::Require => Policy::Require,
                Encryption::Disable => Policy::Disable,
            },
            tracker_listen: args.tracker_listen,
            public_host: args.public_host,
            all_tiers: args.all_tiers,
            require_tracker: args.require_tracker,
            dht,
            connect: args.connect,
            verify,
            slots: args.slots,
            max_peers: args.max_peers,
            max_peers_per_ip: args.max_peers_per_ip,
            stop: StopConditions {
                seed_time,
                until_downloads: args.until_downloads,
                ratio: args.ratio,
                until_seeders: args.until_seeders,
                until_idle,
            },
            web_seeds: match (args.check_web_seeds, args.drop_failing_web_seeds) {
                (false, _) => WebSeedCheck::Off,
                (true, false) => WebSeedCheck::Fail,
                (true, true) => WebSeedCheck::Drop,
            },
            exact_sources,
            peers,
            status_interval: Duration::from_secs(args.status_interval),
            json: args.json,
            quiet: args.quiet,
        })
    }
}

/// Whether `path` names a .torrent file to seed as it is.
fn is_torrent(path: &Path, env: &Env) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("torrent"))
        && env.path(path).is_file()
}

/// Each PATH: a .torrent to seed, or content to create a torrent for.
fn inputs(args: &Args, env: &Env) -> Result<Vec<Input>> {
    let torrents = args.paths.iter().filter(|p| is_torrent(p, env)).count();
    let contents = args.paths.len() - torrents;
    // The magnet flags and --force apply to a .torrent too; the rest
    // describe a torrent to create.
    let creating = TorrentArgs {
        torrent_urls: Vec::new(),
        peers: Vec::new(),
        force: false,
        ..args.torrent.clone()
    };
    if contents == 0 && creating != TorrentArgs::default() {
        return Err(Error::Conflict(
            "create flags (--tracker, --web-seed, --piece-length, --output, ...) apply \
             only when publish creates the torrent from content, not to a .torrent",
        ));
    }
    if args.content.is_some() && (torrents != 1 || args.paths.len() != 1) {
        return Err(Error::Conflict(
            "--content is for a single .torrent PATH; with several, put each content beside \
             its torrent",
        ));
    }
    if contents > 1 && args.torrent.output.is_some() {
        return Err(Error::Conflict(
            "--output names one torrent; with several content PATHs each is written to \
             NAME.torrent",
        ));
    }
    if args.torrent.output.as_deref() == Some(Path::new("-")) {
        return Err(Error::Conflict(
            "publish keeps the torrent in a file; --output - is for create",
        ));
    }
    let mut inputs = Vec::new();
    for path in &args.paths {
        if is_torrent(path, env) {
            inputs.push(Input::Torrent {
                path: path.clone(),
                content: args.content.clone(),
            });
            continue;
        }
        let plan = create::Plan::resolve(
            create::Args {
                paths: vec![path.clone()],
                no_web_seed: false,
                torrent: args.torrent.clone(),
                quiet: args.quiet || args.json,
                json: false,
                magnet: false,
            },
            env,
        )?;
        if plan.urls.is_some() {
            return Err(Error::Conflict(
                "publish seeds content from disk: make a torrent of a URL with `create URL`, \
                 then publish the .torrent with --content PATH",
            ));
        }
        inputs.push(Input::Content(Box::new(plan)));
    }
    Ok(inputs)
}

/// `$XDG_CACHE_HOME/mktorrent-rs/dht-state`, else `~/.cache/...`.
fn default_dht_state() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("mktorrent-rs").join("dht-state"))
}
