//! The HTTP tracker server: hyper 1.x HTTP/1.1 with keep-alive on a bound
//! listener. A thin adapter: routing, client address, then the pure
//! [`http_proto`] codec and the [`swarm`] store. Errors are HTTP 200 with a
//! bencoded `failure reason`, as BitTorrent clients expect. With the Redis
//! store, announces and scrapes are parsed synchronously as before and only
//! then awaited ([`super::store`]); `--allow-get` downloads read their
//! file on a blocking thread; everything else never awaits.
//!
//! [`serve`] returns once the listener is closed; connections get a
//! graceful close (idle ones at once, busy ones after their reply, at most
//! a few seconds) and are tracked by the same [`Shutdown`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use crate::shutdown::Shutdown;

use super::access::{torrent_hashes, DirTorrent};
use super::http_proto::{self, DictPeer, QueryError, ReplyHead};
use super::keys::{self, KeyCheck, KeyId, PathKey};
use super::store::{RemoteReply, Store, DEGRADED_INTERVAL};
use super::swarm::{self, Endpoint};
use super::{status, with_rng, Counter, Remote, Shared, STORE_UNAVAILABLE};

/// Longest a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long busy connections get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(3);

/// Accepts connections until shutdown.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                shutdown.spawn(connection(stream, peer, shared.clone(), shutdown.clone()));
            }
            Err(err) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::debug!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, shutdown: Shutdown) {
    let service = service_fn(move |req: Request<Incoming>| {
        let handled = handle(&shared, peer, &req);
        // Only a Redis request holds the state across an await.
        let remote = match handled {
            Handled::Done(_) => None,
            _ => Some(shared.clone()),
        };
        async move {
            Ok::<_, Infallible>(match (handled, remote) {
                (Handled::Done(response), _) => response,
                (handled, Some(shared)) => finish(&shared, handled).await,
                // Not reached: every non-`Done` request took a clone above.
                (_, None) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""),
            })
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(16 * 1024)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn failure(reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + reason.len());
    http_proto::write_failure(&mut out, reason);
    out
}

/// The client's address: the TCP peer, or the rightmost X-Forwarded-For
/// entry when the peer is a trusted proxy.
fn client_ip(shared: &Shared, peer: SocketAddr, req: &Request<Incoming>) -> IpAddr {
    let ip = swarm::normalize_ip(peer.ip());
    if shared.config.trust_proxy.iter().any(|net| net.contains(ip)) {
        if let Some(forwarded) = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| http_proto::rightmost_forwarded(v.as_bytes()))
        {
            return swarm::normalize_ip(forwarded);
        }
    }
    ip
}

/// A request answered at once, or one the Redis store must answer.
enum Handled {
    Done(Response<Full<Bytes>>),
    Announce(Prepared),
    Scrape(Vec<swarm::Id20>),
    /// Private mode with a Redis set: check the passkey, then go on.
    Keyed(Box<Keyed>),
    /// `--allow-get`: read a `.torrent` of the allowed directory.
    File(DirTorrent, IpAddr),
}

/// An announce or scrape waiting for its passkey to be checked.
struct Keyed {
    key: String,
    announce: bool,
    ip: IpAddr,
    query: Vec<u8>,
}

impl From<Response<Full<Bytes>>> for Handled {
    fn from(response: Response<Full<Bytes>>) -> Self {
        Self::Done(response)
    }
}

fn count_sent(shared: &Shared, response: &Response<Full<Bytes>>) {
    if let Some(len) = hyper::body::Body::size_hint(response.body()).exact() {
        shared.metrics.add(Counter::BytesSent, len);
    }
}

fn handle(shared: &Shared, peer: SocketAddr, req: &Request<Incoming>) -> Handled {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("").as_bytes();
    shared.metrics.add(
        Counter::BytesReceived,
        req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) as u64,
    );
    let handled = route(shared, peer, req, path, query);
    if let Handled::Done(response) = &handled {
        count_sent(shared, response);
    }
    handled
}

