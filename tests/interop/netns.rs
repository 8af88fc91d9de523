//! Network namespaces for clients that will not talk to loopback peers
//! (Transmission 3.00 ignores 127.x peers and DHT nodes) or that need a
//! link of their own to impair.
//!
//! [`Netns::new`] makes namespace `mtrs-<pid>-<n>` joined to the host by a
//! veth pair: host side 10.231.T.1/24, namespace side 10.231.T.2/24, with T
//! unique per namespace in this process and not in use by anyone else on
//! the machine. An nftables table inside the namespace drops every packet
//! leaving it for anything but `lo` or 10.231.T.0/24, so a client started
//! there reaches this machine only, whatever its defaults.
//!
//! Dropping a [`Netns`] (also when a test panics) kills what still runs in
//! it, by PID, then deletes the veth pair and the namespace. Creating one
//! first removes stale `mtrs-*` namespaces whose test process is gone.
//! Everything here needs root (`.ci/run` runs as root) and `ip`, `nft` and
//! `tc` (iproute2, nftables).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{output, require, run_ok};

/// Namespaces made by this process so far (the `n` of `mtrs-<pid>-<n>`).
static MADE: AtomicU32 = AtomicU32::new(0);

/// Held while a subnet is chosen and claimed, so two tests of this process
/// never pick the same one.
static CLAIM: Mutex<()> = Mutex::new(());

/// A network namespace with a veth pair to the host; see the module doc.
pub struct Netns {
    name: String,
    host_veth: String,
    ns_veth: String,
    subnet: u8,
    /// The host's nftables table made by [`Netns::netem`]'s fallback.
    host_table: std::sync::OnceLock<String>,
}

/// What [`Netns::netem`] could apply.
#[derive(Debug, PartialEq, Eq)]
pub enum Impairment {
    /// `tc netem` loss and delay on both ends of the veth pair.
    Netem,
    /// The kernel has no netem qdisc (some VM kernels are built without
    /// it): the loss is applied by nftables where packets arrive, at both
    /// ends, and there is no added delay.
    LossOnly,
}

