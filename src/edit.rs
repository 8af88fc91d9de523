//! Editing an existing `.torrent` in place of its bytes: trackers, web
//! seeds, comment, and the `info` fields source, private and name.
//!
//! Edits work on the raw spans of [`crate::bencode`]: every dictionary entry
//! that is not edited is copied byte for byte, so an edit outside `info`
//! keeps the info hash and every other byte, and an edit inside `info`
//! changes only the edited keys. New keys go where sorted order puts them.
//! No I/O: bytes in, bytes out.

use crate::bencode::{self, Bencode, Value};
use crate::metainfo::{hex, MetainfoError, Torrent, Version};

/// A URL pattern for the remove flags: an exact URL, or a glob (`*` also
/// matches `/`).
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    glob: Option<globset::GlobMatcher>,
}

impl Pattern {
    /// Compiles `text`; a text that is not a valid glob still matches itself.
    pub fn new(text: &str) -> Self {
        let glob = globset::Glob::new(text)
            .ok()
            .map(|glob| glob.compile_matcher());
        Self {
            text: text.to_owned(),
            glob,
        }
    }

    pub fn matches(&self, url: &str) -> bool {
        url == self.text || self.glob.as_ref().is_some_and(|g| g.is_match(url))
    }
}

/// What to change. `None` / empty leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    /// Replace all trackers by these tiers (applied first).
    pub set_trackers: Option<Vec<Vec<String>>>,
    /// Remove tracker URLs matching any of these (applied second).
    pub remove_trackers: Vec<Pattern>,
    /// New tiers appended last; URLs already present are skipped.
    pub add_trackers: Vec<Vec<String>>,
    pub remove_web_seeds: Vec<Pattern>,
    pub add_web_seeds: Vec<String>,
    /// `Some("")` removes the comment.
    pub comment: Option<String>,
    /// `Some("")` removes the source tag.
    pub source: Option<String>,
    /// `Some(true)`: `private` = 1; `Some(false)`: the key is removed.
    pub private: Option<bool>,
    pub name: Option<String>,
}

/// One change made, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The metainfo key (`announce-list`, `url-list`, `info.source`, ...) or
    /// `trackers` / `web seeds` for list edits.
    pub field: &'static str,
    /// `added`, `removed` or `set`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// Patterns that matched nothing: the user is warned, not failed (one
/// pattern is often applied to many torrents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub field: &'static str,
    pub pattern: String,
}

/// The result of [`apply`].
#[derive(Debug, Clone)]
pub struct Edited {
    pub bytes: Vec<u8>,
    pub before: Torrent,
    pub after: Torrent,
    pub changes: Vec<Change>,
    pub unmatched: Vec<Unmatched>,
    /// An `info` key changed: the info hash is a new one.
    pub info_changed: bool,
}

impl Edited {
    /// The v1 hash before and after, for torrents with a v1 part.
    pub fn info_hashes(&self) -> Option<(String, String)> {
        self.before.meta.info.version.has_v1().then(|| {
            (
                self.before.info_hash.to_hex(),
                self.after.info_hash.to_hex(),
            )
        })
    }

    /// The v2 hash before and after, for v2 and hybrid torrents.
    pub fn info_hashes_v2(&self) -> Option<(String, String)> {
        Some((
            hex(&self.before.info_hash_v2?),
            hex(&self.after.info_hash_v2?),
        ))
    }
}

/// Why an edit cannot be made; each names the field.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Parse(#[from] MetainfoError),
    #[error("field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("the edited torrent is not valid: {0}")]
    Result(MetainfoError),
}

