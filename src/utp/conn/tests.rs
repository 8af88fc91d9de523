//! The state machine on a virtual clock: handshakes, a simulated lossy link
//! between two connections, windows, timeouts, LEDBAT, FIN and RESET.

use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn parse(bytes: &[u8]) -> Packet<'_> {
    Packet::parse(bytes).unwrap()
}

fn drain(conn: &mut Connection, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while conn.poll_transmit(now, &mut buf) {
        out.push(buf.clone());
        assert!(out.len() < 100_000, "poll_transmit never ends");
    }
    out
}

/// A connected pair, wired by hand (no loss).
fn pair(now: Instant, acceptor_seq: u16) -> (Connection, Connection) {
    let mut a = Connection::connect(1000, now);
    let syn = drain(&mut a, now);
    assert_eq!(syn.len(), 1);
    let mut b = Connection::accept(&parse(&syn[0]), now, acceptor_seq);
    for p in drain(&mut b, now) {
        a.on_packet(&parse(&p), now);
    }
    assert!(a.is_connected() && b.is_connected());
    (a, b)
}

/// Delivers everything both ways until both are quiet.
fn settle(a: &mut Connection, b: &mut Connection, now: Instant) {
    for _ in 0..10_000 {
        let from_a = drain(a, now);
        let from_b = drain(b, now);
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        for p in from_a {
            b.on_packet(&parse(&p), now);
        }
        for p in from_b {
            a.on_packet(&parse(&p), now);
        }
    }
    panic!("never settled");
}

#[test]
fn handshake_initiator_and_acceptor() {
    let now = Instant::now();
    let mut a = Connection::connect(1000, now);
    assert!(!a.is_connected());
    let syn = drain(&mut a, now);
    let p = parse(&syn[0]);
    assert_eq!(
        (p.ty, p.connection_id, p.seq_nr),
        (PacketType::Syn, 1000, 1)
    );
    let mut b = Connection::accept(&p, now, 4242);
    assert_eq!((b.recv_id(), b.send_id()), (1001, 1000));
    let state = drain(&mut b, now);
    assert_eq!(state.len(), 1);
    let s = parse(&state[0]);
    assert_eq!(
        (s.ty, s.connection_id, s.seq_nr, s.ack_nr),
        (PacketType::State, 1000, 4242, 1)
    );
    a.on_packet(&s, now);
    assert!(a.is_connected() && a.is_writable());
    assert_eq!(a.send_id(), 1001);
    assert!(a.take_wakeups().writable);
    // Data from the acceptor starts at its random seq and arrives.
    b.write(b"hi");
    for p in drain(&mut b, now) {
        assert_eq!(parse(&p).seq_nr, 4242);
        a.on_packet(&parse(&p), now);
    }
    let mut buf = [0; 8];
    assert_eq!(a.read(&mut buf), 2);
    assert_eq!(&buf[..2], b"hi");
}

#[test]
fn duplicate_syn_gets_the_state_again() {
    let now = Instant::now();
    let mut a = Connection::connect(5, now);
    let syn = drain(&mut a, now).remove(0);
    let mut b = Connection::accept(&parse(&syn), now, 77);
    assert_eq!(drain(&mut b, now).len(), 1);
    b.on_packet(&parse(&syn), now);
    let again = drain(&mut b, now);
    assert_eq!(again.len(), 1);
    assert_eq!(parse(&again[0]).ty, PacketType::State);
}

#[test]
fn syn_retransmits_with_backoff_then_gives_up() {
    let t0 = Instant::now();
    let mut a = Connection::connect(9, t0);
    assert_eq!(drain(&mut a, t0).len(), 1);
    let mut gaps = Vec::new();
    let mut last = t0;
    while let Some(at) = a.next_timeout() {
        a.on_timeout(at);
        if a.is_closed() {
            break;
        }
        let sent = drain(&mut a, at);
        assert_eq!(sent.len(), 1);
        assert_eq!(parse(&sent[0]).ty, PacketType::Syn);
        gaps.push(at - last);
        last = at;
    }
    assert!(a.timed_out());
    assert_eq!(gaps, [1, 2, 4].map(Duration::from_secs));
    assert!(a.is_readable() && a.take_wakeups().readable);
}