impl Netns {
    /// Makes a namespace with its veth pair and firewall; see the module doc.
    pub fn new() -> Self {
        require("ip", "iproute2");
        require("nft", "nftables");
        remove_stale();
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let guard = CLAIM
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let subnet = free_subnet(pid, n);
        // Interface names have at most 15 bytes: "mh" + pid (≤ 7) + "x" + n.
        let netns = Self {
            name: format!("mtrs-{pid}-{n}"),
            host_veth: format!("mh{pid}x{n}"),
            ns_veth: format!("mn{pid}x{n}"),
            subnet,
            host_table: std::sync::OnceLock::new(),
        };
        // From here on, Drop undoes whatever part was made.
        run_ok(Command::new("ip").args(["netns", "add", &netns.name]));
        run_ok(Command::new("ip").args([
            "link",
            "add",
            &netns.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            &netns.ns_veth,
            "netns",
            &netns.name,
        ]));
        run_ok(Command::new("ip").args([
            "addr",
            "add",
            &format!("{}/24", netns.host_ip()),
            "dev",
            &netns.host_veth,
        ]));
        run_ok(Command::new("ip").args(["link", "set", &netns.host_veth, "up"]));
        drop(guard);
        run_ok(netns.command("ip").args([
            "addr",
            "add",
            &format!("{}/24", netns.ns_ip()),
            "dev",
            &netns.ns_veth,
        ]));
        run_ok(
            netns
                .command("ip")
                .args(["link", "set", &netns.ns_veth, "up"]),
        );
        run_ok(netns.command("ip").args(["link", "set", "lo", "up"]));
        netns.nft(
            true,
            &format!(
                "table inet mtrs {{
                chain output {{
                    type filter hook output priority 0; policy drop;
                    oifname \"lo\" accept
                    ip daddr 10.231.{subnet}.0/24 accept
                }}
            }}"
            ),
        );
        netns.wait_until_reachable();
        netns
    }

    /// The namespace's name, `mtrs-<pid>-<n>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host end of the veth pair: 10.231.T.1.
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.subnet, 1)
    }

    /// The namespace end of the veth pair: 10.231.T.2.
    pub fn ns_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.subnet, 2)
    }

    /// `ip netns exec NAME program`: add arguments and spawn as usual. The
    /// child's PID is the program's (`ip` execs it), so killing it works.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Loses `loss_pct` percent of packets and delays each by `delay_ms`
    /// on both ends of the veth pair, with `tc netem`; where the kernel has
    /// no netem, loses packets with nftables instead (see [`Impairment`]).
    pub fn netem(&self, loss_pct: u32, delay_ms: u32) -> Impairment {
        let tc = require("tc", "iproute2");
        let args = |dev: &str| -> Vec<String> {
            ["qdisc", "add", "dev", dev, "root", "netem", "loss"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain([
                    format!("{loss_pct}%"),
                    "delay".to_owned(),
                    format!("{delay_ms}ms"),
                ])
                .collect()
        };
        let host = output(Command::new(&tc).args(args(&self.host_veth)));
        if host.status.success() {
            run_ok(self.command("tc").args(args(&self.ns_veth)));
            return Impairment::Netem;
        }
        let said = String::from_utf8_lossy(&host.stderr);
        assert!(
            said.contains("qdisc kind is unknown"),
            "tc netem on {} failed: {said}",
            self.host_veth
        );
        // Random loss on arrival at either end: a drop on the way out would
        // fail the sender's send() with EPERM, which netem never does.
        let loss = |table: &str, dev: &str| {
            format!(
                "table netdev {table} {{
                    chain ingress {{
                        type filter hook ingress device \"{dev}\" priority 0; policy accept;
                        numgen random mod 100 < {loss_pct} counter drop
                    }}
                }}"
            )
        };
        self.nft(true, &loss("mtrs_loss", &self.ns_veth));
        let table = self.name.replace('-', "_");
        self.nft(false, &loss(&table, &self.host_veth));
        self.host_table.set(table).expect("netem is applied once");
        Impairment::LossOnly
    }

    /// Packets dropped so far by the nftables loss of [`Netns::netem`]
    /// (both ends); `None` unless that fallback is in use.
    pub fn packets_lost(&self) -> Option<u64> {
        let table = self.host_table.get()?;
        let count = |cmd: &mut Command| -> u64 {
            let listing = run_ok(cmd);
            listing
                .split_whitespace()
                .skip_while(|word| *word != "packets")
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no packet counter in:\n{listing}"))
        };
        let inside = count(
            self.command("nft")
                .args(["list", "table", "netdev", "mtrs_loss"]),
        );
        Some(inside + count(Command::new("nft").args(["list", "table", "netdev", table])))
    }

    /// Loads `ruleset` with `nft -f -`, in the namespace or on the host.
    fn nft(&self, inside: bool, ruleset: &str) {
        use std::io::Write;
        let mut cmd = if inside {
            self.command("nft")
        } else {
            Command::new("nft")
        };
        let mut child = cmd
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nft starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(ruleset.as_bytes())
            .expect("write the ruleset to nft");
        let out = child.wait_with_output().expect("nft runs");
        assert!(
            out.status.success(),
            "nft in {}: {}\n{ruleset}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A fresh veth may take a moment before packets cross it.
    fn wait_until_reachable(&self) {
        let started = Instant::now();
        let target = format!("{}:9", self.host_ip());
        loop {
            // A UDP "connect" needs a route and a usable address, no peer.
            let ok = output(self.command(crate::support::SYSTEM_PYTHON).args([
                "-c",
                &format!(
                    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                     s.connect(('{}', 9)); s.send(b'x')",
                    self.host_ip()
                ),
            ]))
            .status
            .success();
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{}: cannot reach {target}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_inside(&self.name);
        if let Some(table) = self.host_table.get() {
            let _ = Command::new("nft")
                .args(["delete", "table", "netdev", table])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_veth])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Kills (SIGKILL, by PID) every process still running in namespace
/// `name`, waiting a little for them to go.
fn kill_inside(name: &str) {
    for _ in 0..20 {
        let pids = Command::new("ip")
            .args(["netns", "pids", name])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = Command::new("kill").args(["-KILL", pid]).output();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes `mtrs-<pid>-<n>` namespaces whose test process `pid` is gone
/// (left by a test run that was itself killed).
fn remove_stale() {
    let list = run_ok(Command::new("ip").args(["netns", "list"]));
    for name in list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix("mtrs-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            kill_inside(name);
            let table = name.replace('-', "_");
            let _ = Command::new("nft")
                .args(["delete", "table", "netdev", &table])
                .output();
            // Deleting the namespace deletes its veth end, and so the pair.
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// A T in 1..=250 starting from one derived from this process and `n`,
/// whose 10.231.T.0/24 no interface on the host uses yet.
fn free_subnet(pid: u32, n: u32) -> u8 {
    let used = run_ok(Command::new("ip").args(["-o", "-4", "addr", "show"]));
    let start = pid.wrapping_mul(37).wrapping_add(n);
    (0..250)
        .map(|i| u8::try_from((start.wrapping_add(i)) % 250 + 1).expect("1..=250"))
        .find(|t| !used.contains(&format!(" 10.231.{t}.")))
        .expect("a free 10.231.T.0/24 subnet")
}

#[test]
fn a_namespace_reaches_the_host_only_and_leaves_nothing_behind() {
    let name;
    let host_veth;
    {
        let netns = Netns::new();
        name = netns.name().to_owned();
        host_veth = netns.host_veth.clone();
        let listener = std::net::TcpListener::bind((netns.host_ip(), 0)).expect("bind host side");
        let port = listener.local_addr().expect("addr").port();
        let script = format!(
            "import socket\n\
             socket.create_connection(('{}', {port}), timeout=5).close()\n\
             s = socket.socket(); s.settimeout(2)\n\
             try:\n    s.connect(('192.0.2.1', 80)); print('escaped')\n\
             except OSError:\n    print('blocked')\n",
            netns.host_ip()
        );
        let said = run_ok(
            netns
                .command(crate::support::SYSTEM_PYTHON)
                .args(["-c", &script]),
        );
        assert_eq!(said.trim(), "blocked", "the firewall let traffic out");
        listener
            .accept()
            .expect("the namespace connected to the host");
        // Declared last, so dropped first: the namespace's own Drop kills
        // whatever else is still running in it.
        let _sleeper = crate::support::KillOnDrop(
            netns
                .command("sleep")
                .arg("600")
                .spawn()
                .expect("sleep starts"),
        );
    }
    let list = run_ok(Command::new("ip").args(["netns", "list"]));
    assert!(!list.contains(&name), "{name} is still there:\n{list}");
    let links = run_ok(Command::new("ip").args(["-o", "link", "show"]));
    assert!(!links.contains(&host_veth), "{host_veth} is still there");
}
