"""libtorrent's DHT on loopback, driven by tests/interop/dht.rs.

usage: dht_libtorrent.py get-peers HASH BOOTSTRAP_HOST:PORT TIMEOUT
       dht_libtorrent.py seed TORRENT BOOTSTRAP_HOST:PORT TIMEOUT SAVE_PATH

get-peers asks every second and prints one JSON line {"peers": [...]}
once any peer is found (exit 1 on timeout). seed adds the torrent with
its content in SAVE_PATH, prints {"listening": PORT} and seeds (libtorrent
announces it to the DHT itself) until killed or TIMEOUT. Neither waits for libtorrent's bootstrap alert: it comes only
after every node of the bootstrap lookup answered or timed out. The session is
bootstrapped only from the given node and listens only on 127.0.0.1.
"""
import json
import sys
import time

import libtorrent as lt


def session(bootstrap, tcp_port):
    settings = {
        # Loopback needs an explicit interface, or libtorrent runs no DHT on it.
        "listen_interfaces": "127.0.0.1:%d" % tcp_port,
        "enable_dht": True,
        "dht_bootstrap_nodes": bootstrap,
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 100000,
        # Announce torrents to the DHT soon after adding them.
        "dht_announce_interval": 1,
        "allow_multiple_connections_per_ip": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.status_notification,
    }
    return lt.session(settings)


def main():
    mode, what, bootstrap, timeout = sys.argv[1:5]
    deadline = time.time() + float(timeout)
    if mode == "get-peers":
        target = lt.sha1_hash(bytes.fromhex(what))
        ses = session(bootstrap, 0)
        last = 0
        while time.time() < deadline:
            if time.time() - last > 1:
                ses.dht_get_peers(target)
                last = time.time()
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.dht_get_peers_reply_alert) and alert.num_peers() > 0:
                    peers = ["%s:%d" % p for p in alert.peers()]
                    print(json.dumps({"peers": peers}), flush=True)
                    return
            ses.wait_for_alert(100)
        sys.exit("libtorrent: get_peers found nobody within the timeout")
    elif mode == "seed":
        ses = session(bootstrap, 0)
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(what)
        params.save_path = sys.argv[5]
        params.flags |= lt.torrent_flags.seed_mode
        ses.add_torrent(params)
        print(json.dumps({"listening": ses.listen_port()}), flush=True)
        while time.time() < deadline:
            ses.pop_alerts()
            time.sleep(0.2)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
