//! `dht`: run a Mainline DHT node (`serve`) or use one for a moment
//! (`get-peers`, `announce`, `ping`).
//!
//! Parse (clap) → resolve (names to addresses, targets to info hashes,
//! [`Plan`]) → execute on a tokio runtime built here. One-shot commands are
//! bounded by `--timeout`; `serve` runs until SIGINT/SIGTERM, then saves its
//! routing table (`--state`) and stops every task before returning.

use crate::dht::save_state;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::dht::state::State;
use crate::dht::{Config, Dht, Id, DEFAULT_ROUTERS};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::magnet::Magnet;
use crate::shutdown::Shutdown;

/// Run or query a Mainline DHT node (BEP 5).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
mktorrent-rs dht serve --state dht.state --metrics dht.prom\n  \
mktorrent-rs dht get-peers release.torrent --json\n  \
mktorrent-rs dht announce 'magnet:?xt=urn:btih:...' --port 51413\n  \
mktorrent-rs dht ping router.example:6881")]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Serve(ServeArgs),
    GetPeers(GetPeersArgs),
    Announce(AnnounceArgs),
    Ping(PingArgs),
}

/// Where the node listens and how it joins the network.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0].
    #[arg(help_heading = "Network", long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,

    /// Node to join the network through (repeatable). Given any, the public routers
    /// are not used.
    #[arg(help_heading = "Network", long = "bootstrap", value_name = "HOST:PORT")]
    pub bootstrap: Vec<String>,

    /// Use no public router (e.g. to start a private network as its first node).
    #[arg(help_heading = "Network", long)]
    pub no_default_routers: bool,

    /// Routing table file to start from (read, not written).
    #[arg(help_heading = "State", long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Incoming queries answered per second per IP address (0: no limit).
    #[arg(help_heading = "Limits", long, default_value_t = 50, value_name = "N")]
    pub rate_limit: u32,
}

/// Run a long-lived DHT node: a bootstrap router for others.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("bind", |a| a.help("UDP address to listen on ([addr]:port for IPv6) [default: 0.0.0.0:6881]")),
    mut_arg("state", |a| a.help("Routing table file to start from and write back at exit"))
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub node: NodeArgs,

    /// Time between status lines on stdout (30s, 5m, 1h, or seconds).
    #[arg(help_heading = "Output", long, default_value_t = 60, value_name = "DURATION", value_parser = crate::cli::secs::<u64>)]
    pub status_interval: u64,

    /// Also run an IPv6 node (BEP 32) on this address, e.g. [::]:6881; it shares the node id.
    #[arg(help_heading = "Network", long, value_name = "ADDR")]
    pub bind6: Option<SocketAddr>,

    /// Write Prometheus-style counters to this file at each status line.
    #[arg(help_heading = "Output", long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,

    /// Info hashes the peer store holds; when full, a swarm of one peer of the
    /// address holding the most entries makes room.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 20_000,
        value_name = "N"
    )]
    pub max_hashes: usize,

    /// Peers stored per info hash; when full, the stalest entry of the address
    /// holding the most in that swarm makes room.
    #[arg(help_heading = "Limits", long, default_value_t = 200, value_name = "N")]
    pub max_peers_per_hash: usize,

    /// Peers stored in all (about 200 bytes each); when full, the stalest entry of
    /// the address holding the most makes room.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 100_000,
        value_name = "N"
    )]
    pub max_peers: usize,

    /// Ports one IP address may hold in one swarm; its stalest makes room for more.
    #[arg(help_heading = "Limits", long, default_value_t = 4, value_name = "N")]
    pub max_ports_per_ip: usize,

    /// Entries (info hash, port) one IP address may hold in all; its stalest
    /// makes room for more.
    #[arg(
        help_heading = "Limits",
        long,
        default_value_t = 1_000,
        value_name = "N"
    )]
    pub max_entries_per_ip: usize,
}

/// Find peers of a torrent through the DHT.
#[derive(Debug, clap::Args)]
pub struct GetPeersArgs {
    /// A hex info hash, a magnet link, or a .torrent file (its `nodes` are used to bootstrap).
    pub target: String,

    #[command(flatten)]
    pub node: NodeArgs,

    /// Give up after this long (10s, 2m, or seconds).
    #[arg(help_heading = "Lookup", long, default_value_t = 30, value_name = "DURATION", value_parser = crate::cli::secs::<u64>)]
    pub timeout: u64,

    /// Print JSON.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}

/// Announce that a peer on this machine has a torrent.
#[derive(Debug, clap::Args)]
pub struct AnnounceArgs {
    /// Hex info hash, magnet link or .torrent file.
    pub target: String,

