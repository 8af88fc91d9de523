# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mktorrent_rs_global_optspecs
    string join \n h/help V/version
end

function __fish_mktorrent_rs_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mktorrent_rs_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mktorrent_rs_using_subcommand
    set -l cmd (__fish_mktorrent_rs_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "create" -d 'Create a .torrent file from a file, a directory, or files on a web server (URLs)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "edit" -d 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "show" -d 'Show what a .torrent file (or a magnet link) holds'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "verify" -d 'Check content on disk against a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "magnet" -d 'Print the magnet link of a .torrent file (or normalise a magnet link)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "dht" -d 'Run or query a Mainline DHT node (BEP 5)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "publish" -d 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "tracker" -d 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "check-web-seeds" -d 'Check that a torrent\'s web seeds serve its content'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "completions" -d 'Print a completion script for a shell (the same as in completions/)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s a -l tracker -l announce -d 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l nodes -d 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s w -l web-seed -d 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file\'s own URL, or a folder URL ending in \'/\' (clients append the name). Multi-file: the folder URL ending in \'/\' that holds NAME/ (clients append NAME/PATH)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s s -l source -d 'Source tag inside the info dictionary (changes the info hash; used by private trackers)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s c -l comment -d 'Free-text comment' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s n -l name -d 'Torrent name (default: the file or directory name)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s l -l piece-length -d 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l max-piece-length -d 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l target-piece-count -d 'With an automatic piece length: the most pieces to aim for [default: 1500]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l preset -d 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l exclude -d 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains \'/\'); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include -d 'Only include files matching GLOB (same rules as --exclude); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s o -l output -d 'Where to write the torrent (\'-\' for standard output) [default: NAME.torrent]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s j -l threads -d 'Hashing threads [default: one per core]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l torrent-url -d 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l peer -d 'A peer for the magnet link\'s `x.pe=` (see `magnet`)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l no-web-seed -d 'With URLs: do not make the URL the torrent\'s web seed (url-list), and accept servers that ignore Range requests'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l trackerless -d 'Make a trackerless torrent: DHT only (BEP 5), no announce URL'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s p -l private -d 'Mark the torrent private (BEP 27): peers only from its trackers'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l no-date -d 'Omit the creation date'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l no-created-by -d 'Omit the "created by" field'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include-hidden -d 'Include hidden files and directories (names starting with a dot)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include-junk -d 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l follow-symlinks -d 'Follow symbolic links (by default they are neither followed nor stored)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s f -l force -d 'Overwrite the output file if it exists'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l v2 -d 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l hybrid -d 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s q -l quiet -d 'No progress bar and no summary'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l json -d 'Print a JSON summary instead of the human one'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l magnet -d 'Also print the magnet link'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s a -l add-tracker -d 'Add a tracker tier: each flag is one tier, commas put several URLs in the same tier (as create -a)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s d -l remove-tracker -d 'Remove every tracker URL equal to URL or matching GLOB; repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -l set-trackers -d 'Replace all trackers: each flag is one tier, commas put several URLs in the same tier' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s w -l add-web-seed -d 'Add a web seed URL (BEP 19 url-list); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -l remove-web-seed -d 'Remove every web seed equal to URL or matching GLOB; repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s c -l comment -d 'Set the comment (\'\' removes it). Keeps the info hash' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s s -l source -d 'Set the source tag inside the info dictionary (\'\' removes it). Changes the info hash' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s n -l name -d 'Rename the torrent (the file, or the top directory). Changes the info hash' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s o -l output -d 'Write the edited torrent to PATH (\'-\' for standard output); one input only' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s p -l private -d 'Mark the torrent private (BEP 27). Changes the info hash'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -l public -d 'Remove the private flag. Changes the info hash'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s i -l in-place -d 'Replace each input file (atomically)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s f -l force -d 'Overwrite --output if it exists'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -l dry-run -d 'Print the changes and the resulting info hash; write nothing'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -l json -d 'Print a JSON array (one object per file) instead of the human report'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s q -l quiet -d 'Print nothing but warnings and errors'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand edit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand show" -l json -d 'Print JSON instead of text'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand show" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -l content -d 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s j -l threads -d 'Hashing threads [default: one per core]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s q -l quiet -d 'No progress bar; only problems are printed'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -l json -d 'Print a JSON report instead of text'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -l follow-symlinks -d 'Read files through symbolic links that lead outside the content directory (by default such files are not read and count as missing, as `create` skips them)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand magnet" -l torrent-url -d 'Where the .torrent will be hosted (http or https), added as `xs=`: clients fetch the metadata from it when no peer is online. Repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand magnet" -l peer -d 'A peer to dial directly, added as `x.pe=` (IPv6 as [addr]:port). Repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand magnet" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -f -a "serve" -d 'Run a long-lived DHT node: a bootstrap router for others'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -f -a "get-peers" -d 'Find peers of a torrent through the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -f -a "announce" -d 'Announce that a peer on this machine has a torrent'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -f -a "ping" -d 'Check that a DHT node answers'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and not __fish_seen_subcommand_from serve get-peers announce ping help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l bootstrap -d 'Node to join the network through (repeatable). Given any, the public routers are not used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l rate-limit -d 'Incoming queries answered per second per IP address (0: no limit)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l status-interval -d 'Time between status lines on stdout (30s, 5m, 1h, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l bind6 -d 'Also run an IPv6 node (BEP 32) on this address, e.g. [::]:6881; it shares the node id' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l metrics -d 'Write Prometheus-style counters to this file at each status line' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l max-hashes -d 'Info hashes the peer store holds; when full, a swarm of one peer of the address holding the most entries makes room' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l max-peers-per-hash -d 'Peers stored per info hash; when full, the stalest entry of the address holding the most in that swarm makes room' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l max-peers -d 'Peers stored in all (about 200 bytes each); when full, the stalest entry of the address holding the most makes room' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l max-ports-per-ip -d 'Ports one IP address may hold in one swarm; its stalest makes room for more' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l max-entries-per-ip -d 'Entries (info hash, port) one IP address may hold in all; its stalest makes room for more' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l bind -d 'UDP address to listen on ([addr]:port for IPv6) [default: 0.0.0.0:6881]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l state -d 'Routing table file to start from and write back at exit' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -l no-default-routers -d 'Use no public router (e.g. to start a private network as its first node)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l bind -d 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l bootstrap -d 'Node to join the network through (repeatable). Given any, the public routers are not used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l state -d 'Routing table file to start from (read, not written)' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l rate-limit -d 'Incoming queries answered per second per IP address (0: no limit)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l timeout -d 'Give up after this long (10s, 2m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l no-default-routers -d 'Use no public router (e.g. to start a private network as its first node)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -l json -d 'Print JSON'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from get-peers" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l port -d 'TCP port the peer listens on' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l bind -d 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l bootstrap -d 'Node to join the network through (repeatable). Given any, the public routers are not used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l state -d 'Routing table file to start from (read, not written)' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l rate-limit -d 'Incoming queries answered per second per IP address (0: no limit)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l timeout -d 'Give up after this long (10s, 2m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l implied-port -d 'Let nodes use the UDP source port instead (behind NAT)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l no-default-routers -d 'Use no public router (e.g. to start a private network as its first node)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -l json -d 'Print JSON'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from announce" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from ping" -l bind -d 'UDP address to send from [default: 0.0.0.0:0, or [::]:0 for an IPv6 node]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from ping" -l timeout -d 'Give up after this long (10s, 2m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from ping" -l json -d 'Print JSON'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from ping" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Run a long-lived DHT node: a bootstrap router for others'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from help" -f -a "get-peers" -d 'Find peers of a torrent through the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from help" -f -a "announce" -d 'Announce that a peer on this machine has a torrent'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from help" -f -a "ping" -d 'Check that a DHT node answers'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand dht; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l watch -d 'Seed every .torrent in DIR (content beside it, or under --content-root), adding and stopping torrents as files appear and disappear; runs until SIGINT or SIGTERM. SIGHUP looks at DIR at once' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l content-root -d 'With --watch: the content of a torrent named N is DIR/N [default: N beside the torrent]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l rescan-every -d 'With --watch: time between looks at DIR (10s, 1m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l status-listen -d 'Serve a status page at /, JSON at /status.json and Prometheus text at /metrics on ADDR' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s a -l tracker -l announce -d 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l nodes -d 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s w -l web-seed -d 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file\'s own URL, or a folder URL ending in \'/\' (clients append the name). Multi-file: the folder URL ending in \'/\' that holds NAME/ (clients append NAME/PATH)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s s -l source -d 'Source tag inside the info dictionary (changes the info hash; used by private trackers)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s c -l comment -d 'Free-text comment' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s n -l name -d 'Torrent name (default: the file or directory name)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s l -l piece-length -d 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l max-piece-length -d 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l target-piece-count -d 'With an automatic piece length: the most pieces to aim for [default: 1500]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l preset -d 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l exclude -d 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains \'/\'); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l include -d 'Only include files matching GLOB (same rules as --exclude); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s o -l output -d 'Where to write the torrent (\'-\' for standard output) [default: NAME.torrent]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s j -l threads -d 'Hashing threads [default: one per core]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l torrent-url -d 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l peer -d 'A peer for the magnet link\'s `x.pe=` (see `magnet`)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l content -d 'The content of a .torrent PATH [default: NAME beside the torrent, else in the current directory]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l listen -d 'Seeder address, TCP and uTP (UDP) on one port [default: 0.0.0.0 port 6881, else the next port free for both up to 6889]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l encryption -d 'MSE/PE peer encryption: prefer accepts both and dials plaintext, retrying encrypted when the peer refuses; require refuses plaintext peers and dials encrypted only; disable speaks plaintext only' -r -f -a "prefer\t''
require\t''
disable\t''"
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l tracker-listen -d 'Run the embedded tracker, HTTP and UDP, on ADDR (port 0: a free port; UDP takes the HTTP port number). A created torrent lists it first (repeatable)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l public-host -d 'Host name or address peers reach this machine at: used in the embedded tracker\'s URLs and the magnet link\'s x.pe' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l dht-listen -d 'DHT address (UDP) [default: the seeder\'s address and port]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l dht-bootstrap -d 'DHT node to join through (repeatable). Given any, neither the public routers nor the default state file are used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l dht-state -d 'DHT routing table to start from and save at exit [default: dht-state in the user\'s cache directory, unless --dht-bootstrap is given]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l connect -d 'Peer to dial and keep connected (repeatable): reaches clients that ignore peers they are told about' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l slots -d 'Upload slots, the optimistic one included' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l max-peers -d 'Most peer connections at once. When full, a peer that has not been interested for 10 s is closed to make room for a newcomer' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l max-upload-rate -d 'Most upload bytes per second, all torrents together (e.g. 10MiB; each connection gets a fair share)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l max-upload-rate-per-torrent -d 'Most upload bytes per second of each torrent' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l max-peers-per-ip -d 'Most peer connections at once from one IP address' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l seed-time -d 'Stop after seeding this long: 90s, 10m, 2h, 1h30m, or seconds' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l until-downloads -d 'Stop once N completed downloads were seen (by our seeder or reported by a tracker)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l ratio -d 'Stop once R times the content size was uploaded' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l until-seeders -d 'Stop once N seeders other than us are seen (trackers\' counts, or connected peers holding every piece): someone else has taken over' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l until-idle -d 'Stop once no peer asked for data for this long (90s, 10m, 2h, 1h30m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l status-interval -d 'Time between status lines (or `status` events): 10s, 1m, or seconds' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l trackerless -d 'Make a trackerless torrent: DHT only (BEP 5), no announce URL'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s p -l private -d 'Mark the torrent private (BEP 27): peers only from its trackers'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l no-date -d 'Omit the creation date'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l no-created-by -d 'Omit the "created by" field'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l include-hidden -d 'Include hidden files and directories (names starting with a dot)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l include-junk -d 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l follow-symlinks -d 'Follow symbolic links (by default they are neither followed nor stored)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s f -l force -d 'Overwrite the output file if it exists'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l v2 -d 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l hybrid -d 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l no-utp -d 'Do not accept or dial uTP (BEP 29) connections; TCP only'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l no-tcp -d 'Do not accept or dial TCP connections; uTP only'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l all-tiers -d 'Announce to one tracker in every tier, not only the first tier that works (BEP 12)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l require-tracker -d 'Exit 1 (after a JSON `error` event with --json) when no tracker ever answered an announce: seeding nobody could find through a tracker fails the CI job'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l no-dht -d 'Do not use the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l skip-verify -d 'Start without hashing the content first (each piece is still checked on its first read)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l check-web-seeds -d 'Check the web seeds before announcing (see check-web-seeds); fail if any fails'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l drop-failing-web-seeds -d 'With --check-web-seeds: drop failing web seeds from the torrent instead of failing (the file is rewritten; the info hash does not change)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -l json -d 'Print one JSON object per event on stdout'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s q -l quiet -d 'No progress bar and no status lines'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l http -d 'HTTP listen address (repeatable; IPv6 as [addr]:port)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l udp -d 'UDP (BEP 15) listen address (repeatable)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l announce-path -d 'HTTP announce path; the scrape path replaces "announce" with "scrape"' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l interval -d 'Announce interval (30m, 1h, or seconds; up to 10% random jitter is added)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l min-interval -d 'Minimum announce interval (15m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l peer-timeout -d 'Drop peers silent for this long (45m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l numwant -d 'Peers returned when the client does not say' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-numwant -d 'Most peers returned to one announce' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-scrape -d 'Most info hashes in one HTTP scrape' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-torrents -d 'Most torrents tracked; new ones are refused beyond it' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-peers -d 'Most peers in one swarm; beyond it a newcomer takes the place of one of 8 sampled peers, the one whose address holds the most ports there' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-total-peers -d 'Most peers in all swarms (20-40 bytes each in memory); beyond it a newcomer takes the place of a peer of its swarm, as for --max-peers' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-ports-per-ip -d 'Most ports one IP address holds in one swarm; more are refused' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-peers-per-ip -d 'Most peers one IP address holds in all swarms; more are refused' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l rate-limit -d 'Requests per second allowed per client IP (0: unlimited). A client announces each torrent every 30 minutes, so even a seedbox of 10,000 torrents needs about 6' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l rate-burst -d 'Burst allowed above --rate-limit [default: 5 × the rate]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l max-query -d 'Longest accepted HTTP query string (2048, 4KiB)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l udp-key -d 'Key for UDP connection IDs, 32 hex digits; instances sharing it accept each other\'s IDs [default: random per start]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l connection-id-ttl -d 'How long a UDP connection ID stays valid (2m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l allowed-dir -d 'Track only torrents whose .torrent files are in DIR (looked at for changes every 10 s, and at once on SIGHUP)' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l allow-list -d 'Track only the info hashes listed in FILE (hex, one per line)' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l deny-list -d 'Never track the info hashes listed in FILE' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l keys -d 'Private mode: announce only at /announce/KEY or /KEY/announce (HTTP, and BEP 41 URL data over UDP) and scrape at /scrape/KEY or /KEY/scrape, for the passkeys in FILE (one per line, 16-64 characters of A-Z a-z 0-9 _ -). Re-read on SIGHUP and when it changes' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l keys-redis-set -d 'Private mode as --keys, with the passkeys in the Redis set NAME of --store (checked with SISMEMBER, members believed for 30 s; SIGHUP forgets them at once)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l state -d 'Save completed counts and peers to FILE periodically and at exit; load at start' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l save-every -d 'Time between state saves (5m, or seconds)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l trust-proxy -d 'Take the client address from X-Forwarded-For for requests from this network (repeatable)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l stats-from -d 'Serve /, /stats.json and /metrics only to this network (repeatable) [default: everyone]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l udp-workers -d 'UDP worker threads per socket [default: one per core; 8 per core with --store redis]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l store -d 'Keep swarms in Redis/Valkey, shared by every tracker pointed at it: redis://HOST:PORT[/DB], rediss:// (TLS), redis+cluster://HOST:PORT[,HOST:PORT...] (Redis Cluster) [default: in memory]. Give the instances one --udp-key' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l no-http -d 'Do not serve HTTP'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l no-udp -d 'Do not serve UDP'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l full-scrape -d 'Serve a full scrape (no info_hash), gzip-compressed, rebuilt at most once a minute'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l allow-get -d 'Serve the --allowed-dir .torrent files at /torrents/HASH.torrent, linked from the status page (to the --stats-from networks, like the page)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -l store-required -d 'Exit at start when the --store is unreachable, and refuse announces while it is down [default: answer from memory with a 60 s interval]'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand tracker" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l samples -d 'Random pieces per file checked besides its first and last' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l random-seed -d 'Seed for choosing the random pieces, to repeat a run [default: the clock]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l requests -d 'Requests in flight at once (-j is threads in create and verify, so not here)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l timeout -d 'How long one request may take, headers and body, before the server is too slow (2.5, 30s, 1m)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l max-redirects -d 'Redirects followed per request' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -s o -l output -d 'Where --drop-failing writes the torrent' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l full -d 'Fetch and hash every piece, not a sample'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l drop-failing -d 'Write the torrent without the failing web seeds to --output (the info hash does not change: url-list is outside the info dictionary)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -s f -l force -d 'Overwrite --output if it exists'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -l json -d 'Print a JSON report instead of text'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -s q -l quiet -d 'Print only failures'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand check-web-seeds" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "create" -d 'Create a .torrent file from a file, a directory, or files on a web server (URLs)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "edit" -d 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "show" -d 'Show what a .torrent file (or a magnet link) holds'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "verify" -d 'Check content on disk against a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "magnet" -d 'Print the magnet link of a .torrent file (or normalise a magnet link)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "dht" -d 'Run or query a Mainline DHT node (BEP 5)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "publish" -d 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "tracker" -d 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "check-web-seeds" -d 'Check that a torrent\'s web seeds serve its content'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "completions" -d 'Print a completion script for a shell (the same as in completions/)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create edit show verify magnet dht publish tracker check-web-seeds completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and __fish_seen_subcommand_from dht" -f -a "serve" -d 'Run a long-lived DHT node: a bootstrap router for others'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and __fish_seen_subcommand_from dht" -f -a "get-peers" -d 'Find peers of a torrent through the DHT'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and __fish_seen_subcommand_from dht" -f -a "announce" -d 'Announce that a peer on this machine has a torrent'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and __fish_seen_subcommand_from dht" -f -a "ping" -d 'Check that a DHT node answers'
