//! The seeder: the tokio adapter around [`super::session`] and
//! [`super::choker`]. It accepts connections on a bound listener, dials
//! peers it is given, answers handshakes for any torrent it serves (the
//! info hash is read before answering, so one port serves many torrents),
//! and sends blocks read from disk on blocking threads.
//!
//! Content is hashed before it is first sent: [`SeedTorrent::open`] checks
//! every piece unless told not to, and each piece is hashed again on its
//! first read, so a file changed after start is never served as good data.
//! Plaintext only: a connection whose first bytes are not the BitTorrent
//! handshake (MSE/PE encryption) is closed at once so clients fall back to
//! plaintext; peers that insist on encryption cannot connect.
//!
//! Every task is spawned through the [`Shutdown`]; [`Seeder::run`] returns
//! only when all of its connections have ended.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_util::task::TaskTracker;

use super::choker::{Choker, PeerKey, DEFAULT_SLOTS};
use super::handshake::{self, Handshake, Reserved};
use super::message::{self, Block};
use super::session::{Close, Features, Params, Pieces, Session};
use crate::hasher;
use crate::metainfo::{hex, Layout, Torrent};
use crate::shutdown::Shutdown;
use crate::storage::{Reader, Storage, StorageError};

/// How often slots rotate.
const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);
/// How often each connection checks its keep-alive and idle timers.
const TICK: Duration = Duration::from_secs(5);
/// Bytes of piece messages gathered before one write.
const WRITE_BATCH: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{name}: v2-only torrents cannot be seeded yet (only v1 and hybrid torrents)")]
    V2Only { name: String },
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
}

impl SeedTorrent {
    /// Lays out the content at `content` (the file of a single-file
    /// torrent, the directory of a multi-file one) and, with
    /// [`Verify::Full`], hashes every piece in parallel on the current rayon
    /// pool (never call it on an async runtime thread). Hybrid torrents are
    /// served as v1: their v1 pieces are aligned by BEP 47 pad files.
    pub fn open(
        torrent: Torrent,
        content: &Path,
        verify: Verify,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Self, SeedError> {
        let info = &torrent.meta.info;
        if !info.version.has_v1() {
            return Err(SeedError::V2Only {
                name: info.name.clone(),
            });
        }
        let storage = match &info.layout {
            Layout::Single { length } => Storage::new([(Some(content.to_owned()), *length)]),
            Layout::Multi { files } => Storage::new(files.iter().map(|f| {
                let disk = (!f.is_padding())
                    .then(|| f.path.iter().fold(content.to_owned(), |p, c| p.join(c)));
                (disk, f.length)
            })),
        };
        let pieces = Pieces {
            piece_length: info.piece_length,
            total_length: storage.total_length(),
        };
        let count = pieces.count() as usize;
        if verify == Verify::Full {
            let results = hasher::verify_hashes(&storage, info.piece_length, progress);
            let bad = results
                .iter()
                .zip(&info.pieces)
                .filter(|(got, want)| got.as_ref().ok() != Some(*want))
                .count()
                + count.saturating_sub(results.len().min(info.pieces.len()));
            if bad > 0 {
                return Err(SeedError::Mismatch {
                    name: info.name.clone(),
                    content: content.to_owned(),
                    bad,
                    count,
                });
            }
        }
        let params = Arc::new(Params::new(pieces, torrent.info_bytes.clone().into()));
        Ok(Self {
            checked: (0..count).map(|_| AtomicBool::new(false)).collect(),
            torrent,
            storage,
            params,
        })
    }

    pub fn torrent(&self) -> &Torrent {
        &self.torrent
    }

    /// Reads piece `index` whole; hashes it on its first read and refuses
    /// it when it no longer matches. Blocking.
    fn read_piece(&self, index: u32) -> Result<Vec<u8>, PieceError> {
        let pieces = self.params.pieces;
        let size = pieces.size(index).ok_or(PieceError::OutOfRange)?;
        let mut data = vec![0u8; usize::try_from(size).map_err(|_| PieceError::OutOfRange)?];
        Reader::new(&self.storage, true)
            .read_at(u64::from(index) * pieces.piece_length, &mut data)
            .map_err(PieceError::Storage)?;
        let checked = &self.checked[index as usize];
        if !checked.load(Ordering::Relaxed) {
            let want = self.torrent.meta.info.pieces.get(index as usize);
            if want != Some(&<[u8; 20]>::from(Sha1::digest(&data))) {
                return Err(PieceError::HashMismatch);
            }
            checked.store(true, Ordering::Relaxed);
        }
        Ok(data)
    }
}

/// A whole-piece read running on a blocking thread.
type PieceRead = tokio::task::JoinHandle<Result<Vec<u8>, PieceError>>;

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
    /// Our DHT node's port, sent to peers that support the DHT.
    pub dht_port: Option<u16>,
    /// How long a new connection may take to complete its handshake.
    pub handshake_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            peer_id: new_peer_id(),
            upload_slots: DEFAULT_SLOTS,
            max_connections: 200,
            dht_port: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

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

/// Counters for status lines and stop conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections open now.
    pub peers: usize,
    /// Block bytes sent (payload only).
    pub uploaded: u64,
    /// Peers that finished downloading while connected to us.
    pub completed: u64,
}

