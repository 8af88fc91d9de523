//! HTTP tracker client codec (BEP 3, 7, 23, 48): the announce and scrape
//! URLs we request, and the bencoded replies we read.
//!
//! Lenient about keys we do not know, strict about the ones we do: a
//! compact peer string whose length is not a multiple of 6 (18 for
//! `peers6`) is an error rather than a silently truncated peer list. No I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{AnnounceReply, Event, ScrapeCounts};
use crate::bencode::{self, Bencode, DecodeError, Value};

/// Bytes left as they are in a query value (RFC 3986 unreserved); every
/// other byte of a binary hash or peer id becomes `%XX` (BEP 3).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The fields of one announce, whatever the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceParams {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub numwant: u32,
    pub key: u32,
    pub event: Event,
    /// Sent back as `trackerid` once a tracker gave one.
    pub tracker_id: Option<Vec<u8>>,
}

/// Why an HTTP tracker reply is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply is not bencode: {0}")]
    Bencode(#[from] DecodeError),
    #[error("reply is a {0}, not a dictionary")]
    NotDict(&'static str),
    /// The tracker refused: its `failure reason`, verbatim.
    #[error("tracker says: {0}")]
    Failure(String),
    #[error("`{key}` is {why}")]
    BadField { key: &'static str, why: String },
}

fn bad(key: &'static str, why: impl Into<String>) -> ReplyError {
    ReplyError::BadField {
        key,
        why: why.into(),
    }
}

/// The announce URL: the tracker URL (its query kept, any fragment
/// dropped) with our parameters appended. `event` is omitted for a
/// regular announce, as BEP 3 asks.
pub fn announce_url(tracker: &str, p: &AnnounceParams) -> String {
    let base = tracker.split('#').next().unwrap_or(tracker);
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    url.push_str(sep);
    url.push_str("info_hash=");
    url.extend(percent_encode(&p.info_hash, QUERY_VALUE));
    url.push_str("&peer_id=");
    url.extend(percent_encode(&p.peer_id, QUERY_VALUE));
    url.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}&key={:08x}",
        p.port, p.uploaded, p.downloaded, p.left, p.numwant, p.key
    ));
    if p.event != Event::Regular {
        url.push_str("&event=");
        url.push_str(p.event.as_str());
    }
    if let Some(id) = &p.tracker_id {
        url.push_str("&trackerid=");
        url.extend(percent_encode(id, QUERY_VALUE));
    }
    url
}

/// BEP 48: the scrape URL exists only when the last path segment starts
/// with `announce`; that word becomes `scrape`, the rest (and the query)
/// stays. `None` means the tracker has no scrape convention.
pub fn scrape_url(tracker: &str) -> Option<String> {
    let tracker = tracker.split('#').next().unwrap_or(tracker);
    let (before_query, query) = match tracker.find('?') {
        Some(at) => tracker.split_at(at),
        None => (tracker, ""),
    };
    let authority_start = before_query.find("://")? + 3;
    let path_start = authority_start + before_query[authority_start..].find('/')?;
    let last_slash = path_start + before_query[path_start..].rfind('/')?;
    let segment = &before_query[last_slash + 1..];
    let rest = segment.strip_prefix("announce")?;
    Some(format!(
        "{}scrape{rest}{query}",
        &before_query[..=last_slash]
    ))
}

/// A scrape URL for one info hash (BEP 48).
pub fn scrape_url_for(scrape: &str, info_hash: &[u8; 20]) -> String {
    let sep = if scrape.contains('?') { '&' } else { '?' };
    let hash: String = percent_encode(info_hash, QUERY_VALUE).collect();
    format!("{scrape}{sep}info_hash={hash}")
}

fn count(dict: &Value<'_>, key: &'static str) -> Result<Option<u64>, ReplyError> {
    match dict.get(key.as_bytes()) {
        None => Ok(None),
        Some(v) => match v.as_int() {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            Some(n) => Err(bad(key, format!("negative ({n})"))),
            None => Err(bad(key, format!("a {}, not an integer", v.type_name()))),
        },
    }
}

