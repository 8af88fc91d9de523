//! Stateless UDP connection IDs (BEP 15): the tracker remembers nothing
//! between `connect` and `announce`; the ID itself proves the client
//! received our reply at its source address.
//!
//! Layout (64 bits, big-endian on the wire): the upper 32 bits are the issue
//! time in Unix seconds, the lower 32 a SipHash-2-4 MAC of (time, client IP)
//! under a 128-bit key, truncated. Unix time (not a per-process clock) lets
//! several instances sharing a key accept each other's IDs. Pure: the time
//! is a parameter.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

use super::swarm::normalize_ip;

/// BEP 15 suggests IDs live for two minutes; clients reuse them longer, so
/// the age is configurable.
pub const DEFAULT_MAX_AGE: u32 = 120;

/// Issues and checks connection IDs under one key.
#[derive(Clone)]
pub struct ConnectionIds {
    k0: u64,
    k1: u64,
    max_age: u32,
}

impl std::fmt::Debug for ConnectionIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ConnectionIds")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl ConnectionIds {
    pub fn new(key: [u8; 16], max_age: u32) -> Self {
        let mut k0 = [0; 8];
        let mut k1 = [0; 8];
        k0.copy_from_slice(&key[..8]);
        k1.copy_from_slice(&key[8..]);
        Self {
            k0: u64::from_le_bytes(k0),
            k1: u64::from_le_bytes(k1),
            max_age,
        }
    }

    fn mac(&self, time: u32, ip: IpAddr) -> [u8; 4] {
        let mut hasher = SipHasher24::new_with_keys(self.k0, self.k1);
        hasher.write(&time.to_be_bytes());
        match normalize_ip(ip) {
            IpAddr::V4(v4) => hasher.write(&v4.octets()),
            IpAddr::V6(v6) => hasher.write(&v6.octets()),
        }
        // Truncation is deliberate: 32 bits of MAC beside 32 bits of time.
        let full = hasher.finish();
        [
            full as u8,
            (full >> 8) as u8,
            (full >> 16) as u8,
            (full >> 24) as u8,
        ]
    }

    /// A connection ID for `ip` issued at `now` (Unix seconds).
    pub fn issue(&self, ip: IpAddr, now: u32) -> u64 {
        let mac = self.mac(now, ip);
        (u64::from(now) << 32) | u64::from(u32::from_be_bytes(mac))
    }

    /// Whether `id` was issued by this key to `ip`, not in the future and
    /// at most `max_age` seconds before `now`.
    pub fn check(&self, id: u64, ip: IpAddr, now: u32) -> bool {
        let time = (id >> 32) as u32;
        if time > now || now - time > self.max_age {
            return false;
        }
        let expected = self.mac(time, ip);
        let got = (id as u32).to_be_bytes();
        // Constant-time comparison: no early exit on the first differing byte.
        expected
            .iter()
            .zip(got.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn valid_for_max_age_then_rejected() {
        let ids = ConnectionIds::new([1; 16], 120);
        let id = ids.issue(IP, 1_000_000);
        assert!(ids.check(id, IP, 1_000_000));
        assert!(ids.check(id, IP, 1_000_120));
        assert!(!ids.check(id, IP, 1_000_121), "expired");
        assert!(!ids.check(id, IP, 999_999), "issued in the future");
    }

    #[test]
    fn bound_to_the_ip_and_the_key() {
        let ids = ConnectionIds::new([1; 16], 120);
        let id = ids.issue(IP, 50);
        assert!(!ids.check(id, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)), 50));
        assert!(!ConnectionIds::new([2; 16], 120).check(id, IP, 50));
        // Another instance with the same key accepts it.
        assert!(ConnectionIds::new([1; 16], 600).check(id, IP, 500));
        // A v4-mapped source is the same client as plain IPv4.
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert!(ids.check(id, mapped, 50));
        assert!(!ids.check(id, IpAddr::V6(Ipv6Addr::LOCALHOST), 50));
    }

    proptest! {
        #[test]
        fn tampered_ids_are_rejected(key in any::<[u8; 16]>(), now in 1u32.., bit in 0u32..32) {
            let ids = ConnectionIds::new(key, 120);
            let id = ids.issue(IP, now);
            prop_assert!(ids.check(id, IP, now));
            prop_assert!(!ids.check(id ^ (1 << bit), IP, now));
        }
    }
}
