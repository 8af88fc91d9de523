//! Integration tests: the real `mktorrent-rs` binary on temporary content.
//!
//! - `announce`: the tracker client against our tracker over HTTP and UDP,
//!   and against silent, failing and refusing trackers (tier fallback).
//! - `common`: running the binary, building content trees, snapshot settings.
//! - `help`: `--help` of every subcommand (snapshots).
//! - `create`: flags, golden bytes, reproducibility, atomic output, errors.
//! - `create_url`: `create URL` on the loopback web server: the same torrent
//!   as `create FILE`/`DIR` (v1, v2, hybrid), server faults as errors, and
//!   peak memory while streaming a generated body.
//! - `roundtrip`: create → show → verify → magnet on single files and nested
//!   trees with empty files and non-ASCII names.
//! - `show`: human and JSON output (snapshots), lenient reading, unsafe paths.
//! - `verify`: corruption, missing files and wrong sizes are reported.
//! - `edit`: every `edit` flag; bytes outside the edited keys kept, info
//!   hashes kept or changed as reported; --dry-run and errors write nothing.
//! - `downloader`: a minimal downloader from our codecs (seeder, publish).
//! - `dht`: a loopback network of our DHT nodes (lookups, announce, expiry)
//!   and a raw KRPC probe of one node.
//! - `dht_mainline`: interop with the `mainline` crate's nodes, both directions.
//! - `fuzz_corpus`: every fuzz target's committed seeds through its harness
//!   (`mktorrent_rs::fuzzing`) on stable.
//! - `generated`: man/ and completions/ match the clap definition.
//! - `preset`: `create/publish --preset`: precedence (command line, preset,
//!   default), both file locations, unknown keys, wrong types, unknown presets.
//! - `publish`: the real binary seeding to our downloader via the embedded
//!   tracker, the DHT only and the magnet's x.pe; stop conditions, SIGTERM,
//!   web seed checks, flag errors.
//! - `rate_limit`: upload limits hold the rate, share it fairly between
//!   downloaders, and cost nothing when off.
//! - `seeder`: the seeder on loopback against an in-process downloader:
//!   data and BEP 9 metadata byte for byte, dialling out, damage, shutdown.
//! - `status_server`: publish's status page, /status.json and /metrics
//!   served in-process from a hand-built snapshot: routes, content types,
//!   HEAD, the watch channel, the connection cap, shutdown.
//! - `status_snapshot`: that two-torrent snapshot (shared with interop).
//! - `v2`: v2 and hybrid layout rules, round trips, damage detection.
//! - `v2_seed`: seeding BEP 52: v2-only pieces checked against the piece
//!   layers the seeder serves (hash requests), hybrids by their v2 hash,
//!   rejected hash requests, refused content, `publish --v2`.
//! - `tracker`: the tracker's HTTP and UDP contract on loopback (in-process
//!   servers on port 0, and the real binary with SIGTERM).
//! - `tracker_keys`: `tracker --keys`: private mode over HTTP and UDP (BEP 41
//!   URL data); known, unknown and missing passkeys; SIGHUP and file changes
//!   adding and revoking keys; per-key counters in /stats.json and no key on
//!   any page or in the log; `publish` announcing to a private UDP tracker.
//! - `tracker_status`: `tracker --allowed-dir`'s status page: a hybrid in
//!   one row, unannounced torrents, escaping, `/stats.json` rows, and
//!   `--allow-get` downloads (byte for byte; 404 without the flag).
//! - `tracker_redis`: `tracker --store redis://`: three processes on one
//!   Redis (HTTP, UDP with a shared --udp-key, kill -9), Redis stopped and
//!   restarted (degraded answers, /metrics, recovery), --store-required,
//!   a one-node Redis Cluster.
//! - `web_server`: a loopback HTTP server with broken-mirror behaviours and
//!   generated bodies.
//! - `webseed`: check-web-seeds verdicts, --drop-failing, create's BEP 19
//!   warnings, magnets with web seeds, exact source and peers.

mod announce;
mod common;
mod create;
mod create_url;
mod dht;
mod dht_mainline;
mod downloader;
mod edit;
mod fuzz_corpus;
mod generated;
mod help;
mod preset;
mod publish;
mod publish_many;
mod rate_limit;
mod roundtrip;
mod seeder;
mod seeder_limits;
mod show;
mod status_server;
mod status_snapshot;
mod tracker;
mod tracker_keys;
mod tracker_redis;
mod tracker_status;
mod v2;
mod v2_seed;
mod verify;
mod web_server;
mod webseed;
