//! The saved routing table (`dht serve --state FILE`): our node id and the
//! nodes we knew, so a restart rejoins the network without the routers.
//! Bencoded like KRPC replies: `id` (20 bytes), `nodes` (26-byte compact
//! IPv4 entries, BEP 5) and `nodes6` (38-byte IPv6 entries, BEP 32). Pure.

use std::net::SocketAddr;

use crate::bencode::{self, dict, Bencode, Value};

use super::id::Id;
use super::krpc::{decode_addr, encode_addr, NodeInfo};

/// What a state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub id: Option<Id>,
    pub nodes: Vec<NodeInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not bencode: {0}")]
    Bencode(#[from] bencode::DecodeError),
    #[error("not a dictionary")]
    NotADict,
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for node in &self.nodes {
            let out = if node.addr.is_ipv4() {
                &mut v4
            } else {
                &mut v6
            };
            out.extend_from_slice(&node.id.0);
            encode_addr(&node.addr, out);
        }
        let mut doc = dict([
            ("nodes", Bencode::Bytes(v4)),
            ("nodes6", Bencode::Bytes(v6)),
        ]);
        if let (Some(id), Bencode::Dict(entries)) = (self.id, &mut doc) {
            entries.insert(b"id".to_vec(), Bencode::Bytes(id.0.to_vec()));
        }
        doc.encode()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let value = bencode::decode(bytes)?;
        if value.as_dict().is_none() {
            return Err(StateError::NotADict);
        }
        let id = value
            .get(b"id")
            .and_then(Value::as_bytes)
            .and_then(Id::from_slice);
        let mut nodes = Vec::new();
        for (key, size) in [(&b"nodes"[..], 26), (b"nodes6", 38)] {
            let compact = value.get(key).and_then(Value::as_bytes).unwrap_or(&[]);
            for chunk in compact.chunks_exact(size) {
                if let (Some(id), Some(addr)) =
                    (Id::from_slice(&chunk[..20]), decode_addr(&chunk[20..]))
                {
                    nodes.push(NodeInfo { id, addr });
                }
            }
        }
        Ok(Self { id, nodes })
    }

    /// The saved nodes' addresses, to bootstrap from.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families_and_the_id() {
        let state = State {
            id: Some(Id([5; 20])),
            nodes: vec![
                NodeInfo {
                    id: Id([1; 20]),
                    addr: "10.0.0.1:6881".parse().unwrap(),
                },
                NodeInfo {
                    id: Id([2; 20]),
                    addr: "[2001:db8::1]:6881".parse().unwrap(),
                },
            ],
        };
        assert_eq!(State::decode(&state.encode()), Ok(state));
    }

    #[test]
    fn rejects_what_is_not_a_state_file() {
        assert!(matches!(
            State::decode(b"garbage"),
            Err(StateError::Bencode(_))
        ));
        assert_eq!(State::decode(b"le"), Err(StateError::NotADict));
        assert_eq!(State::decode(b"de"), Ok(State::default()));
    }
}
