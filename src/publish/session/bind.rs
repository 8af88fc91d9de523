//! Binding the seeder's sockets and starting the DHT node beside them.

use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::{DhtSettings, Listen, DEFAULT_PORTS};
use crate::dht::{self, Dht, Id};
use crate::error::{Error, Result};
use crate::shutdown::Shutdown;

/// Sockets for the seeder: a TCP listener and a UDP socket for uTP, on one
/// port number.
pub(super) struct Bound {
    pub(super) tcp: Option<tokio::net::TcpListener>,
    pub(super) udp: Option<tokio::net::UdpSocket>,
    pub(super) addr: SocketAddr,
}

async fn bind_at(addr: SocketAddr, tcp: bool, udp: bool) -> std::io::Result<Bound> {
    let listener = match tcp {
        true => Some(tokio::net::TcpListener::bind(addr).await?),
        false => None,
    };
    // Port 0: uTP takes the number TCP was given.
    let addr = match &listener {
        Some(l) => l.local_addr()?,
        None => addr,
    };
    let socket = match udp {
        true => Some(tokio::net::UdpSocket::bind(addr).await?),
        false => None,
    };
    let addr = match (&listener, &socket) {
        (Some(l), _) => l.local_addr()?,
        (None, Some(s)) => s.local_addr()?,
        (None, None) => addr,
    };
    Ok(Bound {
        tcp: listener,
        udp: socket,
        addr,
    })
}

pub(super) async fn bind_seeder(listen: Listen, tcp: bool, udp: bool) -> Result<Bound> {
    match listen {
        Listen::Exact(addr) => bind_at(addr, tcp, udp)
            .await
            .map_err(|source| Error::Listen { addr, source }),
        Listen::Default => {
            let mut last = None;
            for port in DEFAULT_PORTS {
                let addr = SocketAddr::from(([0, 0, 0, 0], port));
                match bind_at(addr, tcp, udp).await {
                    Ok(bound) => return Ok(bound),
                    Err(err) => last = Some((addr, err)),
                }
            }
            let (addr, source) = last.unwrap_or_else(|| {
                (
                    SocketAddr::from(([0, 0, 0, 0], 6881)),
                    std::io::ErrorKind::AddrInUse.into(),
                )
            });
            Err(Error::Listen { addr, source })
        }
    }
}

/// Starts the DHT node: on its own socket when one is named (or uTP is
/// off), else sharing the seeder's UDP socket with uTP.
pub(super) fn start_dht(
    settings: &DhtSettings,
    shared: Option<(
        std::net::UdpSocket,
        mpsc::Receiver<(bytes::Bytes, SocketAddr)>,
    )>,
    own: Option<tokio::net::UdpSocket>,
    announced: mpsc::Sender<(Id, SocketAddr)>,
    shutdown: &Shutdown,
) -> Result<Dht> {
    let mut config = dht::Config {
        id: settings.id,
        announced: Some(announced),
        ..dht::Config::default()
    };
    let (started, addr) = match (shared, own) {
        (Some((sender, incoming)), _) => {
            let addr = sender
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            config.bootstrap = same_family(&settings.bootstrap, addr);
            (Dht::start_shared(sender, incoming, config, shutdown), addr)
        }
        (None, Some(socket)) => {
            let addr = socket
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            config.bootstrap = same_family(&settings.bootstrap, addr);
            (Dht::start(socket, config, shutdown), addr)
        }
        (None, None) => {
            let addr = SocketAddr::from(([0, 0, 0, 0], 0));
            return Err(Error::DhtBind {
                addr,
                source: std::io::ErrorKind::AddrNotAvailable.into(),
            });
        }
    };
    started.map_err(|source| Error::DhtBind { addr, source })
}

fn same_family(nodes: &[SocketAddr], ours: SocketAddr) -> Vec<SocketAddr> {
    let mut nodes: Vec<SocketAddr> = nodes
        .iter()
        .copied()
        .filter(|a| a.is_ipv4() == ours.is_ipv4())
        .collect();
    nodes.dedup();
    nodes
}

/// The DHT's own socket: `--dht-listen`, else the seeder's address and port
/// (any free port when that one is taken).
pub(super) async fn bind_dht(
    settings: &DhtSettings,
    seeder: SocketAddr,
) -> Result<tokio::net::UdpSocket> {
    match settings.listen {
        Some(addr) => tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|source| Error::DhtBind { addr, source }),
        None => match tokio::net::UdpSocket::bind(seeder).await {
            Ok(socket) => Ok(socket),
            Err(_) => {
                let any = SocketAddr::new(seeder.ip(), 0);
                tokio::net::UdpSocket::bind(any)
                    .await
                    .map_err(|source| Error::DhtBind { addr: any, source })
            }
        },
    }
}
