//! `publish`: make a release downloadable at once. Creates the torrent when
//! given content, checks web seeds if asked, verifies the content, then
//! seeds it while announcing to its trackers (and an embedded tracker) and
//! to the DHT, until a stop condition or SIGINT/SIGTERM.
//!
//! Parse (clap) → resolve ([`Plan::resolve`]: every flag checked here) →
//! execute ([`execute`]): the synchronous steps (create, web seed check,
//! verify) run before the tokio runtime starts serving, so rayon never runs
//! on a runtime thread. The pure pieces (stop conditions, status) live in
//! [`crate::publish`].

mod embedded;
mod output;
mod prepare;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::create::{self, TorrentArgs};
use crate::dht;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::Torrent;
use crate::peer::seeder::Verify;
use crate::publish::session::{self, DhtSettings, Event, Listen, Publisher};
use crate::publish::watch::{WatchConfig, Watcher};
use crate::publish::{self as logic, StopConditions};
use crate::shutdown::{self, Shutdown};
use output::{emit, Printer};
use prepare::Prepared;

/// Seed a torrent and announce it: trackers, an embedded tracker, the DHT.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Make a release downloadable at once: seed a torrent (creating it first when \
given content) while announcing it to its trackers, to an embedded tracker and to the DHT.",
    after_help = "PATH ending in .torrent is seeded as it is (content from --content, else NAME \
beside it or in the current directory); anything else is content, for which a torrent is created \
first with the create flags (and written to --output, default NAME.torrent).\n\
Embedded tracker: with --tracker-listen, or when an announce URL of a .torrent points at this \
machine (127.x, ::1, localhost or a local address), a tracker for this torrent runs in-process.\n\
Several PATHs share one port, DHT node and embedded tracker. Each torrent stops on its own at \
--seed-time, --until-downloads, --ratio, --until-seeders or --until-idle (whichever comes first); \
publish exits once all have stopped (never with --watch), or on SIGINT or SIGTERM: trackers are \
sent `stopped`, the DHT state is saved, and the exit status is 0.\n\
--json prints one JSON object per line: created, ready (one per torrent), added, announce, \
dht_announce, web_seeds, status, stopping and stopped (per torrent, with info_hash and name, then \
a final one without), error (see the README)."
)]
pub struct Args {
    /// A .torrent file to seed, or content (file or directory) to create a torrent for
    /// first. Several are served by one process, on one port.
    #[arg(value_name = "PATH", required_unless_present = "watch")]
    pub paths: Vec<PathBuf>,

    /// Seed every .torrent in DIR (content beside it, or under --content-root), adding and
    /// stopping torrents as files appear and disappear; runs until SIGINT or SIGTERM.
    /// SIGHUP looks at DIR at once.
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,

    /// With --watch: the content of a torrent named N is DIR/N [default: N beside the torrent].
    #[arg(long, value_name = "DIR", requires = "watch")]
    pub content_root: Option<PathBuf>,

    /// With --watch: seconds between looks at DIR.
    #[arg(long, value_name = "SECS", default_value_t = 10, requires = "watch")]
    pub rescan_every: u64,

    /// Serve a status page at /, JSON at /status.json and Prometheus text at /metrics on ADDR.
    #[arg(long, value_name = "ADDR")]
    pub status_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub torrent: TorrentArgs,

    /// The content of a .torrent PATH [default: NAME beside the torrent, else in the current
    /// directory].
    #[arg(long, value_name = "PATH")]
    pub content: Option<PathBuf>,

    /// Seeder address, TCP and uTP (UDP) on one port [default: 0.0.0.0 port 6881, else the
    /// next port free for both up to 6889].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Do not accept or dial uTP (BEP 29) connections; TCP only.
    #[arg(long, conflicts_with = "no_tcp")]
    pub no_utp: bool,

    /// Do not accept or dial TCP connections; uTP only.
    #[arg(long)]
    pub no_tcp: bool,

