//! The UDP tracker protocol (BEP 15, with BEP 41 URL data): parsing
//! requests from datagrams and writing replies into a caller's buffer.
//!
//! Pure and allocation-free on the hot path: requests borrow the datagram.
//! A parse failure says what the server should do: drop the datagram
//! silently (too short, unknown action, bad protocol id) or reply with an
//! error carrying the transaction id. Connection IDs are checked by the
//! server, which knows the key, the clock and the source address.

use super::swarm::{Counts, Event, Id20};

/// The magic `protocol_id` of a connect request (BEP 15).
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// An announce without BEP 41 options is exactly this long (BEP 15).
pub const MIN_ANNOUNCE_LEN: usize = 98;
/// Hashes per scrape: 16 + 74 × 20 = 1496 bytes of request (BEP 15).
pub const MAX_SCRAPE_HASHES: usize = 74;

pub const ACTION_CONNECT: u32 = 0;
pub const ACTION_ANNOUNCE: u32 = 1;
pub const ACTION_SCRAPE: u32 = 2;
pub const ACTION_ERROR: u32 = 3;

/// A BEP 15 announce, borrowed from nothing: every field is copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: Id20,
    pub peer_id: Id20,
    pub downloaded: u64,
    pub left: u64,
    pub uploaded: u64,
    pub event: Event,
    pub key: u32,
    /// -1 (or any negative value) asks for the default.
    pub num_want: i32,
    pub port: u16,
    /// BEP 41 URL data (path and query of the announce URL), concatenated;
    /// empty, and unallocated, when the client sent none.
    pub url_data: Vec<u8>,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Connect {
        transaction_id: u32,
    },
    Announce(AnnounceRequest),
    Scrape {
        connection_id: u64,
        transaction_id: u32,
        /// At least one and at most [`MAX_SCRAPE_HASHES`] 20-byte hashes.
        info_hashes: &'a [u8],
    },
}

/// What to do with a datagram that is not a usable request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not worth an answer (BEP 15 clients time out and retry).
    Drop,
    /// Well-formed enough to answer with an error packet.
    Reply {
        transaction_id: u32,
        message: &'static str,
    },
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn id_at(b: &[u8], at: usize) -> Id20 {
    let mut a = [0; 20];
    a.copy_from_slice(&b[at..at + 20]);
    a
}

/// Parses a datagram. Every offset is checked against the length first, so
/// no input can panic.
pub fn parse(packet: &[u8]) -> Result<Request<'_>, ParseError> {
    // Every request starts with connection_id (8), action (4), transaction_id (4).
    if packet.len() < 16 {
        return Err(ParseError::Drop);
    }
    let connection_id = u64_at(packet, 0);
    let action = u32_at(packet, 8);
    let transaction_id = u32_at(packet, 12);
    match action {
        ACTION_CONNECT if connection_id == PROTOCOL_ID => Ok(Request::Connect { transaction_id }),
        ACTION_CONNECT => Err(ParseError::Drop),
        ACTION_ANNOUNCE => {
            if packet.len() < MIN_ANNOUNCE_LEN {
                return Err(ParseError::Drop);
            }
            // 16 info_hash, 36 peer_id, 56 downloaded, 64 left, 72 uploaded,
            // 80 event, 84 ip (ignored), 88 key, 92 num_want, 96 port.
            let event = match u32_at(packet, 80) {
                1 => Event::Completed,
                2 => Event::Started,
                3 => Event::Stopped,
                _ => Event::None,
            };
            let port = u16_at(packet, 96);
            if port == 0 {
                return Err(ParseError::Reply {
                    transaction_id,
                    message: "invalid port: 0",
                });
            }
            Ok(Request::Announce(AnnounceRequest {
                connection_id,
                transaction_id,
                info_hash: id_at(packet, 16),
                peer_id: id_at(packet, 36),
                downloaded: u64_at(packet, 56),
                left: u64_at(packet, 64),
                uploaded: u64_at(packet, 72),
                event,
                key: u32_at(packet, 88),
                num_want: u32_at(packet, 92) as i32,
                port,
                url_data: url_data(&packet[MIN_ANNOUNCE_LEN..]),
            }))
        }
        ACTION_SCRAPE => {
            let hashes = (packet.len() - 16) / 20;
            if hashes == 0 {
                return Err(ParseError::Reply {
                    transaction_id,
                    message: "scrape without info hash",
                });
            }
            // Extra hashes beyond the cap are ignored like trailing bytes.
            let hashes = hashes.min(MAX_SCRAPE_HASHES);
            Ok(Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes: &packet[16..16 + hashes * 20],
            })
        }
        _ => Err(ParseError::Drop),
    }
}

