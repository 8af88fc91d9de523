#!/usr/bin/env python3
"""Seeding benchmark: our seeder against a libtorrent seeder, to a libtorrent downloader.

One run seeds the same BENCH_SEED_MIB (default 1024) MiB file over loopback, once from
`mktorrent-rs publish` (no trackers, no DHT: the seeder alone) and once from a libtorrent 2.0 session in its own process, to a
fresh libtorrent downloader each time, taking turns for BENCH_RUNS (default 2) rounds.
For each it prints the download throughput (connect to complete) and the seeder's CPU
seconds per GiB, both while transferring (user + sys of every seeder thread from
/proc/PID/stat, read just before connecting and just after completion) and for the
whole process (from wait4, so start-up is included: a Python interpreter and
import for libtorrent, torrent loading for both), and ours / libtorrent's.

Both seeders skip the up-front check and hash each piece on its first request (ours
always does; libtorrent's seed_mode does the same). BENCH_ENCRYPTION (default
"plaintext") is "plaintext" (encryption off on the downloader, so both serve plaintext)
or "rc4" (MSE/PE forced both ways, RC4 only, on the downloader and the libtorrent
seeder; ours runs its default `--encryption prefer`, so every byte goes through RC4
on both seeders). BENCH_TRANSPORTS (default "tcp,utp") names the
transports measured, each in its own table: with tcp every side is TCP only, with utp
every side is uTP only (BEP 29, LEDBAT on both seeders), so each table compares the
seeders over one transport. Targets from the issues: throughput >= 1.0x libtorrent's
and transfer CPU per GiB <= 1.0x. Prints a PASS or FAIL line per target, exits 0
either way (1 when a download stalls).

    /usr/bin/python3 benches/seed.py
    BENCH_SEED_MIB=512 BENCH_TRANSPORTS=utp /usr/bin/python3 benches/seed.py
    BENCH_SEED_MIB=128 BENCH_RUNS=1 /usr/bin/python3 benches/seed.py   # smoke
    BENCH_ENCRYPTION=rc4 BENCH_TRANSPORTS=tcp /usr/bin/python3 benches/seed.py

Needs cargo and python3-libtorrent (Debian: apt-get install python3-libtorrent). Holds
the lock file named by BENCH_LOCK (if set: name and date) for each timed download,
waiting while another holder has it, and never while building.
Data and downloads go under benches/work/seed/ (gitignored).
"""

