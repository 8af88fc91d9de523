//! UDP tracker client codec (BEP 15, with BEP 41 URL data): the requests we
//! send, the replies we read, and the retransmission timing.
//!
//! A reply whose transaction id is not the one we sent is reported as
//! [`ReplyError::OtherTransaction`] so the caller keeps waiting instead of
//! failing: stray or late datagrams are normal on UDP. No I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::{Event, ScrapeCounts};

pub use crate::tracker::udp_proto::{
    ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE, PROTOCOL_ID,
};
/// A connection id may be used for one minute after it was received (BEP 15).
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// BEP 15 retransmits after `15 × 2^n` seconds for n = 0..=8.
pub const DEFAULT_BASE_TIMEOUT: Duration = Duration::from_secs(15);
pub const MAX_RETRANSMIT_EXPONENT: u32 = 8;

/// How long to wait for a reply to the `n`th transmission (0-based).
pub fn retransmit_timeout(base: Duration, n: u32) -> Duration {
    base.saturating_mul(1 << n.min(MAX_RETRANSMIT_EXPONENT))
}

/// A connection id and when it was received; usable for
/// [`CONNECTION_ID_LIFETIME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionId {
    pub id: u64,
    pub received: Instant,
}

impl ConnectionId {
    pub fn valid_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.received) < CONNECTION_ID_LIFETIME
    }
}

/// The fields of a UDP announce (BEP 15 layout, 98 bytes plus options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub downloaded: u64,
    pub left: u64,
    pub uploaded: u64,
    pub event: Event,
    pub key: u32,
    /// -1 asks for the tracker's default.
    pub num_want: i32,
    pub port: u16,
    /// BEP 41 URL data: the path and query of the tracker URL.
    pub url_data: Vec<u8>,
}

/// The request a server parsed, as a client sends it: the tests and fuzz
/// targets of the server round-trip through this one encoder.
impl From<&crate::tracker::udp_proto::AnnounceRequest> for AnnounceRequest {
    fn from(req: &crate::tracker::udp_proto::AnnounceRequest) -> Self {
        use crate::tracker::swarm::Event as Server;
        Self {
            connection_id: req.connection_id,
            transaction_id: req.transaction_id,
            info_hash: req.info_hash,
            peer_id: req.peer_id,
            downloaded: req.downloaded,
            left: req.left,
            uploaded: req.uploaded,
            event: match req.event {
                Server::None => Event::Regular,
                Server::Completed => Event::Completed,
                Server::Started => Event::Started,
                Server::Stopped => Event::Stopped,
            },
            key: req.key,
            num_want: req.num_want,
            port: req.port,
            url_data: req.url_data.clone(),
        }
    }
}

/// A connect request: protocol id, action 0, transaction id.
pub fn encode_connect(transaction_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out
}

/// An announce request; URL data goes in BEP 41 options of at most 255
/// bytes each, followed by an end-of-options byte.
pub fn encode_announce(req: &AnnounceRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(100 + req.url_data.len() + req.url_data.len() / 255 * 2);
    out.extend_from_slice(&req.connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&req.transaction_id.to_be_bytes());
    out.extend_from_slice(&req.info_hash);
    out.extend_from_slice(&req.peer_id);
    out.extend_from_slice(&req.downloaded.to_be_bytes());
    out.extend_from_slice(&req.left.to_be_bytes());
    out.extend_from_slice(&req.uploaded.to_be_bytes());
    out.extend_from_slice(&req.event.udp_code().to_be_bytes());
    // IP address 0: the tracker uses the packet's source.
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&req.key.to_be_bytes());
    out.extend_from_slice(&req.num_want.to_be_bytes());
    out.extend_from_slice(&req.port.to_be_bytes());
    for chunk in req.url_data.chunks(255) {
        out.push(2);
        out.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(chunk);
    }
    if !req.url_data.is_empty() {
        out.push(0);
    }
    out
}

