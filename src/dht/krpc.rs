//! KRPC (BEP 5): the bencoded query / response / error messages of the DHT,
//! with BEP 32 (`nodes6`, `want`), BEP 42 (`ip`), BEP 43 (`ro`) and BEP 51
//! (`sample_infohashes`).
//!
//! Pure: bytes in, [`Message`] out and back. Decoding tells the caller what
//! to do with bad input: [`DecodeError::Drop`] (not KRPC at all, or a reply
//! we cannot use: say nothing) or [`DecodeError::Reply`] (a query whose
//! arguments are wrong: answer with that error). Transaction ids are opaque
//! byte strings of any length and are carried verbatim.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bencode::{self, Bencode, Value};

use super::id::Id;

/// BEP 5 error codes.
pub const ERROR_GENERIC: i64 = 201;
pub const ERROR_SERVER: i64 = 202;
pub const ERROR_PROTOCOL: i64 = 203;
pub const ERROR_METHOD_UNKNOWN: i64 = 204;

/// One KRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `t`: chosen by the querier, echoed verbatim in the reply.
    pub transaction_id: Vec<u8>,
    pub body: Body,
    /// `v`: the sender's client version, if it says.
    pub version: Option<Vec<u8>>,
    /// `ip` (BEP 42): in replies, the querier's address as the replier saw it.
    pub ip: Option<SocketAddr>,
    /// `ro` (BEP 43): the querier is read-only and must not be added to routing tables.
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Query(Query),
    Response(Response),
    Error { code: i64, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The querier's node id.
    pub id: Id,
    pub method: Method,
}

/// BEP 32 `want`: which address families the querier wants nodes for. Both
/// false means "not said": answer with the family the query came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    pub v4: bool,
    pub v6: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Ping,
    FindNode {
        target: Id,
        want: Want,
    },
    GetPeers {
        info_hash: Id,
        want: Want,
    },
    AnnouncePeer {
        info_hash: Id,
        /// The TCP port the peer listens on (ignored when `implied_port`).
        port: u16,
        /// Use the UDP source port instead of `port` (behind NAT).
        implied_port: bool,
        token: Vec<u8>,
    },
    /// BEP 51.
    SampleInfohashes {
        target: Id,
        want: Want,
    },
    /// A method we do not know; `target` (or `info_hash`) if it had one, so
    /// the caller can answer like find_node.
    Unknown {
        name: Vec<u8>,
        target: Option<Id>,
    },
}

/// A reply. KRPC replies do not name their method, so every field the
/// methods we send can get back is optional here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub id: Id,
    /// Compact IPv4 node info (BEP 5).
    pub nodes: Vec<NodeInfo>,
    /// Compact IPv6 node info (BEP 32).
    pub nodes6: Vec<NodeInfo>,
    /// Peers of the info hash (get_peers).
    pub values: Vec<SocketAddr>,
    pub token: Option<Vec<u8>>,
    /// BEP 51: info hashes the replier stores, with refresh `interval` and total `num`.
    pub samples: Option<Vec<Id>>,
    pub interval: Option<i64>,
    pub num: Option<i64>,
}

/// A node's id and UDP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    pub id: Id,
    pub addr: SocketAddr,
}

/// Why a datagram was not a usable message, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not KRPC, or nothing we could answer: drop without replying.
    #[error("dropped: {0}")]
    Drop(&'static str),
    /// A query with bad arguments: reply with this error, echoing the id.
    #[error("error {code}: {message}")]
    Reply {
        transaction_id: Vec<u8>,
        code: i64,
        message: &'static str,
    },
}

