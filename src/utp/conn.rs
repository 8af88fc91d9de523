//! One uTP connection as a pure state machine (BEP 29): no sockets, no
//! clock reads, no global randomness. The caller feeds it parsed packets,
//! application bytes and the time, and drains datagrams to send with
//! [`Connection::poll_transmit`] after every call.
//!
//! It owns sequence and ACK numbers (u16, wrapping), the bounded send
//! buffer and in-flight packets, the receive buffer with reordering and
//! duplicate detection, selective ACKs both ways, fast retransmit, RTT/RTO
//! with exponential backoff, LEDBAT congestion control, FIN/RESET, keep-alive
//! and the idle timeout. It does not own connection ids: the adapter routes
//! packets by (address, id) and hands only this connection's packets here.
//!
//! Congestion control, kept simple on purpose: slow start (cwnd grows by the
//! bytes acked) until the first loss, timeout or a queuing delay above the
//! 100 ms target; afterwards LEDBAT as BEP 29 and libutp do it: per ACK,
//! `cwnd += 3000 * (off_target / target) * min(acked, cwnd) / max(acked, cwnd)`,
//! so the window moves by at most 3000 bytes per window's worth of ACKs. A
//! loss halves cwnd once per window; a timeout sets it to one packet and
//! restarts slow start up to half the old window. Bytes in flight count
//! payload only.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{Packet, PacketType, MAX_SACK_LEN};

/// Largest payload per packet: 20-byte header + SACK + 1400 stays within a
/// 1452-byte UDP payload, safe on common paths (BEP 29 leaves it to us).
pub const MAX_PAYLOAD: usize = 1400;
/// Bytes [`Connection::write`] accepts before they are packetised.
pub const SEND_BUFFER: usize = 1 << 20;
/// Receive buffer (readable plus held out-of-order bytes): our window.
pub const RECV_BUFFER: usize = 4 << 20;
/// Upper bound of the congestion window.
pub const MAX_CWND: usize = 8 << 20;
/// Packets in flight at most, far below the u16 half-space so sequence
/// comparisons stay unambiguous even with tiny packets.
pub const MAX_IN_FLIGHT_PACKETS: usize = 8192;
/// Out-of-order packets held beyond `ack_nr + 1` at most.
pub const MAX_REORDER: usize = 8192;
/// LEDBAT target queuing delay (BEP 29: 100 ms).
pub const TARGET_DELAY: Duration = Duration::from_millis(100);
/// LEDBAT gain: window change per RTT at most (libutp's value).
pub const MAX_CWND_INCREASE_PER_RTT: f64 = 3000.0;
/// BEP 29: the RTO never drops below 500 ms; it starts at 1 s.
pub const MIN_RTO: Duration = Duration::from_millis(500);
pub const INITIAL_RTO: Duration = Duration::from_secs(1);
pub const MAX_RTO: Duration = Duration::from_secs(30);
/// Consecutive timeouts before the connection is dropped (SYN: 1+2+4+8 s;
/// data: about a minute with backoff).
pub const MAX_SYN_TIMEOUTS: u32 = 4;
pub const MAX_TIMEOUTS: u32 = 6;
/// We send an ACK when we have sent nothing for this long (libutp: 29 s,
/// keeps NAT mappings), and give up on a peer silent for three of them.
pub const KEEPALIVE: Duration = Duration::from_secs(29);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// One base-delay bucket; two of them make the 2-minute history.
const DELAY_BUCKET: Duration = Duration::from_secs(60);
const DUP_ACK_THRESHOLD: u32 = 3;
const MIN_CWND: f64 = MAX_PAYLOAD as f64;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN and ours was acknowledged.
    Finished,
    /// A RESET was received, or we reset it.
    Reset,
    /// Too many consecutive timeouts, or the peer went silent.
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SynSent,
    Connected,
    Closed(CloseReason),
}

/// What changed since the last [`Connection::take_wakeups`]: whom the
/// adapter should wake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wakeups {
    /// Data, EOF or an error became visible to readers.
    pub readable: bool,
    /// Send buffer space, connection or an error became visible to writers.
    pub writable: bool,
}

