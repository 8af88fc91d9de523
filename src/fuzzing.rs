//! The body of every fuzz target, one `pub fn` per target in `fuzz/`.
//!
//! Each function takes the raw input libFuzzer generates, runs the parser
//! under test and panics when a property it promises does not hold (a
//! panic is how libFuzzer reports a finding). The targets in
//! `fuzz/fuzz_targets/` only call these functions, and the integration test
//! `fuzz_corpus` runs every committed seed (`fuzz/seeds/<target>/`) through
//! them on stable, so a harness that rejects its own seeds fails CI rather
//! than going unnoticed until someone runs nightly.
//!
//! Not a public API: hidden from the docs and free to change.

use percent_encoding::{percent_encode, NON_ALPHANUMERIC};
use sha2::Digest;

use crate::announce::http as http_client;
use crate::announce::udp as udp_client;
use crate::bencode::{self, Bencode, DecodeErrorKind, Kind, Value};
use crate::dht::krpc::{self, DecodeError};
use crate::magnet::Magnet;
use crate::metainfo::{InfoHash, Torrent, Version};
use crate::peer::handshake;
use crate::peer::message::{self, ExtendedHandshake, Message, Metadata};
use crate::tracker::http_proto;
use crate::tracker::swarm::Event;
use crate::tracker::udp_proto::{self, Request, MAX_SCRAPE_HASHES};

/// A harness: the input, and a panic when a property fails.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/seeds/<name>/`.
pub const TARGETS: &[(&str, Harness)] = &[
    ("torrent_reader", torrent_reader),
    ("bencode", bencode),
    ("magnet", magnet),
    ("krpc", krpc),
    ("tracker_http_query", tracker_http_query),
    ("tracker_udp_packet", tracker_udp_packet),
    ("tracker_http_response", tracker_http_response),
    ("tracker_udp_response", tracker_udp_response),
    ("peer_wire", peer_wire),
    ("utp_packet", utp_packet),
    ("bep52_messages", bep52_messages),
    ("mse_handshake", mse_handshake),
];

/// The swarm id an info dictionary must get: SHA-1 of its bytes when it has
/// v1 data, otherwise SHA-256 truncated to 20 bytes (BEP 52).
fn expected_swarm_hash(info_bytes: &[u8], version: Version) -> InfoHash {
    if version.has_v1() {
        InfoHash::of_info_bytes(info_bytes)
    } else {
        let full = sha2::Sha256::digest(info_bytes);
        let mut truncated = [0u8; 20];
        truncated.copy_from_slice(&full[..20]);
        InfoHash(truncated)
    }
}

/// Checks the two identities of a parsed torrent against its info bytes.
fn assert_hashes(torrent: &Torrent, what: &str) {
    let version = torrent.meta.info.version;
    assert_eq!(
        torrent.info_hash,
        expected_swarm_hash(&torrent.info_bytes, version),
        "{what}: swarm hash is not the {} of the info bytes",
        if version.has_v1() {
            "SHA-1"
        } else {
            "truncated SHA-256"
        }
    );
    let v2: Option<[u8; 32]> = version
        .has_v2()
        .then(|| sha2::Sha256::digest(&torrent.info_bytes).into());
    assert_eq!(
        torrent.info_hash_v2, v2,
        "{what}: v2 hash is not the SHA-256 of the info bytes"
    );
}

/// `Torrent::parse` on arbitrary bytes: a `.torrent` is outside input.
///
/// Checks, beyond "never panics":
/// - the swarm hash is SHA-1 of the exact `info` bytes that were kept (the
///   truncated SHA-256 for a v2-only torrent), and the v2 hash their
///   SHA-256 when the torrent has v2 data;
/// - the model round-trips: encoding it and parsing the result succeeds and
///   gives the same `meta`, so nothing `parse` accepts is lost or altered by
///   `encode`;
/// - the re-encoding is canonical: its `info` bytes are the model's own
///   encoding and encoding again gives the same bytes.
pub fn torrent_reader(data: &[u8]) {
    let Ok(torrent) = Torrent::parse(data) else {
        return;
    };
    assert_hashes(&torrent, "parsed");

    let encoded = torrent.encode();
    let again = match Torrent::parse(&encoded) {
        Ok(again) => again,
        Err(err) => panic!(
            "re-encoded model no longer parses: {err}\nmodel: {:#?}\nencoded: {:?}",
            torrent.meta,
            String::from_utf8_lossy(&encoded)
        ),
    };
    assert_eq!(
        again.meta, torrent.meta,
        "model changed across encode/parse"
    );
    assert_eq!(
        again.info_bytes,
        torrent.meta.info.to_bencode().encode(),
        "re-encoded info bytes are not the model's canonical encoding"
    );
    assert_hashes(&again, "re-encoded");
    assert_eq!(again.encode(), encoded, "encoding is not a fixed point");
}

