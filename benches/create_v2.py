#!/usr/bin/env python3
"""v2 and hybrid creation benchmark: mktorrent-rs against libtorrent's create_torrent.

What it measures, on the same big file as benches/create.py (BENCH_BIG_MIB, default
2048 MiB, in the page cache), with BENCH_PIECE (default 1 MiB) pieces:

  * ours --hybrid and ours --v2 with 2 threads, and libtorrent's own create_torrent
    (python3-libtorrent, hybrid and v2-only) on the same file: wall, CPU, peak RSS;
  * the limits set by the hashing itself, from `openssl speed -evp sha1` and
    `-evp sha256` on one core: a hybrid does SHA-1 and SHA-256 over every byte, so two
    cores can reach at most 2 / (1/sha1 + 1/sha256); v2 at most 2 x sha256;
  * how many bytes ours reads (strace's pread64 results on the quarter-size file):
    a hybrid computes both hashes in one pass, so this should be 1.00x the file.

Targets from the v2 issue: hybrid >= 85% of its 2-core limit and faster than
libtorrent; v2 >= 85% of the 2-core SHA-256 limit. Prints PASS/FAIL, exits 0 either way.

    python3 benches/create_v2.py
    BENCH_BIG_MIB=256 BENCH_RUNS=1 python3 benches/create_v2.py   # smoke

Needs python3-libtorrent (/usr/bin/python3), openssl, GNU time and strace
(Debian: apt-get install python3-libtorrent openssl time strace).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import create as base  # noqa: E402  (shares data, build and timing with the v1 benchmark)

PIECE = int(os.environ.get("BENCH_PIECE", str(1 << 20)))
LT_CREATE = """
import os, sys, libtorrent as lt
src, out, mode, piece = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs, piece, lt.create_torrent.v2_only if mode == "v2" else 0)
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(src)))
open(out, "wb").write(lt.bencode(ct.generate()))
"""


def single_core_mib_s(algorithm):
    argv = ["openssl", "speed", "-mr", "-evp", algorithm, "-bytes", str(base.MIB), "-seconds", "3"]
    result = subprocess.run(argv, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[-1]) / base.MIB
    base.die(2, f"could not read `{' '.join(argv)}` output")


def bytes_read(argv):
    """Sum of pread64 results of one run, from strace."""
    log = base.OUT / "strace.log"
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=pread64", "-o", str(log), *argv],
                   check=True, capture_output=True)
    total = 0
    for line in log.read_text().splitlines():
        if "pread64" in line and "= " in line:
            result = line.rsplit("= ", 1)[1].split()[0]
            if result.isdigit():
                total += int(result)
    return total


def main():
    sys.stdout.reconfigure(line_buffering=True)
    for tool in ("openssl", "strace", base.TIME, "/usr/bin/python3"):
        if not shutil.which(tool):
            base.die(2, f"missing {tool} (Debian: apt-get install openssl strace time python3-libtorrent)")
    if subprocess.run(["/usr/bin/python3", "-c", "import libtorrent"]).returncode != 0:
        base.die(2, "python3-libtorrent is not installed")
    ours = base.build_ours()
    sha1, sha256 = single_core_mib_s("sha1"), single_core_mib_s("sha256")
    hybrid_limit = base.THREADS / (1 / sha1 + 1 / sha256)
    v2_limit = base.THREADS * sha256

    base.DATA.mkdir(parents=True, exist_ok=True)
    base.OUT.mkdir(parents=True, exist_ok=True)
    quarter_mib = max(1, base.BIG_MIB // 4)
    big = base.ensure_data(base.DATA / f"big-{base.BIG_MIB}MiB.bin", base.make_file, base.BIG_MIB, "big")
    small = base.ensure_data(base.DATA / f"big-{quarter_mib}MiB.bin", base.make_file, quarter_mib, "big")

    piece = str(PIECE)
    tools = [
        base.Tool("mktorrent-rs --hybrid", str(base.THREADS), lambda src, out: [
            ours, "create", src, "-o", out, "--hybrid", "-l", piece, "-j", str(base.THREADS),
            "--no-date", "-q", "-f"]),
        base.Tool("libtorrent hybrid", "library default", lambda src, out: [
            "/usr/bin/python3", "-c", LT_CREATE, src, out, "hybrid", piece]),
        base.Tool("mktorrent-rs --v2", str(base.THREADS), lambda src, out: [
            ours, "create", src, "-o", out, "--v2", "-l", piece, "-j", str(base.THREADS),
            "--no-date", "-q", "-f"]),
        base.Tool("libtorrent v2", "library default", lambda src, out: [
            "/usr/bin/python3", "-c", LT_CREATE, src, out, "v2", piece]),
    ]
    print(f"\n== {big.relative_to(base.REPO)}")
    outputs = base.bench(tools, big, "v2")
    size = base.data_size(big)

    read = bytes_read([ours, "create", small, "-o", base.OUT / "read.torrent", "--hybrid",
                       "-l", piece, "-j", str(base.THREADS), "--no-date", "-q", "-f"])
    small_size = base.data_size(small)

    print(f"\nSHA-1 single core (openssl):    {sha1:8.1f} MiB/s")
    print(f"SHA-256 single core (openssl):  {sha256:8.1f} MiB/s")
    print(f"hybrid limit, {base.THREADS} cores:          {hybrid_limit:8.1f} MiB/s (2 / (1/sha1 + 1/sha256))")
    print(f"v2 limit, {base.THREADS} cores:              {v2_limit:8.1f} MiB/s")
    base.print_table("Big file", tools, size)
    print(f"\nBytes ours read for a hybrid of {small_size / base.MIB:.0f} MiB: "
          f"{read / base.MIB:.1f} MiB = {read / small_size:.2f}x the file")

    verdicts = base.Verdicts()
    by_name = {t.name: t for t in tools}
    hybrid = size / base.MIB / by_name["mktorrent-rs --hybrid"].best()[0]
    v2 = size / base.MIB / by_name["mktorrent-rs --v2"].best()[0]
    lt_hybrid = by_name["libtorrent hybrid"].best()[0]
    verdicts.target(hybrid >= 0.85 * hybrid_limit,
                    f"hybrid: {hybrid:.0f} MiB/s = {hybrid / hybrid_limit:.0%} of the 2-core limit (target >= 85%)")
    verdicts.target(by_name["mktorrent-rs --hybrid"].best()[0] < lt_hybrid,
                    f"hybrid: ours {by_name['mktorrent-rs --hybrid'].best()[0] / lt_hybrid:.2f}x libtorrent's wall time (target < 1)")
    verdicts.target(v2 >= 0.85 * v2_limit,
                    f"v2: {v2:.0f} MiB/s = {v2 / v2_limit:.0%} of the 2-core SHA-256 limit (target >= 85%)")
    verdicts.target(abs(read / small_size - 1) < 0.01, f"hybrid reads the data once ({read / small_size:.2f}x)")
    for mine, theirs in (("mktorrent-rs --hybrid", "libtorrent hybrid"), ("mktorrent-rs --v2", "libtorrent v2")):
        same = outputs[mine].read_bytes() and base.bdecode(outputs[mine].read_bytes())[0][b"info"] == \
            base.bdecode(outputs[theirs].read_bytes())[0][b"info"]
        verdicts.output(same, f"{mine} vs {theirs}: {'identical' if same else 'different'} info dictionary")
    verdicts.print()


if __name__ == "__main__":
    main()