/// A sent, not yet cumulatively acknowledged packet.
#[derive(Debug)]
struct Sent {
    seq: u16,
    ty: PacketType,
    payload: Vec<u8>,
    sent_at: Instant,
    transmissions: u32,
    /// Presumed lost: waits for retransmission, not counted in flight.
    lost: bool,
    /// Covered by a selective ACK: never retransmitted.
    sacked: bool,
    /// Already fast-retransmitted once; only a timeout resends it again.
    fast_resent: bool,
}

impl Sent {
    fn counted(&self) -> bool {
        !self.lost && !self.sacked
    }
}

/// A packet received ahead of a hole.
#[derive(Debug)]
struct Held {
    fin: bool,
    data: Vec<u8>,
}

/// Minimum of the peer's delay measurements per minute (BEP 29 base delay).
#[derive(Debug)]
struct BaseDelay {
    current: Option<u32>,
    previous: Option<u32>,
    bucket_start: Instant,
}

/// `a < b` on wrapping u32 microsecond stamps.
fn stamp_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn min_stamp(a: Option<u32>, b: u32) -> u32 {
    match a {
        Some(a) if stamp_lt(a, b) => a,
        _ => b,
    }
}

impl BaseDelay {
    fn add(&mut self, sample: u32, now: Instant) -> u32 {
        let age = now.saturating_duration_since(self.bucket_start);
        if age >= DELAY_BUCKET {
            self.previous = if age >= 2 * DELAY_BUCKET {
                None
            } else {
                self.current
            };
            self.current = None;
            self.bucket_start = now;
        }
        self.current = Some(min_stamp(self.current, sample));
        min_stamp(self.previous, min_stamp(self.current, sample))
    }
}

/// `a` is before `b` in u16 sequence space.
fn seq_lt(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) < 0
}

/// One uTP connection; see the module documentation.
#[derive(Debug)]
pub struct Connection {
    state: State,
    recv_id: u16,
    send_id: u16,
    epoch: Instant,
    /// Next sequence number to assign.
    seq_nr: u16,
    /// Last sequence number received in order.
    ack_nr: u16,

    unsent: VecDeque<u8>,
    in_flight: VecDeque<Sent>,
    bytes_in_flight: usize,
    lost_count: usize,
    cwnd: f64,
    /// Slow start runs until the first loss or delay above target, and
    /// again after a timeout up to `ssthresh`.
    slow_start: bool,
    ssthresh: f64,
    peer_wnd: usize,
    dup_acks: u32,
    /// Losses of packets before this sequence number were already answered
    /// by a window reduction.
    recovery_until: Option<u16>,
    rtt_us: Option<u64>,
    rtt_var_us: u64,
    rto: Duration,
    rto_deadline: Option<Instant>,
    timeouts: u32,
    /// The next data packet may ignore the peer's window (zero-window probe).
    probe: bool,
    base_delay: BaseDelay,
    last_delay_us: Option<u32>,

    readable: VecDeque<u8>,
    /// Index 0 is `ack_nr + 1` (always a hole while anything is held).
    reorder: VecDeque<Option<Held>>,
    reorder_bytes: usize,
    /// Our receive time minus the peer's last timestamp (sent back).
    reply_micro: u32,
    last_received: Instant,
    last_sent: Instant,
    ack_needed: bool,
    last_wnd_advertised: usize,
    peer_fin: Option<u16>,
    eof: bool,
    close_requested: bool,
    fin_sent: bool,
    fin_acked: bool,
    reset_pending: bool,
    /// Acceptor: the STATE answering the SYN (again, for a duplicate SYN).
    /// It always carries our initial seq_nr, because the initiator takes
    /// `seq_nr - 1` from it as its ack_nr even if we sent data since.
    syn_ack_pending: bool,
    initial_seq: u16,
    /// Acceptor: the SYN's seq_nr, to recognise duplicates.
    syn_seq: Option<u16>,
    wakeups: Wakeups,
}

