//! 160-bit DHT identifiers (BEP 5): node ids and info hashes share one
//! space, compared by XOR distance. Pure; randomness comes from the caller.

use std::fmt;

use rand::Rng;

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
    fn random_in_bucket_lands_in_that_bucket() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let own = Id::random(&mut rng);
        for prefix in [0, 1, 7, 8, 63, 159] {
            let id = own.random_in_bucket(prefix, &mut rng);
            assert_eq!(own.common_prefix_len(&id), prefix);
        }
    }
}
