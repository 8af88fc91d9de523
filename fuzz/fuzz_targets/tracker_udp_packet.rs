//! The UDP tracker parser (`udp_proto::parse`, BEP 15 + BEP 41) on
//! arbitrary datagrams.
//!
//! Checks, beyond "never panics": every accepted request encodes back to a
//! datagram (by the client's encoder) that parses to the same request (connect, announce with its URL
//! data, scrape with at most 74 hashes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mktorrent_rs::announce::udp as client;
use mktorrent_rs::tracker::udp_proto::{self, Request, MAX_SCRAPE_HASHES};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = udp_proto::parse(data) else {
        return;
    };
    let encoded = match &request {
        Request::Connect { transaction_id } => client::encode_connect(*transaction_id),
        Request::Announce(announce) => client::encode_announce(&announce.into()),
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => {
            assert!(!info_hashes.is_empty() && info_hashes.len() % 20 == 0);
            assert!(info_hashes.len() / 20 <= MAX_SCRAPE_HASHES);
            let hashes: Vec<[u8; 20]> = info_hashes
                .chunks_exact(20)
                .map(|c| c.try_into().unwrap())
                .collect();
            client::encode_scrape(*connection_id, *transaction_id, &hashes)
        }
    };
    assert_eq!(
        udp_proto::parse(&encoded),
        Ok(request.clone()),
        "request changed across encode/parse"
    );
});
