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

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::create::{self, Output, TorrentArgs};
use crate::announce::TrackerState;
use crate::dht;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::magnet::Magnet;
use crate::metainfo::{hex, Torrent, Version};
use crate::peer::seeder::{SeedTorrent, Verify};
use crate::publish::session::{self, DhtSettings, Event, Listen, Publisher, Snapshot};
use crate::publish::{self as logic, Status, StopConditions};
use crate::shutdown::{self, Shutdown};
use crate::tracker::access::{torrent_hashes, AccessConfig};
use crate::tracker::TrackerConfig;
use crate::webseed::check::Options as WebSeedOptions;

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
Stops on --seed-time, --until-downloads or --ratio (whichever comes first), else on SIGINT or \
SIGTERM; trackers are sent `stopped` and the DHT state is saved, and the exit status is 0.\n\
--json prints one JSON object per line: created, ready, announce, dht_announce, web_seeds, \
status, stopping, stopped (see the README)."
)]
pub struct Args {
    /// A .torrent file to seed, or content (file or directory) to create a torrent for first.
    pub path: PathBuf,

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
    input: Input,
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

fn flag_error(flag: &'static str, reason: impl Into<String>) -> Error {
    Error::TrackerFlag {
        flag,
        reason: reason.into(),
    }
}

impl Plan {
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        let is_torrent = args
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("torrent"))
            && env.path(&args.path).is_file();
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
        let input = if is_torrent {
            // The magnet flags and --force apply to a .torrent too; the rest
            // describe a torrent to create.
            let creating = TorrentArgs {
                torrent_urls: Vec::new(),
                peers: Vec::new(),
                force: false,
                ..args.torrent.clone()
            };
            if creating != TorrentArgs::default() {
                return Err(Error::Conflict(
                    "create flags (--tracker, --web-seed, --piece-length, --output, ...) apply \
                     only when publish creates the torrent from content, not to a .torrent",
                ));
            }
            Input::Torrent {
                path: args.path,
                content: args.content,
            }
        } else {
            if args.content.is_some() {
                return Err(Error::Conflict(
                    "--content is for a .torrent PATH; PATH is content here",
                ));
            }
            if args.torrent.v2 {
                return Err(Error::Conflict(
                    "publish cannot seed v2-only torrents yet; use --hybrid (v1 and v2 clients)",
                ));
            }
            if args.torrent.output.as_deref() == Some(Path::new("-")) {
                return Err(Error::Conflict(
                    "publish keeps the torrent in a file; --output - is for create",
                ));
            }
            let plan = create::Plan::resolve(
                create::Args {
                    path: args.path,
                    torrent: args.torrent,
                    quiet: args.quiet || args.json,
                    json: false,
                    magnet: false,
                },
                env,
            )?;
            Input::Content(Box::new(plan))
        };
        let seed_time = args
            .seed_time
            .as_deref()
            .map(|text| {
                logic::parse_duration(text).ok_or_else(|| {
                    flag_error(
                        "--seed-time",
                        format!("{text:?} is not a duration such as 90s, 10m, 2h or 1h30m"),
                    )
                })
            })
            .transpose()?;
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
        Ok(Self {
            input,
            listen: args.listen.map_or(Listen::Default, Listen::Exact),
            tcp: !args.no_tcp,
            utp: !args.no_utp,
            tracker_listen: args.tracker_listen,
            public_host: args.public_host,
            all_tiers: args.all_tiers,
            dht,
            connect: args.connect,
            verify: if args.skip_verify {
                Verify::Skip
            } else {
                Verify::Full
            },
            slots: args.slots,
            max_peers: args.max_peers,
            max_peers_per_ip: args.max_peers_per_ip,
            stop: StopConditions {
                seed_time,
                until_downloads: args.until_downloads,
                ratio: args.ratio,
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

/// Prints one event: a JSON line with `--json`, else nothing (human output
/// is written where each event happens).
fn emit(env: &mut Env, json: bool, event: &serde_json::Value) -> Result<()> {
    if json {
        writeln!(env.stdout, "{event}")?;
        env.stdout.flush()?;
    }
    Ok(())
}

/// The embedded tracker's addresses, decided before it starts.
#[derive(Debug, Default)]
struct EmbeddedPlan {
    http: Vec<SocketAddr>,
    udp: Vec<SocketAddr>,
    announce_path: Option<String>,
}

/// A port free on `ip` for both TCP and UDP, so the tracker's two URLs
/// share a number. A short race with other programs remains; `Tracker::start`
/// then fails with the address named.
fn shared_port(ip: IpAddr) -> Option<u16> {
    for _ in 0..20 {
        let tcp = StdTcpListener::bind((ip, 0)).ok()?;
        let port = tcp.local_addr().ok()?.port();
        if UdpSocket::bind((ip, port)).is_ok() {
            return Some(port);
        }
    }
    None
}

/// Whether `ip` belongs to this machine: binding to it succeeds.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind((ip, 0)).is_ok()
}

/// The addresses of the torrent's announce URLs that point at this machine
/// and are free, so publish can be their tracker. A busy one is someone
/// else's tracker already: we only announce to it.
fn local_tracker_urls(torrent: &Torrent, env: &mut Env) -> Result<EmbeddedPlan> {
    use std::net::ToSocketAddrs;
    let mut plan = EmbeddedPlan::default();
    for url in torrent.meta.tracker_tiers().concat() {
        let Ok(parsed) = url::Url::parse(&url) else {
            continue;
        };
        let Some(port) = parsed.port_or_known_default() else {
            continue;
        };
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain("localhost")) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(url::Host::Domain(name)) => {
                match (name, port).to_socket_addrs().map(|mut a| a.next()) {
                    Ok(Some(addr)) => addr.ip(),
                    _ => continue,
                }
            }
            None => continue,
        };
        if !is_local(ip) {
            continue;
        }
        let addr = SocketAddr::new(ip, port);
        let (free, list) = match parsed.scheme() {
            "http" => (StdTcpListener::bind(addr).is_ok(), &mut plan.http),
            "udp" => (UdpSocket::bind(addr).is_ok(), &mut plan.udp),
            _ => continue,
        };
        if list.contains(&addr) {
            continue;
        }
        if !free {
            env.warn(format_args!(
                "{url} points at this machine but {addr} is in use: announcing to the tracker \
                 running there"
            ))?;
            continue;
        }
        if parsed.scheme() == "http" && plan.announce_path.is_none() {
            plan.announce_path = Some(parsed.path().to_owned());
        }
        list.push(addr);
    }
    Ok(plan)
}

fn tracker_config(plan: EmbeddedPlan, hashes: Vec<([u8; 20], String)>) -> TrackerConfig {
    TrackerConfig {
        http: plan.http,
        udp: plan.udp,
        announce_path: plan.announce_path.unwrap_or_else(|| "/announce".into()),
        access: AccessConfig {
            allow_torrents: hashes,
            ..AccessConfig::default()
        },
        udp_workers: 1,
        ..TrackerConfig::default()
    }
}

/// The URLs a created torrent lists for the embedded tracker.
fn embedded_urls(plan: &EmbeddedPlan, public_host: Option<&str>) -> Result<Vec<String>> {
    let host = |addr: &SocketAddr| -> Result<String> {
        match public_host {
            Some(host) => Ok(logic::url_host(host)),
            None if addr.ip().is_unspecified() => Err(flag_error(
                "--tracker-listen",
                format!(
                    "{addr} listens on every interface; give --public-host so the torrent's \
                     announce URL names a host peers can reach"
                ),
            )),
            None => Ok(logic::url_host(&addr.ip().to_string())),
        }
    };
    let path = plan.announce_path.as_deref().unwrap_or("/announce");
    let mut urls = Vec::new();
    for addr in &plan.http {
        urls.push(format!("http://{}:{}{path}", host(addr)?, addr.port()));
    }
    for addr in &plan.udp {
        urls.push(format!("udp://{}:{}", host(addr)?, addr.port()));
    }
    Ok(urls)
}

/// The embedded tracker for `--tracker-listen`: a port number shared by
/// HTTP and UDP when the port is 0.
fn listen_plan(addrs: &[SocketAddr]) -> Result<EmbeddedPlan> {
    let mut plan = EmbeddedPlan::default();
    for addr in addrs {
        let port = match addr.port() {
            0 => shared_port(addr.ip()).ok_or_else(|| Error::Listen {
                addr: *addr,
                source: std::io::ErrorKind::AddrNotAvailable.into(),
            })?,
            port => port,
        };
        plan.http.push(SocketAddr::new(addr.ip(), port));
        plan.udp.push(SocketAddr::new(addr.ip(), port));
    }
    Ok(plan)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

pub fn execute(plan: Plan, env: &mut Env) -> Result<()> {
    let mut created = false;
    // Chosen before a torrent is created, so the torrent can list it.
    let mut embedded = if plan.tracker_listen.is_empty() {
        None
    } else {
        Some(listen_plan(&plan.tracker_listen)?)
    };

    // 1. The torrent: created or read.
    let (torrent_path, bytes, torrent, content) = match &plan.input {
        Input::Content(create_plan) => {
            let mut create_plan = (**create_plan).clone();
            if let Some(embedded) = &embedded {
                create_plan
                    .tiers
                    .insert(0, embedded_urls(embedded, plan.public_host.as_deref())?);
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
            created = true;
            let Output::File(path) = made.output else {
                return Err(Error::Conflict("publish keeps the torrent in a file"));
            };
            let bytes = made.torrent.encode();
            (path, bytes, made.torrent, create_plan.input.clone())
        }
        Input::Torrent { path, content } => {
            let (bytes, torrent) = super::read_torrent(env, path)?;
            let root = super::verify::locate(content.as_deref(), path, &torrent, env)?;
            (env.path(path), bytes, torrent, root)
        }
    };
    if !torrent.meta.info.version.has_v1() {
        return Err(Error::Conflict(
            "publish cannot seed v2-only torrents yet (v1 and hybrid torrents only)",
        ));
    }
    if embedded.is_none() {
        let local = local_tracker_urls(&torrent, env)?;
        if !local.http.is_empty() || !local.udp.is_empty() {
            embedded = Some(local);
        }
    }

    // 2. Web seeds, before anyone is told about the torrent.
    let (torrent, _bytes) = check_web_seeds(&plan, env, &torrent_path, torrent, bytes)?;

    // 3. Verify (unless we hashed it a moment ago) and open for reading.
    let verify = if created { Verify::Skip } else { plan.verify };
    let bar = super::progress_bar(
        env,
        torrent.meta.info.total_length(),
        plan.quiet || plan.json,
        "Verifying",
    );
    let progress = |n| bar.inc(n);
    let started = Instant::now();
    let seed = super::with_threads(0, || {
        SeedTorrent::open(torrent.clone(), &content, verify, &progress)
    })??;
    bar.finish_and_clear();
    if verify == Verify::Full && !plan.quiet && !plan.json {
        writeln!(
            env.stderr,
            "Verified {} in {:.1} s",
            crate::format::size(torrent.meta.info.total_length()),
            started.elapsed().as_secs_f64()
        )?;
    }

    // 4. Serve: the engine runs everything; this only prints.
    let tracker = embedded.map(|embedded| {
        let named = torrent_hashes(&torrent)
            .into_iter()
            .map(|h| (h, torrent.meta.info.name.clone()))
            .collect();
        tracker_config(embedded, named)
    });
    let runtime = runtime()?;
    runtime.block_on(async {
        let dht = match &plan.dht {
            Some(dht_plan) => Some(dht_settings(dht_plan, &torrent, env).await?),
            None => None,
        };
        let config = session::Config {
            torrents: vec![seed],
            listen: plan.listen,
            tcp: plan.tcp,
            utp: plan.utp,
            tracker,
            dht,
            connect: plan.connect.clone(),
            all_tiers: plan.all_tiers,
            slots: plan.slots,
            max_peers: plan.max_peers,
            max_peers_per_ip: plan.max_peers_per_ip,
            stop: plan.stop,
        };
        serve(&plan, &torrent, &torrent_path, config, env).await
    })
}

/// The DHT node's bootstrap: the torrent's `nodes`, --dht-bootstrap (else
/// the public routers), and the saved state.
async fn dht_settings(plan: &DhtPlan, torrent: &Torrent, env: &mut Env) -> Result<DhtSettings> {
    let mut names: Vec<String> = torrent.meta.nodes.iter().map(ToString::to_string).collect();
    names.extend(plan.bootstrap.iter().cloned());
    if plan.bootstrap.is_empty() {
        names.extend(dht::DEFAULT_ROUTERS.iter().map(|r| (*r).to_owned()));
    }
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
    emit(
        env,
        plan.json,
        &json!({"event": "web_seeds", "ok": report.ok, "passing": passing, "failing": failing}),
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

/// Starts the engine, prints what it reports until it has stopped.
async fn serve(
    plan: &Plan,
    torrent: &Torrent,
    torrent_path: &Path,
    config: session::Config,
    env: &mut Env,
) -> Result<()> {
    let shutdown = Shutdown::new();
    let mut publisher = match Publisher::start(config, &shutdown).await {
        Ok(publisher) => publisher,
        Err(err) => {
            if plan.json {
                emit(
                    env,
                    true,
                    &json!({"event": "error", "error": err.to_string()}),
                )?;
            }
            return Err(err);
        }
    };
    let listen = publisher.listen_addr();
    let mut magnet = Magnet::from_torrent(torrent);
    magnet.exact_sources.clone_from(&plan.exact_sources);
    magnet.peers.clone_from(&plan.peers);
    if let Some(own) = logic::peer_address(listen, plan.public_host.as_deref()) {
        if !magnet.peers.contains(&own) {
            magnet.peers.push(own);
        }
    }
    let magnet = magnet.to_uri();
    print_ready(plan, torrent, torrent_path, &publisher, &magnet, env)?;

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_status = Instant::now();
    let mut last_uploaded = 0u64;
    let mut first_ok: HashMap<String, bool> = HashMap::new();
    let live_line = env.stderr_is_terminal && !plan.json && !plan.quiet;
    // Listening from here on: a signal during a loop turn is not lost.
    let signal = shutdown::signalled();
    tokio::pin!(signal);
    let mut signalled = false;
    loop {
        tokio::select! {
            () = &mut signal, if !signalled => {
                signalled = true;
                shutdown.trigger();
            }
            event = publisher.next_event() => {
                let Some(event) = event else { break };
                if let Event::Stopping(_) = event {
                    if live_line {
                        writeln!(env.stderr)?;
                    }
                }
                let stopped = matches!(event, Event::Stopped(_));
                print_event(event, plan, env, &mut first_ok)?;
                if stopped {
                    break;
                }
            }
            _ = tick.tick() => {
                let due = last_status.elapsed() >= plan.status_interval;
                if !(due || live_line) {
                    continue;
                }
                let since = last_status.elapsed().as_secs_f64().max(1e-3);
                let snapshot = publisher.snapshot().await;
                let status = status_of(&snapshot, since, last_uploaded);
                if due {
                    last_status = Instant::now();
                    last_uploaded = snapshot.progress.uploaded;
                }
                if plan.json {
                    if due {
                        let mut event = serde_json::to_value(&status).map_err(std::io::Error::other)?;
                        event["event"] = json!("status");
                        event["trackers"] = serde_json::to_value(&snapshot.trackers).map_err(std::io::Error::other)?;
                        emit(env, true, &event)?;
                    }
                } else if !plan.quiet {
                    if live_line {
                        write!(env.stderr, "\r\x1b[2K{}", status.line())?;
                        env.stderr.flush()?;
                    } else {
                        writeln!(env.stderr, "{}", status.line())?;
                    }
                }
            }
        }
    }
    shutdown.finished().await;
    Ok(())
}

fn print_ready(
    plan: &Plan,
    torrent: &Torrent,
    torrent_path: &Path,
    publisher: &Publisher,
    magnet: &str,
    env: &mut Env,
) -> Result<()> {
    let listen = publisher.listen_addr();
    let tracker = publisher.tracker();
    let dht = publisher.dht_addr();
    let ready = json!({
        "event": "ready",
        "name": torrent.meta.info.name,
        "info_hash": torrent.info_hash.to_hex(),
        "info_hash_v2": torrent.info_hash_v2.as_ref().map(|h| hex(h)),
        "version": torrent.meta.info.version,
        "torrent": torrent_path.display().to_string(),
        "magnet": magnet,
        "listen": listen.to_string(),
        "transports": transports(plan),
        "trackers": torrent.meta.tracker_tiers().concat(),
        "embedded_tracker": tracker.map(|t| json!({
            "http": t.http_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "udp": t.udp_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        "dht": dht.map(|d| d.to_string()),
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
        writeln!(
            out,
            "Listening on  {listen} ({})",
            transports(plan).join(", ")
        )?;
        if let Some(t) = tracker {
            for addr in t.http_addrs() {
                writeln!(
                    out,
                    "Tracker       http://{addr}{}",
                    t.shared().config.announce_path
                )?;
            }
            for addr in t.udp_addrs() {
                writeln!(out, "Tracker       udp://{addr}")?;
            }
        }
        if let Some(d) = dht {
            writeln!(out, "DHT node on   {d}")?;
        }
    }
    if !plan.json {
        // The magnet is the one line scripts want: stdout, even with --quiet.
        writeln!(env.stdout, "{magnet}")?;
        env.stdout.flush()?;
    }
    Ok(())
}

fn transports(plan: &Plan) -> Vec<&'static str> {
    let mut names = Vec::new();
    if plan.tcp {
        names.push("tcp");
    }
    if plan.utp {
        names.push("utp");
    }
    names
}

fn status_of(snapshot: &Snapshot, since_secs: f64, last_uploaded: u64) -> Status {
    let progress = &snapshot.progress;
    let stats = &snapshot.seeder;
    Status {
        elapsed_secs: progress.elapsed.as_secs(),
        peers: stats.peers,
        peers_tcp: stats.peers_tcp,
        peers_utp: stats.peers_utp,
        uploaded: stats.uploaded,
        upload_rate: (stats.uploaded.saturating_sub(last_uploaded) as f64 / since_secs) as u64,
        completed: progress.downloads,
        ratio: (progress.ratio() * 1000.0).round() / 1000.0,
        trackers_working: snapshot
            .trackers
            .iter()
            .filter(|t| t.state == TrackerState::Working)
            .count(),
        // Trackers held in reserve (later in their tier) are not counted.
        trackers_total: snapshot
            .trackers
            .iter()
            .filter(|t| t.state != TrackerState::Idle)
            .count(),
        dht_nodes: snapshot.dht_nodes,
    }
}

fn print_event(
    event: Event,
    plan: &Plan,
    env: &mut Env,
    first_ok: &mut HashMap<String, bool>,
) -> Result<()> {
    match event {
        Event::Announce(event) => {
            let mut value = serde_json::to_value(&event).map_err(std::io::Error::other)?;
            value["event"] = json!("announce");
            value["announce_event"] = json!(event.event);
            emit(env, plan.json, &value)?;
            if plan.json || plan.quiet {
                return Ok(());
            }
            let key = format!("{} {}", event.url, event.info_hash);
            let was_ok = first_ok.insert(key, event.ok);
            if event.ok && was_ok != Some(true) {
                writeln!(
                    env.stderr,
                    "Announced     {} for {} ({} peers{})",
                    event.url,
                    event.info_hash.get(..8).unwrap_or(&event.info_hash),
                    event.peers,
                    event
                        .seeders
                        .zip(event.leechers)
                        .map(|(s, l)| format!(", {s} seeders, {l} leechers"))
                        .unwrap_or_default()
                )?;
            } else if !event.ok && was_ok != Some(false) {
                env.warn(format_args!(
                    "tracker {} ({}): {}",
                    event.url,
                    event.info_hash.get(..8).unwrap_or(&event.info_hash),
                    event.error.as_deref().unwrap_or("failed")
                ))?;
            }
        }
        Event::DhtAnnounce {
            info_hash,
            stored,
            peers,
        } => {
            emit(
                env,
                plan.json,
                &json!({"event": "dht_announce", "info_hash": hex(&info_hash), "stored": stored, "peers": peers}),
            )?;
            if !plan.json && !plan.quiet && stored > 0 {
                writeln!(
                    env.stderr,
                    "DHT           announced {} to {stored} nodes",
                    hex(&info_hash)
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
        Event::Stopping(reason) => {
            emit(
                env,
                plan.json,
                &json!({"event": "stopping", "reason": reason}),
            )?;
            if !plan.json && !plan.quiet {
                writeln!(env.stderr, "Stopping: {}", reason.describe())?;
            }
        }
        Event::Stopped(summary) => {
            emit(
                env,
                plan.json,
                &json!({
                    "event": "stopped",
                    "reason": summary.reason,
                    "elapsed_secs": summary.elapsed.as_secs(),
                    "uploaded": summary.uploaded,
                    "completed": summary.completed,
                }),
            )?;
            if !plan.json && !plan.quiet {
                let downloads = summary.completed;
                writeln!(
                    env.stderr,
                    "Sent {} in {:.0} s; {downloads} completed download{}",
                    crate::format::size(summary.uploaded),
                    summary.elapsed.as_secs_f64(),
                    if downloads == 1 { "" } else { "s" }
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::{Info, Layout, Metainfo};

    fn env() -> Env {
        Env {
            cwd: PathBuf::from("/"),
            stdout: Box::new(std::io::sink()),
            stderr: Box::new(std::io::sink()),
            stderr_is_terminal: false,
            source_date_epoch: None,
            now: 0,
        }
    }

    fn torrent_with(tiers: Vec<Vec<String>>) -> Torrent {
        Torrent::from_metainfo(Metainfo {
            announce: tiers.first().and_then(|t| t.first()).cloned(),
            announce_list: tiers,
            nodes: Vec::new(),
            web_seeds: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            info: Info {
                name: "x".into(),
                piece_length: 16 * 1024,
                pieces: vec![[0; 20]],
                private: false,
                source: None,
                layout: Layout::Single { length: 1 },
                version: Version::V1,
                file_tree: Vec::new(),
            },
            piece_layers: std::collections::BTreeMap::new(),
        })
    }

    #[test]
    fn local_free_tracker_urls_become_the_embedded_tracker() {
        let free = shared_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let busy = StdTcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let torrent = torrent_with(vec![
            vec![
                format!("http://localhost:{free}/tracker/announce"),
                format!("udp://127.0.0.1:{free}"),
            ],
            vec![format!("http://127.0.0.1:{busy_port}/announce")],
            // TEST-NET-1: not an address of this machine (a bind test, no traffic).
            vec!["http://192.0.2.1:6969/announce".into()],
            vec!["wss://127.0.0.1:1/announce".into()],
        ]);
        let plan = local_tracker_urls(&torrent, &mut env()).unwrap();
        let here = SocketAddr::from(([127, 0, 0, 1], free));
        assert_eq!(plan.http, vec![here]);
        assert_eq!(plan.udp, vec![here]);
        assert_eq!(plan.announce_path.as_deref(), Some("/tracker/announce"));
    }

    #[test]
    fn embedded_urls_need_a_host_peers_can_reach() {
        let any = EmbeddedPlan {
            http: vec!["0.0.0.0:6969".parse().unwrap()],
            udp: vec!["0.0.0.0:6969".parse().unwrap()],
            announce_path: None,
        };
        assert!(embedded_urls(&any, None).is_err());
        assert_eq!(
            embedded_urls(&any, Some("seed.example")).unwrap(),
            [
                "http://seed.example:6969/announce",
                "udp://seed.example:6969"
            ]
        );
        let v6 = EmbeddedPlan {
            http: vec!["[::1]:7000".parse().unwrap()],
            udp: Vec::new(),
            announce_path: Some("/a".into()),
        };
        assert_eq!(embedded_urls(&v6, None).unwrap(), ["http://[::1]:7000/a"]);
    }

    #[test]
    fn tracker_listen_shares_one_port_number() {
        let plan = listen_plan(&["127.0.0.1:0".parse().unwrap()]).unwrap();
        assert_eq!(plan.http.len(), 1);
        assert_ne!(plan.http[0].port(), 0);
        assert_eq!(plan.http, plan.udp);
    }
}
