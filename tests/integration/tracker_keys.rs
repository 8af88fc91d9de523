//! `tracker --keys`: private mode with passkeys, on the real binary. HTTP
//! `/announce/KEY` and `/scrape/KEY`, UDP with BEP 41 URL data
//! `/announce/KEY`: known keys accepted, unknown and missing ones refused;
//! SIGHUP and file changes add and revoke keys (a bad file keeps the old
//! ones); per-key counters in `/stats.json`, no key on any page or in the
//! log; `publish` announcing to a private UDP tracker; keys in a Redis set
//! (`--keys-redis-set`, with a `redis-server` of its own, skipped without).

use std::net::SocketAddr;
use std::path::Path;

use mktorrent_rs::announce::udp as client;
use mktorrent_rs::bencode::{self, Value};
use mktorrent_rs::tracker::swarm::Event;
use mktorrent_rs::tracker::udp_proto::AnnounceRequest;
use serde_json::Value as Json;

use super::tracker_redis::{
    be32, escape, eventually, exchange, get, peer_ports, udp_connect, udp_socket, unique_hash,
    RedisServer, TrackerProc,
};

// Same length, so a file with one swapped for the other keeps its size.
const ALICE: &str = "alice-0123456789abcdef";
const BOB: &str = "bob_0123456789ABCDEFGH";
const CAROL: &str = "carol-0123456789abcdef";
const STRANGER: &str = "stranger-0123456789abc";

fn key_file(dir: &Path, keys: &[&str]) -> String {
    let path = dir.join("passkeys.txt");
    let text: String = keys.iter().map(|k| format!("{k}  # a member\n")).collect();
    std::fs::write(&path, format!("# passkeys\n\n{text}")).unwrap();
    path.display().to_string()
}

