//! The seeder: the tokio adapter around [`super::session`] and
//! [`super::choker`]. It accepts connections on a bound listener, dials
//! peers it is given, answers handshakes for any torrent it serves (the
//! info hash is read before answering, so one port serves many torrents),
//! and sends blocks read from disk on blocking threads.
//!
//! Throughput comes from never letting the socket wait on the disk: each
//! connection reads the next few requested pieces ahead on blocking threads
//! while earlier blocks are written, blocks go out as slices of the cached
//! piece through vectored writes (no copy), and a small per-torrent cache of
//! recent pieces lets peers asking for the same piece share one read.
//!
//! Content is hashed before it is first sent: [`SeedTorrent::open`] checks
//! every piece unless told not to, and each piece is hashed again on its
//! first read, so a file changed after start is never served as good data.
//! A connection whose first bytes are not the BitTorrent handshake gets the
//! MSE/PE responder ([`super::crypt`]) as [`Config::encryption`] allows;
//! dials are encrypted when the dialler asks.
//!
//! Every task is spawned through the [`Shutdown`]; [`Seeder::run`] returns
//! only when all of its connections have ended.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use super::choker::{Choker, Demand, PeerKey, DEFAULT_SLOTS};
use super::crypt::{self, CryptError, Negotiated};
use super::handshake::{self, Handshake, Reserved};
use super::message::{self, Block, Message};
use super::rate::{self, RateLimit};
use super::session::{Close, Features, Params, Pieces, Session};
use crate::hasher;
use crate::merkle;
use crate::metainfo::{hex, Layout, Torrent};
use crate::shutdown::Shutdown;
use crate::storage::{Reader, Storage, StorageError};

/// How often slots rotate.
const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);
/// How often the choker looks for slot holders that request nothing.
const SNUB_CHECK: Duration = Duration::from_secs(1);
/// How often each connection checks its keep-alive and idle timers.
const TICK: Duration = Duration::from_secs(5);
/// Bytes queued for the socket before we stop adding blocks.
const WRITE_BATCH: usize = 1024 * 1024;
/// Bytes queued before we stop reading the peer: blocks alone stay under
/// it, so only replies a peer asks for and does not read (BEP 9 metadata
/// floods) reach it, and it bounds what such a peer makes us hold.
const READ_PAUSE: usize = WRITE_BATCH + 256 * 1024;

/// Buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Piece bytes a connection reads ahead of the block being sent; at least
/// one piece besides it.
const READ_AHEAD_BYTES: u64 = 4 * 1024 * 1024;
/// Piece bytes kept per torrent for other connections asking for them.
const RECENT_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{name}: {reason}, so its v2 pieces cannot be checked or served")]
    PieceLayers { name: String, reason: String },
    #[error("{} does not match {name}: {bad} of {count} pieces fail their hash (or cannot be read); pass --skip-verify to seed the rest", content.display())]
    Mismatch {
        name: String,
        content: PathBuf,
        bad: usize,
        count: usize,
    },
    #[error("cannot connect to peer {addr}: {source}")]
    Dial {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("this seeder does not serve info hash {0}")]
    UnknownTorrent(String),
    #[error("the seeder has stopped")]
    Stopped,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Whether to hash all content before serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Refuse to start when any piece is bad.
    Full,
    /// Start at once; each piece is still hashed on its first read.
    Skip,
}

/// One torrent ready to seed: its storage and which pieces are known good.
#[derive(Debug)]
pub struct SeedTorrent {
    torrent: Torrent,
    storage: Storage,
    params: Arc<Params>,
    /// Pieces hashed on read during this run; a piece is sent only once set.
    checked: Box<[AtomicBool]>,
    /// v2 only: each piece's merkle subtree root and width in leaves
    /// (BEP 52); empty for v1 and hybrids, whose SHA-1 pieces are checked.
    v2_pieces: Vec<(merkle::Hash, u32)>,
    /// The most recently read pieces, newest last, at most `recent_cap`.
    recent: Mutex<VecDeque<(u32, Bytes)>>,
    recent_cap: usize,
    /// This torrent's own upload limit, besides [`Config::upload_limit`].
    upload_limit: Option<Arc<RateLimit>>,
    counters: TorrentCounters,
}

/// What one torrent's connections did, for per-torrent status and stops.
#[derive(Debug, Default)]
struct TorrentCounters {
    uploaded: AtomicU64,
    completed: AtomicU64,
    /// Handshaken connections so far, by encryption.
    connections: Connections,
    /// When a block was last sent.
    last_block: Mutex<Option<Instant>>,
}

/// Handshaken connections so far by encryption (MSE/PE RC4 or plaintext).
#[derive(Debug, Default)]
struct Connections {
    rc4: AtomicU64,
    plaintext: AtomicU64,
}