    /// TCP port the peer listens on.
    #[arg(
        help_heading = "Announce",
        long,
        required_unless_present = "implied_port"
    )]
    pub port: Option<u16>,

    /// Let nodes use the UDP source port instead (behind NAT).
    #[arg(help_heading = "Announce", long, conflicts_with = "port")]
    pub implied_port: bool,

    #[command(flatten)]
    pub node: NodeArgs,

    /// Give up after this long (10s, 2m, or seconds).
    #[arg(help_heading = "Announce", long, default_value_t = 30, value_name = "DURATION", value_parser = crate::cli::secs::<u64>)]
    pub timeout: u64,

    /// Print JSON.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}

/// Check that a DHT node answers.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// The node, as HOST:PORT or [v6]:PORT.
    pub node: String,

    /// UDP address to send from [default: 0.0.0.0:0, or [::]:0 for an IPv6 node].
    #[arg(help_heading = "Network", long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,

    /// Give up after this long (10s, 2m, or seconds).
    #[arg(help_heading = "Ping", long, default_value_t = 5, value_name = "DURATION", value_parser = crate::cli::secs::<u64>)]
    pub timeout: u64,

    /// Print JSON.
    #[arg(help_heading = "Output", long)]
    pub json: bool,
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        match args.command {
            Command::Serve(args) => serve(args, env).await,
            Command::GetPeers(args) => get_peers(args, env).await,
            Command::Announce(args) => announce(args, env).await,
            Command::Ping(args) => ping(args, env).await,
        }
    })
}

/// A node ready to start: everything checked and resolved.
struct Plan {
    bind: SocketAddr,
    config: Config,
    state: Option<PathBuf>,
}

/// What a one-shot command looks up.
struct Target {
    info_hash: Id,
    /// `nodes` of a .torrent file.
    nodes: Vec<String>,
}

fn parse_target(env: &Env, text: &str) -> Result<Target> {
    if let Some(id) = Id::from_hex(text) {
        return Ok(Target {
            info_hash: id,
            nodes: Vec::new(),
        });
    }
    if text.starts_with("magnet:") {
        let magnet = Magnet::parse(text)?;
        let info_hash = magnet.info_hash.ok_or_else(|| Error::DhtTarget {
            target: text.to_owned(),
            reason: "the magnet link has no BitTorrent v1 info hash",
        })?;
        return Ok(Target {
            info_hash: info_hash.into(),
            nodes: Vec::new(),
        });
    }
    if !env.path(text).exists() {
        return Err(Error::DhtTarget {
            target: text.to_owned(),
            reason: "not a 40-digit hex info hash, a magnet link or an existing .torrent file",
        });
    }
    let torrent = super::load_torrent(env, Path::new(text))?;
    Ok(Target {
        info_hash: torrent.info_hash.into(),
        nodes: torrent.meta.nodes.iter().map(ToString::to_string).collect(),
    })
}

/// Turns the node flags into a plan: bootstrap names resolved to addresses
/// of the socket's family, the state file read.
async fn resolve(
    args: &NodeArgs,
    default_bind: SocketAddr,
    extra_nodes: Vec<String>,
    serve: bool,
    env: &mut Env,
) -> Result<Plan> {
    let bind = args.bind.unwrap_or(default_bind);
    let mut names = args.bootstrap.clone();
    let explicit = !names.is_empty() || !extra_nodes.is_empty() || args.no_default_routers;
    names.extend(extra_nodes);
    if !explicit {
        names.extend(DEFAULT_ROUTERS.iter().map(|r| (*r).to_owned()));
    }
    let mut bootstrap = resolve_nodes(&names, env).await?;
    let mut config = Config {
        rate_limit: args.rate_limit,
        ..Config::default()
    };
    // One-shot tools leave at once: routing to them would only waste others' time.
    config.read_only = !serve;
    if let Some(path) = &args.state {
        if let Some(state) = read_state(&env.path(path))? {
            config.id = state.id;
            bootstrap.extend(state.addresses());
        }
    }
    bootstrap.dedup();
    config.bootstrap = bootstrap;
    Ok(Plan {
        bind,
        config,
        state: args.state.as_ref().map(|p| env.path(p)),
    })
}