    /// Run the embedded tracker, HTTP and UDP, on ADDR (port 0: a free port; UDP takes the
    /// HTTP port number). A created torrent lists it first (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub tracker_listen: Vec<SocketAddr>,

    /// Host name or address peers reach this machine at: used in the embedded tracker's URLs
    /// and the magnet link's x.pe.
    #[arg(long, value_name = "HOST")]
    pub public_host: Option<String>,

    /// Announce to one tracker in every tier, not only the first tier that works (BEP 12).
    #[arg(long)]
    pub all_tiers: bool,

    /// Do not use the DHT.
    #[arg(long)]
    pub no_dht: bool,

    /// DHT address (UDP) [default: the seeder's address and port].
    #[arg(long, value_name = "ADDR", conflicts_with = "no_dht")]
    pub dht_listen: Option<SocketAddr>,

    /// DHT node to join through (repeatable). Given any, neither the public routers nor the
    /// default state file are used.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "no_dht")]
    pub dht_bootstrap: Vec<String>,

    /// DHT routing table to start from and save at exit [default: dht-state in the user's
    /// cache directory, unless --dht-bootstrap is given].
    #[arg(long, value_name = "FILE", conflicts_with = "no_dht")]
    pub dht_state: Option<PathBuf>,

    /// Peer to dial and keep connected (repeatable): reaches clients that ignore peers they
    /// are told about.
    #[arg(long, value_name = "ADDR")]
    pub connect: Vec<SocketAddr>,

    /// Start without hashing the content first (each piece is still checked on its first read).
    #[arg(long)]
    pub skip_verify: bool,

    /// Upload slots, the optimistic one included.
    #[arg(long, value_name = "N", default_value_t = crate::peer::choker::DEFAULT_SLOTS)]
    pub slots: usize,

    /// Most peer connections at once. When full, a peer that has not been interested for 10 s
    /// is closed to make room for a newcomer.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_peers: usize,

    /// Most upload bytes per second, all torrents together (e.g. 10MiB; each connection gets a
    /// fair share).
    #[arg(long, value_name = "RATE")]
    pub max_upload_rate: Option<String>,

    /// Most upload bytes per second of each torrent.
    #[arg(long, value_name = "RATE")]
    pub max_upload_rate_per_torrent: Option<String>,

    /// Most peer connections at once from one IP address.
    #[arg(long, value_name = "N", default_value_t = crate::peer::seeder::DEFAULT_MAX_PER_IP)]
    pub max_peers_per_ip: usize,

    /// Stop after seeding this long: 90s, 10m, 2h, 1h30m, or seconds.
    #[arg(long, value_name = "DURATION")]
    pub seed_time: Option<String>,

    /// Stop once N completed downloads were seen (by our seeder or reported by a tracker).
    #[arg(long, value_name = "N")]
    pub until_downloads: Option<u64>,

    /// Stop once R times the content size was uploaded.
    #[arg(long, value_name = "R")]
    pub ratio: Option<f64>,

    /// Stop once N seeders other than us are seen (trackers' counts, or connected peers
    /// holding every piece): someone else has taken over.
    #[arg(long, value_name = "N")]
    pub until_seeders: Option<u64>,

    /// Stop once no peer asked for data for this long (90s, 10m, 2h, 1h30m, or seconds).
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,

    /// Check the web seeds before announcing (see check-web-seeds); fail if any fails.
    #[arg(long)]
    pub check_web_seeds: bool,

    /// With --check-web-seeds: drop failing web seeds from the torrent instead of failing
    /// (the file is rewritten; the info hash does not change).
    #[arg(long, requires = "check_web_seeds")]
    pub drop_failing_web_seeds: bool,

    /// Seconds between status lines (or `status` events).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub status_interval: u64,

