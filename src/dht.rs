//! Mainline DHT (BEP 5) node.
//!
//! Pure protocol logic lives in the submodules [`id`], [`krpc`],
//! [`routing_table`], [`tokens`], [`peer_store`], [`lookup`] and
//! [`rate_limit`]: they take bytes, time and randomness as inputs and never
//! touch a socket.

pub mod id;
pub mod krpc;
pub mod lookup;
pub mod peer_store;
pub mod rate_limit;
pub mod routing_table;
pub mod tokens;
