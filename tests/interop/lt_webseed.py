"""libtorrent's side of the web seed interop tests (tests/interop/webseed.rs).

Run under the system Python (/usr/bin/python3, where Debian's
python3-libtorrent lives). Exits 3 when libtorrent cannot be imported.

    lt_webseed.py download TORRENT DEST_DIR
        Downloads TORRENT into DEST_DIR from its web seeds alone: a session on
        127.0.0.1 with DHT, LSD, UPnP and NAT-PMP off, no tracker, no peer.
        Prints {"seconds"} once complete, or exits 1 after 60 s.
"""

import json
import sys
import time

try:
    import libtorrent as lt
except ImportError as err:
    print(f"cannot import libtorrent: {err}", file=sys.stderr)
    sys.exit(3)


def download(torrent, dest_dir):
    session = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification,
    })
    handle = session.add_torrent({"ti": lt.torrent_info(torrent), "save_path": dest_dir})
    started = time.monotonic()
    while time.monotonic() - started < 60:
        status = handle.status()
        if status.is_seeding:
            return {"seconds": round(time.monotonic() - started, 2)}
        time.sleep(0.1)
    errors = [a.message() for a in session.pop_alerts()]
    status = handle.status()
    print(f"download stalled at {status.progress:.2%} ({status.state}); "
          f"web seeds {[w['url'] for w in handle.torrent_file().web_seeds()]}; "
          f"alerts {errors}", file=sys.stderr)
    sys.exit(1)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "download":
        result = download(*args)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
