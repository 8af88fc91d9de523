//! `completions SHELL`: prints a shell completion script.

use clap_complete::Shell;

use std::io::Write;

use crate::env::Env;
use crate::error::Result;

/// Print a completion script for a shell (the same as in completions/).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args, env: &mut Env) -> Result<()> {
    env.stdout.write_all(&script(args.shell))?;
    Ok(())
}

/// The completion script for `shell`: every visible command and option.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = visible_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "mktorrent-rs", &mut out);
    if shell == Shell::Bash {
        // clap_complete names the bash states of a hyphenated binary two
        // ways ("mktorrent__rs__subcmd__create" where a command is entered,
        // "mktorrent__subcmd__rs__subcmd__create" where its options are
        // listed), so no subcommand option ever completed.
        let text = String::from_utf8_lossy(&out).replace("mktorrent__subcmd__rs", "mktorrent__rs");
        out = text.into_bytes();
    }
    out
}

/// The command line without hidden commands (test entry points), which
/// completion must not offer.
fn visible_command() -> clap::Command {
    let full = super::command();
    let mut bare = clap::Command::new(full.get_name().to_owned());
    if let Some(version) = full.get_version() {
        bare = bare.version(version.to_owned());
    }
    if let Some(about) = full.get_about() {
        bare = bare.about(about.clone());
    }
    for arg in full.get_arguments() {
        if !matches!(arg.get_id().as_str(), "help" | "version") {
            bare = bare.arg(arg.clone());
        }
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        bare = bare.subcommand(sub.clone());
    }
    bare
}
