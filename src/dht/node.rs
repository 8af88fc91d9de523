//! The DHT node on tokio: one task owns the socket and every piece of state
//! (routing table, tokens, peer store, pending queries, lookups), so nothing
//! is shared or locked. Handles talk to it through a command channel.
//!
//! This file is the I/O adapter only: decoding, routing and lookup decisions
//! are made by the pure modules beside it. Sends never wait (a full socket
//! buffer drops the datagram, as UDP would), so a flood cannot stall the
//! task. Time comes from a [`Clock`] that tests can move forward.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::id::Id;
use super::krpc::{self, Body, DecodeError, Message, Method, NodeInfo, Query, Response, Want};
use super::lookup::Lookup;
use super::peer_store::{self, PeerStore, Stored};
use super::rate_limit::RateLimiter;
use super::routing_table::{self, Heard, Outcome, RoutingTable, Status, K};
use super::tokens::Tokens;
use super::DhtError;
use crate::shutdown::Shutdown;

/// `v` in our messages: client "MK", version 0.1.
const VERSION: &[u8] = b"MK\x00\x01";
/// Largest datagram read; anything longer is not KRPC and fails to decode.
const MAX_DATAGRAM: usize = 4096;
/// Longest wait between bootstrap attempts while the table stays empty.
const MAX_BOOTSTRAP_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// Replies that must agree on our external address before we believe it
/// (and, under BEP 42, change our id to match it).
const EXTERNAL_IP_VOTES: usize = 3;
/// Background lookups (bootstrap, refresh) running at once: paces our traffic.
const MAX_BACKGROUND_LOOKUPS: usize = 4;
/// Queries waiting for the outgoing budget before new ones fail at once.
const MAX_DEFERRED: usize = 1024;
/// BEP 51: samples per reply (20 × 20 bytes) and the refresh interval we advertise.
const MAX_SAMPLES: usize = 20;
const SAMPLE_INTERVAL: i64 = 300;

/// The node's sense of time. Real by default; tests move it forward to
/// expire peers and rotate tokens without sleeping.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    pub fn now(&self) -> Instant {
        let offset = self.offset.lock().map_or(Duration::ZERO, |o| *o);
        Instant::now() + offset
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut offset) = self.offset.lock() {
            *offset += by;
        }
    }
}

/// How a node behaves; [`Config::default`] suits a public node.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our node id; random when `None`.
    pub id: Option<Id>,
    /// Addresses to start from when the routing table is empty (retried
    /// with backoff while it stays empty). Empty: the first node of a network.
    pub bootstrap: Vec<SocketAddr>,
    /// Wait this long for a reply.
    pub query_timeout: Duration,
    /// Nodes per public IP in the routing table.
    pub max_nodes_per_ip: usize,
    /// Peer store bounds (see [`peer_store::Limits`]): hashes, peers per
    /// hash, peers in all, ports per IP per hash, entries per IP.
    pub max_hashes: usize,
    pub max_peers_per_hash: usize,
    pub max_peers: usize,
    pub max_ports_per_ip: usize,
    pub max_entries_per_ip: usize,
    /// Incoming queries per second per IP (0: no limit), and the burst allowed.
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// Our own queries per second (0: no limit); beyond it they wait their
    /// turn, so busy lookups never look like a flood to other nodes.
    pub max_queries_per_sec: u32,
    /// Announces made through [`Dht::announce`] are repeated this often.
    pub reannounce_every: Duration,
    /// Housekeeping period (timeouts, refresh, re-announce), in real time.
    pub tick: Duration,
    pub clock: Clock,
    /// BEP 43: mark our queries read-only so nobody adds us to a routing
    /// table (one-shot tools that will be gone in a moment).
    pub read_only: bool,
    /// BEP 42: once replies agree on a public external address, switch to
    /// an id derived from it (local and private addresses are exempt).
    pub secure_id: bool,
    /// Told of every `announce_peer` we store for a hash we seed: a
    /// downloader that announced itself and may be waiting to be dialled.
    /// Dropped when full.
    pub announced: Option<mpsc::Sender<(Id, SocketAddr)>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            id: None,
            bootstrap: Vec::new(),
            query_timeout: Duration::from_secs(2),
            max_nodes_per_ip: 1,
            max_hashes: peer_store::Limits::default().max_hashes,
            max_peers_per_hash: peer_store::Limits::default().max_peers_per_hash,
            max_peers: peer_store::Limits::default().max_peers,
            max_ports_per_ip: peer_store::Limits::default().max_ports_per_ip,
            max_entries_per_ip: peer_store::Limits::default().max_entries_per_ip,
            rate_limit: 50,
            rate_burst: 100,
            max_queries_per_sec: 250,
            reannounce_every: Duration::from_secs(15 * 60),
            tick: Duration::from_millis(200),
            clock: Clock::default(),
            read_only: false,
            secure_id: true,
            announced: None,
        }
    }
}

