//! `bencode::decode` on arbitrary bytes.
//!
//! Checks, beyond "never panics":
//! - a decoded top-level value's raw span is the whole input (info hashes
//!   are taken from raw spans);
//! - `decode_prefix` agrees with `decode`: same value when it consumes
//!   everything, otherwise `decode` reports trailing data at that offset;
//! - every integer and string is spelled canonically in the input (BEP 3:
//!   no leading zeros, no `-0`, nothing but digits and one leading `-`), as
//!   the decoder promises; only dictionary order and repeated keys are
//!   lenient;
//! - the canonical encoding of the owned value decodes to an equal owned
//!   value, and encoding that again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::bencode::{self, Bencode, DecodeErrorKind, Kind, Value};

fuzz_target!(|data: &[u8]| {
    let decoded = bencode::decode(data);
    match bencode::decode_prefix(data) {
        Ok((value, end)) if end == data.len() => {
            assert_eq!(
                decoded.as_ref(),
                Ok(&value),
                "decode and decode_prefix disagree"
            );
        }
        Ok((_, end)) => {
            let err = decoded.as_ref().expect_err("decode accepted trailing data");
            assert_eq!(err.kind, DecodeErrorKind::TrailingData);
            assert_eq!(err.offset, end);
        }
        Err(prefix_err) => {
            assert_eq!(decoded.as_ref().err(), Some(&prefix_err), "errors disagree");
        }
    }
    let Ok(value) = decoded else {
        return;
    };
    assert_eq!(value.raw, data, "top-level raw span is not the whole input");
    assert_canonical_scalars(&value);

    let owned = Bencode::from_value(&value);
    let encoded = owned.encode();
    let again = match bencode::decode(&encoded) {
        Ok(again) => again,
        Err(err) => panic!(
            "canonical encoding does not decode: {err}\nencoded: {:?}",
            String::from_utf8_lossy(&encoded)
        ),
    };
    let owned_again = Bencode::from_value(&again);
    assert_eq!(owned_again, owned, "value changed across encode/decode");
    assert_eq!(
        owned_again.encode(),
        encoded,
        "encoding is not a fixed point"
    );
});

/// Integers and strings accepted by the decoder are spelled the one way their
/// canonical encoding spells them.
fn assert_canonical_scalars(value: &Value<'_>) {
    match &value.kind {
        Kind::Int(_) | Kind::Bytes(_) => {
            let canonical = Bencode::from_value(value).encode();
            assert_eq!(
                value.raw,
                &canonical[..],
                "accepted a non-canonical scalar {:?} (canonical {:?})",
                String::from_utf8_lossy(value.raw),
                String::from_utf8_lossy(&canonical)
            );
        }
        Kind::List(items) => items.iter().for_each(assert_canonical_scalars),
        Kind::Dict(entries) => entries
            .iter()
            .for_each(|(_, v)| assert_canonical_scalars(v)),
    }
}
