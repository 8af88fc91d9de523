//! Interop tests against real third-party tools (feature `interop`).
