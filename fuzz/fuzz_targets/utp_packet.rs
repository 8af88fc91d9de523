//! The uTP packet parser (BEP 29) and the connection state machine; the
//! harness is `mktorrent_rs::fuzzing::utp_packet`, which the integration
//! suite also runs on every seed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mktorrent_rs::fuzzing::utp_packet(data));
