//! 160-bit DHT identifiers (BEP 5): node ids and info hashes share one
//! space, compared by XOR distance; BEP 42 ties a node id to its IP address.
//! Pure; randomness comes from the caller.

use std::fmt;
use std::net::IpAddr;

use rand::Rng;

use super::routing_table::is_local;
use crate::metainfo::{hex, InfoHash};

/// A node id or an info hash seen as a point in the DHT key space.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub [u8; 20]);

impl Id {
    pub const LEN: usize = 20;

    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0; 20];
        rng.fill_bytes(&mut id);
        Self(id)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        InfoHash::from_hex(text).map(|h| Self(h.0))
    }

    /// XOR distance; as big-endian numbers, smaller is closer.
    pub fn distance(&self, other: &Id) -> [u8; 20] {
        let mut d = [0; 20];
        for (i, byte) in d.iter_mut().enumerate() {
            *byte = self.0[i] ^ other.0[i];
        }
        d
    }

    /// Number of leading bits shared with `other` (160 when equal).
    pub fn common_prefix_len(&self, other: &Id) -> usize {
        for (i, byte) in self.distance(other).iter().enumerate() {
            if *byte != 0 {
                return i * 8 + byte.leading_zeros() as usize;
            }
        }
        160
    }

    /// Bit `index` counted from the most significant bit.
    pub fn bit(&self, index: usize) -> bool {
        self.0[index / 8] & (0x80 >> (index % 8)) != 0
    }

    /// A random id sharing exactly the first `prefix_len` bits with `self`
    /// and differing at bit `prefix_len` (the range of a routing bucket).
    pub fn random_in_bucket<R: Rng + ?Sized>(&self, prefix_len: usize, rng: &mut R) -> Id {
        let mut out = Id::random(rng);
        for bit in 0..prefix_len.min(160) {
            set_bit(&mut out, bit, self.bit(bit));
        }
        if prefix_len < 160 {
            set_bit(&mut out, prefix_len, !self.bit(prefix_len));
        }
        out
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// A random BEP 42 id for a node at `ip`: the first 21 bits come from
    /// CRC-32C of the masked address, the last byte is the random `r`.
    pub fn secure_for<R: Rng + ?Sized>(ip: IpAddr, rng: &mut R) -> Id {
        let mut id = Id::random(rng);
        let crc = bep42_crc(ip, id.0[19]);
        id.0[0] = (crc >> 24) as u8;
        id.0[1] = (crc >> 16) as u8;
        id.0[2] = ((crc >> 8) as u8 & 0xf8) | (id.0[2] & 0x07);
        id
    }

    /// Whether this id is a valid BEP 42 id for `ip` (local addresses are exempt).
    pub fn is_secure_for(&self, ip: IpAddr) -> bool {
        if is_local(ip) {
            return true;
        }
        let crc = bep42_crc(ip, self.0[19]);
        self.0[0] == (crc >> 24) as u8
            && self.0[1] == (crc >> 16) as u8
            && self.0[2] & 0xf8 == (crc >> 8) as u8 & 0xf8
    }
}

/// BEP 42: CRC-32C of the address masked (IPv4: `03 0f 3f ff`; IPv6: first
/// 8 bytes with `01 03 07 0f 1f 3f 7f ff`) with `r & 7` in the top 3 bits.
fn bep42_crc(ip: IpAddr, r: u8) -> u32 {
    let mut bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    };
    let mask: &[u8] = if bytes.len() == 4 {
        &[0x03, 0x0f, 0x3f, 0xff]
    } else {
        &[0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]
    };
    for (byte, m) in bytes.iter_mut().zip(mask) {
        *byte &= m;
    }
    bytes[0] |= (r & 7) << 5;
    crc32c(&bytes)
}

/// CRC-32C (Castagnoli), bit by bit: BEP 42 hashes at most 8 bytes.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn set_bit(id: &mut Id, index: usize, value: bool) {
    let mask = 0x80 >> (index % 8);
    if value {
        id.0[index / 8] |= mask;
    } else {
        id.0[index / 8] &= !mask;
    }
}

impl From<InfoHash> for Id {
    fn from(hash: InfoHash) -> Self {
        Self(hash.0)
    }
}

impl From<Id> for InfoHash {
    fn from(id: Id) -> Self {
        InfoHash(id.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prefix_length_counts_shared_leading_bits() {
        let a = Id([0; 20]);
        let mut b = a;
        assert_eq!(a.common_prefix_len(&b), 160);
        b.0[0] = 0x80;
        assert_eq!(a.common_prefix_len(&b), 0);
        b.0[0] = 0;
        b.0[2] = 0x10;
        assert_eq!(a.common_prefix_len(&b), 19);
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn bep42_test_vectors() {
        // (ip, rand, first three bytes of the BEP's example id)
        let vectors = [
            ("124.31.75.21", 1, [0x5f, 0xbf, 0xbf]),
            ("21.75.31.124", 86, [0x5a, 0x3c, 0xe9]),
            ("65.23.51.170", 22, [0xa5, 0xd4, 0x32]),
            ("84.124.73.14", 65, [0x1b, 0x03, 0x21]),
            ("43.213.53.83", 90, [0xe5, 0x6f, 0x6c]),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for (ip, r, prefix) in vectors {
            let ip: IpAddr = ip.parse().unwrap();
            let crc = bep42_crc(ip, r);
            assert_eq!((crc >> 24) as u8, prefix[0], "{ip}");
            assert_eq!((crc >> 16) as u8, prefix[1], "{ip}");
            assert_eq!((crc >> 8) as u8 & 0xf8, prefix[2] & 0xf8, "{ip}");
            let mut example = Id::random(&mut rng);
            example.0[..3].copy_from_slice(&prefix);
            example.0[19] = r;
            assert!(example.is_secure_for(ip));
            assert!(!example.is_secure_for("1.1.1.1".parse().unwrap()));
        }
    }

    #[test]
    fn secure_ids_validate_and_local_addresses_are_exempt() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(10);
        for ip in ["8.8.4.4", "2001:db8:1234::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(Id::secure_for(ip, &mut rng).is_secure_for(ip));
        }
        let any = Id::random(&mut rng);
        assert!(any.is_secure_for("127.0.0.1".parse().unwrap()));
        assert!(any.is_secure_for("192.168.1.2".parse().unwrap()));
    }

    #[test]
    fn random_in_bucket_lands_in_that_bucket() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let own = Id::random(&mut rng);
        for prefix in [0, 1, 7, 8, 63, 159] {
            let id = own.random_in_bucket(prefix, &mut rng);
            assert_eq!(own.common_prefix_len(&id), prefix);
        }
    }
}
