//! One peer connection of a seed, as a pure state machine: messages and
//! the current time go in, messages to send and a close reason come out.
//! The tokio adapter in [`super::seeder`] only moves bytes and reads data.
//!
//! What it owns: whether we choke the peer, whether it is interested, its
//! request queue (validated against the real piece sizes, blocks of at
//! most 16 KiB), BEP 6 reject semantics (with fast, every request gets a
//! piece or a reject, also on choke and cancel), keep-alives and the idle
//! timeout, BEP 9 metadata replies, and spotting seeds (a seed has nothing
//! to take from a seed, so such connections close).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::message::{
    self, Block, ExtendedHandshake, HashRequest, Message, Metadata, MAX_BLOCK, UT_METADATA,
};
use super::pex::{Pex, UT_PEX};
use crate::merkle::{FileTree, Hash};

/// Piece geometry: v1 pieces run across files; in a v2-only torrent
/// (BEP 52) every file starts a new piece, so each file's last piece may
/// be short. A hybrid's pieces are v1's (its pad files align them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pieces {
    pub piece_length: u64,
    pub total_length: u64,
    /// v2 only: each non-empty file's place, in piece order.
    files: Arc<[FileSpan]>,
}

/// One file of a v2-only torrent in the piece index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileSpan {
    first_piece: u32,
    /// Where the file starts in the content (files laid end to end).
    offset: u64,
    length: u64,
}

impl Pieces {
    /// Pieces of `piece_length` over `total_length` bytes, across files.
    pub fn v1(piece_length: u64, total_length: u64) -> Self {
        Self {
            piece_length,
            total_length,
            files: Arc::new([]),
        }
    }

    /// BEP 52 pieces over files of these lengths laid end to end: the
    /// index space runs file after file, empty files take none.
    pub fn v2(piece_length: u64, lengths: impl IntoIterator<Item = u64>) -> Self {
        let mut files = Vec::new();
        let (mut offset, mut first_piece) = (0u64, 0u64);
        for length in lengths {
            if length > 0 {
                files.push(FileSpan {
                    // Clamped: more than 4 G pieces cannot be addressed anyway.
                    first_piece: u32::try_from(first_piece).unwrap_or(u32::MAX),
                    offset,
                    length,
                });
            }
            offset += length;
            first_piece += length.div_ceil(piece_length.max(1));
        }
        Self {
            piece_length,
            total_length: offset,
            files: files.into(),
        }
    }

    pub fn count(&self) -> u32 {
        match self.files.last() {
            // Torrents with more than 4 G pieces cannot be described by BEP 3.
            None => u32::try_from(self.total_length.div_ceil(self.piece_length.max(1)))
                .unwrap_or(u32::MAX),
            Some(last) => u32::try_from(
                u64::from(last.first_piece) + last.length.div_ceil(self.piece_length.max(1)),
            )
            .unwrap_or(u32::MAX),
        }
    }

    /// Where piece `index` starts in the content, and its size: the last
    /// piece (of the torrent, or in v2 of each file) is short.
    pub fn span(&self, index: u32) -> Option<(u64, u64)> {
        if index >= self.count() {
            return None;
        }
        if self.files.is_empty() {
            let start = u64::from(index) * self.piece_length;
            return Some((start, self.piece_length.min(self.total_length - start)));
        }
        let at = self.files.partition_point(|f| f.first_piece <= index);
        let file = self.files.get(at.checked_sub(1)?)?;
        let within = u64::from(index - file.first_piece) * self.piece_length;
        (within < file.length).then(|| {
            (
                file.offset + within,
                self.piece_length.min(file.length - within),
            )
        })
    }

    /// The size of piece `index`.
    pub fn size(&self, index: u32) -> Option<u64> {
        self.span(index).map(|(_, size)| size)
    }

    /// The bytes of piece `index` a peer may request: its size, except
    /// that a v2 piece ending inside a 16 KiB block may be asked for to the
    /// block's end (libtorrent sees files padded to pieces and asks for
    /// whole blocks); those bytes are zeros.
    pub fn request_size(&self, index: u32) -> Option<u64> {
        let size = self.size(index)?;
        Some(if self.files.is_empty() {
            size
        } else {
            size.next_multiple_of(u64::from(MAX_BLOCK))
                .min(self.piece_length.max(size))
        })
    }

    /// Whether a request names bytes that exist, at most [`MAX_BLOCK`] long.
    pub fn is_valid(&self, block: Block) -> bool {
        (1..=MAX_BLOCK).contains(&block.length)
            && self
                .request_size(block.index)
                .is_some_and(|size| u64::from(block.begin) + u64::from(block.length) <= size)
    }
}

/// Requests queued per peer by default (our `reqq`).
pub const DEFAULT_MAX_QUEUE: usize = 512;
/// BEP 9 replies waiting in the outbox at once; requests beyond are
/// rejected, so a peer that floods requests cannot make us buffer copies
/// of the info dictionary.
const MAX_METADATA_PENDING: usize = 4;
/// BEP 52 `hashes` replies waiting in the outbox at once (up to 17 KiB
/// each); requests beyond are answered with `hash reject`.
const MAX_HASHES_PENDING: usize = 8;
/// PEX messages from one peer closer together than this are ignored.
const MIN_PEX_GAP: Duration = Duration::from_secs(45);
/// PEX peers held per connection until the seeder takes them.
const MAX_PEX_PENDING: usize = 100;