/// Answers an announce or scrape through the Redis store.
async fn finish(shared: &Shared, handled: Handled) -> Response<Full<Bytes>> {
    if let Handled::File(torrent, ip) = handled {
        let response = download(shared, torrent, ip).await;
        count_sent(shared, &response);
        return response;
    }
    let Store::Redis(redis) = &shared.store else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "");
    };
    let handled = match handled {
        Handled::Keyed(keyed) => {
            let failed = if keyed.announce {
                Counter::HttpAnnounceFailed
            } else {
                Counter::HttpScrapeFailed
            };
            let next = match shared.ask_key(&keyed.key).await {
                Ok(id) if keyed.announce => {
                    prepare(shared, keyed.ip, &keyed.query, Some(id)).map(Handled::Announce)
                }
                Ok(_) => Ok(scrape(shared, &keyed.query)),
                Err(reason) => Err(failure(reason)),
            };
            match next {
                Ok(handled) => handled,
                Err(body) => {
                    shared.metrics.add(failed, 1);
                    reply(StatusCode::OK, "text/plain", body).into()
                }
            }
        }
        other => other,
    };
    let response = match handled {
        Handled::Done(response) => response,
        // Unwrapped above; a passkey is checked once.
        Handled::Keyed(_) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""),
        // Served above, before the store is needed.
        Handled::File(..) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""),
        Handled::Announce(prepared) => {
            let result = match shared.remote_announce(redis, &prepared.request).await {
                Remote::Answered(answer) => {
                    let interval = with_rng(|rng| shared.interval(rng));
                    shared.tell(&prepared.request);
                    prepared.record(shared);
                    Ok(remote_body(shared, &prepared, &answer, interval))
                }
                Remote::Degraded => memory_announce(shared, &prepared, true),
                Remote::Failed => Err(failure(STORE_UNAVAILABLE)),
            };
            let (counter, body) = match result {
                Ok(body) => (Counter::HttpAnnounceOk, body),
                Err(body) => (Counter::HttpAnnounceFailed, body),
            };
            shared.metrics.add(counter, 1);
            reply(StatusCode::OK, "text/plain", body)
        }
        Handled::Scrape(hashes) => {
            let mut files = Vec::with_capacity(hashes.len());
            let mut failed = false;
            for hash in hashes {
                let counts = match shared.remote_scrape(redis, &hash).await {
                    Remote::Answered(counts) => counts,
                    Remote::Degraded => shared.swarms.scrape(&hash),
                    Remote::Failed => {
                        failed = true;
                        break;
                    }
                };
                files.push((hash, counts));
            }
            if failed {
                shared.metrics.add(Counter::HttpScrapeFailed, 1);
                reply(StatusCode::OK, "text/plain", failure(STORE_UNAVAILABLE))
            } else {
                let mut out = Vec::with_capacity(16 + files.len() * 80);
                http_proto::write_scrape(&mut out, &files);
                shared.metrics.add(Counter::HttpScrapeOk, 1);
                reply(StatusCode::OK, "text/plain", out)
            }
        }
    };
    count_sent(shared, &response);
    response
}

