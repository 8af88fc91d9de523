//! The tracker client against our own tracker on loopback (HTTP and UDP),
//! and against trackers that never answer, answer 500 or refuse: started
//! is accepted, peers find each other, stopped is sent on shutdown, and a
//! failing tier falls back to the next.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mktorrent_rs::announce::udp::{encode_reply, Reply};
use mktorrent_rs::announce::{AnnounceConfig, Announcer, PeerFound, TrackerState, TrackerStatus};
use mktorrent_rs::shutdown::Shutdown;
use mktorrent_rs::tracker::udp_proto::{self, Request};
use mktorrent_rs::tracker::{Tracker, TrackerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

const H1: [u8; 20] = [0x11; 20];
const H2: [u8; 20] = [0x22; 20];

struct Server {
    tracker: Tracker,
    shutdown: Shutdown,
}

impl Server {
    /// Our tracker with a 1 s interval, so re-announces happen within a test.
    async fn start() -> Self {
        let shutdown = Shutdown::new();
        let config = TrackerConfig {
            http: vec!["127.0.0.1:0".parse().unwrap()],
            udp: vec!["127.0.0.1:0".parse().unwrap()],
            interval: 1,
            interval_jitter: 0,
            min_interval: 0,
            ..TrackerConfig::default()
        };
        let tracker = Tracker::start(config, &shutdown)
            .await
            .expect("tracker starts");
        Self { tracker, shutdown }
    }

    fn http(&self) -> String {
        format!("http://{}/announce", self.tracker.http_addrs()[0])
    }

    fn udp(&self) -> String {
        format!("udp://{}/announce", self.tracker.udp_addrs()[0])
    }

    /// (seeders, leechers) the tracker holds for `hash`.
    fn counts(&self, hash: &[u8; 20]) -> (u32, u32) {
        let c = self.tracker.shared().swarms.scrape(hash);
        (c.seeders, c.leechers)
    }
}

fn config(tiers: &[&[&str]], hashes: &[[u8; 20]], peer: u8, port: u16) -> AnnounceConfig {
    AnnounceConfig {
        tiers: tiers
            .iter()
            .map(|t| t.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
        info_hashes: hashes.to_vec(),
        peer_id: [peer; 20],
        port,
        key: u32::from(peer),
        timeout: Duration::from_millis(1000),
        udp_base_timeout: Duration::from_millis(200),
        min_interval: Duration::from_secs(1),
        retry_base: Duration::from_millis(300),
        ..AnnounceConfig::default()
    }
}

fn start(config: AnnounceConfig) -> (Announcer, mpsc::Receiver<PeerFound>, Shutdown) {
    let shutdown = Shutdown::new();
    let (announcer, peers) = Announcer::start(config, Arc::new(|| 0), &shutdown);
    (announcer, peers, shutdown)
}

/// Polls the status until `done` holds (5 s at most).
async fn wait_status(announcer: &Announcer, what: &str, done: impl Fn(&[TrackerStatus]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = announcer.status();
        if done(&status) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {status:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn all_working(status: &[TrackerStatus]) -> bool {
    status.iter().all(|s| s.state == TrackerState::Working)
}

async fn wait_peer(peers: &mut mpsc::Receiver<PeerFound>, want: PeerFound) {
    let found = async {
        while let Some(peer) = peers.recv().await {
            if peer == want {
                return;
            }
        }
        panic!("peer channel closed before {want:?}");
    };
    tokio::time::timeout(Duration::from_secs(5), found)
        .await
        .unwrap_or_else(|_| panic!("{want:?} never found"));
}

#[tokio::test]
async fn http_and_udp_announces_are_accepted() {
    let server = Server::start().await;
    for (url, hash) in [(server.http(), H1), (server.udp(), H2)] {
        let (announcer, _peers, shutdown) = start(config(&[&[&url]], &[hash], 1, 7001));
        wait_status(&announcer, "started", all_working).await;
        assert_eq!(server.counts(&hash), (1, 0), "{url}");
        let status = &announcer.status()[0];
        assert_eq!(status.url, url);
        assert_eq!(status.announces, 1);
        assert_eq!(status.seeders, Some(1));
        assert!(status.next_announce_secs.is_some());
        // Our tracker's HTTP reply carries `downloaded`; over UDP a scrape brings it.
        wait_status(&announcer, "downloaded", |s| s[0].downloaded == Some(0)).await;
        shutdown.finished().await;
    }
    server.shutdown.finished().await;
}

#[tokio::test]
async fn two_announcers_learn_each_other() {
    let server = Server::start().await;
    let (a, mut a_peers, a_shutdown) = start(config(&[&[&server.http()]], &[H1], 1, 7001));
    wait_status(&a, "a started", all_working).await;
    let (b, mut b_peers, b_shutdown) = start(config(&[&[&server.udp()]], &[H1], 2, 7002));
    let a_addr: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    let b_addr: SocketAddr = "127.0.0.1:7002".parse().unwrap();
    wait_peer(
        &mut b_peers,
        PeerFound {
            info_hash: H1,
            addr: a_addr,
        },
    )
    .await;
    // `a` hears of `b` at its next announce, one (clamped) second later.
    wait_peer(
        &mut a_peers,
        PeerFound {
            info_hash: H1,
            addr: b_addr,
        },
    )
    .await;
    assert!(b.status()[0].peers_received >= 1);
    // Regular announces keep working over both transports.
    wait_status(&b, "a regular udp announce", |s| s[0].announces >= 2).await;
    wait_status(&a, "a regular http announce", |s| s[0].announces >= 2).await;
    assert_eq!((a.status()[0].failures, b.status()[0].failures), (0, 0));
    a_shutdown.finished().await;
    b_shutdown.finished().await;
    server.shutdown.finished().await;
}

#[tokio::test]
async fn stopped_is_sent_on_shutdown() {
    let server = Server::start().await;
    let (http, _p1, http_shutdown) = start(config(&[&[&server.http()]], &[H1], 1, 7001));
    let (udp, _p2, udp_shutdown) = start(config(&[&[&server.udp()]], &[H1], 2, 7002));
    wait_status(&http, "http started", all_working).await;
    wait_status(&udp, "udp started", all_working).await;
    assert_eq!(server.counts(&H1), (2, 0));
    let mut events = http.events();
    http_shutdown.finished().await;
    let stopped = loop {
        let event = events.recv().await.expect("a stopped event");
        if event.event == "stopped" {
            break event;
        }
    };
    assert_eq!(
        (stopped.event, stopped.ok),
        ("stopped", true),
        "{stopped:?}"
    );
    assert_eq!(http.status()[0].state, TrackerState::Stopped);
    assert_eq!(server.counts(&H1), (1, 0));
    udp_shutdown.finished().await;
    assert_eq!(udp.status()[0].state, TrackerState::Stopped);
    assert_eq!(server.counts(&H1), (0, 0));
    server.shutdown.finished().await;
}

/// A one-shot-per-connection HTTP server answering every request with `status` and `body`.
async fn fake_http(status: &'static str, body: &'static [u8], shutdown: &Shutdown) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        loop {
            let (mut stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted { Ok(s) => s, Err(_) => return },
                () = stop.cancelled() => return,
            };
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body).await;
            let _ = stream.shutdown().await;
        }
    });
    format!("http://{addr}/announce")
}

/// A UDP tracker that accepts connects and refuses every announce (BEP 15 action 3).
async fn fake_udp_error(message: &'static str, shutdown: &Shutdown) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        let mut buf = [0; 2048];
        loop {
            let (len, from) = tokio::select! {
                got = socket.recv_from(&mut buf) => match got { Ok(g) => g, Err(_) => return },
                () = stop.cancelled() => return,
            };
            let reply = match udp_proto::parse(&buf[..len]) {
                Ok(Request::Connect { transaction_id }) => {
                    encode_reply(&Reply::Connect { connection_id: 42 }, transaction_id, false)
                }
                Ok(Request::Announce(a)) => {
                    encode_reply(&Reply::Error(message.into()), a.transaction_id, false)
                }
                _ => continue,
            };
            let _ = socket.send_to(&reply, from).await;
        }
    });
    format!("udp://{addr}/announce")
}

