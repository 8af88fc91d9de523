//! Interop tests against real third-party tools (feature `interop`).

// dht: libtorrent finds peers through our DHT nodes, and we find libtorrent's.
mod dht;