/// `bencode::decode` on arbitrary bytes.
///
/// Checks, beyond "never panics":
/// - a decoded top-level value's raw span is the whole input (info hashes
///   are taken from raw spans);
/// - `decode_prefix` agrees with `decode`: same value when it consumes
///   everything, otherwise `decode` reports trailing data at that offset;
/// - every integer and string is spelled canonically in the input (BEP 3:
///   no leading zeros, no `-0`, nothing but digits and one leading `-`), as
///   the decoder promises; only dictionary order and repeated keys are
///   lenient;
/// - the canonical encoding of the owned value decodes to an equal owned
///   value, and encoding that again gives the same bytes.
pub fn bencode(data: &[u8]) {
    let decoded = bencode::decode(data);
    match bencode::decode_prefix(data) {
        Ok((value, end)) if end == data.len() => {
            assert_eq!(
                decoded.as_ref(),
                Ok(&value),
                "decode and decode_prefix disagree"
            );
        }
        Ok((_, end)) => {
            let err = decoded.as_ref().expect_err("decode accepted trailing data");
            assert_eq!(err.kind, DecodeErrorKind::TrailingData);
            assert_eq!(err.offset, end);
        }
        Err(prefix_err) => {
            assert_eq!(decoded.as_ref().err(), Some(&prefix_err), "errors disagree");
        }
    }
    let Ok(value) = decoded else {
        return;
    };
    assert_eq!(value.raw, data, "top-level raw span is not the whole input");
    assert_canonical_scalars(&value);

    let owned = Bencode::from_value(&value);
    let encoded = owned.encode();
    let again = match bencode::decode(&encoded) {
        Ok(again) => again,
        Err(err) => panic!(
            "canonical encoding does not decode: {err}\nencoded: {:?}",
            String::from_utf8_lossy(&encoded)
        ),
    };
    let owned_again = Bencode::from_value(&again);
    assert_eq!(owned_again, owned, "value changed across encode/decode");
    assert_eq!(
        owned_again.encode(),
        encoded,
        "encoding is not a fixed point"
    );
}

/// Integers and strings accepted by the decoder are spelled the one way their
/// canonical encoding spells them.
fn assert_canonical_scalars(value: &Value<'_>) {
    match &value.kind {
        Kind::Int(_) | Kind::Bytes(_) => {
            let canonical = Bencode::from_value(value).encode();
            assert_eq!(
                value.raw,
                &canonical[..],
                "accepted a non-canonical scalar {:?} (canonical {:?})",
                String::from_utf8_lossy(value.raw),
                String::from_utf8_lossy(&canonical)
            );
        }
        Kind::List(items) => items.iter().for_each(assert_canonical_scalars),
        Kind::Dict(entries) => entries
            .iter()
            .for_each(|(_, v)| assert_canonical_scalars(v)),
    }
}

/// `Magnet::parse` on arbitrary UTF-8 (a magnet link is pasted text).
///
/// Checks, beyond "never panics": whatever parses round-trips exactly,
/// `Magnet::parse(&m.to_uri()) == m`, and formatting is a fixed point.
pub fn magnet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(magnet) = Magnet::parse(text) else {
        return;
    };
    let uri = magnet.to_uri();
    let again = match Magnet::parse(&uri) {
        Ok(again) => again,
        Err(err) => panic!("formatted link does not parse: {err}\nmodel: {magnet:#?}\nuri: {uri}"),
    };
    assert_eq!(
        again, magnet,
        "magnet changed across to_uri/parse\nuri: {uri}"
    );
    assert_eq!(again.to_uri(), uri, "formatting is not a fixed point");
}