impl Connections {
    fn count(&self, encrypted: bool) {
        let counter = if encrypted {
            &self.rc4
        } else {
            &self.plaintext
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn load(&self) -> (u64, u64) {
        (
            self.rc4.load(Ordering::Relaxed),
            self.plaintext.load(Ordering::Relaxed),
        )
    }
}

/// One torrent's figures now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TorrentStats {
    /// Handshaken connections.
    pub peers: usize,
    /// Connected peers that hold every piece.
    pub seeders: usize,
    pub uploaded: u64,
    pub completed: u64,
    /// Handshaken connections so far: (RC4, plaintext).
    pub connections: (u64, u64),
    /// When a block was last sent; `None`: never.
    pub last_block: Option<Instant>,
}

impl SeedTorrent {
    /// Lays out the content at `content` (the file of a single-file
    /// torrent, the directory of a multi-file one) and, with
    /// [`Verify::Full`], hashes every piece in parallel on the current rayon
    /// pool (never call it on an async runtime thread). v2-only torrents
    /// use BEP 52 pieces (aligned to files, checked by merkle roots);
    /// hybrids keep their v1 pieces, which BEP 47 pad files align the same
    /// way. Both answer hash requests from their `piece layers`.
    pub fn open(
        torrent: Torrent,
        content: &Path,
        verify: Verify,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Self, SeedError> {
        let info = &torrent.meta.info;
        let v2_only = !info.version.has_v1();
        let trees = file_trees(&torrent, v2_only)?;
        let storage = match &info.layout {
            Layout::Single { length } => Storage::new([(Some(content.to_owned()), *length)]),
            Layout::Multi { files } => {
                let disk: Vec<(Option<PathBuf>, u64)> = files
                    .iter()
                    .map(|f| {
                        let disk = (!f.is_padding())
                            .then(|| f.path.iter().fold(content.to_owned(), |p, c| p.join(c)));
                        (disk, f.length)
                    })
                    .collect();
                // As create and verify: links leading out of the content are not served.
                for path in disk.iter().filter_map(|(p, _)| p.as_ref()) {
                    crate::storage::check_inside(content, path, false)?;
                }
                Storage::new(disk)
            }
        };
        let (pieces, v2_pieces) = if v2_only {
            let pieces = Pieces::v2(info.piece_length, storage.files().iter().map(|f| f.length));
            (pieces, v2_piece_hashes(&torrent, &trees)?)
        } else {
            (
                Pieces::v1(info.piece_length, storage.total_length()),
                Vec::new(),
            )
        };
        let count = pieces.count() as usize;
        if verify == Verify::Full {
            let bad = if v2_only {
                let work = hasher::v2_pieces(&storage, info.piece_length);
                let results = hasher::v2_verify_hashes(
                    &storage,
                    info.piece_length,
                    hasher::V1Pieces::None,
                    &work,
                    progress,
                );
                results
                    .iter()
                    .zip(&v2_pieces)
                    .filter(|(got, (want, _))| {
                        got.as_ref().ok().map(|(root, _)| root) != Some(want)
                    })
                    .count()
                    + count.saturating_sub(results.len().min(v2_pieces.len()))
            } else {
                let results = hasher::verify_hashes(&storage, info.piece_length, progress);
                results
                    .iter()
                    .zip(&info.pieces)
                    .filter(|(got, want)| got.as_ref().ok() != Some(*want))
                    .count()
                    + count.saturating_sub(results.len().min(info.pieces.len()))
            };
            if bad > 0 {
                return Err(SeedError::Mismatch {
                    name: info.name.clone(),
                    content: content.to_owned(),
                    bad,
                    count,
                });
            }
        }
        let mut params = Params::new(pieces, torrent.info_bytes.clone().into());
        // BEP 27: private torrents get their peers from the tracker only.
        params.pex = !info.private;
        params.trees = Arc::new(trees);
        let params = Arc::new(params);
        let recent_cap = usize::try_from(RECENT_BYTES / info.piece_length.max(1))
            .unwrap_or(usize::MAX)
            .max(2);
        Ok(Self {
            checked: (0..count).map(|_| AtomicBool::new(false)).collect(),
            v2_pieces,
            recent: Mutex::new(VecDeque::new()),
            recent_cap,
            upload_limit: None,
            torrent,
            storage,
            params,
            counters: TorrentCounters::default(),
        })
    }

    pub fn torrent(&self) -> &Torrent {
        &self.torrent
    }

    /// The hashes peers may greet us with: v1, and the truncated v2 of a
    /// hybrid (BEP 52: one swarm, the same v1-aligned pieces) or of a
    /// v2-only torrent (where it is also its `info_hash`, listed once).
    pub fn hashes(&self) -> Vec<[u8; 20]> {
        let mut hashes = vec![self.torrent.info_hash.0];
        if let Some(v2) = &self.torrent.info_hash_v2 {
            let mut truncated = [0; 20];
            truncated.copy_from_slice(&v2[..20]);
            if !hashes.contains(&truncated) {
                hashes.push(truncated);
            }
        }
        hashes
    }

    /// Limits what this torrent's connections upload together (the
    /// seeder-wide [`Config::upload_limit`] applies as well). Share one
    /// limit between torrents to cap them as a group.
    pub fn set_upload_limit(&mut self, limit: Option<Arc<RateLimit>>) {
        self.upload_limit = limit;
    }

    pub fn upload_limit(&self) -> Option<&Arc<RateLimit>> {
        self.upload_limit.as_ref()
    }

    /// Piece `index` if it was read recently (by any connection).
    fn recent(&self, index: u32) -> Option<Bytes> {
        let recent = self.recent.lock().ok()?;
        recent
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map(|(_, data)| data.clone())
    }

    fn remember(&self, index: u32, data: &Bytes) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.iter().any(|(i, _)| *i == index) {
                return;
            }
            if recent.len() >= self.recent_cap {
                recent.pop_front();
            }
            recent.push_back((index, data.clone()));
        }
    }

    /// Piece `index` whole, from the recent pieces or else from disk,
    /// hashed on its first read and refused when it no longer matches.
    /// Blocking.
    fn read_piece(&self, index: u32) -> Result<Bytes, PieceError> {
        if let Some(data) = self.recent(index) {
            return Ok(data);
        }
        let data = Bytes::from(self.read_piece_uncached(index)?);
        self.remember(index, &data);
        Ok(data)
    }

    fn read_piece_uncached(&self, index: u32) -> Result<Vec<u8>, PieceError> {
        let (start, size) = self
            .params
            .pieces
            .span(index)
            .ok_or(PieceError::OutOfRange)?;
        let pieces = &self.params.pieces;
        let padded = pieces.request_size(index).unwrap_or(size);
        let size = usize::try_from(size).map_err(|_| PieceError::OutOfRange)?;
        // Zeros past the data: the v2 padding a block may reach into.
        let mut data = vec![0u8; usize::try_from(padded).map_err(|_| PieceError::OutOfRange)?];
        Reader::new(&self.storage, true)
            .read_at(start, &mut data[..size])
            .map_err(PieceError::Storage)?;
        let checked = &self.checked[index as usize];
        if !checked.load(Ordering::Relaxed) {
            if !self.piece_matches(index, &data[..size]) {
                return Err(PieceError::HashMismatch);
            }
            checked.store(true, Ordering::Relaxed);
        }
        Ok(data)
    }

    /// Whether `data` is piece `index`: its SHA-1 (v1, hybrid), or for
    /// v2-only its 16 KiB block hashes rolled up to the piece's subtree
    /// root (the piece layer hash, or the pieces root of a small file).
    fn piece_matches(&self, index: u32, data: &[u8]) -> bool {
        if self.v2_pieces.is_empty() {
            let want = self.torrent.meta.info.pieces.get(index as usize);
            return want == Some(&<[u8; 20]>::from(Sha1::digest(data)));
        }
        let Some((want, width)) = self.v2_pieces.get(index as usize) else {
            return false;
        };
        let leaves: Vec<merkle::Hash> = data
            .chunks(merkle::BLOCK as usize)
            .map(|block| Sha256::digest(block).into())
            .collect();
        leaves.len() <= *width as usize && merkle::root(&leaves, *width as usize, [0; 32]) == *want
    }
}

