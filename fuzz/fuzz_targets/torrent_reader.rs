//! `Torrent::parse` on arbitrary bytes: a `.torrent` is outside input.
//!
//! Checks, beyond "never panics":
//! - the info hash is SHA-1 of the exact `info` bytes that were kept;
//! - the model round-trips: encoding it and parsing the result succeeds and
//!   gives the same `meta`, so nothing `parse` accepts is lost or altered by
//!   `encode`;
//! - the re-encoding is canonical: its `info` bytes are the model's own
//!   encoding and encoding again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::metainfo::{InfoHash, Torrent};

fuzz_target!(|data: &[u8]| {
    let Ok(torrent) = Torrent::parse(data) else {
        return;
    };
    assert_eq!(
        torrent.info_hash,
        InfoHash::of_info_bytes(&torrent.info_bytes),
        "info hash is not SHA-1 of the info bytes"
    );

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
    assert_eq!(
        again.info_hash,
        InfoHash::of_info_bytes(&again.info_bytes),
        "info hash of the re-encoding is not SHA-1 of its info bytes"
    );
    assert_eq!(again.encode(), encoded, "encoding is not a fixed point");
});