/// `dht::krpc::decode` on arbitrary datagrams.
///
/// Checks, beyond "never panics":
/// - anything not starting with `d` is dropped (uTP shares the port);
/// - a "reply with an error" verdict echoes the datagram's own `t` bytes;
/// - a decoded message re-encodes to bytes that decode to the same message,
///   and that encoding is a fixed point (so what we send is what we meant).
pub fn krpc(data: &[u8]) {
    let decoded = krpc::decode(data);
    if data.first() != Some(&b'd') {
        assert!(matches!(decoded, Err(DecodeError::Drop(_))), "{decoded:?}");
        return;
    }
    match decoded {
        Err(DecodeError::Drop(_)) => {}
        Err(DecodeError::Reply { transaction_id, .. }) => {
            let value = bencode::decode(data).expect("a reply verdict needs bencode");
            let t = value.get(b"t").and_then(|t| t.as_bytes());
            assert_eq!(t, Some(&transaction_id[..]), "error reply with another id");
        }
        Ok(message) => {
            let encoded = message.encode();
            let again = krpc::decode(&encoded)
                .unwrap_or_else(|err| panic!("our encoding does not decode: {err}"));
            assert_eq!(again, message, "message changed across encode/decode");
            assert_eq!(again.encode(), encoded, "encoding is not a fixed point");
        }
    }
}

/// The tracker's HTTP query parsers (`http_proto::parse_announce`,
/// `parse_scrape`) on arbitrary bytes: a query string is attacker input.
///
/// Checks, beyond "never panics": an accepted announce, written back as a
/// fully percent-encoded query, parses to the same value; a scrape never
/// returns more hashes than its cap.
pub fn tracker_http_query(data: &[u8]) {
    let mut hashes = Vec::new();
    if http_proto::parse_scrape(data, 8, &mut hashes).is_ok() {
        assert!(hashes.len() <= 8, "scrape cap exceeded");
    }
    let Ok(query) = http_proto::parse_announce(data) else {
        return;
    };
    let mut text = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&compact={}&no_peer_id={}",
        percent_encode(&query.info_hash, NON_ALPHANUMERIC),
        percent_encode(&query.peer_id, NON_ALPHANUMERIC),
        query.port,
        query.uploaded,
        query.downloaded,
        u8::from(query.compact),
        u8::from(query.no_peer_id),
    );
    if let Some(left) = query.left {
        text.push_str(&format!("&left={left}"));
    }
    if let Some(numwant) = query.numwant {
        text.push_str(&format!("&numwant={numwant}"));
    }
    text.push_str(match query.event {
        Event::Started => "&event=started",
        Event::Completed => "&event=completed",
        Event::Stopped => "&event=stopped",
        Event::None => "",
    });
    let again = http_proto::parse_announce(text.as_bytes())
        .unwrap_or_else(|err| panic!("re-encoded query refused: {err}\n{text}"));
    assert_eq!(again, query, "announce changed across encode/parse\n{text}");
}

/// The UDP tracker parser (`udp_proto::parse`, BEP 15 + BEP 41) on
/// arbitrary datagrams.
///
/// Checks, beyond "never panics": every accepted request encodes back to a
/// datagram (by the client's encoder) that parses to the same request
/// (connect, announce with its URL data, scrape with at most 74 hashes).
pub fn tracker_udp_packet(data: &[u8]) {
    let Ok(request) = udp_proto::parse(data) else {
        return;
    };
    let encoded = match &request {
        Request::Connect { transaction_id } => udp_client::encode_connect(*transaction_id),
        Request::Announce(announce) => udp_client::encode_announce(&announce.into()),
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => {
            assert!(!info_hashes.is_empty() && info_hashes.len() % 20 == 0);
            assert!(info_hashes.len() / 20 <= MAX_SCRAPE_HASHES);
            let hashes: Vec<[u8; 20]> = info_hashes
                .chunks_exact(20)
                .map(|c| {
                    let mut hash = [0u8; 20];
                    hash.copy_from_slice(c);
                    hash
                })
                .collect();
            udp_client::encode_scrape(*connection_id, *transaction_id, &hashes)
        }
    };
    assert_eq!(
        udp_proto::parse(&encoded),
        Ok(request.clone()),
        "request changed across encode/parse"
    );
}