/// The merkle tree of every file longer than a piece, from `piece layers`,
/// each checked against its `pieces root`. A v2-only torrent needs them all
/// (its pieces are checked against them); a hybrid serves the trees it has.
fn file_trees(
    torrent: &Torrent,
    required: bool,
) -> Result<BTreeMap<merkle::Hash, merkle::FileTree>, SeedError> {
    let info = &torrent.meta.info;
    let mut trees = BTreeMap::new();
    for file in info
        .file_tree
        .iter()
        .filter(|f| f.length > info.piece_length)
    {
        let fail = |reason: String| SeedError::PieceLayers {
            name: info.name.clone(),
            reason,
        };
        let path = file.path.join("/");
        let Some(root) = file.pieces_root else {
            return Err(fail(format!("{path} has no pieces root")));
        };
        let layer: Vec<merkle::Hash> = torrent
            .meta
            .piece_layers
            .get(&root)
            .map(|bytes| {
                bytes
                    .chunks_exact(32)
                    .map(|h| h.try_into().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let pieces = file.length.div_ceil(info.piece_length);
        let tree = merkle::FileTree::from_piece_layer(&layer, info.piece_length)
            .filter(|tree| layer.len() as u64 == pieces && tree.root() == root);
        match tree {
            Some(tree) => {
                trees.insert(root, tree);
            }
            None if !required => {}
            None => {
                return Err(fail(format!(
                    "the piece layer of {path} is missing or does not match its pieces root (a torrent made from a magnet lacks them)"
                )))
            }
        }
    }
    Ok(trees)
}

/// What each piece of a v2-only torrent must hash to, in piece order:
/// a big file's piece layer entries, a small file's own pieces root.
fn v2_piece_hashes(
    torrent: &Torrent,
    trees: &BTreeMap<merkle::Hash, merkle::FileTree>,
) -> Result<Vec<(merkle::Hash, u32)>, SeedError> {
    let info = &torrent.meta.info;
    let piece_length = info.piece_length;
    let mut out = Vec::new();
    for file in info.file_tree.iter().filter(|f| f.length > 0) {
        let root = file.pieces_root.ok_or_else(|| SeedError::PieceLayers {
            name: info.name.clone(),
            reason: format!("{} has no pieces root", file.path.join("/")),
        })?;
        let width = u32::try_from(merkle::piece_subtree_width(file.length, piece_length))
            .unwrap_or(u32::MAX);
        if trees.contains_key(&root) {
            let layer = torrent
                .meta
                .piece_layers
                .get(&root)
                .map(Vec::as_slice)
                .unwrap_or_default();
            out.extend(
                layer
                    .chunks_exact(32)
                    .map(|h| (h.try_into().unwrap_or_default(), width)),
            );
        } else {
            out.push((root, width));
        }
    }
    Ok(out)
}

/// Pieces to read ahead per connection for pieces of `piece_length`.
fn read_ahead(piece_length: u64) -> usize {
    usize::try_from(READ_AHEAD_BYTES / piece_length.max(1))
        .unwrap_or(usize::MAX)
        .clamp(2, 16)
}

#[derive(Debug, thiserror::Error)]
enum PieceError {
    #[error("piece index out of range")]
    OutOfRange,
    #[error("piece no longer matches its hash")]
    HashMismatch,
    #[error(transparent)]
    Storage(StorageError),
}

/// Seeder settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub peer_id: [u8; 20],
    /// Upload slots, the optimistic one included.
    pub upload_slots: usize,
    /// Connections open at once, across every torrent.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_per_ip: usize,
    /// Our DHT node's port, sent to peers that support the DHT.
    pub dht_port: Option<u16>,
    /// How long a new connection may take to complete its handshake.
    pub handshake_timeout: Duration,
    /// A connection whose socket took nothing for this long while data was
    /// queued is dropped, so a peer that stops reading frees its slot.
    pub write_stall: Duration,
    /// When the seeder is full, a connection uninterested for this long
    /// may be closed to make room for a newcomer.
    pub evictable_after: Duration,
    /// Told of peers learnt through PEX: (info hash, address). Dropped when full.
    pub pex_found: Option<tokio::sync::mpsc::Sender<([u8; 20], SocketAddr)>>,
    /// Caps the bytes every connection of every torrent writes together
    /// (protocol messages count too); each torrent may have its own cap as
    /// well ([`SeedTorrent::set_upload_limit`]).
    pub upload_limit: Option<Arc<RateLimit>>,
    /// MSE/PE for incoming connections (dials choose per dial).
    pub encryption: super::mse::Policy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            peer_id: new_peer_id(),
            upload_slots: DEFAULT_SLOTS,
            max_connections: 200,
            max_per_ip: DEFAULT_MAX_PER_IP,
            dht_port: None,
            handshake_timeout: Duration::from_secs(10),
            write_stall: Duration::from_secs(20),
            evictable_after: Duration::from_secs(10),
            pex_found: None,
            upload_limit: None,
            encryption: super::mse::Policy::default(),
        }
    }
}

/// Default for [`Config::max_per_ip`]: enough for a few clients behind one
/// NAT, too few for one address to fill the seeder.
pub const DEFAULT_MAX_PER_IP: usize = 8;

/// `-MR0100-` (Azureus style: client MR, version) and 12 random bytes.
pub fn new_peer_id() -> [u8; 20] {
    let mut id = *b"-MR0100-000000000000";
    let version = env!("CARGO_PKG_VERSION").replace('.', "");
    for (slot, digit) in id[3..7].iter_mut().zip(version.bytes().chain(*b"0000")) {
        *slot = digit;
    }
    for (i, byte) in id[8..].iter_mut().enumerate() {
        *byte = b'a' + (random() >> (i * 3)) as u8 % 26;
    }
    id
}

/// A random number from the OS-seeded hasher keys; enough for peer ids and
/// optimistic unchokes, which need no cryptographic strength.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// How a peer connection is carried. The peer wire session is the same
/// over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    /// BEP 29, over the UDP port the DHT node shares.
    Utp,
}

/// Counters for status lines and stop conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections open now (counted from accept or dial, handshake or not).
    pub peers: usize,
    /// Handshaken connections by transport.
    pub peers_tcp: usize,
    pub peers_utp: usize,
    /// Handshaken connections carried in RC4 (MSE/PE).
    pub peers_encrypted: usize,
    /// Handshaken connections so far: (RC4, plaintext).
    pub connections: (u64, u64),
    /// Block bytes sent (payload only).
    pub uploaded: u64,
    /// Peers that finished downloading while connected to us.
    pub completed: u64,
    /// Connections refused because their address had its share.
    pub refused_per_ip: u64,
    /// Connections closed to make room when the seeder was full.
    pub evicted: u64,
    /// Connections refused because nobody could be evicted.
    pub refused_full: u64,
    /// Connections dropped because they stopped reading.
    pub stalled: u64,
}

struct Conn {
    addr: SocketAddr,
    transport: Transport,
    encrypted: bool,
    /// Where the peer accepts connections, for PEX: the address we dialled,
    /// or its IP and the port its extended handshake named.
    listen: Option<SocketAddr>,
    /// The swarm it is in (the torrent's address: a hybrid's two hashes are one swarm).
    swarm: usize,
    torrent: Arc<SeedTorrent>,
    /// Whether the peer has every piece.
    complete: bool,
    interested: bool,
    /// When interest last changed (or the handshake ended).
    since: Instant,
    /// Closes the connection when it is evicted.
    close: tokio_util::sync::CancellationToken,
    unchoke: watch::Sender<bool>,
    /// Its requests, for the snub check: written by the connection's
    /// task without taking `conns`.
    demand: Arc<Mutex<Demand>>,
}

struct Inner {
    config: Config,
    /// By every hash each torrent goes by; torrents come and go at run time.
    torrents: std::sync::RwLock<HashMap<[u8; 20], Arc<SeedTorrent>>>,
    shutdown: Shutdown,
    tasks: TaskTracker,
    conns: Mutex<HashMap<PeerKey, Conn>>,
    next_key: AtomicU64,
    rechoke: Notify,
    peers: AtomicUsize,
    /// Open connections per IP address (handshake or not).
    per_ip: Mutex<HashMap<std::net::IpAddr, usize>>,
    uploaded: AtomicU64,
    completed: AtomicU64,
    connections: Connections,
    refused_per_ip: AtomicU64,
    evicted: AtomicU64,
    refused_full: AtomicU64,
    stalled: AtomicU64,
}

/// The seeder. Cheap to clone; every clone drives the same connections.
#[derive(Clone)]
pub struct Seeder {
    inner: Arc<Inner>,
}

impl Seeder {
    pub fn new(config: Config, torrents: Vec<SeedTorrent>, shutdown: Shutdown) -> Self {
        let seeder = Self {
            inner: Arc::new(Inner {
                config,
                torrents: std::sync::RwLock::new(HashMap::new()),
                shutdown,
                tasks: TaskTracker::new(),
                conns: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(0),
                rechoke: Notify::new(),
                peers: AtomicUsize::new(0),
                per_ip: Mutex::new(HashMap::new()),
                uploaded: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                connections: Connections::default(),
                refused_per_ip: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
                refused_full: AtomicU64::new(0),
                stalled: AtomicU64::new(0),
            }),
        };
        for seed in torrents {
            let _ = seeder.add(seed);
        }
        seeder
    }

    /// Starts serving `seed` (under each of its [`SeedTorrent::hashes`]);
    /// false when one of them is served already.
    pub fn add(&self, seed: SeedTorrent) -> bool {
        let hashes = seed.hashes();
        let seed = Arc::new(seed);
        let mut torrents = self.inner.torrents();
        if hashes.iter().any(|h| torrents.contains_key(h)) {
            return false;
        }
        for hash in hashes {
            torrents.insert(hash, seed.clone());
        }
        true
    }

