
use builtin;
use str;

set edit:completion:arg-completer[mktorrent-rs] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mktorrent-rs'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mktorrent-rs'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a .torrent file from a file, a directory, or files on a web server (URLs)'
            cand edit 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name'
            cand show 'Show what a .torrent file (or a magnet link) holds'
            cand verify 'Check content on disk against a .torrent file'
            cand magnet 'Print the magnet link of a .torrent file (or normalise a magnet link)'
            cand dht 'Run or query a Mainline DHT node (BEP 5)'
            cand publish 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT'
            cand tracker 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)'
            cand check-web-seeds 'Check that a torrent''s web seeds serve its content'
            cand completions 'Print a completion script for a shell (the same as in completions/)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;create'= {
            cand -a 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --tracker 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --announce 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --nodes 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used'
            cand -w 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)'
            cand --web-seed 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)'
            cand -s 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand --source 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand -c 'Free-text comment'
            cand --comment 'Free-text comment'
            cand -n 'Torrent name (default: the file or directory name)'
            cand --name 'Torrent name (default: the file or directory name)'
            cand -l 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --piece-length 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --max-piece-length 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]'
            cand --target-piece-count 'With an automatic piece length: the most pieces to aim for [default: 1500]'
            cand --preset 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win'
            cand --exclude 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable'
            cand --include 'Only include files matching GLOB (same rules as --exclude); repeatable'
            cand -o 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand --output 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand -j 'Hashing threads [default: one per core]'
            cand --threads 'Hashing threads [default: one per core]'
            cand --torrent-url 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)'
            cand --peer 'A peer for the magnet link''s `x.pe=` (see `magnet`)'
            cand --no-web-seed 'With URLs: do not make the URL the torrent''s web seed (url-list), and accept servers that ignore Range requests'
            cand --trackerless 'Make a trackerless torrent: DHT only (BEP 5), no announce URL'
            cand -p 'Mark the torrent private (BEP 27): peers only from its trackers'
            cand --private 'Mark the torrent private (BEP 27): peers only from its trackers'
            cand --no-date 'Omit the creation date'
            cand --no-created-by 'Omit the "created by" field'
            cand --include-hidden 'Include hidden files and directories (names starting with a dot)'
            cand --include-junk 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)'
            cand --follow-symlinks 'Follow symbolic links (by default they are neither followed nor stored)'
            cand -f 'Overwrite the output file if it exists'
            cand --force 'Overwrite the output file if it exists'
            cand --v2 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
            cand --hybrid 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
            cand -q 'No progress bar and no summary'
            cand --quiet 'No progress bar and no summary'
            cand --json 'Print a JSON summary instead of the human one'
            cand --magnet 'Also print the magnet link'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;edit'= {
            cand -a 'Add a tracker tier: each flag is one tier, commas put several URLs in the same tier (as create -a)'
            cand --add-tracker 'Add a tracker tier: each flag is one tier, commas put several URLs in the same tier (as create -a)'
            cand -d 'Remove every tracker URL equal to URL or matching GLOB; repeatable'
            cand --remove-tracker 'Remove every tracker URL equal to URL or matching GLOB; repeatable'
            cand --set-trackers 'Replace all trackers: each flag is one tier, commas put several URLs in the same tier'
            cand -w 'Add a web seed URL (BEP 19 url-list); repeatable'
            cand --add-web-seed 'Add a web seed URL (BEP 19 url-list); repeatable'
            cand --remove-web-seed 'Remove every web seed equal to URL or matching GLOB; repeatable'
            cand -c 'Set the comment ('''' removes it). Keeps the info hash'
            cand --comment 'Set the comment ('''' removes it). Keeps the info hash'
            cand -s 'Set the source tag inside the info dictionary ('''' removes it). Changes the info hash'
            cand --source 'Set the source tag inside the info dictionary ('''' removes it). Changes the info hash'
            cand -n 'Rename the torrent (the file, or the top directory). Changes the info hash'
            cand --name 'Rename the torrent (the file, or the top directory). Changes the info hash'
            cand -o 'Write the edited torrent to PATH (''-'' for standard output); one input only'
            cand --output 'Write the edited torrent to PATH (''-'' for standard output); one input only'
            cand -p 'Mark the torrent private (BEP 27). Changes the info hash'
            cand --private 'Mark the torrent private (BEP 27). Changes the info hash'
            cand --public 'Remove the private flag. Changes the info hash'
            cand -i 'Replace each input file (atomically)'
            cand --in-place 'Replace each input file (atomically)'
            cand -f 'Overwrite --output if it exists'
            cand --force 'Overwrite --output if it exists'
            cand --dry-run 'Print the changes and the resulting info hash; write nothing'
            cand --json 'Print a JSON array (one object per file) instead of the human report'
            cand -q 'Print nothing but warnings and errors'
            cand --quiet 'Print nothing but warnings and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mktorrent-rs;show'= {
            cand --json 'Print JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;verify'= {
            cand --content 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]'
            cand -j 'Hashing threads [default: one per core]'
            cand --threads 'Hashing threads [default: one per core]'
            cand -q 'No progress bar; only problems are printed'
            cand --quiet 'No progress bar; only problems are printed'
            cand --json 'Print a JSON report instead of text'
            cand --follow-symlinks 'Read files through symbolic links that lead outside the content directory (by default such files are not read and count as missing, as `create` skips them)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;magnet'= {
            cand --torrent-url 'Where the .torrent will be hosted (http or https), added as `xs=`: clients fetch the metadata from it when no peer is online. Repeatable'
            cand --peer 'A peer to dial directly, added as `x.pe=` (IPv6 as [addr]:port). Repeatable'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;dht'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand serve 'Run a long-lived DHT node: a bootstrap router for others'
            cand get-peers 'Find peers of a torrent through the DHT'
            cand announce 'Announce that a peer on this machine has a torrent'
            cand ping 'Check that a DHT node answers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;dht;serve'= {
            cand --bootstrap 'Node to join the network through (repeatable). Given any, the public routers are not used'
            cand --rate-limit 'Incoming queries answered per second per IP address (0: no limit)'
            cand --status-interval 'Time between status lines on stdout (30s, 5m, 1h, or seconds)'
            cand --bind6 'Also run an IPv6 node (BEP 32) on this address, e.g. [::]:6881; it shares the node id'
            cand --metrics 'Write Prometheus-style counters to this file at each status line'
            cand --max-hashes 'Info hashes the peer store holds; when full, a swarm of one peer of the address holding the most entries makes room'
            cand --max-peers-per-hash 'Peers stored per info hash; when full, the stalest entry of the address holding the most in that swarm makes room'
            cand --max-peers 'Peers stored in all (about 200 bytes each); when full, the stalest entry of the address holding the most makes room'
            cand --max-ports-per-ip 'Ports one IP address may hold in one swarm; its stalest makes room for more'
            cand --max-entries-per-ip 'Entries (info hash, port) one IP address may hold in all; its stalest makes room for more'
            cand --bind 'UDP address to listen on ([addr]:port for IPv6) [default: 0.0.0.0:6881]'
            cand --state 'Routing table file to start from and write back at exit'
            cand --no-default-routers 'Use no public router (e.g. to start a private network as its first node)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;dht;get-peers'= {
            cand --bind 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]'
            cand --bootstrap 'Node to join the network through (repeatable). Given any, the public routers are not used'
            cand --state 'Routing table file to start from (read, not written)'
            cand --rate-limit 'Incoming queries answered per second per IP address (0: no limit)'
            cand --timeout 'Give up after this long (10s, 2m, or seconds)'
            cand --no-default-routers 'Use no public router (e.g. to start a private network as its first node)'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;dht;announce'= {
            cand --port 'TCP port the peer listens on'
            cand --bind 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]'
            cand --bootstrap 'Node to join the network through (repeatable). Given any, the public routers are not used'
            cand --state 'Routing table file to start from (read, not written)'
            cand --rate-limit 'Incoming queries answered per second per IP address (0: no limit)'
            cand --timeout 'Give up after this long (10s, 2m, or seconds)'
            cand --implied-port 'Let nodes use the UDP source port instead (behind NAT)'
            cand --no-default-routers 'Use no public router (e.g. to start a private network as its first node)'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;dht;ping'= {
            cand --bind 'UDP address to send from [default: 0.0.0.0:0, or [::]:0 for an IPv6 node]'
            cand --timeout 'Give up after this long (10s, 2m, or seconds)'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;dht;help'= {
            cand serve 'Run a long-lived DHT node: a bootstrap router for others'
            cand get-peers 'Find peers of a torrent through the DHT'
            cand announce 'Announce that a peer on this machine has a torrent'
            cand ping 'Check that a DHT node answers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;dht;help;serve'= {
        }
        &'mktorrent-rs;dht;help;get-peers'= {
        }
        &'mktorrent-rs;dht;help;announce'= {
        }
        &'mktorrent-rs;dht;help;ping'= {
        }
        &'mktorrent-rs;dht;help;help'= {
        }
        &'mktorrent-rs;publish'= {
            cand --watch 'Seed every .torrent in DIR (content beside it, or under --content-root), adding and stopping torrents as files appear and disappear; runs until SIGINT or SIGTERM. SIGHUP looks at DIR at once'
            cand --content-root 'With --watch: the content of a torrent named N is DIR/N [default: N beside the torrent]'
            cand --rescan-every 'With --watch: time between looks at DIR (10s, 1m, or seconds)'
            cand --status-listen 'Serve a status page at /, JSON at /status.json and Prometheus text at /metrics on ADDR'
            cand -a 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --tracker 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --announce 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --nodes 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used'
            cand -w 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)'
            cand --web-seed 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)'
            cand -s 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand --source 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand -c 'Free-text comment'
            cand --comment 'Free-text comment'
            cand -n 'Torrent name (default: the file or directory name)'
            cand --name 'Torrent name (default: the file or directory name)'
            cand -l 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --piece-length 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --max-piece-length 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]'
            cand --target-piece-count 'With an automatic piece length: the most pieces to aim for [default: 1500]'
            cand --preset 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win'
            cand --exclude 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable'
            cand --include 'Only include files matching GLOB (same rules as --exclude); repeatable'
            cand -o 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand --output 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand -j 'Hashing threads [default: one per core]'
            cand --threads 'Hashing threads [default: one per core]'
            cand --torrent-url 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)'
            cand --peer 'A peer for the magnet link''s `x.pe=` (see `magnet`)'
            cand --content 'The content of a .torrent PATH [default: NAME beside the torrent, else in the current directory]'
            cand --listen 'Seeder address, TCP and uTP (UDP) on one port [default: 0.0.0.0 port 6881, else the next port free for both up to 6889]'
            cand --encryption 'MSE/PE peer encryption: prefer accepts both and dials plaintext, retrying encrypted when the peer refuses; require refuses plaintext peers and dials encrypted only; disable speaks plaintext only'
            cand --tracker-listen 'Run the embedded tracker, HTTP and UDP, on ADDR (port 0: a free port; UDP takes the HTTP port number). A created torrent lists it first (repeatable)'
            cand --public-host 'Host name or address peers reach this machine at: used in the embedded tracker''s URLs and the magnet link''s x.pe'
            cand --dht-listen 'DHT address (UDP) [default: the seeder''s address and port]'
            cand --dht-bootstrap 'DHT node to join through (repeatable). Given any, neither the public routers nor the default state file are used'
            cand --dht-state 'DHT routing table to start from and save at exit [default: dht-state in the user''s cache directory, unless --dht-bootstrap is given]'
            cand --connect 'Peer to dial and keep connected (repeatable): reaches clients that ignore peers they are told about'
            cand --slots 'Upload slots, the optimistic one included'
            cand --max-peers 'Most peer connections at once. When full, a peer that has not been interested for 10 s is closed to make room for a newcomer'
            cand --max-upload-rate 'Most upload bytes per second, all torrents together (e.g. 10MiB; each connection gets a fair share)'
            cand --max-upload-rate-per-torrent 'Most upload bytes per second of each torrent'
            cand --max-peers-per-ip 'Most peer connections at once from one IP address'
            cand --seed-time 'Stop after seeding this long: 90s, 10m, 2h, 1h30m, or seconds'
            cand --until-downloads 'Stop once N completed downloads were seen (by our seeder or reported by a tracker)'
            cand --ratio 'Stop once R times the content size was uploaded'
            cand --until-seeders 'Stop once N seeders other than us are seen (trackers'' counts, or connected peers holding every piece): someone else has taken over'
            cand --until-idle 'Stop once no peer asked for data for this long (90s, 10m, 2h, 1h30m, or seconds)'
            cand --status-interval 'Time between status lines (or `status` events): 10s, 1m, or seconds'
            cand --trackerless 'Make a trackerless torrent: DHT only (BEP 5), no announce URL'
            cand -p 'Mark the torrent private (BEP 27): peers only from its trackers'
            cand --private 'Mark the torrent private (BEP 27): peers only from its trackers'
            cand --no-date 'Omit the creation date'
            cand --no-created-by 'Omit the "created by" field'
            cand --include-hidden 'Include hidden files and directories (names starting with a dot)'
            cand --include-junk 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)'
            cand --follow-symlinks 'Follow symbolic links (by default they are neither followed nor stored)'
            cand -f 'Overwrite the output file if it exists'
            cand --force 'Overwrite the output file if it exists'
            cand --v2 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
            cand --hybrid 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
            cand --no-utp 'Do not accept or dial uTP (BEP 29) connections; TCP only'
            cand --no-tcp 'Do not accept or dial TCP connections; uTP only'
            cand --all-tiers 'Announce to one tracker in every tier, not only the first tier that works (BEP 12)'
            cand --require-tracker 'Exit 1 (after a JSON `error` event with --json) when no tracker ever answered an announce: seeding nobody could find through a tracker fails the CI job'
            cand --no-dht 'Do not use the DHT'
            cand --skip-verify 'Start without hashing the content first (each piece is still checked on its first read)'
            cand --check-web-seeds 'Check the web seeds before announcing (see check-web-seeds); fail if any fails'
            cand --drop-failing-web-seeds 'With --check-web-seeds: drop failing web seeds from the torrent instead of failing (the file is rewritten; the info hash does not change)'
            cand --json 'Print one JSON object per event on stdout'
            cand -q 'No progress bar and no status lines'
            cand --quiet 'No progress bar and no status lines'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mktorrent-rs;tracker'= {
            cand --http 'HTTP listen address (repeatable; IPv6 as [addr]:port)'
            cand --udp 'UDP (BEP 15) listen address (repeatable)'
            cand --announce-path 'HTTP announce path; the scrape path replaces "announce" with "scrape"'
            cand --interval 'Announce interval (30m, 1h, or seconds; up to 10% random jitter is added)'
            cand --min-interval 'Minimum announce interval (15m, or seconds)'
            cand --peer-timeout 'Drop peers silent for this long (45m, or seconds)'
            cand --numwant 'Peers returned when the client does not say'
            cand --max-numwant 'Most peers returned to one announce'
            cand --max-scrape 'Most info hashes in one HTTP scrape'
            cand --max-torrents 'Most torrents tracked; new ones are refused beyond it'
            cand --max-peers 'Most peers in one swarm; beyond it a newcomer takes the place of one of 8 sampled peers, the one whose address holds the most ports there'
            cand --max-total-peers 'Most peers in all swarms (20-40 bytes each in memory); beyond it a newcomer takes the place of a peer of its swarm, as for --max-peers'
            cand --max-ports-per-ip 'Most ports one IP address holds in one swarm; more are refused'
            cand --max-peers-per-ip 'Most peers one IP address holds in all swarms; more are refused'
            cand --rate-limit 'Requests per second allowed per client IP (0: unlimited). A client announces each torrent every 30 minutes, so even a seedbox of 10,000 torrents needs about 6'
            cand --rate-burst 'Burst allowed above --rate-limit [default: 5 × the rate]'
            cand --max-query 'Longest accepted HTTP query string (2048, 4KiB)'
            cand --udp-key 'Key for UDP connection IDs, 32 hex digits; instances sharing it accept each other''s IDs [default: random per start]'
            cand --connection-id-ttl 'How long a UDP connection ID stays valid (2m, or seconds)'
            cand --allowed-dir 'Track only torrents whose .torrent files are in DIR (looked at for changes every 10 s, and at once on SIGHUP)'
            cand --allow-list 'Track only the info hashes listed in FILE (hex, one per line)'
            cand --deny-list 'Never track the info hashes listed in FILE'
            cand --keys 'Private mode: announce only at /announce/KEY or /KEY/announce (HTTP, and BEP 41 URL data over UDP) and scrape at /scrape/KEY or /KEY/scrape, for the passkeys in FILE (one per line, 16-64 characters of A-Z a-z 0-9 _ -). Re-read on SIGHUP and when it changes'
            cand --keys-redis-set 'Private mode as --keys, with the passkeys in the Redis set NAME of --store (checked with SISMEMBER, members believed for 30 s; SIGHUP forgets them at once)'
            cand --state 'Save completed counts and peers to FILE periodically and at exit; load at start'
            cand --save-every 'Time between state saves (5m, or seconds)'
            cand --trust-proxy 'Take the client address from X-Forwarded-For for requests from this network (repeatable)'
            cand --stats-from 'Serve /, /stats.json and /metrics only to this network (repeatable) [default: everyone]'
            cand --udp-workers 'UDP worker threads per socket [default: one per core; 8 per core with --store redis]'
            cand --store 'Keep swarms in Redis/Valkey, shared by every tracker pointed at it: redis://HOST:PORT[/DB], rediss:// (TLS), redis+cluster://HOST:PORT[,HOST:PORT...] (Redis Cluster) [default: in memory]. Give the instances one --udp-key'
            cand --no-http 'Do not serve HTTP'
            cand --no-udp 'Do not serve UDP'
            cand --full-scrape 'Serve a full scrape (no info_hash), gzip-compressed, rebuilt at most once a minute'
            cand --allow-get 'Serve the --allowed-dir .torrent files at /torrents/HASH.torrent, linked from the status page (to the --stats-from networks, like the page)'
            cand --store-required 'Exit at start when the --store is unreachable, and refuse announces while it is down [default: answer from memory with a 60 s interval]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;check-web-seeds'= {
            cand --samples 'Random pieces per file checked besides its first and last'
            cand --random-seed 'Seed for choosing the random pieces, to repeat a run [default: the clock]'
            cand --requests 'Requests in flight at once (-j is threads in create and verify, so not here)'
            cand --timeout 'How long one request may take, headers and body, before the server is too slow (2.5, 30s, 1m)'
            cand --max-redirects 'Redirects followed per request'
            cand -o 'Where --drop-failing writes the torrent'
            cand --output 'Where --drop-failing writes the torrent'
            cand --full 'Fetch and hash every piece, not a sample'
            cand --drop-failing 'Write the torrent without the failing web seeds to --output (the info hash does not change: url-list is outside the info dictionary)'
            cand -f 'Overwrite --output if it exists'
            cand --force 'Overwrite --output if it exists'
            cand --json 'Print a JSON report instead of text'
            cand -q 'Print only failures'
            cand --quiet 'Print only failures'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mktorrent-rs;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mktorrent-rs;help'= {
            cand create 'Create a .torrent file from a file, a directory, or files on a web server (URLs)'
            cand edit 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name'
            cand show 'Show what a .torrent file (or a magnet link) holds'
            cand verify 'Check content on disk against a .torrent file'
            cand magnet 'Print the magnet link of a .torrent file (or normalise a magnet link)'
            cand dht 'Run or query a Mainline DHT node (BEP 5)'
            cand publish 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT'
            cand tracker 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)'
            cand check-web-seeds 'Check that a torrent''s web seeds serve its content'
            cand completions 'Print a completion script for a shell (the same as in completions/)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;help;create'= {
        }
        &'mktorrent-rs;help;edit'= {
        }
        &'mktorrent-rs;help;show'= {
        }
        &'mktorrent-rs;help;verify'= {
        }
        &'mktorrent-rs;help;magnet'= {
        }
        &'mktorrent-rs;help;dht'= {
            cand serve 'Run a long-lived DHT node: a bootstrap router for others'
            cand get-peers 'Find peers of a torrent through the DHT'
            cand announce 'Announce that a peer on this machine has a torrent'
            cand ping 'Check that a DHT node answers'
        }
        &'mktorrent-rs;help;dht;serve'= {
        }
        &'mktorrent-rs;help;dht;get-peers'= {
        }
        &'mktorrent-rs;help;dht;announce'= {
        }
        &'mktorrent-rs;help;dht;ping'= {
        }
        &'mktorrent-rs;help;publish'= {
        }
        &'mktorrent-rs;help;tracker'= {
        }
        &'mktorrent-rs;help;check-web-seeds'= {
        }
        &'mktorrent-rs;help;completions'= {
        }
        &'mktorrent-rs;help;help'= {
        }
    ]
    $completions[$command]
}