#[test]
fn data_timeout_retransmits_with_backoff_then_gives_up() {
    let t0 = Instant::now();
    let (mut a, _b) = pair(t0, 10);
    a.write(&[7; 1000]);
    let first = drain(&mut a, t0);
    assert_eq!(first.len(), 1);
    let seq = parse(&first[0]).seq_nr;
    let mut rtos = vec![a.rto()];
    let mut n = 0;
    while let Some(at) = a.next_timeout() {
        a.on_timeout(at);
        if a.is_closed() {
            break;
        }
        let again = drain(&mut a, at);
        assert_eq!(again.len(), 1);
        assert_eq!(parse(&again[0]).seq_nr, seq);
        rtos.push(a.rto());
        n += 1;
    }
    assert!(a.timed_out());
    assert_eq!(n, MAX_TIMEOUTS as usize - 1);
    assert!(
        rtos.windows(2).all(|w| w[1] == (w[0] * 2).min(MAX_RTO)),
        "{rtos:?}"
    );
    assert_eq!(a.cwnd(), MAX_PAYLOAD);
}

#[test]
fn never_more_in_flight_than_cwnd_or_peer_window() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    a.write(&vec![1; 100_000]);
    let first = drain(&mut a, now);
    // Initial cwnd: two packets.
    assert_eq!(a.bytes_in_flight(), 2 * MAX_PAYLOAD);
    for p in first {
        b.on_packet(&parse(&p), now);
    }
    // A peer window of 3000 bytes caps us even when cwnd is larger.
    settle(&mut a, &mut b, now);
    let mut state = drain(&mut b, now);
    if state.is_empty() {
        b.write(b"x");
        state = drain(&mut b, now);
    }
    let mut ack = state.remove(0);
    ack[12..16].copy_from_slice(&3000u32.to_be_bytes());
    a.on_packet(&parse(&ack), now);
    assert_eq!(a.peer_window(), 3000);
    assert!(a.cwnd() > 3000);
    let sent = drain(&mut a, now);
    assert!(!sent.is_empty());
    assert!(a.bytes_in_flight() <= 3000, "{}", a.bytes_in_flight());
}

#[test]
fn ledbat_grows_below_target_and_shrinks_above() {
    let now0 = Instant::now();
    let (mut a, mut b) = pair(now0, 10);
    a.write(&vec![1; SEND_BUFFER]);
    let mut now = now0;
    // One round trip with every ACK's measured delay set to `diff_us`.
    let mut round = |a: &mut Connection, b: &mut Connection, diff_us: u32| {
        now += Duration::from_millis(10);
        for p in drain(a, now) {
            b.on_packet(&parse(&p), now);
        }
        for mut p in drain(b, now) {
            p[8..12].copy_from_slice(&diff_us.to_be_bytes());
            a.on_packet(&parse(&p), now);
        }
        a.write(&vec![1; a.send_capacity()]);
        a.cwnd()
    };
    let base = 5_000;
    // Slow start with the base delay: doubles per round trip.
    let mut c1 = a.cwnd();
    for _ in 0..4 {
        let next = round(&mut a, &mut b, base);
        assert!(next >= 2 * c1, "{c1} -> {next}");
        c1 = next;
    }
    // Above the target: slow start ends and the window shrinks.
    let c2 = round(&mut a, &mut b, base + 250_000);
    let c3 = round(&mut a, &mut b, base + 250_000);
    assert!(c3 < c2 && c2 <= c1, "{c1} -> {c2} -> {c3}");
    assert_eq!(a.queuing_delay(), Some(Duration::from_millis(250)));
    // Below the target: grows again, by at most 3000 bytes per round trip.
    let mut prev = c3;
    for _ in 0..5 {
        let next = round(&mut a, &mut b, base + 20_000);
        assert!(next > prev, "{prev} -> {next}");
        assert!(next as f64 <= prev as f64 + MAX_CWND_INCREASE_PER_RTT + 1.0);
        prev = next;
    }
    // At exactly the target: unchanged.
    let at_target = round(&mut a, &mut b, base + 100_000);
    assert!(at_target.abs_diff(prev) <= 1);
}