/// Applies `edits` to the bytes of a torrent.
pub fn apply(bytes: &[u8], edits: &Edits) -> Result<Edited, EditError> {
    let before = Torrent::parse(bytes)?;
    let root = bencode::decode(bytes).map_err(MetainfoError::from)?;
    let info = root.get(b"info").ok_or(MetainfoError::Missing("info"))?;
    let mut changes = Vec::new();
    let mut unmatched = Vec::new();
    let mut top: Vec<(&'static str, Option<Vec<u8>>)> = Vec::new();
    let mut in_info: Vec<(&'static str, Option<Vec<u8>>)> = Vec::new();

    if edits.set_trackers.is_some()
        || !edits.remove_trackers.is_empty()
        || !edits.add_trackers.is_empty()
    {
        let old = before.meta.tracker_tiers();
        let tiers = edit_trackers(&old, edits, &mut changes, &mut unmatched);
        // No change in meaning, no change in bytes: a well-formed file of
        // another shape (a one-URL announce-list) is left as it is.
        if tiers != old {
            let (announce, list) = tracker_values(&tiers);
            top.push(("announce", announce));
            top.push(("announce-list", list));
        }
    }

    if !edits.remove_web_seeds.is_empty() || !edits.add_web_seeds.is_empty() {
        let old = &before.meta.web_seeds;
        let mut seeds = Vec::new();
        for seed in old {
            if edits.remove_web_seeds.iter().any(|p| p.matches(seed)) {
                changes.push(removed("web seeds", seed));
            } else {
                seeds.push(seed.clone());
            }
        }
        unmatched.extend(
            edits
                .remove_web_seeds
                .iter()
                .filter(|p| !old.iter().any(|s| p.matches(s)))
                .map(|p| Unmatched {
                    field: "url-list",
                    pattern: p.text.clone(),
                }),
        );
        for seed in &edits.add_web_seeds {
            if !seeds.contains(seed) {
                seeds.push(seed.clone());
                changes.push(added("web seeds", seed));
            }
        }
        if &seeds != old {
            let value = (!seeds.is_empty())
                .then(|| Bencode::List(seeds.iter().map(|s| s.as_str().into()).collect()).encode());
            top.push(("url-list", value));
        }
    }

    if let Some(comment) = &edits.comment {
        text_edit(
            "comment",
            before.meta.comment.as_deref(),
            comment,
            &mut top,
            &mut changes,
        );
    }

    if let Some(source) = &edits.source {
        let old = before.meta.info.source.as_deref();
        text_edit("info.source", old, source, &mut in_info, &mut changes);
    }

    if let Some(private) = edits.private {
        if private != before.meta.info.private {
            in_info.push(("private", private.then(|| Bencode::Int(1).encode())));
            changes.push(Change {
                field: "info.private",
                action: "set",
                old: Some(before.meta.info.private.to_string()),
                new: Some(private.to_string()),
            });
        }
    }

    let mut tree: Option<Vec<u8>> = None;
    if let Some(name) = &edits.name {
        let old = &before.meta.info.name;
        if name.is_empty() {
            return Err(EditError::Field {
                field: "info.name",
                reason: "the new name is empty".into(),
            });
        }
        if name != old {
            in_info.push(("name", Some(Bencode::from(name.as_str()).encode())));
            // A stale `name.utf-8` would win in clients that read it.
            if info.get(b"name.utf-8").is_some() {
                in_info.push(("name.utf-8", None));
            }
            // A single-file v2 tree is keyed by the name (BEP 52).
            if before.meta.info.version.has_v2() {
                tree = rename_single_file_tree(info, old, name);
            }
            changes.push(Change {
                field: "info.name",
                action: "set",
                old: Some(old.clone()),
                new: Some(name.clone()),
            });
        }
    }

    let info_changed = !in_info.is_empty() || tree.is_some();
    if info_changed {
        let mut edits_in_info: Vec<(&[u8], Option<Vec<u8>>)> = in_info
            .into_iter()
            .map(|(k, v)| (k.as_bytes(), v))
            .collect();
        if let Some(tree) = tree {
            edits_in_info.push((b"file tree", Some(tree)));
        }
        top.push(("info", Some(rewrite_dict(info, &edits_in_info))));
    }
    let top: Vec<(&[u8], Option<Vec<u8>>)> =
        top.into_iter().map(|(k, v)| (k.as_bytes(), v)).collect();
    let bytes = if top.is_empty() {
        bytes.to_vec()
    } else {
        rewrite_dict(&root, &top)
    };
    let after = Torrent::parse(&bytes).map_err(EditError::Result)?;
    Ok(Edited {
        bytes,
        before,
        after,
        changes,
        unmatched,
        info_changed,
    })
}

/// Set, then remove, then add; empty tiers are dropped.
fn edit_trackers(
    old: &[Vec<String>],
    edits: &Edits,
    changes: &mut Vec<Change>,
    unmatched: &mut Vec<Unmatched>,
) -> Vec<Vec<String>> {
    let mut tiers = old.to_vec();
    if let Some(set) = &edits.set_trackers {
        for url in old.iter().flatten() {
            changes.push(removed("trackers", url));
        }
        for url in set.iter().flatten() {
            changes.push(added("trackers", url));
        }
        tiers.clone_from(set);
    }
    for pattern in &edits.remove_trackers {
        if !tiers.iter().flatten().any(|u| pattern.matches(u)) {
            unmatched.push(Unmatched {
                field: "announce-list",
                pattern: pattern.text.clone(),
            });
        }
    }
    for tier in &mut tiers {
        tier.retain(|url| {
            let remove = edits.remove_trackers.iter().any(|p| p.matches(url));
            if remove {
                changes.push(removed("trackers", url));
            }
            !remove
        });
    }
    tiers.retain(|tier| !tier.is_empty());
    for tier in &edits.add_trackers {
        let new: Vec<String> = tier
            .iter()
            .filter(|url| !tiers.iter().flatten().any(|u| u == *url))
            .cloned()
            .collect();
        for url in &new {
            changes.push(added("trackers", url));
        }
        if !new.is_empty() {
            tiers.push(new);
        }
    }
    tiers
}

/// The `announce` and `announce-list` values for `tiers`, as `create`
/// writes them: `announce` is the first URL, `announce-list` only when
/// there is more than one URL.
fn tracker_values(tiers: &[Vec<String>]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let announce = tiers
        .first()
        .and_then(|t| t.first())
        .map(|url| Bencode::from(url.as_str()).encode());
    let count: usize = tiers.iter().map(Vec::len).sum();
    let list = (count > 1).then(|| {
        Bencode::List(
            tiers
                .iter()
                .map(|tier| Bencode::List(tier.iter().map(|u| u.as_str().into()).collect()))
                .collect(),
        )
        .encode()
    });
    (announce, list)
}

/// A text field set to `new`, or removed when `new` is empty.
fn text_edit(
    field: &'static str,
    old: Option<&str>,
    new: &str,
    edits: &mut Vec<(&'static str, Option<Vec<u8>>)>,
    changes: &mut Vec<Change>,
) {
    let key = field.strip_prefix("info.").unwrap_or(field);
    if new.is_empty() {
        if old.is_some() {
            edits.push((key, None));
            changes.push(Change {
                field,
                action: "removed",
                old: old.map(str::to_owned),
                new: None,
            });
        }
    } else if old != Some(new) {
        edits.push((key, Some(Bencode::from(new).encode())));
        changes.push(Change {
            field,
            action: "set",
            old: old.map(str::to_owned),
            new: Some(new.to_owned()),
        });
    }
}

fn added(field: &'static str, value: &str) -> Change {
    Change {
        field,
        action: "added",
        old: None,
        new: Some(value.to_owned()),
    }
}

fn removed(field: &'static str, value: &str) -> Change {
    Change {
        field,
        action: "removed",
        old: Some(value.to_owned()),
        new: None,
    }
}

/// The `file tree` of a single-file v2 torrent with its one key renamed,
/// or `None` when the tree is a directory.
fn rename_single_file_tree(info: &Value<'_>, old: &str, new: &str) -> Option<Vec<u8>> {
    let tree = info.get(b"file tree")?;
    let [(key, file)] = tree.as_dict()? else {
        return None;
    };
    if *key != old.as_bytes() || file.get(b"").is_none() {
        return None;
    }
    let mut out = vec![b'd'];
    push_key(new.as_bytes(), &mut out);
    out.extend_from_slice(file.raw);
    out.push(b'e');
    Some(out)
}

/// Re-emits dictionary `dict` with `edits` applied: `Some(bytes)` sets a
/// key to an encoded value, `None` removes it. Every other entry is copied
/// from its raw bytes in file order; a new key goes before the first
/// existing key that sorts after it. Repeats of an edited key are dropped.
fn rewrite_dict(dict: &Value<'_>, edits: &[(&[u8], Option<Vec<u8>>)]) -> Vec<u8> {
    let entries = dict.as_dict().unwrap_or_default();
    let mut pending: Vec<(&[u8], &[u8])> = edits
        .iter()
        .filter(|(key, _)| !entries.iter().any(|(k, _)| k == key))
        .filter_map(|(key, value)| Some((*key, value.as_deref()?)))
        .collect();
    pending.sort_unstable();
    let mut pending = pending.into_iter().peekable();
    let mut done: Vec<&[u8]> = Vec::new();
    let mut out = vec![b'd'];
    for (key, value) in entries {
        while let Some((new_key, new_value)) = pending.next_if(|(k, _)| k < key) {
            push_key(new_key, &mut out);
            out.extend_from_slice(new_value);
        }
        match edits.iter().find(|(k, _)| k == key) {
            None => {
                push_key(key, &mut out);
                out.extend_from_slice(value.raw);
            }
            Some(_) if done.contains(key) => {}
            Some((_, replacement)) => {
                done.push(key);
                if let Some(replacement) = replacement {
                    push_key(key, &mut out);
                    out.extend_from_slice(replacement);
                }
            }
        }
    }
    for (new_key, new_value) in pending {
        push_key(new_key, &mut out);
        out.extend_from_slice(new_value);
    }
    out.push(b'e');
    out
}

/// A dictionary key as bencode writes it (`4:name`); the decoder accepts
/// only this canonical form, so it equals the bytes it was read from.
fn push_key(key: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(key.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(key);
}

/// The version as reports name it.
pub fn version_name(version: Version) -> &'static str {
    match version {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::Hybrid => "hybrid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::{Info, Layout, Metainfo};

    fn torrent(version: Version) -> Vec<u8> {
        let meta = Metainfo {
            announce: Some("http://a.example/announce".into()),
            announce_list: Vec::new(),
            nodes: Vec::new(),
            web_seeds: Vec::new(),
            comment: Some("hello".into()),
            created_by: Some("test".into()),
            creation_date: Some(1),
            info: Info {
                name: "file.bin".into(),
                piece_length: 16384,
                pieces: vec![[7; 20]],
                private: false,
                source: None,
                layout: Layout::Single { length: 10 },
                version,
                file_tree: Vec::new(),
            },
            piece_layers: std::collections::BTreeMap::new(),
        };
        Torrent::from_metainfo(meta).encode()
    }

    #[test]
    fn outside_info_keeps_the_info_bytes_and_hash() {
        let bytes = torrent(Version::V1);
        let edits = Edits {
            add_trackers: vec![vec!["udp://b.example:1".into(), "udp://c.example:2".into()]],
            comment: Some(String::new()),
            add_web_seeds: vec!["http://w.example/file.bin".into()],
            ..Edits::default()
        };
        let edited = apply(&bytes, &edits).unwrap();
        assert!(!edited.info_changed);
        assert_eq!(edited.after.info_bytes, edited.before.info_bytes);
        assert_eq!(edited.after.info_hash, edited.before.info_hash);
        assert_eq!(
            edited.after.meta.tracker_tiers(),
            vec![
                vec!["http://a.example/announce".to_owned()],
                vec![
                    "udp://b.example:1".to_owned(),
                    "udp://c.example:2".to_owned()
                ]
            ]
        );
        assert_eq!(edited.after.meta.comment, None);
        // Sorted in, sorted out: the same bytes a fresh encoding gives.
        assert_eq!(edited.bytes, edited.after.encode());
    }

    #[test]
    fn info_edits_change_the_hash_and_only_their_keys() {
        let bytes = torrent(Version::V1);
        let edits = Edits {
            source: Some("SRC".into()),
            private: Some(true),
            ..Edits::default()
        };
        let edited = apply(&bytes, &edits).unwrap();
        assert!(edited.info_changed);
        assert_ne!(edited.after.info_hash, edited.before.info_hash);
        assert!(edited.after.meta.info.private);
        assert_eq!(edited.after.meta.info.source.as_deref(), Some("SRC"));
        let back = apply(
            &edited.bytes,
            &Edits {
                source: Some(String::new()),
                private: Some(false),
                ..Edits::default()
            },
        )
        .unwrap();
        assert_eq!(
            back.bytes, bytes,
            "undoing an edit gives the original bytes"
        );
    }

    #[test]
    fn unsorted_and_unknown_keys_survive() {
        // `zz` before `info`, an unknown key, and unsorted info keys.
        let info = b"d6:lengthi1e4:name1:x6:pieces20:aaaaaaaaaaaaaaaaaaaa12:piece lengthi16384ee";
        let mut doc = b"d2:zzi5e4:info".to_vec();
        doc.extend_from_slice(info);
        doc.extend_from_slice(b"7:comment1:ce");
        let edited = apply(
            &doc,
            &Edits {
                add_trackers: vec![vec!["http://t.example/a".into()]],
                ..Edits::default()
            },
        )
        .unwrap();
        let text = String::from_utf8_lossy(&edited.bytes).into_owned();
        assert!(
            text.starts_with("d8:announce18:http://t.example/a2:zzi5e4:info"),
            "{text}"
        );
        assert_eq!(edited.after.info_bytes, info);
    }

    #[test]
    fn remove_by_glob_and_promote_the_next_tracker() {
        let bytes = torrent(Version::V1);
        let two = apply(
            &bytes,
            &Edits {
                add_trackers: vec![vec!["udp://b.example:1".into()]],
                ..Edits::default()
            },
        )
        .unwrap();
        let edited = apply(
            &two.bytes,
            &Edits {
                remove_trackers: vec![Pattern::new("http://*.example/*"), Pattern::new("nope")],
                ..Edits::default()
            },
        )
        .unwrap();
        assert_eq!(
            edited.after.meta.announce.as_deref(),
            Some("udp://b.example:1")
        );
        assert!(edited.after.meta.announce_list.is_empty());
        assert_eq!(
            edited.unmatched,
            vec![Unmatched {
                field: "announce-list",
                pattern: "nope".into()
            }]
        );
    }

    #[test]
    fn a_tracker_edit_that_changes_no_tier_keeps_the_bytes() {
        // transmission-edit's shape: a one-URL announce-list beside announce.
        let info = b"d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let mut doc = b"d8:announce3:u:113:announce-listll3:u:1ee4:info".to_vec();
        doc.extend_from_slice(info);
        doc.push(b'e');
        let edited = apply(
            &doc,
            &Edits {
                add_trackers: vec![vec!["u:1".into()]],
                remove_trackers: vec![Pattern::new("nothing")],
                ..Edits::default()
            },
        )
        .unwrap();
        assert!(edited.changes.is_empty());
        assert_eq!(edited.bytes, doc);
    }

    proptest::proptest! {
        /// Any mix of tracker, web seed and comment edits keeps the info
        /// bytes; tiers are appended as create would write them.
        #[test]
        fn edits_outside_info_keep_it(
            add in proptest::collection::vec(proptest::collection::vec(0u8..6, 1..3), 0..4),
            remove in proptest::collection::vec(0u8..6, 0..3),
            seeds in proptest::collection::vec(0u8..4, 0..3),
            comment in proptest::option::of("[a-z]{0,3}"),
        ) {
            let url = |n: &u8| format!("udp://t{n}.example:1");
            let bytes = torrent(Version::V1);
            let edits = Edits {
                add_trackers: add.iter().map(|t| t.iter().map(url).collect()).collect(),
                remove_trackers: remove.iter().map(|n| Pattern::new(&url(n))).collect(),
                add_web_seeds: seeds.iter().map(|n| format!("http://w{n}.example/")).collect(),
                comment,
                ..Edits::default()
            };
            let edited = apply(&bytes, &edits).unwrap();
            proptest::prop_assert!(!edited.info_changed);
            proptest::prop_assert_eq!(&edited.after.info_bytes, &edited.before.info_bytes);
            let mut want: Vec<Vec<String>> = vec![vec!["http://a.example/announce".into()]];
            for tier in &edits.add_trackers {
                let new: Vec<String> = tier
                    .iter()
                    .filter(|u| !want.iter().flatten().any(|w| w == *u))
                    .cloned()
                    .collect();
                if !new.is_empty() {
                    want.push(new);
                }
            }
            // Removal runs first, on trackers not yet added: a no-op here.
            proptest::prop_assert_eq!(edited.after.meta.tracker_tiers(), want);
            // Canonical in, canonical out: what a fresh encoding gives.
            proptest::prop_assert_eq!(&edited.bytes, &edited.after.encode());
        }
    }

    #[test]
    fn rewrite_dict_inserts_sorted_and_drops_repeats() {
        let doc = b"d1:ai1e1:ci3e1:ci4ee";
        let value = bencode::decode(doc).unwrap();
        let out = rewrite_dict(
            &value,
            &[
                (b"b", Some(b"i2e".to_vec())),
                (b"c", Some(b"i9e".to_vec())),
                (b"d", Some(b"i5e".to_vec())),
            ],
        );
        assert_eq!(out, b"d1:ai1e1:bi2e1:ci9e1:di5ee");
        let out = rewrite_dict(&value, &[(b"a", None)]);
        assert_eq!(out, b"d1:ci3e1:ci4ee");
    }
}
