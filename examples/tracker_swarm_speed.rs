//! Throughput of the tracker's swarm store alone, on one thread: fills it
//! like `tracker_memory` (1,000,000 IPv4 peers over 100,000 torrents), then
//! times ANNOUNCES re-announces of random stored peers (numwant 50, as
//! clients ask) and ANNOUNCES/2 stop-then-start pairs (a peer leaving and
//! coming back: removal and insertion); then the same on one 20,000-peer
//! swarm. Prints announces per second for each phase.
//!
//! `cargo run --release --example tracker_swarm_speed [ANNOUNCES]`

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use mktorrent_rs::tracker::swarm::{Announce, Endpoint, Event, Limits, Rng, Swarms, XorShift};

/// The info hash of torrent `t`, spread like SHA-1 output.
fn info_hash(t: u32) -> [u8; 20] {
    let mut hash = [0u8; 20];
    let mixed = u64::from(t).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    hash[..8].copy_from_slice(&mixed.to_le_bytes());
    hash[12..16].copy_from_slice(&t.to_be_bytes());
    hash[19] = mixed as u8;
    hash
}

/// Peer `i` of a layout of `torrents` torrents: its announce.
fn request(i: u32, torrents: u32, event: Event, numwant: usize) -> Announce {
    let (ip, port) = if torrents == 1 {
        // One swarm: one port per address, so no per-address cap bites.
        (Ipv4Addr::from(0x0a00_0000 | i), 6881)
    } else {
        (
            Ipv4Addr::from(0x0a00_0000 | (i >> 8)),
            1024 + (i & 0xff) as u16,
        )
    };
    Announce {
        info_hash: info_hash(i % torrents),
        peer_id: [i as u8; 20],
        endpoint: Endpoint::new(IpAddr::V4(ip), port),
        event,
        left: u64::from(i % 3),
        numwant,
    }
}

fn rate(n: u64, since: Instant) -> f64 {
    n as f64 / since.elapsed().as_secs_f64().max(1e-9)
}

fn run(peers: u32, torrents: u32, announces: u64) {
    let swarms = Swarms::new(Limits::default());
    let mut rng = XorShift::new(7);
    let mut handed = 0u64;
    let start = Instant::now();
    for i in 0..peers {
        let req = request(i, torrents, Event::Started, 0);
        if swarms.announce(&req, 0, &mut rng, &mut |_| {}).is_err() {
            eprintln!("refused at peer {i}");
            std::process::exit(1);
        }
    }
    let fill = rate(u64::from(peers), start);
    let start = Instant::now();
    for n in 0..announces {
        let i = rng.below(peers as usize) as u32;
        let req = request(i, torrents, Event::None, 50);
        let now = (n / 10_000) as u32;
        let _ = swarms.announce(&req, now, &mut rng, &mut |_| handed += 1);
    }
    let reannounce = rate(announces, start);
    let start = Instant::now();
    for n in 0..announces / 2 {
        let i = rng.below(peers as usize) as u32;
        let now = (announces / 10_000 + n / 10_000) as u32;
        let stop = request(i, torrents, Event::Stopped, 0);
        let _ = swarms.announce(&stop, now, &mut rng, &mut |_| {});
        let again = request(i, torrents, Event::Started, 50);
        let _ = swarms.announce(&again, now, &mut rng, &mut |_| handed += 1);
    }
    let churn = rate(announces / 2 * 2, start);
    let totals = swarms.totals();
    println!(
        "peers {} torrents {} fill_per_s {fill:.0} reannounce_per_s {reannounce:.0} \
         stop_start_per_s {churn:.0} (handed {handed})",
        totals.seeders + totals.leechers,
        totals.torrents
    );
}

fn main() {
    let announces = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<u64>().ok())
        .unwrap_or(1_000_000);
    run(1_000_000, 100_000, announces);
    run(20_000, 1, announces);
}
