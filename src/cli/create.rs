//! `create`: hash content into a `.torrent`.
//!
//! Parse (clap) → resolve ([`Plan::resolve`], the only place flags are
//! checked against each other) → execute ([`execute`], which takes only the
//! plan). Output is reproducible: the same content and flags give the same
//! bytes, with `SOURCE_DATE_EPOCH` fixing the creation date.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::create_url;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::files::{self, Content, Filters};
use crate::hasher;
use crate::magnet::Magnet;
use crate::merkle;
use crate::metainfo::{FileEntry, Info, Layout, Metainfo, Node, Torrent, V2File, Version};
use crate::piece_length;
use crate::storage::{Storage, StorageError};

/// DHT routers written to trackerless torrents when no `--nodes` are given.
pub const DEFAULT_ROUTERS: &[(&str, u16)] = &[
    ("router.bittorrent.com", 6881),
    ("router.utorrent.com", 6881),
    ("dht.transmissionbt.com", 6881),
    ("dht.libtorrent.org", 25401),
];

/// Create a .torrent file from a file, a directory, or files on a web server (URLs).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Piece length: by default the smallest power of two that keeps the piece \
count at or below 1500 (--target-piece-count), between 32 KiB and 16 MiB (--max-piece-length).\n\
Presets: --preset NAME reads [presets.NAME] from mktorrent-rs.toml in the current directory, \
else from $XDG_CONFIG_HOME/mktorrent-rs/mktorrent-rs.toml (default \
~/.config/mktorrent-rs/mktorrent-rs.toml); its keys are the long flag names (trackers, \
web-seeds, piece-length, private, source, exclude, ...; lists for repeatable flags), and a \
flag on the command line wins over the preset.\n\
Reproducible output: the same content and flags give byte-identical torrents; set \
SOURCE_DATE_EPOCH to fix the creation date (or use --no-date).\n\n\
Examples:\n  \
mktorrent-rs create ubuntu.iso -a udp://tracker.example:6969/announce\n  \
mktorrent-rs create dist/ -a udp://a.example:6969,udp://b.example:6969 \\\n      \
-a https://c.example/announce -w https://mirror.example/pub/ -o release.torrent\n  \
mktorrent-rs create dist/ --trackerless --hybrid --json\n  \
mktorrent-rs create https://mirror.example/pub/ubuntu.iso -a udp://tracker.example:6969\n  \
mktorrent-rs create dist/ --preset mytracker --comment 'v1.2'"
)]
pub struct Args {
    /// The file (single-file torrent) or directory (multi-file torrent) to share; or the
    /// http(s) URL of a file on a web server, streamed once and never stored (several URLs:
    /// files in one folder, a multi-file torrent named after it).
    #[arg(value_name = "PATH|URL", required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,

    /// With URLs: do not make the URL the torrent's web seed (url-list), and accept servers
    /// that ignore Range requests.
    #[arg(help_heading = "Trackers and peers", long)]
    pub no_web_seed: bool,

    #[command(flatten)]
    pub torrent: TorrentArgs,

    /// No progress bar and no summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print a JSON summary instead of the human one.
    #[arg(long)]
    pub json: bool,

    /// Also print the magnet link.
    #[arg(long)]
    pub magnet: bool,
}

