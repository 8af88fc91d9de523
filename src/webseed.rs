//! BEP 19 web seeds (`url-list`), the pure part: where a client fetches each
//! file from, which URLs cannot work for a torrent's shape, which pieces a
//! check samples and which byte ranges of which files make each piece, and
//! rewriting `url-list` without touching the info dictionary's bytes.
//!
//! No I/O and no clock: randomness comes in as a seed. The HTTP side lives
//! in [`check`] and [`client`].

pub mod check;
pub mod client;

use std::collections::BTreeSet;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::bencode::{self, DecodeError};
use crate::merkle;
use crate::metainfo::{Info, Layout, Torrent};

/// Path components are escaped except RFC 3986 unreserved characters, so a
/// name with spaces, `#`, `?` or `%` reaches the server as one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a web seed URL cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Parse(String),
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
}

/// A file as web seeds serve it: its path inside the torrent and where its
/// bytes sit in the v1 concatenation (pad files included in offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// Components below the torrent's directory; empty for a single-file torrent.
    pub path: Vec<String>,
    pub length: u64,
}

impl SeedFile {
    /// `name` for a single-file torrent, `name/dir/file` otherwise: the
    /// path a client writes it to, and the tail of its folder URL.
    pub fn display(&self, name: &str) -> String {
        let mut shown = name.to_owned();
        for component in &self.path {
            shown.push('/');
            shown.push_str(component);
        }
        shown
    }
}

/// Whether the torrent is one file (BEP 19 treats the URL differently).
pub fn is_single_file(info: &Info) -> bool {
    matches!(info.layout, Layout::Single { .. })
}

/// The URL a BEP 19 client requests for one file of a torrent.
///
/// BEP 19: a single-file torrent's URL is the file itself unless it ends in
/// `/`, when the torrent name is appended; a multi-file torrent's URL is the
/// folder holding `name/`, and `name/path…` is appended. A multi-file URL
/// without the trailing `/` gets one, as libtorrent does (`create` warns).
pub fn file_url(seed: &str, name: &str, path: &[String]) -> Result<url::Url, UrlError> {
    let mut url = url::Url::parse(seed).map_err(|err| UrlError::Parse(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme(url.scheme().to_owned()));
    }
    // The fragment never reaches the server.
    url.set_fragment(None);
    let single = path.is_empty();
    let folder = url.path().ends_with('/');
    if single && !folder {
        return Ok(url);
    }
    let mut new_path = url.path().to_owned();
    if !folder {
        new_path.push('/');
    }
    new_path.extend(utf8_percent_encode(name, SEGMENT));
    for component in path {
        new_path.push('/');
        new_path.extend(utf8_percent_encode(component, SEGMENT));
    }
    url.set_path(&new_path);
    Ok(url)
}

/// What `create` should warn about for one web seed URL on a torrent of
/// this shape: each string says what goes wrong and what to write instead.
pub fn shape_warnings(seed: &str, name: &str, single_file: bool) -> Vec<String> {
    let Ok(url) = url::Url::parse(seed) else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    // `http://host:port` parses with the path `/`, but clients that append
    // to the text as given get `http://host:portNAME/...`.
    let raw = seed.split(['?', '#']).next().unwrap_or(seed);
    let folder = url.path().ends_with('/') && raw.ends_with('/');
    if !single_file && !folder {
        let last = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("");
        let hint = if last == name {
            format!(" (it already names the torrent's folder: drop {name:?} and end with `/`)")
        } else {
            String::new()
        };
        warnings.push(format!(
            "web seed {seed} does not end in `/`: for a multi-file torrent BEP 19 clients append \
             `{name}/PATH` to a folder URL, so a URL naming one file cannot serve it; libtorrent \
             adds the `/` but other clients do not{hint}"
        ));
    }
    if (folder || !single_file) && url.query().is_some() {
        warnings.push(format!(
            "web seed {seed} has a query string: clients append the file path to the URL's path, \
             and some mangle or drop the query"
        ));
    }
    if url.fragment().is_some() {
        warnings.push(format!(
            "web seed {seed} has a `#fragment`, which is never sent to the server"
        ));
    }
    warnings
}

/// The files a web seed must serve (pad files excluded; they are zeros
/// clients make themselves, BEP 47). v2 and hybrid torrents list the file
/// tree, whose pieces never span files; v1 torrents their file list.
pub fn seed_files(info: &Info) -> Vec<SeedFile> {
    if info.version.has_v2() {
        if is_single_file(info) {
            return info
                .file_tree
                .iter()
                .map(|f| SeedFile {
                    path: Vec::new(),
                    length: f.length,
                })
                .collect();
        }
        return info
            .file_tree
            .iter()
            .map(|f| SeedFile {
                path: f.path.clone(),
                length: f.length,
            })
            .collect();
    }
    match &info.layout {
        Layout::Single { length } => vec![SeedFile {
            path: Vec::new(),
            length: *length,
        }],
        Layout::Multi { files } => files
            .iter()
            .filter(|f| !f.is_padding())
            .map(|f| SeedFile {
                path: f.path.clone(),
                length: f.length,
            })
            .collect(),
    }
}

