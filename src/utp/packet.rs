//! The uTP packet codec (BEP 29): the 20-byte header, the extension chain
//! (selective ACK kept, unknown extensions skipped) and the payload.
//!
//! Pure and allocation-free when parsing: a [`Packet`] borrows the datagram.
//! Any parse error means "drop the datagram": uTP never answers garbage.

use thiserror::Error;

/// Fixed header length (BEP 29).
pub const HEADER_LEN: usize = 20;
/// The only protocol version (BEP 29: low nibble of byte 0).
pub const VERSION: u8 = 1;
/// Extension type of the selective ACK bitmask (BEP 29).
pub const EXT_SACK: u8 = 1;
/// Longest SACK bitmask we write (256 packets past `ack_nr + 1`).
pub const MAX_SACK_LEN: usize = 32;

/// BEP 29 packet types (high nibble of byte 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// ST_DATA: payload, consumes a sequence number.
    Data = 0,
    /// ST_FIN: the sender's last sequence number.
    Fin = 1,
    /// ST_STATE: an ACK (and window update); no sequence number consumed.
    State = 2,
    /// ST_RESET: the connection is gone.
    Reset = 3,
    /// ST_SYN: opens a connection.
    Syn = 4,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Data,
            1 => Self::Fin,
            2 => Self::State,
            3 => Self::Reset,
            4 => Self::Syn,
            _ => return None,
        })
    }
}

/// Why a datagram is not a uTP packet. Every case means: drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("shorter than the 20-byte uTP header")]
    TooShort,
    #[error("unsupported uTP version {0}")]
    Version(u8),
    #[error("unknown uTP packet type {0}")]
    Type(u8),
    #[error("extension header runs past the end of the datagram")]
    TruncatedExtension,
    #[error("selective ACK length {0} is empty")]
    SackLength(usize),
}

/// One uTP packet, borrowing the datagram it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub ty: PacketType,
    pub connection_id: u16,
    /// Sender's clock in microseconds (wrapping).
    pub timestamp_us: u32,
    /// Sender's receive time minus our last timestamp: the one-way delay
    /// it measured on our packets, plus clock offset (wrapping).
    pub timestamp_diff_us: u32,
    /// Bytes the sender can still receive.
    pub wnd_size: u32,
    pub seq_nr: u16,
    pub ack_nr: u16,
    /// Selective ACK bitmask (the first one if several were sent): bit `i`
    /// (byte `i / 8`, least significant bit first) is `ack_nr + 2 + i`.
    pub sack: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// Cheap check that tells uTP from KRPC on a shared port: KRPC datagrams
/// start with `d` (0x64 = type 6), which is never a valid uTP first byte.
pub fn is_utp(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] & 0x0f == VERSION && datagram[0] >> 4 <= 4
}

