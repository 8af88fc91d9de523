#!/usr/bin/env python3
"""Web seed check benchmark: `check-web-seeds --full` against curl + verify.

What it measures: the wall time of a full check (every piece fetched with Range requests
and hashed) of a single-file torrent whose only web seed is a loopback HTTP server, beside
the time of the pair a user would otherwise run: `curl` downloading the same file to
/dev/null, then our own `verify` of a local copy. Target from the web seed issue: ours is
not slower than the pair.

How to run (from anywhere; on an idle machine; it builds release first):

  python3 benches/webseed.py
  BENCH_WEBSEED_MIB=64 BENCH_RUNS=1 python3 benches/webseed.py   # smoke

The server is a small threaded Python server in this process that answers Range requests
with sendfile(2), so both sides are served the same way. Data (BENCH_WEBSEED_MIB MiB,
default 2048, from a fixed seed) and the torrent live under benches/work/webseed/
(gitignored) and are reused while the size is unchanged. Each side runs BENCH_RUNS times
(default 3), taking turns; the table shows best and median wall time.

Exit status: 0 whether the target passes or fails; 1 if a command fails; 2 if a tool is
missing or the build fails.
"""

import http.server
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benches" / "work" / "webseed"
MIB = int(os.environ.get("BENCH_WEBSEED_MIB", "2048"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
NAME = f"data-{MIB}MiB.bin"


def die(code, message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD of files under the server's directory, with single Range support."""

    protocol_version = "HTTP/1.1"
    root = WORK

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.serve(body=False)

    def do_GET(self):
        self.serve(body=True)

    def serve(self, body):
        path = (self.root / self.path.lstrip("/").split("?")[0]).resolve()
        if self.root not in path.parents or not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = path.stat().st_size
        first, last, status = 0, size - 1, 200
        spec = self.headers.get("Range", "")
        if spec.startswith("bytes="):
            a, _, b = spec[6:].partition("-")
            first = int(a)
            last = min(int(b), size - 1) if b else size - 1
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                self.connection.sendfile(f, first, last - first + 1)


def build():
    print("== cargo build --release", flush=True)
    if subprocess.run(["cargo", "build", "--release"], cwd=REPO).returncode != 0:
        die(2, "cargo build --release failed")
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return (REPO / target / "release" / "mktorrent-rs").resolve()


def make_data():
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / NAME
    if data.is_file() and data.stat().st_size == MIB << 20:
        return data
    print(f"== writing {MIB} MiB of data", flush=True)
    rng = random.Random(7)
    with open(data, "wb") as f:
        for _ in range(MIB):
            f.write(rng.randbytes(1 << 20))
    return data


def run(cmd):
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        die(1, f"{' '.join(map(str, cmd))} failed: {done.stderr.decode(errors='replace')}")
    return elapsed


def main():
    curl = shutil.which("curl") or die(2, "install curl (apt-get install curl)")
    ours = build()
    data = make_data()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{NAME}"
    torrent = WORK / f"{NAME}.torrent"
    if torrent.exists():
        torrent.unlink()
    subprocess.run(
        [ours, "create", data, "-w", url, "-o", torrent, "-q", "--no-date", "-l", "1MiB"],
        check=True,
    )
    # Into the page cache, so both sides read memory, not the disk.
    run([curl, "-sf", "-o", "/dev/null", url])

    check, pair, fetch, verify = [], [], [], []
    for _ in range(RUNS):
        check.append(run([ours, "check-web-seeds", torrent, "--full", "-q"]))
        a = run([curl, "-sf", "-o", "/dev/null", url])
        b = run([ours, "verify", torrent, "--content", data, "-q"])
        fetch.append(a)
        verify.append(b)
        pair.append(a + b)
    server.shutdown()

    print(f"\n{MIB} MiB single file, 1 MiB pieces, loopback web seed, {RUNS} runs, "
          f"{os.cpu_count()} CPUs")
    print(f"| {'what':<44} | {'best s':>7} | {'median s':>8} | {'MiB/s':>6} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 10}|{'-' * 8}|")
    rows = [
        ("check-web-seeds --full", check),
        ("curl to /dev/null + verify of a local copy", pair),
        ("  curl to /dev/null", fetch),
        ("  verify", verify),
    ]
    for label, times in rows:
        best = min(times)
        print(f"| {label:<44} | {best:7.3f} | {statistics.median(times):8.3f} | "
              f"{MIB / best:6.0f} |")
    ratio = min(check) / min(pair)
    verdict = "PASS" if ratio <= 1.0 else "FAIL"
    print(f"\n{verdict}: check-web-seeds --full takes {ratio:.2f} x the time of curl + verify")


if __name__ == "__main__":
    main()
