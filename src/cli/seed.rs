//! `seed` (hidden): serves one torrent with the seeder until SIGINT or
//! SIGTERM, and nothing else: no trackers, no DHT, so peers must be dialled
//! (`--connect`) or told our address (the printed magnet). Tests use it to
//! exercise the seeder alone; `publish` is the command users run.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::magnet::Magnet;
use crate::peer::seeder::{Config, SeedTorrent, Seeder, Verify};
use crate::shutdown::Shutdown;

/// Seed a torrent to peers that connect or that we dial (no trackers, no DHT).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The .torrent file ('-' for standard input).
    pub torrent: PathBuf,

    /// The content [default: NAME beside the torrent, else in the current directory].
    #[arg(long, value_name = "PATH")]
    pub content: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,

    /// Peers to dial (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub connect: Vec<SocketAddr>,

    /// Start without hashing the content first (each piece is still
    /// checked on its first read).
    #[arg(long)]
    pub skip_verify: bool,

    /// Upload slots, the optimistic one included.
    #[arg(long, value_name = "N", default_value_t = crate::peer::choker::DEFAULT_SLOTS)]
    pub slots: usize,

    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(args: Args, env: &mut Env) -> Result<()> {
    let torrent = super::load_torrent(env, &args.torrent)?;
    let root = super::verify::locate(args.content.as_deref(), &args.torrent, &torrent, env)?;
    let mut magnet = Magnet::from_torrent(&torrent);
    let info_hash = torrent.info_hash.0;
    let verify = if args.skip_verify {
        Verify::Skip
    } else {
        Verify::Full
    };
    let bar = super::progress_bar(
        env,
        torrent.meta.info.total_length(),
        args.quiet,
        "Verifying",
    );
    let progress = |n| bar.inc(n);
    let seed = super::with_threads(0, || SeedTorrent::open(torrent, &root, verify, &progress))??;
    bar.finish_and_clear();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: args.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Listen {
            addr: args.listen,
            source,
        })?;
        if !local.ip().is_unspecified() {
            magnet.peers.push(local.to_string());
        }
        writeln!(env.stdout, "listening on {local}")?;
        writeln!(env.stdout, "{}", magnet.to_uri())?;
        env.stdout.flush()?;

        let shutdown = Shutdown::new();
        let config = Config {
            upload_slots: args.slots,
            ..Config::default()
        };
        let seeder = Seeder::new(config, vec![seed], shutdown.clone());
        shutdown.spawn(shutdown.clone().trigger_on_signals());
        for addr in &args.connect {
            if let Err(err) = seeder.connect(*addr, info_hash).await {
                env.warn(err)?;
            }
        }
        seeder.run(listener).await;
        shutdown.finished().await;
        let stats = seeder.stats();
        writeln!(
            env.stdout,
            "sent {} bytes; {} completed downloads seen",
            stats.uploaded, stats.completed
        )?;
        Ok(())
    })
}