/// Decodes one datagram.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    // uTP and other traffic on a shared port never starts with `d`.
    if bytes.first() != Some(&b'd') {
        return Err(DecodeError::Drop("not a bencoded dictionary"));
    }
    let value = bencode::decode(bytes).map_err(|_| DecodeError::Drop("malformed bencode"))?;
    let transaction_id = value
        .get(b"t")
        .and_then(Value::as_bytes)
        .ok_or(DecodeError::Drop("no transaction id"))?
        .to_vec();
    let version = value
        .get(b"v")
        .and_then(Value::as_bytes)
        .map(<[u8]>::to_vec);
    let ip = value
        .get(b"ip")
        .and_then(Value::as_bytes)
        .and_then(decode_addr);
    let read_only = value.get(b"ro").and_then(Value::as_int) == Some(1);
    let kind = value
        .get(b"y")
        .and_then(Value::as_bytes)
        .ok_or(DecodeError::Drop("no message type"))?;
    let body = match kind {
        b"q" => Body::Query(decode_query(&value).map_err(|message| DecodeError::Reply {
            transaction_id: transaction_id.clone(),
            code: ERROR_PROTOCOL,
            message,
        })?),
        b"r" => Body::Response(decode_response(&value).map_err(DecodeError::Drop)?),
        b"e" => {
            let list = value.get(b"e").and_then(Value::as_list).unwrap_or(&[]);
            let code = list
                .first()
                .and_then(Value::as_int)
                .unwrap_or(ERROR_GENERIC);
            let message = list
                .get(1)
                .and_then(Value::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Body::Error { code, message }
        }
        _ => return Err(DecodeError::Drop("unknown message type")),
    };
    Ok(Message {
        transaction_id,
        body,
        version,
        ip,
        read_only,
    })
}

fn id_at(dict: &Value<'_>, key: &[u8], missing: &'static str) -> Result<Id, &'static str> {
    dict.get(key)
        .and_then(Value::as_bytes)
        .and_then(Id::from_slice)
        .ok_or(missing)
}

fn decode_want(args: &Value<'_>) -> Want {
    let mut want = Want::default();
    for item in args.get(b"want").and_then(Value::as_list).unwrap_or(&[]) {
        match item.as_bytes() {
            Some(b"n4") => want.v4 = true,
            Some(b"n6") => want.v6 = true,
            _ => {}
        }
    }
    want
}

fn decode_query(value: &Value<'_>) -> Result<Query, &'static str> {
    let name = value
        .get(b"q")
        .and_then(Value::as_bytes)
        .ok_or("query without a method name")?;
    let args = value
        .get(b"a")
        .filter(|a| a.as_dict().is_some())
        .ok_or("query without an argument dictionary")?;
    let id = id_at(args, b"id", "missing or malformed id")?;
    let method = match name {
        b"ping" => Method::Ping,
        b"find_node" => Method::FindNode {
            target: id_at(args, b"target", "missing or malformed target")?,
            want: decode_want(args),
        },
        b"get_peers" => Method::GetPeers {
            info_hash: id_at(args, b"info_hash", "missing or malformed info_hash")?,
            want: decode_want(args),
        },
        b"announce_peer" => {
            let info_hash = id_at(args, b"info_hash", "missing or malformed info_hash")?;
            // BEP 5: absent implied_port means 0.
            let implied_port = args
                .get(b"implied_port")
                .and_then(Value::as_int)
                .is_some_and(|v| v != 0);
            let port = match args.get(b"port").and_then(Value::as_int) {
                Some(p) => u16::try_from(p).map_err(|_| "port out of range")?,
                None if implied_port => 0,
                None => return Err("missing port"),
            };
            let token = args
                .get(b"token")
                .and_then(Value::as_bytes)
                .ok_or("missing token")?
                .to_vec();
            Method::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            }
        }
        b"sample_infohashes" => Method::SampleInfohashes {
            target: id_at(args, b"target", "missing or malformed target")?,
            want: decode_want(args),
        },
        other => Method::Unknown {
            name: other.to_vec(),
            target: id_at(args, b"target", "")
                .or_else(|_| id_at(args, b"info_hash", ""))
                .ok(),
        },
    };
    Ok(Query { id, method })
}

fn decode_response(value: &Value<'_>) -> Result<Response, &'static str> {
    let r = value
        .get(b"r")
        .filter(|r| r.as_dict().is_some())
        .ok_or("response without a reply dictionary")?;
    let id = id_at(r, b"id", "response without a valid id")?;
    let bytes = |key: &[u8]| r.get(key).and_then(Value::as_bytes).unwrap_or(&[]);
    // Lenient: a trailing partial entry is ignored rather than losing the rest.
    let nodes = bytes(b"nodes")
        .chunks_exact(26)
        .filter_map(decode_node)
        .collect();
    let nodes6 = bytes(b"nodes6")
        .chunks_exact(38)
        .filter_map(decode_node)
        .collect();
    let values = r
        .get(b"values")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.as_bytes().and_then(decode_addr))
        .collect();
    let samples = r.get(b"samples").and_then(Value::as_bytes).map(|s| {
        s.chunks_exact(20)
            .filter_map(Id::from_slice)
            .collect::<Vec<_>>()
    });
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token: r
            .get(b"token")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
        samples,
        interval: r.get(b"interval").and_then(Value::as_int),
        num: r.get(b"num").and_then(Value::as_int),
    })
}