fn seconds(dict: &Value<'_>, key: &'static str) -> Result<Option<u32>, ReplyError> {
    Ok(count(dict, key)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

fn text(dict: &Value<'_>, key: &'static str) -> Option<String> {
    dict.get(key.as_bytes())
        .and_then(Value::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Parses an announce reply. A `failure reason` wins over everything else
/// (BEP 3: when present, no other key is meaningful).
pub fn parse_announce(body: &[u8]) -> Result<AnnounceReply, ReplyError> {
    let value = bencode::decode(body)?;
    if value.as_dict().is_none() {
        return Err(ReplyError::NotDict(value.type_name()));
    }
    if let Some(reason) = value.get(b"failure reason") {
        let reason = reason
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| format!("(a {})", reason.type_name()));
        return Err(ReplyError::Failure(reason));
    }
    let mut peers = Vec::new();
    match value.get(b"peers") {
        None => {}
        Some(v) => match &v.kind {
            bencode::Kind::Bytes(b) => compact_v4("peers", b, &mut peers)?,
            bencode::Kind::List(items) => dict_peers(items, &mut peers)?,
            _ => return Err(bad("peers", format!("a {}", v.type_name()))),
        },
    }
    if let Some(v) = value.get(b"peers6") {
        let b = v
            .as_bytes()
            .ok_or_else(|| bad("peers6", format!("a {}, not a string", v.type_name())))?;
        compact_v6(b, &mut peers)?;
    }
    Ok(AnnounceReply {
        interval: seconds(&value, "interval")?,
        min_interval: seconds(&value, "min interval")?,
        seeders: count(&value, "complete")?,
        leechers: count(&value, "incomplete")?,
        downloaded: count(&value, "downloaded")?,
        warning: text(&value, "warning message"),
        tracker_id: value
            .get(b"tracker id")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
        peers,
    })
}

fn compact_v4(key: &'static str, b: &[u8], out: &mut Vec<SocketAddr>) -> Result<(), ReplyError> {
    if b.len() % 6 != 0 {
        return Err(bad(key, format!("{} bytes, not a multiple of 6", b.len())));
    }
    for c in b.chunks_exact(6) {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        out.push(SocketAddr::new(
            IpAddr::V4(ip),
            u16::from_be_bytes([c[4], c[5]]),
        ));
    }
    Ok(())
}

fn compact_v6(b: &[u8], out: &mut Vec<SocketAddr>) -> Result<(), ReplyError> {
    if b.len() % 18 != 0 {
        return Err(bad(
            "peers6",
            format!("{} bytes, not a multiple of 18", b.len()),
        ));
    }
    for c in b.chunks_exact(18) {
        let mut ip = [0; 16];
        ip.copy_from_slice(&c[..16]);
        let port = u16::from_be_bytes([c[16], c[17]]);
        out.push(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port));
    }
    Ok(())
}

/// BEP 3 dictionary peers. An `ip` that is a host name rather than an
/// address is skipped: we never resolve names handed to us by a tracker.
fn dict_peers(items: &[Value<'_>], out: &mut Vec<SocketAddr>) -> Result<(), ReplyError> {
    for item in items {
        if item.as_dict().is_none() {
            return Err(bad(
                "peers",
                format!("a list holding a {}", item.type_name()),
            ));
        }
        let port = count(item, "port")?.ok_or_else(|| bad("peers", "an entry without port"))?;
        let port = u16::try_from(port).map_err(|_| bad("peers", format!("port {port}")))?;
        let Some(ip) = item.get(b"ip").and_then(Value::as_str) else {
            return Err(bad("peers", "an entry without a text ip"));
        };
        if let Ok(ip) = ip.parse::<IpAddr>() {
            out.push(SocketAddr::new(ip, port));
        }
    }
    Ok(())
}

/// Counts for `info_hash` from a scrape reply's `files` dictionary;
/// `Ok(None)` when the tracker does not list that torrent.
pub fn parse_scrape(body: &[u8], info_hash: &[u8; 20]) -> Result<Option<ScrapeCounts>, ReplyError> {
    let value = bencode::decode(body)?;
    if value.as_dict().is_none() {
        return Err(ReplyError::NotDict(value.type_name()));
    }
    if let Some(reason) = text(&value, "failure reason") {
        return Err(ReplyError::Failure(reason));
    }
    let Some(files) = value.get(b"files") else {
        return Ok(None);
    };
    let Some(entries) = files.as_dict() else {
        return Err(bad("files", format!("a {}", files.type_name())));
    };
    let Some((_, entry)) = entries.iter().find(|(k, _)| *k == info_hash) else {
        return Ok(None);
    };
    Ok(Some(ScrapeCounts {
        seeders: count(entry, "complete")?.unwrap_or(0),
        leechers: count(entry, "incomplete")?.unwrap_or(0),
        downloaded: count(entry, "downloaded")?.unwrap_or(0),
    }))
}

/// Encodes a reply the way a tracker would (compact peers), for tests,
/// fuzzing and fake trackers; [`parse_announce`] reads it back unchanged.
pub fn encode_announce(reply: &AnnounceReply) -> Vec<u8> {
    let mut entries = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: Bencode| {
        entries.insert(k.as_bytes().to_vec(), v);
    };
    let int = |n: u64| Bencode::Int(i64::try_from(n).unwrap_or(i64::MAX));
    if let Some(n) = reply.interval {
        put("interval", int(n.into()));
    }
    if let Some(n) = reply.min_interval {
        put("min interval", int(n.into()));
    }
    if let Some(n) = reply.seeders {
        put("complete", int(n));
    }
    if let Some(n) = reply.leechers {
        put("incomplete", int(n));
    }
    if let Some(n) = reply.downloaded {
        put("downloaded", int(n));
    }
    if let Some(w) = &reply.warning {
        put("warning message", Bencode::from(w.as_str()));
    }
    if let Some(id) = &reply.tracker_id {
        put("tracker id", Bencode::Bytes(id.clone()));
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for peer in &reply.peers {
        match peer.ip() {
            IpAddr::V4(ip) => v4.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => v6.extend_from_slice(&ip.octets()),
        }
        let out = if peer.is_ipv4() { &mut v4 } else { &mut v6 };
        out.extend_from_slice(&peer.port().to_be_bytes());
    }
    put("peers", Bencode::Bytes(v4));
    if !v6.is_empty() {
        put("peers6", Bencode::Bytes(v6));
    }
    Bencode::Dict(entries).encode()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn params(event: Event) -> AnnounceParams {
        AnnounceParams {
            info_hash: *b"\x00\x01 ab~-._\xff%&=+/?#\x7fzZ",
            peer_id: *b"-MK0100-abcdefghijkl",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 0,
            numwant: 50,
            key: 0xdead_beef,
            event,
            tracker_id: None,
        }
    }

    #[test]
    fn announce_url_encodes_bytes_and_keeps_the_query() {
        let url = announce_url(
            "http://t.example/announce?passkey=x#frag",
            &params(Event::Started),
        );
        assert_eq!(
            url,
            "http://t.example/announce?passkey=x&info_hash=%00%01%20ab~-._%FF%25%26%3D%2B%2F%3F%23%7FzZ\
             &peer_id=-MK0100-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=0&compact=1\
             &numwant=50&key=deadbeef&event=started"
        );
        let url = announce_url("http://t/a", &params(Event::Regular));
        assert!(url.starts_with("http://t/a?info_hash="));
        assert!(!url.contains("event="));
        let url = announce_url("http://t/a?", &params(Event::Stopped));
        assert!(url.starts_with("http://t/a?info_hash="), "{url}");
        let url = announce_url("http://t/a?x=1&", &params(Event::Completed));
        assert!(url.starts_with("http://t/a?x=1&info_hash="), "{url}");
        assert!(url.ends_with("&event=completed"));
        let mut p = params(Event::Regular);
        p.tracker_id = Some(b"id 1".to_vec());
        assert!(announce_url("http://t/a", &p).ends_with("&trackerid=id%201"));
    }

    #[test]
    fn announce_url_is_read_back_by_our_tracker() {
        let p = params(Event::Started);
        let url = announce_url("http://t/announce", &p);
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let parsed = crate::tracker::http_proto::parse_announce(query.as_bytes()).unwrap();
        assert_eq!(parsed.info_hash, p.info_hash);
        assert_eq!(parsed.peer_id, p.peer_id);
        assert_eq!(parsed.port, p.port);
    }

    #[test]
    fn scrape_url_follows_bep_48() {
        let cases = [
            ("http://e.com/announce", Some("http://e.com/scrape")),
            ("http://e.com/x/announce", Some("http://e.com/x/scrape")),
            ("http://e.com/announce.php", Some("http://e.com/scrape.php")),
            ("http://e.com/a", None),
            (
                "http://e.com/announce?x2%0644",
                Some("http://e.com/scrape?x2%0644"),
            ),
            ("http://e.com/x%064announce", None),
            ("http://e.com/announce/x", None),
            ("http://e.com", None),
            ("http://e.com?announce", None),
        ];
        for (tracker, want) in cases {
            assert_eq!(scrape_url(tracker).as_deref(), want, "{tracker}");
        }
        assert_eq!(
            scrape_url_for("http://e.com/scrape?k=1", &[0x41; 20]),
            format!("http://e.com/scrape?k=1&info_hash={}", "A".repeat(20))
        );
    }

    #[test]
    fn replies_are_parsed() {
        let body = b"d8:completei5e10:downloadedi7e10:incompletei2e8:intervali1800e\
            12:min intervali900e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50\
            6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2\
            10:tracker id3:abc15:warning message4:slow5:extrai1ee";
        let reply = parse_announce(body).unwrap();
        assert_eq!(reply.interval, Some(1800));
        assert_eq!(reply.min_interval, Some(900));
        assert_eq!(
            (reply.seeders, reply.leechers, reply.downloaded),
            (Some(5), Some(2), Some(7))
        );
        assert_eq!(reply.warning.as_deref(), Some("slow"));
        assert_eq!(reply.tracker_id.as_deref(), Some(&b"abc"[..]));
        let peers: Vec<String> = reply.peers.iter().map(ToString::to_string).collect();
        assert_eq!(peers, ["127.0.0.1:6881", "10.0.0.2:80", "[::1]:6882"]);

        let dict = b"d8:intervali60e5:peersld2:ip9:127.0.0.14:porti1ee\
            d2:ip3:::17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti2eed2:ip5:a.com4:porti3eeee";
        let reply = parse_announce(dict).unwrap();
        let peers: Vec<String> = reply.peers.iter().map(ToString::to_string).collect();
        assert_eq!(peers, ["127.0.0.1:1", "[::1]:2"]);
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(
            parse_announce(b"d14:failure reason9:not knowne")
                .unwrap_err()
                .to_string(),
            "tracker says: not known"
        );
        assert_eq!(
            parse_announce(b"d5:peers5:abcdee").unwrap_err().to_string(),
            "`peers` is 5 bytes, not a multiple of 6"
        );
        assert!(parse_announce(b"d6:peers65:abcdee").is_err());
        assert!(parse_announce(b"d8:intervali-1ee").is_err());
        assert!(parse_announce(b"d8:interval1:xe").is_err());
        assert!(parse_announce(b"le").is_err());
        assert!(parse_announce(b"<html>").is_err());
        assert!(parse_announce(b"d5:peersld4:porti1eeee").is_err());
        assert!(parse_announce(b"d5:peersld2:ip1:x4:porti70000eeee").is_err());
    }

    #[test]
    fn scrape_replies_are_parsed() {
        let hash = [b'h'; 20];
        let mut body = b"d5:filesd20:".to_vec();
        body.extend_from_slice(&hash);
        body.extend_from_slice(b"d8:completei3e10:downloadedi5e10:incompletei4eeee");
        assert_eq!(
            parse_scrape(&body, &hash).unwrap(),
            Some(ScrapeCounts {
                seeders: 3,
                leechers: 4,
                downloaded: 5
            })
        );
        assert_eq!(parse_scrape(&body, &[0; 20]).unwrap(), None);
        assert_eq!(parse_scrape(b"de", &hash).unwrap(), None);
        assert!(parse_scrape(b"d5:filesi1ee", &hash).is_err());
    }

    fn arb_peer() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        ]
    }

    proptest! {
        #[test]
        fn encoded_replies_parse_back(
            interval in proptest::option::of(any::<u32>()),
            min_interval in proptest::option::of(any::<u32>()),
            seeders in proptest::option::of(0..i64::MAX as u64),
            leechers in proptest::option::of(0..i64::MAX as u64),
            downloaded in proptest::option::of(0..i64::MAX as u64),
            warning in proptest::option::of(".*"),
            tracker_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30)),
            mut peers in proptest::collection::vec(arb_peer(), 0..20),
        ) {
            // Parsing yields IPv4 peers first.
            peers.sort_by_key(SocketAddr::is_ipv6);
            let reply = AnnounceReply {
                interval, min_interval, seeders, leechers, downloaded, warning, tracker_id, peers,
            };
            prop_assert_eq!(parse_announce(&encode_announce(&reply)), Ok(reply));
        }

        #[test]
        fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_announce(&body);
            let _ = parse_scrape(&body, &[0; 20]);
        }
    }
}
