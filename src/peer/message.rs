//! Peer wire messages after the handshake: BEP 3 core messages, BEP 6 fast
//! extension, BEP 10 extended messages (with the extended handshake) and
//! BEP 9 `ut_metadata`, and the BEP 52 merkle hash messages. Pure: bytes
//! in, values out; no I/O.
//!
//! Every message is framed as `<u32 big-endian length><u8 id><payload>`;
//! length 0 is a keep-alive. [`decode`] answers "need more bytes"
//! (`Ok(None)`) or "invalid" (`Err`, the caller closes the connection);
//! a frame longer than [`MAX_FRAME`] is invalid before its body arrives, so
//! a peer cannot make us buffer without bound.

use std::collections::BTreeMap;

use crate::bencode::{self, Bencode};

/// The largest block we serve or accept (BEP 3 convention, 16 KiB).
pub const MAX_BLOCK: u32 = 16 * 1024;
/// The largest frame accepted: a bitfield of 8 M pieces, or a piece
/// message of the largest block plus its header, whichever is larger.
pub const MAX_FRAME: u32 = 1024 * 1024 + 1;
/// BEP 9 metadata is sent in pieces of 16 KiB.
pub const METADATA_PIECE: usize = 16 * 1024;

/// The fields shared by BEP 52 `hash request`, `hashes` and `hash reject`:
/// `<32 pieces root><u32 base layer><u32 index><u32 length><u32 proof layers>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// The file's merkle root (its `pieces root`).
    pub pieces_root: [u8; 32],
    /// Layers above the leaves (16 KiB blocks) of the first hash asked for.
    pub base_layer: u32,
    /// Offset, in hashes, of the first hash in the base layer.
    pub index: u32,
    /// How many base-layer hashes.
    pub length: u32,
    /// How many ancestor layers to prove up towards the root.
    pub proof_layers: u32,
}

/// Bytes of a [`HashRequest`] on the wire.
const HASH_REQUEST_LEN: usize = 32 + 16;

