//! `tracker`: run the embedded BitTorrent tracker (HTTP and UDP) until
//! SIGINT or SIGTERM; SIGHUP reloads the access lists.
//!
//! Parse (clap) → resolve ([`Plan::resolve`] turns flags into a checked
//! [`TrackerConfig`]) → execute (builds the tokio runtime here, so other
//! subcommands start without one).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::InfoHash;
use crate::shutdown::Shutdown;
use crate::tracker::access::AccessConfig;
use crate::tracker::http_proto::Cidr;
use crate::tracker::store::StoreConfig;
use crate::tracker::swarm::Limits;
use crate::tracker::{Tracker, TrackerConfig};

const DEFAULT_V4: &str = "0.0.0.0:6969";
const DEFAULT_V6: &str = "[::]:6969";

/// Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Defaults: HTTP and UDP on 0.0.0.0:6969 and [::]:6969 (IPv6 skipped when the \
host has none). Port 0 picks a free port; the bound addresses are printed.\n\
Peers that have not announced for --peer-timeout seconds (default 2700: the 1800 s interval, \
its jitter and slack) are dropped; completed counts are kept.\n\
Signals: SIGINT/SIGTERM stop (state saved), SIGHUP reloads --allow-list, --deny-list, \
--allowed-dir and --keys.\n\n\
Examples:\n  \
mktorrent-rs tracker\n  \
mktorrent-rs tracker --allowed-dir ./torrents --state tracker.state\n  \
mktorrent-rs tracker --keys passkeys.txt --allowed-dir ./torrents\n  \
mktorrent-rs tracker --http 127.0.0.1:8080 --trust-proxy 127.0.0.1/32 --stats-from 10.0.0.0/8"
)]
pub struct Args {
    /// HTTP listen address (repeatable; IPv6 as [addr]:port).
    #[arg(help_heading = "Listening", long = "http", value_name = "ADDR")]
    pub http: Vec<SocketAddr>,

    /// UDP (BEP 15) listen address (repeatable).
    #[arg(help_heading = "Listening", long = "udp", value_name = "ADDR")]
    pub udp: Vec<SocketAddr>,

    /// Do not serve HTTP.
    #[arg(help_heading = "Listening", long, conflicts_with = "http")]
    pub no_http: bool,

    /// Do not serve UDP.
    #[arg(help_heading = "Listening", long, conflicts_with = "udp")]
    pub no_udp: bool,