fn route(
    shared: &Shared,
    peer: SocketAddr,
    req: &Request<Incoming>,
    path: &str,
    query: &[u8],
) -> Handled {
    if req.method() != Method::GET {
        shared.metrics.add(Counter::HttpOther, 1);
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n").into();
    }
    let ip = client_ip(shared, peer, req);
    let (is_announce, is_scrape, path_key) = tracker_path(shared, path);
    if is_announce || is_scrape {
        let (ok, failed) = if is_announce {
            (Counter::HttpAnnounceOk, Counter::HttpAnnounceFailed)
        } else {
            (Counter::HttpScrapeOk, Counter::HttpScrapeFailed)
        };
        let checked = path_key.map(|key| shared.check_key(key));
        let result = if query.len() > shared.config.max_query {
            Err(failure("request too long"))
        } else if !shared.rate_ok(ip) {
            Err(failure("too many requests: slow down"))
        } else if let Some(KeyCheck::Refused(reason)) = checked {
            Err(failure(reason))
        } else if let Some(KeyCheck::Ask(key)) = checked {
            // The Redis set answers in `finish`, then the request goes on.
            return Handled::Keyed(Box::new(Keyed {
                key,
                announce: is_announce,
                ip,
                query: query.to_vec(),
            }));
        } else if is_announce {
            let key = match checked {
                Some(KeyCheck::Known(id)) => Some(id),
                _ => None,
            };
            match prepare(shared, ip, query, key) {
                Ok(prepared) if matches!(shared.store, Store::Redis(_)) => {
                    return Handled::Announce(prepared)
                }
                Ok(prepared) => memory_announce(shared, &prepared, false),
                Err(body) => Err(body),
            }
        } else {
            return scrape(shared, query);
        };
        return match result {
            Ok(body) => {
                shared.metrics.add(ok, 1);
                reply(StatusCode::OK, "text/plain", body).into()
            }
            Err(body) => {
                shared.metrics.add(failed, 1);
                reply(StatusCode::OK, "text/plain", body).into()
            }
        };
    }
    shared.metrics.add(Counter::HttpOther, 1);
    if shared.config.allow_get && path.starts_with("/torrents/") {
        if !shared.stats_allowed(ip) {
            return reply(StatusCode::FORBIDDEN, "text/plain", "forbidden\n").into();
        }
        if !shared.rate_ok(ip) {
            return reply(StatusCode::TOO_MANY_REQUESTS, "text/plain", "slow down\n").into();
        }
        // The request only picks among loaded files; its text is never a path.
        return match status::download_target(path, &shared.access()) {
            Some(torrent) => Handled::File(torrent.clone(), ip),
            None => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n").into(),
        };
    }
    let stats_page = matches!(path, "/" | "/stats.json" | "/metrics");
    if !stats_page {
        return reply(StatusCode::NOT_FOUND, "text/plain", "not found\n").into();
    }
    if !shared.stats_allowed(ip) {
        return reply(StatusCode::FORBIDDEN, "text/plain", "forbidden\n").into();
    }
    let totals = shared.swarms.totals();
    let counters: Vec<(Counter, u64)> = Counter::ALL
        .iter()
        .map(|c| (*c, shared.metrics.get(*c)))
        .collect();
    let info = status::PageInfo {
        version: env!("CARGO_PKG_VERSION"),
        uptime: Duration::from_secs(u64::from(shared.now())),
        allow_get: shared.config.allow_get,
        full_scrape: shared
            .scrape_path
            .as_deref()
            .filter(|_| shared.config.full_scrape),
    };
    let response = match path {
        "/" | "/stats.json" => {
            let access = shared.access();
            let swarms = shared.swarms.all_counts();
            let (rows, total) = status::rows(&swarms, &access);
            if path == "/" {
                let page = status::page(&info, &totals, &rows, total);
                reply(StatusCode::OK, "text/html; charset=utf-8", page)
            } else {
                let keys = shared.private().then(|| shared.usage_rows());
                let json = status::json_with_rows(
                    &totals,
                    &counters,
                    &info,
                    &rows,
                    total,
                    keys.as_deref(),
                );
                reply(StatusCode::OK, "application/json", json)
            }
        }
        _ => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            status::prometheus(&totals, &counters),
        ),
    };
    response.into()
}

/// Whether `path` is the announce or the scrape path and, in private mode,
/// the passkey it carries (`/announce/KEY`, `/scrape/KEY`).
fn tracker_path<'a>(shared: &Shared, path: &'a str) -> (bool, bool, Option<PathKey<'a>>) {
    if !shared.private() {
        let is_announce = path == shared.config.announce_path;
        let is_scrape = shared.scrape_path.as_deref() == Some(path);
        return (is_announce, is_scrape, None);
    }
    match keys::key_in_path(path, &shared.config.announce_path) {
        PathKey::NotOurs => {}
        key => return (true, false, Some(key)),
    }
    match shared
        .scrape_path
        .as_deref()
        .map_or(PathKey::NotOurs, |base| keys::key_in_path(path, base))
    {
        PathKey::NotOurs => (false, false, None),
        key => (false, true, Some(key)),
    }
}

/// Most `--allow-get` downloads at once, and per client address.
const DOWNLOADS: usize = 8;
const DOWNLOADS_PER_IP: usize = 2;
/// Largest `.torrent` served (a 16 KiB-piece v1 torrent of 10 TiB is 13 MiB).
const MAX_TORRENT_FILE: u64 = 32 << 20;

/// Serves a directory torrent's file, if it still holds that torrent (it
/// may have changed since the last scan).
async fn download(shared: &Shared, torrent: DirTorrent, ip: IpAddr) -> Response<Full<Bytes>> {
    let Some(slot) = shared.downloads.take(ip) else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "busy, try again\n",
        );
    };
    let path = torrent.path.clone();
    let want: Vec<swarm::Id20> = torrent.hashes().collect();
    let read = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        use std::io::Read;
        // Held by the read itself: a client that goes away does not free
        // the slot before the read ends.
        let _slot = slot;
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .ok()?
            .take(MAX_TORRENT_FILE + 1)
            .read_to_end(&mut bytes)
            .ok()?;
        let parsed = crate::metainfo::Torrent::parse(&bytes).ok()?;
        (bytes.len() as u64 <= MAX_TORRENT_FILE && torrent_hashes(&parsed) == want).then_some(bytes)
    })
    .await;
    let Ok(Some(bytes)) = read else {
        tracing::debug!(path = %torrent.path.display(), "allowed-dir torrent changed or unreadable");
        return reply(StatusCode::NOT_FOUND, "text/plain", "not found\n");
    };
    let mut response = reply(StatusCode::OK, "application/x-bittorrent", bytes);
    let file_name = torrent
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&file_name)) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `--allow-get` downloads in progress by client address: at most
/// 8 in all and 2 per address (`DOWNLOADS`, `DOWNLOADS_PER_IP`).
#[derive(Debug, Default)]
pub struct DownloadSlots(Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>);