impl HashRequest {
    fn encode(&self) -> [u8; HASH_REQUEST_LEN] {
        let mut out = [0u8; HASH_REQUEST_LEN];
        out[..32].copy_from_slice(&self.pieces_root);
        for (at, word) in [self.base_layer, self.index, self.length, self.proof_layers]
            .iter()
            .enumerate()
        {
            out[32 + 4 * at..36 + 4 * at].copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Reads the first 48 bytes; the caller checked the length.
    fn decode(body: &[u8]) -> Self {
        let mut pieces_root = [0u8; 32];
        pieces_root.copy_from_slice(&body[..32]);
        Self {
            pieces_root,
            base_layer: u32_at(body, 32),
            index: u32_at(body, 36),
            length: u32_at(body, 40),
            proof_layers: u32_at(body, 44),
        }
    }
}

/// A block: `(piece index, offset within the piece, length)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    /// id 0
    Choke,
    /// id 1
    Unchoke,
    /// id 2
    Interested,
    /// id 3
    NotInterested,
    /// id 4: `<u32 index>`
    Have(u32),
    /// id 5: one bit per piece, high bit of byte 0 is piece 0.
    Bitfield(Vec<u8>),
    /// id 6: `<u32 index><u32 begin><u32 length>`
    Request(Block),
    /// id 7: `<u32 index><u32 begin><block bytes>`
    Piece {
        index: u32,
        begin: u32,
        data: Vec<u8>,
    },
    /// id 8: like request
    Cancel(Block),
    /// id 9: `<u16 DHT port>` (BEP 5)
    Port(u16),
    /// id 0x0D: `<u32 index>` (BEP 6)
    Suggest(u32),
    /// id 0x0E (BEP 6)
    HaveAll,
    /// id 0x0F (BEP 6)
    HaveNone,
    /// id 0x10: like request (BEP 6)
    Reject(Block),
    /// id 0x11: `<u32 index>` (BEP 6)
    AllowedFast(u32),
    /// id 20: `<u8 extended id><payload>` (BEP 10); id 0 is the handshake.
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
    /// id 21 (BEP 52): asks for merkle hashes of one file.
    HashRequest(HashRequest),
    /// id 22 (BEP 52): the request's fields, then the base-layer hashes
    /// followed by the uncle hashes, lowest first.
    Hashes {
        request: HashRequest,
        hashes: Vec<[u8; 32]>,
    },
    /// id 23 (BEP 52): the request's fields; it will not be answered.
    HashReject(HashRequest),
    /// Any other id: skipped, as BEP 3 asks.
    Unknown {
        id: u8,
        length: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("frame of {0} bytes is longer than the {MAX_FRAME}-byte limit")]
    FrameTooLong(u32),
    #[error("message id {id} with a {length}-byte frame has the wrong length")]
    BadLength { id: u8, length: u32 },
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(word)
}

fn block_at(body: &[u8]) -> Block {
    Block {
        index: u32_at(body, 0),
        begin: u32_at(body, 4),
        length: u32_at(body, 8),
    }
}

/// Decodes one message from the start of `buf`: `Ok(Some((message,
/// consumed)))`, `Ok(None)` when more bytes are needed, `Err` when the
/// stream is invalid and the connection should be closed.
pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, MessageError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let length = u32_at(prefix, 0);
    if length > MAX_FRAME {
        return Err(MessageError::FrameTooLong(length));
    }
    let total = 4 + length as usize;
    let Some(frame) = buf.get(4..total) else {
        return Ok(None);
    };
    let Some((&id, body)) = frame.split_first() else {
        return Ok(Some((Message::KeepAlive, 4)));
    };
    let exact = |n: usize| {
        if body.len() == n {
            Ok(())
        } else {
            Err(MessageError::BadLength { id, length })
        }
    };
    let message = match id {
        0 | 1 | 2 | 3 | 0x0E | 0x0F => {
            exact(0)?;
            match id {
                0 => Message::Choke,
                1 => Message::Unchoke,
                2 => Message::Interested,
                3 => Message::NotInterested,
                0x0E => Message::HaveAll,
                _ => Message::HaveNone,
            }
        }
        4 | 0x0D | 0x11 => {
            exact(4)?;
            let index = u32_at(body, 0);
            match id {
                4 => Message::Have(index),
                0x0D => Message::Suggest(index),
                _ => Message::AllowedFast(index),
            }
        }
        5 => Message::Bitfield(body.to_vec()),
        6 | 8 | 0x10 => {
            exact(12)?;
            let block = block_at(body);
            match id {
                6 => Message::Request(block),
                8 => Message::Cancel(block),
                _ => Message::Reject(block),
            }
        }
        7 => {
            if body.len() < 8 {
                return Err(MessageError::BadLength { id, length });
            }
            Message::Piece {
                index: u32_at(body, 0),
                begin: u32_at(body, 4),
                data: body[8..].to_vec(),
            }
        }
        9 => {
            exact(2)?;
            Message::Port(u16::from_be_bytes([body[0], body[1]]))
        }
        20 => match body.split_first() {
            Some((&ext, payload)) => Message::Extended {
                id: ext,
                payload: payload.to_vec(),
            },
            None => return Err(MessageError::BadLength { id, length }),
        },
        21 | 23 => {
            exact(HASH_REQUEST_LEN)?;
            let request = HashRequest::decode(body);
            if id == 21 {
                Message::HashRequest(request)
            } else {
                Message::HashReject(request)
            }
        }
        22 => {
            let hashes = body.get(HASH_REQUEST_LEN..).unwrap_or_default();
            if body.len() < HASH_REQUEST_LEN || hashes.len() % 32 != 0 {
                return Err(MessageError::BadLength { id, length });
            }
            Message::Hashes {
                request: HashRequest::decode(body),
                hashes: hashes
                    .chunks_exact(32)
                    .map(|h| {
                        let mut hash = [0u8; 32];
                        hash.copy_from_slice(h);
                        hash
                    })
                    .collect(),
            }
        }
        _ => Message::Unknown { id, length },
    };
    Ok(Some((message, total)))
}

/// The 13-byte header of a piece message carrying `length` bytes, so the
/// block can be written from its own buffer without copying.
pub fn piece_header(index: u32, begin: u32, length: u32) -> [u8; 13] {
    let mut out = [0u8; 13];
    out[..4].copy_from_slice(&(9 + length).to_be_bytes());
    out[4] = 7;
    out[5..9].copy_from_slice(&index.to_be_bytes());
    out[9..13].copy_from_slice(&begin.to_be_bytes());
    out
}

