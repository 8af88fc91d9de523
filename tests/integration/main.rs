//! Integration tests: the real `mktorrent-rs` binary on temporary content.
//!
//! - `common`: running the binary, building content trees, snapshot settings.
//! - `help`: `--help` of every subcommand (snapshots).
//! - `create`: flags, golden bytes, reproducibility, atomic output, errors.
//! - `roundtrip`: create → show → verify → magnet on single files and nested
//!   trees with empty files and non-ASCII names.
//! - `show`: human and JSON output (snapshots), lenient reading, unsafe paths.
//! - `verify`: corruption, missing files and wrong sizes are reported.
//! - `generated`: man/ and completions/ match the clap definition.
//! - `seeder`: the seeder on loopback against an in-process downloader:
//!   data and BEP 9 metadata byte for byte, dialling out, damage, shutdown.
//! - `v2`: v2 and hybrid layout rules, round trips, damage detection.

mod common;
mod create;
mod generated;
mod help;
mod roundtrip;
mod seeder;
mod show;
mod v2;
mod verify;
