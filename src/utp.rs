//! uTP (BEP 29): BitTorrent's reliable, delay-based transport over UDP, so
//! the seeder can serve peers that prefer it and share one port with the DHT.
//!
//! [`packet`] is the pure codec, [`conn`] the pure per-connection state
//! machine (sequence numbers, reordering, selective ACKs, RTO, LEDBAT), with
//! time and randomness as parameters; [`socket`] is the thin tokio adapter
//! that owns the UDP socket, routes datagrams to connections and exposes
//! [`UtpStream`]s. Non-uTP datagrams (KRPC) are handed on, never parsed here.

pub mod conn;
pub mod packet;
pub mod socket;

pub use conn::Connection;
pub use packet::{is_utp, Packet, PacketError, PacketType};
pub use socket::{Config, UtpSocket, UtpStream};