impl Message {
    /// Appends the framed message to `out`. `Unknown` is never sent and
    /// encodes as nothing.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let frame = |out: &mut Vec<u8>, id: u8, body: &[&[u8]]| {
            let len = 1 + body.iter().map(|b| b.len()).sum::<usize>();
            // Messages we build are far below 4 GiB.
            out.extend_from_slice(&(len as u32).to_be_bytes());
            out.push(id);
            for part in body {
                out.extend_from_slice(part);
            }
        };
        let block = |b: &Block| {
            let mut bytes = [0u8; 12];
            bytes[..4].copy_from_slice(&b.index.to_be_bytes());
            bytes[4..8].copy_from_slice(&b.begin.to_be_bytes());
            bytes[8..].copy_from_slice(&b.length.to_be_bytes());
            bytes
        };
        match self {
            Self::KeepAlive => out.extend_from_slice(&[0; 4]),
            Self::Choke => frame(out, 0, &[]),
            Self::Unchoke => frame(out, 1, &[]),
            Self::Interested => frame(out, 2, &[]),
            Self::NotInterested => frame(out, 3, &[]),
            Self::Have(i) => frame(out, 4, &[&i.to_be_bytes()]),
            Self::Bitfield(bits) => frame(out, 5, &[bits]),
            Self::Request(b) => frame(out, 6, &[&block(b)]),
            Self::Piece { index, begin, data } => {
                out.extend_from_slice(&piece_header(*index, *begin, data.len() as u32));
                out.extend_from_slice(data);
            }
            Self::Cancel(b) => frame(out, 8, &[&block(b)]),
            Self::Port(p) => frame(out, 9, &[&p.to_be_bytes()]),
            Self::Suggest(i) => frame(out, 0x0D, &[&i.to_be_bytes()]),
            Self::HaveAll => frame(out, 0x0E, &[]),
            Self::HaveNone => frame(out, 0x0F, &[]),
            Self::Reject(b) => frame(out, 0x10, &[&block(b)]),
            Self::AllowedFast(i) => frame(out, 0x11, &[&i.to_be_bytes()]),
            Self::Extended { id, payload } => frame(out, 20, &[&[*id], payload]),
            Self::HashRequest(r) => frame(out, 21, &[&r.encode()]),
            Self::Hashes { request, hashes } => {
                let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + hashes.len());
                let head = request.encode();
                parts.push(&head);
                parts.extend(hashes.iter().map(|h| &h[..]));
                frame(out, 22, &parts);
            }
            Self::HashReject(r) => frame(out, 23, &[&r.encode()]),
            Self::Unknown { .. } => {}
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A bitfield with every one of `pieces` bits set (spare bits clear, as
/// BEP 3 requires).
pub fn full_bitfield(pieces: usize) -> Vec<u8> {
    let mut bits = vec![0xFF; pieces.div_ceil(8)];
    if let Some(last) = bits.last_mut() {
        let spare = bits_len_spare(pieces);
        *last <<= spare;
    }
    bits
}

fn bits_len_spare(pieces: usize) -> u32 {
    ((8 - pieces % 8) % 8) as u32
}

/// How many of the first `pieces` bits are set.
pub fn count_bits(bits: &[u8], pieces: usize) -> usize {
    (0..pieces)
        .filter(|&i| bits.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0))
        .count()
}

/// Our extended message id for `ut_metadata` (what peers send us).
pub const UT_METADATA: u8 = 1;

