//! Magnet links (BEP 9 `magnet:` URIs): formatting from a torrent and parsing
//! what users paste. Every value is percent-encoded except RFC 3986
//! unreserved characters, so names and URLs survive any shell or page. No I/O.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::metainfo::{InfoHash, Torrent};

/// Everything but `A-Z a-z 0-9 - . _ ~` is escaped.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `x.pe` keeps `host:port` and `[v6]` readable: libtorrent 2.0 does not
/// percent-decode peer addresses, so `%3A` there would lose the peer.
const PEER: &AsciiSet = &VALUE.remove(b':').remove(b'[').remove(b']');

/// The parts of a magnet link this tool writes and reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Magnet {
    /// `xt=urn:btih:`, the v1 info hash.
    pub info_hash: Option<InfoHash>,
    /// `xt=urn:btmh:1220…`, the v2 info hash (SHA-256 multihash, BEP 52).
    pub info_hash_v2: Option<[u8; 32]>,
    pub name: Option<String>,
    pub length: Option<u64>,
    pub trackers: Vec<String>,
    pub web_seeds: Vec<String>,
    /// `x.pe`: peers to dial directly, as `host:port`.
    pub peers: Vec<String>,
}

impl Magnet {
    /// The link for a torrent: info hash, name, size, every tracker (tier
    /// order, duplicates dropped) and every web seed.
    pub fn from_torrent(torrent: &Torrent) -> Self {
        let mut trackers: Vec<String> = Vec::new();
        for url in torrent.meta.tracker_tiers().into_iter().flatten() {
            if !trackers.contains(&url) {
                trackers.push(url);
            }
        }
        Self {
            info_hash: torrent
                .meta
                .info
                .version
                .has_v1()
                .then_some(torrent.info_hash),
            info_hash_v2: torrent.info_hash_v2,
            name: Some(torrent.meta.info.name.clone()),
            length: Some(torrent.meta.info.content_length()),
            trackers,
            web_seeds: torrent.meta.web_seeds.clone(),
            peers: Vec::new(),
        }
    }

    pub fn to_uri(&self) -> String {
        let mut params: Vec<String> = Vec::new();
        if let Some(hash) = &self.info_hash {
            params.push(format!("xt=urn:btih:{hash}"));
        }
        if let Some(hash) = &self.info_hash_v2 {
            params.push(format!("xt=urn:btmh:1220{}", crate::metainfo::hex(hash)));
        }
        let mut push = |key: &str, value: &str| {
            params.push(format!("{key}={}", utf8_percent_encode(value, VALUE)));
        };
        if let Some(name) = &self.name {
            push("dn", name);
        }
        if let Some(length) = self.length {
            push("xl", &length.to_string());
        }
        for tracker in &self.trackers {
            push("tr", tracker);
        }
        for seed in &self.web_seeds {
            push("ws", seed);
        }
        for peer in &self.peers {
            params.push(format!("x.pe={}", utf8_percent_encode(peer, PEER)));
        }
        format!("magnet:?{}", params.join("&"))
    }

    /// Parses a link; unknown parameters are ignored.
    pub fn parse(uri: &str) -> Result<Self, MagnetError> {
        let query = uri
            .strip_prefix("magnet:?")
            .ok_or(MagnetError::NotAMagnet)?;
        let mut magnet = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(&raw.replace('+', " "))
                .decode_utf8()
                .map_err(|_| MagnetError::BadValue(key.to_owned()))?
                .into_owned();
            // Numbered forms (`tr.1`, `xt.2`) mean the same parameter.
            let base = key.split('.').next().unwrap_or(key);
            match (base, key) {
                ("xt", _) => {
                    if let Some(btih) = value.strip_prefix("urn:btih:") {
                        magnet.info_hash =
                            Some(parse_btih(btih).ok_or(MagnetError::BadInfoHash(value.clone()))?);
                    } else if let Some(btmh) = value.strip_prefix("urn:btmh:") {
                        magnet.info_hash_v2 =
                            Some(parse_btmh(btmh).ok_or(MagnetError::BadInfoHash(value.clone()))?);
                    }
                }
                ("dn", _) => magnet.name = Some(value),
                ("xl", _) => magnet.length = value.parse().ok(),
                ("tr", _) => magnet.trackers.push(value),
                ("ws", _) => magnet.web_seeds.push(value),
                (_, "x.pe") => magnet.peers.push(value),
                _ => {}
            }
        }
        if magnet.info_hash.is_none() && magnet.info_hash_v2.is_none() {
            return Err(MagnetError::NoInfoHash);
        }
        Ok(magnet)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link (it must start with `magnet:?`)")]
    NotAMagnet,
    #[error("the magnet link has no `xt=urn:btih:` or `xt=urn:btmh:` info hash")]
    NoInfoHash,
    #[error("`{0}` is not a 40-digit hex or 32-character base32 btih, or a 1220-prefixed 64-digit hex btmh")]
    BadInfoHash(String),
    #[error("parameter `{0}` is not valid percent-encoded UTF-8")]
    BadValue(String),
}

/// `1220` (multihash: SHA-256, 32 bytes) and 64 hex digits.
fn parse_btmh(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("1220")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// 40 hex digits or 32 base32 characters (RFC 4648, as old clients wrote).
fn parse_btih(text: &str) -> Option<InfoHash> {
    if text.len() == 40 {
        return InfoHash::from_hex(text);
    }
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut pos = 0;
    for c in text.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u32::from(v);
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out[pos] = (bits >> nbits) as u8;
            pos += 1;
        }
    }
    Some(InfoHash(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_value() {
        let magnet = Magnet {
            info_hash: Some(InfoHash([0x01; 20])),
            info_hash_v2: None,
            name: Some("a b&c=d/é".into()),
            length: Some(42),
            trackers: vec!["http://t.example:80/announce?k=1&x=y".into()],
            web_seeds: vec!["https://m.example/a b/".into()],
            peers: vec!["[::1]:6881".into()],
        };
        assert_eq!(
            magnet.to_uri(),
            "magnet:?xt=urn:btih:0101010101010101010101010101010101010101\
             &dn=a%20b%26c%3Dd%2F%C3%A9&xl=42\
             &tr=http%3A%2F%2Ft.example%3A80%2Fannounce%3Fk%3D1%26x%3Dy\
             &ws=https%3A%2F%2Fm.example%2Fa%20b%2F&x.pe=[::1]:6881"
        );
        assert_eq!(Magnet::parse(&magnet.to_uri()).unwrap(), magnet);
    }

    #[test]
    fn parses_base32_and_rejects_junk() {
        let base32 = Magnet::parse("magnet:?xt=urn:btih:QKNXMN4PXTDPXK5NRKRUIF2VIRH7ZYBT").unwrap();
        assert_eq!(
            base32.info_hash.unwrap().to_hex(),
            "829b76378fbcc6fbabad8aa3441755444ffce033"
        );
        let v2 = format!("magnet:?xt=urn:btmh:1220{}", "ab".repeat(32));
        assert_eq!(Magnet::parse(&v2).unwrap().info_hash_v2, Some([0xab; 32]));
        assert_eq!(Magnet::parse(&v2).unwrap().to_uri(), v2);
        assert!(Magnet::parse("magnet:?xt=urn:btmh:1114abcd").is_err());
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotAMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MagnetError::NoInfoHash));
        assert!(Magnet::parse("magnet:?xt=urn:btih:zz").is_err());
    }
}
