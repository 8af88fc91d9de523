//! The HTTP tracker protocol (BEP 3 announce, BEP 23 compact peers, BEP 7
//! `peers6`, BEP 24 `external ip`, BEP 48 scrape): query parsing and
//! bencoded replies. Pure: bytes in, bytes out.
//!
//! Query values are percent-decoded byte strings (`info_hash` and `peer_id`
//! are binary), decoded straight into fixed arrays so an announce costs no
//! allocation. The compact announce reply is written by hand in sorted key
//! order (tests check it against [`crate::bencode`] and bendy's strict
//! decoder); rarer replies are built with [`crate::bencode`].

use std::io::Write;
use std::net::IpAddr;

use crate::bencode::{self, Bencode};

use super::swarm::{Counts, Event, Id20};

/// Why a query is refused; the text is the bencoded `failure reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{field} must be exactly 20 bytes, got {len}")]
    BadLength { field: &'static str, len: usize },
    #[error("invalid percent-escape in {0}")]
    BadEscape(&'static str),
    #[error("invalid port: must be 1-65535")]
    BadPort,
    #[error("invalid {0}: not a number")]
    BadNumber(&'static str),
    #[error("too many info_hash values (at most {0})")]
    TooManyHashes(usize),
}

/// A parsed announce query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceQuery {
    pub info_hash: Id20,
    pub peer_id: Id20,
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    /// `None` when absent or negative (some clients do not know yet).
    pub left: Option<u64>,
    pub event: Event,
    /// `None` when absent or not a number: the server uses its default.
    pub numwant: Option<usize>,
    /// BEP 23: compact unless `compact=0`.
    pub compact: bool,
    pub no_peer_id: bool,
}

/// Splits a query string into raw (still escaped) key/value pairs.
fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` into `out`; returns the decoded length, or `None`
/// on a bad escape or overflow. With `plus_is_space`, `+` is a space as in
/// form encoding; binary ids pass false, since clients that leave `+`
/// unescaped mean the byte 0x2B (as opentracker reads it), and reading a
/// space would put them in another swarm.
fn decode_into(raw: &[u8], out: &mut [u8], plus_is_space: bool) -> Result<usize, DecodeFail> {
    let mut len = 0;
    let mut i = 0;
    while i < raw.len() {
        let byte = match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_digit);
                let lo = raw.get(i + 2).copied().and_then(hex_digit);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        i += 3;
                        hi << 4 | lo
                    }
                    _ => return Err(DecodeFail::Escape),
                }
            }
            b'+' if plus_is_space => {
                i += 1;
                b' '
            }
            other => {
                i += 1;
                other
            }
        };
        match out.get_mut(len) {
            Some(slot) => *slot = byte,
            None => return Err(DecodeFail::TooLong(len + 1 + (raw.len() - i) / 3)),
        }
        len += 1;
    }
    Ok(len)
}

enum DecodeFail {
    Escape,
    /// At least this many bytes (for the error message; an estimate).
    TooLong(usize),
}

fn decode_id(field: &'static str, raw: &[u8]) -> Result<Id20, QueryError> {
    let mut out = [0; 20];
    match decode_into(raw, &mut out, false) {
        Ok(20) => Ok(out),
        Ok(len) | Err(DecodeFail::TooLong(len)) => Err(QueryError::BadLength { field, len }),
        Err(DecodeFail::Escape) => Err(QueryError::BadEscape(field)),
    }
}

/// Decodes a short ASCII value (numbers, event names) onto the stack.
fn decode_small<'a>(
    field: &'static str,
    raw: &[u8],
    buf: &'a mut [u8; 24],
) -> Result<&'a [u8], QueryError> {
    match decode_into(raw, buf, true) {
        Ok(len) => Ok(&buf[..len]),
        Err(DecodeFail::Escape) => Err(QueryError::BadEscape(field)),
        Err(DecodeFail::TooLong(_)) => Err(QueryError::BadNumber(field)),
    }
}

fn parse_i64(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Parses an announce query (the part after `?`). Unknown keys, and `ip`
/// (a spoofing vector), are ignored; the first of repeated keys wins.
pub fn parse_announce(query: &[u8]) -> Result<AnnounceQuery, QueryError> {
    let mut info_hash = None;
    let mut peer_id = None;
    let mut port = None;
    let (mut uploaded, mut downloaded, mut left) = (None, None, None);
    let mut event = None;
    let mut numwant = None;
    let mut compact = None;
    let mut no_peer_id = None;
    let mut buf = [0u8; 24];
    for (key, raw) in pairs(query) {
        let number = |field, buf: &mut [u8; 24]| -> Result<Option<i64>, QueryError> {
            let text = decode_small(field, raw, buf)?;
            parse_i64(text)
                .map(Some)
                .ok_or(QueryError::BadNumber(field))
        };
        match key {
            b"info_hash" if info_hash.is_none() => {
                info_hash = Some(decode_id("info_hash", raw)?);
            }
            b"peer_id" if peer_id.is_none() => peer_id = Some(decode_id("peer_id", raw)?),
            b"port" if port.is_none() => {
                let text = decode_small("port", raw, &mut buf)?;
                let value = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<u16>().ok())
                    .filter(|&p| p != 0)
                    .ok_or(QueryError::BadPort)?;
                port = Some(value);
            }
            b"uploaded" if uploaded.is_none() => uploaded = number("uploaded", &mut buf)?,
            b"downloaded" if downloaded.is_none() => downloaded = number("downloaded", &mut buf)?,
            b"left" if left.is_none() => left = number("left", &mut buf)?,
            b"event" if event.is_none() => {
                let text = decode_small("event", raw, &mut buf).unwrap_or(b"");
                event = Some(match text {
                    b"started" => Event::Started,
                    b"completed" => Event::Completed,
                    b"stopped" => Event::Stopped,
                    // empty, `paused` and anything unknown: a regular announce.
                    _ => Event::None,
                });
            }
            b"numwant" if numwant.is_none() => {
                // Garbage means the default rather than an error.
                numwant = Some(
                    decode_small("numwant", raw, &mut buf)
                        .ok()
                        .and_then(parse_i64)
                        .and_then(|n| usize::try_from(n).ok()),
                );
            }
            b"compact" if compact.is_none() => compact = Some(raw != b"0"),
            b"no_peer_id" if no_peer_id.is_none() => no_peer_id = Some(raw != b"0"),
            _ => {}
        }
    }
    let non_negative = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
    Ok(AnnounceQuery {
        info_hash: info_hash.ok_or(QueryError::Missing("info_hash"))?,
        peer_id: peer_id.ok_or(QueryError::Missing("peer_id"))?,
        port: port.ok_or(QueryError::Missing("port"))?,
        uploaded: non_negative(uploaded).unwrap_or(0),
        downloaded: non_negative(downloaded).unwrap_or(0),
        left: non_negative(left),
        event: event.unwrap_or(Event::None),
        numwant: numwant.flatten(),
        compact: compact.unwrap_or(true),
        no_peer_id: no_peer_id.unwrap_or(false),
    })
}

/// Parses the `info_hash` values of a scrape into `out` (cleared first).
/// An empty result means a full scrape was asked for.
pub fn parse_scrape(query: &[u8], max: usize, out: &mut Vec<Id20>) -> Result<(), QueryError> {
    out.clear();
    for (key, raw) in pairs(query) {
        if key == b"info_hash" {
            if out.len() >= max {
                return Err(QueryError::TooManyHashes(max));
            }
            out.push(decode_id("info_hash", raw)?);
        }
    }
    Ok(())
}

/// The scrape path for an announce path (BEP 48 convention): the last
/// component must start with `announce`, which becomes `scrape`.
pub fn scrape_path(announce_path: &str) -> Option<String> {
    let cut = announce_path.rfind('/')? + 1;
    let (dir, last) = announce_path.split_at(cut);
    let rest = last.strip_prefix("announce")?;
    Some(format!("{dir}scrape{rest}"))
}

/// The numbers every announce reply carries.
#[derive(Debug, Clone, Copy)]
pub struct ReplyHead {
    pub interval: u32,
    pub min_interval: u32,
    pub counts: Counts,
    /// BEP 24: the address the request came from.
    pub external_ip: IpAddr,
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = write!(out, "{}:", bytes.len());
    out.extend_from_slice(bytes);
}

/// Writes a compact announce reply: `peers` (6-byte entries, BEP 23) and
/// `peers6` (18-byte entries, BEP 7), keys in sorted order.
pub fn write_compact(out: &mut Vec<u8>, head: &ReplyHead, peers: &[u8], peers6: &[u8]) {
    let _ = write!(out, "d8:completei{}e", head.counts.seeders);
    out.extend_from_slice(b"10:downloadedi");
    let _ = write!(out, "{}e", head.counts.completed);
    out.extend_from_slice(b"11:external ip");
    match head.external_ip {
        IpAddr::V4(ip) => put_bytes(out, &ip.octets()),
        IpAddr::V6(ip) => put_bytes(out, &ip.octets()),
    }
    let _ = write!(
        out,
        "10:incompletei{}e8:intervali{}e12:min intervali{}e5:peers",
        head.counts.leechers, head.interval, head.min_interval
    );
    put_bytes(out, peers);
    out.extend_from_slice(b"6:peers6");
    put_bytes(out, peers6);
    out.push(b'e');
}

/// One peer of the non-compact reply.
#[derive(Debug, Clone, Copy)]
pub struct DictPeer {
    pub ip: IpAddr,
    pub port: u16,
    pub peer_id: Option<Id20>,
}

/// Writes the original (BEP 3) dictionary-list reply for `compact=0`.
pub fn write_dict(out: &mut Vec<u8>, head: &ReplyHead, peers: &[DictPeer]) {
    let list = peers
        .iter()
        .map(|peer| {
            let mut entries = std::collections::BTreeMap::new();
            entries.insert(b"ip".to_vec(), Bencode::from(peer.ip.to_string()));
            entries.insert(b"port".to_vec(), Bencode::Int(i64::from(peer.port)));
            if let Some(id) = peer.peer_id {
                entries.insert(b"peer id".to_vec(), Bencode::Bytes(id.to_vec()));
            }
            Bencode::Dict(entries)
        })
        .collect();
    let external = match head.external_ip {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    bencode::dict([
        ("complete", Bencode::Int(i64::from(head.counts.seeders))),
        ("downloaded", Bencode::Int(i64::from(head.counts.completed))),
        ("external ip", Bencode::Bytes(external)),
        ("incomplete", Bencode::Int(i64::from(head.counts.leechers))),
        ("interval", Bencode::Int(i64::from(head.interval))),
        ("min interval", Bencode::Int(i64::from(head.min_interval))),
        ("peers", Bencode::List(list)),
    ])
    .encode_into(out);
}

/// Writes a scrape reply (BEP 48): `files` maps each hash to its counts.
/// Hashes come out sorted, as bencode requires; duplicates collapse.
pub fn write_scrape(out: &mut Vec<u8>, files: &[(Id20, Counts)]) {
    let files = files
        .iter()
        .map(|(hash, counts)| {
            (
                hash.to_vec(),
                bencode::dict([
                    ("complete", Bencode::Int(i64::from(counts.seeders))),
                    ("downloaded", Bencode::Int(i64::from(counts.completed))),
                    ("incomplete", Bencode::Int(i64::from(counts.leechers))),
                ]),
            )
        })
        .collect();
    bencode::dict([("files", Bencode::Dict(files))]).encode_into(out);
}

/// A bencoded `failure reason` (sent with HTTP 200, as clients expect).
pub fn write_failure(out: &mut Vec<u8>, reason: &str) {
    bencode::dict([("failure reason", Bencode::from(reason))]).encode_into(out);
}

/// An IP network in CIDR form (`10.0.0.0/8`, `::1/128`; a bare address is
/// a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{text:?}: prefix length must be 0-{max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` (v4-mapped addresses as IPv4) is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = super::swarm::normalize_ip(ip);
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                (u128::from(u32::from(net)), u128::from(u32::from(ip)), 32u32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => (u128::from(net), u128::from(ip), 128),
            _ => return false,
        };
        let prefix = u32::from(self.prefix);
        if prefix == 0 {
            return true;
        }
        let shift = bits - prefix;
        (net >> shift) == (ip >> shift)
    }
}

