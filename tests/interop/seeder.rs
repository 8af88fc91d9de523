//! Our seeder against libtorrent 2.0 as the downloader, on loopback: a
//! torrent downloaded by dialling us directly (`connect_peer`), and a
//! magnet link whose only source is our address in `x.pe`, so the info
//! dictionary must come over BEP 9; and Transmission, which ignores
//! loopback peers it is told about, downloading when our seeder dials it.
//! Data compared byte for byte.
//!
//! libtorrent tries MSE/PE before plaintext by default; completing at all
//! shows we close encrypted attempts quickly enough for it to fall back.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;

use mktorrent_rs::magnet::Magnet;
use mktorrent_rs::metainfo::Torrent;
use mktorrent_rs::peer::seeder::{Config, SeedTorrent, Seeder, Verify};
use mktorrent_rs::shutdown::Shutdown;
use serde_json::Value;

use crate::support::{
    assert_same_tree, create, free_port, nested_tree, same_nonempty_files, transmission_cli, NESTED,
};

const LT_SEEDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/lt_seeder.py");

fn lt_seeder(args: &[&OsStr]) -> Value {
    crate::support::libtorrent_script(LT_SEEDER, args)
}

/// What a client running beside our seeder gets to know.
struct Running {
    addr: SocketAddr,
    torrent: Torrent,
    seeder: Seeder,
    runtime: tokio::runtime::Handle,
}

/// Runs our seeder for `torrent` on 127.0.0.1:0 while `client` runs on a
/// blocking thread; returns what the client returned and the seeder's stats.
fn with_seeder<T: Send + 'static>(
    torrent: &Path,
    content: &Path,
    client: impl FnOnce(&Running) -> T + Send + 'static,
) -> (T, mktorrent_rs::peer::seeder::Stats) {
    let parsed = Torrent::parse(&std::fs::read(torrent).unwrap()).unwrap();
    let seed = SeedTorrent::open(parsed.clone(), content, Verify::Full, &|_| {}).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seeder = Seeder::new(Config::default(), vec![seed], shutdown.clone());
        let running = {
            let seeder = seeder.clone();
            tokio::spawn(async move { seeder.run(listener).await })
        };
        let running_ctx = Running {
            addr,
            torrent: parsed,
            seeder: seeder.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
        let result = tokio::task::spawn_blocking(move || client(&running_ctx))
            .await
            .unwrap();
        shutdown.finished().await;
        running.await.unwrap();
        (result, seeder.stats())
    })
}

#[test]
fn libtorrent_downloads_from_our_seeder_when_told_our_address() {
    let temp = tempfile::tempdir().unwrap();
    let content = nested_tree(temp.path(), "release");
    let torrent = temp.path().join("release.torrent");
    create(&content, &torrent, &["-l", "32KiB"]);
    let dest = temp.path().join("downloaded");
    std::fs::create_dir(&dest).unwrap();
    let (torrent_arg, dest_arg) = (torrent.clone(), dest.clone());
    let (report, stats) = with_seeder(&torrent, &content, move |run| {
        let addr = run.addr;
        lt_seeder(&[
            OsStr::new("download"),
            torrent_arg.as_os_str(),
            dest_arg.as_os_str(),
            OsStr::new(&addr.ip().to_string()),
            OsStr::new(&addr.port().to_string()),
        ])
    });
    assert_eq!(report["name"], "release");
    assert_same_tree(&content, &dest.join("release"), true);
    let total: usize = NESTED.iter().map(|(_, len)| len).sum();
    assert_eq!(stats.uploaded, total as u64);
    assert_eq!(stats.completed, 1, "the finished download was seen");
}

#[test]
fn libtorrent_fetches_metadata_and_data_from_a_magnet_with_x_pe() {
    let temp = tempfile::tempdir().unwrap();
    let content = nested_tree(temp.path(), "release");
    let torrent = temp.path().join("release.torrent");
    // A hybrid, served as v1 (its pieces are pad-aligned); the magnet
    // carries the v1 hash only, so libtorrent speaks v1 to us.
    create(&content, &torrent, &["-l", "64KiB", "--hybrid"]);
    let dest = temp.path().join("downloaded");
    std::fs::create_dir(&dest).unwrap();
    let dest_arg = dest.clone();
    let (report, _) = with_seeder(&torrent, &content, move |run| {
        let mut magnet = Magnet::from_torrent(&run.torrent);
        magnet.info_hash_v2 = None;
        magnet.trackers.clear();
        magnet.peers = vec![run.addr.to_string()];
        lt_seeder(&[
            OsStr::new("magnet"),
            OsStr::new(&magnet.to_uri()),
            dest_arg.as_os_str(),
        ])
    });
    assert_eq!(report["has_metadata"], true);
    assert_same_tree(&content, &dest.join("release"), true);
}

#[test]
fn transmission_downloads_when_our_seeder_dials_it() {
    let temp = tempfile::tempdir().unwrap();
    let content = nested_tree(temp.path(), "release");
    let torrent = temp.path().join("release.torrent");
    create(&content, &torrent, &["-l", "32KiB"]);
    let dest = temp.path().join("downloaded");
    let port = free_port();
    let _child = transmission_cli(&torrent, &dest, &temp.path().join("transmission"), port);
    let (dest_arg, content_arg) = (dest.clone(), content.clone());
    let (done, stats) = with_seeder(&torrent, &content, move |run| {
        let target = SocketAddr::from(([127, 0, 0, 1], port));
        let info_hash = run.torrent.info_hash.0;
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            // Transmission 3.00 ignores loopback peers it is told about but
            // accepts our connection: dial until its port is up, and again
            // if it hangs up before finishing.
            if run.seeder.stats().peers == 0 {
                let _ = run.runtime.block_on(run.seeder.connect(target, info_hash));
            }
            // Transmission 3.00 does not create empty files.
            let complete = same_nonempty_files(&content_arg, &dest_arg.join("release"));
            if complete {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        false
    });
    assert!(done, "transmission did not complete within 60 s");
    assert!(stats.uploaded > 0);
}
