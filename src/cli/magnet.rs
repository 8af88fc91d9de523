//! `magnet`: prints a torrent's magnet link.

use std::io::Write;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::Result;
use crate::magnet::Magnet;

/// Print the magnet link of a .torrent file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file ('-' for standard input).
    pub torrent: PathBuf,
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let torrent = super::load_torrent(env, &args.torrent)?;
    writeln!(env.stdout, "{}", Magnet::from_torrent(&torrent).to_uri())?;
    Ok(())
}
