//! Renders the files generated from the clap definition: one man page per
//! command (man/) and a completion script per shell (completions/). A test
//! compares them with the committed copies.

use std::path::PathBuf;

use clap_complete::Shell;

/// `(path relative to the crate root, contents)` for every generated file.
pub fn generated_files() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let command = super::command();
    let mut pages = vec![(String::from("mktorrent-rs"), command.clone())];
    // Hidden commands (test entry points) get no page; nested ones (dht
    // serve, ...) get their own. SYNOPSIS names the command as typed.
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("mktorrent-rs-{}", sub.get_name());
        let typed = format!("mktorrent-rs {}", sub.get_name());
        for nested in sub.get_subcommands().filter(|n| !n.is_hide_set()) {
            let nested_name = format!("{name}-{}", nested.get_name());
            let nested_typed = format!("{typed} {}", nested.get_name());
            pages.push((
                nested_name.clone(),
                nested.clone().name(nested_name).bin_name(nested_typed),
            ));
        }
        pages.push((name.clone(), sub.clone().name(name).bin_name(typed)));
    }
    for (name, page) in pages {
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        out.extend_from_slice(man_sections(&name).as_bytes());
        files.push((PathBuf::from(format!("man/{name}.1")), out));
    }
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let out = super::completions::script(shell);
        let file = match shell {
            Shell::Bash => "mktorrent-rs.bash",
            Shell::Zsh => "_mktorrent-rs",
            Shell::Fish => "mktorrent-rs.fish",
            Shell::PowerShell => "_mktorrent-rs.ps1",
            _ => "mktorrent-rs.elv",
        };
        files.push((PathBuf::from(format!("completions/{file}")), out));
    }
    Ok(files)
}

/// EXIT STATUS, ENVIRONMENT and SIGNALS for the page `name`, in roff.
fn man_sections(name: &str) -> String {
    let command = name.strip_prefix("mktorrent-rs").unwrap_or(name);
    let long_running = matches!(command, "-publish" | "-tracker" | "-dht" | "-dht-serve");
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    out.push_str(match command {
        "-verify" => {
            "0 when every piece matches; 1 when a piece does not match, a file is \
                      missing or has the wrong size, or on any other error (the message names \
                      the file); 2 for a usage error.\n"
        }
        "-check-web-seeds" => {
            "0 when every web seed serves the torrent (or, with \
                               \\-\\-drop\\-failing, when one does); 1 when one fails or on any \
                               other error; 2 for a usage error.\n"
        }
        _ => {
            "0 on success (a long-running command also when stopped by SIGINT or SIGTERM); 1 \
              on an error, whose message names the file, flag, URL or address at fault; 2 for a \
              usage error.\n"
        }
    });
    out.push_str(".SH ENVIRONMENT\n");
    out.push_str(
        ".TP\n\\fBSOURCE_DATE_EPOCH\\fR\nSeconds since 1970 written as the creation date of \
         created torrents, for reproducible builds.\n",
    );
    out.push_str(
        ".TP\n\\fBNO_COLOR\\fR\nWhen set and not empty, log lines carry no colour codes (they \
         carry none off a terminal either).\n",
    );
    if long_running {
        out.push_str(
            ".TP\n\\fBRUST_LOG\\fR\nLog filter, e.g. \\fBmktorrent_rs::tracker=debug\\fR \
             (default \\fBinfo\\fR).\n.TP\n\\fBXDG_CACHE_HOME\\fR, \\fBHOME\\fR\nWhere the \
             default DHT state file lives (\\fB~/.cache/mktorrent-rs/dht-state\\fR).\n",
        );
        out.push_str(
            ".SH SIGNALS\n.TP\nSIGINT, SIGTERM\nStop cleanly: trackers are told \
                      `stopped`, state files are saved, then the exit status is 0.\n",
        );
        match command {
            "-tracker" => {
                out.push_str(".TP\nSIGHUP\nRe-read the access lists and the allowed directory.\n")
            }
            "-publish" => out.push_str(".TP\nSIGHUP\nLook at the \\-\\-watch directory at once.\n"),
            _ => {}
        }
    }
    out
}