/// The tracker client's HTTP reply parsers (`announce::http::parse_announce`,
/// `parse_scrape`) on arbitrary bytes: a tracker's reply is outside input.
///
/// Checks, beyond "never panics": compact peer strings are whole (every
/// accepted reply's peers re-encode to exactly 6 or 18 bytes each), and an
/// accepted reply encodes to bytes that parse back to the same reply.
pub fn tracker_http_response(data: &[u8]) {
    let hash = [0x41; 20];
    let _ = http_client::parse_scrape(data, &hash);
    let Ok(reply) = http_client::parse_announce(data) else {
        return;
    };
    // Parsing lists IPv4 peers first, so the re-encoded order is stable.
    let mut sorted = reply.clone();
    sorted.peers.sort_by_key(|p| p.is_ipv6());
    assert_eq!(
        http_client::parse_announce(&http_client::encode_announce(&sorted)).as_ref(),
        Ok(&sorted),
        "reply changed across encode/parse"
    );
}

/// The tracker client's UDP reply parser (`announce::udp::parse_reply`,
/// BEP 15) on arbitrary datagrams, for both socket families: the first byte
/// is a flag (bit 0: IPv6 socket), the rest the datagram.
///
/// Checks, beyond "never panics": a datagram for another transaction is
/// never accepted, and every accepted reply encodes back to a datagram that
/// parses to the same reply.
pub fn tracker_udp_response(data: &[u8]) {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let v6 = flags & 1 == 1;
    let tid = match packet.get(4..8) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    };
    assert!(udp_client::parse_reply(packet, tid ^ 1, v6).is_err());
    let Ok(reply) = udp_client::parse_reply(packet, tid, v6) else {
        return;
    };
    // Scrape entries are whole 12-byte records; a trailing part is dropped.
    if let udp_client::Reply::Scrape(_) = reply {
        assert_eq!(
            udp_client::encode_reply(&reply, tid, v6).len(),
            8 + (packet.len() - 8) / 12 * 12
        );
    }
    assert_eq!(
        udp_client::parse_reply(&udp_client::encode_reply(&reply, tid, v6), tid, v6),
        Ok(reply.clone()),
        "reply changed across encode/parse"
    );
}

/// The peer-wire decoders on arbitrary bytes, as a remote peer sends them:
/// the handshake, then a stream of framed messages, extended payloads
/// (BEP 10 handshake, BEP 9 ut_metadata) included.
///
/// Checks, beyond "never panics": a decoded message re-encodes to exactly
/// the frame it came from (unknown ids aside, which are skipped), decoding
/// never consumes more than it was given, and a decoded handshake
/// re-encodes to its 68 bytes.
pub fn peer_wire(data: &[u8]) {
    if let Ok(Some(hs)) = handshake::decode(data) {
        assert_eq!(&hs.encode()[..], &data[..handshake::LEN]);
    }
    let mut at = 0;
    while let Ok(Some((m, used))) = message::decode(&data[at..]) {
        assert!(
            used >= 4 && at + used <= data.len(),
            "consumed {used} at {at}"
        );
        let frame = &data[at..at + used];
        match &m {
            Message::Unknown { length, .. } => assert_eq!(*length as usize + 4, used),
            _ => assert_eq!(m.to_bytes(), frame, "re-encoding changed {m:?}"),
        }
        if let Message::Extended { payload, .. } = &m {
            let _ = ExtendedHandshake::parse(payload);
            if let Ok(meta) = Metadata::parse(payload) {
                assert_eq!(Metadata::parse(&meta.encode()), Ok(meta));
            }
        }
        at += used;
    }
}