/// Settings shared by every connection of a torrent.
#[derive(Debug, Clone)]
pub struct Params {
    pub pieces: Pieces,
    /// The exact raw info dictionary, served over BEP 9.
    pub info: Arc<[u8]>,
    /// `v` in our extended handshake.
    pub client: String,
    /// Our DHT port, sent in PORT to peers that support the DHT.
    pub dht_port: Option<u16>,
    /// Requests we queue per peer (our `reqq`); more are rejected.
    pub max_queue: usize,
    /// Send a keep-alive after this long without sending anything.
    pub keepalive: Duration,
    /// Close after this long without hearing from the peer.
    pub idle_timeout: Duration,
    /// Speak BEP 11 peer exchange (never for private torrents, BEP 27).
    pub pex: bool,
    /// BEP 52 merkle trees by `pieces root`, for v2 and hybrid torrents'
    /// files larger than a piece: what hash requests are answered from.
    pub trees: Arc<BTreeMap<Hash, FileTree>>,
}

impl Params {
    pub fn new(pieces: Pieces, info: Arc<[u8]>) -> Self {
        Self {
            pieces,
            info,
            client: concat!("mktorrent-rs ", env!("CARGO_PKG_VERSION")).to_owned(),
            dht_port: None,
            // Deep enough that a downloader keeps a fast link busy: at
            // 16 KiB blocks, 8 MiB in flight.
            max_queue: DEFAULT_MAX_QUEUE,
            // Peers drop connections silent for 2 minutes (BEP 3 convention).
            keepalive: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(150),
            pex: true,
            trees: Arc::new(BTreeMap::new()),
        }
    }
}

/// What the peer supports, from its handshake's reserved bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    pub fast: bool,
    pub extension: bool,
    pub dht: bool,
}

/// Why a connection ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Close {
    #[error("peer silent for {0:?}")]
    Idle(Duration),
    /// The peer has every piece; `completed_here` when it finished while
    /// connected to us (a completed download we saw).
    #[error("peer is a seed")]
    Seed { completed_here: bool },
    #[error("protocol violation: {0}")]
    Invalid(String),
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    params: Arc<Params>,
    features: Features,
    choked: bool,
    interested: bool,
    queue: VecDeque<Block>,
    outbox: VecDeque<Message>,
    last_received: Instant,
    last_sent: Instant,
    /// When the peer last asked for a block, for the choker's snub check.
    last_request: Option<Instant>,
    /// The peer's pieces and how many are set.
    peer_bits: Vec<u8>,
    peer_count: u32,
    peer_ut_metadata: Option<u8>,
    peer_ut_pex: Option<u8>,
    /// `p` from the peer's extended handshake: where it listens.
    peer_port: Option<u16>,
    /// Peers learnt through PEX, not yet taken by the seeder.
    pex_found: Vec<SocketAddr>,
    last_pex_in: Option<Instant>,
    /// BEP 9 data replies in the outbox.
    metadata_pending: usize,
    /// BEP 52 `hashes` replies in the outbox.
    hashes_pending: usize,
    /// Block bytes sent to this peer per piece it has not announced, to
    /// recognise a finished download from peers that announce no haves to
    /// a seed, or that close before announcing their last piece
    /// (libtorrent, once it is a seed itself).
    served: HashMap<u32, u64>,
}

impl Session {
    /// A new connection right after the handshakes: queues our extended
    /// handshake, then `have_all` with fast or a full bitfield without,
    /// and PORT when both sides speak DHT.
    pub fn new(params: Arc<Params>, features: Features, now: Instant) -> Self {
        let count = params.pieces.count();
        let mut session = Self {
            features,
            choked: true,
            interested: false,
            queue: VecDeque::new(),
            outbox: VecDeque::new(),
            last_received: now,
            last_sent: now,
            last_request: None,
            peer_bits: vec![0; (count as usize).div_ceil(8)],
            peer_count: 0,
            peer_ut_metadata: None,
            peer_ut_pex: None,
            peer_port: None,
            pex_found: Vec::new(),
            last_pex_in: None,
            metadata_pending: 0,
            hashes_pending: 0,
            served: HashMap::new(),
            params,
        };
        if features.extension {
            let mut extensions: std::collections::BTreeMap<String, u8> =
                [("ut_metadata".to_owned(), UT_METADATA)].into();
            if session.params.pex {
                extensions.insert("ut_pex".to_owned(), UT_PEX);
            }
            let ours = ExtendedHandshake {
                extensions,
                metadata_size: Some(session.params.info.len() as u64),
                client: Some(session.params.client.clone()),
                reqq: u32::try_from(session.params.max_queue).ok(),
                port: None,
                upload_only: true,
            };
            session.outbox.push_back(Message::Extended {
                id: 0,
                payload: ours.encode(),
            });
        }
        session.outbox.push_back(if features.fast {
            Message::HaveAll
        } else {
            Message::Bitfield(message::full_bitfield(count as usize))
        });
        if let (true, Some(port)) = (features.dht, session.params.dht_port) {
            session.outbox.push_back(Message::Port(port));
        }
        session
    }

