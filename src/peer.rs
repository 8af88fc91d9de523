//! The peer wire protocol (BEP 3 with BEP 6, 9 and 10) and the seeder.
//!
//! - [`handshake`], [`message`]: PURE codecs, bytes in and values out.
//! - [`mse`]: PURE MSE/PE handshake (both roles); [`crypt`] runs it over a
//!   stream and wraps the stream in RC4 after it.
//! - [`session`]: PURE per-connection state (choke, interest, request
//!   queue, keep-alives, idle timeout), time passed in.
//! - [`choker`]: PURE upload-slot rotation across all connections.
//! - [`rate`]: PURE token bucket for upload rate limits, and the shared
//!   limiter connections wait on.
//! - [`seeder`]: the tokio adapter: listens, dials, reads content, serves.

pub mod choker;
pub mod crypt;
pub mod handshake;
pub mod message;
pub mod mse;
pub mod pex;
pub mod rate;
pub mod seeder;
pub mod session;