    /// HTTP announce path; the scrape path replaces "announce" with "scrape".
    #[arg(
        help_heading = "Listening",
        long,
        default_value = "/announce",
        value_name = "PATH"
    )]
    pub announce_path: String,

    /// Announce interval (30m, 1h, or seconds; up to 10% random jitter is added).
    #[arg(help_heading = "Announce and scrape", long, default_value_t = 1800, value_name = "DURATION", value_parser = crate::cli::secs::<u32>)]
    pub interval: u32,

    /// Minimum announce interval (15m, or seconds).
    #[arg(help_heading = "Announce and scrape", long, default_value_t = 900, value_name = "DURATION", value_parser = crate::cli::secs::<u32>)]
    pub min_interval: u32,

    /// Drop peers silent for this long (45m, or seconds).
    #[arg(help_heading = "Announce and scrape", long, default_value_t = 2700, value_name = "DURATION", value_parser = crate::cli::secs::<u32>)]
    pub peer_timeout: u32,

    /// Peers returned when the client does not say.
    #[arg(
        help_heading = "Announce and scrape",
        long,
        default_value_t = 50,
        value_name = "N"
    )]
    pub numwant: usize,

    /// Most peers returned to one announce.
    #[arg(
        help_heading = "Announce and scrape",
        long,
        default_value_t = 200,
        value_name = "N"
    )]
    pub max_numwant: usize,

    /// Most info hashes in one HTTP scrape.
    #[arg(
        help_heading = "Announce and scrape",
        long,
        default_value_t = 64,
        value_name = "N"
    )]
    pub max_scrape: usize,

    /// Serve a full scrape (no info_hash), gzip-compressed, rebuilt at most once a minute.
    #[arg(help_heading = "Announce and scrape", long)]
    pub full_scrape: bool,

    /// Most torrents tracked; new ones are refused beyond it.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 1_000_000,
        value_name = "N"
    )]
    pub max_torrents: usize,

    /// Most peers in one swarm; beyond it a newcomer takes the place of one of 8 sampled
    /// peers, the one whose address holds the most ports there.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 100_000,
        value_name = "N"
    )]
    pub max_peers: usize,

    /// Most peers in all swarms (20-40 bytes each in memory); beyond it a newcomer takes the
    /// place of a peer of its swarm, as for --max-peers.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 5_000_000,
        value_name = "N"
    )]
    pub max_total_peers: usize,

    /// Most ports one IP address holds in one swarm; more are refused.
    #[arg(help_heading = "Limits", long, default_value_t = 8, value_name = "N")]
    pub max_ports_per_ip: usize,

    /// Most peers one IP address holds in all swarms; more are refused.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 10_000,
        value_name = "N"
    )]
    pub max_peers_per_ip: usize,

    /// Requests per second allowed per client IP (0: unlimited). A client announces each
    /// torrent every 30 minutes, so even a seedbox of 10,000 torrents needs about 6.
    #[arg(help_heading = "Limits", long, default_value_t = 100, value_name = "N")]
    pub rate_limit: u32,

    /// Burst allowed above --rate-limit [default: 5 × the rate].
    #[arg(help_heading = "Limits", long, value_name = "N")]
    pub rate_burst: Option<u32>,

    /// Longest accepted HTTP query string (2048, 4KiB).
    #[arg(help_heading = "Limits", long, default_value_t = 2048, value_name = "SIZE", value_parser = crate::cli::size::<usize>)]
    pub max_query: usize,

    /// Key for UDP connection IDs, 32 hex digits; instances sharing it accept each
    /// other's IDs [default: random per start].
    #[arg(help_heading = "UDP connection IDs", long, value_name = "HEX")]
    pub udp_key: Option<String>,

    /// How long a UDP connection ID stays valid (2m, or seconds).
    #[arg(help_heading = "UDP connection IDs", long, default_value_t = 120, value_name = "DURATION", value_parser = crate::cli::secs::<u32>)]
    pub connection_id_ttl: u32,

    /// Track only torrents whose .torrent files are in DIR (looked at for changes every 10 s,
    /// and at once on SIGHUP).
    #[arg(help_heading = "Access", long, value_name = "DIR")]
    pub allowed_dir: Option<PathBuf>,

    /// Serve the --allowed-dir .torrent files at /torrents/HASH.torrent, linked from the
    /// status page (to the --stats-from networks, like the page).
    #[arg(help_heading = "Access", long, requires = "allowed_dir")]
    pub allow_get: bool,

    /// Track only the info hashes listed in FILE (hex, one per line).
    #[arg(help_heading = "Access", long, value_name = "FILE")]
    pub allow_list: Option<PathBuf>,

    /// Never track the info hashes listed in FILE.
    #[arg(help_heading = "Access", long, value_name = "FILE")]
    pub deny_list: Option<PathBuf>,

    /// Private mode: announce only at /announce/KEY or /KEY/announce (HTTP, and BEP 41 URL
    /// data over UDP) and scrape at /scrape/KEY or /KEY/scrape, for the passkeys in FILE (one
    /// per line, 16-64 characters of A-Z a-z 0-9 _ -). Re-read on SIGHUP and when it changes.
    #[arg(help_heading = "Access", long, value_name = "FILE")]
    pub keys: Option<PathBuf>,

    /// Private mode as --keys, with the passkeys in the Redis set NAME of --store (checked
    /// with SISMEMBER, members believed for 30 s; SIGHUP forgets them at once).
    #[arg(
        help_heading = "Access",
        long,
        value_name = "NAME",
        requires = "store",
        conflicts_with = "keys"
    )]
    pub keys_redis_set: Option<String>,

    /// Save completed counts and peers to FILE periodically and at exit; load at start.
    #[arg(help_heading = "State", long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Time between state saves (5m, or seconds).
    #[arg(help_heading = "State", long, default_value_t = 300, value_name = "DURATION", value_parser = crate::cli::secs::<u64>)]
    pub save_every: u64,

    /// Take the client address from X-Forwarded-For for requests from this network
    /// (repeatable).
    #[arg(help_heading = "Access", long, value_name = "CIDR")]
    pub trust_proxy: Vec<Cidr>,

    /// Serve /, /stats.json and /metrics only to this network (repeatable) [default:
    /// everyone].
    #[arg(help_heading = "Access", long, value_name = "CIDR")]
    pub stats_from: Vec<Cidr>,

    /// UDP worker threads per socket [default: one per core; 8 per core with --store redis].
    #[arg(help_heading = "Listening", long, value_name = "N")]
    pub udp_workers: Option<usize>,

    /// Keep swarms in Redis/Valkey, shared by every tracker pointed at it:
    /// redis://HOST:PORT[/DB], rediss:// (TLS), redis+cluster://HOST:PORT[,HOST:PORT...]
    /// (Redis Cluster) [default: in memory]. Give the instances one --udp-key.
    #[arg(long, value_name = "URL", help_heading = "Store")]
    pub store: Option<String>,

    /// Exit at start when the --store is unreachable, and refuse announces while it is
    /// down [default: answer from memory with a 60 s interval].
    #[arg(long, requires = "store", help_heading = "Store")]
    pub store_required: bool,
}

