//! `Magnet::parse` on arbitrary UTF-8 (a magnet link is pasted text).
//!
//! The harness is `mktorrent_rs::fuzzing::magnet`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/magnet/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::magnet(data));