/// What an operator computes: `printf %s KEY | sha256sum | cut -c1-16`.
fn key_id(key: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `/announce[/KEY]?...` for peer `port`.
fn announce_target(key: Option<&str>, hash: &[u8; 20], port: u16, counts: (u64, u64)) -> String {
    let path = key.map_or("/announce".to_owned(), |k| format!("/announce/{k}"));
    format!(
        "{path}?info_hash={}&peer_id={}&port={port}&uploaded={}&downloaded={}&left=100",
        escape(hash),
        escape(&[b'a' + (port % 26) as u8; 20]),
        counts.0,
        counts.1,
    )
}

fn http_announce(t: &TrackerProc, key: Option<&str>, hash: &[u8; 20], port: u16) -> Vec<u8> {
    get(t.http, &announce_target(key, hash, port, (0, 0)))
}

/// The failure reason of a reply, if it is one.
fn failure(body: &[u8]) -> Option<String> {
    let value = bencode::decode(body).expect("bencoded reply");
    let reason = value.get(b"failure reason").and_then(Value::as_bytes)?;
    Some(String::from_utf8_lossy(reason).into_owned())
}

#[track_caller]
fn accepted(body: &[u8]) -> Vec<u16> {
    assert_eq!(failure(body), None, "refused");
    peer_ports(body)
}

#[track_caller]
fn refused(body: &[u8], why: &str) {
    let reason = failure(body).expect("a failure reason");
    assert!(reason.contains(why), "{reason:?} does not say {why:?}");
}

/// A UDP announce with BEP 41 URL data `url_data`; returns the reply.
fn udp_announce(t: &TrackerProc, url_data: &str, hash: [u8; 20], port: u16) -> Vec<u8> {
    let socket = udp_socket(t.udp);
    let cid = udp_connect(&socket);
    let packet = client::encode_announce(
        &(&AnnounceRequest {
            connection_id: cid,
            transaction_id: 5,
            info_hash: hash,
            peer_id: [port as u8; 20],
            downloaded: 0,
            left: 100,
            uploaded: 0,
            event: Event::Started,
            key: 0,
            num_want: -1,
            port,
            url_data: url_data.as_bytes().to_vec(),
        })
            .into(),
    );
    exchange(&socket, &packet)
}

/// Peer ports of a UDP announce reply; panics on an error reply.
#[track_caller]
fn udp_accepted(reply: &[u8]) -> Vec<u16> {
    assert_eq!(
        be32(reply, 0),
        1,
        "an announce reply: {}",
        String::from_utf8_lossy(reply)
    );
    reply[20..]
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect()
}

/// Checks a BEP 15 error reply (action 3) and its message.
#[track_caller]
fn udp_refused(reply: &[u8], why: &str) {
    assert_eq!(be32(reply, 0), 3, "an error reply: {reply:?}");
    let message = String::from_utf8_lossy(&reply[8..]);
    assert!(message.contains(why), "{message:?} does not say {why:?}");
}

fn stats(t: &TrackerProc) -> Json {
    serde_json::from_slice(&get(t.http, "/stats.json")).expect("JSON stats")
}

fn signal(t: &TrackerProc, name: &str) {
    let status = std::process::Command::new("kill")
        .args([name, &t.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// No key may appear on a public page or in the log.
#[track_caller]
fn no_keys_in(what: &str, text: &str) {
    for key in [ALICE, BOB, CAROL, STRANGER] {
        assert!(!text.contains(key), "{what} shows a passkey:\n{text}");
    }
}

#[test]
fn http_accepts_known_keys_and_refuses_unknown_and_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), &[ALICE, BOB]);
    let t = TrackerProc::spawn(&["--keys", &keys]);
    let hash = unique_hash();

    assert_eq!(
        accepted(&http_announce(&t, Some(ALICE), &hash, 7001)),
        Vec::<u16>::new()
    );
    assert_eq!(accepted(&http_announce(&t, Some(BOB), &hash, 7002)), [7001]);
    refused(
        &http_announce(&t, Some(STRANGER), &hash, 7003),
        "unknown passkey",
    );
    refused(
        &http_announce(&t, Some("x"), &hash, 7003),
        "unknown passkey",
    );
    refused(&http_announce(&t, None, &hash, 7003), "missing passkey");
    refused(&get(t.http, "/announce/"), "missing passkey");
    // Refused announces joined nothing.
    let mut ports = accepted(&http_announce(&t, Some(BOB), &hash, 7004));
    ports.sort_unstable();
    assert_eq!(ports, [7001, 7002]);
    // `/KEY/announce` works too, so clients can derive `/KEY/scrape` (BEP 48).
    let target = announce_target(Some(BOB), &hash, 7004, (0, 0));
    let swapped = target.replacen(&format!("/announce/{BOB}"), &format!("/{BOB}/announce"), 1);
    let mut ports = accepted(&get(t.http, &swapped));
    ports.sort_unstable();
    assert_eq!(ports, [7001, 7002]);
    refused(
        &get(t.http, &swapped.replace(BOB, STRANGER)),
        "unknown passkey",
    );

    // Scrape takes the key too.
    let scrape = |path: &str| get(t.http, &format!("{path}?info_hash={}", escape(&hash)));
    let body = scrape(&format!("/scrape/{ALICE}"));
    let value = bencode::decode(&body).unwrap();
    let file = value.get(b"files").and_then(|f| f.get(&hash));
    let incomplete = file
        .and_then(|f| f.get(b"incomplete"))
        .and_then(Value::as_int);
    assert_eq!(incomplete, Some(3), "{}", String::from_utf8_lossy(&body));
    assert_eq!(scrape(&format!("/{BOB}/scrape")), body);
    refused(&scrape("/scrape"), "missing passkey");
    refused(&scrape(&format!("/scrape/{STRANGER}")), "unknown passkey");

    // Per-key counters: the increases between announces, not the totals.
    get(
        t.http,
        &announce_target(Some(ALICE), &hash, 7001, (1000, 50)),
    );
    get(
        t.http,
        &announce_target(Some(ALICE), &hash, 7001, (1500, 80)),
    );
    let stats = stats(&t);
    let alice = &stats["keys"][key_id(ALICE)];
    assert_eq!(alice["announces"], 3, "{stats}");
    assert_eq!(
        (alice["uploaded"].as_u64(), alice["downloaded"].as_u64()),
        (Some(1500), Some(80))
    );
    assert_eq!(stats["keys"][key_id(BOB)]["announces"], 3, "{stats}");
    assert_eq!(
        stats["keys"].as_object().unwrap().len(),
        2,
        "only known keys: {stats}"
    );
    assert_eq!(stats["counters"]["http_announce_failed"], 5, "{stats}");

    no_keys_in("/stats.json", &stats.to_string());
    no_keys_in("/", &String::from_utf8_lossy(&get(t.http, "/")));
    no_keys_in(
        "/metrics",
        &String::from_utf8_lossy(&get(t.http, "/metrics")),
    );
    no_keys_in("the log", &t.log());
}

#[test]
fn udp_takes_the_key_from_bep_41_url_data() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), &[ALICE, BOB]);
    let t = TrackerProc::spawn(&["--keys", &keys]);
    let hash = unique_hash();

    let alice = format!("/announce/{ALICE}");
    assert_eq!(
        udp_accepted(&udp_announce(&t, &alice, hash, 7001)),
        Vec::<u16>::new()
    );
    let bob = format!("/announce/{BOB}?some=query");
    assert_eq!(udp_accepted(&udp_announce(&t, &bob, hash, 7002)), [7001]);
    let stranger = format!("/announce/{STRANGER}");
    udp_refused(&udp_announce(&t, &stranger, hash, 7003), "unknown passkey");
    udp_refused(&udp_announce(&t, "", hash, 7003), "missing passkey");
    udp_refused(
        &udp_announce(&t, "/announce", hash, 7003),
        "missing passkey",
    );
    // A scrape has no URL data to carry a key: refused, pointing at HTTP.
    let socket = udp_socket(t.udp);
    let cid = udp_connect(&socket);
    let reply = exchange(&socket, &client::encode_scrape(cid, 3, &[hash]));
    udp_refused(&reply, "/scrape/PASSKEY");
    // The same swarm over HTTP: the refused peer is not in it.
    let mut ports = accepted(&http_announce(&t, Some(ALICE), &hash, 7004));
    ports.sort_unstable();
    assert_eq!(ports, [7001, 7002]);

    let stats = stats(&t);
    assert_eq!(stats["keys"][key_id(ALICE)]["announces"], 2, "{stats}");
    assert_eq!(stats["counters"]["udp_announce_failed"], 3, "{stats}");
    no_keys_in("the log", &t.log());
}