/// A taken download slot, given back when dropped.
struct Slot(DownloadSlots, IpAddr);

impl DownloadSlots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self, ip: IpAddr) -> Option<Slot> {
        let mut slots = self.lock();
        let busy: usize = slots.values().sum();
        let mine = slots.get(&ip).copied().unwrap_or(0);
        if busy >= DOWNLOADS || mine >= DOWNLOADS_PER_IP {
            return None;
        }
        slots.insert(ip, mine + 1);
        Some(Slot(Self(self.0.clone()), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut slots = self.0.lock();
        if let Some(mine) = slots.get_mut(&self.1) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                slots.remove(&self.1);
            }
        }
    }
}

/// `attachment` with the file name: ASCII for old clients, UTF-8 (RFC 6266).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let utf8 = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}")
}

/// A parsed, allowed announce, ready for a store.
struct Prepared {
    q: http_proto::AnnounceQuery,
    ip: IpAddr,
    request: swarm::Announce,
    /// The passkey's id in private mode, to count the announce under.
    key: Option<KeyId>,
}

impl Prepared {
    /// Counts this (accepted) announce under its passkey, if any.
    fn record(&self, shared: &Shared) {
        if let Some(id) = self.key {
            let report = keys::Report {
                info_hash: self.q.info_hash,
                peer_id: self.q.peer_id,
                uploaded: self.q.uploaded,
                downloaded: self.q.downloaded,
                event: self.q.event,
            };
            shared.record_usage(id, &report);
        }
    }
}

fn prepare(
    shared: &Shared,
    ip: IpAddr,
    query: &[u8],
    key: Option<KeyId>,
) -> Result<Prepared, Vec<u8>> {
    // Off by default; `RUST_LOG=mktorrent_rs::tracker=trace` shows each request.
    tracing::trace!(%ip, query = %String::from_utf8_lossy(query), "http announce");
    let q = http_proto::parse_announce(query).map_err(|e: QueryError| failure(&e.to_string()))?;
    if !shared.allows(&q.info_hash) {
        return Err(failure("torrent not allowed on this tracker"));
    }
    let config = &shared.config;
    let numwant = q
        .numwant
        .unwrap_or(config.default_numwant)
        .min(config.max_numwant);
    let request = swarm::Announce {
        info_hash: q.info_hash,
        peer_id: q.peer_id,
        endpoint: Endpoint::new(ip, q.port),
        event: q.event,
        // Unknown `left` is treated as still downloading.
        left: q.left.unwrap_or(u64::MAX),
        numwant,
    };
    Ok(Prepared {
        q,
        ip,
        request,
        key,
    })
}

/// The reply to an announce Redis answered. Redis keeps no peer ids, so a
/// non-compact reply lists peers without them (BEP 3 clients accept that).
fn remote_body(shared: &Shared, p: &Prepared, answer: &RemoteReply, interval: u32) -> Vec<u8> {
    let head = ReplyHead {
        interval,
        min_interval: shared.config.min_interval,
        counts: answer.counts,
        external_ip: p.ip,
    };
    let mut out = Vec::with_capacity(160 + answer.peers.len());
    let v4 = matches!(p.request.endpoint, Endpoint::V4(_));
    if p.q.compact {
        if v4 {
            http_proto::write_compact(&mut out, &head, &answer.peers, &[]);
        } else {
            http_proto::write_compact(&mut out, &head, &[], &answer.peers);
        }
    } else {
        let entry = if v4 { 6 } else { 18 };
        let dict: Vec<DictPeer> = answer
            .peers
            .chunks_exact(entry)
            .map(|b| {
                let ep = endpoint_of(b);
                DictPeer {
                    ip: ep.ip(),
                    port: ep.port(),
                    peer_id: None,
                }
            })
            .collect();
        http_proto::write_dict(&mut out, &head, &dict);
    }
    out
}

/// The endpoint of a 6- or 18-byte compact peer.
fn endpoint_of(addr: &[u8]) -> Endpoint {
    if addr.len() == 6 {
        let mut b = [0; 6];
        b.copy_from_slice(addr);
        Endpoint::V4(b)
    } else {
        let mut b = [0; 18];
        b.copy_from_slice(&addr[..18.min(addr.len())]);
        Endpoint::V6(b)
    }
}

