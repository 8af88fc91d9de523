//! `bencode::decode` on arbitrary bytes.
//!
//! The harness is `mktorrent_rs::fuzzing::bencode`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/bencode/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::bencode(data));
