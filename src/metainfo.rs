//! The torrent model (BEP 3, 5, 12, 19, 27), read leniently from real-world
//! files and written canonically.
//!
//! Reading keeps the exact bytes of the `info` dictionary: the info hash is
//! SHA-1 of those bytes, never of a re-encoding, so torrents with unsorted or
//! unknown keys keep their identity. Paths that could escape the content
//! directory are rejected here, once, for every consumer. No I/O.

use std::collections::BTreeMap;
use std::fmt;

use sha1::{Digest, Sha1};

use crate::bencode::{self, Bencode, DecodeError, Value};

/// A v1 info hash: SHA-1 of the bencoded `info` dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    pub fn of_info_bytes(info: &[u8]) -> Self {
        Self(Sha1::digest(info).into())
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 40 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({self})")
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Why a document is not a usable torrent. Each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum MetainfoError {
    #[error("not bencode: {0}")]
    Bencode(#[from] DecodeError),
    #[error("the top level is a {0}, not a dictionary")]
    NotADictionary(&'static str),
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` should be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("unsafe path {path:?} in `{field}`: {reason}")]
    UnsafePath {
        field: String,
        path: String,
        reason: &'static str,
    },
    /// Two files at one path, or a file that is also another's directory:
    /// such a torrent can never be laid out on disk, nor verified.
    #[error("path {path:?} appears twice in `{field}`{}", if *is_directory { " (as a file and as a directory)" } else { "" })]
    DuplicatePath {
        field: &'static str,
        path: String,
        is_directory: bool,
    },
}

/// A DHT bootstrap node from the `nodes` key (BEP 5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One file of a multi-file torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components below the torrent's directory; validated safe.
    pub path: Vec<String>,
    pub length: u64,
    /// BEP 47 attributes (`p` pad, `x` executable, `h` hidden, `l` symlink).
    pub attr: Option<String>,
}

impl FileEntry {
    /// A BEP 47 pad file: zeros that exist only to align the next file.
    pub fn is_padding(&self) -> bool {
        self.attr.as_deref().is_some_and(|a| a.contains('p'))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Single { length: u64 },
    Multi { files: Vec<FileEntry> },
}

/// Which BitTorrent versions a torrent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// BEP 3: SHA-1 pieces over the concatenated files.
    V1,
    /// BEP 52 only: per-file SHA-256 merkle trees.
    V2,
    /// Both at once (BEP 52 + BEP 47 pad files), one info dictionary.
    Hybrid,
}

impl Version {
    pub fn has_v1(self) -> bool {
        self != Self::V2
    }

    pub fn has_v2(self) -> bool {
        self != Self::V1
    }
}

/// One file of a v2 `file tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2File {
    /// Path components below the torrent's directory (for a single-file
    /// torrent, just the name); validated safe.
    pub path: Vec<String>,
    pub length: u64,
    /// Root of the file's merkle tree; absent for empty files.
    pub pieces_root: Option<[u8; 32]>,
    pub attr: Option<String>,
}

/// The `info` dictionary: what the info hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub piece_length: u64,
    /// v1 piece hashes; empty for a v2-only torrent.
    pub pieces: Vec<[u8; 20]>,
    pub private: bool,
    pub source: Option<String>,
    /// The v1 file list (with pad files for a hybrid); for a v2-only
    /// torrent, derived from the file tree so every consumer sees files.
    pub layout: Layout,
    pub version: Version,
    /// The v2 file tree flattened in tree order; empty for v1.
    pub file_tree: Vec<V2File>,
}

impl Info {
    pub fn total_length(&self) -> u64 {
        match &self.layout {
            Layout::Single { length } => *length,
            Layout::Multi { files } => files.iter().map(|f| f.length).sum(),
        }
    }

    /// Pieces: the v1 piece list, or for a v2-only torrent the pieces of
    /// each file (BEP 52 aligns pieces to files; empty files have none).
    pub fn piece_count(&self) -> usize {
        if self.version.has_v1() || self.piece_length == 0 {
            return self.pieces.len();
        }
        self.file_tree
            .iter()
            .map(|f| usize::try_from(f.length.div_ceil(self.piece_length)).unwrap_or(usize::MAX))
            .fold(0, usize::saturating_add)
    }

    /// Bytes of real content: the total less BEP 47 pad files.
    pub fn content_length(&self) -> u64 {
        match &self.layout {
            Layout::Single { length } => *length,
            Layout::Multi { files } => files
                .iter()
                .filter(|f| !f.is_padding())
                .map(|f| f.length)
                .sum(),
        }
    }

    /// Files as (relative path components, length, padding), single-file
    /// torrents as one entry with no components.
    pub fn files(&self) -> Vec<(&[String], u64, bool)> {
        match &self.layout {
            Layout::Single { length } => vec![(&[][..], *length, false)],
            Layout::Multi { files } => files
                .iter()
                .map(|f| (f.path.as_slice(), f.length, f.is_padding()))
                .collect(),
        }
    }

    pub fn to_bencode(&self) -> Bencode {
        let mut map = BTreeMap::new();
        let mut put = |key: &str, value: Bencode| {
            map.insert(key.as_bytes().to_vec(), value);
        };
        put("name", self.name.as_str().into());
        put("piece length", Bencode::Int(to_i64(self.piece_length)));
        if self.version.has_v1() {
            put("pieces", Bencode::Bytes(self.pieces.concat()));
            match &self.layout {
                Layout::Single { length } => put("length", Bencode::Int(to_i64(*length))),
                Layout::Multi { files } => put(
                    "files",
                    Bencode::List(files.iter().map(FileEntry::to_bencode).collect()),
                ),
            }
        }
        if self.version.has_v2() {
            put("meta version", Bencode::Int(2));
            put("file tree", file_tree_to_bencode(&self.file_tree));
        }
        if self.private {
            put("private", Bencode::Int(1));
        }
        if let Some(source) = &self.source {
            put("source", source.as_str().into());
        }
        Bencode::Dict(map)
    }
}

/// Nests flattened files back into BEP 52's `file tree` dictionaries.
fn file_tree_to_bencode(files: &[V2File]) -> Bencode {
    let mut root = BTreeMap::new();
    for file in files {
        let mut leaf = BTreeMap::new();
        leaf.insert(b"length".to_vec(), Bencode::Int(to_i64(file.length)));
        if let Some(root_hash) = &file.pieces_root {
            leaf.insert(b"pieces root".to_vec(), Bencode::Bytes(root_hash.to_vec()));
        }
        if let Some(attr) = &file.attr {
            leaf.insert(b"attr".to_vec(), attr.as_str().into());
        }
        let mut node = &mut root;
        for component in &file.path {
            let entry = node
                .entry(component.as_bytes().to_vec())
                .or_insert_with(|| Bencode::Dict(BTreeMap::new()));
            node = match entry {
                Bencode::Dict(map) => map,
                // A file and a directory of the same name cannot both be on disk.
                other => {
                    *other = Bencode::Dict(BTreeMap::new());
                    match other {
                        Bencode::Dict(map) => map,
                        _ => return Bencode::Dict(root),
                    }
                }
            };
        }
        node.insert(Vec::new(), Bencode::Dict(leaf));
    }
    Bencode::Dict(root)
}

impl FileEntry {
    fn to_bencode(&self) -> Bencode {
        let mut map = BTreeMap::new();
        map.insert(b"length".to_vec(), Bencode::Int(to_i64(self.length)));
        map.insert(
            b"path".to_vec(),
            Bencode::List(self.path.iter().map(|c| c.as_str().into()).collect()),
        );
        if let Some(attr) = &self.attr {
            map.insert(b"attr".to_vec(), attr.as_str().into());
        }
        Bencode::Dict(map)
    }
}

fn to_i64(n: u64) -> i64 {
    // Lengths come from file sizes, which the OS bounds far below i64::MAX.
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A whole metainfo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    pub announce: Option<String>,
    /// BEP 12 tiers, in order.
    pub announce_list: Vec<Vec<String>>,
    pub nodes: Vec<Node>,
    /// BEP 19 web seeds (`url-list`).
    pub web_seeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    pub info: Info,
    /// BEP 52 `piece layers`: pieces root → concatenated SHA-256 piece
    /// hashes, for files larger than one piece.
    pub piece_layers: BTreeMap<[u8; 32], Vec<u8>>,
}

impl Metainfo {
    /// Trackers by tier as a client would use them: `announce-list` when it
    /// has any URL, otherwise `announce` alone.
    pub fn tracker_tiers(&self) -> Vec<Vec<String>> {
        let tiers: Vec<Vec<String>> = self
            .announce_list
            .iter()
            .filter(|tier| !tier.is_empty())
            .cloned()
            .collect();
        if !tiers.is_empty() {
            return tiers;
        }
        self.announce.iter().map(|a| vec![a.clone()]).collect()
    }

    pub fn to_bencode(&self) -> Bencode {
        let mut map = BTreeMap::new();
        let mut put = |key: &str, value: Bencode| {
            map.insert(key.as_bytes().to_vec(), value);
        };
        if let Some(announce) = &self.announce {
            put("announce", announce.as_str().into());
        }
        if !self.announce_list.is_empty() {
            put(
                "announce-list",
                Bencode::List(
                    self.announce_list
                        .iter()
                        .map(|tier| Bencode::List(tier.iter().map(|u| u.as_str().into()).collect()))
                        .collect(),
                ),
            );
        }
        if let Some(comment) = &self.comment {
            put("comment", comment.as_str().into());
        }
        if let Some(created_by) = &self.created_by {
            put("created by", created_by.as_str().into());
        }
        if let Some(date) = self.creation_date {
            put("creation date", Bencode::Int(date));
        }
        put("info", self.info.to_bencode());
        if !self.nodes.is_empty() {
            put(
                "nodes",
                Bencode::List(
                    self.nodes
                        .iter()
                        .map(|n| {
                            Bencode::List(vec![n.host.as_str().into(), Bencode::Int(n.port.into())])
                        })
                        .collect(),
                ),
            );
        }
        if self.info.version.has_v2() {
            // Present even when empty, as BEP 52 requires.
            put(
                "piece layers",
                Bencode::Dict(
                    self.piece_layers
                        .iter()
                        .map(|(root, layer)| (root.to_vec(), Bencode::Bytes(layer.clone())))
                        .collect(),
                ),
            );
        }
        if !self.web_seeds.is_empty() {
            put(
                "url-list",
                Bencode::List(self.web_seeds.iter().map(|u| u.as_str().into()).collect()),
            );
        }
        Bencode::Dict(map)
    }
}

/// A metainfo together with the exact bytes of its `info` dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    pub meta: Metainfo,
    pub info_bytes: Vec<u8>,
    /// The 20-byte swarm id: the v1 hash, or for a v2-only torrent the
    /// truncated v2 hash (what trackers and the DHT use, BEP 52).
    pub info_hash: InfoHash,
    /// SHA-256 of the info bytes, for v2 and hybrid torrents.
    pub info_hash_v2: Option<[u8; 32]>,
}

/// Both identities of an info dictionary.
fn info_hashes(info_bytes: &[u8], version: Version) -> (InfoHash, Option<[u8; 32]>) {
    let v2: Option<[u8; 32]> = version
        .has_v2()
        .then(|| sha2::Sha256::digest(info_bytes).into());
    let swarm = match v2 {
        Some(v2) if !version.has_v1() => {
            let mut truncated = [0u8; 20];
            truncated.copy_from_slice(&v2[..20]);
            InfoHash(truncated)
        }
        _ => InfoHash::of_info_bytes(info_bytes),
    };
    (swarm, v2)
}

impl Torrent {
    /// Wraps a model built in memory; the info bytes are its canonical encoding.
    pub fn from_metainfo(meta: Metainfo) -> Self {
        let info_bytes = meta.info.to_bencode().encode();
        let (info_hash, info_hash_v2) = info_hashes(&info_bytes, meta.info.version);
        Self {
            meta,
            info_bytes,
            info_hash,
            info_hash_v2,
        }
    }

    /// The canonical bytes of the whole file.
    pub fn encode(&self) -> Vec<u8> {
        self.meta.to_bencode().encode()
    }

    /// Parses a `.torrent` leniently: unknown keys are ignored, keys may be
    /// unsorted; what a client needs must be present and well-formed.
    pub fn parse(bytes: &[u8]) -> Result<Self, MetainfoError> {
        let root = bencode::decode(bytes)?;
        if root.as_dict().is_none() {
            return Err(MetainfoError::NotADictionary(root.type_name()));
        }
        let info_value = root.get(b"info").ok_or(MetainfoError::Missing("info"))?;
        let info = parse_info(info_value)?;
        let meta = Metainfo {
            announce: optional_string(&root, "announce")?,
            announce_list: parse_announce_list(&root),
            nodes: parse_nodes(&root),
            web_seeds: parse_url_list(&root),
            comment: optional_string(&root, "comment")?,
            created_by: optional_string(&root, "created by")?,
            creation_date: root.get(b"creation date").and_then(Value::as_int),
            piece_layers: parse_piece_layers(&root, &info)?,
            info,
        };
        let (info_hash, info_hash_v2) = info_hashes(info_value.raw, meta.info.version);
        Ok(Self {
            meta,
            info_bytes: info_value.raw.to_vec(),
            info_hash,
            info_hash_v2,
        })
    }
}

fn wrong_type(field: &str, expected: &'static str) -> MetainfoError {
    MetainfoError::WrongType {
        field: field.to_owned(),
        expected,
    }
}

/// A descriptive text field (shown, never used as a path), so invalid UTF-8
/// is replaced rather than rejected.
fn optional_string(dict: &Value<'_>, key: &str) -> Result<Option<String>, MetainfoError> {
    match dict.get(key.as_bytes()) {
        None => Ok(None),
        Some(value) => match value.as_bytes() {
            Some(bytes) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
            None => Err(wrong_type(key, "a string")),
        },
    }
}

fn parse_announce_list(root: &Value<'_>) -> Vec<Vec<String>> {
    let Some(tiers) = root.get(b"announce-list").and_then(Value::as_list) else {
        return Vec::new();
    };
    tiers
        .iter()
        .filter_map(Value::as_list)
        .map(|tier| {
            tier.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|tier| !tier.is_empty())
        .collect()
}

fn parse_nodes(root: &Value<'_>) -> Vec<Node> {
    let Some(nodes) = root.get(b"nodes").and_then(Value::as_list) else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter_map(|pair| match pair.as_list()? {
            [host, port] => Some(Node {
                host: host.as_str()?.to_owned(),
                port: u16::try_from(port.as_int()?).ok()?,
            }),
            _ => None,
        })
        .collect()
}

fn parse_url_list(root: &Value<'_>) -> Vec<String> {
    match root.get(b"url-list") {
        Some(value) => match value.as_list() {
            Some(list) => list
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            None => value
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|s| vec![s.to_owned()])
                .unwrap_or_default(),
        },
        None => Vec::new(),
    }
}

fn required_length(dict: &Value<'_>, field: &str) -> Result<u64, MetainfoError> {
    let value = dict
        .get(b"length")
        .ok_or_else(|| wrong_type(field, "an integer length"))?;
    let n = value
        .as_int()
        .ok_or_else(|| wrong_type(field, "an integer length"))?;
    u64::try_from(n).map_err(|_| MetainfoError::Invalid {
        field: field.to_owned(),
        reason: format!("negative length {n}"),
    })
}

/// The plain key when it is valid UTF-8, else its `.utf-8` variant, which
/// some old clients wrote beside a legacy code-page value.
fn utf8_field<'v, 'a>(dict: &'v Value<'a>, key: &str) -> Option<&'v Value<'a>> {
    let is_utf8 = |v: &Value<'_>| match v.as_list() {
        Some(items) => items.iter().all(|c| c.as_str().is_some()),
        None => v.as_str().is_some(),
    };
    let plain = dict.get(key.as_bytes());
    if plain.is_some_and(is_utf8) {
        return plain;
    }
    dict.get(format!("{key}.utf-8").as_bytes())
        .filter(|v| is_utf8(v))
        .or(plain)
}