    /// Stops serving the torrent `info_hash` (any of its hashes) and
    /// closes its connections; false when it was not served.
    pub fn remove(&self, info_hash: &[u8; 20]) -> bool {
        let Some(seed) = self.inner.torrents().get(info_hash).cloned() else {
            return false;
        };
        self.inner.torrents().retain(|_, t| !Arc::ptr_eq(t, &seed));
        if let Ok(conns) = self.inner.conns.lock() {
            for conn in conns.values().filter(|c| Arc::ptr_eq(&c.torrent, &seed)) {
                conn.close.cancel();
            }
        }
        true
    }

    /// Figures for the torrent `info_hash`, if it is served.
    pub fn torrent_stats(&self, info_hash: &[u8; 20]) -> Option<TorrentStats> {
        let seed = self.inner.torrent(info_hash)?;
        let (peers, seeders) = self.inner.conns.lock().map_or((0, 0), |conns| {
            let mine = conns.values().filter(|c| Arc::ptr_eq(&c.torrent, &seed));
            mine.fold((0, 0), |(p, s), c| (p + 1, s + usize::from(c.complete)))
        });
        let counters = &seed.counters;
        Some(TorrentStats {
            peers,
            seeders,
            uploaded: counters.uploaded.load(Ordering::Relaxed),
            completed: counters.completed.load(Ordering::Relaxed),
            connections: counters.connections.load(),
            last_block: counters.last_block.lock().ok().and_then(|t| *t),
        })
    }

    pub fn stats(&self) -> Stats {
        let (peers_tcp, peers_utp, peers_encrypted) =
            self.inner.conns.lock().map_or((0, 0, 0), |conns| {
                let utp = conns
                    .values()
                    .filter(|c| c.transport == Transport::Utp)
                    .count();
                let encrypted = conns.values().filter(|c| c.encrypted).count();
                (conns.len() - utp, utp, encrypted)
            });
        Stats {
            peers: self.inner.peers.load(Ordering::Relaxed),
            peers_tcp,
            peers_utp,
            peers_encrypted,
            connections: self.inner.connections.load(),
            uploaded: self.inner.uploaded.load(Ordering::Relaxed),
            completed: self.inner.completed.load(Ordering::Relaxed),
            refused_per_ip: self.inner.refused_per_ip.load(Ordering::Relaxed),
            evicted: self.inner.evicted.load(Ordering::Relaxed),
            refused_full: self.inner.refused_full.load(Ordering::Relaxed),
            stalled: self.inner.stalled.load(Ordering::Relaxed),
        }
    }

    /// Our peer id, as sent in handshakes.
    pub fn peer_id(&self) -> [u8; 20] {
        self.inner.config.peer_id
    }

    /// Whether a connection to or from `addr` is open (its handshake done).
    pub fn connected_to(&self, addr: SocketAddr) -> bool {
        self.inner
            .conns
            .lock()
            .is_ok_and(|conns| conns.values().any(|c| c.addr == addr))
    }

    /// Serves connections accepted on `listener` until shutdown, then
    /// returns once every connection task (dialled ones too) has ended.
    pub async fn run(&self, listener: TcpListener) {
        self.serve(Some(listener)).await;
    }

    /// As [`Seeder::run`], with or without a TCP listener: uTP-only
    /// seeders still need the choker, which runs here.
    pub async fn serve(&self, listener: Option<TcpListener>) {
        let choker = self.spawn(choke_loop(self.inner.clone()));
        loop {
            let accepted = tokio::select! {
                () = self.inner.shutdown.cancelled() => break,
                accepted = async {
                    match &listener {
                        Some(listener) => listener.accept().await,
                        None => std::future::pending().await,
                    }
                } => accepted,
            };
            match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    self.accept_halves(stream.into_split(), addr, Transport::Tcp);
                }
                // Out of descriptors and the like: back off, keep serving.
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        drop(listener);
        let _ = choker.await;
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Serves an incoming connection accepted elsewhere (uTP), under the
    /// same connection cap as the TCP listener's.
    pub fn accept_stream<S>(&self, stream: S, addr: SocketAddr, transport: Transport)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.accept_halves(tokio::io::split(stream), addr, transport);
    }

    fn accept_halves<R, W>(&self, halves: (R, W), addr: SocketAddr, transport: Transport)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        self.start_halves(
            halves,
            Peer {
                addr,
                transport,
                dial: None,
                encrypt: false,
                handshaken: None,
            },
        );
    }

    /// Serves a connection in a task, if the caps leave it a place.
    fn start_halves<R, W>(&self, halves: (R, W), peer: Peer)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        if let Some(slot) = ConnSlot::take(&self.inner, peer.addr.ip()) {
            self.spawn(connection(self.inner.clone(), slot, halves, peer));
        }
    }

    /// Offers torrent `info_hash` on a connection we opened to `addr`:
    /// the handshake and transfer run in a task.
    pub fn dialled<S>(
        &self,
        stream: S,
        addr: SocketAddr,
        info_hash: [u8; 20],
        transport: Transport,
    ) -> Result<(), SeedError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let dial = Dial::plain(info_hash);
        self.dialled_halves(tokio::io::split(stream), addr, dial, transport)
    }

    /// As [`Seeder::dialled`], with MSE or not as `dial` says; `dial` also
    /// tells when the peer wire handshake is through (for fallbacks).
    pub fn dialled_with<S>(
        &self,
        stream: S,
        addr: SocketAddr,
        dial: Dial,
        transport: Transport,
    ) -> Result<(), SeedError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.dialled_halves(tokio::io::split(stream), addr, dial, transport)
    }

    fn dialled_halves<R, W>(
        &self,
        halves: (R, W),
        addr: SocketAddr,
        dial: Dial,
        transport: Transport,
    ) -> Result<(), SeedError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        self.check_dial(dial.info_hash)?;
        self.start_halves(
            halves,
            Peer {
                addr,
                transport,
                dial: Some(dial.info_hash),
                encrypt: dial.encrypt,
                handshaken: dial.handshaken,
            },
        );
        Ok(())
    }

    /// Whether a dial for `info_hash` may start: a torrent we serve, a
    /// seeder still running.
    pub fn check_dial(&self, info_hash: [u8; 20]) -> Result<(), SeedError> {
        if self.inner.torrent(&info_hash).is_none() {
            return Err(SeedError::UnknownTorrent(hex(&info_hash)));
        }
        if self.inner.shutdown.is_triggered() {
            return Err(SeedError::Stopped);
        }
        Ok(())
    }

    /// Dials `addr` over TCP and offers it torrent `info_hash` (the way
    /// peers learnt from trackers and the DHT are served). Returns once the
    /// TCP connection is up; the handshake and transfer run in a task.
    pub async fn connect(&self, addr: SocketAddr, info_hash: [u8; 20]) -> Result<(), SeedError> {
        self.connect_with(addr, Dial::plain(info_hash)).await
    }

    /// As [`Seeder::connect`], with MSE or not as `dial` says.
    pub async fn connect_with(&self, addr: SocketAddr, dial: Dial) -> Result<(), SeedError> {
        self.check_dial(dial.info_hash)?;
        let stream = tokio::time::timeout(
            self.inner.config.handshake_timeout,
            TcpStream::connect(addr),
        )
        .await
        .map_err(|_| SeedError::Dial {
            addr,
            source: std::io::ErrorKind::TimedOut.into(),
        })?
        .map_err(|source| SeedError::Dial { addr, source })?;
        let _ = stream.set_nodelay(true);
        // TCP's own halves need no lock between reader and writer.
        self.dialled_halves(stream.into_split(), addr, dial, Transport::Tcp)
    }

    fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner
            .shutdown
            .spawn(self.inner.tasks.track_future(task))
    }
}

