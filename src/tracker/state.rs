//! The `--state` file: completed counts and current peers, so a restart
//! loses nothing users care about (bttrack.py's `dfile`).
//!
//! Bencode, written to a temporary file beside the target and renamed over
//! it, so a crash mid-write leaves the previous state intact. Each save's
//! temporary file has a name of its own (`.<state name>.tmp-<random>`), so
//! overlapping saves never share one; a save killed before its rename
//! leaves one behind, and the next start removes them
//! ([`remove_stale_temp_files`]). Layout:
//! `{version: 2, torrents: [{info hash, completed, peers: [[compact
//! address (6 or 18 bytes), flags (1 seeder)]]}]}`. Version 1 files (each
//! peer also had a peer id, and flag 2 "completion counted") still load;
//! the store keeps neither.

use std::io::Write;
use std::path::Path;

use crate::bencode::{self, Bencode, Value};

use super::swarm::{Endpoint, PeerRecord, TorrentRecord};
use super::TrackerError;

const VERSION: i64 = 2;
/// The layout before peer ids were dropped: `[address, peer id, flags]`.
const VERSION_WITH_IDS: i64 = 1;

/// Encodes torrents as a state document.
pub fn encode(torrents: &[TorrentRecord]) -> Vec<u8> {
    let list = torrents
        .iter()
        .map(|t| {
            let peers = t
                .peers
                .iter()
                .map(|p| {
                    let addr = match p.endpoint {
                        Endpoint::V4(b) => b.to_vec(),
                        Endpoint::V6(b) => b.to_vec(),
                    };
                    Bencode::List(vec![
                        Bencode::Bytes(addr),
                        Bencode::Int(i64::from(p.seeder)),
                    ])
                })
                .collect();
            bencode::dict([
                ("completed", Bencode::Int(i64::from(t.completed))),
                ("info hash", Bencode::Bytes(t.info_hash.to_vec())),
                ("peers", Bencode::List(peers)),
            ])
        })
        .collect();
    bencode::dict([
        ("torrents", Bencode::List(list)),
        ("version", Bencode::Int(VERSION)),
    ])
    .encode()
}

fn id20(value: Option<&Value<'_>>) -> Option<[u8; 20]> {
    value?.as_bytes()?.try_into().ok()
}

/// Decodes a state document; the error says what is wrong.
pub fn decode(bytes: &[u8]) -> Result<Vec<TorrentRecord>, String> {
    let root = bencode::decode(bytes).map_err(|e| e.to_string())?;
    let version = root.get(b"version").and_then(Value::as_int);
    let with_ids = match version {
        Some(VERSION) => false,
        Some(VERSION_WITH_IDS) => true,
        _ => {
            return Err(format!(
                "unknown version (this build reads versions {VERSION_WITH_IDS} and {VERSION})"
            ))
        }
    };
    let torrents = root
        .get(b"torrents")
        .and_then(Value::as_list)
        .ok_or("no torrents list")?;
    let mut out = Vec::with_capacity(torrents.len());
    for (i, t) in torrents.iter().enumerate() {
        let bad = |what: &str| format!("torrent {i}: {what}");
        let info_hash = id20(t.get(b"info hash")).ok_or_else(|| bad("bad info hash"))?;
        let completed = t
            .get(b"completed")
            .and_then(Value::as_int)
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| bad("bad completed count"))?;
        let mut peers = Vec::new();
        for p in t.get(b"peers").and_then(Value::as_list).unwrap_or(&[]) {
            let fields = p.as_list().ok_or_else(|| bad("peer is not a list"))?;
            let (addr, flags) = match (with_ids, fields) {
                (false, [addr, flags]) => (addr, flags),
                (true, [addr, id, flags]) => {
                    id20(Some(id)).ok_or_else(|| bad("bad peer id"))?;
                    (addr, flags)
                }
                (false, _) => return Err(bad("peer needs 2 fields")),
                (true, _) => return Err(bad("peer needs 3 fields")),
            };
            let endpoint = match addr.as_bytes() {
                Some(b) if b.len() == 6 => Endpoint::V4(b.try_into().map_err(|_| bad("addr"))?),
                Some(b) if b.len() == 18 => Endpoint::V6(b.try_into().map_err(|_| bad("addr"))?),
                _ => return Err(bad("peer address must be 6 or 18 bytes")),
            };
            let flags = flags.as_int().ok_or_else(|| bad("bad flags"))?;
            peers.push(PeerRecord {
                endpoint,
                seeder: flags & 1 != 0,
            });
        }
        out.push(TorrentRecord {
            info_hash,
            completed,
            peers,
        });
    }
    Ok(out)
}

