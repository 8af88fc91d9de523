//! A minimal downloader built from our own peer-wire codecs, for tests of
//! the seeder and of `publish`: handshake, BEP 9 metadata, pipelined blocks.

use std::time::Duration;

use mktorrent_rs::peer::handshake::{self, Handshake, Reserved};
use mktorrent_rs::peer::message::{self, Block, Message, Metadata};
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
/// (checking it hashes to `info_hash`), downloads every piece, then says it
/// has them all so the seeder counts a completed download.
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
    assert_eq!(
        <[u8; 20]>::from(Sha1::digest(&info)),
        info_hash,
        "metadata hash"
    );
    let torrent = Torrent::parse(&[b"d4:info".as_slice(), &info, b"e"].concat()).unwrap();
    let total = torrent.meta.info.total_length();
    let piece_length = torrent.meta.info.piece_length;
    let data = peer.download(total, piece_length).await;
    for index in 0..total.div_ceil(piece_length) {
        peer.send(Message::Have(u32::try_from(index).unwrap()))
            .await;
    }
    // A seed talking to a seed: the seeder hangs up.
    while peer.recv().await.is_some() {}
    Fetched { info, data }
}
