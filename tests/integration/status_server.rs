//! The publish status server over real HTTP on loopback: started
//! in-process on port 0 with a hand-built two-torrent snapshot, read with
//! plain HTTP/1.0 requests on a TcpStream (no client library to hide what
//! goes over the wire), following its watch channel, bounded, and closed
//! by shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mktorrent_rs::error::Error;
use mktorrent_rs::publish::snapshot::{Snapshot, TorrentState};
use mktorrent_rs::publish::status_server::{StatusServer, PER_IP};
use mktorrent_rs::publish::StopReason;
use mktorrent_rs::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::status_snapshot::{torrent, two_torrents, A, A_NAME, B, B_NAME, B_V2};

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.0 request (the server closes after replying).
async fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|err| panic!("connect to {addr}: {err}"));
    let head = format!("{method} {target} HTTP/1.0\r\nHost: status\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no reply within 10 s"))
        .unwrap();
    let raw = String::from_utf8(raw).expect("a UTF-8 reply");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {target}: no end of headers in {raw:?}"));
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    Reply {
        status,
        headers: headers.to_owned(),
        body: body.to_owned(),
    }
}

async fn start(snapshot: Snapshot) -> (StatusServer, watch::Sender<Arc<Snapshot>>, Shutdown) {
    let shutdown = Shutdown::new();
    let (tx, rx) = watch::channel(Arc::new(snapshot));
    let server = StatusServer::start("127.0.0.1:0".parse().unwrap(), rx, &shutdown)
        .await
        .expect("status server starts");
    (server, tx, shutdown)
}

#[tokio::test]
async fn serves_the_page_json_and_metrics_for_both_torrents() {
    let (server, _tx, shutdown) = start(two_torrents()).await;
    let addr = server.local_addr();

    let page = request(addr, "GET", "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("<meta http-equiv=\"refresh\""));
    for marker in [
        format!("<tr class=\"torrent\" data-info-hash=\"{A}\" data-state=\"seeding\">"),
        format!("<tr class=\"torrent\" data-info-hash=\"{B}\" data-state=\"stopped\">"),
        format!("<td class=\"name\">{A_NAME}</td>"),
        "<td class=\"name\">beta &amp; &lt;gamma&gt; &quot;q&quot; \\ b</td>".to_owned(),
        format!("<code class=\"v2\">{B_V2}</code>"),
        "stopped: download count reached".to_owned(),
        "connection refused".to_owned(),
    ] {
        assert!(
            page.body.contains(&marker),
            "{marker} missing:\n{}",
            page.body
        );
    }

    let json = request(addr, "GET", "/status.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let value: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    let torrents = value["torrents"].as_array().expect("a torrents array");
    assert_eq!(torrents.len(), 2);
    assert_eq!(torrents[0]["info_hash"], A);
    assert_eq!(torrents[1]["name"], B_NAME);
    assert_eq!(torrents[1]["info_hash_v2"], B_V2);
    assert_eq!(torrents[1]["state"], "stopped");
    assert_eq!(torrents[1]["reason"], "downloads");

    let metrics = request(addr, "GET", "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    for line in [
        format!("mktorrent_publish_torrent_up{{info_hash=\"{A}\",name=\"{A_NAME}\"}} 1"),
        format!(
            "mktorrent_publish_torrent_up{{info_hash=\"{B}\",name=\"beta & <gamma> \\\"q\\\" \\\\ b\"}} 0"
        ),
        "mktorrent_publish_seeder_refused_per_ip_total 3".to_owned(),
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "{line} missing:\n{}",
            metrics.body
        );
    }

    let missing = request(addr, "GET", "/nope").await;
    assert_eq!(missing.status, 404);
    let post = request(addr, "POST", "/").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // HEAD: GET's headers, no body.
    let head = request(addr, "HEAD", "/metrics").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    assert_eq!(
        head.header("content-length"),
        Some(metrics.body.len().to_string().as_str())
    );
    assert_eq!(head.body, "");

    shutdown.finished().await;
}

#[tokio::test]
async fn follows_the_latest_snapshot() {
    let (server, tx, shutdown) = start(two_torrents()).await;
    let addr = server.local_addr();
    assert!(!request(addr, "GET", "/").await.body.contains("delta.iso"));

    let mut next = two_torrents();
    next.torrents[0].state = TorrentState::Stopped(StopReason::Signal);
    next.torrents.push(torrent(
        "delta.iso",
        "dddddddddddddddddddddddddddddddddddddddd",
        TorrentState::Seeding,
    ));
    tx.send(Arc::new(next)).expect("the server still listens");

    let page = request(addr, "GET", "/").await.body;
    assert!(page.contains("<td class=\"name\">delta.iso</td>"), "{page}");
    assert!(page.contains(&format!(
        "<tr class=\"torrent\" data-info-hash=\"{A}\" data-state=\"stopped\">"
    )));
    let metrics = request(addr, "GET", "/metrics").await.body;
    assert!(metrics.contains("mktorrent_publish_torrents{state=\"seeding\"} 1"));
    assert!(metrics.contains("mktorrent_publish_torrents{state=\"stopped\"} 2"));
    shutdown.finished().await;
}

#[tokio::test]
async fn shutdown_ends_the_server_and_closes_the_port() {
    let (server, _tx, shutdown) = start(two_torrents()).await;
    let addr = server.local_addr();
    assert_eq!(request(addr, "GET", "/").await.status, 200);
    // An idle connection, and one mid-headers, must not hold shutdown up.
    let _idle = TcpStream::connect(addr).await.unwrap();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), shutdown.finished())
        .await
        .expect("every status task ends within 10 s of shutdown");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "{addr} still accepts after shutdown"
    );
}

#[tokio::test]
async fn a_newcomer_is_served_when_one_address_holds_its_share() {
    let (server, _tx, shutdown) = start(two_torrents()).await;
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..PER_IP + 4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Beyond its share, each newcomer from 127.0.0.1 replaced that
    // address's oldest connection: the first ones are closed...
    let mut buf = [0; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), held[0].read(&mut buf))
        .await
        .expect("the oldest connection is closed, not left waiting");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // ...and a request still gets its answer.
    assert_eq!(request(addr, "GET", "/status.json").await.status, 200);
    shutdown.finished().await;
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let (_tx, rx) = watch::channel(Arc::new(Snapshot::default()));
    let err = StatusServer::start(addr, rx, &shutdown)
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, Error::StatusListen { addr: a, .. } if a == addr));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    shutdown.finished().await;
}
