//! Which torrents the tracker serves: `--allowed-dir` (every `.torrent`
//! under a directory, bttrack.py's `allowed_dir`), `--allow-list` and
//! `--deny-list` (hex info hashes, one per line, opentracker's format).
//!
//! Loading reads files (sync; callers run it off the runtime threads); the
//! resulting [`Access`] is a plain value checked per request. Hybrid v1+v2
//! torrents allow both hashes: the v2 one truncated to 20 bytes (BEP 52);
//! both lead to one [`DirTorrent`], which the status page shows as one row.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::metainfo::{InfoHash, Torrent};

use super::swarm::Id20;
use super::TrackerError;

/// Where the access lists come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    pub allowed_dir: Option<PathBuf>,
    pub allow_list: Option<PathBuf>,
    pub deny_list: Option<PathBuf>,
    /// Torrents allowed without any file (`publish`'s embedded tracker
    /// serves just the torrent it publishes): info hash and name.
    pub allow_torrents: Vec<(Id20, String)>,
    /// Allow only what is listed, even when nothing is (a `publish` that
    /// adds its torrents at run time).
    pub closed: bool,
}

impl AccessConfig {
    /// Whether anything restricts the tracker at all (open mode otherwise).
    pub fn is_open(&self) -> bool {
        !self.closed
            && self.allowed_dir.is_none()
            && self.allow_list.is_none()
            && self.deny_list.is_none()
            && self.allow_torrents.is_empty()
    }
}

/// The loaded lists.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `None`: every torrent is allowed (unless denied).
    allow: Option<HashSet<Id20>>,
    deny: HashSet<Id20>,
    /// Torrent names from the allowed directory, for the status page.
    pub names: HashMap<Id20, String>,
    /// What the allowed directory looked like, to notice changes.
    dir_fingerprint: Vec<(PathBuf, Option<SystemTime>, u64)>,
    /// The torrents of the allowed directory, one per info dictionary, in
    /// file-name order.
    dir_torrents: Vec<DirTorrent>,
    /// Every hash announced for a [`DirTorrent`] → its index.
    dir_index: HashMap<Id20, usize>,
}

/// A `.torrent` of the allowed directory: what the status page lists and
/// `--allow-get` serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirTorrent {
    pub name: String,
    pub v1: Option<Id20>,
    /// SHA-256 of the info dictionary (v2 and hybrid); announced truncated.
    pub v2: Option<[u8; 32]>,
    pub path: PathBuf,
}

impl DirTorrent {
    /// The file's torrent, as loaded.
    pub fn of(torrent: &Torrent, path: PathBuf) -> Self {
        Self {
            name: torrent.meta.info.name.clone(),
            v1: torrent
                .meta
                .info
                .version
                .has_v1()
                .then_some(torrent.info_hash.0),
            v2: torrent.info_hash_v2,
            path,
        }
    }

    /// The hashes clients announce it under: v1, then v2 truncated.
    pub fn hashes(&self) -> impl Iterator<Item = Id20> + '_ {
        self.v1.into_iter().chain(self.v2.map(|v2| truncate(&v2)))
    }
}

/// A v2 hash as announced: its first 20 bytes (BEP 52).
pub fn truncate(v2: &[u8; 32]) -> Id20 {
    let mut short = [0; 20];
    short.copy_from_slice(&v2[..20]);
    short
}

impl Access {
    pub fn allows(&self, info_hash: &Id20) -> bool {
        !self.deny.contains(info_hash) && self.allow.as_ref().is_none_or(|a| a.contains(info_hash))
    }

    /// The torrents of the allowed directory.
    pub fn dir_torrents(&self) -> &[DirTorrent] {
        &self.dir_torrents
    }

    /// The allowed-directory torrent announced as `hash` (v1 or truncated v2).
    pub fn dir_torrent(&self, hash: &Id20) -> Option<&DirTorrent> {
        self.dir_index
            .get(hash)
            .and_then(|&i| self.dir_torrents.get(i))
    }

