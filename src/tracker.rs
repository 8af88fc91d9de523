//! The embedded BitTorrent tracker: HTTP (BEP 3, 7, 23, 24, 48) and UDP
//! (BEP 15, 41) over one in-memory swarm store.
//!
//! Pure protocol logic lives in [`swarm`], [`http_proto`], [`udp_proto`] and
//! [`connection_id`]; the tokio/hyper adapters that own sockets are thin.

pub mod connection_id;
pub mod http_proto;
pub mod swarm;
pub mod udp_proto;