/// What a get_peers lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetPeers {
    /// Peers from the network (and from our own store), without duplicates.
    pub peers: Vec<SocketAddr>,
    /// The closest nodes that answered, closest first.
    pub closest: Vec<NodeInfo>,
    /// Queries sent by the lookup.
    pub queries: usize,
}

/// What an announce did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announce {
    /// Peers the get_peers phase found on the way.
    pub peers: Vec<SocketAddr>,
    /// Nodes that gave a token and were sent announce_peer.
    pub tried: usize,
    /// Nodes that acknowledged the announce.
    pub stored: usize,
    /// Queries sent in all.
    pub queries: usize,
}

/// Counters since start (Prometheus-style, only ever growing).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub send_errors: u64,
    /// Datagrams that were not KRPC, or replies to nothing we asked.
    pub packets_dropped: u64,
    pub queries_received: u64,
    pub queries_rate_limited: u64,
    pub errors_sent: u64,
    pub replies_received: u64,
    pub query_timeouts: u64,
    pub lookups_started: u64,
    /// Our queries that waited for the outgoing budget.
    pub queries_deferred: u64,
    pub peers_announced_to_us: u64,
    /// What the peer store's bounds evicted or refused.
    pub peer_store: peer_store::StoreCounters,
}

/// A snapshot of the node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub id: String,
    pub address: SocketAddr,
    pub nodes: usize,
    pub good_nodes: usize,
    pub buckets: usize,
    pub stored_hashes: usize,
    pub stored_peers: usize,
    pub seeding: usize,
    pub pending_queries: usize,
    pub lookups_running: usize,
    pub external_ip: Option<IpAddr>,
    pub counters: Counters,
}

impl Stats {
    /// The figures in the Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let c = &self.counters;
        let gauges = [
            ("nodes", self.nodes as u64),
            ("good_nodes", self.good_nodes as u64),
            ("buckets", self.buckets as u64),
            ("stored_hashes", self.stored_hashes as u64),
            ("stored_peers", self.stored_peers as u64),
            ("pending_queries", self.pending_queries as u64),
        ];
        let counters = [
            ("packets_received_total", c.packets_received),
            ("packets_sent_total", c.packets_sent),
            ("send_errors_total", c.send_errors),
            ("packets_dropped_total", c.packets_dropped),
            ("queries_received_total", c.queries_received),
            ("queries_rate_limited_total", c.queries_rate_limited),
            ("errors_sent_total", c.errors_sent),
            ("replies_received_total", c.replies_received),
            ("query_timeouts_total", c.query_timeouts),
            ("lookups_started_total", c.lookups_started),
            ("queries_deferred_total", c.queries_deferred),
            ("peers_announced_to_us_total", c.peers_announced_to_us),
            (
                "peer_store_evicted_ports_per_ip_total",
                c.peer_store.evicted_ports_per_ip,
            ),
            (
                "peer_store_evicted_entries_per_ip_total",
                c.peer_store.evicted_entries_per_ip,
            ),
            (
                "peer_store_evicted_swarm_full_total",
                c.peer_store.evicted_swarm_full,
            ),
            (
                "peer_store_evicted_store_full_total",
                c.peer_store.evicted_store_full,
            ),
            (
                "peer_store_refused_store_full_total",
                c.peer_store.refused_store_full,
            ),
        ];
        let mut out = String::new();
        for (kind, list) in [("gauge", &gauges[..]), ("counter", &counters[..])] {
            for (name, value) in list {
                out.push_str(&format!(
                    "# TYPE mktorrent_dht_{name} {kind}\nmktorrent_dht_{name} {value}\n"
                ));
            }
        }
        out
    }
}

enum Command {
    GetPeers(Id, oneshot::Sender<GetPeers>),
    Announce(Id, Option<u16>, oneshot::Sender<Announce>),
    Seed(Id, u16, oneshot::Sender<()>),
    Forget(Id, oneshot::Sender<()>),
    FindNode(Id, oneshot::Sender<Vec<NodeInfo>>),
    Ping(SocketAddr, oneshot::Sender<Result<Id, DhtError>>),
    Stats(oneshot::Sender<Stats>),
    Nodes(oneshot::Sender<Vec<NodeInfo>>),
}

/// A handle to a running node; cheap to clone. The node itself runs until
/// its [`Shutdown`] is triggered, whether or not handles remain.
#[derive(Debug, Clone)]
pub struct Dht {
    commands: mpsc::Sender<Command>,
    /// Shared with the node, which may change it (BEP 42).
    id: Arc<Mutex<Id>>,
    local_addr: SocketAddr,
}

