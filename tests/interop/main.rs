//! Interop tests against real third-party tools (feature `interop`).
//!
//! Each module drives one peer tool against the real `mktorrent-rs` binary
//! on content made in temp dirs. `.ci/run` installs the tools; with the
//! feature on, a missing tool fails the test with the package to install
//! (`support::require`), never a silent skip.
//!
//! - `support`: running our binary and the tools, deterministic content
//!   trees, JSON helpers.
//! - `mktorrent`: same content and piece length → same info hash and
//!   metadata as mktorrent 1.1; verify accepts its torrents; where it
//!   differs (hidden files, file order) is pinned.
//! - `libtorrent`: libtorrent 2.0 (Python bindings via `lt_inspect.py`)
//!   loads our torrents and magnet links with the metadata we intended;
//!   torrents it hashes itself have our info hash.
//! - `transmission`: transmission-show reads ours with our info hash; we
//!   verify transmission-create's torrents and `show` agrees with
//!   transmission-show and libtorrent on third-party torrents.
//! - `edit`: edited v1, v2 and hybrid torrents load in libtorrent with the
//!   trackers, web seeds and info hashes meant; tracker add/remove gives
//!   transmission-edit's announce lists (and bytes where its shape is ours).
//! - `aria2`: `aria2c --show-files` reads ours with our hash and files.
//! - `fixtures`: `tests/fixtures/` matches its README and recipe.
//! - `seeder`: libtorrent downloads from our seeder on loopback, dialling
//!   it directly and from a magnet with `x.pe` (metadata over BEP 9).
//! - `v2`: v2 and hybrid torrents equal libtorrent's own (hashes, roots,
//!   piece layers, pad files); libtorrent downloads our hybrid.
//! - `v2_seed`: libtorrent, given only a `btmh` magnet with `x.pe`,
//!   completes a v2-only and a hybrid torrent from `publish` (BEP 52 hash
//!   requests for the piece layers), byte for byte.
//! - `dht`: libtorrent's DHT finds peers through our DHT nodes, and our
//!   `dht get-peers` finds a libtorrent seeder's announce (loopback only).
//! - `publish`: `mktorrent-rs publish` (the real command, `--json`) seeds
//!   to libtorrent found through its embedded HTTP and UDP trackers, the
//!   DHT (bare magnet) and its magnet's `x.pe`; to aria2 through the tracker
//!   and the DHT; to Transmission by dialling it; a hybrid is announced
//!   under both hashes. Each stops itself with `--until-downloads 1`.
//! - `netns`: network namespaces (veth to 10.231.T.1/.2, a firewall that
//!   keeps everything on this machine, optional loss and delay) for
//!   clients that ignore loopback peers; cleaned up even on panic. Root.
//! - `swarm`: seeders on one address for the tests below: `publish` via its
//!   embedded tracker or a private DHT, or the libtorrent control seeder
//!   (`lt_seeder.py seed`) via `tracker` or the same DHT.
//! - `transmission_netns`: Transmission 3.00, default settings, in a
//!   namespace, through a tracker and from a DHT-only magnet (its DHT
//!   bootstrapped from a `dht.dat`).
//! - `rtorrent`: rtorrent, DHT on, headless, downloads a DHT-only magnet.
//! - `qbittorrent`: qBittorrent through its Web API and a tracker.
//! - `utp`: libtorrent with TCP off downloads over uTP via a tracker, x.pe
//!   and the DHT, and over a lossy namespace link.
//!
//!   Each of the last four proves its client harness against the libtorrent
//!   control (`*_control_libtorrent_seeder`), then downloads from
//!   `publish` the same way (over uTP, or by publish dialling the client).
//! - `bep52_proofs`: a libtorrent seeder's answers to BEP 52 hash requests
//!   equal ours byte for byte (recorded into `tests/fixtures/bep52/`).
//! - `mse`: our MSE/PE state machine with fixed secrets, live against
//!   libtorrent forcing RC4 (it dials our responder; our initiator dials
//!   it); `UPDATE_FIXTURES=1` records the exchanges into
//!   `tests/fixtures/mse/` for the unit tests' replay.
//! - `status_page`: publish's status page rendered by headless Chromium
//!   (both torrents, names parsed as text) and its `/metrics` read by
//!   Prometheus's Python parser; `chromium_dom` and `assert_prometheus`
//!   serve any status page test. Its snapshot is `status_snapshot`, shared
//!   with the integration tests.
//! - `tracker`: libtorrent and aria2 announce to our tracker over HTTP and
//!   UDP and download through it; libtorrent through a private (`--keys`)
//!   UDP tracker, its passkey in BEP 41 URL data, counted per key.
//! - `tracker_status_page`: `tracker --allowed-dir --allow-get`'s page in
//!   headless Chromium after libtorrent announced a hybrid: names as text,
//!   one hybrid row with both hashes, download and stats links.
//! - `tracker_redis`: two `tracker --store redis://` processes on one
//!   redis-server: libtorrent seeds through A, another downloads through B.
//! - `webseed`: aria2 and libtorrent download our single- and multi-file
//!   torrents from a loopback web seed alone (`web_server`, shared with the
//!   integration tests), byte for byte; libtorrent reads our magnets' web
//!   seeds, peers and v2 hash.

mod aria2;
mod bep52_proofs;
mod completions;
mod dht;
mod edit;
mod fixtures;
mod libtorrent;
mod mktorrent;
mod mse;
mod netns;
mod publish;
mod qbittorrent;
mod rtorrent;
mod seeder;
mod status_page;
// The integration tests use all of it; only part here.
#[allow(dead_code)]
#[path = "../integration/status_snapshot.rs"]
mod status_snapshot;
mod support;
mod swarm;
mod tracker;
mod tracker_redis;
mod tracker_status_page;
mod transmission;
mod transmission_netns;
mod utp;
mod v2;
mod v2_seed;
#[path = "../integration/web_server.rs"]
mod web_server;
mod webseed;