/// Compact node info (BEP 5: 20-byte id + 4-byte IPv4 + 2-byte port; BEP 32:
/// 20-byte id + 16-byte IPv6 + 2-byte port).
fn decode_node(chunk: &[u8]) -> Option<NodeInfo> {
    Some(NodeInfo {
        id: Id::from_slice(&chunk[..20])?,
        addr: decode_addr(&chunk[20..])?,
    })
}

/// Compact peer info: 4- or 16-byte address then 2-byte big-endian port.
pub fn decode_addr(bytes: &[u8]) -> Option<SocketAddr> {
    let ip = match bytes.len() {
        6 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&bytes[..4]).ok()?)),
        18 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?)),
        _ => return None,
    };
    let port = u16::from_be_bytes([bytes[bytes.len() - 2], bytes[bytes.len() - 1]]);
    Some(SocketAddr::new(ip, port))
}

pub fn encode_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn encode_nodes(nodes: &[NodeInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * 38);
    for node in nodes {
        out.extend_from_slice(&node.id.0);
        encode_addr(&node.addr, &mut out);
    }
    out
}

fn id_value(id: &Id) -> Bencode {
    Bencode::Bytes(id.0.to_vec())
}

fn want_value(want: Want) -> Option<Bencode> {
    let mut list = Vec::new();
    if want.v4 {
        list.push(Bencode::from("n4"));
    }
    if want.v6 {
        list.push(Bencode::from("n6"));
    }
    (!list.is_empty()).then_some(Bencode::List(list))
}

impl Message {
    /// Canonical bencoding of this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut top = std::collections::BTreeMap::new();
        let mut put = |key: &str, value: Bencode| {
            top.insert(key.as_bytes().to_vec(), value);
        };
        put("t", Bencode::Bytes(self.transaction_id.clone()));
        if let Some(v) = &self.version {
            put("v", Bencode::Bytes(v.clone()));
        }
        if let Some(ip) = &self.ip {
            let mut bytes = Vec::with_capacity(18);
            encode_addr(ip, &mut bytes);
            put("ip", Bencode::Bytes(bytes));
        }
        if self.read_only {
            put("ro", Bencode::Int(1));
        }
        match &self.body {
            Body::Query(query) => {
                let (name, args) = query_args(query);
                put("y", "q".into());
                put("q", Bencode::Bytes(name));
                put("a", Bencode::Dict(args));
            }
            Body::Response(response) => {
                put("y", "r".into());
                put("r", response_dict(response));
            }
            Body::Error { code, message } => {
                put("y", "e".into());
                put(
                    "e",
                    Bencode::List(vec![Bencode::Int(*code), message.as_str().into()]),
                );
            }
        }
        Bencode::Dict(top).encode()
    }
}

type Dict = std::collections::BTreeMap<Vec<u8>, Bencode>;

fn query_args(query: &Query) -> (Vec<u8>, Dict) {
    let mut args = Dict::new();
    let mut put = |key: &str, value: Bencode| {
        args.insert(key.as_bytes().to_vec(), value);
    };
    put("id", id_value(&query.id));
    let name: &[u8] = match &query.method {
        Method::Ping => b"ping",
        Method::FindNode { target, want } => {
            put("target", id_value(target));
            if let Some(w) = want_value(*want) {
                put("want", w);
            }
            b"find_node"
        }
        Method::GetPeers { info_hash, want } => {
            put("info_hash", id_value(info_hash));
            if let Some(w) = want_value(*want) {
                put("want", w);
            }
            b"get_peers"
        }
        Method::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
        } => {
            put("info_hash", id_value(info_hash));
            put("port", Bencode::Int(i64::from(*port)));
            if *implied_port {
                put("implied_port", Bencode::Int(1));
            }
            put("token", Bencode::Bytes(token.clone()));
            b"announce_peer"
        }
        Method::SampleInfohashes { target, want } => {
            put("target", id_value(target));
            if let Some(w) = want_value(*want) {
                put("want", w);
            }
            b"sample_infohashes"
        }
        Method::Unknown { name, target } => {
            if let Some(t) = target {
                put("target", id_value(t));
            }
            return (name.clone(), args);
        }
    };
    (name.to_vec(), args)
}

