
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mktorrent-rs' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mktorrent-rs'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mktorrent-rs' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a .torrent file from a file, a directory, or files on a web server (URLs)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what a .torrent file (or a magnet link) holds')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check content on disk against a .torrent file')
            [CompletionResult]::new('magnet', 'magnet', [CompletionResultType]::ParameterValue, 'Print the magnet link of a .torrent file (or normalise a magnet link)')
            [CompletionResult]::new('dht', 'dht', [CompletionResultType]::ParameterValue, 'Run or query a Mainline DHT node (BEP 5)')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT')
            [CompletionResult]::new('tracker', 'tracker', [CompletionResultType]::ParameterValue, 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)')
            [CompletionResult]::new('check-web-seeds', 'check-web-seeds', [CompletionResultType]::ParameterValue, 'Check that a torrent''s web seeds serve its content')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for a shell (the same as in completions/)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;create' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--tracker', '--tracker', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--announce', '--announce', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)')
            [CompletionResult]::new('--web-seed', '--web-seed', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--piece-length', '--piece-length', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--max-piece-length', '--max-piece-length', [CompletionResultType]::ParameterName, 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]')
            [CompletionResult]::new('--target-piece-count', '--target-piece-count', [CompletionResultType]::ParameterName, 'With an automatic piece length: the most pieces to aim for [default: 1500]')
            [CompletionResult]::new('--preset', '--preset', [CompletionResultType]::ParameterName, 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only include files matching GLOB (same rules as --exclude); repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--torrent-url', '--torrent-url', [CompletionResultType]::ParameterName, 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer for the magnet link''s `x.pe=` (see `magnet`)')
            [CompletionResult]::new('--no-web-seed', '--no-web-seed', [CompletionResultType]::ParameterName, 'With URLs: do not make the URL the torrent''s web seed (url-list), and accept servers that ignore Range requests')
            [CompletionResult]::new('--trackerless', '--trackerless', [CompletionResultType]::ParameterName, 'Make a trackerless torrent: DHT only (BEP 5), no announce URL')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27): peers only from its trackers')
            [CompletionResult]::new('--private', '--private', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27): peers only from its trackers')
            [CompletionResult]::new('--no-date', '--no-date', [CompletionResultType]::ParameterName, 'Omit the creation date')
            [CompletionResult]::new('--no-created-by', '--no-created-by', [CompletionResultType]::ParameterName, 'Omit the "created by" field')
            [CompletionResult]::new('--include-hidden', '--include-hidden', [CompletionResultType]::ParameterName, 'Include hidden files and directories (names starting with a dot)')
            [CompletionResult]::new('--include-junk', '--include-junk', [CompletionResultType]::ParameterName, 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)')
            [CompletionResult]::new('--follow-symlinks', '--follow-symlinks', [CompletionResultType]::ParameterName, 'Follow symbolic links (by default they are neither followed nor stored)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite the output file if it exists')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite the output file if it exists')
            [CompletionResult]::new('--v2', '--v2', [CompletionResultType]::ParameterName, 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads')
            [CompletionResult]::new('--hybrid', '--hybrid', [CompletionResultType]::ParameterName, 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar and no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar and no summary')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON summary instead of the human one')
            [CompletionResult]::new('--magnet', '--magnet', [CompletionResultType]::ParameterName, 'Also print the magnet link')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;edit' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Add a tracker tier: each flag is one tier, commas put several URLs in the same tier (as create -a)')
            [CompletionResult]::new('--add-tracker', '--add-tracker', [CompletionResultType]::ParameterName, 'Add a tracker tier: each flag is one tier, commas put several URLs in the same tier (as create -a)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Remove every tracker URL equal to URL or matching GLOB; repeatable')
            [CompletionResult]::new('--remove-tracker', '--remove-tracker', [CompletionResultType]::ParameterName, 'Remove every tracker URL equal to URL or matching GLOB; repeatable')
            [CompletionResult]::new('--set-trackers', '--set-trackers', [CompletionResultType]::ParameterName, 'Replace all trackers: each flag is one tier, commas put several URLs in the same tier')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Add a web seed URL (BEP 19 url-list); repeatable')
            [CompletionResult]::new('--add-web-seed', '--add-web-seed', [CompletionResultType]::ParameterName, 'Add a web seed URL (BEP 19 url-list); repeatable')
            [CompletionResult]::new('--remove-web-seed', '--remove-web-seed', [CompletionResultType]::ParameterName, 'Remove every web seed equal to URL or matching GLOB; repeatable')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Set the comment ('''' removes it). Keeps the info hash')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Set the comment ('''' removes it). Keeps the info hash')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Set the source tag inside the info dictionary ('''' removes it). Changes the info hash')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Set the source tag inside the info dictionary ('''' removes it). Changes the info hash')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Rename the torrent (the file, or the top directory). Changes the info hash')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Rename the torrent (the file, or the top directory). Changes the info hash')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the edited torrent to PATH (''-'' for standard output); one input only')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the edited torrent to PATH (''-'' for standard output); one input only')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27). Changes the info hash')
            [CompletionResult]::new('--private', '--private', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27). Changes the info hash')
            [CompletionResult]::new('--public', '--public', [CompletionResultType]::ParameterName, 'Remove the private flag. Changes the info hash')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Replace each input file (atomically)')
            [CompletionResult]::new('--in-place', '--in-place', [CompletionResultType]::ParameterName, 'Replace each input file (atomically)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite --output if it exists')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite --output if it exists')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the changes and the resulting info hash; write nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array (one object per file) instead of the human report')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but warnings and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but warnings and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mktorrent-rs;show' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;verify' {
            [CompletionResult]::new('--content', '--content', [CompletionResultType]::ParameterName, 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar; only problems are printed')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar; only problems are printed')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON report instead of text')
            [CompletionResult]::new('--follow-symlinks', '--follow-symlinks', [CompletionResultType]::ParameterName, 'Read files through symbolic links that lead outside the content directory (by default such files are not read and count as missing, as `create` skips them)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;magnet' {
            [CompletionResult]::new('--torrent-url', '--torrent-url', [CompletionResultType]::ParameterName, 'Where the .torrent will be hosted (http or https), added as `xs=`: clients fetch the metadata from it when no peer is online. Repeatable')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer to dial directly, added as `x.pe=` (IPv6 as [addr]:port). Repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;dht' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run a long-lived DHT node: a bootstrap router for others')
            [CompletionResult]::new('get-peers', 'get-peers', [CompletionResultType]::ParameterValue, 'Find peers of a torrent through the DHT')
            [CompletionResult]::new('announce', 'announce', [CompletionResultType]::ParameterValue, 'Announce that a peer on this machine has a torrent')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check that a DHT node answers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;dht;serve' {
            [CompletionResult]::new('--bootstrap', '--bootstrap', [CompletionResultType]::ParameterName, 'Node to join the network through (repeatable). Given any, the public routers are not used')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Incoming queries answered per second per IP address (0: no limit)')
            [CompletionResult]::new('--status-interval', '--status-interval', [CompletionResultType]::ParameterName, 'Time between status lines on stdout (30s, 5m, 1h, or seconds)')
            [CompletionResult]::new('--bind6', '--bind6', [CompletionResultType]::ParameterName, 'Also run an IPv6 node (BEP 32) on this address, e.g. [::]:6881; it shares the node id')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Write Prometheus-style counters to this file at each status line')
            [CompletionResult]::new('--max-hashes', '--max-hashes', [CompletionResultType]::ParameterName, 'Info hashes the peer store holds; when full, a swarm of one peer of the address holding the most entries makes room')
            [CompletionResult]::new('--max-peers-per-hash', '--max-peers-per-hash', [CompletionResultType]::ParameterName, 'Peers stored per info hash; when full, the stalest entry of the address holding the most in that swarm makes room')
            [CompletionResult]::new('--max-peers', '--max-peers', [CompletionResultType]::ParameterName, 'Peers stored in all (about 200 bytes each); when full, the stalest entry of the address holding the most makes room')
            [CompletionResult]::new('--max-ports-per-ip', '--max-ports-per-ip', [CompletionResultType]::ParameterName, 'Ports one IP address may hold in one swarm; its stalest makes room for more')
            [CompletionResult]::new('--max-entries-per-ip', '--max-entries-per-ip', [CompletionResultType]::ParameterName, 'Entries (info hash, port) one IP address may hold in all; its stalest makes room for more')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'UDP address to listen on ([addr]:port for IPv6) [default: 0.0.0.0:6881]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Routing table file to start from and write back at exit')
            [CompletionResult]::new('--no-default-routers', '--no-default-routers', [CompletionResultType]::ParameterName, 'Use no public router (e.g. to start a private network as its first node)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;dht;get-peers' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]')
            [CompletionResult]::new('--bootstrap', '--bootstrap', [CompletionResultType]::ParameterName, 'Node to join the network through (repeatable). Given any, the public routers are not used')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Routing table file to start from (read, not written)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Incoming queries answered per second per IP address (0: no limit)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (10s, 2m, or seconds)')
            [CompletionResult]::new('--no-default-routers', '--no-default-routers', [CompletionResultType]::ParameterName, 'Use no public router (e.g. to start a private network as its first node)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;dht;announce' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'TCP port the peer listens on')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'UDP address to send from ([addr]:port for IPv6) [default: 0.0.0.0:0]')
            [CompletionResult]::new('--bootstrap', '--bootstrap', [CompletionResultType]::ParameterName, 'Node to join the network through (repeatable). Given any, the public routers are not used')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Routing table file to start from (read, not written)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Incoming queries answered per second per IP address (0: no limit)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (10s, 2m, or seconds)')
            [CompletionResult]::new('--implied-port', '--implied-port', [CompletionResultType]::ParameterName, 'Let nodes use the UDP source port instead (behind NAT)')
            [CompletionResult]::new('--no-default-routers', '--no-default-routers', [CompletionResultType]::ParameterName, 'Use no public router (e.g. to start a private network as its first node)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;dht;ping' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'UDP address to send from [default: 0.0.0.0:0, or [::]:0 for an IPv6 node]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long (10s, 2m, or seconds)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;dht;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run a long-lived DHT node: a bootstrap router for others')
            [CompletionResult]::new('get-peers', 'get-peers', [CompletionResultType]::ParameterValue, 'Find peers of a torrent through the DHT')
            [CompletionResult]::new('announce', 'announce', [CompletionResultType]::ParameterValue, 'Announce that a peer on this machine has a torrent')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check that a DHT node answers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;dht;help;serve' {
            break
        }
        'mktorrent-rs;dht;help;get-peers' {
            break
        }
        'mktorrent-rs;dht;help;announce' {
            break
        }
        'mktorrent-rs;dht;help;ping' {
            break
        }
        'mktorrent-rs;dht;help;help' {
            break
        }
        'mktorrent-rs;publish' {
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Seed every .torrent in DIR (content beside it, or under --content-root), adding and stopping torrents as files appear and disappear; runs until SIGINT or SIGTERM. SIGHUP looks at DIR at once')
            [CompletionResult]::new('--content-root', '--content-root', [CompletionResultType]::ParameterName, 'With --watch: the content of a torrent named N is DIR/N [default: N beside the torrent]')
            [CompletionResult]::new('--rescan-every', '--rescan-every', [CompletionResultType]::ParameterName, 'With --watch: time between looks at DIR (10s, 1m, or seconds)')
            [CompletionResult]::new('--status-listen', '--status-listen', [CompletionResultType]::ParameterName, 'Serve a status page at /, JSON at /status.json and Prometheus text at /metrics on ADDR')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--tracker', '--tracker', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--announce', '--announce', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)')
            [CompletionResult]::new('--web-seed', '--web-seed', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable. Single file: the file''s own URL, or a folder URL ending in ''/'' (clients append the name). Multi-file: the folder URL ending in ''/'' that holds NAME/ (clients append NAME/PATH)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--piece-length', '--piece-length', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--max-piece-length', '--max-piece-length', [CompletionResultType]::ParameterName, 'With an automatic piece length: the largest to choose (a size, or an exponent) [default: 16 MiB]')
            [CompletionResult]::new('--target-piece-count', '--target-piece-count', [CompletionResultType]::ParameterName, 'With an automatic piece length: the most pieces to aim for [default: 1500]')
            [CompletionResult]::new('--preset', '--preset', [CompletionResultType]::ParameterName, 'Take defaults from [presets.NAME] of mktorrent-rs.toml: in the current directory, else in $XDG_CONFIG_HOME/mktorrent-rs/ (default ~/.config/mktorrent-rs/). Flags given on the command line win')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only include files matching GLOB (same rules as --exclude); repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--torrent-url', '--torrent-url', [CompletionResultType]::ParameterName, 'Where the .torrent will be hosted: the magnet link gets `xs=` (see `magnet`)')
            [CompletionResult]::new('--peer', '--peer', [CompletionResultType]::ParameterName, 'A peer for the magnet link''s `x.pe=` (see `magnet`)')
            [CompletionResult]::new('--content', '--content', [CompletionResultType]::ParameterName, 'The content of a .torrent PATH [default: NAME beside the torrent, else in the current directory]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Seeder address, TCP and uTP (UDP) on one port [default: 0.0.0.0 port 6881, else the next port free for both up to 6889]')
            [CompletionResult]::new('--encryption', '--encryption', [CompletionResultType]::ParameterName, 'MSE/PE peer encryption: prefer accepts both and dials plaintext, retrying encrypted when the peer refuses; require refuses plaintext peers and dials encrypted only; disable speaks plaintext only')
            [CompletionResult]::new('--tracker-listen', '--tracker-listen', [CompletionResultType]::ParameterName, 'Run the embedded tracker, HTTP and UDP, on ADDR (port 0: a free port; UDP takes the HTTP port number). A created torrent lists it first (repeatable)')
            [CompletionResult]::new('--public-host', '--public-host', [CompletionResultType]::ParameterName, 'Host name or address peers reach this machine at: used in the embedded tracker''s URLs and the magnet link''s x.pe')
            [CompletionResult]::new('--dht-listen', '--dht-listen', [CompletionResultType]::ParameterName, 'DHT address (UDP) [default: the seeder''s address and port]')
            [CompletionResult]::new('--dht-bootstrap', '--dht-bootstrap', [CompletionResultType]::ParameterName, 'DHT node to join through (repeatable). Given any, neither the public routers nor the default state file are used')
            [CompletionResult]::new('--dht-state', '--dht-state', [CompletionResultType]::ParameterName, 'DHT routing table to start from and save at exit [default: dht-state in the user''s cache directory, unless --dht-bootstrap is given]')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Peer to dial and keep connected (repeatable): reaches clients that ignore peers they are told about')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Upload slots, the optimistic one included')
            [CompletionResult]::new('--max-peers', '--max-peers', [CompletionResultType]::ParameterName, 'Most peer connections at once. When full, a peer that has not been interested for 10 s is closed to make room for a newcomer')
            [CompletionResult]::new('--max-upload-rate', '--max-upload-rate', [CompletionResultType]::ParameterName, 'Most upload bytes per second, all torrents together (e.g. 10MiB; each connection gets a fair share)')
            [CompletionResult]::new('--max-upload-rate-per-torrent', '--max-upload-rate-per-torrent', [CompletionResultType]::ParameterName, 'Most upload bytes per second of each torrent')
            [CompletionResult]::new('--max-peers-per-ip', '--max-peers-per-ip', [CompletionResultType]::ParameterName, 'Most peer connections at once from one IP address')
            [CompletionResult]::new('--seed-time', '--seed-time', [CompletionResultType]::ParameterName, 'Stop after seeding this long: 90s, 10m, 2h, 1h30m, or seconds')
            [CompletionResult]::new('--until-downloads', '--until-downloads', [CompletionResultType]::ParameterName, 'Stop once N completed downloads were seen (by our seeder or reported by a tracker)')
            [CompletionResult]::new('--ratio', '--ratio', [CompletionResultType]::ParameterName, 'Stop once R times the content size was uploaded')
            [CompletionResult]::new('--until-seeders', '--until-seeders', [CompletionResultType]::ParameterName, 'Stop once N seeders other than us are seen (trackers'' counts, or connected peers holding every piece): someone else has taken over')
            [CompletionResult]::new('--until-idle', '--until-idle', [CompletionResultType]::ParameterName, 'Stop once no peer asked for data for this long (90s, 10m, 2h, 1h30m, or seconds)')
            [CompletionResult]::new('--status-interval', '--status-interval', [CompletionResultType]::ParameterName, 'Time between status lines (or `status` events): 10s, 1m, or seconds')
            [CompletionResult]::new('--trackerless', '--trackerless', [CompletionResultType]::ParameterName, 'Make a trackerless torrent: DHT only (BEP 5), no announce URL')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27): peers only from its trackers')
            [CompletionResult]::new('--private', '--private', [CompletionResultType]::ParameterName, 'Mark the torrent private (BEP 27): peers only from its trackers')
            [CompletionResult]::new('--no-date', '--no-date', [CompletionResultType]::ParameterName, 'Omit the creation date')
            [CompletionResult]::new('--no-created-by', '--no-created-by', [CompletionResultType]::ParameterName, 'Omit the "created by" field')
            [CompletionResult]::new('--include-hidden', '--include-hidden', [CompletionResultType]::ParameterName, 'Include hidden files and directories (names starting with a dot)')
            [CompletionResult]::new('--include-junk', '--include-junk', [CompletionResultType]::ParameterName, 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)')
            [CompletionResult]::new('--follow-symlinks', '--follow-symlinks', [CompletionResultType]::ParameterName, 'Follow symbolic links (by default they are neither followed nor stored)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite the output file if it exists')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite the output file if it exists')
            [CompletionResult]::new('--v2', '--v2', [CompletionResultType]::ParameterName, 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads')
            [CompletionResult]::new('--hybrid', '--hybrid', [CompletionResultType]::ParameterName, 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass')
            [CompletionResult]::new('--no-utp', '--no-utp', [CompletionResultType]::ParameterName, 'Do not accept or dial uTP (BEP 29) connections; TCP only')
            [CompletionResult]::new('--no-tcp', '--no-tcp', [CompletionResultType]::ParameterName, 'Do not accept or dial TCP connections; uTP only')
            [CompletionResult]::new('--all-tiers', '--all-tiers', [CompletionResultType]::ParameterName, 'Announce to one tracker in every tier, not only the first tier that works (BEP 12)')
            [CompletionResult]::new('--require-tracker', '--require-tracker', [CompletionResultType]::ParameterName, 'Exit 1 (after a JSON `error` event with --json) when no tracker ever answered an announce: seeding nobody could find through a tracker fails the CI job')
            [CompletionResult]::new('--no-dht', '--no-dht', [CompletionResultType]::ParameterName, 'Do not use the DHT')
            [CompletionResult]::new('--skip-verify', '--skip-verify', [CompletionResultType]::ParameterName, 'Start without hashing the content first (each piece is still checked on its first read)')
            [CompletionResult]::new('--check-web-seeds', '--check-web-seeds', [CompletionResultType]::ParameterName, 'Check the web seeds before announcing (see check-web-seeds); fail if any fails')
            [CompletionResult]::new('--drop-failing-web-seeds', '--drop-failing-web-seeds', [CompletionResultType]::ParameterName, 'With --check-web-seeds: drop failing web seeds from the torrent instead of failing (the file is rewritten; the info hash does not change)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per event on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar and no status lines')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar and no status lines')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mktorrent-rs;tracker' {
            [CompletionResult]::new('--http', '--http', [CompletionResultType]::ParameterName, 'HTTP listen address (repeatable; IPv6 as [addr]:port)')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'UDP (BEP 15) listen address (repeatable)')
            [CompletionResult]::new('--announce-path', '--announce-path', [CompletionResultType]::ParameterName, 'HTTP announce path; the scrape path replaces "announce" with "scrape"')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Announce interval (30m, 1h, or seconds; up to 10% random jitter is added)')
            [CompletionResult]::new('--min-interval', '--min-interval', [CompletionResultType]::ParameterName, 'Minimum announce interval (15m, or seconds)')
            [CompletionResult]::new('--peer-timeout', '--peer-timeout', [CompletionResultType]::ParameterName, 'Drop peers silent for this long (45m, or seconds)')
            [CompletionResult]::new('--numwant', '--numwant', [CompletionResultType]::ParameterName, 'Peers returned when the client does not say')
            [CompletionResult]::new('--max-numwant', '--max-numwant', [CompletionResultType]::ParameterName, 'Most peers returned to one announce')
            [CompletionResult]::new('--max-scrape', '--max-scrape', [CompletionResultType]::ParameterName, 'Most info hashes in one HTTP scrape')
            [CompletionResult]::new('--max-torrents', '--max-torrents', [CompletionResultType]::ParameterName, 'Most torrents tracked; new ones are refused beyond it')
            [CompletionResult]::new('--max-peers', '--max-peers', [CompletionResultType]::ParameterName, 'Most peers in one swarm; beyond it a newcomer takes the place of one of 8 sampled peers, the one whose address holds the most ports there')
            [CompletionResult]::new('--max-total-peers', '--max-total-peers', [CompletionResultType]::ParameterName, 'Most peers in all swarms (20-40 bytes each in memory); beyond it a newcomer takes the place of a peer of its swarm, as for --max-peers')
            [CompletionResult]::new('--max-ports-per-ip', '--max-ports-per-ip', [CompletionResultType]::ParameterName, 'Most ports one IP address holds in one swarm; more are refused')
            [CompletionResult]::new('--max-peers-per-ip', '--max-peers-per-ip', [CompletionResultType]::ParameterName, 'Most peers one IP address holds in all swarms; more are refused')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per second allowed per client IP (0: unlimited). A client announces each torrent every 30 minutes, so even a seedbox of 10,000 torrents needs about 6')
            [CompletionResult]::new('--rate-burst', '--rate-burst', [CompletionResultType]::ParameterName, 'Burst allowed above --rate-limit [default: 5 × the rate]')
            [CompletionResult]::new('--max-query', '--max-query', [CompletionResultType]::ParameterName, 'Longest accepted HTTP query string (2048, 4KiB)')
            [CompletionResult]::new('--udp-key', '--udp-key', [CompletionResultType]::ParameterName, 'Key for UDP connection IDs, 32 hex digits; instances sharing it accept each other''s IDs [default: random per start]')
            [CompletionResult]::new('--connection-id-ttl', '--connection-id-ttl', [CompletionResultType]::ParameterName, 'How long a UDP connection ID stays valid (2m, or seconds)')
            [CompletionResult]::new('--allowed-dir', '--allowed-dir', [CompletionResultType]::ParameterName, 'Track only torrents whose .torrent files are in DIR (looked at for changes every 10 s, and at once on SIGHUP)')
            [CompletionResult]::new('--allow-list', '--allow-list', [CompletionResultType]::ParameterName, 'Track only the info hashes listed in FILE (hex, one per line)')
            [CompletionResult]::new('--deny-list', '--deny-list', [CompletionResultType]::ParameterName, 'Never track the info hashes listed in FILE')
            [CompletionResult]::new('--keys', '--keys', [CompletionResultType]::ParameterName, 'Private mode: announce only at /announce/KEY or /KEY/announce (HTTP, and BEP 41 URL data over UDP) and scrape at /scrape/KEY or /KEY/scrape, for the passkeys in FILE (one per line, 16-64 characters of A-Z a-z 0-9 _ -). Re-read on SIGHUP and when it changes')
            [CompletionResult]::new('--keys-redis-set', '--keys-redis-set', [CompletionResultType]::ParameterName, 'Private mode as --keys, with the passkeys in the Redis set NAME of --store (checked with SISMEMBER, members believed for 30 s; SIGHUP forgets them at once)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Save completed counts and peers to FILE periodically and at exit; load at start')
            [CompletionResult]::new('--save-every', '--save-every', [CompletionResultType]::ParameterName, 'Time between state saves (5m, or seconds)')
            [CompletionResult]::new('--trust-proxy', '--trust-proxy', [CompletionResultType]::ParameterName, 'Take the client address from X-Forwarded-For for requests from this network (repeatable)')
            [CompletionResult]::new('--stats-from', '--stats-from', [CompletionResultType]::ParameterName, 'Serve /, /stats.json and /metrics only to this network (repeatable) [default: everyone]')
            [CompletionResult]::new('--udp-workers', '--udp-workers', [CompletionResultType]::ParameterName, 'UDP worker threads per socket [default: one per core; 8 per core with --store redis]')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Keep swarms in Redis/Valkey, shared by every tracker pointed at it: redis://HOST:PORT[/DB], rediss:// (TLS), redis+cluster://HOST:PORT[,HOST:PORT...] (Redis Cluster) [default: in memory]. Give the instances one --udp-key')
            [CompletionResult]::new('--no-http', '--no-http', [CompletionResultType]::ParameterName, 'Do not serve HTTP')
            [CompletionResult]::new('--no-udp', '--no-udp', [CompletionResultType]::ParameterName, 'Do not serve UDP')
            [CompletionResult]::new('--full-scrape', '--full-scrape', [CompletionResultType]::ParameterName, 'Serve a full scrape (no info_hash), gzip-compressed, rebuilt at most once a minute')
            [CompletionResult]::new('--allow-get', '--allow-get', [CompletionResultType]::ParameterName, 'Serve the --allowed-dir .torrent files at /torrents/HASH.torrent, linked from the status page (to the --stats-from networks, like the page)')
            [CompletionResult]::new('--store-required', '--store-required', [CompletionResultType]::ParameterName, 'Exit at start when the --store is unreachable, and refuse announces while it is down [default: answer from memory with a 60 s interval]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;check-web-seeds' {
            [CompletionResult]::new('--samples', '--samples', [CompletionResultType]::ParameterName, 'Random pieces per file checked besides its first and last')
            [CompletionResult]::new('--random-seed', '--random-seed', [CompletionResultType]::ParameterName, 'Seed for choosing the random pieces, to repeat a run [default: the clock]')
            [CompletionResult]::new('--requests', '--requests', [CompletionResultType]::ParameterName, 'Requests in flight at once (-j is threads in create and verify, so not here)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long one request may take, headers and body, before the server is too slow (2.5, 30s, 1m)')
            [CompletionResult]::new('--max-redirects', '--max-redirects', [CompletionResultType]::ParameterName, 'Redirects followed per request')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where --drop-failing writes the torrent')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where --drop-failing writes the torrent')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Fetch and hash every piece, not a sample')
            [CompletionResult]::new('--drop-failing', '--drop-failing', [CompletionResultType]::ParameterName, 'Write the torrent without the failing web seeds to --output (the info hash does not change: url-list is outside the info dictionary)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite --output if it exists')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite --output if it exists')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON report instead of text')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only failures')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only failures')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mktorrent-rs;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mktorrent-rs;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a .torrent file from a file, a directory, or files on a web server (URLs)')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit existing .torrent files: trackers, web seeds, comment, source, private, name')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what a .torrent file (or a magnet link) holds')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check content on disk against a .torrent file')
            [CompletionResult]::new('magnet', 'magnet', [CompletionResultType]::ParameterValue, 'Print the magnet link of a .torrent file (or normalise a magnet link)')
            [CompletionResult]::new('dht', 'dht', [CompletionResultType]::ParameterValue, 'Run or query a Mainline DHT node (BEP 5)')
            [CompletionResult]::new('publish', 'publish', [CompletionResultType]::ParameterValue, 'Seed a torrent and announce it: trackers, an embedded tracker, the DHT')
            [CompletionResult]::new('tracker', 'tracker', [CompletionResultType]::ParameterValue, 'Run a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)')
            [CompletionResult]::new('check-web-seeds', 'check-web-seeds', [CompletionResultType]::ParameterValue, 'Check that a torrent''s web seeds serve its content')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for a shell (the same as in completions/)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;help;create' {
            break
        }
        'mktorrent-rs;help;edit' {
            break
        }
        'mktorrent-rs;help;show' {
            break
        }
        'mktorrent-rs;help;verify' {
            break
        }
        'mktorrent-rs;help;magnet' {
            break
        }
        'mktorrent-rs;help;dht' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run a long-lived DHT node: a bootstrap router for others')
            [CompletionResult]::new('get-peers', 'get-peers', [CompletionResultType]::ParameterValue, 'Find peers of a torrent through the DHT')
            [CompletionResult]::new('announce', 'announce', [CompletionResultType]::ParameterValue, 'Announce that a peer on this machine has a torrent')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'Check that a DHT node answers')
            break
        }
        'mktorrent-rs;help;dht;serve' {
            break
        }
        'mktorrent-rs;help;dht;get-peers' {
            break
        }
        'mktorrent-rs;help;dht;announce' {
            break
        }
        'mktorrent-rs;help;dht;ping' {
            break
        }
        'mktorrent-rs;help;publish' {
            break
        }
        'mktorrent-rs;help;tracker' {
            break
        }
        'mktorrent-rs;help;check-web-seeds' {
            break
        }
        'mktorrent-rs;help;completions' {
            break
        }
        'mktorrent-rs;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
