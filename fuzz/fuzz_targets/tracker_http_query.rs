//! The tracker's HTTP query parsers (`http_proto::parse_announce`,
//! `parse_scrape`) on arbitrary bytes: a query string is attacker input.
//!
//! Checks, beyond "never panics": an accepted announce, written back as a
//! fully percent-encoded query, parses to the same value; a scrape never
//! returns more hashes than its cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::tracker::http_proto::{parse_announce, parse_scrape};
use mktorrent_rs::tracker::swarm::Event;
use percent_encoding::{percent_encode, NON_ALPHANUMERIC};

fuzz_target!(|data: &[u8]| {
    let mut hashes = Vec::new();
    if parse_scrape(data, 8, &mut hashes).is_ok() {
        assert!(hashes.len() <= 8, "scrape cap exceeded");
    }
    let Ok(query) = parse_announce(data) else {
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
    let again = parse_announce(text.as_bytes())
        .unwrap_or_else(|err| panic!("re-encoded query refused: {err}\n{text}"));
    assert_eq!(again, query, "announce changed across encode/parse\n{text}");
});
