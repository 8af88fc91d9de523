//! Integration tests: the real `mktorrent-rs` binary on temporary content.