impl Dht {
    /// Starts a node on a bound socket. Its task is tracked by `shutdown`:
    /// trigger it and await [`Shutdown::finished`] to stop the node.
    pub fn start(socket: UdpSocket, config: Config, shutdown: &Shutdown) -> std::io::Result<Dht> {
        // Sends go through a plain clone of the (non-blocking) socket: tokio's
        // `try_send_to` reports WouldBlock until the reactor has seen the
        // socket writable once, which would lose a fresh node's first queries.
        let std_socket = socket.into_std()?;
        let sender = std_socket.try_clone()?;
        let socket = UdpSocket::from_std(std_socket)?;
        Self::start_with(Input::Socket(Arc::new(socket)), sender, config, shutdown)
    }

    /// Starts a node on a socket another server reads (uTP on the seeder's
    /// port): KRPC datagrams arrive on `incoming`, replies leave through
    /// `sender`, a non-blocking clone of that socket.
    pub fn start_shared(
        sender: std::net::UdpSocket,
        incoming: mpsc::Receiver<(bytes::Bytes, SocketAddr)>,
        config: Config,
        shutdown: &Shutdown,
    ) -> std::io::Result<Dht> {
        sender.set_nonblocking(true)?;
        Self::start_with(Input::Channel(incoming), sender, config, shutdown)
    }

    fn start_with(
        input: Input,
        sender: std::net::UdpSocket,
        config: Config,
        shutdown: &Shutdown,
    ) -> std::io::Result<Dht> {
        let local_addr = sender.local_addr()?;
        let mut rng = StdRng::from_rng(&mut rand::rng());
        let id = config.id.unwrap_or_else(|| Id::random(&mut rng));
        let now = config.clock.now();
        let (commands, receiver) = mpsc::channel(64);
        let shared_id = Arc::new(Mutex::new(id));
        let node = Node {
            shared_id: shared_id.clone(),
            ip_votes: HashMap::new(),
            sender,
            local: local_addr,
            id,
            table: RoutingTable::new(id, config.max_nodes_per_ip, now),
            tokens: Tokens::new(now, &mut rng),
            store: PeerStore::new(peer_store::Limits {
                max_hashes: config.max_hashes,
                max_peers_per_hash: config.max_peers_per_hash,
                max_peers: config.max_peers,
                max_ports_per_ip: config.max_ports_per_ip,
                max_entries_per_ip: config.max_entries_per_ip,
            }),
            limiter: RateLimiter::new(config.rate_limit, config.rate_burst),
            outgoing: RateLimiter::new(config.max_queries_per_sec, config.max_queries_per_sec / 2),
            deferred: std::collections::VecDeque::new(),
            seeds: HashMap::new(),
            announces: HashMap::new(),
            pending: HashMap::new(),
            next_transaction: rng.next_u32(),
            lookups: HashMap::new(),
            announcing: HashMap::new(),
            next_task: 0,
            external_ip: None,
            next_bootstrap: now,
            bootstrap_backoff: Duration::from_secs(1),
            counters: Counters::default(),
            rng,
            config,
        };
        shutdown.spawn(node.run(input, receiver, shutdown.clone()));
        Ok(Dht {
            commands,
            id: shared_id,
            local_addr,
        })
    }

    /// Our node id (it changes once under BEP 42 when a public address is learnt).
    pub fn id(&self) -> Id {
        *self
            .id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| DhtError::Stopped)?;
        rx.await.map_err(|_| DhtError::Stopped)
    }

    /// Iterative get_peers lookup for `info_hash`.
    pub async fn get_peers(&self, info_hash: Id) -> Result<GetPeers, DhtError> {
        self.ask(|tx| Command::GetPeers(info_hash, tx)).await
    }

    /// Announces that we have `info_hash` on TCP `port` (`None`: the port
    /// our UDP packets come from, BEP 5 `implied_port`) to the k closest
    /// nodes, and keeps re-announcing it periodically and whenever the
    /// routing table grows from empty.
    pub async fn announce(&self, info_hash: Id, port: Option<u16>) -> Result<Announce, DhtError> {
        self.ask(|tx| Command::Announce(info_hash, port, tx)).await
    }

    /// Tells the node we seed `info_hash` on TCP `port` ourselves: our own
    /// get_peers replies for it then include our address, so a downloader
    /// whose only entry point is this node still finds us.
    pub async fn seed(&self, info_hash: Id, port: u16) -> Result<(), DhtError> {
        self.ask(|tx| Command::Seed(info_hash, port, tx)).await
    }

    /// Undoes [`Dht::seed`] and [`Dht::announce`] for `info_hash`: our
    /// replies stop naming us and it is no longer re-announced.
    pub async fn forget(&self, info_hash: Id) -> Result<(), DhtError> {
        self.ask(|tx| Command::Forget(info_hash, tx)).await
    }

    /// Iterative find_node lookup: the k closest nodes to `target` that answered.
    pub async fn find_node(&self, target: Id) -> Result<Vec<NodeInfo>, DhtError> {
        self.ask(|tx| Command::FindNode(target, tx)).await
    }

    /// Pings one node; its id on success.
    pub async fn ping(&self, addr: SocketAddr) -> Result<Id, DhtError> {
        self.ask(|tx| Command::Ping(addr, tx)).await?
    }

    pub async fn stats(&self) -> Result<Stats, DhtError> {
        self.ask(Command::Stats).await
    }

    /// The nodes in the routing table (for saving state).
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, DhtError> {
        self.ask(Command::Nodes).await
    }
}