/// A checked plan: the tracker configuration and what to print.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: TrackerConfig,
    /// Addresses were defaulted: skip IPv6 ones if the host has no IPv6.
    pub defaulted_v6: bool,
}

fn bad(flag: &'static str, reason: String) -> Error {
    Error::TrackerFlag { flag, reason }
}

impl Plan {
    /// Checks flags against each other and builds the configuration.
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        let defaults = |given: Vec<SocketAddr>, off: bool| -> (Vec<SocketAddr>, bool) {
            if off {
                (Vec::new(), false)
            } else if given.is_empty() {
                let v4 = DEFAULT_V4.parse().ok();
                let v6 = DEFAULT_V6.parse().ok();
                (v4.into_iter().chain(v6).collect(), true)
            } else {
                (given, false)
            }
        };
        let (http, http_defaulted) = defaults(args.http, args.no_http);
        let (udp, udp_defaulted) = defaults(args.udp, args.no_udp);
        if http.is_empty() && udp.is_empty() {
            return Err(Error::Conflict(
                "--no-http and --no-udp leave nothing to serve",
            ));
        }
        if !args.announce_path.starts_with('/') {
            return Err(bad("--announce-path", "must start with '/'".into()));
        }
        if args.interval == 0 {
            return Err(bad("--interval", "must be at least 1 second".into()));
        }
        if args.min_interval > args.interval {
            return Err(bad(
                "--min-interval",
                format!(
                    "{} is longer than --interval {}",
                    args.min_interval, args.interval
                ),
            ));
        }
        if args.peer_timeout <= args.interval {
            return Err(bad(
                "--peer-timeout",
                format!(
                    "{} must be longer than --interval {}, or every peer expires before re-announcing",
                    args.peer_timeout, args.interval
                ),
            ));
        }
        if args.numwant > args.max_numwant {
            return Err(bad(
                "--numwant",
                format!(
                    "{} is above --max-numwant {}",
                    args.numwant, args.max_numwant
                ),
            ));
        }
        for (flag, value) in [
            ("--max-ports-per-ip", args.max_ports_per_ip),
            ("--max-peers-per-ip", args.max_peers_per_ip),
            ("--max-total-peers", args.max_total_peers),
        ] {
            if value == 0 {
                return Err(bad(flag, "must be at least 1".into()));
            }
        }
        if args.save_every == 0 {
            return Err(bad("--save-every", "must be at least 1 second".into()));
        }
        let connection_id_key = match &args.udp_key {
            None => None,
            Some(hex) => {
                // 32 hex digits: reuse the info-hash parser on a padded copy.
                let padded = format!("{hex}00000000");
                match InfoHash::from_hex(&padded).filter(|_| hex.len() == 32) {
                    Some(hash) => {
                        let mut key = [0; 16];
                        key.copy_from_slice(&hash.0[..16]);
                        Some(key)
                    }
                    None => return Err(bad("--udp-key", "must be 32 hex digits".into())),
                }
            }
        };
        let store = match args.store {
            None => StoreConfig::Memory,
            Some(url) => {
                // Redis holds the swarms: a state file or a full scrape would
                // cover only this instance's degraded answers.
                if args.state.is_some() {
                    return Err(Error::Conflict(
                        "--state keeps this process's swarms; with --store they are in Redis",
                    ));
                }
                if args.full_scrape {
                    return Err(Error::Conflict(
                        "--full-scrape needs every swarm of one process; not with --store",
                    ));
                }
                StoreConfig::Redis {
                    url,
                    required: args.store_required,
                }
            }
        };
        let rate_limit = (args.rate_limit > 0).then(|| {
            let rate = args.rate_limit;
            (rate, args.rate_burst.unwrap_or(rate.saturating_mul(5)))
        });
        let config = TrackerConfig {
            http,
            udp,
            announce_path: args.announce_path,
            interval: args.interval,
            interval_jitter: args.interval / 10,
            min_interval: args.min_interval,
            peer_timeout: args.peer_timeout,
            default_numwant: args.numwant,
            max_numwant: args.max_numwant,
            max_scrape: args.max_scrape,
            full_scrape: args.full_scrape,
            limits: Limits {
                max_torrents: args.max_torrents,
                max_peers_per_swarm: args.max_peers,
                max_peers: args.max_total_peers,
                max_ports_per_ip: args.max_ports_per_ip,
                max_peers_per_ip: args.max_peers_per_ip,
            },
            max_query: args.max_query,
            rate_limit,
            connection_id_key,
            connection_id_max_age: args.connection_id_ttl,
            access: AccessConfig {
                allowed_dir: args.allowed_dir.map(|p| env.path(p)),
                allow_list: args.allow_list.map(|p| env.path(p)),
                deny_list: args.deny_list.map(|p| env.path(p)),
                allow_torrents: Vec::new(),
                closed: false,
            },
            state_file: args.state.map(|p| env.path(p)),
            save_every: Duration::from_secs(args.save_every),
            trust_proxy: args.trust_proxy,
            stats_from: args.stats_from,
            udp_workers: args.udp_workers.unwrap_or(0),
            store,
            keys: args.keys.map(|p| env.path(p)),
            keys_redis_set: args.keys_redis_set,
            allow_get: args.allow_get,
            ..TrackerConfig::default()
        };
        Ok(Self {
            config,
            defaulted_v6: http_defaulted || udp_defaulted,
        })
    }
}

