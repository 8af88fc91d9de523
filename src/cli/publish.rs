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
mod plan;
mod prepare;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use super::create::TorrentArgs;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::Torrent;
use crate::publish::session::{self, Event, Publisher};
use crate::publish::watch::Watcher;
use crate::shutdown::{self, Shutdown};
use output::{emit, Printer};
pub use plan::Plan;
use plan::{flag_error, DhtPlan, Input, WebSeedCheck};
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
a final one without), error (see the README).\n\n\
Examples:\n  \
mktorrent-rs publish release.torrent --json --seed-time 2h --until-downloads 3\n  \
mktorrent-rs publish dist/app-amd64.iso dist/app-arm64.iso --tracker-listen 0.0.0.0:6969 \\\n      \
--public-host seed.example.org --until-seeders 2 --until-idle 30m\n  \
mktorrent-rs publish --watch /srv/torrents --content-root /srv/pub --status-listen 127.0.0.1:8080"
)]
pub struct Args {
    /// A .torrent file to seed, or content (file or directory) to create a torrent for
    /// first. Several are served by one process, on one port.
    #[arg(value_name = "PATH", required_unless_present = "watch")]
    pub paths: Vec<PathBuf>,

    /// Seed every .torrent in DIR (content beside it, or under --content-root), adding and
    /// stopping torrents as files appear and disappear; runs until SIGINT or SIGTERM.
    /// SIGHUP looks at DIR at once.
    #[arg(help_heading = "Seed host", long, value_name = "DIR")]
    pub watch: Option<PathBuf>,

