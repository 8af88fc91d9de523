//! `Magnet::parse` on arbitrary UTF-8 (a magnet link is pasted text).
//!
//! Checks, beyond "never panics": whatever parses round-trips exactly,
//! `Magnet::parse(&m.to_uri()) == m`, and formatting is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::magnet::Magnet;

fuzz_target!(|data: &[u8]| {
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
});
