"""What libtorrent makes of a torrent or a magnet link, printed as JSON.

Used by the interop tests (tests/interop/libtorrent.rs) under the system
Python, /usr/bin/python3, which is the one Debian's python3-libtorrent
installs the module for. Exits 3 when the module cannot be imported, so the
tests can say what to install.

    lt_inspect.py torrent FILE
        {"info_hash", "has_v2", "info_hash_v2", "name", "num_pieces", "piece_length",
         "total_size", "private", "files": [{"path", "length", "pad"}],
         "trackers": [{"url", "tier"}], "web_seeds": [URL], "nodes": [[HOST, PORT]]}
        or {"error": MESSAGE} when libtorrent rejects the file.
    lt_inspect.py magnet URI
        {"info_hash", "name", "trackers": [URL], "tracker_tiers": [N], "web_seeds": [URL],
         "peers": [HOST:PORT], "info_hash_v2"}
    lt_inspect.py create ROOT PIECE_LENGTH OUT PATH:LENGTH...
        Writes OUT, a v1-only torrent made and hashed by libtorrent itself, with
        the files (relative to ROOT; the first component is the torrent name) in
        the order given, and prints {"info_hash"}.
    lt_inspect.py create-hybrid ROOT PIECE_LENGTH OUT PATH:LENGTH...
        The same as a hybrid v1 + v2 torrent (libtorrent's default, and what
        qBittorrent writes): pad files align every file to a piece.
"""

import json
import sys

try:
    import libtorrent as lt
except ImportError as err:
    print(f"cannot import libtorrent: {err}", file=sys.stderr)
    sys.exit(3)


def torrent(path):
    try:
        ti = lt.torrent_info(path)
    except RuntimeError as err:
        return {"error": str(err)}
    fs = ti.files()
    return {
        "info_hash": str(ti.info_hashes().v1),
        "has_v2": ti.info_hashes().has_v2(),
        "info_hash_v2": str(ti.info_hashes().v2) if ti.info_hashes().has_v2() else None,
        "name": ti.name(),
        "num_pieces": ti.num_pieces(),
        "piece_length": ti.piece_length(),
        "total_size": ti.total_size(),
        "private": ti.priv(),
        "files": [
            {
                "path": fs.file_path(i),
                "length": fs.file_size(i),
                "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
            }
            for i in range(fs.num_files())
        ],
        "trackers": [{"url": t.url, "tier": t.tier} for t in ti.trackers()],
        "web_seeds": [w["url"] for w in ti.web_seeds()],
        "nodes": [[host, port] for host, port in ti.nodes()],
    }


def magnet(uri):
    params = lt.parse_magnet_uri(uri)
    return {
        "info_hash": str(params.info_hashes.v1),
        "name": params.name,
        "trackers": list(params.trackers),
        "tracker_tiers": list(params.tracker_tiers),
        "web_seeds": list(params.url_seeds),
        "peers": ["%s:%d" % (host, port) for host, port in params.peers],
        "info_hash_v2": str(params.info_hashes.v2) if params.info_hashes.has_v2() else None,
    }


def create(root, piece_length, out, specs, flags):
    fs = lt.file_storage()
    for spec in specs:
        path, length = spec.rsplit(":", 1)
        fs.add_file(path, int(length))
    ct = lt.create_torrent(fs, int(piece_length), flags=flags)
    lt.set_piece_hashes(ct, root)
    data = lt.bencode(ct.generate())
    with open(out, "wb") as f:
        f.write(data)
    return {"info_hash": str(lt.torrent_info(lt.bdecode(data)).info_hashes().v1)}


def main(argv):
    mode, *rest = argv
    if mode == "torrent":
        answer = torrent(rest[0])
    elif mode == "magnet":
        answer = magnet(rest[0])
    elif mode == "create":
        answer = create(*rest[:3], rest[3:], lt.create_torrent.v1_only)
    elif mode == "create-hybrid":
        answer = create(*rest[:3], rest[3:], 0)
    else:
        sys.exit(f"unknown mode {mode!r}")
    json.dump(answer, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
