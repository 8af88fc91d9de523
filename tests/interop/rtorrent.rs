//! rtorrent 0.9 with its DHT on (`dht.mode.set = on`; it is off by
//! default) downloads a DHT-only magnet, in a test namespace, from a seeder
//! on the namespace's host end.
//!
//! rtorrent runs headless with `system.daemon.set = true` (0.9.7 and
//! later), configured by `-n -o KEY=VALUE,...` (no ~/.rtorrent.rc) plus an
//! imported file scheduling `dht.add_node` for each node of the private
//! network (the command fails before the DHT has started). A seeder finds it
//! through the DHT and dials it. With encryption required (RC4 only) it
//! downloads through publish's embedded tracker, publish dialling it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::netns::Netns;
use crate::publish::{assert_only_rc4, btih_only, content, NAME};
use crate::support::{assert_same_tree, magnet, require, same_nonempty_files, KillOnDrop};
use crate::swarm::{
    control_torrent, free_tcp_udp_port_on, libtorrent_seeder, publish_dht, publish_tracker,
    wait_for, DhtNetwork,
};

/// The longest an rtorrent download may take.
const RTORRENT_LIMIT: Duration = Duration::from_secs(150);

/// What rtorrent's users set to require encryption, RC4 included; its
/// commas cannot go through `-o`, so it goes in the imported file.
const RTORRENT_REQUIRE_RC4: &str =
    "protocol.encryption.set = allow_incoming,try_outgoing,require,require_RC4";

/// `rtorrent -n -o ...  SOURCE` (a magnet or a torrent file) in `netns`,
/// daemonised, DHT on and joined through `nodes`, saving into `dest`;
/// `rc` lines go in the imported file.
fn rtorrent(
    netns: &Netns,
    dir: &Path,
    uri: &str,
    dest: &Path,
    nodes: &[SocketAddr],
    rc_lines: &[&str],
) -> KillOnDrop {
    require("rtorrent", "rtorrent");
    let session = dir.join("rtorrent-session");
    std::fs::create_dir_all(&session).expect("mkdir session");
    std::fs::create_dir_all(dest).expect("mkdir dest");
    // Fixed ports are fine: the namespace is this test's own.
    let mut options = vec![
        "system.daemon.set=true".to_owned(),
        format!("session.path.set={}", session.display()),
        format!("directory.default.set={}", dest.display()),
        format!("network.bind_address.set={}", netns.ns_ip()),
        "network.port_range.set=51000-51000".to_owned(),
        "network.port_random.set=no".to_owned(),
        "dht.mode.set=on".to_owned(),
        "dht.port.set=51001".to_owned(),
        "protocol.pex.set=no".to_owned(),
    ];
    for option in &options {
        assert!(!option.contains(','), "-o splits on commas: {option}");
    }
    // `dht.add_node` fails ("DHT not enabled") until the DHT has started,
    // after the options are read: schedule it, from a file, since a
    // schedule's own commas cannot go through -o.
    let mut rc = String::new();
    for (n, node) in nodes.iter().enumerate() {
        rc.push_str(&format!(
            "schedule2 = add_node_{n}, 2, 0, \"dht.add_node={node}\"\n"
        ));
    }
    for line in rc_lines {
        rc.push_str(line);
        rc.push('\n');
    }
    let rc_file = dir.join("rtorrent-nodes.rc");
    std::fs::write(&rc_file, rc).expect("write the rc file");
    options.push(format!("import={}", rc_file.display()));
    let log = std::fs::File::create(dir.join("rtorrent.log")).expect("create log");
    let child = netns
        .command("rtorrent")
        .arg("-n")
        .arg("-o")
        .arg(options.join(","))
        .arg(uri)
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("rtorrent starts");
    KillOnDrop(child)
}

fn rtorrent_done(dir: &Path, content: &Path, dest: &Path) {
    let took = wait_for(
        "rtorrent to complete",
        RTORRENT_LIMIT,
        || same_nonempty_files(content, &dest.join(NAME)),
        || std::fs::read_to_string(dir.join("rtorrent.log")).unwrap_or_default(),
    );
    eprintln!("rtorrent completed in {took:?}");
    assert_same_tree(content, &dest.join(NAME), true);
}

#[test]
fn rtorrent_downloads_a_dht_only_magnet_control_libtorrent_seeder() {
    let netns = Netns::new();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host, 1);
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, None, &network.joined());
    let listen = SocketAddr::new(host, free_tcp_udp_port_on(host));
    let _seeder = libtorrent_seeder(temp.path(), &torrent, temp.path(), listen, &network.addrs);
    let uri = btih_only(&magnet(&torrent));
    let dest = temp.path().join("rtorrent");
    let _client = rtorrent(&netns, temp.path(), &uri, &dest, &network.addrs, &[]);
    rtorrent_done(temp.path(), &content, &dest);
}

#[test]
fn rtorrent_downloads_a_dht_only_magnet_from_publish() {
    let netns = Netns::new();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host, 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, ready) = publish_dht(temp.path(), &content, &torrent, host, &network);
    let uri = btih_only(&ready.magnet);
    let mut nodes = network.addrs.clone();
    nodes.extend(ready.dht);
    let dest = temp.path().join("rtorrent");
    let _client = rtorrent(&netns, temp.path(), &uri, &dest, &nodes, &[]);
    rtorrent_done(temp.path(), &content, &dest);
    publish.finish();
}

/// rtorrent requiring RC4 announces to publish's embedded tracker and waits
/// to be dialled: publish must dial it encrypted (it dials MSE first).
#[test]
fn rtorrent_requiring_rc4_downloads_from_publish_through_its_embedded_tracker() {
    let netns = Netns::new();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let torrent = temp.path().join("release.torrent");
    let (publish, _) = publish_tracker(temp.path(), &content, &torrent, host, &[]);
    let dest = temp.path().join("rtorrent");
    let source = torrent.to_str().expect("a UTF-8 temp path");
    let _client = rtorrent(
        &netns,
        temp.path(),
        source,
        &dest,
        &[],
        &[RTORRENT_REQUIRE_RC4],
    );
    rtorrent_done(temp.path(), &content, &dest);
    assert_only_rc4(&publish.finish());
}
