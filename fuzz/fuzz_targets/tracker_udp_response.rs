//! The tracker client's UDP reply parser (`announce::udp::parse_reply`,
//! BEP 15) on arbitrary datagrams, for both socket families.
//!
//! Checks, beyond "never panics": a datagram for another transaction is
//! never accepted, and every accepted reply encodes back to a datagram that
//! parses to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::announce::udp::{encode_reply, parse_reply, Reply};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let v6 = flags & 1 == 1;
    let tid = match packet.get(4..8) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    };
    assert!(parse_reply(packet, tid ^ 1, v6).is_err());
    let Ok(reply) = parse_reply(packet, tid, v6) else {
        return;
    };
    // Scrape entries are whole 12-byte records; a trailing part is dropped.
    if let Reply::Scrape(_) = reply {
        assert_eq!(encode_reply(&reply, tid, v6).len(), 8 + (packet.len() - 8) / 12 * 12);
    }
    assert_eq!(
        parse_reply(&encode_reply(&reply, tid, v6), tid, v6),
        Ok(reply.clone()),
        "reply changed across encode/parse"
    );
});
