//! `dht::krpc::decode` on arbitrary datagrams.
//!
//! Checks, beyond "never panics":
//! - anything not starting with `d` is dropped (uTP shares the port);
//! - a "reply with an error" verdict echoes the datagram's own `t` bytes;
//! - a decoded message re-encodes to bytes that decode to the same message,
//!   and that encoding is a fixed point (so what we send is what we meant).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::bencode;
use mktorrent_rs::dht::krpc::{self, DecodeError};

fuzz_target!(|data: &[u8]| {
    let decoded = krpc::decode(data);
    if data.first() != Some(&b'd') {
        assert!(matches!(decoded, Err(DecodeError::Drop(_))), "{decoded:?}");
        return;
    }
    match decoded {
        Err(DecodeError::Drop(_)) => {}
        Err(DecodeError::Reply { transaction_id, .. }) => {
            let value = bencode::decode(data).expect("a reply verdict needs bencode");
            let t = value.get(b"t").and_then(|t| t.as_bytes());
            assert_eq!(t, Some(&transaction_id[..]), "error reply with another id");
        }
        Ok(message) => {
            let encoded = message.encode();
            let again = krpc::decode(&encoded)
                .unwrap_or_else(|err| panic!("our encoding does not decode: {err}"));
            assert_eq!(again, message, "message changed across encode/decode");
            assert_eq!(again.encode(), encoded, "encoding is not a fixed point");
        }
    }
});