fn response_dict(r: &Response) -> Bencode {
    let mut dict = Dict::new();
    let mut put = |key: &str, value: Bencode| {
        dict.insert(key.as_bytes().to_vec(), value);
    };
    put("id", id_value(&r.id));
    if !r.nodes.is_empty() {
        put("nodes", Bencode::Bytes(encode_nodes(&r.nodes)));
    }
    if !r.nodes6.is_empty() {
        put("nodes6", Bencode::Bytes(encode_nodes(&r.nodes6)));
    }
    if !r.values.is_empty() {
        let values = r
            .values
            .iter()
            .map(|addr| {
                let mut bytes = Vec::with_capacity(18);
                encode_addr(addr, &mut bytes);
                Bencode::Bytes(bytes)
            })
            .collect();
        put("values", Bencode::List(values));
    }
    if let Some(token) = &r.token {
        put("token", Bencode::Bytes(token.clone()));
    }
    if let Some(samples) = &r.samples {
        put(
            "samples",
            Bencode::Bytes(samples.iter().flat_map(|s| s.0).collect()),
        );
    }
    if let Some(interval) = r.interval {
        put("interval", Bencode::Int(interval));
    }
    if let Some(num) = r.num {
        put("num", Bencode::Int(num));
    }
    Bencode::Dict(dict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(byte: u8) -> Id {
        Id([byte; 20])
    }

    #[test]
    fn decodes_the_bep5_ping_example() {
        let msg = decode(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe").unwrap();
        assert_eq!(msg.transaction_id, b"aa");
        assert_eq!(
            msg.body,
            Body::Query(Query {
                id: Id(*b"abcdefghij0123456789"),
                method: Method::Ping
            })
        );
    }

    #[test]
    fn transaction_ids_of_any_length_survive_a_round_trip() {
        for tid in [
            &b""[..],
            b"x",
            b"ab",
            b"abc",
            b"abcd",
            b"\x00\xff\x10\x80\x01",
        ] {
            let msg = Message {
                transaction_id: tid.to_vec(),
                body: Body::Query(Query {
                    id: id(1),
                    method: Method::Ping,
                }),
                version: None,
                ip: None,
                read_only: false,
            };
            assert_eq!(decode(&msg.encode()).unwrap().transaction_id, tid);
        }
    }

    #[test]
    fn announce_without_implied_port_means_zero_and_needs_a_port() {
        let base = "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456";
        let with_port = format!("{base}4:porti6881e5:token2:tke1:q13:announce_peer1:t1:x1:y1:qe");
        let msg = decode(with_port.as_bytes()).unwrap();
        let Body::Query(Query {
            method: Method::AnnouncePeer {
                port, implied_port, ..
            },
            ..
        }) = msg.body
        else {
            panic!("not an announce: {msg:?}");
        };
        assert_eq!((port, implied_port), (6881, false));

        let implied =
            format!("{base}12:implied_porti1e5:token2:tke1:q13:announce_peer1:t1:x1:y1:qe");
        assert!(matches!(
            decode(implied.as_bytes()).unwrap().body,
            Body::Query(Query {
                method: Method::AnnouncePeer {
                    implied_port: true,
                    ..
                },
                ..
            })
        ));

        let no_port = format!("{base}5:token2:tke1:q13:announce_peer1:t1:x1:y1:qe");
        assert_eq!(
            decode(no_port.as_bytes()),
            Err(DecodeError::Reply {
                transaction_id: b"x".to_vec(),
                code: ERROR_PROTOCOL,
                message: "missing port"
            })
        );
    }

    #[test]
    fn junk_is_dropped_not_answered() {
        for junk in [
            &b""[..],
            b"\x41\x02\x00\x00", // a uTP header
            b"i42e",
            b"le",
            b"d1:y1:qe",        // no transaction id
            b"d1:t2:aae",       // no type
            b"d1:t2:aa1:y1:ze", // unknown type
            b"d1:t2:aa1:y1:r1:rd2:id3:abcee",
            b"d1:t2:aa1:y1:q", // truncated
        ] {
            assert!(
                matches!(decode(junk), Err(DecodeError::Drop(_))),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn query_with_bad_arguments_is_answered_with_203() {
        let err = decode(b"d1:ad2:id3:abce1:q4:ping1:t3:xyz1:y1:qe").unwrap_err();
        assert!(matches!(
            err,
            DecodeError::Reply { transaction_id, code: ERROR_PROTOCOL, .. } if transaction_id == b"xyz"
        ));
    }

    #[test]
    fn unknown_methods_keep_their_target() {
        let msg = decode(
            b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q3:foo1:t1:x1:y1:qe",
        )
        .unwrap();
        assert_eq!(
            msg.body,
            Body::Query(Query {
                id: Id(*b"abcdefghij0123456789"),
                method: Method::Unknown {
                    name: b"foo".to_vec(),
                    target: Some(Id(*b"mnopqrstuvwxyz123456"))
                }
            })
        );
    }

    #[test]
    fn response_keeps_only_whole_compact_entries() {
        let mut nodes = encode_nodes(&[NodeInfo {
            id: id(3),
            addr: "10.0.0.1:6881".parse().unwrap(),
        }]);
        nodes.extend_from_slice(b"partial");
        let mut doc = b"d1:rd2:id20:abcdefghij01234567895:nodes".to_vec();
        doc.extend_from_slice(format!("{}:", nodes.len()).as_bytes());
        doc.extend_from_slice(&nodes);
        doc.extend_from_slice(b"6:valuesl6:\x7f\x00\x00\x01\x1a\xe12:xxee1:t1:a1:y1:re");
        let Body::Response(r) = decode(&doc).unwrap().body else {
            panic!("not a response");
        };
        assert_eq!(r.nodes.len(), 1);
        assert_eq!(r.values, vec!["127.0.0.1:6881".parse().unwrap()]);
    }

    #[test]
    fn decodes_datagrams_captured_from_libtorrent() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/krpc/");
        let read = |name: &str| std::fs::read(format!("{dir}{name}")).unwrap();

        let query = decode(&read("libtorrent-get_peers.bin")).unwrap();
        assert_eq!(query.transaction_id.len(), 2, "libtorrent uses 2-byte ids");
        assert_eq!(query.version.as_deref().map(|v| &v[..2]), Some(&b"LT"[..]));
        assert!(matches!(
            query.body,
            Body::Query(Query {
                method: Method::GetPeers { .. },
                ..
            })
        ));

        let reply = decode(&read("libtorrent-reply.bin")).unwrap();
        assert!(reply.ip.is_some_and(|ip| ip.ip().is_loopback()));
        let Body::Response(r) = reply.body else {
            panic!("not a reply: {reply:?}");
        };
        assert!(r.token.is_some() && r.nodes.is_empty());

        let ping = decode(&read("ours-ping.bin")).unwrap();
        assert_eq!(ping.transaction_id.len(), 4, "our queries use 4-byte ids");
        let ours = read("ours-reply.bin");
        let reply = decode(&ours).unwrap();
        let Body::Response(r) = &reply.body else {
            panic!("not a reply: {reply:?}");
        };
        assert_eq!(r.nodes.len(), 1);
        // What we send is canonical: decoding and encoding gives the same bytes.
        assert_eq!(reply.encode(), ours);
    }

    fn arb_id() -> impl Strategy<Value = Id> {
        any::<[u8; 20]>().prop_map(Id)
    }

    fn arb_addr(v6: bool) -> BoxedStrategy<SocketAddr> {
        if v6 {
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(ip.into()), port))
                .boxed()
        } else {
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(ip.into()), port))
                .boxed()
        }
    }

    fn arb_want() -> impl Strategy<Value = Want> {
        (any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| Want { v4, v6 })
    }

    fn arb_method() -> impl Strategy<Value = Method> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..12);
        prop_oneof![
            Just(Method::Ping),
            (arb_id(), arb_want()).prop_map(|(target, want)| Method::FindNode { target, want }),
            (arb_id(), arb_want())
                .prop_map(|(info_hash, want)| Method::GetPeers { info_hash, want }),
            (arb_id(), any::<u16>(), any::<bool>(), bytes.clone()).prop_map(
                |(info_hash, port, implied_port, token)| Method::AnnouncePeer {
                    info_hash,
                    port,
                    implied_port,
                    token
                }
            ),
            (arb_id(), arb_want())
                .prop_map(|(target, want)| Method::SampleInfohashes { target, want }),
            ("[a-z_]{1,12}", proptest::option::of(arb_id()))
                .prop_filter("a known method", |(name, _)| !matches!(
                    name.as_str(),
                    "ping" | "find_node" | "get_peers" | "announce_peer" | "sample_infohashes"
                ))
                .prop_map(|(name, target)| Method::Unknown {
                    name: name.into_bytes(),
                    target
                }),
        ]
    }

    fn arb_nodes(v6: bool) -> impl Strategy<Value = Vec<NodeInfo>> {
        proptest::collection::vec(
            (arb_id(), arb_addr(v6)).prop_map(|(id, addr)| NodeInfo { id, addr }),
            0..10,
        )
    }

    fn arb_response() -> impl Strategy<Value = Response> {
        (
            arb_id(),
            arb_nodes(false),
            arb_nodes(true),
            proptest::collection::vec(prop_oneof![arb_addr(false), arb_addr(true)], 0..10),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::option::of(proptest::collection::vec(arb_id(), 0..5)),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(
                |(id, nodes, nodes6, values, token, samples, interval, num)| Response {
                    id,
                    nodes,
                    nodes6,
                    values,
                    token,
                    samples,
                    interval,
                    num,
                },
            )
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let body = prop_oneof![
            (arb_id(), arb_method()).prop_map(|(id, method)| Body::Query(Query { id, method })),
            arb_response().prop_map(Body::Response),
            (any::<i64>(), ".{0,20}").prop_map(|(code, message)| Body::Error { code, message }),
        ];
        (
            proptest::collection::vec(any::<u8>(), 0..8),
            body,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
            proptest::option::of(prop_oneof![arb_addr(false), arb_addr(true)]),
            any::<bool>(),
        )
            .prop_map(|(transaction_id, body, version, ip, read_only)| Message {
                transaction_id,
                body,
                version,
                ip,
                read_only,
            })
    }

    proptest! {
        #[test]
        fn every_message_round_trips(msg in arb_message()) {
            let bytes = msg.encode();
            prop_assert_eq!(decode(&bytes), Ok(msg));
        }

        /// bendy's strict decoder reads every message we send, and it means
        /// what we meant: the id, the kind and its main fields.
        #[test]
        fn every_message_is_canonical_to_bendy(msg in arb_message()) {
            use crate::bencode::strict::{self, bytes, get, int, list};
            let value = strict::check(&msg.encode()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(get(&value, "t"), Some(&bytes(msg.transaction_id.clone())));
            prop_assert_eq!(get(&value, "v").cloned(), msg.version.clone().map(bytes));
            prop_assert_eq!(get(&value, "ro").cloned(), msg.read_only.then(|| int(1)));
            let id = |part: &str| get(&value, part).and_then(|d| get(d, "id")).cloned();
            match &msg.body {
                Body::Query(q) => {
                    prop_assert_eq!(get(&value, "y"), Some(&bytes("q")));
                    prop_assert_eq!(id("a"), Some(bytes(q.id.0)));
                    let (name, _) = query_args(q);
                    prop_assert_eq!(get(&value, "q"), Some(&bytes(name)));
                }
                Body::Response(r) => {
                    prop_assert_eq!(get(&value, "y"), Some(&bytes("r")));
                    prop_assert_eq!(id("r"), Some(bytes(r.id.0)));
                    let values = get(&value, "r").and_then(|r| get(r, "values"));
                    prop_assert_eq!(values.is_some(), !r.values.is_empty());
                }
                Body::Error { code, message } => {
                    prop_assert_eq!(get(&value, "y"), Some(&bytes("e")));
                    let expected = list([int(*code), bytes(message.as_bytes())]);
                    prop_assert_eq!(get(&value, "e"), Some(&expected));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(msg in arb_message(), at in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = msg.encode();
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = decode(&bytes);
        }
    }
}
