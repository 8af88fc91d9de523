#!/usr/bin/env python3
"""Tracker benchmark: mktorrent-rs tracker against opentracker (Debian) and aquatic_udp.

What it measures, in one go on this machine, every server on 127.0.0.1 only:

  * UDP announce throughput (ours with --udp-workers 1, like aquatic_udp's socket_workers = 1):
    aquatic_udp_load_test (BENCH_SECONDS, default 30, the last
    BENCH_SECONDS-10 summarised) against ours, opentracker and aquatic_udp, same config:
    BENCH_TORRENTS torrents (default 100000), BENCH_PEERS peers (default 1000000),
    1 load worker, source addresses spread over 127.0.0.0/8;
  * HTTP announce throughput: wrk (keep-alive, 1 thread, 64 connections) with random
    whitelisted info hashes and ports, against ours and opentracker;
  * peak memory (VmHWM) of each server after the UDP run, and bytes per stored peer
    (growth over the idle server, divided by the peers ours reports storing; the load is
    deterministic, so the others store the same peers);
  * memory of the swarm store alone: `cargo run --release --example tracker_memory`.

It prints responses per second, peak memory and ratios, with PASS/FAIL for the targets:
UDP >= 1.0 x opentracker and >= 0.9 x aquatic_udp; HTTP >= 1.0 x opentracker; <= 100 bytes
per stored IPv4 peer.

Debian's opentracker is built allow-list only and IPv4 only, so the script first runs the
load against ours with --full-scrape, reads the info hashes the load generator used (they
come from a fixed seed) and writes them to opentracker's whitelist (relative to its
tracker.rootdir). Everything lives in benches/work/tracker/ (gitignored).

Setup (once): apt-get install opentracker wrk; cargo install --locked aquatic_udp_load_test; cargo install --locked aquatic_udp
--no-default-features --features mimalloc (0.9.0's prometheus feature pulls metrics 0.22.3, which
current rustc rejects). Run on an otherwise idle machine:

  python3 benches/tracker.py
  BENCH_SECONDS=12 BENCH_PEERS=100000 BENCH_TORRENTS=10000 python3 benches/tracker.py  # smoke

Exit status: 0 whether targets pass or fail; 2 if a tool is missing or a server fails.
"""

import gzip
import os
import re
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "benches", "work", "tracker")
SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
TORRENTS = int(os.environ.get("BENCH_TORRENTS", "100000"))
PEERS = int(os.environ.get("BENCH_PEERS", "1000000"))
OURS = os.path.join(ROOT, "target", "release", "mktorrent-rs")


