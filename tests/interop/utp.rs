//! uTP (BEP 29): libtorrent with TCP off both ways (`lt_download.py
//! --utp-only`) downloads through a tracker, from a magnet's `x.pe` and
//! through the DHT on loopback, and over a lossy link from a test
//! namespace (`Netns::netem`: 2 % loss, 20 ms delay each way).
//!
//! Each case runs against a libtorrent control seeder (which speaks uTP),
//! proving the harness, and against `publish`; the publish variants are
//! ignored until publish speaks uTP. Publish always runs its DHT node here
//! (joined to a local node only): uTP shares the DHT's UDP port.

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::netns::{Impairment, Netns};
use crate::publish::{btih_only, content, os, Publish, NAME, PIECE};
use crate::support::{
    assert_libtorrent_imported, assert_same_tree, libtorrent_command, ours, parse_json, run_ok,
    Spawned, SYSTEM_PYTHON,
};
use crate::swarm::{
    control_torrent, free_tcp_udp_port_on, libtorrent_seeder, publish_dht, publish_tracker,
    tracker, DhtNetwork,
};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The longest a download over the lossy link may take.
const LOSSY_LIMIT: Duration = Duration::from_secs(150);

/// `lt_download.py DEST --utp-only ARGS...`, in `netns` when given
/// (listening on its address), else on loopback: waits for every piece
/// within `limit` and returns the report; it seeds on until dropped.
fn utp_download(
    netns: Option<&Netns>,
    dest: &Path,
    args: &[&OsStr],
    limit: Duration,
) -> (Spawned, Value) {
    std::fs::create_dir_all(dest).expect("mkdir");
    let base = libtorrent_command("lt_download.py");
    let mut cmd = match netns {
        Some(netns) => {
            let mut cmd = netns.command(SYSTEM_PYTHON);
            cmd.args(base.get_args())
                .env("LC_ALL", "C.UTF-8")
                .args(["--listen", &netns.ns_ip().to_string()]);
            cmd
        }
        None => base,
    };
    cmd.arg(dest)
        .arg("--utp-only")
        .args(args)
        .args(["--timeout", &limit.as_secs().to_string()]);
    let mut client = Spawned::start(&mut cmd, &dest.with_extension("stderr"));
    let Some(line) = client.next_line(limit + Duration::from_secs(10)) else {
        let status = client.wait(Duration::from_secs(5));
        assert_libtorrent_imported(status, &client.stderr());
        panic!(
            "libtorrent did not complete ({status}):\n{}",
            client.stderr()
        );
    };
    let report = parse_json(&line, "lt_download.py");
    eprintln!("libtorrent (uTP only) completed: {report}");
    (client, report)
}

/// The download came over uTP from `peer` (the only transport it had).
fn assert_utp_from(report: &Value, peer: SocketAddr) {
    let utp = report["utp_peers"].as_array().expect("utp_peers");
    assert!(
        utp.iter().any(|p| *p == peer.to_string()),
        "no uTP connection to {peer}: {report}"
    );
}

/// A libtorrent seeder on `ip` for `torrent` (content beside it).
fn control_seeder(
    dir: &Path,
    torrent: &Path,
    ip: IpAddr,
    dht: &[SocketAddr],
) -> (Spawned, SocketAddr) {
    let listen = SocketAddr::new(ip, free_tcp_udp_port_on(ip));
    (libtorrent_seeder(dir, torrent, dir, listen, dht), listen)
}

/// Publish seeding `content` on loopback with only `x.pe` in its magnet
/// (trackerless, its DHT node joined to `node` only).
fn publish_for_magnet(dir: &Path, content: &Path, node: SocketAddr) -> Publish {
    let node = node.to_string();
    Publish::start(
        dir,
        &[
            content.as_os_str(),
            os("-l"),
            os(PIECE),
            os("--trackerless"),
            os("--nodes"),
            os(&node),
            os("--listen"),
            os("127.0.0.1:0"),
            os("--dht-bootstrap"),
            os(&node),
        ],
    )
}

#[test]
fn libtorrent_utp_only_downloads_through_a_tracker_control_libtorrent_seeder() {
    let (temp, content) = content();
    let (_tracker, url) = tracker(temp.path(), LOOPBACK);
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, Some(&url), "");
    let (_seeder, listen) = control_seeder(temp.path(), &torrent, LOOPBACK, &[]);
    let dest = temp.path().join("libtorrent");
    let (_client, report) = utp_download(
        None,
        &dest,
        &[os("--torrent"), torrent.as_os_str()],
        Duration::from_secs(80),
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, listen);
}

#[test]
fn libtorrent_utp_only_downloads_through_the_embedded_tracker() {
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), LOOPBACK, 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) =
        publish_tracker(temp.path(), &content, &torrent, LOOPBACK, &network.addrs);
    let dest = temp.path().join("libtorrent");
    let (client, report) = utp_download(
        None,
        &dest,
        &[os("--torrent"), torrent.as_os_str()],
        Duration::from_secs(80),
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, ready.listen);
    publish.finish();
    drop(client);
}

