//! DHT benchmark (issue 4), not a test: prints figures, asserts nothing.
//!
//! 1. Lookups: a loopback network of `BENCH_NODES` (200) of our nodes in
//!    this process; `BENCH_LOOKUPS` (200) get_peers lookups of announced
//!    hashes from random nodes: median / 95th-percentile time, queries sent
//!    per lookup, and how many found the peer.
//! 2. Flood: one `mktorrent-rs dht serve` process (no rate limit, so it
//!    answers everything) receives `BENCH_QPS` (10,000) queries per second
//!    for `BENCH_SECS` (10) seconds: a mix of get_peers and announce_peer on
//!    random hashes, find_node and ping. Its resident memory (from /proc)
//!    and CPU time are sampled every second.
//!
//! Run: `cargo bench --bench dht`. Everything stays on 127.0.0.1.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mktorrent_rs::bencode::{dict, Bencode};
use mktorrent_rs::dht::{krpc, Config, Dht, Id};
use mktorrent_rs::shutdown::Shutdown;
use rand::{Rng, RngExt, SeedableRng};
use tokio::net::UdpSocket;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(lookups());
    runtime.block_on(flood());
}

async fn lookups() {
    let count = env_usize("BENCH_NODES", 200);
    let lookups = env_usize("BENCH_LOOKUPS", 200);
    let shutdown = Shutdown::new();
    let config = |bootstrap| Config {
        bootstrap,
        rate_limit: 0,
        tick: Duration::from_millis(100),
        ..Config::default()
    };
    let mut nodes: Vec<Dht> = Vec::new();
    for i in 0..count {
        let bootstrap = if i == 0 {
            vec![]
        } else {
            vec![nodes[0].local_addr()]
        };
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        nodes.push(Dht::start(socket, config(bootstrap), &shutdown).expect("node"));
    }
    let started = Instant::now();
    for node in &nodes {
        while node.stats().await.map_or(0, |s| s.nodes) < 8
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Let bootstrap lookups settle before timing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let hashes: Vec<Id> = (0..20).map(|_| Id::random(&mut rng)).collect();
    let mut stored = Vec::new();
    for (i, hash) in hashes.iter().enumerate() {
        let node = &nodes[rng.random_range(0..count)];
        stored.push(
            node.announce(*hash, Some(10_000 + i as u16))
                .await
                .map_or(0, |a| a.stored),
        );
    }
    stored.sort_unstable();
    let mut times = Vec::new();
    let mut queries = Vec::new();
    let mut found = 0;
    let mut missed_hashes = std::collections::BTreeMap::new();
    for n in 0..lookups {
        let hash = hashes[n % hashes.len()];
        let node = &nodes[rng.random_range(0..count)];
        let start = Instant::now();
        let Ok(result) = node.get_peers(hash).await else {
            continue;
        };
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        queries.push(result.queries as f64);
        if result.peers.is_empty() {
            *missed_hashes.entry(n % hashes.len()).or_insert(0) += 1;
        } else {
            found += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    queries.sort_by(f64::total_cmp);
    println!("== get_peers on a loopback network of {count} nodes, {lookups} lookups");
    println!(
        "time ms:          median {:.1}  p95 {:.1}  max {:.1}",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "queries/lookup:   median {:.0}  p95 {:.0}",
        percentile(&queries, 0.5),
        percentile(&queries, 0.95)
    );
    println!("found the peer:   {found}/{lookups}");
    println!("announces stored: {stored:?} nodes each");
    println!("misses per hash:  {missed_hashes:?} (hash index: lookups that found nobody)");
    shutdown.finished().await;
}

/// Resident set (KiB) and CPU time (ticks) of a process, from /proc.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: utime and stime are 14 and 15.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss, ticks))
}

fn query(tid: u32, method: &str, args: Vec<(&str, Bencode)>) -> Vec<u8> {
    let mut a = std::collections::BTreeMap::new();
    for (k, v) in args {
        a.insert(k.as_bytes().to_vec(), v);
    }
    dict([
        ("t", Bencode::Bytes(tid.to_be_bytes().to_vec())),
        ("y", "q".into()),
        ("q", method.into()),
        ("a", Bencode::Dict(a)),
    ])
    .encode()
}

async fn flood() {
    let qps = env_usize("BENCH_QPS", 10_000);
    let secs = env_usize("BENCH_SECS", 10);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mktorrent-rs"))
        .args([
            "dht",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-default-routers",
        ])
        .args(["--rate-limit", "0", "--status-interval", "3600"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dht serve starts");
    let mut banner = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stderr.take().expect("stderr")),
        &mut banner,
    )
    .expect("banner");
    let target: SocketAddr = banner
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("address in the banner");
    let pid = child.id();

    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let me = [b'b'; 20];
    // One get_peers for a token (tokens are per IP, and we use one IP).
    socket
        .send_to(
            &query(
                0,
                "get_peers",
                vec![
                    ("id", Bencode::Bytes(me.to_vec())),
                    ("info_hash", Bencode::Bytes(vec![1; 20])),
                ],
            ),
            target,
        )
        .await
        .expect("send");
    let mut buf = [0u8; 2048];
    let (len, _) = socket.recv_from(&mut buf).await.expect("reply");
    let token = match krpc::decode(&buf[..len]).map(|m| m.body) {
        Ok(krpc::Body::Response(r)) => r.token.unwrap_or_default(),
        other => panic!("no token: {other:?}"),
    };

    let receiver = {
        let socket = std::sync::Arc::new(socket);
        let rx = socket.clone();
        let counter = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut replies = 0u64;
            while let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(2), rx.recv_from(&mut buf)).await
            {
                replies += 1;
            }
            replies
        });
        (socket, counter)
    };
    let (socket, counter) = receiver;

    let (rss0, ticks0) = sample(pid).unwrap_or_default();
    let mut peak_rss = rss0;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let start = Instant::now();
    let mut sent = 0u64;
    let batch = (qps / 100).max(1);
    let mut next_sample = Duration::from_secs(1);
    while start.elapsed() < Duration::from_secs(secs as u64) {
        for _ in 0..batch {
            let mut hash = [0u8; 20];
            rng.fill_bytes(&mut hash);
            let tid = sent as u32;
            let id = ("id", Bencode::Bytes(me.to_vec()));
            let hash = Bencode::Bytes(hash.to_vec());
            let packet = match rng.random_range(0..10) {
                0..=3 => query(tid, "get_peers", vec![id, ("info_hash", hash)]),
                4..=6 => query(
                    tid,
                    "announce_peer",
                    vec![
                        id,
                        ("info_hash", hash),
                        ("port", Bencode::Int(6881)),
                        ("token", Bencode::Bytes(token.clone())),
                    ],
                ),
                7..=8 => query(tid, "find_node", vec![id, ("target", hash)]),
                _ => query(tid, "ping", vec![id]),
            };
            if socket.send_to(&packet, target).await.is_ok() {
                sent += 1;
            }
        }
        let elapsed_batches = Duration::from_millis(10) * (sent / batch as u64) as u32;
        if let Some(wait) = elapsed_batches.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if start.elapsed() >= next_sample {
            next_sample += Duration::from_secs(1);
            if let Some((rss, _)) = sample(pid) {
                peak_rss = peak_rss.max(rss);
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let (rss1, ticks1) = sample(pid).unwrap_or_default();
    peak_rss = peak_rss.max(rss1);
    let replies = counter.await.unwrap_or(0);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    // Linux reports CPU time in USER_HZ ticks, 100 per second.
    let cpu = (ticks1.saturating_sub(ticks0)) as f64 / 100.0;
    println!("== flood of one `dht serve` process for {wall:.1} s");
    println!("queries sent:     {sent} ({:.0}/s)", sent as f64 / wall);
    println!(
        // The node also pings us now and then, so this can pass 100%.
        "datagrams back:   {replies} ({:.1}% of queries)",
        100.0 * replies as f64 / sent.max(1) as f64
    );
    println!(
        "cpu:              {cpu:.2} s ({:.0}% of one core)",
        100.0 * cpu / wall
    );
    println!("rss KiB:          start {rss0}  peak {peak_rss}  end {rss1}");
}