/// A scrape request for up to 74 hashes (BEP 15 keeps it in one packet).
pub fn encode_scrape(connection_id: u64, transaction_id: u32, hashes: &[[u8; 20]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 20 * hashes.len());
    out.extend_from_slice(&connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    for hash in hashes.iter().take(74) {
        out.extend_from_slice(hash);
    }
    out
}

/// BEP 41 URL data for a `udp://host:port/path?query` URL: everything
/// after the authority (fragment dropped); empty when there is no path.
pub fn url_data(tracker: &str) -> Vec<u8> {
    let tracker = tracker.split('#').next().unwrap_or(tracker);
    let rest = tracker.split_once("://").map_or(tracker, |(_, r)| r);
    match rest.find(['/', '?']) {
        Some(at) => rest.as_bytes()[at..].to_vec(),
        None => Vec::new(),
    }
}

/// A reply we understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Connect {
        connection_id: u64,
    },
    Announce {
        interval: u32,
        leechers: u32,
        seeders: u32,
        peers: Vec<SocketAddr>,
    },
    /// One entry per requested hash, in request order.
    Scrape(Vec<ScrapeCounts>),
    /// Action 3: the tracker's message (lossy UTF-8).
    Error(String),
}

/// Why a datagram is not a usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply of {0} bytes is too short")]
    TooShort(usize),
    /// Not ours: keep waiting for the right one.
    #[error("reply for another transaction ({0:#010x})")]
    OtherTransaction(u32),
    #[error("reply with unknown action {0}")]
    UnknownAction(u32),
    #[error("announce reply with {len} bytes of peers, not a multiple of {unit}")]
    PeersLength { len: usize, unit: usize },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a reply to transaction `transaction_id`. `v6` says whether the
/// socket is IPv6, which decides the peer size (6 or 18 bytes, BEP 15).
pub fn parse_reply(packet: &[u8], transaction_id: u32, v6: bool) -> Result<Reply, ReplyError> {
    if packet.len() < 8 {
        return Err(ReplyError::TooShort(packet.len()));
    }
    let action = u32_at(packet, 0);
    let tid = u32_at(packet, 4);
    if tid != transaction_id {
        return Err(ReplyError::OtherTransaction(tid));
    }
    let body = &packet[8..];
    match action {
        ACTION_CONNECT => {
            if body.len() < 8 {
                return Err(ReplyError::TooShort(packet.len()));
            }
            let mut id = [0; 8];
            id.copy_from_slice(&body[..8]);
            Ok(Reply::Connect {
                connection_id: u64::from_be_bytes(id),
            })
        }
        ACTION_ANNOUNCE => {
            if body.len() < 12 {
                return Err(ReplyError::TooShort(packet.len()));
            }
            let unit = if v6 { 18 } else { 6 };
            let raw = &body[12..];
            if raw.len() % unit != 0 {
                return Err(ReplyError::PeersLength {
                    len: raw.len(),
                    unit,
                });
            }
            let peers = raw
                .chunks_exact(unit)
                .map(|c| {
                    let port = u16::from_be_bytes([c[unit - 2], c[unit - 1]]);
                    let ip = if v6 {
                        let mut a = [0; 16];
                        a.copy_from_slice(&c[..16]);
                        IpAddr::V6(Ipv6Addr::from(a))
                    } else {
                        IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    };
                    SocketAddr::new(ip, port)
                })
                .collect();
            Ok(Reply::Announce {
                interval: u32_at(body, 0),
                leechers: u32_at(body, 4),
                seeders: u32_at(body, 8),
                peers,
            })
        }
        // Trailing bytes short of a whole entry are ignored.
        ACTION_SCRAPE => Ok(Reply::Scrape(
            body.chunks_exact(12)
                .map(|c| ScrapeCounts {
                    seeders: u32_at(c, 0).into(),
                    downloaded: u32_at(c, 4).into(),
                    leechers: u32_at(c, 8).into(),
                })
                .collect(),
        )),
        ACTION_ERROR => Ok(Reply::Error(String::from_utf8_lossy(body).into_owned())),
        other => Err(ReplyError::UnknownAction(other)),
    }
}

