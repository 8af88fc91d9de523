//! The tokio adapter for uTP: one task owns reading the UDP socket and
//! routes each datagram to its connection by (peer address, connection id);
//! non-uTP datagrams (the DHT's KRPC) go to [`Config::forward_other`].
//!
//! Each connection is a pure [`Connection`] behind a std mutex (never held
//! across `.await`) together with the reader's and writer's wakers. Whoever
//! touches it (the reader task, a stream's read/write, its timer task) drains
//! [`Connection::poll_transmit`] with `try_send_to` right away. A full socket
//! buffer parks the datagram and the connection's timer task waits for the
//! socket to become writable, so nothing is dropped silently.
//!
//! Timers: one task per connection sleeps until [`Connection::next_timeout`]
//! and is re-armed through a `Notify` when the deadline moves earlier. It
//! also removes the connection from the table once it has ended (or, for a
//! dropped stream, once our FIN is acknowledged).
//!
//! Bounds, for whatever a remote party can fill: connections in total and
//! per IP, the accept backlog (a SYN beyond any of them is answered with
//! RESET, and dead connections free their slot through the idle timeout),
//! and per-connection send and receive buffers (see [`super::conn`]).
//! Everything runs under the [`Shutdown`]; on shutdown every connection is
//! reset (one RESET datagram) and every task ends.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, Notify};

use super::conn::{CloseReason, Connection};
use super::packet::{is_utp, Packet, PacketType};
use crate::shutdown::Shutdown;

/// Accepted connections waiting for [`UtpSocket::accept`].
const ACCEPT_BACKLOG: usize = 64;
/// [`UtpSocket::connect`] gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Datagrams read in one go before the touched connections send their
/// ACKs: one ACK per batch instead of one per packet.
const RECV_BATCH: usize = 64;
/// Largest datagram read (KRPC may be longer than a uTP packet).
const MAX_DATAGRAM: usize = 65_536;
/// Socket buffers we ask for; the OS may grant less.
const SOCKET_BUFFER: usize = 4 << 20;

/// How the socket behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Connections at once, incoming and outgoing.
    pub max_connections: usize,
    /// Connections per remote IP address.
    pub max_per_ip: usize,
    /// Where non-uTP datagrams go (`try_send`: dropped when full or `None`).
    pub forward_other: Option<mpsc::Sender<(Bytes, SocketAddr)>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_connections: 400,
            max_per_ip: 16,
            forward_other: None,
        }
    }
}

type Key = (SocketAddr, u16);

/// One connection and who waits on it.
struct Entry {
    key: Key,
    state: Mutex<ConnState>,
    /// Wakes the connection's timer task.
    notify: Notify,
}

struct ConnState {
    conn: Connection,
    reader: Option<Waker>,
    writer: Option<Waker>,
    connected: Option<oneshot::Sender<io::Result<()>>>,
    /// The stream was dropped: nobody reads any more.
    detached: bool,
    /// A datagram the socket had no room for.
    stalled: Option<Vec<u8>>,
    /// The deadline the timer task sleeps until.
    armed: Option<Instant>,
}

#[derive(Default)]
struct Table {
    conns: HashMap<Key, Arc<Entry>>,
    per_ip: HashMap<IpAddr, usize>,
}

struct Shared {
    socket: UdpSocket,
    std_socket: std::net::UdpSocket,
    local_addr: SocketAddr,
    max_connections: usize,
    max_per_ip: usize,
    table: Mutex<Table>,
    accept_tx: mpsc::Sender<(UtpStream, SocketAddr)>,
    accept_rx: tokio::sync::Mutex<mpsc::Receiver<(UtpStream, SocketAddr)>>,
    shutdown: Shutdown,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the network down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A uTP endpoint on one UDP socket; clones share it.
#[derive(Clone)]
pub struct UtpSocket {
    shared: Arc<Shared>,
}

impl UtpSocket {
    /// Takes a bound UDP socket and reads it; datagrams that are not uTP
    /// (`!is_utp`) go to `config.forward_other` with `try_send` (dropped
    /// when full or `None`): that is how the DHT node shares the port.
    pub fn start(socket: UdpSocket, config: Config, shutdown: &Shutdown) -> io::Result<UtpSocket> {
        let local_addr = socket.local_addr()?;
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
        let std_socket = socket.into_std()?;
        let clone = std_socket.try_clone()?;
        let socket = UdpSocket::from_std(std_socket)?;
        let (accept_tx, accept_rx) = mpsc::channel(ACCEPT_BACKLOG);
        let shared = Arc::new(Shared {
            socket,
            std_socket: clone,
            local_addr,
            max_connections: config.max_connections,
            max_per_ip: config.max_per_ip,
            table: Mutex::new(Table::default()),
            accept_tx,
            accept_rx: tokio::sync::Mutex::new(accept_rx),
            shutdown: shutdown.clone(),
        });
        shutdown.spawn(read_loop(shared.clone(), config.forward_other));
        Ok(UtpSocket { shared })
    }

