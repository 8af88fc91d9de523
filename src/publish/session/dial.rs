//! Connecting to peers: the dialler (uTP first, then TCP), `--connect`
//! peers kept connected, incoming uTP, and the forwarding of peers found by
//! trackers, the DHT and PEX to the dialler.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{CONNECT_EVERY, MAX_DIALS, MAX_REMEMBERED_DIALS, REDIAL_AFTER, UTP_DIAL_TIMEOUT};
use crate::announce::PeerFound;
use crate::error::Result;
use crate::peer::mse::Policy;
use crate::peer::seeder::{self, Seeder, Transport};
use crate::shutdown::Shutdown;
use crate::utp::UtpSocket;

/// Serves incoming uTP connections until shutdown.
pub(super) async fn accept_utp(seeder: Seeder, utp: UtpSocket, shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = utp.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => seeder.accept_stream(stream, addr, Transport::Utp),
            Err(err) => {
                tracing::debug!("uTP accept: {err}");
                return;
            }
        }
    }
}

/// Under `--encryption prefer`, dials try plaintext first and MSE second.
/// Measured (`cargo bench --bench dial_order`, libtorrent 2.0.8 on
/// loopback, median of 30): against its default policy (accepts both) a
/// plaintext handshake took 0.14 ms and MSE 2.81 ms; against plaintext-only
/// (rtorrent's default too) MSE first cost a refused try, 0.56 ms against
/// 0.18; against forced RC4 both orders took 48 ms, the refused plaintext
/// try adding 0.03. Every client's default accepts plaintext, and MSE costs
/// a round trip more on every connection, a refused first try only on the
/// connections to peers that require encryption.
const ENCRYPTED_FIRST: bool = false;

/// Opens connections to peers: uTP first when it is on (as libtorrent
/// and Transmission do), then TCP; MSE/PE or plaintext as `encryption`
/// says, retrying the other way once when `prefer` lets it.
#[derive(Clone)]
pub(super) struct Dialer {
    pub(super) seeder: Seeder,
    pub(super) utp: Option<UtpSocket>,
    pub(super) tcp: bool,
    pub(super) encryption: Policy,
}

impl Dialer {
    pub(super) async fn dial(&self, addr: SocketAddr, info_hash: [u8; 20]) -> Result<Transport> {
        self.seeder.check_dial(info_hash)?;
        let tries: &[bool] = match self.encryption {
            Policy::Disable => &[false],
            Policy::Require => &[true],
            Policy::Prefer if ENCRYPTED_FIRST => &[true, false],
            Policy::Prefer => &[false, true],
        };
        for (n, &encrypt) in tries.iter().enumerate() {
            let last = n + 1 == tries.len();
            let (told, handshaken) = oneshot::channel();
            let dial = seeder::Dial {
                info_hash,
                encrypt,
                handshaken: (!last).then_some(told),
            };
            let transport = self.open(addr, dial).await?;
            // The sender is dropped unsent when the handshake fails.
            if last || handshaken.await.is_ok() {
                return Ok(transport);
            }
            tracing::debug!(%addr, encrypt, "handshake failed; dialling the other way");
        }
        Err(seeder::SeedError::Dial {
            addr,
            source: std::io::ErrorKind::Unsupported.into(),
        }
        .into())
    }

    /// One connection, uTP first.
    async fn open(&self, addr: SocketAddr, dial: seeder::Dial) -> Result<Transport> {
        let mut last = None;
        if let Some(utp) = &self.utp {
            match tokio::time::timeout(UTP_DIAL_TIMEOUT, utp.connect(addr)).await {
                Ok(Ok(stream)) => {
                    self.seeder
                        .dialled_with(stream, addr, dial, Transport::Utp)?;
                    return Ok(Transport::Utp);
                }
                Ok(Err(err)) => last = Some(err),
                Err(_) => last = Some(std::io::ErrorKind::TimedOut.into()),
            }
        }
        if self.tcp {
            self.seeder.connect_with(addr, dial).await?;
            return Ok(Transport::Tcp);
        }
        Err(seeder::SeedError::Dial {
            addr,
            source: last.unwrap_or_else(|| std::io::ErrorKind::Unsupported.into()),
        }
        .into())
    }
}

/// Dials peers learnt from trackers and the DHT, each at most once per
/// [`REDIAL_AFTER`], skipping ones already connected and ourselves; at
/// most [`MAX_DIALS`] at once.
pub(super) async fn dial_loop(
    dialer: Dialer,
    mut found: mpsc::Receiver<PeerFound>,
    own: SocketAddr,
    shutdown: Shutdown,
) {
    let mut last_dial: HashMap<SocketAddr, Instant> = HashMap::new();
    let slots = Arc::new(Semaphore::new(MAX_DIALS));
    loop {
        let peer = tokio::select! {
            () = shutdown.cancelled() => return,
            peer = found.recv() => match peer {
                Some(peer) => peer,
                None => return,
            },
        };
        let is_self = peer.addr.port() == own.port()
            && (peer.addr.ip() == own.ip()
                || crate::publish::is_loopback_or_any(own.ip()) && peer.addr.ip().is_loopback());
        if is_self || dialer.seeder.connected_to(peer.addr) {
            continue;
        }
        let now = Instant::now();
        if last_dial
            .get(&peer.addr)
            .is_some_and(|at| now.duration_since(*at) < REDIAL_AFTER)
        {
            continue;
        }
        if last_dial.len() >= MAX_REMEMBERED_DIALS {
            last_dial.retain(|_, at| now.duration_since(*at) < REDIAL_AFTER);
        }
        last_dial.insert(peer.addr, now);
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let dialer = dialer.clone();
        shutdown.spawn(async move {
            if let Err(err) = dialer.dial(peer.addr, peer.info_hash).await {
                tracing::debug!("{err}");
            }
            drop(permit);
        });
    }
}

/// Keeps `--connect` peers connected.
pub(super) async fn connect_loop(
    dialer: Dialer,
    peers: Vec<SocketAddr>,
    info_hash: [u8; 20],
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval(CONNECT_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        for addr in &peers {
            if !dialer.seeder.connected_to(*addr) {
                if let Err(err) = dialer.dial(*addr, info_hash).await {
                    tracing::debug!("{err}");
                }
            }
        }
    }
}

/// Passes peers found by one source (an announcer, DHT announces to our
/// node, PEX) on to the dialler; full queues drop them.
pub(super) async fn forward<T: Send>(
    mut found: mpsc::Receiver<T>,
    dial: mpsc::Sender<PeerFound>,
    into: fn(T) -> PeerFound,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            peer = found.recv() => match peer {
                Some(peer) => { let _ = dial.try_send(into(peer)); }
                None => return,
            },
        }
    }
}
