//! The tracker's HTTP query parsers on arbitrary bytes.
//!
//! The harness is `mktorrent_rs::fuzzing::tracker_http_query`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/tracker_http_query/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::tracker_http_query(data));