/// `utp_packet`: the uTP parser (BEP 29) on any datagram, and the
/// connection state machine on whatever it accepts: an accepted packet
/// re-encodes to itself, and every datagram a connection then emits parses.
pub fn utp_packet(data: &[u8]) {
    use crate::utp::{is_utp, Connection, Packet, PacketType};
    use std::time::{Duration, Instant};

    fn drain(conn: &mut Connection, now: Instant) {
        let mut out = Vec::new();
        for _ in 0..64 {
            if !conn.poll_transmit(now, &mut out) {
                break;
            }
            assert!(
                Packet::parse(&out).is_ok(),
                "we emitted an unparsable datagram"
            );
        }
    }

    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    assert!(is_utp(data));
    let encoded = packet.to_vec();
    assert_eq!(
        Packet::parse(&encoded),
        Ok(packet.clone()),
        "packet changed across encode/parse"
    );
    let now = Instant::now();
    let syn = Packet {
        ty: PacketType::Syn,
        connection_id: packet.connection_id.wrapping_sub(1),
        seq_nr: packet.seq_nr.wrapping_sub(1),
        ack_nr: 0,
        sack: None,
        payload: &[],
        ..packet.clone()
    };
    let mut accepted = Connection::accept(&syn, now, packet.ack_nr.wrapping_sub(3));
    accepted.write(b"some data to have packets in flight");
    drain(&mut accepted, now);
    accepted.on_packet(&packet, now);
    let mut buf = [0; 2048];
    accepted.read(&mut buf);
    drain(&mut accepted, now);
    accepted.on_timeout(now + Duration::from_secs(2));
    drain(&mut accepted, now + Duration::from_secs(2));
    let mut connecting = Connection::connect(packet.connection_id, now);
    drain(&mut connecting, now);
    connecting.on_packet(&packet, now);
    connecting.on_packet(&packet, now);
    drain(&mut connecting, now);
}

