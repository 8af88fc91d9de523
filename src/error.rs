//! The crate's error type: one variant per way a command can fail, each
//! naming the file, URL, address or flag at fault. Layer errors (bencode,
//! metainfo, files, storage) are wrapped as sources, never flattened.

use std::path::PathBuf;

use crate::files::FilesError;
use crate::magnet::MagnetError;
use crate::metainfo::MetainfoError;
use crate::peer::seeder::SeedError;
use crate::piece_length::PieceLengthError;
use crate::storage::StorageError;
use crate::tracker::TrackerError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot read torrent {}: {source}", path.display())]
    ReadTorrent {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid torrent: {source}", path.display())]
    ParseTorrent {
        path: PathBuf,
        source: MetainfoError,
    },
    #[error("tracker URL {url:?}: {reason}")]
    TrackerUrl { url: String, reason: String },
    #[error("web seed URL {url:?}: {reason}")]
    WebSeedUrl { url: String, reason: String },
    #[error("--torrent-url {url:?}: {reason}")]
    TorrentUrl { url: String, reason: String },
    #[error("--peer {peer:?}: {reason}")]
    Peer { peer: String, reason: String },
    #[error("DHT node {node:?}: {reason}")]
    Node { node: String, reason: String },
    #[error("--piece-length: {0}")]
    PieceLength(#[from] PieceLengthError),
    #[error("--max-piece-length / --target-piece-count: {0}")]
    MaxPieceLength(PieceLengthError),
    #[error("--name {name:?}: {reason}")]
    Name { name: String, reason: &'static str },
    #[error("SOURCE_DATE_EPOCH={0:?} is not a non-negative integer number of seconds")]
    SourceDateEpoch(String),
    #[error("{} holds 0 bytes: a torrent needs at least one piece, and clients refuse torrents without", .0.display())]
    EmptyContent(PathBuf),
    #[error("{} already exists; pass --force to overwrite it", .0.display())]
    OutputExists(PathBuf),
    #[error("{} is not a regular file; publish and create write torrents to files only (use -o - for stdout)", .0.display())]
    OutputNotAFile(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    WriteOutput {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Conflict(&'static str),
    #[error("cannot find the content of {name:?}: looked for {}; pass --content PATH", tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and "))]
    ContentNotFound { name: String, tried: Vec<PathBuf> },
    #[error("{} holds the content directory, not the content: did you mean --content {}?", given.display(), nested.display())]
    ContentIsParent { given: PathBuf, nested: PathBuf },
    #[error("{0}")]
    VerifyFailed(String),
    #[error(transparent)]
    Magnet(#[from] MagnetError),
    #[error("cannot start {threads} hashing threads: {reason}")]
    ThreadPool { threads: usize, reason: String },
    #[error(transparent)]
    Dht(#[from] crate::dht::DhtError),
    #[error("cannot listen on UDP {addr}: {source}")]
    DhtBind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{target:?}: {reason}")]
    DhtTarget {
        target: String,
        reason: &'static str,
    },
    #[error("DHT state file {}: {reason}", path.display())]
    DhtState { path: PathBuf, reason: String },
    #[error("{what} did not finish within {secs} s (raise --timeout)")]
    DhtTimeout { what: &'static str, secs: u64 },
    #[error("no DHT node accepted the announce of {0}")]
    DhtAnnounce(String),
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error("{flag}: {reason}")]
    TrackerFlag { flag: &'static str, reason: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("{} has no web seeds (url-list) to check", .0.display())]
    NoWebSeeds(PathBuf),
    #[error(transparent)]
    CreateUrl(#[from] crate::create_url::CreateUrlError),
    #[error(transparent)]
    WebSeedCheck(#[from] crate::webseed::check::CheckError),
    #[error("{0}")]
    WebSeedsFailed(String),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{name} ({info_hash}) is published already")]
    AlreadyPublished { name: String, info_hash: String },
    #[error("no tracker answered an announce (--require-tracker)")]
    NoTrackerAnswered,
    #[error("publish has stopped; {0} was not added")]
    PublishStopped(String),
    #[error("cannot serve the status page on {addr}: {source}")]
    StatusListen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
    #[error("{}: {source}", path.display())]
    Edit {
        path: PathBuf,
        source: crate::edit::EditError,
    },
    #[error(transparent)]
    Preset(#[from] crate::cli::preset::PresetError),
}

impl From<std::io::Error> for Error {
    /// Bare I/O errors only come from writing our own output streams.
    fn from(err: std::io::Error) -> Self {
        Self::Output(err)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its causes, for libraries (hyper) whose top-level
/// messages are terse: "client error (Connect): tcp connect error: refused".
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
