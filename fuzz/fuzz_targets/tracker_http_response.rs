//! The tracker client's HTTP reply parsers (`announce::http::parse_announce`,
//! `parse_scrape`) on arbitrary bytes: a tracker's reply is outside input.
//!
//! Checks, beyond "never panics": compact peer strings are whole (every
//! accepted reply's peers re-encode to exactly 6 or 18 bytes each), and an
//! accepted reply encodes to bytes that parse back to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::announce::http::{encode_announce, parse_announce, parse_scrape};

fuzz_target!(|data: &[u8]| {
    let hash = [0x41; 20];
    let _ = parse_scrape(data, &hash);
    let Ok(reply) = parse_announce(data) else {
        return;
    };
    // Parsing lists IPv4 peers first, so the re-encoded order is stable.
    let mut sorted = reply.clone();
    sorted.peers.sort_by_key(|p| p.is_ipv6());
    assert_eq!(
        parse_announce(&encode_announce(&sorted)).as_ref(),
        Ok(&sorted),
        "reply changed across encode/parse"
    );
});