#[test]
fn sack_drives_fast_retransmit_and_is_not_resent() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    // Grow cwnd so that 8 packets go out at once.
    a.write(&vec![3; 4 * MAX_PAYLOAD]);
    settle(&mut a, &mut b, now);
    let mut sink = vec![0; 1 << 20];
    b.read(&mut sink);
    a.write(&vec![4; 8 * MAX_PAYLOAD]);
    let sent = drain(&mut a, now);
    assert!(sent.len() >= 6, "{}", sent.len());
    let hole = parse(&sent[0]).seq_nr;
    for p in &sent[1..] {
        b.on_packet(&parse(p), now);
    }
    let acks = drain(&mut b, now);
    assert_eq!(acks.len(), 1);
    let ack = parse(&acks[0]);
    assert_eq!(ack.ack_nr, hole.wrapping_sub(1));
    let mask = ack.sack.unwrap();
    assert!((0..sent.len() - 1).all(|i| super::super::packet::sack_bit(mask, i)));
    let cwnd_before = a.cwnd();
    a.on_packet(&ack, now);
    assert!(a.cwnd() < cwnd_before);
    // The hole goes out again (new data may follow in the freed window),
    // the SACKed packets never.
    let sacked: Vec<u16> = sent[1..].iter().map(|p| parse(p).seq_nr).collect();
    let resent: Vec<u16> = drain(&mut a, now).iter().map(|p| parse(p).seq_nr).collect();
    assert_eq!(resent[0], hole);
    assert!(resent.iter().all(|seq| !sacked.contains(seq)), "{resent:?}");
    // A timeout resends only the hole, never the SACKed packets.
    let at = a.next_timeout().unwrap();
    a.on_timeout(at);
    let resent = drain(&mut a, at);
    assert_eq!(parse(&resent[0]).seq_nr, hole);
    assert!(resent.iter().all(|p| !sacked.contains(&parse(p).seq_nr)));
    b.on_packet(&parse(&resent[0]), at);
    let mut got = vec![0; 1 << 20];
    assert_eq!(b.read(&mut got), (sent.len()) * MAX_PAYLOAD);
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    a.write(&vec![3; 2 * MAX_PAYLOAD]);
    let sent = drain(&mut a, now);
    assert_eq!(sent.len(), 2);
    let lost = parse(&sent[0]).seq_nr;
    // The peer acknowledges the handshake only: three plain duplicates.
    let mut dup = Vec::new();
    b.ack_needed = true;
    assert!(b.poll_transmit(now, &mut dup));
    for _ in 0..2 {
        a.on_packet(&parse(&dup), now);
        assert!(drain(&mut a, now).is_empty());
    }
    a.on_packet(&parse(&dup), now);
    let resent = drain(&mut a, now);
    assert_eq!(
        resent.iter().map(|p| parse(p).seq_nr).collect::<Vec<_>>(),
        [lost]
    );
}

#[test]
fn fin_is_eof_after_the_data_and_both_finish() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    a.write(b"last words");
    a.close();
    assert_eq!(a.write(b"more"), 0);
    let sent = drain(&mut a, now);
    assert_eq!(
        sent.iter().map(|p| parse(p).ty).collect::<Vec<_>>(),
        [PacketType::Data, PacketType::Fin]
    );
    // The FIN arrives first: no EOF until the data before it is in.
    b.on_packet(&parse(&sent[1]), now);
    assert!(!b.is_readable());
    b.on_packet(&parse(&sent[0]), now);
    let mut buf = [0; 32];
    assert_eq!(b.read(&mut buf), 10);
    assert!(b.peer_closed() && b.is_readable());
    assert_eq!(b.read(&mut buf), 0);
    settle(&mut a, &mut b, now);
    assert!(a.fin_acked() && !a.is_closed());
    b.close();
    settle(&mut a, &mut b, now);
    assert_eq!(a.close_reason(), Some(CloseReason::Finished));
    assert_eq!(b.close_reason(), Some(CloseReason::Finished));
    assert!(a.peer_closed());
}

#[test]
fn reset_closes_the_peer() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    a.reset();
    assert!(a.was_reset());
    let sent = drain(&mut a, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse(&sent[0]).ty, PacketType::Reset);
    b.on_packet(&parse(&sent[0]), now);
    assert!(b.was_reset() && b.is_readable() && !b.is_writable());
    assert_eq!(b.next_timeout(), None);
    assert!(drain(&mut b, now).is_empty());
}

