#!/usr/bin/env python3
"""Creation benchmark: mktorrent-rs against mktorrent 1.1, torf and transmission-create.

What it measures: wall time, CPU time (user + sys) and peak RSS of each tool creating a
torrent with 1 MiB pieces from the same data, already in the page cache:

  * one big file (BENCH_BIG_MIB, default 2048 MiB), and a quarter-size copy run by ours
    alone, so the two peak RSS values show whether our memory grows with input size;
  * a tree of BENCH_TREE_FILES files (default 20000) of 0-64 KiB each;
  * the big file again from a cold page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`
    before every run, so root is needed; BENCH_COLD=0 leaves it out): ours, mktorrent and
    torf, where read order and read size decide.

It also measures single-core SHA-1 with `openssl speed -evp sha1`, checks that every tool
produced the same info hash (or, where a tool adds its own info keys, the same pieces
and files), and prints PASS/FAIL for the targets from the benchmark issue:

  big file   ours <= 0.6 x mktorrent wall, <= 0.8 x torf wall,
             ours throughput >= 90% of 2 x single-core SHA-1
  cold cache ours <= 1.0 x the fastest peer's wall
  tree       ours <= 0.6 x mktorrent wall
  memory     peak RSS does not grow with input size

How to run (from anywhere; run it on an idle machine, it builds release first):

  python3 benches/create.py
  BENCH_BIG_MIB=64 BENCH_TREE_FILES=500 BENCH_RUNS=1 python3 benches/create.py   # smoke

Each tool runs BENCH_RUNS times (default 3), interleaved so that drift hits every tool
alike; the table shows the best wall time and the median. Data, the torf venv, the
torrents and the tools' logs live under benches/work/ (gitignored) and the data is
reused while its size settings are unchanged.

Exit status: 0 whether the targets pass or fail; 1 if a tool fails to run; 2 if a tool
is missing or the setup (build, torf install) fails.
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benches" / "work"
DATA = WORK / "data"
OUT = WORK / "out"
VENV = WORK / "venv"

BIG_MIB = int(os.environ.get("BENCH_BIG_MIB", "2048"))
TREE_FILES = int(os.environ.get("BENCH_TREE_FILES", "20000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
COLD = os.environ.get("BENCH_COLD", "1") != "0"
TREE = os.environ.get("BENCH_TREE", "1") != "0"

# The targets are stated for two hashing threads; every tool that has the option gets it.
THREADS = 2
PIECE = 1 << 20
TREE_MAX_FILE = 64 * 1024
FILES_PER_DIR = 200
# Pinned so that results stay comparable between runs.
TORF_PACKAGES = ["torf-cli==5.2.1", "torf==4.3.1"]
MIB = 1 << 20
TIME = "/usr/bin/time"  # GNU time, for peak RSS (see run_once)


def die(code, message):
    print(f"\nERROR: {message}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- setup


def build_ours():
    print("== cargo build --release")
    if shutil.which("cargo") is None:
        die(2, "cargo not found")
    if subprocess.run(["cargo", "build", "--release"], cwd=REPO).returncode != 0:
        die(2, "cargo build --release failed")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = (REPO / target / "release" / "mktorrent-rs").resolve()
    if not binary.is_file():
        die(2, f"built binary not found at {binary}")
    return binary


def ensure_torf():
    torf = VENV / "bin" / "torf"
    if torf.is_file():
        return torf
    print(f"== installing {' '.join(TORF_PACKAGES)} into {VENV}")
    if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode != 0:
        die(2, f"could not create a venv at {VENV} (Debian: apt-get install python3-venv)")
    pip = [str(VENV / "bin" / "pip"), "install", "--quiet", *TORF_PACKAGES]
    if subprocess.run(pip).returncode != 0 or not torf.is_file():
        die(2, "pip install of torf failed")
    return torf


def require_tools():
    """Missing peers are an error, never a silent skip: the comparison is the point."""
    needed = ("mktorrent", "transmission-create", "openssl", TIME)
    missing = [t for t in needed if not shutil.which(t)]
    if missing:
        die(2, f"missing tools: {', '.join(missing)} "
               "(Debian: apt-get install mktorrent transmission-cli openssl time)")


def first_line(argv):
    result = subprocess.run(argv, capture_output=True, text=True)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def print_versions(ours, torf):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    mktorrent = first_line(["mktorrent", "-h"])
    print(f"cpu          {cpu}, {os.cpu_count()} cores")
    print(f"ours         {first_line([ours, '--version'])}")
    print(f"mktorrent    {mktorrent}")
    print(f"torf         {first_line([torf, '--version'])}")
    print(f"transmission {first_line(['transmission-create', '-V'])}")
    print(f"openssl      {first_line(['openssl', 'version'])}")
    if "mktorrent 1.1" not in mktorrent:
        print(f"WARNING: the targets are stated against mktorrent 1.1, found: {mktorrent}")


def sha1_single_core_mib_s():
    """Single-core SHA-1 throughput; `-mr` prints `+F:<n>:sha1:<bytes per second>`."""
    argv = ["openssl", "speed", "-mr", "-evp", "sha1", "-bytes", str(MIB), "-seconds", "3"]
    result = subprocess.run(argv, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[-1]) / MIB
    die(2, f"could not read `{' '.join(argv)}` output:\n{result.stdout}{result.stderr}")


# ---------------------------------------------------------------- data


def make_file(path, mib, seed):
    # Seeded, so the same settings always give the same bytes and the same info hash.
    rng = random.Random(seed)
    with open(path, "wb") as out:
        for _ in range(mib):
            out.write(rng.randbytes(MIB))


def make_tree(root, count, seed):
    # Sizes 0..64 KiB inclusive (empty files too), a few hundred files per directory.
    rng = random.Random(seed)
    for i in range(count):
        path = root / f"d{i // FILES_PER_DIR:03d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(0, TREE_MAX_FILE)))


def ensure_data(path, make, *args):
    """Builds `path` once; a marker written last makes an interrupted build start over."""
    done = path.with_name(path.name + ".done")
    if done.exists():
        return path
    print(f"== generating {path.relative_to(REPO)}")
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    make(path, *args)
    os.sync()  # no writeback of our own data during the timed runs
    done.touch()
    return path


def data_files(path):
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def data_size(path):
    return sum(p.stat().st_size for p in data_files(path))


def warm_cache(path):
    for file in data_files(path):
        with open(file, "rb") as f:
            while f.read(8 * MIB):
                pass


# ---------------------------------------------------------------- running


@dataclass
class Tool:
    name: str
    threads: str
    argv: object  # (source path, output path) -> argv list
    runs: list = field(default_factory=list)  # (wall s, cpu s, peak RSS KiB)

    def best(self):
        return min(self.runs)

    def median_wall(self):
        return statistics.median(r[0] for r in self.runs)

    def peak_mib(self):
        return max(r[2] for r in self.runs) / 1024


def make_tools(ours, torf):
    return [
        Tool("mktorrent-rs", str(THREADS), lambda src, out: [
            ours, "create", src, "-o", out, "-l", "1M", "-j", str(THREADS),
            "--no-date", "-q", "-f"]),
        # mktorrent insists on an announce URL; it is outside the info dict, so the
        # info hash is unaffected.
        Tool("mktorrent", str(THREADS), lambda src, out: [
            "mktorrent", "-t", str(THREADS), "-l", str(PIECE.bit_length() - 1), "-d",
            "-a", "http://x/announce", "-o", out, src]),
        # torf-cli only has --max-piece-size, which does nothing for small inputs; --merge
        # sets the piece length before hashing starts, so it is exact at any size.
        Tool("torf", str(THREADS), lambda src, out: [
            torf, src, "--threads", str(THREADS),
            "--merge", json.dumps({"info": {"piece length": PIECE}}),
            "--nodate", "--nocreator", "--nomagnet", "--yes", "-o", out]),
        # transmission-create hashes on one thread and polls its progress every 500 ms, so
        # its wall time is rounded up to the next half second.
        Tool("transmission-create", "1 (no option)", lambda src, out: [
            "transmission-create", "-o", out, "-s", str(PIECE // 1024), src]),
    ]


def run_once(tool, src, tag):
    out, log, rss = (OUT / f"{tag}-{tool.name}.{ext}" for ext in ("torrent", "log", "rss"))
    out.unlink(missing_ok=True)  # mktorrent refuses to overwrite
    argv = [str(a) for a in tool.argv(src, out)]
    # Peak RSS comes from /usr/bin/time: Linux carries a process's peak RSS across
    # fork+exec, so a child started straight from this Python process would report at
    # least Python's own peak. time is small, so the tool it forks starts near zero.
    timed = [TIME, "-f", "%M", "-o", str(rss), *argv]
    with open(log, "wb") as log_file:
        start = time.perf_counter()
        proc = subprocess.Popen(timed, stdout=log_file, stderr=subprocess.STDOUT)
        # CPU time from wait4 (microseconds; time's own share is negligible).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.is_file():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        die(1, f"{tool.name} failed (exit {proc.returncode}): {' '.join(argv)}\n{tail}")
    peak_kib = int(rss.read_text().split()[-1])
    tool.runs.append((wall, usage.ru_utime + usage.ru_stime, peak_kib))
    return out


def drop_caches():
    """Empties the page cache, so the next run reads from the disk."""
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError as err:
        die(2, f"cannot drop the page cache ({err}): run as root, or BENCH_COLD=0")


def bench(tools, src, tag, cold=False):
    """Runs every tool RUNS times, round-robin; returns each tool's last torrent.
    Warm: the data is read into the page cache once first. Cold: the cache is dropped
    before every run."""
    if not cold:
        warm_cache(src)
    outputs = {}
    for round_no in range(RUNS):
        for tool in tools:
            print(f"   run {round_no + 1}/{RUNS} {tool.name}")
            if cold:
                drop_caches()
            outputs[tool.name] = run_once(tool, src, tag)
    return outputs


# ---------------------------------------------------------------- checking output


def bdecode(data, i=0):
    """Minimal bencode decoder (BEP 3), enough to explain info dict differences."""
    kind = data[i:i + 1]
    if kind == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if kind in (b"l", b"d"):
        items, i = [], i + 1
        while data[i:i + 1] != b"e":
            item, i = bdecode(data, i)
            items.append(item)
        value = items if kind == b"l" else dict(zip(items[::2], items[1::2]))
        return value, i + 1
    colon = data.index(b":", i)
    length = int(data[i:colon])
    return data[colon + 1:colon + 1 + length], colon + 1 + length


def info_hash(ours, torrent):
    shown = subprocess.run([ours, "show", "--json", torrent], capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    return json.loads(shown.stdout)["info_hash"]


# Keys that decide what the torrent's data is; anything else in `info` is tool metadata.
CONTENT_KEYS = {b"name", b"piece length", b"pieces", b"length", b"files"}


def compare_output(ours, mine, theirs):
    """Returns (ok, explanation) for a peer's torrent against ours."""
    a, b = info_hash(ours, mine), info_hash(ours, theirs)
    if a is not None and a == b:
        return True, f"same info hash {a}"
    info_a = bdecode(mine.read_bytes())[0][b"info"]
    info_b = bdecode(theirs.read_bytes())[0][b"info"]
    differ = sorted(k for k in info_a.keys() | info_b.keys() if info_a.get(k) != info_b.get(k))
    shown = ", ".join(f"{k.decode()}={info_b.get(k, '(absent)')!r}" if k not in CONTENT_KEYS
                      else k.decode() for k in differ)
    if not CONTENT_KEYS & set(differ):
        return True, f"same pieces and files; info differs only in {shown} (theirs)"
    detail = ""
    if b"files" in differ:
        detail = f" ({len(info_a.get(b'files', []))} files vs {len(info_b.get(b'files', []))})"
    return False, f"info hash {a} vs {b}; differs in {shown}{detail}"


