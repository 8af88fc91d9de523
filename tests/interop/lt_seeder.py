"""libtorrent as a downloader from our seeder on loopback, and as a control
seeder for clients whose tests also run against `publish`.

  download TORRENT DEST HOST PORT   add the torrent, dial HOST:PORT, wait for completion
  magnet URI DEST                    add a magnet (peers from x.pe), fetch metadata, complete
  seed TORRENT SAVE IP:PORT SECS [DHT_NODE...]
                                     seed TORRENT (content in SAVE) on IP:PORT, TCP and uTP,
                                     announcing to its trackers and, given DHT nodes, to a
                                     DHT joined through them alone; dial the peers found

download and magnet print one JSON object; exit 1 on a stalled download.
seed prints {"listening": "IP:PORT"} once the content is checked, then
{"uploaded": BYTES} whenever that grows, and stops after SECS. Its MSE/PE
policy is libtorrent's default (both accepted) unless LT_ENCRYPTION in the
environment is "forced" (RC4 only, both ways) or "disabled" (plaintext only). All exit 3 without libtorrent.
"""
import json
import os
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


def seed(torrent, save, listen, seconds, *dht_nodes):
    settings = {
        "listen_interfaces": listen,
        "enable_dht": bool(dht_nodes),
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "alert_mask": 0,
    }
    if dht_nodes:
        settings.update({
            "dht_bootstrap_nodes": ",".join(dht_nodes),
            # The test's nodes share one IP: let them all in.
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 100000,
            "dht_announce_interval": 5,
        })
    encryption = os.environ.get("LT_ENCRYPTION", "enabled")
    if encryption == "forced":
        # Forced both ways (pe_forced = 0), RC4 only (pe_rc4 = 2).
        settings.update({
            "out_enc_policy": 0,
            "in_enc_policy": 0,
            "allowed_enc_level": 2,
            "prefer_rc4": True,
        })
    elif encryption == "disabled":
        # pe_disabled = 2: plaintext only, MSE refused.
        settings.update({"out_enc_policy": 2, "in_enc_policy": 2})
    ses = lt.session(settings)
    handle = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save})
    deadline = time.monotonic() + float(seconds)
    while not handle.status().is_seeding:
        if time.monotonic() > deadline:
            print(f"not seeding: {handle.status().state}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.1)
    print(json.dumps({"listening": listen}), flush=True)
    uploaded = 0
    while time.monotonic() < deadline:
        now = handle.status().all_time_upload
        if now > uploaded:
            uploaded = now
            print(json.dumps({"uploaded": uploaded}), flush=True)
        time.sleep(0.2)
    return None


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "seed":
        seed(*args)
        return
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
