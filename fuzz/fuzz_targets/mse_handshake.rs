//! MSE handshake bytes as a remote peer sends them (either role), and
//! genuine handshakes with flipped bytes.
//!
//! The harness is `mktorrent_rs::fuzzing::mse_handshake`: its doc comment
//! lists what it checks, and the ordinary test suite (`fuzz_corpus`) runs it
//! on every file in `fuzz/seeds/mse_handshake/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::mse_handshake(data));
