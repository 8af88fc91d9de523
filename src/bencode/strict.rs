//! bendy as an independent, strict judge of the bencode we write (tests
//! only). Our decoder is lenient on purpose (it reads other tools' unsorted
//! keys), so it cannot tell whether our own writers are canonical; bendy
//! rejects unsorted or repeated keys, non-canonical integers and trailing
//! bytes. [`check`] is used by the property tests beside each writer
//! (KRPC, tracker replies, state files) and below for torrents, both from
//! models and from the real `create` command.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bendy::decoding::{Decoder, FromBencode};
use bendy::encoding::Encoder;
pub(crate) use bendy::value::Value as Strict;

use super::{Bencode, MAX_DEPTH};

/// Decodes `bytes` with bendy's strict decoder and checks that bendy
/// re-encodes the value to the same bytes; the error says what bendy
/// refused.
pub(crate) fn check(bytes: &[u8]) -> Result<Strict<'static>, String> {
    let mut decoder = Decoder::new(bytes).with_max_depth(MAX_DEPTH);
    let object = decoder
        .next_object()
        .map_err(|e| format!("bendy: {e}"))?
        .ok_or("bendy: no value")?;
    let value: Strict<'static> =
        Strict::decode_bencode_object(object).map_err(|e| format!("bendy: {e}"))?;
    match decoder.next_object() {
        Ok(None) => {}
        Ok(Some(_)) => return Err("bendy: trailing data after the value".into()),
        Err(e) => return Err(format!("bendy: {e}")),
    }
    let again = encode(&value)?;
    if again != bytes {
        return Err(format!(
            "bendy re-encodes differently:\n ours  {}\n bendy {}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&again)
        ));
    }
    Ok(value)
}

/// bendy's canonical encoding of `value`.
pub(crate) fn encode(value: &Strict<'_>) -> Result<Vec<u8>, String> {
    let mut encoder = Encoder::new().with_max_depth(MAX_DEPTH);
    encoder
        .emit(value)
        .map_err(|e| format!("bendy encoding: {e}"))?;
    encoder
        .get_output()
        .map_err(|e| format!("bendy encoding: {e}"))
}

/// Builders for the value a writer meant, in bendy's terms.
pub(crate) fn bytes(b: impl Into<Vec<u8>>) -> Strict<'static> {
    Strict::Bytes(Cow::Owned(b.into()))
}

pub(crate) fn int(i: impl Into<i64>) -> Strict<'static> {
    Strict::Integer(i.into())
}

pub(crate) fn list(items: impl IntoIterator<Item = Strict<'static>>) -> Strict<'static> {
    Strict::List(items.into_iter().collect())
}

/// A dictionary from `(key, value)` pairs in any order (bendy's map sorts).
pub(crate) fn dict(
    entries: impl IntoIterator<Item = (impl AsRef<[u8]>, Strict<'static>)>,
) -> Strict<'static> {
    Strict::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k.as_ref().to_vec()), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The entry `key` of a dictionary.
pub(crate) fn get<'v>(value: &'v Strict<'static>, key: &str) -> Option<&'v Strict<'static>> {
    match value {
        Strict::Dict(map) => map.get(key.as_bytes()),
        _ => None,
    }
}