    /// Lists `torrent` as one of the allowed directory's (a second file
    /// with the same hashes adds nothing) and allows its hashes.
    pub fn add_dir_torrent(&mut self, torrent: DirTorrent) {
        if torrent.hashes().any(|h| self.dir_index.contains_key(&h)) {
            return;
        }
        let index = self.dir_torrents.len();
        for hash in torrent.hashes() {
            self.dir_index.insert(hash, index);
            self.names.insert(hash, torrent.name.clone());
            self.allow.get_or_insert_with(HashSet::new).insert(hash);
        }
        self.dir_torrents.push(torrent);
    }

    /// What the lists allow, for logs: `every torrent`, or `N torrents`,
    /// and the denied count.
    pub fn describe(&self) -> String {
        let allowed = match &self.allow {
            None => "every torrent".to_owned(),
            Some(set) => format!(
                "{} info hash{}",
                set.len(),
                if set.len() == 1 { "" } else { "es" }
            ),
        };
        match self.deny.len() {
            0 => allowed,
            n => format!("{allowed}, {n} denied"),
        }
    }

    /// A copy with `hashes` allowed (named `name`) or no longer allowed.
    /// In open mode (no allow list) allowing changes nothing.
    pub fn with_torrent(&self, hashes: &[Id20], name: &str, allowed: bool) -> Self {
        let mut access = self.clone();
        for hash in hashes {
            if allowed {
                if let Some(allow) = &mut access.allow {
                    allow.insert(*hash);
                }
                access.names.insert(*hash, name.to_owned());
            } else {
                if let Some(allow) = &mut access.allow {
                    allow.remove(hash);
                }
                access.names.remove(hash);
            }
        }
        access
    }

    /// Reads every configured list. Unreadable torrents in the allowed
    /// directory are skipped (a half-copied file must not stop the
    /// tracker); unreadable or malformed list files are errors.
    pub fn load(config: &AccessConfig) -> Result<Self, TrackerError> {
        let mut access = Self::default();
        if config.closed {
            access.allow = Some(HashSet::new());
        }
        if let Some(dir) = &config.allowed_dir {
            access.allow.get_or_insert_with(HashSet::new);
            let files = fingerprint(dir)?;
            for (path, _, _) in &files {
                let Ok(bytes) = std::fs::read(path) else {
                    continue;
                };
                let Ok(torrent) = Torrent::parse(&bytes) else {
                    tracing::warn!(path = %path.display(), "skipping unreadable torrent in allowed dir");
                    continue;
                };
                access.add_dir_torrent(DirTorrent::of(&torrent, path.clone()));
            }
            access.dir_fingerprint = files;
        }
        if !config.allow_torrents.is_empty() {
            let allow = access.allow.get_or_insert_with(HashSet::new);
            for (hash, name) in &config.allow_torrents {
                allow.insert(*hash);
                access.names.insert(*hash, name.clone());
            }
        }
        if let Some(path) = &config.allow_list {
            let list = read_list(path)?;
            access.allow.get_or_insert_with(HashSet::new).extend(list);
        }
        if let Some(path) = &config.deny_list {
            access.deny = read_list(path)?;
            // A denied torrent is neither listed nor served.
            let deny = &access.deny;
            if access
                .dir_torrents
                .iter()
                .any(|t| t.hashes().any(|h| deny.contains(&h)))
            {
                let kept: Vec<DirTorrent> = std::mem::take(&mut access.dir_torrents)
                    .into_iter()
                    .filter(|t| !t.hashes().any(|h| deny.contains(&h)))
                    .collect();
                access.dir_index.clear();
                for torrent in kept {
                    access.add_dir_torrent(torrent);
                }
            }
        }
        Ok(access)
    }

    /// Whether the allowed directory differs from when this was loaded.
    pub fn dir_changed(&self, config: &AccessConfig) -> bool {
        match &config.allowed_dir {
            Some(dir) => fingerprint(dir).map_or(true, |now| now != self.dir_fingerprint),
            None => false,
        }
    }
}