/// What the torrent holds and where it is written: the flags `create` and
/// `publish` share.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct TorrentArgs {
    /// Tracker announce URL (http, https or udp). Each flag is one tier; commas put
    /// several URLs in the same tier.
    #[arg(
        help_heading = "Trackers and peers",
        short = 'a',
        long = "tracker",
        visible_alias = "announce",
        value_name = "URL[,URL...]"
    )]
    pub trackers: Vec<String>,

    /// Make a trackerless torrent: DHT only (BEP 5), no announce URL.
    #[arg(help_heading = "Trackers and peers", long)]
    pub trackerless: bool,

    /// DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and
    /// no --nodes, well-known public routers are used.
    #[arg(
        help_heading = "Trackers and peers",
        long = "nodes",
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub nodes: Vec<String>,

    /// Web seed URL (BEP 19 url-list); repeatable. Single file: the file's own URL, or a
    /// folder URL ending in '/' (clients append the name). Multi-file: the folder URL
    /// ending in '/' that holds NAME/ (clients append NAME/PATH).
    #[arg(
        help_heading = "Trackers and peers",
        short = 'w',
        long = "web-seed",
        value_name = "URL"
    )]
    pub web_seeds: Vec<String>,

    /// Mark the torrent private (BEP 27): peers only from its trackers.
    #[arg(help_heading = "Metadata", short = 'p', long)]
    pub private: bool,

    /// Source tag inside the info dictionary (changes the info hash; used by private trackers).
    #[arg(help_heading = "Metadata", short = 's', long)]
    pub source: Option<String>,

    /// Free-text comment.
    #[arg(help_heading = "Metadata", short = 'c', long)]
    pub comment: Option<String>,

    /// Torrent name (default: the file or directory name).
    #[arg(help_heading = "Metadata", short = 'n', long)]
    pub name: Option<String>,

    /// Omit the creation date.
    #[arg(help_heading = "Metadata", long)]
    pub no_date: bool,

    /// Omit the "created by" field.
    #[arg(help_heading = "Metadata", long)]
    pub no_created_by: bool,

    /// Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to
    /// 64 MiB [default: automatic].
    #[arg(
        help_heading = "Pieces and format",
        short = 'l',
        long,
        value_name = "SIZE"
    )]
    pub piece_length: Option<String>,

    /// With an automatic piece length: the largest to choose (a size, or an exponent)
    /// [default: 16 MiB].
    #[arg(help_heading = "Pieces and format", long, value_name = "SIZE")]
    pub max_piece_length: Option<String>,

    /// With an automatic piece length: the most pieces to aim for [default: 1500].
    #[arg(help_heading = "Pieces and format", long, value_name = "N")]
    pub target_piece_count: Option<u64>,

    /// Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory,
    /// else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags
    /// given on the command line win.
    #[arg(help_heading = "Preset", long, value_name = "NAME")]
    pub preset: Option<String>,

    /// The preset-able flags given on the command line (filled by
    /// [`crate::cli::parse`], never by clap itself).
    #[arg(skip)]
    pub given: Vec<String>,

    /// Include hidden files and directories (names starting with a dot).
    #[arg(help_heading = "Files", long)]
    pub include_hidden: bool,

    /// Include system junk files (.DS_Store, Thumbs.db, Desktop.ini).
    #[arg(help_heading = "Files", long)]
    pub include_junk: bool,

    /// Leave out files and directories matching GLOB (a name, or a path relative to the
    /// input when it contains '/'); repeatable.
    #[arg(help_heading = "Files", long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Only include files matching GLOB (same rules as --exclude); repeatable.
    #[arg(help_heading = "Files", long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Follow symbolic links (by default they are neither followed nor stored).
    #[arg(help_heading = "Files", long)]
    pub follow_symlinks: bool,

    /// Where to write the torrent ('-' for standard output) [default: NAME.torrent].
    #[arg(help_heading = "Output", short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Overwrite the output file if it exists.
    #[arg(help_heading = "Output", short = 'f', long)]
    pub force: bool,

    /// Hashing threads [default: one per core].
    #[arg(
        help_heading = "Pieces and format",
        short = 'j',
        long,
        value_name = "N"
    )]
    pub threads: Option<usize>,

    /// Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`).
    #[arg(
        help_heading = "Trackers and peers",
        long = "torrent-url",
        value_name = "URL"
    )]
    pub torrent_urls: Vec<String>,

    /// A peer for the magnet link's `x.pe=` (see `magnet`).
    #[arg(
        help_heading = "Trackers and peers",
        long = "peer",
        value_name = "HOST:PORT"
    )]
    pub peers: Vec<String>,

    /// Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2
    /// clients can use it. The default is v1, which every client reads.
    #[arg(help_heading = "Pieces and format", long, conflicts_with = "hybrid")]
    pub v2: bool,

    /// Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2
    /// clients share one swarm. Both hashes are computed in one pass.
    #[arg(help_heading = "Pieces and format", long)]
    pub hybrid: bool,
}

/// Where the torrent goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File(PathBuf),
}

/// A checked plan: everything `execute` needs, nothing it must validate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file or directory (for URLs: the first URL, for messages).
    pub input: PathBuf,
    /// URL inputs, checked: then `input` is not read.
    pub urls: Option<create_url::UrlPlan>,
    pub filters: Filters,
    pub tiers: Vec<Vec<String>>,
    pub nodes: Vec<Node>,
    /// The nodes are the default routers (the user is told so).
    pub default_nodes: bool,
    pub web_seeds: Vec<String>,
    pub private: bool,
    pub source: Option<String>,
    pub comment: Option<String>,
    pub name: Option<String>,
    pub creation_date: Option<i64>,
    pub created_by: Option<String>,
    pub piece_length: Option<u64>,
    /// How the piece length is chosen when `piece_length` is `None`.
    pub auto_piece: piece_length::Auto,
    /// The `--preset` the flags were completed from.
    pub preset: Option<PresetUsed>,
    /// `None`: decided once the content name is known (NAME.torrent in cwd).
    pub output: Option<Output>,
    pub force: bool,
    pub threads: usize,
    pub quiet: bool,
    pub json: bool,
    pub magnet: bool,
    /// `xs` and `x.pe` for the magnet link.
    pub exact_sources: Vec<String>,
    pub peers: Vec<String>,
    pub version: Version,
}

