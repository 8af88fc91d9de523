//! Memory per stored IPv4 peer in the tracker's swarm store: announces
//! PEERS peers spread over TORRENTS torrents (defaults 1,000,000 and
//! 100,000, the spec's target) and prints the growth of resident memory
//! divided by the peer count. Used by `benches/tracker.sh`. Each address
//! announces PORTS ports (default 256); with 1, every peer has an address
//! of its own and the per-address counts weigh in.
//!
//! `cargo run --release --example tracker_memory [PEERS] [TORRENTS] [PORTS]`

use std::net::{IpAddr, Ipv4Addr};

use mktorrent_rs::tracker::swarm::{Announce, Endpoint, Event, Limits, Swarms, XorShift};

/// Resident set size in bytes, from /proc (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let peers = args.next().and_then(Result::ok).unwrap_or(1_000_000);
    let torrents = args.next().and_then(Result::ok).unwrap_or(100_000).max(1);
    let ports = args
        .next()
        .and_then(Result::ok)
        .unwrap_or(256)
        .clamp(1, 65_536);
    let swarms = Swarms::new(Limits::default());
    let mut rng = XorShift::new(7);
    let before = rss();
    for i in 0..peers {
        let torrent = i % torrents;
        let mut info_hash = [0u8; 20];
        // Spread like SHA-1 output: every byte varies.
        let mixed = u64::from(torrent).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        info_hash[..8].copy_from_slice(&mixed.to_le_bytes());
        info_hash[12..16].copy_from_slice(&torrent.to_be_bytes());
        info_hash[19] = mixed as u8;
        let ip = Ipv4Addr::from(0x0a00_0000 + i / ports);
        let port = (1024 + i % ports) as u16;
        let request = Announce {
            info_hash,
            peer_id: [i as u8; 20],
            endpoint: Endpoint::new(IpAddr::V4(ip), port),
            event: Event::Started,
            left: u64::from(i % 3),
            numwant: 0,
        };
        if swarms.announce(&request, 0, &mut rng, &mut |_| {}).is_err() {
            eprintln!("refused at peer {i}");
            std::process::exit(1);
        }
    }
    let after = rss();
    let totals = swarms.totals();
    let stored = totals.seeders + totals.leechers;
    println!(
        "peers {stored} torrents {} rss_growth_bytes {} bytes_per_peer {:.1}",
        totals.torrents,
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / stored.max(1) as f64
    );
}