/// A place under the connection caps (total and per address), given
/// back when dropped.
struct ConnSlot {
    inner: Arc<Inner>,
    ip: std::net::IpAddr,
}

impl Inner {
    /// The registry for changes; a panic elsewhere must not stop the seeder.
    fn torrents(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 20], Arc<SeedTorrent>>> {
        self.torrents
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The served info hash whose HASH('req2', hash) an MSE peer sent.
    fn torrent_by_req2(&self, req2: &[u8; 20]) -> Option<[u8; 20]> {
        let torrents = self
            .torrents
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        torrents
            .keys()
            .find(|hash| super::mse::req2_hash(hash) == *req2)
            .copied()
    }

    fn torrent(&self, info_hash: &[u8; 20]) -> Option<Arc<SeedTorrent>> {
        self.torrents
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(info_hash)
            .cloned()
    }
}

impl ConnSlot {
    /// A place for a connection with `ip`: refused when that address has
    /// its share; when the seeder is full, a connection that has not been
    /// interested for [`Config::evictable_after`] is closed to make room (the
    /// longest uninterested first), so idle peers cannot lock out
    /// downloaders. The cap may be passed by the evictions still closing.
    fn take(inner: &Arc<Inner>, ip: std::net::IpAddr) -> Option<Self> {
        let Ok(mut per_ip) = inner.per_ip.lock() else {
            return None;
        };
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= inner.config.max_per_ip {
            inner.refused_per_ip.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let cap = inner.config.max_connections;
        let taken = inner
            .peers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            if !evict_one(inner) {
                inner.refused_full.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            inner.peers.fetch_add(1, Ordering::AcqRel);
        }
        *count += 1;
        Some(Self {
            inner: inner.clone(),
            ip,
        })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.inner.peers.fetch_sub(1, Ordering::AcqRel);
        if let Ok(mut per_ip) = self.inner.per_ip.lock() {
            if let Some(count) = per_ip.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// Closes the connection that has been uninterested longest (at least
/// [`Config::evictable_after`]); false when there is none.
fn evict_one(inner: &Inner) -> bool {
    let Ok(mut conns) = inner.conns.lock() else {
        return false;
    };
    let now = Instant::now();
    let victim = conns
        .iter()
        .filter(|(_, c)| {
            !c.interested
                && !c.close.is_cancelled()
                && now.duration_since(c.since) >= inner.config.evictable_after
        })
        .min_by_key(|(_, c)| c.since)
        .map(|(k, _)| *k);
    match victim.and_then(|k| conns.get_mut(&k)) {
        Some(conn) => {
            conn.close.cancel();
            inner.evicted.fetch_add(1, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Re-runs the choker every [`RECHOKE_INTERVAL`] and whenever interest
/// changes, and tells each connection its verdict.
async fn choke_loop(inner: Arc<Inner>) {
    let mut choker = Choker::new(inner.config.upload_slots);
    let mut interval = tokio::time::interval(RECHOKE_INTERVAL);
    let mut snub_check = tokio::time::interval(SNUB_CHECK);
    snub_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let rotate = tokio::select! {
            () = inner.shutdown.cancelled() => return,
            _ = interval.tick() => true,
            _ = snub_check.tick() => false,
            () = inner.rechoke.notified() => false,
        };
        let Ok(conns) = inner.conns.lock() else {
            return;
        };
        let interested: BTreeMap<PeerKey, Demand> = conns
            .iter()
            .filter(|(_, c)| c.interested)
            .map(|(k, c)| (*k, *c.demand.lock().unwrap_or_else(PoisonError::into_inner)))
            .collect();
        let unchoked = choker.rechoke(&interested, rotate, random(), Instant::now());
        for (key, conn) in conns.iter() {
            let open = unchoked.contains(key);
            conn.unchoke
                .send_if_modified(|now| std::mem::replace(now, open) != open);
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("handshake timed out")]
    HandshakeTimeout,
    #[error(transparent)]
    Handshake(#[from] handshake::HandshakeError),
    #[error("unknown info hash {0}")]
    UnknownTorrent(String),
    #[error("peer answered for info hash {0}")]
    WrongTorrent(String),
    #[error("connected to ourselves")]
    Ourselves,
    #[error(transparent)]
    Message(#[from] message::MessageError),
    #[error(transparent)]
    Close(#[from] Close),
    #[error("closed by the peer")]
    Eof,
    #[error("closed to make room for another peer")]
    Evicted,
    #[error("the peer took nothing for {0:?}")]
    Stalled(Duration),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Crypt(#[from] CryptError),
}

/// Who a connection is with and how it started.
#[derive(Debug)]
struct Peer {
    addr: SocketAddr,
    transport: Transport,
    /// The torrent we offered, for connections we opened.
    dial: Option<[u8; 20]>,
    /// Dial with MSE (as initiator).
    encrypt: bool,
    handshaken: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How to open a dialled connection.
#[derive(Debug)]
pub struct Dial {
    pub info_hash: [u8; 20],
    /// MSE/PE as initiator (offering what [`Config::encryption`] allows).
    pub encrypt: bool,
    /// Told once the peer wire handshake is through; dropped unsent when
    /// the connection fails before.
    pub handshaken: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Dial {
    pub fn plain(info_hash: [u8; 20]) -> Self {
        Self {
            info_hash,
            encrypt: false,
            handshaken: None,
        }
    }
}

/// MSE/PE first, when this connection has it: the responder for incoming
/// ones, the initiator for encrypted dials.
async fn negotiate<R, W>(
    inner: &Inner,
    (reader, writer): (R, W),
    peer: &Peer,
    deadline: tokio::time::Instant,
) -> Result<Negotiated<R, W>, ConnError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let policy = inner.config.encryption;
    Ok(match peer.dial {
        Some(hash) if peer.encrypt => crypt::dial(reader, writer, hash, policy, deadline).await?,
        Some(_) => Negotiated::plain(reader, writer, Vec::new()),
        None => {
            let lookup = |req2: &[u8; 20]| inner.torrent_by_req2(req2);
            crypt::accept(reader, writer, policy, lookup, deadline).await?
        }
    })
}

async fn connection<R, W>(inner: Arc<Inner>, slot: ConnSlot, halves: (R, W), peer: Peer)
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let key = inner.next_key.fetch_add(1, Ordering::Relaxed);
    let addr = peer.addr;
    let result = tokio::select! {
        () = inner.shutdown.cancelled() => Ok(()),
        result = serve(&inner, key, halves, peer) => result,
    };
    let removed = inner
        .conns
        .lock()
        .map(|mut c| c.remove(&key))
        .ok()
        .flatten();
    if removed.is_some() {
        inner.rechoke.notify_one();
    }
    drop(slot);
    match result {
        Err(ConnError::Close(Close::Seed { completed_here })) => {
            if completed_here {
                inner.completed.fetch_add(1, Ordering::Relaxed);
                if let Some(conn) = &removed {
                    conn.torrent
                        .counters
                        .completed
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            tracing::debug!(%addr, "closed: peer is a seed");
        }
        Err(err) => tracing::debug!(%addr, "closed: {err}"),
        Ok(()) => {}
    }
}

/// Reads until `decode` has an answer, within the handshake timeout.
async fn read_until<S: AsyncRead + Unpin, T>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: tokio::time::Instant,
    decode: impl Fn(&[u8]) -> Result<Option<T>, handshake::HandshakeError>,
) -> Result<T, ConnError> {
    loop {
        if let Some(value) = decode(buf)? {
            return Ok(value);
        }
        let read = tokio::time::timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| ConnError::HandshakeTimeout)??;
        if read == 0 {
            return Err(ConnError::Eof);
        }
    }
}

async fn serve<R, W>(
    inner: &Arc<Inner>,
    key: PeerKey,
    halves: (R, W),
    peer: Peer,
) -> Result<(), ConnError>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let deadline = tokio::time::Instant::now() + inner.config.handshake_timeout;
    let crypt = negotiate(inner, halves, &peer, deadline).await?;
    let (mut reader, mut writer, encrypted) = (crypt.reader, crypt.writer, crypt.encrypted);
    let Peer {
        addr,
        transport,
        dial,
        handshaken,
        ..
    } = peer;
    let mut reserved = Reserved::default()
        .with(Reserved::EXTENSION)
        .with(Reserved::FAST);
    if inner.config.dht_port.is_some() {
        reserved = reserved.with(Reserved::DHT);
    }
    let ours = |info_hash| {
        // BEP 52: a v2 torrent says so (a hybrid's peers may then use v2).
        let v2 = inner
            .torrent(&info_hash)
            .is_some_and(|t| t.torrent.meta.info.version.has_v2());
        Handshake {
            reserved: if v2 {
                reserved.with(Reserved::V2)
            } else {
                reserved
            },
            info_hash,
            peer_id: inner.config.peer_id,
        }
    };
    let mut rbuf: Vec<u8> = crypt.payload;
    rbuf.reserve(64 * 1024);
    // Incoming: learn the torrent from the first 48 bytes, then answer.
    // Outgoing: we speak first.
    let info_hash = match dial {
        Some(hash) => {
            writer.write_all(&ours(hash).encode()).await?;
            hash
        }
        None => {
            let head = read_until(&mut reader, &mut rbuf, deadline, handshake::decode_head).await?;
            if inner.torrent(&head.info_hash).is_none() {
                return Err(ConnError::UnknownTorrent(hex(&head.info_hash)));
            }
            // MSE was keyed with the torrent: the handshake must name it.
            if crypt.skey.is_some_and(|skey| skey != head.info_hash) {
                return Err(ConnError::WrongTorrent(hex(&head.info_hash)));
            }
            writer.write_all(&ours(head.info_hash).encode()).await?;
            head.info_hash
        }
    };
    let theirs = read_until(&mut reader, &mut rbuf, deadline, handshake::decode).await?;
    if theirs.info_hash != info_hash {
        return Err(ConnError::WrongTorrent(hex(&theirs.info_hash)));
    }
    if theirs.peer_id == inner.config.peer_id {
        return Err(ConnError::Ourselves);
    }
    rbuf.drain(..handshake::LEN);
    if let Some(told) = handshaken {
        let _ = told.send(());
    }
    let torrent = inner
        .torrent(&info_hash)
        .ok_or_else(|| ConnError::UnknownTorrent(hex(&info_hash)))?;

    let features = Features {
        fast: theirs.reserved.has(Reserved::FAST),
        extension: theirs.reserved.has(Reserved::EXTENSION),
        dht: theirs.reserved.has(Reserved::DHT),
    };
    inner.connections.count(encrypted);
    torrent.counters.connections.count(encrypted);
    let mut params = (*torrent.params).clone();
    params.dht_port = inner.config.dht_port;
    let mut session = Session::new(Arc::new(params), features, Instant::now());
    let (unchoke_tx, mut unchoke_rx) = watch::channel(false);
    let close = tokio_util::sync::CancellationToken::new();
    let demand = Arc::new(Mutex::new(Demand::default()));
    if let Ok(mut conns) = inner.conns.lock() {
        conns.insert(
            key,
            Conn {
                addr,
                transport,
                encrypted,
                listen: dial.map(|_| addr),
                swarm: Arc::as_ptr(&torrent) as usize,
                torrent: torrent.clone(),
                complete: false,
                interested: false,
                since: Instant::now(),
                close: close.clone(),
                unchoke: unchoke_tx,
                demand: demand.clone(),
            },
        );
    }
    let mut out = Outgoing::default();
    let mut tick = tokio::time::interval(TICK);
    let mut pex = PexState::new(Instant::now());
    let mut last_progress = Instant::now();
    let mut known_complete = false;
    // Upload limits, the torrent's first (the order `rate::acquire_all` wants).
    let limits: Vec<Arc<RateLimit>> = torrent
        .upload_limit
        .iter()
        .chain(&inner.config.upload_limit)
        .cloned()
        .collect();
    let limited = !limits.is_empty();
    // Bytes the limits let us write now, and the grant being waited for:
    // kept across loop turns so a wait keeps its place in line.
    let mut allowance = 0usize;
    let mut told = Demand::default();
    let mut acquiring: Option<std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>>> =
        None;
    // Messages that arrived with the handshake.
    take_messages(inner, key, &mut session, &mut rbuf)?;
    let ahead = read_ahead(torrent.params.pieces.piece_length);
    // Pieces at hand for this connection (`None`: unreadable or bad).
    let mut cache: VecDeque<(u32, Option<Bytes>)> = VecDeque::new();
    let mut reads: JoinSet<Result<Bytes, PieceError>> = JoinSet::new();
    let mut reading: Vec<(tokio::task::Id, u32)> = Vec::new();
    loop {
        // Queue blocks, in request order, while their piece is at hand.
        while out.len() < WRITE_BATCH {
            let Some(block) = session.peek_block() else {
                break;
            };
            let piece = match cache.iter().find(|(i, _)| *i == block.index) {
                Some((_, piece)) => piece.clone(),
                None => match torrent.recent(block.index) {
                    Some(data) => {
                        cache.push_back((block.index, Some(data.clone())));
                        Some(data)
                    }
                    None => break,
                },
            };
            session.next_block();
            match piece {
                Some(data) if out.block(block, &data) => {
                    session.served(block);
                    let length = u64::from(block.length);
                    inner.uploaded.fetch_add(length, Ordering::Relaxed);
                    torrent
                        .counters
                        .uploaded
                        .fetch_add(length, Ordering::Relaxed);
                    if let Ok(mut at) = torrent.counters.last_block.lock() {
                        *at = Some(Instant::now());
                    }
                }
                _ => session.cannot_serve(block),
            }
        }
        // Read the next requested pieces while those blocks are written.
        let upcoming = session.upcoming_pieces(ahead);
        for &index in &upcoming {
            if reading.len() >= ahead {
                break;
            }
            if cache.iter().all(|(i, _)| *i != index) && reading.iter().all(|(_, i)| *i != index) {
                let torrent = torrent.clone();
                let task = reads.spawn_blocking(move || torrent.read_piece(index));
                reading.push((task.id(), index));
            }
        }
        // Keep the pieces asked for and the newest other one (its next
        // blocks often follow); forget the rest, oldest first, so a choked
        // or quiet connection holds at most one piece.
        while cache.iter().filter(|(i, _)| !upcoming.contains(i)).count() > 1 {
            let Some(at) = cache.iter().position(|(i, _)| !upcoming.contains(i)) else {
                break;
            };
            cache.remove(at);
        }
        while let Some(message) = session.next_outgoing() {
            out.message(&message);
        }
        out.seal();
        // Blocks popped from the queue but not yet written are still owed.
        let now_demand = Demand {
            last_request: session.last_request(),
            pending: session.queued() > 0 || !out.chunks.is_empty(),
        };
        if worth_telling(told, now_demand) {
            *demand.lock().unwrap_or_else(PoisonError::into_inner) = now_demand;
            told = now_demand;
        }
        // Under a limit every byte written needs allowance, protocol
        // messages too; grants are small turns so connections interleave.
        let may_write = if limited { allowance } else { usize::MAX };
        let wants_allowance = limited && allowance == 0 && !out.chunks.is_empty();
        if !wants_allowance {
            acquiring = None;
        } else if acquiring.is_none() {
            let want = out.len().min(rate::GRANT);
            acquiring = Some(Box::pin(rate::acquire_owned(limits.clone(), want)));
        }
        tokio::select! {
            written = async {
                let mut room = may_write;
                let slices: Vec<IoSlice<'_>> = out
                    .chunks
                    .iter()
                    .take(MAX_IOVECS)
                    .map_while(|c| {
                        let part = &c[..c.len().min(room)];
                        room -= part.len();
                        (!part.is_empty()).then(|| IoSlice::new(part))
                    })
                    .collect();
                writer.write_vectored(&slices).await
            }, if !out.chunks.is_empty() && may_write > 0 => {
                match written {
                    Ok(0) => return Err(leaving(&session, std::io::Error::from(std::io::ErrorKind::WriteZero).into())),
                    Ok(n) => {
                        out.advance(n);
                        allowance = allowance.saturating_sub(n);
                    }
                    Err(err) => return Err(leaving(&session, err.into())),
                }
                last_progress = Instant::now();
                session.sent(Instant::now());
            }
            granted = async {
                match acquiring.as_mut() {
                    Some(grant) => grant.await,
                    None => std::future::pending().await,
                }
            }, if wants_allowance => {
                acquiring = None;
                allowance = granted;
                // Time spent waiting for our own limit is not the peer's stall.
                last_progress = Instant::now();
            }
            read = reader.read_buf(&mut rbuf), if out.len() < READ_PAUSE => {
                match read {
                    Ok(0) => return Err(leaving(&session, ConnError::Eof)),
                    Ok(_) => {}
                    Err(err) => return Err(leaving(&session, err.into())),
                }
                take_messages(inner, key, &mut session, &mut rbuf)?;
                pex.learn(inner, key, addr, info_hash, &mut session);
                if !known_complete && session.peer_complete() {
                    known_complete = true;
                    if let Some(conn) = inner.conns.lock().ok().as_mut().and_then(|c| c.get_mut(&key)) {
                        conn.complete = true;
                    }
                }
            }
            changed = unchoke_rx.changed() => {
                if changed.is_ok() {
                    let unchoked = *unchoke_rx.borrow_and_update();
                    session.set_choked(!unchoked);
                }
            }
            Some(joined) = reads.join_next_with_id(), if !reads.is_empty() => {
                let (id, piece) = match joined {
                    Ok((id, Ok(data))) => (id, Some(data)),
                    Ok((id, Err(err))) => {
                        tracing::warn!("not sending a piece: {err}");
                        (id, None)
                    }
                    Err(err) => {
                        tracing::warn!("piece read task failed: {err}");
                        (err.id(), None)
                    }
                };
                if let Some(at) = reading.iter().position(|(task, _)| *task == id) {
                    let (_, index) = reading.swap_remove(at);
                    cache.push_back((index, piece));
                }
            }
            () = close.cancelled() => return Err(ConnError::Evicted),
            _ = tick.tick() => {
                let now = Instant::now();
                // Waiting for our own limit is not the peer's stall.
                if out.chunks.is_empty() || (limited && allowance == 0) {
                    last_progress = now;
                } else if now.duration_since(last_progress) >= inner.config.write_stall {
                    inner.stalled.fetch_add(1, Ordering::Relaxed);
                    return Err(leaving(&session, ConnError::Stalled(inner.config.write_stall)));
                }
                session.tick(now)?;
                pex.share(inner, key, now, &mut session);
            }
        }
    }
}

/// Whether the choker should hear of a connection's requests: at once
/// when what it is owed changes, at most once a second for new requests
/// (the snub check counts in seconds).
fn worth_telling(told: Demand, now: Demand) -> bool {
    told.pending != now.pending
        || match (told.last_request, now.last_request) {
            (None, Some(_)) => true,
            (Some(before), Some(at)) => at.saturating_duration_since(before) >= SNUB_CHECK,
            _ => false,
        }
}

/// Why a connection ended when the peer went away: a downloader may leave
/// (closing or resetting) the moment it is complete, before its last
/// `have` reaches us, and that still counts as a completed download.
fn leaving(session: &Session, err: ConnError) -> ConnError {
    if session.peer_complete() {
        Close::Seed {
            completed_here: true,
        }
        .into()
    } else {
        err
    }
}

/// How often we send PEX to a peer (BEP 11: at most once a minute).
const PEX_EVERY: Duration = Duration::from_secs(60);
/// The first PEX goes out this soon after the handshake.
const PEX_FIRST: Duration = Duration::from_secs(10);

/// One connection's side of BEP 11: what we told the peer, when we
/// tell it next, and whether its listen address is recorded yet.
struct PexState {
    sent: std::collections::HashSet<SocketAddr>,
    next: Instant,
    listen_known: bool,
}

impl PexState {
    fn new(now: Instant) -> Self {
        Self {
            sent: std::collections::HashSet::new(),
            next: now + PEX_FIRST,
            listen_known: false,
        }
    }

    /// Passes peers the session learnt through PEX on for dialling, and
    /// records where this peer listens once its handshake says.
    fn learn(
        &mut self,
        inner: &Inner,
        key: PeerKey,
        addr: SocketAddr,
        info_hash: [u8; 20],
        session: &mut Session,
    ) {
        for found in session.take_pex() {
            if let Some(tell) = &inner.config.pex_found {
                let _ = tell.try_send((info_hash, found));
            }
        }
        if !self.listen_known {
            if let Some(port) = session.peer_port() {
                self.listen_known = true;
                if let Ok(mut conns) = inner.conns.lock() {
                    if let Some(conn) = conns.get_mut(&key) {
                        conn.listen.get_or_insert(SocketAddr::new(addr.ip(), port));
                    }
                }
            }
        }
    }

    /// Tells the peer which others in its swarm joined or left since the
    /// last message, once a minute.
    fn share(&mut self, inner: &Inner, key: PeerKey, now: Instant, session: &mut Session) {
        if now < self.next {
            return;
        }
        self.next = now + PEX_EVERY;
        let Ok(conns) = inner.conns.lock() else {
            return;
        };
        let Some(swarm) = conns.get(&key).map(|c| c.swarm) else {
            return;
        };
        let current: std::collections::HashSet<SocketAddr> = conns
            .iter()
            .filter(|(k, c)| **k != key && c.swarm == swarm)
            .filter_map(|(_, c)| c.listen)
            .collect();
        drop(conns);
        let mut message = super::pex::Pex {
            added: current.difference(&self.sent).copied().collect(),
            dropped: self.sent.difference(&current).copied().collect(),
        };
        message.added.truncate(super::pex::MAX_PER_MESSAGE);
        message.dropped.truncate(super::pex::MAX_PER_MESSAGE);
        if message.added.is_empty() && message.dropped.is_empty() {
            return;
        }
        if session.send_pex(&message) {
            for gone in &message.dropped {
                self.sent.remove(gone);
            }
            self.sent.extend(message.added.iter().copied());
        }
    }
}

/// Hands every whole message in `rbuf` to the session and tells the
/// choker when the peer's interest changed.
fn take_messages(
    inner: &Inner,
    key: PeerKey,
    session: &mut Session,
    rbuf: &mut Vec<u8>,
) -> Result<(), ConnError> {
    let was_interested = session.is_interested();
    let mut used = 0;
    while let Some((message, len)) = message::decode(&rbuf[used..])? {
        used += len;
        session.receive(message, Instant::now())?;
    }
    rbuf.drain(..used);
    if rbuf.capacity() - rbuf.len() < 16 * 1024 {
        rbuf.reserve(64 * 1024);
    }
    if session.is_interested() != was_interested {
        if let Ok(mut conns) = inner.conns.lock() {
            if let Some(conn) = conns.get_mut(&key) {
                conn.interested = session.is_interested();
                conn.since = Instant::now();
            }
        }
        inner.rechoke.notify_one();
    }
    Ok(())
}

/// Bytes queued for the socket, in order: small messages are encoded
/// into a scratch buffer, block data are slices of the cached piece, so a
/// block is never copied before the kernel takes it.
#[derive(Default)]
struct Outgoing {
    chunks: VecDeque<Bytes>,
    /// Encoded messages not yet sealed into a chunk.
    scratch: Vec<u8>,
    /// Bytes in `chunks`.
    queued: usize,
}

impl Outgoing {
    fn len(&self) -> usize {
        self.queued + self.scratch.len()
    }

    fn message(&mut self, message: &Message) {
        message.encode(&mut self.scratch);
    }

    /// Queues a piece message for `block` of a piece whose bytes are
    /// `piece`; false when the block lies outside it.
    fn block(&mut self, block: Block, piece: &Bytes) -> bool {
        let start = block.begin as usize;
        let end = start + block.length as usize;
        if end > piece.len() {
            return false;
        }
        self.scratch.extend_from_slice(&message::piece_header(
            block.index,
            block.begin,
            block.length,
        ));
        self.seal();
        self.push(piece.slice(start..end));
        true
    }

    /// Moves the scratch buffer into the chunk queue.
    fn seal(&mut self) {
        if !self.scratch.is_empty() {
            let bytes = Bytes::from(std::mem::take(&mut self.scratch));
            self.push(bytes);
        }
    }

    fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// Drops the first `n` bytes, which the socket took.
    fn advance(&mut self, mut n: usize) {
        self.queued -= n.min(self.queued);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_keeps_order_and_advances_across_chunks() {
        let piece = Bytes::from((0..=255u8).cycle().take(100).collect::<Vec<u8>>());
        let mut out = Outgoing::default();
        out.message(&Message::Unchoke);
        let block = Block {
            index: 3,
            begin: 10,
            length: 20,
        };
        assert!(out.block(block, &piece));
        assert!(!out.block(
            Block {
                index: 3,
                begin: 90,
                length: 20
            },
            &piece
        ));
        out.message(&Message::KeepAlive);
        out.seal();
        let mut want = Message::Unchoke.to_bytes();
        want.extend_from_slice(&message::piece_header(3, 10, 20));
        want.extend_from_slice(&piece[10..30]);
        want.extend_from_slice(&Message::KeepAlive.to_bytes());
        assert_eq!(out.len(), want.len());
        let all: Vec<u8> = out.chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(all, want);
        out.advance(7);
        out.advance(12);
        let rest: Vec<u8> = out.chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(rest, want[19..]);
        assert_eq!(out.len(), want.len() - 19);
        out.advance(want.len() - 19);
        assert!(out.chunks.is_empty());
        assert_eq!(out.len(), 0);
    }

    /// A single-file torrent of `data` in `dir`, pieces of `piece` bytes.
    fn single_file(dir: &Path, data: &[u8], piece: usize) -> Torrent {
        std::fs::write(dir.join("big.bin"), data).unwrap();
        let pieces: Vec<u8> = data
            .chunks(piece)
            .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
            .collect();
        let mut bytes = format!(
            "d4:infod6:lengthi{}e4:name7:big.bin12:piece lengthi{piece}e6:pieces{}:",
            data.len(),
            pieces.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&pieces);
        bytes.extend_from_slice(b"ee");
        Torrent::parse(&bytes).unwrap()
    }

    async fn next_message(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Message {
        loop {
            if let Some((m, used)) = message::decode(buf).unwrap() {
                buf.drain(..used);
                return m;
            }
            assert!(stream.read_buf(buf).await.unwrap() > 0, "seeder closed");
        }
    }

    /// The stall this module once had: a downloader that queues more than
    /// one write batch of requests and then waits gets every block at
    /// once, not one batch per keep-alive tick.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_request_pipeline_is_served_without_waiting_for_more_requests() {
        const PIECE: usize = 256 * 1024;
        let dir = std::env::temp_dir().join(format!("mktorrent-rs-seeder-{}", random()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i * 7 / 5) as u8).collect();
        let torrent = single_file(&dir, &data, PIECE);
        let info_hash = torrent.info_hash.0;
        let seed = SeedTorrent::open(torrent, &dir.join("big.bin"), Verify::Skip, &|_| {}).unwrap();
        let shutdown = Shutdown::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seeder = Seeder::new(Config::default(), vec![seed], shutdown.clone());
        let running = tokio::spawn({
            let seeder = seeder.clone();
            async move { seeder.run(listener).await }
        });

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let hello = Handshake {
            reserved: Reserved::default().with(Reserved::FAST),
            info_hash,
            peer_id: *b"-TEST00-downloader00",
        };
        stream.write_all(&hello.encode()).await.unwrap();
        stream
            .write_all(&Message::Interested.to_bytes())
            .await
            .unwrap();
        let mut buf = Vec::new();
        let within = Duration::from_secs(3);
        tokio::time::timeout(within, async {
            while handshake::decode(&buf).unwrap().is_none() {
                stream.read_buf(&mut buf).await.unwrap();
            }
            buf.drain(..handshake::LEN);
            while next_message(&mut stream, &mut buf).await != Message::Unchoke {}
        })
        .await
        .expect("unchoked");
        // 4 MiB of requests in one go, four times the write batch.
        let mut requests = Vec::new();
        for offset in (0..data.len()).step_by(16 * 1024) {
            let block = Block {
                index: (offset / PIECE) as u32,
                begin: (offset % PIECE) as u32,
                length: 16 * 1024,
            };
            Message::Request(block).encode(&mut requests);
        }
        stream.write_all(&requests).await.unwrap();
        let mut got = vec![0u8; data.len()];
        let mut blocks = 0;
        tokio::time::timeout(within, async {
            while blocks < data.len() / (16 * 1024) {
                if let Message::Piece {
                    index,
                    begin,
                    data: bytes,
                } = next_message(&mut stream, &mut buf).await
                {
                    let at = index as usize * PIECE + begin as usize;
                    got[at..at + bytes.len()].copy_from_slice(&bytes);
                    blocks += 1;
                }
            }
        })
        .await
        .expect("every block within 3 s, well before a 5 s tick");
        assert!(got == data, "blocks carry the right bytes");
        assert_eq!(seeder.stats().uploaded, data.len() as u64);
        shutdown.trigger();
        running.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_choker_hears_of_owed_blocks_at_once_and_of_requests_once_a_second() {
        let t0 = Instant::now();
        let asked = |at, pending| Demand {
            last_request: Some(at),
            pending,
        };
        assert!(!worth_telling(Demand::default(), Demand::default()));
        assert!(worth_telling(Demand::default(), asked(t0, false)));
        assert!(worth_telling(asked(t0, false), asked(t0, true)));
        let soon = t0 + Duration::from_millis(400);
        assert!(!worth_telling(asked(t0, true), asked(soon, true)));
        assert!(worth_telling(asked(t0, true), asked(t0 + SNUB_CHECK, true)));
    }

    #[test]
    fn read_ahead_covers_a_few_pieces_whatever_their_size() {
        assert_eq!(read_ahead(1 << 20), 4);
        assert_eq!(read_ahead(16 << 20), 2);
        assert_eq!(read_ahead(16 << 10), 16);
    }
}
