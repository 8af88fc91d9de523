
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
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a .torrent file from a file or a directory')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what a .torrent file holds')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check content on disk against a .torrent file')
            [CompletionResult]::new('magnet', 'magnet', [CompletionResultType]::ParameterValue, 'Print the magnet link of a .torrent file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for a shell (the same as in completions/)')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Seed one torrent (a test entry point until `publish`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;create' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--tracker', '--tracker', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--announce', '--announce', [CompletionResultType]::ParameterName, 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable')
            [CompletionResult]::new('--web-seed', '--web-seed', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19 url-list); repeatable')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash; used by private trackers)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Free-text comment')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--piece-length', '--piece-length', [CompletionResultType]::ParameterName, 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only include files matching GLOB (same rules as --exclude); repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
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
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar and no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar and no summary')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON summary instead of the human one')
            [CompletionResult]::new('--magnet', '--magnet', [CompletionResultType]::ParameterName, 'Also print the magnet link')
            [CompletionResult]::new('--v2', '--v2', [CompletionResultType]::ParameterName, 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads')
            [CompletionResult]::new('--hybrid', '--hybrid', [CompletionResultType]::ParameterName, 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;show' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;verify' {
            [CompletionResult]::new('--content', '--content', [CompletionResultType]::ParameterName, 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Hashing threads [default: one per core]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar; only problems are printed')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar; only problems are printed')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON report instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;magnet' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;seed' {
            [CompletionResult]::new('--content', '--content', [CompletionResultType]::ParameterName, 'The content [default: NAME beside the torrent, else in the current directory]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'Peers to dial (repeatable)')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Upload slots, the optimistic one included')
            [CompletionResult]::new('--skip-verify', '--skip-verify', [CompletionResultType]::ParameterName, 'Start without hashing the content first (each piece is still checked on its first read)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mktorrent-rs;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a .torrent file from a file or a directory')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show what a .torrent file holds')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check content on disk against a .torrent file')
            [CompletionResult]::new('magnet', 'magnet', [CompletionResultType]::ParameterValue, 'Print the magnet link of a .torrent file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for a shell (the same as in completions/)')
            [CompletionResult]::new('seed', 'seed', [CompletionResultType]::ParameterValue, 'Seed one torrent (a test entry point until `publish`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mktorrent-rs;help;create' {
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
        'mktorrent-rs;help;completions' {
            break
        }
        'mktorrent-rs;help;seed' {
            break
        }
        'mktorrent-rs;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
