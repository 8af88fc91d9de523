//! Bencode (BEP 3): a borrowing decoder that keeps the raw bytes of every
//! value, and an owned value with a canonical encoder.
//!
//! The decoder is lenient where real torrents are sloppy (dictionary keys out
//! of order or repeated) and strict where leniency would change meaning
//! (malformed integers, truncated strings). Raw spans exist so info hashes are
//! computed from the exact bytes a file holds, never from a re-encoding.
//! No I/O here.
//!
//! Why this decoder stays beside bendy (the canonical bencode crate we
//! depend on): bendy refuses unsorted or repeated keys, which some tools'
//! torrents and peers' messages contain, so it cannot read those at all,
//! and their info hashes must come from the `info` bytes as written, which
//! our decoder keeps for every value. Its serde reader also allows 2048 levels of nesting, enough to overflow
//! a 2 MiB thread stack on hostile input; ours stops at [`MAX_DEPTH`].
//!
//! Where bendy is used: the DHT state file is a serde struct bendy writes
//! and reads (`dht::state`), and in tests `strict` is the independent
//! judge that everything we write (torrents, tracker replies, KRPC, state
//! files) is canonical and means what we meant. Kept on [`Bencode`] on
//! purpose: torrents (`metainfo`; BEP 52 file trees keyed by path, the
//! empty key, optional keys: serde would need a custom serializer per
//! field, since bendy writes `Option` as a list, and the info hash depends
//! on every byte), KRPC (one flat dictionary whose keys depend on the
//! message kind), tracker replies (the compact reply is written by hand
//! without allocating; the others are a few lines each) and the tracker
//! state file (its errors name the torrent and field at fault, which
//! serde's would not).

use std::collections::BTreeMap;
use std::fmt;

#[cfg(test)]
pub(crate) mod strict;

/// Nesting deeper than this is rejected, so hostile input cannot exhaust the
/// stack. Real torrents nest a handful of levels (v2 file trees: path depth).
pub const MAX_DEPTH: usize = 256;

/// Why bytes are not bencode, and at which offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended inside a value: more bytes would be needed.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value.
    UnexpectedByte(u8),
    /// An integer or string length that is empty, has leading zeros, `-0`, or overflows.
    BadNumber,
    /// A dictionary key that is not a byte string.
    NonStringKey,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes after the single top-level value.
    TrailingData,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of data"),
            Self::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            Self::BadNumber => f.write_str("malformed number"),
            Self::NonStringKey => f.write_str("dictionary key is not a string"),
            Self::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            Self::TrailingData => f.write_str("trailing data after the value"),
        }
    }
}

/// A decoded value borrowing from the input, with the exact bytes it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value<'a> {
    pub kind: Kind<'a>,
    /// The exact encoded bytes of this value (for info hashes).
    pub raw: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    /// Entries in file order; keys may be unsorted or repeated.
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The first entry with this key, if this is a dictionary holding it.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match &self.kind {
            Kind::Dict(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            Kind::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.kind {
            Kind::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match &self.kind {
            Kind::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&[(&'a [u8], Value<'a>)]> {
        match &self.kind {
            Kind::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Int(_) => "integer",
            Kind::Bytes(_) => "string",
            Kind::List(_) => "list",
            Kind::Dict(_) => "dictionary",
        }
    }
}

/// Decodes exactly one value; anything after it is an error.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let (value, end) = decode_prefix(input)?;
    if end != input.len() {
        return Err(DecodeError {
            offset: end,
            kind: DecodeErrorKind::TrailingData,
        });
    }
    Ok(value)
}

/// Decodes one value from the start of `input` and returns it with the
/// offset just past it (for streams such as the BEP 9 metadata message).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let mut decoder = Decoder { input, pos: 0 };
    let value = decoder.value(0)?;
    Ok((value, decoder.pos))
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEnd))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.error(DecodeErrorKind::TooDeep));
        }
        let start = self.pos;
        let kind = match self.peek()? {
            b'i' => {
                self.pos += 1;
                Kind::Int(self.integer(b'e')?)
            }
            b'0'..=b'9' => Kind::Bytes(self.string()?),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Kind::List(items)
            }
            b'd' => {
                self.pos += 1;
                let mut entries = Vec::new();
                while self.peek()? != b'e' {
                    if !self.peek()?.is_ascii_digit() {
                        return Err(self.error(DecodeErrorKind::NonStringKey));
                    }
                    let key = self.string()?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                self.pos += 1;
                Kind::Dict(entries)
            }
            other => return Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
        };
        Ok(Value {
            kind,
            raw: &self.input[start..self.pos],
        })
    }

    /// Reads a canonical decimal integer up to `terminator` (consumed).
    fn integer(&mut self, terminator: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.input[start..];
        let Some(len) = rest.iter().position(|&b| b == terminator) else {
            // Distinguish "still digits, need more" from garbage.
            return match rest
                .iter()
                .position(|&b| !(b.is_ascii_digit() || b == b'-'))
            {
                Some(bad) => {
                    self.pos = start + bad;
                    Err(self.error(DecodeErrorKind::UnexpectedByte(rest[bad])))
                }
                None => {
                    self.pos = self.input.len();
                    Err(self.error(DecodeErrorKind::UnexpectedEnd))
                }
            };
        };
        let digits = &rest[..len];
        // `str::parse` would also take a leading `+`; bencode does not.
        let canonical = !matches!(
            digits,
            [] | [b'-'] | [b'-', b'0', ..] | [b'0', _, ..] | [b'+', ..]
        );
        let parsed = std::str::from_utf8(digits)
            .ok()
            .filter(|_| canonical)
            .and_then(|s| s.parse::<i64>().ok());
        match parsed {
            Some(n) => {
                self.pos = start + len + 1;
                Ok(n)
            }
            None => Err(self.error(DecodeErrorKind::BadNumber)),
        }
    }

    fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let len_at = self.pos;
        let len = self.integer(b':')?;
        let len = usize::try_from(len).map_err(|_| DecodeError {
            offset: len_at,
            kind: DecodeErrorKind::BadNumber,
        })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.input.len())
            .ok_or(DecodeError {
                offset: self.input.len(),
                kind: DecodeErrorKind::UnexpectedEnd,
            })?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