/// Checks a tracker URL: http, https or udp with a host (udp also a port).
pub fn check_tracker_url(url: &str) -> Result<()> {
    let bad = |reason: &str| Error::TrackerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(reason) = spaces(url) {
        return Err(bad(&reason));
    }
    let parsed =
        url::Url::parse(url).map_err(|err| bad(&url_error(err, "http://, https:// or udp://")))?;
    match parsed.scheme() {
        "http" | "https" => {}
        "udp" if parsed.port().is_none() => return Err(bad("udp trackers need a port")),
        "udp" => {}
        // `host:port/path` parses with `host` as its scheme.
        _ if !url.contains("://") => {
            return Err(bad(
                "no scheme: expected an absolute URL starting with http://, https:// or udp://",
            ))
        }
        other => return Err(bad(&format!("scheme {other:?} is not http, https or udp"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(())
}

/// Whitespace or control characters in a URL: a quoting slip that the
/// URL parser would quietly percent-encode or trim.
fn spaces(url: &str) -> Option<String> {
    if url.is_empty() {
        return Some("empty".into());
    }
    url.chars()
        .any(|c| c.is_whitespace() || c.is_control())
        .then(|| "contains a space or control character (percent-encode it as %20)".into())
}

/// A URL parse error said as what to write instead.
fn url_error(err: url::ParseError, schemes: &str) -> String {
    match err {
        url::ParseError::RelativeUrlWithoutBase => {
            format!("no scheme: expected an absolute URL starting with {schemes}")
        }
        other => other.to_string(),
    }
}

/// Why `url` is not an absolute http(s) URL with a host, if it is not.
/// Shared by every flag that takes a URL clients will fetch over HTTP.
pub fn http_url_problem(url: &str) -> Option<String> {
    // A space in a web seed's path is a real folder name (sent as %20);
    // control characters and empty values are slips.
    if url.is_empty() {
        return Some("empty".into());
    }
    if url.chars().any(char::is_control) {
        return Some("contains a control character".into());
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(err) => return Some(url_error(err, "http:// or https://")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!("scheme {:?} is not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("no host".into());
    }
    None
}

/// Tracker flags as BEP 12 tiers: each flag one tier, commas put several
/// URLs in the same tier; every URL is checked. `flag` names the flag in
/// the error for an empty value.
pub fn parse_tiers(flags: &[String], flag: &str) -> Result<Vec<Vec<String>>> {
    let mut tiers = Vec::new();
    for value in flags {
        if value.trim().is_empty() {
            return Err(Error::TrackerUrl {
                url: value.clone(),
                reason: format!("empty: give a URL, or leave out {flag}"),
            });
        }
        let tier: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        for url in &tier {
            check_tracker_url(url)?;
        }
        if !tier.is_empty() {
            tiers.push(tier);
        }
    }
    Ok(tiers)
}

pub(crate) fn check_web_seed(url: &str) -> Result<()> {
    match http_url_problem(url) {
        Some(reason) => Err(Error::WebSeedUrl {
            url: url.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Parses `host:port` or `[v6]:port`.
pub fn parse_node(text: &str) -> Result<Node> {
    let bad = |reason: &str| Error::Node {
        node: text.to_owned(),
        reason: reason.to_owned(),
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| bad("expected [address]:port"))?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address inside [...]"))?;
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port"))?;
        if host.contains(':') {
            return Err(bad("write IPv6 addresses as [address]:port"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| bad("port must be 1-65535"))?;
    Ok(Node {
        host: host.to_owned(),
        port,
    })
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("cannot be `.` or `..`")
    } else if name.contains('/') || name.contains('\\') || name.contains('\0') {
        Some("cannot contain a path separator or NUL")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::Name {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The one path, or the URLs: several inputs must all be URLs.
fn inputs(
    paths: Vec<PathBuf>,
    no_web_seed: bool,
    name: Option<&str>,
) -> Result<(PathBuf, Option<create_url::UrlPlan>)> {
    let texts: Vec<Option<&str>> = paths.iter().map(|p| p.to_str()).collect();
    let url_count = texts
        .iter()
        .filter(|t| t.is_some_and(create_url::is_url))
        .count();
    if url_count == 0 {
        if no_web_seed {
            return Err(Error::Conflict(
                "--no-web-seed is for URL inputs: a local file's torrent has a web seed only \
                 with --web-seed",
            ));
        }
        let mut paths = paths.into_iter();
        return match (paths.next(), paths.next()) {
            (Some(path), None) => Ok((path, None)),
            _ => Err(Error::Conflict(
                "several inputs are only for URLs (files in one folder on a web server): give \
                 one file or directory, whose files all go in the torrent",
            )),
        };
    }
    if url_count != paths.len() {
        return Err(Error::Conflict(
            "URLs and local paths cannot be mixed in one torrent",
        ));
    }
    let urls: Vec<String> = texts.iter().flatten().map(|t| (*t).to_owned()).collect();
    let plan = create_url::plan(&urls, name, !no_web_seed)?;
    Ok((PathBuf::from(&urls[0]), Some(plan)))
}

impl Plan {
    /// Turns raw arguments into a checked plan; every flag error is found here.
    pub fn resolve(args: Args, env: &Env) -> Result<Self> {
        let Args {
            paths,
            no_web_seed,
            torrent: mut args,
            quiet,
            json,
            magnet,
        } = args;
        let mut preset = None;
        if let Some(name) = &args.preset {
            let files = super::preset::candidates(&env.cwd, env.config_home().as_deref());
            let found = super::preset::find(name, &files)?;
            found.apply(&mut args);
            preset = Some(PresetUsed {
                name: found.name,
                file: found.path.display().to_string(),
            });
        }
        if args.trackerless && !args.trackers.is_empty() {
            return Err(Error::Conflict(
                "--trackerless cannot be combined with --tracker",
            ));
        }
        let output = args.output.map(|path| {
            if path == std::path::Path::new("-") {
                Output::Stdout
            } else {
                Output::File(env.path(path))
            }
        });
        if output == Some(Output::Stdout) && json {
            return Err(Error::Conflict(
                "--json and --output - both write to standard output; choose one",
            ));
        }

        let tiers = parse_tiers(&args.trackers, "--tracker")?;

        let mut nodes = Vec::new();
        for flag in &args.nodes {
            for node in flag.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                nodes.push(parse_node(node)?);
            }
        }
        let default_nodes = args.trackerless && nodes.is_empty();
        if default_nodes {
            nodes = DEFAULT_ROUTERS
                .iter()
                .map(|(host, port)| Node {
                    host: (*host).to_owned(),
                    port: *port,
                })
                .collect();
        }

        for seed in &args.web_seeds {
            check_web_seed(seed)?;
        }
        if let Some(name) = &args.name {
            check_name(name)?;
        }
        let (path, urls) = inputs(paths, no_web_seed, args.name.as_deref())?;
        if let Some(seed) = urls.as_ref().and_then(|u| u.web_seed.clone()) {
            args.web_seeds.insert(0, seed);
        }
        if args.source.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(Error::Conflict(
                "--source is empty: give the tag your private tracker expects, or leave it out",
            ));
        }
        if args.threads == Some(0) {
            return Err(Error::Conflict(
                "--threads must be at least 1 (leave it out for one per core)",
            ));
        }
        let piece_length = args
            .piece_length
            .as_deref()
            .map(piece_length::parse)
            .transpose()?;
        let max_piece_length = args
            .max_piece_length
            .as_deref()
            .map(piece_length::parse)
            .transpose()
            .map_err(Error::MaxPieceLength)?;
        let auto_piece = piece_length::Auto::new(max_piece_length, args.target_piece_count)
            .map_err(Error::MaxPieceLength)?;

        let creation_date = if args.no_date {
            None
        } else {
            match &env.source_date_epoch {
                Some(text) => Some(
                    text.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|&secs| secs >= 0)
                        .ok_or_else(|| Error::SourceDateEpoch(text.clone()))?,
                ),
                None => Some(env.now),
            }
        };

        for url in &args.torrent_urls {
            super::magnet::check_torrent_url(url)?;
        }
        let peers = args
            .peers
            .iter()
            .map(|p| super::magnet::parse_peer(p))
            .collect::<Result<Vec<_>>>()?;

        let mut skip = Vec::new();
        if let Some(Output::File(path)) = &output {
            skip.push(path.clone());
        }
        Ok(Self {
            input: if urls.is_some() { path } else { env.path(path) },
            urls,
            filters: Filters {
                include_hidden: args.include_hidden,
                include_junk: args.include_junk,
                follow_symlinks: args.follow_symlinks,
                exclude: args.exclude,
                include: args.include,
                skip,
            },
            tiers,
            nodes,
            default_nodes,
            web_seeds: args.web_seeds,
            private: args.private,
            source: args.source,
            comment: args.comment,
            name: args.name,
            creation_date,
            created_by: (!args.no_created_by)
                .then(|| format!("mktorrent-rs {}", env!("CARGO_PKG_VERSION"))),
            piece_length,
            auto_piece,
            preset,
            output,
            force: args.force,
            threads: args.threads.unwrap_or(0),
            quiet,
            json,
            magnet,
            exact_sources: args.torrent_urls,
            peers,
            version: match (args.v2, args.hybrid) {
                (true, _) => Version::V2,
                (_, true) => Version::Hybrid,
                _ => Version::V1,
            },
        })
    }
}

/// Which preset filled flags, and from which file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresetUsed {
    pub name: String,
    pub file: String,
}

/// The machine-readable summary (`--json`).
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub info_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_hash_v2: Option<String>,
    pub version: Version,
    pub magnet: String,
    pub output: String,
    pub piece_length: u64,
    pub piece_count: usize,
    pub total_size: u64,
    pub file_count: usize,
    pub private: bool,
    /// What the filters left out, and why.
    pub skipped: Vec<crate::files::Skipped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<PresetUsed>,
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let plan = Plan::resolve(args, env)?;
    execute(&plan, env)?;
    if plan.tiers.is_empty() && plan.nodes.is_empty() && !plan.quiet && !plan.json {
        env.warn(
            "no trackers and no DHT nodes: clients find peers for this torrent only through \
             their own DHT or a magnet's x.pe (add -a URL, or --trackerless for the DHT)",
        )?;
    }
    Ok(())
}

/// Piece hashes of one content, as the torrent's version needs them.
#[derive(Debug, Clone)]
pub enum Hashes {
    V1(Vec<[u8; 20]>),
    V2(hasher::V2Hashes),
}

/// The BEP 47 attribute of a file: executable where the platform says so.
fn file_attr(file: &crate::files::ContentFile) -> Option<String> {
    file.executable.then(|| "x".to_owned())
}

/// Builds the torrent for content whose pieces are already hashed.
pub fn build_torrent(plan: &Plan, content: &Content, piece_length: u64, hashes: Hashes) -> Torrent {
    let name = plan.name.clone().unwrap_or_else(|| content.name.clone());
    let mut tiers = plan.tiers.clone();
    let announce = tiers.first().and_then(|t| t.first()).cloned();
    let url_count: usize = tiers.iter().map(Vec::len).sum();
    if url_count <= 1 {
        tiers.clear();
    }
    let v1_entry = |f: &crate::files::ContentFile, with_attr: bool| FileEntry {
        path: f.components.clone(),
        length: f.length,
        attr: if with_attr { file_attr(f) } else { None },
    };
    let (pieces, layout, file_tree, piece_layers) = match hashes {
        Hashes::V1(pieces) => {
            let layout = if content.single_file {
                Layout::Single {
                    length: content.total_length(),
                }
            } else {
                Layout::Multi {
                    files: content.files.iter().map(|f| v1_entry(f, false)).collect(),
                }
            };
            (pieces, layout, Vec::new(), BTreeMap::new())
        }
        Hashes::V2(hasher::V2Hashes {
            piece_roots,
            v1_pieces,
        }) => {
            let mut file_tree = Vec::new();
            let mut piece_layers = BTreeMap::new();
            for (file, roots) in content.files.iter().zip(&piece_roots) {
                let pieces_root = (file.length > 0).then(|| merkle::file_root(roots, piece_length));
                if let Some(root) = pieces_root {
                    if file.length > piece_length {
                        piece_layers.insert(root, roots.concat());
                    }
                }
                file_tree.push(V2File {
                    path: if content.single_file {
                        vec![name.clone()]
                    } else {
                        file.components.clone()
                    },
                    length: file.length,
                    pieces_root,
                    attr: file_attr(file),
                });
            }
            let layout = if content.single_file {
                Layout::Single {
                    length: content.total_length(),
                }
            } else if plan.version == Version::Hybrid {
                // A pad file after every file that does not end on a piece
                // boundary, the last one included, so v1 pieces never span files.
                let mut files = Vec::new();
                for file in &content.files {
                    files.push(v1_entry(file, true));
                    let tail = file.length % piece_length;
                    if tail != 0 {
                        let pad = piece_length - tail;
                        files.push(FileEntry {
                            path: vec![".pad".to_owned(), pad.to_string()],
                            length: pad,
                            attr: Some("p".to_owned()),
                        });
                    }
                }
                Layout::Multi { files }
            } else {
                Layout::Multi {
                    files: content.files.iter().map(|f| v1_entry(f, true)).collect(),
                }
            };
            (v1_pieces, layout, file_tree, piece_layers)
        }
    };
    Torrent::from_metainfo(Metainfo {
        announce,
        announce_list: tiers,
        nodes: plan.nodes.clone(),
        web_seeds: plan.web_seeds.clone(),
        comment: plan.comment.clone(),
        created_by: plan.created_by.clone(),
        creation_date: plan.creation_date,
        info: Info {
            name,
            piece_length,
            pieces,
            private: plan.private,
            source: plan.source.clone(),
            layout,
            version: plan.version,
            file_tree,
        },
        piece_layers,
    })
}

/// Runs a checked plan: walk, hash, write atomically, report.
pub fn execute(plan: &Plan, env: &mut Env) -> Result<()> {
    let made = make(plan, env)?;
    report(plan, &made, env)
}

/// A torrent just written, with what its report needs.
#[derive(Debug)]
pub struct Made {
    pub torrent: Torrent,
    pub output: Output,
    pub summary: Summary,
    pub elapsed: std::time::Duration,
    /// The piece length was chosen automatically.
    pub automatic: bool,
}

/// Walks, hashes and writes the torrent atomically; prints only warnings
/// and the progress bar.
pub fn make(plan: &Plan, env: &mut Env) -> Result<Made> {
    let remote = match &plan.urls {
        Some(urls) => {
            let fetcher = create_url::Fetcher::new()?;
            let lengths = fetcher.lengths(&urls.files, urls.web_seed.is_some())?;
            Some((fetcher, urls, lengths))
        }
        None => None,
    };
    let content = match &remote {
        Some((_, urls, lengths)) => url_content(urls, lengths),
        None => files::collect(&plan.input, &plan.filters)?,
    };
    if content.total_length() == 0 {
        return Err(Error::EmptyContent(plan.input.clone()));
    }
    let name = plan.name.clone().unwrap_or_else(|| content.name.clone());
    let output = plan
        .output
        .clone()
        .unwrap_or_else(|| Output::File(env.cwd.join(format!("{name}.torrent"))));
    if let Output::File(path) = &output {
        if path.exists() && !plan.force {
            return Err(Error::OutputExists(path.clone()));
        }
    }
    // BEP 19: whether a URL works depends on the torrent's shape, known only now.
    for seed in &plan.web_seeds {
        for warning in crate::webseed::shape_warnings(seed, &name, content.single_file) {
            env.warn(warning)?;
        }
    }
    if plan.default_nodes && !plan.quiet {
        let list: Vec<String> = plan.nodes.iter().map(ToString::to_string).collect();
        writeln!(
            env.stderr,
            "note: trackerless torrent with no --nodes: using the public DHT routers {}",
            list.join(", ")
        )?;
    }

    let total = content.total_length();
    let (piece_length, automatic) = match plan.piece_length {
        Some(n) => (n, false),
        None => (plan.auto_piece.choose(total), true),
    };
    if piece_length > piece_length::WARN_ABOVE {
        env.warn(format!(
            "piece length {} is above 16 MiB; some older clients reject such torrents",
            piece_length::human(piece_length)
        ))?;
    }

    let bar = super::progress_bar(env, total, plan.quiet, "Hashing");
    let started = Instant::now();
    let hashes = match &remote {
        Some((fetcher, urls, lengths)) => {
            let progress = |n| bar.inc(n);
            hash_urls(plan, fetcher, urls, lengths, piece_length, &progress)?
        }
        None => hash_files(plan, &content, piece_length, &|n| bar.inc(n))?,
    };
    let elapsed = started.elapsed();
    bar.finish_and_clear();

    let torrent = build_torrent(plan, &content, piece_length, hashes);
    let bytes = torrent.encode();
    match &output {
        Output::Stdout => {
            env.stdout.write_all(&bytes)?;
            env.stdout.flush()?;
        }
        Output::File(path) => write_atomically(path, &bytes, plan.force)?,
    }

    let mut magnet = Magnet::from_torrent(&torrent);
    magnet.exact_sources.clone_from(&plan.exact_sources);
    magnet.peers.clone_from(&plan.peers);
    let summary = Summary {
        name: torrent.meta.info.name.clone(),
        info_hash: torrent.info_hash.to_hex(),
        info_hash_v2: torrent
            .info_hash_v2
            .as_ref()
            .map(|h| crate::metainfo::hex(h)),
        version: plan.version,
        magnet: magnet.to_uri(),
        output: match &output {
            Output::Stdout => "-".to_owned(),
            Output::File(path) => path.display().to_string(),
        },
        piece_length,
        piece_count: torrent.meta.info.piece_count(),
        total_size: total,
        file_count: content.files.len(),
        private: plan.private,
        skipped: content.skipped.clone(),
        preset: plan.preset.clone(),
    };
    Ok(Made {
        torrent,
        output,
        summary,
        elapsed,
        automatic,
    })
}

/// Hashes local files, then checks none changed size meanwhile.
fn hash_files(
    plan: &Plan,
    content: &Content,
    piece_length: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Hashes> {
    let storage = Storage::new(
        content
            .files
            .iter()
            .map(|f| (Some(f.disk_path.clone()), f.length)),
    );
    let hashes = super::with_threads(plan.threads, || match plan.version {
        Version::V1 => hasher::piece_hashes(&storage, piece_length, progress).map(Hashes::V1),
        Version::V2 | Version::Hybrid => {
            let v1 = match plan.version {
                Version::V2 => hasher::V1Pieces::None,
                _ if content.single_file => hasher::V1Pieces::Unpadded,
                _ => hasher::V1Pieces::Padded,
            };
            hasher::v2_hashes(&storage, piece_length, v1, progress).map(Hashes::V2)
        }
    })??;
    // A file that grew or shrank after we read it would make the torrent lie.
    for file in &content.files {
        let now = std::fs::metadata(&file.disk_path).map_err(|source| StorageError::Io {
            path: file.disk_path.clone(),
            source,
        })?;
        if now.len() != file.length {
            return Err(StorageError::WrongSize {
                path: file.disk_path.clone(),
                expected: file.length,
                found: now.len(),
            }
            .into());
        }
    }
    Ok(hashes)
}

/// The content of URL inputs as `create DIR` would see the same files
/// (`disk_path` holds the URL, never read).
fn url_content(urls: &create_url::UrlPlan, lengths: &[u64]) -> Content {
    Content {
        name: urls.name.clone(),
        single_file: urls.single_file,
        files: urls
            .files
            .iter()
            .zip(lengths)
            .map(|(file, &length)| files::ContentFile {
                disk_path: PathBuf::from(&file.url),
                components: if urls.single_file {
                    Vec::new()
                } else {
                    vec![file.name.clone()]
                },
                length,
                executable: false,
            })
            .collect(),
        skipped: Vec::new(),
    }
}

/// Streams the URLs once (this thread) into whole pieces that a rayon
/// pool hashes as they arrive (a scoped thread). The channel holds one
/// piece per hashing thread, so at most about twice that many pieces are
/// in memory whatever the content's size.
fn hash_urls(
    plan: &Plan,
    fetcher: &create_url::Fetcher,
    urls: &create_url::UrlPlan,
    lengths: &[u64],
    piece_length: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Hashes> {
    let threads = match plan.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let per_file = plan.version != Version::V1;
    let mut cutter = hasher::PieceCutter::new(lengths, piece_length, per_file);
    let (pieces, received) = std::sync::mpsc::sync_channel(threads);
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| {
            super::with_threads(plan.threads, || match plan.version {
                Version::V1 => Hashes::V1(hasher::streamed_piece_hashes(received.into_iter())),
                Version::V2 | Version::Hybrid => {
                    let v1 = match plan.version {
                        Version::V2 => hasher::V1Pieces::None,
                        _ if urls.single_file => hasher::V1Pieces::Unpadded,
                        _ => hasher::V1Pieces::Padded,
                    };
                    Hashes::V2(hasher::streamed_v2_hashes(
                        received.into_iter(),
                        lengths,
                        piece_length,
                        v1,
                    ))
                }
            })
        });
        let streamed = fetcher.stream(&urls.files, lengths, &mut |data| {
            progress(data.len() as u64);
            // A send fails only if hashing has stopped, which its join reports.
            cutter.feed(data, &mut |piece| drop(pieces.send(piece)));
        });
        drop(pieces);
        let hashed = hashing
            .join()
            .map_err(|_| Error::Conflict("internal error: a hashing thread panicked"));
        streamed?;
        hashed?
    })
}

/// Prints the summary of a torrent [`make`] wrote, as the plan asks.
pub fn report(plan: &Plan, made: &Made, env: &mut Env) -> Result<()> {
    let Made {
        torrent,
        output,
        summary,
        elapsed,
        automatic,
    } = made;
    if plan.json {
        let text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
        writeln!(env.stdout, "{text}")?;
        return Ok(());
    }
    // Summaries go to stderr when the torrent itself goes to stdout.
    let report_to_stderr = *output == Output::Stdout;
    let (total, piece_length, magnet) = (summary.total_size, summary.piece_length, &summary.magnet);
    let output_text = &summary.output;
    let out: &mut dyn Write = if report_to_stderr {
        &mut env.stderr
    } else {
        &mut env.stdout
    };
    if !plan.quiet {
        let rate = total as f64 / elapsed.as_secs_f64().max(1e-9);
        writeln!(out, "Created       {output_text}")?;
        writeln!(out, "Name          {}", torrent.meta.info.name)?;
        if torrent.meta.info.version.has_v1() {
            writeln!(out, "Info hash     {}", torrent.info_hash)?;
        }
        if let Some(v2) = &torrent.info_hash_v2 {
            writeln!(out, "Info hash v2  {}", crate::metainfo::hex(v2))?;
        }
        writeln!(
            out,
            "Content       {} in {} file{}",
            crate::format::size(total),
            summary.file_count,
            if summary.file_count == 1 { "" } else { "s" }
        )?;
        writeln!(
            out,
            "Pieces        {} × {}{}",
            summary.piece_count,
            piece_length::human(piece_length),
            if *automatic { " (automatic)" } else { "" }
        )?;
        writeln!(
            out,
            "Hashed in     {:.2} s ({}/s)",
            elapsed.as_secs_f64(),
            crate::format::size(rate as u64)
        )?;
    }
    if plan.magnet {
        if plan.quiet {
            writeln!(out, "{magnet}")?;
        } else {
            writeln!(out, "Magnet        {magnet}")?;
        }
    }
    if !plan.quiet {
        if let Some(preset) = &plan.preset {
            // Which file was read: a cwd file quietly shadows the config one.
            writeln!(
                env.stderr,
                "Preset        {} from {}",
                preset.name, preset.file
            )?;
        }
        if let Some(line) = skipped_line(&summary.skipped) {
            // Why the info hash may differ from another tool's.
            writeln!(env.stderr, "{line}")?;
        }
    }
    Ok(())
}

/// `Skipped       2 files, 1 directory: 2 hidden (--include-hidden), 1 junk (--include-junk)`.
fn skipped_line(skipped: &[crate::files::Skipped]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let dirs = skipped.iter().filter(|s| s.directory).count();
    let mut what = Vec::new();
    if skipped.len() > dirs {
        what.push(plural(skipped.len() - dirs, "file", "files"));
    }
    if dirs > 0 {
        what.push(plural(dirs, "directory", "directories"));
    }
    let mut reasons: Vec<_> = skipped.iter().map(|s| s.reason).collect();
    reasons.sort();
    let mut why = Vec::new();
    for reason in reasons.iter().copied() {
        let count = reasons.iter().filter(|r| **r == reason).count();
        let text = format!("{count} {}", reason.describe());
        if !why.contains(&text) {
            why.push(text);
        }
    }
    Some(format!(
        "Skipped       {}: {}",
        what.join(", "),
        why.join(", ")
    ))
}

/// Writes through a temporary file in the same directory, then renames, so
/// an interrupted run never leaves a truncated torrent.
pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8], force: bool) -> Result<()> {
    write_atomically_with(path, bytes, force, None)
}

/// [`write_atomically`] with the file's permissions set before the rename
/// (so a replaced 0600 torrent, which may hold a passkey, is never readable
/// by others, even for a moment).
pub(crate) fn write_atomically_with(
    path: &std::path::Path,
    bytes: &[u8],
    force: bool,
    permissions: Option<std::fs::Permissions>,
) -> Result<()> {
    let write_error = |source| Error::WriteOutput {
        path: path.to_owned(),
        source,
    };
    // Renaming over a FIFO, a device or a directory would replace it (as
    // root even /dev/null): only regular files are overwritten.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_file() && !meta.file_type().is_symlink() {
            return Err(Error::OutputNotAFile(path.to_owned()));
        }
        if meta.file_type().is_symlink() && std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(Error::OutputNotAFile(path.to_owned()));
        }
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".mktorrent-rs-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Like any created file: 0666 less the umask.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir).map_err(write_error)?;
    if let Some(permissions) = permissions {
        temp.as_file()
            .set_permissions(permissions)
            .map_err(write_error)?;
    }
    temp.write_all(bytes).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    let persisted = if force {
        temp.persist(path).map(drop)
    } else {
        temp.persist_noclobber(path).map(drop)
    };
    persisted.map_err(|err| {
        if err.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::OutputExists(path.to_owned())
        } else {
            write_error(err.error)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_parse_hosts_v4_and_bracketed_v6() {
        assert_eq!(
            parse_node("router.example:6881").unwrap().to_string(),
            "router.example:6881"
        );
        assert_eq!(parse_node("1.2.3.4:1").unwrap().port, 1);
        let v6 = parse_node("[2001:db8::1]:6881").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", 6881));
        for bad in [
            "nohost",
            ":1",
            "h:0",
            "h:70000",
            "2001:db8::1:80",
            "[zz]:1",
            "[::1]",
        ] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tracker_urls_are_checked() {
        for good in [
            "http://t.example/announce",
            "https://t.example:443/a?k=1",
            "udp://t.example:6969",
        ] {
            check_tracker_url(good).unwrap();
        }
        for bad in [
            "ftp://t.example/",
            "udp://t.example",
            "not a url",
            "http://",
        ] {
            assert!(check_tracker_url(bad).is_err(), "{bad}");
        }
    }
}
