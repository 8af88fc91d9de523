//! The tracker client's UDP reply parser (BEP 15) on arbitrary datagrams.
//!
//! The harness is `mktorrent_rs::fuzzing::tracker_udp_response`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/tracker_udp_response/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::tracker_udp_response(data));