/// Checks one path component: rejects what could leave the content directory.
fn check_component(field: &str, component: &str) -> Result<(), MetainfoError> {
    let reason = if component.is_empty() {
        Some("empty component")
    } else if component == "." || component == ".." {
        Some("`.` or `..` component")
    } else if component.contains('/') || component.contains('\\') {
        Some("component contains a path separator")
    } else if component.contains('\0') {
        Some("component contains a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MetainfoError::UnsafePath {
            field: field.to_owned(),
            path: component.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn parse_info(info: &Value<'_>) -> Result<Info, MetainfoError> {
    if info.as_dict().is_none() {
        return Err(wrong_type("info", "a dictionary"));
    }
    let name_value = utf8_field(info, "name").ok_or(MetainfoError::Missing("info.name"))?;
    let name = name_value
        .as_str()
        .ok_or_else(|| wrong_type("info.name", "a UTF-8 string"))?
        .to_owned();
    check_component("info.name", &name)?;

    let piece_length = info
        .get(b"piece length")
        .ok_or(MetainfoError::Missing("info.piece length"))?
        .as_int()
        .ok_or_else(|| wrong_type("info.piece length", "an integer"))?;
    let piece_length = u64::try_from(piece_length)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| MetainfoError::Invalid {
            field: "info.piece length".into(),
            reason: format!("{piece_length} is not a positive size"),
        })?;

    let is_v2 = info.get(b"meta version").and_then(Value::as_int) == Some(2);
    let has_v1 = !is_v2 || info.get(b"pieces").is_some();
    let version = match (has_v1, is_v2) {
        (true, true) => Version::Hybrid,
        (false, _) => Version::V2,
        (true, false) => Version::V1,
    };
    if is_v2 && !(piece_length.is_power_of_two() && piece_length >= crate::merkle::BLOCK) {
        return Err(MetainfoError::Invalid {
            field: "info.piece length".into(),
            reason: format!(
                "{piece_length} is not a power of two of at least 16 KiB, as v2 requires"
            ),
        });
    }
    let file_tree = if is_v2 {
        let tree = info
            .get(b"file tree")
            .ok_or(MetainfoError::Missing("info.file tree"))?;
        parse_file_tree(tree)?
    } else {
        Vec::new()
    };

    let (pieces, layout) = if has_v1 {
        (parse_pieces(info)?, parse_layout(info)?)
    } else {
        (Vec::new(), layout_from_tree(&name, &file_tree))
    };

    // Each length fits i64; hostile files can still make a sum wrap.
    let lengths: Vec<u64> = match &layout {
        Layout::Single { length } => vec![*length],
        Layout::Multi { files } => files.iter().map(|f| f.length).collect(),
    };
    for (field, mut lengths) in [
        (
            "info.files",
            Box::new(lengths.into_iter()) as Box<dyn Iterator<Item = u64>>,
        ),
        (
            "info.file tree",
            Box::new(file_tree.iter().map(|f| f.length)),
        ),
    ] {
        lengths
            .try_fold(0u64, u64::checked_add)
            .ok_or_else(|| MetainfoError::Invalid {
                field: field.into(),
                reason: "file lengths add up to more than 2^64 bytes".into(),
            })?;
    }

    let info = Info {
        name,
        piece_length,
        pieces,
        private: info.get(b"private").and_then(Value::as_int) == Some(1),
        source: info
            .get(b"source")
            .and_then(Value::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        layout,
        version,
        file_tree,
    };
    if has_v1 {
        let expected = info.total_length().div_ceil(piece_length);
        if info.pieces.len() as u64 != expected {
            return Err(MetainfoError::Invalid {
                field: "info.pieces".into(),
                reason: format!(
                    "holds {} hashes but {} bytes in pieces of {} need {}",
                    info.pieces.len(),
                    info.total_length(),
                    piece_length,
                    expected
                ),
            });
        }
    }
    if version == Version::Hybrid {
        check_hybrid_files_match(&info)?;
    }
    Ok(info)
}

fn parse_pieces(info: &Value<'_>) -> Result<Vec<[u8; 20]>, MetainfoError> {
    let pieces_raw = info
        .get(b"pieces")
        .ok_or(MetainfoError::Missing("info.pieces"))?
        .as_bytes()
        .ok_or_else(|| wrong_type("info.pieces", "a byte string"))?;
    if pieces_raw.len() % 20 != 0 {
        return Err(MetainfoError::Invalid {
            field: "info.pieces".into(),
            reason: format!("length {} is not a multiple of 20", pieces_raw.len()),
        });
    }
    Ok(pieces_raw
        .chunks_exact(20)
        .map(|c| {
            let mut h = [0u8; 20];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

fn parse_layout(info: &Value<'_>) -> Result<Layout, MetainfoError> {
    match (info.get(b"length"), info.get(b"files")) {
        (Some(_), None) => Ok(Layout::Single {
            length: required_length(info, "info.length")?,
        }),
        (None, Some(files)) => Ok(Layout::Multi {
            files: parse_files(files)?,
        }),
        (Some(_), Some(_)) => Err(MetainfoError::Invalid {
            field: "info".into(),
            reason: "has both `length` and `files`".into(),
        }),
        (None, None) => Err(MetainfoError::Missing("info.length or info.files")),
    }
}

/// A v2-only torrent's files as a v1-style layout: one file named like the
/// torrent is a single-file torrent (BEP 52), anything else a directory.
fn layout_from_tree(name: &str, tree: &[V2File]) -> Layout {
    match tree {
        [only] if only.path.len() == 1 && only.path[0] == name => Layout::Single {
            length: only.length,
        },
        _ => Layout::Multi {
            files: tree
                .iter()
                .map(|f| FileEntry {
                    path: f.path.clone(),
                    length: f.length,
                    attr: f.attr.clone(),
                })
                .collect(),
        },
    }
}

/// In a hybrid, the v1 list without pad files must be the v2 tree, in order.
fn check_hybrid_files_match(info: &Info) -> Result<(), MetainfoError> {
    let v1: Vec<(Vec<String>, u64)> = match &info.layout {
        Layout::Single { length } => vec![(vec![info.name.clone()], *length)],
        Layout::Multi { files } => files
            .iter()
            .filter(|f| !f.is_padding())
            .map(|f| (f.path.clone(), f.length))
            .collect(),
    };
    let v2: Vec<(Vec<String>, u64)> = info
        .file_tree
        .iter()
        .map(|f| (f.path.clone(), f.length))
        .collect();
    if v1 == v2 {
        return Ok(());
    }
    Err(MetainfoError::Invalid {
        field: "info.files".into(),
        reason: "the v1 file list does not match the v2 file tree of this hybrid torrent".into(),
    })
}

/// Flattens BEP 52's nested `file tree`: a key "" marks a file's own entry.
fn parse_file_tree(tree: &Value<'_>) -> Result<Vec<V2File>, MetainfoError> {
    fn walk(
        node: &Value<'_>,
        prefix: &mut Vec<String>,
        out: &mut Vec<V2File>,
    ) -> Result<(), MetainfoError> {
        let field_name = format!("info.file tree/{}", prefix.join("/"));
        let field = || field_name.clone();
        let entries = node
            .as_dict()
            .ok_or_else(|| wrong_type(&field(), "a dictionary"))?;
        if entries.len() > 1 && entries.iter().any(|(key, _)| key.is_empty()) {
            return Err(MetainfoError::Invalid {
                field: field(),
                reason: "is both a file and a directory".into(),
            });
        }
        for (key, child) in entries {
            if key.is_empty() {
                if prefix.is_empty() {
                    return Err(MetainfoError::UnsafePath {
                        field: "info.file tree".into(),
                        path: String::new(),
                        reason: "a file with an empty path",
                    });
                }
                if child.as_dict().is_none() {
                    return Err(wrong_type(&field(), "a dictionary"));
                }
                let length = required_length(child, &field())?;
                let pieces_root =
                    match child.get(b"pieces root").and_then(Value::as_bytes) {
                        Some(bytes) => Some(<[u8; 32]>::try_from(bytes).map_err(|_| {
                            MetainfoError::Invalid {
                                field: format!("{}.pieces root", field()),
                                reason: format!("{} bytes, not 32", bytes.len()),
                            }
                        })?),
                        None if length > 0 => {
                            return Err(MetainfoError::Invalid {
                                field: field(),
                                reason: "a non-empty file without `pieces root`".into(),
                            })
                        }
                        None => None,
                    };
                out.push(V2File {
                    path: prefix.clone(),
                    length,
                    pieces_root,
                    attr: child
                        .get(b"attr")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
                continue;
            }
            let component =
                std::str::from_utf8(key).map_err(|_| wrong_type(&field(), "UTF-8 names"))?;
            check_component(&field(), component)?;
            prefix.push(component.to_owned());
            walk(child, prefix, out)?;
            prefix.pop();
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(tree, &mut Vec::new(), &mut files)?;
    if files.is_empty() {
        return Err(MetainfoError::Invalid {
            field: "info.file tree".into(),
            reason: "holds no files".into(),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    check_unique_paths("info.file tree", files.iter().map(|f| f.path.as_slice()))?;
    Ok(files)
}

/// Rejects two files at one path (a repeated `file tree` key, a repeated v1
/// `files` entry) and a file that is also a directory of another. BEP 47
/// pad files are left out by the caller: clients name them by size
/// (`.pad/16384`), so several may share a path, and none is written.
fn check_unique_paths<'p>(
    field: &'static str,
    paths: impl Iterator<Item = &'p [String]>,
) -> Result<(), MetainfoError> {
    let mut sorted: Vec<&[String]> = paths.collect();
    sorted.sort_unstable();
    // Sorted, a path that is a prefix of others is directly followed by one.
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.starts_with(a) {
            return Err(MetainfoError::DuplicatePath {
                field,
                path: a.join("/"),
                is_directory: a.len() != b.len(),
            });
        }
    }
    Ok(())
}

/// BEP 52 `piece layers`, checked for shape; absent means none (a torrent
/// rebuilt from a magnet may lack them).
fn parse_piece_layers(
    root: &Value<'_>,
    info: &Info,
) -> Result<BTreeMap<[u8; 32], Vec<u8>>, MetainfoError> {
    let mut layers = BTreeMap::new();
    if !info.version.has_v2() {
        return Ok(layers);
    }
    let Some(value) = root.get(b"piece layers") else {
        return Ok(layers);
    };
    let entries = value
        .as_dict()
        .ok_or_else(|| wrong_type("piece layers", "a dictionary"))?;
    for (key, layer) in entries {
        let root_hash = <[u8; 32]>::try_from(*key).map_err(|_| MetainfoError::Invalid {
            field: "piece layers".into(),
            reason: format!("a key of {} bytes, not a 32-byte pieces root", key.len()),
        })?;
        let bytes = layer
            .as_bytes()
            .filter(|b| b.len() % 32 == 0)
            .ok_or_else(|| MetainfoError::Invalid {
                field: "piece layers".into(),
                reason: "a layer that is not a string of 32-byte hashes".into(),
            })?;
        layers.insert(root_hash, bytes.to_vec());
    }
    Ok(layers)
}

fn parse_files(files: &Value<'_>) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = files
        .as_list()
        .ok_or_else(|| wrong_type("info.files", "a list"))?;
    if list.is_empty() {
        return Err(MetainfoError::Invalid {
            field: "info.files".into(),
            reason: "the list is empty".into(),
        });
    }
    let mut entries = Vec::with_capacity(list.len());
    for (i, file) in list.iter().enumerate() {
        let field = format!("info.files[{i}]");
        if file.as_dict().is_none() {
            return Err(wrong_type(&field, "a dictionary"));
        }
        let length = required_length(file, &field)?;
        let path_field = format!("{field}.path");
        let components = utf8_field(file, "path")
            .and_then(Value::as_list)
            .ok_or_else(|| wrong_type(&path_field, "a list of strings"))?;
        if components.is_empty() {
            return Err(MetainfoError::UnsafePath {
                field: path_field,
                path: String::new(),
                reason: "empty path",
            });
        }
        let mut path = Vec::with_capacity(components.len());
        for component in components {
            let component = component
                .as_str()
                .ok_or_else(|| wrong_type(&path_field, "a list of UTF-8 strings"))?;
            check_component(&path_field, component)?;
            path.push(component.to_owned());
        }
        entries.push(FileEntry {
            path,
            length,
            attr: file.get(b"attr").and_then(Value::as_str).map(str::to_owned),
        });
    }
    check_unique_paths(
        "info.files",
        entries
            .iter()
            .filter(|f| !f.is_padding())
            .map(|f| f.path.as_slice()),
    )?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metainfo {
        Metainfo {
            announce: Some("http://t.example/announce".into()),
            announce_list: vec![],
            nodes: vec![],
            web_seeds: vec![],
            comment: None,
            created_by: None,
            creation_date: None,
            info: Info {
                name: "dir".into(),
                piece_length: 16384,
                pieces: vec![[7; 20]],
                private: false,
                source: None,
                layout: Layout::Multi {
                    files: vec![FileEntry {
                        path: vec!["a".into(), "b.txt".into()],
                        length: 10,
                        attr: None,
                    }],
                },
                version: Version::V1,
                file_tree: Vec::new(),
            },
            piece_layers: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_a_model() {
        let torrent = Torrent::from_metainfo(sample());
        let parsed = Torrent::parse(&torrent.encode()).unwrap();
        assert_eq!(parsed, torrent);
    }

    #[test]
    fn info_hash_comes_from_raw_bytes_even_when_unsorted() {
        // `pieces` before `name`: a re-encoding would sort and change the hash.
        let info = b"d6:lengthi1e6:pieces20:aaaaaaaaaaaaaaaaaaaa4:name1:x12:piece lengthi16384ee";
        let mut doc = b"d4:info".to_vec();
        doc.extend_from_slice(info);
        doc.push(b'e');
        let parsed = Torrent::parse(&doc).unwrap();
        assert_eq!(parsed.info_hash, InfoHash::of_info_bytes(info));
        assert_ne!(parsed.info_bytes, parsed.meta.info.to_bencode().encode());
    }

    #[test]
    fn rejects_escaping_paths() {
        for bad in ["..", ".", "", "a/b", "a\\b"] {
            let mut meta = sample();
            if let Layout::Multi { files } = &mut meta.info.layout {
                files[0].path = vec!["ok".into(), bad.into()];
            }
            let err = Torrent::parse(&Torrent::from_metainfo(meta).encode()).unwrap_err();
            assert!(
                matches!(err, MetainfoError::UnsafePath { .. }),
                "{bad}: {err}"
            );
        }
        let mut meta = sample();
        meta.info.name = "..".into();
        let err = Torrent::parse(&Torrent::from_metainfo(meta).encode()).unwrap_err();
        assert!(err.to_string().contains("info.name"), "{err}");
    }

    #[test]
    fn rejects_piece_count_mismatch_naming_the_field() {
        let mut meta = sample();
        meta.info.pieces.push([0; 20]);
        let err = Torrent::parse(&Torrent::from_metainfo(meta).encode()).unwrap_err();
        assert!(err.to_string().contains("info.pieces"), "{err}");
    }

    #[test]
    fn rejects_file_lengths_whose_sum_overflows() {
        // Found by fuzzing: two files of i64::MAX bytes and one of 3 wrapped to 1 byte.
        let mut doc = b"d4:infod5:filesl".to_vec();
        for (len, name) in [(i64::MAX, "a"), (i64::MAX, "b"), (3, "c")] {
            doc.extend_from_slice(format!("d6:lengthi{len}e4:pathl1:{name}ee").as_bytes());
        }
        doc.extend_from_slice(b"e4:name1:x12:piece lengthi1e6:pieces20:");
        doc.extend_from_slice(&[0; 20]);
        doc.extend_from_slice(b"ee");
        let err = Torrent::parse(&doc).unwrap_err();
        assert!(err.to_string().contains("info.files"), "{err}");
    }

    fn v2_sample() -> Metainfo {
        let mut meta = sample();
        meta.info.version = Version::V2;
        meta.info.pieces.clear();
        meta.info.file_tree = vec![
            V2File {
                path: vec!["a".into(), "b.txt".into()],
                length: 10,
                pieces_root: Some([3; 32]),
                attr: Some("x".into()),
            },
            V2File {
                path: vec!["empty".into()],
                length: 0,
                pieces_root: None,
                attr: None,
            },
        ];
        meta.info.layout = layout_from_tree(&meta.info.name, &meta.info.file_tree);
        meta
    }

    #[test]
    fn v2_model_round_trips_with_both_hashes() {
        let torrent = Torrent::from_metainfo(v2_sample());
        let parsed = Torrent::parse(&torrent.encode()).unwrap();
        assert_eq!(parsed, torrent);
        let v2 = parsed.info_hash_v2.unwrap();
        assert_eq!(
            parsed.info_hash.0,
            v2[..20],
            "a v2-only swarm uses the truncated v2 hash"
        );
        let encoded = String::from_utf8_lossy(&torrent.encode()).into_owned();
        assert!(encoded.contains("12:piece layersde"), "{encoded}");
        assert!(encoded.contains("12:meta versioni2e"), "{encoded}");
    }

    #[test]
    fn v2_file_tree_rejects_unsafe_and_ambiguous_entries() {
        let torrent = Torrent::from_metainfo(v2_sample());
        let bytes = torrent.encode();
        let swap = |from: &[u8], to: &[u8]| {
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            let mut out = bytes.clone();
            out.splice(at..at + from.len(), to.iter().copied());
            out
        };
        let dotdot = swap(b"1:ad", b"2:..d");
        assert!(matches!(
            Torrent::parse(&dotdot),
            Err(MetainfoError::UnsafePath { .. })
        ));
        // "empty" holding a file entry and a directory entry at once.
        let both = swap(b"5:emptyd0:d", b"5:emptyd1:xd0:d6:lengthi0eee0:d");
        let err = Torrent::parse(&both).unwrap_err();
        assert!(
            err.to_string().contains("both a file and a directory"),
            "{err}"
        );
    }

    #[test]
    fn v1_files_reject_a_repeated_path_naming_it() {
        let mut meta = sample();
        let Layout::Multi { files } = &mut meta.info.layout else {
            unreachable!("sample is multi-file")
        };
        files.push(files[0].clone());
        meta.info.pieces = vec![[7; 20]; 2];
        meta.info.piece_length = 10;
        let bytes = Torrent::from_metainfo(meta).encode();
        let err = Torrent::parse(&bytes).unwrap_err();
        assert!(
            matches!(&err, MetainfoError::DuplicatePath { field: "info.files", path, is_directory: false } if path == "a/b.txt"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "path \"a/b.txt\" appears twice in `info.files`"
        );
    }

    #[test]
    fn v1_files_reject_a_file_that_is_also_a_directory() {
        let mut meta = sample();
        let Layout::Multi { files } = &mut meta.info.layout else {
            unreachable!("sample is multi-file")
        };
        files.push(FileEntry {
            path: vec!["a".into()],
            length: 0,
            attr: None,
        });
        let err = Torrent::parse(&Torrent::from_metainfo(meta).encode()).unwrap_err();
        assert!(
            matches!(&err, MetainfoError::DuplicatePath { path, is_directory: true, .. } if path == "a"),
            "{err:?}"
        );
    }

    #[test]
    fn v1_pad_files_may_share_a_path() {
        let mut meta = sample();
        let Layout::Multi { files } = &mut meta.info.layout else {
            unreachable!("sample is multi-file")
        };
        let pad = FileEntry {
            path: vec![".pad".into(), "6".into()],
            length: 6,
            attr: Some("p".into()),
        };
        files.push(pad.clone());
        files.push(pad);
        assert!(Torrent::parse(&Torrent::from_metainfo(meta).encode()).is_ok());
    }

    #[test]
    fn v2_file_tree_rejects_a_repeated_key_naming_the_path() {
        // The bencode reader keeps repeated keys; `a` twice means two files at `a`.
        let info = b"d9:file treed1:ad0:d6:lengthi0eee1:ad0:d6:lengthi0eee\
            e12:meta versioni2e4:name1:x12:piece lengthi16384ee";
        let mut doc = b"d4:info".to_vec();
        doc.extend_from_slice(info);
        doc.push(b'e');
        let err = Torrent::parse(&doc).unwrap_err();
        assert!(
            matches!(&err, MetainfoError::DuplicatePath { field: "info.file tree", path, is_directory: false } if path == "a"),
            "{err:?}"
        );
        // A file `a` repeated as a directory `a/b`.
        let doc = b"d4:infod9:file treed1:ad0:d6:lengthi0eee1:ad1:bd0:d6:lengthi0eeee\
            e12:meta versioni2e4:name1:x12:piece lengthi16384eee";
        let err = Torrent::parse(doc).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"a\" appears twice in `info.file tree` (as a file and as a directory)"),
            "{err}"
        );
    }

    #[test]
    fn tiers_fall_back_to_announce() {
        let mut meta = sample();
        assert_eq!(
            meta.tracker_tiers(),
            vec![vec!["http://t.example/announce".to_string()]]
        );
        meta.announce_list = vec![vec!["udp://a:1".into()], vec![]];
        assert_eq!(meta.tracker_tiers(), vec![vec!["udp://a:1".to_string()]]);
    }

    #[test]
    fn hex_round_trips() {
        let hash = InfoHash([0xab; 20]);
        assert_eq!(
            InfoHash::from_hex(&hash.to_hex().to_uppercase()),
            Some(hash)
        );
        assert_eq!(InfoHash::from_hex("zz"), None);
    }
}
