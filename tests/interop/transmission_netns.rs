//! Transmission 3.00 (`transmission-cli`, default settings) in a test
//! namespace downloads from a seeder on the namespace's host end, found
//! through a tracker or through a private DHT from a bare magnet.
//!
//! Why a namespace: Transmission 3.00 ignores 127.x peers and DHT nodes.
//! It connects by uTP first, searches the DHT only once it knows more than
//! 8 nodes, and takes about 70 s in a namespace before it asks for data, so
//! these tests wait up to [`TRANSMISSION_LIMIT`]. Its DHT is bootstrapped
//! from a `dht.dat` written into its config directory: at start it pings
//! the compact `nodes` listed there (libtransmission/tr-dht.c), and the
//! namespace's firewall drops its attempt at its public router.
//!
//! Each pair is a `*_control_libtorrent_seeder` test proving the harness
//! against libtorrent, and the same client run against `publish`.

use std::ffi::OsStr;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::netns::Netns;
use crate::publish::{assert_only_rc4, btih_only, content, NAME};
use crate::support::{assert_same_tree, magnet, require, same_nonempty_files, KillOnDrop};
use crate::swarm::{
    control_torrent, free_tcp_udp_port_on, libtorrent_seeder, publish_dht, publish_tracker,
    publish_tracker_with, tracker, wait_for, DhtNetwork, DHT_NODES,
};

/// The longest a Transmission download may take (it idles ~70 s first).
pub const TRANSMISSION_LIMIT: Duration = Duration::from_secs(180);

/// Writes Transmission's `dht.dat` (a bencoded dict whose `nodes` are
/// compact IPv4 node addresses, BEP 5) listing `nodes` into `config`.
fn dht_dat(config: &Path, nodes: &[SocketAddr]) {
    let mut compact = Vec::new();
    for node in nodes {
        let SocketAddr::V4(v4) = node else {
            panic!("Transmission's dht.dat holds IPv4 nodes only: {node}")
        };
        compact.extend_from_slice(&v4.ip().octets());
        compact.extend_from_slice(&v4.port().to_be_bytes());
    }
    let mut dat = format!("d5:nodes{}:", compact.len()).into_bytes();
    dat.extend_from_slice(&compact);
    dat.push(b'e');
    std::fs::create_dir_all(config).expect("mkdir config");
    std::fs::write(config.join("dht.dat"), dat).expect("write dht.dat");
}

/// `transmission-cli -w DEST -g CONFIG [EXTRA] SOURCE` in `netns`, default
/// settings otherwise; its output goes to `DEST.log`.
fn transmission(
    netns: &Netns,
    source: &OsStr,
    dest: &Path,
    config: &Path,
    extra: &[&str],
) -> KillOnDrop {
    require("transmission-cli", "transmission-cli");
    std::fs::create_dir_all(dest).expect("mkdir dest");
    std::fs::create_dir_all(config).expect("mkdir config");
    let log = std::fs::File::create(dest.with_extension("log")).expect("create log");
    let child = netns
        .command("transmission-cli")
        .arg("-w")
        .arg(dest)
        .arg("-g")
        .arg(config)
        .args(extra)
        .arg(source)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("transmission-cli starts");
    KillOnDrop(child)
}

/// Waits for Transmission to have every non-empty file (3.00 creates no
/// empty ones), then compares them byte for byte.
fn transmission_done(content: &Path, dest: &Path) {
    let took = wait_for(
        "Transmission to complete",
        TRANSMISSION_LIMIT,
        || same_nonempty_files(content, &dest.join(NAME)),
        || {
            let log = std::fs::read_to_string(dest.with_extension("log")).unwrap_or_default();
            let tail: Vec<&str> = log.split(['\n', '\r']).rev().take(20).collect();
            format!(
                "transmission-cli said (last lines first):\n{}",
                tail.join("\n")
            )
        },
    );
    eprintln!("Transmission completed in {took:?}");
    assert_same_tree(content, &dest.join(NAME), false);
}