/// One part of a piece: a byte range of one file (an index into
/// [`seed_files`]), or zeros a pad file stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Fetch {
        file: usize,
        offset: u64,
        length: u64,
    },
    Zeros(u64),
}

/// The hash a fetched piece must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// v1 (BEP 3): SHA-1 over the piece's bytes.
    Sha1([u8; 20]),
    /// v2 (BEP 52): the root over the piece's 16 KiB block hashes, padded
    /// with zero leaves to `width`.
    Merkle { root: merkle::Hash, width: u64 },
}

/// One piece to fetch and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceCheck {
    /// The piece's number: torrent-wide for v1, within its file for v2.
    pub piece: u64,
    pub spans: Vec<Span>,
    pub expect: Expect,
}

impl PieceCheck {
    /// The files this piece reads from.
    pub fn files(&self) -> impl Iterator<Item = usize> + '_ {
        self.spans.iter().filter_map(|s| match s {
            Span::Fetch { file, .. } => Some(*file),
            Span::Zeros(_) => None,
        })
    }

    /// Bytes fetched over HTTP.
    pub fn fetch_length(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| match s {
                Span::Fetch { length, .. } => *length,
                Span::Zeros(_) => 0,
            })
            .sum()
    }
}

/// How many pieces a check fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Every piece.
    Full,
    /// Per file: its first and last piece and this many random ones between.
    Random(usize),
}

/// Why a torrent's pieces cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: the torrent has no valid piece layer for this file (BEP 52), so its pieces cannot be checked")]
    MissingLayer { path: String },
    #[error("the torrent has {found} piece hashes where its files need {expected}")]
    PieceCount { expected: u64, found: u64 },
}

/// splitmix64: a small, well-mixed generator; the seed is the caller's.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Picks pieces `first..=last`: all, or both ends and up to `extra` between.
fn pick(first: u64, last: u64, sample: Sample, rng: &mut u64, into: &mut BTreeSet<u64>) {
    match sample {
        Sample::Full => into.extend(first..=last),
        Sample::Random(extra) => {
            into.insert(first);
            into.insert(last);
            let between = last.saturating_sub(first).saturating_sub(1);
            for _ in 0..(extra as u64).min(between) {
                into.insert(first + 1 + next_random(rng) % between);
            }
        }
    }
}

/// The pieces to check and how to assemble each from the web seed's files.
/// v1 pieces span file boundaries and pad files; v2 and hybrid torrents are
/// checked by their per-file v2 pieces.
pub fn plan_pieces(
    torrent: &Torrent,
    sample: Sample,
    seed: u64,
) -> Result<Vec<PieceCheck>, PlanError> {
    let info = &torrent.meta.info;
    let piece_length = info.piece_length.max(1);
    let mut rng = seed;
    let files = seed_files(info);
    let mut checks = Vec::new();
    if info.version.has_v2() {
        for (index, (file, entry)) in files.iter().zip(&info.file_tree).enumerate() {
            if file.length == 0 {
                continue;
            }
            let count = file.length.div_ceil(piece_length);
            let expected: Vec<merkle::Hash> = if file.length > piece_length {
                let layer = entry
                    .pieces_root
                    .and_then(|root| torrent.meta.piece_layers.get(&root))
                    .filter(|layer| layer.len() as u64 == count * 32);
                let Some(layer) = layer else {
                    return Err(PlanError::MissingLayer {
                        path: file.display(&info.name),
                    });
                };
                layer
                    .chunks_exact(32)
                    .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
                    .collect()
            } else {
                let Some(root) = entry.pieces_root else {
                    return Err(PlanError::MissingLayer {
                        path: file.display(&info.name),
                    });
                };
                vec![root]
            };
            let width = merkle::piece_subtree_width(file.length, piece_length);
            let mut picked = BTreeSet::new();
            pick(0, count - 1, sample, &mut rng, &mut picked);
            for piece in picked {
                let offset = piece * piece_length;
                checks.push(PieceCheck {
                    piece,
                    spans: vec![Span::Fetch {
                        file: index,
                        offset,
                        length: piece_length.min(file.length - offset),
                    }],
                    expect: Expect::Merkle {
                        root: expected[piece as usize],
                        width,
                    },
                });
            }
        }
        return Ok(checks);
    }

    // v1: walk the concatenation, pad files included, to place every file.
    let parts: Vec<(Option<usize>, u64)> = match &info.layout {
        Layout::Single { length } => vec![(Some(0), *length)],
        Layout::Multi { files: entries } => {
            let mut index = 0;
            entries
                .iter()
                .map(|f| {
                    if f.is_padding() {
                        (None, f.length)
                    } else {
                        index += 1;
                        (Some(index - 1), f.length)
                    }
                })
                .collect()
        }
    };
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let count = total.div_ceil(piece_length);
    if count != info.pieces.len() as u64 {
        return Err(PlanError::PieceCount {
            expected: count,
            found: info.pieces.len() as u64,
        });
    }
    let mut picked = BTreeSet::new();
    let mut offset = 0;
    for &(file, length) in &parts {
        if file.is_some() && length > 0 {
            pick(
                offset / piece_length,
                (offset + length - 1) / piece_length,
                sample,
                &mut rng,
                &mut picked,
            );
        }
        offset += length;
    }
    for piece in picked {
        let start = piece * piece_length;
        let end = (start + piece_length).min(total);
        let mut spans = Vec::new();
        let mut at = 0;
        for &(file, length) in &parts {
            let (lo, hi) = (start.max(at), end.min(at + length));
            if lo < hi {
                spans.push(match file {
                    Some(file) => Span::Fetch {
                        file,
                        offset: lo - at,
                        length: hi - lo,
                    },
                    None => Span::Zeros(hi - lo),
                });
            }
            at += length;
        }
        checks.push(PieceCheck {
            piece,
            spans,
            expect: Expect::Sha1(info.pieces[piece as usize]),
        });
    }
    Ok(checks)
}