/// The BEP 10 extended handshake (extended message id 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedHandshake {
    /// `m`: extension name → the id the sender wants to receive it on;
    /// 0 means disabled.
    pub extensions: BTreeMap<String, u8>,
    /// BEP 9 `metadata_size`: length of the info dictionary.
    pub metadata_size: Option<u64>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `reqq`: how many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// `p`: the sender's listen port.
    pub port: Option<u16>,
    /// BEP 21 `upload_only`: the sender is a seed (or will not download).
    pub upload_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("extended payload is not bencode: {0}")]
    Bencode(#[from] bencode::DecodeError),
    #[error("extended payload is a {0}, not a dictionary")]
    NotADictionary(&'static str),
    #[error("ut_metadata message lacks {0}")]
    Missing(&'static str),
    #[error("ut_metadata msg_type {0} is unknown")]
    UnknownType(i64),
}

impl ExtendedHandshake {
    pub fn encode(&self) -> Vec<u8> {
        let mut map = BTreeMap::new();
        let m = self
            .extensions
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), Bencode::Int(i64::from(*v))))
            .collect();
        map.insert(b"m".to_vec(), Bencode::Dict(m));
        if let Some(size) = self.metadata_size {
            map.insert(
                b"metadata_size".to_vec(),
                Bencode::Int(i64::try_from(size).unwrap_or(i64::MAX)),
            );
        }
        if let Some(v) = &self.client {
            map.insert(b"v".to_vec(), v.as_str().into());
        }
        if let Some(reqq) = self.reqq {
            map.insert(b"reqq".to_vec(), Bencode::Int(i64::from(reqq)));
        }
        if let Some(p) = self.port {
            map.insert(b"p".to_vec(), Bencode::Int(i64::from(p)));
        }
        if self.upload_only {
            map.insert(b"upload_only".to_vec(), Bencode::Int(1));
        }
        Bencode::Dict(map).encode()
    }

    /// Parses leniently: unknown keys and ill-typed optional values are
    /// ignored, as BEP 10 asks; only a non-dictionary is an error.
    pub fn parse(payload: &[u8]) -> Result<Self, ExtensionError> {
        let value = bencode::decode(payload)?;
        if value.as_dict().is_none() {
            return Err(ExtensionError::NotADictionary(value.type_name()));
        }
        let int = |key: &[u8]| value.get(key).and_then(|v| v.as_int());
        let extensions = value
            .get(b"m")
            .and_then(|m| m.as_dict())
            .unwrap_or(&[])
            .iter()
            .filter_map(|(k, v)| {
                let name = std::str::from_utf8(k).ok()?;
                let id = u8::try_from(v.as_int()?).ok()?;
                Some((name.to_owned(), id))
            })
            .collect();
        Ok(Self {
            extensions,
            metadata_size: int(b"metadata_size").and_then(|n| u64::try_from(n).ok()),
            client: value.get(b"v").and_then(|v| v.as_str()).map(str::to_owned),
            reqq: int(b"reqq").and_then(|n| u32::try_from(n).ok()),
            port: int(b"p").and_then(|n| u16::try_from(n).ok()),
            upload_only: int(b"upload_only").is_some_and(|n| n != 0),
        })
    }

    /// The id the sender wants `name` messages on, unless disabled.
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.extensions.get(name).copied().filter(|&id| id != 0)
    }
}

/// A BEP 9 `ut_metadata` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metadata {
    /// msg_type 0
    Request { piece: u32 },
    /// msg_type 1: the dictionary is followed by the raw piece bytes.
    Data {
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
    },
    /// msg_type 2
    Reject { piece: u32 },
}

impl Metadata {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, piece) = match self {
            Self::Request { piece } => (0, piece),
            Self::Data { piece, .. } => (1, piece),
            Self::Reject { piece } => (2, piece),
        };
        let mut map = BTreeMap::new();
        map.insert(b"msg_type".to_vec(), Bencode::Int(kind));
        map.insert(b"piece".to_vec(), Bencode::Int(i64::from(*piece)));
        if let Self::Data { total_size, .. } = self {
            map.insert(
                b"total_size".to_vec(),
                Bencode::Int(i64::try_from(*total_size).unwrap_or(i64::MAX)),
            );
        }
        let mut out = Bencode::Dict(map).encode();
        if let Self::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }

    pub fn parse(payload: &[u8]) -> Result<Self, ExtensionError> {
        let (value, end) = bencode::decode_prefix(payload)?;
        if value.as_dict().is_none() {
            return Err(ExtensionError::NotADictionary(value.type_name()));
        }
        let int = |key: &'static str| {
            value
                .get(key.as_bytes())
                .and_then(|v| v.as_int())
                .ok_or(ExtensionError::Missing(key))
        };
        let kind = int("msg_type")?;
        let piece = u32::try_from(int("piece")?).map_err(|_| ExtensionError::Missing("piece"))?;
        match kind {
            0 => Ok(Self::Request { piece }),
            1 => Ok(Self::Data {
                piece,
                total_size: u64::try_from(int("total_size")?)
                    .map_err(|_| ExtensionError::Missing("total_size"))?,
                data: payload[end..].to_vec(),
            }),
            2 => Ok(Self::Reject { piece }),
            other => Err(ExtensionError::UnknownType(other)),
        }
    }
}