/// The info hashes a torrent is announced under: v1, and for v2 and hybrid
/// torrents (`meta version` 2) SHA-256 of the info dictionary truncated to
/// 20 bytes.
pub fn torrent_hashes(torrent: &Torrent) -> Vec<Id20> {
    let mut hashes = Vec::with_capacity(2);
    if torrent.meta.info.version.has_v1() {
        hashes.push(torrent.info_hash.0);
    }
    if let Some(v2) = &torrent.info_hash_v2 {
        hashes.push(truncate(v2));
    }
    hashes
}

/// Every `.torrent` file under `dir` with its modification time and size.
fn fingerprint(dir: &Path) -> Result<Vec<(PathBuf, Option<SystemTime>, u64)>, TrackerError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|err| TrackerError::AllowedDir {
            path: dir.to_owned(),
            reason: err.to_string(),
        })?;
        let is_torrent = entry
            .path()
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("torrent"));
        if entry.file_type().is_file() && is_torrent {
            let meta = entry.metadata().ok();
            files.push((
                entry.path().to_owned(),
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.map_or(0, |m| m.len()),
            ));
        }
    }
    Ok(files)
}

/// Reads a list of hex info hashes: one per line, `#` comments and blank
/// lines ignored (opentracker's whitelist format).
pub fn read_list(path: &Path) -> Result<HashSet<Id20>, TrackerError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrackerError::ReadList {
        path: path.to_owned(),
        source,
    })?;
    parse_list(&text).map_err(|(line, text)| TrackerError::BadListLine {
        path: path.to_owned(),
        line,
        text,
    })
}

/// Parses list text; on error returns the 1-based line number and its text.
pub fn parse_list(text: &str) -> Result<HashSet<Id20>, (usize, String)> {
    let mut set = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match InfoHash::from_hex(line) {
            Some(hash) => set.insert(hash.0),
            None => return Err((number + 1, line.to_owned())),
        };
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_hex_lines_with_comments() {
        let text = "# whitelist\n\n0123456789abcdef0123456789ABCDEF01234567  # a torrent\n";
        let set = parse_list(text).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(parse_list("abc\n").unwrap_err(), (1, "abc".to_owned()));
    }

    fn torrent(meta_version: Option<i64>) -> Torrent {
        use crate::bencode::{dict, Bencode};
        let mut info = dict([
            ("length", Bencode::Int(5)),
            ("name", Bencode::from("hybrid.bin")),
            ("piece length", Bencode::Int(16384)),
            ("pieces", Bencode::Bytes(vec![7; 20])),
        ]);
        if let (Some(version), Bencode::Dict(entries)) = (meta_version, &mut info) {
            entries.insert(b"meta version".to_vec(), Bencode::Int(version));
            let file = dict([
                ("length", Bencode::Int(5)),
                ("pieces root", Bencode::Bytes(vec![9; 32])),
            ]);
            let tree = dict([("hybrid.bin", dict([("", file)]))]);
            entries.insert(b"file tree".to_vec(), tree);
        }
        let root = dict([("info", info)]).encode();
        Torrent::parse(&root).unwrap()
    }

    #[test]
    fn hybrid_torrents_allow_both_hashes() {
        let v1 = torrent(None);
        assert_eq!(torrent_hashes(&v1), vec![v1.info_hash.0]);
        let hybrid = torrent(Some(2));
        let hashes = torrent_hashes(&hybrid);
        let v2 = <sha2::Sha256 as sha2::Digest>::digest(&hybrid.info_bytes);
        assert_eq!(
            hashes,
            vec![hybrid.info_hash.0, v2[..20].try_into().unwrap()]
        );
    }

    #[test]
    fn deny_beats_allow_and_no_allow_list_is_open() {
        let mut access = Access::default();
        assert!(access.allows(&[1; 20]));
        access.deny.insert([1; 20]);
        assert!(!access.allows(&[1; 20]));
        access.allow = Some(HashSet::from([[2; 20]]));
        assert!(access.allows(&[2; 20]));
        assert!(!access.allows(&[3; 20]));
    }
}