/// Hashes a piece as its bytes arrive, holding at most one 16 KiB block,
/// so a check never buffers whole pieces.
pub struct PieceHasher {
    sha1: Option<Sha1>,
    leaves: Vec<merkle::Hash>,
    block: Vec<u8>,
    expect: Expect,
}

impl PieceHasher {
    pub fn new(expect: Expect) -> Self {
        Self {
            sha1: matches!(expect, Expect::Sha1(_)).then(Sha1::new),
            leaves: Vec::new(),
            block: Vec::new(),
            expect,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if let Some(sha1) = &mut self.sha1 {
            sha1.update(data);
            return;
        }
        let block = merkle::BLOCK as usize;
        while !data.is_empty() {
            let take = (block - self.block.len()).min(data.len());
            self.block.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.block.len() == block {
                self.leaves.push(Sha256::digest(&self.block).into());
                self.block.clear();
            }
        }
    }

    /// Feeds `length` zero bytes (a pad file's share of a v1 piece).
    pub fn zeros(&mut self, mut length: u64) {
        let zeros = [0u8; 4096];
        while length > 0 {
            let n = length.min(zeros.len() as u64) as usize;
            self.update(&zeros[..n]);
            length -= n as u64;
        }
    }

    /// Whether the bytes fed so far are the piece the torrent describes.
    pub fn matches(mut self) -> bool {
        match self.expect {
            Expect::Sha1(want) => self
                .sha1
                .take()
                .is_some_and(|h| <[u8; 20]>::from(h.finalize()) == want),
            Expect::Merkle { root, width } => {
                if !self.block.is_empty() {
                    self.leaves.push(Sha256::digest(&self.block).into());
                }
                let width = usize::try_from(width).unwrap_or(usize::MAX);
                self.leaves.len() <= width
                    && width.is_power_of_two()
                    && merkle::root(&self.leaves, width, [0; 32]) == root
            }
        }
    }
}

/// The torrent's bytes with `url-list` replaced by `seeds` (removed when
/// empty). Every other entry, `info` above all, is copied byte for byte,
/// so the info hash cannot change (`url-list` is outside `info`, BEP 19).
pub fn with_web_seeds(torrent: &[u8], seeds: &[String]) -> Result<Vec<u8>, DecodeError> {
    let root = bencode::decode(torrent)?;
    let entries = root.as_dict().unwrap_or_default();
    let mut list = Vec::new();
    if !seeds.is_empty() {
        list.extend_from_slice(b"8:url-listl");
        for seed in seeds {
            list.extend_from_slice(seed.len().to_string().as_bytes());
            list.push(b':');
            list.extend_from_slice(seed.as_bytes());
        }
        list.push(b'e');
    }
    let mut out = vec![b'd'];
    let mut written = false;
    for (key, value) in entries {
        if *key == b"url-list" {
            if !written {
                out.extend_from_slice(&list);
                written = true;
            }
            continue;
        }
        // Keep keys sorted where the file had them sorted.
        if !written && *key > &b"url-list"[..] {
            out.extend_from_slice(&list);
            written = true;
        }
        out.extend_from_slice(key.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(key);
        out.extend_from_slice(value.raw);
    }
    if !written {
        out.extend_from_slice(&list);
    }
    out.push(b'e');
    Ok(out)
}

#[cfg(test)]
mod tests;