enum Purpose {
    Ping(Option<oneshot::Sender<Result<Id, DhtError>>>),
    Lookup(u64),
    Announce(u64),
}

struct Pending {
    addr: SocketAddr,
    sent: Instant,
    purpose: Purpose,
}

enum LookupKind {
    /// Bootstrap and bucket refresh have nobody waiting.
    FindNode(Option<oneshot::Sender<Vec<NodeInfo>>>),
    GetPeers(oneshot::Sender<GetPeers>),
    Announce(Option<u16>, Option<oneshot::Sender<Announce>>),
}

struct LookupTask {
    lookup: Lookup,
    kind: LookupKind,
}

struct AnnounceTask {
    remaining: usize,
    result: Announce,
    reply: Option<oneshot::Sender<Announce>>,
}

/// Where a node's datagrams come from.
enum Input {
    Socket(Arc<UdpSocket>),
    /// Forwarded by the server that reads a shared socket.
    Channel(mpsc::Receiver<(bytes::Bytes, SocketAddr)>),
}

impl Input {
    /// The next datagram, copied into `buf`; `None` once a channel closed.
    async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Option<(usize, SocketAddr)>> {
        match self {
            Self::Socket(socket) => socket.recv_from(buf).await.map(Some),
            Self::Channel(incoming) => Ok(incoming.recv().await.map(|(datagram, from)| {
                let len = datagram.len().min(buf.len());
                buf[..len].copy_from_slice(&datagram[..len]);
                (len, from)
            })),
        }
    }
}

struct Node {
    shared_id: Arc<Mutex<Id>>,
    /// Replies per external address they reported (BEP 42 `ip`).
    ip_votes: HashMap<IpAddr, usize>,
    sender: std::net::UdpSocket,
    local: SocketAddr,
    id: Id,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    limiter: RateLimiter,
    /// Paces our own queries; those over the budget wait in `deferred`.
    outgoing: RateLimiter,
    deferred: std::collections::VecDeque<(SocketAddr, Method, Purpose)>,
    /// Info hashes we seed ourselves → our TCP port.
    seeds: HashMap<Id, u16>,
    /// Info hashes we announce → (port, when next due).
    announces: HashMap<Id, (Option<u16>, Instant)>,
    pending: HashMap<u32, Pending>,
    next_transaction: u32,
    lookups: HashMap<u64, LookupTask>,
    announcing: HashMap<u64, AnnounceTask>,
    next_task: u64,
    /// Our address as others see it (BEP 42 `ip` in their replies).
    external_ip: Option<IpAddr>,
    next_bootstrap: Instant,
    bootstrap_backoff: Duration,
    counters: Counters,
    rng: StdRng,
    config: Config,
}

