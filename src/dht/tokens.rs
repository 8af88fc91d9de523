//! announce_peer tokens (BEP 5): a token proves the announcer recently got
//! it from us at the same IP. It is a hash of the requester's IP and a
//! secret rotated every five minutes; the previous secret is still accepted,
//! so a token lives five to ten minutes. Pure: time and rng are inputs.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use sha1::{Digest, Sha1};

/// How often the secret changes.
pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Bytes of the hash sent as a token (libtorrent and others send 4 to 20).
const TOKEN_LEN: usize = 8;

#[derive(Debug, Clone)]
pub struct Tokens {
    current: [u8; 16],
    previous: [u8; 16],
    rotated_at: Instant,
}

impl Tokens {
    pub fn new<R: Rng + ?Sized>(now: Instant, rng: &mut R) -> Self {
        let mut current = [0; 16];
        let mut previous = [0; 16];
        rng.fill_bytes(&mut current);
        rng.fill_bytes(&mut previous);
        Self {
            current,
            previous,
            rotated_at: now,
        }
    }

    /// Rotates the secret if it is due; call before [`issue`](Self::issue)
    /// and [`verify`](Self::verify).
    pub fn rotate_if_due<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        let age = now.saturating_duration_since(self.rotated_at);
        if age < ROTATE_EVERY {
            return;
        }
        self.previous = self.current;
        rng.fill_bytes(&mut self.current);
        if age >= 2 * ROTATE_EVERY {
            // Idle for two periods: the previous secret is stale too.
            rng.fill_bytes(&mut self.previous);
        }
        self.rotated_at = now;
    }

    pub fn issue(&self, ip: IpAddr) -> Vec<u8> {
        token(&self.current, ip)
    }

    pub fn verify(&self, ip: IpAddr, token: &[u8]) -> bool {
        token == self::token(&self.current, ip) || token == self::token(&self.previous, ip)
    }
}

fn token(secret: &[u8; 16], ip: IpAddr) -> Vec<u8> {
    let mut hasher = Sha1::new();
    match ip {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
    hasher.update(secret);
    hasher.finalize()[..TOKEN_LEN].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_token_lives_one_to_two_rotations_and_only_for_its_ip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let start = Instant::now();
        let mut tokens = Tokens::new(start, &mut rng);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let token = tokens.issue(ip);
        assert!(tokens.verify(ip, &token));
        assert!(!tokens.verify("10.1.2.4".parse().unwrap(), &token));
        assert!(!tokens.verify(ip, b"forged!!"));

        tokens.rotate_if_due(start + ROTATE_EVERY, &mut rng);
        assert!(tokens.verify(ip, &token), "previous secret still accepted");
        assert_ne!(tokens.issue(ip), token);

        tokens.rotate_if_due(start + 2 * ROTATE_EVERY, &mut rng);
        assert!(!tokens.verify(ip, &token), "two rotations later");
    }

    #[test]
    fn a_long_idle_node_rejects_all_old_tokens() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let start = Instant::now();
        let mut tokens = Tokens::new(start, &mut rng);
        let ip: IpAddr = "::1".parse().unwrap();
        let token = tokens.issue(ip);
        tokens.rotate_if_due(start + ROTATE_EVERY / 2, &mut rng);
        assert!(tokens.verify(ip, &token), "not due yet");
        tokens.rotate_if_due(start + 3 * ROTATE_EVERY, &mut rng);
        assert!(!tokens.verify(ip, &token));
    }
}
