//! The peer-wire decoders on arbitrary bytes, as a remote peer sends them:
//! the handshake, then a stream of framed messages, extended payloads
//! (BEP 10 handshake, BEP 9 ut_metadata) included.
//!
//! Checks, beyond "never panics": a decoded message re-encodes to exactly
//! the frame it came from (unknown ids aside, which are skipped), decoding
//! never consumes more than it was given, and a decoded handshake
//! re-encodes to its 68 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::peer::handshake;
use mktorrent_rs::peer::message::{self, ExtendedHandshake, Message, Metadata};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(hs)) = handshake::decode(data) {
        assert_eq!(&hs.encode()[..], &data[..handshake::LEN]);
    }
    let mut at = 0;
    while let Ok(Some((m, used))) = message::decode(&data[at..]) {
        assert!(used >= 4 && at + used <= data.len(), "consumed {used} at {at}");
        let frame = &data[at..at + used];
        match &m {
            Message::Unknown { length, .. } => assert_eq!(*length as usize + 4, used),
            _ => assert_eq!(m.to_bytes(), frame, "re-encoding changed {m:?}"),
        }
        if let Message::Extended { payload, .. } = &m {
            let _ = ExtendedHandshake::parse(payload);
            if let Ok(meta) = Metadata::parse(payload) {
                assert_eq!(Metadata::parse(&meta.encode()), Ok(meta));
            }
        }
        at += used;
    }
});
