//! The saved routing table (`dht serve --state FILE`): our node id and the
//! nodes we knew, so a restart rejoins the network without the routers.
//! Bencoded like KRPC replies: `id` (20 bytes), `nodes` (26-byte compact
//! IPv4 entries, BEP 5) and `nodes6` (38-byte IPv6 entries, BEP 32). Pure.
//!
//! The layout is a serde struct written and read by bendy: the file is ours,
//! so bendy's strict reading costs nothing, and a missing key is simply
//! empty. The bytes are those the hand-built dictionary of earlier builds
//! wrote (a fixture proves it). Our own decoder runs first, only to bound
//! the nesting depth.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::bencode;

use super::id::Id;
use super::krpc::{decode_addr, encode_addr, NodeInfo};

/// What a state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub id: Option<Id>,
    pub nodes: Vec<NodeInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("not a state file: {0}")]
    Bencode(#[from] bencode::DecodeError),
    /// Not the layout below; bendy says how, without naming the key.
    #[error("not a state file (a dictionary of byte strings id, nodes, nodes6): {0}")]
    Layout(#[from] bendy::serde::Error),
}

/// The file as written; keys are sorted by bendy.
#[derive(Serialize, Deserialize, Default)]
struct File {
    /// Empty when we had no id (left out of the file).
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Vec::is_empty")]
    id: Vec<u8>,
    #[serde(default, with = "serde_bytes")]
    nodes: Vec<u8>,
    #[serde(default, with = "serde_bytes")]
    nodes6: Vec<u8>,
}

impl State {
    pub fn encode(&self) -> Result<Vec<u8>, StateError> {
        let mut file = File {
            id: self.id.map(|id| id.0.to_vec()).unwrap_or_default(),
            ..File::default()
        };
        for node in &self.nodes {
            let out = if node.addr.is_ipv4() {
                &mut file.nodes
            } else {
                &mut file.nodes6
            };
            out.extend_from_slice(&node.id.0);
            encode_addr(&node.addr, out);
        }
        Ok(bendy::serde::to_bytes(&file)?)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        // bendy's serde reader allows 2048 levels, which overflows a 2 MiB
        // thread stack; ours stops at bencode::MAX_DEPTH first.
        bencode::decode(bytes)?;
        let file: File = bendy::serde::Deserializer::from_bytes(bytes)
            .with_forbid_trailing_bytes(true)
            .deserialize()?;
        let mut nodes = Vec::new();
        for (compact, size) in [(&file.nodes, 26), (&file.nodes6, 38)] {
            for chunk in compact.chunks_exact(size) {
                if let (Some(id), Some(addr)) =
                    (Id::from_slice(&chunk[..20]), decode_addr(&chunk[20..]))
                {
                    nodes.push(NodeInfo { id, addr });
                }
            }
        }
        Ok(Self {
            id: Id::from_slice(&file.id),
            nodes,
        })
    }

    /// The saved nodes' addresses, to bootstrap from.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn node(byte: u8, addr: &str) -> NodeInfo {
        NodeInfo {
            id: Id([byte; 20]),
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn round_trips_both_families_and_the_id() {
        let state = State {
            id: Some(Id([5; 20])),
            nodes: vec![node(1, "10.0.0.1:6881"), node(2, "[2001:db8::1]:6881")],
        };
        assert_eq!(State::decode(&state.encode().unwrap()).unwrap(), state);
    }

    #[test]
    fn a_state_file_from_an_earlier_build_still_loads() {
        // Written by the hand-built dictionary this module had before serde.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/state/dht.state"
        );
        let old = std::fs::read(path).unwrap();
        let state = State::decode(&old).unwrap();
        assert_eq!(
            state,
            State {
                id: Some(Id(*b"mktorrent-rs-node-id")),
                nodes: vec![
                    node(1, "10.0.0.1:6881"),
                    node(3, "192.0.2.7:51413"),
                    node(2, "[2001:db8::1]:6881"),
                ],
            }
        );
        assert_eq!(state.encode().unwrap(), old, "same bytes as before");
    }

    #[test]
    fn missing_keys_are_empty_and_unknown_keys_ignored() {
        assert_eq!(State::decode(b"de").unwrap(), State::default());
        let state = State::decode(b"d5:extrali1ee2:id3:abc5:nodes0:e").unwrap();
        assert_eq!(state, State::default(), "a short id is no id");
        assert_eq!(State::default().encode().unwrap(), b"d5:nodes0:6:nodes60:e");
    }

    #[test]
    fn rejects_what_is_not_a_state_file() {
        for bad in [&b"garbage"[..], b"de trailing", b"d5:nodes"] {
            let err = State::decode(bad).unwrap_err().to_string();
            assert!(err.starts_with("not a state file: "), "{bad:?}: {err}");
        }
        for bad in [&b"le"[..], b"d5:nodesi1ee", b"d5:nodes0:2:id0:e"] {
            let err = State::decode(bad).unwrap_err().to_string();
            assert!(
                err.contains("byte strings id, nodes, nodes6"),
                "{bad:?}: {err}"
            );
        }
        // Deep nesting in an ignored key: read up to our bound, refused
        // beyond it, never a stack overflow.
        let deep = |depth| {
            let mut doc = b"d5:extra".to_vec();
            doc.extend(std::iter::repeat_n(b'l', depth));
            doc.extend(std::iter::repeat_n(b'e', depth + 1));
            State::decode(&doc).map_err(|e| e.to_string())
        };
        assert_eq!(deep(bencode::MAX_DEPTH).unwrap(), State::default());
        for depth in [bencode::MAX_DEPTH + 1, 100_000] {
            let err = deep(depth).unwrap_err();
            assert!(err.contains("nesting"), "{depth}: {err}");
        }
    }

    fn arb_state() -> impl Strategy<Value = State> {
        let addr = prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        ];
        let node = (any::<[u8; 20]>(), addr).prop_map(|(id, addr)| NodeInfo { id: Id(id), addr });
        (
            proptest::option::of(any::<[u8; 20]>().prop_map(Id)),
            proptest::collection::vec(node, 0..8),
        )
            .prop_map(|(id, nodes)| State { id, nodes })
    }

    proptest! {
        /// bendy's strict decoder reads what we write, and it is the
        /// module doc's layout; reading it back gives the nodes, IPv4
        /// first (the order of the file).
        #[test]
        fn state_files_are_canonical_and_round_trip(state in arb_state()) {
            use crate::bencode::strict::{self, bytes, dict};
            let encoded = state.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let compact = |v6: bool| {
                let mut out = Vec::new();
                for n in state.nodes.iter().filter(|n| n.addr.is_ipv6() == v6) {
                    out.extend_from_slice(&n.id.0);
                    encode_addr(&n.addr, &mut out);
                }
                bytes(out)
            };
            let mut expected = vec![("nodes", compact(false)), ("nodes6", compact(true))];
            expected.extend(state.id.map(|id| ("id", bytes(id.0))));
            prop_assert_eq!(strict::check(&encoded), Ok(dict(expected)));
            let mut ordered = state.clone();
            ordered.nodes.sort_by_key(|n| n.addr.is_ipv6());
            prop_assert_eq!(State::decode(&encoded).unwrap(), ordered);
        }
    }
}
