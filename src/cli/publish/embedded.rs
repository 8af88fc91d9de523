//! The embedded tracker's plan: its addresses (from `--tracker-listen`, or
//! the announce URLs of a torrent that point at this machine), the URLs a
//! created torrent lists for it, and its config.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};

use super::flag_error;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::metainfo::Torrent;
use crate::publish as logic;
use crate::tracker::access::AccessConfig;
use crate::tracker::TrackerConfig;

/// The embedded tracker's addresses, decided before it starts.
#[derive(Debug, Default)]
pub(super) struct EmbeddedPlan {
    pub(super) http: Vec<SocketAddr>,
    pub(super) udp: Vec<SocketAddr>,
    pub(super) announce_path: Option<String>,
    /// The announce URLs torrents list for it.
    pub(super) urls: Vec<String>,
}

/// A port free on `ip` for both TCP and UDP, so the tracker's two URLs
/// share a number. A short race with other programs remains; `Tracker::start`
/// then fails with the address named.
fn shared_port(ip: IpAddr) -> Option<u16> {
    for _ in 0..20 {
        let tcp = StdTcpListener::bind((ip, 0)).ok()?;
        let port = tcp.local_addr().ok()?.port();
        if UdpSocket::bind((ip, port)).is_ok() {
            return Some(port);
        }
    }
    None
}

/// Whether `ip` belongs to this machine: binding to it succeeds.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind((ip, 0)).is_ok()
}

/// The addresses of the torrent's announce URLs that point at this machine
/// and are free, so publish can be their tracker. A busy one is someone
/// else's tracker already: we only announce to it.
pub(super) fn local_tracker_urls(torrent: &Torrent, env: &mut Env) -> Result<EmbeddedPlan> {
    use std::net::ToSocketAddrs;
    let mut plan = EmbeddedPlan::default();
    for url in torrent.meta.tracker_tiers().concat() {
        let Ok(parsed) = url::Url::parse(&url) else {
            continue;
        };
        let Some(port) = parsed.port_or_known_default() else {
            continue;
        };
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain("localhost")) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(url::Host::Domain(name)) => {
                match (name, port).to_socket_addrs().map(|mut a| a.next()) {
                    Ok(Some(addr)) => addr.ip(),
                    _ => continue,
                }
            }
            None => continue,
        };
        if !is_local(ip) {
            continue;
        }
        let addr = SocketAddr::new(ip, port);
        let (free, list) = match parsed.scheme() {
            "http" => (StdTcpListener::bind(addr).is_ok(), &mut plan.http),
            "udp" => (UdpSocket::bind(addr).is_ok(), &mut plan.udp),
            _ => continue,
        };
        if list.contains(&addr) {
            continue;
        }
        if !free {
            env.warn(format_args!(
                "{url} points at this machine but {addr} is in use: announcing to the tracker \
                 running there"
            ))?;
            continue;
        }
        if parsed.scheme() == "http" && plan.announce_path.is_none() {
            plan.announce_path = Some(parsed.path().to_owned());
        }
        list.push(addr);
        plan.urls.push(url);
    }
    Ok(plan)
}

