"""libtorrent's side of the v2/hybrid interop tests (tests/interop/v2.rs).

Run under the system Python (/usr/bin/python3, where Debian's
python3-libtorrent lives). Exits 3 when libtorrent cannot be imported.

    lt_v2.py info FILE
        {"v1", "v2", "roots": {PATH: HEX}, "layers": {ROOT_HEX: HEX},
         "files": [[PATH, LENGTH, PAD]]}: what libtorrent loads from FILE, with
        the pieces roots and piece layers read from its bencoded dictionary.
    lt_v2.py make ROOT PIECE_LENGTH OUT v2|hybrid
        Makes and hashes a torrent of ROOT (file or directory) with libtorrent's
        own create_torrent, writes OUT, and prints the same as `info`.
    lt_v2.py download TORRENT SEED_DIR DEST_DIR
        A libtorrent seeder (content in SEED_DIR) and a libtorrent downloader
        (into DEST_DIR) on 127.0.0.1, connected directly; waits until the
        download is complete and prints {"seconds"}, or exits 1 after 60 s.
"""

import json
import os
import sys
import time

try:
    import libtorrent as lt
except ImportError as err:
    print(f"cannot import libtorrent: {err}", file=sys.stderr)
    sys.exit(3)


def walk_tree(node, prefix, roots):
    for key, child in node.items():
        if key == b"":
            root = child.get(b"pieces root")
            if root:
                roots["/".join(prefix)] = root.hex()
        else:
            walk_tree(child, prefix + [key.decode()], roots)


def info(path):
    ti = lt.torrent_info(path)
    hashes = ti.info_hashes()
    with open(path, "rb") as f:
        raw = lt.bdecode(f.read())
    roots = {}
    walk_tree(raw[b"info"].get(b"file tree", {}), [], roots)
    layers = {k.hex(): v.hex() for k, v in raw.get(b"piece layers", {}).items()}
    fs = ti.files()
    files = [
        [fs.file_path(i), fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)]
        for i in range(fs.num_files())
    ]
    return {
        "v1": hashes.v1.to_bytes().hex() if hashes.has_v1() else None,
        "v2": hashes.v2.to_bytes().hex() if hashes.has_v2() else None,
        "roots": roots,
        "layers": layers,
        "files": files,
    }


def make(root, piece_length, out, mode):
    fs = lt.file_storage()
    lt.add_files(fs, root)
    flags = lt.create_torrent.v2_only if mode == "v2" else 0
    ct = lt.create_torrent(fs, int(piece_length), flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(root)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return info(out)


def session(port):
    return lt.session({
        "listen_interfaces": f"127.0.0.1:{port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })


def download(torrent, seed_dir, dest_dir):
    seeder, leecher = session(0), session(0)
    ti = lt.torrent_info(torrent)
    seed = seeder.add_torrent({"ti": ti, "save_path": seed_dir})
    leech = leecher.add_torrent({"ti": lt.torrent_info(torrent), "save_path": dest_dir})
    started = time.monotonic()
    connected = False
    while time.monotonic() - started < 60:
        if not connected and seed.status().state == lt.torrent_status.seeding:
            leech.connect_peer(("127.0.0.1", seeder.listen_port()))
            connected = True
        status = leech.status()
        if status.is_seeding:
            return {"seconds": round(time.monotonic() - started, 2)}
        time.sleep(0.1)
    print(f"download stalled: seeder {seed.status().state}, leecher {leech.status().state} "
          f"{leech.status().progress:.2%}", file=sys.stderr)
    sys.exit(1)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "info":
        result = info(*args)
    elif command == "make":
        result = make(*args)
    elif command == "download":
        result = download(*args)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