    /// Print one JSON object per event on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress bar and no status lines.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// What to seed.
#[derive(Debug)]
enum Input {
    Torrent {
        path: PathBuf,
        content: Option<PathBuf>,
    },
    Content(Box<create::Plan>),
}

#[derive(Debug, Clone)]
struct DhtPlan {
    listen: Option<SocketAddr>,
    /// Nodes given with --dht-bootstrap (they replace the public routers).
    bootstrap: Vec<String>,
    state: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebSeedCheck {
    Off,
    Fail,
    Drop,
}

/// A checked plan.
#[derive(Debug)]
pub struct Plan {
    inputs: Vec<Input>,
    watch: Option<WatchConfig>,
    status_listen: Option<SocketAddr>,
    max_upload_rate: Option<u64>,
    max_upload_rate_per_torrent: Option<u64>,
    listen: Listen,
    tcp: bool,
    utp: bool,
    tracker_listen: Vec<SocketAddr>,
    public_host: Option<String>,
    all_tiers: bool,
    dht: Option<DhtPlan>,
    connect: Vec<SocketAddr>,
    verify: Verify,
    slots: usize,
    max_peers: usize,
    max_peers_per_ip: usize,
    stop: StopConditions,
    web_seeds: WebSeedCheck,
    /// `--torrent-url` and `--peer`, for the magnet link.
    exact_sources: Vec<String>,
    peers: Vec<String>,
    status_interval: Duration,
    json: bool,
    quiet: bool,
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

fn flag_error(flag: &'static str, reason: impl Into<String>) -> Error {
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
            .map(|p| super::magnet::parse_peer(p))
            .collect::<Result<Vec<_>>>()?;
        for url in &exact_sources {
            super::magnet::check_torrent_url(url)?;
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
            tracker_listen: args.tracker_listen,
            public_host: args.public_host,
            all_tiers: args.all_tiers,
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
    if contents > 0 && args.torrent.v2 {
        return Err(Error::Conflict(
            "publish cannot seed v2-only torrents yet; use --hybrid (v1 and v2 clients)",
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
                path: path.clone(),
                torrent: args.torrent.clone(),
                quiet: args.quiet || args.json,
                json: false,
                magnet: false,
            },
            env,
        )?;
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

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let json = args.json;
    let plan = Plan::resolve(args, env)?;
    let result = execute(plan, env);
    // Scripts reading events learn why publish ended, whatever failed.
    if let (true, Err(err)) = (json, &result) {
        emit(
            env,
            true,
            &json!({"event": "error", "error": err.to_string()}),
        )?;
    }
    result
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

pub fn execute(plan: Plan, env: &mut Env) -> Result<()> {
    // Chosen before any torrent is created, so each can list it.
    let mut embedded = match plan.tracker_listen.as_slice() {
        [] => None,
        addrs => {
            let mut embedded = embedded::listen_plan(addrs)?;
            embedded.urls = embedded::embedded_urls(&embedded, plan.public_host.as_deref())?;
            Some(embedded)
        }
    };
    let mut prepared = Vec::new();
    let mut seeds = Vec::new();
    for input in &plan.inputs {
        let tiers = embedded.as_ref().map(|e| e.urls.clone());
        let (mut one, content, created) = prepare::torrent(&plan, input, tiers, env)?;
        if plan.tracker_listen.is_empty() {
            let local = embedded::local_tracker_urls(&one.torrent, env)?;
            match &mut embedded {
                _ if local.is_empty() => {}
                Some(embedded) => embedded.merge(local),
                None => embedded = Some(local),
            }
        }
        seeds.push(prepare::open(&plan, &mut one, &content, created, env)?);
        prepared.push(one);
    }
    let torrents: Vec<&Torrent> = prepared.iter().map(|p| &p.torrent).collect();
    runtime()?.block_on(async {
        let dht = match &plan.dht {
            Some(dht_plan) => Some(dht_settings(dht_plan, &torrents, env).await?),
            None => None,
        };
        let config = session::Config {
            torrents: seeds,
            listen: plan.listen,
            tcp: plan.tcp,
            utp: plan.utp,
            tracker: embedded.as_ref().map(embedded::tracker_config),
            embedded_urls: embedded.map(|e| e.urls).unwrap_or_default(),
            dht,
            connect: plan.connect.clone(),
            all_tiers: plan.all_tiers,
            slots: plan.slots,
            max_peers: plan.max_peers,
            max_peers_per_ip: plan.max_peers_per_ip,
            stop: plan.stop,
            keep_running: plan.watch.is_some(),
            status_listen: plan.status_listen,
            max_upload_rate: plan.max_upload_rate,
            max_upload_rate_per_torrent: plan.max_upload_rate_per_torrent,
        };
        serve(&plan, &prepared, config, env).await
    })
}

/// The DHT node's bootstrap: the torrents' `nodes`, --dht-bootstrap (else
/// the public routers), and the saved state.
async fn dht_settings(plan: &DhtPlan, torrents: &[&Torrent], env: &mut Env) -> Result<DhtSettings> {
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
        bootstrap: super::dht::resolve_nodes(&names, env).await?,
        id: None,
        state: plan.state.clone(),
    };
    if let Some(path) = &plan.state {
        if let Some(state) = super::dht::read_state(path)? {
            settings.id = state.id;
            settings.bootstrap.extend(state.addresses());
        }
    }
    Ok(settings)
}

/// Starts the engine (and the watcher), prints what it reports until it
/// has stopped.
async fn serve(
    plan: &Plan,
    prepared: &[Prepared],
    config: session::Config,
    env: &mut Env,
) -> Result<()> {
    let shutdown = Shutdown::new();
    let mut publisher = Publisher::start(config, &shutdown).await?;
    let mut printer = Printer::default();
    // `added` for the PATHs is implied by their `ready`.
    while let Ok(Some(event)) = tokio::time::timeout(Duration::ZERO, publisher.next_event()).await {
        if !matches!(event, Event::Added(_)) {
            printer.event(event, plan, env)?;
        }
    }
    output::print_session(plan, &publisher, env)?;
    for one in prepared {
        output::print_ready(plan, one, &publisher, env)?;
    }
    if prepared.is_empty() {
        output::print_ready_empty(plan, &publisher, env)?;
    }
    let watcher = plan
        .watch
        .clone()
        .map(|watch| Watcher::start(watch, publisher.handle(), &shutdown));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_status = Instant::now();
    let live_line = env.stderr_is_terminal && !plan.json && !plan.quiet;
    // Listening from here on: a signal during a loop turn is not lost.
    let signal = shutdown::signalled();
    tokio::pin!(signal);
    let mut signalled = false;
    let mut hangups = hangups();
    loop {
        tokio::select! {
            () = &mut signal, if !signalled => {
                signalled = true;
                shutdown.trigger();
            }
            Some(()) = hangups.recv() => {
                if let Some(watcher) = &watcher {
                    watcher.rescan();
                }
            }
            event = publisher.next_event() => {
                let Some(event) = event else { break };
                if live_line && matches!(event, Event::Stopping(_) | Event::TorrentStopping(..)) {
                    writeln!(env.stderr)?;
                }
                let stopped = matches!(event, Event::Stopped(_));
                printer.event(event, plan, env)?;
                if stopped {
                    break;
                }
            }
            _ = tick.tick() => {
                let due = last_status.elapsed() >= plan.status_interval;
                if due || live_line {
                    if due {
                        last_status = Instant::now();
                    }
                    let snapshot = publisher.snapshot().await;
                    if due || !plan.json {
                        output::print_status(plan, &snapshot, live_line, env)?;
                    }
                }
            }
        }
    }
    shutdown.finished().await;
    Ok(())
}

/// SIGHUP, as a stream (never fires elsewhere).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}
