//! Serves the publish session's status over HTTP/1: `/` (the page),
//! `/status.json` and `/metrics`, each rendered by [`super::status`] from
//! the latest [`Snapshot`] on a watch channel. A thin hyper adapter: it
//! owns the listener and the connections, never the session's state.
//!
//! The port is bounded so it cannot be used to exhaust the process:
//! request headers must arrive within [`HEADER_TIMEOUT`] (idle keep-alive
//! connections too), headers are capped in size, and at most
//! [`MAX_CONNECTIONS`] are open, [`PER_IP`] from one address. A newcomer is
//! never refused: it closes the oldest connection of its own address once
//! that holds its share, else (all full) the oldest of the address holding
//! the most. Every task is spawned through the [`Shutdown`] it is given.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::shutdown::Shutdown;

use super::snapshot::Snapshot;
use super::status;

/// Longest a client may take to send a request's headers, and longest a
/// keep-alive connection may sit idle.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once, all clients.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections open at once from one address.
pub const PER_IP: usize = 16;
/// How often the HTML page reloads itself.
pub const REFRESH: Duration = Duration::from_secs(5);
/// How long busy connections get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(3);
/// Request line and headers; a status request needs a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

/// A running status server; it stops when its [`Shutdown`] fires.
#[derive(Debug)]
pub struct StatusServer {
    local_addr: SocketAddr,
}

impl StatusServer {
    /// Binds `addr` and serves `snapshots`' latest value until `shutdown`
    /// fires; [`Shutdown::finished`] then waits for every connection.
    /// Must be called inside a tokio runtime.
    pub async fn start(
        addr: SocketAddr,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        shutdown: &Shutdown,
    ) -> Result<Self, Error> {
        let err = |source| Error::StatusListen { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(err)?;
        let local_addr = listener.local_addr().map_err(err)?;
        shutdown.spawn(serve(listener, snapshots, shutdown.clone()));
        Ok(Self { local_addr })
    }

    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// One open connection, for choosing whom a newcomer replaces.
struct Open {
    id: u64,
    ip: IpAddr,
    evict: CancellationToken,
}

type Table = Arc<Mutex<Vec<Open>>>;

async fn serve(
    listener: TcpListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    shutdown: Shutdown,
) {
    let table: Table = Arc::default();
    let mut next_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::debug!(%err, "status: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let evict = CancellationToken::new();
        next_id += 1;
        {
            let mut open = table.lock().unwrap_or_else(PoisonError::into_inner);
            let ips: Vec<IpAddr> = open.iter().map(|c| c.ip).collect();
            if let Some(i) = victim(&ips, ip, PER_IP, MAX_CONNECTIONS) {
                tracing::debug!(%peer, evicted = %open[i].ip, "status: connection cap reached");
                open.remove(i).evict.cancel();
            }
            open.push(Open {
                id: next_id,
                ip,
                evict: evict.clone(),
            });
        }
        let done = Remove {
            table: table.clone(),
            id: next_id,
        };
        shutdown.spawn(connection(
            stream,
            snapshots.clone(),
            evict,
            shutdown.clone(),
            done,
        ));
    }
}

/// Takes a connection out of the table when its task ends, however.
struct Remove {
    table: Table,
    id: u64,
}

impl Drop for Remove {
    fn drop(&mut self) {
        let mut open = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|c| c.id != self.id);
    }
}

async fn connection(
    stream: TcpStream,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    evict: CancellationToken,
    shutdown: Shutdown,
    _done: Remove,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        // Clone the Arc out so the watch lock is not held while rendering.
        let snapshot = Arc::clone(&snapshots.borrow());
        let response = respond(req.method(), req.uri().path(), &snapshot);
        async move { Ok::<_, Infallible>(response) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Replaced by a newcomer: dropping the connection closes it at once.
        () = evict.cancelled() => {}
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

/// The reply to one request. `HEAD` gets `GET`'s headers; hyper leaves
/// the body out.
fn respond(method: &Method, path: &str, snapshot: &Snapshot) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET or HEAD only\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/" => {
            let mut response = reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                status::html(snapshot, REFRESH),
            );
            // Names on the page come from outside; even if one slipped past
            // escaping, no script or remote resource would run.
            response.headers_mut().insert(
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            response
        }
        "/status.json" => reply(StatusCode::OK, "application/json", status::json(snapshot)),
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            status::metrics(snapshot),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: try /, /status.json or /metrics\n",
        ),
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Which open connection (an index into `open`, oldest first) to close so
/// a newcomer from `ip` fits: its own oldest once `ip` holds `per_ip`, else
/// when `total` are open the oldest of the address holding the most (ties:
/// the address with the oldest connection). `None`: there is room.
fn victim(open: &[IpAddr], ip: IpAddr, per_ip: usize, total: usize) -> Option<usize> {
    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for addr in open {
        *counts.entry(*addr).or_default() += 1;
    }
    if counts.get(&ip).copied().unwrap_or(0) >= per_ip {
        return open.iter().position(|addr| *addr == ip);
    }
    if open.len() < total {
        return None;
    }
    let most = counts.values().copied().max()?;
    open.iter().position(|addr| counts[addr] == most)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn room_means_no_victim() {
        assert_eq!(victim(&[], ip(1), 2, 4), None);
        assert_eq!(victim(&[ip(1), ip(2)], ip(1), 2, 4), None);
    }

    #[test]
    fn a_full_share_replaces_its_own_oldest() {
        let open = [ip(2), ip(1), ip(3), ip(1)];
        assert_eq!(victim(&open, ip(1), 2, 10), Some(1));
    }

    #[test]
    fn a_full_server_replaces_the_most_represented_address() {
        let open = [ip(1), ip(2), ip(3), ip(2)];
        assert_eq!(victim(&open, ip(4), 3, 4), Some(1));
        // Ties: the address whose connection is oldest.
        let open = [ip(3), ip(1), ip(1), ip(3)];
        assert_eq!(victim(&open, ip(4), 3, 4), Some(0));
    }

    #[test]
    fn routes_and_methods() {
        let snapshot = Snapshot::default();
        let get = |path| respond(&Method::GET, path, &snapshot);
        let content_type = |r: &Response<Full<Bytes>>| r.headers()[CONTENT_TYPE].clone();
        assert_eq!(content_type(&get("/")), "text/html; charset=utf-8");
        assert_eq!(content_type(&get("/status.json")), "application/json");
        assert_eq!(content_type(&get("/metrics")), "text/plain; version=0.0.4");
        assert_eq!(get("/metrics/").status(), StatusCode::NOT_FOUND);
        assert_eq!(
            respond(&Method::HEAD, "/", &snapshot).status(),
            StatusCode::OK
        );
        let post = respond(&Method::POST, "/", &snapshot);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
    }
}
