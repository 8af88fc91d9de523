//! The peer wire protocol (BEP 3 with BEP 6, 9 and 10) and the seeder.
//!
//! - [`handshake`], [`message`]: PURE codecs, bytes in and values out.
pub mod handshake;
pub mod message;