#[test]
fn silent_peer_times_out_and_idle_sends_keepalive() {
    let t0 = Instant::now();
    let (mut a, _b) = pair(t0, 10);
    let at = a.next_timeout().unwrap();
    assert_eq!(at - t0, KEEPALIVE);
    a.on_timeout(at);
    let keepalive = drain(&mut a, at);
    assert_eq!(parse(&keepalive[0]).ty, PacketType::State);
    let mut now = at;
    while !a.is_closed() {
        now = a.next_timeout().unwrap();
        a.on_timeout(now);
        drain(&mut a, now);
    }
    assert!(a.timed_out());
    assert_eq!(now - t0, IDLE_TIMEOUT);
}

#[test]
fn out_of_window_and_bogus_acks_are_ignored() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now, 10);
    b.write(b"abc");
    let mut p = drain(&mut b, now).remove(0);
    // Far ahead of anything we could hold: dropped, not buffered.
    let seq = parse(&p).seq_nr.wrapping_add(20_000);
    p[16..18].copy_from_slice(&seq.to_be_bytes());
    // And acknowledging packets we never sent.
    p[18..20].copy_from_slice(&500u16.to_be_bytes());
    a.write(b"x");
    drain(&mut a, now);
    let in_flight = a.bytes_in_flight();
    a.on_packet(&parse(&p), now);
    assert_eq!(a.bytes_in_flight(), in_flight);
    assert!(!a.is_readable());
}

/// A lossy, duplicating, reordering link between two connections on a
/// virtual clock.
struct Link {
    rng: StdRng,
    loss: f64,
    dup: f64,
    jitter_ms: u64,
    queue: Vec<(Instant, u64, usize, Vec<u8>)>,
    order: u64,
}

impl Link {
    fn send(&mut self, now: Instant, to: usize, packet: Vec<u8>) {
        if self.rng.random_bool(self.loss) {
            return;
        }
        let copies = if self.rng.random_bool(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = if self.jitter_ms > 0 {
                self.rng.random_range(0..self.jitter_ms)
            } else {
                0
            };
            let at = now + Duration::from_millis(5 + jitter);
            self.order += 1;
            self.queue.push((at, self.order, to, packet.clone()));
        }
    }
}

struct Outcome {
    a_read: Vec<u8>,
    b_read: Vec<u8>,
    a: Connection,
    b: Option<Connection>,
    elapsed: Duration,
}