import json
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
# A lock file shared with other benchmark users of the machine (BENCH_LOCK=PATH).
LOCK = Path(os.environ["BENCH_LOCK"]) if os.environ.get("BENCH_LOCK") else None
LIMIT = 120  # seconds for one download; keeps the lock well under 6 minutes
TRANSPORTS = os.environ.get("BENCH_TRANSPORTS", "tcp,utp").split(",")
ENCRYPTION = os.environ.get("BENCH_ENCRYPTION", "plaintext")
# libtorrent's policies: pe_forced = 0, pe_disabled = 2; allowed_enc_level pe_rc4 = 2.
POLICY = {
    "plaintext": {"out_enc_policy": 2, "in_enc_policy": 2},
    "rc4": {"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2, "prefer_rc4": True},
}[ENCRYPTION]
ONLY = {
    "tcp": {"enable_outgoing_utp": False, "enable_incoming_utp": False},
    "utp": {"enable_outgoing_tcp": False, "enable_incoming_tcp": False},
}

LT_SEEDER = """
import json, signal, sys, time, libtorrent as lt
torrent, save, only = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "alert_mask": 0,
                  "allow_multiple_connections_per_ip": True, **only})
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


def downloader(transport):
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True, "alert_mask": 0,
        **POLICY,
        **ONLY[transport],
    })


class Lock:
    """The BENCH_LOCK file for one timed download (a no-op when unset)."""

    def __enter__(self):
        self.held = LOCK is not None
        if self.held:
            while LOCK.exists():
                print(f"waiting for {LOCK} ...", file=sys.stderr, flush=True)
                time.sleep(20)
            LOCK.write_text(f"benches/seed.py (pid {os.getpid()}) since "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")

    def __exit__(self, *_):
        if self.held:
            LOCK.unlink(missing_ok=True)


def cpu_seconds(pid):
    """User + sys CPU seconds of every thread of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def download(torrent, port, pid, transport):
    """Seconds from connect to complete into a fresh directory, and the
    seeder's CPU seconds over the same span."""
    with tempfile.TemporaryDirectory(dir=WORK) as dest:
        ses = downloader(transport)
        handle = ses.add_torrent({"ti": lt.torrent_info(str(torrent)), "save_path": dest})
        cpu = cpu_seconds(pid)
        started = time.monotonic()
        handle.connect_peer(("127.0.0.1", port))
        while not handle.status().is_seeding:
            if time.monotonic() - started > LIMIT:
                raise RuntimeError(f"download stalled at {handle.status().progress:.1%}")
            time.sleep(0.01)
        seconds = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu
        del handle, ses
        return seconds, cpu


def stop(proc):
    """SIGTERM, then the child's CPU seconds (user + sys) from wait4."""
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def run_seeder(command, parse_port, torrent, transport):
    """Starts a seeder, times one download from it, stops it (also on
    failure). Returns (seconds, transfer CPU s, whole-process CPU s)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        port = parse_port(proc.stdout.readline())
        with Lock():
            seconds, cpu = download(torrent, port, proc.pid, transport)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return seconds, cpu, stop(proc)


def ours(binary, torrent, data, transport):
    only = ["--no-utp"] if transport == "tcp" else ["--no-tcp"]
    return run_seeder(
        [str(binary), "publish", str(torrent), "--content", str(data), "--listen", "127.0.0.1:0",
         "--no-dht", "--skip-verify", "-q", *only], x_pe_port, torrent, transport)


def x_pe_port(line):
    """The port of the magnet link's x.pe=127.0.0.1:PORT that publish prints."""
    return int(line.strip().rsplit("x.pe=", 1)[1].split("&")[0].rsplit(":", 1)[1])


def libtorrent(torrent, data, transport):
    # The seeder forces the same policy as the downloader (plaintext: libtorrent's
    # default would accept either anyway).
    settings = {**ONLY[transport], **(POLICY if ENCRYPTION == "rc4" else {})}
    return run_seeder([sys.executable, "-c", LT_SEEDER, str(torrent), str(data.parent),
                       json.dumps(settings)], int, torrent, transport)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "mktorrent-rs"
    data = data_file()
    torrent = WORK / "big.torrent"
    subprocess.run([str(binary), "create", str(data), "-o", str(torrent), "-l", PIECE,
                    "--no-date", "-q", "--force"], check=True)
    subprocess.run(["cat", str(data)], stdout=subprocess.DEVNULL, check=True)  # page cache

    for transport in TRANSPORTS:
        report(transport, binary, torrent, data)


def report(transport, binary, torrent, data):
    results = {"ours": [], "libtorrent": []}
    try:
        for _ in range(RUNS):
            results["ours"].append(ours(binary, torrent, data, transport))
            results["libtorrent"].append(libtorrent(torrent, data, transport))
    except RuntimeError as err:
        sys.exit(f"seed.py ({transport}): {err}")

    gib = SIZE_MIB / 1024
    print(f"{SIZE_MIB} MiB (1 MiB pieces) over loopback {transport.upper()}, {ENCRYPTION}, to a libtorrent "
          f"{lt.__version__} downloader, {RUNS} run(s) each; best (min) of each column")
    print(f"{'seeder':<12} {'seconds':>8} {'MiB/s':>8} {'CPU s/GiB':>10} {'(whole process)':>16}"
          f"   all runs: seconds / transfer CPU s")
    best = {}
    for name, runs in results.items():
        seconds = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs) / gib
        whole = min(r[2] for r in runs) / gib
        best[name] = (seconds, cpu, whole)
        every = ", ".join(f"{r[0]:.2f}/{r[1]:.2f}" for r in runs)
        print(f"{name:<12} {seconds:8.2f} {SIZE_MIB / seconds:8.1f} {cpu:10.2f} {whole:16.2f}"
              f"   {every}")
    throughput = best["libtorrent"][0] / best["ours"][0]
    print(f"ours / libtorrent ({transport}, {ENCRYPTION}): throughput {throughput:.2f}x, transfer CPU per GiB "
          f"{best['ours'][1] / best['libtorrent'][1]:.2f}x, whole-process CPU per GiB "
          f"{best['ours'][2] / best['libtorrent'][2]:.2f}x")
    cpu = best["ours"][1] / best["libtorrent"][1]
    print(f"{'PASS' if throughput >= 1.0 else 'FAIL'}: {transport} throughput {throughput:.2f}x "
          f"libtorrent's (target >= 1.0x)")
    print(f"{'PASS' if cpu <= 1.0 else 'FAIL'}: {transport} CPU per GiB {cpu:.2f}x libtorrent's "
          f"(target <= 1.0x)\n")


if __name__ == "__main__":
    main()