impl Connection {
    fn new(
        recv_id: u16,
        send_id: u16,
        seq_nr: u16,
        ack_nr: u16,
        state: State,
        now: Instant,
    ) -> Self {
        Self {
            state,
            recv_id,
            send_id,
            epoch: now,
            seq_nr,
            ack_nr,
            unsent: VecDeque::new(),
            in_flight: VecDeque::new(),
            bytes_in_flight: 0,
            lost_count: 0,
            cwnd: 2.0 * MIN_CWND,
            slow_start: true,
            ssthresh: MAX_CWND as f64,
            peer_wnd: MAX_PAYLOAD,
            dup_acks: 0,
            recovery_until: None,
            rtt_us: None,
            rtt_var_us: 0,
            rto: INITIAL_RTO,
            rto_deadline: None,
            timeouts: 0,
            probe: false,
            base_delay: BaseDelay {
                current: None,
                previous: None,
                bucket_start: now,
            },
            last_delay_us: None,
            readable: VecDeque::new(),
            reorder: VecDeque::new(),
            reorder_bytes: 0,
            reply_micro: 0,
            last_received: now,
            last_sent: now,
            ack_needed: false,
            last_wnd_advertised: RECV_BUFFER,
            peer_fin: None,
            eof: false,
            close_requested: false,
            fin_sent: false,
            fin_acked: false,
            reset_pending: false,
            syn_ack_pending: false,
            initial_seq: seq_nr,
            syn_seq: None,
            wakeups: Wakeups::default(),
        }
    }

    /// Opens a connection: the SYN carries `conn_id_recv` (the id the peer
    /// will send to) and sequence number 1; we send with `conn_id_recv + 1`.
    pub fn connect(conn_id_recv: u16, now: Instant) -> Self {
        let mut conn = Self::new(
            conn_id_recv,
            conn_id_recv.wrapping_add(1),
            2,
            0,
            State::SynSent,
            now,
        );
        conn.in_flight.push_back(Sent {
            seq: 1,
            ty: PacketType::Syn,
            payload: Vec::new(),
            sent_at: now,
            transmissions: 0,
            lost: true,
            sacked: false,
            fast_resent: false,
        });
        conn.lost_count = 1;
        conn
    }

    /// Answers a SYN: we send with the SYN's id and receive on id + 1; our
    /// sequence numbers start at `rng_seq`. The first datagram is the STATE.
    pub fn accept(syn: &Packet<'_>, now: Instant, rng_seq: u16) -> Self {
        let id = syn.connection_id;
        let mut conn = Self::new(
            id.wrapping_add(1),
            id,
            rng_seq,
            syn.seq_nr,
            State::Connected,
            now,
        );
        conn.peer_wnd = syn.wnd_size as usize;
        conn.reply_micro = conn.micros(now).wrapping_sub(syn.timestamp_us);
        conn.syn_ack_pending = true;
        conn.syn_seq = Some(syn.seq_nr);
        conn
    }

    /// The id packets from the peer carry (the adapter's routing key).
    pub fn recv_id(&self) -> u16 {
        self.recv_id
    }

    pub fn send_id(&self) -> u16 {
        self.send_id
    }

    fn micros(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_micros() as u32
    }