/// An owned value for building documents; dictionaries are kept sorted by raw
/// key bytes, so [`Bencode::encode`] is canonical by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Self::Bytes(b) => encode_bytes(b, out),
            Self::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Self::Dict(entries) => {
                out.push(b'd');
                for (key, value) in entries {
                    encode_bytes(key, out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Copies a decoded value into an owned one (keys re-sorted; first of duplicates kept).
    pub fn from_value(value: &Value<'_>) -> Self {
        match &value.kind {
            Kind::Int(i) => Self::Int(*i),
            Kind::Bytes(b) => Self::Bytes(b.to_vec()),
            Kind::List(items) => Self::List(items.iter().map(Self::from_value).collect()),
            Kind::Dict(entries) => {
                let mut map = BTreeMap::new();
                for (key, value) in entries {
                    map.entry(key.to_vec())
                        .or_insert_with(|| Self::from_value(value));
                }
                Self::Dict(map)
            }
        }
    }
}

impl From<&str> for Bencode {
    fn from(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Bencode {
    fn from(s: String) -> Self {
        Self::Bytes(s.into_bytes())
    }
}

impl From<i64> for Bencode {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Builds a dictionary from `(key, value)` pairs.
pub fn dict<const N: usize>(entries: [(&str, Bencode); N]) -> Bencode {
    Bencode::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(input: &[u8]) -> DecodeErrorKind {
        decode(input).unwrap_err().kind
    }

    #[test]
    fn decodes_each_type_with_raw_spans() {
        let doc = b"d3:agei-42e4:infod4:name1:xe4:listli1e2:abee";
        let value = decode(doc).unwrap();
        assert_eq!(value.get(b"age").unwrap().as_int(), Some(-42));
        assert_eq!(value.get(b"info").unwrap().raw, b"d4:name1:xe");
        let list = value.get(b"list").unwrap().as_list().unwrap();
        assert_eq!(list[1].as_bytes(), Some(&b"ab"[..]));
        assert_eq!(value.raw, doc);
    }

    #[test]
    fn keeps_unsorted_and_duplicate_keys_first_wins() {
        let value = decode(b"d1:bi1e1:ai2e1:bi3ee").unwrap();
        assert_eq!(value.get(b"b").unwrap().as_int(), Some(1));
        assert_eq!(value.as_dict().unwrap().len(), 3);
    }

    #[test]
    fn rejects_malformed_numbers() {
        for input in [
            &b"i-0e"[..],
            b"i03e",
            b"ie",
            b"i-e",
            b"i1-2e",
            b"i99999999999999999999e",
        ] {
            assert_eq!(err(input), DecodeErrorKind::BadNumber, "{input:?}");
        }
        assert_eq!(err(b"01:a"), DecodeErrorKind::BadNumber);
    }

    #[test]
    fn distinguishes_truncation_from_garbage() {
        for input in [&b"i12"[..], b"5:abc", b"l", b"d1:a", b"", b"123"] {
            assert_eq!(err(input), DecodeErrorKind::UnexpectedEnd, "{input:?}");
        }
        assert_eq!(err(b"x"), DecodeErrorKind::UnexpectedByte(b'x'));
        assert_eq!(err(b"i1x"), DecodeErrorKind::UnexpectedByte(b'x'));
        assert_eq!(err(b"di1ei2ee"), DecodeErrorKind::NonStringKey);
        assert_eq!(err(b"i1ei2e"), DecodeErrorKind::TrailingData);
    }

    #[test]
    fn rejects_deep_nesting_without_overflowing_the_stack() {
        let deep = vec![b'l'; 100_000];
        assert_eq!(err(&deep), DecodeErrorKind::TooDeep);
    }

    #[test]
    fn huge_string_length_is_truncation_not_a_panic() {
        assert_eq!(err(b"18446744073709551615:x"), DecodeErrorKind::BadNumber);
        assert_eq!(
            err(b"9223372036854775807:x"),
            DecodeErrorKind::UnexpectedEnd
        );
    }

    #[test]
    fn encoder_sorts_keys_by_raw_bytes() {
        let doc = dict([
            ("b", 1.into()),
            ("a", "x".into()),
            ("B", Bencode::List(vec![])),
        ]);
        assert_eq!(doc.encode(), b"d1:Ble1:a1:x1:bi1ee");
    }

    fn arb_bencode() -> impl Strategy<Value = Bencode> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Bencode::Int),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bencode::Bytes),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Bencode::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(Bencode::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips_canonical_documents(doc in arb_bencode()) {
            let bytes = doc.encode();
            let decoded = decode(&bytes).unwrap();
            prop_assert_eq!(decoded.raw, &bytes[..]);
            prop_assert_eq!(Bencode::from_value(&decoded), doc);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