/// `bep52_messages`: BEP 52 hash messages and the answers a seed gives.
/// Byte 0 picks a file's piece count (2 to 65), byte 1 its piece length
/// (16 to 256 KiB); the rest is read twice. As peer-wire frames: every
/// hash message re-encodes to its frame, and a session holding the file's
/// tree answers each hash request with exactly the tree's `hashes` or with
/// a `hash reject` of that request. As 16-byte requests against the tree:
/// an answer has the base hashes of the layer asked for followed by one
/// uncle per proof layer past the first `log2(length) - 1`, and climbing
/// them reaches the node of a reference tree built here, layer by layer.
pub fn bep52_messages(data: &[u8]) {
    use crate::merkle::{self, FileTree};
    use crate::peer::session::{Features, Params, Pieces, Session};
    use std::sync::Arc;

    let [count, shift, rest @ ..] = data else {
        return;
    };
    let pieces = usize::from(*count % 64) + 2;
    let piece_length = merkle::BLOCK << (shift % 5);
    let layer: Vec<merkle::Hash> = (0..pieces)
        .map(|i| sha2::Sha256::digest(i.to_be_bytes()).into())
        .collect();
    let Some(tree) = FileTree::from_piece_layer(&layer, piece_length) else {
        panic!("a tree over {pieces} pieces");
    };
    let piece_layer = (piece_length / merkle::BLOCK).trailing_zeros();
    // Reference layers from the piece layer up, padded with zero subtrees.
    let mut reference = vec![layer.clone()];
    let mut pad = merkle::zero_subtree(piece_layer);
    reference[0].resize(pieces.next_power_of_two(), pad);
    while reference.last().is_some_and(|l| l.len() > 1) {
        let below = &reference[reference.len() - 1];
        let next = below
            .chunks(2)
            .map(|p| merkle::parent(&p[0], &p[1]))
            .collect();
        pad = merkle::parent(&pad, &pad);
        reference.push(next);
    }
    assert_eq!(reference.last().map(|r| r[0]), Some(tree.root()));

    let mut params = Params::new(
        Pieces::v1(piece_length, piece_length * pieces as u64),
        Arc::from(&b"d4:name1:xe"[..]),
    );
    params.trees = Arc::new([(tree.root(), tree.clone())].into());
    let now = std::time::Instant::now();
    let mut session = Session::new(Arc::new(params), Features::default(), now);
    while session.next_outgoing().is_some() {}
    let mut at = 0;
    while let Ok(Some((m, used))) = message::decode(&rest[at..]) {
        let frame = &rest[at..at + used];
        at += used;
        match m {
            Message::HashRequest(request) => {
                assert_eq!(Message::HashRequest(request).to_bytes(), frame);
                let _ = session.receive(Message::HashRequest(request), now);
                let reply = session.next_outgoing();
                let want = (request.pieces_root == tree.root())
                    .then(|| {
                        tree.hashes(
                            request.base_layer,
                            request.index,
                            request.length,
                            request.proof_layers,
                        )
                        .ok()
                    })
                    .flatten()
                    .map_or(Message::HashReject(request), |hashes| Message::Hashes {
                        request,
                        hashes,
                    });
                assert_eq!(reply, Some(want), "answer to {request:?}");
            }
            Message::Hashes { .. } | Message::HashReject(_) => {
                assert_eq!(m.to_bytes(), frame, "re-encoding changed {m:?}");
            }
            _ => {}
        }
    }

    for raw in rest.chunks_exact(16) {
        let word = |i: usize| u32::from_be_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
        // Small values reach the valid cases; the raw words the rest.
        let (base, index, length, proof) = if raw[0] & 0x80 == 0 {
            (
                u32::from(raw[1] % 8),
                u32::from(raw[2]),
                1u32 << (raw[3] % 10),
                u32::from(raw[4] % 8),
            )
        } else {
            (word(0) & 0x7FFF_FFFF, word(4), word(8), word(12))
        };
        let Ok(hashes) = tree.hashes(base, index, length, proof) else {
            continue;
        };
        assert!(base >= piece_layer && base < tree.height(), "base {base}");
        assert!(length.is_power_of_two() && index % length == 0);
        let k = length.trailing_zeros();
        let uncles = proof.saturating_sub(k.saturating_sub(1)) as usize;
        assert_eq!(
            hashes.len(),
            length as usize + uncles,
            "{base} {index} {length} {proof}"
        );
        let level = (base - piece_layer) as usize;
        let span = &reference[level][index as usize..(index + length) as usize];
        assert_eq!(&hashes[..length as usize], span);
        if k == 0 {
            // One hash: its uncles start above its parent (as libtorrent).
            continue;
        }
        let mut nodes = span.to_vec();
        while nodes.len() > 1 {
            nodes = nodes
                .chunks(2)
                .map(|p| merkle::parent(&p[0], &p[1]))
                .collect();
        }
        let (mut node, mut pos, mut up) = (nodes[0], index >> k, k as usize);
        for uncle in &hashes[length as usize..] {
            node = if pos % 2 == 0 {
                merkle::parent(&node, uncle)
            } else {
                merkle::parent(uncle, &node)
            };
            pos >>= 1;
            up += 1;
        }
        assert_eq!(node, reference[level + up][pos as usize]);
    }
}