/// Resolves `host:port` names to addresses; names that do not resolve are
/// warned about and skipped (one dead router must not stop a node).
pub(crate) async fn resolve_nodes(names: &[String], env: &mut Env) -> Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    for name in names {
        let node = super::create::parse_node(name)?;
        let found = tokio::net::lookup_host((node.host.as_str(), node.port)).await;
        match found {
            Ok(found) => addrs.extend(found),
            Err(err) => env.warn(format_args!("bootstrap node {name}: {err}"))?,
        }
    }
    Ok(addrs)
}

/// Reads a saved routing table; `None` when the file does not exist yet
/// (it is written at exit).
pub(crate) fn read_state(path: &Path) -> Result<Option<State>> {
    let fail = |reason: String| Error::DhtState {
        path: path.to_owned(),
        reason,
    };
    match std::fs::read(path) {
        Ok(bytes) => State::decode(&bytes)
            .map(Some)
            .map_err(|err| fail(err.to_string())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(fail(err.to_string())),
    }
}

async fn start(plan: &Plan, shutdown: &Shutdown) -> Result<Dht> {
    start_on(plan, plan.bind, plan.config.id, shutdown).await
}

/// Starts a node on `bind`, bootstrapping from the plan's addresses of its family.
async fn start_on(
    plan: &Plan,
    bind: SocketAddr,
    id: Option<Id>,
    shutdown: &Shutdown,
) -> Result<Dht> {
    let bind_error = |source| Error::DhtBind { addr: bind, source };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(bind_error)?;
    let mut config = plan.config.clone();
    config.id = id;
    config.bootstrap.retain(|a| a.is_ipv4() == bind.is_ipv4());
    Dht::start(socket, config, shutdown).map_err(bind_error)
}

fn any_addr(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

async fn serve(args: ServeArgs, env: &mut Env) -> Result<()> {
    if let Err(err) = crate::limits::raise_fd_limit() {
        env.warn(err)?;
    }
    let mut plan = resolve(&args.node, any_addr(6881), Vec::new(), true, env).await?;
    plan.config.max_hashes = args.max_hashes;
    plan.config.max_peers_per_hash = args.max_peers_per_hash;
    plan.config.max_peers = args.max_peers;
    plan.config.max_ports_per_ip = args.max_ports_per_ip;
    plan.config.max_entries_per_ip = args.max_entries_per_ip;
    let node_shutdown = Shutdown::new();
    let dht = start(&plan, &node_shutdown).await?;
    let dht6 = match args.bind6 {
        Some(bind6) => Some(start_on(&plan, bind6, Some(dht.id()), &node_shutdown).await?),
        None => None,
    };
    // Signals stop the status loop first, so the table can still be saved.
    let signals = Shutdown::new();
    signals.spawn(signals.clone().trigger_on_signals());
    writeln!(
        env.stderr,
        "DHT node {} listening on {} ({} bootstrap addresses)",
        dht.id(),
        dht.local_addr(),
        plan.config.bootstrap.len()
    )?;
    if let Some(dht6) = &dht6 {
        writeln!(
            env.stderr,
            "IPv6 DHT node listening on {}",
            dht6.local_addr()
        )?;
    }
    let mut status = tokio::time::interval(Duration::from_secs(args.status_interval.max(1)));
    status.tick().await;
    let result = loop {
        tokio::select! {
            () = signals.cancelled() => break Ok(()),
            _ = status.tick() => {
                let stats = dht.stats().await?;
                let c = &stats.counters;
                write!(
                    env.stdout,
                    "nodes {} (good {}) hashes {} peers {} queries {} rate-limited {} dropped {}",
                    stats.nodes, stats.good_nodes, stats.stored_hashes, stats.stored_peers,
                    c.queries_received, c.queries_rate_limited, c.packets_dropped
                )?;
                let mut metrics = stats.to_prometheus();
                if let Some(dht6) = &dht6 {
                    let stats6 = dht6.stats().await?;
                    write!(
                        env.stdout,
                        " | ipv6 nodes {} hashes {} queries {}",
                        stats6.nodes, stats6.stored_hashes, stats6.counters.queries_received
                    )?;
                    metrics.push_str(&stats6.to_prometheus().replace("mktorrent_dht_", "mktorrent_dht6_"));
                }
                writeln!(env.stdout)?;
                env.stdout.flush()?;
                if let Some(path) = &args.metrics {
                    let path = env.path(path);
                    if let Err(err) = std::fs::write(&path, &metrics) {
                        break Err(Error::WriteOutput { path, source: err });
                    }
                }
            }
        }
    };
    let saved = match &plan.state {
        Some(path) => save_state(&dht, dht6.as_ref(), path).await,
        None => Ok(()),
    };
    node_shutdown.finished().await;
    signals.finished().await;
    result.and(saved)
}

/// Starts a one-shot node, runs `work` on it within `timeout` seconds, and
/// stops the node whatever happened.
async fn one_shot<T>(
    plan: &Plan,
    timeout: u64,
    what: &'static str,
    work: impl AsyncFnOnce(&Dht) -> Result<T>,
) -> Result<T> {
    let shutdown = Shutdown::new();
    let dht = start(plan, &shutdown).await?;
    let result = tokio::time::timeout(Duration::from_secs(timeout), work(&dht)).await;
    shutdown.finished().await;
    result.map_err(|_| Error::DhtTimeout {
        what,
        secs: timeout,
    })?
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn get_peers(args: GetPeersArgs, env: &mut Env) -> Result<()> {
    let target = parse_target(env, &args.target)?;
    let plan = resolve(&args.node, any_addr(0), target.nodes, false, env).await?;
    let started = Instant::now();
    let hash = target.info_hash;
    let found = one_shot(
        &plan,
        args.timeout,
        "get_peers lookup",
        async |dht: &Dht| Ok(dht.get_peers(hash).await?),
    )
    .await?;
    if args.json {
        let json = serde_json::json!({
            "info_hash": hash.to_hex(),
            "peers": found.peers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "closest_nodes": found.closest.iter().map(|n| serde_json::json!({
                "id": n.id.to_hex(), "address": n.addr.to_string()
            })).collect::<Vec<_>>(),
            "queries": found.queries,
            "elapsed_ms": millis(started),
        });
        writeln!(env.stdout, "{json:#}")?;
    } else {
        for peer in &found.peers {
            writeln!(env.stdout, "{peer}")?;
        }
        writeln!(
            env.stderr,
            "{} peers for {hash} ({} nodes answered, {} queries, {} ms)",
            found.peers.len(),
            found.closest.len(),
            found.queries,
            millis(started)
        )?;
    }
    Ok(())
}

async fn announce(args: AnnounceArgs, env: &mut Env) -> Result<()> {
    let target = parse_target(env, &args.target)?;
    let plan = resolve(&args.node, any_addr(0), target.nodes, false, env).await?;
    let started = Instant::now();
    let hash = target.info_hash;
    let port = if args.implied_port { None } else { args.port };
    let done = one_shot(&plan, args.timeout, "announce", async |dht: &Dht| {
        Ok(dht.announce(hash, port).await?)
    })
    .await?;
    if args.json {
        let json = serde_json::json!({
            "info_hash": hash.to_hex(),
            "port": port,
            "nodes_tried": done.tried,
            "nodes_stored": done.stored,
            "peers": done.peers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "queries": done.queries,
            "elapsed_ms": millis(started),
        });
        writeln!(env.stdout, "{json:#}")?;
    } else {
        writeln!(
            env.stdout,
            "announced {hash} to {} of {} nodes ({} peers seen, {} queries, {} ms)",
            done.stored,
            done.tried,
            done.peers.len(),
            done.queries,
            millis(started)
        )?;
    }
    if done.stored == 0 {
        return Err(Error::DhtAnnounce(hash.to_hex()));
    }
    Ok(())
}

async fn ping(args: PingArgs, env: &mut Env) -> Result<()> {
    let node = super::create::parse_node(&args.node)?;
    let resolved = tokio::net::lookup_host((node.host.as_str(), node.port)).await;
    let addr = resolved
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Node {
            node: args.node.clone(),
            reason: "cannot resolve the host".to_owned(),
        })?;
    let default_bind = if addr.is_ipv4() {
        any_addr(0)
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let plan = Plan {
        bind: args.bind.unwrap_or(default_bind),
        config: Config {
            // Slightly inside --timeout, so a silent node is reported as such.
            query_timeout: Duration::from_millis(
                args.timeout
                    .saturating_mul(1000)
                    .saturating_sub(300)
                    .max(100),
            ),
            read_only: true,
            ..Config::default()
        },
        state: None,
    };
    let started = Instant::now();
    let id = one_shot(&plan, args.timeout, "ping", async |dht: &Dht| {
        Ok(dht.ping(addr).await?)
    })
    .await?;
    let rtt = started.elapsed().as_secs_f64() * 1000.0;
    if args.json {
        let json =
            serde_json::json!({ "address": addr.to_string(), "id": id.to_hex(), "rtt_ms": rtt });
        writeln!(env.stdout, "{json:#}")?;
    } else {
        writeln!(env.stdout, "{addr} answered in {rtt:.1} ms: node id {id}")?;
    }
    Ok(())
}
