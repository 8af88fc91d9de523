//! The BEP 3 handshake: `<19><"BitTorrent protocol"><8 reserved><20 info
//! hash><20 peer id>`, 68 bytes. Pure: bytes in, values out.
//!
//! A listener serving many torrents must learn the info hash before it
//! answers, so decoding is split: [`decode_head`] needs only the first 48
//! bytes (through the info hash), [`decode`] all 68. A first byte that is
//! not 19, or a wrong protocol string, is almost always MSE/PE encryption
//! (which starts with a random Diffie-Hellman key): [`HandshakeError`]
//! says so as soon as the first mismatching byte arrives, so the caller can
//! close at once and the client falls back to plaintext.

/// `<pstrlen=19>` followed by the protocol string (BEP 3).
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";
/// Bytes up to and including the info hash.
pub const HEAD_LEN: usize = 20 + 8 + 20;
/// The whole handshake.
pub const LEN: usize = HEAD_LEN + 20;

/// The 8 reserved bytes: extension bits each peer advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// BEP 10 extension protocol: byte 5, bit 0x10.
    pub const EXTENSION: (usize, u8) = (5, 0x10);
    /// BEP 6 fast extension: byte 7, bit 0x04.
    pub const FAST: (usize, u8) = (7, 0x04);
    /// BEP 5 DHT (the peer may send PORT): byte 7, bit 0x01.
    pub const DHT: (usize, u8) = (7, 0x01);
    /// BEP 52 v2 support (for a hybrid, the peer may upgrade): byte 7, bit 0x10.
    pub const V2: (usize, u8) = (7, 0x10);

    pub fn with(mut self, (byte, bit): (usize, u8)) -> Self {
        self.0[byte] |= bit;
        self
    }

    pub fn has(self, (byte, bit): (usize, u8)) -> bool {
        self.0[byte] & bit != 0
    }
}

/// A decoded handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: Reserved,
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
}

/// The first 48 bytes: enough to pick the torrent and answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub reserved: Reserved,
    pub info_hash: [u8; 20],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Not a plaintext BitTorrent handshake; likely MSE/PE encryption.
    #[error("not a BitTorrent handshake (byte {offset} is 0x{byte:02x}); encrypted (MSE/PE) connections are not supported")]
    NotBitTorrent { offset: usize, byte: u8 },
}

impl Handshake {
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved.0);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..].copy_from_slice(&self.peer_id);
        out
    }
}

/// Checks the protocol prefix of `buf` as far as it goes.
fn check_protocol(buf: &[u8]) -> Result<(), HandshakeError> {
    match buf.iter().zip(PROTOCOL).position(|(got, want)| got != want) {
        Some(offset) => Err(HandshakeError::NotBitTorrent {
            offset,
            byte: buf[offset],
        }),
        None => Ok(()),
    }
}

/// The head from the first 48 bytes; `Ok(None)` means "need more bytes".
/// Fails as soon as a received byte differs from the protocol string.
pub fn decode_head(buf: &[u8]) -> Result<Option<Head>, HandshakeError> {
    check_protocol(buf)?;
    let Some(head) = buf.get(..HEAD_LEN) else {
        return Ok(None);
    };
    let mut reserved = [0u8; 8];
    reserved.copy_from_slice(&head[20..28]);
    let mut info_hash = [0u8; 20];
    info_hash.copy_from_slice(&head[28..48]);
    Ok(Some(Head {
        reserved: Reserved(reserved),
        info_hash,
    }))
}

/// The whole handshake from the first 68 bytes; `Ok(None)` means "need
/// more bytes". Bytes after the first 68 belong to the message stream.
pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, HandshakeError> {
    let Some(head) = decode_head(buf)? else {
        return Ok(None);
    };
    let Some(id) = buf.get(HEAD_LEN..LEN) else {
        return Ok(None);
    };
    let mut peer_id = [0u8; 20];
    peer_id.copy_from_slice(id);
    Ok(Some(Handshake {
        reserved: head.reserved,
        info_hash: head.info_hash,
        peer_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::default()
                .with(Reserved::EXTENSION)
                .with(Reserved::FAST),
            info_hash: [7; 20],
            peer_id: *b"-MK0001-abcdefghijkl",
        }
    }

    #[test]
    fn encodes_the_bep3_layout_with_reserved_bits() {
        let bytes = sample().encode();
        assert_eq!(&bytes[..20], b"\x13BitTorrent protocol");
        assert_eq!(&bytes[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert_eq!(&bytes[28..48], &[7; 20]);
        assert_eq!(&bytes[48..], b"-MK0001-abcdefghijkl");
    }

    #[test]
    fn reserved_bits_are_read_back() {
        let r = sample().reserved;
        assert!(r.has(Reserved::EXTENSION) && r.has(Reserved::FAST));
        assert!(!r.has(Reserved::DHT));
        assert!(Reserved::default().with(Reserved::DHT).has(Reserved::DHT));
    }

    #[test]
    fn head_needs_only_48_bytes_and_whole_needs_68() {
        let bytes = sample().encode();
        assert_eq!(decode_head(&bytes[..47]), Ok(None));
        let head = decode_head(&bytes[..48]).unwrap().unwrap();
        assert_eq!(head.info_hash, [7; 20]);
        assert_eq!(decode(&bytes[..67]), Ok(None));
        assert_eq!(decode(&bytes), Ok(Some(sample())));
        assert_eq!(decode(&[]), Ok(None));
    }

    #[test]
    fn encrypted_or_foreign_first_bytes_fail_at_once() {
        // An MSE/PE connection starts with a random 96-byte DH key.
        assert_eq!(
            decode_head(&[0xa7]),
            Err(HandshakeError::NotBitTorrent {
                offset: 0,
                byte: 0xa7
            })
        );
        let err = decode(b"\x13BitTorrent protocoX").unwrap_err();
        assert_eq!(
            err,
            HandshakeError::NotBitTorrent {
                offset: 19,
                byte: b'X'
            }
        );
        assert!(err.to_string().contains("MSE/PE"));
        assert!(decode(b"GET / HTTP/1.1\r\n").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(reserved: [u8; 8], info_hash: [u8; 20], peer_id: [u8; 20]) {
            let hs = Handshake { reserved: Reserved(reserved), info_hash, peer_id };
            prop_assert_eq!(decode(&hs.encode()), Ok(Some(hs)));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&bytes);
        }
    }
}
