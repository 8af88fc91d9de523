//! The uTP packet parser (`utp::Packet::parse`, BEP 29) on arbitrary
//! datagrams, and the connection state machine on whatever it accepts.
//!
//! Checks, beyond "never panics": `is_utp` holds for every accepted packet;
//! an accepted packet encodes to bytes that parse to the same packet; a
//! fresh accepted connection (and a connecting one) takes the packet through
//! `on_packet`, timeouts and `poll_transmit` without panicking, and every
//! datagram it then emits parses again.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::utp::{is_utp, Connection, Packet, PacketType};

fn drain(conn: &mut Connection, now: Instant) {
    let mut out = Vec::new();
    for _ in 0..64 {
        if !conn.poll_transmit(now, &mut out) {
            break;
        }
        assert!(Packet::parse(&out).is_ok(), "we emitted an unparsable datagram");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    assert!(is_utp(data));
    let encoded = packet.to_vec();
    assert_eq!(Packet::parse(&encoded), Ok(packet.clone()), "packet changed across encode/parse");

    let now = Instant::now();
    let syn = Packet {
        ty: PacketType::Syn,
        connection_id: packet.connection_id.wrapping_sub(1),
        seq_nr: packet.seq_nr.wrapping_sub(1),
        ack_nr: 0,
        sack: None,
        payload: &[],
        ..packet.clone()
    };
    let mut accepted = Connection::accept(&syn, now, packet.ack_nr.wrapping_sub(3));
    accepted.write(b"some data to have packets in flight");
    drain(&mut accepted, now);
    accepted.on_packet(&packet, now);
    let mut buf = [0; 2048];
    accepted.read(&mut buf);
    drain(&mut accepted, now);
    accepted.on_timeout(now + Duration::from_secs(2));
    drain(&mut accepted, now + Duration::from_secs(2));

    let mut connecting = Connection::connect(packet.connection_id, now);
    drain(&mut connecting, now);
    connecting.on_packet(&packet, now);
    connecting.on_packet(&packet, now);
    drain(&mut connecting, now);
});