/// Our owned value in bendy's terms.
pub(crate) fn from_ours(value: &Bencode) -> Strict<'static> {
    match value {
        Bencode::Int(i) => int(*i),
        Bencode::Bytes(b) => bytes(b.clone()),
        Bencode::List(items) => list(items.iter().map(from_ours)),
        Bencode::Dict(map) => dict(map.iter().map(|(k, v)| (k, from_ours(v)))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use proptest::prelude::*;
    use sha1::Digest;

    use super::*;
    use crate::bencode::decode;
    use crate::edit::Edits;
    use crate::env::Env;
    use crate::metainfo::{FileEntry, Info, Layout, Metainfo, Node, Torrent, Version};

    #[test]
    fn bendy_refuses_the_unsorted_keys_our_decoder_reads() {
        // What other tools write, and why our lenient decoder stays.
        for doc in [
            &b"d1:bi1e1:ai2ee"[..],
            b"d1:ai1e1:ai2ee",
            b"d4:infod1:zi0e1:ai0eee",
        ] {
            let err = check(doc).unwrap_err();
            assert!(err.contains("sorted"), "{err}");
            assert!(decode(doc).is_ok(), "our decoder reads {doc:?}");
        }
        // Both refuse what would change meaning.
        for doc in [&b"i03e"[..], b"i-0e", b"i1ei2e", b"4:abc"] {
            assert!(check(doc).is_err(), "bendy accepts {doc:?}");
            assert!(decode(doc).is_err(), "we accept {doc:?}");
        }
        // A torrent whose `info` has `pieces` before `name`: bendy cannot
        // read it; we do, and hash the info bytes as written.
        let info = b"d6:lengthi1e6:pieces20:aaaaaaaaaaaaaaaaaaaa4:name1:x12:piece lengthi16384ee";
        let mut doc = b"d4:info".to_vec();
        doc.extend_from_slice(info);
        doc.push(b'e');
        assert!(check(&doc).unwrap_err().contains("sorted"));
        let torrent = Torrent::parse(&doc).unwrap();
        assert_eq!(torrent.info_hash.0[..], sha1::Sha1::digest(info)[..]);
        assert_eq!(
            check(b"d1:ai1e1:bi2ee"),
            Ok(dict([("a", int(1)), ("b", int(2))]))
        );
    }

    #[test]
    fn the_committed_fixtures_from_other_tools_are_canonical_too() {
        // Not a requirement (we read them either way), but it tells whether
        // these tools would be caught by a strict reader.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        for name in [
            "mktorrent-single.torrent",
            "mktorrent-multi.torrent",
            "transmission-multi.torrent",
            "krpc/libtorrent-get_peers.bin",
            "krpc/libtorrent-reply.bin",
            "krpc/ours-ping.bin",
            "krpc/ours-reply.bin",
        ] {
            let bytes = std::fs::read(format!("{dir}{name}")).unwrap();
            check(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    fn arb_bencode() -> impl Strategy<Value = Bencode> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Bencode::Int),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bencode::Bytes),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Bencode::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(Bencode::Dict),
            ]
        })
    }

    /// Names and free text: ASCII, accents, CJK, emoji and spaces.
    fn text() -> &'static str {
        "[a-zA-Z0-9 ._~()éüñßÅ日本語😀-]{0,16}"
    }

    fn arb_file() -> impl Strategy<Value = FileEntry> {
        (
            proptest::collection::vec("[a-zA-Zé日😀 ._-]{1,8}", 1..4),
            0u64..1 << 40,
            proptest::option::of("[phxl]{1,2}"),
        )
            .prop_map(|(path, length, attr)| FileEntry { path, length, attr })
    }

    /// v1 models with every optional key, odd values included (negative
    /// dates, empty strings, unicode hosts): what `encode` must keep canonical.
    fn arb_v1_metainfo() -> impl Strategy<Value = Metainfo> {
        let url = "(http|https|udp)://[a-z0-9.é]{1,10}(:[0-9]{1,5})?/[a-z]{0,8}";
        let layout = prop_oneof![
            (0u64..1 << 50).prop_map(|length| Layout::Single { length }),
            proptest::collection::vec(arb_file(), 1..5).prop_map(|files| Layout::Multi { files }),
        ];
        let info = (
            text(),
            any::<u64>(),
            proptest::collection::vec(any::<[u8; 20]>(), 0..4),
            any::<bool>(),
            proptest::option::of(text()),
            layout,
        )
            .prop_map(
                |(name, piece_length, pieces, private, source, layout)| Info {
                    name,
                    piece_length,
                    pieces,
                    private,
                    source,
                    layout,
                    version: Version::V1,
                    file_tree: Vec::new(),
                },
            );
        (
            (
                proptest::option::of(url),
                proptest::collection::vec(proptest::collection::vec(url, 0..3), 0..3),
                proptest::collection::vec(
                    ("[a-z0-9.:é]{1,12}", any::<u16>())
                        .prop_map(|(host, port)| Node { host, port }),
                    0..3,
                ),
                proptest::collection::vec(url, 0..3),
            ),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(any::<i64>()),
            info,
        )
            .prop_map(
                |((announce, announce_list, nodes, web_seeds), comment, created_by, date, info)| {
                    Metainfo {
                        announce,
                        announce_list,
                        nodes,
                        web_seeds,
                        comment,
                        created_by,
                        creation_date: date,
                        info,
                        piece_layers: BTreeMap::new(),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn our_encoder_is_canonical_to_bendy(doc in arb_bencode()) {
            prop_assert_eq!(check(&doc.encode()), Ok(from_ours(&doc)));
        }

        #[test]
        fn torrent_models_are_canonical_to_bendy(meta in arb_v1_metainfo()) {
            let torrent = Torrent::from_metainfo(meta);
            let value = check(&torrent.encode()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&value, &from_ours(&torrent.meta.to_bencode()));
            let info = get(&value, "info").cloned();
            prop_assert_eq!(check(&torrent.info_bytes).ok(), info);
        }
    }

    /// A content tree and the `create` flags to run on it.
    #[derive(Debug, Clone)]
    struct Case {
        /// `(directory below the root, file name, length)`; a single file when `single`.
        files: Vec<(&'static str, String, usize)>,
        single: bool,
        version: Version,
        tiers: Vec<Vec<String>>,
        web_seeds: Vec<String>,
        nodes: Vec<(String, u16)>,
        private: bool,
        source: Option<String>,
        comment: Option<String>,
        name: Option<String>,
    }

    /// Names that `create` keeps: no leading dot (hidden), no `/`.
    fn file_name() -> &'static str {
        "[a-zA-Z0-9_éüñ日本語😀][a-zA-Z0-9 _.éüñ日本語😀-]{0,10}"
    }

    fn arb_case() -> impl Strategy<Value = Case> {
        // Directory names use parentheses, which file names never do, so a
        // file and a directory cannot share a name.
        let dir = prop_oneof![Just(""), Just("sub (1)"), Just("ünï (2)/日本 (3)")];
        let files = proptest::collection::btree_map((dir, file_name()), 0usize..40_000, 1..5)
            .prop_map(|map| {
                map.into_iter()
                    .enumerate()
                    // At least one byte: only empty files is an error.
                    .map(|(i, ((dir, name), len))| (dir, name, if i == 0 { len + 1 } else { len }))
                    .collect::<Vec<_>>()
            });
        let url = |scheme: &'static str| {
            "[a-z]{1,6}".prop_map(move |host| match scheme {
                "udp" => format!("udp://{host}.example:6969/announce"),
                _ => format!("{scheme}://{host}.example/announce"),
            })
        };
        let tracker = prop_oneof![url("http"), url("https"), url("udp")];
        let node = prop_oneof![
            (any::<u8>(), 1u16..).prop_map(|(n, port)| (format!("10.0.0.{n}"), port)),
            (any::<u16>(), 1u16..).prop_map(|(n, port)| (format!("2001:db8::{n:x}"), port)),
        ];
        (
            files,
            any::<bool>(),
            prop_oneof![Just(Version::V1), Just(Version::V2), Just(Version::Hybrid)],
            proptest::collection::vec(proptest::collection::vec(tracker, 1..3), 0..3),
            proptest::collection::vec(
                "[a-z]{1,6}".prop_map(|h| format!("https://{h}.example/")),
                0..3,
            ),
            proptest::collection::vec(node, 0..3),
            any::<bool>(),
            proptest::option::of("[A-Za-z0-9é日]{1,8}"),
            proptest::option::of(text()),
            proptest::option::of(file_name()),
        )
            .prop_map(
                |(
                    files,
                    single,
                    version,
                    tiers,
                    web_seeds,
                    nodes,
                    private,
                    source,
                    comment,
                    name,
                )| Case {
                    single,
                    files,
                    version,
                    tiers,
                    web_seeds,
                    nodes,
                    private,
                    source,
                    comment,
                    name,
                },
            )
    }

    /// Writes the content, runs `create` in-process and returns the torrent's bytes.
    fn create(dir: &Path, case: &Case) -> Vec<u8> {
        let content = if case.single {
            let (_, name, len) = &case.files[0];
            let path = dir.join(name);
            std::fs::write(&path, vec![7u8; *len]).unwrap();
            path
        } else {
            let root = dir.join("content");
            for (sub, name, len) in &case.files {
                let parent = root.join(sub);
                std::fs::create_dir_all(&parent).unwrap();
                std::fs::write(parent.join(name), vec![b'x'; *len]).unwrap();
            }
            root
        };
        let out = dir.join("out.torrent");
        let mut args = vec![
            "mktorrent-rs".to_owned(),
            "create".to_owned(),
            content.display().to_string(),
            "-q".to_owned(),
            format!("--output={}", out.display()),
            "--piece-length=16KiB".to_owned(),
        ];
        match case.version {
            Version::V1 => {}
            Version::V2 => args.push("--v2".into()),
            Version::Hybrid => args.push("--hybrid".into()),
        }
        args.extend(
            case.tiers
                .iter()
                .map(|t| format!("--tracker={}", t.join(","))),
        );
        args.extend(case.web_seeds.iter().map(|w| format!("--web-seed={w}")));
        if !case.nodes.is_empty() {
            let nodes: Vec<String> = case
                .nodes
                .iter()
                .map(|(host, port)| match host.contains(':') {
                    true => format!("[{host}]:{port}"),
                    false => format!("{host}:{port}"),
                })
                .collect();
            args.push(format!("--nodes={}", nodes.join(",")));
        }
        if case.private {
            args.push("--private".into());
        }
        args.extend(case.source.iter().map(|s| format!("--source={s}")));
        args.extend(case.comment.iter().map(|c| format!("--comment={c}")));
        args.extend(case.name.iter().map(|n| format!("--name={n}")));
        let mut env = Env {
            cwd: dir.to_owned(),
            stdout: Box::new(std::io::sink()),
            stderr: Box::new(std::io::sink()),
            stderr_is_terminal: false,
            source_date_epoch: Some("1700000000".into()),
            now: 0,
        };
        assert_eq!(crate::run(args.clone(), &mut env), 0, "{args:?}");
        std::fs::read(&out).unwrap()
    }

    fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Strict<'static> {
        list(items.into_iter().map(|s| bytes(s.as_bytes())))
    }

    fn text_of(value: &Strict<'static>) -> String {
        match value {
            Strict::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }

    /// `(path, length)` of the v1 `files` list, pad files left out.
    fn v1_files(files: &Strict<'static>) -> BTreeSet<(Vec<String>, i64)> {
        let Strict::List(files) = files else {
            return BTreeSet::new();
        };
        files
            .iter()
            .filter(|f| get(f, "attr").is_none_or(|a| !text_of(a).contains('p')))
            .map(|f| {
                let path = match get(f, "path") {
                    Some(Strict::List(parts)) => parts.iter().map(text_of).collect(),
                    _ => Vec::new(),
                };
                let length = match get(f, "length") {
                    Some(Strict::Integer(n)) => *n,
                    _ => -1,
                };
                (path, length)
            })
            .collect()
    }

    /// `(path, length)` of the leaves of a BEP 52 `file tree`.
    fn v2_files(tree: &Strict<'static>, prefix: &[String], out: &mut BTreeSet<(Vec<String>, i64)>) {
        let Strict::Dict(map) = tree else { return };
        for (key, value) in map {
            if key.is_empty() {
                let length = match get(value, "length") {
                    Some(Strict::Integer(n)) => *n,
                    _ => -1,
                };
                out.insert((prefix.to_vec(), length));
            } else {
                let mut path = prefix.to_vec();
                path.push(String::from_utf8_lossy(key).into_owned());
                v2_files(value, &path, out);
            }
        }
    }

    fn arb_edits() -> impl Strategy<Value = Edits> {
        (
            proptest::collection::vec(
                proptest::collection::vec(
                    "[a-z]{1,6}".prop_map(|h| format!("udp://{h}.example:1")),
                    1..3,
                ),
                0..2,
            ),
            proptest::collection::vec(
                "[a-z]{1,6}".prop_map(|h| format!("http://{h}.example/")),
                0..2,
            ),
            proptest::option::of(prop_oneof![Just(String::new()), text()]),
            proptest::option::of(prop_oneof![Just(String::new()), "[A-Za-z0-9é]{1,8}"]),
            proptest::option::of(any::<bool>()),
            proptest::option::of(file_name()),
        )
            .prop_map(
                |(add_trackers, add_web_seeds, comment, source, private, name)| Edits {
                    add_trackers,
                    add_web_seeds,
                    comment,
                    source,
                    private,
                    name,
                    ..Edits::default()
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The real command's output is canonical and says what was asked;
        /// so is the same torrent after `edit`, which splices raw bytes.
        #[test]
        fn created_and_edited_torrents_are_canonical_to_bendy(case in arb_case(), edits in arb_edits()) {
            let dir = tempfile::tempdir().unwrap();
            let bytes_written = create(dir.path(), &case);
            let value = check(&bytes_written).map_err(TestCaseError::fail)?;
            let field = |key: &str| get(&value, key).cloned();
            let info = field("info").ok_or_else(|| TestCaseError::fail("no info"))?;
            let info_field = |key: &str| get(&info, key).cloned();

            let default_name = if case.single { case.files[0].1.clone() } else { "content".into() };
            let name = case.name.clone().unwrap_or(default_name);
            prop_assert_eq!(info_field("name"), Some(bytes(name.as_bytes())));
            prop_assert_eq!(info_field("piece length"), Some(int(16_384)));
            prop_assert_eq!(info_field("private"), case.private.then(|| int(1)));
            prop_assert_eq!(info_field("source"), case.source.as_ref().map(|s| bytes(s.as_bytes())));
            prop_assert_eq!(field("comment"), case.comment.as_ref().map(|c| bytes(c.as_bytes())));
            prop_assert_eq!(field("creation date"), Some(int(1_700_000_000)));
            prop_assert_eq!(
                field("announce"),
                case.tiers.first().map(|t| bytes(t[0].as_bytes()))
            );
            let urls: usize = case.tiers.iter().map(Vec::len).sum();
            prop_assert_eq!(
                field("announce-list"),
                (urls > 1).then(|| list(case.tiers.iter().map(|t| strings(t))))
            );
            prop_assert_eq!(
                field("url-list"),
                (!case.web_seeds.is_empty()).then(|| strings(&case.web_seeds))
            );
            prop_assert_eq!(
                field("nodes"),
                (!case.nodes.is_empty()).then(|| list(
                    case.nodes.iter().map(|(h, p)| list([bytes(h.as_bytes()), int(*p)]))
                ))
            );
            prop_assert_eq!(info_field("pieces").is_some(), case.version.has_v1());
            prop_assert_eq!(
                info_field("meta version"),
                case.version.has_v2().then(|| int(2))
            );
            prop_assert_eq!(field("piece layers").is_some(), case.version.has_v2());

            // The info hash our parser takes from the raw span is the hash
            // of the info dictionary as bendy sees it.
            let torrent = Torrent::parse(&bytes_written).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let info_bytes = encode(&info).map_err(TestCaseError::fail)?;
            let expected = if case.version == Version::V2 {
                sha2::Sha256::digest(&info_bytes)[..20].to_vec()
            } else {
                sha1::Sha1::digest(&info_bytes).to_vec()
            };
            prop_assert_eq!(&torrent.info_hash.0[..], &expected[..]);

            // The files, as bendy reads them.
            let expected: BTreeSet<(Vec<String>, i64)> = if case.single {
                let length = i64::try_from(case.files[0].2).unwrap();
                let path = if case.version.has_v2() { vec![name.clone()] } else { vec![] };
                [(path, length)].into()
            } else {
                case.files
                    .iter()
                    .map(|(dir, file, len)| {
                        let mut path: Vec<String> =
                            dir.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect();
                        path.push(file.clone());
                        (path, i64::try_from(*len).unwrap())
                    })
                    .collect()
            };
            if case.version.has_v1() {
                let found = match (case.single, info_field("files"), info_field("length")) {
                    (false, Some(files), None) => v1_files(&files),
                    (true, None, Some(Strict::Integer(n))) => [(vec![], n)].into(),
                    other => return Err(TestCaseError::fail(format!("v1 layout: {other:?}"))),
                };
                let v1_expected: BTreeSet<_> = expected
                    .iter()
                    .map(|(p, l)| (if case.single { vec![] } else { p.clone() }, *l))
                    .collect();
                prop_assert_eq!(found, v1_expected);
            }
            if case.version.has_v2() {
                let mut found = BTreeSet::new();
                v2_files(&info_field("file tree").unwrap_or(list([])), &[], &mut found);
                prop_assert_eq!(found, expected);
            }

            // `edit` keeps a canonical torrent canonical.
            let edited = crate::edit::apply(&bytes_written, &edits)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let value = check(&edited.bytes).map_err(TestCaseError::fail)?;
            let info = get(&value, "info").cloned().unwrap_or(list([]));
            let text = |edit: &Option<String>, old: &Option<String>| match edit {
                Some(new) if new.is_empty() => None,
                Some(new) => Some(bytes(new.as_bytes())),
                None => old.as_ref().map(|o| bytes(o.as_bytes())),
            };
            prop_assert_eq!(get(&value, "comment").cloned(), text(&edits.comment, &case.comment));
            prop_assert_eq!(get(&info, "source").cloned(), text(&edits.source, &case.source));
            let private = edits.private.unwrap_or(case.private);
            prop_assert_eq!(get(&info, "private").cloned(), private.then(|| int(1)));
            let new_name = edits.name.clone().unwrap_or(name);
            prop_assert_eq!(get(&info, "name").cloned(), Some(bytes(new_name.as_bytes())));
            prop_assert_eq!(
                edited.info_changed,
                edited.after.info_hash != torrent.info_hash
            );
        }
    }
}