impl Node {
    async fn run(
        mut self,
        mut input: Input,
        mut commands: mpsc::Receiver<Command>,
        shutdown: Shutdown,
    ) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut commands_open = true;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                received = input.recv(&mut buf) => match received {
                    Ok(Some((len, from))) => self.on_datagram(&buf[..len], from),
                    // The server sharing our port has stopped.
                    Ok(None) => break,
                    // ICMP errors surface here on some systems; the socket is still fine.
                    Err(err) => tracing::debug!("dht recv on {}: {err}", self.local),
                },
                command = commands.recv(), if commands_open => match command {
                    Some(command) => self.on_command(command),
                    None => commands_open = false,
                },
                _ = tick.tick() => self.maintain(),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = self.config.clock.now();
        match command {
            Command::GetPeers(hash, reply) => {
                self.start_lookup(hash, LookupKind::GetPeers(reply));
            }
            Command::Announce(hash, port, reply) => {
                let due = now + self.config.reannounce_every;
                self.announces.insert(hash, (port, due));
                self.start_lookup(hash, LookupKind::Announce(port, Some(reply)));
            }
            Command::Seed(hash, port, done) => {
                self.seeds.insert(hash, port);
                let _ = done.send(());
            }
            Command::Forget(hash, done) => {
                self.seeds.remove(&hash);
                self.announces.remove(&hash);
                let _ = done.send(());
            }
            Command::FindNode(target, reply) => {
                self.start_lookup(target, LookupKind::FindNode(Some(reply)));
            }
            Command::Ping(addr, reply) => {
                self.send_query(addr, Method::Ping, Purpose::Ping(Some(reply)));
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats(now));
            }
            Command::Nodes(reply) => {
                let _ = reply.send(self.table.entries().map(|e| e.info()).collect());
            }
        }
    }

    fn stats(&self, now: Instant) -> Stats {
        Stats {
            id: self.id.to_hex(),
            address: self.local,
            nodes: self.table.len(),
            good_nodes: self.table.count(Status::Good, now),
            buckets: self.table.bucket_count(),
            stored_hashes: self.store.hash_count(),
            stored_peers: self.store.peer_count(),
            seeding: self.seeds.len(),
            pending_queries: self.pending.len() + self.deferred.len(),
            lookups_running: self.lookups.len(),
            external_ip: self.external_ip,
            counters: Counters {
                peer_store: self.store.counters(),
                ..self.counters.clone()
            },
        }
    }

    fn send(&mut self, to: SocketAddr, message: &Message) {
        match self.sender.send_to(&message.encode(), to) {
            Ok(_) => self.counters.packets_sent += 1,
            Err(err) => {
                self.counters.send_errors += 1;
                tracing::debug!("dht send to {to}: {err}");
            }
        }
    }

    /// Sends a query now, or queues it behind earlier ones when our
    /// outgoing budget is spent (sent by [`Self::send_deferred`]).
    fn send_query(&mut self, to: SocketAddr, method: Method, purpose: Purpose) {
        let now = self.config.clock.now();
        // One shared budget: the key is just a fixed address.
        if !self.deferred.is_empty() || !self.outgoing.allow(IpAddr::V4(Ipv4Addr::UNSPECIFIED), now)
        {
            if self.deferred.len() >= MAX_DEFERRED {
                // Far behind: give up on this one as if it had timed out.
                let pending = Pending {
                    addr: to,
                    sent: now,
                    purpose,
                };
                return self.on_timeout(pending, now);
            }
            self.counters.queries_deferred += 1;
            self.deferred.push_back((to, method, purpose));
            return;
        }
        self.send_query_now(to, method, purpose);
    }

    fn send_deferred(&mut self) {
        let now = self.config.clock.now();
        while !self.deferred.is_empty()
            && self.outgoing.allow(IpAddr::V4(Ipv4Addr::UNSPECIFIED), now)
        {
            if let Some((to, method, purpose)) = self.deferred.pop_front() {
                self.send_query_now(to, method, purpose);
            }
        }
    }

    fn send_query_now(&mut self, to: SocketAddr, method: Method, purpose: Purpose) {
        let transaction = self.next_transaction;
        self.next_transaction = self.next_transaction.wrapping_add(1);
        let message = Message {
            // Our own queries use 4-byte ids (some implementations require it).
            transaction_id: transaction.to_be_bytes().to_vec(),
            body: Body::Query(Query {
                id: self.id,
                method,
            }),
            version: Some(VERSION.to_vec()),
            ip: None,
            read_only: self.config.read_only,
        };
        self.send(to, &message);
        self.pending.insert(
            transaction,
            Pending {
                addr: to,
                sent: self.config.clock.now(),
                purpose,
            },
        );
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        self.counters.packets_received += 1;
        let now = self.config.clock.now();
        match krpc::decode(bytes) {
            Err(DecodeError::Drop(reason)) => {
                self.counters.packets_dropped += 1;
                tracing::trace!("dht drop from {from}: {reason}");
            }
            Err(DecodeError::Reply {
                transaction_id,
                code,
                message,
            }) => {
                if self.limiter.allow(from.ip(), now) {
                    self.send_error(from, transaction_id, code, message);
                } else {
                    self.counters.queries_rate_limited += 1;
                }
            }
            Ok(message) => match message.body {
                Body::Query(query) => {
                    self.on_query(message.transaction_id, query, message.read_only, from, now);
                }
                Body::Response(response) => {
                    self.on_response(&message.transaction_id, response, message.ip, from, now);
                }
                Body::Error {
                    code,
                    message: text,
                } => {
                    self.on_error(&message.transaction_id, code, text, from);
                }
            },
        }
    }

    fn send_error(&mut self, to: SocketAddr, transaction_id: Vec<u8>, code: i64, text: &str) {
        self.counters.errors_sent += 1;
        let message = Message {
            transaction_id,
            body: Body::Error {
                code,
                message: text.to_owned(),
            },
            version: Some(VERSION.to_vec()),
            ip: None,
            read_only: false,
        };
        self.send(to, &message);
    }

    /// Records a node we heard from, acting on what the table asks.
    fn heard(&mut self, id: Id, addr: SocketAddr, heard: Heard, now: Instant) {
        if !self.usable(addr) {
            return;
        }
        let was_empty = self.table.is_empty();
        if let Outcome::PingFirst(nodes) = self.table.heard_from(id, addr, heard, now) {
            for node in nodes {
                self.send_query(node.addr, Method::Ping, Purpose::Ping(None));
            }
        }
        if was_empty && !self.table.is_empty() {
            // Announces made while we knew nobody went nowhere: redo them.
            for (_, due) in self.announces.values_mut() {
                *due = now;
            }
            self.bootstrap_backoff = Duration::from_secs(1);
        }
    }

    /// Addresses worth talking to: our family, a real port, not ourselves.
    fn usable(&self, addr: SocketAddr) -> bool {
        addr.is_ipv4() == self.local.is_ipv4()
            && addr.port() != 0
            && !addr.ip().is_unspecified()
            && addr != self.local
    }

    fn on_query(
        &mut self,
        transaction_id: Vec<u8>,
        query: Query,
        read_only: bool,
        from: SocketAddr,
        now: Instant,
    ) {
        if !self.limiter.allow(from.ip(), now) {
            self.counters.queries_rate_limited += 1;
            return;
        }
        self.counters.queries_received += 1;
        if !read_only {
            // BEP 43: read-only nodes cannot answer, so never route to them.
            self.heard(query.id, from, Heard::Query, now);
        }
        let mut reply = Response {
            id: self.id,
            ..Response::default()
        };
        match query.method {
            Method::Ping => {}
            Method::FindNode { target, want } => self.add_nodes(&mut reply, &target, want, now),
            Method::GetPeers { info_hash, want } => {
                self.tokens.rotate_if_due(now, &mut self.rng);
                reply.token = Some(self.tokens.issue(from.ip()));
                if let Some(own) = self
                    .seeds
                    .get(&info_hash)
                    .and_then(|&port| self.own_addr(from, port))
                {
                    reply.values.push(own);
                }
                let stored = self
                    .store
                    .peers(&info_hash, from.is_ipv6(), now, &mut self.rng);
                let room = if from.is_ipv6() {
                    super::peer_store::MAX_VALUES_V6
                } else {
                    super::peer_store::MAX_VALUES_V4
                };
                for peer in stored {
                    if reply.values.len() < room && !reply.values.contains(&peer) {
                        reply.values.push(peer);
                    }
                }
                // Nodes too, so lookups converge even where peers are known.
                self.add_nodes(&mut reply, &info_hash, want, now);
            }
            Method::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                self.tokens.rotate_if_due(now, &mut self.rng);
                if !self.tokens.verify(from.ip(), &token) {
                    return self.send_error(
                        from,
                        transaction_id,
                        krpc::ERROR_PROTOCOL,
                        "bad token",
                    );
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    return self.send_error(from, transaction_id, krpc::ERROR_PROTOCOL, "bad port");
                }
                match self
                    .store
                    .announce(info_hash, SocketAddr::new(from.ip(), port), now)
                {
                    Stored::Full => {
                        return self.send_error(
                            from,
                            transaction_id,
                            krpc::ERROR_SERVER,
                            "peer store full",
                        )
                    }
                    Stored::Added | Stored::Refreshed => {
                        self.counters.peers_announced_to_us += 1;
                        if let Some(tell) = &self.config.announced {
                            if self.seeds.contains_key(&info_hash) {
                                let _ =
                                    tell.try_send((info_hash, SocketAddr::new(from.ip(), port)));
                            }
                        }
                    }
                }
            }
            Method::SampleInfohashes { target, want } => {
                self.add_nodes(&mut reply, &target, want, now);
                reply.samples = Some(self.store.sample_hashes(MAX_SAMPLES, &mut self.rng));
                reply.interval = Some(SAMPLE_INTERVAL);
                reply.num = Some(i64::try_from(self.store.hash_count()).unwrap_or(i64::MAX));
            }
            Method::Unknown {
                target: Some(target),
                ..
            } => {
                self.add_nodes(&mut reply, &target, Want::default(), now);
            }
            Method::Unknown { target: None, .. } => {
                return self.send_error(
                    from,
                    transaction_id,
                    krpc::ERROR_METHOD_UNKNOWN,
                    "method unknown",
                );
            }
        }
        let message = Message {
            transaction_id,
            body: Body::Response(reply),
            version: Some(VERSION.to_vec()),
            ip: Some(from),
            read_only: false,
        };
        self.send(from, &message);
    }

    /// Fills `nodes` or `nodes6` (BEP 32) with the closest nodes we know, for
    /// the families asked (default: the family of our socket).
    fn add_nodes(&self, reply: &mut Response, target: &Id, want: Want, now: Instant) {
        let ours_v4 = self.local.is_ipv4();
        let wanted = if want == Want::default() {
            true
        } else if ours_v4 {
            want.v4
        } else {
            want.v6
        };
        if !wanted {
            return;
        }
        let nodes = self.table.closest(target, K, now);
        if ours_v4 {
            reply.nodes = nodes;
        } else {
            reply.nodes6 = nodes;
        }
    }

    /// Where peers reach our own TCP port, as seen from `from`.
    fn own_addr(&self, from: SocketAddr, port: u16) -> Option<SocketAddr> {
        let ip = if !self.local.ip().is_unspecified() {
            self.local.ip()
        } else if let Some(ip) = self.external_ip {
            ip
        } else if from.ip().is_loopback() {
            match from.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            }
        } else {
            return None;
        };
        Some(SocketAddr::new(ip, port))
    }

    /// Takes the pending query answered by `transaction_id` from `from`.
    fn take_pending(&mut self, transaction_id: &[u8], from: SocketAddr) -> Option<Pending> {
        let key = u32::from_be_bytes(transaction_id.try_into().ok()?);
        // A reply from another address than we asked is forged or stale.
        if self.pending.get(&key)?.addr != from {
            return None;
        }
        self.pending.remove(&key)
    }

    fn on_response(
        &mut self,
        transaction_id: &[u8],
        response: Response,
        ip: Option<SocketAddr>,
        from: SocketAddr,
        now: Instant,
    ) {
        let Some(pending) = self.take_pending(transaction_id, from) else {
            self.counters.packets_dropped += 1;
            return;
        };
        self.counters.replies_received += 1;
        if let Some(ip) = ip {
            self.vote_external_ip(ip.ip(), now);
        }
        self.heard(response.id, from, Heard::Response, now);
        match pending.purpose {
            Purpose::Ping(reply) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(response.id));
                }
            }
            Purpose::Lookup(task) => {
                // BEP 32: a node answers with the family of the socket asked.
                let found = if self.local.is_ipv4() {
                    &response.nodes
                } else {
                    &response.nodes6
                };
                let nodes: Vec<NodeInfo> = found
                    .iter()
                    .filter(|n| n.id != self.id && self.usable(n.addr))
                    .copied()
                    .collect();
                if let Some(t) = self.lookups.get_mut(&task) {
                    t.lookup
                        .on_reply(from, response.id, &nodes, &response.values, response.token);
                    self.advance_lookup(task);
                }
            }
            Purpose::Announce(task) => self.announce_answered(task, true),
        }
    }

    /// Counts a reply's view of our address; once enough agree, it is our
    /// external address, and under BEP 42 our id must match it.
    fn vote_external_ip(&mut self, ip: IpAddr, now: Instant) {
        if routing_table::is_local(ip) || ip.is_ipv4() != self.local.is_ipv4() {
            return;
        }
        if self.ip_votes.len() >= 64 && !self.ip_votes.contains_key(&ip) {
            self.ip_votes.clear();
        }
        let votes = self.ip_votes.entry(ip).or_insert(0);
        *votes += 1;
        if *votes < EXTERNAL_IP_VOTES {
            return;
        }
        self.external_ip = Some(ip);
        if self.config.secure_id && !self.id.is_secure_for(ip) {
            self.id = Id::secure_for(ip, &mut self.rng);
            self.table = self.table.with_own_id(self.id, now);
            *self
                .shared_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = self.id;
            tracing::info!("external address {ip}: new BEP 42 node id {}", self.id);
        }
    }

    fn on_error(&mut self, transaction_id: &[u8], code: i64, text: String, from: SocketAddr) {
        let Some(pending) = self.take_pending(transaction_id, from) else {
            self.counters.packets_dropped += 1;
            return;
        };
        self.counters.replies_received += 1;
        match pending.purpose {
            Purpose::Ping(reply) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(DhtError::Remote {
                        addr: from,
                        code,
                        message: text,
                    }));
                }
            }
            Purpose::Lookup(task) => {
                if let Some(t) = self.lookups.get_mut(&task) {
                    t.lookup.on_failure(from);
                    self.advance_lookup(task);
                }
            }
            Purpose::Announce(task) => self.announce_answered(task, false),
        }
    }

    fn on_timeout(&mut self, pending: Pending, now: Instant) {
        self.counters.query_timeouts += 1;
        let id = self
            .table
            .entries()
            .find(|e| e.addr == pending.addr)
            .map(|e| e.id);
        if let Some(id) = id {
            self.table.failed(&id, now);
        }
        match pending.purpose {
            Purpose::Ping(reply) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(DhtError::Timeout(pending.addr)));
                }
            }
            Purpose::Lookup(task) => {
                if let Some(t) = self.lookups.get_mut(&task) {
                    t.lookup.on_failure(pending.addr);
                    self.advance_lookup(task);
                }
            }
            Purpose::Announce(task) => self.announce_answered(task, false),
        }
    }

    fn start_lookup(&mut self, target: Id, kind: LookupKind) {
        let now = self.config.clock.now();
        self.counters.lookups_started += 1;
        let known = self.table.closest(&target, K, now);
        // Routers are asked only while we know fewer than k nodes.
        let bootstrap: &[SocketAddr] = if known.len() < K {
            &self.config.bootstrap
        } else {
            &[]
        };
        let lookup = Lookup::new(target, K, &known, bootstrap);
        let task = self.next_task;
        self.next_task += 1;
        self.lookups.insert(task, LookupTask { lookup, kind });
        self.advance_lookup(task);
    }

    /// Sends the next queries of a lookup, or finishes it.
    fn advance_lookup(&mut self, task: u64) {
        let Some(t) = self.lookups.get_mut(&task) else {
            return;
        };
        let next = t.lookup.next_queries();
        if t.lookup.is_done() {
            if let Some(t) = self.lookups.remove(&task) {
                self.finish_lookup(t);
            }
            return;
        }
        let target = t.lookup.target();
        let method = match t.kind {
            LookupKind::FindNode(_) => Method::FindNode {
                target,
                want: Want::default(),
            },
            LookupKind::GetPeers(_) | LookupKind::Announce(..) => Method::GetPeers {
                info_hash: target,
                want: Want::default(),
            },
        };
        for addr in next {
            self.send_query(addr, method.clone(), Purpose::Lookup(task));
        }
    }

    fn finish_lookup(&mut self, task: LookupTask) {
        let now = self.config.clock.now();
        let closest = task.lookup.closest();
        let target = task.lookup.target();
        let mut peers = task.lookup.peers().to_vec();
        for peer in self
            .store
            .peers(&target, self.local.is_ipv6(), now, &mut self.rng)
        {
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
        let queries = task.lookup.queries_sent();
        match task.kind {
            LookupKind::FindNode(reply) => {
                if let Some(reply) = reply {
                    let _ = reply.send(closest.into_iter().map(|a| a.node).collect());
                }
            }
            LookupKind::GetPeers(reply) => {
                let _ = reply.send(GetPeers {
                    peers,
                    closest: closest.into_iter().map(|a| a.node).collect(),
                    queries,
                });
            }
            LookupKind::Announce(port, reply) => {
                let id = self.next_task;
                self.next_task += 1;
                let mut result = Announce {
                    peers,
                    queries,
                    ..Announce::default()
                };
                for answered in closest {
                    let Some(token) = answered.token else {
                        continue;
                    };
                    let method = Method::AnnouncePeer {
                        info_hash: target,
                        port: port.unwrap_or(0),
                        implied_port: port.is_none(),
                        token,
                    };
                    self.send_query(answered.node.addr, method, Purpose::Announce(id));
                    result.tried += 1;
                    result.queries += 1;
                }
                let pending = AnnounceTask {
                    remaining: result.tried,
                    result,
                    reply,
                };
                if pending.remaining == 0 {
                    if let Some(reply) = pending.reply {
                        let _ = reply.send(pending.result);
                    }
                } else {
                    self.announcing.insert(id, pending);
                }
            }
        }
    }

    fn announce_answered(&mut self, task: u64, stored: bool) {
        let Some(t) = self.announcing.get_mut(&task) else {
            return;
        };
        t.remaining = t.remaining.saturating_sub(1);
        if stored {
            t.result.stored += 1;
        }
        if t.remaining == 0 {
            if let Some(t) = self.announcing.remove(&task) {
                if let Some(reply) = t.reply {
                    let _ = reply.send(t.result);
                }
            }
        }
    }

    /// Housekeeping: timeouts, token rotation, expiry, bootstrap retries,
    /// bucket refresh, pings of questionable nodes, re-announces.
    fn maintain(&mut self) {
        self.send_deferred();
        let now = self.config.clock.now();
        let timeout = self.config.query_timeout;
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(pending) = self.pending.remove(&key) {
                self.on_timeout(pending, now);
            }
        }
        self.tokens.rotate_if_due(now, &mut self.rng);
        self.store.expire(now);

        if self.table.is_empty() {
            let bootstrapping = self
                .lookups
                .values()
                .any(|t| matches!(t.kind, LookupKind::FindNode(None)));
            if !self.config.bootstrap.is_empty() && now >= self.next_bootstrap && !bootstrapping {
                self.next_bootstrap = now + self.bootstrap_backoff;
                self.bootstrap_backoff = (self.bootstrap_backoff * 2).min(MAX_BOOTSTRAP_BACKOFF);
                self.start_lookup(self.id, LookupKind::FindNode(None));
            }
            return;
        }
        let room = MAX_BACKGROUND_LOOKUPS.saturating_sub(self.lookups.len());
        for target in self.table.refresh_targets(now, room, &mut self.rng) {
            self.start_lookup(target, LookupKind::FindNode(None));
        }
        for node in self.table.to_ping(now, 4) {
            self.send_query(node.addr, Method::Ping, Purpose::Ping(None));
        }
        let due: Vec<(Id, Option<u16>)> = self
            .announces
            .iter()
            .filter(|(_, (_, due))| *due <= now)
            .map(|(hash, (port, _))| (*hash, *port))
            .collect();
        for (hash, port) in due {
            self.announces
                .insert(hash, (port, now + self.config.reannounce_every));
            self.start_lookup(hash, LookupKind::Announce(port, None));
        }
    }
}