/// Encodes a reply as a tracker would, for tests, fuzzing and fake
/// trackers. Peers of the wrong family for `v6` are skipped; scrape counts
/// are clamped to 32 bits.
pub fn encode_reply(reply: &Reply, transaction_id: u32, v6: bool) -> Vec<u8> {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    let mut out = Vec::new();
    let action = match reply {
        Reply::Connect { .. } => ACTION_CONNECT,
        Reply::Announce { .. } => ACTION_ANNOUNCE,
        Reply::Scrape(_) => ACTION_SCRAPE,
        Reply::Error(_) => ACTION_ERROR,
    };
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    match reply {
        Reply::Connect { connection_id } => out.extend_from_slice(&connection_id.to_be_bytes()),
        Reply::Announce {
            interval,
            leechers,
            seeders,
            peers,
        } => {
            out.extend_from_slice(&interval.to_be_bytes());
            out.extend_from_slice(&leechers.to_be_bytes());
            out.extend_from_slice(&seeders.to_be_bytes());
            for peer in peers {
                match (peer.ip(), v6) {
                    (IpAddr::V4(ip), false) => out.extend_from_slice(&ip.octets()),
                    (IpAddr::V6(ip), true) => out.extend_from_slice(&ip.octets()),
                    _ => continue,
                }
                out.extend_from_slice(&peer.port().to_be_bytes());
            }
        }
        Reply::Scrape(entries) => {
            for e in entries {
                out.extend_from_slice(&clamp(e.seeders));
                out.extend_from_slice(&clamp(e.downloaded));
                out.extend_from_slice(&clamp(e.leechers));
            }
        }
        Reply::Error(message) => out.extend_from_slice(message.as_bytes()),
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tracker::udp_proto::{self, Request};

    fn request(url_data: Vec<u8>) -> AnnounceRequest {
        AnnounceRequest {
            connection_id: 0x1122_3344_5566_7788,
            transaction_id: 7,
            info_hash: [1; 20],
            peer_id: [2; 20],
            downloaded: 3,
            left: 4,
            uploaded: 5,
            event: Event::Started,
            key: 9,
            num_want: 50,
            port: 6881,
            url_data,
        }
    }

    #[test]
    fn our_tracker_reads_our_requests() {
        assert_eq!(
            udp_proto::parse(&encode_connect(5)),
            Ok(Request::Connect { transaction_id: 5 })
        );
        let long = vec![b'q'; 600];
        for data in [Vec::new(), b"/announce?passkey=1".to_vec(), long] {
            let req = request(data.clone());
            let Ok(Request::Announce(parsed)) = udp_proto::parse(&encode_announce(&req)) else {
                panic!("not an announce");
            };
            assert_eq!(parsed.url_data, data);
            assert_eq!(parsed.info_hash, req.info_hash);
            assert_eq!(parsed.event, crate::tracker::swarm::Event::Started);
            assert_eq!((parsed.port, parsed.key, parsed.num_want), (6881, 9, 50));
        }
        let scrape = encode_scrape(1, 2, &[[3; 20], [4; 20]]);
        let Ok(Request::Scrape { info_hashes, .. }) = udp_proto::parse(&scrape) else {
            panic!("not a scrape");
        };
        assert_eq!(info_hashes.len(), 40);
    }

    #[test]
    fn event_codes_follow_bep_15() {
        let codes: Vec<u32> = [
            Event::Regular,
            Event::Completed,
            Event::Started,
            Event::Stopped,
        ]
        .map(Event::udp_code)
        .to_vec();
        assert_eq!(codes, [0, 1, 2, 3]);
    }

    #[test]
    fn url_data_is_path_and_query() {
        assert_eq!(
            url_data("udp://t.example:80/announce?x=1#f"),
            b"/announce?x=1"
        );
        assert_eq!(url_data("udp://t.example:80"), b"");
        assert_eq!(url_data("udp://t.example:80?x"), b"?x");
    }

    #[test]
    fn replies_are_checked() {
        assert_eq!(
            parse_reply(
                &encode_reply(&Reply::Error("nope".into()), 4, false),
                4,
                false
            ),
            Ok(Reply::Error("nope".into()))
        );
        assert_eq!(
            parse_reply(
                &encode_reply(&Reply::Connect { connection_id: 9 }, 4, false),
                5,
                false
            ),
            Err(ReplyError::OtherTransaction(4))
        );
        let mut announce = encode_reply(
            &Reply::Announce {
                interval: 1,
                leechers: 2,
                seeders: 3,
                peers: vec![],
            },
            1,
            false,
        );
        announce.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            parse_reply(&announce, 1, false),
            Err(ReplyError::PeersLength { len: 3, unit: 6 })
        );
        assert_eq!(parse_reply(&[0; 7], 0, false), Err(ReplyError::TooShort(7)));
        assert_eq!(
            parse_reply(&[0; 12], 0, false),
            Err(ReplyError::TooShort(12))
        );
        assert_eq!(
            parse_reply(&[0, 0, 0, 9, 0, 0, 0, 0], 0, false),
            Err(ReplyError::UnknownAction(9))
        );
    }

    #[test]
    fn timing_follows_bep_15() {
        let base = Duration::from_secs(15);
        assert_eq!(retransmit_timeout(base, 0), base);
        assert_eq!(retransmit_timeout(base, 3), Duration::from_secs(120));
        assert_eq!(retransmit_timeout(base, 8), Duration::from_secs(3840));
        assert_eq!(retransmit_timeout(base, 20), Duration::from_secs(3840));
        let t = Instant::now();
        let id = ConnectionId { id: 1, received: t };
        assert!(id.valid_at(t + Duration::from_secs(59)));
        assert!(!id.valid_at(t + Duration::from_secs(60)));
    }

    fn arb_reply(v6: bool) -> impl Strategy<Value = Reply> {
        let peer = move || {
            (any::<[u8; 16]>(), any::<u16>()).prop_map(move |(ip, port)| {
                if v6 {
                    SocketAddr::from((ip, port))
                } else {
                    SocketAddr::from(([ip[0], ip[1], ip[2], ip[3]], port))
                }
            })
        };
        prop_oneof![
            any::<u64>().prop_map(|connection_id| Reply::Connect { connection_id }),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(peer(), 0..20)
            )
                .prop_map(|(interval, leechers, seeders, peers)| Reply::Announce {
                    interval,
                    leechers,
                    seeders,
                    peers
                }),
            proptest::collection::vec(
                (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(s, d, l)| ScrapeCounts {
                    seeders: s.into(),
                    downloaded: d.into(),
                    leechers: l.into()
                }),
                0..10
            )
            .prop_map(Reply::Scrape),
            ".*".prop_map(Reply::Error),
        ]
    }

    proptest! {
        #[test]
        fn replies_round_trip(
            (v6, reply) in any::<bool>().prop_flat_map(|v6| (Just(v6), arb_reply(v6))),
            tid in any::<u32>(),
        ) {
            prop_assert_eq!(parse_reply(&encode_reply(&reply, tid, v6), tid, v6), Ok(reply));
        }

        #[test]
        fn announces_round_trip_through_the_server_parser(
            tid in any::<u32>(), key in any::<u32>(), port in 1..=u16::MAX,
            event in 0..4u32, url in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut req = request(url.clone());
            req.transaction_id = tid;
            req.key = key;
            req.port = port;
            req.event = [Event::Regular, Event::Completed, Event::Started, Event::Stopped][event as usize];
            let Ok(Request::Announce(parsed)) = udp_proto::parse(&encode_announce(&req)) else {
                return Err(TestCaseError::fail("not an announce"));
            };
            prop_assert_eq!((parsed.transaction_id, parsed.key, parsed.port), (tid, key, port));
            prop_assert_eq!(parsed.url_data, url);
        }

        #[test]
        fn parse_never_panics(packet in proptest::collection::vec(any::<u8>(), 0..200), v6 in any::<bool>()) {
            let _ = parse_reply(&packet, 0, v6);
        }
    }
}
