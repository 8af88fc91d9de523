//! `completions SHELL`: prints a shell completion script.

use clap_complete::Shell;

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
    let mut command = super::command();
    clap_complete::generate(args.shell, &mut command, "mktorrent-rs", &mut env.stdout);
    Ok(())
}