    // ---- state queries ----

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.state {
            State::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    pub fn was_reset(&self) -> bool {
        self.state == State::Closed(CloseReason::Reset)
    }

    pub fn timed_out(&self) -> bool {
        self.state == State::Closed(CloseReason::TimedOut)
    }

    /// The peer's FIN arrived and every byte before it has been read: EOF.
    pub fn peer_closed(&self) -> bool {
        self.eof && self.readable.is_empty()
    }

    /// A read would return data, EOF or an error instead of waiting.
    pub fn is_readable(&self) -> bool {
        !self.readable.is_empty() || self.eof || self.is_closed()
    }

    /// Bytes [`Connection::write`] would accept now.
    pub fn send_capacity(&self) -> usize {
        if self.is_closed() || self.close_requested {
            return 0;
        }
        SEND_BUFFER - self.unsent.len()
    }

    /// [`Connection::close`] or [`Connection::reset`] was called, or the
    /// connection ended: writes are over.
    pub fn write_closed(&self) -> bool {
        self.close_requested || self.is_closed()
    }

    pub fn is_writable(&self) -> bool {
        self.send_capacity() > 0
    }

    /// Our FIN was acknowledged: nothing more of ours can be lost.
    pub fn fin_acked(&self) -> bool {
        self.fin_acked
    }

    /// Written bytes not yet acknowledged (queued or in flight).
    pub fn unacked_bytes(&self) -> usize {
        self.unsent.len()
            + self
                .in_flight
                .iter()
                .map(|s| s.payload.len())
                .sum::<usize>()
    }

    pub fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    pub fn bytes_in_flight(&self) -> usize {
        self.bytes_in_flight
    }

    pub fn peer_window(&self) -> usize {
        self.peer_wnd
    }

    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The last LEDBAT queuing delay estimate (current minus base).
    pub fn queuing_delay(&self) -> Option<Duration> {
        self.last_delay_us
            .map(|us| Duration::from_micros(u64::from(us)))
    }

    /// Whom to wake since the last call.
    pub fn take_wakeups(&mut self) -> Wakeups {
        std::mem::take(&mut self.wakeups)
    }

    fn recv_free(&self) -> usize {
        RECV_BUFFER.saturating_sub(self.readable.len() + self.reorder_bytes)
    }

    fn set_closed(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.state = State::Closed(reason);
            self.rto_deadline = None;
            self.wakeups = Wakeups {
                readable: true,
                writable: true,
            };
        }
    }

    // ---- application side ----

