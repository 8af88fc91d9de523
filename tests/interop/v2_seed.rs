//! libtorrent 2.0 downloads v2-only and hybrid torrents from `publish`
//! when all it has is a BEP 52 magnet: `xt=urn:btmh:` (no `btih`, no
//! tracker) plus `x.pe` naming the seeder. It greets us by the truncated
//! v2 hash, fetches the info dictionary over BEP 9, asks for each file's
//! piece layer with BEP 52 hash requests (which a v2 download cannot do
//! without: a magnet carries no piece layers) and checks every piece
//! against them; the files must then equal the source byte for byte.

use mktorrent_rs::magnet::Magnet;

use crate::publish::{content, libtorrent_download, os, Publish, NAME, NO_NODE, PIECE};
use crate::support::assert_same_tree;

/// The magnet reduced to its v2 hash, name and peers.
fn btmh_only(uri: &str) -> String {
    let full = Magnet::parse(uri).unwrap_or_else(|err| panic!("{uri}: {err}"));
    Magnet {
        info_hash_v2: full.info_hash_v2,
        name: full.name,
        peers: full.peers,
        ..Magnet::default()
    }
    .to_uri()
}

/// `publish` of the shared content in `mode` (`--v2`, `--hybrid`), then
/// libtorrent from the reduced magnet.
fn libtorrent_completes_from_a_btmh_magnet(mode: &str) {
    let (temp, content) = content();
    let mut publish = Publish::start(
        temp.path(),
        &[
            content.as_os_str(),
            os("-l"),
            os(PIECE),
            os(mode),
            os("--trackerless"),
            os("--nodes"),
            os(NO_NODE),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--no-dht"),
        ],
    );
    let ready = publish.ready();
    let v2 = ready.info_hash_v2.clone().expect("a v2 hash");
    let magnet = btmh_only(&ready.magnet);
    assert!(
        !magnet.contains("btih") && magnet.contains(&format!("x.pe={}", ready.listen)),
        "{magnet}"
    );
    let dest = temp.path().join("libtorrent");
    let (client, report) = libtorrent_download(&dest, &[os("--magnet"), os(&magnet)]);
    assert_eq!(report["has_metadata"], true);
    assert_eq!(report["info_hash_v2"], v2.as_str(), "{report}");
    assert_same_tree(&content, &dest.join(NAME), true);
    publish.finish();
    drop(client);
}

#[test]
fn libtorrent_completes_a_v2_only_torrent_from_a_btmh_magnet() {
    libtorrent_completes_from_a_btmh_magnet("--v2");
}

#[test]
fn libtorrent_completes_a_hybrid_torrent_from_a_btmh_magnet() {
    libtorrent_completes_from_a_btmh_magnet("--hybrid");
}