/// Whether packet `ack_nr + 2 + index` is set in a SACK bitmask.
pub fn sack_bit(mask: &[u8], index: usize) -> bool {
    mask.get(index / 8)
        .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Packet<'a> {
    /// Parses one datagram. Lengths are checked before every read.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, PacketError> {
        if datagram.len() < HEADER_LEN {
            return Err(PacketError::TooShort);
        }
        // BEP 29 header: type|ver (1), extension (1), connection_id (2),
        // timestamp_microseconds (4), timestamp_difference_microseconds (4),
        // wnd_size (4), seq_nr (2), ack_nr (2); all big-endian.
        let version = datagram[0] & 0x0f;
        if version != VERSION {
            return Err(PacketError::Version(version));
        }
        let ty =
            PacketType::from_nibble(datagram[0] >> 4).ok_or(PacketError::Type(datagram[0] >> 4))?;
        let mut sack = None;
        // Extension chain: each is (next type, length, bytes); type 0 ends it.
        let mut next = datagram[1];
        let mut rest = &datagram[HEADER_LEN..];
        while next != 0 {
            let [following, len, tail @ ..] = rest else {
                return Err(PacketError::TruncatedExtension);
            };
            let len = usize::from(*len);
            if tail.len() < len {
                return Err(PacketError::TruncatedExtension);
            }
            if next == EXT_SACK {
                // BEP 29 asks for a multiple of 4, but libtorrent sends
                // whatever length its bitmask needs (1, 3, 7, 17 bytes...).
                if len == 0 {
                    return Err(PacketError::SackLength(len));
                }
                sack.get_or_insert(&tail[..len]);
            }
            next = *following;
            rest = &tail[len..];
        }
        Ok(Self {
            ty,
            connection_id: u16_at(datagram, 2),
            timestamp_us: u32_at(datagram, 4),
            timestamp_diff_us: u32_at(datagram, 8),
            wnd_size: u32_at(datagram, 12),
            seq_nr: u16_at(datagram, 16),
            ack_nr: u16_at(datagram, 18),
            sack,
            payload: rest,
        })
    }

    /// Appends the packet to `out` (unknown extensions are not kept).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push((self.ty as u8) << 4 | VERSION);
        out.push(if self.sack.is_some() { EXT_SACK } else { 0 });
        out.extend_from_slice(&self.connection_id.to_be_bytes());
        out.extend_from_slice(&self.timestamp_us.to_be_bytes());
        out.extend_from_slice(&self.timestamp_diff_us.to_be_bytes());
        out.extend_from_slice(&self.wnd_size.to_be_bytes());
        out.extend_from_slice(&self.seq_nr.to_be_bytes());
        out.extend_from_slice(&self.ack_nr.to_be_bytes());
        if let Some(mask) = self.sack {
            out.push(0);
            // Our masks are at most MAX_SACK_LEN; a longer one is cut to
            // what the length byte can say (any parsed mask fits whole).
            let len = mask.len().min(255);
            out.push(len as u8);
            out.extend_from_slice(&mask[..len]);
        }
        out.extend_from_slice(self.payload);
    }

    /// The packet as a fresh datagram.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len() + 2 + MAX_SACK_LEN);
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn syn() -> Vec<u8> {
        // A SYN as libutp sends it: type 4, version 1, conn id 0x1234, seq 1.
        let mut d = vec![0x41, 0, 0x12, 0x34];
        d.extend_from_slice(&1_000_000u32.to_be_bytes());
        d.extend_from_slice(&0u32.to_be_bytes());
        d.extend_from_slice(&1_048_576u32.to_be_bytes());
        d.extend_from_slice(&1u16.to_be_bytes());
        d.extend_from_slice(&0u16.to_be_bytes());
        d
    }

    #[test]
    fn parses_a_syn() {
        let d = syn();
        let p = Packet::parse(&d).unwrap();
        assert_eq!(p.ty, PacketType::Syn);
        assert_eq!(p.connection_id, 0x1234);
        assert_eq!(p.timestamp_us, 1_000_000);
        assert_eq!(p.wnd_size, 1_048_576);
        assert_eq!((p.seq_nr, p.ack_nr), (1, 0));
        assert!(p.sack.is_none() && p.payload.is_empty());
        assert_eq!(p.to_vec(), d);
        assert!(is_utp(&d));
    }

    #[test]
    fn a_255_byte_sack_round_trips() {
        // Found by fuzzing: encode cut masks to 252 bytes while parse takes 255.
        let mut datagram = vec![0x01, EXT_SACK];
        datagram.extend_from_slice(&[0; 18]);
        datagram.extend_from_slice(&[0, 255]);
        datagram.extend(std::iter::repeat_n(0xff, 255));
        datagram.extend_from_slice(b"payload");
        let packet = Packet::parse(&datagram).unwrap();
        assert_eq!(packet.sack.map(<[u8]>::len), Some(255));
        assert_eq!(packet.to_vec(), datagram);
    }

    #[test]
    fn skips_unknown_extensions_and_keeps_sack() {
        let mut d = syn();
        d[0] = 0x01; // ST_DATA
        d[1] = 2; // unknown extension first
        d.extend_from_slice(&[EXT_SACK, 3, 9, 9, 9]);
        d.extend_from_slice(&[0, 4, 0b101, 0, 0, 0x80]);
        d.extend_from_slice(b"payload");
        let p = Packet::parse(&d).unwrap();
        assert_eq!(p.sack, Some(&[0b101, 0, 0, 0x80][..]));
        assert_eq!(p.payload, b"payload");
        let mask = p.sack.unwrap();
        assert!(sack_bit(mask, 0) && !sack_bit(mask, 1) && sack_bit(mask, 2));
        assert!(sack_bit(mask, 31) && !sack_bit(mask, 32));
    }

    #[test]
    fn rejects_bad_input() {
        let d = syn();
        assert_eq!(Packet::parse(&d[..19]), Err(PacketError::TooShort));
        let mut v2 = d.clone();
        v2[0] = 0x42;
        assert_eq!(Packet::parse(&v2), Err(PacketError::Version(2)));
        let mut t5 = d.clone();
        t5[0] = 0x51;
        assert_eq!(Packet::parse(&t5), Err(PacketError::Type(5)));
        let mut trunc = d.clone();
        trunc[1] = EXT_SACK;
        trunc.extend_from_slice(&[0, 8, 1, 2]);
        assert_eq!(Packet::parse(&trunc), Err(PacketError::TruncatedExtension));
        let mut odd = d.clone();
        odd[1] = EXT_SACK;
        odd.extend_from_slice(&[0, 3, 1, 2, 3]);
        // libtorrent sends such lengths; they are read as they are.
        assert_eq!(Packet::parse(&odd).unwrap().sack, Some(&[1, 2, 3][..]));
        let mut empty = d.clone();
        empty[1] = EXT_SACK;
        empty.extend_from_slice(&[0, 0]);
        assert_eq!(Packet::parse(&empty), Err(PacketError::SackLength(0)));
    }

    #[test]
    fn tells_utp_from_krpc() {
        assert!(!is_utp(
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
        ));
        assert!(!is_utp(&syn()[..10]));
    }

    fn packet_type() -> impl Strategy<Value = PacketType> {
        prop_oneof![
            Just(PacketType::Data),
            Just(PacketType::Fin),
            Just(PacketType::State),
            Just(PacketType::Reset),
            Just(PacketType::Syn),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(
            ty in packet_type(),
            header in any::<(u16, u32, u32, u32, u16, u16)>(),
            sack_words in proptest::option::of(1usize..=8),
            sack_seed in any::<u64>(),
            payload in proptest::collection::vec(any::<u8>(), 0..1500),
        ) {
            let sack_bytes: Option<Vec<u8>> = sack_words
                .map(|w| (0..w * 4).map(|i| (sack_seed >> (i % 8 * 8)) as u8).collect());
            let (connection_id, timestamp_us, timestamp_diff_us, wnd_size, seq_nr, ack_nr) = header;
            let p = Packet {
                ty, connection_id, timestamp_us, timestamp_diff_us, wnd_size, seq_nr, ack_nr,
                sack: sack_bytes.as_deref(),
                payload: &payload,
            };
            let bytes = p.to_vec();
            prop_assert!(is_utp(&bytes));
            prop_assert_eq!(Packet::parse(&bytes), Ok(p));
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(p) = Packet::parse(&data) {
                prop_assert!(is_utp(&data));
                let again = p.to_vec();
                prop_assert_eq!(Packet::parse(&again), Ok(p));
            }
        }
    }
}
