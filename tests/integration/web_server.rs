//! A loopback HTTP/1.1 file server for web seed tests (also used by the
//! interop tests through `#[path]`). Binds 127.0.0.1:0; each request's first
//! path segment picks a behaviour:
//!
//! - `/MOUNT/…`: a file under that mount's directory, with Range support;
//! - `/missing/…`: 404;
//! - `/norange/…`: 200 and the first mount's file, repeated without end
//!   (Range ignored); `norange_bytes` counts what got written;
//! - `/redirect/N/…`: N relative redirects, then one absolute to the first mount;
//! - `/loop/…`: redirects to itself forever;
//! - `/slow/…`: like the first mount, but 256 bytes every 100 ms;
//! - `/plain/…`: the first mount's file with Content-Length, Range ignored;
//! - `/short/…`: like the first mount for Range requests; a whole-file GET
//!   announces the full length but sends half, then hangs up;
//! - `/nolength/…`: the first mount's file without Content-Length;
//! - `/generated/SIZE/NAME`: SIZE bytes of [`generated`] made on the fly
//!   (nothing on disk), with Range support.
//!
//! Connection threads end when the client hangs up, after 5 s idle, or on
//! drop; the accept thread is joined on drop.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct WebServer {
    pub addr: SocketAddr,
    pub norange_bytes: Arc<AtomicU64>,
    /// Requests served, by any route.
    pub requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct State {
    mounts: Vec<(String, PathBuf)>,
    addr: SocketAddr,
    norange_bytes: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl WebServer {
    /// Serves each `(name, directory)` under `/name/`.
    pub fn start(mounts: &[(&str, PathBuf)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            mounts: mounts
                .iter()
                .map(|(n, p)| ((*n).to_owned(), p.clone()))
                .collect(),
            addr,
            norange_bytes: Arc::new(AtomicU64::new(0)),
            requests: Arc::new(AtomicU64::new(0)),
            stop: Arc::clone(&stop),
        });
        let (norange_bytes, requests) = (
            Arc::clone(&state.norange_bytes),
            Arc::clone(&state.requests),
        );
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&state);
                std::thread::spawn(move || serve_connection(stream, &state));
            }
        });
        Self {
            addr,
            norange_bytes,
            requests,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

fn serve_connection(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let mut range = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("range") {
                    range = parse_range(value.trim());
                }
            }
        }
        state.requests.fetch_add(1, Ordering::SeqCst);
        let path = target.split('?').next().unwrap_or("/");
        let keep_alive = respond(&mut out, state, &method, path, range);
        if !keep_alive || state.stop.load(Ordering::SeqCst) {
            return;
        }
    }
}

fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()))
}

/// Writes one response; false when the connection must close.
fn respond(
    out: &mut TcpStream,
    state: &State,
    method: &str,
    path: &str,
    range: Option<(u64, Option<u64>)>,
) -> bool {
    let trimmed = path.trim_start_matches('/');
    let (mode, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let head = method == "HEAD";
    match mode {
        "missing" => simple(out, "404 Not Found", &[]),
        "loop" => simple(out, "302 Found", &[("Location", path)]),
        "redirect" => {
            let (count, rest) = rest.split_once('/').unwrap_or((rest, ""));
            let count: u32 = count.parse().unwrap_or(0);
            let location = if count == 0 {
                format!("http://{}/{}/{rest}", state.addr, state.mounts[0].0)
            } else {
                format!("/redirect/{}/{rest}", count - 1)
            };
            simple(out, "302 Found", &[("Location", &location)])
        }
        "norange" => {
            let Some(data) = read_file(&state.mounts[0].1, rest) else {
                return simple(out, "404 Not Found", &[]);
            };
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            // The whole body, and more: a client must hang up by itself.
            while !state.stop.load(Ordering::SeqCst) {
                if out.write_all(&data).is_err() {
                    break;
                }
                state
                    .norange_bytes
                    .fetch_add(data.len() as u64, Ordering::SeqCst);
            }
            false
        }
        "slow" => serve_file(out, state, &state.mounts[0].1, rest, range, head, true),
        "plain" | "nolength" | "short" if range.is_none() || mode != "short" => {
            let Some(data) = read_file(&state.mounts[0].1, rest) else {
                return simple(out, "404 Not Found", &[]);
            };
            let header = match mode {
                "nolength" => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
                _ => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()),
            };
            let body = match mode {
                "short" => &data[..data.len() / 2],
                _ => &data[..],
            };
            let sent = out.write_all(header.as_bytes()).is_ok() && out.write_all(body).is_ok();
            sent && mode == "plain"
        }
        "short" => serve_file(out, state, &state.mounts[0].1, rest, range, head, false),
        "generated" => {
            let size: u64 = rest.split('/').next().unwrap_or("").parse().unwrap_or(0);
            serve_generated(out, state, size, range)
        }
        _ => match state.mounts.iter().find(|(name, _)| name == mode) {
            Some((_, dir)) => serve_file(out, state, dir, rest, range, head, false),
            None => simple(out, "404 Not Found", &[]),
        },
    }
}