    /// A std clone of the socket for others (the DHT node) to send from.
    /// It shares the file description, so it is non-blocking too.
    pub fn sender(&self) -> io::Result<std::net::UdpSocket> {
        self.shared.std_socket.try_clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Connections in the table (incoming, outgoing and closing).
    pub fn connections(&self) -> usize {
        lock(&self.shared.table).conns.len()
    }

    /// Opens a connection; completes once the SYN is acknowledged, fails
    /// with `TimedOut` after 10 s and `ConnectionRefused` on a RESET.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<UtpStream> {
        let shared = &self.shared;
        if shared.shutdown.is_triggered() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "uTP socket shut down",
            ));
        }
        let (tx, rx) = oneshot::channel();
        let entry = {
            let mut table = lock(&shared.table);
            if table.conns.len() >= shared.max_connections {
                return Err(io::Error::other("too many uTP connections"));
            }
            let Some(id) = (0..64)
                .map(|_| rand::random::<u16>())
                .find(|id| !table.conns.contains_key(&(addr, *id)))
            else {
                return Err(io::Error::other("no free uTP connection id"));
            };
            let mut conn_state = ConnState::new(Connection::connect(id, Instant::now()));
            conn_state.connected = Some(tx);
            let entry = Arc::new(Entry {
                key: (addr, id),
                state: Mutex::new(conn_state),
                notify: Notify::new(),
            });
            table.insert(entry.clone());
            entry
        };
        shared.shutdown.spawn(drive(shared.clone(), entry.clone()));
        let failed = |entry: &Entry| {
            let mut st = lock(&entry.state);
            st.conn.reset();
            st.detached = true;
            entry.notify.notify_one();
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, rx).await {
            Ok(Ok(Ok(()))) => Ok(UtpStream {
                shared: shared.clone(),
                entry,
                peer: addr,
            }),
            Ok(Ok(Err(err))) => {
                failed(&entry);
                Err(err)
            }
            Ok(Err(_)) => {
                failed(&entry);
                Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "uTP socket shut down",
                ))
            }
            Err(_) => {
                failed(&entry);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("uTP connect to {addr} timed out"),
                ))
            }
        }
    }

    /// The next incoming connection (from a bounded backlog).
    pub async fn accept(&self) -> io::Result<(UtpStream, SocketAddr)> {
        let shared = &self.shared;
        let mut rx = tokio::select! {
            rx = shared.accept_rx.lock() => rx,
            () = shared.shutdown.cancelled() => return Err(shut_down()),
        };
        tokio::select! {
            next = rx.recv() => next.ok_or_else(shut_down),
            () = shared.shutdown.cancelled() => Err(shut_down()),
        }
    }
}

fn shut_down() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "uTP socket shut down")
}

impl ConnState {
    fn new(conn: Connection) -> Self {
        Self {
            conn,
            reader: None,
            writer: None,
            connected: None,
            detached: false,
            stalled: None,
            armed: None,
        }
    }
}

impl Table {
    fn insert(&mut self, entry: Arc<Entry>) {
        *self.per_ip.entry(entry.key.0.ip()).or_default() += 1;
        self.conns.insert(entry.key, entry);
    }

    fn remove(&mut self, entry: &Arc<Entry>) {
        if self
            .conns
            .get(&entry.key)
            .is_some_and(|e| Arc::ptr_eq(e, entry))
        {
            self.conns.remove(&entry.key);
            let ip = entry.key.0.ip();
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
        }
    }
}

/// Sends what the connection has to send, wakes whom it concerns and
/// re-arms the timer task when its deadline moved earlier.
fn flush(shared: &Shared, entry: &Entry, st: &mut ConnState) {
    let addr = entry.key.0;
    let mut blocked = false;
    if let Some(datagram) = st.stalled.take() {
        if let Err(err) = shared.socket.try_send_to(&datagram, addr) {
            if err.kind() == io::ErrorKind::WouldBlock {
                st.stalled = Some(datagram);
                blocked = true;
            }
        }
    }
    if !blocked {
        let now = Instant::now();
        let mut out = Vec::with_capacity(1500);
        while st.conn.poll_transmit(now, &mut out) {
            match shared.socket.try_send_to(&out, addr) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    st.stalled = Some(std::mem::take(&mut out));
                    blocked = true;
                    break;
                }
                // Other errors (unreachable, no route): the datagram is
                // lost like any other; retransmission or timeout follows.
                _ => {}
            }
        }
    }
    let wakeups = st.conn.take_wakeups();
    if wakeups.readable {
        if let Some(waker) = st.reader.take() {
            waker.wake();
        }
    }
    if wakeups.writable {
        if let Some(waker) = st.writer.take() {
            waker.wake();
        }
    }
    if st.connected.is_some() {
        let result = if st.conn.is_connected() {
            Some(Ok(()))
        } else {
            st.conn
                .close_reason()
                .map(|reason| Err(close_error(reason, true)))
        };
        if let Some(result) = result {
            if let Some(tx) = st.connected.take() {
                let _ = tx.send(result);
            }
        }
    }
    let next = st.conn.next_timeout();
    let earlier = match (next, st.armed) {
        (Some(next), Some(armed)) => next < armed,
        (Some(_), None) => true,
        _ => false,
    };
    if blocked || earlier || st.conn.is_closed() {
        entry.notify.notify_one();
    }
}

