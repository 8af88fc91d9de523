//! The adapter on real loopback sockets: transfers both ways, many streams,
//! refused and timed-out connects, KRPC forwarding, and shutdown.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

async fn bind(shutdown: &Shutdown, config: Config) -> UtpSocket {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    UtpSocket::start(udp, config, shutdown).unwrap()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `out` and reads until EOF, concurrently.
async fn exchange(stream: UtpStream, out: Vec<u8>) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        w.write_all(&out).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    let _w = writer.await.unwrap();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_8_mib_both_ways() {
    let shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    let b = bind(&shutdown, Config::default()).await;
    let (x, y) = (data(8 << 20, 1), data(8 << 20, 2));
    let y2 = y.clone();
    let b2 = b.clone();
    let server = tokio::spawn(async move {
        let (stream, from) = b2.accept().await.unwrap();
        assert_eq!(stream.peer_addr(), from);
        exchange(stream, y2).await
    });
    let stream = a.connect(b.local_addr()).await.unwrap();
    assert_eq!(stream.peer_addr(), b.local_addr());
    let got_by_a = tokio::time::timeout(Duration::from_secs(60), exchange(stream, x.clone()))
        .await
        .unwrap();
    let got_by_b = server.await.unwrap();
    assert!(got_by_a == y, "a got {} bytes", got_by_a.len());
    assert!(got_by_b == x, "b got {} bytes", got_by_b.len());
    // Both sides forget the connection once the FINs are acknowledged.
    tokio::time::timeout(Duration::from_secs(10), async {
        while a.connections() + b.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_streams() {
    let shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    let b = bind(
        &shutdown,
        Config {
            max_per_ip: 32,
            ..Config::default()
        },
    )
    .await;
    let b2 = b.clone();
    let server = tokio::spawn(async move {
        let mut echoes = Vec::new();
        for _ in 0..20 {
            let (stream, _) = b2.accept().await.unwrap();
            echoes.push(tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(stream);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            }));
        }
        for e in echoes {
            e.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for i in 0..20 {
        let a = a.clone();
        let addr = b.local_addr();
        clients.push(tokio::spawn(async move {
            let stream = a.connect(addr).await.unwrap();
            let sent = data(100_000 + i * 1000, i as u64 + 10);
            let got = exchange(stream, sent.clone()).await;
            assert!(
                got == sent,
                "stream {i}: {} of {} bytes",
                got.len(),
                sent.len()
            );
        }));
    }
    for c in clients {
        tokio::time::timeout(Duration::from_secs(60), c)
            .await
            .unwrap()
            .unwrap();
    }
    server.await.unwrap();
    shutdown.finished().await;
}

#[tokio::test]
async fn connect_to_nobody_fails_cleanly() {
    let shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    // A bound UDP socket that never answers: the SYN goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    let err = a.connect(silent.local_addr().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(12));
    // A port with nobody at all: either refused or timed out, never hung.
    let gone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let err = a.connect(addr).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused
        ),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(a.connections(), 0);
    shutdown.finished().await;
}

#[tokio::test]
async fn full_table_answers_reset() {
    let shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    let b = bind(
        &shutdown,
        Config {
            max_per_ip: 1,
            ..Config::default()
        },
    )
    .await;
    let _first = a.connect(b.local_addr()).await.unwrap();
    let err = a.connect(b.local_addr()).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(b.connections(), 1);
    shutdown.finished().await;
}

#[tokio::test]
async fn other_datagrams_are_forwarded() {
    let shutdown = Shutdown::new();
    let (tx, mut rx) = mpsc::channel(4);
    let a = bind(
        &shutdown,
        Config {
            forward_other: Some(tx),
            ..Config::default()
        },
    )
    .await;
    let krpc = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(krpc, a.local_addr()).unwrap();
    let (bytes, from) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[..], &krpc[..]);
    assert_eq!(from, peer.local_addr().unwrap());
    // And the DHT can answer from the same port.
    let sender = a.sender().unwrap();
    assert_eq!(sender.local_addr().unwrap(), a.local_addr());
    sender
        .send_to(b"d1:y1:re", peer.local_addr().unwrap())
        .unwrap();
    let mut buf = [0; 64];
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"d1:y1:re");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_everything_and_resets_streams() {
    let shutdown = Shutdown::new();
    let peer_shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    let b = bind(&peer_shutdown, Config::default()).await;
    let b2 = b.clone();
    let accepted = tokio::spawn(async move { b2.accept().await.unwrap().0 });
    let mut stream = a.connect(b.local_addr()).await.unwrap();
    let mut remote = accepted.await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut buf = [0; 5];
    remote.read_exact(&mut buf).await.unwrap();
    let pending_accept = {
        let a = a.clone();
        tokio::spawn(async move { a.accept().await })
    };
    tokio::time::timeout(Duration::from_secs(5), shutdown.finished())
        .await
        .unwrap();
    assert!(pending_accept.await.unwrap().is_err());
    assert_eq!(a.connections(), 0);
    // Our stream sees the end; the peer got our RESET.
    assert!(stream.read(&mut buf).await.is_err());
    let err = tokio::time::timeout(Duration::from_secs(5), remote.read(&mut buf))
        .await
        .unwrap();
    assert_eq!(err.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    peer_shutdown.finished().await;
}

/// One stream's loopback throughput; `cargo test --release --lib
/// utp::socket::tests::throughput -- --ignored --nocapture` prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run on demand in release mode"]
async fn throughput() {
    let shutdown = Shutdown::new();
    let a = bind(&shutdown, Config::default()).await;
    let b = bind(&shutdown, Config::default()).await;
    let total: usize = 512 << 20;
    let b2 = b.clone();
    let reader = tokio::spawn(async move {
        let (mut stream, _) = b2.accept().await.unwrap();
        let mut buf = vec![0; 256 * 1024];
        let mut n = 0;
        loop {
            let got = stream.read(&mut buf).await.unwrap();
            if got == 0 {
                break n;
            }
            n += got;
        }
    });
    let mut stream = a.connect(b.local_addr()).await.unwrap();
    let chunk = vec![7u8; 256 * 1024];
    let started = Instant::now();
    for _ in 0..total / chunk.len() {
        stream.write_all(&chunk).await.unwrap();
    }
    stream.shutdown().await.unwrap();
    let received = reader.await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(received, total);
    println!(
        "uTP loopback, one stream: {} MiB in {secs:.2} s = {:.0} MiB/s",
        total >> 20,
        (total >> 20) as f64 / secs
    );
    shutdown.finished().await;
}