# ---------------------------------------------------------------- report


def print_table(title, tools, size):
    ours = tools[0].best()[0]
    print(f"\n{title}: {size / MIB:.1f} MiB, best of {RUNS}")
    print(f"  {'tool':<20} {'threads':<14} {'wall s':>8} {'median s':>9} {'CPU s':>8} "
          f"{'peak MiB':>9} {'MiB/s':>8} {'ours/tool':>10}")
    for tool in tools:
        wall, cpu, _ = tool.best()
        print(f"  {tool.name:<20} {tool.threads:<14} {wall:8.3f} {tool.median_wall():9.3f} "
              f"{cpu:8.3f} {tool.peak_mib():9.1f} {size / MIB / wall:8.1f} {ours / wall:10.2f}")


class Verdicts:
    """PASS/FAIL lines: the issue's targets first, then the same-output checks."""

    def __init__(self):
        self.targets, self.outputs = [], []

    def target(self, ok, text):
        self.targets.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    def output(self, ok, text):
        self.outputs.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    def print(self):
        print("\nTargets")
        for line in self.targets:
            print(f"  {line}")
        print("\nSame torrent as ours")
        for line in self.outputs:
            print(f"  {line}")


def report(sha1, results, ours_small, quarter_mib, verdicts):
    limit = THREADS * sha1
    big_tools, big_size = results["big"]
    ours_mib_s = big_size / MIB / big_tools[0].best()[0]
    print(f"\nSHA-1 single core (openssl):   {sha1:8.1f} MiB/s")
    print(f"{THREADS} x single core:              {limit:8.1f} MiB/s")
    print(f"ours on the big file:          {ours_mib_s:8.1f} MiB/s = {ours_mib_s / limit:.0%} "
          f"of {THREADS} x single core")
    print_table("Big file", big_tools, big_size)
    if "cold" in results:
        print_table("Big file, cold page cache", *results["cold"])
    if "tree" in results:
        print_table("Tree", *results["tree"])
    full_peak, small_peak = big_tools[0].peak_mib(), ours_small[0].peak_mib()
    print(f"\nOur peak RSS: {full_peak:.1f} MiB on {BIG_MIB} MiB, "
          f"{small_peak:.1f} MiB on {quarter_mib} MiB")

    def ratio(tools, peer):
        return tools[0].best()[0] / next(t for t in tools if t.name == peer).best()[0]

    checks = [("big", big_tools, "mktorrent", 0.6), ("big", big_tools, "torf", 0.8)]
    if "tree" in results:
        checks.append(("tree", results["tree"][0], "mktorrent", 0.6))
    for tag, tools, peer, most in checks:
        r = ratio(tools, peer)
        verdicts.target(r <= most, f"{tag}: ours wall {r:.2f}x {peer}'s (target <= {most}x)")
    share = ours_mib_s / limit
    verdicts.target(share >= 0.90, f"big: ours {ours_mib_s:.0f} MiB/s = {share:.0%} of "
                                   f"{THREADS} x single-core SHA-1 (target >= 90%)")
    if "cold" in results:
        cold_tools, _ = results["cold"]
        fastest = min(cold_tools[1:], key=lambda t: t.best()[0])
        r = ratio(cold_tools, fastest.name)
        verdicts.target(r <= 1.0, f"cold: ours wall {r:.2f}x the fastest peer's "
                                  f"({fastest.name}; target <= 1.0x)")
    # More input may cost a little more (20 bytes of piece hash per MiB), never memory in
    # proportion to it: allow 10% or 4 MiB of growth, whichever is larger.
    growth = full_peak - small_peak
    verdicts.target(growth <= max(4.0, 0.1 * small_peak),
                    f"memory: peak RSS {small_peak:.1f} MiB -> {full_peak:.1f} MiB for "
                    f"{BIG_MIB / quarter_mib:.0f}x the input (target: growth <= max(4 MiB, 10%))")
    verdicts.print()


