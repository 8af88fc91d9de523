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

complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "create" -d 'Create a .torrent file from a file or a directory'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "show" -d 'Show what a .torrent file holds'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "verify" -d 'Check content on disk against a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "magnet" -d 'Print the magnet link of a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "completions" -d 'Print a completion script for a shell (the same as in completions/)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "seed" -d 'Seed one torrent (a test entry point until `publish`)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s a -l tracker -l announce -d 'Tracker announce URL (http, https or udp). Each flag is one tier; commas put several URLs in the same tier' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l nodes -d 'DHT bootstrap nodes written to `nodes` (IPv6 as [addr]:port). With --trackerless and no --nodes, well-known public routers are used' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s w -l web-seed -d 'Web seed URL (BEP 19 url-list); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s s -l source -d 'Source tag inside the info dictionary (changes the info hash; used by private trackers)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s c -l comment -d 'Free-text comment' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s n -l name -d 'Torrent name (default: the file or directory name)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s l -l piece-length -d 'Piece length: a size (256KiB, 1M, 4194304) or a power-of-two exponent (18); 16 KiB to 64 MiB [default: automatic]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l exclude -d 'Leave out files and directories matching GLOB (a name, or a path relative to the input when it contains \'/\'); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include -d 'Only include files matching GLOB (same rules as --exclude); repeatable' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s o -l output -d 'Where to write the torrent (\'-\' for standard output) [default: NAME.torrent]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s j -l threads -d 'Hashing threads [default: one per core]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l trackerless -d 'Make a trackerless torrent: DHT only (BEP 5), no announce URL'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s p -l private -d 'Mark the torrent private (BEP 27): peers only from its trackers'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l no-date -d 'Omit the creation date'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l no-created-by -d 'Omit the "created by" field'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include-hidden -d 'Include hidden files and directories (names starting with a dot)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l include-junk -d 'Include system junk files (.DS_Store, Thumbs.db, Desktop.ini)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l follow-symlinks -d 'Follow symbolic links (by default they are neither followed nor stored)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s f -l force -d 'Overwrite the output file if it exists'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s q -l quiet -d 'No progress bar and no summary'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l json -d 'Print a JSON summary instead of the human one'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l magnet -d 'Also print the magnet link'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l v2 -d 'Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 merkle trees); only v2 clients can use it. The default is v1, which every client reads'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -l hybrid -d 'Make a hybrid v1 + v2 torrent (BEP 52 + BEP 47 pad files): v1 clients and v2 clients share one swarm. Both hashes are computed in one pass'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand create" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand show" -l json -d 'Print JSON instead of text'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand show" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand show" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -l content -d 'The content: the file itself for a single-file torrent, the directory for a multi-file one [default: NAME beside the torrent, else NAME in the current directory]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s j -l threads -d 'Hashing threads [default: one per core]' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s q -l quiet -d 'No progress bar; only problems are printed'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -l json -d 'Print a JSON report instead of text'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand verify" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand magnet" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand magnet" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -l content -d 'The content [default: NAME beside the torrent, else in the current directory]' -r -F
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -l listen -d 'Address to listen on' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -l connect -d 'Peers to dial (repeatable)' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -l slots -d 'Upload slots, the optimistic one included' -r
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -l skip-verify -d 'Start without hashing the content first (each piece is still checked on its first read)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -s q -l quiet -d 'No progress bar'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -s h -l help -d 'Print help'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand seed" -s V -l version -d 'Print version'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "create" -d 'Create a .torrent file from a file or a directory'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "show" -d 'Show what a .torrent file holds'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "verify" -d 'Check content on disk against a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "magnet" -d 'Print the magnet link of a .torrent file'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "completions" -d 'Print a completion script for a shell (the same as in completions/)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "seed" -d 'Seed one torrent (a test entry point until `publish`)'
complete -c mktorrent-rs -n "__fish_mktorrent_rs_using_subcommand help; and not __fish_seen_subcommand_from create show verify magnet completions seed help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
