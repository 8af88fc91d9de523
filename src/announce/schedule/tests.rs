use super::*;
use crate::tracker::swarm::XorShift;

const H1: [u8; 20] = [1; 20];
const H2: [u8; 20] = [2; 20];

fn tiers(t: &[&[&str]]) -> Vec<Vec<String>> {
    t.iter()
        .map(|tier| tier.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

fn ok(interval: u32) -> AnnounceReply {
    AnnounceReply {
        interval: Some(interval),
        downloaded: Some(0),
        ..AnnounceReply::default()
    }
}

/// (pair, url, event) of each announce action.
fn announces(actions: &[Action]) -> Vec<(usize, String, Event)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Announce {
                pair, url, event, ..
            } => Some((*pair, url.clone(), *event)),
            Action::Scrape { .. } => None,
        })
        .collect()
}

/// The default limits without the early re-announces, which
/// [`early_announces_find_late_joiners_then_follow_the_interval`] covers.
fn plain() -> ScheduleConfig {
    ScheduleConfig {
        early: Vec::new(),
        ..ScheduleConfig::default()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn started_first_then_regular_at_the_interval() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(1));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        plain(),
        t0,
        &mut rng,
    );
    let first = announces(&s.poll(t0));
    assert_eq!(first, [(0, "http://a/announce".into(), Event::Started)]);
    assert!(s.poll(t0).is_empty(), "one announce in flight per lane");
    assert_eq!(s.next_wake(), None);
    s.on_announce(0, Event::Started, Ok(&ok(600)), t0, &mut rng);
    assert_eq!(s.next_wake(), Some(t0 + secs(600)));
    let status = &s.status(t0)[0];
    assert_eq!(status.state, TrackerState::Working);
    assert_eq!(status.next_announce_secs, Some(600));
    assert_eq!(status.info_hash, hex(&H1));
    assert!(s.poll(t0 + secs(599)).is_empty());
    let later = announces(&s.poll(t0 + secs(600)));
    assert_eq!(later, [(0, "http://a/announce".into(), Event::Regular)]);
}

#[test]
fn a_failing_tier_falls_back_to_the_next_and_backs_off() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(2));
    let mut s = Schedule::new(
        &tiers(&[&["udp://dead:1"], &["http://b/announce"]]),
        &[H1],
        plain(),
        t0,
        &mut rng,
    );
    assert_eq!(announces(&s.poll(t0))[0].1, "udp://dead:1");
    s.on_announce(
        0,
        Event::Started,
        Err("udp://dead:1: no reply"),
        t0,
        &mut rng,
    );
    let next = announces(&s.poll(t0));
    assert_eq!(next, [(1, "http://b/announce".into(), Event::Started)]);
    s.on_announce(1, Event::Started, Ok(&ok(1800)), t0, &mut rng);
    let status = s.status(t0);
    assert_eq!(status[0].state, TrackerState::Failed);
    assert_eq!(status[0].failures, 1);
    assert_eq!(
        status[0].last_error.as_deref(),
        Some("udp://dead:1: no reply")
    );
    let retry = status[0].next_announce_secs.unwrap();
    assert!((11..=15).contains(&retry), "{retry}");
    assert_eq!(status[1].state, TrackerState::Working);
    // At the next interval the first tier is tried again (its backoff is over).
    let again = announces(&s.poll(t0 + secs(1800)));
    assert_eq!(again, [(0, "udp://dead:1".into(), Event::Started)]);
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(3));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        plain(),
        t0,
        &mut rng,
    );
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..10 {
        let actions = announces(&s.poll(now));
        assert_eq!(actions.len(), 1, "due at {:?}", now - t0);
        s.on_announce(0, Event::Started, Err("x"), now, &mut rng);
        // Nothing else to try: the lane sleeps until the retry.
        assert!(s.poll(now).is_empty());
        let wake = s.next_wake().unwrap();
        delays.push((wake - now).as_secs_f64());
        now = wake;
    }
    for (n, d) in delays.iter().enumerate() {
        let full = (15.0 * f64::from(1u32 << n)).min(1800.0);
        assert!(*d <= full && *d >= full * 0.74, "retry {n}: {d} vs {full}");
    }
}

