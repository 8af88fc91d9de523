"""libtorrent as a downloader from our seeder on loopback.

  download TORRENT DEST HOST PORT   add the torrent, dial HOST:PORT, wait for completion
  magnet URI DEST                    add a magnet (peers from x.pe), fetch metadata, complete

Prints one JSON object; exits 1 on a stalled download, 3 without libtorrent.
"""
import json
import sys
import time

try:
    import libtorrent as lt
except ImportError as err:
    print(f"no libtorrent module: {err}", file=sys.stderr)
    sys.exit(3)

LIMIT = 60


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    })


def wait(handle, started):
    while time.monotonic() - started < LIMIT:
        status = handle.status()
        if status.is_seeding:
            return {
                "seconds": round(time.monotonic() - started, 2),
                "name": status.name,
                "has_metadata": status.has_metadata,
                "info_hash": str(status.info_hashes.v1 if hasattr(status, "info_hashes") else status.info_hash),
            }
        time.sleep(0.1)
    status = handle.status()
    print(f"download stalled: {status.state} {status.progress:.2%}, "
          f"peers {status.num_peers}, metadata {status.has_metadata}", file=sys.stderr)
    sys.exit(1)


def download(torrent, dest, host, port):
    ses = session()
    handle = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": dest})
    started = time.monotonic()
    handle.connect_peer((host, int(port)))
    return wait(handle, started)


def magnet(uri, dest):
    ses = session()
    params = lt.parse_magnet_uri(uri)
    params.save_path = dest
    handle = ses.add_torrent(params)
    return wait(handle, time.monotonic())


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "download":
        result = download(*args)
    elif command == "magnet":
        result = magnet(*args)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