impl EmbeddedPlan {
    /// Adds `other`'s addresses and URLs not listed yet.
    pub(super) fn merge(&mut self, other: EmbeddedPlan) {
        for addr in other.http {
            if !self.http.contains(&addr) {
                self.http.push(addr);
            }
        }
        for addr in other.udp {
            if !self.udp.contains(&addr) {
                self.udp.push(addr);
            }
        }
        self.announce_path = self.announce_path.take().or(other.announce_path);
        for url in other.urls {
            if !self.urls.contains(&url) {
                self.urls.push(url);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.http.is_empty() && self.udp.is_empty()
    }
}

pub(super) fn tracker_config(plan: &EmbeddedPlan) -> TrackerConfig {
    TrackerConfig {
        http: plan.http.clone(),
        udp: plan.udp.clone(),
        announce_path: plan
            .announce_path
            .clone()
            .unwrap_or_else(|| "/announce".into()),
        // The session allows each torrent as it is added.
        access: AccessConfig {
            closed: true,
            ..AccessConfig::default()
        },
        udp_workers: 1,
        ..TrackerConfig::default()
    }
}

/// The URLs a created torrent lists for the embedded tracker.
pub(super) fn embedded_urls(plan: &EmbeddedPlan, public_host: Option<&str>) -> Result<Vec<String>> {
    let host = |addr: &SocketAddr| -> Result<String> {
        match public_host {
            Some(host) => Ok(logic::url_host(host)),
            None if addr.ip().is_unspecified() => Err(flag_error(
                "--tracker-listen",
                format!(
                    "{addr} listens on every interface; give --public-host so the torrent's \
                     announce URL names a host peers can reach"
                ),
            )),
            None => Ok(logic::url_host(&addr.ip().to_string())),
        }
    };
    let path = plan.announce_path.as_deref().unwrap_or("/announce");
    let mut urls = Vec::new();
    for addr in &plan.http {
        urls.push(format!("http://{}:{}{path}", host(addr)?, addr.port()));
    }
    for addr in &plan.udp {
        urls.push(format!("udp://{}:{}", host(addr)?, addr.port()));
    }
    Ok(urls)
}

/// The embedded tracker for `--tracker-listen`: a port number shared by
/// HTTP and UDP when the port is 0.
pub(super) fn listen_plan(addrs: &[SocketAddr]) -> Result<EmbeddedPlan> {
    let mut plan = EmbeddedPlan::default();
    for addr in addrs {
        let port = match addr.port() {
            0 => shared_port(addr.ip()).ok_or_else(|| Error::Listen {
                addr: *addr,
                source: std::io::ErrorKind::AddrNotAvailable.into(),
            })?,
            port => port,
        };
        plan.http.push(SocketAddr::new(addr.ip(), port));
        plan.udp.push(SocketAddr::new(addr.ip(), port));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::metainfo::{Info, Layout, Metainfo, Version};

    fn env() -> Env {
        Env {
            cwd: PathBuf::from("/"),
            stdout: Box::new(std::io::sink()),
            stderr: Box::new(std::io::sink()),
            stderr_is_terminal: false,
            source_date_epoch: None,
            now: 0,
        }
    }

    fn torrent_with(tiers: Vec<Vec<String>>) -> Torrent {
        Torrent::from_metainfo(Metainfo {
            announce: tiers.first().and_then(|t| t.first()).cloned(),
            announce_list: tiers,
            nodes: Vec::new(),
            web_seeds: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            info: Info {
                name: "x".into(),
                piece_length: 16 * 1024,
                pieces: vec![[0; 20]],
                private: false,
                source: None,
                layout: Layout::Single { length: 1 },
                version: Version::V1,
                file_tree: Vec::new(),
            },
            piece_layers: std::collections::BTreeMap::new(),
        })
    }

    #[test]
    fn local_free_tracker_urls_become_the_embedded_tracker() {
        let free = shared_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let busy = StdTcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let torrent = torrent_with(vec![
            vec![
                format!("http://localhost:{free}/tracker/announce"),
                format!("udp://127.0.0.1:{free}"),
            ],
            vec![format!("http://127.0.0.1:{busy_port}/announce")],
            // TEST-NET-1: not an address of this machine (a bind test, no traffic).
            vec!["http://192.0.2.1:6969/announce".into()],
            vec!["wss://127.0.0.1:1/announce".into()],
        ]);
        let plan = local_tracker_urls(&torrent, &mut env()).unwrap();
        let here = SocketAddr::from(([127, 0, 0, 1], free));
        assert_eq!(plan.http, vec![here]);
        assert_eq!(plan.udp, vec![here]);
        assert_eq!(plan.announce_path.as_deref(), Some("/tracker/announce"));
    }

    #[test]
    fn embedded_urls_need_a_host_peers_can_reach() {
        let any = EmbeddedPlan {
            http: vec!["0.0.0.0:6969".parse().unwrap()],
            udp: vec!["0.0.0.0:6969".parse().unwrap()],
            announce_path: None,
            urls: Vec::new(),
        };
        assert!(embedded_urls(&any, None).is_err());
        assert_eq!(
            embedded_urls(&any, Some("seed.example")).unwrap(),
            [
                "http://seed.example:6969/announce",
                "udp://seed.example:6969"
            ]
        );
        let v6 = EmbeddedPlan {
            http: vec!["[::1]:7000".parse().unwrap()],
            udp: Vec::new(),
            announce_path: Some("/a".into()),
            urls: Vec::new(),
        };
        assert_eq!(embedded_urls(&v6, None).unwrap(), ["http://[::1]:7000/a"]);
    }

    #[test]
    fn tracker_listen_shares_one_port_number() {
        let plan = listen_plan(&["127.0.0.1:0".parse().unwrap()]).unwrap();
        assert_eq!(plan.http.len(), 1);
        assert_ne!(plan.http[0].port(), 0);
        assert_eq!(plan.http, plan.udp);
    }
}
