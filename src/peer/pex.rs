//! BEP 11 peer exchange (`ut_pex`): the message codec and the rules for
//! which addresses to believe. Pure.
//!
//! A message is a bencoded dictionary of compact address lists: `added` /
//! `dropped` (6 bytes each: IPv4, port) and `added6` / `dropped6` (18
//! bytes: IPv6, port), with one flag byte per added peer in `added.f` /
//! `added6.f`. At most [`MAX_PER_MESSAGE`] added and dropped peers are
//! read from a message, as BEP 11 asks senders to keep to.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bencode::{self, Bencode};

/// Our id for `ut_pex` in the extended handshake.
pub const UT_PEX: u8 = 2;
/// Added (and dropped) peers read from or put in one message.
pub const MAX_PER_MESSAGE: usize = 50;

/// One `ut_pex` message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pex {
    pub added: Vec<SocketAddr>,
    pub dropped: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PexError {
    #[error("ut_pex payload is not bencode: {0}")]
    Bencode(#[from] bencode::DecodeError),
    #[error("ut_pex payload is not a dictionary")]
    NotADictionary,
}

impl Pex {
    /// Reads a message leniently: lists of the wrong type or with a
    /// trailing partial entry are read as far as they go, and addresses no
    /// peer can listen on ([`is_dialable`]) are left out.
    pub fn parse(payload: &[u8]) -> Result<Self, PexError> {
        let value = bencode::decode(payload)?;
        if value.as_dict().is_none() {
            return Err(PexError::NotADictionary);
        }
        let list = |v4: &[u8], v6: &[u8]| {
            let mut out = Vec::new();
            let compact = |key: &[u8]| value.get(key).and_then(|v| v.as_bytes()).unwrap_or(&[]);
            for chunk in compact(v4).chunks_exact(6) {
                out.push(v4_addr(chunk));
            }
            for chunk in compact(v6).chunks_exact(18) {
                out.push(v6_addr(chunk));
            }
            out.retain(is_dialable);
            out.truncate(MAX_PER_MESSAGE);
            out
        };
        Ok(Self {
            added: list(b"added", b"added6"),
            dropped: list(b"dropped", b"dropped6"),
        })
    }

    /// Encodes at most [`MAX_PER_MESSAGE`] of each list.
    pub fn encode(&self) -> Vec<u8> {
        let mut map = BTreeMap::new();
        let mut put = |v4: &str, v6: &str, flags: Option<(&str, &str)>, addrs: &[SocketAddr]| {
            let (mut four, mut six) = (Vec::new(), Vec::new());
            for addr in addrs.iter().take(MAX_PER_MESSAGE) {
                match addr.ip() {
                    IpAddr::V4(ip) => four.extend_from_slice(&ip.octets()),
                    IpAddr::V6(ip) => six.extend_from_slice(&ip.octets()),
                }
                let out = if addr.is_ipv4() { &mut four } else { &mut six };
                out.extend_from_slice(&addr.port().to_be_bytes());
            }
            if let Some((f4, f6)) = flags {
                // No flags known (encryption, seed, ...): 0 for each peer.
                map.insert(
                    f4.as_bytes().to_vec(),
                    Bencode::Bytes(vec![0; four.len() / 6]),
                );
                map.insert(
                    f6.as_bytes().to_vec(),
                    Bencode::Bytes(vec![0; six.len() / 18]),
                );
            }
            map.insert(v4.as_bytes().to_vec(), Bencode::Bytes(four));
            map.insert(v6.as_bytes().to_vec(), Bencode::Bytes(six));
        };
        put(
            "added",
            "added6",
            Some(("added.f", "added6.f")),
            &self.added,
        );
        put("dropped", "dropped6", None, &self.dropped);
        Bencode::Dict(map).encode()
    }
}

fn v4_addr(chunk: &[u8]) -> SocketAddr {
    let ip = Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3]);
    SocketAddr::new(IpAddr::V4(ip), u16::from_be_bytes([chunk[4], chunk[5]]))
}

fn v6_addr(chunk: &[u8]) -> SocketAddr {
    let mut octets = [0; 16];
    octets.copy_from_slice(&chunk[..16]);
    let ip = Ipv6Addr::from(octets);
    SocketAddr::new(IpAddr::V6(ip), u16::from_be_bytes([chunk[16], chunk[17]]))
}

/// Whether a peer could be listening at `addr`: a port, and a unicast
/// address that is not "any" (junk a hostile peer would send us to dial).
pub fn is_dialable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(ip) => !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_both_families_and_skips_junk() {
        let mut payload = b"d5:added12:".to_vec();
        payload.extend_from_slice(&[10, 0, 0, 1, 0x1a, 0xe1]);
        payload.extend_from_slice(&[0, 0, 0, 0, 0x1a, 0xe1]); // unspecified: dropped
        payload.extend_from_slice(b"7:added.f2:\0\x026:added618:");
        payload.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        payload.extend_from_slice(&[0, 80]);
        payload.extend_from_slice(b"7:dropped7:");
        payload.extend_from_slice(&[192, 0, 2, 1, 0, 1, 9]); // trailing partial entry
        payload.push(b'e');
        let pex = Pex::parse(&payload).unwrap();
        assert_eq!(
            pex.added,
            [
                "10.0.0.1:6881".parse::<SocketAddr>().unwrap(),
                "[::1]:80".parse().unwrap()
            ]
        );
        assert_eq!(pex.dropped, ["192.0.2.1:1".parse::<SocketAddr>().unwrap()]);
        assert!(Pex::parse(b"le").is_err());
        assert!(Pex::parse(b"d5:added").is_err());
    }

    #[test]
    fn a_flood_is_cut_to_fifty() {
        let many: Vec<SocketAddr> = (1..=200u16)
            .map(|p| SocketAddr::from(([10, 0, 0, 1], p)))
            .collect();
        let mut payload = b"d5:added1200:".to_vec();
        for addr in &many {
            if let IpAddr::V4(ip) = addr.ip() {
                payload.extend_from_slice(&ip.octets());
            }
            payload.extend_from_slice(&addr.port().to_be_bytes());
        }
        payload.push(b'e');
        assert_eq!(Pex::parse(&payload).unwrap().added, many[..50]);
        let encoded = Pex {
            added: many.clone(),
            dropped: Vec::new(),
        }
        .encode();
        assert_eq!(Pex::parse(&encoded).unwrap().added.len(), MAX_PER_MESSAGE);
    }

    fn addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), 1..=u16::MAX).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), 1..=u16::MAX)
                .prop_map(|(ip, port)| SocketAddr::from((Ipv6Addr::from(ip), port))),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(added in prop::collection::vec(addr(), 0..50), dropped in prop::collection::vec(addr(), 0..50)) {
            let added: Vec<SocketAddr> = added.into_iter().filter(is_dialable).collect();
            let dropped: Vec<SocketAddr> = dropped.into_iter().filter(is_dialable).collect();
            let pex = Pex { added, dropped };
            let mut back = Pex::parse(&pex.encode()).unwrap();
            // Parsing lists IPv4 before IPv6.
            let order = |list: &mut Vec<SocketAddr>| list.sort_by_key(|a| (a.is_ipv6(), *a));
            let mut want = pex.clone();
            order(&mut want.added);
            order(&mut want.dropped);
            order(&mut back.added);
            order(&mut back.dropped);
            prop_assert_eq!(back, want);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Pex::parse(&bytes);
        }
    }
}