/// Rewrites the key file with the same size and modification time, so
/// only a SIGHUP can notice.
fn swap_keys_unnoticed(path: &str, keys: &[&str]) {
    let before = std::fs::metadata(path).unwrap();
    let mtime = before.modified().unwrap();
    key_file(Path::new(path).parent().unwrap(), keys);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), before.len());
}

#[test]
fn sighup_adds_and_revokes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), &[ALICE, BOB]);
    let t = TrackerProc::spawn(&["--keys", &keys]);
    let hash = unique_hash();
    accepted(&http_announce(&t, Some(ALICE), &hash, 7001));
    refused(
        &http_announce(&t, Some(CAROL), &hash, 7002),
        "unknown passkey",
    );

    // Alice revoked, Carol added.
    swap_keys_unnoticed(&keys, &[CAROL, BOB]);
    signal(&t, "-HUP");
    eventually("the reload", || {
        t.log().contains("passkeys reloaded (SIGHUP)").then_some(())
    });
    refused(
        &http_announce(&t, Some(ALICE), &hash, 7001),
        "unknown passkey",
    );
    let alice = format!("/announce/{ALICE}");
    udp_refused(&udp_announce(&t, &alice, hash, 7001), "unknown passkey");
    accepted(&http_announce(&t, Some(CAROL), &hash, 7002));
    let carol = format!("/announce/{CAROL}");
    udp_accepted(&udp_announce(&t, &carol, hash, 7003));
    accepted(&http_announce(&t, Some(BOB), &hash, 7004));

    let stats = stats(&t);
    assert!(stats["keys"][key_id(ALICE)].is_null(), "revoked: {stats}");
    assert_eq!(stats["keys"][key_id(CAROL)]["announces"], 2, "{stats}");
    let log = t.log();
    assert!(log.contains("added=1 revoked=1"), "{log}");
    assert!(
        !log.contains("file changed"),
        "the poll saw it first:\n{log}"
    );
    no_keys_in("the log", &log);
}

#[test]
fn key_file_changes_are_noticed_and_a_bad_file_keeps_the_old_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), &[ALICE]);
    let t = TrackerProc::spawn(&["--keys", &keys]);
    let hash = unique_hash();
    accepted(&http_announce(&t, Some(ALICE), &hash, 7001));

    // A bad line: said once, naming file and line, and Alice still works.
    let bad = "carol-with.a-dot-0123";
    std::fs::write(&keys, format!("{ALICE}\n{CAROL}\n{bad}\n")).unwrap();
    let at = format!("{keys}:3:");
    eventually("the error", || t.log().contains(&at).then_some(()));
    accepted(&http_announce(&t, Some(ALICE), &hash, 7001));
    refused(
        &http_announce(&t, Some(CAROL), &hash, 7002),
        "unknown passkey",
    );

    std::fs::write(&keys, format!("{CAROL}\n")).unwrap();
    eventually("Carol accepted", || {
        failure(&http_announce(&t, Some(CAROL), &hash, 7002))
            .is_none()
            .then_some(())
    });
    refused(
        &http_announce(&t, Some(ALICE), &hash, 7001),
        "unknown passkey",
    );
    let log = t.log();
    assert_eq!(log.matches(&at).count(), 1, "logged once:\n{log}");
    assert!(log.contains("passkeys reloaded (file changed)"), "{log}");
    assert!(!log.contains(bad), "{log}");
    no_keys_in("the log", &log);
}