struct Conn {
    addr: SocketAddr,
    interested: bool,
    unchoke: watch::Sender<bool>,
}

struct Inner {
    config: Config,
    torrents: HashMap<[u8; 20], Arc<SeedTorrent>>,
    shutdown: Shutdown,
    tasks: TaskTracker,
    conns: Mutex<HashMap<PeerKey, Conn>>,
    next_key: AtomicU64,
    rechoke: Notify,
    peers: AtomicUsize,
    uploaded: AtomicU64,
    completed: AtomicU64,
}

/// The seeder. Cheap to clone; every clone drives the same connections.
#[derive(Clone)]
pub struct Seeder {
    inner: Arc<Inner>,
}

impl Seeder {
    pub fn new(config: Config, torrents: Vec<SeedTorrent>, shutdown: Shutdown) -> Self {
        // A hybrid is one swarm under two hashes (BEP 52): peers may
        // greet us with either, and get the same (v1-aligned) pieces.
        let mut map = HashMap::new();
        for seed in torrents {
            let seed = Arc::new(seed);
            if let Some(v2) = &seed.torrent.info_hash_v2 {
                let mut truncated = [0; 20];
                truncated.copy_from_slice(&v2[..20]);
                map.insert(truncated, seed.clone());
            }
            map.insert(seed.torrent.info_hash.0, seed);
        }
        let torrents = map;
        Self {
            inner: Arc::new(Inner {
                config,
                torrents,
                shutdown,
                tasks: TaskTracker::new(),
                conns: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(0),
                rechoke: Notify::new(),
                peers: AtomicUsize::new(0),
                uploaded: AtomicU64::new(0),
                completed: AtomicU64::new(0),
            }),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            peers: self.inner.peers.load(Ordering::Relaxed),
            uploaded: self.inner.uploaded.load(Ordering::Relaxed),
            completed: self.inner.completed.load(Ordering::Relaxed),
        }
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
        let choker = self.spawn(choke_loop(self.inner.clone()));
        loop {
            let accepted = tokio::select! {
                () = self.inner.shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, addr)) => {
                    if let Some(slot) = ConnSlot::take(&self.inner) {
                        self.spawn(connection(self.inner.clone(), slot, stream, addr, None));
                    }
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

    /// Dials `addr` and offers it torrent `info_hash` (the way peers learnt
    /// from trackers and the DHT are served). Returns once the TCP
    /// connection is up; the handshake and transfer run in a task.
    pub async fn connect(&self, addr: SocketAddr, info_hash: [u8; 20]) -> Result<(), SeedError> {
        if !self.inner.torrents.contains_key(&info_hash) {
            return Err(SeedError::UnknownTorrent(hex(&info_hash)));
        }
        if self.inner.shutdown.is_triggered() {
            return Err(SeedError::Stopped);
        }
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
        if let Some(slot) = ConnSlot::take(&self.inner) {
            self.spawn(connection(
                self.inner.clone(),
                slot,
                stream,
                addr,
                Some(info_hash),
            ));
        }
        Ok(())
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

/// A place under the connection cap, given back when dropped.
struct ConnSlot(Arc<Inner>);

impl ConnSlot {
    fn take(inner: &Arc<Inner>) -> Option<Self> {
        let cap = inner.config.max_connections;
        inner
            .peers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(inner.clone()))
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.peers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Re-runs the choker every [`RECHOKE_INTERVAL`] and whenever interest
/// changes, and tells each connection its verdict.
async fn choke_loop(inner: Arc<Inner>) {
    let mut choker = Choker::new(inner.config.upload_slots);
    let mut interval = tokio::time::interval(RECHOKE_INTERVAL);
    loop {
        let rotate = tokio::select! {
            () = inner.shutdown.cancelled() => return,
            _ = interval.tick() => true,
            () = inner.rechoke.notified() => false,
        };
        let Ok(conns) = inner.conns.lock() else {
            return;
        };
        let interested: BTreeSet<PeerKey> = conns
            .iter()
            .filter(|(_, c)| c.interested)
            .map(|(k, _)| *k)
            .collect();
        let unchoked = choker.rechoke(&interested, rotate, random());
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
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

async fn connection(
    inner: Arc<Inner>,
    slot: ConnSlot,
    stream: TcpStream,
    addr: SocketAddr,
    dial: Option<[u8; 20]>,
) {
    let key = inner.next_key.fetch_add(1, Ordering::Relaxed);
    let result = tokio::select! {
        () = inner.shutdown.cancelled() => Ok(()),
        result = serve(&inner, key, stream, addr, dial) => result,
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
            }
            tracing::debug!(%addr, "closed: peer is a seed");
        }
        Err(err) => tracing::debug!(%addr, "closed: {err}"),
        Ok(()) => {}
    }
}

/// Reads until `decode` has an answer, within the handshake timeout.
async fn read_until<T>(
    stream: &mut TcpStream,
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

async fn serve(
    inner: &Arc<Inner>,
    key: PeerKey,
    mut stream: TcpStream,
    addr: SocketAddr,
    dial: Option<[u8; 20]>,
) -> Result<(), ConnError> {
    stream.set_nodelay(true)?;
    let deadline = tokio::time::Instant::now() + inner.config.handshake_timeout;
    let mut reserved = Reserved::default()
        .with(Reserved::EXTENSION)
        .with(Reserved::FAST);
    if inner.config.dht_port.is_some() {
        reserved = reserved.with(Reserved::DHT);
    }
    let ours = |info_hash| Handshake {
        reserved,
        info_hash,
        peer_id: inner.config.peer_id,
    };
    let mut rbuf: Vec<u8> = Vec::with_capacity(64 * 1024);
    // Incoming: learn the torrent from the first 48 bytes, then answer.
    // Outgoing: we speak first.
    let info_hash = match dial {
        Some(hash) => {
            stream.write_all(&ours(hash).encode()).await?;
            hash
        }
        None => {
            let head = read_until(&mut stream, &mut rbuf, deadline, handshake::decode_head).await?;
            if !inner.torrents.contains_key(&head.info_hash) {
                return Err(ConnError::UnknownTorrent(hex(&head.info_hash)));
            }
            stream.write_all(&ours(head.info_hash).encode()).await?;
            head.info_hash
        }
    };
    let theirs = read_until(&mut stream, &mut rbuf, deadline, handshake::decode).await?;
    if theirs.info_hash != info_hash {
        return Err(ConnError::WrongTorrent(hex(&theirs.info_hash)));
    }
    if theirs.peer_id == inner.config.peer_id {
        return Err(ConnError::Ourselves);
    }
    rbuf.drain(..handshake::LEN);
    let torrent = inner
        .torrents
        .get(&info_hash)
        .cloned()
        .ok_or_else(|| ConnError::UnknownTorrent(hex(&info_hash)))?;

    let features = Features {
        fast: theirs.reserved.has(Reserved::FAST),
        extension: theirs.reserved.has(Reserved::EXTENSION),
        dht: theirs.reserved.has(Reserved::DHT),
    };
    let mut params = (*torrent.params).clone();
    params.dht_port = inner.config.dht_port;
    let mut session = Session::new(Arc::new(params), features, Instant::now());
    let (unchoke_tx, mut unchoke_rx) = watch::channel(false);
    if let Ok(mut conns) = inner.conns.lock() {
        conns.insert(
            key,
            Conn {
                addr,
                interested: false,
                unchoke: unchoke_tx,
            },
        );
    }
    let (mut reader, mut writer) = stream.into_split();
    let mut wbuf: Vec<u8> = Vec::with_capacity(WRITE_BATCH + 32 * 1024);
    let mut tick = tokio::time::interval(TICK);
    // Messages that arrived with the handshake.
    take_messages(inner, key, &mut session, &mut rbuf)?;
    // The last piece read, so the blocks of one piece cost one disk read.
    let mut cached: Option<(u32, Arc<Vec<u8>>)> = None;
    let mut pending: Option<(Block, PieceRead)> = None;
    loop {
        // Serve queued blocks from the cached piece; start a read for the
        // first block of another piece.
        while pending.is_none() && wbuf.len() < WRITE_BATCH {
            let Some(block) = session.next_block() else {
                break;
            };
            match &cached {
                Some((index, data)) if *index == block.index => {
                    push_block(inner, &mut wbuf, block, data);
                    session.served(block.length);
                }
                _ => {
                    let torrent = torrent.clone();
                    let read = tokio::task::spawn_blocking(move || torrent.read_piece(block.index));
                    pending = Some((block, read));
                }
            }
        }
        while let Some(message) = session.next_outgoing() {
            message.encode(&mut wbuf);
        }
        if !wbuf.is_empty() {
            writer.write_all(&wbuf).await?;
            wbuf.clear();
            session.sent(Instant::now());
        }
        tokio::select! {
            read = reader.read_buf(&mut rbuf) => {
                if read? == 0 {
                    return Err(ConnError::Eof);
                }
                take_messages(inner, key, &mut session, &mut rbuf)?;
            }
            changed = unchoke_rx.changed() => {
                if changed.is_ok() {
                    let unchoked = *unchoke_rx.borrow_and_update();
                    session.set_choked(!unchoked);
                }
            }
            joined = async {
                match &mut pending {
                    Some((_, handle)) => handle.await,
                    None => std::future::pending().await,
                }
            }, if pending.is_some() => {
                let block = pending.take().map(|(block, _)| block);
                if let Some(block) = block {
                    match joined {
                        Ok(Ok(data)) => {
                            let data = Arc::new(data);
                            push_block(inner, &mut wbuf, block, &data);
                            session.served(block.length);
                            cached = Some((block.index, data));
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(piece = block.index, "not sending: {err}");
                            session.cannot_serve(block);
                        }
                        Err(err) => {
                            tracing::warn!(piece = block.index, "read task failed: {err}");
                            session.cannot_serve(block);
                        }
                    }
                }
            }
            _ = tick.tick() => session.tick(Instant::now())?,
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
            }
        }
        inner.rechoke.notify_one();
    }
    Ok(())
}

/// Appends a piece message for `block` of a piece whose bytes are `data`.
fn push_block(inner: &Inner, wbuf: &mut Vec<u8>, block: Block, data: &[u8]) {
    let start = block.begin as usize;
    // The session validated the block against the piece size.
    let Some(bytes) = data.get(start..start + block.length as usize) else {
        return;
    };
    wbuf.extend_from_slice(&message::piece_header(
        block.index,
        block.begin,
        block.length,
    ));
    wbuf.extend_from_slice(bytes);
    inner
        .uploaded
        .fetch_add(u64::from(block.length), Ordering::Relaxed);
}
