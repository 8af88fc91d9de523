//! qBittorrent (`qbittorrent-nox`, default settings) in a test namespace,
//! driven through its Web API with curl, downloads a torrent whose tracker
//! and seeder are on the namespace's host end.
//!
//! Headless start: its config file is written before the first run with the
//! legal notice accepted (4.5 asks on a terminal otherwise; later versions
//! take `--confirm-legal-notice`) and `WebUI\LocalHostAuth=false`, so curl,
//! run inside the namespace against 127.0.0.1, needs no login (4.5's
//! default password is fixed; 4.6.1 and later print a temporary one).
//! The namespace keeps its default DHT, LSD and UPnP on this machine.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::netns::Netns;
use crate::publish::{content, NAME};
use crate::support::{assert_same_tree, output, parse_json, require, run_ok, KillOnDrop};
use crate::swarm::{
    control_torrent, free_tcp_udp_port_on, libtorrent_seeder, publish_tracker, tracker, wait_for,
    DhtNetwork,
};

/// The Web UI port inside the namespace (the namespace is the test's own).
const WEBUI: u16 = 8080;

/// The longest a qBittorrent download may take.
const QBITTORRENT_LIMIT: Duration = Duration::from_secs(120);

/// A running `qbittorrent-nox` in a namespace and a way to call its API.
struct Qbittorrent<'n> {
    netns: &'n Netns,
    _process: KillOnDrop,
    log: std::path::PathBuf,
}

impl<'n> Qbittorrent<'n> {
    /// Starts it with its profile in `dir` and waits for the Web API.
    fn start(netns: &'n Netns, dir: &Path) -> Self {
        require("qbittorrent-nox", "qbittorrent-nox");
        require("curl", "curl");
        let profile = dir.join("qbittorrent");
        std::fs::create_dir_all(profile.join("qBittorrent/config")).expect("mkdir profile");
        std::fs::write(
            profile.join("qBittorrent/config/qBittorrent.conf"),
            format!(
                "[LegalNotice]\nAccepted=true\n\n\
                 [Preferences]\nWebUI\\Port={WEBUI}\nWebUI\\LocalHostAuth=false\n"
            ),
        )
        .expect("write qBittorrent.conf");
        let log = dir.join("qbittorrent.log");
        let file = std::fs::File::create(&log).expect("create log");
        let child = netns
            .command("qbittorrent-nox")
            .arg(format!("--profile={}", profile.display()))
            .env("HOME", dir)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().expect("clone log"))
            .stderr(file)
            .spawn()
            .expect("qbittorrent-nox starts");
        let qbt = Self {
            netns,
            _process: KillOnDrop(child),
            log,
        };
        wait_for(
            "qBittorrent's Web API",
            Duration::from_secs(30),
            || {
                output(qbt.curl("/api/v2/app/version").arg("--fail"))
                    .status
                    .success()
            },
            || qbt.said(),
        );
        qbt
    }

    /// `curl -sS http://127.0.0.1:WEBUI PATH` inside the namespace.
    fn curl(&self, path: &str) -> std::process::Command {
        let mut cmd = self.netns.command("curl");
        cmd.args(["-sS", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{WEBUI}{path}"));
        cmd
    }

    /// Adds `torrent` to be saved in `save`.
    fn add(&self, torrent: &Path, save: &Path) {
        let said = run_ok(
            self.curl("/api/v2/torrents/add")
                .arg("-F")
                .arg(format!("torrents=@{}", torrent.display()))
                .arg("-F")
                .arg(format!("savepath={}", save.display())),
        );
        assert_eq!(said.trim(), "Ok.", "torrents/add: {said}");
    }

    /// The torrents it has, from `/api/v2/torrents/info`.
    fn torrents(&self) -> Vec<Value> {
        let said = run_ok(&mut self.curl("/api/v2/torrents/info"));
        parse_json(&said, "torrents/info")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its only torrent has progress 1; then compares files.
    fn done(&self, content: &Path, dest: &Path) {
        let took = wait_for(
            "qBittorrent to complete",
            QBITTORRENT_LIMIT,
            || {
                let torrents = self.torrents();
                torrents.len() == 1 && torrents[0]["progress"].as_f64() == Some(1.0)
            },
            || format!("torrents: {:?}\nlog:\n{}", self.torrents(), self.said()),
        );
        eprintln!("qBittorrent completed in {took:?}");
        assert_same_tree(content, &dest.join(NAME), true);
    }
}

#[test]
fn qbittorrent_downloads_through_a_tracker_control_libtorrent_seeder() {
    let netns = Netns::new();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let (_tracker, url) = tracker(temp.path(), host);
    let torrent = temp.path().join("release.torrent");
    control_torrent(&content, &torrent, Some(&url), "");
    let listen = SocketAddr::new(host, free_tcp_udp_port_on(host));
    let _seeder = libtorrent_seeder(temp.path(), &torrent, temp.path(), listen, &[]);
    let qbt = Qbittorrent::start(&netns, temp.path());
    let dest = temp.path().join("qbittorrent-downloads");
    qbt.add(&torrent, &dest);
    qbt.done(&content, &dest);
}

#[test]
fn qbittorrent_downloads_from_publish_through_its_embedded_tracker() {
    let netns = Netns::new();
    let host = IpAddr::V4(netns.host_ip());
    let (temp, content) = content();
    let network = DhtNetwork::start(temp.path(), host, 1);
    let torrent = temp.path().join("release.torrent");
    let (publish, _ready) = publish_tracker(temp.path(), &content, &torrent, host, &network.addrs);
    let qbt = Qbittorrent::start(&netns, temp.path());
    let dest = temp.path().join("qbittorrent-downloads");
    qbt.add(&torrent, &dest);
    qbt.done(&content, &dest);
    publish.finish();
}