#[tokio::test]
async fn failing_trackers_are_reported_and_the_next_tier_is_used() {
    let server = Server::start().await;
    let fakes = Shutdown::new();
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dead_udp = format!("udp://{}", silent.local_addr().unwrap());
    let error_500 = fake_http("500 Internal Server Error", b"oops", &fakes).await;
    let refusing = fake_http("200 OK", b"d14:failure reason12:unknown hashe", &fakes).await;
    let refusing_udp = fake_udp_error("torrent not registered", &fakes).await;
    let real = server.http();
    let (announcer, _peers, shutdown) = start(config(
        &[
            &[&dead_udp],
            &[&error_500],
            &[&refusing],
            &[&refusing_udp],
            &[&real],
        ],
        &[H1],
        1,
        7001,
    ));
    let started = std::time::Instant::now();
    wait_status(&announcer, "the last tier", |s| {
        s[4].state == TrackerState::Working
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let status = announcer.status();
    let expected = [
        format!("{dead_udp}: no reply after 3 tries"),
        format!("{error_500}: HTTP 500 Internal Server Error"),
        format!("{refusing}: tracker says: unknown hash"),
        format!("{refusing_udp}: tracker says: torrent not registered"),
    ];
    for (s, error) in status.iter().zip(&expected) {
        assert_eq!(s.state, TrackerState::Failed, "{s:?}");
        assert_eq!(s.failures, 1);
        assert!(
            s.last_error
                .as_deref()
                .unwrap_or("")
                .starts_with(error.as_str()),
            "{s:?}"
        );
        assert!(s.next_announce_secs.is_some(), "a retry is planned: {s:?}");
    }
    assert_eq!(server.counts(&H1), (1, 0));
    // Failed trackers are retried with backoff, not hammered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(announcer.status()[1].failures <= 3);
    shutdown.finished().await;
    // Only the tracker that accepted `started` hears `stopped`.
    assert_eq!(server.counts(&H1), (0, 0));
    assert_eq!(announcer.status()[1].state, TrackerState::Failed);
    fakes.finished().await;
    server.shutdown.finished().await;
}

#[tokio::test]
async fn hybrid_torrents_announce_both_hashes() {
    let server = Server::start().await;
    let (announcer, _peers, shutdown) = start(config(
        &[&[&server.http(), &server.udp()]],
        &[H1, H2],
        1,
        7001,
    ));
    wait_status(&announcer, "both hashes", |s| {
        s.iter()
            .filter(|s| s.state == TrackerState::Working)
            .count()
            == 2
    })
    .await;
    assert_eq!(server.counts(&H1), (1, 0));
    assert_eq!(server.counts(&H2), (1, 0));
    shutdown.finished().await;
    assert_eq!(server.counts(&H1), (0, 0));
    assert_eq!(server.counts(&H2), (0, 0));
    server.shutdown.finished().await;
}

#[tokio::test]
async fn all_tiers_announces_to_each_tier() {
    let server = Server::start().await;
    let mut c = config(&[&[&server.http()], &[&server.udp()]], &[H1], 1, 7001);
    c.all_tiers = true;
    let (announcer, _peers, shutdown) = start(c);
    wait_status(&announcer, "both tiers", all_working).await;
    assert_eq!(announcer.status().len(), 2);
    shutdown.finished().await;
    server.shutdown.finished().await;
}

#[tokio::test]
async fn ipv6_trackers_hand_out_ipv6_peers() {
    let shutdown = Shutdown::new();
    let config6 = TrackerConfig {
        http: vec!["[::1]:0".parse().unwrap()],
        udp: vec!["[::1]:0".parse().unwrap()],
        interval: 1,
        interval_jitter: 0,
        min_interval: 0,
        ..TrackerConfig::default()
    };
    let tracker = Tracker::start(config6, &shutdown)
        .await
        .expect("tracker starts");
    let http = format!("http://{}/announce", tracker.http_addrs()[0]);
    let udp = format!("udp://{}/announce", tracker.udp_addrs()[0]);
    let (a, _a_peers, a_shutdown) = start(config(&[&[&http]], &[H1], 1, 7001));
    wait_status(&a, "a started", all_working).await;
    let (_b, mut b_peers, b_shutdown) = start(config(&[&[&udp]], &[H1], 2, 7002));
    let a_addr: SocketAddr = "[::1]:7001".parse().unwrap();
    // 18-byte peers, because the UDP socket is IPv6 (BEP 15).
    wait_peer(
        &mut b_peers,
        PeerFound {
            info_hash: H1,
            addr: a_addr,
        },
    )
    .await;
    a_shutdown.finished().await;
    b_shutdown.finished().await;
    shutdown.finished().await;
}