/// The reply to a metadata request for `piece` of `info` (the exact raw
/// info dictionary): the slice in 16 KiB pieces, or a reject when out of
/// range.
pub fn metadata_reply(info: &[u8], piece: u32) -> Metadata {
    let start = piece as usize * METADATA_PIECE;
    if start >= info.len() {
        return Metadata::Reject { piece };
    }
    let end = (start + METADATA_PIECE).min(info.len());
    Metadata::Data {
        piece,
        total_size: info.len() as u64,
        data: info[start..end].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block(index: u32, begin: u32, length: u32) -> Block {
        Block {
            index,
            begin,
            length,
        }
    }

    fn round(message: &Message) -> Message {
        let bytes = message.to_bytes();
        let (decoded, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        decoded
    }

    #[test]
    fn every_message_has_its_bep_layout() {
        let cases: Vec<(Message, &[u8])> = vec![
            (Message::KeepAlive, &[0, 0, 0, 0]),
            (Message::Choke, &[0, 0, 0, 1, 0]),
            (Message::Unchoke, &[0, 0, 0, 1, 1]),
            (Message::Interested, &[0, 0, 0, 1, 2]),
            (Message::NotInterested, &[0, 0, 0, 1, 3]),
            (Message::Have(258), &[0, 0, 0, 5, 4, 0, 0, 1, 2]),
            (Message::Bitfield(vec![0xF0]), &[0, 0, 0, 2, 5, 0xF0]),
            (
                Message::Request(block(1, 2, 3)),
                &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (
                Message::Piece {
                    index: 1,
                    begin: 2,
                    data: b"ab".to_vec(),
                },
                &[0, 0, 0, 11, 7, 0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b'],
            ),
            (
                Message::Cancel(block(1, 2, 3)),
                &[0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (Message::Port(6881), &[0, 0, 0, 3, 9, 0x1A, 0xE1]),
            (Message::Suggest(1), &[0, 0, 0, 5, 0x0D, 0, 0, 0, 1]),
            (Message::HaveAll, &[0, 0, 0, 1, 0x0E]),
            (Message::HaveNone, &[0, 0, 0, 1, 0x0F]),
            (
                Message::Reject(block(1, 2, 3)),
                &[0, 0, 0, 13, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (Message::AllowedFast(9), &[0, 0, 0, 5, 0x11, 0, 0, 0, 9]),
            (
                Message::Extended {
                    id: 0,
                    payload: b"de".to_vec(),
                },
                &[0, 0, 0, 4, 20, 0, b'd', b'e'],
            ),
        ];
        for (message, bytes) in cases {
            assert_eq!(message.to_bytes(), bytes, "{message:?}");
            assert_eq!(round(&message), message);
        }
    }

    #[test]
    fn partial_frames_need_more_bytes() {
        let bytes = Message::Request(block(1, 2, 3)).to_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        // Two messages back to back: only the first is consumed.
        let mut two = Message::Choke.to_bytes();
        two.extend(Message::HaveAll.to_bytes());
        assert_eq!(decode(&two), Ok(Some((Message::Choke, 5))));
    }

    #[test]
    fn oversized_frames_are_invalid_before_the_body_arrives() {
        let huge = (MAX_FRAME + 1).to_be_bytes();
        assert_eq!(
            decode(&huge),
            Err(MessageError::FrameTooLong(MAX_FRAME + 1))
        );
        assert_eq!(
            decode(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(MessageError::FrameTooLong(u32::MAX))
        );
    }

    #[test]
    fn wrong_fixed_lengths_are_invalid() {
        for bytes in [
            &[0, 0, 0, 2, 0, 0][..],
            &[0, 0, 0, 4, 4, 0, 0, 1],
            &[0, 0, 0, 5, 6, 0, 0, 0, 1],
            &[0, 0, 0, 5, 7, 0, 0, 0, 1],
            &[0, 0, 0, 1, 20],
            &[0, 0, 0, 2, 0x0E, 0],
        ] {
            assert!(
                matches!(decode(bytes), Err(MessageError::BadLength { .. })),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn unknown_ids_are_skipped_whole() {
        let bytes = [0, 0, 0, 3, 99, 1, 2, 0, 0, 0, 1, 1];
        assert_eq!(
            decode(&bytes),
            Ok(Some((Message::Unknown { id: 99, length: 3 }, 7)))
        );
        assert_eq!(decode(&bytes[7..]), Ok(Some((Message::Unchoke, 5))));
    }

    #[test]
    fn piece_header_matches_the_encoded_message() {
        let data = vec![5u8; 100];
        let full = Message::Piece {
            index: 3,
            begin: 16384,
            data: data.clone(),
        }
        .to_bytes();
        assert_eq!(&full[..13], &piece_header(3, 16384, 100));
    }

    #[test]
    fn full_bitfield_clears_spare_bits() {
        assert_eq!(full_bitfield(1), [0x80]);
        assert_eq!(full_bitfield(8), [0xFF]);
        assert_eq!(full_bitfield(10), [0xFF, 0xC0]);
        assert_eq!(count_bits(&full_bitfield(10), 10), 10);
        assert_eq!(count_bits(&[0xFF, 0xFF], 10), 10);
        assert_eq!(count_bits(&[0x80], 10), 1);
    }

    #[test]
    fn extended_handshake_round_trips_and_is_lenient() {
        let ours = ExtendedHandshake {
            extensions: [("ut_metadata".to_owned(), UT_METADATA)].into(),
            metadata_size: Some(31337),
            client: Some("mktorrent-rs 0.1.0".to_owned()),
            reqq: Some(250),
            port: None,
            upload_only: true,
        };
        let bytes = ours.encode();
        assert_eq!(
            bytes,
            b"d1:md11:ut_metadatai1ee13:metadata_sizei31337e4:reqqi250e11:upload_onlyi1e1:v18:mktorrent-rs 0.1.0e"
        );
        assert_eq!(ExtendedHandshake::parse(&bytes).unwrap(), ours);
        assert_eq!(ours.id_of("ut_metadata"), Some(1));
        let theirs = ExtendedHandshake::parse(
            b"d1:md11:ut_metadatai3e6:ut_pexi0e5:weirdi999ee1:pi-5e4:yourli1eee",
        )
        .unwrap();
        assert_eq!(theirs.id_of("ut_metadata"), Some(3));
        assert_eq!(theirs.id_of("ut_pex"), None);
        assert_eq!(theirs.id_of("weird"), None);
        assert_eq!(theirs.port, None);
        assert!(matches!(
            ExtendedHandshake::parse(b"le"),
            Err(ExtensionError::NotADictionary("list"))
        ));
        assert!(ExtendedHandshake::parse(b"d1:m").is_err());
    }

    #[test]
    fn metadata_messages_have_the_bep9_layout() {
        let req = Metadata::Request { piece: 2 };
        assert_eq!(req.encode(), b"d8:msg_typei0e5:piecei2ee");
        let data = Metadata::Data {
            piece: 0,
            total_size: 3,
            data: b"abc".to_vec(),
        };
        assert_eq!(
            data.encode(),
            b"d8:msg_typei1e5:piecei0e10:total_sizei3eeabc"
        );
        let reject = Metadata::Reject { piece: 9 };
        assert_eq!(reject.encode(), b"d8:msg_typei2e5:piecei9ee");
        for m in [req, data, reject] {
            assert_eq!(Metadata::parse(&m.encode()).unwrap(), m);
        }
        assert_eq!(
            Metadata::parse(b"d8:msg_typei7e5:piecei0ee"),
            Err(ExtensionError::UnknownType(7))
        );
        assert_eq!(
            Metadata::parse(b"d8:msg_typei0ee"),
            Err(ExtensionError::Missing("piece"))
        );
    }

    #[test]
    fn metadata_replies_slice_the_info_in_16_kib_pieces() {
        let info: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let mut joined = Vec::new();
        for piece in 0..3 {
            match metadata_reply(&info, piece) {
                Metadata::Data {
                    piece: p,
                    total_size,
                    data,
                } => {
                    assert_eq!((p, total_size), (piece, 40_000));
                    assert!(data.len() <= METADATA_PIECE);
                    joined.extend(data);
                }
                other => panic!("piece {piece}: {other:?}"),
            }
        }
        assert_eq!(joined, info);
        assert_eq!(metadata_reply(&info, 3), Metadata::Reject { piece: 3 });
        assert_eq!(
            metadata_reply(&info, u32::MAX),
            Metadata::Reject { piece: u32::MAX }
        );
    }

    fn arb_block() -> impl Strategy<Value = Block> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| Block {
            index,
            begin,
            length,
        })
    }

    fn arb_hash_request() -> impl Strategy<Value = HashRequest> {
        (
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(pieces_root, base_layer, index, length, proof_layers)| {
                HashRequest {
                    pieces_root,
                    base_layer,
                    index,
                    length,
                    proof_layers,
                }
            })
    }

    #[test]
    fn hash_messages_have_the_bep_52_layout() {
        let request = HashRequest {
            pieces_root: [7; 32],
            base_layer: 2,
            index: 4,
            length: 2,
            proof_layers: 3,
        };
        let mut want = vec![0, 0, 0, 49, 21];
        want.extend([7; 32]);
        want.extend([0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 3]);
        assert_eq!(Message::HashRequest(request).to_bytes(), want);
        want[4] = 23;
        assert_eq!(Message::HashReject(request).to_bytes(), want);
        let hashes = Message::Hashes {
            request,
            hashes: vec![[1; 32], [2; 32]],
        };
        let bytes = hashes.to_bytes();
        assert_eq!(&bytes[..5], &[0, 0, 0, 49 + 64, 22]);
        assert_eq!(&bytes[5 + 48..5 + 80], &[1; 32]);
        assert_eq!(round(&hashes), hashes);
        // A hashes message whose hashes are not whole, or a short request.
        let mut ragged = bytes.clone();
        ragged.pop();
        ragged[3] -= 1;
        assert!(matches!(
            decode(&ragged),
            Err(MessageError::BadLength { id: 22, .. })
        ));
        let mut short = Message::HashRequest(request).to_bytes();
        short.pop();
        short[3] -= 1;
        assert!(matches!(
            decode(&short),
            Err(MessageError::BadLength { id: 21, .. })
        ));
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
        prop_oneof![
            Just(Message::KeepAlive),
            Just(Message::Choke),
            Just(Message::Unchoke),
            Just(Message::Interested),
            Just(Message::NotInterested),
            Just(Message::HaveAll),
            Just(Message::HaveNone),
            any::<u32>().prop_map(Message::Have),
            any::<u32>().prop_map(Message::Suggest),
            any::<u32>().prop_map(Message::AllowedFast),
            any::<u16>().prop_map(Message::Port),
            bytes().prop_map(Message::Bitfield),
            arb_block().prop_map(Message::Request),
            arb_block().prop_map(Message::Cancel),
            arb_block().prop_map(Message::Reject),
            (any::<u32>(), any::<u32>(), bytes()).prop_map(|(index, begin, data)| Message::Piece {
                index,
                begin,
                data
            }),
            (any::<u8>(), bytes()).prop_map(|(id, payload)| Message::Extended { id, payload }),
            arb_hash_request().prop_map(Message::HashRequest),
            arb_hash_request().prop_map(Message::HashReject),
            (
                arb_hash_request(),
                proptest::collection::vec(any::<[u8; 32]>(), 0..8)
            )
                .prop_map(|(request, hashes)| Message::Hashes { request, hashes }),
        ]
    }

    proptest! {
        #[test]
        fn streams_of_messages_round_trip(messages in proptest::collection::vec(arb_message(), 0..8)) {
            let mut bytes = Vec::new();
            for m in &messages {
                m.encode(&mut bytes);
            }
            let mut at = 0;
            let mut decoded = Vec::new();
            while let Some((m, used)) = decode(&bytes[at..]).unwrap() {
                decoded.push(m);
                at += used;
            }
            prop_assert_eq!(at, bytes.len());
            prop_assert_eq!(decoded, messages);
        }

        #[test]
        fn metadata_round_trips(piece: u32, total_size in 0u64..1 << 40, data in proptest::collection::vec(any::<u8>(), 0..64)) {
            for m in [Metadata::Request { piece }, Metadata::Reject { piece }, Metadata::Data { piece, total_size, data: data.clone() }] {
                prop_assert_eq!(Metadata::parse(&m.encode()).unwrap(), m);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(Some((_, used))) = decode(&bytes) {
                prop_assert!(used <= bytes.len());
            }
            let _ = ExtendedHandshake::parse(&bytes);
            let _ = Metadata::parse(&bytes);
        }
    }
}