/// Answers from this process's swarms; `degraded`: Redis is down, so the
/// client is asked back after [`DEGRADED_INTERVAL`].
fn memory_announce(shared: &Shared, p: &Prepared, degraded: bool) -> Result<Vec<u8>, Vec<u8>> {
    let (q, ip, request) = (&p.q, p.ip, &p.request);
    let config = &shared.config;
    let (endpoint, numwant) = (request.endpoint, request.numwant);
    let entry = if matches!(endpoint, Endpoint::V4(_)) {
        6
    } else {
        18
    };
    let mut compact = Vec::new();
    let mut dict = Vec::new();
    let (counts, interval) = with_rng(|rng| {
        let counts = if q.compact {
            compact.reserve(numwant * entry);
            shared
                .swarms
                .announce(request, shared.now(), rng, &mut |p| {
                    compact.extend_from_slice(p.addr)
                })
        } else {
            shared
                .swarms
                .announce(request, shared.now(), rng, &mut |p| {
                    let ep = endpoint_of(p.addr);
                    dict.push(DictPeer {
                        ip: ep.ip(),
                        port: ep.port(),
                        // Not stored (as with Redis): BEP 3 clients do without.
                        peer_id: None,
                    });
                })
        };
        (counts, shared.interval(rng))
    });
    let counts = counts.map_err(|refused| failure(&refused.to_string()))?;
    shared.tell(request);
    p.record(shared);
    let (interval, min_interval) = if degraded {
        (DEGRADED_INTERVAL, DEGRADED_INTERVAL)
    } else {
        (interval, config.min_interval)
    };
    let head = ReplyHead {
        interval,
        min_interval,
        counts,
        external_ip: ip,
    };
    let mut out = Vec::with_capacity(160 + compact.len());
    if q.compact {
        match endpoint {
            Endpoint::V4(_) => http_proto::write_compact(&mut out, &head, &compact, &[]),
            Endpoint::V6(_) => http_proto::write_compact(&mut out, &head, &[], &compact),
        }
    } else {
        http_proto::write_dict(&mut out, &head, &dict);
    }
    Ok(out)
}

fn scrape(shared: &Shared, query: &[u8]) -> Handled {
    let mut hashes = Vec::new();
    let parsed = if query.len() > shared.config.max_query {
        Err(failure("request too long"))
    } else {
        http_proto::parse_scrape(query, shared.config.max_scrape, &mut hashes)
            .map_err(|e| failure(&e.to_string()))
    };
    if let Err(body) = parsed {
        shared.metrics.add(Counter::HttpScrapeFailed, 1);
        return reply(StatusCode::OK, "text/plain", body).into();
    }
    if hashes.is_empty() {
        if !shared.config.full_scrape {
            shared.metrics.add(Counter::HttpScrapeFailed, 1);
            return reply(
                StatusCode::OK,
                "text/plain",
                failure("full scrape is disabled; pass info_hash"),
            )
            .into();
        }
        shared.metrics.add(Counter::HttpScrapeOk, 1);
        let mut response = reply(StatusCode::OK, "text/plain", shared.full_scrape());
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return response.into();
    }
    if matches!(shared.store, Store::Redis(_)) {
        hashes.retain(|hash| shared.allows(hash));
        return Handled::Scrape(hashes);
    }
    let files: Vec<_> = hashes
        .iter()
        .filter(|hash| shared.allows(hash))
        .map(|hash| (*hash, shared.swarms.scrape(hash)))
        .collect();
    let mut out = Vec::with_capacity(16 + files.len() * 80);
    http_proto::write_scrape(&mut out, &files);
    shared.metrics.add(Counter::HttpScrapeOk, 1);
    reply(StatusCode::OK, "text/plain", out).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_slots_have_a_share_per_address_and_a_total() {
        let slots = DownloadSlots::default();
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let a1 = slots.take(ip(1)).unwrap();
        let _a2 = slots.take(ip(1)).unwrap();
        assert!(slots.take(ip(1)).is_none(), "one address's share is full");
        let others: Vec<_> = (2..8).map(|n| slots.take(ip(n)).unwrap()).collect();
        assert!(slots.take(ip(9)).is_none(), "all slots are taken");
        drop(a1);
        assert!(slots.take(ip(9)).is_some(), "a dropped slot is free again");
        drop(others);
        assert_eq!(slots.lock().len(), 1, "idle addresses are forgotten");
    }
}
