//! Interop tests against real third-party tools (feature `interop`).
//!
//! - `tracker`: libtorrent and aria2 announce to our tracker over HTTP and
//!   UDP and download through it.

mod tracker;
