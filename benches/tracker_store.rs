//! Tracker store benchmark (issue 15), not a test: prints figures, asserts
//! nothing. The same UDP load against `tracker` with the in-memory store,
//! with `--store redis://` as one instance, and as three instances on one
//! Redis (clients spread over them); then Redis's memory per stored peer.
//!
//! Load: `BENCH_CLIENTS` (64) sockets, each its own loopback address
//! (127.0.x.y) with one request in flight, announcing `BENCH_PEERS`
//! (100,000) peers over `BENCH_TORRENTS` (1,000) torrents (10% seeders,
//! numwant 50) for `BENCH_SECONDS` (20) per run, the first quarter not
//! counted. The per-address caps are raised so the in-memory store does not
//! refuse what Redis (which does not apply them) accepts.
//!
//! Run: `cargo build --release && cargo bench --bench tracker_store`
//! (needs `redis-server` on PATH; everything stays on loopback). On a
//! shared machine the load generator, the trackers and Redis compete for
//! the same cores: compare figures of one run only.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const BIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/mktorrent-rs");
const KEY: &str = "0123456789abcdef0123456789abcdef";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tracker(store: Option<&str>) -> (Killed, SocketAddr) {
    use std::io::BufRead;
    let mut command = Command::new(BIN);
    command
        .args([
            "tracker",
            "--no-http",
            "--udp",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
        ])
        .args([
            "--max-ports-per-ip",
            "100000",
            "--max-peers-per-ip",
            "10000000",
        ])
        .args(["--udp-key", KEY]);
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{BIN}: {e} (cargo build --release first)"));
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufReader::new(stdout)
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let addr = line["udp://".len()..line.len() - "/announce".len()]
        .parse()
        .unwrap();
    (Killed(child), addr)
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn used_memory(port: u16) -> u64 {
    redis_cli(port, &["INFO", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:")?.trim().parse().ok())
        .unwrap_or(0)
}

/// One client: connects, then announces its peers round-robin with one
/// request in flight; counts replies while `counting`.
async fn client(
    index: usize,
    server: SocketAddr,
    peers: usize,
    torrents: usize,
    stop: Arc<AtomicBool>,
    counting: Arc<AtomicBool>,
    replies: Arc<AtomicU64>,
) {
    let local = format!("127.0.{}.{}:0", index / 250, index % 250 + 1);
    let socket = UdpSocket::bind(&local).await.unwrap();
    socket.connect(server).await.unwrap();
    let mut buf = [0u8; 2048];
    let mut cid = 0u64;
    let mut cid_at = Instant::now() - Duration::from_secs(3600);
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        if cid_at.elapsed() > Duration::from_secs(60) {
            let mut connect = Vec::with_capacity(16);
            connect.extend_from_slice(&0x41727101980u64.to_be_bytes());
            connect.extend_from_slice(&0u32.to_be_bytes());
            connect.extend_from_slice(&1u32.to_be_bytes());
            socket.send(&connect).await.unwrap();
            match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
                Ok(Ok(16)) => {
                    cid = u64::from_be_bytes(buf[8..16].try_into().unwrap());
                    cid_at = Instant::now();
                }
                _ => continue,
            }
        }
        // Peer k of this client: port 1000 + k, torrent by the global peer number.
        let k = n % peers;
        n += 1;
        let global = index * peers + k;
        let mut hash = [0u8; 20];
        hash[..8].copy_from_slice(&((global % torrents) as u64).to_be_bytes());
        let mut packet = Vec::with_capacity(98);
        packet.extend_from_slice(&cid.to_be_bytes());
        packet.extend_from_slice(&1u32.to_be_bytes());
        packet.extend_from_slice(&(n as u32).to_be_bytes());
        packet.extend_from_slice(&hash);
        packet.extend_from_slice(&[index as u8; 20]);
        packet.extend_from_slice(&0u64.to_be_bytes());
        let left: u64 = if global % 10 == 0 { 0 } else { 1000 };
        packet.extend_from_slice(&left.to_be_bytes());
        packet.extend_from_slice(&0u64.to_be_bytes());
        packet.extend_from_slice(&0u32.to_be_bytes()); // event none
        packet.extend_from_slice(&0u32.to_be_bytes()); // ip
        packet.extend_from_slice(&0u32.to_be_bytes()); // key
        packet.extend_from_slice(&50i32.to_be_bytes());
        packet.extend_from_slice(&((1000 + k) as u16).to_be_bytes());
        socket.send(&packet).await.unwrap();
        if let Ok(Ok(len)) =
            tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await
        {
            if len >= 20 && buf[3] == 1 && counting.load(Ordering::Relaxed) {
                replies.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Runs the load against `servers`; returns announces per second.
fn load(servers: &[SocketAddr]) -> f64 {
    let clients = env_usize("BENCH_CLIENTS", 64);
    let peers = env_usize("BENCH_PEERS", 100_000) / clients;
    let torrents = env_usize("BENCH_TORRENTS", 1000);
    let seconds = env_usize("BENCH_SECONDS", 20) as u64;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let counting = Arc::new(AtomicBool::new(false));
        let replies = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                tokio::spawn(client(
                    i,
                    servers[i % servers.len()],
                    peers.max(1),
                    torrents,
                    stop.clone(),
                    counting.clone(),
                    replies.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds / 4)).await;
        counting.store(true, Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds - seconds / 4)).await;
        counting.store(false, Ordering::Relaxed);
        let rate = replies.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
        rate
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let port = free_port();
    let _redis = Killed(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH"),
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("redis://127.0.0.1:{port}");
    let baseline = used_memory(port);

    let (memory, memory_addr) = tracker(None);
    let memory_rate = load(&[memory_addr]);
    drop(memory);

    let (one, one_addr) = tracker(Some(&url));
    let one_rate = load(&[one_addr]);
    drop(one);
    let after = used_memory(port);
    let mut stored = 0u64;
    let keys = redis_cli(port, &["--scan", "--pattern", "mkt:*"]);
    for key in keys.lines().filter(|k| !k.ends_with(":c")) {
        stored += redis_cli(port, &["ZCARD", key])
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
    }
    // One swarm's keys, by MEMORY USAGE, over its peers.
    let mut sample_bytes = 0u64;
    let mut sample_peers = 0u64;
    let tag = keys
        .lines()
        .next()
        .and_then(|k| k.split(['{', '}']).nth(1))
        .unwrap_or("");
    for suffix in ["s4", "l4", "s6", "l6", "c"] {
        let key = format!("mkt:{{{tag}}}:{suffix}");
        sample_bytes += redis_cli(port, &["MEMORY", "USAGE", &key])
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
        if suffix != "c" {
            sample_peers += redis_cli(port, &["ZCARD", &key])
                .trim()
                .parse::<u64>()
                .unwrap_or(0);
        }
    }
    redis_cli(port, &["FLUSHALL"]);

    let three: Vec<_> = (0..3).map(|_| tracker(Some(&url))).collect();
    let addrs: Vec<_> = three.iter().map(|(_, a)| *a).collect();
    let three_rate = load(&addrs);
    drop(three);

    println!(
        "UDP announces/s (same load, numwant 50, {} clients):",
        env_usize("BENCH_CLIENTS", 64)
    );
    println!("  in-memory, 1 instance        {memory_rate:>10.0}");
    println!("  --store redis, 1 instance    {one_rate:>10.0}");
    println!("  --store redis, 3 instances   {three_rate:>10.0}");
    println!(
        "Redis memory: {} peers stored, used_memory grew {} bytes: {:.1} bytes/peer",
        stored,
        after.saturating_sub(baseline),
        after.saturating_sub(baseline) as f64 / stored.max(1) as f64
    );
    println!(
        "  one swarm: MEMORY USAGE {sample_bytes} bytes for {sample_peers} peers: {:.1} bytes/peer",
        sample_bytes as f64 / sample_peers.max(1) as f64
    );
}
