//! BEP 52 hash request, hashes and hash reject as a remote peer sends them,
//! and the proofs a seed answers with.
//!
//! The harness is `mktorrent_rs::fuzzing::bep52_messages`: its doc comment
//! lists what it checks, and the ordinary test suite (`fuzz_corpus`) runs it
//! on every file in `fuzz/seeds/bep52_messages/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::bep52_messages(data));