def die(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def tool(name):
    path = shutil.which(name) or shutil.which(os.path.expanduser(f"~/.cargo/bin/{name}"))
    if not path:
        die(f"{name} not found (see the setup line in this script's docstring)")
    return path


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_ready(port, deadline=20.0):
    """Waits until a BEP 15 connect on 127.0.0.1:port gets an answer."""
    end = time.time() + deadline
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while time.time() < end:
            s.sendto(struct.pack(">QII", 0x41727101980, 0, 7), ("127.0.0.1", port))
            try:
                if len(s.recv(64)) >= 16:
                    return
            except OSError:
                time.sleep(0.2)
    die(f"no UDP tracker answered on port {port}")


def tcp_ready(port, deadline=20.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    die(f"nothing listens on TCP port {port}")


def status(pid, key):
    """A memory line of /proc/PID/status in bytes (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load_config(port, path):
    summarise = max(SECONDS - 10, 1)
    with open(path, "w") as f:
        f.write(
            f"""server_address = "127.0.0.1:{port}"
log_level = "error"
workers = 1
duration = {SECONDS}
summarize_last = {summarise}
extra_statistics = false

[network]
multiple_client_ipv4s = true
sockets_per_worker = 4
recv_buffer = 8000000

[requests]
number_of_torrents = {TORRENTS}
number_of_peers = {PEERS}
scrape_max_torrents = 10
announce_peers_wanted = 30
weight_connect = 50
weight_announce = 50
weight_scrape = 1
peer_seeder_probability = 0.75
"""
        )


def udp_load(name, port, server):
    """Runs the UDP load against `server`; returns (responses/s, announces/s, VmHWM, growth)."""
    config = os.path.join(WORK, f"load-{name}.toml")
    load_config(port, config)
    idle = status(server.pid, "VmRSS")
    out = subprocess.run(
        [tool("aquatic_udp_load_test"), "-c", config],
        capture_output=True, text=True, timeout=SECONDS + 120,
    ).stdout
    with open(os.path.join(WORK, f"load-{name}.log"), "w") as f:
        f.write(out)
    total = re.search(r"Average responses per second: ([\d.]+)", out)
    announce = re.search(r"Announce responses: ([\d.]+)\n\s*- Scrape", out.split("# aquatic load test report")[-1])
    if not total:
        die(f"no load test summary for {name}; see {config} and load-{name}.log")
    peak = status(server.pid, "VmHWM")
    return float(total.group(1)), float(announce.group(1)) if announce else 0.0, peak, peak - idle


def bdecode(data, i=0):
    """A minimal bencode decoder (enough for a scrape reply)."""
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            value, i = bdecode(data, i)
            items.append(value)
        if c == b"l":
            return items, i + 1
        return dict(zip(items[::2], items[1::2])), i + 1
    colon = data.index(b":", i)
    length = int(data[i:colon])
    return data[colon + 1:colon + 1 + length], colon + 1 + length


def http_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body


def wrk(name, port, hashes):
    """HTTP announces with random whitelisted hashes and ports; returns requests/s."""
    sample = random.Random(1).sample(hashes, min(1000, len(hashes)))
    escaped = ["".join(f"%{b:02x}" for b in bytes.fromhex(h)) for h in sample]
    script = os.path.join(WORK, "announce.lua")
    with open(script, "w") as f:
        f.write("hashes = {" + ",".join(f'"{e}"' for e in escaped) + "}\n")
        f.write(
            """math.randomseed(7)
request = function()
  local h = hashes[math.random(#hashes)]
  local port = math.random(1024, 65535)
  return wrk.format("GET", "/announce?info_hash=" .. h ..
    "&peer_id=-WR0001-abcdefghijkl&port=" .. port ..
    "&uploaded=0&downloaded=0&left=" .. (port % 2) .. "&compact=1&numwant=30")
end
"""
        )
    out = subprocess.run(
        [tool("wrk"), "-t1", "-c64", f"-d{SECONDS}s", "-s", script, f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=SECONDS + 60,
    ).stdout
    with open(os.path.join(WORK, f"wrk-{name}.log"), "w") as f:
        f.write(out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        die(f"wrk printed no rate for {name}; see wrk-{name}.log")
    return float(rate.group(1))


def main():
    os.makedirs(WORK, exist_ok=True)
    for name in ("opentracker", "wrk", "aquatic_udp", "aquatic_udp_load_test"):
        tool(name)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "tracker_memory"], cwd=ROOT, check=True)
    results = {}

    # --- ours, UDP (with HTTP for stats and the full scrape) ---
    udp, http = free_port(), free_port(socket.SOCK_STREAM)
    ours = subprocess.Popen(
        [OURS, "tracker", "--udp", f"127.0.0.1:{udp}", "--udp-workers", "1", "--http", f"127.0.0.1:{http}", "--full-scrape",
         "--max-peers", "10000000", "--max-torrents", "10000000",
         # The load generator is one address with many ports: lift the per-address shares.
         "--max-total-peers", "100000000", "--max-ports-per-ip", "1000000", "--max-peers-per-ip", "100000000",
         "--rate-limit", "0"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "ours.log"), "w"),
    )
    udp_ready(udp)
    tcp_ready(http)
    results["ours"] = udp_load("ours", udp, ours)
    stats = http_get(http, "/stats.json").decode()
    stored = int(re.search(r'"peers":(\d+)', stats).group(1))
    files, _ = bdecode(http_get(http, "/scrape"))
    hashes = sorted(h.hex() for h in files[b"files"])
    stop(ours)

    # --- opentracker, UDP: allow-list of the load's hashes, relative to its rootdir ---
    with open(os.path.join(WORK, "whitelist.txt"), "w") as f:
        f.write("\n".join(hashes) + "\n")
    ot_udp, ot_tcp = free_port(), free_port(socket.SOCK_STREAM)
    conf = os.path.join(WORK, "opentracker.conf")
    with open(conf, "w") as f:
        f.write(f"listen.udp 127.0.0.1:{ot_udp}\nlisten.tcp 127.0.0.1:{ot_tcp}\n"
                f"tracker.rootdir {WORK}\naccess.whitelist whitelist.txt\n")
    ot = subprocess.Popen([tool("opentracker"), "-f", conf, "-u", "nobody"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "opentracker.log"), "w"))
    udp_ready(ot_udp)
    results["opentracker"] = udp_load("opentracker", ot_udp, ot)
    stop(ot)

    # --- aquatic_udp ---
    aq_port = free_port()
    aq_conf = os.path.join(WORK, "aquatic_udp.toml")
    default = subprocess.run([tool("aquatic_udp"), "-p"], capture_output=True, text=True).stdout
    default = re.sub(r'^address = ".*"$', f'address = "127.0.0.1:{aq_port}"', default, flags=re.M)
    with open(aq_conf, "w") as f:
        f.write(default)
    aq = subprocess.Popen([tool("aquatic_udp"), "-c", aq_conf],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "aquatic.log"), "w"))
    udp_ready(aq_port)
    results["aquatic_udp"] = udp_load("aquatic_udp", aq_port, aq)
    stop(aq)

    # --- HTTP: ours and opentracker ---
    http = free_port(socket.SOCK_STREAM)
    ours = subprocess.Popen([OURS, "tracker", "--no-udp", "--http", f"127.0.0.1:{http}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tcp_ready(http)
    http_ours = wrk("ours", http, hashes)
    stop(ours)
    ot = subprocess.Popen([tool("opentracker"), "-f", conf, "-u", "nobody"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tcp_ready(ot_tcp)
    http_ot = wrk("opentracker", ot_tcp, hashes)
    stop(ot)

    store = subprocess.run([os.path.join(ROOT, "target", "release", "examples", "tracker_memory"),
                            str(PEERS), str(TORRENTS)], capture_output=True, text=True).stdout.strip()

    print(f"\nUDP load: {TORRENTS} torrents, {PEERS} peers, {SECONDS} s "
          f"(ours stored {stored} peers at the end)\n")
    print(f"{'server':<12} {'responses/s':>12} {'announces/s':>12} {'peak MiB':>9} {'B/peer':>7}")
    for name, (total, announce, peak, growth) in results.items():
        print(f"{name:<12} {total:>12.0f} {announce:>12.0f} {peak / 2**20:>9.1f} "
              f"{growth / max(stored, 1):>7.1f}")
    print(f"\nHTTP announces/s (wrk, keep-alive): ours {http_ours:.0f}, opentracker {http_ot:.0f}")
    print(f"swarm store alone: {store}\n")

    o, ot_r, aq_r = results["ours"][0], results["opentracker"][0], results["aquatic_udp"][0]
    per_peer = float(re.search(r"bytes_per_peer ([\d.]+)", store).group(1)) if "bytes_per_peer" in store else 1e9
    checks = [
        ("UDP >= 1.0 x opentracker", o / ot_r, 1.0),
        ("UDP >= 0.9 x aquatic_udp", o / aq_r, 0.9),
        ("HTTP >= 1.0 x opentracker", http_ours / http_ot, 1.0),
    ]
    for label, ratio, target in checks:
        print(f"{'PASS' if ratio >= target else 'FAIL'}  {label}: {ratio:.2f}")
    print(f"{'PASS' if per_peer <= 100 else 'FAIL'}  <= 100 bytes per stored IPv4 peer (store): {per_peer:.1f}")


if __name__ == "__main__":
    main()
