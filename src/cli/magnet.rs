//! `magnet`: prints a torrent's magnet link, optionally with what lets a
//! client start with nobody online: where the `.torrent` is hosted (`xs`)
//! and peers to dial (`x.pe`). Web seeds (`ws`) come from the torrent.

use std::io::Write;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::magnet::Magnet;

/// Print the magnet link of a .torrent file (or normalise a magnet link).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file ('-' for standard input), or a magnet link to normalise.
    pub torrent: PathBuf,

    /// Where the .torrent will be hosted (http or https), added as `xs=`: clients fetch the
    /// metadata from it when no peer is online. Repeatable.
    #[arg(long = "torrent-url", value_name = "URL")]
    pub torrent_urls: Vec<String>,

    /// A peer to dial directly, added as `x.pe=` (IPv6 as [addr]:port). Repeatable.
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
}

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub torrent: PathBuf,
    pub exact_sources: Vec<String>,
    pub peers: Vec<String>,
}

/// Checks a `--torrent-url`: http or https.
pub fn check_torrent_url(url: &str) -> Result<()> {
    match super::create::http_url_problem(url) {
        Some(reason) => Err(Error::TorrentUrl {
            url: url.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Parses a `--peer` (`host:port`, `[v6]:port`) into its `x.pe` form.
pub fn parse_peer(text: &str) -> Result<String> {
    match super::create::parse_node(text) {
        Ok(node) => Ok(node.to_string()),
        Err(Error::Node { node, reason }) => Err(Error::Peer { peer: node, reason }),
        Err(other) => Err(other),
    }
}

impl Plan {
    pub fn resolve(args: Args) -> Result<Self> {
        for url in &args.torrent_urls {
            check_torrent_url(url)?;
        }
        let peers = args
            .peers
            .iter()
            .map(|p| parse_peer(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            torrent: args.torrent,
            exact_sources: args.torrent_urls,
            peers,
        })
    }
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let plan = Plan::resolve(args)?;
    let mut magnet = match magnet_arg(&plan.torrent)? {
        Some(magnet) => magnet,
        None => {
            let torrent = super::load_torrent(env, &plan.torrent)?;
            Magnet::from_torrent(&torrent)
        }
    };
    for source in plan.exact_sources {
        if !magnet.exact_sources.contains(&source) {
            magnet.exact_sources.push(source);
        }
    }
    for peer in plan.peers {
        if !magnet.peers.contains(&peer) {
            magnet.peers.push(peer);
        }
    }
    writeln!(env.stdout, "{}", magnet.to_uri())?;
    Ok(())
}

/// The magnet link given where a .torrent path is expected, if it is one.
pub fn magnet_arg(arg: &std::path::Path) -> Result<Option<Magnet>> {
    match arg.to_str() {
        Some(text)
            if text
                .get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("magnet:")) =>
        {
            Ok(Some(Magnet::parse(text)?))
        }
        _ => Ok(None),
    }
}
