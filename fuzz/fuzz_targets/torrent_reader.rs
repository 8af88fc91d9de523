//! `Torrent::parse` on arbitrary bytes: a `.torrent` is outside input.
//!
//! The harness is `mktorrent_rs::fuzzing::torrent_reader`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/torrent_reader/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::torrent_reader(data));
