//! `dht::krpc::decode` on arbitrary datagrams.
//!
//! The harness is `mktorrent_rs::fuzzing::krpc`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/krpc/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::krpc(data));