    pub fn is_interested(&self) -> bool {
        self.interested
    }

    pub fn is_choked(&self) -> bool {
        self.choked
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the peer last sent a request (served, queued or refused).
    pub fn last_request(&self) -> Option<Instant> {
        self.last_request
    }

    /// The next message to send, if any.
    pub fn next_outgoing(&mut self) -> Option<Message> {
        let message = self.outbox.pop_front()?;
        match &message {
            Message::Extended { id, .. } if Some(*id) == self.peer_ut_metadata => {
                self.metadata_pending = self.metadata_pending.saturating_sub(1);
            }
            Message::Hashes { .. } => self.hashes_pending = self.hashes_pending.saturating_sub(1),
            _ => {}
        }
        Some(message)
    }

    /// The next block to read and send as a piece, while unchoked.
    pub fn next_block(&mut self) -> Option<Block> {
        if self.choked {
            return None;
        }
        self.queue.pop_front()
    }

    /// The block [`Self::next_block`] would return, without taking it.
    pub fn peek_block(&self) -> Option<Block> {
        if self.choked {
            return None;
        }
        self.queue.front().copied()
    }

    /// The distinct pieces of the queued requests, in request order, at
    /// most `limit`: what the adapter should read ahead while earlier
    /// blocks are still being written.
    pub fn upcoming_pieces(&self, limit: usize) -> Vec<u32> {
        let mut pieces: Vec<u32> = Vec::with_capacity(limit);
        if self.choked {
            return pieces;
        }
        for block in &self.queue {
            if pieces.len() >= limit {
                break;
            }
            if !pieces.contains(&block.index) {
                pieces.push(block.index);
            }
        }
        pieces
    }

    /// Records a block sent as a piece message.
    pub fn served(&mut self, block: Block) {
        if !self.peer_has_bit(block.index) {
            *self.served.entry(block.index).or_default() += u64::from(block.length);
        }
    }

    /// Whether the peer now has every piece: announced, or sent whole by
    /// us. The adapter asks when the peer closes, since a downloader may
    /// leave as soon as it is complete without announcing its last piece.
    pub fn peer_complete(&self) -> bool {
        let pieces = &self.params.pieces;
        let sent_whole = self
            .served
            .iter()
            .filter(|(index, bytes)| pieces.size(**index).is_some_and(|size| **bytes >= size))
            .count();
        !self.served.is_empty()
            && u64::from(self.peer_count) + sent_whole as u64 >= u64::from(pieces.count())
    }

    fn peer_has_bit(&self, index: u32) -> bool {
        self.peer_bits
            .get(index as usize / 8)
            .is_some_and(|byte| byte & (0x80u8 >> (index % 8)) != 0)
    }

    /// Records that bytes went out, for keep-alive timing.
    pub fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// A popped block cannot be served (its piece failed its hash check
    /// or could not be read): with fast the peer is told, else it times out.
    pub fn cannot_serve(&mut self, block: Block) {
        self.reject(block);
    }

    fn reject(&mut self, block: Block) {
        if self.features.fast {
            self.outbox.push_back(Message::Reject(block));
        }
    }

    /// Chokes or unchokes the peer (the choker's decision). Choking drops
    /// the queue, rejecting each request when fast is on.
    pub fn set_choked(&mut self, choked: bool) {
        if choked == self.choked {
            return;
        }
        self.choked = choked;
        if choked {
            self.outbox.push_back(Message::Choke);
            for block in std::mem::take(&mut self.queue) {
                self.reject(block);
            }
        } else {
            self.outbox.push_back(Message::Unchoke);
        }
    }

    /// Checks timers: sends a keep-alive when we have been quiet, closes
    /// when the peer has been.
    pub fn tick(&mut self, now: Instant) -> Result<(), Close> {
        let silent = now.saturating_duration_since(self.last_received);
        if silent >= self.params.idle_timeout {
            return Err(Close::Idle(silent));
        }
        if now.saturating_duration_since(self.last_sent) >= self.params.keepalive
            && self.outbox.is_empty()
        {
            self.outbox.push_back(Message::KeepAlive);
        }
        Ok(())
    }

    fn fast_only(&self, what: &str) -> Result<(), Close> {
        if self.features.fast {
            Ok(())
        } else {
            Err(Close::Invalid(format!("{what} without the fast extension")))
        }
    }

    fn peer_has(&mut self, index: u32) -> Result<(), Close> {
        let count = self.params.pieces.count();
        if index >= count {
            return Err(Close::Invalid(format!("have {index} of {count} pieces")));
        }
        let (byte, bit) = (index as usize / 8, 0x80u8 >> (index % 8));
        if self.peer_bits[byte] & bit == 0 {
            self.peer_bits[byte] |= bit;
            self.peer_count += 1;
            self.served.remove(&index);
            if self.peer_count == count {
                return Err(Close::Seed {
                    completed_here: true,
                });
            }
        }
        Ok(())
    }

    /// Handles one message from the peer.
    pub fn receive(&mut self, message: Message, now: Instant) -> Result<(), Close> {
        self.last_received = now;
        let count = self.params.pieces.count();
        match message {
            Message::Interested => self.interested = true,
            Message::NotInterested => {
                self.interested = false;
                // What it announced plus what we sent covers everything:
                // it finished, and a finished peer is a seed to us.
                if self.peer_complete() {
                    return Err(Close::Seed {
                        completed_here: true,
                    });
                }
            }
            Message::Request(block) => {
                self.last_request = Some(now);
                self.request(block);
            }
            Message::Cancel(block) => {
                if let Some(at) = self.queue.iter().position(|b| *b == block) {
                    self.queue.remove(at);
                    // BEP 6: a cancelled request still gets its answer.
                    self.reject(block);
                }
            }
            Message::Have(index) => self.peer_has(index)?,
            Message::Bitfield(bits) => {
                if bits.len() != self.peer_bits.len() {
                    return Err(Close::Invalid(format!(
                        "bitfield of {} bytes for {count} pieces",
                        bits.len()
                    )));
                }
                if message::count_bits(&bits, count as usize) == count as usize {
                    return Err(Close::Seed {
                        completed_here: false,
                    });
                }
                for index in 0..count {
                    if bits[index as usize / 8] & (0x80 >> (index % 8)) != 0 {
                        self.peer_has(index)?;
                    }
                }
            }
            Message::HaveAll => {
                self.fast_only("have_all")?;
                return Err(Close::Seed {
                    completed_here: false,
                });
            }
            Message::HaveNone | Message::Suggest(_) | Message::AllowedFast(_) => {
                self.fast_only("a BEP 6 message")?;
            }
            Message::Reject(_) => self.fast_only("reject")?,
            Message::Extended { id, payload } => self.extended(id, &payload, now)?,
            // BEP 52: answered whatever the choke state.
            Message::HashRequest(request) => self.hash_request(request),
            // We ask for no hashes: replies to nothing are ignored.
            Message::Hashes { .. } | Message::HashReject(_) => {}
            // We download nothing: their choking, pieces and DHT port do
            // not concern a seed; unknown ids are skipped (BEP 3).
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Piece { .. }
            | Message::Port(_)
            | Message::Unknown { .. } => {}
        }
        Ok(())
    }

    fn request(&mut self, block: Block) {
        let acceptable = self.params.pieces.is_valid(block)
            && !self.choked
            && self.queue.len() < self.params.max_queue;
        if !acceptable {
            // Without fast a bad request is silently dropped (BEP 3 has no
            // way to refuse); with fast it is rejected (BEP 6).
            self.reject(block);
        } else if !self.queue.contains(&block) {
            self.queue.push_back(block);
        }
    }

    /// Answers from the file's tree: `hashes` when the request is valid
    /// and few replies are waiting, else `hash reject` (BEP 52 wants one
    /// or the other for every request).
    fn hash_request(&mut self, request: HashRequest) {
        let hashes = match self.params.trees.get(&request.pieces_root) {
            Some(tree) if self.hashes_pending < MAX_HASHES_PENDING => tree
                .hashes(
                    request.base_layer,
                    request.index,
                    request.length,
                    request.proof_layers,
                )
                .ok(),
            _ => None,
        };
        match hashes {
            Some(hashes) => {
                self.hashes_pending += 1;
                self.outbox.push_back(Message::Hashes { request, hashes });
            }
            None => self.outbox.push_back(Message::HashReject(request)),
        }
    }

    fn extended(&mut self, id: u8, payload: &[u8], now: Instant) -> Result<(), Close> {
        if !self.features.extension {
            return Err(Close::Invalid(
                "extended message without the extension protocol".to_owned(),
            ));
        }
        match id {
            0 => {
                // A handshake we cannot read leaves extensions off.
                if let Ok(theirs) = ExtendedHandshake::parse(payload) {
                    self.peer_ut_metadata = theirs.id_of("ut_metadata");
                    self.peer_ut_pex = theirs.id_of("ut_pex");
                    self.peer_port = theirs.port.filter(|&p| p != 0);
                    if theirs.upload_only {
                        return Err(Close::Seed {
                            completed_here: false,
                        });
                    }
                }
            }
            UT_METADATA => {
                if let (Ok(Metadata::Request { piece }), Some(their_id)) =
                    (Metadata::parse(payload), self.peer_ut_metadata)
                {
                    let reply = if self.metadata_pending < MAX_METADATA_PENDING {
                        message::metadata_reply(&self.params.info, piece)
                    } else {
                        Metadata::Reject { piece }
                    };
                    self.metadata_pending += 1;
                    self.outbox.push_back(Message::Extended {
                        id: their_id,
                        payload: reply.encode(),
                    });
                }
            }
            UT_PEX if self.params.pex => {
                // BEP 11 asks for one message a minute; a peer sending
                // more often gets the extra ones ignored, not read.
                if self
                    .last_pex_in
                    .is_some_and(|at| now.duration_since(at) < MIN_PEX_GAP)
                {
                    return Ok(());
                }
                self.last_pex_in = Some(now);
                if let Ok(pex) = Pex::parse(payload) {
                    for addr in pex.added {
                        if self.pex_found.len() < MAX_PEX_PENDING && !self.pex_found.contains(&addr)
                        {
                            self.pex_found.push(addr);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Peers this peer told us of through PEX since the last call.
    pub fn take_pex(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.pex_found)
    }

    /// Where the peer listens, when its extended handshake said (`p`).
    pub fn peer_port(&self) -> Option<u16> {
        self.peer_port
    }

    /// Queues a PEX message when both sides speak it; false otherwise.
    pub fn send_pex(&mut self, pex: &Pex) -> bool {
        match self.peer_ut_pex {
            Some(id) if self.params.pex => {
                self.outbox.push_back(Message::Extended {
                    id,
                    payload: pex.encode(),
                });
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Features = Features {
        fast: true,
        extension: true,
        dht: false,
    };
    const PLAIN: Features = Features {
        fast: false,
        extension: false,
        dht: false,
    };

    /// 3 pieces of 32 KiB, the last 10 bytes long.
    fn params() -> Arc<Params> {
        let pieces = Pieces::v1(32 * 1024, 64 * 1024 + 10);
        let info: Arc<[u8]> = vec![b'i'; 20_000].into();
        Arc::new(Params::new(pieces, info))
    }

    fn drain(s: &mut Session) -> Vec<Message> {
        std::iter::from_fn(|| s.next_outgoing()).collect()
    }

    fn block(index: u32, begin: u32, length: u32) -> Block {
        Block {
            index,
            begin,
            length,
        }
    }

    fn unchoked(features: Features) -> (Session, Instant) {
        let now = Instant::now();
        let mut s = Session::new(params(), features, now);
        drain(&mut s);
        s.receive(Message::Interested, now).unwrap();
        s.set_choked(false);
        assert_eq!(drain(&mut s), [Message::Unchoke]);
        (s, now)
    }

    #[test]
    fn piece_sizes_make_the_last_piece_short() {
        let p = params().pieces.clone();
        assert_eq!(p.count(), 3);
        assert_eq!(p.size(1), Some(32 * 1024));
        assert_eq!(p.size(2), Some(10));
        assert_eq!(p.size(3), None);
        assert!(p.is_valid(block(2, 0, 10)));
        assert!(!p.is_valid(block(2, 0, 11)));
        assert!(!p.is_valid(block(2, 8, 3)));
        assert!(p.is_valid(block(0, 16 * 1024, 16 * 1024)));
        assert!(!p.is_valid(block(0, 0, 16 * 1024 + 1)));
        assert!(!p.is_valid(block(0, 0, 0)));
        assert!(!p.is_valid(block(0, u32::MAX, 16)));
    }

    #[test]
    fn opens_with_extended_handshake_then_have_all_or_bitfield() {
        let now = Instant::now();
        let mut s = Session::new(params(), FAST, now);
        let sent = drain(&mut s);
        assert_eq!(sent.len(), 2);
        let Message::Extended { id: 0, payload } = &sent[0] else {
            panic!("{sent:?}")
        };
        let ours = ExtendedHandshake::parse(payload).unwrap();
        assert_eq!(ours.id_of("ut_metadata"), Some(UT_METADATA));
        assert_eq!(ours.metadata_size, Some(20_000));
        assert_eq!(ours.reqq, Some(DEFAULT_MAX_QUEUE as u32));
        assert!(ours.client.unwrap().starts_with("mktorrent-rs"));
        assert_eq!(sent[1], Message::HaveAll);

        let mut s = Session::new(params(), PLAIN, now);
        assert_eq!(drain(&mut s), [Message::Bitfield(vec![0xE0])]);

        let mut with_dht = (*params()).clone();
        with_dht.dht_port = Some(6881);
        let features = Features { dht: true, ..PLAIN };
        let mut s = Session::new(Arc::new(with_dht), features, now);
        assert_eq!(drain(&mut s)[1], Message::Port(6881));
    }

    #[test]
    fn the_last_request_is_remembered_even_when_refused() {
        let (mut s, now) = unchoked(FAST);
        assert_eq!(s.last_request(), None);
        s.receive(Message::Request(block(0, 0, 16384)), now)
            .unwrap();
        assert_eq!(s.last_request(), Some(now));
        let later = now + Duration::from_secs(3);
        s.receive(Message::Request(block(9, 0, 16384)), later)
            .unwrap();
        assert_eq!(s.last_request(), Some(later));
        s.receive(Message::KeepAlive, later + Duration::from_secs(1))
            .unwrap();
        assert_eq!(s.last_request(), Some(later));
    }

    #[test]
    fn valid_requests_queue_in_order_and_cancel_removes_them() {
        let (mut s, now) = unchoked(PLAIN);
        for b in [block(0, 0, 16384), block(2, 0, 10), block(0, 16384, 16384)] {
            s.receive(Message::Request(b), now).unwrap();
        }
        s.receive(Message::Request(block(2, 0, 10)), now).unwrap();
        assert_eq!(s.queued(), 3, "duplicates are ignored");
        s.receive(Message::Cancel(block(2, 0, 10)), now).unwrap();
        assert_eq!(s.next_block(), Some(block(0, 0, 16384)));
        assert_eq!(s.next_block(), Some(block(0, 16384, 16384)));
        assert_eq!(s.next_block(), None);
        assert!(drain(&mut s).is_empty(), "no rejects without fast");
    }

    #[test]
    fn with_fast_every_bad_or_cancelled_request_is_rejected() {
        let (mut s, now) = unchoked(FAST);
        let bad = [
            block(0, 0, 16 * 1024 + 1),
            block(2, 0, 11),
            block(3, 0, 1),
            block(0, 0, 0),
        ];
        for b in bad {
            s.receive(Message::Request(b), now).unwrap();
        }
        s.receive(Message::Request(block(1, 0, 100)), now).unwrap();
        s.receive(Message::Cancel(block(1, 0, 100)), now).unwrap();
        let mut expected: Vec<Message> = bad.into_iter().map(Message::Reject).collect();
        expected.push(Message::Reject(block(1, 0, 100)));
        assert_eq!(drain(&mut s), expected);
        assert_eq!(s.next_block(), None);
    }

    #[test]
    fn choking_rejects_the_queue_with_fast_and_requests_while_choked() {
        let (mut s, now) = unchoked(FAST);
        s.receive(Message::Request(block(0, 0, 100)), now).unwrap();
        s.receive(Message::Request(block(1, 0, 100)), now).unwrap();
        s.set_choked(true);
        assert_eq!(
            drain(&mut s),
            [
                Message::Choke,
                Message::Reject(block(0, 0, 100)),
                Message::Reject(block(1, 0, 100))
            ]
        );
        s.receive(Message::Request(block(0, 0, 100)), now).unwrap();
        assert_eq!(drain(&mut s), [Message::Reject(block(0, 0, 100))]);
        assert_eq!(s.next_block(), None);
        s.set_choked(true);
        assert!(drain(&mut s).is_empty(), "no repeated choke");
    }

    #[test]
    fn without_fast_choking_drops_the_queue_silently() {
        let (mut s, now) = unchoked(PLAIN);
        s.receive(Message::Request(block(0, 0, 100)), now).unwrap();
        s.set_choked(true);
        assert_eq!(drain(&mut s), [Message::Choke]);
        s.set_choked(false);
        assert_eq!(drain(&mut s), [Message::Unchoke]);
        assert_eq!(s.next_block(), None);
    }

    #[test]
    fn queue_is_bounded_by_reqq() {
        let (mut s, now) = unchoked(FAST);
        let max = DEFAULT_MAX_QUEUE as u32;
        for i in 0..=max {
            s.receive(Message::Request(block(0, i, 1)), now).unwrap();
        }
        assert_eq!(s.queued(), DEFAULT_MAX_QUEUE);
        assert_eq!(drain(&mut s), [Message::Reject(block(0, max, 1))]);
    }

    #[test]
    fn upcoming_pieces_are_distinct_in_request_order_and_peek_takes_nothing() {
        let (mut s, now) = unchoked(FAST);
        for b in [
            block(1, 0, 100),
            block(1, 100, 100),
            block(0, 0, 100),
            block(2, 0, 10),
            block(1, 200, 100),
        ] {
            s.receive(Message::Request(b), now).unwrap();
        }
        assert_eq!(s.upcoming_pieces(8), [1, 0, 2]);
        assert_eq!(s.upcoming_pieces(2), [1, 0]);
        assert_eq!(s.peek_block(), Some(block(1, 0, 100)));
        assert_eq!(s.queued(), 5);
        assert_eq!(s.next_block(), Some(block(1, 0, 100)));
        s.set_choked(true);
        assert_eq!(s.peek_block(), None);
        assert!(s.upcoming_pieces(8).is_empty());
    }

    #[test]
    fn unservable_blocks_are_rejected_only_with_fast() {
        let (mut s, _) = unchoked(FAST);
        s.cannot_serve(block(0, 0, 5));
        assert_eq!(drain(&mut s), [Message::Reject(block(0, 0, 5))]);
        let (mut s, _) = unchoked(PLAIN);
        s.cannot_serve(block(0, 0, 5));
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn keepalives_when_quiet_and_idle_peers_are_dropped() {
        let now = Instant::now();
        let mut s = Session::new(params(), PLAIN, now);
        drain(&mut s);
        s.tick(now + Duration::from_secs(59)).unwrap();
        assert!(drain(&mut s).is_empty());
        s.tick(now + Duration::from_secs(60)).unwrap();
        assert_eq!(drain(&mut s), [Message::KeepAlive]);
        s.sent(now + Duration::from_secs(60));
        s.receive(Message::KeepAlive, now + Duration::from_secs(100))
            .unwrap();
        s.tick(now + Duration::from_secs(249)).unwrap();
        assert_eq!(
            s.tick(now + Duration::from_secs(250)),
            Err(Close::Idle(Duration::from_secs(150)))
        );
    }

    #[test]
    fn seeds_are_closed_and_completion_is_seen() {
        let now = Instant::now();
        let mut s = Session::new(params(), FAST, now);
        assert_eq!(
            s.receive(Message::HaveAll, now),
            Err(Close::Seed {
                completed_here: false
            })
        );
        let mut s = Session::new(params(), PLAIN, now);
        assert_eq!(
            s.receive(Message::Bitfield(vec![0xE0]), now),
            Err(Close::Seed {
                completed_here: false
            })
        );
        let mut s = Session::new(params(), PLAIN, now);
        s.receive(Message::Bitfield(vec![0x80]), now).unwrap();
        s.receive(Message::Have(1), now).unwrap();
        s.receive(Message::Have(1), now).unwrap();
        assert_eq!(
            s.receive(Message::Have(2), now),
            Err(Close::Seed {
                completed_here: true
            })
        );
        // libtorrent sends no haves to a seed: interest ends once it has all.
        let (mut s, now) = unchoked(FAST);
        s.receive(Message::NotInterested, now).unwrap();
        assert!(!s.peer_complete());
        for b in [
            block(0, 0, 16384),
            block(0, 16384, 16384),
            block(1, 0, 16384),
            block(1, 16384, 16384),
        ] {
            s.served(b);
        }
        s.receive(Message::Interested, now).unwrap();
        s.receive(Message::NotInterested, now).unwrap();
        assert!(!s.peer_complete(), "piece 2 is missing");
        s.served(block(2, 0, 10));
        assert!(s.peer_complete());
        s.receive(Message::Interested, now).unwrap();
        assert_eq!(
            s.receive(Message::NotInterested, now),
            Err(Close::Seed {
                completed_here: true
            })
        );
        let mut s = Session::new(params(), FAST, now);
        let upload_only = ExtendedHandshake {
            upload_only: true,
            ..Default::default()
        };
        assert!(matches!(
            s.receive(
                Message::Extended {
                    id: 0,
                    payload: upload_only.encode()
                },
                now
            ),
            Err(Close::Seed { .. })
        ));
    }

    #[test]
    fn pex_is_offered_read_at_most_once_a_gap_and_sent_only_to_peers_that_speak_it() {
        let now = Instant::now();
        let mut s = Session::new(params(), FAST, now);
        let sent = drain(&mut s);
        let Message::Extended { id: 0, payload } = &sent[0] else {
            panic!("{sent:?}");
        };
        let ours = ExtendedHandshake::parse(payload).unwrap();
        assert_eq!(ours.id_of("ut_pex"), Some(UT_PEX));
        let one = Pex {
            added: vec!["10.0.0.2:6881".parse().unwrap()],
            dropped: Vec::new(),
        };
        assert!(!s.send_pex(&one), "the peer has not offered ut_pex");
        let theirs = ExtendedHandshake {
            extensions: [("ut_pex".to_owned(), 9)].into(),
            port: Some(7000),
            ..Default::default()
        };
        let handshake = Message::Extended {
            id: 0,
            payload: theirs.encode(),
        };
        s.receive(handshake, now).unwrap();
        assert_eq!(s.peer_port(), Some(7000));
        let pex = |pex: &Pex| Message::Extended {
            id: UT_PEX,
            payload: pex.encode(),
        };
        s.receive(pex(&one), now).unwrap();
        assert_eq!(s.take_pex(), one.added);
        let two = Pex {
            added: vec!["10.0.0.3:6881".parse().unwrap()],
            dropped: Vec::new(),
        };
        s.receive(pex(&two), now + Duration::from_secs(1)).unwrap();
        assert!(
            s.take_pex().is_empty(),
            "a second message within the gap is ignored"
        );
        s.receive(pex(&two), now + MIN_PEX_GAP).unwrap();
        assert_eq!(s.take_pex(), two.added);
        assert!(s.send_pex(&one));
        assert!(matches!(
            drain(&mut s).last(),
            Some(Message::Extended { id: 9, .. })
        ));

        // BEP 27: a private torrent neither offers nor reads PEX.
        let mut private = (*params()).clone();
        private.pex = false;
        let mut s = Session::new(Arc::new(private), FAST, now);
        let sent = drain(&mut s);
        let Message::Extended { id: 0, payload } = &sent[0] else {
            panic!("{sent:?}");
        };
        assert_eq!(
            ExtendedHandshake::parse(payload).unwrap().id_of("ut_pex"),
            None
        );
        s.receive(pex(&one), now).unwrap();
        assert!(s.take_pex().is_empty());
    }

    #[test]
    fn completion_counts_announced_pieces_and_pieces_sent_whole() {
        let (mut s, now) = unchoked(FAST);
        s.receive(Message::Have(0), now).unwrap();
        // Sent before it was announced, and half of piece 2.
        s.served(block(1, 0, 16384));
        s.served(block(1, 16384, 16384));
        s.receive(Message::Have(1), now).unwrap();
        s.served(block(2, 0, 5));
        assert!(!s.peer_complete(), "half of the last piece is missing");
        s.served(block(2, 5, 5));
        assert!(s.peer_complete(), "closing now is a finished download");
    }

    #[test]
    fn protocol_violations_close() {
        let now = Instant::now();
        let mut s = Session::new(params(), PLAIN, now);
        assert!(matches!(
            s.receive(Message::HaveAll, now),
            Err(Close::Invalid(_))
        ));
        assert!(matches!(
            s.receive(Message::Have(3), now),
            Err(Close::Invalid(_))
        ));
        assert!(matches!(
            s.receive(Message::Bitfield(vec![0, 0]), now),
            Err(Close::Invalid(_))
        ));
        assert!(matches!(
            s.receive(
                Message::Extended {
                    id: 0,
                    payload: vec![]
                },
                now
            ),
            Err(Close::Invalid(_))
        ));
        s.receive(Message::Unknown { id: 99, length: 5 }, now)
            .unwrap();
    }

    #[test]
    fn serves_metadata_on_the_peers_id_and_rejects_out_of_range() {
        let now = Instant::now();
        let mut s = Session::new(params(), FAST, now);
        drain(&mut s);
        let request = |piece| Message::Extended {
            id: UT_METADATA,
            payload: Metadata::Request { piece }.encode(),
        };
        // Before the peer's handshake we do not know its id: nothing sent.
        s.receive(request(0), now).unwrap();
        assert!(drain(&mut s).is_empty());
        let theirs = ExtendedHandshake {
            extensions: [("ut_metadata".to_owned(), 7)].into(),
            ..Default::default()
        };
        s.receive(
            Message::Extended {
                id: 0,
                payload: theirs.encode(),
            },
            now,
        )
        .unwrap();
        for piece in [0, 1, 2] {
            s.receive(request(piece), now).unwrap();
        }
        let replies: Vec<Metadata> = drain(&mut s)
            .into_iter()
            .map(|m| match m {
                Message::Extended { id: 7, payload } => Metadata::parse(&payload).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            matches!(&replies[0], Metadata::Data { data, total_size: 20_000, .. } if data.len() == 16384)
        );
        assert!(matches!(&replies[1], Metadata::Data { data, .. } if data.len() == 20_000 - 16384));
        assert_eq!(replies[2], Metadata::Reject { piece: 2 });
    }

    #[test]
    fn v2_pieces_restart_at_every_file() {
        // 40 KiB, empty, 10 bytes, 32 KiB in 16 KiB pieces.
        let p = Pieces::v2(16 * 1024, [40 * 1024, 0, 10, 32 * 1024]);
        assert_eq!(p.count(), 3 + 1 + 2);
        assert_eq!(p.total_length, 72 * 1024 + 10);
        assert_eq!(p.span(0), Some((0, 16 * 1024)));
        assert_eq!(p.span(2), Some((32 * 1024, 8 * 1024)));
        assert_eq!(p.span(3), Some((40 * 1024, 10)));
        assert_eq!(p.span(4), Some((40 * 1024 + 10, 16 * 1024)));
        assert_eq!(p.span(5), Some((56 * 1024 + 10, 16 * 1024)));
        assert_eq!(p.span(6), None);
        assert!(p.is_valid(block(2, 0, 8 * 1024)));
        assert!(p.is_valid(block(2, 0, 16 * 1024)), "padded to its block");
        assert!(!p.is_valid(block(2, 1, 16 * 1024)));
        assert!(p.is_valid(block(3, 0, 10)));
        // To the end of the block, into the file's implicit padding.
        assert!(p.is_valid(block(3, 0, 16 * 1024)));
        assert!(!p.is_valid(block(3, 1, 16 * 1024)));
        assert_eq!(p.request_size(2), Some(16 * 1024));
        assert_eq!(Pieces::v2(16 * 1024, [0, 0]).count(), 0);
    }

    fn hashes_params() -> (Arc<Params>, FileTree) {
        let layer: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        let tree = FileTree::from_piece_layer(&layer, 32 * 1024).unwrap();
        let mut params = (*params()).clone();
        params.trees = Arc::new([(tree.root(), tree.clone())].into());
        (Arc::new(params), tree)
    }

    #[test]
    fn hash_requests_are_answered_from_the_tree_or_rejected() {
        let (params, tree) = hashes_params();
        let now = Instant::now();
        // Choked and without fast: BEP 52 still answers.
        let mut s = Session::new(params, PLAIN, now);
        drain(&mut s);
        let good = HashRequest {
            pieces_root: tree.root(),
            base_layer: 1,
            index: 0,
            length: 8,
            proof_layers: 2,
        };
        let bad = [
            HashRequest {
                pieces_root: [9; 32],
                ..good
            },
            HashRequest { length: 3, ..good },
            HashRequest { index: 8, ..good },
            HashRequest {
                length: 1024,
                index: 0,
                ..good
            },
            HashRequest {
                base_layer: 0,
                ..good
            },
            HashRequest {
                proof_layers: 3,
                ..good
            },
        ];
        s.receive(Message::HashRequest(good), now).unwrap();
        for request in bad {
            s.receive(Message::HashRequest(request), now).unwrap();
        }
        let mut expected = vec![Message::Hashes {
            request: good,
            hashes: tree.hashes(1, 0, 8, 2).unwrap(),
        }];
        expected.extend(bad.into_iter().map(Message::HashReject));
        assert_eq!(drain(&mut s), expected);
        // Replies to hashes we never asked for are ignored.
        s.receive(Message::HashReject(good), now).unwrap();
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn hash_replies_waiting_are_capped() {
        let (params, tree) = hashes_params();
        let now = Instant::now();
        let mut s = Session::new(params, FAST, now);
        drain(&mut s);
        let request = HashRequest {
            pieces_root: tree.root(),
            base_layer: 1,
            index: 0,
            length: 2,
            proof_layers: 0,
        };
        for _ in 0..=MAX_HASHES_PENDING {
            s.receive(Message::HashRequest(request), now).unwrap();
        }
        let sent = drain(&mut s);
        assert!(sent[..MAX_HASHES_PENDING]
            .iter()
            .all(|m| matches!(m, Message::Hashes { .. })));
        assert_eq!(sent[MAX_HASHES_PENDING], Message::HashReject(request));
        // Once sent, there is room again.
        s.receive(Message::HashRequest(request), now).unwrap();
        assert!(matches!(drain(&mut s)[..], [Message::Hashes { .. }]));
    }
}
