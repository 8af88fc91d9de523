//! The peer-wire decoders on arbitrary bytes, as a remote peer sends them.
//!
//! The harness is `mktorrent_rs::fuzzing::peer_wire`: its doc comment lists
//! what it checks, and the ordinary test suite (`fuzz_corpus`) runs it on
//! every file in `fuzz/seeds/peer_wire/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::peer_wire(data));
