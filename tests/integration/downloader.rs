//! A minimal downloader built from our own peer-wire codecs, for tests of
//! the seeder and of `publish`: handshake, BEP 9 metadata, pipelined blocks,
//! and for v2-only torrents BEP 52 piece-layer hashes checked up to each
//! file's pieces root, then every piece checked against them.

use std::time::Duration;

use mktorrent_rs::metainfo::Info;
use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::message::{self, Block, HashRequest, Message, Metadata};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the seeder may take to answer anything.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A minimal downloader speaking our codec.
pub struct Peer {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Peer {
    pub async fn handshake(
        stream: TcpStream,
        info_hash: [u8; 20],
        reserved: Reserved,
    ) -> (Self, Handshake) {
        let mut peer = Self {
            stream,
            buf: Vec::new(),
        };
        let ours = Handshake {
            reserved,
            info_hash,
            peer_id: *b"-TEST00-downloader00",
        };
        peer.stream.write_all(&ours.encode()).await.unwrap();
        loop {
            if let Some(theirs) = handshake::decode(&peer.buf).unwrap() {
                peer.buf.drain(..handshake::LEN);
                return (peer, theirs);
            }
            peer.fill().await.expect("handshake answered");
        }
    }

    /// Reads more bytes; `None` when the seeder closed the connection.
    pub async fn fill(&mut self) -> Option<()> {
        let n = tokio::time::timeout(LIMIT, self.stream.read_buf(&mut self.buf))
            .await
            .expect("seeder answers in time")
            .ok()?;
        (n > 0).then_some(())
    }

    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some((m, used)) = message::decode(&self.buf).unwrap() {
                self.buf.drain(..used);
                return Some(m);
            }
            self.fill().await?;
        }
    }

    pub async fn send(&mut self, m: Message) {
        self.stream.write_all(&m.to_bytes()).await.unwrap();
    }

    /// Receives until `pick` returns a value; panics on close.
    pub async fn until<T>(&mut self, mut pick: impl FnMut(&Message) -> Option<T>) -> T {
        loop {
            let m = self.recv().await.expect("connection stays open");
            if let Some(t) = pick(&m) {
                return t;
            }
        }
    }

    /// Interested → unchoke → every block of the torrent, pipelined.
    pub async fn download(&mut self, total: u64, piece_length: u64) -> Vec<u8> {
        self.send(Message::Interested).await;
        self.until(|m| (*m == Message::Unchoke).then_some(())).await;
        let mut blocks = Vec::new();
        let mut offset = 0;
        while offset < total {
            let index = (offset / piece_length) as u32;
            let begin = (offset % piece_length) as u32;
            let piece_end = ((u64::from(index) + 1) * piece_length).min(total);
            let length = (piece_end - offset).min(16 * 1024) as u32;
            blocks.push(Block {
                index,
                begin,
                length,
            });
            offset += u64::from(length);
        }
        for b in &blocks {
            self.send(Message::Request(*b)).await;
        }
        let mut data = vec![0u8; total as usize];
        for _ in &blocks {
            let (index, begin, bytes) = self
                .until(|m| match m {
                    Message::Piece { index, begin, data } => Some((*index, *begin, data.clone())),
                    Message::Reject(b) => panic!("rejected {b:?}"),
                    _ => None,
                })
                .await;
            let at = (u64::from(index) * piece_length + u64::from(begin)) as usize;
            data[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        data
    }

    /// Asks for the piece layer of a file longer than one piece, two hashes
    /// at a time with every proof layer, and checks each reply climbs with
    /// its uncles to `pieces_root` (computed here from BEP 52's wording,
    /// not with the crate's merkle code).
    pub async fn piece_layer(
        &mut self,
        pieces_root: [u8; 32],
        file_length: u64,
        piece_length: u64,
    ) -> Vec<[u8; 32]> {
        let pieces = file_length.div_ceil(piece_length);
        let base = (piece_length / BLOCK).trailing_zeros();
        let height = file_length
            .div_ceil(BLOCK)
            .next_power_of_two()
            .trailing_zeros();
        let width = u32::try_from(pieces.next_power_of_two()).unwrap();
        let mut layer = Vec::new();
        for index in (0..width).step_by(2) {
            let request = HashRequest {
                pieces_root,
                base_layer: base,
                index,
                length: 2,
                proof_layers: height - base - 1,
            };
            self.send(Message::HashRequest(request)).await;
            let hashes = self
                .until(|m| match m {
                    Message::Hashes { request: r, hashes } if *r == request => Some(hashes.clone()),
                    Message::HashReject(r) => panic!("hash request rejected: {r:?}"),
                    _ => None,
                })
                .await;
            // Two base hashes, then one uncle per layer from their parent's.
            assert_eq!(hashes.len() as u32, 2 + height - base - 1);
            let mut node = pair(&hashes[0], &hashes[1]);
            let mut at = index / 2;
            for uncle in &hashes[2..] {
                node = if at % 2 == 0 {
                    pair(&node, uncle)
                } else {
                    pair(uncle, &node)
                };
                at /= 2;
            }
            assert_eq!(node, pieces_root, "hashes {index}.. climb to the root");
            layer.extend_from_slice(&hashes[..2]);
        }
        layer.truncate(pieces as usize);
        layer
    }

    /// BEP 52: every piece of a v2-only torrent, file after file (each file
    /// starts a piece), each checked against its piece layer hash or, for a
    /// file of one piece, its pieces root. The files' bytes end to end.
    pub async fn download_v2(&mut self, info: &Info) -> Vec<u8> {
        let piece_length = info.piece_length;
        let mut expected = Vec::new();
        for file in info.file_tree.iter().filter(|f| f.length > 0) {
            let root = file.pieces_root.expect("pieces root");
            if file.length > piece_length {
                let layer = self.piece_layer(root, file.length, piece_length).await;
                expected.extend(layer.into_iter().map(|h| (h, piece_length / BLOCK)));
            } else {
                expected.push((root, file.length.div_ceil(BLOCK).next_power_of_two()));
            }
        }
        self.send(Message::Interested).await;
        self.until(|m| (*m == Message::Unchoke).then_some(())).await;
        // (piece index, where it starts in the content, its size)
        let mut pieces = Vec::new();
        let mut offset = 0;
        for file in &info.file_tree {
            let mut at = 0;
            while at < file.length {
                let size = piece_length.min(file.length - at);
                pieces.push((pieces.len() as u32, offset + at, size));
                at += size;
            }
            offset += file.length;
        }
        assert_eq!(pieces.len(), expected.len());
        let mut requests = Vec::new();
        for &(index, _, size) in &pieces {
            for begin in (0..size).step_by(BLOCK as usize) {
                requests.push(Block {
                    index,
                    begin: begin as u32,
                    length: (size - begin).min(BLOCK) as u32,
                });
            }
        }
        for b in &requests {
            self.send(Message::Request(*b)).await;
        }
        let mut data = vec![0u8; offset as usize];
        for _ in &requests {
            let (index, begin, bytes) = self
                .until(|m| match m {
                    Message::Piece { index, begin, data } => Some((*index, *begin, data.clone())),
                    Message::Reject(b) => panic!("rejected {b:?}"),
                    _ => None,
                })
                .await;
            let at = (pieces[index as usize].1 + u64::from(begin)) as usize;
            data[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        for (&(index, start, size), &(want, width)) in pieces.iter().zip(&expected) {
            let piece = &data[start as usize..(start + size) as usize];
            let mut nodes: Vec<[u8; 32]> = piece
                .chunks(BLOCK as usize)
                .map(|b| Sha256::digest(b).into())
                .collect();
            nodes.resize(width as usize, [0; 32]);
            while nodes.len() > 1 {
                nodes = nodes.chunks(2).map(|p| pair(&p[0], &p[1])).collect();
            }
            assert_eq!(nodes[0], want, "piece {index} matches its v2 hash");
        }
        data
    }

    /// BEP 9: the whole info dictionary, piece by piece.
    pub async fn metadata(&mut self, their_id: u8, size: usize) -> Vec<u8> {
        let mut info = Vec::new();
        for piece in 0..size.div_ceil(message::METADATA_PIECE) as u32 {
            self.send(Message::Extended {
                id: their_id,
                payload: Metadata::Request { piece }.encode(),
            })
            .await;
            let data = self
                .until(|m| match m {
                    Message::Extended { id: 2, payload } => match Metadata::parse(payload).unwrap()
                    {
                        Metadata::Data {
                            data, total_size, ..
                        } => {
                            assert_eq!(total_size, size as u64);
                            Some(data)
                        }
                        other => panic!("{other:?}"),
                    },
                    _ => None,
                })
                .await;
            info.extend(data);
        }
        info
    }
}

/// The BEP 52 leaf size.
const BLOCK: u64 = 16 * 1024;

fn pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

pub fn fast_ext() -> Reserved {
    Reserved::default()
        .with(Reserved::FAST)
        .with(Reserved::EXTENSION)
}

/// What [`fetch`] got: the info dictionary and the content (v1 view).
pub struct Fetched {
    pub info: Vec<u8>,
    pub data: Vec<u8>,
}

/// Connects to a seeder at `addr`, fetches the info dictionary over BEP 9
/// (checking it hashes to `info_hash`: SHA-1, or for a v2-only torrent
/// truncated SHA-256), downloads every piece (v2-only: by BEP 52, checked
/// against the piece layers), then says it has them all so the seeder
/// counts a completed download.
pub async fn fetch(addr: std::net::SocketAddr, info_hash: [u8; 20]) -> Fetched {
    use mktorrent_rs::metainfo::Torrent;
    use mktorrent_rs::peer::message::ExtendedHandshake;
    use sha1::{Digest, Sha1};

    let stream = tokio::time::timeout(LIMIT, TcpStream::connect(addr))
        .await
        .expect("connects in time")
        .expect("seeder listens");
    let (mut peer, theirs) = Peer::handshake(stream, info_hash, fast_ext()).await;
    assert_eq!(theirs.info_hash, info_hash);
    let ext = peer
        .until(|m| match m {
            Message::Extended { id: 0, payload } => {
                Some(ExtendedHandshake::parse(payload).unwrap())
            }
            _ => None,
        })
        .await;
    let ours = ExtendedHandshake {
        extensions: [("ut_metadata".to_owned(), 2)].into(),
        ..Default::default()
    };
    peer.send(Message::Extended {
        id: 0,
        payload: ours.encode(),
    })
    .await;
    let size = usize::try_from(ext.metadata_size.expect("metadata_size")).unwrap();
    let info = peer
        .metadata(ext.id_of("ut_metadata").expect("ut_metadata"), size)
        .await;
    let torrent = Torrent::parse(&[b"d4:info".as_slice(), &info, b"e"].concat()).unwrap();
    let v2_only = !torrent.meta.info.version.has_v1();
    let hash: [u8; 20] = if v2_only {
        Sha256::digest(&info)[..20].try_into().unwrap()
    } else {
        Sha1::digest(&info).into()
    };
    assert_eq!(hash, info_hash, "metadata hash");
    let total = torrent.meta.info.total_length();
    let piece_length = torrent.meta.info.piece_length;
    let (data, count) = if v2_only {
        let info = &torrent.meta.info;
        let count: u64 = info
            .file_tree
            .iter()
            .map(|f| f.length.div_ceil(piece_length))
            .sum();
        (peer.download_v2(info).await, count)
    } else {
        (
            peer.download(total, piece_length).await,
            total.div_ceil(piece_length),
        )
    };
    for index in 0..count {
        peer.send(Message::Have(u32::try_from(index).unwrap()))
            .await;
    }
    // A seed talking to a seed: the seeder hangs up.
    while peer.recv().await.is_some() {}
    Fetched { info, data }
}