/// Loads a state file; a missing file is an empty state (first start).
pub fn load(path: &Path) -> Result<Vec<TorrentRecord>, TrackerError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(TrackerError::ReadState {
                path: path.to_owned(),
                source,
            })
        }
    };
    decode(&bytes).map_err(|reason| TrackerError::BadState {
        path: path.to_owned(),
        reason,
    })
}

/// The directory of the state file and the prefix of its temporary files.
fn temp_prefix(path: &Path) -> (&Path, String) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    (dir, format!(".{name}.tmp-"))
}

/// Writes the state atomically: a temporary file of its own in the same
/// directory, then rename.
pub fn save(path: &Path, torrents: &[TorrentRecord]) -> Result<(), TrackerError> {
    let err = |source| TrackerError::WriteState {
        path: path.to_owned(),
        source,
    };
    let (dir, prefix) = temp_prefix(path);
    let mut file = tempfile::Builder::new()
        .prefix(&prefix)
        .tempfile_in(dir)
        .map_err(err)?;
    file.write_all(&encode(torrents)).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Removes temporary files that saves killed before their rename left
/// beside the state file (at start, before anything saves). Returns how
/// many were removed; the error names the file that could not be.
pub fn remove_stale_temp_files(path: &Path) -> Result<usize, TrackerError> {
    let (dir, prefix) = temp_prefix(path);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // No directory yet: nothing to clean; the first save reports it.
        Err(_) => return Ok(0),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_ours = name.to_str().is_some_and(|n| n.starts_with(&prefix));
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_ours && is_file {
            let stale = entry.path();
            std::fs::remove_file(&stale).map_err(|source| TrackerError::WriteState {
                path: stale,
                source,
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> Vec<TorrentRecord> {
        vec![TorrentRecord {
            info_hash: [1; 20],
            completed: 4,
            peers: vec![
                PeerRecord {
                    endpoint: Endpoint::V4([127, 0, 0, 1, 0, 80]),
                    seeder: true,
                },
                PeerRecord {
                    endpoint: Endpoint::V6([0; 18]),
                    seeder: false,
                },
            ],
        }]
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        assert_eq!(load(&path).unwrap(), vec![], "missing file: empty state");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
    }

    #[test]
    fn version_1_files_with_peer_ids_still_load() {
        // What the previous layout wrote for `sample()`: peer ids, flag 2.
        let v1 = bencode::dict([
            (
                "torrents",
                Bencode::List(vec![bencode::dict([
                    ("completed", Bencode::Int(4)),
                    ("info hash", Bencode::Bytes(vec![1; 20])),
                    (
                        "peers",
                        Bencode::List(vec![
                            Bencode::List(vec![
                                Bencode::Bytes(vec![127, 0, 0, 1, 0, 80]),
                                Bencode::Bytes(vec![2; 20]),
                                Bencode::Int(3),
                            ]),
                            Bencode::List(vec![
                                Bencode::Bytes(vec![0; 18]),
                                Bencode::Bytes(vec![3; 20]),
                                Bencode::Int(0),
                            ]),
                        ]),
                    ),
                ])]),
            ),
            ("version", Bencode::Int(1)),
        ])
        .encode();
        assert_eq!(decode(&v1).unwrap(), sample());
        // The new layout has no peer ids: it is shorter by them.
        assert!(encode(&sample()).len() + 2 * 23 <= v1.len());
    }

    #[test]
    fn stale_temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracker.state");
        save(&path, &sample()).unwrap();
        // What killed saves leave behind, and files that are not ours.
        for name in [".tracker.state.tmp-abc123", ".tracker.state.tmp-zzz"] {
            std::fs::write(dir.path().join(name), b"partial").unwrap();
        }
        for name in ["other.state", ".other.state.tmp-abc", ".tmp123456"] {
            std::fs::write(dir.path().join(name), b"keep").unwrap();
        }
        assert_eq!(remove_stale_temp_files(&path).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".other.state.tmp-abc",
                ".tmp123456",
                "other.state",
                "tracker.state"
            ]
        );
        assert_eq!(load(&path).unwrap(), sample());
    }

    #[test]
    fn each_save_writes_a_temp_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        // A leftover with the prefix does not block or get reused by saves.
        std::fs::write(dir.path().join(".s.tmp-000000"), b"partial").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || save(&path, &sample()))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        assert_eq!(load(&path).unwrap(), sample());
        assert_eq!(remove_stale_temp_files(&path).unwrap(), 1);
    }

    #[test]
    fn a_state_file_from_an_earlier_build_still_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/state/tracker.state"
        );
        let torrents = load(Path::new(path)).unwrap();
        // A version 1 file: its peer ids are read and dropped.
        let peer = |endpoint, _peer_id: &[u8; 20], seeder| PeerRecord { endpoint, seeder };
        let mut v6 = [0; 18];
        v6[15] = 1;
        v6[16..].copy_from_slice(&6882u16.to_be_bytes());
        assert_eq!(
            torrents,
            vec![
                TorrentRecord {
                    info_hash: *b"mktorrent-rs-fixture",
                    completed: 4,
                    peers: vec![
                        peer(
                            Endpoint::V4([127, 0, 0, 1, 0x1a, 0xe1]),
                            b"-LT2080-abcdefghijkl",
                            true
                        ),
                        peer(Endpoint::V6(v6), b"-qB4650-abcdefghijkl", false),
                    ],
                },
                TorrentRecord {
                    info_hash: [0xab; 20],
                    completed: 0,
                    peers: vec![],
                },
            ]
        );
        // This build writes it as version 2, which reads back the same.
        assert_eq!(decode(&encode(&torrents)), Ok(torrents));
    }

    fn arb_torrents() -> impl Strategy<Value = Vec<TorrentRecord>> {
        let endpoint = prop_oneof![
            any::<[u8; 6]>().prop_map(Endpoint::V4),
            any::<[u8; 18]>().prop_map(Endpoint::V6),
        ];
        let peer = (endpoint, any::<bool>())
            .prop_map(|(endpoint, seeder)| PeerRecord { endpoint, seeder });
        let torrent = (
            any::<[u8; 20]>(),
            any::<u32>(),
            proptest::collection::vec(peer, 0..5),
        )
            .prop_map(|(info_hash, completed, peers)| TorrentRecord {
                info_hash,
                completed,
                peers,
            });
        proptest::collection::vec(torrent, 0..5)
    }

    proptest! {
        /// bendy's strict decoder reads every state we write, as the
        /// layout in this module's doc says.
        #[test]
        fn state_files_are_canonical_to_bendy(torrents in arb_torrents()) {
            use crate::bencode::strict::{self, bytes, dict, int, list};
            let expected = dict([
                ("version", int(VERSION)),
                ("torrents", list(torrents.iter().map(|t| dict([
                    ("completed", int(t.completed)),
                    ("info hash", bytes(t.info_hash)),
                    ("peers", list(t.peers.iter().map(|p| {
                        let addr = match p.endpoint {
                            Endpoint::V4(b) => b.to_vec(),
                            Endpoint::V6(b) => b.to_vec(),
                        };
                        list([bytes(addr), int(i64::from(p.seeder))])
                    }))),
                ])))),
            ]);
            let encoded = encode(&torrents);
            prop_assert_eq!(strict::check(&encoded), Ok(expected));
            prop_assert_eq!(decode(&encoded), Ok(torrents));
        }
    }

    #[test]
    fn damaged_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::write(&path, b"d7:versioni9ee").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("state") && err.contains("version"), "{err}");
        let mut bytes = encode(&sample());
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(load(&path), Err(TrackerError::BadState { .. })));
    }
}