#[test]
fn an_answering_tracker_moves_to_the_front_of_its_tier() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(4));
    let urls = [
        "http://a/announce",
        "http://b/announce",
        "http://c/announce",
    ];
    let mut s = Schedule::new(&tiers(&[&urls]), &[H1], plain(), t0, &mut rng);
    let (first, first_url, _) = announces(&s.poll(t0))[0].clone();
    s.on_announce(first, Event::Started, Err("down"), t0, &mut rng);
    let (second, second_url, _) = announces(&s.poll(t0))[0].clone();
    assert_ne!(first_url, second_url);
    s.on_announce(second, Event::Started, Ok(&ok(100)), t0, &mut rng);
    // After the interval (and the first one's backoff), the answering one is asked first.
    let next = announces(&s.poll(t0 + secs(3600)));
    assert_eq!(next, [(second, second_url, Event::Regular)]);
}

#[test]
fn shuffling_depends_on_the_rng_only() {
    let urls: Vec<String> = (0..8).map(|i| format!("http://t{i}/announce")).collect();
    let firsts: std::collections::HashSet<String> = (0..20)
        .map(|seed| {
            let t0 = Instant::now();
            let mut rng = XorShift::new(seed + 1);
            let mut s = Schedule::new(std::slice::from_ref(&urls), &[H1], plain(), t0, &mut rng);
            announces(&s.poll(t0))[0].1.clone()
        })
        .collect();
    assert!(firsts.len() > 1, "never shuffled");
}

#[test]
fn all_tiers_announces_to_every_tier_and_every_hash() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(5));
    let config = ScheduleConfig {
        all_tiers: true,
        ..plain()
    };
    let t = tiers(&[
        &["http://a/announce"],
        &["udp://b:1"],
        &[],
        &["http://a/announce"],
    ]);
    let mut s = Schedule::new(&t, &[H1, H2], config, t0, &mut rng);
    let mut got: Vec<(String, [u8; 20])> = s
        .poll(t0)
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce { url, info_hash, .. } => Some((url, info_hash)),
            Action::Scrape { .. } => None,
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("http://a/announce".to_owned(), H1),
            ("http://a/announce".to_owned(), H2),
            ("udp://b:1".to_owned(), H1),
            ("udp://b:1".to_owned(), H2),
        ]
    );
    assert_eq!(
        s.status(t0).len(),
        4,
        "duplicate URL and empty tier dropped"
    );
}

#[test]
fn first_tier_only_by_default() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(6));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"], &["http://b/announce"]]),
        &[H1, H2],
        plain(),
        t0,
        &mut rng,
    );
    let urls: Vec<String> = announces(&s.poll(t0)).into_iter().map(|a| a.1).collect();
    assert_eq!(urls, ["http://a/announce", "http://a/announce"]);
}

#[test]
fn stopped_goes_only_to_trackers_that_accepted_started() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(7));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"], &["http://b/announce"]]),
        &[H1],
        ScheduleConfig {
            all_tiers: true,
            ..plain()
        },
        t0,
        &mut rng,
    );
    for (pair, url, event) in announces(&s.poll(t0)) {
        if url.contains("//a/") {
            s.on_announce(pair, event, Ok(&ok(60)), t0, &mut rng);
        } else {
            s.on_announce(pair, event, Err("no"), t0, &mut rng);
        }
    }
    let stops = announces(&s.stop_actions());
    assert_eq!(stops, [(0, "http://a/announce".into(), Event::Stopped)]);
    s.on_announce(0, Event::Stopped, Ok(&ok(60)), t0, &mut rng);
    assert_eq!(s.status(t0)[0].state, TrackerState::Stopped);
    assert!(s.poll(t0 + secs(100_000)).is_empty(), "nothing after stop");
}