#[test]
fn libtorrent_utp_only_downloads_from_a_magnet_x_pe_control_libtorrent_seeder() {
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, None, "127.0.0.1:1");
    let (_seeder, listen) = control_seeder(temp.path(), &torrent, LOOPBACK, &[]);
    let uri = run_ok(
        ours()
            .arg("magnet")
            .arg(&torrent)
            .args(["--peer", &listen.to_string()]),
    );
    let dest = temp.path().join("libtorrent");
    let (_client, report) = utp_download(
        None,
        &dest,
        &[os("--magnet"), os(uri.trim())],
        Duration::from_secs(80),
    );
    assert_eq!(report["has_metadata"], true);
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, listen);
}

#[test]
fn libtorrent_utp_only_downloads_from_the_magnet_publish_prints() {
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), LOOPBACK, 1);
    let mut publish = publish_for_magnet(temp.path(), &content, network.addrs[0]);
    let ready = publish.ready();
    assert!(ready.magnet.contains(&format!("x.pe={}", ready.listen)));
    let dest = temp.path().join("libtorrent");
    let (client, report) = utp_download(
        None,
        &dest,
        &[os("--magnet"), os(&ready.magnet)],
        Duration::from_secs(80),
    );
    assert_eq!(report["has_metadata"], true);
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, ready.listen);
    publish.finish();
    drop(client);
}

#[test]
fn libtorrent_utp_only_finds_a_seeder_through_the_dht_control_libtorrent_seeder() {
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), LOOPBACK, 1);
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, None, &network.joined());
    let (_seeder, listen) = control_seeder(temp.path(), &torrent, LOOPBACK, &network.addrs);
    let uri = btih_only(&crate::support::magnet(&torrent));
    let node = network.addrs[0].to_string();
    let dest = temp.path().join("libtorrent");
    let (_client, report) = utp_download(
        None,
        &dest,
        &[os("--magnet"), os(&uri), os("--dht"), os(&node)],
        Duration::from_secs(80),
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, listen);
}

#[test]
fn libtorrent_utp_only_finds_publish_through_the_dht() {
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), LOOPBACK, 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) = publish_dht(temp.path(), &content, &torrent, LOOPBACK, &network);
    let uri = btih_only(&ready.magnet);
    let node = network.addrs[0].to_string();
    let ours = ready.dht.expect("publish runs a DHT node").to_string();
    let dest = temp.path().join("libtorrent");
    let (client, report) = utp_download(
        None,
        &dest,
        &[
            os("--magnet"),
            os(&uri),
            os("--dht"),
            os(&node),
            os("--dht"),
            os(&ours),
        ],
        Duration::from_secs(80),
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, ready.listen);
    publish.finish();
    drop(client);
}

/// A namespace whose veth loses 2 % of packets and delays them 20 ms.
fn lossy() -> Netns {
    let netns = Netns::new();
    let applied = netns.netem(2, 20);
    if applied == Impairment::LossOnly {
        eprintln!("this kernel has no netem: 2 % loss by nftables, no added delay");
    }
    netns
}

#[test]
fn a_utp_download_survives_a_lossy_link_control_libtorrent_seeder() {
    let netns = lossy();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, None, &format!("{host}:1"));
    let (_seeder, listen) = control_seeder(temp.path(), &torrent, host, &[]);
    let dest = temp.path().join("libtorrent");
    let peer = listen.to_string();
    let (_client, report) = utp_download(
        Some(&netns),
        &dest,
        &[
            os("--torrent"),
            torrent.as_os_str(),
            os("--connect"),
            os(&peer),
        ],
        LOSSY_LIMIT,
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, listen);
    assert_lossy(&netns);
}

/// The link really lost packets (when nftables makes the loss; netem's
/// drops are not counted here).
fn assert_lossy(netns: &Netns) {
    if let Some(lost) = netns.packets_lost() {
        eprintln!("packets lost on the link: {lost}");
        assert!(lost > 0, "the lossy link lost nothing");
    }
}

#[test]
fn a_utp_download_from_publish_survives_a_lossy_link() {
    let netns = lossy();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host, 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) = publish_tracker(temp.path(), &content, &torrent, host, &network.addrs);
    let dest = temp.path().join("libtorrent");
    let peer = ready.listen.to_string();
    let (client, report) = utp_download(
        Some(&netns),
        &dest,
        &[
            os("--torrent"),
            torrent.as_os_str(),
            os("--connect"),
            os(&peer),
        ],
        LOSSY_LIMIT,
    );
    assert_same_tree(&content, &dest.join(NAME), true);
    assert_utp_from(&report, ready.listen);
    assert_lossy(&netns);
    publish.finish();
    drop(client);
}
