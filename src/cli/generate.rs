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
    // Hidden commands (test entry points) get no page.
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("mktorrent-rs-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
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