    /// With --watch: the content of a torrent named N is DIR/N [default: N beside the torrent].
    #[arg(
        help_heading = "Seed host",
        long,
        value_name = "DIR",
        requires = "watch"
    )]
    pub content_root: Option<PathBuf>,

    /// With --watch: time between looks at DIR (10s, 1m, or seconds).
    #[arg(help_heading = "Seed host", long, value_name = "DURATION", default_value_t = 10, requires = "watch", value_parser = crate::cli::secs::<u64>)]
    pub rescan_every: u64,

    /// Serve a status page at /, JSON at /status.json and Prometheus text at /metrics on ADDR.
    #[arg(help_heading = "Seed host", long, value_name = "ADDR")]
    pub status_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub torrent: TorrentArgs,

    /// The content of a .torrent PATH [default: NAME beside the torrent, else in the current
    /// directory].
    #[arg(help_heading = "Seeding", long, value_name = "PATH")]
    pub content: Option<PathBuf>,

    /// Seeder address, TCP and uTP (UDP) on one port [default: 0.0.0.0 port 6881, else the
    /// next port free for both up to 6889].
    #[arg(help_heading = "Seeding", long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Do not accept or dial uTP (BEP 29) connections; TCP only.
    #[arg(help_heading = "Seeding", long, conflicts_with = "no_tcp")]
    pub no_utp: bool,

    /// Do not accept or dial TCP connections; uTP only.
    #[arg(help_heading = "Seeding", long)]
    pub no_tcp: bool,

    /// MSE/PE peer encryption: prefer accepts both and dials plaintext, retrying encrypted
    /// when the peer refuses; require refuses plaintext peers and dials encrypted only;
    /// disable speaks plaintext only.
    #[arg(help_heading = "Seeding", long, value_enum, value_name = "MODE", default_value_t = Encryption::Prefer)]
    pub encryption: Encryption,

    /// Run the embedded tracker, HTTP and UDP, on ADDR (port 0: a free port; UDP takes the
    /// HTTP port number). A created torrent lists it first (repeatable).
    #[arg(help_heading = "Trackers and DHT", long, value_name = "ADDR")]
    pub tracker_listen: Vec<SocketAddr>,

    /// Host name or address peers reach this machine at: used in the embedded tracker's URLs
    /// and the magnet link's x.pe.
    #[arg(help_heading = "Trackers and DHT", long, value_name = "HOST")]
    pub public_host: Option<String>,

    /// Announce to one tracker in every tier, not only the first tier that works (BEP 12).
    #[arg(help_heading = "Trackers and DHT", long)]
    pub all_tiers: bool,

    /// Exit 1 (after a JSON `error` event with --json) when no tracker ever answered an
    /// announce: seeding nobody could find through a tracker fails the CI job.
    #[arg(help_heading = "Trackers and DHT", long)]
    pub require_tracker: bool,

    /// Do not use the DHT.
    #[arg(help_heading = "Trackers and DHT", long)]
    pub no_dht: bool,

    /// DHT address (UDP) [default: the seeder's address and port].
    #[arg(
        help_heading = "Trackers and DHT",
        long,
        value_name = "ADDR",
        conflicts_with = "no_dht"
    )]
    pub dht_listen: Option<SocketAddr>,

    /// DHT node to join through (repeatable). Given any, neither the public routers nor the
    /// default state file are used.
    #[arg(
        help_heading = "Trackers and DHT",
        long,
        value_name = "HOST:PORT",
        conflicts_with = "no_dht"
    )]
    pub dht_bootstrap: Vec<String>,

    /// DHT routing table to start from and save at exit [default: dht-state in the user's
    /// cache directory, unless --dht-bootstrap is given].
    #[arg(
        help_heading = "Trackers and DHT",
        long,
        value_name = "FILE",
        conflicts_with = "no_dht"
    )]
    pub dht_state: Option<PathBuf>,

    /// Peer to dial and keep connected (repeatable): reaches clients that ignore peers they
    /// are told about.
    #[arg(help_heading = "Seeding", long, value_name = "ADDR")]
    pub connect: Vec<SocketAddr>,

    /// Start without hashing the content first (each piece is still checked on its first read).
    #[arg(help_heading = "Seeding", long)]
    pub skip_verify: bool,

    /// Upload slots, the optimistic one included.
    #[arg(help_heading = "Seeding", long, value_name = "N", default_value_t = crate::peer::choker::DEFAULT_SLOTS)]
    pub slots: usize,

    /// Most peer connections at once. When full, a peer that has not been interested for 10 s
    /// is closed to make room for a newcomer.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = 200)]
    pub max_peers: usize,

    /// Most upload bytes per second, all torrents together (e.g. 10MiB; each connection gets a
    /// fair share).
    #[arg(help_heading = "Limits", long, value_name = "RATE")]
    pub max_upload_rate: Option<String>,

    /// Most upload bytes per second of each torrent.
    #[arg(help_heading = "Limits", long, value_name = "RATE")]
    pub max_upload_rate_per_torrent: Option<String>,

    /// Most peer connections at once from one IP address.
    #[arg(help_heading = "Limits", long, value_name = "N", default_value_t = crate::peer::seeder::DEFAULT_MAX_PER_IP)]
    pub max_peers_per_ip: usize,

    /// Stop after seeding this long: 90s, 10m, 2h, 1h30m, or seconds.
    #[arg(help_heading = "Stopping", long, value_name = "DURATION")]
    pub seed_time: Option<String>,

    /// Stop once N completed downloads were seen (by our seeder or reported by a tracker).
    #[arg(help_heading = "Stopping", long, value_name = "N")]
    pub until_downloads: Option<u64>,

    /// Stop once R times the content size was uploaded.
    #[arg(help_heading = "Stopping", long, value_name = "R")]
    pub ratio: Option<f64>,

    /// Stop once N seeders other than us are seen (trackers' counts, or connected peers
    /// holding every piece): someone else has taken over.
    #[arg(help_heading = "Stopping", long, value_name = "N")]
    pub until_seeders: Option<u64>,

    /// Stop once no peer asked for data for this long (90s, 10m, 2h, 1h30m, or seconds).
    #[arg(help_heading = "Stopping", long, value_name = "DURATION")]
    pub until_idle: Option<String>,

    /// Check the web seeds before announcing (see check-web-seeds); fail if any fails.
    #[arg(help_heading = "Web seeds", long)]
    pub check_web_seeds: bool,

    /// With --check-web-seeds: drop failing web seeds from the torrent instead of failing
    /// (the file is rewritten; the info hash does not change).
    #[arg(help_heading = "Web seeds", long, requires = "check_web_seeds")]
    pub drop_failing_web_seeds: bool,

    /// Time between status lines (or `status` events): 10s, 1m, or seconds.
    #[arg(help_heading = "Output", long, value_name = "DURATION", default_value_t = 10, value_parser = crate::cli::secs::<u64>)]
    pub status_interval: u64,

    /// Print one JSON object per event on stdout.
    #[arg(help_heading = "Output", long)]
    pub json: bool,

    /// No progress bar and no status lines.
    #[arg(help_heading = "Output", short = 'q', long)]
    pub quiet: bool,
}

/// `--encryption` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encryption {
    Prefer,
    Require,
    Disable,
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
            Some(dht_plan) => Some(prepare::dht_settings(dht_plan, &torrents, env).await?),
            None => None,
        };
        let config = session::Config {
            torrents: seeds,
            listen: plan.listen,
            tcp: plan.tcp,
            utp: plan.utp,
            encryption: plan.encryption,
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
    // Events from the first moments wait until the `ready` lines are out;
    // `added` for the PATHs is implied by their `ready`.
    let mut early = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::ZERO, publisher.next_event()).await {
        if !matches!(event, Event::Added(_)) {
            early.push(event);
        }
    }
    output::print_session(plan, &publisher, env)?;
    for one in prepared {
        output::print_ready(plan, one, &publisher, env)?;
    }
    if prepared.is_empty() {
        output::print_ready_empty(plan, &publisher, env)?;
    }
    let mut answered = early
        .iter()
        .any(|e| matches!(e, Event::Announce(_, a) if a.ok));
    for event in early {
        printer.event(event, plan, env)?;
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
    let mut hangups = shutdown::hangups();
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
                answered |= matches!(&event, Event::Announce(_, e) if e.ok);
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
    if plan.require_tracker && !answered {
        return Err(Error::NoTrackerAnswered);
    }
    Ok(())
}