#[test]
fn completion_is_announced_once() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(8));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        plain(),
        t0,
        &mut rng,
    );
    let a = announces(&s.poll(t0));
    s.on_announce(a[0].0, Event::Started, Ok(&ok(600)), t0, &mut rng);
    s.completed(t0 + secs(5));
    let c = announces(&s.poll(t0 + secs(5)));
    assert_eq!(c, [(0, "http://a/announce".into(), Event::Completed)]);
    s.on_announce(0, Event::Completed, Ok(&ok(600)), t0 + secs(5), &mut rng);
    let r = announces(&s.poll(t0 + secs(605)));
    assert_eq!(r[0].2, Event::Regular);
}

#[test]
fn intervals_are_clamped_and_min_interval_respected() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(9));
    let s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        plain(),
        t0,
        &mut rng,
    );
    let reply = |interval, min_interval| AnnounceReply {
        interval,
        min_interval,
        ..AnnounceReply::default()
    };
    assert_eq!(s.effective_interval(&reply(None, None)), secs(1800));
    assert_eq!(s.effective_interval(&reply(Some(5), None)), secs(60));
    assert_eq!(s.effective_interval(&reply(Some(99_999), None)), secs(7200));
    assert_eq!(
        s.effective_interval(&reply(Some(100), Some(900))),
        secs(900)
    );
    assert_eq!(
        s.effective_interval(&reply(Some(100), Some(u32::MAX))),
        secs(86_400)
    );
}

#[test]
fn scrape_is_asked_for_when_the_reply_lacks_downloaded() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(10));
    let mut s = Schedule::new(&tiers(&[&["udp://a:1"]]), &[H1], plain(), t0, &mut rng);
    s.poll(t0);
    let bare = AnnounceReply {
        interval: Some(600),
        ..AnnounceReply::default()
    };
    s.on_announce(0, Event::Started, Ok(&bare), t0, &mut rng);
    let actions = s.poll(t0);
    assert!(
        matches!(actions.as_slice(), [Action::Scrape { pair: 0, .. }]),
        "{actions:?}"
    );
    s.on_scrape(
        0,
        Some(ScrapeCounts {
            seeders: 1,
            leechers: 2,
            downloaded: 3,
        }),
        t0,
    );
    assert_eq!(s.status(t0)[0].downloaded, Some(3));
    // Within the interval no second scrape, even after another announce.
    s.on_announce(0, Event::Regular, Ok(&bare), t0 + secs(10), &mut rng);
    assert!(s.poll(t0 + secs(10)).is_empty());
}

#[test]
fn early_announces_find_late_joiners_then_follow_the_interval() {
    let (t0, mut rng) = (Instant::now(), XorShift::new(9));
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        ScheduleConfig::default(),
        t0,
        &mut rng,
    );
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..7 {
        let (pair, _, event) = announces(&s.poll(now))[0].clone();
        s.on_announce(pair, event, Ok(&ok(1800)), now, &mut rng);
        let next = s.next_wake().unwrap();
        waits.push((next - now).as_secs());
        now = next;
    }
    // 15 s, 30 s, 1 min, 2 min, 5 min after start, then the interval.
    assert_eq!(waits, [15, 15, 30, 60, 180, 1800, 1800]);

    // A tracker's `min interval` is a floor for the early steps too.
    let mut s = Schedule::new(
        &tiers(&[&["http://a/announce"]]),
        &[H1],
        ScheduleConfig::default(),
        t0,
        &mut rng,
    );
    let strict = AnnounceReply {
        min_interval: Some(45),
        ..ok(1800)
    };
    let (pair, _, event) = announces(&s.poll(t0))[0].clone();
    s.on_announce(pair, event, Ok(&strict), t0, &mut rng);
    assert_eq!(s.next_wake(), Some(t0 + secs(45)));
}