fn read_file(dir: &std::path::Path, rest: &str) -> Option<Vec<u8>> {
    let relative = decode(rest);
    if relative.split('/').any(|c| c == "..") {
        return None;
    }
    let path = dir.join(relative);
    path.is_file().then(|| std::fs::read(path).ok()).flatten()
}

fn simple(out: &mut TcpStream, status: &str, headers: &[(&str, &str)]) -> bool {
    let mut text = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes()).is_ok()
}

fn serve_file(
    out: &mut TcpStream,
    state: &State,
    dir: &std::path::Path,
    rest: &str,
    range: Option<(u64, Option<u64>)>,
    head: bool,
    slow: bool,
) -> bool {
    let Some(data) = read_file(dir, rest) else {
        return simple(out, "404 Not Found", &[]);
    };
    let total = data.len() as u64;
    let (status, body, extra) = match range {
        Some((first, last)) => {
            let last = last.unwrap_or(u64::MAX).min(total.saturating_sub(1));
            if first >= total || first > last {
                return simple(
                    out,
                    "416 Range Not Satisfiable",
                    &[("Content-Range", &format!("bytes */{total}"))],
                );
            }
            (
                "206 Partial Content",
                &data[first as usize..=last as usize],
                format!("Content-Range: bytes {first}-{last}/{total}\r\n"),
            )
        }
        None => ("200 OK", &data[..], String::new()),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n{extra}\r\n",
        body.len()
    );
    if out.write_all(header.as_bytes()).is_err() {
        return false;
    }
    if head {
        return true;
    }
    if !slow {
        return out.write_all(body).is_ok();
    }
    for chunk in body.chunks(256) {
        if state.stop.load(Ordering::SeqCst) || out.write_all(chunk).is_err() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Byte `offset` of every `/generated/` body: a 1 MiB + 7 block of
/// pseudo-random bytes repeated, so pieces differ and nothing is stored.
pub fn generated(offset: u64) -> u8 {
    GENERATED_BLOCK.with(|block| block[(offset % block.len() as u64) as usize])
}

const GENERATED_LEN: usize = (1 << 20) + 7;

thread_local! {
    static GENERATED_BLOCK: Vec<u8> = {
        // xorshift; the interop binary shares this file but not `common`.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..GENERATED_LEN)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    };
}

fn serve_generated(
    out: &mut TcpStream,
    state: &State,
    total: u64,
    range: Option<(u64, Option<u64>)>,
) -> bool {
    let (status, first, last, extra) = match range {
        Some((first, last)) => {
            let last = last.unwrap_or(u64::MAX).min(total.saturating_sub(1));
            if first >= total || first > last {
                return simple(
                    out,
                    "416 Range Not Satisfiable",
                    &[("Content-Range", &format!("bytes */{total}"))],
                );
            }
            let extra = format!("Content-Range: bytes {first}-{last}/{total}\r\n");
            ("206 Partial Content", first, last + 1, extra)
        }
        None => ("200 OK", 0, total, String::new()),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n{extra}\r\n",
        last - first
    );
    if out.write_all(header.as_bytes()).is_err() {
        return false;
    }
    GENERATED_BLOCK.with(|block| {
        let mut at = first;
        while at < last {
            if state.stop.load(Ordering::SeqCst) {
                return false;
            }
            let start = (at % block.len() as u64) as usize;
            let n = ((last - at) as usize)
                .min(block.len() - start)
                .min(256 * 1024);
            if out.write_all(&block[start..start + n]).is_err() {
                return false;
            }
            at += n as u64;
        }
        true
    })
}
