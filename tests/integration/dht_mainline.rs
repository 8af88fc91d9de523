//! Interop with an independent implementation: the `mainline` crate's
//! nodes on 127.0.0.1, both directions. Our node joins a mainline
//! `Testnet`, and mainline nodes join a network of ours; in each, peers
//! announced by one side are found by the other. (`mainline` requires
//! 4-byte transaction ids, which our queries use.)

// The blocking mainline API is the simple one to call from spawn_blocking.
#![allow(deprecated)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mktorrent_rs::dht::{Clock, Dht, Id};
use mktorrent_rs::shutdown::Shutdown;

use crate::dht::{start, test_config};

const DEADLINE: Duration = Duration::from_secs(25);

fn their_id(id: Id) -> mainline::Id {
    mainline::Id::from_bytes(id.0).expect("20 bytes")
}

/// Every peer a mainline node's get_peers finds.
async fn mainline_get_peers(node: mainline::Dht, hash: Id) -> (mainline::Dht, Vec<SocketAddr>) {
    tokio::task::spawn_blocking(move || {
        let peers = node
            .get_peers(their_id(hash))
            .flatten()
            .map(SocketAddr::V4)
            .collect();
        (node, peers)
    })
    .await
    .unwrap()
}

async fn mainline_announce(node: mainline::Dht, hash: Id, port: u16) -> mainline::Dht {
    tokio::task::spawn_blocking(move || {
        node.announce_peer(their_id(hash), Some(port))
            .expect("mainline announce succeeds");
        node
    })
    .await
    .unwrap()
}

async fn our_peers_until(node: &Dht, hash: Id, peer: SocketAddr) -> Vec<SocketAddr> {
    node.get_peers(hash)
        .await
        .unwrap()
        .peers
        .into_iter()
        .filter(|p| *p == peer)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_node_in_a_mainline_testnet() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let testnet = tokio::task::spawn_blocking(|| {
            mainline::Testnet::builder(8)
                .bind_address(Ipv4Addr::LOCALHOST)
                .build()
                .expect("mainline testnet on 127.0.0.1")
        })
        .await
        .unwrap();
        let bootstrap: Vec<SocketAddr> = testnet
            .bootstrap
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let ours = start(test_config(bootstrap, &clock), &shutdown).await;

        // We announce; a mainline node finds us.
        let hash = Id([0x11; 20]);
        let done = ours.announce(hash, Some(4000)).await.unwrap();
        assert!(
            done.stored >= 4,
            "mainline nodes accepted our announce: {done:?}"
        );
        let theirs = testnet.nodes[3].clone();
        let (theirs, peers) = mainline_get_peers(theirs, hash).await;
        assert!(
            peers.contains(&"127.0.0.1:4000".parse().unwrap()),
            "{peers:?}"
        );

        // A mainline node announces; we find it.
        let hash = Id([0x22; 20]);
        let _ = mainline_announce(theirs, hash, 4001).await;
        let peer = "127.0.0.1:4001".parse().unwrap();
        assert_eq!(our_peers_until(&ours, hash, peer).await, vec![peer]);
        drop(testnet);
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mainline_nodes_in_our_network() {
    let clock = Clock::default();
    let shutdown = Shutdown::new();
    let run = async {
        let first = start(test_config(vec![], &clock), &shutdown).await;
        let mut ours = vec![first.clone()];
        for _ in 0..7 {
            ours.push(start(test_config(vec![first.local_addr()], &clock), &shutdown).await);
        }
        let bootstrap = vec![first.local_addr().to_string()];
        let theirs = tokio::task::spawn_blocking(move || {
            let node = mainline::Dht::builder()
                .server_mode()
                .bootstrap(&bootstrap)
                .bind_address(Ipv4Addr::LOCALHOST)
                .build()
                .expect("mainline node on 127.0.0.1");
            assert!(node.bootstrapped(), "mainline bootstraps from our node");
            node
        })
        .await
        .unwrap();

        // Mainline announces through our nodes; one of ours finds it.
        let hash = Id([0x33; 20]);
        let theirs = mainline_announce(theirs, hash, 5000).await;
        let peer = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(our_peers_until(&ours[5], hash, peer).await, vec![peer]);

        // We announce; mainline finds it through our nodes.
        let hash = Id([0x44; 20]);
        ours[2].announce(hash, Some(5001)).await.unwrap();
        let (_theirs, peers) = mainline_get_peers(theirs, hash).await;
        assert!(
            peers.contains(&"127.0.0.1:5001".parse().unwrap()),
            "{peers:?}"
        );
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time");
    shutdown.finished().await;
}
