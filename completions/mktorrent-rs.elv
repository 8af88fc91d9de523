
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
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a .torrent file from a file or a directory'
            cand show 'Show what a .torrent file holds'
            cand verify 'Check content on disk against a .torrent file'
            cand magnet 'Print the magnet link of a .torrent file'
            cand completions 'Print a completion script for a shell (the same as in completions/)'
            cand seed 'Seed one torrent (a test entry point until `publish`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;create'= {
            cand -a 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --tracker 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --announce 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier'
            cand --nodes 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used'
            cand -w 'Web seed URL (BEP 19 url-list); repeatable'
            cand --web-seed 'Web seed URL (BEP 19 url-list); repeatable'
            cand -s 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand --source 'Source tag inside the info dictionary (changes the info hash; used by private trackers)'
            cand -c 'Free-text comment'
            cand --comment 'Free-text comment'
            cand -n 'Torrent name (default: the file or directory name)'
            cand --name 'Torrent name (default: the file or directory name)'
            cand -l 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --piece-length 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]'
            cand --exclude 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains ''/''); repeatable'
            cand --include 'Only include files matching GLOB (same rules as --exclude); repeatable'
            cand -o 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand --output 'Where to write the torrent (''-'' for standard output) [default: NAME.torrent]'
            cand -j 'Hashing threads [default: one per core]'
            cand --threads 'Hashing threads [default: one per core]'
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
            cand -q 'No progress bar and no summary'
            cand --quiet 'No progress bar and no summary'
            cand --json 'Print a JSON summary instead of the human one'
            cand --magnet 'Also print the magnet link'
            cand --v2 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
            cand --hybrid 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;show'= {
            cand --json 'Print JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;verify'= {
            cand --content 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]'
            cand -j 'Hashing threads [default: one per core]'
            cand --threads 'Hashing threads [default: one per core]'
            cand -q 'No progress bar; only problems are printed'
            cand --quiet 'No progress bar; only problems are printed'
            cand --json 'Print a JSON report instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;magnet'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;seed'= {
            cand --content 'The content [default: NAME beside the torrent, else in the current directory]'
            cand --listen 'Address to listen on'
            cand --connect 'Peers to dial (repeatable)'
            cand --slots 'Upload slots, the optimistic one included'
            cand --skip-verify 'Start without hashing the content first (each piece is still checked on its first read)'
            cand -q 'No progress bar'
            cand --quiet 'No progress bar'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mktorrent-rs;help'= {
            cand create 'Create a .torrent file from a file or a directory'
            cand show 'Show what a .torrent file holds'
            cand verify 'Check content on disk against a .torrent file'
            cand magnet 'Print the magnet link of a .torrent file'
            cand completions 'Print a completion script for a shell (the same as in completions/)'
            cand seed 'Seed one torrent (a test entry point until `publish`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mktorrent-rs;help;create'= {
        }
        &'mktorrent-rs;help;show'= {
        }
        &'mktorrent-rs;help;verify'= {
        }
        &'mktorrent-rs;help;magnet'= {
        }
        &'mktorrent-rs;help;completions'= {
        }
        &'mktorrent-rs;help;seed'= {
        }
        &'mktorrent-rs;help;help'= {
        }
    ]
    $completions[$command]
}