    /// Queues bytes to send; returns how many fit in the send buffer.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.send_capacity());
        self.unsent.extend(&data[..n]);
        n
    }

    /// Copies in-order received bytes into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        let (a, b) = self.readable.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.readable.drain(..n);
        // Tell a sender stalled on our window that it reopened.
        if n > 0 && self.recv_free() >= self.last_wnd_advertised + RECV_BUFFER / 4 {
            self.ack_needed = true;
        }
        n
    }

    /// Sends FIN once the queued data is out; reading continues until EOF.
    pub fn close(&mut self) {
        self.close_requested = true;
        self.wakeups.writable = true;
    }

    /// Drops the connection now and tells the peer with a RESET.
    pub fn reset(&mut self) {
        if !self.is_closed() {
            self.reset_pending =
                self.state != State::SynSent || self.in_flight.iter().any(|s| s.transmissions > 0);
            self.set_closed(CloseReason::Reset);
        }
    }

    // ---- network side ----

    /// Handles one packet addressed to this connection.
    pub fn on_packet(&mut self, p: &Packet<'_>, now: Instant) {
        if self.is_closed() {
            // A retransmitted FIN after we finished still deserves its ACK.
            if self.state == State::Closed(CloseReason::Finished) && p.ty == PacketType::Fin {
                self.ack_needed = true;
            }
            return;
        }
        self.last_received = now;
        self.reply_micro = self.micros(now).wrapping_sub(p.timestamp_us);
        match p.ty {
            PacketType::Reset => {
                self.set_closed(CloseReason::Reset);
                return;
            }
            PacketType::Syn => {
                // A duplicate SYN: our STATE was lost; send it again.
                if self.syn_seq == Some(p.seq_nr) {
                    self.syn_ack_pending = true;
                }
                return;
            }
            _ => {}
        }
        if self.state == State::SynSent {
            if p.ty != PacketType::State || p.ack_nr != 1 {
                return;
            }
            // The STATE's seq_nr is the peer's next one, not consumed (libutp).
            self.ack_nr = p.seq_nr.wrapping_sub(1);
            self.state = State::Connected;
            self.wakeups.writable = true;
        }
        self.peer_wnd = p.wnd_size as usize;
        self.process_ack(p, now);
        if matches!(p.ty, PacketType::Data | PacketType::Fin) {
            self.receive(p);
        }
        if self.fin_acked && self.eof {
            self.set_closed(CloseReason::Finished);
        }
    }

    fn process_ack(&mut self, p: &Packet<'_>, now: Instant) {
        let Some(front) = self.in_flight.front() else {
            return;
        };
        let newly = usize::from(p.ack_nr.wrapping_sub(front.seq).wrapping_add(1));
        if newly > self.in_flight.len() {
            // Acks something never sent (or ancient): ignore its ACK part.
            return;
        }
        let in_flight_before = self.bytes_in_flight;
        let mut acked_bytes = 0;
        let mut rtt_sample = None;
        for _ in 0..newly {
            let Some(sent) = self.in_flight.pop_front() else {
                break;
            };
            if sent.counted() {
                self.bytes_in_flight -= sent.payload.len();
            }
            if sent.lost {
                self.lost_count -= 1;
            }
            if !sent.sacked {
                acked_bytes += sent.payload.len();
            }
            // Karn: only packets sent once give an unambiguous RTT.
            if sent.transmissions == 1 {
                rtt_sample = Some(now.saturating_duration_since(sent.sent_at));
            }
            if sent.ty == PacketType::Fin {
                self.fin_acked = true;
            }
        }
        if newly > 0 {
            self.dup_acks = 0;
            self.timeouts = 0;
            self.rto_deadline = if self.in_flight.is_empty() {
                None
            } else {
                Some(now + self.rto)
            };
            if let Some(sample) = rtt_sample {
                self.update_rtt(sample);
            }
        } else if p.ty == PacketType::State && !self.in_flight.is_empty() {
            self.dup_acks += 1;
            if self.dup_acks == DUP_ACK_THRESHOLD {
                self.mark_lost(0);
            }
        }
        if let Some(mask) = p.sack {
            acked_bytes += self.apply_sack(p.ack_nr, mask);
        }
        if acked_bytes > 0 {
            let delay = (p.timestamp_diff_us != 0).then_some(p.timestamp_diff_us);
            self.grow_window(acked_bytes, in_flight_before, delay, now);
        }
    }

    /// Marks SACKed packets, then declares lost every hole with at least
    /// three SACKed packets after it. Returns newly acknowledged bytes.
    fn apply_sack(&mut self, ack_nr: u16, mask: &[u8]) -> usize {
        let Some(front) = self.in_flight.front() else {
            return 0;
        };
        // Packet ack_nr + 2 + i sits at this index plus i.
        let base = usize::from(ack_nr.wrapping_add(2).wrapping_sub(front.seq));
        if base > self.in_flight.len() {
            return 0;
        }
        let mut acked = 0;
        for i in 0..mask.len() * 8 {
            if !super::packet::sack_bit(mask, i) {
                continue;
            }
            let Some(sent) = self.in_flight.get_mut(base + i) else {
                break;
            };
            if !sent.sacked {
                if sent.counted() {
                    self.bytes_in_flight -= sent.payload.len();
                }
                if sent.lost {
                    sent.lost = false;
                    self.lost_count -= 1;
                }
                sent.sacked = true;
                acked += sent.payload.len();
            }
        }
        let mut sacked_after = 0;
        let mut holes = Vec::new();
        for (index, sent) in self.in_flight.iter().enumerate().rev() {
            if sent.sacked {
                sacked_after += 1;
            } else if sacked_after >= DUP_ACK_THRESHOLD && !sent.lost && !sent.fast_resent {
                holes.push(index);
            }
        }
        for index in holes {
            self.mark_lost(index);
        }
        acked
    }

    /// Fast retransmit: the packet at `index` goes out again; the window
    /// halves once per window of data.
    fn mark_lost(&mut self, index: usize) {
        let Some(sent) = self.in_flight.get_mut(index) else {
            return;
        };
        if sent.sacked || sent.lost || sent.fast_resent || sent.transmissions == 0 {
            return;
        }
        sent.lost = true;
        sent.fast_resent = true;
        let seq = sent.seq;
        self.bytes_in_flight -= sent.payload.len();
        self.lost_count += 1;
        if self.recovery_until.is_none_or(|until| !seq_lt(seq, until)) {
            self.cwnd = (self.cwnd / 2.0).max(MIN_CWND);
            self.slow_start = false;
            self.recovery_until = Some(self.seq_nr);
        }
    }

    /// BEP 29: rtt_var += (|rtt - sample| - rtt_var) / 4; rtt += (sample -
    /// rtt) / 8; rto = max(rtt + 4 * rtt_var, 500 ms).
    fn update_rtt(&mut self, sample: Duration) {
        let sample = sample.as_micros() as u64;
        match self.rtt_us {
            None => {
                self.rtt_us = Some(sample);
                self.rtt_var_us = sample / 2;
            }
            Some(rtt) => {
                let delta = rtt.abs_diff(sample);
                self.rtt_var_us =
                    (self.rtt_var_us as i64 + (delta as i64 - self.rtt_var_us as i64) / 4) as u64;
                self.rtt_us = Some((rtt as i64 + (sample as i64 - rtt as i64) / 8) as u64);
            }
        }
        let rto = Duration::from_micros(self.rtt_us.unwrap_or(0) + 4 * self.rtt_var_us);
        self.rto = rto.clamp(MIN_RTO, MAX_RTO);
    }

    /// Slow start, then LEDBAT (see the module documentation).
    fn grow_window(
        &mut self,
        acked: usize,
        in_flight_before: usize,
        delay: Option<u32>,
        now: Instant,
    ) {
        let our_delay = delay.map(|sample| {
            let base = self.base_delay.add(sample, now);
            sample.wrapping_sub(base).min(i32::MAX as u32)
        });
        self.last_delay_us = our_delay;
        let target = TARGET_DELAY.as_micros() as f64;
        // An application-limited sender must not inflate a window it does not use.
        let cwnd_limited = (in_flight_before + acked) as f64 * 2.0 >= self.cwnd;
        let above_target = our_delay.is_some_and(|d| f64::from(d) > target);
        if above_target {
            self.slow_start = false;
        }
        if self.slow_start {
            if cwnd_limited {
                self.cwnd += acked as f64;
            }
            if self.cwnd >= self.ssthresh {
                self.slow_start = false;
            }
        } else if let Some(d) = our_delay {
            let delay_factor = (target - f64::from(d)) / target;
            let window_factor = (acked as f64).min(self.cwnd) / (acked as f64).max(self.cwnd);
            let gain = MAX_CWND_INCREASE_PER_RTT * delay_factor * window_factor;
            if gain < 0.0 || cwnd_limited {
                self.cwnd += gain;
            }
        }
        self.cwnd = self.cwnd.clamp(MIN_CWND, MAX_CWND as f64);
    }

    fn receive(&mut self, p: &Packet<'_>) {
        // Every data packet, even a duplicate, is answered: the ACK may be
        // what the peer lost.
        self.ack_needed = true;
        let distance = usize::from(p.seq_nr.wrapping_sub(self.ack_nr.wrapping_add(1)));
        if distance >= 0x8000 || self.eof {
            return; // already delivered
        }
        if self.peer_fin.is_some_and(|fin| seq_lt(fin, p.seq_nr)) || distance >= MAX_REORDER {
            return;
        }
        let fin = p.ty == PacketType::Fin;
        if p.payload.len() > self.recv_free() {
            return; // beyond our window: the peer will resend
        }
        if fin {
            self.peer_fin = Some(p.seq_nr);
        }
        if distance > 0 {
            while self.reorder.len() <= distance {
                self.reorder.push_back(None);
            }
            if self.reorder[distance].is_none() {
                self.reorder_bytes += p.payload.len();
                self.reorder[distance] = Some(Held {
                    fin,
                    data: p.payload.to_vec(),
                });
            }
            return;
        }
        self.reorder.pop_front();
        self.deliver(fin, p.payload);
        while let Some(Some(_)) = self.reorder.front() {
            if let Some(Some(held)) = self.reorder.pop_front() {
                self.reorder_bytes -= held.data.len();
                self.deliver(held.fin, &held.data);
            }
        }
    }

    fn deliver(&mut self, fin: bool, data: &[u8]) {
        self.ack_nr = self.ack_nr.wrapping_add(1);
        self.readable.extend(data);
        if fin {
            self.eof = true;
            self.reorder.clear();
            self.reorder_bytes = 0;
        }
        self.wakeups.readable = true;
    }

    /// Call when [`Connection::next_timeout`] has passed (early calls are
    /// harmless): retransmission with backoff, keep-alive, idle timeout.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if now.saturating_duration_since(self.last_received) >= IDLE_TIMEOUT {
            self.set_closed(CloseReason::TimedOut);
            return;
        }
        if self.rto_deadline.is_some_and(|deadline| now >= deadline) {
            if self.in_flight.is_empty() {
                // Nothing in flight but blocked by the peer's window: probe.
                self.probe = true;
                self.rto_deadline = Some(now + self.rto);
            } else {
                self.timeouts += 1;
                let limit = if self.state == State::SynSent {
                    MAX_SYN_TIMEOUTS
                } else {
                    MAX_TIMEOUTS
                };
                if self.timeouts >= limit {
                    self.set_closed(CloseReason::TimedOut);
                    return;
                }
                self.rto = (self.rto * 2).min(MAX_RTO);
                self.ssthresh = (self.cwnd / 2.0).max(MIN_CWND);
                self.cwnd = MIN_CWND;
                self.slow_start = true;
                self.recovery_until = Some(self.seq_nr);
                for sent in &mut self.in_flight {
                    if !sent.sacked && !sent.lost {
                        sent.lost = true;
                        self.lost_count += 1;
                    }
                    sent.fast_resent = false;
                }
                self.bytes_in_flight = 0;
                self.rto_deadline = Some(now + self.rto);
            }
        }
        if self.state == State::Connected
            && now.saturating_duration_since(self.last_sent) >= KEEPALIVE
        {
            self.ack_needed = true;
        }
    }

    /// When [`Connection::on_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.last_received + IDLE_TIMEOUT;
        if let Some(rto) = self.rto_deadline {
            next = next.min(rto);
        }
        if self.state == State::Connected {
            next = next.min(self.last_sent + KEEPALIVE);
        }
        Some(next)
    }

    /// Writes the next datagram to send into `out` (cleared first) and
    /// returns true, or returns false when there is nothing to send now.
    /// Call it until it returns false after every other call.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.reset_pending {
            self.reset_pending = false;
            self.emit(PacketType::Reset, self.seq_nr, None, &[], now, out);
            return true;
        }
        match self.state {
            State::Closed(CloseReason::Finished) if self.ack_needed => {
                self.emit(PacketType::State, self.seq_nr, None, &[], now, out);
                return true;
            }
            State::Closed(_) => return false,
            _ => {}
        }
        let window = self.cwnd.min(self.peer_wnd as f64) as usize;
        if self.lost_count > 0 {
            if let Some(index) = self.in_flight.iter().position(|s| s.lost) {
                let len = self.in_flight[index].payload.len();
                // The oldest packet holds the whole window up: resend it at once.
                if index == 0 || self.bytes_in_flight == 0 || self.bytes_in_flight + len <= window {
                    let sent = &self.in_flight[index];
                    let wnd = self.write_packet(sent.ty, sent.seq, None, &sent.payload, now, out);
                    self.after_emit(now, wnd, false);
                    let sent = &mut self.in_flight[index];
                    sent.lost = false;
                    sent.transmissions += 1;
                    sent.sent_at = now;
                    self.lost_count -= 1;
                    self.bytes_in_flight += len;
                    self.rto_deadline.get_or_insert(now + self.rto);
                    return true;
                }
            }
        }
        if self.state == State::SynSent {
            return false;
        }
        if self.syn_ack_pending {
            self.syn_ack_pending = false;
            self.emit(PacketType::State, self.initial_seq, None, &[], now, out);
            return true;
        }
        if self.ack_needed && self.reorder.len() > 1 {
            let mut mask = [0u8; MAX_SACK_LEN];
            // reorder[j] is ack_nr + 1 + j, i.e. SACK bit j - 1.
            let mut highest = 0;
            for (j, held) in self
                .reorder
                .iter()
                .enumerate()
                .skip(1)
                .take(MAX_SACK_LEN * 8)
            {
                if held.is_some() {
                    mask[(j - 1) / 8] |= 1 << ((j - 1) % 8);
                    highest = j;
                }
            }
            let len = (highest.div_ceil(32) * 4).clamp(4, MAX_SACK_LEN);
            self.emit(
                PacketType::State,
                self.seq_nr,
                Some(&mask[..len]),
                &[],
                now,
                out,
            );
            return true;
        }
        if !self.unsent.is_empty() && self.in_flight.len() < MAX_IN_FLIGHT_PACKETS {
            let want = self.unsent.len().min(MAX_PAYLOAD);
            let len = if self.bytes_in_flight + want <= window || self.probe {
                want
            } else if self.bytes_in_flight == 0 {
                want.min(window)
            } else {
                0
            };
            if len > 0 {
                self.probe = false;
                let payload: Vec<u8> = self.unsent.drain(..len).collect();
                self.send_new(PacketType::Data, payload, now, out);
                self.wakeups.writable = true;
                return true;
            }
            if self.in_flight.is_empty() {
                // Blocked by a zero window: probe when this expires.
                self.rto_deadline.get_or_insert(now + self.rto);
            }
        }
        if self.close_requested && self.unsent.is_empty() && !self.fin_sent {
            self.fin_sent = true;
            self.send_new(PacketType::Fin, Vec::new(), now, out);
            return true;
        }
        if self.ack_needed {
            self.emit(PacketType::State, self.seq_nr, None, &[], now, out);
            return true;
        }
        false
    }

    fn send_new(&mut self, ty: PacketType, payload: Vec<u8>, now: Instant, out: &mut Vec<u8>) {
        let seq = self.seq_nr;
        self.seq_nr = self.seq_nr.wrapping_add(1);
        self.emit(ty, seq, None, &payload, now, out);
        self.bytes_in_flight += payload.len();
        self.in_flight.push_back(Sent {
            seq,
            ty,
            payload,
            sent_at: now,
            transmissions: 1,
            lost: false,
            sacked: false,
            fast_resent: false,
        });
        self.rto_deadline.get_or_insert(now + self.rto);
    }

    fn emit(
        &mut self,
        ty: PacketType,
        seq_nr: u16,
        sack: Option<&[u8]>,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        let wnd = self.write_packet(ty, seq_nr, sack, payload, now, out);
        self.after_emit(now, wnd, sack.is_some());
    }

    /// Encodes one packet with our current header fields; returns the
    /// window it advertised.
    fn write_packet(
        &self,
        ty: PacketType,
        seq_nr: u16,
        sack: Option<&[u8]>,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> usize {
        let wnd = self.recv_free();
        Packet {
            ty,
            // BEP 29: the SYN carries the id we receive on, the rest our send id.
            connection_id: if ty == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp_us: self.micros(now),
            timestamp_diff_us: self.reply_micro,
            wnd_size: wnd.min(u32::MAX as usize) as u32,
            seq_nr,
            ack_nr: if ty == PacketType::Syn {
                0
            } else {
                self.ack_nr
            },
            sack,
            payload,
        }
        .encode(out);
        wnd
    }

    fn after_emit(&mut self, now: Instant, wnd: usize, had_sack: bool) {
        self.last_sent = now;
        self.last_wnd_advertised = wnd;
        // Any packet carries ack_nr; only a SACK describes held packets.
        if had_sack || self.reorder.len() <= 1 {
            self.ack_needed = false;
        }
    }
}

#[cfg(test)]
mod tests;