/// BEP 41 options after the fixed announce: 0 end, 1 no-op, 2 URL data
/// (length byte + bytes, concatenated over several options). A truncated
/// option ends the list; what came before it is kept.
fn url_data(mut options: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => break,
            1 => options = rest,
            2 => {
                let Some((&len, rest)) = rest.split_first() else {
                    break;
                };
                let len = usize::from(len);
                if rest.len() < len {
                    break;
                }
                data.extend_from_slice(&rest[..len]);
                options = &rest[len..];
            }
            // Unknown options have no defined length: stop reading.
            _ => break,
        }
    }
    data
}

/// Writes a connect reply (BEP 15: action, transaction_id, connection_id).
pub fn write_connect(out: &mut Vec<u8>, transaction_id: u32, connection_id: u64) {
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// Writes the 20-byte announce reply header; the caller appends compact
/// peers (6 bytes for IPv4, 18 for IPv6, matching the packet's family).
pub fn write_announce_header(
    out: &mut Vec<u8>,
    transaction_id: u32,
    interval: u32,
    counts: Counts,
) {
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&counts.leechers.to_be_bytes());
    out.extend_from_slice(&counts.seeders.to_be_bytes());
}

pub fn write_scrape_header(out: &mut Vec<u8>, transaction_id: u32) {
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

/// One scrape entry, in BEP 15 order: seeders, completed, leechers.
pub fn write_scrape_entry(out: &mut Vec<u8>, counts: Counts) {
    out.extend_from_slice(&counts.seeders.to_be_bytes());
    out.extend_from_slice(&counts.completed.to_be_bytes());
    out.extend_from_slice(&counts.leechers.to_be_bytes());
}

pub fn write_error(out: &mut Vec<u8>, transaction_id: u32, message: &str) {
    out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(message.as_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::announce::udp::{encode_connect, encode_scrape};

    /// The client's encoder (one BEP 15 codec for both sides) on the
    /// request as the server parsed it.
    fn encode_announce(req: &AnnounceRequest) -> Vec<u8> {
        crate::announce::udp::encode_announce(&req.into())
    }

    fn sample(url_data: Vec<u8>) -> AnnounceRequest {
        AnnounceRequest {
            connection_id: 0x1122_3344_5566_7788,
            transaction_id: 0xdead_beef,
            info_hash: [0xaa; 20],
            peer_id: *b"-XX0001-abcdefghijkl",
            downloaded: 1,
            left: 2,
            uploaded: 3,
            event: Event::Started,
            key: 9,
            num_want: -1,
            port: 6881,
            url_data,
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/tracker/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_packets_captured_from_real_clients() {
        for client in ["libtorrent-2.0.8", "aria2-1.36"] {
            let connect = fixture(&format!("{client}-udp-connect.bin"));
            assert!(
                matches!(parse(&connect), Ok(Request::Connect { .. })),
                "{client}"
            );
        }
        let lt = match parse(&fixture("libtorrent-2.0.8-udp-announce.bin")) {
            Ok(Request::Announce(req)) => req,
            other => panic!("{other:?}"),
        };
        assert_eq!(lt.connection_id, 0x1122_3344_5566_7788);
        assert_eq!(
            crate::metainfo::hex(&lt.info_hash),
            "8df2455cb5485cd010f361bddb0b34b8870189fe"
        );
        assert!(lt.peer_id.starts_with(b"-LT2080-"));
        assert_eq!(
            (lt.event, lt.left, lt.num_want, lt.port),
            (Event::Started, 0, 200, 18091)
        );
        assert_eq!(lt.url_data, b"/announce", "BEP 41 path");
        let aria = match parse(&fixture("aria2-1.36-udp-announce.bin")) {
            Ok(Request::Announce(req)) => req,
            other => panic!("{other:?}"),
        };
        assert_eq!(aria.info_hash, lt.info_hash);
        assert_eq!(
            (aria.event, aria.left, aria.num_want, aria.port),
            (Event::Started, 2_000_000, 50, 18096)
        );
        assert!(aria.url_data.is_empty());
    }

    #[test]
    fn announce_layout_matches_bep_15() {
        let bytes = encode_announce(&sample(Vec::new()));
        assert_eq!(bytes.len(), 98);
        assert_eq!(&bytes[8..12], &[0, 0, 0, 1], "action 1");
        assert_eq!(&bytes[80..84], &[0, 0, 0, 2], "event started = 2");
        assert_eq!(&bytes[96..98], &6881u16.to_be_bytes());
        assert_eq!(parse(&bytes), Ok(Request::Announce(sample(Vec::new()))));
    }

    #[test]
    fn short_packets_and_unknown_actions_are_dropped() {
        let bytes = encode_announce(&sample(Vec::new()));
        assert_eq!(parse(&bytes[..97]), Err(ParseError::Drop));
        assert_eq!(parse(&bytes[..15]), Err(ParseError::Drop));
        let mut unknown = bytes.clone();
        unknown[11] = 9;
        assert_eq!(parse(&unknown), Err(ParseError::Drop));
        let mut connect = encode_connect(5);
        connect[0] = 1;
        assert_eq!(parse(&connect), Err(ParseError::Drop), "bad protocol id");
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut connect = encode_connect(5);
        connect.extend_from_slice(b"junk");
        assert_eq!(parse(&connect), Ok(Request::Connect { transaction_id: 5 }));
        let mut scrape = encode_scrape(1, 2, &[[3; 20]]);
        scrape.extend_from_slice(&[0; 19]);
        assert_eq!(
            parse(&scrape),
            Ok(Request::Scrape {
                connection_id: 1,
                transaction_id: 2,
                info_hashes: &[3; 20]
            })
        );
    }

    #[test]
    fn port_zero_and_empty_scrape_get_error_replies() {
        let mut req = sample(Vec::new());
        req.port = 0;
        assert!(matches!(
            parse(&encode_announce(&req)),
            Err(ParseError::Reply {
                transaction_id: 0xdead_beef,
                ..
            })
        ));
        assert!(matches!(
            parse(&encode_scrape(1, 7, &[])),
            Err(ParseError::Reply {
                transaction_id: 7,
                ..
            })
        ));
    }

    #[test]
    fn scrape_is_capped_at_74_hashes() {
        // Built by hand: our client never sends more than 74.
        let mut packet = encode_scrape(1, 2, &[]);
        for _ in 0..80 {
            packet.extend_from_slice(&[1; 20]);
        }
        match parse(&packet) {
            Ok(Request::Scrape { info_hashes, .. }) => assert_eq!(info_hashes.len(), 74 * 20),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bep_41_options_are_read() {
        let mut bytes = encode_announce(&sample(Vec::new()));
        // NOP, then the path in two URL data options, then end.
        bytes.extend_from_slice(&[1, 2, 3]);
        bytes.extend_from_slice(b"/an");
        bytes.extend_from_slice(&[2, 9]);
        bytes.extend_from_slice(b"nounce?a=");
        bytes.push(0);
        match parse(&bytes) {
            Ok(Request::Announce(req)) => assert_eq!(req.url_data, b"/announce?a="),
            other => panic!("{other:?}"),
        }
        // A truncated option keeps what came before.
        let mut bytes = encode_announce(&sample(Vec::new()));
        bytes.extend_from_slice(&[2, 2, b'/', b'x', 2, 50, b'y']);
        match parse(&bytes) {
            Ok(Request::Announce(req)) => assert_eq!(req.url_data, b"/x"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replies_have_bep_15_layout() {
        let mut out = Vec::new();
        write_connect(&mut out, 7, 0x0102_0304_0506_0708);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
        out.clear();
        let counts = Counts {
            seeders: 1,
            leechers: 2,
            completed: 3,
        };
        write_scrape_header(&mut out, 7);
        write_scrape_entry(&mut out, counts);
        assert_eq!(
            out,
            [0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2]
        );
        out.clear();
        write_announce_header(&mut out, 7, 1800, counts);
        assert_eq!(&out[8..], &[0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 1]);
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::None),
            Just(Event::Started),
            Just(Event::Completed),
            Just(Event::Stopped)
        ]
    }

    proptest! {
        #[test]
        fn announce_round_trips(
            connection_id in any::<u64>(), transaction_id in any::<u32>(),
            info_hash in any::<[u8; 20]>(), peer_id in any::<[u8; 20]>(),
            numbers in any::<(u64, u64, u64, u32, i32)>(), port in 1u16..,
            event in event(), url_data in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let req = AnnounceRequest {
                connection_id, transaction_id, info_hash, peer_id,
                downloaded: numbers.0, left: numbers.1, uploaded: numbers.2,
                event, key: numbers.3, num_want: numbers.4, port, url_data,
            };
            let bytes = encode_announce(&req);
            prop_assert_eq!(parse(&bytes), Ok(Request::Announce(req)));
        }

        #[test]
        fn scrape_round_trips(cid in any::<u64>(), tid in any::<u32>(), hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..74)) {
            let bytes = encode_scrape(cid, tid, &hashes);
            let flat: Vec<u8> = hashes.concat();
            prop_assert_eq!(parse(&bytes), Ok(Request::Scrape { connection_id: cid, transaction_id: tid, info_hashes: &flat }));
        }

        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