fn transfer(
    a_data: &[u8],
    b_data: &[u8],
    seed: u64,
    loss: f64,
    dup: f64,
    jitter_ms: u64,
    b_seq: u16,
) -> Outcome {
    let t0 = Instant::now();
    let mut now = t0;
    let mut link = Link {
        rng: StdRng::seed_from_u64(seed),
        loss,
        dup,
        jitter_ms,
        queue: Vec::new(),
        order: 0,
    };
    let mut a = Connection::connect(0xfffe, now);
    let mut b: Option<Connection> = None;
    let (mut a_written, mut b_written) = (0, 0);
    let (mut a_read, mut b_read) = (Vec::new(), Vec::new());
    let mut buf = vec![0; 64 * 1024];
    let mut highest_new = [None::<u16>, None];
    for _ in 0..5_000_000 {
        // Applications: write what fits, close when done, read everything.
        a_written += a.write(&a_data[a_written..]);
        if a_written == a_data.len() {
            a.close();
        }
        if let Some(b) = b.as_mut() {
            b_written += b.write(&b_data[b_written..]);
            if b_written == b_data.len() {
                b.close();
            }
        }
        loop {
            let n = a.read(&mut buf);
            a_read.extend_from_slice(&buf[..n]);
            if n == 0 {
                break;
            }
        }
        if let Some(b) = b.as_mut() {
            loop {
                let n = b.read(&mut buf);
                b_read.extend_from_slice(&buf[..n]);
                if n == 0 {
                    break;
                }
            }
        }
        // Transmit, checking the window on every new data packet.
        let mut out = Vec::new();
        for (side, highest) in highest_new.iter_mut().enumerate() {
            let conn = if side == 0 {
                &mut a
            } else if let Some(b) = b.as_mut() {
                b
            } else {
                continue;
            };
            while conn.poll_transmit(now, &mut out) {
                let p = parse(&out);
                if p.ty == PacketType::Data && highest.is_none_or(|h| seq_lt(h, p.seq_nr)) {
                    *highest = Some(p.seq_nr);
                    let window = conn.cwnd().min(conn.peer_window()).max(MAX_PAYLOAD);
                    assert!(
                        conn.bytes_in_flight() <= window,
                        "{} > {window}",
                        conn.bytes_in_flight()
                    );
                }
                link.send(now, 1 - side, out.clone());
            }
        }
        if a.is_closed() && b.as_ref().is_none_or(Connection::is_closed) {
            break;
        }
        // Deliver what is due, else move the clock to the next event.
        link.queue.sort_by_key(|(at, order, _, _)| (*at, *order));
        let due = link.queue.iter().take_while(|(at, ..)| *at <= now).count();
        if due > 0 {
            for (_, _, to, packet) in link.queue.drain(..due).collect::<Vec<_>>() {
                let p = parse(&packet);
                if to == 0 {
                    a.on_packet(&p, now);
                } else if let Some(b) = b.as_mut() {
                    b.on_packet(&p, now);
                } else if p.ty == PacketType::Syn {
                    b = Some(Connection::accept(&p, now, b_seq));
                }
            }
            continue;
        }
        let mut next = link.queue.first().map(|(at, ..)| *at);
        for t in [
            a.next_timeout(),
            b.as_ref().and_then(Connection::next_timeout),
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        }
        let Some(next) = next else { break };
        now = now.max(next);
        a.on_timeout(now);
        if let Some(b) = b.as_mut() {
            b.on_timeout(now);
        }
    }
    for _ in 0..2 {
        let n = a.read(&mut buf);
        a_read.extend_from_slice(&buf[..n]);
        if let Some(b) = b.as_mut() {
            let n = b.read(&mut buf);
            b_read.extend_from_slice(&buf[..n]);
        }
    }
    Outcome {
        a_read,
        b_read,
        a,
        b,
        elapsed: now - t0,
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

#[test]
fn clean_link_transfers_both_ways_and_finishes() {
    let (x, y) = (data(500_000, 1), data(300_000, 2));
    let out = transfer(&x, &y, 1, 0.0, 0.0, 0, 100);
    assert!(out.b_read == x && out.a_read == y);
    assert_eq!(out.a.close_reason(), Some(CloseReason::Finished));
    assert_eq!(out.b.unwrap().close_reason(), Some(CloseReason::Finished));
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn lossy_duplicating_reordering_link_delivers_intact_and_in_order() {
    let (x, y) = (data(400_000, 3), data(200_000, 4));
    let out = transfer(&x, &y, 7, 0.05, 0.05, 30, 200);
    assert!(out.b_read == x, "a->b: {} of {}", out.b_read.len(), x.len());
    assert!(out.a_read == y, "b->a: {} of {}", out.a_read.len(), y.len());
    assert!(out.a.peer_closed() && out.b.unwrap().peer_closed());
}

#[test]
fn sequence_numbers_wrap() {
    // The acceptor starts just below u16::MAX: ~700 packets wrap it.
    let (x, y) = (data(100_000, 5), data(1_000_000, 6));
    let out = transfer(&x, &y, 11, 0.02, 0.0, 10, 65_500);
    assert!(out.b_read == x && out.a_read == y);
}

#[test]
fn dead_link_gives_up() {
    let x = data(10_000, 7);
    let out = transfer(&x, &[], 3, 1.0, 0.0, 0, 1);
    assert!(out.a.timed_out());
    assert!(out.b.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_link_faults_never_corrupt(
        seed in any::<u64>(),
        loss in 0.0f64..0.15,
        dup in 0.0f64..0.2,
        jitter in 0u64..40,
        b_seq in any::<u16>(),
        a_len in 0usize..60_000,
        b_len in 0usize..60_000,
    ) {
        let (x, y) = (data(a_len, 8), data(b_len, 9));
        let out = transfer(&x, &y, seed, loss, dup, jitter, b_seq);
        // With this much loss a connection may legitimately give up; what
        // arrived must then still be an exact prefix.
        let finished = out.a.close_reason() == Some(CloseReason::Finished);
        prop_assert!(x.starts_with(&out.b_read) && y.starts_with(&out.a_read));
        if finished {
            prop_assert!(out.b_read == x && out.a_read == y);
        }
    }
}
