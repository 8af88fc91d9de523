#!/usr/bin/env python3
"""Seeding benchmark: our seeder against a libtorrent seeder, to a libtorrent downloader.

One run seeds the same BENCH_SEED_MIB (default 1024) MiB file over loopback, once from
`mktorrent-rs seed` and once from a libtorrent 2.0 session in its own process, to a
fresh libtorrent downloader each time, taking turns for BENCH_RUNS (default 2) rounds.
For each it prints the download throughput (connect to complete) and the seeder's CPU
seconds (user + sys, from wait4 on the seeder process) per GiB, and ours / libtorrent's.

Both seeders skip the up-front check and hash each piece on its first request (ours
always does; libtorrent's seed_mode does the same), and encryption is off on the
downloader, so both serve plaintext. Targets from the issue: throughput >= 1.0x
libtorrent's and CPU per GiB <= 1.0x. Prints PASS/FAIL, exits 0 either way.

    /usr/bin/python3 benches/seed.py
    BENCH_SEED_MIB=128 BENCH_RUNS=1 /usr/bin/python3 benches/seed.py   # smoke

Needs cargo and python3-libtorrent (Debian: apt-get install python3-libtorrent). Holds
/work/BENCH_LOCK while timing when /work exists (waits while another holder has it).
Data and downloads go under benches/work/seed/ (gitignored).
"""

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import libtorrent as lt
except ImportError as err:
    sys.exit(f"needs python3-libtorrent (run with /usr/bin/python3): {err}")

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benches" / "work" / "seed"
MIB = 1 << 20
SIZE_MIB = int(os.environ.get("BENCH_SEED_MIB", "1024"))
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
PIECE = "1MiB"
LOCK = Path("/work/BENCH_LOCK")
LIMIT = 600

LT_SEEDER = """
import signal, sys, time, libtorrent as lt
torrent, save = sys.argv[1], sys.argv[2]
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "alert_mask": 0,
                  "allow_multiple_connections_per_ip": True})
ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save,
                 "flags": lt.torrent_flags.seed_mode})
print(ses.listen_port(), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop:
    time.sleep(0.1)
"""


def data_file():
    path = WORK / "data" / "big.bin"
    if path.exists() and path.stat().st_size == SIZE_MIB * MIB:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261121)
    with open(path, "wb") as out:
        for _ in range(SIZE_MIB):
            out.write(rng.randbytes(MIB))
    return path


def downloader():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True, "alert_mask": 0,
        "out_enc_policy": 2, "in_enc_policy": 2,  # pe_disabled: plaintext to both seeders
    })


def download(torrent, port):
    """Seconds from connect to complete, into a fresh directory."""
    with tempfile.TemporaryDirectory(dir=WORK) as dest:
        ses = downloader()
        handle = ses.add_torrent({"ti": lt.torrent_info(str(torrent)), "save_path": dest})
        started = time.monotonic()
        handle.connect_peer(("127.0.0.1", port))
        while not handle.status().is_seeding:
            if time.monotonic() - started > LIMIT:
                sys.exit(f"download stalled at {handle.status().progress:.1%}")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        del handle, ses
        return seconds


def stop(proc):
    """SIGTERM, then the child's CPU seconds (user + sys) from wait4."""
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def ours(binary, torrent, data):
    proc = subprocess.Popen(
        [str(binary), "seed", str(torrent), "--content", str(data), "--listen", "127.0.0.1:0",
         "--skip-verify", "-q"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
    seconds = download(torrent, port)
    return seconds, stop(proc)


def libtorrent(torrent, data):
    proc = subprocess.Popen([sys.executable, "-c", LT_SEEDER, str(torrent), str(data.parent)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    seconds = download(torrent, port)
    return seconds, stop(proc)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "mktorrent-rs"
    data = data_file()
    torrent = WORK / "big.torrent"
    subprocess.run([str(binary), "create", str(data), "-o", str(torrent), "-l", PIECE,
                    "--no-date", "-q", "--force"], check=True)
    subprocess.run(["cat", str(data)], stdout=subprocess.DEVNULL, check=True)  # page cache

    locked = False
    if LOCK.parent.is_dir():
        while LOCK.exists():
            print("waiting for /work/BENCH_LOCK ...", file=sys.stderr)
            time.sleep(20)
        LOCK.write_text(f"benches/seed.py pid {os.getpid()}\n")
        locked = True
    try:
        results = {"ours": [], "libtorrent": []}
        for _ in range(RUNS):
            results["ours"].append(ours(binary, torrent, data))
            results["libtorrent"].append(libtorrent(torrent, data))
    finally:
        if locked:
            LOCK.unlink(missing_ok=True)

    gib = SIZE_MIB / 1024
    best = {name: (min(s for s, _ in runs), min(c for _, c in runs)) for name, runs in results.items()}
    print(f"{SIZE_MIB} MiB over loopback to a libtorrent {lt.__version__} downloader, "
          f"best of {RUNS} (seconds and CPU taken separately)")
    print(f"{'seeder':<12} {'seconds':>8} {'MiB/s':>8} {'CPU s':>7} {'CPU s/GiB':>10}")
    for name, (seconds, cpu) in best.items():
        print(f"{name:<12} {seconds:8.2f} {SIZE_MIB / seconds:8.1f} {cpu:7.2f} {cpu / gib:10.2f}")
    throughput = best["libtorrent"][0] / best["ours"][0]
    cpu = best["ours"][1] / best["libtorrent"][1]
    print(f"ours / libtorrent: throughput {throughput:.2f}x (target >= 1.0) "
          f"{'PASS' if throughput >= 1.0 else 'FAIL'}; "
          f"CPU per GiB {cpu:.2f}x (target <= 1.0) {'PASS' if cpu <= 1.0 else 'FAIL'}")


if __name__ == "__main__":
    main()