#[test]
fn unreadable_or_bad_key_files_stop_the_start_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.txt").display().to_string();
    let loopback = ["tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"];
    let run =
        crate::common::run(dir.path(), &[&loopback[..], &["--keys", &missing]].concat()).failure();
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, format!("{ALICE}\n\n{}\n", &ALICE[..10])).unwrap();
    let run = crate::common::run(
        dir.path(),
        &[&loopback[..], &["--keys", "keys.txt"]].concat(),
    )
    .failure();
    assert!(run.stderr.contains("keys.txt:3:"), "{}", run.stderr);
    assert!(run.stderr.contains("10 characters"), "{}", run.stderr);
    no_keys_in("the error", &run.stderr);
    // A Redis set needs the Redis store: refused by the flags and by the library.
    let run = crate::common::run(
        dir.path(),
        &[&loopback[..], &["--keys-redis-set", "k"]].concat(),
    )
    .failure();
    assert!(run.stderr.contains("--store"), "{}", run.stderr);
    let config = mktorrent_rs::tracker::TrackerConfig {
        keys_redis_set: Some("k".into()),
        ..mktorrent_rs::tracker::TrackerConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shutdown = mktorrent_rs::shutdown::Shutdown::new();
    let err = runtime
        .block_on(mktorrent_rs::tracker::Tracker::start(config, &shutdown))
        .unwrap_err();
    assert!(err.to_string().contains("Redis store"), "{err}");
    runtime.block_on(shutdown.finished());
}

#[test]
fn publish_announces_to_a_private_udp_tracker() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path(), &[ALICE, BOB]);
    let t = TrackerProc::spawn(&["--keys", &keys]);
    super::publish::release(dir.path());
    let url = format!("udp://{}/announce/{ALICE}", t.udp);
    let publish = super::publish::Publish::start(
        dir.path(),
        &["dist", "-a", &url, "--listen", "127.0.0.1:0", "--no-dht"],
    );
    let listen: SocketAddr = publish.addr("listen");
    let hash = publish.info_hash();
    // Bob, another member, finds the seeder through the tracker.
    let ports = eventually("the seeder listed", || {
        let ports = accepted(&http_announce(&t, Some(BOB), &hash, 7002));
        ports.contains(&listen.port()).then_some(ports)
    });
    assert!(ports.contains(&listen.port()));
    let stats = stats(&t);
    assert!(
        stats["keys"][key_id(ALICE)]["announces"].as_u64() >= Some(1),
        "{stats}"
    );
    assert_eq!(stats["counters"]["udp_announce_failed"], 0, "{stats}");
}

#[test]
fn keys_from_a_redis_set_with_sighup_revoking_at_once() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli beside redis-server");
        assert!(out.status.success());
    };
    cli(&["sadd", "passkeys", ALICE, BOB]);
    let url = redis.url();
    let t = TrackerProc::spawn(&["--store", &url, "--keys-redis-set", "passkeys"]);
    let hash = unique_hash();
    assert_eq!(
        accepted(&http_announce(&t, Some(ALICE), &hash, 7001)),
        Vec::<u16>::new()
    );
    let bob = format!("/announce/{BOB}");
    assert_eq!(udp_accepted(&udp_announce(&t, &bob, hash, 7002)), [7001]);
    refused(
        &http_announce(&t, Some(STRANGER), &hash, 7003),
        "unknown passkey",
    );
    let stranger = format!("/announce/{STRANGER}");
    udp_refused(&udp_announce(&t, &stranger, hash, 7003), "unknown passkey");
    refused(&http_announce(&t, None, &hash, 7003), "missing passkey");

    // Unknown keys are not cached: one added to the set works at once.
    cli(&["sadd", "passkeys", CAROL]);
    accepted(&http_announce(&t, Some(CAROL), &hash, 7004));
    // Members are believed for a while; SIGHUP makes a removal count at once.
    cli(&["srem", "passkeys", ALICE]);
    signal(&t, "-HUP");
    eventually("the cache cleared", || {
        t.log()
            .contains("passkey cache cleared (SIGHUP)")
            .then_some(())
    });
    refused(
        &http_announce(&t, Some(ALICE), &hash, 7001),
        "unknown passkey",
    );
    let alice = format!("/announce/{ALICE}");
    udp_refused(&udp_announce(&t, &alice, hash, 7001), "unknown passkey");
    accepted(&http_announce(&t, Some(BOB), &hash, 7002));

    let stats = stats(&t);
    for key in [ALICE, BOB, CAROL] {
        assert!(
            stats["keys"][key_id(key)]["announces"].as_u64() >= Some(1),
            "{stats}"
        );
    }
    assert_eq!(t.metric("tracker_store_errors_total"), 0);
    no_keys_in("the log", &t.log());
}
