//! Mainline DHT (BEP 5) node: the router `dht serve` runs and the client
//! `publish` announces through.
//!
//! Pure protocol logic lives in the submodules [`id`], [`krpc`],
//! [`routing_table`], [`tokens`], [`peer_store`], [`lookup`] and
//! [`rate_limit`], [`state`]: they take bytes, time and randomness as inputs and never
//! touch a socket. [`node`] is the thin tokio adapter that owns the UDP
//! socket and drives them.
//!
//! Using it: bind a UDP socket, then [`Dht::start`] with a [`Config`]
//! (bootstrap list included; the public routers are *not* implied, callers
//! such as the CLI add [`DEFAULT_ROUTERS`] themselves) and a
//! [`Shutdown`](crate::shutdown::Shutdown). The returned handle offers
//! [`Dht::announce`], [`Dht::get_peers`], [`Dht::seed`], [`Dht::ping`],
//! [`Dht::find_node`] and [`Dht::stats`]. Trigger the shutdown and await
//! `finished()` to stop the node.

pub mod id;
pub mod krpc;
pub mod lookup;
pub mod node;
pub mod peer_store;
pub mod rate_limit;
pub mod routing_table;
pub mod state;
pub mod tokens;

use std::net::SocketAddr;

pub use id::Id;
pub use krpc::NodeInfo;
pub use node::{Announce, Clock, Config, Counters, Dht, GetPeers, Stats};

/// The well-known public bootstrap routers, used when nothing else is given.
pub const DEFAULT_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];

/// Why a request to the node failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhtError {
    #[error("the DHT node has stopped")]
    Stopped,
    #[error("no reply from {0}")]
    Timeout(SocketAddr),
    #[error("{addr} answered with error {code}: {message}")]
    Remote {
        addr: SocketAddr,
        code: i64,
        message: String,
    },
}

/// Saves the routing tables of `dht` (and of an IPv6 twin) to `path`,
/// written beside and renamed so a crash never leaves half a file.
pub async fn save_state(
    dht: &Dht,
    dht6: Option<&Dht>,
    path: &std::path::Path,
) -> crate::error::Result<()> {
    let mut nodes = dht.nodes().await?;
    if let Some(dht6) = dht6 {
        nodes.extend(dht6.nodes().await?);
    }
    let state = state::State {
        id: Some(dht.id()),
        nodes,
    };
    let fail = |err: std::io::Error| crate::error::Error::DhtState {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let bytes = state
        .encode()
        .map_err(|err| crate::error::Error::DhtState {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, bytes).map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)
}