def main():
    sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with cargo's
    require_tools()
    ours = build_ours()
    torf = ensure_torf()
    print()
    print_versions(ours, torf)

    print(f"\n== openssl speed -evp sha1 (single core, {MIB}-byte blocks, 3 s)")
    sha1 = sha1_single_core_mib_s()

    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    quarter_mib = max(1, BIG_MIB // 4)
    big = ensure_data(DATA / f"big-{BIG_MIB}MiB.bin", make_file, BIG_MIB, "big")
    small = ensure_data(DATA / f"big-{quarter_mib}MiB.bin", make_file, quarter_mib, "big")
    tree = ensure_data(DATA / f"tree-{TREE_FILES}", make_tree, TREE_FILES, "tree") if TREE else None

    verdicts = Verdicts()
    results = {}
    for title, src, tag in (("Big file", big, "big"), ("Tree", tree, "tree"))[:2 if TREE else 1]:
        print(f"\n== {title}: {src.relative_to(REPO)}")
        tools = make_tools(ours, torf)
        outputs = bench(tools, src, tag)
        results[tag] = (tools, data_size(src))
        for peer in tools[1:]:
            ok, why = compare_output(ours, outputs[tools[0].name], outputs[peer.name])
            verdicts.output(ok, f"{tag}: {peer.name}: {why}")

    if COLD:
        print(f"\n== Big file, cold page cache: {big.relative_to(REPO)}")
        tools = [t for t in make_tools(ours, torf) if t.name != "transmission-create"]
        outputs = bench(tools, big, "cold", cold=True)
        results["cold"] = (tools, data_size(big))
        for peer in tools[1:]:
            ok, why = compare_output(ours, outputs[tools[0].name], outputs[peer.name])
            verdicts.output(ok, f"cold: {peer.name}: {why}")

    print(f"\n== Big file, quarter size, ours only: {small.relative_to(REPO)}")
    ours_small = make_tools(ours, torf)[:1]
    bench(ours_small, small, "quarter")

    report(sha1, results, ours_small, quarter_mib, verdicts)


if __name__ == "__main__":
    main()