/// The rightmost address of an `X-Forwarded-For` header: the one our
/// trusted proxy appended. Anything to its left is client-controlled.
pub fn rightmost_forwarded(header: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(header).ok()?;
    let last = text.rsplit(',').next()?.trim();
    last.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const BASE: &str = "peer_id=-qB4650-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=10";

    fn query(extra: &str) -> Vec<u8> {
        format!("{BASE}&info_hash=%AA%BB%CC%DD%EE%FF%00%11%22%33%44%55%66%77%88%99abcd{extra}")
            .into_bytes()
    }

    #[test]
    fn decodes_a_typical_announce() {
        let q = parse_announce(&query("&event=started&numwant=30&compact=1")).unwrap();
        assert_eq!(
            q.info_hash,
            [
                0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                0x88, 0x99, b'a', b'b', b'c', b'd'
            ]
        );
        assert_eq!(&q.peer_id, b"-qB4650-abcdefghijkl");
        assert_eq!(
            (q.port, q.left, q.event, q.numwant),
            (6881, Some(10), Event::Started, Some(30))
        );
        assert!(q.compact && !q.no_peer_id);
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/tracker/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const FIXTURE_HASH: &str = "8df2455cb5485cd010f361bddb0b34b8870189fe";

    #[test]
    fn reads_announces_captured_from_real_clients() {
        let lt = parse_announce(&fixture("libtorrent-2.0.8-http-announce.txt")).unwrap();
        assert_eq!(crate::metainfo::hex(&lt.info_hash), FIXTURE_HASH);
        assert_eq!(&lt.peer_id, b"-LT2080-1Ani7mQmTovE");
        assert_eq!(
            (
                lt.port,
                lt.left,
                lt.event,
                lt.numwant,
                lt.compact,
                lt.no_peer_id
            ),
            (18081, Some(0), Event::Started, Some(200), true, true)
        );
        let aria = parse_announce(&fixture("aria2-1.36-http-announce.txt")).unwrap();
        assert_eq!(
            aria.info_hash, lt.info_hash,
            "upper- and lower-case escapes"
        );
        assert!(aria.peer_id.starts_with(b"A2-1-36-0-"));
        assert_eq!(
            (aria.port, aria.left, aria.event, aria.numwant),
            (18082, Some(2_000_000), Event::Started, Some(50))
        );
    }

    #[test]
    fn a_raw_plus_in_an_id_is_the_byte_0x2b_and_escapes_are_literal() {
        let raw = "info_hash=%2B%25+aaaaaaaaaaaaaaaaa&peer_id=-qB4650-abcd+fghijkl&port=1";
        let q = parse_announce(raw.as_bytes()).unwrap();
        assert_eq!(&q.info_hash[..3], b"+%+");
        assert_eq!(&q.peer_id[..13], b"-qB4650-abcd+");
        assert_eq!(q.left, None);
        // A space in an id is still written %20.
        let raw = "info_hash=%20aaaaaaaaaaaaaaaaaaa&peer_id=-qB4650-abcdefghijkl&port=1";
        assert_eq!(parse_announce(raw.as_bytes()).unwrap().info_hash[0], b' ');
        // Scrape reads ids the same way.
        let mut hashes = Vec::new();
        parse_scrape(b"info_hash=+aaaaaaaaaaaaaaaaaaa", 8, &mut hashes).unwrap();
        assert_eq!(hashes[0][0], b'+');
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let bad = |q: &str| parse_announce(q.as_bytes()).unwrap_err();
        assert_eq!(
            bad("peer_id=-qB4650-abcdefghijkl&port=1"),
            QueryError::Missing("info_hash")
        );
        assert_eq!(
            parse_announce(&format!("{BASE}&info_hash=short").into_bytes()).unwrap_err(),
            QueryError::BadLength {
                field: "info_hash",
                len: 5
            }
        );
        assert!(matches!(
            parse_announce(&format!("{BASE}&info_hash={}", "a".repeat(21)).into_bytes()),
            Err(QueryError::BadLength {
                field: "info_hash",
                ..
            })
        ));
        assert_eq!(
            parse_announce(&format!("{BASE}&info_hash=%zzaaaaaaaaaaaaaaaaaaa").into_bytes())
                .unwrap_err(),
            QueryError::BadEscape("info_hash")
        );
        let port0 = String::from_utf8(query(""))
            .unwrap()
            .replace("port=6881", "port=0");
        assert_eq!(bad(&port0), QueryError::BadPort);
        let port_big = String::from_utf8(query(""))
            .unwrap()
            .replace("port=6881", "port=65536");
        assert_eq!(bad(&port_big), QueryError::BadPort);
        let left = String::from_utf8(query(""))
            .unwrap()
            .replace("left=10", "left=ten");
        assert_eq!(bad(&left), QueryError::BadNumber("left"));
    }

    #[test]
    fn lenient_where_clients_differ() {
        for event in ["paused", "", "weird"] {
            let q = parse_announce(&query(&format!("&event={event}"))).unwrap();
            assert_eq!(q.event, Event::None, "{event}");
        }
        assert_eq!(
            parse_announce(&query("&numwant=lots")).unwrap().numwant,
            None
        );
        assert_eq!(parse_announce(&query("&numwant=-5")).unwrap().numwant, None);
        assert_eq!(
            parse_announce(&query("&numwant=0")).unwrap().numwant,
            Some(0)
        );
        let q = parse_announce(&query("&compact=0&no_peer_id=1&ip=1.2.3.4")).unwrap();
        assert!(!q.compact && q.no_peer_id);
        let negative = String::from_utf8(query(""))
            .unwrap()
            .replace("left=10", "left=-1");
        assert_eq!(parse_announce(negative.as_bytes()).unwrap().left, None);
    }

    #[test]
    fn scrape_reads_several_hashes_with_a_cap() {
        let mut out = Vec::new();
        let q = format!(
            "info_hash={}&info_hash={}",
            "a".repeat(20),
            "%62".repeat(20)
        );
        parse_scrape(q.as_bytes(), 2, &mut out).unwrap();
        assert_eq!(out, vec![[b'a'; 20], [b'b'; 20]]);
        assert_eq!(
            parse_scrape(q.as_bytes(), 1, &mut out),
            Err(QueryError::TooManyHashes(1))
        );
        parse_scrape(b"", 2, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn scrape_path_follows_the_announce_path() {
        assert_eq!(scrape_path("/announce").as_deref(), Some("/scrape"));
        assert_eq!(
            scrape_path("/x/announce.php").as_deref(),
            Some("/x/scrape.php")
        );
        assert_eq!(scrape_path("/a/announcex").as_deref(), Some("/a/scrapex"));
        assert_eq!(scrape_path("/tracker"), None);
        assert_eq!(scrape_path("/announce/x"), None);
    }

    fn head() -> ReplyHead {
        ReplyHead {
            interval: 1800,
            min_interval: 900,
            counts: Counts {
                seeders: 3,
                leechers: 4,
                completed: 5,
            },
            external_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        }
    }

    #[test]
    fn compact_reply_is_canonical_bencode() {
        let mut out = Vec::new();
        write_compact(&mut out, &head(), &[1, 2, 3, 4, 0, 80], &[]);
        let expected = bencode::dict([
            ("complete", Bencode::Int(3)),
            ("downloaded", Bencode::Int(5)),
            ("external ip", Bencode::Bytes(vec![127, 0, 0, 1])),
            ("incomplete", Bencode::Int(4)),
            ("interval", Bencode::Int(1800)),
            ("min interval", Bencode::Int(900)),
            ("peers", Bencode::Bytes(vec![1, 2, 3, 4, 0, 80])),
            ("peers6", Bencode::Bytes(vec![])),
        ]);
        assert_eq!(out, expected.encode());
    }

    #[test]
    fn dict_reply_lists_peers_with_optional_ids() {
        let mut out = Vec::new();
        let peers = [DictPeer {
            ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 7,
            peer_id: Some([b'p'; 20]),
        }];
        write_dict(&mut out, &head(), &peers);
        let value = bencode::decode(&out).unwrap();
        let peer = &value.get(b"peers").unwrap().as_list().unwrap()[0];
        assert_eq!(peer.get(b"ip").unwrap().as_str(), Some("::1"));
        assert_eq!(peer.get(b"port").unwrap().as_int(), Some(7));
        assert_eq!(
            peer.get(b"peer id").unwrap().as_bytes(),
            Some(&[b'p'; 20][..])
        );
    }

    #[test]
    fn failure_and_scrape_replies() {
        let mut out = Vec::new();
        write_failure(&mut out, "nope");
        assert_eq!(out, b"d14:failure reason4:nopee");
        out.clear();
        write_scrape(
            &mut out,
            &[([b'z'; 20], head().counts), ([b'a'; 20], Counts::default())],
        );
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei0e"),
            "{text}"
        );
        assert!(
            text.contains("zzzzd8:completei3e10:downloadedi5e10:incompletei4ee"),
            "{text}"
        );
    }

    #[test]
    fn cidr_and_forwarded_for() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let host: Cidr = "::1".parse().unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("0.0.0.0/0"
            .parse::<Cidr>()
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert_eq!(
            rightmost_forwarded(b"1.1.1.1, 2.2.2.2 , 203.0.113.9"),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(rightmost_forwarded(b"1.1.1.1, junk"), None);
    }

    fn arb_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|b| IpAddr::V4(b.into())),
            any::<[u8; 16]>().prop_map(|b| IpAddr::V6(b.into())),
        ]
    }

    fn arb_counts() -> impl Strategy<Value = Counts> {
        any::<(u32, u32, u32)>().prop_map(|(seeders, leechers, completed)| Counts {
            seeders,
            leechers,
            completed,
        })
    }

    fn arb_head() -> impl Strategy<Value = ReplyHead> {
        (any::<u32>(), any::<u32>(), arb_counts(), arb_ip()).prop_map(
            |(interval, min_interval, counts, external_ip)| ReplyHead {
                interval,
                min_interval,
                counts,
                external_ip,
            },
        )
    }

    /// What every announce reply carries, as bendy should read it.
    fn head_entries(head: &ReplyHead) -> Vec<(&'static str, strict::Strict<'static>)> {
        let ip = match head.external_ip {
            IpAddr::V4(ip) => ip.octets().to_vec(),
            IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        vec![
            ("complete", int(head.counts.seeders)),
            ("downloaded", int(head.counts.completed)),
            ("external ip", bytes(ip)),
            ("incomplete", int(head.counts.leechers)),
            ("interval", int(head.interval)),
            ("min interval", int(head.min_interval)),
        ]
    }

    use crate::bencode::strict::{self, bytes, dict, int, list};

    proptest! {
        /// The hand-written compact reply, the BEP 3 dictionary reply,
        /// scrape and failure replies are canonical to bendy's strict
        /// decoder and say what they were given.
        #[test]
        fn replies_are_canonical_to_bendy(
            head in arb_head(),
            peers in proptest::collection::vec(any::<[u8; 6]>(), 0..8),
            peers6 in proptest::collection::vec(any::<[u8; 18]>(), 0..8),
            dict_peers in proptest::collection::vec(
                (arb_ip(), any::<u16>(), proptest::option::of(any::<[u8; 20]>())),
                0..6,
            ),
            // A few fixed hashes, so repeats happen.
            files in proptest::collection::vec(
                (prop_oneof![any::<[u8; 20]>(), (0u8..3).prop_map(|b| [b; 20])], arb_counts()),
                0..6,
            ),
            reason in ".{0,40}",
        ) {
            let (peers, peers6) = (peers.concat(), peers6.concat());
            let mut out = Vec::new();
            write_compact(&mut out, &head, &peers, &peers6);
            let mut expected = head_entries(&head);
            expected.push(("peers", bytes(peers)));
            expected.push(("peers6", bytes(peers6)));
            prop_assert_eq!(strict::check(&out), Ok(dict(expected)));

            let dict_peers: Vec<DictPeer> = dict_peers
                .into_iter()
                .map(|(ip, port, peer_id)| DictPeer { ip, port, peer_id })
                .collect();
            out.clear();
            write_dict(&mut out, &head, &dict_peers);
            let mut expected = head_entries(&head);
            expected.push(("peers", list(dict_peers.iter().map(|p| {
                let mut entries = vec![("ip", bytes(p.ip.to_string())), ("port", int(p.port))];
                entries.extend(p.peer_id.map(|id| ("peer id", bytes(id))));
                dict(entries)
            }))));
            prop_assert_eq!(strict::check(&out), Ok(dict(expected)));

            out.clear();
            write_scrape(&mut out, &files);
            // Repeated hashes collapse into one entry (the last one's counts).
            let by_hash: std::collections::BTreeMap<_, _> = files.iter().copied().collect();
            let expected = dict([("files", dict(by_hash.iter().map(|(hash, c)| (hash, dict([
                ("complete", int(c.seeders)),
                ("downloaded", int(c.completed)),
                ("incomplete", int(c.leechers)),
            ])))))]);
            prop_assert_eq!(strict::check(&out), Ok(expected));

            out.clear();
            write_failure(&mut out, &reason);
            let expected = dict([("failure reason", bytes(reason.as_bytes()))]);
            prop_assert_eq!(strict::check(&out), Ok(expected));
        }

        #[test]
        fn binary_ids_round_trip_through_percent_encoding(hash in any::<[u8; 20]>(), id in any::<[u8; 20]>(), port in 1u16..) {
            let enc = |b: &[u8]| percent_encoding::percent_encode(b, percent_encoding::NON_ALPHANUMERIC).to_string();
            let q = format!("info_hash={}&peer_id={}&port={port}&left=0", enc(&hash), enc(&id));
            let parsed = parse_announce(q.as_bytes()).unwrap();
            prop_assert_eq!((parsed.info_hash, parsed.peer_id, parsed.port, parsed.left), (hash, id, port, Some(0)));
        }

        #[test]
        fn arbitrary_queries_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_announce(&bytes);
            let _ = parse_scrape(&bytes, 10, &mut Vec::new());
        }

        #[test]
        fn compact_replies_decode(seeders in any::<u32>(), peers in proptest::collection::vec(any::<u8>(), 0..60)) {
            let mut out = Vec::new();
            let mut h = head();
            h.counts.seeders = seeders;
            write_compact(&mut out, &h, &peers, &peers);
            let value = bencode::decode(&out).unwrap();
            prop_assert_eq!(value.get(b"complete").and_then(|v| v.as_int()), Some(i64::from(seeders)));
            prop_assert_eq!(value.get(b"peers6").and_then(|v| v.as_bytes()), Some(&peers[..]));
        }
    }
}