fn host(netns: &Netns) -> IpAddr {
    IpAddr::V4(netns.host_ip())
}

#[test]
fn transmission_downloads_through_a_tracker_control_libtorrent_seeder() {
    let netns = Netns::new();
    let (temp, content) = content();
    let (_tracker, url) = tracker(temp.path(), host(&netns));
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, Some(&url), "");
    let listen = SocketAddr::new(host(&netns), free_tcp_udp_port_on(host(&netns)));
    let _seeder = libtorrent_seeder(temp.path(), &torrent, temp.path(), listen, &[]);
    let dest = temp.path().join("transmission");
    let _client = transmission(
        &netns,
        torrent.as_os_str(),
        &dest,
        &temp.path().join("config"),
        &[],
    );
    transmission_done(&content, &dest);
}

#[test]
fn transmission_downloads_from_publish_through_its_embedded_tracker() {
    let netns = Netns::new();
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host(&netns), 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) = publish_tracker(
        temp.path(),
        &content,
        &torrent,
        host(&netns),
        &network.addrs,
    );
    assert!(
        ready.trackers[0].starts_with(&format!("http://{}:", netns.host_ip())),
        "{:?}",
        ready.trackers
    );
    let dest = temp.path().join("transmission");
    let _client = transmission(
        &netns,
        torrent.as_os_str(),
        &dest,
        &temp.path().join("config"),
        &[],
    );
    transmission_done(&content, &dest);
    publish.finish();
}

/// Transmission with `-er` (encryption required) downloads through
/// publish's embedded tracker: MSE over uTP, its first transport.
#[test]
fn transmission_requiring_encryption_downloads_from_publish_through_its_embedded_tracker() {
    let netns = Netns::new();
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let (publish, _) = publish_tracker_with(
        temp.path(),
        &content,
        &torrent,
        host(&netns),
        &[],
        &[OsStr::new("--status-interval"), OsStr::new("1")],
    );
    let dest = temp.path().join("transmission");
    let _client = transmission(
        &netns,
        torrent.as_os_str(),
        &dest,
        &temp.path().join("config"),
        &["-er"],
    );
    transmission_done(&content, &dest);
    let events = publish.finish();
    assert_only_rc4(&events);
    // Transmission connects by uTP first: MSE over uTP.
    assert!(
        events.iter().any(|e| e["event"] == "status"
            && e["peers_utp"].as_u64() > Some(0)
            && e["peers_encrypted"].as_u64() > Some(0)),
        "no status event with an encrypted uTP peer:\n{}",
        crate::publish::lines(&events)
    );
}

#[test]
fn transmission_finds_a_dht_only_magnet_control_libtorrent_seeder() {
    let netns = Netns::new();
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host(&netns), DHT_NODES);
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, None, &network.joined());
    let listen = SocketAddr::new(host(&netns), free_tcp_udp_port_on(host(&netns)));
    let _seeder = libtorrent_seeder(temp.path(), &torrent, temp.path(), listen, &network.addrs);
    let uri = btih_only(&magnet(&torrent));
    let config = temp.path().join("config");
    dht_dat(&config, &network.addrs);
    let dest = temp.path().join("transmission");
    let _client = transmission(&netns, OsStr::new(&uri), &dest, &config, &[]);
    transmission_done(&content, &dest);
}

#[test]
fn transmission_finds_publish_through_the_dht_from_a_bare_magnet() {
    let netns = Netns::new();
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host(&netns), DHT_NODES);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) = publish_dht(temp.path(), &content, &torrent, host(&netns), &network);
    let uri = btih_only(&ready.magnet);
    let config = temp.path().join("config");
    let mut nodes = network.addrs.clone();
    nodes.extend(ready.dht);
    dht_dat(&config, &nodes);
    let dest = temp.path().join("transmission");
    let _client = transmission(&netns, OsStr::new(&uri), &dest, &config, &[]);
    transmission_done(&content, &dest);
    publish.finish();
}