/// `mse_handshake`: MSE handshake bytes from a remote peer. Byte 0 picks the chunk
/// size the bytes arrive in; bit 7 of the second picks the mode:
/// - raw: the rest goes, as a peer sent it, to a responder (an incoming
///   connection) and to an initiator (a responder's reply);
/// - transcript: the rest seeds a genuine initiator and responder (keys,
///   pads, offered methods) and lists byte flips applied to what the
///   initiator sends.
///
/// Checks that neither role panics, that neither keeps waiting past the
/// most a well-formed handshake can need (a peer cannot make us buffer
/// without bound), and that an untouched transcript establishes on both
/// sides with the same method, info hash and payload.
pub fn mse_handshake(data: &[u8]) {
    use crate::peer::mse::{self, Initiator, Responder, Secrets, KEY_LEN, MAX_PAD};

    const SKEY: [u8; 20] = [0x5a; 20];
    // Ya, PadA, HASH('req1'), HASH('req2')^HASH('req3'), VC..len(PadC),
    // PadC, len(IA), IA.
    const RESPONDER_MOST: usize = KEY_LEN + MAX_PAD + 40 + 14 + MAX_PAD + 2 + 0xffff;
    // Yb, PadB, VC, crypto_select, len(PadD), PadD.
    const INITIATOR_MOST: usize = KEY_LEN + MAX_PAD + 14 + MAX_PAD;
    let lookup = |req2: &[u8; 20]| (*req2 == mse::req2_hash(&SKEY)).then_some(SKEY);
    let secrets = |seed: u8, pad: usize| Secrets {
        private_key: std::array::from_fn(|i| seed ^ (i as u8).wrapping_mul(37) | 1),
        pad: vec![seed; pad],
    };
    let [chunk, mode, rest @ ..] = data else {
        return;
    };
    let chunk = usize::from(*chunk).max(1);
    if mode & 0x80 == 0 {
        let mut responder = Responder::new(mse::CRYPTO_RC4 | mse::CRYPTO_PLAINTEXT, secrets(1, 0));
        let (mut initiator, _) = Initiator::new(SKEY, 3, Vec::new(), secrets(2, 0));
        let (mut r_open, mut i_open, mut fed) = (true, true, 0);
        for part in rest.chunks(chunk) {
            fed += part.len();
            if r_open {
                match responder.feed(part, lookup) {
                    Ok(step) => r_open = step.done.is_none(),
                    Err(_) => r_open = false,
                }
                assert!(
                    !r_open || fed <= RESPONDER_MOST,
                    "responder buffers {fed} bytes"
                );
            }
            if i_open {
                match initiator.feed(part) {
                    Ok(step) => i_open = step.done.is_none(),
                    Err(_) => i_open = false,
                }
                assert!(
                    !i_open || fed <= INITIATOR_MOST,
                    "initiator buffers {fed} bytes"
                );
            }
        }
        return;
    }
    let [seed, pads, offer, flips @ ..] = rest else {
        return;
    };
    let provide = u32::from(offer & 3).max(1);
    let allowed = u32::from((offer >> 2) & 3).max(1);
    let pad = |n: u8| usize::from(n) * MAX_PAD / 255;
    let ia = b"\x13BitTorrent protocol".to_vec();
    let (mut a, mut to_b) = Initiator::new(SKEY, provide, ia.clone(), secrets(*seed, pad(*pads)));
    let mut b = Responder::new(allowed, secrets(seed ^ 0xff, pad(pads.rotate_left(4))));
    let flips: Vec<(usize, u8)> = flips
        .chunks_exact(3)
        .map(|f| (usize::from(u16::from_be_bytes([f[0], f[1]])), f[2]))
        .filter(|&(_, x)| x != 0)
        .collect();
    let (mut sent_to_b, mut to_a) = (0, Vec::new());
    let (mut done_a, mut done_b) = (None, None);
    // Each round moves a chunk each way; a handshake needs a few dozen.
    for _ in 0..4096 {
        if !to_b.is_empty() && done_b.is_none() {
            let mut part: Vec<u8> = to_b.drain(..chunk.min(to_b.len())).collect();
            for &(at, x) in &flips {
                if let Some(byte) = at.checked_sub(sent_to_b).and_then(|i| part.get_mut(i)) {
                    *byte ^= x;
                }
            }
            sent_to_b += part.len();
            let Ok(step) = b.feed(&part, lookup) else {
                return;
            };
            to_a.extend(step.send);
            done_b = done_b.or(step.done);
        }
        if !to_a.is_empty() && done_a.is_none() {
            let part: Vec<u8> = to_a.drain(..chunk.min(to_a.len())).collect();
            let Ok(step) = a.feed(&part) else {
                return;
            };
            to_b.extend(step.send);
            done_a = done_a.or(step.done);
        }
        if to_a.is_empty() && (to_b.is_empty() || done_b.is_some()) {
            break;
        }
    }
    if !flips.is_empty() {
        return;
    }
    let (Some(a), Some(b)) = (done_a, done_b) else {
        panic!("an untouched handshake did not finish (provide {provide}, allowed {allowed})");
    };
    assert_eq!((a.method, a.skey), (b.method, b.skey));
    assert!(b.payload.starts_with(&ia), "the responder got IA");
}
