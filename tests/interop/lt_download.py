"""libtorrent 2.0 as a downloader from `mktorrent-rs publish` on loopback
(tests/interop/publish.rs). Run under /usr/bin/python3.

    lt_download.py SAVE (--torrent FILE | --magnet URI)
                   [--dht HOST:PORT]... [--connect HOST:PORT]
                   [--listen IP] [--utp-only | --tcp-only] [--forced-encryption]
                   [--timeout SECS] [--linger SECS]

Listens on 127.0.0.1 only (or on --listen IP, e.g. a test namespace's
address) and adds the torrent or magnet with SAVE as its save path.
--utp-only turns TCP off both ways, so every peer connection is uTP
(BEP 29); --tcp-only turns uTP off both ways. --forced-encryption speaks
MSE/PE RC4 only, both ways. Peers come from the torrent's trackers, from the magnet's x.pe,
from --connect (dialled again whenever no peer is connected), or, given --dht nodes, from a DHT bootstrapped from those
nodes alone (the DHT is off otherwise). Once every piece is here it prints
one JSON line {"seconds", "name", "has_metadata", "info_hash",
"info_hash_v2", "peers", "utp_peers"} (the info hashes in hex, zeros for
a version the torrent lacks) and
keeps seeding for --linger seconds (or until killed), so the seeder sees the
finished download. Exits 1 with a status report on stderr when the download
is not complete within --timeout, 3 when libtorrent cannot be imported.
"""
import argparse
import json
import socket
import sys
import time

try:
    import libtorrent as lt
except ImportError as err:
    print(f"cannot import libtorrent: {err}", file=sys.stderr)
    sys.exit(3)


def free_port(ip):
    # The DHT shares the TCP port number over UDP: find one free for both.
    for _ in range(20):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp.bind((ip, 0))
            port = tcp.getsockname()[1]
            udp.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            tcp.close()
            udp.close()
    sys.exit("no free port on %s for TCP and UDP" % ip)


def session(dht_nodes, ip, utp_only, forced_encryption=False, tcp_only=False):
    settings = {
        # An explicit interface: with 0.0.0.0 libtorrent runs no DHT on
        # loopback, and nothing may leave this machine anyway.
        "listen_interfaces": "%s:%d" % (ip, free_port(ip)),
        "enable_dht": bool(dht_nodes),
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.status_notification,
    }
    if forced_encryption:
        # Forced both ways (pe_forced = 0), RC4 only (pe_rc4 = 2).
        settings.update({
            "out_enc_policy": 0,
            "in_enc_policy": 0,
            "allowed_enc_level": 2,
            "prefer_rc4": True,
        })
    if tcp_only:
        settings.update({
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
        })
    if utp_only:
        settings.update({
            "enable_outgoing_tcp": False,
            "enable_incoming_tcp": False,
        })
    if dht_nodes:
        settings.update({
            "dht_bootstrap_nodes": ",".join(dht_nodes),
            # Loopback nodes all share one IP: let them all in.
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 100000,
            "dht_announce_interval": 1,
        })
    return lt.session(settings)


# peer_info::utp_socket (bit 17 of the peer flags); the Python bindings of
# libtorrent 2.0.8 name the bits around it but not this one.
UTP_SOCKET = getattr(lt.peer_info, "utp_socket", 1 << 17)


def peers_of(handle, utp=False):
    return sorted({"%s:%d" % tuple(p.ip) for p in handle.get_peer_info()
                   if not utp or p.flags & UTP_SOCKET})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("save")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--torrent")
    source.add_argument("--magnet")
    parser.add_argument("--dht", action="append", default=[])
    parser.add_argument("--connect")
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--utp-only", action="store_true")
    parser.add_argument("--tcp-only", action="store_true")
    parser.add_argument("--forced-encryption", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--linger", type=float, default=30)
    args = parser.parse_args()

    ses = session(args.dht, args.listen, args.utp_only, args.forced_encryption, args.tcp_only)
    if args.torrent:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    else:
        params = lt.parse_magnet_uri(args.magnet)
    params.save_path = args.save
    handle = ses.add_torrent(params)
    started = time.monotonic()
    dialled = 0.0

    notes = []  # tracker and error alerts, for the report on a stall
    seen = set()  # every peer we were connected to
    seen_utp = set()  # those of them connected over uTP
    while time.monotonic() - started < args.timeout:
        for alert in ses.pop_alerts():
            if alert.category() & (lt.alert.category_t.error_notification
                                   | lt.alert.category_t.tracker_notification):
                notes.append("%s: %s" % (type(alert).__name__, alert.message()))
        seen.update(peers_of(handle))
        seen_utp.update(peers_of(handle, utp=True))
        status = handle.status()
        # Dial --connect again whenever no peer is left (a lossy link can
        # time a uTP connection out), at most every 2 s.
        if args.connect and status.num_peers == 0 and time.monotonic() - dialled > 2:
            host, port = args.connect.rsplit(":", 1)
            handle.connect_peer((host, int(port)))
            dialled = time.monotonic()
        if status.is_seeding:
            print(json.dumps({
                "seconds": round(time.monotonic() - started, 2),
                "name": status.name,
                "has_metadata": status.has_metadata,
                "info_hash": str(status.info_hashes.v1),
                "info_hash_v2": str(status.info_hashes.v2),
                "peers": sorted(seen),
                "utp_peers": sorted(seen_utp),
            }), flush=True)
            end = time.monotonic() + args.linger
            while time.monotonic() < end:
                ses.pop_alerts()
                time.sleep(0.2)
            return
        ses.wait_for_alert(100)

    status = handle.status()
    print(f"download incomplete after {args.timeout} s: {status.state} "
          f"{status.progress:.2%}, peers {status.num_peers} {sorted(seen)}, "
          f"metadata {status.has_metadata}, dht nodes "
          f"{ses.status().dht_nodes}", file=sys.stderr)
    for note in notes[-30:]:
        print(note, file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