fn close_error(reason: CloseReason, connecting: bool) -> io::Error {
    match reason {
        CloseReason::Reset if connecting => {
            io::Error::new(io::ErrorKind::ConnectionRefused, "uTP connection refused")
        }
        CloseReason::Reset => {
            io::Error::new(io::ErrorKind::ConnectionReset, "uTP connection reset")
        }
        CloseReason::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "uTP connection timed out")
        }
        CloseReason::Finished => io::Error::new(io::ErrorKind::BrokenPipe, "uTP connection closed"),
    }
}

/// The timer task of one connection; removes it from the table at the end.
async fn drive(shared: Arc<Shared>, entry: Arc<Entry>) {
    loop {
        let (deadline, stalled, done) = {
            let mut st = lock(&entry.state);
            let now = Instant::now();
            if st.conn.next_timeout().is_some_and(|t| t <= now) {
                st.conn.on_timeout(now);
            }
            flush(&shared, &entry, &mut st);
            st.armed = st.conn.next_timeout();
            let done = st.conn.is_closed() || (st.detached && st.conn.fin_acked());
            (st.armed, st.stalled.is_some(), done)
        };
        if done {
            break;
        }
        if stalled {
            tokio::select! {
                _ = shared.socket.writable() => {},
                () = shared.shutdown.cancelled() => break,
            }
            continue;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = entry.notify.notified() => {},
            () = sleep => {},
            () = shared.shutdown.cancelled() => break,
        }
    }
    // Shutdown, or a dropped stream whose FIN was acknowledged while the
    // peer keeps its half open: nobody will read, so say so with a RESET.
    {
        let mut st = lock(&entry.state);
        st.conn.reset();
        flush(&shared, &entry, &mut st);
    }
    lock(&shared.table).remove(&entry);
}

/// Reads the socket until shutdown, routing datagrams in batches.
async fn read_loop(shared: Arc<Shared>, forward: Option<mpsc::Sender<(Bytes, SocketAddr)>>) {
    let mut buf = vec![0; MAX_DATAGRAM];
    let mut touched: Vec<Arc<Entry>> = Vec::new();
    loop {
        let mut next = tokio::select! {
            r = shared.socket.recv_from(&mut buf) => r,
            () = shared.shutdown.cancelled() => break,
        };
        for _ in 0..RECV_BATCH {
            // Per-datagram errors (ICMP reports on some systems): skip.
            if let Ok((n, from)) = next {
                route(&shared, &forward, &buf[..n], from, &mut touched);
            }
            next = shared.socket.try_recv_from(&mut buf);
            if next
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
            {
                break;
            }
        }
        for entry in touched.drain(..) {
            let mut st = lock(&entry.state);
            flush(&shared, &entry, &mut st);
        }
    }
    // Streams still in the backlog hold the socket: drop them.
    let mut rx = shared.accept_rx.lock().await;
    rx.close();
    while rx.try_recv().is_ok() {}
}

fn touch(touched: &mut Vec<Arc<Entry>>, entry: &Arc<Entry>) {
    if !touched.iter().any(|t| Arc::ptr_eq(t, entry)) {
        touched.push(entry.clone());
    }
}