/// Whether this host can bind IPv6 at all.
fn has_ipv6() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let mut plan = Plan::resolve(args, env)?;
    if plan.defaulted_v6 && !has_ipv6() {
        env.warn("no IPv6 on this host; serving IPv4 only")?;
        plan.config.http.retain(SocketAddr::is_ipv4);
        plan.config.udp.retain(SocketAddr::is_ipv4);
    }
    // Every idle connection holds a descriptor; the inherited soft limit is often 1024.
    if let Err(err) = crate::limits::raise_fd_limit() {
        env.warn(err)?;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal (no-color.org).
        .with_ansi(env.color())
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tracker")
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(execute(plan, env))
}

/// Starts the tracker, prints its URLs, serves until a stop signal.
pub async fn execute(plan: Plan, env: &mut Env) -> Result<()> {
    let shutdown = Shutdown::new();
    // Handlers go in before the URLs are printed: whoever reads them may
    // signal at once, and a default-handled SIGTERM would skip the save.
    let signals = Signals::install().map_err(Error::Runtime)?;
    let path = plan.config.announce_path.clone();
    let tracker = match Tracker::start(plan.config, &shutdown).await {
        Ok(tracker) => tracker,
        Err(err) => {
            shutdown.finished().await;
            return Err(err.into());
        }
    };
    for addr in tracker.http_addrs() {
        writeln!(env.stdout, "http://{addr}{path}")?;
    }
    for addr in tracker.udp_addrs() {
        writeln!(env.stdout, "udp://{addr}{path}")?;
    }
    env.stdout.flush()?;
    shutdown.spawn(signals.watch(tracker, shutdown.clone()));
    shutdown.cancelled().await;
    shutdown.finished().await;
    Ok(())
}

/// SIGINT/SIGTERM stop, SIGHUP reloads the access lists.
struct Signals {
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            streams: [
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::hangup())?,
            ],
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Self {})
    }

    #[cfg(unix)]
    async fn watch(self, tracker: Tracker, shutdown: Shutdown) {
        let [mut interrupt, mut terminate, mut hangup] = self.streams;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = interrupt.recv() => shutdown.trigger(),
                _ = terminate.recv() => shutdown.trigger(),
                _ = hangup.recv() => {
                    if let Err(err) = tracker.reload().await {
                        tracing::error!("reload failed, keeping the old lists: {err}");
                    }
                }
            }
        }
    }

    #[cfg(not(unix))]
    async fn watch(self, tracker: Tracker, shutdown: Shutdown) {
        let _ = tracker;
        shutdown.trigger_on_signals().await;
    }
}