fn route(
    shared: &Arc<Shared>,
    forward: &Option<mpsc::Sender<(Bytes, SocketAddr)>>,
    datagram: &[u8],
    from: SocketAddr,
    touched: &mut Vec<Arc<Entry>>,
) {
    if !is_utp(datagram) {
        if let Some(forward) = forward {
            let _ = forward.try_send((Bytes::copy_from_slice(datagram), from));
        }
        return;
    }
    let Ok(packet) = Packet::parse(datagram) else {
        return;
    };
    let now = Instant::now();
    let id = packet.connection_id;
    let found = {
        let table = lock(&shared.table);
        match packet.ty {
            PacketType::Syn => table.conns.get(&(from, id.wrapping_add(1))).cloned(),
            // A RESET may carry either of the connection's ids.
            PacketType::Reset => [id, id.wrapping_add(1), id.wrapping_sub(1)]
                .iter()
                .filter_map(|key| table.conns.get(&(from, *key)))
                .find(|entry| {
                    let st = lock(&entry.state);
                    st.conn.recv_id() == id || st.conn.send_id() == id
                })
                .cloned(),
            _ => table.conns.get(&(from, id)).cloned(),
        }
    };
    if let Some(entry) = found {
        lock(&entry.state).conn.on_packet(&packet, now);
        touch(touched, &entry);
        return;
    }
    match packet.ty {
        PacketType::Syn => incoming(shared, &packet, from, now, touched),
        // Data for a connection we do not have: tell the sender it is gone.
        PacketType::Data | PacketType::Fin => send_reset(shared, &packet, from),
        PacketType::State | PacketType::Reset => {}
    }
}

fn send_reset(shared: &Shared, packet: &Packet<'_>, to: SocketAddr) {
    let reset = Packet {
        ty: PacketType::Reset,
        connection_id: packet.connection_id,
        timestamp_us: 0,
        timestamp_diff_us: 0,
        wnd_size: 0,
        seq_nr: rand::random(),
        ack_nr: packet.seq_nr,
        sack: None,
        payload: &[],
    };
    let _ = shared.socket.try_send_to(&reset.to_vec(), to);
}

/// A new SYN: accept it if every bound allows, else answer RESET.
fn incoming(
    shared: &Arc<Shared>,
    syn: &Packet<'_>,
    from: SocketAddr,
    now: Instant,
    touched: &mut Vec<Arc<Entry>>,
) {
    if shared.shutdown.is_triggered() {
        return;
    }
    let entry = {
        let mut table = lock(&shared.table);
        let from_ip = table.per_ip.get(&from.ip()).copied().unwrap_or(0);
        let permit = shared.accept_tx.try_reserve();
        let Ok(permit) = permit.map_err(|_| ()).and_then(|p| {
            if table.conns.len() < shared.max_connections && from_ip < shared.max_per_ip {
                Ok(p)
            } else {
                Err(())
            }
        }) else {
            drop(table);
            send_reset(shared, syn, from);
            return;
        };
        let conn = Connection::accept(syn, now, rand::random());
        let entry = Arc::new(Entry {
            key: (from, conn.recv_id()),
            state: Mutex::new(ConnState::new(conn)),
            notify: Notify::new(),
        });
        table.insert(entry.clone());
        permit.send((
            UtpStream {
                shared: shared.clone(),
                entry: entry.clone(),
                peer: from,
            },
            from,
        ));
        entry
    };
    shared.shutdown.spawn(drive(shared.clone(), entry.clone()));
    touch(touched, &entry);
}

/// One uTP connection as a byte stream. `poll_shutdown` sends FIN; dropping
/// it closes (FIN after the queued data) and forgets it once acknowledged.
pub struct UtpStream {
    shared: Arc<Shared>,
    entry: Arc<Entry>,
    peer: SocketAddr,
}

impl std::fmt::Debug for UtpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl UtpStream {
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = lock(&this.entry.state);
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let n = st.conn.read(dst);
        if n > 0 {
            buf.advance(n);
            // Reading may reopen our window: tell the peer.
            flush(&this.shared, &this.entry, &mut st);
            return Poll::Ready(Ok(()));
        }
        if st.conn.peer_closed() {
            return Poll::Ready(Ok(()));
        }
        match st.conn.close_reason() {
            Some(CloseReason::Finished) => Poll::Ready(Ok(())),
            Some(reason) => Poll::Ready(Err(close_error(reason, false))),
            None => {
                st.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut st = lock(&this.entry.state);
        if let Some(reason) = st.conn.close_reason() {
            return Poll::Ready(Err(close_error(reason, false)));
        }
        if st.conn.write_closed() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "uTP stream shut down for writing",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = st.conn.write(buf);
        if n == 0 {
            st.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        flush(&this.shared, &this.entry, &mut st);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are already queued reliably in the connection.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = lock(&this.entry.state);
        st.conn.close();
        flush(&this.shared, &this.entry, &mut st);
        Poll::Ready(Ok(()))
    }
}

impl Drop for UtpStream {
    fn drop(&mut self) {
        let mut st = lock(&self.entry.state);
        if st.conn.is_connected() {
            st.conn.close();
        } else {
            st.conn.reset();
        }
        st.detached = true;
        st.reader = None;
        st.writer = None;
        flush(&self.shared, &self.entry, &mut st);
        self.entry.notify.notify_one();
    }
}

#[cfg(test)]
mod tests;
